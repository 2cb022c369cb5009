"""Many runs from Python: ``actmap.runs`` lists a directory of runs (each
written by ``actmap.Run``, one of them resumed, one distributed), and
``actmap.compare`` draws them side by side or as a difference: the same
pixels as ``actmap render RUN RUN [--diff]``."""

import numpy as np
import pytest

import actmap
from conftest import png_pixels, run_cli


def write_runs(root):
    root.mkdir()
    (root / "notes.txt").write_text("not a run")
    with actmap.Run(root / "base", rank=0, world_size=1) as run:
        for s in [0, 10, 20, 30, 40]:
            run.log("acts", np.zeros(2, np.float32), step=s)
        run.log("attn", np.ones((2, 2), np.float32), step=40)
    # A run resumed from step 20: its second writes of 20 and 30 are drawn.
    with actmap.Run(root / "tuned", rank=0, world_size=1) as run:
        for s, v in [(0, [0, 0]), (5, [99, 99]), (10, [-4, 4]), (20, [7, 7]), (30, [7, 7])]:
            run.log("acts", np.array(v, np.float32), step=s)
    with actmap.Run(root / "tuned", rank=0, world_size=1) as run:
        for s, v in [(20, [4, 0]), (30, [0, -4]), (45, [50, 50])]:
            run.log("acts", np.array(v, np.float32), step=s)
    for rank in (0, 1):
        with actmap.Run(root / "ddp", rank=rank, world_size=2) as run:
            run.log("acts", np.full(2, rank, np.float32), step=0)


def test_runs_lists_the_collection(tmp_path):
    write_runs(tmp_path / "runs")
    runs = actmap.runs(tmp_path / "runs")
    assert runs.names == ["base", "ddp", "tuned"]
    base = runs["base"]
    assert set(base.channels) == {"acts", "attn"}
    acts = base.channels["acts"]
    assert (acts.shape, acts.records, acts.steps, acts.first_step, acts.last_step) == ((2,), 5, 5, 0, 40)
    assert base.channels["attn"].shape == (2, 2)
    assert base.ranks is None and base.steps == (0, 40)
    # The resumed run: 8 records, 6 distinct steps.
    t = runs["tuned"].channels["acts"]
    assert (t.records, t.steps, t.last_step) == (8, 6, 45)
    assert runs["ddp"].ranks == [0, 1]
    assert runs["ddp"].by_rank[1]["acts"].records == 1
    assert "tuned: 1 channels, steps 0 .. 45" in repr(runs)
    assert actmap.runs(tmp_path / "runs", pattern="t*,b*").names == ["base", "tuned"]
    with pytest.raises(actmap.InvalidArgumentError, match="no run matches zz"):
        actmap.runs(tmp_path / "runs", pattern="zz")
    with pytest.raises(actmap.InvalidArgumentError, match="a run log, not a directory of runs"):
        actmap.runs(tmp_path / "runs" / "base")
    with pytest.raises(KeyError, match="no run 'nope'"):
        runs["nope"]


def test_compare_diff_is_the_cli_diff(tmp_path):
    write_runs(tmp_path / "runs")
    root = tmp_path / "runs"
    look = dict(bare=True, size="40x40")
    with pytest.warns(UserWarning) as caught:
        fig = actmap.compare(root / "base", root / "tuned", key="acts", diff=True, **look)
    said = " | ".join(str(w.message) for w in caught)
    assert "1 step only in run 'base' left out: 40" in said
    assert "2 steps only in run 'tuned' left out: 5, 45" in said
    # Limits symmetric about 0: +-4, the largest |tuned - base|.
    assert fig.ranges == [(-4.0, 4.0)]
    run_cli("render", root / "base", root / "tuned", "--diff", "--key", "acts",
            "--bare", "--size", "40x40", "-o", tmp_path / "cli.png")
    assert np.array_equal(fig.to_numpy(), png_pixels(tmp_path / "cli.png"))
    # Row 0 (step 0) is no change: the diverging map's white middle.
    px = fig.to_numpy()
    assert (px[5, 10, :3] > 240).all(), px[5, 10]
    # Step 10, column 1 is +4 (red), column 0 -4 (blue).
    assert px[15, 30, 0] > 90 and px[15, 30, 2] < 60, px[15, 30]
    assert px[15, 10, 2] > 90 and px[15, 10, 0] < 60, px[15, 10]


def test_compare_side_by_side_shares_one_scale(tmp_path):
    write_runs(tmp_path / "runs")
    runs = actmap.runs(tmp_path / "runs", pattern="base,tuned")
    fig = runs.compare(key="acts", size="600x300")
    assert fig.width == 600 and len(fig.ranges) == 2
    assert fig.ranges[0] == fig.ranges[1] == (-4.0, 99.0)
    # A collection path and its runs named give the same figure as the CLI.
    same = actmap.compare(runs["base"], runs["tuned"], key="acts", size="600x300")
    assert np.array_equal(fig.to_numpy(), same.to_numpy())
    run_cli("render", tmp_path / "runs", "--runs", "base,tuned", "--key", "acts",
            "--size", "600x300", "-o", tmp_path / "cli.png")
    assert np.array_equal(fig.to_numpy(), png_pixels(tmp_path / "cli.png"))
    # A distributed run: rank= picks the rank.
    r1 = actmap.compare(tmp_path / "runs" / "ddp", key="acts", rank=1, bare=True, size="20x10")
    assert r1.ranges == [(1.0, 1.0)]


def test_compare_refusals(tmp_path):
    write_runs(tmp_path / "runs")
    root = tmp_path / "runs"
    with pytest.raises(actmap.InvalidArgumentError, match="key= picks one channel to draw; the runs hold 'acts', 'attn'"):
        actmap.compare(root / "base", root / "tuned")
    with pytest.raises(actmap.InvalidArgumentError, match="draws b − a of two runs; 3 given"):
        actmap.compare(root, key="acts", diff=True)
    with pytest.raises(actmap.InvalidArgumentError, match="no channel to draw that both runs have matches key=attn"):
        actmap.compare(root / "base", root / "tuned", key="attn", diff=True)
    with pytest.raises(TypeError, match="compare\\(\\) got an unexpected keyword argument 'cmapp'"):
        actmap.compare(root / "base", key="acts", cmapp="magma")
    with pytest.raises(TypeError, match="not int"):
        actmap.compare(3, key="acts")
