# %% [markdown]
# # 03 · Tensor operations and autograd: an operator library of your own
#
# In chapter 02 you learned what a tensor *is*: a flat storage, a shape and strides. A transpose, a slice
# or a broadcast only changed the strides. Now you make tensors *do* something.
#
# Here is the surprise behind every deep-learning framework: a few loop shapes cover almost every operation.
#
# - **map**: one input, one output, the same function on every element (`exp`, `neg`, `relu`);
# - **zip**: two inputs of the same (broadcast) shape, one function of each pair (`+`, `*`, `<`);
# - **reduce**: fold one dimension away (`sum`, `max`);
# - **matmul**: the one op important enough to get a kernel of its own.
#
# PyTorch's operator library (ATen) runs its elementwise kernels through one loop machine, `TensorIterator`.
# TensorFlow registers an `OpKernel` per op and device. JAX lowers everything to a small set of XLA
# primitives (`jax.lax.add`, `reduce`, `dot_general`). Our version of that layer is four *kernel factories*.
# You write them over strided storage, so they work for transposed and broadcast inputs as well.
#
# Then you teach tensors to differentiate themselves: `mt.Function` subclasses with a `forward` and a
# `backward` (PyTorch's `torch.autograd.Function`, TensorFlow's `tf.custom_gradient`, JAX's `jax.custom_vjp`).
# That includes the one rule every framework has to get right: the **un-broadcast** of a gradient.
#
# At the end your kernels become a backend (`device="mine"`) and train a small neural network.

# %% [setup]
import math
import sys
import time
from contextlib import contextmanager

import matplotlib.pyplot as plt
import numpy as np

import minitorch_edu as mt
from minitorch_edu import testing
from minitorch_edu.backends import scalar
from minitorch_edu.backends.shape import index_to_position, size_of, to_index
from minitorch_edu.core import functions as package_functions
from minitorch_edu.course import Chapter, ReferenceSealed, interact

chapter = Chapter(
    "03_tensor_autograd",
    references={
        "tensor_map": ["minitorch_edu.backends.python.tensor_map", "minitorch_edu.backends.numba.cpu.tensor_map"],
        "tensor_zip": ["minitorch_edu.backends.python.tensor_zip", "minitorch_edu.backends.numba.cpu.tensor_zip"],
        "tensor_reduce": [
            "minitorch_edu.backends.python.tensor_reduce",
            "minitorch_edu.backends.numba.cpu.tensor_reduce",
        ],
        "tensor_matmul": [
            "minitorch_edu.backends.python.tensor_matmul",
            "minitorch_edu.backends.numba.cpu.tensor_matmul",
            "minitorch_edu.backends.numba.matmul.matmul",
            # the compiled kernels behind it, which no seal can swap: learner code must not hold them
            "minitorch_edu.backends.numba.matmul.matmul_blocked",
            "minitorch_edu.backends.numba.matmul.matmul_serial",
        ],
        "unbroadcast": ["minitorch_edu.core.autograd.unbroadcast"],
        "mul_function": ["minitorch_edu.core.autograd.unbroadcast", "minitorch_edu.core.functions.Mul.backward",
                         "minitorch_edu.core.functions.Mul.forward"],
        "matmul_function": [
            "minitorch_edu.core.functions.MatMul.backward",
            "minitorch_edu.core.functions.MatMul.forward",
        ],
        # the package's Function classes: for the closing part's fallback (their methods are sealed below)
        "Mul": ["minitorch_edu.core.functions.Mul"],
        "MatMul": ["minitorch_edu.core.functions.MatMul"],
    },
)


@contextmanager
def sealed_function(part, cls):
    """While `part` is checked, the package's `cls.forward` / `cls.backward` refuse calls from notebook code.

    (The package's own autograd still runs them. A class cannot be sealed by replacing it, since the
    package's operators look it up by name, so its two methods are sealed instead.)
    """
    originals = {name: cls.__dict__[name] for name in ("forward", "backward")}

    def seal(name, method):
        def sealed_method(*args, **kwargs):
            caller = sys._getframe(1).f_globals.get("__name__", "")
            if caller.split(".")[0] == "minitorch_edu":
                return method.__func__(*args, **kwargs)
            raise ReferenceSealed(
                f"your code called the package's `{cls.__name__}.{name}` while `{part}` is checked: write it yourself"
            )

        return type(method)(sealed_method)  # a staticmethod or a classmethod, as the package wrote it

    for name, method in originals.items():
        setattr(cls, name, seal(name, method))
    try:
        yield
    finally:
        for name, method in originals.items():
            setattr(cls, name, method)


def own(obj, part):
    """Check that `obj` (a kernel, a Function class) is the learner's code, not one of the package's objects."""
    borrowed = [
        c for c in getattr(obj, "__mro__", (obj,))
        if c is not mt.Function and getattr(c, "__module__", "").startswith("minitorch_edu")
    ]
    testing.assert_true(
        not borrowed, call=f"{part}: where the code comes from",
        got=f"the package's {borrowed[0].__module__}.{borrowed[0].__qualname__}" if borrowed else "",
        expected="your own code", hint=f"the point of `{part}` is to write it yourself, not to hand it to the package",
    )


def view(storage, shape, strides):
    """The NumPy view that (shape, strides) describe over a 1-D `storage`: what the tests compare with."""
    storage = np.asarray(storage)
    return np.lib.stride_tricks.as_strided(storage, tuple(shape), tuple(s * storage.itemsize for s in strides))


def empty_storage(n):
    """A 1-D output storage filled with NaN, so that an element a kernel forgets to write shows up."""
    return np.full(n, np.nan)


STRIDES = "a position outside a storage: each operand has its own strides (out_strides, a_strides, b_strides)"
MATMUL_INDEX = "read a at [*batch, i, r] and b at [*batch, r, j], each with its own strides"


@contextmanager
def explained(call, hint):
    """Turn an error inside a check (a position outside a storage, a gradient of the wrong shape) into a message."""
    try:
        yield
    except NotImplementedError:
        raise  # "not written yet" is said by testing.part
    except (IndexError, ValueError, RuntimeError, TypeError) as err:
        raise testing.explain_error(err, call, hint) from None  # the call, the error, your line, the mistake


plt.rcParams["figure.dpi"] = 80

# %% [markdown]
# ## 1 · The kernel contract
#
# Every kernel in this chapter receives *storages* (1-D NumPy arrays) and the shape and strides that say how
# to read them. It never receives a tensor. The contract is written down in
# `minitorch_edu/backends/base.py`:
#
# ```
# map(fn)    -> kernel(out, out_strides, a, a_strides, shape)
# zip(fn)    -> kernel(out, out_strides, a, a_strides, b, b_strides, shape)
# reduce(fn) -> kernel(out, out_strides, a, a_strides, a_shape, dim)
# matmul     -> kernel(out, out_strides, a, a_strides, b, b_strides, out_shape, k)
# ```
#
# `map`, `zip` and `reduce` are *factories*: you give them a scalar function such as `scalar.exp` and they
# return a kernel that applies it. The kernel writes into `out`, which the tensor has already allocated,
# and returns nothing.
#
# You already have the two helpers you need from chapter 02 (here imported from the package):
# `to_index(ordinal, shape)` turns a counter 0, 1, 2, ... into an index such as `[1, 0]`, and
# `index_to_position(index, strides)` turns an index into a position in storage.

# %%
t = mt.tensor(np.arange(6.0).reshape(2, 3))
print("t:  ", t.shape, "strides", t.stride(), "contiguous:", t.is_contiguous())
print("t.T:", t.T.shape, "strides", t.T.stride(), "contiguous:", t.T.is_contiguous())
print("to_index(4, (3, 2)) =", to_index(4, (3, 2)), "-> position", index_to_position(to_index(4, (3, 2)), (1, 3)))

# %% [markdown]
# The same six numbers in storage can be read in many orders. A kernel walks the *logical* elements in
# order, ordinal 0, 1, 2, ..., and for each one finds the position to read with the input's strides and the
# position to write with the output's strides. The picture shows where each logical element lives (left)
# and the order in which the kernel visits the storage (right). For a transposed input the kernel jumps
# back and forth. For a broadcast input (stride 0) it reads the same cells again and again.

# %%
VIEWS = {
    "contiguous (2, 3), strides (3, 1)": ((2, 3), (3, 1)),
    "transposed (3, 2), strides (1, 3)": ((3, 2), (1, 3)),
    "row broadcast to (3, 3), strides (0, 1)": ((3, 3), (0, 1)),
    "every other column (2, 2), strides (3, 2)": ((2, 2), (3, 2)),
}


