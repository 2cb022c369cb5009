"""Write N 4096-wide float32 rows with their steps to stdout, as a training
loop would feed `actmap record -`: binary version 2 frames of `batch` rows
(`v2`), or `@STEP name: values` text lines (`text`). Prints rows and
seconds to stderr. Rows are prepared once and cycled, so the loop measures
the stream, not numpy."""
import struct, sys, time
import numpy as np

mode, rows, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
cols = 4096
out = sys.stdout.buffer
rng = np.random.default_rng(0)
block = rng.standard_normal((batch, cols), dtype=np.float32).astype("<f4")
name = b"acts"
t0 = time.perf_counter()
if mode == "v2":
    payload = block.tobytes()
    head = b"AMAP" + struct.pack("<BBHIII", 2, 1, len(name), batch, cols, 0)
    for first in range(0, rows, batch):
        steps = np.arange(first, first + batch, dtype="<i8").tobytes()
        out.write(head + struct.pack("<d", time.time()) + name + steps + payload)
else:
    lines = [" ".join(f"{v:.6g}" for v in r) for r in block]
    for step in range(rows):
        out.write(f"@{step} acts: {lines[step % batch]}\n".encode())
out.flush()
sys.stderr.write(f"{rows} {time.perf_counter() - t0:.3f}\n")
