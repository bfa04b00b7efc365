//! The process-wide families and what records into them.

use super::Scrape;
use prometheus_client::encoding::text::encode_registry;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

type Labels<const N: usize> = [(&'static str, &'static str); N];
type Histograms<const N: usize> = Family<Labels<N>, Histogram, fn() -> Histogram>;

/// Every family this process records into.
pub struct Metrics {
    /// What a server exposes.
    server: Registry,
    /// What a proxy exposes.
    proxy: Registry,
    http_requests: Family<Labels<3>, Counter>,
    http_duration: Histograms<2>,
    log_append_duration: Histograms<1>,
    log_append_errors: Family<Labels<1>, Counter>,
    log_append_bytes: Family<Labels<1>, Counter>,
    log_appended_records: Family<Labels<1>, Counter>,
    render_cache: Family<Labels<1>, Counter>,
    render_cache_bytes: Gauge,
    authentications: Family<Labels<1>, Counter>,
    password_queue: Gauge,
    object_operations: Family<Labels<2>, Counter>,
    object_duration: Histograms<1>,
    scheduling: Family<Labels<1>, Counter>,
    mails: Family<Labels<1>, Counter>,
    proxy_requests: Family<[(&'static str, String); 1], Counter>,
    proxy_held: Gauge,
    proxy_held_total: Counter,
    proxy_switches: Family<Labels<1>, Counter>,
    proxy_switch_hold: Histogram,
    connections_open: Gauge,
    connections_refused: Counter,
    connection_timeouts: Family<Labels<1>, Counter>,
    requests_shed: Counter,
    /// Series of the families above that every request touches, held
    /// apart so that recording is one atomic add, not a map lookup under
    /// a lock.
    hot: Hot,
}

#[derive(Default)]
struct Hot {
    render_hit: Counter,
    render_miss: Counter,
    authenticated: Counter,
    refused: Counter,
    throttled: Counter,
}

/// Latencies from 1 ms to about 33 s.
fn latency() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

impl Metrics {
    fn new() -> Metrics {
        let mut m = Metrics {
            server: Registry::with_prefix("reprise"),
            proxy: Registry::with_prefix("reprise"),
            http_requests: Family::default(),
            http_duration: Family::new_with_constructor(latency),
            log_append_duration: Family::new_with_constructor(latency),
            log_append_errors: Family::default(),
            log_append_bytes: Family::default(),
            log_appended_records: Family::default(),
            render_cache: Family::default(),
            render_cache_bytes: Gauge::default(),
            authentications: Family::default(),
            password_queue: Gauge::default(),
            object_operations: Family::default(),
            object_duration: Family::new_with_constructor(latency),
            scheduling: Family::default(),
            mails: Family::default(),
            proxy_requests: Family::default(),
            proxy_held: Gauge::default(),
            proxy_held_total: Counter::default(),
            proxy_switches: Family::default(),
            proxy_switch_hold: latency(),
            connections_open: Gauge::default(),
            connections_refused: Counter::default(),
            connection_timeouts: Family::default(),
            requests_shed: Counter::default(),
            hot: Hot::default(),
        };
        let r = &mut m.server;
        r.register(
            "http_requests",
            "HTTP requests answered, by method, kind of resource and status class",
            m.http_requests.clone(),
        );
        r.register(
            "http_request_duration_seconds",
            "Time from a request's arrival to its answer's head, by method and kind of resource",
            m.http_duration.clone(),
        );
        r.register(
            "log_append_duration_seconds",
            "Time for an append to be durable in the log, by topic",
            m.log_append_duration.clone(),
        );
        r.register(
            "log_append_errors",
            "Appends the log refused or did not confirm, by topic",
            m.log_append_errors.clone(),
        );
        r.register(
            "log_append_bytes",
            "Bytes of records appended (keys, headers and values), by topic",
            m.log_append_bytes.clone(),
        );
        r.register(
            "log_appended_records",
            "Records appended, by topic",
            m.log_appended_records.clone(),
        );
        r.register(
            "render_cache_lookups",
            "Lookups of rendered PROPFIND and REPORT bodies, by result (hit, miss)",
            m.render_cache.clone(),
        );
        r.register(
            "render_cache_bytes",
            "Bytes of rendered bodies the cache holds",
            m.render_cache_bytes.clone(),
        );
        r.register(
            "authentications",
            "Credential checks, by outcome (success, failure, throttled: refused unchecked after too many failures)",
            m.authentications.clone(),
        );
        r.register(
            "password_checks_waiting",
            "Password hashes and checks queued for the argon2 threads",
            m.password_queue.clone(),
        );
        r.register(
            "object_store_operations",
            "Object store operations, by operation and outcome",
            m.object_operations.clone(),
        );
        r.register(
            "object_store_operation_duration_seconds",
            "Object store operation time, by operation",
            m.object_duration.clone(),
        );
        r.register(
            "scheduling_effects",
            "Scheduling effects appended by this installation as leader, by kind",
            m.scheduling.clone(),
        );
        r.register(
            "imip_mails",
            "Mails to attendees outside the directory, by outcome (sent, failed)",
            m.mails.clone(),
        );
        let r = &mut m.proxy;
        r.register(
            "proxy_requests",
            "Requests the proxy forwarded, by backend",
            m.proxy_requests.clone(),
        );
        r.register(
            "proxy_held_requests",
            "Requests the proxy holds right now, during a switch",
            m.proxy_held.clone(),
        );
        r.register(
            "proxy_requests_held",
            "Requests the proxy held during switches",
            m.proxy_held_total.clone(),
        );
        r.register(
            "proxy_switches",
            "Switches the proxy was asked for, by outcome (done, failed)",
            m.proxy_switches.clone(),
        );
        r.register(
            "proxy_switch_hold_seconds",
            "How long each completed switch held new requests",
            m.proxy_switch_hold.clone(),
        );
        // The connection layer (src/net) is the same on both.
        for r in [&mut m.server, &mut m.proxy] {
            r.register(
                "connections_open",
                "Client connections open",
                m.connections_open.clone(),
            );
            r.register(
                "connections_refused",
                "Connections closed at once because --max-connections were open",
                m.connections_refused.clone(),
            );
            r.register(
                "connection_timeouts",
                "Connections or requests cut off for being slow, by stage (head, body, answer, idle)",
                m.connection_timeouts.clone(),
            );
            r.register(
                "requests_shed",
                "Requests answered 503 because --max-requests-in-flight were being handled",
                m.requests_shed.clone(),
            );
        }
        m.initialise();
        m.hot = Hot {
            render_hit: m.render_cache.get_or_create_owned(&[("result", "hit")]),
            render_miss: m.render_cache.get_or_create_owned(&[("result", "miss")]),
            authenticated: m
                .authentications
                .get_or_create_owned(&[("outcome", "success")]),
            refused: m
                .authentications
                .get_or_create_owned(&[("outcome", "failure")]),
            throttled: m
                .authentications
                .get_or_create_owned(&[("outcome", "throttled")]),
        };
        m
    }

    /// Creates the series of small, known label sets at zero, so that
    /// they are there (and `rate()` works) before the first event, and a
    /// dashboard or an alert can name them on a quiet server.
    fn initialise(&self) {
        for result in ["hit", "miss"] {
            let _ = self.render_cache.get_or_create(&[("result", result)]);
        }
        for outcome in ["success", "failure", "throttled"] {
            let _ = self.authentications.get_or_create(&[("outcome", outcome)]);
        }
        for operation in [
            objects::Operation::Put,
            objects::Operation::Head,
            objects::Operation::Read,
            objects::Operation::Delete,
        ] {
            let operation = operation.as_str();
            for outcome in ["ok", "error"] {
                let _ = self
                    .object_operations
                    .get_or_create(&[("operation", operation), ("outcome", outcome)]);
            }
            let _ = self
                .object_duration
                .get_or_create(&[("operation", operation)]);
        }
        for kind in ["delivery", "completion", "mail_queued"] {
            let _ = self.scheduling.get_or_create(&[("kind", kind)]);
        }
        for outcome in ["sent", "failed"] {
            let _ = self.mails.get_or_create(&[("outcome", outcome)]);
        }
        for domain in events::Domain::ALL {
            let labels = [("topic", domain.as_str())];
            let _ = self.log_append_duration.get_or_create(&labels);
            let _ = self.log_append_errors.get_or_create(&labels);
            let _ = self.log_append_bytes.get_or_create(&labels);
            let _ = self.log_appended_records.get_or_create(&labels);
        }
        for outcome in ["done", "failed"] {
            let _ = self.proxy_switches.get_or_create(&[("outcome", outcome)]);
        }
        for stage in ["head", "body", "answer", "idle"] {
            let _ = self.connection_timeouts.get_or_create(&[("stage", stage)]);
        }
    }

    /// A client connection opened; closed when the guard drops.
    pub fn connection_open(&self) -> impl Drop + '_ {
        struct Open<'a>(&'a Gauge);
        impl Drop for Open<'_> {
            fn drop(&mut self) {
                self.0.dec();
            }
        }
        self.connections_open.inc();
        Open(&self.connections_open)
    }

    pub fn connection_refused(&self) {
        self.connections_refused.inc();
    }

    /// A connection or request cut off at `stage` (head, body or idle).
    pub fn connection_timed_out(&self, stage: &'static str) {
        self.connection_timeouts
            .get_or_create(&[("stage", stage)])
            .inc();
    }

    pub fn request_shed(&self) {
        self.requests_shed.inc();
    }

    /// One answered request. `method` and `kind` come from bounded sets
    /// (see [`method_label`]).
    pub fn http_request(
        &self,
        method: &'static str,
        kind: &'static str,
        status: u16,
        took: Duration,
    ) {
        if !recording() {
            return;
        }
        let class = match status {
            100..=199 => "1xx",
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        };
        self.http_requests
            .get_or_create(&[("method", method), ("kind", kind), ("status_class", class)])
            .inc();
        self.http_duration
            .get_or_create(&[("method", method), ("kind", kind)])
            .observe(took.as_secs_f64());
    }

    pub fn render_cache_lookup(&self, hit: bool) {
        if !recording() {
            return;
        }
        if hit {
            self.hot.render_hit.inc();
        } else {
            self.hot.render_miss.inc();
        }
    }

    pub fn render_cache_bytes(&self, bytes: usize) {
        if !recording() {
            return;
        }
        self.render_cache_bytes
            .set(i64::try_from(bytes).unwrap_or(i64::MAX));
    }

    pub fn authentication(&self, success: bool) {
        if !recording() {
            return;
        }
        if success {
            self.hot.authenticated.inc();
        } else {
            self.hot.refused.inc();
        }
    }

    /// A login refused unchecked: too many failures for its account or
    /// from its address.
    pub fn authentication_throttled(&self) {
        if !recording() {
            return;
        }
        self.hot.throttled.inc();
    }

    /// `+1` when a password job is queued, `-1` when a thread takes it.
    pub fn password_queue(&self, change: i64) {
        if !recording() {
            return;
        }
        self.password_queue.inc_by(change);
    }

    pub fn object_operation(&self, operation: &'static str, ok: bool, took: Duration) {
        if !recording() {
            return;
        }
        let outcome = if ok { "ok" } else { "error" };
        self.object_operations
            .get_or_create(&[("operation", operation), ("outcome", outcome)])
            .inc();
        self.object_duration
            .get_or_create(&[("operation", operation)])
            .observe(took.as_secs_f64());
    }

    /// `n` scheduling effects of one kind (`delivery`, `completion`,
    /// `mail_queued`) appended.
    pub fn scheduling_effects(&self, kind: &'static str, n: u64) {
        if !recording() {
            return;
        }
        if n > 0 {
            self.scheduling.get_or_create(&[("kind", kind)]).inc_by(n);
        }
    }

    pub fn mail(&self, sent: bool) {
        if !recording() {
            return;
        }
        let outcome = if sent { "sent" } else { "failed" };
        self.mails.get_or_create(&[("outcome", outcome)]).inc();
    }

    /// A request forwarded to a backend (names come from the proxy's
    /// own `--backend` list, a bounded set).
    pub fn proxy_request(&self, backend: &str) {
        if !recording() {
            return;
        }
        self.proxy_requests
            .get_or_create(&[("backend", backend.to_string())])
            .inc();
    }

    /// `+1` when a request starts waiting for a switch, `-1` when it goes on.
    pub fn proxy_holding(&self, change: i64) {
        if !recording() {
            return;
        }
        self.proxy_held.inc_by(change);
        if change > 0 {
            self.proxy_held_total.inc();
        }
    }

    /// A switch's end; `hold` is how long it held requests when it completed.
    pub fn proxy_switch(&self, hold: Option<Duration>) {
        if !recording() {
            return;
        }
        let outcome = if hold.is_some() { "done" } else { "failed" };
        self.proxy_switches
            .get_or_create(&[("outcome", outcome)])
            .inc();
        if let Some(hold) = hold {
            self.proxy_switch_hold.observe(hold.as_secs_f64());
        }
    }

    pub(super) fn log_append(
        &self,
        topic: &'static str,
        records: u64,
        bytes: u64,
        took: Duration,
        ok: bool,
    ) {
        if !recording() {
            return;
        }
        let labels = [("topic", topic)];
        self.log_append_duration
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
        if ok {
            self.log_appended_records
                .get_or_create(&labels)
                .inc_by(records);
            self.log_append_bytes.get_or_create(&labels).inc_by(bytes);
        } else {
            self.log_append_errors.get_or_create(&labels).inc();
        }
    }
}

