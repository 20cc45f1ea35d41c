"""The vectorisable float32 maths of `backends/scalar.py` (exp, log, tanh, sigmoid, erf, GELU's two
forms and their derivatives): accuracy in ulps against float64 references over the whole float32
range, special values exactly as NumPy gives them, and the same bits on every backend.

A wrong coefficient, a wrong range reduction or a wrong branch threshold moves some results by
thousands of ulps (or more), far outside the 1 ulp these tests allow (2 for GELU, which is evaluated
in float32 itself; the others are evaluated in float64 and rounded once).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import minitorch_edu as mt
from minitorch_edu.backends import scalar
from minitorch_edu.nn import functional as F

SQRT_HALF = math.sqrt(0.5)
GELU_C = math.sqrt(2.0 / math.pi)
_erf = np.frompyfunc(math.erf, 1, 1)
_erfc = np.frompyfunc(math.erfc, 1, 1)


def erf64(x: np.ndarray) -> np.ndarray:
    return _erf(x).astype(np.float64)


def normal_cdf64(x: np.ndarray) -> np.ndarray:
    return 0.5 * _erfc(-x * SQRT_HALF).astype(np.float64)  # no cancellation in the left tail


def gelu_tanh64(x: np.ndarray) -> np.ndarray:
    # x (1 + tanh(y)) / 2 written as x sigmoid(2y): the same function, without float64's cancellation
    with np.errstate(over="ignore", invalid="ignore"):
        return x / (1.0 + np.exp(-2.0 * GELU_C * (x + 0.044715 * x**3)))


# float64 references (NumPy, or the C library's erf/erfc where NumPy has none)
REFERENCES = {
    "exp": np.exp,
    "log": np.log,
    "tanh": np.tanh,
    "sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)),
    "erf": erf64,
    "gelu": lambda x: x * normal_cdf64(x),
    "gelu_tanh": gelu_tanh64,
}


def float32_sample(step: int = 4099) -> np.ndarray:
    """Every `step`-th float32 bit pattern (both signs, denormals, all exponents: the whole range),
    plus every float32 in [-8, 8] at a finer step, where the branches of the polynomials switch."""
    bits = np.arange(0, 1 << 32, step, dtype=np.uint64).astype(np.uint32)
    spread = bits.view(np.float32)
    dense = np.linspace(-8.0, 8.0, 400_001, dtype=np.float32)
    x = np.concatenate([spread, dense])
    return x[np.isfinite(x)]


def ulp_error(got: np.ndarray, exact: np.ndarray) -> np.ndarray:
    """|got - exact| in units of the float32 spacing at the exact value (2**-149 among denormals)."""
    with np.errstate(over="ignore"):
        rounded = np.abs(exact.astype(np.float32))
    spacing = np.spacing(rounded).astype(np.float64)
    spacing[~np.isfinite(rounded)] = np.spacing(np.float32(3.4e38))
    with np.errstate(invalid="ignore"):
        err = np.abs(got.astype(np.float64) - exact) / spacing
    both_inf = np.isinf(got) & np.isinf(exact) & (np.sign(got) == np.sign(exact))
    err[both_inf] = 0.0
    return err


def run_numba(name: str, x: np.ndarray) -> np.ndarray:
    """The numba backend's map kernel of scalar function `name` over x (contiguous)."""
    from minitorch_edu.backends.numba.cpu import numba_backend

    out = np.empty_like(x)
    numba_backend.map(getattr(scalar, name))(out, (1,), x, (1,), (x.size,))
    return out


@pytest.fixture(scope="module")
def sample() -> np.ndarray:
    return float32_sample()


# the largest error allowed, in ulps: GELU is evaluated in float32 (twice the SIMD lanes of float64), the
# others in float64 and rounded once
ALLOWED_ULP = {"gelu": 2.0}


@pytest.mark.parametrize("name", list(REFERENCES))
def test_float32_within_one_ulp_over_the_float32_range(name, sample):
    x = sample[sample > 0] if name == "log" else sample
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        exact = REFERENCES[name](x.astype(np.float64))
    got = run_numba(name, x)
    err = ulp_error(got, exact)
    with np.errstate(over="ignore"):
        finite = np.isfinite(exact.astype(np.float32))  # exp(88.75) is finite in float64, inf in float32
    worst = int(np.nanargmax(np.where(finite, err, 0.0)))
    allowed = ALLOWED_ULP.get(name, 1.0)
    assert err[finite].max() <= allowed, (
        f"scalar.{name}(float32 {x[worst]!r}) = {got[worst]!r}, exact {exact[worst]!r}: "
        f"{err[worst]:.1f} ulp (at most {allowed:g} allowed): a coefficient, the range reduction or a branch is wrong"
    )
    # and the results that overflow do so as the float64 reference rounded to float32 does
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(got[~finite], exact[~finite].astype(np.float32))


