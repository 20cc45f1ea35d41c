"""Differentiable convolution and pooling (like `torch.nn.functional.conv2d` and friends).

Each op is a `Function` whose forward and backward hand contiguous storages to the fused kernels
of the tensor's backend (`Backend.conv2d_forward`, `max_pool2d_forward`, ...: the contract is in
`backends.base`). The numba and cuda backends register their own fast kernels; any other backend
(the python one, a learner's) runs `backends.composed`, the same computation on its own
map / zip / reduce / matmul kernels.

conv1d is conv2d on a height-1 image: the reshapes are views, so it costs nothing and autograd
flows through them. Dilation and groups are not implemented.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.autograd import Context, Function
from ..core.dtype import is_floating, promote
from ..core.tensor import Tensor

__all__ = ["avg_pool2d", "conv1d", "conv2d", "max_pool2d"]

IntOrPair = int | tuple[int, int]


def _pair(value: Any, name: str) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(pair) != 2 or any(int(v) != v for v in pair):
        raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
    return int(pair[0]), int(pair[1])


def output_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """Positions a window of `kernel` visits on `size` elements padded by `padding` on both sides."""
    return (size + 2 * padding - kernel) // stride + 1


def _geometry(name: str, spatial: tuple[int, int], kernel: tuple[int, int], stride: Any, padding: Any) -> tuple:
    """((sh, sw), (ph, pw), (oh, ow)), checking that the window fits the padded input."""
    sh, sw = _pair(stride, "stride")
    ph, pw = _pair(padding, "padding")
    if sh < 1 or sw < 1 or ph < 0 or pw < 0:
        raise ValueError(f"{name}: stride must be >= 1 and padding >= 0, got stride={(sh, sw)}, padding={(ph, pw)}")
    (h, w), (kh, kw) = spatial, kernel
    if kh > h + 2 * ph or kw > w + 2 * pw:
        raise ValueError(
            f"{name}: kernel size {(kh, kw)} is larger than the padded input {(h + 2 * ph, w + 2 * pw)} "
            f"(input {(h, w)}, padding {(ph, pw)})"
        )
    return (sh, sw), (ph, pw), (output_size(h, kh, sh, ph), output_size(w, kw, sw, pw))


def _raw(t: Tensor, dtype: np.dtype) -> Tensor:
    """`t` contiguous, in `dtype`, without history (kernels index storages as dense NCHW)."""
    return t.detach()._cast_raw(dtype).contiguous()


# ---------------------------------------------------------------------- convolution
class Conv2dFunction(Function):
    """out[n, co] = bias[co] + sum over ci, ki, kj of w[co, ci, ki, kj] * x[n, ci, oy*s + ki - p, ox*s + kj - p]."""

    once_differentiable = True  # a fused kernel's backward

    @staticmethod
    def forward(ctx: Context, x: Tensor, w: Tensor, *bias: Tensor, stride: tuple, padding: tuple) -> Tensor:
        dtype = promote(x.dtype, w.dtype)
        dtype = dtype if is_floating(dtype) else np.dtype("float32")
        ctx.dtypes = (x.dtype, w.dtype) + tuple(t.dtype for t in bias)
        x, w = _raw(x, dtype), _raw(w, dtype)
        b = _raw(bias[0], dtype) if bias else None
        (batch, c_in, h, wd), (c_out, _, kh, kw) = x.shape, w.shape
        _, _, (oh, ow) = _geometry("conv2d", (h, wd), (kh, kw), stride, padding)
        geo = (batch, c_in, h, wd, c_out, kh, kw, oh, ow, *stride, *padding)
        out = x._empty((batch, c_out, oh, ow), dtype)
        saved = None
        if out.numel():
            bias_storage = None if b is None else b._storage
            saved = x.backend.conv2d_forward(out._storage, x._storage, w._storage, bias_storage, geo)
        ctx.save_for_backward(x, w)
        # e.g. the CPU kernels' im2col columns: the weight gradient reuses them (kept only when it is needed)
        ctx.cols = saved if ctx.needs_input_grad[1] else None
        ctx.geo, ctx.has_bias = geo, b is not None
        return out

    @staticmethod
    def backward(ctx: Context, grad: Tensor) -> tuple[Tensor | None, ...]:
        x, w = ctx.saved_tensors
        geo, backend = ctx.geo, x.backend
        g = _raw(grad, x.dtype)
        gx = gw = gb = None
        empty = g.numel() == 0  # no output positions: every gradient is zero

        def alloc(like: Tensor, shape: tuple[int, ...]) -> Tensor:
            return like._full(shape, 0.0) if empty else like._empty(shape)

        if ctx.needs_input_grad[0]:
            gx = alloc(x, x.shape)
            if not empty:
                backend.conv2d_input_grad(gx._storage, g._storage, w._storage, geo)
            gx = gx._cast_raw(ctx.dtypes[0])  # each gradient in its input's dtype
        if ctx.needs_input_grad[1]:
            gw = alloc(w, w.shape)
            if not empty:
                backend.conv2d_weight_grad(gw._storage, g._storage, x._storage, ctx.cols, geo)
            gw = gw._cast_raw(ctx.dtypes[1])
        if ctx.has_bias and ctx.needs_input_grad[2]:
            gb = alloc(w, (geo[4],))
            if not empty:
                backend.conv2d_bias_grad(gb._storage, g._storage, geo)
            gb = gb._cast_raw(ctx.dtypes[2])
        return (gx, gw, gb) if ctx.has_bias else (gx, gw)


def _check_conv(name: str, x: Tensor, weight: Tensor, bias: Tensor | None, spatial_dims: int) -> None:
    dims = "L" if spatial_dims == 1 else "H, W"
    if x.ndim != spatial_dims + 2:
        raise ValueError(f"{name}: expected input of shape (N, C_in, {dims}), got shape {x.shape}")
    if weight.ndim != spatial_dims + 2:
        kernel = "K" if spatial_dims == 1 else "KH, KW"
        raise ValueError(f"{name}: expected weight of shape (C_out, C_in, {kernel}), got shape {weight.shape}")
    if x.shape[1] != weight.shape[1]:
        raise ValueError(
            f"{name}: input has {x.shape[1]} channels (shape {x.shape}) but the weight {weight.shape} "
            f"expects {weight.shape[1]}"
        )
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"{name}: bias of shape {bias.shape} does not match {weight.shape[0]} output channels")
    if x.device != weight.device or (bias is not None and bias.device != x.device):
        raise RuntimeError(f"{name}: input, weight and bias must be on one device, got {x.device} and {weight.device}")


def conv2d(
    input: Tensor,  # noqa: A002  (PyTorch's name)
    weight: Tensor,
    bias: Tensor | None = None,
    stride: IntOrPair = 1,
    padding: IntOrPair = 0,
) -> Tensor:
    """2-D cross-correlation of input (N, C_in, H, W) with weight (C_out, C_in, KH, KW), plus bias (C_out,).

    Zero padding of `padding` on each side; an unbatched input (C_in, H, W) gives (C_out, OH, OW).
    """
    if input.ndim == 3:
        return conv2d(input.unsqueeze(0), weight, bias, stride, padding).squeeze(0)
    _check_conv("conv2d", input, weight, bias, 2)
    _geometry("conv2d", input.shape[2:], weight.shape[2:], stride, padding)  # clear errors before any work
    operands = (input, weight) if bias is None else (input, weight, bias)
    return Conv2dFunction.apply(*operands, stride=_pair(stride, "stride"), padding=_pair(padding, "padding"))


def conv1d(
    input: Tensor,  # noqa: A002
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int = 1,
    padding: int = 0,
) -> Tensor:
    """1-D cross-correlation of input (N, C_in, L) with weight (C_out, C_in, K): conv2d on height 1."""
    if input.ndim == 2:
        return conv1d(input.unsqueeze(0), weight, bias, stride, padding).squeeze(0)
    _check_conv("conv1d", input, weight, bias, 1)
    (stride,), (padding,) = _single(stride, "stride"), _single(padding, "padding")
    if weight.shape[2] > input.shape[2] + 2 * padding:
        raise ValueError(
            f"conv1d: kernel size {weight.shape[2]} is larger than the padded input length "
            f"{input.shape[2] + 2 * padding} (input length {input.shape[2]}, padding {padding})"
        )
    x4 = input.unsqueeze(2)  # (N, C_in, 1, L)
    w4 = weight.unsqueeze(2)  # (C_out, C_in, 1, K)
    return conv2d(x4, w4, bias, (1, stride), (0, padding)).squeeze(2)


def _single(value: Any, name: str) -> tuple[int]:
    if isinstance(value, (tuple, list)):
        if len(value) != 1:
            raise ValueError(f"conv1d: {name} must be an int or a 1-tuple, got {value!r}")
        value = value[0]
    return (int(value),)


# ---------------------------------------------------------------------- pooling
def _pool_geometry(name: str, x: Tensor, kernel_size: Any, stride: Any, padding: Any) -> tuple:
    if x.ndim != 4:
        raise ValueError(f"{name}: expected input of shape (N, C, H, W) or (C, H, W), got shape {x.shape}")
    kh, kw = _pair(kernel_size, "kernel_size")
    stride = (kh, kw) if stride is None else stride  # PyTorch: the stride defaults to the window
    (sh, sw), (ph, pw), (oh, ow) = _geometry(name, x.shape[2:], (kh, kw), stride, padding)
    if ph > kh // 2 or pw > kw // 2:
        raise ValueError(f"{name}: padding {(ph, pw)} must be at most half the kernel size {(kh, kw)}")
    planes = x.shape[0] * x.shape[1]
    return (planes, x.shape[2], x.shape[3], kh, kw, oh, ow, sh, sw, ph, pw)


class MaxPool2dFunction(Function):
    """The maximum of each window; backward routes each gradient to the first maximum of its window."""

    once_differentiable = True  # a fused kernel's backward

    @staticmethod
    def forward(ctx: Context, x: Tensor, geo: tuple) -> Tensor:
        x = _raw(x, x.dtype if is_floating(x.dtype) else np.dtype("float32"))
        out = x._empty(x.shape[:2] + (geo[5], geo[6]))
        argmax = x.backend.max_pool2d_forward(out._storage, x._storage, geo) if out.numel() else None
        # an empty tensor of x's backend and dtype makes the gradient later, without keeping x alive
        ctx.geo, ctx.argmax, ctx.x, ctx.x_shape = geo, argmax, x._empty((0,)), x.shape
        return out

    @staticmethod
    def backward(ctx: Context, grad: Tensor) -> Tensor:
        return _pool_input_grad(ctx, grad, lambda k, gx, g: k.max_pool2d_backward(gx, g, ctx.argmax, ctx.geo))


class AvgPool2dFunction(Function):
    """The mean of each window (padding counts as zeros); backward spreads each gradient evenly."""

    once_differentiable = True  # a fused kernel's backward

    @staticmethod
    def forward(ctx: Context, x: Tensor, geo: tuple) -> Tensor:
        x = _raw(x, x.dtype if is_floating(x.dtype) else np.dtype("float32"))
        out = x._empty(x.shape[:2] + (geo[5], geo[6]))
        if out.numel():
            x.backend.avg_pool2d_forward(out._storage, x._storage, geo)
        ctx.geo, ctx.x, ctx.x_shape = geo, x._empty((0,)), x.shape
        return out

    @staticmethod
    def backward(ctx: Context, grad: Tensor) -> Tensor:
        return _pool_input_grad(ctx, grad, lambda k, gx, g: k.avg_pool2d_backward(gx, g, ctx.geo))


def _pool_input_grad(ctx: Context, grad: Tensor, run: Any) -> Tensor:
    """The input's gradient of a pool: `run(backend, gx storage, grad storage)` fills it."""
    g = _raw(grad, ctx.x.dtype)
    if not g.numel():
        return ctx.x._full(ctx.x_shape, 0.0)
    gx = ctx.x._empty(ctx.x_shape)
    run(ctx.x.backend, gx._storage, g._storage)
    return gx


