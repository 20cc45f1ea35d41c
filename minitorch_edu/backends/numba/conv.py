"""Numba CPU kernels for convolution and pooling over contiguous NCHW storages.

Convolution is lowered to matrix products, as most CPU frameworks do ("im2col"):

    cols[n, (ci, ki, kj), (oy, ox)] = x[n, ci, oy*sh + ki - ph, ox*sw + kj - pw]   (0 outside x)
    out[n] = w.reshape(C_out, C_in*KH*KW) @ cols[n]

so every multiply-add runs in a long loop over contiguous memory (a whole output plane) instead
of six nested loops with short inner trip counts. Conv layers have few channels, so the products
are small-by-long (`small_by_long`): one task owns one output plane (kept in L1) and adds `w[co, j] * cols[n, j]`
row by row. Inner loops index row *slices* with `range()`, which lets LLVM prove the indices are
non-negative, drop numba's wraparound checks and vectorise (measured here: ~26 GFLOP/s on one core
against ~1.5 for the same loop indexing the flat array). Padding is never materialised: `_valid_range` computes,
per kernel offset, the output positions whose input lies inside the image, and the rest of a row of
`cols` is written as zeros. The backward pass reuses the same pieces:

    grad_cols[n] = w^T @ grad_out[n]   (`small_by_long` again)   then `col2im` scatters them back onto grad_x
    grad_w[co, j] = sum_n,p grad_out[n, co, p] * cols[n, j, p]   (`conv_weight_grad`, dot products)

The window arithmetic (`_valid_range`, the pooling windows) is `backends/window.py`'s, compiled
here and by the cuda backend. Every kernel takes flat 1-D arrays plus sizes as ints; the parallel
loop runs over independent (batch, channel) planes, so no two tasks ever write the same element.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

import minitorch_edu.backends.numba.cache  # noqa: F401  (before any cached kernel: compiled code per thread count)

from .. import host_pool, window

JIT = {"cache": True, "error_model": "numpy", "nogil": True}
FAST = {**JIT, "fastmath": {"contract", "reassoc", "nsz", "arcp"}}  # lets LLVM vectorise the dot products


# the window arithmetic shared with cuda/conv.py, inlined into the parallel loops below
_valid_range = njit(inline="always", **JIT)(window.valid_range)
_window_max = njit(inline="always", **JIT)(window.window_max)
_window_mean = njit(inline="always", **JIT)(window.window_mean)


@njit(parallel=True, **JIT)
def im2col(cols, x, batch, c_in, h, w, kh, kw, oh, ow, sh, sw, ph, pw):
    """cols (batch, c_in*kh*kw, oh*ow) from x (batch, c_in, h, w); zeros where the window leaves x."""
    rows = c_in * kh * kw
    plane = oh * ow
    for task in prange(batch * c_in):
        t = np.int64(task)  # prange indices are unsigned: keep the index arithmetic signed
        n = t // c_in
        ci = t % c_in
        xbase = t * h * w
        for ki in range(kh):
            y0, y1 = _valid_range(ki, ph, sh, h, oh)
            for kj in range(kw):
                x0, x1 = _valid_range(kj, pw, sw, w, ow)
                cbase = (n * rows + (ci * kh + ki) * kw + kj) * plane
                # row slices (views) indexed by range(): LLVM can drop the wraparound checks and vectorise
                col = cols[cbase : cbase + plane]
                for oy in range(oh):
                    crow = col[oy * ow : (oy + 1) * ow]
                    if oy < y0 or oy >= y1:
                        crow[:] = 0.0
                        continue
                    start = (oy * sh + ki - ph) * w + kj - pw + xbase
                    crow[:x0] = 0.0
                    crow[x1:] = 0.0
                    if sw == 1:
                        crow[x0:x1] = x[start + x0 : start + x1]
                    else:
                        for ox in range(x0, x1):
                            crow[ox] = x[start + ox * sw]


@njit(parallel=True, **JIT)
def col2im(gx, cols, batch, c_in, h, w, kh, kw, oh, ow, sh, sw, ph, pw):
    """gx (batch, c_in, h, w) = the sum of every cols entry onto the input position it was copied from."""
    rows = c_in * kh * kw
    plane = oh * ow
    for task in prange(batch * c_in):
        t = np.int64(task)
        n = t // c_in
        ci = t % c_in
        g = gx[t * h * w : (t + 1) * h * w]
        g[:] = 0.0
        for ki in range(kh):
            y0, y1 = _valid_range(ki, ph, sh, h, oh)
            for kj in range(kw):
                x0, x1 = _valid_range(kj, pw, sw, w, ow)
                cbase = (n * rows + (ci * kh + ki) * kw + kj) * plane
                for oy in range(y0, y1):
                    src = cols[cbase + oy * ow : cbase + (oy + 1) * ow]
                    start = (oy * sh + ki - ph) * w + kj - pw
                    if sw == 1:  # start + x0 >= 0 always; start alone can be negative (left padding)
                        dst = g[start + x0 : start + x1]
                        part = src[x0:x1]
                        for i in range(x1 - x0):
                            dst[i] += part[i]
                    else:
                        for ox in range(x0, x1):
                            g[start + ox * sw] += src[ox]


@njit(parallel=True, **FAST)
def small_by_long(out, w, rows_in, batch, m, k, plane, w_m, w_k):
    """out[n] = W @ rows_in[n] for each n, W the small (m, k) matrix W[i, r] = w[i*w_m + r*w_k] and
    rows_in[n] (k, plane); one output row (plane elements) per task, built by axpys:

        for n, i:
            out[n, i, :] = sum over r of W[i, r] * rows_in[n, r, :]

    The forward pass is w @ cols[n] (m, k = c_out, rows; w_m, w_k = rows, 1), the input gradient
    w^T @ g[n] (m, k = rows, c_out; w_m, w_k = 1, rows): the same loop over w read transposed."""
    for task in prange(batch * m):
        t = np.int64(task)
        n = t // m
        i = t % m
        o = out[t * plane : (t + 1) * plane]  # stays in L1 while every row of rows_in[n] streams past
        o[:] = 0.0
        for r in range(k):
            wv = w[i * w_m + r * w_k]
            c = rows_in[(n * k + r) * plane : (n * k + r + 1) * plane]
            for p in range(plane):
                o[p] += wv * c[p]


@njit(parallel=True, **JIT)
def add_channel_bias(out, bias, batch, channels, plane):
    """out (batch, channels, plane) += bias[channel]."""
    for task in prange(batch * channels):
        t = np.int64(task)
        b = bias[t % channels]
        o = out[t * plane : (t + 1) * plane]
        for i in range(plane):
            o[i] += b


@njit(parallel=True, **FAST)
def channel_sum(out, g, zero, batch, channels, plane):
    """out[c] = sum of g (batch, channels, plane) over batch and plane (the bias gradient)."""
    for c in prange(channels):
        ch = np.int64(c)
        acc = zero  # in g's dtype: a float64 accumulator would stop float32 sums from vectorising
        for n in range(batch):
            base = (n * channels + ch) * plane
            row = g[base : base + plane]
            for i in range(plane):
                acc += row[i]
        out[ch] = acc


@njit(parallel=True, **FAST)
def conv_weight_grad(gw, g, cols, zero, batch, c_out, rows, plane):
    """gw (c_out, rows)[co, j] = sum over n, p of g (batch, c_out, plane) * cols (batch, rows, plane).

    A task owns four neighbouring weights of one output channel: each gradient row it streams
    feeds four dot products at once, so g is read a quarter as often (it is the operand that
    does not stay in L1)."""
    quads = (rows + 3) // 4
    for task in prange(c_out * quads):
        t = np.int64(task)
        co = t // quads
        j0 = (t % quads) * 4
        if j0 + 4 <= rows:
            s0, s1, s2, s3 = zero, zero, zero, zero
            for n in range(batch):
                gg = g[(n * c_out + co) * plane : (n * c_out + co + 1) * plane]
                base = (n * rows + j0) * plane
                c0 = cols[base : base + plane]
                c1 = cols[base + plane : base + 2 * plane]
                c2 = cols[base + 2 * plane : base + 3 * plane]
                c3 = cols[base + 3 * plane : base + 4 * plane]
                for p in range(plane):  # contiguous operands: vectorised dot products
                    x = gg[p]
                    s0 += x * c0[p]
                    s1 += x * c1[p]
                    s2 += x * c2[p]
                    s3 += x * c3[p]
            o = co * rows + j0
            gw[o], gw[o + 1], gw[o + 2], gw[o + 3] = s0, s1, s2, s3
        else:  # the last rows % 4 weights of the channel, one at a time
            for j in range(j0, rows):
                acc = zero
                for n in range(batch):
                    gg = g[(n * c_out + co) * plane : (n * c_out + co + 1) * plane]
                    c = cols[(n * rows + j) * plane : (n * rows + j + 1) * plane]
                    for p in range(plane):
                        acc += gg[p] * c[p]
                gw[co * rows + j] = acc


# ---------------------------------------------------------------------- pooling
@njit(parallel=True, **JIT)
def max_pool_forward(out, argmax, x, planes, h, w, kh, kw, oh, ow, sh, sw, ph, pw):
    """Window maxima of x (planes, h, w); argmax holds each maximum's position in its plane (the first max).

        for plane, oy, ox:
            out[plane, oy, ox], argmax[plane, oy, ox] = max of x[plane, oy*sh - ph + ki, ox*sw - pw + kj]
                                                        over the window's (ki, kj) inside x
    """
    for task in prange(planes):
        t = np.int64(task)
        xbase = t * h * w
        obase = t * oh * ow
        for oy in range(oh):
            for ox in range(ow):
                best, where = _window_max(x, xbase, h, w, oy * sh - ph, ox * sw - pw, kh, kw)
                out[obase + oy * ow + ox] = best
                argmax[obase + oy * ow + ox] = where


@njit(parallel=True, **JIT)
def max_pool_backward(gx, g, argmax, planes, h, w, oh, ow):
    """gx (planes, h, w): each output gradient goes to the input position that was its maximum."""
    for task in prange(planes):
        t = np.int64(task)
        xbase = t * h * w
        obase = t * oh * ow
        for i in range(h * w):
            gx[xbase + i] = 0.0
        for p in range(oh * ow):
            where = argmax[obase + p]
            if where >= 0:
                gx[xbase + where] += g[obase + p]


@njit(parallel=True, **JIT)
def avg_pool_forward(out, x, planes, h, w, kh, kw, oh, ow, sh, sw, ph, pw):
    """Window means of x (planes, h, w); padding counts as zeros (PyTorch's count_include_pad=True).

        for plane, oy, ox:
            out[plane, oy, ox] = sum of x[plane, oy*sh - ph + ki, ox*sw - pw + kj] over the window / (kh*kw)
    """
    for task in prange(planes):
        t = np.int64(task)
        xbase = t * h * w
        obase = t * oh * ow
        for oy in range(oh):
            for ox in range(ow):
                out[obase + oy * ow + ox] = _window_mean(x, xbase, h, w, oy * sh - ph, ox * sw - pw, kh, kw)


@njit(parallel=True, **JIT)
def avg_pool_backward(gx, g, planes, h, w, kh, kw, oh, ow, sh, sw, ph, pw):
    """gx (planes, h, w): each output gradient spread evenly over its window (window_mean's transpose:
    a scatter, as one task owns a whole plane).

        for plane, oy, ox, (ki, kj) inside x:
            gx[plane, oy*sh - ph + ki, ox*sw - pw + kj] += g[plane, oy, ox] / (kh*kw)
    """
    scale = 1.0 / (kh * kw)
    for task in prange(planes):
        t = np.int64(task)
        xbase = t * h * w
        obase = t * oh * ow
        for i in range(h * w):
            gx[xbase + i] = 0.0
        for oy in range(oh):
            iy0 = oy * sh - ph
            for ox in range(ow):
                ix0 = ox * sw - pw
                share = g[obase + oy * ow + ox] * scale
                for iy in range(max(iy0, 0), min(iy0 + kh, h)):  # the window clipped to x (`window.py`)
                    row = xbase + iy * w
                    for ix in range(max(ix0, 0), min(ix0 + kw, w)):
                        gx[row + ix] += share


# ------------------------------------------------------------ the numba backend's fused kernels (`base.Backend`)
# geo = (batch, c_in, h, w, c_out, kh, kw, oh, ow, sh, sw, ph, pw), all Python ints


def conv2d_forward(out: np.ndarray, x: np.ndarray, w: np.ndarray, b: np.ndarray | None, geo: tuple) -> np.ndarray:
    """out = conv(x, w) + b. Returns `cols`, which the weight gradient reuses instead of rebuilding it."""
    batch, c_in, h, wd, c_out, kh, kw, oh, ow, sh, sw, ph, pw = geo
    rows, plane = c_in * kh * kw, oh * ow
    cols = host_pool.empty(batch * rows * plane, x.dtype)
    im2col(cols, x, batch, c_in, h, wd, kh, kw, oh, ow, sh, sw, ph, pw)
    small_by_long(out, w, cols, batch, c_out, rows, plane, rows, 1)  # w @ cols[n]
    if b is not None:
        add_channel_bias(out, b, batch, c_out, plane)
    return cols


def conv2d_input_grad(gx: np.ndarray, g: np.ndarray, w: np.ndarray, geo: tuple) -> None:
    batch, c_in, h, wd, c_out, kh, kw, oh, ow, sh, sw, ph, pw = geo
    rows, plane = c_in * kh * kw, oh * ow
    grad_cols = host_pool.empty(batch * rows * plane, gx.dtype)
    small_by_long(grad_cols, w, g, batch, rows, c_out, plane, 1, rows)  # w^T @ g[n]
    col2im(gx, grad_cols, batch, c_in, h, wd, kh, kw, oh, ow, sh, sw, ph, pw)


def conv2d_weight_grad(gw: np.ndarray, g: np.ndarray, x: np.ndarray, cols: np.ndarray | None, geo: tuple) -> None:
    batch, c_in, h, wd, c_out, kh, kw, oh, ow, sh, sw, ph, pw = geo
    if cols is None:
        cols = host_pool.empty(batch * c_in * kh * kw * oh * ow, x.dtype)
        im2col(cols, x, batch, c_in, h, wd, kh, kw, oh, ow, sh, sw, ph, pw)
    conv_weight_grad(gw, g, cols, gw.dtype.type(0), batch, c_out, c_in * kh * kw, oh * ow)


def conv2d_bias_grad(gb: np.ndarray, g: np.ndarray, geo: tuple) -> None:
    channel_sum(gb, g, gb.dtype.type(0), geo[0], geo[4], geo[7] * geo[8])


def max_pool2d_forward(out: np.ndarray, x: np.ndarray, geo: tuple) -> np.ndarray:
    """geo = (planes, h, w, kh, kw, oh, ow, sh, sw, ph, pw). Returns argmax, each maximum's position in its plane."""
    argmax = np.empty(max(geo[0] * geo[5] * geo[6], 1), dtype=np.int64)
    max_pool_forward(out, argmax, x, *geo)
    return argmax


def max_pool2d_backward(gx: np.ndarray, g: np.ndarray, argmax: np.ndarray, geo: tuple) -> None:
    planes, h, w, _, _, oh, ow = geo[:7]
    max_pool_backward(gx, g, argmax, planes, h, w, oh, ow)


def avg_pool2d_forward(out: np.ndarray, x: np.ndarray, geo: tuple) -> None:
    avg_pool_forward(out, x, *geo)


def avg_pool2d_backward(gx: np.ndarray, g: np.ndarray, geo: tuple) -> None:
    avg_pool_backward(gx, g, *geo)
