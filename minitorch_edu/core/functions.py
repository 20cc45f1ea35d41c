"""Differentiable math ops (elementwise, reductions, matmul): `Function`s calling backend kernels.

Shape ops and copies are in `core.views`.

Each backward is the derivative written in tensor ops (`grad * b`, `grad * s * (1 - s)`,
`grad @ b.T`): it reads like the math, and under `backward(create_graph=True)` it is recorded too,
so gradients can be differentiated again. Masks (which element won a max, where a > 0) come from
comparisons, which carry no gradient, as in PyTorch.

Binary ops broadcast by the NumPy rules and say so (`broadcasts = True`): their backward returns
gradients of the broadcast shape, and the engine sums each back to its input's shape
(`autograd.unbroadcast`, the one place that rule is written).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..backends import composed, scalar
from ..backends import shape as S
from .autograd import Context, Function, unbroadcast
from .creation import arange
from .public import elementwise
from .tensor import Tensor

__all__ = ["unbroadcast"]  # re-exported: chapter 03's learners write their own and compare


# ---------------------------------------------------------------------- elementwise
def _refuse_masks(message: str, *tensors: Tensor) -> None:
    if all(t.dtype == np.bool_ for t in tensors):
        raise TypeError(f"{message}, with bool tensors is not supported; to invert a mask, use `~` or logical_not()")


@elementwise("neg", operator="neg")
class Neg(Function):
    kernel = scalar.neg

    @classmethod
    def forward(cls, ctx: Context, a: Tensor) -> Tensor:  # type: ignore[override]
        _refuse_masks("Negation, the `-` operator", a)
        return a._map(cls.kernel)

    @staticmethod
    def backward(ctx: Context, grad: Tensor) -> Tensor:
        return -grad


@elementwise("add", operator="add")
class Add(Function):
    kernel, broadcasts = scalar.add, True

    @classmethod
    def forward(cls, ctx: Context, a: Tensor, b: Tensor) -> Tensor:  # type: ignore[override]
        return a._zip(cls.kernel, b)

    @staticmethod
    def backward(ctx: Context, grad: Tensor) -> tuple[Tensor, Tensor]:
        return grad, grad


@elementwise("sub", operator="sub")
class Sub(Function):
    kernel, broadcasts = scalar.sub, True

    @classmethod
    def forward(cls, ctx: Context, a: Tensor, b: Tensor) -> Tensor:  # type: ignore[override]
        _refuse_masks("Subtraction, the `-` operator", a, b)
        return a._zip(cls.kernel, b)

    @staticmethod
    def backward(ctx: Context, grad: Tensor) -> tuple[Tensor, Tensor]:
        return grad, -grad


@elementwise("mul", operator="mul")
class Mul(Function):
    kernel, broadcasts = scalar.mul, True

    @classmethod
    def forward(cls, ctx: Context, a: Tensor, b: Tensor) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(a, b)
        return a._zip(cls.kernel, b)

    @staticmethod
    def backward(ctx: Context, grad: Tensor) -> tuple[Tensor | None, Tensor | None]:
        a, b = ctx.saved_tensors
        return grad * b if ctx.needs_input_grad[0] else None, grad * a if ctx.needs_input_grad[1] else None


@elementwise("div", operator="truediv")
class Div(Function):
    kernel, broadcasts = scalar.div, True

    @classmethod
    def forward(cls, ctx: Context, a: Tensor, b: Tensor) -> Tensor:  # type: ignore[override]
        if a.dtype.kind != "f" and b.dtype.kind != "f":  # true division of integers gives floats
            a = a._cast_raw(np.dtype("float32"))
        ctx.save_for_backward(a, b)
        return a._zip(cls.kernel, b)

    @staticmethod
    def backward(ctx: Context, grad: Tensor) -> tuple[Tensor | None, Tensor | None]:
        a, b = ctx.saved_tensors  # d(a/b)/da = 1 / b, d(a/b)/db = -a / b^2
        ga = grad / b if ctx.needs_input_grad[0] else None
        gb = -grad * a / (b * b) if ctx.needs_input_grad[1] else None
        return ga, gb


@elementwise("pow", operator="pow")
class Pow(Function):
    kernel, broadcasts = scalar.pow_, True

    @classmethod
    def forward(cls, ctx: Context, a: Tensor, b: Tensor) -> Tensor:  # type: ignore[override]
        if a.dtype.kind != "f" and b.dtype.kind != "f" and b.numel():
            # an integer result cannot hold 2 ** -1; PyTorch refuses rather than truncate to 0
            if b.numpy().min() < 0:
                raise RuntimeError(
                    f"Integers to negative integer powers are not allowed ({a.dtype} ** {b.dtype}); "
                    "use a float base or exponent, e.g. x.float() ** -1 or x ** -1.0"
                )
        out = a._zip(cls.kernel, b)
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx: Context, grad: Tensor) -> tuple[Tensor | None, Tensor | None]:
        a, b, out = ctx.saved_tensors  # d(a^b)/da = b a^(b-1), d(a^b)/db = a^b log(a)
        ga = grad * b * a ** (b - 1) if ctx.needs_input_grad[0] else None
        gb = grad * out * a.log() if ctx.needs_input_grad[1] else None
        return ga, gb


def _refuse_integer_zero_divisor(op: str, a: Tensor, b: Tensor) -> None:
    """Integer x // 0 and x % 0 have no integer answer: PyTorch raises, and so do we."""
    if a.dtype.kind != "f" and b.dtype.kind != "f" and b.numel() and not b.numpy().all():
        raise RuntimeError(
            f"ZeroDivisionError: integer {op} by zero ({a.dtype} of shape {a.shape} by {b.dtype} of shape {b.shape}); "
            "use float tensors for an inf or nan result"
        )


