"""Kernel launches with less host work per call: `launch(kernel, grid, block, *args)`.

`kernel[grid, block](*args)` in numba.cuda types every argument, wraps every array in a memory
view and builds the driver's parameter list through cuda.core, on every call. That host work
costs more than many of the kernels themselves: a training step launches about 25 of them.

Here the first launch of a kernel for a given layout of arguments (array dtypes and ranks, tuple
lengths, scalar types) goes through numba, which compiles the kernel. After it, the compiled
function's driver handle and a packing recipe are kept, and later launches pack the arguments
with `struct` in numba's own calling convention and call the driver's `cuLaunchKernel` through
ctypes: the same kernel, the same stream (the default one), less Python on the way.

Anything this path does not know (the simulator, a debug kernel, an argument type outside the
recipe, a driver that cannot be loaded) goes through numba as before. MINITORCH_EDU_CUDA_LAUNCH=numba
turns the fast path off (for comparison).
"""

from __future__ import annotations

import ctypes
import os
import struct
import threading
from typing import Any

import numpy as np
from numba import cuda

# numba's calling convention, per numba type name: each parameter in its own 8-byte slot
_SCALAR_FORMATS = {
    "int64": "q",
    "uint64": "Q",
    "int32": "i4x",
    "uint32": "I4x",
    "float64": "d",
    "float32": "f4x",
    "bool": "?7x",
}
_NOT_FAST = object()  # a layout whose launches stay on numba's path
_ARRAY_CLASSES: set[type] = set()  # classes seen to be numba device arrays


def _describe(arg: Any) -> Any:
    """A cheap key for what numba would type `arg` as (None: not handled here)."""
    kind = type(arg)
    if kind in _ARRAY_CLASSES:  # the common case first
        return _describe_array(arg)
    if kind is bool or kind is int or kind is float:
        return kind
    if kind is tuple:
        return tuple(_describe(x) for x in arg)
    if isinstance(arg, np.generic):
        return kind
    if getattr(arg, "shape", None) is not None and hasattr(arg, "device_ctypes_pointer"):  # a numba device array
        _ARRAY_CLASSES.add(kind)
        return _describe_array(arg)
    return None


def _describe_array(arg: Any) -> Any:
    """(dtype, ndim, layout) of a device array; for 1-D, layout is whether it is contiguous."""
    if len(arg.shape) == 1:
        return (arg.dtype, 1, arg.strides[0] == arg.dtype.itemsize or arg.shape[0] <= 1)
    return (arg.dtype, len(arg.shape), arg._numba_type_.layout)


class _Plan:
    """How to launch one compiled kernel for one layout of arguments."""

    def __init__(self, function: int, argument_types: tuple[Any, ...]) -> None:
        self.function = function
        self.kinds: list[Any] = []  # per argument: "array", "tuple" or "scalar"
        formats: list[str] = []
        for ty in argument_types:
            self.kinds.append(_recipe(ty, formats))
        self.format = "<" + "".join(formats)
        self.struct = struct.Struct(self.format)
        self.slots = len(formats)
        # one parameter buffer per plan, written under the lock and read by cuLaunchKernel (which
        # copies the values before it returns), and the array of pointers to its slots
        self.buffer = ctypes.create_string_buffer(8 * max(self.slots, 1))
        base = ctypes.addressof(self.buffer)
        self.pointers = (ctypes.c_void_p * max(self.slots, 1))(*range(base, base + 8 * max(self.slots, 1), 8))
        self.pointers_address = ctypes.addressof(self.pointers)
        self.lock = threading.Lock()

    def values(self, args: tuple[Any, ...]) -> list[Any]:
        """The parameter values, in numba's order: an array is (meminfo, parent, size, itemsize,
        data pointer, *shape, *strides in bytes); a tuple is its elements."""
        values: list[Any] = []
        for kind, arg in zip(self.kinds, args):
            if kind == "array":
                values += (0, 0, arg.size, arg.dtype.itemsize, arg.device_ctypes_pointer.value or 0)
                values += arg.shape
                values += arg.strides
            elif kind == "tuple":
                values += arg
            else:
                values.append(arg)
        return values

    def pack(self, args: tuple[Any, ...]) -> bytes:
        return self.struct.pack(*self.values(args))


