//! The tree reader: quick-xml events turned into namespace-resolved
//! [`Element`]s, with the refusals that make request bodies safe to accept.
//!
//! quick-xml does the tokenising and checks that end tags match; namespace
//! scoping, reference decoding and attribute-value normalisation are done
//! here, so that what is accepted is exactly what the module doc promises
//! (no custom entity is ever looked up, `xml:` is always bound, an
//! undeclared prefix is an error rather than an unbound name).

use std::collections::HashMap;

use quick_xml::errors::{Error as QuickError, IllFormedError, SyntaxError};
use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::Reader;

use super::{Element, Node, QName, XmlError, MAX_DEPTH, MAX_ELEMENTS, XML_NS};
use crate::strip_bom;

/// The namespace of `xmlns` declarations themselves; nothing may bind it.
const XMLNS_NS: &str = "http://www.w3.org/2000/xmlns/";

/// Parses a whole document and returns its root element. Refuses a DOCTYPE
/// (with [`XmlError::Doctype`]), undeclared prefixes, unknown entities,
/// mismatched tags, trailing content, nesting over [`MAX_DEPTH`] and more
/// than [`MAX_ELEMENTS`] elements and attributes.
/// Whitespace-only text nodes between elements are dropped.
///
/// Text is kept as written otherwise (not trimmed), with line ends
/// normalised to `\n` as XML requires (`&#13;` still gives a `\r`).
/// Whitespace-only text is kept when it is all an element contains, so a
/// property value of a few spaces survives. Attribute values get XML
/// attribute-value normalisation (a literal tab or newline reads as a
/// space). The encoding declaration is ignored: the body must be UTF-8.
pub fn parse(body: &[u8]) -> Result<Element, XmlError> {
    let text = std::str::from_utf8(body).map_err(|e| malformed(format!("invalid UTF-8: {e}")))?;
    let mut reader = Reader::from_str(strip_bom(text));
    let config = reader.config_mut();
    config.expand_empty_elements = true;
    config.check_end_names = true;
    config.check_comments = true;
    config.trim_text(false);

    let mut builder = TreeBuilder::default();
    loop {
        let event = reader.read_event().map_err(refusal)?;
        if !builder.feed(event)? {
            return builder.finish();
        }
    }
}

/// Builds the tree from events while tracking namespace scopes.
#[derive(Default)]
struct TreeBuilder {
    /// Elements opened and not yet closed, outermost first.
    open: Vec<Element>,
    scopes: Scopes,
    root: Option<Element>,
    /// Elements and attributes read so far.
    names: usize,
}

impl TreeBuilder {
    /// Takes one event; `false` once the end of input is reached.
    fn feed(&mut self, event: Event<'_>) -> Result<bool, XmlError> {
        match event {
            Event::Start(start) => self.open_element(&start)?,
            Event::End(_) => self.close_element(),
            // `expand_empty_elements` turns `<a/>` into Start + End.
            Event::Empty(start) => {
                self.open_element(&start)?;
                self.close_element();
            }
            Event::Text(text) => {
                let text = text
                    .xml10_content()
                    .map_err(|e| malformed(format!("undecodable text: {e}")))?;
                check_chars(&text)?;
                self.text(&text)?;
            }
            Event::CData(cdata) => {
                let text = cdata
                    .xml10_content()
                    .map_err(|e| malformed(format!("undecodable CDATA: {e}")))?;
                check_chars(&text)?;
                self.text_required_inside(&text)?;
            }
            Event::GeneralRef(reference) => {
                let c = general_reference(&reference)?;
                self.text_required_inside(c.encode_utf8(&mut [0; 4]))?;
            }
            Event::DocType(_) => return Err(XmlError::Doctype),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => return Ok(false),
        }
        Ok(true)
    }

    fn open_element(&mut self, start: &BytesStart<'_>) -> Result<(), XmlError> {
        if self.root.is_some() {
            return Err(malformed("more than one root element"));
        }
        if self.open.len() >= MAX_DEPTH {
            return Err(XmlError::TooDeep);
        }
        let raw_name = utf8(start.name().into_inner())?;
        let (attributes, declarations) = split_attributes(start)?;
        self.names += 1 + attributes.len() + declarations.len();
        if self.names > MAX_ELEMENTS {
            return Err(XmlError::TooManyElements);
        }
        self.scopes.push(declarations);
        let element = self.resolve(raw_name, attributes)?;
        self.open.push(element);
        Ok(())
    }

