"""Graph passes: dead-code elimination, constant folding, common-subexpression elimination, fusion.

Each pass rewrites the graph in place and is small enough to read in one go; `optimize` runs
them in order and records the node count after each (`Graph.summary()` shows it).
"""

from __future__ import annotations

import numpy as np

from ..core.autograd import no_grad
from .ir import Graph, Node, Value


def _replace_uses(g: Graph, old: Value, new: Value) -> None:
    for n in g.nodes:
        n.inputs = [new if v is old else v for v in n.inputs]
    g.outputs = [new if v is old else v for v in g.outputs]


def dead_code_elimination(g: Graph) -> Graph:
    """Drop nodes whose results reach no output (and captures nothing reads any more)."""
    live = {v.id for v in g.outputs}
    kept: list[Node] = []
    for n in reversed(g.nodes):
        if n.out.id in live:
            kept.append(n)
            live.update(v.id for v in n.inputs)
    g.nodes = kept[::-1]
    g.captures = [v for v in g.captures if v.id in live]
    return g


def constant_folding(g: Graph) -> Graph:
    """Compute now every node whose operands are all literals; its result becomes a literal."""
    for n in list(g.nodes):
        if n.inputs and all(v.kind == "literal" for v in n.inputs) and n.out.shape == ():
            with no_grad():
                t = _run(n, [v.tensor for v in n.inputs])
            folded = g.value((), t.dtype, t.device, "literal", tensor=t.detach())
            g.nodes.remove(n)
            _replace_uses(g, n.out, folded)
    return g


def common_subexpression_elimination(g: Graph) -> Graph:
    """Compute each distinct (op, operands, options) once: a second `x.exp()` reuses the first."""
    seen: dict[tuple, Value] = {}
    literals: dict[tuple, Value] = {}
    for n in list(g.nodes):
        # equal literals (two lifted 2.0s) are one value, so that their users can match too
        for v in n.inputs:
            if v.kind == "literal":
                lit = literals.setdefault((v.dtype.str, v.literal), v)
                if lit is not v:
                    _replace_uses(g, v, lit)
        k = n.key()
        if k in seen:
            g.nodes.remove(n)
            _replace_uses(g, n.out, seen[k])
        else:
            seen[k] = n.out
    return g


def _run(n: Node, args: list) -> object:
    """Execute one node eagerly (the replay of a recorded op)."""
    if n.fn is not None:
        return n.fn.apply(*args, **n.options)
    a = args[0]
    if n.raw == "detach":
        return a.detach()
    if n.raw == "map":
        return a._map(n.scalar, dtype=n.options.get("dtype"))
    if n.raw == "zip":
        return a._zip(n.scalar, args[1])
    if n.raw == "reduce":
        return a._reduce(n.scalar, n.options["dim"], n.options["start"])
    if n.raw == "matmul":
        return a._matmul(args[1])
    raise RuntimeError(f"cannot run node {n.op}")


run_node = _run

FUSABLE_DTYPES = (np.dtype("float32"), np.dtype("float64"))


def scalar_of(n: Node) -> object:
    """The per-element function of an elementwise node (None for `where` and unknown ones)."""
    from .table import function_info

    return n.scalar if n.fn is None else function_info(n.fn, n.options).scalar


def fusable(n: Node) -> bool:
    """An elementwise op on floats whose per-element function the code generator knows."""
    if n.kind != "elementwise" or (n.op != "where" and scalar_of(n) is None):
        return False
    return n.out.dtype in FUSABLE_DTYPES and all(v.dtype in FUSABLE_DTYPES for v in n.inputs)


def fuse_elementwise(g: Graph, min_size: int = 2) -> Graph:
    """Group chains of elementwise ops of one output shape into `g.groups` (one kernel each).

    Greedy, in execution order: a node joins the group of one of its operands' producers when
    the shapes agree and joining makes no cycle (no operand of the node depends on the group
    through a node outside it). Values read only inside a group never reach memory.
    """
    group_of: dict[int, int] = {}  # id(node) -> group index
    groups: list[list[Node]] = []
    # the groups each value depends on (through any path): detects cycles
    depends: dict[int, frozenset[int]] = {}

    def deps(v: Value) -> frozenset[int]:
        return depends.get(v.id, frozenset())

    for n in g.nodes:
        chosen = None
        if fusable(n):
            for v in n.inputs:
                p = v.producer
                if p is None or id(p) not in group_of:
                    continue
                cand = group_of[id(p)]
                if groups[cand][0].out.shape != n.out.shape:
                    continue
                # every operand produced outside the group must not depend on the group
                if all(cand not in deps(w) or (w.producer is not None and group_of.get(id(w.producer)) == cand)
                       for w in n.inputs):
                    chosen = cand
                    break
            if chosen is None:
                chosen = len(groups)
                groups.append([])
            groups[chosen].append(n)
            group_of[id(n)] = chosen
        d: set[int] = set()
        for v in n.inputs:
            d |= deps(v)
            if v.producer is not None and id(v.producer) in group_of:
                d.add(group_of[id(v.producer)])
        depends[n.out.id] = frozenset(d)
    g.groups = [members for members in groups if len(members) >= min_size]
    return g


def optimize(g: Graph, fuse: bool = True) -> Graph:
    """DCE, constant folding, CSE, DCE again, then (optionally) elementwise fusion."""
    for name, p in (
        ("dead-code elimination", dead_code_elimination),
        ("constant folding", constant_folding),
        ("common subexpressions", common_subexpression_elimination),
        ("dead-code elimination", dead_code_elimination),
    ):
        p(g)
        g.history.append((name, len(g.nodes)))
    if fuse:
        fuse_elementwise(g)
        g.history.append((f"fusion: {len(g.groups)} group(s), steps", len(g.nodes) - sum(len(m) - 1 for m in g.groups)))
    return g
