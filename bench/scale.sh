#!/usr/bin/env bash
# The scale proof: a synthetic installation of the size reprise is for,
# and what it costs to rebuild, restore and serve it (embedded log,
# release build).
#
# 1. rebuild  `reprise bench rebuild --users U --events E --dir DIR` writes
#             a seeded synthetic installation (src/bench/synthetic.rs: U users in
#             up to 20 domains, set up at the start of the log with their
#             default calendar and address book, groups and shares; then
#             60% seen flags, 25% calendar objects, 10% contacts, 5%
#             directory) and rebuilds every view from offset 0: events/s,
#             peak RSS, and the log and views on disk (du -sb).
# 2. restore  `snapshot create` of DIR (offline), a new data directory over
#             a copy of DIR's log (SCALE_LOG_COPY), `snapshot restore`
#             into it, and `serve` on it until GET /readyz answers 200;
#             seconds for each (the copy of the log is reported apart: it
#             is what a backup or a filesystem snapshot already holds).
# 3. polling  with that server up: every user logs in once (HTTP Basic,
#             argon2) and reads the sync token of their default calendar
#             and address book (PROPFIND Depth 0, bench/scale/scale.py
#             tokens); then, for SCALE_DURATION, SCALE_SYNC_CONNECTIONS
#             connections send sync-collection REPORTs with those tokens,
#             each request another user's collection with that user's
#             credentials, cycling through all of them
#             (bench/scale/sync.lua), while SCALE_PUT_CONNECTIONS other
#             connections PUT new events into users' calendars, each with
#             its owner's credentials (bench/scale/put.lua): two wrk
#             processes at once, req/s, p50, p99 and errors of each.
# 4. search   principal-property-search (bench/http/principal_search.lua,
#             bodies from the users of the largest domain) at each of
#             SCALE_SEARCH_CONNECTIONS.
#
# It prints one JSON line per step (stdout) and a summary table with the
# targets beside the results: rebuild >= 80,000 events/s; restore plus
# start-to-ready <= 30 s; polling >= 3,000 req/s with p99 <= 50 ms and PUT
# p99 <= 100 ms; no errors. A benchmark, not a test: it exits non-zero
# only when it could not measure (build, rebuild, restore or server start
# failed, or the server stopped answering).
#
# wrk, the server and (during the rebuild) everything else share the
# machine's cores. Each wrk run's first requests carry the cost of the
# render cache being cold for the collection asked: with one request per
# collection per pass of the list, the polling measures the server at
# about the rate real clients would meet it.
#
# Run:   bench/scale.sh                          (the full scale: hours on 2 cores)
#        SCALE_USERS=400 SCALE_EVENTS=200000 bench/scale.sh   (minutes)
# Needs: cargo, curl, python3, wrk (Debian: apt-get install -y wrk); disk
#        for the log twice, the views twice and a snapshot.
#
# Environment knobs (defaults in brackets):
#   SCALE_USERS              users of the installation [20000]
#   SCALE_EVENTS             events of the synthetic log [10000000]
#   SCALE_SEED               generator seed [42]
#   SCALE_BATCH_SIZE         bench rebuild --batch-size [2000]
#   SCALE_LOG_COPY           how the new data directory gets the log: cp
#                            (cp --reflink=auto of the stopped log) or clone
#                            (`reprise clone --log-only`, record by record) [cp]
#   SCALE_DURATION           polling + PUT run, wrk syntax [30s]
#   SCALE_SEARCH_DURATION    each principal-search run [10s]
#   SCALE_WARMUP             warm-up before each run, discarded; 0 for none [5s]
#   SCALE_SYNC_CONNECTIONS   polling connections [32]
#   SCALE_PUT_CONNECTIONS    PUT connections, alongside [8]
#   SCALE_SEARCH_CONNECTIONS principal-search connection counts [1 32]
#   SCALE_THREADS            most wrk threads per wrk process [2]
#   SCALE_TIMEOUT            wrk's --timeout [5s]
#   SCALE_LOGIN_WORKERS      users logged in at once while collecting the
#                            tokens (each costs one argon2 check) [8]
#   SCALE_PASSWORD           the synthetic users' password [reprise-bench]
#   SCALE_DIR                work directory (must not exist, or be empty)
#                            [a new one under $TMPDIR]
#   SCALE_PORT               port to serve on [a free one]
#   SCALE_BUILD              0 to skip `cargo build --release --locked` [1]
#   SCALE_BIN                the reprise binary [$CARGO_TARGET_DIR or target/release/reprise]
#   SCALE_KEEP               1 to keep the work directory and print its path [0]
# REPRISE_* variables are cleared so that only this script configures reprise.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
here="$repo/bench/scale"

