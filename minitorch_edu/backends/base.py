"""The one small interface every backend implements: four kernel primitives, plus optional fused kernels.

A backend is a set of *kernel factories* plus the storage of one device. Each factory takes a
scalar function (from `backends.scalar`, or your own) and returns a kernel that fills a
preallocated output. All operands of a kernel already have the output's shape: broadcasting
was done before, by giving broadcast dimensions stride 0. Shapes and strides are tuples of ints.

    map(fn)    -> kernel(out, out_strides, a, a_strides, shape)
                  for index in every index of shape:
                      out[position(index, out_strides)] = fn(a[position(index, a_strides)])
    zip(fn)    -> kernel(out, out_strides, a, a_strides, b, b_strides, shape)
                  for index in every index of shape:
                      out[position(index, out_strides)] = fn(a[position(index, a_strides)],
                                                             b[position(index, b_strides)])
    reduce(fn) -> kernel(out, out_strides, a, a_strides, a_shape, dim)
                  out has a's shape with a_shape[dim] == 1 and holds the start value;
                  for index in every index of out's shape:
                      for j in range(a_shape[dim]):
                          out[index] = fn(out[index], a[index with index[dim] = j])
    matmul     -> kernel(out, out_strides, a, a_strides, b, b_strides, out_shape, k)
                  out_shape = (*batch, n, m); a is (*batch, n, k), b is (*batch, k, m);
                  out[*batch, i, j] = sum over r in range(k) of a[*batch, i, r] * b[*batch, r, j]

`out`, `a` and `b` are 1-D storages (`Storage`: NumPy arrays on the CPU, numba device arrays on
CUDA); position(index, strides) = sum(index * strides). An output may alias an input
(out[i] = fn(out[i], b[i]) is how in-place ops run), never partly overlap it.

**Fused kernels** are optional. A layer that would be a dozen primitive kernel launches
(convolution, pooling, softmax cross-entropy, an optimizer's update, a running sum, a flip) calls
one method of the backend, and a backend may register one fast kernel for it:
`Backend(..., conv2d_forward=...)`.
What a backend does not register runs `backends.composed`, the same computation written with the
backend's own map / zip / reduce / matmul, so a backend built from the four primitives alone runs
every layer of the package on its own kernels. The methods below document each fused kernel's
contract; `FUSED_KERNELS` lists their names.

A learner's own kernels become a backend with `Backend(name, map=..., zip=..., reduce=...,
matmul=...)`; every tensor op, autograd, the layers, the losses and the optimizers then run on them.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any, Protocol

import numpy as np

from . import composed, host_pool

Kernel = Callable[..., None]
KernelFactory = Callable[[Callable[..., float]], Kernel]
Geometry = tuple[int, ...]

# the optional entries, in the order the layers use them
FUSED_KERNELS = (
    "conv2d_forward",
    "conv2d_input_grad",
    "conv2d_weight_grad",
    "conv2d_bias_grad",
    "max_pool2d_forward",
    "max_pool2d_backward",
    "avg_pool2d_forward",
    "avg_pool2d_backward",
    "softmax_cross_entropy_forward",
    "softmax_cross_entropy_backward",
    "softmax_forward",
    "softmax_backward",
    "layer_norm_forward",
    "layer_norm_backward",
    "axpby",
    "adam_step",
    "rmsprop_step",
    "cumsum",
    "flip",
)


def fused_in(module: ModuleType) -> dict[str, Callable[..., Any]]:
    """The functions of `module` named like fused kernels, for `Backend(..., **fused_in(module))`: a
    backend's module of fused kernels (its conv.py: conv2d_* and *_pool2d_*) registers them all."""
    return {name: getattr(module, name) for name in FUSED_KERNELS if hasattr(module, name)}


class Storage(Protocol):
    """What kernels may do with a storage: a flat array of one dtype (NumPy arrays and numba
    device arrays are ones). `storage[offset:]` is the same memory from `offset` on, which is
    how a view that starts inside a storage reaches a kernel."""

    dtype: np.dtype

    def __getitem__(self, key: Any) -> Any: ...

    def __setitem__(self, key: Any, value: Any) -> None: ...

    def __len__(self) -> int: ...


