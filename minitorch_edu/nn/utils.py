"""Gradient clipping, as `torch.nn.utils`: call between `loss.backward()` and `optimizer.step()`.

    loss.backward()
    mt.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
    opt.step()

`clip_grad_norm_` scales *all* gradients by one factor so that their global norm (the norm of the
vector of every parameter's gradient put end to end) is at most `max_norm`; the direction of the
step is kept. `clip_grad_value_` clamps each element to [-clip_value, clip_value] (the direction
changes). Keras's `clipnorm` clips each weight's gradient on its own; its `global_clipnorm` is this.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from ..core.autograd import no_grad
from ..core.creation import tensor
from ..core.tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _with_grads(parameters: Tensor | Iterable[Tensor]) -> list[Tensor]:
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    return [p for p in params if p.grad is not None]


def clip_grad_norm_(
    parameters: Tensor | Iterable[Tensor],
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
) -> Tensor:
    """Scale the gradients in place so that their global `norm_type`-norm is at most `max_norm`.

    As `torch.nn.utils.clip_grad_norm_`: the total norm is the norm of the per-parameter norms
    (max for inf); every gradient is multiplied by min(1, max_norm / (total + 1e-6)); parameters
    without a gradient are skipped. Returns the total norm *before* clipping (a 0-d tensor).
    """
    grads = [p.grad for p in _with_grads(parameters)]
    norm_type = float(norm_type)
    if not grads:
        return tensor(0.0)
    with no_grad():
        norms = [g.detach().norm(norm_type) for g in grads]
        if norm_type == math.inf:
            total = max(float(n.item()) for n in norms)
        else:
            total = sum(float(n.item()) ** norm_type for n in norms) ** (1.0 / norm_type)
        if error_if_nonfinite and not math.isfinite(total):
            raise RuntimeError(
                f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is {total}, so they "
                "cannot be clipped; pass error_if_nonfinite=False to go on anyway"
            )
        coef = min(max_norm / (total + 1e-6), 1.0)
        if coef < 1.0:
            for g in grads:
                g.mul_(coef)
    return tensor(total, dtype=grads[0].dtype)


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float) -> None:
    """Clamp every gradient element to [-clip_value, clip_value] in place (`torch.nn.utils.clip_grad_value_`)."""
    clip_value = float(clip_value)
    with no_grad():
        for p in _with_grads(parameters):
            p.grad.copy_(p.grad.clamp(-clip_value, clip_value))
