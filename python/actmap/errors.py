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


_by_errno = {}


def _file_error(message, errno=None, filename=None, strerror=None):
    """A FileError for ``errno`` that is also the built-in OSError subclass
    for it (``FileNotFoundError``, ``PermissionError``, ...), so
    ``except FileNotFoundError`` catches it; ``strerror`` (default: the
    system's words for ``errno``) says why. Called by the native module."""
    if errno is None:
        e = FileError(message)
        e.filename = filename
        return e
    import os

    builtin = type(OSError(errno, ""))
    if builtin is OSError:
        cls = FileError
    else:
        cls = _by_errno.get(builtin)
        if cls is None:
            cls = type(f"FileError.{builtin.__name__}", (FileError, builtin), {"__module__": __name__})
            _by_errno[builtin] = cls
    return cls(errno, strerror or os.strerror(errno), filename)


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
