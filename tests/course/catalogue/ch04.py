"""Wrong solutions of chapter 04 (fast CPU kernels): each must lose its part's points.

Races between `prange` iterations are caught on every run: the hidden tests read numba's analysis of the
compiled loop for arrays made outside it and written inside (`minitorch_edu.races.shared_writes`), and run
the kernel with a scalar function that holds two threads inside it together (`paired`), so a shared index
buffer is overwritten mid-iteration and a shared output loses updates. The matmul's speed target is at most
0.25x the time of a textbook i-j-r loop timed in the same run (n = 256, one thread for numba and BLAS).
Names ending in `_hidden_only` pass the visible self-check and fail only the hidden tests.
"""

SLUG = "04_fast_cpu"

# the chapter's structure: the learner's loop takes the compiled scalar function `f` as an argument
_MAP = '''
@njit(parallel=True)
def map_loop(out, out_strides, a, a_strides, shape, f):
    n = 1
    for s in shape:
        n *= s
{body}


def tensor_map(fn):
    f = compiled(fn)

    def kernel(out, out_strides, a, a_strides, shape):
        map_loop(out, ints(out_strides), a, ints(a_strides), ints(shape), f)

    return kernel
'''

_ZIP = '''
@njit(parallel=True)
def zip_loop(out, out_strides, a, a_strides, b, b_strides, shape, f):
    n = 1
    for s in shape:
        n *= s
{body}


def tensor_zip(fn):
    f = compiled(fn)

    def kernel(out, out_strides, a, a_strides, b, b_strides, shape):
        zip_loop(out, ints(out_strides), a, ints(a_strides), b, ints(b_strides), ints(shape), f)

    return kernel
'''

_REDUCE = '''
@njit(parallel=True)
def reduce_loop(out, out_strides, a, a_strides, a_shape, dim, f):
    out_shape = a_shape.copy()
    out_shape[dim] = 1
    n = 1
    for s in out_shape:
        n *= s
{body}


def tensor_reduce(fn):
    f = compiled(fn)

    def kernel(out, out_strides, a, a_strides, a_shape, dim):
        reduce_loop(out, ints(out_strides), a, ints(a_strides), ints(a_shape), dim, f)

    return kernel
'''

_MATMUL = '''
@njit(parallel=True)
def _matmul(out, out_strides, a, a_strides, b, b_strides, out_shape, k):
    nd = len(out_shape)
    n, m = out_shape[nd - 2], out_shape[nd - 1]
    batch = 1
    for s in out_shape[: nd - 2]:
        batch *= s
    for row in prange(batch * n):
        index = np.zeros(nd, np.int64)
        to_index(row // n, out_shape[: nd - 2], index[: nd - 2])
        o, a0, b0 = position(index, out_strides), position(index, a_strides), position(index, b_strides)
        i = row % n
{body}


def tensor_matmul(out, out_strides, a, a_strides, b, b_strides, out_shape, k):
    _matmul(out, ints(out_strides), a, ints(a_strides), b, ints(b_strides), ints(out_shape), k)
'''


def _indent(body, spaces):
    return "\n".join((" " * spaces + line) if line.strip() else line for line in body.strip("\n").splitlines())


def _map(body):
    return _MAP.format(body=_indent(body, 4))


def _zip(body):
    return _ZIP.format(body=_indent(body, 4))


def _reduce(body):
    return _REDUCE.format(body=_indent(body, 4))


def _matmul(body):
    return _MATMUL.format(body=_indent(body, 8))


_STRIDED_MAP = """
for i in prange(n):
    index = np.empty(len(shape), np.int64)
    to_index(i, shape, index)
    out[position(index, out_strides)] = f(a[position(index, a_strides)])
"""

_STRIDED_ZIP = """
for i in prange(n):
    index = np.empty(len(shape), np.int64)
    to_index(i, shape, index)
    out[position(index, out_strides)] = f(a[position(index, a_strides)], b[position(index, b_strides)])
"""

