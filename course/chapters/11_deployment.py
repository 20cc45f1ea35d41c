# %% [markdown]
# # 11 · Deployment: a trained model leaves the framework
#
# A model is trained once and run millions of times: in a web service, on a phone, in a browser, on a
# board with no Python at all. None of those places wants your training framework. They want a **file**
# that says which operations to run in which order, with the trained weights inside, and a small, fast
# **runtime** that executes it. This chapter builds that road for the framework you wrote.
#
# Chapter 10 turned a Python function into a graph: you wrote the tracer that runs a model once on
# stand-in tensors and records every op into the package's graph IR (`Graph`, `Value`, `Node`). Here the
# graph comes from the package's tracer, `minitorch_edu.graph.trace`: it records exactly the IR your
# tracer records. You write the **exporter** from that IR to ONNX, the open format that almost every
# runtime reads, run the exported MLP and CNN in onnxruntime, and check that they give the numbers your
# framework gives on digits they never saw. Then you shrink the CNN to 8-bit integers with onnxruntime's
# quantisation tools and measure what that costs and what it buys.
#
# What you write (graded, 28 points):
#
# | part | what | points |
# | --- | --- | --- |
# | 1 | `elementwise_node`: IR ops such as `add`, `relu` → one ONNX node | 3 |
# | 2 | `linear_node`: the IR's `linear` → ONNX `Gemm` | 4 |
# | 3 | `window_node`: `conv2d`, `max_pool2d` and flattening → `Conv`, `MaxPool`, `Flatten` | 5 |
# | 4 | `export`: a traced model → a checked ONNX model with its weights and a dynamic batch size | 6 |
# | 5 | `DigitsReader`: the calibration data reader of static quantisation | 4 |
# | 6 | `quantize_int8`: post-training int8 quantisation, smaller and as accurate | 6 |
#
# The checks run with the package's own exporter (`mt.onnx`) sealed: a solution that hands the work to
# it scores nothing for that part. The `onnx` and `onnxruntime` packages are yours to use: they are the
# format and the runtime, not the exporter.

# %% [setup]
import atexit
import logging
import os
import shutil
import tempfile
import time
import warnings

import matplotlib.pyplot as plt
import numba
import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_dynamic, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

import minitorch_edu as mt
from minitorch_edu import testing
from minitorch_edu.course import Chapter
from minitorch_edu.graph import trace

chapter = Chapter(
    "11_deployment",
    references={
        "elementwise": ["minitorch_edu.onnx._convert", "minitorch_edu.onnx._BINARY", "minitorch_edu.onnx._UNARY",
                        "minitorch_edu.onnx.to_onnx", "minitorch_edu.onnx.export"],
        "linear": ["minitorch_edu.onnx._convert", "minitorch_edu.onnx.to_onnx", "minitorch_edu.onnx.export"],
        "conv_pool": ["minitorch_edu.onnx._convert", "minitorch_edu.onnx.to_onnx", "minitorch_edu.onnx.export"],
        "export": ["minitorch_edu.onnx.export", "minitorch_edu.onnx.to_onnx", "minitorch_edu.onnx._convert",
                   "minitorch_edu.onnx._Builder", "minitorch_edu.onnx._elem_type", "minitorch_edu.onnx._BINARY",
                   "minitorch_edu.onnx._UNARY"],
        "calibration": ["minitorch_edu.onnx.BatchReader"],
        "quantize": ["minitorch_edu.onnx.quantize_int8"],
    },
)
plt.rcParams.update({"figure.dpi": 80, "figure.figsize": (5, 3.5)})
F = mt.nn.functional
OPSET = 17  # the ONNX operator set this course exports to (mt.onnx.OPSET): runtimes of the last years read it
THREADS = 1  # every speed in this chapter is measured on one thread, in the framework and in onnxruntime
numba.set_num_threads(THREADS)
logging.getLogger().setLevel(logging.ERROR)  # onnxruntime's quantiser logs advice at WARNING for every call
WORK = tempfile.mkdtemp(prefix="minitorch_edu_ch11_")  # every file this chapter writes goes here, not beside
atexit.register(shutil.rmtree, WORK, ignore_errors=True)  # the notebook; removed when the kernel stops


