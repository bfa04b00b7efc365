#!/usr/bin/env python3
"""Time-range queries checked against an independent oracle.

A seeded generator (random.Random(seed): the same seed gives the same
objects and windows, byte for byte) makes calendar objects, one VEVENT
series per object with its own UID: DAILY, WEEKLY, MONTHLY and YEARLY
rules with INTERVAL, BYDAY (ordinals such as 2TU and -1FR in monthly and
yearly rules), BYMONTHDAY, BYMONTH, BYSETPOS and WKST; COUNT, UNTIL (some
exactly on an instance) or no end; RDATEs, also PERIODs (start/end and
start/duration); EXDATEs that hit an instance and EXDATEs that miss;
overrides (RECURRENCE-ID) that move an instance earlier or later, across
days and weeks, with another length; EXDATEs and RECURRENCE-IDs sometimes
written in UTC for a zoned series; times in Europe/Paris,
America/New_York, Australia/Sydney, UTC, the Windows name "Eastern
Standard Time", a zone known only by its VTIMEZONE, and floating; starts
and instances on and around DST changes (in the gap and in the overlap);
starts on days some months or years lack (the 31st, Feb 29); all-day
series and single events; DTEND, DURATION, or neither, from minutes to
weeks. Then it makes query windows, a second to half a year long: random
ones up to 2045, and many starting or ending exactly where an occurrence
starts or ends, preferably one near a DST change.

The oracle for an object and a window [start, end) is
recurring_ical_events (rie) on icalendar: `of(calendar).between(...)`
gives the occurrences, each tested by RFC 4791 §9.9: an occurrence with a
length overlaps the window iff start < occurrence end AND end > occurrence
start; one of length zero (a DATE-TIME DTSTART and neither DTEND nor
DURATION, or DURATION of zero) iff start <= DTSTART < end; an all-day
occurrence without DTEND or DURATION lasts one day. Floating times and
DATEs are in UTC, or in the zone of the calendar's calendar-timezone
(--floating-zone): rie reads them in the zone of the window it is given,
so the window is given in that zone.

Where rie and the RFCs differ, the generator avoids the case or the
comparison is adjusted:

1. Instance length (adjusted). rie gives every instance the master's
   DTEND - DTSTART as a wall-clock difference (Python subtracts aware
   datetimes of one zone on the wall clock) and adds DURATION on the wall
   clock, so an instance spanning a DST change is an hour too long or
   short. RFC 5545 §3.8.5.3 says a DTEND gives every instance the same
   *exact* duration, and §3.3.6 that DURATION days are nominal (wall
   clock) and hours, minutes and seconds exact. So rie decides only which
   instances exist and where each starts; the script computes each
   occurrence's end itself from the component that produced it (the
   override with that RECURRENCE-ID, else the RDATE PERIOD starting
   there, else the master) and applies the §9.9 test on UTC instants.
   Days are added to the instance's wall-clock time as the rule made it:
   for a start in a DST gap that is the nonexistent time (02:30 + P1D is
   02:30 the next day), as rie and reprise both read it. rie is asked for
   a window two days wider on each side so that no occurrence is lost to
   its own end arithmetic.
2. COUNT with a DTSTART that is not an instance of the rule (avoided).
   RFC 5545 §3.8.5.3: "The DTSTART property value always counts as the
   first occurrence". rie adds DTSTART to dateutil's instances, and
   dateutil counts only the rule's, so it gives COUNT+1 occurrences. The
   generator moves DTSTART to the rule's first instance when it uses
   COUNT (an unsynchronised DTSTART is still generated with UNTIL or no
   end, where both agree that it is one extra occurrence).
3. UNTIL before DTSTART (avoided): rie then drops DTSTART too; RFC 5545
   keeps DTSTART as the first instance. UNTIL is always >= DTSTART.
4. An override whose RECURRENCE-ID is EXDATEd (avoided): rie drops the
   override, the RFCs do not say (reprise keeps it). Overrides only
   replace instances that no EXDATE removes.
5. DTEND equal to DTSTART (avoided): invalid in RFC 5545 §3.8.2.2 (DTEND
   "MUST be later in time"); rie treats it as zero duration
   (start <= DTSTART < end), the §9.9 DTEND row (and reprise) says
   start < DTEND. Zero-length events are made with DURATION:PT0S or
   without DTEND and DURATION, where both agree; a DTEND that a DST gap
   would make no later than DTSTART is written as a DURATION.
6. rie matches EXDATEs and RECURRENCE-IDs to instances by their UTC time
   *or* their wall-clock time as naive datetimes, so an EXDATE whose wall
   clock equals another instance's UTC time removes that instance too.
   EXDATEs that miss are 37 minutes off an instance or on a day without
   one, and extra RDATEs are never a whole number of hours off the
   series' time of day, so no two such values are a UTC offset apart.
7. For a TZID that is not an IANA name, icalendar reads the object's
   VTIMEZONE with dateutil's tzical (also for the Windows name, which it
   maps to IANA only when the object carries no VTIMEZONE), and tzical
   puts a wall-clock time in a DST gap after the change (RFC 5545 §3.3.5:
   before). Times in those zones stay out of 01:00-04:00, where the gaps
   and overlaps of their rules are; floating times too, so that the
   objects do not depend on the floating zone. IANA zones are read by
   zoneinfo with fold=0, which is the RFC's reading of gaps and overlaps,
   so times there are generated in gaps and overlaps too.

Not covered: open-ended windows (a window needs start and end), VTODO,
VJOURNAL and VALARM, RANGE=THISANDFUTURE (rie moves later instances on
the wall clock, reprise by the exact difference; RFC 5545 does not say
which), several RRULEs, DATE EXDATEs in a DATE-TIME series.

Modes:
  live      MKCALENDAR a fresh calendar (with --floating-zone, its
            calendar-timezone), PUT the objects, and for each window
            compare the hrefs a calendar-query REPORT (Depth 1, getetag)
            returns with the oracle's. Prints `ok: ...` lines, then
            `recurrence_oracle: PASS`, or the mismatches (window, both
            sets, each differing object and rie's occurrences near the
            window) and `recurrence_oracle: FAIL: <what>`.
  fixtures  Writes the objects (<uid>.ics) and the oracle's answers
            (expected.txt, and expected.<zone>.txt per --floating-zone:
            one line per window, `start end uid...`) to --out, for
            formats/tests/recurrence_oracle.rs; with --check, verifies
            that --out holds exactly that instead.

Examples:
  recurrence_oracle.py live --url http://127.0.0.1:8080 --user alice \\
      --password alice-secret --seed 7 --events 150 --windows 60
  recurrence_oracle.py fixtures --seed 4791 --events 300 --windows 100 \\
      --floating-zone America/New_York --out fixtures/recurrence-oracle
"""

