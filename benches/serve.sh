#!/usr/bin/env bash
# Browser view end to end: a trainer writes 1024-wide float32 rows over TCP
# into `actmap serve` (release build, lavapipe without a GPU) while 1 and 4
# headless Chromium pages watch a 1280x720 canvas. Prints a Markdown table:
# row -> canvas latency (median, p95), frames/s per page, bytes per frame,
# server draw and encode times, for PNG and lossless WebP frames.
#   bash benches/serve.sh            # 10 s per case at 100 rows/s
#   ACTMAP_BENCH_SECS=20 ACTMAP_BENCH_RATE=1000 bash benches/serve.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/setup.sh --browser
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
chmod 700 "$XDG_RUNTIME_DIR"
cargo bench --locked --bench serve
