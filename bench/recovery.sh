#!/usr/bin/env bash
# What recovery costs on a large log (embedded log, release build).
#
# 1. `reprise bench rebuild --events N --dir DIR` writes a seeded synthetic
#    log (src/bench/synthetic.rs: 60% seen flags, 25% calendar objects, 10%
#    contacts, 5% directory) into DIR, a data directory, and builds its views.
# 2. (a) start-to-ready from offset 0: the views are removed, `reprise serve`
#    starts, and the time until GET /readyz answers 200 is measured.
# 3. (b) snapshots of those views: through the running server
#    (`--server ... snapshot create`, which holds the served views still,
#    so writers wait: the "held" time), and offline on the stopped data
#    directory; time and file size.
# 4. The log grows by BENCH_EXTRA events (`reprise import calendar` of a
#    generated .ics of that many events, for a user added for it).
# 5. (c) start-to-ready after a restore: the views are removed, the
#    offline snapshot is restored (timed), `reprise serve` starts and the
#    time until /readyz is 200 is measured: it replays only the tail.
# 6. (d) for comparison, start-to-ready from offset 0 on the grown log.
#
# A benchmark, not a test: it prints one Markdown table and never judges
# the figures. It exits non-zero only when it could not measure.
#
# Run:   bench/recovery.sh      (from anywhere; builds with
#                                `cargo build --release --locked` first)
# Needs: cargo, curl, python3.
#
# Environment knobs (defaults in brackets):
#   BENCH_EVENTS   events of the synthetic log [1000000]
#   BENCH_EXTRA    events the log grows by after the snapshot [20000]
#   BENCH_SEED     generator seed [42]
#   BENCH_FULL     0 to skip (d) [1]
#   BENCH_BUILD    0 to skip `cargo build` [1]
#   BENCH_BIN      the reprise binary [$CARGO_TARGET_DIR or target/release/reprise]
#   BENCH_KEEP     1 to keep the work directory and print its path [0]
# REPRISE_* variables are cleared so that only this script configures reprise.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
EVENTS="${BENCH_EVENTS:-1000000}"
EXTRA="${BENCH_EXTRA:-20000}"
SEED="${BENCH_SEED:-42}"
KEEP="${BENCH_KEEP:-0}"

for var in $(compgen -e); do
    [[ "$var" == REPRISE_* ]] && unset "$var"
done

say() { printf '# %s\n' "$*" >&2; }
die() { printf 'bench/recovery.sh: %s\n' "$*" >&2; exit 1; }
for tool in curl python3; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is needed"
done

bin="${BENCH_BIN:-${CARGO_TARGET_DIR:-$repo/target}/release/reprise}"
if [[ "${BENCH_BUILD:-1}" != 0 ]]; then
    say "cargo build --release --locked"
    (cd "$repo" && cargo build --release --locked --quiet) || die "the release build failed"
fi
[[ -x "$bin" ]] || die "no reprise binary at $bin"

