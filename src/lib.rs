//! The `reprise` binary's library, by surface: the command line (`cli`),
//! the running core (`engine`), the directory (`directory`), every HTTP
//! surface (`http`), the operator commands (`ops`), the admin API client
//! (`remote`), the proxy and switch (`cluster`), the benchmarks
//! (`bench`) and what a server tells its operators (`telemetry`). Events and log backends live in `events`, views in
//! `projections`, pure iCalendar/vCard parsing in `formats`.
//! ARCHITECTURE.md draws the directions these modules depend in.

pub mod bench;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod directory;
pub mod engine;
pub mod http;
pub mod net;
pub mod ops;
pub mod remote;
pub mod telemetry;
