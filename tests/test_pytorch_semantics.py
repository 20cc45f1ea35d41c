"""Cases where the reference used to give a silently wrong answer (issue 10), on every backend.

Each test checks hand-computed values or the error message, so it bites without PyTorch; where
PyTorch is installed it also checks that PyTorch agrees (the same value, or an error of its kind).
"""

from __future__ import annotations

import math
import operator

import numpy as np
import pytest

import minitorch_edu as mt
import minitorch_edu.nn.functional as F

try:
    import torch
except ImportError:  # the hand-computed values still check everything
    torch = None

NAN = float("nan")


def same(got: mt.Tensor, expected: list | float, dtype: str | None = None) -> None:
    """Values (nan where nan), and the dtype when given."""
    np.testing.assert_allclose(got.numpy(), np.asarray(expected, dtype=np.float64), rtol=1e-6, equal_nan=True)
    if dtype is not None:
        assert got.dtype == np.dtype(dtype), f"dtype {got.dtype}, expected {dtype}"


def torch_agrees(fn, expected) -> None:
    """PyTorch gives `expected` too (values with nan equal), when it is installed."""
    if torch is not None:
        np.testing.assert_allclose(np.asarray(fn(torch)), np.asarray(expected, dtype=np.float64), equal_nan=True)


def torch_raises(fn, error: type[Exception]) -> None:
    if torch is not None:
        with pytest.raises(error):
            fn(torch)


# ---------------------------------------------------------------------- 1. integer inputs of float ops
E1, E2 = math.exp(1), math.exp(2)


@pytest.mark.parametrize(
    ("op", "expected"),
    [
        ("exp", [E1, E2]),
        ("sigmoid", [1 / (1 + math.exp(-1)), 1 / (1 + math.exp(-2))]),
        ("log", [0.0, math.log(2)]),
        ("sqrt", [1.0, math.sqrt(2)]),
        ("tanh", [math.tanh(1), math.tanh(2)]),
        ("softmax", [E1 / (E1 + E2), E2 / (E1 + E2)]),
        ("log_softmax", [1 - math.log(E1 + E2), 2 - math.log(E1 + E2)]),
    ],
)
def test_integer_inputs_of_float_ops_promote_to_float32(backend: str, op: str, expected: list) -> None:
    x = mt.tensor([1, 2], device=backend)
    assert x.dtype == np.int64
    args = (0,) if op in ("softmax", "log_softmax") else ()
    same(getattr(x, op)(*args), expected, "float32")
    if op not in ("log_softmax", "softmax"):  # PyTorch has no integer softmax kernel
        torch_agrees(lambda t: getattr(t.tensor([1, 2]), op)(*args), expected)


def test_integer_mean_var_and_logsumexp_are_float(backend: str) -> None:
    x = mt.tensor([1, 2, 6], device=backend)
    same(x.mean(), 3.0, "float32")
    same(x.var(), 7.0, "float32")  # ((1-3)^2 + (2-3)^2 + (6-3)^2) / 2
    same(mt.tensor([0, 0], device=backend).logsumexp(0), math.log(2), "float32")


def test_integer_to_a_negative_integer_power_raises_as_in_pytorch(backend: str) -> None:
    with pytest.raises(RuntimeError, match="Integers to negative integer powers are not allowed.*int64"):
        mt.tensor([2], device=backend) ** -1
    torch_raises(lambda t: t.tensor([2]) ** -1, RuntimeError)
    # a float exponent (or base) promotes: the value PyTorch gives
    same(mt.tensor([2], device=backend) ** -1.0, [0.5], "float32")
    same(mt.tensor([2.0], device=backend) ** -1, [0.5], "float32")
    torch_agrees(lambda t: t.tensor([2]) ** -1.0, [0.5])
    same(mt.tensor([2, 3], device=backend) ** 2, [4, 9], "int64")  # non-negative stays integer


def test_cross_entropy_with_integer_logits_raises(backend: str) -> None:
    with pytest.raises(RuntimeError, match="logits must be floating point, got int64"):
        F.cross_entropy(mt.tensor([[1, 2]], device=backend), mt.tensor([0], device=backend))
    torch_raises(lambda t: t.nn.functional.cross_entropy(t.tensor([[1, 2]]), t.tensor([0])), RuntimeError)
    # the float logits give the true value log(1 + e)
    loss = F.cross_entropy(mt.tensor([[1.0, 2.0]], device=backend), mt.tensor([0], device=backend))
    same(loss, math.log(1 + math.e))


