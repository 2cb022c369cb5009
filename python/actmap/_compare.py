"""Many runs: ``runs`` (what a directory of run logs holds) and ``compare``
(several runs side by side on one colour scale, or the difference of two),
the figures ``actmap render RUN RUN`` and ``actmap render A B --diff``
draw."""

import datetime
import fnmatch
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

from . import _actmap
from ._convert import options as _options
from .errors import InvalidArgumentError


@dataclass(frozen=True)
class Channel:
    """One channel of a run log, as ``actmap info`` reports it."""

    name: str
    #: Shape of one record: ``(cols,)`` for a row, ``(rows, cols)`` for a map.
    shape: tuple
    #: Records on disk.
    records: int
    #: Distinct steps (what a view shows; a resumed run rewrites some).
    steps: int
    #: Smallest logged step (``None`` when no record has one).
    first_step: int | None
    #: Largest logged step.
    last_step: int | None
    #: When the latest record was written (Unix seconds).
    last_write: float | None
    #: Records whose chunk is damaged on disk (drawn as NaN).
    lost: int


def _channels(rows):
    return {
        name: Channel(
            name,
            tuple(shape),
            records,
            distinct,
            span[0] if span else None,
            span[1] if span else None,
            last,
            lost,
        )
        for name, shape, records, distinct, span, last, lost in rows
    }


class RunInfo:
    """What one run log holds: ``channels`` (name -> ``Channel``; for a
    distributed run, those of its lowest rank), ``ranks`` (``None`` for a
    single-process run) and ``by_rank`` (rank -> channels)."""

    def __init__(self, path, name=None):
        self.path = os.fspath(path)
        self.name = name or os.path.basename(os.path.normpath(self.path))
        per_rank = _actmap.run_info(self.path)
        # A single-process run is one entry of rank None; a distributed
        # run one per rank written (none yet: an empty list).
        distributed = not per_rank or per_rank[0][0] is not None
        self.ranks = [r for r, _ in per_rank] if distributed else None
        self.by_rank = {r: _channels(rows) for r, rows in per_rank} if distributed else {}
        self.channels = _channels(per_rank[0][1]) if per_rank else {}

    @property
    def steps(self):
        """``(first, last)`` step over the channels, or ``None``."""
        spans = [(c.first_step, c.last_step) for c in self.channels.values() if c.first_step is not None]
        if not spans:
            return None
        return min(s[0] for s in spans), max(s[1] for s in spans)

    @property
    def last_write(self):
        """When the latest record of any channel was written (Unix seconds)."""
        times = [c.last_write for c in self.channels.values() if c.last_write is not None]
        return max(times) if times else None

    def __repr__(self):
        ranks = f", ranks {self.ranks}" if self.ranks is not None else ""
        return f"<actmap.RunInfo {self.name!r}: {len(self.channels)} channels, steps {self.steps}{ranks}>"


class Runs(Mapping):
    """A directory of run logs (TensorBoard's logdir): a mapping of run
    name -> ``RunInfo``, in name order. ``runs.compare(key=...)`` draws
    them side by side."""

    def __init__(self, path, runs):
        self.path = os.fspath(path)
        self._runs = runs

    @property
    def names(self):
        """The runs' names, sorted."""
        return list(self._runs)

    def __getitem__(self, name):
        try:
            return self._runs[name]
        except KeyError:
            raise KeyError(f"no run {name!r} in {self.path} (runs: {', '.join(self._runs) or 'none'})") from None

    def __iter__(self):
        return iter(self._runs)

    def __len__(self):
        return len(self._runs)

    def compare(self, key=None, diff=False, **options):
        """``actmap.compare`` of these runs (``diff=True`` needs two)."""
        return compare(*self._runs.values(), key=key, diff=diff, **options)

    def __repr__(self):
        lines = [f"<actmap.Runs {self.path!r}: {len(self)} runs>"]
        for r in self._runs.values():
            when = (
                datetime.datetime.fromtimestamp(r.last_write).strftime("%Y-%m-%d %H:%M:%S")
                if r.last_write is not None
                else "-"
            )
            steps = f"{r.steps[0]} .. {r.steps[1]}" if r.steps else "-"
            ranks = f"  ranks {len(r.ranks)}" if r.ranks else ""
            lines.append(f"  {r.name}: {len(r.channels)} channels, steps {steps}, last write {when}{ranks}")
        return "\n".join(lines)


def runs(path, pattern=None):
    """The runs of the directory ``path`` (each a run log one level down),
    as a ``Runs`` mapping of name -> ``RunInfo`` (channels, steps, ranks,
    last write). ``pattern``: only the runs whose names match (``*``,
    ``?``; a list, or comma-separated, as ``--runs``)."""
    path = os.fspath(path)
    members = _actmap.collection(path)
    if members is None:
        if os.path.isdir(path) and os.path.exists(os.path.join(path, "zarr.json")):
            raise InvalidArgumentError(
                f"{path}: a run log, not a directory of runs; actmap.runs() takes the directory "
                "holding runs (RunInfo(path) describes one)"
            )
        raise InvalidArgumentError(f"{path}: not a directory of runs")
    pats = pattern.split(",") if isinstance(pattern, str) else list(pattern or [])
    out = {}
    for p in members:
        name = os.path.basename(p)
        if pats and not any(fnmatch.fnmatchcase(name, pat) for pat in pats):
            continue
        out[name] = RunInfo(p, name)
    if pats and not out:
        raise InvalidArgumentError(f"{path}: no run matches {','.join(pats)}")
    return Runs(path, out)


def _named(run):
    # A path, a RunInfo, an actmap.Run, or a collection (its runs).
    if isinstance(run, Runs):
        return [(r.name, r.path) for r in run.values()]
    if isinstance(run, RunInfo):
        return [(run.name, run.path)]
    path = getattr(run, "path", run)
    try:
        path = os.fspath(path)
    except TypeError:
        raise TypeError(
            f"compare() takes run paths, actmap.runs() collections, RunInfo or Run objects, not {type(run).__name__}"
        ) from None
    members = _actmap.collection(path)
    if members is not None:
        return [(os.path.basename(p), p) for p in members]
    return [(os.path.basename(os.path.normpath(path)), path)]


def compare(*runs, key=None, diff=False, step=None, steps=None, rank=None, **options):
    """The figure of one channel of several runs: a panel per run (titled
    by its name) on one colour scale, or with ``diff=True`` the one panel
    of ``b - a`` for two runs, on a diverging map centred on 0 (``RdBu_r``
    unless ``cmap=`` says otherwise), over the steps both runs hold
    (aligned by step value; steps only one has are left out, with a
    warning naming them).

    ``runs``: paths of run logs, a directory of runs, ``actmap.runs()``
    or its ``RunInfo``s, or ``actmap.Run`` objects. ``key``: the channel
    (a name or pattern; needed when the runs hold several). ``step``: a
    2-D channel's step (default: the latest, for ``diff`` the latest both
    have); ``steps=(lo, hi)``: the steps drawn; ``rank``: the rank of
    distributed runs. ``options``: ``render``'s keywords (``cmap``,
    ``size``, ``vmin``, ...). Returns an ``actmap.Figure``."""
    named = [n for r in runs for n in _named(r)]
    keys = [key] if isinstance(key, str) else list(key or [])
    lo, hi = steps if steps is not None else (None, None)
    fig, notes = _actmap.compare(named, keys, bool(diff), step, (lo, hi), rank, _options(options))
    for n in notes:
        warnings.warn(n, stacklevel=2)
    return fig
