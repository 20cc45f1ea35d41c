"""Static graphs: trace a function into an IR, optimize and fuse it, draw it, differentiate through it.

    @mt.jit
    def f(x, w):
        return (x @ w).relu() * 2.0

    f(x, w)                  # traces, compiles, runs; later calls replay the compiled graph
    print(f.graph)           # the IR, one line per node (like a jaxpr)
    print(f.summary())       # passes, fused groups, kernels per call
    f.graph.draw()           # a matplotlib picture

Modules: `table` (Function classes -> IR ops), `ir`, `trace`, `passes`, `codegen` (fused numba
CPU and numba.cuda kernels), `jit`, `draw`. ONNX export is `minitorch_edu.onnx`.
"""

from __future__ import annotations

from .ir import Graph, Node, Value
from .jit import JitFunction, jit
from .trace import Tracer, TracerError, trace

__all__ = ["Graph", "JitFunction", "Node", "Tracer", "TracerError", "Value", "jit", "trace"]
