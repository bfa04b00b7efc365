//! How fast a projection version builds, and so when it will be done:
//! measured on the server from its applied count over the recent past,
//! for the console and the metrics alike (whoever asks more often only
//! adds samples; the window is the same).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A build rate is measured over this much of the recent past.
const WINDOW: Duration = Duration::from_secs(30);

/// A version's applied count at moments of the recent past.
type Samples = VecDeque<(Instant, u64)>;

/// Each version's samples, by projection name and version.
#[derive(Default)]
pub(crate) struct BuildRates {
    samples: Mutex<BTreeMap<(String, u32), Samples>>,
}

impl BuildRates {
    /// Notes `applied` for a version now; its rate (events per second)
    /// over the window, once the samples span a second.
    pub(crate) fn rate(&self, name: &str, version: u32, applied: u64, now: Instant) -> Option<f64> {
        let mut samples = self.samples.lock().unwrap_or_else(|p| p.into_inner());
        let kept = samples.entry((name.to_string(), version)).or_default();
        // A rebuilt version starts again from zero.
        if kept.back().is_some_and(|&(_, last)| last > applied) {
            kept.clear();
        }
        kept.push_back((now, applied));
        while kept
            .front()
            .is_some_and(|&(at, _)| now.duration_since(at) > WINDOW)
        {
            kept.pop_front();
        }
        let &(first_at, first) = kept.front()?;
        let span = now.duration_since(first_at).as_secs_f64();
        (span >= 1.0).then(|| (applied - first) as f64 / span)
    }
}

/// The share of the log applied.
pub(crate) fn fraction(applied: u64, total: u64) -> f64 {
    if total == 0 {
        1.0
    } else {
        (applied as f64 / total as f64).min(1.0)
    }
}

/// Seconds to apply `lag` events at `rate`; none without a rate.
pub(crate) fn eta(lag: u64, rate: Option<f64>) -> Option<f64> {
    match rate {
        _ if lag == 0 => Some(0.0),
        Some(rate) if rate > 0.0 => Some(lag as f64 / rate),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_needs_a_second_of_samples_and_restarts_with_a_rebuild() {
        let rates = BuildRates::default();
        let t0 = Instant::now();
        assert_eq!(rates.rate("c", 2, 100, t0), None);
        assert_eq!(
            rates.rate("c", 2, 300, t0 + Duration::from_secs(2)),
            Some(100.0)
        );
        assert_eq!(rates.rate("c", 2, 10, t0 + Duration::from_secs(3)), None);
        assert_eq!(eta(500, Some(100.0)), Some(5.0));
        assert_eq!(eta(0, None), Some(0.0));
        assert_eq!(eta(5, None), None);
        assert_eq!(fraction(0, 0), 1.0);
    }
}
