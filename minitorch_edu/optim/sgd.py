"""Stochastic gradient descent with momentum, Nesterov momentum, dampening and weight decay.

Same update as `torch.optim.SGD` (g = grad + weight_decay * p):

    b_1 = g;   b_t = momentum * b_{t-1} + (1 - dampening) * g
    d = g + momentum * b_t   if nesterov else   b_t
    p = p - lr * d
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..core.tensor import Tensor
from .optimizer import Optimizer, add_scaled


class SGD(Optimizer):
    """`torch.optim.SGD`."""

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        maximize: bool = False,
    ) -> None:
        if lr < 0 or momentum < 0 or weight_decay < 0:
            raise ValueError(f"invalid SGD settings: lr={lr}, momentum={momentum}, weight_decay={weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum needs momentum > 0 and dampening = 0")
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _update(self, p: Tensor, grad: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        g = -grad if group["maximize"] else grad
        if group["weight_decay"]:
            g = g + p * group["weight_decay"]
        momentum = group["momentum"]
        if momentum:
            buf = state.get("momentum_buffer")
            if buf is None:
                # the first step starts the buffer at the gradient itself (no dampening), as in torch
                buf = state["momentum_buffer"] = g.detach().clone()
            else:
                add_scaled(buf, g, 1.0 - group["dampening"], beta=momentum)
            g = g + buf * momentum if group["nesterov"] else buf
        add_scaled(p, g, -group["lr"])
