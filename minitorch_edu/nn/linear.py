"""Fully connected layers: `Linear` (x @ W.T + b), plus the shape helpers `Flatten` and `Identity`."""

from __future__ import annotations

from typing import Any

from ..core.creation import zeros
from ..core.tensor import Tensor
from . import functional as F
from . import init
from .module import Module, Parameter

__all__ = ["Flatten", "Identity", "Linear"]


class Linear(Module):
    """y = x @ weight.T + bias, for inputs of shape (*, in_features).

    Initialised as in PyTorch: weight and bias ~ U(-1/sqrt(in_features), 1/sqrt(in_features))
    (kaiming_uniform_ with a=sqrt(5)), so outputs start with a modest, size-independent scale.
    """

    def __init__(
        self, in_features: int, out_features: int, bias: bool = True, device: Any = None, dtype: Any = "float32"
    ) -> None:
        super().__init__()
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.weight = Parameter(zeros(self.out_features, self.in_features, dtype=dtype, device=device))
        if bias:
            self.bias = Parameter(zeros(self.out_features, dtype=dtype, device=device))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default: weight and bias ~ U(-1/sqrt(in_features), 1/sqrt(in_features))."""
        init.layer_default_(self.weight, self.bias)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(
                f"{self!r} expected input with last dimension {self.in_features}, got shape {tuple(x.shape)}"
            )
        if self.in_features == 0:  # an empty sum: zeros (+ bias), still on the graph, as PyTorch's
            out = x.sum(-1, keepdim=True) + self.weight.sum(-1)
            return out if self.bias is None else out + self.bias
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Flatten(Module):
    """Flatten dims start_dim..end_dim into one (by default all but the batch dim)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, x: Tensor) -> Tensor:
        if 0 <= self.start_dim and x.ndim <= self.start_dim:
            raise ValueError(f"{self!r} needs an input with more than {self.start_dim} dims, got shape {x.shape}")
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Identity(Module):
    """Returns its input unchanged (a placeholder layer)."""

    def forward(self, x: Tensor) -> Tensor:
        return x
