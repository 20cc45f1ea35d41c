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
from .core import ops as _ops  # noqa: F401  (defines the ops that OPS, below, exports)
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
from .core.public import OPS
from .core.tensor import Tensor
from .serialization import load, save
from .train import keras as _keras  # noqa: F401  (binds Module.compile / fit / evaluate / predict)

globals().update(OPS)  # mt.exp, mt.sum, mt.cat, ...: each op from its one definition (`core.public`)

__version__ = "0.1.0"

# `train` (and with it nn, optim and data) is imported above to bind the Keras-style methods;
# graph and onnx load on first use (`mt.jit`, `mt.onnx`), which keeps `import minitorch_edu` fast.
_LAZY_SUBMODULES = ("nn", "optim", "data", "train", "graph", "onnx")


def jit(fn: object = None, **options: object) -> object:
    """Compile a function to a static graph (like `jax.jit` / `tf.function`): see `minitorch_edu.graph`."""
    from .graph import jit as _jit

    return _jit(fn, **options)


def __getattr__(name: str) -> object:
    if name in OPS:  # an op defined after import (a learner's, a test's): mt.<name> as well
        return OPS[name]
    if name in _LAZY_SUBMODULES:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Backend",
    "Context",
    "Function",
    "Tensor",
    "arange",
    "autograd",
    "eye",
    "bool",
    "float32",
    "float64",
    "from_numpy",
    "full",
    "get_backend",
    "grad_check",
    "int64",
    "is_grad_enabled",
    "jit",
    "load",
    "manual_seed",
    "no_grad",
    "ones",
    "ones_like",
    "rand",
    "randint",
    "randn",
    "register_backend",
    "return_types",
    "save",
    "set_default_backend",
    "set_grad_enabled",
    "tensor",
    "use_backprop",
    "zeros",
    "zeros_like",
] + sorted(OPS)  # and every op, from its one definition
