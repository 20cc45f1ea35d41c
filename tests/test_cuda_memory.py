"""The caching GPU allocator: its bookkeeping, and its glue to numba's memory-manager plugin
interface driven through numba's real pointer classes with the driver calls replaced."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from minitorch_edu.backends.cuda.memory import GRANULE, BlockCache, rounded


class FakeDriver:
    def __init__(self, capacity: int = 1 << 20) -> None:
        self.capacity, self.used, self.next, self.live, self.allocs = capacity, 0, 4096, {}, 0

    def alloc(self, size: int) -> int:
        if self.used + size > self.capacity:
            raise MemoryError("out of memory")
        self.allocs += 1
        self.used += size
        ptr, self.next = self.next, self.next + size
        self.live[ptr] = size
        return ptr

    def free(self, ptr: int) -> None:
        self.used -= self.live.pop(ptr)


def cache_on(driver: FakeDriver) -> BlockCache:
    return BlockCache(driver.alloc, driver.free, lambda exc: isinstance(exc, MemoryError))


def test_sizes_round_up_to_the_granule() -> None:
    assert rounded(1) == GRANULE and rounded(GRANULE) == GRANULE and rounded(GRANULE + 1) == 2 * GRANULE


def test_a_returned_block_is_reused_for_the_same_rounded_size_only() -> None:
    driver = FakeDriver()
    cache = cache_on(driver)
    ptr, block = cache.take(1000)
    cache.give(ptr, block)
    assert cache.take(900) == (ptr, block)  # 900 and 1000 both round to 1024: no new allocation
    assert driver.allocs == 1
    other, _ = cache.take(5000)
    assert other != ptr and driver.allocs == 2


def test_out_of_memory_frees_the_cached_blocks_and_retries() -> None:
    driver = FakeDriver(capacity=4 * GRANULE)
    cache = cache_on(driver)
    blocks = [cache.take(GRANULE) for _ in range(3)]
    for ptr, size in blocks:
        cache.give(ptr, size)
    assert cache.cached_bytes == 3 * GRANULE
    ptr, size = cache.take(3 * GRANULE)  # only fits once the three cached blocks are freed
    assert size == 3 * GRANULE and cache.cached_bytes == 0 and list(driver.live) == [ptr]
    with pytest.raises(MemoryError):
        cache.take(8 * GRANULE)  # does not fit even then: the driver's error comes through


def test_other_driver_errors_are_not_swallowed() -> None:
    def broken(size: int) -> int:
        raise RuntimeError("driver gone")

    cache = BlockCache(broken, lambda ptr: None, lambda exc: isinstance(exc, MemoryError))
    with pytest.raises(RuntimeError, match="driver gone"):
        cache.take(10)


def test_numba_plugin_glue_reuses_freed_memory() -> None:
    """numba's real memory-manager classes (outside the simulator, which replaces them), with
    only the three driver calls faked: arrays' pointers and views keep a block; the last one
    gone returns it to the cache, and the next allocation of that size gets it back."""
    script = textwrap.dedent(
        """
        import gc
        from numba.cuda.cudadrv import driver as D
        from minitorch_edu.backends.cuda import memory as M

        class Fake:
            def __init__(self):
                self.next, self.live, self.allocs = 4096, set(), 0
            def cuMemAlloc(self, n):
                self.allocs += 1; p = self.next; self.next += n; self.live.add(p); return p
            def cuMemFree(self, p):
                self.live.remove(p)
            def cuMemGetInfo(self):
                return (1 << 30, 1 << 31)

        fake = D.driver = Fake()
        manager = M._manager_class()(context=type("Ctx", (), {})())
        manager.initialize()
        assert manager.interface_version == 1
        p = manager.memalloc(1000)
        first = p.device_pointer
        view = p.view(0, 500)
        del p; gc.collect()
        assert manager.cache.cached_bytes == 0, "a view still uses the block"
        del view; gc.collect()
        assert manager.cache.cached_bytes == 1024
        q = manager.memalloc(900)
        assert q.device_pointer == first and fake.allocs == 1
        del q; gc.collect()
        # storage allocations skip numba's context checks once this manager is live, in its thread
        import threading
        import numpy as np
        arr = M.device_empty(200, np.dtype(np.float32))  # 800 bytes: the 1024-byte block
        assert arr.shape == (200,) and arr.strides == (4,) and arr.dtype == np.float32
        assert arr.device_ctypes_pointer.value == first and fake.allocs == 1  # the cached block again
        other = []
        worker = threading.Thread(target=lambda: other.append(M.device_empty(3, np.dtype(np.float32))))
        worker.start(); worker.join()
        assert other == [None], "another thread must go through numba (which makes its context current)"
        del arr; gc.collect()
        assert manager.cache.cached_bytes == 1024
        manager.reset()
        assert fake.live == set(), fake.live
        assert M.device_empty(3, np.dtype(np.float32)) is None, "a reset manager hands out nothing"
        print("ok")
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]
