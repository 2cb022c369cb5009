#!/usr/bin/env bash
# Soak of the browser view: `actmap serve` (release) for 10 minutes with 20
# WebSocket clients acking every frame while a trainer grows the run at 50
# rows/s of 1024; prints the server's memory, threads and frames/s every
# minute (the first row is the start, the last the end).
#   bash benches/soak.sh                               # 10 minutes, 20 clients
#   ACTMAP_SOAK_SECS=120 ACTMAP_SOAK_EVERY=20 bash benches/soak.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
chmod 700 "$XDG_RUNTIME_DIR"
cargo bench --locked --bench soak
