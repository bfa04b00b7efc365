#!/usr/bin/env python3
"""khal over a calendar vdirsyncer synced from a server.

Makes a calendar (MKCALENDAR in the home set found by discovery from the
bare server URL) and PUTs into it one weekly series in Europe/Paris across
the change to summer time (Thursdays 09:00-10:00 from 2026-03-05, six
times), with an EXDATE (2026-03-19) and one moved instance (2026-03-26 on
Friday 2026-03-27 14:00-15:00, its own SUMMARY). vdirsyncer, configured as
in vdirsyncer_sync.py (an isolated config, discovery from the bare URL),
syncs it into a local directory; khal, with its own config on that
directory (fixed formats; Paris, then UTC as the local zone), lists March
and April: the output must be exactly the expected instances, each at its
local time (in UTC, an hour earlier after the change).

Run with the Python of a venv that has vdirsyncer and khal installed (it
runs `python -m vdirsyncer` and `python -m khal`). Exits 0 after printing
"khal_list: PASS"; on any mismatch prints "khal_list: FAIL: <what>" and
exits 1.
"""

import json
import os
import subprocess
import sys
import uuid

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from davhttp import CALDAV, Dav, check, client_arguments, main_in_temp_dir  # noqa: E402

NAME = "khal_list"

PARIS = """BEGIN:VTIMEZONE\r
TZID:Europe/Paris\r
BEGIN:DAYLIGHT\r
TZOFFSETFROM:+0100\r
TZOFFSETTO:+0200\r
TZNAME:CEST\r
DTSTART:19810329T020000\r
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r
END:DAYLIGHT\r
BEGIN:STANDARD\r
TZOFFSETFROM:+0200\r
TZOFFSETTO:+0100\r
TZNAME:CET\r
DTSTART:19961027T030000\r
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r
END:STANDARD\r
END:VTIMEZONE\r
"""


def series(uid):
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//reprise//khal-test//EN\r\n" + PARIS +
            "BEGIN:VEVENT\r\n"
            f"UID:{uid}\r\nDTSTAMP:20260201T120000Z\r\n"
            "DTSTART;TZID=Europe/Paris:20260305T090000\r\n"
            "DTEND;TZID=Europe/Paris:20260305T100000\r\n"
            "RRULE:FREQ=WEEKLY;BYDAY=TH;COUNT=6\r\n"
            "EXDATE;TZID=Europe/Paris:20260319T090000\r\n"
            "SUMMARY:Standup\r\nEND:VEVENT\r\n"
            "BEGIN:VEVENT\r\n"
            f"UID:{uid}\r\nDTSTAMP:20260201T120000Z\r\n"
            "RECURRENCE-ID;TZID=Europe/Paris:20260326T090000\r\n"
            "DTSTART;TZID=Europe/Paris:20260327T140000\r\n"
            "DTEND;TZID=Europe/Paris:20260327T150000\r\n"
            "SUMMARY:Standup (moved to Friday)\r\nEND:VEVENT\r\n"
            "END:VCALENDAR\r\n")


# By khal's local zone: in Paris every instance at 09:00, in UTC the
# winter ones at 08:00 (CET) and the summer ones at 07:00 (CEST); 03-19
# excluded; 03-26 moved.
EXPECTED = {
    "Europe/Paris": [
        "2026-03-05 09:00-10:00 Standup",
        "2026-03-12 09:00-10:00 Standup",
        "2026-03-27 14:00-15:00 Standup (moved to Friday)",
        "2026-04-02 09:00-10:00 Standup",
        "2026-04-09 09:00-10:00 Standup",
    ],
    "UTC": [
        "2026-03-05 08:00-09:00 Standup",
        "2026-03-12 08:00-09:00 Standup",
        "2026-03-27 13:00-14:00 Standup (moved to Friday)",
        "2026-04-02 07:00-08:00 Standup",
        "2026-04-09 07:00-08:00 Standup",
    ],
}


