"""Differentiable shape ops and copies: views (reshape, permute, expand, indexing, split, chunk),
contiguous copies, dtype casts, moves between backends, concatenation, row selection, flip,
repeat and constant padding.

A view computes new strides over the same storage; its backward puts the gradient back into the
input's shape (summing over broadcast dims for `expand`, writing into a zero tensor for indexing).
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from ..backends import Backend, get_backend, scalar
from ..backends import shape as S
from .autograd import Context, Function, is_grad_enabled, unbroadcast
from .creation import tensor
from .dtype import as_dtype, is_floating
from .functions import Where, _narrow, _positions_along, lowest
from .public import op, tensor_method
from .tensor import Tensor, _shape_args


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

    kernel = scalar.identity

    @classmethod
    def forward(cls, ctx: Context, a: Tensor) -> Tensor:  # type: ignore[override]
        return a._map(cls.kernel)

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
        return grad.to(dtype=ctx.dtype) if ctx.dtype.kind == "f" else None


class ToBackend(Function):
    @staticmethod
    def forward(ctx: Context, a: Tensor, backend: Any) -> Tensor:
        ctx.backend = a.backend
        return _move(a, backend)

    @staticmethod
    def backward(ctx: Context, grad: Tensor) -> Tensor:
        return grad.to(ctx.backend)


def _move(a: Tensor, backend: Any) -> Tensor:
    """The same values on another backend: shared storage on the same device, else a copy."""
    if backend.device == a.device:
        return Tensor(a._storage, a.shape, a._strides, backend, version=a._version_counter, offset=a._offset)
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
        return Unindex.apply(grad, shape=ctx.shape, key=ctx.key)


class Unindex(Function):
    """Index's adjoint: zeros of `shape` with `grad` written at `key` (its backward indexes again)."""

    @staticmethod
    def forward(ctx: Context, grad: Tensor, shape: tuple[int, ...], key: Any) -> Tensor:
        ctx.key = key
        full = grad._full(shape, 0.0)
        grad._map(scalar.identity, out=_index_view(full, key))
        return full

    @staticmethod
    def backward(ctx: Context, grad: Tensor) -> Tensor:
        return Index.apply(grad, key=ctx.key)


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
            try:  # integers only (numpy's and 0-d ones too), as PyTorch: x[1.7] is not x[1]
                i = operator.index(k)
            except TypeError:
                raise IndexError(
                    "only integers, slices (`:`), ellipsis (`...`), None and integer or boolean tensors are "
                    f"valid indices (got {type(k).__name__} {k!r}) for a tensor of shape {a.shape}"
                ) from None
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
        grads, start, before = [], 0, (slice(None),) * ctx.dim
        for n in ctx.sizes:  # each part's gradient is its slice of the gradient
            grads.append(grad[before + (slice(start, start + n),)])
            start += n
        return tuple(grads)


