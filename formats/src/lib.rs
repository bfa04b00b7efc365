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

/// Default for the most content lines one calendar object or vCard may
/// hold when a client stores it. Every line becomes a property (a few
/// allocations) in each tree built from the object, for queries and
/// scheduling, so the count, not the size, bounds that memory: a 10 MiB
/// object of three-byte lines would be 3.5 million properties. Real
/// objects stay far below: a meeting with 100 attendees is about 150
/// lines, a recurring one with 1,000 changed instances about 20,000, and a
/// PHOTO is one line however long.
pub const DEFAULT_MAX_CONTENT_LINES: usize = 100_000;

/// An object holding more content lines than a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the object holds more than {most} content lines, this server's limit")]
pub struct TooManyLines {
    pub most: usize,
}

/// Counts the content lines of an iCalendar or vCard text (a folded line
/// counts once, BEGIN and END lines too), stopping past `most`. Cheap
/// enough to run before validating: nothing is parsed or copied.
pub fn check_content_lines(text: &str, most: usize) -> Result<(), TooManyLines> {
    if contentline::LogicalLines::new(text).nth(most).is_some() {
        return Err(TooManyLines { most });
    }
    Ok(())
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

#[cfg(test)]
mod content_line_tests {
    use super::*;

    #[test]
    fn folded_lines_count_once() {
        let card = "BEGIN:VCARD\r\nVERSION:4.0\r\nPHOTO:data:image/jpeg;base64,AAAA\r\n AAAA\r\n \
                    AAAA\r\nEND:VCARD\r\n";
        assert_eq!(check_content_lines(card, 4), Ok(()));
        assert_eq!(check_content_lines(card, 3), Err(TooManyLines { most: 3 }));
        assert_eq!(check_content_lines("", 0), Ok(()));
    }
}
