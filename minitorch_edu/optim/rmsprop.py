"""RMSprop: divide the gradient by a running root-mean-square of recent gradients.

Same update as `torch.optim.RMSprop` (g = grad + weight_decay * p):

    v = alpha * v + (1 - alpha) * g^2
    centered:  a = alpha * a + (1 - alpha) * g;   v_hat = v - a^2   (else v_hat = v)
    d = g / (sqrt(v_hat) + eps)
    momentum:  b = momentum * b + d;  p = p - lr * b      (else p = p - lr * d)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..core.creation import zeros_like
from ..core.tensor import Tensor
from .optimizer import Optimizer, rmsprop_step


class RMSprop(Optimizer):
    """`torch.optim.RMSprop`."""

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
    ) -> None:
        if lr < 0 or eps < 0 or not 0 <= alpha <= 1 or momentum < 0:
            raise ValueError(f"invalid RMSprop settings: lr={lr}, alpha={alpha}, eps={eps}, momentum={momentum}")
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum, centered=centered)
        super().__init__(params, defaults)

    def _update(self, p: Tensor, grad: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        alpha, eps, momentum = group["alpha"], group["eps"], group["momentum"]
        g = grad + p * group["weight_decay"] if group["weight_decay"] else grad
        if not state:
            state["step"] = 0
            state["square_avg"] = zeros_like(p)
            if momentum > 0:
                state["momentum_buffer"] = zeros_like(p)
            if group["centered"]:
                state["grad_avg"] = zeros_like(p)
        state["step"] += 1
        rmsprop_step(p, g, state["square_avg"], state.get("grad_avg"), state.get("momentum_buffer"),
                     group["lr"], alpha, eps, momentum)
