"""Convolution and pooling layers (like `torch.nn.Conv2d`, `nn.MaxPool2d`), over `conv_functions`.

The layers add what the functions leave to the caller: learnable weights with PyTorch's default
initialisation, and input checks whose message names the layer, e.g.

    ValueError: Conv2d(1, 8, kernel_size=(3, 3), stride=(1, 1)) expected input (N, 1, H, W),
                got shape (32, 3, 28, 28)
"""

from __future__ import annotations

from typing import Any

from ..core.creation import zeros
from ..core.tensor import Tensor
from . import init
from .conv_functions import _pair, _single, avg_pool2d, conv1d, conv2d, max_pool2d
from .module import Module, Parameter

__all__ = ["AvgPool2d", "Conv1d", "Conv2d", "MaxPool2d"]


class _ConvNd(Module):
    """What Conv1d and Conv2d share: weight (out, in, *kernel), bias (out,), init and repr."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: tuple[int, ...],
        stride: tuple[int, ...],
        padding: tuple[int, ...],
        bias: bool,
        device: Any,
        dtype: Any,
    ) -> None:
        super().__init__()
        if in_channels <= 0 or out_channels <= 0 or min(kernel_size) <= 0:
            raise ValueError(
                f"{type(self).__name__} needs positive channels and kernel size, got in_channels={in_channels}, "
                f"out_channels={out_channels}, kernel_size={kernel_size}"
            )
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        shape = (self.out_channels, self.in_channels, *kernel_size)
        self.weight = Parameter(zeros(*shape, dtype=dtype, device=device))
        if bias:
            self.bias = Parameter(zeros(self.out_channels, dtype=dtype, device=device))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default: weight and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = in * prod(kernel)."""
        init.layer_default_(self.weight, self.bias)

    def _check_input(self, x: Tensor, spatial: str) -> None:
        dims = len(self.kernel_size) + 2
        if x.ndim not in (dims - 1, dims) or x.shape[x.ndim - dims + 1] != self.in_channels:
            raise ValueError(f"{self!r} expected input (N, {self.in_channels}, {spatial}), got shape {tuple(x.shape)}")

    def extra_repr(self) -> str:
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if any(self.padding):
            text += f", padding={self.padding}"
        if self.bias is None:
            text += ", bias=False"
        return text


class Conv1d(_ConvNd):
    """1-D convolution over (N, C_in, L) inputs, giving (N, C_out, L_out)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int],
        stride: int | tuple[int] = 1,
        padding: int | tuple[int] = 0,
        bias: bool = True,
        device: Any = None,
        dtype: Any = "float32",
    ) -> None:
        kernel_size, stride, padding = (
            _single(v, n) for v, n in [(kernel_size, "kernel_size"), (stride, "stride"), (padding, "padding")]
        )
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, bias, device, dtype)

    def forward(self, x: Tensor) -> Tensor:
        self._check_input(x, "L")
        return conv1d(x, self.weight, self.bias, self.stride[0], self.padding[0])


class Conv2d(_ConvNd):
    """2-D convolution over (N, C_in, H, W) inputs, giving (N, C_out, H_out, W_out).

    H_out = (H + 2 * padding - kernel_size) // stride + 1, and the same for W.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        bias: bool = True,
        device: Any = None,
        dtype: Any = "float32",
    ) -> None:
        super().__init__(
            in_channels,
            out_channels,
            _pair(kernel_size, "kernel_size"),
            _pair(stride, "stride"),
            _pair(padding, "padding"),
            bias,
            device,
            dtype,
        )

    def forward(self, x: Tensor) -> Tensor:
        self._check_input(x, "H, W")
        return conv2d(x, self.weight, self.bias, self.stride, self.padding)


class _Pool2d(Module):
    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride  # PyTorch: the stride defaults to the window
        self.padding = padding

    def _check_input(self, x: Tensor) -> None:
        if x.ndim not in (3, 4):
            raise ValueError(f"{self!r} expected input (N, C, H, W) or (C, H, W), got shape {tuple(x.shape)}")

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(_Pool2d):
    """The maximum of each kernel_size window; the gradient goes to the (first) maximum."""

    def forward(self, x: Tensor) -> Tensor:
        self._check_input(x)
        return max_pool2d(x, self.kernel_size, self.stride, self.padding)


class AvgPool2d(_Pool2d):
    """The mean of each kernel_size window (padding counts as zeros); the gradient is shared evenly."""

    def forward(self, x: Tensor) -> Tensor:
        self._check_input(x)
        return avg_pool2d(x, self.kernel_size, self.stride, self.padding)
