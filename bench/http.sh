#!/usr/bin/env bash
# HTTP load benchmark of the DAV server (`reprise serve`, embedded log).
#
# What it measures: one user (alice@example.com) seeded through
# `reprise import` with a 2,000-event calendar (realistic bodies, 10%
# recurring, some with overridden instances, one VTIMEZONE) and 2,000
# contacts, generated deterministically by bench/http/seed.py. Then, with
# wrk, requests/s and p50/p99 latency at 1 and 32 connections of:
#
#   propfind  PROPFIND Depth 1 asking getetag on the calendar
#   multiget  calendar-multiget of 100 objects (getetag + calendar-data)
#   sync      sync-collection from an empty token (getetag, Depth: 1)
#   put       PUT of a new event (~1.4 KB, new href and UID per request,
#             If-None-Match: *): every PUT is durable in the log and
#             applied by its projection before it is answered
#
# and, only when asked for in BENCH_SCENARIOS:
#
#   propfind_nocache  the PROPFIND with a unique XML comment in each body,
#             which defeats the render cache (see below)
#   calquery  calendar-query for one month of VEVENTs with calendar-data,
#             walking the 24 seeded months (2024-2025)
#   calquery_nocache  the same, uncached (unique comment per body)
#   cardquery addressbook-query, FN contains a name fragment, with
#             address-data, on the seeded address book
#   cardquery_nocache  the same, uncached
#   seen_read GET of the seen flags of a 100,000-message mailbox
#             (/api/v1/mail/.../mailboxes/INBOX/seen)
#   seen_write POST marking three messages near the top of a
#             100,000-message mailbox read, or three unread, alternately;
#             every write changes something, so each appends one event
#             and waits until the projection applied it
#   principal_search  principal-property-search on /dav/principals/ with
#             BENCH_DIRECTORY_USERS users in the domain, cycling through 200
#             searches for a name (first- and last-name fragments, allof)
#             or an email prefix (displayname or address, anyof), each
#             finding at least one user; answers list displayname,
#             calendar-user-address-set and calendar-user-type
#
# The seen mailboxes (INBOX, and one per seen_write run) are seeded through
# the API by bench/http/seed.py seen: everything but the newest 5,000
# messages seen except about 300 scattered unread ones, the newest in long
# read and unread runs.
#
# The issue's query benchmark is
#   BENCH_SCENARIOS="calquery calquery_nocache cardquery cardquery_nocache"
# with BENCH_EVENTS=2000 and again with BENCH_EVENTS=10000; its seen-flag
# benchmark is BENCH_SCENARIOS="seen_read seen_write"; its principal-search
# benchmark BENCH_SCENARIOS=principal_search (the users are created through
# the admin API before the runs, which takes a few minutes: every one
# hashes a password with argon2).
#
# Each run has a warm-up (discarded) and then a fixed duration. It prints
# one JSON line per run, then a Markdown table. It is a benchmark, not a
# test: it never judges timings (targets on the 2-core machine: at least
# 1,000 PROPFIND/s at 32 connections with p99 under 50 ms; PUT p99 under
# 50 ms). It exits non-zero only when it could not measure: build, seed or
# server start failed, or the server stopped answering (checked with
# GET /healthz after every run; the remaining runs are then skipped).
#
# wrk and the server run on the same machine and share its cores. The read
# scenarios ask the same thing of an unchanged collection, so after the
# first request they are answered from the server's render cache (keyed by
# the request body and the collection's sync token): they measure that
# path, like clients polling a calendar that did not change. PUTs run
# last for this reason.
# propfind_nocache measures the rendering itself, which every client's
# first PROPFIND after a change to the calendar pays.
#
# Run:   bench/http.sh          (from anywhere; builds with
#                                `cargo build --release --locked` first)
# Needs: cargo, python3, curl, wrk (installed with apt-get when missing).
#
# Environment knobs (defaults in brackets):
#   BENCH_DURATION     measured duration per run, wrk syntax [10s]
#   BENCH_WARMUP       warm-up per run, discarded; 0 for none [2s]
#   BENCH_CONNECTIONS  connection counts to run [1 32]
#   BENCH_SCENARIOS    scenarios to run, in order [propfind multiget sync put]
#   BENCH_THREADS      most wrk threads (never more than connections) [2]
#   BENCH_TIMEOUT      wrk's --timeout (wrk counts slower answers as timeouts,
#                      outside the latency; a request never answered is not
#                      counted at all, hence the /healthz check) [5s]
#   BENCH_SEED         data generator seed [1]
#   BENCH_EVENTS       calendar objects to seed [2000]
#   BENCH_CONTACTS     contacts to seed [2000]
#   BENCH_MULTIGET     hrefs per calendar-multiget [100]
#   BENCH_SEEN_MESSAGES  messages in the seen mailboxes (at least 10,000) [100000]
#   BENCH_DIRECTORY_USERS  users created for principal_search [10000]
#   BENCH_PORT         port to listen on [a free one]
#   BENCH_BUILD        0 to skip `cargo build` (uses the existing binary) [1]
#   BENCH_BIN          the reprise binary [$CARGO_TARGET_DIR or target/release/reprise]
#   BENCH_KEEP         1 to keep the temporary directory (data, server
#                      log, wrk outputs) and print its path [0]
#   BENCH_SERVE_FLAGS  more `serve` flags, split on spaces (e.g.
#                      `--metrics-listen off`, as bench/metrics.sh runs it)
#                      [--metrics-listen 127.0.0.1:0]
#   BENCH_ATTACK       a command run beside the measured runs, from after
#                      the seeding to the end, with `--port PORT --account
#                      LOGIN` added (split on spaces; bench/hostile.sh runs
#                      bench/hostile/attack.py); its last output line is
#                      printed at the end [none]
#   BENCH_KAFKA_BROKERS  run on Kafka at these brokers instead of the
#                      embedded log (topics bench-http-<pid>-<time>.*, left
#                      in place) [none]
# REPRISE_* variables are cleared so that only this script configures the
# server (embedded log unless BENCH_KAFKA_BROKERS, temporary data directory).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
here="$repo/bench/http"

