//! What the console shows, gathered from the engine, the views and the
//! log: never a user's data (no names but installations', no paths, no
//! calendar contents), only positions, counts, states and reasons.

use crate::http::build_rate::{eta, fraction};
use crate::http::{ApiError, AppState};
use crate::ops::projections::{add_running, report_at};
use events::log::{LogReader, ReadStart, TopicPartition};
use events::{codec, Domain, EventLog, Payload};
use serde::Serialize;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Quarantined events listed, newest first, per version.
const QUARANTINE_LISTED: usize = 50;
/// Switches listed, newest first.
const SWITCHES_LISTED: usize = 10;
/// Records the switch scan reads per request at most, so that the first
/// request on a long log does not take long; the next ones go on.
const SCAN_PER_REQUEST: usize = 50_000;
/// How long one request may read for the switch scan.
const SCAN_TIME: Duration = Duration::from_secs(5);

#[derive(Debug, Serialize)]
pub(super) struct Console {
    /// The admin whose session asked (none for the token or Basic).
    pub viewer: Option<String>,
    pub installation: crate::engine::ClusterStatus,
    /// Why this installation stopped writing or serving, if it did.
    pub stopped: Option<String>,
    pub log: LogSummary,
    pub projections: Vec<ProjectionSummary>,
    pub quarantine: Vec<Quarantined>,
    pub switches: Vec<Switch>,
    /// Whether `switches` holds every fence of the log (the scan reached
    /// its end).
    pub switches_complete: bool,
    /// The server's clock, in milliseconds since the Unix epoch.
    pub now_ms: i64,
}

#[derive(Debug, Serialize)]
pub(super) struct LogSummary {
    pub describe: String,
    pub topics: Vec<TopicSummary>,
}

#[derive(Debug, Serialize)]
pub(super) struct TopicSummary {
    pub domain: Domain,
    pub name: String,
    /// The end offset (next offset to be written) of each partition.
    pub end_offsets: Vec<u64>,
    pub records: u64,
}

#[derive(Debug, Serialize)]
pub(super) struct ProjectionSummary {
    pub name: String,
    pub current: u32,
    pub live: Option<u32>,
    pub versions: Vec<VersionSummary>,
}

#[derive(Debug, Serialize)]
pub(super) struct VersionSummary {
    pub version: u32,
    pub state: String,
    pub live: bool,
    /// Records of its topics applied, and in the log.
    pub applied: u64,
    pub total: u64,
    pub lag: u64,
    pub lag_seconds: Option<f64>,
    pub quarantined: u64,
    /// Applied of total, while it builds.
    pub progress: Option<f64>,
    /// Events per second, measured on this server over the last 30 s.
    pub rate: Option<f64>,
    /// Seconds until it catches up at that rate.
    pub eta_seconds: Option<f64>,
}

#[derive(Debug, Serialize)]
pub(super) struct Quarantined {
    pub projection: String,
    pub version: u32,
    pub topic: String,
    pub partition: u32,
    pub offset: u64,
    pub event_type: Option<String>,
    /// Why it was refused, quoted values masked (see [`masked`]).
    pub reason: String,
}

/// A change of leader, read from the fences in the log.
#[derive(Clone, Debug, Serialize)]
pub(super) struct Switch {
    pub epoch: u64,
    /// The installation that leads from this fence on.
    pub leader: String,
    /// The installation that appended the fence: the previous leader
    /// handing over, or the new one when the old one was gone.
    pub fenced_by: String,
    /// When the fence was appended (the log's timestamp).
    pub at_ms: i64,
    /// What the proxy that drove it reported, when it reported to this
    /// installation (the one that took over).
    pub hold: Option<Hold>,
}

/// The proxy's report of one switch (`reprise switch` prints it), posted
/// to the installation that took over once the held requests were
/// released. Kept in memory: measurements of the proxy, not domain data,
/// so not in the log, and only the installation the proxy told has them.
pub(crate) type Hold = crate::engine::SwitchReport;

/// What the console keeps between requests: where the switch scan is,
/// and the proxy's reports.
pub(super) struct Sampler {
    switches: Arc<Mutex<SwitchScan>>,
    /// The proxy's reports, newest first.
    holds: Mutex<VecDeque<Hold>>,
}

/// The fences read so far from one partition (every fence is in every
/// partition of every topic, so one partition has them all), and where
/// the next read starts. Kept in memory, like the sessions: a restart
/// reads them again.
#[derive(Default)]
struct SwitchScan {
    partition: Option<TopicPartition>,
    reader: Option<Box<dyn LogReader>>,
    next: u64,
    found: VecDeque<Switch>,
    complete: bool,
}

