"""The bool dtype (issue 10, item 1): comparisons return masks of dtype bool, promotion treats bool as
the lowest category (bool < integer < float), masks select, and the logical operators work, on every
backend. Values are hand-computed, so the tests bite without PyTorch; where PyTorch is installed each
case also checks that PyTorch gives the same values and dtype.
"""

from __future__ import annotations

import operator

import numpy as np
import pytest

import minitorch_edu as mt

try:
    import torch
except ImportError:  # the hand-computed values still check everything
    torch = None

TORCH_DTYPES = {"bool": "bool", "int64": "int64", "float32": "float32", "float64": "float64"}


def check(got: mt.Tensor, expected, dtype: str, torch_fn=None) -> None:
    """Values and dtype of `got`; and, with PyTorch installed, PyTorch's values and dtype of `torch_fn`."""
    assert got.dtype == np.dtype(dtype), f"dtype {got.dtype}, expected {dtype}"
    np.testing.assert_array_equal(got.numpy(), np.asarray(expected, dtype=dtype))
    if torch is not None and torch_fn is not None:
        theirs = torch_fn(torch)
        assert str(theirs.dtype).removeprefix("torch.") == TORCH_DTYPES[dtype]
        np.testing.assert_array_equal(theirs.numpy(), np.asarray(expected, dtype=dtype))


# ---------------------------------------------------------------------- the dtype itself
@pytest.mark.parametrize(
    ("op", "expected"),
    [
        (operator.lt, [True, False, False]),
        (operator.le, [True, True, False]),
        (operator.gt, [False, False, True]),
        (operator.ge, [False, True, True]),
        (operator.eq, [False, True, False]),
        (operator.ne, [True, False, True]),
    ],
)
def test_comparisons_return_bool_masks(backend: str, op, expected: list) -> None:
    x = mt.tensor([1.0, 2.0, 3.0], device=backend)
    check(op(x, 2.0), expected, "bool", lambda t: op(t.tensor([1.0, 2.0, 3.0]), 2.0))
    check(op(x, mt.tensor([2.0], device=backend)), expected, "bool")
    check(op(mt.tensor([1, 2, 3], device=backend), 2), expected, "bool")  # integers compare too


def test_the_dtype_has_pytorchs_names(backend: str) -> None:
    assert mt.bool == np.dtype(np.bool_)
    m = mt.tensor([True, False], device=backend)
    check(m, [True, False], "bool", lambda t: t.tensor([True, False]))
    check(mt.tensor(np.array([0, 2]) > 1, device=backend), [False, True], "bool")
    check(mt.tensor([0.0, 0.5, float("nan")], device=backend).bool(), [False, True, True], "bool",
          lambda t: t.tensor([0.0, 0.5, float("nan")]).bool())
    check(mt.tensor([0, 3], device=backend).to(dtype="bool"), [False, True], "bool")
    check(mt.zeros(2, dtype=mt.bool, device=backend), [False, False], "bool")
    check(m.float(), [1.0, 0.0], "float32")
    check(m.long(), [1, 0], "int64")
    assert m.tolist() == [True, False] and m[0].item() is True
    assert repr(mt.tensor([False, True])) == "tensor([False,  True])"  # PyTorch prints no dtype for bool


def test_masks_cannot_require_gradients() -> None:
    with pytest.raises(RuntimeError, match="only floating-point tensors can require gradients, not bool"):
        mt.tensor([True]).requires_grad_()


# ---------------------------------------------------------------------- promotion
M, N = [True, True, False], [True, False, False]


