#!/usr/bin/env python3
"""vdirsyncer as a sharee: what another user shared, found by discovery.

Logged in as the sharee (--user), vdirsyncer discovers every calendar and
address book of the sharee's home sets (`collections = ["from b"]`) and
syncs them into local directories. The script then checks, independently
over raw HTTP:

- the shared calendar (--shared, its name in the sharee's home) came down
  with the owner's events, and its ETags are the owner's;
- an event the owner (--owner-user/--owner-password) adds comes down on
  the next sync, and an event the sharee writes locally goes up into the
  owner's calendar, where the owner reads it (the share is read-write);
- with --directory NAME, the domain's directory was discovered and holds
  a card whose FN is --directory-fn;
- a last sync has nothing to do.

Exits 0 after printing "vdirsyncer_shared: PASS"; on a mismatch prints
"vdirsyncer_shared: FAIL: <what>" and exits 1.
"""

import json
import os
import re
import sys
import uuid

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from davhttp import Dav, check, client_arguments, main_in_temp_dir, prop  # noqa: E402
from vdirtool import vdirsyncer  # noqa: E402

NAME = "vdirsyncer_shared"


def event(uid, summary):
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//reprise//vdirsyncer-shared//EN\r\n"
            f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260301T120000Z\r\n"
            "DTSTART:20260315T140000Z\r\nDTEND:20260315T150000Z\r\n"
            f"SUMMARY:{summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")


class Run:
    def __init__(self, args, tmp):
        self.args = args
        self.tmp = tmp
        self.config = os.path.join(tmp, "config")
        self.sharee = Dav(args.url, args.user, args.password, timeout=args.timeout)
        self.owner = Dav(args.url, args.owner_user, args.owner_password, timeout=args.timeout)

    def write_config(self):
        q = json.dumps
        parts = ["[general]", f"status_path = {q(os.path.join(self.tmp, 'status') + '/')}", ""]
        for pair, kind, ext in (("cal", "caldav", ".ics"), ("card", "carddav", ".vcf")):
            parts += [
                f"[pair {pair}]",
                f"a = {q(pair + '_local')}",
                f"b = {q(pair + '_remote')}",
                'collections = ["from b"]',
                'conflict_resolution = "b wins"',
                "",
                f"[storage {pair}_local]",
                'type = "filesystem"',
                f"path = {q(os.path.join(self.tmp, pair) + '/')}",
                f"fileext = {q(ext)}",
                "",
                f"[storage {pair}_remote]",
                f"type = {q(kind)}",
                f"url = {q(self.args.url)}",
                f"username = {q(self.args.user)}",
                f"password = {q(self.args.password)}",
                "",
            ]
        with open(self.config, "w") as f:
            f.write("\n".join(parts))

    def vdirsyncer(self, *command):
        # discover asks before creating each local collection.
        return vdirsyncer(self.config, self.tmp, self.args.timeout * 4, *command,
                          answers="y\n" * 50)

    def local(self, pair, collection):
        """{UID: (file name, SUMMARY or FN)} of a local collection."""
        root = os.path.join(self.tmp, pair, collection)
        check(os.path.isdir(root), f"vdirsyncer made no local {pair} collection {collection!r}: "
              f"{sorted(os.listdir(os.path.join(self.tmp, pair)))}")
        out = {}
        for name in sorted(os.listdir(root)):
            with open(os.path.join(root, name), encoding="utf-8") as f:
                text = f.read()
            out[prop(text, "UID")] = (name, prop(text, "SUMMARY") or prop(text, "FN"))
        return out

    def run(self):
        self.write_config()
        self.vdirsyncer("discover")
        self.vdirsyncer("sync")
        shared = self.args.shared
        owner_cal = self.owner.collection("caldav", self.args.shared_owner_name)
        owner_items = self.owner.items(owner_cal)
        sharee_cal = self.sharee.collection("caldav", shared)
        sharee_items = self.sharee.items(sharee_cal)
        check(sorted(owner_items.values()) == sorted(sharee_items.values()),
              f"ETags differ: owner {owner_items}, sharee {sharee_items}")
        local = self.local("cal", shared)
        check(len(local) == len(owner_items) and len(local) > 0,
              f"local {shared} holds {local}, the owner's calendar {len(owner_items)} items")
        print(f"ok: the shared calendar came down with {len(local)} items, the owner's ETags", flush=True)

        tag = uuid.uuid4().hex[:8]
        by_owner, by_sharee = f"owner-{tag}", f"sharee-{tag}"
        r = self.owner.put(f"{owner_cal}{by_owner}.ics", event(by_owner, "From the owner"),
                           "text/calendar; charset=utf-8", if_none_match="*")
        check(r.status == 201, f"owner PUT: {r}")
        path = os.path.join(self.tmp, "cal", shared, f"{by_sharee}.ics")
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(event(by_sharee, "From the sharee"))
        out = self.vdirsyncer("sync")
        check(re.search(r"Copying \(uploading\) item \S+ to cal_local", out), "the owner's event did not come down")
        check(re.search(r"Copying \(uploading\) item \S+ to cal_remote", out), "the sharee's event did not go up")
        local = self.local("cal", shared)
        check(local.get(by_owner, (None, None))[1] == "From the owner", f"local {local}")
        mine = [href for href in self.owner.items(owner_cal)
                if prop(self.owner.get(href).text, "UID") == by_sharee]
        check(len(mine) == 1, "the owner does not read the sharee's event in their calendar")
        print("ok: changes flow both ways through the share", flush=True)

        if self.args.directory:
            cards = self.local("card", self.args.directory)
            names = sorted(v for _, v in cards.values())
            check(self.args.directory_fn in names, f"directory {self.args.directory}: {names}")
            print(f"ok: the directory came down with {len(cards)} cards", flush=True)

        out = self.vdirsyncer("sync")
        check(not re.search(r"Copying|Deleting", out), "a second sync still had something to do")
        print("ok: a second sync has nothing to do", flush=True)


def main():
    p = client_arguments(__doc__)
    p.add_argument("--owner-user", required=True)
    p.add_argument("--owner-password", required=True)
    p.add_argument("--shared", required=True, help="the shared calendar's name in the sharee's home")
    p.add_argument("--shared-owner-name", required=True, help="its name in the owner's home")
    p.add_argument("--directory", help="the directory address book's name in the home")
    p.add_argument("--directory-fn", help="an FN the directory must hold")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = p.parse_args()
    main_in_temp_dir(NAME, "reprise-vdirsyncer-shared-", args.keep, lambda tmp: Run(args, tmp).run())
    print(f"{NAME}: PASS", flush=True)


if __name__ == "__main__":
    main()
