//! What a running server or proxy tells its operators: Prometheus
//! metrics, and the request ids that tie a request's log lines together
//! across the proxy and the backend ([`request_id`]).
//!
//! One process-wide set of families ([`metrics`]), recorded where things
//! happen (the HTTP layer, the log, the password pool, the object store,
//! scheduling, the proxy) and exposed in the Prometheus text format on a
//! listener of its own ([`serve`]), so that the metrics port can stay on
//! loopback or a management network while the service port faces clients.
//!
//! Labels are bounded sets chosen here (methods, kinds of resource, status
//! classes, topics, projections): never a user name, an href or a UID, so
//! a scrape is the same size at 20 users as at 20,000 and reveals nothing
//! of anyone's data. What is only known at scrape time (projection lag,
//! the process's memory) is measured then, by the scraping side, into a
//! [`Scrape`].

mod metered_log;
mod metrics;
mod process;
pub mod request_id;
mod scrape;

pub use self::metered_log::MeteredLog;
pub use self::metrics::{
    bind_unless_off, listen_address, method_label, metrics, object_store_observer, render, serve,
    Component, Measure, Metrics, DEFAULT_PROXY_LISTEN, DEFAULT_SERVE_LISTEN,
};
pub use self::scrape::Scrape;
