"""The ops that are more than one Function's `apply`: reductions (`mt.sum(x, dim=1)`), masks,
`where`, gather / scatter, softmax and friends. Each is defined once with `@op` (`core.public`),
which makes it `mt.<name>` and the method `x.<name>(...)` too; the elementwise ops (`mt.exp`,
`a + b`) are declared on their Functions in `core.functions`.

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
from .autograd import Context, Function, is_tracing
from .creation import arange
from .dtype import bool_
from .public import as_floating, op
from .tensor import Tensor

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


@op
def isnan(x: Tensor) -> Tensor:
    """A mask, true where x is nan (nan is the one value that differs from itself)."""
    x = x.detach()
    return x != x


@op
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


@op
def logical_not(x: Tensor) -> Tensor:
    """True where x is zero (or false)."""
    return _mask(x)._zip(scalar.eq, x._full((), False, bool_), dtype=bool_)


@op
def logical_and(x: Tensor, other: Any) -> Tensor:
    return _mask(x)._zip(scalar.mul, _mask(other, x))


@op
def logical_or(x: Tensor, other: Any) -> Tensor:
    return _mask(x)._zip(scalar.add, _mask(other, x))


@op
def logical_xor(x: Tensor, other: Any) -> Tensor:
    return _mask(x)._zip(scalar.ne, _mask(other, x))


@op
def any(x: Tensor, dim: Dim = None, keepdim: bool = False) -> Tensor:  # noqa: A001
    """True where some element (along `dim`, or of all) is non-zero."""
    return sum(_mask(x), dim, keepdim) > 0


@op
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


@op(method=False)
def where(cond: Tensor, a: Any, b: Any) -> Tensor:
    """Elementwise `a if cond else b` (cond: any tensor, non-zero means true)."""
    ref = a if isinstance(a, Tensor) else b if isinstance(b, Tensor) else cond
    return F.Where.apply(cond, ref._lift(a), ref._lift(b))


@op
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


@op
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


@op
def scatter(x: Tensor, dim: int, index: Tensor, src: Any) -> Tensor:
    """A copy of `x` with out[i][index[i][j][k]][k] = src[i][j][k] for dim=1 (`torch.scatter`);
    `src` may be a number. Where the index names a place twice, the last write wins."""
    return _scatter(x, dim, index, src, "scatter", add=False)


@op
def scatter_add(x: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    """A copy of `x` with src[i][j][k] added at out[i][index[i][j][k]][k] for dim=1 (`torch.scatter_add`):
    gather's adjoint, summing repeated places."""
    return _scatter(x, dim, index, src, "scatter_add", add=True)


@op
def clamp(x: Tensor, min: float | None = None, max: float | None = None) -> Tensor:  # noqa: A002
    if min is not None:
        x = x.maximum(min)
    if max is not None:
        x = x.minimum(max)
    return x


@op
def sum(x: Tensor, dim: Dim = None, keepdim: bool = False) -> Tensor:  # noqa: A001
    dims = _dims(x, dim)
    x = out = _counting(x)
    if dim is None and x.ndim > 1:  # one pass over the flattened tensor, then straight to the result's shape
        return F.Sum.apply(x.reshape(-1), dim=0).reshape((1,) * x.ndim if keepdim else ())
    elif x.ndim == 0:
        return x.reshape(()) if not keepdim else x
    else:
        for d in dims:
            out = F.Sum.apply(out, dim=d)
    return _drop(out, dims, keepdim)


@op
def mean(x: Tensor, dim: Dim = None, keepdim: bool = False) -> Tensor:
    count = 1
    for d in _dims(x, dim):
        count *= x.shape[d]
    # an empty reduction divides 0 by 0: nan, as in PyTorch
    return sum(as_floating(x), dim, keepdim) / count


@op
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


@op
def cumsum(x: Tensor, dim: int) -> Tensor:
    """Running sum along `dim`: out[i] = x[0] + ... + x[i]."""
    x = _counting(x)
    if x.ndim == 0:
        F.check_scalar_dim("cumsum", dim)
        return F.CumSum.apply(x.reshape(1), dim=0).reshape(())
    return F.CumSum.apply(x, dim=S.normalize_dim(dim, x.ndim))


@op
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
    x = as_floating(x)
    centred = x - mean(x, dim, keepdim=True)
    # one element with the unbiased default divides 0 by 0: nan, as in PyTorch
    return sum(centred * centred, dim, keepdim) / builtins.max(count - correction, 0)


@op
def std(
    x: Tensor,
    dim: Dim = None,
    keepdim: bool = False,
    unbiased: bool | None = None,
    *,
    correction: float | None = None,
) -> Tensor:
    """Standard deviation: sqrt(var(x, dim, correction=...)); same arguments as `var`."""
    return var(x, dim, keepdim, unbiased, correction=correction).sqrt()


@op
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
        return where(zero, 0.0, where(zero, 1.0, squares).sqrt())
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


