"""Inputs as people have them -> float32 numpy arrays, in the thin Python
layer: torch tensors on any device, with ``requires_grad``, in float16 or
bfloat16, non-contiguous; numpy arrays of every numeric dtype and any
strides; lists; anything with ``__array__``. A C-contiguous float32 array
is passed on as it is (the renderer reads its buffer in place)."""

import os

import numpy as np

from .errors import ArgumentTypeError, InvalidArgumentError

_F32 = np.dtype(np.float32)


def is_torch(x):
    """Whether ``x`` is a torch tensor (without importing torch)."""
    t = type(x)
    return t.__module__.startswith("torch") and hasattr(x, "detach") and hasattr(x, "dtype")


def torch_to_numpy(t):
    """A numpy array of tensor ``t``'s values, whatever its device, dtype or
    autograd state; float16 stays float16 on the CPU (numpy has it),
    bfloat16 and tensors on other devices come back as float32."""
    import torch

    t = t.detach()
    if t.is_complex():
        raise ArgumentTypeError(f"a complex tensor ({t.dtype}) has no single value per cell to draw")
    if t.device.type != "cpu" or t.dtype == torch.bfloat16 or t.is_conj() or t.is_neg():
        t = t.to("cpu", torch.float32)
    if t.layout != torch.strided:
        t = t.to_dense()
    return t.numpy()


def as_float32(x, what="array"):
    """``x`` as a C-contiguous float32 numpy array (no copy when it is one)."""
    if type(x) is np.ndarray and x.dtype == _F32 and x.flags.c_contiguous:
        return x
    if is_torch(x):
        x = torch_to_numpy(x)
    elif not isinstance(x, np.ndarray):
        if isinstance(x, (str, bytes)) or x is None:
            raise ArgumentTypeError(
                f"{what}: cannot draw a {type(x).__name__}; pass a numpy array, a torch tensor, "
                "a list of numbers or anything with __array__"
            )
        try:
            x = np.asarray(x)
        except (ValueError, TypeError) as e:
            raise ArgumentTypeError(f"{what}: cannot make an array of it ({e})") from None
    kind = x.dtype.kind
    if kind not in "biuf":
        names = {"c": "complex numbers have no single value per cell to draw",
                 "O": "an object array (ragged lists?) is not numbers",
                 "U": "strings are not numbers", "S": "bytes are not numbers",
                 "M": "dates are not numbers", "m": "time spans are not numbers",
                 "V": "a structured array is not numbers"}
        why = names.get(kind, "not a number type")
        raise ArgumentTypeError(f"{what}: dtype {x.dtype}: {why}")
    # (asarray, not ascontiguousarray: a 0-D array stays 0-D)
    return np.asarray(x, dtype=np.float32, order="C")


def is_array_like(x):
    """An array object (not a plain list of numbers)."""
    return isinstance(x, np.ndarray) or is_torch(x) or (hasattr(x, "__array__") and not isinstance(x, (list, tuple)))


def inputs(data, what="array"):
    """``(array, name)`` pairs, one per panel: a list or tuple of array
    objects (numpy arrays, tensors, ...) is several panels; anything else,
    nested lists of numbers included, is one."""
    if isinstance(data, (list, tuple)) and data and all(is_array_like(d) for d in data):
        return [(as_float32(d, f"input {i}"), f"input {i}") for i, d in enumerate(data)]
    return [(as_float32(data, what), what)]


def option_value(v):
    """A keyword's value as plain Python values the native module reads:
    arrays and tensors become (nested) lists, numpy scalars Python
    numbers, paths strings."""
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, os.PathLike):
        return os.fspath(v)
    if is_torch(v):
        v = torch_to_numpy(v)
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray) or hasattr(v, "__array__"):
        a = np.asarray(v)
        if a.dtype.kind not in "biuf":
            return a.tolist()
        return a.astype(np.float64 if a.dtype.kind == "f" else a.dtype).tolist()
    if isinstance(v, (list, tuple)):
        return [option_value(x) for x in v]
    if isinstance(v, range):
        return list(v)
    return v


def options(kwargs):
    """The keyword dict with every value made plain (see option_value)."""
    return {k: option_value(v) for k, v in kwargs.items()}
