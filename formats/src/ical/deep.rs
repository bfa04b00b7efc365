//! A second opinion from the `ical` crate on imported files.
//!
//! Our own pass already checks everything the crate checks, but imports are
//! rare and a second, independent parser is cheap insurance. The crate is
//! stricter than real files in two ways that are not errors: it wants
//! BEGIN/END names in upper case and it does not know about a byte order
//! mark. So it is fed a copy with those lines normalised, keeping every
//! line on the same line number so that its line numbers are ours.

use ::ical::parser::ParserError;
use ::ical::property::PropertyError;

use crate::contentline::{Dialect, LogicalLines};
use crate::FormatError;

/// Parses `text` (BOM already stripped) with the `ical` crate.
/// `calendar_lines` are the lines of the BEGIN:VCALENDARs, in order, for
/// errors the crate reports without a line.
pub(super) fn check(text: &str, calendar_lines: &[usize]) -> Result<(), FormatError> {
    let normalized = normalize(text)?;
    for (i, calendar) in ::ical::IcalParser::new(normalized.as_bytes()).enumerate() {
        if let Err(err) = calendar {
            let line = calendar_lines
                .get(i)
                .or(calendar_lines.last())
                .copied()
                .unwrap_or(1);
            return Err(translate(err, line));
        }
    }
    Ok(())
}

fn normalize(text: &str) -> Result<String, FormatError> {
    let mut out = String::with_capacity(text.len() + 64);
    // The line number the next line written to `out` will have.
    let mut out_line = 1;
    let mut scratch = String::new();
    for line in LogicalLines::new(text) {
        let line = line?;
        while out_line < line.line {
            out.push('\n');
            out_line += 1;
        }
        let prop = line.parse(Dialect::ICalendar, &mut scratch)?;
        if prop.is("BEGIN") || prop.is("END") {
            out.push_str(&prop.name.to_ascii_uppercase());
            out.push(':');
            out.push_str(&prop.value().trim_ascii().to_ascii_uppercase());
            // A folded BEGIN line now takes one line; pad with empty lines,
            // which the crate skips but counts.
            for _ in line.raw.matches('\n') {
                out.push('\n');
                out_line += 1;
            }
        } else {
            out.push_str(line.raw);
            out_line += line.raw.matches('\n').count();
        }
        out.push('\n');
        out_line += 1;
    }
    Ok(out)
}

/// Maps the crate's error onto a line: its property errors carry one, the
/// others are blamed on the VCALENDAR being parsed (`calendar_line`).
pub(super) fn translate(err: ParserError, calendar_line: usize) -> FormatError {
    match err {
        ParserError::PropertyError(err) => {
            let (line, message) = match err {
                PropertyError::MissingName { line } => (line, "missing property name".to_string()),
                PropertyError::MissingClosingQuote { line } => {
                    (line, "a quoted parameter value is not closed".to_string())
                }
                PropertyError::MissingDelimiter { line, delimiter } => {
                    (line, format!("missing {delimiter:?}"))
                }
                PropertyError::MissingContentAfter { line, letter } => {
                    (line, format!("nothing after {letter:?}"))
                }
                PropertyError::MissingParamKey { line } => {
                    (line, "empty parameter name".to_string())
                }
            };
            FormatError::new(line, format!("ical parser: {message}"))
        }
        other => FormatError::new(
            calendar_line,
            format!("ical parser rejected this VCALENDAR: {other}"),
        ),
    }
}
