//! Writing vCard 4.0 (RFC 6350): escaping and folding, for cards reprise
//! generates itself (the directory's address book). Pure and
//! deterministic: the same values give the same bytes, so a regenerated
//! card that did not change keeps its ETag.

#[cfg(test)]
use crate::contentline::param_value;
use crate::contentline::written_line;

/// Builds one vCard 4.0, property by property, in the order written.
///
/// Property names and parameter names are the caller's constants and are
/// written as given; values and parameter values are escaped here.
#[derive(Debug)]
pub struct CardWriter {
    out: String,
}

impl Default for CardWriter {
    fn default() -> Self {
        CardWriter::new()
    }
}

impl CardWriter {
    /// `BEGIN:VCARD` and `VERSION:4.0`.
    pub fn new() -> CardWriter {
        CardWriter {
            out: String::from("BEGIN:VCARD\r\nVERSION:4.0\r\n"),
        }
    }

    /// A TEXT property (FN, NOTE, EMAIL, TEL...).
    pub fn text(&mut self, name: &str, value: &str) -> &mut Self {
        self.text_with(name, &[], value)
    }

    /// A TEXT property with parameters.
    pub fn text_with(&mut self, name: &str, params: &[(&str, &str)], value: &str) -> &mut Self {
        self.line(name, params, &escape_text(value))
    }

    /// A structured value (N, ADR, ORG): components joined by `;`, each
    /// escaped as TEXT.
    pub fn structured(
        &mut self,
        name: &str,
        params: &[(&str, &str)],
        components: &[&str],
    ) -> &mut Self {
        let value: Vec<String> = components.iter().map(|c| escape_text(c)).collect();
        self.line(name, params, &value.join(";"))
    }

    /// A value written as is (a URI, KIND, a number): no TEXT escaping,
    /// only control characters dropped so it stays on its line.
    pub fn raw(&mut self, name: &str, value: &str) -> &mut Self {
        if !value.chars().any(char::is_control) {
            return self.line(name, &[], value);
        }
        let value: String = value.chars().filter(|c| !c.is_control()).collect();
        self.line(name, &[], &value)
    }

    /// `END:VCARD`; the card with CRLF line endings.
    pub fn finish(mut self) -> String {
        self.out.push_str("END:VCARD\r\n");
        self.out
    }

    fn line(&mut self, name: &str, params: &[(&str, &str)], value: &str) -> &mut Self {
        if params.is_empty() && name.len() + 1 + value.len() <= 75 {
            // Most lines (a group's MEMBER lines) fit on one: no folding.
            self.out.push_str(name);
            self.out.push(':');
            self.out.push_str(value);
            self.out.push_str("\r\n");
            return self;
        }
        self.out
            .push_str(&written_line(name, params.iter().copied(), value));
        self.out.push_str("\r\n");
        self
    }
}

/// Escapes a TEXT value (RFC 6350 section 3.4): `\`, `,`, `;` and line
/// breaks; other control characters, which no TEXT value may hold, are
/// dropped.
pub fn escape_text(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 4);
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            ',' => out.push_str("\\,"),
            ';' => out.push_str("\\;"),
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push_str("\\n");
            }
            '\n' => out.push_str("\\n"),
            '\t' => out.push('\t'),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vcard::{properties, split_cards, validate_card};

    #[test]
    fn escapes_text_and_drops_control_characters() {
        assert_eq!(escape_text(r"a\b,c;d"), r"a\\b\,c\;d");
        assert_eq!(
            escape_text("one\r\ntwo\nthree\rfour"),
            r"one\ntwo\nthree\nfour"
        );
        assert_eq!(escape_text("bell\u{7}\u{0}tab\t"), "belltab\t");
    }

    #[test]
    fn quotes_and_caret_encodes_parameter_values() {
        assert_eq!(param_value("work"), "work");
        assert_eq!(param_value("a,b"), "\"a,b\"");
        assert_eq!(param_value("say \"hi\"^\nbye"), "say ^'hi^'^^^nbye");
    }

    #[test]
    fn folds_long_lines_at_75_octets_on_character_boundaries() {
        let long = "é".repeat(100);
        let mut w = CardWriter::new();
        w.text("FN", &long).text("NOTE", "short");
        let card = w.finish();
        for physical in card.split("\r\n") {
            assert!(physical.len() <= 75, "{physical:?} is {}", physical.len());
        }
        let fn_prop = properties(&card)
            .unwrap()
            .into_iter()
            .find(|p| p.name == "FN")
            .unwrap();
        assert_eq!(fn_prop.value, long);
    }

    #[test]
    fn what_it_writes_validates_and_reads_back() {
        let mut w = CardWriter::new();
        w.raw("UID", "urn:uuid:01234567-89ab-8def-8123-456789abcdef")
            .raw("KIND", "individual")
            .text("FN", "Müller, Anna; \\ \"the\" boss\nline two")
            .structured("N", &[], &["Müller", "Anna", "", "", ""])
            .text_with("EMAIL", &[("TYPE", "work")], "anna@example.com")
            .structured(
                "ADR",
                &[("TYPE", "work")],
                &["", "", "Floor 3; wing B", "", "", "", ""],
            );
        let card = w.finish();
        let parsed = validate_card(&card).unwrap();
        assert_eq!(
            parsed.formatted_name,
            "Müller, Anna; \\ \"the\" boss\nline two"
        );
        assert_eq!(
            parsed.uid.as_deref(),
            Some("urn:uuid:01234567-89ab-8def-8123-456789abcdef")
        );
        // The second opinion (vcard_parser) accepts it too.
        assert_eq!(split_cards(&card).unwrap().len(), 1);
    }
}
