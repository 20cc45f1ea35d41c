"""numba.cuda kernels for convolution and pooling over contiguous NCHW device arrays.

One GPU thread computes one element of a result, always by *gathering*: the thread of an output
element reads its window; the thread of an input gradient element finds the few outputs whose
window covered it. So no two threads write the same element and no atomics are needed, which
also keeps the sums deterministic. Padding is handled by clipping each window to the image
(nothing is copied); that window arithmetic is `backends/window.py`'s, which the CPU kernels
compile too.
The weight and bias gradients have few elements, each a sum over the whole batch: there one
block per element spreads that sum over its threads and adds their parts as a tree.

Kernels take 1-D device arrays and sizes as plain ints: passing NumPy arrays would silently copy
them to and from the GPU on every launch. The Python wrappers at the bottom are the cuda backend's
fused convolution and pooling kernels (the contract is in `base.Backend`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import cuda, float64

from .. import window
from .kernels import SIMULATED, block_sum
from .launch import launch

THREADS = 256  # threads per block: a multiple of the 32-thread warp
SUM_THREADS = 16 if SIMULATED else 256  # threads of a block that sums (the simulator runs each as a Python thread)
MAX_SUM_BLOCKS = 4 if SIMULATED else 65535  # the block loops cover the rest


# the window arithmetic shared with numba/conv.py, as device functions
_window_max = cuda.jit(device=True)(window.window_max)
_window_mean = cuda.jit(device=True)(window.window_mean)
_window_dot = cuda.jit(device=True)(window.window_dot)
_covering = cuda.jit(device=True)(window.covering)


@cuda.jit(device=True)
def _nchw(i, c, h, w):  # noqa: ANN001, ANN202
    """(n, c, y, x): the index of the i-th element of a contiguous (N, c, h, w) array."""
    return i // (c * h * w), (i // (h * w)) % c, (i // w) % h, i % w


def _launch(kernel: Any, total: int, *args: Any) -> None:
    if total > 0:
        launch(kernel, (total + THREADS - 1) // THREADS, THREADS, *args)


def _launch_sums(kernel: Any, outputs: int, *args: Any) -> None:
    """One block of SUM_THREADS threads per output of a summing kernel."""
    if outputs > 0:
        launch(kernel, min(outputs, MAX_SUM_BLOCKS), SUM_THREADS, *args)


@cuda.jit
def _conv_forward(out, x, w, b, has_bias, batch, c_in, h, wd, c_out, kh, kw, oh, ow, sh, sw, ph, pw):
    """out[n, co, oy, ox] = b[co] + sum over ci of x[n, ci]'s window at (oy*sh - ph, ox*sw - pw) times w[co, ci]."""
    i = cuda.grid(1)
    if i >= batch * c_out * oh * ow:
        return
    n, co, oy, ox = _nchw(i, c_out, oh, ow)
    acc = b[co] if has_bias else 0.0
    for ci in range(c_in):
        xbase = (n * c_in + ci) * h * wd
        acc += _window_dot(x, xbase, h, wd, oy * sh - ph, ox * sw - pw, kh, kw, w, (co * c_in + ci) * kh * kw)
    out[i] = acc


@cuda.jit
def _conv_input_grad(gx, g, w, batch, c_in, h, wd, c_out, kh, kw, oh, ow, sh, sw, ph, pw):
    """gx[n, ci, iy, ix] = sum over co and the outputs (oy, ox) whose window reads (iy, ix), at its tap
    (ki, kj) = (iy + ph - oy*sh, ix + pw - ox*sw), of g[n, co, oy, ox] * w[co, ci, ki, kj]."""
    i = cuda.grid(1)
    if i >= batch * c_in * h * wd:
        return
    n, ci, iy, ix = _nchw(i, c_in, h, wd)
    y0, y1 = _covering(iy, ph, kh, sh, oh)
    x0, x1 = _covering(ix, pw, kw, sw, ow)
    acc = 0.0
    for oy in range(y0, y1):
        ki = iy + ph - oy * sh
        for ox in range(x0, x1):
            kj = ix + pw - ox * sw
            for co in range(c_out):
                acc += w[((co * c_in + ci) * kh + ki) * kw + kj] * g[((n * c_out + co) * oh + oy) * ow + ox]
    gx[i] = acc