@op
def max(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Any:  # noqa: A001
    """The largest element (a tensor), or along `dim` the named tuple `(values, indices)`, as PyTorch.

    Gradients follow PyTorch: `max()` shares the gradient evenly among tied maxima; `max(dim)` gives
    it to the element at the returned index.
    """
    F.check_nonempty("max", x, dim)
    if dim is None:
        return F.Max.apply(x.reshape(-1), dim=0).reshape((1,) * x.ndim if keepdim else ())
    return return_types.max(_max_values(x, dim, keepdim), argmax(x, dim, keepdim))


@op
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


@op
def argmax(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    return F.argmax(x, dim, keepdim)


@op
def argmin(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    F.check_nonempty("argmin", x, dim)
    return F.argmax(-_counting(x.detach()), dim, keepdim)


@op
def logsumexp(x: Tensor, dim: int = -1, keepdim: bool = False) -> Tensor:
    """log(sum(exp(x))) without overflow: shift by the (constant) max first."""
    x = as_floating(x)
    if x.ndim == 0:
        F.check_scalar_dim("logsumexp", dim)
        return logsumexp(x.reshape(1), 0, keepdim).reshape(())
    d = S.normalize_dim(dim, x.ndim)
    shift = _shift(x, d)
    out = sum((x - shift).exp(), d, keepdim=True).log() + shift
    return _drop(out, [d], keepdim)


def _shift(x: Tensor, d: int) -> Tensor:
    """The (constant) max along `d`, or 0 where that max is infinite (so that x - shift is never nan)."""
    shift = _max_values(x, d, keepdim=True).detach()
    return where(shift.abs() == float("inf"), 0.0, shift) if shift.dtype.kind == "f" else shift


class RowSoftmax(Function):
    """softmax or log-softmax over the last dim in one kernel each way (`Backend.softmax_forward` /
    `softmax_backward`: one pass per row on numba and cuda, composed elsewhere)."""

    once_differentiable = True  # the backward is a kernel, not differentiable ops

    @staticmethod
    def forward(ctx: Context, x: Tensor, log: bool = False) -> Tensor:
        rows = x if x.is_contiguous() else x._map(scalar.identity)
        c = x.shape[-1]
        n = x.numel() // c if c else 0
        out = x._empty(x.shape)
        x.backend.softmax_forward(out._storage, rows._storage, n, c, log)
        ctx.save_for_backward(out)
        ctx.log = log
        return out

    @staticmethod
    def backward(ctx: Context, grad: Tensor) -> Tensor:
        (y,) = ctx.saved_tensors
        g = grad if grad.is_contiguous() else grad._map(scalar.identity)  # e.g. a sum's stride-0 gradient
        c = y.shape[-1]
        gx = y._empty(y.shape)
        y.backend.softmax_backward(gx._storage, y._storage, g._storage, y.numel() // c if c else 0, c, ctx.log)
        return gx

    @staticmethod
    def backward_ops(ctx: Context, grad: Tensor, x: Tensor) -> Tensor:
        """d softmax = y (g - sum(g y)); d log_softmax = g - exp(y) sum(g), over the last dim."""
        d = x.ndim - 1
        if ctx.log:
            return grad - _log_softmax_ops(x, d).exp() * sum(grad, d, keepdim=True)
        y = _softmax_ops(x, d)
        return y * (grad - sum(grad * y, d, keepdim=True))


def _fused_rows(x: Tensor, d: int) -> bool:
    """Whether softmax over dim d of x takes the fused row kernels: the last dim, outside a trace
    (where the graph records the formula's ops, which it fuses and ONNX exports itself)."""
    return d == x.ndim - 1 and not is_tracing()


def _row_softmax(x: Tensor, dim: int, log: bool) -> Tensor:
    """softmax (log=False) or log_softmax (log=True) of x over dim: the two ops' one body."""
    x = as_floating(x)
    if x.ndim == 0:
        F.check_scalar_dim("log_softmax" if log else "softmax", dim)
        return _row_softmax(x.reshape(1), 0, log).reshape(())
    d = S.normalize_dim(dim, x.ndim)
    if _fused_rows(x, d):
        return RowSoftmax.apply(x, log=log)
    return _log_softmax_ops(x, d) if log else _softmax_ops(x, d)


@op
def log_softmax(x: Tensor, dim: int = -1) -> Tensor:
    """x - logsumexp(x), computed as (x - max) - log(sum(exp(x - max))) to keep float32 precision."""
    return _row_softmax(x, dim, log=True)


def _log_softmax_ops(x: Tensor, d: int) -> Tensor:
    z = x - _shift(x, d)
    return z - sum(z.exp(), d, keepdim=True).log()


def _softmax_ops(x: Tensor, d: int) -> Tensor:
    e = (x - _max_values(x, d, keepdim=True).detach()).exp()
    return e / sum(e, d, keepdim=True)


@op
def softmax(x: Tensor, dim: int = -1) -> Tensor:
    return _row_softmax(x, dim, log=False)


@op(method=False)
def matmul(a: Tensor, b: Tensor) -> Tensor:
    return F.matmul(a, b)


# ---------------------------------------------------------------------- operators
# `a + b`, `-a`, `abs(a)`, ... are declared with their Functions (`core.functions`, `@elementwise`);
# `a @ b` lifts a number or array operand first, as they do.
def _matmul(x: Tensor, other: Any) -> Tensor:
    return F.matmul(x, x._lift(other))


def _rmatmul(x: Tensor, other: Any) -> Tensor:
    return F.matmul(x._lift(other), x)


Tensor.__matmul__ = _matmul
Tensor.__rmatmul__ = _rmatmul
