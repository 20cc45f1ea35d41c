"""The fused kernels' defaults, written with a backend's own map / zip / reduce / matmul kernels.

A backend that registers no fast convolution, pooling, loss or optimizer kernel runs these
(`Backend.conv2d_forward` and friends call them), so its four primitives run every layer.
Each default is a few whole-tensor kernel calls over strided views of the storages:

- convolution is im2col, one strided copy (`map`) of the padded input into columns
  cols[n, oy, ox, ci, ki, kj], then one batched `matmul` with the weight; its backward is the
  transposed products, and col2im adds the columns back window offset by window offset (`zip`);
- a pooling window is kh*kw strided views of the padded input (one per offset ki, kj) folded
  with `zip`; max pooling remembers, per output, the ordinal ki*kw + kj of its first maximum;
- softmax cross-entropy and the optimizer updates are the formulas in `base.Backend`'s
  docstrings, one kernel per operation, with constants as one-element storages read at stride 0;
- a running sum is Hillis and Steele's scan, log2(n) whole-tensor `zip` passes; a flip copies
  each slice along a flipped dim to its mirrored place (`map`), one kernel per slice.

They are slower than a backend's own fused kernels (more passes over memory, temporaries), never
different: the tests compare them with the numba backend's.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from . import scalar
from .shape import contiguous_strides, size_of

if TYPE_CHECKING:
    from .base import Backend, Geometry, Storage


# ---------------------------------------------------------------------- helpers
def _const(backend: Backend, value: float, dtype: Any) -> Storage:
    """A one-element storage: read with stride 0, it is `value` at every index."""
    return backend.storage.full(1, value, dtype)


def _copy(backend: Backend, out: Storage, out_strides: tuple, a: Storage, a_strides: tuple, shape: tuple) -> None:
    if size_of(shape):
        backend.map(scalar.identity)(out, out_strides, a, a_strides, shape)


def _zip(backend: Backend, fn: Any, out: Any, a: Any, b: Any, shape: tuple) -> None:
    """out = fn(a, b); `out`, `a`, `b` are (storage, strides) pairs over `shape`."""
    if size_of(shape):
        backend.zip(fn)(out[0], out[1], a[0], a[1], b[0], b[1], shape)


def _fill(backend: Backend, out: Storage, n: int, value: float) -> None:
    _copy(backend, out, (1,), _const(backend, value, out.dtype), (0,), (n,))


def _padded(backend: Backend, x: Storage, shape4: tuple, pad: tuple, value: float) -> tuple[Storage, int, int]:
    """x (a, b, h, w) copied into a fresh (a, b, h + 2 ph, w + 2 pw) storage filled with `value`."""
    a, b, h, w = shape4
    ph, pw = pad
    if not ph and not pw:
        return x, h, w
    hp, wp = h + 2 * ph, w + 2 * pw
    xp = backend.storage.full(a * b * hp * wp, value, x.dtype)
    _copy(backend, xp[ph * wp + pw :], (b * hp * wp, hp * wp, wp, 1), x, contiguous_strides(shape4), shape4)
    return xp, hp, wp


def _unpad(backend: Backend, gx: Storage, gxp: Storage, shape4: tuple, hp: int, wp: int, pad: tuple) -> None:
    """gx (a, b, h, w) = the interior of the padded gxp (a, b, hp, wp)."""
    a, b, h, w = shape4
    ph, pw = pad
    _copy(backend, gx, contiguous_strides(shape4), gxp[ph * wp + pw :], (b * hp * wp, hp * wp, wp, 1), shape4)


def _window(planes_stride: tuple, hp: int, wp: int, sh: int, sw: int, ki: int, kj: int) -> tuple[int, tuple]:
    """(offset, strides) of the (..., oh, ow) view of a padded input at window offset (ki, kj)."""
    return ki * wp + kj, planes_stride + (sh * wp, sw)


# ---------------------------------------------------------------------- convolution
def _im2col(backend: Backend, x: Storage, geo: Geometry) -> Storage:
    """cols (batch, oh, ow, c_in, kh, kw) = x_padded[n, ci, oy*sh + ki, ox*sw + kj]: one strided copy."""
    batch, c_in, h, w, _, kh, kw, oh, ow, sh, sw, ph, pw = geo
    xp, hp, wp = _padded(backend, x, (batch, c_in, h, w), (ph, pw), 0.0)
    shape = (batch, oh, ow, c_in, kh, kw)
    cols = backend.storage.empty(max(size_of(shape), 1), x.dtype)
    _copy(backend, cols, contiguous_strides(shape), xp, (c_in * hp * wp, sh * wp, sw, hp * wp, wp, 1), shape)
    return cols


def conv2d_forward(backend: Backend, out: Storage, x: Storage, w: Storage, b: Storage | None, geo: Geometry) -> Any:
    batch, c_in, _, _, c_out, kh, kw, oh, ow = geo[:9]
    rows, plane = c_in * kh * kw, oh * ow
    cols = _im2col(backend, x, geo)
    # out[n, co, p] = sum_j cols[n, p, j] * w[co, j]: (batch, plane, rows) @ w.T, written through
    # out's (n, p, co) strides, so no transpose is copied
    backend.matmul(
        out, (c_out * plane, 1, plane), cols, (plane * rows, rows, 1), w, (0, 1, rows), (batch, plane, c_out), rows
    )
    if b is not None:
        shape = (batch, c_out, plane)
        o = (out, contiguous_strides(shape))
        _zip(backend, scalar.add, o, o, (b, (0, 1, 0)), shape)
    return cols


def conv2d_input_grad(backend: Backend, gx: Storage, g: Storage, w: Storage, geo: Geometry) -> None:
    batch, c_in, h, wd, c_out, kh, kw, oh, ow, sh, sw, ph, pw = geo
    rows, plane = c_in * kh * kw, oh * ow
    # grad_cols[n, p, j] = sum_co g[n, co, p] * w[co, j]
    gcols = backend.storage.empty(max(batch * plane * rows, 1), gx.dtype)
    shape = (batch, plane, rows)
    backend.matmul(gcols, contiguous_strides(shape), g, (c_out * plane, 1, plane), w, (0, rows, 1), shape, c_out)
    # col2im: add the columns of each window offset onto the padded input gradient
    hp, wp = h + 2 * ph, wd + 2 * pw
    gxp = backend.storage.full(max(batch * c_in * hp * wp, 1), 0.0, gx.dtype)
    view = (batch, c_in, oh, ow)
    for ki in range(kh):
        for kj in range(kw):
            offset, strides = _window((c_in * hp * wp, hp * wp), hp, wp, sh, sw, ki, kj)
            target = (gxp[offset:], strides)
            cols = (gcols[ki * kw + kj :], (plane * rows, kh * kw, ow * rows, rows))
            _zip(backend, scalar.add, target, target, cols, view)
    _unpad(backend, gx, gxp, (batch, c_in, h, wd), hp, wp, (ph, pw))


def conv2d_weight_grad(backend: Backend, gw: Storage, g: Storage, x: Storage, saved: Any, geo: Geometry) -> None:
    batch, c_in, _, _, c_out, kh, kw, oh, ow = geo[:9]
    rows, plane = c_in * kh * kw, oh * ow
    cols = saved if saved is not None else _im2col(backend, x, geo)
    # per sample g[n] (c_out, plane) @ cols[n] (plane, rows), then the sum over the batch
    shape = (batch, c_out, rows)
    per_sample = backend.storage.empty(max(size_of(shape), 1), gw.dtype)
    backend.matmul(
        per_sample, contiguous_strides(shape), g, (c_out * plane, plane, 1), cols, (plane * rows, rows, 1), shape, plane
    )
    _fill(backend, gw, c_out * rows, 0.0)
    backend.reduce(scalar.add)(gw, (0, rows, 1), per_sample, contiguous_strides(shape), shape, 0)


def conv2d_bias_grad(backend: Backend, gb: Storage, g: Storage, geo: Geometry) -> None:
    batch, c_out, plane = geo[0], geo[4], geo[7] * geo[8]
    shape = (batch, c_out, plane)
    per_sample = backend.storage.full(max(batch * c_out, 1), 0.0, gb.dtype)
    backend.reduce(scalar.add)(per_sample, (c_out, 1, 0), g, contiguous_strides(shape), shape, 2)
    _fill(backend, gb, c_out, 0.0)
    backend.reduce(scalar.add)(gb, (0, 1, 0), per_sample, (c_out, 1, 0), (batch, c_out, 1), 0)


# ---------------------------------------------------------------------- pooling
def _pool_views(geo: Geometry, hp: int, wp: int) -> list[tuple[int, tuple]]:
    """(offset, strides) of each window offset's (planes, oh, ow) view, in the order ki, kj."""
    _, _, _, kh, kw, _, _, sh, sw = geo[:9]
    return [_window((hp * wp,), hp, wp, sh, sw, ki, kj) for ki in range(kh) for kj in range(kw)]


