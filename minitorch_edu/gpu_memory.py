"""Count what a numba.cuda kernel asks of a GPU's memory, in numba's CUDA simulator.

A GPU runs a block's threads in **warps** of 32 (consecutive `threadIdx.x` first), and each load or store
of a warp is one request to memory. Two numbers decide how fast those requests are served:

- **global memory** is read and written in 32-byte **sectors**: a request whose 32 threads read 32
  consecutive float32 (128 bytes) needs 4 sectors (coalesced); 32 floats a row apart need 32 sectors,
  eight times the traffic for the same data;
- **shared memory** is split into 32 **banks** of 4-byte words (word w is in bank w % 32): a request is
  served in one pass unless several threads of the warp want different words of the same bank, which
  then take a pass each (a **bank conflict**; the same word for many threads is one broadcast).

`counting_memory()` counts both while kernels run in the simulator, the way the popular GPU puzzles and
Nsight Compute's "sectors per request" and "bank conflicts" do:

    with counting_memory() as counts:
        kernel[grid, block](out, a)
    print(counts)            # a table: requests, sectors per request, bank conflicts
    counts.global_stores.sectors_per_request

A warp's request is the accesses its threads make at the same place of the kernel (the same line, the
same occurrence of it), so threads that skip an access (a bounds check) do not shift the others. A
device array is taken to start on a 256-byte boundary, as cudaMalloc's do.
"""

from __future__ import annotations

import os
import sys
import threading
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Access", "MemoryCounts", "counting_memory"]

WARP = 32
SECTOR_BYTES = 32
BANKS = 32
BANK_BYTES = 4


@dataclass
class Access:
    """The requests of one kind (global loads, global stores, shared loads, shared stores) of a launch."""

    requests: int = 0  # warp-wide loads or stores
    sectors: int = 0  # global memory: 32-byte sectors touched, summed over the requests
    ideal_sectors: int = 0  # the fewest sectors the same bytes could fit in
    passes: int = 0  # shared memory: passes needed, summed over the requests (1 per request without conflict)
    elements: int = 0  # thread accesses, summed over the requests

    @property
    def sectors_per_request(self) -> float:
        return self.sectors / self.requests if self.requests else 0.0

    @property
    def bank_conflicts(self) -> int:
        """Extra passes caused by bank conflicts (0 when every request is served in one pass)."""
        return self.passes - self.requests

    @property
    def coalesced(self) -> bool:
        """Whether the requests touch no more sectors than their bytes need."""
        return self.sectors <= self.ideal_sectors


@dataclass
class MemoryCounts:
    """What the kernels launched inside `counting_memory()` asked of global and shared memory."""

    global_loads: Access = field(default_factory=Access)
    global_stores: Access = field(default_factory=Access)
    shared_loads: Access = field(default_factory=Access)
    shared_stores: Access = field(default_factory=Access)

    def __str__(self) -> str:
        rows = [f"{'':14s} {'requests':>8s} {'sectors/request':>15s} {'(fewest)':>8s} {'bank conflicts':>14s}"]
        for name in ("global_loads", "global_stores"):
            a = getattr(self, name)
            fewest = a.ideal_sectors / a.requests if a.requests else 0.0
            rows.append(f"{name:14s} {a.requests:8d} {a.sectors_per_request:15.1f} {fewest:8.1f} {'':>14s}")
        for name in ("shared_loads", "shared_stores"):
            a = getattr(self, name)
            rows.append(f"{name:14s} {a.requests:8d} {'':>15s} {'':>8s} {a.bank_conflicts:14d}")
        return "\n".join(rows)

    __repr__ = __str__


def _root(array: np.ndarray) -> np.ndarray:
    while isinstance(array.base, np.ndarray):
        array = array.base
    return array


def _offset(array: np.ndarray, index) -> int | None:
    """Byte offset of array[index] from the start of its allocation; None unless index picks one element."""
    index = index if isinstance(index, tuple) else (index,)
    if len(index) != array.ndim or not all(isinstance(i, (int, np.integer)) for i in index):
        return None
    position = sum((int(i) % n) * s for i, n, s in zip(index, array.shape, array.strides))
    root = _root(array)
    return array.__array_interface__["data"][0] - root.__array_interface__["data"][0] + position


_SKIPPED = (os.path.abspath(__file__), os.path.join(os.path.dirname(os.path.abspath(__file__)), "races.py"))


def _where(frame) -> tuple:
    """The kernel's line that made an access: the first caller outside these counting and scheduling hooks."""
    while frame is not None and os.path.abspath(frame.f_code.co_filename) in _SKIPPED:
        frame = frame.f_back
    return (frame.f_code, frame.f_lineno) if frame is not None else (None, 0)


