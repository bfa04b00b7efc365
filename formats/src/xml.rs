//! WebDAV XML (RFC 4918, RFC 4791, RFC 6352, RFC 6578): a small
//! namespace-resolved tree, typed request bodies, and the multistatus
//! writer.
//!
//! Parsing is defensive: a document type declaration (and so any entity
//! declaration) is refused, never expanded; only the five predefined
//! entities and character references are decoded; nesting is bounded.
//!
//! SKELETON: signatures are fixed, bodies are being written.

use std::fmt;

pub const DAV: &str = "DAV:";
pub const CALDAV: &str = "urn:ietf:params:xml:ns:caldav";
pub const CARDDAV: &str = "urn:ietf:params:xml:ns:carddav";
pub const CALENDARSERVER: &str = "http://calendarserver.org/ns/";
pub const APPLE_ICAL: &str = "http://apple.com/ns/ical/";

/// Deepest element nesting accepted in a request body.
pub const MAX_DEPTH: usize = 64;

/// A namespace-qualified name; `ns` is empty for "no namespace".
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct QName {
    pub ns: String,
    pub local: String,
}

impl QName {
    pub fn new(ns: &str, local: &str) -> QName {
        QName {
            ns: ns.to_string(),
            local: local.to_string(),
        }
    }

    pub fn dav(local: &str) -> QName {
        QName::new(DAV, local)
    }

    pub fn is(&self, ns: &str, local: &str) -> bool {
        self.ns == ns && self.local == local
    }

    /// Clark notation, `{DAV:}displayname`: the key of a dead property.
    pub fn clark(&self) -> String {
        format!("{{{}}}{}", self.ns, self.local)
    }

    /// The inverse of [`QName::clark`]; a bare name has no namespace.
    pub fn from_clark(s: &str) -> Option<QName> {
        match s.strip_prefix('{') {
            Some(rest) => {
                let (ns, local) = rest.split_once('}')?;
                (!local.is_empty()).then(|| QName::new(ns, local))
            }
            None => (!s.is_empty()).then(|| QName::new("", s)),
        }
    }
}

impl fmt::Display for QName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.clark())
    }
}

/// An element with resolved names. Attributes keep document order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Element {
    pub name: QName,
    pub attrs: Vec<(QName, String)>,
    pub children: Vec<Node>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    Element(Element),
    /// Character data (entities decoded, CDATA included as text).
    Text(String),
}

/// Why a request body was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    #[error("malformed XML: {0}")]
    Malformed(String),
    #[error("XML document type declarations are not accepted")]
    Doctype,
    #[error("XML nested deeper than {MAX_DEPTH} elements")]
    TooDeep,
    /// Well-formed, but not the request the method expects.
    #[error("unexpected request body: {0}")]
    Unexpected(String),
}

impl Element {
    pub fn is(&self, ns: &str, local: &str) -> bool {
        todo!()
    }

    /// Child elements, in order.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        std::iter::empty::<&Element>()
    }

    /// The first child element with this name.
    pub fn child(&self, ns: &str, local: &str) -> Option<&Element> {
        todo!()
    }

    /// The concatenated text of this element and its descendants.
    pub fn text(&self) -> String {
        todo!()
    }

    /// This element as a self-contained XML fragment: every namespace it
    /// and its descendants use is declared inside it (`xml:lang` and other
    /// attributes kept), so it can be stored and later embedded anywhere.
    pub fn to_xml(&self) -> String {
        todo!()
    }
}

/// Parses a whole document and returns its root element. Refuses a DOCTYPE
/// (with [`XmlError::Doctype`]), undeclared prefixes, unknown entities,
/// mismatched tags, trailing content and nesting over [`MAX_DEPTH`].
/// Whitespace-only text nodes between elements are dropped.
pub fn parse(body: &[u8]) -> Result<Element, XmlError> {
    todo!()
}

