//! Live properties and what a PROPFIND answers. Each kind of resource has
//! one table of its live properties ([`Table`]): the order `propname` and
//! `allprop` list them in, when they are listed, and how each value is
//! worked out, so a property is added in one place. Every value comes from
//! the views, so from the log: two instances answer with the same bytes.

mod collection;
mod content;
mod principal;

pub use collection::calendar_components;
pub use content::{file_content_type, http_date, object_content_type};

use super::resource::{Ctx, Resource};
use super::sharing::{Place, Rights};
use formats::davpath::{self as path, DavPath, Kind};
use formats::xml::{
    Element, Node, PropRequest, PropStat, Property, QName, ResponseBody, Value, CALDAV,
    CALENDARSERVER, CARDDAV, DAV,
};
use projections::scheduling::{SCHEDULE_INBOX, SCHEDULE_OUTBOX};

/// A live property: its name, when `propname` and `allprop` list it, and
/// its value on a resource of the table's kind (None: it has none).
struct Live {
    ns: &'static str,
    local: &'static str,
    listed: Listed,
    value: fn(&Ctx<'_>, &Resource) -> Option<Value>,
}

/// When `propname` and `allprop` list a live property. Every one is
/// answered when asked for by name.
#[derive(Clone, Copy)]
enum Listed {
    /// By both (`allprop` only when it has a value).
    Always,
    /// By both, when it has a value, like a displayname that was set:
    /// only for values that read nothing from the views.
    IfSet,
    /// By both, when the resource passes the test.
    When(fn(&Resource) -> bool),
    /// By `propname` only: RFC 4791/6352 keep calendar-data and
    /// address-data out of `allprop`.
    NotInAllProp,
    /// By neither.
    OnRequest,
}

impl Live {
    const fn new(
        ns: &'static str,
        local: &'static str,
        listed: Listed,
        value: fn(&Ctx<'_>, &Resource) -> Option<Value>,
    ) -> Live {
        Live {
            ns,
            local,
            listed,
            value,
        }
    }

    const fn always(
        ns: &'static str,
        local: &'static str,
        value: fn(&Ctx<'_>, &Resource) -> Option<Value>,
    ) -> Live {
        Live::new(ns, local, Listed::Always, value)
    }

    const fn if_set(
        ns: &'static str,
        local: &'static str,
        value: fn(&Ctx<'_>, &Resource) -> Option<Value>,
    ) -> Live {
        Live::new(ns, local, Listed::IfSet, value)
    }

    fn name(&self) -> QName {
        QName::new(self.ns, self.local)
    }

    fn value(&self, ctx: &Ctx<'_>, resource: &Resource) -> Option<Value> {
        (self.value)(ctx, resource)
    }

    /// Whether `propname` lists it.
    fn in_propname(&self, ctx: &Ctx<'_>, resource: &Resource) -> bool {
        match self.listed {
            Listed::Always | Listed::NotInAllProp => true,
            Listed::IfSet => self.value(ctx, resource).is_some(),
            Listed::When(test) => test(resource),
            Listed::OnRequest => false,
        }
    }

    /// Whether `allprop` lists it, when it has a value.
    fn in_allprop(&self, resource: &Resource) -> bool {
        match self.listed {
            Listed::Always | Listed::IfSet => true,
            Listed::When(test) => test(resource),
            Listed::NotInAllProp | Listed::OnRequest => false,
        }
    }
}

/// A kind's live properties, in sections shared between kinds, in the
/// order they are listed.
type Table = &'static [&'static [Live]];

/// What every resource has, first.
const EVERY: &[Live] = &[
    Live::always(DAV, "resourcetype", resourcetype),
    Live::always(DAV, "current-user-principal", |ctx, _| {
        Some(Value::Hrefs(vec![path::principal_href(ctx.principal)]))
    }),
    Live::always(DAV, "current-user-privilege-set", |ctx, r| {
        Some(privileges(r.rights(ctx)))
    }),
];

/// What a resource other than a principal answers only when asked
/// (principals list it).
const ON_REQUEST: &[Live] = &[Live::new(
    DAV,
    "principal-collection-set",
    Listed::OnRequest,
    principal_collection_set,
)];

const PLAIN: Table = &[EVERY, ON_REQUEST];

/// `principal-collection-set`: where the principals are.
fn principal_collection_set(_: &Ctx<'_>, _: &Resource) -> Option<Value> {
    Some(Value::Hrefs(vec![
        DavPath::Area(path::Area::Principals).href()
    ]))
}

/// What kind of resource it is: one match over every kind, so that a new
/// kind cannot be without one.
fn resourcetype(ctx: &Ctx<'_>, resource: &Resource) -> Option<Value> {
    Some(Value::Elements(match resource {
        Resource::Plain { .. } | Resource::Home { .. } | Resource::Folder { .. } => {
            vec![el(DAV, "collection")]
        }
        Resource::Principal { .. }
        | Resource::GroupPrincipal { .. }
        | Resource::Facility { .. } => vec![el(DAV, "collection"), el(DAV, "principal")],
        Resource::Calendar { place, .. } => match scheduling_box(place) {
            Some(mailbox) => vec![el(DAV, "collection"), el(CALDAV, mailbox)],
            None => collection::resourcetype(ctx, place, el(CALDAV, "calendar")),
        },
        Resource::AddressBook { place, .. } => {
            collection::resourcetype(ctx, place, el(CARDDAV, "addressbook"))
        }
        Resource::Object { .. } | Resource::File { .. } => Vec::new(),
    }))
}

/// `schedule-inbox` or `schedule-outbox` (RFC 6638 §2.2, §2.1) when
/// `place` is the owner's scheduling inbox or outbox.
pub(crate) fn scheduling_box(place: &Place) -> Option<&'static str> {
    if place.is_bound() {
        return None;
    }
    match place.collection.as_str() {
        SCHEDULE_INBOX => Some("schedule-inbox"),
        SCHEDULE_OUTBOX => Some("schedule-outbox"),
        _ => None,
    }
}

/// Whether a calendar is left out of free-busy (RFC 6638 §9.1:
/// `schedule-calendar-transp` set to `transparent`, a property PROPPATCH
/// stores).
pub(crate) fn is_transparent(props: &events::payload::CalendarProps) -> bool {
    props
        .dead
        .get("{urn:ietf:params:xml:ns:caldav}schedule-calendar-transp")
        .is_some_and(|xml| xml.contains("transparent"))
}

/// `current-user-privilege-set` for what the requester may do.
fn privileges(rights: Rights) -> Value {
    let privilege = |name: &str| el_with(DAV, "privilege", vec![el(DAV, name)]);
    let names: &[&str] = match rights {
        Rights::Owner => &[
            "all",
            "read",
            "write",
            "write-properties",
            "write-content",
            "bind",
            "unbind",
            "read-current-user-privilege-set",
        ],
        // A sharee writes the members, not the owner's collection.
        Rights::ReadWrite => &[
            "read",
            "write-content",
            "bind",
            "unbind",
            "read-current-user-privilege-set",
        ],
        Rights::Read => &["read", "read-current-user-privilege-set"],
    };
    Value::Elements(names.iter().copied().map(privilege).collect())
}

/// `supported-report-set` naming `names`.
fn reports(names: &[(&str, &str)]) -> Value {
    Value::Elements(
        names
            .iter()
            .map(|(ns, local)| {
                el_with(
                    DAV,
                    "supported-report",
                    vec![el_with(DAV, "report", vec![el(ns, local)])],
                )
            })
            .collect(),
    )
}

/// Live properties that PROPPATCH may not change (RFC 4918 §15 and the
/// CalDAV/CardDAV computed ones).
pub fn is_protected(name: &QName) -> bool {
    const PROTECTED: &[(&str, &str)] = &[
        (DAV, "getetag"),
        (DAV, "getcontentlength"),
        (DAV, "getlastmodified"),
        (DAV, "creationdate"),
        (DAV, "resourcetype"),
        (DAV, "lockdiscovery"),
        (DAV, "supportedlock"),
        (DAV, "sync-token"),
        (DAV, "supported-report-set"),
        (DAV, "current-user-principal"),
        (DAV, "current-user-privilege-set"),
        (DAV, "owner"),
        (DAV, "principal-URL"),
        (DAV, "getcontenttype"),
        (CALENDARSERVER, "getctag"),
        (CALDAV, "supported-calendar-component-set"),
        (CALDAV, "supported-calendar-data"),
        (CALDAV, "max-resource-size"),
        (CALDAV, "managed-attachments-server-URL"),
        (CALDAV, "max-attachment-size"),
        (CALDAV, "max-attachments-per-resource"),
        (CALDAV, "calendar-home-set"),
        (CALDAV, "calendar-user-address-set"),
        (CALDAV, "schedule-inbox-URL"),
        (CALDAV, "schedule-outbox-URL"),
        (CALDAV, "schedule-default-calendar-URL"),
        (CALDAV, "schedule-tag"),
        (CARDDAV, "addressbook-home-set"),
        (CARDDAV, "supported-address-data"),
        (CARDDAV, "max-resource-size"),
    ];
    PROTECTED.iter().any(|(ns, local)| name.is(ns, local))
}

impl Resource {
    /// The table of this kind of resource.
    fn table(&self) -> Table {
        match self {
            Resource::Plain { .. } => PLAIN,
            Resource::Principal { .. } => principal::USER,
            Resource::GroupPrincipal { .. } => principal::GROUP,
            Resource::Facility { .. } => principal::FACILITY,
            Resource::Home { .. } => collection::HOME,
            Resource::Calendar { .. } => collection::CALENDAR,
            Resource::AddressBook { .. } => collection::ADDRESS_BOOK,
            Resource::Object { place, .. } => match place.kind {
                Kind::Calendar => content::CALENDAR_OBJECT,
                Kind::AddressBook => content::VCARD,
            },
            Resource::Folder { .. } => content::FOLDER,
            Resource::File { .. } => content::FILE,
        }
    }

