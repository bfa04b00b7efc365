#!/usr/bin/env python3
"""Deterministic data for bench/http.sh (Python standard library only).

    seed.py data --out DIR [--seed S] [--events N] [--contacts N]
        Writes DIR/calendar.ics (one VCALENDAR export: one VTIMEZONE,
        Europe/Paris, and N VEVENT objects, 10% recurring, a few of those
        with overridden instances sharing the UID), DIR/contacts.vcf
        (N vCards, 3.0 and 4.0) and DIR/put-template.ics (the ~1 KB body
        the PUT scenario sends, with @UID@ for the Lua script to fill in).
        CRLF line endings, content lines folded at 75 octets. The same seed
        gives the same bytes.

    seed.py hrefs PROPFIND.xml
        Prints the member hrefs (not the collection's own) of a Depth 1
        PROPFIND multistatus, one per line, and checks each has a getetag.

    seed.py multiget HREFS.txt --count N [--seed S]
        Prints a calendar-multiget body asking getetag and calendar-data
        for N hrefs sampled (deterministically) from HREFS.txt.

    seed.py seen --messages N --mailbox NAME [--mailbox NAME ...] [--seed S]
        Prints a bulk write body for POST /api/v1/mail/LOGIN/seen giving
        each mailbox the same seen flags for UIDs 1..N, as a mail client
        leaves them: everything but the newest 5,000 seen, except about
        300 scattered unread messages (singles and short runs); the newest
        5,000 in long runs, laid out for bench/http/seen_write.lua (see
        there): for each of two writer bands of 2,400 UIDs, the first half
        unseen and the second seen.

    seed.py directory --users N --url BASE --token TOKEN [--seed S] [--searches FILE]
        Creates N users in example.com through the admin API (POST
        /admin/v1/users, four at a time): logins first.lastK, display
        names from the name lists above, so many share a first or a last
        name. With --searches, writes one principal-property-search body
        per line: what a client sends while someone types a colleague's
        name (display name contains a first-name and a last-name fragment,
        allof; or an email prefix, anyof display name and email), each
        built from a real user so that it finds at least one.
"""

import argparse
import datetime as dt
import json
import os
import random
import sys
import unicodedata
import uuid
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape as xml_escape

CRLF = "\r\n"
TZID = "Europe/Paris"
OWNER_NAME = "Alice Martin"
OWNER_EMAIL = "alice@example.com"
# Fixed, so the files do not depend on the day they are generated.
DTSTAMP = "20240115T090000Z"
FIRST_DAY = dt.date(2024, 1, 1)
SPAN_DAYS = 730

VTIMEZONE = [
    "BEGIN:VTIMEZONE",
    "TZID:Europe/Paris",
    "X-LIC-LOCATION:Europe/Paris",
    "BEGIN:DAYLIGHT",
    "TZOFFSETFROM:+0100",
    "TZOFFSETTO:+0200",
    "TZNAME:CEST",
    "DTSTART:19700329T020000",
    "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
    "END:DAYLIGHT",
    "BEGIN:STANDARD",
    "TZOFFSETFROM:+0200",
    "TZOFFSETTO:+0100",
    "TZNAME:CET",
    "DTSTART:19701025T030000",
    "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU",
    "END:STANDARD",
    "END:VTIMEZONE",
]

