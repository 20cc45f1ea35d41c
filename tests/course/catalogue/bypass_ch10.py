"""Shortcuts through the package for chapter 10: the package's tracer, passes, code generator or jit reached
from the learner's code (a saved name, an alias, `mt.jit` inside the learner's function, a `Node` method that
does the work, a getattr route). Each must score 0 on its part, refused by the seal (issue 22)."""

SLUG = "10_static_graphs"

AFTER = "# after the reference solution\n"

BYPASS = {
    "tracer": {
        # mt.jit inside the learner's trace: its graph is the package's trace
        "jit_inside": AFTER + """
def trace(fn, *args):
    compiled = mt.jit(fn, fuse=False)
    compiled(*args)
    return compiled.graph
""",
        "saved_name": AFTER + """
from minitorch_edu.graph.trace import trace as _package_trace

def trace(fn, *args):
    return _package_trace(fn, args)
""",
        "getattr_route": AFTER + """
import importlib
_module = importlib.import_module("minitorch_edu.graph." + "trace")
_traced = getattr(_module, "tr" + "ace")

def trace(fn, *args):
    return _traced(fn, tuple(args))
""",
    },
    "value_error": {
        "saved_name": """
from minitorch_edu.graph.trace import _value_error as _make

def value_error(what):
    return _make(what)
""",
        "getattr_route": """
import importlib
_make = getattr(importlib.import_module("minitorch_edu.graph." + "trace"), "_value" + "_error")

def value_error(what):
    return _make(what)
""",
    },
    "dce": {
        "alias": """
from minitorch_edu.graph import passes as _p
_dce = _p.dead_code_elimination

def dead_code_elimination(g):
    return _dce(g)
""",
        "getattr_route": """
import importlib
_dce = getattr(importlib.import_module("minitorch_edu.graph." + "passes"), "dead_code" + "_elimination")

def dead_code_elimination(g):
    return _dce(g)
""",
    },
    "cse": {
        "saved_alias": """
from minitorch_edu.graph.passes import common_subexpression_elimination as _cse

def common_subexpression_elimination(g):
    return _cse(g)
""",
        # Node.key is the package's CSE key: the learner's loop is theirs, the work is not
        "node_key_method": """
def common_subexpression_elimination(g):
    seen, replaced, kept = {}, {}, []
    for n in g.nodes:
        n.inputs = [replaced.get(v.id, v) for v in n.inputs]
        if getattr(n.fn, "nondeterministic", False):
            kept.append(n)
            continue
        key = n.key()
        if key in seen:
            replaced[n.out.id] = seen[key]
        else:
            seen[key] = n.out
            kept.append(n)
    g.nodes = kept
    g.outputs = [replaced.get(v.id, v) for v in g.outputs]
    return g
""",
        "getattr_route": """
import importlib
_cse = getattr(importlib.import_module("minitorch_edu.graph." + "passes"), "common_subexpression" + "_elimination")

def common_subexpression_elimination(g):
    return _cse(g)
""",
    },
    "fusion": {
        "saved_alias": """
from minitorch_edu.graph import passes as _p
_fuse = _p.fuse_elementwise

def fusable(n):
    return _p.fusable(n)

def fuse_elementwise(g):
    return _fuse(g)
""",
        "getattr_route": """
import importlib
_fuse = getattr(importlib.import_module("minitorch_edu.graph." + "passes"), "fuse" + "_elementwise")

def fusable(n):
    return True

def fuse_elementwise(g):
    return _fuse(g)
""",
    },
    "kernel": {
        # the package's code generator writes the source (its kernel's parameters differ: a wrapper adapts)
        "codegen_alias": AFTER + """
from minitorch_edu.graph import codegen as _cg

def kernel_source(group):
    spec = _cg.spec_for(group, [group[-1].out])
    return _cg.cpu_source(spec, parallel=False)
""",
        "getattr_route": AFTER + """
import importlib
_cg = importlib.import_module("minitorch_edu.graph." + "codegen")
_spec, _source = getattr(_cg, "spec" + "_for"), getattr(_cg, "cpu" + "_source")

def kernel_source(group):
    return _source(_spec(group, [group[-1].out]), False)
""",
    },
    "replay": {
        # mt.jit inside the learner's replay: the package traces and replays
        "jit_inside": """
class Replay:
    def __init__(self, graph):
        self.graph = graph
        self.compiled = None

    def __call__(self, *tensors):
        g = self.graph
        if [tuple(t.shape) for t in tensors] != [v.shape for v in g.inputs]:
            raise ValueError(f"traced for {[v.shape for v in g.inputs]}, got {[tuple(t.shape) for t in tensors]}")
        from minitorch_edu.graph.jit import Compiled
        self.compiled = self.compiled or Compiled(g)
        return self.compiled(list(tensors))
""",
        # the package's node runner, saved under another name, runs the node steps
        "run_node_alias": AFTER + """
from minitorch_edu.graph.passes import run_node as _run_node

class Replay(Replay):
    def __call__(self, *tensors):
        g = self.graph
        env = {v.id: v.tensor for v in g.captures}
        env.update({v.id: t for v, t in zip(g.inputs, tensors)})
        for step in self.steps:
            for n in ([step[1]] if step[0] == "node" else step[1]):
                env[n.out.id] = _run_node(n, [v.tensor if v.kind == "literal" else env[v.id] for v in n.inputs])
        outs = [env[v.id] for v in g.outputs]
        return outs[0] if g.out_structure is None else g.out_structure(outs)
""",
        "mt_jit_attribute": AFTER + """
_compile = mt.jit

class Replay(Replay):
    def __call__(self, *tensors):
        return _compile(lambda *a: super(Replay, self).__call__(*a))(*tensors)
""",
    },
}