SPECIALS = np.array(
    [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45, 1.1754942e-38, -1.1754942e-38, 1.1754944e-38,
     88.72283, 88.72284, -87.33654, -103.27893, -103.97208, -103.972084, -104.0, 3.4028235e38, -3.4028235e38,
     9.010913, -9.010913, 3.9192059, 16.635532, -16.635532, 0.625, 2.0 * math.sqrt(2), -12.0, 1.0, -1.0],
    dtype=np.float32,
)


@pytest.mark.parametrize("name", list(REFERENCES))
def test_special_values_are_numpys(name):
    """±0 keeps its sign, denormals in and out, the overflow and underflow thresholds, ±inf and nan:
    bit for bit the float64 reference rounded to float32 (NumPy's float32 ops agree where they exist)."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        expected = REFERENCES[name](SPECIALS.astype(np.float64)).astype(np.float32)
    if name == "gelu":  # x * P(x) at x = -inf is -inf * 0: nan, as 0.5 x (1 + erf(x / sqrt 2)) gives
        expected[np.isneginf(SPECIALS)] = np.nan
    got = run_numba(name, SPECIALS)
    # GELU, evaluated in float32, is within its 2 ulp at the ordinary points of the list (1.0, -12.0, ...);
    # what is special about a value (a zero, a denormal, inf, nan, an overflow) is kept bit for bit
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        exact = REFERENCES[name](SPECIALS.astype(np.float64))
    ordinary = np.isfinite(SPECIALS) & np.isfinite(expected) & (np.abs(expected) >= np.finfo(np.float32).tiny)
    for x, g, e, ex, plain in zip(SPECIALS, got, expected, exact, ordinary):
        if plain and name in ALLOWED_ULP:
            err = ulp_error(np.array([g]), np.array([ex]))[0]
            assert err <= ALLOWED_ULP[name], f"scalar.{name}(float32 {x!r}) = {g!r}, exact {ex!r}: {err:.2f} ulp"
            continue
        same = (np.isnan(g) and np.isnan(e)) or (g == e and np.signbit(g) == np.signbit(e))
        assert same, f"scalar.{name}(float32 {x!r}) = {g!r}, NumPy's float64 result rounded to float32 is {e!r}"


def test_numpy_float32_agrees_on_the_special_values():
    """Where NumPy's float32 functions give a special result (±0, ±inf, nan, a denormal, ±1 of a
    saturated tanh), ours is the same. (Elsewhere NumPy's float32 exp may be 1 ulp off the correctly
    rounded value that ours gives: exp(1) is 2.7182817 rounded, NumPy says 2.718282.)"""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for name, np_fn in (("exp", np.exp), ("log", np.log), ("tanh", np.tanh)):
            theirs, ours = np_fn(SPECIALS), run_numba(name, SPECIALS)
            tiny = np.abs(theirs) < np.finfo(np.float32).tiny  # denormals and zeros
            special = ~np.isfinite(theirs) | tiny | (np.abs(theirs) == 1)
            special &= SPECIALS != 1.0  # exp(1), not a special value
            np.testing.assert_array_equal(ours[special], theirs[special], err_msg=name)
            signed = special & ~np.isnan(theirs)  # a nan's sign bit means nothing
            assert (np.signbit(ours[signed]) == np.signbit(theirs[signed])).all(), name


@pytest.mark.parametrize("name", ["gelu_back", "gelu_tanh_back"])
def test_gelu_derivatives_within_two_ulp(name, sample):
    """The derivative is a sum of two terms, P(x) + x p(x), that cancel near x = -0.75: the error is
    measured in ulps of the larger term there (the sum's own condition), in ulps of the result elsewhere."""
    x = sample[np.abs(sample) < 30]
    x64 = x.astype(np.float64)
    if name == "gelu_back":
        first, second = normal_cdf64(x64), x64 * np.exp(-0.5 * x64 * x64) / math.sqrt(2 * math.pi)
    else:
        s = 1.0 / (1.0 + np.exp(-2.0 * GELU_C * (x64 + 0.044715 * x64**3)))
        first, second = s, x64 * s * (1 - s) * 2 * GELU_C * (1 + 3 * 0.044715 * x64**2)
    exact = first + second
    scale = np.maximum(np.abs(exact), np.maximum(np.abs(first), np.abs(second)))
    from minitorch_edu.backends.numba.cpu import numba_backend

    out, ones = np.empty_like(x), np.ones_like(x)
    numba_backend.zip(getattr(scalar, name))(out, (1,), x, (1,), ones, (1,), (x.size,))
    err = np.abs(out - exact) / np.spacing(scale.astype(np.float32)).astype(np.float64)
    worst = int(np.argmax(err))
    assert err.max() <= 2.0, f"scalar.{name}({x[worst]!r}, 1) = {out[worst]!r}, exact {exact[worst]!r}"


@pytest.mark.parametrize("name", ["exp", "log", "tanh", "sigmoid", "erf"])
def test_float64_keeps_the_c_library(name):
    """float64 data does not take the float32 polynomials: the C library's results, bit for bit."""
    x = np.random.default_rng(0).standard_normal(10_000) * 5
    x = np.abs(x) if name == "log" else x
    from minitorch_edu.backends.numba.cpu import numba_backend

    out = np.empty_like(x)
    numba_backend.map(getattr(scalar, name))(out, (1,), x, (1,), (x.size,))
    libm = {"sigmoid": lambda v: 1.0 / (1.0 + math.exp(-v)) if v >= 0 else math.exp(v) / (1.0 + math.exp(v))}
    fn = libm[name] if name in libm else getattr(math, name)
    expected = np.array([fn(float(v)) for v in x])
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("name", ["exp", "log", "tanh", "sigmoid", "erf"])
def test_every_backend_gives_the_same_bits(backend, name):
    """The python backend and the CUDA simulator run the same Python function on np.float32 values."""
    x = np.concatenate([SPECIALS, np.linspace(-20, 20, 61, dtype=np.float32)])
    x = np.abs(x) if name == "log" else x
    with np.errstate(all="ignore"):
        got = getattr(mt.tensor(x, device=backend), name)().numpy()
    np.testing.assert_array_equal(got, run_numba(name, x))


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_layer_and_gradient_on_every_backend(backend, approximate):
    x = np.concatenate([np.linspace(-12, 12, 49), [-1e-30, 0.0, 3.0]]).astype(np.float32)
    name = "gelu" if approximate == "none" else "gelu_tanh"
    t = mt.tensor(x, device=backend, requires_grad=True)
    y = F.gelu(t, approximate=approximate)
    if approximate == "none":
        # the same float32 steps everywhere; the compiled kernel also fuses some multiply-adds that the
        # NumPy scalars of the python backend and the CUDA simulator round twice: at most 1 ulp apart
        assert ulp_error(y.detach().numpy(), run_numba(name, x).astype(np.float64)).max() <= 1.0
        assert (np.signbit(y.detach().numpy()) == np.signbit(x)).all()
    else:
        np.testing.assert_array_equal(y.detach().numpy(), run_numba(name, x))
    (y * mt.tensor(np.full(x.shape, 2.0, np.float32), device=backend)).sum().backward()
    exact = np.empty_like(x)
    from minitorch_edu.backends.numba.cpu import numba_backend

    numba_backend.zip(getattr(scalar, name + "_back"))(
        exact, (1,), x, (1,), np.full(x.shape, 2.0, np.float32), (1,), (x.size,)
    )
    np.testing.assert_array_equal(t.grad.numpy(), exact)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_gradient_checks_in_float64(approximate):
    x = mt.tensor(np.random.default_rng(7).standard_normal((4, 5)) * 3, dtype="float64")
    mt.grad_check(lambda v: F.gelu(v, approximate=approximate), x)


def test_gelu_of_integers_is_float32_as_in_pytorch():
    assert F.gelu(mt.tensor([1, -2])).dtype == np.float32


@pytest.mark.parametrize("op", ["exp", "sigmoid", "erf", "gelu"])
def test_permuted_input_keeps_its_layout(backend, op):
    """x.T.exp() (any permutation of a contiguous block) is computed as one flat loop in memory order
    and laid out as its input, as PyTorch lays it out; the values are the contiguous input's, and the
    gradient flows back through the permuted result."""
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(3).standard_normal((3, 4, 5)).astype(np.float32) * 3
    t = mt.tensor(x, device=backend, requires_grad=True)
    p = t.permute(2, 0, 1)
    fn = (lambda v: F.gelu(v)) if op == "gelu" else (lambda v: getattr(v, op)())
    y = fn(p)
    expected = fn(mt.tensor(np.ascontiguousarray(x.transpose(2, 0, 1)), device=backend)).numpy()
    np.testing.assert_array_equal(y.detach().numpy(), expected)
    tp = torch.from_numpy(x).permute(2, 0, 1)
    assert y.stride() == tuple(tp.stride()) and not y.is_contiguous()
    (y * y).sum().backward()
    tx = torch.from_numpy(x).requires_grad_(True)
    ty = torch.nn.functional.gelu(tx.permute(2, 0, 1)) if op == "gelu" else getattr(tx.permute(2, 0, 1), op)()
    (ty * ty).sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-6)
    # a slice of rows of a contiguous tensor, transposed, is one block too; a stepped slice is not
    q = mt.tensor(x, device=backend)
    r = q[1:].T.exp()
    assert r.stride() == tuple(torch.from_numpy(x)[1:].T.stride())
    np.testing.assert_allclose(r.numpy(), np.exp(x[1:].T), rtol=3e-7)  # NumPy's float32 exp: 1 ulp off at times
    assert q[:, :, ::2].exp().is_contiguous()


