"""The one table that maps the package's differentiable ops (`Function` classes) to IR ops.

Tracing records `Function` classes; everything after it (printing, passes, fusion, drawing,
ONNX export) speaks the IR names below. When an op is renamed or split, this is the only place
to adapt. An op missing from the table still traces and replays (eagerly); it just is never
fused, and the ONNX exporter names it as unsupported.

Raw kernels run on traced tensors outside any `Function` (comparisons such as `x > 0`, casts)
become IR ops named after their scalar function (`gt`, `cast`, ...).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..backends import scalar


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


# scalar functions (of raw map/zip kernels) -> IR names
SCALAR_NAMES: dict[Callable[..., float], str] = {
    scalar.identity: "copy",
    scalar.neg: "neg",
    scalar.add: "add",
    scalar.sub: "sub",
    scalar.mul: "mul",
    scalar.div: "div",
    scalar.pow_: "pow",
    scalar.exp: "exp",
    scalar.log: "log",
    scalar.sqrt: "sqrt",
    scalar.sigmoid: "sigmoid",
    scalar.tanh: "tanh",
    scalar.relu: "relu",
    scalar.abs_: "abs",
    scalar.sin: "sin",
    scalar.cos: "cos",
    scalar.log1p: "log1p",
    scalar.expm1: "expm1",
    scalar.erf: "erf",
    scalar.floor_divide: "floor_divide",
    scalar.remainder: "remainder",
    scalar.maximum: "maximum",
    scalar.minimum: "minimum",
    scalar.eq: "eq",
    scalar.ne: "ne",
    scalar.lt: "lt",
    scalar.le: "le",
    scalar.gt: "gt",
    scalar.ge: "ge",
    scalar.sign: "sign",
    scalar.relu_back: "relu_back",
    scalar.pick_if: "pick_if",
    scalar.pick_unless: "pick_unless",
}


@functools.cache
def _function_table() -> dict[type, OpInfo]:
    """Function class -> OpInfo. Built on first use: nn's functions import lazily."""
    from ..core import functions as F
    from ..core import views as V
    from ..nn import conv_functions as C
    from ..nn import functional as NF

    elementwise = {
        F.Neg: scalar.neg,
        F.Add: scalar.add,
        F.Sub: scalar.sub,
        F.Mul: scalar.mul,
        F.Div: scalar.div,
        F.Pow: scalar.pow_,
        F.Exp: scalar.exp,
        F.Log: scalar.log,
        F.Sqrt: scalar.sqrt,
        F.Sigmoid: scalar.sigmoid,
        F.Tanh: scalar.tanh,
        F.ReLU: scalar.relu,
        F.Abs: scalar.abs_,
        F.Sin: scalar.sin,
        F.Cos: scalar.cos,
        F.Log1p: scalar.log1p,
        F.Expm1: scalar.expm1,
        F.Erf: scalar.erf,
        F.Maximum: scalar.maximum,
        F.Minimum: scalar.minimum,
        V.Copy: scalar.identity,
    }
    table = {cls: OpInfo(SCALAR_NAMES[fn], "elementwise", fn) for cls, fn in elementwise.items()}
    table[F.Where] = OpInfo("where", "elementwise", None)  # three operands: its own template
    table.update(
        {
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
    )
    return table


def function_info(cls: type, options: dict[str, Any]) -> OpInfo:
    """The IR op of a call `cls.apply(..., **options)`; unknown ops are opaque, named after their class."""
    info = _function_table().get(cls)
    if info is not None:
        return info
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