# ---------------------------------------------------------------------- 2. in-place ops keep their dtype
@pytest.mark.parametrize(
    ("update", "other"),
    [(operator.iadd, 0.5), (operator.isub, 0.5), (operator.imul, 0.5), (operator.itruediv, 2), (operator.iadd, "t")],
)
def test_inplace_refuses_a_float_result_in_an_integer_tensor(backend: str, update, other) -> None:
    x = mt.tensor([1, 2], device=backend)
    value = mt.tensor([0.5, 0.5], device=backend) if other == "t" else other
    with pytest.raises(RuntimeError, match="result type float32 can't be cast to the desired output type int64"):
        update(x, value)
    same(x, [1, 2], "int64")  # untouched
    if torch is not None:
        with pytest.raises(RuntimeError, match="can't be cast"):
            update(torch.tensor([1, 2]), torch.tensor([0.5, 0.5]) if other == "t" else other)


def test_inplace_integer_updates_that_fit_still_work(backend: str) -> None:
    x = mt.tensor([1, 2], device=backend)
    x += 3
    x *= 2
    x -= mt.tensor([1, 1], device=backend)
    same(x, [7, 9], "int64")
    y = mt.tensor([1.0, 2.0], device=backend)
    y += 1  # an integer into a float tensor fits
    same(y, [2.0, 3.0], "float32")


@pytest.mark.parametrize("other", [1, 0.5, "int tensor", "0-d float"])
def test_inplace_refuses_a_number_in_a_mask(backend: str, other) -> None:
    m = mt.tensor([True, False], device=backend)
    value = {
        "int tensor": mt.tensor([1, 1], device=backend),
        "0-d float": mt.tensor(2.0, device=backend),
    }.get(other, other)
    with pytest.raises(RuntimeError, match="can't be cast to the desired output type bool"):
        m += value
    same(m, [True, False], "bool")
    m *= mt.tensor([True, True], device=backend)  # a mask into a mask fits
    same(m, [True, False], "bool")
    if torch is not None:
        t = torch.tensor([True, False])
        with pytest.raises(RuntimeError, match="can't be cast"):
            t += {"int tensor": torch.tensor([1, 1]), "0-d float": torch.tensor(2.0)}.get(other, other)


def test_inplace_a_0d_float_does_not_fit_an_integer_tensor(backend: str) -> None:
    x = mt.tensor([1, 2], device=backend)
    with pytest.raises(RuntimeError, match="result type float64 can't be cast"):
        x += mt.tensor(0.5, dtype="float64", device=backend)
    same(x, [1, 2], "int64")


# ---------------------------------------------------------------------- 3. boolean masks, integer indices
def test_a_comparison_mask_selects_elements(backend: str) -> None:
    x = mt.arange(4.0, device=backend)
    same(x[x > 1], [2.0, 3.0], "float32")
    same(x[x > 5], [])
    torch_agrees(lambda t: t.arange(4.0)[t.arange(4.0) > 1], [2.0, 3.0])
    m = mt.tensor([[1.0, -2.0], [-3.0, 4.0]], device=backend)
    same(m[m > 0], [1.0, 4.0])  # a full-shape mask gives a 1-D result, row-major
    same(m[mt.tensor([1.0, -1.0], device=backend) > 0], [[1.0, -2.0]])  # a mask over the rows picks rows


def test_numpy_and_list_bool_masks_select(backend: str) -> None:
    x = mt.tensor([10.0, 20.0, 30.0], device=backend)
    same(x[np.array([True, False, True])], [10.0, 30.0])
    same(x[[False, True, False]], [20.0])
    with pytest.raises(IndexError, match=r"shape of the mask \(2,\) does not match .* \(3,\)"):
        x[np.array([True, False])]


def test_a_mask_selection_is_differentiable(backend: str) -> None:
    x = mt.tensor([1.0, -2.0, 3.0], requires_grad=True, device=backend)
    (x[x > 0] * mt.tensor([2.0, 5.0], device=backend)).sum().backward()
    same(x.grad, [2.0, 0.0, 5.0])


