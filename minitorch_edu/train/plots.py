"""Pictures of a trained classifier: `plot_decision_boundary` for the 2-D toy sets.

fig = plot_decision_boundary(model, X, y)   # shaded by the model's probability of class 1
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .keras import predict


def _class1_probability(output: np.ndarray) -> np.ndarray:
    """P(class 1) from logits: sigmoid for one output, softmax for two; the class index for more."""
    if output.ndim == 1 or output.shape[-1] == 1:
        return 1.0 / (1.0 + np.exp(-output.reshape(-1)))
    if output.shape[-1] == 2:
        shifted = output - output.max(axis=-1, keepdims=True)
        e = np.exp(shifted)
        return e[:, 1] / e.sum(axis=-1)
    return output.argmax(axis=-1).astype(np.float64)


def plot_decision_boundary(
    model: Any,
    X: Any,
    y: Any,
    resolution: int = 150,
    margin: float = 0.1,
    ax: Any = None,
    title: str | None = None,
) -> Any:
    """Shade the plane by the model's prediction and draw the points coloured by their label.

    Works for any model mapping (N, 2) float32 inputs to logits; returns the matplotlib Figure.
    """
    import matplotlib.pyplot as plt


    X = np.asarray(X.numpy() if hasattr(X, "numpy") else X, dtype=np.float32)
    y = np.asarray(y.numpy() if hasattr(y, "numpy") else y).reshape(-1)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"plot_decision_boundary needs 2-D points of shape (N, 2), got {X.shape}")
    lo, hi = X.min(axis=0) - margin, X.max(axis=0) + margin
    xs, ys = np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution)
    gx, gy = np.meshgrid(xs, ys)
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1).astype(np.float32)
    out = predict(model, grid, batch_size=4096)
    z = _class1_probability(out).reshape(gx.shape)
    if ax is None:
        fig, ax = plt.subplots(figsize=(5, 5))
    else:
        fig = ax.figure
    multi = out.ndim == 2 and out.shape[-1] > 2
    levels = np.arange(out.shape[-1] + 1) - 0.5 if multi else np.linspace(0, 1, 11)
    ax.contourf(gx, gy, z, levels=levels, cmap="RdBu_r" if not multi else "tab10", alpha=0.5)
    if not multi:
        ax.contour(gx, gy, z, levels=[0.5], colors="k", linewidths=1)
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap="RdBu_r" if not multi else "tab10", edgecolors="k", s=20)
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_aspect("equal")
    if title:
        ax.set_title(title)
    return fig