class _Recorder:
    """Collects (kind, request key, lane, allocation, byte offset, size) from the simulator's threads."""

    def __init__(self) -> None:
        self.records: list[tuple] = []

    def record(self, kind: str, array: np.ndarray, index, frame) -> None:
        thread = threading.current_thread()
        if not hasattr(thread, "thread_id"):  # not a kernel thread
            return
        offset = _offset(array, index)
        if offset is None:
            return
        seen = thread.__dict__.setdefault("_memory_occurrences", defaultdict(int))
        site = (kind, *_where(frame))
        occurrence = seen[site]
        seen[site] += 1
        block = tuple(thread.blockIdx)
        warp, lane = divmod(thread.thread_id, WARP)
        key = (site, occurrence, block, warp)
        self.records.append((kind, key, lane, id(_root(array)), offset, array.itemsize))

    def counts(self) -> MemoryCounts:
        requests: dict[tuple, list[tuple]] = defaultdict(list)
        for kind, key, lane, allocation, offset, size in self.records:
            requests[(kind, key)].append((lane, allocation, offset, size))
        counts = MemoryCounts()
        for (kind, _), accesses in requests.items():
            access = getattr(counts, kind)
            access.requests += 1
            access.elements += len(accesses)
            if kind.startswith("global"):
                sectors = {(alloc, b // SECTOR_BYTES) for _, alloc, off, size in accesses
                           for b in range(off, off + size, min(size, SECTOR_BYTES))}
                access.sectors += len(sectors)
                distinct = {(alloc, off) for _, alloc, off, _ in accesses}
                access.ideal_sectors += -(-len(distinct) * accesses[0][3] // SECTOR_BYTES)
            else:
                access.passes += _passes(accesses)
        return counts


def _passes(accesses: list[tuple]) -> int:
    """Passes a shared-memory request needs: the most distinct words any bank is asked for (8-byte
    elements are served half a warp at a time)."""
    size = accesses[0][3]
    groups = defaultdict(list)
    for lane, allocation, offset, _ in accesses:
        groups[lane // (WARP // 2) if size == 8 else 0].append((allocation, offset))
    passes = 0
    for group in groups.values():
        words_in_bank: dict[int, set] = defaultdict(set)
        for allocation, offset in group:
            for word in range(offset // BANK_BYTES, (offset + size - 1) // BANK_BYTES + 1):
                words_in_bank[word % BANKS].add((allocation, word))
        passes += max(len(words) for words in words_in_bank.values())
    return passes


class _TrackedShared(np.ndarray):
    """A shared array of the simulator whose element reads and writes are recorded."""

    recorder: _Recorder | None = None

    def __getitem__(self, index):
        if _TrackedShared.recorder is not None:
            _TrackedShared.recorder.record("shared_loads", self.view(np.ndarray), index, sys._getframe(1))
        return np.ndarray.__getitem__(self, index)

    def __setitem__(self, index, value) -> None:
        if _TrackedShared.recorder is not None:
            _TrackedShared.recorder.record("shared_stores", self.view(np.ndarray), index, sys._getframe(1))
        np.ndarray.__setitem__(self, index, value)


@contextmanager
def counting_memory() -> Iterator[MemoryCounts]:
    """Count the global-memory sectors and shared-memory bank conflicts of the kernels launched inside.

    Only in numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1): on a real GPU use Nsight Compute. The counts
    are filled in when the block ends."""
    if os.environ.get("NUMBA_ENABLE_CUDASIM") != "1":
        raise RuntimeError("counting_memory() needs numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1 before numba "
                           "is imported); on a GPU, Nsight Compute reports the same counts")
    from numba.core import types
    from numba.cuda.simulator import kernelapi  # only importable when the simulator is on
    from numba.cuda.simulator.cudadrv import devicearray as simulated
    from numba.np import numpy_support

    recorder = _Recorder()
    counts = MemoryCounts()
    array_class = simulated.FakeWithinKernelCUDAArray
    get, put = array_class.__getitem__, array_class.__setitem__
    shared_array = kernelapi.FakeCUDAShared.array

    def counted_get(array, index):
        recorder.record("global_loads", array._item._ary, index, sys._getframe(1))
        return get(array, index)

    def counted_put(array, index, value) -> None:
        recorder.record("global_stores", array._item._ary, index, sys._getframe(1))
        put(array, index, value)

    def tracked_shared(self, shape, dtype, alignment=None):
        if shape == 0 or alignment is not None:  # dynamic shared memory, or refused: the simulator's own way
            return shared_array(self, shape, dtype, alignment)
        # one array per line of the kernel, shared by the block's threads, as the simulator does (its own
        # lookup would see this wrapper's line for every array)
        caller = sys._getframe(1)
        allocations = self.__dict__.setdefault("_counted_allocations", {})
        key = (caller.f_code.co_filename, caller.f_lineno)
        if key not in allocations:
            allocations[key] = np.empty(shape, numpy_support.as_dtype(dtype) if isinstance(dtype, types.Type)
                                        else dtype)
        return allocations[key].view(_TrackedShared)

    array_class.__getitem__, array_class.__setitem__ = counted_get, counted_put
    kernelapi.FakeCUDAShared.array = tracked_shared
    _TrackedShared.recorder = recorder
    try:
        yield counts
    finally:
        array_class.__getitem__, array_class.__setitem__ = get, put
        kernelapi.FakeCUDAShared.array = shared_array
        _TrackedShared.recorder = None
        found = recorder.counts()
        for name in ("global_loads", "global_stores", "shared_loads", "shared_stores"):
            setattr(counts, name, getattr(found, name))
