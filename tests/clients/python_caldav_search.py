#!/usr/bin/env python3
"""python caldav's searches against a server: calendar-query with time
ranges over a recurring series (with an overridden instance and an EXDATE,
in a zone with DST), with the server expanding it, todos by completion,
and text search.

The library filters and expands client-side by default, which would hide
a server's mistakes, so the searches here use post_filter=False (and
server_expand=True where the server expands): what comes back is what the
server decided. One search is also made as applications make it
(expand=True alone: the server picks, the library expands), with the
same expected instances.

Exits 0 after printing "python_caldav_search: PASS"; on any mismatch prints
"python_caldav_search: FAIL: <what>" and exits 1.
"""

import os
import sys
import uuid
from datetime import datetime, timezone

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from davhttp import check, client_arguments, fail_main  # noqa: E402

import caldav  # noqa: E402

NAME = "python_caldav_search"
UTC = timezone.utc


def step(msg):
    print(f"ok: {msg}", flush=True)


def at(*args):
    return datetime(*args, tzinfo=UTC)


def uids(objects):
    return sorted({str(o.icalendar_component.get("UID")) for o in objects})


def todo(uid, status=None, completed=False):
    extra = f"STATUS:{status}\r\n" if status else ""
    if completed:
        extra += "COMPLETED:20240301T100000Z\r\n"
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//reprise//search//EN\r\n"
            f"BEGIN:VTODO\r\nUID:{uid}\r\nDTSTAMP:20240101T000000Z\r\nSUMMARY:{uid}\r\n"
            f"{extra}END:VTODO\r\nEND:VCALENDAR\r\n")


def utc(value):
    """A DTSTART/RECURRENCE-ID value as a UTC datetime (None stays None)."""
    return None if value is None else value.dt.astimezone(UTC)


