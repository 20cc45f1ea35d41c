"""ONNX export of traced models: `mt.onnx.export(model, example_input, "model.onnx")`.

The model is traced on the example (as `mt.jit` does), the graph is cleaned by the passes
(dead code, constant folding, common subexpressions; no fusion), and each IR op becomes one
or a few ONNX nodes (opset 17). Parameters and other captured tensors become initializers,
so the file holds the trained weights. Input shapes are the example's. An op without an ONNX
form raises `ExportError` naming the op, the node and the line that made it.

Supported IR ops: see `SUPPORTED` (elementwise math and comparisons, where, sum/max/prod over a
dim, cumsum, flip, constant padding, matmul, linear, reshape/flatten, permute, expand, cast, conv2d,
max_pool2d, avg_pool2d; softmax, log_softmax and gelu are exported through the ops they are built from).

`dynamic_batch=True` names the first dimension of inputs and outputs "batch" (any batch size runs),
and a reshape that keeps the batch dimension copies it from its input (ONNX's `0` in the shape).

Post-training int8 quantisation (chapter 11): `BatchReader` feeds calibration batches to
onnxruntime's `quantize_static`, and `quantize_int8` writes the int8 (QDQ) model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .core.tensor import Tensor
from .graph.ir import Graph, Node
from .graph.passes import optimize
from .graph.trace import trace

OPSET = 17

_BINARY = {"add": "Add", "sub": "Sub", "mul": "Mul", "div": "Div", "pow": "Pow", "maximum": "Max", "minimum": "Min"}
_UNARY = {"neg": "Neg", "exp": "Exp", "log": "Log", "sqrt": "Sqrt", "sigmoid": "Sigmoid", "tanh": "Tanh",
          "relu": "Relu", "abs": "Abs", "copy": "Identity", "detach": "Identity", "sign": "Sign",
          "sin": "Sin", "cos": "Cos", "erf": "Erf"}
_LOGICAL = {"add": "Or", "mul": "And", "maximum": "Or", "minimum": "And"}  # the same ops on masks
_COMPARE = {"gt": "Greater", "lt": "Less", "ge": "GreaterOrEqual", "le": "LessOrEqual", "eq": "Equal"}


class ExportError(ValueError):
    """The graph holds an op that has no ONNX form here."""


class _Builder:
    def __init__(self) -> None:
        from onnx import helper, numpy_helper

        self.helper, self.numpy_helper = helper, numpy_helper
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._n = 0

    def fresh(self, hint: str) -> str:
        self._n += 1
        return f"{hint}_{self._n}"

    def const(self, array: np.ndarray, hint: str = "const") -> str:
        name = self.fresh(hint)
        self.initializers.append(self.numpy_helper.from_array(np.asarray(array), name))
        return name

    def op(self, kind: str, inputs: list[str], output: str | None = None, **attrs: Any) -> str:
        output = output or self.fresh(kind.lower())
        self.nodes.append(self.helper.make_node(kind, inputs, [output], name=self.fresh("n_" + kind), **attrs))
        return output


def _elem_type(dtype: np.dtype) -> int:
    from onnx import helper

    return helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


def _convert(b: _Builder, n: Node, ins: list[str], out: str, dynamic_batch: bool = False) -> None:
    op, o = n.op, n.options
    if op in _LOGICAL and n.out.dtype == np.bool_:
        b.op(_LOGICAL[op], ins, out)
    elif op in _BINARY:  # ONNX takes one element type: a mask operand (x * (x > 0)) is cast first
        ins = [i if v.dtype == n.out.dtype else b.op("Cast", [i], to=_elem_type(n.out.dtype))
               for i, v in zip(ins, n.inputs)]
        b.op(_BINARY[op], ins, out)
    elif op in _UNARY:
        b.op(_UNARY[op], ins, out)
    elif op in _COMPARE or op == "ne":
        test = b.op(_COMPARE.get(op, "Equal"), ins)
        if op == "ne":
            test = b.op("Not", [test])
        b.op("Cast", [test], out, to=_elem_type(n.out.dtype))
    elif op in ("cast",):
        b.op("Cast", ins, out, to=_elem_type(n.out.dtype))
    elif op == "where":
        cond = b.op("Cast", [ins[0]], to=_elem_type(np.dtype(bool)))
        b.op("Where", [cond] + ins[1:], out)
    elif op in ("sum", "reduce_add"):
        b.op("ReduceSum", [ins[0], b.const(np.array([o["dim"]], np.int64), "axes")], out, keepdims=1)
    elif op in ("max", "reduce_maximum"):
        b.op("ReduceMax", ins[:1], out, axes=[o["dim"]], keepdims=1)
    elif op == "reduce_minimum":
        b.op("ReduceMin", ins[:1], out, axes=[o["dim"]], keepdims=1)
    elif op == "prod":
        b.op("ReduceProd", ins[:1], out, axes=[o["dim"]], keepdims=1)
    elif op in ("log1p", "expm1"):  # no ONNX op of their own: log(1 + x) and exp(x) - 1
        one = b.const(np.array(1, n.out.dtype), "one")
        if op == "log1p":
            b.op("Log", [b.op("Add", [ins[0], one])], out)
        else:
            b.op("Sub", [b.op("Exp", ins), one], out)
    elif op == "cumsum":
        b.op("CumSum", [ins[0], b.const(np.array(o["dim"], np.int64), "axis")], out)
    elif op == "flip":  # a slice from the end with step -1 along each flipped dim
        k = len(o["dims"])
        starts, ends = np.full(k, -1, np.int64), np.full(k, np.iinfo(np.int64).min, np.int64)
        parts = [b.const(a, h) for a, h in ((starts, "starts"), (ends, "ends"))]
        parts += [b.const(np.array(o["dims"], np.int64), "axes"), b.const(np.full(k, -1, np.int64), "steps")]
        b.op("Slice", [ins[0], *parts], out)
    elif op == "constant_pad":
        pads = np.array([lo for lo, _ in o["pads"]] + [hi for _, hi in o["pads"]], np.int64)
        value = b.const(np.array(o["value"], n.out.dtype), "value")
        b.op("Pad", [ins[0], b.const(pads, "pads"), value], out, mode="constant")
    elif op == "matmul":
        b.op("MatMul", ins, out)
    elif op == "linear":  # x @ W.T + b, x of any rank
        wt = b.op("Transpose", [ins[1]], perm=[1, 0])
        if len(ins) == 3:
            b.op("Add", [b.op("MatMul", [ins[0], wt]), ins[2]], out)
        else:
            b.op("MatMul", [ins[0], wt], out)
    elif op in ("reshape", "expand"):
        dims = list(n.out.shape)
        if dynamic_batch and op == "reshape" and dims and n.inputs[0].shape[:1] == n.out.shape[:1]:
            dims[0] = 0  # ONNX: copy the input's dim, so the batch size is the caller's
        shape = b.const(np.array(dims, np.int64), "shape")
        b.op("Reshape" if op == "reshape" else "Expand", [ins[0], shape], out)
    elif op == "permute":
        b.op("Transpose", ins, out, perm=list(o["order"]))
    elif op == "conv2d":
        (sh, sw), (ph, pw) = o["stride"], o["padding"]
        b.op("Conv", ins, out, strides=[sh, sw], pads=[ph, pw, ph, pw])
    elif op in ("max_pool2d", "avg_pool2d"):
        _, _, _, kh, kw, _, _, sh, sw, ph, pw = o["geo"]
        attrs = {"kernel_shape": [kh, kw], "strides": [sh, sw], "pads": [ph, pw, ph, pw]}
        if op == "avg_pool2d":
            attrs["count_include_pad"] = 1
        b.op("MaxPool" if op == "max_pool2d" else "AveragePool", ins, out, **attrs)
    else:
        raise ExportError(
            f"ONNX export: op {op!r} (node {n.out.name}: {n.out.type}"
            + (f", made at {n.where}" if n.where else "")
            + f") has no ONNX form here. Supported ops: {', '.join(SUPPORTED)}"
        )


SUPPORTED = sorted(
    set(_BINARY) | set(_UNARY) | set(_COMPARE)
    | {"ne", "cast", "where", "sum", "max", "prod", "reduce_add", "reduce_maximum", "reduce_minimum", "log1p", "expm1",
       "cumsum", "flip", "constant_pad", "matmul", "linear", "reshape", "expand", "permute", "conv2d", "max_pool2d",
       "avg_pool2d"}
)


def to_onnx(g: Graph, name: str = "minitorch_edu", dynamic_batch: bool = False) -> Any:
    """An `onnx.ModelProto` of a traced graph (with `dynamic_batch`, any batch size: see the module)."""
    import onnx
    from onnx import helper

    b = _Builder()
    names: dict[int, str] = {}
    for v in g.inputs:
        names[v.id] = v.label or f"input{v.id}"
    for v in g.captures:
        names[v.id] = b.const(v.tensor.numpy(), "param")
    for n in g.nodes:
        ins = []
        for v in n.inputs:
            if v.id not in names:  # a literal: a 0-d initializer
                names[v.id] = b.const(np.asarray(v.tensor.numpy().reshape(()), dtype=v.dtype), "literal")
            ins.append(names[v.id])
        names[n.out.id] = f"v{n.out.id}"
        _convert(b, n, ins, names[n.out.id], dynamic_batch)
    def dims(v: Any) -> list[Any]:
        return ["batch", *v.shape[1:]] if dynamic_batch and v.shape else list(v.shape)

    outputs = []
    for i, v in enumerate(g.outputs):
        out = f"output{i}"
        b.op("Identity", [names[v.id]], out)
        outputs.append(helper.make_tensor_value_info(out, _elem_type(v.dtype), dims(v)))
    inputs = [helper.make_tensor_value_info(names[v.id], _elem_type(v.dtype), dims(v)) for v in g.inputs]
    graph = helper.make_graph(b.nodes, name, inputs, outputs, b.initializers)
    model = helper.make_model(graph, producer_name="minitorch_edu", opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = min(model.ir_version, 9)  # readable by onnxruntime releases of the last years
    onnx.checker.check_model(model)
    return model


def export(model: Callable[..., Any], example_input: Any, path: str | None = None, dynamic_batch: bool = False) -> Any:
    """Trace `model(example_input)` (a tensor, or a tuple of tensors) and write it as ONNX to `path`.

    Call `model.eval()` first for layers that behave differently in training (dropout). Returns
    the `onnx.ModelProto` (also when no path is given). `dynamic_batch=True`: any batch size runs.
    """
    import onnx

    args = example_input if isinstance(example_input, tuple) else (example_input,)
    if not all(isinstance(a, Tensor) for a in args):
        raise TypeError("mt.onnx.export: the example input must be a tensor or a tuple of tensors")
    name = type(model).__name__ if not hasattr(model, "__name__") else model.__name__
    g = trace(model, args, name=name)
    optimize(g, fuse=False)
    proto = to_onnx(g, name=name, dynamic_batch=dynamic_batch)
    if path is not None:
        onnx.save(proto, path)
    return proto


class BatchReader:
    """Calibration data for onnxruntime's `quantize_static`: `get_next()` gives `{input name: batch}`
    for consecutive float32 batches of `images`, then None; `rewind()` starts again.

    The input name is read from the model file, so it fits any exported model."""

    def __init__(self, model_path: str, images: Any, batch_size: int = 32) -> None:
        import onnx

        self.input_name = onnx.load(model_path).graph.input[0].name
        self.images = np.asarray(images.numpy() if isinstance(images, Tensor) else images, dtype=np.float32)
        self.batch_size = int(batch_size)
        self.start = 0

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self.start >= len(self.images):
            return None
        batch = self.images[self.start:self.start + self.batch_size]
        self.start += self.batch_size
        return {self.input_name: batch}

    def rewind(self) -> None:
        self.start = 0


def quantize_int8(float_path: str, int8_path: str, reader: Any) -> str:
    """Post-training static quantisation: int8 weights and activations (QDQ format), the activation
    ranges calibrated on `reader`'s batches (min/max). Writes `int8_path` and returns it.

    The model is pre-processed first (shape inference, constant folding): this exporter feeds a
    linear layer's weight through a Transpose node, and only a weight that is an initializer itself
    is stored as int8 (without folding, the file would keep the float32 weights)."""
    import os
    import tempfile

    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    with tempfile.TemporaryDirectory() as folder:
        prepared = os.path.join(folder, "prepared.onnx")
        quant_pre_process(float_path, prepared)
        quantize_static(prepared, int8_path, reader, quant_format=QuantFormat.QDQ, activation_type=QuantType.QInt8,
                        weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.MinMax)
    return int8_path