@op(method=False)
def cat(tensors: Any, dim: int = 0) -> Tensor:
    """Join tensors along an existing dimension (`torch.cat`)."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat needs at least one tensor")
    for i, t in enumerate(tensors):
        if t.ndim == 0:
            raise RuntimeError(
                f"zero-dimensional tensor (at position {i}) cannot be concatenated; "
                "use mt.stack, or .reshape(1) each tensor first"
            )
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


@op(method=False)
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


class SelectRows(Function):
    """`onehot @ a` for a 0/1 matrix `onehot` (k, n) and rows `a` (n, m): row i of the result is the
    row of `a` that row i of `onehot` picks; the backward adds each gradient row back into the row
    it came from (`onehot.T @ grad`). Both products are exact with inf and nan (`_onehot_matmul`)."""

    @staticmethod
    def forward(ctx: Context, a: Tensor, onehot: Tensor) -> Tensor:
        ctx.onehot = onehot
        return _onehot_matmul(onehot, a)

    @staticmethod
    def backward(ctx: Context, grad: Tensor) -> tuple[Tensor, None]:
        return SelectRows.apply(grad, ctx.onehot.transpose(-1, -2)), None


def _onehot_matmul(onehot: Tensor, values: Tensor) -> Tensor:
    """onehot @ values for a 0/1 `onehot`, with each output the IEEE sum of the rows it picks.

    A plain matmul also adds 0 * v for every row it does not pick, and 0 * inf = 0 * nan = nan
    would spread one non-finite value to every output. So when `values` has any (one check, read
    on the host), the finite parts are summed, and two more products count the +inf and -inf terms
    of each sum (a nan counts as both, since inf - inf = nan); the counts are exact small integers.
    """
    onehot = onehot._cast_raw(values.dtype)
    if not is_floating(values.dtype) or not values.numel() or _all_finite(values):
        return onehot._matmul(values)
    finite = onehot._matmul(values._map(scalar.finite_or_zero))
    up = onehot._matmul(values._map(scalar.up_flag))
    down = onehot._matmul(values._map(scalar.down_flag))
    return finite._zip(scalar.add, up._zip(scalar.overflow_value, down))


def _all_finite(t: Tensor) -> bool:
    flags = t._map(scalar.finite_flag)  # contiguous, so it flattens to one reduce
    flat = flags._view_raw((flags.numel(),), (1,))
    return bool(flat._reduce(scalar.minimum, 0, 1.0).item())


@op
def index_select(a: Tensor, dim: int, index: Any) -> Tensor:
    """Rows (along `dim`) picked by an integer index, differentiable, on every backend.

    Built from ops the backends already have: a one-hot matrix (index == position) times
    the tensor, so the gradient scatters back by the same matmul, transposed (`SelectRows`).
    """
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
    rows = SelectRows.apply(moved.reshape(n, -1), onehot)
    rows = rows.reshape((idx.shape[0],) + moved.shape[1:])
    return rows.transpose(0, dim) if dim else rows


def masked_select_rows(a: Tensor, mask: Any) -> Tensor:
    """`a[mask]`: the elements (or sub-tensors) where a boolean mask over a's leading dims is true.

    The result's length depends on the data, so the mask is read on the host (PyTorch syncs too);
    the selection itself is `index_select` over the flattened leading dims, so it is differentiable.
    """
    m = np.asarray(mask.numpy() if isinstance(mask, Tensor) else mask).astype(bool)
    if m.ndim > a.ndim or a.shape[: m.ndim] != m.shape:
        raise IndexError(f"the shape of the mask {m.shape} does not match the shape of the indexed tensor {a.shape}")
    rows = a.reshape((-1,) + a.shape[m.ndim :])
    return index_select(rows, 0, np.flatnonzero(m).astype(np.int64))


def _slice_along(a: Tensor, dim: int, start: int, stop: int) -> Tensor:
    """a[..., start:stop, ...] along `dim`: a differentiable view (basic indexing)."""
    return a[(slice(None),) * dim + (slice(start, stop),)]


def split(a: Tensor, split_size_or_sections: int | Any, dim: int = 0) -> tuple[Tensor, ...]:
    """Views of consecutive pieces along `dim` (`torch.split`): of `split_size` elements each (the
    last one may be shorter), or of the given list of sizes, which must add up to the dim's size."""
    if a.ndim == 0:
        raise RuntimeError("split expects at least a 1-dimensional tensor, got a 0-d tensor")
    dim = S.normalize_dim(dim, a.ndim)
    n = a.shape[dim]
    if isinstance(split_size_or_sections, int):
        size = split_size_or_sections
        if size < 0 or (size == 0 and n):
            raise RuntimeError(f"split expects split_size to be positive, got {size} (shape {a.shape}, dim {dim})")
        # an empty dim still gives one (empty) piece, as in PyTorch
        sizes = ([size] * (n // size) + ([n % size] if n % size else []) if size else []) or [0]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if any(s < 0 for s in sizes) or sum(sizes) != n:
            raise RuntimeError(
                f"split_with_sizes expects split_sizes to sum exactly to {n} (input tensor's size at dimension "
                f"{dim}, shape {a.shape}), but got split_sizes={sizes}"
            )
    pieces, start = [], 0
    for s in sizes:
        pieces.append(_slice_along(a, dim, start, start + s))
        start += s
    return tuple(pieces)


@op
def chunk(a: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """`chunks` views of equal size ceil(n / chunks) along `dim` (the last may be shorter, and there
    may be fewer pieces when the sizes do not work out, as in `torch.chunk`)."""
    if chunks < 1:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got {chunks} (shape {a.shape})")
    if a.ndim == 0:
        raise RuntimeError("chunk expects at least a 1-dimensional tensor, got a 0-d tensor")
    n = a.shape[S.normalize_dim(dim, a.ndim)]
    return split(a, max(-(-n // chunks), 1), dim)


class Flip(Function):
    """Reverse the order along each of `dims`: a copy (a view would need negative strides).

    One call of the backend's `flip` kernel (numba: one strided copy that reads each dim backwards;
    the composed default copies slice by slice); the backward flips the gradient back the same way.
    """

    @staticmethod
    def forward(ctx: Context, a: Tensor, dims: tuple[int, ...]) -> Tensor:
        ctx.dims = dims
        return _flipped(a, dims)

    @staticmethod
    def backward(ctx: Context, grad: Tensor) -> Tensor:
        return Flip.apply(grad, dims=ctx.dims)


def _flipped(a: Tensor, dims: tuple[int, ...]) -> Tensor:
    out = a._empty(a.shape)
    if a.numel():
        a.backend.flip(out._storage, out._strides, a._storage, a._strides, a.shape, tuple(dims))
    return out


@op(method=False)  # the method is `x.flip(0, 1)` (below)
def flip(a: Tensor, dims: int | Any) -> Tensor:
    """Reverse the order of elements along `dims` (`torch.flip`): a copy, as in PyTorch."""
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    norm = tuple(S.normalize_dim(d, max(a.ndim, 1)) for d in dims)
    if len(set(norm)) != len(norm):
        raise RuntimeError(f"flip: dims {dims} has a dim more than once (shape {a.shape})")
    if a.ndim == 0:
        return a.clone()
    return Flip.apply(a, dims=norm)


def repeat(a: Tensor, sizes: tuple[int, ...]) -> Tensor:
    """Tile the tensor `sizes[d]` times along each dim (`torch.repeat`, NumPy's `tile`).

    A view that repeats each dim as a new broadcast (stride-0) dim in front of it, then one copy:
    (a, b).repeat(r, s) = (1, a, 1, b) expanded to (r, a, s, b), reshaped to (r * a, s * b).
    The backward (expand's) sums the gradient over the copies.
    """
    if len(sizes) < a.ndim:
        raise RuntimeError(
            f"repeat: the number of repeat dims ({len(sizes)}) can not be smaller than the number of "
            f"dimensions of the tensor ({a.ndim}, shape {a.shape})"
        )
    if any(s < 0 for s in sizes):
        raise RuntimeError(f"repeat: repeats must be non-negative, got {tuple(sizes)}")
    shape = (1,) * (len(sizes) - a.ndim) + a.shape
    interleaved = tuple(x for s in shape for x in (1, s))
    stretched = tuple(x for r, s in zip(sizes, shape) for x in (r, s))
    out = a.reshape(interleaved).expand(stretched)
    return out.reshape(tuple(r * s for r, s in zip(sizes, shape)))


class ConstantPad(Function):
    """Pad with a constant: a new tensor of value `value` with the input copied into its middle.

    `pads` holds (before, after) per dim, all non-negative. The backward is the middle of the gradient.
    """

    @staticmethod
    def forward(ctx: Context, a: Tensor, pads: tuple[tuple[int, int], ...], value: float) -> Tensor:
        ctx.pads, ctx.shape = pads, a.shape
        shape = tuple(s + lo + hi for s, (lo, hi) in zip(a.shape, pads))
        out = a._full(shape, value)
        if a.numel():
            a._map(scalar.identity, out=_middle(out, pads, a.shape))
        return out

    @staticmethod
    def backward(ctx: Context, grad: Tensor) -> Tensor:  # the middle of the gradient
        return grad[tuple(slice(lo, lo + n) for (lo, _), n in zip(ctx.pads, ctx.shape))]


def _middle(t: Tensor, pads: tuple[tuple[int, int], ...], shape: tuple[int, ...]) -> Tensor:
    """The view of `t` that leaves out the padding: `shape`, starting at each dim's `before`."""
    offset = sum(lo * st for (lo, _), st in zip(pads, t._strides))
    return t._view_raw(shape, t._strides, offset)


# ---------------------------------------------------------------------- the Tensor methods of these ops
@tensor_method
def to(x: Tensor, device: str | Backend | None = None, dtype: Any = None) -> Tensor:
    """Move to a device/backend ("cpu", "cuda", "python", "numba", a Backend) and/or cast."""
    out = x
    if device is not None:
        backend = get_backend(device)
        if backend is not x.backend:
            out = ToBackend.apply(out, backend=backend)
    if dtype is not None and as_dtype(dtype) != out.dtype:
        out = Cast.apply(out, dtype=as_dtype(dtype))
    return out


@tensor_method
def view(x: Tensor, *shape: Any) -> Tensor:
    """The same storage seen with another shape; raises when the strides do not allow it."""
    shape = S.infer_shape(_shape_args(shape), x.numel())
    if S.view_strides(x.shape, x._strides, shape) is None:
        raise RuntimeError(
            f"view of shape {x.shape} with strides {x._strides} as {shape} needs a copy: use .reshape()"
        )
    return View.apply(x, shape=shape)


@tensor_method
def reshape(x: Tensor, *shape: Any) -> Tensor:
    """A view when the strides allow one, else a copy; the tensor itself when nothing changes."""
    shape = S.infer_shape(_shape_args(shape), x.numel())
    if shape == x.shape:
        return x
    if S.view_strides(x.shape, x._strides, shape) is None:
        return View.apply(contiguous(x), shape=shape)
    return View.apply(x, shape=shape)


@tensor_method
def permute(x: Tensor, *order: Any) -> Tensor:
    order = tuple(S.normalize_dim(d, x.ndim) for d in _shape_args(order))
    if sorted(order) != list(range(x.ndim)):
        raise ValueError(f"permute order {order} is not a permutation of the {x.ndim} dims of {x.shape}")
    return Permute.apply(x, order=order)


@tensor_method
def expand(x: Tensor, *shape: Any) -> Tensor:
    """A broadcast view: size-1 dims (and new leading dims) stretched with stride 0, no copy."""
    shape = _shape_args(shape)
    lead = len(shape) - x.ndim
    shape = tuple(x.shape[i - lead] if s == -1 else s for i, s in enumerate(shape))
    if shape == x.shape:
        return x
    S.expand_strides(x.shape, x._strides, shape)  # validates, with a clear error
    return Expand.apply(x, shape=shape)


@tensor_method
def contiguous(x: Tensor) -> Tensor:
    return x if x.is_contiguous() else Copy.apply(x)


@tensor_method
def clone(x: Tensor) -> Tensor:
    return Copy.apply(x)


def _is_bool_mask(key: Any) -> bool:
    """A bool tensor (a comparison's result), a NumPy bool array, or a (nested) list of Python bools."""
    return (key.dtype if isinstance(key, Tensor) else np.asarray(key).dtype) == np.bool_


def _getitem(x: Tensor, key: Any) -> Tensor:
    """`x[key]`: basic indexing is a view (`Index`), a boolean mask selects, integers pick rows."""
    if isinstance(key, (Tensor, list, np.ndarray)):
        if _is_bool_mask(key):
            return masked_select_rows(x, key)
        kind = key.dtype.kind if isinstance(key, (Tensor, np.ndarray)) else np.asarray(key).dtype.kind
        if kind not in "iub":
            dtype = key.dtype if isinstance(key, (Tensor, np.ndarray)) else np.asarray(key).dtype
            raise IndexError(
                f"tensors used as indices must be integer (int64) or boolean masks, got {dtype}; "
                "use .long() for positions, or a comparison such as x > 0 for a mask"
            )
        return index_select(x, 0, key)
    return Index.apply(x, key=key)


def _setitem(x: Tensor, key: Any, value: Any) -> None:
    """`x[key] = value` for basic indexing (ints, slices, None, ...) and boolean masks: writes
    into the storage."""
    if isinstance(key, (Tensor, list, np.ndarray)) and not _is_bool_mask(key):
        raise TypeError(
            "assignment through an index list or tensor is not supported; use basic indexing or a boolean mask"
        )
    if x.requires_grad and is_grad_enabled():
        raise RuntimeError("assignment into a tensor that requires grad: wrap it in `with mt.no_grad():`")
    if isinstance(key, (Tensor, list, np.ndarray)):
        _masked_assign(x, key, value)
    else:
        x.detach()[key].copy_(value)


def _masked_assign(x: Tensor, mask: Any, value: Any) -> None:
    """`x[mask] = value`: a value broadcast over each selected element (or sub-tensor), written
    with `Where`, which picks values instead of multiplying by 0/1 (exact with inf and nan)."""
    if not isinstance(mask, Tensor):
        mask = tensor(np.asarray(mask), device=x.backend)
    if mask.ndim > x.ndim or x.shape[: mask.ndim] != mask.shape:
        raise IndexError(f"the shape of the mask {mask.shape} does not match the shape of the indexed tensor {x.shape}")
    value = x._lift(value).detach()
    rest = x.shape[mask.ndim :]
    try:
        fits = value.ndim <= len(rest) and S.broadcast_shapes(value.shape, rest) == rest
    except ValueError:
        fits = False
    if not fits:
        raise RuntimeError(
            f"t[mask] = value takes a value that broadcasts to each selected element, of shape {rest}; "
            f"got shape {value.shape} (mask {mask.shape}, tensor {x.shape})"
        )
    cond = mask.detach().reshape(mask.shape + (1,) * len(rest))
    x.copy_(Where.apply(cond, value, x.detach()))


def _flip_method(x: Tensor, *dims: Any) -> Tensor:
    """`x.flip(0, 1)` or `x.flip((0, 1))`."""
    return flip(x, dims[0] if len(dims) == 1 else dims)


def _repeat_method(x: Tensor, *sizes: Any) -> Tensor:
    """Tile along each dim: x.repeat(2, 3) or x.repeat((2, 3)), as `torch.Tensor.repeat`."""
    sizes = tuple(sizes[0]) if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)) else sizes
    return repeat(x, tuple(int(s) for s in sizes))


Tensor.__getitem__ = _getitem
Tensor.__setitem__ = _setitem
Tensor.flip = _flip_method
Tensor.repeat = _repeat_method
op(split)
op(cat, name="concatenate", method=False)  # NumPy's name