def draw_walk(name, storage_size=6):
    """Left: each element of the view labelled with the storage position it reads.
    Right: the storage, with arrows in the order a map kernel reads it."""
    shape, strides = VIEWS[name]
    colors = plt.cm.tab10(np.arange(storage_size) % 10)
    fig, (grid, strip) = plt.subplots(1, 2, figsize=(10, 2.8), gridspec_kw={"width_ratios": [1, 2.2]})
    visits = []
    for i, j in np.ndindex(*shape):  # ordinal order: the last dim moves fastest
        pos = index_to_position((i, j), strides)
        visits.append(pos)
        grid.add_patch(plt.Rectangle((j, -i - 1), 1, 1, color=colors[pos], alpha=0.55))
        grid.text(j + 0.5, -i - 0.5, f"pos {pos}", ha="center", va="center", fontsize=10)
    grid.set_xlim(0, shape[1])
    grid.set_ylim(-shape[0], 0)
    grid.set_aspect("equal")
    grid.set_xticks([])
    grid.set_yticks([])
    grid.set_title(f"the view: shape {shape}, strides {strides}", fontsize=10)
    for p in range(storage_size):
        strip.add_patch(plt.Rectangle((p, 0), 1, 1, color=colors[p], alpha=0.55))
        strip.text(p + 0.5, 0.5, str(p), ha="center", va="center", fontsize=11)
        reads = [str(k) for k, v in enumerate(visits) if v == p]
        strip.text(p + 0.5, -0.35, ",".join(reads) or "-", ha="center", va="center", fontsize=9)
    for k in range(len(visits) - 1):
        a, b = visits[k] + 0.5, visits[k + 1] + 0.5
        if a == b:
            continue
        strip.annotate(
            "", xy=(b, 1.05), xytext=(a, 1.05),
            arrowprops={"arrowstyle": "->", "connectionstyle": "arc3,rad=-0.5", "color": "0.3"},
        )
    strip.text(-0.2, -0.35, "read at ordinal", ha="right", va="center", fontsize=9)
    strip.set_xlim(-2.2, storage_size + 0.2)
    strip.set_ylim(-0.8, 2.6)
    strip.axis("off")
    strip.set_title("the storage: arrows follow the kernel's reads", fontsize=10)
    fig.tight_layout()
    plt.show()


draw_walk("transposed (3, 2), strides (1, 3)")

# %% [markdown]
# Pick another view and watch how the walk changes. A broadcast reads cells 0 to 2 three times each and
# never touches 3 to 5. Slicing every other column skips the storage it does not need. (The control
# needs a live notebook; without one, as when the notebook is graded, the cell draws the broadcast.)

# %%
interact(lambda view: draw_walk(view, storage_size=6), view=("choice", list(VIEWS)[2], list(VIEWS)))

# %% [markdown]
# ## 2 · `tensor_map`
#
# Write the map factory. For every ordinal of `shape`: find the index, read `a` at that index's position
# (using `a_strides`), apply `fn` and write the result to `out` at *its* position (using `out_strides`).
# The two sets of strides are different in general. Nothing promises that `a` is contiguous, or that `out`
# is.

# %% [solution] id=tensor_map
def tensor_map(fn):
    """A map kernel for the scalar function `fn`:  out[index] = fn(a[index]) for every index of `shape`.

        kernel = tensor_map(scalar.neg)
        kernel(out, out_strides, a, a_strides, shape)   # fills `out`, returns None

    `out` and `a` are 1-D storages; position(index) = sum(index[d] * strides[d]).
    """

    def kernel(out, out_strides, a, a_strides, shape):
        ### BEGIN SOLUTION
        for ordinal in range(size_of(shape)):
            index = to_index(ordinal, shape)
            out[index_to_position(index, out_strides)] = fn(a[index_to_position(index, a_strides)])
        ### END SOLUTION

    return kernel


# %% [tests] id=tensor_map_tests points=4
with testing.part("tensor_map"), testing.calling():
    own(tensor_map(scalar.neg), "tensor_map")
    # a transposed input: storage of a (2, 3) tensor read as its (3, 2) transpose
    a = np.arange(6.0)
    out = empty_storage(6)
    with explained("tensor_map(scalar.neg)(out, (2, 1), a=arange(6), a_strides=(1, 3), shape=(3, 2))", STRIDES):
        tensor_map(scalar.neg)(out, (2, 1), a, (1, 3), (3, 2))
    testing.assert_close(
        view(out, (3, 2), (2, 1)), -np.arange(6.0).reshape(2, 3).T,
        call="tensor_map(scalar.neg)(out, (2, 1), a=arange(6), a_strides=(1, 3), shape=(3, 2))",
        hints=[
            (lambda got, exp: np.allclose(got, -np.arange(6.0).reshape(3, 2)),
             "you read `a` in storage order: find a's position with index_to_position(index, a_strides)"),
            (lambda got, exp: np.isnan(got).any(), "some elements of `out` were never written: loop over every "
             "ordinal in range(size_of(shape))"),
        ],
    )
    out = empty_storage(4)
    with explained("tensor_map(lambda x: 2x + 1)(out, (1,), a=[0, 1, -2, 3.5], (1,), (4,))", STRIDES):
        tensor_map(lambda x: 2.0 * x + 1.0)(out, (1,), np.array([0.0, 1.0, -2.0, 3.5]), (1,), (4,))
    testing.assert_close(out, [1.0, 3.0, -3.0, 8.0],
                         call="tensor_map(lambda x: 2x + 1)(out, (1,), a=[0, 1, -2, 3.5], (1,), (4,))")
### BEGIN HIDDEN TESTS
with testing.part("tensor_map", hidden=True), testing.calling():
    rng = np.random.default_rng(3)
    # a non-contiguous output: write only the (3, 2) view with strides (1, 4) of a 12-element storage
    a = rng.standard_normal(6)
    out = empty_storage(12)
    tensor_map(scalar.exp)(out, (1, 4), a, (2, 1), (3, 2))
    testing.assert_close(view(out, (3, 2), (1, 4)), np.exp(a.reshape(3, 2)),
                         call="tensor_map(exp) into out strides (1, 4)")
    untouched = np.ones(12, bool)
    untouched[[0, 4, 1, 5, 2, 6]] = False
    testing.assert_true(np.isnan(out[untouched]).all(), call="tensor_map(exp) into out strides (1, 4)",
                        got="writes outside the output view", expected="only the view's positions written",
                        hint="write `out` at index_to_position(index, out_strides), not at the ordinal")
    # a 3-D permuted input
    base = rng.standard_normal((2, 3, 4))
    a = base.reshape(-1)
    shape, a_strides = (4, 2, 3), (1, 12, 4)  # base.transpose(2, 0, 1)
    out = empty_storage(24)
    tensor_map(scalar.tanh)(out, (6, 3, 1), a, a_strides, shape)
    testing.assert_close(view(out, shape, (6, 3, 1)), np.tanh(base.transpose(2, 0, 1)),
                         call="tensor_map(tanh) 3-D permuted")
    # a broadcast input (stride 0) and a 0-d tensor
    out = empty_storage(12)
    tensor_map(scalar.neg)(out, (4, 1), np.arange(4.0), (0, 1), (3, 4))
    testing.assert_close(view(out, (3, 4), (4, 1)), -np.tile(np.arange(4.0), (3, 1)),
                         call="tensor_map(neg) broadcast input")
    out = empty_storage(1)
    tensor_map(scalar.neg)(out, (), np.array([2.5]), (), ())
    testing.assert_close(out, [-2.5], call="tensor_map(neg) on a 0-d tensor, shape ()")
### END HIDDEN TESTS

# %% [markdown]
# ## 3 · `tensor_zip`
#
# Zip is map with two inputs. Broadcasting costs the kernel nothing: before the call the tensor gives every
# broadcast dimension **stride 0** (chapter 02's `expand_strides`). So `a` and `b` always arrive with the
# output's shape, and walking one index through three sets of strides is all there is to it.
#
# Below, a `(2, 3)` matrix plus a row `(3,)`: the row's strides for shape `(2, 3)` are `(0, 1)`.

# %%
print("row (3,) expanded to (2, 3):", mt.backends.shape.expand_strides((3,), (1,), (2, 3)))
print("column (2, 1) expanded to (2, 3):", mt.backends.shape.expand_strides((2, 1), (1, 1), (2, 3)))

