"""Fused numba.cuda kernels (numba's CUDA simulator without a GPU): equal to eager, one launch."""

from __future__ import annotations

import numpy as np
import pytest

import minitorch_edu as mt
from minitorch_edu.graph import jit


@pytest.fixture(autouse=True)
def _needs_cuda(cuda_reason):
    if cuda_reason:
        pytest.skip(cuda_reason)


def f(x, b):
    return ((x * 2.0 + b).exp() - 1.0).tanh() * mt.where(x > 0.0, x, -x)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fused_cuda_kernel_equals_eager(dtype):
    rng = np.random.default_rng(0)
    x = mt.tensor(rng.standard_normal((3, 5)), dtype=dtype, device="cuda")
    b = mt.tensor(rng.standard_normal(5), dtype=dtype, device="cuda")
    jf = jit(f)
    np.testing.assert_allclose(jf(x, b).numpy(), f(x, b).numpy(), rtol=1e-6, atol=1e-7)
    assert len(jf.graph.groups) == 1 and jf.graph.kernels_per_call() == 1  # the detach of `x > 0` is a view
    before = jf.last.fused_launches
    x2 = mt.tensor(rng.standard_normal((3, 5)), dtype=dtype, device="cuda")
    out = jf(x2, b)
    assert out.device == "cuda" and jf.last.fused_launches == before + 1
    np.testing.assert_allclose(out.numpy(), f(x2, b).numpy(), rtol=1e-6, atol=1e-7)


def test_gradients_through_jit_on_cuda():
    rng = np.random.default_rng(1)
    grads = []
    for fn in (f, jit(f)):
        x = mt.tensor(rng.standard_normal((2, 3)) + 0.1, dtype="float64", device="cuda", requires_grad=True)
        b = mt.tensor(np.ones(3), dtype="float64", device="cuda", requires_grad=True)
        fn(x, b).sum().backward()
        grads.append((x.grad.numpy(), b.grad.numpy()))
        rng = np.random.default_rng(1)
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_fused_cuda_kernel_with_a_trailing_sum():
    def g(x, y):
        return ((x - y) * 2.0).tanh().sum(1)

    rng = np.random.default_rng(2)
    x = mt.tensor(rng.standard_normal((4, 6)), dtype="float64", device="cuda")
    y = mt.tensor(rng.standard_normal(6), dtype="float64", device="cuda")
    jg = jit(g)
    np.testing.assert_allclose(jg(x, y).numpy(), g(x, y).numpy(), rtol=1e-12)
    assert jg.graph.kernels_per_call() == 1
