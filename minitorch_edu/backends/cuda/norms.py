"""Fused row kernels for device-resident contiguous (n, c) arrays (numba.cuda): softmax and
log-softmax over the last dim, and layer norm forward and backward.

The GPU twin of `numba/norms.py`, with the same wrapper names, arguments and arithmetic (sums of
float32 rows in float64, the same shift for the layer-norm moments), so the two agree to rounding.
Composed from map/zip/reduce, softmax over (n, c) is five kernel launches with temporaries, layer
norm about a dozen; here each direction is one launch (two for layer norm's backward with
parameters):

- the row kernels run one block per row (a grid-stride loop over rows when there are more rows
  than blocks); the block's threads stride over the row, so neighbouring threads read neighbouring
  values, and combine their partial maxima and sums as a tree in shared memory;
- the weight and bias gradients, sums over rows, run one block per group of `PARAM_COLS`
  columns: threadIdx.x picks the column (a warp reads a run of a row), threadIdx.y strides over
  rows, and the rows' partial sums meet in a shared-memory tree.

Every loop bound that contains a `syncthreads` is the same for all threads of a block.
"""

from __future__ import annotations

import math
from typing import Any

from numba import cuda, float64, from_dtype

from .. import rows
from .kernels import MAX_BLOCKS, SIMULATED, WARP, block_sum, pow2_ceil
from .launch import launch

# threads of a row block, a power of two (the tree halves it); the simulator runs each thread as a
# Python thread: few of them, so that rows longer than a block exercise the striding loop
ROW_THREADS = 8 if SIMULATED else 256
# the parameter-gradient block: PARAM_COLS columns x PARAM_LANES row lanes (both powers of two)
PARAM_COLS = 4 if SIMULATED else 32
PARAM_LANES = 2 if SIMULATED else 8


_moments = cuda.jit(device=True)(rows.layer_norm_moments)  # shared with numba/norms.py


@cuda.jit(device=True)
def _nan_max(a, b):  # noqa: ANN001, ANN202
    """max(a, b) where a nan wins, as in `scalar.maximum` and the CPU kernel's `_row_max`."""
    if b > a or b != b:
        return b
    return a


@cuda.jit(device=True)
def _block_max(partial, t, value):  # noqa: ANN001, ANN202
    """The maximum of `value` over the block's threads (a shared-memory tree), returned to every thread."""
    partial[t] = value
    cuda.syncthreads()
    half = cuda.blockDim.x // 2
    while half > 0:
        if t < half:
            partial[t] = _nan_max(partial[t], partial[t + half])
        cuda.syncthreads()
        half //= 2
    total = partial[0]
    cuda.syncthreads()  # every thread has read partial[0] before the next tree overwrites it
    return total


@cuda.jit(device=True)
def _block_sum2(p, q, t, a, b):  # noqa: ANN001, ANN202
    """Two block sums in one tree (half the synchronisations of two `block_sum`s)."""
    p[t] = a
    q[t] = b
    cuda.syncthreads()
    half = cuda.blockDim.x // 2
    while half > 0:
        if t < half:
            p[t] += p[t + half]
            q[t] += q[t + half]
        cuda.syncthreads()
        half //= 2
    sa = p[0]
    sb = q[0]
    cuda.syncthreads()
    return sa, sb


# ---------------------------------------------------------------------- softmax
def _softmax_forward_kernel(dtype: Any) -> Any:
    """The softmax forward kernel for rows of NumPy dtype `dtype` (the shift m must be of the
    row's dtype: a float32 row's exponentials stay float32, as on the CPU)."""
    element = from_dtype(dtype)

    @cuda.jit
    def softmax_forward(out, x, n, c, log):  # noqa: ANN001, ANN202
        """One block per row, its threads striding over j; the sum in float64:

        for i in range(n):
            m = max_j x[i, j]                     (m = 0 where it is infinite, for log)
            out[i, j] = e_j = exp(x[i, j] - m)
            softmax:      out[i, j] = e_j / sum_j e_j
            log-softmax:  out[i, j] = (x[i, j] - m) - log(sum_j e_j)
        """
        partial = cuda.shared.array(ROW_THREADS, float64)
        t = cuda.threadIdx.x
        for i in range(cuda.blockIdx.x, n, cuda.gridDim.x):
            base = i * c
            top = x[base]  # a value of the row: a thread without any of its own changes nothing
            for j in range(t, c, cuda.blockDim.x):
                top = _nan_max(top, x[base + j])
            m = element(_block_max(partial, t, float64(top)))
            if log and (m == math.inf or m == -math.inf):
                m = element(0)
            acc = 0.0
            for j in range(t, c, cuda.blockDim.x):
                d = x[base + j] - m  # past 709 exp overflows: inf, as on a GPU (the simulator's math.exp raises)
                out[base + j] = math.inf if d > 709.0 else math.exp(d)
                acc += float64(out[base + j])  # the stored (rounded) value, as the CPU kernel sums
            total = block_sum(partial, t, acc)
            if log:
                lse = -math.inf if total == 0.0 else math.log(total)  # a row of -inf: log(0), which math.log refuses
                for j in range(t, c, cuda.blockDim.x):
                    out[base + j] = (x[base + j] - m) - lse
            else:
                inv = 1.0 / total
                for j in range(t, c, cuda.blockDim.x):  # each thread rescales the values it wrote
                    out[base + j] = out[base + j] * inv

    return softmax_forward


