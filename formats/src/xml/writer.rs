//! Writing: self-contained fragments ([`Element::to_xml`]), the
//! multistatus and error bodies, and escaping.
//!
//! Everything is appended to one `String`; there is no intermediate tree.
//! No default namespace is ever declared: a namespaced name always gets a
//! prefix, so an unprefixed name means "no namespace" wherever the text is
//! embedded. Namespaces without a fixed prefix are declared on the
//! outermost element of the fragment that uses them, as `x0`, `x1`, ….

use std::collections::HashMap;
use std::fmt::Write as _;

use super::{
    Element, MultiStatus, Node, PropStat, Property, QName, ResponseBody, Value, APPLE_ICAL, CALDAV,
    CALENDARSERVER, CARDDAV, DAV, XML_NS,
};

const XML_DECLARATION: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n";

/// Namespaces with a prefix declared once on the root of every response
/// body.
const FIXED_PREFIXES: &[(&str, &str)] = &[
    (DAV, "d"),
    (CALDAV, "c"),
    (CARDDAV, "card"),
    (CALENDARSERVER, "cs"),
    (APPLE_ICAL, "ical"),
];

/// The declarations of [`FIXED_PREFIXES`], as written on a root element.
const FIXED_DECLARATIONS: &str = " xmlns:d=\"DAV:\" xmlns:c=\"urn:ietf:params:xml:ns:caldav\" \
     xmlns:card=\"urn:ietf:params:xml:ns:carddav\" xmlns:cs=\"http://calendarserver.org/ns/\" \
     xmlns:ical=\"http://apple.com/ns/ical/\"";

/// Which prefix a namespace is written with.
struct Prefixes<'a> {
    /// Declared on the document root (empty for a standalone fragment).
    fixed: &'static [(&'static str, &'static str)],
    /// Declared on the current fragment's outermost element, in order; the
    /// prefix of entry `i` is `x{i}`.
    local: Vec<&'a str>,
    /// The index of each namespace in `local`: a stored property may use
    /// many namespaces, and each name is looked up.
    local_index: HashMap<&'a str, usize>,
}

/// How a name is written.
enum Prefix<'p> {
    None,
    Named(&'p str),
    Local(usize),
}

impl<'a> Prefixes<'a> {
    fn new(fixed: &'static [(&'static str, &'static str)]) -> Self {
        Prefixes {
            fixed,
            local: Vec::new(),
            local_index: HashMap::new(),
        }
    }

    fn prefix(&self, ns: &str) -> Prefix<'static> {
        if ns.is_empty() {
            return Prefix::None;
        }
        if ns == XML_NS {
            return Prefix::Named("xml");
        }
        if let Some((_, prefix)) = self.fixed.iter().find(|(fixed, _)| *fixed == ns) {
            return Prefix::Named(prefix);
        }
        match self.local_index.get(ns) {
            Some(&index) => Prefix::Local(index),
            // `declare` ran over everything written, so this is not reached;
            // writing no prefix would still be well-formed.
            None => Prefix::None,
        }
    }

    /// Makes sure `ns` has a prefix, declaring a local one if needed.
    fn declare(&mut self, ns: &'a str) {
        if matches!(self.prefix(ns), Prefix::None) && !ns.is_empty() {
            self.local_index.insert(ns, self.local.len());
            self.local.push(ns);
        }
    }

    /// Forgets the local declarations: the next fragment starts afresh.
    fn clear_local(&mut self) {
        self.local.clear();
        self.local_index.clear();
    }

    /// Declares every namespace `element` and its descendants use.
    fn declare_tree(&mut self, element: &'a Element) {
        self.declare(&element.name.ns);
        for (name, _) in &element.attrs {
            self.declare(&name.ns);
        }
        for child in element.elements() {
            self.declare_tree(child);
        }
    }

    fn write_name(&self, out: &mut String, name: &QName) {
        match self.prefix(&name.ns) {
            Prefix::None => {}
            Prefix::Named(prefix) => {
                out.push_str(prefix);
                out.push(':');
            }
            Prefix::Local(index) => {
                let _ = write!(out, "x{index}:");
            }
        }
        out.push_str(&name.local);
    }

    /// `xmlns:xN="…"` for every local prefix, written on the fragment's
    /// outermost element.
    fn write_declarations(&self, out: &mut String) {
        for (index, ns) in self.local.iter().enumerate() {
            let _ = write!(out, " xmlns:x{index}=\"");
            escape_attr_into(out, ns);
            out.push('"');
        }
    }
}

/// [`Element::to_xml`]: the element with all its namespaces declared on it.
pub(super) fn fragment(element: &Element) -> String {
    let mut out = String::with_capacity(128);
    let mut prefixes = Prefixes::new(&[]);
    prefixes.declare_tree(element);
    write_element(&mut out, element, &prefixes, true);
    out
}