@pytest.mark.parametrize("index", [[0.7, 2.2], "tensor"])
def test_a_float_index_raises_naming_the_dtype(backend: str, index) -> None:
    x = mt.arange(4.0, device=backend)
    key = mt.tensor([0.7, 2.2], device=backend) if index == "tensor" else index
    with pytest.raises(IndexError, match="must be integer .* got float"):
        x[key]
    torch_raises(lambda t: t.arange(4.0)[t.tensor([0.7, 2.2])], IndexError)
    same(x[mt.tensor([3, 1], device=backend)], [3.0, 1.0])  # integer indices still pick rows


# ---------------------------------------------------------------------- 4. nan wins in max/argmax, relu
def test_argmax_and_max_with_nan(backend: str) -> None:
    x = mt.tensor([1.0, NAN, 3.0], device=backend)
    assert x.argmax().item() == 1
    assert math.isnan(x.max().item())
    torch_agrees(lambda t: t.tensor([1.0, NAN, 3.0]).argmax(), 1)
    rows = mt.tensor([[1.0, 5.0, NAN], [7.0, 2.0, 3.0]], device=backend)
    assert rows.argmax(1).tolist() == [2, 0]
    assert rows.argmin(1).tolist() == [2, 1]  # nan wins for argmin too
    torch_agrees(lambda t: t.tensor([[1.0, 5.0, NAN], [7.0, 2.0, 3.0]]).argmin(1), [2, 1])


def test_relu_of_nan_is_nan(backend: str) -> None:
    same(mt.tensor([NAN, -1.0, 2.0], device=backend).relu(), [NAN, 0.0, 2.0])
    torch_agrees(lambda t: t.tensor([NAN, -1.0, 2.0]).relu(), [NAN, 0.0, 2.0])


# ---------------------------------------------------------------------- 5. empty and one-element statistics
def test_empty_mean_and_one_element_var_are_nan(backend: str) -> None:
    same(mt.zeros(0, 3, device=backend).mean(), NAN)
    same(mt.zeros(0, 3, device=backend).mean(0), [NAN, NAN, NAN])
    same(mt.tensor([3.0], device=backend).var(), NAN)
    same(mt.tensor([3.0], device=backend).var(unbiased=False), 0.0)
    same(mt.tensor([1.0, 3.0], device=backend).var(), 2.0)
    torch_agrees(lambda t: t.zeros(0, 3).mean(), NAN)
    if torch is not None:
        with pytest.warns(UserWarning):
            torch_agrees(lambda t: t.tensor([3.0]).var(), NAN)


@pytest.mark.parametrize("op", ["argmax", "argmin", "max", "min"])
def test_reductions_of_an_empty_tensor_raise(backend: str, op: str) -> None:
    with pytest.raises(RuntimeError, match=rf"{op}\(\): Expected reduction dim to be specified .*shape \(0, 3\)"):
        getattr(mt.zeros(0, 3, device=backend), op)()
    with pytest.raises(IndexError, match=r"reduction dim 0 to have non-zero size"):
        getattr(mt.zeros(0, 3, device=backend), op)(0)
    torch_raises(lambda t: getattr(t.zeros(0, 3), op)(), (RuntimeError, IndexError))
    # along a non-empty dim, an empty result is fine
    out = getattr(mt.zeros(0, 3, device=backend), op)(1)
    assert (out if op.startswith("arg") else out.values).shape == (0,)


# ---------------------------------------------------------------------- 6. 0-d tensors
@pytest.mark.parametrize(("op", "expected"), [("softmax", 1.0), ("log_softmax", 0.0), ("logsumexp", 3.0)])
def test_dim_ops_of_a_0d_tensor(backend: str, op: str, expected: float) -> None:
    out = getattr(mt.tensor(3.0, device=backend), op)(0)
    assert out.shape == ()
    same(out, expected)
    same(getattr(mt.tensor(3.0, device=backend), op)(-1), expected)
    torch_agrees(lambda t: getattr(t.tensor(3.0), op)(0), expected)
    with pytest.raises(IndexError, match=r"dimension out of range .*\[-1, 0\].* got 1"):
        getattr(mt.tensor(3.0, device=backend), op)(1)


def test_max_and_argmax_of_a_0d_tensor_along_dim_0(backend: str) -> None:
    x = mt.tensor(3.0, device=backend)
    same(x.max(0).values, 3.0)
    assert x.max(0).indices.item() == 0
    assert x.argmax(0).item() == 0 and x.argmax(0).shape == ()


