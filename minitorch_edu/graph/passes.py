"""Graph passes: dead-code elimination, constant folding, common-subexpression elimination, fusion.

Each pass rewrites the graph in place and is small enough to read in one go; `optimize` runs
them in order and records the node count after each (`Graph.summary()` shows it).
"""

from __future__ import annotations

import numpy as np

from ..core.autograd import no_grad
from .ir import Graph, Node, Value
from .table import function_info


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
        return a._zip(n.scalar, args[1], dtype=n.options.get("dtype"))
    if n.raw == "reduce":
        return a._reduce(n.scalar, n.options["dim"], n.options["start"])
    if n.raw == "matmul":
        return a._matmul(args[1])
    raise RuntimeError(f"cannot run node {n.op}")


run_node = _run

FUSABLE_DTYPES = (np.dtype("float32"), np.dtype("float64"), np.dtype("bool"))


def scalar_of(n: Node) -> object:
    """The per-element function of an elementwise node (None for `where` and unknown ones)."""
    return n.scalar if n.fn is None else function_info(n.fn, n.options).scalar


def fusable(n: Node) -> bool:
    """An elementwise op on floats or masks whose per-element function the code generator knows."""
    if n.kind != "elementwise" or (n.op != "where" and scalar_of(n) is None):
        return False
    return n.out.dtype in FUSABLE_DTYPES and all(v.dtype in FUSABLE_DTYPES for v in n.inputs)


def fuse_elementwise(g: Graph, min_size: int = 2) -> Graph:
    """Group chains of elementwise ops of one output shape into `g.groups` (one kernel each).

    Greedy, in execution order: a node joins (and so merges) the groups of its operands'
    producers that have its shape, unless that makes a cycle: some operand produced outside
    the merged group depending on it (the group would have to run both before and after it).
    Values read only inside a group never reach memory.
    """
    parent: list[int] = []  # union-find over groups
    members: list[list[Node]] = []
    group_of: dict[int, int] = {}  # id(node) -> group (not yet resolved through find)
    depends: dict[int, set[int]] = {}  # value id -> groups it depends on (through any path)

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def group(v: Value) -> int | None:
        p = v.producer
        return find(group_of[id(p)]) if p is not None and id(p) in group_of else None

    def outside_deps(nodes: list[Node], union: set[int]) -> set[int]:
        found: set[int] = set()
        for m in nodes:
            for w in m.inputs:
                if group(w) not in union:
                    found |= {find(d) for d in depends.get(w.id, ())}
        return found

    for n in g.nodes:
        if fusable(n):
            candidates = []
            for v in n.inputs:
                c = group(v)
                if c is not None and c not in candidates and members[c][0].out.shape == n.out.shape:
                    candidates.append(c)
            chosen: list[int] = []
            for c in candidates:  # add groups one by one while the union stays acyclic
                union = set(chosen) | {c}
                nodes = [n] + [m for u in union for m in members[u]]
                if not outside_deps(nodes, union) & union:
                    chosen.append(c)
            if chosen:
                root = chosen[0]
                for c in chosen[1:]:
                    parent[c] = root
                    members[root] += members[c]
                    members[c] = []
            else:
                root = len(parent)
                parent.append(root)
                members.append([])
            members[root].append(n)
            group_of[id(n)] = root
        d: set[int] = set()
        for v in n.inputs:
            d |= depends.get(v.id, set())
            c = group(v)
            if c is not None:
                d.add(c)
        depends[n.out.id] = d
    order = {id(n): i for i, n in enumerate(g.nodes)}
    g.groups = [sorted(m, key=lambda n: order[id(n)]) for m in members if len(m) >= min_size]
    for group in g.groups:
        _attach_trailing_sum(g, group)
    return g


def _attach_trailing_sum(g: Graph, group: list[Node]) -> None:
    """Let a group end in the sum of its result (`.sum(dim)`, or `.sum()` through a flattening
    reshape) when nothing else reads the summed value: the kernel then never stores it."""
    users = g.users()
    inside = {id(n) for n in group}
    outputs = {v.id for v in g.outputs}
    escaping = [m.out for m in group
                if m.out.id in outputs or any(id(u) not in inside for u in users.get(m.out.id, []))]
    if len(escaping) != 1 or escaping[0].id in outputs:
        return
    v = escaping[0]
    (user,) = users[v.id] if len(users.get(v.id, [])) == 1 else (None,)
    if user is None:
        return
    tail = [user]
    if user.op == "reshape" and user.out.shape == (int(np.prod(v.shape)),) and len(users.get(user.out.id, [])) == 1:
        tail.append(users[user.out.id][0])  # .sum() flattens first: a free reinterpretation here
    total = tail[-1]
    if total.op != "sum" or total.fn is None or total.out.dtype != v.dtype or tail[0].inputs != [v]:
        return
    if len(tail) == 2 and tail[1].inputs != [tail[0].out]:
        return
    group += tail


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
