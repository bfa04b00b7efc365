//! A synthetic log for benchmarks and tests.
//!
//! [`Synthetic`] streams a realistic mix of events, fully determined by a
//! seed and a count: the same `(seed, events)` gives byte-identical events
//! (ids come from the generator's own PRNG, timestamps from a fixed base
//! time plus the event's index, never from the clock or the OS).
//!
//! The mix, by event count: about 60 % seen-flag changes, 25 % calendar
//! events (mostly `CalendarObjectPut` with 1-2 KB iCalendar bodies, a part
//! of them overwriting existing objects, a few deletions), 10 % contact
//! events (vCard 3.0 and 4.0) and 5 % directory events. Every event is
//! valid and applies without rejection when the log is replayed: each
//! domain is created before its users, each user (and its `default`
//! calendar and address book) before its data, no UID or membership is
//! used twice, and only live objects are updated or deleted.
//!
//! The number of users grows with the number of events (one per 500, at
//! least 10), so collections keep a realistic size whatever the count.
//! The generator keeps a few dozen bytes per user and nothing per event.
//!
//! [`Synthetic::with_users`] shapes an installation of a given size
//! instead (`reprise bench rebuild --users N`): the log starts with a
//! setup of every user (in up to 20 domains, each with its `default`
//! calendar and address book), every domain's groups (departments nested
//! in `staff`), each user's memberships, and the shares of a part of the
//! users' calendars and address books (with a user of the same domain or
//! a group, read or read-write, naming the version that created the
//! sharee as the DAV layer requires); then the same mix as above over
//! those users, where a read-write sharee also writes into the calendar
//! shared with them. The setup is a cursor over users, not a queue, so
//! the memory stays per user, not per event.

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};
use events::codec;
use events::log::OutgoingRecord;
use events::payload::{Access, AddressBookShared, CalendarShared, Sharee};
use events::payload::{
    AddressBookCreated, AddressBookProps, CalendarCreated, CalendarObjectDeleted,
    CalendarObjectPut, CalendarProps, ContactPut, DomainCreated, GroupCreated, MailboxSeenReset,
    Member, MemberAdded, MemberRemoved, ResourceCreated, ResourceKind, SeenAdded, SeenRemoved,
    UserCreated, UserUpdated,
};
use events::payload::{Cause, SchedulingCompleted, SchedulingDelivered, SchedulingRole};
use events::{
    AggregateVersion, Domain, EventEnvelope, EventId, EventLog, LogError, Payload, UidSet,
};
use formats::ical::itip;
use std::collections::VecDeque;
use uuid::Uuid;

/// Records per `append` call when writing a synthetic log.
pub const APPEND_BATCH: usize = 1000;

/// Events per user: the user count is `events / EVENTS_PER_USER`, at least
/// [`MIN_USERS`].
const EVENTS_PER_USER: u64 = 500;
const MIN_USERS: u64 = 10;

/// A domain per this many users, up to the size of [`DOMAINS`] (or
/// [`LEGACY_DOMAINS`]).
const USERS_PER_DOMAIN: usize = 5;
/// The domains a log shaped by its event count only uses: [`DOMAINS`]
/// had 8 entries when such logs were first written, and using more would
/// move users to other domains and change those logs.
const LEGACY_DOMAINS: usize = 8;
/// The most users [`Synthetic::with_users`] takes: a user is referred to
/// by a `u32` in the generator's state.
pub const MAX_USERS: u64 = 10_000_000;

/// 2024-03-01T08:00:00Z: the first event's time; each next one is
/// [`SECONDS_PER_EVENT`] later.
const BASE_TIME: i64 = 1_709_280_000;
const SECONDS_PER_EVENT: i64 = 3;

/// The actor of events written by the generator on behalf of an operator.
const SYSTEM_ACTOR: &str = "system:bench";
/// The actor of the scheduling effects it writes, as the leader records them.
const SCHEDULING_ACTOR: &str = "system:scheduling";

/// A real argon2id PHC string (of the password `reprise-bench`), so that
/// the synthetic users could even log in. The directory only checks the
/// `$argon2` prefix; a test checks the hash itself.
pub const PASSWORD_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$cmVwcmlzZS1iZW5jaC1zYWx0$ROBOmd7OrRs8I3QC42YOsNCtANbx0w4YqLLzMHgp6Vo";
/// What a password change sets (the same password, another salt).
pub const PASSWORD_HASH_2: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$YW5vdGhlci1iZW5jaC1zYWx0$GRuCl8NGSWY9CqkFr8riLYPcZUtEbOtLbASF21hgOts";

/// The calendar and address book every synthetic user gets.
const DEFAULT_COLLECTION: &str = "default";

// ---------------------------------------------------------------------------
// Randomness

/// splitmix64: tiny, fast, and good enough to make benchmark data.
#[derive(Clone, Debug)]
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        finalize(self.0)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi.saturating_sub(lo) + 1)
    }

    /// True with probability `percent` / 100.
    fn percent(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn bytes10(&mut self) -> [u8; 10] {
        let a = self.next_u64().to_le_bytes();
        let b = self.next_u64().to_le_bytes();
        [a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], b[0], b[1]]
    }
}

