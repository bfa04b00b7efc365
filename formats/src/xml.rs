//! WebDAV XML (RFC 4918, RFC 4791, RFC 6352, RFC 6578): a small
//! namespace-resolved tree, typed request bodies, and the multistatus
//! writer.
//!
//! Parsing is defensive: a document type declaration (and so any entity
//! declaration) is refused, never expanded; only the five predefined
//! entities and character references are decoded; nesting is bounded.
//!
//! Writing never uses a default namespace: every namespaced name carries a
//! prefix, so an unprefixed name always means "no namespace", wherever a
//! fragment ends up being embedded.
//!
//! The work is split in three: the tree reader ([`parse`]), the typed
//! request bodies built on that tree ([`parse_propfind`] and friends), and
//! the writers ([`Element::to_xml`], [`write_multistatus`],
//! [`write_error`], [`escape`]).

mod limits;
mod requests;
mod tree;
mod writer;

pub use limits::{Exceeded, RequestLimits};

pub use requests::{
    parse_mkcalendar, parse_mkcol, parse_principal_property_search, parse_propfind,
    parse_proppatch, parse_report, parse_share,
};
pub use tree::parse;
pub use writer::{escape, escape_attr, reason_phrase, write_error, write_multistatus};

use std::fmt;

pub const DAV: &str = "DAV:";
pub const CALDAV: &str = "urn:ietf:params:xml:ns:caldav";
pub const CARDDAV: &str = "urn:ietf:params:xml:ns:carddav";
pub const CALENDARSERVER: &str = "http://calendarserver.org/ns/";
pub const APPLE_ICAL: &str = "http://apple.com/ns/ical/";

/// Deepest element nesting accepted in a request body.
pub const MAX_DEPTH: usize = 64;

/// Most elements and attributes, together, in one request body. Each is a
/// few allocations of the tree (about 150 bytes for `<a/>`), so the body's
/// size alone would let 1 MiB become 40 MB; real bodies hold a few
/// thousand at most (a multiget of 1,000 hrefs, about 1,000).
pub const MAX_ELEMENTS: usize = 50_000;

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
    #[error("XML body holds more than {MAX_ELEMENTS} elements and attributes")]
    TooManyElements,
    /// Well-formed, but not the request the method expects.
    #[error("unexpected request body: {0}")]
    Unexpected(String),
}

/// The namespace the `xml:` prefix is bound to (Namespaces in XML, §3).
pub const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

impl Element {
    /// An element without attributes or children.
    pub fn new(name: QName) -> Element {
        Element {
            name,
            attrs: Vec::new(),
            children: Vec::new(),
        }
    }

    pub fn is(&self, ns: &str, local: &str) -> bool {
        self.name.is(ns, local)
    }

    /// Child elements, in order.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|node| match node {
            Node::Element(element) => Some(element),
            Node::Text(_) => None,
        })
    }

    /// The first child element with this name.
    pub fn child(&self, ns: &str, local: &str) -> Option<&Element> {
        self.elements().find(|element| element.is(ns, local))
    }

    /// The concatenated text of this element and its descendants.
    pub fn text(&self) -> String {
        let mut text = String::new();
        self.collect_text(&mut text);
        text
    }

    fn collect_text(&self, into: &mut String) {
        for node in &self.children {
            match node {
                Node::Text(text) => into.push_str(text),
                Node::Element(element) => element.collect_text(into),
            }
        }
    }

    /// The value of the attribute with this name.
    pub fn attr(&self, ns: &str, local: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(name, _)| name.is(ns, local))
            .map(|(_, value)| value.as_str())
    }

    /// This element as a self-contained XML fragment: every namespace it
    /// and its descendants use is declared inside it (`xml:lang` and other
    /// attributes kept), so it can be stored and later embedded anywhere.
    ///
    /// `parse(e.to_xml().as_bytes())` gives back `e` for any tree `parse`
    /// returned (adjacent text nodes of a hand-built tree come back merged,
    /// and whitespace-only text next to child elements is dropped).
    pub fn to_xml(&self) -> String {
        writer::fragment(self)
    }
}

/// What a PROPFIND asks for (RFC 4918 §9.1). An empty body is `allprop`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PropRequest {
    AllProp { include: Vec<QName> },
    PropName,
    Prop(Vec<QName>),
}

/// One instruction of a PROPPATCH, in document order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PropertyUpdate {
    /// The property element with its value (children, attributes).
    Set(Element),
    Remove(QName),
}

/// An extended MKCOL (RFC 5689) or MKCALENDAR (RFC 4791 §5.3.1) body:
/// the requested resource type (MKCOL only) and properties to set.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MkcolRequest {
    pub resourcetype: Vec<QName>,
    pub set: Vec<Element>,
}

/// A calendarserver-sharing `CS:share` body (POST to a collection):
/// sharees to grant (by href: `mailto:` or a principal URL) with their
/// access, and sharees to remove.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShareRequest {
    pub set: Vec<ShareSet>,
    pub remove: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShareSet {
    pub href: String,
    pub read_write: bool,
}

/// How a `principal-property-search` match compares (RFC 3744 §9.4 says
/// substring; Apple and others send `match-type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchType {
    Contains,
    StartsWith,
    Equals,
}

/// One `property-search`: a text to find in any of some properties.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PropertySearch {
    pub props: Vec<QName>,
    pub text: String,
    pub match_type: MatchType,
}

/// RFC 3744 §9.4 `principal-property-search`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrincipalSearch {
    pub searches: Vec<PropertySearch>,
    /// `test="anyof"`; the default is allof.
    pub any: bool,
    pub props: PropRequest,
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
        /// The requested `calendar-data` element when it has children
        /// (comp, expand, limits) that narrow what each object returns.
        calendar_data: Option<Element>,
    },
    /// RFC 6352 §8.7.
    AddressbookMultiget {
        props: PropRequest,
        hrefs: Vec<String>,
    },
    /// Any other report: its root element, for the caller to decide.
    Other(Element),
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
    /// A status with the DAV precondition it reports (RFC 4918 §14.5),
    /// e.g. 507 with `number-of-matches-within-limits` on a truncated
    /// query.
    Error {
        status: u16,
        condition: QName,
    },
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

#[cfg(test)]
mod tests;
