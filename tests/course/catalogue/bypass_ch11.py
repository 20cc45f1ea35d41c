"""Shortcuts through the package for chapter 11: the package's exporter (`mt.onnx.export`, `to_onnx`, its
converter `_convert` and tables), calibration reader and quantiser, reached by a saved name, a module alias,
`getattr` with a computed name, an object held inside the learner's, or the name rebound after the solution.
Each must score 0 on its part, refused by the seal (issue 22)."""

SLUG = "11_deployment"

# a stand-in IR node for the package's converter: it reads op, options, out.dtype and inputs[i].dtype
FAKE_NODE = """
import types

def _fake(op, n_inputs, options=None):
    value = types.SimpleNamespace(dtype=np.dtype(np.float32), shape=(2, 3))
    return types.SimpleNamespace(op=op, options=options or {}, out=value, inputs=[value] * n_inputs)
"""

BYPASS = {
    "elementwise": {
        "saved_tables": """
from minitorch_edu.onnx import _BINARY as _binary, _UNARY as _unary

def elementwise_node(op, inputs, output):
    table = {**_binary, **_unary}
    if op not in table:
        raise ValueError(op)
    return helper.make_node(table[op], list(inputs), [output])
""",
        "saved_converter": FAKE_NODE + """
from minitorch_edu.onnx import _Builder, _convert

def elementwise_node(op, inputs, output):
    builder = _Builder()
    _convert(builder, _fake(op, len(inputs)), list(inputs), output)
    return builder.nodes[-1]
""",
        "computed_name": FAKE_NODE + """
import minitorch_edu.onnx as _deploy
_convert_fn = getattr(_deploy, "_con" + "vert")
_builder_cls = getattr(_deploy, "_Bui" + "lder")

def elementwise_node(op, inputs, output):
    builder = _builder_cls()
    _convert_fn(builder, _fake(op, len(inputs)), list(inputs), output)
    return builder.nodes[-1]
""",
    },
    "linear": {
        "saved_converter": FAKE_NODE + """
from minitorch_edu.onnx import _Builder as _B, _convert as _c

def linear_node(inputs, output):
    builder = _B()
    _c(builder, _fake("linear", len(inputs)), list(inputs), output)
    return builder.nodes
""",
        "computed_name": FAKE_NODE + """
_c = vars(mt.onnx)["_con" + "vert"]

def linear_node(inputs, output):
    builder = vars(mt.onnx)["_Bui" + "lder"]()
    _c(builder, _fake("linear", len(inputs)), list(inputs), output)
    return builder.nodes
""",
    },
    "conv_pool": {
        "saved_converter": """
from minitorch_edu.onnx import _Builder, _convert

def window_node(node, inputs, output):
    builder = _Builder()
    _convert(builder, node, list(inputs), output)
    return builder.nodes[-1]
""",
        "computed_name": """
_deploy = getattr(mt, "on" + "nx")

def window_node(node, inputs, output):
    if node.op == "reshape":
        return helper.make_node("Flatten", list(inputs), [output], axis=1)
    builder = getattr(_deploy, "_" + "Builder")()
    getattr(_deploy, "_" + "convert")(builder, node, list(inputs), output)
    return builder.nodes[-1]
""",
    },
    "export": {
        "saved_name": """
from minitorch_edu.onnx import export as _package_export

def export(model, example, path=None, dynamic_batch=True):
    return _package_export(model, example, path, dynamic_batch=dynamic_batch)
""",
        "saved_to_onnx": """
from minitorch_edu.onnx import to_onnx as _to

def export(model, example, path=None, dynamic_batch=True):
    proto = _to(trace(model, (example,)), dynamic_batch=dynamic_batch)
    if path is not None:
        onnx.save(proto, path)
    return proto
""",
        "module_alias": """
import minitorch_edu.onnx as deploy

def export(model, example, path=None, dynamic_batch=True):
    return deploy.export(model, example, path, dynamic_batch=dynamic_batch)
""",
        "computed_name": """
_deploy = getattr(mt, "on" + "nx")
_exporter = getattr(_deploy, "ex" + "port")

def export(model, example, path=None, dynamic_batch=True):
    return _exporter(model, example, path, dynamic_batch=dynamic_batch)
""",
        "is_the_reference": """
# after the reference solution
export = mt.onnx.export
""",
    },
    "calibration": {
        "saved_subclass": """
from minitorch_edu.onnx import BatchReader

class DigitsReader(BatchReader, CalibrationDataReader):
    pass
""",
        "computed_name_held_inside": """
_Reader = getattr(mt.onnx, "Batch" + "Reader")

class DigitsReader(CalibrationDataReader):
    def __init__(self, model_path, images, batch_size=32):
        self.inner = _Reader(model_path, images, batch_size)

    def get_next(self):
        return self.inner.get_next()

    def rewind(self):
        self.inner.rewind()
""",
        "computed_name_subclass": """
class DigitsReader(vars(mt.onnx)["Batch" + "Reader"], CalibrationDataReader):
    pass
""",
    },
    "quantize": {
        "saved_name": """
from minitorch_edu.onnx import quantize_int8 as _q

def quantize_int8(float_path, int8_path, reader):
    return _q(float_path, int8_path, reader)
""",
        "computed_name": """
_q = getattr(mt.onnx, "quantize_" + "int8")

def quantize_int8(float_path, int8_path, reader):
    return _q(float_path, int8_path, reader)
""",
        "is_the_reference": """
# after the reference solution
quantize_int8 = mt.onnx.quantize_int8
""",
    },
}
