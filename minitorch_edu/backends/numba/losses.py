"""Fused softmax cross-entropy kernels for tensors in main memory (numba CPU).

Composed from map/zip/reduce kernels, softmax cross-entropy on (N, C) logits is nine kernel
launches forward and two backward; for a classifier's small (128, 10) logits each launch costs
more than its arithmetic. These kernels do one pass per row:

    forward:   m = max_j x[i, j];  s = sum_j exp(x[i, j] - m)
               loss[i] = log(s) + m - x[i, t_i];   probs[i, j] = exp(x[i, j] - m) / s
    backward:  grad_x[i, j] = g[i] * (probs[i, j] - [j == t_i])

Rows are independent, so large batches split them over threads (`prange`); small ones run
serially, where waking the threads would cost more than the work.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .cache import variant  # first: before any cached kernel (compiled code per thread count)
from .norms import _blocks, _row_max, _row_sum, block_rows, exp

JIT = {"cache": True, "error_model": "numpy", "nogil": True, "fastmath": {"contract"}}
PARALLEL_FROM = 1 << 16  # logits (N * C) from which rows are split over threads


def _forward(loss, probs, x, target, n, c, blocks):  # noqa: ANN001, ANN202
    """loss (n,) and probs (n, c) from contiguous logits x (n, c) and class indices target (n,).
    The row steps are softmax's (norms.py): SIMD max, float32 exp for float32 rows, float64 sum."""
    for block in prange(blocks):
        for i in block_rows(block, blocks, n):
            xs, ps = x[i * c : (i + 1) * c], probs[i * c : (i + 1) * c]
            m = _row_max(xs)
            for j in range(c):
                ps[j] = exp(xs[j] - m)
            total = _row_sum(ps)
            inv = 1.0 / total
            for j in range(c):
                ps[j] = ps[j] * inv
            loss[i] = math.log(total) + m - xs[target[i]]


def _backward(gx, probs, target, g, g_step, n, c, blocks):  # noqa: ANN001, ANN202
    """gx (n, c) = g[i] * (probs - onehot(target)); g[i] is read at i * g_step (0 broadcasts a mean's)."""
    for block in prange(blocks):
        for i in block_rows(block, blocks, n):
            gi = g[i * g_step]
            out, ps = gx[i * c : (i + 1) * c], probs[i * c : (i + 1) * c]
            for j in range(c):
                out[j] = gi * ps[j]
            out[target[i]] -= gi


_kernels = {
    False: (njit(**JIT)(_forward), njit(**JIT)(_backward)),
    True: (njit(parallel=True, **JIT)(variant(_forward, "parallel")),
           njit(parallel=True, **JIT)(variant(_backward, "parallel"))),
}


def softmax_xent_forward(
    loss: np.ndarray, probs: np.ndarray, x: np.ndarray, target: np.ndarray, n: int, c: int
) -> None:
    parallel = n * c >= PARALLEL_FROM
    _kernels[parallel][0](loss, probs, x, target, n, c, _blocks(parallel))


def softmax_xent_backward(
    gx: np.ndarray, probs: np.ndarray, target: np.ndarray, g: np.ndarray, g_step: int, n: int, c: int
) -> None:
    parallel = n * c >= PARALLEL_FROM
    _kernels[parallel][1](gx, probs, target, g, g_step, n, c, _blocks(parallel))
