//! Content lines (RFC 5545 section 3.1, RFC 6350 section 3.2):
//! `[group.]NAME *(";" PARAM "=" value *("," value)) ":" VALUE`, folded onto
//! several physical lines by a line break followed by one space or tab.
//!
//! The validators run over every stored object, so this is written to avoid
//! work: a logical line is handed out as a slice of the input that still
//! contains its folds, and is only unfolded (into a reused scratch buffer)
//! when the name or parameters themselves are folded, which is rare. Long
//! folded values such as base64 photos or HTML descriptions are never copied
//! unless a caller asks for the value.

use std::borrow::Cow;

use crate::FormatError;

/// The two formats differ in small ways: vCard names may carry a group
/// prefix (`item1.EMAIL`, written by Apple and Google), and vCard 3.0
/// exporters still write parameters without a name (`TEL;CELL:...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    ICalendar,
    VCard,
}

/// One logical line as it appears in the input.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LogicalLine<'a> {
    /// 1-based number of the physical line this logical line starts on.
    pub line: usize,
    /// Byte offset of the line in the text given to [`LogicalLines::new`].
    pub start: usize,
    /// The physical lines, folds included, without the final line break.
    pub raw: &'a str,
    /// The first physical line, without its line break.
    first: &'a str,
}

/// Splits text into logical lines. CRLF and bare LF both end a line, empty
/// lines are skipped (clients leave them at the end of files and between
/// concatenated objects), and so are lines of only whitespace that follow
/// nothing they could continue.
pub(crate) struct LogicalLines<'a> {
    text: &'a str,
    pos: usize,
    next_line: usize,
}

impl<'a> LogicalLines<'a> {
    pub fn new(text: &'a str) -> Self {
        LogicalLines {
            text,
            pos: 0,
            next_line: 1,
        }
    }

    /// The physical line starting at `pos` (without its line break) and the
    /// position after its line break.
    fn physical(&self, pos: usize) -> (&'a str, usize) {
        let rest = &self.text[pos..];
        let (line, next) = match find_newline(rest) {
            Some(nl) => (&rest[..nl], pos + nl + 1),
            None => (rest, self.text.len()),
        };
        (strip_cr(line), next)
    }
}

/// The validators' inner loop. Lines are short (mostly under 80 bytes),
/// where `str::find`'s searcher costs more to set up than it saves, so this
/// tests eight bytes at a time with plain integer arithmetic.
fn find_newline(s: &str) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    const NEWLINES: u64 = 0x0a0a_0a0a_0a0a_0a0a;
    let bytes = s.as_bytes();
    let mut chunks = bytes.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word) ^ NEWLINES;
        // A zero byte in `x` is a '\n' in the chunk.
        if x.wrapping_sub(ONES) & !x & HIGHS != 0 {
            break;
        }
        offset += 8;
    }
    bytes
        .get(offset..)
        .and_then(|rest| rest.iter().position(|&b| b == b'\n'))
        .map(|i| offset + i)
}

fn strip_cr(line: &str) -> &str {
    match line.as_bytes().last() {
        // '\r' is ASCII, so cutting it off keeps a char boundary.
        Some(b'\r') => &line[..line.len() - 1],
        _ => line,
    }
}

fn is_fold(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

impl<'a> Iterator for LogicalLines<'a> {
    type Item = Result<LogicalLine<'a>, FormatError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.pos >= self.text.len() {
                return None;
            }
            let start = self.pos;
            let (first, next) = self.physical(start);
            let line = self.next_line;
            self.next_line += 1;
            self.pos = next;
            match first.as_bytes().first() {
                None => continue,
                Some(&b) if is_fold(b) => {
                    if first.trim_ascii().is_empty() {
                        continue;
                    }
                    return Some(Err(FormatError::new(
                        line,
                        "line starts with whitespace but there is no content line \
                         before it to continue (broken folding?)",
                    )));
                }
                Some(_) => {}
            }
            let mut end = start + first.len();
            while let Some(&b) = self.text.as_bytes().get(self.pos) {
                if !is_fold(b) {
                    break;
                }
                let (cont, next) = self.physical(self.pos);
                end = self.pos + cont.len();
                self.pos = next;
                self.next_line += 1;
            }
            return Some(Ok(LogicalLine {
                line,
                start,
                raw: &self.text[start..end],
                first,
            }));
        }
    }
}