# %% [solution] id=tensor_zip
def tensor_zip(fn):
    """A zip kernel for `fn`:  out[index] = fn(a[index], b[index]) for every index of `shape`.

        kernel = tensor_zip(scalar.add)
        kernel(out, out_strides, a, a_strides, b, b_strides, shape)

    `a` and `b` already have `shape`: a broadcast dimension has stride 0.
    """

    def kernel(out, out_strides, a, a_strides, b, b_strides, shape):
        ### BEGIN SOLUTION
        for ordinal in range(size_of(shape)):
            index = to_index(ordinal, shape)
            x = a[index_to_position(index, a_strides)]
            y = b[index_to_position(index, b_strides)]
            out[index_to_position(index, out_strides)] = fn(x, y)
        ### END SOLUTION

    return kernel


# %% [tests] id=tensor_zip_tests points=4
with testing.part("tensor_zip"), testing.calling():
    own(tensor_zip(scalar.add), "tensor_zip")
    a = np.arange(6.0)  # (2, 3)
    b = np.array([10.0, 20.0, 30.0])  # a row, broadcast over the 2 rows
    out = empty_storage(6)
    with explained("tensor_zip(scalar.add)(out, (3, 1), a=arange(6), (3, 1), b=[10, 20, 30], b_strides=(0, 1), "
                   "shape=(2, 3))", "b has only 3 elements: read it at index_to_position(index, b_strides), "
                   "stride 0 repeats them"):
        tensor_zip(scalar.add)(out, (3, 1), a, (3, 1), b, (0, 1), (2, 3))
    testing.assert_close(
        view(out, (2, 3), (3, 1)), np.arange(6.0).reshape(2, 3) + b,
        call="tensor_zip(scalar.add)(out, (3, 1), a=arange(6), (3, 1), b=[10, 20, 30], b_strides=(0, 1), shape=(2, 3))",
        hints=[
            (lambda got, exp: np.isnan(got).any(), "some elements were never written (did you read b past its end?)"),
            "a broadcast dimension has stride 0: read b at index_to_position(index, b_strides)",
        ],
    )
    # a transposed a, a contiguous b, and a function whose argument order matters
    out = empty_storage(6)
    with explained("tensor_zip(scalar.sub)(out, (2, 1), a=arange(6), a_strides=(1, 3), b=ones(6), (2, 1), "
                   "shape=(3, 2))", STRIDES):
        tensor_zip(scalar.sub)(out, (2, 1), np.arange(6.0), (1, 3), np.ones(6), (2, 1), (3, 2))
    testing.assert_close(
        view(out, (3, 2), (2, 1)), np.arange(6.0).reshape(2, 3).T - 1.0,
        call="tensor_zip(scalar.sub)(out, (2, 1), a=arange(6), a_strides=(1, 3), b=ones(6), (2, 1), shape=(3, 2))",
        hints=[(lambda got, exp: np.allclose(got, 1.0 - np.arange(6.0).reshape(2, 3).T),
                "you swapped a and b: fn(a, b)"),
               (lambda got, exp: np.allclose(got, np.arange(6.0).reshape(3, 2) - 1.0),
                "you read `a` in storage order: use a_strides")],
    )
### BEGIN HIDDEN TESTS
with testing.part("tensor_zip", hidden=True), testing.calling():
    rng = np.random.default_rng(4)
    # an outer product: a column (3, 1) times a row (4,), both broadcast
    col, row = rng.standard_normal(3), rng.standard_normal(4)
    out = empty_storage(12)
    tensor_zip(scalar.mul)(out, (4, 1), col, (1, 0), row, (0, 1), (3, 4))
    testing.assert_close(view(out, (3, 4), (4, 1)), np.outer(col, row), call="tensor_zip(mul) column x row")
    # 3-D: a permuted, b broadcast over the middle dim, out non-contiguous
    base = rng.standard_normal((4, 3, 2))
    a_view = base.transpose(2, 1, 0)  # (2, 3, 4)
    b = rng.standard_normal(8)  # (2, 1, 4) broadcast to (2, 3, 4)
    out = empty_storage(24)
    out_strides = (1, 2, 6)  # column-major output
    tensor_zip(scalar.sub)(out, out_strides, base.reshape(-1), (1, 2, 6), b, (4, 0, 1), (2, 3, 4))
    expected = a_view - b.reshape(2, 1, 4)
    testing.assert_close(view(out, (2, 3, 4), out_strides), expected,
                         call="tensor_zip(sub) 3-D permuted, broadcast, column-major out", hints=[
                             (lambda got, exp: np.allclose(view(out, (2, 3, 4), (12, 4, 1)), exp),
                              "out was written row-major: write at index_to_position(index, out_strides)"),
                             "each of out, a and b has its own strides: compute three positions per element, "
                             "and b's stride 0 re-reads its elements (no wrapping around its storage)"])
    # a scalar (shape ()) broadcast to a vector, and a 0-d zip
    out = empty_storage(5)
    tensor_zip(scalar.maximum)(out, (1,), np.linspace(-1, 1, 5), (1,), np.array([0.25]), (0,), (5,))
    testing.assert_close(out, np.maximum(np.linspace(-1, 1, 5), 0.25),
                         call="tensor_zip(maximum) with a broadcast scalar")
    out = empty_storage(1)
    tensor_zip(scalar.div)(out, (), np.array([3.0]), (), np.array([4.0]), (), ())
    testing.assert_close(out, [0.75], call="tensor_zip(div) on 0-d tensors")
### END HIDDEN TESTS

# %% [markdown]
# ## 4 · `tensor_reduce`
#
# A reduction folds one dimension away. The output has the input's shape with `a_shape[dim] == 1`, and the
# tensor has already filled it with the **start value**: 0 for `sum`, -inf for `max`, 1 for a product. For
# each index of the output, walk `j` over `range(a_shape[dim])`, fold `out = fn(out, a[index with dim = j])`
# and write the result back.
#
# Do not assume the start value is 0. If you begin from 0, a `max` over negative numbers gives 0.

# %% [solution] id=tensor_reduce
def tensor_reduce(fn):
    """A reduce kernel for `fn` over dimension `dim`:

        for each index of the output (a_shape with a_shape[dim] = 1):
            for j = 0, 1, ..., a_shape[dim] - 1:
                out[index] = fn(out[index], a[index with index[dim] = j])

    `out` holds the start value when the kernel is called (0 for sum, -inf for max).
    """

    def kernel(out, out_strides, a, a_strides, a_shape, dim):
        ### BEGIN SOLUTION
        out_shape = list(a_shape)
        out_shape[dim] = 1
        for ordinal in range(size_of(out_shape)):
            index = to_index(ordinal, out_shape)
            o = index_to_position(index, out_strides)
            acc = out[o]
            for j in range(a_shape[dim]):
                index[dim] = j
                acc = fn(acc, a[index_to_position(index, a_strides)])
            out[o] = acc
        ### END SOLUTION

    return kernel


# %% [tests] id=tensor_reduce_tests points=4
with testing.part("tensor_reduce"), testing.calling():
    own(tensor_reduce(scalar.add), "tensor_reduce")
    a = np.arange(6.0)  # [[0, 1, 2], [3, 4, 5]]
    out = np.zeros(2)
    with explained("tensor_reduce(scalar.add)(out=zeros(2), (1, 1), a=arange(6), (3, 1), a_shape=(2, 3), dim=1)",
                   "the output has a_shape with a_shape[dim] = 1: "
                   "loop over its indices, then over j in range(a_shape[dim])"):
        tensor_reduce(scalar.add)(out, (1, 1), a, (3, 1), (2, 3), 1)
    testing.assert_close(
        out, [3.0, 12.0],
        call="tensor_reduce(scalar.add)(out=zeros(2), (1, 1), a=arange(6), (3, 1), a_shape=(2, 3), dim=1)",
        hints=[(lambda got, exp: np.allclose(got, [3.0, 15.0]),
                "the first element counted twice: start from the value in `out`, then fold every j"),
               (lambda got, exp: np.allclose(got, [2.0, 5.0]),
                "you kept only the last element: fold with fn(out, a[...])")],
    )
    out = np.zeros(3)
    with explained("tensor_reduce(scalar.add)(out=zeros(3), (1, 1), a=arange(6), a_strides=(1, 3), "
                   "a_shape=(3, 2), dim=1)", STRIDES):
        tensor_reduce(scalar.add)(out, (1, 1), a, (1, 3), (3, 2), 1)  # the transpose, summed over its dim 1
    testing.assert_close(
        out, [3.0, 5.0, 7.0],
        call="tensor_reduce(scalar.add)(out=zeros(3), (1, 1), a=arange(6), a_strides=(1, 3), a_shape=(3, 2), dim=1)",
        hints=["a is transposed here: read it with a_strides"],
    )
    out = np.full(3, -np.inf)
    with explained("tensor_reduce(scalar.maximum)(out=full(3, -inf), (3, 1), a of shape (2, 3), (3, 1), (2, 3), dim=0)",
                   "reduce over `dim`, not over a fixed dimension; the output has a_shape with a_shape[dim] = 1"):
        tensor_reduce(scalar.maximum)(out, (3, 1), np.array([1.0, -5.0, 2.0, 4.0, -1.0, 0.5]), (3, 1), (2, 3), 0)
    testing.assert_close(
        out, [4.0, -1.0, 2.0],
        call="tensor_reduce(scalar.maximum)(out=full(3, -inf), (3, 1), a=[[1, -5, 2], [4, -1, 0.5]], (3, 1), "
             "(2, 3), dim=0)",
        hints=[(lambda got, exp: np.allclose(got, [2.0, 4.0]), "you reduced dim 1, not `dim`"),
               (lambda got, exp: np.allclose(got, [4.0, 0.0, 2.0]),
                "you started from 0: start from the value already in `out`")],
    )