import argparse
import datetime as dt
from importlib import metadata
import os
import random
import sys
import urllib.parse
import uuid
import xml.etree.ElementTree as ET
from zoneinfo import ZoneInfo

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from davhttp import CALDAV, DAV, Dav, Mismatch, check, fail_main  # noqa: E402

import icalendar  # noqa: E402
import recurring_ical_events  # noqa: E402

NAME = "recurrence_oracle"
UTC = dt.timezone.utc
DAY = dt.timedelta(days=1)

# ---------------------------------------------------------------- zones

VTZ_PARIS = (
    "BEGIN:VTIMEZONE\r\nTZID:{tzid}\r\n"
    "BEGIN:STANDARD\r\nDTSTART:19701025T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\n"
    "TZNAME:CET\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\n"
    "BEGIN:DAYLIGHT\r\nDTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\n"
    "TZNAME:CEST\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nEND:DAYLIGHT\r\n"
    "END:VTIMEZONE\r\n"
)
VTZ_NEW_YORK = (
    "BEGIN:VTIMEZONE\r\nTZID:{tzid}\r\n"
    "BEGIN:STANDARD\r\nDTSTART:20071104T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU\r\n"
    "TZNAME:EST\r\nTZOFFSETFROM:-0400\r\nTZOFFSETTO:-0500\r\nEND:STANDARD\r\n"
    "BEGIN:DAYLIGHT\r\nDTSTART:20070311T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU\r\n"
    "TZNAME:EDT\r\nTZOFFSETFROM:-0500\r\nTZOFFSETTO:-0400\r\nEND:DAYLIGHT\r\n"
    "END:VTIMEZONE\r\n"
)
VTZ_SYDNEY = (
    "BEGIN:VTIMEZONE\r\nTZID:{tzid}\r\n"
    "BEGIN:STANDARD\r\nDTSTART:20080406T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=4;BYDAY=1SU\r\n"
    "TZNAME:AEST\r\nTZOFFSETFROM:+1100\r\nTZOFFSETTO:+1000\r\nEND:STANDARD\r\n"
    "BEGIN:DAYLIGHT\r\nDTSTART:20081005T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=1SU\r\n"
    "TZNAME:AEDT\r\nTZOFFSETFROM:+1000\r\nTZOFFSETTO:+1100\r\nEND:DAYLIGHT\r\n"
    "END:VTIMEZONE\r\n"
)


class Zone:
    """How a series' times are written and read.

    `tzid` None: UTC (written with Z) or floating (`floating`: in the
    zone the query gives, UTC by default); `rules`: the IANA zone the RFC
    arithmetic of this script uses; `quiet`: times stay out of
    01:00-04:00 (see 7. above; floating times too, so that the objects do
    not depend on the floating zone)."""

    def __init__(self, tzid, rules, vtimezone=None, quiet=False, floating=False):
        self.tzid = tzid
        self.rules = rules
        self.vtimezone = vtimezone.format(tzid=tzid) if vtimezone else None
        self.quiet = quiet
        self.floating = floating

    def rules_for(self, floating):
        return floating if self.floating else self.rules

    def to_utc(self, local, floating=None):
        """The instant of a wall-clock time: fold=0, so a time in a gap has
        the offset before it and one in an overlap is the earlier
        instant (RFC 5545 §3.3.5)."""
        rules = self.rules_for(floating)
        if rules is None:
            return local.replace(tzinfo=UTC)
        return local.replace(tzinfo=rules).astimezone(UTC)

    def to_local(self, instant, floating=None):
        rules = self.rules_for(floating)
        if rules is None:
            return instant.astimezone(UTC).replace(tzinfo=None)
        return instant.astimezone(rules).replace(tzinfo=None)

    def write(self, name, local, params=""):
        """A DATE-TIME property line for the wall-clock time `local`."""
        value = local.strftime("%Y%m%dT%H%M%S")
        if self.tzid:
            return f"{name};TZID={self.tzid}{params}:{value}"
        if self.floating:
            return f"{name}{params}:{value}"
        return f"{name}{params}:{value}Z"

    def write_list(self, name, locals_):
        values = ",".join(t.strftime("%Y%m%dT%H%M%S") + ("" if self.tzid or self.floating else "Z")
                          for t in locals_)
        if self.tzid:
            return f"{name};TZID={self.tzid}:{values}"
        return f"{name}:{values}"

    def __repr__(self):
        return self.tzid or ("floating" if self.floating else "UTC")


PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")
SYDNEY = ZoneInfo("Australia/Sydney")
ZONES = [
    (Zone(None, None), 12),
    (Zone("Europe/Paris", PARIS, VTZ_PARIS), 22),
    (Zone("America/New_York", NEW_YORK, VTZ_NEW_YORK), 20),
    (Zone("Australia/Sydney", SYDNEY, VTZ_SYDNEY), 20),
    (Zone("Eastern Standard Time", NEW_YORK, VTZ_NEW_YORK, quiet=True), 6),
    (Zone("Reprise Oracle Central", PARIS, VTZ_PARIS, quiet=True), 8),
    (Zone(None, None, quiet=True, floating=True), 6),
]
FLOATING_DATES = Zone(None, None, floating=True)

