#!/usr/bin/env bash
# Every benchmark, and BENCHMARKS.md written from their figures: the one command.
#
#   scripts/bench.sh                  all benches, full sizes, `bench` profile (release)
#   scripts/bench.sh load amqp        only these bench binaries (the table lists only them)
#   BENCH_QUICK=1 scripts/bench.sh    quick mode (tiny sizes, seconds): correctness asserted,
#                                     speed not judged; written to target/BENCHMARKS-quick.md
#
# Environment: BENCH_PROFILE (cargo profile, default `bench`; the test command uses `dev`
# to reuse the test build), BENCH_OUTPUT (where the table goes), and the benches' own knobs
# (LOAD_SECONDS, SOAK_SECONDS, SOAK_WARM_UP_SECONDS, DROPS_SECONDS, DROP_EVERY_SECONDS,
# DROPS_RATE, OPENCTI_MOCK_AMQP_URL; see benches/load.rs).
#
# Each bench binary appends one JSON line per figure to $BENCH_FIGURES
# (benches/support/mod.rs); scripts/bench_table.py turns them into the table, with the
# date, commit, machine and load average. The benches need the RabbitMQ broker
# (scripts/broker.sh) and, for the Python comparison, the pinned venv the tests create.
# A bench that fails (an error, a lost object) is named in the table and the script exits
# 1 after writing it. On a machine shared with other heavy work, serialise the runs, e.g.
# `flock /tmp/opencti-heavy.lock scripts/bench.sh`.
set -euo pipefail
cd "$(dirname "$0")/.."

profile=${BENCH_PROFILE:-bench}
quick=${BENCH_QUICK:-}
[ "$quick" = 0 ] && quick=
if [ -n "$quick" ]; then
    out=${BENCH_OUTPUT:-target/BENCHMARKS-quick.md}
    mode="quick (BENCH_QUICK=1: tiny sizes, seconds; speed not judged)"
else
    out=${BENCH_OUTPUT:-BENCHMARKS.md}
    mode="full"
fi
benches=("$@")
[ ${#benches[@]} -eq 0 ] && benches=(validation platform amqp broker jobs load stream reference)

# shellcheck source=scripts/broker.sh
source scripts/broker.sh
ensure_broker

# Only the bench binaries: `--benches` or `--workspace` would also build the libraries'
# test harnesses in bench mode, a second compile of the whole crate for nothing.
targets=()
for bench in "${benches[@]}"; do targets+=(--bench "$bench"); done
echo "==> compiling the benches (cargo profile $profile)"
cargo bench --profile "$profile" --locked --no-run "${targets[@]}"

mkdir -p target
figures=target/bench-figures.jsonl
: >"$figures"
load_before=$(cut -d' ' -f1 /proc/loadavg)
start=$(date +%s)
failed=()
for bench in "${benches[@]}"; do
    echo "==> cargo bench --bench $bench"
    if ! BENCH_FIGURES="$PWD/$figures" cargo bench --profile "$profile" --locked --bench "$bench"; then
        failed+=("$bench")
    fi
done
load_after=$(cut -d' ' -f1 /proc/loadavg)

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain --untracked-files=no -- . ':!BENCHMARKS.md' 2>/dev/null)" ]; then
    commit="$commit (with uncommitted changes)"
fi
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
mem=$(awk '/MemTotal/ {printf "%.1f GB", $2 / 1e6}' /proc/meminfo)
meta=target/bench-meta.json
python3 - "$meta" <<PY
import json, sys
json.dump({
    "command": "scripts/bench.sh",
    "date": "$(date -u '+%Y-%m-%d %H:%M UTC')",
    "commit": "$commit",
    "machine": "$(nproc) cores ($cpu), $mem RAM, $(uname -sr)",
    "load_before": "$load_before",
    "load_after": "$load_after",
    "rustc": "$(rustc -V)",
    "profile": "$profile",
    "mode": "$mode, $(( $(date +%s) - start )) s in all",
    "failed": [b for b in "${failed[*]}".split() if b],
}, open(sys.argv[1], "w"))
PY
python3 scripts/bench_table.py "$figures" "$meta" >"$out"
echo "==> wrote $out"
if [ ${#failed[@]} -gt 0 ]; then
    echo "error: benches failed: ${failed[*]}" >&2
    exit 1
fi