### BEGIN HIDDEN TESTS
with testing.part("tensor_reduce", hidden=True), testing.calling():
    rng = np.random.default_rng(5)
    # the start value matters: max of negative numbers, a product, a sum that starts at 10
    neg = -1.0 - rng.random(6)
    out = np.full(2, -np.inf)
    tensor_reduce(scalar.maximum)(out, (1, 1), neg, (3, 1), (2, 3), 1)
    testing.assert_close(out, neg.reshape(2, 3).max(1), call="tensor_reduce(maximum) of negative numbers, start -inf")
    out = np.ones(2)
    tensor_reduce(scalar.mul)(out, (1, 1), np.arange(1.0, 7.0), (3, 1), (2, 3), 1)
    testing.assert_close(out, [6.0, 120.0], call="tensor_reduce(mul), start 1")
    out = np.full(3, 10.0)
    tensor_reduce(scalar.add)(out, (1, 1), np.arange(6.0), (1, 3), (3, 2), 1)
    testing.assert_close(out, [13.0, 15.0, 17.0], call="tensor_reduce(add) with start value 10")
    # 3-D, the middle dim, a permuted input and a non-contiguous output
    base = rng.standard_normal((4, 3, 2))
    a_view = base.transpose(2, 1, 0)  # (2, 3, 4), strides (1, 2, 6)
    out = np.zeros(16)
    tensor_reduce(scalar.add)(out, (1, 16, 2), base.reshape(-1), (1, 2, 6), (2, 3, 4), 1)
    testing.assert_close(view(out, (2, 1, 4), (1, 16, 2)), a_view.sum(1, keepdims=True),
                         call="tensor_reduce(add) 3-D dim=1, out strides (1, 16, 2)",
                         hints=["the output has its own strides: write at index_to_position(out_index, out_strides), "
                                "and read a with a_strides"])
    out = np.zeros(3 * 4)
    tensor_reduce(scalar.add)(out, (12, 4, 1), base.reshape(-1), (1, 2, 6), (2, 3, 4), 0)
    testing.assert_close(view(out, (1, 3, 4), (12, 4, 1)), a_view.sum(0, keepdims=True),
                         call="tensor_reduce(add) 3-D dim=0")
    # a dim of size 1 and a broadcast input
    out = np.zeros((3,))
    tensor_reduce(scalar.add)(out, (1, 1), np.arange(3.0), (1, 1), (3, 1), 1)
    testing.assert_close(out, [0.0, 1.0, 2.0], call="tensor_reduce(add) over a dim of size 1")
    out = np.zeros(1)
    tensor_reduce(scalar.add)(out, (1,), np.array([2.0]), (0,), (5,), 0)
    testing.assert_close(out, [10.0], call="tensor_reduce(add) of a broadcast scalar, shape (5,), stride 0")
### END HIDDEN TESTS

# %% [markdown]
# ## 5 · `tensor_matmul`
#
# Matrix multiply gets its own kernel because composing it from zip and reduce would materialise an
# `(n, k, m)` temporary. This first version is the straightforward triple loop; chapter 04 makes it fast.
#
# The contract: `out_shape = (*batch, n, m)`, `a` is `(*batch, n, k)` and `b` is `(*batch, k, m)`, with the
# batch dimensions already broadcast (stride 0 where one side had 1). For every output index
# `(*batch, i, j)`, `out = sum over r of a[*batch, i, r] * b[*batch, r, j]`.

# %% [solution] id=tensor_matmul
def tensor_matmul(out, out_strides, a, a_strides, b, b_strides, out_shape, k):
    """out[*batch, i, j] = sum(a[*batch, i, r] * b[*batch, r, j] for r in range(k)).

    out_shape = (*batch, n, m); a has shape (*batch, n, k) and b (*batch, k, m), read with their strides.
    """
    ### BEGIN SOLUTION
    for ordinal in range(size_of(out_shape)):
        index = to_index(ordinal, out_shape)
        *batch, i, j = index
        acc = 0.0
        for r in range(k):
            acc += a[index_to_position([*batch, i, r], a_strides)] * b[index_to_position([*batch, r, j], b_strides)]
        out[index_to_position(index, out_strides)] = acc
    ### END SOLUTION


# %% [tests] id=tensor_matmul_tests points=3
with testing.part("tensor_matmul"), testing.calling():
    own(tensor_matmul, "tensor_matmul")
    A = np.arange(6.0).reshape(2, 3)
    B = np.arange(12.0).reshape(3, 4) - 5.0
    out = empty_storage(8)
    with explained("tensor_matmul(out, (4, 1), A of shape (2, 3), (3, 1), B of shape (3, 4), (4, 1), "
                   "out_shape=(2, 4), k=3)", MATMUL_INDEX):
        tensor_matmul(out, (4, 1), A.reshape(-1), (3, 1), B.reshape(-1), (4, 1), (2, 4), 3)
    testing.assert_close(
        view(out, (2, 4), (4, 1)), A @ B,
        call="tensor_matmul(out, (4, 1), A of shape (2, 3), (3, 1), B of shape (3, 4), (4, 1), out_shape=(2, 4), k=3)",
        hints=[(lambda got, exp: np.isnan(got).any(), "some outputs were never written"),
               (lambda got, exp: np.allclose(got, (A[:, -1:] * B[-1:, :])),
                "only the last product survived: accumulate acc += ...")],
    )
    # A given as the transpose of a (3, 2) storage
    At = np.arange(6.0).reshape(3, 2)
    out = empty_storage(8)
    with explained("tensor_matmul(out, (4, 1), a = (3, 2) storage read with strides (1, 2), "
                   "B (3, 4), (4, 1), (2, 4), k=3)", MATMUL_INDEX):
        tensor_matmul(out, (4, 1), At.reshape(-1), (1, 2), B.reshape(-1), (4, 1), (2, 4), 3)
    testing.assert_close(
        view(out, (2, 4), (4, 1)), At.T @ B,
        call="tensor_matmul(out, (4, 1), a = (3, 2) storage read with strides (1, 2), B (3, 4), (4, 1), (2, 4), k=3)",
        hints=["read a at index_to_position([*batch, i, r], a_strides), b at [*batch, r, j] with b_strides"],
    )
    # b given as the transpose of a (4, 3) storage: what the backward's grad @ b.T hands the kernel
    Bt = np.arange(12.0).reshape(4, 3) - 5.0
    out = empty_storage(8)
    call = "tensor_matmul(out, (4, 1), A (2, 3), (3, 1), b = (4, 3) storage read with strides (1, 3), (2, 4), k=3)"
    with explained(call, MATMUL_INDEX):
        tensor_matmul(out, (4, 1), A.reshape(-1), (3, 1), Bt.reshape(-1), (1, 3), (2, 4), 3)
    testing.assert_close(
        view(out, (2, 4), (4, 1)), A @ Bt.T, call=call,
        hints=[(lambda got, exp: np.allclose(got, A @ Bt.reshape(3, 4)),
                "b was read as if it were row-major: read b at index_to_position([*batch, r, j], b_strides)"),
               "read b at index_to_position([*batch, r, j], b_strides): b's strides need not be row-major"],
    )