# DST changes 2025-2028 of the zones above (local dates).
TRANSITIONS = {
    "Europe/Paris": ["2025-03-30", "2025-10-26", "2026-03-29", "2026-10-25",
                     "2027-03-28", "2027-10-31", "2028-03-26", "2028-10-29"],
    "America/New_York": ["2025-03-09", "2025-11-02", "2026-03-08", "2026-11-01",
                         "2027-03-14", "2027-11-07", "2028-03-12", "2028-11-05"],
    "Australia/Sydney": ["2025-04-06", "2025-10-05", "2026-04-05", "2026-10-04",
                         "2027-04-04", "2027-10-03", "2028-04-02", "2028-10-01"],
}


def transitions_of(zone):
    key = {PARIS: "Europe/Paris", NEW_YORK: "America/New_York", SYDNEY: "Australia/Sydney"}.get(zone.rules)
    return [dt.date.fromisoformat(d) for d in TRANSITIONS.get(key, [])]


# ---------------------------------------------------------------- the model

class Length:
    """How a component's end is written and follows from its start.

    kind: "dtend" (DTEND at start + delta on the wall clock, or `days`
    later for a DATE), "duration" (DURATION of `days` nominal days and
    `seconds` exact seconds), "none"."""

    def __init__(self, kind, days=0, seconds=0, end_in_utc=False):
        self.kind = kind
        self.days = days
        self.seconds = seconds
        self.end_in_utc = end_in_utc

    def lines(self, zone, start, all_day):
        if self.kind == "none":
            return []
        if self.kind == "duration":
            return [f"DURATION:{duration_text(self.days, self.seconds)}"]
        if all_day:
            return [f"DTEND;VALUE=DATE:{(start + dt.timedelta(days=self.days)):%Y%m%d}"]
        end_local = start + dt.timedelta(days=self.days, seconds=self.seconds)
        if self.end_in_utc and zone.tzid:
            return [f"DTEND:{zone.to_utc(end_local):%Y%m%dT%H%M%SZ}"]
        return [zone.write("DTEND", end_local)]


def duration_text(days, seconds):
    out = "P"
    if days:
        out += f"{days // 7}W" if days % 7 == 0 and not seconds else f"{days}D"
    if seconds or not days:
        out += "T"
        h, rest = divmod(seconds, 3600)
        m, s = divmod(rest, 60)
        if h:
            out += f"{h}H"
        if m:
            out += f"{m}M"
        if s or not (h or m):
            out += f"{s}S"
    return out


class Component:
    """The master or an override: its start (wall clock, or a date) and length."""

    def __init__(self, start, length, rid=None, rid_in_utc=False):
        self.start = start
        self.length = length
        self.rid = rid  # wall-clock time or date of the replaced instance
        self.rid_in_utc = rid_in_utc  # RECURRENCE-ID written in UTC


class Obj:
    def __init__(self, uid, zone, all_day):
        self.uid = uid
        self.zone = zone
        self.all_day = all_day
        self.master = None
        self.rrule = None
        self.rdates = []
        self.periods = []  # (start, Length): RDATE;VALUE=PERIOD
        self.exdates = []
        self.overrides = []
        self.summary = ""

    # -- instants, RFC arithmetic

    def instant(self, value, floating=None):
        """A DATE (its midnight, floating) or wall-clock time as UTC."""
        if self.all_day:
            value = dt.datetime(value.year, value.month, value.day)
        return self.zone.to_utc(value, floating)

    def rfc_end(self, comp, start, local, floating=None):
        """RFC 5545 end of an instance of `comp` starting at the UTC
        instant `start`, whose wall-clock time is `local` (as written or
        generated: in a DST gap it is not the wall-clock time of `start`),
        and whether it has zero length: DTEND gives the exact duration of
        the component's own DTSTART..DTEND, DURATION (and the distance
        between two DATEs) its days on the wall clock from `local` and the
        rest exact; an all-day event without either lasts a day, a timed
        one has no length."""
        length = comp.length
        zone = self.zone
        if self.all_day or length.kind == "duration":
            days = 1 if length.kind == "none" else length.days
            local = local + dt.timedelta(days=days)
            end = zone.to_utc(local, floating) + dt.timedelta(seconds=length.seconds)
            return end, end == start
        if length.kind == "none":
            return start, True
        end_local = comp.start + dt.timedelta(days=length.days, seconds=length.seconds)
        exact = zone.to_utc(end_local, floating) - zone.to_utc(comp.start, floating)
        return start + exact, False

    # -- text

    def start_line(self, name, value, in_utc=False):
        if self.all_day:
            return f"{name};VALUE=DATE:{value:%Y%m%d}"
        if in_utc and self.zone.tzid:
            return f"{name}:{self.zone.to_utc(value):%Y%m%dT%H%M%SZ}"
        return self.zone.write(name, value)

    def ical(self):
        lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//reprise//recurrence oracle//EN"]
        out = "\r\n".join(lines) + "\r\n"
        if self.zone.vtimezone and not self.all_day:
            out += self.zone.vtimezone
        body = []
        body += self.component_lines(self.master, master=True)
        for o in self.overrides:
            body += self.component_lines(o, master=False)
        body.append("END:VCALENDAR")
        return out + "".join(fold(line) + "\r\n" for line in body)

    def component_lines(self, comp, master):
        lines = ["BEGIN:VEVENT", f"UID:{self.uid}", "DTSTAMP:20250101T000000Z"]
        if not master:
            lines.append(self.start_line("RECURRENCE-ID", comp.rid, comp.rid_in_utc))
        lines.append(self.start_line("DTSTART", comp.start))
        lines += comp.length.lines(self.zone, comp.start, self.all_day)
        if master:
            if self.rrule:
                lines.append(f"RRULE:{self.rrule}")
            if self.rdates:
                lines.append(self.date_list("RDATE", self.rdates))
            for start, length in self.periods:
                lines.append(self.period_line(start, length))
            for group, in_utc in self.exdates:
                lines.append(self.date_list("EXDATE", group, in_utc))
            lines.append(f"SUMMARY:{self.summary}")
        else:
            lines.append(f"SUMMARY:{self.summary} (moved)")
        lines.append("END:VEVENT")
        return lines

    def period_line(self, start, length):
        """RDATE;VALUE=PERIOD: start/end (`dtend`) or start/duration."""
        zone = self.zone
        z = "" if zone.tzid or zone.floating else "Z"
        if length.kind == "dtend":
            end = start + dt.timedelta(days=length.days, seconds=length.seconds)
            tail = f"{end:%Y%m%dT%H%M%S}{z}"
        else:
            tail = duration_text(length.days, length.seconds)
        tzid = f";TZID={zone.tzid}" if zone.tzid else ""
        return f"RDATE;VALUE=PERIOD{tzid}:{start:%Y%m%dT%H%M%S}{z}/{tail}"

    def date_list(self, name, values, in_utc=False):
        if self.all_day:
            return f"{name};VALUE=DATE:" + ",".join(f"{v:%Y%m%d}" for v in values)
        if in_utc and self.zone.tzid:
            return f"{name}:" + ",".join(f"{self.zone.to_utc(v):%Y%m%dT%H%M%SZ}" for v in values)
        return self.zone.write_list(name, values)