DURATION="${BENCH_DURATION:-10s}"
WARMUP="${BENCH_WARMUP:-2s}"
CONNECTIONS="${BENCH_CONNECTIONS:-1 32}"
SCENARIOS="${BENCH_SCENARIOS:-propfind multiget sync put}"
MAX_THREADS="${BENCH_THREADS:-2}"
TIMEOUT="${BENCH_TIMEOUT:-5s}"
SEED="${BENCH_SEED:-1}"
EVENTS="${BENCH_EVENTS:-2000}"
CONTACTS="${BENCH_CONTACTS:-2000}"
MULTIGET="${BENCH_MULTIGET:-100}"
SEEN_MESSAGES="${BENCH_SEEN_MESSAGES:-100000}"
DIRECTORY_USERS="${BENCH_DIRECTORY_USERS:-10000}"
KEEP="${BENCH_KEEP:-0}"

for var in $(compgen -e); do
    [[ "$var" == REPRISE_* ]] && unset "$var"
done

say() { printf '# %s\n' "$*"; }
die() { printf 'bench/http.sh: %s\n' "$*" >&2; exit 1; }

# --- tools -------------------------------------------------------------------
missing=()
for tool in wrk curl python3; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if ((${#missing[@]})); then
    say "installing ${missing[*]} with apt-get"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- build -------------------------------------------------------------------
bin="${BENCH_BIN:-${CARGO_TARGET_DIR:-$repo/target}/release/reprise}"
if [[ "${BENCH_BUILD:-1}" != 0 ]]; then
    say "cargo build --release --locked"
    (cd "$repo" && cargo build --release --locked --quiet) || die "the release build failed"
fi
[[ -x "$bin" ]] || die "no reprise binary at $bin"

# --- temporary directory, server, cleanup -----------------------------------
work="$(mktemp -d "${TMPDIR:-/tmp}/reprise-bench-http.XXXXXX")"
data="$work/data"
server_pid=""
attack_pid=""

stop_attack() {
    [[ -n "$attack_pid" ]] || return 0
    kill -TERM "$attack_pid" 2>/dev/null || true
    wait "$attack_pid" 2>/dev/null || true
    attack_pid=""
}

stop_server() {
    [[ -n "$server_pid" ]] || return 0
    if kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        for _ in $(seq 100); do
            kill -0 "$server_pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$server_pid" 2>/dev/null; then
            echo "bench/http.sh: the server did not stop within 10 s; killing it" >&2
            kill -KILL "$server_pid" 2>/dev/null || true
        fi
    fi
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
}

cleanup() {
    local rc=$?
    stop_attack
    stop_server
    if [[ "$KEEP" == 1 ]]; then
        echo "# kept $work" >&2
    else
        rm -rf "$work"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- header ------------------------------------------------------------------
started=$SECONDS
commit="$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [[ -n "$(git -C "$repo" status --porcelain --untracked-files=no 2>/dev/null)" ]]; then
    commit="$commit (working tree has local changes)"
fi
cpus="$(nproc)"
cpu_model="$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || true)"
mem="$(awk '/^MemTotal/ {printf "%.1f GB", $2 / 1048576}' /proc/meminfo 2>/dev/null || true)"
wrk_version="$(wrk -v 2>&1 | head -n 1 | awk '{print $1, $2}' || true)"

echo "# reprise HTTP benchmark"
say "reprise commit:  $commit"
say "binary:          $bin"
say "machine:         $cpus CPUs (${cpu_model:-unknown}), ${mem:-?} RAM, $(uname -sr)"
say "NOTE: wrk and the server run on the same $cpus CPUs and compete for them"
say "log:             embedded (sled), data in a temporary directory"
say "load:            $wrk_version, at most $MAX_THREADS threads, connections: $CONNECTIONS," \
    "$DURATION per run after a $WARMUP warm-up, timeout $TIMEOUT"
say "started:         $(date -u +%Y-%m-%dT%H:%M:%SZ)"

# --- seed --------------------------------------------------------------------
log=()
if [[ -n "${BENCH_KAFKA_BROKERS:-}" ]]; then
    log=(--kafka-brokers "$BENCH_KAFKA_BROKERS" --topic-prefix "bench-http-$$-$(date +%s)")
    say "log:             Kafka at $BENCH_KAFKA_BROKERS (${log[3]}.*)"
fi
login="alice@example.com"
password="bench-$SEED-password"
auth="$(printf '%s:%s' "$login" "$password" | base64 -w0)"

say "seed:            $(python3 "$here/seed.py" data --out "$work" --seed "$SEED" \
    --events "$EVENTS" --contacts "$CONTACTS")"
t0=$SECONDS
printf '%s\n' "$password" |
    "$bin" --data-dir "$data" "${log[@]}" user add "$login" --email "$login" --name "Alice Martin" \
        --password-stdin >/dev/null
"$bin" --data-dir "$data" "${log[@]}" import calendar "$login" "$work/calendar.ics" >"$work/import.log"
"$bin" --data-dir "$data" "${log[@]}" import contacts "$login" "$work/contacts.vcf" >>"$work/import.log"
say "import:          $(tr '\n' ';' <"$work/import.log" | sed 's/;$//; s/;/; /g') ($((SECONDS - t0)) s)"

# --- server ------------------------------------------------------------------
port="${BENCH_PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
base="http://127.0.0.1:$port"
calendar_path="/dav/calendars/$login/default/"
read -r -a serve_flags <<<"${BENCH_SERVE_FLAGS:---metrics-listen 127.0.0.1:0}"
"$bin" --data-dir "$data" "${log[@]}" serve --listen "127.0.0.1:$port" "${serve_flags[@]}" >"$work/server.log" 2>&1 &
server_pid=$!
t0=$SECONDS
ready=""
for _ in $(seq 1200); do
    if ! kill -0 "$server_pid" 2>/dev/null; then
        tail -n 30 "$work/server.log" >&2
        die "the server exited before it was ready"
    fi
    if [[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/readyz" || true)" == 200 ]]; then
        ready=1
        break
    fi
    sleep 0.1
done
[[ -n "$ready" ]] || { tail -n 30 "$work/server.log" >&2; die "the server was not ready within 120 s"; }
say "server:          pid $server_pid on $base, ready in $((SECONDS - t0)) s"

rss() {
    awk '/^VmRSS|^VmHWM/ {printf "%s %.1f MB  ", $1, $2 / 1024}' "/proc/$server_pid/status" 2>/dev/null |
        sed 's/  $//'
}

# One request with curl: prints "status bytes"; the body goes to $1.
probe() {
    local out="$1"
    shift
    curl -s -m 30 -o "$out" -w '%{http_code} %{size_download}\n' -H "Authorization: Basic $auth" "$@"
}

propfind_body='<?xml version="1.0" encoding="utf-8"?>
<propfind xmlns="DAV:"><prop><getetag/></prop></propfind>'
status="" size=""
read -r status size < <(probe "$work/propfind.xml" -X PROPFIND -H 'Depth: 1' \
    -H 'Content-Type: application/xml; charset=utf-8' --data-binary "$propfind_body" \
    "$base$calendar_path")
[[ "$status" == 207 ]] || { head -c 2000 "$work/propfind.xml" >&2; die "PROPFIND of $calendar_path answered $status"; }
python3 "$here/seed.py" hrefs "$work/propfind.xml" >"$work/hrefs.txt"
objects=$(wc -l <"$work/hrefs.txt")
say "calendar:        $calendar_path holds $objects objects (PROPFIND Depth 1: $status, $size bytes)"
python3 "$here/seed.py" multiget "$work/hrefs.txt" --count "$MULTIGET" --seed "$SEED" >"$work/multiget.xml"
calquery_body='<?xml version="1.0" encoding="utf-8"?>
<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><C:calendar-data/></D:prop>
<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">
<C:time-range start="20250301T000000Z" end="20250401T000000Z"/></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>'
read -r status size < <(probe "$work/calquery.xml" -X REPORT -H 'Depth: 1' \
    -H 'Content-Type: application/xml; charset=utf-8' --data-binary "$calquery_body" \
    "$base$calendar_path")
[[ "$status" == 207 ]] || { head -c 2000 "$work/calquery.xml" >&2; die "calendar-query answered $status"; }
say "calendar-query:  March 2025 matches $(grep -o 'calendar-data>BEGIN:VCALENDAR' "$work/calquery.xml" | wc -l) objects ($size bytes)"
mail_path="/api/v1/mail/$login"
if [[ " $SCENARIOS " == *" seen_"* ]]; then
    mailboxes=(--mailbox INBOX)
    for conns in $CONNECTIONS; do
        mailboxes+=(--mailbox "bench-w$conns" --mailbox "bench-c$conns")
    done
    pattern="$(python3 "$here/seed.py" seen --messages "$SEEN_MESSAGES" --seed "$SEED" \
        "${mailboxes[@]}" 2>&1 >"$work/seen.json")" || die "seed.py seen: $pattern"
    read -r status size < <(probe "$work/seen-seeded.json" -X POST \
        -H 'Content-Type: application/json' --data-binary "@$work/seen.json" "$base$mail_path/seen")
    [[ "$status" == 200 ]] || { head -c 2000 "$work/seen-seeded.json" >&2; die "seeding the seen flags answered $status"; }
    read -r status size < <(probe "$work/seen-inbox.json" "$base$mail_path/mailboxes/INBOX/seen")
    [[ "$status" == 200 ]] || die "GET of the INBOX seen flags answered $status"
    say "seen flags:      $(( ${#mailboxes[@]} / 2 )) mailboxes of $SEEN_MESSAGES messages, $pattern (GET: $size bytes)"
fi
if [[ " $SCENARIOS " == *" principal_search "* ]]; then
    token="$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["token"])' "$data/serve.json")"
    say "directory:       $(python3 "$here/seed.py" directory --users "$DIRECTORY_USERS" --seed "$SEED" \
        --url "$base" --token "$token" --searches "$work/searches.txt")" || die "seeding the directory failed"
    head -n 1 "$work/searches.txt" >"$work/search1.xml"
    read -r status size < <(probe "$work/search.xml" -X REPORT -H 'Depth: 0' \
        -H 'Content-Type: application/xml; charset=utf-8' --data-binary "@$work/search1.xml" \
        "$base/dav/principals/")
    [[ "$status" == 207 ]] || { head -c 2000 "$work/search.xml" >&2; die "principal-property-search answered $status"; }
    say "principal search: the first search finds $(grep -o '<d:response>' "$work/search.xml" | wc -l) principals"
fi
say "server RSS:      $(rss) (seeded, before the runs)"
if [[ -n "${BENCH_ATTACK:-}" ]]; then
    read -r -a attack <<<"$BENCH_ATTACK"
    "${attack[@]}" --port "$port" --account "$login" >"$work/attack.txt" 2>&1 &
    attack_pid=$!
    sleep 2
    say "attack:          $BENCH_ATTACK (pid $attack_pid), beside every run"
fi

# --- runs --------------------------------------------------------------------
declare -A label=(
    [propfind]="PROPFIND Depth 1 (getetag)"
    [multiget]="calendar-multiget ($MULTIGET objects)"
    [sync]="sync-collection (empty token)"
    [put]="PUT new event"
    [propfind_nocache]="PROPFIND Depth 1 (getetag), uncached"
    [calquery]="calendar-query 1 month + calendar-data"
    [calquery_nocache]="calendar-query 1 month + calendar-data, uncached"
    [cardquery]="addressbook-query FN contains + address-data"
    [cardquery_nocache]="addressbook-query FN contains + address-data, uncached"
    [seen_read]="GET seen flags ($SEEN_MESSAGES messages)"
    [seen_write]="POST seen flags, 3 UIDs ($SEEN_MESSAGES messages)"
    [principal_search]="principal-property-search ($DIRECTORY_USERS users)"
)
export BENCH_LUA_DIR="$here" BENCH_AUTH="$auth" BENCH_MULTIGET_BODY="$work/multiget.xml" \
    BENCH_PUT_TEMPLATE="$work/put-template.ics" \
    BENCH_ADDRESSBOOK_PATH="/dav/addressbooks/$login/default/" \
    BENCH_MAIL_PATH="$mail_path" BENCH_SEEN_MAILBOX=INBOX \
    BENCH_SEEN_TOP=$((SEEN_MESSAGES - 5000 + 1)) BENCH_SEARCH_BODIES="$work/searches.txt"
results="$work/results.jsonl"
: >"$results"

# run_wrk SCENARIO CONNECTIONS DURATION RUN_ID OUTPUT
run_wrk() {
    local scenario="$1" conns="$2" duration="$3" run_id="$4" out="$5"
    local threads=$((conns < MAX_THREADS ? conns : MAX_THREADS))
    BENCH_SCENARIO="$scenario" BENCH_CONNECTIONS="$conns" BENCH_RUN_ID="$run_id" \
        wrk -t "$threads" -c "$conns" -d "$duration" --timeout "$TIMEOUT" --latency \
        -s "$here/$scenario.lua" "$base$calendar_path" >"$out" 2>&1
}

# Whether the server still answers (a stuck server would otherwise show as
# a run with no requests and no errors).
alive() {
    [[ "$(curl -s -m 5 -o /dev/null -w '%{http_code}' "$base/healthz" || true)" == 200 ]]
}

# Records a run that could not be measured.
unmeasured() {
    printf '{"scenario":"%s","connections":%d,"failed":true,"note":"%s"}\n' "$1" "$2" "$3" |
        tee -a "$results"
}

hung=""
echo
for scenario in $SCENARIOS; do
    [[ -f "$here/$scenario.lua" ]] || die "unknown scenario $scenario (no $here/$scenario.lua)"
    for conns in $CONNECTIONS; do
        out="$work/wrk-$scenario-c$conns.txt"
        if [[ -n "$hung" ]]; then
            unmeasured "$scenario" "$conns" "not run: $hung"
            continue
        fi
        if [[ "$WARMUP" != 0 && "$WARMUP" != 0s ]]; then
            run_wrk "$scenario" "$conns" "$WARMUP" "w$conns" "$out.warmup" ||
                { say "warm-up of $scenario at $conns connections failed:"; sed 's/^/#   /' "$out.warmup"; }
            if ! alive; then
                hung="the server stopped answering during the warm-up of $scenario at $conns connections"
                say "$hung; warm-up: $(grep -m1 '^{"scenario"' "$out.warmup" || echo 'no result')"
                unmeasured "$scenario" "$conns" "server stopped answering during the warm-up"
                continue
            fi
        fi
        if run_wrk "$scenario" "$conns" "$DURATION" "c$conns" "$out" &&
            line="$(grep -m1 '^{"scenario"' "$out")"; then
            echo "$line"
            echo "$line" >>"$results"
        else
            say "wrk failed for $scenario at $conns connections:"
            sed 's/^/#   /' "$out"
            unmeasured "$scenario" "$conns" "wrk failed"
        fi
        if ! kill -0 "$server_pid" 2>/dev/null; then
            tail -n 30 "$work/server.log" >&2
            die "the server died during $scenario at $conns connections"
        fi
        if ! alive; then
            hung="the server stopped answering during $scenario at $conns connections"
            say "$hung"
            sed -i '$ s/}$/,"note":"server stopped answering"}/' "$results"
        fi
    done
done
if [[ -n "$hung" ]]; then
    say "server threads (name: kernel wait channel), the server still running but not answering:"
    for task in /proc/"$server_pid"/task/*; do
        printf '%s: %s\n' "$(cat "$task/comm" 2>/dev/null)" "$(cat "$task/wchan" 2>/dev/null)"
    done | sort | uniq -c | sed 's/^/#   /'
fi

# --- after the runs ----------------------------------------------------------
echo
if [[ -n "$attack_pid" ]]; then
    stop_attack
    say "attack:          $(tail -n 1 "$work/attack.txt")"
fi
say "server RSS:      $(rss) (after the runs)"
status="" size=""
if [[ -z "$hung" ]]; then
    read -r status size < <(probe "$work/propfind-after.xml" -X PROPFIND -H 'Depth: 1' \
        -H 'Content-Type: application/xml; charset=utf-8' --data-binary "$propfind_body" \
        "$base$calendar_path") || true
fi
if [[ "$status" == 207 ]]; then
    say "calendar:        $(python3 "$here/seed.py" hrefs "$work/propfind-after.xml" | wc -l) objects after the runs"
fi
warnings="$(grep -cE '\b(WARN|ERROR)\b' "$work/server.log" || true)"
if [[ "$warnings" != 0 ]]; then
    say "server log:      $warnings WARN/ERROR lines; the last ones:"
    grep -E '\b(WARN|ERROR)\b' "$work/server.log" | tail -n 5 | sed 's/^/#   /'
fi

echo
LABELS="$(for s in "${!label[@]}"; do printf '%s\t%s\n' "$s" "${label[$s]}"; done)" \
python3 - "$results" <<'EOF'
import json, os, sys

labels = dict(l.split("\t", 1) for l in os.environ["LABELS"].splitlines() if l)
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print("| scenario | connections | req/s | p50 ms | p99 ms | non-2xx | socket errors / timeouts | note |")
print("|---|---:|---:|---:|---:|---:|---:|---|")
for r in rows:
    name = labels.get(r["scenario"], r["scenario"])
    note = r.get("note", "")
    if r.get("failed"):
        print(f"| {name} | {r['connections']} | – | – | – | – | – | {note} |")
        continue
    sock = r["connect_errors"] + r["read_errors"] + r["write_errors"]
    print(f"| {name} | {r['connections']} | {r['rps']:,.0f} | {r['p50_ms']:.2f} "
          f"| {r['p99_ms']:.2f} | {r['non2xx']} | {sock} / {r['timeouts']} | {note} |")
EOF
echo
say "total time:      $((SECONDS - started)) s (build excluded)"
if [[ -n "$hung" ]]; then
    say "INCOMPLETE: $hung"
    exit 1
fi
