# %% [markdown]
# # 01 · Scalar autodiff: how `loss.backward()` works
#
# In chapter 00 you wrote every gradient by hand. Here you build the machine that writes them for
# you: **reverse-mode automatic differentiation**, the heart of PyTorch's `loss.backward()`,
# TensorFlow's `tf.GradientTape` and JAX's `jax.grad`.
#
# The idea fits in one sentence: while you compute, record *how* each number was made; then walk
# that record backwards, applying the chain rule once per step. You build it on single numbers
# first (as Andrej Karpathy's micrograd does), then run your algorithm on the package's tensors.

# %% [setup]
import math

import matplotlib.pyplot as plt
import numpy as np

import minitorch_edu as mt
from minitorch_edu import testing
from minitorch_edu.course import Chapter, interact

chapter = Chapter(
    "01_scalar_autodiff",
    references={
        # the package's autograd could differentiate each rule for you: sealed while the rules are checked
        "add_mul": ["minitorch_edu.core.autograd.backpropagate", "minitorch_edu.core.autograd.flow"],
        "pow_exp_log": ["minitorch_edu.core.autograd.backpropagate", "minitorch_edu.core.autograd.flow"],
        "activations": ["minitorch_edu.core.autograd.backpropagate", "minitorch_edu.core.autograd.flow"],
        "topological_order": ["minitorch_edu.core.autograd.topological_order"],
        "backprop": ["minitorch_edu.core.autograd.backpropagate", "minitorch_edu.core.autograd.flow"],
        "tensor_backprop": ["minitorch_edu.core.autograd.backpropagate", "minitorch_edu.core.autograd.flow"],
    },
)

# %% [markdown]
# ## A number that remembers where it came from
#
# `Value` below wraps one float. Every operation on Values returns a new Value that keeps its
# `parents` (the Values it was computed from), the name of the operation, and the **derivative
# rule** that turns the gradient of the result into gradients of the parents. Nothing is
# differentiated yet: the graph is simply recorded as you compute. That is what "dynamic graph"
# (or "define-by-run") means in PyTorch, and what `tf.GradientTape` records in TensorFlow.
#
# You do not need to change this cell; read `input_grads`: it is how backprop will ask a Value for
# the gradients of its parents.


# %% [setup]
class Value:
    """A scalar that records the operation that made it (a node of the computation graph)."""

    def __init__(self, data, parents=(), op="", rule=None, consts=(), label=""):
        self.data = float(data)
        self.grad = 0.0  # d(output)/d(self), filled in by backprop
        self.parents = tuple(parents)
        self.op = op
        self.rule = rule  # name of the derivative rule, looked up when backprop runs
        self.consts = tuple(consts)  # constants the rule needs (the exponent of pow)
        self.label = label

    def input_grads(self, grad):
        """Gradients of the parents, given `grad` = d(output)/d(self): the rule applied once."""
        if self.rule is None:  # a leaf: nothing to pass on
            return ()
        rule = globals()[self.rule]
        grads = rule(grad, self.data, *(p.data for p in self.parents), *self.consts)
        return grads if isinstance(grads, tuple) else (grads,)

    def __add__(self, other):
        other = as_value(other)
        return Value(self.data + other.data, (self, other), "+", "add_backward")

    def __mul__(self, other):
        other = as_value(other)
        return Value(self.data * other.data, (self, other), "*", "mul_backward")

    def __pow__(self, n):
        assert isinstance(n, (int, float)), "only a constant exponent is supported"
        return Value(self.data**n, (self,), f"**{n:g}", "pow_backward", (n,))

    def exp(self):
        return Value(math.exp(self.data), (self,), "exp", "exp_backward")

    def log(self):
        return Value(math.log(self.data), (self,), "log", "log_backward")

    def tanh(self):
        return Value(math.tanh(self.data), (self,), "tanh", "tanh_backward")

    def sigmoid(self):
        return Value(1.0 / (1.0 + math.exp(-self.data)), (self,), "sigmoid", "sigmoid_backward")

    def relu(self):
        return Value(max(self.data, 0.0), (self,), "relu", "relu_backward")

    # the rest is made of the operations above, as micrograd does
    def __neg__(self):
        return self * -1.0

    def __sub__(self, other):
        return self + (-as_value(other))

    def __truediv__(self, other):
        return self * as_value(other) ** -1

    def __radd__(self, other):
        return as_value(other) + self

    def __rmul__(self, other):
        return as_value(other) * self

    def __rsub__(self, other):
        return as_value(other) - self

    def __rtruediv__(self, other):
        return as_value(other) / self

    def backward(self):
        """Like PyTorch's `loss.backward()`: your topological order, then your backprop."""
        backprop(topological_order(self))

    def __repr__(self):
        return f"Value({self.data:.4g}, grad={self.grad:.4g})"


def as_value(x):
    return x if isinstance(x, Value) else Value(x, label=f"{x:g}")


def value_parents(v):
    """The nodes `v` was computed from (its edges in the graph)."""
    return v.parents


# %% [markdown]
# Compute something and look at what got recorded:

# %%
a = Value(2.0, label="a")
b = Value(-3.0, label="b")
c = Value(10.0, label="c")
e = a * b
e.label = "e"
d = e + c
d.label = "d"
f = Value(-2.0, label="f")
L = d * f
L.label = "L"
print(L, "made by", L.op, "from", L.parents)

# %% [markdown]
# ## A picture of the graph
#
# Reading parents by hand gets old fast, so you will draw the graph. A drawing needs two lists: the
# **nodes** (every Value the output depends on) and the **edges** (which Value feeds which). Each box
# of the picture is a Value (its label, data and grad), each small circle the operation that made it.
# Leaves, the Values you created yourself, sit on the left; the output on the right. (PyTorch users
# get the same picture from `torchviz`, which walks `grad_fn.next_functions` the same way; the package
# draws tensor graphs in chapter 10.)
#
# Write `trace(root, parents)`. Start at `root` and follow `parents(v)` (the Values `v` was computed
# from) until nothing new turns up:
#
# - `nodes`: every Value `root` depends on, `root` included, **each once**, however many paths lead to
#   it. Two Values are the same node only if they are the same object (`is`), not if their data are
#   equal;
# - `edges`: a pair `(parent, child)` for **every entry** of `parents(child)`, pointing the way the data
#   flows. `x * x` has the parents `(x, x)`, so it has two edges from `x`: the picture draws both, and
#   backprop will send a gradient along each.
#
# A Value reached along two paths must not be expanded twice, or its edges would be listed twice.


# %% [solution] id=trace
def trace(root, parents=value_parents):
    """(nodes, edges) of the graph behind `root`: every node once; one (parent, child) pair per parent entry."""
    ### BEGIN SOLUTION
    nodes, edges, seen, todo = [], [], set(), [root]
    while todo:
        v = todo.pop()
        if id(v) in seen:
            continue
        seen.add(id(v))
        nodes.append(v)
        for p in parents(v):
            edges.append((p, v))
            todo.append(p)
    return nodes, edges
    ### END SOLUTION


# %% [tests] id=trace_tests points=3
from collections import Counter  # noqa: E402


def _named(pairs):
    """Edges as a multiset of (parent label, child label)."""
    return Counter((p.label, c.label) for p, c in pairs)


