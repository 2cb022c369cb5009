#!/usr/bin/env bash
# Batch throughput: actmap vs a matplotlib loop over the same files, each
# writing a 1200x900 PNG with axes, colorbar and title.
#   bash benches/batch.sh            # 1000 small grids (32x48), 100 grids of 4096x4096
#   SMALL=200 BIG=20 bash benches/batch.sh
# Data is written with numpy; matplotlib is installed into a venv if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
small="${SMALL:-1000}"
big="${BIG:-100}"
work="${ACTMAP_BENCH_DIR:-/tmp/actmap-batch-bench}"
mkdir -p "$work"

bash .ci/setup.sh
cargo build --release --locked --quiet
bin="$PWD/target/release/actmap"

py=python3
if ! $py -c 'import numpy, matplotlib' 2>/dev/null; then
    [ -x "$work/venv/bin/python" ] || python3 -m venv "$work/venv"
    "$work/venv/bin/pip" install -q numpy matplotlib
    py="$work/venv/bin/python"
fi

$py - "$work" "$small" "$big" <<'PY'
import os, sys, numpy as np
work, small, big = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(0)
for name, n, shape in [("small", small, (32, 48)), ("big", big, (4096, 4096))]:
    d = os.path.join(work, name)
    os.makedirs(d, exist_ok=True)
    have = len([f for f in os.listdir(d) if f.endswith(".npy")])
    for i in range(have, n):
        np.save(os.path.join(d, f"t{i:05d}.npy"), rng.standard_normal(shape, dtype=np.float32))
PY

cat > "$work/mpl_batch.py" <<'PY'
import os, sys, numpy as np, matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
src, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
for f in sorted(os.listdir(src)):
    if not f.endswith(".npy"):
        continue
    a = np.load(os.path.join(src, f))
    fig, ax = plt.subplots(figsize=(12, 9), dpi=100)
    im = ax.imshow(a, cmap="magma", aspect="auto", interpolation="nearest")
    fig.colorbar(im, ax=ax)
    ax.set_title(f)
    fig.savefig(os.path.join(out, f[:-4] + ".png"))
    plt.close(fig)
PY

export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
secs() { local s=$EPOCHREALTIME; "$@" >/dev/null 2>&1; awk -v a="$s" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.2f", b - a}'; }
echo "| case | actmap | matplotlib | speed-up |"
echo "|---|---|---|---|"
for case in small big; do
    n=$(ls "$work/$case" | grep -c '\.npy$')
    rm -rf "$work/out_actmap_$case" "$work/out_mpl_$case"
    ta=$(secs "$bin" render "$work/$case" -o "$work/out_actmap_$case" --size 1200x900 -q)
    tm=$(secs $py "$work/mpl_batch.py" "$work/$case" "$work/out_mpl_$case")
    awk -v c="$case" -v n="$n" -v a="$ta" -v m="$tm" 'BEGIN {
        printf "| %d grids (%s) | %.1f figures/s (%.1f s) | %.1f figures/s (%.1f s) | %.1fx |\n",
            n, c == "small" ? "32x48" : "4096x4096", n / a, a, n / m, m, m / a }'
done
