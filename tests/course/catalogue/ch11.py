"""Wrong solutions for chapter 11 (deployment): the mistakes of a first ONNX exporter and a first int8 model.

Names ending in `_hidden_only` pass the visible self-check and fail only the hidden tests.
"""

SLUG = "11_deployment"

TABLE = """{"add": "Add", "sub": "Sub", "mul": "Mul", "div": "Div", "neg": "Neg", "exp": "Exp", "log": "Log",
         "sqrt": "Sqrt", "tanh": "Tanh", "sigmoid": "Sigmoid", "relu": "Relu", "maximum": "Max", "minimum": "Min"}"""


def _elementwise(body: str) -> str:
    return f"""
def elementwise_node(op, inputs, output):
    table = {TABLE}
{_indent(body, 4)}
"""


def _indent(text: str, spaces: int) -> str:
    return "\n".join(" " * spaces + line if line.strip() else line for line in text.strip("\n").splitlines())


def _linear(body: str) -> str:
    return f"""
def linear_node(inputs, output):
{_indent(body, 4)}
"""


CONV = 'return helper.make_node("Conv", list(inputs), [output], strides=[sh, sw], pads=[ph, pw, ph, pw])'
POOL = ('return helper.make_node("MaxPool", list(inputs), [output], kernel_shape=[kh, kw], strides=[sh, sw], '
        'pads=[ph, pw, ph, pw])')
FLAT = 'return helper.make_node("Flatten", list(inputs), [output], axis=1)'
FLAT_IF = "if node.op == 'reshape' and len(node.out.shape) == 2 and node.inputs[0].shape[:1] == node.out.shape[:1]:"


def _window(conv: str = CONV, pool: str = POOL, flat: str = FLAT, flat_if: str = FLAT_IF,
            geo: str = "_, _, _, kh, kw, _, _, sh, sw, ph, pw = node.options['geo']",
            tail: str = "raise ValueError(node.op)") -> str:
    return f"""
def window_node(node, inputs, output):
    if node.op == "conv2d":
        (sh, sw), (ph, pw) = node.options["stride"], node.options["padding"]
        {conv}
    if node.op == "max_pool2d":
        {geo}
        {pool}
    {flat_if}
        {flat}
    {tail}
"""


EXPORT_BODY = """
graph = trace(model, (example,))
names, nodes, initializers = {}, [], []
x, y = graph.inputs[0], graph.outputs[0]
names[x.id] = "input"
for value in graph.captures:
    names[value.id] = f"param{value.id}"
    initializers.append(numpy_helper.from_array(value.tensor.numpy(), names[value.id]))
for node in graph.nodes:
    for value in node.inputs:
        if value.id not in names:
            names[value.id] = f"literal{value.id}"
            initializers.append(numpy_helper.from_array(value.tensor.numpy(), names[value.id]))
    inputs = [names[value.id] for value in node.inputs]
    out = names[node.out.id] = f"v{node.out.id}"
    if node.op == "linear":
        nodes.append(linear_node(inputs, out))
    elif node.op in ("conv2d", "max_pool2d", "reshape"):
        nodes.append(window_node(node, inputs, out))
    else:
        nodes.append(elementwise_node(node.op, inputs, out))
nodes.append(helper.make_node("Identity", [names[y.id]], ["output"]))
dims = lambda v: ["batch", *v.shape[1:]] if dynamic_batch else list(v.shape)
graph_inputs = [helper.make_tensor_value_info("input", TensorProto.FLOAT, dims(x))]
onnx_graph = helper.make_graph(nodes, "g", graph_inputs,
                               [helper.make_tensor_value_info("output", TensorProto.FLOAT, dims(y))], initializers)
proto = helper.make_model(onnx_graph, opset_imports=[helper.make_opsetid("", OPSET)])
onnx.checker.check_model(proto)
if path is not None:
    onnx.save(proto, path)
return proto
"""


def _export(*edits: tuple[str, str]) -> str:
    body = EXPORT_BODY
    for old, new in edits:
        assert old in body, old
        body = body.replace(old, new)
    return f"""
def export(model, example, path=None, dynamic_batch=True):
{_indent(body, 4)}
"""


READER_INIT = """
self.input_name = onnx.load(model_path).graph.input[0].name
self.images = np.asarray(images, dtype=np.float32)
self.batch_size = int(batch_size)
self.position = 0
"""
READER_NEXT = """
if self.position >= len(self.images):
    return None
batch = self.images[self.position:self.position + self.batch_size]
self.position += self.batch_size
return {self.input_name: batch}
"""


