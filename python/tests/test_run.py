"""actmap.Run / actmap.record / actmap.monitor against real torch (CPU),
real zarr-python reading the run log back, and the real `actmap` CLI and
window (under Xvfb) opening it."""

import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import zarr

import actmap
from conftest import png_pixels, run_cli

torch = pytest.importorskip("torch")


def read(run_dir, channel):
    g = zarr.open_group(str(run_dir), mode="r")
    return np.asarray(g[channel]["values"][:]), np.asarray(g[channel]["step"][:])


def test_log_numpy_and_read_back_with_zarr(tmp_path):
    rows = np.random.default_rng(1).standard_normal((50, 64)).astype(np.float32)
    with actmap.Run(tmp_path / "run") as run:
        for step, r in enumerate(rows):
            run.log("layer3", r, step=step * 10)
        run.log("loss", 0.5, step=0)
    assert run.closed
    values, steps = read(tmp_path / "run", "layer3")
    assert np.array_equal(values, rows)
    assert steps.tolist() == list(range(0, 500, 10))
    assert read(tmp_path / "run", "loss")[0].tolist() == [[0.5]]


def test_log_torch_tensors_of_every_kind(tmp_path):
    base = torch.linspace(-1, 1, 32)
    forms = {
        "f32": base,
        "grad": (base * 1).requires_grad_(),
        "f16": base.half(),
        "bf16": base.bfloat16(),
        "strided": torch.stack([base, base]).T[:, 0],
        "int": torch.arange(32),
        "f64": base.double(),
    }
    with actmap.Run(tmp_path / "run") as run:
        for name, t in forms.items():
            run.log(name, t, step=torch.tensor(3))
    for name, t in forms.items():
        values, steps = read(tmp_path / "run", name)
        want = t.detach().float().numpy()
        assert np.allclose(values[0], want, atol=1e-2), name
        assert steps.tolist() == [3]


def test_default_steps_count_on(tmp_path):
    with actmap.Run(tmp_path / "run") as run:
        for _ in range(3):
            run.log("a", np.ones(4))
    assert read(tmp_path / "run", "a")[1].tolist() == [0, 1, 2]


def test_exception_in_with_block_still_flushes(tmp_path):
    with pytest.raises(RuntimeError):
        with actmap.Run(tmp_path / "run") as run:
            for step in range(20):
                run.log("h", np.full(8, step, np.float32), step=step)
            raise RuntimeError("training crashed")
    assert read(tmp_path / "run", "h")[1].tolist() == list(range(20))


def test_interpreter_exit_flushes(tmp_path):
    script = textwrap.dedent(f"""
        import numpy as np, actmap
        run = actmap.Run({str(tmp_path / 'run')!r}, flush_every=3600)
        for step in range(100):
            run.log("h", np.full(16, step, np.float32), step=step)
        # no close: the interpreter's exit must write it all
    """)
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    values, steps = read(tmp_path / "run", "h")
    assert steps.tolist() == list(range(100)) and values[99, 0] == 99


def test_bounded_queue_waits_and_drops_nothing(tmp_path):
    # A 1 MiB queue and 4 MiB of rows: log must wait for the writer.
    run = actmap.Run(tmp_path / "run", queue_mb=1)
    row = np.zeros(4096, np.float32)
    most = 0
    for step in range(256):
        row[0] = step
        run.log("big", row, step=step)
        most = max(most, run._native.queued)
    run.close()
    assert most <= (1 << 20) // (4096 * 4) + 1, f"{most} records queued for a 1 MiB queue"
    values, steps = read(tmp_path / "run", "big")
    assert steps.tolist() == list(range(256)) and values[:, 0].tolist() == list(range(256))


