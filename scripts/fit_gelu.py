"""Fit the coefficient tables of GELU's float32 route (`minitorch_edu/backends/scalar.py`, `gelu_f32`).

Run: `python scripts/fit_gelu.py` (about a minute); it prints the three tables and the largest error of each
fit, measured in float64 over 1,500 Chebyshev points against mpmath in 40 digits.

Each table is a polynomial fitted for the smallest largest error (Lawson's iteration: least squares
reweighted by the error until the error is level), then rounded to float32 one coefficient at a time from
the constant term up, the higher ones fitted again each time, so that the rounding of one coefficient is
absorbed by the next. Errors are stated relative to what the table's value is added to:

- GELU_Q: (P(x) - 1/2) / x in u = x², |x| <= 1/2 (P the standard normal CDF), relative to itself; its
  constant term 1/sqrt(2 pi) is kept exact (GELU_Q0_HI + GELU_Q0_LO), only the others are fitted;
- GELU_NEAR and GELU_FAR: sqrt(2 pi) g(y), where 1/m(y) = y + g(y) and m(y) = P(-y) / phi(y) is the
  Mills ratio, relative to the denominator sqrt(2 pi) (y + g(y)) it is part of: NEAR in y - 3/2 for
  1/2 <= y <= 5/2, FAR as t P(t) in t = 1 / (1 + y) for 5/2 <= y <= 14.85.
"""

from __future__ import annotations

import mpmath as mp
import numpy as np

mp.mp.dps = 40
SQRT_2PI = mp.sqrt(2 * mp.pi)
U = 2.0**-24  # a float32 unit roundoff


def chebyshev_points(a: float, b: float, n: int = 1500) -> np.ndarray:
    k = np.arange(n)
    return (a + b) / 2 + (b - a) / 2 * np.cos(np.pi * (k + 0.5) / n)


def lawson(var: np.ndarray, target: np.ndarray, degree: int, scale: np.ndarray, mult: np.ndarray,
           rounds: int = 150) -> np.ndarray:
    """Coefficients c (lowest first) of mult * sum c_i var^i ~ target, minimising max |error| / scale."""
    basis = np.vander(var, degree + 1, increasing=True) * mult[:, None]
    weight = np.full(var.shape, 1.0 / var.size)
    for _ in range(rounds):
        w = np.sqrt(weight) / scale
        c = np.linalg.lstsq(basis * w[:, None], target * w, rcond=None)[0]
        err = np.abs(basis @ c - target) / scale
        weight = weight * err
        weight /= weight.sum()
    return c


def fit_float32(var: np.ndarray, target: np.ndarray, degree: int, scale: np.ndarray,
                mult: np.ndarray | None = None, fixed: tuple[float, ...] = ()) -> tuple[list[float], float]:
    """Fit, then round to float32 from the constant term up (`fixed`: leading terms given exactly)."""
    mult = np.ones_like(var) if mult is None else mult
    coefficients = list(fixed)
    for j in range(len(fixed), degree + 1):
        rest = target - mult * sum(c * var**i for i, c in enumerate(coefficients))
        c = lawson(var, rest, degree - j, scale, mult * var**j)
        coefficients.append(float(np.float32(c[0])))
    err = np.abs(mult * sum(c * var**i for i, c in enumerate(coefficients)) - target) / scale
    return coefficients, float(err.max())


def scaled_g(y: float) -> float:
    """sqrt(2 pi) g(y) = sqrt(2 pi) (1 / m(y) - y)."""
    v = mp.mpf(y)
    return float(SQRT_2PI * (mp.npdf(v) / mp.ncdf(-v) - v))


def fit_tables() -> dict[str, tuple[tuple[float, ...], float]]:
    """Each table's coefficients (lowest degree first) and its largest error in u."""
    x = chebyshev_points(1e-6, 0.5)
    q = np.array([float((mp.ncdf(mp.mpf(v)) - mp.mpf(0.5)) / mp.mpf(v)) for v in x])
    q0 = float(1 / SQRT_2PI)
    q_table, q_err = fit_float32(x * x, q, 4, np.abs(q), fixed=(q0,))
    q0_hi = float(np.float32(q0))

    y = chebyshev_points(0.5, 2.5)
    g = np.array([scaled_g(v) for v in y])
    near, near_err = fit_float32(y - 1.5, g, 8, g + float(SQRT_2PI) * y)

    y = chebyshev_points(2.5, 14.85)
    g = np.array([scaled_g(v) for v in y])
    t = 1 / (1 + y)
    far, far_err = fit_float32(t, g, 7, g + float(SQRT_2PI) * y, mult=t)
    return {
        "GELU_Q0": ((q0_hi, float(np.float32(q0 - q0_hi))), 0.0),
        "GELU_Q": (tuple(q_table[1:]), q_err / U),
        "GELU_NEAR": (tuple(near), near_err / U),
        "GELU_FAR": (tuple(far), far_err / U),
    }


def main() -> None:
    for name, (table, err) in fit_tables().items():
        print(f"{name} = {table!r}  # {err:.2f} u")


if __name__ == "__main__":
    main()
