#!/usr/bin/env python3
"""vdirsyncer (and so khal, khard, todoman) against a server.

Writes an isolated vdirsyncer config (config, status and local storage under
one temp dir) with two pairs, both found by vdirsyncer's own discovery from
the bare server URL: the calendar named --calendar against a filesystem
storage of .ics files, with conflict_resolution "a wins" (the local side),
and the address book named --addressbook against .vcf files, with "b wins"
(the server). Then rounds of changes on both sides (local files, and raw
HTTP PUT/DELETE to the server), each followed by `vdirsyncer sync` and a
check that both sides hold the same items with the same SUMMARY/FN, and
that vdirsyncer did exactly the expected copies and deletions; a conflict
(one item edited on both sides) resolved by each pair's rule; and a final
sync that must have nothing to do.

For a cutover between installations, `--phase before --state DIR` does the
discovery and a first two-way sync and keeps DIR; `--phase after --state
DIR`, run once the proxy routes to the other installation, syncs again
and requires nothing to do: same hrefs, same ETags, same ctags and sync
tokens on the new side.

Run with the Python of a venv that has vdirsyncer installed; it runs
`python -m vdirsyncer`. Exits 0 after printing "vdirsyncer_sync: PASS"; on
any mismatch prints "vdirsyncer_sync: FAIL: <what>" and exits 1.
"""

import collections
import json
import os
import re
import sys
import uuid

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from davhttp import Dav, check, client_arguments, fail_main, main_in_temp_dir, prop  # noqa: E402
from vdirtool import vdirsyncer  # noqa: E402

NAME = "vdirsyncer_sync"


class Side:
    """One pair: a local directory of files and a server collection."""

    def __init__(self, pair, kind, collection, ext, content_type, key, winner):
        self.pair = pair              # vdirsyncer pair name
        self.kind = kind              # "caldav" or "carddav"
        self.collection = collection  # collection name in the home set
        self.ext = ext
        self.content_type = content_type
        self.key = key                # the property compared across sides
        self.winner = winner          # "a" (local) or "b" (server)
        self.local = None             # local collection directory
        self.remote = None            # server collection path

    def body(self, uid, value):
        if self.kind == "caldav":
            return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//reprise//vdirsyncer-test//EN\r\n"
                    f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260301T120000Z\r\n"
                    "DTSTART:20260315T140000Z\r\nDTEND:20260315T150000Z\r\n"
                    f"SUMMARY:{value}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
        return (f"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{value}\r\n"
                f"N:{value};;;;\r\nEND:VCARD\r\n")


