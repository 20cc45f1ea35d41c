"""Keras-style callbacks: code that `fit` runs at the start and end of training, epochs and batches.

    fit(..., callbacks=[EarlyStopping("val_loss", patience=3, restore_best_weights=True),
                        ModelCheckpoint("best.npz", save_best_only=True),
                        LearningRateScheduler(CosineAnnealingLR(opt, T_max=20)),
                        CSVLogger("log.csv"), TensorBoard("runs/exp1")])

A callback sees the model (`self.model`) and the epoch's logs ("loss", "accuracy", "val_loss",
...); it stops training by setting `self.model.stop_training = True`.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..serialization import save

Logs = dict[str, Any]


class Callback:
    """Base class: override the hooks you need; each gets the current logs."""

    def __init__(self) -> None:
        self.model: Any = None
        self.params: dict[str, Any] = {}

    def set_model(self, model: Any) -> None:
        self.model = model

    def set_params(self, params: dict[str, Any]) -> None:
        self.params = params

    def on_train_begin(self, logs: Logs | None = None) -> None: ...

    def on_train_end(self, logs: Logs | None = None) -> None: ...

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None: ...

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None: ...

    def on_train_batch_end(self, batch: int, logs: Logs | None = None) -> None: ...


class CallbackList(Callback):
    """Runs several callbacks, in order."""

    def __init__(self, callbacks: Sequence[Callback], model: Any, params: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            cb.set_model(model)
            cb.set_params(params or {})

    def on_train_begin(self, logs: Logs | None = None) -> None:
        for cb in self.callbacks:
            cb.on_train_begin(logs)

    def on_train_end(self, logs: Logs | None = None) -> None:
        for cb in self.callbacks:
            cb.on_train_end(logs)

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        for cb in self.callbacks:
            cb.on_epoch_begin(epoch, logs)

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        for cb in self.callbacks:
            cb.on_epoch_end(epoch, logs)

    def on_train_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        for cb in self.callbacks:
            cb.on_train_batch_end(batch, logs)


class _Monitor(Callback):
    """Shared by EarlyStopping and ModelCheckpoint: is the monitored value better than the best?"""

    def __init__(self, monitor: str, mode: str, min_delta: float = 0.0) -> None:
        super().__init__()
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
        if mode == "auto":  # accuracies grow, losses shrink
            mode = "max" if any(word in monitor for word in ("acc", "auc", "precision", "recall")) else "min"
        self.monitor, self.mode, self.min_delta = monitor, mode, abs(min_delta)
        self.best = math.inf if mode == "min" else -math.inf

    def _current(self, logs: Logs | None) -> float:
        if not logs or self.monitor not in logs:
            available = ", ".join(sorted(logs or {})) or "none"
            raise KeyError(
                f"{type(self).__name__} monitors {self.monitor!r}, which is not logged "
                f"(available: {available}); val_ values need validation_data"
            )
        return float(logs[self.monitor])

    def _improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta


def _snapshot(model: Any) -> dict[str, np.ndarray]:
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}


class EarlyStopping(_Monitor):
    """Stop when `monitor` has not improved by `min_delta` for `patience` epochs.

    With `restore_best_weights`, the model ends training with the weights of its best epoch.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        min_delta: float = 0.0,
        patience: int = 0,
        mode: str = "auto",
        restore_best_weights: bool = False,
        verbose: int = 0,
    ) -> None:
        super().__init__(monitor, mode, min_delta)
        self.patience, self.restore_best_weights, self.verbose = int(patience), restore_best_weights, verbose
        self.wait, self.stopped_epoch, self.best_epoch = 0, -1, -1
        self.best_weights: dict[str, np.ndarray] | None = None

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self.wait, self.stopped_epoch, self.best_epoch, self.best_weights = 0, -1, -1, None
        self.best = math.inf if self.mode == "min" else -math.inf

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        value = self._current(logs)
        if self._improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_weights = _snapshot(self.model)
            return
        self.wait += 1
        if self.wait >= self.patience:  # Keras: stop after `patience` epochs without improvement
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs: Logs | None = None) -> None:
        if self.restore_best_weights and self.best_weights is not None:
            self.model.load_state_dict(self.best_weights)
        if self.verbose and self.stopped_epoch >= 0:
            print(
                f"EarlyStopping: stopped after epoch {self.stopped_epoch + 1}; best {self.monitor} = "
                f"{self.best:.4g} at epoch {self.best_epoch + 1}"
            )


class ModelCheckpoint(_Monitor):
    """Save the model's state_dict (with `mt.save`) after every epoch, or only when `monitor` improves.

    `filepath` may hold format fields: "ckpt-{epoch:02d}-{val_loss:.3f}.npz".
    """

    def __init__(
        self,
        filepath: str | os.PathLike[str],
        monitor: str = "val_loss",
        save_best_only: bool = False,
        mode: str = "auto",
        verbose: int = 0,
    ) -> None:
        super().__init__(monitor, mode)
        self.filepath, self.save_best_only, self.verbose = os.fspath(filepath), save_best_only, verbose
        self.last_saved: str | None = None

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        if self.save_best_only:
            value = self._current(logs)
            if not self._improved(value):
                return
            self.best = value
        path = self.filepath.format(epoch=epoch + 1, **(logs or {}))
        save(self.model.state_dict(), path)
        self.last_saved = path
        if self.verbose:
            print(f"ModelCheckpoint: epoch {epoch + 1}, saved {path}")