FIRST_NAMES = [
    "Marie", "Jean", "Camille", "Lucas", "Léa", "Hugo", "Chloé", "Louis",
    "Emma", "Gabriel", "Inès", "Arthur", "Zoé", "Jules", "Manon", "Noah",
    "Anna", "Thomas", "Sarah", "Nathan", "Élodie", "Mathis", "Julia",
    "Raphaël", "Olivia", "Paul", "Clara", "Adam", "Lina", "Victor",
    "Sophie", "Karim", "Aïcha", "Björn", "Ingrid", "João", "Ana", "Piotr",
    "Agnieszka", "Hiroshi", "Yuki", "Wei", "Mei", "Oliver", "Charlotte",
]
LAST_NAMES = [
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit",
    "Durand", "Leroy", "Moreau", "Simon", "Laurent", "Lefèvre", "Michel",
    "Garcia", "David", "Bertrand", "Roux", "Vincent", "Fournier", "Morel",
    "Girard", "André", "Mercier", "Dupont", "Lambert", "Bonnet", "François",
    "Müller", "Schmidt", "Andersson", "Nowak", "Silva", "Tanaka", "Chen",
    "O'Brien", "Smith", "Johnson", "Rossi", "Fernández",
]
COMPANIES = [
    ("Acme SAS", "Ventes"), ("Globex SARL", "R&D"), ("Initech", "IT"),
    ("Umbrella Europe", "Logistique"), ("Société Générale de Conseil", "Audit"),
    ("Stark Industries", "Ingénierie"), ("Wayne Enterprises", "Finance"),
    ("Les Ateliers Réunis", "Production"), ("Hooli", "Produit"),
    ("Cyberdyne Systems", "Support"), ("Tyrell Corp", "Marketing"),
]
TITLES = [
    "Chef de projet", "Directrice commerciale", "Ingénieur logiciel",
    "Comptable", "Responsable RH", "Consultant senior", "Designer",
    "Product manager", "Juriste", "Assistante de direction",
]
STREETS = [
    "rue de Rivoli", "avenue des Champs-Élysées", "boulevard Haussmann",
    "rue du Faubourg Saint-Antoine", "quai de la Tournelle", "rue Oberkampf",
    "place de la République", "rue de la Paix", "avenue Jean Jaurès",
    "rue Victor Hugo", "cours Lafayette", "rue Sainte-Catherine",
]
CITIES = [
    ("Paris", "75001"), ("Paris", "75011"), ("Lyon", "69002"),
    ("Marseille", "13001"), ("Bordeaux", "33000"), ("Lille", "59000"),
    ("Nantes", "44000"), ("Toulouse", "31000"), ("Strasbourg", "67000"),
    ("Montpellier", "34000"), ("Rennes", "35000"), ("Grenoble", "38000"),
]
SUMMARIES = [
    "Point hebdomadaire équipe", "Revue de sprint", "Déjeuner avec {p}",
    "Entretien annuel – {p}", "Comité de pilotage", "Appel client {c}",
    "Atelier conception API", "Formation sécurité", "Dentiste",
    "Réunion budget T{q}", "Démo produit pour {c}", "1:1 {p}",
    "Rétrospective", "Planification trimestrielle", "Visite du site de {city}",
    "Conférence téléphonique avec {c}", "Pot de départ de {p}",
    "Cours de yoga", "Rendez-vous banque", "Revue de code, lots 3 & 4",
]
LOCATIONS = [
    "Salle Eiffel, 3e étage", "Salle Montmartre", "Visio (lien dans la description)",
    "Café de Flore, 172 boulevard Saint-Germain, Paris",
    "Siège {c}, {city}", "Bureau 4.12", "Open space B", "",
]
SENTENCES = [
    "Merci de préparer vos points avant la réunion.",
    "Ordre du jour : bilan du trimestre, priorités, questions diverses.",
    "Le compte rendu sera partagé sur le wiki de l'équipe.",
    "Rejoindre la visio : https://meet.example.com/r/{r}",
    "Apporter l'ordinateur portable et le chargeur.",
    "Code d'accès du bâtiment : {n}#.",
    "Contact sur place : {p}, +33 6 {t}.",
    "Documents : https://docs.example.com/d/{r}",
    "Attention, la salle est réservée jusqu'à l'heure pile; merci d'être ponctuels.",
    "Points ouverts : recrutement, déménagement, budget 2025, outillage CI.",
]


def text_escape(value):
    """RFC 5545 TEXT escaping (also right for vCard)."""
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\n", "\\n")
    )


def param(value):
    """A parameter value, quoted when it must be."""
    if any(c in value for c in ':;,'):
        return '"' + value.replace('"', "'") + '"'
    return value


def fold(line):
    """Folds a content line into lines of at most 75 octets (RFC 5545
    3.1), never inside a UTF-8 sequence; continuation lines start with a
    space, which counts in their 75."""
    out = []
    current = b""
    limit = 75
    for ch in line:
        enc = ch.encode("utf-8")
        if len(current) + len(enc) > limit:
            out.append(current.decode("utf-8"))
            current = b" "
            limit = 75
        current += enc
    out.append(current.decode("utf-8"))
    return CRLF.join(out)