def _recipe(ty: Any, formats: list[str]) -> str:
    """Append the slot formats of numba type `ty` to `formats`; return its kind."""
    from numba.cuda import types

    if isinstance(ty, types.Array):
        formats += ["q"] * (5 + 2 * ty.ndim)  # meminfo, parent, size, itemsize, data, shape, strides
        return "array"
    if isinstance(ty, types.BaseTuple):
        for element in ty:
            if str(element) not in _SCALAR_FORMATS:
                raise NotImplementedError(f"tuple element {element}")
            formats.append(_SCALAR_FORMATS[str(element)])
        return "tuple"
    name = "bool" if ty == types.boolean else str(ty)
    if name not in _SCALAR_FORMATS:
        raise NotImplementedError(f"argument type {ty}")
    formats.append(_SCALAR_FORMATS[name])
    return "scalar"


class _Driver:
    """The driver entry points this module calls, loaded once."""

    def __init__(self) -> None:
        from numba.cuda.cudadrv import driver as numba_driver

        numba_driver.driver.cuInit(0)  # the library numba loaded; this only makes sure it is up
        lib = None
        for name in ("libcuda.so.1", "libcuda.so"):
            try:
                lib = ctypes.CDLL(name)
                break
            except OSError:
                continue
        if lib is None:
            raise OSError("libcuda not found")
        self.launch = lib.cuLaunchKernel
        self.launch.restype = ctypes.c_int
        self.launch.argtypes = [ctypes.c_void_p] + [ctypes.c_uint] * 7 + [ctypes.c_void_p] * 3
        self.kernel_function = lib.cuKernelGetFunction
        self.kernel_function.restype = ctypes.c_int
        self.kernel_function.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_void_p]

    def function_of(self, handle: Any) -> int:
        """The CUfunction in the current context of a kernel handle (a CUkernel from cuda.core)."""
        function = ctypes.c_void_p()
        if self.kernel_function(ctypes.byref(function), ctypes.c_void_p(int(handle))) == 0 and function.value:
            return function.value
        return int(handle)  # already a CUfunction


_driver: _Driver | None = None
_plans: dict[int, tuple[Any, dict[Any, Any]]] = {}  # id(kernel) -> (kernel, {layout: plan})
# off in numba's simulator (no driver) and where asked
enabled = os.environ.get("MINITORCH_EDU_CUDA_LAUNCH", "fast") != "numba" and hasattr(cuda, "as_cuda_array")


def _plan_for(kernel: Any, layout: Any, args: tuple[Any, ...]) -> Any:
    """After numba launched `kernel` with `args` (compiling it), the plan for later launches."""
    global _driver  # noqa: PLW0603
    try:
        argtypes = tuple(kernel.typeof_pyval(a) for a in args)
        compiled = kernel.overloads.get(argtypes)
        if compiled is None or compiled.debug or compiled.cooperative or kernel.targetoptions.get("extensions"):
            return _NOT_FAST
        if _driver is None:
            _driver = _Driver()
        return _Plan(_driver.function_of(compiled._codelibrary.get_cufunc().handle), compiled.argument_types)
    except (NotImplementedError, OSError, AttributeError):
        return _NOT_FAST


def _grid3(dims: Any) -> tuple[int, int, int]:
    if isinstance(dims, int):
        return dims, 1, 1
    dims = tuple(dims) + (1, 1)
    return dims[0], dims[1], dims[2]


def launch(kernel: Any, grid: Any, block: Any, *args: Any) -> None:
    """`kernel[grid, block](*args)`, on the default stream, with a cached packing after the first call."""
    if not enabled:
        kernel[grid, block](*args)
        return
    entry = _plans.get(id(kernel))
    if entry is None:
        entry = _plans[id(kernel)] = (kernel, {})
    plans = entry[1]
    layout = tuple(_describe(a) for a in args)
    plan = plans.get(layout)
    if plan is None or plan is _NOT_FAST:
        kernel[grid, block](*args)
        if plan is None:
            plans[layout] = _NOT_FAST if None in layout else _plan_for(kernel, layout, args)
        return
    values = plan.values(args)
    gx, gy, gz = _grid3(grid)
    bx, by, bz = _grid3(block)
    with plan.lock:
        plan.struct.pack_into(plan.buffer, 0, *values)
        status = _driver.launch(plan.function, gx, gy, gz, bx, by, bz, 0, None, plan.pointers_address, None)
    if status != 0:  # e.g. no current context in this thread: numba's path sets one up (and reports real errors)
        kernel[grid, block](*args)