def _check_trace(root, want_nodes, want_edges, call):
    """`trace(root)` against the expected node labels and (parent, child) label pairs."""
    got = trace(root)
    testing.assert_true(isinstance(got, tuple) and len(got) == 2, call=call, got=type(got).__name__,
                        expected="a pair (nodes, edges)", hint="return nodes, edges")
    nodes, edges = got
    ids = [id(v) for v in nodes]
    testing.assert_true(len(ids) == len(set(ids)), call=f"{call} -> nodes",
                        got=f"{len(ids)} nodes, {len(ids) - len(set(ids))} listed twice", expected="each node once",
                        hint="a Value reached along two paths was listed twice: remember the ones you have seen")
    testing.assert_equal(sorted(v.label for v in nodes), sorted(want_nodes), call=f"{call} -> node labels", hints=[
        (lambda got, exp: len(got) < len(exp), "some nodes are missing: keep following the parents of the parents, "
         "and include root itself"),
        (lambda got, exp: len(got) > len(exp), "too many nodes: is a node listed twice?"),
    ])
    testing.assert_equal(dict(_named(edges)), dict(Counter(want_edges)), call=f"{call} -> edges as (parent, child)",
                         hints=[
        (lambda got, exp: Counter({(c, p): n for (p, c), n in got.items()}) == Counter(exp),
         "every edge is reversed: the pair is (parent, child), the way the data flows"),
        (lambda got, exp: sum(got.values()) > sum(exp.values()), "edges are listed more than once: a node reached "
         "along two paths was expanded twice"),
        (lambda got, exp: sum(got.values()) < sum(exp.values()), "edges are missing: one pair per entry of "
         "parents(child), so x * x has two edges from x, and follow the whole graph, not just root's parents"),
    ])


def _labelled(**values):
    for name, v in values.items():
        v.label = name


with testing.part("trace"), testing.calling():
    _check_trace(L, ["a", "b", "c", "d", "e", "f", "L"],
                 [("a", "e"), ("b", "e"), ("e", "d"), ("c", "d"), ("d", "L"), ("f", "L")], call="trace(L)")
    leaf = Value(1.5, label="leaf")
    _check_trace(leaf, ["leaf"], [], call="trace(a leaf)")
    # a diamond: p is used by two nodes, which meet again in out
    p = Value(2.0)
    q, r = p * 3.0, p.exp()
    out = q + r
    _labelled(p=p, q=q, r=r, out=out)
    q.parents[1].label = "3"
    _check_trace(out, ["p", "3", "q", "r", "out"],
                 [("p", "q"), ("3", "q"), ("p", "r"), ("q", "out"), ("r", "out")], call="trace(out = p * 3 + exp(p))")
    # the same Value twice in one operation, and once more above it: x is reached three times
    x = Value(3.0)
    sq = x * x
    top = sq + x
    _labelled(x=x, sq=sq, top=top)
    _check_trace(top, ["x", "sq", "top"], [("x", "sq"), ("x", "sq"), ("sq", "top"), ("x", "top")],
                 call="trace(x * x + x)")
### BEGIN HIDDEN TESTS
with testing.part("trace", hidden=True), testing.calling():
    # two different leaves with the same data are two nodes
    u, w = Value(2.0), Value(2.0)
    prod = u * w
    _labelled(u=u, w=w, prod=prod)
    _check_trace(prod, ["u", "w", "prod"], [("u", "prod"), ("w", "prod")], call="trace(u * w), u and w both 2.0")
    # a shared node deep down, reached along many paths: expanded once
    base = Value(0.5)
    level, names = base, {"base": base}
    want = []
    for i in range(6):
        nxt = level * level + level
        mul = nxt.parents[0]
        names[f"m{i}"], names[f"s{i}"] = mul, nxt
        prev = "base" if i == 0 else f"s{i - 1}"
        want += [(prev, f"m{i}"), (prev, f"m{i}"), (f"m{i}", f"s{i}"), (prev, f"s{i}")]
        level = nxt
    _labelled(**names)
    _check_trace(level, list(names), want, call="trace of six nested (v * v + v)")
    # another parents function: a graph of plain dicts
    g = {"name": "g", "in": []}
    h = {"name": "h", "in": [g]}
    k = {"name": "k", "in": [g, h]}
    with testing.calling("trace(k, parents=lambda n: n['in']) on a graph of dicts",
                         hint="use the `parents` argument (parents(v)), not v.parents: these nodes are dicts"):
        nodes, edges = trace(k, parents=lambda n: n["in"])
    testing.assert_equal(sorted(n["name"] for n in nodes), ["g", "h", "k"], call="trace(k, parents=...) -> nodes")
    testing.assert_equal(sorted((a["name"], b["name"]) for a, b in edges), [("g", "h"), ("g", "k"), ("h", "k")],
                         call="trace(k, parents=...) -> edges", hints="use the `parents` argument, not v.parents")
### END HIDDEN TESTS

# %% [markdown]
# `draw_graph` below lays out your `nodes` in columns (a node one column right of its deepest parent) and
# draws one arrow per edge of yours: if the picture looks wrong, so is the trace.


# %% [setup]
def draw_graph(root, title="", ax=None):
    """Draw the computation graph of `root` from your `trace(root)`: boxes show label, data and grad."""
    try:
        nodes, edges = trace(root)
    except NotImplementedError:
        print("draw_graph needs your `trace` (the part above): not written yet, so no picture")
        return None
    inputs = {id(v): [] for v in nodes}  # each node's parents, in the order of your edges
    for parent, child in edges:
        inputs.setdefault(id(child), []).append(parent)
    depth = {}

    def column(v):  # a node's column: 1 + the deepest of its parents (leaves in column 0)
        if id(v) not in depth:
            depth[id(v)] = 0 if not inputs.get(id(v)) else 1 + max(column(p) for p in inputs[id(v)])
        return depth[id(v)]

    for v in nodes:
        column(v)
    rows = {}
    pos = {}
    for v in sorted(nodes, key=lambda v: (depth[id(v)], v.label)):
        col = depth[id(v)]
        pos[id(v)] = (2.0 * col, -1.2 * rows.get(col, 0))
        rows[col] = rows.get(col, 0) + 1
    if ax is None:
        width = 2.2 * (max(depth.values()) + 1)
        _, ax = plt.subplots(figsize=(max(width, 5), 1.1 * max(rows.values()) + 0.8), dpi=80)
    for v in nodes:
        x, y = pos[id(v)]
        mine = inputs.get(id(v), [])
        if mine:
            ox = x - 0.75
            op_style = {"boxstyle": "circle,pad=0.3", "fc": "#f6d6a8", "ec": "none"}
            ax.text(ox, y, v.op, ha="center", va="center", fontsize=8, zorder=3, bbox=op_style)
            ax.annotate("", (x - 0.55, y), (ox + 0.2, y), arrowprops={"arrowstyle": "->"})
            for k, p in enumerate(mine):
                if id(p) not in pos:
                    continue  # an edge from a node your trace did not list
                px, py = pos[id(p)]
                again = sum(q is p for q in mine[:k])  # a Value used twice: a second, curved edge
                skips = x - px > 2.5 and py == y  # a straight edge along a row would cross boxes: bend it
                rad = 0.35 * again + (-0.3 if skips else 0.0)
                style = {"arrowstyle": "->", "color": "0.4", "connectionstyle": f"arc3,rad={rad}"}
                ax.annotate("", (ox - 0.2, y), (px + 0.55, py), arrowprops=style)
        ax.text(
            x,
            y,
            f"{v.label or v.op}\ndata {v.data:.3g}\ngrad {v.grad:.3g}",
            ha="center",
            va="center",
            fontsize=8,
            zorder=3,
            bbox={"boxstyle": "round", "fc": "#cfe3f7" if mine else "#d9f2d0"},
        )
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    ax.set_xlim(min(xs) - 1.3, max(xs) + 0.8)
    ax.set_ylim(min(ys) - 0.7, max(ys) + 0.7)
    ax.set_title(title)
    ax.axis("off")
    return ax


