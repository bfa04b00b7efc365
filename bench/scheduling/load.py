#!/usr/bin/env python3
"""Meetings with many attendees through `reprise serve`.

Usage: load.py URL ATTENDEES CONNECTIONS REQUESTS PHASE
Users: organizers org1..orgN (N >= CONNECTIONS) and attendees
att1..attM (M = ATTENDEES), all with the password `bench-secret`, in
example.com.

PHASE `put`: REQUESTS new meetings, each inviting every attendee, written
CONNECTIONS at a time (connection i as organizer org{i+1}); prints the PUT
answer times, and how long after the last answer every copy of the run is
visible (the delivery backlog it left). PHASE `fanout`: REQUESTS meetings one after the other, each
followed by GETs of every attendee's copy until all are there; prints the
time from the PUT's answer until the last copy is visible. One JSON object
per run. Standard library only.
"""
import base64, http.client, json, sys, threading, time, urllib.parse, uuid

url, attendees, conns, total, phase = sys.argv[1:6]
attendees, conns, total = int(attendees), int(conns), int(total)
parsed = urllib.parse.urlparse(url)


def auth(login):
    return "Basic " + base64.b64encode(f"{login}@example.com:bench-secret".encode()).decode()


def connection():
    return http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=120)


def meeting(organizer, uid, n):
    lines = [
        "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//reprise//bench-scheduling//EN",
        "BEGIN:VEVENT", f"UID:{uid}", "DTSTAMP:20270101T000000Z",
        f"DTSTART:2027{1 + n % 12:02}{1 + n % 28:02}T{8 + n % 9:02}0000Z", "DURATION:PT1H",
        f"SUMMARY:Meeting {n}", f"ORGANIZER;CN=Org:mailto:{organizer}@example.com",
        f"ATTENDEE;PARTSTAT=ACCEPTED:mailto:{organizer}@example.com",
    ]
    lines += [f"ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE;CN=Attendee {a}:mailto:att{a}@example.com"
              for a in range(1, attendees + 1)]
    lines += ["END:VEVENT", "END:VCALENDAR"]
    return ("\r\n".join(lines) + "\r\n").encode()


def put(conn, organizer, uid, n):
    conn.request("PUT", f"/dav/calendars/{organizer}@example.com/default/{uid}.ics",
                 body=meeting(organizer, uid, n), headers={
                     "Authorization": auth(organizer), "Content-Type": "text/calendar"})
    response = conn.getresponse()
    response.read()
    return response.status


latencies, fanouts, errors, lock = [], [], [], threading.Lock()
next_index = iter(range(total))


last_uids = {}


def putter(i):
    conn, organizer = connection(), f"org{i + 1}"
    while True:
        with lock:
            n = next(next_index, None)
        if n is None:
            return
        started = time.perf_counter()
        try:
            uid = f"bench-{uuid.uuid4()}"
            status = put(conn, organizer, uid, n)
            ok = status == 201
            last_uids[i] = uid
        except Exception as e:  # counted, not fatal
            ok, status = False, str(e)
            conn.close()
            conn = connection()
        elapsed = time.perf_counter() - started
        with lock:
            (latencies.append(elapsed) if ok else errors.append(str(status)))


def visible(conn, uid):
    """How many attendees' copies of `uid` can be read."""
    count = 0
    for a in range(1, attendees + 1):
        conn.request("HEAD", f"/dav/calendars/att{a}@example.com/default/{uid}.ics",
                     headers={"Authorization": auth(f"att{a}")})
        response = conn.getresponse()
        response.read()
        count += response.status == 200
    return count


started = time.perf_counter()
if phase == "put":
    threads = [threading.Thread(target=putter, args=(i,)) for i in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # The backlog the run left: until the last meeting of each organizer
    # (their records are delivered in order) has all its copies.
    answered = time.perf_counter()
    seconds = answered - started
    reader = connection()
    for uid in last_uids.values():
        while visible(reader, uid) < attendees:
            time.sleep(0.01)
    drained = time.perf_counter() - answered
else:
    conn, reader = connection(), connection()
    # Each attendee's password checked once before (the server remembers
    # verified credentials): the first poll would time argon2, not delivery.
    for a in range(1, attendees + 1):
        reader.request("HEAD", f"/dav/calendars/att{a}@example.com/default/",
                       headers={"Authorization": auth(f"att{a}")})
        reader.getresponse().read()
    started = time.perf_counter()
    for n in range(total):
        uid = f"fanout-{uuid.uuid4()}"
        t0 = time.perf_counter()
        status = put(conn, "org1", uid, n)
        answered = time.perf_counter()
        if status != 201:
            errors.append(str(status))
            continue
        latencies.append(answered - t0)
        while visible(reader, uid) < attendees:
            if time.perf_counter() - answered > 60:
                errors.append("not all copies within 60 s")
                break
        else:
            fanouts.append(time.perf_counter() - answered)
if phase == "fanout":
    seconds = time.perf_counter() - started


def pct(values, p):
    values = sorted(values)
    if not values:
        return None
    return round(values[min(len(values) - 1, int(len(values) * p))] * 1000, 1)


out = {"phase": phase, "attendees": attendees, "connections": conns,
       "requests": len(latencies), "seconds": round(seconds, 2),
       "req_per_s": round(len(latencies) / seconds, 1),
       "put_p50_ms": pct(latencies, 0.5), "put_p99_ms": pct(latencies, 0.99),
       "errors": len(errors), "first_error": errors[0] if errors else None}
if phase == "put":
    out["backlog_drained_ms"] = round(drained * 1000, 1)
if phase == "fanout":
    out.update({"all_copies_p50_ms": pct(fanouts, 0.5), "all_copies_p99_ms": pct(fanouts, 0.99)})
print(json.dumps(out))