class HostStorage:
    """Storage in main memory: 1-D NumPy arrays."""

    device = "cpu"

    @staticmethod
    def empty(n: int, dtype: np.dtype) -> Any:
        return host_pool.empty(n, dtype)

    @staticmethod
    def full(n: int, value: float, dtype: np.dtype) -> Any:
        return np.full(n, value, dtype=dtype)

    @staticmethod
    def arange(start: float, step: float, n: int, dtype: np.dtype) -> Any:
        return (start + step * np.arange(n)).astype(dtype)

    @staticmethod
    def from_numpy(array: np.ndarray) -> Any:
        return np.ascontiguousarray(array).reshape(-1)

    @staticmethod
    def to_numpy(storage: Any) -> np.ndarray:
        return storage


class Backend:
    """Kernels for one device, memoised per scalar function, and its fused kernels (own or composed)."""

    def __init__(
        self,
        name: str,
        map: KernelFactory,
        zip: KernelFactory,
        reduce: KernelFactory,
        matmul: Kernel,
        storage: Any = HostStorage,
        **fused: Callable[..., Any],
    ) -> None:
        unknown = sorted(set(fused) - set(FUSED_KERNELS))
        if unknown:
            raise TypeError(
                f"Backend {name!r}: unknown fused kernel(s) {', '.join(unknown)}; "
                f"the optional ones are {', '.join(FUSED_KERNELS)}"
            )
        self.name = name
        self.storage = storage
        self.device: str = storage.device
        self._factories = {"map": map, "zip": zip, "reduce": reduce}
        self._matmul = matmul
        self._kernels: dict[tuple[str, Callable[..., float]], Kernel] = {}
        self._fused = {k: v for k, v in fused.items() if v is not None}

    def kernel(self, kind: str, fn: Callable[..., float]) -> Kernel:
        """The `kind` ("map", "zip" or "reduce") kernel for scalar function `fn`, built once."""
        key = (kind, fn)
        if key not in self._kernels:
            self._kernels[key] = self._factories[kind](fn)
        return self._kernels[key]

    def map(self, fn: Callable[[float], float]) -> Kernel:
        kernel = self._kernels.get(("map", fn))  # every op asks: the built kernel, without a call more
        return kernel if kernel is not None else self.kernel("map", fn)

    def zip(self, fn: Callable[[float, float], float]) -> Kernel:
        kernel = self._kernels.get(("zip", fn))
        return kernel if kernel is not None else self.kernel("zip", fn)

    def reduce(self, fn: Callable[[float, float], float]) -> Kernel:
        return self.kernel("reduce", fn)

    @property
    def matmul(self) -> Kernel:
        return self._matmul

    @property
    def fused_kernels(self) -> tuple[str, ...]:
        """The fused kernels this backend registered itself (the others run `backends.composed`)."""
        return tuple(k for k in FUSED_KERNELS if k in self._fused)

    def _run(self, name: str, *args: Any) -> Any:
        own = self._fused.get(name)
        return own(*args) if own is not None else getattr(composed, name)(self, *args)

    # ------------------------------------------------------------------ fused: convolution
    # geo = (batch, c_in, h, w, c_out, kh, kw, oh, ow, sh, sw, ph, pw): storages are contiguous NCHW
    def conv2d_forward(self, out: Storage, x: Storage, w: Storage, b: Storage | None, geo: Geometry) -> Any:
        """out (batch, c_out, oh, ow) = the cross-correlation of x (batch, c_in, h, w) with w
        (c_out, c_in, kh, kw), plus b (c_out,) when given; zero padding (ph, pw), stride (sh, sw):

            for n, co, oy, ox:
                out[n, co, oy, ox] = b[co] + sum over ci, ki, kj of
                                     w[co, ci, ki, kj] * x[n, ci, oy*sh + ki - ph, ox*sw + kj - pw]

        Returns whatever `conv2d_weight_grad` may reuse (e.g. im2col columns), or None."""
        return self._run("conv2d_forward", out, x, w, b, geo)

    def conv2d_input_grad(self, gx: Storage, g: Storage, w: Storage, geo: Geometry) -> None:
        """gx (batch, c_in, h, w) = the sum of g[n, co, oy, ox] * w[co, ci, ki, kj] onto every input
        position x[n, ci, oy*sh + ki - ph, ox*sw + kj - pw] that the forward read. gx is not
        initialised on entry."""
        self._run("conv2d_input_grad", gx, g, w, geo)

    def conv2d_weight_grad(self, gw: Storage, g: Storage, x: Storage, saved: Any, geo: Geometry) -> None:
        """gw[co, ci, ki, kj] = sum over n, oy, ox of g[n, co, oy, ox] * x[n, ci, oy*sh + ki - ph, ...];
        `saved` is what this backend's `conv2d_forward` returned (None: rebuild it)."""
        self._run("conv2d_weight_grad", gw, g, x, saved, geo)

    def conv2d_bias_grad(self, gb: Storage, g: Storage, geo: Geometry) -> None:
        """gb[co] = sum over n, oy, ox of g[n, co, oy, ox]."""
        self._run("conv2d_bias_grad", gb, g, geo)

    # ------------------------------------------------------------------ fused: pooling
    # geo = (planes, h, w, kh, kw, oh, ow, sh, sw, ph, pw): a plane is one (n, c) image
    def max_pool2d_forward(self, out: Storage, x: Storage, geo: Geometry) -> Any:
        """out[p, oy, ox] = max over ki, kj of x[p, oy*sh + ki - ph, ox*sw + kj - pw] (padding never
        wins). Returns what `max_pool2d_backward` needs to find each window's first maximum."""
        return self._run("max_pool2d_forward", out, x, geo)

    def max_pool2d_backward(self, gx: Storage, g: Storage, saved: Any, geo: Geometry) -> None:
        """gx (planes, h, w): each g[p, oy, ox] added at its window's first maximum, zeros elsewhere."""
        self._run("max_pool2d_backward", gx, g, saved, geo)

    def avg_pool2d_forward(self, out: Storage, x: Storage, geo: Geometry) -> None:
        """out[p, oy, ox] = sum over ki, kj of x[p, oy*sh + ki - ph, ox*sw + kj - pw] / (kh*kw)
        (padding counts as zeros)."""
        self._run("avg_pool2d_forward", out, x, geo)

    def avg_pool2d_backward(self, gx: Storage, g: Storage, geo: Geometry) -> None:
        """gx (planes, h, w): each g[p, oy, ox] / (kh*kw) added to every input position of its window."""
        self._run("avg_pool2d_backward", gx, g, geo)

    # ------------------------------------------------------------------ fused: losses
    def softmax_cross_entropy_forward(
        self, loss: Storage, probs: Storage, x: Storage, classes: Storage, n: int, c: int
    ) -> None:
        """For contiguous logits x (n, c) and int64 class indices classes (n,):

            for i in range(n):
                m = max_j x[i, j];  s = sum_j exp(x[i, j] - m)
                loss[i] = log(s) + m - x[i, classes[i]];  probs[i, j] = exp(x[i, j] - m) / s
        """
        self._run("softmax_cross_entropy_forward", loss, probs, x, classes, n, c)

    def softmax_cross_entropy_backward(
        self, gx: Storage, probs: Storage, classes: Storage, g: Storage, g_step: int, n: int, c: int
    ) -> None:
        """gx[i, j] = g[i * g_step] * (probs[i, j] - (1 if j == classes[i] else 0)); g_step 0 reads
        one value for every row (the gradient of a mean)."""
        self._run("softmax_cross_entropy_backward", gx, probs, classes, g, g_step, n, c)

    # ------------------------------------------------------------------ fused: softmax, layer norm
    # storages are contiguous (n, c): the op runs over the last dim, one row of c values at a time
    def softmax_forward(self, out: Storage, x: Storage, n: int, c: int, log: bool) -> None:
        """softmax (log False) or log-softmax (log True) of each row of x:

            m = max_j x[i, j]
            softmax:      out[i, j] = exp(x[i, j] - m) / sum_j exp(x[i, j] - m)
            log-softmax:  (m = 0 where it is infinite)  out[i, j] = (x[i, j] - m) - log(sum_j exp(x[i, j] - m))
        """
        self._run("softmax_forward", out, x, n, c, log)

    def softmax_backward(self, gx: Storage, y: Storage, g: Storage, n: int, c: int, log: bool) -> None:
        """The input gradient from the output y and its gradient g:

            softmax:      gx[i, j] = y[i, j] * (g[i, j] - sum_k g[i, k] y[i, k])
            log-softmax:  gx[i, j] = g[i, j] - exp(y[i, j]) * sum_k g[i, k]
        """
        self._run("softmax_backward", gx, y, g, n, c, log)

    def layer_norm_forward(
        self, out: Storage, mean: Storage, rstd: Storage, x: Storage, w: Storage | None, b: Storage | None,
        n: int, c: int, eps: float,
    ) -> None:
        """Normalise each row of x (n, c); w and b (c,) are both given or both None:

            mean[i] = sum_j x[i, j] / c;  rstd[i] = 1 / sqrt(sum_j (x[i, j] - mean[i])² / c + eps)
            out[i, j] = (x[i, j] - mean[i]) * rstd[i] * w[j] + b[j]   (without w, b: no scale, no shift)
        """
        self._run("layer_norm_forward", out, mean, rstd, x, w, b, n, c, eps)

    def layer_norm_backward(
        self, gx: Storage | None, gw: Storage | None, gb: Storage | None, g: Storage, x: Storage,
        mean: Storage, rstd: Storage, w: Storage | None, n: int, c: int,
    ) -> None:
        """Gradients of `layer_norm_forward` from g (n, c), for those of gx, gw, gb that are given
        (gw and gb together); xhat = (x - mean) * rstd, gh = g * w (g without w):

            gx[i, j] = rstd[i] * (gh[i, j] - mean_k gh[i, k] - xhat[i, j] * mean_k gh[i, k] xhat[i, k])
            gw[j] = sum_i g[i, j] * xhat[i, j];   gb[j] = sum_i g[i, j]
        """
        self._run("layer_norm_backward", gx, gw, gb, g, x, mean, rstd, w, n, c)

    # ------------------------------------------------------------------ fused: optimizer updates
    def axpby(self, y: Storage, x: Storage, alpha: float, beta: float, n: int) -> None:
        """y[i] = beta * y[i] + alpha * x[i] for i in range(n), in place (SGD's update, momentum)."""
        self._run("axpby", y, x, alpha, beta, n)

    def adam_step(
        self,
        p: Storage,
        g: Storage,
        exp_avg: Storage,
        exp_avg_sq: Storage,
        max_exp_avg_sq: Storage | None,
        n: int,
        lr: float,
        beta1: float,
        beta2: float,
        eps: float,
        step: int,
    ) -> None:
        """One Adam update of n elements, in place (step counts from 1):

            m = beta1 * m + (1 - beta1) * g;   v = beta2 * v + (1 - beta2) * g * g
            v_hat = max(v_max, v) (stored back) with amsgrad (max_exp_avg_sq given), else v
            p = p - lr / (1 - beta1**step) * m / (sqrt(v_hat) / sqrt(1 - beta2**step) + eps)
        """
        self._run("adam_step", p, g, exp_avg, exp_avg_sq, max_exp_avg_sq, n, lr, beta1, beta2, eps, step)

    def rmsprop_step(
        self,
        p: Storage,
        g: Storage,
        square_avg: Storage,
        grad_avg: Storage | None,
        buf: Storage | None,
        n: int,
        lr: float,
        alpha: float,
        eps: float,
        momentum: float,
    ) -> None:
        """One RMSprop update of n elements, in place:

            v = alpha * v + (1 - alpha) * g * g
            centered (grad_avg given): a = alpha * a + (1 - alpha) * g;  d = sqrt(v - a * a) + eps
            otherwise:                                                   d = sqrt(v) + eps
            momentum (buf given): buf = momentum * buf + g / d;  p = p - lr * buf
            otherwise:                                            p = p - lr * g / d
        """
        self._run("rmsprop_step", p, g, square_avg, grad_avg, buf, n, lr, alpha, eps, momentum)

    # ------------------------------------------------------------------ fused: along one dim
    def cumsum(
        self, out: Storage, out_strides: Geometry, a: Storage, a_strides: Geometry, shape: Geometry, dim: int,
        reverse: bool = False,
    ) -> None:
        """The inclusive running sum of a along `dim` (out and a have `shape`; out never overlaps a):

            for index in every index of shape with index[dim] == 0:
                acc = 0
                for j in range(shape[dim]) (from shape[dim] - 1 down to 0 when `reverse`):
                    acc = acc + a[index with index[dim] = j]
                    out[index with index[dim] = j] = acc

        `reverse` is the backward of a running sum (the gradient summed from the end). A float32 sum
        must stay accurate over long dims: accumulate in float64 (numba's loop) or in a balanced
        tree (the composed default, Hillis and Steele's scan)."""
        self._run("cumsum", out, out_strides, a, a_strides, shape, dim, reverse)

    def flip(
        self, out: Storage, out_strides: Geometry, a: Storage, a_strides: Geometry, shape: Geometry,
        dims: Geometry,
    ) -> None:
        """out = a reversed along each dim in `dims` (distinct, non-negative; out never overlaps a):

            for index in every index of shape:
                source = index with index[d] = shape[d] - 1 - index[d] for d in dims
                out[position(index, out_strides)] = a[position(source, a_strides)]
        """
        self._run("flip", out, out_strides, a, a_strides, shape, dims)

    def __repr__(self) -> str:
        return f"Backend({self.name!r}, device={self.device!r})"
