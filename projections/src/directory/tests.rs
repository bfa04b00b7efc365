use super::gal::{self, EntryKind};
use super::*;
use crate::contacts::ObjectMeta;
use crate::store::ProjectionId;
use crate::testing::TestStore;
use events::payload::*;
use events::{EventEnvelope, EventId};
use std::collections::BTreeMap;

const D: &str = "example.com";
const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$aGFzaA";

/// A directory view in a fresh view database, fed like the runner feeds
/// it: refused or rejected events' writes dropped, `batch` events per atomic
/// batch. Event `n` (from 0) is at offset `n` and leaves version `n + 1`.
struct Fixture {
    harness: TestStore,
    view: DirectoryView,
}

fn envelope(n: u64, payload: Payload) -> EventEnvelope {
    let id = format!("01900000-0000-7000-8000-{n:012x}");
    let time = format!("2026-01-01T00:{:02}:{:02}Z", n / 60 % 60, n % 60);
    EventEnvelope::new(
        EventId(id.parse().expect("uuid")),
        time.parse().expect("time"),
        D,
        "test",
        payload,
    )
}

impl Fixture {
    fn new() -> Fixture {
        let harness = TestStore::new(ProjectionId::new(Directory::NAME, Directory::VERSION));
        let view = DirectoryView::new(harness.tree());
        Fixture { harness, view }
    }

    /// Applies events at the next offsets, `batch` per atomic batch.
    fn run(&mut self, events: &[EventEnvelope], batch: usize) -> Vec<Outcome> {
        self.harness
            .run(&Directory, Domain::Directory, events, batch)
    }

    fn apply_event(&mut self, event: EventEnvelope) -> Outcome {
        self.run(&[event], 1).remove(0)
    }

    fn apply(&mut self, payload: Payload) -> Outcome {
        let event = envelope(self.harness.next, payload);
        self.apply_event(event)
    }

    fn ok(&mut self, payload: Payload) -> AggregateVersion {
        match self.apply(payload) {
            Outcome::Applied { version } => version,
            other => panic!("expected applied, got {other:?}"),
        }
    }

