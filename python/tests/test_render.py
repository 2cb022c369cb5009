"""actmap.render / actmap.line / Figure against real numpy, the real GPU
pipeline (lavapipe without a GPU) and the real `actmap` command."""

import os
import threading

import numpy as np
import pytest

import actmap
from actmap._convert import as_float32
from conftest import png_pixels, run_cli

RNG = np.random.default_rng(7)


def test_figure_pixels_png_and_save(tmp_path):
    a = RNG.random((12, 33), dtype=np.float32)
    fig = actmap.render(a, cmap="magma", title="Layer activation", xlabel="Layer", ylabel="Steps")
    assert isinstance(fig, actmap.Figure)
    assert (fig.width, fig.height) == (1200, 900)
    img = fig.to_numpy()
    assert img.shape == (900, 1200, 4) and img.dtype == np.uint8
    assert np.array_equal(png_pixels(fig._repr_png_()), img)
    out = fig.save(tmp_path / "acts.png")
    assert os.fspath(out) == os.fspath(tmp_path / "acts.png")
    assert np.array_equal(png_pixels(tmp_path / "acts.png"), img)
    assert not [p for p in os.listdir(tmp_path) if p != "acts.png"], "temporary file left behind"
    (lo, hi), = fig.ranges
    assert lo == pytest.approx(a.min()) and hi == pytest.approx(a.max())
    assert repr(fig) == "<actmap.Figure 1200x900>"


def test_python_render_equals_cli_render(tmp_path):
    """Same data, same options: the same pixels as `actmap render`."""
    a = np.sin(np.arange(33 * 12, dtype=np.float32).reshape(33, 12) / 7) * 0.12 + 0.17
    steps = [0, 150, 300, 500] + list(range(1000, 15500, 500))
    np.save(tmp_path / "acts.npy", a)
    np.save(tmp_path / "steps.npy", np.array(steps, dtype=np.float64))
    run_cli("render", tmp_path / "acts.npy", "-o", tmp_path / "cli.png", "--cmap", "magma", "--size", "900x700",
            "--title", "Layer activation", "--xlabel", "Layer", "--ylabel", "Steps",
            "--y-coords", tmp_path / "steps.npy", "--vmin", "0.05", "--vmax", "0.3")
    fig = actmap.render(a, cmap="magma", size=(900, 700), title="Layer activation", xlabel="Layer",
                        ylabel="Steps", y_coords=np.array(steps), vmin=0.05, vmax=0.3)
    assert np.array_equal(fig.to_numpy(), png_pixels(tmp_path / "cli.png"))


def test_panels_equal_cli_grid(tmp_path):
    names = ["Inputs", "Outputs", "Write Weightings", "Read Weightings"]
    arrays = [RNG.random((20, 20)).astype(np.float32) for _ in names]
    paths = []
    for i, a in enumerate(arrays):
        paths.append(tmp_path / f"p{i}.npy")
        np.save(paths[-1], a)
    run_cli("render", *paths, "--grid", "2x2", "--colorbar", "shared", "--cmap", "coolwarm",
            "--titles", ",".join(names), "-o", tmp_path / "cli.png")
    fig = actmap.render(arrays, grid="2x2", colorbar="shared", cmap="coolwarm", titles=names)
    assert np.array_equal(fig.to_numpy(), png_pixels(tmp_path / "cli.png"))
    assert len(fig.ranges) == 4 and len(set(fig.ranges)) == 1, "a shared colorbar is one range"


def test_line_equals_cli(tmp_path):
    v = RNG.standard_normal(4096).astype(np.float32)
    v[[100, 2000]] = [28, -35]
    np.save(tmp_path / "n.npy", v)
    run_cli("render", tmp_path / "n.npy", "--kind", "line", "--mark-top", "6", "-o", tmp_path / "cli.png")
    fig = actmap.line(v, mark_top=6)
    assert np.array_equal(fig.to_numpy(), png_pixels(tmp_path / "cli.png"))
    assert fig.ranges == [None]


