# %% [markdown]
# # 04 · Fast CPU kernels: why frameworks call compiled code
#
# Your chapter-03 kernels were correct, and slow: every element cost several Python function calls.
# A 128×128 matmul took seconds. NumPy does it in well under a millisecond. The difference is not the
# algorithm, it is *who runs the loop*: the Python interpreter, or machine code.
#
# That is why every framework is a thin Python layer over compiled kernels. PyTorch's ATen kernels are C++
# (and CUDA), TensorFlow's `OpKernel`s are C++, JAX hands whole programs to the XLA compiler. In this
# chapter you get the same effect without leaving Python: **numba** compiles a Python function to machine
# code the first time you call it (`@njit`), and `parallel=True` with `prange` spreads a loop over the
# CPU's cores.
#
# You write the same four kernels as in chapter 03, with the same contract, and two tricks that real
# frameworks use: a **fast path** for contiguous data, and a **loop order** for matmul that reads memory in
# order. Then you race them against the package's reference and NumPy, and train a network on them.

# %% [setup]
import inspect
import os
import sys
import time
from contextlib import contextmanager

# at least two threads for numba's parallel loops, even on a one-core machine: the checks for races need two
os.environ.setdefault("NUMBA_NUM_THREADS", str(max(2, os.cpu_count() or 1)))

import matplotlib.pyplot as plt  # noqa: E402
import numba  # noqa: E402
import numpy as np  # noqa: E402
from numba import njit, prange  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

import minitorch_edu as mt
from minitorch_edu import testing
from minitorch_edu.backends import scalar
from minitorch_edu.course import Chapter, ReferenceSealed, interact
from minitorch_edu.races import paired, shared_writes

chapter = Chapter(
    "04_fast_cpu",
    references={
        "tensor_map": ["minitorch_edu.backends.numba.cpu.tensor_map", "minitorch_edu.backends.python.tensor_map"],
        "tensor_zip": ["minitorch_edu.backends.numba.cpu.tensor_zip", "minitorch_edu.backends.python.tensor_zip"],
        "tensor_reduce": [
            "minitorch_edu.backends.numba.cpu.tensor_reduce",
            "minitorch_edu.backends.python.tensor_reduce",
        ],
        "tensor_matmul": [
            "minitorch_edu.backends.numba.matmul.matmul",
            "minitorch_edu.backends.numba.cpu.tensor_matmul",
            "minitorch_edu.backends.python.tensor_matmul",
            # the compiled kernels behind the package's matmul: no seal can swap their code, so the check
            # refuses learner code that holds them (in a default, a closure, a global the tests reach)
            "minitorch_edu.backends.numba.matmul.matmul_blocked",
            "minitorch_edu.backends.numba.matmul.matmul_serial",
        ],
    },
)


@njit
def to_index(ordinal, shape, index):
    """Fill `index` (an int array, one entry per dim) with the index of `ordinal` in row-major `shape`."""
    rest = ordinal  # a copy: the caller's prange index must not be overwritten (the helper is inlined)
    for d in range(len(shape) - 1, -1, -1):
        index[d] = rest % shape[d]
        rest = rest // shape[d]


@njit
def position(index, strides):
    """The storage position of `index`: sum(index[d] * strides[d])."""
    p = 0
    for d in range(len(index)):
        p += index[d] * strides[d]
    return p


@njit
def is_contiguous(strides, shape):
    """True when `strides` are the row-major strides of `shape` (dims of size 1 may have any stride)."""
    expected = 1
    for d in range(len(shape) - 1, -1, -1):
        if shape[d] != 1 and strides[d] != expected:
            return False
        expected *= shape[d]
    return True


_SIGNATURES = {1: numba.float64(numba.float64), 2: numba.float64(numba.float64, numba.float64)}
_compiled = {}


def compiled(fn):
    """`fn` (a scalar function of 1 or 2 floats) compiled on its own into a C function, once per function.

    numba passes it to a kernel as a *first-class function* (a function pointer of a fixed signature), so a
    kernel is compiled once per dtype and serves every scalar function; only the small `fn` is compiled anew.
    Arguments and results are float64: float32 and int64 data are converted on the way in and out.
    """
    if fn not in _compiled:
        arity = len(inspect.signature(fn).parameters)
        _compiled[fn] = numba.cfunc(_SIGNATURES[arity])(fn)
    return _compiled[fn]


def ints(values):
    """A tuple of ints as an int64 array: numba compiles one version for every array, whatever its length."""
    return np.array(values, dtype=np.int64).reshape(-1)


def own(obj, part):
    """Check that `obj` (a kernel) is the learner's code, not one of the package's objects."""
    module = getattr(obj, "__module__", "") or ""
    testing.assert_true(
        not module.startswith("minitorch_edu"), call=f"{part}: where the code comes from",
        got=f"the package's {module}.{getattr(obj, '__qualname__', obj)}", expected="your own code",
        hint=f"the point of `{part}` is to write it yourself, not to hand it to the package",
    )


@contextmanager
def sealed_backends(part):
    """While `part` is checked, kernels reached through `mt.get_backend(...)` refuse calls from notebook code."""
    backends = [mt.get_backend(name) for name in ("python", "numba")]
    saved = [(b, dict(b._factories), b._matmul, dict(b._kernels)) for b in backends]

    def guard(kernel, what):
        def guarded(*args, **kwargs):
            caller = sys._getframe(1).f_globals.get("__name__", "")
            if caller.split(".")[0] == "minitorch_edu":
                return kernel(*args, **kwargs)
            raise ReferenceSealed(f"your code called the package's {what} kernel while `{part}` is checked: "
                                  "write it yourself")
        return guarded

    for b, factories, matmul, _ in saved:
        b._kernels.clear()
        b._factories = {kind: (lambda f, kind=kind, make=make, name=b.name: guard(make(f), f"{name} {kind}"))
                        for kind, make in factories.items()}
        b._matmul = guard(matmul, f"{b.name} matmul")
    try:
        yield
    finally:
        for b, factories, matmul, kernels in saved:
            b._factories, b._matmul = factories, matmul
            b._kernels.clear()
            b._kernels.update(kernels)


