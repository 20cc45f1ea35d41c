"""Fused optimizer updates for tensors in main memory (numba CPU): one pass per parameter.

Composed from zip kernels, Adam is about a dozen passes over each parameter (and temporaries);
for the many small tensors of a model each kernel call also costs more than its arithmetic.
These loops read each element once (the formulas are in `base.Backend.axpby` / `adam_step` /
`rmsprop_step`).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

import minitorch_edu.backends.numba.cache  # noqa: F401  (before any cached kernel: compiled code per thread count)

JIT = {"cache": True, "error_model": "numpy", "nogil": True}


@njit(fastmath=True, **JIT)
def _axpby(y, x, alpha, beta, n):  # noqa: ANN001, ANN202
    for i in range(n):
        y[i] = beta * y[i] + alpha * x[i]


@njit(**JIT)
def _adam(p, g, m, v, vmax, amsgrad, n, beta1, beta2, eps, sqrt_bias2, step_size):  # noqa: ANN001, ANN202
    for i in range(n):
        gi = g[i]
        mi = beta1 * m[i] + (1 - beta1) * gi
        vi = beta2 * v[i] + (1 - beta2) * (gi * gi)
        m[i] = mi
        v[i] = vi
        if amsgrad:
            if vmax[i] > vi:
                vi = vmax[i]
            vmax[i] = vi
        p[i] -= mi / (math.sqrt(vi) / sqrt_bias2 + eps) * step_size


@njit(**JIT)
def _rmsprop(p, g, v, a, buf, centered, use_momentum, n, lr, alpha, eps, momentum):  # noqa: ANN001, ANN202
    for i in range(n):
        gi = g[i]
        vi = alpha * v[i] + (1 - alpha) * (gi * gi)
        v[i] = vi
        if centered:
            ai = alpha * a[i] + (1 - alpha) * gi
            a[i] = ai
            vi = vi - ai * ai
        step = gi / (math.sqrt(vi) + eps)
        if use_momentum:
            bi = momentum * buf[i] + step
            buf[i] = bi
            step = bi
        p[i] -= lr * step


def axpby(y: np.ndarray, x: np.ndarray, alpha: float, beta: float, n: int) -> None:
    """y = beta * y + alpha * x over n elements, in y's dtype (float32 stays float32)."""
    t = y.dtype.type
    _axpby(y, x, t(alpha), t(beta), n)


def adam_step(
    p: np.ndarray,
    g: np.ndarray,
    exp_avg: np.ndarray,
    exp_avg_sq: np.ndarray,
    max_exp_avg_sq: np.ndarray | None,
    n: int,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    step: int,
) -> None:
    t = p.dtype.type
    amsgrad = max_exp_avg_sq is not None
    vmax = max_exp_avg_sq if amsgrad else p  # unread without amsgrad
    sqrt_bias2, step_size = math.sqrt(1.0 - beta2**step), lr / (1.0 - beta1**step)
    _adam(p, g, exp_avg, exp_avg_sq, vmax, amsgrad, n, t(beta1), t(beta2), t(eps), t(sqrt_bias2), t(step_size))


def rmsprop_step(
    p: np.ndarray,
    g: np.ndarray,
    square_avg: np.ndarray,
    grad_avg: np.ndarray | None,
    buf: np.ndarray | None,
    n: int,
    lr: float,
    alpha: float,
    eps: float,
    momentum: float,
) -> None:
    t = p.dtype.type
    centered, use_momentum = grad_avg is not None, buf is not None
    a = grad_avg if centered else p  # unread when not centered
    b = buf if use_momentum else p  # unread without momentum
    _rmsprop(p, g, square_avg, a, b, centered, use_momentum, n, t(lr), t(alpha), t(eps), t(momentum))
