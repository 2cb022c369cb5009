#!/usr/bin/env bash
# `render A B --diff` of two long runs against rendering one of them, in
# the same session: ROWS steps x 4096 float32 each (default 100,000: 1.6 GB
# a run), steps 0, 10, 20, ...; run A has six planted outliers, run B other
# values and none, so B − A keeps them (at -28 and +35) among noise. Both
# recorded with `actmap record` from benches/runlog/gen.py. Median wall
# time and peak RSS over runs, 1920x1080 PNGs (looked at: they are left in
# $ACTMAP_BENCH_DIR/diff/).
#   bash benches/diff.sh [rows] [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
rows="${1:-100000}"
runs="${2:-3}"
work="${ACTMAP_BENCH_DIR:-/tmp/actmap-bench}/diff"
rm -rf "$work"
mkdir -p "$work"
# ACTMAP_BIN: a binary built already (else a release build here).
bin="${ACTMAP_BIN:-}"
if [ -z "$bin" ]; then
    cargo build --release --locked --quiet --bin actmap
    bin="$PWD/target/release/actmap"
fi
py="$(bash .ci/pyenv.sh)"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
need=$(( 2 * rows * 16384 / 1048576 + 1024 ))
free=$(df -Pm "$work" | awk 'NR == 2 {print $4}')
[ "$free" -gt "$need" ] || { echo "need ${need} MiB free in $work, have ${free}" >&2; exit 1; }

. benches/lib.sh

echo "$rows steps x 4096 float32 per run ($(( rows * 16384 / 1000000 )) MB each), $(nproc) cores, $runs runs"
mkdir -p "$work/runs"
"$py" benches/runlog/gen.py stream "$rows" | "$bin" record - -o "$work/runs/a" -q
GEN_SEED=1 GEN_SPIKES=0 "$py" benches/runlog/gen.py stream "$rows" | "$bin" record - -o "$work/runs/b" -q
echo
echo "| figure | median time | peak RSS | runs |"
echo "|---|---|---|---|"
measure "one run (\`render runs/a --key acts\`)" \
    "$bin" render "$work/runs/a" --key acts -o "$work/one.png" --size 1920x1080 -q
one=$last_median
measure "B − A (\`render runs/a runs/b --diff --key acts\`)" \
    "$bin" render "$work/runs/a" "$work/runs/b" --diff --key acts -o "$work/diff.png" --size 1920x1080 -q
awk -v a="$one" -v b="$last_median" 'BEGIN {printf "\ndiff / one run: %.2fx\n", b / a}'
