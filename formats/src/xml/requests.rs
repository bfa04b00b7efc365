//! Typed request bodies (PROPFIND, PROPPATCH, MKCOL, MKCALENDAR, REPORT),
//! read from the tree [`parse`] returns.
//!
//! Elements the parsers do not know are ignored, as RFC 4918 §17 asks of
//! extensions; a body that lacks what the method needs, or asks for two
//! contradictory things, is [`XmlError::Unexpected`].

use super::tree::is_xml_whitespace;
use super::{
    parse, Element, MatchType, MkcolRequest, Node, PrincipalSearch, PropRequest, PropertySearch,
    PropertyUpdate, QName, Report, ShareRequest, ShareSet, XmlError, CALDAV, CALENDARSERVER,
    CARDDAV, DAV,
};

/// What a PROPFIND asks for (RFC 4918 §9.1): an empty (or blank) body is
/// `allprop`; otherwise `<D:propfind>` with exactly one of `<D:prop>`,
/// `<D:allprop>` (optionally with `<D:include>`) and `<D:propname>`.
pub fn parse_propfind(body: &[u8]) -> Result<PropRequest, XmlError> {
    if is_blank(body) {
        return Ok(PropRequest::AllProp {
            include: Vec::new(),
        });
    }
    let root = parse(body)?;
    expect_root(&root, DAV, "propfind")?;
    prop_request(&root)?.ok_or_else(|| unexpected("propfind without prop, allprop or propname"))
}

/// `<D:propertyupdate>` with `<D:set>` and `<D:remove>` instructions,
/// kept in document order (RFC 4918 §9.2: they apply in that order).
/// A body that changes nothing is refused.
pub fn parse_proppatch(body: &[u8]) -> Result<Vec<PropertyUpdate>, XmlError> {
    let root = parse(body)?;
    expect_root(&root, DAV, "propertyupdate")?;
    let mut updates = Vec::new();
    for instruction in into_elements(root) {
        if instruction.is(DAV, "set") {
            updates.extend(properties(instruction)?.map(PropertyUpdate::Set));
        } else if instruction.is(DAV, "remove") {
            updates.extend(properties(instruction)?.map(|p| PropertyUpdate::Remove(p.name)));
        }
    }
    if updates.is_empty() {
        return Err(unexpected(
            "propertyupdate neither sets nor removes a property",
        ));
    }
    Ok(updates)
}

/// `<D:mkcol><D:set><D:prop>…`; `resourcetype` is taken out of the props.
/// A blank body asks for a plain collection.
pub fn parse_mkcol(body: &[u8]) -> Result<MkcolRequest, XmlError> {
    parse_collection_request(body, DAV, "mkcol")
}

/// `<C:mkcalendar><D:set><D:prop>…`; a `resourcetype` among the props is
/// taken out as for MKCOL. A blank body sets nothing.
pub fn parse_mkcalendar(body: &[u8]) -> Result<MkcolRequest, XmlError> {
    parse_collection_request(body, CALDAV, "mkcalendar")
}

fn parse_collection_request(body: &[u8], ns: &str, local: &str) -> Result<MkcolRequest, XmlError> {
    let mut request = MkcolRequest::default();
    if is_blank(body) {
        return Ok(request);
    }
    let root = parse(body)?;
    expect_root(&root, ns, local)?;
    for set in into_elements(root).filter(|e| e.is(DAV, "set")) {
        for property in properties(set)? {
            if property.is(DAV, "resourcetype") {
                request
                    .resourcetype
                    .extend(property.elements().map(|kind| kind.name.clone()));
            } else {
                request.set.push(property);
            }
        }
    }
    Ok(request)
}

/// A REPORT body: the three reports a CalDAV/CardDAV sync needs are
/// decoded, any other comes back as [`Report::Other`].
pub fn parse_report(body: &[u8]) -> Result<Report, XmlError> {
    let root = parse(body)?;
    if root.is(DAV, "sync-collection") {
        sync_collection(&root)
    } else if root.is(CALDAV, "calendar-multiget") {
        let (props, hrefs) = multiget(&root)?;
        let calendar_data = root
            .elements()
            .filter(|e| e.is(DAV, "prop"))
            .flat_map(|prop| prop.elements())
            .find(|e| e.is(CALDAV, "calendar-data") && e.elements().next().is_some())
            .cloned();
        Ok(Report::CalendarMultiget {
            props,
            hrefs,
            calendar_data,
        })
    } else if root.is(CARDDAV, "addressbook-multiget") {
        let (props, hrefs) = multiget(&root)?;
        Ok(Report::AddressbookMultiget { props, hrefs })
    } else {
        Ok(Report::Other(root))
    }
}