def test_exp_evaluated_in_float32_within_1_01_ulp_and_numpys_special_values(sample):
    """`scalar.exp_f32` (softmax's exp for float32 rows) rounds in float32 at every step, so it is
    allowed 1.01 ulp rather than 1; its overflow, denormals, ±inf and nan are NumPy's, bit for bit."""
    from numba import njit

    @njit
    def run(out, x):
        for i in range(x.size):
            out[i] = scalar.exp_f32(x[i])

    x = np.concatenate([sample, SPECIALS])
    got = np.empty_like(x)
    run(got, x)
    assert got.dtype == np.float32
    with np.errstate(over="ignore", invalid="ignore"):
        exact = np.exp(x.astype(np.float64))
        finite = np.isfinite(exact.astype(np.float32))
    err = ulp_error(got, exact)
    worst = int(np.nanargmax(np.where(finite, err, 0.0)))
    assert err[finite].max() <= 1.01, (
        f"exp_f32({x[worst]!r}) = {got[worst]!r}, exact {exact[worst]!r}: {err[worst]:.2f} ulp")
    with np.errstate(over="ignore"):
        expected = exact[~finite].astype(np.float32)
    np.testing.assert_array_equal(got[~finite], expected)  # overflow to inf, nan stays nan
    tiny = finite & (np.abs(exact) < 1.2e-38)  # denormal results: within 1 ulp of the smallest denormal
    assert np.all(np.abs(got[tiny].astype(np.float64) - exact[tiny]) <= 1.01 * 2.0**-149)