    /// An event that must be rejected and change nothing.
    fn rejected_event(&mut self, event: EventEnvelope) -> Rejection {
        let before = self.digest();
        let outcome = self.apply_event(event);
        assert_eq!(self.digest(), before, "a rejection changed the view");
        match outcome {
            Outcome::Rejected { rejection } => rejection,
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    fn rejected(&mut self, payload: Payload) -> Rejection {
        let event = envelope(self.harness.next, payload);
        self.rejected_event(event)
    }

    fn rejected_expecting(&mut self, payload: Payload, v: AggregateVersion) -> Rejection {
        let event = envelope(self.harness.next, payload).expecting(v);
        self.rejected_event(event)
    }

    fn digest(&self) -> String {
        self.harness.store.digest(&self.harness.id).unwrap()
    }

    /// The address book's cards: href → (meta, body).
    fn cards(&self) -> BTreeMap<String, (ObjectMeta, String)> {
        let book = self.view.address_book();
        book.objects(D, gal::COLLECTION)
            .unwrap()
            .into_iter()
            .map(|(href, o)| (href, (o.meta(), o.body)))
            .collect()
    }

    fn versions(&self) -> BTreeMap<String, AggregateVersion> {
        self.cards()
            .into_iter()
            .map(|(href, (meta, _))| (href, meta.version))
            .collect()
    }

    fn ctag(&self) -> AggregateVersion {
        self.view
            .address_book()
            .collection(D, gal::COLLECTION)
            .unwrap()
            .expect("the address book")
            .ctag
    }
}

fn domain() -> Payload {
    Payload::DomainCreated(DomainCreated {
        domain: D.into(),
        display_name: Some("Example Inc".into()),
    })
}

fn user(login: &str) -> Payload {
    Payload::UserCreated(UserCreated {
        login: login.into(),
        email: format!("{login}@{D}"),
        display_name: Some(format!("{} Example", login.to_uppercase())),
        password_hash: HASH.into(),
        admin: false,
        phone: None,
    })
}

fn update(login: &str, change: impl FnOnce(&mut UserUpdated)) -> Payload {
    let mut e = UserUpdated {
        login: login.into(),
        ..UserUpdated::default()
    };
    change(&mut e);
    Payload::UserUpdated(e)
}

fn group(name: &str) -> Payload {
    Payload::GroupCreated(GroupCreated {
        group: name.into(),
        display_name: None,
        email: None,
    })
}

fn add(group: &str, member: Member) -> Payload {
    Payload::MemberAdded(MemberAdded {
        group: group.into(),
        member,
    })
}

fn room(name: &str) -> Payload {
    Payload::ResourceCreated(ResourceCreated {
        resource: name.into(),
        kind: ResourceKind::Room,
        display_name: None,
        email: None,
        capacity: Some(8),
        location: Some("Floor 2".into()),
    })
}

fn u(login: &str) -> Member {
    Member::User(login.into())
}

fn g(name: &str) -> Member {
    Member::Group(name.into())
}

fn user_href(login: &str) -> String {
    gal::href(EntryKind::User, login)
}

fn group_href(name: &str) -> String {
    gal::href(EntryKind::Group, name)
}

/// Asserts that exactly `changed` of the cards got a new version since
/// `before`, the others kept theirs, and nothing appeared or vanished
/// unless listed in `changed`.
fn assert_changed(
    before: &BTreeMap<String, AggregateVersion>,
    after: &BTreeMap<String, AggregateVersion>,
    changed: &[String],
) {
    let hrefs: std::collections::BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    for href in hrefs {
        let moved = before.get(href) != after.get(href);
        assert_eq!(
            moved,
            changed.contains(href),
            "{href}: {:?} → {:?}",
            before.get(href),
            after.get(href)
        );
    }
}

#[test]
fn created_stays_while_version_moves_and_updates_apply() {
    let mut a = Fixture::new();
    a.ok(domain());
    let created = a.ok(user("alice"));
    let v = a.ok(update("alice", |e| e.phone = Some(Some("+33 1 23".into()))));
    let alice = a.view.user(D, "alice").unwrap().unwrap();
    assert_eq!((alice.created, alice.version), (created, v));
    assert_eq!(alice.phone.as_deref(), Some("+33 1 23"));
    a.ok(update("alice", |e| e.phone = Some(None)));
    assert_eq!(a.view.user(D, "alice").unwrap().unwrap().phone, None);

    let made = a.ok(group("staff"));
    let renamed = a.ok(Payload::GroupUpdated(GroupUpdated {
        group: "staff".into(),
        display_name: Some(Some("All staff".into())),
        email: Some(Some("staff@example.com".into())),
    }));
    let joined = a.ok(add("staff", u("alice")));
    let staff = a.view.group(D, "staff").unwrap().unwrap();
    assert_eq!(
        staff,
        GroupRecord {
            name: "staff".into(),
            domain: D.into(),
            display_name: Some("All staff".into()),
            email: Some("staff@example.com".into()),
            version: joined,
            created: made,
        }
    );
    assert!(renamed < joined);
    a.ok(Payload::GroupUpdated(GroupUpdated {
        group: "staff".into(),
        email: Some(None),
        ..GroupUpdated::default()
    }));
    let staff = a.view.group(D, "staff").unwrap().unwrap();
    assert_eq!(
        (staff.email, staff.display_name.as_deref()),
        (None, Some("All staff"))
    );

    let made = a.ok(room("boardroom"));
    let changed = a.ok(Payload::ResourceUpdated(ResourceUpdated {
        resource: "boardroom".into(),
        capacity: Some(None),
        location: Some(Some("Floor 5".into())),
        ..ResourceUpdated::default()
    }));
    let boardroom = a.view.resource(D, "boardroom").unwrap().unwrap();
    assert_eq!((boardroom.created, boardroom.version), (made, changed));
    assert_eq!(boardroom.capacity, None);
    assert_eq!(boardroom.location.as_deref(), Some("Floor 5"));
    assert_eq!(boardroom.domain, D);
}

#[test]
fn updates_follow_the_not_found_and_expected_version_rules() {
    let mut a = Fixture::new();
    a.ok(domain());
    let missing_group = Payload::GroupUpdated(GroupUpdated {
        group: "nope".into(),
        ..GroupUpdated::default()
    });
    assert!(matches!(
        a.rejected(missing_group),
        Rejection::NotFound { .. }
    ));
    let missing_resource = Payload::ResourceUpdated(ResourceUpdated {
        resource: "nope".into(),
        ..ResourceUpdated::default()
    });
    assert!(matches!(
        a.rejected(missing_resource),
        Rejection::NotFound { .. }
    ));
    let v = a.ok(group("staff"));
    let rename = Payload::GroupUpdated(GroupUpdated {
        group: "staff".into(),
        display_name: Some(Some("x".into())),
        ..GroupUpdated::default()
    });
    assert_eq!(
        a.rejected_expecting(rename.clone(), AggregateVersion(v.0 + 7)),
        Rejection::VersionConflict {
            expected: AggregateVersion(v.0 + 7),
            actual: v
        }
    );
    let event = envelope(a.harness.next, rename).expecting(v);
    assert!(matches!(a.apply_event(event), Outcome::Applied { .. }));
    let r = a.ok(room("boardroom"));
    let move_it = Payload::ResourceUpdated(ResourceUpdated {
        resource: "boardroom".into(),
        location: Some(None),
        ..ResourceUpdated::default()
    });
    assert!(matches!(
        a.rejected_expecting(move_it, AggregateVersion::ABSENT),
        Rejection::VersionConflict { actual, .. } if actual == r
    ));
}

#[test]
fn group_and_resource_names_follow_the_login_rule() {
    let mut a = Fixture::new();
    a.ok(domain());
    for bad in ["Staff", "a/b", "", "with space", "x@y"] {
        assert!(
            matches!(a.apply(group(bad)), Outcome::Quarantined { .. }),
            "{bad:?}"
        );
        assert!(
            matches!(a.apply(room(bad)), Outcome::Quarantined { .. }),
            "{bad:?}"
        );
    }
    assert!(a.view.groups(D).unwrap().is_empty());
}

#[test]
fn the_address_book_holds_a_card_per_enabled_user_group_and_resource() {
    let mut a = Fixture::new();
    let created = a.ok(domain());
    let book = a
        .view
        .address_book()
        .collection(D, gal::COLLECTION)
        .unwrap()
        .unwrap();
    assert_eq!(book.created, created);
    assert_eq!(
        book.props.display_name.as_deref(),
        Some("Example Inc directory")
    );
    assert!(a.cards().is_empty());

    let alice = a.ok(user("alice"));
    a.ok(user("bob"));
    let staff = a.ok(group("staff"));
    a.ok(group("paris"));
    a.ok(add("staff", u("alice")));
    a.ok(add("staff", g("paris")));
    a.ok(add("paris", u("bob")));
    a.ok(room("boardroom"));

    let cards = a.cards();
    assert_eq!(
        cards.keys().cloned().collect::<Vec<_>>(),
        [
            "group-paris.vcf",
            "group-staff.vcf",
            "resource-boardroom.vcf",
            "user-alice.vcf",
            "user-bob.vcf",
        ]
    );
    for (href, (meta, body)) in &cards {
        let card = formats::vcard::validate_card(body).unwrap();
        assert_eq!(card.uid.as_deref(), Some(meta.uid.as_str()), "{href}");
        assert_eq!(meta.component, None);
    }
    let alice_uid = gal::entry_uid(EntryKind::User, "alice", D, alice);
    assert_eq!(cards["user-alice.vcf"].0.uid, alice_uid);
    assert!(cards["user-alice.vcf"].1.contains("FN:ALICE Example\r\n"));
    assert!(cards["user-alice.vcf"].1.contains("ORG:Example Inc\r\n"));
    let staff_card = &cards["group-staff.vcf"].1;
    let paris = a.view.group(D, "paris").unwrap().unwrap();
    let paris_uid = gal::entry_uid(EntryKind::Group, "paris", D, paris.created);
    assert!(staff_card.contains(&format!("MEMBER:{alice_uid}\r\n")));
    assert!(staff_card.contains(&format!("MEMBER:{paris_uid}\r\n")));
    assert_eq!(
        cards["group-staff.vcf"].0.uid,
        gal::entry_uid(EntryKind::Group, "staff", D, staff)
    );
    assert!(cards["resource-boardroom.vcf"]
        .1
        .contains("KIND:location\r\n"));
    let book = a.view.address_book();
    assert_eq!(
        book.href_of_uid(D, gal::COLLECTION, &alice_uid).unwrap(),
        Some(user_href("alice"))
    );
    // The change list has every card once, for sync-collection.
    let changes = book
        .changes_since(D, gal::COLLECTION, AggregateVersion::ABSENT)
        .unwrap();
    assert_eq!(changes.len(), 5);
    assert!(changes.iter().all(|(_, c)| !c.deleted));
}

#[test]
fn only_the_cards_whose_text_changes_are_written() {
    let mut a = Fixture::new();
    a.ok(domain());
    a.ok(user("alice"));
    a.ok(user("bob"));
    a.ok(group("staff"));
    a.ok(group("all"));
    a.ok(add("staff", u("alice")));
    a.ok(add("staff", u("bob")));
    a.ok(add("all", g("staff")));
    a.ok(room("boardroom"));

    // A password change or an admin flag is not on any card.
    let (before, ctag) = (a.versions(), a.ctag());
    a.ok(update("alice", |e| {
        e.password_hash = Some(HASH.replace("aGFzaA", "bmV3"));
        e.admin = Some(true);
    }));
    assert_eq!((a.versions(), a.ctag()), (before.clone(), ctag));

    // A display name changes the user's card, not the groups' (their
    // MEMBER lines name the UID, which stays).
    let v = a.ok(update("alice", |e| {
        e.display_name = Some(Some("Alice L".into()))
    }));
    let after = a.versions();
    assert_changed(&before, &after, &[user_href("alice")]);
    assert_eq!(a.ctag(), v);
    assert!(a.cards()[&user_href("alice")].1.contains("FN:Alice L\r\n"));

    // Membership changes the group's card only.
    let before = after;
    a.ok(Payload::MemberRemoved(MemberRemoved {
        group: "staff".into(),
        member: u("bob"),
    }));
    let after = a.versions();
    assert_changed(&before, &after, &[group_href("staff")]);

    // Disabled users leave the address book and come back when enabled,
    // with the same text; their groups' cards stay.
    let before = after;
    let text = a.cards()[&user_href("alice")].1.clone();
    a.ok(Payload::UserDisabled(UserDisabled {
        login: "alice".into(),
    }));
    let after = a.versions();
    assert_changed(&before, &after, &[user_href("alice")]);
    assert!(!after.contains_key(&user_href("alice")));
    let changes = a
        .view
        .address_book()
        .changes_since(D, gal::COLLECTION, *before.values().max().unwrap())
        .unwrap();
    assert_eq!(changes.len(), 1);
    assert!(changes[0].1.deleted);
    let before = after;
    a.ok(update("alice", |e| e.enabled = Some(true)));
    let after = a.versions();
    assert_changed(&before, &after, &[user_href("alice")]);
    assert_eq!(a.cards()[&user_href("alice")].1, text);

    // A deleted user's card goes, and so does its MEMBER line.
    let before = after;
    a.ok(Payload::UserDeleted(UserDeleted {
        login: "alice".into(),
    }));
    let after = a.versions();
    assert_changed(&before, &after, &[user_href("alice"), group_href("staff")]);
    assert!(!a.cards()[&group_href("staff")].1.contains("MEMBER:"));

    // A deleted group's card goes, and its parent's MEMBER line.
    let before = after;
    a.ok(Payload::GroupDeleted(GroupDeleted {
        group: "staff".into(),
    }));
    let after = a.versions();
    assert_changed(&before, &after, &[group_href("staff"), group_href("all")]);

    let before = after;
    a.ok(Payload::ResourceUpdated(ResourceUpdated {
        resource: "boardroom".into(),
        capacity: Some(Some(20)),
        ..ResourceUpdated::default()
    }));
    a.ok(Payload::ResourceDeleted(ResourceDeleted {
        resource: "boardroom".into(),
    }));
    let after = a.versions();
    assert_changed(
        &before,
        &after,
        &[gal::href(EntryKind::Resource, "boardroom")],
    );
    assert_eq!(
        after.keys().collect::<Vec<_>>(),
        ["group-all.vcf", "user-bob.vcf"]
    );
}

#[test]
fn a_recreated_user_gets_a_new_uid() {
    let mut a = Fixture::new();
    a.ok(domain());
    a.ok(user("alice"));
    let first = a.cards()[&user_href("alice")].0.uid.clone();
    a.ok(Payload::UserDeleted(UserDeleted {
        login: "alice".into(),
    }));
    let again = a.ok(user("alice"));
    let second = a.cards()[&user_href("alice")].0.clone();
    assert_ne!(first, second.uid);
    assert_eq!(second.version, again);
    assert_eq!(
        a.view
            .address_book()
            .href_of_uid(D, gal::COLLECTION, &first)
            .unwrap(),
        None
    );
}

fn varied() -> Vec<EventEnvelope> {
    let mut payloads = vec![domain()];
    for login in ["alice", "bob", "carol", "dave"] {
        payloads.push(user(login));
    }
    payloads.extend([
        group("staff"),
        group("all"),
        add("staff", u("alice")),
        add("staff", u("bob")),
        add("all", g("staff")),
        add("all", u("carol")),
        add("staff", g("all")), // a cycle: rejected
        update("bob", |e| e.phone = Some(Some("+1 555".into()))),
        Payload::UserDisabled(UserDisabled {
            login: "carol".into(),
        }),
        Payload::UserDeleted(UserDeleted {
            login: "alice".into(),
        }),
        room("boardroom"),
        Payload::ResourceCreated(ResourceCreated {
            resource: "beamer".into(),
            kind: ResourceKind::Equipment,
            display_name: Some("Beamer".into()),
            email: None,
            capacity: None,
            location: None,
        }),
        Payload::GroupDeleted(GroupDeleted {
            group: "staff".into(),
        }),
        user("alice"),
    ]);
    payloads
        .into_iter()
        .enumerate()
        .map(|(n, p)| envelope(n as u64, p))
        .collect()
}

#[test]
fn two_runs_of_the_same_events_give_identical_views() {
    let events = varied();
    let mut one = Fixture::new();
    let mut all = Fixture::new();
    let a = one.run(&events, 1);
    let b = all.run(&events, events.len());
    assert_eq!(a, b);
    assert!(a.iter().any(|o| matches!(o, Outcome::Rejected { .. })));
    assert_eq!(one.digest(), all.digest());
    assert_eq!(one.cards(), all.cards());
    assert_eq!(
        all.cards().keys().cloned().collect::<Vec<_>>(),
        [
            "group-all.vcf",
            "resource-beamer.vcf",
            "resource-boardroom.vcf",
            "user-alice.vcf",
            "user-bob.vcf",
            "user-dave.vcf",
        ]
    );
}

#[test]
fn listings_page_in_key_order_with_cursors() {
    let mut a = Fixture::new();
    a.ok(domain());
    // Another domain's events are keyed by it.
    let other = |n, payload| {
        let mut e = envelope(n, payload);
        e.partition_key = "b.example".into();
        e
    };
    let event = other(
        a.harness.next,
        Payload::DomainCreated(DomainCreated {
            domain: "b.example".into(),
            display_name: None,
        }),
    );
    assert!(matches!(a.apply_event(event), Outcome::Applied { .. }));
    let mut logins: Vec<String> = (0..7).map(|i| format!("u{i}")).collect();
    for login in &logins {
        a.ok(user(login));
    }
    let event = other(a.harness.next, user("zed"));
    assert!(matches!(a.apply_event(event), Outcome::Applied { .. }));
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = a.view.users_page(Some(D), after.as_deref(), 3).unwrap();
        assert!(page.items.len() <= 3);
        seen.extend(page.items.iter().map(|u| u.login.clone()));
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, logins);
    // Across domains, by domain then login; the cursor names login@domain.
    let page = a.view.users_page(None, None, 1).unwrap();
    assert_eq!(page.next.as_deref(), Some("zed@b.example"));
    let rest = a.view.users_page(None, page.next.as_deref(), 100).unwrap();
    logins.truncate(7);
    assert_eq!(
        rest.items
            .iter()
            .map(|u| u.login.clone())
            .collect::<Vec<_>>(),
        logins
    );
    assert_eq!(rest.next, None);
    let domains = a.view.domains_page(None, 1).unwrap();
    assert_eq!(domains.items[0].name, "b.example");
    assert_eq!(domains.next.as_deref(), Some("b.example"));
    let last = a.view.domains_page(Some("b.example"), 1).unwrap();
    assert_eq!(last.items[0].name, D);
    assert_eq!(last.next, None);
    // A cursor from another domain starts at the domain asked for.
    let page = a
        .view
        .users_page(Some(D), Some("zed@b.example"), 2)
        .unwrap();
    assert_eq!(page.items[0].login, "u0");
}
