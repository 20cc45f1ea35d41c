"""Scalar functions: the per-element math that map / zip / reduce kernels apply.

Each is a plain Python function of floats that numba can also compile (CPU `njit` and CUDA
device functions), so one definition serves every backend. They never raise: overflow gives
inf and invalid input gives nan, as IEEE arithmetic (and NumPy) does.

**How a framework makes exp fast.** A loop that calls `math.exp` calls the C library once per
element: numba from pip has no vector maths library, so LLVM cannot turn such a loop into SIMD
code. The float32 versions of exp, log, tanh, sigmoid, erf and GELU below use only arithmetic,
comparisons and bit casts, which LLVM *does* vectorise: a range reduction (exp(x) = 2^k exp(r)
with |r| <= ln2 / 2; log(x) = e ln2 + log(m) with m in [sqrt(1/2), sqrt(2)]) and a minimax
polynomial on the small interval that is left, evaluated by Horner's rule, as SLEEF, SVML and
NumPy's own SIMD kernels do. A float32 argument is widened to float64, where the polynomials are
accurate to about 1e-10 (far below float32's 6e-8), and the result is rounded to float32 once:
measured against NumPy in float64 over the float32 range (tests/test_vector_math.py) they are
within 1 ulp, and overflow, underflow to denormals, ±0, ±inf and nan come out as NumPy's do,
because the float64 result is rounded like any other. float64 arguments keep the C library
(`math.*`, correctly rounded or within 1 ulp). `isinstance(x, np.float32)` picks the version:
numba resolves it when it compiles a kernel for one dtype, so each kernel holds one of the two.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from numba.core import types
from numba.core.errors import NumbaIRAssumptionWarning
from numba.extending import intrinsic, overload, register_jitable

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


# ---------------------------------------------------------------------------- vectorisable maths
# Minimax coefficients (lowest degree first), fitted against mpmath in 40 digits on the interval
# named; the max relative error of each fit is given. See the module docstring.
EXP_R = (  # exp(r), |r| <= ln2 / 2, with c0 = 1 exactly (so exp(0) = 1 and sigmoid(0) = 1/2 exactly): 9.6e-11
    1.0, 1.0000000000312297, 0.5000000046673084, 0.16666666249220777, 0.04166635435578461, 0.00833340296684166,
    0.001394101278852202, 0.0001984122503459913,
)
LOG_S = (  # (log((1 + s) / (1 - s)) - 2s) / s³ in u = s², u <= 0.0295: 1.1e-11
    0.6666666666738565, 0.39999998783759955, 0.28571757198697767, 0.22191236782962834, 0.1936576732563564,
)
TANH_X = (  # (tanh(x) - x) / x³ in u = x², |x| <= 0.625: 6.5e-12
    -0.3333333333311612, 0.13333333262053076, -0.0539682154001073, 0.021868688842639858,
    -0.008855025151011315, 0.003545727065976842, -0.0013067022315052705, 0.00032425872563608893,
)
ERF_X = (  # erf(x) / x in u = x², |x| <= 1/2: 1.2e-11
    1.1283791670825096, -0.37612638527652426, 0.1128377407713072, -0.026863150186438794, 0.005200446400646723,
    -0.0007695056746338156,
)
ERFC_T = (  # erfc(a) exp(a²) / t in t = 1 / (1 + 0.3 a), 0 <= a <= 10.5 (t in [0.241, 1]), P(1) = 1 exactly: 2.8e-10
    0.16926974362541902, 0.16894709026675891, 0.16494834007944453, 0.12575581442710915, 0.2081158499576267,
    -0.13055485480431137, 0.4993305495013217, -0.49708967386342373, 0.4495951181215475, -0.1674732156368227,
    0.001101598762488944, 0.00805363956284127,
)
LOG2E = 1.4426950408889634
LN2 = 0.6931471805599453
SQRT2 = 1.4142135623730951
SQRT_HALF = 0.7071067811865476
INV_SQRT_2PI = 0.3989422804014327
GELU_C = 0.7978845608028654  # sqrt(2 / pi), of GELU's tanh form
ROUNDER = 6755399441055744.0  # 1.5 * 2**52: t + ROUNDER - ROUNDER rounds t to an integer, branch-free
MANTISSA = 0x000FFFFFFFFFFFFF  # the fraction bits of a float64
ONE_BITS = 0x3FF0000000000000  # the bits of 1.0

# numba's pedantic IR check flags the conditional expressions and loops of the helpers below once
# they are inlined into a kernel ("variable 'exp_poly_v74__vphi22_0_2.1' is not in scope"); the
# compiled code is right (tests/test_vector_math.py), so that one message is silenced
warnings.filterwarnings("ignore", r"variable '\w+_v\d+\w*(\.\d+)?' is not in scope", NumbaIRAssumptionWarning)


KERNEL_HELPERS: list = []  # the helpers below, which the CUDA backend registers with numba-cuda too


def kernel_helper(fn):  # noqa: ANN001, ANN201
    """Register `fn` for numba's CPU target, compiled into the kernel that calls it (so LLVM sees one loop).

    numba-cuda keeps a registry of its own and cannot type the CPU target's inlined copy: the CUDA backend
    registers every function of KERNEL_HELPERS there (`backends/cuda/kernels.py`)."""
    KERNEL_HELPERS.append(fn)
    return register_jitable(inline="always")(fn)


@kernel_helper
def horner(x: float, coefficients: tuple[float, ...]) -> float:
    """c0 + c1 x + c2 x² + ... evaluated as c0 + x (c1 + x (c2 + ...)): one multiply-add per term."""
    p = coefficients[-1]
    for k in range(len(coefficients) - 2, -1, -1):
        p = p * x + coefficients[k]
    return p


@kernel_helper
def pow2(k: float) -> float:
    """2**k for an integer-valued k in [-1022, 1023]: the exponent field of a float64, set directly."""
    return np.int64((np.int64(k) + 1023) << 52).view(np.float64)


@kernel_helper
def exp_poly(x: float) -> float:
    """exp(x) for a float64 x, to 1e-10 relative error (float32 accuracy with room to spare).

    x = k ln2 + r with k an integer and |r| <= ln2 / 2, so exp(x) = 2**k exp(r): exp(r) is a
    polynomial, 2**k a bit pattern. x is clamped to [-200, 200] first (exp(±200) is far outside
    float32's range, and k stays inside float64's exponents); nan becomes -200: callers restore it.
    """
    x = x if x >= -200.0 else -200.0
    x = x if x <= 200.0 else 200.0
    k = (x * LOG2E + ROUNDER) - ROUNDER  # the integer nearest to x / ln2
    r = x - k * LN2
    return horner(r, EXP_R) * pow2(k)


@kernel_helper
def log_poly(x: float) -> float:
    """log(x) for a float64 x > 0 holding a float32 value (so never a float64 denormal), to 2e-11.

    x = 2**e m with m in [sqrt(1/2), sqrt(2)) read from the bits; log(m) = 2 atanh(s) with
    s = (m - 1) / (m + 1), |s| <= 0.172, which is 2s plus an odd polynomial."""
    bits = np.float64(x).view(np.int64)
    e = (bits >> 52) - 1023
    m = np.int64((bits & MANTISSA) | ONE_BITS).view(np.float64)  # in [1, 2)
    big = m > SQRT2
    m = m * 0.5 if big else m
    e = e + 1 if big else e
    s = (m - 1.0) / (m + 1.0)
    u = s * s
    return e * LN2 + (2.0 * s + s * u * horner(u, LOG_S))


@kernel_helper
def erfc_poly(a: float, a2: float) -> float:
    """erfc(a) for 0 <= a <= 10.5 (a2 = a², passed in so that callers can give it exactly), to 3e-10
    *relative* error, and erfc(0) = 1 exactly: erfc(a) = t e**-a² P(t) with t = 1 / (1 + 0.3 a), one
    polynomial for the whole range (no branches: every element runs the same instructions, so the loop
    vectorises)."""
    t = 1.0 / (1.0 + 0.3 * a)
    return t * exp_poly(-a2) * horner(t, ERFC_T)


@kernel_helper
def erf_poly(z: float) -> float:
    """erf(z) for a float64 z, to 5e-10 relative: odd polynomial below 1/2, 1 - erfc(|z|) above
    (both computed, one selected: a select vectorises where an if would not)."""
    a = abs(z)
    a = a if a <= 6.0 else 6.0  # erf(6) = 1 - 2e-17; nan becomes 6 (callers restore it)
    u = a * a
    small = a * horner(u, ERF_X)
    big = 1.0 - erfc_poly(a, u)
    return math.copysign(small if a < 0.5 else big, z)


@kernel_helper
def normal_cdf(x: float) -> float:
    """P(N(0, 1) <= x) = erfc(-x / sqrt(2)) / 2, to 5e-10 *relative* error also far into the left tail
    (where 1 + erf(x / sqrt(2)) would cancel to 0): GELU's factor. Branch-free: the tail h = P(N <= -|x|)
    from `erfc_poly`, then h or 1 - h by x's sign. |x| is clamped at 14.85 (a = 10.5), beyond which
    x P(x) is below float32's smallest denormal; nan becomes 14.85 (callers restore it)."""
    a = abs(x) * SQRT_HALF
    a = a if a <= 10.5 else 10.5
    h = 0.5 * erfc_poly(a, 0.5 * x * x)  # x² / 2 is exact in float64 for a float32 x
    return h if x < 0.0 else 1.0 - h


