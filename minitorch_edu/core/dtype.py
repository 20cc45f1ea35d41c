"""Element types: float32 (the default), float64, and int64 for indices and labels."""

from __future__ import annotations

from typing import Any

import numpy as np

float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
int64 = np.dtype(np.int64)
SUPPORTED = (float32, float64, int64)
_NAMES = {"float32": float32, "float": float32, "float64": float64, "double": float64, "int64": int64, "long": int64}


def as_dtype(dtype: Any) -> np.dtype:
    """Normalise a dtype spec (np.float32, "float64", torch-style names) and check it is supported."""
    if isinstance(dtype, str) and dtype in _NAMES:
        return _NAMES[dtype]
    try:
        d = np.dtype(dtype)
    except TypeError as err:
        raise TypeError(f"unsupported dtype {dtype!r}; use float32, float64 or int64") from err
    if d not in SUPPORTED:
        raise TypeError(f"unsupported dtype {d}; use float32, float64 or int64")
    return d


def is_floating(dtype: np.dtype) -> bool:
    return dtype.kind == "f"


def infer_dtype(array: np.ndarray) -> np.dtype:
    """The dtype a new tensor gets from data: floats become float32 unless already float64."""
    kind = array.dtype.kind
    if kind == "f":
        return float64 if array.dtype == float64 else float32
    if kind in "iub":
        return int64
    raise TypeError(f"cannot make a tensor from data of dtype {array.dtype}; use numbers")


def promote(a: np.dtype, b: np.dtype) -> np.dtype:
    """Result type of a binary op: float64 > float32 > int64."""
    if float64 in (a, b):
        return float64
    if float32 in (a, b):
        return float32
    return int64


def promote_operands(a: np.dtype, a_ndim: int, b: np.dtype, b_ndim: int) -> np.dtype:
    """Result type of a binary op by PyTorch's rules: a 0-d operand (a lifted Python number too) does
    not widen a tensor with dimensions unless it is of a higher category (float over integer).

    float32 tensor + 0-d float64 -> float32; int64 tensor + 2.5 -> float32 (a Python float lifts to
    float32, the default dtype); int64 tensor + 0-d float64 -> float64; two tensors with dimensions,
    or two 0-d tensors: `promote`.
    """
    if (a_ndim == 0) == (b_ndim == 0):
        return promote(a, b)
    dims, zero = (a, b) if b_ndim == 0 else (b, a)
    if is_floating(zero) and not is_floating(dims):
        return promote(a, b)
    return dims