def max_pool2d_forward(backend: Backend, out: Storage, x: Storage, geo: Geometry) -> Any:
    planes, h, w, _, _, oh, ow, _, _, ph, pw = geo
    xp, hp, wp = _padded(backend, x, (1, planes, h, w), (ph, pw), -math.inf)
    shape = (planes, oh, ow)
    n = size_of(shape)
    o = (out, contiguous_strides(shape))
    # which window offset holds the first maximum so far: its ordinal, in x's dtype (kh*kw is small)
    best = (backend.storage.full(max(n, 1), 0.0, x.dtype), o[1])
    beats = (backend.storage.empty(max(n, 1), x.dtype), o[1])
    moved = (backend.storage.empty(max(n, 1), x.dtype), o[1])
    for k, (offset, strides) in enumerate(_pool_views(geo, hp, wp)):
        window = (xp[offset:], strides)
        if k == 0:
            _copy(backend, out, o[1], window[0], strides, shape)
            continue
        _zip(backend, scalar.lt, beats, o, window, shape)  # strictly larger: the first maximum stays
        ordinal = (_const(backend, float(k), x.dtype), (0, 0, 0))
        _zip(backend, scalar.sub, moved, ordinal, best, shape)  # best += beats * (k - best)
        _zip(backend, scalar.mul, moved, moved, beats, shape)
        _zip(backend, scalar.add, best, best, moved, shape)
        _zip(backend, scalar.maximum, o, o, window, shape)
    return best[0]