# %%
if draw_graph(L, "L = (a * b + c) * f, before backward: every grad is 0") is not None:
    plt.show()

# %% [markdown]
# ## Derivative rules: one line each
#
# Backprop needs, for every operation, the answer to one question: *given how much the output
# changes per unit of this result (`grad`), how much does it change per unit of each input?*
# That is the chain rule, one step at a time: `d out/d a = grad * (d result/d a)`.
#
# PyTorch writes these rules in `derivatives.yaml` (for `mul`: `self: grad * other`,
# `other: grad * self`); the package writes them as the `backward` of each `Function` in
# `minitorch_edu/core/functions.py`. Yours take `grad`, the result `out` and the inputs (all plain
# floats) and return one gradient per input: a pair for two inputs, one number for one input.
#
# Start with the two easiest rules.


# %% [solution] id=add_mul
def add_backward(grad, out, a, b):
    """out = a + b. Return (gradient for a, gradient for b).

    Example: add_backward(2.0, 5.0, 1.0, 4.0) == (2.0, 2.0)."""
    ### BEGIN SOLUTION
    return grad, grad
    ### END SOLUTION


def mul_backward(grad, out, a, b):
    """out = a * b. Return (gradient for a, gradient for b).

    Example: mul_backward(1.0, 12.0, 3.0, 4.0) == (4.0, 3.0)."""
    ### BEGIN SOLUTION
    return grad * b, grad * a
    ### END SOLUTION


# %% [tests] id=add_mul_tests points=3
with testing.part("add_mul"), testing.calling():
    testing.assert_close(
        add_backward(1.0, 5.0, 2.0, 3.0),
        (1.0, 1.0),
        call="add_backward(grad=1.0, out=5.0, a=2.0, b=3.0)",
        hints=[
            (
                lambda got, exp: tuple(got) == (2.0, 3.0),
                "you returned the inputs: the derivative of a + b is 1 for each",
            )
        ],
    )
    testing.assert_close(
        add_backward(2.5, 5.0, 2.0, 3.0),
        (2.5, 2.5),
        call="add_backward(grad=2.5, out=5.0, a=2.0, b=3.0)",
        hints=["the chain rule: multiply the local derivative (1) by grad"],
    )
    testing.assert_close(
        mul_backward(1.0, 6.0, 2.0, 3.0),
        (3.0, 2.0),
        call="mul_backward(grad=1.0, out=6.0, a=2.0, b=3.0)",
        hints=[
            (lambda got, exp: tuple(got) == (2.0, 3.0), "the gradient for a is b (and for b it is a): you swapped them")
        ],
    )
    testing.assert_close(
        mul_backward(-2.0, 6.0, 2.0, 3.0),
        (-6.0, -4.0),
        call="mul_backward(grad=-2.0, out=6.0, a=2.0, b=3.0)",
        hints=["the chain rule: multiply the local derivative by grad"],
    )
### BEGIN HIDDEN TESTS
with testing.part("add_mul", hidden=True), testing.calling():
    close, check = testing.assert_close, testing.assert_true  # short names for long checks
    rng = np.random.default_rng(1)
    def _near(got, want):
        return np.allclose(np.asarray(got, dtype=float), want, rtol=1e-6, atol=1e-9)

    for _ in range(20):
        g, x, y = rng.normal(size=3) * 3
        close(add_backward(g, x + y, x, y), (g, g), call=f"add_backward(grad={g}, out={x + y}, a={x}, b={y})", hints=[
            (lambda got, exp: _near(got, (1.0, 1.0)), "the chain rule: multiply the local derivative (1) by grad"),
            (lambda got, exp, x=x, y=y: _near(got, (x, y)), "you returned the inputs: d(a + b)/da is 1, times grad"),
            (lambda got, exp: _near(got, (2 * exp[0], 0.0)) or _near(got, (exp[0], 0.0)),
             "each input gets grad (a + b passes the gradient to both)"),
        ])
        close(mul_backward(g, x * y, x, y), (g * y, g * x), call=f"mul_backward(grad={g}, out={x * y}, a={x}, b={y})",
              hints=[
            (lambda got, exp, x=x, y=y: _near(got, (y, x)), "the chain rule: multiply the local derivative by grad"),
            (lambda got, exp, x=x, y=y, g=g: _near(got, (g * x, g * y)), "the gradient for a is grad * b (and for b, "
             "grad * a): you swapped them"),
        ])
    close(mul_backward(1.0, 0.0, 0.0, 7.0), (7.0, 0.0), call="mul_backward(1, 0, a=0, b=7)")
### END HIDDEN TESTS

# %% [markdown]
# ## Powers, exp and log
#
# Three more rules. `pow_backward` gets the constant exponent `n` as its last argument
# (`out = a ** n`). Remember the chain rule: every rule multiplies its local derivative by `grad`.
# Look at what you already have: `exp`'s derivative is its own output.


# %% [solution] id=pow_exp_log
def pow_backward(grad, out, a, n):
    """out = a ** n for a constant n. Return the gradient for a. Example: pow_backward(1.0, 9.0, 3.0, 2) == 6.0."""
    ### BEGIN SOLUTION
    return grad * n * a ** (n - 1)
    ### END SOLUTION


def exp_backward(grad, out, a):
    """out = exp(a). Return the gradient for a. Example: exp_backward(2.0, math.e, 1.0) == 2 * math.e."""
    ### BEGIN SOLUTION
    return grad * out
    ### END SOLUTION


def log_backward(grad, out, a):
    """out = log(a) (natural log). Return the gradient for a. Example: log_backward(1.0, 0.0, 1.0) == 1.0."""
    ### BEGIN SOLUTION
    return grad / a
    ### END SOLUTION


