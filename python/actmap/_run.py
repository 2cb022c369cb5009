"""Run logs from Python: ``Run`` (log a tensor in one line), ``record``
(forward hooks that log module outputs) and ``monitor`` (a live view of a
run: the window in a child process, or an image kept current in a
notebook cell)."""

import atexit
import difflib
import fnmatch
import html
import os
import subprocess
import sys
import threading
import warnings
import weakref

import numpy as np

from . import _actmap
from ._convert import as_float32, is_torch, torch_to_numpy
from .errors import Error, InvalidArgumentError

_F32 = np.dtype(np.float32)
_open_runs = weakref.WeakSet()


@atexit.register
def _close_open_runs():
    # Interpreter exit: whatever was logged reaches the disk.
    for run in list(_open_runs):
        try:
            run.close()
        except Exception as e:  # noqa: BLE001 - at exit, say it and go on
            print(f"actmap: closing {run.path}: {e}", file=sys.stderr)


class Run:
    """A run log (a Zarr group on disk) that a training loop writes to.

    ``run.log(name, values, step=None)`` copies ``values`` (a torch tensor
    on any device and of any dtype, a numpy array, a list) and returns; a
    writer thread appends them to channel ``name`` of the run log. When
    the disk cannot keep up, ``log`` waits for room in a bounded queue
    (``queue_mb``): nothing is dropped and memory stays bounded. Records
    become visible to readers (``actmap watch RUN``, zarr-python) at
    least every ``flush_every`` seconds. ``close()`` (also leaving a
    ``with`` block, by an exception too, and interpreter exit) writes
    everything queued.

    Distributed training: every rank of a job may open the same ``path``.
    Rank and world size come from ``rank=``/``world_size=``, else
    ``torch.distributed`` when initialised, else ``RANK``/``WORLD_SIZE``
    (torchrun), else ``SLURM_PROCID``/``SLURM_NTASKS``. With more than one
    rank, each writes a whole run log at ``path/rank<N>/`` with its own
    lock (no rank waits on another); ``ranks=`` picks who logs (``"all"``,
    a rank, a list): the others get a run whose ``log`` does nothing.
    """

    def __init__(self, path, *, flush_every=1.0, queue_mb=256.0, rank=None, world_size=None, ranks="all"):
        self._log = None
        self._server = None
        self._native = None
        self._shards = {}
        self.path = os.fspath(path)
        self.rank, self.world_size = _rank_and_world(rank, world_size)
        self.logging = _picked(self.rank, ranks)
        if not self.logging:
            # A rank that does not log: no file, no thread, log() returns.
            self._log = _no_log
            return
        where = self.path
        if self.world_size > 1:
            where = _actmap.rank_dir(self.path, self.rank)
        self._native = _actmap.RunLog(where, flush_every, queue_mb)
        self._log = self._native.log
        _open_runs.add(self)

    def log(self, name, values, step=None, columns=None):
        """Queue one record of channel ``name``: a row (1-D) or a 2-D array
        (a scalar is a row of one). ``step``: the training step (default:
        the channel's previous step + 1). Every record of a channel has
        the shape of its first.

        ``columns``: under tensor parallelism, where this rank's slice of a
        wider row belongs: ``slice(lo, hi)``, ``(lo, hi)`` or ``lo``; the
        same for every record of the channel. ``actmap render RUN`` draws
        the slices of all ranks as one row."""
        if self._native is None:
            return  # a rank that does not log
        if type(values) is not np.ndarray or values.dtype != _F32 or not values.flags.c_contiguous:
            if is_torch(values):
                values = torch_to_numpy(values)
            values = as_float32(values, f"channel '{name}'")
        if step is not None and not isinstance(step, int):
            step = int(step)
        if columns is None:
            self._log(name, values, step)
        else:
            self._log_shard(name, values, step, columns)

    def _log_shard(self, name, values, step, columns):
        if isinstance(columns, slice):
            if columns.step not in (None, 1):
                raise InvalidArgumentError(f"channel '{name}': columns= takes a contiguous slice, not step {columns.step}")
            lo, hi = columns.start or 0, columns.stop
        elif isinstance(columns, (tuple, list)) and len(columns) == 2:
            lo, hi = columns
        elif isinstance(columns, (int, np.integer)):
            lo, hi = int(columns), None
        else:
            raise TypeError(f"channel '{name}': columns= takes slice(lo, hi), (lo, hi) or lo, not {columns!r}")
        width = values.shape[-1] if values.ndim else 1
        if hi is None:
            hi = lo + width
        lo, hi = int(lo), int(hi)
        if lo < 0 or hi - lo != width or values.ndim > 1:
            raise InvalidArgumentError(
                f"channel '{name}': columns {lo}:{hi} for a record of shape {values.shape}; "
                "columns= places a row of hi - lo values"
            )
        known = self._shards.get(name)
        if known is None:
            self._shards[name] = lo
            self._native.log(name, values, step, lo)
        elif known != lo:
            raise InvalidArgumentError(f"channel '{name}': its records are columns from {known}, this one from {lo}")
        else:
            self._native.log(name, values, step)

    def flush(self):
        """Wait until everything logged so far is in the run log and visible."""
        if self._native is not None:
            self._native.flush()

    def close(self):
        """Write everything queued and close the run log (later ``log``
        calls raise). Safe to call twice."""
        _open_runs.discard(self)
        if self._native is not None:
            self._native.close()

    @property
    def closed(self):
        return self._native is None or self._native.closed

    def channels(self):
        """``{name: record shape}`` of the channels written so far."""
        if self._native is None:
            return {}
        return {n: tuple(s) for n, s in self._native.channels()}

    def show(self, height=600, bind="127.0.0.1:0", **options):
        """The run's browser view (``actmap serve``), served from this
        process, for a notebook cell: the ``Server`` returned shows the
        view in an ``<iframe>`` (its ``_repr_html_``). Called again, it
        shows the same server. ``bind``: where to listen (default: a free
        port on this machine; when Jupyter runs on a remote machine, pick a
        port and forward it too, ``ssh -L 8787:127.0.0.1:8787``).
        ``options``: as ``actmap.serve``."""
        if self._server is None or not self._server.running:
            self._server = serve(self, bind=bind, **options)
        self._server.height = int(height)
        return self._server

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __repr__(self):
        state = "closed" if self.closed else "open"
        return f"<actmap.Run {self.path!r} ({state})>"