@elementwise("floor_divide", operator="floordiv")
class FloorDivide(Function):
    """a // b rounded towards -inf, as Python and PyTorch do. Not differentiable (as in PyTorch)."""

    @staticmethod
    def forward(ctx: Context, a: Tensor, b: Tensor) -> Tensor:
        _refuse_integer_zero_divisor("floor_divide", a, b)
        return a._zip(scalar.floor_divide, b)

    @staticmethod
    def backward(ctx: Context, grad: Tensor) -> tuple[Tensor, Tensor]:
        raise RuntimeError("the derivative for 'floor_divide' is not implemented (it is zero almost everywhere)")


@elementwise("remainder", operator="mod")
class Remainder(Function):
    """a % b = a - (a // b) * b, with the sign of b (Python's %, `torch.remainder`)."""

    broadcasts = True

    @staticmethod
    def forward(ctx: Context, a: Tensor, b: Tensor) -> Tensor:
        _refuse_integer_zero_divisor("remainder", a, b)
        ctx.save_for_backward(a, b)
        return a._zip(scalar.remainder, b)

    @staticmethod
    def backward(ctx: Context, grad: Tensor) -> tuple[Tensor | None, Tensor | None]:
        a, b = ctx.saved_tensors  # d/da = 1; d/db = -(a // b), constant between the jumps
        return grad, -grad * (a.detach() // b.detach()) if ctx.needs_input_grad[1] else None


class Elementwise(Function):
    """A unary op, element by element: forward maps the scalar function `kernel` over the tensor;
    backward is `chain(grad, t)`, the incoming gradient times the op's derivative at `t`, which is
    the input, or the output for the ops whose derivative is best written with their result
    (`saves = "output"`: d exp(a) = exp(a), d tanh(a) = 1 - tanh(a)²)."""

    saves = "input"  # `kernel`, declared by each subclass, is Function's

    @staticmethod
    def chain(grad: Tensor, t: Tensor) -> Tensor:
        raise NotImplementedError

    @classmethod
    def forward(cls, ctx: Context, a: Tensor) -> Tensor:  # type: ignore[override]
        out = a._map(cls.kernel, keep_layout=True)  # x.T.exp() is laid out as x.T, as in PyTorch
        ctx.save_for_backward(out if cls.saves == "output" else a)
        return out

    @classmethod
    def backward(cls, ctx: Context, grad: Tensor) -> Tensor:  # type: ignore[override]
        (t,) = ctx.saved_tensors
        return cls.chain(grad, t)


@elementwise("exp", floats=True)
class Exp(Elementwise):
    kernel, saves = scalar.exp, "output"

    @staticmethod
    def chain(grad: Tensor, out: Tensor) -> Tensor:  # d exp(a) = exp(a)
        return grad * out


@elementwise("log", floats=True)
class Log(Elementwise):
    kernel = scalar.log

    @staticmethod
    def chain(grad: Tensor, a: Tensor) -> Tensor:  # d log(a) = 1 / a
        return grad / a


@elementwise("sqrt", floats=True)
class Sqrt(Elementwise):
    kernel, saves = scalar.sqrt, "output"

    @staticmethod
    def chain(grad: Tensor, out: Tensor) -> Tensor:  # d sqrt(a) = 1 / (2 sqrt(a))
        return grad / (2 * out)


@elementwise("sigmoid", floats=True)
class Sigmoid(Elementwise):
    kernel, saves = scalar.sigmoid, "output"

    @staticmethod
    def chain(grad: Tensor, s: Tensor) -> Tensor:  # d s(a) = s (1 - s)
        return grad * s * (1 - s)


@elementwise("tanh", floats=True)
class Tanh(Elementwise):
    kernel, saves = scalar.tanh, "output"

    @staticmethod
    def chain(grad: Tensor, t: Tensor) -> Tensor:  # d tanh(a) = 1 - tanh(a)²
        return grad * (1 - t * t)


@elementwise("relu")
class ReLU(Elementwise):
    kernel = scalar.relu

    @staticmethod
    def chain(grad: Tensor, a: Tensor) -> Tensor:  # d relu(a) = 1 where a > 0, else 0
        return Gate.apply(a, grad)


class Gate(Function):
    """`grad * (a > 0)` in one kernel (`relu_back`): ReLU's derivative, on every ReLU's backward.
    Linear in `grad`, so its own backward is the same gate; the mask `a > 0` has no gradient."""

    @staticmethod
    def forward(ctx: Context, a: Tensor, grad: Tensor) -> Tensor:
        ctx.save_for_backward(a)
        return a._zip(scalar.relu_back, grad)

    @staticmethod
    def backward(ctx: Context, grad: Tensor) -> tuple[None, Tensor]:
        (a,) = ctx.saved_tensors
        return None, Gate.apply(a, grad)


@elementwise("abs", operator="abs")
class Abs(Elementwise):
    kernel = scalar.abs_

    @staticmethod
    def chain(grad: Tensor, a: Tensor) -> Tensor:  # d |a| = sign(a)
        return grad * ((a > 0).type_as(a) - (a < 0))  # sign(a)


@elementwise("sin", floats=True)
class Sin(Elementwise):
    kernel = scalar.sin

    @staticmethod
    def chain(grad: Tensor, a: Tensor) -> Tensor:  # d sin(a) = cos(a)
        return grad * a.cos()


@elementwise("cos", floats=True)
class Cos(Elementwise):
    kernel = scalar.cos

    @staticmethod
    def chain(grad: Tensor, a: Tensor) -> Tensor:  # d cos(a) = -sin(a)
        return -grad * a.sin()


@elementwise("log1p", floats=True)
class Log1p(Elementwise):
    """log(1 + a), accurate where a is tiny."""

    kernel = scalar.log1p

    @staticmethod
    def chain(grad: Tensor, a: Tensor) -> Tensor:  # d log(1 + a) = 1 / (1 + a)
        return grad / (1 + a)


@elementwise("expm1", floats=True)
class Expm1(Elementwise):
    """exp(a) - 1, accurate where a is tiny."""

    kernel, saves = scalar.expm1, "output"

    @staticmethod
    def chain(grad: Tensor, out: Tensor) -> Tensor:  # d (exp(a) - 1) = exp(a) = out + 1
        return grad * (out + 1)


_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


@elementwise("erf", floats=True)
class Erf(Elementwise):
    """The error function (2 / sqrt(pi)) * integral of exp(-t²) from 0 to a: exact GELU needs it."""

    kernel = scalar.erf

    @staticmethod
    def chain(grad: Tensor, a: Tensor) -> Tensor:  # d erf(a) = (2 / sqrt(pi)) exp(-a²)
        return grad * _TWO_OVER_SQRT_PI * (-a * a).exp()


class Where(Function):
    """where(cond, a, b): a where cond is non-zero, else b. No gradient flows into cond."""

    broadcasts = True

    @staticmethod
    def forward(ctx: Context, cond: Tensor, a: Tensor, b: Tensor) -> Tensor:
        ctx.save_for_backward(cond)
        return cond._zip(scalar.pick_if, a)._zip(scalar.add, cond._zip(scalar.pick_unless, b))

    @staticmethod
    def backward(ctx: Context, grad: Tensor) -> tuple[None, Tensor, Tensor]:
        (cond,) = ctx.saved_tensors  # the gradient goes where the value came from
        zero = grad.new_zeros(())
        return None, Where.apply(cond, grad, zero), Where.apply(cond, zero, grad)


@elementwise("maximum")
class Maximum(Function):
    """Elementwise max; at ties the gradient is split evenly, as in PyTorch."""

    kernel, broadcasts = scalar.maximum, True

    @classmethod
    def forward(cls, ctx: Context, a: Tensor, b: Tensor) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(a, b)
        return a._zip(cls.kernel, b)

    @classmethod
    def backward(cls, ctx: Context, grad: Tensor) -> tuple[Tensor, Tensor]:  # type: ignore[override]
        a, b = ctx.saved_tensors
        share_a = ((a > b) if cls.kernel is scalar.maximum else (a < b)) + 0.5 * (a == b)
        return grad * share_a, grad * (1 - share_a)


@elementwise("minimum")
class Minimum(Maximum):
    kernel = scalar.minimum


# ---------------------------------------------------------------------- reductions
class Sum(Function):
    @staticmethod
    def forward(ctx: Context, a: Tensor, dim: int) -> Tensor:
        ctx.shape = a.shape
        return a._reduce(scalar.add, dim, 0.0)

    @staticmethod
    def backward(ctx: Context, grad: Tensor) -> Tensor:
        return grad.expand(ctx.shape)


class Prod(Function):
    """Product over one dim (kept as size 1).

    The gradient of element i is the product of all the others, computed as (product of those
    before i) * (product of those after i) with two scans: exact where some elements are zero,
    where out / a would divide by zero. Those scans are kernels: no second derivative.
    """

    once_differentiable = True

    @staticmethod
    def forward(ctx: Context, a: Tensor, dim: int) -> Tensor:
        ctx.save_for_backward(a)
        ctx.dim = dim
        return a._reduce(scalar.mul, dim, 1.0)

    @staticmethod
    def backward(ctx: Context, grad: Tensor) -> Tensor:
        (a,) = ctx.saved_tensors
        before = _exclusive(_scan(a, ctx.dim, scalar.mul), ctx.dim, 1.0)
        after = _exclusive(_scan(a, ctx.dim, scalar.mul, reverse=True), ctx.dim, 1.0, reverse=True)
        return before._zip(scalar.mul, after)._zip(scalar.mul, grad)


class Max(Function):
    """Max over one dim (kept as size 1), with PyTorch's two gradient rules.

    `ties="split"` (`x.max()`, no dim): the gradient is shared evenly among the maximal elements
    (among the nans, when the max is nan). `ties="first"` (`x.max(dim)`): all of it goes to the
    element whose index `max(dim)` returns, the first maximum (or the first nan).
    """

    @staticmethod
    def forward(ctx: Context, a: Tensor, dim: int, ties: str = "split") -> Tensor:
        out = a._reduce(scalar.maximum, dim, lowest(a.dtype))
        ctx.save_for_backward(a, out)
        ctx.dim, ctx.ties = dim, ties
        return out

    @staticmethod
    def backward(ctx: Context, grad: Tensor) -> Tensor:
        a, out = ctx.saved_tensors
        # a nan max is won by the nans (nan == nan is false, so x != x marks them)
        winners = ((a == out) + (a != a)).to(dtype=grad.dtype)
        if ctx.ties == "first":
            first = _first_index_where(winners, ctx.dim)
            return grad * (_positions_along(a, ctx.dim) == first)
        return grad * winners / winners.sum(ctx.dim, keepdim=True)


class CumSum(Function):
    """Running sum along one dim (the backend's `cumsum` kernel); its backward is the running sum
    of the gradient from the end (the same kernel, `reverse`)."""

    @staticmethod
    def forward(ctx: Context, a: Tensor, dim: int, reverse: bool = False) -> Tensor:
        ctx.dim, ctx.reverse = dim, reverse
        return _cumsum(a, dim, reverse)

    @staticmethod
    def backward(ctx: Context, grad: Tensor) -> Tensor:
        return CumSum.apply(grad, dim=ctx.dim, reverse=not ctx.reverse)


def _cumsum(a: Tensor, dim: int, reverse: bool = False) -> Tensor:
    """Inclusive running sum along `dim` (from the end when `reverse`): `Backend.cumsum`."""
    out = a._empty(a.shape)
    if a.numel():
        a.backend.cumsum(out._storage, out._strides, a._storage, a._strides, a.shape, dim, reverse)
    return out


def _scan(a: Tensor, dim: int, fn: Any, reverse: bool = False) -> Tensor:
    """Inclusive scan: out[i] = fn(a[0], ..., a[i]) along `dim` (from the end when `reverse`), for
    any associative `fn` (products here): `backends.composed.scan`, log2(n) zip kernels."""
    out = a._empty(a.shape)
    composed.scan(a.backend, fn, out._storage, out._strides, a._storage, a._strides, a.shape, dim, reverse)
    return out


def _exclusive(scanned: Tensor, dim: int, start: float, reverse: bool = False) -> Tensor:
    """An inclusive scan shifted one place along `dim`, `start` in the freed place: out[i] =
    scanned[i - 1] and out[0] = start (reverse: out[i] = scanned[i + 1] and out[-1] = start)."""
    n = scanned.shape[dim]
    out = scanned._full(scanned.shape, start)
    if n > 1:
        src, dst = (0, 1) if not reverse else (1, 0)
        _narrow(scanned, dim, src, n - 1)._map(scalar.identity, out=_narrow(out, dim, dst, n - 1))
    return out


def _narrow(t: Tensor, dim: int, start: int, length: int) -> Tensor:
    """The raw view of `length` elements of `t` along `dim` from `start` (no graph node)."""
    shape = list(t.shape)
    shape[dim] = length
    return t._view_raw(tuple(shape), t._strides, start * t._strides[dim])


def lowest(dtype: np.dtype) -> float:
    """The start value of a max-reduction for this dtype."""
    return -np.inf if dtype.kind == "f" else False if dtype.kind == "b" else int(np.iinfo(dtype).min)


def _positions_along(a: Tensor, dim: int) -> Tensor:
    """A tensor of a's dtype whose value at each element is its index along `dim` (broadcastable)."""
    n = a.shape[dim]
    shape = [1] * a.ndim
    shape[dim] = n
    return arange(n, dtype=a.dtype if a.dtype.kind == "f" else "float64", device=a.backend).detach().view(shape)


def _first_index_where(mask: Tensor, dim: int) -> Tensor:
    """Along `dim`, the smallest index at which `mask` is non-zero (keepdim; n where none is)."""
    n = mask.shape[dim]
    positions = _positions_along(mask, dim)
    candidates = mask._zip(scalar.pick_if, positions)._zip(scalar.add, mask._zip(scalar.pick_unless, mask._full((), n)))
    return candidates._reduce(scalar.minimum, dim, np.inf)


def check_scalar_dim(op: str, dim: int) -> None:
    """A 0-d tensor takes dim 0 or -1, as in PyTorch."""
    if dim not in (0, -1):
        raise IndexError(f"{op}: dimension out of range (expected to be in range of [-1, 0], but got {dim})")


def check_nonempty(op: str, a: Tensor, dim: int | None) -> None:
    """max/argmax of nothing has no answer: PyTorch's error, not a made-up start value."""
    if dim is None and a.numel() == 0:
        raise RuntimeError(
            f"{op}(): Expected reduction dim to be specified for input.numel() == 0 (shape {a.shape}). "
            "Specify the reduction dim with the 'dim' argument."
        )
    if dim is not None and a.ndim and a.shape[S.normalize_dim(dim, a.ndim)] == 0:
        raise IndexError(f"{op}(): Expected reduction dim {dim} to have non-zero size (shape {a.shape}).")


def argmax(a: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the first maximal element along `dim` (over all elements when dim is None), int64."""
    check_nonempty("argmax", a, dim)
    if dim is None:
        return argmax(a.reshape(-1), 0)
    if a.ndim == 0:
        check_scalar_dim("argmax", dim)
        return a._full((), 0, np.dtype("int64"))
    dim = S.normalize_dim(dim, a.ndim)
    a = a.detach()
    if a.dtype.kind != "f":
        a = a._cast_raw(np.dtype("float64"))
    best = a._reduce(scalar.maximum, dim, -np.inf)
    # a nan wins, as in PyTorch: the max of a row with a nan is nan, and nan == nan is false, so
    # the row's nans (x != x) are the candidates then; elsewhere no element is nan
    winners = a._zip(scalar.eq, best)._zip(scalar.add, a._zip(scalar.ne, a))
    index = _first_index_where(winners, dim)._cast_raw(np.dtype("int64"))
    return index if keepdim else index.squeeze(dim)


# ---------------------------------------------------------------------- matmul
class MatMul(Function):
    """(*batch, n, k) @ (*batch, k, m) for equal batch shapes."""

    @staticmethod
    def forward(ctx: Context, a: Tensor, b: Tensor) -> Tensor:
        ctx.save_for_backward(a, b)
        return a._matmul(b)

    @staticmethod
    def backward(ctx: Context, grad: Tensor) -> tuple[Tensor | None, Tensor | None]:
        a, b = ctx.saved_tensors
        ga = grad @ b.transpose(-1, -2) if ctx.needs_input_grad[0] else None
        gb = a.transpose(-1, -2) @ grad if ctx.needs_input_grad[1] else None
        return ga, gb


def matmul(a: Tensor, b: Tensor) -> Tensor:
    """NumPy's matmul rules: 1-D operands gain a dim that is dropped again; batch dims broadcast."""
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul needs at least 1-D operands, got shapes {a.shape} and {b.shape}")
    a2 = a.unsqueeze(0) if a.ndim == 1 else a
    b2 = b.unsqueeze(-1) if b.ndim == 1 else b
    if a2.shape[-1] != b2.shape[-2]:
        raise ValueError(
            f"matmul shape mismatch: {a.shape} @ {b.shape} (inner dimensions {a2.shape[-1]} and {b2.shape[-2]} differ)"
        )
    try:
        batch = S.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
    except ValueError:
        raise ValueError(f"matmul batch dimensions of {a.shape} and {b.shape} cannot be broadcast") from None
    a2 = a2.expand(batch + a2.shape[-2:])
    b2 = b2.expand(batch + b2.shape[-2:])
    out = MatMul.apply(a2, b2)
    if a.ndim == 1:
        out = out.squeeze(-2)
    if b.ndim == 1:
        out = out.squeeze(-1)
    return out