    /// Resolves the element's and its attributes' prefixes in the current
    /// scope (which already includes the element's own declarations).
    fn resolve(
        &self,
        raw_name: &str,
        attributes: Vec<(&str, String)>,
    ) -> Result<Element, XmlError> {
        let (prefix, local) = split_name(raw_name)?;
        let name = QName {
            ns: self.scopes.resolve(prefix, true)?.to_string(),
            local: local.to_string(),
        };
        let mut attrs: Vec<(QName, String)> = Vec::with_capacity(attributes.len());
        for (raw, value) in attributes {
            let (prefix, local) = split_name(raw)?;
            let name = QName {
                ns: self.scopes.resolve(prefix, false)?.to_string(),
                local: local.to_string(),
            };
            attrs.push((name, value));
        }
        // Compared once resolved: `a:x` and `b:x` bound to one namespace
        // are the same attribute.
        if let Some(name) = first_duplicate(attrs.iter().map(|(name, _)| name)) {
            return Err(malformed(format!("attribute {name} given twice")));
        }
        Ok(Element {
            name,
            attrs,
            children: Vec::new(),
        })
    }

    fn close_element(&mut self) {
        self.scopes.pop();
        // quick-xml refuses an end tag without its start tag, so there is
        // always an open element here.
        let Some(mut element) = self.open.pop() else {
            return;
        };
        drop_whitespace_between_elements(&mut element);
        match self.open.last_mut() {
            Some(parent) => parent.children.push(Node::Element(element)),
            None => self.root = Some(element),
        }
    }

    /// Character data: whitespace is allowed outside the root element,
    /// anything else must be inside it.
    fn text(&mut self, text: &str) -> Result<(), XmlError> {
        if self.open.is_empty() && is_xml_whitespace(text) {
            return Ok(());
        }
        self.text_required_inside(text)
    }

    fn text_required_inside(&mut self, text: &str) -> Result<(), XmlError> {
        let Some(parent) = self.open.last_mut() else {
            return Err(malformed("text outside the root element"));
        };
        // Text arrives in pieces (split around references, CDATA and
        // comments); keep one node per run.
        match parent.children.last_mut() {
            Some(Node::Text(run)) => run.push_str(text),
            _ => parent.children.push(Node::Text(text.to_string())),
        }
        Ok(())
    }

    fn finish(self) -> Result<Element, XmlError> {
        if let Some(unclosed) = self.open.last() {
            return Err(malformed(format!(
                "element {} is not closed",
                unclosed.name
            )));
        }
        self.root.ok_or_else(|| malformed("no root element"))
    }
}

/// Indentation between child elements is not content: drop whitespace-only
/// text from elements that have child elements. An element holding only
/// whitespace keeps it (it is that element's value).
fn drop_whitespace_between_elements(element: &mut Element) {
    let has_elements = element
        .children
        .iter()
        .any(|node| matches!(node, Node::Element(_)));
    if has_elements {
        element
            .children
            .retain(|node| !matches!(node, Node::Text(text) if is_xml_whitespace(text)));
    }
}

/// An item that occurs twice, found by sorting (n log n, and no
/// allocation for the usual zero or one item).
fn first_duplicate<T: Ord + Copy>(items: impl Iterator<Item = T>) -> Option<T> {
    let mut sorted: Vec<T> = items.collect();
    sorted.sort_unstable();
    sorted
        .windows(2)
        .find(|pair| pair[0] == pair[1])
        .map(|pair| pair[0])
}

/// Namespace declarations in effect. An empty prefix is the default
/// namespace; an empty namespace undeclares it (`xmlns=""`). Looked up by
/// prefix rather than scanned, so that many declarations in scope do not
/// make every name slow to resolve.
#[derive(Default)]
struct Scopes {
    /// Each prefix's namespaces, innermost last.
    bound: HashMap<String, Vec<String>>,
    /// The prefixes each open element declared, to undo on its end tag.
    declared: Vec<Vec<String>>,
}