def _pool_grad_buffers(backend: Backend, gx: Storage, geo: Geometry) -> tuple[Any, ...]:
    """For a pooling backward: the zeroed padded input gradient, its padded size, the output's shape
    and strides, and a buffer shaped like the output for each window offset's share."""
    planes, h, w, _, _, oh, ow, _, _, ph, pw = geo
    hp, wp = h + 2 * ph, w + 2 * pw
    gxp = backend.storage.full(max(planes * hp * wp, 1), 0.0, gx.dtype)
    shape = (planes, oh, ow)
    dense = contiguous_strides(shape)
    share = (backend.storage.empty(max(size_of(shape), 1), gx.dtype), dense)
    return gxp, hp, wp, shape, dense, share


def max_pool2d_backward(backend: Backend, gx: Storage, g: Storage, saved: Any, geo: Geometry) -> None:
    planes, h, w, ph, pw = geo[0], geo[1], geo[2], geo[9], geo[10]
    gxp, hp, wp, shape, dense, share = _pool_grad_buffers(backend, gx, geo)
    for k, (offset, strides) in enumerate(_pool_views(geo, hp, wp)):
        ordinal = (_const(backend, float(k), gx.dtype), (0, 0, 0))
        _zip(backend, scalar.eq, share, (saved, dense), ordinal, shape)  # 1 where offset k won
        _zip(backend, scalar.mul, share, share, (g, dense), shape)
        target = (gxp[offset:], strides)
        _zip(backend, scalar.add, target, target, share, shape)
    _unpad(backend, gx, gxp, (1, planes, h, w), hp, wp, (ph, pw))


