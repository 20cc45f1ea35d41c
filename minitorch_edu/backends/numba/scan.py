"""Fused kernels along one dim for tensors in main memory (numba CPU): the running sum and the flip.

Composed from the primitives, a running sum is log2(n) whole-tensor zip passes (Hillis and Steele's
scan) and a flip one copy kernel per slice. Here each is one pass over memory.

`cumsum` (the contract is `base.Backend.cumsum`) runs the loop a learner would write, in parallel
over the other dims (`prange`):

    for index in every index of the other dims:               # in parallel
        acc = 0                                               # float64 for float32 data
        for j in range(n) (from n - 1 down to 0 when reverse):
            acc += a[index with index[dim] = j]
            out[index with index[dim] = j] = acc

laid out three ways: one line per task when the summed dim is contiguous or the tensor is strided
(`cumsum_rows`); a block of neighbouring columns per task when the summed dim is not the innermost
one (`cumsum_columns`: each step adds a whole contiguous row slice, which SIMD does); and, when
there are fewer lines than threads (a long 1-D sum), each line cut into chunks: the chunks' totals
first, in parallel, then each chunk's running sum from the total of the chunks before it
(`cumsum_chunks`). float32 data accumulates in float64, rounded once per stored element, as the
sum reductions do (`kernels.wide`): 1e6 float32 values keep a running sum good to ~1e-7.

`flip` (`base.Backend.flip`) is one strided copy that reads each flipped dim backwards: it starts at
the last element along those dims and walks them with negated strides,

    for index in every index of shape:                        # rows in parallel
        out[position(index, out_strides)] = a[base + position(index, signed_strides)]

with base = sum of (shape[d] - 1) * a_strides[d] over the flipped dims, so no position is negative
(`shape.flipped`).
Each kernel has a `_serial` twin that small tensors run (`cpu.SERIAL_BELOW`).
"""

from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange

import minitorch_edu.backends.numba.cache  # noqa: F401  (before any cached kernel: compiled code per thread count)

from ..shape import coalesce, flipped, size_of

JIT = {"cache": True, "error_model": "numpy", "nogil": True}
SERIAL_BELOW = 1 << 15  # elements: below this, waking the thread pool costs more than the work
COLUMN_BLOCK = 256  # columns per task of `cumsum_columns`
CHUNK = 1 << 16  # elements per chunk of a long line (`cumsum_chunks`)
ROW = 4096  # a long 1-D flip is cut into rows of this length, so that threads can share it


# ---------------------------------------------------------------------- helpers
@njit(**JIT)
def _offsets(r, shape, s1, s2, ndim):
    """Positions in two operands of the r-th index (row-major) of the first `ndim` dims of shape."""
    p1 = p2 = 0
    rem = np.int64(r)  # prange indices are unsigned; mixing them with signed ints gives floats
    for d in range(ndim - 1, -1, -1):
        i = rem % shape[d]
        rem = rem // shape[d]
        p1 += i * s1[d]
        p2 += i * s2[d]
    return p1, p2


@njit(**JIT)
def _scan_line(out, po, so, a, pa, sa, lo, hi, reverse, acc):
    """out[po + j*so] = acc + the running sum of a[pa + j*sa] over j in [lo, hi) (from hi - 1 down
    when reverse); returns the final sum."""
    if reverse:
        for j in range(hi - 1, lo - 1, -1):
            acc += a[pa + j * sa]
            out[po + j * so] = acc
    else:
        for j in range(lo, hi):
            acc += a[pa + j * sa]
            out[po + j * so] = acc
    return acc


@njit(**JIT)
def _line_total(a, pa, sa, lo, hi, zero):
    """The sum of a[pa + j*sa] over j in [lo, hi), in zero's type, with eight partial sums (which
    LLVM packs into SIMD registers when sa is 1); inf and nan propagate as in a plain loop."""
    p0 = p1 = p2 = p3 = p4 = p5 = p6 = p7 = zero
    j = lo
    while j + 8 <= hi:
        q = pa + j * sa
        p0 += a[q]
        p1 += a[q + sa]
        p2 += a[q + 2 * sa]
        p3 += a[q + 3 * sa]
        p4 += a[q + 4 * sa]
        p5 += a[q + 5 * sa]
        p6 += a[q + 6 * sa]
        p7 += a[q + 7 * sa]
        j += 8
    for k in range(j, hi):
        p0 += a[pa + k * sa]
    return ((p0 + p1) + (p2 + p3)) + ((p4 + p5) + (p6 + p7))