@cuda.jit
def _conv_weight_grad(gw, g, x, batch, c_in, h, wd, c_out, kh, kw, oh, ow, sh, sw, ph, pw):
    # one block per weight element: its batch * oh * ow products are spread over the block's
    # threads (a weight has few elements: one thread each would leave most of the GPU idle)
    partial = cuda.shared.array(SUM_THREADS, float64)
    t = cuda.threadIdx.x
    plane = oh * ow
    for i in range(cuda.blockIdx.x, c_out * c_in * kh * kw, cuda.gridDim.x):
        kj = i % kw
        ki = (i // kw) % kh
        ci = (i // (kw * kh)) % c_in
        co = i // (kw * kh * c_in)
        acc = 0.0
        for p in range(t, batch * plane, cuda.blockDim.x):  # neighbouring threads: neighbouring ox
            n = p // plane
            oy = (p % plane) // ow
            ox = p % ow
            iy = oy * sh + ki - ph
            ix = ox * sw + kj - pw
            if iy >= 0 and iy < h and ix >= 0 and ix < wd:
                acc += g[(n * c_out + co) * plane + oy * ow + ox] * x[((n * c_in + ci) * h + iy) * wd + ix]
        total = block_sum(partial, t, acc)  # ends synchronised: partial is free for the next element
        if t == 0:
            gw[i] = total


@cuda.jit
def _channel_sum(out, g, batch, channels, plane):
    # one block per channel, its threads striding over batch * plane
    partial = cuda.shared.array(SUM_THREADS, float64)
    t = cuda.threadIdx.x
    for c in range(cuda.blockIdx.x, channels, cuda.gridDim.x):
        acc = 0.0
        for p in range(t, batch * plane, cuda.blockDim.x):
            acc += g[((p // plane) * channels + c) * plane + p % plane]
        total = block_sum(partial, t, acc)
        if t == 0:
            out[c] = total


@cuda.jit
def _max_pool_forward(out, argmax, x, planes, h, w, kh, kw, oh, ow, sh, sw, ph, pw):
    """out[plane, oy, ox], argmax[plane, oy, ox] = the first maximum of the window at (oy*sh - ph, ox*sw - pw)."""
    i = cuda.grid(1)
    if i >= planes * oh * ow:
        return
    ox = i % ow
    oy = (i // ow) % oh
    best, where = _window_max(x, (i // (ow * oh)) * h * w, h, w, oy * sh - ph, ox * sw - pw, kh, kw)
    out[i] = best
    argmax[i] = where


@cuda.jit
def _avg_pool_forward(out, x, planes, h, w, kh, kw, oh, ow, sh, sw, ph, pw):
    """out[plane, oy, ox] = the mean of the window at (oy*sh - ph, ox*sw - pw), padding counted as zeros."""
    i = cuda.grid(1)
    if i >= planes * oh * ow:
        return
    ox = i % ow
    oy = (i // ow) % oh
    out[i] = _window_mean(x, (i // (ow * oh)) * h * w, h, w, oy * sh - ph, ox * sw - pw, kh, kw)


@cuda.jit
def _pool_backward(gx, g, argmax, is_max, planes, h, w, kh, kw, oh, ow, sh, sw, ph, pw):
    """gx[plane, iy, ix] = sum over the outputs o whose window reads (iy, ix) of g[plane, o]: all of it
    where (iy, ix) was o's argmax (max pooling, is_max), else g[plane, o] / (kh*kw) (average pooling)."""
    i = cuda.grid(1)
    if i >= planes * h * w:
        return
    pos = i % (h * w)
    obase = (i // (h * w)) * oh * ow
    y0, y1 = _covering(pos // w, ph, kh, sh, oh)
    x0, x1 = _covering(pos % w, pw, kw, sw, ow)
    scale = 1.0 / (kh * kw)
    acc = 0.0
    for oy in range(y0, y1):
        for ox in range(x0, x1):
            o = obase + oy * ow + ox
            if not is_max:
                acc += g[o] * scale
            elif argmax[o] == pos:
                acc += g[o]
    gx[i] = acc


# ------------------------------------------------------------ the cuda backend's fused kernels (`base.Backend`)
# geo = (batch, c_in, h, w, c_out, kh, kw, oh, ow, sh, sw, ph, pw), all Python ints


def conv2d_forward(out: Any, x: Any, w: Any, b: Any | None, geo: tuple[int, ...]) -> Any:
    """out = conv(x, w) + b. Returns what backward needs besides x and w: nothing on the GPU."""
    batch, _, _, _, c_out, _, _, oh, ow = geo[:9]
    # without a bias, w stands in for b so the kernel keeps one signature; has_bias=False skips it
    _launch(_conv_forward, batch * c_out * oh * ow, out, x, w, w if b is None else b, b is not None, *geo)
    return None


def conv2d_input_grad(gx: Any, g: Any, w: Any, geo: tuple[int, ...]) -> None:
    batch, c_in, h, wd = geo[:4]
    _launch(_conv_input_grad, batch * c_in * h * wd, gx, g, w, *geo)


def conv2d_weight_grad(gw: Any, g: Any, x: Any, saved: Any, geo: tuple[int, ...]) -> None:
    _, c_in, _, _, c_out, kh, kw = geo[:7]
    _launch_sums(_conv_weight_grad, c_out * c_in * kh * kw, gw, g, x, *geo)


def conv2d_bias_grad(gb: Any, g: Any, geo: tuple[int, ...]) -> None:
    batch, c_out, oh, ow = geo[0], geo[4], geo[7], geo[8]
    _launch_sums(_channel_sum, c_out, gb, g, batch, c_out, oh * ow)


def max_pool2d_forward(out: Any, x: Any, geo: tuple[int, ...]) -> Any:
    """geo = (planes, h, w, kh, kw, oh, ow, sh, sw, ph, pw). Returns argmax (a device array)."""
    planes, oh, ow = geo[0], geo[5], geo[6]
    argmax = cuda.device_array(max(planes * oh * ow, 1), dtype=np.int64)
    _launch(_max_pool_forward, planes * oh * ow, out, argmax, x, *geo)
    return argmax


def max_pool2d_backward(gx: Any, g: Any, argmax: Any, geo: tuple[int, ...]) -> None:
    planes, h, w = geo[:3]
    _launch(_pool_backward, planes * h * w, gx, g, argmax, True, *geo)


def avg_pool2d_forward(out: Any, x: Any, geo: tuple[int, ...]) -> None:
    planes, oh, ow = geo[0], geo[5], geo[6]
    _launch(_avg_pool_forward, planes * oh * ow, out, x, *geo)


def avg_pool2d_backward(gx: Any, g: Any, geo: tuple[int, ...]) -> None:
    planes, h, w = geo[:3]
    _launch(_pool_backward, planes * h * w, gx, g, g, False, *geo)
