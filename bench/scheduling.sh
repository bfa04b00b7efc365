#!/usr/bin/env bash
# Scheduling benchmark: PUTs of meetings inviting 50 users of the
# directory through `reprise serve` (embedded log): first meetings one
# after the other on an idle server, with the time until every attendee's
# copy is visible; then at 1 and 8 connections, the PUT's answer time and
# the time the delivery backlog they leave takes to drain; then `bench
# rebuild` with and without scheduling in the synthetic mix.
#
# Prints one JSON line per run (bench/scheduling/load.py). A benchmark,
# never a test: it judges nothing. Knobs: BENCH_ATTENDEES (50),
# BENCH_CONNS ("1 8"), BENCH_REQUESTS (200 per put run), BENCH_FANOUT (50
# meetings), BENCH_REBUILD_EVENTS (1000000), BENCH_SCHEDULING (10, the
# percent of new calendar objects that are meetings in the rebuild).
set -euo pipefail
cd "$(dirname "$0")/.."
attendees=${BENCH_ATTENDEES:-50}
conns_list=${BENCH_CONNS:-"1 8"}
requests=${BENCH_REQUESTS:-200}
fanout=${BENCH_FANOUT:-50}
rebuild_events=${BENCH_REBUILD_EVENTS:-1000000}
scheduling=${BENCH_SCHEDULING:-10}

cargo build --release --locked -q
bin=$PWD/target/release/reprise
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
data=$work/data

for i in $(seq 8); do
    echo bench-secret | "$bin" --data-dir "$data" user add "org$i" --email "org$i@example.com" --password-stdin >/dev/null
done
for a in $(seq "$attendees"); do
    echo bench-secret | "$bin" --data-dir "$data" user add "att$a" --email "att$a@example.com" --password-stdin >/dev/null
done
sport=$(port)
"$bin" --data-dir "$data" --log-level warn serve --listen "127.0.0.1:$sport" &
server=$!
pids+=($server)
for _ in $(seq 300); do curl -sf "http://127.0.0.1:$sport/readyz" >/dev/null && break; sleep 0.1; done
# First on an idle server: each meeting's copies, one meeting at a time.
python3 bench/scheduling/load.py "http://127.0.0.1:$sport" "$attendees" 1 "$fanout" fanout
for conns in $conns_list; do
    python3 bench/scheduling/load.py "http://127.0.0.1:$sport" "$attendees" "$conns" "$requests" put
done
rss=$(awk '/VmHWM/ {print int($2/1024)}' "/proc/$server/status")
echo "{\"peak_rss_mb\":$rss}"
kill "$server"; wait "$server" 2>/dev/null || true

for percent in 0 "$scheduling"; do
    "$bin" bench rebuild --events "$rebuild_events" --scheduling "$percent" 2>&1 | tail -n 12 |
        sed "s/^/scheduling=$percent%: /"
done
