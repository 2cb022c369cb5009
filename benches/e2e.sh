#!/usr/bin/env bash
# End-to-end timing of `actmap render` on a 20000 x 4096 float32 .npy
# (328 MB) to a 1920x1080 PNG: median wall time over repeated runs and peak
# RSS. Writes the data with numpy (installed into a venv if missing).
#   bash benches/e2e.sh [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-7}"
work="${ACTMAP_BENCH_DIR:-/tmp/actmap-bench}"
mkdir -p "$work"

bash .ci/setup.sh
[ -x /usr/bin/time ] || apt-get install -y -qq time >/dev/null
cargo build --release --locked --quiet
bin="$PWD/target/release/actmap"

py=python3
if ! $py -c 'import numpy' 2>/dev/null; then
    [ -x "$work/venv/bin/python" ] || python3 -m venv "$work/venv"
    "$work/venv/bin/pip" install -q numpy
    py="$work/venv/bin/python"
fi
if [ ! -f "$work/acts_20000x4096.npy" ]; then
    $py - "$work/acts_20000x4096.npy" <<'PY'
import sys, numpy as np
rng = np.random.default_rng(0)
a = rng.standard_normal((20000, 4096), dtype=np.float32)
for i, c in enumerate([17, 900, 1555, 2450, 3001, 4000]):
    a[(i * 3331) % 20000, c] = 28.0 if i % 2 == 0 else -35.0
np.save(sys.argv[1], a)
PY
fi

export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
times=()
peak=0
for i in $(seq "$runs"); do
    rm -f "$work/out.png"
    start=$EPOCHREALTIME
    /usr/bin/time -f '%M' -o "$work/rss" "$bin" render "$work/acts_20000x4096.npy" \
        -o "$work/out.png" --size 1920x1080 2>/dev/null
    end=$EPOCHREALTIME
    times+=("$(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.3f", b - a}')")
    rss=$(cat "$work/rss"); [ "$rss" -gt "$peak" ] && peak=$rss
done
median=$(printf '%s\n' "${times[@]}" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}')
echo "actmap render 20000x4096 f32 .npy -> 1920x1080 PNG: median ${median}s over $runs runs, peak RSS $((peak / 1024)) MiB"
echo "runs: ${times[*]}"
