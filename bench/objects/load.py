#!/usr/bin/env python3
"""PUT and GET of files of one size through `reprise serve`'s file area.

Usage: load.py URL USER PASSWORD SIZE_BYTES CONNECTIONS REQUESTS PHASE
PHASE is `put` (REQUESTS new files of SIZE, CONNECTIONS at a time) or
`get` (the files the put phase wrote, read back and compared by length).
Prints one JSON object: requests, seconds, req_per_s, mb_per_s, p50_ms,
p99_ms, errors. Standard library only: a benchmark must not depend on a
client library's own pooling or buffering choices.
"""
import base64, http.client, json, os, sys, threading, time, urllib.parse

url, user, password, size, conns, total, phase = sys.argv[1:8]
size, conns, total = int(size), int(conns), int(total)
parsed = urllib.parse.urlparse(url)
auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
folder = f"/dav/files/{user}@example.com/bench-{size}"
body = os.urandom(size)

latencies, errors, lock = [], [], threading.Lock()
next_index = iter(range(total))


def connection():
    return http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=120)


def worker():
    conn = connection()
    while True:
        with lock:
            i = next(next_index, None)
        if i is None:
            return
        path = f"{folder}/f{i}.bin"
        started = time.perf_counter()
        try:
            if phase == "put":
                conn.request("PUT", path, body=body, headers={
                    "Authorization": auth,
                    "Content-Type": "application/octet-stream",
                })
            else:
                conn.request("GET", path, headers={"Authorization": auth})
            response = conn.getresponse()
            data = response.read()
            ok = response.status in (200, 201, 204) and (phase == "put" or len(data) == size)
        except Exception as e:  # a failed request is counted, not fatal
            ok = False
            conn.close()
            conn = connection()
            data = str(e).encode()
        elapsed = time.perf_counter() - started
        with lock:
            if ok:
                latencies.append(elapsed)
            else:
                errors.append(data[:200].decode(errors="replace"))


if phase == "put":
    conn = connection()
    conn.request("MKCOL", folder, headers={"Authorization": auth})
    conn.getresponse().read()

started = time.perf_counter()
threads = [threading.Thread(target=worker) for _ in range(conns)]
for t in threads:
    t.start()
for t in threads:
    t.join()
seconds = time.perf_counter() - started
latencies.sort()


def pct(p):
    if not latencies:
        return None
    return round(latencies[min(len(latencies) - 1, int(len(latencies) * p))] * 1000, 1)


done = len(latencies)
print(json.dumps({
    "phase": phase, "size": size, "connections": conns, "requests": done,
    "seconds": round(seconds, 2), "req_per_s": round(done / seconds, 1),
    "mb_per_s": round(done * size / seconds / 1e6, 1),
    "p50_ms": pct(0.5), "p99_ms": pct(0.99), "errors": len(errors),
    "first_error": errors[0] if errors else None,
}))
