"""Gradients of gradients: backward rules written in tensor ops are recorded under create_graph=True.

Each second derivative is checked against the analytic one, or against central differences of the
first derivative (which autograd computes without create_graph), on every backend.
"""

from __future__ import annotations

import numpy as np
import pytest

import minitorch_edu as mt
import minitorch_edu.nn as nn
import minitorch_edu.nn.functional as F

# f, f'' (analytic), inputs away from kinks and poles
SECOND_DERIVATIVES = {
    "cube": (lambda x: x**3, lambda x: 6 * x),
    "exp": (lambda x: x.exp(), np.exp),
    "log": (lambda x: x.log(), lambda x: -1 / x**2),
    "sqrt": (lambda x: x.sqrt(), lambda x: -0.25 * x**-1.5),
    "sigmoid": (lambda x: x.sigmoid(), lambda x: (s := 1 / (1 + np.exp(-x))) * (1 - s) * (1 - 2 * s)),
    "tanh": (lambda x: x.tanh(), lambda x: -2 * np.tanh(x) * (1 - np.tanh(x) ** 2)),
    "sin": (lambda x: x.sin(), lambda x: -np.sin(x)),
    "cos": (lambda x: x.cos(), lambda x: -np.cos(x)),
    "log1p": (lambda x: x.log1p(), lambda x: -1 / (1 + x) ** 2),
    "expm1": (lambda x: x.expm1(), np.exp),
    "erf": (lambda x: mt.erf(x), lambda x: -4 * x / np.sqrt(np.pi) * np.exp(-x * x)),
    "reciprocal": (lambda x: 1 / x, lambda x: 2 / x**3),
    "x_pow_x": (lambda x: x**x, lambda x: x**x * ((np.log(x) + 1) ** 2 + 1 / x)),
    "relu_squared": (lambda x: x.relu() * x.relu(), lambda x: 2.0 * (x > 0)),
    "abs_cubed": (lambda x: x.abs() ** 3, lambda x: 6 * np.abs(x)),
    "max_with_1": (lambda x: mt.maximum(x, mt.tensor(1.0, dtype="float64", device=x.device)) ** 2,
                   lambda x: 2.0 * (x > 1)),
}
POINTS = np.array([0.3, 0.7, 1.3, 2.1, -0.4, -1.7])


@pytest.mark.parametrize("name", sorted(SECOND_DERIVATIVES))
def test_second_derivative_of_each_elementwise_op(backend, name):
    f, f2 = SECOND_DERIVATIVES[name]
    x0 = np.abs(POINTS) if name in ("log", "sqrt", "x_pow_x", "log1p") else POINTS
    x = mt.tensor(x0, dtype="float64", device=backend, requires_grad=True)
    (g,) = mt.autograd.grad(f(x).sum(), x, create_graph=True)
    assert g.requires_grad, f"d {name}/dx was not recorded under create_graph=True"
    (h,) = mt.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(h.numpy(), f2(x0), rtol=1e-9, atol=1e-12, err_msg=f"d²/dx² {name}")


def _grad_of(loss_fn, params):
    """The gradient of loss_fn() with respect to params, as flat NumPy (first order only)."""
    for p in params:
        p.grad = None
    loss_fn().backward()  # a parameter the loss does not reach keeps .grad None (the last bias of a penalty)
    return np.concatenate([(p.grad.numpy() if p.grad is not None else np.zeros(p.shape)).ravel() for p in params])


def _hvp_by_differences(loss_fn, params, v, eps=1e-6):
    """(H v) by central differences of the gradient along v."""
    def shifted(sign):
        with mt.no_grad():
            offset = 0
            for p in params:
                n = p.numel()
                p.data = mt.tensor(p.numpy() + sign * eps * v[offset:offset + n].reshape(p.shape),
                                   dtype="float64", device=p.device)
                offset += n
        g = _grad_of(loss_fn, params)
        with mt.no_grad():
            offset = 0
            for p in params:
                n = p.numel()
                p.data = mt.tensor(p.numpy() - sign * eps * v[offset:offset + n].reshape(p.shape),
                                   dtype="float64", device=p.device)
                offset += n
        return g
    return (shifted(1) - shifted(-1)) / (2 * eps)


def test_hessian_vector_product_of_an_mlp_matches_differences(backend):
    mt.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 4), nn.Sigmoid(), nn.Linear(4, 1))
    model.to(backend)
    for p in model.parameters():
        p.data = p.data.to(dtype="float64")
    rng = np.random.default_rng(1)
    x = mt.tensor(rng.normal(size=(6, 3)), dtype="float64", device=backend)
    y = mt.tensor(rng.normal(size=(6, 1)), dtype="float64", device=backend)
    params = list(model.parameters())

    def loss_fn():
        return ((model(x) - y) ** 2).mean()

    v = rng.normal(size=sum(p.numel() for p in params))
    grads = mt.autograd.grad(loss_fn(), params, create_graph=True)
    dot = sum((g * mt.tensor(v[o:o + p.numel()].reshape(p.shape), dtype="float64", device=backend)).sum()
              for g, p, o in zip(grads, params, np.cumsum([0] + [p.numel() for p in params])))
    hv = np.concatenate([h.numpy().ravel() for h in mt.autograd.grad(dot, params)])
    np.testing.assert_allclose(hv, _hvp_by_differences(loss_fn, params, v), rtol=1e-5, atol=1e-7)