def avg_pool2d_forward(backend: Backend, out: Storage, x: Storage, geo: Geometry) -> None:
    planes, h, w, kh, kw, oh, ow, _, _, ph, pw = geo
    xp, hp, wp = _padded(backend, x, (1, planes, h, w), (ph, pw), 0.0)
    shape = (planes, oh, ow)
    o = (out, contiguous_strides(shape))
    _fill(backend, out, size_of(shape), 0.0)
    for offset, strides in _pool_views(geo, hp, wp):
        _zip(backend, scalar.add, o, o, (xp[offset:], strides), shape)
    _zip(backend, scalar.mul, o, o, (_const(backend, 1.0 / (kh * kw), out.dtype), (0, 0, 0)), shape)


def avg_pool2d_backward(backend: Backend, gx: Storage, g: Storage, geo: Geometry) -> None:
    planes, h, w, kh, kw, ph, pw = geo[0], geo[1], geo[2], geo[3], geo[4], geo[9], geo[10]
    gxp, hp, wp, shape, dense, share = _pool_grad_buffers(backend, gx, geo)
    _zip(backend, scalar.mul, share, (g, dense), (_const(backend, 1.0 / (kh * kw), gx.dtype), (0, 0, 0)), shape)
    for offset, strides in _pool_views(geo, hp, wp):
        target = (gxp[offset:], strides)
        _zip(backend, scalar.add, target, target, share, shape)
    _unpad(backend, gx, gxp, (1, planes, h, w), hp, wp, (ph, pw))


# ---------------------------------------------------------------------- softmax cross-entropy
def _one_hot(backend: Backend, out: Storage, classes: Storage, n: int, c: int) -> None:
    """out (n, c) = 1 where j == classes[i], else 0: the classes against an arange, broadcast."""
    columns = backend.storage.arange(0.0, 1.0, c, classes.dtype)
    _zip(backend, scalar.eq, (out, (c, 1)), (classes, (1, 0)), (columns, (0, 1)), (n, c))


def softmax_cross_entropy_forward(
    backend: Backend, loss: Storage, probs: Storage, x: Storage, classes: Storage, n: int, c: int
) -> None:
    dtype, rows, column = x.dtype, (c, 1), (1, 0)  # column: one value per row, broadcast along it
    shape = (n, c)
    top = backend.storage.full(max(n, 1), -math.inf, dtype)
    backend.reduce(scalar.maximum)(top, column, x, rows, shape, 1)
    shifted = backend.storage.empty(max(n * c, 1), dtype)
    _zip(backend, scalar.sub, (shifted, rows), (x, rows), (top, column), shape)
    _copy(backend, probs, rows, shifted, rows, shape)
    if n * c:
        backend.map(scalar.exp)(probs, rows, shifted, rows, shape)
    total = backend.storage.full(max(n, 1), 0.0, dtype)
    backend.reduce(scalar.add)(total, column, probs, rows, shape, 1)
    _zip(backend, scalar.div, (probs, rows), (probs, rows), (total, column), shape)
    if n:
        backend.map(scalar.log)(total, (1,), total, (1,), (n,))
    _zip(backend, scalar.sub, (shifted, rows), (shifted, rows), (total, column), shape)  # log-probabilities
    onehot = backend.storage.empty(max(n * c, 1), dtype)
    _one_hot(backend, onehot, classes, n, c)
    _zip(backend, scalar.mul, (shifted, rows), (shifted, rows), (onehot, rows), shape)
    picked = backend.storage.full(max(n, 1), 0.0, dtype)
    backend.reduce(scalar.add)(picked, column, shifted, rows, shape, 1)
    if n:
        backend.map(scalar.neg)(loss, (1,), picked, (1,), (n,))


