"""Distributed training: a real 2-rank torch.distributed job (gloo, CPU,
torch.multiprocessing.spawn) where every rank records into one run, a
Slurm-style job (SLURM_PROCID/SLURM_NTASKS, no torch.distributed), and
the refusals. Each job runs in a subprocess with a timeout, so a rank
that hangs fails the test instead of hanging the suite."""

import json
import os
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import zarr

import actmap
from conftest import png_pixels, run_cli

torch = pytest.importorskip("torch")

DDP_JOB = textwrap.dedent('''
    import os, sys
    import torch, torch.distributed as dist, torch.multiprocessing as mp
    import actmap

    def main(rank, world, path, port):
        os.environ["MASTER_ADDR"] = "127.0.0.1"
        os.environ["MASTER_PORT"] = str(port)
        dist.init_process_group("gloo", rank=rank, world_size=world)
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.Linear(8, 8))
        ddp = torch.nn.parallel.DistributedDataParallel(model)
        opt = torch.optim.SGD(ddp.parameters(), lr=0.1)
        with actmap.Run(path) as run:  # rank and world size from torch.distributed
            assert (run.rank, run.world_size) == (rank, world), (run.rank, run.world_size)
            with actmap.record(model, run, modules="blocks"):
                for step in range(6):
                    x = torch.full((4, 8), float(rank + 1))
                    loss = ddp(x).square().mean()
                    opt.zero_grad()
                    loss.backward()          # the all-reduce every rank must reach
                    opt.step()
                    run.log("tag", [rank * 100.0 + step, step], step=step * 10)
                    # Tensor parallel: each rank holds half of an 8-wide row.
                    row = torch.arange(8.0) + 10 * step
                    half = row[rank * 4:(rank + 1) * 4]
                    run.log("tp.out", half, step=step * 10, columns=slice(rank * 4, rank * 4 + 4))
                if rank == 1:
                    run.log("tp.out", torch.zeros(4), step=60, columns=(4, 8))
        dist.barrier()
        dist.destroy_process_group()

    if __name__ == "__main__":
        path, port = sys.argv[1], int(sys.argv[2])
        mp.spawn(main, args=(2, path, port), nprocs=2, join=True)
''')


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def python(script, *args, env=None, timeout=180, where=None):
    # A script file, not -c: spawned ranks re-import __main__ from it.
    path = os.path.join(where, "job.py")
    with open(path, "w") as f:
        f.write(script)
    e = dict(os.environ)
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "SLURM_PROCID", "SLURM_NTASKS"):
        e.pop(k, None)
    e.update(env or {})
    return subprocess.run([sys.executable, path, *map(str, args)], env=e,
                          capture_output=True, text=True, timeout=timeout)


def test_two_rank_ddp_job_records_every_rank(tmp_path):
    (tmp_path / "runs").mkdir()
    run = tmp_path / "runs" / "ddp"
    p = python(DDP_JOB, run, free_port(), where=tmp_path)
    assert p.returncode == 0, p.stderr
    root = zarr.open_group(str(run), mode="r")
    assert root.attrs["actmap"]["ranks"] is True
    for rank in (0, 1):
        g = root[f"rank{rank}"]
        tag = np.asarray(g["tag"]["values"][:])
        assert tag.tolist() == [[rank * 100.0 + s, s] for s in range(6)]
        assert np.asarray(g["tag"]["step"][:]).tolist() == [0, 10, 20, 30, 40, 50]
        # The hooks' records: one row per block per step, this rank's input.
        for block in ("0", "1"):
            assert g[block]["values"].shape == (6, 8)
            assert np.asarray(g[block]["step"][:]).tolist() == list(range(6))
    # Ranks saw different inputs, so their first block's outputs differ.
    a = np.asarray(root["rank0"]["0"]["values"][0])
    b = np.asarray(root["rank1"]["0"]["values"][0])
    assert not np.allclose(a, b)
    # The sharded channel: each rank's slice, marked with its columns...
    assert root["rank1"]["tp.out"]["values"].attrs["columns"] == [4, 8]
    assert np.asarray(root["rank1"]["tp.out"]["values"][0]).tolist() == [4.0, 5.0, 6.0, 7.0]
    # ... drawn as one row: the picture of the whole 8-wide rows, over the
    # steps both ranks logged (rank 1's step 60 named and left out).
    p = run_cli("render", run, "--key", "tp.out", "--bare", "--size", "80x60", "-o", tmp_path / "tp.png")
    assert "1 step only rank 1 logged left out" in p.stderr, p.stderr
    whole = np.array([np.arange(8.0) + 10 * s for s in range(6)], np.float32)
    want = actmap.render(whole, bare=True, size="80x60").to_numpy()
    assert np.array_equal(png_pixels(tmp_path / "tp.png"), want)
    # One rank alone: its slice, at its columns.
    run_cli("render", run, "--rank", "1", "--key", "tp.out", "-o", tmp_path / "tp1.png")
    # The CLI lists the ranks and opens rank 0 by default.
    info = run_cli("info", run).stdout
    assert "ranks: 0, 1" in info, info
    assert "rank 1: " in info and "tag" in info
    assert "[4] (columns 4..8)" in info, info
    js = json.loads(run_cli("info", run, "--json").stdout)
    assert [r["rank"] for r in js["ranks"]] == [0, 1]
    assert {c["name"] for c in js["ranks"][1]["run"]["channels"]} >= {"tag", "0", "1"}
    tp = [c for c in js["ranks"][1]["run"]["channels"] if c["name"] == "tp.out"][0]
    assert tp["columns"] == [4, 8]


