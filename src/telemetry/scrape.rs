//! Figures measured at the moment of a scrape, with labels only known
//! then (a projection's name and version, a topic).

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;

type LabelSet = Vec<(&'static str, String)>;

enum Series {
    Gauge(Family<LabelSet, Gauge<f64, AtomicU64>>),
    Counter(Family<LabelSet, Counter<f64, AtomicU64>>),
}

/// Families filled for one scrape, then encoded after the process-wide
/// ones. Names are whole (`reprise_…`, `process_…`).
#[derive(Default)]
pub struct Scrape {
    families: BTreeMap<&'static str, (&'static str, Series)>,
    registry: Registry,
}

impl Scrape {
    /// A value that goes up and down (a lag, a state, a size).
    pub fn gauge(&mut self, name: &'static str, help: &'static str, labels: LabelSet, value: f64) {
        let entry = self
            .families
            .entry(name)
            .or_insert_with(|| (help, Series::Gauge(Family::default())));
        if let Series::Gauge(family) = &entry.1 {
            family.get_or_create(&labels).set(value);
        }
    }

    /// A total that only grows over the life of the process (or, for
    /// positions in the log, over the life of the log); `_total` is added.
    pub fn counter(
        &mut self,
        name: &'static str,
        help: &'static str,
        labels: LabelSet,
        value: f64,
    ) {
        let entry = self
            .families
            .entry(name)
            .or_insert_with(|| (help, Series::Counter(Family::default())));
        if let Series::Counter(family) = &entry.1 {
            family.get_or_create(&labels).inc_by(value);
        }
    }

    pub(super) fn registry(&mut self) -> &Registry {
        for (name, (help, series)) in std::mem::take(&mut self.families) {
            match series {
                Series::Gauge(f) => self.registry.register(name, help, f),
                Series::Counter(f) => self.registry.register(name, help, f),
            }
        }
        &self.registry
    }
}