def softmax_cross_entropy_backward(
    backend: Backend, gx: Storage, probs: Storage, classes: Storage, g: Storage, g_step: int, n: int, c: int
) -> None:
    rows, shape = (c, 1), (n, c)
    _one_hot(backend, gx, classes, n, c)
    _zip(backend, scalar.sub, (gx, rows), (probs, rows), (gx, rows), shape)
    _zip(backend, scalar.mul, (gx, rows), (gx, rows), (g, (g_step, 0)), shape)


# ---------------------------------------------------------------------- softmax, layer norm
def _row_fold(backend: Backend, fn: Any, a: Storage, n: int, c: int, start: float) -> Storage:
    """(n,) storage: fn folded over each row of a (n, c), from `start`."""
    out = backend.storage.full(max(n, 1), start, a.dtype)
    backend.reduce(fn)(out, (1, 0), a, (c, 1), (n, c), 1)
    return out


def _map_rows(backend: Backend, fn: Any, out: Storage, a: Storage, n: int) -> None:
    if n:
        backend.map(fn)(out, (1,), a, (1,), (n,))


def softmax_forward(backend: Backend, out: Storage, x: Storage, n: int, c: int, log: bool) -> None:
    rows, column, shape = (c, 1), (1, 0), (n, c)
    if not n * c:
        return
    top = _row_fold(backend, scalar.maximum, x, n, c, -math.inf)
    if log:
        _map_rows(backend, scalar.finite_or_zero, top, top, n)
    _zip(backend, scalar.sub, (out, rows), (x, rows), (top, column), shape)  # x - m
    e = backend.storage.empty(n * c, x.dtype)
    backend.map(scalar.exp)(e, rows, out, rows, shape)
    total = _row_fold(backend, scalar.add, e, n, c, 0.0)
    if log:
        _map_rows(backend, scalar.log, total, total, n)
        _zip(backend, scalar.sub, (out, rows), (out, rows), (total, column), shape)
    else:
        _zip(backend, scalar.div, (out, rows), (e, rows), (total, column), shape)


def softmax_backward(backend: Backend, gx: Storage, y: Storage, g: Storage, n: int, c: int, log: bool) -> None:
    rows, column, shape = (c, 1), (1, 0), (n, c)
    if not n * c:
        return
    if log:
        total = _row_fold(backend, scalar.add, g, n, c, 0.0)
        backend.map(scalar.exp)(gx, rows, y, rows, shape)
        _zip(backend, scalar.mul, (gx, rows), (gx, rows), (total, column), shape)
        _zip(backend, scalar.sub, (gx, rows), (g, rows), (gx, rows), shape)
        return
    _zip(backend, scalar.mul, (gx, rows), (g, rows), (y, rows), shape)
    dot = _row_fold(backend, scalar.add, gx, n, c, 0.0)
    _zip(backend, scalar.sub, (gx, rows), (g, rows), (dot, column), shape)
    _zip(backend, scalar.mul, (gx, rows), (gx, rows), (y, rows), shape)


def _normalised(backend: Backend, xhat: Storage, x: Storage, mean: Storage, rstd: Storage, n: int, c: int) -> None:
    rows, column, shape = (c, 1), (1, 0), (n, c)
    _zip(backend, scalar.sub, (xhat, rows), (x, rows), (mean, column), shape)
    _zip(backend, scalar.mul, (xhat, rows), (xhat, rows), (rstd, column), shape)