impl Sampler {
    pub(super) fn new() -> Sampler {
        Sampler {
            switches: Arc::new(Mutex::new(SwitchScan::default())),
            holds: Mutex::new(VecDeque::new()),
        }
    }

    /// Keeps a proxy's report of a switch (the last few).
    pub(super) fn note_hold(&self, hold: Hold) {
        let mut holds = self.holds.lock().unwrap_or_else(|p| p.into_inner());
        holds.retain(|h| h.epoch != hold.epoch);
        holds.push_front(hold);
        holds.truncate(SWITCHES_LISTED);
    }

    fn hold_of(&self, epoch: u64) -> Option<Hold> {
        let holds = self.holds.lock().unwrap_or_else(|p| p.into_inner());
        holds.iter().find(|h| h.epoch == epoch).cloned()
    }
}

/// Everything the console shows.
pub(super) async fn gather(state: &AppState, viewer: Option<String>) -> Result<Console, ApiError> {
    let engine = &state.engine;
    // Read once: the projections' lag and the topics' ends agree.
    let ends = events::log::all_end_offsets(engine.log.as_ref())
        .await
        .map_err(anyhow::Error::from)?;
    let mut status =
        report_at(engine.log.as_ref(), &engine.store, &ends).map_err(anyhow::Error::from)?;
    let cluster = engine.cluster_status().await;
    let now_ms = chrono::Utc::now().timestamp_millis();
    add_running(&mut status, &engine.progress(), cluster.clone(), now_ms);
    let topics = Domain::ALL
        .into_iter()
        .map(|domain| {
            let end_offsets: Vec<u64> = (0..engine.log.partitions(domain))
                .map(|partition| {
                    ends.get(&TopicPartition { domain, partition })
                        .copied()
                        .unwrap_or(0)
                })
                .collect();
            TopicSummary {
                domain,
                name: engine.log.topic_name(domain),
                records: end_offsets.iter().sum(),
                end_offsets,
            }
        })
        .collect();

    let sampler = &state.console.sampler;
    let now = Instant::now();
    let projections = status
        .projections
        .iter()
        .map(|p| ProjectionSummary {
            name: p.name.clone(),
            current: p.current,
            live: p.live,
            versions: p
                .versions
                .iter()
                .map(|v| {
                    let applied: u64 = v.positions.iter().map(|p| p.next_offset).sum();
                    let total: u64 = v.positions.iter().map(|p| p.end_offset).sum();
                    let rate = state.build_rates.rate(&p.name, v.version, applied, now);
                    let building = v.state == "building";
                    VersionSummary {
                        version: v.version,
                        state: v.state.clone(),
                        live: v.live,
                        applied,
                        total,
                        lag: v.lag,
                        lag_seconds: v.lag_seconds,
                        quarantined: v.quarantined,
                        progress: building.then(|| fraction(applied, total)),
                        rate,
                        eta_seconds: if building { eta(v.lag, rate) } else { None },
                    }
                })
                .collect(),
        })
        .collect();

    let store = engine.store.clone();
    let quarantine = tokio::task::spawn_blocking(move || quarantined(&store))
        .await
        .map_err(anyhow::Error::from)??;
    let (mut switches, switches_complete) = switches(state, engine.log.clone()).await?;
    for switch in &mut switches {
        switch.hold = sampler.hold_of(switch.epoch);
    }
    Ok(Console {
        viewer,
        installation: cluster,
        stopped: engine
            .stopped()
            .or_else(|| engine.disk_full().map(|full| full.to_string())),
        log: LogSummary {
            describe: engine.log.describe(),
            topics,
        },
        projections,
        quarantine,
        switches,
        switches_complete,
        now_ms,
    })
}

/// The newest quarantined events of every version.
fn quarantined(store: &projections::ViewStore) -> Result<Vec<Quarantined>, ApiError> {
    let mut out = Vec::new();
    for id in store.versions()?.keys() {
        let mut records = projections::runner::quarantine_of(store, id)?;
        records.sort_by_key(|q| std::cmp::Reverse(q.offset));
        out.extend(
            records
                .into_iter()
                .take(QUARANTINE_LISTED)
                .map(|q| Quarantined {
                    projection: id.name.clone(),
                    version: id.version,
                    topic: q.topic,
                    partition: q.partition,
                    offset: q.offset,
                    event_type: q.event_type,
                    reason: masked(&q.reason),
                }),
        );
    }
    Ok(out)
}