# exp evaluated in float32 itself: twice the lanes of the float64 route and a shorter polynomial.
F32 = np.float32
EXP32_P = tuple(F32(c) for c in (  # (exp(s) - 1 - s) / s² in s, |s| <= ln2 / 2: 3.1e-9 relative to exp(s)
    0.4999999403953552, 0.1666652113199234, 0.04166838899254799, 0.008368710055947304, 0.0013814608100801706,
))
EXP32_LOG2E, EXP32_ROUNDER = F32(LOG2E), F32(12582912.0)  # 1.5 * 2**23: rounds a float32 to an integer
EXP32_LN2_HI, EXP32_LN2_LO = F32(0.693145751953125), F32(1.4286068203094172e-06)  # ln2 = HI + LO, HI with 8 zero bits
EXP32_LO, EXP32_HI, EXP32_ONE = F32(-104.0), F32(100.0), F32(1.0)


@kernel_helper
def exp_f32(x: np.float32) -> np.float32:
    """e**x for a float32 x, computed in float32: within 1.01 ulp (tests/test_vector_math.py), special
    values as NumPy's. Where a kernel spends its time in exp (softmax), this is twice as fast as `exp`.

    k = round(x / ln2), s = x - k ln2 in two steps (k HI is exact, so s keeps its low bits), then
    exp(x) = 2**k (1 + s + s² P(s)). 2**k is applied as two factors 2**(k/2), each a float32 with its
    exponent field set, so that results down among the denormals and up to overflow round as they should.
    """
    y = x if x >= EXP32_LO else EXP32_LO  # exp(-104) is below half the smallest denormal; nan becomes -104
    y = y if y <= EXP32_HI else EXP32_HI
    k = (y * EXP32_LOG2E + EXP32_ROUNDER) - EXP32_ROUNDER
    s = (y - k * EXP32_LN2_HI) - k * EXP32_LN2_LO
    u = (s * s) * horner(s, EXP32_P) + s + EXP32_ONE
    half = np.int32(k) >> 1
    rest = np.int32(k) - half
    u = u * np.int32((half + 127) << 23).view(np.float32) * np.int32((rest + 127) << 23).view(np.float32)
    return u if x == x else x