WRONG = {
    "tensor_map": {
        # contiguous only: always the flat loop, strides ignored
        "contiguous_only": _map("""
for i in prange(n):
    out[i] = f(a[i])
"""),
        # fast path whenever out is contiguous: wrong for broadcast (stride 0) and permuted inputs
        "fast_path_without_input_check": _map("""
if is_contiguous(out_strides, shape):
    for i in prange(n):
        out[i] = f(a[i])
else:
""" + _indent(_STRIDED_MAP, 4)),
        # fast path when the strides are equal, without checking they are contiguous
        "equal_strides_taken_as_contiguous_hidden_only": _map("""
if (out_strides == a_strides).all():
    for i in prange(n):
        out[i] = f(a[i])
else:
""" + _indent(_STRIDED_MAP, 4)),
        # off by one: the last element is never written
        "loop_stops_one_short": _map("""
for i in prange(n - 1):
    index = np.empty(len(shape), np.int64)
    to_index(i, shape, index)
    out[position(index, out_strides)] = f(a[position(index, a_strides)])
"""),
        # a race: one index array for the whole strided loop, shared by the threads; one thread overwrites
        # it between the other's to_index and position. Right on one thread and often on two (it passed
        # one run in four); the hidden tests hold the threads inside fn together, so it fails every run
        "index_buffer_shared_across_threads_hidden_only": _map("""
if is_contiguous(out_strides, shape) and (out_strides == a_strides).all():
    for i in prange(n):
        out[i] = f(a[i])
else:
    index = np.empty(len(shape), np.int64)
    for i in prange(n):
        to_index(i, shape, index)
        out[position(index, out_strides)] = f(a[position(index, a_strides)])
"""),
        "delegates_to_numba_cpu": """
def tensor_map(fn):
    import minitorch_edu.backends.numba.cpu as numba_cpu
    return numba_cpu.tensor_map(fn)
""",
        "delegates_through_a_backend": """
def tensor_map(fn):
    backend = mt.get_backend("numba")

    def kernel(out, out_strides, a, a_strides, shape):
        backend.map(fn)(out, out_strides, a, a_strides, shape)

    return kernel
""",
    },
    "tensor_zip": {
        "contiguous_only": _zip("""
for i in prange(n):
    out[i] = f(a[i], b[i])
"""),
        # the missing stride check: broadcast b takes the flat loop
        "fast_path_ignores_b_strides": _zip("""
if is_contiguous(out_strides, shape) and (out_strides == a_strides).all():
    for i in prange(n):
        out[i] = f(a[i], b[i])
else:
""" + _indent(_STRIDED_ZIP, 4)),
        # b read with a's strides in the strided loop (right whenever both are laid out alike)
        "b_read_with_a_strides": _zip("""
for i in prange(n):
    index = np.empty(len(shape), np.int64)
    to_index(i, shape, index)
    out[position(index, out_strides)] = f(a[position(index, a_strides)], b[position(index, a_strides)])
"""),
        # the fast path checks a and b, forgets out: wrong for a non-contiguous output
        "fast_path_checks_only_a_and_b_hidden_only": _zip("""
if (a_strides == b_strides).all() and is_contiguous(a_strides, shape):
    for i in prange(n):
        out[i] = f(a[i], b[i])
else:
""" + _indent(_STRIDED_ZIP, 4)),
        # the same race in zip: an index array shared by the threads of the strided loop
        "index_buffer_shared_across_threads_hidden_only": _zip("""
if is_contiguous(out_strides, shape) and (out_strides == a_strides).all() and (out_strides == b_strides).all():
    for i in prange(n):
        out[i] = f(a[i], b[i])
else:
    index = np.empty(len(shape), np.int64)
    for i in prange(n):
        to_index(i, shape, index)
        out[position(index, out_strides)] = f(a[position(index, a_strides)], b[position(index, b_strides)])
"""),
        "delegates_to_numba_cpu": """
def tensor_zip(fn):
    from minitorch_edu.backends.numba import cpu as numba_cpu
    return numba_cpu.tensor_zip(fn)
""",
        "delegates_through_a_backend": """
def tensor_zip(fn):
    return mt.get_backend("numba").zip(fn)
""",
    },
    "tensor_reduce": {
        # prange over the reduced dim: the iterations race on out[o]; here each one writes its own
        # fold of the start value and one element, so the last write wins (the lost-update extreme)
        "race_over_reduced_dim": _reduce("""
for i in range(n):
    index = np.empty(len(a_shape), np.int64)
    to_index(i, out_shape, index)
    o = position(index, out_strides)
    start = position(index, a_strides)
    first = out[o]
    for j in prange(a_shape[dim]):
        out[o] = f(first, a[start + j * a_strides[dim]])
"""),
        # a real lost-update race: prange over the reduced dim, each iteration reads out[o], folds in one
        # element and writes it back; two threads inside the same output's fold overwrite each other's
        # additions. Rejected by the hidden tests, which hold two threads inside fn together (`paired`)
        "lost_update_race_over_reduced_dim": _reduce("""
for i in range(n):
    index = np.empty(len(a_shape), np.int64)
    to_index(i, out_shape, index)
    o = position(index, out_strides)
    start = position(index, a_strides)
    for j in prange(a_shape[dim]):
        out[o] = f(out[o], a[start + j * a_strides[dim]])
"""),
        # starts from 0 instead of the start value held in out
        "ignores_start_value": _reduce("""
for i in prange(n):
    index = np.empty(len(a_shape), np.int64)
    to_index(i, out_shape, index)
    o = position(index, out_strides)
    start = position(index, a_strides)
    acc = 0.0
    for j in range(a_shape[dim]):
        acc = f(acc, a[start + j * a_strides[dim]])
    out[o] = acc
"""),
        # steps through the reduced dim with stride 1, as if it were always the last, contiguous dim
        "reduced_dim_assumed_contiguous": _reduce("""
for i in prange(n):
    index = np.empty(len(a_shape), np.int64)
    to_index(i, out_shape, index)
    o = position(index, out_strides)
    start = position(index, a_strides)
    acc = out[o]
    for j in range(a_shape[dim]):
        acc = f(acc, a[start + j])
    out[o] = acc
"""),
        # off by one: the last element of the reduced dim is skipped
        "skips_last_element": _reduce("""
for i in prange(n):
    index = np.empty(len(a_shape), np.int64)
    to_index(i, out_shape, index)
    o = position(index, out_strides)
    start = position(index, a_strides)
    acc = out[o]
    for j in range(a_shape[dim] - 1):
        acc = f(acc, a[start + j * a_strides[dim]])
    out[o] = acc
"""),
        # the same race in reduce: prange over the outputs, but one index array for all of them
        "index_buffer_shared_across_threads_hidden_only": _reduce("""
index = np.empty(len(a_shape), np.int64)
for i in prange(n):
    to_index(i, out_shape, index)
    o = position(index, out_strides)
    start = position(index, a_strides)
    acc = out[o]
    for j in range(a_shape[dim]):
        acc = f(acc, a[start + j * a_strides[dim]])
    out[o] = acc
"""),
        "delegates_to_numba_cpu": """
def tensor_reduce(fn):
    import minitorch_edu.backends.numba.cpu as numba_cpu
    return numba_cpu.tensor_reduce(fn)
""",
        "delegates_through_a_backend": """
def tensor_reduce(fn):
    return mt.get_backend("numba").reduce(fn)
""",
    },
    "tensor_matmul": {
        # b read transposed: b[j, r] instead of b[r, j]
        "transposed_b_index": _matmul("""
o += i * out_strides[nd - 2]
a0 += i * a_strides[nd - 2]
for j in range(m):
    out[o + j * out_strides[nd - 1]] = 0.0
for r in range(k):
    air = a[a0 + r * a_strides[nd - 1]]
    for j in range(m):
        out[o + j * out_strides[nd - 1]] += air * b[b0 + j * b_strides[nd - 2] + r * b_strides[nd - 1]]
"""),
        # off by one: the inner product stops one short
        "inner_loop_one_short": _matmul("""
o += i * out_strides[nd - 2]
a0 += i * a_strides[nd - 2]
for j in range(m):
    out[o + j * out_strides[nd - 1]] = 0.0
for r in range(k - 1):
    air = a[a0 + r * a_strides[nd - 1]]
    for j in range(m):
        out[o + j * out_strides[nd - 1]] += air * b[b0 + r * b_strides[nd - 2] + j * b_strides[nd - 1]]
"""),
        # contiguous only: row-major positions computed from the sizes, strides ignored
        "contiguous_only_hidden_only": _matmul("""
acc = np.zeros(m, out.dtype)
for r in range(k):
    air = a[row * k + r]
    start = (row // n) * k * m + r * m
    b_row = b[start : start + m]
    for j in range(m):
        acc[j] += air * b_row[j]
for j in range(m):
    out[row * m + j] = acc[j]
"""),
        # never zeroes out: accumulates onto whatever was there
        "forgets_to_zero_out": _matmul("""
o += i * out_strides[nd - 2]
a0 += i * a_strides[nd - 2]
for r in range(k):
    air = a[a0 + r * a_strides[nd - 1]]
    for j in range(m):
        out[o + j * out_strides[nd - 1]] += air * b[b0 + r * b_strides[nd - 2] + j * b_strides[nd - 1]]
"""),
        # correct, but not compiled: the chapter-03 Python loop misses the speed target
        "not_compiled": """
def tensor_matmul(out, out_strides, a, a_strides, b, b_strides, out_shape, k):
    nd = len(out_shape)
    n, m = out_shape[-2], out_shape[-1]
    batch = 1
    for s in out_shape[:-2]:
        batch *= s
    for row in range(batch * n):
        bidx = np.unravel_index(row // n, out_shape[:-2]) if nd > 2 else ()
        o = sum(x * s for x, s in zip(bidx, out_strides)) + (row % n) * out_strides[-2]
        a0 = sum(x * s for x, s in zip(bidx, a_strides)) + (row % n) * a_strides[-2]
        b0 = sum(x * s for x, s in zip(bidx, b_strides))
        for j in range(m):
            acc = 0.0
            for r in range(k):
                acc += a[a0 + r * a_strides[-1]] * b[b0 + r * b_strides[-2] + j * b_strides[-1]]
            out[o + j * out_strides[-1]] = acc
""",
        # compiled and right, but it builds index arrays for every term: the allocations in the innermost
        # loop make it far slower than the speed target allows
        "index_arrays_per_term": _matmul("""
o += i * out_strides[nd - 2]
for j in range(m):
    acc = 0.0
    for r in range(k):
        ia = np.zeros(nd, np.int64)
        ib = np.zeros(nd, np.int64)
        ia[nd - 2], ia[nd - 1], ib[nd - 2], ib[nd - 1] = i, r, r, j
        acc += a[a0 + position(ia[nd - 2:], a_strides[nd - 2:])] * b[b0 + position(ib[nd - 2:], b_strides[nd - 2:])]
    out[o + j * out_strides[nd - 1]] = acc
"""),
        # the textbook i-j-r order, compiled: right, but its inner loop walks down a column of b, a jump of a
        # whole row per step; at n = 256 on one thread it takes about the time of the i-j-r baseline (1x),
        # and the target is at most 0.25x
        "textbook_ijr_order": _matmul("""
o += i * out_strides[nd - 2]
a0 += i * a_strides[nd - 2]
for j in range(m):
    acc = 0.0
    for r in range(k):
        acc += a[a0 + r * a_strides[nd - 1]] * b[b0 + r * b_strides[nd - 2] + j * b_strides[nd - 1]]
    out[o + j * out_strides[nd - 1]] = acc
"""),
        # the i-r-j order, but every read of b goes through b_strides[-1] and every update through out: the
        # compiler cannot vectorise it (measured 0.6-0.9x the i-j-r time at n = 256, one thread)
        "irj_through_strides_not_vectorised": _matmul("""
o += i * out_strides[nd - 2]
a0 += i * a_strides[nd - 2]
for j in range(m):
    out[o + j * out_strides[nd - 1]] = 0.0
for r in range(k):
    air = a[a0 + r * a_strides[nd - 1]]
    br = b0 + r * b_strides[nd - 2]
    for j in range(m):
        out[o + j * out_strides[nd - 1]] += air * b[br + j * b_strides[nd - 1]]
"""),
        # the timing baseline of the tests cell, called as the solution: right for contiguous operands, and
        # exactly as slow as the baseline
        "calls_the_textbook_baseline": """
def tensor_matmul(out, out_strides, a, a_strides, b, b_strides, out_shape, k):
    textbook_matmul(out, out_strides, a, a_strides, b, b_strides, out_shape, k)
""",
        "delegates_to_numba_matmul": """
def tensor_matmul(out, out_strides, a, a_strides, b, b_strides, out_shape, k):
    from minitorch_edu.backends.numba import matmul as numba_matmul
    numba_matmul.matmul(out, out_strides, a, a_strides, b, b_strides, out_shape, k)
""",
        "delegates_through_a_backend": """
def tensor_matmul(out, out_strides, a, a_strides, b, b_strides, out_shape, k):
    mt.get_backend("numba").matmul(out, out_strides, a, a_strides, b, b_strides, out_shape, k)
""",
    },
}
