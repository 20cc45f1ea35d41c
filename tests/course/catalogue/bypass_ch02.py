"""Shortcuts through the package for chapter 02: each must score 0 on its part (issue 22).

`permute` has no route through the package that takes arbitrary strides (the package permutes inside
`Tensor.permute`, on a tensor it made itself), so none applies to it.
"""

SLUG = "02_tensors"

BYPASS = {
    "index_to_position": {
        "saved_name": """
from minitorch_edu.backends.shape import index_to_position as _position


def index_to_position(index, strides):
    return _position(index, strides)
""",
        "setup_module": """
def index_to_position(index, strides):
    return py_backend.index_to_position(index, strides)
""",
        "is_the_reference": """
import minitorch_edu.backends.shape as _shape

index_to_position = _shape.index_to_position
""",
    },
    "to_index": {
        "saved_name": """
from minitorch_edu.backends.shape import to_index as _to_index


def to_index(ordinal, shape):
    return list(_to_index(ordinal, shape))
""",
        "setup_module": """
def to_index(ordinal, shape):
    return list(py_backend.to_index(ordinal, shape))
""",
    },
    "contiguous_strides": {
        "public_api": """
def contiguous_strides(shape):
    return tuple(mt.zeros(tuple(shape)).stride())
""",
        "saved_name": """
from minitorch_edu.backends.shape import contiguous_strides as _strides


def contiguous_strides(shape):
    return tuple(_strides(tuple(shape)))
""",
    },
    "is_contiguous": {
        "saved_name": """
import minitorch_edu.backends.shape as _shape


def is_contiguous(shape, strides):
    return bool(_shape.is_contiguous(tuple(shape), tuple(strides)))
""",
    },
    "view": {
        "public_api": """
def view(shape, strides, new_shape):
    if not is_contiguous(shape, strides):
        raise RuntimeError("a view of a non-contiguous tensor needs a copy")
    v = mt.zeros(tuple(shape)).view(tuple(new_shape))
    return tuple(v.shape), tuple(v.stride())
""",
        "saved_name": """
from minitorch_edu.backends.shape import infer_shape as _infer, view_strides as _view_strides


def view(shape, strides, new_shape):
    if not is_contiguous(shape, strides):
        raise RuntimeError("a view of a non-contiguous tensor needs a copy")
    numel = 1
    for s in shape:
        numel *= s
    new_shape = tuple(_infer(tuple(new_shape), numel))
    found = _view_strides(tuple(shape), tuple(strides), new_shape)
    if found is None:
        raise RuntimeError("a view of a non-contiguous tensor needs a copy")
    return new_shape, tuple(found)
""",
    },
    "broadcast_shape": {
        "renamed_exec_copy": """
import inspect
import re
import sys

# the package's own source, its locals renamed and a constant changed, then exec'd: the same operations,
# under other names (no reading of the cell's names sees the reference: its name is built at run time)
_module = sys.modules["minitorch_edu.backends." + "shape"]
_source = inspect.getsource(getattr(_module, "broadcast_" + "shapes").__wrapped__).replace("@_memo\\n", "")
for _old, _new in [("ndim", "rank"), ("out", "result"), ("sizes", "seen"), ("pretty", "text"), ("d", "axis")]:
    _source = re.sub(rf"\\b{_old}\\b", _new, _source)
_source = _source.replace("default=0", "default=False")
_copied = {}
exec(_source, {**vars(_module)}, _copied)
_broadcast = _copied["broadcast_" + "shapes"]


def broadcast_shape(shape_a, shape_b):
    return _broadcast(shape_a, shape_b)
""",
        "hidden_saved_name": """
import importlib

# a name the scan of the cell cannot read: only the seal on the function object itself refuses it
_hidden = getattr(importlib.import_module("minitorch_edu." + "backends.shape"), "bro" + "adcast_shapes")


def broadcast_shape(shape_a, shape_b):
    return tuple(_hidden(tuple(shape_a), tuple(shape_b)))
""",
        "public_api": """
def broadcast_shape(shape_a, shape_b):
    try:
        return tuple((mt.zeros(tuple(shape_a)) + mt.zeros(tuple(shape_b))).shape)
    except Exception as err:
        raise ValueError(str(err)) from None
""",
        "saved_name": """
from minitorch_edu.backends.shape import broadcast_shapes as _broadcast


def broadcast_shape(shape_a, shape_b):
    return tuple(_broadcast(tuple(shape_a), tuple(shape_b)))
""",
    },
    "broadcast_index": {
        "public_api": """
def broadcast_index(big_index, big_shape, shape):
    strides = mt.zeros(tuple(shape)).expand(*big_shape).stride()
    position = sum(i * s for i, s in zip(big_index, strides))
    index = [0] * len(shape)
    for d in range(len(shape) - 1, -1, -1):
        position, index[d] = divmod(position, shape[d])
    return index
""",
        "saved_name": """
from minitorch_edu.backends.shape import contiguous_strides as _c, expand_strides as _expand


def broadcast_index(big_index, big_shape, shape):
    strides = _expand(tuple(shape), _c(tuple(shape)), tuple(big_shape))
    position = sum(i * s for i, s in zip(big_index, strides))
    index = [0] * len(shape)
    for d in range(len(shape) - 1, -1, -1):
        position, index[d] = divmod(position, shape[d])
    return index
""",
    },
}