def test_a_gradient_penalty_trains_through_the_input_gradient(backend):
    """WGAN-GP's term: the weights' gradient of ||d D(x) / dx||², against differences."""
    mt.manual_seed(2)
    critic = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1)).to(backend)
    for p in critic.parameters():
        p.data = p.data.to(dtype="float64")
    x0 = np.random.default_rng(3).normal(size=(5, 2))
    params = list(critic.parameters())

    def penalty():
        x = mt.tensor(x0, dtype="float64", device=backend, requires_grad=True)
        (gx,) = mt.autograd.grad(critic(x).sum(), x, create_graph=True)
        return (((gx * gx).sum(1) - 1.0) ** 2).mean()

    got = _grad_of(penalty, params)
    eps, want = 1e-6, []
    for p in params:
        flat = p.numpy().ravel()
        for i in range(flat.size):
            vals = []
            for sign in (1, -1):
                bumped = flat.copy()
                bumped[i] += sign * eps
                p.data = mt.tensor(bumped.reshape(p.shape), dtype="float64", device=backend)
                vals.append(penalty().item())
            p.data = mt.tensor(flat.reshape(p.shape), dtype="float64", device=backend)
            want.append((vals[0] - vals[1]) / (2 * eps))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-8)


def test_backward_with_create_graph_gives_grads_with_history(backend):
    x = mt.tensor([1.0, 2.0], dtype="float64", device=backend, requires_grad=True)
    (x ** 3).sum().backward(create_graph=True)
    assert x.grad.grad_fn is not None
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 12.0])
    g = x.grad
    x.grad = None
    g.sum().backward()  # the graph was kept (retain_graph follows create_graph)
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 12.0])


def test_second_order_through_views_matmul_and_reductions(backend):
    rng = np.random.default_rng(4)
    a0, b0 = rng.normal(size=(3, 4)), rng.normal(size=(4, 2))
    a = mt.tensor(a0, dtype="float64", device=backend, requires_grad=True)
    b = mt.tensor(b0, dtype="float64", device=backend, requires_grad=True)
    # f = sum((a @ b)²) over a transposed, sliced, concatenated path: d/da f = 2 (a @ b) @ b.T
    out = mt.cat([(a @ b)[:2], (a @ b)[2:]], 0).permute(1, 0).reshape(-1)
    (ga,) = mt.autograd.grad((out * out).sum(), a, create_graph=True)
    np.testing.assert_allclose(ga.numpy(), 2 * (a0 @ b0) @ b0.T, rtol=1e-12)
    # d/db sum(ga) = d/db sum(2 a b b.T) = 2 (a.T 1 1.T b + (1 1.T a).T b)... checked by differences
    (gb,) = mt.autograd.grad(ga.sum(), b)
    eps, want = 1e-6, np.zeros_like(b0)
    for i in np.ndindex(b0.shape):
        d = np.zeros_like(b0)
        d[i] = eps
        want[i] = ((2 * (a0 @ (b0 + d)) @ (b0 + d).T).sum() - (2 * (a0 @ (b0 - d)) @ (b0 - d).T).sum()) / (2 * eps)
    np.testing.assert_allclose(gb.numpy(), want, rtol=1e-6)


def test_second_order_through_cumsum_flip_pad_and_index(backend):
    x0 = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])
    x = mt.tensor(x0, dtype="float64", device=backend, requires_grad=True)
    w0 = np.array([[1.0, 2.0, 3.0, 4.0, 5.0], [-1.0, 0.5, 2.0, 1.0, 3.0]])
    w = mt.tensor(w0, dtype="float64", device=backend)

    def f(t):  # a cubic in t through ops whose backward is linear: their adjoint must be recorded
        u = F.pad(t.cumsum(1).flip(1), (1, 1))[:, :5]
        return ((u * w) ** 3).sum()

    (g,) = mt.autograd.grad(f(x), x, create_graph=True)
    (h,) = mt.autograd.grad(g.sum(), x)

    def g_np(t):  # d f / d t by central differences
        out = np.zeros_like(t)
        for i in np.ndindex(t.shape):
            d = np.zeros_like(t)
            d[i] = 1e-6
            hi = f(mt.tensor(t + d, dtype="float64", device=backend)).item()
            lo = f(mt.tensor(t - d, dtype="float64", device=backend)).item()
            out[i] = (hi - lo) / 2e-6
        return out

    np.testing.assert_allclose(g.numpy(), g_np(x0), rtol=1e-4)
    want = np.zeros_like(x0)
    for i in np.ndindex(x0.shape):
        d = np.zeros_like(x0)
        d[i] = 1e-4
        want[i] = (g_np(x0 + d).sum() - g_np(x0 - d).sum()) / 2e-4
    np.testing.assert_allclose(h.numpy(), want, rtol=1e-3, atol=1e-3)


