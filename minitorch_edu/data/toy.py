"""2-D toy classification sets for the first models: simple, diag, split, xor, circle, spiral, moons.

Every set has `n` points in the unit square (spiral and moons: around it) with labels 0/1, and
both classes equally often (the rule-based sets draw points until each class has n/2), so a
classifier cannot look good by always answering the majority class.

    X, y = toy.xor(200, seed=0)            # float32 (n, 2), int64 (n,)
    ds = toy.spiral(300, as_dataset=True)  # a TensorDataset
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .dataset import TensorDataset
from .loader import _rng

Rule = Callable[[np.ndarray, np.ndarray], np.ndarray]
Result = tuple[np.ndarray, np.ndarray] | TensorDataset


def _finish(X: np.ndarray, y: np.ndarray, rng: np.random.Generator, as_dataset: bool) -> Result:
    order = rng.permutation(len(y))
    X, y = X[order].astype(np.float32), y[order].astype(np.int64)
    return TensorDataset(X, y) if as_dataset else (X, y)


def _balanced(rule: Rule, n: int, seed: int | np.random.Generator | None, as_dataset: bool) -> Result:
    """Uniform points in [0, 1)^2 labelled by `rule`, n//2 of class 0 and n - n//2 of class 1."""
    rng = _rng(seed)
    want = {0: n // 2, 1: n - n // 2}
    kept: dict[int, list[np.ndarray]] = {0: [], 1: []}
    while any(sum(len(k) for k in kept[c]) < want[c] for c in (0, 1)):
        points = rng.random((max(2 * n, 64), 2))
        labels = rule(points[:, 0], points[:, 1]).astype(np.int64)
        for c in (0, 1):
            kept[c].append(points[labels == c])
    X = np.concatenate([np.concatenate(kept[c])[: want[c]] for c in (0, 1)])
    y = np.repeat([0, 1], [want[0], want[1]])
    return _finish(X, y, rng, as_dataset)


def simple(n: int = 100, seed: int | np.random.Generator | None = None, as_dataset: bool = False) -> Result:
    """Class 1 left of x = 0.5: one vertical line separates the classes."""
    return _balanced(lambda x1, x2: x1 < 0.5, n, seed, as_dataset)


def diag(n: int = 100, seed: int | np.random.Generator | None = None, as_dataset: bool = False) -> Result:
    """Class 1 below the diagonal x1 + x2 = 1: still linearly separable, not axis-aligned."""
    return _balanced(lambda x1, x2: x1 + x2 < 1.0, n, seed, as_dataset)


def split(n: int = 100, seed: int | np.random.Generator | None = None, as_dataset: bool = False) -> Result:
    """Class 1 at both edges (x < 0.25 or x > 0.75): needs a hidden layer."""
    return _balanced(lambda x1, x2: (x1 < 0.25) | (x1 > 0.75), n, seed, as_dataset)


def xor(n: int = 100, seed: int | np.random.Generator | None = None, as_dataset: bool = False) -> Result:
    """Class 1 in the top-left and bottom-right quadrants: the classic non-linear problem."""
    return _balanced(lambda x1, x2: (x1 < 0.5) != (x2 < 0.5), n, seed, as_dataset)


def circle(n: int = 100, seed: int | np.random.Generator | None = None, as_dataset: bool = False) -> Result:
    """Class 1 outside a circle around the centre."""
    return _balanced(lambda x1, x2: (x1 - 0.5) ** 2 + (x2 - 0.5) ** 2 > 0.1, n, seed, as_dataset)


def spiral(
    n: int = 100, seed: int | np.random.Generator | None = None, as_dataset: bool = False, noise: float = 0.0
) -> Result:
    """Two interleaved spirals (one per class) around (0.5, 0.5)."""
    rng = _rng(seed)
    half = n // 2
    parts = []
    for c, count in ((0, half), (1, n - half)):
        t = np.linspace(0.0, 1.0, count, endpoint=False) * 3 * np.pi + 0.5
        r = t / (3 * np.pi + 0.5) * 0.45
        angle = t + c * np.pi  # the second arm is the first one turned half a circle
        points = np.stack([0.5 + r * np.cos(angle), 0.5 + r * np.sin(angle)], axis=1)
        parts.append(points + noise * rng.standard_normal(points.shape))
    y = np.repeat([0, 1], [half, n - half])
    return _finish(np.concatenate(parts), y, rng, as_dataset)


def moons(
    n: int = 100, seed: int | np.random.Generator | None = None, as_dataset: bool = False, noise: float = 0.05
) -> Result:
    """Two interleaving half circles (as scikit-learn's make_moons), scaled into about [0, 1]^2."""
    rng = _rng(seed)
    half = n // 2
    t0 = rng.random(half) * np.pi
    t1 = rng.random(n - half) * np.pi
    upper = np.stack([np.cos(t0), np.sin(t0)], axis=1)
    lower = np.stack([1 - np.cos(t1), 0.5 - np.sin(t1)], axis=1)
    X = np.concatenate([upper, lower]) + noise * rng.standard_normal((n, 2))
    X = (X + np.array([1.0, 0.75])) / np.array([3.0, 2.0])
    y = np.repeat([0, 1], [half, n - half])
    return _finish(X, y, rng, as_dataset)


DATASETS: dict[str, Callable[..., Result]] = {
    "simple": simple,
    "diag": diag,
    "split": split,
    "xor": xor,
    "circle": circle,
    "spiral": spiral,
    "moons": moons,
}


def load(name: str, n: int = 100, seed: int | np.random.Generator | None = None, as_dataset: bool = False) -> Result:
    """A toy set by name (one of `DATASETS`)."""
    if name not in DATASETS:
        raise ValueError(f"unknown toy set {name!r}; choose from {', '.join(DATASETS)}")
    return DATASETS[name](n, seed=seed, as_dataset=as_dataset)
