"""Differentiable tensor ops: each a `Function` whose forward and backward call backend kernels.

Binary ops broadcast by the NumPy rules. Their backward uses `unbroadcast`: a gradient that
flowed into a broadcast (stride-0) dimension is summed back to the input's shape.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..backends import scalar
from . import shape as S
from .autograd import Context, Function
from .tensor import Tensor


def unbroadcast(grad: Tensor, shape: tuple[int, ...]) -> Tensor:
    """Sum `grad` over the dimensions that broadcasting added or stretched, giving `shape`."""
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    for d in range(grad.ndim):
        if d < lead or (shape[d - lead] == 1 and grad.shape[d] != 1):
            grad = grad._reduce(scalar.add, d, 0.0)
    return grad.reshape(shape) if grad.shape != shape else grad


# ---------------------------------------------------------------------- elementwise
class Neg(Function):
    @staticmethod
    def forward(ctx: Context, a: Tensor) -> Tensor:
        return a._map(scalar.neg)

    @staticmethod
    def backward(ctx: Context, grad: Tensor) -> Tensor:
        return grad._map(scalar.neg)


class Add(Function):
    @staticmethod
    def forward(ctx: Context, a: Tensor, b: Tensor) -> Tensor:
        ctx.shapes = (a.shape, b.shape)
        return a._zip(scalar.add, b)

    @staticmethod
    def backward(ctx: Context, grad: Tensor) -> tuple[Tensor, Tensor]:
        return unbroadcast(grad, ctx.shapes[0]), unbroadcast(grad, ctx.shapes[1])


class Sub(Function):
    @staticmethod
    def forward(ctx: Context, a: Tensor, b: Tensor) -> Tensor:
        ctx.shapes = (a.shape, b.shape)
        return a._zip(scalar.sub, b)

    @staticmethod
    def backward(ctx: Context, grad: Tensor) -> tuple[Tensor, Tensor]:
        return unbroadcast(grad, ctx.shapes[0]), unbroadcast(grad._map(scalar.neg), ctx.shapes[1])


class Mul(Function):
    @staticmethod
    def forward(ctx: Context, a: Tensor, b: Tensor) -> Tensor:
        ctx.save_for_backward(a, b)
        return a._zip(scalar.mul, b)

    @staticmethod
    def backward(ctx: Context, grad: Tensor) -> tuple[Tensor | None, Tensor | None]:
        a, b = ctx.saved_tensors
        ga = unbroadcast(grad._zip(scalar.mul, b), a.shape) if ctx.needs_input_grad[0] else None
        gb = unbroadcast(grad._zip(scalar.mul, a), b.shape) if ctx.needs_input_grad[1] else None
        return ga, gb


class Div(Function):
    @staticmethod
    def forward(ctx: Context, a: Tensor, b: Tensor) -> Tensor:
        if a.dtype.kind != "f" and b.dtype.kind != "f":  # true division of integers gives floats
            a = a._cast_raw(np.dtype("float32"))
        ctx.save_for_backward(a, b)
        return a._zip(scalar.div, b)

    @staticmethod
    def backward(ctx: Context, grad: Tensor) -> tuple[Tensor | None, Tensor | None]:
        a, b = ctx.saved_tensors
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = unbroadcast(grad._zip(scalar.div, b), a.shape)
        if ctx.needs_input_grad[1]:  # d(a/b)/db = -a / b^2
            quotient = a._zip(scalar.div, b._zip(scalar.mul, b))
            gb = unbroadcast(grad._zip(scalar.mul, quotient)._map(scalar.neg), b.shape)
        return ga, gb


class Pow(Function):
    @staticmethod
    def forward(ctx: Context, a: Tensor, b: Tensor) -> Tensor:
        out = a._zip(scalar.pow_, b)
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx: Context, grad: Tensor) -> tuple[Tensor | None, Tensor | None]:
        a, b, out = ctx.saved_tensors
        ga = gb = None
        if ctx.needs_input_grad[0]:  # b * a^(b-1)
            local = b._zip(scalar.mul, a._zip(scalar.pow_, b._zip(scalar.sub, b._full((), 1.0))))
            ga = unbroadcast(grad._zip(scalar.mul, local), a.shape)
        if ctx.needs_input_grad[1]:  # a^b * log(a)
            local = out._zip(scalar.mul, a._map(scalar.log))
            gb = unbroadcast(grad._zip(scalar.mul, local), b.shape)
        return ga, gb


class Exp(Function):
    @staticmethod
    def forward(ctx: Context, a: Tensor) -> Tensor:
        out = a._map(scalar.exp)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Context, grad: Tensor) -> Tensor:
        return grad._zip(scalar.mul, ctx.saved_tensors[0])


class Log(Function):
    @staticmethod
    def forward(ctx: Context, a: Tensor) -> Tensor:
        ctx.save_for_backward(a)
        return a._map(scalar.log)

    @staticmethod
    def backward(ctx: Context, grad: Tensor) -> Tensor:
        return grad._zip(scalar.div, ctx.saved_tensors[0])


class Sqrt(Function):
    @staticmethod
    def forward(ctx: Context, a: Tensor) -> Tensor:
        out = a._map(scalar.sqrt)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Context, grad: Tensor) -> Tensor:
        (out,) = ctx.saved_tensors
        return grad._zip(scalar.div, out._zip(scalar.add, out))


class Sigmoid(Function):
    @staticmethod
    def forward(ctx: Context, a: Tensor) -> Tensor:
        out = a._map(scalar.sigmoid)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Context, grad: Tensor) -> Tensor:
        (s,) = ctx.saved_tensors  # s * (1 - s)
        return grad._zip(scalar.mul, s._zip(scalar.mul, s._full((), 1.0)._zip(scalar.sub, s)))


class Tanh(Function):
    @staticmethod
    def forward(ctx: Context, a: Tensor) -> Tensor:
        out = a._map(scalar.tanh)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Context, grad: Tensor) -> Tensor:
        (t,) = ctx.saved_tensors  # 1 - t^2
        return grad._zip(scalar.mul, t._full((), 1.0)._zip(scalar.sub, t._zip(scalar.mul, t)))


class ReLU(Function):
    @staticmethod
    def forward(ctx: Context, a: Tensor) -> Tensor:
        ctx.save_for_backward(a)
        return a._map(scalar.relu)

    @staticmethod
    def backward(ctx: Context, grad: Tensor) -> Tensor:
        return ctx.saved_tensors[0]._zip(scalar.relu_back, grad)


class Abs(Function):
    @staticmethod
    def forward(ctx: Context, a: Tensor) -> Tensor:
        ctx.save_for_backward(a)
        return a._map(scalar.abs_)

    @staticmethod
    def backward(ctx: Context, grad: Tensor) -> Tensor:
        return grad._zip(scalar.mul, ctx.saved_tensors[0]._map(scalar.sign))


class Where(Function):
    """where(cond, a, b): a where cond is non-zero, else b. No gradient flows into cond."""

    @staticmethod
    def forward(ctx: Context, cond: Tensor, a: Tensor, b: Tensor) -> Tensor:
        ctx.save_for_backward(cond)
        ctx.shapes = (a.shape, b.shape)
        return cond._zip(scalar.pick_if, a)._zip(scalar.add, cond._zip(scalar.pick_unless, b))

    @staticmethod
    def backward(ctx: Context, grad: Tensor) -> tuple[None, Tensor, Tensor]:
        (cond,) = ctx.saved_tensors
        ga = unbroadcast(cond._zip(scalar.pick_if, grad), ctx.shapes[0])
        gb = unbroadcast(cond._zip(scalar.pick_unless, grad), ctx.shapes[1])
        return None, ga, gb


class Maximum(Function):
    """Elementwise max; at ties the gradient is split evenly, as in PyTorch."""

    @staticmethod
    def forward(ctx: Context, a: Tensor, b: Tensor) -> Tensor:
        ctx.save_for_backward(a, b)
        return a._zip(ctx_fn(ctx, scalar.maximum), b)

    @staticmethod
    def backward(ctx: Context, grad: Tensor) -> tuple[Tensor, Tensor]:
        a, b = ctx.saved_tensors
        wins = a._zip(scalar.gt if ctx.fn is scalar.maximum else scalar.lt, b)
        ties = a._zip(scalar.eq, b)._zip(scalar.mul, a._full((), 0.5))
        share_a = wins._zip(scalar.add, ties)
        share_b = a._full((), 1.0)._zip(scalar.sub, share_a)
        return (
            unbroadcast(grad._zip(scalar.mul, share_a), a.shape),
            unbroadcast(grad._zip(scalar.mul, share_b), b.shape),
        )


class Minimum(Maximum):
    @staticmethod
    def forward(ctx: Context, a: Tensor, b: Tensor) -> Tensor:
        ctx.save_for_backward(a, b)
        return a._zip(ctx_fn(ctx, scalar.minimum), b)


def ctx_fn(ctx: Context, fn: Any) -> Any:
    ctx.fn = fn
    return fn


# ---------------------------------------------------------------------- reductions
class Sum(Function):
    @staticmethod
    def forward(ctx: Context, a: Tensor, dim: int) -> Tensor:
        ctx.shape = a.shape
        return a._reduce(scalar.add, dim, 0.0)

    @staticmethod
    def backward(ctx: Context, grad: Tensor) -> Tensor:
        return grad.expand(ctx.shape)


class Max(Function):
    """Max over one dim (kept as size 1). The gradient goes to the first maximal element."""

    @staticmethod
    def forward(ctx: Context, a: Tensor, dim: int) -> Tensor:
        out = a._reduce(scalar.maximum, dim, lowest(a.dtype))
        ctx.save_for_backward(a, out)
        ctx.dim = dim
        return out

    @staticmethod
    def backward(ctx: Context, grad: Tensor) -> Tensor:
        a, out = ctx.saved_tensors
        first = _first_index_where(a._zip(scalar.eq, out), ctx.dim)
        onehot = _positions_along(a, ctx.dim)._zip(scalar.eq, first)
        return onehot._zip(scalar.mul, grad)


def lowest(dtype: np.dtype) -> float:
    """The start value of a max-reduction for this dtype."""
    return -np.inf if dtype.kind == "f" else int(np.iinfo(dtype).min)


def _positions_along(a: Tensor, dim: int) -> Tensor:
    """A tensor of a's dtype whose value at each element is its index along `dim` (broadcastable)."""
    from .creation import arange

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