def fold(line):
    """RFC 5545 folding at 75 octets (the lines are ASCII)."""
    out = []
    while len(line) > 75:
        out.append(line[:75])
        line = " " + line[75:]
    out.append(line)
    return "\r\n".join(out)


# ---------------------------------------------------------------- the generator

WEEKDAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]
FIRST_DAY = dt.date(2025, 1, 1)
LAST_DAY = dt.date(2027, 12, 31)


def random_day(rng, first=FIRST_DAY, last=LAST_DAY):
    return first + dt.timedelta(days=rng.randrange((last - first).days + 1))


def random_time(rng, zone, near_change):
    if near_change and not zone.quiet:
        h, m = rng.choice([(0, 30), (1, 0), (1, 30), (2, 0), (2, 30), (3, 0), (3, 30), (23, 30)])
        return dt.time(h, m)
    while True:
        h, m = rng.choice([(0, 0), (8, 0), (9, 0), (9, 30), (12, 15), (17, 45), (22, 0), (23, 30),
                           (rng.randrange(24), rng.choice([0, 15, 30, 45, 10]))])
        if not (zone.quiet and 1 <= h < 4):
            return dt.time(h, m)


def out_of_quiet_hours(zone, local):
    """Whether a wall-clock time may be used in `zone` (see 7. above)."""
    return not zone.quiet or not (1 <= local.hour < 4)


def timed_length(rng):
    r = rng.random()
    if r < 0.45:
        seconds = rng.choice([15 * 60, 30 * 60, 3600, 5400, 3 * 3600, 8 * 3600, 23 * 3600,
                              25 * 3600, 51 * 3600, 10 * 86400 + 3600])
        days, seconds = divmod(seconds, 86400)
        return Length("dtend", days=days, seconds=seconds, end_in_utc=rng.random() < 0.1)
    if r < 0.8:
        days, seconds = rng.choice([(0, 900), (0, 3600), (0, 9000), (0, 86400), (1, 0), (1, 7200),
                                    (2, 0), (7, 0), (0, 0), (20, 0)])
        return Length("duration", days=days, seconds=seconds)
    return Length("none")


def all_day_length(rng):
    r = rng.random()
    if r < 0.4:
        return Length("dtend", days=rng.choice([1, 1, 2, 3, 5, 16]))
    if r < 0.7:
        return Length("duration", days=rng.choice([1, 2, 7, 14]))
    return Length("none")


def random_rule(rng, start, all_day):
    """An RRULE without COUNT/UNTIL, for a series starting at `start`."""
    freq = rng.choices(["DAILY", "WEEKLY", "MONTHLY", "YEARLY"], [30, 30, 25, 15])[0]
    parts = [f"FREQ={freq}"]
    interval = rng.choice([1, 1, 1, 2, 3]) if freq != "YEARLY" else rng.choice([1, 1, 2])
    if interval > 1 or rng.random() < 0.1:
        parts.append(f"INTERVAL={interval}")
    if freq == "DAILY":
        if rng.random() < 0.2:
            parts.append("BYDAY=MO,TU,WE,TH,FR")
        elif rng.random() < 0.1:
            parts.append(f"BYMONTH={start.month},{(start.month % 12) + 1}")
    elif freq == "WEEKLY":
        if rng.random() < 0.6:
            days = sorted(rng.sample(range(7), rng.randint(1, 3)))
            parts.append("BYDAY=" + ",".join(WEEKDAYS[d] for d in days))
        if interval > 1 and rng.random() < 0.4:
            parts.append("WKST=SU")
    elif freq == "MONTHLY":
        r = rng.random()
        if r < 0.25:
            pass
        elif r < 0.5:
            parts.append("BYMONTHDAY=" + rng.choice(["1", "15", "1,15", "31", "-1", "29,30", "-2",
                                                     str(start.day)]))
        elif r < 0.85:
            parts.append("BYDAY=" + rng.choice(["2TU", "-1FR", "1MO,3MO", "-1SU", "4TH", "5WE",
                                                "1SA,-1SA"]))
        else:
            parts.append("BYDAY=MO,TU,WE,TH,FR;BYSETPOS=" + rng.choice(["-1", "1", "2,-2"]))
    else:
        r = rng.random()
        if r < 0.35:
            pass
        elif r < 0.6:
            parts.append(f"BYMONTH={rng.randint(1, 12)};BYMONTHDAY={rng.choice([1, 10, 28, 29, 31, -1])}")
        elif r < 0.9:
            month, day = rng.choice([(3, "-1SU"), (10, "-1SU"), (3, "2SU"), (11, "1SU"),
                                     (4, "1SU"), (10, "1SU"), (5, "2MO")])
            parts.append(f"BYMONTH={month};BYDAY={day}")
        else:
            parts.append(f"BYMONTH={start.month},{((start.month + 5) % 12) + 1}")
    return ";".join(parts)


