"""Python package benchmarks, in one process (run by benches/python.sh):

1. actmap.render + save against matplotlib imshow + colorbar + savefig
   (Agg) on a 20000 x 4096 float32 array with planted spikes, 1920x1080;
2. the same for 100 small grids (32 x 48, 1200x900) in a loop;
3. Run.log: overhead per call for a 4096-float torch tensor (and a numpy
   array), and sustained rows/s until everything is on disk.

Medians; the renderer is warm (one render before timing). Prints a
Markdown table."""

import gc
import os
import statistics
import sys
import tempfile
import time

import numpy as np

import actmap

REPS = int(os.environ.get("BENCH_REPS", "5"))


def median_time(fn, reps):
    times = []
    for _ in range(reps):
        gc.collect()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


def mpl_figure(a, out, size):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(size[0] / 100, size[1] / 100), dpi=100)
    im = ax.imshow(a, aspect="auto", cmap="viridis", interpolation="nearest")
    fig.colorbar(im, ax=ax)
    ax.set_title("acts")
    fig.savefig(out)
    plt.close(fig)


def main():
    tmp = tempfile.mkdtemp(prefix="actmap-bench-")
    rows = []
    rng = np.random.default_rng(0)
    # Warm the renderer (GPU context, pipelines) as a long-lived process would.
    t0 = time.perf_counter()
    actmap.render(np.zeros((4, 4), np.float32)).save(os.path.join(tmp, "warm.png"))
    cold = time.perf_counter() - t0
    print(f"adapter: {actmap.adapter()}; first render (GPU start-up) {cold * 1e3:.0f} ms", file=sys.stderr)

    big = rng.standard_normal((20000, 4096), dtype=np.float32)
    big[[1234, 15000, 19999], [17, 2048, 4000]] = [28.0, -35.0, 30.0]
    a_med, a_all = median_time(lambda: actmap.render(big, cmap="viridis", size=(1920, 1080), title="acts")
                               .save(os.path.join(tmp, "big.png")), REPS)
    m_med, m_all = median_time(lambda: mpl_figure(big, os.path.join(tmp, "big_mpl.png"), (1920, 1080)),
                               max(3, REPS // 2))
    rows.append(("20000 x 4096, 1920x1080", f"{a_med:.3f} s", f"{m_med:.3f} s", f"{m_med / a_med:.1f}x"))

    small = [rng.random((32, 48), dtype=np.float32) for _ in range(100)]

    def loop_actmap():
        for i, g in enumerate(small):
            actmap.render(g, cmap="viridis", title="acts").save(os.path.join(tmp, f"s{i}.png"))

    def loop_mpl():
        for i, g in enumerate(small):
            mpl_figure(g, os.path.join(tmp, f"m{i}.png"), (1200, 900))

    a_med, _ = median_time(loop_actmap, 3)
    m_med, _ = median_time(loop_mpl, 3)
    rows.append(("100 grids 32 x 48, 1200x900, in a loop",
                 f"{a_med:.2f} s ({100 / a_med:.0f} fig/s)", f"{m_med:.2f} s ({100 / m_med:.0f} fig/s)",
                 f"{m_med / a_med:.1f}x"))

    print("| case | actmap.render + save | matplotlib imshow + savefig | speed-up |")
    print("|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")

    import torch

    t = torch.randn(4096)
    n = np.random.default_rng(1).standard_normal(4096).astype(np.float32)
    out = []
    for label, value in (("torch.float32 tensor (CPU)", t), ("numpy float32 array", n),
                         ("torch.bfloat16 tensor", t.bfloat16()), ("torch tensor, requires_grad", t.clone().requires_grad_())):
        run = actmap.Run(os.path.join(tmp, f"run_{len(out)}"), queue_mb=1024)
        per = []
        for step in range(20000):
            t0 = time.perf_counter_ns()
            run.log("h", value, step=step)
            per.append(time.perf_counter_ns() - t0)
        run.close()
        per.sort()
        out.append((label, per[len(per) // 2] / 1e3, per[int(len(per) * 0.99)] / 1e3))
    # Sustained: as fast as possible, default queue, until all of it is on disk.
    run = actmap.Run(os.path.join(tmp, "run_sustained"))
    total = 200_000
    t0 = time.perf_counter()
    for step in range(total):
        run.log("h", t, step=step)
    run.close()
    secs = time.perf_counter() - t0
    print()
    print("| Run.log of 4096 floats | median per call | 99th percentile |")
    print("|---|---|---|")
    for label, med, p99 in out:
        print(f"| {label} | {med:.1f} us | {p99:.1f} us |")
    print()
    print(f"sustained: {total} rows of 4096 floats in {secs:.2f} s = {total / secs:,.0f} rows/s "
          f"({total * 4096 * 4 / secs / 1e6:,.0f} MB/s) until closed (on disk, visible)")


if __name__ == "__main__":
    main()