def test_nd_panels_equal_cli(tmp_path):
    a = RNG.random((3, 16, 16)).astype(np.float32)
    np.save(tmp_path / "acts.npy", a)
    run_cli("render", tmp_path / "acts.npy", "-o", tmp_path / "cli.png")
    fig = actmap.render(a, title="acts.npy")
    assert len(fig.ranges) == 3
    assert np.array_equal(fig.to_numpy(), png_pixels(tmp_path / "cli.png"))
    # index= picks one slice, as --index does.
    one = actmap.render(a, index=1)
    assert np.array_equal(one.to_numpy(), actmap.render(a[1]).to_numpy())
    # split= names the axis: slices along the last axis are [16, 16] maps too.
    s = actmap.render(a, split=2)
    assert len(s.ranges) == 16


def test_4d_facet_grid_and_too_many_maps():
    att = RNG.random((2, 3, 8, 8)).astype(np.float32)
    assert len(actmap.render(att).ranges) == 6
    with pytest.raises(actmap.InvalidArgumentError, match="too many for one 1200x900 figure"):
        actmap.render(np.zeros((12, 16, 4, 4), np.float32))
    assert len(actmap.render(np.zeros((12, 16, 4, 4), np.float32), index=[3, 2]).ranges) == 1


@pytest.mark.parametrize("dtype", ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
                                   "uint64", "float16", "float32", "float64"])
def test_every_numeric_dtype(dtype):
    a = (np.arange(60).reshape(6, 10) % 7 > 2) if dtype == "bool" else (np.arange(60).reshape(6, 10) % 7)
    want = actmap.render(a.astype(np.float32)).to_numpy()
    assert np.array_equal(actmap.render(a.astype(dtype)).to_numpy(), want)


def test_any_strides_and_byte_order():
    a = RNG.random((40, 60))
    for view in (a.T, a[::2, ::3], a[::-1], a[:, ::-1], np.asfortranarray(a), a.astype(">f4"), a.astype(">f8")):
        want = actmap.render(np.ascontiguousarray(view, dtype=np.float32)).to_numpy()
        assert np.array_equal(actmap.render(view).to_numpy(), want)


def test_contiguous_float32_is_not_copied():
    a = RNG.random((50, 50), dtype=np.float32)
    assert as_float32(a) is a
    assert as_float32(a.T) is not a


