#!/usr/bin/env bash
# Python package benchmarks (benches/python.py): a release build of the
# package installed into the test venv (.ci/pyenv.sh: numpy, torch,
# matplotlib), then one process measuring actmap.render against matplotlib
# and Run.log's overhead. BENCH_REPS=N changes the repetitions.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/setup.sh
PY="$(bash .ci/pyenv.sh)"
export PYO3_PYTHON="$PY"
VIRTUAL_ENV="$(dirname "$(dirname "$PY")")" "$(dirname "$PY")/maturin" develop --release --locked \
    --manifest-path python/Cargo.toml -q
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
chmod 700 "$XDG_RUNTIME_DIR"
"$PY" benches/python.py
