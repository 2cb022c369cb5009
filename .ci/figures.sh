#!/usr/bin/env bash
# Renders the reference figures from built-in data into figures/ (or $1),
# then renders one of them again through `actmap render` as a user would.
# Installs the software Vulkan driver when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-figures}"

bash .ci/setup.sh
cargo build --release --locked
./target/release/actmap demo -o "$out"
./target/release/actmap render "$out/000_layer_steps.npy" -o "$out/render_000_layer_steps.png" \
    --cmap magma --size 1200x900
./target/release/actmap info "$out/004_neuron_activations.npy"