def bare_calendar(obj):
    """The object without EXDATEs and overrides, for picking instances."""
    copy = Obj(obj.uid, obj.zone, obj.all_day)
    copy.master = obj.master
    copy.rrule = obj.rrule
    copy.rdates = obj.rdates
    copy.periods = obj.periods
    return icalendar.Calendar.from_ical(copy.ical())


def first_instances(obj, count):
    """The wall-clock starts (or dates) of the first instances of the
    object's recurrence set, without EXDATEs and overrides, by rie."""
    cal = bare_calendar(obj)
    start = obj.instant(obj.master.start) - 2 * DAY
    horizon = {"DAILY": 200, "WEEKLY": 900, "MONTHLY": 3000, "YEARLY": 12000}
    freq = obj.rrule.split(";")[0].split("=")[1] if obj.rrule else "DAILY"
    found = []
    for c in recurring_ical_events.of(cal).between(start, start + dt.timedelta(days=horizon[freq])):
        found.append(c["DTSTART"].dt)
    found.sort(key=lambda v: instant_of(v))
    out = []
    for v in found[:count]:
        if obj.all_day:
            out.append(v if not isinstance(v, dt.datetime) else v.date())
        else:
            out.append(obj.zone.to_local(instant_of(v)) if not obj.zone.floating
                       else v.replace(tzinfo=None))
    return out


def wall_clock(value):
    """The wall-clock time of a rie start (midnight for a DATE): rie keeps
    the time the rule generated, also in a DST gap."""
    if not isinstance(value, dt.datetime):
        return dt.datetime(value.year, value.month, value.day)
    return value.replace(tzinfo=None)


def instant_of(value, floating=None):
    """A rie start or RECURRENCE-ID as a UTC instant (DATEs and floating
    times in the floating zone, UTC when None)."""
    if not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    if value.tzinfo is None:
        return value.replace(tzinfo=floating or UTC).astimezone(UTC)
    return value.astimezone(UTC)


def synchronise(obj):
    """Moves DTSTART to the rule's first instance (see 2. above)."""
    from dateutil.rrule import rrulestr

    start = obj.master.start
    naive = start if not obj.all_day else dt.datetime(start.year, start.month, start.day)
    first = rrulestr(obj.rrule, dtstart=naive).after(naive, inc=True)
    if first is None:
        return False
    obj.master.start = first if not obj.all_day else first.date()
    return True


def positive(obj, start, length):
    """`length`, or a DURATION of the same size when its DTEND would not
    be later than DTSTART (a DST gap can make a one-hour DTEND zero long;
    see 5. above) or would fall in the hours avoided in a custom zone."""
    if obj.all_day or length.kind != "dtend":
        return length
    end = start + dt.timedelta(days=length.days, seconds=length.seconds)
    if obj.zone.to_utc(end) <= obj.zone.to_utc(start) or not out_of_quiet_hours(obj.zone, end):
        return Length("duration", days=length.days, seconds=length.seconds)
    return length


def make_object(rng, uid):
    all_day = rng.random() < 0.25
    zone = FLOATING_DATES if all_day else rng.choices([z for z, _ in ZONES], [w for _, w in ZONES])[0]
    obj = Obj(uid, zone, all_day)
    changes = transitions_of(zone)
    near_change = bool(changes) and rng.random() < 0.35
    if near_change:
        day = rng.choice(changes) + dt.timedelta(days=rng.randint(-8, 8))
    elif rng.random() < 0.1:
        # Days some months or years lack, and the ends of years.
        day = dt.date.fromisoformat(rng.choice(["2025-01-31", "2025-03-31", "2026-05-31",
                                                "2028-02-29", "2025-12-31", "2027-01-01",
                                                "2026-08-30", "2027-10-29"]))
    else:
        day = random_day(rng)
    if all_day:
        start = day
        length = all_day_length(rng)
    else:
        start = dt.datetime.combine(day, random_time(rng, zone, near_change))
        length = timed_length(rng)
    obj.master = Component(start, length)
    obj.summary = f"{uid} {zone!r}"

    obj.master.length = positive(obj, start, obj.master.length)
    kind = rng.random()
    if kind < 0.2:
        return obj  # a single event
    if kind < 0.25:
        # RDATEs only.
        obj.rdates = extra_dates(rng, obj, rng.randint(1, 4))
        return obj
    obj.rrule = random_rule(rng, start, all_day)
    end = rng.random()
    if end < 0.35:
        if not synchronise(obj):
            obj.rrule = None
            return obj
        obj.rrule += f";COUNT={rng.choice([1, 2, 3, 5, 8, 13, 21, 30])}"
        obj.master.length = positive(obj, obj.master.start, obj.master.length)
    elif end < 0.65:
        obj.rrule += ";UNTIL=" + until_value(rng, obj)
    if rng.random() < 0.1:
        obj.rdates = extra_dates(rng, obj, rng.randint(1, 2))
    if not all_day and rng.random() < 0.1:
        obj.periods = periods(rng, obj, rng.randint(1, 2))

    instances = first_instances(obj, 40)
    if not instances:
        return obj
    # EXDATEs that hit (1-3) and that miss (0-2).
    if rng.random() < 0.4:
        hits = rng.sample(instances, min(len(instances), rng.randint(1, 3)))
        misses = [missing(rng, obj, instances) for _ in range(rng.randint(0, 2))]
        values = sorted(set(hits + [m for m in misses if m is not None]))
        in_utc = rng.random() < 0.2
        if rng.random() < 0.5 or len(values) < 2:
            obj.exdates = [(values, in_utc)]
        else:
            cut = rng.randint(1, len(values) - 1)
            obj.exdates = [(values[:cut], in_utc), (values[cut:], rng.random() < 0.2)]
    # Overrides that move instances.
    if rng.random() < 0.4:
        excluded = {v for group, _ in obj.exdates for v in group}
        candidates = [i for i in instances if i not in excluded]
        for rid in sorted(rng.sample(candidates, min(len(candidates), rng.randint(1, 3)))):
            moved = moved_override(rng, obj, rid)
            if moved is not None:
                obj.overrides.append(moved)
    return obj


