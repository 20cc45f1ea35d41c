"""Scalar functions: the per-element math that map / zip / reduce kernels apply.

Each is a plain Python function of floats that numba can also compile (CPU `njit` and CUDA
device functions), so one definition serves every backend. They never raise: overflow gives
inf and invalid input gives nan, as IEEE arithmetic (and NumPy) does.
"""

from __future__ import annotations

import math

INF = math.inf
NAN = math.nan


def identity(x: float) -> float:
    return x


def neg(x: float) -> float:
    return -x


def add(x: float, y: float) -> float:
    return x + y


def sub(x: float, y: float) -> float:
    return x - y


def mul(x: float, y: float) -> float:
    return x * y


def div(x: float, y: float) -> float:
    if y != 0.0:
        return x / y
    if x != x or x == 0.0:
        return NAN
    # sign of an IEEE division by a signed zero
    return INF if (x > 0.0) == (math.copysign(1.0, y) > 0.0) else -INF


def exp(x: float) -> float:
    if x > 709.0:
        return INF
    return math.exp(x)


def log(x: float) -> float:
    if x > 0.0:
        return math.log(x)
    if x == 0.0:
        return -INF
    return NAN


def sqrt(x: float) -> float:
    return math.sqrt(x) if x >= 0.0 else NAN


def pow_(x: float, y: float) -> float:
    if x == 0.0:
        return INF if y < 0.0 else (1.0 if y == 0.0 else 0.0)
    if x < 0.0 and y != math.floor(y):
        return NAN
    if x != x or y != y:
        return NAN
    magnitude = y * math.log(abs(x))
    if magnitude > 709.0:
        big = INF
        odd = y - 2.0 * math.floor(y / 2.0) == 1.0
        return -big if x < 0.0 and odd else big
    if magnitude < -745.0:
        return 0.0
    return math.pow(x, y)


def sigmoid(x: float) -> float:
    # two branches so that exp never overflows
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def tanh(x: float) -> float:
    return math.tanh(x)


def relu(x: float) -> float:
    # written so that nan passes through (nan <= 0 is false), as in PyTorch
    return 0.0 if x <= 0.0 else x


def relu_back(x: float, grad: float) -> float:
    return grad if x > 0.0 else 0.0


def maximum(x: float, y: float) -> float:
    if x != x or y != y:
        return NAN
    return x if x >= y else y


def minimum(x: float, y: float) -> float:
    if x != x or y != y:
        return NAN
    return x if x <= y else y


def eq(x: float, y: float) -> float:
    return 1.0 if x == y else 0.0


def ne(x: float, y: float) -> float:
    return 1.0 if x != y else 0.0


def lt(x: float, y: float) -> float:
    return 1.0 if x < y else 0.0


def le(x: float, y: float) -> float:
    return 1.0 if x <= y else 0.0


def gt(x: float, y: float) -> float:
    return 1.0 if x > y else 0.0


def ge(x: float, y: float) -> float:
    return 1.0 if x >= y else 0.0


def pick_if(cond: float, x: float) -> float:
    """x where cond is true, else 0: half of `where`."""
    return x if cond != 0.0 else 0.0


def pick_unless(cond: float, x: float) -> float:
    """x where cond is false, else 0: the other half of `where`."""
    return 0.0 if cond != 0.0 else x


def finite_or_zero(x: float) -> float:
    """x, or 0 for inf and nan: the finite part of a selection."""
    return x if x == x and x != INF and x != -INF else 0.0


def finite_flag(x: float) -> float:
    return 1.0 if x == x and x != INF and x != -INF else 0.0


def up_flag(x: float) -> float:
    """1 for +inf and for nan: a nan counts as both an up and a down overflow (inf - inf)."""
    return 1.0 if x == INF or x != x else 0.0


def down_flag(x: float) -> float:
    return 1.0 if x == -INF or x != x else 0.0


def overflow_value(up: float, down: float) -> float:
    """What a sum with `up` (+inf or nan) and `down` (-inf or nan) terms adds to its finite part."""
    if up != 0.0:
        return NAN if down != 0.0 else INF
    return -INF if down != 0.0 else 0.0


def sign(x: float) -> float:
    return 1.0 if x > 0.0 else (-1.0 if x < 0.0 else 0.0)


def abs_(x: float) -> float:
    return abs(x)


def sin(x: float) -> float:
    if math.isinf(x):  # Python's math.sin raises here; IEEE (and NumPy) give nan
        return NAN
    return math.sin(x)


def cos(x: float) -> float:
    if math.isinf(x):
        return NAN
    return math.cos(x)


def log1p(x: float) -> float:
    # log(1 + x) accurate for tiny x, where 1 + x would round to 1
    if x > -1.0:
        return math.log1p(x)
    if x == -1.0:
        return -INF
    return NAN


def expm1(x: float) -> float:
    # exp(x) - 1 accurate for tiny x
    if x > 709.0:
        return INF
    return math.expm1(x)


def erf(x: float) -> float:
    return math.erf(x)


def floor_divide(x: float, y: float) -> float:
    """x // y rounded towards -inf (Python's and PyTorch's rule); x / y for a zero divisor.

    Integer division by zero never gets here: the op refuses it first, as PyTorch does.
    """
    if y == 0:  # as true division: a signed inf, or nan for 0 / 0
        if x != x or x == 0:
            return NAN
        return INF if (x > 0) == (math.copysign(1.0, y) > 0) else -INF
    if not math.isfinite(x):  # an infinite or nan dividend
        return NAN
    return x // y


def remainder(x: float, y: float) -> float:
    """x - floor(x / y) * y: the sign of the divisor (Python's % and `torch.remainder`)."""
    if y == 0 or not math.isfinite(x):  # a zero divisor, or an infinite or nan dividend
        return NAN
    return x % y
