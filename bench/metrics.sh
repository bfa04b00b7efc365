#!/usr/bin/env bash
# What metrics cost, and what a scrape weighs.
#
# 1. bench/http.sh's PROPFIND and PUT rows (1 and 32 connections), once
#    with metrics recorded and served (`--metrics-listen 127.0.0.1:0`, the
#    default but for the port) and once with `--metrics-listen off`, which
#    also stops recording: req/s and p99 side by side. Both runs log every
#    request's line (info), as a production server does.
# 2. One scrape of a server on a synthetic installation of METRICS_USERS
#    users (`reprise bench rebuild --users`): its size in bytes and series,
#    and how long it took. Labels never name users, so the size should not
#    depend on their number: the point is to show it.
#
# A benchmark, not a test: it never judges the figures.
# Run:   bench/metrics.sh
# Knobs: METRICS_USERS [20000], METRICS_EVENTS [200000], and bench/http.sh's
#        BENCH_* (BENCH_DURATION [10s], BENCH_CONNECTIONS [1 32]...).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
USERS="${METRICS_USERS:-20000}"
EVENTS="${METRICS_EVENTS:-200000}"
for var in $(compgen -e); do
    [[ "$var" == REPRISE_* ]] && unset "$var"
done
work="$(mktemp -d)"
trap 'kill "${server_pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT

# --- 1. the HTTP rows, on and off ---------------------------------------------
export BENCH_SCENARIOS="propfind put"
BENCH_SERVE_FLAGS="--metrics-listen 127.0.0.1:0" "$repo/bench/http.sh" | tee "$work/on.txt"
BENCH_BUILD=0 BENCH_SERVE_FLAGS="--metrics-listen off" "$repo/bench/http.sh" | tee "$work/off.txt"
bin="${CARGO_TARGET_DIR:-$repo/target}/release/reprise"

python3 - "$work/on.txt" "$work/off.txt" <<'EOF' | tee "$work/table.md"
import json, sys
def rows(path):
    out = {}
    for line in open(path):
        if line.startswith('{"scenario"'):
            r = json.loads(line)
            out[(r["scenario"], r["connections"])] = r
    return out
on, off = rows(sys.argv[1]), rows(sys.argv[2])
print()
print("| scenario | connections | req/s on | req/s off | p99 ms on | p99 ms off |")
print("|---|---:|---:|---:|---:|---:|")
for key in on:
    a, b = on[key], off.get(key, {})
    f = lambda r, k, fmt: (fmt.format(r[k]) if k in r else "–")
    print(f"| {key[0]} | {key[1]} | {f(a, 'rps', '{:,.0f}')} | {f(b, 'rps', '{:,.0f}')} "
          f"| {f(a, 'p99_ms', '{:.2f}')} | {f(b, 'p99_ms', '{:.2f}')} |")
EOF

# --- 2. one scrape at METRICS_USERS users -------------------------------------
echo
echo "# a synthetic installation of $USERS users, $EVENTS events"
"$bin" bench rebuild --users "$USERS" --events "$EVENTS" --dir "$work/scale" >"$work/rebuild.txt" 2>&1 ||
    { cat "$work/rebuild.txt" >&2; exit 1; }
free() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port="$(free)" mport="$(free)"
"$bin" --data-dir "$work/scale" --log-level warn serve --listen "127.0.0.1:$port" \
    --metrics-listen "127.0.0.1:$mport" >"$work/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 600); do
    [[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz" || true)" == 200 ]] && break
    sleep 0.2
done
# A few requests of each kind a client makes, so the request families have series.
for path in / /dav/ /dav/principals/ /.well-known/caldav; do
    curl -s -o /dev/null -X PROPFIND "http://127.0.0.1:$port$path" || true
done
curl -s -o "$work/scrape.txt" -w '%{time_total}' "http://127.0.0.1:$mport/metrics" >"$work/scrape-time.txt"
bytes="$(wc -c <"$work/scrape.txt")"
series="$(grep -vc '^#' "$work/scrape.txt")"
users="$(grep -c '@' "$work/scrape.txt" || true)"
printf '{"users":%d,"scrape_bytes":%d,"series":%d,"seconds":%s,"lines_naming_an_address":%d}\n' \
    "$USERS" "$bytes" "$series" "$(cat "$work/scrape-time.txt")" "$users"
echo
echo "| users | scrape bytes | series | scrape time s |"
echo "|---:|---:|---:|---:|"
echo "| $USERS | $bytes | $series | $(cat "$work/scrape-time.txt") |"