# %% [tests] id=pow_exp_log_tests points=4
with testing.part("pow_exp_log"), testing.calling():
    testing.assert_close(
        pow_backward(1.0, 8.0, 2.0, 3),
        12.0,
        call="pow_backward(grad=1.0, out=8.0, a=2.0, n=3)",
        hints=[
            (lambda got, exp: got == 24.0, "d(a**n)/da = n * a**(n-1), not n * a**n"),
            (lambda got, exp: got == 4.0, "multiply by the exponent n too: n * a**(n-1)"),
        ],
    )
    testing.assert_close(pow_backward(1.0, 0.5, 2.0, -1), -0.25, call="pow_backward(grad=1.0, out=0.5, a=2.0, n=-1)")
    testing.assert_close(
        exp_backward(1.0, math.exp(2.0), 2.0),
        math.exp(2.0),
        call="exp_backward(grad=1.0, out=exp(2), a=2.0)",
        hints=[(lambda got, exp: got == 1.0, "the derivative of exp(a) is exp(a) (= out), not 1")],
    )
    testing.assert_close(
        exp_backward(-1.5, math.exp(0.5), 0.5),
        -1.5 * math.exp(0.5),
        call="exp_backward(grad=-1.5, out=exp(0.5), a=0.5)",
        hints=[
            (lambda got, exp: abs(got - math.exp(0.5)) < 1e-12, "the chain rule: multiply exp(a) by grad"),
            (lambda got, exp: got == -1.5, "the derivative of exp(a) is exp(a) (= out): multiply grad by it"),
        ],
    )
    testing.assert_close(
        log_backward(1.0, math.log(4.0), 4.0),
        0.25,
        call="log_backward(grad=1.0, out=log(4), a=4.0)",
        hints=[
            (
                lambda got, exp: abs(got - 1 / math.log(4.0)) < 1e-9,
                "d log(a)/da = 1/a: divide by the input a, not by out",
            )
        ],
    )
    testing.assert_close(
        log_backward(3.0, math.log(4.0), 4.0),
        0.75,
        call="log_backward(grad=3.0, out=log(4), a=4.0)",
        hints=["the chain rule: multiply the local derivative 1/a by grad"],
    )
### BEGIN HIDDEN TESTS
with testing.part("pow_exp_log", hidden=True), testing.calling():
    close, check = testing.assert_close, testing.assert_true  # short names for long checks
    rng = np.random.default_rng(2)
    for _ in range(20):
        g = rng.normal() * 2
        x = rng.uniform(0.2, 3.0)
        n = rng.choice([2, 3, -2, 0.5, 1.5])
        close(pow_backward(g, x**n, x, n), g * n * x ** (n - 1), call=f"pow_backward(grad={g}, out={x**n}, a={x}, n={n})",  # noqa: E501
              hints=[
            (lambda got, exp, x=x, n=n: np.isclose(got, n * x ** (n - 1)), "the chain rule: multiply n * a**(n-1) "
             "by grad"),
            (lambda got, exp, x=x, n=n, g=g: np.isclose(got, g * n * x**n), "d(a**n)/da = n * a**(n-1), not n * a**n"),
            (lambda got, exp, x=x, n=n, g=g: np.isclose(got, g * x ** (n - 1)), "multiply by the exponent n too"),
            (lambda got, exp, x=x, n=n, g=g: np.isclose(got, g * n * x ** int(n - 1)), f"n = {n} is not a whole "
             "number: compute a ** (n - 1) with the exponent as it is (no int(), no loop of multiplications)"),
        ])
        close(exp_backward(g, math.exp(x), x), g * math.exp(x), call=f"exp_backward(grad={g}, out=exp({x}), a={x})",
              hints=[
            (lambda got, exp, x=x: np.isclose(got, math.exp(x)), "the chain rule: multiply exp(a) (= out) by grad"),
            (lambda got, exp, g=g: np.isclose(got, g), "the derivative of exp(a) is exp(a) (= out), not 1"),
            (lambda got, exp, x=x, g=g: np.isclose(got, g * x), "the derivative of exp(a) is exp(a) (= out), not a"),
        ])
        close(log_backward(g, math.log(x), x), g / x, call=f"log_backward(grad={g}, out=log({x}), a={x})", hints=[
            (lambda got, exp, x=x: np.isclose(got, 1 / x), "the chain rule: multiply 1/a by grad"),
            (lambda got, exp, x=x, g=g: np.isclose(got, g / math.log(x)), "d log(a)/da = 1/a: divide by a, not by out"),
        ])
### END HIDDEN TESTS

# %% [markdown]
# ## Activations: tanh, sigmoid, ReLU
#
# Neural networks bend their lines with these. Both tanh and sigmoid have derivatives that are
# cheapest to write with their **output**: `tanh'(a) = 1 - tanh(a)**2`,
# `sigmoid'(a) = sigmoid(a) * (1 - sigmoid(a))`. That is why PyTorch saves the *result* of tanh for
# backward, not its input. ReLU passes the gradient where its input was positive and blocks it
# elsewhere (at exactly 0 it blocks it, as PyTorch does).


# %% [solution] id=activations
def tanh_backward(grad, out, a):
    """out = tanh(a). Return the gradient for a."""
    ### BEGIN SOLUTION
    return grad * (1.0 - out**2)
    ### END SOLUTION


def sigmoid_backward(grad, out, a):
    """out = 1 / (1 + exp(-a)). Return the gradient for a."""
    ### BEGIN SOLUTION
    return grad * out * (1.0 - out)
    ### END SOLUTION


def relu_backward(grad, out, a):
    """out = max(a, 0). Return the gradient for a (0 where a <= 0)."""
    ### BEGIN SOLUTION
    return grad if a > 0 else 0.0
    ### END SOLUTION


# %% [tests] id=activations_tests points=4
with testing.part("activations"), testing.calling():
    t = math.tanh(0.5)
    testing.assert_close(
        tanh_backward(1.0, t, 0.5),
        1 - t**2,
        call="tanh_backward(grad=1.0, out=tanh(0.5), a=0.5)",
        hints=[(lambda got, exp: abs(got - (1 - 0.25)) < 1e-9, "use the output: 1 - out**2, not 1 - a**2")],
    )
    testing.assert_close(
        tanh_backward(-2.0, t, 0.5),
        -2.0 * (1 - t**2),
        call="tanh_backward(grad=-2.0, out=tanh(0.5), a=0.5)",
        hints=[
            (lambda got, exp: abs(got - (1 - t**2)) < 1e-12, "the chain rule: multiply 1 - out**2 by grad"),
            (lambda got, exp: abs(got + 2.0 * 0.75) < 1e-9, "use the output: 1 - out**2, not 1 - a**2"),
        ],
    )
    s = 1 / (1 + math.exp(-1.0))
    testing.assert_close(
        sigmoid_backward(2.0, s, 1.0),
        2 * s * (1 - s),
        call="sigmoid_backward(grad=2.0, out=sigmoid(1), a=1.0)",
        hints=[(lambda got, exp: got == 0.0, "use the output: out * (1 - out), not a * (1 - a)")],
    )
    testing.assert_close(
        relu_backward(3.0, 2.0, 2.0),
        3.0,
        call="relu_backward(grad=3.0, out=2.0, a=2.0)",
        hints=["for a positive input the gradient passes through unchanged"],
    )
    testing.assert_close(
        relu_backward(3.0, 0.0, -1.5),
        0.0,
        call="relu_backward(grad=3.0, out=0.0, a=-1.5)",
        hints=["for a negative input ReLU is flat: the gradient is 0"],
    )