/// A refusal's reason with what it quotes masked: projections quote the
/// offending value (`invalid login "x"`, a path), which may be a user's
/// data; the shape of the reason is what an operator needs here, and
/// `reprise projections quarantine` shows the rest.
pub(super) fn masked(reason: &str) -> String {
    let mut out = String::with_capacity(reason.len());
    let mut quoted = false;
    for c in reason.chars() {
        if c == '"' {
            if quoted {
                out.push_str("…\"");
            } else {
                out.push('"');
            }
            quoted = !quoted;
        } else if !quoted {
            out.push(c);
        }
    }
    if quoted {
        out.push('…');
    }
    const LONGEST: usize = 300;
    if out.chars().count() > LONGEST {
        out = out.chars().take(LONGEST).collect::<String>() + "…";
    }
    out
}

/// The last switches, read from the fences in the log, newest first.
async fn switches(
    state: &AppState,
    log: Arc<dyn EventLog>,
) -> Result<(Vec<Switch>, bool), ApiError> {
    let ends = log
        .end_offsets(Domain::Directory)
        .await
        .map_err(|e| ApiError(axum::http::StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;
    let scan = state.console.sampler.switches.clone();
    tokio::task::spawn_blocking(move || {
        let mut scan = scan.lock().unwrap_or_else(|p| p.into_inner());
        scan.read(log.as_ref(), &ends)?;
        Ok::<_, events::LogError>((scan.found.iter().cloned().collect(), scan.complete))
    })
    .await
    .map_err(anyhow::Error::from)?
    .map_err(|e| ApiError(axum::http::StatusCode::SERVICE_UNAVAILABLE, e.to_string()))
}

impl SwitchScan {
    /// Reads on from where the last request stopped, towards `ends` (the
    /// directory topic's end offsets now).
    fn read(&mut self, log: &dyn EventLog, ends: &[u64]) -> Result<(), events::LogError> {
        // The directory partition with the fewest records: the least to
        // read for the same fences.
        let tp = *self.partition.get_or_insert_with(|| {
            let partition = (0..ends.len()).min_by_key(|&p| ends[p]).unwrap_or(0) as u32;
            TopicPartition {
                domain: Domain::Directory,
                partition,
            }
        });
        let end = ends.get(tp.partition as usize).copied().unwrap_or(0);
        let mut read = 0;
        // A new Kafka reader may poll empty for a while before it is
        // assigned its partition.
        let started = Instant::now();
        while self.next < end && read < SCAN_PER_REQUEST && started.elapsed() < SCAN_TIME {
            if self.reader.is_none() {
                self.reader = Some(log.reader(&[ReadStart {
                    topic_partition: tp,
                    offset: self.next,
                }])?);
            }
            let Some(reader) = self.reader.as_mut() else {
                break;
            };
            let batch = match reader.poll(1000, Duration::from_millis(200)) {
                Ok(batch) => batch,
                Err(e) => {
                    // A reader that failed is opened again next time.
                    self.reader = None;
                    return Err(e);
                }
            };
            for record in &batch.records {
                read += 1;
                self.next = record.offset + 1;
                let fence = record
                    .header(codec::HEADER_EVENT_TYPE)
                    .is_some_and(|t| t == b"LeaderFenced");
                if !fence {
                    continue;
                }
                // A fence that does not decode is the projections' concern
                // (it is quarantined there); it is not a switch to show.
                let Ok(event) = codec::decode_record(record) else {
                    continue;
                };
                if let Payload::LeaderFenced(f) = event.payload {
                    let fenced_by = event
                        .actor
                        .strip_prefix("system:fence by ")
                        .unwrap_or(&event.actor)
                        .to_string();
                    self.found.push_front(Switch {
                        epoch: f.epoch,
                        leader: f.leader,
                        fenced_by,
                        at_ms: record.timestamp_ms,
                        hold: None,
                    });
                    self.found.truncate(SWITCHES_LISTED);
                }
            }
        }
        self.complete = self.next >= end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_values_are_masked() {
        assert_eq!(masked("invalid login \"alice\""), "invalid login \"…\"");
        assert_eq!(
            masked("path \"a/b\" and \"c\" refused"),
            "path \"…\" and \"…\" refused"
        );
        assert_eq!(masked("cut \"open"), "cut \"…");
        assert_eq!(masked("no quotes"), "no quotes");
    }
}