def max_pool2d(
    input: Tensor,  # noqa: A002
    kernel_size: IntOrPair,
    stride: IntOrPair | None = None,
    padding: IntOrPair = 0,
) -> Tensor:
    """Max over kernel_size windows of (N, C, H, W) moved by `stride` (default: kernel_size).

    Padding is implicit -inf, so it never wins a window."""
    if input.ndim == 3:
        return max_pool2d(input.unsqueeze(0), kernel_size, stride, padding).squeeze(0)
    return MaxPool2dFunction.apply(input, geo=_pool_geometry("max_pool2d", input, kernel_size, stride, padding))


def avg_pool2d(
    input: Tensor,  # noqa: A002
    kernel_size: IntOrPair,
    stride: IntOrPair | None = None,
    padding: IntOrPair = 0,
) -> Tensor:
    """Mean over kernel_size windows of (N, C, H, W) moved by `stride` (default: kernel_size).

    Padding counts as zeros and every window divides by KH*KW (PyTorch's count_include_pad=True)."""
    if input.ndim == 3:
        return avg_pool2d(input.unsqueeze(0), kernel_size, stride, padding).squeeze(0)
    return AvgPool2dFunction.apply(input, geo=_pool_geometry("avg_pool2d", input, kernel_size, stride, padding))