def view(storage, shape, strides):
    """The NumPy view that (shape, strides) describe over a 1-D `storage`: what the tests compare with."""
    storage = np.asarray(storage)
    return np.lib.stride_tricks.as_strided(storage, tuple(shape), tuple(s * storage.itemsize for s in strides))


def empty_storage(n):
    """A 1-D output storage filled with NaN, so that an element a kernel forgets to write shows up."""
    return np.full(n, np.nan)


def _filled(kernel, out_strides, *args_and_size):
    """Call kernel(out, out_strides, *args) on a NaN-filled output of `size` (the last argument); the output."""
    *args, size = args_and_size
    out = empty_storage(size)
    kernel(out, out_strides, *args)
    return out


@contextmanager
def explained(call, hint):
    """Turn an error inside a check (numba's typing errors, a position outside a storage) into a message."""
    try:
        yield
    except NotImplementedError:
        raise
    except AssertionError:
        raise
    except Exception as err:  # noqa: BLE001  (numba raises many kinds: say which, briefly)
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise AssertionError(f"{call} failed\n  error:    {type(err).__name__}: {first}\n"
                             f"  likely mistake: {hint}") from None


@contextmanager
def pinned_threads(n):
    """Inside the block numba's parallel loops and NumPy's BLAS each run on `n` threads: a race between
    kernels is fair (the same cores for both) and repeatable (not whatever the machine had free)."""
    saved = numba.get_num_threads()
    numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    try:
        with threadpool_limits(limits=n):
            yield
    finally:
        numba.set_num_threads(saved)


def check_no_shared_state(kernel_factory, fn, run, expected, call, loop):
    """Two checks for a race between the iterations of the prange loop `loop` (its name) of a kernel:

    - numba's analysis of the compiled loop: no array made outside the loop is written inside it;
    - the kernel run with `paired(fn)` as its scalar function on two threads: every iteration of one thread
      is held inside `fn` until an iteration of the other is there too, so anything the iterations share
      is overwritten mid-iteration, every run. `run(kernel)` launches it and returns what it computed."""
    with pinned_threads(2):
        got = run(kernel_factory(paired(fn)))
    compiled_loop = globals().get(loop)
    if isinstance(compiled_loop, numba.core.registry.CPUDispatcher):
        shared = sorted(shared_writes(compiled_loop))
        testing.assert_true(
            not shared, call=f"{call}: what the iterations of {loop}'s prange loop share",
            got=f"{', '.join(shared)}: made before the loop, written inside it by every thread",
            expected="every array an iteration writes made inside the iteration (or the output)",
            hint=f"allocate {shared[0] if shared else 'it'} inside the prange loop: shared by the threads, one "
                 "thread overwrites it between the other's to_index and position (a race)")
    testing.assert_close(got, expected, call=call + ", two threads meeting inside every call of fn", hints=[
        "the iterations of your prange loop share something they write (a race): an index array allocated "
        "before the loop, which the other thread overwrites between to_index and position, or one output "
        "element that iterations of both threads fold into, which loses additions. Allocate the index array "
        "inside the prange loop, and let each iteration own the elements it writes",
    ])


plt.rcParams["figure.dpi"] = 80

# %% [markdown]
# ## 1 · Compiled once, then fast
#
# `@njit` ("no-Python JIT") compiles a function the first time it is called, for the types it was called
# with. The first call is slow (compiling takes a second or so), every later call is machine code. Watch:

# %%
def py_sum(x):
    total = 0.0
    for v in x:
        total += v
    return total


nb_sum = njit(py_sum)
x = np.random.default_rng(0).standard_normal(1_000_000)
for label, f in [("python", py_sum), ("numba, 1st call (compiles)", nb_sum), ("numba, 2nd call", nb_sum)]:
    start = time.perf_counter()
    f(x)
    print(f"{label:28s} {1000 * (time.perf_counter() - start):8.1f} ms")

# %% [markdown]
# Two consequences shape this chapter.
#
# - **Compile once, keep few kernels.** Every distinct function, and every distinct argument type, is
#   compiled separately. Shapes and strides are tuples in the kernel contract, and a tuple of length 2 is a
#   different type from one of length 3. So your kernels turn them into int64 arrays first with `ints(...)`:
#   one compiled version serves every number of dims.
# - **Pass the scalar function in, do not bake it in.** A training step calls about twenty scalar functions
#   (add, mul, exp, tanh, the comparisons of the backwards, ...). A parallel loop compiled for each one
#   costs a second or more each. Instead, `compiled(fn)` (in the setup cell) turns `fn` alone into a small
#   C function, and your loop takes it as an argument `f`: numba compiles the loop once per dtype and calls
#   `f` through a function pointer. That is how C libraries pass callbacks (`qsort`'s comparator), and why
#   one compiled loop serves every op.
# - **`cache=True`** stores the machine code on disk, so the next process loads it in milliseconds instead of
#   compiling again. The package's kernels use it (`minitorch_edu/backends/numba/cpu.py`). It needs a
#   function that lives in a file, so the kernels you define in this notebook compile afresh each session.
#
# Inside a `@njit` function you can call other `@njit` functions. The setup cell gave you three, from
# chapter 02: `to_index(ordinal, shape, index)` fills an index array, `position(index, strides)` turns it
# into a storage position, and `is_contiguous(strides, shape)` says whether strides are plain row-major.
# `prange` is `range` whose iterations numba may run on different cores at once: each iteration must write
# its own elements only.

# %% [markdown]
# ## 2 · `tensor_map` with a fast path
#
# The general loop from chapter 03 computes an index and two positions per element. When `out` and `a`
# are both contiguous with the same strides (the common case: a fresh tensor), position and ordinal are the
# same number, so the loop is just `out[i] = f(a[i])`, which the compiler can vectorise. PyTorch's
# `TensorIterator` does exactly this check ("is it contiguous?") before every elementwise kernel.
#
# Write the njit body: if `out_strides` and `a_strides` are equal *and* contiguous for `shape`, take the flat
# `prange` loop; else the strided loop (one index array per iteration). Your loop is `map_loop`, compiled
# with `@njit(parallel=True)`; `f` is the compiled scalar function, called as `f(x)`. The factory
# `tensor_map(fn)` below it is given: it compiles `fn` with `compiled` and converts the tuples with `ints`.

