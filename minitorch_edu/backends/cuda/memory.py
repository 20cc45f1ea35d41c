"""A caching allocator for GPU memory, plugged into numba.cuda (what PyTorch's CUDA allocator does).

Every tensor op allocates its output, and a training step makes dozens of short-lived device
arrays. numba's own memory manager calls `cuMemAlloc` for each and queues their `cuMemFree`s,
flushing the queue every 10 frees; `cuMemFree` may wait for the whole device to go idle, which
stops the host from queueing kernels ahead of the GPU several times per step.

This allocator keeps freed blocks in per-size free lists and hands them out again. Reuse is safe
without any synchronisation because every kernel runs on one stream, in order: a kernel queued
after a block was freed runs after every kernel that used the block before.

`BlockCache` is the bookkeeping (pure Python, tested on any machine); `CachingMemoryManager` is
the glue to numba's External Memory Management plugin interface, installed by
`install()` for real GPUs before the first CUDA context exists. Set MINITORCH_EDU_CUDA_ALLOCATOR=numba
to keep numba's own manager (for comparison).
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

GRANULE = 512  # bytes: sizes are rounded up to this, so tensors of nearly equal size share blocks


def rounded(size: int) -> int:
    return max(GRANULE, (int(size) + GRANULE - 1) // GRANULE * GRANULE)


class BlockCache:
    """Free device blocks by size. `alloc(size)` and `free(ptr)` talk to the driver; `take`
    prefers a cached block, and when the driver is out of memory it frees every cached block
    and tries once more."""

    def __init__(self, alloc: Callable[[int], Any], free: Callable[[Any], None], is_oom: Callable[[Exception], bool]):
        self._alloc, self._free, self._is_oom = alloc, free, is_oom
        self._blocks: dict[int, list[Any]] = {}
        self._lock = threading.Lock()
        self.cached_bytes = 0

    def take(self, size: int) -> tuple[Any, int]:
        """(pointer, block size) for at least `size` bytes."""
        size = rounded(size)
        with self._lock:
            same = self._blocks.get(size)
            if same:
                self.cached_bytes -= size
                return same.pop(), size
        try:
            return self._alloc(size), size
        except Exception as exc:
            if not self._is_oom(exc):
                raise
            self.release()
            return self._alloc(size), size

    def give(self, ptr: Any, size: int) -> None:
        """Return a block (its array was garbage-collected) for reuse."""
        with self._lock:
            self._blocks.setdefault(size, []).append(ptr)
            self.cached_bytes += size

    def release(self) -> int:
        """Free every cached block (back to the driver); returns the bytes freed."""
        with self._lock:
            blocks, self._blocks = self._blocks, {}
            freed, self.cached_bytes = self.cached_bytes, 0
        for same in blocks.values():
            for ptr in same:
                self._free(ptr)
        return freed


def _manager_class() -> type:
    """The EMM plugin class (built lazily: the driver module needs numba's real CUDA target)."""
    from numba.cuda.cudadrv import driver as D

    class CachingMemoryManager(D.GetIpcHandleMixin, D.HostOnlyCUDAMemoryManager):
        """numba EMM plugin: device allocations go through a `BlockCache`."""

        def initialize(self) -> None:
            global _active, _DeviceNDArray  # noqa: PLW0603
            from numba.cuda.cudadrv.devicearray import DeviceNDArray

            _DeviceNDArray = DeviceNDArray  # kept here: device_empty runs once per tensor op
            self.cache = BlockCache(D.driver.cuMemAlloc, D.driver.cuMemFree, _out_of_memory)
            if self.deallocations.memory_capacity == D._SizeNotSet:
                self.deallocations.memory_capacity = self.get_memory_info().total
            _active = (self, threading.get_ident())

        def memalloc(self, size: int) -> Any:
            ptr, block = self.cache.take(size)
            cache, allocations = self.cache, self.allocations

            def finalizer() -> None:  # the last array using the block is gone: the block goes back
                allocations.pop(ptr, None)
                cache.give(ptr, block)

            # as in numba's own manager: `allocations` keeps the pointer alive, and the arrays hold
            # counted references to it (`own()`); the count reaching zero runs the finalizer
            mem = D.AutoFreePointer(weakref.proxy(self.context), ptr, size, finalizer=finalizer)
            allocations[ptr] = mem
            return mem.own()

        def get_memory_info(self) -> Any:
            free, total = D.driver.cuMemGetInfo()
            return D.MemoryInfo(free=free, total=total)

        def reset(self) -> None:
            global _active  # noqa: PLW0603
            _active = None
            super().reset()
            self.cache.release()

        @property
        def interface_version(self) -> int:
            return D._SUPPORTED_EMM_INTERFACE_VERSION

    return CachingMemoryManager


def _out_of_memory(exc: Exception) -> bool:
    from numba.cuda.cudadrv import driver as D

    return isinstance(exc, D.CudaAPIError) and exc.code == D.binding.CUresult.CUDA_ERROR_OUT_OF_MEMORY


_installed: bool | None = None
_active: Any = None  # (manager, thread) of the live context, once numba has initialised it
_DeviceNDArray: Any = None  # numba's device array class, imported when the manager starts


def device_empty(n: int, dtype: np.dtype) -> Any:
    """A 1-D device array of `n` (>= 1) elements from the cache, without `cuda.device_array`'s
    context checks (two driver queries per call, more than the rest of a small op); None until
    the caching manager is live, and in other threads (where numba makes its context current)."""
    active = _active
    if active is None or active[1] != threading.get_ident():
        return None
    return _DeviceNDArray((n,), (dtype.itemsize,), dtype, gpu_data=active[0].memalloc(n * dtype.itemsize))


def install() -> bool:
    """Make numba use the caching allocator for contexts created from now on (real GPUs only;
    numba's simulator has no driver). Returns whether it is in use."""
    global _installed  # noqa: PLW0603
    if _installed is None:
        from .kernels import SIMULATED

        wanted = os.environ.get("MINITORCH_EDU_CUDA_ALLOCATOR", "caching") != "numba"
        _installed = False
        if wanted and not SIMULATED:
            from numba import cuda

            cuda.set_memory_manager(_manager_class())
            _installed = True
    return _installed