### BEGIN HIDDEN TESTS
with testing.part("tensor_matmul", hidden=True), testing.calling():
    rng = np.random.default_rng(6)
    # batched, with b broadcast over the batch (stride 0), out non-contiguous
    A = rng.standard_normal((3, 2, 4))
    B = rng.standard_normal((4, 5))
    out = empty_storage(30)
    out_strides = (1, 15, 3)  # batch fastest
    tensor_matmul(out, out_strides, A.reshape(-1), (8, 4, 1), B.reshape(-1), (0, 5, 1), (3, 2, 5), 4)
    testing.assert_close(view(out, (3, 2, 5), out_strides), A @ B,
                         call="tensor_matmul batched (3, 2, 4) @ (4, 5) broadcast, permuted out",
                         hints=[(lambda got, exp: np.allclose(got, got[:1]), "every batch got the same result: "
                                 "the batch index was dropped (read a at [*batch, i, r], with all of a_strides)")])
    # k = 1 (an outer product) and a 1 x 1 result
    out = empty_storage(2 * 3)
    tensor_matmul(out, (3, 1), np.array([1.0, 2.0]), (1, 1), np.array([3.0, 4.0, 5.0]), (3, 1), (2, 3), 1)
    testing.assert_close(view(out, (2, 3), (3, 1)), np.outer([1.0, 2.0], [3.0, 4.0, 5.0]),
                         call="tensor_matmul with k=1")
    x, y = rng.standard_normal(7), rng.standard_normal(7)
    out = empty_storage(1)
    tensor_matmul(out, (1, 1), x, (7, 1), y, (1, 1), (1, 1), 7)
    testing.assert_close(out, [x @ y], call="tensor_matmul (1, 7) @ (7, 1)")
    # batched, both operands non-contiguous: a permuted a, and b a stepped slice of a wider storage
    A = rng.standard_normal((4, 2, 3))  # read as (2, 3, 4): a[p, i, r] = A[r, p, i]
    B = rng.standard_normal((2, 4, 10))  # read as (2, 4, 5): every other column
    out = empty_storage(2 * 3 * 5)
    with explained("tensor_matmul batched, a permuted (strides (3, 1, 6)), b a stepped slice (strides (40, 10, 2))",
                   MATMUL_INDEX):
        tensor_matmul(out, (15, 5, 1), A.reshape(-1), (3, 1, 6), B.reshape(-1), (40, 10, 2), (2, 3, 5), 4)
    testing.assert_close(view(out, (2, 3, 5), (15, 5, 1)), A.transpose(1, 2, 0) @ B[:, :, ::2],
                         call="tensor_matmul batched (2, 3, 4) @ (2, 4, 5), a permuted, b a stepped slice",
                         hints=["read both operands with their own strides, batch dims included"])
### END HIDDEN TESTS

# %% [markdown]
# Your four kernels are a complete operator library for the elementwise, reduction and matmul ops. Before
# building a backend from them, here is how tensors learn to differentiate themselves.
#
# ## 6 · Functions: forward and backward on tensors
#
# In chapter 01 every scalar `Value` knew its local derivative. Tensors work the same way, one *op* at a
# time. An `mt.Function` has two static methods:
#
# - `forward(ctx, *inputs)` computes the result from plain tensors (no history) and may save what the
#   backward will need with `ctx.save_for_backward(...)`;
# - `backward(ctx, grad)` receives d(loss)/d(output), a tensor shaped like the output, and returns
#   d(loss)/d(input) for each input, **each shaped like its input**.
#
# `Function.apply(...)` runs forward and records a graph node. `loss.backward()` walks the nodes in reverse
# and calls each backward. Here is a complete example, the square:

