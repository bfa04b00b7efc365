//! Every integration test of the `reprise` binary, in one test binary:
//! one link of the server instead of one per file, and the helpers in
//! `common` declared once.

mod common;
// Shared with the events crate's own log tests: temporary directories and
// the Kafka broker (one per test process, so one for all of these tests).
#[path = "../../events/tests/support/own_broker.rs"]
mod own_broker;
#[path = "../../events/tests/support/mod.rs"]
mod support;

mod attachments;
mod bluegreen;
mod cli;
mod conformance;
mod connections;
mod console;
mod convert;
mod crash;
mod dav;
mod dav_clients;
mod directory_api;
mod guessing;
mod imip;
mod kafka;
mod layout;
mod limits;
mod mail_api;
mod objects;
mod objects_clone;
mod openapi;
mod operating;
mod oracle;
mod projections;
mod recovery;
mod scheduling;
mod scheduling_cluster;
mod sharing;
mod tls;
mod upgrade;