def test_cat_of_0d_tensors_raises_as_in_pytorch(backend: str) -> None:
    with pytest.raises(RuntimeError, match=r"zero-dimensional tensor \(at position 0\) cannot be concatenated"):
        mt.cat([mt.tensor(1.0, device=backend), mt.tensor(2.0, device=backend)])
    torch_raises(lambda t: t.cat([t.tensor(1.0), t.tensor(2.0)]), RuntimeError)
    same(mt.stack([mt.tensor(1.0, device=backend), mt.tensor(2.0, device=backend)]), [1.0, 2.0])


# ---------------------------------------------------------------------- 7. max/min(dim): (values, indices)
def test_max_and_min_along_a_dim_return_values_and_indices(backend: str) -> None:
    x = mt.tensor([[1.0, 5.0], [7.0, 2.0]], device=backend)
    v, i = x.max(1)
    same(v, [5.0, 7.0], "float32")
    same(i, [1, 0], "int64")
    out = mt.min(x, 0, keepdim=True)
    same(out.values, [[1.0, 2.0]])
    same(out.indices, [[0, 1]], "int64")
    assert type(out).__name__ == "min" and isinstance(out, tuple)
    assert isinstance(x.max(), mt.Tensor)  # no dim: the largest element itself
    same(x.max(), 7.0)
    if torch is not None:
        tv, ti = torch.tensor([[1.0, 5.0], [7.0, 2.0]]).max(1)
        assert tv.tolist() == v.tolist() and ti.tolist() == i.tolist()


TIES = [[1.0, 5.0, 5.0], [7.0, 7.0, 2.0]]


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        # no dim: the gradient is shared evenly among the tied extremes
        (lambda t: t.max(), [[0.0, 0.0, 0.0], [0.5, 0.5, 0.0]]),
        (lambda t: t.min(), [[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]]),
        (lambda t: (t * 0 + 5).max(), [[0.0] * 3, [0.0] * 3]),  # the graph goes through the product
        # along a dim: all of it goes to the index returned (the first extreme)
        (lambda t: t.max(1).values.sum(), [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]),
        (lambda t: t.min(1).values.sum(), [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]),
        (lambda t: t.max(0).values.sum(), [[0.0, 0.0, 1.0], [1.0, 1.0, 0.0]]),
    ],
    ids=["max", "min", "max-of-const", "max-dim", "min-dim", "max-dim0"],
)
def test_max_min_gradients_over_ties_match_pytorch(backend: str, call, expected) -> None:
    x = mt.tensor(TIES, requires_grad=True, device=backend)
    call(x).backward()
    same(x.grad, expected)
    if torch is not None:
        tx = torch.tensor(TIES, requires_grad=True)
        call(tx).backward()
        np.testing.assert_allclose(tx.grad.numpy(), expected)


def test_max_gradient_with_nan_goes_to_the_nans(backend: str) -> None:
    x = mt.tensor([[1.0, NAN, NAN]], requires_grad=True, device=backend)
    x.max().backward()
    same(x.grad, [[0.0, 0.5, 0.5]])
    x.grad = None
    x.max(1).values.sum().backward()
    same(x.grad, [[0.0, 1.0, 0.0]])
    if torch is not None:
        tx = torch.tensor([[1.0, NAN, NAN]], requires_grad=True)
        tx.max().backward()
        np.testing.assert_allclose(tx.grad.numpy(), [[0.0, 0.5, 0.5]])


# ---------------------------------------------------------------------- 8. gradients in the leaf's dtype
def test_a_float32_leaf_gets_a_float32_gradient_from_a_float64_op(backend: str) -> None:
    x = mt.tensor([1.0, 2.0], requires_grad=True, device=backend)
    w = mt.tensor([2.0, 3.0], dtype="float64", requires_grad=True, device=backend)
    y = x * w
    assert y.dtype == np.float64
    y.sum().backward()
    same(x.grad, [2.0, 3.0], "float32")
    same(w.grad, [1.0, 2.0], "float64")
    if torch is not None:
        tx = torch.tensor([1.0, 2.0], requires_grad=True)
        (tx * torch.tensor([2.0, 3.0], dtype=torch.float64)).sum().backward()
        assert tx.grad.dtype == torch.float32


