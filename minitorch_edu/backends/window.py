"""The window arithmetic of convolution and pooling, written once for the compiled backends.

An output element (oy, ox) of a convolution or pooling with kernel (kh, kw), stride (sh, sw)
and padding (ph, pw) reads the input window whose top-left corner is

    (iy0, ix0) = (oy*sh - ph, ox*sw - pw)

and the positions of that window outside the (h, w) image are padding: zeros for a
convolution or an average, nothing for a maximum. Clipping the window to the image once,

    rows max(iy0, 0) .. min(iy0 + kh, h) - 1,   columns max(ix0, 0) .. min(ix0 + kw, w) - 1

leaves loops without a bounds test inside them. Going the other way, the input position i is
read by the outputs o with 0 <= i + pad - o*stride < k (`covering`), which is how a gradient
is *gathered* onto the input without two threads writing one element.

These are plain Python functions of ints and flat arrays (`x[base:]` is one (h, w) plane), like
`scalar.py`'s: the numba backend compiles them with `njit` (inlined into its parallel loops) and
the cuda backend as device functions (one GPU thread per output element calls them), so the CPU
and GPU kernels of `numba/conv.py` and `cuda/conv.py` walk the same windows.
"""

from __future__ import annotations

import math


def window_max(x, base, h, w, iy0, ix0, kh, kw):
    """(the maximum of the window at (iy0, ix0), its position iy*w + ix in the plane).

    The first maximum in row-major order wins ties, and a NaN beats every number (PyTorch's
    rule). A window wholly inside the padding gives (-inf, -1)."""
    best = -math.inf
    where = -1
    for iy in range(max(iy0, 0), min(iy0 + kh, h)):
        for ix in range(max(ix0, 0), min(ix0 + kw, w)):
            v = x[base + iy * w + ix]
            if where < 0 or v > best or (v != v and best == best):
                best = v
                where = iy * w + ix
    return best, where


def window_mean(x, base, h, w, iy0, ix0, kh, kw):
    """The mean of the window at (iy0, ix0), padding counted as zeros (PyTorch's count_include_pad=True)."""
    acc = 0.0
    for iy in range(max(iy0, 0), min(iy0 + kh, h)):
        row = base + iy * w
        for ix in range(max(ix0, 0), min(ix0 + kw, w)):
            acc += x[row + ix]
    return acc / (kh * kw)


def window_dot(x, base, h, w, iy0, ix0, kh, kw, k, kbase):
    """sum over the window at (iy0, ix0) of x[iy, ix] * k[ki, kj], the (kh, kw) kernel at k[kbase:]."""
    acc = 0.0
    for iy in range(max(iy0, 0), min(iy0 + kh, h)):
        krow = kbase + (iy - iy0) * kw - ix0
        for ix in range(max(ix0, 0), min(ix0 + kw, w)):
            acc += k[krow + ix] * x[base + iy * w + ix]
    return acc


def covering(i, pad, k, stride, out_size):
    """The outputs [lo, hi) along one axis whose k-wide window reads input position i.

    o reads i when o*stride <= i + pad < o*stride + k; then i is the window's tap i + pad - o*stride."""
    t = i + pad
    lo = 0 if t < k else (t - k) // stride + 1  # both operands >= 0: no floor/truncation question
    hi = min(t // stride + 1, out_size)
    return lo, max(hi, lo)


def valid_range(k, pad, stride, size, out_size):
    """The outputs [lo, hi) along one axis whose tap k, at input o*stride + k - pad, is inside [0, size)."""
    lo = -((k - pad) // stride)  # ceil((pad - k) / stride); numba's // floors like Python's
    if lo < 0:
        lo = 0
    last = size - 1 + pad - k
    hi = last // stride + 1 if last >= 0 else 0
    if hi > out_size:
        hi = out_size
    if hi < lo:
        hi = lo
    return lo, hi
