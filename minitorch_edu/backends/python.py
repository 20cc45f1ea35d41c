"""The readable backend: plain Python loops over strided storage.

This is the version a learner writes first (chapter 03). Each kernel walks every index of the
output, turns it into a position in each operand with the operand's strides, and applies the
scalar function. Slow, but every step is visible.
"""

from __future__ import annotations

from collections.abc import Callable

from .base import Backend, Kernel
from .shape import index_to_position, size_of, to_index


def tensor_map(fn: Callable[[float], float]) -> Kernel:
    def kernel(out, out_strides, a, a_strides, shape) -> None:
        for ordinal in range(size_of(shape)):
            index = to_index(ordinal, shape)
            out[index_to_position(index, out_strides)] = fn(a[index_to_position(index, a_strides)])

    return kernel


def tensor_zip(fn: Callable[[float, float], float]) -> Kernel:
    def kernel(out, out_strides, a, a_strides, b, b_strides, shape) -> None:
        for ordinal in range(size_of(shape)):
            index = to_index(ordinal, shape)
            x = a[index_to_position(index, a_strides)]
            y = b[index_to_position(index, b_strides)]
            out[index_to_position(index, out_strides)] = fn(x, y)

    return kernel


def tensor_reduce(fn: Callable[[float, float], float]) -> Kernel:
    def kernel(out, out_strides, a, a_strides, a_shape, dim) -> None:
        out_shape = list(a_shape)
        out_shape[dim] = 1
        for ordinal in range(size_of(out_shape)):
            index = to_index(ordinal, out_shape)
            o = index_to_position(index, out_strides)
            # .item(): fold in Python numbers (float64, exact ints), so a long float32 sum keeps its
            # accuracy; the result is rounded to the output's dtype once, when stored
            acc = _item(out[o])
            for j in range(a_shape[dim]):
                index[dim] = j
                acc = fn(acc, _item(a[index_to_position(index, a_strides)]))
            out[o] = acc

    return kernel


def _item(value: object) -> object:
    """A NumPy scalar as the Python number it holds (other values as they are)."""
    return value.item() if hasattr(value, "item") else value


def tensor_matmul(out, out_strides, a, a_strides, b, b_strides, out_shape, k) -> None:
    for ordinal in range(size_of(out_shape)):
        index = to_index(ordinal, out_shape)  # (*batch, i, j)
        i, j = index[-2], index[-1]
        a_index = index[:-2] + [i, 0]
        b_index = index[:-2] + [0, j]
        acc = 0.0
        for r in range(k):
            a_index[-1] = r
            b_index[-2] = r
            acc += a[index_to_position(a_index, a_strides)] * b[index_to_position(b_index, b_strides)]
        out[index_to_position(index, out_strides)] = acc


python_backend = Backend("python", map=tensor_map, zip=tensor_zip, reduce=tensor_reduce, matmul=tensor_matmul)