def test_gelu_tables_are_what_scripts_fit_gelu_fits():
    """The coefficients in scalar.py come from scripts/fit_gelu.py (mpmath, 40 digits): a table edited by
    hand, or a fit changed without copying its output, fails here."""
    import runpy
    from pathlib import Path

    fit = runpy.run_path(str(Path(__file__).parents[1] / "scripts" / "fit_gelu.py"))["fit_tables"]()
    assert fit["GELU_Q0"][0] == (float(scalar.GELU_Q0_HI), float(scalar.GELU_Q0_LO))
    assert fit["GELU_Q"][0] == tuple(float(c) for c in scalar.GELU_Q)
    assert fit["GELU_NEAR"][0] == tuple(float(c) for c in scalar.GELU_NEAR)
    assert fit["GELU_FAR"][0] == tuple(float(c) for c in scalar.GELU_FAR[:-1])  # the last is padding
    assert scalar.GELU_FAR[-1] == 0.0 and len(scalar.GELU_FAR) == len(scalar.GELU_NEAR)
    assert max(err for _, err in fit.values()) < 0.2  # in u: well below the rounding of a float32 step


def test_gelu_of_special_values_warns_of_nothing_on_the_python_backend():
    """The python backend runs `gelu_f32` on NumPy float32 scalars, which warn on overflow: a huge or
    infinite x must not overflow a step whose result is thrown away (x² of the small-|x| branch did)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        got = F.gelu(mt.tensor(SPECIALS, device="python")).numpy()
    expected = run_numba("gelu", SPECIALS)
    assert ulp_error(got, expected.astype(np.float64))[np.isfinite(expected)].max() <= 1.0
    np.testing.assert_array_equal(got[~np.isfinite(expected)], expected[~np.isfinite(expected)])