USERS="${SCALE_USERS:-20000}"
EVENTS="${SCALE_EVENTS:-10000000}"
SEED="${SCALE_SEED:-42}"
BATCH_SIZE="${SCALE_BATCH_SIZE:-2000}"
LOG_COPY="${SCALE_LOG_COPY:-cp}"
DURATION="${SCALE_DURATION:-30s}"
SEARCH_DURATION="${SCALE_SEARCH_DURATION:-10s}"
WARMUP="${SCALE_WARMUP:-5s}"
SYNC_CONNECTIONS="${SCALE_SYNC_CONNECTIONS:-32}"
PUT_CONNECTIONS="${SCALE_PUT_CONNECTIONS:-8}"
SEARCH_CONNECTIONS="${SCALE_SEARCH_CONNECTIONS:-1 32}"
MAX_THREADS="${SCALE_THREADS:-2}"
TIMEOUT="${SCALE_TIMEOUT:-5s}"
LOGIN_WORKERS="${SCALE_LOGIN_WORKERS:-8}"
PASSWORD="${SCALE_PASSWORD:-reprise-bench}"
KEEP="${SCALE_KEEP:-0}"

for var in $(compgen -e); do
    [[ "$var" == REPRISE_* ]] && unset "$var"
done

say() { printf '# %s\n' "$*" >&2; }
die() { printf 'bench/scale.sh: %s\n' "$*" >&2; exit 1; }

# --- tools -------------------------------------------------------------------
for tool in curl python3 du; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is needed"
done
command -v wrk >/dev/null 2>&1 ||
    die "wrk is needed for the HTTP load; on Debian or Ubuntu: apt-get install -y wrk"
[[ "$LOG_COPY" == cp || "$LOG_COPY" == clone ]] || die "SCALE_LOG_COPY is cp or clone, not $LOG_COPY"

bin="${SCALE_BIN:-${CARGO_TARGET_DIR:-$repo/target}/release/reprise}"
if [[ "${SCALE_BUILD:-1}" != 0 ]]; then
    say "cargo build --release --locked"
    (cd "$repo" && cargo build --release --locked --quiet) || die "the release build failed"
fi
[[ -x "$bin" ]] || die "no reprise binary at $bin"

# --- work directory, server, cleanup -----------------------------------------
if [[ -n "${SCALE_DIR:-}" ]]; then
    work="$SCALE_DIR"
    if [[ -e "$work" && -n "$(ls -A "$work" 2>/dev/null)" ]]; then
        die "$work is not empty"
    fi
    mkdir -p "$work"
else
    work="$(mktemp -d "${TMPDIR:-/tmp}/reprise-scale.XXXXXX")"
fi
data="$work/data"
restored="$work/restored"
results="$work/results.jsonl"
: >"$results"
server_pid=""
wrk_pids=()

stop_server() {
    [[ -n "$server_pid" ]] || return 0
    if kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        for _ in $(seq 300); do
            kill -0 "$server_pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$server_pid" 2>/dev/null; then
            say "the server did not stop within 30 s; killing it"
            kill -KILL "$server_pid" 2>/dev/null || true
        fi
    fi
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
}

