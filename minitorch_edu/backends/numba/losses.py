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

import minitorch_edu.backends.numba.cache  # noqa: F401  (before any cached kernel: compiled code per thread count)

JIT = {"cache": True, "error_model": "numpy", "nogil": True}
PARALLEL_FROM = 1 << 16  # logits (N * C) from which rows are split over threads


def _forward(loss, probs, x, target, n, c):  # noqa: ANN001, ANN202
    """loss (n,) and probs (n, c) from contiguous logits x (n, c) and class indices target (n,)."""
    for row in prange(n):
        i = np.int64(row)  # prange indices are unsigned: keep the index arithmetic signed
        xs = x[i * c : (i + 1) * c]
        ps = probs[i * c : (i + 1) * c]
        top = xs[0]
        for j in range(1, c):
            top = max(top, xs[j])
        total = xs[0] - xs[0]  # zero of x's dtype: float32 rows stay float32
        for j in range(c):
            e = math.exp(xs[j] - top)
            ps[j] = e
            total += e
        for j in range(c):
            ps[j] /= total
        loss[i] = math.log(total) + top - xs[target[i]]


def _backward(gx, probs, target, g, g_step, n, c):  # noqa: ANN001, ANN202
    """gx (n, c) = g[i] * (probs - onehot(target)); g[i] is read at i * g_step (0 broadcasts a mean's)."""
    for row in prange(n):
        i = np.int64(row)
        gi = g[i * g_step]
        out = gx[i * c : (i + 1) * c]
        ps = probs[i * c : (i + 1) * c]
        for j in range(c):
            out[j] = gi * ps[j]
        out[target[i]] -= gi


_kernels = {
    parallel: (njit(parallel=parallel, **JIT)(_forward), njit(parallel=parallel, **JIT)(_backward))
    for parallel in (False, True)
}


def softmax_xent_forward(
    loss: np.ndarray, probs: np.ndarray, x: np.ndarray, target: np.ndarray, n: int, c: int
) -> None:
    _kernels[n * c >= PARALLEL_FROM][0](loss, probs, x, target, n, c)


def softmax_xent_backward(
    gx: np.ndarray, probs: np.ndarray, target: np.ndarray, g: np.ndarray, g_step: int, n: int, c: int
) -> None:
    _kernels[n * c >= PARALLEL_FROM][1](gx, probs, target, g, g_step, n, c)
