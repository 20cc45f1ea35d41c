"""The numba.cuda kernels of the `cuda` backend, built once per scalar function (and dtype).

Every kernel reads and writes 1-D device arrays; shapes and strides arrive as tuples of ints
(numba passes tuples by value: a NumPy array argument would be copied host <-> device on every
launch). Shapes reach these kernels already coalesced (see `backends.shape.coalesce`).

- `map_*` / `zip_*`: one thread per element with a grid-stride loop, so any grid size covers any
  problem size; `*_flat` is the fast path for contiguous operands (no index arithmetic at all),
  each thread loading four elements of every operand before it stores one, so that enough
  loads are in flight to keep HBM busy (bandwidth = bytes in flight / latency).
- `reduce_kernel`: each output is folded by a row of `lanes` threads, which first fold their share
  of the reduced dim sequentially (eight loads in flight), then combine their partial results in
  shared memory as a tree. A block holds `lanes * slots` threads and serves `slots` outputs at a
  time. A thread keeps several loads in flight because a reduction is bound by memory latency:
  the GPU needs megabytes in flight to reach its bandwidth.
- `matmul_kernel`: the classic tiled product: a block computes a TILE x TILE tile of the output,
  staging TILE x TILE tiles of both operands in shared memory; the grid's z-dim walks the batch.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from numba import cuda, from_dtype
from numba.cuda.random import xoroshiro128p_uniform_float32, xoroshiro128p_uniform_float64

from .. import scalar
from .launch import launch


def simulated() -> bool:
    """Whether numba.cuda runs on its CPU simulator (NUMBA_ENABLE_CUDASIM=1 before numba's import)."""
    return not hasattr(cuda, "as_cuda_array")  # the simulator's cuda module lacks the interop API


def _register_scalar_helpers() -> None:
    """Give numba-cuda the scalar functions' inlined helpers (exp_poly, horner, ...) and the float32 FMA.

    numba-cuda types device code with a registry of its own: without this, every float32 exp, log, tanh,
    sigmoid, erf and GELU fails to compile for a real GPU ("No implementation of function exp_poly"),
    while the simulator, which runs them as Python, never notices (tests/test_cuda_typing.py)."""
    from numba.cuda.extending import overload, register_jitable

    for helper in scalar.KERNEL_HELPERS:
        register_jitable(inline="always")(helper)

    @overload(scalar.fma32)
    def _fma32(a, b, c):  # noqa: ANN001, ANN202
        return lambda a, b, c: cuda.fma(a, b, c)


if not simulated():
    _register_scalar_helpers()


# Launch limits. The simulator runs every GPU thread as a Python thread, so it gets tiny grids:
# the grid-stride loops stay correct for any grid, and small grids make them actually loop.
SIMULATED = simulated()
REDUCE_BLOCK = 512  # shared-memory slots of a reduction block (its largest thread count)
# threads per reduction block: 256 lanes fold one contiguous row; 32 outputs x 16 lanes otherwise
# (512 threads: two such blocks fit an SM's registers, so a (8192, 8192) sum runs in one wave)
REDUCE_THREADS = 16 if SIMULATED else 256
# at most this many threads fold one contiguous row (H200, sum(1) of (8192, 8192): 64 lanes 0.187 ms,
# 256 lanes 0.214 ms: fewer lanes, longer runs per thread, a shorter tree)
REDUCE_LANES = 16 if SIMULATED else 64
REDUCE_THREADS_STRIDED = 16 if SIMULATED else 512
THREADS = 8 if SIMULATED else 256  # threads per block of elementwise kernels (fewer for tiny problems)
WARP = 1 if SIMULATED else 32
REDUCE_SLOTS = 4 if SIMULATED else 32  # outputs per block when the outputs are the contiguous dim
MAX_BLOCKS = 4 if SIMULATED else 65535  # grid-stride loops cover whatever such a grid does not


def pow2_ceil(n: int) -> int:
    """The least power of two >= n (1 for n <= 1): a block's thread count, which its trees halve."""
    return 1 << (max(n, 1) - 1).bit_length()


def launch_1d(kernel: Any, n: int, *args: Any, per_thread: int = 1) -> None:
    """Launch an elementwise grid-stride kernel with a grid sized to `n` elements, `per_thread`
    of them for each thread (the flat kernels take four at a time)."""
    threads = min(THREADS, max(WARP, (n + WARP - 1) // WARP * WARP))  # whole warps
    blocks = min(MAX_BLOCKS, max(1, (n + threads * per_thread - 1) // (threads * per_thread)))
    launch(kernel, blocks, threads, *args)


@cuda.jit(device=True)
def block_sum(partial, t, value):  # noqa: ANN001, ANN201
    """The sum of `value` over the block's threads (a shared-memory tree over `partial`, one slot
    per thread of a power-of-two block), returned to every thread. It ends with a `syncthreads`
    after all have read the total, so the caller may reuse `partial` at once."""
    partial[t] = value
    cuda.syncthreads()
    half = cuda.blockDim.x // 2
    while half > 0:
        if t < half:
            partial[t] += partial[t + half]
        cuda.syncthreads()
        half //= 2
    total = partial[0]
    cuda.syncthreads()
    return total


UNROLL = 4  # elements a flat-kernel thread loads before it stores any: loads in flight hide latency


@cuda.jit(device=True)
def _positions2(i, shape, s1, s2):  # noqa: ANN001, ANN202
    """Positions in two operands of the i-th (row-major) index of `shape`."""
    p1 = 0
    p2 = 0
    for d in range(len(shape) - 1, -1, -1):
        j = i % shape[d]
        i = i // shape[d]
        p1 += j * s1[d]
        p2 += j * s2[d]
    return p1, p2


@cuda.jit(device=True)
def _positions3(i, shape, s1, s2, s3):  # noqa: ANN001, ANN202
    """Positions in three operands of the i-th (row-major) index of `shape`."""
    p1 = 0
    p2 = 0
    p3 = 0
    for d in range(len(shape) - 1, -1, -1):
        j = i % shape[d]
        i = i // shape[d]
        p1 += j * s1[d]
        p2 += j * s2[d]
        p3 += j * s3[d]
    return p1, p2, p3


@cuda.jit
def copy_signed(out, so, a, base, sa, shape, n):  # noqa: ANN001, ANN201
    """out[index] = a[base + position(index, sa)], where sa may hold negative strides: a flip
    (`shape.flipped`) in one kernel, one thread per element."""
    for i in range(cuda.grid(1), n, cuda.gridsize(1)):
        po, pa = _positions2(i, shape, so, sa)
        out[po] = a[base + pa]


@cuda.jit
def fill(out, value, n):  # noqa: ANN001, ANN201
    """out[i] = value: allocation-time initialisation that never touches the host."""
    for i in range(cuda.grid(1), n, cuda.gridsize(1)):
        out[i] = value


@cuda.jit
def arange(out, start, step, n):  # noqa: ANN001, ANN201
    """out[i] = start + i * step: index tensors made on the device, not copied from the host."""
    for i in range(cuda.grid(1), n, cuda.gridsize(1)):
        out[i] = start + i * step


@cuda.jit
def axpby(y, x, alpha, beta, n):  # noqa: ANN001, ANN201
    """y[i] = beta * y[i] + alpha * x[i]: an optimizer's update in one pass (no temporary for alpha * x)."""
    for i in range(cuda.grid(1), n, cuda.gridsize(1)):
        y[i] = beta * y[i] + alpha * x[i]


@cuda.jit
def adam(p, g, m, v, vmax, amsgrad, n, beta1, beta2, eps, sqrt_bias2, step_size):  # noqa: ANN001, ANN201
    """One Adam update per element (`base.Backend.adam_step`): moments, then the parameter."""
    for i in range(cuda.grid(1), n, cuda.gridsize(1)):
        gi = g[i]
        mi = beta1 * m[i] + (1 - beta1) * gi
        vi = beta2 * v[i] + (1 - beta2) * (gi * gi)
        m[i] = mi
        v[i] = vi
        if amsgrad:
            if vmax[i] > vi:
                vi = vmax[i]
            vmax[i] = vi
        p[i] -= mi / (math.sqrt(vi) / sqrt_bias2 + eps) * step_size


RNG_BLOCKS, RNG_THREADS = (2, 8) if SIMULATED else (128, 256)  # one generator state per thread


@cuda.jit
def uniform32(out, states, n):  # noqa: ANN001, ANN201
    """out[i] ~ U[0, 1), each thread drawing from its own xoroshiro128+ stream."""
    t = cuda.grid(1)
    for i in range(t, n, cuda.gridsize(1)):
        out[i] = xoroshiro128p_uniform_float32(states, t)


@cuda.jit
def uniform64(out, states, n):  # noqa: ANN001, ANN201
    t = cuda.grid(1)
    for i in range(t, n, cuda.gridsize(1)):
        out[i] = xoroshiro128p_uniform_float64(states, t)


def device_function(fn: Callable[..., Any]) -> Any:
    """`fn` compiled as a CUDA device function (accepts plain Python or numba-jitted functions)."""
    return cuda.jit(device=True)(getattr(fn, "py_func", fn))


def map_kernels(fn: Callable[[float], float]) -> tuple[Any, Any]:
    """(flat, strided) map kernels for scalar function `fn`."""
    f = device_function(fn)

    @cuda.jit
    def map_flat(out, a, n):  # noqa: ANN001, ANN202
        stride = cuda.gridsize(1)
        i = cuda.grid(1)
        while i + 3 * stride < n:  # four loads issued before the first store: memory is the limit
            a0, a1, a2, a3 = a[i], a[i + stride], a[i + 2 * stride], a[i + 3 * stride]
            out[i] = f(a0)
            out[i + stride] = f(a1)
            out[i + 2 * stride] = f(a2)
            out[i + 3 * stride] = f(a3)
            i += 4 * stride
        while i < n:
            out[i] = f(a[i])
            i += stride

    @cuda.jit
    def map_strided(out, out_strides, a, a_strides, shape, n):  # noqa: ANN001, ANN202
        for i in range(cuda.grid(1), n, cuda.gridsize(1)):
            po, pa = _positions2(i, shape, out_strides, a_strides)
            out[po] = f(a[pa])

    return map_flat, map_strided


def zip_kernels(fn: Callable[[float, float], float]) -> tuple[Any, Any]:
    """(flat, strided) zip kernels for scalar function `fn`."""
    f = device_function(fn)

    @cuda.jit
    def zip_flat(out, a, b, n):  # noqa: ANN001, ANN202
        stride = cuda.gridsize(1)
        i = cuda.grid(1)
        while i + 3 * stride < n:  # eight loads issued before the first store
            a0, a1, a2, a3 = a[i], a[i + stride], a[i + 2 * stride], a[i + 3 * stride]
            b0, b1, b2, b3 = b[i], b[i + stride], b[i + 2 * stride], b[i + 3 * stride]
            out[i] = f(a0, b0)
            out[i + stride] = f(a1, b1)
            out[i + 2 * stride] = f(a2, b2)
            out[i + 3 * stride] = f(a3, b3)
            i += 4 * stride
        while i < n:
            out[i] = f(a[i], b[i])
            i += stride

    @cuda.jit
    def zip_strided(out, out_strides, a, a_strides, b, b_strides, shape, n):  # noqa: ANN001, ANN202
        for i in range(cuda.grid(1), n, cuda.gridsize(1)):
            po, pa, pb = _positions3(i, shape, out_strides, a_strides, b_strides)
            out[po] = f(a[pa], b[pb])

    return zip_flat, zip_strided


def reduce_kernel(fn: Callable[[float, float], float], dtype: Any) -> Any:
    """Shared-memory tree reduction of `fn` for arrays of NumPy dtype `dtype`.

    Launch with a 2-D block. `lanes_on_x` says whether the lanes of one output (the threads that
    split its reduced dim) are threadIdx.x, so that a warp reads consecutive memory: true when
    the reduced dim is the contiguous one, false when the outputs are.
    """
    f = device_function(fn)
    # float32 folds accumulate in float64 (each lane adds ~n / 256 values in sequence: in float32 a
    # sum of 2e5 values lost ~0.01); the result is rounded to float32 once, when stored in `out`
    element = from_dtype(np.float64 if np.dtype(dtype) == np.float32 else dtype)
    widen = element  # called on each loaded value: float32 -> float64, other dtypes unchanged

    @cuda.jit
    def reduce_tree(out, out_strides, a, a_strides, shape, n_out, n, step, lanes, slots, lanes_on_x):  # noqa: ANN001, ANN202
        partial = cuda.shared.array(REDUCE_BLOCK, element)
        if lanes_on_x:
            lane, slot = cuda.threadIdx.x, cuda.threadIdx.y
            at_lane, at_slot = 1, lanes  # partial[slot * lanes + lane]
        else:
            lane, slot = cuda.threadIdx.y, cuda.threadIdx.x
            at_lane, at_slot = slots, 1  # partial[lane * slots + slot]
        # either way, threads with consecutive threadIdx.x touch consecutive words: no bank conflicts
        mine = slot * at_slot + lane * at_lane
        groups = (n_out + slots - 1) // slots
        # the loop bounds are the same for every thread of a block, so syncthreads is safe in it
        for group in range(cuda.blockIdx.x, groups, cuda.gridDim.x):
            o = group * slots + slot
            active = o < n_out
            po = 0
            pa = 0
            if active:
                po, pa = _positions2(o, shape, out_strides, a_strides)
                # lanes <= n, so every lane owns at least element `lane`
                acc = widen(a[pa + lane * step])
                j = lane + lanes
                while j + 7 * lanes < n:  # eight independent loads in flight per thread
                    x0 = f(widen(a[pa + j * step]), widen(a[pa + (j + lanes) * step]))
                    x1 = f(widen(a[pa + (j + 2 * lanes) * step]), widen(a[pa + (j + 3 * lanes) * step]))
                    x2 = f(widen(a[pa + (j + 4 * lanes) * step]), widen(a[pa + (j + 5 * lanes) * step]))
                    x3 = f(widen(a[pa + (j + 6 * lanes) * step]), widen(a[pa + (j + 7 * lanes) * step]))
                    acc = f(acc, f(f(x0, x1), f(x2, x3)))
                    j += 8 * lanes
                while j < n:
                    acc = f(acc, widen(a[pa + j * step]))
                    j += lanes
                partial[mine] = acc
            cuda.syncthreads()
            half = lanes // 2
            while half > 0:
                if active and lane < half:
                    partial[mine] = f(partial[mine], partial[mine + half * at_lane])
                cuda.syncthreads()
                half //= 2
            if active and lane == 0:
                out[po] = f(widen(out[po]), partial[mine])  # fold onto the start value already in out
            cuda.syncthreads()  # partial is reused by the next group

    return reduce_tree


def matmul_kernel(tile: int, dtype: Any) -> Any:
    """Tiled batched matmul with `tile` x `tile` blocks, for arrays of NumPy dtype `dtype`.

    Launch with block (tile, tile) and grid (ceil(m / tile), ceil(n / tile), batches). Operands
    are read through their strides, so transposed and broadcast (stride-0) views need no copy.
    """
    element = from_dtype(dtype)
    T = tile

    @cuda.jit
    def matmul_tiled(out, a, b, batch_shape, out_bs, a_bs, b_bs, mat_strides, n_batch, n, m, k):  # noqa: ANN001, ANN202
        a_tile = cuda.shared.array((T, T), element)
        b_tile = cuda.shared.array((T, T), element)
        tx = cuda.threadIdx.x
        ty = cuda.threadIdx.y
        row = cuda.blockIdx.y * T + ty
        col = cuda.blockIdx.x * T + tx
        o_r, o_c, a_r, a_c, b_r, b_c = mat_strides  # (row, column) strides of out, a, b
        for batch in range(cuda.blockIdx.z, n_batch, cuda.gridDim.z):
            po, pa, pb = _positions3(batch, batch_shape, out_bs, a_bs, b_bs)
            acc = element(0)
            for t0 in range(0, k, T):
                # stage one tile of each operand; zeros pad the edges so the inner loop is uniform
                if row < n and t0 + tx < k:
                    a_tile[ty, tx] = a[pa + row * a_r + (t0 + tx) * a_c]
                else:
                    a_tile[ty, tx] = 0
                if col < m and t0 + ty < k:
                    b_tile[ty, tx] = b[pb + (t0 + ty) * b_r + col * b_c]
                else:
                    b_tile[ty, tx] = 0
                cuda.syncthreads()
                for q in range(T):
                    acc += a_tile[ty, q] * b_tile[q, tx]
                cuda.syncthreads()
            if row < n and col < m:
                out[po + row * o_r + col * o_c] = acc

    return matmul_tiled