### BEGIN HIDDEN TESTS
with testing.part("activations", hidden=True), testing.calling():
    close, check = testing.assert_close, testing.assert_true  # short names for long checks
    rng = np.random.default_rng(3)
    for _ in range(20):
        g, x = rng.normal(size=2) * 2
        t = math.tanh(x)
        s = 1 / (1 + math.exp(-x))
        close(tanh_backward(g, t, x), g * (1 - t * t), call=f"tanh_backward(grad={g}, out=tanh({x}), a={x})", hints=[
            (lambda got, exp, t=t: np.isclose(got, 1 - t * t), "the chain rule: multiply 1 - out**2 by grad"),
            (lambda got, exp, x=x, g=g: np.isclose(got, g * (1 - x * x)), "use the output: 1 - out**2, not 1 - a**2"),
            (lambda got, exp, t=t, g=g: np.isclose(got, g * (1 - t)), "tanh'(a) = 1 - out**2: square out"),
        ])
        close(sigmoid_backward(g, s, x), g * s * (1 - s), call=f"sigmoid_backward(grad={g}, out=sigmoid({x}), a={x})",
              hints=[
            (lambda got, exp, s=s: np.isclose(got, s * (1 - s)), "the chain rule: multiply out * (1 - out) by grad"),
            (lambda got, exp, x=x, g=g: np.isclose(got, g * x * (1 - x)), "use the output: out * (1 - out)"),
        ])
        close(relu_backward(g, max(x, 0.0), x), g if x > 0 else 0.0, call=f"relu_backward(grad={g}, out=relu({x}), a={x})",  # noqa: E501
              hints=[
            (lambda got, exp, x=x: x > 0 and np.isclose(got, 1.0), "the chain rule: pass grad itself, not 1"),
            (lambda got, exp, x=x: (x > 0) != (got != 0), "the gradient passes where a > 0 and is 0 elsewhere"),
        ])
    close(relu_backward(1.0, 0.0, 0.0), 0.0, call="relu_backward(grad=1.0, out=0.0, a=0.0)", hints=["at exactly 0 the gradient is 0 (as in PyTorch): test a > 0, not a >= 0"])  # noqa: E501 (one line per check)
### END HIDDEN TESTS

# %% [markdown]
# ## Which node first? A topological order
#
# To push gradients backwards, a node must have received *all* of its gradient before it passes
# it on to its parents. If `a` is used twice, both uses must report back before `a` is done. An
# order that puts every node before the nodes it was computed from is a **(reverse) topological
# order**; a depth-first search gives one.
#
# Write `topological_order(root, parents)`: every node `root` depends on, each **exactly once**,
# the root first, and every node before all of its parents. `parents(node)` returns the nodes it
# was computed from; it is a parameter so that the same function works on the package's tensor
# graph at the end of the chapter. Graphs can be deep (a recurrent net unrolled over a long
# sequence is a chain of thousands of ops): a recursive search stops at Python's recursion limit
# (about 1000 calls), so keep your own stack of nodes to visit, as the package's autograd does.


# %% [solution] id=topological_order
def topological_order(root, parents=value_parents):
    """Every node `root` depends on, once each: root first, each node before its parents."""
    ### BEGIN SOLUTION
    order, visited = [], set()
    stack = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        for p in parents(node):
            if id(p) not in visited:
                stack.append((p, False))
    order.reverse()
    return order
    ### END SOLUTION


# %% [tests] id=topological_order_tests points=4
def graph_nodes(root):
    """Every Value `root` depends on (root included), each once: what the checks compare with."""
    seen, todo, nodes = set(), [root], []
    while todo:
        v = todo.pop()
        if id(v) not in seen:
            seen.add(id(v))
            nodes.append(v)
            todo.extend(v.parents)
    return nodes


def _check_order(order, root, parents, call):
    """Shared by the visible and hidden checks: each node once, root first, children before parents."""
    every = graph_nodes(root) if isinstance(root, Value) else None
    ids = [id(v) for v in order]
    testing.assert_true(
        len(ids) == len(set(ids)),
        call=call,
        got=f"{len(ids)} nodes, {len(ids) - len(set(ids))} repeated",
        expected="each node once",
        hint="a node reached along two paths was listed twice: remember which nodes you visited",
    )
    if every is not None:
        testing.assert_true(
            set(ids) == {id(v) for v in every},
            call=call,
            got=f"{len(set(ids))} distinct nodes",
            expected=f"all {len(every)} nodes of the graph",
            hint="some nodes are missing: visit the parents of every node",
        )
    testing.assert_true(
        bool(order) and order[0] is root,
        call=call,
        got=f"first node {order[0] if order else None!r}",
        expected="the root first",
        hint="the order is reversed: the root (the output) comes first, leaves last",
    )
    where = {id(v): i for i, v in enumerate(order)}
    for v in order:
        for p in parents(v):
            testing.assert_true(
                where.get(id(p), -1) > where[id(v)],
                call=call,
                got=f"{p!r} before {v!r}",
                expected="every node before the nodes it was computed from",
                hint="append a node only after all of its parents are done, then reverse the list",
            )


with testing.part("topological_order"), testing.calling():
    x = Value(3.0, label="x")
    y = x * x + x  # x is used three times
    _check_order(topological_order(y), y, value_parents, "topological_order(x * x + x)")
    _check_order(topological_order(L), L, value_parents, "topological_order(L) for L = (a * b + c) * f")
    testing.assert_equal(len(topological_order(Value(1.0))), 1, call="topological_order(Value(1.0))")
### BEGIN HIDDEN TESTS
with testing.part("topological_order", hidden=True), testing.calling():
    close, check = testing.assert_close, testing.assert_true  # short names for long checks
    rng = np.random.default_rng(4)
    for trial in range(5):  # random DAGs: each new node made from two earlier ones
        nodes = [Value(float(i)) for i in range(3)]
        for _ in range(25):
            i, j = rng.integers(0, len(nodes), size=2)
            nodes.append(nodes[i] * nodes[j] if rng.random() < 0.5 else nodes[i] + nodes[j])
        _check_order(topological_order(nodes[-1]), nodes[-1], value_parents, f"topological_order(random graph {trial})")
    # the same function on the package's tensor graph
    ta = mt.tensor([1.0, 2.0], requires_grad=True)
    tb = mt.tensor([3.0, 4.0], requires_grad=True)
    th = ta * tb
    tout = (th * ta + th).sum()
    tparents = lambda t: [p for p in t.grad_fn.inputs if p.requires_grad] if t.grad_fn is not None else []  # noqa: E731
    torder = topological_order(tout, tparents)
    _check_order(torder, tout, tparents, "topological_order(tensor graph, parents=tensor_parents)")
    check((torder[-1] is ta or torder[-1] is tb) and len({id(t) for t in torder}) == len(torder), call="topological_order(tensor graph)", got=f"{len(torder)} tensors, last {torder[-1]!r}", expected="each tensor once, a leaf last")  # noqa: E501 (one line per check)
    deep = Value(1.0)
    for _ in range(5000):  # deeper than Python's recursion limit
        deep = deep + 1.0
    _check_order(topological_order(deep), deep, value_parents, "topological_order(a chain of 5000 additions)")
### END HIDDEN TESTS

# %% [markdown]
# ## Backprop: the chain rule, in order, accumulating
#
# Now the algorithm itself. Keep this pass's gradients apart from `.grad`, in a dict from `id(node)`
# to the gradient that has reached the node so far, starting with `{id(root): grad}`. Walk the
# order (root first). When you reach a node, every node that uses it came earlier, so its entry is
# complete: add it to `node.grad`, then ask the node for its parents' shares
# (`node.input_grads(g)`, with `g` this pass's gradient) and **add** each to its parent's entry.
# Add, never assign: a Value used twice gets a gradient from each use, and the multivariable chain
# rule says they sum.
#
# Why a dict, and not `node.grad` itself? Because `.grad` also sums *across* calls: PyTorch adds
# every `backward()` into `.grad` (which is why you call `optimizer.zero_grad()` before each
# `loss.backward()`). Call backward twice on one graph and PyTorch's `a.grad` doubles: the second
# pass adds the very same gradients again. A backprop that passed on `node.grad` would also pass on
# what the first call left in the interior nodes and count it again: for `c = (a * a) * (a * a)` at
# `a = 3` that gives 432 instead of PyTorch's 2 × 108 = 216.