cleanup() {
    local rc=$?
    for pid in "${wrk_pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    stop_server
    if [[ "$KEEP" == 1 ]]; then
        say "kept $work"
    else
        rm -rf "$work"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

now() { date +%s.%N; }
since() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$1" "$(now)"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
size_of() { du -sb "$1" | cut -f1; }
# Prints a JSON line and keeps it for the summary.
result() { echo "$1" | tee -a "$results"; }
json_get() { python3 -c 'import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }

# --- header ------------------------------------------------------------------
started_all=$SECONDS
commit="$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [[ -n "$(git -C "$repo" status --porcelain --untracked-files=no 2>/dev/null)" ]]; then
    commit="$commit (working tree has local changes)"
fi
cpus="$(nproc)"
cpu_model="$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || true)"
mem="$(awk '/^MemTotal/ {printf "%.1f GB", $2 / 1048576}' /proc/meminfo 2>/dev/null || true)"
say "reprise scale benchmark"
say "reprise commit:  $commit"
say "binary:          $bin"
say "machine:         $cpus CPUs (${cpu_model:-unknown}), ${mem:-?} RAM, $(uname -sr)"
say "installation:    $USERS users, $EVENTS events, seed $SEED (embedded log)"
say "load:            $(wrk -v 2>&1 | head -n 1 | awk '{print $1, $2}'), $SYNC_CONNECTIONS polling +" \
    "$PUT_CONNECTIONS PUT connections for $DURATION; principal search at $SEARCH_CONNECTIONS" \
    "connection(s) for $SEARCH_DURATION; warm-ups $WARMUP"
say "work directory:  $work ($(df -h --output=avail "$work" | tail -1 | tr -d ' ') free)"
say "started:         $(date -u +%Y-%m-%dT%H:%M:%SZ), load average $(cut -d' ' -f1-3 /proc/loadavg)" \
    "(other processes share the cores too)"

# --- 1. rebuild --------------------------------------------------------------
say "1. writing the installation and rebuilding its views from offset 0 (bench rebuild)"
if ! "$bin" --log-level warn bench rebuild --users "$USERS" --events "$EVENTS" --seed "$SEED" \
    --batch-size "$BATCH_SIZE" --dir "$data" >"$work/rebuild.out" 2> >(sed -u 's/^/#   /' >&2); then
    sed 's/^/#   /' "$work/rebuild.out" >&2
    die "bench rebuild failed"
fi
sed 's/^/#   /' "$work/rebuild.out" >&2
bench_line="$(tail -n 1 "$work/rebuild.out")"
write_seconds="$(sed -n 's/^write phase: [0-9]* events in \([0-9.]*\) s.*/\1/p' "$work/rebuild.out")"
read -r users_made domains_made calendar_grants book_grants < <(sed -n \
    's/^installation: \([0-9]*\) users .* in \([0-9]*\) domains; \([0-9]*\) calendar and \([0-9]*\) address book grants$/\1 \2 \3 \4/p' \
    "$work/rebuild.out") || true
result "$(python3 - "$bench_line" "$USERS" "${users_made:-0}" "${domains_made:-0}" \
    "${calendar_grants:-0}" "${book_grants:-0}" "$(size_of "$data/log")" "$(size_of "$data/views")" \
    "${write_seconds:-0}" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
users, made, domains, cal, book, log_b, views_b, write_s = sys.argv[2:]
print(json.dumps({"step": "rebuild", "users": int(users), "users_created": int(made),
    "domains": int(domains), "calendar_grants": int(cal), "address_book_grants": int(book),
    "events": r["events"], "seconds": r["seconds"], "events_per_s": r["events_per_s"],
    "peak_rss_mb": r["peak_rss_mb"], "log_bytes": int(log_b), "views_bytes": int(views_b),
    "write_seconds": float(write_s)}, separators=(",", ":")))
PY
)"

if ((${users_made:-0} < USERS)); then
    say "WARNING: only ${users_made:-0} of $USERS users were set up: $EVENTS events end the log" \
        "first (give SCALE_EVENTS at least 6 x SCALE_USERS)"
fi

# --- 2. snapshot, copy of the log, restore, start-to-ready -------------------
say "2. snapshot create (offline)"
t0="$(now)"
"$bin" --data-dir "$data" snapshot create --to "$work/scale.snap" >"$work/snapshot.out" ||
    die "snapshot create failed"
result "{\"step\":\"snapshot\",\"seconds\":$(since "$t0"),\"bytes\":$(size_of "$work/scale.snap")}"

say "2. a new data directory over a copy of the log ($LOG_COPY)"
t0="$(now)"
if [[ "$LOG_COPY" == cp ]]; then
    mkdir -p "$restored"
    cp "$data/REPRISE-DATA-DIR" "$restored/"
    cp -a --reflink=auto "$data/log" "$restored/log"
else
    "$bin" --data-dir "$restored" --log-level warn clone --log-only --from "$data" \
        >"$work/clone.out" || die "clone --log-only failed"
fi
result "{\"step\":\"log_copy\",\"how\":\"$LOG_COPY\",\"seconds\":$(since "$t0")}"
if [[ "$KEEP" != 1 ]]; then
    # The source's views are not needed any more; at full scale they are
    # tens of GB.
    rm -rf "$data/views"
fi

say "2. snapshot restore into the new data directory"
t0="$(now)"
"$bin" --data-dir "$restored" snapshot restore "$work/scale.snap" >"$work/restore.out" ||
    die "snapshot restore failed"
restore_seconds="$(since "$t0")"
tail_events="$(sed -n 's/^\([0-9]*\) events of the log are newer.*/\1/p' "$work/restore.out")"
result "{\"step\":\"restore\",\"seconds\":$restore_seconds,\"tail_events\":${tail_events:-null}}"

say "2. serve on it, until /readyz answers 200"
port="${SCALE_PORT:-$(free_port)}"
base="http://127.0.0.1:$port"
t0="$(now)"
"$bin" --data-dir "$restored" --log-level warn serve --listen "127.0.0.1:$port" \
    >"$work/serve.log" 2>&1 &
server_pid=$!
until [[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/readyz" || true)" == 200 ]]; do
    if ! kill -0 "$server_pid" 2>/dev/null; then
        tail -n 30 "$work/serve.log" >&2
        die "the server exited before it was ready"
    fi
    sleep 0.05
done
result "{\"step\":\"ready\",\"seconds\":$(since "$t0")}"

rss() {
    awk '/^VmRSS|^VmHWM/ {printf "%s %.1f MB  ", $1, $2 / 1024}' "/proc/$server_pid/status" 2>/dev/null |
        sed 's/  $//'
}
alive() {
    [[ "$(curl -s -m 5 -o /dev/null -w '%{http_code}' "$base/healthz" || true)" == 200 ]]
}
say "server:          pid $server_pid on $base; $(rss)"

# --- 3. first logins and tokens, then polling and PUTs -----------------------
admin_token="$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["token"])' "$restored/serve.json")"
listed="$(python3 "$here/scale.py" users --url "$base" --token "$admin_token" --out "$work/users.tsv")" ||
    die "listing the users failed"
say "3. $listed users in the directory; logging each in and reading their sync tokens" \
    "($LOGIN_WORKERS at a time)"
tokens_line="$(python3 "$here/scale.py" tokens --url "$base" --users "$work/users.tsv" \
    --password "$PASSWORD" --sync-out "$work/sync.txt" --put-out "$work/put.txt" \
    --workers "$LOGIN_WORKERS")" || die "collecting the sync tokens failed"
result "{\"step\":\"tokens\",${tokens_line#\{}"
say "server:          $(rss) (every user logged in)"
python3 "$here/scale.py" template --out "$work/put-template.ics"

export BENCH_LUA_DIR="$repo/bench/http" BENCH_PUT_TEMPLATE="$work/put-template.ics" \
    SCALE_SYNC_LIST="$work/sync.txt" SCALE_PUT_LIST="$work/put.txt"
# common.lua wants default credentials; the scale scripts set each
# request's own.
BENCH_AUTH="$(head -n 1 "$work/put.txt" | cut -d' ' -f1)"
export BENCH_AUTH

# run_wrk SCENARIO SCRIPT CONNECTIONS DURATION RUN_ID OUTPUT: one wrk in
# the background; its pid is added to wrk_pids.
run_wrk() {
    local scenario="$1" script="$2" conns="$3" duration="$4" run_id="$5" out="$6"
    local threads=$((conns < MAX_THREADS ? conns : MAX_THREADS))
    BENCH_SCENARIO="$scenario" BENCH_CONNECTIONS="$conns" BENCH_RUN_ID="$run_id" \
        SCALE_WRK_THREADS="$threads" \
        wrk -t "$threads" -c "$conns" -d "$duration" --timeout "$TIMEOUT" --latency \
        -s "$script" "$base/" >"$out" 2>&1 &
    wrk_pids+=($!)
}

# Waits for the wrk processes started since; false if one failed.
wait_wrk() {
    local ok=0
    for pid in "${wrk_pids[@]}"; do
        wait "$pid" || ok=1
    done
    wrk_pids=()
    return "$ok"
}

# wrk_result STEP OUTPUT EXTRA-JSON: the run's JSON line with the step
# added, or a line saying it was not measured.
wrk_result() {
    local step="$1" out="$2" extra="$3" line
    if line="$(grep -m1 '^{"scenario"' "$out")"; then
        result "{\"step\":\"$step\",$extra${line#\{}"
    else
        say "wrk printed no result for $step:"
        sed 's/^/#   /' "$out" >&2
        result "{\"step\":\"$step\",\"failed\":true,\"note\":\"wrk printed no result\"}"
    fi
}

warm() { [[ "$WARMUP" != 0 && "$WARMUP" != 0s ]]; }

hung=""
if warm; then
    say "3. warm-up ($WARMUP, discarded)"
    run_wrk sync "$here/sync.lua" "$SYNC_CONNECTIONS" "$WARMUP" warm "$work/wrk-sync.warmup"
    run_wrk put "$here/put.lua" "$PUT_CONNECTIONS" "$WARMUP" warm "$work/wrk-put.warmup"
    wait_wrk || say "a warm-up wrk failed"
fi
say "3. polling at $SYNC_CONNECTIONS connections and PUTs at $PUT_CONNECTIONS, for $DURATION"
run_wrk sync "$here/sync.lua" "$SYNC_CONNECTIONS" "$DURATION" run "$work/wrk-sync.txt"
run_wrk put "$here/put.lua" "$PUT_CONNECTIONS" "$DURATION" run "$work/wrk-put.txt"
wait_wrk || say "a wrk run failed"
wrk_result sync "$work/wrk-sync.txt" "\"users\":$listed,"
wrk_result put "$work/wrk-put.txt" "\"users\":$listed,"
kill -0 "$server_pid" 2>/dev/null || { tail -n 30 "$work/serve.log" >&2; die "the server died under load"; }
alive || hung="the server stopped answering after the polling run"

# --- 4. principal search -----------------------------------------------------
domain="$(cut -f2 "$work/users.tsv" | sort | uniq -c | sort -k1,1nr -k2 | awk 'NR == 1 {print $2}')"
domain_users="$(python3 "$here/scale.py" searches --users "$work/users.tsv" --domain "$domain" \
    --seed "$SEED" --out "$work/searches.txt")"
# A user of that domain searches it (a search covers the requester's domain).
BENCH_AUTH="$(awk -v d="@$domain" 'substr($3, length($3) - length(d) + 1) == d {print $1; exit}' "$work/put.txt")"
export BENCH_AUTH BENCH_SEARCH_BODIES="$work/searches.txt"
for conns in $SEARCH_CONNECTIONS; do
    if [[ -n "$hung" ]]; then
        result "{\"step\":\"principal_search\",\"connections\":$conns,\"failed\":true,\"note\":\"$hung\"}"
        continue
    fi
    say "4. principal-property-search in $domain ($domain_users users) at $conns connection(s)"
    if warm; then
        run_wrk principal_search "$repo/bench/http/principal_search.lua" "$conns" "$WARMUP" \
            "w$conns" "$work/wrk-search-c$conns.warmup"
        wait_wrk || say "the warm-up failed"
    fi
    run_wrk principal_search "$repo/bench/http/principal_search.lua" "$conns" "$SEARCH_DURATION" \
        "c$conns" "$work/wrk-search-c$conns.txt"
    wait_wrk || say "the principal-search run failed"
    wrk_result principal_search "$work/wrk-search-c$conns.txt" \
        "\"domain\":\"$domain\",\"domain_users\":$domain_users,"
    alive || hung="the server stopped answering during principal search at $conns connections"
done

# --- summary -----------------------------------------------------------------
say "server:          $(rss) (after the runs); load average $(cut -d' ' -f1-3 /proc/loadavg)"
warnings="$(grep -cE '\b(WARN|ERROR)\b' "$work/serve.log" || true)"
if [[ "$warnings" != 0 ]]; then
    say "server log:      $warnings WARN/ERROR lines; the last ones:"
    grep -E '\b(WARN|ERROR)\b' "$work/serve.log" | tail -n 5 | sed 's/^/#   /' >&2
fi
stop_server

echo
echo "bench/scale.sh: SCALE_USERS=$USERS SCALE_EVENTS=$EVENTS SCALE_SEED=$SEED ($cpus cores, commit $commit)"
echo
python3 "$here/scale.py" report "$results"
echo
say "total time:      $((SECONDS - started_all)) s (build excluded)"
if [[ -n "$hung" ]]; then
    say "INCOMPLETE: $hung"
    exit 1
fi
