"""Training: PyTorch-style loop helpers and Keras-style compile/fit/evaluate/predict.

from minitorch_edu.train import train_epoch, evaluate_loop          # write the loop yourself
model.compile("adam", "cross_entropy", metrics=["accuracy"])       # or let fit() run it
history = model.fit(x, y, epochs=10, validation_data=(xv, yv), callbacks=[EarlyStopping()])
history.plot(); plot_decision_boundary(model, X, y)
fit(..., callbacks=[TensorBoard("runs/digits")])                    # then: tensorboard --logdir runs
"""

from __future__ import annotations

from .callbacks import Callback, CSVLogger, EarlyStopping, LearningRateScheduler, ModelCheckpoint, TensorBoard
from .history import History
from .keras import compile, evaluate, fit, predict  # noqa: A004
from .loop import accuracy, evaluate_loop, train_epoch
from .plots import plot_decision_boundary

__all__ = [
    "CSVLogger",
    "Callback",
    "EarlyStopping",
    "History",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "TensorBoard",
    "accuracy",
    "compile",
    "evaluate",
    "evaluate_loop",
    "fit",
    "plot_decision_boundary",
    "predict",
    "train_epoch",
]
