"""The functional API (`mt.exp(x)`, `mt.sum(x, dim=1)`, ...): the same ops as the Tensor methods.

Composite ops (mean, softmax, log_softmax, logsumexp, var, std, norm, isnan, isfinite) are built
from primitive Functions, so their gradients come from the primitives' backward rules.
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from ..backends import scalar
from ..backends import shape as S
from . import functions as F
from . import return_types, views
from .autograd import Function
from .creation import arange
from .dtype import bool_
from .tensor import Tensor, tensor_method

Dim = int | tuple[int, ...] | list[int] | None


def _dims(x: Tensor, dim: Dim) -> list[int]:
    if dim is None:
        return list(range(x.ndim))
    dims = [dim] if isinstance(dim, int) else list(dim)
    return sorted({S.normalize_dim(d, x.ndim) for d in dims})


def _drop(x: Tensor, dims: list[int], keepdim: bool) -> Tensor:
    if keepdim:
        return x
    return x.reshape(tuple(s for i, s in enumerate(x.shape) if i not in dims))


def _counting(x: Tensor) -> Tensor:
    """Masks are summed (and multiplied, and scanned) as int64 counts, as in PyTorch: `(x > 0).sum()`."""
    return x.long() if x.dtype == bool_ else x


def _floating(x: Tensor) -> Tensor:
    """Integer inputs of float ops (exp, log, softmax, ...) become float32, as PyTorch promotes them."""
    return x if x.dtype.kind == "f" else x.float()


@tensor_method
def exp(x: Tensor) -> Tensor:
    return F.Exp.apply(_floating(x))


@tensor_method
def log(x: Tensor) -> Tensor:
    return F.Log.apply(_floating(x))


@tensor_method
def sqrt(x: Tensor) -> Tensor:
    return F.Sqrt.apply(_floating(x))


@tensor_method
def sigmoid(x: Tensor) -> Tensor:
    return F.Sigmoid.apply(_floating(x))


@tensor_method
def tanh(x: Tensor) -> Tensor:
    return F.Tanh.apply(_floating(x))


@tensor_method
def sin(x: Tensor) -> Tensor:
    return F.Sin.apply(_floating(x))


@tensor_method
def cos(x: Tensor) -> Tensor:
    return F.Cos.apply(_floating(x))


@tensor_method
def log1p(x: Tensor) -> Tensor:
    """log(1 + x), accurate for tiny x (where 1 + x rounds to 1)."""
    return F.Log1p.apply(_floating(x))


@tensor_method
def expm1(x: Tensor) -> Tensor:
    """exp(x) - 1, accurate for tiny x."""
    return F.Expm1.apply(_floating(x))


@tensor_method
def erf(x: Tensor) -> Tensor:
    """The Gauss error function."""
    return F.Erf.apply(_floating(x))


@tensor_method
def relu(x: Tensor) -> Tensor:
    return F.ReLU.apply(x)


@tensor_method
def abs(x: Tensor) -> Tensor:  # noqa: A001  (PyTorch's name)
    return F.Abs.apply(x)


@tensor_method
def maximum(x: Tensor, other: Any) -> Tensor:
    return F.Maximum.apply(x, x._lift(other))


@tensor_method
def minimum(x: Tensor, other: Any) -> Tensor:
    return F.Minimum.apply(x, x._lift(other))


@tensor_method
def floor_divide(x: Tensor, other: Any) -> Tensor:
    """a // b rounded towards -inf (PyTorch's and Python's rule: -7 // 2 == -4). No gradient."""
    return F.FloorDivide.apply(x, x._lift(other))


@tensor_method
def remainder(x: Tensor, other: Any) -> Tensor:
    """a % b with the sign of b (PyTorch's and Python's rule: -7 % 2 == 1)."""
    return F.Remainder.apply(x, x._lift(other))


@tensor_method
def isnan(x: Tensor) -> Tensor:
    """A mask, true where x is nan (nan is the one value that differs from itself)."""
    x = x.detach()
    return x != x


@tensor_method
def isfinite(x: Tensor) -> Tensor:
    """A mask, true where x is neither inf nor nan (a nan compares false with everything)."""
    return x.detach().abs() < float("inf")


