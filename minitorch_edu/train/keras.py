"""Keras-style training: `compile` once, then `fit`, `evaluate` and `predict` (also as Module methods).

The four are functions of the model, defined here and bound onto `nn.Module` when this module is
imported (`import minitorch_edu` does), so `model.fit(...)` is `fit(model, ...)` and `nn` never
imports `train`:

    model.compile(optimizer="adam", loss="cross_entropy", metrics=["accuracy"])
    history = model.fit(x_train, y_train, batch_size=32, epochs=10, validation_data=(x_test, y_test))
    loss, acc = model.evaluate(x_test, y_test)
    probabilities = model.predict(x_new)      # a NumPy array, as in Keras

Data may be arrays or Tensors (x and y), a Dataset of (x, y) samples, or a DataLoader. `fit` is
the PyTorch loop of `loop.train_epoch` plus callbacks, a progress bar (tqdm; notebook-aware) and a
`History`. A NaN or infinite loss raises RuntimeError naming the epoch and batch.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import optim
from ..core.autograd import no_grad
from ..core.tensor import Tensor
from ..data import DataLoader, TensorDataset
from ..nn import functional as F
from ..nn.module import Module
from .callbacks import Callback, CallbackList
from .history import History
from .loop import Metric, evaluate_loop, model_device, resolve_metrics, train_epoch

OPTIMIZERS = {"sgd": ("SGD", 0.01), "adam": ("Adam", 1e-3), "adamw": ("AdamW", 1e-3), "rmsprop": ("RMSprop", 1e-3)}


@dataclass
class CompileConfig:
    """What `compile` remembered: the optimizer, the loss function and the metric functions."""

    optimizer: Any
    loss: Callable[[Tensor, Tensor], Tensor]
    metrics: dict[str, Metric] = field(default_factory=dict)


def _loss_fn(loss: str | Callable[..., Tensor]) -> tuple[Callable[[Tensor, Tensor], Tensor], float]:
    """The loss function and the decision threshold for one-output accuracy (logits: 0, else 0.5)."""
    if callable(loss):
        return loss, 0.0
    def as_float_like(out: Tensor, y: Tensor) -> Tensor:
        # Keras lets y be (N,) for an (N, 1) output and integer labels for a float loss
        y = y.reshape(out.shape) if y.shape != out.shape and y.numel() == out.numel() else y
        return y if y.dtype == out.dtype else y.to(dtype=out.dtype)

    name = loss.lower().replace("-", "_")
    if name in ("cross_entropy", "crossentropy", "sparse_categorical_crossentropy"):
        return F.cross_entropy, 0.0
    if name in ("mse", "mse_loss", "mean_squared_error"):
        return (lambda out, y: F.mse_loss(out, as_float_like(out, y))), 0.5
    if name in ("bce_with_logits", "binary_cross_entropy_with_logits", "binary_crossentropy"):
        return (lambda out, y: F.binary_cross_entropy_with_logits(out, as_float_like(out, y))), 0.0
    raise ValueError(f"unknown loss {loss!r}: use 'cross_entropy', 'mse', 'bce_with_logits' or a function")


def compile(  # noqa: A001  (Keras's name)
    model: Any,
    optimizer: str | Any = "adam",
    loss: str | Callable[..., Tensor] = "cross_entropy",
    metrics: Sequence[str | Metric] | None = None,
    learning_rate: float | None = None,
) -> Any:
    """Attach an optimizer (a name or an Optimizer), a loss (a name or a function) and metrics."""
    if isinstance(optimizer, str):
        key = optimizer.lower()
        if key not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {optimizer!r}: use one of {', '.join(OPTIMIZERS)} or an Optimizer")
        cls, default_lr = OPTIMIZERS[key]
        optimizer = getattr(optim, cls)(model.parameters(), lr=learning_rate or default_lr)
    loss_fn, threshold = _loss_fn(loss)
    model.optimizer = optimizer
    model._compile_config = CompileConfig(optimizer, loss_fn, resolve_metrics(metrics, threshold))
    return model


def _config(model: Any) -> CompileConfig:
    config = getattr(model, "_compile_config", None)
    if config is None:
        raise RuntimeError("call model.compile(optimizer=..., loss=...) before fit/evaluate")
    return config


def _is_dataset(obj: Any) -> bool:
    return hasattr(obj, "__getitem__") and hasattr(obj, "__len__") and not isinstance(obj, np.ndarray | Tensor | list)


def as_loader(x: Any, y: Any = None, batch_size: int = 32, shuffle: bool = False, device: Any = None) -> Any:
    """A DataLoader for arrays/tensors (x, y), a Dataset, or a DataLoader (returned as it is)."""
    if isinstance(x, DataLoader) or (
        y is None
        and hasattr(x, "__iter__")
        and not _is_dataset(x)
        and not isinstance(x, np.ndarray | Tensor | list | tuple)
    ):
        return x
    if isinstance(x, tuple) and y is None:
        x, y = x
    dataset = x if y is None and _is_dataset(x) else TensorDataset(x, y) if y is not None else TensorDataset(x)
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, device=device)


def fit(
    model: Any,
    x: Any = None,
    y: Any = None,
    batch_size: int = 32,
    epochs: int = 1,
    validation_data: Any = None,
    callbacks: Sequence[Callback] | None = None,
    shuffle: bool = True,
    verbose: int = 1,
    initial_epoch: int = 0,
) -> History:
    """Train for `epochs` epochs; returns a History (also stored as `model.history`).

    verbose: 0 silent, 1 a progress bar per epoch, 2 one line per epoch.
    """
    config = _config(model)
    device = model_device(model)
    loader = as_loader(x, y, batch_size, shuffle, device)
    val_loader = None if validation_data is None else as_loader(validation_data, None, batch_size, False, device)
    history = getattr(model, "history", None) if initial_epoch > 0 else None
    history = history if isinstance(history, History) else History()
    # History goes last, so that values other callbacks add to the logs (such as "lr") are recorded
    hooks = CallbackList([*(callbacks or []), history], model, {"epochs": epochs, "steps": len(loader)})
    model.stop_training = False
    hooks.on_train_begin()
    for epoch in range(initial_epoch, epochs):
        hooks.on_epoch_begin(epoch)
        bar = _progress(len(loader), f"Epoch {epoch + 1}/{epochs}") if verbose == 1 else None
        start = time.perf_counter()

        def on_batch_end(index: int, logs: dict[str, float], bar: Any = bar) -> None:
            hooks.on_train_batch_end(index, logs)
            if bar is not None:
                bar.update(1)
                bar.set_postfix({k: f"{v:.4f}" for k, v in logs.items()}, refresh=False)

        logs: dict[str, Any] = {}
        try:
            logs = train_epoch(model, loader, config.optimizer, config.loss, config.metrics, epoch, on_batch_end)
            if val_loader is not None:
                val = evaluate_loop(model, val_loader, config.loss, config.metrics)
                logs.update({f"val_{k}": v for k, v in val.items()})
        finally:  # close the bar even when a NaN loss stops training, showing the epoch's means
            if bar is not None:
                bar.set_postfix({k: f"{v:.4f}" for k, v in logs.items()}, refresh=True)
                bar.close()
        hooks.on_epoch_end(epoch, logs)
        if verbose == 2:
            shown = " - ".join(f"{k}: {v:.4f}" for k, v in logs.items())
            print(f"Epoch {epoch + 1}/{epochs} - {time.perf_counter() - start:.1f}s - {shown}")
        if model.stop_training:
            break
    hooks.on_train_end()
    model.history = history
    return history


def _progress(total: int, desc: str) -> Any:
    from tqdm.auto import tqdm  # tqdm.auto picks the Jupyter widget in notebooks, text elsewhere

    return tqdm(total=total, desc=desc, leave=True, dynamic_ncols=True)


def evaluate(
    model: Any, x: Any = None, y: Any = None, batch_size: int = 32, verbose: int = 0, return_dict: bool = False
) -> float | list[float] | dict[str, float]:
    """The loss (and metrics) on the data: a float, [loss, *metrics], or a dict with `return_dict`."""
    config = _config(model)
    results = evaluate_loop(model, as_loader(x, y, batch_size, False, model_device(model)), config.loss, config.metrics)
    if verbose:
        print(" - ".join(f"{k}: {v:.4f}" for k, v in results.items()))
    if return_dict:
        return results
    return results["loss"] if len(results) == 1 else list(results.values())


def predict(model: Any, x: Any, batch_size: int = 32) -> np.ndarray:
    """The model's outputs for the inputs `x` (arrays, a Tensor, a Dataset or a DataLoader) as NumPy."""
    device = model_device(model)
    if isinstance(x, DataLoader) or _is_dataset(x) and not isinstance(x, tuple):
        batches = (b[0] if isinstance(b, tuple | list) else b for b in as_loader(x, None, batch_size, False, device))
    else:
        array = x.numpy() if isinstance(x, Tensor) else np.asarray(x)
        batches = (b[0] for b in as_loader(array, None, batch_size, False, device))
    was_training = getattr(model, "training", False)
    model.eval()
    outputs = []
    try:
        with no_grad():
            for xb in batches:
                xb = xb.to(device) if device is not None and xb.backend is not device else xb
                outputs.append(model(xb).numpy())
    finally:
        model.train(was_training)
    return np.concatenate(outputs) if outputs else np.empty((0,))


def _bind_to_module() -> None:
    """`model.compile(...)`, `model.fit(...)`, `model.evaluate(...)`, `model.predict(...)` on every Module."""
    for method in (compile, fit, evaluate, predict):
        setattr(Module, method.__name__, method)


_bind_to_module()
