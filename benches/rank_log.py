"""What rank-aware logging costs per ``Run.log`` call (issue: within 10% of a
single-process run's). One process, numpy float32 rows of 4096 values, a
queue large enough that no call waits for the disk; rounds alternate
between the cases so the machine's noise falls on all of them alike.

  cases: a single-process run (world of one, the plain layout); rank 0 of
  a 2-rank run (RUN/rank0/); a rank that ranks= leaves out (log returns at
  once); and the native call alone (no Python wrapper), the floor.

  python benches/rank_log.py [calls per round] [rounds]

Prints a Markdown table of median ns per call (the median of the rounds'
medians) and the ratio to the single-process run."""

import os
import statistics
import sys
import tempfile
import time

import numpy as np

import actmap

CALLS = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 5


def per_call(log, value):
    per = []
    for step in range(CALLS):
        t0 = time.perf_counter_ns()
        log("h", value, step=step)
        per.append(time.perf_counter_ns() - t0)
    return statistics.median(per)


def main():
    value = np.random.default_rng(0).standard_normal(4096).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        cases = {}

        def plain(i):
            return actmap.Run(os.path.join(tmp, f"plain{i}"), queue_mb=2048, rank=0, world_size=1)

        def ranked(i):
            return actmap.Run(os.path.join(tmp, f"ranked{i}"), queue_mb=2048, rank=0, world_size=2)

        def skipped(i):
            return actmap.Run(os.path.join(tmp, f"skipped{i}"), rank=1, world_size=2, ranks=0)

        for i in range(ROUNDS):
            for label, make, native in (
                ("single-process run (`Run(path)`, world of one)", plain, False),
                ("rank 0 of 2 (`RUN/rank0/`)", ranked, False),
                ("a rank `ranks=0` leaves out (rank 1 of 2)", skipped, False),
                ("the native call alone (rank 0 of 2, no Python wrapper)", ranked, True),
            ):
                run = make(f"{i}{native}")
                log = run._native.log if native else run.log
                if native:
                    cases.setdefault(label, []).append(
                        per_call(lambda n, v, step: log(n, v, step), value))
                else:
                    cases.setdefault(label, []).append(per_call(log, value))
                run.close()
    base = statistics.median(next(iter(cases.values())))
    print(f"{CALLS} calls x {ROUNDS} rounds, 4096 float32 values a call, {os.cpu_count()} cores")
    print()
    print("| `Run.log` of 4096 floats | median per call | vs single-process |")
    print("|---|---|---|")
    for label, meds in cases.items():
        m = statistics.median(meds)
        print(f"| {label} | {m / 1e3:.2f} µs | {m / base:.2f}x |")


if __name__ == "__main__":
    main()
