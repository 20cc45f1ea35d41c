"""Autograd behaviour: accumulation, no_grad, detach, explicit gradients, deep chains, shared inputs."""

from __future__ import annotations

import sys
import time

import numpy as np
import pytest

import minitorch_edu as mt


def test_gradients_accumulate_over_two_backward_calls(make):
    x = make([1.0, 2.0, 3.0], requires_grad=True)
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0, 6.0])
    (x * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [5.0, 7.0, 9.0])
    x.zero_grad()
    assert x.grad is None
    (x * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0, 3.0])


def test_two_backward_calls_on_one_graph_add_the_same_gradients_again_as_in_pytorch(make):
    """Each call propagates its own gradients: interior nodes' accumulated .grad is never re-sent."""
    import torch

    a = make([3.0], requires_grad=True)
    sq = a * a
    sq.retain_grad()
    out = (sq * sq).sum()  # a ** 4
    out.backward(retain_graph=True)
    out.backward()
    ta = torch.tensor([3.0], requires_grad=True)
    tsq = ta * ta
    tsq.retain_grad()
    tout = (tsq * tsq).sum()
    tout.backward(retain_graph=True)
    tout.backward()
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy())  # 216 = 2 x 108, not 432
    np.testing.assert_allclose(sq.grad.numpy(), tsq.grad.numpy())


def test_no_grad_records_no_graph(make):
    x = make([1.0, 2.0], requires_grad=True)
    with mt.no_grad():
        assert not mt.is_grad_enabled()
        y = (x * 2).exp().sum()
    assert mt.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None and y.is_leaf
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()
    with mt.set_grad_enabled(False):
        assert (x + 1).grad_fn is None
    z = x * 2
    assert z.requires_grad and z.grad_fn is not None and z.grad_fn.name == "MulBackward"


def test_no_grad_restores_state_after_an_exception(make):
    with pytest.raises(ZeroDivisionError), mt.no_grad():
        1 / 0  # noqa: B018
    assert mt.is_grad_enabled()


def test_detach_shares_storage_and_cuts_the_graph(make):
    x = make([1.0, 2.0], requires_grad=True)
    y = x * 3
    d = y.detach()
    assert not d.requires_grad and d.grad_fn is None
    (d * y).sum().backward()  # d is a constant: d(d*y)/dx = d * 3
    np.testing.assert_allclose(x.grad.numpy(), [9.0, 18.0])
    with mt.no_grad():
        d += 1.0
    np.testing.assert_allclose(y.numpy(), [4.0, 7.0])  # same storage


