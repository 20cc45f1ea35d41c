"""Wrong solutions of chapter 05 (numba.cuda kernels): each must lose its part's points.

They run in numba's CUDA simulator, which raises IndexError on an out-of-bounds access (a real GPU would
read garbage). The races (a missing `cuda.syncthreads()`) are caught deterministically: the chapter's tests
launch the shared-memory kernels in `in_thread_order()`, one thread at a time up to its next barrier.
A barrier that only some threads of a block reach (a `syncthreads()` inside an `if`) is refused there
(`DivergentBarrierError`). The block sum and the device reduction are also launched with
`in_thread_order(turns_at_global_memory=True)`, where the threads
take turns at every read and write of a device array: then threads that add into one slot at the same
time (a read-modify-write without an atomic) lose additions, deterministically, as on a GPU.
Names ending in `_hidden_only` pass the visible self-check and fail only the hidden tests.
"""

SLUG = "05_gpu"

_MAP = '''
def map_kernel(fn):
    f = cuda.jit(device=True)(fn)

    @cuda.jit
    def kernel(out, a, n):
{body}

    return kernel
'''

_BLOCKS = '''
def blocks_for(n, threads):
    return {blocks}
'''

_ZIP = '''
def zip_kernel(fn):
    f = cuda.jit(device=True)(fn)

    @cuda.jit
    def kernel(out, a, b, n):
{body}

    return kernel
'''

_SUM = '''
def block_sum_kernel(tpb):
    @cuda.jit
    def kernel(out, a, n):
        cache = cuda.shared.array(tpb, numba.float64)
        t = cuda.threadIdx.x
        i = cuda.blockIdx.x * tpb + t
{load}
        cuda.syncthreads()
{tree}
        if t == 0:
            out[cuda.blockIdx.x] = cache[0]

    return kernel
'''

_GOOD_LOAD = "cache[t] = a[i] if i < n else 0.0"
_GOOD_TREE = """
stride = tpb // 2
while stride > 0:
    if t < stride:
        cache[t] += cache[t + stride]
    cuda.syncthreads()
    stride //= 2
"""

_MATMUL = '''
def tiled_matmul_kernel(tpb):
    @cuda.jit
    def kernel(out, a, b, M, K, N):
        a_tile = cuda.shared.array((tpb, tpb), numba.float64)
        b_tile = cuda.shared.array((tpb, tpb), numba.float64)
        tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
        i = cuda.blockIdx.y * tpb + ty
        j = cuda.blockIdx.x * tpb + tx
        acc = 0.0
        for start in range(0, {k_end}, tpb):
{loads}
            cuda.syncthreads()
            for r in range(tpb):
                acc += {product}
            cuda.syncthreads()
        if {write_check}:
            out[i, j] = acc

    return kernel
'''

_GOOD_LOADS = """
a_tile[ty, tx] = a[i, start + tx] if i < M and start + tx < K else 0.0
b_tile[ty, tx] = b[start + ty, j] if start + ty < K and j < N else 0.0
"""


def _indent(text: str, spaces: int) -> str:
    return "\n".join(" " * spaces + line if line.strip() else line for line in text.strip("\n").splitlines())


def _map(body: str) -> str:
    return _MAP.format(body=_indent(body, 8))


def _zip(body: str = "i = cuda.grid(1)\nif i < n:\n    out[i] = f(a[i], b[i])",
         blocks: str = "(n + threads - 1) // threads") -> str:
    return _BLOCKS.format(blocks=blocks) + _ZIP.format(body=_indent(body, 8))


def _sum(load: str = _GOOD_LOAD, tree: str = _GOOD_TREE) -> str:
    return _SUM.format(load=_indent(load, 8), tree=_indent(tree, 8))


def _matmul(loads: str = _GOOD_LOADS, product: str = "a_tile[ty, r] * b_tile[r, tx]",
            write_check: str = "i < M and j < N", k_end: str = "K") -> str:
    return _MATMUL.format(loads=_indent(loads, 12), product=product, write_check=write_check, k_end=k_end)