# %%
class Square(mt.Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return a * a

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * 2.0 * a  # d(a^2)/da = 2a, times the gradient that flowed in (the chain rule)


x = mt.tensor([1.0, -2.0, 3.0], requires_grad=True)
Square.apply(x).sum().backward()
print("x.grad =", x.grad, " (2x)")
print("grad_check:", mt.grad_check(Square.apply, mt.randn(2, 3)))

# %% [markdown]
# `mt.grad_check(fn, *inputs)` compares autograd's gradient of `sum(fn(*inputs))` with finite differences
# at every element, the tensor version of chapter 00's check. PyTorch calls it `torch.autograd.gradcheck`.
#
# A real graph is made of these nodes. The picture shows `((x @ W + b).sigmoid() * s).sum()` with the shape
# of every tensor. Reshapes (views) are left out. Look at the two red edges: `b` of shape `(2,)` and `s` of
# shape `(4, 1)` were *broadcast* to `(4, 2)`. On the way back their gradients arrive with shape `(4, 2)`
# and must be brought back to their own shapes.

# %%
def draw_graph(root, names):
    """Draw the graph that produced `root`: one box per tensor (its op or name and its shape), views skipped."""

    def skip_views(t):
        while t.grad_fn is not None and t.grad_fn.name == "ViewBackward":
            t = t.grad_fn.inputs[0]
        return t

    root = skip_views(root)
    depth, tensors, edges, stack = {id(root): 0}, {id(root): root}, set(), [root]
    while stack:
        t = stack.pop()
        for p in t.grad_fn.inputs if t.grad_fn is not None else ():
            p = skip_views(p)
            edges.add((id(p), id(t)))
            if depth.get(id(p), -1) < depth[id(t)] + 1:
                depth[id(p)] = depth[id(t)] + 1
                tensors[id(p)] = p
                stack.append(p)
    deepest = max(depth.values())
    columns = {}
    for key in sorted(tensors, key=lambda k: depth[k]):
        columns.setdefault(depth[key], []).append(key)
    where = {}
    for d, keys in columns.items():
        for row, key in enumerate(keys):
            where[key] = (deepest - d, (len(keys) - 1) / 2 - row)
    fig, ax = plt.subplots(figsize=(11, 3.4))
    for src, dst in edges:
        (x0, y0), (x1, y1) = where[src], where[dst]
        broadcast = tensors[src].shape != tensors[dst].shape and tensors[dst].grad_fn.name in ("AddBackward",
                                                                                               "MulBackward")
        ax.annotate("", xy=(x1 - 0.33, y1), xytext=(x0 + 0.33, y0),
                    arrowprops={"arrowstyle": "->", "color": "tab:red" if broadcast else "0.35",
                                "lw": 2 if broadcast else 1})
        if broadcast:
            ax.text((x0 + x1) / 2, min(y0, y1) - 0.2, f"grad {tensors[dst].shape}\nsummed to {tensors[src].shape}",
                    color="tab:red", fontsize=8, ha="center", va="top")
    for key, t in tensors.items():
        label = names.get(key) or t.grad_fn.name.replace("Backward", "")
        leaf = t.grad_fn is None
        ax.text(*where[key], f"{label}\n{t.shape}", ha="center", va="center", fontsize=9,
                bbox={"boxstyle": "round", "fc": "#dbe9f6" if leaf else "#fde9c9", "ec": "0.4"})
    ax.set_xlim(-0.6, deepest + 0.6)
    ax.set_ylim(-1.4, 1.4)
    ax.axis("off")
    ax.set_title("the graph autograd records (blue: leaves, orange: ops); backward runs right to left", fontsize=10)
    plt.show()


x, W = mt.randn(4, 3, requires_grad=True), mt.randn(3, 2, requires_grad=True)
b, s = mt.zeros(2, requires_grad=True), mt.rand(4, 1, requires_grad=True)
loss = ((x @ W + b).sigmoid() * s).sum()
draw_graph(loss, {id(x): "x", id(W): "W", id(b): "b", id(s): "s"})

# %% [markdown]
# ## 7 · `unbroadcast`: where a broadcast gradient goes
#
# When `b` of shape `(2,)` is added to every row of a `(4, 2)` matrix, each element of `b` is *used four
# times*. By the multivariable chain rule its gradient is the **sum** of the four gradients that flow back
# into those uses. In general: sum the gradient over every dimension that broadcasting **added** (leading
# dims) or **stretched** (size 1 in the input, larger in the output), then give it the input's shape.
#
# PyTorch does this in `sum_to_size` (autograd's `reduce_grad`); JAX's `broadcast_in_dim` transposes into
# the same sum. Frameworks get this rule wrong in subtle ways, so it is worth a picture:

# %%
g = np.arange(8.0).reshape(4, 2)
panels = [  # (matrix, left edge, title): drawn on one axis, so every cell has the same size
    (g, 0.0, "the gradient\n(4, 2)"),
    (g.sum(0, keepdims=True), 4.5, "for b (2,):\nsum over dim 0"),
    (g.sum(1, keepdims=True), 9.5, "for s (4, 1):\nsum over dim 1"),
]
fig, ax = plt.subplots(figsize=(9, 3))
for data, left, title in panels:
    for (i, j), v in np.ndenumerate(data):
        ax.add_patch(plt.Rectangle((left + j, -i - 1), 1, 1, fc=plt.cm.Blues(0.15 + 0.8 * v / 28), ec="0.3"))
        ax.text(left + j + 0.5, -i - 0.5, f"{v:g}", ha="center", va="center", color="k" if v < 14 else "w")
    ax.text(left + data.shape[1] / 2, 0.2, title, ha="center", va="bottom", fontsize=10)
ax.annotate("", xy=(4.4, -0.5), xytext=(2.1, -2), arrowprops={"arrowstyle": "->", "color": "tab:red"})
ax.annotate("", xy=(9.4, -2), xytext=(2.1, -2), arrowprops={"arrowstyle": "->", "color": "tab:red"})
ax.set_xlim(-0.2, 11)
ax.set_ylim(-4.2, 1.6)
ax.set_aspect("equal")
ax.axis("off")
plt.show()

# %% [markdown]
# Write `unbroadcast(grad, shape)`. Use tensor operations (`grad.sum(dim, keepdim=True)`, `.reshape(...)`):
# the gradient is a tensor. Align the shapes on the right, as broadcasting does. Sum the leading dims that
# `shape` does not have, and sum (keeping the dim) where `shape` has a 1 but `grad` does not. The result
# must have exactly `shape`, which may be `()` for a scalar.

# %% [solution] id=unbroadcast
def unbroadcast(grad, shape):
    """Sum `grad` (a Tensor) over the dimensions that broadcasting added or stretched, giving `shape`.

        unbroadcast(grad of shape (4, 3), (3,))    -> grad.sum(0), shape (3,)
        unbroadcast(grad of shape (4, 3), (4, 1))  -> grad.sum(1, keepdim=True), shape (4, 1)
    """
    ### BEGIN SOLUTION
    shape = tuple(shape)
    lead = grad.ndim - len(shape)
    for d in range(grad.ndim):
        if d < lead or (shape[d - lead] == 1 and grad.shape[d] != 1):
            grad = grad.sum(d, keepdim=True)
    return grad.reshape(shape)
    ### END SOLUTION


# %% [tests] id=unbroadcast_tests points=4
with testing.part("unbroadcast"), testing.calling():
    own(unbroadcast, "unbroadcast")
    g = np.arange(12.0).reshape(4, 3)
    with explained("unbroadcast(grad of shape (4, 3), shape=(3,))",
                   "align the shapes on the right: (4, 3) -> (3,) sums the leading dim 0"):
        got = unbroadcast(mt.tensor(g), (3,))
    testing.assert_close(
        got, g.sum(0),
        call="unbroadcast(grad of shape (4, 3), shape=(3,))",
        hints=[(lambda got, exp: np.shape(got) == (4,),
                "you summed over the last dim: broadcasting aligns shapes on the right"),
               (lambda got, exp: np.shape(got) == (1, 3),
                "the result must have exactly the requested shape (3,): reshape it")],
    )
    testing.assert_close(
        unbroadcast(mt.tensor(g), (4, 1)), g.sum(1, keepdims=True),
        call="unbroadcast(grad of shape (4, 3), shape=(4, 1))",
        hints=[(lambda got, exp: np.shape(got) == (4,), "keep the summed dim: grad.sum(d, keepdim=True)")],
    )
    testing.assert_close(unbroadcast(mt.tensor(g), (4, 3)), g, call="unbroadcast(grad of shape (4, 3), shape=(4, 3))",
                         hints=["when nothing was broadcast the gradient passes through unchanged"])
### BEGIN HIDDEN TESTS
with testing.part("unbroadcast", hidden=True), testing.calling():
    rng = np.random.default_rng(7)
    g = rng.standard_normal((2, 3, 4))
    for shape in [(3, 1), (1, 4), (1,), (), (2, 1, 4), (1, 3, 1), (4,), (2, 3, 4)]:
        got = unbroadcast(mt.tensor(g, dtype="float64"), shape)
        lead = g.ndim - len(shape)
        dims = tuple(d for d in range(g.ndim) if d < lead or shape[d - lead] == 1)
        testing.assert_close(got, g.sum(dims).reshape(shape),
                             call=f"unbroadcast(grad of shape (2, 3, 4), shape={shape})")
    # size 1 in the gradient too: nothing to sum there
    g1 = rng.standard_normal((5, 1, 2))
    testing.assert_close(unbroadcast(mt.tensor(g1, dtype="float64"), (1, 2)), g1.sum(0),
                         call="unbroadcast(grad (5, 1, 2), (1, 2))")
    testing.assert_close(unbroadcast(mt.tensor(g1, dtype="float64"), (1, 1, 1)), g1.sum().reshape(1, 1, 1),
                         call="unbroadcast(grad (5, 1, 2), (1, 1, 1))")
### END HIDDEN TESTS

# %% [markdown]
# ## 8 · `Mul`: the backward of a broadcasting binary op
#
# For `out = a * b` the local derivatives are `d out / d a = b` and `d out / d b = a`. Multiply each by the
# incoming `grad` (the chain rule), then **un-broadcast** it to the input's shape with your `unbroadcast`.
# In `forward`, compute `a * b` (the inputs have no history there, so nothing is recorded twice) and save
# what backward needs.

# %% [solution] id=mul_function
class Mul(mt.Function):
    """out = a * b with NumPy broadcasting; backward returns (grad_a, grad_b), each shaped like its input."""

    @staticmethod
    def forward(ctx, a, b):
        ### BEGIN SOLUTION
        ctx.save_for_backward(a, b)
        return a * b
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad):
        ### BEGIN SOLUTION
        a, b = ctx.saved_tensors
        return unbroadcast(grad * b, a.shape), unbroadcast(grad * a, b.shape)
        ### END SOLUTION


# %% [tests] id=mul_function_tests points=3
with testing.part("mul_function"), sealed_function("mul_function", package_functions.Mul):
    own(Mul, "mul_function")
    A = np.arange(6.0).reshape(2, 3) - 2.0
    B = np.array([1.0, -2.0, 0.5])
    G = np.array([[1.0, 2.0, 3.0], [-1.0, 0.5, 2.0]])
    a, b = mt.tensor(A, requires_grad=True), mt.tensor(B, requires_grad=True)
    with explained("Mul.apply(a of shape (2, 3), b of shape (3,))", "forward returns a * b"):
        out = Mul.apply(a, b)
    testing.assert_close(out, A * B, call="Mul.apply(a of shape (2, 3), b of shape (3,))")
    with explained("Mul.apply(a (2, 3), b (3,)).backward(grad of shape (2, 3))",
                   "each gradient must have its input's shape: "
                   "unbroadcast(grad * b, a.shape), unbroadcast(grad * a, b.shape)"):
        out.backward(mt.tensor(G))
    testing.assert_close(
        a.grad, G * B, call="Mul.apply(a (2, 3), b (3,)).backward(grad) -> a.grad",
        hints=[(lambda got, exp: np.allclose(got, G * A), "d(a*b)/da is b, not a"),
               (lambda got, exp: np.allclose(got, np.broadcast_to(B, (2, 3))),
                "multiply by the incoming grad (chain rule)")],
    )
    testing.assert_close(
        b.grad, (G * A).sum(0), call="Mul.apply(a (2, 3), b (3,)).backward(grad) -> b.grad",
        hints=["b was broadcast over dim 0: its gradient is unbroadcast(grad * a, b.shape), a sum over dim 0"],
    )
