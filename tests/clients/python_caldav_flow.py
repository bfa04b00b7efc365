#!/usr/bin/env python3
"""What python caldav (Home Assistant, many scripts) does against a server.

Starting from the bare server URL: principal discovery, the calendar list
(which must hold the default calendar), MKCALENDAR, an event and a todo
saved and read back, the calendar listed and followed with the library's
sync-token support (RFC 6578), an edit that must change the ETag, a
stale-ETag save that must be refused (by the library's If-Match, and by a
raw PUT: 412), deletes that must stick and show up in the next sync, and a
contact through raw CardDAV requests. Objects are found by URL and by
sync, not by calendar-query searches (time-range and text queries are
tested with the query support).

Exits 0 after printing "python_caldav_flow: PASS"; on any mismatch prints
"python_caldav_flow: FAIL: <what>" and exits 1.
"""

import os
import sys
import uuid

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from davhttp import Dav, check, client_arguments, fail_main, prop  # noqa: E402

import caldav  # noqa: E402
from caldav.lib import error  # noqa: E402

NAME = "python_caldav_flow"


def step(msg):
    print(f"ok: {msg}", flush=True)


def ics(component, uid, summary, extra=""):
    dt = "DTSTART:20260310T090000Z\r\nDTEND:20260310T100000Z\r\n" if component == "VEVENT" \
        else "DUE:20260312T170000Z\r\nPRIORITY:1\r\nSTATUS:NEEDS-ACTION\r\n"
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//reprise//python-caldav-flow//EN\r\n"
        f"BEGIN:{component}\r\nUID:{uid}\r\nDTSTAMP:20260301T120000Z\r\n{dt}"
        f"SUMMARY:{summary}\r\n{extra}END:{component}\r\nEND:VCALENDAR\r\n"
    )


def path_of(url):
    from urllib.parse import unquote, urlsplit
    return unquote(urlsplit(str(url)).path).rstrip("/") + "/"


def summary_of(obj):
    return str(obj.icalendar_component.get("SUMMARY"))


def run(args):
    raw = Dav(args.url, args.user, args.password, timeout=args.timeout)
    client = caldav.DAVClient(url=args.url, username=args.user, password=args.password,
                              timeout=args.timeout)
    print(f"caldav {caldav.__version__} against {args.url}", flush=True)

    principal = client.principal()
    step(f"principal {path_of(principal.url)}")
    check(path_of(principal.url) == raw.principal(),
          f"the library found principal {principal.url}, PROPFIND current-user-principal says {raw.principal()}")

    calendars = principal.get_calendars()
    names = {path_of(c.url).rstrip("/").rsplit("/", 1)[-1]: c for c in calendars}
    check(args.default_calendar in names,
          f"calendar list {sorted(names)} lacks the default calendar {args.default_calendar!r}")
    step(f"{len(calendars)} calendar(s), default {args.default_calendar!r} among them")

    run_id = uuid.uuid4().hex[:10]
    cal_id = f"flow-{run_id}"
    cal = principal.make_calendar(name=f"Flow {run_id}", cal_id=cal_id)
    listed = [path_of(c.url) for c in principal.get_calendars()]
    check(path_of(cal.url) in listed, f"new calendar {cal.url} not listed after MKCALENDAR: {listed}")
    step(f"MKCALENDAR {path_of(cal.url)}")

    ev_uid = f"flow-event-{run_id}@example.com"
    todo_uid = f"flow-todo-{run_id}@example.com"
    saved_event = cal.add_event(ics("VEVENT", ev_uid, "Flow meeting"))
    saved_todo = cal.add_todo(ics("VTODO", todo_uid, "Flow task"))
    event = caldav.Event(client=client, url=saved_event.url, parent=cal)
    event.load()
    check(summary_of(event) == "Flow meeting", f"event read back with SUMMARY {summary_of(event)!r}")
    todo = caldav.Todo(client=client, url=saved_todo.url, parent=cal)
    todo.load()
    check(summary_of(todo) == "Flow task", f"todo read back with SUMMARY {summary_of(todo)!r}")
    synced = cal.get_objects_by_sync_token(load_objects=True)
    uids = sorted(str(o.icalendar_component.get("UID")) for o in synced)
    check(uids == sorted([ev_uid, todo_uid]), f"a first sync lists UIDs {uids}")
    check(synced.sync_token, "the first sync gave no sync token")
    step(f"event and todo saved, loaded by URL, listed by a first sync (token {synced.sync_token})")

    # Two copies of the event, as two clients would hold them.
    mine = caldav.Event(client=client, url=saved_event.url, parent=cal)
    mine.load()
    theirs = caldav.Event(client=client, url=saved_event.url, parent=cal)
    theirs.load()
    old_etag = mine.etag
    check(old_etag, f"GET {mine.url} gave no ETag")
    mine.icalendar_component["SUMMARY"] = "Flow meeting, moved"
    mine.save()
    check(mine.etag, f"PUT {mine.url} (an update) answered without an ETag header")
    current = raw.get(mine.url)
    check(current.status == 200, f"GET {mine.url} after the edit: {current}")
    server_etag = current.header("ETag")
    check(server_etag and server_etag != old_etag,
          f"the edit left the ETag unchanged ({old_etag} -> {server_etag})")
    check(server_etag == mine.etag,
          f"PUT answered ETag {mine.etag} but GET then gives {server_etag}")
    check(prop(current.text, "SUMMARY") == "Flow meeting, moved",
          f"GET after the edit gives SUMMARY {prop(current.text, 'SUMMARY')!r}")
    updated, deleted = synced.sync()
    changed = [path_of(o.url) for o in updated]
    check(changed == [path_of(mine.url)] and not list(deleted),
          f"the sync after the edit reports updated {changed}, deleted {list(deleted)}")
    step(f"edit changed the ETag {old_etag} -> {server_etag}; the next sync reports only it")

    theirs.icalendar_component["SUMMARY"] = "Flow meeting, stale edit"
    try:
        # "etag": If-Match even when the server also gives a Schedule-Tag
        # (with If-Schedule-Tag-Match an RFC 6638 server may merge instead).
        theirs.save(precondition="etag")
    except error.ETagMismatchError:
        pass
    else:
        check(False, f"save with the stale ETag {old_etag} was accepted")
    stale = raw.put(mine.url, current.text.replace("Flow meeting, moved", "Raw stale edit"),
                    "text/calendar; charset=utf-8", if_match=old_etag)
    check(stale.status == 412, f"PUT with If-Match {old_etag} (stale): expected 412, got {stale}")
    after = raw.get(mine.url)
    check(prop(after.text, "SUMMARY") == "Flow meeting, moved" and after.header("ETag") == server_etag,
          f"a refused stale write changed the event: {after.header('ETag')} {prop(after.text, 'SUMMARY')!r}")
    step("stale ETag refused (library ETagMismatchError, raw PUT 412), event untouched")

    event_url, todo_url = mine.url, todo.url
    mine.delete()
    todo.delete()
    for url in (event_url, todo_url):
        r = raw.get(url)
        check(r.status == 404, f"GET {url} after DELETE: expected 404, got {r}")
    updated, deleted = synced.sync()
    gone = sorted(path_of(o.url) for o in deleted)
    check(gone == sorted([path_of(event_url), path_of(todo_url)]) and not list(updated),
          f"the sync after the deletes reports deleted {gone}, updated {list(updated)}")
    left = list(cal.get_objects_by_sync_token(load_objects=False))
    check(not left, f"a fresh sync still lists {[o.url for o in left]} after the deletes")
    step("event and todo deleted: GET gives 404, the sync reports both deletions")

    contact_flow(raw, args.default_addressbook, run_id)

    cal.delete()
    listed = [path_of(c.url) for c in principal.get_calendars()]
    check(path_of(cal.url) not in listed, f"deleted calendar {cal.url} still listed")
    step("calendar deleted")
    print(f"{NAME}: PASS", flush=True)


