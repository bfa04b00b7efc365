#!/usr/bin/env python3
"""python caldav's searches against a server: calendar-query with time
ranges over a recurring series (with an overridden instance and an EXDATE,
in a zone with DST), with the server expanding it, todos by completion,
and text search.

The library filters and expands client-side by default, which would hide
a server's mistakes, so the time-range searches here use
post_filter=False and server_expand=True: what comes back is what the
server decided.

Exits 0 after printing "python_caldav_search: PASS"; on any mismatch prints
"python_caldav_search: FAIL: <what>" and exits 1.
"""

import argparse
import os
import sys
import uuid
from datetime import datetime, timezone

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from davhttp import check, fail_main  # noqa: E402

import caldav  # noqa: E402

NAME = "python_caldav_search"
UTC = timezone.utc


def step(msg):
    print(f"ok: {msg}", flush=True)


def at(*args):
    return datetime(*args, tzinfo=UTC)


def uids(objects):
    return sorted({str(o.icalendar_component.get("UID")) for o in objects})


def todo(uid, completed):
    extra = ("STATUS:COMPLETED\r\nCOMPLETED:20240301T100000Z\r\n" if completed
             else "STATUS:NEEDS-ACTION\r\n")
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//reprise//search//EN\r\n"
            f"BEGIN:VTODO\r\nUID:{uid}\r\nDTSTAMP:20240101T000000Z\r\nSUMMARY:{uid}\r\n"
            f"{extra}END:VTODO\r\nEND:VCALENDAR\r\n")


def run(args):
    client = caldav.DAVClient(url=args.url, username=args.user, password=args.password,
                              timeout=args.timeout)
    principal = client.principal()
    run_id = uuid.uuid4().hex[:10]
    cal = principal.make_calendar(name=f"Search {run_id}", cal_id=f"search-{run_id}")
    with open(args.series, encoding="utf-8", newline="") as f:
        series = f.read()
    series_uid = "7f3a9c2e-1b4d-4e8f-a6c5-0d9e8f7a6b5c"
    cal.add_event(series)
    cal.add_event(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//reprise//search//EN\r\nBEGIN:VEVENT\r\n"
        "UID:budget\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240320T150000Z\r\n"
        "DTEND:20240320T160000Z\r\nSUMMARY:Budget review\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
    cal.add_todo(todo("open-task", False))
    cal.add_todo(todo("done-task", True))
    step("a weekly series with an override and an EXDATE, an event and two todos saved")

    def events(start, end):
        return uids(cal.search(event=True, start=start, end=end, post_filter=False))

    # Tuesdays 09:00 Europe/Berlin; windows chosen so that the library's
    # extra day on each side changes nothing.
    check(events(at(2024, 4, 9, 6, 30), at(2024, 4, 9, 7, 15)) == [series_uid],
          "the summer instance (07:00Z) was not found")
    check(events(at(2024, 4, 2), at(2024, 4, 3)) == [],
          "the EXDATE'd instance was found")
    check(events(at(2024, 7, 2), at(2024, 7, 3)) == [],
          "an instance after UNTIL was found")
    check(events(at(2024, 3, 20, 14), at(2024, 3, 20, 17)) == ["budget"],
          "the single event was not found alone")
    step("time ranges decided by the server: DST, EXDATE, UNTIL")

    expanded = cal.search(event=True, start=at(2024, 3, 1), end=at(2024, 3, 16),
                          expand=True, server_expand=True)
    starts = sorted(o.icalendar_component.get("DTSTART").dt.astimezone(UTC)
                    for o in expanded if str(o.icalendar_component.get("UID")) == series_uid)
    want = [at(2024, 3, 7, 13), at(2024, 3, 12, 8)]
    check(starts == want, f"server-expanded instances start at {starts}, expected {want}")
    step("server expansion: the moved instance at its new time, the next one in its zone")

    open_todos = uids(cal.search(todo=True))
    check(open_todos == ["open-task"], f"pending todos: {open_todos}")
    all_todos = uids(cal.search(todo=True, include_completed=True))
    check(all_todos == ["done-task", "open-task"], f"all todos: {all_todos}")
    step("todos by completion")

    # The library asks for i;octet: a case-sensitive substring.
    found = uids(cal.search(event=True, summary="review"))
    check(found == ["budget"], f"text search for 'review' found {found}")
    found = uids(cal.search(event=True, summary="REVIEW"))
    check(found == [], f"a case-sensitive search for 'REVIEW' found {found}")
    step("text search")

    cal.delete()
    print(f"{NAME}: PASS", flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--series", required=True, help="fixtures/ical/thunderbird_recurring_override.ics")
    p.add_argument("--timeout", type=int, default=30)
    args = p.parse_args()
    fail_main(NAME, lambda: run(args))


if __name__ == "__main__":
    main()
