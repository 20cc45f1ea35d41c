"""The ops PyTorch users reach for first (issue 10, section 5), against PyTorch on every backend.

Each differential test runs the same op in minitorch_edu (python, numba, cuda simulator) and in
PyTorch, in float32 and float64, and compares the forward values and the gradients of every
input for one random upstream gradient. A few hand-computed checks at the end bite without PyTorch.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import minitorch_edu as mt
import minitorch_edu.nn.functional as F
from minitorch_edu import nn
from minitorch_edu.optim import lr_scheduler as L

try:
    import torch
except ImportError:  # the hand-computed checks at the end still run
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch not installed (pip install -e '.[bench]')")
INF = float("inf")
TOL = {"float32": dict(rtol=2e-5, atol=2e-6), "float64": dict(rtol=1e-10, atol=1e-12)}


@pytest.fixture(params=["float32", "float64"])
def dtype(request: pytest.FixtureRequest) -> str:
    return request.param


def compare(backend: str, dtype: str, ours, theirs, *arrays: np.ndarray, grad: bool = True, seed: int = 0) -> None:
    """ours(*mt tensors) vs theirs(*torch tensors): the values, then (grad=True) every input's
    gradient for the same random upstream gradient."""
    xs = [mt.tensor(a, dtype=dtype, device=backend, requires_grad=grad) for a in arrays]
    ts = [torch.tensor(a, dtype=getattr(torch, dtype), requires_grad=grad) for a in arrays]
    got, expected = ours(*xs), theirs(*ts)
    assert got.dtype == np.dtype(dtype), f"result dtype {got.dtype}, expected {dtype}"
    assert got.shape == tuple(expected.shape), f"shape {got.shape}, torch {tuple(expected.shape)}"
    np.testing.assert_allclose(got.numpy(), expected.detach().numpy(), **TOL[dtype], equal_nan=True)
    if not grad:
        return
    upstream = np.random.default_rng(seed + 100).standard_normal(tuple(expected.shape))
    (got * mt.tensor(upstream, dtype=dtype, device=backend)).sum().backward()
    (expected * torch.tensor(upstream, dtype=getattr(torch, dtype))).sum().backward()
    for i, (x, t) in enumerate(zip(xs, ts)):
        want = np.zeros(x.shape) if t.grad is None else t.grad.numpy()
        have = np.zeros(x.shape) if x.grad is None else x.grad.numpy()
        np.testing.assert_allclose(have, want, **TOL[dtype], err_msg=f"gradient of input {i}")


def randn(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape)


# ---------------------------------------------------------------------- elementwise math
@needs_torch
@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("sin", randn(3, 4) * 3),
        ("cos", randn(3, 4) * 3),
        ("log1p", np.abs(randn(3, 4)) - 0.5),  # > -1, and tiny values where log(1 + x) loses digits
        ("log1p", np.array([1e-10, -1e-9, 3.0])),
        ("expm1", randn(3, 4)),
        ("expm1", np.array([1e-10, -1e-9, 3.0])),
        ("erf", randn(3, 4) * 2),
    ],
)
def test_elementwise_math_matches_torch(backend, dtype, name, data):
    compare(backend, dtype, lambda x: getattr(x, name)(), lambda t: getattr(t, name)(), data)
    compare(backend, dtype, lambda x: getattr(mt, name)(x), lambda t: getattr(torch, name)(t), data, grad=False)


@needs_torch
def test_elementwise_math_at_inf_and_nan(backend):
    data = np.array([INF, -INF, np.nan, -1.0, 0.0])
    for name in ("sin", "cos", "log1p", "expm1", "erf"):
        ours, theirs = (lambda x, n=name: getattr(x, n)()), (lambda t, n=name: getattr(t, n)())
        compare(backend, "float64", ours, theirs, data, grad=False)


@needs_torch
def test_isnan_and_isfinite_are_masks_like_torch(backend, dtype):
    data = np.array([[1.0, np.nan, INF], [-INF, 0.0, -2.5]])
    x = mt.tensor(data, dtype=dtype, device=backend)
    for name in ("isnan", "isfinite"):
        got = getattr(x, name)()
        np.testing.assert_array_equal(got.numpy().astype(bool), getattr(torch, name)(torch.tensor(data)).numpy())
    ints = mt.tensor([1, 2], device=backend)
    np.testing.assert_array_equal(ints.isfinite().numpy().astype(bool), [True, True])
    np.testing.assert_array_equal(mt.isnan(ints).numpy().astype(bool), [False, False])


# ---------------------------------------------------------------------- // and %
SIGNS_A = np.array([[-7.0, 7.0, -7.5, 7.5], [5.25, -5.25, 0.5, -0.5]])
SIGNS_B = np.array([[2.0, -2.0, 2.0, -2.0], [-1.5, 1.5, 3.0, 3.0]])


@needs_torch
def test_floor_divide_and_remainder_follow_torch_sign_rules(backend, dtype):
    compare(backend, dtype, lambda a, b: a // b, lambda a, b: a // b, SIGNS_A, SIGNS_B, grad=False)
    # PyTorch differentiates % only in the dividend ("derivative for aten::remainder is not
    # implemented" for the divisor); ours also has the divisor's, checked by finite differences below
    divisor = (mt.tensor(SIGNS_B, dtype=dtype, device=backend), torch.tensor(SIGNS_B, dtype=getattr(torch, dtype)))
    compare(backend, dtype, lambda a: a % divisor[0], lambda a: a % divisor[1], SIGNS_A)
    compare(backend, dtype, lambda a: a % 1.5, lambda a: a % 1.5, SIGNS_A)
    compare(backend, dtype, lambda a: -2.0 % a, lambda a: -2.0 % a, SIGNS_B, grad=False)  # __rmod__
    compare(backend, dtype, lambda a: 10.0 // a, lambda a: 10.0 // a, SIGNS_B, grad=False)  # __rfloordiv__
    row = (mt.tensor(SIGNS_B[:1], dtype=dtype, device=backend), torch.tensor(SIGNS_B[:1], dtype=getattr(torch, dtype)))
    compare(backend, dtype, lambda a: a.remainder(row[0]), lambda a: a.remainder(row[1]), SIGNS_A)  # broadcast


def test_remainder_gradient_in_the_divisor_matches_finite_differences(backend, gradcheck):
    # d(a % b)/db = -floor(a / b): away from the jumps, where finite differences are exact enough
    a = mt.tensor([[-7.0, 7.0, 5.3], [2.2, -1.1, 0.4]], dtype="float64", device=backend, requires_grad=True)
    b = mt.tensor([[2.0, -2.1, 1.5], [-0.7, 0.9, 3.0]], dtype="float64", device=backend, requires_grad=True)
    assert gradcheck(lambda x, y: x % y, a, b)
    (a % b).sum().backward()
    np.testing.assert_array_equal(b.grad.numpy(), -np.floor(a.detach().numpy() / b.detach().numpy()))


@needs_torch
def test_floor_divide_and_remainder_at_zero_inf_and_nan(backend):
    a = np.array([1.0, -1.0, 0.0, INF, np.nan, 3.0, -3.0])
    b = np.array([0.0, 0.0, 0.0, 2.0, 2.0, INF, INF])
    compare(backend, "float64", lambda x, y: x // y, lambda x, y: x // y, a, b, grad=False)
    compare(backend, "float64", lambda x, y: x % y, lambda x, y: x % y, a, b, grad=False)


@needs_torch
def test_integer_floor_divide_and_remainder(backend):
    a, b = [-7, 7, -7, 7, 0], [2, 2, -2, -2, 3]
    got_div = mt.tensor(a, device=backend) // mt.tensor(b, device=backend)
    got_mod = mt.tensor(a, device=backend) % mt.tensor(b, device=backend)
    assert got_div.dtype == np.int64 and got_mod.dtype == np.int64
    np.testing.assert_array_equal(got_div.numpy(), (torch.tensor(a) // torch.tensor(b)).numpy())
    np.testing.assert_array_equal(got_mod.numpy(), (torch.tensor(a) % torch.tensor(b)).numpy())
    for op in ("floor_divide", "remainder"):
        with pytest.raises(RuntimeError, match=f"ZeroDivisionError: integer {op} by zero .*int64 of shape \\(2,\\)"):
            getattr(mt.tensor([1, 2], device=backend), op)(mt.tensor([1, 0], device=backend))
        with pytest.raises(RuntimeError, match="ZeroDivisionError"):
            getattr(torch.tensor([1, 2]), op)(torch.tensor([1, 0]))


def test_floor_divide_has_no_gradient_as_in_torch(backend):
    x = mt.tensor([3.0, -3.0], device=backend, requires_grad=True)
    with pytest.raises(RuntimeError, match="the derivative for 'floor_divide' is not implemented"):
        (x // 2.0).sum().backward()


# ---------------------------------------------------------------------- reductions
@needs_torch
@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (lambda x: x.var(), lambda t: t.var()),
        (lambda x: x.var(1, correction=0), lambda t: t.var(1, correction=0)),
        (lambda x: x.var((0, 2), keepdim=True, correction=2), lambda t: t.var((0, 2), keepdim=True, correction=2)),
        (lambda x: x.var(-1, unbiased=False), lambda t: t.var(-1, unbiased=False)),
        (lambda x: x.std(), lambda t: t.std()),
        (lambda x: x.std(1), lambda t: t.std(1)),
        (lambda x: x.std(0, keepdim=True, correction=0), lambda t: t.std(0, keepdim=True, correction=0)),
        (lambda x: mt.std(x, (1, 2), correction=1), lambda t: torch.std(t, (1, 2), correction=1)),
        (lambda x: mt.var(x, 2, True, False), lambda t: torch.var(t, 2, keepdim=True, unbiased=False)),
    ],
)
def test_var_and_std_match_torch(backend, dtype, ours, theirs):
    compare(backend, dtype, ours, theirs, randn(2, 3, 4))


@needs_torch
@pytest.mark.parametrize(
    "data",
    [
        randn(3, 5),
        np.array([[1.5, 0.0, 2.0, -1.0, 3.0], [0.0, 2.0, 0.0, 1.0, 4.0], [1.0, -2.0, 0.5, 3.0, 1.0]]),  # 1 and 2 zeros
    ],
    ids=["no-zeros", "zeros"],
)
def test_prod_matches_torch_including_zeros(backend, dtype, data):
    compare(backend, dtype, lambda x: x.prod(1), lambda t: t.prod(1), data)
    compare(backend, dtype, lambda x: x.prod(0, keepdim=True), lambda t: t.prod(0, keepdim=True), data)
    compare(backend, dtype, lambda x: x.prod(-1), lambda t: t.prod(-1), data[:1, :2])
    compare(backend, dtype, lambda x: mt.prod(x[:, :3]), lambda t: torch.prod(t[:, :3]), data)  # all elements


@needs_torch
@pytest.mark.parametrize("shape", [(5,), (3, 9), (4, 1), (2, 8, 3)])
def test_cumsum_matches_torch(backend, dtype, shape):
    data = randn(*shape)
    for dim in range(-len(shape), len(shape)):
        compare(backend, dtype, lambda x, d=dim: x.cumsum(d), lambda t, d=dim: t.cumsum(d), data)
    compare(backend, dtype, lambda x: mt.cumsum(x.transpose(0, -1), 0), lambda t: torch.cumsum(t.transpose(0, -1), 0),
            data)


@needs_torch
def test_integer_cumsum_and_prod_stay_integer(backend):
    x = mt.tensor([[1, 2, 3], [4, 5, 6]], device=backend)
    t = torch.tensor([[1, 2, 3], [4, 5, 6]])
    for got, expected in [(x.cumsum(1), t.cumsum(1)), (x.prod(0), t.prod(0)), (x.prod(), t.prod())]:
        assert got.dtype == np.int64
        np.testing.assert_array_equal(got.numpy(), expected.numpy())


@needs_torch
@pytest.mark.parametrize(
    ("p", "dim", "keepdim"),
    [(2, None, False), (2, 1, False), (2, (0, 2), True), (1, None, False), (1, -1, True), (INF, None, False),
     (INF, 1, False), (-INF, 2, True), (3, 1, False), (0.5, None, False), ("fro", (1, 2), False)],
)
def test_norm_matches_torch(backend, dtype, p, dim, keepdim):
    data = randn(2, 3, 4)
    compare(backend, dtype, lambda x: x.norm(p, dim, keepdim), lambda t: t.norm(p, dim, keepdim), data)
    compare(backend, dtype, lambda x: mt.norm(x, p=p, dim=dim, keepdim=keepdim),
            lambda t: torch.norm(t, p=p, dim=dim, keepdim=keepdim), data, grad=False)


@needs_torch
def test_norm_of_a_zero_vector_has_a_zero_gradient_like_torch(backend, dtype):
    data = np.array([[0.0, 0.0, 0.0], [3.0, 0.0, -4.0]])
    compare(backend, dtype, lambda x: x.norm(dim=1), lambda t: torch.linalg.vector_norm(t, dim=1), data)
    compare(backend, dtype, lambda x: x.norm(1, dim=1), lambda t: torch.linalg.vector_norm(t, 1, dim=1), data)
    compare(backend, dtype, lambda x: x.norm(0, dim=1), lambda t: torch.linalg.vector_norm(t, 0, dim=1), data,
            grad=False)


# ---------------------------------------------------------------------- shape ops
@needs_torch
@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (lambda x: x.split(2, 1), lambda t: t.split(2, 1)),
        (lambda x: x.split([1, 4, 0], -1), lambda t: t.split([1, 4, 0], -1)),
        (lambda x: mt.split(x, 3), lambda t: torch.split(t, 3)),
        (lambda x: x.chunk(2, 1), lambda t: t.chunk(2, 1)),
        (lambda x: x.chunk(4, 1), lambda t: t.chunk(4, 1)),  # 5 in chunks of 2: three pieces
        (lambda x: mt.chunk(x, 3, 0), lambda t: torch.chunk(t, 3, 0)),
    ],
)
def test_split_and_chunk_match_torch(backend, dtype, ours, theirs):
    data = randn(3, 5)
    pieces = ours(mt.tensor(data, dtype=dtype, device=backend))
    expected = theirs(torch.tensor(data))
    assert [p.shape for p in pieces] == [tuple(e.shape) for e in expected]
    # the gradient flows back from a weighted sum of the pieces: each lands in its own place
    weights = [float(i + 1) for i in range(len(expected))]
    compare(backend, dtype, lambda x: mt.cat([(p * w).flatten() for p, w in zip(ours(x), weights)]),
            lambda t: torch.cat([(p * w).flatten() for p, w in zip(theirs(t), weights)]), data)


@needs_torch
@pytest.mark.parametrize("dims", [0, (1,), (0, 1), (-1, 0), (2,)])
def test_flip_matches_torch(backend, dtype, dims):
    compare(backend, dtype, lambda x: x.flip(dims), lambda t: t.flip(dims if isinstance(dims, tuple) else (dims,)),
            randn(3, 4, 2))
    compare(backend, dtype, lambda x: mt.flip(x.transpose(0, 1), dims),
            lambda t: torch.flip(t.transpose(0, 1), dims if isinstance(dims, tuple) else (dims,)), randn(3, 4, 2))


@needs_torch
@pytest.mark.parametrize("sizes", [(2, 3), (1, 1), (2, 1, 3), ((3, 2),), (0, 2)])
def test_repeat_matches_torch(backend, dtype, sizes):
    compare(backend, dtype, lambda x: x.repeat(*sizes), lambda t: t.repeat(*sizes), randn(2, 3))


@needs_torch
@pytest.mark.parametrize(
    ("pad", "value"),
    [((1, 2), None), ((1, 1, 2, 0), 0.5), ((0, 0, 0, 0, 1, 1), -1.0), ((-1, 2), None), ((1, -2, -1, 1), 3.0)],
)
def test_pad_matches_torch(backend, dtype, pad, value):
    kw = {} if value is None else {"value": value}
    compare(backend, dtype, lambda x: F.pad(x, pad, **kw), lambda t: torch.nn.functional.pad(t, pad, **kw),
            randn(2, 3, 4))


# ---------------------------------------------------------------------- activations and losses
ACTIVATIONS = [
    (lambda x: F.gelu(x), lambda t: torch.nn.functional.gelu(t)),
    (lambda x: F.gelu(x, approximate="tanh"), lambda t: torch.nn.functional.gelu(t, approximate="tanh")),
    (lambda x: nn.GELU()(x), lambda t: torch.nn.GELU()(t)),
    (lambda x: F.leaky_relu(x), lambda t: torch.nn.functional.leaky_relu(t)),
    (lambda x: nn.LeakyReLU(0.2)(x), lambda t: torch.nn.LeakyReLU(0.2)(t)),
    (lambda x: F.silu(x), lambda t: torch.nn.functional.silu(t)),
    (lambda x: nn.SiLU()(x), lambda t: torch.nn.SiLU()(t)),
    (lambda x: F.elu(x), lambda t: torch.nn.functional.elu(t)),
    (lambda x: nn.ELU(0.5)(x), lambda t: torch.nn.ELU(0.5)(t)),
    (lambda x: F.softplus(x), lambda t: torch.nn.functional.softplus(t)),
    (lambda x: nn.Softplus(beta=2.0, threshold=5.0)(x), lambda t: torch.nn.Softplus(beta=2.0, threshold=5.0)(t)),
]


@needs_torch
@pytest.mark.parametrize(("ours", "theirs"), ACTIVATIONS)
def test_activations_match_torch(backend, dtype, ours, theirs):
    # includes 0 exactly (the gradient's convention at the kink) and values past softplus' threshold
    data = np.concatenate([np.linspace(-6, 6, 9), [0.0, 2.4, 2.6, 30.0, -30.0]]).reshape(2, 7)
    compare(backend, dtype, ours, theirs, data)


@needs_torch
def test_activations_stay_finite_for_large_inputs(backend):
    """exp overflows in the branch elu and softplus do not take: its zero gradient must stay zero."""
    data = np.array([100.0, 1000.0, -1000.0])
    for ours, theirs in ACTIVATIONS:
        compare(backend, "float32", ours, theirs, data)


@needs_torch
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (lambda a, b, r: F.l1_loss(a, b, reduction=r), lambda a, b, r: torch.nn.functional.l1_loss(a, b, reduction=r)),
        (lambda a, b, r: nn.L1Loss(reduction=r)(a, b), lambda a, b, r: torch.nn.L1Loss(reduction=r)(a, b)),
        (lambda a, b, r: F.smooth_l1_loss(a, b, reduction=r),
         lambda a, b, r: torch.nn.functional.smooth_l1_loss(a, b, reduction=r)),
        (lambda a, b, r: F.smooth_l1_loss(a, b, reduction=r, beta=0.5),
         lambda a, b, r: torch.nn.functional.smooth_l1_loss(a, b, reduction=r, beta=0.5)),
        (lambda a, b, r: nn.SmoothL1Loss(reduction=r, beta=0.0)(a, b),
         lambda a, b, r: torch.nn.SmoothL1Loss(reduction=r, beta=0.0)(a, b)),
    ],
)
def test_l1_losses_match_torch(backend, dtype, reduction, ours, theirs):
    a = randn(3, 4, seed=1)
    b = a + np.array([0.0, 0.3, -0.7, 2.0]) * np.array([[1.0], [-1.0], [0.5]])  # differences inside and outside beta
    compare(backend, dtype, lambda x, y: ours(x, y, reduction), lambda x, y: theirs(x, y, reduction), a, b)


def test_loss_and_activation_module_reprs_match_torch():
    assert repr(nn.LeakyReLU(0.2)) == "LeakyReLU(negative_slope=0.2)"
    assert repr(nn.ELU()) == "ELU(alpha=1.0)"
    assert repr(nn.Softplus(2, 5)) == "Softplus(beta=2.0, threshold=5.0)"
    assert repr(nn.SiLU()) == "SiLU()"
    assert repr(nn.GELU()) == "GELU(approximate='none')"
    assert repr(nn.SmoothL1Loss(beta=0.5)) == "SmoothL1Loss(beta=0.5)"


# ---------------------------------------------------------------------- BatchNorm2d
@needs_torch
@pytest.mark.parametrize(("affine", "momentum"), [(True, 0.1), (False, 0.3), (True, None)])
def test_batchnorm2d_matches_torch_over_several_steps(backend, dtype, affine, momentum):
    ours = nn.BatchNorm2d(3, momentum=momentum, affine=affine, device=backend, dtype=dtype)
    theirs = torch.nn.BatchNorm2d(3, momentum=momentum, affine=affine, dtype=getattr(torch, dtype))
    if affine:  # a non-trivial scale and shift, the same in both
        w, b = randn(3, seed=7), randn(3, seed=8)
        with mt.no_grad():
            ours.weight.copy_(mt.tensor(w, dtype=dtype, device=backend))
            ours.bias.copy_(mt.tensor(b, dtype=dtype, device=backend))
        with torch.no_grad():
            theirs.weight.copy_(torch.tensor(w))
            theirs.bias.copy_(torch.tensor(b))
    tol = TOL[dtype] if dtype == "float64" else dict(rtol=1e-4, atol=1e-5)
    for step in range(3):
        data = randn(4, 3, 2, 5, seed=step) * (step + 1) + step
        x = mt.tensor(data, dtype=dtype, device=backend, requires_grad=True)
        t = torch.tensor(data, dtype=getattr(torch, dtype), requires_grad=True)
        up = randn(4, 3, 2, 5, seed=10 + step)
        out, expected = ours(x), theirs(t)
        np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), **tol)
        (out * mt.tensor(up, dtype=dtype, device=backend)).sum().backward()
        (expected * torch.tensor(up, dtype=getattr(torch, dtype))).sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), **tol)
        if affine:
            np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), **tol)
            np.testing.assert_allclose(ours.bias.grad.numpy(), theirs.bias.grad.numpy(), **tol)
            ours.weight.grad = ours.bias.grad = None
            theirs.zero_grad()
    np.testing.assert_allclose(ours.running_mean.numpy(), theirs.running_mean.numpy(), **tol)
    np.testing.assert_allclose(ours.running_var.numpy(), theirs.running_var.numpy(), **tol)
    assert int(ours.num_batches_tracked.item()) == int(theirs.num_batches_tracked) == 3
    ours.eval()
    theirs.eval()
    data = randn(2, 3, 2, 2, seed=99)
    np.testing.assert_allclose(
        ours(mt.tensor(data, dtype=dtype, device=backend)).numpy(),
        theirs(torch.tensor(data, dtype=getattr(torch, dtype))).detach().numpy(),
        **tol,
    )
    assert set(ours.state_dict()) == set(theirs.state_dict())


def test_batchnorm2d_names_the_shape_it_expected():
    with pytest.raises(ValueError, match=r"expected input of shape \(N, 3, H, W\), got shape \(2, 3, 4\)"):
        nn.BatchNorm2d(3)(mt.zeros(2, 3, 4))
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\), got shape \(2, 4, 1, 1\)"):
        nn.BatchNorm2d(3)(mt.zeros(2, 4, 1, 1))


# ---------------------------------------------------------------------- ModuleDict
@needs_torch
def test_moduledict_registers_parameters_and_state_dict_keys_like_torch():
    ours = nn.ModuleDict({"enc": nn.Linear(2, 3), "act": nn.ReLU()})
    ours["dec"] = nn.Sequential(nn.Linear(3, 1))
    theirs = torch.nn.ModuleDict({"enc": torch.nn.Linear(2, 3), "act": torch.nn.ReLU()})
    theirs["dec"] = torch.nn.Sequential(torch.nn.Linear(3, 1))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert list(ours) == list(theirs) == ["enc", "act", "dec"]
    assert len(ours) == 3 and "enc" in ours and "nope" not in ours
    # torch's weights load into ours, and the modules then compute the same
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    data = randn(4, 2)
    x = mt.tensor(data)
    got = ours["dec"](ours["act"](ours["enc"](x)))
    expected = theirs["dec"](theirs["act"](theirs["enc"](torch.tensor(data, dtype=torch.float32))))
    np.testing.assert_allclose(got.numpy(), expected.detach().numpy(), rtol=1e-5, atol=1e-6)
    # an optimizer over the parent sees every parameter
    parent = nn.Module()
    parent.blocks = ours
    assert len(list(parent.parameters())) == 4
    assert list(parent.state_dict())[0] == "blocks.enc.weight"


def test_moduledict_editing_and_errors():
    d = nn.ModuleDict([("a", nn.ReLU()), ("b", nn.Tanh())])
    d.update({"c": nn.Linear(1, 1)})
    assert list(d.keys()) == ["a", "b", "c"]
    assert isinstance(d.pop("b"), nn.Tanh) and list(d) == ["a", "c"]
    del d["a"]
    assert list(d.items())[0][0] == "c" and len(list(d.parameters())) == 2
    with pytest.raises(KeyError, match="has no module 'zz'"):
        d["zz"]
    with pytest.raises(TypeError, match="not an nn.Module"):
        d["x"] = 3
    with pytest.raises(KeyError, match="without '.'"):
        d["a.b"] = nn.ReLU()
    with pytest.raises(KeyError, match="name of an attribute"):
        d["keys"] = nn.ReLU()


# ---------------------------------------------------------------------- schedulers
def _lr_sequence(lib, make_opt, make_sched, steps: int, metrics=None) -> list[tuple[float, float]]:
    """(lr, momentum or beta1) before each of `steps` scheduler steps."""
    param = lib.tensor([1.0], requires_grad=True)
    opt = make_opt(lib, param)
    sched = make_sched(lib.optim.lr_scheduler, opt)
    seen = []
    for i in range(steps):
        group = opt.param_groups[0]
        seen.append((group["lr"], group["momentum"] if "momentum" in group else group["betas"][0]))
        opt.step()
        sched.step(metrics[i]) if metrics is not None else sched.step()
    return seen


SGD = lambda lib, p: lib.optim.SGD([p], lr=0.1, momentum=0.9)  # noqa: E731
ADAM = lambda lib, p: lib.optim.Adam([p], lr=0.1)  # noqa: E731
PLATEAU = [1.0, 0.9, 0.95, 0.95, 0.95, 0.8, 0.85, 0.85, 0.85, 0.85, 0.85, 0.85, 0.5, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7]


@needs_torch
@pytest.mark.parametrize(
    ("make_opt", "make_sched", "steps", "metrics"),
    [
        (SGD, lambda S, o: S.OneCycleLR(o, max_lr=1.0, total_steps=30), 30, None),
        (ADAM, lambda S, o: S.OneCycleLR(o, max_lr=0.5, epochs=4, steps_per_epoch=5), 20, None),
        (SGD, lambda S, o: S.OneCycleLR(o, 1.0, 25, pct_start=0.2, anneal_strategy="linear", three_phase=True), 25,
         None),
        (SGD, lambda S, o: S.OneCycleLR(o, 1.0, 10, cycle_momentum=False, div_factor=10.0, final_div_factor=100.0), 10,
         None),
        (SGD, lambda S, o: S.SequentialLR(o, [S.LinearLR(o, 0.1, total_iters=5), S.CosineAnnealingLR(o, 10)], [5]),
         20, None),
        (ADAM, lambda S, o: S.SequentialLR(o, [S.LinearLR(o, 0.1, total_iters=5), S.ExponentialLR(o, 0.9),
                                               S.StepLR(o, 3, gamma=0.5)], [5, 12]), 25, None),
        (SGD, lambda S, o: S.SequentialLR(o, [S.MultiStepLR(o, [2, 4]), S.LambdaLR(o, lambda e: 1 / (e + 1))], [6]), 12,
         None),
        (SGD, lambda S, o: S.ReduceLROnPlateau(o, factor=0.5, patience=2, cooldown=1, min_lr=0.01), 20, PLATEAU),
        (SGD, lambda S, o: S.ReduceLROnPlateau(o, "max", 0.5, 1, threshold=0.1, threshold_mode="abs"), 20,
         [-m for m in PLATEAU]),
        (ADAM, lambda S, o: S.ReduceLROnPlateau(o, patience=0, threshold=0.2), 20, PLATEAU),
    ],
)
def test_scheduler_lr_sequences_match_torch(make_opt, make_sched, steps, metrics):
    import warnings

    ours = _lr_sequence(mt, make_opt, make_sched, steps, metrics)
    with warnings.catch_warnings():  # torch warns about the order of its own optimizer/scheduler steps
        warnings.simplefilter("ignore")
        theirs = _lr_sequence(torch, make_opt, make_sched, steps, metrics)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)
    assert len({lr for lr, _ in ours}) > 1  # the schedule did change the lr


def test_scheduler_errors_and_state():
    p = mt.tensor([1.0], requires_grad=True)
    opt = mt.optim.SGD([p], lr=0.1, momentum=0.9)
    one = L.OneCycleLR(opt, max_lr=1.0, total_steps=3)
    for _ in range(3):
        one.step()
    with pytest.raises(ValueError, match="tried to step 4 times; the schedule has total_steps=3"):
        one.step()
    with pytest.raises(ValueError, match="total_steps or both epochs and steps_per_epoch"):
        L.OneCycleLR(opt, max_lr=1.0)
    with pytest.raises(ValueError, match="momentum or betas"):
        L.OneCycleLR(mt.optim.Optimizer([p], {"lr": 0.1}), max_lr=1.0, total_steps=3)
    warm = L.LinearLR(opt, 0.1, total_iters=2)
    with pytest.raises(ValueError, match="one milestone fewer than schedulers, got 2 schedulers and 2 milestones"):
        L.SequentialLR(opt, [warm, L.StepLR(opt, 2)], [2, 3])
    with pytest.raises(TypeError, match="ReduceLROnPlateau needs a metric"):
        L.SequentialLR(opt, [warm, L.ReduceLROnPlateau(opt)], [2])
    with pytest.raises(ValueError, match="factor must be < 1.0"):
        L.ReduceLROnPlateau(opt, factor=1.0)
    plateau = L.ReduceLROnPlateau(opt, patience=0)
    plateau.step(1.0)
    plateau.step(2.0)
    state = plateau.state_dict()
    assert state["best"] == 1.0 and "optimizer" not in state
    seq = L.SequentialLR(opt, [L.LinearLR(opt, 0.5, total_iters=2), L.ExponentialLR(opt, 0.5)], [2])
    seq.step()
    seq.step()
    saved = seq.state_dict()
    assert len(saved["_schedulers"]) == 2
    seq.step()
    seq.load_state_dict(saved)
    assert seq.last_epoch == 2


# ---------------------------------------------------------------------- errors that name shapes and dtypes
def test_bad_arguments_raise_errors_naming_shapes(backend):
    x = mt.arange(5.0, device=backend)
    with pytest.raises(RuntimeError, match=r"sum exactly to 5 .*shape \(5,\)\), but got split_sizes=\[2, 2\]"):
        x.split([2, 2])
    with pytest.raises(RuntimeError, match=r"split_size to be positive, got -1 \(shape \(5,\)"):
        x.split(-1)
    with pytest.raises(RuntimeError, match=r"chunks` to be greater than 0, got 0 \(shape \(5,\)\)"):
        x.chunk(0)
    with pytest.raises(RuntimeError, match=r"number of repeat dims \(1\) can not be smaller .*\(2, shape \(2, 3\)\)"):
        mt.ones(2, 3, device=backend).repeat(2)
    with pytest.raises(RuntimeError, match="has a dim more than once"):
        mt.ones(2, 3, device=backend).flip((0, 0))
    with pytest.raises(ValueError, match=r"even length of at most 2 \* 1 for an input of shape \(5,\)"):
        F.pad(x, (1, 1, 1))
    with pytest.raises(ValueError, match=r"negative size \(input shape \(5,\)\)"):
        F.pad(x, (-3, -3))
    with pytest.raises(NotImplementedError, match="only mode='constant'"):
        F.pad(x, (1, 1), mode="reflect")
    with pytest.raises(TypeError, match=r"floating-point tensor, got int64 \(shape \(2,\)\)"):
        mt.tensor([3, 4], device=backend).norm()
    with pytest.raises(ValueError, match="p must be a number"):
        x.norm("nuc")
    with pytest.raises(TypeError, match="either `unbiased` or `correction`"):
        x.var(unbiased=True, correction=0)
    with pytest.raises(IndexError, match=r"dimension out of range .*got 1"):
        mt.tensor(2.0, device=backend).cumsum(1)


# ---------------------------------------------------------------------- static graphs: jit and ONNX
def test_jit_fuses_the_new_elementwise_ops_and_matches_eager():
    def f(x):
        return F.gelu(x) + x.sin() * x.cos() + x.expm1() - (x * x).log1p()

    x = mt.tensor(randn(4, 5), dtype="float64")
    jitted = mt.jit(f)
    np.testing.assert_allclose(jitted(x).numpy(), f(x).numpy(), rtol=1e-12)
    np.testing.assert_allclose(jitted(x).numpy(), f(x).numpy(), rtol=1e-12)  # the replay
    summary = jitted.summary()
    assert "erf" in str(jitted.graph) and "fused" in summary.lower()
    # ops with no fused kernel replay as recorded, gradients included

    def h(x):
        return (x.cumsum(1) * x.flip(0)).prod(1) + F.pad(x, (1, 0))[:, 1:].sum(1) + x.norm(dim=1) + (x % 0.5).sum(1)

    xs = [mt.tensor(randn(4, 5), dtype="float64", requires_grad=True) for _ in range(2)]
    h_jit = mt.jit(h)
    h_jit(xs[0].detach())  # the trace
    h_jit(xs[0]).sum().backward()  # a replay, recording the graph
    h(xs[1]).sum().backward()
    np.testing.assert_allclose(xs[0].grad.numpy(), xs[1].grad.numpy(), rtol=1e-12)


def test_onnx_export_of_the_new_ops_runs_in_onnxruntime():
    ort = pytest.importorskip("onnxruntime")
    mt.onnx.export  # noqa: B018  (the exporter is importable)

    class Model(nn.Module):
        def forward(self, x):
            y = F.gelu(x) + x.sin() + x.cos() + x.erf() + x.log1p().abs() + (x * 0.1).expm1()
            return F.pad(y.flip(1).cumsum(1), (1, 2), value=0.5) + y.prod(1, keepdim=True)

    data = np.abs(randn(3, 4)).astype(np.float32)
    proto = mt.onnx.export(Model(), mt.tensor(data))
    session = ort.InferenceSession(proto.SerializeToString())
    (got,) = session.run(None, {session.get_inputs()[0].name: data})
    np.testing.assert_allclose(got, Model()(mt.tensor(data)).numpy(), rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------- hand-computed (no PyTorch needed)
def test_hand_computed_values(backend):
    t = lambda data: mt.tensor(data, dtype="float64", device=backend)  # noqa: E731
    np.testing.assert_array_equal((t([-7.0, 7.0]) // t([2.0, -2.0])).numpy(), [-4.0, -4.0])
    np.testing.assert_array_equal((t([-7.0, 7.0]) % t([2.0, -2.0])).numpy(), [1.0, -1.0])
    np.testing.assert_array_equal(t([1.0, 2.0, 3.0, 4.0, 5.0]).cumsum(0).numpy(), [1, 3, 6, 10, 15])
    x = t([2.0, 0.0, 3.0, 0.5]).requires_grad_()
    x.prod().backward()  # d/dx_i = product of the others: only the zero's is non-zero
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 3.0, 0.0, 0.0])
    np.testing.assert_allclose(t([1.0, 2.0, 3.0, 4.0]).var(correction=0).item(), 1.25)
    np.testing.assert_allclose(t([1.0, 2.0, 3.0, 4.0]).std().item(), math.sqrt(5 / 3))
    np.testing.assert_allclose(t([3.0, -4.0]).norm().item(), 5.0)
    np.testing.assert_allclose(t([3.0, -4.0]).norm(INF).item(), 4.0)
    np.testing.assert_allclose(F.gelu(t([1.0])).item(), 0.5 * (1 + math.erf(1 / math.sqrt(2))))
    np.testing.assert_array_equal(t([[1.0, 2.0]]).repeat(2, 2).numpy(), [[1, 2, 1, 2], [1, 2, 1, 2]])
    np.testing.assert_array_equal(t([[1.0, 2.0], [3.0, 4.0]]).flip(0, 1).numpy(), [[4, 3], [2, 1]])
    np.testing.assert_array_equal(F.pad(t([1.0, 2.0]), (1, 2), value=9.0).numpy(), [9, 1, 2, 9, 9])
    np.testing.assert_allclose(F.smooth_l1_loss(t([0.0, 0.0]), t([0.5, 3.0]), reduction="none").numpy(), [0.125, 2.5])
    np.testing.assert_allclose(F.softplus(t([0.0, 30.0])).numpy(), [math.log(2), 30.0])
    y = t([-1.0, 0.0, 2.0]).requires_grad_()
    F.leaky_relu(y, 0.1).sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), [0.1, 0.1, 1.0])


def test_hand_computed_schedules():
    p = mt.tensor([1.0], requires_grad=True)
    opt = mt.optim.SGD([p], lr=1.0, momentum=0.9)
    sched = L.OneCycleLR(opt, max_lr=1.0, total_steps=11, pct_start=0.2, anneal_strategy="linear")
    lrs = []
    for _ in range(11):
        lrs.append(opt.param_groups[0]["lr"])
        sched.step()
    # up from 1/25 to 1 over steps 0..1.2, then down to 1/25/1e4 at step 10
    np.testing.assert_allclose(lrs[0], 0.04)
    np.testing.assert_allclose(lrs[1], 0.04 + 0.96 / 1.2)
    np.testing.assert_allclose(lrs[10], 0.04 / 1e4)
    opt = mt.optim.SGD([p], lr=1.0)
    plateau = L.ReduceLROnPlateau(opt, factor=0.5, patience=1)
    for metric in (1.0, 1.0, 1.0, 1.0, 1.0):
        plateau.step(metric)
    assert plateau.get_last_lr() == [0.25]  # reduced after the 2nd and the 4th bad epoch
