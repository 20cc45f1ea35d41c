"""`Graph.draw()`: a picture of the graph with matplotlib alone (no Graphviz).

Layout: each value sits on the row of its depth (inputs and captures at the top, each node one
row below its deepest operand), spread evenly across its row; arrows go from operands to users.
Inputs are blue, captures (parameters) green, ops grey and fused ops orange inside a dashed box
per fused group. Literals are written into their user's label instead of getting a box of their
own, which keeps graphs of ~50 nodes readable.
"""

from __future__ import annotations

from typing import Any

from .ir import Graph

_COLORS = {"input": "#cfe2ff", "capture": "#d1e7dd", "node": "#e9ecef", "fused": "#ffe5b4", "output": "#f8d7da"}


def _layout(g: Graph) -> tuple[dict[int, tuple[float, float]], int]:
    depth: dict[int, int] = {v.id: 0 for v in g.inputs + g.captures}
    for n in g.nodes:
        depth[n.out.id] = 1 + max((depth.get(v.id, 0) for v in n.inputs if v.kind != "literal"), default=0)
    rows: dict[int, list[int]] = {}
    for vid, d in depth.items():
        rows.setdefault(d, []).append(vid)
    width = max(len(r) for r in rows.values()) if rows else 1
    pos = {}
    for d, ids in rows.items():
        for i, vid in enumerate(ids):
            pos[vid] = ((i + 0.5) * width / len(ids), -d)
    return pos, width


def draw(g: Graph, path: str | None = None, ax: Any = None) -> Any:
    """Draw `g`; save to `path` if given. Returns the matplotlib Figure."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch, Rectangle

    pos, width = _layout(g)
    depth = -min((y for _, y in pos.values()), default=0)
    if ax is None:
        fig, ax = plt.subplots(figsize=(max(4.0, 2.3 * width), max(3.0, 0.95 * (depth + 1))))
    else:
        fig = ax.figure
    grouped = g.group_of()
    outputs = {v.id for v in g.outputs}
    labels: dict[int, tuple[str, str]] = {}
    for v in g.inputs:
        labels[v.id] = (f"{v.label or v.name}\n{v.type}", "input")
    for v in g.captures:
        labels[v.id] = (f"{'param' if v.tensor.requires_grad else 'tensor'}\n{v.type}", "capture")
    for n in g.nodes:
        lits = [v.ref() for v in n.inputs if v.kind == "literal"]
        op = n.op + (f"({', '.join(lits)})" if lits else "")
        kind = "fused" if id(n) in grouped else "node"
        labels[n.out.id] = (f"{op}\n{n.out.type}", kind)
    # fused groups: a dashed box around their members
    for gi, members in enumerate(g.groups):
        xs = [pos[m.out.id][0] for m in members]
        ys = [pos[m.out.id][1] for m in members]
        ax.add_patch(Rectangle((min(xs) - 0.55, min(ys) - 0.42), max(xs) - min(xs) + 1.1, max(ys) - min(ys) + 0.84,
                               fill=False, linestyle="--", edgecolor="#d97706", linewidth=1.2, zorder=0))
        ax.text(min(xs) - 0.5, max(ys) + 0.3, f"fused #{gi}", fontsize=7, color="#b45309", va="bottom")
    for n in g.nodes:
        x1, y1 = pos[n.out.id]
        for v in n.inputs:
            if v.id in pos:
                x0, y0 = pos[v.id]
                ax.annotate("", xy=(x1, y1 + 0.22), xytext=(x0, y0 - 0.22),
                            arrowprops={"arrowstyle": "->", "color": "#6c757d", "lw": 0.8}, zorder=1)
    for vid, (x, y) in pos.items():
        text, kind = labels.get(vid, ("?", "node"))
        color = _COLORS["output"] if vid in outputs else _COLORS[kind]
        ax.add_patch(FancyBboxPatch((x - 0.45, y - 0.22), 0.9, 0.44, boxstyle="round,pad=0.02",
                                    facecolor=color, edgecolor="#495057", linewidth=0.8, zorder=2))
        ax.text(x, y, text, ha="center", va="center", fontsize=7, zorder=3)
    ax.set_xlim(-0.7, width + 0.2)
    ax.set_ylim(-depth - 0.6, 0.7)
    ax.set_axis_off()
    ax.set_title(f"{g.name}: {len(g.nodes)} nodes, {len(g.groups)} fused group(s), "
                 f"{g.kernels_per_call()} kernel(s) per call", fontsize=9)
    if path is not None:
        fig.savefig(path, dpi=110, bbox_inches="tight")
    return fig