WRONG = {
    "map_kernel": {
        # one thread per element and no bounds check: the threads past n write out of bounds
        "no_bounds_check": _map("""
i = cuda.grid(1)
while True:
    out[i] = f(a[i])
    i += cuda.gridsize(1)
    if i >= n:
        break
"""),
        # the loop steps by the grid but never checks n for the first element of a thread
        "checks_after_write": _map("""
i = cuda.grid(1)
out[i] = f(a[i])
"""),
        # one element per thread: right only when the launch has a thread for every element
        "no_grid_stride_loop": _map("""
i = cuda.grid(1)
if i < n:
    out[i] = f(a[i])
"""),
        # the thread's number ignores its block: every block does block 0's elements
        "thread_index_only": _map("""
for i in range(cuda.threadIdx.x, n, cuda.blockDim.x * cuda.gridDim.x):
    out[i] = f(a[i])
"""),
        # stops at len(out), not n (the visible outputs have length n)
        "stops_at_len_out_hidden_only": _map("""
for i in range(cuda.grid(1), out.shape[0], cuda.gridsize(1)):
    out[i] = f(a[i])
"""),
        "delegates_to_reference": """
def map_kernel(fn):
    from minitorch_edu.backends.cuda import kernels as cuda_kernels
    return cuda_kernels.map_kernels(fn)[0]
""",
        "delegates_to_package_copy": """
def map_kernel(fn):
    import minitorch_edu.backends.cuda.kernels as ck
    flat, _ = ck.map_kernels(fn)
    return flat
""",
    },
    "zip_kernel": {
        # the block count rounds down: the last partial block's elements stay NaN
        "blocks_round_down": _zip(blocks="n // threads"),
        # no bounds check: the last block's threads past n write out of bounds
        "no_bounds_check": _zip(body="i = cuda.grid(1)\nout[i] = f(a[i], b[i])"),
        # the operands swapped: right for + and *, wrong for -
        "operands_swapped": _zip(body="i = cuda.grid(1)\nif i < n:\n    out[i] = f(b[i], a[i])"),
        # one extra block always: right counts for the visible non-multiple, wrong for exact multiples
        "blocks_plus_one": _zip(blocks="n // threads + 1"),
        # bounds check against len(out): the visible outputs have length n
        "checks_len_out_hidden_only": _zip(body="i = cuda.grid(1)\nif i < out.shape[0]:\n    out[i] = f(a[i], b[i])"),
        # the thread's number ignores its block
        "thread_index_only": _zip(body="i = cuda.threadIdx.x\nif i < n:\n    out[i] = f(a[i], b[i])"),
        "delegates_to_reference": _BLOCKS.format(blocks="(n + threads - 1) // threads") + """
def zip_kernel(fn):
    from minitorch_edu.backends.cuda import kernels as cuda_kernels
    return cuda_kernels.zip_kernels(fn)[0]
""",
    },
    "block_sum_kernel": {
        # the tree starts at stride tpb: thread t reads cache[t + tpb], outside the shared array
        "stride_starts_at_tpb": _sum(tree="""
stride = tpb
while stride > 0:
    if t < stride:
        cache[t] += cache[t + stride]
    cuda.syncthreads()
    stride //= 2
"""),
        # the tree starts at tpb // 4: half of each block is never added
        "stride_starts_too_small": _sum(tree="""
stride = tpb // 4
while stride > 0:
    if t < stride:
        cache[t] += cache[t + stride]
    cuda.syncthreads()
    stride //= 2
"""),
        # a race: no syncthreads between steps, so a thread reads a slot its neighbour has not added to yet.
        # The tests launch inside the chapter's `in_thread_order()`: each thread runs alone up to its next
        # barrier, thread 0 first, so thread 0 reads cache[2] before thread 2 has added cache[6] into it,
        # on every run (the simulator's own schedule releases a barrier's threads in set order)
        "no_sync_in_tree": _sum(tree="""
stride = tpb // 2
while stride > 0:
    if t < stride:
        cache[t] += cache[t + stride]
    stride //= 2
"""),
        # a race: the tree starts before every thread has loaded its element
        "no_sync_after_load": _SUM.replace("        cuda.syncthreads()\n{tree}", "{tree}").format(
            load=_indent(_GOOD_LOAD, 8), tree=_indent(_GOOD_TREE, 8)),
        # a race on global memory: every thread adds its element into its block's slot of out (no tree, no
        # atomic); on a GPU the threads read the slot together and all but one addition is lost
        "adds_into_global_slot": """
def block_sum_kernel(tpb):
    @cuda.jit
    def kernel(out, a, n):
        t = cuda.threadIdx.x
        i = cuda.blockIdx.x * tpb + t
        if t == 0:
            out[cuda.blockIdx.x] = 0.0
        cuda.syncthreads()
        if i < n:
            out[cuda.blockIdx.x] += a[i]

    return kernel
""",
        # the same race in shared memory: every thread adds its element into cache[0]
        "adds_into_shared_slot": """
def block_sum_kernel(tpb):
    @cuda.jit
    def kernel(out, a, n):
        cache = cuda.shared.array(tpb, numba.float64)
        t = cuda.threadIdx.x
        i = cuda.blockIdx.x * tpb + t
        if t == 0:
            cache[0] = 0.0
        cuda.syncthreads()
        cache[0] += a[i] if i < n else 0.0
        cuda.syncthreads()
        if t == 0:
            out[cuda.blockIdx.x] = cache[0]

    return kernel
""",
        # a barrier only some threads reach: syncthreads() inside the `if`, so threads t >= stride skip it
        # and finish while the others wait. It gives the right sum in numba's own simulator schedule; on a
        # GPU it hangs or corrupts the block. `in_thread_order` refuses it (DivergentBarrierError)
        "syncthreads_inside_if": _sum(tree="""
stride = tpb // 2
while stride > 0:
    if t < stride:
        cache[t] += cache[t + stride]
        cuda.syncthreads()
    stride //= 2
"""),
        # the stride shrinks by one, not by half: partial sums are added twice
        "stride_minus_one": _sum(tree="""
stride = tpb // 2
while stride > 0:
    if t < stride:
        cache[t] += cache[t + stride]
    cuda.syncthreads()
    stride -= 1
"""),
        # no bounds check on the load: the last block reads past n
        "load_without_bounds_check": _sum(load="cache[t] = a[i]"),
        # past n the slot is padded with the last element instead of 0 (the sum's identity)
        "pads_with_last_element": _sum(load="cache[t] = a[i] if i < n else a[n - 1]"),
        # every thread adds unconditionally: threads t >= stride read outside the shared array
        "no_active_thread_check": _sum(tree="""
stride = tpb // 2
while stride > 0:
    cache[t] += cache[t + stride]
    cuda.syncthreads()
    stride //= 2
"""),
        # the stride halves correctly only for tpb = 8 (hard-coded three steps): visible uses tpb = 8
        "three_steps_hidden_only": _sum(tree="""
for stride in (4, 2, 1):
    if t < stride:
        cache[t] += cache[t + stride]
    cuda.syncthreads()
"""),
        "delegates_to_reference": """
def block_sum_kernel(tpb):
    from minitorch_edu.backends.cuda import kernels as cuda_kernels
    return cuda_kernels.reduce_kernel(lambda x, y: x + y, np.float64)
""",
    },
    "tiled_matmul_kernel": {
        # tile loads without bounds checks: read outside a and b when sizes are not multiples of tpb
        "loads_without_bounds_check": _matmul(loads="""
a_tile[ty, tx] = a[i, start + tx]
b_tile[ty, tx] = b[start + ty, j]
"""),
        # the write is not checked: threads past the edge write outside out
        "write_without_bounds_check": _matmul(write_check="True"),
        # the inner product reads b's tile transposed
        "transposed_b_tile": _matmul(product="a_tile[ty, r] * b_tile[tx, r]"),
        # a's tile loaded transposed (a[start + tx, i]): wrong values, or out of bounds
        "transposed_a_load": _matmul(loads="""
a_tile[ty, tx] = a[start + tx, i] if start + tx < M and i < K else 0.0
b_tile[ty, tx] = b[start + ty, j] if start + ty < K and j < N else 0.0
"""),
        # a barrier only some threads reach: the threads outside out skip the tile loop's syncthreads
        "syncthreads_inside_bounds_check": _MATMUL.replace(
            "        for start in range(0, {k_end}, tpb):\n",
            "        for start in range(0, {k_end} if i < M and j < N else 0, tpb):\n",
        ).format(loads=_indent(_GOOD_LOADS, 12), product="a_tile[ty, r] * b_tile[r, tx]",
                 write_check="i < M and j < N", k_end="K"),
        # a race: no syncthreads after the products, so a fast thread loads the next tile over the one
        # its neighbours are still reading
        "no_sync_before_next_tile": _MATMUL.replace(
            "                acc += {product}\n            cuda.syncthreads()\n", "                acc += {product}\n"
        ).format(loads=_indent(_GOOD_LOADS, 12), product="a_tile[ty, r] * b_tile[r, tx]",
                 write_check="i < M and j < N", k_end="K"),
        # only the first tile of K
        "one_tile_only": _matmul(k_end="tpb"),
        # checks the columns against M: right for the visible (6, 5) @ (5, 6), wrong when M != N
        "columns_checked_against_m_hidden_only": _matmul(loads="""
a_tile[ty, tx] = a[i, start + tx] if i < M and start + tx < K else 0.0
b_tile[ty, tx] = b[start + ty, j] if start + ty < K and j < M else 0.0
""", write_check="i < M and j < M"),
        # the old mapping, threadIdx.x down the rows: right, but each warp's loads and stores hit a different
        # row per thread, 32 pieces of memory instead of a few (not coalesced); the grid is then (rows, cols)
        # and the tests' launch, x along the columns, leaves outputs unwritten or reads out of bounds
        "thread_x_along_rows": _MATMUL.replace(
            "        i = cuda.blockIdx.y * tpb + ty\n        j = cuda.blockIdx.x * tpb + tx\n",
            "        i = cuda.blockIdx.x * tpb + tx\n        j = cuda.blockIdx.y * tpb + ty\n",
        ).format(loads="""            a_tile[tx, ty] = a[i, start + ty] if i < M and start + ty < K else 0.0
            b_tile[tx, ty] = b[start + tx, j] if start + tx < K and j < N else 0.0""",
                 product="a_tile[tx, r] * b_tile[r, ty]", write_check="i < M and j < N", k_end="K"),
        "delegates_to_reference": """
def tiled_matmul_kernel(tpb):
    from minitorch_edu.backends.cuda import matmul as cuda_matmul
    return cuda_matmul.matmul_registers(tpb)
""",
    },
}


