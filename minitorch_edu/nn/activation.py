"""Activation layers: ReLU, Sigmoid, Tanh, GELU, Softmax and LogSoftmax (wrappers of `nn.functional`)."""

from __future__ import annotations

from ..core.tensor import Tensor
from . import functional as F
from .module import Module

__all__ = ["GELU", "LogSoftmax", "ReLU", "Sigmoid", "Softmax", "Tanh"]


class ReLU(Module):
    """max(x, 0)."""

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(x)


class Sigmoid(Module):
    """1 / (1 + exp(-x))."""

    def forward(self, x: Tensor) -> Tensor:
        return F.sigmoid(x)


class Tanh(Module):
    def forward(self, x: Tensor) -> Tensor:
        return F.tanh(x)


class GELU(Module):
    """Gaussian Error Linear Unit, tanh approximation only (PyTorch's `nn.GELU(approximate='tanh')`):
    0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x³))). PyTorch's default, the exact erf form,
    differs from it by less than 1e-3."""

    def __init__(self, approximate: str = "tanh") -> None:
        super().__init__()
        if approximate != "tanh":
            raise ValueError(f"GELU implements only approximate='tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x: Tensor) -> Tensor:
        return F.gelu(x, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate='{self.approximate}'"


class Softmax(Module):
    """exp(x) / sum(exp(x)) along `dim` (shifted by the max, so large inputs do not overflow)."""

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return F.softmax(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    """log(softmax(x)) along `dim`, computed stably as x - logsumexp(x)."""

    def forward(self, x: Tensor) -> Tensor:
        return F.log_softmax(x, self.dim)