def until_value(rng, obj):
    """An UNTIL after DTSTART: on an instance, or anywhere."""
    start = obj.master.start
    on_instance = rng.random() < 0.4
    if on_instance:
        instances = first_instances(obj, 25)
        pick = rng.choice(instances[: max(1, len(instances))])
        if obj.all_day:
            return f"{pick:%Y%m%d}"
        if obj.zone.floating:
            return f"{pick:%Y%m%dT%H%M%S}"
        return f"{obj.zone.to_utc(pick):%Y%m%dT%H%M%SZ}"
    days = rng.choice([0, 3, 10, 45, 100, 400, 1000])
    if obj.all_day:
        return f"{start + dt.timedelta(days=days):%Y%m%d}"
    local = start + dt.timedelta(days=days, minutes=rng.choice([0, 1, 59, 600, 1439]))
    if obj.zone.floating:
        return f"{local:%Y%m%dT%H%M%S}"
    return f"{obj.zone.to_utc(local):%Y%m%dT%H%M%SZ}"


def extra_dates(rng, obj, n):
    start = obj.master.start
    out = set()
    for _ in range(n):
        value = start + dt.timedelta(days=rng.randint(1, 120))
        if not obj.all_day and rng.random() < 0.3:
            # Never whole hours off the series' time (see 6. above).
            value += dt.timedelta(minutes=rng.choice([-83, 31, 307]))
            if not out_of_quiet_hours(obj.zone, value):
                continue
        out.add(value)
    return sorted(out)


def periods(rng, obj, n):
    """RDATE periods, never at the series' time of day (so never on an
    RRULE instance) and never of length zero."""
    out = {}
    for _ in range(n):
        start = obj.master.start + dt.timedelta(days=rng.randint(0, 90),
                                                minutes=rng.choice([31, 307, -83]))
        length = positive(obj, start, rng.choice([
            Length("dtend", seconds=3600), Length("dtend", days=1, seconds=7200),
            Length("duration", seconds=5400), Length("duration", days=1),
            Length("duration", days=2, seconds=3600)]))
        end = start + dt.timedelta(days=length.days, seconds=length.seconds)
        if out_of_quiet_hours(obj.zone, start) and out_of_quiet_hours(obj.zone, end):
            out[start] = length
    return sorted(out.items())


def missing(rng, obj, instances):
    """An EXDATE that matches no instance (see 6. above)."""
    taken = set(instances)
    base = rng.choice(instances)
    for _ in range(10):
        if obj.all_day:
            value = base + dt.timedelta(days=rng.randint(1, 6))
        elif rng.random() < 0.5:
            value = base + dt.timedelta(minutes=37)
        else:
            value = base + dt.timedelta(days=rng.randint(1, 6))
        # Past the last known instance it might be one we do not know.
        if value not in taken and value < instances[-1] and (
                obj.all_day or out_of_quiet_hours(obj.zone, value)):
            return value
    return None


def moved_override(rng, obj, rid):
    if obj.all_day:
        start = rid + dt.timedelta(days=rng.choice([-2, -1, 0, 1, 3, -30, 40]))
        return Component(start, all_day_length(rng), rid=rid)
    for _ in range(10):
        shift = rng.choice([dt.timedelta(days=-3), dt.timedelta(days=-1, hours=-2),
                            dt.timedelta(minutes=-90), dt.timedelta(minutes=45),
                            dt.timedelta(hours=2), DAY, dt.timedelta(days=2, hours=5),
                            dt.timedelta(0), dt.timedelta(days=-20), dt.timedelta(days=33)])
        start = rid + shift
        if not out_of_quiet_hours(obj.zone, start):
            continue
        return Component(start, positive(obj, start, timed_length(rng)), rid=rid,
                         rid_in_utc=rng.random() < 0.2)
    return None


def make_objects(seed, n):
    rng = random.Random(seed)
    return [make_object(rng, f"s{seed}-{i:04d}") for i in range(n)]


# ---------------------------------------------------------------- the oracle

PAD = 2 * DAY


class Oracle:
    """rie's occurrences of one object, tested by RFC 4791 §9.9 with ends
    computed by RFC 5545 (see 1. above). `floating`: the zone floating
    times and DATEs are in (a ZoneInfo), UTC when None."""

    def __init__(self, obj, floating=None):
        self.obj = obj
        self.floating = floating
        self.text = obj.ical()
        self.query = recurring_ical_events.of(icalendar.Calendar.from_ical(self.text))
        self.overrides = {obj.instant(o.rid, floating): o for o in obj.overrides}
        self.periods = {obj.instant(start, floating): Component(start, length)
                        for start, length in obj.periods}

    def occurrences(self, start, end):
        """(start, RFC end, zero length, rie's end) of rie's occurrences
        within two days of the window."""
        # rie reads floating times and DATEs in the zone of the window.
        zone = self.floating or UTC
        out = []
        for c in self.query.between((start - PAD).astimezone(zone), (end + PAD).astimezone(zone)):
            begin = instant_of(c["DTSTART"].dt, self.floating)
            local = wall_clock(c["DTSTART"].dt)
            rid = instant_of(c["RECURRENCE-ID"].dt, self.floating) if "RECURRENCE-ID" in c else begin
            comp = self.overrides.get(rid) or self.periods.get(rid) or self.obj.master
            finish, zero = self.obj.rfc_end(comp, begin, local, self.floating)
            out.append((begin, finish, zero, instant_of(c["DTEND"].dt, self.floating)))
        return sorted(out)

    def matches(self, start, end):
        for begin, finish, zero, _ in self.occurrences(start, end):
            if zero:
                if start <= begin < end:
                    return True
            elif begin < end and start < finish:
                return True
        return False


