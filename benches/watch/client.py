"""Stream 4096-wide float32 rows to `actmap watch tcp://...` for a fixed
time, as fast as the socket takes them (rate 0) or at `rate` rows/s;
print rows sent and seconds. Binary AMAP frames of `batch` rows (the
README's snippet, in a loop)."""
import socket, struct, sys, time
import numpy as np

addr, seconds, batch = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
rate = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
host, port = addr.rsplit(":", 1)
sock = socket.create_connection((host, int(port)))
rng = np.random.default_rng(0)
block = rng.standard_normal((batch, 4096), dtype=np.float32)
name = b"acts"
frame = b"AMAP" + struct.pack("<BBHII", 1, 0, len(name), batch, 4096) + name + block.astype("<f4").tobytes()
sent, t0 = 0, time.perf_counter()
while time.perf_counter() - t0 < seconds:
    sock.sendall(frame)
    sent += batch
    if rate > 0:
        ahead = sent / rate - (time.perf_counter() - t0)
        if ahead > 0:
            time.sleep(ahead)
elapsed = time.perf_counter() - t0
sock.close()
print(f"{sent} {elapsed:.3f}")