@pytest.mark.parametrize(
    ("name", "fn", "expected", "dtype"),
    [
        ("mask + mask is or", lambda t, m, n: m + n, [True, True, False], "bool"),
        ("mask * mask is and", lambda t, m, n: m * n, [True, False, False], "bool"),
        ("mask / mask is float", lambda t, m, n: m / t.tensor([True, True, True]), [1.0, 1.0, 0.0], "float32"),
        ("mask + 1 counts", lambda t, m, n: m + 1, [2, 2, 1], "int64"),
        ("mask * 0.5 is float32", lambda t, m, n: m * 0.5, [0.5, 0.5, 0.0], "float32"),
        ("mask + True stays a mask", lambda t, m, n: m + True, [True, True, True], "bool"),
        ("float + mask", lambda t, m, n: t.tensor([1.0, 2.0, 3.0]) + m, [2.0, 3.0, 3.0], "float32"),
        ("double * mask", lambda t, m, n: t.tensor([1.0, 2.0, 3.0], dtype=t.float64) * m, [1.0, 2.0, 0.0],
         "float64"),
        ("int + mask", lambda t, m, n: t.tensor([1, 2, 3]) + m, [2, 3, 3], "int64"),
        ("mask + 0-d int widens (higher category)", lambda t, m, n: m + t.tensor(2), [3, 3, 2], "int64"),
        ("int + 0-d mask does not widen", lambda t, m, n: t.tensor([1, 2, 3]) + t.tensor(True), [2, 3, 4],
         "int64"),
        ("where picks with a mask", lambda t, m, n: t.where(m, t.tensor([1.0, 2.0, 3.0]), t.tensor(0.0)),
         [1.0, 2.0, 0.0], "float32"),
    ],
)
def test_promotion_treats_bool_as_the_lowest_category(backend: str, name: str, fn, expected, dtype: str) -> None:
    m, n = mt.tensor(M, device=backend), mt.tensor(N, device=backend)

    class On:  # `t.tensor(...)` on this backend, so one lambda serves mt and torch
        tensor = staticmethod(lambda data, **kw: mt.tensor(data, device=backend, **kw))
        where = staticmethod(mt.where)
        float64 = mt.float64

    check(fn(On, m, n), expected, dtype, lambda t: fn(t, t.tensor(M), t.tensor(N)))


@pytest.mark.parametrize(
    ("name", "fn", "expected", "dtype"),
    [
        ("sum counts", lambda m: m.sum(), 4, "int64"),
        ("sum along a dim", lambda m: m.sum(1), [2, 2, 0], "int64"),
        ("prod", lambda m: m[:2].prod(0), [1, 0, 0], "int64"),
        ("cumsum", lambda m: m.cumsum(1), [[1, 2, 2], [1, 1, 2], [0, 0, 0]], "int64"),
        ("max", lambda m: m.max(), True, "bool"),
        ("max along a dim", lambda m: m.max(1).values, [True, True, False], "bool"),
        ("min along a dim", lambda m: m.min(0).values, [False, False, False], "bool"),
        ("float of a mask averages", lambda m: m.float().mean(), 4 / 9, "float32"),
    ],
)
def test_reductions_of_masks_count(backend: str, name: str, fn, expected, dtype: str) -> None:
    rows = [[True, True, False], [True, False, True], [False, False, False]]
    check(fn(mt.tensor(rows, device=backend)), expected, dtype, lambda t: fn(t.tensor(rows)))


def test_argmax_and_argmin_of_masks_find_the_first_true_and_false(backend: str) -> None:
    m = mt.tensor([[False, True, True], [True, False, True], [False, False, False]], device=backend)
    check(m.argmax(1), [1, 0, 0], "int64")  # PyTorch has no bool argmax; NumPy's answer
    check(m.argmin(1), [0, 1, 0], "int64")
    np.testing.assert_array_equal(m.argmax(1).numpy(), m.numpy().argmax(1))


def test_a_mask_takes_no_negation_or_subtraction(backend: str) -> None:
    m = mt.tensor([True, False], device=backend)
    with pytest.raises(TypeError, match=r"Negation, the `-` operator, with bool tensors is not supported.*`~`"):
        _ = -m
    with pytest.raises(TypeError, match=r"Subtraction, the `-` operator, with bool tensors is not supported"):
        _ = m - m
    check(m - 1, [0, -1], "int64")  # a mask minus a number counts
    if torch is not None:
        with pytest.raises(RuntimeError, match="Negation"):
            -torch.tensor([True])
        with pytest.raises(RuntimeError, match="Subtraction"):
            torch.tensor([True]) - torch.tensor([True])


