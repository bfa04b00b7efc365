//! A second opinion from the `vcard_parser` crate on imported 4.0 cards.
//!
//! The crate only knows vCard 4.0 and checks value types (dates, URIs,
//! structured values such as N, parameter/property combinations), which our
//! own pass does not. It is stricter than us where we choose to be tolerant
//! (exact upper-case `BEGIN:VCARD`, VERSION right after BEGIN, no trailing
//! spaces), so it gets a copy with those three lines rewritten. Its errors
//! point at the rest of the input or name a property; they are mapped back
//! to a line of the input here.

use vcard_parser::error::VcardError;
use vcard_parser::vcard::Vcard;

use crate::contentline::{Dialect, LogicalLines};
use crate::FormatError;

/// Parses `vcard` (one validated card, CRLF-normalised; `lines[i]` is the
/// input line number of its line `i`) with `vcard_parser`. `first_line` is
/// the BEGIN:VCARD line.
pub(super) fn check(vcard: &str, lines: &[usize], first_line: usize) -> Result<(), FormatError> {
    let (text, lines) = canonical(vcard, lines);
    match Vcard::try_from(text.as_str()) {
        Ok(_) => Ok(()),
        Err(err) => {
            let index = locate(&err, &text);
            let line = index
                .and_then(|i| lines.get(i))
                .copied()
                .unwrap_or(first_line);
            Err(FormatError::new(
                line,
                format!("vcard_parser: {}", describe(&err)),
            ))
        }
    }
}

/// The card with canonical BEGIN, VERSION (moved right after BEGIN) and END
/// lines, and the input line of each of its lines.
fn canonical(vcard: &str, lines: &[usize]) -> (String, Vec<usize>) {
    // Line breaks before `counted`, so that each is counted only once.
    let (mut counted, mut breaks) = (0, 0);
    let mut begin = 0;
    let mut version = 0;
    let mut end = 0;
    let mut body = String::with_capacity(vcard.len());
    let mut body_lines = Vec::with_capacity(lines.len());
    let mut scratch = String::new();
    for line in LogicalLines::new(vcard).flatten() {
        let Ok(prop) = line.parse(Dialect::VCard, &mut scratch) else {
            continue;
        };
        breaks += vcard[counted..line.start].matches('\n').count();
        counted = line.start;
        let at = lines.get(breaks).copied().unwrap_or(0);
        if prop.is("BEGIN") {
            begin = at;
        } else if prop.is("VERSION") {
            version = at;
        } else if prop.is("END") {
            end = at;
        } else if prop.is("KIND") && !line.raw.contains('\n') && is_other_kind(&prop.value()) {
            // The crate knows only RFC 6350's four kinds and refuses the
            // iana-tokens and x-names the RFC allows, such as RFC 6869's
            // `device`: check the rest of the card with a kind it knows.
            body.push_str("KIND:individual\r\n");
            body_lines.push(at);
        } else {
            body.push_str(line.raw);
            // RFC 6350 wants five N and seven ADR components, but cards
            // with fewer (`N:Doe;John`) are common and harmless: pad the
            // checked copy rather than refuse a whole address book.
            let wanted = if prop.is("N") {
                5
            } else if prop.is("ADR") {
                7
            } else {
                0
            };
            if wanted > 0 && !line.raw.contains('\n') {
                let parts = line
                    .raw
                    .split_once(':')
                    .map_or(wanted, |(_, v)| v.split(';').count());
                body.push_str(&";".repeat(wanted.saturating_sub(parts)));
            }
            body.push_str("\r\n");
            body_lines.extend((0..=line.raw.matches('\n').count()).map(|i| at + i));
        }
    }
    let mut text = String::with_capacity(body.len() + 40);
    text.push_str("BEGIN:VCARD\r\nVERSION:4.0\r\n");
    text.push_str(&body);
    text.push_str("END:VCARD\r\n");
    let mut all = vec![begin, version];
    all.extend(body_lines);
    all.push(end);
    (text, all)
}

/// A KIND value other than the four the crate knows, that RFC 6350 still
/// allows: an iana-token or x-name (letters, digits and `-`).
fn is_other_kind(value: &str) -> bool {
    let value = value.trim_ascii();
    let known = ["individual", "group", "org", "location"];
    !value.is_empty()
        && !known.iter().any(|k| value.eq_ignore_ascii_case(k))
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// The 0-based line of `vcard` the error is about, if it can be told.
fn locate(err: &VcardError, vcard: &str) -> Option<usize> {
    let offset = match err {
        // Parse errors start with the input that was left when parsing failed.
        VcardError::ParseError(parts) => {
            let rest = parts
                .first()
                .filter(|r| !r.is_empty() && vcard.ends_with(r.as_str()))?;
            vcard.len() - rest.len()
        }
        VcardError::ParameterTypeNotAllowed(_, property)
        | VcardError::ValueInvalid(_, property)
        | VcardError::ValueNotAllowed(_, property)
        | VcardError::PropertySetError(property) => line_of_property(vcard, property)?,
        VcardError::ValueMismatch(_, _, property) => line_of_property(vcard, property)?,
        _ => return None,
    };
    Some(vcard[..offset].matches('\n').count())
}

/// Byte offset of the first line whose property is called `name`.
fn line_of_property(vcard: &str, name: &str) -> Option<usize> {
    let mut scratch = String::new();
    LogicalLines::new(vcard).flatten().find_map(|line| {
        let prop = line.parse(Dialect::VCard, &mut scratch).ok()?;
        prop.is(name).then_some(line.start)
    })
}

/// The crate's parse errors are a list of the remaining input followed by
/// grammar rule names; only the rule names make a readable message.
fn describe(err: &VcardError) -> String {
    match err {
        VcardError::ParseError(parts) => {
            let rules: Vec<&str> = parts.iter().skip(1).map(String::as_str).collect();
            if rules.is_empty() {
                "could not parse the card".to_string()
            } else {
                format!("could not parse the card ({})", rules.join(" in "))
            }
        }
        other => other.to_string(),
    }
}
