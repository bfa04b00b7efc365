#!/usr/bin/env python3
"""Helpers of bench/scale.sh (Python standard library only).

    scale.py users --url BASE --token TOKEN --out USERS.tsv
        Lists every user of the installation through the admin API (GET
        /admin/v1/users, pages of 1,000, with the server's local token)
        and writes one line per user: principal, domain, display name
        (tab-separated), in the API's order (by domain, then login).

    scale.py tokens --url BASE --users USERS.tsv --password P
                    --sync-out SYNC.txt --put-out PUT.txt [--workers N]
        Logs every user in once (HTTP Basic, login@domain and the password)
        and asks the current sync token of their default calendar and
        default address book (PROPFIND Depth 0, DAV:sync-token), WORKERS
        users at a time, each worker on one keep-alive connection. A 503
        (the server's argon2 queue is full) is retried after a pause.
        Writes SYNC.txt, for bench/scale/sync.lua: per user, the calendar
        then the address book, one line each, "BASIC PATH TOKEN" (BASIC is
        the base64 credentials); and PUT.txt, for bench/scale/put.lua: one
        line per user, "BASIC CALENDAR-PATH PRINCIPAL". The lines of
        different domains are interleaved, so that a run that only reaches
        part of the list still covers every domain. Prints one summary line.

    scale.py template --out PUT.ics
        The body bench/scale/put.lua PUTs: the ~1 KB new meeting of
        bench/http (seed.py put_template), organised by the user who PUTs
        it (@ORGANIZER@ and @UID@ are filled in per request).

    scale.py searches --users USERS.tsv --domain D --out SEARCHES.txt [--seed S]
        200 principal-property-search bodies, one per line, as seed.py
        directory writes them for bench/http/principal_search.lua (a
        first- and a last-name fragment of a display name, allof; or an
        email prefix, anyof display name and address), built from the
        users of domain D so that each finds at least one of them.

    scale.py report RESULTS.jsonl
        The summary table of bench/scale.sh, from its JSON lines.
"""

import argparse
import base64
import concurrent.futures
import http.client
import json
import os
import random
import re
import sys
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
# Importing seed.py must not leave a __pycache__ in the repository.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(HERE, "..", "http"))
import seed  # noqa: E402  (bench/http/seed.py: names, templates, search bodies)

PROPFIND_TOKEN = (
    '<?xml version="1.0" encoding="utf-8"?>\n'
    '<propfind xmlns="DAV:"><prop><sync-token/></prop></propfind>'
)
TOKEN_RE = re.compile(r"<(?:[A-Za-z0-9_-]+:)?sync-token>([^<]+)</(?:[A-Za-z0-9_-]+:)?sync-token>")


def connect(url, timeout=120):
    target = urllib.parse.urlsplit(url)
    return http.client.HTTPConnection(target.hostname, target.port, timeout=timeout)


def cmd_users(args):
    conn = connect(args.url)
    headers = {"Authorization": f"Bearer {args.token}"}
    after = None
    count = 0
    with open(args.out, "w", encoding="utf-8") as out:
        while True:
            query = {"limit": "1000"}
            if after:
                query["after"] = after
            conn.request("GET", "/admin/v1/users?" + urllib.parse.urlencode(query), headers=headers)
            reply = conn.getresponse()
            body = reply.read()
            if reply.status != 200:
                sys.exit(f"GET /admin/v1/users: {reply.status} {body[:300]!r}")
            page = json.loads(body)
            for user in page["items"]:
                name = (user.get("display_name") or user["login"]).replace("\t", " ")
                out.write(f"{user['principal']}\t{user['domain']}\t{name}\n")
                count += 1
            after = page.get("next")
            if not after:
                break
    print(count)


def read_users(path):
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n").split("\t") for line in f if line.strip()]


def interleave_domains(users):
    """The users of every domain in turn (a round-robin over domains)."""
    by_domain = {}
    for user in users:
        by_domain.setdefault(user[1], []).append(user)
    lists = list(by_domain.values())
    out = []
    for i in range(max((len(l) for l in lists), default=0)):
        out += [l[i] for l in lists if i < len(l)]
    return out


