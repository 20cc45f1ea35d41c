"""The one small interface every backend implements: map, zip, reduce and matmul kernels.

A backend is a set of *kernel factories* plus the storage of one device. Each factory takes a
scalar function (from `backends.scalar`, or your own) and returns a kernel that fills a
preallocated output. All operands of a kernel already have the output's shape: broadcasting
was done before, by giving broadcast dimensions stride 0. Shapes and strides are tuples of ints.

    map(fn)    -> kernel(out, out_strides, a, a_strides, shape)
                  out[i] = fn(a[i]) for every index i of shape
    zip(fn)    -> kernel(out, out_strides, a, a_strides, b, b_strides, shape)
                  out[i] = fn(a[i], b[i])
    reduce(fn) -> kernel(out, out_strides, a, a_strides, a_shape, dim)
                  out has a's shape with a_shape[dim] == 1 and holds the start value;
                  out[i] = fn(out[i], a[i with index dim = j]) for j in range(a_shape[dim])
    matmul     -> kernel(out, out_strides, a, a_strides, b, b_strides, out_shape, k)
                  out_shape = (*batch, n, m); a is (*batch, n, k), b is (*batch, k, m)

`out`, `a` and `b` are 1-D storages (NumPy arrays on the CPU, numba device arrays on CUDA);
position(index) = sum(index * strides). A learner's own kernels become a backend with
`Backend(name, map=..., zip=..., reduce=..., matmul=...)`; every tensor op, autograd and the
layers built on them then run on those kernels.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from . import host_pool

Kernel = Callable[..., None]
KernelFactory = Callable[[Callable[..., float]], Kernel]


class HostStorage:
    """Storage in main memory: 1-D NumPy arrays."""

    device = "cpu"

    @staticmethod
    def empty(n: int, dtype: np.dtype) -> Any:
        return host_pool.empty(n, dtype)

    @staticmethod
    def full(n: int, value: float, dtype: np.dtype) -> Any:
        return np.full(n, value, dtype=dtype)

    @staticmethod
    def arange(start: float, step: float, n: int, dtype: np.dtype) -> Any:
        return (start + step * np.arange(n)).astype(dtype)

    @staticmethod
    def from_numpy(array: np.ndarray) -> Any:
        return np.ascontiguousarray(array).reshape(-1)

    @staticmethod
    def to_numpy(storage: Any) -> np.ndarray:
        return storage


class Backend:
    """Kernels for one device, memoised per scalar function."""

    def __init__(
        self,
        name: str,
        map: KernelFactory,
        zip: KernelFactory,
        reduce: KernelFactory,
        matmul: Kernel,
        storage: Any = HostStorage,
    ) -> None:
        self.name = name
        self.storage = storage
        self.device: str = storage.device
        self._factories = {"map": map, "zip": zip, "reduce": reduce}
        self._matmul = matmul
        self._kernels: dict[tuple[str, Callable[..., float]], Kernel] = {}

    def kernel(self, kind: str, fn: Callable[..., float]) -> Kernel:
        """The `kind` ("map", "zip" or "reduce") kernel for scalar function `fn`, built once."""
        key = (kind, fn)
        if key not in self._kernels:
            self._kernels[key] = self._factories[kind](fn)
        return self._kernels[key]

    def map(self, fn: Callable[[float], float]) -> Kernel:
        return self.kernel("map", fn)

    def zip(self, fn: Callable[[float, float], float]) -> Kernel:
        return self.kernel("zip", fn)

    def reduce(self, fn: Callable[[float, float], float]) -> Kernel:
        return self.kernel("reduce", fn)

    @property
    def matmul(self) -> Kernel:
        return self._matmul

    def __repr__(self) -> str:
        return f"Backend({self.name!r}, device={self.device!r})"