work="$(mktemp -d "${TMPDIR:-/tmp}/reprise-recovery-bench.XXXXXX")"
data="$work/data"
server_pid=""
cleanup() {
    if [[ -n "$server_pid" ]]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    if [[ "$KEEP" == 1 ]]; then
        say "kept $work"
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT

now() { date +%s.%N; }
since() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$1" "$(now)"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
size_of() { du -sb "$1" | cut -f1; }
mib() { python3 -c "import sys; print(f'{int(sys.argv[1]) / 1048576:.0f} MiB')" "$1"; }
r() { "$bin" --data-dir "$data" "$@"; }

port=""
url=""
ready_seconds=""
# Starts `reprise serve`; sets ready_seconds to the seconds until /readyz
# answered 200 (not in a subshell: the server's pid and URL are kept).
serve_until_ready() {
    port="$(free_port)"
    url="http://127.0.0.1:$port"
    local started
    started="$(now)"
    "$bin" --data-dir "$data" --log-level warn serve --listen "127.0.0.1:$port" \
        >>"$work/serve.log" 2>&1 &
    server_pid=$!
    until [[ "$(curl -s -o /dev/null -w '%{http_code}' "$url/readyz" || true)" == 200 ]]; do
        kill -0 "$server_pid" 2>/dev/null || die "the server stopped; see $work/serve.log"
        sleep 0.1
    done
    ready_seconds="$(since "$started")"
}

stop_server() {
    kill "$server_pid"
    wait "$server_pid" || true
    server_pid=""
}

say "writing $EVENTS synthetic events (seed $SEED) and building their views in $data"
bench_line="$("$bin" --log-level warn bench rebuild --events "$EVENTS" --seed "$SEED" --dir "$data" | tail -1)"
say "bench rebuild: $bench_line"
log_size="$(size_of "$data/log")"

say "(a) start-to-ready from offset 0"
rm -rf "$data/views"
serve_until_ready
a_ready="$ready_seconds"
views_size="$(size_of "$data/views")"

say "(b) snapshot through the running server"
started="$(now)"
server_out="$(r --server "$url" snapshot create --to "$work/server.snap")"
b_server="$(since "$started")"
b_held="$(sed -n 's/.*views held \([0-9.]*\) s.*/\1/p' <<<"$server_out")"
b_server_size="$(size_of "$work/server.snap")"
stop_server

say "(b) snapshot of the stopped data directory"
started="$(now)"
r snapshot create --to "$work/views.snap" >/dev/null
b_offline="$(since "$started")"
b_size="$(size_of "$work/views.snap")"

say "growing the log by $EXTRA events"
python3 - "$EXTRA" >"$work/extra.ics" <<'PY'
import sys
n = int(sys.argv[1])
out = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//reprise//bench//EN"]
for i in range(n):
    day = 1 + i % 28
    month = 1 + (i // 28) % 12
    out += [
        "BEGIN:VEVENT",
        f"UID:recovery-bench-{i}@example.com",
        "DTSTAMP:20260101T000000Z",
        f"DTSTART:2026{month:02d}{day:02d}T090000Z",
        f"DTEND:2026{month:02d}{day:02d}T100000Z",
        f"SUMMARY:Tail event {i}",
        "END:VEVENT",
    ]
out.append("END:VCALENDAR")
sys.stdout.write("\r\n".join(out) + "\r\n")
PY
echo 'recovery-bench' | r user add tail --email tail@bench.example --password-stdin >/dev/null
r import calendar tail@bench.example "$work/extra.ics" >/dev/null

say "(c) restore, then start-to-ready on the grown log"
rm -rf "$data/views"
started="$(now)"
restore_out="$(r snapshot restore "$work/views.snap")"
c_restore="$(since "$started")"
tail_events="$(sed -n 's/^\([0-9]*\) events of the log are newer.*/\1/p' <<<"$restore_out")"
serve_until_ready
c_ready="$ready_seconds"
stop_server

d_ready="-"
if [[ "${BENCH_FULL:-1}" != 0 ]]; then
    say "(d) start-to-ready from offset 0 on the grown log"
    rm -rf "$data/views"
    serve_until_ready
    d_ready="$ready_seconds"
    stop_server
fi

cat <<EOF

bench/recovery.sh: BENCH_EVENTS=$EVENTS BENCH_EXTRA=$EXTRA BENCH_SEED=$SEED ($(nproc) cores)
bench rebuild: $bench_line
log on disk: $(mib "$log_size"); views on disk: $(mib "$views_size")

| step | seconds | notes |
|---|---:|---|
| (a) serve start-to-ready from offset 0, $EVENTS events | $a_ready | views built from the log |
| (b) snapshot create through the server | $b_server | views held (writers wait) $b_held s; file $(mib "$b_server_size") |
| (b) snapshot create offline | $b_offline | file $(mib "$b_size") |
| (c) snapshot restore | $c_restore | $tail_events events newer than the snapshot |
| (c) serve start-to-ready after the restore | $c_ready | replays only the tail |
| (d) serve start-to-ready from offset 0, grown log | $d_ready | for comparison |
EOF