/// The splitmix64 output function.
fn finalize(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A stable hash of a few numbers: the properties of an entity (a user's
/// mailboxes, an object's kind) that must not change between its events.
fn mix(parts: &[u64]) -> u64 {
    let mut h: u64 = 0x243F_6A88_85A3_08D3;
    for &p in parts {
        h = finalize(h ^ p.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    }
    h
}

/// A random (version 4) UUID from a stable hash.
fn uuid_from(parts: &[u64]) -> Uuid {
    let hi = mix(parts);
    let lo = finalize(hi ^ 0x5851_F42D_4C95_7F2D);
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&hi.to_be_bytes());
    bytes[8..].copy_from_slice(&lo.to_be_bytes());
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

fn pick<T: Copy>(items: &[T], h: u64) -> T {
    items[(h % items.len() as u64) as usize]
}

// Salts for `mix`, one per kind of entity.
const SALT_USER: u64 = 1;
const SALT_MAILBOX: u64 = 2;
const SALT_CALENDAR: u64 = 3;
const SALT_CARD: u64 = 4;
const SALT_PERSON: u64 = 5;
const SALT_MEMBER: u64 = 6;
const SALT_SHARE: u64 = 7;

// ---------------------------------------------------------------------------
// Vocabulary

/// (display, login) first names; logins are ASCII transliterations.
const FIRST_NAMES: [(&str, &str); 24] = [
    ("Anna", "anna"),
    ("Jürgen", "juergen"),
    ("Zoë", "zoe"),
    ("François", "francois"),
    ("Léa", "lea"),
    ("Søren", "soeren"),
    ("María", "maria"),
    ("José", "jose"),
    ("Chloé", "chloe"),
    ("Björn", "bjoern"),
    ("Ines", "ines"),
    ("Mehmet", "mehmet"),
    ("Olga", "olga"),
    ("Kenji", "kenji"),
    ("Aoife", "aoife"),
    ("Lukas", "lukas"),
    ("Emma", "emma"),
    ("Noah", "noah"),
    ("Amélie", "amelie"),
    ("Mateo", "mateo"),
    ("Sofia", "sofia"),
    ("Hannah", "hannah"),
    ("Ömer", "oemer"),
    ("Camille", "camille"),
];

const LAST_NAMES: [(&str, &str); 24] = [
    ("Gruber", "gruber"),
    ("Müller", "mueller"),
    ("Dubois", "dubois"),
    ("Lefèvre", "lefevre"),
    ("García", "garcia"),
    ("Lindqvist", "lindqvist"),
    ("Nowak", "nowak"),
    ("O'Brien", "obrien"),
    ("Rossi", "rossi"),
    ("Schäfer", "schaefer"),
    ("Yılmaz", "yilmaz"),
    ("Tanaka", "tanaka"),
    ("Kowalski", "kowalski"),
    ("Fernández", "fernandez"),
    ("Novák", "novak"),
    ("Haddad", "haddad"),
    ("Petit", "petit"),
    ("Weiß", "weiss"),
    ("Jansen", "jansen"),
    ("Moreau", "moreau"),
    ("Ivanova", "ivanova"),
    ("Costa", "costa"),
    ("Bauer", "bauer"),
    ("Nguyen", "nguyen"),
];

/// (domain, display name) of the directory domains, in creation order.
/// Logs shaped by their event count use the first [`LEGACY_DOMAINS`].
const DOMAINS: [(&str, &str); 20] = [
    ("example.com", "Example Corp"),
    ("beispiel.de", "Beispiel GmbH"),
    ("exemple.fr", "Exemple SARL"),
    ("example.org", "Example Foundation"),
    ("ejemplo.es", "Ejemplo S.L."),
    ("esempio.it", "Esempio S.p.A."),
    ("voorbeeld.nl", "Voorbeeld B.V."),
    ("example.net", "Example Networks"),
    ("example.co.uk", "Example Holdings Ltd"),
    ("beispiel.at", "Beispiel Handels GmbH"),
    ("exemple.be", "Exemple & Fils SRL"),
    ("beispiel.ch", "Beispiel AG"),
    ("exemplo.pt", "Exemplo, Lda."),
    ("exemplo.com.br", "Exemplo Tecnologia Ltda."),
    ("exempel.se", "Exempel AB"),
    ("eksempel.no", "Eksempel AS"),
    ("esimerkki.fi", "Esimerkki Oy"),
    ("przyklad.pl", "Przykład sp. z o.o."),
    ("priklad.cz", "Příklad s.r.o."),
    ("pelda.hu", "Példa Kft."),
];

const GROUP_COUNT: usize = 8;

/// Groups of a domain; the first contains the others.
const GROUPS: [(&str, &str); GROUP_COUNT] = [
    ("staff", "All staff"),
    ("engineering", "Engineering"),
    ("sales", "Vertrieb / Sales"),
    ("support", "Support"),
    ("direction", "Direction générale"),
    ("compta", "Comptabilité"),
    ("marketing", "Marketing"),
    ("it-ops", "IT Operations"),
];

/// How users of an installation shaped by its user count are spread over
/// the departments (the groups after `staff`), in percent.
const DEPARTMENT_WEIGHTS: [u64; GROUP_COUNT - 1] = [30, 20, 20, 3, 9, 10, 8];

/// Percent of users in a second department.
const SECOND_DEPARTMENT: u64 = 15;
/// Percent of users who share their default calendar, and of those, who
/// share it with a second sharee.
const CALENDAR_SHARERS: u64 = 30;
const SECOND_SHAREE: u64 = 25;
/// Percent of users who share their default address book.
const ADDRESS_BOOK_SHARERS: u64 = 10;
/// Percent of shares whose sharee is a user of the owner's domain (the
/// others: a group of it).
const SHARED_WITH_A_USER: u64 = 65;
/// Percent of read-write grants to a user, and to a group.
const USER_READ_WRITE: u64 = 40;
const GROUP_READ_WRITE: u64 = 15;
/// Percent of the calendar events of a user with a read-write sharee that
/// the sharee writes (an assistant keeping a manager's calendar).
const SHAREE_WRITES: u64 = 10;

/// (name, kind, display name, capacity, location) of bookable resources.
const RESOURCES: [(&str, ResourceKind, &str, Option<u32>, &str); 6] = [
    (
        "salle-lumiere",
        ResourceKind::Room,
        "Salle Lumière",
        Some(12),
        "3e étage, aile B",
    ),
    (
        "raum-2-14",
        ResourceKind::Room,
        "Besprechungsraum 2.14",
        Some(8),
        "2. OG",
    ),
    (
        "boardroom",
        ResourceKind::Room,
        "Boardroom",
        Some(20),
        "Floor 5",
    ),
    (
        "beamer-1",
        ResourceKind::Equipment,
        "Beamer Epson EB-L520U",
        None,
        "Empfang",
    ),
    (
        "car-zoe",
        ResourceKind::Equipment,
        "Renault Zoé (pool car)",
        None,
        "Parking P2",
    ),
    (
        "focus-room",
        ResourceKind::Room,
        "Focus room",
        Some(2),
        "Floor 2",
    ),
];

/// Mailboxes beside INBOX; a user has a rotation of some of them.
const MAILBOXES: [&str; 10] = [
    "INBOX/Archives/2024",
    "Entwürfe",
    "Sent",
    "Gesendete Elemente",
    "Projekte/Ausschreibung 2025",
    "Boîte d'envoi",
    "Archives/2023/Q4",
    "Корзина",
    "Spam",
    "INBOX/Rechnungen & Belege",
];
const MAILBOX_SLOTS: usize = 8;

const TIMEZONES: [(&str, &str); 2] = [
    (
        "Europe/Paris",
        "BEGIN:VTIMEZONE\r\n\
         TZID:Europe/Paris\r\n\
         X-LIC-LOCATION:Europe/Paris\r\n\
         BEGIN:DAYLIGHT\r\n\
         TZOFFSETFROM:+0100\r\n\
         TZOFFSETTO:+0200\r\n\
         TZNAME:CEST\r\n\
         DTSTART:19700329T020000\r\n\
         RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\n\
         END:DAYLIGHT\r\n\
         BEGIN:STANDARD\r\n\
         TZOFFSETFROM:+0200\r\n\
         TZOFFSETTO:+0100\r\n\
         TZNAME:CET\r\n\
         DTSTART:19701025T030000\r\n\
         RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\n\
         END:STANDARD\r\n\
         END:VTIMEZONE\r\n",
    ),
    (
        "America/New_York",
        "BEGIN:VTIMEZONE\r\n\
         TZID:America/New_York\r\n\
         LAST-MODIFIED:20240422T053450Z\r\n\
         BEGIN:DAYLIGHT\r\n\
         TZOFFSETFROM:-0500\r\n\
         TZOFFSETTO:-0400\r\n\
         TZNAME:EDT\r\n\
         DTSTART:20070311T020000\r\n\
         RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU\r\n\
         END:DAYLIGHT\r\n\
         BEGIN:STANDARD\r\n\
         TZOFFSETFROM:-0400\r\n\
         TZOFFSETTO:-0500\r\n\
         TZNAME:EST\r\n\
         DTSTART:20071104T020000\r\n\
         RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU\r\n\
         END:STANDARD\r\n\
         END:VTIMEZONE\r\n",
    ),
];

const PRODIDS: [&str; 4] = [
    "-//Apple Inc.//macOS 14.4.1//EN",
    "-//Mozilla.org/NONSGML Mozilla Calendar V1.1//EN",
    "-//IDN nextcloud.com//Calendar app 4.6.5//EN",
    "-//Sabre//Sabre VObject 4.5.4//EN",
];

const MEETINGS: [&str; 14] = [
    "Weekly sync",
    "Réunion d'équipe",
    "Jour fixe Vertrieb",
    "Sprint planning",
    "Quartalsabschluss: Review",
    "Code review, then retro",
    "Budget review Q3",
    "Kundentermin München",
    "Conférence téléphonique avec le client",
    "Project kickoff: Ausschreibung 2025",
    "Onboarding new colleagues",
    "Architecture board",
    "Lunch & learn: event sourcing",
    "Entretien annuel",
];

const PRIVATE: [&str; 6] = [
    "Dentist",
    "Yoga",
    "Elternabend",
    "Déjeuner chez Mamie",
    "Football training",
    "Car service (Werkstatt)",
];

const ALL_DAY: [&str; 6] = [
    "Congés",
    "Betriebsausflug",
    "Public holiday",
    "Salon Vivatech, Paris",
    "Urlaub – Ostsee",
    "Team offsite",
];

const TODOS: [&str; 8] = [
    "Renew passport",
    "Steuererklärung abgeben",
    "Envoyer le devis signé",
    "Review the pull request for the sync engine",
    "Buy milk, eggs and bread",
    "Book flights for the offsite",
    "Reisekostenabrechnung März",
    "Prepare slides; send to the board",
];

const LOCATIONS: [&str; 7] = [
    "Salle Lumière, 3e étage",
    "Besprechungsraum 2.14",
    "Conference Room B",
    "Café Central, Herrengasse 14, 1010 Wien",
    "https://meet.example.com/abc-defg-hij",
    "Zoom",
    "Bureau de Lyon; salle 4",
];

const DESCRIPTIONS: [&str; 6] = [
    "Agenda:\n1. Status of the open tickets\n2. Blockers, risks and plans\n3. AOB\n\nPlease \
     update the board before the meeting; minutes will be sent afterwards.",
    "Bonjour à tous,\n\nvoici l'ordre du jour : bilan du trimestre, budget 2025, questions \
     diverses. Merci d'apporter vos chiffres.\n\nCordialement",
    "Hallo zusammen,\nwir besprechen den aktuellen Stand der Ausschreibung und die nächsten \
     Schritte. Unterlagen liegen im Teams-Ordner »Ausschreibung 2025«.\nViele Grüße",
    "Join: https://meet.example.com/abc-defg-hij\nMeeting ID: 812 5550 1234\nPasscode: 4711\n\n\
     Dial in: +33 1 70 37 97 29 (France), +49 30 5679 5800 (Deutschland)",
    "Bring the laptop, the signed NDA and the printed slides (colour, 2 per page).",
    "Notes from last time: the customer wants weekly reports; the invoice (n° 2024-117) is still \
     open; check with accounting.",
];

const COMPANIES: [(&str, &str); 8] = [
    ("Gruber & Partner Architekten", "gruber-partner.example.at"),
    ("Boulangerie Dupont SARL", "dupont.example.fr"),
    ("Müller Logistik GmbH", "mueller-logistik.example.de"),
    ("Acme Corp.", "acme.example.com"),
    ("Nordisk Design AB", "nordisk.example.se"),
    ("Estudio García S.L.", "estudio-garcia.example.es"),
    ("Studio Rossi", "studiorossi.example.it"),
    ("Nguyen Consulting", "nguyen-consulting.example.net"),
];

const TITLES: [&str; 6] = [
    "Partner",
    "Geschäftsführerin",
    "Chef de projet",
    "Account Manager",
    "Head of Engineering",
    "Comptable",
];

/// (street, city, region, postcode, country, phone prefix)
const ADDRESSES: [(&str, &str, &str, &str, &str, &str); 6] = [
    ("Herrengasse 14", "Wien", "", "1010", "Austria", "+43 660"),
    ("12 rue de la Paix", "Paris", "", "75002", "France", "+33 6"),
    (
        "Drottninggatan 53",
        "Stockholm",
        "",
        "111 21",
        "Sweden",
        "+46 70",
    ),
    (
        "350 Fifth Avenue",
        "New York",
        "NY",
        "10118",
        "USA",
        "+1 212",
    ),
    (
        "Calle de Alcalá 42",
        "Madrid",
        "",
        "28014",
        "Spain",
        "+34 612",
    ),
    (
        "Friedrichstraße 68",
        "Berlin",
        "",
        "10117",
        "Germany",
        "+49 151",
    ),
];

const NOTES: [&str; 4] = [
    "Met at the Architektur Biennale 2023.\nPrefers calls after 10am.",
    "Book club, second Tuesday of the month.",
    "Allergique aux arachides ; préfère le thé.",
    "Ansprechpartnerin für Rechnungen; Kundennummer 10-4471.",
];

// ---------------------------------------------------------------------------
// Text helpers

/// Appends one content line, folded at 75 octets (on character
/// boundaries), with CRLF.
fn push_line(out: &mut String, line: &str) {
    let mut width = 0;
    for c in line.chars() {
        if width + c.len_utf8() > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += c.len_utf8();
    }
    out.push_str("\r\n");
}

/// Escapes a TEXT value (RFC 5545 section 3.3.11, RFC 6350 section 3.4).
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

fn utc_stamp(t: DateTime<Utc>) -> String {
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn date_value(d: NaiveDate) -> String {
    format!("{:04}{:02}{:02}", d.year(), d.month(), d.day())
}

/// A local date-time, minutes from midnight.
fn local(d: NaiveDate, minutes: u32) -> String {
    format!(
        "{}T{:02}{:02}00",
        date_value(d),
        (minutes / 60).min(23),
        minutes % 60
    )
}

fn add_days(d: NaiveDate, days: u64) -> NaiveDate {
    d.checked_add_days(chrono::Days::new(days)).unwrap_or(d)
}

/// A person outside the directory (attendees, contacts).
struct Person {
    first: (&'static str, &'static str),
    last: (&'static str, &'static str),
}

impl Person {
    fn from_hash(h: u64) -> Person {
        Person {
            first: pick(&FIRST_NAMES, h),
            last: pick(&LAST_NAMES, h >> 8),
        }
    }

    fn display(&self) -> String {
        format!("{} {}", self.first.0, self.last.0)
    }

    fn email(&self, domain: &str) -> String {
        format!("{}.{}@{domain}", self.first.1, self.last.1)
    }
}

// ---------------------------------------------------------------------------
// The generator

/// What the generator remembers of one user: enough to keep every event
/// valid, a few dozen bytes.
#[derive(Clone, Debug, Default)]
struct UserState {
    /// The next UID of each mailbox slot (0: INBOX).
    uidnext: [u32; MAILBOX_SLOTS],
    /// Calendar objects ever put (indices `0..calendar_next`).
    calendar_next: u32,
    /// Objects below this index were deleted (oldest first).
    calendar_live_from: u32,
    /// Cards ever put.
    cards_next: u32,
    /// Groups of the user's domain the user is a member of (bit = index).
    groups: u8,
    /// 1 + the user who holds a read-write grant on this user's default
    /// calendar (0: nobody), who therefore may write into it.
    calendar_writer: u32,
    /// The version that created the user (offset + 1 of its
    /// `UserCreated` in its directory partition; 0 until emitted): what a
    /// grant to the user names as `sharee_since`.
    created: u64,
}

#[derive(Clone, Debug, Default)]
struct DomainState {
    created: bool,
    groups: u8,
    resources: u8,
    /// The version that created each group (0 until emitted).
    group_created: [u64; GROUP_COUNT],
}

/// What the stream must remember of an event once it is emitted.
#[derive(Clone, Copy, Debug)]
enum Mark {
    /// The `UserCreated` of this user: its version is the user's.
    User(usize),
    /// The `GroupCreated` of (domain, group).
    Group(usize, usize),
}

/// An event decided but not yet stamped with its id and time.
struct Pending {
    key: String,
    actor: String,
    correlation: Option<Uuid>,
    payload: Payload,
    mark: Option<Mark>,
    /// The users of the directory a meeting invites (see
    /// [`Synthetic::with_scheduling`]).
    invited: Vec<usize>,
}

impl Pending {
    /// An event of a user's own (key and actor are the user).
    fn own(principal: String, payload: Payload) -> Pending {
        Pending {
            actor: principal.clone(),
            key: principal,
            correlation: None,
            payload,
            mark: None,
            invited: Vec::new(),
        }
    }
}

/// A sharee chosen for a grant.
struct Grantee {
    sharee: Sharee,
    /// The version that created the sharee.
    since: AggregateVersion,
    access: Access,
    /// The user, when the sharee is one.
    user: Option<usize>,
}

/// Where the setup of an installation shaped by its user count
/// ([`Synthetic::with_users`]) stands. Each step queues the events of one
/// user (or group), so the queue never holds more than a few.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Setup {
    /// Creating users, in index order (`Synthetic::created` is the next).
    Users,
    /// Creating the groups of each domain that has users.
    Groups {
        domain: usize,
        group: usize,
    },
    /// Adding each user to one or two departments.
    Members(usize),
    /// Sharing a part of the users' default calendars and address books.
    Shares(usize),
    Done,
}

/// A deterministic stream of valid events; see the module documentation.
pub struct Synthetic {
    seed: u64,
    rng: Rng,
    total: u64,
    emitted: u64,
    users: Vec<UserState>,
    domains: Vec<DomainState>,
    /// Users whose creation was decided (they are created in index order).
    created: usize,
    /// Users whose creation events were all emitted: only those get data.
    ready: usize,
    /// Users created at the start; the others join over time.
    initial: usize,
    queue: VecDeque<Pending>,
    /// The setup still to emit; `None` for a log shaped by its event count.
    setup: Option<Setup>,
    /// The offset the next record of each partition of the directory
    /// topic gets (the log starts empty), so that the versions creating
    /// users and groups are known when a grant names them.
    directory_ends: Vec<u64>,
    /// Percent of new events that are meetings inviting users of the
    /// directory (0: none, and the log is as it was before scheduling).
    scheduling: u64,
    /// The offset the next record of each partition of the calendar topic
    /// gets, when meetings are made: their effects name their cause by it.
    calendar_ends: Vec<u64>,
}

impl Synthetic {
    /// Makes `percent` of the new calendar events meetings that invite one
    /// to three users of the organizer's domain, each followed by what the
    /// leader's scheduling would append: a `SchedulingDelivered` per
    /// invited user and a `SchedulingCompleted`. `calendar_partitions` is
    /// the partition count of the (empty) calendar topic, whose offsets
    /// name the causes.
    pub fn with_scheduling(mut self, percent: u64, calendar_partitions: u32) -> Synthetic {
        self.scheduling = percent.min(100);
        self.calendar_ends = vec![0; calendar_partitions.max(1) as usize];
        self
    }

    /// A generator of exactly `events` events.
    pub fn new(seed: u64, events: u64) -> Synthetic {
        let users = (events / EVENTS_PER_USER).max(MIN_USERS) as usize;
        let domains = (users / USERS_PER_DOMAIN).clamp(1, LEGACY_DOMAINS);
        let initial = (users / 10).max(MIN_USERS as usize).min(users);
        let mut s = Synthetic {
            seed,
            rng: Rng(mix(&[seed, 0x5EED])),
            total: events,
            emitted: 0,
            users: vec![UserState::default(); users],
            domains: vec![DomainState::default(); domains],
            created: 0,
            ready: 0,
            initial,
            queue: VecDeque::new(),
            setup: None,
            // Versions are only named by the shares of `with_users`.
            directory_ends: vec![0],
            scheduling: 0,
            calendar_ends: vec![0],
        };
        for _ in 0..initial {
            s.create_user();
        }
        s
    }

    /// A generator of exactly `events` events for an installation of
    /// `users` users (at least 1, at most [`MAX_USERS`]), all set up at the
    /// start of the log (about five events per user: fewer `events` cut
    /// the setup short). `directory_partitions` is the partition count of
    /// the directory topic the log will be written to, empty at first:
    /// the shares name the versions that created their sharees, which are
    /// offsets in it.
    pub fn with_users(seed: u64, events: u64, users: u64, directory_partitions: u32) -> Synthetic {
        let users = users.clamp(1, MAX_USERS) as usize;
        let domains = (users / USERS_PER_DOMAIN).clamp(1, DOMAINS.len());
        Synthetic {
            seed,
            rng: Rng(mix(&[seed, 0x5EED, users as u64])),
            total: events,
            emitted: 0,
            users: vec![UserState::default(); users],
            domains: vec![DomainState::default(); domains],
            created: 0,
            ready: 0,
            // All of them: none is left to join over time.
            initial: users,
            queue: VecDeque::new(),
            setup: Some(Setup::Users),
            directory_ends: vec![0; directory_partitions.max(1) as usize],
            scheduling: 0,
            calendar_ends: vec![0],
        }
    }

    /// How many users the generator will create at most.
    pub fn user_count(&self) -> usize {
        self.users.len()
    }

    fn user_domain(&self, u: usize) -> usize {
        (mix(&[self.seed, SALT_USER, u as u64]) % self.domains.len() as u64) as usize
    }

    fn domain_name(&self, u: usize) -> &'static str {
        DOMAINS[self.user_domain(u)].0
    }

    /// The user's login: `first.last`, with a number once the name
    /// combinations run out. Unique by construction.
    fn login(&self, u: usize) -> String {
        let n = (FIRST_NAMES.len() * LAST_NAMES.len()) as u64;
        let combo = (u as u64).wrapping_mul(7919) % n;
        let round = u as u64 / n;
        let first = FIRST_NAMES[(combo % FIRST_NAMES.len() as u64) as usize].1;
        let last = LAST_NAMES[(combo / FIRST_NAMES.len() as u64) as usize].1;
        if round == 0 {
            format!("{first}.{last}")
        } else {
            format!("{first}.{last}{}", round + 1)
        }
    }

    fn display_name(&self, u: usize) -> String {
        let n = (FIRST_NAMES.len() * LAST_NAMES.len()) as u64;
        let combo = (u as u64).wrapping_mul(7919) % n;
        let first = FIRST_NAMES[(combo % FIRST_NAMES.len() as u64) as usize].0;
        let last = LAST_NAMES[(combo / FIRST_NAMES.len() as u64) as usize].0;
        format!("{first} {last}")
    }

    /// `login@domain`: the user's email and the partition key of its data.
    fn principal(&self, u: usize) -> String {
        format!("{}@{}", self.login(u), self.domain_name(u))
    }

    fn timezone(&self, u: usize) -> (&'static str, &'static str) {
        if mix(&[self.seed, SALT_USER, u as u64, 7]) % 10 < 7 {
            TIMEZONES[0]
        } else {
            TIMEZONES[1]
        }
    }

    /// The user's mailboxes: INBOX and 2 to 7 others.
    fn mailbox_count(&self, u: usize) -> usize {
        3 + (mix(&[self.seed, SALT_MAILBOX, u as u64]) % 6) as usize
    }

    fn mailbox(&self, u: usize, slot: usize) -> &'static str {
        if slot == 0 {
            return "INBOX";
        }
        let rotation =
            (mix(&[self.seed, SALT_MAILBOX, u as u64, 1]) % MAILBOXES.len() as u64) as usize;
        MAILBOXES[(rotation + slot - 1) % MAILBOXES.len()]
    }

    /// Users due by now: the initial ones, then steadily over the first
    /// 90 % of the log.
    fn due_users(&self) -> usize {
        let later = (self.users.len() - self.initial) as u128;
        let span = (u128::from(self.total) * 9 / 10).max(1);
        let due = later * u128::from(self.emitted) / span;
        self.initial + (due as usize).min(self.users.len() - self.initial)
    }

    fn push(&mut self, key: String, actor: &str, correlation: Option<Uuid>, payload: Payload) {
        self.queue.push_back(Pending {
            key,
            actor: actor.to_string(),
            correlation,
            payload,
            mark: None,
            invited: Vec::new(),
        });
    }

    /// Marks the event queued last.
    fn mark_last(&mut self, mark: Mark) {
        if let Some(last) = self.queue.back_mut() {
            last.mark = Some(mark);
        }
    }

    /// Queues the creation of the next user: its domain when new, the user,
    /// its default calendar and address book.
    fn create_user(&mut self) {
        let u = self.created;
        self.created += 1;
        let d = self.user_domain(u);
        let (domain, domain_display) = DOMAINS[d];
        let correlation = Some(uuid::Builder::from_random_bytes(self.bytes16()).into_uuid());
        if !self.domains[d].created {
            self.domains[d].created = true;
            self.push(
                domain.to_string(),
                SYSTEM_ACTOR,
                correlation,
                Payload::DomainCreated(DomainCreated {
                    domain: domain.to_string(),
                    display_name: Some(domain_display.to_string()),
                }),
            );
        }
        let principal = self.principal(u);
        let h = mix(&[self.seed, SALT_USER, u as u64, 3]);
        self.push(
            domain.to_string(),
            SYSTEM_ACTOR,
            correlation,
            Payload::UserCreated(UserCreated {
                login: self.login(u),
                email: principal.clone(),
                display_name: Some(self.display_name(u)),
                password_hash: PASSWORD_HASH.to_string(),
                admin: h.is_multiple_of(40),
                phone: None,
            }),
        );
        self.mark_last(Mark::User(u));
        let (tzid, _) = self.timezone(u);
        let calendar_name = pick(&["Calendar", "Kalender", "Calendrier", "Personal"], h >> 8);
        let color = pick(
            &["#1BADF8FF", "#63DA38FF", "#FF2968FF", "#CC73E1FF"],
            h >> 16,
        );
        self.push(
            principal.clone(),
            SYSTEM_ACTOR,
            correlation,
            Payload::CalendarCreated(CalendarCreated {
                calendar: DEFAULT_COLLECTION.to_string(),
                props: CalendarProps {
                    display_name: Some(calendar_name.to_string()),
                    color: Some(color.to_string()),
                    description: None,
                    timezone: Some(tzid.to_string()),
                    components: vec!["VEVENT".to_string(), "VTODO".to_string()],
                    dead: Default::default(),
                },
            }),
        );
        self.push(
            principal,
            SYSTEM_ACTOR,
            correlation,
            Payload::AddressBookCreated(AddressBookCreated {
                address_book: DEFAULT_COLLECTION.to_string(),
                props: AddressBookProps {
                    display_name: Some("Contacts".to_string()),
                    ..AddressBookProps::default()
                },
            }),
        );
        let mut state = UserState::default();
        for (slot, next) in state.uidnext.iter_mut().enumerate() {
            let history = if slot == 0 { 3000 } else { 400 };
            *next =
                1 + (mix(&[self.seed, SALT_MAILBOX, u as u64, 2, slot as u64]) % history) as u32;
        }
        self.users[u] = state;
    }

    fn bytes16(&mut self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.rng.next_u64().to_le_bytes());
        b[8..].copy_from_slice(&self.rng.next_u64().to_le_bytes());
        b
    }

    /// A user to act for: a quarter of the activity comes from the first
    /// tenth of the users (heavy users), the rest is spread evenly.
    fn pick_user(&mut self) -> usize {
        let ready = self.ready.max(1) as u64;
        let u = if self.rng.percent(25) {
            self.rng.below((ready / 10).max(1))
        } else {
            self.rng.below(ready)
        };
        u as usize
    }

    /// Decides the next event when nothing is queued.
    fn generate(&mut self) -> Pending {
        let roll = self.rng.below(100);
        match roll {
            0..=59 => self.seen(),
            60..=84 => self.calendar(),
            85..=94 => self.contact(),
            _ => self.directory(),
        }
    }

    fn seen(&mut self) -> Pending {
        let u = self.pick_user();
        let slots = self.mailbox_count(u);
        let slot = if self.rng.percent(50) {
            0
        } else {
            1 + self.rng.below(slots as u64 - 1) as usize
        };
        let mailbox = self.mailbox(u, slot).to_string();
        let next = self.users[u].uidnext[slot].max(1);
        let roll = self.rng.below(1000);
        let payload = if roll < 5 {
            // The mailbox was recreated: a new UIDVALIDITY, UIDs restart.
            self.users[u].uidnext[slot] = 1;
            Payload::MailboxSeenReset(MailboxSeenReset { mailbox })
        } else if roll < 190 && next > 1 {
            // Marked unread again: one or a few old messages.
            let a = 1 + self.rng.below(u64::from(next - 1)) as u32;
            let ranges = if self.rng.percent(70) {
                vec![(a, a)]
            } else {
                let b = (a + self.rng.below(4) as u32).min(next - 1);
                let c = 1 + self.rng.below(u64::from(next - 1)) as u32;
                vec![(a, b), (c, c)]
            };
            Payload::SeenRemoved(SeenRemoved {
                mailbox,
                uids: uid_set(ranges),
            })
        } else {
            let style = self.rng.below(100);
            let ranges = if style < 70 || next <= 1 {
                // New mail arrived and was read, maybe with unread ones left.
                let arrived = 1 + self.rng.below(4) as u32;
                let skipped = if self.rng.percent(20) {
                    self.rng.below(3) as u32
                } else {
                    0
                };
                let first = next.saturating_add(skipped);
                let last = first.saturating_add(arrived - 1);
                self.users[u].uidnext[slot] = last.saturating_add(1);
                vec![(first, last)]
            } else if style < 92 {
                // A few older messages read one by one.
                (0..self.rng.between(2, 5))
                    .map(|_| {
                        let x = 1 + self.rng.below(u64::from(next - 1)) as u32;
                        (x, x)
                    })
                    .collect()
            } else {
                // "Mark all as read".
                vec![(1, next - 1)]
            };
            Payload::SeenAdded(SeenAdded {
                mailbox,
                uids: uid_set(ranges),
            })
        };
        Pending::own(self.principal(u), payload)
    }

    fn calendar(&mut self) -> Pending {
        let u = self.pick_user();
        let state = self.users[u].clone();
        let live = state.calendar_next - state.calendar_live_from;
        let roll = self.rng.below(100);
        let key = self.principal(u);
        if roll < 4 && live > 5 {
            // Clean-up: the oldest object goes.
            let k = state.calendar_live_from;
            self.users[u].calendar_live_from += 1;
            let (href, _) = self.calendar_ids(u, k);
            return Pending::own(
                key,
                Payload::CalendarObjectDeleted(CalendarObjectDeleted {
                    calendar: DEFAULT_COLLECTION.to_string(),
                    href,
                    scheduling: None,
                }),
            );
        }
        let (k, revision) = if roll < 30 && live > 0 {
            let k = state.calendar_live_from + self.rng.below(u64::from(live)) as u32;
            (k, 1 + self.rng.below(6) as u32)
        } else {
            self.users[u].calendar_next += 1;
            (state.calendar_next, 0)
        };
        let (href, uid) = self.calendar_ids(u, k);
        let stamp = self.time_of(self.emitted);
        let mut ical = self.calendar_body(u, k, revision, &uid, stamp);
        let mut scheduling = None;
        let mut invited = Vec::new();
        // Asked only when meetings are made, so that other logs keep
        // their random stream.
        if self.scheduling > 0
            && revision == 0
            && ical.contains("\r\nORGANIZER")
            && self.rng.percent(self.scheduling)
        {
            let h = self.rng.next_u64();
            for i in 0..1 + h % 3 {
                if let Some(v) = self.same_domain_user(u, mix(&[h, i])) {
                    if !invited.contains(&v) {
                        invited.push(v);
                    }
                }
            }
            let lines: String = invited
                .iter()
                .map(|&v| {
                    let mut line = String::new();
                    push_line(
                        &mut line,
                        &format!(
                            "ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE;CN=\"{}\":mailto:{}",
                            self.display_name(v),
                            self.principal(v)
                        ),
                    );
                    line
                })
                .collect();
            if !invited.is_empty() {
                ical = ical.replacen("CLASS:PUBLIC\r\n", &format!("{lines}CLASS:PUBLIC\r\n"), 1);
                scheduling = Some(SchedulingRole::Organizer {
                    address: format!("mailto:{key}"),
                });
            }
        }
        let mut pending = Pending::own(
            key,
            Payload::CalendarObjectPut(CalendarObjectPut {
                calendar: DEFAULT_COLLECTION.to_string(),
                href,
                uid,
                ical,
                ical_object: None,
                scheduling,
            }),
        );
        pending.invited = invited;
        // The read-write sharee writes a part of it (only with_users
        // shares: the roll is skipped otherwise, so that logs shaped by
        // their event count stay as they were).
        if state.calendar_writer != 0 && self.rng.percent(SHAREE_WRITES) {
            pending.actor = self.principal(state.calendar_writer as usize - 1);
        }
        pending
    }

    /// (href, UID) of a user's k-th calendar object.
    fn calendar_ids(&self, u: usize, k: u32) -> (String, String) {
        let id = uuid_from(&[self.seed, SALT_CALENDAR, u as u64, u64::from(k)]);
        let h = mix(&[self.seed, SALT_CALENDAR, u as u64, u64::from(k), 1]);
        let uid = match h % 3 {
            0 => id.hyphenated().to_string().to_uppercase(),
            1 => format!("{}@{}", id.simple(), self.domain_name(u)),
            _ => id.hyphenated().to_string(),
        };
        (format!("{}.ics", id.hyphenated()), uid)
    }

    /// A VCALENDAR holding the user's k-th object at a revision (0: as
    /// first written). Its kind and date never change between revisions.
    fn calendar_body(
        &self,
        u: usize,
        k: u32,
        revision: u32,
        uid: &str,
        stamp: DateTime<Utc>,
    ) -> String {
        let h = mix(&[self.seed, SALT_CALENDAR, u as u64, u64::from(k), 2]);
        let (tzid, vtimezone) = self.timezone(u);
        let organizer_name = self.display_name(u);
        let organizer_email = self.principal(u);
        let base = NaiveDate::from_ymd_opt(2024, 1, 8).unwrap_or_default();
        let day = add_days(base, (h >> 8) % 420);
        let start = (8 * 60 + ((h >> 20) % 40) as u32 * 15).min(19 * 60);
        let length = pick(&[30u32, 45, 60, 60, 90, 120], h >> 28);
        let end = (start + length).min(23 * 60 + 45);
        let kind = h % 100;
        let alarm = (h >> 36) % 10 < 4;
        let created =
            utc_stamp(self.time_of(self.emitted.saturating_sub(u64::from(revision) * 977)));
        let now = utc_stamp(stamp);

        let mut out = String::with_capacity(2048);
        out.push_str("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n");
        push_line(&mut out, &format!("PRODID:{}", pick(&PRODIDS, h >> 40)));
        out.push_str("CALSCALE:GREGORIAN\r\n");

        let component = if (75..90).contains(&kind) {
            "VTODO"
        } else {
            "VEVENT"
        };
        let utc_only = kind >= 90;
        let all_day = (60..75).contains(&kind);
        if !utc_only && !all_day {
            out.push_str(vtimezone);
        }
        let zoned = |d: NaiveDate, minutes: u32| format!("TZID={tzid}:{}", local(d, minutes));
        // The master (or only) component.
        out.push_str("BEGIN:");
        out.push_str(component);
        out.push_str("\r\n");
        push_line(&mut out, &format!("UID:{uid}"));
        push_line(&mut out, &format!("DTSTAMP:{now}"));
        push_line(&mut out, &format!("CREATED:{created}"));
        push_line(&mut out, &format!("LAST-MODIFIED:{now}"));
        if revision > 0 {
            push_line(&mut out, &format!("SEQUENCE:{revision}"));
        }
        let mut recurrence: Option<NaiveDate> = None;
        if component == "VTODO" {
            let title = pick(&TODOS, h >> 44);
            push_line(&mut out, &format!("SUMMARY:{}", escape(title)));
            push_line(&mut out, &format!("DTSTART;{}", zoned(day, start)));
            push_line(
                &mut out,
                &format!("DUE;{}", zoned(add_days(day, 3 + (h >> 48) % 10), 17 * 60)),
            );
            push_line(
                &mut out,
                &format!("PRIORITY:{}", pick(&[1u32, 5, 5, 9], h >> 50)),
            );
            match revision % 3 {
                0 => out.push_str("STATUS:NEEDS-ACTION\r\n"),
                1 => out.push_str("STATUS:IN-PROCESS\r\nPERCENT-COMPLETE:40\r\n"),
                _ => {
                    out.push_str("STATUS:COMPLETED\r\nPERCENT-COMPLETE:100\r\n");
                    push_line(&mut out, &format!("COMPLETED:{now}"));
                }
            }
            push_line(
                &mut out,
                &format!(
                    "CATEGORIES:{}",
                    pick(&["Finance", "Büro", "Maison", "Work"], h >> 52)
                ),
            );
            push_line(
                &mut out,
                &format!("DESCRIPTION:{}", escape(pick(&DESCRIPTIONS, h >> 54))),
            );
        } else if all_day {
            let days = 1 + (h >> 44) % 3;
            push_line(
                &mut out,
                &format!("SUMMARY:{}", escape(pick(&ALL_DAY, h >> 46))),
            );
            push_line(&mut out, &format!("DTSTART;VALUE=DATE:{}", date_value(day)));
            push_line(
                &mut out,
                &format!("DTEND;VALUE=DATE:{}", date_value(add_days(day, days))),
            );
            if (h >> 50).is_multiple_of(4) {
                out.push_str("RRULE:FREQ=YEARLY\r\n");
            }
            out.push_str("TRANSP:TRANSPARENT\r\n");
            if (h >> 52).is_multiple_of(2) {
                push_line(
                    &mut out,
                    &format!("DESCRIPTION:{}", escape(pick(&DESCRIPTIONS, h >> 54))),
                );
            }
        } else {
            let private = (h >> 44).is_multiple_of(4);
            let title = if private {
                pick(&PRIVATE, h >> 46).to_string()
            } else {
                pick(&MEETINGS, h >> 46).to_string()
            };
            let title = if revision > 0 && (h >> 58).is_multiple_of(2) {
                format!("{title} (moved)")
            } else {
                title
            };
            push_line(&mut out, &format!("SUMMARY:{}", escape(&title)));
            let (first_day, first_start) = if (30..50).contains(&kind) {
                // Weekly on Monday and Wednesday, starting on a Monday.
                let monday =
                    day - chrono::Days::new(u64::from(day.weekday().num_days_from_monday()));
                (monday, start)
            } else if (50..60).contains(&kind) {
                let the_15th = NaiveDate::from_ymd_opt(day.year(), day.month(), 15).unwrap_or(day);
                (the_15th, start)
            } else {
                (day, start)
            };
            let shift = if revision > 0 { (revision % 3) * 30 } else { 0 };
            let (s, e) = (
                (first_start + shift).min(21 * 60),
                (end + shift).min(23 * 60 + 45),
            );
            if utc_only {
                push_line(&mut out, &format!("DTSTART:{}Z", local(first_day, s)));
                push_line(
                    &mut out,
                    &format!("DTEND:{}Z", local(first_day, e.max(s + 15))),
                );
            } else {
                push_line(&mut out, &format!("DTSTART;{}", zoned(first_day, s)));
                push_line(
                    &mut out,
                    &format!("DTEND;{}", zoned(first_day, e.max(s + 15))),
                );
            }
            if (30..50).contains(&kind) {
                if (h >> 50).is_multiple_of(3) {
                    let until = add_days(first_day, 26 * 7);
                    push_line(
                        &mut out,
                        &format!(
                            "RRULE:FREQ=WEEKLY;BYDAY=MO,WE;UNTIL={}T235959Z",
                            date_value(until)
                        ),
                    );
                } else {
                    out.push_str("RRULE:FREQ=WEEKLY;BYDAY=MO,WE\r\n");
                }
                push_line(
                    &mut out,
                    &format!("EXDATE;{}", zoned(add_days(first_day, 14), s)),
                );
                if (h >> 52).is_multiple_of(2) {
                    recurrence = Some(add_days(first_day, 7));
                }
            } else if (50..60).contains(&kind) {
                out.push_str("RRULE:FREQ=MONTHLY;BYMONTHDAY=15;COUNT=10\r\n");
                if (h >> 52).is_multiple_of(3) {
                    let next = first_day
                        .checked_add_months(chrono::Months::new(1))
                        .unwrap_or(first_day);
                    recurrence = Some(next);
                }
            }
            push_line(
                &mut out,
                &format!("LOCATION:{}", escape(pick(&LOCATIONS, h >> 54))),
            );
            push_line(
                &mut out,
                &format!("DESCRIPTION:{}", escape(pick(&DESCRIPTIONS, h >> 56))),
            );
            if !private {
                push_line(
                    &mut out,
                    &format!("ORGANIZER;CN=\"{organizer_name}\":mailto:{organizer_email}"),
                );
                push_line(
                    &mut out,
                    &format!(
                        "ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=CHAIR;PARTSTAT=ACCEPTED;CN=\"{organizer_name}\":mailto:{organizer_email}"
                    ),
                );
                let attendees = 2 + (h >> 58) % 4;
                for a in 0..attendees {
                    let ph = mix(&[self.seed, SALT_PERSON, h, a]);
                    let person = Person::from_hash(ph);
                    let (_, company_domain) = pick(&COMPANIES, ph >> 16);
                    let partstat = pick(
                        &["ACCEPTED", "NEEDS-ACTION", "TENTATIVE", "DECLINED"],
                        ph >> 24,
                    );
                    let role = if a == attendees - 1 {
                        "OPT-PARTICIPANT"
                    } else {
                        "REQ-PARTICIPANT"
                    };
                    push_line(
                        &mut out,
                        &format!(
                            "ATTENDEE;CUTYPE=INDIVIDUAL;ROLE={role};PARTSTAT={partstat};RSVP=TRUE;CN=\"{}\":mailto:{}",
                            person.display(),
                            person.email(company_domain)
                        ),
                    );
                }
            }
            out.push_str(if private {
                "CLASS:PRIVATE\r\n"
            } else {
                "CLASS:PUBLIC\r\n"
            });
            out.push_str("STATUS:CONFIRMED\r\nTRANSP:OPAQUE\r\n");
        }
        if alarm {
            out.push_str("BEGIN:VALARM\r\nACTION:DISPLAY\r\n");
            push_line(
                &mut out,
                &format!("TRIGGER:-PT{}M", pick(&[5u32, 10, 15, 30], h >> 60)),
            );
            out.push_str("DESCRIPTION:Reminder\r\nEND:VALARM\r\n");
        }
        out.push_str("END:");
        out.push_str(component);
        out.push_str("\r\n");
        // An overridden instance of the series, in the same object.
        if let Some(moved_day) = recurrence {
            let (s, e) = (start.min(21 * 60), end.max(start + 15).min(23 * 60 + 45));
            out.push_str("BEGIN:VEVENT\r\n");
            push_line(&mut out, &format!("UID:{uid}"));
            push_line(&mut out, &format!("DTSTAMP:{now}"));
            push_line(&mut out, &format!("RECURRENCE-ID;{}", zoned(moved_day, s)));
            push_line(
                &mut out,
                &format!("DTSTART;{}", zoned(moved_day, (s + 60).min(22 * 60))),
            );
            push_line(
                &mut out,
                &format!("DTEND;{}", zoned(moved_day, (e + 60).min(23 * 60 + 45))),
            );
            push_line(
                &mut out,
                &format!("SUMMARY:{}", escape("Moved this week, sorry!")),
            );
            push_line(
                &mut out,
                &format!("LOCATION:{}", escape(pick(&LOCATIONS, h >> 30))),
            );
            push_line(&mut out, &format!("SEQUENCE:{}", revision + 1));
            out.push_str("END:VEVENT\r\n");
        }
        out.push_str("END:VCALENDAR\r\n");
        out
    }

    fn contact(&mut self) -> Pending {
        let u = self.pick_user();
        let state = &self.users[u];
        let (k, revision) = if state.cards_next > 0 && self.rng.percent(25) {
            let k = self.rng.below(u64::from(state.cards_next)) as u32;
            (k, 1 + self.rng.below(5) as u32)
        } else {
            let k = state.cards_next;
            self.users[u].cards_next += 1;
            (k, 0)
        };
        let key = self.principal(u);
        let stamp = self.time_of(self.emitted);
        let (href, uid, vcard) = self.card(u, k, revision, stamp);
        Pending::own(
            key,
            Payload::ContactPut(ContactPut {
                address_book: DEFAULT_COLLECTION.to_string(),
                href,
                uid,
                vcard,
                vcard_object: None,
            }),
        )
    }

    /// (href, UID, vCard) of a user's k-th card at a revision.
    fn card(
        &self,
        u: usize,
        k: u32,
        revision: u32,
        stamp: DateTime<Utc>,
    ) -> (String, String, String) {
        let id = uuid_from(&[self.seed, SALT_CARD, u as u64, u64::from(k)]);
        let h = mix(&[self.seed, SALT_CARD, u as u64, u64::from(k), 1]);
        let person = Person::from_hash(h);
        let (company, company_domain) = pick(&COMPANIES, h >> 16);
        let (street, city, region, postcode, country, phone_prefix) = pick(&ADDRESSES, h >> 20);
        let title = pick(&TITLES, h >> 24);
        let v4 = h.is_multiple_of(3);
        let number = format!(
            "{} {:03} {:04}",
            phone_prefix,
            (h >> 30) % 1000,
            ((h >> 40) + u64::from(revision) * 37) % 10_000
        );
        let email = person.email(company_domain);
        let rev = utc_stamp(stamp);
        let mut out = String::with_capacity(640);
        out.push_str("BEGIN:VCARD\r\n");
        let uid;
        if v4 {
            uid = format!("urn:uuid:{}", id.hyphenated());
            out.push_str("VERSION:4.0\r\n");
            out.push_str("PRODID:ez-vcard 0.11.3\r\n");
            push_line(&mut out, &format!("UID:{uid}"));
            push_line(&mut out, &format!("FN:{}", escape(&person.display())));
            push_line(
                &mut out,
                &format!("N:{};{};;;", escape(person.last.0), escape(person.first.0)),
            );
            out.push_str("KIND:individual\r\n");
            push_line(&mut out, &format!("EMAIL;TYPE=work:{email}"));
            push_line(
                &mut out,
                &format!(
                    "TEL;VALUE=uri;TYPE=\"voice,cell\":tel:{}",
                    number.replace(' ', "-")
                ),
            );
            push_line(
                &mut out,
                &format!(
                    "ADR;TYPE=work:;;{};{};{};{};{}",
                    escape(street),
                    escape(city),
                    escape(region),
                    escape(postcode),
                    escape(country)
                ),
            );
            push_line(&mut out, &format!("ORG:{}", escape(company)));
            push_line(&mut out, &format!("TITLE:{}", escape(title)));
            if revision > 0 || (h >> 48).is_multiple_of(2) {
                push_line(
                    &mut out,
                    &format!(
                        "NOTE:{}",
                        escape(pick(&NOTES, (h >> 50) ^ u64::from(revision)))
                    ),
                );
            }
            push_line(&mut out, &format!("REV:{rev}"));
        } else {
            uid = id.hyphenated().to_string().to_uppercase();
            out.push_str("VERSION:3.0\r\n");
            out.push_str("PRODID:-//Apple Inc.//macOS 14.4.1//EN\r\n");
            push_line(
                &mut out,
                &format!("N:{};{};;;", escape(person.last.0), escape(person.first.0)),
            );
            push_line(&mut out, &format!("FN:{}", escape(&person.display())));
            push_line(&mut out, &format!("ORG:{};", escape(company)));
            push_line(&mut out, &format!("TITLE:{}", escape(title)));
            push_line(
                &mut out,
                &format!("item1.EMAIL;type=INTERNET;type=pref:{email}"),
            );
            out.push_str("item1.X-ABLabel:_$!<Other>!$_\r\n");
            push_line(
                &mut out,
                &format!(
                    "EMAIL;type=INTERNET;type=HOME:{}.{}@mail.example.net",
                    person.first.1, person.last.1
                ),
            );
            push_line(
                &mut out,
                &format!("TEL;type=CELL;type=VOICE;type=pref:{number}"),
            );
            push_line(
                &mut out,
                &format!(
                    "item2.ADR;type=WORK;type=pref:;;{};{};{};{};{}",
                    escape(street),
                    escape(city),
                    escape(region),
                    escape(postcode),
                    escape(country)
                ),
            );
            if revision > 0 || (h >> 48).is_multiple_of(2) {
                push_line(
                    &mut out,
                    &format!(
                        "NOTE:{}",
                        escape(pick(&NOTES, (h >> 50) ^ u64::from(revision)))
                    ),
                );
            }
            push_line(&mut out, &format!("REV:{rev}"));
            push_line(&mut out, &format!("UID:{uid}"));
            push_line(&mut out, &format!("X-ABUID:{uid}:ABPerson"));
        }
        out.push_str("END:VCARD\r\n");
        (format!("{}.vcf", id.hyphenated()), uid, out)
    }

    fn directory(&mut self) -> Pending {
        if self.created < self.users.len() && self.created < self.due_users() {
            self.create_user();
            // The queue now starts with the new user's events.
            if let Some(first) = self.queue.pop_front() {
                return first;
            }
        }
        let u = self.pick_user();
        let d = self.user_domain(u);
        let domain = DOMAINS[d].0.to_string();
        let roll = self.rng.below(100);
        let dom = self.domains[d].clone();
        let mut mark = None;
        let payload = if roll < 10 && (dom.groups as usize) < GROUPS.len() {
            let g = dom.groups as usize;
            self.domains[d].groups += 1;
            mark = Some(Mark::Group(d, g));
            let (group, display) = GROUPS[g];
            if g > 0 {
                // Every group is part of "staff".
                self.push(
                    domain.clone(),
                    SYSTEM_ACTOR,
                    None,
                    Payload::MemberAdded(MemberAdded {
                        group: GROUPS[0].0.to_string(),
                        member: Member::Group(group.to_string()),
                    }),
                );
            }
            Payload::GroupCreated(GroupCreated {
                group: group.to_string(),
                display_name: Some(display.to_string()),
                email: Some(format!("{group}@{domain}")),
            })
        } else if let Some(g) = self.join_group(u, dom.groups).filter(|_| roll < 40) {
            self.users[u].groups |= 1 << g;
            Payload::MemberAdded(MemberAdded {
                group: GROUPS[g].0.to_string(),
                member: Member::User(self.login(u)),
            })
        } else if roll < 48 && self.users[u].groups != 0 {
            let g = self.users[u].groups.trailing_zeros() as usize;
            self.users[u].groups &= !(1 << g);
            Payload::MemberRemoved(MemberRemoved {
                group: GROUPS[g].0.to_string(),
                member: Member::User(self.login(u)),
            })
        } else if roll < 53 && (dom.resources as usize) < RESOURCES.len() {
            let (name, kind, display, capacity, location) = RESOURCES[dom.resources as usize];
            self.domains[d].resources += 1;
            Payload::ResourceCreated(ResourceCreated {
                resource: name.to_string(),
                kind,
                display_name: Some(display.to_string()),
                email: Some(format!("{name}@{domain}")),
                capacity,
                location: Some(location.to_string()),
            })
        } else {
            let which = self.rng.below(10);
            let mut update = UserUpdated {
                login: self.login(u),
                ..UserUpdated::default()
            };
            match which {
                0..=4 => {
                    let name = self.display_name(u);
                    update.display_name = Some(Some(match self.rng.below(3) {
                        0 => format!("Dr. {name}"),
                        1 => format!("{name} (extern)"),
                        _ => name,
                    }));
                }
                5..=7 => {
                    update.password_hash = Some(
                        if self.rng.percent(50) {
                            PASSWORD_HASH_2
                        } else {
                            PASSWORD_HASH
                        }
                        .to_string(),
                    )
                }
                _ => update.admin = Some(self.rng.percent(20)),
            }
            Payload::UserUpdated(update)
        };
        Pending {
            key: domain,
            actor: SYSTEM_ACTOR.to_string(),
            correlation: None,
            payload,
            mark,
            invited: Vec::new(),
        }
    }

    /// Counts a directory record about to be emitted, and remembers the
    /// version it gives the user or group it creates.
    fn note_directory(&mut self, key: &str, mark: Option<Mark>) {
        let partitions = u32::try_from(self.directory_ends.len()).unwrap_or(u32::MAX);
        let p = events::domain::partition_for(key, partitions) as usize;
        let Some(end) = self.directory_ends.get_mut(p) else {
            return;
        };
        let version = AggregateVersion::after_offset(*end).0;
        *end += 1;
        match mark {
            Some(Mark::User(u)) => {
                if let Some(user) = self.users.get_mut(u) {
                    user.created = version;
                }
            }
            Some(Mark::Group(d, g)) => {
                if let Some(slot) = self
                    .domains
                    .get_mut(d)
                    .and_then(|dom| dom.group_created.get_mut(g))
                {
                    *slot = version;
                }
            }
            None => {}
        }
    }

    /// The next event of the setup of [`Synthetic::with_users`], if any is
    /// left (never for a log shaped by its event count). Each step queues
    /// the events of one user or group; steps that queue nothing (a user
    /// who shares nothing) are passed.
    fn setup_next(&mut self) -> Option<Pending> {
        loop {
            if let Some(p) = self.queue.pop_front() {
                return Some(p);
            }
            let n = self.users.len();
            self.setup = Some(match self.setup? {
                Setup::Users if self.created < n => {
                    self.create_user();
                    Setup::Users
                }
                Setup::Users => Setup::Groups {
                    domain: 0,
                    group: 0,
                },
                Setup::Groups { domain, .. } if domain >= self.domains.len() => Setup::Members(0),
                Setup::Groups { domain, group }
                    if group >= GROUP_COUNT || !self.domains[domain].created =>
                {
                    Setup::Groups {
                        domain: domain + 1,
                        group: 0,
                    }
                }
                Setup::Groups { domain, group } => {
                    self.setup_group(domain, group);
                    Setup::Groups {
                        domain,
                        group: group + 1,
                    }
                }
                Setup::Members(u) if u < n => {
                    self.setup_memberships(u);
                    Setup::Members(u + 1)
                }
                Setup::Members(_) => Setup::Shares(0),
                Setup::Shares(u) if u < n => {
                    self.setup_shares(u);
                    Setup::Shares(u + 1)
                }
                Setup::Shares(_) => Setup::Done,
                Setup::Done => return None,
            });
        }
    }

    /// Queues a group's creation, and its membership in `staff` (a
    /// department), as `directory` does over time for the other logs.
    fn setup_group(&mut self, d: usize, g: usize) {
        let domain = DOMAINS[d].0;
        let (group, display) = GROUPS[g];
        self.domains[d].groups = self.domains[d].groups.max(g as u8 + 1);
        self.push(
            domain.to_string(),
            SYSTEM_ACTOR,
            None,
            Payload::GroupCreated(GroupCreated {
                group: group.to_string(),
                display_name: Some(display.to_string()),
                email: Some(format!("{group}@{domain}")),
            }),
        );
        self.mark_last(Mark::Group(d, g));
        if g > 0 {
            self.push(
                domain.to_string(),
                SYSTEM_ACTOR,
                None,
                Payload::MemberAdded(MemberAdded {
                    group: GROUPS[0].0.to_string(),
                    member: Member::Group(group.to_string()),
                }),
            );
        }
    }

    /// A department (a group after `staff`) by [`DEPARTMENT_WEIGHTS`].
    fn department(h: u64) -> usize {
        let mut roll = h % DEPARTMENT_WEIGHTS.iter().sum::<u64>();
        for (i, w) in DEPARTMENT_WEIGHTS.iter().enumerate() {
            if roll < *w {
                return i + 1;
            }
            roll -= w;
        }
        1
    }

    /// Queues a user's memberships: one department, sometimes two. Every
    /// department is in `staff`, so everyone is in it through them.
    fn setup_memberships(&mut self, u: usize) {
        let h = mix(&[self.seed, SALT_MEMBER, u as u64]);
        let first = Self::department(h);
        let second = Self::department(h >> 24);
        let mut groups = vec![first];
        if (h >> 48) % 100 < SECOND_DEPARTMENT && second != first {
            groups.push(second);
        }
        let domain = self.domain_name(u);
        for g in groups {
            self.users[u].groups |= 1 << g;
            self.push(
                domain.to_string(),
                SYSTEM_ACTOR,
                None,
                Payload::MemberAdded(MemberAdded {
                    group: GROUPS[g].0.to_string(),
                    member: Member::User(self.login(u)),
                }),
            );
        }
    }

    /// Queues the shares of a user's default calendar and address book,
    /// for the part of the users who share them.
    fn setup_shares(&mut self, u: usize) {
        let h = mix(&[self.seed, SALT_SHARE, u as u64]);
        let owner = self.principal(u);
        if h % 100 < CALENDAR_SHARERS {
            let grants = if (h >> 8) % 100 < SECOND_SHAREE { 2 } else { 1 };
            for i in 0..grants {
                let Some(grantee) = self.grantee(u, mix(&[h, 1, i])) else {
                    continue;
                };
                // Only a direct read-write grant lets a user's events into
                // the calendar at every point of the log (a group's
                // members are resolved when served): the writer is the
                // user holding such a grant, if the last grant to them is
                // one.
                if let Some(v) = grantee.user {
                    let code = u32::try_from(v + 1).unwrap_or(0);
                    if grantee.access == Access::ReadWrite {
                        self.users[u].calendar_writer = code;
                    } else if self.users[u].calendar_writer == code {
                        self.users[u].calendar_writer = 0;
                    }
                }
                self.queue.push_back(Pending::own(
                    owner.clone(),
                    Payload::CalendarShared(CalendarShared {
                        calendar: DEFAULT_COLLECTION.to_string(),
                        sharee: grantee.sharee,
                        sharee_since: grantee.since,
                        access: grantee.access,
                    }),
                ));
            }
        }
        if (h >> 16) % 100 < ADDRESS_BOOK_SHARERS {
            if let Some(grantee) = self.grantee(u, mix(&[h, 2])) {
                self.queue.push_back(Pending::own(
                    owner,
                    Payload::AddressBookShared(AddressBookShared {
                        address_book: DEFAULT_COLLECTION.to_string(),
                        sharee: grantee.sharee,
                        sharee_since: grantee.since,
                        access: grantee.access,
                    }),
                ));
            }
        }
    }

    /// What the leader's scheduling appends after a meeting (`event`, at
    /// `cause`) inviting `invited`: a delivery to each, then the
    /// completion with every attendee's status (outside ones unknown).
    fn queue_scheduling(&mut self, event: &EventEnvelope, cause: Cause, invited: &[usize]) {
        let Payload::CalendarObjectPut(put) = &event.payload else {
            return;
        };
        let Ok(Some(participation)) = itip::participation(&put.ical) else {
            return;
        };
        let from = participation.organizer.address.clone();
        let mut statuses = std::collections::BTreeMap::new();
        for delivery in itip::organizer_deliveries(None, Some(&participation)) {
            let user = invited
                .iter()
                .copied()
                .find(|&v| format!("mailto:{}", self.principal(v)) == delivery.attendee);
            let message = itip::message_for(&put.ical, &delivery).ok().flatten();
            match (user, message) {
                (Some(v), Some(message)) => {
                    statuses.insert(delivery.attendee.clone(), "1.2".to_string());
                    self.push(
                        self.principal(v),
                        SCHEDULING_ACTOR,
                        Some(event.event_id.0),
                        Payload::SchedulingDelivered(SchedulingDelivered {
                            cause,
                            from: from.clone(),
                            to: delivery.attendee,
                            uid: put.uid.clone(),
                            messages: vec![message],
                            auto_answer: false,
                        }),
                    );
                }
                _ => {
                    statuses.insert(delivery.attendee, "3.7".to_string());
                }
            }
        }
        self.push(
            event.partition_key.clone(),
            SCHEDULING_ACTOR,
            Some(event.event_id.0),
            Payload::SchedulingCompleted(SchedulingCompleted { cause, statuses }),
        );
    }

    /// Another user of `u`'s domain, already created, found from `h`
    /// (users are spread over domains by a hash, so a few tries find one
    /// unless the domain is nearly empty).
    fn same_domain_user(&self, u: usize, h: u64) -> Option<usize> {
        let d = self.user_domain(u);
        let n = self.users.len() as u64;
        (0..64u64)
            .map(|k| (mix(&[h, 3, k]) % n) as usize)
            .find(|&v| v != u && self.user_domain(v) == d && self.users[v].created != 0)
    }

    /// Who to share one of `u`'s collections with, chosen from `h`: a user
    /// of the same domain or one of its groups, named with the version
    /// that created it (the DAV layer honours a grant only for that
    /// incarnation), and the access granted.
    fn grantee(&self, u: usize, h: u64) -> Option<Grantee> {
        let d = self.user_domain(u);
        let to_user = if h % 100 < SHARED_WITH_A_USER {
            self.same_domain_user(u, h)
        } else {
            None
        };
        if let Some(v) = to_user {
            return Some(Grantee {
                sharee: Sharee::User(self.principal(v)),
                since: AggregateVersion(self.users[v].created),
                access: if (h >> 32) % 100 < USER_READ_WRITE {
                    Access::ReadWrite
                } else {
                    Access::Read
                },
                user: Some(v),
            });
        }
        let g = ((h >> 8) % GROUP_COUNT as u64) as usize;
        let since = self.domains[d].group_created[g];
        (since != 0).then(|| Grantee {
            sharee: Sharee::Group(format!("{}@{}", GROUPS[g].0, DOMAINS[d].0)),
            since: AggregateVersion(since),
            access: if (h >> 40) % 100 < GROUP_READ_WRITE {
                Access::ReadWrite
            } else {
                Access::Read
            },
            user: None,
        })
    }

    /// A group of the user's domain the user is not in yet.
    fn join_group(&self, u: usize, groups: u8) -> Option<usize> {
        (0..groups as usize).find(|g| self.users[u].groups & (1 << g) == 0)
    }

    fn time_of(&self, index: u64) -> DateTime<Utc> {
        let offset = i64::try_from(index)
            .unwrap_or(i64::MAX)
            .saturating_mul(SECONDS_PER_EVENT);
        DateTime::from_timestamp(BASE_TIME.saturating_add(offset), 0).unwrap_or_default()
    }
}