def test_bad_records_raise(tmp_path):
    with actmap.Run(tmp_path / "run") as run:
        run.log("a", np.zeros(4))
        with pytest.raises(actmap.InvalidArgumentError, match=r"records have shape \[4\], this one \[5\]"):
            run.log("a", np.zeros(5))
        with pytest.raises(actmap.InvalidArgumentError, match="a row .1-D. or a 2-D array"):
            run.log("b", np.zeros((2, 2, 2)))
        with pytest.raises(actmap.InvalidArgumentError, match="channel name"):
            run.log("a//b", np.zeros(4))
        with pytest.raises(actmap.ArgumentTypeError, match="strings are not numbers"):
            run.log("c", np.array(["x"]))
    with pytest.raises(ValueError, match="closed"):
        run.log("a", np.zeros(4))
    run.close()  # twice is fine
    (tmp_path / "file").write_text("x")
    with pytest.raises(actmap.FormatError, match="not a directory"):
        actmap.Run(tmp_path / "file")


def test_a_second_writer_is_refused(tmp_path):
    with actmap.Run(tmp_path / "run"):
        with pytest.raises(actmap.Error):
            actmap.Run(tmp_path / "run")


class Block(torch.nn.Module):
    def __init__(self, d):
        super().__init__()
        self.mlp = torch.nn.Sequential(torch.nn.Linear(d, d), torch.nn.GELU())
        self.attn = torch.nn.MultiheadAttention(d, 2, batch_first=True)

    def forward(self, x):
        a, _ = self.attn(x, x, x)
        return x + self.mlp(a)


class Model(torch.nn.Module):
    def __init__(self, d=16, n=3):
        super().__init__()
        self.blocks = torch.nn.ModuleList([Block(d) for _ in range(n)])
        self.head = torch.nn.Linear(d, 4)

    def forward(self, x):
        for b in self.blocks:
            x = b(x)
        return self.head(x)


def test_record_hooks_log_every_n_steps_and_are_removed(tmp_path):
    torch.manual_seed(0)
    model = Model()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    with actmap.record(model, tmp_path / "run", modules=["blocks.*.mlp", "blocks.1.attn"], every=10) as rec:
        for _ in range(25):
            loss = model(torch.randn(8, 5, 16)).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    assert rec.modules == ["blocks.0.mlp", "blocks.1.mlp", "blocks.1.attn", "blocks.2.mlp"]
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())
    g = zarr.open_group(str(tmp_path / "run"), mode="r")
    for name in rec.modules:
        assert np.asarray(g[name]["step"][:]).tolist() == [0, 10, 20], name
        assert g[name]["values"].shape == (3, 16)
    # The recorded mean equals the module output's mean at step 20.
    x = torch.randn(8, 5, 16)
    with actmap.record(model, tmp_path / "run2", modules="blocks.0.mlp", reduce="none"):
        model(x)
    with torch.no_grad():
        want = model.blocks[0].mlp(model.blocks[0].attn(x, x, x)[0])[0].numpy()
    got = zarr.open_group(str(tmp_path / "run2"), mode="r")["blocks.0.mlp"]["values"][0]
    assert got.shape == (5, 16) and np.allclose(got, want, atol=1e-5)


def test_record_removes_hooks_on_exception(tmp_path):
    model = Model()
    with pytest.raises(ZeroDivisionError):
        with actmap.record(model, tmp_path / "run", modules=["blocks.0.*"]):
            model(torch.randn(2, 3, 16))
            1 / 0
    assert all(not m._forward_hooks for m in model.modules())
    with pytest.raises(actmap.InvalidArgumentError, match="no module matches"):
        with actmap.record(model, tmp_path / "run3", modules=["decoder.*"]):
            pass


def test_cli_reads_a_log_a_torch_loop_wrote(tmp_path):
    model = Model()
    with actmap.Run(tmp_path / "run") as run:
        with actmap.record(model, run, modules=["blocks.*.mlp"]):
            for _ in range(40):
                model(torch.randn(4, 5, 16))
        for step in range(40):
            run.log("loss", torch.tensor([1.0 / (step + 1)]), step=step)
    info = run_cli("info", tmp_path / "run").stdout
    assert "blocks.2.mlp" in info and "loss" in info
    run_cli("render", tmp_path / "run", "-o", tmp_path / "figs")
    pngs = sorted(os.listdir(tmp_path / "figs"))
    assert pngs, "actmap render RUN wrote nothing"
    assert png_pixels(tmp_path / "figs" / pngs[0]).shape[2] == 4


