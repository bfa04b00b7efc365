//! Finding colleagues, groups, rooms and equipment: RFC 3744's
//! `principal-property-search` and `principal-search-property-set`, over
//! the principals of the requester's domain.

use super::resource::{Ctx, Resource};
use super::DavResult;
use formats::xml::{
    self, Element, MatchType, MultiStatus, Node, PrincipalSearch, QName, ResponseBody, Value,
    CALDAV, CALENDARSERVER, DAV,
};

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

/// The principals of the requester's domain: enabled users, groups, and
/// rooms and equipment.
fn principals(ctx: &Ctx<'_>) -> DavResult<Vec<Resource>> {
    let directory = &ctx.views.directory;
    let domain = ctx.user.domain.as_str();
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

fn matches(candidate: &str, wanted: &str, how: MatchType) -> bool {
    let candidate = candidate.to_lowercase();
    let candidate = candidate.strip_prefix("mailto:").unwrap_or(&candidate);
    match how {
        MatchType::Contains => candidate.contains(wanted),
        MatchType::StartsWith => candidate.starts_with(wanted),
        MatchType::Equals => candidate == wanted,
    }
}

pub fn search(ctx: &Ctx<'_>, search: &PrincipalSearch) -> DavResult<String> {
    let wanted: Vec<String> = search
        .searches
        .iter()
        .map(|s| s.text.to_lowercase())
        .collect();
    let mut ms = MultiStatus::default();
    for principal in principals(ctx)? {
        let mut verdicts = search.searches.iter().zip(&wanted).map(|(s, text)| {
            s.props.iter().any(|prop| {
                principal
                    .live(ctx, prop)
                    .is_some_and(|v| texts(&v).iter().any(|t| matches(t, text, s.match_type)))
            })
        });
        let found = if search.any {
            verdicts.any(|v| v)
        } else {
            verdicts.all(|v| v)
        };
        if !found {
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
        ms.responses.push(xml::Response {
            href: principal.href(),
            body: principal.propstats(ctx, &search.props),
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
        assert!(matches("Alice Martin", "mart", MatchType::Contains));
        assert!(matches(
            "mailto:Alice@Example.com",
            "alice@",
            MatchType::StartsWith
        ));
        assert!(!matches("Alice Martin", "mart", MatchType::StartsWith));
        assert!(matches("ROOM", "room", MatchType::Equals));
        assert!(!matches("ROOM", "roo", MatchType::Equals));
    }

    #[test]
    fn the_search_property_set_parses_back() {
        let root = xml::parse(search_property_set().as_bytes()).unwrap();
        assert!(root.is(DAV, "principal-search-property-set"));
        assert_eq!(root.elements().count(), SEARCHABLE.len());
    }
}