/// A content line split into its parts. The parameters have been checked
/// for syntax; `value` may still contain folds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Property<'b> {
    /// The name without its vCard group (`item1.` is only a grouping label).
    pub name: &'b str,
    /// From just after the name up to and including the `:`.
    params: &'b str,
    value: &'b str,
    dialect: Dialect,
}

impl<'b> Property<'b> {
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }

    /// The unfolded value, escapes untouched.
    pub fn value(&self) -> Cow<'b, str> {
        unfold(self.value)
    }

    /// The first value of parameter `name`, without quotes; `None` if absent.
    pub fn param(&self, name: &str) -> Option<&'b str> {
        let mut found = None;
        // The section was validated when the property was parsed, so the
        // only possible outcome here is Ok.
        let _ = scan_params(self.params, 0, self.dialect, &mut |n, values| {
            if n.eq_ignore_ascii_case(name) {
                found = Some(first_param_value(values));
                true
            } else {
                false
            }
        });
        found
    }
}

impl<'b> Property<'b> {
    /// Every value of every parameter, names uppercased, in order: a
    /// parameter given twice (`TYPE=home;TYPE=pref`) or with a list
    /// (`TYPE=home,pref`) yields each value; quotes are removed.
    pub fn params(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let _ = scan_params(self.params, 0, self.dialect, &mut |n, values| {
            for value in param_values(values) {
                out.push((n.to_ascii_uppercase(), value.to_string()));
            }
            false
        });
        out
    }
}

/// The values of a parameter: comma-separated, each possibly quoted.
/// An iterator, as every parameter of every property a tree keeps comes
/// through here.
fn param_values(values: &str) -> impl Iterator<Item = &str> {
    let mut rest = values;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let value;
        if let Some(quoted) = rest.strip_prefix('"') {
            let end = quoted.find('"').unwrap_or(quoted.len());
            value = &quoted[..end];
            rest = quoted.get(end + 1..).unwrap_or("");
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            value = &rest[..end];
            rest = &rest[end..];
        }
        rest = rest.strip_prefix(',').unwrap_or(rest);
        Some(value)
    })
}

fn first_param_value(values: &str) -> &str {
    if let Some(quoted) = values.strip_prefix('"') {
        return quoted.split('"').next().unwrap_or(quoted);
    }
    values.split(',').next().unwrap_or(values)
}

/// Removes folds: each line break together with the one space or tab that
/// follows it.
pub(crate) fn unfold(s: &str) -> Cow<'_, str> {
    if find_newline(s).is_none() {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    unfold_into(s, &mut out);
    Cow::Owned(out)
}

fn unfold_into(s: &str, out: &mut String) {
    out.clear();
    for (i, piece) in s.split('\n').enumerate() {
        let piece = strip_cr(piece);
        if i == 0 {
            out.push_str(piece);
        } else {
            // Continuation lines start with the fold character by construction.
            out.push_str(piece.get(1..).unwrap_or(""));
        }
    }
}

impl<'a> LogicalLine<'a> {
    /// Parses the line. `scratch` is only written to when the name or
    /// parameters are folded; the result then borrows from it.
    pub fn parse<'b>(
        &self,
        dialect: Dialect,
        scratch: &'b mut String,
    ) -> Result<Property<'b>, FormatError>
    where
        'a: 'b,
    {
        let raw = self.raw;
        match scan_head(self.first, dialect) {
            Ok(head) => return Ok(head.property(raw, dialect)),
            Err(HeadError::Incomplete(_)) if raw.len() > self.first.len() => {}
            Err(err) => return Err(self.error(err)),
        }
        unfold_into(raw, scratch);
        let unfolded: &'b str = scratch;
        match scan_head(unfolded, dialect) {
            Ok(head) => Ok(head.property(unfolded, dialect)),
            Err(err) => Err(self.error(err)),
        }
    }

    fn error(&self, err: HeadError) -> FormatError {
        // A line with no colon at all is almost always a value that lost
        // its fold, whatever character the name scan tripped over.
        let message = if !self.raw.contains(':') {
            format!(
                "expected a content line NAME:VALUE but there is no ':' in {:?}",
                snippet(self.raw)
            )
        } else {
            match err {
                HeadError::Invalid(message) => message,
                HeadError::Incomplete(Unfinished::Quote) => {
                    "a quoted parameter value is not closed".to_string()
                }
                HeadError::Incomplete(_) => "missing ':' after the parameters".to_string(),
            }
        };
        FormatError::new(self.line, message)
    }
}

