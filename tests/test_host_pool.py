"""The host buffer pool: a large buffer is handed out again only once nothing else refers to it."""

from __future__ import annotations

import numpy as np
import pytest

import minitorch_edu as mt
from minitorch_edu.backends import host_pool

BIG = host_pool.MIN_BYTES // 4  # float32 elements: the smallest pooled array


@pytest.fixture(autouse=True)
def _empty_pool() -> None:
    host_pool.release()


def test_the_pool_is_active_on_this_interpreter() -> None:
    assert host_pool.MIN_BYTES < 1 << 30, "the reference-count self-check disabled the pool"


def test_a_free_buffer_is_reused_and_a_held_one_never() -> None:
    first = host_pool.empty(BIG, np.dtype(np.float32))
    second = host_pool.empty(BIG, np.dtype(np.float32))
    assert not np.shares_memory(first, second)  # `first` is alive
    view = first[10:20]
    del first
    third = host_pool.empty(BIG, np.dtype(np.float32))
    assert not np.shares_memory(third, view)  # a view of it is still alive
    assert not np.shares_memory(third, second)
    del view, third
    again = host_pool.empty(BIG, np.dtype(np.int32))  # same bytes, another dtype: reused
    assert again.dtype == np.int32 and again.size == BIG


def test_small_arrays_bypass_the_pool_and_capacity_is_respected(monkeypatch: pytest.MonkeyPatch) -> None:
    small = host_pool.empty(16, np.dtype(np.float64))
    assert small.base is None
    monkeypatch.setattr(host_pool, "CAPACITY", host_pool._held + host_pool.MIN_BYTES)
    kept = host_pool.empty(BIG, np.dtype(np.float32))
    unpooled = host_pool.empty(BIG, np.dtype(np.float32))  # over capacity: a plain allocation
    assert kept.base is not None and unpooled.base is not None
    assert host_pool._held <= host_pool.CAPACITY
    assert host_pool.release() == 0  # `kept` is in use: nothing to free
    del kept
    assert host_pool.release() == host_pool.MIN_BYTES


def test_tensors_and_saved_activations_keep_their_buffers() -> None:
    """Values computed earlier in a graph must survive later allocations of the same size."""
    a = mt.tensor(np.arange(BIG, dtype=np.float32), requires_grad=True)
    b = a * 2.0  # saved by the product below
    c = (b * b).sum()
    expected_b = np.arange(BIG, dtype=np.float32) * 2.0
    for _ in range(3):  # churn through same-sized temporaries
        (mt.ones(BIG) + 1.0).sum()
    np.testing.assert_array_equal(b.numpy(), expected_b)
    c.backward()
    np.testing.assert_allclose(a.grad.numpy(), 8.0 * np.arange(BIG, dtype=np.float32))
    exported = b.numpy()  # a NumPy view handed to the user holds the buffer too
    del b, c
    for _ in range(3):
        (mt.ones(BIG) * 5.0).sum()
    np.testing.assert_array_equal(exported, expected_b)


def test_threads_never_share_a_buffer() -> None:
    """Many threads allocating and filling same-sized arrays: each array keeps what its thread wrote."""
    import threading

    failures = []

    def worker(value: int) -> None:
        for _ in range(200):
            array = host_pool.empty(BIG, np.dtype(np.float32))
            array.fill(value)
            if not (array[:: BIG // 16] == value).all():
                failures.append(value)
            del array

    threads = [threading.Thread(target=worker, args=(v,)) for v in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


def test_very_large_arrays_are_not_pooled() -> None:
    huge = host_pool.empty(host_pool.MAX_BYTES // 4 + 1, np.dtype(np.float32))
    assert huge.base is None  # a plain allocation, freed when dropped