def session(model):
    """An onnxruntime session on one CPU thread, for an ONNX file path or an onnx.ModelProto."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = THREADS
    options.log_severity_level = 3
    source = model.SerializeToString() if isinstance(model, onnx.ModelProto) else model
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def run(sess, x):
    """The first output of `sess` on the array `x`, fed to its first input (whatever its name)."""
    return sess.run(None, {sess.get_inputs()[0].name: np.asarray(x, dtype=np.float32)})[0]


def run_nodes(nodes, feeds, rank=None, output="y"):
    """Run ONNX nodes alone: a graph whose inputs are `feeds` (name -> float32 array), checked, in onnxruntime.

    The output `output` is declared with `rank` dimensions of any size (default: the first feed's rank)."""
    nodes = nodes if isinstance(nodes, (list, tuple)) else [nodes]
    inputs = [helper.make_tensor_value_info(k, TensorProto.FLOAT, list(np.shape(v))) for k, v in feeds.items()]
    rank = len(np.shape(next(iter(feeds.values())))) if rank is None else rank
    out = helper.make_tensor_value_info(output, TensorProto.FLOAT, [f"d{i}" for i in range(rank)])
    graph = helper.make_graph(list(nodes), "nodes", inputs, [out])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    onnx.checker.check_model(model)
    return session(model).run(None, {k: np.asarray(v, np.float32) for k, v in feeds.items()})[0]


def framework(model, x):
    """The model's outputs in your framework (eval mode, no graph), as a NumPy array."""
    if isinstance(model, mt.nn.Module):
        model.eval()
    with mt.no_grad():
        return model(mt.tensor(np.asarray(x, dtype=np.float32))).numpy()


def accuracy(outputs, labels):
    return float(np.mean(np.asarray(outputs).argmax(axis=1) == np.asarray(labels)))


def fit(model, x, y, epochs, seed, lr=0.005):
    """A few epochs of Adam on (x, y) in batches of 64 (the loop of chapter 08)."""
    optimizer = mt.optim.Adam(model.parameters(), lr=lr)
    order_rng = np.random.default_rng(seed)
    model.train()
    for _ in range(epochs):
        order = order_rng.permutation(len(x))
        for start in range(0, len(x), 64):
            rows = order[start:start + 64]
            loss = F.cross_entropy(model(mt.tensor(x[rows])), mt.tensor(y[rows]))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    model.eval()
    return model


def make_mlp(seed):
    mt.manual_seed(seed)
    return mt.nn.Sequential(mt.nn.Linear(64, 128), mt.nn.ReLU(), mt.nn.Linear(128, 10))


def make_cnn(seed):
    """Chapter 09's small CNN: a 3x3 convolution, ReLU, 2x2 max pool, flatten, two linear layers."""
    mt.manual_seed(seed)
    return mt.nn.Sequential(mt.nn.Conv2d(1, 16, 3, padding=1), mt.nn.ReLU(), mt.nn.MaxPool2d(2), mt.nn.Flatten(),
                            mt.nn.Linear(16 * 4 * 4, 128), mt.nn.ReLU(), mt.nn.Linear(128, 10))


# scikit-learn's 8x8 digits (shipped with it, nothing is downloaded): 1438 to train on, 359 held back
(x_train, y_train), (x_test, y_test) = mt.data.load_digits()  # images (N, 1, 8, 8), pixels in [0, 1]
x_train, x_test = x_train.astype(np.float32), x_test.astype(np.float32)
flat_train, flat_test = x_train.reshape(len(x_train), 64), x_test.reshape(len(x_test), 64)
_start = time.perf_counter()
mlp = fit(make_mlp(0), flat_train, y_train, epochs=4, seed=0)
cnn = fit(make_cnn(0), x_train, y_train, epochs=6, seed=0)
print(f"trained an MLP and a CNN in your framework in {time.perf_counter() - _start:.1f} s: held-back accuracy "
      f"{accuracy(framework(mlp, flat_test), y_test):.1%} (MLP), {accuracy(framework(cnn, x_test), y_test):.1%} (CNN)")

# %% [markdown]
# ## How models leave a framework
#
# Every framework has its own way out, and they differ in what the file holds:
#
# | format | made by | the file holds | runs in |
# | --- | --- | --- | --- |
# | **SavedModel** | `tf.saved_model.save`, Keras `export` | TF's graph and variables | TF Serving, TF |
# | **TorchScript** | `torch.jit.trace` / `script` | PyTorch ops, no Python | libtorch (C++) |
# | **`torch.export`** | `torch.export.export` | core ATen ops, symbolic dims | ExecuTorch, AOTInductor |
# | **ONNX** | `torch.onnx.export`, tf2onnx, Keras, yours | standard ops + weights | onnxruntime, TensorRT, OpenVINO |
# | **TFLite** (LiteRT) | `tf.lite.TFLiteConverter` | mobile ops, often int8 | phones, microcontrollers |
#
# They all do what chapter 10 did: run the model once, record the ops, freeze the shapes that are fixed
# and name the ones that are not. What differs is the vocabulary of ops. TorchScript and `torch.export`
# speak PyTorch's own ops, so only PyTorch-based runtimes read them; **ONNX** is a *standard* vocabulary
# (about 200 operators, each with a versioned specification), which is why it is the format in between:
# PyTorch, Keras and JAX models all reach it, and every serious runtime reads it.
#
# An ONNX model is a protobuf message, built with `onnx.helper`:
#
# ```python
# node = helper.make_node("Gemm", ["x", "W", "b"], ["y"], transB=1)      # op type, inputs, outputs, attributes
# x_info = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 64])   # a named input: dtype, shape
# W = numpy_helper.from_array(weights, "W")                              # an initializer: a constant tensor
# graph = helper.make_graph([node, ...], "name", [x_info], [y_info], [W, ...])
# model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
# onnx.checker.check_model(model)                                        # is it valid ONNX?
# ```
#
# Values are wired by **name**: a node's input `"W"` is whatever produced or holds the name `"W"` (a
# graph input, an initializer or another node's output). Node order must be topological, which a
# traced graph already is.
#
# Here is the IR of the trained CNN, as the package's tracer records it (your chapter-10 tracer records
# the same): inputs, captured parameters, one line per op.

# %%
cnn_graph = trace(cnn, (mt.tensor(x_test[:2]),))
print(cnn_graph)
print("\nthe options a node carries:", {n.op: n.options for n in cnn_graph.nodes if n.options})

# %% [markdown]
# Each IR node has `node.op` (its name), `node.inputs` and `node.out` (`Value`s: `.id`, `.shape`,
# `.dtype`, `.kind`, one of "input", "capture", "literal", "node"; a capture or a literal holds its tensor
# in `.tensor`) and `node.options` (a convolution's stride and padding, a pool's geometry). Exporting
# means: give every value a name, turn every captured tensor into an initializer, and turn every node
# into ONNX nodes. That last step is a dictionary and a few special cases.
#
# ### Part 1 · Elementwise ops (3 points)
#
# Most IR ops have an ONNX op of the same meaning, taking the inputs in the same order:
#
# | IR op | `add` | `sub` | `mul` | `div` | `neg` | `exp` | `log` | `sqrt` | `tanh` | `sigmoid` | `relu` |
# | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
# | ONNX op | `Add` | `Sub` | `Mul` | `Div` | `Neg` | `Exp` | `Log` | `Sqrt` | `Tanh` | `Sigmoid` | `Relu` |
#
# and `maximum` → `Max`, `minimum` → `Min`.
#
# ONNX's names are case-sensitive (`Relu`, not `ReLU`), and `Sub` and `Div` compute *first input minus
# (over) second*, as the IR does. Both broadcast as NumPy does. An op outside this table must not be
# exported as something else: raise a `ValueError` that names it (the user then knows which layer
# cannot be deployed).

# %% [solution] id=elementwise
def elementwise_node(op, inputs, output):
    """One onnx.NodeProto computing the IR's elementwise `op` on the value names `inputs`, into `output`.

    The ops of the table above; any other op raises a ValueError that names it.
    """
    ### BEGIN SOLUTION
    table = {"add": "Add", "sub": "Sub", "mul": "Mul", "div": "Div", "neg": "Neg", "exp": "Exp", "log": "Log",
             "sqrt": "Sqrt", "tanh": "Tanh", "sigmoid": "Sigmoid", "relu": "Relu", "maximum": "Max", "minimum": "Min"}
    if op not in table:
        raise ValueError(f"the IR op {op!r} has no elementwise ONNX op here")
    return helper.make_node(table[op], list(inputs), [output])
    ### END SOLUTION

# %% [tests] id=elementwise_tests points=3
_A = np.array([[1.5, -2.0, 3.0], [-4.0, 0.5, -0.25]], np.float32)
_B = np.array([[2.0, 0.5, -1.0], [3.0, -2.0, 4.0]], np.float32)
_NAMES = ("case-sensitive ONNX op names: Add, Sub, Mul, Div, Neg, Exp, Log, Sqrt, Tanh, Sigmoid, Relu, Max, Min "
          "(Relu, not ReLU or relu)")


def _check_elementwise(op, want, binary):
    ins = ["a", "b"] if binary else ["a"]
    call = f"elementwise_node({op!r}, {ins}, 'y')"
    with testing.calling(call):
        node = elementwise_node(op, ins, "y")
    testing.assert_true(isinstance(node, onnx.NodeProto), call=call, got=type(node).__name__,
                        expected="an onnx.NodeProto",
                        hint="build it with onnx.helper.make_node(op_type, inputs, outputs)")
    with testing.calling(f"{call}, checked and run in onnxruntime", hint=_NAMES):
        got = run_nodes(node, {"a": _A, "b": _B} if binary else {"a": _A})
    shown = f"{call} run on a = {_A.tolist()}" + (f", b = {_B.tolist()}" if binary else "")
    testing.assert_close(got, want, call=shown,
                         rtol=1e-6, hints=[(lambda g, e: np.allclose(g, -e), "the operands are swapped: ONNX's Sub "
                                            "and Div take the first input first, as the IR does")])


with testing.part("elementwise"):
    _check_elementwise("add", _A + _B, True)
    _check_elementwise("sub", _A - _B, True)
    _check_elementwise("mul", _A * _B, True)
    _check_elementwise("relu", np.maximum(_A, 0), False)
    _check_elementwise("exp", np.exp(_A), False)
### BEGIN HIDDEN TESTS
with testing.part("elementwise", hidden=True):
    _check_elementwise("div", _A / _B, True)
    _check_elementwise("maximum", np.maximum(_A, _B), True)
    _check_elementwise("minimum", np.minimum(_A, _B), True)
    _check_elementwise("neg", -_A, False)
    _check_elementwise("tanh", np.tanh(_A), False)
    _check_elementwise("sigmoid", 1 / (1 + np.exp(-_A)), False)
    _err = testing.assert_raises(ValueError, elementwise_node, "cumsum", ["a"], "y",
                                 call="elementwise_node('cumsum', ['a'], 'y')",
                                 hints="an op outside the table must raise, not become some other op")
    testing.assert_true("cumsum" in str(_err), call="the ValueError of elementwise_node('cumsum', ...)",
                        got=str(_err), expected="a message that names 'cumsum'")
### END HIDDEN TESTS

# %% [markdown]
# ### Part 2 · `linear` → `Gemm` (4 points)
#
# The IR's `linear` takes `x, W, b` with the weight stored as PyTorch stores it, `(out, in)`, and
# computes `x @ W.T + b`. ONNX's **`Gemm`** (general matrix multiply, BLAS's name) computes
# `alpha * A' @ B' + beta * C` where `A'` is `A` or its transpose (`transA=1`), `B'` is `B` or its
# transpose (`transB=1`), and `alpha = beta = 1` by default. So `linear` is one `Gemm` with **`transB=1`**:
# no `Transpose` node, and the runtime reads the weight in the layout it was trained in (PyTorch's own
# exporter writes exactly this). A linear layer without a bias has two inputs; `Gemm` allows that too
# (its `C` is optional). `Gemm` wants a 2-D `A`: every linear layer in this chapter sees `(batch, features)`.

# %% [solution] id=linear
def linear_node(inputs, output):
    """One onnx.NodeProto computing the IR's linear: inputs [x, W] or [x, W, b], W of shape (out, in): x @ W.T (+ b)."""
    ### BEGIN SOLUTION
    return helper.make_node("Gemm", list(inputs), [output], transB=1)
    ### END SOLUTION

# %% [tests] id=linear_tests points=4
_rng = np.random.default_rng(11)


def _check_linear(n, d_in, d_out, bias):
    x = _rng.standard_normal((n, d_in)).astype(np.float32)
    w = _rng.standard_normal((d_out, d_in)).astype(np.float32)
    b = _rng.standard_normal(d_out).astype(np.float32)
    ins = ["x", "w", "b"] if bias else ["x", "w"]
    call = f"linear_node({ins}, 'y') run on x {x.shape}, W {w.shape}" + (f", b {b.shape}" if bias else "")
    with testing.calling(f"linear_node({ins}, 'y')"):
        node = linear_node(ins, "y")
    feeds = {"x": x, "w": w, "b": b} if bias else {"x": x, "w": w}
    with testing.calling(call, hint="Gemm computes A @ B + C: W is stored (out, in), so B must be transposed "
                                    "(transB=1), or the shapes do not line up"):
        got = run_nodes(node, feeds)
    want = x @ w.T + (b if bias else 0)
    testing.assert_close(got, want, call=call, rtol=1e-4, atol=1e-5,
                         hints=[(lambda g, e: bias and np.allclose(g, x @ w.T, rtol=1e-4, atol=1e-5),
                                 "the bias is missing: pass all the inputs to Gemm, C is the bias")])


with testing.part("linear"):
    _check_linear(5, 3, 4, bias=True)
    _check_linear(2, 6, 3, bias=True)
### BEGIN HIDDEN TESTS
with testing.part("linear", hidden=True):
    _check_linear(4, 7, 2, bias=False)
    _check_linear(1, 5, 8, bias=True)
    with testing.calling("linear_node(['x', 'w', 'b'], 'y')"):
        _node = linear_node(["x", "w", "b"], "y")
    testing.assert_true(_node.op_type == "Gemm", call="linear_node(['x', 'w', 'b'], 'y').op_type", got=_node.op_type,
                        expected="Gemm", hint="one Gemm node with transB=1: no Transpose, no MatMul + Add")
### END HIDDEN TESTS

# %% [markdown]
# ### Part 3 · Convolution, pooling and flattening (5 points)
#
# Your framework and ONNX agree on the **layout**: images are `NCHW` (batch, channels, height, width),
# convolution weights `(out_channels, in_channels, kh, kw)`, the PyTorch convention. (TensorFlow and TFLite
# use `NHWC`; converting a Keras model to ONNX inserts transposes for exactly this reason.) What differs
# is how the geometry is spelt:
#
# - **`conv2d`** carries `options["stride"] = (sh, sw)` and `options["padding"] = (ph, pw)`. ONNX's `Conv`
#   takes the inputs `x, W, b` as they are, `strides=[sh, sw]` and `pads` in ONNX's order: **all the
#   starts, then all the ends**, `[top, left, bottom, right] = [ph, pw, ph, pw]`. (Not `[ph, ph, pw, pw]`:
#   that pads the height by `ph` on top and by `pw` at the bottom.)
# - **`max_pool2d`** carries `options["geo"] = (rows, H, W, kh, kw, out_h, out_w, sh, sw, ph, pw)`; ONNX's
#   `MaxPool` wants `kernel_shape=[kh, kw]`, `strides=[sh, sw]` and `pads=[ph, pw, ph, pw]`.
# - **`reshape`** from `(batch, C, H, W)` to `(batch, C*H*W)` is what `mt.nn.Flatten` records. Its
#   `options["shape"]` holds the *example's* batch size, so copying it into the file would fix the batch
#   size for ever. ONNX's `Flatten` with `axis=1` keeps the first dimension, whatever it is, and flattens
#   the rest. Refuse any other reshape (and any other op) with a `ValueError` that names it.

# %% [solution] id=conv_pool
def window_node(node, inputs, output):
    """One onnx.NodeProto for an IR node `node` whose op is conv2d, max_pool2d or a flattening reshape.

    `inputs` are the names of node.inputs in order, `output` the name of node.out. Other ops raise a ValueError.
    """
    ### BEGIN SOLUTION
    options = node.options
    if node.op == "conv2d":
        (sh, sw), (ph, pw) = options["stride"], options["padding"]
        return helper.make_node("Conv", list(inputs), [output], strides=[sh, sw], pads=[ph, pw, ph, pw])
    if node.op == "max_pool2d":
        _, _, _, kh, kw, _, _, sh, sw, ph, pw = options["geo"]
        return helper.make_node("MaxPool", list(inputs), [output], kernel_shape=[kh, kw], strides=[sh, sw],
                                pads=[ph, pw, ph, pw])
    before, after = node.inputs[0].shape, node.out.shape
    if node.op == "reshape" and len(after) == 2 and before[:1] == after[:1]:
        return helper.make_node("Flatten", list(inputs), [output], axis=1)
    raise ValueError(f"window_node: the IR op {node.op!r} ({node.inputs[0].type} -> {node.out.type}) is not "
                     "conv2d, max_pool2d or a flattening reshape")
    ### END SOLUTION

# %% [tests] id=conv_pool_tests points=5
def _check_window(layer, shape, call, other_batch=None):
    """Trace `layer` on a random (shape) input; its one node through window_node must give the layer's output."""
    rng = np.random.default_rng(len(call))
    x = rng.standard_normal(shape).astype(np.float32)
    graph = trace(layer, (mt.tensor(x),))
    node = graph.nodes[0]
    names = ["x"] + [f"p{i}" for i in range(1, len(node.inputs))]
    with testing.calling(f"window_node(the {node.op} node of {call}, {names}, 'y')"):
        made = window_node(node, names, "y")
    if other_batch:  # the node is run on a batch of another size than the one it was traced on
        x = rng.standard_normal((other_batch, *shape[1:])).astype(np.float32)
    feeds = {"x": x, **{n: v.tensor.numpy() for n, v in zip(names[1:], node.inputs[1:])}}
    run_call = f"the ONNX node for {call} run on an input of shape {x.shape}"
    with testing.calling(run_call, hint="check the attribute names and lengths: strides=[sh, sw], "
                                        "pads=[top, left, bottom, right], kernel_shape=[kh, kw]"):
        got = run_nodes(made, feeds, rank=len(node.out.shape))
    want = framework(layer, x)
    testing.assert_close(got, want, call=run_call, rtol=1e-4, atol=1e-5,
                         hints=[(lambda g, e: np.shape(g) != np.shape(e),
                                 f"the output's shape is {np.shape(got)}, the layer's {np.shape(want)}: check strides, "
                                 "pads (ONNX's order is all starts, then all ends) and kernel_shape"),
                                "the shape is right but the numbers are not: is the padding on the right sides?"])


with testing.part("conv_pool"):
    mt.manual_seed(5)
    _check_window(mt.nn.Conv2d(2, 3, 3, stride=2, padding=1), (2, 2, 7, 7), "Conv2d(2, 3, 3, stride=2, padding=1)")
    _check_window(mt.nn.MaxPool2d(2), (2, 3, 6, 6), "MaxPool2d(2)")
    _check_window(mt.nn.Flatten(), (2, 3, 2, 2), "Flatten()", other_batch=5)
### BEGIN HIDDEN TESTS
with testing.part("conv_pool", hidden=True):
    mt.manual_seed(6)
    _check_window(mt.nn.Conv2d(2, 4, (3, 2), stride=(2, 1), padding=(1, 0)), (3, 2, 9, 7),
                  "Conv2d(2, 4, (3, 2), stride=(2, 1), padding=(1, 0))")
    _check_window(mt.nn.Conv2d(1, 2, 3, bias=False), (1, 1, 5, 5), "Conv2d(1, 2, 3, bias=False)")
    _check_window(mt.nn.MaxPool2d((3, 2), stride=(1, 2), padding=(1, 0)), (2, 2, 6, 6),
                  "MaxPool2d((3, 2), stride=(1, 2), padding=(1, 0))")
    _avg = trace(mt.nn.AvgPool2d(2), (mt.ones(1, 1, 4, 4),)).nodes[0]
    testing.assert_raises(ValueError, window_node, _avg, ["x"], "y", call="window_node(an avg_pool2d node, ['x'], 'y')",
                          hints="an op you do not export must raise a ValueError, not become another op")
### END HIDDEN TESTS

# %% [markdown]
# ### Part 4 · `export` (6 points)
#
# Now the whole model. `export(model, example, path=None, dynamic_batch=True)`:
#
# 1. Trace it: `graph = trace(model, (example,))` (the package's tracer; the same IR your chapter-10 tracer
#    records). The graph has one input here, `graph.inputs[0]`, and one output, `graph.outputs[0]`.
# 2. Name every value: the input `"input"`, each captured tensor (`graph.captures`, the parameters) an
#    initializer made with `numpy_helper.from_array(value.tensor.numpy(), name)`, and each node's output a
#    name of its own (`f"v{value.id}"` is unique). A node's inputs may also be **literals**, numbers the
#    code used (`x * 2.0`): they are not in `graph.captures`, and become initializers as well.
# 3. Convert each node with your three functions (`linear` → `linear_node`; `conv2d`, `max_pool2d`, `reshape`
#    → `window_node`; the rest → `elementwise_node`), and finish with an `Identity` node from the last
#    value to the name `"output"`.
# 4. Declare the input and the output with `helper.make_tensor_value_info(name, TensorProto.FLOAT, dims)`.
#    With `dynamic_batch=True` the first dimension is the **name** `"batch"` (a *symbolic* dimension: any
#    size runs); with `dynamic_batch=False` it is the example's size.
# 5. `helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])`: without `opset_imports`,
#    `onnx` stamps the newest opset it knows, and a runtime older than your `onnx` package refuses the file.
#    Check it with `onnx.checker.check_model`, save it with `onnx.save(model, path)` when a path is given,
#    and return it.

# %% [solution] id=export
def export(model, example, path=None, dynamic_batch=True):
    """Trace model(example) and return it as a checked onnx.ModelProto (opset OPSET); save it to `path` if given.

    Input "input", output "output", float32; parameters and literals are initializers. dynamic_batch=True:
    the first dimension of the input and the output is the symbolic "batch".
    """
    ### BEGIN SOLUTION
    graph = trace(model, (example,))
    names, nodes, initializers = {}, [], []
    x, y = graph.inputs[0], graph.outputs[0]
    names[x.id] = "input"
    for value in graph.captures:
        names[value.id] = f"param{value.id}"
        initializers.append(numpy_helper.from_array(value.tensor.numpy(), names[value.id]))
    for node in graph.nodes:
        for value in node.inputs:
            if value.id not in names:  # a literal: a number the code used
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

    def dims(value):
        return ["batch", *value.shape[1:]] if dynamic_batch else list(value.shape)

    onnx_graph = helper.make_graph(nodes, "minitorch_edu", [helper.make_tensor_value_info("input", TensorProto.FLOAT,
                                                                                          dims(x))],
                                   [helper.make_tensor_value_info("output", TensorProto.FLOAT, dims(y))], initializers)
    proto = helper.make_model(onnx_graph, opset_imports=[helper.make_opsetid("", OPSET)])
    onnx.checker.check_model(proto)
    if path is not None:
        onnx.save(proto, path)
    return proto
    ### END SOLUTION

# %% [tests] id=export_tests points=6
def _check_export(model, example, new, call, dynamic=True):
    with testing.calling(call):
        proto = export(model, mt.tensor(example)) if dynamic else export(model, mt.tensor(example), dynamic_batch=False)
    testing.assert_true(isinstance(proto, onnx.ModelProto), call=call, got=type(proto).__name__,
                        expected="an onnx.ModelProto", hint="return helper.make_model(...)")
    with testing.calling(f"onnx.checker.check_model({call})"):
        onnx.checker.check_model(proto)
    opsets = {o.domain: o.version for o in proto.opset_import}
    testing.assert_true(opsets.get("", opsets.get("ai.onnx")) == OPSET, call=f"the opset of {call}", got=opsets,
                        expected=f"the default domain at opset {OPSET}",
                        hint="pass opset_imports=[helper.make_opsetid('', OPSET)] to make_model: the default is the "
                             "newest opset your onnx package knows, which older runtimes refuse")
    n_params = sum(1 for _ in model.parameters()) if isinstance(model, mt.nn.Module) else 0
    testing.assert_true(len(proto.graph.initializer) >= n_params and not proto.graph.input[1:],
                        call=f"{call}: its graph's initializers and inputs",
                        got=f"{len(proto.graph.initializer)} initializers, "
                            f"inputs {[i.name for i in proto.graph.input]}",
                        expected=f"the {n_params} parameters as initializers, one graph input",
                        hint="parameters are initializers (numpy_helper.from_array), not graph inputs: the file "
                             "carries the trained weights")
    run_call = f"{call} run in onnxruntime on {len(new)} new inputs (a batch of another size than the example's)"
    with testing.calling(run_call, hint="the batch dimension must be the symbolic 'batch', not the example's size"
                                        if dynamic else None):
        got = run(session(proto), new)
    testing.assert_close(got, framework(model, new), call=run_call, rtol=1e-4, atol=1e-5,
                         hints=[(lambda g, e: np.shape(g) != np.shape(e), "the outputs have the wrong shape")])
    return proto


with testing.part("export"):
    _check_export(mlp, flat_test[:2], flat_test[:50], "export(the trained MLP, a batch of 2 flattened digits)")
    _check_export(cnn, x_test[:2], x_test, "export(the trained CNN, a batch of 2 digit images)")
### BEGIN HIDDEN TESTS
with testing.part("export", hidden=True):
    _check_export(cnn, x_test[:3], x_test[100:101], "export(the trained CNN, 3 images) on a batch of 1")

    def _with_literals(x):
        return (x * 2.0 - 1.0).tanh() + x.exp()

    _check_export(_with_literals, flat_test[:2], flat_test[:7], "export(lambda x: (x * 2.0 - 1.0).tanh() + x.exp())")
    _fixed = _check_export(mlp, flat_test[:4], flat_test[:4], "export(the MLP, 4 digits, dynamic_batch=False)",
                           dynamic=False)
    _dims = [d.dim_value for d in _fixed.graph.input[0].type.tensor_type.shape.dim]
    testing.assert_equal(_dims, [4, 64], call="the input dims of export(MLP, 4 digits, dynamic_batch=False)",
                         hints="dynamic_batch=False keeps the example's batch size")
    _path = tempfile.mktemp(suffix=".onnx", dir=WORK)  # a new name: no file from an earlier run is there
    with testing.calling("export(MLP, 2 digits, path)"):
        export(mlp, mt.tensor(flat_test[:2]), _path)
    testing.assert_true(os.path.exists(_path), call="export(MLP, 2 digits, path): is the file there?",
                        got="no file", expected="the model saved at path", hint="onnx.save(model, path)")
    testing.assert_close(run(session(_path), flat_test[:9]), framework(mlp, flat_test[:9]),
                         call="the saved file run in onnxruntime", rtol=1e-4, atol=1e-5)
### END HIDDEN TESTS

# %% [markdown]
# Your exporter against the world. The cell below exports both trained models with your `export` (or the
# package's, if yours is not written yet: the cell says which), writes them to files, runs them in
# onnxruntime on the 359 held-back digits, and compares with your framework: not close, *equal* up to
# float32 rounding (a runtime may add the same products in another order; the cell prints how far apart
# the two are).

# %%
def _probe_export(fn):
    return fn(mt.nn.Linear(2, 2), mt.ones(1, 2))


my_export = chapter.fallback("export", export, _probe_export)
mlp_path, cnn_path = os.path.join(WORK, "mlp.onnx"), os.path.join(WORK, "cnn.onnx")
my_export(mlp, mt.tensor(flat_test[:2]), mlp_path, dynamic_batch=True)
cnn_model = my_export(cnn, mt.tensor(x_test[:2]), cnn_path, dynamic_batch=True)
cnn_session = session(cnn_path)
for name, model, path, x in (("MLP", mlp, mlp_path, flat_test), ("CNN", cnn, cnn_path, x_test)):
    ours, theirs = framework(model, x), run(session(path), x)
    print(f"{name}: {os.path.getsize(path) / 1024:.0f} KiB; onnxruntime vs your framework on {len(x)} new digits: "
          f"largest difference {np.max(np.abs(ours - theirs)):.1e}, same predictions: "
          f"{bool(np.all(ours.argmax(1) == theirs.argmax(1)))}, accuracy {accuracy(theirs, y_test):.1%}")

# %% [markdown]
# ## What a runtime does with the graph
#
# onnxruntime does not run your nodes one by one as they are. When a session starts it **optimises** the
# graph, as your chapter-10 passes did: constant folding (a subgraph that depends only on initializers is
# computed once, at load), eliminating redundant nodes (`Identity`), and **fusion**, where a pattern of
# nodes becomes one kernel (`Conv` + `Relu` → one convolution with the activation in its epilogue, `Gemm`
# + `Relu` → `FusedGemm`). Then it picks a **kernel per node for the hardware** it runs on: on this CPU, a
# convolution in a blocked memory layout (`NCHWc`, channels in blocks of 8 or 16 to fill vector registers,
# with `ReorderInput`/`ReorderOutput` nodes at the edges), on a GPU a cuDNN kernel. Setting
# `SessionOptions.optimized_model_filepath` makes onnxruntime write the graph it actually runs.

# %%
def optimized_graph(path, level=ort.GraphOptimizationLevel.ORT_ENABLE_ALL):
    """The graph onnxruntime runs for the model at `path`, as it writes it out (optimized_model_filepath)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = THREADS
    options.graph_optimization_level = level
    options.optimized_model_filepath = path.replace(".onnx", ".optimized.onnx")
    options.log_severity_level = 3  # it warns that a fully optimised file is specific to this machine: it is
    ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    return onnx.load(options.optimized_model_filepath)


def op_name(node):
    return node.op_type if node.domain in ("", "ai.onnx") else f"{node.op_type} ({node.domain.split('.')[-1]})"


exported = onnx.load(cnn_path)
optimized = optimized_graph(cnn_path)
print(f"your exported CNN: {len(exported.graph.node)} nodes: {[op_name(n) for n in exported.graph.node]}")
print(f"what onnxruntime runs: {len(optimized.graph.node)} nodes: {[op_name(n) for n in optimized.graph.node]}")
for node in optimized.graph.node:
    fused = [a for a in node.attribute if a.name in ("activation",)]
    if fused:
        print(f"  {op_name(node)} carries activation={helper.get_attribute_value(fused[0]).decode()}: a fused Relu")

# %% [markdown]
# Both graphs, drawn: each box is one node, in execution order, with the shapes of the weights it reads.
# The exported graph on the left is what your `export` wrote; the right is what onnxruntime made of it.

# %%
def draw_onnx(ax, model, title):
    """An ONNX graph as a column of boxes (one per node, in order), each with its op and the weights it reads."""
    shapes = {t.name: tuple(t.dims) for t in model.graph.initializer}
    nodes = list(model.graph.node)
    for i, node in enumerate(nodes):
        y = -i
        weights = [shapes[n] for n in node.input if n in shapes and len(shapes[n]) > 1]
        fused = [helper.get_attribute_value(a).decode() for a in node.attribute if a.name == "activation"]
        label = op_name(node) + (f" + {fused[0]}" if fused else "")
        colour = "tab:orange" if node.domain not in ("", "ai.onnx") else "tab:blue"
        ax.add_patch(plt.Rectangle((-1.5, y - 0.35), 3.0, 0.7, color=colour, alpha=0.25))
        ax.text(0, y, label, ha="center", va="center", fontsize=7)
        if weights:
            ax.text(1.6, y, " ".join(str(list(w)) for w in weights), ha="left", va="center", fontsize=7, color="grey")
        if i:
            ax.annotate("", xy=(0, y + 0.35), xytext=(0, y + 0.65), arrowprops={"arrowstyle": "->", "lw": 0.8})
    ax.set_xlim(-1.7, 4.2)
    ax.set_ylim(-len(nodes) + 0.4, 0.6)
    ax.axis("off")
    ax.set_title(f"{title}: {len(nodes)} nodes", fontsize=9)


fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 4))
draw_onnx(ax1, exported, "your export")
draw_onnx(ax2, optimized, "what onnxruntime runs (orange: its own fused ops)")
plt.tight_layout()
plt.show()

# %% [markdown]
# How much faster is it? Both sides on one thread (numba's and onnxruntime's thread counts are pinned in
# the setup cell), the same 359 digits, the median of repeated runs, measured now, in this run:

# %%
def median_ms(fn, repeat=15):
    fn()  # warm-up: a first call compiles or allocates
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times))


framework_ms = median_ms(lambda: framework(cnn, x_test), repeat=5)
runtime_ms = median_ms(lambda: run(cnn_session, x_test))
print(f"CNN on 359 digits, 1 thread: your framework {framework_ms:.2f} ms, onnxruntime {runtime_ms:.2f} ms: "
      f"onnxruntime is {framework_ms / runtime_ms:.0f}x faster")

# %% [markdown]
# Most of that gap is not arithmetic: your framework is Python calling numba kernels, one op at a time,
# allocating each result, with autograd's bookkeeping ready; onnxruntime is C++ running a fixed plan of
# fused, vectorised kernels with memory planned ahead. The file is the same computation, moved to where
# it can run fast.
#
# ## PyTorch's exporter does the same
#
# `torch.onnx.export` traces a PyTorch model into an ONNX file, as your `export` does. Since PyTorch 2.9 its
# default path goes through `torch.export` and needs the `onnxscript` package, which this environment does
# not install, so the cell uses the older TorchScript-based exporter (`dynamo=False`), which needs nothing
# more. The same weights are copied into an equal PyTorch CNN (same layout: `NCHW`, `(out, in)` weights), so
# the two files must give the same outputs in onnxruntime. Without PyTorch the cell says so and the chapter
# goes on (nothing graded depends on it).

# %%
try:
    import torch
except ImportError as err:
    torch = None
    print(f"PyTorch is not installed here ({err}); the rest of the chapter does not need it")
if torch is not None:
    try:
        torch_cnn = torch.nn.Sequential(torch.nn.Conv2d(1, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                                        torch.nn.Flatten(), torch.nn.Linear(256, 128), torch.nn.ReLU(),
                                        torch.nn.Linear(128, 10)).eval()
        with torch.no_grad():
            for theirs, ours in zip(torch_cnn.parameters(), cnn.parameters()):
                theirs.copy_(torch.from_numpy(ours.numpy()))
        torch_path = os.path.join(WORK, "torch_cnn.onnx")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the TorchScript-based exporter announces its deprecation
            torch.onnx.export(torch_cnn, (torch.from_numpy(x_test[:2]),), torch_path, dynamo=False, opset_version=OPSET,
                              input_names=["input"], output_names=["output"], dynamic_axes={"input": {0: "batch"},
                                                                                           "output": {0: "batch"}})
        torch_model = onnx.load(torch_path)
        gap = np.max(np.abs(run(session(torch_path), x_test) - run(cnn_session, x_test)))
        print(f"torch {torch.__version__}: {[n.op_type for n in torch_model.graph.node]}")
        print(f"yours:       {[n.op_type for n in exported.graph.node]}")
        print(f"the two files in onnxruntime on 359 digits: largest difference {gap:.1e}")
    except Exception as err:  # an exporter that needs a package missing here: say so, go on
        print(f"torch.onnx.export did not run here ({type(err).__name__}: {err}); nothing later depends on it")

# %% [markdown]
# ## Smaller and faster: int8 quantisation
#
# The CNN's weights are float32, 4 bytes each. **Quantisation** stores them, and computes with them, as
# 8-bit integers: a tensor `x` is represented by `q = round(x / scale) + zero_point`, clipped to
# `[-128, 127]`, and read back as `scale * (q - zero_point)`. For weights the scale comes from the weights
# themselves. For **activations**, the values flowing between layers, it must be known before the model
# runs, so it comes from **calibration**: run the float model on a few hundred representative inputs,
# record each activation's range, and choose its scale from it. That is *static* quantisation;
# *dynamic* quantisation (`quantize_dynamic`) measures each activation's range at every call instead,
# which needs no calibration data but pays for it at run time.
#
# onnxruntime's `quantize_static(float_path, int8_path, reader, ...)` calibrates by calling
# `reader.get_next()` until it returns `None`. The reader is yours to write.
#
# ### Part 5 · `DigitsReader` (4 points)
#
# A subclass of onnxruntime's `CalibrationDataReader`. `get_next()` returns one batch as a dict
# `{input name: array}`: consecutive batches of `images`, `batch_size` at a time (the last may be smaller),
# as float32 (the model's input type), with the batch axis (a batch of one is `(1, 1, 8, 8)`); after the
# last batch it returns `None`, every time it is asked. `rewind()` starts again from the first batch. Read
# the input's name from the model file (`onnx.load(model_path).graph.input[0].name`): every exporter names it
# differently, and the quantiser looks the dict's key up in the graph.

# %% [solution] id=calibration
class DigitsReader(CalibrationDataReader):
    """Calibration batches for quantize_static: get_next() -> {input name: float32 batch}, then None; rewind()."""

    def __init__(self, model_path, images, batch_size=32):
        ### BEGIN SOLUTION
        self.input_name = onnx.load(model_path).graph.input[0].name
        self.images = np.asarray(images, dtype=np.float32)
        self.batch_size = int(batch_size)
        self.position = 0
        ### END SOLUTION

    def get_next(self):
        ### BEGIN SOLUTION
        if self.position >= len(self.images):
            return None
        batch = self.images[self.position:self.position + self.batch_size]
        self.position += self.batch_size
        return {self.input_name: batch}
        ### END SOLUTION

    def rewind(self):
        ### BEGIN SOLUTION
        self.position = 0
        ### END SOLUTION

# %% [tests] id=calibration_tests points=4
def _model_file(input_name, name):
    """A one-node model (Relu) whose input is called `input_name`, saved in WORK."""
    graph = helper.make_graph([helper.make_node("Relu", [input_name], ["y"])], "relu",
                              [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, ["batch", 1, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 1, 8, 8])])
    path = os.path.join(WORK, name)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)]), path)
    return path


def _drain(reader, call, limit):
    """Everything get_next() gives until None, at most `limit` batches (a reader that never ends fails)."""
    batches = []
    for _ in range(limit):
        with testing.calling(f"{call}.get_next()"):
            batch = reader.get_next()
        if batch is None:
            return batches
        batches.append(batch)
    testing.assert_true(False, call=f"{call}.get_next(), {limit} times", got=f"{limit} batches and no None",
                        expected="None after the last batch",
                        hint="return None once every image was given out (a reader that never ends calibrates for "
                             "ever: quantize_static calls get_next until None)")


def _check_reader(path, images, batch_size, input_name):
    call = f"DigitsReader(model with input {input_name!r}, {len(images)} images, batch_size={batch_size})"
    with testing.calling(call):
        reader = DigitsReader(path, images, batch_size)
    batches = _drain(reader, call, limit=len(images) // batch_size + 3)
    testing.assert_true(all(isinstance(b, dict) and list(b) == [input_name] for b in batches),
                        call=f"{call}.get_next()",
                        got=repr(batches[0])[:120] if batches else "nothing",
                        expected=f"a dict {{{input_name!r}: batch}}",
                        hint="the key is the model's input name, read from the file: "
                             "onnx.load(model_path).graph.input[0].name")
    arrays = [b[input_name] for b in batches]
    sizes = [len(a) for a in arrays]
    want_sizes = [min(batch_size, len(images) - s) for s in range(0, len(images), batch_size)]
    testing.assert_equal(sizes, want_sizes, call=f"the batch sizes of {call}",
                         hints=[(lambda g, e: len(g) == len(e) - 1, "the last, smaller batch is missing"),
                                (lambda g, e: all(s == 1 for s in g), "one image per call: give batch_size at a time")])
    testing.assert_true(all(a.dtype == np.float32 and a.shape[1:] == np.shape(images)[1:] for a in arrays),
                        call=f"{call}: dtype and shape of each batch",
                        got=sorted({f"{a.dtype} {a.shape}" for a in arrays})[:3],
                        expected=f"float32 arrays of shape (batch, {', '.join(map(str, np.shape(images)[1:]))})",
                        hint="np.asarray(images, dtype=np.float32) once, in __init__; slices keep the batch axis")
    testing.assert_close(np.concatenate(arrays), np.asarray(images, np.float32), call=f"{call}: the batches, joined",
                         hints="consecutive slices, each image once, in order")
    testing.assert_true(reader.get_next() is None, call=f"{call}.get_next() once more, after None", got="a batch",
                        expected="None again", hint="once the images are used up, keep returning None")
    return reader, arrays


with testing.part("calibration"):
    _path = _model_file("images", "reader_visible.onnx")
    _check_reader(_path, x_train[:70], 32, "images")
### BEGIN HIDDEN TESTS
with testing.part("calibration", hidden=True):
    _path = _model_file("pixels", "reader_hidden.onnx")
    _reader, _first = _check_reader(_path, x_train[:100].astype(np.float64).tolist(), 50, "pixels")
    with testing.calling("reader.rewind()"):
        _reader.rewind()
    _again = _drain(_reader, "DigitsReader(...) after rewind()", limit=5)
    testing.assert_true(_again is not None and len(_again) == 2 and np.array_equal(_again[0]["pixels"], _first[0]),
                        call="DigitsReader(100 images, batch_size=50): get_next() after rewind()",
                        got=f"{len(_again or [])} batches", expected="the same 2 batches again, from the first",
                        hint="rewind() puts the position back to the start")
    _check_reader(_path, x_train[:5], 1, "pixels")
### END HIDDEN TESTS

# %% [markdown]
# ### Part 6 · `quantize_int8` (6 points)
#
# `quantize_int8(float_path, int8_path, reader)` writes the int8 model and returns `int8_path`:
#
# 1. Pre-process first: `quant_pre_process(float_path, prepared_path)` (a temporary file) runs shape
#    inference and constant folding. onnxruntime's quantiser advises it, and it matters: only a weight that is
#    an initializer feeding the op directly is stored as int8. Your exporter writes `Gemm(x, W, transB=1)`, but
#    other exporters (the package's among them) write `MatMul(x, Transpose(W))`: there the weight reaches the
#    op through a node, and without folding that node the int8 file would still carry every float32 weight.
# 2. `quantize_static(prepared_path, int8_path, reader, quant_format=QuantFormat.QDQ,
#    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8)`: signed 8-bit weights *and* activations.
#    `QDQ` writes the quantisation as explicit `QuantizeLinear`/`DequantizeLinear` pairs around the float
#    ops; onnxruntime then fuses each pair with its op into an integer kernel (`QLinearConv`, `QGemm`).
#
# The checks quantise the trained CNN (exported by the package here, so that this part does not depend on
# parts 1-4), calibrated on 256 training digits, and measure on the 359 held-back digits: the int8 file must
# be **at least 3 times smaller**, hold its weights as int8, and lose **at most 2 points of accuracy**.

# %% [solution] id=quantize
def quantize_int8(float_path, int8_path, reader):
    """Static post-training quantisation: pre-process, then quantize_static to QDQ with int8 weights and
    activations, calibrated on `reader`. Writes int8_path and returns it."""
    ### BEGIN SOLUTION
    with tempfile.TemporaryDirectory() as folder:
        prepared = os.path.join(folder, "prepared.onnx")
        quant_pre_process(float_path, prepared)
        quantize_static(prepared, int8_path, reader, quant_format=QuantFormat.QDQ, activation_type=QuantType.QInt8,
                        weight_type=QuantType.QInt8)
    return int8_path
    ### END SOLUTION

# %% [tests] id=quantize_tests points=6
class _CountingReader:
    """The package's calibration reader, counting the batches the quantiser takes."""

    def __init__(self, path, images):
        self.inner = mt.onnx.BatchReader(path, images, batch_size=64)
        self.given, self.ended = 0, False

    def get_next(self):
        batch = self.inner.get_next()
        self.given += batch is not None
        self.ended |= batch is None
        return batch

    def rewind(self):
        self.inner.rewind()


def _check_quantize(model, x_calibrate, x_held, y_held, name):
    float_path, int8_path = os.path.join(WORK, f"{name}.float.onnx"), os.path.join(WORK, f"{name}.int8.onnx")
    mt.onnx.export(model, mt.tensor(x_held[:2]), float_path, dynamic_batch=True)
    if os.path.exists(int8_path):
        os.remove(int8_path)
    reader = _CountingReader(float_path, x_calibrate)
    call = f"quantize_int8(the {name} as float32 ONNX, int8 path, a reader of {len(x_calibrate)} digits)"
    with testing.calling(call):
        returned = quantize_int8(float_path, int8_path, reader)
    testing.assert_true(returned == int8_path and os.path.exists(int8_path), call=call,
                        got=f"returned {returned!r}, file there: {os.path.exists(int8_path)}",
                        expected="the int8 model written at int8_path, and int8_path returned")
    testing.assert_true(reader.ended and reader.given == -(-len(x_calibrate) // 64), call=f"{call}: the calibration",
                        got=f"{reader.given} batches taken from the reader", expected="every batch, until None",
                        hint="calibrate on the reader: quantize_static(..., calibration_data_reader=reader)")
    quantized = onnx.load(int8_path)
    int8_weights = [t for t in quantized.graph.initializer if t.data_type == TensorProto.INT8 and len(t.dims) > 1]
    float_left = [t.name for t in quantized.graph.initializer if t.data_type == TensorProto.FLOAT and
                  int(np.prod(t.dims)) > 64]
    testing.assert_true(int8_weights and not float_left, call=f"{call}: the initializers of the int8 model",
                        got=f"{len(int8_weights)} int8 weight tensors; float32 tensors left: {float_left[:4]}",
                        expected="every weight stored as int8",
                        hint="weight_type=QuantType.QInt8, and quant_pre_process first: a weight that reaches its op "
                             "through a Transpose node stays float32 unless that node is folded")
    ratio = os.path.getsize(float_path) / os.path.getsize(int8_path)
    testing.assert_true(ratio >= 3, call=f"{call}: the file sizes",
                        got=f"{os.path.getsize(float_path)} bytes float32, {os.path.getsize(int8_path)} bytes int8 "
                            f"({ratio:.2f}x smaller)", expected="at least 3x smaller")
    float_out, int8_out = run(session(float_path), x_held), run(session(int8_path), x_held)
    testing.assert_true(not np.array_equal(float_out, int8_out), call=f"{call}: outputs of the int8 model",
                        got="exactly the float32 outputs", expected="int8 arithmetic: close, not identical")
    drop = accuracy(float_out, y_held) - accuracy(int8_out, y_held)
    testing.assert_true(drop <= 0.02, call=f"{call}: accuracy on {len(x_held)} held-back digits",
                        got=f"float32 {accuracy(float_out, y_held):.1%}, int8 {accuracy(int8_out, y_held):.1%}",
                        expected="int8 at most 2 points below float32",
                        hint="calibrate on real digits (the reader's batches) with signed int8 activations")
    return quantized, ratio


with testing.part("quantize"):
    _q, _ratio = _check_quantize(cnn, x_train[:256], x_test, y_test, "CNN")
    print(f"int8 CNN: {_ratio:.1f}x smaller")
### BEGIN HIDDEN TESTS
with testing.part("quantize", hidden=True):
    _q, _ratio = _check_quantize(mlp, flat_train[:192], flat_test, y_test, "MLP")
    _inits = {t.name: t for t in _q.graph.initializer}
    _points = [_inits[n.input[2]] for n in _q.graph.node if n.op_type == "QuantizeLinear" and n.input[2] in _inits]
    testing.assert_true(_points and all(t.data_type == TensorProto.INT8 for t in _points),
                        call="quantize_int8(the MLP ...): the zero points of its QuantizeLinear nodes (activations)",
                        got=sorted({TensorProto.DataType.Name(t.data_type) for t in _points}),
                        expected="INT8 everywhere: signed 8-bit activations and weights",
                        hint="activation_type=QuantType.QInt8 (QUInt8 is unsigned)")
### END HIDDEN TESTS

# %% [markdown]
# ## float32 against int8: size, speed, accuracy
#
# The cell below quantises your exported CNN with your reader and your `quantize_int8` (or the package's,
# if yours are not written yet: it says which), and, for comparison, with `quantize_dynamic` (weights int8,
# activations quantised at run time, no calibration). Then it measures all three on the held-back digits,
# in this run, on one thread.

# %%
def _probe_reader(cls):
    reader = cls(cnn_path, x_train[:3], 2)
    return reader.get_next(), reader.get_next(), reader.get_next()


def _probe_quantize(fn):
    probe_path = os.path.join(WORK, "probe.onnx")
    my_export(mt.nn.Linear(4, 3), mt.ones(2, 4), probe_path, dynamic_batch=True)
    return fn(probe_path, os.path.join(WORK, "probe.int8.onnx"), my_reader(probe_path, np.ones((4, 4)), 2))


my_reader = chapter.fallback("calibration", DigitsReader, _probe_reader)
my_quantize = chapter.fallback("quantize", quantize_int8, _probe_quantize)
int8_path, dynamic_path = os.path.join(WORK, "cnn.int8.onnx"), os.path.join(WORK, "cnn.dynamic.onnx")
my_quantize(cnn_path, int8_path, my_reader(cnn_path, x_train[:256], 64))
quantize_dynamic(cnn_path, dynamic_path, weight_type=QuantType.QInt8)

variants = {"float32": cnn_path, "int8 static (yours)": int8_path, "int8 dynamic": dynamic_path}
table = {}
for label, path in variants.items():
    sess = session(path)
    outputs = run(sess, x_test)
    table[label] = {"size (KiB)": os.path.getsize(path) / 1024,
                    "latency (ms)": median_ms(lambda s=sess: run(s, x_test)),
                    "accuracy (%)": 100 * accuracy(outputs, y_test), "outputs": outputs}
print(f"{'':22}{'size (KiB)':>12}{'latency (ms)':>14}{'accuracy (%)':>14}")
for label, row in table.items():
    print(f"{label:22}{row['size (KiB)']:12.1f}{row['latency (ms)']:14.3f}{row['accuracy (%)']:14.1f}")
f32, q8 = table["float32"], table["int8 static (yours)"]
print(f"\nwhat onnxruntime runs for your int8 model: {[op_name(n) for n in optimized_graph(int8_path).graph.node]}")
print(f"int8 static vs float32: {f32['size (KiB)'] / q8['size (KiB)']:.1f}x smaller, "
      f"{f32['latency (ms)'] / q8['latency (ms)']:.2f}x the speed, "
      f"accuracy {q8['accuracy (%)'] - f32['accuracy (%)']:+.1f} points (359 digits, 1 thread)")

# %%
fig, axes = plt.subplots(1, 3, figsize=(10, 3.2))
colours = ["tab:blue", "tab:orange", "tab:green"]
for ax, key in zip(axes, ["size (KiB)", "latency (ms)", "accuracy (%)"]):
    values = [row[key] for row in table.values()]
    ax.bar(range(len(values)), values, color=colours)
    for i, v in enumerate(values):
        ax.text(i, v, f"{v:.3g}", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(range(len(values)), [label.replace(" (yours)", "\n(yours)") for label in table], fontsize=7)
    ax.set_title(key, fontsize=9)
axes[2].set_ylim(min(row["accuracy (%)"] for row in table.values()) - 5, 100)
fig.suptitle("the CNN on 359 held-back digits, onnxruntime, 1 thread, measured in this run", fontsize=9)
plt.tight_layout()
plt.show()

# %% [markdown]
# The size falls by about 3.5x: 4 bytes become 1, and the scales, zero points, int32 biases and the extra
# nodes cost a little. The speed is the honest surprise: on a model this small, int8 is often *not* faster
# on a CPU. The graph printed above shows why: around the integer kernels (`QLinearConv`, `QGemm`) sit the
# conversions, `QuantizeLinear` and `DequantizeLinear` at the edges and, on a CPU whose int8 convolution
# wants channels last, `Transpose` nodes into and out of `NHWC`. Each costs a pass over the activations,
# and a 16-filter convolution on 8x8 images has too little arithmetic for the cheaper int8 multiplies to
# win that back. Quantisation pays on large models, where weights dominate memory traffic,
# and on hardware with int8 units (VNNI and AMX on recent x86, the dot-product instructions of ARM, phone
# NPUs, TensorRT on GPUs). The number to trust is the one measured on the target, as this cell measures it.
#
# What did 8 bits do to the answers? Each dot is one logit of one held-back digit, float32 against int8:

# %%
fig, ax = plt.subplots(figsize=(4.6, 4))
float_logits, int8_logits = table["float32"]["outputs"].ravel(), table["int8 static (yours)"]["outputs"].ravel()
ax.scatter(float_logits, int8_logits, s=3, alpha=0.4)
low, high = float_logits.min(), float_logits.max()
ax.plot([low, high], [low, high], "k--", lw=0.8, label="equal")
changed = int(np.sum(table["float32"]["outputs"].argmax(1) != table["int8 static (yours)"]["outputs"].argmax(1)))
ax.set_xlabel("float32 logit")
ax.set_ylabel("int8 logit")
ax.set_title(f"largest change {np.max(np.abs(float_logits - int8_logits)):.2f}; {changed} of 359 predictions changed",
             fontsize=9)
ax.legend(fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## What you built, and what comes next
#
# | you wrote | PyTorch | Keras / TensorFlow |
# | --- | --- | --- |
# | `elementwise_node`, `linear_node`, `window_node` | `torch.onnx`'s function per ATen op | tf2onnx's handlers |
# | `export` (dynamic batch) | `torch.onnx.export(..., dynamic_axes=)` | `model.export(path, format="onnx")` |
# | `DigitsReader` | calibration batches for `torch.ao.quantization` | TFLite's `representative_dataset` |
# | `quantize_int8` | `torch.ao.quantization` (PT2E), or onnxruntime | TFLite's full-integer quantisation |
#
# The file you wrote holds the trained model and nothing of your framework: a C++ service, a phone or a
# browser can run it without Python. That is the end of a model's road: from tensors and autograd in chapter
# 01 to a file that runs anywhere.