fn snippet(raw: &str) -> String {
    let first = raw.lines().next().unwrap_or(raw);
    match first.char_indices().nth(60) {
        Some((i, _)) => format!("{}...", &first[..i]),
        None => first.to_string(),
    }
}

#[derive(Debug)]
enum HeadError {
    /// The text ended before the `:`; with more (unfolded) text it might
    /// still be fine.
    Incomplete(Unfinished),
    Invalid(String),
}

#[derive(Debug)]
enum Unfinished {
    Name,
    Params,
    Quote,
}

struct Head {
    name: (usize, usize),
    colon: usize,
}

impl Head {
    fn property(self, s: &str, dialect: Dialect) -> Property<'_> {
        Property {
            name: &s[self.name.0..self.name.1],
            params: &s[self.name.1..=self.colon],
            value: &s[self.colon + 1..],
            dialect,
        }
    }
}

/// RFC 5545 allows ALPHA, DIGIT and "-" in names; "_" is tolerated because
/// some generators put it in X- names. A table, as every byte of every name
/// goes through here.
fn is_name_byte(b: u8) -> bool {
    const TABLE: [bool; 256] = {
        let mut table = [false; 256];
        let mut i = 0;
        while i < 256 {
            let b = i as u8;
            table[i] = b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
            i += 1;
        }
        table
    };
    TABLE[b as usize]
}

fn char_at(s: &str, i: usize) -> char {
    s.get(i..).and_then(|r| r.chars().next()).unwrap_or('?')
}

fn scan_head(s: &str, dialect: Dialect) -> Result<Head, HeadError> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut name_start = 0;
    let mut grouped = false;
    while i < b.len() {
        match b[i] {
            c if is_name_byte(c) => i += 1,
            b'.' if dialect == Dialect::VCard && !grouped && i > name_start => {
                grouped = true;
                i += 1;
                name_start = i;
            }
            b';' | b':' => break,
            _ => {
                return Err(HeadError::Invalid(format!(
                    "invalid character {:?} in property name",
                    char_at(s, i)
                )))
            }
        }
    }
    if i == b.len() {
        return Err(HeadError::Incomplete(Unfinished::Name));
    }
    if i == name_start {
        return Err(HeadError::Invalid("missing property name".to_string()));
    }
    let colon = scan_params(s, i, dialect, &mut |_, _| false)?;
    Ok(Head {
        name: (name_start, i),
        colon,
    })
}

/// Walks the parameters starting at `s[i]` (a `;` or the final `:`), calling
/// `visit(name, raw values)` for each; returns the index of the `:` ending
/// them, or of the parameter at which `visit` returned true.
fn scan_params<'s>(
    s: &'s str,
    mut i: usize,
    dialect: Dialect,
    visit: &mut impl FnMut(&'s str, &'s str) -> bool,
) -> Result<usize, HeadError> {
    let b = s.as_bytes();
    loop {
        match b.get(i) {
            None => return Err(HeadError::Incomplete(Unfinished::Params)),
            Some(b':') => return Ok(i),
            Some(b';') => i += 1,
            Some(_) => {
                return Err(HeadError::Invalid(format!(
                    "unexpected {:?} after a parameter value",
                    char_at(s, i)
                )))
            }
        }
        let name_start = i;
        while i < b.len() && is_name_byte(b[i]) {
            i += 1;
        }
        let name = &s[name_start..i];
        match b.get(i) {
            None => return Err(HeadError::Incomplete(Unfinished::Params)),
            Some(b'=') if !name.is_empty() => {
                let values_start = i + 1;
                i = scan_param_values(s, values_start)?;
                if visit(name, &s[values_start..i]) {
                    return Ok(i);
                }
            }
            // vCard 3.0 exporters still write 2.1-style `TEL;CELL:`; the
            // bare word is a TYPE value.
            Some(b';' | b':') if dialect == Dialect::VCard && !name.is_empty() => {
                if visit("TYPE", name) {
                    return Ok(i);
                }
            }
            Some(_) if name.is_empty() => {
                return Err(HeadError::Invalid("empty parameter name".to_string()))
            }
            Some(b';' | b':') => {
                return Err(HeadError::Invalid(format!(
                    "parameter {name} has no '=' and no value"
                )))
            }
            Some(_) => {
                return Err(HeadError::Invalid(format!(
                    "invalid character {:?} in parameter name",
                    char_at(s, i)
                )))
            }
        }
    }
}

