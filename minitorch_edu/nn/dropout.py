"""`Dropout`: random zeroing during training (inverted scaling), the identity in eval mode."""

from __future__ import annotations

from ..core.tensor import Tensor
from . import functional as F
from .module import Module

__all__ = ["Dropout"]


class Dropout(Module):
    """Zero each element with probability p while `training`, scaling the rest by 1/(1-p).

    The mask comes from the package generator, so `mt.manual_seed` makes it reproducible.
    After `model.eval()` the layer returns its input unchanged.
    """

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout probability must be in [0, 1], got {p}")
        self.p = float(p)

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"