def layer_norm_forward(
    backend: Backend, out: Storage, mean: Storage, rstd: Storage, x: Storage, w: Storage | None,
    b: Storage | None, n: int, c: int, eps: float,
) -> None:
    rows, column, shape = (c, 1), (1, 0), (n, c)
    if not n * c:
        return
    total = _row_fold(backend, scalar.add, x, n, c, 0.0)
    _zip(backend, scalar.mul, (mean, (1,)), (total, (1,)), (_const(backend, 1.0 / c, x.dtype), (0,)), (n,))
    _zip(backend, scalar.sub, (out, rows), (x, rows), (mean, column), shape)  # deviations
    square = backend.storage.empty(n * c, x.dtype)
    _zip(backend, scalar.mul, (square, rows), (out, rows), (out, rows), shape)
    var = _row_fold(backend, scalar.add, square, n, c, 0.0)
    _zip(backend, scalar.mul, (var, (1,)), (var, (1,)), (_const(backend, 1.0 / c, x.dtype), (0,)), (n,))
    _zip(backend, scalar.add, (var, (1,)), (var, (1,)), (_const(backend, eps, x.dtype), (0,)), (n,))
    _map_rows(backend, scalar.sqrt, var, var, n)
    _zip(backend, scalar.div, (rstd, (1,)), (_const(backend, 1.0, x.dtype), (0,)), (var, (1,)), (n,))
    _zip(backend, scalar.mul, (out, rows), (out, rows), (rstd, column), shape)
    if w is not None and b is not None:
        _zip(backend, scalar.mul, (out, rows), (out, rows), (w, (0, 1)), shape)
        _zip(backend, scalar.add, (out, rows), (out, rows), (b, (0, 1)), shape)


def layer_norm_backward(
    backend: Backend, gx: Storage | None, gw: Storage | None, gb: Storage | None, g: Storage, x: Storage,
    mean: Storage, rstd: Storage, w: Storage | None, n: int, c: int,
) -> None:
    rows, column, shape = (c, 1), (1, 0), (n, c)
    if not n * c:
        return
    xhat = backend.storage.empty(n * c, x.dtype)
    _normalised(backend, xhat, x, mean, rstd, n, c)
    tmp = backend.storage.empty(n * c, x.dtype)
    if gw is not None and gb is not None:
        _zip(backend, scalar.mul, (tmp, rows), (g, rows), (xhat, rows), shape)
        _fill(backend, gw, c, 0.0)
        _fill(backend, gb, c, 0.0)
        backend.reduce(scalar.add)(gw, (0, 1), tmp, rows, shape, 0)
        backend.reduce(scalar.add)(gb, (0, 1), g, rows, shape, 0)
    if gx is None:
        return
    gh = backend.storage.empty(n * c, x.dtype)
    if w is not None:
        _zip(backend, scalar.mul, (gh, rows), (g, rows), (w, (0, 1)), shape)
    else:
        _copy(backend, gh, rows, g, rows, shape)
    inv_c = (_const(backend, 1.0 / c, x.dtype), (0,))
    s1 = _row_fold(backend, scalar.add, gh, n, c, 0.0)
    _zip(backend, scalar.mul, (s1, (1,)), (s1, (1,)), inv_c, (n,))
    _zip(backend, scalar.mul, (tmp, rows), (gh, rows), (xhat, rows), shape)
    s2 = _row_fold(backend, scalar.add, tmp, n, c, 0.0)
    _zip(backend, scalar.mul, (s2, (1,)), (s2, (1,)), inv_c, (n,))
    _zip(backend, scalar.mul, (tmp, rows), (xhat, rows), (s2, column), shape)  # xhat * mean(gh xhat)
    _zip(backend, scalar.sub, (gx, rows), (gh, rows), (s1, column), shape)
    _zip(backend, scalar.sub, (gx, rows), (gx, rows), (tmp, rows), shape)
    _zip(backend, scalar.mul, (gx, rows), (gx, rows), (rstd, column), shape)


