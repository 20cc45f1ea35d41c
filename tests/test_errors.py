"""Every error a user can run into: the right exception type and a message that names the problem."""

from __future__ import annotations

import numpy as np
import pytest

import minitorch_edu as mt
from minitorch_edu.backends import python as P
from minitorch_edu.backends.base import HostStorage


class FakeDeviceStorage(HostStorage):
    """Host memory that claims to be another device: two devices without a GPU."""

    device = "fake"


FAKE = mt.Backend(
    "fake-device",
    map=P.tensor_map,
    zip=P.tensor_zip,
    reduce=P.tensor_reduce,
    matmul=P.tensor_matmul,
    storage=FakeDeviceStorage,
)


def test_non_broadcastable_shapes_name_both_shapes(make):
    a, b = make(np.ones((2, 3))), make(np.ones((4,)))
    for op in (lambda: a + b, lambda: a * b, lambda: mt.maximum(a, b), lambda: mt.where(a, a, b), lambda: a > b):
        with pytest.raises(ValueError, match=r"\(2, 3\).*\(4,\)|\(4,\).*\(2, 3\)"):
            op()
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(3, 3\)"):
        a.expand(3, 3)


def test_matmul_mismatch_names_the_shapes(make):
    a, b = make(np.ones((2, 3))), make(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"\(2, 3\) @ \(2, 3\)"):
        a @ b
    with pytest.raises(ValueError, match=r"\(2, 2, 3\).*\(3, 3, 2\)"):
        make(np.ones((2, 2, 3))) @ make(np.ones((3, 3, 2)))
    with pytest.raises(ValueError, match=r"\(\)"):
        make(2.0) @ a
    with pytest.raises(ValueError, match=r"\(4,\)"):
        make(np.ones(4)) @ a.T


def test_backward_of_non_scalar_and_of_constants(make):
    x = make(np.ones((2, 2)), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"\(2, 2\)"):
        (x * 2).backward()
    with pytest.raises(RuntimeError, match="does not require grad"):
        make([1.0]).backward()


@pytest.mark.parametrize("other", ["fake", "cuda"])
def test_mixed_devices_raise(other, cuda_reason):
    if other == "cuda" and cuda_reason:
        pytest.skip(cuda_reason)
    device = FAKE if other == "fake" else "cuda"
    a = mt.tensor([[1.0, 2.0], [3.0, 4.0]], device=device)
    b = mt.tensor([[1.0, 2.0], [3.0, 4.0]], device="python")
    assert a.device != b.device
    ops = {
        "add": lambda: a + b,
        "radd": lambda: b + a,
        "mul": lambda: b * a,
        "matmul": lambda: a @ b,
        "rmatmul": lambda: b @ a,
        "cat": lambda: mt.cat([a, b]),
        "where": lambda: mt.where(b > 0, a, b),
        "maximum": lambda: mt.maximum(b, a),
    }
    for name, op in ops.items():
        with pytest.raises(RuntimeError, match="different devices") as info:
            op()
        assert a.device in str(info.value) and "cpu" in str(info.value), name
    moved = a.to("python") + b  # explicit moves work
    np.testing.assert_allclose(moved.numpy(), [[2.0, 4.0], [6.0, 8.0]])
    assert moved.device == "cpu"


def test_moving_between_devices_is_differentiable():
    x = mt.tensor([1.0, 2.0], dtype="float64", device="python", requires_grad=True)
    y = (x.to(FAKE) * 3).to("python")
    assert y.device == "cpu"
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])


@pytest.mark.parametrize("dtype", ["int32", "float16", np.uint8, "complex128"])
def test_unsupported_dtypes_raise_type_error(dtype):
    with pytest.raises(TypeError, match="unsupported dtype"):
        mt.tensor([1, 2], dtype=dtype)
    with pytest.raises(TypeError):
        mt.zeros(2, dtype=dtype)


def test_unsupported_data_raises_type_error():
    with pytest.raises(TypeError, match="dtype"):
        mt.tensor(["a", "b"])
    with pytest.raises(TypeError):
        mt.tensor([1 + 2j])
    with pytest.raises(ValueError, match="ragged"):
        mt.tensor([[1.0, 2.0], [3.0]])
    with pytest.raises(ValueError, match="unknown device"):
        mt.tensor([1.0], device="tpu")


def test_bad_views_and_reshapes(make):
    t = make(np.arange(6.0).reshape(2, 3))
    with pytest.raises(RuntimeError, match=r"view.*\(3, 2\).*reshape"):
        t.T.view(6)
    np.testing.assert_array_equal(t.T.reshape(6).numpy(), np.arange(6.0).reshape(2, 3).T.reshape(6))
    with pytest.raises(ValueError, match="invalid for 6 elements"):
        t.view(4, 2)
    with pytest.raises(ValueError, match="invalid for 6 elements"):
        t.reshape(-1, 4)
    with pytest.raises(ValueError, match="only one dimension"):
        t.reshape(-1, -1)
    with pytest.raises(ValueError, match="not a permutation"):
        t.permute(0, 0)
    with pytest.raises(IndexError, match="out of range"):
        t.sum(2)
    with pytest.raises(IndexError, match="out of range"):
        t.transpose(0, -3)
    with pytest.raises(ValueError, match="one shape"):
        mt.stack([t, t.T])
    with pytest.raises(ValueError, match="equal sizes"):
        mt.cat([t, t.T])
    with pytest.raises(ValueError, match="at least one"):
        mt.cat([])


def test_index_out_of_range(make):
    t = make(np.arange(6.0).reshape(2, 3))
    with pytest.raises(IndexError, match=r"index 2 .*dimension 0 with size 2"):
        t[2]
    with pytest.raises(IndexError, match=r"index -4 .*dimension 1 with size 3"):
        t[0, -4]
    with pytest.raises(IndexError, match="too many indices"):
        t[0, 0, 0]
    with pytest.raises(IndexError, match=r"out of range.*size 3"):
        t.index_select(1, [0, 3])
    with pytest.raises(IndexError, match=r"out of range.*size 2"):
        t[[0, -3]]
    with pytest.raises(ValueError, match="step"):
        t[::-1]
    with pytest.raises(ValueError, match="one element"):
        t.item()
    with pytest.raises(ValueError, match="ambiguous"):
        bool(t)


def test_in_place_errors(make):
    t = make(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        t += make(np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"\(2, 2\)|\(2, 3\)"):
        t.copy_(make(np.ones((2, 2))))
    w = make([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="no_grad"):
        w.copy_(2.0)
    with pytest.raises(RuntimeError, match="no_grad"):
        w.mul_(2.0)


def bad_scalar_fn(x):
    return x.real_part_of_nothing  # no such attribute: numba cannot type it


def test_uncompilable_scalar_fn_fails_clearly_on_the_python_backend():
    t = mt.tensor([1.0, 2.0], device="python")
    with pytest.raises((AttributeError, TypeError)):
        t._map(bad_scalar_fn)


def test_uncompilable_scalar_fn_gives_a_clear_python_error_on_numba():
    t = mt.tensor([1.0, 2.0], device="numba")
    with pytest.raises((TypeError, ValueError), match="bad_scalar_fn") as info:
        t._map(bad_scalar_fn)
    assert not type(info.value).__module__.startswith("numba")
