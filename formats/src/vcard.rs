//! vCards (RFC 6350 for 4.0, RFC 2426 for 3.0).

mod deep;
#[cfg(test)]
mod tests;
mod write;

pub use write::{escape_text, CardWriter};

use crate::contentline::{push_crlf, Dialect, LogicalLines, Property};
use crate::{strip_bom, FormatError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VcardVersion {
    V3,
    V4,
}

impl VcardVersion {
    pub fn as_str(self) -> &'static str {
        match self {
            VcardVersion::V3 => "3.0",
            VcardVersion::V4 => "4.0",
        }
    }
}

/// What the validator learned about a vCard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Card {
    pub uid: Option<String>,
    pub version: VcardVersion,
    /// The FN value with text escapes (`\,` `\;` `\n` `\\`) resolved.
    pub formatted_name: String,
}

/// Validates one vCard: exactly one BEGIN:VCARD..END:VCARD, VERSION 3.0 or
/// 4.0, an FN property, and well-formed content lines.
///
/// Like the calendar validator this runs for every stored card when views
/// are rebuilt, so it is a single pass that only decodes FN, UID and
/// VERSION (a folded base64 PHOTO is never unfolded).
pub fn validate_card(text: &str) -> Result<Card, FormatError> {
    let mut state = CardState::default();
    let mut scratch = String::new();
    for line in LogicalLines::new(strip_bom(text)) {
        let line = line?;
        let prop = line.parse(Dialect::VCard, &mut scratch)?;
        state.property(&prop, line.line)?;
    }
    state.finish()
}

#[derive(Default)]
struct CardState {
    begin_line: Option<usize>,
    ended: bool,
    version: Option<VcardVersion>,
    formatted_name: Option<String>,
    uid: Option<String>,
}

impl CardState {
    fn property(&mut self, prop: &Property<'_>, at: usize) -> Result<(), FormatError> {
        if self.ended {
            return Err(FormatError::new(
                at,
                "content after END:VCARD (one vCard expected here)",
            ));
        }
        if prop.is("BEGIN") {
            let value = prop.value();
            let value = value.trim_ascii();
            return match self.begin_line {
                _ if !value.eq_ignore_ascii_case("VCARD") => Err(FormatError::new(
                    at,
                    format!("BEGIN:{value} is not part of a vCard"),
                )),
                Some(open) => Err(FormatError::new(
                    at,
                    format!(
                        "BEGIN:VCARD inside the vCard begun on line {open} (missing END:VCARD?)"
                    ),
                )),
                None => {
                    self.begin_line = Some(at);
                    Ok(())
                }
            };
        }
        let Some(begin_line) = self.begin_line else {
            return Err(FormatError::new(
                at,
                format!("expected BEGIN:VCARD, found {}", prop.name),
            ));
        };
        if prop.is("END") {
            let value = prop.value();
            if !value.trim_ascii().eq_ignore_ascii_case("VCARD") {
                return Err(FormatError::new(
                    at,
                    format!(
                        "END:{} does not match BEGIN:VCARD on line {begin_line}",
                        value.trim_ascii()
                    ),
                ));
            }
            self.ended = true;
        } else if prop.is("VERSION") {
            if self.version.is_some() {
                return Err(FormatError::new(at, "VERSION appears twice"));
            }
            self.version = Some(parse_version(prop.value().trim_ascii(), at)?);
        } else if prop.is("FN") {
            if self.formatted_name.is_none() {
                self.formatted_name = Some(unescape_text(&prop.value()));
            }
        } else if prop.is("UID") && self.uid.is_none() {
            let uid = prop.value();
            let uid = uid.trim_ascii();
            if !uid.is_empty() {
                self.uid = Some(uid.to_string());
            }
        }
        Ok(())
    }

    fn finish(self) -> Result<Card, FormatError> {
        let Some(begin_line) = self.begin_line else {
            return Err(FormatError::new(1, "no BEGIN:VCARD found"));
        };
        if !self.ended {
            return Err(FormatError::new(
                begin_line,
                "BEGIN:VCARD is never closed (no END:VCARD before the end of the text)",
            ));
        }
        let Some(version) = self.version else {
            return Err(FormatError::new(begin_line, "vCard has no VERSION"));
        };
        let Some(formatted_name) = self.formatted_name else {
            return Err(FormatError::new(
                begin_line,
                "vCard has no FN (formatted name), which RFC 6350 and RFC 2426 require",
            ));
        };
        Ok(Card {
            uid: self.uid,
            version,
            formatted_name,
        })
    }
}

fn parse_version(value: &str, at: usize) -> Result<VcardVersion, FormatError> {
    match value {
        "3.0" => Ok(VcardVersion::V3),
        "4.0" => Ok(VcardVersion::V4),
        "2.1" => Err(FormatError::new(
            at,
            "vCard 2.1 is not supported; export the contacts as vCard 3.0 or 4.0",
        )),
        other => Err(FormatError::new(
            at,
            format!("unsupported vCard VERSION {other:?} (3.0 and 4.0 are supported)"),
        )),
    }
}

/// Resolves TEXT escapes. Unknown escapes keep the escaped character,
/// because exporters (Google, older Apple) also escape `:`.
fn unescape_text(value: &str) -> String {
    if !value.contains('\\') {
        return value.to_string();
    }
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n' | 'N') => out.push('\n'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// One card split out of a .vcf file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitCard {
    pub uid: Option<String>,
    /// The card as written, with CRLF line endings.
    pub vcard: String,
    /// Where its BEGIN:VCARD is in the input.
    pub line: usize,
}