### BEGIN HIDDEN TESTS
with testing.part("mul_function", hidden=True), sealed_function("mul_function", package_functions.Mul):
    rng = np.random.default_rng(8)
    for sa, sb in [((3, 1), (1, 4)), ((2, 3, 4), (3, 1)), ((4,), ()), ((2, 1), (2, 5))]:
        A, B, G = rng.standard_normal(sa), rng.standard_normal(sb), rng.standard_normal(np.broadcast_shapes(sa, sb))
        a, b = (mt.tensor(v, dtype="float64", requires_grad=True) for v in (A, B))
        with testing.calling(f"Mul.apply(a {sa}, b {sb}).backward(grad of shape {G.shape})",
                             hint="each gradient must have its own input's shape: unbroadcast(grad * b, a.shape) "
                             "and unbroadcast(grad * a, b.shape), both of them"):
            Mul.apply(a, b).backward(mt.tensor(G, dtype="float64"))
        lead_a, lead_b = G.ndim - len(sa), G.ndim - len(sb)
        ga = (G * B).sum(tuple(d for d in range(G.ndim) if d < lead_a or sa[d - lead_a] == 1)).reshape(sa)
        gb = (G * A).sum(tuple(d for d in range(G.ndim) if d < lead_b or sb[d - lead_b] == 1)).reshape(sb)
        testing.assert_close(a.grad, ga, call=f"Mul.apply(a {sa}, b {sb}) -> a.grad")
        testing.assert_close(b.grad, gb, call=f"Mul.apply(a {sa}, b {sb}) -> b.grad")
    # the same tensor twice: autograd adds both contributions (2x)
    x = mt.tensor([1.5, -2.0], dtype="float64", requires_grad=True)
    with testing.calling("Mul.apply(x, x).sum().backward()"):
        Mul.apply(x, x).sum().backward()
    testing.assert_close(x.grad, [3.0, -4.0], call="Mul.apply(x, x).sum().backward() -> x.grad")
    with testing.calling("grad_check(Mul.apply, (3, 1), (2, 1, 4))"):
        agrees = mt.grad_check(Mul.apply, mt.randn(3, 1), mt.randn(2, 1, 4))
    testing.assert_true(agrees, call="grad_check(Mul.apply, (3, 1), (2, 1, 4))", got="failed", expected="passes",
                        hint="your backward disagrees with finite differences when both inputs broadcast: "
                        "unbroadcast(grad * b, a.shape) and unbroadcast(grad * a, b.shape)")
### END HIDDEN TESTS

# %% [markdown]
# ## 9 · `MatMul`: forward and backward
#
# For `C = A @ B` with `A` of shape `(n, k)` and `B` of shape `(k, m)`, the gradient `G = d loss / d C` has
# shape `(n, m)`, and
#
# - `d loss / d A = G @ Bᵀ` of shape `(n, m) @ (m, k) = (n, k)`,
# - `d loss / d B = Aᵀ @ G` of shape `(k, n) @ (n, m) = (k, m)`.
#
# If you forget which side the transpose goes on, check the shapes: only one arrangement fits. For batched
# inputs `(*batch, n, k) @ (*batch, k, m)` transpose only the **last two** dims: `t.transpose(-2, -1)`, not
# `t.T`, which reverses every dim. In `forward`, `a @ b` runs the backend's matmul kernel.

# %% [solution] id=matmul_function
class MatMul(mt.Function):
    """out = a @ b for a of shape (*batch, n, k) and b of shape (*batch, k, m) (equal batch shapes)."""

    @staticmethod
    def forward(ctx, a, b):
        ### BEGIN SOLUTION
        ctx.save_for_backward(a, b)
        return a @ b
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad):
        ### BEGIN SOLUTION
        a, b = ctx.saved_tensors
        return grad @ b.transpose(-2, -1), a.transpose(-2, -1) @ grad
        ### END SOLUTION


# %% [tests] id=matmul_function_tests points=3
with testing.part("matmul_function"), sealed_function("matmul_function", package_functions.MatMul):
    own(MatMul, "matmul_function")
    rng = np.random.default_rng(9)
    A, B, G = rng.standard_normal((2, 3)), rng.standard_normal((3, 4)), rng.standard_normal((2, 4))
    a = mt.tensor(A, dtype="float64", requires_grad=True)
    b = mt.tensor(B, dtype="float64", requires_grad=True)
    with explained("MatMul.apply(a of shape (2, 3), b of shape (3, 4))", "forward returns a @ b"):
        out = MatMul.apply(a, b)
    testing.assert_close(out, A @ B, call="MatMul.apply(a of shape (2, 3), b of shape (3, 4))")
    with explained("MatMul.apply(a (2, 3), b (3, 4)).backward(grad of shape (2, 4))",
                   "check the shapes: grad (2, 4) @ b.T (4, 3) gives a's (2, 3); "
                   "a.T (3, 2) @ grad (2, 4) gives b's (3, 4)"):
        out.backward(mt.tensor(G, dtype="float64"))
    testing.assert_close(a.grad, G @ B.T, call="MatMul.apply(a (2, 3), b (3, 4)).backward(grad (2, 4)) -> a.grad",
                         hints=["d loss/d a = grad @ b.T: shape (2, 4) @ (4, 3) = (2, 3)"])
    testing.assert_close(b.grad, A.T @ G, call="MatMul.apply(a (2, 3), b (3, 4)).backward(grad (2, 4)) -> b.grad",
                         hints=["d loss/d b = a.T @ grad: shape (3, 2) @ (2, 4) = (3, 4)"])
### BEGIN HIDDEN TESTS
with testing.part("matmul_function", hidden=True), sealed_function("matmul_function", package_functions.MatMul):
    rng = np.random.default_rng(10)
    # batched: only the last two dims are transposed
    A, B, G = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 4, 5)), rng.standard_normal((2, 3, 5))

    def leaf(values):
        return mt.tensor(values, dtype="float64", requires_grad=True)

    a, b = leaf(A), leaf(B)
    with testing.calling("MatMul.apply(a (2, 3, 4), b (2, 4, 5))"):
        batched = MatMul.apply(a, b)
    testing.assert_close(batched, A @ B, call="MatMul.apply(a (2, 3, 4), b (2, 4, 5))")
    with testing.calling("MatMul.apply(a (2, 3, 4), b (2, 4, 5)).backward(grad of shape (2, 3, 5))"):
        batched.backward(mt.tensor(G, dtype="float64"))
    testing.assert_close(a.grad, G @ B.transpose(0, 2, 1), call="MatMul batched -> a.grad")
    testing.assert_close(b.grad, A.transpose(0, 2, 1) @ G, call="MatMul batched -> b.grad")
    # square matrices (where a misplaced transpose still has the right shape) and a grad check
    A, B, G = rng.standard_normal((3, 3)), rng.standard_normal((3, 3)), rng.standard_normal((3, 3))
    a, b = leaf(A), leaf(B)
    with testing.calling("MatMul.apply(a (3, 3), b (3, 3)).backward(grad of shape (3, 3))"):
        MatMul.apply(a, b).backward(mt.tensor(G, dtype="float64"))
    testing.assert_close(a.grad, G @ B.T, call="MatMul square -> a.grad")
    testing.assert_close(b.grad, A.T @ G, call="MatMul square -> b.grad")
    with testing.calling("grad_check(MatMul.apply, (4, 2), (2, 3))"):
        agrees = mt.grad_check(MatMul.apply, mt.randn(4, 2), mt.randn(2, 3))
    testing.assert_true(agrees, call="grad_check(MatMul.apply, (4, 2), (2, 3))", got="failed", expected="passes",
                        hint="backward disagrees with finite differences: a.grad = grad @ b.T, b.grad = a.T @ grad")
### END HIDDEN TESTS

# %% [markdown]
# ## 10 · Your backend trains a network
#
# Now the pieces come together. `mt.Backend("mine", map=..., zip=..., reduce=..., matmul=...)` turns your
# kernels into a backend, and `mt.register_backend` makes it reachable by name. Every tensor created with
# `device="mine"` then runs every op on your kernels: `+`, `exp`, `sum`, `softmax`, cross-entropy, and all
# of their backwards. PyTorch's equivalent is a dispatch key (a "PrivateUse1" device); TensorFlow's is a
# pluggable device.
#
# `chapter.fallback` uses your function when it works. For a part you have not written yet, it says so and
# uses the package's reference implementation instead: the Python kernels of `minitorch_edu/backends/python.py`
# and the `MatMul` of `minitorch_edu/core/functions.py`. So this part runs either way, and the cell prints
# which code each piece of the backend runs.

# %%
def probe_map(f):
    f(scalar.neg)(np.zeros(2), (1,), np.ones(2), (1,), (2,))


def probe_zip(f):
    f(scalar.add)(np.zeros(2), (1,), np.ones(2), (1,), np.ones(1), (0,), (2,))


def probe_reduce(f):
    f(scalar.add)(np.zeros(1), (1,), np.ones(2), (1,), (2,), 0)


def probe_matmul(f):
    f(np.zeros(1), (1, 1), np.ones(2), (2, 1), np.ones(2), (1, 1), (1, 1), 2)


