"""Adam and AdamW: per-parameter step sizes from running moments of the gradient.

Same update as `torch.optim.Adam` / `AdamW` (t counts steps from 1):

    m = b1 * m + (1 - b1) * g          v = b2 * v + (1 - b2) * g^2
    v_hat = max(v_hat, v) with amsgrad, else v
    p = p - lr / (1 - b1^t) * m / (sqrt(v_hat) / sqrt(1 - b2^t) + eps)

Adam folds weight decay into the gradient (g += wd * p, i.e. L2 regularisation); AdamW decays the
weights directly (p *= 1 - lr * wd), which is what "decoupled weight decay" means.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..core.creation import zeros_like
from ..core.tensor import Tensor
from .optimizer import Optimizer, adam_step


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

    def _update(self, p: Tensor, grad: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        g = -grad if group["maximize"] else grad
        lr, wd = group["lr"], group["weight_decay"]
        if wd:
            if self.decoupled:
                p *= 1.0 - lr * wd
            else:
                g = g + p * wd
        if not state:
            state["step"] = 0
            state["exp_avg"] = zeros_like(p)
            state["exp_avg_sq"] = zeros_like(p)
        if group["amsgrad"] and "max_exp_avg_sq" not in state:
            state["max_exp_avg_sq"] = zeros_like(p)
        state["step"] += 1
        vmax = state["max_exp_avg_sq"] if group["amsgrad"] else None
        beta1, beta2 = group["betas"]
        # the moments and the parameter in one fused pass of p's backend (the formula: module docstring)
        adam_step(p, g, state["exp_avg"], state["exp_avg_sq"], vmax, lr, beta1, beta2, group["eps"], state["step"])


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
