"""Schedules that make a race show on every run, for checking parallel kernels.

A race is a wrong result that depends on timing: run a racy kernel ten times and it may be right nine.
A check can only catch one reliably by fixing the timing at the moment that matters:

- `shared_writes(loop)` (numba's CPU threads): the arrays a compiled `prange` loop allocates outside the
  loop and writes inside it (a buffer every thread overwrites), read off numba's own analysis of the loop.
- `paired(fn)` (numba's CPU threads): `fn` as a scalar function whose every call waits for a call of
  another thread. Two threads of a `prange` loop are then always inside an iteration at the same time,
  so state their iterations share (an index buffer allocated outside the loop, one output element) is
  overwritten in the middle of an iteration, on every run.
- `in_thread_order()` (numba's CUDA simulator): a block's threads run one at a time, in thread order, each
  up to its next `cuda.syncthreads()` (and, optionally, up to each access to global memory). A missing
  barrier then shows as a wrong result every time, and a barrier that only some threads of a block reach
  (a `syncthreads()` inside an `if`) is refused with a `DivergentBarrierError` error: on a GPU it hangs or
  corrupts the block.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numba
import numpy as np
from llvmlite import ir as llvm_ir
from numba import types
from numba.core import ir
from numba.core.extending import intrinsic

__all__ = ["DivergentBarrierError", "in_thread_order", "paired", "shared_writes", "simulated"]


# ---------------------------------------------------------------------------------------------------- CPU


@intrinsic
def _fetch_add(typingctx, address):  # noqa: ARG001 (numba's intrinsic signature)
    """Atomically add 1 to the int64 at `address`; the value it held before."""

    def codegen(context, builder, signature, args):  # noqa: ARG001
        pointer = builder.inttoptr(args[0], llvm_ir.IntType(64).as_pointer())
        return builder.atomic_rmw("add", pointer, llvm_ir.Constant(llvm_ir.IntType(64), 1), "seq_cst")

    return types.int64(types.intp), codegen


@intrinsic
def _load(typingctx, address):  # noqa: ARG001
    """The int64 at `address`, read atomically (never cached in a register across a wait)."""

    def codegen(context, builder, signature, args):  # noqa: ARG001
        pointer = builder.inttoptr(args[0], llvm_ir.IntType(64).as_pointer())
        return builder.load_atomic(pointer, "seq_cst", 8)

    return types.int64(types.intp), codegen


_libc = ctypes.CDLL(ctypes.util.find_library("c") or None)
_usleep = _libc.usleep
_usleep.argtypes = [ctypes.c_uint]
_usleep.restype = ctypes.c_int

# one counter of arrivals per process: calls meet in pairs, the 1st with the 2nd, the 3rd with the 4th...
_ARRIVALS = np.zeros(1, np.int64)
_ADDRESS = _ARRIVALS.ctypes.data


@numba.njit
def _meet(address):
    """Wait until another call has arrived too (its pair), or about 0.1 s (a thread left alone goes on)."""
    ticket = _fetch_add(address)
    goal = ticket - ticket % 2 + 2
    for _ in range(10_000):
        if _load(address) >= goal:
            return
        _usleep(10)


def _paired_unary(fn: Callable) -> Callable:
    inner = numba.njit(fn)

    def call(x):
        _meet(_ADDRESS)
        return inner(x)

    return call


def _paired_binary(fn: Callable) -> Callable:
    inner = numba.njit(fn)

    def call(x, y):
        _meet(_ADDRESS)
        return inner(x, y)

    return call


def paired(fn: Callable) -> Callable:
    """`fn` (a scalar function of one or two floats), whose every call first waits for a call made by
    another thread: pass it to a kernel factory in place of `fn`.

    With two threads in a `prange` loop, each thread's iteration is then held inside the call to `fn`
    until the other thread's iteration is there too: whatever the iterations share is written by both
    before either finishes, every time (a thread left alone goes on after about 0.1 s). Needs numba to
    run at least two threads (`numba.set_num_threads(2)`); on one thread nothing waits.
    """
    _ARRIVALS[0] = 0
    arity = fn.__code__.co_argcount
    if arity not in (1, 2):
        raise ValueError(f"paired: fn takes 1 or 2 arguments, {fn.__name__} takes {arity}")
    call = _paired_unary(fn) if arity == 1 else _paired_binary(fn)
    call.__name__ = call.__qualname__ = f"paired_{fn.__name__}"
    return call


def _base(name: str, definitions: dict) -> str:
    """The variable a view was taken from: `index[: nd - 2]` -> `index` (through getitem and copies)."""
    seen = set()
    while name in definitions and name not in seen:
        seen.add(name)
        value = definitions[name]
        if isinstance(value, ir.Var):
            name = value.name
        elif isinstance(value, ir.Expr) and value.op in ("getitem", "static_getitem", "getattr"):
            name = value.value.name
        else:
            break
    return name


def _definitions(blocks) -> dict:
    return {st.target.name: st.value for block in blocks for st in block.body if isinstance(st, ir.Assign)}


def _written(blocks, definitions: dict, depth: int) -> set[str]:
    """Names of the variables that `blocks` write into: setitem targets, and arguments passed to an njit
    function that writes into them."""
    written = set()
    for block in blocks:
        for st in block.body:
            if isinstance(st, (ir.SetItem, ir.StaticSetItem)):
                written.add(_base(st.target.name, definitions))
            elif isinstance(st, ir.Assign) and isinstance(st.value, ir.Expr) and st.value.op == "call":
                callee = definitions.get(st.value.func.name)
                target = getattr(callee, "value", None)
                if depth and isinstance(target, numba.core.registry.CPUDispatcher):
                    for position in _written_arguments(target, depth - 1):
                        if position < len(st.value.args):
                            written.add(_base(st.value.args[position].name, definitions))
    return written


def _written_arguments(dispatcher, depth: int = 3) -> set[int]:
    """Positions of the arguments that the njit function `dispatcher` writes into."""
    func_ir = numba.core.compiler.run_frontend(dispatcher.py_func)
    definitions = _definitions(func_ir.blocks.values())
    arguments = {name: value.index for name, value in definitions.items() if isinstance(value, ir.Arg)}
    return {arguments[name] for name in _written(func_ir.blocks.values(), definitions, depth) if name in arguments}


def shared_writes(dispatcher) -> set[str]:
    """Names of the arrays that the iterations of a `prange` loop of `dispatcher` (a compiled
    `@njit(parallel=True)` function) share and write: made outside the loop, written inside it, directly or
    through an njit function (`to_index(i, shape, index)` writes `index`). Arrays the function was given
    (`out`) are not counted: writing the output is the kernel's job, and who writes which element is
    checked by running it. Empty when nothing is compiled yet."""
    found: set[str] = set()
    for compiled in dispatcher.overloads.values():
        diagnostics = compiled.metadata.get("parfor_diagnostics")
        if diagnostics is None:
            continue
        arguments = set(compiled.fndesc.args)
        for parfor in diagnostics.get_parfors():
            blocks = list(parfor.loop_body.values())
            definitions = {**_definitions(diagnostics.func_ir.blocks.values()), **_definitions(blocks)}
            for name in _written(blocks, definitions, depth=3):
                base = name.split(".")[0]
                if name in parfor.params and base not in arguments:
                    found.add(base)
    return found


# -------------------------------------------------------------------------------------------------- CUDA


class DivergentBarrierError(RuntimeError):
    """Some threads of a block wait at `cuda.syncthreads()` while others of the block have finished."""


def simulated() -> bool:
    """Whether numba.cuda runs in its CUDA simulator (NUMBA_ENABLE_CUDASIM=1)."""
    return os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"


def _divergent(waiting: list, finished: list) -> DivergentBarrierError:
    def names(threads: list) -> str:
        shown = ", ".join(str(t.threadIdx.x) if t.threadIdx.y == t.threadIdx.z == 0 else
                          f"({t.threadIdx.x}, {t.threadIdx.y}, {t.threadIdx.z})" for t in threads[:6])
        return shown + (", ..." if len(threads) > 6 else "")

    return DivergentBarrierError(
        f"cuda.syncthreads() reached by only some threads of a block: {len(waiting)} threads wait at a barrier "
        f"(threadIdx {names(waiting)}) that {len(finished)} threads of the same block never reach (they "
        f"finished: threadIdx {names(finished)}). Every thread of a block must reach every syncthreads(): "
        "keep it outside `if`s that depend on the thread, and outside loops whose count depends on it. "
        "On a GPU this hangs or corrupts the block."
    )


@contextmanager
def in_thread_order(turns_at_global_memory: bool = False, check_barriers: bool = True) -> Iterator[None]:
    """In the simulator: run each block's threads one at a time, in thread order, each up to its next
    `cuda.syncthreads()`. Without a barrier where one is needed, thread 0 then reads slots that the
    threads after it have not written yet, every time, so a race shows as a wrong result. (The
    simulator's own schedule releases threads from a barrier in no fixed order; a real GPU in warps.)

    With `turns_at_global_memory=True` a thread also stops before each read or write of a device
    (global) array, and the threads take turns there as well, in thread order: threads that add into the
    same slot (`out[b] += x`) then all read it before any writes it back, and additions are lost, as
    they are on a GPU.

    With `check_barriers` (the default), a barrier that some threads of a block wait at while others of
    the block have already finished raises `DivergentBarrierError`. On a real GPU this does nothing."""
    if not simulated():
        yield
        return
    from numba.cuda.simulator import kernel as simulator  # only importable when the simulator is on
    from numba.cuda.simulator.cudadrv import devicearray as simulated_arrays

    def pause() -> None:  # a thread of this schedule waits for its turn before it touches global memory
        t = threading.current_thread()
        if getattr(t, "takes_turns", False):
            t.access_blocked = True
            t.access_event.wait()
            t.access_event.clear()
            if t.abort:
                raise RuntimeError("aborted: another thread of the block failed")

    def run(manager, grid_point, *args) -> None:
        threads = [simulator.BlockThread(lambda: manager._f(*args), manager, grid_point, point, manager._debug)
                   for point in np.ndindex(*manager._block_dim)]
        for t in threads:
            t.takes_turns, t.access_blocked, t.access_event = turns_at_global_memory, False, threading.Event()

        def stop_all() -> None:  # release every waiting thread with `abort` set: each raises and ends
            for other in threads:
                other.abort = True
                other.syncthreads_blocked = other.access_blocked = False
                other.syncthreads_event.set()
                other.access_event.set()

        def advance(t) -> None:  # let t run until it waits at a barrier or before a global access, or ends
            while t.is_alive() and not (t.syncthreads_blocked or t.access_blocked):
                time.sleep(0)
            if t.exception:
                stop_all()
                raise t.exception[0].with_traceback(t.exception[1])

        def release(t, event) -> None:
            t.syncthreads_blocked = t.access_blocked = False
            event.set()
            advance(t)

        for t in threads:
            t.start()
            advance(t)
        while any(t.is_alive() for t in threads):
            if any(t.is_alive() and t.access_blocked for t in threads):
                for t in threads:  # a turn at global memory for each thread waiting there, in order
                    if t.is_alive() and t.access_blocked:
                        release(t, t.access_event)
                continue
            finished = [t for t in threads if not t.is_alive()]
            if check_barriers and finished:
                waiting = [t for t in threads if t.is_alive()]
                stop_all()
                for t in waiting:
                    t.join(1.0)
                raise _divergent(waiting, finished)
            for t in threads:  # every live thread waits at the barrier: release them in order
                if t.is_alive():
                    release(t, t.syncthreads_event)

    original = simulator.BlockManager.run
    array_class = simulated_arrays.FakeWithinKernelCUDAArray
    original_get, original_set = array_class.__getitem__, array_class.__setitem__

    def get(array, index):
        pause()
        return original_get(array, index)

    def put(array, index, value) -> None:
        pause()
        original_set(array, index, value)

    simulator.BlockManager.run = run
    array_class.__getitem__, array_class.__setitem__ = get, put
    try:
        yield
    finally:
        simulator.BlockManager.run = original
        array_class.__getitem__, array_class.__setitem__ = original_get, original_set
