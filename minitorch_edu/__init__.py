"""minitorch_edu: a small, readable, PyTorch-like deep-learning library that is also fast.

    import minitorch_edu as mt
    x = mt.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    (x @ x.T).relu().sum().backward()
    x.grad

The package is the reference implementation of the minitorch_edu course: every part a learner
builds in a chapter has its counterpart here, and learner code plugs in through the documented
extension points (`Backend`, `Function`, `nn.Module`, `optim.Optimizer`).
"""

from __future__ import annotations

from .backends import Backend, get_backend, register_backend, set_default_backend
from .core import autograd, return_types
from .core.autograd import Context, Function, is_grad_enabled, no_grad, set_grad_enabled, use_backprop
from .core.creation import (
    arange,
    eye,
    from_numpy,
    full,
    manual_seed,
    ones,
    ones_like,
    rand,
    randint,
    randn,
    tensor,
    zeros,
    zeros_like,
)
from .core.dtype import bool_ as bool  # noqa: A004  (PyTorch's name: mt.bool)
from .core.dtype import float32, float64, int64
from .core.gradcheck import grad_check
from .core.ops import (
    abs,
    argmax,
    argmin,
    cat,
    chunk,
    clamp,
    concatenate,
    cos,
    cumsum,
    erf,
    exp,
    expm1,
    flip,
    floor_divide,
    gather,
    index_select,
    isfinite,
    isnan,
    log,
    log1p,
    log_softmax,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    logsumexp,
    masked_fill,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    norm,
    prod,
    relu,
    remainder,
    scatter,
    scatter_add,
    sigmoid,
    sin,
    softmax,
    split,
    sqrt,
    stack,
    std,
    sum,
    tanh,
    var,
    where,
)
from .core.tensor import Tensor
from .serialization import load, save
from .train import keras as _keras  # noqa: F401  (binds Module.compile / fit / evaluate / predict)

__version__ = "0.1.0"

# `train` (and with it nn, optim and data) is imported above to bind the Keras-style methods;
# graph and onnx load on first use (`mt.jit`, `mt.onnx`), which keeps `import minitorch_edu` fast.
_LAZY_SUBMODULES = ("nn", "optim", "data", "train", "graph", "onnx")


def jit(fn: object = None, **options: object) -> object:
    """Compile a function to a static graph (like `jax.jit` / `tf.function`): see `minitorch_edu.graph`."""
    from .graph import jit as _jit

    return _jit(fn, **options)


def __getattr__(name: str) -> object:
    if name in _LAZY_SUBMODULES:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Backend",
    "Context",
    "Function",
    "Tensor",
    "abs",
    "arange",
    "argmax",
    "argmin",
    "autograd",
    "cat",
    "chunk",
    "clamp",
    "concatenate",
    "cos",
    "cumsum",
    "erf",
    "exp",
    "expm1",
    "eye",
    "flip",
    "bool",
    "float32",
    "float64",
    "floor_divide",
    "gather",
    "from_numpy",
    "full",
    "get_backend",
    "grad_check",
    "index_select",
    "int64",
    "is_grad_enabled",
    "isfinite",
    "isnan",
    "jit",
    "load",
    "log",
    "log1p",
    "log_softmax",
    "logical_and",
    "logical_not",
    "logical_or",
    "logical_xor",
    "logsumexp",
    "masked_fill",
    "manual_seed",
    "matmul",
    "max",
    "maximum",
    "mean",
    "min",
    "minimum",
    "no_grad",
    "norm",
    "ones",
    "ones_like",
    "prod",
    "rand",
    "randint",
    "randn",
    "register_backend",
    "relu",
    "remainder",
    "scatter",
    "scatter_add",
    "return_types",
    "save",
    "set_default_backend",
    "set_grad_enabled",
    "sigmoid",
    "sin",
    "softmax",
    "split",
    "sqrt",
    "stack",
    "std",
    "sum",
    "tanh",
    "tensor",
    "use_backprop",
    "var",
    "where",
    "zeros",
    "zeros_like",
]