# ---------------------------------------------------------------------- 9. 0-d tensors and scalars do not widen
@pytest.mark.parametrize(
    ("left", "right", "expected"),
    [
        (([1.0, 2.0], "float32"), (1.0, "float64"), "float32"),  # 0-d float64 does not widen float32
        (([1.0, 2.0], "float64"), (1.0, "float32"), "float64"),
        (([1, 2], "int64"), (1.5, "float32"), "float32"),  # a higher category does
        (([1, 2], "int64"), (1.5, "float64"), "float64"),
        (([1.0, 2.0], "float32"), ([1.0, 1.0], "float64"), "float64"),  # two tensors with dims: promote
        ((1.0, "float32"), (1.0, "float64"), "float64"),  # two 0-d tensors: promote
    ],
)
def test_0d_tensors_do_not_widen_a_tensor_with_dims(backend: str, left, right, expected: str) -> None:
    a = mt.tensor(left[0], dtype=left[1], device=backend)
    b = mt.tensor(right[0], dtype=right[1], device=backend)
    for out in (a + b, b * a, a - b, b / a):
        assert out.dtype == np.dtype(expected), (a.dtype, a.shape, b.dtype, b.shape, out.dtype)
    same(a + b, np.asarray(left[0]) + np.asarray(right[0]))
    if torch is not None:
        ta = torch.tensor(left[0], dtype=getattr(torch, left[1]))
        tb = torch.tensor(right[0], dtype=getattr(torch, right[1]))
        assert str((ta + tb).dtype) == f"torch.{expected}"


def test_python_scalars_do_not_widen_and_lift_to_the_default_dtype(backend: str) -> None:
    ints = mt.tensor([1, 2], device=backend)
    same(ints + 0.5, [1.5, 2.5], "float32")  # torch's default dtype
    same(0.5 * ints, [0.5, 1.0], "float32")
    same(ints + 1, [2, 3], "int64")
    same(mt.tensor([1.0], device=backend) * 2.5, [2.5], "float32")
    same(mt.tensor([1.0], dtype="float64", device=backend) * 2.5, [2.5], "float64")
    same(ints + mt.tensor(0.5, device=backend), [1.5, 2.5], "float32")  # int tensor + 0-d float tensor
    if torch is not None:
        assert (torch.tensor([1, 2]) + 0.5).dtype == torch.float32
        assert (torch.tensor([1, 2]) + torch.tensor(0.5)).dtype == torch.float32


def test_a_float32_model_stays_float32_with_a_float64_scalar_tensor(backend: str) -> None:
    x = mt.tensor([[1.0, 2.0]], requires_grad=True, device=backend)
    scale = mt.tensor(0.5, dtype="float64", device=backend)
    y = (x * scale).exp().sum()
    assert y.dtype == np.float32
    y.backward()
    same(x.grad, [[0.5 * math.exp(0.5), 0.5 * math.exp(1.0)]], "float32")


# ---------------------------------------------------------------------- 10. stable BCE, checked classes
def test_bce_of_a_saturated_sigmoid_has_a_zero_gradient(backend: str) -> None:
    x = mt.tensor([20.0, -20.0], requires_grad=True, device=backend)
    loss = F.binary_cross_entropy(x.sigmoid(), mt.tensor([1.0, 0.0], device=backend))
    loss.backward()
    assert x.grad.numpy()[0] == 0.0  # sigmoid(20) is exactly 1 in float32: the old gradient was nan
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 0.0], atol=1e-8)
    np.testing.assert_allclose(loss.numpy(), 0.0, atol=1e-8)
    if torch is not None:
        tx = torch.tensor([20.0, -20.0], requires_grad=True)
        torch.nn.functional.binary_cross_entropy(tx.sigmoid(), torch.tensor([1.0, 0.0])).backward()
        np.testing.assert_allclose(tx.grad.numpy(), [0.0, 0.0], atol=1e-8)


