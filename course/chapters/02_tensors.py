# %% [markdown]
# # 02 · Tensors: storage, shape and strides
#
# In chapter 01 every number was its own Python object with its own gradient. That is lovely for
# learning and hopeless for speed: a 1000 × 1000 matrix would be a million objects scattered
# around memory. Every real framework — PyTorch's `torch.Tensor`, TensorFlow's `tf.Tensor`,
# JAX's arrays, NumPy's `ndarray` — stores a tensor the same way instead:
#
# - a **storage**: one flat, 1-D block of numbers in memory;
# - a **shape**: how many indices each dimension has, e.g. `(2, 3)`;
# - **strides**: how many storage cells you jump when one index moves by one.
#
# With those three, transposing, permuting, reshaping and broadcasting become *free*: they write
# a new shape and new strides and keep the very same storage. No numbers are copied. In this
# chapter you write the little functions that make that work, check them against NumPy, and then
# watch them drive the package's own tensors.

# %% [setup]
import itertools
import random

import matplotlib.pyplot as plt
import numpy as np

import minitorch_edu as mt
from minitorch_edu import testing
from minitorch_edu.backends import python as py_backend
from minitorch_edu.course import Chapter, interact
from minitorch_edu.course_figures import broadcast_figure, memory_figure  # the pictures, drawn with NumPy

chapter = Chapter(
    "02_tensors",
    references={
        "index_to_position": ["minitorch_edu.backends.shape.index_to_position"],
        "to_index": ["minitorch_edu.backends.shape.to_index"],
        "contiguous_strides": ["minitorch_edu.backends.shape.contiguous_strides"],
        "is_contiguous": ["minitorch_edu.backends.shape.is_contiguous"],
        "view": ["minitorch_edu.backends.shape.view_strides", "minitorch_edu.backends.shape.infer_shape"],
        "broadcast_shape": ["minitorch_edu.backends.shape.broadcast_shapes"],
        "broadcast_index": ["minitorch_edu.backends.shape.expand_strides"],
    },
)