/// RFC 6578 §6.1. A missing `sync-token` or `sync-level` reads as a first
/// sync of depth 1; a missing prop request as `allprop`.
fn sync_collection(root: &Element) -> Result<Report, XmlError> {
    let token = root
        .child(DAV, "sync-token")
        .map(|token| trim(&token.text()).to_string())
        .unwrap_or_default();
    let level_infinite = match root.child(DAV, "sync-level").map(Element::text) {
        None => false,
        Some(level) => match trim(&level) {
            "1" => false,
            "infinite" => true,
            other => return Err(unexpected(format!("sync-level {other:?}"))),
        },
    };
    let limit = match root.child(DAV, "limit") {
        None => None,
        Some(limit) => {
            let nresults = limit
                .child(DAV, "nresults")
                .ok_or_else(|| unexpected("limit without nresults"))?
                .text();
            let nresults = trim(&nresults).parse::<u32>().map_err(|_| {
                unexpected(format!("nresults {:?} is not a count", trim(&nresults)))
            })?;
            Some(nresults)
        }
    };
    Ok(Report::SyncCollection {
        token,
        level_infinite,
        limit,
        props: prop_request(root)?.unwrap_or(PropRequest::AllProp {
            include: Vec::new(),
        }),
    })
}

/// The prop request (default `allprop`) and every `<D:href>`, trimmed, in
/// order, of a calendar-multiget or addressbook-multiget.
fn multiget(root: &Element) -> Result<(PropRequest, Vec<String>), XmlError> {
    let props = prop_request(root)?.unwrap_or(PropRequest::AllProp {
        include: Vec::new(),
    });
    let hrefs = root
        .elements()
        .filter(|e| e.is(DAV, "href"))
        .map(|href| trim(&href.text()).to_string())
        .collect();
    Ok((props, hrefs))
}

/// The `prop` / `allprop` (+ `include`) / `propname` children of
/// `parent`, if any. More than one of them, or `include` without
/// `allprop`, is refused.
fn prop_request(parent: &Element) -> Result<Option<PropRequest>, XmlError> {
    let mut request = None;
    let mut include = None;
    for child in parent.elements().filter(|e| e.name.ns == DAV) {
        let found = match child.name.local.as_str() {
            "prop" => PropRequest::Prop(child_names(child)),
            "allprop" => PropRequest::AllProp {
                include: Vec::new(),
            },
            "propname" => PropRequest::PropName,
            "include" => {
                if include.replace(child_names(child)).is_some() {
                    return Err(unexpected("more than one include"));
                }
                continue;
            }
            _ => continue,
        };
        if request.replace(found).is_some() {
            return Err(unexpected("more than one of prop, allprop and propname"));
        }
    }
    match (request, include) {
        (request, None) => Ok(request),
        (Some(PropRequest::AllProp { .. }), Some(include)) => {
            Ok(Some(PropRequest::AllProp { include }))
        }
        (_, Some(_)) => Err(unexpected("include without allprop")),
    }
}

/// The property elements of a `set` or `remove`: the children of its
/// `<D:prop>` (RFC 4918 has exactly one; all are taken).
/// calendarserver-sharing `<CS:share>`: `<CS:set>` with a `DAV:href` and
/// `<CS:read/>` or `<CS:read-write/>`, `<CS:remove>` with a `DAV:href`.
/// Common names and summaries are accepted and ignored.
pub fn parse_share(body: &[u8]) -> Result<ShareRequest, XmlError> {
    let root = parse(body)?;
    expect_root(&root, CALENDARSERVER, "share")?;
    let href = |e: &Element| -> Result<String, XmlError> {
        let href = e
            .child(DAV, "href")
            .map(|h| trim(&h.text()).to_string())
            .filter(|h| !h.is_empty())
            .ok_or_else(|| unexpected(format!("{} without DAV:href", e.name)))?;
        Ok(href)
    };
    let mut request = ShareRequest::default();
    for e in root.elements() {
        if e.is(CALENDARSERVER, "set") {
            let read_write = e.child(CALENDARSERVER, "read-write").is_some();
            if !read_write && e.child(CALENDARSERVER, "read").is_none() {
                return Err(unexpected("CS:set needs CS:read or CS:read-write"));
            }
            request.set.push(ShareSet {
                href: href(e)?,
                read_write,
            });
        } else if e.is(CALENDARSERVER, "remove") {
            request.remove.push(href(e)?);
        }
    }
    if request.set.is_empty() && request.remove.is_empty() {
        return Err(unexpected("CS:share sets and removes nothing"));
    }
    Ok(request)
}