def interesting(oracle, begin, finish, rie_end):
    """Whether an occurrence is where engines go wrong: rie's end is not
    the RFC's, or it starts or ends within a day of a DST change."""
    if finish != rie_end:
        return True
    zone = oracle.obj.zone.rules_for(oracle.floating)
    if zone is None:
        return False
    return any(abs((t - DAY).utcoffset() - (t + DAY).utcoffset()) > dt.timedelta(0)
               for t in (begin.astimezone(zone), finish.astimezone(zone)))


def make_windows(rng, oracles, n):
    """Query windows: random ones (some years ahead), and ones starting or
    ending exactly where some occurrence starts or ends, often one whose
    RFC end is not rie's or one near a DST change."""
    lengths = [dt.timedelta(seconds=1), dt.timedelta(minutes=1), dt.timedelta(hours=1),
               dt.timedelta(hours=3), dt.timedelta(hours=12), DAY, 2 * DAY, 7 * DAY,
               30 * DAY, 91 * DAY, 182 * DAY]
    # The occurrences of each object from two months before its DTSTART
    # to 400 days after, and those where engines tend to go wrong.
    pool, differ, near = [], [], []
    for oracle in oracles:
        origin = oracle.obj.instant(oracle.obj.master.start, oracle.floating)
        for begin, finish, _, rie_end in oracle.occurrences(origin - 60 * DAY, origin + 400 * DAY):
            pool.append((begin, finish))
            if finish != rie_end:
                differ.append((begin, finish))
            elif interesting(oracle, begin, finish, rie_end):
                near.append((begin, finish))
    windows = []
    while len(windows) < n:
        length = rng.choice(lengths)
        r = rng.random()
        if r < 0.1:
            first = dt.datetime(2030, 1, 1, tzinfo=UTC)
            start = first + dt.timedelta(hours=rng.randrange(24 * 365 * 15))
        elif r < 0.35 or not pool:
            first = dt.datetime(2024, 12, 1, tzinfo=UTC)
            start = first + dt.timedelta(minutes=15 * rng.randrange(4 * 24 * 365 * 4))
        else:
            r = rng.random()
            if differ and r < 0.3:
                # Just after the RFC end, or just before it.
                begin, finish = rng.choice(differ)
                edge = finish
            else:
                begin, finish = rng.choice(near if near and r < 0.6 else pool)
                edge = rng.choice([begin, finish])
            start = edge if rng.random() < 0.5 else edge - length
        windows.append((start, start + length))
    return windows


def expected(oracles, windows):
    return [sorted(o.obj.uid for o in oracles if o.matches(s, e)) for s, e in windows]


def utc_text(t):
    return t.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def generate(seed, events, n_windows, floating=None):
    """The objects (they do not depend on `floating`, an IANA name or
    None), the windows and the oracle's answers for them."""
    zone = ZoneInfo(floating) if floating else None
    objects = make_objects(seed, events)
    oracles = [Oracle(o, zone) for o in objects]
    windows = make_windows(random.Random(f"{seed}-windows-{floating}"), oracles, n_windows)
    return oracles, windows, expected(oracles, windows)


def describe(oracle, start, end):
    lines = [f"--- {oracle.obj.uid}.ics", oracle.text.replace("\r\n", "\n").rstrip("\n"),
             "--- rie's occurrences within two days of the window (start, RFC end):"]
    for begin, finish, zero, rie_end in oracle.occurrences(start, end):
        note = " zero" if zero else ""
        if rie_end != finish:
            note += f" (rie's end {utc_text(rie_end)})"
        lines.append(f"    {utc_text(begin)} {utc_text(finish)}{note}")
    return "\n".join(lines)


# ---------------------------------------------------------------- modes

def step(msg):
    print(f"ok: {msg}", flush=True)


def query_body(start, end):
    return ('<?xml version="1.0" encoding="utf-8"?>\n'
            '<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
            "<D:prop><D:getetag/></D:prop>"
            '<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">'
            f'<C:time-range start="{utc_text(start)}" end="{utc_text(end)}"/>'
            "</C:comp-filter></C:comp-filter></C:filter></C:calendar-query>")


FLOATING_ZONES = {"Europe/Paris": VTZ_PARIS, "America/New_York": VTZ_NEW_YORK,
                  "Australia/Sydney": VTZ_SYDNEY}


def mkcalendar_body(floating):
    """An MKCALENDAR body setting calendar-timezone, or None."""
    if not floating:
        return None
    vcalendar = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//reprise//recurrence oracle//EN\r\n"
                 + FLOATING_ZONES[floating].format(tzid=floating) + "END:VCALENDAR\r\n")
    return ('<?xml version="1.0" encoding="utf-8"?>\n'
            '<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
            "<D:set><D:prop><C:calendar-timezone><![CDATA["
            + vcalendar + "]]></C:calendar-timezone></D:prop></D:set></C:mkcalendar>")


