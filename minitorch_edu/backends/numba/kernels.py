"""Template of the numba CPU kernels for one scalar function `fn`.

`numba_cpu` writes a copy of this file per scalar function, with the line marked `# <fn>`
replaced by an import of that function, so numba's on-disk cache (`cache=True`) works: a new
process loads the compiled kernels in milliseconds instead of compiling them again.

Shapes reach these kernels already coalesced (see `backends.shape.coalesce`): a contiguous tensor of
any shape arrives as one flat dimension, and the other layouts as few dimensions as possible.
Each kernel is split into a *task* (one chunk, row or tile: `_*_task`) and two drivers that run
all tasks: `name` in parallel with `prange`, and `name_serial` in a plain loop, which small
tensors use because starting a parallel region costs more than their whole work. The innermost
loop walks the last dimension, with a stride-1 fast path over slices that LLVM vectorises.
"""

import numpy as np
from numba import njit, prange, types
from numba.extending import overload

import minitorch_edu.backends.numba.cache  # noqa: F401  (before any cached kernel: compiled code per thread count)

# "contract" lets LLVM fuse a * b + c into one multiply-add (FMA): the polynomials of scalar.py's
# vectorisable maths are chains of them, and run in about 60% of the time. It changes no special
# value and only rounds once where two roundings were (results move by < 1e-16 before float32 rounding)
JIT = {"cache": True, "error_model": "numpy", "nogil": True, "fastmath": {"contract"}}

fn = njit(lambda x: x)  # <fn>
CHUNK = 16384  # elements per parallel task in flat loops


@njit(**JIT)
def _row_start(row, shape, s1, s2, s3):
    """Positions, in up to three operands, of the first element of a row (all dims but the last)."""
    p1 = p2 = p3 = 0
    rem = np.int64(row)  # prange indices are unsigned; mixing them with signed ints gives floats
    for d in range(len(shape) - 2, -1, -1):
        i = rem % shape[d]
        rem = rem // shape[d]
        p1 += i * s1[d]
        p2 += i * s2[d]
        p3 += i * s3[d]
    return p1, p2, p3


@njit(**JIT)
def _map_flat_task(out, a, n, chunk):
    lo = chunk * CHUNK
    hi = min(n, lo + CHUNK)
    # slices, not a[lo + i]: LLVM then sees unit-stride loops over [0, hi - lo) and
    # vectorises them (indexing with lo + i runs several times slower)
    o, x = out[lo:hi], a[lo:hi]
    for i in range(hi - lo):
        o[i] = fn(x[i])