# ---------------------------------------------------------------------- logical operators
def test_logical_operators(backend: str) -> None:
    x = mt.tensor([-1.0, 0.0, 2.0, 3.0], device=backend)
    a, b = x > 0, x < 3
    check(a & b, [False, False, True, False], "bool")
    check(a | b, [True, True, True, True], "bool")
    check(a ^ b, [True, True, False, True], "bool")
    check(~a, [True, True, False, False], "bool")
    check(a & True, [False, False, True, True], "bool")
    check(x.logical_not(), [False, True, False, False], "bool", lambda t: t.tensor([-1.0, 0.0, 2.0, 3.0]).logical_not())
    check(mt.logical_and(x, mt.tensor([1, 1, 0, 2], device=backend)), [True, False, False, True], "bool",
          lambda t: t.logical_and(t.tensor([-1.0, 0.0, 2.0, 3.0]), t.tensor([1, 1, 0, 2])))
    check(mt.logical_or(x, 0), [True, False, True, True], "bool")
    check(mt.logical_xor(x, x), [False, False, False, False], "bool")
    assert x[(x > -1) & (x < 3)].tolist() == [0.0, 2.0]


def test_bitwise_operators_refuse_numbers_with_advice(backend: str) -> None:
    x = mt.tensor([1.0, 0.0], device=backend)
    with pytest.raises(TypeError, match=r"`&` operator takes bool tensors .* got float32 and bool.*logical_and"):
        _ = x & (x > 0)
    with pytest.raises(TypeError, match=r"`~` inverts a bool mask; this tensor is float32 \(shape \(2,\)\)"):
        _ = ~x


@pytest.mark.parametrize(
    ("fn", "expected"),
    [
        (lambda x: x.any(), True),
        (lambda x: x.all(), False),
        (lambda x: x.any(1), [True, False]),
        (lambda x: x.all(0), [False, False, False]),
        (lambda x: x.any(0, keepdim=True), [[True, True, False]]),
        (lambda x: (x != 7).all(), True),
        (lambda x: x[:, :0].all(), True),  # every element of nothing holds
        (lambda x: x[:, :0].any(), False),
    ],
)
def test_any_and_all(backend: str, fn, expected) -> None:
    data = [[0.0, 2.0, 0.0], [0.0, 0.0, 0.0]]
    data[0][0] = -1.0
    check(fn(mt.tensor(data, device=backend)), expected, "bool", lambda t: fn(t.tensor(data)))


# ---------------------------------------------------------------------- masks as indices
def test_masks_select_and_integer_tensors_pick(backend: str) -> None:
    x = mt.arange(4.0, device=backend)
    check(x[x > 1], [2.0, 3.0], "float32")
    check(x[mt.tensor([0, 1, 1, 0], device=backend)], [0.0, 1.0, 1.0, 0.0], "float32",  # positions, not a mask
          lambda t: t.arange(4.0)[t.tensor([0, 1, 1, 0])])
    check(x[mt.tensor([False, True, True, False], device=backend)], [1.0, 2.0], "float32")
    y = mt.arange(4.0, device=backend)
    y[y > 1] = -1.0
    check(y, [0.0, 1.0, -1.0, -1.0], "float32")
    check(x.masked_fill(x < 2, 9.0), [9.0, 9.0, 2.0, 3.0], "float32",
          lambda t: t.arange(4.0).masked_fill(t.arange(4.0) < 2, 9.0))


def test_masked_fill_takes_only_masks(backend: str) -> None:
    x = mt.arange(3.0, device=backend)
    with pytest.raises(RuntimeError, match="masked_fill only supports boolean masks .* got mask with dtype float32"):
        x.masked_fill(mt.tensor([1.0, 0.0, 1.0], device=backend), 0.0)
    if torch is not None:
        with pytest.raises(RuntimeError, match="masked_fill_ only supports boolean masks"):
            torch.arange(3.0).masked_fill(torch.tensor([1.0, 0.0, 1.0]), 0.0)


def test_a_mask_gates_gradients(backend: str) -> None:
    x = mt.tensor([-2.0, 1.0, 3.0], device=backend, requires_grad=True)
    (x * (x > 0)).sum().backward()
    check(x.grad, [0.0, 1.0, 1.0], "float32")
    x.grad = None
    mt.where(x > 2, x * x, x).sum().backward()
    check(x.grad, [1.0, 1.0, 6.0], "float32")


def test_masks_round_trip_through_save_and_devices(tmp_path, backend: str) -> None:
    m = mt.tensor([True, False, True], device=backend)
    mt.save({"mask": m}, tmp_path / "m.pt")
    back = mt.load(tmp_path / "m.pt")["mask"]
    check(back, [True, False, True], "bool")
    check(m.to("python"), [True, False, True], "bool")
