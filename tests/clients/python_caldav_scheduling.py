#!/usr/bin/env python3
"""Scheduling (RFC 6638) between two directory users with python caldav.

The organizer (--user) invites the attendee (--attendee) with
save_with_invites; the attendee finds the invitation in their inbox (and
the copy already in their calendar) and accepts it with accept_invite;
the organizer's copy then shows ACCEPTED and their inbox one REPLY. The
organizer's delete cancels the attendee's copy. A room (--room, an email
of a resource of the directory) invited to two overlapping meetings
accepts the first and declines the second.

Exits 0 after printing "python_caldav_scheduling: PASS"; on any mismatch
prints "python_caldav_scheduling: FAIL: <what>" and exits 1.
"""

import os
import sys
import time
import uuid

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from davhttp import check, client_arguments, fail_main  # noqa: E402

import caldav  # noqa: E402

NAME = "python_caldav_scheduling"


def step(msg):
    print(f"ok: {msg}", flush=True)


def meeting(uid, summary, start="20320615T100000Z", end="20320615T110000Z"):
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//reprise//python-caldav-scheduling//EN\r\n"
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20320101T000000Z\r\nSEQUENCE:0\r\n"
        f"DTSTART:{start}\r\nDTEND:{end}\r\nSUMMARY:{summary}\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def until(what, probe, seconds=20):
    """Polls probe() until it returns something true; that value."""
    deadline = time.time() + seconds
    while True:
        value = probe()
        if value:
            return value
        check(time.time() < deadline, f"{what} did not happen within {seconds} s")
        time.sleep(0.2)


def partstat_of(event, address):
    for attendee in event.icalendar_component.get("attendee", []):
        if str(attendee).lower() == address.lower():
            return str(attendee.params.get("PARTSTAT", "NEEDS-ACTION")).upper()
    return None


def new_items(inbox, before):
    return [i for i in inbox.get_items() if str(i.url) not in before]


def find(calendars, uid):
    for calendar in calendars:
        try:
            return calendar.event_by_uid(uid)
        except caldav.lib.error.NotFoundError:
            continue
    return None


def run(args):
    url = args.url + "/"
    organizer = caldav.DAVClient(url=url, username=args.user, password=args.password,
                                 timeout=args.timeout)
    attendee = caldav.DAVClient(url=url, username=args.attendee,
                                password=args.attendee_password, timeout=args.timeout)
    pa, pb = organizer.principal(), attendee.principal()
    check(organizer.check_scheduling_support(), "the server does not say calendar-auto-schedule")
    a_inbox, b_inbox = pa.schedule_inbox(), pb.schedule_inbox()
    a_before = {str(i.url) for i in a_inbox.get_items()}
    b_before = {str(i.url) for i in b_inbox.get_items()}
    b_address = str(pb.get_vcal_address())
    check(b_address.lower().startswith("mailto:"), f"the attendee's address is {b_address}")
    step(f"two principals with inboxes; the attendee is {b_address}")

    calendar = pa.calendars()[0]
    uid = f"sched-{uuid.uuid4()}"
    event = calendar.save_with_invites(meeting(uid, "Planning"), [pa, pb.get_vcal_address()])
    check(event.schedule_tag, "the organizer's PUT gave no Schedule-Tag")
    step("save_with_invites: the organizer's PUT has a Schedule-Tag")

    items = until("the invitation in the attendee's inbox",
                  lambda: [i for i in new_items(b_inbox, b_before) if i.id == uid])
    check(len(items) == 1, f"{len(items)} invitations in the attendee's inbox")
    check(items[0].is_invite_request(), "the inbox item is not a METHOD:REQUEST")
    copy = find(pb.calendars(), uid)
    check(copy is not None, "no copy in the attendee's calendars with the invitation")
    check(partstat_of(copy, b_address) == "NEEDS-ACTION", "the copy's PARTSTAT is not NEEDS-ACTION")
    check(not new_items(a_inbox, a_before), "the organizer got something in their inbox")
    step("the attendee has the REQUEST in their inbox and the copy in their calendar")

    items[0].accept_invite()
    replies = until("the REPLY in the organizer's inbox", lambda: new_items(a_inbox, a_before))
    check(len(replies) == 1 and replies[0].is_invite_reply(),
          f"the organizer's inbox has {len(replies)} new items, not one REPLY")
    event.load()
    check(partstat_of(event, b_address) == "ACCEPTED",
          f"the organizer's copy says {partstat_of(event, b_address)}")
    step("accept_invite: the organizer's copy shows ACCEPTED and their inbox one REPLY")

    event.delete()

    def cancelled():
        c = find(pb.calendars(), uid)
        return c is not None and str(c.icalendar_component.get("status", "")).upper() == "CANCELLED"
    until("the cancellation of the attendee's copy", cancelled)
    step("the organizer's delete cancels the attendee's copy")

    if args.room:
        room = f"mailto:{args.room}"
        first = calendar.save_with_invites(meeting(f"room-a-{uuid.uuid4()}", "Room A"), [pa, room])
        second = calendar.save_with_invites(
            meeting(f"room-b-{uuid.uuid4()}", "Room B", "20320615T103000Z", "20320615T113000Z"),
            [pa, room])

        def answered(event):
            def probe():
                event.load()
                state = partstat_of(event, room)
                return state if state not in (None, "NEEDS-ACTION") else None
            return probe
        check(until("the room's answer to the first", answered(first)) == "ACCEPTED",
              "the room did not accept the first meeting")
        check(until("the room's answer to the second", answered(second)) == "DECLINED",
              "the room did not decline the overlapping meeting")
        step("a room accepts the first meeting and declines an overlapping one")
    print(f"{NAME}: PASS", flush=True)


def main():
    p = client_arguments(__doc__)
    p.add_argument("--attendee", required=True)
    p.add_argument("--attendee-password", required=True)
    p.add_argument("--room", help="email of a room of the directory")
    args = p.parse_args()
    fail_main(NAME, lambda: run(args))


if __name__ == "__main__":
    main()