fn uid_set(ranges: Vec<(u32, u32)>) -> UidSet {
    // Every range is built with 1 <= first <= last.
    UidSet::from_ranges(ranges.into_iter().map(|(a, b)| (a.max(1), b.max(a.max(1)))))
        .unwrap_or_default()
}

impl Iterator for Synthetic {
    type Item = EventEnvelope;

    fn next(&mut self) -> Option<EventEnvelope> {
        if self.emitted >= self.total {
            return None;
        }
        let pending = match self.queue.pop_front() {
            Some(p) => p,
            None => {
                self.ready = self.created;
                match self.setup_next() {
                    Some(p) => p,
                    None => self.generate(),
                }
            }
        };
        if pending.payload.domain() == Domain::Directory {
            self.note_directory(&pending.key, pending.mark);
        }
        let at = self.time_of(self.emitted);
        let millis = u64::try_from(at.timestamp_millis()).unwrap_or(0);
        let id = uuid::Builder::from_unix_timestamp_millis(millis, &self.rng.bytes10()).into_uuid();
        let mut event =
            EventEnvelope::new(EventId(id), at, pending.key, pending.actor, pending.payload);
        if let Some(c) = pending.correlation {
            event = event.with_correlation(c);
        }
        self.emitted += 1;
        if self.scheduling > 0 && event.domain == Domain::Calendar {
            let partitions = u32::try_from(self.calendar_ends.len()).unwrap_or(u32::MAX);
            let p = events::domain::partition_for(&event.partition_key, partitions);
            if let Some(end) = self.calendar_ends.get_mut(p as usize) {
                let cause = Cause {
                    partition: p,
                    offset: *end,
                };
                *end += 1;
                if !pending.invited.is_empty() {
                    self.queue_scheduling(&event, cause, &pending.invited);
                }
            }
        }
        Some(event)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = usize::try_from(self.total - self.emitted).unwrap_or(usize::MAX);
        (left, Some(left))
    }
}