# ---------------------------------------------------------------------- optimizer updates
def _scaled(backend: Backend, out: Storage, a: Storage, factor: float, n: int) -> None:
    """out = factor * a over n contiguous elements."""
    _zip(backend, scalar.mul, (out, (1,)), (a, (1,)), (_const(backend, factor, out.dtype), (0,)), (n,))


def axpby(backend: Backend, y: Storage, x: Storage, alpha: float, beta: float, n: int) -> None:
    ax = backend.storage.empty(max(n, 1), y.dtype)
    _scaled(backend, ax, x, alpha, n)
    if beta != 1.0:
        _scaled(backend, y, y, beta, n)
    _zip(backend, scalar.add, (y, (1,)), (y, (1,)), (ax, (1,)), (n,))


def adam_step(
    backend: Backend,
    p: Storage,
    g: Storage,
    exp_avg: Storage,
    exp_avg_sq: Storage,
    max_exp_avg_sq: Storage | None,
    n: int,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    step: int,
) -> None:
    flat, shape = (1,), (n,)
    tmp = backend.storage.empty(max(n, 1), p.dtype)
    axpby(backend, exp_avg, g, 1.0 - beta1, beta1, n)  # m = beta1 m + (1 - beta1) g
    _zip(backend, scalar.mul, (tmp, flat), (g, flat), (g, flat), shape)
    axpby(backend, exp_avg_sq, tmp, 1.0 - beta2, beta2, n)  # v = beta2 v + (1 - beta2) g²
    v = exp_avg_sq
    if max_exp_avg_sq is not None:
        _zip(backend, scalar.maximum, (max_exp_avg_sq, flat), (max_exp_avg_sq, flat), (v, flat), shape)
        v = max_exp_avg_sq
    if n:  # denominator sqrt(v) / sqrt(1 - beta2^t) + eps
        backend.map(scalar.sqrt)(tmp, flat, v, flat, shape)
    _scaled(backend, tmp, tmp, 1.0 / math.sqrt(1.0 - beta2**step), n)
    _zip(backend, scalar.add, (tmp, flat), (tmp, flat), (_const(backend, eps, p.dtype), (0,)), shape)
    _zip(backend, scalar.div, (tmp, flat), (exp_avg, flat), (tmp, flat), shape)
    axpby(backend, p, tmp, -lr / (1.0 - beta1**step), 1.0, n)


def rmsprop_step(
    backend: Backend,
    p: Storage,
    g: Storage,
    square_avg: Storage,
    grad_avg: Storage | None,
    buf: Storage | None,
    n: int,
    lr: float,
    alpha: float,
    eps: float,
    momentum: float,
) -> None:
    flat, shape = (1,), (n,)
    tmp = backend.storage.empty(max(n, 1), p.dtype)
    _zip(backend, scalar.mul, (tmp, flat), (g, flat), (g, flat), shape)
    axpby(backend, square_avg, tmp, 1.0 - alpha, alpha, n)  # v = alpha v + (1 - alpha) g²
    if grad_avg is not None:  # centered: v - a², a the running mean of g
        axpby(backend, grad_avg, g, 1.0 - alpha, alpha, n)
        _zip(backend, scalar.mul, (tmp, flat), (grad_avg, flat), (grad_avg, flat), shape)
        _zip(backend, scalar.sub, (tmp, flat), (square_avg, flat), (tmp, flat), shape)
        source = tmp
    else:
        source = square_avg
    if n:  # d = sqrt(...) + eps
        backend.map(scalar.sqrt)(tmp, flat, source, flat, shape)
    _zip(backend, scalar.add, (tmp, flat), (tmp, flat), (_const(backend, eps, p.dtype), (0,)), shape)
    _zip(backend, scalar.div, (tmp, flat), (g, flat), (tmp, flat), shape)  # g / d
    if buf is not None:
        axpby(backend, buf, tmp, 1.0, momentum, n)
        axpby(backend, p, buf, -lr, 1.0, n)
    else:
        axpby(backend, p, tmp, -lr, 1.0, n)