@njit(parallel=True, **JIT)
def map_flat(out, a, n):
    for chunk in prange((n + CHUNK - 1) // CHUNK):
        _map_flat_task(out, a, n, np.int64(chunk))


@njit(**JIT)
def map_flat_serial(out, a, n):
    for chunk in range((n + CHUNK - 1) // CHUNK):
        _map_flat_task(out, a, n, chunk)


@njit(**JIT)
def _map_strided_task(out, out_strides, a, a_strides, shape, r):
    last = len(shape) - 1
    inner, so, sa = shape[last], out_strides[last], a_strides[last]
    po, pa, _ = _row_start(r, shape, out_strides, a_strides, a_strides)
    if so == 1 and sa == 1:
        o, x = out[po : po + inner], a[pa : pa + inner]
        for j in range(inner):
            o[j] = fn(x[j])
    elif so == 1 and sa == 0:  # a broadcast value: compute once, fill the row
        o, v = out[po : po + inner], fn(a[pa])
        for j in range(inner):
            o[j] = v
    else:
        for j in range(inner):
            out[po + j * so] = fn(a[pa + j * sa])


@njit(parallel=True, **JIT)
def map_strided(out, out_strides, a, a_strides, shape, rows):
    for r in prange(rows):
        _map_strided_task(out, out_strides, a, a_strides, shape, np.int64(r))


@njit(**JIT)
def map_strided_serial(out, out_strides, a, a_strides, shape, rows):
    for r in range(rows):
        _map_strided_task(out, out_strides, a, a_strides, shape, r)


@njit(parallel=True, **JIT)
def map_tiled(out, out_strides, a, a_strides, shape, tile):
    """2-D map where out and a disagree on which dim is contiguous (e.g. x.T.exp()): walk in tiles.

    A tile of a is first copied into a small buffer, walking a along its own contiguous dim; then
    fn runs over the buffer's rows and the unit-stride output rows: a loop LLVM vectorises (fn
    reading a at a stride does not). The buffer's rows are `tile + 8` long: a power-of-two stride
    would map every row onto the same few cache sets. Only large tensors come here (no serial twin).
    """
    n0, n1 = shape[0], shape[1]
    t0 = (n0 + tile - 1) // tile
    t1 = (n1 + tile - 1) // tile
    ld = tile + 8
    for task in prange(t0 * t1):
        t = np.int64(task)
        i0 = (t // t1) * tile
        j0 = (t % t1) * tile
        height = min(n0, i0 + tile) - i0
        width = min(n1, j0 + tile) - j0
        buf = np.empty(tile * ld, a.dtype)
        for j in range(width):  # along a's columns: a[i0:i0+height, j] is (usually) a unit-stride run of a
            pa = i0 * a_strides[0] + (j0 + j) * a_strides[1]
            if a_strides[0] == 1:
                col = a[pa : pa + height]
                for i in range(height):
                    buf[i * ld + j] = col[i]
            else:
                for i in range(height):
                    buf[i * ld + j] = a[pa + i * a_strides[0]]
        for i in range(height):
            po = (i0 + i) * out_strides[0] + j0 * out_strides[1]
            row = buf[i * ld : i * ld + width]
            if out_strides[1] == 1:
                o = out[po : po + width]
                for j in range(width):
                    o[j] = fn(row[j])
            else:
                for j in range(width):
                    out[po + j * out_strides[1]] = fn(row[j])


@njit(**JIT)
def _zip_flat_task(out, a, b, n, chunk):
    lo = chunk * CHUNK
    hi = min(n, lo + CHUNK)
    o, x, y = out[lo:hi], a[lo:hi], b[lo:hi]
    for i in range(hi - lo):
        o[i] = fn(x[i], y[i])


@njit(parallel=True, **JIT)
def zip_flat(out, a, b, n):
    for chunk in prange((n + CHUNK - 1) // CHUNK):
        _zip_flat_task(out, a, b, n, np.int64(chunk))


@njit(**JIT)
def zip_flat_serial(out, a, b, n):
    for chunk in range((n + CHUNK - 1) // CHUNK):
        _zip_flat_task(out, a, b, n, chunk)


@njit(**JIT)
def _zip_strided_task(out, out_strides, a, a_strides, b, b_strides, shape, r):
    last = len(shape) - 1
    inner = shape[last]
    so, sa, sb = out_strides[last], a_strides[last], b_strides[last]
    po, pa, pb = _row_start(r, shape, out_strides, a_strides, b_strides)
    if so == 1 and sa == 1 and sb == 1:
        o, x, y = out[po : po + inner], a[pa : pa + inner], b[pb : pb + inner]
        for j in range(inner):
            o[j] = fn(x[j], y[j])
    elif so == 1 and sa == 1 and sb == 0:
        o, x, yv = out[po : po + inner], a[pa : pa + inner], b[pb]
        for j in range(inner):
            o[j] = fn(x[j], yv)
    elif so == 1 and sa == 0 and sb == 1:
        o, xv, y = out[po : po + inner], a[pa], b[pb : pb + inner]
        for j in range(inner):
            o[j] = fn(xv, y[j])
    else:
        for j in range(inner):
            out[po + j * so] = fn(a[pa + j * sa], b[pb + j * sb])


@njit(parallel=True, **JIT)
def zip_strided(out, out_strides, a, a_strides, b, b_strides, shape, rows):
    for r in prange(rows):
        _zip_strided_task(out, out_strides, a, a_strides, b, b_strides, shape, np.int64(r))


@njit(**JIT)
def zip_strided_serial(out, out_strides, a, a_strides, b, b_strides, shape, rows):
    for r in range(rows):
        _zip_strided_task(out, out_strides, a, a_strides, b, b_strides, shape, r)


@njit(parallel=True, **JIT)
def zip_tiled(out, out_strides, a, a_strides, b, b_strides, shape, tile):
    """2-D zip where operands disagree on which dim is contiguous (e.g. x + x.T): walk in tiles.

    Only large tensors come here, so it has no serial twin.
    """
    n0, n1 = shape[0], shape[1]
    t0 = (n0 + tile - 1) // tile
    t1 = (n1 + tile - 1) // tile
    for task in prange(t0 * t1):
        t = np.int64(task)
        i0 = (t // t1) * tile
        j0 = (t % t1) * tile
        for i in range(i0, min(n0, i0 + tile)):
            po = i * out_strides[0]
            pa = i * a_strides[0]
            pb = i * b_strides[0]
            for j in range(j0, min(n1, j0 + tile)):
                out[po + j * out_strides[1]] = fn(a[pa + j * a_strides[1]], b[pb + j * b_strides[1]])


BLOCK = 128  # elements per block of a long fold


def wide(x):
    """x as float64 when it is a float32 (the accumulator of long float32 folds), else unchanged."""
    return x


@overload(wide, jit_options={"cache": True})
def _wide(x):
    if isinstance(x, types.Float) and x.bitwidth == 32:
        return lambda x: np.float64(x)
    return lambda x: x


def wide_copy(x):
    """A copy of array x, as float64 when x is float32 (see `wide`)."""
    return x.copy()


@overload(wide_copy, jit_options={"cache": True})
def _wide_copy(x):
    if isinstance(x.dtype, types.Float) and x.dtype.bitwidth == 32:
        return lambda x: x.astype(np.float64)
    return lambda x: x.copy()


@njit(**JIT)
def _fold_block(x, lo, hi):
    """fn folded over x[lo:hi] (hi > lo) with eight independent partials, which LLVM packs into one
    SIMD register; the partials are combined with fn at the end, so nan still propagates."""
    n = hi - lo
    if n < 16:
        acc = x[lo]
        for j in range(lo + 1, hi):
            acc = fn(acc, x[j])
        return acc
    y = x[lo:hi]
    p0, p1, p2, p3, p4, p5, p6, p7 = y[0], y[1], y[2], y[3], y[4], y[5], y[6], y[7]
    full = n - n % 8
    for j in range(8, full, 8):
        p0 = fn(p0, y[j])
        p1 = fn(p1, y[j + 1])
        p2 = fn(p2, y[j + 2])
        p3 = fn(p3, y[j + 3])
        p4 = fn(p4, y[j + 4])
        p5 = fn(p5, y[j + 5])
        p6 = fn(p6, y[j + 6])
        p7 = fn(p7, y[j + 7])
    for j in range(full, n):
        p0 = fn(p0, y[j])
    return fn(fn(fn(p0, p1), fn(p2, p3)), fn(fn(p4, p5), fn(p6, p7)))


@njit(**JIT)
def _reduce_rows_task(out, out_strides, a, a_strides, shape, n, step, assoc, r):
    """Fold the n elements behind output r.

    With `assoc` (fn is associative and commutative, e.g. add or max) a contiguous fold runs in
    blocks of 128 elements (eight SIMD partials each), and the block results are folded, in float64
    for float32 data, onto the start value in `out`. A float32 sum then keeps its accuracy: 2e5
    values add up to the exact sum rounded once, where eight running float32 partials lost ~0.1.
    """
    last = len(shape) - 1
    # row_start skips the last dim, so split r into (row, column) first
    po, pa, _ = _row_start(r // shape[last], shape, out_strides, a_strides, a_strides)
    col = r % shape[last]
    po += col * out_strides[last]
    pa += col * a_strides[last]
    acc = out[po]
    if step == 1 and assoc and n >= 16:
        x = a[pa : pa + n]
        total = wide(acc)  # the start value is folded in: a sum with out = 10 starts from 10
        for b in range(0, n, BLOCK):
            total = fn(total, wide(_fold_block(x, b, min(n, b + BLOCK))))
        out[po] = total
        return
    elif step == 1:
        x = a[pa : pa + n]
        for j in range(n):
            acc = fn(acc, x[j])
    else:
        for j in range(n):
            acc = fn(acc, a[pa + j * step])
    out[po] = acc


@njit(parallel=True, **JIT)
def reduce_rows(out, out_strides, a, a_strides, shape, n, step, assoc, total):
    """Reduce where the reduced dim is the one walked fastest: one fold per output."""
    for r in prange(total):
        _reduce_rows_task(out, out_strides, a, a_strides, shape, n, step, assoc, np.int64(r))


@njit(**JIT)
def reduce_rows_serial(out, out_strides, a, a_strides, shape, n, step, assoc, total):
    for r in range(total):
        _reduce_rows_task(out, out_strides, a, a_strides, shape, n, step, assoc, r)


@njit(**JIT)
def _reduce_columns_task(out, out_strides, a, a_strides, shape, n, step, block, t):
    """One block of `block` outputs of one output row: add the n input rows into it, in order."""
    last = len(shape) - 1
    inner = shape[last]
    nblocks = (inner + block - 1) // block
    so, sa = out_strides[last], a_strides[last]
    r = t // nblocks
    j0 = (t % nblocks) * block
    j1 = min(inner, j0 + block)
    po, pa, _ = _row_start(r, shape, out_strides, a_strides, a_strides)
    if so == 1 and sa == 1:
        o = out[po + j0 : po + j1]
        # blocks of BLOCK input rows are folded in the data's dtype (SIMD), each block's result onto
        # `total`, float64 for float32 data: a float32 column sum of 2e5 rows keeps its accuracy
        total = wide_copy(o)
        part = np.empty_like(o)
        for b in range(0, n, BLOCK):
            hi = min(n, b + BLOCK)
            first = a[pa + b * step + j0 : pa + b * step + j1]
            for j in range(j1 - j0):
                part[j] = first[j]
            k = b + 1
            while k + 4 <= hi:  # four input rows per pass over part: a quarter of the loads and stores
                x0 = a[pa + k * step + j0 : pa + k * step + j1]
                x1 = a[pa + (k + 1) * step + j0 : pa + (k + 1) * step + j1]
                x2 = a[pa + (k + 2) * step + j0 : pa + (k + 2) * step + j1]
                x3 = a[pa + (k + 3) * step + j0 : pa + (k + 3) * step + j1]
                for j in range(j1 - j0):
                    part[j] = fn(fn(fn(fn(part[j], x0[j]), x1[j]), x2[j]), x3[j])
                k += 4
            for kk in range(k, hi):
                x = a[pa + kk * step + j0 : pa + kk * step + j1]
                for j in range(j1 - j0):
                    part[j] = fn(part[j], x[j])
            for j in range(j1 - j0):
                total[j] = fn(total[j], wide(part[j]))
        for j in range(j1 - j0):
            o[j] = total[j]
    else:
        for k in range(n):
            base = pa + k * step
            for j in range(j0, j1):
                out[po + j * so] = fn(out[po + j * so], a[base + j * sa])


@njit(parallel=True, **JIT)
def reduce_columns(out, out_strides, a, a_strides, shape, n, step, block, tasks):
    """Reduce over a dim that is not innermost: tasks are (output row, block of columns) pairs."""
    for t in prange(tasks):
        _reduce_columns_task(out, out_strides, a, a_strides, shape, n, step, block, np.int64(t))


@njit(**JIT)
def reduce_columns_serial(out, out_strides, a, a_strides, shape, n, step, block, tasks):
    for t in range(tasks):
        _reduce_columns_task(out, out_strides, a, a_strides, shape, n, step, block, t)
