"""Normalisation layers: `BatchNorm1d`/`BatchNorm2d` (per channel, over the batch) and `LayerNorm`
(per sample).

Both normalise to zero mean and unit variance, (x - mean) / sqrt(var + eps) with the biased
variance, then apply a learned scale (weight) and shift (bias). BatchNorm also keeps running
estimates of the mean and the unbiased variance as buffers, which it uses in eval mode.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..core.autograd import no_grad
from ..core.creation import ones, zeros
from ..core.tensor import Tensor
from . import functional as F
from .module import Module, Parameter

__all__ = ["BatchNorm1d", "BatchNorm2d", "LayerNorm"]


class BatchNorm1d(Module):
    """Batch normalisation over inputs of shape (N, C) or (N, C, L), one mean/variance per channel C.

    Training: normalise with the batch's statistics and update the buffers
    running = (1 - momentum) * running + momentum * batch (momentum=None: a cumulative average).
    Eval: normalise with the running statistics, so the output no longer depends on the batch.
    """

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        device: Any = None,
        dtype: Any = "float32",
    ) -> None:
        super().__init__()
        self.num_features, self.eps, self.momentum = int(num_features), float(eps), momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = Parameter(ones(num_features, dtype=dtype, device=device))
            self.bias = Parameter(zeros(num_features, dtype=dtype, device=device))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", zeros(num_features, dtype=dtype, device=device))
            self.register_buffer("running_var", ones(num_features, dtype=dtype, device=device))
            self.register_buffer("num_batches_tracked", zeros((), dtype="int64", device=device))
        else:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(name, None)

    def _check_input(self, x: Tensor) -> None:
        if x.ndim not in (2, 3) or x.shape[1] != self.num_features:
            raise ValueError(
                f"{self!r} expected input of shape (N, {self.num_features}) or (N, {self.num_features}, L), "
                f"got shape {tuple(x.shape)}"
            )

    def forward(self, x: Tensor) -> Tensor:
        self._check_input(x)
        if self.training and x.numel() // self.num_features <= 1:
            raise ValueError(f"{self!r} needs more than 1 value per channel when training, got shape {x.shape}")
        momentum = 0.0
        if self.training and self.running_mean is not None:
            with no_grad():
                self.num_batches_tracked.add_(1)
            # momentum=None: a cumulative average, each batch weighing 1/(batches seen)
            momentum = self.momentum if self.momentum is not None else 1.0 / int(self.num_batches_tracked.item())
        return F.batch_norm(
            x, self.running_mean, self.running_var, self.weight, self.bias, self.training, momentum, self.eps
        )

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"track_running_stats={self.track_running_stats}"
        )


class BatchNorm2d(BatchNorm1d):
    """Batch normalisation of images (N, C, H, W): one mean and variance per channel C, over N, H and W.

    The same running statistics and train/eval behaviour as `BatchNorm1d` (and as PyTorch's).
    """

    def _check_input(self, x: Tensor) -> None:
        if x.ndim != 4 or x.shape[1] != self.num_features:
            raise ValueError(
                f"{self!r} expected input of shape (N, {self.num_features}, H, W), got shape {tuple(x.shape)}"
            )


class LayerNorm(Module):
    """Normalise over the trailing `normalized_shape` dims of each sample (as in Transformers).

    As in PyTorch: `elementwise_affine=False` learns no weight and no bias; `bias=False` a weight only."""

    def __init__(
        self,
        normalized_shape: int | Sequence[int],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        device: Any = None,
        dtype: Any = "float32",
    ) -> None:
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.normalized_shape: tuple[int, ...] = tuple(int(s) for s in shape)
        self.eps, self.elementwise_affine = float(eps), elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(ones(self.normalized_shape, dtype=dtype, device=device))
            bias_value = Parameter(zeros(self.normalized_shape, dtype=dtype, device=device)) if bias else None
            self.register_parameter("bias", bias_value)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x: Tensor) -> Tensor:
        k = len(self.normalized_shape)
        if x.ndim < k or tuple(x.shape[x.ndim - k :]) != self.normalized_shape:
            raise ValueError(
                f"{self!r} expected input whose last dimensions are {self.normalized_shape}, got shape {tuple(x.shape)}"
            )
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
            f"bias={self.bias is not None}"
        )
