"""The course's race schedules and GPU memory counters (`minitorch_edu.races`, `minitorch_edu.gpu_memory`).

Each check is run on a right kernel and on the wrong one it exists to catch: the wrong one must be caught
on every run, the right one never. The CUDA parts run in numba's simulator (tests/conftest.py).
"""

from __future__ import annotations

import numba
import numpy as np
import pytest
from numba import cuda, njit, prange

from minitorch_edu.gpu_memory import counting_memory
from minitorch_edu.races import DivergentBarrierError, in_thread_order, paired, shared_writes, simulated

needs_simulator = pytest.mark.skipif(not simulated(), reason="the counters and schedules need numba's simulator")


@njit
def _to_index(ordinal, shape, index):
    rest = ordinal  # a copy: the caller's prange index must stay as it is
    for d in range(len(shape) - 1, -1, -1):
        index[d] = rest % shape[d]
        rest //= shape[d]


@njit(parallel=True)
def _rows_private(out, a, shape):
    for i in prange(shape[0] * shape[1]):
        index = np.empty(2, np.int64)  # one per iteration
        _to_index(i, shape, index)
        out[i] = a[index[1] * shape[0] + index[0]]


@njit(parallel=True)
def _rows_shared(out, a, shape):
    index = np.empty(2, np.int64)  # one for every thread: a race
    for i in prange(shape[0] * shape[1]):
        _to_index(i, shape, index)
        out[i] = a[index[1] * shape[0] + index[0]]


@njit(parallel=True)
def _sum_rows(out, a, f):
    for i in prange(a.shape[0]):  # one thread per output: right
        acc = out[i]
        for j in range(a.shape[1]):
            acc = f(acc, a[i, j])
        out[i] = acc


@njit(parallel=True)
def _sum_rows_racy(out, a, f):
    for i in range(a.shape[0]):
        for j in prange(a.shape[1]):  # the threads fold into the same out[i]: updates are lost
            out[i] = f(out[i], a[i, j])


def _add(x, y):
    return x + y


def _sums(loop, fn):
    a = np.arange(2 * 32, dtype=np.float64).reshape(2, 32)
    out = np.zeros(2)
    saved = numba.get_num_threads()
    numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
    try:
        loop(out, a, numba.cfunc(numba.float64(numba.float64, numba.float64))(fn))
    finally:
        numba.set_num_threads(saved)
    return out, a.sum(1)


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="a race needs two threads")
def test_paired_makes_a_lost_update_show_on_every_run() -> None:
    for _ in range(3):
        out, expected = _sums(_sum_rows, paired(_add))
        np.testing.assert_allclose(out, expected)
        out, expected = _sums(_sum_rows_racy, paired(_add))
        assert (out < expected).all()  # each meeting of the two threads lost one addition


def test_shared_writes_names_the_shared_buffer() -> None:
    signature = "(float64[::1], float64[::1], int64[::1])"
    _rows_private.compile(signature)
    _rows_shared.compile(signature)  # compiled only: running it races (and numba 0.68 may crash on it)
    assert shared_writes(_rows_private) == set()
    assert shared_writes(_rows_shared) == {"index"}
    _sums(_sum_rows_racy, _add)
    assert shared_writes(_sum_rows_racy) == set()  # out is the kernel's own: its race is found by running it


def test_paired_refuses_other_arities() -> None:
    with pytest.raises(ValueError, match="1 or 2 arguments"):
        paired(lambda: 0.0)


@cuda.jit
def _block_sum(out, a):
    cache = cuda.shared.array(8, numba.float64)
    t = cuda.threadIdx.x
    cache[t] = a[t]
    cuda.syncthreads()
    stride = 4
    while stride > 0:
        if t < stride:
            cache[t] += cache[t + stride]
        cuda.syncthreads()
        stride //= 2
    if t == 0:
        out[0] = cache[0]


@cuda.jit
def _block_sum_divergent(out, a):
    cache = cuda.shared.array(8, numba.float64)
    t = cuda.threadIdx.x
    cache[t] = a[t]
    cuda.syncthreads()
    stride = 4
    while stride > 0:
        if t < stride:
            cache[t] += cache[t + stride]
            cuda.syncthreads()  # only the threads inside the if reach it
        stride //= 2
    if t == 0:
        out[0] = cache[0]


@needs_simulator
def test_in_thread_order_refuses_a_barrier_only_some_threads_reach() -> None:
    a, out = np.arange(8.0), np.zeros(1)
    with in_thread_order():
        _block_sum[1, 8](out, a)
    assert out[0] == 28.0
    with pytest.raises(DivergentBarrierError, match="only some threads"), in_thread_order():
        _block_sum_divergent[1, 8](out, a)


@cuda.jit
def _fold_each_element(out, a):
    i = cuda.grid(1)
    if i < a.shape[0]:
        out[0] = out[0] + a[i]  # a read-modify-write race on out[0]


@needs_simulator
def test_turns_at_global_memory_lose_updates_every_time() -> None:
    a = np.ones(4)
    for _ in range(2):
        out = np.zeros(1)
        with in_thread_order(turns_at_global_memory=True):
            _fold_each_element[1, 4](out, a)
        assert out[0] == 1.0  # every thread read 0 before any wrote


@cuda.jit
def _copy_along_rows(out, a):
    i, j = cuda.threadIdx.y, cuda.threadIdx.x
    out[i, j] = a[i, j]


@cuda.jit
def _copy_down_columns(out, a):
    i, j = cuda.threadIdx.x, cuda.threadIdx.y
    out[i, j] = a[i, j]


@cuda.jit
def _column_of_tile(out, a, pad):
    tile = cuda.shared.array((32, 33), numba.float32)
    tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
    width = 32 + pad
    for k in range(0, 32, 4):
        tile[ty + k, tx] = a[ty + k, tx]
    cuda.syncthreads()
    for k in range(0, 32, 4):
        # a column of the tile: word tx * width + ty + k; without the pad all 32 lanes hit bank ty + k
        flat = tx * width + ty + k
        out[ty + k, tx] = tile[flat // 33, flat % 33]


@needs_simulator
def test_counting_memory_counts_sectors_and_bank_conflicts() -> None:
    a = np.arange(32 * 32, dtype=np.float32).reshape(32, 32)
    out = np.zeros_like(a)
    with counting_memory() as along:
        _copy_along_rows[1, (32, 2)](out, a)
    with counting_memory() as down:
        _copy_down_columns[1, (32, 2)](out, a)
    assert (along.global_loads.requests, along.global_loads.sectors_per_request) == (2, 4.0)
    assert along.global_loads.coalesced and along.global_stores.coalesced
    assert (down.global_loads.requests, down.global_loads.sectors_per_request) == (2, 32.0)
    assert not down.global_stores.coalesced
    with counting_memory() as padded, in_thread_order():
        _column_of_tile[1, (32, 4)](out, a, 1)
    np.testing.assert_array_equal(out, a.T)
    with counting_memory() as unpadded, in_thread_order():
        _column_of_tile[1, (32, 4)](out, a, 0)
    assert padded.shared_loads.requests == unpadded.shared_loads.requests == 32
    assert padded.shared_loads.bank_conflicts == 0
    assert unpadded.shared_loads.bank_conflicts > 0
    assert "bank conflicts" in str(padded)
