"""The graph IR: values (with shapes and dtypes), nodes (ops) and the graph that holds them.

A `Graph` reads like a jaxpr: explicit inputs, captured tensors (parameters and other tensors
from outside the function, read afresh at every call), literal constants, one line per node,
explicit outputs:

    graph(%0: f32[4, 3], %1: f32[3, 5]) {
      %2: f32[4, 5] = matmul %0, %1              # model.py:12
      %3: f32[4, 5] = add %2, 1.0
      %4: f32[4, 5] = exp %3                     [fused #0]
      return %4
    }
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .table import OpInfo

_SHORT = {"float32": "f32", "float64": "f64", "int64": "i64", "bool": "bool", "float16": "f16", "int32": "i32"}


def type_text(shape: tuple[int, ...], dtype: np.dtype) -> str:
    """`f32[4, 3]`: the dtype and shape of a value, as the IR prints it."""
    return f"{_SHORT.get(np.dtype(dtype).name, np.dtype(dtype).name)}[{', '.join(str(s) for s in shape)}]"


@dataclass(eq=False)
class Value:
    """One tensor-valued thing in the graph.

    kind: "input" (an argument of the function), "capture" (a tensor from outside the function:
    a parameter, a buffer; the graph holds it and reads its current data at every call),
    "literal" (a 0-d constant: a Python number lifted into the graph, or a folded result),
    or "node" (computed by `producer`).
    """

    id: int
    shape: tuple[int, ...]
    dtype: np.dtype
    device: str
    kind: str
    strides: tuple[int, ...] = ()
    tensor: Any = None  # the held tensor of a capture or literal
    producer: Node | None = None
    label: str = ""  # the argument's name, for inputs

    @property
    def name(self) -> str:
        return f"%{self.id}"

    @property
    def type(self) -> str:
        return type_text(self.shape, self.dtype)

    @property
    def literal(self) -> float | int:
        """The Python number of a literal."""
        return self.tensor.numpy().reshape(-1)[0].item()

    def ref(self) -> str:
        """How a node's operand list shows this value: literals by their number."""
        if self.kind != "literal":
            return self.name
        return str(self.tensor.numpy().reshape(-1)[0])  # NumPy's shortest text for the dtype (0.044715)


@dataclass(eq=False)
class Node:
    """One op: `out = op(*inputs, **options)`.

    `fn` is the traced `Function` class (replayed with `fn.apply`, so autograd records it), or
    None for a raw kernel (`raw` is then "map", "zip", "reduce" or "detach", with `scalar` fn).
    """

    info: OpInfo
    inputs: list[Value]
    out: Value
    options: dict[str, Any] = field(default_factory=dict)
    fn: type | None = None
    raw: str | None = None
    scalar: Any = None
    where: str = ""  # file:line of the user's code that made it

    @property
    def op(self) -> str:
        return self.info.name

    @property
    def kind(self) -> str:
        return self.info.kind

    def key(self) -> tuple:
        """Equal for two nodes that compute the same thing from the same operands (CSE)."""
        return (self.fn, self.raw, self.scalar, self.op, tuple(v.id for v in self.inputs), _freeze(self.options),
                self.out.dtype.str)


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, slice):
        return ("slice", value.start, value.stop, value.step)
    try:
        hash(value)
    except TypeError:
        return ("id", id(value))
    return value


def _option_text(options: dict[str, Any]) -> str:
    shown = []
    for k, v in options.items():
        if isinstance(v, np.dtype):
            v = v.name
        elif hasattr(v, "name") and k == "backend":
            v = v.name
        shown.append(f"{k}={v}")
    return "[" + ", ".join(shown) + "]" if shown else ""


class Graph:
    """A traced function: inputs, captures, literals, nodes in execution order, outputs."""

    def __init__(self, name: str = "f") -> None:
        self.name = name
        self.inputs: list[Value] = []
        self.captures: list[Value] = []
        self.nodes: list[Node] = []
        self.outputs: list[Value] = []
        self.out_structure: Any = None  # how outputs are packed: None (one tensor), tuple or list
        self.groups: list[list[Node]] = []  # fused groups (filled by the fusion pass)
        self.history: list[tuple[str, int]] = []  # (pass, nodes after it)
        self.backend: Any = None
        self._next = 0

    # ------------------------------------------------------------------ building
    def value(self, shape: tuple[int, ...], dtype: Any, device: str, kind: str, **extra: Any) -> Value:
        v = Value(self._next, tuple(shape), np.dtype(dtype), device, kind, **extra)
        self._next += 1
        return v

    def add_node(self, node: Node) -> Node:
        node.out.producer = node
        self.nodes.append(node)
        return node

    # ------------------------------------------------------------------ queries
    def users(self) -> dict[int, list[Node]]:
        """value id -> the nodes that read it."""
        used: dict[int, list[Node]] = {}
        for n in self.nodes:
            for v in n.inputs:
                used.setdefault(v.id, []).append(n)
        return used

    def group_of(self) -> dict[int, int]:
        """id(node) -> index of its fused group."""
        return {id(n): g for g, members in enumerate(self.groups) for n in members}

    def kernels_per_call(self) -> int:
        """Kernels one call launches without autograd: one per fused group, one per other computing node."""
        grouped = self.group_of()
        singles = sum(1 for n in self.nodes if id(n) not in grouped and n.kind != "view" and n.raw != "detach")
        return len(self.groups) + singles

    # ------------------------------------------------------------------ printing
    def __str__(self) -> str:
        args = ", ".join(f"{v.name}: {v.type}" for v in self.inputs)
        lines = [f"graph {self.name}({args}) {{"]
        for v in self.captures:
            what = "parameter" if v.tensor.requires_grad else "tensor"
            lines.append(f"  {v.name}: {v.type} = captured {what}")
        grouped = self.group_of()
        for n in self.nodes:
            operands = ", ".join(v.ref() for v in n.inputs)
            text = f"  {n.out.name}: {n.out.type} = {n.op}{_option_text(n.options)} {operands}"
            notes = []
            if id(n) in grouped:
                notes.append(f"[fused #{grouped[id(n)]}]")
            if n.where:
                notes.append(f"# {n.where}")
            if notes:
                text = f"{text:<56} " + " ".join(notes)
            lines.append(text)
        lines.append("  return " + ", ".join(v.ref() for v in self.outputs))
        lines.append("}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<Graph {self.name}: {len(self.inputs)} inputs, {len(self.nodes)} nodes, {len(self.groups)} fused>"

    def summary(self) -> str:
        """Nodes before and after each pass, what was fused, and kernels per call."""
        lines = [f"graph {self.name}: {len(self.inputs)} inputs, {len(self.captures)} captures"]
        for name, count in self.history:
            lines.append(f"  {name:<28} {count:>4} nodes")
        for g, members in enumerate(self.groups):
            ops = " -> ".join(n.op for n in members)
            lines.append(f"  fused #{g}: {len(members)} ops in one kernel ({ops}) over {members[-1].out.type}")
        lines.append(f"  kernels per call: {self.kernels_per_call()} (no autograd)")
        return "\n".join(lines)

    def draw(self, path: str | None = None, ax: Any = None) -> Any:
        """A matplotlib picture of the graph (inputs at the top, fused groups shaded); see `graph.draw`."""
        from .draw import draw

        return draw(self, path=path, ax=ax)

    def _repr_png_(self) -> bytes:  # Jupyter shows a graph as its picture
        import io

        from .draw import draw

        fig = draw(self)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
        import matplotlib.pyplot as plt

        plt.close(fig)
        return buffer.getvalue()
