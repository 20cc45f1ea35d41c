"""Figures the course draws, kept out of the learner's way (chapter 02: storage, strides, broadcasting).

Every picture is computed with NumPy from the shape and strides it is given, never with the
learner's code, so a figure is right even while an exercise is not:

    from minitorch_edu.course_figures import memory_figure
    memory_figure([("x", (2, 3), (3, 1)), ("x.T (no copy)", (3, 2), (1, 3))], storage_size=6)
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

__all__ = ["broadcast_figure", "draw_memory", "memory_figure", "positions"]


def positions(shape: Sequence[int], strides: Sequence[int]) -> np.ndarray:
    """The storage position of every index of `shape` read with `strides` (an array of that shape)."""
    if not shape:
        return np.array(0)
    return sum(g * s for g, s in zip(np.indices(tuple(shape)), strides))


def _as_3d(shape: tuple[int, ...], strides: Sequence[int]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """A 1-D or 2-D (shape, strides) padded to 3-D with one-element leading dims."""
    pad = 3 - len(shape)
    return (1,) * pad + shape, (0,) * pad + tuple(strides)


def draw_memory(shape: Sequence[int], strides: Sequence[int], ax_grid: plt.Axes, ax_strip: plt.Axes,
                title: str = "", storage_size: int | None = None, cmap: str = "viridis") -> None:
    """Draw a 1-D/2-D/3-D tensor as grids (one per leading index) above its 1-D memory strip.

    Each element is coloured by the storage cell it reads and labelled with that cell's number; red
    arrows over the strip show the order in which counting through the view visits memory.
    """
    shape = tuple(shape)
    shape3, strides3 = _as_3d(shape, strides)
    pos = positions(shape3, strides3)
    n = storage_size or int(pos.max()) + 1
    colours = plt.get_cmap(cmap)(np.linspace(0.15, 0.95, max(n, 2)))
    blocks, rows, cols = shape3
    gap = 0.6
    for b in range(blocks):
        x0 = b * (cols + gap)
        for r in range(rows):
            for c in range(cols):
                p = int(pos[b, r, c])
                ax_grid.add_patch(plt.Rectangle((x0 + c, rows - 1 - r), 1, 1, fc=colours[p], ec="white", lw=2))
                ax_grid.text(x0 + c + 0.5, rows - 0.5 - r, str(p), ha="center", va="center", fontsize=10, color="white")
    width = blocks * cols + (blocks - 1) * gap
    ax_grid.set_xlim(-0.2, max(width, n * width / max(n, 1)) + 0.2)
    ax_grid.set_ylim(-0.2, rows + 0.2)
    ax_grid.set_aspect("equal")
    ax_grid.axis("off")
    ax_grid.set_title(f"{title}  shape {shape}, strides {tuple(strides)}", fontsize=10)
    for p in range(n):
        used = bool((pos == p).any())
        ax_strip.add_patch(plt.Rectangle((p, 0), 1, 1, fc=colours[p] if used else "#eeeeee", ec="white", lw=2))
        ax_strip.text(p + 0.5, 0.5, str(p), ha="center", va="center", fontsize=9 if n <= 12 else 6,
                      color="white" if used else "#999999")
    walk = [int(p) for p in pos.reshape(-1)]
    if len(walk) <= 12:  # more arrows than that is a tangle
        for p, q in zip(walk, walk[1:]):
            if p != q:
                ax_strip.annotate("", xy=(q + 0.5, 1.0), xytext=(p + 0.5, 1.0),
                                  arrowprops={"arrowstyle": "->", "color": "tab:red", "lw": 1,
                                              "connectionstyle": "arc3,rad=-0.5"})
    ax_strip.set_xlim(-0.2, n + 0.2)
    ax_strip.set_ylim(-0.1, 2.2)
    ax_strip.set_aspect("equal")
    ax_strip.axis("off")
    ax_strip.set_title("storage (1-D memory); red: the order the view reads it", fontsize=9)


def memory_figure(views: Sequence[tuple[str, Sequence[int], Sequence[int]]],
                  storage_size: int | None = None) -> plt.Figure:
    """One column per (title, shape, strides): the tensor's grid above the shared memory strip."""
    fig, axes = plt.subplots(2, len(views), figsize=(4.2 * len(views), 3.6), dpi=80,
                             gridspec_kw={"height_ratios": [3, 1.6]}, squeeze=False)
    for k, (title, shape, strides) in enumerate(views):
        draw_memory(shape, strides, axes[0, k], axes[1, k], title, storage_size)
    fig.tight_layout()
    return fig


def broadcast_figure(shape_a: Sequence[int] = (3, 1), shape_b: Sequence[int] = (4,)) -> plt.Figure:
    """a, b and a + b for two shapes of at most 2 dims: the stretched cells are faded (not in memory)."""
    shape_a, shape_b = tuple(shape_a), tuple(shape_b)
    out = np.broadcast_shapes(shape_a, shape_b)
    rows, cols = (out[-2] if len(out) > 1 else 1), out[-1]

    def numbered(shape: tuple[int, ...]) -> np.ndarray:  # 0, 1, 2, ... laid out in `shape`, as 2-D
        return np.arange(int(np.prod(shape))).reshape((1,) * (2 - len(shape)) + shape)

    a_val, b_val = numbered(shape_a), numbered(shape_b)
    total = np.broadcast_to(a_val, (rows, cols)) + np.broadcast_to(b_val, (rows, cols))
    fig, axes = plt.subplots(1, 3, figsize=(10, 2.6), dpi=80)
    for ax, shape, name in zip(axes, [shape_a, shape_b, out], ["a", "b", "a + b"]):
        values = numbered(tuple(shape))
        full = values.shape
        for r in range(rows):
            for c in range(cols):
                src_r, src_c = (0 if full[0] == 1 else r), (0 if full[1] == 1 else c)
                real = (src_r, src_c) == (r, c) or name == "a + b"
                ax.add_patch(plt.Rectangle((c, rows - 1 - r), 1, 1, fc="tab:blue", alpha=1.0 if real else 0.25,
                                           ec="white", lw=2))
                label = f"{total[r, c]}" if name == "a + b" else f"{values[src_r, src_c]}"
                ax.text(c + 0.5, rows - 0.5 - r, label, ha="center", va="center", fontsize=10,
                        color="white" if real else "black")
        ax.set_xlim(-0.2, cols + 0.2)
        ax.set_ylim(-0.2, rows + 0.2)
        ax.set_aspect("equal")
        ax.axis("off")
        ax.set_title(f"{name}: shape {tuple(shape)}" + ("" if name == "a + b" else f" → {out}"), fontsize=10)
    fig.tight_layout()
    return fig