def _no_log(*args, **kwargs):
    return None


def _env_int(*names):
    for n in names:
        v = os.environ.get(n)
        if v not in (None, ""):
            try:
                return int(v), n
            except ValueError:
                raise InvalidArgumentError(f"environment variable {n}={v!r} is not a whole number") from None
    return None, None


def _rank_and_world(rank, world_size):
    """This process's rank and the job's world size: the arguments when
    given, else torch.distributed when it is initialised, else torchrun's
    RANK/WORLD_SIZE, else Slurm's SLURM_PROCID/SLURM_NTASKS, else 0 of 1."""
    if rank is None or world_size is None:
        r = w = None
        dist = sys.modules.get("torch.distributed")
        if dist is not None and dist.is_available() and dist.is_initialized():
            r, w = dist.get_rank(), dist.get_world_size()
        else:
            r, rn = _env_int("RANK", "SLURM_PROCID")
            w, wn = _env_int("WORLD_SIZE", "SLURM_NTASKS")
        rank = r if rank is None else rank
        world_size = w if world_size is None else world_size
    rank = 0 if rank is None else int(rank)
    world_size = 1 if world_size is None else int(world_size)
    if world_size < 1 or not 0 <= rank < world_size:
        raise InvalidArgumentError(f"rank {rank} of world size {world_size}: a rank is 0 to world_size - 1")
    return rank, world_size