def test_lists_and_array_protocol():
    rows = [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    want = actmap.render(np.array(rows, np.float32)).to_numpy()
    assert np.array_equal(actmap.render(rows).to_numpy(), want)
    assert np.array_equal(actmap.render(tuple(map(tuple, rows))).to_numpy(), want)

    class Wrapped:
        def __array__(self, dtype=None, copy=None):
            return np.array(rows)

    assert np.array_equal(actmap.render(Wrapped()).to_numpy(), want)
    pd = pytest.importorskip("pandas")
    assert np.array_equal(actmap.render(pd.DataFrame(rows)).to_numpy(), want)


def test_spike_in_20000x4096_survives():
    a = np.zeros((20000, 4096), np.float32)
    a[12345, 1234] = 50.0
    a[777, 4000] = -60.0
    fig = actmap.render(a, size=(1200, 900))
    assert fig.ranges == [(-60.0, 50.0)]
    img = fig.to_numpy()[..., :3].reshape(-1, 3)
    colours = {tuple(c) for c in np.unique(img, axis=0)}
    # magma's two ends: the +50 spike and the -60 one each colour a pixel.
    assert (252, 253, 191) in colours and (0, 0, 4) in colours


def test_keywords_in_matplotlib_vocabulary():
    a = RNG.random((10, 10)).astype(np.float32)
    fig = actmap.render(a, cmap="RdBu_r", norm="centered", vcenter=0.5, robust=True, agg="max", size="600x400",
                        scale=1.5, annotate=".1f", origin="lower", aspect="auto", x_coords=range(10),
                        coords="index", cbar_label="value", nan_color="#00ff00")
    assert (fig.width, fig.height) == (600, 400)
    assert actmap.render(a, bare=True, size=(64, 32)).to_numpy().shape == (32, 64, 4)
    assert "cmap" in actmap.options() and "x_coords" in actmap.options()


def test_unknown_keyword_names_the_closest():
    a = np.zeros((2, 2), np.float32)
    with pytest.raises(TypeError, match=r"render\(\) got an unexpected keyword argument 'cmapp' \(did you mean 'cmap'\?\)"):
        actmap.render(a, cmapp="magma")
    with pytest.raises(actmap.ArgumentTypeError, match="'colormap' .*did you mean 'cmap'"):
        actmap.render(a, colormap="magma")
    with pytest.raises(actmap.Error, match="line\\(\\) got an unexpected keyword argument 'xlable'.*'xlabel'"):
        actmap.line([1, 2, 3], xlable="x")


def test_bad_values_raise():
    a = np.zeros((4, 4), np.float32)
    with pytest.raises(actmap.ArgumentTypeError, match="keyword 'vmin'"):
        actmap.render(a, vmin="low")
    with pytest.raises(ValueError, match="magmaa"):
        actmap.render(a, cmap="magmaa")
    with pytest.raises(actmap.InvalidArgumentError, match="size"):
        actmap.render(a, size="12x")
    with pytest.raises(actmap.InvalidArgumentError, match="not a finite number"):
        actmap.render(a, vmax=float("nan"))
    with pytest.raises(actmap.InvalidArgumentError, match="titles has 1 names for 2 inputs"):
        actmap.render([a, a], titles=["one"])
    with pytest.raises(actmap.InvalidArgumentError, match="grid"):
        actmap.render([a, a, a], grid="1x2")


@pytest.mark.parametrize("bad, exc, words", [
    (np.array(["a", "b"]), actmap.ArgumentTypeError, "strings are not numbers"),
    (np.ones(3, complex), actmap.ArgumentTypeError, "complex"),
    ([[1, 2], [3]], actmap.ArgumentTypeError, "cannot make an array"),
    ("acts.npy", actmap.ArgumentTypeError, "cannot draw a str"),
    (None, actmap.ArgumentTypeError, "cannot draw a NoneType"),
    (np.zeros((0, 4)), actmap.InvalidArgumentError, "has no values"),
    (np.float32(3.0), actmap.InvalidArgumentError, "0-D"),
    (np.zeros((2, 2, 2, 2, 2)), actmap.InvalidArgumentError, "5-D"),
    ([], actmap.InvalidArgumentError, "has no values"),
])
def test_bad_input_raises(bad, exc, words):
    with pytest.raises(exc, match=words):
        actmap.render(bad)


def test_bad_slices_and_outputs(tmp_path):
    a = np.zeros((3, 4, 4), np.float32)
    with pytest.raises(actmap.InvalidArgumentError, match="out of range"):
        actmap.render(a, index=5)
    with pytest.raises(actmap.InvalidArgumentError, match="split= axis 7 does not exist"):
        actmap.render(a, split=7)
    with pytest.raises(actmap.InvalidArgumentError, match="index= picks a slice"):
        actmap.render(np.zeros((4, 4)), index=1)
    fig = actmap.render(a[0])
    with pytest.raises(actmap.InvalidArgumentError, match="not .jpg"):
        fig.save(tmp_path / "a.jpg")
    with pytest.raises(FileNotFoundError) as e:
        fig.save(tmp_path / "missing" / "a.png")
    assert isinstance(e.value, actmap.FileError) and e.value.filename.endswith("a.png")
    assert not (tmp_path / "missing").exists()


def test_nan_and_inf_are_excluded_from_the_range():
    a = np.arange(16, dtype=np.float32).reshape(4, 4)
    a[0, 0], a[1, 1], a[2, 2] = np.nan, np.inf, -np.inf
    assert actmap.render(a).ranges == [(1.0, 15.0)]


def test_threads_share_one_context_and_the_gil_is_released():
    a = RNG.random((2000, 1000)).astype(np.float32)
    want = actmap.render(a).to_numpy()
    out = [None] * 4
    ticks = []
    done = threading.Event()

    def work(i):
        out[i] = actmap.render(a).to_numpy()

    def ticker():
        while not done.is_set():
            ticks.append(1)
            done.wait(0.001)

    t = threading.Thread(target=ticker)
    t.start()
    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    done.set()
    t.join()
    assert all(np.array_equal(o, want) for o in out)
    assert len(ticks) > 10, "Python threads ran while rendering"


def test_error_hierarchy():
    assert issubclass(actmap.InvalidArgumentError, (actmap.Error, ValueError))
    assert issubclass(actmap.ArgumentTypeError, TypeError)
    assert issubclass(actmap.FileError, OSError)
    assert issubclass(actmap.FormatError, ValueError)
    assert issubclass(actmap.GpuError, RuntimeError)


def test_the_actmap_command_from_the_package(tmp_path):
    """`python -m actmap` and the `actmap` script pip installs run the same
    CLI as the cargo-built binary."""
    import subprocess
    import sys

    a = np.arange(24, dtype=np.float32).reshape(4, 6)
    np.save(tmp_path / "a.npy", a)
    script = os.path.join(os.path.dirname(sys.executable), "actmap")
    for cmd in ([sys.executable, "-m", "actmap"], [script]):
        v = subprocess.run(cmd + ["--version"], capture_output=True, text=True, timeout=60)
        assert v.returncode == 0 and v.stdout.startswith("actmap "), v
        p = subprocess.run(cmd + ["render", "a.npy", "-o", "py.png", "--cmap", "viridis"], cwd=tmp_path,
                           capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr
        run_cli("render", "a.npy", "-o", "bin.png", "--cmap", "viridis", cwd=tmp_path)
        assert np.array_equal(png_pixels(tmp_path / "py.png"), png_pixels(tmp_path / "bin.png"))
        bad = subprocess.run(cmd + ["render", "a.npy", "--cmapp", "x"], capture_output=True, text=True, timeout=60)
        assert bad.returncode == 2 and "--cmapp" in bad.stderr
    info = subprocess.run([sys.executable, "-m", "actmap", "info", "a.npy"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert info.stdout == run_cli("info", "a.npy", cwd=tmp_path).stdout


def test_nasty_values_raise_not_crash():
    a = np.zeros((4, 4), np.float32)
    for kw in (dict(size=(100000, 100000)), dict(size=(0, 5)), dict(scale=-1), dict(scale=float("inf")),
               dict(vmin=5, vmax=1), dict(line_width=-2, kind="line"), dict(rows=[99], kind="line"),
               dict(annotate="%q"), dict(index=[2 ** 62]), dict(grid="0x0"), dict(mark_top=-1),
               dict(aspect=-1), dict(nan_color="#12"), dict(linthresh=-1, norm="symlog")):
        with pytest.raises(actmap.Error):
            actmap.render(a, **kw)


def test_xticklabels_take_a_python_list_of_tokens_and_a_wrong_count_names_both():
    import numpy as np
    import pytest

    import actmap

    tokens = ["[CLS]", "Ġthe", "Ġcat", "\n"]
    fig = actmap.render(np.arange(12, dtype="f4").reshape(3, 4), xticklabels=tokens, size=(400, 300))
    assert fig is not None
    with pytest.raises(Exception, match="x tick labels: 1 labels for 4 columns"):
        actmap.render(np.zeros((3, 4), "f4"), xticklabels=["a"])