class Run:
    def __init__(self, args, tmp):
        self.args = args
        self.tmp = tmp
        self.raw = Dav(args.url, args.user, args.password, timeout=args.timeout)
        self.name = f"khal-{uuid.uuid4().hex[:10]}"
        self.env = dict(os.environ, LC_ALL="C.UTF-8", LANG="C.UTF-8", TZ="UTC",
                        HOME=tmp, XDG_CONFIG_HOME=os.path.join(tmp, "xdg-config"),
                        XDG_DATA_HOME=os.path.join(tmp, "xdg-data"))
        for var in ("VDIRSYNCER_CONFIG", "KHAL_CONFIG"):
            self.env.pop(var, None)

    def tool(self, module, config, *command):
        cmd = [sys.executable, "-m", module, "-c", config, *command]
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=self.args.timeout * 4,
                           cwd=self.tmp, env=self.env)
        print(f"--- {module} {' '.join(command)} (exit {p.returncode})")
        for line in (p.stdout + p.stderr).splitlines():
            print("    " + line)
        sys.stdout.flush()
        check(p.returncode == 0, f"{module} {' '.join(command)} exited {p.returncode}")
        return p.stdout

    def make_calendar(self):
        home = self.raw.one_href(self.raw.principal(), "<c:calendar-home-set/>",
                                 CALDAV + "calendar-home-set")
        href = home.rstrip("/") + "/" + self.name + "/"
        body = ('<?xml version="1.0" encoding="utf-8"?>\n'
                '<c:mkcalendar xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">'
                f"<d:set><d:prop><d:displayname>{self.name}</d:displayname></d:prop></d:set>"
                "</c:mkcalendar>")
        r = self.raw.request("MKCALENDAR", href, body, {"Content-Type": "application/xml; charset=utf-8"})
        check(r.status == 201, f"MKCALENDAR {href}: expected 201, got {r}")
        return href

    def vdirsyncer(self, local_root):
        q = json.dumps
        config = os.path.join(self.tmp, "vdirsyncer.conf")
        with open(config, "w") as f:
            f.write("\n".join([
                "[general]",
                f"status_path = {q(os.path.join(self.tmp, 'status') + '/')}",
                "",
                "[pair cal]",
                'a = "cal_local"',
                'b = "cal_remote"',
                f"collections = {q([self.name])}",
                'conflict_resolution = "b wins"',
                "",
                "[storage cal_local]",
                'type = "filesystem"',
                f"path = {q(local_root + '/')}",
                'fileext = ".ics"',
                "",
                "[storage cal_remote]",
                'type = "caldav"',
                f"url = {q(self.args.url)}",
                f"username = {q(self.args.user)}",
                f"password = {q(self.args.password)}",
                "",
            ]))
        os.makedirs(os.path.join(local_root, self.name))
        self.tool("vdirsyncer", config, "discover")
        self.tool("vdirsyncer", config, "sync")

    def khal_config(self, local, zone):
        """A khal config on the local calendar, its formats fixed, `zone`
        its local time zone."""
        tag = zone.replace("/", "-")
        config = os.path.join(self.tmp, f"khal-{tag}.conf")
        with open(config, "w") as f:
            f.write("\n".join([
                "[calendars]",
                "[[synced]]",
                f"path = {local}",
                "type = calendar",
                "",
                "[locale]",
                f"local_timezone = {zone}",
                f"default_timezone = {zone}",
                "timeformat = %H:%M",
                "dateformat = %Y-%m-%d",
                "longdateformat = %Y-%m-%d",
                "datetimeformat = %Y-%m-%d %H:%M",
                "longdatetimeformat = %Y-%m-%d %H:%M",
                "firstweekday = 0",
                "unicode_symbols = False",
                "",
                "[default]",
                "default_calendar = synced",
                "",
                "[sqlite]",
                f"path = {os.path.join(self.tmp, f'khal-{tag}.db')}",
                "",
            ]))
        return config

    def run(self):
        print(f"khal_list against {self.args.url} in {self.tmp}", flush=True)
        href = self.make_calendar()
        uid = f"khal-series-{uuid.uuid4().hex[:10]}"
        r = self.raw.put(href + uid + ".ics", series(uid), "text/calendar; charset=utf-8",
                         if_none_match="*")
        check(r.status == 201, f"PUT {href}{uid}.ics: expected 201, got {r}")
        print(f"ok: a weekly series in Europe/Paris with an EXDATE and a moved instance in {href}",
              flush=True)

        local_root = os.path.join(self.tmp, "calendars")
        self.vdirsyncer(local_root)
        local = os.path.join(local_root, self.name)
        files = [n for n in os.listdir(local) if n.endswith(".ics")]
        check(len(files) == 1, f"vdirsyncer left {files} in {local}, expected one .ics")
        with open(os.path.join(local, files[0]), encoding="utf-8") as f:
            synced = f.read()
        check(f"UID:{uid}" in synced and "RECURRENCE-ID" in synced,
              f"the synced file is not the series with its override:\n{synced}")
        print("ok: vdirsyncer synced the series into a local calendar", flush=True)

        for zone, expected in EXPECTED.items():
            config = self.khal_config(local, zone)
            out = self.tool("khal", config, "list", "--format",
                            "{start-date} {start-time}-{end-time} {title}",
                            "--day-format", "", "2026-03-01", "2026-04-30")
            lines = [line.rstrip() for line in out.splitlines() if line.strip()]
            check(lines == expected, f"khal list in {zone} printed {lines}, expected {expected}")
        print("ok: khal lists the instances at their local times across the DST change, "
              "without the excluded one, the moved one at its new time with its own summary",
              flush=True)

        r = self.raw.delete(href)
        check(r.status in (200, 204), f"DELETE {href}: {r}")
        print(f"{NAME}: PASS", flush=True)


def main():
    p = client_arguments(__doc__)
    p.add_argument("--keep", action="store_true", help="keep the temp dir even on success")
    args = p.parse_args()
    main_in_temp_dir(NAME, "reprise-khal-", args.keep, lambda tmp: Run(args, tmp).run())


if __name__ == "__main__":
    main()
