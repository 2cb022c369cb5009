"""A notebook executed headless (nbclient, a real IPython kernel): a
Figure shows inline as PNG, and `actmap.monitor(run, inline=True)` keeps
its cell's image current through a display handle."""

import base64
import os

import nbformat
import numpy as np
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

import actmap
from conftest import png_pixels


def pngs(cell):
    return [base64.b64decode(o["data"]["image/png"]) for o in cell.outputs
            if o.get("output_type") in ("display_data", "execute_result") and "image/png" in o.get("data", {})]


def test_notebook_shows_figures_and_a_live_run(tmp_path):
    run_dir = str(tmp_path / "run")
    nb = new_notebook(cells=[
        new_code_cell("import numpy as np, actmap\n"
                      "acts = np.linspace(0, 1, 33 * 12, dtype=np.float32).reshape(33, 12)\n"
                      "fig = actmap.render(acts, cmap='magma', title='Layer activation')\n"
                      "fig"),
        new_code_cell(f"run = actmap.Run({run_dir!r})\n"
                      "for step in range(20):\n"
                      "    run.log('layer3', np.sin(np.arange(64) * 0.1 + step).astype(np.float32), step=step)\n"
                      "run.flush()\n"
                      "m = actmap.monitor(run, interval=3600, size=(800, 500))"),
        new_code_cell("for step in range(20, 60):\n"
                      "    run.log('layer3', np.cos(np.arange(64) * 0.1 + step).astype(np.float32), step=step)\n"
                      "run.flush()\n"
                      "assert m.update() is not None\n"
                      "m.stop(); run.close()"),
    ])
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    nbformat.write(nb, tmp_path / "executed.ipynb")

    # Cell 1: the figure, inline, as the same pixels as rendering here.
    (png,) = pngs(nb.cells[0])
    acts = np.linspace(0, 1, 33 * 12, dtype=np.float32).reshape(33, 12)
    want = actmap.render(acts, cmap="magma", title="Layer activation").to_numpy()
    assert np.array_equal(png_pixels(png), want)

    # Cell 2: the monitor's image, updated in place by cell 3 to show all
    # 60 steps: the frame the live view draws from the finished log.
    (live,) = pngs(nb.cells[1])
    frame = actmap._actmap.LiveRun(run_dir, (800, 500)).frame(True)
    assert frame is not None
    assert np.array_equal(png_pixels(live), frame.to_numpy())
    assert os.path.exists(tmp_path / "executed.ipynb")


def test_readme_examples_run_in_a_notebook(tmp_path):
    """The README's Python examples, one cell each, in a real kernel: the
    figures come out as files and the live run's cell shows an image."""
    from test_readme import python_blocks

    nb = new_notebook(cells=[new_code_cell(code) for code in python_blocks()])
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    for name in ("acts.png", "ntm.png", "neurons.png", "hidden.png", "attn.png"):
        assert png_pixels(tmp_path / name).shape[2] == 4, name
    monitor_cells = [c for c in nb.cells if "actmap.monitor(" in c.source]
    assert monitor_cells and all(pngs(c) for c in monitor_cells), "the live run shows no image"