fn slot(domain: Domain) -> usize {
    match domain {
        Domain::Calendar => 0,
        Domain::Contact => 1,
        Domain::Directory => 2,
        Domain::Seen => 3,
        Domain::Files => 4,
    }
}

/// What [`write`] wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Written {
    pub events: u64,
    /// Users created (`UserCreated` events).
    pub users: u64,
    /// Domains created.
    pub domains: u64,
    /// Grants written (`CalendarShared`, `AddressBookShared`).
    pub calendar_shares: u64,
    pub address_book_shares: u64,
}

/// Writes a synthetic log of `events` events, [`APPEND_BATCH`] records per
/// append and topic, in generation order within each topic (so every key
/// keeps its order): shaped by the event count ([`Synthetic::new`]), or
/// for `users` users ([`Synthetic::with_users`]; the log must then be
/// empty, since grants name the offsets of directory records, and it is
/// checked). `progress` gets the number of events written so far.
pub async fn write(
    log: &dyn EventLog,
    seed: u64,
    events: u64,
    users: Option<u64>,
    scheduling: u64,
    mut progress: impl FnMut(u64),
) -> Result<Written, LogError> {
    let directory_partitions = log.partitions(Domain::Directory);
    let generator = match users {
        Some(users) => Synthetic::with_users(seed, events, users, directory_partitions),
        None => Synthetic::new(seed, events),
    };
    let generator = match scheduling {
        0 => generator,
        percent => generator.with_scheduling(percent, log.partitions(Domain::Calendar)),
    };
    // The offsets the generator counted on for the directory topic.
    let mut expected = users.map(|_| vec![0u64; directory_partitions.max(1) as usize]);
    let mut buffers: [Vec<OutgoingRecord>; Domain::ALL.len()] = Default::default();
    let mut written = Written::default();
    for event in generator {
        let domain = event.domain;
        match &event.payload {
            Payload::UserCreated(_) => written.users += 1,
            Payload::DomainCreated(_) => written.domains += 1,
            Payload::CalendarShared(_) => written.calendar_shares += 1,
            Payload::AddressBookShared(_) => written.address_book_shares += 1,
            _ => {}
        }
        let buffer = &mut buffers[slot(domain)];
        buffer.push(codec::encode(&event));
        if buffer.len() >= APPEND_BATCH {
            let records = std::mem::replace(buffer, Vec::with_capacity(APPEND_BATCH));
            written.events += records.len() as u64;
            append(log, domain, records, expected.as_deref_mut()).await?;
            progress(written.events);
        }
    }
    for domain in Domain::ALL {
        let records = std::mem::take(&mut buffers[slot(domain)]);
        if !records.is_empty() {
            written.events += records.len() as u64;
            append(log, domain, records, expected.as_deref_mut()).await?;
            progress(written.events);
        }
    }
    Ok(written)
}