def run_live(args):
    dav = Dav(args.url, args.user, args.password, timeout=args.timeout)
    oracles, windows, answers = generate(args.seed, args.events, args.windows, args.floating_zone)
    zone = args.floating_zone or "UTC"
    step(f"seed {args.seed}: {len(oracles)} objects, {len(windows)} windows, "
         f"floating times in {zone}, oracle computed")

    home = dav.one_href(dav.principal(), "<c:calendar-home-set/>", CALDAV + "calendar-home-set")
    home = home if home.endswith("/") else home + "/"
    home = urllib.parse.unquote(home)
    collection = f"{home}oracle-{args.seed}-{uuid.uuid4().hex[:8]}/"
    body = mkcalendar_body(args.floating_zone)
    r = dav.request("MKCALENDAR", collection, body,
                    {"Content-Type": "application/xml; charset=utf-8"} if body else None)
    check(r.status == 201, f"MKCALENDAR {collection}: expected 201, got {r}")
    step(f"MKCALENDAR {collection}" + (f" with calendar-timezone {zone}" if body else ""))

    by_href = {}
    for oracle in oracles:
        href = f"{collection}{oracle.obj.uid}.ics"
        r = dav.put(href, oracle.text, "text/calendar; charset=utf-8", if_none_match="*")
        check(r.status in (201, 204), f"PUT {href}: expected 201, got {r}\n{oracle.text}")
        by_href[href] = oracle
    step(f"{len(oracles)} objects stored")

    failures = []
    for (start, end), want_uids in zip(windows, answers):
        r = dav.request("REPORT", collection, query_body(start, end),
                        {"Depth": "1", "Content-Type": "application/xml; charset=utf-8"})
        check(r.status == 207, f"REPORT {utc_text(start)}..{utc_text(end)}: expected 207, got {r}")
        got = set()
        for response in ET.fromstring(r.body).iter(DAV + "response"):
            h = response.findtext(DAV + "href")
            got.add(urllib.parse.unquote(dav.path(h.strip())))
        want = {f"{collection}{uid}.ics" for uid in want_uids}
        if got != want:
            failures.append((start, end, want, got))
    if failures:
        shown = 0
        for start, end, want, got in failures:
            print(f"window {utc_text(start)} .. {utc_text(end)}:")
            print(f"  oracle: {sorted(h.rsplit('/', 1)[-1] for h in want)}")
            print(f"  server: {sorted(h.rsplit('/', 1)[-1] for h in got)}")
            for href in sorted(want ^ got):
                side = "missing from the server" if href in want else "extra from the server"
                print(f"  {href.rsplit('/', 1)[-1]}: {side}")
                if shown < args.show and href in by_href:
                    print(describe(by_href[href], start, end))
                    shown += 1
        raise Mismatch(f"seed {args.seed}, floating times in {zone}: "
                       f"{len(failures)} of {len(windows)} windows differ "
                       f"(first: {utc_text(failures[0][0])}..{utc_text(failures[0][1])})")
    step(f"{len(windows)} calendar-query time ranges agree with the oracle (seed {args.seed}, "
         f"floating times in {zone})")
    r = dav.delete(collection)
    check(r.status in (200, 204), f"DELETE {collection}: got {r}")
    print(f"{NAME}: PASS", flush=True)


def expected_name(floating):
    return "expected.txt" if not floating else f"expected.{floating.replace('/', '_')}.txt"


def fixture_files(args):
    files = {}
    for floating in [None, *args.floating_zone]:
        oracles, windows, answers = generate(args.seed, args.events, args.windows, floating)
        for oracle in oracles:
            files[f"{oracle.obj.uid}.ics"] = oracle.text
        command = (f"recurrence_oracle.py fixtures --seed {args.seed} --events {args.events} "
                   f"--windows {args.windows}"
                   + "".join(f" --floating-zone {z}" for z in args.floating_zone))
        lines = [
            f"# {command}",
            f"# recurring-ical-events {metadata.version('recurring-ical-events')}, "
            f"icalendar {metadata.version('icalendar')}",
            f"# floating zone: {floating or 'UTC'}",
            "# <window start> <window end> <UIDs of the objects with an occurrence in [start, end)>",
        ]
        for (start, end), uids in zip(windows, answers):
            lines.append(" ".join([utc_text(start), utc_text(end), *uids]))
        files[expected_name(floating)] = "\n".join(lines) + "\n"
    return files


def ours(name):
    return name.endswith(".ics") or (name.startswith("expected") and name.endswith(".txt"))


def run_fixtures(args):
    files = fixture_files(args)
    out = args.out
    objects = sum(1 for name in files if name.endswith(".ics"))
    if args.check:
        present = {f for f in os.listdir(out) if ours(f)}
        check(present == set(files), f"{out}: files differ: missing {sorted(set(files) - present)[:5]}, "
                                     f"extra {sorted(present - set(files))[:5]}")
        for name, text in sorted(files.items()):
            with open(os.path.join(out, name), encoding="utf-8", newline="") as f:
                check(f.read() == text, f"{out}/{name} differs from what seed {args.seed} gives")
        step(f"{out}: {objects} objects and {len(files) - objects} expected answers as seed "
             f"{args.seed} gives them")
        print(f"{NAME}: PASS", flush=True)
        return
    os.makedirs(out, exist_ok=True)
    for stale in os.listdir(out):
        if ours(stale):
            os.remove(os.path.join(out, stale))
    for name, text in files.items():
        with open(os.path.join(out, name), "w", encoding="utf-8", newline="") as f:
            f.write(text)
    step(f"wrote {objects} objects and {len(files) - objects} expected answers to {out}")
    print(f"{NAME}: PASS", flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="mode", required=True)
    live = sub.add_parser("live", help="check a server's calendar-query against the oracle")
    live.add_argument("--url", required=True)
    live.add_argument("--user", required=True)
    live.add_argument("--password", required=True)
    live.add_argument("--timeout", type=int, default=30)
    live.add_argument("--show", type=int, default=5, help="objects printed in full on a mismatch")
    fix = sub.add_parser("fixtures", help="write (or --check) a corpus for the Rust test")
    fix.add_argument("--out", required=True)
    fix.add_argument("--check", action="store_true")
    live.add_argument("--floating-zone", choices=sorted(FLOATING_ZONES),
                      help="the calendar's calendar-timezone (default: none, floating is UTC)")
    fix.add_argument("--floating-zone", choices=sorted(FLOATING_ZONES), action="append", default=[],
                     help="also write expected.<zone>.txt for floating times in this zone")
    for sp in (live, fix):
        sp.add_argument("--seed", type=int, required=True)
        sp.add_argument("--events", type=int, default=150)
        sp.add_argument("--windows", type=int, default=60)
    args = p.parse_args()
    fail_main(NAME, lambda: run_live(args) if args.mode == "live" else run_fixtures(args))


if __name__ == "__main__":
    main()