_softmax_forward: dict[Any, Any] = {}  # dtype -> kernel, built on first use


@cuda.jit
def _softmax_backward(gx, y, g, n, c, log):  # noqa: ANN001, ANN202
    """One block per row, its threads striding over j; the sums in float64:

    for i in range(n):
        softmax:      gx[i, j] = y[i, j] * (g[i, j] - sum_k g[i, k] y[i, k])
        log-softmax:  gx[i, j] = g[i, j] - exp(y[i, j]) * sum_k g[i, k]
    """
    partial = cuda.shared.array(ROW_THREADS, float64)
    t = cuda.threadIdx.x
    for i in range(cuda.blockIdx.x, n, cuda.gridDim.x):
        base = i * c
        acc = 0.0
        for j in range(t, c, cuda.blockDim.x):
            if log:
                acc += float64(g[base + j])
            else:
                acc += float64(g[base + j]) * float64(y[base + j])
        total = block_sum(partial, t, acc)
        for j in range(t, c, cuda.blockDim.x):
            if log:
                gx[base + j] = g[base + j] - math.exp(y[base + j]) * total
            else:
                gx[base + j] = y[base + j] * (g[base + j] - total)


# ---------------------------------------------------------------------- layer norm
@cuda.jit
def _layer_norm_forward(out, mean, rstd, x, w, b, n, c, eps, affine):  # noqa: ANN001, ANN202
    """One block per row, its threads striding over j; the moments in float64:

        for i in range(n):
            d_j = x[i, j] - x[i, 0];  m1 = sum_j d_j / c;  var = max(sum_j d_j² / c - m1², 0)
            mean[i] = x[i, 0] + m1;  rstd[i] = 1 / sqrt(var + eps)
            out[i, j] = (x[i, j] - mean[i]) * rstd[i] (* w[j] + b[j] when affine)

    Shifting by one of the row's own values keeps E[d²] - E[d]² from cancelling badly (see
    `rows.layer_norm_moments`), and both sums take one read of the row and one tree."""
    p = cuda.shared.array(ROW_THREADS, float64)
    q = cuda.shared.array(ROW_THREADS, float64)
    t = cuda.threadIdx.x
    for i in range(cuda.blockIdx.x, n, cuda.gridDim.x):
        base = i * c
        x0 = float64(x[base])
        s1 = 0.0
        s2 = 0.0
        for j in range(t, c, cuda.blockDim.x):
            d = float64(x[base + j]) - x0
            s1 += d
            s2 += d * d
        s1, s2 = _block_sum2(p, q, t, s1, s2)
        mu, r = _moments(x0, s1, s2, c, eps)
        if t == 0:
            mean[i] = mu
            rstd[i] = r
        for j in range(t, c, cuda.blockDim.x):
            v = (float64(x[base + j]) - mu) * r
            if affine:
                v = v * float64(w[j]) + float64(b[j])
            out[base + j] = v


@cuda.jit
def _layer_norm_input_grad(gx, g, x, mean, rstd, w, n, c, affine):  # noqa: ANN001, ANN202
    """One block per row, its threads striding over j; the sums in float64:

    for i in range(n):
        xhat_j = (x[i, j] - mean[i]) * rstd[i];  gh_j = g[i, j] * w[j] (g[i, j] without w)
        gx[i, j] = rstd[i] * (gh_j - sum_k gh_k / c - xhat_j * sum_k gh_k xhat_k / c)
    """
    p = cuda.shared.array(ROW_THREADS, float64)
    q = cuda.shared.array(ROW_THREADS, float64)
    t = cuda.threadIdx.x
    for i in range(cuda.blockIdx.x, n, cuda.gridDim.x):
        base = i * c
        mu = mean[i]
        r = rstd[i]
        s1 = 0.0
        s2 = 0.0
        for j in range(t, c, cuda.blockDim.x):
            xhat = (x[base + j] - mu) * r  # in x's dtype, as the CPU kernel keeps it
            gh = float64(g[base + j])
            if affine:
                gh *= float64(w[j])
            s1 += gh
            s2 += gh * float64(xhat)
        s1, s2 = _block_sum2(p, q, t, s1, s2)
        for j in range(t, c, cuda.blockDim.x):
            xhat = (x[base + j] - mu) * r
            gh = float64(g[base + j])
            if affine:
                gh *= float64(w[j])  # as rounded in s1: a constant row's gradient is exactly 0
            gx[base + j] = r * (gh - s1 / c - xhat * (s2 / c))


