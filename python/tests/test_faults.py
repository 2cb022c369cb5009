"""actmap.Run on real faulty file systems: a full disk (a small tmpfs
mounted here), a read-only mount, a missing parent, a path that is a file.
Mounting needs root (as in CI); elsewhere these tests are skipped with the
reason."""

import errno
import json
import os
import subprocess
import time

import numpy as np
import pytest
import zarr

import actmap
from conftest import run_cli


def mount_tmpfs(path, size):
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root; this test did not run")
    path.mkdir(parents=True, exist_ok=True)
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True, text=True)
    if p.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs ({p.stderr.strip()}); this test did not run")
    return path


def remount(path, options):
    subprocess.run(["mount", "-o", f"remount,{options}", str(path)], check=True)


@pytest.fixture
def tmpfs(tmp_path):
    mounted = []

    def make(size, name="fs"):
        mounted.append(mount_tmpfs(tmp_path / name, size))
        return mounted[-1]

    yield make
    for m in mounted:
        subprocess.run(["umount", "-l", str(m)])


COLS = 1024  # 4 KiB a row, 4 MiB a chunk


def row(step):
    return np.full(COLS, step, np.float32)


def read_back(run_dir, tmp_path):
    """The run's rows as actmap (`info`, `render`) and zarr-python see them:
    their count, after checking that they are 0..n in order, each row all
    its own step (a torn row or a chunk missing under the metadata fails)."""
    info = json.loads(run_cli("info", "--json", run_dir).stdout)
    (ch,) = info["channels"]
    n = ch["records"]
    assert ch["name"] == "h" and ch["steps"] == [0, n - 1], ch
    figs = tmp_path / f"figs{n}"
    run_cli("render", run_dir, "-o", figs)
    assert os.listdir(figs), "actmap render RUN wrote nothing"
    g = zarr.open_group(str(run_dir), mode="r")
    v, s = np.asarray(g["h/values"][:]), np.asarray(g["h/step"][:])
    assert v.shape == (n, COLS) and s.tolist() == list(range(n)), (v.shape, s[:4], s[-4:])
    assert not np.isnan(v).any(), "metadata points past the written chunks"
    assert (v == np.arange(n, dtype=np.float32)[:, None]).all(), "a row is torn"
    return n


def test_log_on_a_full_disk_raises_enospc_and_keeps_what_it_flushed(tmpfs, tmp_path):
    fs = tmpfs("10m")
    run_dir = fs / "run"
    run = actmap.Run(run_dir, flush_every=0.1)
    started = time.monotonic()
    step = 0
    flushed = -1
    with pytest.raises(OSError) as raised:
        while True:
            run.log("h", row(step), step=step)
            step += 1
            if step % 64 == 0:
                run.flush()  # visible now: these must survive
                flushed = step
            assert time.monotonic() - started < 60, "no error within 60 s of a full disk (a hang or a silent drop)"
    took = time.monotonic() - started
    e = raised.value
    assert isinstance(e, actmap.FileError) and e.errno == errno.ENOSPC, repr(e)
    assert e.filename and e.filename.startswith(str(run_dir)), e.filename
    assert "No space left on device" in str(e) and f"writing the run log {run_dir} stopped" in str(e), str(e)
    assert took < 60
    assert flushed > 0
    # Every later call raises the same error; close too, and releases the run.
    with pytest.raises(actmap.FileError) as again:
        run.log("h", row(step), step=step)
    assert again.value.errno == errno.ENOSPC
    with pytest.raises(actmap.FileError) as again:
        run.flush()
    assert again.value.errno == errno.ENOSPC
    with pytest.raises(actmap.FileError) as again:
        run.close()
    assert again.value.errno == errno.ENOSPC

    # What was flushed is there, whole, for actmap and zarr-python.
    n = read_back(run_dir, tmp_path)
    assert n >= flushed, (n, flushed)
    assert not any(".actmap-tmp." in f for _, _, fs_ in os.walk(run_dir) for f in fs_)

    # Space back: a new Run on the same path appends after the kept rows.
    remount(fs, "size=64m")
    with actmap.Run(run_dir) as run:
        for k in range(n, n + 10):
            run.log("h", row(k), step=k)
    assert read_back(run_dir, tmp_path) == n + 10


def test_run_refuses_a_target_it_cannot_write_and_creates_nothing(tmpfs, tmp_path):
    ro = tmpfs("1m", "ro")
    (ro / "empty").mkdir()
    remount(ro, "ro")
    # Root may write anywhere but to a read-only mount: that stands for
    # "no permission" here too (as another user the venv is out of reach).
    for target in [ro / "new", ro / "empty"]:
        with pytest.raises(actmap.FileError) as e:
            actmap.Run(target)
        assert e.value.errno == errno.EROFS, repr(e.value)
        assert str(target) in str(e.value) and "Read-only file system" in str(e.value)
    assert sorted(os.listdir(ro)) == ["empty"] and os.listdir(ro / "empty") == []

    with pytest.raises(FileNotFoundError) as e:
        actmap.Run(tmp_path / "missing" / "run")
    assert isinstance(e.value, actmap.FileError) and e.value.errno == errno.ENOENT
    assert e.value.filename == str(tmp_path / "missing" / "run")
    assert "parent directory" in str(e.value) and "does not exist" in str(e.value), str(e.value)
    assert not (tmp_path / "missing").exists()

    (tmp_path / "file").write_text("not a run")
    with pytest.raises(actmap.FormatError, match="exists and is not a directory") as e:
        actmap.Run(tmp_path / "file")
    assert str(tmp_path / "file") in str(e.value)
    assert (tmp_path / "file").read_text() == "not a run"
