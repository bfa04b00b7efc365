#!/usr/bin/env python3
"""Writes the text seeds of fuzz/corpus/<target>/ from the repository's
fixtures and the bodies, filters, paths and sets its tests use.

Run from the repository's root: `python3 fuzz/seeds.py`, then minimise
each corpus with `cargo fuzz cmin` (scripts/fuzz --cmin does both). The
event_codec and snapshot_file seeds are binary and were made once with
the server (see fuzz/README.md); this script leaves them alone.
"""

import hashlib
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"

RUST_SOURCES = [
    p
    for d in ("formats", "events", "src", "tests/it")
    for p in sorted((ROOT / d).rglob("*.rs"))
]

CALENDAR_QUERY = (
    '<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
    '<D:prop><D:getetag/><C:calendar-data/></D:prop>'
    "<C:filter>{filter}</C:filter></C:calendar-query>"
)
EXPAND_QUERY = (
    '<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
    '<D:prop><C:calendar-data><C:expand start="20240101T000000Z" end="20260101T000000Z"/>'
    "</C:calendar-data></D:prop><C:filter>{filter}</C:filter>"
    "<C:timezone>BEGIN:VCALENDAR\r\nBEGIN:VTIMEZONE\r\nTZID:America/New_York\r\n"
    "END:VTIMEZONE\r\nEND:VCALENDAR\r\n</C:timezone></C:calendar-query>"
)


def write(target, data):
    if isinstance(data, str):
        data = data.encode()
    out = CORPUS / target
    out.mkdir(parents=True, exist_ok=True)
    # Named by content, as libFuzzer names its own entries.
    (out / hashlib.sha1(data).hexdigest()).write_bytes(data)


def raw_strings(text):
    """The bodies of the raw string literals r#"..."# in Rust source."""
    return re.findall(r'r#"(.*?)"#', text, re.S)


def xml_bodies():
    bodies = [p.read_bytes() for p in sorted((ROOT / "formats/fixtures/requests").glob("*.xml"))]
    for path in RUST_SOURCES:
        for s in raw_strings(path.read_text(errors="replace")):
            s = s.strip()
            if s.startswith("<") and "xmlns" in s and "{" not in s:
                bodies.append(s.encode())
    return bodies


def filter_snippets():
    """The comp-filters the calendar-query tests wrap in a query."""
    text = (ROOT / "formats/src/calfilter.rs").read_text()
    return sorted({s for s in raw_strings(text) if s.startswith("<C:comp-filter")})


def card_filter_snippets():
    text = (ROOT / "formats/src/cardfilter.rs").read_text()
    return sorted({s for s in raw_strings(text) if s.lstrip().startswith("<C:addressbook-query")})


def calendars():
    files = sorted((ROOT / "fixtures/ical").glob("*.ics")) + sorted(
        (ROOT / "fixtures/scheduling").glob("*.ics")
    )
    # A sample of the generated recurrence oracle: rules of every shape.
    files += sorted((ROOT / "fixtures/recurrence-oracle").glob("*.ics"))[:40]
    return [p.read_bytes() for p in files]


def cards():
    return [p.read_bytes() for p in sorted((ROOT / "fixtures/vcard").glob("*.vcf"))]


def main():
    bodies = xml_bodies()
    for body in bodies:
        write("dav_request", body)

    objects = calendars()
    for obj in objects:
        write("ical", obj)
    for card in cards():
        write("vcard", card)

    queries = [b for b in bodies if b"calendar-query" in b]
    for snippet in filter_snippets():
        queries.append(CALENDAR_QUERY.format(filter=snippet).encode())
        queries.append(EXPAND_QUERY.format(filter=snippet).encode())
    # Each query against a few objects, each object against a few queries:
    # every half is in some seed without the product of both.
    for i, query in enumerate(queries):
        for j in range(3):
            write("calendar_query", query + b"\0" + objects[(i * 3 + j) % len(objects)])
    for i, obj in enumerate(objects):
        write("calendar_query", queries[i % len(queries)] + b"\0" + obj)

    book_queries = [b for b in bodies if b"addressbook-query" in b]
    book_queries += [s.encode() for s in card_filter_snippets()]
    vcards = cards()
    for i, query in enumerate(book_queries):
        for j in range(2):
            write("addressbook_query", query + b"\0" + vcards[(i * 2 + j) % len(vcards)])
    for i, card in enumerate(vcards):
        write("addressbook_query", book_queries[i % len(book_queries)] + b"\0" + card)

    paths, sets = set(), set()
    for path in RUST_SOURCES:
        text = path.read_text(errors="replace")
        paths.update(re.findall(r'"(/dav[^"{}\s]*)"', text))
        if "uid" in path.name or "mail" in str(path) or "seen" in path.name:
            sets.update(re.findall(r'"([0-9*][0-9:,*]*)"', text))
    for p in sorted(paths):
        write("dav_path", p)
    for s in sorted(sets):
        write("uidset", s)


if __name__ == "__main__":
    main()
