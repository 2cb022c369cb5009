#!/usr/bin/env bash
# actmap on a real GPU, in one go (well under 8 minutes on a 16-core machine):
# build in release, run the GPU test binaries (pixels against the CPU twin,
# golden figures, streamed == in-memory), then the large peer cases of
# benches/peers.sh (actmap and plotters; matplotlib imshow on 20000x4096),
# and print one Markdown table naming the GPU.
#
#   bash benches/gpu.sh                      # a GPU machine with the Rust toolchain
#   ACTMAP_PREBUILT=.gpu bash benches/gpu.sh # a GPU machine without one: binaries
#                                            # made here by benches/gpu-bundle.sh
#
# GPU_RUNS (5): runs per peer case. GPU_CASES: the peer cases (default: the
# large ones). The Vulkan loader is unpacked from .gl/*.deb when the machine
# has none (see benches/gpu-bundle.sh); NVIDIA's ICD is used where present.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
runs="${GPU_RUNS:-5}"
work="${ACTMAP_BENCH_DIR:-/tmp/actmap-gpu}"
mkdir -p "$work"
log() { echo "gpu.sh: $*" >&2; }
t_start=$EPOCHREALTIME
elapsed() { awk -v a="$t_start" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.0f s", b - a}'; }

# ---- Vulkan loader and driver -------------------------------------------------
if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1'; then
    if compgen -G ".gl/*.deb" >/dev/null; then
        log "unpacking the Vulkan loader from .gl/"
        for f in .gl/*.deb; do dpkg -x "$f" /; done
        ldconfig
    else
        log "no Vulkan loader (libvulkan.so.1) and no .gl/*.deb to unpack"; exit 1
    fi
fi
nv_icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -z "${VK_DRIVER_FILES:-}" ] && [ -f "$nv_icd" ]; then
    export VK_DRIVER_FILES="$nv_icd"
fi
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
chmod 700 "$XDG_RUNTIME_DIR"

# ---- binaries -----------------------------------------------------------------
tests=(gpu_pixels golden stream figures)
declare -A test_bin
if [ -n "${ACTMAP_PREBUILT:-}" ]; then
    # Test binaries look for their fixtures where they were built.
    built_in=$(cat "$ACTMAP_PREBUILT/built_in")
    if [ "$built_in" != "$root" ] && [ ! -e "$built_in" ]; then
        mkdir -p "$(dirname "$built_in")"
        ln -s "$root" "$built_in"
    fi
    mkdir -p target/release
    tar -xJf "$ACTMAP_PREBUILT/bundle.tar.xz" -C target/release
    actmap="$root/target/release/actmap"
    plotters="$root/target/release/actmap-peer-plotters"
    for t in "${tests[@]}"; do test_bin[$t]="$root/target/release/test-$t"; done
else
    log "building in release"
    cargo build --release --locked --quiet
    cargo build --release --locked --quiet --manifest-path benches/peers/plotters/Cargo.toml
    for t in "${tests[@]}"; do
        test_bin[$t]=$(cargo test --release --locked --no-run --test "$t" --message-format=json 2>/dev/null |
            grep '"kind":\["test"\]' | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n1)
    done
    actmap="$root/target/release/actmap"
    plotters="$root/benches/peers/plotters/target/release/actmap-peer-plotters"
fi
log "binaries ready ($(elapsed))"

# ---- the adapter ----------------------------------------------------------------
py="${GPU_PY:-python3}"
"$py" -c 'import numpy, sys; numpy.save(sys.argv[1], numpy.zeros((2, 2), numpy.float32))' "$work/probe.npy"
adapter=$("$actmap" render "$work/probe.npy" -o "$work/probe.png" -v 2>&1 | sed -n 's/^adapter: //p' | head -n1)
gpu=$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -n1 || true)
log "adapter: $adapter; nvidia-smi: ${gpu:-none}"

# ---- GPU tests ------------------------------------------------------------------
declare -A test_result
test_status=0
for t in "${tests[@]}"; do
    out="$work/test-$t.log"
    rc=0
    (cd "$root" && "${test_bin[$t]}" --test-threads 4) >"$out" 2>&1 || rc=$?
    summary=$(grep -E '^test result:' "$out" | tail -n1 | sed 's/; finished in.*//' || true)
    test_result[$t]="${summary:-no result (exit $rc)}"
    if [ "$rc" -ne 0 ]; then
        test_status=1
        grep -E 'FAILED|panicked' "$out" | head -n 20 | sed "s/^/  $t: /" >&2
    fi
    log "tests/$t.rs: ${test_result[$t]} ($(elapsed))"
done

# ---- peer cases -------------------------------------------------------------------
cases="${GPU_CASES:-20000x4096 100000x4096 300000x12 4x29}"
export ACTMAP_BIN="$actmap" PLOTTERS_BIN="$plotters" PEERS_PY="$py" PEERS_NO_SETUP=1 ACTMAP_BENCH_DIR="$work"
PEERS_CASES="$cases" PEERS_TOOLS="actmap plotters" bash benches/peers.sh "$runs" >/dev/null
cp "$work/peers.md" "$work/peers-actmap.md"
log "actmap and plotters done ($(elapsed))"
PEERS_CASES="20000x4096" PEERS_TOOLS="actmap matplotlib-imshow" PEERS_RUNS_SLOW=3 bash benches/peers.sh 3 >/dev/null
cp "$work/peers.md" "$work/peers-mpl.md"
log "matplotlib done ($(elapsed))"

# ---- report -----------------------------------------------------------------------
{
    echo "### On a GPU: ${gpu:-$adapter}"
    echo
    echo "\`bash benches/gpu.sh\`: $(nproc) CPU cores; wgpu adapter: $adapter; total $(elapsed)."
    echo
    echo "| GPU test binary | result |"
    echo "|---|---|"
    for t in "${tests[@]}"; do echo "| tests/$t.rs | ${test_result[$t]} |"; done
    echo
    sed -n '/^| case/,$p' "$work/peers-actmap.md"
    echo
    sed -n '/^| case/,$p' "$work/peers-mpl.md"
} | tee "$work/gpu.md"
exit "$test_status"
