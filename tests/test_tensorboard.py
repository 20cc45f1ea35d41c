"""`mt.train.TensorBoard` writes real TensorBoard event files: TensorBoard's own reader gets the values back.

The reader is `tensorboard`'s `EventAccumulator`, the class TensorBoard's server loads runs with, so
what it reads here is what `tensorboard --logdir` shows.
"""

from __future__ import annotations

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import minitorch_edu as mt
from minitorch_edu.train import TensorBoard


def _read(folder) -> EventAccumulator:
    events = EventAccumulator(str(folder), size_guidance={"scalars": 0, "histograms": 0})
    events.Reload()
    return events


def _scalars(events: EventAccumulator, tag: str) -> tuple[list[int], list[float]]:
    found = events.Scalars(tag)
    return [e.step for e in found], [e.value for e in found]


@pytest.fixture
def trained(tmp_path):
    """A small net fit for 4 epochs with validation data and a TensorBoard callback."""
    mt.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 3)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)
    model = mt.nn.Sequential(mt.nn.Linear(3, 8), mt.nn.ReLU(), mt.nn.Linear(8, 2))
    model.compile(optimizer="sgd", loss="cross_entropy", metrics=["accuracy"], learning_rate=0.1)
    board = TensorBoard(tmp_path / "run", histogram_freq=2, update_freq="batch")
    history = model.fit(x, y, batch_size=16, epochs=4, validation_data=(x[:32], y[:32]), callbacks=[board], verbose=0)
    return tmp_path / "run", history


def test_epoch_scalars_read_back_with_tensorboards_reader(trained) -> None:
    run, history = trained
    train, validation = _read(run / "train"), _read(run / "validation")
    assert {"epoch_loss", "epoch_accuracy"} <= set(train.Tags()["scalars"])
    assert set(validation.Tags()["scalars"]) == {"epoch_loss", "epoch_accuracy"}  # Keras's layout: same tags
    for events, prefix in ((train, ""), (validation, "val_")):
        for name in ("loss", "accuracy"):
            steps, values = _scalars(events, f"epoch_{name}")
            assert steps == [0, 1, 2, 3]
            np.testing.assert_allclose(values, history.history[prefix + name], rtol=1e-6)


def test_batch_scalars_and_weight_histograms(trained) -> None:
    run, _ = trained
    train = _read(run / "train")
    steps, values = _scalars(train, "batch_loss")
    assert steps == list(range(1, 17))  # 4 epochs of 4 batches, numbered over the whole training
    assert all(np.isfinite(values))
    histograms = set(train.Tags()["histograms"])
    assert histograms == {"0.weight", "0.bias", "2.weight", "2.bias"}
    assert [h.step for h in train.Histograms("0.weight")] == [1, 3]  # every 2nd epoch
    assert train.Histograms("0.weight")[0].histogram_value.num == 3 * 8


def test_update_freq_every_n_batches_and_bad_values(tmp_path) -> None:
    board = TensorBoard(tmp_path, update_freq=3)
    board.on_train_begin()
    for batch in range(7):
        board.on_train_batch_end(batch, {"loss": float(batch)})
    board.on_epoch_end(0, {"loss": 1.5})
    board.on_train_end()
    steps, values = _scalars(_read(tmp_path / "train"), "batch_loss")
    assert steps == [3, 6] and values == [2.0, 5.0]
    with pytest.raises(ValueError, match="update_freq"):
        TensorBoard(tmp_path, update_freq="step")