# the reference launchers of sections 8 and 9, with one piece swapped for a mistake
_DEVICE = """
def device_map(fn):
    f = cuda.jit(device=True)(fn)

    @cuda.jit
    def kernel(out, out_strides, a, a_strides, shape, n):
{map_loop}

    def launch(out, out_strides, a, a_strides, shape):
{map_launch}

    return launch


def device_zip(fn):
    f = cuda.jit(device=True)(fn)

    @cuda.jit
    def kernel(out, out_strides, a, a_strides, b, b_strides, shape, n):
{zip_loop}

    def launch(out, out_strides, a, a_strides, b, b_strides, shape):
{zip_launch}

    return launch
"""

_MAP_LOOP = """
for i in range(cuda.grid(1), n, cuda.gridsize(1)):
    rest, po, pa = i, 0, 0
    for d in range(len(shape) - 1, -1, -1):
        index = rest % shape[d]
        rest //= shape[d]
        po += index * out_strides[d]
        pa += index * a_strides[d]
    out[po] = f(a[pa])
"""
_MAP_LAUNCH = """
if not (on_device(out) and on_device(a)):
    raise TypeError("device arrays only")
kernel[GRID](out, out_strides, a, a_strides, shape, size_of(shape))
"""
_ZIP_LOOP = """
for i in range(cuda.grid(1), n, cuda.gridsize(1)):
    rest, po, pa, pb = i, 0, 0, 0
    for d in range(len(shape) - 1, -1, -1):
        index = rest % shape[d]
        rest //= shape[d]
        po += index * out_strides[d]
        pa += index * a_strides[d]
        pb += index * b_strides[d]
    out[po] = f(a[pa], b[pb])
"""
_ZIP_LAUNCH = """
if not (on_device(out) and on_device(a) and on_device(b)):
    raise TypeError("device arrays only")
kernel[GRID](out, out_strides, a, a_strides, b, b_strides, shape, size_of(shape))
"""


