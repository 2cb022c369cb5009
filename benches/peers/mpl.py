"""matplotlib peer for benches/peers.sh: what a matplotlib user would write.

    python mpl.py imshow|pcolormesh|line|panels|panels-pcolormesh OUT.png IN.npy...
    python mpl.py imshow-T|pcolormesh-T OUT.png IN.npy          # transposed
    python mpl.py pcolormesh-steps OUT.png IN.npy STEPS.npy     # rows at steps

Writes a 1920x1080 PNG (figsize 19.2x10.8 in at 100 dpi) with axes, tick
labels and a viridis colorbar; `line` plots a 1-D array; `panels` draws up to
four arrays in a 2x2 grid of imshow heatmaps (`panels-pcolormesh`: pcolormesh),
each with its own colorbar. `-T` draws the array's rows as columns;
`pcolormesh-steps` puts row i at y = STEPS[i] (cells centred on the steps,
`shading="nearest"`).
"""
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def heatmap(fig, ax, a, how, steps=None):
    if how == "imshow":
        m = ax.imshow(a, cmap="viridis", aspect="auto", interpolation="nearest")
    elif steps is not None:
        m = ax.pcolormesh(np.arange(a.shape[1]), steps, a, cmap="viridis", shading="nearest")
        ax.invert_yaxis()
    else:
        m = ax.pcolormesh(a, cmap="viridis")
        ax.invert_yaxis()  # row 0 at the top, like imshow
    ax.set_xlabel("column")
    ax.set_ylabel("row")
    fig.colorbar(m, ax=ax)


def main():
    mode, out, inputs = sys.argv[1], sys.argv[2], sys.argv[3:]
    if not inputs:
        sys.exit(__doc__)
    if mode.startswith("panels"):
        how = "pcolormesh" if mode == "panels-pcolormesh" else "imshow"
        fig, axes = plt.subplots(2, 2, figsize=(19.2, 10.8), dpi=100)
        for ax, path in zip(axes.flat, inputs):
            heatmap(fig, ax, np.load(path), how)
            ax.set_title(os.path.splitext(os.path.basename(path))[0])
        fig.tight_layout()
    else:
        a = np.load(inputs[0])
        fig, ax = plt.subplots(figsize=(19.2, 10.8), dpi=100)
        if mode == "line":
            ax.plot(a)
            ax.set_xlabel("index")
            ax.set_ylabel("value")
        elif mode in ("imshow", "pcolormesh"):
            heatmap(fig, ax, a, mode)
        elif mode in ("imshow-T", "pcolormesh-T"):
            heatmap(fig, ax, a.T, mode[:-2])
        elif mode == "pcolormesh-steps":
            heatmap(fig, ax, a, "pcolormesh", steps=np.load(inputs[1]))
        else:
            sys.exit(f"unknown mode {mode!r}\n{__doc__}")
    fig.savefig(out, dpi=100)


if __name__ == "__main__":
    main()