static RECORDING: AtomicBool = AtomicBool::new(true);

/// The address a `--metrics-listen` flag names, or None for `off`, which
/// also stops recording: nothing would read the figures, so no request
/// pays for them. `serve` and `proxy` both decide it here.
pub fn listen_address(flag: &str) -> Option<&str> {
    if flag.eq_ignore_ascii_case("off") {
        RECORDING.store(false, Ordering::Relaxed);
        return None;
    }
    Some(flag)
}

fn recording() -> bool {
    RECORDING.load(Ordering::Relaxed)
}

/// This process's metrics.
pub fn metrics() -> &'static Metrics {
    static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);
    &METRICS
}

/// The HTTP methods a label may name; anything else is `other`, so that a
/// client inventing methods cannot grow the series.
pub fn method_label(method: &str) -> &'static str {
    const KNOWN: [&str; 16] = [
        "GET",
        "HEAD",
        "PUT",
        "POST",
        "DELETE",
        "OPTIONS",
        "PROPFIND",
        "PROPPATCH",
        "REPORT",
        "MKCOL",
        "MKCALENDAR",
        "COPY",
        "MOVE",
        "LOCK",
        "UNLOCK",
        "ACL",
    ];
    KNOWN
        .iter()
        .find(|k| k.eq_ignore_ascii_case(method))
        .copied()
        .unwrap_or("other")
}