def test_bce_at_p_0_and_1_is_clamped_like_pytorch(backend: str) -> None:
    p = mt.tensor([0.0, 1.0, 0.25], requires_grad=True, device=backend)
    y = mt.tensor([1.0, 0.0, 1.0], device=backend)
    loss = F.binary_cross_entropy(p, y, reduction="none")
    same(loss, [100.0, 100.0, -math.log(0.25)])
    loss.sum().backward()
    # (p - y) / max(p (1 - p), 1e-12): -1e12, 1e12, and -1/p where nothing is clamped
    np.testing.assert_allclose(p.grad.numpy(), [-1e12, 1e12, -4.0], rtol=1e-5)
    if torch is not None:
        tp = torch.tensor([0.0, 1.0, 0.25], requires_grad=True)
        tl = torch.nn.functional.binary_cross_entropy(tp, torch.tensor([1.0, 0.0, 1.0]), reduction="none")
        np.testing.assert_allclose(tl.detach().numpy(), loss.numpy(), rtol=1e-6)
        tl.sum().backward()
        np.testing.assert_allclose(tp.grad.numpy(), p.grad.numpy(), rtol=1e-5)


@pytest.mark.parametrize("bad", [1.5, -0.1, NAN])
def test_bce_outside_0_1_raises_like_pytorch(backend: str, bad: float) -> None:
    p = mt.tensor([0.5, bad], device=backend)
    with pytest.raises(RuntimeError, match="all elements of input should be between 0 and 1"):
        F.binary_cross_entropy(p, mt.tensor([1.0, 0.0], device=backend))
    torch_raises(
        lambda t: t.nn.functional.binary_cross_entropy(t.tensor([0.5, bad]), t.tensor([1.0, 0.0])), RuntimeError
    )


def test_one_hot_with_an_out_of_range_class_raises(backend: str) -> None:
    with pytest.raises(RuntimeError, match="smaller than num_classes: class 3 with num_classes=3"):
        F.one_hot(mt.tensor([0, 3], device=backend), 3)
    with pytest.raises(RuntimeError, match="non-negative, got class -1"):
        F.one_hot(mt.tensor([0, -1], device=backend), 3)
    torch_raises(lambda t: t.nn.functional.one_hot(t.tensor([0, 3]), 3), RuntimeError)
    same(F.one_hot(mt.tensor([0, 2], device=backend), 3), [[1, 0, 0], [0, 0, 1]])
    same(F.one_hot(mt.tensor([1, 0], device=backend)), [[0, 1], [1, 0]])  # num_classes=-1: inferred


@pytest.mark.parametrize("loss", ["cross_entropy", "nll_loss", "cross_entropy_weighted"])
@pytest.mark.parametrize("target", [2, -1])
def test_class_targets_out_of_range_raise_on_every_backend(backend: str, loss: str, target: int) -> None:
    """On the CPU backends at once; on CUDA from a device-side count, when the loss is read."""
    logits = mt.tensor([[1.0, 2.0], [0.5, 0.0]], device=backend)
    classes = mt.tensor([0, target], device=backend)
    with pytest.raises(IndexError, match=r"out of range for 2 classes \(valid indices are 0 to 1\)"):
        if loss == "nll_loss":
            out = F.nll_loss(logits.log_softmax(1), classes)
        elif loss == "cross_entropy_weighted":
            out = F.cross_entropy(logits, classes, weight=mt.tensor([1.0, 2.0], device=backend))
        else:
            out = F.cross_entropy(logits, classes)
        out.item()
    torch_raises(lambda t: t.nn.functional.cross_entropy(t.tensor([[1.0, 2.0]]), t.tensor([target])), IndexError)
    good = F.cross_entropy(logits, mt.tensor([0, 1], device=backend))
    same(good, (math.log(1 + math.e) + math.log(1 + math.exp(0.5))) / 2)


# ---------------------------------------------------------------------- 11. accurate float32 sums
def test_a_long_float32_sum_is_accurate(backend: str) -> None:
    """2e5 uniform values: one float32 running sum per SIMD lane was off by ~0.1 (PyTorch: ~0.003)."""
    values = np.random.default_rng(0).random(200_000).astype(np.float32)
    exact = values.astype(np.float64).sum()
    x = mt.tensor(values, device=backend)
    got = x.sum()
    assert got.dtype == np.float32
    assert abs(got.item() - exact) < 0.01, (got.item(), exact)
    assert abs(x.mean().item() - exact / values.size) < 0.01 / values.size
    rows = mt.tensor(values.reshape(4, 50_000), device=backend).sum(1)
    np.testing.assert_allclose(rows.numpy(), values.reshape(4, 50_000).astype(np.float64).sum(1), atol=0.005)
    columns = values.reshape(50_000, 4)  # the reduced dim is not the contiguous one
    got = mt.tensor(columns, device=backend).sum(0)
    np.testing.assert_allclose(got.numpy(), columns.astype(np.float64).sum(0), atol=0.005)