/// Appends, and for the directory topic checks that each record got the
/// offset the generator counted on (`expected`: the next one per
/// partition), without which the grants would name other entries.
async fn append(
    log: &dyn EventLog,
    domain: Domain,
    records: Vec<OutgoingRecord>,
    expected: Option<&mut [u64]>,
) -> Result<(), LogError> {
    let positions = log.append(domain, records).await?;
    let Some(expected) = expected.filter(|_| domain == Domain::Directory) else {
        return Ok(());
    };
    for position in positions {
        let next = expected.get_mut(position.partition as usize);
        match next {
            Some(next) if *next == position.offset => *next += 1,
            _ => {
                return Err(LogError::Storage {
                    path: log.describe(),
                    reason: format!(
                        "a synthetic directory record went to offset {} of partition {}, not \
                         where the generator counted on (the log must be empty, with offsets \
                         from 0 and no gaps); its shares would name other users",
                        position.offset, position.partition
                    ),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn same_seed_same_bytes() {
        let a: Vec<OutgoingRecord> = Synthetic::new(7, 5000)
            .take(2000)
            .map(|e| codec::encode(&e))
            .collect();
        let b: Vec<OutgoingRecord> = Synthetic::new(7, 5000)
            .take(2000)
            .map(|e| codec::encode(&e))
            .collect();
        assert_eq!(a.len(), 2000);
        assert!(a == b, "two generators with one seed differ");
        let c: Vec<OutgoingRecord> = Synthetic::new(8, 5000)
            .take(2000)
            .map(|e| codec::encode(&e))
            .collect();
        assert!(a != c, "another seed gives the same log");
        // Exactly the count asked for.
        assert_eq!(Synthetic::new(1, 1234).count(), 1234);
        assert_eq!(Synthetic::new(1, 0).count(), 0);
    }

    #[test]
    fn the_mix_matches_the_shares() {
        let n = 50_000u64;
        let mut per_domain: HashMap<Domain, u64> = HashMap::new();
        let mut per_type: HashMap<&'static str, u64> = HashMap::new();
        for e in Synthetic::new(3, n) {
            *per_domain.entry(e.domain).or_default() += 1;
            *per_type.entry(e.payload.event_type()).or_default() += 1;
        }
        let share = |d| per_domain.get(&d).copied().unwrap_or(0) as f64 / n as f64;
        assert!((share(Domain::Seen) - 0.60).abs() < 0.02, "{per_domain:?}");
        assert!(
            (share(Domain::Calendar) - 0.25).abs() < 0.02,
            "{per_domain:?}"
        );
        assert!(
            (share(Domain::Contact) - 0.10).abs() < 0.02,
            "{per_domain:?}"
        );
        assert!(
            (share(Domain::Directory) - 0.05).abs() < 0.02,
            "{per_domain:?}"
        );
        for t in [
            "SeenAdded",
            "SeenRemoved",
            "MailboxSeenReset",
            "CalendarCreated",
            "CalendarObjectPut",
            "CalendarObjectDeleted",
            "AddressBookCreated",
            "ContactPut",
            "DomainCreated",
            "UserCreated",
            "UserUpdated",
            "GroupCreated",
            "MemberAdded",
            "MemberRemoved",
            "ResourceCreated",
        ] {
            assert!(
                per_type.get(t).copied().unwrap_or(0) > 0,
                "no {t} in {per_type:?}"
            );
        }
        // N / 500 users, all created (with their collections).
        assert_eq!(per_type["UserCreated"], n / EVENTS_PER_USER);
        assert_eq!(per_type["CalendarCreated"], n / EVENTS_PER_USER);
    }

    #[test]
    fn bodies_are_valid_and_realistic() {
        let mut puts: HashMap<(String, String), u32> = HashMap::new();
        let (mut events, mut todos, mut recurring, mut overrides, mut all_day, mut alarms) =
            (0, 0, 0, 0, 0, 0);
        let (mut v3, mut v4) = (0, 0);
        let mut sizes = Vec::new();
        for e in Synthetic::new(11, 30_000) {
            match &e.payload {
                Payload::CalendarObjectPut(p) => {
                    let object = formats::ical::validate_calendar_object(&p.ical)
                        .unwrap_or_else(|err| panic!("{err}\n{}", p.ical));
                    assert_eq!(object.uid, p.uid);
                    match object.kind {
                        formats::ical::ComponentKind::Event => events += 1,
                        formats::ical::ComponentKind::Todo => todos += 1,
                        formats::ical::ComponentKind::Journal => panic!("no journals"),
                    }
                    recurring += usize::from(object.has_recurrence);
                    overrides += usize::from(p.ical.contains("RECURRENCE-ID"));
                    all_day += usize::from(p.ical.contains("VALUE=DATE:"));
                    alarms += usize::from(p.ical.contains("BEGIN:VALARM"));
                    sizes.push(p.ical.len());
                    *puts
                        .entry((e.partition_key.clone(), p.href.clone()))
                        .or_default() += 1;
                    assert!(p.ical.split("\r\n").all(|l| l.len() <= 75), "{}", p.ical);
                }
                Payload::ContactPut(p) => {
                    let card = formats::vcard::validate_card(&p.vcard)
                        .unwrap_or_else(|err| panic!("{err}\n{}", p.vcard));
                    assert_eq!(card.uid.as_deref(), Some(p.uid.as_str()));
                    match card.version {
                        formats::vcard::VcardVersion::V3 => v3 += 1,
                        formats::vcard::VcardVersion::V4 => v4 += 1,
                    }
                }
                Payload::UserCreated(u) => {
                    assert!(projections::directory::valid_login(&u.login), "{}", u.login);
                    assert_eq!(
                        e.partition_key,
                        u.email.rsplit_once('@').map(|(_, d)| d).unwrap_or("")
                    );
                }
                _ => {}
            }
        }
        assert!(
            events > 0 && todos > 0 && recurring > 0 && overrides > 0 && all_day > 0 && alarms > 0
        );
        assert!(v3 > 0 && v4 > 0);
        assert!(
            puts.values().any(|&n| n > 1),
            "no object is ever overwritten"
        );
        sizes.sort_unstable();
        let median = sizes[sizes.len() / 2];
        assert!(
            (1000..=2200).contains(&median),
            "median iCalendar size {median}"
        );
    }

    /// The importers run the `ical` and `vcard_parser` crates too: a
    /// sample of the generated bodies passes them.
    #[test]
    fn bodies_pass_the_thorough_parsers() {
        let mut checked = (0, 0);
        for e in Synthetic::new(5, 6000) {
            match &e.payload {
                Payload::CalendarObjectPut(p) => {
                    let objects = formats::ical::split_calendar_export(&p.ical)
                        .unwrap_or_else(|err| panic!("{err}\n{}", p.ical));
                    assert_eq!(objects.len(), 1);
                    assert_eq!(objects[0].uid, p.uid);
                    checked.0 += 1;
                }
                Payload::ContactPut(p) => {
                    let cards = formats::vcard::split_cards(&p.vcard)
                        .unwrap_or_else(|err| panic!("{err}\n{}", p.vcard));
                    assert_eq!(cards.len(), 1);
                    checked.1 += 1;
                }
                _ => {}
            }
        }
        assert!(checked.0 > 100 && checked.1 > 50, "{checked:?}");
    }

    #[test]
    fn the_password_hashes_are_real() {
        use argon2::{Argon2, PasswordHash, PasswordVerifier};
        for hash in [PASSWORD_HASH, PASSWORD_HASH_2] {
            let parsed = PasswordHash::new(hash).expect("a PHC string");
            assert!(Argon2::default()
                .verify_password(b"reprise-bench", &parsed)
                .is_ok());
        }
    }

    /// Writes a log into a new data directory's embedded log (3
    /// partitions per topic), rebuilds every projection from it and checks
    /// that every event was applied: none quarantined, none rejected.
    /// Returns the directory, the views and what was written.
    async fn write_and_apply(
        seed: u64,
        n: u64,
        users: Option<u64>,
        scheduling: u64,
    ) -> (tempfile::TempDir, projections::ViewStore, Written) {
        use projections::{Outcome, ProjectionId};
        let dir = tempfile::tempdir().expect("temporary directory");
        let log = std::sync::Arc::new(
            events::log::EmbeddedLog::open(&dir.path().join("log"), Some(3)).expect("open log"),
        );
        let mut calls = 0;
        let written = write(log.as_ref(), seed, n, users, scheduling, |_| calls += 1)
            .await
            .expect("write");
        assert_eq!(written.events, n);
        assert!(calls >= 4);
        let store = projections::ViewStore::open(&dir.path().join("views")).expect("views");
        let projections = projections::registry::current();
        let opts = crate::ops::rebuild::Options {
            batch_size: 500,
            ..Default::default()
        };
        let results = crate::ops::rebuild::rebuild(
            log.clone(),
            &store,
            &projections,
            &opts,
            &crate::ops::rebuild::Unseen,
        )
        .await
        .expect("rebuild");
        assert_eq!(results.iter().map(|r| r.events).sum::<u64>(), n);
        assert!(
            results.iter().all(|r| r.complete && r.quarantined == 0),
            "{results:?}"
        );
        for p in &projections {
            let id = ProjectionId::new(p.name(), p.version());
            for outcome in projections::runner::recorded_outcomes(&store, &id).expect("outcomes") {
                assert!(
                    matches!(outcome, Outcome::Applied { .. }),
                    "{id}: {outcome:?}"
                );
            }
        }
        drop(log);
        (dir, store, written)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_event_applies() {
        write_and_apply(9, 6000, None, 0).await;
    }

    /// The same with `--users`, and every grant is one the DAV layer
    /// honours: it names the version that created its sharee, as the
    /// directory view has it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_event_applies_with_users() {
        let users = 150;
        let (_dir, store, written) = write_and_apply(9, 8000, Some(users), 0).await;
        assert_eq!(written.users, users);
        assert_eq!(written.domains, 20);
        assert!(written.calendar_shares > 20 && written.address_book_shares > 3);
        let views = projections::registry::Views::open(&store).expect("views");
        let since = |sharee: &Sharee| {
            let (name, domain) = match sharee {
                Sharee::User(p) | Sharee::Group(p) => p.rsplit_once('@').expect("name@domain"),
            };
            match sharee {
                Sharee::User(_) => views.directory.user(domain, name).expect("read"),
                Sharee::Group(_) => None,
            }
            .map(|u| u.created)
            .or_else(|| {
                views
                    .directory
                    .group(domain, name)
                    .expect("read")
                    .map(|g| g.created)
            })
        };
        let mut checked = 0;
        for e in Synthetic::with_users(9, 8000, users, 3) {
            let (grants, sharee, sharee_since) = match &e.payload {
                Payload::CalendarShared(s) => (
                    views.calendars.grants(&e.partition_key, &s.calendar),
                    &s.sharee,
                    s.sharee_since,
                ),
                Payload::AddressBookShared(s) => (
                    views.contacts.grants(&e.partition_key, &s.address_book),
                    &s.sharee,
                    s.sharee_since,
                ),
                _ => continue,
            };
            assert_eq!(since(sharee), Some(sharee_since), "{e:?}");
            let grants = grants.expect("grants");
            assert!(
                grants
                    .iter()
                    .any(|(s, g)| s == sharee && g.sharee_since == sharee_since),
                "{grants:?}"
            );
            checked += 1;
        }
        assert_eq!(
            checked,
            written.calendar_shares + written.address_book_shares
        );
    }

    /// Meetings with their scheduling effects: every delivery applies,
    /// each makes the attendee's copy, and every completion closes what
    /// its meeting recorded, so nothing is left to send.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn scheduling_effects_apply_and_leave_nothing_pending() {
        let (_dir, store, _) = write_and_apply(9, 8000, Some(100), 30).await;
        let views = projections::registry::Views::open(&store).expect("views");
        let pending = views.calendars.scheduling_pending().expect("pending");
        let causes: Vec<_> = pending
            .iter()
            .map(|p| (&p.owner, p.outgoing.cause, p.outgoing.to.len()))
            .collect();
        assert!(pending.is_empty(), "{} pending: {causes:?}", pending.len());
        let (mut delivered, mut copies) = (0, 0);
        let log = Synthetic::with_users(9, 8000, 100, 3).with_scheduling(30, 3);
        for e in log {
            if let Payload::SchedulingDelivered(d) = &e.payload {
                delivered += 1;
                let href = views
                    .calendars
                    .href_of_uid(&e.partition_key, DEFAULT_COLLECTION, &d.uid)
                    .expect("read");
                copies += usize::from(href.is_some());
            }
        }
        assert!(delivered > 50, "{delivered} deliveries");
        // A meeting deleted later leaves its copies (cancelled or not).
        assert_eq!(copies, delivered);
    }

    #[test]
    fn same_seed_same_bytes_with_users() {
        let log = |seed, users| -> Vec<OutgoingRecord> {
            Synthetic::with_users(seed, 5000, users, 3)
                .map(|e| codec::encode(&e))
                .collect()
        };
        let a = log(7, 300);
        assert_eq!(a.len(), 5000);
        assert!(a == log(7, 300), "two generators with one seed differ");
        assert!(a != log(8, 300), "another seed gives the same log");
        assert!(a != log(7, 301), "another user count gives the same log");
        assert!(
            a != Synthetic::new(7, 5000)
                .map(|e| codec::encode(&e))
                .collect::<Vec<_>>(),
            "--users changes nothing"
        );
        assert_eq!(Synthetic::with_users(1, 1234, 40, 1).count(), 1234);
        assert_eq!(Synthetic::with_users(1, 0, 40, 1).count(), 0);
    }

    /// Users, groups, memberships and shares come first, in that order,
    /// then the usual mix over all the users; shares stay within their
    /// domain, and read-write sharees write.
    #[test]
    fn users_are_set_up_first() {
        let users = 400u64;
        let n = 60_000u64;
        let mut per_type: HashMap<&'static str, u64> = HashMap::new();
        let mut last_setup = 0;
        let mut first_data = None;
        let mut domains = std::collections::BTreeSet::new();
        let mut members: HashMap<String, u32> = HashMap::new();
        let mut foreign_writes = 0;
        let mut sharee_kinds = (0, 0);
        let mut accesses = (0, 0);
        for (i, e) in Synthetic::with_users(5, n, users, 4).enumerate() {
            let i = i as u64;
            *per_type.entry(e.payload.event_type()).or_default() += 1;
            match &e.payload {
                Payload::DomainCreated(d) => {
                    domains.insert(d.domain.clone());
                }
                Payload::UserCreated(_)
                | Payload::GroupCreated(_)
                | Payload::CalendarCreated(_)
                | Payload::AddressBookCreated(_) => last_setup = i,
                Payload::MemberAdded(m) if first_data.is_none() => {
                    if let Member::User(login) = &m.member {
                        *members
                            .entry(format!("{login}@{}", e.partition_key))
                            .or_default() += 1;
                    }
                }
                Payload::CalendarShared(CalendarShared { sharee, access, .. })
                | Payload::AddressBookShared(AddressBookShared { sharee, access, .. }) => {
                    let name = match sharee {
                        Sharee::User(p) => {
                            sharee_kinds.0 += 1;
                            assert_ne!(p, &e.partition_key, "shared with its owner");
                            p
                        }
                        Sharee::Group(g) => {
                            sharee_kinds.1 += 1;
                            g
                        }
                    };
                    assert_eq!(
                        name.rsplit_once('@').map(|(_, d)| d),
                        e.partition_key.rsplit_once('@').map(|(_, d)| d),
                        "shared outside the domain"
                    );
                    match access {
                        Access::Read => accesses.0 += 1,
                        Access::ReadWrite => accesses.1 += 1,
                    }
                }
                Payload::SeenAdded(_) | Payload::ContactPut(_) | Payload::CalendarObjectPut(_) => {
                    first_data.get_or_insert(i);
                    if e.actor != e.partition_key && e.domain == Domain::Calendar {
                        foreign_writes += 1;
                    }
                }
                _ => {}
            }
        }
        // Every user, with both collections, before any data: about five
        // setup events per user.
        assert_eq!(per_type["UserCreated"], users);
        assert_eq!(per_type["CalendarCreated"], users);
        assert_eq!(per_type["AddressBookCreated"], users);
        assert_eq!(domains.len(), 20);
        assert_eq!(per_type["GroupCreated"], 20 * GROUP_COUNT as u64);
        let first_data = first_data.expect("data events");
        assert!(
            last_setup < first_data && first_data < 6 * users,
            "{first_data}"
        );
        // Everyone in one or two departments.
        assert_eq!(members.len() as u64, users);
        assert!(members.values().all(|&n| (1..=2).contains(&n)));
        // About 30 % share their calendar (a quarter of them twice) and
        // 10 % their address book; users and groups, read and read-write.
        let shares = per_type["CalendarShared"] + per_type["AddressBookShared"];
        assert!((130..=220).contains(&shares), "{shares}");
        assert!(
            sharee_kinds.0 > sharee_kinds.1 && sharee_kinds.1 > 10,
            "{sharee_kinds:?}"
        );
        assert!(accesses.0 > accesses.1 && accesses.1 > 10, "{accesses:?}");
        assert!(foreign_writes > 0, "no sharee writes");
        // Then the usual mix.
        let data = (n - first_data) as f64;
        let seen =
            (per_type["SeenAdded"] + per_type["SeenRemoved"] + per_type["MailboxSeenReset"]) as f64;
        assert!((seen / data - 0.60).abs() < 0.03, "{per_type:?}");

        // Fewer users than 20 x 5: fewer domains, as without --users.
        let few: std::collections::BTreeSet<String> = Synthetic::with_users(5, 500, 12, 1)
            .filter_map(|e| match e.payload {
                Payload::DomainCreated(d) => Some(d.domain),
                _ => None,
            })
            .collect();
        assert_eq!(few.len(), 2, "{few:?}");
    }

    /// A log shaped by its event count is the one it always was: these
    /// digests were taken before `--users` existed. (They cover the codec
    /// too: a deliberate change of the encoding changes them.)
    #[test]
    fn logs_without_users_are_unchanged() {
        use sha2::{Digest, Sha256};
        for (seed, n, expected) in GOLDEN {
            let mut h = Sha256::new();
            for e in Synthetic::new(seed, n) {
                let r = codec::encode(&e);
                h.update(&r.key);
                h.update((r.value.len() as u64).to_be_bytes());
                h.update(&r.value);
                for (k, v) in &r.headers {
                    h.update(k.as_bytes());
                    h.update(v);
                }
                h.update(r.timestamp_ms.to_be_bytes());
            }
            let digest: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(digest, expected, "seed {seed}, {n} events");
        }
    }

    const GOLDEN: [(u64, u64, &str); 3] = [
        (
            42,
            60_000,
            "6c2710e0023aca6cb3fccca32debf2812e4890afb852e6e62c107ca1ba91109e",
        ),
        (
            7,
            5000,
            "c3b38eed6ffce808f0d992b8a974915756b1c2e9f1da401de862866491a4ac81",
        ),
        (
            1,
            1234,
            "ddb21565e514ae7248dec55449ffe32d6642a9cfb48633be164529a1313db378",
        ),
    ];
}