    fn live_props(&self) -> impl Iterator<Item = &'static Live> {
        self.table().iter().flat_map(|section| section.iter())
    }

    /// The value of a live property, or None when this resource has none.
    pub fn live(&self, ctx: &Ctx<'_>, name: &QName) -> Option<Value> {
        self.live_props()
            .find(|live| name.is(live.ns, live.local))
            .and_then(|live| live.value(ctx, self))
    }

    /// The propstats answering `request` for this resource: its live
    /// properties, then its dead ones.
    pub fn propstats(&self, ctx: &Ctx<'_>, request: &PropRequest) -> ResponseBody {
        let dead = self.dead();
        let mut found = Vec::new();
        let mut missing = Vec::new();
        // A property asked for by name: its value, else listed as missing (404).
        let answer = |name: &QName, found: &mut Vec<Property>, missing: &mut Vec<Property>| {
            let value = self.live(ctx, name).or_else(|| {
                dead.and_then(|d| d.get(&name.clark()))
                    .map(|xml| Value::Raw(xml.clone()))
            });
            match value {
                Some(value) => found.push(Property {
                    name: name.clone(),
                    value,
                }),
                None => missing.push(Property {
                    name: name.clone(),
                    value: Value::Empty,
                }),
            }
        };
        match request {
            PropRequest::PropName => {
                let names = self
                    .live_props()
                    .filter(|live| live.in_propname(ctx, self))
                    .map(Live::name)
                    .chain(
                        dead.into_iter()
                            .flat_map(|d| d.keys())
                            .filter_map(|k| QName::from_clark(k)),
                    );
                found.extend(names.map(|name| Property {
                    name,
                    value: Value::Empty,
                }));
            }
            PropRequest::AllProp { include } => {
                for live in self.live_props().filter(|live| live.in_allprop(self)) {
                    if let Some(value) = live.value(ctx, self) {
                        found.push(Property {
                            name: live.name(),
                            value,
                        });
                    }
                }
                for (clark, xml) in dead.into_iter().flatten() {
                    if let Some(name) = QName::from_clark(clark) {
                        found.push(Property {
                            name,
                            value: Value::Raw(xml.clone()),
                        });
                    }
                }
                for name in include {
                    if !found.iter().any(|p| &p.name == name) {
                        answer(name, &mut found, &mut missing);
                    }
                }
            }
            PropRequest::Prop(names) => {
                for name in names {
                    answer(name, &mut found, &mut missing);
                }
            }
        }
        let mut stats = Vec::new();
        if !found.is_empty() || missing.is_empty() {
            stats.push(PropStat {
                status: 200,
                props: found,
            });
        }
        if !missing.is_empty() {
            stats.push(PropStat {
                status: 404,
                props: missing,
            });
        }
        ResponseBody::PropStats(stats)
    }
}

fn el(ns: &str, local: &str) -> Element {
    Element {
        name: QName::new(ns, local),
        attrs: Vec::new(),
        children: Vec::new(),
    }
}

fn el_with(ns: &str, local: &str, children: Vec<Element>) -> Element {
    Element {
        children: children.into_iter().map(Node::Element).collect(),
        ..el(ns, local)
    }
}

fn text(s: impl Into<String>) -> Option<Value> {
    Some(Value::Text(s.into()))
}

/// `owner` of what is the requester's own (a home, a file).
fn requester(ctx: &Ctx<'_>) -> Option<Value> {
    Some(Value::Hrefs(vec![path::principal_href(ctx.principal)]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A lookup takes the first entry of a name, so a second one would
    /// be listed but never answered.
    #[test]
    fn a_table_names_each_property_once() {
        let tables = [
            PLAIN,
            principal::USER,
            principal::GROUP,
            principal::FACILITY,
            collection::HOME,
            collection::CALENDAR,
            collection::ADDRESS_BOOK,
            content::CALENDAR_OBJECT,
            content::VCARD,
            content::FOLDER,
            content::FILE,
        ];
        for table in tables {
            let mut names: Vec<_> = table
                .iter()
                .flat_map(|section| section.iter())
                .map(|live| (live.ns, live.local))
                .collect();
            let count = names.len();
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), count, "{names:?}");
        }
    }
}
