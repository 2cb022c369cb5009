#!/usr/bin/env bash
# Live window throughput: rows/s accepted and frames/s drawn while a client
# streams 4096-wide float32 rows over TCP into `actmap watch` drawing a
# 1280x720 window (on Xvfb, so it runs anywhere; lavapipe without a GPU).
#   bash benches/watch.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-10}"
work="${ACTMAP_BENCH_DIR:-/tmp/actmap-bench}"
mkdir -p "$work"

bash .ci/setup.sh --window
cargo build --release --locked --quiet
bin="$PWD/target/release/actmap"
py=python3
if ! $py -c 'import numpy' 2>/dev/null; then
    [ -x "$work/venv/bin/python" ] || python3 -m venv "$work/venv"
    "$work/venv/bin/pip" install -q numpy
    py="$work/venv/bin/python"
fi
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"

disp=":$(( 300 + RANDOM % 500 ))"
Xvfb "$disp" -screen 0 1920x1080x24 -nolisten tcp -noreset >/dev/null 2>&1 &
xvfb=$!
trap 'kill $xvfb 2>/dev/null || true' EXIT
sleep 1

echo "| writer | rows/s accepted | frames/s drawn | frames drawn from a CPU pre-reduction | rows uploaded per frame otherwise |"
echo "|---|---|---|---|---|"
for run in "1 0" "16 0" "256 0" "1 1000" "1 100"; do
    read -r batch rate <<<"$run"
    log="$work/watch-$batch.log"
    DISPLAY="$disp" "$bin" watch tcp://127.0.0.1:0 --cols 4096 --size 1280x720 -v 2>"$log" &
    pid=$!
    for _ in $(seq 100); do grep -q 'listening on' "$log" 2>/dev/null && break; sleep 0.1; done
    addr=$(grep -o 'listening on tcp://[0-9.:]*' "$log" | sed 's|listening on tcp://||')
    read -r sent elapsed < <($py benches/watch/client.py "$addr" "$secs" "$batch" "$rate")
    sleep 1
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    # Frames drawn while rows were arriving, and the rows the window had.
    awk -v sent="$sent" -v el="$elapsed" -v batch="$batch" -v rate="$rate" '
        /^frame / {
            for (i = 1; i <= NF; i++) {
                if ($i ~ /^t=/) { t = substr($i, 3) + 0 }
                if ($i ~ /acts=/) { v = $i; gsub(/[^0-9]/, "", v); rows = v + 0 }
                if ($i ~ /^uploaded_rows=/) { up = substr($i, 15) + 0 }
                if ($i ~ /^cpu_reduced_frames=/) { red = substr($i, 20) + 0 }
            }
            if (rows > 0) {
                if (!started) { started = 1; t0 = t; up0 = up; red0 = red }
                n++; t1 = t; last = rows; up1 = up; red1 = red
            }
        }
        END {
            span = t1 - t0
            w = (rate > 0) ? sprintf("%d rows/s, 1 per message", rate) : sprintf("flat out, %d rows per message", batch)
            if (span <= 0) { print "| " w " | no frames |  |  |  |"; exit }
            other = (n - 1) - (red1 - red0)
            per = "-"
            if (other > 0) per = sprintf("%.0f", (up1 - up0) / other)
            frac = 100 * (red1 - red0) / ((n > 1) ? n - 1 : 1)
            printf "| %s | %.0f (client sent %.0f/s) | %.1f | %.0f%% | %s |\n", w, last / el, sent / el, (n - 1) / span, frac, per
        }' "$log"
done
