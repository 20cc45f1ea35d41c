"""ONNX export: an MLP and a small CNN run in onnxruntime with our outputs; checker; clear errors."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import minitorch_edu as mt
from minitorch_edu import nn
from minitorch_edu.onnx import ExportError, export


def _roundtrip(model, example, others, path):
    proto = mt.onnx.export(model, example, str(path))
    onnx.checker.check_model(onnx.load(str(path)))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    for x in others:
        expected = model(x).numpy()
        (got,) = session.run(None, {name: x.numpy()})
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    return proto


def test_mlp_round_trip(tmp_path):
    mt.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 8), nn.Tanh(), nn.Linear(8, 3), nn.Softmax(-1))
    proto = _roundtrip(model, mt.randn(4, 6), [mt.randn(4, 6) * 3.0 for _ in range(3)], tmp_path / "mlp.onnx")
    kinds = {n.op_type for n in proto.graph.node}
    assert {"MatMul", "Relu", "Tanh", "Exp", "ReduceSum", "ReduceMax", "Div"} <= kinds
    assert len(proto.graph.initializer) >= 6  # the weights travel with the file


def test_cnn_round_trip(tmp_path):
    mt.manual_seed(1)
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 6, 3, stride=1), nn.Sigmoid(), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(6 * 1 * 1, 5), nn.GELU(), nn.Linear(5, 3), nn.Softmax(-1),
    )
    proto = _roundtrip(model, mt.randn(2, 1, 8, 8), [mt.randn(2, 1, 8, 8) for _ in range(3)], tmp_path / "cnn.onnx")
    kinds = {n.op_type for n in proto.graph.node}
    assert {"Conv", "MaxPool", "AveragePool", "Reshape", "Sigmoid"} <= kinds


def test_unsupported_op_names_op_and_node(tmp_path):
    def picks(x):
        return x[1:3] * 2.0

    with pytest.raises(ExportError, match=r"op 'index' \(node %\d+: f32\[2, 4\], made at test_onnx\.py:\d+\)"):
        export(picks, mt.randn(5, 4), str(tmp_path / "bad.onnx"))


def test_masks_export_as_onnx_booleans(tmp_path):
    """Comparisons are ONNX bool tensors; & and | of masks become And and Or; a mask times a float is cast."""

    def gated(x):
        keep = ((x > 0) & (x < 2)) | (x == -1)
        return mt.where(keep, x * 2.0, x * 0.5) + x * (x > 1)

    grid = mt.tensor([[-1.0, -0.5, 0.5], [1.5, 2.0, 3.0]])
    proto = _roundtrip(gated, mt.randn(2, 3), [grid, mt.randn(2, 3) * 2], tmp_path / "masks.onnx")
    kinds = {n.op_type for n in proto.graph.node}
    assert {"And", "Or", "Greater", "Less", "Where", "Cast"} <= kinds
    np.testing.assert_allclose(gated(grid).numpy(), [[-2.0, -0.25, 1.0], [4.5, 3.0, 4.5]])


def test_dynamic_batch_runs_any_batch_size(tmp_path):
    mt.manual_seed(2)
    model = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(48, 4))
    fixed = mt.onnx.export(model, mt.randn(2, 1, 8, 8))
    assert fixed.graph.input[0].type.tensor_type.shape.dim[0].dim_value == 2  # the default is unchanged
    path = str(tmp_path / "cnn.onnx")
    proto = mt.onnx.export(model, mt.randn(2, 1, 8, 8), path, dynamic_batch=True)
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert proto.graph.output[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    for n in (1, 7):
        x = mt.randn(n, 1, 8, 8)
        (got,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
        np.testing.assert_allclose(got, model(x).numpy(), rtol=1e-5, atol=1e-6)


def test_batch_reader_and_int8_quantisation(tmp_path):
    mt.manual_seed(3)
    model = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 10))
    path, int8 = str(tmp_path / "mlp.onnx"), str(tmp_path / "mlp_int8.onnx")
    mt.onnx.export(model, mt.randn(4, 64), path, dynamic_batch=True)
    images = np.random.default_rng(0).random((70, 64)).astype(np.float64)
    reader = mt.onnx.BatchReader(path, images, batch_size=32)
    batches = [reader.get_next() for _ in range(4)]
    assert batches[3] is None and [len(b[reader.input_name]) for b in batches[:3]] == [32, 32, 6]
    assert batches[0][reader.input_name].dtype == np.float32
    reader.rewind()
    assert mt.onnx.quantize_int8(path, int8, reader) == int8
    quantized = onnx.load(int8)
    assert any(t.data_type == onnx.TensorProto.INT8 and t.dims for t in quantized.graph.initializer)
    assert (tmp_path / "mlp.onnx").stat().st_size > 3 * (tmp_path / "mlp_int8.onnx").stat().st_size
    session = ort.InferenceSession(int8, providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {session.get_inputs()[0].name: images[:5].astype(np.float32)})
    expected = model(mt.tensor(images[:5].astype(np.float32))).numpy()
    assert np.max(np.abs(got - expected)) < 0.05 * np.max(np.abs(expected))  # int8 is close, not equal
    assert not np.array_equal(got, expected)