# %% [solution] id=tensor_map
@njit(parallel=True)
def map_loop(out, out_strides, a, a_strides, shape, f):
    """The loop of tensor_map: out[index] = f(a[index]) for every index of shape (int64 arrays)."""
    n = 1
    for s in shape:
        n *= s
    ### BEGIN SOLUTION
    if is_contiguous(out_strides, shape) and (out_strides == a_strides).all():
        for i in prange(n):
            out[i] = f(a[i])
    else:
        for i in prange(n):
            index = np.empty(len(shape), np.int64)
            to_index(i, shape, index)
            out[position(index, out_strides)] = f(a[position(index, a_strides)])
    ### END SOLUTION


def tensor_map(fn):
    """A compiled map kernel for the scalar function `fn`:  out[index] = fn(a[index]) for every index.

        kernel = tensor_map(scalar.neg)
        kernel(out, out_strides, a, a_strides, shape)   # same contract as chapter 03
    """
    f = compiled(fn)  # fn on its own, as a C function: compiled once, shared by every kernel

    def kernel(out, out_strides, a, a_strides, shape):
        map_loop(out, ints(out_strides), a, ints(a_strides), ints(shape), f)

    return kernel


# %% [tests] id=tensor_map_tests points=5
with testing.part("tensor_map"), sealed_backends("tensor_map"):
    neg = tensor_map(scalar.neg)
    own(neg, "tensor_map")
    a = np.arange(6.0)
    out = empty_storage(6)
    call = "tensor_map(scalar.neg)(out, (3, 1), a=arange(6), (3, 1), shape=(2, 3))"
    with explained(call, "the flat loop: out[i] = f(a[i]) for i in prange(n)"):
        neg(out, (3, 1), a, (3, 1), (2, 3))
    testing.assert_close(out, -a, call=call)
    out = empty_storage(6)
    call = "tensor_map(scalar.neg)(out, (2, 1), a=arange(6), a_strides=(1, 3), shape=(3, 2))  # a transposed"
    with explained(call, "the strided loop: position(index, out_strides) and position(index, a_strides)"):
        neg(out, (2, 1), a, (1, 3), (3, 2))
    testing.assert_close(
        view(out, (3, 2), (2, 1)), -a.reshape(2, 3).T, call=call,
        hints=[(lambda got, exp: np.allclose(got, -a.reshape(3, 2)),
                "you took the flat loop for a transposed input: the fast path needs out_strides == a_strides"),
               (lambda got, exp: np.isnan(got).any(), "some elements were never written: loop over all n")],
    )
### BEGIN HIDDEN TESTS
with testing.part("tensor_map", hidden=True), sealed_backends("tensor_map"):
    rng = np.random.default_rng(3)
    neg = tensor_map(scalar.neg)
    # broadcast input (stride 0): out contiguous, a not
    out = empty_storage(12)
    neg(out, (4, 1), np.arange(4.0), (0, 1), (3, 4))
    testing.assert_close(view(out, (3, 4), (4, 1)), -np.tile(np.arange(4.0), (3, 1)),
                         call="tensor_map(neg) broadcast input, a_strides (0, 1)")
    # non-contiguous output: only the view's positions are written
    a = rng.standard_normal(6)
    out = empty_storage(12)
    neg(out, (1, 4), a, (2, 1), (3, 2))
    testing.assert_close(view(out, (3, 2), (1, 4)), -a.reshape(3, 2), call="tensor_map(neg) into out strides (1, 4)")
    untouched = np.ones(12, bool)
    untouched[[0, 4, 1, 5, 2, 6]] = False
    testing.assert_true(np.isnan(out[untouched]).all(), call="tensor_map(neg) into out strides (1, 4)",
                        got="writes outside the output view", expected="only the view's positions written",
                        hint="write out at position(index, out_strides)")
    # the same non-contiguous strides on both sides (equal, but not contiguous)
    a = rng.standard_normal(12)
    out = empty_storage(12)
    neg(out, (1, 4), a, (1, 4), (3, 2))
    testing.assert_close(view(out, (3, 2), (1, 4)), -view(a, (3, 2), (1, 4)),
                         call="tensor_map(neg) with equal but non-contiguous strides (1, 4)")
    # 3-D permuted, large (many threads), 0-d
    base = rng.standard_normal((20, 30, 40))
    out = empty_storage(base.size)
    neg(out, (600, 30, 1), base.reshape(-1), (1, 1200, 40), (40, 20, 30))
    testing.assert_close(view(out, (40, 20, 30), (600, 30, 1)), -base.transpose(2, 0, 1),
                         call="tensor_map(neg) 3-D permuted (40, 20, 30)")
    big = rng.standard_normal(100_003)
    out = empty_storage(big.size)
    neg(out, (1,), big, (1,), (big.size,))
    testing.assert_close(out, -big, call="tensor_map(neg) on 100003 contiguous elements")
    out = empty_storage(1)
    neg(out, (), np.array([2.5]), (), ())
    testing.assert_close(out, [-2.5], call="tensor_map(neg) on a 0-d tensor, shape ()")
    # a race: an index array shared by the iterations of the strided loop
    A = np.arange(64.0)
    check_no_shared_state(tensor_map, lambda x: -x, lambda k: view(_filled(k, (8, 1), A, (1, 8), (8, 8), 64), (8, 8),
                                                                   (8, 1)),
                          -A.reshape(8, 8).T, call="tensor_map(neg) of a transposed (8, 8)", loop="map_loop")
### END HIDDEN TESTS

# %% [markdown]
# ## 3 · `tensor_zip`
#
# Zip takes two inputs. The fast path now needs *all three* strides equal and contiguous. The trap is
# broadcasting: `a + column` has `b_strides` like `(1, 0)`. Its `out` is contiguous, but `b` is not read in
# storage order, so only the strided loop is right.

# %% [solution] id=tensor_zip
@njit(parallel=True)
def zip_loop(out, out_strides, a, a_strides, b, b_strides, shape, f):
    """The loop of tensor_zip: out[index] = f(a[index], b[index])."""
    n = 1
    for s in shape:
        n *= s
    ### BEGIN SOLUTION
    if is_contiguous(out_strides, shape) and (out_strides == a_strides).all() and (out_strides == b_strides).all():
        for i in prange(n):
            out[i] = f(a[i], b[i])
    else:
        for i in prange(n):
            index = np.empty(len(shape), np.int64)
            to_index(i, shape, index)
            out[position(index, out_strides)] = f(a[position(index, a_strides)], b[position(index, b_strides)])
    ### END SOLUTION