def quoted(principal):
    return urllib.parse.quote(principal, safe="@.-_")


def cmd_tokens(args):
    users = interleave_domains(read_users(args.users))
    if not users:
        sys.exit(f"{args.users}: no users")
    results = [None] * len(users)
    retries = [0]

    def work(indices):
        conn = connect(args.url)
        for i in indices:
            principal = users[i][0]
            basic = base64.b64encode(f"{principal}:{args.password}".encode()).decode()
            headers = {
                "Authorization": f"Basic {basic}",
                "Depth": "0",
                "Content-Type": "application/xml; charset=utf-8",
            }
            found = []
            for kind in ("calendars", "addressbooks"):
                path = f"/dav/{kind}/{quoted(principal)}/default/"
                for attempt in range(100):
                    try:
                        conn.request("PROPFIND", path, PROPFIND_TOKEN, headers)
                        reply = conn.getresponse()
                        body = reply.read().decode("utf-8", "replace")
                    except (OSError, http.client.HTTPException) as e:
                        conn.close()
                        conn = connect(args.url)
                        status, body = None, str(e)
                    else:
                        status = reply.status
                    if status == 503 or status is None:
                        retries[0] += 1
                        time.sleep(0.2)
                        continue
                    break
                if status != 207:
                    raise SystemExit(f"PROPFIND {path} as {principal}: {status} {body[:300]!r}")
                match = TOKEN_RE.search(body)
                if not match:
                    raise SystemExit(f"PROPFIND {path}: no sync-token in {body[:300]!r}")
                found.append((path, match.group(1)))
            results[i] = (basic, principal, found)
        conn.close()

    started = time.monotonic()
    workers = max(1, args.workers)
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        for _ in pool.map(work, [range(w, len(users), workers) for w in range(workers)]):
            pass
    seconds = time.monotonic() - started
    with open(args.sync_out, "w", encoding="utf-8") as sync, open(args.put_out, "w", encoding="utf-8") as put:
        for basic, principal, found in results:
            for path, token in found:
                sync.write(f"{basic} {path} {token}\n")
            put.write(f"{basic} {found[0][0]} {principal}\n")
    print(json.dumps({
        "users": len(users), "collections": 2 * len(users), "seconds": round(seconds, 2),
        "logins_per_s": round(len(users) / max(seconds, 1e-9), 1), "retries_503": retries[0],
    }, separators=(",", ":")))


def cmd_template(args):
    lines = seed.put_template(random.Random(1))
    lines = [
        "ORGANIZER:mailto:@ORGANIZER@" if line.startswith("ORGANIZER") else line
        for line in lines
    ]
    seed.write_lines(args.out, lines)


def cmd_searches(args):
    users = [u for u in read_users(args.users) if u[1] == args.domain]
    if not users:
        sys.exit(f"no users in {args.domain}")
    rng = random.Random(args.seed)
    with open(args.out, "w", encoding="utf-8") as f:
        for _ in range(200):
            principal, _, name = rng.choice(users)
            # The synthetic log renames some users "Dr. X" or "X (extern)".
            name = re.sub(r"^Dr\. | \(extern\)$", "", name)
            first, _, last = name.partition(" ")
            login = principal.split("@")[0]
            if rng.random() < 0.67 and last:
                body = seed.principal_search(
                    [("<D:displayname/>", first[:4]), ("<D:displayname/>", last[:4])]
                )
            else:
                prefix = login[: len(login.split(".")[0]) + 4]
                props = "<D:displayname/><C:calendar-user-address-set/>"
                body = seed.principal_search([(props, prefix)], any_of=True)
            f.write(body + "\n")
    print(len(users))


TARGETS = {
    "rebuild": "≥ 80,000 events/s",
    "restore_ready": "≤ 30 s (restore + start-to-ready)",
    "sync": "≥ 3,000 req/s, p99 ≤ 50 ms, no errors",
    "put": "p99 ≤ 100 ms, no errors",
    "principal_search": "no errors",
}


def errors(r):
    return r["non2xx"] + r["connect_errors"] + r["read_errors"] + r["write_errors"] + r["timeouts"]