def probe_function(cls):
    cls.apply(mt.ones(2, 2, requires_grad=True), mt.ones(2, 2, requires_grad=True)).sum().backward()


my_map = chapter.fallback("tensor_map", tensor_map, probe_map)
my_zip = chapter.fallback("tensor_zip", tensor_zip, probe_zip)
my_reduce = chapter.fallback("tensor_reduce", tensor_reduce, probe_reduce)
my_matmul = chapter.fallback("tensor_matmul", tensor_matmul, probe_matmul)
MyMatMul = chapter.fallback("MatMul", MatMul, probe_function)

mine = mt.register_backend(mt.Backend("mine", map=my_map, zip=my_zip, reduce=my_reduce, matmul=my_matmul))
print(mine, "runs:")
for chosen in (my_map, my_zip, my_reduce, my_matmul, MyMatMul):
    print(f"  {chosen.__module__}.{chosen.__qualname__}")

# %% [markdown]
# First a sanity check: the same expression on your backend and on the package's numba backend, forward and
# backward.

# %%
rng = np.random.default_rng(0)
arrays = [rng.standard_normal((3, 4)), rng.standard_normal((4, 2)), rng.standard_normal(2)]


def expression(x, w, b):
    return ((MyMatMul.apply(x, w) + b).tanh().softmax(-1) * x.sum(1, keepdim=True)).max(0).values.sum()


results = {}
for device in ("mine", "numba"):
    xs = [mt.tensor(a, dtype="float64", device=device, requires_grad=True) for a in arrays]
    value = expression(*xs)
    value.backward()
    results[device] = [value.item()] + [t.grad.numpy() for t in xs]
    print(f"{device:>6}: value {value.item():.6f}, device of x.grad: {xs[0].grad.backend.name}")
print("same forward and gradients:", all(np.allclose(m, n) for m, n in zip(results["mine"], results["numba"])))

# %% [markdown]
# Now a two-layer network on a 2-D toy set: points inside or outside a circle, which no straight line can
# separate. Every forward and backward op below runs on your kernels, and both layers use your `MatMul`
# Function. The Python kernels are slow, so the set is small (80 points) and the run takes several seconds.
# The Adam optimizer comes from the package (chapter 07 builds it).

# %%
X, y = mt.data.toy.circle(80, seed=0)
mt.manual_seed(0)
H = 8
x_t, y_t = mt.tensor(X - 0.5, device="mine"), mt.tensor(y, device="mine")
W1 = mt.tensor(rng.normal(0.0, 1.5, (2, H)), dtype="float32", device="mine", requires_grad=True)
b1 = mt.zeros(H, device="mine", requires_grad=True)
W2 = mt.tensor(rng.normal(0.0, 1.0 / math.sqrt(H), (H, 2)), dtype="float32", device="mine", requires_grad=True)
b2 = mt.zeros(2, device="mine", requires_grad=True)
params = [W1, b1, W2, b2]


def model(x):
    hidden = (MyMatMul.apply(x, W1) + b1).tanh()
    return MyMatMul.apply(hidden, W2) + b2


optimizer = mt.optim.Adam(params, lr=0.1)
losses, accuracies, snapshots = [], [], []
start = time.perf_counter()
for step in range(100):
    logits = model(x_t)
    loss = mt.nn.functional.cross_entropy(logits, y_t)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    losses.append(loss.item())
    accuracies.append(float((logits.argmax(-1).numpy() == y).mean()))
    if step % 10 == 9:
        snapshots.append([p.detach().numpy().copy() for p in params])
print(f"100 steps on backend {W1.backend.name!r} in {time.perf_counter() - start:.1f} s; "
      f"final loss {losses[-1]:.3f}, training accuracy {accuracies[-1]:.0%}")

# %% [markdown]
# The training curve, and the decision boundary the network learned. The background is the predicted
# probability of class 1, computed with your backend on a grid of points.

# %%
grid = np.linspace(-0.1, 1.1, 30)
gx, gy = np.meshgrid(grid, grid)
points = np.stack([gx.ravel(), gy.ravel()], 1).astype(np.float32)
with mt.no_grad():
    probs = model(mt.tensor(points - 0.5, device="mine")).softmax(-1).numpy()[:, 1].reshape(gx.shape)

fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
left.plot(losses, label="loss")
left.plot(accuracies, label="accuracy")
left.set_xlabel("step")
left.set_title("training on your backend", fontsize=10)
left.legend()
right.contourf(gx, gy, probs, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.45)
right.scatter(X[:, 0], X[:, 1], c=y, cmap="RdBu_r", edgecolors="k", s=30)
right.set_title(f"decision boundary (accuracy {accuracies[-1]:.0%})", fontsize=10)
right.set_aspect("equal")
fig.tight_layout()
plt.show()

# %% [markdown]
# Drag the slider to see the boundary form during training. The redraw computes the network with NumPy from
# the saved weights, so it is instant.

# %%
def draw_boundary(step=100):
    w1, c1, w2, c2 = snapshots[max(step // 10 - 1, 0)]
    p = np.exp(np.tanh((points - 0.5) @ w1 + c1) @ w2 + c2)
    p = (p[:, 1] / p.sum(1)).reshape(gx.shape)
    fig, ax = plt.subplots(figsize=(4, 3.8))
    ax.contourf(gx, gy, p, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.45)
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap="RdBu_r", edgecolors="k", s=30)
    ax.set_title(f"after {max(step // 10, 1) * 10} steps: loss {losses[max(step // 10, 1) * 10 - 1]:.3f}", fontsize=10)
    ax.set_aspect("equal")
    plt.show()


interact(draw_boundary, step=("int", 100, 10, 100, 10))

# %% [markdown]
# ## Gradients of gradients
#
# A backward rule written in tensor operations, as yours are and as the package's are (`grad * (1 - t * t)` for
# tanh), is itself a computation that autograd can record. Ask for that with `create_graph=True` and the gradient
# can be differentiated again: PyTorch's `torch.autograd.grad(..., create_graph=True)`, JAX's `jax.grad(jax.grad(f))`.
# Newton's method, Hessian-vector products and the gradient penalty of WGAN-GP are built this way.

# %%
x = mt.tensor(np.linspace(-3, 3, 121), dtype="float64", device="python", requires_grad=True)
y = x.tanh()
(dy,) = mt.autograd.grad(y.sum(), x, create_graph=True)  # d tanh / dx, itself recorded
(d2y,) = mt.autograd.grad(dy.sum(), x)  # ... and differentiated again
fig, ax = plt.subplots(figsize=(5, 3))
for values, label in ((y, "tanh(x)"), (dy, "1 - tanh²(x)"), (d2y, "-2 tanh(x) (1 - tanh²(x))")):
    ax.plot(x.detach().numpy(), values.detach().numpy(), label=label)
ax.set_xlabel("x")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# ## What you built, and what frameworks call it
#
# - `tensor_map`, `tensor_zip`, `tensor_reduce`, `tensor_matmul`: an operator library over strided storage.
#   Broadcasting cost nothing (stride 0) and views never copied. That is why PyTorch's `expand` and
#   `transpose` are free and `contiguous()` is not.
# - `Function`s with forward and backward: `torch.autograd.Function`, `tf.custom_gradient`, `jax.custom_vjp`.
#   The package defines every op this way, in `minitorch_edu/core/functions.py`. Compare your `Mul` and
#   `MatMul` with its versions: their backward rules are tensor math, as yours are, so PyTorch's
#   `backward(create_graph=True)` works there too (the backward pass is recorded and can be differentiated
#   again: `mt.autograd.grad(loss, x, create_graph=True)` is the start of a Hessian-vector product).
#   There each op is written once: `@elementwise("mul", operator="mul")` above `class Mul` is what makes
#   `mt.mul`, `x.mul(y)` and `x * y` (see `minitorch_edu/core/public.py`; PyTorch generates the same
#   three from one entry of its `native_functions.yaml`).
# - Your `unbroadcast` lives in `minitorch_edu/core/autograd.py`: the package's engine applies it once, to
#   the gradients of every op that says it broadcasts (`broadcasts = True`), as PyTorch's engine does with
#   `sum_to`. Your own `Function`s are held to the strict contract: a gradient of the wrong shape is an error.
# - A backend: the dispatch layer that lets one `Tensor` class run on different hardware.
#
# Your kernels are correct and slow: every element costs several Python function calls. Chapter 04
# compiles the same loops with numba, adds fast paths for contiguous data and races them against NumPy.
