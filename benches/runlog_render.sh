#!/usr/bin/env bash
# Rendering a long run log against the same data as one .npy: ROWS steps x
# 4096 float32 (default 1,000,000: 16 GB), steps 0, 10, 20, ..., six planted
# outliers, to a 1920x1080 PNG. The run log is recorded with `actmap record`
# from a Python writer (benches/runlog/gen.py) and drawn with `actmap render
# RUN`; the .npy (same values, written in blocks) with `actmap render
# acts.npy --y-coords steps.npy`, so both place rows at their steps. One
# data set is on disk at a time (ROWS x 16 KiB free is enough). Median wall
# time and peak RSS over runs; the two pictures are compared.
#   bash benches/runlog_render.sh [rows] [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
rows="${1:-1000000}"
runs="${2:-3}"
work="${ACTMAP_BENCH_DIR:-/tmp/actmap-bench}/runlog-render"
rm -rf "$work"
mkdir -p "$work"
# ACTMAP_BIN: a binary built already (else a release build here).
bin="${ACTMAP_BIN:-}"
if [ -z "$bin" ]; then
    cargo build --release --locked --quiet
    bin="$PWD/target/release/actmap"
fi
py="$(bash .ci/pyenv.sh)"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
need=$(( rows * 16384 / 1048576 + 1024 ))
free=$(df -Pm "$work" | awk 'NR == 2 {print $4}')
[ "$free" -gt "$need" ] || { echo "need ${need} MiB free in $work, have ${free}" >&2; exit 1; }

. benches/lib.sh

echo "$rows steps x 4096 float32 ($(( rows * 16384 / 1000000 )) MB), $(nproc) cores, $runs runs"
start=$EPOCHREALTIME
"$py" benches/runlog/gen.py stream "$rows" | "$bin" record - -o "$work/run" -q
end=$EPOCHREALTIME
echo "recorded in $(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.1f", b - a}') s"
echo
echo "| input | median time | peak RSS | runs |"
echo "|---|---|---|---|"
measure "run log (\`render RUN\`)" "$bin" render "$work/run" --key acts -o "$work/run.png" --size 1920x1080 -q
rm -rf "$work/run"
"$py" benches/runlog/gen.py npy "$rows" "$work"
measure "one .npy (\`render acts.npy --y-coords steps.npy\`)" "$bin" render "$work/acts.npy" \
    --y-coords "$work/steps.npy" --title acts --xlabel column --ylabel step -o "$work/npy.png" --size 1920x1080 -q
rm -f "$work/acts.npy"
cmp -s "$work/run.png" "$work/npy.png" && echo "the two PNGs are identical" || echo "the two PNGs differ"
