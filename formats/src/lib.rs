//! Pure parsing of the two text formats reprise stores: iCalendar
//! (RFC 5545, as constrained by CalDAV, RFC 4791) and vCard (RFC 6350 and
//! RFC 2426), and the XML of WebDAV requests and responses.
//!
//! Two kinds of entry points live here:
//!
//! * validators ([`ical::validate_calendar_object`], [`vcard::validate_card`])
//!   that run on every stored object whenever views are rebuilt from the
//!   log, so they are single passes over the text that build no tree and
//!   allocate next to nothing;
//! * importers ([`ical::split_calendar_export`], [`vcard::split_cards`]) that
//!   turn what people export from their old client into storable objects.
//!   They are thorough instead of fast: they also run the `ical` /
//!   `vcard_parser` crates over the input and refuse the whole file on the
//!   first problem, so an import never half-succeeds.
//!
//! Nothing here does I/O. Every error carries the 1-based line number, in
//! the text that was passed in, where the problem was found.

pub mod calfilter;
pub mod cardfilter;
mod contentline;
pub mod davpath;
pub mod filter;
pub mod ical;
pub mod vcard;
pub mod xml;

/// A problem in a document, with the 1-based line number it was found on (within the text given).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct FormatError {
    pub line: usize,
    pub message: String,
}

impl FormatError {
    pub(crate) fn new(line: usize, message: impl Into<String>) -> Self {
        FormatError {
            line,
            message: message.into(),
        }
    }
}

/// Exporters on Windows like to start files with a UTF-8 byte order mark;
/// it is not part of the first content line.
pub(crate) fn strip_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

/// Microseconds per call of `f`, the best of a few batches so that other
/// work on the machine disturbs the number less. Only for printing.
#[cfg(test)]
fn best_time_per_call(mut f: impl FnMut()) -> f64 {
    const BATCHES: usize = 5;
    const RUNS: usize = 4_000;
    (0..BATCHES)
        .map(|_| {
            let started = std::time::Instant::now();
            for _ in 0..RUNS {
                f();
            }
            started.elapsed().as_secs_f64() * 1e6 / RUNS as f64
        })
        .fold(f64::INFINITY, f64::min)
}