/// Scans `value *("," value)` where a value is quoted or runs up to the next
/// `,` `;` `:`. Returns the index of the `;` or `:` after the list.
fn scan_param_values(s: &str, mut i: usize) -> Result<usize, HeadError> {
    let b = s.as_bytes();
    loop {
        if b.get(i) == Some(&b'"') {
            match s[i + 1..].find('"') {
                Some(q) => i += q + 2,
                None => return Err(HeadError::Incomplete(Unfinished::Quote)),
            }
        } else {
            while i < b.len() && !matches!(b[i], b',' | b';' | b':' | b'"') {
                i += 1;
            }
        }
        match b.get(i) {
            None => return Err(HeadError::Incomplete(Unfinished::Params)),
            Some(b',') => i += 1,
            Some(b';' | b':') => return Ok(i),
            Some(b'"') => {
                return Err(HeadError::Invalid(
                    "'\"' in the middle of a parameter value".to_string(),
                ))
            }
            Some(_) => {
                return Err(HeadError::Invalid(format!(
                    "unexpected {:?} after a quoted parameter value",
                    char_at(s, i)
                )))
            }
        }
    }
}

/// Writes `text` with CRLF line breaks, dropping the empty and stray
/// whitespace-only lines [`LogicalLines`] skips, and keeping folds as they
/// are. When `lines` is given, it receives the input line number (counting
/// from `first_line`) of every line written.
pub(crate) fn push_crlf(
    out: &mut String,
    text: &str,
    first_line: usize,
    mut lines: Option<&mut Vec<usize>>,
) {
    let mut open = false;
    for (i, piece) in text.split('\n').enumerate() {
        let piece = strip_cr(piece);
        let continues = piece.as_bytes().first().is_some_and(|&b| is_fold(b));
        if piece.is_empty() || (continues && !open) {
            open = false;
            continue;
        }
        open = true;
        out.push_str(piece);
        out.push_str("\r\n");
        if let Some(lines) = lines.as_deref_mut() {
            lines.push(first_line + i);
        }
    }
}

/// A content line from its parts (vCard and iCalendar alike): parameter
/// values quoted as needed ([`param_value`]), folded with CRLF, without
/// the final line break.
pub(crate) fn written_line<'a>(
    name: &str,
    params: impl IntoIterator<Item = (&'a str, &'a str)>,
    value: &str,
) -> String {
    let mut line = String::with_capacity(name.len() + value.len() + 16);
    line.push_str(name);
    for (param, v) in params {
        line.push(';');
        line.push_str(param);
        line.push('=');
        line.push_str(&param_value(v));
    }
    line.push(':');
    line.push_str(value);
    fold(&line, "\r\n")
}

/// A parameter value as written (vCard and iCalendar alike): RFC 6868 caret encoding for `^`, line breaks and
/// `"`, then quoted when it holds `:`, `;` or `,`.
pub(crate) fn param_value(value: &str) -> String {
    let mut encoded = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '^' => encoded.push_str("^^"),
            '\n' => encoded.push_str("^n"),
            '"' => encoded.push_str("^'"),
            c if c.is_control() => {}
            c => encoded.push(c),
        }
    }
    if encoded.contains([':', ';', ',']) {
        format!("\"{encoded}\"")
    } else {
        encoded
    }
}