def _device(map_loop: str = _MAP_LOOP, map_launch: str = _MAP_LAUNCH, zip_loop: str = _ZIP_LOOP,
            zip_launch: str = _ZIP_LAUNCH) -> str:
    return _DEVICE.format(map_loop=_indent(map_loop, 8), map_launch=_indent(map_launch, 8),
                          zip_loop=_indent(zip_loop, 8), zip_launch=_indent(zip_launch, 8))


_REDUCE = """
def device_reduce(fn):
    f = cuda.jit(device=True)(fn)

    @cuda.jit
    def kernel(out, out_strides, a, a_strides, out_shape, dim, size, n):
{loop}

    def launch(out, out_strides, a, a_strides, a_shape, dim):
{launch}

    return launch
"""
_REDUCE_LOOP = """
for i in range(cuda.grid(1), n, cuda.gridsize(1)):
    rest, po, pa = i, 0, 0
    for d in range(len(out_shape) - 1, -1, -1):
        index = rest % out_shape[d]
        rest //= out_shape[d]
        po += index * out_strides[d]
        pa += index * a_strides[d]
    acc = {start}
    for j in range(size):
        acc = f(acc, a[pa + j * {step}])
    out[{write}] = acc
"""
_REDUCE_LAUNCH = """
if not (on_device(out) and on_device(a)):
    raise TypeError("device arrays only")
out_shape = tuple(a_shape[:dim]) + (1,) + tuple(a_shape[dim + 1:])
kernel[GRID](out, out_strides, a, a_strides, out_shape, dim, a_shape[dim], size_of(out_shape))
"""