def _picked(rank, ranks):
    if ranks == "all" or ranks is None:
        return True
    if isinstance(ranks, int):
        return rank == ranks
    try:
        return rank in {int(r) for r in ranks}
    except TypeError:
        raise InvalidArgumentError(f"ranks must be 'all', a rank or a list of ranks, got {ranks!r}") from None


def _first_tensor(output):
    if is_torch(output):
        return output
    if isinstance(output, (tuple, list)):
        for o in output:
            t = _first_tensor(o)
            if t is not None:
                return t
    if isinstance(output, dict):
        for o in output.values():
            t = _first_tensor(o)
            if t is not None:
                return t
    return None


def _reduce_mean(t):
    t = t.detach()
    if t.ndim >= 2:
        t = t.float().mean(dim=tuple(range(t.ndim - 1)))
    return t


def _reduce_none(t):
    t = t.detach()
    if t.ndim >= 3:
        t = t[0]  # the batch's first sample keeps its token/position structure
        if t.ndim > 2:
            t = t.reshape(-1, t.shape[-1])
    return t


def _blocks(model, named):
    """The children of the model's longest list of repeated blocks: the
    ``ModuleList``/``Sequential`` with the most children of one class
    (the first such, outermost, on a tie)."""
    import torch

    best = None
    for n, m in [("", model), *named]:
        if not isinstance(m, (torch.nn.ModuleList, torch.nn.Sequential)):
            continue
        kids = list(m.named_children())
        if len(kids) < 2 or len({type(c) for _, c in kids}) != 1:
            continue
        if best is None or len(kids) > len(best[1]):
            best = (n, kids)
    if best is None:
        raise InvalidArgumentError(
            "modules='blocks': the model has no list of repeated blocks "
            "(a ModuleList or Sequential of two or more modules of one class); name them with glob patterns"
        )
    prefix, kids = best
    return [(f"{prefix}.{k}" if prefix else k, c) for k, c in kids]