/// Folds a content line at 75 octets (RFC 6350 §3.2, RFC 5545 §3.1), on character
/// boundaries; a continuation line's leading space counts.
pub(crate) fn fold(line: &str, eol: &str) -> String {
    const LIMIT: usize = 75;
    let mut out = String::with_capacity(line.len() + 8);
    let mut width = 0;
    for c in line.chars() {
        if width + c.len_utf8() > LIMIT {
            out.push_str(eol);
            out.push(' ');
            width = 1;
        }
        out.push(c);
        width += c.len_utf8();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<(usize, &str)> {
        LogicalLines::new(text)
            .map(|l| l.map(|l| (l.line, l.raw)))
            .collect::<Result<_, _>>()
            .unwrap()
    }

    fn logical(raw: &str, line: usize) -> LogicalLine<'_> {
        let first = strip_cr(raw.split('\n').next().unwrap_or(raw));
        LogicalLine {
            line,
            start: 0,
            raw,
            first,
        }
    }

    fn parse(raw: &str, dialect: Dialect) -> Result<(String, String), FormatError> {
        let line = logical(raw, 7);
        let mut scratch = String::new();
        let p = line.parse(dialect, &mut scratch)?;
        Ok((p.name.to_string(), p.value().into_owned()))
    }

    #[test]
    fn unfolds_crlf_and_lf_with_line_numbers() {
        let text = "A:1\r\nB:2\r\n 3\r\n\t4\r\n\r\nC:5\n 6\nD:7";
        assert_eq!(
            lines(text),
            vec![
                (1, "A:1"),
                (2, "B:2\r\n 3\r\n\t4"),
                (6, "C:5\n 6"),
                (8, "D:7")
            ]
        );
        assert_eq!(unfold("B:2\r\n 3\r\n\t4"), "B:234");
    }

    #[test]
    fn stray_whitespace_lines_are_skipped_but_orphan_continuations_are_errors() {
        assert_eq!(lines("  \nA:1\n"), vec![(2, "A:1")]);
        let err = LogicalLines::new("A:1\n\n continued\n")
            .collect::<Result<Vec<_>, _>>()
            .unwrap_err();
        assert_eq!(err.line, 3);
    }

    #[test]
    fn parses_names_params_and_values() {
        let (name, value) = parse(
            "DTSTART;TZID=Europe/Berlin:20240101T100000",
            Dialect::ICalendar,
        )
        .unwrap();
        assert_eq!(
            (name.as_str(), value.as_str()),
            ("DTSTART", "20240101T100000")
        );
        let (name, value) = parse("item1.X-ABLabel:_$!<Other>!$_", Dialect::VCard).unwrap();
        assert_eq!(
            (name.as_str(), value.as_str()),
            ("X-ABLabel", "_$!<Other>!$_")
        );
        // Groups are a vCard thing.
        assert!(parse("item1.X-ABLabel:x", Dialect::ICalendar).is_err());
        // Quoted parameter values may hold ':' ';' and ','.
        let (name, value) =
            parse("ATTENDEE;CN=\"Doe; John: Jr.\";DELEGATED-FROM=\"mailto:a@b\",\"mailto:c@d\":mailto:j@x", Dialect::ICalendar)
                .unwrap();
        assert_eq!((name.as_str(), value.as_str()), ("ATTENDEE", "mailto:j@x"));
        // Bare vCard 3.0 parameters.
        assert!(parse("TEL;CELL;PREF:+1", Dialect::VCard).is_ok());
        assert!(parse("DTSTART;VALUE:20240101", Dialect::ICalendar).is_err());
    }

    #[test]
    fn folded_parameters_are_unfolded_before_parsing() {
        let line = logical(
            "ATTENDEE;CN=\"Jane\r\n  Doe\";PARTSTAT=ACC\r\n EPTED:mailto:jane@example.com",
            1,
        );
        let mut scratch = String::new();
        let p = line.parse(Dialect::ICalendar, &mut scratch).unwrap();
        assert_eq!(p.param("cn"), Some("Jane Doe"));
        assert_eq!(p.param("PARTSTAT"), Some("ACCEPTED"));
        assert_eq!(p.value(), "mailto:jane@example.com");
    }

    #[test]
    fn reports_what_is_wrong() {
        let no_colon = parse("this line lost its fold", Dialect::ICalendar).unwrap_err();
        assert_eq!(no_colon.line, 7);
        assert!(no_colon.message.contains("no ':'"), "{no_colon}");
        let quote = parse("X;A=\"unclosed:value", Dialect::ICalendar).unwrap_err();
        assert!(quote.message.contains("not closed"), "{quote}");
        let name = parse("SUMMARY X:foo", Dialect::ICalendar).unwrap_err();
        assert!(name.message.contains("property name"), "{name}");
        assert!(parse(":value", Dialect::ICalendar).is_err());
        assert!(parse("X;=1:value", Dialect::ICalendar).is_err());
        assert!(parse("X;A=\"q\"b:value", Dialect::ICalendar).is_err());
    }

    #[test]
    fn push_crlf_normalises_line_breaks_and_keeps_folds() {
        let mut out = String::new();
        let mut map = Vec::new();
        push_crlf(&mut out, "A:1\n B\n\n  \nC:2\r\n", 10, Some(&mut map));
        assert_eq!(out, "A:1\r\n B\r\nC:2\r\n");
        assert_eq!(map, vec![10, 11, 14]);
    }
}
