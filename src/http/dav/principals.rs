//! Finding colleagues, groups, rooms and equipment: RFC 3744's
//! `principal-property-search` and `principal-search-property-set`, over
//! the principals of the requester's domain.

use super::resource::{Ctx, Resource};
use super::DavResult;
use formats::xml::{
    self, Element, MatchType, MultiStatus, Node, PrincipalSearch, QName, ResponseBody, Value,
    CALDAV, CALENDARSERVER, DAV,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Answers beyond this many end with a 507 for the request, as RFC 3744
/// §9.4 allows a server to cut a search short.
pub const MAX_RESULTS: usize = 200;

/// The properties a search may look in, with what they hold.
const SEARCHABLE: &[(&str, &str, &str)] = &[
    (DAV, "displayname", "Display name"),
    (CALDAV, "calendar-user-address-set", "Email address"),
    (CALENDARSERVER, "email-address-set", "Email address"),
    (
        CALDAV,
        "calendar-user-type",
        "INDIVIDUAL, GROUP, ROOM or RESOURCE",
    ),
];

/// The principals of a domain: enabled users, groups, and rooms and
/// equipment.
fn principals(ctx: &Ctx<'_>, domain: &str) -> DavResult<Vec<Resource>> {
    let directory = &ctx.views.directory;
    let mut all: Vec<Resource> = directory
        .users(Some(domain))?
        .into_iter()
        .filter(|u| u.enabled)
        .map(|user| Resource::Principal {
            user: Box::new(user),
        })
        .collect();
    all.extend(
        directory
            .groups(domain)?
            .into_iter()
            .map(|group| Resource::GroupPrincipal {
                group: Box::new(group),
                domain: domain.to_string(),
            }),
    );
    all.extend(
        directory
            .resources(domain)?
            .into_iter()
            .map(|resource| Resource::Facility {
                resource: Box::new(resource),
                domain: domain.to_string(),
            }),
    );
    Ok(all)
}

/// The texts a property value holds, for matching.
fn texts(value: &Value) -> Vec<String> {
    match value {
        Value::Text(t) => vec![t.clone()],
        Value::Hrefs(hrefs) => hrefs.clone(),
        Value::Elements(elements) => elements.iter().map(Element::text).collect(),
        Value::Empty | Value::Raw(_) => Vec::new(),
    }
}

/// A text as matching compares it: lowercase, without `mailto:`.
fn comparable(text: &str) -> String {
    let text = text.to_lowercase();
    match text.strip_prefix("mailto:") {
        Some(rest) => rest.to_string(),
        None => text,
    }
}

fn matches(candidate: &str, wanted: &str, how: MatchType) -> bool {
    match how {
        MatchType::Contains => candidate.contains(wanted),
        MatchType::StartsWith => candidate.starts_with(wanted),
        MatchType::Equals => candidate == wanted,
    }
}

/// One principal with the comparable texts of each [`SEARCHABLE`]
/// property, in that order.
struct Indexed {
    principal: Resource,
    texts: Vec<Vec<String>>,
}

/// A domain's principals as of one directory state.
struct DomainIndex {
    applied: u64,
    principals: Vec<Indexed>,
}

/// The searchable texts of each domain's principals, kept between
/// searches and rebuilt when the directory changed (see
/// `DirectoryView::applied`): a search then compares strings in memory
/// instead of reading and decoding the whole directory, which took tens
/// of milliseconds per search at 10,000 users. The searchable properties
/// are the directory's own fields, the same whoever asks.
#[derive(Default)]
pub struct SearchIndex {
    domains: Mutex<HashMap<String, Arc<DomainIndex>>>,
}

impl SearchIndex {
    fn domain(&self, ctx: &Ctx<'_>, domain: &str) -> DavResult<Arc<DomainIndex>> {
        // Read before building: an index built from a later state than
        // its mark is only rebuilt once more.
        let applied = ctx.views.directory.applied()?;
        let lock = || self.domains.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(index) = lock().get(domain).filter(|i| i.applied == applied) {
            return Ok(index.clone());
        }
        let principals = principals(ctx, domain)?
            .into_iter()
            .map(|principal| {
                let texts = SEARCHABLE
                    .iter()
                    .map(|(ns, local, _)| {
                        principal
                            .live(ctx, &QName::new(ns, local))
                            .map(|v| texts(&v).iter().map(|t| comparable(t)).collect())
                            .unwrap_or_default()
                    })
                    .collect();
                Indexed { principal, texts }
            })
            .collect();
        let index = Arc::new(DomainIndex {
            applied,
            principals,
        });
        lock().insert(domain.to_string(), index.clone());
        Ok(index)
    }
}

/// Whether `principal` has a value of one of `props` that matches.
fn found(ctx: &Ctx<'_>, principal: &Indexed, props: &[QName], text: &str, how: MatchType) -> bool {
    props.iter().any(|prop| {
        match SEARCHABLE
            .iter()
            .position(|(ns, local, _)| prop.is(ns, local))
        {
            Some(i) => principal.texts[i].iter().any(|t| matches(t, text, how)),
            // Not indexed: asked of the principal itself, as a PROPFIND would.
            None => principal
                .principal
                .live(ctx, prop)
                .is_some_and(|v| texts(&v).iter().any(|t| matches(&comparable(t), text, how))),
        }
    })
}

/// The principals of the requester's domain that match, as a multistatus.
pub fn search(ctx: &Ctx<'_>, index: &SearchIndex, search: &PrincipalSearch) -> DavResult<String> {
    let wanted: Vec<String> = search
        .searches
        .iter()
        .map(|s| s.text.to_lowercase())
        .collect();
    let domain = index.domain(ctx, &ctx.user.domain)?;
    let mut ms = MultiStatus::default();
    for principal in &domain.principals {
        let mut verdicts = search
            .searches
            .iter()
            .zip(&wanted)
            .map(|(s, text)| found(ctx, principal, &s.props, text, s.match_type));
        let hit = if search.any {
            verdicts.any(|v| v)
        } else {
            verdicts.all(|v| v)
        };
        if !hit {
            continue;
        }
        if ms.responses.len() == MAX_RESULTS {
            ms.responses.push(xml::Response {
                href: super::path::DavPath::Area(super::path::Area::Principals).href(),
                body: ResponseBody::Error {
                    status: 507,
                    condition: QName::dav("number-of-matches-within-limits"),
                },
            });
            break;
        }
        let p = &principal.principal;
        ms.responses.push(xml::Response {
            href: p.href(),
            body: p.propstats(ctx, &search.props),
        });
    }
    Ok(xml::write_multistatus(&ms))
}

/// RFC 3744 §9.5: the searchable properties, each with a description.
pub fn search_property_set() -> String {
    let el = |ns: &str, local: &str, children: Vec<Node>| Element {
        name: QName::new(ns, local),
        attrs: Vec::new(),
        children,
    };
    let properties = SEARCHABLE
        .iter()
        .map(|(ns, local, description)| {
            Node::Element(el(
                DAV,
                "principal-search-property",
                vec![
                    Node::Element(el(DAV, "prop", vec![Node::Element(el(ns, local, vec![]))])),
                    Node::Element(Element {
                        attrs: vec![(QName::new(xml::XML_NS, "lang"), "en".into())],
                        ..el(
                            DAV,
                            "description",
                            vec![Node::Text(description.to_string())],
                        )
                    }),
                ],
            ))
        })
        .collect();
    let root = el(DAV, "principal-search-property-set", properties);
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n{}",
        root.to_xml()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_ignores_case_and_mailto() {
        let m = |candidate: &str, wanted, how| matches(&comparable(candidate), wanted, how);
        assert!(m("Alice Martin", "mart", MatchType::Contains));
        assert!(m(
            "mailto:Alice@Example.com",
            "alice@",
            MatchType::StartsWith
        ));
        assert!(!m("Alice Martin", "mart", MatchType::StartsWith));
        assert!(m("ROOM", "room", MatchType::Equals));
        assert!(!m("ROOM", "roo", MatchType::Equals));
    }

    #[test]
    fn the_search_property_set_parses_back() {
        let root = xml::parse(search_property_set().as_bytes()).unwrap();
        assert!(root.is(DAV, "principal-search-property-set"));
        assert_eq!(root.elements().count(), SEARCHABLE.len());
    }
}