def test_a_fused_kernels_backward_refuses_a_second_derivative(backend):
    x = mt.tensor(np.random.default_rng(5).normal(size=(1, 1, 5, 5)), dtype="float64", device=backend,
                  requires_grad=True)
    w = mt.tensor(np.ones((1, 1, 3, 3)), dtype="float64", device=backend, requires_grad=True)
    (gx,) = mt.autograd.grad(F.conv2d(x, w).sum(), x, create_graph=True)
    (plain,) = mt.autograd.grad(F.conv2d(x, w).sum(), x)
    np.testing.assert_allclose(gx.numpy(), plain.numpy())  # first order is right under create_graph
    with pytest.raises(RuntimeError, match="Conv2dFunctionBackward.*cannot be differentiated a second time"):
        gx.sum().backward()


def test_binary_ops_sum_broadcast_gradients_in_one_place(backend):
    a = mt.tensor(np.ones((4, 3)), dtype="float64", device=backend, requires_grad=True)
    for op in (lambda p, q: p + q, lambda p, q: p - q, lambda p, q: p * q, lambda p, q: p / q,
               lambda p, q: p ** q, lambda p, q: mt.maximum(p, q), lambda p, q: mt.where(p > 0, p, q)):
        b = mt.tensor([[2.0], [3.0], [4.0], [5.0]], dtype="float64", device=backend, requires_grad=True)
        op(a, b).sum().backward()
        assert b.grad.shape == (4, 1)
    # a Function of one's own is held to its contract: no silent summing unless it says `broadcasts`
    class Plus(mt.Function):
        @staticmethod
        def forward(ctx, p, q):
            return p + q

        @staticmethod
        def backward(ctx, grad):
            return grad, grad

    with pytest.raises(RuntimeError, match=r"returned a gradient of shape \(4, 3\) for an input of shape \(4, 1\)"):
        Plus.apply(a, b).sum().backward()
    Plus.broadcasts = True
    b.grad = None
    Plus.apply(a, b).sum().backward()
    np.testing.assert_allclose(b.grad.numpy(), [[3.0]] * 4)


def test_grad_returns_without_touching_dot_grad(backend):
    x = mt.tensor([1.0, 2.0], device=backend, requires_grad=True)
    y = mt.tensor([3.0], device=backend, requires_grad=True)
    gx, gy = mt.autograd.grad((x * y).sum(), (x, y))
    np.testing.assert_allclose(gx.numpy(), [3.0, 3.0])
    np.testing.assert_allclose(gy.numpy(), [3.0])
    assert x.grad is None and y.grad is None
    z = mt.tensor([1.0], device=backend, requires_grad=True)
    with pytest.raises(RuntimeError, match="not used"):
        mt.autograd.grad((x * 2).sum(), (x, z))
    assert mt.autograd.grad((x * 2).sum(), (x, z), allow_unused=True)[1] is None


FUSED_BLOCKS = {  # fused kernels forward and first backward; their tensor-op backward under create_graph
    "softmax": (lambda x, w, b, F_: F_.softmax(x, -1), None),
    "log_softmax": (lambda x, w, b, F_: F_.log_softmax(x, -1), None),
    "gelu": (lambda x, w, b, F_: F_.gelu(x), None),
    "gelu_tanh": (lambda x, w, b, F_: F_.gelu(x, approximate="tanh"), None),
    "layer_norm": (lambda x, w, b, F_: F_.layer_norm(x, (4,), w, b), "params"),
    "layer_norm_no_params": (lambda x, w, b, F_: F_.layer_norm(x, (2, 4)), None),
}


@pytest.mark.parametrize("name", sorted(FUSED_BLOCKS))
def test_second_derivative_through_fused_blocks_matches_pytorch(backend, name):
    """The fused softmax / GELU / layer-norm kernels give the first derivative; under create_graph
    their backward is recorded in tensor ops, so a Hessian-vector product equals PyTorch's."""
    torch = pytest.importorskip("torch")
    import torch.nn.functional as TF

    f, kind = FUSED_BLOCKS[name]
    rng = np.random.default_rng(0)
    x0, v0 = rng.standard_normal((3, 2, 4)), rng.standard_normal((3, 2, 4))
    w0, b0 = rng.standard_normal(4), rng.standard_normal(4)

    def hvp(lib, F_, make):
        x = make(x0, True)
        w, b = (make(w0, True), make(b0, True)) if kind else (None, None)
        out = f(x, w, b, F_)
        loss = (out * out * make(v0, False)).sum()  # not linear in out: the second derivative matters
        grads = lib.autograd.grad(loss, [x] + ([w, b] if kind else []), create_graph=True)
        inner = sum((g * g).sum() for g in grads)
        return [t.detach().numpy() for t in lib.autograd.grad(inner, [x] + ([w, b] if kind else []))]

    ours = hvp(mt, F, lambda a, rg: mt.tensor(a, dtype="float64", device=backend, requires_grad=rg))
    theirs = hvp(torch, TF, lambda a, rg: torch.tensor(a, dtype=torch.float64, requires_grad=rg))
    for got, want in zip(ours, theirs):
        np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-10, err_msg=name)