# %% [solution] id=backprop
def backprop(order, grad=1.0):
    """Add d(order[0])/d(v) * grad to v.grad for every v in `order` (root first, as topological_order gives)."""
    ### BEGIN SOLUTION
    grads = {id(order[0]): grad}
    for node in order:
        g = grads.pop(id(node), 0.0)
        node.grad += g
        for parent, pg in zip(node.parents, node.input_grads(g)):
            grads[id(parent)] = grads.get(id(parent), 0.0) + pg
    ### END SOLUTION


# %% [tests] id=backprop_tests points=4
with testing.part("backprop"), testing.calling():
    x = Value(3.0, label="x")
    xx = x * x
    y = xx + x  # dy/dx = 2x + 1 = 7
    backprop([y, xx, x])
    testing.assert_close(
        x.grad,
        7.0,
        call="backprop on y = x * x + x at x = 3 (dy/dx = 2x + 1)",
        hints=[
            (
                lambda got, exp: got in (1.0, 3.0, 6.0),
                "x is used three times: add (+=) each use's gradient, do not assign (=)",
            )
        ],
    )
    p, q = Value(2.0), Value(-4.0)
    r = p * q
    s = r + p
    backprop([s, r, p, q], grad=2.0)
    testing.assert_close(
        (p.grad, q.grad),
        (2.0 * (q.data + 1), 2.0 * p.data),
        call="backprop([s, r, p, q], grad=2.0) for s = p * q + p",
        hints=["start from the grad you were given for the root, not from 1"],
    )
    # backward twice on one graph: PyTorch's a.grad doubles (c.backward(retain_graph=True); c.backward())
    u = Value(3.0)
    u2 = u * u
    u4 = u2 * u2  # u ** 4: d(u4)/du = 4 * u ** 3 = 108
    backprop([u4, u2, u])
    backprop([u4, u2, u])
    testing.assert_close(
        u.grad,
        2 * 108.0,
        call="backprop([u4, u2, u]) twice, for u2 = u * u, u4 = u2 * u2 at u = 3 (one pass gives 108)",
        hints=[
            (
                lambda got, exp: got == 432.0,
                "the second pass passed on what the first left in u2.grad and u4.grad: pass on this pass's "
                "gradients (kept apart in a dict), and only add them into .grad",
            ),
            (lambda got, exp: got == 108.0, "the second call must add to .grad, not start it again from 0"),
        ],
    )
### BEGIN HIDDEN TESTS
with testing.part("backprop", hidden=True), testing.calling():
    close, check = testing.assert_close, testing.assert_true  # short names for long checks

    def _good_order(root):
        done, found = set(), []

        def walk(node):
            if id(node) not in done:
                done.add(id(node))
                for parent in node.parents:
                    walk(parent)
                found.append(node)

        walk(root)
        return list(reversed(found))

    # every rule on one graph, against central finite differences of the same expression in plain floats
    def expr(u, v, w):
        return ((u * v + w).tanh() * (u**2).exp() + (v * v + 1.0).log() - (w.sigmoid() * u).relu()) / (v**2 + 1.0)

    rng = np.random.default_rng(5)
    for _ in range(5):
        point = rng.normal(size=3)
        leaves = [Value(t) for t in point]
        out = expr(*leaves)
        backprop(_good_order(out))
        for k in range(3):
            hi, lo = point.copy(), point.copy()
            hi[k] += 1e-6
            lo[k] -= 1e-6
            numeric = (expr(*map(Value, hi)).data - expr(*map(Value, lo)).data) / 2e-6
            close(leaves[k].grad, numeric, rtol=1e-4, atol=1e-6, call=f"backprop of a mixed expression, leaf {k}")
    # gradients accumulate across two backward passes that share a leaf (as in PyTorch)
    z = Value(2.0)
    backprop(_good_order(z * 3.0))
    backprop(_good_order(z * z))
    close(z.grad, 3.0 + 4.0, call="two backward passes sharing a leaf", hints=["add into .grad: a second backward adds to what the first left"])  # noqa: E501 (one line per check)
    # three calls on one deeper graph, interior nodes too: each call adds the same gradients again
    leaves = [Value(0.7), Value(-1.2)]
    out = expr(leaves[0], leaves[1], Value(0.4))
    order = _good_order(out)
    backprop(order)
    once = {id(v): v.grad for v in order}
    backprop(order, grad=2.0)
    for k, leaf in enumerate(leaves):
        close(leaf.grad, 3 * once[id(leaf)], call=f"backprop(order) then backprop(order, grad=2.0) on one graph, leaf {k}", hints=["pass on each call's own gradients (a dict per call); .grad only accumulates them"])  # noqa: E501 (one line per check)
    close(out.grad, 3.0, call="root.grad after backprop(order) and backprop(order, grad=2.0)")
    w = Value(1.5)
    backprop([w], grad=4.0)
    close(w.grad, 4.0, call="backprop([leaf], grad=4.0)")
### END HIDDEN TESTS

# %% [markdown]
# `Value.backward()` is now your `topological_order` followed by your `backprop`, which is what
# PyTorch's `loss.backward()` does on its graph. Here is the graph from the start, after backward:
# every box now knows how much `L` changes per unit of it.

# %%
for v in graph_nodes(L):
    v.grad = 0.0
L.backward()
if draw_graph(L, "after L.backward(): dL/dv in every box") is not None:
    plt.show()

# %% [markdown]
# A Value used more than once collects a gradient from every use. Here `x` feeds the product
# twice and the sum once: `dy/dx = x + x + 1 = 7`.

# %%
x = Value(3.0, label="x")
y = x * x + x
y.label = "y"
y.backward()
if draw_graph(y, "y = x * x + x: x gets 3 + 3 + 1 = 7 from its three uses") is not None:
    plt.show()

# %% [markdown]
# Check the first graph by hand: `L = d * f`, so `dL/df = d = 4` and `dL/dd = f = -2`; `d = e + c` passes
# `-2` to both; `e = a * b` sends `-2 * b = 6` to `a`. The same in PyTorch would be
# `L.backward(); a.grad`; in TensorFlow `with tf.GradientTape() as tape: ...` then
# `tape.gradient(L, [a, b, c, f])`; in JAX `jax.grad(fn, argnums=(0, 1, 2, 3))(a, b, c, f)` (a
# function, not a tape; without `argnums`, `jax.grad` differentiates with respect to the first
# argument only, and `jax.grad(fn)(a, b, c, f)` is just `dL/da`).

# %% [markdown]
# ## Forward mode: the other direction
#
# Your backprop is **reverse mode**: one backward pass gives the derivative of one output with
# respect to *every* input. **Forward mode** goes the other way. Each input carries, next to its
# value, a *tangent*: how fast it moves along a chosen direction. Every operation passes the tangent
# on with its local derivative as it computes (`d(a * b) = da * b + a * db`), so one forward pass,
# with no graph kept, gives the derivative of every output along that one direction: a
# Jacobian-vector product. JAX has both: `jax.jvp(fn, inputs, tangents)` runs forward mode,
# `jax.grad` (built on `jax.vjp`) reverse mode. PyTorch has `torch.func.jvp` next to `backward`.
#
# Why do frameworks train with reverse mode? A loss is one number computed from many parameters.
# Reverse mode gets the whole gradient in one backward pass, whatever the number of parameters;
# forward mode needs one pass per parameter (one direction each), so a million parameters would
# take a million passes. Forward mode wins the other way round (few inputs, many outputs) and where
# keeping the graph costs too much memory.
#
# The cell below runs the first graph, `L = (a * b + c) * f`, through JAX, if it is installed
# (`pip install jax` installs the CPU version). Nothing graded depends on it.

