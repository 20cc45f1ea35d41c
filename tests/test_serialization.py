"""mt.save / mt.load: .npz checkpoints that keep dtype, shape and structure, and never unpickle."""

from __future__ import annotations

import pickle
import zipfile

import numpy as np
import pytest

import minitorch_edu as mt


def test_roundtrip_keeps_values_dtypes_shapes_and_structure(tmp_path) -> None:
    obj = {
        "model": {
            "fc.weight": mt.tensor(np.arange(6, dtype=np.float32).reshape(2, 3)),
            "fc.bias": mt.tensor([0.5, -1.0], dtype="float64"),
            "steps": mt.tensor([1, 2, 3], dtype="int64"),
        },
        "optimizer": {
            "state": {0: {"step": 3, "exp_avg": mt.zeros(2, 3)}},
            "param_groups": [{"lr": 0.1, "betas": (0.9, 0.99), "params": [0]}],
        },
        "array": np.array([[True, False]]),
        "scalar": np.float32(2.5),
        "epoch": 7,
        "name": "run-1",
        "nothing": None,
    }
    path = tmp_path / "ckpt.pt"  # any suffix: the exact name is written
    mt.save(obj, path)
    assert path.exists() and not (tmp_path / "ckpt.pt.npz").exists()
    back = mt.load(path)
    w = back["model"]["fc.weight"]
    assert (
        isinstance(w, mt.Tensor)
        and w.dtype == np.float32
        and w.shape == (2, 3)
        and w.tolist() == [[0, 1, 2], [3, 4, 5]]
    )
    assert back["model"]["fc.bias"].dtype == np.float64 and back["model"]["steps"].dtype == np.int64
    opt = back["optimizer"]
    assert list(opt["state"]) == [0] and opt["state"][0]["step"] == 3  # int keys stay ints
    assert opt["param_groups"][0]["betas"] == (0.9, 0.99) and opt["param_groups"][0]["params"] == [0]
    assert back["array"].dtype == np.bool_ and back["array"].tolist() == [[True, False]]
    assert back["scalar"] == np.float32(2.5) and back["scalar"].dtype == np.float32
    assert (back["epoch"], back["name"], back["nothing"]) == (7, "run-1", None)
    names = set(np.load(path, allow_pickle=False).files)
    assert {"model.fc.weight", "optimizer.state.0.exp_avg", "__meta__"} <= names  # readable with plain numpy
    assert isinstance(mt.load(path, as_numpy=True)["model"]["fc.bias"], np.ndarray)


def test_state_dict_roundtrip_into_a_module_and_an_optimizer(tmp_path) -> None:
    nn = pytest.importorskip("minitorch_edu.nn")
    mt.manual_seed(0)
    model = nn.Linear(3, 2)
    opt = mt.optim.Adam(model.parameters(), lr=0.01)
    model(mt.ones(4, 3)).sum().backward()
    opt.step()
    mt.save({"model": model.state_dict(), "opt": opt.state_dict()}, tmp_path / "c.npz")
    ckpt = mt.load(tmp_path / "c.npz")
    other = nn.Linear(3, 2)
    other.load_state_dict(ckpt["model"])
    for (k, a), (_, b) in zip(model.state_dict().items(), other.state_dict().items()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=k)
    opt2 = mt.optim.Adam(other.parameters(), lr=0.5)
    opt2.load_state_dict(ckpt["opt"])
    assert opt2.param_groups[0]["lr"] == 0.01
    first = next(iter(other.parameters()))
    assert opt2.state[first]["step"] == 1 and isinstance(opt2.state[first]["exp_avg"], mt.Tensor)


def test_refuses_pickles(tmp_path) -> None:
    pickled = tmp_path / "evil.pkl"
    pickled.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(ValueError, match="pickle"):
        mt.load(pickled)
    objects = tmp_path / "objects.npz"
    np.savez(objects, x=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="pickle"):
        mt.load(objects)
    with pytest.raises(TypeError, match="without pickle"):
        mt.save({"x": np.array([object()], dtype=object)}, tmp_path / "no.npz")
    with pytest.raises(TypeError, match="cannot save"):
        mt.save({"f": lambda: 1}, tmp_path / "no.npz")
    assert zipfile.is_zipfile(tmp_path / "objects.npz")


def test_plain_npz_loads_as_tensors(tmp_path) -> None:
    np.savez(tmp_path / "plain.npz", w=np.ones((2, 2), dtype=np.float64))
    loaded = mt.load(tmp_path / "plain.npz")
    assert loaded["w"].dtype == np.float64 and loaded["w"].shape == (2, 2)


@pytest.mark.parametrize("keep", [0, 10, 0.5, -30])
def test_loading_a_truncated_checkpoint_names_the_file(tmp_path, keep) -> None:
    whole = tmp_path / "whole.npz"
    mt.save({"w": mt.ones(1000)}, whole)
    data = whole.read_bytes()
    cut = tmp_path / "cut.npz"
    end = int(len(data) * keep) if isinstance(keep, float) else keep if keep >= 0 else len(data) + keep
    cut.write_bytes(data[:end])
    with pytest.raises(ValueError, match=f"{cut}: not a complete checkpoint .*truncated or corrupt"):
        mt.load(cut)
    assert mt.load(whole)["w"].shape == (1000,)