# ---------------------------------------------------------------------- masks (bool tensors)
# No gradients flow through a mask, so these are raw kernels over the existing scalar vocabulary:
# for bools, `and` is a product, `or` a sum (True + True is still True), `xor` is "not equal".
def _mask(x: Any, like: Tensor | None = None) -> Tensor:
    """`x` as a bool tensor: non-zero is true (Python bools and lists too, on `like`'s backend)."""
    x = like._lift(x) if like is not None else x
    return x if x.dtype == bool_ else x._zip(scalar.ne, x._full((), 0), dtype=bool_)


@tensor_method
def logical_not(x: Tensor) -> Tensor:
    """True where x is zero (or false)."""
    return _mask(x)._zip(scalar.eq, x._full((), False, bool_), dtype=bool_)


@tensor_method
def logical_and(x: Tensor, other: Any) -> Tensor:
    return _mask(x)._zip(scalar.mul, _mask(other, x))


@tensor_method
def logical_or(x: Tensor, other: Any) -> Tensor:
    return _mask(x)._zip(scalar.add, _mask(other, x))


@tensor_method
def logical_xor(x: Tensor, other: Any) -> Tensor:
    return _mask(x)._zip(scalar.ne, _mask(other, x))


@tensor_method
def any(x: Tensor, dim: Dim = None, keepdim: bool = False) -> Tensor:  # noqa: A001
    """True where some element (along `dim`, or of all) is non-zero."""
    return sum(_mask(x), dim, keepdim) > 0


@tensor_method
def all(x: Tensor, dim: Dim = None, keepdim: bool = False) -> Tensor:  # noqa: A001
    """True where every element (along `dim`, or of all) is non-zero; true for an empty tensor."""
    return sum(logical_not(x), dim, keepdim) == 0


def _bitwise(op: str, logical: Any) -> Any:
    """`&`, `|`, `^` of masks (and Python bools); integers' bitwise forms are not in the vocabulary."""

    def operator(x: Tensor, other: Any) -> Tensor:
        other_dtype = other.dtype if isinstance(other, Tensor) else np.asarray(other).dtype
        if x.dtype != bool_ or other_dtype != bool_:
            raise TypeError(
                f"the `{op}` operator takes bool tensors (masks such as x > 0), got {x.dtype} and {other_dtype}; "
                "for numbers use logical_and / logical_or / logical_xor, which read non-zero as true"
            )
        return logical(x, other)

    return operator


def _invert(x: Tensor) -> Tensor:
    if x.dtype != bool_:
        raise TypeError(f"`~` inverts a bool mask; this tensor is {x.dtype} (shape {x.shape}): use logical_not")
    return logical_not(x)


Tensor.__and__ = Tensor.__rand__ = _bitwise("&", logical_and)
Tensor.__or__ = Tensor.__ror__ = _bitwise("|", logical_or)
Tensor.__xor__ = Tensor.__rxor__ = _bitwise("^", logical_xor)
Tensor.__invert__ = _invert


def where(cond: Tensor, a: Any, b: Any) -> Tensor:
    """Elementwise `a if cond else b` (cond: any tensor, non-zero means true)."""
    ref = a if isinstance(a, Tensor) else b if isinstance(b, Tensor) else cond
    return F.Where.apply(cond, ref._lift(a), ref._lift(b))


@tensor_method
def masked_fill(x: Tensor, mask: Tensor, value: Any) -> Tensor:
    """`value` where `mask` is set, `x` elsewhere (`torch.masked_fill`); no gradient where filled."""
    if isinstance(value, Tensor) and value.ndim:
        raise RuntimeError(f"masked_fill only supports a 0-dimensional value tensor, got shape {value.shape}")
    if not isinstance(mask, Tensor) or mask.dtype != bool_:
        got = mask.dtype if isinstance(mask, Tensor) else type(mask).__name__
        raise RuntimeError(f"masked_fill only supports boolean masks (such as x > 0), but got mask with dtype {got}")
    return where(mask, x._lift(value).to(dtype=x.dtype) if isinstance(value, Tensor) else value, x)