def argmax(a: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the first maximal element along `dim` (over all elements when dim is None), int64."""
    if dim is None:
        return argmax(a.reshape(-1), 0)
    dim = S.normalize_dim(dim, a.ndim)
    a = a.detach()
    if a.dtype.kind != "f":
        a = a._cast_raw(np.dtype("float64"))
    best = a._reduce(scalar.maximum, dim, -np.inf)
    index = _first_index_where(a._zip(scalar.eq, best), dim)._cast_raw(np.dtype("int64"))
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
        ga = grad._matmul(_swap_last(b)) if ctx.needs_input_grad[0] else None
        gb = _swap_last(a)._matmul(grad) if ctx.needs_input_grad[1] else None
        return ga, gb


def _swap_last(t: Tensor) -> Tensor:
    order = list(range(t.ndim))
    order[-1], order[-2] = order[-2], order[-1]
    return t._view_raw(tuple(t.shape[i] for i in order), tuple(t._strides[i] for i in order))


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


# ---------------------------------------------------------------------- views and copies
class View(Function):
    @staticmethod
    def forward(ctx: Context, a: Tensor, shape: tuple[int, ...]) -> Tensor:
        ctx.shape = a.shape
        return a._view_raw(shape, S.view_strides(a.shape, a._strides, shape))

    @staticmethod
    def backward(ctx: Context, grad: Tensor) -> Tensor:
        return grad.reshape(ctx.shape)


class Permute(Function):
    @staticmethod
    def forward(ctx: Context, a: Tensor, order: tuple[int, ...]) -> Tensor:
        ctx.order = order
        return a._view_raw(tuple(a.shape[i] for i in order), tuple(a._strides[i] for i in order))

    @staticmethod
    def backward(ctx: Context, grad: Tensor) -> Tensor:
        return grad.permute(tuple(int(i) for i in np.argsort(ctx.order)))


class Expand(Function):
    @staticmethod
    def forward(ctx: Context, a: Tensor, shape: tuple[int, ...]) -> Tensor:
        ctx.shape = a.shape
        return a._view_raw(shape, S.expand_strides(a.shape, a._strides, shape))

    @staticmethod
    def backward(ctx: Context, grad: Tensor) -> Tensor:
        return unbroadcast(grad, ctx.shape)


class Copy(Function):
    """A contiguous copy (`contiguous()`, `clone()`)."""

    @staticmethod
    def forward(ctx: Context, a: Tensor) -> Tensor:
        return a._map(scalar.identity)

    @staticmethod
    def backward(ctx: Context, grad: Tensor) -> Tensor:
        return grad


class Cast(Function):
    @staticmethod
    def forward(ctx: Context, a: Tensor, dtype: np.dtype) -> Tensor:
        ctx.dtype = a.dtype
        return a._cast_raw(dtype)

    @staticmethod
    def backward(ctx: Context, grad: Tensor) -> Tensor | None:
        return grad._cast_raw(ctx.dtype) if ctx.dtype.kind == "f" else None


class ToBackend(Function):
    @staticmethod
    def forward(ctx: Context, a: Tensor, backend: Any) -> Tensor:
        ctx.backend = a.backend
        return _move(a, backend)

    @staticmethod
    def backward(ctx: Context, grad: Tensor) -> Tensor:
        return _move(grad, ctx.backend)


def _move(a: Tensor, backend: Any) -> Tensor:
    """The same values on another backend: shared storage on the same device, else a copy."""
    if backend.device == a.device:
        return Tensor(a._storage, a.shape, a._strides, backend)
    host = np.ascontiguousarray(a.numpy())
    return Tensor(backend.storage.from_numpy(host), a.shape, S.contiguous_strides(a.shape), backend)


class Index(Function):
    """Basic indexing: ints, slices with positive steps, None and Ellipsis. A view, no copy."""

    @staticmethod
    def forward(ctx: Context, a: Tensor, key: Any) -> Tensor:
        ctx.shape, ctx.key, ctx.dtype = a.shape, key, a.dtype
        return _index_view(a, key)

    @staticmethod
    def backward(ctx: Context, grad: Tensor) -> Tensor:
        full = grad._full(ctx.shape, 0.0)
        grad._map(scalar.identity, out=_index_view(full, ctx.key))
        return full


def _index_view(a: Tensor, key: Any) -> Tensor:
    key = key if isinstance(key, tuple) else (key,)
    used = sum(1 for k in key if k is not None and k is not Ellipsis)
    if used > a.ndim:
        raise IndexError(f"too many indices ({used}) for a tensor of shape {a.shape}")
    if Ellipsis in key:
        i = key.index(Ellipsis)
        key = key[:i] + (slice(None),) * (a.ndim - used) + key[i + 1 :]
    key = key + (slice(None),) * (a.ndim - sum(1 for k in key if k is not None))
    offset, shape, strides, d = 0, [], [], 0
    for k in key:
        if k is None:
            shape.append(1)
            strides.append(0)
            continue
        size, stride = a.shape[d], a._strides[d]
        if isinstance(k, slice):
            start, stop, step = k.indices(size)
            if step <= 0:
                raise ValueError(f"slice step must be positive, got {step}")
            n = max(0, (stop - start + step - 1) // step)
            offset += start * stride if n else 0
            shape.append(n)
            strides.append(stride * step)
        else:
            i = int(k)
            if not -size <= i < size:
                raise IndexError(f"index {i} is out of bounds for dimension {d} with size {size} (shape {a.shape})")
            offset += (i % size) * stride
        d += 1
    return a._view_raw(tuple(shape), tuple(strides), offset)


class Cat(Function):
    @staticmethod
    def forward(ctx: Context, *parts: Tensor, dim: int) -> Tensor:
        ctx.sizes, ctx.dim = [p.shape[dim] for p in parts], dim
        shape = list(parts[0].shape)
        shape[dim] = sum(ctx.sizes)
        dtype = parts[0].dtype
        for p in parts[1:]:
            dtype = np.promote_types(dtype, p.dtype)
        out = parts[0]._empty(tuple(shape), dtype)
        start = 0
        for p, n in zip(parts, ctx.sizes):
            p._map(scalar.identity, out=_narrow(out, dim, start, n))
            start += n
        return out

    @staticmethod
    def backward(ctx: Context, grad: Tensor) -> tuple[Tensor, ...]:
        grads, start = [], 0
        for n in ctx.sizes:
            grads.append(_narrow(grad, ctx.dim, start, n))
            start += n
        return tuple(grads)


def _narrow(t: Tensor, dim: int, start: int, length: int) -> Tensor:
    shape = list(t.shape)
    shape[dim] = length
    return t._view_raw(tuple(shape), t._strides, start * t._strides[dim])


def cat(tensors: Any, dim: int = 0) -> Tensor:
    """Join tensors along an existing dimension (`torch.cat`)."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat needs at least one tensor")
    dim = S.normalize_dim(dim, tensors[0].ndim)
    for t in tensors[1:]:
        if t.ndim != tensors[0].ndim or any(
            a != b for i, (a, b) in enumerate(zip(t.shape, tensors[0].shape)) if i != dim
        ):
            shapes = ", ".join(str(x.shape) for x in tensors)
            raise ValueError(f"cat along dim {dim} needs equal sizes in the other dimensions, got {shapes}")
        if t.device != tensors[0].device:
            raise RuntimeError(f"cat of tensors on different devices: {tensors[0].device} and {t.device}")
    return Cat.apply(*tensors, dim=dim)


