#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit/integration/GPU/CLI tests
# and doctests. GPU tests run on the real wgpu pipeline: on lavapipe where
# there is no GPU; window tests start their own Xvfb servers; browser-view
# tests start headless Chromium. Installs the software Vulkan driver, Xvfb
# and Chromium when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

bash .ci/setup.sh --window --browser

# Mesa warns on every device open without a runtime dir; give it a private one.
if [ -z "${XDG_RUNTIME_DIR:-}" ]; then
    XDG_RUNTIME_DIR="$(mktemp -d)"
    chmod 700 "$XDG_RUNTIME_DIR"
    export XDG_RUNTIME_DIR
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --locked -- -D warnings
echo "== cargo check --no-default-features (headless build, no windowing code)"
cargo check --locked --no-default-features --lib --bins
echo "== cargo test"
cargo test --locked --all-targets
cargo test --locked --doc
