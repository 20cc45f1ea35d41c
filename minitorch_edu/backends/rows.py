"""The layer-norm row statistics, written once for the compiled backends.

A plain Python function like `window.py`'s: `numba/norms.py` compiles it with `njit` (inlined into
its row loops, so it runs under the calling kernel's flags) and `cuda/norms.py` as a device
function, so the CPU and GPU layer norms turn the same sums into the same mean and rstd.
"""

from __future__ import annotations

import math


def layer_norm_moments(x0, s1, s2, c, eps):  # noqa: ANN001, ANN201
    """(mean, rstd = 1 / sqrt(var + eps)) of a row of c values x_j, from the float64 sums
    s1 = sum_j d_j and s2 = sum_j d_j² of d_j = x_j - x0, x0 one of the row's own values.

    Shifting by x0 keeps E[d²] - E[d]² from cancelling badly ((x0 - mean)² <= c var, so it loses
    at most log2(c) of float64's 53 bits); the variance is the biased one."""
    m1 = s1 / c
    var = s2 / c - m1 * m1
    if var < 0.0:  # rounding; a nan (from an inf or nan in the row) stays nan
        var = 0.0
    return x0 + m1, 1.0 / math.sqrt(var + eps)