@pytest.mark.parametrize("n", [20, 300])
def test_a_long_fold_starts_from_the_value_in_out(backend: str, n: int) -> None:
    """The unrolled path (16+ elements per row) folds onto `out`'s start value, as the short one does."""
    from minitorch_edu.backends import scalar

    x = mt.tensor(np.arange(3.0 * n).reshape(3, n), device=backend)
    out = x._reduce(scalar.add, 1, 10.0)
    expected = np.arange(3.0 * n).reshape(3, n).sum(1) + 10.0  # n = 20: [200, 600, 1000]
    same(out.reshape(-1), expected)
    if n == 20:
        same(out.reshape(-1), [200.0, 600.0, 1000.0])
    peak = x._reduce(scalar.maximum, 1, 1e9)  # a start value above every element wins
    same(peak.reshape(-1), [1e9] * 3)
    ints = mt.tensor(np.arange(3 * n).reshape(3, n), device=backend)._reduce(scalar.add, 1, 10)
    same(ints.reshape(-1), np.arange(3 * n).reshape(3, n).sum(1) + 10, "int64")


# ---------------------------------------------------------------------- issue 27: found by the autograder's tester
@pytest.mark.parametrize("key", [1.7, np.float64(1.0), "1"])
def test_a_float_scalar_index_raises_instead_of_truncating(backend: str, key) -> None:
    x = mt.arange(4.0, device=backend)
    with pytest.raises(IndexError, match=r"only integers, slices .* \(got "):
        x[key]
    with pytest.raises(IndexError):
        x.reshape(2, 2)[0, 1.5]
    torch_raises(lambda t: t.arange(4.0)[1.7], IndexError)
    same(x[np.int64(2)], 2.0)  # NumPy integers are integers
    same(x[-1], 3.0)


@pytest.mark.parametrize("data", [[2**63], [-(2**63) - 1], 2**63, [[1], [2**64]]])
def test_an_integer_outside_int64_raises_instead_of_wrapping(data) -> None:
    with pytest.raises(ValueError, match="Overflow .* does not fit in int64"):
        mt.tensor(data)
    torch_raises(lambda t: t.tensor(data), (ValueError, RuntimeError))


def test_integers_at_the_int64_limits_and_a_float_dtype_still_work() -> None:
    assert mt.tensor([2**63 - 1, -(2**63)]).tolist() == [2**63 - 1, -(2**63)]
    assert mt.tensor([2**63], dtype="float64").item() == float(2**63)


def test_arange_with_a_zero_step_says_so() -> None:
    with pytest.raises(RuntimeError, match="step must be nonzero"):
        mt.arange(0, 10, 0)
    torch_raises(lambda t: t.arange(0, 10, 0), RuntimeError)


def test_linear_with_no_inputs_is_an_empty_layer_that_works() -> None:
    layer = mt.nn.Linear(0, 2)
    assert layer.weight.shape == (2, 0) and layer.bias.tolist() == [0.0, 0.0]
    x = mt.zeros(3, 0, requires_grad=True)
    y = layer(x)
    same(y, np.zeros((3, 2)))
    y.sum().backward()
    same(layer.bias.grad, [3.0, 3.0])
    assert layer.weight.grad.shape == (2, 0) and x.grad.shape == (3, 0)
    if torch is not None:
        t = torch.nn.Linear(0, 2)
        assert tuple(t(torch.zeros(3, 0)).shape) == (3, 2) and t.bias.abs().sum().item() == 0.0
    assert mt.nn.Linear(0, 4, bias=False)(mt.zeros(5, 0)).shape == (5, 4)


@pytest.mark.parametrize("size", [2.5, True, 0, -1, "2"])
def test_dataloader_refuses_a_batch_size_that_is_not_a_positive_integer(size) -> None:
    data = mt.data.TensorDataset(mt.zeros(5))
    with pytest.raises(ValueError, match="positive integer"):
        mt.data.DataLoader(data, batch_size=size)
    assert len(mt.data.DataLoader(data, batch_size=np.int64(2))) == 3
