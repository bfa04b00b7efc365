//! What a server measures when Prometheus scrapes it: its role, and each
//! projection version's state, lag, quarantine and build progress, from
//! the same report `projections status` prints.

use crate::engine::{Engine, Role};
use crate::http::build_rate::{eta, fraction, BuildRates};
use crate::ops::projections::StatusReport;
use crate::telemetry::Scrape;
use events::Domain;
use projections::runner::Progress;
use projections::ProjectionId;
use std::collections::BTreeMap;
use std::time::Instant;

pub(crate) async fn measure(engine: &Engine, rates: &BuildRates) -> Scrape {
    let mut scrape = Scrape::default();
    let cluster = engine.cluster_status().await;
    let role = match cluster.role {
        Role::Starting => "starting",
        Role::Leader { .. } => "leader",
        Role::Follower { .. } => "follower",
    };
    scrape.gauge(
        "reprise_installation_role",
        "1 for this installation's role among those sharing the log",
        vec![
            ("installation", cluster.installation),
            ("role", role.to_string()),
        ],
        1.0,
    );
    scrape.gauge(
        "reprise_ready",
        "1 when the served views have caught up with the log and writes are taken",
        Vec::new(),
        // What /readyz says: a disk below its reserve takes no writes.
        if cluster.ready && engine.disk_full().is_none() {
            1.0
        } else {
            0.0
        },
    );
    let reachable = match crate::ops::projections::report(engine.log.as_ref(), &engine.store).await
    {
        Ok(report) => {
            // Lag in seconds is per topic here (`Running`), so the
            // report's per-version figure (`add_running`) is not needed.
            let progress = engine.progress();
            let now_ms = chrono::Utc::now().timestamp_millis();
            let running = Running {
                progress: &progress,
                topics: Domain::ALL
                    .into_iter()
                    .map(|d| (engine.log.topic_name(d), d))
                    .collect(),
                now_ms,
            };
            projections(&mut scrape, &report, &running, rates);
            true
        }
        Err(e) => {
            tracing::warn!(error = %e, "metrics: the projections' status could not be read");
            false
        }
    };
    scrape.gauge(
        "reprise_log_reachable",
        "1 when the log answered this scrape's end-offset queries",
        Vec::new(),
        if reachable { 1.0 } else { 0.0 },
    );
    scrape
}

/// What the engine knows of the versions it runs, beyond the report.
struct Running<'a> {
    progress: &'a BTreeMap<ProjectionId, Progress>,
    /// Topic names as the report spells them, and their domains.
    topics: BTreeMap<String, Domain>,
    now_ms: i64,
}

impl Running<'_> {
    /// How far behind in time a running version is on one topic: 0 when
    /// it has applied all the log held at this scrape and its reader saw
    /// the end, else the age of the newest event it applied there (the
    /// log's timestamps are the writers' clocks).
    fn lag_seconds(&self, id: &ProjectionId, topic: &str, lag: u64) -> Option<f64> {
        let progress = self.progress.get(id)?;
        if lag == 0 && progress.caught_up {
            return Some(0.0);
        }
        let domain = self.topics.get(topic)?;
        let newest = progress.last_timestamp_ms_by_topic.get(domain)?;
        Some((self.now_ms - newest).max(0) as f64 / 1000.0)
    }
}

fn projections(scrape: &mut Scrape, report: &StatusReport, running: &Running, rates: &BuildRates) {
    let now = Instant::now();
    for p in &report.projections {
        for v in &p.versions {
            let labels = || {
                vec![
                    ("projection", p.name.clone()),
                    ("version", v.version.to_string()),
                ]
            };
            let state = if v.live { "live" } else { v.state.as_str() };
            for known in ["building", "ready", "live"] {
                let mut l = labels();
                l.push(("state", known.to_string()));
                scrape.gauge(
                    "reprise_projection_state",
                    "1 for the state a projection version is in (building, ready, live)",
                    l,
                    if known == state { 1.0 } else { 0.0 },
                );
            }
            let mut by_topic: BTreeMap<&str, u64> = BTreeMap::new();
            for position in &v.positions {
                *by_topic.entry(position.topic.as_str()).or_default() += position.lag;
            }
            let id = ProjectionId::new(&p.name, v.version);
            for (topic, lag) in by_topic {
                let mut l = labels();
                l.push(("topic", topic.to_string()));
                scrape.gauge(
                    "reprise_projection_lag_events",
                    "Events in the log a projection version has not applied, by topic",
                    l.clone(),
                    lag as f64,
                );
                if let Some(seconds) = running.lag_seconds(&id, topic, lag) {
                    scrape.gauge(
                        "reprise_projection_lag_seconds",
                        "Age of the newest event a running projection version applied on a \
                         topic while it is behind there; 0 when caught up",
                        l,
                        seconds,
                    );
                }
            }
            let applied: u64 = v.positions.iter().map(|p| p.next_offset).sum();
            let end: u64 = v.positions.iter().map(|p| p.end_offset).sum();
            scrape.counter(
                "reprise_projection_events_applied",
                "Log positions a projection version has applied (its offsets, summed)",
                labels(),
                applied as f64,
            );
            scrape.gauge(
                "reprise_projection_quarantined_events",
                "Events a projection version refused and recorded with their reason",
                labels(),
                v.quarantined as f64,
            );
            if state == "building" {
                scrape.gauge(
                    "reprise_projection_build_progress_ratio",
                    "Share of the log a building projection version has applied",
                    labels(),
                    fraction(applied, end),
                );
                let rate = rates.rate(&p.name, v.version, applied, now);
                if let Some(eta) = eta(v.lag, rate) {
                    scrape.gauge(
                        "reprise_projection_build_eta_seconds",
                        "Seconds until a building version reaches the log's end, at the rate \
                         it applied over the last 30 seconds",
                        labels(),
                        eta,
                    );
                }
            }
        }
    }
}
