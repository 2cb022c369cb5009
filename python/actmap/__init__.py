"""actmap: GPU figures of neural-network activations.

>>> import actmap, numpy as np
>>> fig = actmap.render(np.random.rand(12, 33), cmap="magma", title="Layer activation")
>>> fig.save("acts.png")  # doctest: +SKIP

``render`` takes the options of ``actmap render`` by the same names
(``--x-coords`` is ``x_coords=``): see ``actmap.options()``.
"""

from . import _actmap
from ._compare import Channel, RunInfo, Runs, compare, runs
from ._convert import inputs as _inputs, options as _options
from ._run import InlineMonitor, Run, Server, WindowMonitor, monitor, record, serve
from .errors import (
    ArgumentTypeError,
    Error,
    FileError,
    FormatError,
    GpuError,
    InvalidArgumentError,
)

__version__ = _actmap.__version__
Figure = _actmap.Figure


def render(data, /, **options):
    """Draw ``data`` as a figure and return it (shown inline in Jupyter;
    ``fig.save("a.png")``, ``fig.to_numpy()``).

    ``data``: a numpy array (any numeric dtype, any strides), a torch tensor
    (any device, dtype, ``requires_grad``), nested lists, anything with
    ``__array__``; or a list of such arrays, one panel each
    (``grid="2x2"``, ``titles=[...]``, ``colorbar="shared"``). A 3-D array
    is drawn as panels of its first axis and a 4-D one as a facet grid of
    its first two, unless ``index=`` picks one slice or ``split=`` names
    the axes to cut along.

    ``options``: the options of the ``actmap render`` command, named as in
    matplotlib: ``cmap``, ``norm``, ``vmin``, ``vmax``, ``vcenter``,
    ``robust``, ``agg``, ``size``, ``scale``, ``title``, ``xlabel``,
    ``ylabel``, ``x_coords``, ``y_coords``, ``coords``, ``annotate``,
    ``origin``, ``aspect``, ``bare``, ... (``actmap.options()`` lists them
    all). An unknown keyword raises ``TypeError`` naming the closest one.
    """
    return _actmap.render(_inputs(data), _options(options), "render")


def line(data, /, **options):
    """Draw ``data`` as a line chart: a 1-D array is one line, the rows of a
    2-D one (up to 10, or ``rows=[...]``) are several; every spike is kept
    (each pixel column draws the min and max it covers). Takes ``render``'s
    options; ``mark_top=K`` marks the K largest \\|values\\|."""
    options.setdefault("kind", "line")
    return _actmap.render(_inputs(data), _options(options), "line")


def options():
    """Every keyword ``render`` takes, as ``{name: help}``, in the order of
    ``actmap render --help`` (the CLI flag is ``--`` + the name with
    ``-`` for ``_``)."""
    return {name: help for name, _flag, _value, help, _toml in _actmap.options()}


def adapter():
    """The GPU adapter figures are drawn on (starts it if need be)."""
    return _actmap.adapter()


__all__ = [
    "Run",
    "record",
    "monitor",
    "serve",
    "Server",
    "InlineMonitor",
    "WindowMonitor",
    "render",
    "line",
    "runs",
    "compare",
    "Runs",
    "RunInfo",
    "Channel",
    "options",
    "adapter",
    "Figure",
    "Error",
    "InvalidArgumentError",
    "ArgumentTypeError",
    "FormatError",
    "FileError",
    "GpuError",
]