def tensor_zip(fn):
    """A compiled zip kernel:  out[index] = fn(a[index], b[index]) (broadcast inputs have stride 0).

        kernel = tensor_zip(scalar.add)
        kernel(out, out_strides, a, a_strides, b, b_strides, shape)
    """
    f = compiled(fn)  # fn on its own, as a C function: compiled once, shared by every kernel

    def kernel(out, out_strides, a, a_strides, b, b_strides, shape):
        zip_loop(out, ints(out_strides), a, ints(a_strides), b, ints(b_strides), ints(shape), f)

    return kernel


# %% [tests] id=tensor_zip_tests points=5
with testing.part("tensor_zip"), sealed_backends("tensor_zip"):
    add = tensor_zip(scalar.add)
    own(add, "tensor_zip")
    A, B = np.arange(6.0), 10.0 * np.arange(6.0)
    out = empty_storage(6)
    call = "tensor_zip(scalar.add)(out, (3, 1), a, (3, 1), b, (3, 1), shape=(2, 3))"
    with explained(call, "the flat loop: out[i] = f(a[i], b[i])"):
        add(out, (3, 1), A, (3, 1), B, (3, 1), (2, 3))
    testing.assert_close(out, A + B, call=call)
    out = empty_storage(6)
    column = np.array([100.0, 200.0])
    call = "tensor_zip(scalar.add)(out, (3, 1), a, (3, 1), b=[100, 200], b_strides=(1, 0), shape=(2, 3))"
    with explained(call, "read b at position(index, b_strides)"):
        add(out, (3, 1), A, (3, 1), column, (1, 0), (2, 3))
    testing.assert_close(
        view(out, (2, 3), (3, 1)), A.reshape(2, 3) + column[:, None], call=call,
        hints=[(lambda got, exp: np.isnan(got).any() or not np.isfinite(got).all(),
                "the flat loop read b beyond its 2 elements: a broadcast b is not contiguous, "
                "check b_strides too before taking the fast path"),
               "the fast path needs out_strides == a_strides == b_strides (and contiguous)"],
    )
### BEGIN HIDDEN TESTS
with testing.part("tensor_zip", hidden=True), sealed_backends("tensor_zip"):
    rng = np.random.default_rng(4)
    add, mul = tensor_zip(scalar.add), tensor_zip(scalar.mul)
    # a broadcast row (same storage size as out would be, so a wrong fast path reads valid memory)
    A, row = rng.standard_normal(12), rng.standard_normal(12)
    out = empty_storage(12)
    mul(out, (4, 1), A, (4, 1), row, (0, 1), (3, 4))
    testing.assert_close(view(out, (3, 4), (4, 1)), A.reshape(3, 4) * row[:4],
                         call="tensor_zip(mul) b broadcast as a row, b_strides (0, 1)")
    # a transposed while b and out are contiguous
    A, B = rng.standard_normal(12), rng.standard_normal(12)
    out = empty_storage(12)
    add(out, (4, 1), A, (1, 3), B, (4, 1), (3, 4))
    testing.assert_close(view(out, (3, 4), (4, 1)), A.reshape(4, 3).T + B.reshape(3, 4),
                         call="tensor_zip(add) a transposed, a_strides (1, 3)")
    # a contiguous, out non-contiguous
    out = empty_storage(24)
    add(out, (8, 2), A, (4, 1), B, (4, 1), (3, 4))
    testing.assert_close(view(out, (3, 4), (8, 2)), A.reshape(3, 4) + B.reshape(3, 4),
                         call="tensor_zip(add) into out strides (8, 2)")
    # large 3-D with a broadcast middle dim, and a 0-d
    A, B = rng.standard_normal((30, 1, 50)), rng.standard_normal((30, 40, 50))
    out = empty_storage(B.size)
    add(out, (2000, 50, 1), A.reshape(-1), (50, 0, 1), B.reshape(-1), (2000, 50, 1), (30, 40, 50))
    testing.assert_close(view(out, (30, 40, 50), (2000, 50, 1)), A + B,
                         call="tensor_zip(add) (30, 1, 50) + (30, 40, 50)")
    out = empty_storage(1)
    mul(out, (), np.array([3.0]), (), np.array([-2.0]), (), ())
    testing.assert_close(out, [-6.0], call="tensor_zip(mul) on 0-d tensors")
    # a race: an index array shared by the iterations of the strided loop
    A, column = np.arange(64.0), np.arange(8.0)
    check_no_shared_state(tensor_zip, lambda x, y: x + y,
                          lambda k: _filled(k, (8, 1), A, (8, 1), column, (1, 0), (8, 8), 64).reshape(8, 8),
                          A.reshape(8, 8) + column[:, None], call="tensor_zip(add) of (8, 8) + a column (8, 1)",
                          loop="zip_loop")
### END HIDDEN TESTS

# %% [markdown]
# ## 4 · `tensor_reduce` without a race
#
# A reduction folds dim `dim` away; `out` already holds the start value (0 for sum, -inf for max).
# Where does `prange` go? Over the **outputs**: each iteration owns one output element and folds its
# `a_shape[dim]` inputs in a local variable, serially. If instead you `prange` over the reduced dim, several
# threads read-modify-write the *same* `out` element at once and some additions are lost: a **race**.
# (GPU code meets the same problem in chapter 05, and solves it with a tree in shared memory.)

# %% [solution] id=tensor_reduce
@njit(parallel=True)
def reduce_loop(out, out_strides, a, a_strides, a_shape, dim, f):
    """The loop of tensor_reduce: fold dim `dim` of a into out, which holds the start value."""
    out_shape = a_shape.copy()
    out_shape[dim] = 1
    n = 1
    for s in out_shape:
        n *= s
    ### BEGIN SOLUTION
    for i in prange(n):
        index = np.empty(len(a_shape), np.int64)
        to_index(i, out_shape, index)
        o = position(index, out_strides)
        start = position(index, a_strides)
        acc = out[o]
        for j in range(a_shape[dim]):
            acc = f(acc, a[start + j * a_strides[dim]])
        out[o] = acc
    ### END SOLUTION


