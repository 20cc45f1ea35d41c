"""Element types: float32 (the default), float64, int64 for indices and labels, and bool for masks."""

from __future__ import annotations

from typing import Any

import numpy as np

float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
int64 = np.dtype(np.int64)
bool_ = np.dtype(np.bool_)
SUPPORTED = (float32, float64, int64, bool_)
_NAMES = {
    "float32": float32, "float": float32, "float64": float64, "double": float64,
    "int64": int64, "long": int64, "bool": bool_,
}  # fmt: skip


def as_dtype(dtype: Any) -> np.dtype:
    """Normalise a dtype spec (np.float32, "float64", bool, torch-style names) and check it is supported."""
    if isinstance(dtype, str) and dtype in _NAMES:
        return _NAMES[dtype]
    try:
        d = np.dtype(dtype)
    except TypeError as err:
        raise TypeError(f"unsupported dtype {dtype!r}; use float32, float64, int64 or bool") from err
    if d not in SUPPORTED:
        raise TypeError(f"unsupported dtype {d}; use float32, float64, int64 or bool")
    return d


def is_floating(dtype: np.dtype) -> bool:
    return dtype.kind == "f"


def category(dtype: np.dtype) -> int:
    """PyTorch's dtype categories, lowest first: bool 0, integer 1, floating 2."""
    return 2 if dtype.kind == "f" else 0 if dtype.kind == "b" else 1


def infer_dtype(array: np.ndarray) -> np.dtype:
    """The dtype a new tensor gets from data: floats become float32 unless already float64;
    booleans stay bool."""
    kind = array.dtype.kind
    if kind == "f":
        return float64 if array.dtype == float64 else float32
    if kind == "b":
        return bool_
    if kind in "iu":
        return int64
    raise TypeError(f"cannot make a tensor from data of dtype {array.dtype}; use numbers")


def promote(a: np.dtype, b: np.dtype) -> np.dtype:
    """Result type of a binary op: float64 > float32 > int64 > bool."""
    if a == b:
        return a
    for d in (float64, float32, int64):
        if d in (a, b):
            return d
    return bool_


def promote_operands(a: np.dtype, a_ndim: int, b: np.dtype, b_ndim: int) -> np.dtype:
    """Result type of a binary op by PyTorch's rules: a 0-d operand (a lifted Python number too) does
    not widen a tensor with dimensions unless it is of a higher category (bool < integer < float).

    float32 tensor + 0-d float64 -> float32; int64 tensor + 2.5 -> float32 (a Python float lifts to
    float32, the default dtype); int64 tensor + 0-d float64 -> float64; bool mask * 0-d int64 ->
    int64; two tensors with dimensions, or two 0-d tensors: `promote`.
    """
    if (a_ndim == 0) == (b_ndim == 0):
        return promote(a, b)
    dims, zero = (a, b) if b_ndim == 0 else (b, a)
    if category(zero) > category(dims):
        return promote(a, b)
    return dims


def scalar_dtype(value: bool | int | float, like: np.dtype) -> np.dtype:
    """The dtype a Python number takes as the other operand of a tensor of dtype `like`: the tensor's
    own unless the number is of a higher category (`mask + 1` is int64, `ints * 0.5` float32)."""
    kind = 0 if isinstance(value, (bool, np.bool_)) else 1 if isinstance(value, (int, np.integer)) else 2
    if kind <= category(like):
        return like
    return int64 if kind == 1 else float32