class record:
    """Log module outputs with forward hooks while the block runs::

        with actmap.record(model, "runs/exp1", modules=["blocks.*.mlp"], every=10):
            train()

    ``modules``: glob patterns over ``model.named_modules()`` names
    (default: every leaf module; ``*`` also matches dots, so
    ``"layers.*"`` takes every submodule of ``layers``, dropouts
    included), or ``"blocks"``: one row per block, the children of the
    model's longest list of repeated blocks (``layers.0``, ``layers.1``,
    ... of a ``TransformerEncoder``, ``transformer.h.*`` of GPT-2). Each
    matched module's output (its first tensor, for modules returning
    tuples) is reduced to one record per step and logged under the
    module's name: ``reduce="mean"`` averages
    over every axis but the last (a ``[batch, tokens, d]`` output gives a
    ``d`` row); ``"none"`` keeps a 2-D record (the first sample of a
    batch); or a function of the tensor. The step counts calls of
    ``model`` (one forward per training step); outputs are logged every
    ``every`` steps. ``run`` is a ``Run`` or a path (opened here and closed
    on exit). The hooks are removed on exit, also by an exception.

    The hooks do not stall the step: the reduction runs on the module's
    device, and an output on a GPU is copied into a pinned host buffer
    with ``non_blocking=True`` behind a CUDA event; the records of a step
    are handed to the run's writer at the next forward (or on exit) once
    their copies are done, so no hook waits for the device. At most
    ``lag`` steps of copies are in flight (then the oldest is waited for).

    ``sharded``: module patterns whose outputs are column slices under
    tensor parallelism (a column-parallel linear layer: each rank computes
    ``d / world_size`` of the outputs). Rank r's row is logged as columns
    ``r * width ..`` of the whole row (``Run.log(..., columns=)``), and
    ``actmap render RUN`` draws the ranks' slices as one row.
    """

    def __init__(self, model, run, modules=None, every=1, reduce="mean", start_step=0, lag=4,
                 rank=None, world_size=None, ranks="all", sharded=None):
        if not hasattr(model, "named_modules"):
            raise InvalidArgumentError("record() needs a torch.nn.Module")
        if int(every) < 1:
            raise InvalidArgumentError(f"every must be 1 or more, got {every}")
        if callable(reduce):
            self._reduce = reduce
        elif reduce == "mean":
            self._reduce = _reduce_mean
        elif reduce == "none":
            self._reduce = _reduce_none
        else:
            raise InvalidArgumentError(f"reduce must be 'mean', 'none' or a function, got {reduce!r}")
        self.model = model
        self.every = int(every)
        self.step = int(start_step)
        self._calls = 0
        self._run_arg = run
        self._rank_args = {"rank": rank, "world_size": world_size, "ranks": ranks}
        self._patterns = [modules] if isinstance(modules, str) else modules
        self._sharded = [sharded] if isinstance(sharded, str) else list(sharded or [])
        self._handles = []
        self._warned = set()
        self.run = None
        self.modules = []
        if int(lag) < 1:
            raise InvalidArgumentError(f"lag must be 1 or more, got {lag}")
        self._lag = int(lag)
        # Device records whose copies to the host may still be running:
        # [step, [(name, pinned host buffer, event)]] oldest first, and
        # the pinned buffers free for reuse, by shape.
        self._pending = []
        self._free = {}

    def _match(self):
        named = [(n, m) for n, m in self.model.named_modules() if n]
        if self._patterns == ["blocks"]:
            return _blocks(self.model, named)
        if self._patterns is None:
            return [(n, m) for n, m in named if not any(True for _ in m.children())]
        out = [(n, m) for n, m in named if any(fnmatch.fnmatchcase(n, p) for p in self._patterns)]
        if not out:
            some = ", ".join(n for n, _ in named[:8]) + (" ..." if len(named) > 8 else "")
            raise InvalidArgumentError(f"no module matches {self._patterns}; the model has: {some}")
        return out

    def __enter__(self):
        self._own = not isinstance(self._run_arg, Run)
        self.run = Run(self._run_arg, **self._rank_args) if self._own else self._run_arg
        if not self.run.logging:
            return self  # a rank that does not log hooks nothing
        try:
            matched = self._match()
            self.modules = [n for n, _ in matched]
            self._handles.append(self.model.register_forward_pre_hook(self._count))
            for name, module in matched:
                self._handles.append(module.register_forward_hook(self._hook(name)))
        except BaseException:
            self._remove()
            raise
        return self

    def _count(self, module, args):
        if self._calls:
            self.step += 1
        self._calls += 1
        if self._pending:
            self._drain(wait=False)

    def _hook(self, name):
        def hook(module, args, output):
            if self.step % self.every:
                return
            t = _first_tensor(output)
            if t is None:
                return
            r = self._reduce(t)
            if is_torch(r) and r.device.type == "cuda":
                self._copy_async(name, r)
            else:
                self._log(name, r, self.step)

        return hook

    def _log(self, name, values, step):
        try:
            if self._sharded and any(fnmatch.fnmatchcase(name, p) for p in self._sharded):
                width = values.shape[-1] if getattr(values, "ndim", 0) else 1
                self.run.log(name, values, step=step, columns=(self.run.rank or 0) * width)
            else:
                self.run.log(name, values, step=step)
        except InvalidArgumentError as e:
            # A record that does not fit its channel (a smaller last
            # batch under reduce="none") is skipped, never fatal.
            if name not in self._warned:
                self._warned.add(name)
                warnings.warn(f"actmap.record: skipping {name}: {e}", stacklevel=3)

    def _copy_async(self, name, r):
        import torch

        r = r.detach()
        if r.dtype != torch.float32:
            r = r.float()
        shape = tuple(r.shape)
        free = self._free.get(shape)
        host = free.pop() if free else torch.empty(shape, dtype=torch.float32, pin_memory=True)
        host.copy_(r, non_blocking=True)
        event = torch.cuda.Event()
        event.record(torch.cuda.current_stream(r.device))
        if not self._pending or self._pending[-1][0] != self.step:
            self._pending.append([self.step, []])
        self._pending[-1][1].append((name, host, event))

    def _drain(self, wait):
        """Hand the finished device copies to the run, oldest step first:
        all of them when ``wait``, else those done (waiting only for the
        steps beyond ``lag`` still in flight)."""
        while self._pending:
            step, records = self._pending[0]
            over = len(self._pending) > self._lag
            if not (wait or over) and not all(ev.query() for _, _, ev in records):
                return
            for name, host, ev in records:
                ev.synchronize()
                self._log(name, host.numpy(), step)  # log copies the values
                self._free.setdefault(tuple(host.shape), []).append(host)
            self._pending.pop(0)

    def _remove(self):
        for h in self._handles:
            h.remove()
        self._handles.clear()
        try:
            self._drain(wait=True)
        finally:
            self._pending.clear()
            self._free.clear()
        if self._own and self.run is not None:
            self.run.close()

    def __exit__(self, *exc):
        self._remove()
        return False


