"""Shapes and strides: how an n-dimensional index becomes a position in flat storage.

A tensor's elements live in a 1-D *storage*. Its *shape* says how many indices each dimension
has and its *strides* say how far apart (in elements) neighbours along each dimension sit, so

    position(index) = sum(index[d] * strides[d])

Views (transpose, permute, expand, slicing, reshape of contiguous data) only compute new
shapes and strides; the storage is shared. Broadcasting is an `expand`: a dimension of size 1
is stretched by giving it stride 0, so every index along it reads the same element.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

Shape = tuple[int, ...]
Strides = tuple[int, ...]



_MISSING = object()


def _memo(fn: Callable) -> Callable:
    """Remember a pure function of shapes and strides: the ops of a training step repeat the same
    few shapes, and recomputing this bookkeeping was a fifth of a small op's time. Arguments that
    cannot be hashed (lists) are computed as they come."""
    cache: dict = {}

    @functools.wraps(fn)
    def memo(*args: Sequence[int]) -> object:
        try:
            out = cache.get(args, _MISSING)
        except TypeError:
            return fn(*args)
        if out is _MISSING:
            out = fn(*args)
            if len(cache) >= 1 << 16:
                cache.clear()
            cache[args] = out
        return out

    return memo


def size_of(shape: Sequence[int]) -> int:
    """Number of elements of a tensor of this shape."""
    n = 1
    for s in shape:
        n *= s
    return n


@_memo
def contiguous_strides(shape: Sequence[int]) -> Strides:
    """Row-major strides: the last dimension moves fastest."""
    strides = []
    step = 1
    for s in reversed(shape):
        strides.append(step)
        step *= max(s, 1)
    return tuple(reversed(strides))


def is_contiguous(shape: Sequence[int], strides: Sequence[int]) -> bool:
    """True when the strides are row-major for this shape (size-1 dimensions may have any stride)."""
    step = 1
    for s, st in zip(reversed(shape), reversed(strides)):
        if s != 1 and st != step:
            return False
        step *= s
    return True


@_memo
def dense_permuted(shape: Sequence[int], strides: Sequence[int]) -> bool:
    """True when the strides are a contiguous tensor's with the dims reordered (x.T, x.permute(...)):
    the elements fill one gap-free block of memory, in an order other than row-major. A new tensor
    with these strides can then be computed as one flat loop over both blocks (PyTorch's
    TensorIterator keeps an input's layout for the same reason). Broadcast (stride 0), overlapping,
    negative and gapped strides are not."""
    dims = sorted((st, s) for s, st in zip(shape, strides) if s != 1)
    step = 1
    for st, s in dims:
        if st != step:
            return False
        step *= s
    return not is_contiguous(shape, strides)


def index_to_position(index: Sequence[int], strides: Sequence[int]) -> int:
    """Position in storage of a multi-dimensional index."""
    return sum(i * s for i, s in zip(index, strides))


def to_index(ordinal: int, shape: Sequence[int]) -> list[int]:
    """The `ordinal`-th index of `shape` in row-major order (the inverse of counting)."""
    index = [0] * len(shape)
    for d in range(len(shape) - 1, -1, -1):
        ordinal, index[d] = divmod(ordinal, shape[d])
    return index


@_memo
def broadcast_shapes(*shapes: Sequence[int]) -> Shape:
    """NumPy broadcasting: align on the right; sizes must match or be 1."""
    ndim = max((len(s) for s in shapes), default=0)
    out = []
    for d in range(-ndim, 0):
        sizes = {s[d] for s in shapes if len(s) >= -d and s[d] != 1}
        if len(sizes) > 1:
            pretty = " and ".join(str(tuple(s)) for s in shapes)
            raise ValueError(f"shapes {pretty} cannot be broadcast together (dimension {d})")
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)


@_memo
def expand_strides(shape: Sequence[int], strides: Sequence[int], target: Sequence[int]) -> Strides:
    """Strides that view (shape, strides) as the larger `target` shape: stride 0 where broadcast."""
    if len(target) < len(shape):
        raise ValueError(f"cannot expand shape {tuple(shape)} to fewer dimensions {tuple(target)}")
    lead = len(target) - len(shape)
    out = [0] * lead
    for s, st, t in zip(shape, strides, target[lead:]):
        if s == t:
            out.append(st)
        elif s == 1:
            out.append(0)
        else:
            raise ValueError(f"cannot expand shape {tuple(shape)} to {tuple(target)}")
    return tuple(out)


def view_strides(shape: Sequence[int], strides: Sequence[int], new_shape: Sequence[int]) -> Strides | None:
    """Strides that reinterpret (shape, strides) as `new_shape` without copying, or None if impossible.

    Works chunk by chunk: each run of old dimensions that is contiguous in memory may be split
    or merged freely (the same rule as PyTorch's `view`).
    """
    if size_of(shape) != size_of(new_shape):
        return None
    if size_of(shape) == 0 or is_contiguous(shape, strides):  # the common case, answered fast
        return contiguous_strides(new_shape)
    old = [(s, st) for s, st in zip(shape, strides) if s != 1]
    new_strides = [0] * len(new_shape)
    ni = len(new_shape) - 1
    oi = len(old) - 1
    while oi >= 0:
        # collect a maximal contiguous chunk of old dims, ending at oi
        chunk_size, chunk_stride = old[oi][0], old[oi][1]
        lo = oi
        while lo > 0 and old[lo - 1][1] == old[lo][1] * old[lo][0]:
            lo -= 1
            chunk_size *= old[lo][0]
        step, covered = chunk_stride, 1
        while covered < chunk_size:
            if ni < 0:
                return None
            new_strides[ni] = step
            covered *= new_shape[ni]
            step *= new_shape[ni]
            ni -= 1
        if covered != chunk_size:
            return None
        oi = lo - 1
    while ni >= 0:  # leftover dimensions are all of size 1
        if new_shape[ni] != 1:
            return None
        new_strides[ni] = 0 if ni + 1 >= len(new_shape) else new_strides[ni + 1] * new_shape[ni + 1]
        ni -= 1
    return tuple(new_strides)


def infer_shape(shape: Sequence[int], numel: int) -> Shape:
    """Resolve a single -1 in a requested shape, checking the element count."""
    shape = tuple(int(s) for s in shape)
    if shape.count(-1) > 1:
        raise ValueError(f"only one dimension can be -1, got {shape}")
    if -1 in shape:
        known = size_of(s for s in shape if s != -1)
        if known == 0 or numel % known:
            raise ValueError(f"shape {shape} is invalid for {numel} elements")
        shape = tuple(numel // known if s == -1 else s for s in shape)
    if size_of(shape) != numel or any(s < 0 for s in shape):
        raise ValueError(f"shape {shape} is invalid for {numel} elements")
    return shape


def normalize_dim(dim: int, ndim: int) -> int:
    """Turn a possibly negative dimension into 0..ndim-1, with a clear error."""
    if not -max(ndim, 1) <= dim < max(ndim, 1):
        raise IndexError(f"dimension {dim} is out of range for a tensor with {ndim} dimensions")
    return dim % max(ndim, 1)


def flipped(shape: Sequence[int], strides: Sequence[int], dims: Sequence[int]) -> tuple[int, Strides]:
    """(base, signed strides) that read (shape, strides) reversed along `dims`: start at the last
    element along those dims and walk them backwards. Every position base + sum(index * signed)
    of an index of `shape` is then one of the view's own positions, so none is negative."""
    dims = set(dims)
    base = sum((shape[d] - 1) * strides[d] for d in dims if shape[d])
    return base, tuple(-st if d in dims else st for d, st in enumerate(strides))


@_memo
def coalesce(shape: Sequence[int], *strides: Sequence[int]) -> tuple[Shape, tuple[Strides, ...]]:
    """Merge neighbouring dimensions that every operand walks contiguously, and drop size-1 ones.

    Kernels then loop over as few dimensions as possible: a contiguous tensor of any shape
    becomes one flat dimension. Returns the merged shape and the merged strides of each operand.
    """
    dims = [d for d in range(len(shape)) if shape[d] != 1]
    if not dims:
        return (1,), tuple((0,) for _ in strides)
    new_shape = [shape[dims[0]]]
    new_strides = [[st[dims[0]]] for st in strides]
    for d in dims[1:]:
        if all(ns[-1] == st[d] * shape[d] for ns, st in zip(new_strides, strides)):
            new_shape[-1] *= shape[d]
            for ns, st in zip(new_strides, strides):
                ns[-1] = st[d]
        else:
            new_shape.append(shape[d])
            for ns, st in zip(new_strides, strides):
                ns.append(st[d])
    return tuple(new_shape), tuple(tuple(ns) for ns in new_strides)
