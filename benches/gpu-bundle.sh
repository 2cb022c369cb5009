#!/usr/bin/env bash
# Prepares benches/gpu.sh for a GPU machine that has no Rust toolchain and
# no network: builds here, in release, the actmap binary, the GPU test
# binaries and the plotters peer, strips them into .gpu/bundle.tar.xz, and
# downloads the Vulkan loader (and GNU time) as .deb files into .gl/. Both
# folders are git-ignored (.git/info/exclude); carry them to the machine and
# run `ACTMAP_PREBUILT=.gpu bash benches/gpu.sh` there.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .gpu/bin .gl
for d in .gpu .gl; do grep -qx "/$d/" .git/info/exclude 2>/dev/null || echo "/$d/" >>.git/info/exclude; done
cargo build --release --locked --quiet
cargo build --release --locked --quiet --manifest-path benches/peers/plotters/Cargo.toml
cp target/release/actmap benches/peers/plotters/target/release/actmap-peer-plotters .gpu/bin/
for t in gpu_pixels golden stream figures; do
    exe=$(cargo test --release --locked --no-run --test "$t" --message-format=json 2>/dev/null |
        grep '"kind":\["test"\]' | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n1)
    cp "$exe" ".gpu/bin/test-$t"
done
strip .gpu/bin/*
tar -cJf .gpu/bundle.tar.xz -C .gpu/bin .
echo "$PWD" >.gpu/built_in
rm -rf .gpu/bin
if ! compgen -G ".gl/libvulkan1_*.deb" >/dev/null; then
    mkdir -p /tmp/amd64/partial
    o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
    apt-get $o update -qq
    (cd .gl && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 time)
fi
du -sh .gpu .gl >&2
