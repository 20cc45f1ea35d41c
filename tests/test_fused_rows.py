"""The fused row kernels (issue 26): softmax / log-softmax over the last dim, layer norm forward and
backward, on every backend (numba's and cuda's own kernels; the composed defaults on python), against
PyTorch; and the numba map over a transposed input (tiled, vectorised) against the plain one."""

from __future__ import annotations

import numpy as np
import pytest

import minitorch_edu as mt
from minitorch_edu.backends import composed, scalar
from minitorch_edu.backends.numba.cpu import numba_backend
from minitorch_edu.nn import functional as F

torch = pytest.importorskip("torch")

DTYPES = {"float32": (np.float32, 2e-5), "float64": (np.float64, 1e-12)}


def _pair(data: np.ndarray, backend: str) -> tuple:
    return mt.tensor(data, device=backend, requires_grad=True), torch.tensor(data, requires_grad=True)


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("log", [False, True])
@pytest.mark.parametrize("transposed", [False, True])
def test_softmax_over_the_last_dim_matches_torch(backend, dtype, log, transposed):
    np_dtype, tol = DTYPES[dtype]
    rng = np.random.default_rng(1)
    data = (rng.standard_normal((3, 5, 7)) * 4).astype(np_dtype)
    data[0, 1] = [-np.inf, 0, 1, 2, -np.inf, 3, 1]  # -inf logits: probability 0 (log: -inf)
    g = rng.standard_normal((3, 7, 5) if transposed else (3, 5, 7)).astype(np_dtype)
    x, t = _pair(data, backend)
    xs, ts = (x.transpose(1, 2), t.transpose(1, 2)) if transposed else (x, t)
    ours = (mt.log_softmax if log else mt.softmax)(xs, -1)
    theirs = (torch.log_softmax if log else torch.softmax)(ts, -1)
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=tol, atol=tol)
    (ours * mt.tensor(g, device=backend)).sum().backward()
    (theirs * torch.tensor(g)).sum().backward()  # -inf log-probabilities: the sum is -inf, its gradient g
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=tol, atol=tol)


def test_softmax_of_a_sum_takes_the_broadcast_gradient():
    x = mt.tensor(np.random.default_rng(2).standard_normal((4, 6)), requires_grad=True)
    mt.softmax(x, -1).sum().backward()  # the gradient of a sum: stride 0, all ones
    np.testing.assert_allclose(x.grad.numpy(), np.zeros((4, 6)), atol=1e-15)  # rows sum to 1: no gradient


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm_forward_and_backward_match_torch(backend, dtype, affine):
    np_dtype, tol = DTYPES[dtype]
    rng = np.random.default_rng(3)
    data = (rng.standard_normal((4, 3, 5)) * 3 + 1).astype(np_dtype)
    g = rng.standard_normal((4, 3, 5)).astype(np_dtype)
    x, t = _pair(data, backend)
    if affine:
        w, tw = _pair(rng.standard_normal((3, 5)).astype(np_dtype), backend)
        b, tb = _pair(rng.standard_normal((3, 5)).astype(np_dtype), backend)
    else:
        w = b = tw = tb = None
    ours = F.layer_norm(x, (3, 5), w, b)
    theirs = torch.nn.functional.layer_norm(t, (3, 5), tw, tb)
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=tol, atol=tol)
    (ours * mt.tensor(g, device=backend)).sum().backward()
    (theirs * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=10 * tol, atol=10 * tol)
    if affine:
        np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=10 * tol, atol=10 * tol)
        np.testing.assert_allclose(b.grad.numpy(), tb.grad.numpy(), rtol=10 * tol, atol=10 * tol)


def test_layer_norm_gradients_check_in_float64():
    rng = np.random.default_rng(4)
    x = mt.tensor(rng.standard_normal((3, 6)), dtype="float64")
    w = mt.tensor(rng.standard_normal(6), dtype="float64")
    b = mt.tensor(rng.standard_normal(6), dtype="float64")
    mt.grad_check(lambda v, p, q: F.layer_norm(v, (6,), p, q), x, w, b)
    mt.grad_check(lambda v: F.log_softmax(v, -1) * mt.tensor(np.arange(6.0)), x)
    mt.grad_check(lambda v: F.softmax(v, -1) * mt.tensor(np.arange(6.0)), x)


@pytest.mark.parametrize("log", [False, True])
def test_numba_softmax_kernel_equals_the_composed_default(log):
    """The composed default, which the python backend runs, computes the same as numba's."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((37, 129)).astype(np.float32)
    ours, default = np.empty_like(x).ravel(), np.empty_like(x).ravel()
    numba_backend.softmax_forward(ours, x.ravel(), 37, 129, log)
    composed.softmax_forward(numba_backend, default, x.ravel(), 37, 129, log)
    np.testing.assert_allclose(ours, default, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("shape", [(300, 200), (257, 129), (64, 1024)])
@pytest.mark.parametrize("name", ["exp", "tanh", "identity", "neg"])
def test_numba_map_of_a_transposed_input_is_the_plain_map(shape, name):
    """Large 2-D maps whose input is transposed run in tiles through a buffer (`map_tiled`)."""
    data = np.random.default_rng(6).standard_normal(shape).astype(np.float32)
    fn = getattr(scalar, name)
    out = np.empty(data.size, np.float32)
    n0, n1 = shape[1], shape[0]  # the transpose's shape
    numba_backend.map(fn)(out, (n1, 1), data.ravel(), (1, n0), (n0, n1))
    expected = np.empty(data.size, np.float32)
    numba_backend.map(fn)(expected, (1,), np.ascontiguousarray(data.T).ravel(), (1,), (data.size,))
    np.testing.assert_array_equal(out, expected)
