"""PyTorch-style loop helpers: one training epoch, one evaluation pass, and the metrics they report.

    for epoch in range(10):
        logs = train_epoch(model, train_loader, optimizer, F.cross_entropy, epoch=epoch)
        logs |= {"val_" + k: v for k, v in evaluate_loop(model, test_loader, F.cross_entropy).items()}

These are the five lines every PyTorch script repeats (forward, loss, zero_grad, backward, step),
written once; Keras-style `fit` is built on them. A loss that becomes NaN or infinite stops
training at once with a RuntimeError naming the epoch and batch: later updates would only
spread the NaN through every weight.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from ..core.autograd import no_grad
from ..core.tensor import Tensor

LossFn = Callable[[Tensor, Tensor], Tensor]
Metric = Callable[[np.ndarray, np.ndarray], float]


def accuracy(output: np.ndarray, target: np.ndarray, threshold: float = 0.0) -> float:
    """The fraction of correct predictions: argmax over classes, or `output > threshold` for one output."""
    target = np.asarray(target)
    if output.ndim >= 2 and output.shape[-1] > 1 and output.ndim > target.ndim:
        predicted = output.argmax(axis=-1)
    else:
        predicted = (output.reshape(target.shape) > threshold).astype(target.dtype)
    return float(np.mean(predicted == target))


def resolve_metrics(metrics: Sequence[str | Metric] | None, threshold: float = 0.0) -> dict[str, Metric]:
    """Metric names ("accuracy"/"acc") or functions(output, target) -> name -> function."""
    resolved: dict[str, Metric] = {}
    for metric in metrics or []:
        if metric in ("accuracy", "acc"):
            resolved["accuracy"] = lambda out, y: accuracy(out, y, threshold)
        elif callable(metric):
            resolved[getattr(metric, "__name__", "metric")] = metric
        else:
            raise ValueError(f"unknown metric {metric!r}: use 'accuracy' or a function(output, target)")
    return resolved


def model_device(model: Any) -> Any:
    """The backend of the model's first parameter (None for a model without parameters)."""
    for p in model.parameters():
        return p.backend
    return None


def _split(batch: Any, device: Any) -> tuple[Tensor, Tensor]:
    if not isinstance(batch, tuple | list) or len(batch) != 2:
        raise ValueError("each batch must be an (inputs, targets) pair")
    x, y = batch
    if device is not None:
        x = x.to(device) if x.backend is not device else x
        y = y.to(device) if y.backend is not device else y
    return x, y


class _Totals:
    """Sample-weighted running means of the loss and the metrics over one pass."""

    def __init__(self, metrics: dict[str, Metric]) -> None:
        self.metrics, self.n = metrics, 0
        self.sums = {"loss": 0.0, **{name: 0.0 for name in metrics}}

    def add(self, loss: float, output: Tensor, target: Tensor) -> None:
        count = output.shape[0] if output.ndim else 1
        self.n += count
        self.sums["loss"] += loss * count
        if self.metrics:
            out, y = output.detach().numpy(), target.numpy()
            for name, fn in self.metrics.items():
                self.sums[name] += fn(out, y) * count

    def means(self) -> dict[str, float]:
        return {k: v / max(self.n, 1) for k, v in self.sums.items()}


def train_epoch(
    model: Any,
    loader: Iterable[Any],
    optimizer: Any,
    loss_fn: LossFn,
    metrics: Sequence[str | Metric] | dict[str, Metric] | None = None,
    epoch: int = 0,
    on_batch_end: Callable[[int, dict[str, float]], Any] | None = None,
) -> dict[str, float]:
    """One pass over `loader` updating the model; returns the mean loss and metrics of the epoch.

    `on_batch_end(batch_index, logs)` is called after every update (progress bars, callbacks).
    """
    metric_fns = metrics if isinstance(metrics, dict) else resolve_metrics(metrics)
    device = model_device(model)
    totals = _Totals(metric_fns)
    model.train()
    for index, batch in enumerate(loader):
        x, y = _split(batch, device)
        output = model(x)
        loss = loss_fn(output, y)
        value = loss.item()
        if not math.isfinite(value):
            raise RuntimeError(
                f"the loss became {value} at epoch {epoch + 1}, batch {index + 1}: training stopped. "
                "Try a smaller learning rate, check the inputs for NaN, or normalise them."
            )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        totals.add(value, output, y)
        if on_batch_end is not None:
            on_batch_end(index, {"loss": value, **{k: v for k, v in totals.means().items() if k != "loss"}})
    return totals.means()


def evaluate_loop(
    model: Any,
    loader: Iterable[Any],
    loss_fn: LossFn,
    metrics: Sequence[str | Metric] | dict[str, Metric] | None = None,
) -> dict[str, float]:
    """Mean loss and metrics over `loader` in eval mode, without building a graph."""
    metric_fns = metrics if isinstance(metrics, dict) else resolve_metrics(metrics)
    device = model_device(model)
    totals = _Totals(metric_fns)
    was_training = getattr(model, "training", False)
    model.eval()
    try:
        with no_grad():
            for batch in loader:
                x, y = _split(batch, device)
                output = model(x)
                totals.add(loss_fn(output, y).item(), output, y)
    finally:
        model.train(was_training)
    return totals.means()
