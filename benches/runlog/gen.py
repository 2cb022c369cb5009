"""The benchmark's data, block by block (each block from its own seed, so
the run log and the .npy get the same values without holding them):
`rows` x 4096 float32, steps 0, 10, 20, ..., six planted outliers.

  gen.py stream ROWS   binary version 2 frames on stdout (for actmap record)
  gen.py npy ROWS DIR  DIR/acts.npy and DIR/steps.npy, written in blocks

GEN_SEED=K draws other values (a second run to diff against the first);
GEN_SPIKES=0 leaves the outliers out.
"""
import os, struct, sys, time
import numpy as np

COLS, BLOCK = 4096, 256
SEED = int(os.environ.get("GEN_SEED", "0"))
mode, rows = sys.argv[1], int(sys.argv[2])
# Spread over the rows (for 1,000,000 rows: rows 0, 166651, 333302, ...).
SPIKES = {(i * 166_651 * rows // 1_000_000) % rows: (c, 28.0 if i % 2 == 0 else -35.0)
          for i, c in enumerate([17, 900, 1555, 2450, 3001, 4000])}
if os.environ.get("GEN_SPIKES", "1") == "0":
    SPIKES = {}

def block(b, rows):
    n = min(BLOCK, rows - b * BLOCK)
    a = np.random.default_rng(b + SEED * 1_000_003).standard_normal((n, COLS), dtype=np.float32)
    for r, (c, v) in SPIKES.items():
        if b * BLOCK <= r < b * BLOCK + n:
            a[r - b * BLOCK, c] = v
    return a

blocks = (rows + BLOCK - 1) // BLOCK
if mode == "stream":
    out = sys.stdout.buffer
    name = b"acts"
    for b in range(blocks):
        a = block(b, rows).astype("<f4")
        steps = (np.arange(b * BLOCK, b * BLOCK + len(a), dtype="<i8") * 10).tobytes()
        head = b"AMAP" + struct.pack("<BBHIIId", 2, 1, len(name), len(a), COLS, 0, time.time())
        out.write(head + name + steps + a.tobytes())
    out.flush()
else:
    d = sys.argv[3]
    m = np.lib.format.open_memmap(f"{d}/acts.npy", mode="w+", dtype="<f4", shape=(rows, COLS))
    for b in range(blocks):
        a = block(b, rows)
        m[b * BLOCK:b * BLOCK + len(a)] = a
    m.flush()
    del m
    np.save(f"{d}/steps.npy", np.arange(rows, dtype=np.float64) * 10)