# ---------------------------------------------------------------------- cumsum: one line per task
@njit(**JIT)
def _rows_task(out, so, a, sa, shape, n, step_o, step_a, reverse, zero, r):
    po, pa = _offsets(r, shape, so, sa, len(shape))
    _scan_line(out, po, step_o, a, pa, step_a, 0, n, reverse, zero)


@njit(parallel=True, **JIT)
def cumsum_rows(out, so, a, sa, shape, n, step_o, step_a, reverse, zero, rows):
    """One running sum per index of the other dims (coalesced into `shape`)."""
    for r in prange(rows):
        _rows_task(out, so, a, sa, shape, n, step_o, step_a, reverse, zero, np.int64(r))


@njit(**JIT)
def cumsum_rows_serial(out, so, a, sa, shape, n, step_o, step_a, reverse, zero, rows):
    for r in range(rows):
        _rows_task(out, so, a, sa, shape, n, step_o, step_a, reverse, zero, r)


# ---------------------------------------------------------------------- cumsum: blocks of columns
@njit(**JIT)
def _columns_task(out, so, a, sa, shape, n, step_o, step_a, reverse, zero, block, t):
    """`block` neighbouring lines (contiguous in the innermost other dim) summed side by side."""
    last = len(shape) - 1
    inner = shape[last]
    nblocks = (inner + block - 1) // block
    r = t // nblocks
    j0 = (t % nblocks) * block
    w = min(inner, j0 + block) - j0
    po, pa = _offsets(r, shape, so, sa, last)
    po += j0
    pa += j0
    acc = np.full(w, zero)
    for jj in range(n):
        j = n - 1 - jj if reverse else jj
        x = a[pa + j * step_a : pa + j * step_a + w]
        o = out[po + j * step_o : po + j * step_o + w]
        for c in range(w):
            acc[c] += x[c]
            o[c] = acc[c]


@njit(parallel=True, **JIT)
def cumsum_columns(out, so, a, sa, shape, n, step_o, step_a, reverse, zero, block, tasks):
    """The summed dim is not the innermost: a task adds whole row slices of `block` columns."""
    for t in prange(tasks):
        _columns_task(out, so, a, sa, shape, n, step_o, step_a, reverse, zero, block, np.int64(t))


@njit(**JIT)
def cumsum_columns_serial(out, so, a, sa, shape, n, step_o, step_a, reverse, zero, block, tasks):
    for t in range(tasks):
        _columns_task(out, so, a, sa, shape, n, step_o, step_a, reverse, zero, block, t)


# ---------------------------------------------------------------------- cumsum: long lines in chunks
@njit(parallel=True, **JIT)
def cumsum_chunks(out, so, a, sa, shape, n, step_o, step_a, reverse, zero, chunk, chunks, rows):
    """Few long lines: each cut into `chunks` pieces of `chunk` elements. The pieces' totals in
    parallel, then (serially, per line) the sum of the pieces before each, then the pieces' running
    sums in parallel, each starting from that sum."""
    starts = np.full(rows * chunks, zero)
    for t in prange(rows * chunks):
        r, c = np.int64(t) // chunks, np.int64(t) % chunks
        _, pa = _offsets(r, shape, so, sa, len(shape))
        starts[t] = _line_total(a, pa, step_a, c * chunk, min(n, (c + 1) * chunk), zero)
    for r in range(rows):
        acc = zero
        for cc in range(chunks):
            t = r * chunks + (chunks - 1 - cc if reverse else cc)
            total = starts[t]
            starts[t] = acc
            acc += total
    for t in prange(rows * chunks):
        r, c = np.int64(t) // chunks, np.int64(t) % chunks
        po, pa = _offsets(r, shape, so, sa, len(shape))
        _scan_line(out, po, step_o, a, pa, step_a, c * chunk, min(n, (c + 1) * chunk), reverse, starts[t])


def _accumulator(dtype: np.dtype) -> object:
    """The zero a running sum of this dtype starts from: float64 for float32 data (see the module's
    docstring), else the dtype's own (int64 sums stay exact)."""
    return np.float64(0.0) if dtype == np.float32 else dtype.type(0)