def instances(objects):
    """(UID, RECURRENCE-ID, DTSTART, SUMMARY, has RRULE) of every VEVENT
    in the results, times in UTC, in start order."""
    out = []
    for o in objects:
        for comp in o.icalendar_instance.walk("VEVENT"):
            out.append((str(comp.get("UID")), utc(comp.get("RECURRENCE-ID")),
                        utc(comp.get("DTSTART")), str(comp.get("SUMMARY")), "RRULE" in comp))
    return sorted(out, key=lambda i: (i[2], i[0]))


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
        "DTEND:20240320T160000Z\r\nSUMMARY:Budget review\r\nLOCATION:Room 1.01\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n")
    todos = {
        "open-task": dict(status="NEEDS-ACTION"),
        "busy-task": dict(status="IN-PROCESS"),
        "plain-task": dict(),
        "done-task": dict(status="COMPLETED", completed=True),
        "dropped-task": dict(status="CANCELLED"),
    }
    for uid, how in todos.items():
        cal.add_todo(todo(uid, **how))
    step("a weekly series with an override and an EXDATE, an event and five todos saved")

    # Without expansion: what the server's time-range test decides, whole
    # objects back. post_filter=False: no client-side second opinion.
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
    check(events(at(2024, 3, 5, 7), at(2024, 3, 5, 10)) == [],
          "the moved instance was found at its original time")
    found = cal.search(event=True, start=at(2024, 3, 7, 12, 30), end=at(2024, 3, 7, 14),
                       post_filter=False)
    got = instances(found)
    check([(i[0], i[1], i[4]) for i in got] == [(series_uid, None, True),
                                                 (series_uid, at(2024, 3, 5, 8), False)],
          f"the moved instance's window gave {got}, expected the whole series "
          "(master with RRULE, and the override)")
    step("time ranges decided by the server: DST, EXDATE, UNTIL, the moved instance")

    # Mar 1 to Apr 17 2024: Europe/Berlin changes to summer time on Mar 31.
    start, end = at(2024, 3, 1), at(2024, 4, 17)
    sync, moved = "Team sync", "Team sync (moved to Thursday)"
    want = [
        (series_uid, at(2024, 3, 5, 8), at(2024, 3, 7, 13), moved, False),
        (series_uid, at(2024, 3, 12, 8), at(2024, 3, 12, 8), sync, False),
        (series_uid, at(2024, 3, 19, 8), at(2024, 3, 19, 8), sync, False),
        ("budget", None, at(2024, 3, 20, 15), "Budget review", False),
        (series_uid, at(2024, 3, 26, 8), at(2024, 3, 26, 8), sync, False),
        # 04-02 is the EXDATE; summer time from here.
        (series_uid, at(2024, 4, 9, 7), at(2024, 4, 9, 7), sync, False),
        (series_uid, at(2024, 4, 16, 7), at(2024, 4, 16, 7), sync, False),
    ]

    # The server expands (<C:expand>), and the library only splits what
    # came back into one object per instance: nothing expanded client-side.
    raw = cal.search(event=True, start=start, end=end, server_expand=True, post_filter=False)
    got = instances(raw)
    check(got == want, f"server-expanded instances:\n{got}\nexpected\n{want}")
    for o in raw:
        check(all(name not in o.data for name in ("RRULE", "EXDATE", "RDATE")),
              f"an expanded instance still has recurrence rules:\n{o.data}")
    # What applications call: expand=True (here with server_expand too).
    got = instances(cal.search(event=True, start=start, end=end, expand=True, server_expand=True))
    check(got == want, f"expand=True, server_expand=True:\n{got}\nexpected\n{want}")
    step("server expansion: RECURRENCE-ID and DTSTART of each instance across DST, "
         "the moved one at its new time with its own summary, none for the EXDATE")

    # expand=True alone: the library expands the whole objects the
    # server's time-range test picked.
    got = instances(cal.search(event=True, start=start, end=end, expand=True))
    check(got == want, f"expand=True (client-side):\n{got}\nexpected\n{want}")
    step("client expansion of the objects the server found")

    # Pending: neither COMPLETED nor CANCELLED, and no COMPLETED date
    # (python caldav sends three filters for this and merges the answers).
    pending = uids(cal.search(todo=True, include_completed=False, post_filter=False))
    check(pending == ["busy-task", "open-task", "plain-task"], f"pending todos: {pending}")
    every = uids(cal.search(todo=True, include_completed=True, post_filter=False))
    check(every == sorted(todos), f"all todos: {every}")
    # The library's default is the pending ones.
    default = uids(cal.search(todo=True))
    check(default == pending, f"todo=True alone: {default}")
    step("todos by completion")

    # The library asks for i;octet: a case-sensitive substring.
    def text(**props):
        return uids(cal.search(event=True, post_filter=False, **props))

    found = text(summary="review")
    check(found == ["budget"], f"text search for 'review' found {found}")
    found = text(summary="REVIEW")
    check(found == [], f"a case-sensitive search for 'REVIEW' found {found}")
    # The override's SUMMARY: any component of the object may match.
    found = text(summary="moved to")
    check(found == [series_uid], f"text search for 'moved to' found {found}")
    found = text(location="Room")
    check(found == sorted(["budget", series_uid]), f"LOCATION search for 'Room' found {found}")
    found = text(location="Room 3.02")
    check(found == [series_uid], f"LOCATION search for 'Room 3.02' found {found}")
    # A text and a time range together: both must hold.
    found = uids(cal.search(event=True, summary="Team", start=at(2024, 3, 20, 14),
                            end=at(2024, 3, 20, 17), post_filter=False))
    check(found == [], f"'Team' in the budget's window found {found}")
    found = uids(cal.search(todo=True, include_completed=True, summary="task",
                            post_filter=False))
    check(found == sorted(todos), f"todos with 'task' in SUMMARY: {found}")
    step("text search")

    cal.delete()
    print(f"{NAME}: PASS", flush=True)


def main():
    p = client_arguments(__doc__)
    p.add_argument("--series", required=True, help="fixtures/ical/thunderbird_recurring_override.ics")
    args = p.parse_args()
    fail_main(NAME, lambda: run(args))


if __name__ == "__main__":
    main()
