"""Keras-style compile/fit/evaluate/predict, History, callbacks, loop helpers and plots."""

from __future__ import annotations

import csv

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import minitorch_edu as mt  # noqa: E402
from minitorch_edu import nn, optim  # noqa: E402
from minitorch_edu.data import DataLoader, TensorDataset, toy  # noqa: E402
from minitorch_edu.nn import functional as F  # noqa: E402
from minitorch_edu.train import (  # noqa: E402
    Callback,
    CSVLogger,
    EarlyStopping,
    History,
    LearningRateScheduler,
    ModelCheckpoint,
    evaluate_loop,
    plot_decision_boundary,
    train_epoch,
)


@pytest.fixture
def data() -> tuple[np.ndarray, np.ndarray]:
    return toy.simple(64, seed=0)


def _model(outputs: int = 2) -> nn.Module:
    mt.manual_seed(0)
    return nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, outputs))


def _weights(model: nn.Module) -> dict[str, np.ndarray]:
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}


class Scripted(Callback):
    """Logs a made-up score per epoch and remembers the weights of every epoch."""

    def __init__(self, scores: list[float]) -> None:
        super().__init__()
        self.scores, self.snapshots = scores, []

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs["score"] = self.scores[epoch]
        self.snapshots.append(_weights(self.model))


def test_fit_learns_and_records_history(data) -> None:
    x, y = data
    model = _model().compile(optimizer="adam", loss="cross_entropy", metrics=["accuracy"], learning_rate=0.05)
    history = model.fit(x, y, batch_size=16, epochs=8, validation_data=(x, y), verbose=0)
    assert isinstance(history, History) and model.history is history
    assert list(history.history) == ["loss", "accuracy", "val_loss", "val_accuracy"]
    assert history.epoch == list(range(8)) and all(len(v) == 8 for v in history.history.values())
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    assert history.history["val_accuracy"][-1] >= 0.9
    loss, acc = model.evaluate(x, y)
    assert loss == pytest.approx(history.history["val_loss"][-1], rel=1e-5)
    assert acc == pytest.approx(history.history["val_accuracy"][-1])
    # evaluate's numbers are what one computes by hand
    logits = model(mt.tensor(x))
    assert loss == pytest.approx(F.cross_entropy(logits, mt.tensor(y)).item(), rel=1e-5)
    assert acc == pytest.approx(np.mean(logits.numpy().argmax(1) == y))
    out = model.predict(x, batch_size=10)
    assert isinstance(out, np.ndarray) and out.shape == (64, 2)
    np.testing.assert_allclose(out, logits.numpy(), rtol=1e-5, atol=1e-6)
    assert model.evaluate(x, y, return_dict=True).keys() == {"loss", "accuracy"}


def test_fit_accepts_datasets_loaders_and_tensors(data) -> None:
    x, y = data
    ds = TensorDataset(x, y)
    for train, val in [(ds, ds), (DataLoader(ds, batch_size=32), (mt.tensor(x), mt.tensor(y)))]:
        model = _model()
        model.compile(optim.SGD(model.parameters(), lr=0.1), "cross_entropy")
        h = model.fit(train, epochs=2, validation_data=val, verbose=0)
        assert len(h.history["val_loss"]) == 2 and "accuracy" not in h.history
    assert model.evaluate(ds) == pytest.approx(h.history["val_loss"][-1], rel=1e-5)


def test_one_output_losses(data) -> None:
    x, y = data
    model = _model(outputs=1).compile("adam", "bce_with_logits", metrics=["accuracy"], learning_rate=0.05)
    h = model.fit(x, y, batch_size=16, epochs=10, verbose=0)
    assert h.history["loss"][-1] < h.history["loss"][0] and model.evaluate(x, y)[1] >= 0.9
    model = _model(outputs=1).compile("sgd", "mse", metrics=["acc"], learning_rate=0.1)
    h = model.fit(x, y.astype(np.float32), epochs=3, verbose=0)
    assert h.history["loss"][-1] < h.history["loss"][0]


def test_compile_errors(data) -> None:
    x, y = data
    with pytest.raises(RuntimeError, match="compile"):
        _model().fit(x, y, verbose=0)
    with pytest.raises(ValueError, match="unknown optimizer"):
        _model().compile("adagrad")
    with pytest.raises(ValueError, match="unknown loss"):
        _model().compile("adam", "hinge")
    with pytest.raises(ValueError, match="unknown metric"):
        _model().compile("adam", metrics=["f1"])


def test_nan_loss_stops_with_epoch_and_batch(data) -> None:
    x, y = data
    calls = []

    def exploding(out, target):
        calls.append(1)
        loss = F.cross_entropy(out, target)
        return loss * float("nan") if len(calls) == 7 else loss

    model = _model().compile("sgd", exploding)
    with pytest.raises(RuntimeError, match=r"nan at epoch 2, batch 3"):
        model.fit(x, y, batch_size=16, epochs=3, verbose=0)


def test_early_stopping_stops_and_restores_best_weights(data) -> None:
    x, y = data
    scripted = Scripted([3.0, 2.0, 1.0, 1.5, 1.2, 0.5, 0.1, 0.1])
    stopper = EarlyStopping(monitor="score", patience=2, restore_best_weights=True)
    model = _model().compile("sgd", "cross_entropy", learning_rate=0.1)
    h = model.fit(x, y, epochs=8, callbacks=[scripted, stopper], verbose=0)
    assert h.history["score"] == [3.0, 2.0, 1.0, 1.5, 1.2]  # two epochs without improvement: stop
    assert stopper.stopped_epoch == 4 and stopper.best_epoch == 2 and stopper.best == 1.0
    final = _weights(model)
    assert not np.array_equal(final["2.weight"], scripted.snapshots[-1]["2.weight"])
    for k, v in scripted.snapshots[2].items():
        np.testing.assert_array_equal(final[k], v)


