"""One definition per op: an op written once gives `mt.<name>`, the Tensor method, the operator,
the export and (for an elementwise op over the scalar vocabulary) a fused kernel under `mt.jit`."""

from __future__ import annotations

import operator as python_operator

import numpy as np
import pytest

import minitorch_edu as mt
from minitorch_edu.core import functions as F
from minitorch_edu.core.autograd import Context, Function
from minitorch_edu.core.public import OPS, elementwise, op
from minitorch_edu.core.tensor import Tensor
from minitorch_edu.graph import jit
from minitorch_edu.graph.table import function_info

NOT_METHODS = {"where", "matmul", "cat", "concatenate", "stack", "flip"}  # mt.flip(x, dims) vs x.flip(0, 1)


def test_every_op_is_exported_and_a_method_from_its_one_definition():
    assert len(OPS) > 50
    for name, fn in OPS.items():
        assert getattr(mt, name) is fn, name
        assert name in mt.__all__, name
        if name not in NOT_METHODS:
            assert getattr(Tensor, name) is fn, name
    assert mt.__all__.count("exp") == 1 and len(set(mt.__all__)) == len(mt.__all__)


@pytest.mark.parametrize(
    "name, operator, function",
    [("add", "__add__", F.Add), ("sub", "__sub__", F.Sub), ("mul", "__mul__", F.Mul), ("div", "__truediv__", F.Div),
     ("pow", "__pow__", F.Pow), ("remainder", "__mod__", F.Remainder), ("floor_divide", "__floordiv__", F.FloorDivide),
     ("neg", "__neg__", F.Neg), ("abs", "__abs__", F.Abs)],
)
def test_an_operator_is_its_op(name, operator, function):
    assert getattr(Tensor, operator) is getattr(mt, name) is function.op
    if name not in ("neg", "abs"):  # binary: 2 - x is Sub with the operands swapped
        x = mt.tensor([3.0, 4.0])
        reflected = getattr(Tensor, operator.replace("__", "__r", 1))
        expected = getattr(python_operator, operator.strip("_"))(np.float32(2.0), x.numpy())
        np.testing.assert_allclose(reflected(x, 2.0).numpy(), expected, rtol=1e-6)


def test_elementwise_ops_promote_integers_where_pytorch_does():
    assert mt.exp(mt.tensor([1, 2])).dtype == mt.float32  # floats=True
    assert mt.relu(mt.tensor([-1, 2])).dtype == mt.int64  # not declared: integers stay integers
    assert mt.maximum(mt.tensor([1, 5]), 3).tolist() == [3, 5]


def test_help_on_an_elementwise_op_names_its_function():
    assert mt.exp.__doc__.startswith("exp(x): elementwise, the Function `minitorch_edu.core.functions.Exp`")
    assert "float32" in mt.exp.__doc__ and "float32" not in mt.relu.__doc__
    assert "split evenly" in mt.maximum.__doc__  # the Function's own docstring follows


def test_two_ops_cannot_share_a_name():
    with pytest.raises(ValueError, match="two ops are named 'exp'"):
        op(lambda x: x, name="exp")
    assert OPS["exp"] is F.Exp.op


@pytest.fixture
def registry():
    """Undo what a test registers: OPS and the Tensor methods it added."""
    ops, methods = dict(OPS), set(vars(Tensor))
    yield
    for name in set(vars(Tensor)) - methods:
        delattr(Tensor, name)
    OPS.clear()
    OPS.update(ops)


def _cube(x: float) -> float:
    return x * x * x


@pytest.mark.parametrize("device", ["python", "numba"])
def test_a_new_op_is_one_definition_and_its_test(registry, device):
    @elementwise("cube", floats=True)
    class Cube(Function):
        kernel = _cube

        @classmethod
        def forward(cls, ctx: Context, a: Tensor) -> Tensor:  # type: ignore[override]
            ctx.save_for_backward(a)
            return a._map(cls.kernel)

        @staticmethod
        def backward(ctx: Context, grad: Tensor) -> Tensor:
            (a,) = ctx.saved_tensors  # d a³ = 3 a²
            return grad * 3 * a * a

    x = mt.tensor([[1.0, -2.0], [0.5, 3.0]], dtype="float64", device=device, requires_grad=True)
    assert mt.cube is Cube.op and x.cube is not None and "cube" in OPS
    np.testing.assert_allclose(x.cube().numpy(), x.numpy() ** 3)
    assert mt.cube(mt.tensor([2], device=device)).dtype == mt.float32
    assert mt.grad_check(mt.cube, x)
    (g,) = mt.autograd.grad(x.cube().sum(), [x], create_graph=True)  # its backward is math: differentiable again
    g.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 6 * x.numpy())
    # outside the scalar vocabulary it traces and replays as one opaque op (not fused)
    assert function_info(Cube, {}).kind == "other"
    np.testing.assert_allclose(jit(lambda t: (t.cube() + 1.0).relu())(x.detach()).numpy(),
                               np.maximum(x.numpy() ** 3 + 1, 0))


def test_an_elementwise_function_over_the_vocabulary_fuses_wherever_it_is_defined(registry):
    @elementwise("halve")
    class Halve(Function):
        kernel = mt.backends.scalar.neg  # any function of the vocabulary

        @classmethod
        def forward(cls, ctx: Context, a: Tensor) -> Tensor:  # type: ignore[override]
            return a._map(cls.kernel)

        @staticmethod
        def backward(ctx: Context, grad: Tensor) -> Tensor:
            return -grad

    info = function_info(Halve, {})
    assert (info.name, info.kind, info.scalar) == ("neg", "elementwise", mt.backends.scalar.neg)
    jf = jit(lambda t: (mt.halve(t) * 2.0).exp())
    x = mt.rand(10)
    np.testing.assert_allclose(jf(x).numpy(), np.exp(-x.numpy() * 2), rtol=1e-6)
    assert len(jf.graph.groups) == 1 and len(jf.graph.groups[0]) == 3