/// What a PROPFIND asks for (RFC 4918 §9.1). An empty body is `allprop`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PropRequest {
    AllProp { include: Vec<QName> },
    PropName,
    Prop(Vec<QName>),
}

pub fn parse_propfind(body: &[u8]) -> Result<PropRequest, XmlError> {
    todo!()
}

/// One instruction of a PROPPATCH, in document order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PropertyUpdate {
    /// The property element with its value (children, attributes).
    Set(Element),
    Remove(QName),
}

pub fn parse_proppatch(body: &[u8]) -> Result<Vec<PropertyUpdate>, XmlError> {
    todo!()
}

/// An extended MKCOL (RFC 5689) or MKCALENDAR (RFC 4791 §5.3.1) body:
/// the requested resource type (MKCOL only) and properties to set.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MkcolRequest {
    pub resourcetype: Vec<QName>,
    pub set: Vec<Element>,
}

/// `<D:mkcol><D:set><D:prop>…`; `resourcetype` is taken out of the props.
pub fn parse_mkcol(body: &[u8]) -> Result<MkcolRequest, XmlError> {
    todo!()
}

/// `<C:mkcalendar><D:set><D:prop>…`.
pub fn parse_mkcalendar(body: &[u8]) -> Result<MkcolRequest, XmlError> {
    todo!()
}

/// A REPORT body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Report {
    /// RFC 6578. `token` is empty on a first sync. `limit` is
    /// `<D:limit><D:nresults>`.
    SyncCollection {
        token: String,
        level_infinite: bool,
        limit: Option<u32>,
        props: PropRequest,
    },
    /// RFC 4791 §7.9; hrefs as sent (still percent-encoded).
    CalendarMultiget {
        props: PropRequest,
        hrefs: Vec<String>,
    },
    /// RFC 6352 §8.7.
    AddressbookMultiget {
        props: PropRequest,
        hrefs: Vec<String>,
    },
    /// Any other report: its root element, for the caller to decide.
    Other(Element),
}

pub fn parse_report(body: &[u8]) -> Result<Report, XmlError> {
    todo!()
}

/// A property value in a response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// `<name/>`.
    Empty,
    /// Escaped text content.
    Text(String),
    /// One `<D:href>` per entry (already percent-encoded paths/URIs).
    Hrefs(Vec<String>),
    /// Child elements.
    Elements(Vec<Element>),
    /// A stored dead property: the whole self-contained element as given
    /// by [`Element::to_xml`]; written verbatim in place of `<name/>`.
    Raw(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Property {
    pub name: QName,
    pub value: Value,
}

/// Properties sharing one status in a response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PropStat {
    pub status: u16,
    pub props: Vec<Property>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResponseBody {
    /// `<D:status>` alone (e.g. 404 for a member deleted since a sync
    /// token, or a multiget href that does not exist).
    Status(u16),
    PropStats(Vec<PropStat>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// Already percent-encoded.
    pub href: String,
    pub body: ResponseBody,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MultiStatus {
    pub responses: Vec<Response>,
    /// RFC 6578 `<D:sync-token>` after the responses.
    pub sync_token: Option<String>,
}

/// Writes `<?xml …?><D:multistatus …>`. DAV:, CalDAV, CardDAV,
/// calendarserver and Apple iCal namespaces get fixed prefixes (d, c,
/// card, cs, ical) declared on the root; any other namespace is declared
/// where it is used. Status lines read `HTTP/1.1 200 OK`.
pub fn write_multistatus(ms: &MultiStatus) -> String {
    todo!()
}

/// `<D:error>` with one precondition element (RFC 4918 §16), optionally
/// holding hrefs (e.g. `no-uid-conflict` names the holder).
pub fn write_error(precondition: &QName, hrefs: &[String]) -> String {
    todo!()
}

/// XML-escapes text for element content and attribute values.
pub fn escape(text: &str) -> String {
    todo!()
}