def tensor_reduce(fn):
    """A compiled reduce kernel: out[index] = fn(... fn(fn(out[index], a[index, 0]), a[index, 1]) ..., a[index, n-1]).

        kernel = tensor_reduce(scalar.add)
        kernel(out, out_strides, a, a_strides, a_shape, dim)   # out has a_shape with a_shape[dim] == 1
    """
    f = compiled(fn)  # fn on its own, as a C function: compiled once, shared by every kernel

    def kernel(out, out_strides, a, a_strides, a_shape, dim):
        reduce_loop(out, ints(out_strides), a, ints(a_strides), ints(a_shape), dim, f)

    return kernel


# %% [tests] id=tensor_reduce_tests points=4
with testing.part("tensor_reduce"), sealed_backends("tensor_reduce"):
    total = tensor_reduce(scalar.add)
    own(total, "tensor_reduce")
    A = np.arange(6.0)
    out = np.zeros(3)
    call = "tensor_reduce(scalar.add)(out=zeros(3), (3, 1), a=arange(6), (3, 1), a_shape=(2, 3), dim=0)"
    with explained(call, "prange over the outputs; fold a[start + j * a_strides[dim]] for j in range(a_shape[dim])"):
        total(out, (3, 1), A, (3, 1), (2, 3), 0)
    testing.assert_close(out, A.reshape(2, 3).sum(0), call=call,
                         hints=[(lambda got, exp: np.allclose(got, [1.0, 5.0, 9.0]), "you summed over dim 1")])
    out = np.full(2, 10.0)
    call = "tensor_reduce(scalar.add)(out=[10, 10], (1, 1), a=arange(6), (3, 1), a_shape=(2, 3), dim=1)"
    total(out, (1, 1), A, (3, 1), (2, 3), 1)
    testing.assert_close(out, 10.0 + A.reshape(2, 3).sum(1), call=call,
                         hints=["start from out's value (the start value), not from 0"])
### BEGIN HIDDEN TESTS
with testing.part("tensor_reduce", hidden=True), sealed_backends("tensor_reduce"):
    rng = np.random.default_rng(5)
    total, biggest = tensor_reduce(scalar.add), tensor_reduce(scalar.maximum)
    # races: with prange over the reduced dim, threads read-modify-write the same out element and additions
    # are lost; with an index array allocated before the loop, one thread's index overwrites the other's
    def summed(kernel, out_size, *args):
        out = np.zeros(out_size)
        kernel(out, *args)
        return out

    A, B = rng.random((2, 32)), rng.random((16, 4))
    check_no_shared_state(tensor_reduce, lambda x, y: x + y,
                          lambda k: summed(k, 2, (1, 1), A.reshape(-1), (32, 1), (2, 32), 1),
                          A.sum(1), call="tensor_reduce(add) of a (2, 32) over dim 1", loop="reduce_loop")
    check_no_shared_state(tensor_reduce, lambda x, y: x + y,
                          lambda k: summed(k, 16, (1, 1), B.T.reshape(-1), (1, 16), (16, 4), 1),
                          B.sum(1), call="tensor_reduce(add) of a transposed (16, 4) over dim 1", loop="reduce_loop")
    # max of negatives (start -inf), over a transposed input
    A = -rng.random((5, 7)) - 1.0
    out = np.full(7, -np.inf)
    biggest(out, (1, 1), A.reshape(-1), (1, 7), (7, 5), 1)
    testing.assert_close(out, A.max(0), call="tensor_reduce(max) of a transposed (7, 5) over dim 1")
    # 3-D, middle dim, non-contiguous out, every output written once
    A = rng.standard_normal((6, 9, 11))
    out = np.zeros(2 * 66)
    total(out, (22, 1, 2), A.reshape(-1), (99, 11, 1), (6, 9, 11), 1)
    testing.assert_close(view(out, (6, 1, 11), (22, 1, 2)), A.sum(1, keepdims=True),
                         call="tensor_reduce(add) (6, 9, 11) over dim 1 into out strides (22, 1, 2)")
    out = np.zeros(1)
    total(out, (1,), np.array([1.0, 2.0, 4.0]), (1,), (3,), 0)
    testing.assert_close(out, [7.0], call="tensor_reduce(add) of a 1-D (3,)")
### END HIDDEN TESTS

# %% [markdown]
# ## 5 · Matmul: the loop order matters
#
# `out[i, j] = sum_r a[i, r] * b[r, j]`. The textbook order i-j-r walks `b` down a **column** in the
# innermost loop: each step jumps a whole row ahead in memory, and the CPU's cache lines (64 bytes, 16
# floats) are mostly wasted. Swap the two inner loops, to i-r-j: now the inner loop walks a row of `b` and
# a row of `out` in order, and `a[i, r]` is one number held in a register. Same arithmetic, and now the
# compiler can vectorise the inner loop: several floats per instruction, tens of times faster (below). BLAS
# libraries (which NumPy, PyTorch and TensorFlow call) go further with blocking, so that tiles of `a` and
# `b` stay in cache.

# %%
def draw_loop_orders(n=6):
    """Which cells of b the innermost loop reads, in order, for out[0, 0] (i-j-r) and out[0, :] (i-r-j)."""
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.2))
    cells = np.arange(n * n)
    titles = [("i-j-r: inner loop walks down a column of b", [(r, 0) for r in range(n)]),
              ("i-r-j: inner loop walks along a row of b", [(0, j) for j in range(n)])]
    for ax, (title, path) in zip(axes[:2], titles):
        ax.imshow(np.zeros((n, n)), cmap="Greys", vmin=0, vmax=1)
        for k, (r, c) in enumerate(path):
            ax.add_patch(plt.Rectangle((c - 0.5, r - 0.5), 1, 1, color=plt.cm.viridis(k / n), alpha=0.8))
            ax.text(c, r, str(k), ha="center", va="center", color="w")
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    # where those reads land in b's row-major storage
    strip = axes[2]
    for label, y, path in [("i-j-r", 1, titles[0][1]), ("i-r-j", 0, titles[1][1])]:
        strip.scatter(cells, np.full(cells.shape, y), s=12, color="0.8")
        pos = [r * n + c for r, c in path]
        strip.scatter(pos, np.full(len(pos), y), s=40, c=np.arange(n), cmap="viridis")
        strip.text(-1, y, label, ha="right", va="center")
    strip.set_xlim(-8, n * n)
    strip.set_ylim(-1, 2)
    strip.set_yticks([])
    strip.set_xlabel("position in b's storage")
    strip.set_title("the same reads in memory: scattered vs in a row", fontsize=9)
    fig.tight_layout()
    plt.show()