def write_lines(path, lines):
    with open(path, "w", encoding="utf-8", newline="") as f:
        for line in lines:
            f.write(fold(line) + CRLF)


def person(rng):
    return rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)


def email_of(first, last, rng, domain=None):
    def ascii_(s):
        s = unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode()
        return "".join(c for c in s.lower() if c.isalnum())

    domain = domain or rng.choice(
        ["example.org", "example.net", "acme.example", "globex.example"]
    )
    return f"{ascii_(first)}.{ascii_(last)}@{domain}"


def fill(template, rng):
    first, last = person(rng)
    company, _ = rng.choice(COMPANIES)
    city, _ = rng.choice(CITIES)
    return template.format(
        p=f"{first} {last}",
        c=company,
        city=city,
        q=rng.randint(1, 4),
        r="%08x" % rng.getrandbits(32),
        n=rng.randint(1000, 9999),
        t="%02d %02d %02d %02d" % tuple(rng.randint(0, 99) for _ in range(4)),
    )


def local(t):
    return t.strftime("%Y%m%dT%H%M%S")


def event_lines(rng, uid, index, recurring, overrides):
    """One calendar object's VEVENT components (master, then overrides)."""
    day = FIRST_DAY + dt.timedelta(days=rng.randrange(SPAN_DAYS))
    all_day = not recurring and rng.random() < 0.06
    start = dt.datetime.combine(day, dt.time(rng.randint(7, 19), rng.choice([0, 15, 30, 45])))
    duration = dt.timedelta(minutes=rng.choice([15, 30, 45, 60, 60, 90, 120, 180]))
    summary = fill(rng.choice(SUMMARIES), rng)
    location = fill(rng.choice(LOCATIONS), rng)
    description = "\n".join(
        fill(s, rng) for s in rng.sample(SENTENCES, rng.randint(1, 4))
    )
    created = dt.datetime(2023, 12, 1) + dt.timedelta(minutes=index * 7)

    master = [
        "BEGIN:VEVENT",
        f"UID:{uid}",
        f"DTSTAMP:{DTSTAMP}",
        f"CREATED:{created.strftime('%Y%m%dT%H%M%SZ')}",
        f"LAST-MODIFIED:{(created + dt.timedelta(days=3)).strftime('%Y%m%dT%H%M%SZ')}",
        f"SUMMARY:{text_escape(summary)}",
    ]
    if all_day:
        master += [
            f"DTSTART;VALUE=DATE:{day.strftime('%Y%m%d')}",
            f"DTEND;VALUE=DATE:{(day + dt.timedelta(days=rng.randint(1, 3))).strftime('%Y%m%d')}",
            "TRANSP:TRANSPARENT",
        ]
    else:
        master += [
            f"DTSTART;TZID={TZID}:{local(start)}",
            f"DTEND;TZID={TZID}:{local(start + duration)}",
        ]
    if recurring:
        if overrides:
            # Plain weekly series, so instance k starts at start + 7k days.
            master.append(f"RRULE:FREQ=WEEKLY;COUNT={rng.randint(10, 40)}")
        else:
            kind = rng.randrange(4)
            if kind == 0:
                days = ",".join(sorted(rng.sample(["MO", "TU", "WE", "TH", "FR"], 2)))
                master.append(f"RRULE:FREQ=WEEKLY;BYDAY={days};COUNT={rng.randint(8, 52)}")
            elif kind == 1:
                until = start + dt.timedelta(days=rng.randint(10, 60))
                until_utc = until - dt.timedelta(hours=1)
                master.append(f"RRULE:FREQ=DAILY;UNTIL={until_utc.strftime('%Y%m%dT%H%M%SZ')}")
                master.append(f"EXDATE;TZID={TZID}:{local(start + dt.timedelta(days=2))}")
            elif kind == 2:
                master.append(f"RRULE:FREQ=MONTHLY;BYMONTHDAY={min(start.day, 28)}")
            else:
                master.append("RRULE:FREQ=YEARLY")
    if location:
        master.append(f"LOCATION:{text_escape(location)}")
    master.append(f"DESCRIPTION:{text_escape(description)}")
    master.append(f"CLASS:{rng.choice(['PUBLIC', 'PUBLIC', 'PRIVATE'])}")
    master.append(f"STATUS:{rng.choice(['CONFIRMED', 'CONFIRMED', 'TENTATIVE'])}")
    attendees = []
    if rng.random() < 0.6:
        master.append(f"ORGANIZER;CN={param(OWNER_NAME)}:mailto:{OWNER_EMAIL}")
        for _ in range(rng.randint(1, 6)):
            first, last = person(rng)
            attendees.append(
                f"ATTENDEE;CN={param(first + ' ' + last)};CUTYPE=INDIVIDUAL;"
                f"ROLE={rng.choice(['REQ-PARTICIPANT', 'OPT-PARTICIPANT'])};"
                f"PARTSTAT={rng.choice(['ACCEPTED', 'NEEDS-ACTION', 'TENTATIVE', 'DECLINED'])};"
                f"RSVP=TRUE:mailto:{email_of(first, last, rng)}"
            )
        master += attendees
    if rng.random() < 0.3:
        master.append(f"CATEGORIES:{rng.choice(['Travail', 'Personnel', 'Client', 'Équipe'])}")
    master.append(f"SEQUENCE:{rng.randint(0, 2)}")
    if rng.random() < 0.7:
        minutes = rng.choice([5, 10, 15, 30, 60])
        master += [
            "BEGIN:VALARM",
            "ACTION:DISPLAY",
            f"DESCRIPTION:{text_escape(summary)}",
            f"TRIGGER:-PT{minutes}M",
            "END:VALARM",
        ]
    master.append("END:VEVENT")

    lines = list(master)
    for k in overrides:
        original = start + dt.timedelta(days=7 * k)
        moved = original + dt.timedelta(hours=rng.choice([-2, -1, 1, 2]))
        lines += [
            "BEGIN:VEVENT",
            f"UID:{uid}",
            f"DTSTAMP:{DTSTAMP}",
            f"RECURRENCE-ID;TZID={TZID}:{local(original)}",
            f"DTSTART;TZID={TZID}:{local(moved)}",
            f"DTEND;TZID={TZID}:{local(moved + duration)}",
            f"SUMMARY:{text_escape(summary + ' (déplacé)')}",
            f"DESCRIPTION:{text_escape('Exceptionnellement décalé. ' + description)}",
            "SEQUENCE:3",
        ]
        if attendees:
            lines.append(f"ORGANIZER;CN={param(OWNER_NAME)}:mailto:{OWNER_EMAIL}")
            lines += attendees
        lines.append("END:VEVENT")
    return lines