def _reader(init: str = READER_INIT, get_next: str = READER_NEXT, rewind: str = "self.position = 0") -> str:
    return f"""
class DigitsReader(CalibrationDataReader):
    def __init__(self, model_path, images, batch_size=32):
{_indent(init, 8)}

    def get_next(self):
{_indent(get_next, 8)}

    def rewind(self):
{_indent(rewind, 8)}
"""


def _quantize(body: str) -> str:
    return f"""
def quantize_int8(float_path, int8_path, reader):
{_indent(body, 4)}
"""


STATIC = """
with tempfile.TemporaryDirectory() as folder:
    prepared = os.path.join(folder, "prepared.onnx")
    quant_pre_process(float_path, prepared)
    quantize_static(prepared, int8_path, reader, quant_format=QuantFormat.QDQ, activation_type={act},
                    weight_type={weight})
return int8_path
"""

WRONG = {
    "elementwise": {
        "relu_spelt_like_pytorch": _elementwise("""
table["relu"] = "ReLU"
return helper.make_node(table[op], list(inputs), [output])
"""),
        "operands_reversed": _elementwise("return helper.make_node(table[op], list(reversed(inputs)), [output])"),
        "maximum_named_maximum": _elementwise("""
table["maximum"], table["minimum"] = "Maximum", "Minimum"
if op not in table:
    raise ValueError(op)
return helper.make_node(table[op], list(inputs), [output])
"""),
        "unknown_op_becomes_identity_hidden_only": _elementwise(
            "return helper.make_node(table.get(op, 'Identity'), list(inputs)[:1] if op not in table else list(inputs), "
            "[output])"),
        "lowercase_op_names": _elementwise("return helper.make_node(op, list(inputs), [output])"),
        "only_the_visible_ops_hidden_only": """
def elementwise_node(op, inputs, output):
    table = {"add": "Add", "sub": "Sub", "mul": "Mul", "relu": "Relu", "exp": "Exp"}
    if op not in table:
        raise ValueError(op)
    return helper.make_node(table[op], list(inputs), [output])
""",
    },
    "linear": {
        "transB_missing": _linear('return helper.make_node("Gemm", list(inputs), [output])'),
        "transA_instead_of_transB": _linear('return helper.make_node("Gemm", list(inputs), [output], transA=1)'),
        "weights_not_transposed_matmul": _linear('return helper.make_node("MatMul", list(inputs)[:2], [output])'),
        "bias_dropped": _linear('return helper.make_node("Gemm", list(inputs)[:2], [output], transB=1)'),
        "bias_always_read_hidden_only": _linear(
            'return helper.make_node("Gemm", [inputs[0], inputs[1], inputs[2]], [output], transB=1)'),
    },
    "conv_pool": {
        "pads_height_then_width_hidden_only": _window(
            conv='return helper.make_node("Conv", list(inputs), [output], strides=[sh, sw], pads=[ph, ph, pw, pw])',
            pool=POOL.replace("pads=[ph, pw, ph, pw]", "pads=[ph, ph, pw, pw]")),
        "strides_forgotten": _window(
            conv='return helper.make_node("Conv", list(inputs), [output], pads=[ph, pw, ph, pw])'),
        "pool_kernel_from_output_size": _window(geo="_, _, _, _, _, kh, kw, sh, sw, ph, pw = node.options['geo']"),
        "flatten_everything": _window(flat='return helper.make_node("Flatten", list(inputs), [output], axis=0)'),
        "pads_of_two_hidden_only": _window(
            conv='return helper.make_node("Conv", list(inputs), [output], strides=[sh, sw], pads=[ph, ph, ph, ph])',
            pool=POOL.replace("pads=[ph, pw, ph, pw]", "pads=[ph, ph, ph, ph]")),
        "kernel_shape_as_width_height_hidden_only": _window(
            pool=POOL.replace("kernel_shape=[kh, kw]", "kernel_shape=[kw, kh]")),
        "every_other_op_is_avg_pool_hidden_only": _window(
            tail='return helper.make_node("AveragePool", list(inputs), [output], kernel_shape=[2, 2], strides=[2, 2])'),
    },
    "export": {
        "fixed_batch_dim": _export(('dims = lambda v: ["batch", *v.shape[1:]] if dynamic_batch else list(v.shape)',
                                    "dims = lambda v: list(v.shape)")),
        "opset_left_to_the_default": _export(
            ('helper.make_model(onnx_graph, opset_imports=[helper.make_opsetid("", OPSET)])',
             "helper.make_model(onnx_graph)")),
        "old_opset_9": _export(('helper.make_opsetid("", OPSET)', 'helper.make_opsetid("", 9)')),
        "parameters_as_graph_inputs": _export(
            ("    initializers.append(numpy_helper.from_array(value.tensor.numpy(), names[value.id]))\nfor node",
             "    pass\nfor node"),
            ('graph_inputs = [helper.make_tensor_value_info("input", TensorProto.FLOAT, dims(x))]',
             'graph_inputs = [helper.make_tensor_value_info("input", TensorProto.FLOAT, dims(x))] + '
             '[helper.make_tensor_value_info(names[v.id], TensorProto.FLOAT, list(v.shape)) for v in graph.captures]')),
        "output_never_named": _export(
            ('nodes.append(helper.make_node("Identity", [names[y.id]], ["output"]))', "pass")),
        "literals_forgotten_hidden_only": _export(
            ('        if value.id not in names:\n            names[value.id] = f"literal{value.id}"\n'
             '            initializers.append(numpy_helper.from_array(value.tensor.numpy(), names[value.id]))\n',
             "        pass\n")),
        "path_ignored_hidden_only": _export(("    onnx.save(proto, path)", "    pass")),
        "dynamic_flag_ignored_hidden_only": _export(
            ('dims = lambda v: ["batch", *v.shape[1:]] if dynamic_batch else list(v.shape)',
             'dims = lambda v: ["batch", *v.shape[1:]]')),
    },
    "calibration": {
        "same_batch_forever": _reader(get_next="return {self.input_name: self.images[:self.batch_size]}"),
        "input_name_hard_coded": _reader(init=READER_INIT.replace("onnx.load(model_path).graph.input[0].name",
                                                                  '"input"')),
        "float64_batches": _reader(init=READER_INIT.replace("np.asarray(images, dtype=np.float32)",
                                                            "np.asarray(images, dtype=np.float64)")),
        "last_partial_batch_dropped": _reader(get_next=READER_NEXT.replace(
            "if self.position >= len(self.images):", "if self.position + self.batch_size > len(self.images):")),
        "one_image_without_batch_axis": _reader(get_next="""
if self.position >= len(self.images):
    return None
self.position += 1
return {self.input_name: self.images[self.position - 1]}
"""),
        "rewind_does_nothing_hidden_only": _reader(rewind="pass"),
        "input_name_from_a_fixed_exporter_hidden_only": _reader(
            init=READER_INIT.replace("onnx.load(model_path).graph.input[0].name", '"images"')),
    },
    "quantize": {
        "copies_the_float_model": _quantize("""
import shutil
while reader.get_next() is not None:  # calibrates, then forgets to quantise
    pass
shutil.copy(float_path, int8_path)
return int8_path
"""),
        "dynamic_ignores_the_reader": _quantize("""
quantize_dynamic(float_path, int8_path, weight_type=QuantType.QInt8)
return int8_path
"""),
        "no_pre_processing": _quantize("""
quantize_static(float_path, int8_path, reader, quant_format=QuantFormat.QDQ, activation_type=QuantType.QInt8,
                weight_type=QuantType.QInt8)
return int8_path
"""),
        "activations_only_float_weights": _quantize(
            STATIC.format(act="QuantType.QInt8", weight="QuantType.QInt8").replace(
                "quant_format=QuantFormat.QDQ,", "quant_format=QuantFormat.QDQ, op_types_to_quantize=['Relu'],")),
        "unsigned_activations_hidden_only": _quantize(STATIC.format(act="QuantType.QUInt8", weight="QuantType.QInt8")),
        "calibrated_on_one_batch": _quantize("""
first = reader.get_next()

class _One:
    def __init__(self):
        self.done = False

    def get_next(self):
        if self.done:
            return None
        self.done = True
        return first

with tempfile.TemporaryDirectory() as folder:
    prepared = os.path.join(folder, "prepared.onnx")
    quant_pre_process(float_path, prepared)
    quantize_static(prepared, int8_path, _One(), quant_format=QuantFormat.QDQ, activation_type=QuantType.QInt8,
                    weight_type=QuantType.QInt8)
return int8_path
"""),
    },
}