# %%
try:
    import jax
except ImportError:
    jax = None
    print("JAX is not installed here: `pip install jax` (CPU) in this environment to run this cell")

if jax is not None:
    def loss_of(a, b, c, f):
        return (a * b + c) * f

    point = (2.0, -3.0, 10.0, -2.0)
    reverse = jax.grad(loss_of, argnums=(0, 1, 2, 3))(*point)  # one backward pass: all four derivatives
    print("jax.grad, argnums=(0, 1, 2, 3):", [float(g) for g in reverse], "(1 backward pass)")
    print("jax.grad without argnums:      ", float(jax.grad(loss_of)(*point)), "(dL/da only)")
    forward = []
    for k in range(4):  # forward mode: one pass per input direction
        direction = tuple(1.0 if i == k else 0.0 for i in range(4))
        value, tangent = jax.jvp(loss_of, point, direction)
        forward.append(float(tangent))
    print("jax.jvp, one direction at a time:", forward, "(4 forward passes)")
    print("your backprop on the Values:     ", [v.grad for v in (a, b, c, f)])

# %% [markdown]
# ## A function and its derivative, computed by your Value
#
# Backprop gives exact derivatives, not approximations. Below, `f(x) = x * tanh(x) + exp(-x**2)`
# and the derivative your backprop computes at 200 points. The slider moves the point where the
# tangent line (slope = your `x.grad`) touches the curve.


# %%
def f_and_slope(x0):
    x = Value(x0)
    y = x * x.tanh() + (-(x**2)).exp()
    y.backward()
    return y.data, x.grad


xs = np.linspace(-3, 3, 200)
ys, slopes = map(np.array, zip(*(f_and_slope(x0) for x0 in xs)))


def show_tangent(x0=1.0):
    y0, k = f_and_slope(x0)
    fig, ax = plt.subplots(figsize=(6, 3.2), dpi=80)
    ax.plot(xs, ys, label="f(x) = x tanh(x) + exp(-x²)")
    ax.plot(xs, slopes, label="f'(x) from your backprop")
    ax.plot(xs, y0 + k * (xs - x0), "k--", lw=1, label=f"tangent at x={x0:.2f}, slope {k:.3f}")
    ax.set_ylim(-2.5, 3.5)
    ax.legend(fontsize=8, loc="upper center")
    ax.grid(alpha=0.3)
    plt.show()


interact(show_tangent, x0=("float", 1.0, -3, 3, 0.05))  # headless (graded): the picture at 1

# %% [markdown]
# ## A neuron learns
#
# With derivatives for free, training is a loop: forward, backward, step against the gradient.
# Here a tiny two-layer network of Values (2 inputs, 4 tanh units, 1 output) learns to separate
# two clusters; each step builds a new graph, as PyTorch does.

# %%
rng = np.random.default_rng(0)
points = np.concatenate([rng.normal(-1, 0.6, (20, 2)), rng.normal(1, 0.6, (20, 2))])
labels = np.array([-1.0] * 20 + [1.0] * 20)
w1 = [[Value(rng.normal() * 0.5) for _ in range(2)] for _ in range(4)]
b1 = [Value(0.0) for _ in range(4)]
w2 = [Value(rng.normal() * 0.5) for _ in range(4)]
b2 = Value(0.0)
params = [w for row in w1 for w in row] + b1 + w2 + [b2]


def net(x):
    hidden = [sum((wi * xi for wi, xi in zip(row, x)), b).tanh() for row, b in zip(w1, b1)]
    return sum((w * h for w, h in zip(w2, hidden)), b2)


losses = []
for _ in range(30):
    loss = sum(((net(x) - y) ** 2 for x, y in zip(points, labels)), Value(0.0)) / len(points)
    for p in params:
        p.grad = 0.0  # optimizer.zero_grad()
    loss.backward()
    for p in params:
        p.data -= 0.1 * p.grad  # optimizer.step()
    losses.append(loss.data)
accuracy = np.mean([np.sign(net(x).data) == y for x, y in zip(points, labels)])
fig, ax = plt.subplots(figsize=(5, 3), dpi=80)
ax.plot(losses)
ax.set_xlabel("step")
ax.set_ylabel("mean squared error")
ax.set_title(f"2-4-1 net of Values, your backprop: accuracy {accuracy:.0%}", fontsize=10)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Your backprop inside the package
#
# The package's tensors record the same kind of graph: each result tensor has a `grad_fn` (None
# for leaves) with `inputs` and a `backward(grad)` that returns one gradient per input (the
# tensor version of your rules). `mt.use_backprop(fn)` makes every `loss.backward()` in a block
# call `fn(root, grad)` instead of the built-in `backpropagate`.
#
# The algorithm is your `backprop`: this pass's gradients in a dict keyed by `id(t)`, each node's
# summed gradient passed to its `grad_fn.backward`. Tensors differ from Values in two ways PyTorch's
# engine also handles: only **leaves** get `.grad` (interior gradients stay in the dict, since
# keeping a whole tensor for every intermediate costs memory); and a leaf's `.grad` starts as
# `None`, so the first gradient is stored, later ones added. A
# `backward` may return `None` for an input that needs no gradient: skip it, and skip inputs that
# do not `requires_grad`.


# %% [setup]
def tensor_parents(t):
    """The inputs of tensor `t` that need a gradient (its edges in the tensor graph)."""
    return [p for p in t.grad_fn.inputs if p.requires_grad] if t.grad_fn is not None else []


def _tiny_tensor_graph():
    x = mt.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    return x, (x * x).sum()


# %%
tensor_order = chapter.fallback(
    "topological_order",
    lambda root: topological_order(root, tensor_parents),
    probe=lambda fn: fn(_tiny_tensor_graph()[1]),
)


# %% [solution] id=tensor_backprop
def tensor_backprop(root, grad, order=None):
    """Leave d(root)/d(leaf) (times grad) in `.grad` of every leaf that requires one, accumulating."""
    if order is None:
        order = tensor_order(root)  # your topological_order on the tensor graph (or the reference)
    ### BEGIN SOLUTION
    grads = {id(root): grad}
    for t in order:
        g = grads.pop(id(t), None)
        if g is None:
            continue
        if t.grad_fn is None:
            t.grad = g if t.grad is None else t.grad + g
            continue
        for parent, pg in zip(t.grad_fn.inputs, t.grad_fn.backward(g)):
            if pg is None or not parent.requires_grad:
                continue
            grads[id(parent)] = pg if id(parent) not in grads else grads[id(parent)] + pg
    ### END SOLUTION


