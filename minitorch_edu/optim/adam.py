"""Adam and AdamW: per-parameter step sizes from running moments of the gradient.

Same update as `torch.optim.Adam` / `AdamW` (t counts steps from 1):

    m = b1 * m + (1 - b1) * g          v = b2 * v + (1 - b2) * g^2
    p = p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)

Adam folds weight decay into the gradient (g += wd * p, i.e. L2 regularisation); AdamW decays the
weights directly (p *= 1 - lr * wd), which is what "decoupled weight decay" means.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from .optimizer import Optimizer, copy_into, maximum, sqrt, zeros_like


class Adam(Optimizer):
    """`torch.optim.Adam` (with `amsgrad`)."""

    decoupled = False

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        maximize: bool = False,
    ) -> None:
        if lr < 0 or eps < 0 or not (0 <= betas[0] < 1 and 0 <= betas[1] < 1):
            raise ValueError(f"invalid {type(self).__name__} settings: lr={lr}, betas={betas}, eps={eps}")
        defaults = dict(
            lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize
        )
        super().__init__(params, defaults)

    def _update(self, p: Any, grad: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        g = -grad if group["maximize"] else grad
        lr, wd = group["lr"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        if wd:
            if self.decoupled:
                p *= 1.0 - lr * wd
            else:
                g = g + p * wd
        if not state:
            state["step"] = 0
            state["exp_avg"] = zeros_like(p)
            state["exp_avg_sq"] = zeros_like(p)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = zeros_like(p)
        state["step"] += 1
        t = state["step"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m *= beta1
        m += g * (1.0 - beta1)
        v *= beta2
        v += g * g * (1.0 - beta2)
        if group["amsgrad"]:
            vmax = state["max_exp_avg_sq"]
            copy_into(vmax, maximum(vmax, v))
            v = vmax
        bias1 = 1.0 - beta1**t
        bias2 = 1.0 - beta2**t
        denom = sqrt(v) / math.sqrt(bias2) + group["eps"]
        p -= m / denom * (lr / bias1)


class AdamW(Adam):
    """`torch.optim.AdamW`: Adam with decoupled weight decay (default 0.01)."""

    decoupled = True

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        maximize: bool = False,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize)