def test_early_stopping_mode_and_min_delta() -> None:
    stopper = EarlyStopping(monitor="val_accuracy", min_delta=0.05)
    assert stopper.mode == "max"
    stopper.best = 0.9
    assert not stopper._improved(0.93) and stopper._improved(0.96)
    with pytest.raises(KeyError, match="val_loss"):
        EarlyStopping()._current({"loss": 1.0})


def test_model_checkpoint_keeps_the_best(tmp_path, data) -> None:
    x, y = data
    scripted = Scripted([0.9, 0.3, 0.5, 0.4])
    best = ModelCheckpoint(tmp_path / "best.npz", monitor="score", save_best_only=True)
    every = ModelCheckpoint(str(tmp_path / "e{epoch:02d}.npz"))
    model = _model().compile("sgd", "cross_entropy", learning_rate=0.5)
    model.fit(x, y, epochs=4, callbacks=[scripted, best, every], validation_data=(x, y), verbose=0)
    saved = mt.load(tmp_path / "best.npz")
    for k, v in scripted.snapshots[1].items():
        np.testing.assert_array_equal(saved[k].numpy(), v)
    assert sorted(p.name for p in tmp_path.glob("e*.npz")) == ["e01.npz", "e02.npz", "e03.npz", "e04.npz"]
    fresh = _model()
    fresh.load_state_dict(mt.load(tmp_path / "e04.npz"))
    np.testing.assert_allclose(fresh.predict(x), model.predict(x), rtol=1e-6)


def test_csv_logger(tmp_path, data) -> None:
    x, y = data
    model = _model().compile("adam", "cross_entropy", metrics=["accuracy"])
    h = model.fit(x, y, epochs=3, validation_data=(x, y), callbacks=[CSVLogger(tmp_path / "log.csv")], verbose=0)
    rows = list(csv.reader(open(tmp_path / "log.csv")))
    assert rows[0] == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert [r[0] for r in rows[1:]] == ["0", "1", "2"]
    assert [float(r[2]) for r in rows[1:]] == pytest.approx(h.history["loss"])


def test_learning_rate_scheduler(data) -> None:
    x, y = data
    model = _model().compile("sgd", "cross_entropy", learning_rate=0.1)
    h = model.fit(x, y, epochs=3, callbacks=[LearningRateScheduler(lambda epoch, lr: 0.1 / (epoch + 1))], verbose=0)
    assert h.history["lr"] == pytest.approx([0.1, 0.05, 0.1 / 3])
    model = _model()
    opt = optim.SGD(model.parameters(), lr=0.2)
    model.compile(opt, "cross_entropy")
    sched = optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    h = model.fit(x, y, epochs=5, callbacks=[LearningRateScheduler(sched)], verbose=0)
    assert h.history["lr"] == pytest.approx([0.2, 0.2, 0.1, 0.1, 0.05])


def test_progress_output(data, capsys) -> None:
    x, y = data
    model = _model().compile("adam", "cross_entropy", metrics=["accuracy"])
    model.fit(x, y, epochs=1, verbose=1)
    err = capsys.readouterr().err
    assert "Epoch 1/1" in err and "2/2" in err  # tqdm's bar: 64 samples / 32 per batch
    model.fit(x, y, epochs=2, verbose=2)
    out = capsys.readouterr().out
    assert out.count("Epoch ") == 2 and "loss:" in out and "accuracy:" in out


def test_pytorch_style_loop_helpers(data) -> None:
    x, y = data
    model = _model()
    opt = optim.Adam(model.parameters(), lr=0.05)
    loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True, seed=0)
    seen = []
    first = evaluate_loop(model, loader, F.cross_entropy, metrics=["accuracy"])
    for epoch in range(5):
        logs = train_epoch(
            model,
            loader,
            opt,
            F.cross_entropy,
            metrics=["accuracy"],
            epoch=epoch,
            on_batch_end=lambda i, lg: seen.append(i),
        )
    last = evaluate_loop(model, loader, F.cross_entropy, metrics=["accuracy"])
    assert seen == [0, 1, 2, 3] * 5
    assert set(logs) == {"loss", "accuracy"} and last["loss"] < first["loss"] and last["accuracy"] >= 0.9
    assert model.training  # evaluate_loop puts the mode back


def test_plots(data) -> None:
    x, y = data
    model = _model().compile("adam", "cross_entropy", metrics=["accuracy"])
    h = model.fit(x, y, epochs=2, validation_data=(x, y), verbose=0)
    fig = h.plot()
    assert len(fig.axes) == 2 and [a.get_title() for a in fig.axes] == ["loss", "accuracy"]
    assert len(fig.axes[0].lines) == 2
    fig = plot_decision_boundary(model, x, y, resolution=30)
    assert len(fig.axes) == 1 and fig.axes[0].collections
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        plot_decision_boundary(model, np.zeros((3, 3)), np.zeros(3))


def test_history_plot_saves_to_a_path_and_warns_without_a_display(tmp_path):
    import ipykernel  # noqa: F401  (other tests in the same process import it: no kernel runs, so still warn)
    import matplotlib
    import pytest

    import minitorch_edu as mt

    matplotlib.use("Agg")
    history = mt.train.History()
    for epoch, loss in enumerate([1.0, 0.5]):
        history.on_epoch_end(epoch, {"loss": loss, "val_loss": loss + 0.1})
    history.plot(path=str(tmp_path / "h.png"))
    assert (tmp_path / "h.png").stat().st_size > 1000
    with pytest.warns(UserWarning, match=r"no display here.*history.plot\(path='history.png'\)"):
        history.plot()