# ---------------------------------------------------------------------- along one dim
def _slab(view: tuple[Storage, tuple], dim: int, start: int) -> tuple[Storage, tuple]:
    """The (storage, strides) view that starts at index `start` along `dim`."""
    storage, strides = view
    return (storage[start * strides[dim] :] if start else storage), strides


def _resized(shape: tuple, dim: int, n: int) -> tuple:
    return shape[:dim] + (n,) + shape[dim + 1 :]


def _passes(backend: Backend, out: Any, a: Any, shape: tuple, count: int) -> list[tuple[Any, Any]]:
    """(source, target) views for `count` passes from a to out through at most two temporaries:
    pass i reads what pass i - 1 wrote, and no pass writes what it reads (nor ever writes a)."""
    dense = contiguous_strides(shape)
    spare = [(backend.storage.empty(size_of(shape), a[0].dtype), dense) for _ in range(min(count - 1, 2))]
    views, source = [], a
    for i in range(count):
        target = out if i == count - 1 else spare[i % 2]
        views.append((source, target))
        source = target
    return views


def scan(
    backend: Backend, fn: Any, out: Storage, out_strides: tuple, a: Storage, a_strides: tuple, shape: tuple,
    dim: int, reverse: bool = False,
) -> None:
    """Inclusive scan along `dim`: out[i] = fn(a[i], fn(a[i - 1], ... a[0])) (from the end when `reverse`).

    Hillis and Steele's parallel scan, the way GPUs do it: after the pass with shift k, each element
    holds the fold of the 2k elements ending at it, so log2(n) zip kernels do the job (each pass
    reads the previous pass's buffer, so no pass overwrites its input). A sum is then a balanced
    tree of depth log2(n), as accurate in float32 as a pairwise sum."""
    n = shape[dim]
    if not size_of(shape):
        return
    if n == 1:
        _copy(backend, out, out_strides, a, a_strides, shape)
        return
    shifts = []
    while 1 << len(shifts) < n:
        shifts.append(1 << len(shifts))
    for k, (source, target) in zip(shifts, _passes(backend, (out, out_strides), (a, a_strides), shape, len(shifts))):
        # element i (at `lo` + j) folds in its partner k places back (forward) or ahead (reverse);
        # the k elements without a partner are copied unchanged
        lo, partner, kept = (0, k, n - k) if reverse else (k, 0, 0)
        src, dst = _slab(source, dim, kept), _slab(target, dim, kept)
        _copy(backend, dst[0], dst[1], src[0], src[1], _resized(shape, dim, k))
        folded = _resized(shape, dim, n - k)
        _zip(backend, fn, _slab(target, dim, lo), _slab(source, dim, lo), _slab(source, dim, partner), folded)


def cumsum(
    backend: Backend, out: Storage, out_strides: tuple, a: Storage, a_strides: tuple, shape: tuple, dim: int,
    reverse: bool = False,
) -> None:
    scan(backend, scalar.add, out, out_strides, a, a_strides, shape, dim, reverse)


def flip(
    backend: Backend, out: Storage, out_strides: tuple, a: Storage, a_strides: tuple, shape: tuple, dims: tuple
) -> None:
    """One pass per flipped dim (through temporaries), each slice along it copied to its mirror."""
    if not size_of(shape):
        return
    if not dims:
        _copy(backend, out, out_strides, a, a_strides, shape)
        return
    for dim, (source, target) in zip(dims, _passes(backend, (out, out_strides), (a, a_strides), shape, len(dims))):
        n, one = shape[dim], _resized(shape, dim, 1)
        for i in range(n):
            src, dst = _slab(source, dim, i), _slab(target, dim, n - 1 - i)
            _copy(backend, dst[0], dst[1], src[0], src[1], one)
