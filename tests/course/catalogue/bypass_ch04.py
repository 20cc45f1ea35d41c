"""Shortcuts through the package for chapter 04: each must score 0 on its part (issue 22).

An entry that starts with the line `# after the reference solution` runs after the part's reference
solution cell (so its compiled loop stays defined) and replaces the function the tests call.
"""

SLUG = "04_fast_cpu"
_AFTER = "# after the reference solution\n"

BYPASS = {
    "tensor_map": {
        "saved_name": _AFTER + """
from minitorch_edu.backends.numba.cpu import tensor_map as _map


def tensor_map(fn):
    package_kernel = _map(fn)

    def kernel(*args):  # a kernel of my own, as far as its module says
        package_kernel(*args)

    return kernel
""",
        "public_api": _AFTER + """
def tensor_map(fn):
    return mt.get_backend("numba").map(fn)
""",
    },
    "tensor_zip": {
        "factory_in_a_default": _AFTER + """
import importlib

_cpu = importlib.import_module("minitorch_edu.backends.numba." + "cpu")


def tensor_zip(fn, _factory=getattr(_cpu, "tensor_" + "zip")):
    return _factory(fn)
""",
        "saved_name": _AFTER + """
from minitorch_edu.backends.numba.cpu import tensor_zip as _z


def tensor_zip(fn):
    package_kernel = _z(fn)

    def kernel(*args):  # a kernel of my own, as far as its module says
        package_kernel(*args)

    return kernel
""",
        "saved_python_name": _AFTER + """
import minitorch_edu.backends.python as _python

_zip = _python.tensor_zip


def tensor_zip(fn):
    package_kernel = _zip(fn)

    def kernel(*args):  # a kernel of my own, as far as its module says
        package_kernel(*args)

    return kernel
""",
    },
    "tensor_reduce": {
        "saved_name": _AFTER + """
from minitorch_edu.backends.numba.cpu import tensor_reduce as _reduce


def tensor_reduce(fn):
    package_kernel = _reduce(fn)

    def kernel(*args):  # a kernel of my own, as far as its module says
        package_kernel(*args)

    return kernel
""",
    },
    "tensor_matmul": {
        "compiled_kernel_in_a_default": _AFTER + """
import importlib

import numpy as np

# fetched by a name built at run time, so no reading of the cell's names sees it: the package's compiled
# kernel, whose code no seal can swap
_mm = importlib.import_module("minitorch_edu.backends.numba." + "matmul")


def tensor_matmul(out, out_strides, a, a_strides, b, b_strides, out_shape, k,
                  _kernel=getattr(_mm, "matmul_" + "blocked")):
    n, m = out_shape[-2], out_shape[-1]
    batch = 1
    for s in out_shape[:-2]:
        batch *= s
    a_flat, a_batch, a_rs, a_cs = _mm._operand(a, a_strides, tuple(out_shape[:-2]) + (n, k), unit_columns=False)
    b_flat, b_batch, b_rs, _ = _mm._operand(b, b_strides, tuple(out_shape[:-2]) + (k, m), unit_columns=True)
    target = np.empty(batch * n * m, dtype=out.dtype)
    _kernel(target, a_flat, b_flat, batch, n, k, m, a_batch, a_rs, a_cs, b_batch, b_rs)
    view = np.lib.stride_tricks.as_strided(out, tuple(out_shape), tuple(s * out.itemsize for s in out_strides))
    view[...] = target.reshape(tuple(out_shape))
""",
        "compiled_kernel_in_a_closure": _AFTER + """
import importlib

import numpy as np

# fetched by a name built at run time, so no reading of the cell's names sees it: the package's compiled
# kernel, whose code no seal can swap
_mm = importlib.import_module("minitorch_edu.backends.numba." + "matmul")


def _make(kernel):
    def tensor_matmul(out, out_strides, a, a_strides, b, b_strides, out_shape, k):
        n, m = out_shape[-2], out_shape[-1]
        batch = 1
        for s in out_shape[:-2]:
            batch *= s
        a_flat, a_batch, a_rs, a_cs = _mm._operand(a, a_strides, tuple(out_shape[:-2]) + (n, k), unit_columns=False)
        b_flat, b_batch, b_rs, _ = _mm._operand(b, b_strides, tuple(out_shape[:-2]) + (k, m), unit_columns=True)
        target = np.empty(batch * n * m, dtype=out.dtype)
        kernel(target, a_flat, b_flat, batch, n, k, m, a_batch, a_rs, a_cs, b_batch, b_rs)
        view = np.lib.stride_tricks.as_strided(out, tuple(out_shape), tuple(s * out.itemsize for s in out_strides))
        view[...] = target.reshape(tuple(out_shape))

    return tensor_matmul


tensor_matmul = _make(getattr(_mm, "matmul_" + "serial"))
""",
        "compiled_kernel_in_a_partial": _AFTER + """
import importlib

import numpy as np

# fetched by a name built at run time, so no reading of the cell's names sees it: the package's compiled
# kernel, whose code no seal can swap
_mm = importlib.import_module("minitorch_edu.backends.numba." + "matmul")
import functools


def _run(kernel, out, out_strides, a, a_strides, b, b_strides, out_shape, k):
    n, m = out_shape[-2], out_shape[-1]
    batch = 1
    for s in out_shape[:-2]:
        batch *= s
    a_flat, a_batch, a_rs, a_cs = _mm._operand(a, a_strides, tuple(out_shape[:-2]) + (n, k), unit_columns=False)
    b_flat, b_batch, b_rs, _ = _mm._operand(b, b_strides, tuple(out_shape[:-2]) + (k, m), unit_columns=True)
    target = np.empty(batch * n * m, dtype=out.dtype)
    kernel(target, a_flat, b_flat, batch, n, k, m, a_batch, a_rs, a_cs, b_batch, b_rs)
    view = np.lib.stride_tricks.as_strided(out, tuple(out_shape), tuple(s * out.itemsize for s in out_strides))
    view[...] = target.reshape(tuple(out_shape))


tensor_matmul = functools.partial(_run, getattr(_mm, "matmul_" + "blocked"))
""",
        "hidden_saved_name": """# after the reference solution

import importlib

# a name the scan of the cell cannot read: only the seal on the function object itself refuses it
_hidden = getattr(importlib.import_module("minitorch_edu." + "backends.numba.matmul"), "mat" + "mul")


def tensor_matmul(out, out_strides, a, a_strides, b, b_strides, out_shape, k):
    _hidden(out, out_strides, a, a_strides, b, b_strides, out_shape, k)
""",
        "setup_object": _AFTER + """
def tensor_matmul(out, out_strides, a, a_strides, b, b_strides, out_shape, k):
    try:
        reference = REFERENCE_MATMUL  # the setup cell's own reference (before issue 22)
    except NameError:
        reference = chapter.timing_reference("tensor_matmul")  # what the speed target times against now
    reference(out, out_strides, a, a_strides, b, b_strides, out_shape, k)
""",
        "saved_name": _AFTER + """
from minitorch_edu.backends.numba import matmul as numba_matmul

_mm = numba_matmul.matmul


def tensor_matmul(out, out_strides, a, a_strides, b, b_strides, out_shape, k):
    _mm(out, out_strides, a, a_strides, b, b_strides, out_shape, k)
""",
        "public_api": _AFTER + """
def tensor_matmul(out, out_strides, a, a_strides, b, b_strides, out_shape, k):
    mt.get_backend("python").matmul(out, out_strides, a, a_strides, b, b_strides, out_shape, k)
""",
    },
}
