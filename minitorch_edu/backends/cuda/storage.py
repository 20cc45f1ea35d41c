"""Storage on the GPU: 1-D numba device arrays, and zero-copy exchange with other CUDA libraries.

A CUDA tensor's storage is a 1-D device array; `storage[offset:]` is a view of the same memory,
which is how tensor slicing works without copies. Data crosses to the host only in
`from_numpy` / `to_numpy` (i.e. `.to("cuda")`, `.numpy()`, printing).

`__cuda_array_interface__` (version 3) lets CuPy, PyTorch and numba read a tensor in place, and
`from_cuda_array` wraps their arrays as tensors in place. numba's simulator
(`NUMBA_ENABLE_CUDASIM=1`) keeps "device" arrays in main memory and has no device pointers, so
both raise `NoDevicePointerError` there.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import cuda

from ..scalar import identity
from . import kernels, memory
from .kernels import simulated


class NoDevicePointerError(RuntimeError, AttributeError):
    """Raised where a real device pointer is needed but numba's simulator is running.

    It is also an AttributeError, so `hasattr(t, "__cuda_array_interface__")` is simply False.
    """


def _no_pointer(what: str) -> NoDevicePointerError:
    return NoDevicePointerError(
        f"{what} needs a real GPU: numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1) keeps device "
        "arrays in host memory and has no device pointers"
    )


def _tensor_dtype(dtype: np.dtype) -> np.dtype:
    """The supported dtype (float32, float64, int64, bool) that data of `dtype` becomes."""
    if dtype.kind == "f":
        return np.dtype(np.float64) if dtype == np.float64 else np.dtype(np.float32)
    if dtype.kind == "b":
        return np.dtype(np.bool_)
    if dtype.kind in "iu":
        return np.dtype(np.int64)
    raise TypeError(f"cannot make a CUDA tensor from device data of dtype {dtype}")


class CudaStorage:
    """Storage in GPU memory: 1-D numba device arrays."""

    device = "cuda"
    # random-number streams on the device, made from the package's host generator (seeded by
    # mt.manual_seed) the first time they are needed after each new seed
    _rng: tuple[Any, Any] | None = None

    @staticmethod
    def available() -> bool:
        """A usable GPU (or numba's simulator)."""
        try:
            return bool(cuda.is_available())
        except Exception:  # a broken driver install must not break `mt.backends.available`
            return False

    @staticmethod
    def empty(n: int, dtype: np.dtype) -> Any:
        n, dtype = max(int(n), 1), np.dtype(dtype)
        fast = memory.device_empty(n, dtype)
        return fast if fast is not None else cuda.device_array(n, dtype=dtype)

    @staticmethod
    def full(n: int, value: float, dtype: np.dtype) -> Any:
        """n elements equal to `value`, written by a kernel on the device (no host buffer)."""
        dtype = np.dtype(dtype)
        storage = CudaStorage.empty(n, dtype)
        # cast on the host exactly as np.full would (one scalar, not data), then fill on the device
        typed = np.full(1, value, dtype=dtype)[0]
        kernels.launch_1d(kernels.fill, storage.size, storage, typed, storage.size)
        return storage

    @staticmethod
    def arange(start: float, step: float, n: int, dtype: np.dtype) -> Any:
        """start, start + step, ... (n elements), computed on the device."""
        dtype = np.dtype(dtype)
        storage = CudaStorage.empty(n, dtype)
        first, delta = np.full(1, start, dtype=dtype)[0], np.full(1, step, dtype=dtype)[0]
        kernels.launch_1d(kernels.arange, storage.size, storage, first, delta, int(n))
        return storage

    @classmethod
    def uniform(cls, n: int, dtype: np.dtype, generator: np.random.Generator) -> Any:
        """n draws from U[0, 1) made on the device (dropout masks never cross from the host).

        The per-thread generator states are set up once per seed: that is the only copy.
        """
        from numba.cuda.random import create_xoroshiro128p_states

        if cls._rng is None or cls._rng[0] is not generator:
            seed = int(generator.integers(2**63))
            states = create_xoroshiro128p_states(kernels.RNG_BLOCKS * kernels.RNG_THREADS, seed=seed)
            cls._rng = (generator, states)
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            raise TypeError(f"uniform random numbers need a float dtype, not {dtype}")
        storage = CudaStorage.empty(n, dtype)
        kernel = kernels.uniform64 if dtype == np.float64 else kernels.uniform32
        kernels.launch(kernel, kernels.RNG_BLOCKS, kernels.RNG_THREADS, storage, cls._rng[1], int(n))
        return storage

    @staticmethod
    def from_numpy(array: np.ndarray) -> Any:
        """Copy host data to a new 1-D device array."""
        flat = np.ascontiguousarray(array).reshape(-1)
        if flat.size == 0:  # keep one (unused) element: zero-byte allocations are awkward
            return cuda.device_array(1, dtype=flat.dtype)
        return cuda.to_device(flat)

    @staticmethod
    def to_numpy(storage: Any) -> np.ndarray:
        """Copy a 1-D device array to the host."""
        return storage.copy_to_host()

    @staticmethod
    def array_interface(storage: Any, shape: tuple[int, ...], strides: tuple[int, ...]) -> dict[str, Any]:
        """`__cuda_array_interface__` (v3) of the strided view (shape, element strides) over `storage`."""
        if simulated():
            raise _no_pointer("__cuda_array_interface__")
        base = storage.__cuda_array_interface__  # the storage's own pointer (an offset view starts later)
        item = storage.dtype.itemsize
        interface = {
            "shape": tuple(int(s) for s in shape),
            "strides": tuple(int(s) * item for s in strides),
            "typestr": storage.dtype.str,
            "data": (int(base["data"][0] or 0), False),
            "version": 3,
        }
        if base.get("stream") is not None:
            interface["stream"] = base["stream"]  # consumers synchronise with our kernels' stream
        return interface

    @staticmethod
    def from_cuda_array(obj: Any, tensor_class: type, backend: Any) -> Any:
        """A tensor sharing the memory of `obj` (anything with `__cuda_array_interface__`).

        The storage is a 1-D device array spanning every element the view can reach; shape and
        element strides come from the interface. Other dtypes are converted on the device.
        """
        if simulated():
            raise _no_pointer("wrapping an object with __cuda_array_interface__")
        interface = obj.__cuda_array_interface__
        array = cuda.as_cuda_array(obj)  # validates the interface, synchronises its stream
        dtype, shape = array.dtype, tuple(int(s) for s in array.shape)
        item = dtype.itemsize
        if any(s % item for s in array.strides) or any(s < 0 for s in array.strides):
            raise ValueError(
                f"cannot wrap a CUDA array of shape {shape} with byte strides {array.strides}: "
                f"strides must be non-negative multiples of the item size {item}"
            )
        strides = tuple(int(s) // item for s in array.strides)
        span = 1 + sum((s - 1) * st for s, st in zip(shape, strides)) if all(shape) else 1
        flat = cuda.from_cuda_array_interface(
            {"shape": (span,), "strides": None, "typestr": dtype.str, "data": interface["data"], "version": 3},
            owner=obj,
            sync=False,
        )
        out = tensor_class(flat, shape, strides, backend)
        target = _tensor_dtype(dtype)
        if target != dtype:
            out = out._map(identity, dtype=target)  # a device-side cast into supported dtype
        return out