def calendar(rng, count):
    recurring = set(rng.sample(range(count), count // 10))
    # About one recurring series in ten gets one or two moved instances.
    with_overrides = set(rng.sample(sorted(recurring), max(1, len(recurring) // 10)))
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//reprise//bench http seed//FR",
        "CALSCALE:GREGORIAN",
        "X-WR-CALNAME:Alice",
        f"X-WR-TIMEZONE:{TZID}",
    ]
    lines += VTIMEZONE
    for i in range(count):
        uid = f"{uuid.UUID(int=rng.getrandbits(128), version=4)}@example.com"
        overrides = []
        if i in with_overrides:
            overrides = sorted(rng.sample(range(1, 10), rng.randint(1, 2)))
        lines += event_lines(rng, uid, i, i in recurring, overrides)
    lines.append("END:VCALENDAR")
    stats = {
        "events": count,
        "recurring": len(recurring),
        "with_overrides": len(with_overrides),
    }
    return lines, stats


def vcard(rng, index):
    first, last = person(rng)
    company, dept = rng.choice(COMPANIES)
    city, zipcode = rng.choice(CITIES)
    street = f"{rng.randint(1, 180)} {rng.choice(STREETS)}"
    mobile = "+33 6 " + " ".join("%02d" % rng.randint(0, 99) for _ in range(4))
    office = "+33 1 " + " ".join("%02d" % rng.randint(0, 99) for _ in range(4))
    uid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    rev = (dt.datetime(2023, 6, 1) + dt.timedelta(hours=index * 3)).strftime("%Y%m%dT%H%M%SZ")
    work_mail = email_of(first, last, rng, company.split()[0].lower() + ".example")
    home_mail = email_of(first, last, rng)
    note = fill(rng.choice(SENTENCES), rng) if rng.random() < 0.3 else None
    n = f"{text_escape(last)};{text_escape(first)};;;"
    if rng.random() < 0.7:
        lines = [
            "BEGIN:VCARD",
            "VERSION:3.0",
            "PRODID:-//reprise//bench http seed//FR",
            f"UID:{uid}",
            f"N:{n}",
            f"FN:{text_escape(first + ' ' + last)}",
            f"ORG:{text_escape(company)};{text_escape(dept)}",
            f"TITLE:{text_escape(rng.choice(TITLES))}",
            f"EMAIL;TYPE=INTERNET,WORK:{work_mail}",
            f"EMAIL;TYPE=INTERNET,HOME:{home_mail}",
            f"TEL;TYPE=CELL:{mobile}",
            f"TEL;TYPE=WORK,VOICE:{office}",
            f"ADR;TYPE=WORK:;;{text_escape(street)};{text_escape(city)};;{zipcode};France",
        ]
        if rng.random() < 0.2:
            lines.append(f"BDAY:{rng.randint(1950, 2002)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}")
    else:
        lines = [
            "BEGIN:VCARD",
            "VERSION:4.0",
            "PRODID:-//reprise//bench http seed//FR",
            f"UID:urn:uuid:{uid}",
            "KIND:individual",
            f"N:{n}",
            f"FN:{text_escape(first + ' ' + last)}",
            f"ORG:{text_escape(company)};{text_escape(dept)}",
            f"TITLE:{text_escape(rng.choice(TITLES))}",
            f"EMAIL;TYPE=work;PREF=1:{work_mail}",
            f"EMAIL;TYPE=home:{home_mail}",
            f'TEL;VALUE=uri;TYPE="cell,voice":tel:{mobile.replace(" ", "-")}',
            f"TEL;VALUE=uri;TYPE=work:tel:{office.replace(' ', '-')}",
            f"ADR;TYPE=work;LABEL={param(street + ', ' + zipcode + ' ' + city)}:;;"
            f"{text_escape(street)};{text_escape(city)};;{zipcode};France",
        ]
        if rng.random() < 0.2:
            lines.append(f"BDAY:{rng.randint(1950, 2002)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}")
    if note:
        lines.append(f"NOTE:{text_escape(note)}")
    lines += [f"REV:{rev}", "END:VCARD"]
    return lines


def put_template(rng):
    """The PUT scenario's body: what a client sends for a new meeting
    (VTIMEZONE included), about 1 KB. @UID@ is replaced per request."""
    attendees = []
    for _ in range(3):
        first, last = person(rng)
        attendees.append(
            f"ATTENDEE;CN={param(first + ' ' + last)};ROLE=REQ-PARTICIPANT;"
            f"PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:{email_of(first, last, rng)}"
        )
    return [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//reprise//bench http put//FR",
        "CALSCALE:GREGORIAN",
    ] + VTIMEZONE + [
        "BEGIN:VEVENT",
        "UID:@UID@",
        f"DTSTAMP:{DTSTAMP}",
        "CREATED:20240115T090000Z",
        "LAST-MODIFIED:20240115T090000Z",
        "SUMMARY:Atelier de conception – nouvelle API de synchronisation",
        "DTSTART;TZID=Europe/Paris:20240312T140000",
        "DTEND;TZID=Europe/Paris:20240312T153000",
        "LOCATION:Salle Eiffel\\, 3e étage",
        "DESCRIPTION:" + text_escape(
            "Ordre du jour : revue des besoins, maquettes, découpage des lots.\n"
            "Rejoindre la visio : https://meet.example.com/r/4f2a9c"
        ),
        f"ORGANIZER;CN={param(OWNER_NAME)}:mailto:{OWNER_EMAIL}",
    ] + attendees + [
        "SEQUENCE:0",
        "BEGIN:VALARM",
        "ACTION:DISPLAY",
        "DESCRIPTION:Rappel",
        "TRIGGER:-PT15M",
        "END:VALARM",
        "END:VEVENT",
        "END:VCALENDAR",
    ]


def cmd_data(args):
    os.makedirs(args.out, exist_ok=True)
    rng = random.Random(args.seed)
    cal, stats = calendar(random.Random(rng.getrandbits(64)), args.events)
    write_lines(os.path.join(args.out, "calendar.ics"), cal)
    card_rng = random.Random(rng.getrandbits(64))
    cards = []
    for i in range(args.contacts):
        cards += vcard(card_rng, i)
    write_lines(os.path.join(args.out, "contacts.vcf"), cards)
    write_lines(
        os.path.join(args.out, "put-template.ics"),
        put_template(random.Random(rng.getrandbits(64))),
    )
    sizes = {
        name: os.path.getsize(os.path.join(args.out, name))
        for name in ("calendar.ics", "contacts.vcf", "put-template.ics")
    }
    print(
        f"seed {args.seed}: {stats['events']} events ({stats['recurring']} recurring, "
        f"{stats['with_overrides']} with overridden instances), {args.contacts} contacts; "
        f"calendar.ics {sizes['calendar.ics']} B, contacts.vcf {sizes['contacts.vcf']} B, "
        f"PUT body {sizes['put-template.ics']} B"
    )


def cmd_hrefs(args):
    tree = ET.parse(args.file)
    responses = tree.getroot().findall("{DAV:}response")
    if not responses:
        sys.exit(f"{args.file}: no DAV:response in the PROPFIND answer")
    collection = responses[0].findtext("{DAV:}href").strip()
    for r in responses[1:]:
        href = r.findtext("{DAV:}href").strip()
        if not href.startswith(collection):
            sys.exit(f"{args.file}: member {href} is not inside {collection}")
        if r.find(".//{DAV:}getetag") is None or not r.findtext(".//{DAV:}getetag"):
            sys.exit(f"{args.file}: member {href} has no getetag")
        print(href)


def cmd_multiget(args):
    with open(args.file, encoding="utf-8") as f:
        hrefs = [h.strip() for h in f if h.strip()]
    if len(hrefs) < args.count:
        sys.exit(f"{args.file}: {len(hrefs)} hrefs, fewer than {args.count}")
    chosen = random.Random(args.seed).sample(hrefs, args.count)
    out = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">',
        "<D:prop><D:getetag/><C:calendar-data/></D:prop>",
    ]
    out += [f"<D:href>{xml_escape(h)}</D:href>" for h in chosen]
    out.append("</C:calendar-multiget>")
    sys.stdout.write("\n".join(out) + "\n")


# The newest messages, where the seen_write scenario works: two bands
# (one per wrk thread) of WRITE_BAND UIDs, WRITE_STRIDE apart. Keep in
# step with seen_write.lua.
ACTIVE = 5000
WRITE_BAND = 2400
WRITE_STRIDE = 2500


def seen_ranges(rng, messages):
    """Sorted, disjoint (first, last) ranges of seen UIDs."""
    if messages < 2 * ACTIVE:
        sys.exit(f"seed.py seen: --messages must be at least {2 * ACTIVE}")
    top = messages - ACTIVE + 1
    unread = set()
    while len(unread) < 300:
        first = rng.randint(1, top - 5)
        run = 1 if rng.random() < 0.8 else rng.randint(2, 4)
        unread.update(range(first, first + run))
    seen = [uid for uid in range(1, top) if uid not in unread]
    for band in range(2):
        start = top + band * WRITE_STRIDE
        seen.extend(range(start + WRITE_BAND // 2, start + WRITE_BAND))
    # What is left of the newest messages: long read and unread runs, the
    # very newest unread.
    for start in (top + WRITE_BAND, top + WRITE_STRIDE + WRITE_BAND):
        end = min(start + WRITE_STRIDE - WRITE_BAND, messages - 20)
        seen.extend(range(start, max(start, end)))
    ranges = []
    for uid in sorted(set(seen)):
        if ranges and ranges[-1][1] + 1 == uid:
            ranges[-1][1] = uid
        else:
            ranges.append([uid, uid])
    return ranges


def cmd_seen(args):
    rng = random.Random(args.seed)
    ranges = seen_ranges(rng, args.messages)
    text = ",".join(f"{a}" if a == b else f"{a}:{b}" for a, b in ranges)
    body = {"write": [{"mailbox": m, "add": text} for m in args.mailbox]}
    json.dump(body, sys.stdout)
    sys.stdout.write("\n")
    count = sum(b - a + 1 for a, b in ranges)
    print(f"{count} of {args.messages} seen in {len(ranges)} ranges", file=sys.stderr)


def directory_users(count, seed):
    """(login, display name, email) of `count` users, deterministic."""
    rng = random.Random(seed)

    def ascii_(s):
        s = unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode()
        return "".join(c for c in s.lower() if c.isalnum())

    users = []
    for k in range(count):
        first, last = person(rng)
        login = f"{ascii_(first)}.{ascii_(last)}{k}"
        users.append((login, f"{first} {last}", f"{login}@example.com"))
    return users


def principal_search(searches, any_of=False):
    tests = "".join(
        f"<D:property-search><D:prop>{props}</D:prop><D:match>{xml_escape(text)}</D:match></D:property-search>"
        for props, text in searches
    )
    test = ' test="anyof"' if any_of else ""
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<D:principal-property-search xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"{test}>'
        f"{tests}<D:prop><D:displayname/><C:calendar-user-address-set/>"
        "<C:calendar-user-type/></D:prop></D:principal-property-search>"
    )


def cmd_directory(args):
    import concurrent.futures
    import http.client
    import time
    import urllib.parse

    users = directory_users(args.users, args.seed)
    target = urllib.parse.urlsplit(args.url)
    headers = {"Authorization": f"Bearer {args.token}", "Content-Type": "application/json"}

    def create(batch):
        conn = http.client.HTTPConnection(target.hostname, target.port, timeout=120)
        for login, name, email in batch:
            body = json.dumps({
                "login": login, "domain": "example.com", "email": email,
                "password": f"{login}-password", "display_name": name,
            })
            conn.request("POST", "/admin/v1/users", body, headers)
            reply = conn.getresponse()
            text = reply.read()
            if reply.status != 201:
                raise SystemExit(f"creating {login}: {reply.status} {text[:300]!r}")
        conn.close()

    started = time.monotonic()
    workers = 4
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        for done in pool.map(create, [users[i::workers] for i in range(workers)]):
            pass
    seconds = time.monotonic() - started
    if args.searches:
        rng = random.Random(args.seed + 1)
        with open(args.searches, "w", encoding="utf-8") as f:
            for _ in range(200):
                login, name, email = rng.choice(users)
                first, last = name.split(" ", 1)
                if rng.random() < 0.67:
                    body = principal_search(
                        [("<D:displayname/>", first[:4]), ("<D:displayname/>", last[:4])]
                    )
                else:
                    prefix = login[: len(login.split(".")[0]) + 4]
                    props = "<D:displayname/><C:calendar-user-address-set/>"
                    body = principal_search([(props, prefix)], any_of=True)
                f.write(body + "\n")
    print(f"{len(users)} users created through the admin API in {seconds:.0f} s")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("data")
    d.add_argument("--out", required=True)
    d.add_argument("--seed", type=int, default=1)
    d.add_argument("--events", type=int, default=2000)
    d.add_argument("--contacts", type=int, default=2000)
    d.set_defaults(func=cmd_data)
    h = sub.add_parser("hrefs")
    h.add_argument("file")
    h.set_defaults(func=cmd_hrefs)
    m = sub.add_parser("multiget")
    m.add_argument("file")
    m.add_argument("--count", type=int, default=100)
    m.add_argument("--seed", type=int, default=1)
    m.set_defaults(func=cmd_multiget)
    n = sub.add_parser("seen")
    n.add_argument("--messages", type=int, default=100000)
    n.add_argument("--mailbox", action="append", required=True)
    n.add_argument("--seed", type=int, default=1)
    n.set_defaults(func=cmd_seen)
    u = sub.add_parser("directory")
    u.add_argument("--users", type=int, default=10000)
    u.add_argument("--url", required=True)
    u.add_argument("--token", required=True)
    u.add_argument("--seed", type=int, default=1)
    u.add_argument("--searches")
    u.set_defaults(func=cmd_directory)
    args = p.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
