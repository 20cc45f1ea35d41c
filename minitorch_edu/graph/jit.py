"""`mt.jit`: trace a function into a graph on its first call, optimize and fuse it, then replay it.

    @mt.jit
    def f(x, w):
        return (x @ w).relu() * 2.0

The first call with new input shapes, dtypes, devices or layouts traces `f` (see `trace`),
runs the passes (`passes.optimize`) and compiles each fused group into one generated kernel;
later calls with the same kind of inputs replay that plan. Replay calls each remaining op's
`Function.apply`, so autograd records the graph as in eager mode and `loss.backward()` works.
A fused group runs as its kernel when no operand needs a gradient; when one does, the group's
own traced ops run instead, so the gradients are exactly eager's.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ..core.autograd import is_grad_enabled
from ..core.tensor import Tensor
from . import codegen
from .ir import Graph, Node, Value
from .passes import optimize, run_node
from .trace import trace, tracing


class _NodeStep:
    """Run one recorded op."""

    __slots__ = ("node", "ins", "out")

    def __init__(self, node: Node) -> None:
        self.node, self.ins, self.out = node, [v.id for v in node.inputs], node.out.id

    def __call__(self, env: list) -> None:
        env[self.out] = run_node(self.node, [env[i] for i in self.ins])


class _FusedStep:
    """Run a fused group: its generated kernel, or its ops one by one when autograd needs them."""

    def __init__(self, members: list[Node], outputs: list[Value], target: str) -> None:
        self.members = members
        self.eager = [_NodeStep(n) for n in members]
        self.spec = codegen.spec_for(members, outputs)
        self.ins = [v.id for v in self.spec.inputs]
        self.outs = [v.id for v in self.spec.outputs]
        self.shape = self.spec.shape  # the elementwise part's shape: operands' layouts are relative to it
        self.out_shape = self.spec.outputs[0].shape if self.spec.reduce_dim is not None else self.shape
        # the kernel's loop count: elements, or outputs of a trailing sum
        self.n = int(np.prod(self.out_shape, dtype=np.int64)) if self.out_shape else 1
        kernel_class = codegen.CudaKernel if target == "cuda" else codegen.CpuKernel
        self.kernel = kernel_class(self.spec)
        self.launches = 0

    def _strides_if_fits(self, tensors: list[Tensor]) -> list | None:
        """The strided operands' strides, or None when an operand's layout is not the generated one."""
        strides = []
        for t, kind in zip(tensors, self.spec.layouts):
            if codegen.layout(self.shape, t.shape, t._strides) != kind:
                return None
            if kind == "g":
                strides.append(codegen.operand_strides(self.shape, t.shape, t._strides))
        return strides

    def __call__(self, env: list) -> None:
        ins = [env[i] for i in self.ins]
        strides = None if is_grad_enabled() and any(t.requires_grad for t in ins) else self._strides_if_fits(ins)
        if strides is None or not ins:
            for step in self.eager:
                step(env)
            return
        outs = [ins[0]._empty(v.shape, v.dtype) for v in self.spec.outputs]
        self.kernel([o._storage for o in outs], [t._storage for t in ins], self.n, self.shape, strides)
        self.launches += 1
        for i, o in zip(self.outs, outs):
            env[i] = o


def _target(g: Graph) -> str | None:
    """Where fused kernels can run for this graph: "cpu", "cuda", or None (no fusion)."""
    devices = {v.device for v in g.inputs + g.captures}
    if devices == {"cuda"}:
        return "cuda"
    if devices == {"cpu"} and g.backend is not None and g.backend.device == "cpu":
        return "cpu"
    return None


class Compiled:
    """A traced, optimized graph and the steps that replay it."""

    def __init__(self, graph: Graph, fuse: bool = True) -> None:
        target = _target(graph) if fuse else None
        optimize(graph, fuse=target is not None)
        self.graph = graph
        self.steps: list[Any] = []
        users = graph.users()
        wanted = {v.id for v in graph.outputs}
        for unit in _schedule(graph):
            if len(unit) == 1 and id(unit[0]) not in graph.group_of():
                self.steps.append(_NodeStep(unit[0]))
                continue
            inside = {id(m) for m in unit}
            outputs = [m.out for m in unit
                       if m.out.id in wanted or any(id(u) not in inside for u in users.get(m.out.id, []))]
            self.steps.append(_FusedStep(unit, outputs, target))
        self.size = graph._next
        self.fixed = [(v.id, v.tensor) for v in graph.captures]
        self.fixed += [(v.id, v.tensor) for n in graph.nodes for v in n.inputs if v.kind == "literal"]
        self.fixed += [(v.id, v.tensor) for v in graph.outputs if v.kind == "literal"]
        self.input_ids = [v.id for v in graph.inputs]

    def __call__(self, tensors: list[Tensor]) -> Any:
        env: list = [None] * self.size
        for i, t in self.fixed:
            env[i] = t
        for i, t in zip(self.input_ids, tensors):
            env[i] = t
        for step in self.steps:
            step(env)
        outs = [env[v.id] for v in self.graph.outputs]
        structure = self.graph.out_structure
        return outs[0] if structure is None else structure(outs)

    @property
    def fused_launches(self) -> int:
        return sum(s.launches for s in self.steps if isinstance(s, _FusedStep))


def _schedule(graph: Graph) -> list[list[Node]]:
    """Nodes and fused groups in an order where each runs after everything it reads (Kahn's
    algorithm over the groups; fusion made no cycles, so every unit gets its turn)."""
    grouped = graph.group_of()
    units: list[list[Node]] = []
    unit_of: dict[int, int] = {}
    group_unit: dict[int, int] = {}
    for n in graph.nodes:
        g = grouped.get(id(n))
        if g is None:
            unit_of[id(n)] = len(units)
            units.append([n])
        elif g in group_unit:
            unit_of[id(n)] = group_unit[g]
        else:
            group_unit[g] = unit_of[id(n)] = len(units)
            units.append(graph.groups[g])
    needs = []
    for u, members in enumerate(units):
        deps = {unit_of[id(v.producer)] for m in members for v in m.inputs if v.producer is not None}
        deps.discard(u)
        needs.append(deps)
    done: set[int] = set()
    order: list[list[Node]] = []
    while len(order) < len(units):
        for u, members in enumerate(units):
            if u not in done and needs[u] <= done:
                done.add(u)
                order.append(members)
                break
        else:
            raise RuntimeError("fusion made a cycle: please report this graph")
    return order


def _key(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple:
    parts: list[Any] = []
    for a in args:
        if isinstance(a, Tensor):
            parts.append(("T", a.shape, a.dtype.str, a.backend.name, a._strides))
        else:
            try:
                hash(a)
            except TypeError:
                raise TypeError(
                    f"mt.jit: a non-tensor argument of type {type(a).__name__} must be hashable (it is part "
                    "of the graph, like a static argument of jax.jit); pass tensors, numbers, strings or tuples"
                ) from None
            parts.append(("S", type(a).__name__, a))
    return tuple(parts) + tuple(sorted(kwargs.items()))


class JitFunction:
    """A function compiled to static graphs, one per kind of input (see the module docstring)."""

    def __init__(self, fn: Callable[..., Any], fuse: bool = True, max_cache: int = 64) -> None:
        self.fn = fn
        self.fuse = fuse
        self.max_cache = max_cache
        self.cache: dict[tuple, Compiled] = {}
        self.traces = 0  # how many times the function was traced
        self.last: Compiled | None = None
        self.compile_seconds = 0.0  # trace + passes + code generation of the latest new graph
        functools.update_wrapper(self, fn)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if tracing():  # called from a function being traced: its ops become part of that graph
            return self.fn(*args, **kwargs)
        key = _key(args, kwargs)
        compiled = self.cache.get(key)
        if compiled is None:
            start = time.perf_counter()
            graph = trace(self.fn, args, kwargs)
            compiled = Compiled(graph, fuse=self.fuse)
            self.compile_seconds = time.perf_counter() - start
            self.traces += 1
            if len(self.cache) >= self.max_cache:
                self.cache.pop(next(iter(self.cache)))
            self.cache[key] = compiled
        self.last = compiled
        return compiled([a for a in args if isinstance(a, Tensor)])

    @property
    def graph(self) -> Graph:
        """The graph of the latest call."""
        if self.last is None:
            raise RuntimeError(f"{getattr(self.fn, '__name__', 'the function')} has not been called yet: "
                               "call it once (that traces it), then look at .graph")
        return self.last.graph

    def summary(self) -> str:
        return self.graph.summary()

    def __repr__(self) -> str:
        return f"<jit {getattr(self.fn, '__name__', self.fn)!r}: {len(self.cache)} traced graph(s)>"


def jit(fn: Callable[..., Any] | None = None, *, fuse: bool = True) -> Any:
    """Compile `fn` to a static graph (like `tf.function` / `jax.jit`); usable as `@mt.jit` or
    `@mt.jit(fuse=False)`. An `nn.Module` can be passed too: `mt.jit(model)(x)`."""
    if fn is None:
        return lambda f: JitFunction(f, fuse=fuse)
    return JitFunction(fn, fuse=fuse)