def cumsum(out, out_strides, a, a_strides, shape, dim, reverse=False) -> None:  # noqa: ANN001
    """The inclusive running sum along `dim` (`base.Backend.cumsum`), in one pass."""
    size = size_of(shape)
    if not size:
        return
    n, step_o, step_a = shape[dim], out_strides[dim], a_strides[dim]
    keep = [d for d in range(len(shape)) if d != dim]
    others, (so, sa) = coalesce(
        tuple(shape[d] for d in keep) or (1,),
        tuple(out_strides[d] for d in keep) or (0,),
        tuple(a_strides[d] for d in keep) or (0,),
    )
    rows = size_of(others)
    zero = _accumulator(a.dtype)
    reverse = bool(reverse)
    parallel = size >= SERIAL_BELOW
    inner = others[-1]
    if inner > 1 and so[-1] == 1 and sa[-1] == 1 and abs(step_a) != 1:
        threads = numba.get_num_threads()
        # enough tasks for every thread, each at least 16 columns wide (SIMD)
        block = max(16, min(COLUMN_BLOCK, -(-inner // (4 * threads))))
        tasks = (rows // inner) * -(-inner // block)
        kernel = cumsum_columns if parallel else cumsum_columns_serial
        kernel(out, so, a, sa, others, n, step_o, step_a, reverse, zero, block, tasks)
    elif parallel and rows < numba.get_num_threads() and n >= 2 * CHUNK:
        chunks = -(-n // CHUNK)
        cumsum_chunks(out, so, a, sa, others, n, step_o, step_a, reverse, zero, CHUNK, chunks, rows)
    else:
        kernel = cumsum_rows if parallel else cumsum_rows_serial
        kernel(out, so, a, sa, others, n, step_o, step_a, reverse, zero, rows)


# ---------------------------------------------------------------------- flip
@njit(**JIT)
def _copy_row(out, so, a, base, sa, shape, r):
    """Row r (an index of all dims but the last) of out[index] = a[base + position(index, sa)]."""
    last = len(shape) - 1
    po, pa = _offsets(r, shape, so, sa, last)
    pa += base
    n, s_o, s_a = shape[last], so[last], sa[last]
    if s_o == 1:
        o = out[po : po + n]
        if s_a == -1:  # the innermost dim flipped: read backwards
            for j in range(n):
                o[j] = a[pa - j]
        elif s_a == 1:  # an outer dim flipped: whole rows, a contiguous copy that vectorises
            src = a[pa : pa + n]
            for j in range(n):
                o[j] = src[j]
        else:
            for j in range(n):
                o[j] = a[pa + j * s_a]
    else:
        for j in range(n):
            out[po + j * s_o] = a[pa + j * s_a]


@njit(parallel=True, **JIT)
def copy_signed(out, so, a, base, sa, shape, rows):
    """A strided copy whose source strides may be negative (from `base` on, so no position is)."""
    for r in prange(rows):
        _copy_row(out, so, a, base, sa, shape, np.int64(r))


@njit(**JIT)
def copy_signed_serial(out, so, a, base, sa, shape, rows):
    for r in range(rows):
        _copy_row(out, so, a, base, sa, shape, r)


def _copy_signed(out, so, a, base, sa, shape) -> None:  # noqa: ANN001
    size = size_of(shape)
    kernel = copy_signed if size >= SERIAL_BELOW else copy_signed_serial
    kernel(out, so, a, base, sa, shape, size // shape[-1])


def flip(out, out_strides, a, a_strides, shape, dims) -> None:  # noqa: ANN001
    """out = a reversed along each of `dims` (`base.Backend.flip`): one strided copy."""
    if not size_of(shape):
        return
    base, signed = flipped(shape, a_strides, dims)
    merged, (so, sa) = coalesce(tuple(shape) or (1,), tuple(out_strides) or (0,), signed or (0,))
    if len(merged) == 1 and merged[0] >= SERIAL_BELOW:
        # one long line: rows of ROW elements for the threads, then the tail
        rows, tail = divmod(merged[0], ROW)
        _copy_signed(out, (ROW * so[0], so[0]), a, base, (ROW * sa[0], sa[0]), (rows, ROW))
        if tail:
            done = rows * ROW
            _copy_signed(out[done * so[0] :], so, a, base + done * sa[0], sa, (tail,))
        return
    _copy_signed(out, so, a, base, sa, merged)