@pytest.fixture
def xvfb():
    if not os.path.exists("/usr/bin/Xvfb"):
        pytest.fail("Xvfb is not installed (bash .ci/setup.sh --window)")
    r, w = os.pipe()
    p = subprocess.Popen(["Xvfb", "-displayfd", str(w), "-screen", "0", "1280x800x24", "-nolisten", "tcp", "-noreset"],
                         pass_fds=(w,), stderr=subprocess.DEVNULL)
    os.close(w)
    display = b""
    while not display.endswith(b"\n"):  # Xvfb writes the number and a newline once it is ready
        chunk = os.read(r, 16)
        assert chunk, "Xvfb exited"
        display += chunk
    os.close(r)
    display = display.decode().strip()
    yield f":{display}"
    p.terminate()
    p.wait()


def test_monitor_opens_the_window_in_a_child_process(tmp_path, xvfb, monkeypatch):
    monkeypatch.setenv("DISPLAY", xvfb)
    with actmap.Run(tmp_path / "run") as run:
        for step in range(30):
            run.log("layer3", torch.randn(64), step=step)
        run.flush()
        log = open(tmp_path / "watch.log", "w")
        m = actmap.monitor(run, inline=False, size=(640, 400), verbose=True, stderr=log)
        try:
            assert isinstance(m, actmap.WindowMonitor)
            deadline = time.time() + 60
            while time.time() < deadline and "layer3=30" not in (tmp_path / "watch.log").read_text():
                assert m.alive, "actmap watch exited:\n" + (tmp_path / "watch.log").read_text()
                time.sleep(0.2)
            assert m.alive
        finally:
            m.close()
            log.close()
    assert not m.alive
    assert "layer3=30" in (tmp_path / "watch.log").read_text(), (tmp_path / "watch.log").read_text()
    monkeypatch.delenv("DISPLAY")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(actmap.Error, match="no display"):
        actmap.monitor(tmp_path / "run", inline=False)


def test_record_blocks_is_one_row_per_block(tmp_path):
    # `modules="blocks"`: the children of the longest list of repeated
    # blocks, not every submodule as a "layers.*" glob takes.
    torch.manual_seed(0)
    model = torch.nn.TransformerEncoder(
        torch.nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, batch_first=True), 3,
        enable_nested_tensor=False)
    model.eval()
    x = torch.randn(2, 5, 16)
    with actmap.record(model, tmp_path / "run", modules="blocks") as rec:
        model(x)
        model(x)
    assert rec.modules == ["layers.0", "layers.1", "layers.2"]
    with actmap.record(model, tmp_path / "glob", modules="layers.*") as glob:
        model(x)
    assert len(glob.modules) > 20 and "layers.0.dropout1" in glob.modules
    g = zarr.open_group(str(tmp_path / "run"), mode="r")
    with torch.no_grad():
        h = x
        for i, layer in enumerate(model.layers):
            h = layer(h)
            got = np.asarray(g[f"layers.{i}"]["values"][:])
            assert got.shape == (2, 16)
            assert np.allclose(got[1], h.mean(dim=(0, 1)).numpy(), atol=1e-5)
        assert np.asarray(g["layers.2"]["step"][:]).tolist() == [0, 1]
    # A model that is itself a Sequential of blocks, and one with none.
    seq = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Linear(4, 4))
    with actmap.record(seq, tmp_path / "seq", modules="blocks") as rec:
        seq(torch.randn(3, 4))
    assert rec.modules == ["0", "1"]
    with pytest.raises(actmap.InvalidArgumentError, match="no list of repeated blocks"):
        with actmap.record(torch.nn.Linear(2, 2), tmp_path / "none", modules="blocks"):
            pass
    with pytest.raises(actmap.InvalidArgumentError, match="lag must be 1 or more"):
        actmap.record(seq, tmp_path / "lag", lag=0)
