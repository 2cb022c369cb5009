#!/usr/bin/env bash
# Fuzz every parser (benches/fuzz, cargo-fuzz + libFuzzer) for a bounded
# time each; prints one line per target: runs, coverage, and whether it
# found a crash (saved under benches/fuzz/artifacts/TARGET/).
#   bash benches/fuzz.sh                  # 60 s per target
#   ACTMAP_FUZZ_SECS=600 bash benches/fuzz.sh npy csv
# Needs cargo-fuzz (`cargo install cargo-fuzz`) and a nightly compiler, or a
# stable one with RUSTC_BOOTSTRAP=1 (set here when no nightly is installed).
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${ACTMAP_FUZZ_SECS:-60}"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(npy npz safetensors csv stream runlog_meta toml_spec)
command -v cargo-fuzz >/dev/null || { echo "fuzz.sh: cargo-fuzz is not installed: cargo install cargo-fuzz" >&2; exit 1; }
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  export RUSTC_BOOTSTRAP=1
  toolchain=()
else
  toolchain=(+nightly)
fi
fuzz=(cargo "${toolchain[@]}" fuzz)
# Seeds: one small valid file per format, so the fuzzer starts inside them.
seeds=benches/fuzz/corpus
mkdir -p "$seeds"/{npy,npz,safetensors,csv,stream,runlog_meta,toml_spec}
python3 - "$seeds" <<'PY'
import io, json, struct, sys, zipfile
d = sys.argv[1]
def npy(descr, shape, data):
    h = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shape)
    h += " " * ((64 - (10 + len(h) + 1) % 64) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h.encode() + data
a = npy("<f4", "(2, 3)", struct.pack("<6f", *range(6)))
open(f"{d}/npy/a.npy", "wb").write(a)
open(f"{d}/npy/b.npy", "wb").write(npy(">f8", "(4,)", struct.pack(">4d", 1, 2, 3, 4)))
z = io.BytesIO()
with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as f:
    f.writestr("a.npy", a)
    f.writestr("b.npy", npy("|u1", "(3,)", b"\x01\x02\x03"))
open(f"{d}/npz/a.npz", "wb").write(z.getvalue())
h = json.dumps({"__metadata__": {"format": "pt"}, "w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
                "b": {"dtype": "BF16", "shape": [2], "data_offsets": [16, 20]}}).encode()
open(f"{d}/safetensors/a.safetensors", "wb").write(struct.pack("<Q", len(h)) + h + bytes(20))
open(f"{d}/csv/a.csv", "wb").write(b"\x00,a,b\nr0,1,2\nr1,nan,\"3\"\n")
open(f"{d}/csv/b.csv", "wb").write(b"\x011\t2\t3\n4\t5\t6\n")
frame = b"AMAP\x01\x00" + struct.pack("<HII", 2, 1, 3) + b"ch" + struct.pack("<3f", 1, 2, 3)
frame2 = b"AMAP\x02\x01" + struct.pack("<HIIId", 1, 2, 2, 0, 1.5) + b"c" + struct.pack("<2q", 5, 6) + struct.pack("<4f", 1, 2, 3, 4)
open(f"{d}/stream/a.bin", "wb").write(b"\x07" + frame + frame2)
open(f"{d}/stream/b.txt", "wb").write(b"\x03@10 attn: 0.1, 0.2\n@11 attn: nan, inf\n0.5 0.25\n")
meta = {"zarr_format": 3, "node_type": "array", "shape": [6, 4], "data_type": "float32",
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [6, 4]}},
        "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
        "fill_value": "NaN", "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}], "attributes": {}}
open(f"{d}/runlog_meta/a.json", "w").write(json.dumps(meta))
open(f"{d}/toml_spec/a.toml", "w").write('grid = "2x1"\ncolorbar = "shared"\n[[panel]]\ninput = "a.npy"\ncmap = "magma"\n'
                                         'norm = "log"\n[panel.x]\ncoords = [1, 2, 4, 8]\nmode = "true"\n[[panel]]\ninput = "b.npy"\nrows = [0, 2]\n')
PY
"${fuzz[@]}" build --fuzz-dir benches/fuzz --sanitizer none "${targets[@]}" >/dev/null 2>&1 || "${fuzz[@]}" build --fuzz-dir benches/fuzz --sanitizer none
printf '| target | seconds | runs | coverage | result |\n|---|---|---|---|---|\n'
status=0
for t in "${targets[@]}"; do
  log=$(mktemp)
  if "${fuzz[@]}" run --fuzz-dir benches/fuzz --sanitizer none "$t" "$seeds/$t" -- \
      -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 -max_len=65536 >"$log" 2>&1; then
    result="no crash"
  else
    result="CRASH: see $(grep -o 'benches/fuzz/artifacts/[^ ]*' "$log" | head -1)"
    status=1
  fi
  runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || true)
  [ -n "$runs" ] || runs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#')
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+' || true)
  printf '| %s | %s | %s | %s | %s |\n' "$t" "$secs" "${runs:-?}" "${cov:-?}" "$result"
  [ "$result" = "no crash" ] || tail -30 "$log" >&2
  rm -f "$log"
done
exit $status