fn write_element(out: &mut String, element: &Element, prefixes: &Prefixes<'_>, outermost: bool) {
    out.push('<');
    prefixes.write_name(out, &element.name);
    if outermost {
        prefixes.write_declarations(out);
    }
    for (name, value) in &element.attrs {
        out.push(' ');
        prefixes.write_name(out, name);
        out.push_str("=\"");
        escape_attr_into(out, value);
        out.push('"');
    }
    if element.children.is_empty() {
        out.push_str("/>");
        return;
    }
    out.push('>');
    for node in &element.children {
        match node {
            Node::Text(text) => escape_into(out, text),
            Node::Element(child) => write_element(out, child, prefixes, false),
        }
    }
    out.push_str("</");
    prefixes.write_name(out, &element.name);
    out.push('>');
}

/// Writes `<?xml …?><D:multistatus …>`. DAV:, CalDAV, CardDAV,
/// calendarserver and Apple iCal namespaces get fixed prefixes (d, c,
/// card, cs, ical) declared on the root; any other namespace is declared
/// where it is used. Status lines read `HTTP/1.1 200 OK`.
///
/// The responses are written as given: a `PropStats` body with no
/// propstat gives a response with only its href, which RFC 4918 does not
/// allow, so callers should not build one.
pub fn write_multistatus(ms: &MultiStatus) -> String {
    let mut out = String::with_capacity(estimated_size(ms));
    out.push_str(XML_DECLARATION);
    out.push_str("<d:multistatus");
    out.push_str(FIXED_DECLARATIONS);
    out.push('>');
    let mut prefixes = Prefixes::new(FIXED_PREFIXES);
    for response in &ms.responses {
        out.push_str("<d:response><d:href>");
        escape_into(&mut out, &response.href);
        out.push_str("</d:href>");
        match &response.body {
            ResponseBody::Status(code) => write_status(&mut out, *code),
            ResponseBody::Error { status, condition } => {
                write_status(&mut out, *status);
                out.push_str("<d:error>");
                write_empty(&mut out, condition);
                out.push_str("</d:error>");
            }
            ResponseBody::PropStats(propstats) => {
                for propstat in propstats {
                    write_propstat(&mut out, propstat, &mut prefixes);
                }
            }
        }
        out.push_str("</d:response>");
    }
    if let Some(token) = &ms.sync_token {
        out.push_str("<d:sync-token>");
        escape_into(&mut out, token);
        out.push_str("</d:sync-token>");
    }
    out.push_str("</d:multistatus>");
    out
}

/// Enough room for the markup of a typical response plus every text and
/// raw value, so that big PROPFINDs and multigets do not reallocate often.
fn estimated_size(ms: &MultiStatus) -> usize {
    let values: usize = ms
        .responses
        .iter()
        .filter_map(|response| match &response.body {
            ResponseBody::PropStats(propstats) => Some(propstats),
            ResponseBody::Status(_) | ResponseBody::Error { .. } => None,
        })
        .flatten()
        .flat_map(|propstat| &propstat.props)
        .map(|property| match &property.value {
            Value::Text(text) | Value::Raw(text) => text.len() + 64,
            _ => 96,
        })
        .sum();
    512 + ms.responses.len() * 192 + values
}

fn write_propstat<'a>(out: &mut String, propstat: &'a PropStat, prefixes: &mut Prefixes<'a>) {
    out.push_str("<d:propstat><d:prop>");
    for property in &propstat.props {
        write_property(out, property, prefixes);
    }
    out.push_str("</d:prop>");
    write_status(out, propstat.status);
    out.push_str("</d:propstat>");
}

fn write_property<'a>(out: &mut String, property: &'a Property, prefixes: &mut Prefixes<'a>) {
    if let Value::Raw(xml) = &property.value {
        out.push_str(xml);
        return;
    }
    prefixes.clear_local();
    prefixes.declare(&property.name.ns);
    if let Value::Elements(children) = &property.value {
        for child in children {
            prefixes.declare_tree(child);
        }
    }
    out.push('<');
    prefixes.write_name(out, &property.name);
    prefixes.write_declarations(out);
    match &property.value {
        // `Raw` was written whole above.
        Value::Empty | Value::Raw(_) => {
            out.push_str("/>");
            prefixes.clear_local();
            return;
        }
        Value::Text(text) => {
            out.push('>');
            escape_into(out, text);
        }
        Value::Hrefs(hrefs) => {
            out.push('>');
            for href in hrefs {
                out.push_str("<d:href>");
                escape_into(out, href);
                out.push_str("</d:href>");
            }
        }
        Value::Elements(children) => {
            out.push('>');
            for child in children {
                write_element(out, child, prefixes, false);
            }
        }
    }
    out.push_str("</");
    prefixes.write_name(out, &property.name);
    out.push('>');
    prefixes.clear_local();
}