SLURM_TASK = textwrap.dedent('''
    import sys, time, actmap
    with actmap.Run(sys.argv[1]) as run:
        for step in range(20):
            run.log("x", [float(run.rank), float(step)], step=step)
            time.sleep(0.005)
    print(run.rank, run.world_size)
''')


def test_slurm_tasks_share_a_run_without_torch_distributed(tmp_path):
    run = tmp_path / "slurm"
    procs = [subprocess.Popen([sys.executable, "-c", SLURM_TASK, str(run)],
                              env={**os.environ, "SLURM_PROCID": str(r), "SLURM_NTASKS": "2"},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for r in (0, 1)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [e for _, e in outs]
    assert [o.split() for o, _ in outs] == [["0", "2"], ["1", "2"]]
    for r in (0, 1):
        v = np.asarray(zarr.open_group(str(run / f"rank{r}"), mode="r")["x"]["values"][:])
        assert v.tolist() == [[float(r), float(s)] for s in range(20)]


def test_ranks_picks_who_logs_and_a_second_job_is_refused(tmp_path):
    run = tmp_path / "run"
    # ranks=0: rank 1 pays nothing and writes nothing.
    quiet = actmap.Run(run, rank=1, world_size=2, ranks=0)
    assert not quiet.logging
    quiet.log("x", np.ones(3, np.float32))
    quiet.close()
    assert not run.exists()
    with actmap.Run(run, rank=0, world_size=2, ranks=[0]) as r0:
        r0.log("x", np.ones(3, np.float32), step=0)
        # A second job's rank 0 on the same run: refused, naming the writer.
        with pytest.raises(actmap.Error, match="another writer is recording"):
            actmap.Run(run, rank=0, world_size=2)
        # Its rank 1 is free to start: ranks never wait on each other.
        with actmap.Run(run, rank=1, world_size=2) as r1:
            r1.log("x", np.zeros(3, np.float32), step=0)
    assert sorted(os.listdir(run)) == ["rank0", "rank1", "zarr.json"]
    # A single-process writer on the distributed run, and the reverse.
    with pytest.raises(actmap.Error, match="a distributed run"):
        actmap.Run(run)
    with actmap.Run(tmp_path / "plain") as p:
        p.log("x", np.ones(2, np.float32))
    with pytest.raises(actmap.Error, match="not a distributed run"):
        actmap.Run(tmp_path / "plain", rank=1, world_size=2)
    with pytest.raises(actmap.InvalidArgumentError, match="rank 2 of world size 2"):
        actmap.Run(tmp_path / "bad", rank=2, world_size=2)
    # Rendering picks a rank; one that is not there is named.
    p = run_cli("render", run, "--rank", "7", "-o", tmp_path / "f.png", check=False)
    assert p.returncode != 0 and "no rank 7; the run has ranks 0, 1" in p.stderr


def test_record_sharded_modules_log_their_columns(tmp_path):
    # A column-parallel layer: each rank computes 4 of the 8 outputs.
    run = tmp_path / "tp"
    for rank in (0, 1):
        model = torch.nn.Sequential()
        model.add_module("fc", torch.nn.Linear(3, 4))
        with actmap.record(model, run, modules="fc", sharded="fc", rank=rank, world_size=2):
            for _ in range(3):
                model(torch.ones(2, 3))
    for rank in (0, 1):
        values = zarr.open_group(str(run / f"rank{rank}"), mode="r")["fc"]["values"]
        assert values.attrs["columns"] == [4 * rank, 4 * rank + 4]
        assert values.shape == (3, 4)
    with pytest.raises(actmap.InvalidArgumentError, match="its records are columns from 0, this one from 4"):
        with actmap.Run(tmp_path / "bad", rank=0, world_size=2) as r:
            r.log("x", np.ones(4, np.float32), columns=0)
            r.log("x", np.ones(4, np.float32), columns=4)
    with pytest.raises(actmap.InvalidArgumentError, match="columns 0:5 for a record of shape \\(4,\\)"):
        with actmap.Run(tmp_path / "bad2", rank=0, world_size=2) as r:
            r.log("x", np.ones(4, np.float32), columns=slice(0, 5))