def _hits(x: Tensor, dim: int, index: Tensor, op: str) -> tuple[int, Tensor, Tensor]:
    """The checks of gather and scatter, and their one-hot: with `dim` moved last, hit[..., j, i] is
    1 where index[..., j] == i. Returns (dim, hit, the index's positions j along the last-but-one dim)."""
    if index.dtype.kind not in "iu":
        raise RuntimeError(f"{op}(): Expected dtype int64 for index, got {index.dtype} (shape {index.shape})")
    if index.ndim != builtins.max(x.ndim, 1):
        raise RuntimeError(
            f"{op}(): Index tensor must have the same number of dimensions as the input tensor "
            f"(index {index.shape}, input {x.shape})"
        )
    dim = S.normalize_dim(dim, builtins.max(x.ndim, 1))
    shape = x.shape or (1,)
    for d, (i, n) in enumerate(zip(index.shape, shape)):
        if d != dim and i > n:
            raise RuntimeError(f"{op}(): Size does not match at dimension {d}: index {index.shape}, input {x.shape}")
    n = shape[dim]
    if index.numel():
        lo, hi = int(index.min().item()), int(index.max().item())
        if lo < 0 or hi >= n:
            raise RuntimeError(
                f"{op}(): index {lo if lo < 0 else hi} is out of bounds for dimension {dim} with size {n} "
                f"(input {x.shape}, index {index.shape})"
            )
    last = index.transpose(dim, -1) if dim != index.ndim - 1 else index
    positions = arange(n, dtype=index.dtype, device=x.backend)
    hit = last.unsqueeze(-1) == positions  # (..., m, n)
    return dim, hit, arange(last.shape[-1], dtype="float64", device=x.backend).unsqueeze(-1)


def _leading(t: Tensor, index: Tensor, dim: int) -> Tensor:
    """`t` cut to the index's size on every dim but `dim` (PyTorch lets the index be smaller there)."""
    key = tuple(slice(None) if d == dim else slice(0, i) for d, i in enumerate(index.shape))
    return t[key] if builtins.any(i < n for d, (i, n) in enumerate(zip(index.shape, t.shape)) if d != dim) else t


@tensor_method
def gather(x: Tensor, dim: int, index: Tensor) -> Tensor:
    """out[i][j][k] = x[i][index[i][j][k]][k] for dim=1, and so on (`torch.gather`); out has the
    index's shape. Built from a one-hot mask: out[..., j] = sum over i of where(index[..., j] == i, x[..., i], 0),
    which is exact (no products) and differentiable: the gradient scatters back through `where`."""
    was_scalar = x.ndim == 0
    x = x.reshape(1) if was_scalar else x
    dim, hit, _ = _hits(x, dim, index, "gather")
    src = _leading(x, index, dim)
    src = src.transpose(dim, -1) if dim != x.ndim - 1 else src
    out = where(hit, src.unsqueeze(-2), 0).sum(-1)
    out = out.transpose(dim, -1) if dim != x.ndim - 1 else out
    return out.reshape(()) if was_scalar else out


def _scatter(x: Tensor, dim: int, index: Tensor, src: Any, op: str, add: bool) -> Tensor:
    was_scalar = x.ndim == 0
    x = x.reshape(1) if was_scalar else x
    dim, hit, j = _hits(x, dim, index, op)
    if not isinstance(src, Tensor):
        src = x._lift(src).expand(index.shape)
    elif src.ndim != index.ndim or builtins.any(i > s for i, s in zip(index.shape, src.shape)):
        raise RuntimeError(f"{op}(): Expected index {index.shape} to be no larger than src {src.shape}")
    src = _leading(src, index, dim).to(dtype=x.dtype)

    def moved(t: Tensor) -> Tensor:  # dim last and back (a transpose is its own inverse)
        return t.transpose(dim, -1) if dim != x.ndim - 1 else t

    target = moved(x)
    values = moved(src).unsqueeze(-1)  # (..., m, 1) against hit (..., m, n)
    if not add:  # one writer per place: the last j that names it (PyTorch leaves the choice open)
        last = where(hit, j, -1).max(-2, keepdim=True).values
        hit = hit * (j == last)
    landed, touched = where(hit, values, 0).sum(-2), hit.sum(-2)  # (..., n): what each place receives
    if landed.shape != target.shape:  # an index smaller on the other dims reaches a leading block
        pads = tuple((0, t - s) for s, t in zip(landed.shape, target.shape))
        landed = views.ConstantPad.apply(landed, pads=pads, value=0.0)
        touched = views.ConstantPad.apply(touched, pads=pads, value=0.0)
    out = moved(target + landed if add else where(touched, landed, target))
    return out.reshape(()) if was_scalar else out