/// `<p:name/>`, with a prefix of its own declared when the namespace has
/// no fixed one.
fn write_empty(out: &mut String, name: &QName) {
    match FIXED_PREFIXES.iter().find(|(ns, _)| *ns == name.ns) {
        Some((_, prefix)) => {
            let _ = write!(out, "<{prefix}:{}/>", name.local);
        }
        None if name.ns.is_empty() => {
            let _ = write!(out, "<{}/>", name.local);
        }
        None => {
            let _ = write!(out, "<x:{} xmlns:x=\"", name.local);
            escape_attr_into(out, &name.ns);
            out.push_str("\"/>");
        }
    }
}

fn write_status(out: &mut String, code: u16) {
    let _ = write!(
        out,
        "<d:status>HTTP/1.1 {code} {}</d:status>",
        reason_phrase(code)
    );
}

/// `<D:error>` with one precondition element (RFC 4918 §16), optionally
/// holding hrefs (e.g. `no-uid-conflict` names the holder).
pub fn write_error(precondition: &QName, hrefs: &[String]) -> String {
    let mut out = String::with_capacity(256);
    out.push_str(XML_DECLARATION);
    out.push_str("<d:error");
    out.push_str(FIXED_DECLARATIONS);
    out.push('>');
    let value = if hrefs.is_empty() {
        Value::Empty
    } else {
        Value::Hrefs(hrefs.to_vec())
    };
    let property = Property {
        name: precondition.clone(),
        value,
    };
    write_property(&mut out, &property, &mut Prefixes::new(FIXED_PREFIXES));
    out.push_str("</d:error>");
    out
}

/// The reason phrase of an HTTP status code (RFC 9110 and the WebDAV
/// additions); empty for a code without a registered phrase, which still
/// makes a valid status line.
pub fn reason_phrase(code: u16) -> &'static str {
    match code {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        207 => "Multi-Status",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        422 => "Unprocessable Content",
        423 => "Locked",
        424 => "Failed Dependency",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        507 => "Insufficient Storage",
        _ => "",
    }
}

/// XML-escapes text for element content and attribute values: `& < > " '`
/// become references, `\r` becomes `&#13;` (so a CRLF in calendar data
/// survives the reader's line-end normalisation), and characters XML 1.0
/// cannot carry at all (controls other than tab, LF, CR; U+FFFE, U+FFFF)
/// are dropped. In an attribute value a reader turns a literal tab or
/// newline into a space; use [`escape_attr`] to keep them.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    escape_into(&mut out, text);
    out
}

/// [`escape`] for attribute values: tab and newline also become
/// references, so they read back as themselves rather than as spaces.
pub fn escape_attr(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    escape_attr_into(&mut out, text);
    out
}

fn escape_into(out: &mut String, text: &str) {
    escape_with(out, text, false);
}

fn escape_attr_into(out: &mut String, text: &str) {
    escape_with(out, text, true);
}

/// Which bytes [`escape_with`] must look at, for text or for attributes:
/// a table lookup per byte lets long runs (hrefs, calendar data) be found
/// and copied at once.
const fn special_bytes(attribute: bool) -> [bool; 256] {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = attribute || !matches!(b as u8, b'\t' | b'\n');
        b += 1;
    }
    table[b'&' as usize] = true;
    table[b'<' as usize] = true;
    table[b'>' as usize] = true;
    table[b'"' as usize] = true;
    table[b'\'' as usize] = true;
    table[0xEF] = true;
    table
}

static SPECIAL_IN_TEXT: [bool; 256] = special_bytes(false);
static SPECIAL_IN_ATTRIBUTE: [bool; 256] = special_bytes(true);

/// Copies `text` in runs, replacing only the bytes that need it. Scanning
/// bytes is safe: every byte handled is ASCII or the lead byte of
/// U+FFFE/U+FFFF, and neither occurs inside another character's encoding.
fn escape_with(out: &mut String, text: &str, attribute: bool) {
    let special = if attribute {
        &SPECIAL_IN_ATTRIBUTE
    } else {
        &SPECIAL_IN_TEXT
    };
    let bytes = text.as_bytes();
    let mut copied = 0;
    let mut at = 0;
    while let Some(offset) = bytes[at..].iter().position(|b| special[usize::from(*b)]) {
        at += offset;
        let (replacement, width): (&str, usize) = match bytes[at] {
            b'&' => ("&amp;", 1),
            b'<' => ("&lt;", 1),
            b'>' => ("&gt;", 1),
            b'"' => ("&quot;", 1),
            b'\'' => ("&apos;", 1),
            b'\r' => ("&#13;", 1),
            b'\n' => ("&#10;", 1),
            b'\t' => ("&#9;", 1),
            0..=0x1F => ("", 1),
            0xEF if matches!(bytes.get(at + 1..at + 3), Some([0xBF, 0xBE | 0xBF])) => ("", 3),
            _ => {
                // A lead byte 0xEF of an ordinary character.
                at += 1;
                continue;
            }
        };
        out.push_str(&text[copied..at]);
        out.push_str(replacement);
        at += width;
        copied = at;
    }
    out.push_str(&text[copied..]);
}