def _in_notebook():
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    ip = get_ipython()
    return ip is not None and hasattr(ip, "kernel")


def _flag_args(options):
    args = []
    for k, v in options.items():
        if v is None or v is False:
            continue
        flag = "--" + k.replace("_", "-")
        if v is True:
            args.append(flag)
        elif k == "size" and isinstance(v, (tuple, list)):
            args += [flag, f"{v[0]}x{v[1]}"]
        else:
            args += [flag, str(v)]
    return args


class WindowMonitor:
    """The live window of a run, in a child process (``python -m actmap
    watch RUN``): it holds no GIL of the training process and outlives a
    training crash. ``close()`` ends it; ``wait()`` waits for the user to
    close it."""

    def __init__(self, path, options, stderr=None):
        if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            raise Error(
                "no display: neither DISPLAY nor WAYLAND_DISPLAY is set; in a notebook use "
                "actmap.monitor(run, inline=True)"
            )
        self.path = path
        cmd = [sys.executable, "-m", "actmap", "watch", path, *_flag_args(options)]
        self.process = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stderr=stderr, start_new_session=True)

    @property
    def alive(self):
        return self.process.poll() is None

    def wait(self, timeout=None):
        return self.process.wait(timeout)

    def close(self):
        if self.alive:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


class InlineMonitor:
    """A notebook cell's image of a run, kept current: the figure the
    window would draw, re-read from the run log every ``interval`` seconds
    and put in place through an IPython display handle (no server).
    ``update()`` redraws now; ``stop()`` ends the updates."""

    def __init__(self, path, interval=1.0, size=(1000, 600), **options):
        from IPython.display import display

        self.path = path
        self.interval = float(interval)
        self._live = _actmap.LiveRun(path, tuple(size), **options)
        self._stop = threading.Event()
        fig = self._live.frame(True)
        self.handle = display(fig if fig is not None else _Waiting(path), display_id=True)
        self._thread = threading.Thread(target=self._loop, name="actmap inline monitor", daemon=True)
        self._thread.start()

    def update(self, force=False):
        """Read the run log and redraw when something changed; returns the
        figure drawn, or None."""
        fig = self._live.frame(force)
        if fig is not None:
            self.handle.update(fig)
        return fig

    def _loop(self):
        while not self._stop.wait(self.interval):
            try:
                self.update()
            except Exception as e:  # noqa: BLE001 - keep the notebook alive, say it once
                print(f"actmap.monitor: {e}", file=sys.stderr)
                return

    def stop(self):
        """Stop updating (the last image stays)."""
        self._stop.set()
        self._thread.join()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False


class _Waiting:
    def __init__(self, path):
        self.path = path

    def __repr__(self):
        return f"actmap: waiting for records in {self.path}"


