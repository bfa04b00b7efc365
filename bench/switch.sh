#!/usr/bin/env bash
# Blue/green benchmark: two installations on one Kafka log (an Apache Kafka broker
# from tests/kafka/broker, started here) behind `reprise proxy`.
#
# 1. Switch under load: wrk drives BENCH_CONNECTIONS connections through
#    the proxy, half PUTting new events (each durable in the log and
#    applied before it is answered) and half PROPFINDing the calendar,
#    while the script switches blue->green->blue... BENCH_SWITCHES times,
#    BENCH_SWITCH_EVERY seconds apart. Reported per switch: held requests,
#    the longest hold (arrival of the first held request to the release),
#    and the time of each step; and over the run: requests, non-2xx
#    answers and socket errors from wrk (the target is zero).
# 2. Standby lag: green follows while BENCH_LAG_CONNECTIONS connections
#    PUT through the proxy to the leader for BENCH_LAG_DURATION; every
#    250 ms the script samples the follower's `projections status`, then
#    the leader's: the lag in events is how far the follower's calendars
#    positions trail the leader's (the leader has applied every write it
#    acknowledged), the lag in seconds the follower's own figure.
#
# A benchmark, not a test: it judges nothing (target on the 2-core
# machine: no hold over 250 ms when the new side is caught up, zero
# failed requests). It exits non-zero only when it could not measure.
#
# Run:   bench/switch.sh      (builds with `cargo build --release --locked`)
# Needs: cargo, curl, wrk, java and mvn (tests/kafka/broker fetches Apache
# Kafka's jars, as scripts/test does).
# Knobs: BENCH_CONNECTIONS [32], BENCH_SWITCHES [6], BENCH_SWITCH_EVERY [4],
#        BENCH_LAG_CONNECTIONS [8], BENCH_LAG_DURATION [20s], BENCH_KEEP [0].

set -euo pipefail
# Two servers and a proxy on one machine: each takes a free metrics port.
export REPRISE_METRICS_LISTEN=127.0.0.1:0 REPRISE_PROXY_METRICS_LISTEN=127.0.0.1:0
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
CONNECTIONS="${BENCH_CONNECTIONS:-32}"
SWITCHES="${BENCH_SWITCHES:-6}"
EVERY="${BENCH_SWITCH_EVERY:-4}"
LAG_CONNECTIONS="${BENCH_LAG_CONNECTIONS:-8}"
LAG_DURATION="${BENCH_LAG_DURATION:-20s}"
TOKEN="bench-cluster-token"

say() { echo "== $*" >&2; }
die() { echo "bench/switch.sh: $*" >&2; exit 1; }
for tool in wrk curl java mvn; do command -v "$tool" >/dev/null || die "$tool is missing"; done

say "building (release)"
(cd "$root" && cargo build --release --locked -q)
bin="${CARGO_TARGET_DIR:-$root/target}/release/reprise"
work="$(mktemp -d /tmp/reprise-bench-switch.XXXXXX)"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [[ "${BENCH_KEEP:-0}" == 1 ]] && echo "kept $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_ok() {
    for _ in $(seq 1 600); do
        [[ "$(curl -s -o /dev/null -w '%{http_code}' "$1" || true)" == 200 ]] && return 0
        sleep 0.1
    done
    die "$1 never answered 200"
}

kafka_port="$(free_port)"; controller_port="$(free_port)"
"$root/tests/kafka/broker" run "$work/kafka" "$kafka_port" "$controller_port" >"$work/kafka.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 1200); do
    (echo >"/dev/tcp/127.0.0.1/$kafka_port") 2>/dev/null && break
    sleep 0.1
done
log=(--kafka-brokers "127.0.0.1:$kafka_port" --topic-prefix bench --partitions 8)

say "users"
echo alice-secret | "$bin" --data-dir "$work/blue" "${log[@]}" user add alice \
    --email alice@example.com --password-stdin >/dev/null

blue_port="$(free_port)"; green_port="$(free_port)"
proxy_port="$(free_port)"; admin_port="$(free_port)"
start() { # NAME PORT EXTRA...
    local name="$1" port="$2"; shift 2
    "$bin" --data-dir "$work/$name" "${log[@]}" --log-level warn serve \
        --listen "127.0.0.1:$port" --installation "$name" --cluster-token "$TOKEN" "$@" \
        >"$work/$name.log" 2>&1 &
    pids+=($!)
    wait_ok "http://127.0.0.1:$port/readyz"
}
start blue "$blue_port"
start green "$green_port" --standby
"$bin" --log-level warn proxy --listen "127.0.0.1:$proxy_port" --admin "127.0.0.1:$admin_port" \
    --backend "blue=http://127.0.0.1:$blue_port" --backend "green=http://127.0.0.1:$green_port" \
    --cluster-token "$TOKEN" --active blue >"$work/proxy.log" 2>&1 &
pids+=($!)
wait_ok "http://127.0.0.1:$proxy_port/readyz"

printf 'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//reprise bench//EN\r\nBEGIN:VEVENT\r\nUID:@UID@\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260310T090000Z\r\nDURATION:PT1H\r\nSUMMARY:Written during a switch\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n' >"$work/put.ics"
export BENCH_LUA_DIR="$here/http" BENCH_PUT_TEMPLATE="$work/put.ics"
BENCH_AUTH="$(printf 'alice@example.com:alice-secret' | base64 -w0)"
export BENCH_AUTH
calendar="http://127.0.0.1:$proxy_port/dav/calendars/alice@example.com/default/"