class Run:
    def __init__(self, args, tmp):
        self.args = args
        self.tmp = tmp
        self.raw = Dav(args.url, args.user, args.password, timeout=args.timeout)
        self.config = os.path.join(tmp, "config")
        self.rounds = 0
        self.tag = uuid.uuid4().hex[:8]
        self.sides = [
            Side("cal", "caldav", args.calendar, ".ics", "text/calendar; charset=utf-8", "SUMMARY", "a"),
            Side("card", "carddav", args.addressbook, ".vcf", "text/vcard; charset=utf-8", "FN", "b"),
        ]

    # --- setup -----------------------------------------------------------

    def write_config(self, create=True):
        q = json.dumps
        parts = ["[general]", f"status_path = {q(os.path.join(self.tmp, 'status') + '/')}", ""]
        for s in self.sides:
            root = os.path.join(self.tmp, s.pair)
            s.local = os.path.join(root, s.collection)
            # Present on both sides, so discover has nothing to ask.
            if create:
                os.makedirs(s.local)
            s.remote = self.raw.collection(s.kind, s.collection)
            parts += [
                f"[pair {s.pair}]",
                f"a = {q(s.pair + '_local')}",
                f"b = {q(s.pair + '_remote')}",
                f"collections = {q([s.collection])}",
                f"conflict_resolution = {q(s.winner + ' wins')}",
                "",
                f"[storage {s.pair}_local]",
                'type = "filesystem"',
                f"path = {q(root + '/')}",
                f"fileext = {q(s.ext)}",
                "",
                f"[storage {s.pair}_remote]",
                f"type = {q(s.kind)}",
                f"url = {q(self.args.url)}",
                f"username = {q(self.args.user)}",
                f"password = {q(self.args.password)}",
                "",
            ]
        with open(self.config, "w") as f:
            f.write("\n".join(parts))

    def vdirsyncer(self, *command):
        return vdirsyncer(self.config, self.tmp, self.args.timeout * 4, *command)

    # --- the two sides ---------------------------------------------------

    def local_items(self, s):
        out = {}
        for name in sorted(os.listdir(s.local)):
            if not name.endswith(s.ext):
                continue
            with open(os.path.join(s.local, name), encoding="utf-8") as f:
                text = f.read()
            uid = prop(text, "UID")
            check(uid, f"local file {name} has no UID")
            check(uid not in out, f"UID {uid} in two local files")
            out[uid] = (name, prop(text, s.key))
        return out

    def remote_items(self, s):
        out = {}
        for href, etag in self.raw.items(s.remote).items():
            r = self.raw.get(href)
            check(r.status == 200, f"GET {href}: {r}")
            check(r.header("ETag") == etag, f"GET {href}: ETag {r.header('ETag')}, PROPFIND said {etag}")
            uid = prop(r.text, "UID")
            check(uid, f"{href} has no UID")
            check(uid not in out, f"UID {uid} at two hrefs")
            out[uid] = (href, etag, prop(r.text, s.key))
        return out

    def local_write(self, s, uid, value):
        items = self.local_items(s)
        name = items[uid][0] if uid in items else uid + s.ext
        tmp = os.path.join(s.local, "." + name + ".tmp")
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            f.write(s.body(uid, value))
        os.replace(tmp, os.path.join(s.local, name))

    def local_delete(self, s, uid):
        os.remove(os.path.join(s.local, self.local_items(s)[uid][0]))

    def remote_put(self, s, uid, value):
        items = self.remote_items(s)
        if uid in items:
            href, etag, _ = items[uid]
            r = self.raw.put(href, s.body(uid, value), s.content_type, if_match=etag)
            check(r.status in (200, 204), f"PUT {href} (edit, If-Match {etag}): {r}")
        else:
            href = f"{s.remote}{uid}{s.ext}"
            r = self.raw.put(href, s.body(uid, value), s.content_type, if_none_match="*")
            check(r.status == 201, f"PUT {href} (new): expected 201, got {r}")

    def remote_delete(self, s, uid):
        href, etag, _ = self.remote_items(s)[uid]
        r = self.raw.delete(href, if_match=etag)
        check(r.status in (200, 204), f"DELETE {href}: {r}")

    # --- checks ----------------------------------------------------------

    def sync(self, expected_actions):
        """vdirsyncer sync; then both sides must agree, and the copies and
        deletions vdirsyncer did must be exactly `expected_actions`:
        {(pair, "upload"|"update"|"delete", "local"|"remote"): count}."""
        self.rounds += 1
        out = self.vdirsyncer("sync")
        done = collections.Counter()
        for line in out.splitlines():
            m = re.search(r"Copying \((uploading|updating)\) item \S+ to (\w+)_(local|remote)\b", line)
            if m:
                done[(m.group(2), {"uploading": "upload", "updating": "update"}[m.group(1)], m.group(3))] += 1
                continue
            m = re.search(r"Deleting item \S+ from (\w+)_(local|remote)\b", line)
            if m:
                done[(m.group(1), "delete", m.group(2))] += 1
        want = collections.Counter({k: v for k, v in expected_actions.items() if v})
        check(done == want, f"sync {self.rounds}: vdirsyncer did {dict(done)}, expected {dict(want)}")
        for s in self.sides:
            local = {uid: v for uid, (_, v) in self.local_items(s).items()}
            remote = {uid: v for uid, (_, _, v) in self.remote_items(s).items()}
            check(local == remote, f"sync {self.rounds}, {s.pair}: local {local} != server {remote}")
        return out

    def expect(self, s, wanted):
        """`wanted`: {uid: value, or None for absent}, on both sides."""
        local = {uid: v for uid, (_, v) in self.local_items(s).items()}
        for uid, value in wanted.items():
            check(local.get(uid) == value, f"{s.pair}: {uid} is {local.get(uid)!r}, expected {value!r}")

    # --- the scenario ----------------------------------------------------

    def uid(self, s, name):
        return f"vds-{self.tag}-{s.pair}-{name}"

    def before_switch(self):
        print(f"vdirsyncer_sync (before a switch) against {self.args.url} in {self.tmp}", flush=True)
        self.write_config()
        self.vdirsyncer("discover")
        existing = {s.pair: len(self.remote_items(s)) for s in self.sides}
        for s in self.sides:
            self.local_write(s, self.uid(s, "before"), "Written before the switch")
        self.sync({k: v for s in self.sides for k, v in
                   {(s.pair, "upload", "local"): existing[s.pair], (s.pair, "upload", "remote"): 1}.items()})
        print(f"ok: synced before the switch {existing}", flush=True)
        print(f"{NAME}: PASS", flush=True)

    def after_switch(self):
        print(f"vdirsyncer_sync (after a switch) against {self.args.url} in {self.tmp}", flush=True)
        self.write_config(create=False)
        self.sync({})
        print("ok: after the switch, a sync has nothing to do", flush=True)
        print(f"{NAME}: PASS", flush=True)

    def run(self):
        print(f"vdirsyncer_sync against {self.args.url} in {self.tmp}", flush=True)
        self.write_config()
        for s in self.sides:
            check(not self.local_items(s), f"{s.local} not empty")
        self.vdirsyncer("discover")
        # Whatever the server already holds comes down first.
        existing = {s.pair: len(self.remote_items(s)) for s in self.sides}
        self.sync({(s.pair, "upload", "local"): existing[s.pair] for s in self.sides})
        print(f"ok: discovered and synced {existing}", flush=True)

        u = {s.pair: {n: self.uid(s, n) for n in ("srv1", "srv2", "srv3", "loc1", "loc2")} for s in self.sides}

        # 1. New items on both sides.
        for s in self.sides:
            self.remote_put(s, u[s.pair]["srv1"], "Server one")
            self.remote_put(s, u[s.pair]["srv2"], "Server two")
            self.local_write(s, u[s.pair]["loc1"], "Local one")
        self.sync({k: v for s in self.sides for k, v in
                   {(s.pair, "upload", "local"): 2, (s.pair, "upload", "remote"): 1}.items()})
        for s in self.sides:
            self.expect(s, {u[s.pair]["srv1"]: "Server one", u[s.pair]["srv2"]: "Server two",
                            u[s.pair]["loc1"]: "Local one"})
        print("ok: new items on both sides synced", flush=True)

        # 2. Edits, additions and a deletion, on both sides.
        for s in self.sides:
            self.remote_put(s, u[s.pair]["srv1"], "Server one edited")
            self.remote_delete(s, u[s.pair]["srv2"])
            self.remote_put(s, u[s.pair]["srv3"], "Server three")
            self.local_write(s, u[s.pair]["loc1"], "Local one edited")
            self.local_write(s, u[s.pair]["loc2"], "Local two")
        self.sync({k: v for s in self.sides for k, v in {
            (s.pair, "update", "local"): 1, (s.pair, "delete", "local"): 1,
            (s.pair, "upload", "local"): 1, (s.pair, "update", "remote"): 1,
            (s.pair, "upload", "remote"): 1}.items()})
        for s in self.sides:
            self.expect(s, {u[s.pair]["srv1"]: "Server one edited", u[s.pair]["srv2"]: None,
                            u[s.pair]["srv3"]: "Server three", u[s.pair]["loc1"]: "Local one edited",
                            u[s.pair]["loc2"]: "Local two"})
        print("ok: edits, additions and a server-side delete synced", flush=True)

        # 3. Deletions of items that came from the other side.
        for s in self.sides:
            self.local_delete(s, u[s.pair]["srv3"])
            self.remote_delete(s, u[s.pair]["loc1"])
            self.local_delete(s, u[s.pair]["loc2"])
        self.sync({k: v for s in self.sides for k, v in
                   {(s.pair, "delete", "remote"): 2, (s.pair, "delete", "local"): 1}.items()})
        for s in self.sides:
            self.expect(s, {u[s.pair]["srv3"]: None, u[s.pair]["loc1"]: None, u[s.pair]["loc2"]: None,
                            u[s.pair]["srv1"]: "Server one edited"})
        print("ok: deletions on both sides synced", flush=True)

        # 4. A conflict: one item edited on both sides.
        for s in self.sides:
            self.remote_put(s, u[s.pair]["srv1"], "Conflict server side")
            self.local_write(s, u[s.pair]["srv1"], "Conflict local side")
        out = self.sync({(s.pair, "update", "remote" if s.winner == "a" else "local"): 1
                         for s in self.sides})
        check(out.count("Doing conflict resolution") == len(self.sides),
              "expected one conflict resolution per pair")
        for s in self.sides:
            winner = "Conflict local side" if s.winner == "a" else "Conflict server side"
            self.expect(s, {u[s.pair]["srv1"]: winner})
        print("ok: conflicts resolved ('a wins' for the calendar, 'b wins' for contacts)", flush=True)

        # 5. Nothing changed since: nothing to do.
        self.sync({})
        print("ok: a second sync has nothing to do", flush=True)
        print(f"{NAME}: PASS", flush=True)


def main():
    p = client_arguments(__doc__)
    p.add_argument("--calendar", default="default", help="name (last path segment) of the calendar to sync")
    p.add_argument("--addressbook", default="default", help="name of the address book to sync")
    p.add_argument("--keep", action="store_true", help="keep the temp dir even on success")
    p.add_argument("--phase", choices=["all", "before", "after"], default="all",
                   help="all: the whole scenario; before/after: around a cutover, with --state")
    p.add_argument("--state", help="directory kept from --phase before to --phase after")
    args = p.parse_args()
    if args.phase == "all":
        main_in_temp_dir(NAME, "reprise-vdirsyncer-", args.keep, lambda tmp: Run(args, tmp).run())
        return
    if not args.state:
        p.error("--phase before/after needs --state DIR")
    run = Run(args, args.state)
    fail_main(NAME, run.before_switch if args.phase == "before" else run.after_switch)


if __name__ == "__main__":
    main()