draw_loop_orders()

# %% [markdown]
# The order alone is not the whole trick. Measured on one thread at n = 256, an i-r-j loop that reads `b`
# as `b[br + j * b_strides[-1]]` is barely faster than i-j-r (about 1.2 times): the compiler cannot know
# that `b_strides[-1]` is 1, so it cannot load eight neighbours with one vector instruction. Tell it: when
# a row of `b` is contiguous (`b_strides[-1] == 1`, the common case), take the row as a slice,
# `b_row = b[br : br + m]`, and walk it with `b_row[j]`; accumulate the output row in a local array
# `row = np.zeros(m, out.dtype)` (it stays in cache, and `out` may be strided) and write it out once at
# the end. With both, the inner loop `row[j] += air * b_row[j]` is a few vector instructions, and the
# kernel runs tens of times faster than i-j-r. Keep the strided loop for a `b` whose rows are not
# contiguous.
#
# Write the matmul kernel with the i-r-j order. `out_shape` is `(*batch, n, m)`, `a` is `(*batch, n, k)`,
# `b` is `(*batch, k, m)`, each with its own strides (a batch stride may be 0). `prange` over the rows of
# the output, `batch * n` of them: each iteration owns one row of `out`. The batch offsets of each row are
# computed for you.

# %% [solution] id=tensor_matmul
@njit(parallel=True)
def _matmul(out, out_strides, a, a_strides, b, b_strides, out_shape, k):
    nd = len(out_shape)
    n, m = out_shape[nd - 2], out_shape[nd - 1]
    batch = 1
    for s in out_shape[: nd - 2]:
        batch *= s
    for row in prange(batch * n):
        index = np.zeros(nd, np.int64)
        to_index(row // n, out_shape[: nd - 2], index[: nd - 2])
        o, a0, b0 = position(index, out_strides), position(index, a_strides), position(index, b_strides)
        i = row % n
        ### BEGIN SOLUTION
        o += i * out_strides[nd - 2]
        a0 += i * a_strides[nd - 2]
        acc = np.zeros(m, out.dtype)  # this row of out, accumulated in order
        for r in range(k):
            air = a[a0 + r * a_strides[nd - 1]]
            br = b0 + r * b_strides[nd - 2]
            if b_strides[nd - 1] == 1:
                b_row = b[br : br + m]  # a contiguous row: the compiler vectorises the loop below
                for j in range(m):
                    acc[j] += air * b_row[j]
            else:
                for j in range(m):
                    acc[j] += air * b[br + j * b_strides[nd - 1]]
        for j in range(m):
            out[o + j * out_strides[nd - 1]] = acc[j]
        ### END SOLUTION


def tensor_matmul(out, out_strides, a, a_strides, b, b_strides, out_shape, k):
    """out = a @ b over strided storages: out_shape = (*batch, n, m), a is (*batch, n, k), b is (*batch, k, m)."""
    _matmul(out, ints(out_strides), a, ints(a_strides), b, ints(b_strides), ints(out_shape), k)


# %% [markdown]
# The tests of this part also check that the loop order pays: on a 256×256 float32 matmul, one thread,
# your kernel must take at most **a quarter** of the time of the textbook i-j-r loop (`textbook_matmul`
# below), both timed here, in turns, on one thread of numba and of NumPy's BLAS (so the number of cores,
# and other programs, matter little: it compares the code, not the machine). On the machine this course
# is tested on, an i-r-j loop on contiguous rows took 0.04 of the i-j-r time (1.2 ms against 35 ms), an
# i-r-j loop through `b_strides[-1]` about 0.85 of it, and i-j-r itself about 1.

# %% [tests] id=tensor_matmul_tests points=6
MATMUL_N = 256  # at this size b (256 KB) no longer sits in the fastest cache: the order of the reads matters
MATMUL_TARGET = 0.25  # at most this fraction of the i-j-r loop's time, measured in the same run


@njit  # timed on one thread anyway: no parallel loop to compile
def _textbook_matmul(out, a, b, n, m, k):
    for i in range(n):
        for j in range(m):
            acc = 0.0
            for r in range(k):
                acc += a[i * k + r] * b[r * m + j]  # walks down a column of b: a jump of m floats per step
            out[i * m + j] = acc


def textbook_matmul(out, out_strides, a, a_strides, b, b_strides, out_shape, k):
    """The i-j-r loop on contiguous (n, k) @ (k, m): what the speed target is measured against."""
    _textbook_matmul(out, a, b, out_shape[-2], out_shape[-1], k)


def time_matmul(kernel, n=128, repeats=5):
    """Fastest seconds of one (n, n) @ (n, n) float32 call of `kernel`, after a warm-up call."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(n * n).astype(np.float32), rng.standard_normal(n * n).astype(np.float32)
    out = np.zeros(n * n, np.float32)
    kernel(out, (n, 1), a, (n, 1), b, (n, 1), (n, n), n)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        kernel(out, (n, 1), a, (n, 1), b, (n, 1), (n, n), n)
        times.append(time.perf_counter() - start)
        if sum(times) > 1.0:  # far too slow already: no need to wait for more
            break
    return float(min(times)), out.reshape(n, n), a.reshape(n, n) @ b.reshape(n, n)


def race_matmul(kernel, baseline, n=MATMUL_N, rounds=12, budget_s=1.0):
    """(yours, baseline's) fastest seconds on (n, n) float32, timed in turns, and (got, expected).

    Both run on one thread (numba's and BLAS's), in turns, and the fastest of several calls counts: that keeps
    the ratio steady on a busy machine (a parallel call waits for its slowest thread, and other programs
    take cores away) and the same whatever the number of cores. A slow kernel stops after `budget_s`."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(n * n).astype(np.float32), rng.standard_normal(n * n).astype(np.float32)
    outs = [np.zeros(n * n, np.float32), np.zeros(n * n, np.float32)]
    best = [np.inf, np.inf]
    with pinned_threads(1):
        spent = 0.0
        for round_ in range(rounds + 1):  # round 0 warms both up (and compiles)
            for which, k in enumerate((kernel, baseline)):
                start = time.perf_counter()
                k(outs[which], (n, 1), a, (n, 1), b, (n, 1), (n, n), n)
                took = time.perf_counter() - start
                if round_:  # not the warm-up, which compiles
                    spent += took
                    best[which] = min(best[which], took)
            if round_ >= 3 and spent > budget_s:  # a few rounds of a slow kernel tell enough
                break
    return best[0], best[1], outs[0].reshape(n, n), a.reshape(n, n) @ b.reshape(n, n)


with testing.part("tensor_matmul"), sealed_backends("tensor_matmul"):
    own(tensor_matmul, "tensor_matmul")
    A, B = np.arange(6.0), np.arange(12.0) - 4.0
    out = empty_storage(8)
    call = "tensor_matmul(out, (4, 1), a=arange(6), (3, 1), b=arange(12) - 4, (4, 1), out_shape=(2, 4), k=3)"
    with explained(call, "read a at a0 + r * a_strides[-1] and b at b0 + r * b_strides[-2] + j * b_strides[-1]"):
        tensor_matmul(out, (4, 1), A, (3, 1), B, (4, 1), (2, 4), 3)
    testing.assert_close(
        view(out, (2, 4), (4, 1)), A.reshape(2, 3) @ B.reshape(3, 4), call=call,
        hints=[(lambda got, exp: np.isnan(got).any(), "set each row of out to 0 before accumulating into it")],
    )
    yours_s, textbook_s, got, expected = race_matmul(tensor_matmul, textbook_matmul)
    n = MATMUL_N
    testing.assert_close(got, expected, rtol=1e-4, atol=1e-3, call=f"tensor_matmul on ({n}, {n}) @ ({n}, {n}) float32")
    print(f"{n}x{n} matmul on one thread: yours {1000 * yours_s:.2f} ms, the i-j-r loop {1000 * textbook_s:.2f} ms "
          f"({yours_s / textbook_s:.2f} of its time; the target is at most {MATMUL_TARGET})")
    testing.assert_true(
        yours_s <= MATMUL_TARGET * textbook_s, call=f"time of tensor_matmul on ({n}, {n}) @ ({n}, {n}), one thread",
        got=f"{yours_s / textbook_s:.2f} of the i-j-r loop's time", expected=f"at most {MATMUL_TARGET}",
        hint="is the innermost loop over j, along a row of b and of the output (the i-r-j order), and is it a "
             "loop the compiler can vectorise: a contiguous slice b[br : br + m] when b_strides[-1] == 1, "
             "accumulated into a local row? (Compiled with @njit(parallel=True), prange over the rows, nothing "
             "allocated inside the r and j loops.)")
### BEGIN HIDDEN TESTS
with testing.part("tensor_matmul", hidden=True), sealed_backends("tensor_matmul"):
    rng = np.random.default_rng(6)
    # square, where a transposed index keeps the shape right
    A, B = rng.standard_normal((5, 5)), rng.standard_normal((5, 5))
    out = empty_storage(25)
    tensor_matmul(out, (5, 1), A.reshape(-1), (5, 1), B.reshape(-1), (5, 1), (5, 5), 5)
    testing.assert_close(view(out, (5, 5), (5, 1)), A @ B, call="tensor_matmul (5, 5) @ (5, 5)")
    # transposed operands (strides), odd sizes
    A, B = rng.standard_normal((7, 3)), rng.standard_normal((9, 7))  # use A.T (3, 7) @ B.T (7, 9)
    out = empty_storage(27)
    tensor_matmul(out, (9, 1), A.reshape(-1), (1, 3), B.reshape(-1), (1, 7), (3, 9), 7)
    testing.assert_close(view(out, (3, 9), (9, 1)), A.T @ B.T, call="tensor_matmul a.T (3, 7) @ b.T (7, 9)")
    # batched, with a broadcast batch of b (stride 0), and non-contiguous out
    A, B = rng.standard_normal((4, 2, 3)), rng.standard_normal((3, 5))
    out = empty_storage(4 * 2 * 10)
    tensor_matmul(out, (20, 10, 2), A.reshape(-1), (6, 3, 1), B.reshape(-1), (0, 5, 1), (4, 2, 5), 3)
    testing.assert_close(view(out, (4, 2, 5), (20, 10, 2)), A @ B, call="tensor_matmul (4, 2, 3) @ broadcast (3, 5)")
    # k = 1 and a single row
    A, B = rng.standard_normal((1, 1)), rng.standard_normal((1, 6))
    out = empty_storage(6)
    tensor_matmul(out, (6, 1), A.reshape(-1), (1, 1), B.reshape(-1), (6, 1), (1, 6), 1)
    testing.assert_close(out, (A @ B).reshape(-1), call="tensor_matmul (1, 1) @ (1, 6)")
### END HIDDEN TESTS

# %% [markdown]
# ## 6 · The race: your backend against the reference and NumPy
#
# Your kernels become a backend exactly as in chapter 03. `chapter.fallback` uses yours where they work and
# says which part falls back to the package's reference. Then `bench.backends.compare` times each backend on
# the same workloads (checking every result against NumPy first) and `plot` draws them: one group of bars
# per workload, log scale, lower is faster.

# %%
def probe_map(f):
    f(scalar.neg)(np.zeros(2), (1,), np.ones(2), (1,), (2,))


def probe_zip(f):
    f(scalar.add)(np.zeros(2), (1,), np.ones(2), (1,), np.ones(1), (0,), (2,))


def probe_reduce(f):
    f(scalar.add)(np.zeros(1), (1,), np.ones(2), (1,), (2,), 0)


def probe_matmul(f):
    f(np.zeros(1), (1, 1), np.ones(2), (2, 1), np.ones(2), (1, 1), (1, 1), 2)


mine = mt.register_backend(mt.Backend(
    "mine",
    map=chapter.fallback("tensor_map", tensor_map, probe_map),
    zip=chapter.fallback("tensor_zip", tensor_zip, probe_zip),
    reduce=chapter.fallback("tensor_reduce", tensor_reduce, probe_reduce),
    matmul=chapter.fallback("tensor_matmul", tensor_matmul, probe_matmul),
))

# %%
from bench.backends import compare, plot, table  # noqa: E402

THREADS = 2  # numba's loops and NumPy's BLAS alike: the same cores for every contestant, whatever the machine
with pinned_threads(THREADS):
    results = compare(["numba", mine], size=128, repeats=3, budget_s=0.3)
print(table(results))
ax = plot(results)
ax.set_title(f"your kernels, the package's numba kernels and NumPy, 128x128 float32, {THREADS} threads each",
             fontsize=10)
plt.show()

# %% [markdown]
# Where you are close to the reference, the work is memory-bound: reading and writing the arrays costs more
# than the arithmetic. Where you are far behind (the broadcast and transposed cases, the reductions along
# rows), the reference has extra fast paths: it merges dims, cuts rows for the threads and tiles transposes.
# For matmul the arithmetic grows as n³ while the data grows as n², so the rate in GFLOP/s (2n³ operations
# per call) tells how well a kernel uses the CPU. Choose a bigger size and press the button (headless, the
# cell draws the default).

# %%
def gflops(kernel, n):
    seconds = time_matmul(kernel, n, repeats=3)[0]
    return 2 * n**3 / seconds / 1e9


def numpy_gflops(n):
    a = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    a @ a
    start = time.perf_counter()
    for _ in range(3):
        a @ a
    return 2 * n**3 / ((time.perf_counter() - start) / 3) / 1e9


def draw_gflops(largest=128):
    sizes = [s for s in (32, 64, 128, 256) if s <= largest]
    with pinned_threads(THREADS):  # numba and BLAS on the same number of threads
        series = {"yours": [gflops(mine.matmul, s) for s in sizes],
                  "reference (numba)": [gflops(mt.get_backend("numba").matmul, s) for s in sizes],
                  "NumPy (BLAS)": [numpy_gflops(s) for s in sizes]}
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for label, values in series.items():
        ax.plot(sizes, values, "o-", label=label)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("n (an n x n @ n x n float32 matmul)")
    ax.set_ylabel("GFLOP/s (higher is faster)")
    ax.set_title(f"matmul throughput, {THREADS} threads for numba and for BLAS", fontsize=10)
    ax.legend()
    fig.tight_layout()
    plt.show()


interact(draw_gflops, manual=True, largest=("steps", 128, [64, 128, 256]))  # a button: each redraw times kernels

# %% [markdown]
# ## 7 · Your kernels train a network
#
# The same network as in chapter 03, a two-layer MLP on points inside or outside a circle, now on the
# backend `"mine"`: every op of the forward pass, the backward pass and the optimizer runs on your map, zip,
# reduce and matmul. Training calls about twenty different scalar functions; thanks to `compiled`, each
# costs a small compile of its own (a few tens of ms), and your loops are compiled once per dtype. The tests
# compiled them for float64 and the race above for float32, so the training keeps every tensor float32:
# the inputs, the weights, and the labels too, given to `cross_entropy` as one-hot class probabilities
# (integer labels would compile your zip once more for int64 data, a few seconds). The first step pays the
# small compiles; the later ones are fast.

# %%
DEVICE = "mine"

# %%
X, y = mt.data.toy.circle(400, seed=0)
rng = np.random.default_rng(0)
H = 16
x_t = mt.tensor(X - 0.5, dtype="float32", device=DEVICE)
y_t = mt.tensor(np.eye(2)[y], dtype="float32", device=DEVICE)  # one-hot class probabilities
W1 = mt.tensor(rng.normal(0.0, 1.5, (2, H)), dtype="float32", device=DEVICE, requires_grad=True)
b1 = mt.zeros(H, device=DEVICE, requires_grad=True)
W2 = mt.tensor(rng.normal(0.0, 1.0 / np.sqrt(H), (H, 2)), dtype="float32", device=DEVICE, requires_grad=True)
b2 = mt.zeros(2, device=DEVICE, requires_grad=True)
optimizer = mt.optim.Adam([W1, b1, W2, b2], lr=0.1)
losses, step_ms = [], []
for _step in range(40):
    start = time.perf_counter()
    logits = (x_t @ W1 + b1).tanh() @ W2 + b2
    loss = mt.nn.functional.cross_entropy(logits, y_t)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    losses.append(loss.item())
    step_ms.append(1000 * (time.perf_counter() - start))
accuracy = float((logits.numpy().argmax(-1) == y).mean())
print(f"backend {W1.backend.name!r}: first step {step_ms[0]:.0f} ms, later steps "
      f"{np.median(step_ms[10:]):.1f} ms; final loss {losses[-1]:.3f}, accuracy {accuracy:.0%}")

# %%
fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.2))
left.plot(losses)
left.set_xlabel("step")
left.set_ylabel("loss")
left.set_title("training on your compiled kernels", fontsize=10)
right.semilogy(step_ms)
right.set_xlabel("step")
right.set_ylabel("ms per step (log)")
right.set_title("time per step", fontsize=10)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## What you built, and what frameworks call it
#
# - Compiled, parallel kernels with the chapter-03 contract: what ATen's CPU kernels, TensorFlow's
#   `OpKernel`s and XLA's generated code are, in C++ or LLVM instead of numba.
# - A contiguous fast path: PyTorch's `TensorIterator` makes the same check, and `x.contiguous()` exists so
#   that later kernels can take it.
# - A race-free parallel reduction: one thread per output.
# - A loop order that reads memory in order; BLAS (OpenBLAS, MKL) adds blocking and hand-written vector code,
#   which is why NumPy still wins at matmul.
# - Compile once (`@njit`), keep the code on disk (`cache=True`): PyTorch's `torch.compile` and JAX's `jax.jit`
#   pay the same first-call cost, and cache too.
#
# Chapter 05 moves the same four kernels to the GPU.