def np_strides(array):
    """NumPy's strides in elements (NumPy counts bytes)."""
    return tuple(s // array.itemsize for s in array.strides)


class _Shown:
    """A value shown as Python writes it (not as an array) in a failure message."""

    def __init__(self, text):
        self.text = text

    def __repr__(self):
        return self.text


def _plain(value):
    """Tuples of ints and bools, whatever sequence or NumPy scalar types the learner returned."""
    if isinstance(value, (list, tuple)):
        return tuple(_plain(v) for v in value)
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    return value


def check(fn, args, expected, *, call, hints=(), error_hint="it should return a value for this input, not raise"):
    """fn(*args) must equal `expected`; a failure (or an unexpected error) says what came back and why."""
    expected = _plain(expected)
    hints = [hints] if isinstance(hints, str) else hints
    try:
        got = _plain(fn(*args))
    except (NotImplementedError, AssertionError):
        raise
    except Exception as err:  # a crash on a valid input is a wrong answer, said plainly
        testing.assert_true(
            False,
            call=call,
            got=_Shown(f"an error: {type(err).__name__}: {err}"),
            expected=_Shown(repr(expected)),
            hint=error_hint,
        )
    if got != expected:
        hint = None
        for h in hints:
            if isinstance(h, str):
                hint = hint or h
                continue
            try:
                if h[0](got, expected):
                    hint = h[1]
                    break
            except Exception:  # a hint must never hide the real failure
                continue
        testing.assert_true(False, call=call, got=_Shown(repr(got)), expected=_Shown(repr(expected)), hint=hint)


def random_shape(rng, ndim, low=1, high=5):
    return tuple(rng.randint(low, high) for _ in range(ndim))


def show_widget(draw, **controls):
    """Controls that redraw the picture in a live notebook; headless (graded), the default picture."""

    def redraw(**kw):
        draw(**kw)
        plt.show()

    interact(redraw, **controls)


# %% [markdown]
# ## 1 · From an index to a position in memory
#
# Take a 2 × 3 matrix stored row after row (*row-major*, also called C order, what NumPy and
# PyTorch use by default). Its six numbers sit in storage cells 0..5. Moving one row down jumps
# 3 cells, moving one column right jumps 1 cell: the strides are `(3, 1)`. The picture shows which
# memory cell each element uses.

# %%
x = np.arange(6.0).reshape(2, 3)
print("shape", x.shape, "strides in bytes", x.strides, "in elements", np_strides(x))
memory_figure([("x", (2, 3), (3, 1))])
plt.show()

# %% [markdown]
# So element `x[i, j]` lives at position `i * 3 + j * 1`. In general the position of an index is
# the dot product of the index with the strides:
#
# $$\text{position}(i_0, i_1, \dots) = \sum_d i_d \cdot \text{stride}_d$$
#
# Write it. (PyTorch shows strides with `x.stride()`, NumPy with `x.strides` — in *bytes*, so
# divide by `x.itemsize`; TensorFlow hides them, but its tensors are laid out the same way.)


# %% [solution] id=index_to_position
def index_to_position(index, strides):
    """The storage position of `index` for a tensor with these `strides`.

    index_to_position((1, 2), (3, 1)) == 5     # row 1, column 2 of a 2 x 3 matrix
    """
    ### BEGIN SOLUTION
    position = 0
    for i, s in zip(index, strides):
        position += i * s
    return position
    ### END SOLUTION


# %% [tests] id=index_to_position_tests points=3
with testing.part("index_to_position"), testing.calling():
    check(
        index_to_position,
        ((1, 2), (3, 1)),
        5,
        call="index_to_position((1, 2), strides=(3, 1))",
        hints=[
            (
                lambda got, exp: got == 1 * 1 + 2 * 3,
                "you paired each index with the other dimension's stride (strides reversed?)",
            ),
            (
                lambda got, exp: got == 3,
                "multiply each index by its stride and add: position = sum(index[d] * strides[d])",
            ),
        ],
    )
    check(index_to_position, ((0, 0), (3, 1)), 0, call="index_to_position((0, 0), strides=(3, 1))",
          hints=["index (0, 0) is the first element, at position 0: multiply each index by its stride, then add"])
    check(
        index_to_position,
        ((2, 1), (1, 3)),
        5,
        call="index_to_position((2, 1), strides=(1, 3))  # a transposed view",
        hints=[
            (lambda got, exp: got == 7, "you used the strides in the wrong order"),
            (lambda got, exp: got == 3, "use the strides you are given: a transposed view's last stride is not 1"),
        ],
    )
    check(index_to_position, ((1, 0, 3), (20, 5, 1)), 23, call="index_to_position((1, 0, 3), strides=(20, 5, 1))")
### BEGIN HIDDEN TESTS
with testing.part("index_to_position", hidden=True), testing.calling():
    rng = random.Random(2)
    check(index_to_position, ((), ()), 0, call="index_to_position((), ())  # a 0-d tensor")
    check(index_to_position, ((4,), (0,)), 0, call="index_to_position((4,), strides=(0,))  # a broadcast dim")
    for _ in range(30):
        shape = random_shape(rng, rng.randint(1, 4))
        base = np.arange(int(np.prod(shape)) * 2, dtype=np.float64)
        order = list(range(len(shape)))
        rng.shuffle(order)
        a = base[::2].reshape(shape).transpose(order)
        index = tuple(rng.randrange(s) for s in a.shape)
        where = f"index_to_position({index}, strides={np_strides(a)})"
        check(index_to_position, (index, np_strides(a)), int(a[index]), call=where)
### END HIDDEN TESTS

# %% [markdown]
# ## 2 · Counting through a shape: position → index
#
# Kernels loop over *all* elements of a tensor with one plain counter `ordinal = 0, 1, 2, ...`
# and need the index each count stands for. In row-major order the last dimension moves fastest,
# exactly like the digits of an odometer: for shape `(2, 3)` the counts 0..5 are the indices
# `(0,0) (0,1) (0,2) (1,0) (1,1) (1,2)`. Peel the digits off from the right with `divmod`.
# (NumPy calls this `np.unravel_index`.)


# %% [solution] id=to_index
def to_index(ordinal, shape):
    """The `ordinal`-th index (counting row-major, last dimension fastest) of a tensor of `shape`, as a list.

    to_index(4, (2, 3)) == [1, 1]
    """
    ### BEGIN SOLUTION
    index = [0] * len(shape)
    for d in range(len(shape) - 1, -1, -1):
        ordinal, index[d] = divmod(ordinal, shape[d])
    return index
    ### END SOLUTION


# %% [tests] id=to_index_tests points=4
COLUMN_MAJOR = "you counted column-major (first dimension fastest); row-major moves the LAST dimension fastest"
with testing.part("to_index"), testing.calling():
    check(
        to_index,
        (4, (2, 3)),
        (1, 1),
        call="to_index(4, shape=(2, 3))",
        hints=[
            (lambda got, exp: got == (2, 0) or got == (0, 2), COLUMN_MAJOR),
            (lambda got, exp: got == (1, 2), "off by one: count from 0 (ordinal 0 is index (0, 0))"),
            (lambda got, exp: any(i >= s for i, s in zip(got, (2, 3))), "an index past its dim's size: take each "
             "digit modulo its size (ordinal, index[d] = divmod(ordinal, shape[d]))"),
            "peel the digits off from the right: ordinal, index[d] = divmod(ordinal, shape[d]), last dim first",
        ],
    )
    check(
        to_index,
        (0, (2, 3)),
        (0, 0),
        call="to_index(0, shape=(2, 3))",
        hints=[(lambda got, exp: got == (0, 1), "off by one: count from 0 (ordinal 0 is index (0, 0))")],
    )
    check(
        to_index,
        (2, (2, 3)),
        (0, 2),
        call="to_index(2, shape=(2, 3))",
        hints=[
            (lambda got, exp: got == (1, 0), "off by one: the last index of a row is shape[-1] - 1, not shape[-1]"),
            (lambda got, exp: got == (0, 1), COLUMN_MAJOR),
        ],
    )
    check(to_index, (5, (2, 3)), (1, 2), call="to_index(5, shape=(2, 3))")
    check(
        to_index,
        (17, (2, 3, 4)),
        (1, 1, 1),
        call="to_index(17, shape=(2, 3, 4))",
        hints=[
            "peel the digits off from the right: ordinal, index[d] = divmod(ordinal, shape[d]) for d = last ... first"
        ],
    )
    check(to_index, (3, (5,)), (3,), call="to_index(3, shape=(5,))")
### BEGIN HIDDEN TESTS
with testing.part("to_index", hidden=True), testing.calling():
    rng = random.Random(3)
    check(to_index, (0, ()), (), call="to_index(0, shape=())")
    for _ in range(20):
        shape = random_shape(rng, rng.randint(1, 5))
        for ordinal in {0, int(np.prod(shape)) - 1, rng.randrange(int(np.prod(shape)))}:
            expected = tuple(int(i) for i in np.unravel_index(ordinal, shape))
            check(to_index, (ordinal, shape), expected, call=f"to_index({ordinal}, shape={shape})")
### END HIDDEN TESTS

# %% [markdown]
# The two functions are inverses on a row-major tensor: counting through the shape visits
# storage cells 0, 1, 2, ... in order. Try it — and see that with the strides of a *transposed*
# view the same count jumps around memory.

# %%
for ordinal in range(6):
    idx = to_index(ordinal, (2, 3))
    print(
        ordinal,
        "->",
        idx,
        "-> row-major position",
        index_to_position(idx, (3, 1)),
        "| transposed-strides position",
        index_to_position(idx, (1, 2)),
    )

# %% [markdown]
# ## 3 · The strides of a fresh tensor
#
# A tensor you create (`np.zeros`, `torch.zeros`, `mt.zeros`) is **contiguous**: its elements
# lie in storage in row-major order with no gaps. Its strides follow from the shape alone: the
# last dimension has stride 1, and each earlier one jumps over a whole block of the later ones:
#
# `shape (2, 3, 4)  →  strides (3·4, 4, 1) = (12, 4, 1)`
#
# NumPy also offers Fortran (column-major) order, `np.zeros(shape, order="F")`, whose first
# dimension has stride 1: that is what you get if you build the strides from the wrong end.


# %% [solution] id=contiguous_strides
def contiguous_strides(shape):
    """Row-major strides (in elements) of a contiguous tensor of `shape`, as a tuple.

    contiguous_strides((2, 3, 4)) == (12, 4, 1)
    """
    ### BEGIN SOLUTION
    strides = []
    step = 1
    for size in reversed(shape):
        strides.append(step)
        step *= size
    return tuple(reversed(strides))
    ### END SOLUTION


# %% [tests] id=contiguous_strides_tests points=3
with testing.part("contiguous_strides"), testing.calling():
    check(
        contiguous_strides,
        ((2, 3, 4),),
        (12, 4, 1),
        call="contiguous_strides((2, 3, 4))",
        hints=[
            (lambda got, exp: got == (1, 4, 12), "you returned the strides in reverse order"),
            (
                lambda got, exp: got == (1, 2, 6),
                "these are column-major (Fortran-order) strides: the LAST dimension should have stride 1",
            ),
            (
                lambda got, exp: got in ((24, 12, 4), (4, 1, 1)),
                "off by one: stride d is the product of the sizes AFTER d, not from d on",
            ),
        ],
    )
    check(
        contiguous_strides,
        ((2, 3),),
        (3, 1),
        call="contiguous_strides((2, 3))",
        hints=[(lambda got, exp: got == (1, 2), "these are column-major (Fortran-order) strides")],
    )
    check(contiguous_strides, ((5,),), (1,), call="contiguous_strides((5,))")
### BEGIN HIDDEN TESTS
with testing.part("contiguous_strides", hidden=True), testing.calling():
    rng = random.Random(4)
    check(contiguous_strides, ((),), (), call="contiguous_strides(())")
    check(contiguous_strides, ((3, 1, 2),), (2, 2, 1), call="contiguous_strides((3, 1, 2))")
    for _ in range(20):
        shape = random_shape(rng, rng.randint(1, 5), 1, 6)
        check(contiguous_strides, (shape,), np_strides(np.zeros(shape)), call=f"contiguous_strides({shape})")
### END HIDDEN TESTS

# %% [markdown]
# ## 4 · Is it contiguous?
#
# Views make tensors whose strides are *not* the row-major ones: a transpose, a slice with a
# step, a broadcast. Many kernels have a fast path for contiguous data (one flat loop), and
# `view` (section 6) only works on contiguous tensors, so every framework asks the question:
# PyTorch's `x.is_contiguous()`, NumPy's `x.flags.c_contiguous`.
#
# One subtlety, which NumPy and PyTorch agree on: a dimension of size 1 has only one index, so its
# stride is never used — it may be anything, and the tensor can still be contiguous.


# %% [solution] id=is_contiguous
def is_contiguous(shape, strides):
    """True when (shape, strides) is row-major without gaps; dims of size 1 may have any stride.

    is_contiguous((2, 3), (3, 1)) is True;  is_contiguous((3, 2), (1, 3)) is False  # a transpose
    """
    ### BEGIN SOLUTION
    step = 1
    for size, stride in zip(reversed(shape), reversed(strides)):
        if size != 1 and stride != step:
            return False
        step *= size
    return True
    ### END SOLUTION


# %% [tests] id=is_contiguous_tests points=3
def _contiguity_hints(shape, strides):
    """The likely mistake for is_contiguous(shape, strides), read off the layout (not off your code)."""
    row_major = np_strides(np.zeros(shape)) if shape else ()  # NumPy's, not yours
    wide = [d for d, size in enumerate(shape) if size != 1]
    same = tuple(strides) == tuple(row_major)
    only_size_one_differs = not same and all(strides[d] == row_major[d] for d in wide)
    decreasing = all(strides[d] >= strides[d + 1] for d in range(len(strides) - 1))
    return [
        (lambda g, e: e and not g and not shape, "a 0-d tensor (no dims) is contiguous: there is nothing to skip"),
        (lambda g, e: e and not g and same, "these are exactly the row-major strides (the last is 1, each one before "
         "it the product of the sizes after it): walk the dims from the last one"),
        (lambda g, e: e and not g and only_size_one_differs,
         "only dims of size 1 differ from the row-major strides, and their stride is never used: still contiguous"),
        (lambda g, e: g and any(strides[d] == 0 for d in wide),
         "a stride of 0 re-reads the same cells (a broadcast): not contiguous"),
        (lambda g, e: g and decreasing, "strides in decreasing order can still leave gaps (a stepped slice): "
         "compare each stride with the row-major one, from the last dim"),
        (lambda g, e: g and strides and strides[-1] == 1, "the last stride being 1 is not enough: the others must "
         "be the products of the sizes after them"),
        (lambda g, e: g, "compare each stride with the row-major one (1, then times each size), from the last dim"),
    ]


def _check_contiguous(shape, strides, expected, call, hints=None):
    """is_contiguous(shape, strides) must be `expected`; `hints`: this check's own likely mistake, said first."""
    own = [(lambda g, e: True, hints)] if hints else []
    check(is_contiguous, (shape, strides), expected, call=call, hints=[*own, *_contiguity_hints(shape, strides)])


with testing.part("is_contiguous"), testing.calling():
    _check_contiguous((2, 3), (3, 1), True, call="is_contiguous((2, 3), strides=(3, 1))")
    _check_contiguous(
        (3, 2),
        (1, 3),
        False,
        call="is_contiguous((3, 2), strides=(1, 3))  # x.T",
        hints="a transpose is not contiguous: its last dimension does not have stride 1",
    )
    _check_contiguous((2, 3, 4), (12, 4, 1), True, call="is_contiguous((2, 3, 4), strides=(12, 4, 1))")
    _check_contiguous(
        (2, 3),
        (6, 2),
        False,
        call="is_contiguous((2, 3), strides=(6, 2))  # x[:, ::2] of a (2, 6)",
        hints="a slice with a step leaves gaps: compare every stride with the row-major one, not only their order",
    )
    _check_contiguous((2, 2), (2, 1), True, call="is_contiguous((2, 2), strides=(2, 1))")
    _check_contiguous(
        (2, 2),
        (1, 2),
        False,
        call="is_contiguous((2, 2), strides=(1, 2))  # column-major",
        hints="column-major (Fortran-order) strides are not row-major contiguous: walk the dims from the last one",
    )
### BEGIN HIDDEN TESTS
with testing.part("is_contiguous", hidden=True), testing.calling():
    rng = random.Random(5)
    _check_contiguous((1, 3), (7, 1), True, call="is_contiguous((1, 3), strides=(7, 1))  # size-1 dim")
    _check_contiguous((3, 1), (1, 1), True, call="is_contiguous((3, 1), strides=(1, 1))")
    _check_contiguous((2, 3), (0, 1), False, call="is_contiguous((2, 3), strides=(0, 1))  # a broadcast")
    _check_contiguous((), (), True, call="is_contiguous((), ())")
    for _ in range(40):
        shape = random_shape(rng, rng.randint(1, 4), 1, 5)
        a = np.zeros(shape)
        kind = rng.choice(["plain", "transpose", "step", "slice_first", "unsqueeze"])
        if kind == "transpose":
            order = list(range(a.ndim))
            rng.shuffle(order)
            a = a.transpose(order)
        elif kind == "step":
            d = rng.randrange(a.ndim)
            a = np.zeros(shape[:d] + (shape[d] * 2,) + shape[d + 1 :])[(slice(None),) * d + (slice(None, None, 2),)]
        elif kind == "slice_first":
            a = np.zeros((shape[0] + 2,) + shape[1:])[1:-1]
        elif kind == "unsqueeze":
            a = a[None, ..., None]
        where = f"is_contiguous({a.shape}, strides={np_strides(a)})"
        _check_contiguous(a.shape, np_strides(a), bool(a.flags.c_contiguous), call=where)
### END HIDDEN TESTS

# %% [markdown]
# ## 5 · Permute and transpose: new strides, same memory
#
# Transposing a matrix does not move a single number. It swaps the shape *and the strides*:
# `x` of shape `(2, 3)` with strides `(3, 1)` becomes `x.T` of shape `(3, 2)` with strides
# `(1, 3)` — the same six storage cells, read in a different order. The colours below are the
# storage cells: the right-hand grid reads memory column by column.

# %%
memory_figure([("x", (2, 3), (3, 1)), ("x.T (no copy)", (3, 2), (1, 3))], storage_size=6)
plt.show()

# %% [markdown]
# `permute(order)` generalises this to any number of dimensions: dimension `k` of the result is
# dimension `order[k]` of the input, so both the shape and the strides are re-ordered by `order`.
# It is PyTorch's `x.permute(2, 0, 1)`, NumPy's `x.transpose(2, 0, 1)`, TensorFlow's
# `tf.transpose(x, perm=[2, 0, 1])` (TensorFlow copies; PyTorch and NumPy do not).


# %% [solution] id=permute
def permute(shape, strides, order):
    """The (shape, strides) of the view that permutes the dims: new dim k is old dim order[k].

    permute((2, 3, 4), (12, 4, 1), (2, 0, 1)) == ((4, 2, 3), (1, 12, 4))
    Raise ValueError if `order` is not a permutation of range(len(shape)).
    """
    ### BEGIN SOLUTION
    if sorted(order) != list(range(len(shape))):
        raise ValueError(f"{tuple(order)} is not a permutation of the {len(shape)} dims of shape {tuple(shape)}")
    return tuple(shape[d] for d in order), tuple(strides[d] for d in order)
    ### END SOLUTION


# %% [tests] id=permute_tests points=3
def _check_permute(shape, order, strides=None):
    strides = strides or np_strides(np.zeros(shape))
    a = np.lib.stride_tricks.as_strided(np.zeros(64), shape, tuple(8 * s for s in strides)).transpose(order)
    inverse = tuple(int(i) for i in np.argsort(order))
    check(
        permute,
        (shape, strides, order),
        (a.shape, np_strides(a)),
        call=f"permute({shape}, strides={strides}, order={order})",
        hints=[
            (
                lambda g, e: g[0] == e[0] and g[1] == np_strides(np.zeros(e[0])),
                "you permuted the shape but gave it fresh strides: a permuted view keeps each dim's OLD stride",
            ),
            (lambda g, e: g[0] == e[0] and g[1] == tuple(strides), "you permuted the shape but not the strides"),
            (
                lambda g, e: g == (tuple(shape[d] for d in inverse), tuple(strides[d] for d in inverse)),
                "you applied the inverse permutation: new dim k is old dim order[k]",
            ),
        ],
    )


with testing.part("permute"), testing.calling():
    _check_permute((2, 3), (1, 0))
    _check_permute((2, 3, 4), (2, 0, 1))  # not its own inverse: (1, 2, 0) undoes it
    _check_permute((2, 3, 4, 5), (1, 3, 0, 2))
    testing.assert_raises(
        ValueError,
        permute,
        (2, 3),
        (3, 1),
        (0, 0),
        call="permute((2, 3), (3, 1), order=(0, 0))",
        hints="check that `order` uses every dim exactly once",
    )
### BEGIN HIDDEN TESTS
with testing.part("permute", hidden=True), testing.calling():
    rng = random.Random(6)
    _check_permute((2, 3, 4), (1, 2, 0))
    _check_permute((2, 3, 4), (0, 2, 1))
    _check_permute((3, 2), (1, 0), strides=(1, 3))  # permuting a view that is already non-contiguous
    for _ in range(20):
        shape = random_shape(rng, rng.randint(1, 5), 1, 4)
        order = list(range(len(shape)))
        rng.shuffle(order)
        _check_permute(shape, tuple(order))
    testing.assert_raises(ValueError, permute, (2, 3, 4), (12, 4, 1), (0, 1), call="permute((2, 3, 4), order=(0, 1))")
    testing.assert_raises(ValueError, permute, (2, 3), (3, 1), (0, 2), call="permute((2, 3), (3, 1), order=(0, 2))",
                          hints="(0, 2) has 2 distinct entries but dim 2 does not exist: check that sorted(order) is "
                          "exactly range(len(shape)), and raise ValueError before indexing with it")
### END HIDDEN TESTS

# %% [markdown]
# Move the sliders: a 3-D tensor of shape `(blocks, rows, cols)` and a permutation of its dims.
# The grids are the permuted view; the strip below is the memory it reads. Whatever the
# permutation, the same 24-or-fewer cells are used — only the order in which you meet them changes.


# %%
def draw_permuted(blocks=2, rows=3, cols=4, order="(0, 1, 2)"):
    shape = (blocks, rows, cols)
    perm = tuple(int(c) for c in order.strip("()").split(","))
    a = np.zeros(shape).transpose(perm)  # NumPy computes the view: the picture never depends on your code
    memory_figure([(f"permute{perm}", a.shape, np_strides(a))], storage_size=int(np.prod(shape)))


orders = [str(p) for p in itertools.permutations(range(3))]
show_widget(
    draw_permuted,
    blocks=("int", 2, 1, 3),
    rows=("int", 2, 1, 4),
    cols=("int", 3, 1, 5),
    order=("choice", "(2, 0, 1)", orders),
)

# %% [markdown]
# ## 6 · view: a new shape over the same memory — and when it is impossible
#
# `x.view(3, 2)` (PyTorch; NumPy's `reshape` when it can avoid a copy) re-reads the same storage
# with another shape. For a contiguous tensor that is easy: the new strides are just the
# contiguous strides of the new shape. One dimension may be given as `-1`: it is whatever makes the
# element count match.
#
# For a non-contiguous tensor such as `x.T` it is in general impossible: the elements of `x.T` in
# row-major order are not at equally spaced positions in memory, so no strides can describe them.
# PyTorch then raises `RuntimeError: view size is not compatible with input tensor's size and
# stride ... Use .reshape(...) instead` — `reshape` copies into a contiguous tensor first.
# (PyTorch's rule is slightly more lenient: it also allows splitting or merging dimensions that
# happen to be contiguous *among themselves*. The package's `view_strides` implements that rule;
# here you write the simple one.)

# %%
memory_figure(
    [("x", (2, 3), (3, 1)), ("x.view(3, 2)", (3, 2), (2, 1)), ("x.T: no view", (3, 2), (1, 3))], storage_size=6
)
plt.show()


# %% [solution] id=view
def view(shape, strides, new_shape):
    """The (shape, strides) of `new_shape` viewed over a tensor's storage, without copying.

    - one entry of new_shape may be -1: replace it by the size that makes the element counts match;
    - raise ValueError when the element counts cannot match;
    - raise RuntimeError when the tensor is not contiguous (a view would need a copy).

    view((2, 3), (3, 1), (3, -1)) == ((3, 2), (2, 1))
    You may use your `is_contiguous` and `contiguous_strides`.
    """
    ### BEGIN SOLUTION
    numel = 1
    for s in shape:
        numel *= s
    new_shape = list(new_shape)
    if new_shape.count(-1) > 1:
        raise ValueError(f"only one dimension can be -1, got {tuple(new_shape)}")
    if -1 in new_shape:
        known = 1
        for s in new_shape:
            if s != -1:
                known *= s
        if known == 0 or numel % known:
            raise ValueError(f"shape {tuple(new_shape)} is invalid for {numel} elements")
        new_shape[new_shape.index(-1)] = numel // known
    count = 1
    for s in new_shape:
        count *= s
    if count != numel:
        raise ValueError(f"shape {tuple(new_shape)} is invalid for {numel} elements")
    if not is_contiguous(shape, strides):
        raise RuntimeError(f"a view of shape {tuple(shape)} with strides {tuple(strides)} needs a copy: use reshape")
    return tuple(new_shape), tuple(contiguous_strides(new_shape))
    ### END SOLUTION


# %% [tests] id=view_tests points=4
def _check_view(shape, new_shape, strides=None):
    strides = strides or np_strides(np.zeros(shape))
    exp = np.zeros(shape).reshape(new_shape)
    check(
        view,
        (shape, strides, new_shape),
        (exp.shape, np_strides(exp)),
        call=f"view({shape}, strides={strides}, new_shape={new_shape})",
        hints=[
            (
                lambda g, e: g[0] == e[0] and g[1] == tuple(strides),
                "you kept the old strides: the view needs the contiguous strides of the NEW shape",
            ),
            (
                lambda g, e: g[0] == tuple(new_shape),
                "resolve the -1 entry to the size that makes the element count match",
            ),
        ],
    )


with testing.part("view"), testing.calling():
    _check_view((2, 3), (3, 2))
    _check_view((2, 3), (6,))
    _check_view((2, 3, 4), (6, 4))
    testing.assert_raises(
        RuntimeError,
        view,
        (3, 2),
        (1, 3),
        (6,),
        call="view((3, 2), strides=(1, 3), new_shape=(6,))  # x.T.view(6)",
        hints="x.T is not contiguous: no strides can describe its elements in row-major order, "
        "so a view must refuse (raise RuntimeError)",
    )
    testing.assert_raises(
        ValueError,
        view,
        (2, 3),
        (3, 1),
        (4,),
        call="view((2, 3), strides=(3, 1), new_shape=(4,))",
        hints="6 elements cannot be viewed as 4: check the element counts",
    )
### BEGIN HIDDEN TESTS
with testing.part("view", hidden=True), testing.calling():
    rng = random.Random(7)
    _check_view((2, 3), (3, -1))
    _check_view((2, 3, 4), (-1,))
    _check_view((2, 3, 4), (4, -1, 2))
    _check_view((6,), (1, 6, 1))
    _check_view((1, 3), (3,), strides=(7, 1))  # size-1 dims may have any stride: still contiguous
    for _ in range(15):
        shape = random_shape(rng, rng.randint(1, 4), 1, 5)
        n = int(np.prod(shape))
        a = rng.choice([d for d in range(1, n + 1) if n % d == 0])
        _check_view(shape, (a, n // a) if rng.random() < 0.5 else (a, -1))
    for _ in range(10):
        shape = random_shape(rng, rng.randint(2, 4), 2, 5)
        order = list(range(len(shape)))
        while order == sorted(order):
            rng.shuffle(order)
        a = np.zeros(shape).transpose(order)
        where = f"view({a.shape}, strides={np_strides(a)}, new_shape=(-1,))"
        testing.assert_raises(RuntimeError, view, a.shape, np_strides(a), (-1,), call=where)
    testing.assert_raises(RuntimeError, view, (2, 3), (6, 2), (6,), call="view((2, 3), strides=(6, 2), new_shape=(6,))")
    testing.assert_raises(ValueError, view, (2, 3), (3, 1), (-1, -1), call="view((2, 3), (3, 1), new_shape=(-1, -1))")
    testing.assert_raises(ValueError, view, (2, 3), (3, 1), (4, -1), call="view((2, 3), (3, 1), new_shape=(4, -1))")
### END HIDDEN TESTS

# %% [markdown]
# ## 7 · Broadcasting: the shape rule
#
# `a + b` with `a` of shape `(3, 1)` and `b` of shape `(4,)` gives a `(3, 4)` result in NumPy,
# PyTorch, TensorFlow and JAX alike. The rule (NumPy's, adopted by all of them):
#
# 1. line the shapes up **from the right** (a missing leading dimension counts as size 1);
# 2. in each position the sizes must be equal, or one of them must be 1;
# 3. the result takes the larger size; a size-1 dimension is *stretched*.
#
# `(3, 1)` and `(4,)` → `(3, 1)` and `(1, 4)` → `(3, 4)`. But `(2, 3)` and `(2,)` cannot
# broadcast: aligned from the right, 3 meets 2. The picture shows the stretching: the faded
# cells are not in memory — they re-read the solid ones.


# %%
broadcast_figure((3, 1), (4,))
plt.show()

# %% [markdown]
# Write the rule for two shapes. Raise a `ValueError` that names both shapes when they cannot
# broadcast (NumPy says `shape mismatch: objects cannot be broadcast to a single shape`,
# PyTorch `The size of tensor a (3) must match the size of tensor b (2) at non-singleton dimension 1`).


# %% [solution] id=broadcast_shape
def broadcast_shape(shape_a, shape_b):
    """The shape of the result of broadcasting shape_a against shape_b, as a tuple.

    broadcast_shape((3, 1), (4,)) == (3, 4);  broadcast_shape((2, 3), (2,)) raises ValueError
    """
    ### BEGIN SOLUTION
    ndim = max(len(shape_a), len(shape_b))
    a = (1,) * (ndim - len(shape_a)) + tuple(shape_a)
    b = (1,) * (ndim - len(shape_b)) + tuple(shape_b)
    out = []
    for x, y in zip(a, b):
        if x != y and x != 1 and y != 1:
            raise ValueError(f"shapes {tuple(shape_a)} and {tuple(shape_b)} cannot be broadcast together ({x} vs {y})")
        out.append(y if x == 1 else x)
    return tuple(out)
    ### END SOLUTION


# %% [tests] id=broadcast_shape_tests points=4
def _check_broadcast(a, b):
    check(
        broadcast_shape,
        (a, b),
        np.broadcast_shapes(a, b),
        call=f"broadcast_shape({a}, {b})",
        hints=[
            (
                lambda g, e: len(g) < len(e),
                "the result has as many dims as the LONGER shape: pad the shorter one with 1s on the left "
                "(zip stops at the shorter one)",
            ),
            (
                lambda g, e: 0 in e and 0 not in g,
                "a size-1 dim stretches to the other size, even to 0: take the size that is not 1, not the max",
            ),
            "line the shapes up from the RIGHT, pad the shorter one with 1s on the left, and stretch size-1 dims",
        ],
        error_hint="these shapes do broadcast: line them up from the RIGHT, "
        "and a size-1 dim stretches to the other size",
    )


with testing.part("broadcast_shape"), testing.calling():
    _check_broadcast((3, 1), (4,))
    _check_broadcast((2, 3), (3,))
    _check_broadcast((2, 3), (2, 3))
    _check_broadcast((1, 3), (2, 1))
    _check_broadcast((5, 1, 4), (3, 1))
    testing.assert_raises(
        ValueError,
        broadcast_shape,
        (2, 3),
        (2,),
        call="broadcast_shape((2, 3), (2,))",
        hints="aligned from the right, 3 meets 2: neither is 1, so this must raise ValueError",
    )
### BEGIN HIDDEN TESTS
with testing.part("broadcast_shape", hidden=True), testing.calling():
    rng = random.Random(8)
    _check_broadcast((), (2, 3))
    _check_broadcast((4,), ())
    _check_broadcast((1,), (1, 1, 1))
    _check_broadcast((3, 1, 1), (1, 4, 1))
    # mixed lengths that aligning from the left gets wrong (a different shape, or an error)
    _check_broadcast((2, 1, 3), (4, 1))
    _check_broadcast((5, 4), (3, 1, 1))
    _check_broadcast((1, 6), (2, 3, 1))
    _check_broadcast((4, 1, 2), (3, 1))
    _check_broadcast((7,), (2, 1, 1, 7))
    # a dim of size 0 broadcast against size 1 stays 0 (the size-1 side stretches to 0)
    _check_broadcast((0, 3), (1, 3))
    _check_broadcast((2, 0), (1,))
    for bad in [((3,), (3, 2)), ((2,), (2, 1, 3)), ((4, 2), (4,))]:
        testing.assert_raises(ValueError, broadcast_shape, *bad, call=f"broadcast_shape{bad}",
                              hints="aligned from the RIGHT the last sizes differ and neither is 1: raise ValueError")
    testing.assert_raises(ValueError, broadcast_shape, (3, 4), (4, 3), call="broadcast_shape((3, 4), (4, 3))")
    testing.assert_raises(ValueError, broadcast_shape, (2, 1, 3), (4, 2), call="broadcast_shape((2, 1, 3), (4, 2))")
    for _ in range(40):
        out = random_shape(rng, rng.randint(0, 4), 1, 5)
        a = tuple(1 if rng.random() < 0.4 else s for s in out[rng.randint(0, len(out)) :])
        b = tuple(1 if rng.random() < 0.4 else s for s in out[rng.randint(0, len(out)) :])
        _check_broadcast(a, b)
        if a and b and a[-1] != 1 and b[-1] != 1:
            bad = b[:-1] + (b[-1] + 1,)
            testing.assert_raises(ValueError, broadcast_shape, a, bad, call=f"broadcast_shape({a}, {bad})")
### END HIDDEN TESTS

# %% [markdown]
# ## 8 · Broadcast index mapping
#
# To compute `out[i, j] = a[?] + b[?]`, a kernel walks the indices of the big output shape and
# needs, for each operand, the index into *its own* smaller shape. Align from the right again:
# the leading dims the operand does not have are dropped, and along a dim where the operand has
# size 1 its index is always 0 (every output index reads that one element).
#
# For `out` of shape `(3, 4)` and `b` of shape `(4,)`: `out[2, 1]` reads `b[1]`.
# For `a` of shape `(3, 1)`: `out[2, 1]` reads `a[2, 0]`.


# %% [solution] id=broadcast_index
def broadcast_index(big_index, big_shape, shape):
    """The index (a list) into a tensor of `shape` that broadcasting reads for `big_index` of `big_shape`.

    broadcast_index((2, 1), (3, 4), (3, 1)) == [2, 0];   broadcast_index((2, 1), (3, 4), (4,)) == [1]
    """
    ### BEGIN SOLUTION
    offset = len(big_shape) - len(shape)
    return [0 if shape[d] == 1 else big_index[d + offset] for d in range(len(shape))]
    ### END SOLUTION


# %% [tests] id=broadcast_index_tests points=4
def _check_broadcast_index(big_index, big_shape, shape):
    small = np.arange(int(np.prod(shape))).reshape(shape)
    value = int(np.broadcast_to(small, big_shape)[tuple(big_index)])
    expected = tuple(int(i) for i in np.unravel_index(value, shape)) if shape else ()
    check(
        broadcast_index,
        (big_index, big_shape, shape),
        expected,
        call=f"broadcast_index({tuple(big_index)}, big_shape={tuple(big_shape)}, shape={tuple(shape)})",
        hints=[
            (
                lambda g, e: len(g) != len(e),
                f"the index into the small tensor has len(shape) = {len(shape)} entries: "
                "drop the leading dims it does not have",
            ),
            (
                lambda g, e: any(s == 1 and i != 0 for i, s in zip(g, shape)),
                "along a dim of size 1 the index is always 0 (that dim is stretched)",
            ),
            "align from the RIGHT (drop the leading dims the small shape lacks) and use index 0 along its size-1 dims",
        ],
    )


with testing.part("broadcast_index"), testing.calling():
    _check_broadcast_index((2, 1), (3, 4), (3, 1))
    _check_broadcast_index((2, 1), (3, 4), (4,))
    _check_broadcast_index((0, 3), (3, 4), (1, 4))
    _check_broadcast_index((1, 2, 3), (2, 3, 4), (3, 1))
### BEGIN HIDDEN TESTS
with testing.part("broadcast_index", hidden=True), testing.calling():
    rng = random.Random(9)
    _check_broadcast_index((1, 2), (2, 3), ())
    _check_broadcast_index((1, 2), (2, 3), (2, 3))
    _check_broadcast_index((0, 1, 0), (2, 3, 4), (1, 1, 1))
    for _ in range(40):
        big = random_shape(rng, rng.randint(1, 4), 1, 5)
        small = tuple(1 if rng.random() < 0.4 else s for s in big[rng.randint(0, len(big)) :])
        index = tuple(rng.randrange(s) for s in big)
        _check_broadcast_index(index, big, small)
### END HIDDEN TESTS

# %% [markdown]
# In stride form, broadcasting is one more view: give the stretched dims **stride 0** (and the
# missing leading dims too), and `index_to_position` with those strides reads exactly the element
# `broadcast_index` picks. That is what `expand` / `torch.broadcast_to` / `np.broadcast_to` do:
# `b` of shape `(4,)` seen as `(3, 4)` has strides `(0, 1)` — three rows over the same 4 cells.

# %%
b_big = np.broadcast_to(np.arange(4.0), (3, 4))
print("np.broadcast_to(arange(4), (3, 4)).strides in elements:", np_strides(b_big))
memory_figure([("b", (4,), (1,)), ("b expanded to (3, 4)", (3, 4), (0, 1))], storage_size=4)
plt.show()

# %% [markdown]
# ## 9 · Your functions inside the package's tensors
#
# `minitorch_edu`'s `Tensor` is built exactly like this: `x._storage` is a flat NumPy array,
# `x.shape` and `x.stride()` are the shape and strides, and `x.T`, `x.permute`, `x.view` and
# `x.expand` return new tensors over the *same storage object*. Now check your functions against
# real tensors. Where one of your parts is not written yet, the package's reference stands in
# for it (and says so), so this section runs anyway; the package has no function shaped like your
# `permute`, `view` or `broadcast_index`, so the comparisons that need those wait until yours work.


# %%
def _mine(part, fn, probe):
    """Your function if it answers a tiny call, else None (for parts the package has no same-shaped reference for)."""
    try:
        probe(fn)
        print(f"using your {part}")
        return fn
    except Exception as err:  # NotImplementedError or a bug: skip the comparisons that need it
        print(f"your {part} is not usable yet ({type(err).__name__}): skipping the checks that need it")
        return None


ix_to_pos = chapter.fallback("index_to_position", index_to_position, lambda f: f((1, 2), (3, 1)))
to_ix = chapter.fallback("to_index", to_index, lambda f: f(4, (2, 3)))
c_strides = chapter.fallback("contiguous_strides", contiguous_strides, lambda f: f((2, 3)))
contig = chapter.fallback("is_contiguous", is_contiguous, lambda f: f((2, 3), (3, 1)))
b_shape = chapter.fallback("broadcast_shape", broadcast_shape, lambda f: f((3, 1), (4,)))
my_permute = _mine("permute", permute, lambda f: f((2, 3), (3, 1), (1, 0)))
my_view = _mine("view", view, lambda f: f((2, 3), (3, 1), (3, 2)))
my_bindex = _mine("broadcast_index", broadcast_index, lambda f: f((2, 1), (3, 4), (4,)))

# %%
x = mt.arange(24.0).reshape(2, 3, 4)
print("x:", x.shape, x.stride(), "| yours:", tuple(c_strides(x.shape)))
print("x.T shares x's storage:", x.T._storage is x._storage)
for name, t in [("x", x), ("x.T", x.T), ("x.permute(2, 0, 1)", x.permute(2, 0, 1)), ("x[:, ::2]", x[:, ::2])]:
    print(
        f"{name:20s} shape {t.shape} strides {t.stride()} contiguous: "
        f"package {t.is_contiguous()}, yours {bool(contig(t.shape, t.stride()))}"
    )
if my_permute:
    print(
        "your permute(x, (2, 0, 1)):",
        my_permute(x.shape, x.stride(), (2, 0, 1)),
        "package:",
        x.permute(2, 0, 1).shape,
        x.permute(2, 0, 1).stride(),
    )
if my_view:
    print(
        "your view(x, (6, -1)):",
        my_view(x.shape, x.stride(), (6, -1)),
        "package:",
        x.view(6, -1).shape,
        x.view(6, -1).stride(),
    )
    for name, call in [
        ("package x.T.view(-1)", lambda: x.T.view(-1)),
        ("your view(x.T, (-1,))", lambda: my_view(x.T.shape, x.T.stride(), (-1,))),
    ]:
        try:
            call()
            print(name, "made a view (it should not)")
        except RuntimeError as err:
            print(name, "refused:", str(err)[:70], "...")
a, b = mt.ones(3, 1), mt.ones(4)
print("(a + b).shape:", (a + b).shape, "| your broadcast_shape:", tuple(b_shape(a.shape, b.shape)))

# %% [markdown]
# The package's `expand` gives broadcast dims stride 0. Reading its storage through your
# `index_to_position` must give exactly what your `broadcast_index` picks from the small tensor:

# %%
small = mt.arange(3.0).reshape(3, 1)
big = small.expand(2, 3, 4)
print("small.expand(2, 3, 4).stride():", big.stride())
agree = True
for ordinal in range(big.numel()):
    idx = to_ix(ordinal, big.shape)
    via_strides = big._storage[ix_to_pos(idx, big.stride())]
    if my_bindex:
        via_index = small._storage[ix_to_pos(my_bindex(idx, big.shape, small.shape), small.stride())]
        agree = agree and via_strides == via_index
print("stride-0 reads agree with your broadcast_index:", agree if my_bindex else "(broadcast_index not written yet)")

# %% [markdown]
# Finally, a tiny **strided map**: the loop every framework kernel is built on (you write the
# real ones in chapter 03). Count through the output, turn the count into an index with
# `to_index`, find where that index lives in the input with `index_to_position` and the input's
# strides, and write to the output's position. Run it on `x.T` and you have rebuilt
# `x.T.contiguous()` — the copy that `reshape` makes when `view` refuses.


# %%
def strided_map(fn, t):
    """fn applied to every element of tensor `t`, written to a fresh contiguous storage (a NumPy array)."""
    out_strides = tuple(c_strides(t.shape))
    out = np.zeros(max(int(np.prod(t.shape)), 1), dtype=t.dtype)
    for ordinal in range(t.numel()):
        idx = to_ix(ordinal, t.shape)
        out[ix_to_pos(idx, out_strides)] = fn(t._storage[ix_to_pos(idx, t.stride())])
    return out.reshape(t.shape)


mine = strided_map(lambda v: v, x.T)
print("your strided copy of x.T equals x.T.contiguous():", np.array_equal(mine, x.T.contiguous().numpy()))
print("and the package's copy is contiguous:", x.T.contiguous().is_contiguous(), x.T.contiguous().stride())

# %% [markdown]
# The same loop, with your index functions, can run the package's tensors: a backend whose
# `map` and `zip` kernels are built from your `to_index` and `index_to_position` (reduce and
# matmul borrowed from the package's readable `python` backend). Every op on a tensor of
# device `"ch02"` — including broadcasting, which the package turns into stride-0 views before
# calling your kernel — now goes through your code.


# %%
def my_map(fn):
    def kernel(out, out_strides, a, a_strides, shape):
        for ordinal in range(int(np.prod(shape))):
            idx = to_ix(ordinal, shape)
            out[ix_to_pos(idx, out_strides)] = fn(a[ix_to_pos(idx, a_strides)])

    return kernel


def my_zip(fn):
    def kernel(out, out_strides, a, a_strides, b, b_strides, shape):
        for ordinal in range(int(np.prod(shape))):
            idx = to_ix(ordinal, shape)
            out[ix_to_pos(idx, out_strides)] = fn(a[ix_to_pos(idx, a_strides)], b[ix_to_pos(idx, b_strides)])

    return kernel


mt.register_backend(
    mt.Backend("ch02", map=my_map, zip=my_zip, reduce=py_backend.tensor_reduce, matmul=py_backend.tensor_matmul)
)
p = mt.tensor(np.arange(6.0).reshape(2, 3), device="ch02")
q = mt.tensor([10.0, 20.0, 30.0], device="ch02")
result = (p.T.contiguous() * 2 + q.view(3, 1)).numpy()
expected = np.arange(6.0).reshape(2, 3).T * 2 + np.array([10.0, 20.0, 30.0]).reshape(3, 1)
print(result)
print("your index functions ran the package's ops correctly:", np.allclose(result, expected))

# %% [markdown]
# ## What you built
#
# - `index_to_position` and `to_index`: the two conversions every kernel uses;
# - `contiguous_strides` and `is_contiguous`: the default layout and the test for it;
# - `permute` and `view`: new shapes and strides over the same storage (and when `view` must refuse);
# - `broadcast_shape` and `broadcast_index`: NumPy's broadcasting rule, as PyTorch, TensorFlow and JAX use it.
#
# The package's versions live in `minitorch_edu/backends/shape.py` (compare `view_strides` with your
# `view`: it allows the more lenient PyTorch rule) and `minitorch_edu/core/views.py`. In chapter 03
# you turn the strided loop above into real `map`, `zip` and `reduce` kernels and give every
# tensor operation a gradient.
