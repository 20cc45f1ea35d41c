"""Every layout path of the numba CPU kernels against NumPy, at sizes that reach the parallel paths.

The numba wrappers choose among flat, strided-row, tiled, long-row-split and serial kernels by
layout and size; each case here forces one of them (see backends/numba/cpu.py).
"""

from __future__ import annotations

import numpy as np
import pytest

import minitorch_edu as mt
from minitorch_edu.backends.numba import cpu as numba_cpu

N_LONG = numba_cpu.SERIAL_BELOW + numba_cpu.ROW // 2 + 3  # long, and not a multiple of ROW


def t(a):
    return mt.tensor(a, device="numba")


def test_a_long_strided_row_is_split_and_every_element_written():
    base = np.arange(2 * N_LONG, dtype=np.float32)
    x = t(base)[::2]  # one coalesced dim of stride 2
    np.testing.assert_array_equal((x * 2.0).numpy(), base[::2] * 2)
    np.testing.assert_array_equal(x.contiguous().numpy(), base[::2])
    np.testing.assert_array_equal((x + x).numpy(), base[::2] * 2)


def test_a_broadcast_scalar_fills_a_long_row():
    s = t(np.float32(1.5)).expand(N_LONG)
    np.testing.assert_array_equal(s.contiguous().numpy(), np.full(N_LONG, 1.5, np.float32))
    np.testing.assert_array_equal((s * 2).numpy(), np.full(N_LONG, 3.0, np.float32))


@pytest.mark.parametrize("layout", ["row-major", "a transposed", "b transposed", "both transposed", "a sliced"])
def test_matmul_reads_every_layout(layout):
    rng = np.random.default_rng(0)
    n, k, m = 67, 130, 259  # ragged against the 4-row tile and the K / column blocks
    A = rng.standard_normal((n, k)).astype(np.float32)
    B = rng.standard_normal((k, m)).astype(np.float32)
    a = t(A.T.copy()).T if "a transposed" in layout or "both" in layout else t(A)
    b = t(B.T.copy()).T if "b transposed" in layout or "both" in layout else t(B)
    if layout == "a sliced":
        a = t(np.repeat(A, 2, axis=1))[:, ::2]
    np.testing.assert_allclose((a @ b).numpy(), A.astype(np.float64) @ B, rtol=1e-4, atol=1e-3)


def test_batched_matmul_whose_batch_no_single_stride_walks():
    rng = np.random.default_rng(1)
    A = rng.standard_normal((4, 3, 6, 5)).astype(np.float32)
    B = rng.standard_normal((3, 5, 7)).astype(np.float32)
    a = t(A).permute(1, 0, 2, 3)  # batch strides (30, 90): copied first
    expected = np.transpose(A, (1, 0, 2, 3)) @ B[:, None]
    np.testing.assert_allclose((a @ t(B).unsqueeze(1)).numpy(), expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("dim", [0, 1])
def test_reductions_on_both_kernels(dim):
    X = np.random.default_rng(2).standard_normal((300, 257)).astype(np.float32)
    np.testing.assert_allclose(t(X).sum(dim).numpy(), X.astype(np.float64).sum(dim), rtol=1e-4, atol=1e-3)
    np.testing.assert_array_equal(t(X).max(dim).values.numpy(), X.max(dim))