def contact_flow(raw, book_name, run_id):
    """python caldav has no CardDAV: the same steps as raw requests."""
    book = raw.collection("carddav", book_name)
    uid = f"flow-contact-{run_id}"
    href = f"{book}{uid}.vcf"
    card = (f"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:Flow Contact\r\n"
            f"N:Contact;Flow;;;\r\nEMAIL;TYPE=INTERNET:{uid}@example.com\r\nEND:VCARD\r\n")
    r = raw.put(href, card, "text/vcard; charset=utf-8", if_none_match="*")
    check(r.status in (201, 204), f"PUT {href} (new contact): expected 201, got {r}")
    got = raw.get(href)
    check(got.status == 200 and prop(got.text, "FN") == "Flow Contact", f"GET {href}: {got}")
    etag = got.header("ETag")
    check(etag, f"GET {href} gave no ETag")
    check(href in raw.items(book), f"{href} not listed in {book}")
    again = raw.put(href, card, "text/vcard; charset=utf-8", if_none_match="*")
    check(again.status == 412, f"PUT If-None-Match: * over an existing contact: expected 412, got {again}")
    edited = card.replace("FN:Flow Contact", "FN:Flow Contact Edited")
    r = raw.put(href, edited, "text/vcard; charset=utf-8", if_match=etag)
    check(r.status in (200, 204), f"PUT {href} with If-Match {etag}: {r}")
    new_etag = raw.get(href).header("ETag")
    check(new_etag and new_etag != etag, f"contact edit left the ETag {etag} -> {new_etag}")
    r = raw.delete(href, if_match=etag)
    check(r.status == 412, f"DELETE {href} with a stale If-Match: expected 412, got {r}")
    r = raw.delete(href, if_match=new_etag)
    check(r.status in (200, 204), f"DELETE {href}: {r}")
    check(raw.get(href).status == 404, f"GET {href} after DELETE is not 404")
    step(f"contact in {book}: PUT, GET, If-None-Match, If-Match edit and stale DELETE 412, DELETE")


def main():
    p = client_arguments(__doc__)
    p.add_argument("--default-calendar", default="default",
                   help="last path segment of the default calendar in the calendar home")
    p.add_argument("--default-addressbook", default="default",
                   help="last path segment of the default address book in the address-book home")
    args = p.parse_args()
    fail_main(NAME, lambda: run(args))


if __name__ == "__main__":
    main()