def _reduce(start: str = "out[po]", step: str = "a_strides[dim]", write: str = "po", loop: str | None = None,
            launch: str = _REDUCE_LAUNCH) -> str:
    body = loop if loop is not None else _REDUCE_LOOP.format(start=start, step=step, write=write)
    return _REDUCE.format(loop=_indent(body, 8), launch=_indent(launch, 8))


WRONG["device_map_zip"] = {
    # right values, but every launch goes through the host: download, compute there, upload the result
    "copies_through_the_host": _device(map_launch="""
if not (on_device(out) and on_device(a)):
    raise TypeError("device arrays only")
host_out, host_a = out.copy_to_host(), a.copy_to_host()
kernel[GRID](host_out, out_strides, host_a, a_strides, shape, size_of(shape))
out.copy_to_device(host_out)
"""),
    # the operands are uploaded "to be sure" on every call: two copies per launch (a real GPU pays them)
    "uploads_operands_again": _device(zip_launch="""
if not (on_device(out) and on_device(a) and on_device(b)):
    raise TypeError("device arrays only")
a_d, b_d = cuda.to_device(a.copy_to_host()), cuda.to_device(b.copy_to_host())
kernel[GRID](out, out_strides, a_d, a_strides, b_d, b_strides, shape, size_of(shape))
"""),
    # no check of the operands: a NumPy array is accepted (and on a GPU silently copied both ways)
    "accepts_host_arrays": _device(map_launch="kernel[GRID](out, out_strides, a, a_strides, shape, size_of(shape))",
                                   zip_launch="kernel[GRID](out, out_strides, a, a_strides, b, b_strides, shape, "
                                              "size_of(shape))"),
    # contiguous only: the ordinal is used as the position, so transposes and broadcasts are wrong
    "ignores_strides": _device(map_loop="""
for i in range(cuda.grid(1), n, cuda.gridsize(1)):
    out[i] = f(a[i])
""", zip_loop="""
for i in range(cuda.grid(1), n, cuda.gridsize(1)):
    out[i] = f(a[i], b[i])
"""),
    # b's position taken with out's strides: right without broadcasting, wrong for a stride-0 operand
    "b_at_out_position": _device(
        zip_loop=_ZIP_LOOP.replace("pb += index * b_strides[d]", "pb += index * out_strides[d]")
    ),
    # out written at the ordinal: right for a contiguous out (the visible checks), wrong for a strided one
    "out_assumed_contiguous_hidden_only": _device(
        map_loop=_MAP_LOOP.replace("out[po] = f(a[pa])", "out[i] = f(a[pa])")
    ),
    # the result goes into a new device array, which the caller never sees: out stays unwritten
    "writes_a_new_array": _device(map_launch="""
if not (on_device(out) and on_device(a)):
    raise TypeError("device arrays only")
result = cuda.device_array_like(out)
kernel[GRID](result, out_strides, a, a_strides, shape, size_of(shape))
return result
"""),
    # one element per thread and no loop: only the first gridsize elements are written
    "no_grid_stride_loop": _device(map_loop="""
i = cuda.grid(1)
if i < n:
    rest, po, pa = i, 0, 0
    for d in range(len(shape) - 1, -1, -1):
        index = rest % shape[d]
        rest //= shape[d]
        po += index * out_strides[d]
        pa += index * a_strides[d]
    out[po] = f(a[pa])
"""),
    # the out position taken with a's strides: right while out and a have the same layout
    "out_at_a_position": _device(map_loop=_MAP_LOOP.replace("out[po] = f(a[pa])", "out[pa] = f(a[pa])")),
    "delegates_to_reference": """
def device_map(fn):
    from minitorch_edu.backends.cuda import backend as package_cuda
    return package_cuda.tensor_map(fn)


def device_zip(fn):
    from minitorch_edu.backends.cuda import backend as package_cuda
    return package_cuda.tensor_zip(fn)
""",
}

