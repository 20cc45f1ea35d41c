"""Checking autograd against central finite differences, element by element."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .creation import tensor
from .tensor import Tensor


def numerical_grad(fn: Callable[..., Tensor], inputs: list[Tensor], i: int, eps: float) -> np.ndarray:
    """d sum(fn(inputs)) / d inputs[i] by central differences, computed in float64."""
    values = inputs[i].detach().numpy().astype(np.float64)
    grad = np.zeros_like(values)
    for pos in np.ndindex(values.shape):
        for sign in (1.0, -1.0):
            bumped = values.copy()
            bumped[pos] += sign * eps
            args = list(inputs)
            args[i] = tensor(bumped, dtype="float64", device=inputs[i].backend)
            grad[pos] += sign * float(fn(*args).sum().item())
    return grad / (2 * eps)


def grad_check(
    fn: Callable[..., Tensor], *inputs: Tensor, eps: float = 1e-6, rtol: float = 1e-4, atol: float = 1e-6
) -> bool:
    """Compare autograd's gradient of sum(fn(*inputs)) with central differences at every element.

    The check runs in float64 (inputs are copied). Raises AssertionError naming the input, the
    worst element and both values when some element's error exceeds atol + rtol * |numerical|.
    """
    xs = [x.detach().double().requires_grad_(True) for x in inputs]
    out = fn(*xs)
    out.sum().backward()
    for i, x in enumerate(xs):
        analytic = np.zeros(x.shape) if x.grad is None else x.grad.numpy().astype(np.float64)
        numeric = numerical_grad(fn, xs, i, eps)
        error = np.abs(analytic - numeric)
        bound = atol + rtol * np.abs(numeric)
        if np.any(error > bound) or not np.all(np.isfinite(analytic)):
            worst = np.unravel_index(np.argmax(error - bound), error.shape) if error.size else ()
            raise AssertionError(
                f"gradient check failed for input {i} (shape {x.shape}) at index {tuple(int(j) for j in worst)}: "
                f"autograd {analytic[worst]:.6g}, finite differences {numeric[worst]:.6g}"
            )
    return True
