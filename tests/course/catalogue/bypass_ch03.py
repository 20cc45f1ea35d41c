"""Shortcuts through the package for chapter 03: each must score 0 on its part (issue 22).

An entry that starts with the line `# after the reference solution` runs after the part's reference
solution cell (so its other functions stay defined) and replaces one of them.
"""

SLUG = "03_tensor_autograd"

BYPASS = {
    "tensor_map": {
        "saved_name": """
from minitorch_edu.backends.numba.cpu import tensor_map as _map


def tensor_map(fn):
    package_kernel = _map(fn)

    def kernel(*args):  # a kernel of my own, as far as its module says
        package_kernel(*args)

    return kernel
""",
        "saved_python_name": """
from minitorch_edu.backends import python as _python

_python_map = _python.tensor_map


def tensor_map(fn):
    def kernel(*args):
        _python_map(fn)(*args)

    return kernel
""",
        "is_the_reference": """
from minitorch_edu.backends.python import tensor_map
""",
    },
    "tensor_zip": {
        "factory_in_a_default": """# after the reference solution
import importlib

_cpu = importlib.import_module("minitorch_edu.backends.numba." + "cpu")


def tensor_zip(fn, _factory=getattr(_cpu, "tensor_" + "zip")):
    return _factory(fn)
""",
        "hidden_saved_name": """
import importlib

# a name the scan of the cell cannot read: only the seal on the function object itself refuses it
_hidden = getattr(importlib.import_module("minitorch_edu." + "backends.numba.cpu"), "ten" + "sor_zip")


def tensor_zip(fn):
    package_kernel = _hidden(fn)

    def kernel(*args):
        package_kernel(*args)

    return kernel
""",
        "saved_name": """
from minitorch_edu.backends.numba.cpu import tensor_zip as _z


def tensor_zip(fn):
    package_kernel = _z(fn)

    def kernel(*args):  # a kernel of my own, as far as its module says
        package_kernel(*args)

    return kernel
""",
        "public_api": """
def tensor_zip(fn):
    backend = mt.get_backend("numba")

    def kernel(out, out_strides, a, a_strides, b, b_strides, shape):
        backend.zip(fn)(out, out_strides, a, a_strides, b, b_strides, shape)

    return kernel
""",
    },
    "tensor_reduce": {
        "saved_name": """
from minitorch_edu.backends.numba.cpu import tensor_reduce as _reduce


def tensor_reduce(fn):
    package_kernel = _reduce(fn)

    def kernel(*args):  # a kernel of my own, as far as its module says
        package_kernel(*args)

    return kernel
""",
    },
    "tensor_matmul": {
        "compiled_kernel_in_a_default": """
# after the reference solution
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
        "compiled_kernel_in_a_closure": """
# after the reference solution
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
        "compiled_kernel_in_a_partial": """
# after the reference solution
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
        "saved_name": """
from minitorch_edu.backends.numba.matmul import matmul as _mm


def tensor_matmul(out, out_strides, a, a_strides, b, b_strides, out_shape, k):
    _mm(out, out_strides, a, a_strides, b, b_strides, out_shape, k)
""",
        "public_api": """
def _strided(storage, shape, strides):
    storage = np.asarray(storage)
    return np.lib.stride_tricks.as_strided(storage, tuple(shape), tuple(s * storage.itemsize for s in strides))


def tensor_matmul(out, out_strides, a, a_strides, b, b_strides, out_shape, k):
    a_shape = (*out_shape[:-1], k)
    b_shape = (*out_shape[:-2], k, out_shape[-1])
    A = mt.tensor(_strided(a, a_shape, a_strides).copy())
    B = mt.tensor(_strided(b, b_shape, b_strides).copy())
    _strided(out, out_shape, out_strides)[...] = (A @ B).numpy()
""",
    },
    "unbroadcast": {
        "saved_name": """
import minitorch_edu.core.autograd as _autograd

_unbroadcast = _autograd.unbroadcast


def unbroadcast(grad, shape):
    return _unbroadcast(grad, tuple(shape))
""",
    },
    "mul_function": {
        "saved_backward": """
_package_backward = package_functions.Mul.backward


class Mul(mt.Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        grad_a, grad_b = _package_backward(ctx, grad)
        return unbroadcast(grad_a, a.shape), unbroadcast(grad_b, b.shape)
""",
    },
    "matmul_function": {
        "saved_forward_and_backward": """
_forward, _backward = package_functions.MatMul.forward, package_functions.MatMul.backward


class MatMul(mt.Function):
    @staticmethod
    def forward(ctx, a, b):
        return _forward(ctx, a, b)

    @staticmethod
    def backward(ctx, grad):
        return _backward(ctx, grad)
""",
        "saved_in_another_module": """
from minitorch_edu.core.functions import MatMul as _PackageMatMul


class MatMul(mt.Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a @ b

    @staticmethod
    def backward(ctx, grad):
        return _PackageMatMul.backward(ctx, grad)
""",
    },
}
