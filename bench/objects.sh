#!/usr/bin/env bash
# Object storage benchmark: PUT and GET of 1 MiB and 20 MiB files through
# the file area of `reprise serve` (embedded log), on the file store and
# on S3 (moto, the tests' S3 server, from the clients' venv), at 1 and 8
# connections; then what the log holds per file write, and `rebuild` of
# the resulting log (whose time must not depend on the files' sizes).
#
# Prints one JSON line per run (bench/objects/load.py), the server's peak
# RSS after each store's runs, and a Markdown table. A benchmark, never a
# test: it judges nothing. Knobs: BENCH_STORES="file s3", BENCH_SIZES
# (bytes, default "1048576 20971520"), BENCH_CONNS ("1 8"), BENCH_REQUESTS
# (per run; default 200 for 1 MiB and 40 for 20 MiB), BENCH_PYTHON (a
# Python 3; moto_server is looked for beside it).
set -euo pipefail
cd "$(dirname "$0")/.."
stores=${BENCH_STORES:-"file s3"}
sizes=${BENCH_SIZES:-"1048576 20971520"}
conns_list=${BENCH_CONNS:-"1 8"}
python=${BENCH_PYTHON:-$HOME/.cache/reprise-clients-venv/bin/python}
moto=$(dirname "$python")/moto_server

cargo build --release --locked -q
bin=$PWD/target/release/reprise
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
results=$work/results.jsonl
: >"$results"

for store in $stores; do
    data=$work/$store/data
    flags=()
    if [[ $store == s3 ]]; then
        mport=$(port)
        "$moto" -H 127.0.0.1 -p "$mport" >"$work/moto.log" 2>&1 &
        pids+=($!)
        for _ in $(seq 100); do curl -sf "http://127.0.0.1:$mport/" >/dev/null && break; sleep 0.2; done
        curl -sf -X PUT "http://127.0.0.1:$mport/bench" >/dev/null
        printf 'aws_endpoint=http://127.0.0.1:%s\naws_allow_http=true\naws_region=us-east-1\naws_access_key_id=bench\naws_secret_access_key=bench\n' "$mport" >"$work/s3.conf"
        flags=(--object-store s3://bench/objects --object-store-config "$work/s3.conf" --object-store-timeout 60)
    fi
    echo bench-secret | "$bin" --data-dir "$data" "${flags[@]}" user add bench --email bench@example.com --password-stdin >/dev/null
    sport=$(port)
    "$bin" --data-dir "$data" "${flags[@]}" --log-level warn serve --listen "127.0.0.1:$sport" \
        --max-resource-size 33554432 &
    server=$!
    pids+=($server)
    for _ in $(seq 300); do curl -sf "http://127.0.0.1:$sport/readyz" >/dev/null && break; sleep 0.1; done
    for size in $sizes; do
        requests=${BENCH_REQUESTS:-$((size > 4194304 ? 40 : 200))}
        for conns in $conns_list; do
            for phase in put get; do
                line=$("$python" bench/objects/load.py "http://127.0.0.1:$sport" bench bench-secret \
                    "$size" "$conns" "$requests" "$phase")
                # The next put run writes new paths: give each its own folder.
                echo "{\"store\":\"$store\",${line#\{}" | tee -a "$results"
            done
            # Fresh paths for the next connection count's put.
            curl -sf -u bench:bench-secret -X DELETE "http://127.0.0.1:$sport/dav/files/bench@example.com/bench-$size" >/dev/null || true
        done
    done
    rss=$(awk '/VmHWM/ {print int($2/1024)}' "/proc/$server/status")
    echo "{\"store\":\"$store\",\"peak_rss_mb\":$rss}" | tee -a "$results"
    # What the log holds per file write, from the records themselves.
    "$bin" --data-dir "$data" --server "http://127.0.0.1:$sport" log stats --json |
        sed -n '/^\[/,$p' | "$python" -c '
import json, sys
stats = [s for s in json.load(sys.stdin) if s["topic"].endswith("files") and s["count"]]
count = sum(s["count"] for s in stats); size = sum(s["bytes"] for s in stats)
print(json.dumps({"store": "'"$store"'", "files_records": count, "files_log_bytes": size,
                  "bytes_per_record": round(size / count, 1), "largest_record": max(s["largest"] for s in stats)}))' |
        tee -a "$results"
    kill "$server"; wait "$server" 2>/dev/null || true
    # The rebuild reads the log only: file sizes do not enter it.
    start=$(date +%s.%N)
    "$bin" --data-dir "$data" "${flags[@]}" rebuild >/dev/null 2>&1
    end=$(date +%s.%N)
    printf '{"store":"%s","rebuild_seconds":%.3f}\n' "$store" "$(echo "$end - $start" | bc)" | tee -a "$results"
done

"$python" - "$results" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print("\n| store | size | conns | phase | req/s | MB/s | p50 ms | p99 ms | errors |")
print("|---|---|---|---|---|---|---|---|---|")
for r in rows:
    if "phase" in r:
        print(f"| {r['store']} | {r['size'] >> 20} MiB | {r['connections']} | {r['phase'].upper()} | "
              f"{r['req_per_s']} | {r['mb_per_s']} | {r['p50_ms']} | {r['p99_ms']} | {r['errors']} |")
for r in rows:
    if "phase" not in r:
        print(json.dumps(r))
PY