WRONG["device_reduce"] = {
    # a race: one thread per input element, each folding its element into its output, out[p] = f(out[p], x).
    # Threads of the same output read it together and write it back one after the other: all but one update
    # is lost. numba's own simulator schedule ran them one after the other, so it passed; the tests now
    # launch with the threads taking turns at every access to global memory
    "one_thread_per_input_element": _reduce(loop="""
for e in range(cuda.grid(1), n * size, cuda.gridsize(1)):
    i, j = e // size, e % size
    rest, po, pa = i, 0, 0
    for d in range(len(out_shape) - 1, -1, -1):
        index = rest % out_shape[d]
        rest //= out_shape[d]
        po += index * out_strides[d]
        pa += index * a_strides[d]
    out[po] = f(out[po], a[pa + j * a_strides[dim]])
"""),
    # the fold starts from 0 instead of the start value in out: wrong for a max of negative numbers
    "starts_from_zero": _reduce(start="0.0"),
    # the elements of one output are taken as adjacent (step 1): right only along the last, contiguous dim
    "steps_by_one": _reduce(step="1"),
    # right values, computed on the host and uploaded
    "reduces_on_the_host": _reduce(launch="""
if not (on_device(out) and on_device(a)):
    raise TypeError("device arrays only")
out_shape = tuple(a_shape[:dim]) + (1,) + tuple(a_shape[dim + 1:])
host_out, host_a = out.copy_to_host(), a.copy_to_host()
kernel[GRID](host_out, out_strides, host_a, a_strides, out_shape, dim, a_shape[dim], size_of(out_shape))
out.copy_to_device(host_out)
"""),
    # the output written at its ordinal, not at its position from out_strides: wrong for a strided out
    "ignores_out_strides_hidden_only": _reduce(write="i"),
    # one output per thread without the grid-stride loop: outputs past the grid's threads stay unwritten
    "no_grid_stride_loop_hidden_only": _reduce(loop=_REDUCE_LOOP.format(start="out[po]", step="a_strides[dim]",
                                                                         write="po").replace(
        "for i in range(cuda.grid(1), n, cuda.gridsize(1)):", "i = cuda.grid(1)\nif i < n:")),
    # no check of the operands: a NumPy out is accepted
    "accepts_host_arrays": _reduce(launch="""
out_shape = tuple(a_shape[:dim]) + (1,) + tuple(a_shape[dim + 1:])
kernel[GRID](out, out_strides, a, a_strides, out_shape, dim, a_shape[dim], size_of(out_shape))
"""),
    "delegates_to_reference": """
def device_reduce(fn):
    from minitorch_edu.backends.cuda import backend as package_cuda
    return package_cuda.tensor_reduce(fn)
""",
}