impl Scopes {
    fn push(&mut self, declarations: Vec<(String, String)>) {
        let mut prefixes = Vec::with_capacity(declarations.len());
        for (prefix, ns) in declarations {
            self.bound.entry(prefix.clone()).or_default().push(ns);
            prefixes.push(prefix);
        }
        self.declared.push(prefixes);
    }

    fn pop(&mut self) {
        for prefix in self.declared.pop().unwrap_or_default() {
            if let Some(namespaces) = self.bound.get_mut(&prefix) {
                namespaces.pop();
            }
        }
    }

    /// The namespace of `prefix`. An unprefixed element name takes the
    /// default namespace; an unprefixed attribute has none.
    fn resolve(&self, prefix: Option<&str>, is_element: bool) -> Result<&str, XmlError> {
        match prefix {
            None if !is_element => Ok(""),
            None => Ok(self.lookup("").unwrap_or("")),
            Some("xml") => Ok(XML_NS),
            Some("xmlns") => Err(malformed("the xmlns prefix is reserved")),
            Some(prefix) => self
                .lookup(prefix)
                .ok_or_else(|| malformed(format!("undeclared namespace prefix {prefix:?}"))),
        }
    }

    fn lookup(&self, prefix: &str) -> Option<&str> {
        self.bound.get(prefix)?.last().map(String::as_str)
    }
}

/// Ordinary attributes (raw name, decoded value) and namespace
/// declarations (prefix, namespace) of a start tag.
type SplitAttributes<'a> = (Vec<(&'a str, String)>, Vec<(String, String)>);

fn split_attributes<'a>(start: &'a BytesStart<'_>) -> Result<SplitAttributes<'a>, XmlError> {
    let mut attributes = Vec::new();
    let mut declarations = Vec::new();
    // quick-xml's own duplicate check compares each name with all before
    // it; ours (on prefixes here, on resolved names later) sorts instead,
    // so a tag with thousands of attributes cannot cost n².
    for attribute in start.attributes().with_checks(false) {
        let attribute = attribute.map_err(|e| malformed(format!("bad attribute: {e}")))?;
        let key = utf8(attribute.key.into_inner())?;
        let value = attribute_value(utf8(attribute.value.as_ref())?)?;
        if key == "xmlns" {
            declarations.push((String::new(), declared_namespace("", value)?));
        } else if let Some(prefix) = key.strip_prefix("xmlns:") {
            check_ncname(prefix)?;
            let ns = declared_namespace(prefix, value)?;
            // `xml` may be redeclared to its own namespace; it is built in.
            if prefix != "xml" {
                declarations.push((prefix.to_string(), ns));
            }
        } else {
            attributes.push((key, value));
        }
    }
    if let Some(prefix) = first_duplicate(declarations.iter().map(|(prefix, _)| prefix)) {
        return Err(malformed(format!("prefix {prefix:?} declared twice")));
    }
    Ok((attributes, declarations))
}

/// Checks a namespace declaration against the reserved names rules of
/// Namespaces in XML 1.0 (§3): `xml` and `xmlns` are fixed, and a prefix
/// cannot be undeclared.
fn declared_namespace(prefix: &str, ns: String) -> Result<String, XmlError> {
    let refused = match prefix {
        "xml" => ns != XML_NS,
        "xmlns" => true,
        "" => ns == XML_NS || ns == XMLNS_NS,
        _ => ns.is_empty() || ns == XML_NS || ns == XMLNS_NS,
    };
    if refused {
        return Err(malformed(format!(
            "namespace declaration xmlns:{prefix}={ns:?} is not allowed"
        )));
    }
    Ok(ns)
}

/// Splits `prefix:local`, refusing names that are not namespace-well-formed.
fn split_name(raw: &str) -> Result<(Option<&str>, &str), XmlError> {
    match raw.split_once(':') {
        Some((prefix, local)) => {
            check_ncname(prefix)?;
            check_ncname(local)?;
            Ok((Some(prefix), local))
        }
        None => {
            check_ncname(raw)?;
            Ok((None, raw))
        }
    }
}

