#!/usr/bin/env bash
# What a hostile world costs a legitimate client, and what the connection
# layer's limits cost.
#
# 1. Quiet: bench/http.sh's PROPFIND and PUT at one connection (a
#    legitimate client), with the default limits.
# 2. Under attack: the same runs while bench/hostile/attack.py keeps
#    HOSTILE_SLOWLORIS connections sending their heads a fragment a second
#    (reconnecting whenever the server cuts one off) and guesses
#    HOSTILE_GUESSES passwords a second for the benchmark's own account,
#    each on a connection of its own.
# 3. When HOSTILE_BASELINE_BIN names another reprise binary (e.g. a build
#    of the commit before the connection layer, which served through
#    axum::serve without limits), the quiet runs again with it: the cost of
#    the layer and its limits.
#
# Prints each run's JSON lines and a table: req/s and p99 side by side.
# A benchmark, not a test: it never judges the figures.
# Run:   bench/hostile.sh
# Knobs: HOSTILE_SLOWLORIS [200], HOSTILE_GUESSES [20], HOSTILE_CONNECTIONS
#        (of the legitimate client) [1], HOSTILE_BASELINE_BIN [none], and
#        bench/http.sh's BENCH_* (BENCH_DURATION [10s]...).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SLOWLORIS="${HOSTILE_SLOWLORIS:-200}"
GUESSES="${HOSTILE_GUESSES:-20}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export BENCH_SCENARIOS="propfind put"
export BENCH_CONNECTIONS="${HOSTILE_CONNECTIONS:-1}"

"$repo/bench/http.sh" | tee "$work/quiet.txt"
BENCH_BUILD=0 BENCH_ATTACK="python3 $repo/bench/hostile/attack.py --connections $SLOWLORIS --guesses $GUESSES" \
    "$repo/bench/http.sh" | tee "$work/attack.txt"
columns=("$work/quiet.txt" "$work/attack.txt")
names=("quiet" "attacked")
if [[ -n "${HOSTILE_BASELINE_BIN:-}" ]]; then
    BENCH_BUILD=0 BENCH_BIN="$HOSTILE_BASELINE_BIN" "$repo/bench/http.sh" | tee "$work/baseline.txt"
    columns+=("$work/baseline.txt")
    names+=("baseline")
fi

python3 - "${names[*]}" "${columns[@]}" <<'PY'
import json, sys
names = sys.argv[1].split()
def rows(path):
    out = {}
    for line in open(path):
        if line.startswith('{"scenario"'):
            r = json.loads(line)
            out[(r["scenario"], r["connections"])] = r
    return out
runs = [rows(p) for p in sys.argv[2:]]
print()
head = "| scenario | connections | " + " | ".join(f"req/s {n}" for n in names) + " | " + \
    " | ".join(f"p99 ms {n}" for n in names) + " |"
print(head)
print("|---|---:|" + "---:|" * (2 * len(names)))
for key in runs[0]:
    f = lambda r, k, fmt: (fmt.format(r[k]) if r and k in r else "–")
    rps = " | ".join(f(run.get(key), "rps", "{:,.0f}") for run in runs)
    p99 = " | ".join(f(run.get(key), "p99_ms", "{:.2f}") for run in runs)
    print(f"| {key[0]} | {key[1]} | {rps} | {p99} |")
PY
grep -h '^# attack: ' "$work/attack.txt" || true
