"""What `actmap.record` costs a training loop (issue 19's case): a 4-layer
transformer encoder (d=256, 4 heads, batch 16 x 64 tokens, SGD) trained
with no logging against the same loop under `actmap.record(model, run,
modules=PATTERN)`, in alternating blocks of steps so the machine's noise
falls on both alike. Prints a Markdown table of median ms/step and the
overhead.

    python benches/hooks.py                 # CPU (the case of the issue)
    python benches/hooks.py --device cuda   # a GPU, when torch has one

On CUDA it also checks that the records the asynchronous hooks wrote (a
pinned copy behind a CUDA event, handed over a step later) equal the
block outputs computed directly. HOOKS_REPS (6) blocks of HOOKS_STEPS
(10) steps per case; HOOKS_THREADS (torch's CPU threads, default all).
"""

import argparse
import os
import shutil
import statistics
import tempfile
import time

import numpy as np
import torch

import actmap

REPS = int(os.environ.get("HOOKS_REPS", "6"))
STEPS = int(os.environ.get("HOOKS_STEPS", "10"))


def make_model(device, dropout=0.1):
    torch.manual_seed(0)
    layer = torch.nn.TransformerEncoderLayer(256, 4, 1024, dropout=dropout, batch_first=True)
    return torch.nn.TransformerEncoder(layer, 4, enable_nested_tensor=False).to(device)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    dev = torch.device(args.device)
    if "HOOKS_THREADS" in os.environ:
        torch.set_num_threads(int(os.environ["HOOKS_THREADS"]))
    model = make_model(dev)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    x = torch.randn(16, 64, 256, device=dev)

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    def block(n):
        out = []
        for _ in range(n):
            sync()
            t0 = time.perf_counter()
            opt.zero_grad()
            model(x).square().mean().backward()
            opt.step()
            sync()  # the step is done on the device, whatever the hooks left queued
            out.append(time.perf_counter() - t0)
        return out

    block(5)  # warm
    tmp = tempfile.mkdtemp(prefix="actmap-hooks-")
    cases = ["layers.*", "blocks"]
    times = {"none": []}
    nmods = {}
    for c in cases:
        times[c] = []
    try:
        for rep in range(REPS):
            times["none"] += block(STEPS)
            for c in cases:
                path = os.path.join(tmp, f"{c.replace('*', 'x')}-{rep}")
                with actmap.record(model, path, modules=c) as rec:
                    block(2)  # channels created, buffers allocated
                    times[c] += block(STEPS)
                nmods[c] = len(rec.modules)
                shutil.rmtree(path)
        if dev.type == "cuda":
            check(tmp, dev)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    base = statistics.median(times["none"])
    threads = torch.get_num_threads()
    print(f"`python benches/hooks.py --device {args.device}`: {os.cpu_count()} CPU cores, "
          f"torch {torch.__version__} ({threads} threads), {REPS}x{STEPS} steps per case, alternating")
    print()
    print("| logging | modules hooked | ms/step (median) | overhead |")
    print("|---|---|---|---|")
    print(f"| none | 0 | {base * 1e3:.1f} | - |")
    for c in cases:
        m = statistics.median(times[c])
        print(f"| `record(modules=\"{c}\")` | {nmods[c]} | {m * 1e3:.1f} | {100 * (m / base - 1):+.1f}% |")


def check(tmp, dev):
    """The asynchronous device path writes exactly what the blocks output."""
    import zarr

    model = make_model(dev, dropout=0.0).eval()
    xs = [torch.randn(4, 8, 256, device=dev) for _ in range(7)]
    path = os.path.join(tmp, "check")
    with actmap.record(model, path, modules="blocks", lag=2):
        for x in xs:
            model(x)
    g = zarr.open_group(path, mode="r")
    with torch.no_grad():
        for step, x in enumerate(xs):
            h = x
            for i, layer in enumerate(model.layers):
                h = layer(h)
                got = np.asarray(g[f"layers.{i}"]["values"][step])
                want = h.float().mean(dim=(0, 1)).cpu().numpy()
                assert np.allclose(got, want, atol=1e-4), (step, i, float(np.abs(got - want).max()))
    print("CUDA check: the asynchronous hooks' records equal the block outputs (7 steps x 4 blocks)")


if __name__ == "__main__":
    main()
