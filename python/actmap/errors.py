"""The exceptions actmap raises. Every one is an :class:`actmap.Error`,
and also the built-in exception a Python programmer would catch for it:
a bad value is a ``ValueError``, a wrong type or unknown keyword a
``TypeError``, a file that cannot be read or written an ``OSError``."""


class Error(Exception):
    """Base class of every error actmap raises."""


class InvalidArgumentError(Error, ValueError):
    """An option or an input has a bad value (unknown colormap, a shape
    that cannot be drawn, a closed run)."""


class ArgumentTypeError(Error, TypeError):
    """An unknown keyword (the message names the closest valid one) or a
    value of a type actmap cannot use (a string array, a complex tensor)."""


class FormatError(Error, ValueError):
    """A file is not what it claims to be (a corrupt run log, a bad
    ``.npy``); ``filename`` names it."""

    filename = None


class FileError(Error, OSError):
    """A file could not be read or written; ``filename`` names it and
    ``errno`` says why, as for any ``OSError``."""


class GpuError(Error, RuntimeError):
    """No GPU adapter, not even a software one, or the GPU failed."""


__all__ = [
    "Error",
    "InvalidArgumentError",
    "ArgumentTypeError",
    "FormatError",
    "FileError",
    "GpuError",
]