_TRANSPOSE = '''
TILE, ROWS = 32, 8


def transpose_kernel():
    @cuda.jit
    def kernel(out, a, rows, cols):
        tile = cuda.shared.array({tile_shape}, numba.float32)
        tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
        row0, col0 = cuda.blockIdx.y * TILE, cuda.blockIdx.x * TILE
        for k in range(0, TILE, ROWS):
            if {load_check}:
                tile[ty + k, tx] = a[row0 + ty + k, col0 + tx]
{sync}
        for k in range(0, TILE, ROWS):
            if col0 + ty + k < cols and row0 + tx < rows:
                out[col0 + ty + k, row0 + tx] = tile[tx, ty + k]

    return kernel
'''


def _transpose(tile_shape: str = "(TILE, TILE + 1)", load_check: str = "row0 + ty + k < rows and col0 + tx < cols",
               sync: str = "        cuda.syncthreads()") -> str:
    return _TRANSPOSE.format(tile_shape=tile_shape, load_check=load_check, sync=sync)


WRONG["transpose_kernel"] = {
    # one thread per element, no tile: the loads are coalesced, the stores write a different row of out per
    # thread (32 sectors per request where 4 would do); the result is right
    "naive_strided_stores": """
TILE, ROWS = 32, 8


def transpose_kernel():
    @cuda.jit
    def kernel(out, a, rows, cols):
        col = cuda.blockIdx.x * TILE + cuda.threadIdx.x
        for k in range(0, TILE, ROWS):
            row = cuda.blockIdx.y * TILE + cuda.threadIdx.y + k
            if row < rows and col < cols:
                out[col, row] = a[row, col]

    return kernel
""",
    # the tile without padding: a warp reads a column of a 32-wide float32 tile, all in one bank
    # (31 extra passes per request); the result is right
    "unpadded_tile_bank_conflicts": _transpose(tile_shape="(TILE, TILE)"),
    # a race: no syncthreads between loading the tile and storing it; in thread order, thread 0 reads
    # slots of the tile that later threads have not written yet
    "no_sync_between_load_and_store": _transpose(sync=""),
    # the load's bounds checked against the wrong sides (rows against cols): a tile of the (32, 64) is
    # never loaded, and a partial tile reads outside a
    "load_bounds_swapped": _transpose(load_check="row0 + ty + k < cols and col0 + tx < rows"),
    # reads the tile along its rows for the store: the stores are coalesced, but the result is a again,
    # not its transpose
    "tile_read_along_rows": _TRANSPOSE.replace("= tile[tx, ty + k]", "= tile[ty + k, tx]").format(
        tile_shape="(TILE, TILE + 1)", load_check="row0 + ty + k < rows and col0 + tx < cols",
        sync="        cuda.syncthreads()"),
}
