# %% [markdown]
# # 05 · The GPU: kernels in numba.cuda
#
# In chapter 04 you compiled loops for the CPU's few fast cores. A GPU has thousands of slow ones. It pays
# off only when you give it thousands of independent pieces of work at once, and when the data is already in
# its own memory. Those two facts shape every GPU framework:
#
# - you write a **kernel**: the body of the loop, run by every thread at once, each thread finding its own
#   element from its coordinates (`blockIdx`, `threadIdx`);
# - threads are grouped in **blocks** that share a small, fast **shared memory** and can wait for each
#   other (`cuda.syncthreads()`), which is what a sum or a matmul needs;
# - tensors **stay on the device**: PyTorch's `x.to("cuda")`, TensorFlow's device placement, JAX's
#   `jax.device_put`. Copying to the GPU and back for every op would cost more than the op.
#
# You write kernels in Python with `numba.cuda`, the same API as CUDA C (`__global__`, `__shared__`,
# `__syncthreads()`), and the first cell printed where they run: on a real GPU, or in numba's **CUDA
# simulator**, which runs every thread as a Python thread on the CPU. The simulator is slow but strict: it
# raises an `IndexError` when a thread reads or writes outside an array, where a real GPU would silently
# read garbage or corrupt memory. That makes it a good teacher. Shapes here stay small so it runs fast.

# %% [setup]
import os

# Without a GPU, numba.cuda runs in its CUDA simulator: switched on before numba is first imported.
if not os.path.exists("/dev/nvidia0"):
    os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")

import math
import time
from contextlib import contextmanager

import matplotlib.pyplot as plt
import numba
import numpy as np
from numba import cuda

import minitorch_edu as mt
from minitorch_edu import testing
from minitorch_edu.course import Chapter, interact
from minitorch_edu.gpu_memory import counting_memory
from minitorch_edu.races import DivergentBarrierError, in_thread_order

SIMULATED = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
print("running on", "numba's CUDA simulator (no GPU here): small shapes, timings mean nothing" if SIMULATED
      else f"a real GPU: {cuda.get_current_device().name}")

chapter = Chapter(
    "05_gpu",
    references={
        # the package's CUDA kernels; your map and zip kernels have the call shape of their flat variants
        "map_kernel": ["minitorch_edu.backends.cuda.kernels.map_kernels"],
        "zip_kernel": ["minitorch_edu.backends.cuda.kernels.zip_kernels"],
        # the package's tree reduction and tiled matmul take other arguments: sealed so they cannot stand in
        "block_sum_kernel": ["minitorch_edu.backends.cuda.kernels.reduce_kernel"],
        "tiled_matmul_kernel": ["minitorch_edu.backends.cuda.matmul.matmul_registers"],
        # the package's launchers with the backend contract (sections 8 and 9)
        "device_map_zip": [
            "minitorch_edu.backends.cuda.backend.tensor_map",
            "minitorch_edu.backends.cuda.backend.tensor_zip",
        ],
        "device_reduce": ["minitorch_edu.backends.cuda.backend.tensor_reduce"],
    },
)


def own(kernel, part):
    """Check that `kernel` is the learner's code, not one of the package's kernels."""
    fn = getattr(kernel, "py_func", None) or getattr(kernel, "fn", None) or kernel
    module = getattr(fn, "__module__", "") or ""
    testing.assert_true(
        not module.startswith("minitorch_edu"), call=f"{part}: where the kernel comes from",
        got=f"the package's {module}.{getattr(fn, '__qualname__', '?')}", expected="your own kernel",
        hint=f"the point of `{part}` is to write the kernel yourself, not to hand it to the package",
    )


def nans(*shape):
    """An output filled with NaN, so that an element a kernel forgets to write shows up."""
    return np.full(shape, np.nan)


