"""Optimizers and learning-rate schedules, with PyTorch's names and update formulas.

    opt = mt.optim.Adam(model.parameters(), lr=1e-3)
    sched = mt.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10)
    loss.backward(); opt.step(); opt.zero_grad(); sched.step()

A learner's own optimizer plugs in by subclassing `Optimizer` and writing `step`.
"""

from __future__ import annotations

from . import lr_scheduler
from .adam import Adam, AdamW
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["SGD", "Adam", "AdamW", "Optimizer", "RMSprop", "lr_scheduler"]
