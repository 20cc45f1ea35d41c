"""Making tensors: from data, filled, random (seeded), ranges, and from NumPy / CUDA arrays."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..backends import Backend, get_backend
from ..backends import shape as S
from .dtype import as_dtype, infer_dtype, scalar_dtype
from .tensor import Tensor

_rng = np.random.default_rng()


def manual_seed(seed: int) -> None:
    """Make rand/randn/randint (and layers' initialisation, dropout, shuffling) reproducible."""
    global _rng
    _rng = np.random.default_rng(seed)


def generator() -> np.random.Generator:
    """The package's random generator (seeded by `manual_seed`)."""
    return _rng


def _from_host(array: np.ndarray, device: Any, requires_grad: bool) -> Tensor:
    backend = get_backend(device)
    storage = backend.storage.from_numpy(array)
    return Tensor(storage, array.shape, S.contiguous_strides(array.shape), backend, requires_grad=requires_grad)


def tensor(data: Any, dtype: Any = None, device: str | Backend | None = None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of `data` (numbers, nested lists, arrays, tensors).

    Objects exposing `__cuda_array_interface__` (CuPy, PyTorch CUDA tensors, numba device
    arrays) become CUDA tensors that share their memory.
    """
    if isinstance(data, Tensor):
        out = data.detach().to(device if device is not None else data.backend, dtype=dtype).clone()
        return out.requires_grad_(requires_grad) if requires_grad else out
    if hasattr(data, "__cuda_array_interface__") and device in (None, "cuda"):
        backend = get_backend("cuda")
        out = backend.storage.from_cuda_array(data, Tensor, backend)
        out = out.to(dtype=dtype) if dtype is not None else out
        return out.requires_grad_(requires_grad) if requires_grad else out
    try:
        array = np.asarray(data)
    except ValueError as err:
        raise ValueError(f"cannot make a tensor from ragged data: {err}") from None
    from_python = not isinstance(data, np.ndarray | np.generic)
    if from_python and array.dtype.kind in "uO" and (dtype is None or as_dtype(dtype).kind in "iub"):
        _check_int64(data)  # Python ints NumPy held as uint64 or objects: int64 would wrap them
    if dtype is not None:
        target = as_dtype(dtype)
    elif not from_python:
        target = infer_dtype(array)
    else:  # Python numbers: floats become float32, as in PyTorch
        target = infer_dtype(array.astype(np.float32) if array.dtype.kind == "f" else array)
    return _from_host(np.array(array, dtype=target, copy=True), device, requires_grad)


def _check_int64(data: Any) -> None:
    """Refuse a Python int outside int64, as PyTorch does (NumPy would make it uint64 and int64 wrap it)."""
    stack = [data]
    while stack:
        v = stack.pop()
        if isinstance(v, list | tuple):
            stack.extend(v)
        elif isinstance(v, int) and not -(2**63) <= v < 2**63:
            raise ValueError(
                f"Overflow when unpacking long long: {v} does not fit in int64 (-2**63 .. 2**63 - 1); "
                "pass dtype=mt.float64 for a float tensor"
            )


def from_numpy(array: np.ndarray, device: str | Backend | None = None) -> Tensor:
    """A tensor over a NumPy array; on the CPU it shares the memory when the array is contiguous."""
    array = np.asarray(array)
    dtype = infer_dtype(array)
    if array.dtype != dtype or not array.flags.c_contiguous:
        array = np.ascontiguousarray(array, dtype=dtype)
    return _from_host(array, device, False)


def _shape(shape: tuple[Any, ...]) -> tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    dims = tuple(int(s) for s in shape)
    if any(s < 0 for s in dims):
        raise ValueError(f"negative dimension in shape {dims}")
    return dims


def full(
    shape: Sequence[int], value: float, dtype: Any = "float32", device: Any = None, requires_grad: bool = False
) -> Tensor:
    backend = get_backend(device)
    shape = _shape((shape,))
    storage = backend.storage.full(max(S.size_of(shape), 1), value, as_dtype(dtype))
    return Tensor(storage, shape, S.contiguous_strides(shape), backend, requires_grad=requires_grad)


def zeros(*shape: Any, dtype: Any = "float32", device: Any = None, requires_grad: bool = False) -> Tensor:
    return full(_shape(shape), 0.0, dtype, device, requires_grad)


def ones(*shape: Any, dtype: Any = "float32", device: Any = None, requires_grad: bool = False) -> Tensor:
    return full(_shape(shape), 1.0, dtype, device, requires_grad)


def zeros_like(t: Tensor, dtype: Any = None) -> Tensor:
    return full(t.shape, 0.0, dtype or t.dtype, t.backend)


def ones_like(t: Tensor, dtype: Any = None) -> Tensor:
    return full(t.shape, 1.0, dtype or t.dtype, t.backend)


def rand(*shape: Any, dtype: Any = "float32", device: Any = None, requires_grad: bool = False) -> Tensor:
    """Uniform on [0, 1). Drawn on the device where its storage can (CUDA), else on the host."""
    shape, dtype, backend = _shape(shape), as_dtype(dtype), get_backend(device)
    draw = getattr(backend.storage, "uniform", None)
    if draw is None:
        return _from_host(_rng.random(shape).astype(dtype), backend, requires_grad)
    storage = draw(S.size_of(shape), dtype, _rng)
    return Tensor(storage, shape, S.contiguous_strides(shape), backend, requires_grad=requires_grad)


def randn(*shape: Any, dtype: Any = "float32", device: Any = None, requires_grad: bool = False) -> Tensor:
    """Standard normal."""
    array = _rng.standard_normal(_shape(shape)).astype(as_dtype(dtype))
    return _from_host(array, device, requires_grad)


def randint(low: int, high: int, shape: Sequence[int], device: Any = None) -> Tensor:
    return _from_host(_rng.integers(low, high, size=tuple(shape), dtype=np.int64), device, False)


def arange(start: float, end: float | None = None, step: float = 1, dtype: Any = None, device: Any = None) -> Tensor:
    """start, start + step, ... below end. Built on the tensor's device (no host-to-device copy)."""
    if end is None:
        start, end = 0, start
    if step == 0:  # PyTorch's error, not a ZeroDivisionError from the count below
        raise RuntimeError(f"arange: step must be nonzero (got start={start}, end={end}, step={step})")
    n = max(0, math.ceil((end - start) / step))
    kinds = {type(v) for v in (start, end, step)}
    target = as_dtype(dtype) if dtype is not None else (as_dtype("float32") if float in kinds else as_dtype("int64"))
    backend = get_backend(device)
    make = getattr(backend.storage, "arange", None)
    if make is None:  # a storage class without it: build on the host and copy
        return _from_host((start + step * np.arange(n)).astype(target), backend, False)
    return Tensor(make(start, step, n, target), (n,), (1,), backend)


def eye(n: int, dtype: Any = "float32", device: Any = None) -> Tensor:
    return _from_host(np.eye(n, dtype=as_dtype(dtype)), device, False)


def _lift(x: Tensor, value: Any) -> Tensor:
    """`value` (a Python number or array) as a tensor on `x`'s backend: the other operand of `x + 2`.
    A number keeps a float tensor's dtype and does not widen it, as in PyTorch."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, (int, float, bool)) and not isinstance(value, np.ndarray):
        return x._full((), value, scalar_dtype(value, x.dtype))
    return tensor(value, device=x.backend)


Tensor._lift = _lift  # a method (every operator uses it) defined here, where tensors are made