def test_backward_with_explicit_gradient(make):
    x = make([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = x * x
    y.backward(make([[1.0, 0.0], [0.5, 2.0]]))
    np.testing.assert_allclose(x.grad.numpy(), [[2.0, 0.0], [3.0, 16.0]])
    with pytest.raises(ValueError, match=r"\(3,\).*\(2, 2\)"):
        (x * x).backward(make([1.0, 2.0, 3.0]))


def test_backward_of_a_non_scalar_without_gradient_names_the_shape(make):
    x = make([[1.0, 2.0, 3.0]], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"\(1, 3\)"):
        (x * 2).backward()
    (x * 2).sum().backward()  # a one-element result needs no explicit gradient
    y = make([[5.0]], requires_grad=True)
    (y * 2).backward()
    np.testing.assert_allclose(y.grad.numpy(), [[2.0]])


def test_diamond_graph_sums_the_gradients(make):
    a = make([2.0, -1.0], requires_grad=True)
    b = a * 3  # used twice below
    c = b.exp() + b * b + a  # d/da = 3 exp(3a) + 18 a + 1
    c.sum().backward()
    x = np.array([2.0, -1.0])
    np.testing.assert_allclose(a.grad.numpy(), 3 * np.exp(3 * x) + 18 * x + 1, rtol=1e-12)
    s = make([1.5], requires_grad=True)
    (s * s * s).sum().backward()  # the same tensor three times in one op chain
    np.testing.assert_allclose(s.grad.numpy(), [3 * 1.5**2])


def test_retain_grad_keeps_gradients_of_intermediate_tensors(make):
    x = make([1.0, 2.0], requires_grad=True)
    h = x * x
    h.retain_grad()
    other = x + 1
    (h * 3 + other).sum().backward()
    np.testing.assert_allclose(h.grad.numpy(), [3.0, 3.0])
    assert other.grad is None  # not retained
    np.testing.assert_allclose(x.grad.numpy(), [7.0, 13.0])


def test_leaves_and_requires_grad_flags(make):
    x = make([1.0], requires_grad=True)
    c = make([2.0])
    assert x.is_leaf and c.is_leaf and not c.requires_grad
    y = x * c
    assert not y.is_leaf and y.requires_grad
    assert not (c * c).requires_grad
    with pytest.raises(RuntimeError, match="leaf"):
        y.requires_grad = False
    y.sum().backward()
    assert c.grad is None
    c.requires_grad_()
    assert c.requires_grad


def test_requires_grad_on_an_int_tensor_raises(make):
    with pytest.raises(RuntimeError, match="floating"):
        make([1, 2], dtype="int64", requires_grad=True)
    n = make([1, 2], dtype="int64")
    with pytest.raises(RuntimeError, match="int64"):
        n.requires_grad_()


def test_gradients_flow_through_int_casts_and_constants(make):
    x = make([1.0, 2.0], requires_grad=True)
    n = make([3, 4], dtype="int64")
    (x * n).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 4.0])
    assert x.grad.dtype == np.float64


def test_in_place_update_of_a_tensor_requiring_grad_raises(make):
    x = make([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="no_grad"):
        x += 1.0
    with mt.no_grad():
        x -= 0.5
    np.testing.assert_allclose(x.numpy(), [0.5])
    assert x.is_leaf and x.requires_grad


def test_custom_function_extension_point(make):
    class Cube(mt.Function):
        @staticmethod
        def forward(ctx, a):
            ctx.save_for_backward(a)
            return a * a * a

        @staticmethod
        def backward(ctx, grad):
            (a,) = ctx.saved_tensors
            return grad * 3 * a * a

    x = make([1.0, -2.0], requires_grad=True)
    y = Cube.apply(x)
    assert y.grad_fn.name == "CubeBackward"
    np.testing.assert_allclose(y.numpy(), [1.0, -8.0])
    mt.grad_check(Cube.apply, make([0.7, -1.3]))

    class Wrong(Cube):
        @staticmethod
        def backward(ctx, grad):
            (a,) = ctx.saved_tensors
            return grad * 2 * a * a

    with pytest.raises(AssertionError, match="gradient check failed"):
        mt.grad_check(Wrong.apply, make([0.7, -1.3]))


def test_wrongly_shaped_gradient_from_a_custom_function_is_reported(make):
    class Bad(mt.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, grad):
            return grad.sum()

    x = make([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"shape \(\).*shape \(2,\)"):
        Bad.apply(x).sum().backward()


def test_a_chain_of_100000_ops_backprops():
    """Deep graphs must not hit the recursion limit (the walk is iterative) and must be fast."""
    n = 100_000
    start = time.perf_counter()
    x = mt.tensor([1.0], dtype="float64", device="numba", requires_grad=True)
    y = x
    for i in range(n):
        y = y * 1.0000001 if i % 2 == 0 else y + 0.5
    y.sum().backward()
    elapsed = time.perf_counter() - start
    factor = 1.0000001 ** (n // 2)
    expected_value = 1.0
    for i in range(n):
        expected_value = expected_value * 1.0000001 if i % 2 == 0 else expected_value + 0.5
    np.testing.assert_allclose(y.numpy(), [expected_value], rtol=1e-9)
    np.testing.assert_allclose(x.grad.numpy(), [factor], rtol=1e-9)
    assert n > sys.getrecursionlimit()
    assert elapsed < 60, f"100,000 ops took {elapsed:.1f} s"