def stack(tensors: Any, dim: int = 0) -> Tensor:
    """Join equally-shaped tensors along a new dimension (`torch.stack`)."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack needs at least one tensor")
    shapes = {t.shape for t in tensors}
    if len(shapes) > 1:
        raise ValueError(f"stack needs tensors of one shape, got {sorted(shapes)}")
    dim = S.normalize_dim(dim, tensors[0].ndim + 1)
    return cat([t.unsqueeze(dim) for t in tensors], dim)


def index_select(a: Tensor, dim: int, index: Any) -> Tensor:
    """Rows (along `dim`) picked by an integer index, differentiable, on every backend.

    Built from ops the backends already have: a one-hot matrix (index == position) times
    the tensor, so the gradient scatters back by the same matmul, transposed.
    """
    from .creation import tensor

    if not isinstance(index, Tensor):
        index = tensor(np.asarray(index, dtype=np.int64), device=a.backend)
    if index.ndim != 1:
        raise IndexError(f"index_select takes a 1-D index, got shape {index.shape}")
    dim = S.normalize_dim(dim, a.ndim)
    n = a.shape[dim]
    idx = index.detach()
    if idx.numel():
        highest = np.inf if idx.dtype.kind == "f" else int(np.iinfo(idx.dtype).max)
        lo, hi = (
            float(idx._reduce(scalar.minimum, 0, highest).item()),
            float(idx._reduce(scalar.maximum, 0, lowest(idx.dtype)).item()),
        )
        if lo < -n or hi >= n:
            raise IndexError(
                f"index out of range [{int(lo)}, {int(hi)}] for dimension {dim} of size {n} (shape {a.shape})"
            )
        if lo < 0:
            idx = idx._zip(scalar.add, idx._zip(scalar.lt, idx._full((), 0))._zip(scalar.mul, idx._full((), n)))
    onehot = idx.reshape(-1, 1)._zip(scalar.eq, _positions_along(a, dim).reshape(1, n)._cast_raw(idx.dtype))
    moved = a.transpose(0, dim) if dim else a
    rows = onehot._cast_raw(a.dtype) @ moved.reshape(n, -1)
    rows = rows.reshape((idx.shape[0],) + moved.shape[1:])
    return rows.transpose(0, dim) if dim else rows
