"""Every tensor op on every backend: forward against NumPy, backward against finite differences.

The `backend` fixture (tests/conftest.py) runs each test on "python", "numba" and "cuda" (the
simulator without a GPU); shapes stay tiny so the slow backends stay fast.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minitorch_edu as mt


def values(rng, shape, low=0.5, high=2.0, signed=True):
    """Random float64 values with |x| in [low, high] (away from kinks and from zero)."""
    x = rng.uniform(low, high, size=shape)
    if signed:
        x = x * rng.choice([-1.0, 1.0], size=shape)
    return x


def check(t, expected, rtol=1e-6, atol=1e-9, dtype=None):
    """t (a Tensor) equals `expected` (array-like) in shape, dtype (when given) and values."""
    assert isinstance(t, mt.Tensor)
    expected = np.asarray(expected)
    assert t.shape == expected.shape
    if dtype is not None:
        assert t.dtype == np.dtype(dtype)
    np.testing.assert_allclose(t.numpy(), expected, rtol=rtol, atol=atol)


def sigmoid_np(x):
    return 1.0 / (1.0 + np.exp(-x))


def logsumexp_np(x, axis, keepdims=False):
    m = np.max(x, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


# ---------------------------------------------------------------------------- elementwise
UNARY = {
    "neg": (lambda t: -t, np.negative, True),
    "exp": (mt.exp, np.exp, True),
    "log": (mt.log, np.log, False),
    "sqrt": (lambda t: t.sqrt(), np.sqrt, False),
    "sigmoid": (mt.sigmoid, sigmoid_np, True),
    "tanh": (lambda t: t.tanh(), np.tanh, True),
    "relu": (mt.relu, lambda x: np.maximum(x, 0.0), True),
    "abs": (abs, np.abs, True),
}


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_forward_and_backward(gradcheck, backend, make, rng, name):
    op, ref, signed = UNARY[name]
    x = values(rng, (2, 3), signed=signed)
    t = make(x)
    check(op(t), ref(x), dtype="float64")
    assert t.shape == (2, 3) and t.backend.name == backend
    gradcheck(op, make(x))


def test_unary_float32_keeps_dtype(make, rng):
    x = values(rng, (4,))
    t = make(x, dtype="float32")
    for name, (op, ref, signed) in UNARY.items():
        arg = x if signed else np.abs(x)
        out = op(make(arg, dtype="float32"))
        assert out.dtype == np.float32, name
        np.testing.assert_allclose(out.numpy(), ref(arg.astype(np.float32)), rtol=1e-5, err_msg=name)
    assert t.dtype == np.float32


def test_unary_special_values(make):
    t = make([0.0, -1.0, 800.0, -800.0])
    with np.errstate(all="ignore"):
        check(t.log(), np.log([0.0, -1.0, 800.0, -800.0]))
        check(t.sqrt(), np.sqrt([0.0, -1.0, 800.0, -800.0]))
    check(t.exp(), [1.0, np.exp(-1.0), np.inf, 0.0], rtol=1e-12)
    check(t.sigmoid(), [0.5, sigmoid_np(-1.0), 1.0, 0.0])  # no overflow at +-800
    check(t.tanh(), np.tanh([0.0, -1.0, 800.0, -800.0]))


BINARY = {
    "add": (lambda a, b: a + b, np.add),
    "sub": (lambda a, b: a - b, np.subtract),
    "mul": (lambda a, b: a * b, np.multiply),
    "div": (lambda a, b: a / b, np.divide),
    "pow": (lambda a, b: a**b, np.power),
    "maximum": (mt.maximum, np.maximum),
    "minimum": (lambda a, b: a.minimum(b), np.minimum),
}
BROADCAST_PAIRS = [((2, 3), (2, 3)), ((2, 3), (3,)), ((3, 1), (1, 2)), ((2, 1, 3), (2, 1)), ((), (2, 2))]


@pytest.mark.parametrize("shapes", BROADCAST_PAIRS, ids=str)
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_forward_and_backward(gradcheck, backend, make, rng, name, shapes):
    op, ref = BINARY[name]
    a = values(rng, shapes[0], signed=name != "pow")
    b = values(rng, shapes[1])
    expected = ref(a, b)
    out = op(make(a), make(b))
    check(out, expected, rtol=1e-12, dtype="float64")
    swapped = op(make(b), make(a)) if name != "pow" else op(make(np.abs(b)), make(a))
    check(swapped, ref(b, a) if name != "pow" else ref(np.abs(b), a), rtol=1e-12)
    gradcheck(op, make(a), make(b))


def test_binary_with_python_scalars(gradcheck, make, rng):
    x = values(rng, (2, 2))
    t = make(x)
    check(t + 2, x + 2)
    check(2 + t, 2 + x)
    check(t - 2, x - 2)
    check(2 - t, 2 - x)
    check(t * 3, x * 3)
    check(3 * t, 3 * x)
    check(t / 4, x / 4)
    check(4 / t, 4 / x)
    check(abs(t) ** 0.5, np.abs(x) ** 0.5)
    check(2**t, 2**x)
    check(mt.maximum(t, 0.7), np.maximum(x, 0.7))
    check(t.clamp(-1.0, 1.0), np.clip(x, -1.0, 1.0))
    check(t.clamp(min=0.0), np.clip(x, 0.0, None))
    gradcheck(lambda u: 3.0 / u - u * 2 + u**2, make(x))
    gradcheck(lambda u: u.clamp(-1.0, 1.0), make(values(rng, (3,), 0.3, 0.9)))


def test_division_by_zero_and_pow_edge_cases(make):
    a = make([1.0, -1.0, 0.0, 2.0])
    z = make([0.0, 0.0, 0.0, -0.0])
    with np.errstate(all="ignore"):
        check(a / z, np.array([1.0, -1.0, 0.0, 2.0]) / np.array([0.0, 0.0, 0.0, -0.0]))
    p = make([0.0, 0.0, 2.0, -2.0]) ** make([-1.0, 0.0, 3.0, 2.0])
    check(p, [np.inf, 1.0, 8.0, 4.0])


def test_ties_split_the_gradient_of_maximum(make):
    a = make([1.0, 2.0, 3.0], requires_grad=True)
    b = make([1.0, 3.0, 2.0], requires_grad=True)
    mt.maximum(a, b).sum().backward()
    check(a.grad, [0.5, 0.0, 1.0])
    check(b.grad, [0.5, 1.0, 0.0])


COMPARISONS = {
    "eq": (lambda a, b: a == b, np.equal),
    "ne": (lambda a, b: a != b, np.not_equal),
    "lt": (lambda a, b: a < b, np.less),
    "le": (lambda a, b: a <= b, np.less_equal),
    "gt": (lambda a, b: a > b, np.greater),
    "ge": (lambda a, b: a >= b, np.greater_equal),
}


@pytest.mark.parametrize("name", sorted(COMPARISONS))
def test_comparisons(make, rng, name):
    op, ref = COMPARISONS[name]
    a = rng.integers(0, 3, size=(2, 3)).astype(np.float64)  # small integers: plenty of ties
    b = rng.integers(0, 3, size=(3,)).astype(np.float64)
    out = op(make(a), make(b))
    check(out, ref(a, b).astype(np.float64))
    assert not out.requires_grad
    check(op(make(a), 1.0), ref(a, 1.0), dtype="bool")
    check(op(make(a, dtype="int64"), make(b, dtype="int64")), ref(a, b), dtype="bool")


def test_where_forward_and_backward(gradcheck, make, rng):
    cond = np.array([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
    a = values(rng, (2, 3))
    b = values(rng, (3,))
    out = mt.where(make(cond), make(a), make(b))
    check(out, np.where(cond != 0, a, b))
    check(mt.where(make(a) > 0, make(a), 0.0), np.where(a > 0, a, 0.0))
    check(mt.where(make(cond), 1.0, -1.0), np.where(cond != 0, 1.0, -1.0))
    c = make(cond)
    gradcheck(lambda x, y: mt.where(c, x, y), make(a), make(b))


# ---------------------------------------------------------------------------- reductions
REDUCTIONS = {
    "sum": (lambda t, **k: t.sum(**k), lambda x, **k: np.sum(x, **k)),
    "mean": (lambda t, **k: t.mean(**k), lambda x, **k: np.mean(x, **k)),
    "var": (lambda t, **k: t.var(**k), lambda x, **k: np.var(x, ddof=1, **k)),
    "max": (lambda t, **k: _values(t.max(**k)), lambda x, **k: np.max(x, **k)),
    "min": (lambda t, **k: _values(mt.min(t, **k)), lambda x, **k: np.min(x, **k)),
}
DIMS = [None, 0, 1, -1, -3]


def _values(out):
    """max/min along a dim return (values, indices), as in PyTorch; the values are compared."""
    return out.values if isinstance(out, tuple) else out


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", DIMS, ids=str)
@pytest.mark.parametrize("name", sorted(REDUCTIONS))
def test_reductions(gradcheck, backend, make, rng, name, dim, keepdim):
    op, ref = REDUCTIONS[name]
    x = values(rng, (2, 3, 2))
    t = make(x)
    if dim is None:
        kwargs = {"keepdim": True} if keepdim else {}
        out = op(t, **kwargs)
        expected = ref(x, keepdims=True) if keepdim else ref(x)
    else:
        out = op(t, dim=dim, keepdim=keepdim)
        expected = ref(x, axis=dim, keepdims=keepdim)
    check(out, expected, rtol=1e-10, dtype="float64")
    if dim is None or keepdim:  # one gradient check per op and dim
        gradcheck(lambda u: op(u, **({"dim": dim, "keepdim": keepdim} if dim is not None else {})), make(x))


@pytest.mark.parametrize("dim", [(0, 2), (-1, 0), [1]], ids=str)
def test_sum_mean_var_over_several_dims(gradcheck, make, rng, dim):
    x = values(rng, (2, 3, 2))
    axis = tuple(dim)
    check(make(x).sum(dim), x.sum(axis=axis))
    check(make(x).mean(dim, keepdim=True), x.mean(axis=axis, keepdims=True))
    check(make(x).var(dim), x.var(axis=axis, ddof=1))
    check(make(x).var(dim, unbiased=False), x.var(axis=axis))
    gradcheck(lambda u: u.var(dim) + u.mean(dim), make(x))


def test_reductions_of_int64_and_scalars(make):
    n = make([[1, 5, 3], [7, 2, 7]], dtype="int64")
    check(n.sum(), 25, dtype="int64")
    check(n.sum(0), [8, 7, 10], dtype="int64")
    check(n.max(1).values, [5, 7], dtype="int64")
    check(n.min(), 1, dtype="int64")
    check(n.mean(), 25 / 6, rtol=1e-6)
    assert n.mean().dtype.kind == "f"
    s = make(3.5)
    check(s.sum(), 3.5)
    check(s.max(), 3.5)
    check(mt.sum(make([[1.0, 2.0]]), dim=1), [3.0])


@pytest.mark.parametrize("dim", [None, 0, 1, -1])
def test_argmax_argmin_pick_the_first_extreme(make, rng, dim):
    x = rng.integers(0, 3, size=(3, 4)).astype(np.float64)  # ties everywhere: numpy picks the first
    for t in (make(x), make(x, dtype="int64")):
        am = t.argmax(dim)
        check(am, np.argmax(x, axis=dim), dtype="int64")
        check(mt.argmin(t, dim), np.argmin(x, axis=dim), dtype="int64")
    if dim is not None:
        check(make(x).argmax(dim, keepdim=True), np.expand_dims(np.argmax(x, axis=dim), dim))


def test_max_gradient_goes_to_the_first_maximum(make):
    t = make([[1.0, 3.0, 3.0], [2.0, 0.0, 2.0]], requires_grad=True)
    t.max(1).values.sum().backward()
    check(t.grad, [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])


# ---------------------------------------------------------------------------- matmul
MATMUL_SHAPES = [
    ((3,), (3,)),
    ((2, 3), (3,)),
    ((3,), (3, 2)),
    ((2, 3), (3, 4)),
    ((2, 2, 3), (3, 2)),
    ((2, 1, 2, 3), (3, 3, 2)),
]


@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
def test_matmul(gradcheck, backend, make, rng, shapes):
    a, b = values(rng, shapes[0]), values(rng, shapes[1])
    out = make(a) @ make(b)
    check(out, a @ b, rtol=1e-12, dtype="float64")
    check(mt.matmul(make(a), make(b)), a @ b, rtol=1e-12)
    gradcheck(lambda x, y: x @ y, make(a), make(b))


def test_matmul_of_views_and_dtypes(make, rng):
    a, b = values(rng, (3, 2)), values(rng, (4, 3))
    check(make(a).T @ make(b).T, a.T @ b.T, rtol=1e-12)
    check(make(b)[:, 1:] @ make(a)[1:], b[:, 1:] @ a[1:], rtol=1e-12)
    i = make([[1, 2], [3, 4]], dtype="int64")
    check(i @ i, np.array([[7, 10], [15, 22]]), dtype="int64")
    f = make([[1.0, 2.0], [3.0, 4.0]], dtype="float32")
    check(f @ i, np.array([[7.0, 10.0], [15.0, 22.0]]), dtype="float32")


# ---------------------------------------------------------------------------- softmax family
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_family(gradcheck, make, rng, dim):
    x = values(rng, (2, 3), 0.1, 3.0)
    e = np.exp(x - x.max(axis=dim, keepdims=True))
    soft = e / e.sum(axis=dim, keepdims=True)
    check(make(x).softmax(dim), soft, rtol=1e-10)
    check(mt.log_softmax(make(x), dim), np.log(soft), rtol=1e-10)
    check(mt.logsumexp(make(x), dim), logsumexp_np(x, dim), rtol=1e-10)
    check(make(x).logsumexp(dim, keepdim=True), logsumexp_np(x, dim, keepdims=True), rtol=1e-10)
    gradcheck(lambda u: u.softmax(dim) * make(x), make(x))  # weighted: sum(softmax) has no gradient
    gradcheck(lambda u: u.log_softmax(dim) * make(x), make(x))
    gradcheck(lambda u: u.logsumexp(dim), make(x))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_softmax_family_with_extreme_inputs(make, dtype):
    x = np.array([[1000.0, 0.0, -1000.0], [1000.0, 1000.0, 1000.0], [-1000.0, -1000.0, -999.0]])
    t = make(x, dtype=dtype)
    soft = t.softmax(-1).numpy()
    assert np.all(np.isfinite(soft))
    last = np.array([1.0, 1.0, np.e]) / (2 + np.e)
    np.testing.assert_allclose(soft, [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3], last], rtol=1e-5, atol=1e-30)
    lse = t.logsumexp(-1).numpy()
    np.testing.assert_allclose(lse, logsumexp_np(x, -1), rtol=1e-6)
    ls = t.log_softmax(-1).numpy()
    assert np.all(np.isfinite(ls))
    np.testing.assert_allclose(ls, x - logsumexp_np(x, -1, keepdims=True), rtol=1e-6, atol=1e-6)
    g = make(x, dtype=dtype, requires_grad=True)
    (g.log_softmax(-1) * make(np.eye(3), dtype=dtype)).sum().backward()
    assert np.all(np.isfinite(g.grad.numpy()))


# ---------------------------------------------------------------------------- views and joins
def test_views_share_storage_and_have_the_right_strides(make):
    base = make(np.zeros((2, 3)))
    assert base.stride() == (3, 1) and base.is_contiguous()
    t = base.T
    assert t.shape == (3, 2) and t.stride() == (1, 3) and not t.is_contiguous()
    assert base.permute(1, 0).stride() == (1, 3)
    assert base.unsqueeze(1).shape == (2, 1, 3)
    e = base[0:1].expand(4, 3)
    assert e.shape == (4, 3) and e.stride() == (0, 1)
    assert base[:, ::2].stride() == (3, 2)
    with mt.no_grad():
        row = base[1]
        row += 1.0  # writes through the view into base's storage
        col = base.T[2]
        col *= 5.0
        flat = base.view(6)
        flat[0:1] += 7.0
    check(base, [[7.0, 0.0, 0.0], [1.0, 1.0, 5.0]])
    copy = base.T.reshape(6)  # needs a copy: writing to it leaves base alone
    with mt.no_grad():
        copy += 100.0
    check(base, [[7.0, 0.0, 0.0], [1.0, 1.0, 5.0]])
    clone = base.clone()
    with mt.no_grad():
        clone.zero_()
    check(base, [[7.0, 0.0, 0.0], [1.0, 1.0, 5.0]])
    with mt.no_grad():
        base[0].copy_(make([1.0, 2.0, 3.0]))
        base.T[1].fill_(-1.0)
    check(base, [[1.0, -1.0, 3.0], [1.0, -1.0, 5.0]])


SHAPE_OPS = {
    "reshape": (lambda t: t.reshape(3, 4), lambda x: x.reshape(3, 4)),
    "reshape_minus_one": (lambda t: t.reshape(-1, 2), lambda x: x.reshape(-1, 2)),
    "view": (lambda t: t.view(4, 3), lambda x: x.reshape(4, 3)),
    "permute": (lambda t: t.permute(2, 0, 1), lambda x: x.transpose(2, 0, 1)),
    "transpose": (lambda t: t.transpose(0, 2), lambda x: np.swapaxes(x, 0, 2)),
    "T": (lambda t: t.T, lambda x: x.T),
    "mT": (lambda t: t.mT, lambda x: np.swapaxes(x, -1, -2)),
    "transpose_then_reshape": (lambda t: t.transpose(0, 1).reshape(6, 2), lambda x: x.swapaxes(0, 1).reshape(6, 2)),
    "expand": (lambda t: t[:, :1].expand(2, 3, 2), lambda x: np.broadcast_to(x[:, :1], (2, 3, 2))),
    "expand_lead": (lambda t: t.expand(2, 2, 3, 2), lambda x: np.broadcast_to(x, (2, 2, 3, 2))),
    "unsqueeze": (lambda t: t.unsqueeze(-1), lambda x: x[..., None]),
    "squeeze": (lambda t: t[:, :1].squeeze(1), lambda x: x[:, 0]),
    "squeeze_all": (lambda t: t[:1, :, :1].squeeze(), lambda x: x[0, :, 0]),
    "flatten": (lambda t: t.flatten(), lambda x: x.reshape(-1)),
    "flatten_1": (lambda t: t.flatten(1), lambda x: x.reshape(2, -1)),
    "int_index": (lambda t: t[1], lambda x: x[1]),
    "negative_index": (lambda t: t[-1, -2], lambda x: x[-1, -2]),
    "slices": (lambda t: t[:, 1:, ::2], lambda x: x[:, 1:, ::2]),
    "stepped": (lambda t: t[::2, ::2], lambda x: x[::2, ::2]),
    "ellipsis_none": (lambda t: t[..., None, 0], lambda x: x[..., None, 0]),
    "contiguous": (lambda t: t.T.contiguous(), lambda x: np.ascontiguousarray(x.T)),
    "index_list": (lambda t: t[[1, 0, 1]], lambda x: x[[1, 0, 1]]),
    "index_select_1": (lambda t: t.index_select(1, [2, 0]), lambda x: x[:, [2, 0]]),
    "index_select_neg": (lambda t: mt.index_select(t, -1, [-1, 0, 1]), lambda x: x[:, :, [-1, 0, 1]]),
}


@pytest.mark.parametrize("name", sorted(SHAPE_OPS))
def test_shape_ops(gradcheck, backend, make, rng, name):
    op, ref = SHAPE_OPS[name]
    x = values(rng, (2, 3, 2))
    check(op(make(x)), ref(x), rtol=0, atol=0)
    weight = make(values(rng, ref(x).shape))  # weighted, so that a permuted gradient is caught
    gradcheck(lambda u: op(u) * weight, make(x))


def test_cat_and_stack(gradcheck, backend, make, rng):
    a, b, c = values(rng, (2, 3)), values(rng, (1, 3)), values(rng, (2, 3))
    check(mt.cat([make(a), make(b)]), np.concatenate([a, b]))
    check(mt.cat([make(a), make(c)], dim=-1), np.concatenate([a, c], axis=-1))
    check(mt.concatenate([make(a).T, make(c).T], 0), np.concatenate([a.T, c.T]))
    check(mt.stack([make(a), make(c)]), np.stack([a, c]))
    check(mt.stack([make(a), make(c)], dim=2), np.stack([a, c], axis=2))
    check(mt.stack([make(a), make(c)], dim=-1), np.stack([a, c], axis=-1))
    w = make(values(rng, (3, 3)))
    gradcheck(lambda x, y: mt.cat([x, y]) * w, make(a), make(b))
    w2 = make(values(rng, (2, 3, 2)))
    gradcheck(lambda x, y: mt.stack([x, y], -1) * w2, make(a), make(c))
    mixed = mt.cat([make([[1, 2]], dtype="int64"), make([[0.5, 1.5]], dtype="float64")])
    check(mixed, [[1.0, 2.0], [0.5, 1.5]], dtype="float64")


def test_composite_expression(gradcheck, backend, make, rng):
    """A small network-like expression: every rule has to be right for the check to pass."""
    x, w, bias = values(rng, (3, 2)), values(rng, (2, 2)), values(rng, (2,))

    def f(x_, w_, b_):
        h = (x_ @ w_ + b_).tanh()
        return (h.softmax(-1) * h.sigmoid()).sum(0) / (1 + h.abs().mean())

    h = np.tanh(x @ w + bias)
    e = np.exp(h - h.max(-1, keepdims=True))
    expected = (e / e.sum(-1, keepdims=True) * sigmoid_np(h)).sum(0) / (1 + np.abs(h).mean())
    check(f(make(x), make(w), make(bias)), expected, rtol=1e-10)
    gradcheck(f, make(x), make(w), make(bias))


# ---------------------------------------------------------------------------- dtypes
def test_dtypes_and_promotion(make):
    assert mt.tensor([1, 2]).dtype == np.int64
    assert mt.tensor([1.0, 2.0]).dtype == np.float32
    assert mt.tensor(np.array([1.0])).dtype == np.float64
    i = make([3, 4], dtype="int64")
    f32 = make([1.0, 2.0], dtype="float32")
    f64 = make([1.0, 2.0], dtype="float64")
    check(i + i, [6, 8], dtype="int64")
    check(i * 2, [6, 8], dtype="int64")
    check(i - 1, [2, 3], dtype="int64")
    check(i + f32, [4.0, 6.0], dtype="float32")
    check(f32 + f64, [2.0, 4.0], dtype="float64")
    check(i + f64, [4.0, 6.0], dtype="float64")
    check(i + 0.5, [3.5, 4.5], dtype="float32")
    check(f32 * 2.5, [2.5, 5.0], dtype="float32")
    check(f64 * 2, [2.0, 4.0], dtype="float64")
    check(i / 2, [1.5, 2.0])  # true division of integers gives floats
    assert (i / i).dtype.kind == "f"
    check(i**2, [9, 16], dtype="int64")
    check(i.double(), [3.0, 4.0], dtype="float64")
    check(f64.float(), [1.0, 2.0], dtype="float32")
    check(make([1.7, -2.7]).long(), [1, -2], dtype="int64")
    check(i.to(dtype="float32"), [3.0, 4.0], dtype="float32")
    check(f64.type_as(i), [1, 2], dtype="int64")


def test_cast_is_differentiable(make):
    x = make([1.0, 2.0], dtype="float32", requires_grad=True)
    y = (x.double() * make([3.0, 4.0], dtype="float64")).sum()
    assert y.dtype == np.float64
    y.backward()
    check(x.grad, [3.0, 4.0], dtype="float32")


def test_float32_precision_is_float32(make, rng):
    x = rng.standard_normal((3, 4))
    y = rng.standard_normal((4, 2))
    out = make(x, dtype="float32") @ make(y, dtype="float32")
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), x.astype(np.float32) @ y.astype(np.float32), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------- hypothesis: broadcasting
@st.composite
def broadcastable_pair(draw):
    out = draw(st.lists(st.integers(1, 3), min_size=0, max_size=3))
    a = [s if draw(st.booleans()) else 1 for s in out][draw(st.integers(0, len(out))) :]
    b = [s if draw(st.booleans()) else 1 for s in out][draw(st.integers(0, len(out))) :]
    return tuple(a), tuple(b)


@settings(max_examples=15)
@given(broadcastable_pair(), st.sampled_from(sorted(BINARY)), st.integers(0, 2**32 - 1))
def test_binary_broadcasting_property(backend, shapes, name, seed):
    op, ref = BINARY[name]
    rng = np.random.default_rng(seed)
    a = values(rng, shapes[0], signed=name != "pow")
    b = values(rng, shapes[1])
    x = mt.tensor(a, device=backend, requires_grad=True)
    y = mt.tensor(b, device=backend, requires_grad=True)
    out = op(x, y)
    check(out, ref(a, b), rtol=1e-12)
    g = rng.standard_normal(out.shape)
    out.backward(mt.tensor(g, device=backend))
    assert x.grad.shape == x.shape and y.grad.shape == y.shape
    local = {"add": (1.0, 1.0), "sub": (1.0, -1.0), "mul": (b, a)}
    if name in local:  # d(out)/dx times g, summed over the dims broadcasting added or stretched
        lx, ly = local[name]
        np.testing.assert_allclose(x.grad.numpy(), unbroadcast_np(g * lx, a.shape), rtol=1e-10)
        np.testing.assert_allclose(y.grad.numpy(), unbroadcast_np(g * ly, b.shape), rtol=1e-10)


def unbroadcast_np(full, shape):
    full = np.asarray(full)
    full = full.sum(axis=tuple(range(full.ndim - len(shape)))) if full.ndim > len(shape) else full
    return full.sum(axis=tuple(d for d, s in enumerate(shape) if s == 1), keepdims=True).reshape(shape)


# ---------------------------------------------------------------------------- numba fast paths
def test_numba_fast_paths_on_larger_shapes(rng):
    """Shapes big enough to reach the numba backend's tiled, column and blocked kernels."""
    a = rng.standard_normal((40, 50))
    b = rng.standard_normal((50, 40))
    ta, tb = mt.tensor(a, device="numba"), mt.tensor(b, device="numba")
    check(ta + tb.T, a + b.T, rtol=1e-12)  # operands walk different dims fastest: tiles
    check(ta.T * tb, a.T * b, rtol=1e-12)
    check(ta.T.exp(), np.exp(a.T), rtol=1e-12)
    wide = rng.standard_normal((30, 1500))
    tw = mt.tensor(wide, device="numba")
    check(tw.sum(0), wide.sum(0), rtol=1e-10)  # reduce along a strided dim: whole rows at once
    check(tw.max(0).values, wide.max(0))
    check(tw.sum(1), wide.sum(1), rtol=1e-10)
    check(tw.T.sum(0), wide.sum(1), rtol=1e-10)
    check(tw[:, ::3].sum(0), wide[:, ::3].sum(0), rtol=1e-10)
    m1, m2 = rng.standard_normal((3, 65, 70)), rng.standard_normal((70, 33))
    check(mt.tensor(m1, device="numba") @ mt.tensor(m2, device="numba"), m1 @ m2, rtol=1e-9, atol=1e-9)
    check(
        mt.tensor(m2, device="numba").T @ mt.tensor(m1, device="numba").mT,
        m2.T @ np.swapaxes(m1, -1, -2),
        rtol=1e-9,
        atol=1e-9,
    )
    f1, f2 = m1.astype(np.float32), m2.astype(np.float32)
    out = mt.tensor(f1, device="numba") @ mt.tensor(f2, device="numba")
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), f1 @ f2, rtol=1e-4, atol=1e-4)
    big = rng.standard_normal(100_003)
    check(mt.tensor(big, device="numba").sigmoid(), sigmoid_np(big), rtol=1e-12)
    check(mt.tensor(big, device="numba").sum(), big.sum(), rtol=1e-9)
