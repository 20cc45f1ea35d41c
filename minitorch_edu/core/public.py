"""The public face of an op: one definition makes `mt.<name>(x, ...)`, the method `x.<name>(...)`,
the operator where there is one, and the package's export.

An op is written once, where it is defined:

- a function that takes the tensor first (`core.ops`, `core.views`) is decorated with `@op`
  (`@op(method=False)` for the ones that are not methods, such as `mt.where` and `mt.cat`);
- an elementwise `Function` whose public form is only its `apply` is decorated on its class with
  `@elementwise("exp")` (`core.functions`): `mt.exp(x)` is `Exp.apply(x)`.

`OPS` collects them all; `minitorch_edu/__init__.py` exports what is in it, so no list of ops is
kept by hand. Methods whose form differs from a functional op (`x.view(2, 3)`) use `tensor_method`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from .tensor import Tensor

OPS: dict[str, Callable[..., Any]] = {}


def tensor_method(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Make `fn(x, ...)` the Tensor method `x.<name>(...)` only (no `mt.<name>`)."""
    setattr(Tensor, fn.__name__, fn)
    return fn


def op(fn: Callable[..., Any] | None = None, *, name: str | None = None, method: bool = True) -> Any:
    """Make `fn` the public op `mt.<name>` and, unless `method=False`, the method `x.<name>(...)`."""

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        public = name or fn.__name__
        if public in OPS and OPS[public] is not fn:
            raise ValueError(f"two ops are named {public!r}: {OPS[public].__module__} and {fn.__module__}")
        OPS[public] = fn
        if method:
            setattr(Tensor, public, fn)
        return fn

    return register(fn) if fn is not None else register


def as_floating(x: Tensor) -> Tensor:
    """Integer inputs of float ops (exp, log, softmax, ...) become float32, as PyTorch promotes them."""
    return x if x.dtype.kind == "f" else x.float()


def elementwise(name: str, *, floats: bool = False, operator: str | None = None) -> Callable[[type], type]:
    """Make an elementwise `Function` an op: `mt.<name>(x)` / `mt.<name>(x, other)` and the method
    are its `apply` (a number or array `other` becomes a tensor on x's backend first).

    `floats=True`: integer inputs become float32 first (`mt.exp(tensor([1, 2]))`, as PyTorch).
    `operator="add"`: the Python operator too, both ways round (`x + 2`, `2 + x`); a unary op's
    operator is its own (`operator="neg"`: `-x`).
    """

    def register(function: type) -> type:
        inputs = len(inspect.signature(function.forward).parameters) - 1  # all but ctx
        apply = function.apply  # type: ignore[attr-defined]
        if inputs == 1:
            if floats:
                def public(x: Tensor) -> Tensor:
                    return apply(x if x.dtype.kind == "f" else x.float())  # as_floating, inlined: a hot path
            else:
                def public(x: Tensor) -> Tensor:  # type: ignore[misc]
                    return apply(x)

            if operator:
                setattr(Tensor, f"__{operator}__", public)
        elif inputs == 2:
            def public(x: Tensor, other: Any) -> Tensor:  # type: ignore[misc]
                return apply(x, x._lift(other))

            if operator:
                def reflected(x: Tensor, other: Any) -> Tensor:
                    return apply(x._lift(other), x)

                setattr(Tensor, f"__{operator}__", public)
                setattr(Tensor, f"__r{operator}__", reflected)
        else:
            raise TypeError(f"@elementwise takes a Function of one or two tensors; {function.__name__} takes {inputs}")
        public.__name__ = public.__qualname__ = name
        public.__module__ = function.__module__
        args = "x" if inputs == 1 else "x, other"
        where = f"`{function.__module__}.{function.__qualname__}`"
        public.__doc__ = (
            f"{name}({args}): elementwise, the Function {where} applied to {args.replace(', ', ' and ')}"
            + (" (integers become float32 first)" if floats else "")
            + (f".\n\n{inspect.cleandoc(function.__doc__)}" if function.__doc__ else ".")
        )
        op(public)
        function.op = public  # type: ignore[attr-defined]
        return function

    return register