@contextmanager
def explained(call, hint):
    """Turn an error inside a kernel launch (an index out of bounds in the simulator) into a message."""
    try:
        yield
    except NotImplementedError:
        raise  # "not written yet" is said by testing.part
    except DivergentBarrierError as err:  # its message says what happened and what to do
        raise AssertionError(f"{call} failed\n  error:    {err}") from None
    except (IndexError, ValueError, RuntimeError, TypeError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        message = f"{call} failed\n  error:    {type(err).__name__}: {first[:300]}\n  likely mistake: {hint}"
        raise AssertionError(message) from None


def on_device(x):
    """Whether `x` is a device array (the simulator's stand-in counts) rather than a NumPy array."""
    return hasattr(x, "copy_to_host") and not isinstance(x, np.ndarray)


def blocks(n, threads):
    """Blocks of `threads` threads that give every one of `n` elements a thread of its own."""
    return (n + threads - 1) // threads


def size_of(shape):
    """The number of elements of a tensor of `shape` (1 for the shape () of a single number)."""
    n = 1
    for s in shape:
        n *= s
    return n


# The fixed launch of the backend kernels (sections 7 to 9): a grid-stride loop covers any n with it.
# The simulator runs each thread as a Python thread, so there few threads are fastest.
GRID = (1, 4) if SIMULATED else (64, 256)


@contextmanager
def transfers():
    """Count the copies between host and device made inside the block: {"to_device": n, "to_host": n}.

    Counted: cuda.to_device, a device array's copy_to_device, copy_to_host and np.asarray(device array).
    """
    counts = {"to_device": 0, "to_host": 0}
    array_class = type(cuda.device_array(1))
    saved = {name: array_class.__dict__.get(name) for name in ("copy_to_host", "copy_to_device", "__array__")}
    to_device = cuda.to_device

    def counted(method, kind):
        def wrapper(*args, **kwargs):
            counts[kind] += 1
            return method(*args, **kwargs)
        return wrapper

    cuda.to_device = counted(to_device, "to_device")
    for name, kind in (("copy_to_host", "to_host"), ("copy_to_device", "to_device"), ("__array__", "to_host")):
        method = getattr(array_class, name, None)
        if method is not None:
            setattr(array_class, name, counted(method, kind))
    try:
        yield counts
    finally:
        cuda.to_device = to_device
        for name, method in saved.items():
            if method is None:
                if name in array_class.__dict__:
                    delattr(array_class, name)
            else:
                setattr(array_class, name, method)


plt.rcParams["figure.dpi"] = 80

# %% [markdown]
# ## 1 · Threads, blocks and a grid
#
# A launch `kernel[blocks, threads](args)` starts `blocks × threads` copies of the kernel. Thread `t` of
# block `b` computes its global number `i = b * threads + t` (numba writes it `cuda.grid(1)`). There are
# usually more threads than elements, since the block count is rounded up, so each thread must check
# `i < n` before it touches memory: the **bounds check**. And a kernel that should work for any launch uses
# a **grid-stride loop**: thread `i` handles `i`, `i + gridsize`, `i + 2·gridsize`, ..., so a small grid
# still covers a large array. The picture shows which thread handles which element.

# %%
def draw_grid(n=20, threads=8, n_blocks=None):
    """Each element of an array of length n, coloured by the block whose thread handles it."""
    n_blocks = n_blocks or blocks(n, threads)
    gridsize = n_blocks * threads
    fig, ax = plt.subplots(figsize=(min(0.5 * max(n, gridsize) + 1, 14), 2.2))
    colors = plt.cm.tab10(np.arange(10))
    for i in range(max(n, gridsize)):
        if i < n:
            g = i % gridsize  # the global thread that handles element i
            b, t = divmod(g, threads)
            ax.add_patch(plt.Rectangle((i, 0), 1, 1, color=colors[b % 10], alpha=0.5))
            ax.text(i + 0.5, 0.5, f"{i}", ha="center", va="center", fontsize=9)
            ax.text(i + 0.5, -0.35, f"b{b}\nt{t}", ha="center", va="center", fontsize=7)
            if i >= gridsize:
                ax.text(i + 0.5, 1.25, f"round {i // gridsize + 1}", ha="center", fontsize=7)
        else:  # a thread with no element: the bounds check stops it
            b, t = divmod(i, threads)
            ax.add_patch(plt.Rectangle((i, 0), 1, 1, fill=False, hatch="//", edgecolor=colors[b % 10]))
            ax.text(i + 0.5, -0.35, f"b{b}\nt{t}", ha="center", va="center", fontsize=7, color="0.5")
    ax.set_xlim(0, max(n, gridsize))
    ax.set_ylim(-0.9, 1.5)
    ax.axis("off")
    ax.set_title(f"n = {n} elements, {n_blocks} blocks × {threads} threads = {gridsize} threads "
                 f"(hatched: threads past the end; labels: block b, thread t)", fontsize=10)
    fig.tight_layout()
    plt.show()


draw_grid(20, 8)

# %% [markdown]
# The picture above gives every element a thread of its own: 20 elements, 3 blocks of 8 threads, 24
# threads, the last 4 past the end (hatched). Now move the sliders. With fewer threads than elements, the
# grid-stride loop sends each thread round again. The control starts at 20 elements and 2 blocks of 4
# threads, 8 threads in all: thread `i` handles elements `i` and `i + 8`, and threads 0 to 3 also
# `i + 16` (labels "round 2", "round 3"). The same kernel still covers the whole array. (The control
# needs a live notebook; without one the cell draws its starting picture.)

# %%
interact(draw_grid, n=("int", 20, 1, 28), threads=("int", 4, 1, 16), n_blocks=("int", 2, 0, 6))  # n_blocks 0: enough

# %% [markdown]
# ## 2 · A map kernel
#
# Your first kernel applies `fn` to every element: `out[i] = fn(a[i])`. The factory compiles `fn` as a
# **device function** (callable from a kernel, not from Python) and returns the kernel. Write the kernel
# with a grid-stride loop starting at `cuda.grid(1)` and stepping by `cuda.gridsize(1)`: the `range`'s end
# `n` is the bounds check. The package's version (with four loads in flight per thread) is `map_flat` in
# `minitorch_edu/backends/cuda/kernels.py`. PyTorch's is its `gpu_kernel` loop in ATen's `Loops.cuh`.

# %% [solution] id=map_kernel
def map_kernel(fn):
    """Return a CUDA kernel `kernel(out, a, n)` that sets out[i] = fn(a[i]) for every i < n.

    It must work for any launch `kernel[blocks, threads](...)`: a grid-stride loop from cuda.grid(1) in
    steps of cuda.gridsize(1), never touching an index >= n. The shape of the code:

        @cuda.jit
        def kernel(out, a, n):
            ...  # out[i] = f(a[i])
        return kernel
    """
    f = cuda.jit(device=True)(fn)
    ### BEGIN SOLUTION
    @cuda.jit
    def kernel(out, a, n):
        for i in range(cuda.grid(1), n, cuda.gridsize(1)):
            out[i] = f(a[i])

    return kernel
    ### END SOLUTION


# %% [tests] id=map_kernel_tests points=5
with testing.part("map_kernel"):
    negate = map_kernel(lambda x: -x)
    own(negate, "map_kernel")
    a = np.arange(13.0)
    out = nans(13)
    call = "map_kernel(neg)[2 blocks, 8 threads](out, a=arange(13), n=13)"
    with explained(call, "a thread past the end wrote out[i] for i >= n: check i < n (the range's end)"):
        negate[2, 8](out, a, 13)
    testing.assert_close(out, -a, call=call, hints=[
        (lambda got, exp: np.isnan(got).any(), "some elements were never written"),
    ])
    out = nans(20)
    call = "map_kernel(x -> 2x + 1)[2 blocks, 4 threads](out, a=arange(20), n=20): fewer threads than elements"
    with explained(call, "check i < n"):
        map_kernel(lambda x: 2.0 * x + 1.0)[2, 4](out, np.arange(20.0), 20)
    testing.assert_close(out, 2.0 * np.arange(20.0) + 1.0, call=call, hints=[
        (lambda got, exp: np.isnan(got[8:]).all(), "only the first 8 elements (one per thread) were written: "
         "use a grid-stride loop, i += cuda.gridsize(1)"),
        (lambda got, exp: np.isnan(got).any(), "some elements were never written: loop from cuda.grid(1) "
         "(block and thread) in steps of cuda.gridsize(1)"),
    ])
### BEGIN HIDDEN TESTS
with testing.part("map_kernel", hidden=True):
    rng = np.random.default_rng(5)
    for n, grid, threads in [(1, 1, 8), (37, 3, 4), (50, 1, 16), (7, 4, 8)]:
        a = rng.standard_normal(n)
        out = nans(n)
        map_kernel(lambda v: math.exp(v))[grid, threads](out, a, n)
        testing.assert_close(out, np.exp(a), call=f"map_kernel(exp)[{grid}, {threads}] on n={n}")
    # only the first n elements: the rest of a longer output stays untouched
    out = nans(12)
    map_kernel(lambda x: x * x)[2, 8](out, np.arange(12.0), 9)
    testing.assert_close(out[:9], np.arange(9.0) ** 2, call="map_kernel(square) with n=9 < len(out)")
    testing.assert_true(np.isnan(out[9:]).all(), call="map_kernel(square) with n=9 < len(out)",
                        got="writes past n", expected="out[9:] untouched", hint="stop at n, not at len(out)")
### END HIDDEN TESTS

# %% [markdown]
# ## 3 · A zip kernel, one thread per element
#
# The other common style: launch exactly enough threads, one per element, and no loop. Then two things must
# be right: the number of blocks, `blocks_for(n, threads)` (rounded **up**: 20 elements in blocks of 8 need
# 3 blocks), and the bounds check `if i < n`, since the last block has threads with no element.

# %% [solution] id=zip_kernel
def blocks_for(n, threads):
    """The number of blocks of `threads` threads that gives each of n elements a thread: 20, 8 -> 3."""
    ### BEGIN SOLUTION
    return (n + threads - 1) // threads
    ### END SOLUTION


def zip_kernel(fn):
    """Return a CUDA kernel `kernel(out, a, b, n)` with out[i] = fn(a[i], b[i]): one thread per element.

    Thread i = cuda.grid(1) handles element i alone (no loop), if i < n. Same shape as map_kernel.
    """
    f = cuda.jit(device=True)(fn)
    ### BEGIN SOLUTION
    @cuda.jit
    def kernel(out, a, b, n):
        i = cuda.grid(1)
        if i < n:
            out[i] = f(a[i], b[i])

    return kernel
    ### END SOLUTION


# %% [tests] id=zip_kernel_tests points=5
with testing.part("zip_kernel"):
    testing.assert_equal(blocks_for(20, 8), 3, call="blocks_for(20, 8)",
                         hints=[(lambda got, exp: got == 2, "20 // 8 rounds down: 4 elements get no thread")])
    testing.assert_equal(blocks_for(16, 8), 2, call="blocks_for(16, 8)",
                         hints=[(lambda got, exp: got == 3, "an exact multiple needs no extra block")])
    sub = zip_kernel(lambda x, y: x - y)
    own(sub, "zip_kernel")
    a, b = np.arange(20.0), np.full(20, 0.5)
    out = nans(20)
    call = "zip_kernel(sub)[blocks_for(20, 8), 8](out, a=arange(20), b=0.5s, n=20)"
    with explained(call, "the last block's threads 20..23 have no element: check i < n before out[i]"):
        sub[blocks_for(20, 8), 8](out, a, b, 20)
    testing.assert_close(out, a - b, call=call, hints=[
        (lambda got, exp: np.allclose(got, b - a, equal_nan=True), "you computed fn(b[i], a[i]): keep a first"),
        (lambda got, exp: np.isnan(got).any(), "some elements were never written: too few blocks?"),
    ])
### BEGIN HIDDEN TESTS
with testing.part("zip_kernel", hidden=True):
    for n, t in [(1, 8), (7, 8), (33, 16), (64, 16), (0, 8)]:
        testing.assert_equal(blocks_for(n, t), -(-n // t), call=f"blocks_for({n}, {t})")
    rng = np.random.default_rng(6)
    for n, t in [(1, 4), (29, 8), (32, 8)]:
        a, b = rng.standard_normal(n), rng.standard_normal(n)
        out = nans(n)
        zip_kernel(lambda x, y: x * y + x)[-(-n // t), t](out, a, b, n)
        testing.assert_close(out, a * b + a, call=f"zip_kernel(x*y + x)[{-(-n // t)}, {t}] on n={n}")
    out = nans(10)
    zip_kernel(lambda u, v: max(u, v))[2, 8](out, np.arange(10.0), np.full(10, 4.0), 6)
    testing.assert_close(out[:6], np.maximum(np.arange(6.0), 4.0), call="zip_kernel(max) with n=6 < len(out)")
    testing.assert_true(np.isnan(out[6:]).all(), call="zip_kernel(max) with n=6 < len(out)",
                        got="writes past n", expected="out[6:] untouched", hint="check i < n, not i < len(out)")
### END HIDDEN TESTS

# %% [markdown]
# ## 4 · Keep the data on the device
#
# So far you passed NumPy arrays to kernels. numba then copies each one to the GPU before the launch and
# back after it, on **every** call: for a small op the copies cost far more than the kernel. Frameworks
# therefore keep tensors in device memory: `cuda.to_device(x)` copies once, `cuda.device_array(shape)`
# allocates without copying, and `.copy_to_host()` brings a result back when you really need it. This is
# what `x.to("cuda")` does in PyTorch, and what the package's CUDA storage does
# (`minitorch_edu/backends/cuda/storage.py`).

# %%
x = np.arange(16.0)
x_d = cuda.to_device(x)  # one copy to the device
y_d = cuda.device_array_like(x_d)  # memory on the device, no copy
print("x_d is a", type(x_d).__name__, "of shape", x_d.shape, "; on the device:", on_device(x_d))

# %% [markdown]
# On a real GPU the next cell times one small map launched with NumPy arrays (two copies each call) and with
# device arrays. In the simulator there is no device memory and no copy, so it measures nothing meaningful
# and only says so.

# %%
def time_launches(kernel, args, repeat=20):
    kernel[4, 128](*args)  # compile and warm up
    cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeat):
        kernel[4, 128](*args)
    cuda.synchronize()
    return (time.perf_counter() - start) / repeat * 1e6


if SIMULATED:
    print("simulator: no timing table (threads are Python threads; device copies are plain NumPy copies)")
else:
    try:
        double = chapter.fallback("map_kernel", map_kernel, lambda f: f(lambda v: v)[1, 1](np.zeros(1), np.ones(1), 1))
        kern = double(lambda v: 2.0 * v)
        kern = kern[0] if isinstance(kern, tuple) else kern
        print(f"{'n':>10} {'NumPy arrays (µs)':>18} {'device arrays (µs)':>19}")
        for n in (1_000, 100_000, 10_000_000):
            h = np.ones(n)
            d = cuda.to_device(h)
            print(f"{n:>10} {time_launches(kern, (np.empty(n), h, n)):>18.0f} "
                  f"{time_launches(kern, (cuda.device_array(n), d, n)):>19.0f}")
    except Exception as err:  # the timing table is a demo: never stop the notebook for it
        print("no timing table:", type(err).__name__, err)

# %% [markdown]
# ## 5 · A shared-memory tree reduction
#
# A sum is not independent work: every element meets every other. On a GPU each block sums its own chunk of
# `tpb` elements (threads per block) in **shared memory**, in a tree: in step 1 thread `t` adds element
# `t + tpb/2` to element `t`, in step 2 `t + tpb/4`, ..., halving the stride until thread 0 holds the sum.
# Between steps every thread must wait for the others (`cuda.syncthreads()`): a thread must not read a slot
# that another thread has not written yet. The picture shows the tree for one block of 8 threads.

# %%
def draw_tree(tpb=8):
    values = list(range(1, tpb + 1))
    steps = int(math.log2(tpb))
    fig, ax = plt.subplots(figsize=(1.0 * tpb + 1, 0.9 * (steps + 1) + 0.6))
    stride, level = tpb // 2, 0
    while True:
        for s in range(tpb):
            active = s < max(2 * stride, 1) if level else True
            ax.add_patch(plt.Rectangle((s, -level), 0.9, 0.7, color="tab:blue" if active else "0.9", alpha=0.5))
            ax.text(s + 0.45, -level + 0.35, str(values[s]), ha="center", va="center", fontsize=9)
        if stride == 0:
            break
        for t in range(stride):
            ax.annotate("", xy=(t + 0.45, -level - 1 + 0.7), xytext=(t + stride + 0.45, -level),
                        arrowprops={"arrowstyle": "->", "color": "tab:red"})
            ax.annotate("", xy=(t + 0.45, -level - 1 + 0.7), xytext=(t + 0.45, -level),
                        arrowprops={"arrowstyle": "->", "color": "0.4"})
        who = "thread 0 adds" if stride == 1 else f"threads 0..{stride - 1} add"
        ax.text(tpb + 0.1, -level - 0.5, f"stride {stride}: {who}\n"
                f"slot t + {stride} into t, then syncthreads", fontsize=8, va="center")
        for t in range(stride):
            values[t] += values[t + stride]
        stride //= 2
        level += 1
    ax.set_xlim(-0.2, tpb + 3.2)
    ax.set_ylim(-level - 0.2, 0.9)
    ax.axis("off")
    ax.set_title(f"a tree sum in shared memory, one block of {tpb} threads: slot 0 ends with "
                 f"{values[0]} = 1 + ... + {tpb}", fontsize=10)
    fig.tight_layout()
    plt.show()


draw_tree(8)

# %% [markdown]
# Write the kernel factory: `block_sum_kernel(tpb)` returns a kernel for blocks of `tpb` threads (a power
# of two). Block `b` sums `a[b*tpb : (b+1)*tpb]` into `out[b]`. Each thread loads one element into a shared
# array (`cuda.shared.array(tpb, numba.float64)`), a **zero** where its index is past `n`, then the tree,
# with a `cuda.syncthreads()` after the load and after each step. Thread 0 writes the block's sum. The
# host adds the per-block sums (or launches again). PyTorch's `sum` on CUDA (`Reduce.cuh`) does the same
# tree, with warp shuffles for the last steps.
#
# Why not let every thread add its element into one slot, `out[b] += a[i]`? Because `+=` is a read, an add
# and a write: the threads of a block run side by side, read the slot together and write it back one after
# the other, so all but one addition is lost (a race; `cuda.atomic.add` exists, and serialises them). The
# checks show it in the simulator too, by running the threads in turns at every access to global memory.

# %% [solution] id=block_sum_kernel
def block_sum_kernel(tpb):
    """Return a kernel `kernel(out, a, n)`, launched as kernel[blocks, tpb], with out[b] = sum of block b's
    chunk a[b*tpb : (b+1)*tpb] (elements at index >= n count as 0). tpb is a power of two.

        @cuda.jit
        def kernel(out, a, n):
            cache = cuda.shared.array(tpb, numba.float64)  # one slot per thread of the block
            ...  # load (0.0 past n), syncthreads, the tree (syncthreads after each step), thread 0 writes
        return kernel
    """
    ### BEGIN SOLUTION
    @cuda.jit
    def kernel(out, a, n):
        cache = cuda.shared.array(tpb, numba.float64)
        t = cuda.threadIdx.x
        i = cuda.blockIdx.x * tpb + t
        cache[t] = a[i] if i < n else 0.0
        cuda.syncthreads()
        stride = tpb // 2
        while stride > 0:
            if t < stride:
                cache[t] += cache[t + stride]
            cuda.syncthreads()
            stride //= 2
        if t == 0:
            out[cuda.blockIdx.x] = cache[0]

    return kernel
    ### END SOLUTION


# %% [tests] id=block_sum_kernel_tests points=6
with testing.part("block_sum_kernel"):
    kernel = block_sum_kernel(8)
    own(kernel, "block_sum_kernel")
    a = np.arange(1.0, 21.0)  # 20 elements: blocks of 8, 8 and 4 (+4 past the end)
    out = nans(3)
    call = "block_sum_kernel(8)[3 blocks, 8 threads](out, a=1..20, n=20)"
    with explained(call, "a thread read outside `a` or the shared array: load 0.0 where i >= n, and only threads "
                   "t < stride read cache[t + stride] (the first stride is tpb // 2)"), in_thread_order():
        kernel[3, 8](out, a, 20)
    expected = np.array([a[:8].sum(), a[8:16].sum(), a[16:].sum()])
    testing.assert_close(out, expected, call=call, hints=[
        (lambda got, exp: np.isnan(got).any(), "a block's sum was never written: thread 0 of each block writes "
         "out[cuda.blockIdx.x]"),
        (lambda got, exp: np.allclose(got, [a[:4].sum(), a[8:12].sum(), a[16:].sum()]), "only half of each "
         "block was added: the first stride is tpb // 2 and it halves down to 1"),
        "is there a cuda.syncthreads() after the load and after every step of the tree (outside the `if`)? "
        "Without it a thread reads a slot before its neighbour has written it: a race",
    ])
    # the same launch with the threads taking turns at every read and write of global memory, as a GPU's
    # threads run side by side: adding into one slot from many threads loses additions there
    out = nans(3)
    call = ("block_sum_kernel(8)[3 blocks, 8 threads](out, a=1..20, n=20), the threads taking turns at every "
            "access to global memory")
    with explained(call, "a thread read outside an array"), in_thread_order(turns_at_global_memory=True):
        kernel[3, 8](out, a, 20)
    testing.assert_close(out, expected, call=call, hints=[
        (lambda got, exp: np.allclose(got, [a[7], a[15], a[19]]), "each block's result is its last element "
         "alone: every thread read the running sum, added its element and wrote it back at the same time, so "
         "all but one addition was lost (a race). Sum in the shared array with the tree, and let thread 0 write"),
        "threads that read a slot, add to it and write it back at the same time lose additions (a race): "
        "sum in shared memory with the tree and a syncthreads() between its steps, and let thread 0 write out",
    ])
### BEGIN HIDDEN TESTS
with testing.part("block_sum_kernel", hidden=True):
    rng = np.random.default_rng(7)
    for tpb, n in [(4, 11), (16, 40), (2, 3), (8, 8), (16, 5)]:
        a = rng.standard_normal(n)
        nb = -(-n // tpb)
        padded = np.concatenate([a, np.zeros(nb * tpb - n)])
        for turns in (False, True):  # up to each barrier; and also at every access to global memory
            out = nans(nb)
            with in_thread_order(turns_at_global_memory=turns):  # thread 0 first: a race shows
                block_sum_kernel(tpb)[nb, tpb](out, a, n)
            testing.assert_close(out, padded.reshape(nb, tpb).sum(1), call=f"block_sum_kernel({tpb}) on n={n}"
                                 f"{', turns at global memory' if turns else ''}")
### END HIDDEN TESTS

# %% [markdown]
# ## 6 · A tiled matmul in shared memory
#
# A naive matmul thread computes one `out[i, j]` and reads a whole row of `a` and a whole column of `b`
# from slow global memory: each element of `a` is read `N` times. A **tiled** matmul lets a block of
# `tpb × tpb` threads load one `tpb × tpb` tile of `a` and one of `b` into shared memory, each thread one
# element, `syncthreads()`, and then every thread multiplies the tiles from fast shared memory. Then the
# next pair of tiles along `K`. Each element is read from global memory `N / tpb` times instead of `N`.
# cuBLAS, behind PyTorch's `torch.matmul`, and the package's `backends/cuda/matmul.py` go further (register tiles,
# several outputs per thread), but the idea is this one.
#
# Which thread takes which element matters too. The 32 threads of a **warp** (threads with consecutive
# `threadIdx.x`) issue each load together, and the GPU serves it in 32-byte pieces of memory: when the
# threads read consecutive addresses, one warp's load is a few pieces (**coalesced**); when each reads a
# different row, it is 32 pieces. So `threadIdx.x` goes along a **row**, to consecutive columns, as in the
# CUDA programming guide's matmul: thread `(tx, ty)` of block `(bx, by)` computes `out[i, j]` with
# `i = by * tpb + ty` (the row, from `y`) and `j = bx * tpb + tx` (the column, from `x`), and loads
# `a[i, start + tx]` and `b[start + ty, j]`: along a row of each, in order. Section 11 counts it.
#
# Sizes need not be multiples of `tpb`: a thread whose tile element is outside `a` or `b` loads a **zero**,
# and a thread whose `(i, j)` is outside `out` computes but does not write. Sync after loading a tile, and
# again before the next tile overwrites it.

# %% [solution] id=tiled_matmul_kernel
def tiled_matmul_kernel(tpb):
    """Return a kernel `kernel(out, a, b, M, K, N)` for out (M, N) = a (M, K) @ b (K, N), launched with
    blocks of (tpb, tpb) threads on a grid of (ceil(N / tpb), ceil(M / tpb)) blocks (x along the columns).
    Thread (tx, ty) of block (bx, by) computes out[by*tpb + ty, bx*tpb + tx], looping over ceil(K / tpb)
    tiles; consecutive tx read consecutive columns (coalesced).

        @cuda.jit
        def kernel(out, a, b, M, K, N):
            a_tile = cuda.shared.array((tpb, tpb), numba.float64)
            b_tile = cuda.shared.array((tpb, tpb), numba.float64)
            ...  # per tile: load one element of each (0.0 outside), sync, multiply, sync; write if inside
        return kernel
    """
    ### BEGIN SOLUTION
    @cuda.jit
    def kernel(out, a, b, M, K, N):
        a_tile = cuda.shared.array((tpb, tpb), numba.float64)
        b_tile = cuda.shared.array((tpb, tpb), numba.float64)
        tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
        i = cuda.blockIdx.y * tpb + ty
        j = cuda.blockIdx.x * tpb + tx
        acc = 0.0
        for start in range(0, K, tpb):
            a_tile[ty, tx] = a[i, start + tx] if i < M and start + tx < K else 0.0
            b_tile[ty, tx] = b[start + ty, j] if start + ty < K and j < N else 0.0
            cuda.syncthreads()
            for r in range(tpb):
                acc += a_tile[ty, r] * b_tile[r, tx]
            cuda.syncthreads()
        if i < M and j < N:
            out[i, j] = acc

    return kernel
    ### END SOLUTION


# %% [tests] id=tiled_matmul_kernel_tests points=6
def run_matmul(kernel, A, B, tpb):
    M, K = A.shape
    N = B.shape[1]
    out = nans(M, N)
    kernel[(-(-N // tpb), -(-M // tpb)), (tpb, tpb)](out, A, B, M, K, N)  # x along the columns
    return out


with testing.part("tiled_matmul_kernel"):
    kernel = tiled_matmul_kernel(4)
    own(kernel, "tiled_matmul_kernel")
    A = np.arange(30.0).reshape(6, 5) / 10
    B = np.arange(30.0).reshape(5, 6) / 10 - 1
    call = "tiled_matmul_kernel(4) on a (6, 5) @ b (5, 6), blocks of (4, 4), grid (2, 2)"
    with explained(call, "a tile load read a or b outside its shape: load 0.0 where the row or column is past "
                   "the end (6 and 5 are not multiples of 4)"), in_thread_order():
        got = run_matmul(kernel, A, B, 4)
    testing.assert_close(got, A @ B, call=call, hints=[
        (lambda got, exp: np.isnan(got).any(), "some outputs were never written: does the grid cover them, "
         "and does the tile loop reach K (ceil(K / tpb) tiles)?"),
        (lambda got, exp: np.allclose(got, A[:, :4] @ B[:4]), "only the first tile of K was used: loop over "
         "every tile, range(0, K, tpb)"),
        "check the indices: i = blockIdx.y * tpb + ty, j = blockIdx.x * tpb + tx, a_tile[ty, tx] = a[i, start + tx], "
        "b_tile[ty, tx] = b[start + ty, j], then acc += a_tile[ty, r] * b_tile[r, tx]; and a syncthreads() "
        "after the loads and after the products",
    ])
### BEGIN HIDDEN TESTS
with testing.part("tiled_matmul_kernel", hidden=True):
    rng = np.random.default_rng(8)
    for tpb, (M, K, N) in [(4, (5, 7, 3)), (4, (1, 1, 1)), (2, (3, 8, 5)), (4, (8, 4, 8)), (8, (3, 9, 10))]:
        A, B = rng.standard_normal((M, K)), rng.standard_normal((K, N))
        with in_thread_order():
            got = run_matmul(tiled_matmul_kernel(tpb), A, B, tpb)
        testing.assert_close(got, A @ B, call=f"tiled_matmul_kernel({tpb}) on ({M}, {K}) @ ({K}, {N})")
    if SIMULATED:  # threadIdx.x along the columns: a warp (16 x 2 threads here) loads along rows, coalesced
        A, B = rng.standard_normal((16, 16)), rng.standard_normal((16, 16))
        with counting_memory() as counts, in_thread_order():
            got = run_matmul(tiled_matmul_kernel(16), A, B, 16)
        testing.assert_close(got, A @ B, call="tiled_matmul_kernel(16) on (16, 16) @ (16, 16)")
        testing.assert_true(counts.global_loads.coalesced, call="tiled_matmul_kernel(16): global loads of a warp",
                            got=f"{counts.global_loads.sectors_per_request:.0f} sectors per request",
                            expected=f"{counts.global_loads.ideal_sectors / counts.global_loads.requests:.0f}",
                            hint="consecutive threadIdx.x must read consecutive columns: j = blockIdx.x * tpb + tx")
### END HIDDEN TESTS

# %% [markdown]
# ## 7 · Your kernels run a network layer on the device
#
# Now your kernels do real work: the forward pass of a small network layer, `relu(x @ W + b).sum()`, with
# every intermediate kept on the device. Only the inputs go up (once, `cuda.to_device`) and one number
# comes back. The package computes the same on the CPU with `mt` tensors, so you can compare.
#
# `chapter.fallback` uses your map and zip kernels when they work, and the package's CUDA kernels
# (`backends/cuda/kernels.py`) when yours are not written yet, and says which. For the reduction and the matmul,
# whose package kernels take other arguments, a part that is not written yet is replaced by NumPy on the
# host (which costs a copy), and the cell says so too.

# %%
def flat(factory_result):
    """The package's factories return (flat, strided) kernels; yours return one kernel."""
    return factory_result[0] if isinstance(factory_result, tuple) else factory_result


def probe_map(f):
    flat(f(lambda v: v))[1, 1](np.zeros(1), np.ones(1), 1)


def probe_zip(f):
    flat(f(lambda u, v: u + v))[1, 1](np.zeros(1), np.ones(1), np.ones(1), 1)


my_map = chapter.fallback("map_kernel", map_kernel, probe_map)
my_zip = chapter.fallback("zip_kernel", zip_kernel, probe_zip)


def yours_or_numpy(name, factory, probe):
    """Your kernel factory if it works on a tiny input, else None (the step then runs in NumPy)."""
    try:
        probe(factory)
        print(f"using your {name}")
        return factory
    except Exception as err:  # noqa: BLE001 - any failure: go on without it, and say why
        print(f"using NumPy on the host for {name}: yours fails ({type(err).__name__})")
        return None


my_sum = yours_or_numpy("block_sum_kernel", block_sum_kernel,
                        lambda f: f(2)[1, 2](np.zeros(1), np.ones(2), 2))
my_matmul = yours_or_numpy("tiled_matmul_kernel", tiled_matmul_kernel,
                           lambda f: f(2)[(1, 1), (2, 2)](np.zeros((1, 1)), np.ones((1, 1)), np.ones((1, 1)), 1, 1, 1))

# %%
TPB = 4
relu = flat(my_map(lambda v: max(v, 0.0)))
add = flat(my_zip(lambda u, v: u + v))


def layer_on_device(x_d, W_d, b_rows_d):
    """relu(x @ W + b).sum() with every intermediate a device array; returns a device array of one number."""
    (M, K), N = x_d.shape, W_d.shape[1]
    if my_matmul is not None:
        h_d = cuda.device_array((M, N))
        my_matmul(TPB)[(-(-N // TPB), -(-M // TPB)), (TPB, TPB)](h_d, x_d, W_d, M, K, N)
    else:
        h_d = cuda.to_device(x_d.copy_to_host() @ W_d.copy_to_host())
    n = M * N
    flat_h, z_d = h_d.reshape(n), cuda.device_array(n)
    add[-(-n // 16), 16](z_d, flat_h, b_rows_d.reshape(n), n)  # + b (b repeated per row, uploaded once)
    relu[2, 16](z_d, z_d, n)
    partial = z_d
    while partial.shape[0] > 1:  # block sums of block sums until one number is left
        nb = -(-partial.shape[0] // 16)
        if my_sum is not None:
            nxt = cuda.device_array(nb)
            my_sum(16)[nb, 16](nxt, partial, partial.shape[0])
        else:
            nxt = cuda.to_device(np.array([partial.copy_to_host().sum()]))
        partial = nxt
    return partial


rng = np.random.default_rng(0)
x, W, b = rng.standard_normal((6, 5)), rng.standard_normal((5, 7)), rng.standard_normal(7)
x_d, W_d, b_d = cuda.to_device(x), cuda.to_device(W), cuda.to_device(np.tile(b, (6, 1)))
start = time.perf_counter()
result_d = layer_on_device(x_d, W_d, b_d)
elapsed = time.perf_counter() - start
stayed = on_device(result_d)
result = result_d.copy_to_host()[0]
expected = (mt.tensor(x) @ mt.tensor(W) + mt.tensor(b)).relu().sum().item()
print(f"your kernels: {result:.6f} (result on the device: {stayed}, {elapsed * 1e3:.0f} ms"
      f"{' in the simulator' if SIMULATED else ''});  mt on the CPU: {expected:.6f};  "
      f"agree: {np.isclose(result, expected)}")

# %% [markdown]
# The layer's hidden activations before the sum, from your device arrays, next to the CPU's: the same
# numbers, computed by thousands of threads (or their simulation).

# %%
h_d = cuda.device_array((6, 7))
if my_matmul is not None:
    my_matmul(TPB)[(2, 2), (TPB, TPB)](h_d, x_d, W_d, 6, 5, 7)
    h = h_d.copy_to_host()
else:
    h = x @ W
fig, (left, right) = plt.subplots(1, 2, figsize=(8, 2.8))
left.imshow(np.maximum(h + b, 0), cmap="viridis")
left.set_title("relu(x @ W + b), x @ W by your tiled matmul", fontsize=10)
right.imshow((mt.tensor(x) @ mt.tensor(W) + mt.tensor(b)).relu().numpy(), cmap="viridis")
right.set_title("the same with mt on the CPU", fontsize=10)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 8 · Kernels for a backend: strides, and data that stays on the device
#
# The layer above used flat kernels on contiguous arrays. A framework's ops also see broadcast operands
# (stride 0), transposes (swapped strides) and views, which is why chapters 03 and 04 wrote kernels over
# strided storage with the contract of `minitorch_edu/backends/base.py`:
#
#     map(fn) -> kernel(out, out_strides, a, a_strides, shape)       out[i] = fn(a[i]) for every index i
#     zip(fn) -> kernel(out, out_strides, a, a_strides, b, b_strides, shape)
#
# Here `out`, `a` and `b` are 1-D **device** arrays. Write `device_map` and `device_zip` with that contract,
# in two pieces each:
#
# - a CUDA kernel with a grid-stride loop over the ordinals `0 <= i < n`: each thread turns its ordinal
#   into an index (the last dimension fastest, as in chapter 02) and the index into a position in each
#   storage (`sum(index[d] * strides[d])`). numba passes the tuples to the kernel; `len(shape)` and
#   `shape[d]` work there as in Python;
# - the launcher the backend calls: it launches the kernel with the fixed `GRID` of the first cell
#   (`kernel[GRID](...)`) on the arrays it was given, and **never copies them**. An operand that is a NumPy
#   array would be copied to the device and back on every launch without a word (the classic GPU
#   performance bug), so the launcher raises a `TypeError` for one instead.
#
# The checks count every copy between host and device inside your launcher with `transfers()` (from the
# first cell): there must be none. The package's launchers are `tensor_map` and `tensor_zip` in
# `minitorch_edu/backends/cuda/backend.py`, with a flat fast path added.

# %% [solution] id=device_map_zip
def device_map(fn):
    """Return launch(out, out_strides, a, a_strides, shape): out[i] = fn(a[i]) for every index i of shape,
    on device arrays, with no copy to or from the host; a NumPy operand raises a TypeError."""
    f = cuda.jit(device=True)(fn)
    ### BEGIN SOLUTION
    @cuda.jit
    def kernel(out, out_strides, a, a_strides, shape, n):
        for i in range(cuda.grid(1), n, cuda.gridsize(1)):
            rest, po, pa = i, 0, 0
            for d in range(len(shape) - 1, -1, -1):
                index = rest % shape[d]
                rest //= shape[d]
                po += index * out_strides[d]
                pa += index * a_strides[d]
            out[po] = f(a[pa])

    def launch(out, out_strides, a, a_strides, shape):
        if not (on_device(out) and on_device(a)):
            raise TypeError(f"device_map needs device arrays, got {type(out).__name__} and {type(a).__name__}")
        kernel[GRID](out, out_strides, a, a_strides, shape, size_of(shape))

    return launch
    ### END SOLUTION


def device_zip(fn):
    """Return launch(out, out_strides, a, a_strides, b, b_strides, shape): out[i] = fn(a[i], b[i]), on
    device arrays, with no copy; a NumPy operand raises a TypeError."""
    f = cuda.jit(device=True)(fn)
    ### BEGIN SOLUTION
    @cuda.jit
    def kernel(out, out_strides, a, a_strides, b, b_strides, shape, n):
        for i in range(cuda.grid(1), n, cuda.gridsize(1)):
            rest, po, pa, pb = i, 0, 0, 0
            for d in range(len(shape) - 1, -1, -1):
                index = rest % shape[d]
                rest //= shape[d]
                po += index * out_strides[d]
                pa += index * a_strides[d]
                pb += index * b_strides[d]
            out[po] = f(a[pa], b[pb])

    def launch(out, out_strides, a, a_strides, b, b_strides, shape):
        if not (on_device(out) and on_device(a) and on_device(b)):
            raise TypeError("device_zip needs device arrays, got "
                            f"{type(out).__name__}, {type(a).__name__} and {type(b).__name__}")
        kernel[GRID](out, out_strides, a, a_strides, b, b_strides, shape, size_of(shape))

    return launch
    ### END SOLUTION


# %% [tests] id=device_map_zip_tests points=6
def run_on_device(launcher, out_size, *operands, name):
    """Launch `launcher(out, *operands)` on a NaN-filled device `out`; counts the copies inside the launch.

    Each operand that is a NumPy array is uploaded first (outside the count), except where the check is
    for a host array. Returns (out on the host, copies counted, whether out was still a device array)."""
    out_d = cuda.to_device(nans(out_size))
    args = [cuda.to_device(x) if isinstance(x, np.ndarray) else x for x in operands]
    with explained(name, "a thread read or wrote outside an array: an index past the shape, or a position "
                   "from the wrong strides"), transfers() as moved:
        launcher(out_d, *args)
    return out_d.copy_to_host(), moved, on_device(out_d)


def check_stays(moved, call):
    testing.assert_true(moved == {"to_device": 0, "to_host": 0}, call=f"{call}: copies between host and device",
                        got=moved, expected="no copy at all", hint="your launcher copied data (cuda.to_device, "
                        "copy_to_host, np.asarray): launch the kernel on the device arrays you were given")


with testing.part("device_map_zip"):
    neg = device_map(lambda v: -v)
    own(neg, "device_map")
    a = np.arange(6.0)
    call = "device_map(neg)(out, (3, 1), a=arange(6), (3, 1), shape=(2, 3))"
    got, moved, stayed = run_on_device(lambda o, x: neg(o, (3, 1), x, (3, 1), (2, 3)), 6, a, name=call)
    check_stays(moved, call)
    testing.assert_close(got, -a, call=call, hints=[
        (lambda got, exp: np.isnan(got).any(), "some elements were never written: loop over every ordinal i < n, "
         "from cuda.grid(1) in steps of cuda.gridsize(1)"),
    ])
    # a transposed view: a (2, 3) storage read as its (3, 2) transpose, strides (1, 3)
    call = "device_map(neg)(out, (2, 1), a=arange(6), a_strides=(1, 3), shape=(3, 2)): a transposed view"
    got, moved, _ = run_on_device(lambda o, x: neg(o, (2, 1), x, (1, 3), (3, 2)), 6, a, name=call)
    testing.assert_close(got.reshape(3, 2), -a.reshape(2, 3).T, call=call, hints=[
        (lambda got, exp: np.allclose(got, -a.reshape(3, 2)), "you read `a` as if it were contiguous: take its "
         "position from a_strides"),
    ])
    add = device_zip(lambda u, v: u + v)
    own(add, "device_zip")
    b = np.array([10.0, 20.0, 30.0])
    call = "device_zip(add)(out, (3, 1), a=arange(6), (3, 1), b=[10, 20, 30], (0, 1), shape=(2, 3)): b broadcast"
    got, moved, _ = run_on_device(lambda o, x, y: add(o, (3, 1), x, (3, 1), y, (0, 1), (2, 3)), 6, a, b, name=call)
    check_stays(moved, call)
    testing.assert_close(got.reshape(2, 3), a.reshape(2, 3) + b, call=call, hints=[
        (lambda got, exp: np.isnan(got).any(), "some elements were never written"),
        "the broadcast operand b has stride 0 along the first dimension: its position is sum(index * b_strides)",
    ])
    host = np.zeros(6)
    testing.assert_raises(TypeError, neg, host, (1,), cuda.to_device(a), (1,), (6,),
                          call="device_map(neg)(out=a NumPy array, ...)",
                          hints="check that every operand is a device array (on_device(x)) and raise a TypeError: "
                                "a NumPy array is copied to the device and back on every launch")
    testing.assert_raises(TypeError, add, cuda.to_device(host), (1,), cuda.to_device(a), (1,), b, (0,), (6,),
                          call="device_zip(add)(out, ..., b=a NumPy array, ...)",
                          hints="check every operand of device_zip, b too")
### BEGIN HIDDEN TESTS
with testing.part("device_map_zip", hidden=True):
    rng = np.random.default_rng(9)
    exp_k = device_map(lambda v: math.exp(v))
    mul_k, sub_k = device_zip(lambda u, v: u * v), device_zip(lambda u, v: u - v)
    # 3-D, a permuted view of a (2, 3, 4) storage read as shape (4, 2, 3), into a non-contiguous out
    x = rng.standard_normal(24)
    view_of = x.reshape(2, 3, 4).transpose(2, 0, 1)
    out_strides = (1, 12, 4)  # out is written as the (2, 3, 4)-contiguous layout, permuted the same way
    got, moved, stayed = run_on_device(lambda o, a: exp_k(o, out_strides, a, (1, 12, 4), (4, 2, 3)), 24, x,
                                       name="device_map(exp) on a permuted 3-D view")
    check_stays(moved, "device_map(exp) on a permuted 3-D view")
    testing.assert_true(stayed, call="device_map(exp): out after the launch", got="not a device array",
                        expected="the device array that was passed in", hint="write into `out`, do not replace it")
    testing.assert_close(got.reshape(2, 3, 4).transpose(2, 0, 1), np.exp(view_of), call="device_map(exp) 3-D view")
    # more elements than the grid has threads: the grid-stride loop must go round
    n = 3 * GRID[0] * GRID[1] + 5
    x = rng.standard_normal(n)
    got, _, _ = run_on_device(lambda o, a: exp_k(o, (1,), a, (1,), (n,)), n, x, name=f"device_map(exp) on n={n}")
    testing.assert_close(got, np.exp(x), call=f"device_map(exp) on {n} elements, more than the grid's threads")
    # a single number (shape (1,)) and a zip broadcasting both ways: (3, 1) * (1, 4)
    got, _, _ = run_on_device(lambda o, a: exp_k(o, (1,), a, (1,), (1,)), 1, np.array([0.5]), name="one element")
    testing.assert_close(got, np.exp([0.5]), call="device_map(exp) on one element")
    u, v = rng.standard_normal(3), rng.standard_normal(4)
    got, moved, _ = run_on_device(lambda o, a, b: sub_k(o, (4, 1), a, (1, 0), b, (0, 1), (3, 4)), 12, u, v,
                                  name="device_zip(sub) (3, 1) - (1, 4)")
    check_stays(moved, "device_zip(sub) broadcasting both operands")
    testing.assert_close(got.reshape(3, 4), u[:, None] - v[None, :], call="device_zip(sub) (3, 1) - (1, 4)")
    # a chain on the device: relu(x * w + c), nothing copied between the ops
    x, w, c = rng.standard_normal((5, 3)), rng.standard_normal((5, 3)), rng.standard_normal(3)
    x_d, w_d, c_d = cuda.to_device(x.ravel()), cuda.to_device(w.ravel()), cuda.to_device(c)
    t_d, s_d = cuda.to_device(nans(15)), cuda.to_device(nans(15))
    relu_k = device_map(lambda v: max(v, 0.0))
    with transfers() as moved:
        mul_k(t_d, (3, 1), x_d, (3, 1), w_d, (3, 1), (5, 3))
        device_zip(lambda p, q: p + q)(s_d, (3, 1), t_d, (3, 1), c_d, (0, 1), (5, 3))
        relu_k(s_d, (3, 1), s_d, (3, 1), (5, 3))
    check_stays(moved, "a chain relu(x * w + c) of your launchers")
    testing.assert_close(s_d.copy_to_host().reshape(5, 3), np.maximum(x * w + c, 0),
                         call="relu(x * w + c) on the device")
    testing.assert_raises(TypeError, mul_k, cuda.to_device(np.zeros(2)), (1,), np.ones(2), (1,),
                          cuda.to_device(np.ones(2)), (1,), (2,), call="device_zip(mul)(out, a=NumPy, ...)")
### END HIDDEN TESTS

# %% [markdown]
# ## 9 · A reduction for the backend
#
# The backend's third kernel folds one dimension: `out` has `a`'s shape with size 1 along `dim` and already
# holds the start value (0 for a sum, -inf for a max), and `out[i] = fn(out[i], a[i with index dim = j])` for
# every `j`. Section 5's tree is the fast way for one long sum; here a simpler plan serves every `fn`: **one
# thread per output**, each looping over `j`, with the grid-stride loop over the outputs. Decode the
# output's ordinal over `out_shape` (`a_shape` with 1 at `dim`), find its position in `out` and the position
# of `j = 0` in `a`, and step by `a_strides[dim]`. Same rules as before: device arrays only, no copies.

# %% [solution] id=device_reduce
def device_reduce(fn):
    """Return launch(out, out_strides, a, a_strides, a_shape, dim): out[i] = fn(out[i], a[..j..]) folded
    over j in range(a_shape[dim]), on device arrays with no copy; a NumPy operand raises a TypeError."""
    f = cuda.jit(device=True)(fn)
    ### BEGIN SOLUTION
    @cuda.jit
    def kernel(out, out_strides, a, a_strides, out_shape, dim, size, n):
        for i in range(cuda.grid(1), n, cuda.gridsize(1)):
            rest, po, pa = i, 0, 0
            for d in range(len(out_shape) - 1, -1, -1):
                index = rest % out_shape[d]
                rest //= out_shape[d]
                po += index * out_strides[d]
                pa += index * a_strides[d]
            acc = out[po]
            for j in range(size):
                acc = f(acc, a[pa + j * a_strides[dim]])
            out[po] = acc

    def launch(out, out_strides, a, a_strides, a_shape, dim):
        if not (on_device(out) and on_device(a)):
            raise TypeError(f"device_reduce needs device arrays, got {type(out).__name__} and {type(a).__name__}")
        out_shape = tuple(a_shape[:dim]) + (1,) + tuple(a_shape[dim + 1:])
        kernel[GRID](out, out_strides, a, a_strides, out_shape, dim, a_shape[dim], size_of(out_shape))

    return launch
    ### END SOLUTION


# %% [tests] id=device_reduce_tests points=4
def reduce_on_device(launcher, start, out_strides, a, a_strides, a_shape, dim, name):
    """Launch a reduction into a device `out` holding `start`; (out on the host, copies inside the launch).

    The threads take turns at every access to global memory (`in_thread_order`), as a GPU's threads run
    side by side: threads that fold into the same output element lose each other's updates, every time."""
    n_out = size_of(a_shape) // a_shape[dim]
    out_d, a_d = cuda.to_device(np.full(n_out, start)), cuda.to_device(a)
    with explained(name, "a thread read outside `a` or `out`: check the positions and the loop over j"), \
            transfers() as moved, in_thread_order(turns_at_global_memory=True):
        launcher(out_d, out_strides, a_d, a_strides, a_shape, dim)
    return out_d.copy_to_host(), moved


RACE_HINT = ("threads that fold into the same output element at once lose each other's updates (a race): "
             "give each thread whole outputs, one thread per output looping over j into a local `acc`, "
             "and write out[position] once")


with testing.part("device_reduce"):
    total = device_reduce(lambda acc, v: acc + v)
    own(total, "device_reduce")
    a = np.arange(6.0)
    call = "device_reduce(add)(out=[0, 0], (1, 1), a=arange(6), (3, 1), a_shape=(2, 3), dim=1)"
    got, moved = reduce_on_device(total, 0.0, (1, 1), a, (3, 1), (2, 3), 1, call)
    check_stays(moved, call)
    testing.assert_close(got, a.reshape(2, 3).sum(1), call=call + ", the threads taking turns at global memory",
                         hints=[(lambda got, exp: np.allclose(got, a.reshape(2, 3)[:, -1]), "one element per output "
                                 "survived: the fold kept only the last one (fold into the running value, "
                                 "acc = fn(acc, a[...])), or several threads wrote the same output at once, "
                                 "each losing the others' updates (a race: one thread per output)"),
                                RACE_HINT])
    call = "device_reduce(add)(out=[0, 0, 0], (1, 1)... a=arange(6), (3, 1), a_shape=(2, 3), dim=0)"
    got, _ = reduce_on_device(total, 0.0, (3, 1), a, (3, 1), (2, 3), 0, call)
    testing.assert_close(got, a.reshape(2, 3).sum(0), call=call, hints=[
        "along dim 0 the step between the elements of one output is a_strides[0], not 1",
    ])
    biggest = device_reduce(lambda acc, v: max(acc, v))
    negative = -np.arange(1.0, 7.0)
    call = "device_reduce(max)(out=[-inf, -inf], ..., a=-1..-6, (3, 1), a_shape=(2, 3), dim=1)"
    got, _ = reduce_on_device(biggest, -np.inf, (1, 1), negative, (3, 1), (2, 3), 1, call)
    testing.assert_close(got, negative.reshape(2, 3).max(1), call=call, hints=[
        (lambda got, exp: np.allclose(got, 0.0), "you started from 0.0: start from the value `out` holds "
         "(-inf for a max)"),
    ])
    testing.assert_raises(TypeError, total, np.zeros(2), (1, 1), cuda.to_device(a), (3, 1), (2, 3), 1,
                          call="device_reduce(add)(out=a NumPy array, ...)",
                          hints="check that out and a are device arrays and raise a TypeError")
### BEGIN HIDDEN TESTS
with testing.part("device_reduce", hidden=True):
    rng = np.random.default_rng(10)
    total = device_reduce(lambda acc, v: acc + v)
    # the middle dim of a 3-D tensor, into a non-contiguous out (strides (1, 1, 2)) of shape (3, 1, 2)
    a = rng.standard_normal(3 * 4 * 2)
    got, moved = reduce_on_device(total, 0.0, (1, 1, 3), a, (8, 2, 1), (3, 4, 2), 1, "sum over dim 1 of (3, 4, 2)")
    check_stays(moved, "device_reduce(add) on (3, 4, 2)")
    testing.assert_close(got.reshape(2, 3).T, a.reshape(3, 4, 2).sum(1), call="device_reduce(add) dim 1 of (3, 4, 2), "
                         "out strides (1, 1, 3)")
    # a transposed input: the (4, 3) transpose of a (3, 4) storage, summed along its dim 0
    a = rng.standard_normal(12)
    got, _ = reduce_on_device(total, 0.0, (3, 1), a, (1, 4), (4, 3), 0, "sum over dim 0 of a transposed (4, 3)")
    testing.assert_close(got, a.reshape(3, 4).T.sum(0), call="device_reduce(add) dim 0 of a transposed view")
    # more outputs than the grid has threads, and a dimension of size 1
    rows = 2 * GRID[0] * GRID[1] + 3
    a = rng.standard_normal(rows * 2)
    got, _ = reduce_on_device(total, 0.0, (1, 1), a, (2, 1), (rows, 2), 1, f"sum over dim 1 of ({rows}, 2)")
    testing.assert_close(got, a.reshape(rows, 2).sum(1), call=f"device_reduce(add) with {rows} outputs")
    got, _ = reduce_on_device(device_reduce(lambda acc, v: max(acc, v)), -np.inf, (1, 1), a[:5], (1, 1), (5, 1), 1,
                              "max over a dim of size 1")
    testing.assert_close(got, a[:5], call="device_reduce(max) over a dimension of size 1")
    # a start value that is not the identity: it is folded in
    got, _ = reduce_on_device(total, 100.0, (1,), np.arange(4.0), (1,), (4,), 0, "sum with start 100")
    testing.assert_close(got, [106.0], call="device_reduce(add) onto out = [100]")
### END HIDDEN TESTS

# %% [markdown]
# ## 10 · Your kernels train a network on the device
#
# Your launchers have the backend contract, so they become a backend as in chapters 03 and 04:
# `mt.Backend("mine_gpu", map=..., zip=..., reduce=..., matmul=..., storage=CudaStorage)`, with the package's
# CUDA storage (`minitorch_edu/backends/cuda/storage.py`), whose tensors live in device memory. The matmul is
# your tiled kernel of section 6 behind a small launcher (given below): it views contiguous operands as
# matrices in place and makes a contiguous copy of a transposed one **on the device**, with your
# `device_map`. Then every op of the training step runs on your kernels: forward, backward and the
# optimizer. Only creating a tensor (its upload, or the storage's fill kernel for `zeros`) and `loss.item()`
# (one number back per step) cross between host and device.
#
# `chapter.fallback` takes yours where they work and the package's CUDA launchers where they are not
# written yet, and says which. Each of the backend's four slots also counts its launches, so the training
# cell can say whose kernels ran, and how many times in one step.

# %%
from minitorch_edu.backends import scalar  # noqa: E402
from minitorch_edu.backends.cuda import backend as cuda_reference  # noqa: E402
from minitorch_edu.backends.cuda.storage import CudaStorage  # noqa: E402


def probe_device_map(f):
    f(lambda v: v)(cuda.device_array(1), (1,), cuda.to_device(np.ones(1)), (1,), (1,))


def probe_device_reduce(f):
    f(lambda u, v: u + v)(cuda.to_device(np.zeros(1)), (1,), cuda.to_device(np.ones(2)), (1,), (2,), 0)


gpu_map = chapter.fallback("device_map_zip", device_map, probe_device_map)
gpu_zip = device_zip if gpu_map is device_map else cuda_reference.tensor_zip  # map and zip are one part
gpu_reduce = chapter.fallback("device_reduce", device_reduce, probe_device_reduce)
copy_kernel = gpu_map(scalar.identity)


def as_matrix(x, strides, rows, cols):
    """A (rows, cols) device matrix of the strided storage x: a view when it is contiguous, else a copy
    made on the device by the map kernel."""
    if tuple(strides) == (cols, 1):
        return x[: rows * cols].reshape(rows, cols)
    dense = cuda.device_array(rows * cols, dtype=x.dtype)
    copy_kernel(dense, (cols, 1), x, tuple(strides), (rows, cols))
    return dense.reshape(rows, cols)


def make_device_matmul(factory, tpb):
    """The backend's matmul launcher around a tiled kernel factory (2-D products: the model needs no more)."""
    tiled = factory(tpb)  # compiled once, not per call

    def matmul(out, out_strides, a, a_strides, b, b_strides, out_shape, k):
        if len(out_shape) != 2:
            raise ValueError(f"this backend's matmul multiplies matrices; got an output of shape {out_shape}")
        n, m = out_shape
        A, B = as_matrix(a, a_strides[-2:], n, k), as_matrix(b, b_strides[-2:], k, m)
        contiguous = tuple(out_strides) == (m, 1)
        result = out[: n * m].reshape(n, m) if contiguous else cuda.device_array((n, m), dtype=out.dtype)
        tiled[(-(-m // tpb), -(-n // tpb)), (tpb, tpb)](result, A, B, n, k, m)  # x along the columns
        if not contiguous:
            copy_kernel(out, tuple(out_strides), result.reshape(n * m), (m, 1), (n, m))

    return matmul


if my_matmul is not None:
    gpu_matmul = make_device_matmul(my_matmul, TPB if SIMULATED else 16)
else:
    print("using the package's CUDA matmul: your tiled_matmul_kernel is not written yet")
    gpu_matmul = cuda_reference.tensor_matmul
# whose kernel each of the backend's four slots holds, and how often it is launched
KERNELS = {"map": "your device_map" if gpu_map is device_map else "the package's tensor_map",
           "zip": "your device_zip" if gpu_zip is device_zip else "the package's tensor_zip",
           "reduce": "your device_reduce" if gpu_reduce is device_reduce else "the package's tensor_reduce",
           "matmul": "your tiled_matmul_kernel" if my_matmul is not None else "the package's matmul"}
launches = dict.fromkeys(KERNELS, 0)


def counted(kind, launcher):
    """`launcher`, counting its launches in `launches[kind]`."""
    def launch(*args):
        launches[kind] += 1
        return launcher(*args)
    return launch


def counted_factory(kind, factory):
    """A kernel factory whose kernels count their launches (the backend makes one per scalar function)."""
    return lambda fn: counted(kind, factory(fn))


mine_gpu = mt.register_backend(mt.Backend(
    "mine_gpu", map=counted_factory("map", gpu_map), zip=counted_factory("zip", gpu_zip),
    reduce=counted_factory("reduce", gpu_reduce), matmul=counted("matmul", gpu_matmul), storage=CudaStorage,
))
print(mine_gpu, "on", "numba's CUDA simulator" if SIMULATED else f"the GPU {cuda.get_current_device().name}")
for kind, whose in KERNELS.items():
    print(f"  {kind:7s} {whose}")

# %% [markdown]
# The same two-layer network as in chapters 03 and 04, on points inside or outside a circle, trained twice
# from the same start: on your GPU backend and on the package's numba CPU backend. If your kernels are right,
# the two loss curves are the same curve. In the simulator every thread is a Python thread, so the run is
# tiny (16 points, 4 hidden units, 10 steps); on a GPU it is the full one (400 points, 16 hidden, 100 steps).

# %%
N_POINTS, HIDDEN, STEPS = (16, 4, 10) if SIMULATED else (400, 16, 100)
X, y = mt.data.toy.circle(N_POINTS, seed=0)
init = np.random.default_rng(0)
start_weights = [init.normal(0.0, 1.5, (2, HIDDEN)), np.zeros(HIDDEN),
                 init.normal(0.0, 1.0 / np.sqrt(HIDDEN), (HIDDEN, 2)), np.zeros(2)]


def train(device, steps=STEPS, lr=0.5):
    """Full-batch SGD on the circle set on `device`: (losses, parameters, copies during the last step)."""
    x_t, y_t = mt.tensor(X - 0.5, device=device), mt.tensor(y, device=device)
    params = [mt.tensor(w, dtype="float32", device=device, requires_grad=True) for w in start_weights]
    W1, b1, W2, b2 = params
    optimizer = mt.optim.SGD(params, lr=lr)
    losses = []
    for _ in range(steps):
        for kind in launches:  # the launches of the last step are kept
            launches[kind] = 0
        with transfers() as moved:
            logits = (x_t @ W1 + b1).tanh() @ W2 + b2
            loss = mt.nn.functional.cross_entropy(logits, y_t)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        losses.append(loss.item())  # the one number that comes back, outside the count
    return losses, params, moved


start = time.perf_counter()
gpu_losses, gpu_params, moved = train("mine_gpu")
gpu_s = time.perf_counter() - start
gpu_launches = dict(launches)  # before the CPU run (which launches none of them)
cpu_losses, _, _ = train("numba")
where = "numba's CUDA simulator" if SIMULATED else f"the GPU ({cuda.get_current_device().name})"
print(f"{STEPS} steps on your kernels in {where}: {gpu_s:.1f} s; loss {gpu_losses[0]:.4f} -> {gpu_losses[-1]:.4f}")
print(f"copies between host and device during a training step: {moved} (the parameters live on the device)")
print("kernels launched in that step:", ", ".join(f"{KERNELS[kind]} {n}x" for kind, n in gpu_launches.items()))
print(f"the same steps on the package's CPU backend agree: {np.allclose(gpu_losses, cpu_losses, rtol=1e-4)} "
      f"(largest difference {max(abs(g - c) for g, c in zip(gpu_losses, cpu_losses)):.1e})")
print("parameters still on the device:", all(on_device(p._storage) for p in gpu_params))

# %%
fig, ax = plt.subplots(figsize=(6, 3.2))
ax.plot(cpu_losses, "o-", label="package's numba backend (CPU)", alpha=0.6)
ax.plot(gpu_losses, "x--", label=f"your kernels ({'simulator' if SIMULATED else 'GPU'})")
ax.set_xlabel("step")
ax.set_ylabel("cross-entropy loss")
ax.set_title(f"the same training on your GPU backend and on the CPU, {N_POINTS} points", fontsize=10)
ax.legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 11 · The memory system: what decides a GPU's speed
#
# A GPU does arithmetic far faster than it can fetch numbers: on the H100 measured below, cuBLAS does about
# 51 trillion float32 operations a second, while an elementwise add moves about 2.7 trillion bytes a second,
# under a trillion floats. A kernel that does a few operations per number it loads is **memory-bound**: its
# speed is set by how it uses memory. Four ideas cover most of it.
#
# - **Warps.** A block's threads run in groups of 32, the warps, made of consecutive `threadIdx.x` first
#   (then `y`). The 32 threads of a warp execute each instruction together, so each load or store of a warp
#   is **one request** for 32 addresses.
# - **Coalescing.** Global memory is read and written in 32-byte **sectors**. When the 32 threads of a warp
#   ask for 32 consecutive float32 (128 bytes), the request takes 4 sectors; when each asks for a float in a
#   different row, it takes 32, eight times the traffic for the same numbers. That is why `threadIdx.x`
#   goes along a row (to consecutive columns) in the tiled matmul of section 6.
# - **Shared memory and banks.** Shared memory is split into 32 **banks**, each serving one 4-byte word per
#   cycle (word `w` is in bank `w % 32`). A warp's request is served in one pass unless several threads want
#   *different* words of the *same* bank: a **bank conflict**, one extra pass per extra word. (Many threads
#   reading the same word is a broadcast, no conflict.)
# - **Occupancy.** While one warp waits for memory (hundreds of cycles), the SM runs another. The more warps
#   an SM holds at once, the better it hides the wait; how many fit is set by each block's threads,
#   registers and shared memory.
#
# The simulator cannot time any of this, but it can **count** it, as the popular GPU puzzles do and as
# NVIDIA's profiler Nsight Compute reports: `counting_memory()` (`minitorch_edu/gpu_memory.py`) records every
# access of the kernels launched inside it, groups them by warp and by place in the kernel, and counts the
# sectors of each global request and the extra passes of each shared one. Two copies of the same 32 × 64
# float32 matrix, one with `threadIdx.x` along the rows, one down the columns:

# %%
@cuda.jit
def copy_along_rows(out, a):
    i = cuda.blockIdx.y * cuda.blockDim.y + cuda.threadIdx.y  # row from y
    j = cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x  # column from x: a warp reads along a row
    if i < a.shape[0] and j < a.shape[1]:
        out[i, j] = a[i, j]


@cuda.jit
def copy_down_columns(out, a):
    i = cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x  # row from x: a warp reads down a column
    j = cuda.blockIdx.y * cuda.blockDim.y + cuda.threadIdx.y
    if i < a.shape[0] and j < a.shape[1]:
        out[i, j] = a[i, j]


def sectors_of(kernel, grid, block, shape=(32, 64)):
    """The memory counts of one launch of kernel(out, a) on a float32 matrix of `shape`."""
    a = np.arange(size_of(shape), dtype=np.float32).reshape(shape)
    out = np.zeros_like(a)
    with counting_memory() as counts:
        kernel[grid, block](out, a)
    assert np.array_equal(out, a)
    return counts


if SIMULATED:
    along = sectors_of(copy_along_rows, (2, 8), (32, 4))
    down = sectors_of(copy_down_columns, (1, 16), (32, 4))
    print("threadIdx.x along the rows (coalesced):\n", along, "\n", sep="")
    print("threadIdx.x down the columns (strided):\n", down, sep="")
else:
    print("on a GPU the simulator's counters are off: Nsight Compute reports the same counts")

# %% [markdown]
# Same data, same work: 4 sectors per request against 32. On a real GPU the strided copy moves eight times
# the bytes through the memory system and runs several times slower. The same count tells why the tiled
# matmul beats the naive one: each thread of the naive matmul (one output each, everything from global
# memory) reads a whole row of `a` and a whole column of `b`, so every element is fetched `N` times; the
# tiled one fetches each element once per tile of `tpb` outputs. Counted on a 16 × 16 product with blocks of
# 8 × 8 threads (your tiled kernel if it is written):

# %%
@cuda.jit
def naive_matmul(out, a, b, M, K, N):
    i = cuda.blockIdx.y * cuda.blockDim.y + cuda.threadIdx.y
    j = cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x
    if i < M and j < N:
        acc = 0.0
        for r in range(K):
            acc += a[i, r] * b[r, j]
        out[i, j] = acc


def global_traffic(kernel, n=16, tpb=8):
    """(requests, sectors) of the global loads of one (n, n) @ (n, n) float32 launch of `kernel`."""
    a = np.arange(n * n, dtype=np.float32).reshape(n, n) / n
    out = np.zeros((n, n), np.float32)
    with counting_memory() as counts, in_thread_order():
        kernel[(-(-n // tpb), -(-n // tpb)), (tpb, tpb)](out, a, a, n, n, n)
    assert np.allclose(out, a @ a, rtol=1e-4)
    return counts.global_loads.requests, counts.global_loads.sectors


if SIMULATED:
    contestants = {"naive (global memory only)": naive_matmul}
    if my_matmul is not None:
        contestants["your tiled_matmul_kernel(8)"] = my_matmul(8)
    print(f"{'16 x 16 @ 16 x 16, float32':32s} {'load requests':>14s} {'sectors loaded':>15s}")
    for name, kernel in contestants.items():
        requests, sectors = global_traffic(kernel)
        print(f"{name:32s} {requests:14d} {sectors:15d}")

# %% [markdown]
# ### Measured on a real GPU
#
# Counts say what a kernel asks of the memory; a GPU says what it costs. These numbers were measured for this
# course on an **NVIDIA H100** (80 GB, one card), float32, with numba.cuda and PyTorch in late 2026. Rows
# marked *not measured* were not: the chapter does not guess them.
#
# | what (float32) | measured on the H100 |
# | --- | --- |
# | matmul 4096², cuBLAS (through PyTorch) | ≈ 51 TFLOP/s |
# | matmul 4096², numba, 4 × 4 outputs per thread in registers (the package's kernel) | ≈ 15 TFLOP/s |
# | matmul 4096², numba, 16 × 16 shared-memory tiles (this chapter's kernel) | ≈ 7 TFLOP/s |
# | matmul 4096², naive numba kernel (global memory only) | *not measured* |
# | elementwise add, numba, device arrays (coalesced) | ≈ 2.7 TB/s moved |
# | one kernel launch through numba | ≈ 28 µs |
# | a kernel given NumPy arrays: copies every array both ways on every call | yes; its time *not measured* |
#
# Read it with the counts: the tiled kernel reads each element of `a` and `b` from global memory `N / 16`
# times instead of `N` times; register tiles cut the shared-memory traffic again by computing 16 outputs per
# thread; cuBLAS adds tensor cores and double buffering. And a launch costs about 28 µs whatever it does,
# which is why frameworks fuse small ops into one kernel (`torch.compile`, XLA) and keep tensors on the device.

# %% [markdown]
# ### Exercise: a transpose without strided stores or bank conflicts
#
# A transpose is all memory: `out[j, i] = a[i, j]`. Done naively, one thread per element with `threadIdx.x`
# along the columns of `a`, the loads are coalesced but the stores are not: consecutive threads write
# consecutive **rows** of `out`, 32 sectors per request. The fix is a tile in shared memory: a block reads a
# `TILE × TILE` tile of `a` along its rows (coalesced) into shared memory, syncs, then writes the tile to
# `out` along `out`'s rows (coalesced), reading the tile **down a column**. That column read is where the
# banks bite: in a `(TILE, TILE)` float32 tile with `TILE = 32`, the 32 words of a column are 32 apart, all
# in the same bank, so a warp's read takes 32 passes. Pad the tile to `(TILE, TILE + 1)`: then the words of
# a column are 33 apart and fall in 32 different banks. (NVIDIA's "An Efficient Matrix Transpose in CUDA C++"
# measures this exact kernel.)
#
# Write `transpose_kernel()`: it returns a kernel `kernel(out, a, rows, cols)` with `out` (cols, rows) =
# `a.T`, launched with blocks of `(TILE, ROWS)` threads, `ROWS = 8`, on a grid of
# `(ceil(cols / TILE), ceil(rows / TILE))` blocks. Block `(bx, by)` moves the tile whose top-left corner in
# `a` is `(by * TILE, bx * TILE)`; each thread moves `TILE / ROWS` elements, at rows `ty, ty + ROWS, ...`
# of the tile. Skip elements outside `a` (sizes need not be multiples of `TILE`). The checks count your
# kernel: every global load and store coalesced, no bank conflict.

# %% [solution] id=transpose_kernel
TILE, ROWS = 32, 8


def transpose_kernel():
    """Return kernel(out, a, rows, cols): out (cols, rows) = a.T for a float32 a (rows, cols), launched as
    kernel[(ceil(cols / TILE), ceil(rows / TILE)), (TILE, ROWS)]: loads and stores coalesced, no bank
    conflict.

        @cuda.jit
        def kernel(out, a, rows, cols):
            tile = cuda.shared.array((TILE, ...), numba.float32)
            ...  # load the tile along a's rows, syncthreads, store it along out's rows
        return kernel
    """
    ### BEGIN SOLUTION
    @cuda.jit
    def kernel(out, a, rows, cols):
        tile = cuda.shared.array((TILE, TILE + 1), numba.float32)  # + 1: a column spans all 32 banks
        tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
        row0, col0 = cuda.blockIdx.y * TILE, cuda.blockIdx.x * TILE  # the tile's corner in a
        for k in range(0, TILE, ROWS):
            if row0 + ty + k < rows and col0 + tx < cols:
                tile[ty + k, tx] = a[row0 + ty + k, col0 + tx]  # along a row of a: coalesced
        cuda.syncthreads()
        for k in range(0, TILE, ROWS):  # out's tile has its corner at (col0, row0)
            if col0 + ty + k < cols and row0 + tx < rows:
                out[col0 + ty + k, row0 + tx] = tile[tx, ty + k]  # along a row of out: coalesced

    return kernel
    ### END SOLUTION


# %% [tests] id=transpose_kernel_tests points=5
def run_transpose(kernel, a):
    """(out, memory counts or None on a GPU) of one launch of `kernel` on the float32 matrix `a`."""
    rows, cols = a.shape
    out = np.full((cols, rows), np.nan, np.float32)
    launch = kernel[(-(-cols // TILE), -(-rows // TILE)), (TILE, ROWS)]
    if not SIMULATED:  # the counters need the simulator: on a GPU only the result is checked
        launch(out, a, rows, cols)
        return out, None
    with counting_memory() as counts, in_thread_order():
        launch(out, a, rows, cols)
    return out, counts


def check_transpose_counts(counts, call):
    """Every global load and store coalesced, no shared-memory bank conflict (in the simulator)."""
    if counts is None:
        return
    testing.assert_true(counts.global_loads.coalesced, call=f"{call}: global loads",
                        got=f"{counts.global_loads.sectors_per_request:.1f} sectors per request",
                        expected=f"at most {counts.global_loads.ideal_sectors / counts.global_loads.requests:.1f}",
                        hint="read a along its rows: consecutive threadIdx.x read consecutive columns of a")
    testing.assert_true(counts.global_stores.coalesced, call=f"{call}: global stores",
                        got=f"{counts.global_stores.sectors_per_request:.1f} sectors per request",
                        expected=f"at most {counts.global_stores.ideal_sectors / counts.global_stores.requests:.1f}",
                        hint="each thread of a warp writes a different row of out: go through a tile in shared "
                             "memory and write out along its rows, out[col0 + ty + k, row0 + tx] = tile[tx, ty + k]")
    conflicts = counts.shared_loads.bank_conflicts + counts.shared_stores.bank_conflicts
    testing.assert_true(conflicts == 0, call=f"{call}: shared-memory bank conflicts",
                        got=f"{conflicts} extra passes over {counts.shared_loads.requests} shared loads",
                        expected="0",
                        hint="a column of a (TILE, TILE) float32 tile is in one bank: pad it to (TILE, TILE + 1)")


with testing.part("transpose_kernel"):
    kernel = transpose_kernel()
    own(kernel, "transpose_kernel")
    A = np.arange(32 * 64, dtype=np.float32).reshape(32, 64)
    call = "transpose_kernel() on a (32, 64) float32, blocks of (32, 8), grid (2, 1)"
    with explained(call, "a thread read or wrote outside a or out: check both bounds, and that the tile's "
                   "corner in out is (col0, row0)"):
        got, counts = run_transpose(kernel, A)
    testing.assert_close(got, A.T, call=call, hints=[
        (lambda got, exp: np.isnan(got).any(), "some elements were never written: does each thread move "
         "rows ty, ty + ROWS, ... of the tile (range(0, TILE, ROWS))?"),
        "is there a cuda.syncthreads() between loading the tile and storing it?",
    ])
    print(counts if counts is not None else "on a GPU: the memory counts need the simulator")
    check_transpose_counts(counts, call)
### BEGIN HIDDEN TESTS
with testing.part("transpose_kernel", hidden=True):
    rng = np.random.default_rng(11)
    for shape in [(40, 24), (1, 33), (64, 32)]:  # not multiples of TILE, a single row, taller than wide
        A = rng.standard_normal(shape).astype(np.float32)
        with explained(f"transpose_kernel() on a {shape} float32", "a thread read or wrote outside a or out"):
            got, counts = run_transpose(transpose_kernel(), A)
        testing.assert_close(got, A.T, call=f"transpose_kernel() on a {shape} float32")
        check_transpose_counts(counts, f"transpose_kernel() on a {shape} float32")
### END HIDDEN TESTS

# %% [markdown]
# ### Occupancy
#
# The last idea needs no simulator, only arithmetic. An SM of an H100 (compute capability 9.0, from NVIDIA's
# tuning guide, not measured here) holds at most 2048 threads (64 warps) and 32 blocks, has 65 536 registers
# and up to 228 KB of shared memory. A block is placed on an SM only whole, so whichever of threads,
# registers or shared memory runs out first decides how many warps are resident: the **occupancy** is that
# number over 64 (a simplified model: the hardware also rounds registers and shared memory up to its
# allocation units). Compute it for a few launches, and move the knobs (the control needs a live notebook).

# %%
SM_LIMITS = {"threads": 2048, "blocks": 32, "registers": 65_536, "shared_bytes": 228 * 1024}  # H100, cc 9.0


def occupancy(threads_per_block, registers_per_thread, shared_bytes_per_block, limits=SM_LIMITS):
    """(resident warps per SM, the fraction of the 64 possible, what limits it) for one kernel's launch."""
    fits = {"threads": limits["threads"] // threads_per_block, "blocks": limits["blocks"],
            "registers": limits["registers"] // max(1, registers_per_thread * threads_per_block),
            "shared memory": (limits["shared_bytes"] // shared_bytes_per_block if shared_bytes_per_block
                              else limits["blocks"])}
    blocks_per_sm = min(fits.values())
    warps = blocks_per_sm * -(-threads_per_block // 32)
    return warps, warps / (limits["threads"] // 32), min(fits, key=fits.get)


def show_occupancy(threads_per_block=256, registers_per_thread=32, shared_kb=8):
    warps, fraction, limit = occupancy(threads_per_block, registers_per_thread, shared_kb * 1024)
    print(f"{threads_per_block} threads, {registers_per_thread} registers each, {shared_kb} KB shared per block: "
          f"{warps} warps per SM, occupancy {fraction:.0%} (limited by {limit})")


for launch in [(256, 32, 8), (256, 128, 8), (1024, 64, 0), (256, 32, 64), (64, 32, 2)]:
    show_occupancy(*launch)

# %%
interact(show_occupancy, threads_per_block=("int", 256, 32, 1024), registers_per_thread=("int", 32, 16, 255),
         shared_kb=("int", 8, 0, 227))

# %% [markdown]
# High occupancy is not a goal in itself: cuBLAS's kernels often run at 25 % and win by keeping many outputs
# per thread in registers. But a kernel that fits only one or two warps per SM has nothing to run while they
# wait for memory, and then the counts of this section decide everything.

# %% [markdown]
# ## What you built, and what frameworks call it
#
# - Map and zip kernels: every elementwise op of PyTorch on CUDA (`gpu_kernel` in ATen), of JAX/XLA's
#   fused elementwise kernels, of TensorFlow's `Eigen` GPU device. The grid-stride loop and the bounds
#   check are in all of them.
# - A tree reduction in shared memory with `syncthreads`: the pattern behind `torch.sum`, `jnp.sum` and
#   every softmax and layer norm on a GPU.
# - A tiled matmul: the first step towards cuBLAS and CUTLASS, which add register tiles, tensor cores and
#   double buffering.
# - Device-resident data: `x.to("cuda")`, `jax.device_put`. Your launchers refuse host arrays and copy
#   nothing, so a whole training step ran with zero copies; the package's CUDA backend
#   (`minitorch_edu/backends/cuda/backend.py`) is built the same way, with flat fast paths and faster reductions.
# - The memory system: coalesced global access, shared memory without bank conflicts, occupancy. Nsight
#   Compute reports the same counts on a GPU ("sectors per request", "bank conflicts"); cuBLAS, CUTLASS and
#   Triton are designed around them.
# - A backend of your own on the GPU: the same `mt.Backend` contract as chapters 03 and 04, now with device
#   storage. PyTorch's out-of-tree devices plug in at the same place.
