"""Where `actmap.record`'s cost goes, in one process (companion of
benches/hooks.py, same model and step): the same training step with no
hooks, 40 no-op forward hooks (the hook machinery alone), 40 hooks that
only reduce (the mean over all axes but the last), `record(modules=
"layers.*")`, `record(modules="blocks")`, and 40 `Run.log` calls of 256
floats a step straight from the loop (the writer alone). Rounds alternate
the cases; medians of ms/step and the change against no hooks.

    python benches/hooks_parts.py        # PARTS_REPS rounds (6) of 10 steps
"""

import os
import statistics
import sys
import tempfile
import time

import numpy as np
import torch

import actmap

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hooks import make_model  # noqa: E402

REPS = int(os.environ.get("PARTS_REPS", "6"))
STEPS = 10


def main():
    model = make_model("cpu")
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    x = torch.randn(16, 64, 256)

    def step():
        opt.zero_grad()
        model(x).square().mean().backward()
        opt.step()

    def block(n, after=None):
        out = []
        for s in range(n):
            t0 = time.perf_counter()
            step()
            if after:
                after(s)
            out.append(time.perf_counter() - t0)
        return out

    def mean_hook(m, a, o):
        t = o[0] if isinstance(o, tuple) else o
        if torch.is_tensor(t):
            t.detach().float().mean(dim=tuple(range(t.ndim - 1)))

    block(5)
    mods = [m for n, m in model.named_modules() if n.startswith("layers.")]
    cases = ["none", "40 no-op hooks", "40 hooks that reduce", 'record(modules="layers.*")',
             'record(modules="blocks")', "40 Run.log calls a step, no hooks"]
    times = {c: [] for c in cases}
    row = np.zeros(256, np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(REPS):
            times[cases[0]] += block(STEPS)
            for case, hook in ((cases[1], lambda m, a, o: None), (cases[2], mean_hook)):
                hs = [m.register_forward_hook(hook) for m in mods]
                block(1)
                times[case] += block(STEPS)
                for h in hs:
                    h.remove()
            for case, pattern in ((cases[3], "layers.*"), (cases[4], "blocks")):
                with actmap.record(model, os.path.join(tmp, f"{pattern}{rep}"), modules=pattern):
                    block(2)
                    times[case] += block(STEPS)
            run = actmap.Run(os.path.join(tmp, f"direct{rep}"))
            log = lambda s: [run.log(f"m{i}", row, step=s) for i in range(40)]  # noqa: E731
            block(1, log)
            times[cases[5]] += block(STEPS, log)
            run.close()
    base = statistics.median(times["none"])
    print(f"`python benches/hooks_parts.py`: {os.cpu_count()} cores, torch {torch.__version__} "
          f"({torch.get_num_threads()} threads), {REPS}x{STEPS} steps per case, alternating")
    print()
    print("| case | ms/step (median) | change |")
    print("|---|---|---|")
    for c in cases:
        m = statistics.median(times[c])
        print(f"| {c} | {m * 1e3:.1f} | {'-' if c == 'none' else f'{100 * (m / base - 1):+.1f}%'} |")


if __name__ == "__main__":
    main()
