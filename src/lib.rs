//! The `reprise` binary's library: the command line, the HTTP server and
//! the operator tools. Events and log backends live in `events`, views in
//! `projections`, pure iCalendar/vCard parsing in `formats`.

pub mod bench;
pub mod cli;
pub mod config;
pub mod convert;
pub mod dav;
pub mod directory;
pub mod directory_cli;
pub mod domains;
pub mod engine;
pub mod export;
pub mod groups;
pub mod import;
pub mod logtool;
pub mod logwire;
pub mod mail;
pub mod passwords;
pub mod proxy;
pub mod rebuild;
pub mod recovery;
pub mod remote;
pub mod resources;
pub mod serve;
pub mod shares;
pub mod snapshot;
pub mod status;
pub mod synthetic;
pub mod users;