/// Splits a .vcf holding any number of concatenated vCards. Every card must
/// validate (4.0 cards are also parsed by the `vcard_parser` crate); the
/// first problem fails the whole call, with its line in `text`.
pub fn split_cards(text: &str) -> Result<Vec<SplitCard>, FormatError> {
    let text = strip_bom(text);
    let mut spans: Vec<(usize, usize, usize)> = Vec::new(); // (line, start, end)
    let mut open: Option<(usize, usize)> = None;
    let mut scratch = String::new();
    for line in LogicalLines::new(text) {
        let line = line?;
        let prop = line.parse(Dialect::VCard, &mut scratch)?;
        if prop.is("BEGIN") {
            if let Some((begun, _)) = open {
                return Err(FormatError::new(
                    line.line,
                    format!(
                        "BEGIN:VCARD inside the vCard begun on line {begun} (missing END:VCARD?)"
                    ),
                ));
            }
            open = Some((line.line, line.start));
        } else if prop.is("END") {
            let Some((begun, start)) = open.take() else {
                return Err(FormatError::new(line.line, "END without a BEGIN:VCARD"));
            };
            spans.push((begun, start, line.start + line.raw.len()));
        } else if prop.is("VERSION") {
            // Checked here already: 2.1 files have quoted-printable soft
            // line breaks further down that would fail with a far less
            // helpful "no colon" error.
            parse_version(prop.value().trim_ascii(), line.line)?;
        } else if open.is_none() {
            return Err(FormatError::new(
                line.line,
                format!("{} is outside of BEGIN:VCARD/END:VCARD", prop.name),
            ));
        }
    }
    if let Some((begun, _)) = open {
        return Err(FormatError::new(
            begun,
            "BEGIN:VCARD is never closed (no END:VCARD before the end of the file)",
        ));
    }
    if spans.is_empty() {
        return Err(FormatError::new(1, "the file holds no vCard"));
    }
    spans
        .into_iter()
        .map(|(line, start, end)| split_one(&text[start..end], line))
        .collect()
}

fn split_one(span: &str, line: usize) -> Result<SplitCard, FormatError> {
    let shift = |e: FormatError| FormatError::new(e.line + line - 1, e.message);
    let card = validate_card(span).map_err(shift)?;
    let mut vcard = String::with_capacity(span.len() + 16);
    let mut lines = Vec::new();
    push_crlf(&mut vcard, span, line, Some(&mut lines));
    if card.version == VcardVersion::V4 {
        deep::check(&vcard, &lines, line)?;
    }
    Ok(SplitCard {
        uid: card.uid,
        vcard,
        line,
    })
}

/// Returns the card with a `UID:` line inserted after VERSION (or after
/// BEGIN:VCARD if there is no VERSION), used when importing cards that lack
/// one. Any UID already present is replaced, so the result carries exactly
/// `uid`. Line breaks follow the card's own; control characters in `uid`
/// are dropped so it cannot break out of its line.
pub fn with_uid(vcard: &str, uid: &str) -> String {
    let text = strip_bom(vcard);
    let eol = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let uid_line = crate::contentline::fold(
        &format!("UID:{}", uid.replace(|c: char| c.is_control(), "")),
        eol,
    );

    // (start, end including the line break) of UID lines, and where to insert.
    let mut drop: Vec<(usize, usize)> = Vec::new();
    let mut after_begin = None;
    let mut after_version = None;
    let mut scratch = String::new();
    for line in LogicalLines::new(text).flatten() {
        let Ok(prop) = line.parse(Dialect::VCard, &mut scratch) else {
            continue;
        };
        let end = line_end(text, line.start + line.raw.len());
        if prop.is("UID") {
            drop.push((line.start, end));
        } else if prop.is("VERSION") && after_version.is_none() {
            after_version = Some(end);
        } else if prop.is("BEGIN") && after_begin.is_none() {
            after_begin = Some(end);
        }
    }
    let insert_at = after_version.or(after_begin).unwrap_or(0);

    let mut out = String::with_capacity(text.len() + uid_line.len() + 2);
    let mut copied = 0;
    let mut inserted = false;
    for (start, end) in drop.into_iter().chain([(text.len(), text.len())]) {
        if !inserted && insert_at <= start {
            out.push_str(&text[copied..insert_at]);
            if !out.is_empty() && !out.ends_with('\n') {
                out.push_str(eol);
            }
            out.push_str(&uid_line);
            out.push_str(eol);
            copied = insert_at;
            inserted = true;
        }
        out.push_str(&text[copied..start]);
        copied = end;
    }
    out
}

/// The position just after the line break that follows `pos`, if any.
fn line_end(text: &str, pos: usize) -> usize {
    let rest = &text[pos..];
    if rest.starts_with("\r\n") {
        pos + 2
    } else if rest.starts_with('\n') {
        pos + 1
    } else {
        pos
    }
}

/// One property of a vCard as a query sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardProperty {
    /// Uppercased, without its group (`item1.EMAIL` → `EMAIL`).
    pub name: String,
    /// `(NAME, value)` per parameter value, names uppercased.
    pub params: Vec<(String, String)>,
    /// Unfolded, escapes untouched.
    pub value: String,
    /// The logical line as stored, folds included: what a client gets
    /// back when it asks for this property only.
    pub raw: String,
}

/// Every content line of a vCard (BEGIN and END included), in order.
pub fn properties(text: &str) -> Result<Vec<CardProperty>, FormatError> {
    let mut out = Vec::new();
    let mut scratch = String::new();
    for line in LogicalLines::new(strip_bom(text)) {
        let line = line?;
        let prop = line.parse(Dialect::VCard, &mut scratch)?;
        out.push(CardProperty {
            name: prop.name.to_ascii_uppercase(),
            params: prop.params(),
            value: prop.value().into_owned(),
            raw: line.raw.to_string(),
        });
    }
    Ok(out)
}