/// RFC 3744 §9.4. Each `property-search` needs a `DAV:prop` with at least
/// one property and a non-empty `DAV:match`; none at all matches every
/// principal.
pub fn parse_principal_property_search(root: &Element) -> Result<PrincipalSearch, XmlError> {
    expect_root(root, DAV, "principal-property-search")?;
    let mut searches = Vec::new();
    for search in root.elements().filter(|e| e.is(DAV, "property-search")) {
        let props: Vec<QName> = search
            .child(DAV, "prop")
            .map(child_names)
            .unwrap_or_default();
        let matching = search
            .child(DAV, "match")
            .ok_or_else(|| unexpected("property-search without DAV:match"))?;
        let text = trim(&matching.text()).to_string();
        if props.is_empty() || text.is_empty() {
            return Err(unexpected("property-search needs properties and a text"));
        }
        let match_type = match matching.attr("", "match-type") {
            Some("starts-with") => MatchType::StartsWith,
            Some("equals") => MatchType::Equals,
            _ => MatchType::Contains,
        };
        searches.push(PropertySearch {
            props,
            text,
            match_type,
        });
    }
    // python caldav (3.x) sends `<D:prop/>` empty and the properties it
    // wants as its siblings, and no property-search to list everyone:
    // both are read as meant rather than refused.
    let mut props = prop_request(root)?.unwrap_or(PropRequest::Prop(Vec::new()));
    if props == PropRequest::Prop(Vec::new()) {
        let structural = [
            "property-search",
            "prop",
            "apply-to-principal-collection-set",
        ];
        props = PropRequest::Prop(
            root.elements()
                .filter(|e| !(e.name.ns == DAV && structural.contains(&e.name.local.as_str())))
                .map(|e| e.name.clone())
                .collect(),
        );
    }
    Ok(PrincipalSearch {
        searches,
        any: root.attr("", "test") == Some("anyof"),
        props,
    })
}

fn properties(instruction: Element) -> Result<impl Iterator<Item = Element>, XmlError> {
    let name = instruction.name.clone();
    let mut props = into_elements(instruction)
        .filter(|e| e.is(DAV, "prop"))
        .peekable();
    if props.peek().is_none() {
        return Err(unexpected(format!("{name} without DAV:prop")));
    }
    Ok(props.flat_map(into_elements))
}

fn child_names(parent: &Element) -> Vec<QName> {
    parent.elements().map(|e| e.name.clone()).collect()
}

/// The child elements of `element`, moved out of it.
fn into_elements(element: Element) -> impl Iterator<Item = Element> {
    element.children.into_iter().filter_map(|node| match node {
        Node::Element(element) => Some(element),
        Node::Text(_) => None,
    })
}

fn expect_root(root: &Element, ns: &str, local: &str) -> Result<(), XmlError> {
    if root.is(ns, local) {
        Ok(())
    } else {
        Err(unexpected(format!(
            "expected {}, found {}",
            QName::new(ns, local),
            root.name
        )))
    }
}

/// Empty or whitespace only: "no body" for the methods where that means a
/// default request.
fn is_blank(body: &[u8]) -> bool {
    std::str::from_utf8(body).is_ok_and(is_xml_whitespace)
}

/// Trims XML whitespace (not every Unicode space: a no-break space in an
/// href or token is data).
fn trim(text: &str) -> &str {
    text.trim_matches([' ', '\t', '\n', '\r'])
}

fn unexpected(reason: impl Into<String>) -> XmlError {
    XmlError::Unexpected(reason.into())
}
