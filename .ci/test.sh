#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit/integration/GPU/CLI tests,
# doctests, and the Python package's tests (pytest against real numpy,
# torch and executed notebooks). GPU tests run on the real wgpu pipeline:
# on lavapipe where there is no GPU; window tests start their own Xvfb
# servers; browser-view tests start headless Chromium. Installs the
# software Vulkan driver, Xvfb and Chromium when missing; the Python
# packages live in a venv cached outside the clone (.ci/pyenv.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

bash .ci/setup.sh --window --browser

# Mesa warns on every device open without a runtime dir; give it a private one.
if [ -z "${XDG_RUNTIME_DIR:-}" ]; then
    XDG_RUNTIME_DIR="$(mktemp -d)"
    chmod 700 "$XDG_RUNTIME_DIR"
    export XDG_RUNTIME_DIR
fi

# The venv the Python tests run in; pyo3's build script reads its python.
# Every cargo command below builds the workspace as one with the same
# environment, so wgpu and friends are compiled once, and the extension
# module (python/) is then linked from the same target/.
PY="$(bash .ci/pyenv.sh)"
export PYO3_PYTHON="$PY"   # (.cargo/config.toml sets PYO3_BUILD_EXTENSION_MODULE)

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo check --no-default-features (headless build, no windowing code)"
cargo check --locked --no-default-features -p actmap --lib --bins
echo "== cargo test"
cargo test --workspace --locked --all-targets
cargo test --workspace --locked --doc
echo "== python: the package built into the test venv (dev profile, same target/), pytest"
VIRTUAL_ENV="$(dirname "$(dirname "$PY")")" "$(dirname "$PY")/maturin" develop --locked --profile dev \
    --manifest-path python/Cargo.toml -q
ACTMAP_BIN="$PWD/target/debug/actmap" "$PY" -m pytest python/tests -q -p no:cacheprovider