def monitor(run, inline=None, stderr=None, **options):
    """Watch a run live. ``run``: a ``Run`` or a run log's path.

    In a notebook (or with ``inline=True``) a cell shows the run and keeps
    it current (an ``InlineMonitor``: an IPython display handle updated
    every ``interval`` seconds, no server). Elsewhere the live window
    opens in a child process running ``python -m actmap watch RUN`` (a
    ``WindowMonitor``). ``options``: the window's (``cmap``, ``norm``,
    ``vmin``, ``vmax``, ``agg``, ``size``, ``title``; and ``autoscale``,
    ``save_dir`` for the window). ``stderr``: where the window process's
    messages go (a file object; default: this process's stderr).
    """
    path = run.path if isinstance(run, Run) else os.fspath(run)
    if inline is None:
        inline = _in_notebook()
    if inline:
        return InlineMonitor(path, **options)
    return WindowMonitor(path, options, stderr)


_SERVE_KEYWORDS = (
    "cmap",
    "norm",
    "vmin",
    "vmax",
    "agg",
    "title",
    "max_clients",
    "max_fps",
    "frame_format",
    "allow_hosts",
)
_servers = weakref.WeakSet()


@atexit.register
def _stop_servers():
    for server in list(_servers):
        server.stop()


class Server:
    """A run's browser view (``actmap serve RUN``) served from this
    process: ``url`` (with its token) opens it; ``stop()`` ends it (also
    leaving a ``with`` block, and interpreter exit). Shown in a notebook
    cell, it embeds the view in an ``<iframe>`` ``height`` pixels high.
    The server, the browsers' render threads and the thread following the
    run log run outside the GIL and draw on the process's GPU context."""

    def __init__(self, path, bind, options):
        for k in options:
            if k not in _SERVE_KEYWORDS:
                close = difflib.get_close_matches(k, _SERVE_KEYWORDS, n=1)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                raise TypeError(f"serve() got an unexpected keyword argument '{k}'{hint}")
        if "allow_hosts" in options:
            options["allow_hosts"] = list(options["allow_hosts"])
        self.path = path
        self.height = 600
        self._native = _actmap.Server(path, bind, **options)
        _servers.add(self)
        if not self._native.loopback:
            warnings.warn(
                f"actmap.serve: listening on {bind}, reachable from the network: anyone who gets "
                "the token sees the run. The default (127.0.0.1) with an SSH port forward keeps "
                "it on this machine.",
                stacklevel=3,
            )

    @property
    def url(self):
        """The page's address, token included."""
        return self._native.url

    @property
    def port(self):
        return self._native.port

    @property
    def running(self):
        return self._native.running

    @property
    def clients(self):
        """Browsers watching now."""
        return self._native.clients

    def stop(self):
        """Close every connection and stop serving. Safe to call twice."""
        _servers.discard(self)
        self._native.stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def __repr__(self):
        state = "serving " + self.url if self.running else "stopped"
        return f"<actmap.Server {self.path!r}: {state}>"

    def _repr_html_(self):
        if not self.running:
            return f"<p>actmap: the view of {html.escape(self.path)} is stopped</p>"
        url = html.escape(self.url, quote=True)
        return (
            f'<iframe src="{url}" width="100%" height="{int(self.height)}" '
            'style="border:0" title="actmap"></iframe>'
            f'<p style="font-size:small"><a href="{url}" target="_blank">open in a new tab</a></p>'
        )


def serve(run, bind="127.0.0.1:8787", **options):
    """Serve the browser view of ``run`` (a ``Run`` or a run log's path)
    from this process, as ``actmap serve RUN`` does, and return the
    ``Server`` (``server.url`` carries the token; ``print`` it or open it).

    ``bind``: ``HOST:PORT`` to listen on (default ``127.0.0.1:8787``, this
    machine only; reach it from a laptop with ``ssh -L
    8787:127.0.0.1:8787 HOST``; port 0 picks a free one). ``options``:
    ``cmap``, ``norm``, ``vmin``, ``vmax``, ``agg``, ``title`` (what each
    new browser view starts with), ``max_clients``, ``max_fps``,
    ``frame_format`` (``"png"`` or ``"webp"``), ``allow_hosts`` (host
    names accepted besides localhost, for a reverse proxy)."""
    path = run.path if isinstance(run, Run) else os.fspath(run)
    return Server(path, bind, options)