@tensor_method
def scatter(x: Tensor, dim: int, index: Tensor, src: Any) -> Tensor:
    """A copy of `x` with out[i][index[i][j][k]][k] = src[i][j][k] for dim=1 (`torch.scatter`);
    `src` may be a number. Where the index names a place twice, the last write wins."""
    return _scatter(x, dim, index, src, "scatter", add=False)


@tensor_method
def scatter_add(x: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    """A copy of `x` with src[i][j][k] added at out[i][index[i][j][k]][k] for dim=1 (`torch.scatter_add`):
    gather's adjoint, summing repeated places."""
    return _scatter(x, dim, index, src, "scatter_add", add=True)


@tensor_method
def clamp(x: Tensor, min: float | None = None, max: float | None = None) -> Tensor:  # noqa: A002
    if min is not None:
        x = maximum(x, min)
    if max is not None:
        x = minimum(x, max)
    return x


@tensor_method
def sum(x: Tensor, dim: Dim = None, keepdim: bool = False) -> Tensor:  # noqa: A001
    dims = _dims(x, dim)
    x = out = _counting(x)
    if dim is None and x.ndim > 1:  # one pass over the flattened tensor
        out = x.reshape(-1)
        out = F.Sum.apply(out, dim=0).reshape((1,) * x.ndim)
    elif x.ndim == 0:
        return x.reshape(()) if not keepdim else x
    else:
        for d in dims:
            out = F.Sum.apply(out, dim=d)
    return _drop(out, dims, keepdim)


@tensor_method
def mean(x: Tensor, dim: Dim = None, keepdim: bool = False) -> Tensor:
    count = 1
    for d in _dims(x, dim):
        count *= x.shape[d]
    # an empty reduction divides 0 by 0: nan, as in PyTorch
    return sum(_floating(x), dim, keepdim) / count


@tensor_method
def prod(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Product of the elements (over all, or along one `dim`); the gradient is exact with zeros."""
    x = _counting(x)
    if dim is None:
        return F.Prod.apply(x.reshape(-1), dim=0).reshape((1,) * x.ndim if keepdim else ())
    if x.ndim == 0:
        F.check_scalar_dim("prod", dim)
        return x.clone()
    d = S.normalize_dim(dim, x.ndim)
    return _drop(F.Prod.apply(x, dim=d), [d], keepdim)


@tensor_method
def cumsum(x: Tensor, dim: int) -> Tensor:
    """Running sum along `dim`: out[i] = x[0] + ... + x[i]."""
    x = _counting(x)
    if x.ndim == 0:
        F.check_scalar_dim("cumsum", dim)
        return F.CumSum.apply(x.reshape(1), dim=0).reshape(())
    return F.CumSum.apply(x, dim=S.normalize_dim(dim, x.ndim))


@tensor_method
def var(
    x: Tensor,
    dim: Dim = None,
    keepdim: bool = False,
    unbiased: bool | None = None,
    *,
    correction: float | None = None,
) -> Tensor:
    """Variance: sum((x - mean)²) / (N - correction). correction=1 (the default, Bessel's) gives the
    unbiased estimate, 0 the population variance; `unbiased=True/False` is the older spelling of 1/0."""
    if unbiased is not None and correction is not None:
        raise TypeError("var: give either `unbiased` or `correction`, not both")
    if correction is None:
        correction = 0 if unbiased is False else 1
    count = 1
    for d in _dims(x, dim):
        count *= x.shape[d]
    x = _floating(x)
    centred = x - mean(x, dim, keepdim=True)
    # one element with the unbiased default divides 0 by 0: nan, as in PyTorch
    return sum(centred * centred, dim, keepdim) / builtins.max(count - correction, 0)


@tensor_method
def std(
    x: Tensor,
    dim: Dim = None,
    keepdim: bool = False,
    unbiased: bool | None = None,
    *,
    correction: float | None = None,
) -> Tensor:
    """Standard deviation: sqrt(var(x, dim, correction=...)); same arguments as `var`."""
    return sqrt(var(x, dim, keepdim, unbiased, correction=correction))


@tensor_method
def norm(x: Tensor, p: float | str = 2, dim: Dim = None, keepdim: bool = False) -> Tensor:
    """Vector p-norm over `dim` (all elements when None): (sum |x|^p)^(1/p), max |x| for p=inf,
    min |x| for p=-inf, the number of non-zeros for p=0; 'fro' is p=2. As `torch.linalg.vector_norm`,
    the gradient of the 2-norm at a zero vector is 0."""
    if x.dtype.kind != "f":
        raise TypeError(f"norm: expected a floating-point tensor, got {x.dtype} (shape {x.shape}); call .float()")
    if p == "fro":
        p = 2
    if isinstance(p, str) or not isinstance(p, (int, float)):
        raise ValueError(f"norm: p must be a number, inf, -inf or 'fro', got {p!r}")
    dims = _dims(x, dim)
    if p == float("inf") or p == -float("inf"):
        flat = _dims_last(x.abs(), dims)
        F.check_nonempty("norm", flat, -1)
        # the Max primitive (values only, whatever `max(dim)` returns); min |x| = -max(-|x|)
        d = flat.ndim - 1
        out = F.Max.apply(flat, dim=d) if p > 0 else -F.Max.apply(-flat, dim=d)
        return _keep(out.squeeze(d), x, dims, keepdim)
    if p == 0:
        return sum((x.detach() != 0).to(dtype=x.dtype), dim, keepdim)
    if p == 1:
        return sum(x.abs(), dim, keepdim)
    if p == 2:
        squares = sum(x * x, dim, keepdim)
        # the double `where`: sqrt'(0) is inf, so the zero norms are taken from a constant branch
        # and the sqrt only sees positive values, which keeps the gradient at a zero vector 0, not nan
        zero = squares == 0
        return where(zero, 0.0, sqrt(where(zero, 1.0, squares)))
    return sum(x.abs() ** p, dim, keepdim) ** (1.0 / p)


def _dims_last(x: Tensor, dims: list[int]) -> Tensor:
    """x with `dims` moved to the end and flattened into one: (kept dims..., product of dims)."""
    rest = [d for d in range(x.ndim) if d not in dims]
    moved = x.permute(rest + dims) if x.ndim else x.reshape(1)
    return moved.reshape(tuple(x.shape[d] for d in rest) + (-1,))


def _keep(out: Tensor, x: Tensor, dims: list[int], keepdim: bool) -> Tensor:
    """A reduction over `dims` of x (shape of the kept dims) with those dims back as size 1 if `keepdim`."""
    if not keepdim:
        return out
    return out.reshape(tuple(1 if d in dims else s for d, s in enumerate(x.shape)))


@tensor_method
def max(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Any:  # noqa: A001
    """The largest element (a tensor), or along `dim` the named tuple `(values, indices)`, as PyTorch.

    Gradients follow PyTorch: `max()` shares the gradient evenly among tied maxima; `max(dim)` gives
    it to the element at the returned index.
    """
    F.check_nonempty("max", x, dim)
    if dim is None:
        return F.Max.apply(x.reshape(-1), dim=0).reshape((1,) * x.ndim if keepdim else ())
    return return_types.max(_max_values(x, dim, keepdim), argmax(x, dim, keepdim))


@tensor_method
def min(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Any:  # noqa: A001
    """The smallest element, or along `dim` the named tuple `(values, indices)` (see `max`)."""
    F.check_nonempty("min", x, dim)
    if x.dtype == bool_:  # masks have no negation: the smallest is the largest of the negated counts
        m = min(x.long(), dim, keepdim)
        return m.bool() if dim is None else return_types.min(m.values.bool(), m.indices)
    if dim is None:
        return -max(-x, None, keepdim)
    return return_types.min(-_max_values(-x, dim, keepdim), argmin(x, dim, keepdim))


def _max_values(x: Tensor, dim: int, keepdim: bool) -> Tensor:
    """Max along `dim`, the gradient going to the first maximum (that `argmax` returns)."""
    if x.ndim == 0:
        F.check_scalar_dim("max", dim)
        return x
    d = S.normalize_dim(dim, x.ndim)
    return _drop(F.Max.apply(x, dim=d, ties="first"), [d], keepdim)


@tensor_method
def argmax(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    return F.argmax(x, dim, keepdim)


@tensor_method
def argmin(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    F.check_nonempty("argmin", x, dim)
    return F.argmax(-_counting(x.detach()), dim, keepdim)


@tensor_method
def logsumexp(x: Tensor, dim: int = -1, keepdim: bool = False) -> Tensor:
    """log(sum(exp(x))) without overflow: shift by the (constant) max first."""
    x = _floating(x)
    if x.ndim == 0:
        F.check_scalar_dim("logsumexp", dim)
        return logsumexp(x.reshape(1), 0, keepdim).reshape(())
    d = S.normalize_dim(dim, x.ndim)
    shift = _shift(x, d)
    out = log(sum(exp(x - shift), d, keepdim=True)) + shift
    return _drop(out, [d], keepdim)


def _shift(x: Tensor, d: int) -> Tensor:
    """The (constant) max along `d`, or 0 where that max is infinite (so that x - shift is never nan)."""
    shift = _max_values(x, d, keepdim=True).detach()
    return where(shift.abs() == float("inf"), 0.0, shift) if shift.dtype.kind == "f" else shift


@tensor_method
def log_softmax(x: Tensor, dim: int = -1) -> Tensor:
    """x - logsumexp(x), computed as (x - max) - log(sum(exp(x - max))) to keep float32 precision."""
    x = _floating(x)
    if x.ndim == 0:
        F.check_scalar_dim("log_softmax", dim)
        return log_softmax(x.reshape(1), 0).reshape(())
    d = S.normalize_dim(dim, x.ndim)
    z = x - _shift(x, d)
    return z - log(sum(exp(z), d, keepdim=True))


@tensor_method
def softmax(x: Tensor, dim: int = -1) -> Tensor:
    x = _floating(x)
    if x.ndim == 0:
        F.check_scalar_dim("softmax", dim)
        return softmax(x.reshape(1), 0).reshape(())
    d = S.normalize_dim(dim, x.ndim)
    e = exp(x - _max_values(x, d, keepdim=True).detach())
    return e / sum(e, d, keepdim=True)


def matmul(a: Tensor, b: Tensor) -> Tensor:
    return F.matmul(a, b)


cat = views.cat
concatenate = views.cat
stack = views.stack
index_select = views.index_select
split = views.split
chunk = views.chunk
flip = views.flip



# ---------------------------------------------------------------------- operators
# `a + b` is Add and `2 - a` is Sub with the operands swapped; a Python number or array becomes a
# tensor on the other operand's backend first (`Tensor._lift`).
def _operator(function: type[Function], name: str) -> None:
    def operator(x: Tensor, other: Any) -> Tensor:
        return function.apply(x, x._lift(other))

    def reflected(x: Tensor, other: Any) -> Tensor:
        return function.apply(x._lift(other), x)

    operator.__name__, reflected.__name__ = f"__{name}__", f"__r{name}__"
    setattr(Tensor, operator.__name__, operator)
    setattr(Tensor, reflected.__name__, reflected)


_operator(F.Add, "add")
_operator(F.Sub, "sub")
_operator(F.Mul, "mul")
_operator(F.Div, "truediv")
_operator(F.Pow, "pow")
_operator(F.FloorDivide, "floordiv")
_operator(F.Remainder, "mod")


def _neg(x: Tensor) -> Tensor:
    return F.Neg.apply(x)


def _matmul(x: Tensor, other: Any) -> Tensor:
    return F.matmul(x, x._lift(other))


def _rmatmul(x: Tensor, other: Any) -> Tensor:
    return F.matmul(x._lift(other), x)


Tensor.__neg__ = _neg
Tensor.__matmul__ = _matmul
Tensor.__rmatmul__ = _rmatmul
Tensor.__abs__ = abs