/// An approximation of the XML `NCName` production: no colon, no ASCII
/// punctuation other than `_ - .`, not starting with a digit, `-` or `.`.
/// Non-ASCII characters are accepted. Enough to keep names writable as
/// they were read.
fn check_ncname(name: &str) -> Result<(), XmlError> {
    let mut chars = name.chars();
    let valid_start = chars
        .next()
        .is_some_and(|c| c == '_' || c.is_ascii_alphabetic() || !c.is_ascii());
    let valid_rest =
        chars.all(|c| matches!(c, '_' | '-' | '.') || c.is_ascii_alphanumeric() || !c.is_ascii());
    if valid_start && valid_rest {
        Ok(())
    } else {
        Err(malformed(format!("invalid name {name:?}")))
    }
}

/// Decodes an attribute value: literal whitespace (after line-end
/// normalisation) reads as a space, references are resolved.
fn attribute_value(raw: &str) -> Result<String, XmlError> {
    let mut value = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(at) = rest.find(['&', '<', '\t', '\n', '\r']) {
        value.push_str(&rest[..at]);
        let tail = &rest[at..];
        if tail.starts_with('<') {
            return Err(malformed("'<' in an attribute value"));
        } else if let Some(after) = tail.strip_prefix('&') {
            let (name, after) = after
                .split_once(';')
                .ok_or_else(|| malformed("unterminated reference in an attribute value"))?;
            value.push(reference(name)?);
            rest = after;
            continue;
        }
        value.push(' ');
        // "\r\n" is one line end, so one space.
        rest = tail
            .strip_prefix("\r\n")
            .unwrap_or_else(|| tail.get(1..).unwrap_or(""));
    }
    value.push_str(rest);
    check_chars(&value)?;
    Ok(value)
}

fn general_reference(event: &BytesRef<'_>) -> Result<char, XmlError> {
    reference(utf8(event)?)
}

/// The character a reference stands for: one of the five predefined
/// entities or a character reference. Everything else is refused: with no
/// DTD accepted, no other entity can have been declared.
fn reference(name: &str) -> Result<char, XmlError> {
    let c = match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        _ => {
            let code = if let Some(hex) = name.strip_prefix("#x") {
                u32::from_str_radix(hex, 16).ok()
            } else if let Some(decimal) = name.strip_prefix('#') {
                decimal.parse::<u32>().ok()
            } else {
                return Err(malformed(format!("unknown entity &{name};")));
            };
            // `from_str_radix` accepts a sign; a reference does not.
            let digits_only = !name.contains(['+', '-']);
            code.filter(|_| digits_only)
                .and_then(char::from_u32)
                .filter(|&c| is_xml_char(c))
                .ok_or_else(|| malformed(format!("invalid character reference &{name};")))?
        }
    };
    Ok(c)
}

/// The `Char` production of XML 1.0: what a document may contain.
pub(super) fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

fn check_chars(text: &str) -> Result<(), XmlError> {
    match text.chars().find(|&c| !is_xml_char(c)) {
        Some(c) => Err(malformed(format!(
            "character U+{:04X} is not allowed in XML",
            u32::from(c)
        ))),
        None => Ok(()),
    }
}

pub(super) fn is_xml_whitespace(text: &str) -> bool {
    text.bytes()
        .all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
}

fn utf8(bytes: &[u8]) -> Result<&str, XmlError> {
    std::str::from_utf8(bytes).map_err(|e| malformed(format!("invalid UTF-8: {e}")))
}

fn malformed(reason: impl Into<String>) -> XmlError {
    XmlError::Malformed(reason.into())
}

/// A quick-xml error as ours. A broken DOCTYPE is still a DOCTYPE.
fn refusal(error: QuickError) -> XmlError {
    match error {
        QuickError::Syntax(SyntaxError::UnclosedDoctype)
        | QuickError::IllFormed(IllFormedError::MissingDoctypeName) => XmlError::Doctype,
        other => malformed(other.to_string()),
    }
}