@cuda.jit
def _layer_norm_param_grads(gw, gb, g, x, mean, rstd, n, c):  # noqa: ANN001, ANN202
    """PARAM_COLS columns per block (threadIdx.x), threadIdx.y striding over the rows, whose
    partial sums meet in a tree over y; the sums in float64:

        for j in range(c):
            gw[j] = sum_i g[i, j] * (x[i, j] - mean[i]) * rstd[i];   gb[j] = sum_i g[i, j]
    """
    pw = cuda.shared.array((PARAM_LANES, PARAM_COLS), float64)
    pb = cuda.shared.array((PARAM_LANES, PARAM_COLS), float64)
    tx = cuda.threadIdx.x
    ty = cuda.threadIdx.y
    for j0 in range(cuda.blockIdx.x * PARAM_COLS, c, cuda.gridDim.x * PARAM_COLS):
        j = j0 + tx
        acc_w = 0.0
        acc_b = 0.0
        if j < c:
            for i in range(ty, n, cuda.blockDim.y):
                gi = float64(g[i * c + j])
                acc_w += gi * ((float64(x[i * c + j]) - float64(mean[i])) * float64(rstd[i]))
                acc_b += gi
        pw[ty, tx] = acc_w
        pb[ty, tx] = acc_b
        cuda.syncthreads()
        half = cuda.blockDim.y // 2
        while half > 0:
            if ty < half:
                pw[ty, tx] += pw[ty + half, tx]
                pb[ty, tx] += pb[ty + half, tx]
            cuda.syncthreads()
            half //= 2
        if ty == 0 and j < c:
            gw[j] = pw[0, tx]
            gb[j] = pb[0, tx]
        cuda.syncthreads()  # the tree's arrays are reused by the next group of columns


# ---------------------------------------------------------------------- wrappers (base.Backend's contract)
def _row_launch(kernel: Any, n: int, c: int, *args: Any) -> None:
    """One block per row (at most MAX_BLOCKS; the kernels loop over the rest), whole warps of
    threads, no more than the row has values (up to ROW_THREADS)."""
    threads = min(ROW_THREADS, max(WARP, pow2_ceil(c)))
    launch(kernel, min(n, MAX_BLOCKS), threads, *args)


def softmax_forward(out: Any, x: Any, n: int, c: int, log: bool) -> None:
    if n * c:
        if x.dtype not in _softmax_forward:
            _softmax_forward[x.dtype] = _softmax_forward_kernel(x.dtype)
        _row_launch(_softmax_forward[x.dtype], n, c, out, x, n, c, log)


def softmax_backward(gx: Any, y: Any, g: Any, n: int, c: int, log: bool) -> None:
    if n * c:
        _row_launch(_softmax_backward, n, c, gx, y, g, n, c, log)


def layer_norm_forward(
    out: Any, mean: Any, rstd: Any, x: Any, w: Any | None, b: Any | None, n: int, c: int, eps: float
) -> None:
    if not n * c:
        return
    affine = w is not None
    # placeholders without parameters: one compiled kernel per dtype either way (never read)
    _row_launch(_layer_norm_forward, n, c, out, mean, rstd, x, w if affine else x, b if affine else x, n, c,
                float(eps), affine)  # fmt: skip


def layer_norm_backward(
    gx: Any | None,
    gw: Any | None,
    gb: Any | None,
    g: Any,
    x: Any,
    mean: Any,
    rstd: Any,
    w: Any | None,
    n: int,
    c: int,
) -> None:
    if not n * c:
        return
    if gx is not None:
        affine = w is not None
        _row_launch(_layer_norm_input_grad, n, c, gx, g, x, mean, rstd, w if affine else x, n, c, affine)
    if gw is not None:
        blocks = min(MAX_BLOCKS, (c + PARAM_COLS - 1) // PARAM_COLS)
        launch(_layer_norm_param_grads, blocks, (PARAM_COLS, PARAM_LANES), gw, gb, g, x, mean, rstd, n, c)