# %% [tests] id=tensor_backprop_tests points=4
def _leaf_grads(fn, arrays, backprop_fn=None, order_of=None):
    """Gradients of sum(fn(*leaves)) for float64 leaves, with the built-in backward or `backprop_fn`."""
    leaves = [mt.tensor(a, dtype="float64", requires_grad=True) for a in arrays]
    out = fn(*leaves).sum()
    if backprop_fn is None:
        out.backward()
    else:
        with mt.no_grad():
            backprop_fn(out, mt.ones((), dtype="float64"), order_of(out))
    return [None if t.grad is None else t.grad.numpy() for t in leaves]


def _order_by_hand(out):
    """For these small test graphs: a correct order, found by plain depth-first search."""
    seen, found = set(), []

    def visit(t):
        if id(t) not in seen:
            seen.add(id(t))
            for p in tensor_parents(t):
                visit(p)
            found.append(t)

    visit(out)
    return found[::-1]


with testing.part("tensor_backprop"), testing.calling():
    A = np.array([[1.0, -2.0], [0.5, 3.0]])
    B = np.array([[2.0, 1.0], [-1.0, 0.5]])
    square_plus = lambda a, b: a * a + a * b  # noqa: E731 (a is used three times)
    with testing.calling("tensor_backprop for sum(a * a + a * b)",
                         hint="a gradient of the wrong shape reached an op: give each node's grad_fn.backward that "
                         "node's own summed gradient (popped from your dict), not the root's"):
        got = _leaf_grads(square_plus, [A, B], tensor_backprop, _order_by_hand)
    one_use = [A, B, 2 * A, A + B, A + 2 * B]  # what a takes from some of its three uses, not all
    testing.assert_close(
        got[0],
        2 * A + B,
        call="tensor_backprop for sum(a * a + a * b), gradient of a (shape (2, 2))",
        hints=[
            (lambda g, e: g is None, "a leaf got no .grad: store the gradient in t.grad when t.grad_fn is None"),
            (lambda g, e: any(np.allclose(g, u) for u in one_use), "a is used three times: add the gradients "
             "from every use (grads[id(p)] = grads[id(p)] + pg when p already has one, not =)"),
            "pop each node's summed gradient, pass it to grad_fn.backward, add each input's share into your dict; "
            "a leaf (grad_fn None) adds its gradient into .grad",
        ],
    )
    testing.assert_close(got[1], A, call="tensor_backprop for sum(a * a + a * b), gradient of b")
### BEGIN HIDDEN TESTS
with testing.part("tensor_backprop", hidden=True), testing.calling():
    close, check = testing.assert_close, testing.assert_true  # short names for long checks
    rng = np.random.default_rng(6)

    def diamond(a, b):
        h = (a * b).tanh()
        return (h * a + h.exp() * b) @ b.T

    for shape in [(3, 4), (2, 5)]:
        arrays = [rng.standard_normal(shape), rng.standard_normal(shape)]
        expected = _leaf_grads(diamond, arrays)
        got = _leaf_grads(diamond, arrays, tensor_backprop, _order_by_hand)
        for k in range(2):
            close(got[k], expected[k], rtol=1e-10, call=f"tensor_backprop on a diamond graph {shape}, leaf {k}")
    # a constant (no requires_grad) input and broadcasting
    w = mt.tensor(rng.standard_normal((3, 1)), dtype="float64", requires_grad=True)
    const = mt.tensor(rng.standard_normal((3, 4)), dtype="float64")
    out = (w * const + w).sum()
    with mt.set_grad_enabled(False):
        tensor_backprop(out, mt.ones((), dtype="float64"), _order_by_hand(out))
    close(w.grad, const.numpy().sum(axis=1, keepdims=True) + 4, call="tensor_backprop with a constant input, w of shape (3, 1)")  # noqa: E501 (one line per check)
    # a second backward adds to .grad
    first = w.grad.numpy()
    out = (w * 2.0).sum()
    with mt.set_grad_enabled(False):
        tensor_backprop(out, mt.ones((), dtype="float64"), _order_by_hand(out))
    close(w.grad, first + 2.0, call="a second backward pass into the same leaf", hints=["a leaf's .grad accumulates across backward calls: add to it when it is not None"])  # noqa: E501 (one line per check)
    # a root gradient other than ones: backward(gradient=...) of a non-scalar output
    v = mt.tensor(rng.standard_normal((2, 3)), dtype="float64", requires_grad=True)
    seed = rng.standard_normal((2, 3))
    out = v.tanh()
    with mt.set_grad_enabled(False):
        tensor_backprop(out, mt.tensor(seed, dtype="float64"), _order_by_hand(out))
    close(v.grad, seed * (1 - np.tanh(v.numpy()) ** 2), call="tensor_backprop(tanh(v), grad=G) for G of shape (2, 3)", hints=["start from the grad you were given for the root"])  # noqa: E501 (one line per check)
    # through mt.use_backprop, as the training run below uses it
    arrays = [rng.standard_normal((2, 3)), rng.standard_normal((2, 3))]
    expected = _leaf_grads(diamond, arrays)
    with mt.use_backprop(lambda root, g: tensor_backprop(root, g, _order_by_hand(root))):
        got = _leaf_grads(diamond, arrays)
    close(got[0], expected[0], rtol=1e-10, call="loss.backward() inside mt.use_backprop(your tensor_backprop)")
### END HIDDEN TESTS

# %% [markdown]
# ## Train with it
#
# Now every `loss.backward()` of a small PyTorch-style training run goes through your code: the
# same MLP on the XOR toy set, trained twice from the same seed, once with the package's backprop
# and once with yours. If your algorithm is right, the two loss curves lie on top of each other.

# %%
from minitorch_edu import nn, optim  # noqa: E402
from minitorch_edu.nn import functional as F  # noqa: E402

my_backprop = chapter.fallback(
    "tensor_backprop", tensor_backprop, probe=lambda fn: fn(_tiny_tensor_graph()[1], mt.ones((), dtype="float64"))
)


def train(backprop_fn, steps=60):
    mt.manual_seed(0)
    x, y = mt.data.toy.xor(200, seed=0)
    x, y = mt.tensor(x), mt.tensor(y)
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))
    opt = optim.Adam(model.parameters(), lr=0.05)
    history = []
    with mt.use_backprop(backprop_fn):
        for _ in range(steps):
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            history.append(loss.item())
    accuracy = (model(x).argmax(1) == y).mean().item()
    return history, accuracy, model


builtin, _, model_a = train(mt.core.autograd.current_backprop())
yours, accuracy, model_b = train(my_backprop)
fig, ax = plt.subplots(figsize=(5, 3), dpi=80)
ax.plot(builtin, lw=4, alpha=0.4, label="built-in backpropagate")
ax.plot(yours, "k--", lw=1, label="your backprop (mt.use_backprop)")
ax.set_xlabel("step")
ax.set_ylabel("cross-entropy")
ax.set_title(f"XOR, 2-16-2 MLP: accuracy {accuracy:.0%}")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()
print("largest difference between the two loss curves:", max(abs(p - q) for p, q in zip(builtin, yours)))

# %% [markdown]
# The two runs agree to rounding: your twenty lines are the algorithm inside `loss.backward()`.
# What PyTorch adds on top is engineering: rules for hundreds of ops written in C++, gradients
# computed on the GPU, a graph freed right after backward (`retain_graph=False`), and hooks. In
# chapter 03 you write the tensor rules yourself; in chapter 10 you meet the other design, a graph
# built *before* running (TensorFlow 1's sessions, `tf.function`, `jax.jit`).
