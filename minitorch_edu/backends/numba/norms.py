"""Fused row kernels for tensors in main memory (numba CPU): softmax and log-softmax over the last
dim, and layer norm forward and backward.

Composed from map/zip/reduce kernels, softmax over (N, C) is five kernel launches and five passes
over memory with temporaries, layer norm about a dozen. Here each row of C values is read into
cache once and every step runs over it there:

    softmax:      m = max_j x;  e_j = exp(x_j - m);  y_j = e_j / sum(e)
    log_softmax:  z_j = x_j - m (m = 0 if it is infinite);  y_j = z_j - log(sum_j exp(z_j))
    layer norm:   mean, rstd = 1 / sqrt(var + eps) (biased var);  y_j = (x_j - mean) rstd w_j + b_j

The exponentials of float32 rows are `scalar.exp_f32`, evaluated in float32 and vectorised
(scalar.py). Sums and maxima run as SIMD partials (`_row_max` by hand, `_row_sum` by LLVM, allowed
to reorder it); a plain running sum would wait on each add in turn. Sums of float32 rows accumulate
in float64. Rows are independent: large inputs split them over threads in blocks (`block_rows`),
small ones run serially, where waking the threads would cost more than the work.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import njit, prange

from .. import rows, scalar
from .cache import variant  # first: before any cached kernel (compiled code per thread count)
from .kernels import wide

JIT = {"cache": True, "error_model": "numpy", "nogil": True}
PARALLEL_FROM = 1 << 16  # elements (N * C) from which rows are split over threads

_exp = njit(inline="always", error_model="numpy")(scalar.exp)
_moments = njit(inline="always", **JIT)(rows.layer_norm_moments)  # shared with cuda/norms.py


@njit(inline="always", error_model="numpy")
def exp(x):  # noqa: ANN001, ANN202
    """e**x: `scalar.exp_f32` for float32 rows (1.01 ulp, twice as fast: softmax spends its time
    here), `scalar.exp` for float64 ones."""
    if isinstance(x, np.float32):
        return scalar.exp_f32(x)
    return _exp(x)


@njit(inline="always", **JIT)
def _row_max(x):  # noqa: ANN001, ANN202
    """max of x (len >= 1) in eight partials, skipping nans (softmax needs no nan from here: a nan
    in the row makes its exp, its sum and so every output nan).

    `a if a > m else m` is one SIMD compare-and-select; Python's `max` is a branch per element and
    four times slower."""
    n = len(x)
    m0 = m1 = m2 = m3 = m4 = m5 = m6 = m7 = x[0]
    full = n - n % 8
    for j in range(0, full, 8):
        a0, a1, a2, a3 = x[j], x[j + 1], x[j + 2], x[j + 3]
        a4, a5, a6, a7 = x[j + 4], x[j + 5], x[j + 6], x[j + 7]
        m0 = a0 if a0 > m0 else m0
        m1 = a1 if a1 > m1 else m1
        m2 = a2 if a2 > m2 else m2
        m3 = a3 if a3 > m3 else m3
        m4 = a4 if a4 > m4 else m4
        m5 = a5 if a5 > m5 else m5
        m6 = a6 if a6 > m6 else m6
        m7 = a7 if a7 > m7 else m7
    for j in range(full, n):
        m0 = x[j] if x[j] > m0 else m0
    return max(max(max(m0, m1), max(m2, m3)), max(max(m4, m5), max(m6, m7)))


# The sums are functions of their own, compiled with `reassoc`: LLVM may then split a sum into SIMD
# partials (it never reorders one otherwise), while the kernels that call them keep exact rounding
# elsewhere (exp's rounding trick, (t + 1.5 2**52) - 1.5 2**52, must not be "simplified" away).
# LLVM inlines them into the callers all the same. Sums of float32 rows accumulate in float64.
SUM_JIT = {**JIT, "fastmath": {"contract", "reassoc"}}


@njit(**SUM_JIT)
def _row_sum(x):  # noqa: ANN001, ANN202
    """sum of x."""
    s = 0.0
    for j in range(len(x)):
        s += wide(x[j])
    return s


@njit(**SUM_JIT)
def _row_dot(x, y):  # noqa: ANN001, ANN202
    """sum of x * y."""
    s = 0.0
    for j in range(len(x)):
        s += wide(x[j]) * wide(y[j])
    return s


@njit(inline="always", **JIT)
def block_rows(block, blocks, n):  # noqa: ANN001, ANN202
    """The rows of block `block` of `blocks`: range(lo, hi), signed (prange indices are unsigned).

    The row kernels split their rows into `blocks` contiguous blocks, one per thread (`_blocks`), and
    each thread walks its rows in order. (A `prange` over single rows runs as fast, measured: the
    slowness once blamed on it was the threaded kernel loading the serial one's cached code; see
    `cache.variant`.)"""
    b = np.int64(block)
    return range(b * n // blocks, (b + 1) * n // blocks)


# ---------------------------------------------------------------------- softmax
def _softmax_forward(out, x, n, c, log, blocks):  # noqa: ANN001, ANN202
    for block in prange(blocks):
        for i in block_rows(block, blocks, n):
            xs, ys = x[i * c : (i + 1) * c], out[i * c : (i + 1) * c]
            m = _row_max(xs)
            if log and (m == np.inf or m == -np.inf):  # log_softmax shifts by 0 when the max is infinite
                ys[0] = 0.0
                m = ys[0]  # a zero of the row's dtype (float32 rows must stay float32 for the SIMD exp)
            for j in range(c):
                ys[j] = exp(xs[j] - m)
            total = _row_sum(ys)
            if log:
                lse = math.log(total)
                for j in range(c):
                    ys[j] = (xs[j] - m) - lse
            else:
                inv = 1.0 / total
                for j in range(c):
                    ys[j] = ys[j] * inv


def _softmax_backward(gx, y, g, n, c, log, blocks):  # noqa: ANN001, ANN202
    """softmax: gx = y (g - sum(g y)); log_softmax: gx = g - exp(y) sum(g)."""
    for block in prange(blocks):
        for i in block_rows(block, blocks, n):
            ys, gs, out = y[i * c : (i + 1) * c], g[i * c : (i + 1) * c], gx[i * c : (i + 1) * c]
            if log:
                total = _row_sum(gs)
                for j in range(c):
                    out[j] = gs[j] - exp(ys[j]) * total
            else:
                dot = _row_dot(gs, ys)
                for j in range(c):
                    out[j] = ys[j] * (gs[j] - dot)


# ---------------------------------------------------------------------- layer norm
def _layer_norm_forward(out, mean, rstd, x, w, b, n, c, eps, affine, blocks):  # noqa: ANN001, ANN202
    """Two passes over each row: one read for the mean and variance, one read and write for y.

    The moments are sums of d = x - x[0] and d² in float64 (`rows.layer_norm_moments`: shifted by
    one of the row's own values, E[d²] - E[d]² cannot cancel badly), and the two sums run together
    in one SIMD loop (no row of deviations to write and read back)."""
    for block in prange(blocks):
        for i in block_rows(block, blocks, n):
            xs, ys = x[i * c : (i + 1) * c], out[i * c : (i + 1) * c]
            x0 = wide(xs[0])
            s1 = 0.0
            s2 = 0.0
            for j in range(c):
                d = wide(xs[j]) - x0
                s1 += d
                s2 += d * d
            mu, r = _moments(x0, s1, s2, c, eps)
            mean[i] = mu
            rstd[i] = r
            if affine:
                for j in range(c):
                    ys[j] = (wide(xs[j]) - mu) * r * wide(w[j]) + wide(b[j])
            else:
                for j in range(c):
                    ys[j] = (wide(xs[j]) - mu) * r


def _layer_norm_input_grad(gx, g, x, mean, rstd, w, n, c, affine, blocks):  # noqa: ANN001, ANN202
    """gx = rstd (gh - mean(gh) - xhat mean(gh xhat)) with gh = g w and xhat = (x - mean) rstd."""
    for block in prange(blocks):
        for i in block_rows(block, blocks, n):
            xs, gs, out = x[i * c : (i + 1) * c], g[i * c : (i + 1) * c], gx[i * c : (i + 1) * c]
            mu, r = mean[i], rstd[i]
            for j in range(c):  # out holds xhat for a moment
                out[j] = (xs[j] - mu) * r
            if affine:
                s1 = _row_dot(gs, w)
                s2 = 0.0
                for j in range(c):
                    s2 += wide(gs[j]) * wide(w[j]) * wide(out[j])
                for j in range(c):
                    out[j] = r * (gs[j] * w[j] - s1 / c - out[j] * (s2 / c))
            else:
                s1 = _row_sum(gs)
                s2 = _row_dot(gs, out)
                for j in range(c):
                    out[j] = r * (gs[j] - s1 / c - out[j] * (s2 / c))


def _layer_norm_param_grads(gw, gb, g, x, mean, rstd, n, c, block):  # noqa: ANN001, ANN202
    """gw = sum over rows of g xhat, gb = sum over rows of g: one block of columns per task."""
    for task in prange((c + block - 1) // block):
        j0 = np.int64(task) * block
        j1 = min(c, j0 + block)
        acc_w = np.zeros(j1 - j0, np.float64)
        acc_b = np.zeros(j1 - j0, np.float64)
        for i in range(n):
            xs, gs = x[i * c + j0 : i * c + j1], g[i * c + j0 : i * c + j1]
            mu, r = mean[i], rstd[i]
            for j in range(j1 - j0):
                acc_w[j] += wide(gs[j]) * ((wide(xs[j]) - mu) * r)
                acc_b[j] += wide(gs[j])
        for j in range(j1 - j0):
            gw[j0 + j] = acc_w[j]
            gb[j0 + j] = acc_b[j]


def _compiled(fn, fastmath=("contract",)):  # noqa: ANN001, ANN202
    flags = {**JIT, "fastmath": set(fastmath)}
    return {False: njit(**flags)(fn), True: njit(parallel=True, **flags)(variant(fn, "parallel"))}


_SOFTMAX_FORWARD = _compiled(_softmax_forward)
_SOFTMAX_BACKWARD = _compiled(_softmax_backward)
# reassoc: LLVM may split the row and column sums of the layer-norm kernels into SIMD partials (it
# never reorders a sum otherwise). Not for softmax: it would "simplify" away exp's rounding trick,
# (t + 1.5 2**52) - 1.5 2**52
_LN_FORWARD = _compiled(_layer_norm_forward, ("contract", "reassoc"))
_LN_INPUT_GRAD = _compiled(_layer_norm_input_grad, ("contract", "reassoc"))
_LN_PARAM_GRADS = _compiled(_layer_norm_param_grads, ("contract", "reassoc"))
COLUMN_BLOCK = 256


def _blocks(parallel: bool) -> int:
    """Blocks of rows for a row kernel: one per thread (see `block_rows`)."""
    return numba.get_num_threads() if parallel else 1


def softmax_forward(out: np.ndarray, x: np.ndarray, n: int, c: int, log: bool) -> None:
    if n * c:
        parallel = n * c >= PARALLEL_FROM
        _SOFTMAX_FORWARD[parallel](out, x, n, c, log, _blocks(parallel))


def softmax_backward(gx: np.ndarray, y: np.ndarray, g: np.ndarray, n: int, c: int, log: bool) -> None:
    if n * c:
        parallel = n * c >= PARALLEL_FROM
        _SOFTMAX_BACKWARD[parallel](gx, y, g, n, c, log, _blocks(parallel))


def layer_norm_forward(
    out: np.ndarray, mean: np.ndarray, rstd: np.ndarray, x: np.ndarray, w: np.ndarray | None,
    b: np.ndarray | None, n: int, c: int, eps: float,
) -> None:
    if not n * c:
        return
    affine = w is not None
    w = w if affine else x[:1]  # placeholders: numba needs arrays of one type either way
    b = b if affine else x[:1]
    parallel = n * c >= PARALLEL_FROM
    _LN_FORWARD[parallel](out, mean, rstd, x, w, b, n, c, eps, affine, _blocks(parallel))


def layer_norm_backward(
    gx: np.ndarray | None, gw: np.ndarray | None, gb: np.ndarray | None, g: np.ndarray, x: np.ndarray,
    mean: np.ndarray, rstd: np.ndarray, w: np.ndarray | None, n: int, c: int,
) -> None:
    if not n * c:
        return
    parallel = n * c >= PARALLEL_FROM
    if gx is not None:
        affine = w is not None
        _LN_INPUT_GRAD[parallel](gx, g, x, mean, rstd, w if affine else x[:1], n, c, affine, _blocks(parallel))
    if gw is not None:
        _LN_PARAM_GRADS[parallel](gw, gb, g, x, mean, rstd, n, c, COLUMN_BLOCK)