# wrk SCENARIO CONNECTIONS DURATION RUN_ID OUTPUT
run_wrk() {
    local threads=$(($2 < 2 ? $2 : 2))
    BENCH_SCENARIO="$1" BENCH_CONNECTIONS="$2" BENCH_RUN_ID="$4" \
        wrk -t "$threads" -c "$2" -d "$3" --timeout 10s --latency -s "$here/http/$1.lua" "$calendar" >"$5" 2>&1
}

half=$((CONNECTIONS / 2))
duration=$(((SWITCHES + 1) * EVERY + 2))
say "switching $SWITCHES times under $CONNECTIONS connections (${duration}s)"
run_wrk put "$half" "${duration}s" "sw" "$work/wrk-put.txt" &
wrk_put=$!
run_wrk propfind "$((CONNECTIONS - half))" "${duration}s" "sw" "$work/wrk-propfind.txt" &
wrk_read=$!
: >"$work/switches.jsonl"
target=green
for _ in $(seq 1 "$SWITCHES"); do
    sleep "$EVERY"
    "$bin" switch --proxy "http://127.0.0.1:$admin_port" --to "$target" --cluster-token "$TOKEN" --json |
        tr -d '\n' >>"$work/switches.jsonl"
    echo >>"$work/switches.jsonl"
    [[ "$target" == green ]] && target=blue || target=green
done
wait "$wrk_put" "$wrk_read" || die "wrk failed: $(cat "$work"/wrk-*.txt)"

say "standby lag: $LAG_CONNECTIONS connections writing for $LAG_DURATION"
# After the loop, $target names the installation that follows.
follower="$target"
follower_port=$([[ "$follower" == green ]] && echo "$green_port" || echo "$blue_port")
leader=$([[ "$follower" == green ]] && echo blue || echo green)
leader_port=$([[ "$leader" == green ]] && echo "$green_port" || echo "$blue_port")
token_of() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["token"])' "$work/$1/serve.json"; }
follower_token="$(token_of "$follower")"
leader_token="$(token_of "$leader")"
run_wrk put "$LAG_CONNECTIONS" "$LAG_DURATION" "lag" "$work/wrk-lag.txt" &
wrk_lag=$!
: >"$work/lag.jsonl"
while kill -0 "$wrk_lag" 2>/dev/null; do
    # The leader's applied positions are where the log ends for what is
    # acknowledged (every PUT is applied before it is answered); sampled
    # right after the follower's.
    {
        curl -s -H "Authorization: Bearer $follower_token" \
            "http://127.0.0.1:$follower_port/admin/v1/projections/status" | tr -d '\n'
        printf '\t'
        curl -s -H "Authorization: Bearer $leader_token" \
            "http://127.0.0.1:$leader_port/admin/v1/projections/status" | tr -d '\n'
        echo
    } >>"$work/lag.jsonl" || true
    sleep 0.25
done
wait "$wrk_lag" || true

python3 - "$work" <<'EOF'
import json, re, statistics, sys
work = sys.argv[1]
def wrk(name):
    text = open(f"{work}/wrk-{name}.txt").read()
    line = [l for l in text.splitlines() if l.startswith("{")][-1]
    return json.loads(line)
switches = [json.loads(l) for l in open(f"{work}/switches.jsonl") if l.strip()]
print("\n### Switch under load\n")
print("| switch | epoch | held requests | longest hold (ms) | drain | hand-over | take-over | total (ms) |")
print("|---|---|---|---|---|---|---|---|")
for s in switches:
    print(f"| {s['from']} -> {s['to']} | {s['epoch']} | {s['held_requests']} | {s['longest_hold_ms']:.1f} | "
          f"{s['drain_ms']} | {s['hand_over_ms']} | {s['take_over_ms']} | {s['total_ms']} |")
print()
print("| load | connections | requests | req/s | p50 ms | p99 ms | max ms | non-2xx | socket errors |")
print("|---|---|---|---|---|---|---|---|---|")
for name in ("put", "propfind"):
    r = wrk(name)
    errors = r["connect_errors"] + r["read_errors"] + r["write_errors"] + r["timeouts"]
    print(f"| {name} | {r['connections']} | {r['requests']} | {r['rps']:.0f} | {r['p50_ms']:.1f} | "
          f"{r['p99_ms']:.1f} | {r['max_ms']:.1f} | {r['non2xx']} | {errors} |")
def calendars(report):
    p = [p for p in report["projections"] if p["name"] == "calendars"][0]
    return [v for v in p["versions"] if v["live"]][0]
lags, seconds = [], []
for line in open(f"{work}/lag.jsonl"):
    parts = line.rstrip("\n").split("\t")
    if len(parts) != 2 or not all(x.startswith("{") for x in parts):
        continue
    follower, leader = (calendars(json.loads(x)) for x in parts)
    ahead = {(x["topic"], x["partition"]): x["next_offset"] for x in leader["positions"]}
    lags.append(sum(max(0, ahead[(x["topic"], x["partition"])] - x["next_offset"])
                    for x in follower["positions"]))
    seconds.append(follower.get("lag_seconds") or 0.0)
r = wrk("lag")
print(f"\n### Standby lag ({r['connections']} connections writing, {r['rps']:.0f} PUT/s, {len(lags)} samples)\n")
print("| | median | p90 | max |")
print("|---|---|---|---|")
def q(xs, f):
    xs = sorted(xs); return xs[min(len(xs) - 1, int(f * len(xs)))] if xs else float("nan")
print(f"| lag (events) | {q(lags, .5)} | {q(lags, .9)} | {max(lags) if lags else 'n/a'} |")
print(f"| lag (seconds) | {q(seconds, .5):.2f} | {q(seconds, .9):.2f} | {max(seconds) if seconds else float('nan'):.2f} |")
EOF