/// Which process a scrape describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Component {
    Server,
    Proxy,
}

/// The text of a scrape: the component's families, what `scrape` measured
/// at this moment, and the process's own figures.
pub fn render(component: Component, mut scrape: Scrape) -> String {
    super::process::measure(&mut scrape);
    let mut text = String::with_capacity(16 * 1024);
    let registry = match component {
        Component::Server => &metrics().server,
        Component::Proxy => &metrics().proxy,
    };
    // Writing to a String cannot fail; an encoding error would be a bug
    // in a label, which the tests would show as a missing series.
    let _ = encode_registry(&mut text, registry);
    let _ = encode_registry(&mut text, scrape.registry());
    text
}

/// What a metrics listener answers with: the scrape's text, measured when
/// asked.
pub type Measure =
    Arc<dyn Fn() -> std::pin::Pin<Box<dyn Future<Output = String> + Send>> + Send + Sync>;

/// Answers `GET /metrics` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    measure: Measure,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::http::header;
    use axum::routing::get;
    let app = axum::Router::new().route(
        "/metrics",
        get(move || {
            let measure = measure.clone();
            async move {
                (
                    [(
                        header::CONTENT_TYPE,
                        "text/plain; version=0.0.4; charset=utf-8",
                    )],
                    measure().await,
                )
            }
        }),
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

/// `serve --metrics-listen`'s default: loopback, beside the service port.
pub const DEFAULT_SERVE_LISTEN: &str = "127.0.0.1:9464";
/// `proxy --metrics-listen`'s default, so that a proxy and a server on one
/// host do not collide.
pub const DEFAULT_PROXY_LISTEN: &str = "127.0.0.1:9465";

/// Binds the metrics listener (None for `off`), naming the address when
/// it cannot be had.
pub async fn bind_unless_off(address: &str) -> anyhow::Result<Option<tokio::net::TcpListener>> {
    use anyhow::Context;
    let Some(address) = listen_address(address) else {
        return Ok(None);
    };
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| {
            format!(
                "cannot listen for metrics on {address} (--metrics-listen; `off` turns them off)"
            )
        })?;
    Ok(Some(listener))
}

/// Counts and times what an object store does.
pub fn object_store_observer() -> objects::Observer {
    Arc::new(|operation, ok, took| metrics().object_operation(operation.as_str(), ok, took))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_outside_the_known_set_share_one_label() {
        assert_eq!(method_label("propfind"), "PROPFIND");
        assert_eq!(method_label("BREW"), "other");
    }

    #[test]
    fn a_scrape_names_its_families_with_units_and_totals() {
        metrics().http_request("PUT", "object", 201, Duration::from_millis(3));
        let mut scrape = Scrape::default();
        scrape.gauge(
            "reprise_projection_lag_events",
            "Events not yet applied",
            vec![("projection", "calendars".into())],
            7.0,
        );
        let text = render(Component::Server, scrape);
        assert!(text.contains(
            "reprise_http_requests_total{method=\"PUT\",kind=\"object\",status_class=\"2xx\"}"
        ));
        assert!(text.contains("reprise_http_request_duration_seconds_bucket{"));
        assert!(text.contains("reprise_projection_lag_events{projection=\"calendars\"} 7"));
        assert!(text.contains("process_resident_memory_bytes "));
        assert!(!text.contains("# EOF"));
    }
}
