"""The one table that maps the package's differentiable ops (`Function` classes) to IR ops.

Tracing records `Function` classes; everything after it (printing, passes, fusion, drawing,
ONNX export) speaks the IR names below. Elementwise ops need no entry: a scalar function is named
after itself, and a Function that declares its `kernel` (a function of `backends.scalar`) is
fused, wherever it is defined. The other ops are listed by hand. An op missing from the table
still traces and replays (eagerly); it just is never fused, and the ONNX exporter names it as
unsupported.

Raw kernels run on traced tensors outside any `Function` (comparisons such as `x > 0`, casts)
become IR ops named after their scalar function (`gt`, `cast`, ...).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..backends import scalar
from ..core import functions as F
from ..core import views as V
from ..nn import conv_functions as C
from ..nn import functional as NF


@dataclass(frozen=True)
class OpInfo:
    """What the graph passes need to know about one op.

    kind: "elementwise" (one output element from the same element of each input, broadcast),
    "view" (new strides over the same storage, no kernel), "reduce", or "other" (opaque: replayed
    as the recorded op). `scalar` is the per-element function of an elementwise op (fusable).
    """

    name: str
    kind: str
    scalar: Callable[..., float] | None = None


def _ir_name(fn: Callable[..., float]) -> str:
    return "copy" if fn is scalar.identity else fn.__name__.rstrip("_")  # pow_ -> pow


# scalar functions (of raw map/zip kernels) -> IR names: every function of the op vocabulary, named
# after itself, so a new scalar function needs no entry here
SCALAR_NAMES: dict[Callable[..., float], str] = {
    fn: _ir_name(fn)
    for fn in vars(scalar).values()
    if inspect.isfunction(fn) and fn.__module__ == scalar.__name__
}


# Function class -> OpInfo, for the ops that are not one map or zip of a scalar function
FUNCTIONS: dict[type, OpInfo] = {
    F.Where: OpInfo("where", "elementwise", None),  # three operands: its own template
    F.Sum: OpInfo("sum", "reduce"),  # options: dim (kept as size 1)
    F.Max: OpInfo("max", "reduce"),
    F.Prod: OpInfo("prod", "reduce"),  # options: dim (kept as size 1)
    F.CumSum: OpInfo("cumsum", "other"),  # options: dim
    # opaque, not fused: their forward refuses an integer division by zero, which a
    # fused kernel would skip
    F.FloorDivide: OpInfo("floor_divide", "other"),
    F.Remainder: OpInfo("remainder", "other"),
    F.MatMul: OpInfo("matmul", "other"),
    V.View: OpInfo("reshape", "view"),  # options: shape
    V.Permute: OpInfo("permute", "view"),  # options: order
    V.Expand: OpInfo("expand", "view"),  # options: shape
    V.Index: OpInfo("index", "view"),  # options: key
    V.Cast: OpInfo("cast", "other"),  # options: dtype
    V.ToBackend: OpInfo("to_device", "other"),
    V.Cat: OpInfo("cat", "other"),  # options: dim
    V.Flip: OpInfo("flip", "other"),  # options: dims
    V.ConstantPad: OpInfo("constant_pad", "other"),  # options: pads, value
    NF._Linear: OpInfo("linear", "other"),  # x @ weight.T (+ bias)
    NF._BCEWithLogits: OpInfo("bce_with_logits", "other"),
    NF._SoftmaxCrossEntropy: OpInfo("softmax_cross_entropy", "other"),
    C.Conv2dFunction: OpInfo("conv2d", "other"),  # options: stride, padding
    C.MaxPool2dFunction: OpInfo("max_pool2d", "other"),  # options: geo
    C.AvgPool2dFunction: OpInfo("avg_pool2d", "other"),
}


def function_info(cls: type, options: dict[str, Any]) -> OpInfo:
    """The IR op of a call `cls.apply(..., **options)`; unknown ops are opaque, named after their class."""
    info = FUNCTIONS.get(cls)
    if info is not None:
        return info
    kernel = getattr(cls, "kernel", None)
    if kernel in SCALAR_NAMES:  # an elementwise Function over the op vocabulary, wherever it is defined
        return OpInfo(SCALAR_NAMES[kernel], "elementwise", kernel)
    return OpInfo(cls.__name__.lstrip("_").lower(), "other")


def raw_info(kind: str, fn: Callable[..., float] | None, dtype_change: bool = False) -> OpInfo:
    """The IR op of a raw kernel (`_map`, `_zip`, `_reduce`) run on a traced tensor."""
    name = SCALAR_NAMES.get(fn, getattr(fn, "__name__", "fn"))
    if kind == "map":
        if fn is scalar.identity and dtype_change:
            name = "cast"
        return OpInfo(name, "elementwise", fn if fn in SCALAR_NAMES else None)
    if kind == "zip":
        return OpInfo(name, "elementwise", fn if fn in SCALAR_NAMES else None)
    return OpInfo(f"reduce_{name}", "reduce")
