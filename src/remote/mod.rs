//! `--server URL`: the admin API client. A command runs through a running
//! server, which holds the data directory, instead of opening it.
//!
//! `client` is the HTTP client and its authentication; the other modules
//! give it one typed method per endpoint, so the API's paths are spelled
//! here and in the router only.

mod client;
mod directory;
mod log;
mod operations;
mod snapshot;

pub use client::{segment, Client, API};
pub use log::RemoteLog;
