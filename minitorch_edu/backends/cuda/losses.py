"""Fused softmax cross-entropy kernels for device-resident (N, C) logits (numba.cuda).

The GPU twin of `numba_losses`, with the same wrapper names and arguments, so the loss picks
either by device. Composed from map/zip/reduce it would be eleven kernel launches per step (each
~28 us of host time on an H100, more than the arithmetic of a classifier's logits); here it is two.

- forward: one thread per row (rows are independent; a classifier's C is small), writing the
  row's loss and its softmax, which the backward pass reuses;
- backward: one thread per logit, grad_x[i, j] = g[i] * (probs[i, j] - [j == t_i]).
"""

from __future__ import annotations

import math
from typing import Any

from numba import cuda

from .kernels import launch_1d


@cuda.jit
def _forward(loss, probs, x, target, n, c):  # noqa: ANN001, ANN202
    for i in range(cuda.grid(1), n, cuda.gridsize(1)):
        base = i * c
        top = x[base]
        for j in range(1, c):
            top = max(top, x[base + j])
        total = x[base] - x[base]  # zero of x's dtype
        for j in range(c):
            e = math.exp(x[base + j] - top)
            probs[base + j] = e
            total += e
        for j in range(c):
            probs[base + j] /= total
        t = target[i]
        if 0 <= t < c:
            loss[i] = math.log(total) + top - x[base + t]
        else:  # never read past the row; the loss's deferred check names the bad class
            loss[i] = math.nan


@cuda.jit
def _backward(gx, probs, target, g, g_step, n, c):  # noqa: ANN001, ANN202
    for k in range(cuda.grid(1), n * c, cuda.gridsize(1)):
        i = k // c
        value = probs[k]
        if k - i * c == target[i]:
            value -= 1
        gx[k] = g[i * g_step] * value


def softmax_xent_forward(loss: Any, probs: Any, x: Any, target: Any, n: int, c: int) -> None:
    if n:
        launch_1d(_forward, n, loss, probs, x, target, n, c)


def softmax_xent_backward(gx: Any, probs: Any, target: Any, g: Any, g_step: int, n: int, c: int) -> None:
    if n * c:
        launch_1d(_backward, n * c, gx, probs, target, g, g_step, n, c)