def fma32(a: np.float32, b: np.float32, c: np.float32) -> np.float32:
    """a b + c rounded once, for float32 (a fused multiply-add): in Python through float64, where a b is
    exact; compiled, one FMA instruction (`_fma32`). Compensated steps need the single rounding."""
    return np.float32(np.float64(a) * np.float64(b) + np.float64(c))


@intrinsic
def _fma32(typingctx, a, b, c):  # noqa: ANN001, ANN202
    def codegen(context, builder, signature, args):  # noqa: ANN001, ANN202
        return builder.fma(*args)

    return types.float32(types.float32, types.float32, types.float32), codegen


@overload(fma32)  # the CUDA backend gives numba-cuda its own: cuda.fma
def _fma32_overload(a, b, c):  # noqa: ANN001, ANN202
    return lambda a, b, c: _fma32(a, b, c)


@kernel_helper
def horner_either(x: float, first: bool, a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """`horner` with table a where `first`, else b (same length): one multiply-add and one select per term,
    so that two polynomial pieces cost one evaluation in a vectorised loop."""
    p = a[-1] if first else b[-1]
    for k in range(len(a) - 2, -1, -1):
        p = p * x + (a[k] if first else b[k])
    return p


# GELU in float32 (`gelu_f32`), tables from scripts/fit_gelu.py (errors in float32 unit roundoffs, u = 2**-24)
GELU_Q0_HI, GELU_Q0_LO = F32(0.3989422917366028), F32(-1.1335170135851058e-08)  # 1 / sqrt(2 pi) = HI + LO
GELU_Q = tuple(F32(c) for c in (  # (P(x) - 1/2) / x - 1 / sqrt(2 pi), over u, in u = x², |x| <= 1/2: 0.001 u
    -0.06649037450551987, 0.009973379783332348, -0.0011855700286105275, 0.00010854829452000558,
))
GELU_NEAR = tuple(F32(c) for c in (  # sqrt(2 pi) g(y) in y - 3/2, 1/2 <= y <= 5/2: 0.12 u of the denominator
    1.0996005535125732, -0.37485772371292114, 0.10421660542488098, -0.02368028461933136, 0.004181499592959881,
    -0.0004640710831154138, -1.347687702946132e-05, 3.08718990709167e-05, -1.2744643754558638e-05,
))
GELU_FAR = tuple(F32(c) for c in (  # sqrt(2 pi) g(y) / t in t = 1 / (1 + y), 5/2 <= y <= 14.85: 0.02 u, padded
    2.5067639350891113, 2.500929594039917, -2.430361032485962, -12.54432487487793, -12.42464828491211,
    187.7825469970703, -402.6675109863281, 292.59490966796875, 0.0,
))
GELU_SQRT_2PI, GELU_YMAX = F32(math.sqrt(2.0 * math.pi)), F32(14.85)
F32_HALF, F32_ZERO, F32_NEAR_END, F32_NEAR_MID = F32(0.5), F32(0.0), F32(2.5), F32(1.5)
HIGH_12_BITS = np.int32(-4096)  # a float32's sign, exponent and top 12 significand bits


@kernel_helper
def gelu_f32(x: np.float32) -> np.float32:
    """GELU, x P(x), for a float32 x, computed in float32: within 2 ulp (tests/test_vector_math.py), ±0,
    ±inf, nan and denormals as the float64 formula rounded to float32.

    |x| < 1/2: x/2 + x · x Q(x²), a polynomial with no cancellation there.
    |x| >= 1/2: the lower tail P(-y), y = |x|, is phi(y) m(y) with m the Mills ratio, and 1 / m(y) = y + g(y)
    with g smooth, from 0.64 down to 0.07 (two polynomial pieces, NEAR and FAR). So
        x P(-y) = x e**(-x²/2) / (sqrt(2 pi) (y + g(y)))        (x P(x) = x - x P(-x) for x > 0).
    e**(-x²/2) = 2**k e**s with x² split exactly (x = xh + xl, 12 bits each, so xh², xh xl, xl² are exact)
    and s = s1 + s2, s1 exact. The quotient x / den and the factor e**s are carried as a float32 plus a
    correction (the division's remainder by an FMA), so that the result is rounded about once: in one
    rounding per step the errors of float32 would add up to about 3 ulp.
    """
    y = abs(x)
    # |x| < 1/2 (xs: x there, 1/2 elsewhere, so that a huge x overflows nothing that is thrown away)
    xs = x if y < F32_HALF else F32_HALF
    u = xs * xs
    xq = fma32(xs, GELU_Q0_HI, xs * (GELU_Q0_LO + u * horner(u, GELU_Q)))  # x (P(x) - 1/2) / x, rounded once
    small = fma32(xs, xq, F32_HALF * xs)
    # |x| >= 1/2, with y clamped at 14.85 (beyond it x P(-y) is below the smallest denormal; nan becomes 14.85)
    y = y if y <= GELU_YMAX else GELU_YMAX
    xc = F32(math.copysign(y, x))
    xh = np.int32(xc.view(np.int32) & HIGH_12_BITS).view(np.float32)
    xl = xc - xh
    hi = F32_HALF * xh * xh
    lo = xh * xl + F32_HALF * xl * xl
    k = (-(hi + lo) * EXP32_LOG2E + EXP32_ROUNDER) - EXP32_ROUNDER
    s1 = -hi - k * EXP32_LN2_HI  # exact: k ln2_HI is, and lies within a factor 2 of hi
    s2 = -(lo + k * EXP32_LN2_LO)
    s = s1 + s2
    p = (s * s) * horner(s, EXP32_P)  # e**s - 1 - s
    near = y < F32_NEAR_END
    t = EXP32_ONE / (y + EXP32_ONE)
    kg = horner_either(y - F32_NEAR_MID if near else t, near, GELU_NEAR, GELU_FAR)
    kg = kg if near else kg * t
    den = fma32(GELU_SQRT_2PI, y, kg)
    den_lo = fma32(GELU_SQRT_2PI, y, -den) + kg  # what den's rounding lost
    inv = EXP32_ONE / den
    q = xc * inv
    q_lo = (fma32(-q, den, xc) - q * den_lo) * inv  # x / den = q + q_lo (fma32: the exact remainder)
    r = q + fma32(q, s1, fma32(q, s2 + p, fma32(q_lo, s, q_lo)))  # (q + q_lo) e**s
    half = np.int32(k) >> 1
    f1 = np.int32((half + 127) << 23).view(np.float32)  # 2**k as two factors, so that denormals round once
    f2 = np.int32((np.int32(k) - half + 127) << 23).view(np.float32)
    tail = (r * f1) * f2 if x < F32_ZERO else fma32(-r, f1 * f2, x)
    g = F32(math.copysign(small if abs(x) < F32_HALF else tail, x))  # x P(x) has x's sign, also at ±0
    g = g if x == x else x
    return g if x != -INF else F32(NAN)  # -inf P(-inf) is -inf * 0: nan, as the formula gives


def exp(x: float) -> float:
    """e**x. float32: `exp_poly` rounded once, within 1 ulp (tests/test_vector_math.py)."""
    if isinstance(x, np.float32):
        w = np.float64(x)
        return np.float32(w if w != w else exp_poly(w))
    if x > 709.0:
        return INF
    return math.exp(x)


def log(x: float) -> float:
    """Natural log: -inf at 0, nan below. float32: `log_poly` rounded once, within 1 ulp."""
    if isinstance(x, np.float32):
        w = np.float64(x)
        finite = (w > 0.0) & (w < INF)
        y = log_poly(w if finite else 1.0)
        return np.float32(y if finite else (-INF if w == 0.0 else (w if w == INF else NAN)))
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
    """1 / (1 + e**-x). float32: in float64 with `exp_poly` (which clamps, so never overflows)."""
    if isinstance(x, np.float32):
        w = np.float64(x)
        return np.float32(w if w != w else 1.0 / (1.0 + exp_poly(-w)))
    # two branches so that exp never overflows
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def tanh(x: float) -> float:
    """Hyperbolic tangent. float32: x + x³ P(x²) below 0.625, 1 - 2 / (e**2|x| + 1) above (in
    float64, where that subtraction loses nothing float32 keeps), with x's sign; within 1 ulp."""
    if isinstance(x, np.float32):
        w = np.float64(x)
        a = abs(w)
        a = a if a <= 20.0 else 20.0  # tanh(20) rounds to 1; nan becomes 20 (restored below)
        u = a * a
        small = a + a * u * horner(u, TANH_X)
        big = 1.0 - 2.0 / (exp_poly(2.0 * a) + 1.0)
        t = math.copysign(small if a < 0.625 else big, w)
        return np.float32(w if w != w else t)
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
    """The error function. float32: `erf_poly` rounded once, within 1 ulp."""
    if isinstance(x, np.float32):
        w = np.float64(x)
        return np.float32(w if w != w else erf_poly(w))
    return math.erf(x)


def gelu(x: float) -> float:
    """GELU, x P(N(0, 1) <= x) = x (1 + erf(x / sqrt(2))) / 2 (PyTorch's default form).

    float32: `gelu_f32`, within 2 ulp of the exact value also for negative x, where the textbook
    formula cancels (gelu(-10) = -7.6e-23, not 0)."""
    if isinstance(x, np.float32):
        return gelu_f32(x)
    return 0.5 * x * (1.0 + math.erf(x * SQRT_HALF))


def gelu_back(x: float, grad: float) -> float:
    """grad times GELU's derivative at x: P(N(0,1) <= x) + x exp(-x²/2) / sqrt(2 pi)."""
    if isinstance(x, np.float32):
        w = np.float64(x)
        d = normal_cdf(w) + w * INV_SQRT_2PI * exp_poly(-0.5 * w * w)
        return np.float32(np.float64(grad) * d)
    d = 0.5 * (1.0 + math.erf(x * SQRT_HALF)) + x * INV_SQRT_2PI * math.exp(-0.5 * x * x)
    return grad * d


def gelu_tanh(x: float) -> float:
    """GELU's tanh form, x (1 + tanh(y)) / 2 with y = sqrt(2/pi) (x + 0.044715 x³).

    float32: computed as x sigmoid(2y) (the same function: (1 + tanh(y)) / 2 = sigmoid(2y)), which
    does not cancel for negative x; within 1 ulp. -inf gives nan, as the textbook formula does."""
    if isinstance(x, np.float32):
        w = np.float64(x)
        y = GELU_C * (w + 0.044715 * w * w * w)
        g = w / (1.0 + exp_poly(-2.0 * y))
        return np.float32(NAN if w == -INF else g)
    return 0.5 * x * (1.0 + math.tanh(GELU_C * (x + 0.044715 * x * x * x)))


def gelu_tanh_back(x: float, grad: float) -> float:
    """grad times the derivative of `gelu_tanh`: s + x s (1 - s) 2y' with s = sigmoid(2y)."""
    if isinstance(x, np.float32):
        w = np.float64(x)
        y = GELU_C * (w + 0.044715 * w * w * w)
        s = 1.0 / (1.0 + exp_poly(-2.0 * y))
        d = s + w * s * (1.0 - s) * 2.0 * GELU_C * (1.0 + 3.0 * 0.044715 * w * w)
        return np.float32(np.float64(grad) * d)
    t = math.tanh(GELU_C * (x + 0.044715 * x * x * x))
    d = 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * GELU_C * (1.0 + 3.0 * 0.044715 * x * x)
    return grad * d


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