def cmd_report(args):
    rows = [json.loads(l) for l in open(args.file, encoding="utf-8") if l.strip().startswith("{")]
    print("| step | result | target | met |")
    print("|---|---|---|---|")
    restore = {}
    for r in rows:
        step = r.get("step")
        if step == "rebuild":
            ok = r["events_per_s"] >= 80_000
            print(f"| rebuild from offset 0, {r['events']:,} events, {r['users']:,} users | "
                  f"{r['events_per_s']:,.0f} events/s in {r['seconds']:.1f} s; peak RSS "
                  f"{r['peak_rss_mb']:,.0f} MB; log {r['log_bytes'] / 2**20:,.0f} MiB, views "
                  f"{r['views_bytes'] / 2**20:,.0f} MiB | {TARGETS['rebuild']} | {'yes' if ok else 'NO'} |")
        elif step == "snapshot":
            print(f"| snapshot create (offline) | {r['seconds']:.1f} s, file "
                  f"{r['bytes'] / 2**20:,.0f} MiB | | |")
        elif step == "log_copy":
            print(f"| copy of the log into a new data directory ({r['how']}) | {r['seconds']:.1f} s | | |")
        elif step in ("restore", "ready"):
            restore[step] = r["seconds"]
            label = "snapshot restore" if step == "restore" else "serve start-to-ready after the restore"
            print(f"| {label} | {r['seconds']:.1f} s | | |")
            if len(restore) == 2:
                total = restore["restore"] + restore["ready"]
                print(f"| restore + start-to-ready | {total:.1f} s | {TARGETS['restore_ready']} | "
                      f"{'yes' if total <= 30 else 'NO'} |")
        elif step == "tokens":
            print(f"| first login and sync tokens, {r['users']:,} users ({r['collections']:,} "
                  f"collections) | {r['seconds']:.1f} s ({r['logins_per_s']:,.0f} users/s) | | |")
        elif step in ("sync", "put", "principal_search"):
            if r.get("failed"):
                print(f"| {step} at {r.get('connections', '?')} connections | not measured: "
                      f"{r.get('note', '')} | {TARGETS[step]} | NO |")
                continue
            e = errors(r)
            if step == "sync":
                label = (f"sync-collection polling, {r['connections']} connections "
                         f"({r['users']:,} users, calendar + address book)")
                ok = r["rps"] >= 3000 and r["p99_ms"] <= 50 and e == 0
            elif step == "put":
                label = f"PUT new event, {r['connections']} connections, alongside the polling"
                ok = r["p99_ms"] <= 100 and e == 0
            else:
                label = (f"principal-property-search, {r['connections']} connection"
                         f"{'s' if r['connections'] > 1 else ''} ({r['domain_users']:,} users in "
                         f"{r['domain']})")
                ok = e == 0
            print(f"| {label} | {r['rps']:,.0f} req/s, p50 {r['p50_ms']:.2f} ms, p99 "
                  f"{r['p99_ms']:.2f} ms, {r['requests']:,} requests, errors {r['non2xx']} non-2xx "
                  f"/ {e - r['non2xx']} socket | {TARGETS[step]} | {'yes' if ok else 'NO'} |")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    u = sub.add_parser("users")
    u.add_argument("--url", required=True)
    u.add_argument("--token", required=True)
    u.add_argument("--out", required=True)
    u.set_defaults(func=cmd_users)
    t = sub.add_parser("tokens")
    t.add_argument("--url", required=True)
    t.add_argument("--users", required=True)
    t.add_argument("--password", required=True)
    t.add_argument("--sync-out", required=True)
    t.add_argument("--put-out", required=True)
    t.add_argument("--workers", type=int, default=8)
    t.set_defaults(func=cmd_tokens)
    m = sub.add_parser("template")
    m.add_argument("--out", required=True)
    m.set_defaults(func=cmd_template)
    s = sub.add_parser("searches")
    s.add_argument("--users", required=True)
    s.add_argument("--domain", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--seed", type=int, default=1)
    s.set_defaults(func=cmd_searches)
    r = sub.add_parser("report")
    r.add_argument("file")
    r.set_defaults(func=cmd_report)
    args = p.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