class LearningRateScheduler(Callback):
    """Set the learning rate each epoch from `schedule(epoch, lr) -> lr` (Keras) or a torch-style scheduler.

    A scheduler object (anything with `step()`, e.g. `optim.lr_scheduler.StepLR`) is stepped at the
    end of every epoch. Either way the epoch's learning rate is logged as "lr".
    """

    def __init__(self, schedule: Callable[[int, float], float] | Any, verbose: int = 0) -> None:
        super().__init__()
        self.schedule, self.verbose = schedule, verbose

    def _groups(self) -> list[dict[str, Any]]:
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is None:
            raise RuntimeError("LearningRateScheduler needs a compiled model (model.optimizer)")
        return optimizer.param_groups

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        if hasattr(self.schedule, "step"):
            return
        groups = self._groups()
        lr = float(self.schedule(epoch, groups[0]["lr"]))
        for group in groups:
            group["lr"] = lr
        if self.verbose:
            print(f"LearningRateScheduler: epoch {epoch + 1}, lr = {lr:.4g}")

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        if logs is not None:
            logs["lr"] = self._groups()[0]["lr"]
        if hasattr(self.schedule, "step"):
            self.schedule.step()


class CSVLogger(Callback):
    """Append one row per epoch to a CSV file: `epoch`, then the logged values in sorted order."""

    def __init__(self, filename: str | os.PathLike[str], separator: str = ",", append: bool = False) -> None:
        super().__init__()
        self.filename, self.separator, self.append = os.fspath(filename), separator, append
        self.keys: list[str] | None = None

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self.keys = None
        exists = self.append and os.path.exists(self.filename) and os.path.getsize(self.filename) > 0
        if exists:  # continue a log: reuse its columns
            with open(self.filename, newline="") as f:
                self.keys = next(csv.reader(f, delimiter=self.separator))[1:]
        else:
            open(self.filename, "w").close()

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        logs = logs or {}
        new_file = self.keys is None
        if self.keys is None:
            self.keys = sorted(logs)
        with open(self.filename, "a", newline="") as f:
            writer = csv.writer(f, delimiter=self.separator)
            if new_file:
                writer.writerow(["epoch", *self.keys])
            writer.writerow([epoch, *(logs.get(k, "") for k in self.keys)])


class TensorBoard(Callback):
    """Write the logged values as TensorBoard event files, like `keras.callbacks.TensorBoard`.

    The files are real TensorBoard event files, written by tensorboardX's `SummaryWriter` (the
    format is TensorBoard's protocol buffers; nothing here writes it by hand). As in Keras, training
    values go to `log_dir/train` and `val_` values to `log_dir/validation`, both tagged
    `epoch_<name>` (`epoch_loss`, `epoch_accuracy`), so TensorBoard draws each pair in one chart;
    `update_freq="batch"` adds `batch_<name>` after every update, and `histogram_freq=N` the
    weights of every parameter every N epochs. Open them with `tensorboard --logdir <log_dir>`.
    """

    def __init__(self, log_dir: str | os.PathLike[str] = "logs", histogram_freq: int = 0,
                 update_freq: str | int = "epoch") -> None:
        super().__init__()
        if update_freq not in ("epoch", "batch") and not (isinstance(update_freq, int) and update_freq > 0):
            raise ValueError(f"update_freq must be 'epoch', 'batch' or a positive number of batches: {update_freq!r}")
        self.log_dir, self.histogram_freq, self.update_freq = os.fspath(log_dir), int(histogram_freq), update_freq
        self._writers: dict[str, Any] = {}
        self._step = 0  # batches seen over the whole training, the x axis of batch_ values

    def _writer(self, split: str) -> Any:
        """The SummaryWriter of `split` ("train" or "validation"), made on first use."""
        if split not in self._writers:
            try:  # imported here: tensorboardX takes seconds to import, and only this callback needs it
                from tensorboardX import SummaryWriter
            except ImportError as err:
                raise ImportError("the TensorBoard callback needs tensorboardX: pip install tensorboardX") from err
            self._writers[split] = SummaryWriter(os.path.join(self.log_dir, split))
        return self._writers[split]

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self._step = 0
        self._writer("train")  # the folder exists from the start, so TensorBoard can be opened at once

    def on_train_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        self._step += 1
        every = 1 if self.update_freq == "batch" else self.update_freq
        if every == "epoch" or self._step % every:
            return
        for name, value in (logs or {}).items():
            self._writer("train").add_scalar(f"batch_{name}", float(value), self._step)

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        for name, value in (logs or {}).items():
            split, tag = ("validation", name[4:]) if name.startswith("val_") else ("train", name)
            self._writer(split).add_scalar(f"epoch_{tag}", float(value), epoch)
        if self.histogram_freq and (epoch + 1) % self.histogram_freq == 0 and self.model is not None:
            for name, tensor in self.model.state_dict().items():
                self._writer("train").add_histogram(name, tensor.numpy(), epoch)
        for writer in self._writers.values():
            writer.flush()  # after every epoch, so a running TensorBoard shows it

    def on_train_end(self, logs: Logs | None = None) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers = {}
