"""The functional API of `nn` (like `torch.nn.functional`): activations, dropout, linear and losses.

Layers in `nn` are thin wrappers around these functions. Losses take `reduction` = 'mean' (the
default), 'sum' or 'none', and check their targets up front so that a wrong shape or a class
index out of range fails with a message naming both, instead of broadcasting into nonsense.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..backends import scalar
from ..core import ops
from ..core.autograd import Context, Function, is_grad_enabled, is_tracing, no_grad
from ..core.creation import arange, rand, tensor
from ..core.functions import ReLU, Sigmoid, Tanh
from ..core.ops import log_softmax, softmax
from ..core.tensor import Tensor
from ..core.views import ConstantPad
from .conv_functions import avg_pool2d, conv1d, conv2d, max_pool2d
from .embedding import embedding

relu, sigmoid, tanh = ReLU.op, Sigmoid.op, Tanh.op  # mt.relu, mt.sigmoid, mt.tanh

__all__ = [
    "avg_pool2d",
    "batch_norm",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "conv1d",
    "conv2d",
    "cross_entropy",
    "dropout",
    "elu",
    "embedding",
    "gelu",
    "l1_loss",
    "layer_norm",
    "leaky_relu",
    "linear",
    "log_softmax",
    "max_pool2d",
    "mse_loss",
    "nll_loss",
    "one_hot",
    "pad",
    "relu",
    "scaled_dot_product_attention",
    "sigmoid",
    "silu",
    "smooth_l1_loss",
    "softmax",
    "softplus",
    "tanh",
]

_GELU_C = math.sqrt(2.0 / math.pi)
_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


# ---------------------------------------------------------------------- activations and layers
def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    """Gaussian Error Linear Unit, x * P(N(0, 1) <= x) (PyTorch's default, `approximate='none'`):
    0.5 x (1 + erf(x / sqrt(2))). `approximate='tanh'` is the older approximation
    0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x³))), within 1e-3 of it.

    One kernel forward and one backward (`scalar.gelu`, `scalar.gelu_back` and the tanh form's
    pair); while `mt.jit` traces, the formula's ops, which the graph fuses into one kernel anyway."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    if is_tracing():
        if approximate == "none":
            return 0.5 * x * (1.0 + (x * _SQRT_HALF).erf())
        return 0.5 * x * (1.0 + tanh(_GELU_C * (x + 0.044715 * x * x * x)))
    return _GELU.apply(x if x.dtype.kind == "f" else x.float(), approximate=approximate)


class _GELU(Function):
    """GELU as one map forward and one zip backward, instead of the formula's six (or nine) kernels
    each way: the scalar functions compute in float64 for float32 data and vectorise (scalar.py)."""

    once_differentiable = True  # the backward is a kernel, not differentiable ops

    @staticmethod
    def forward(ctx: Context, x: Tensor, approximate: str = "none") -> Tensor:
        ctx.save_for_backward(x)
        ctx.approximate = approximate
        ctx.back = scalar.gelu_back if approximate == "none" else scalar.gelu_tanh_back
        return x._map(scalar.gelu if approximate == "none" else scalar.gelu_tanh, keep_layout=True)

    @staticmethod
    def backward(ctx: Context, grad: Tensor) -> Tensor:
        (x,) = ctx.saved_tensors
        return x._zip(ctx.back, grad)

    @staticmethod
    def backward_ops(ctx: Context, grad: Tensor, x: Tensor) -> Tensor:
        """d gelu = Phi(x) + x phi(x); the tanh form's derivative through its inner polynomial."""
        if ctx.approximate == "none":
            return grad * (0.5 * (1.0 + (x * _SQRT_HALF).erf()) + x * (-0.5 * x * x).exp() * _INV_SQRT_2PI)
        t = tanh(_GELU_C * (x + 0.044715 * x * x * x))
        return grad * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * _GELU_C * (1.0 + 3 * 0.044715 * x * x))


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """x where x > 0, else negative_slope * x (the slope is the gradient at 0 too, as in PyTorch)."""
    return ops.where(x > 0, x, x * negative_slope)


def silu(x: Tensor) -> Tensor:
    """x * sigmoid(x) (also called swish)."""
    return x * sigmoid(x)


def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    """x where x > 0, else alpha * (exp(x) - 1)."""
    # exp only sees the non-positive part: for large x, exp(x) = inf in the unused branch would
    # turn its zero gradient into 0 * inf = nan
    negative = ops.where(x > 0, 0.0, x)
    return ops.where(x > 0, x, alpha * negative.expm1())


def softplus(x: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta x)) / beta, a smooth relu; x itself where beta x > threshold (as in PyTorch,
    where the two agree to float precision)."""
    linear = x * beta > threshold
    z = ops.where(linear, 0.0, x * beta)  # keeps exp from overflowing in the branch not taken
    return ops.where(linear, x, z.exp().log1p() / beta)


def pad(input: Tensor, pad: Any, mode: str = "constant", value: float | None = None) -> Tensor:  # noqa: A002
    """Pad the last len(pad) // 2 dims (`torch.nn.functional.pad`): `pad` lists (before, after) pairs
    starting with the LAST dim, e.g. (1, 1) pads the last dim, (1, 1, 2, 2) the last two. Negative
    amounts crop. Only mode='constant' is implemented."""
    if mode != "constant":
        raise NotImplementedError(f"pad: only mode='constant' is implemented, got mode={mode!r}")
    amounts = [int(p) for p in pad]
    if len(amounts) % 2 or len(amounts) // 2 > input.ndim:
        raise ValueError(
            f"pad: the padding {tuple(amounts)} must have an even length of at most 2 * {input.ndim} for an "
            f"input of shape {input.shape} (pairs for the last dims, last dim first)"
        )
    pairs = [(0, 0)] * input.ndim
    for i in range(len(amounts) // 2):
        pairs[input.ndim - 1 - i] = (amounts[2 * i], amounts[2 * i + 1])
    for d, (lo, hi) in enumerate(pairs):
        if input.shape[d] + lo + hi < 0:
            raise ValueError(f"pad: padding {(lo, hi)} of dim {d} leaves a negative size (input shape {input.shape})")
    if any(lo < 0 or hi < 0 for lo, hi in pairs):  # negative amounts crop: a view first
        key = tuple(slice(max(-lo, 0), s - max(-hi, 0)) for s, (lo, hi) in zip(input.shape, pairs))
        input = input[key]  # noqa: A001
        pairs = [(max(lo, 0), max(hi, 0)) for lo, hi in pairs]
    if all(p == (0, 0) for p in pairs):
        return input
    return ConstantPad.apply(input, pads=tuple(pairs), value=0.0 if value is None else float(value))


class _Linear(Function):
    """x @ weight.T (+ bias) as one graph node: one matmul forward, two backward.

    Written with the raw kernels rather than composed from transpose, matmul and add, which
    saves a handful of graph nodes per layer: Python overhead is most of a small layer's time.
    """

    @staticmethod
    def forward(ctx: Context, x: Tensor, weight: Tensor, *bias: Tensor) -> Tensor:
        rows = x.reshape(-1, x.shape[-1])
        ctx.save_for_backward(x, weight)
        ctx.x_shape = x.shape
        out = rows._matmul(_transposed(weight))
        if bias:
            out._zip(scalar.add, bias[0], out=out)  # in place: out is fresh
        return out.reshape(x.shape[:-1] + (weight.shape[0],))

    @staticmethod
    def backward(ctx: Context, grad: Tensor) -> tuple[Tensor | None, ...]:
        x, weight = ctx.saved_tensors
        need = ctx.needs_input_grad + (False,) * (3 - len(ctx.needs_input_grad))
        g = grad.reshape(-1, weight.shape[0])  # the rows of the gradient, one per row of x
        rows = x.reshape(-1, x.shape[-1])
        if is_grad_enabled():  # create_graph=True: the rule in differentiable tensor ops
            gx = (g @ weight).reshape(ctx.x_shape) if need[0] else None
            gw = g.transpose(0, 1) @ rows if need[1] else None
            gb = g.sum(0) if need[2] else None
        else:  # the same products and sum as raw kernels: about 50 µs a layer less (8-23 µs an op)
            gx = g._matmul(weight).reshape(ctx.x_shape) if need[0] else None
            gw = _transposed(g)._matmul(rows) if need[1] else None
            gb = g._reduce(scalar.add, 0, 0.0).reshape(weight.shape[:1]) if need[2] else None
        return (gx, gw) if len(ctx.needs_input_grad) == 2 else (gx, gw, gb)


def _transposed(m: Tensor) -> Tensor:
    """The transpose of a 2-D tensor as a view (no copy, no graph node)."""
    return m._view_raw(m.shape[::-1], m._strides[::-1])


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """x @ weight.T + bias, with weight of shape (out_features, in_features) as in PyTorch."""
    if x.ndim == 0 or x.shape[-1] != weight.shape[-1]:
        raise ValueError(f"linear: input of shape {x.shape} does not fit weight of shape {weight.shape}")
    if bias is None:
        return _Linear.apply(x, weight)
    return _Linear.apply(x, weight, bias)


def dropout(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero each element with probability p and scale the rest by 1/(1-p) (inverted dropout), so the
    expected value is unchanged and evaluation needs no rescaling. The identity when not training."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    # the mask is drawn where x lives: on a GPU it never crosses from the host
    keep = rand(x.shape, dtype=x.dtype, device=x.backend) >= p
    return x * (keep * (1.0 / (1.0 - p)))


def batch_norm(
    input: Tensor,  # noqa: A002
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise each channel (dim 1) of (N, C[, L]) with the batch's statistics when `training`
    (updating the running ones in place, with the unbiased variance), else with the running ones."""
    dims = (0,) + tuple(range(2, input.ndim))
    channel_shape = (1, input.shape[1]) + (1,) * (input.ndim - 2)
    if training or running_mean is None or running_var is None:
        mean = input.mean(dims, keepdim=True)
        var = input.var(dims, keepdim=True, unbiased=False)
        if training and running_mean is not None and running_var is not None:
            count = input.numel() // input.shape[1]
            with no_grad():
                unbiased = var.detach().reshape(-1) * (count / max(count - 1, 1))
                running_mean.mul_(1.0 - momentum).add_(mean.detach().reshape(-1) * momentum)
                running_var.mul_(1.0 - momentum).add_(unbiased * momentum)
    else:
        mean, var = running_mean.reshape(channel_shape), running_var.reshape(channel_shape)
    out = (input - mean) / (var + eps).sqrt()
    if weight is not None:
        out = out * weight.reshape(channel_shape)
    return out if bias is None else out + bias.reshape(channel_shape)


def layer_norm(
    input: Tensor,  # noqa: A002
    normalized_shape: tuple[int, ...],
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise over the trailing `normalized_shape` dims of each sample, then scale and shift.

    One kernel forward and one (or two, with parameters) backward: `Backend.layer_norm_forward` /
    `layer_norm_backward`. While `mt.jit` traces, and for a weight without a bias (or the reverse),
    the formula's ops instead."""
    dims = tuple(range(input.ndim - len(normalized_shape), input.ndim))
    if not is_tracing() and (weight is None) == (bias is None) and input.dtype.kind == "f":
        params = () if weight is None else (weight, bias)
        return _LayerNorm.apply(input, *params, dims=len(dims), eps=eps)
    mean = input.mean(dims, keepdim=True)
    out = (input - mean) / (input.var(dims, keepdim=True, unbiased=False) + eps).sqrt()
    if weight is not None:
        out = out * weight
    return out if bias is None else out + bias


def _contiguous(t: Tensor) -> Tensor:
    return t if t.is_contiguous() else t._map(scalar.identity)


class _LayerNorm(Function):
    """Layer norm over the last `dims` dims as rows of c values: x (n, c), weight and bias (c,)."""

    once_differentiable = True  # the backward is a kernel, not differentiable ops

    @staticmethod
    def forward(ctx: Context, x: Tensor, *params: Tensor, dims: int = 1, eps: float = 1e-5) -> Tensor:
        c = 1
        for s in x.shape[x.ndim - dims :]:
            c *= s
        n = x.numel() // c if c else 0
        rows = _contiguous(x)
        same = [_contiguous(p if p.dtype == x.dtype else p._cast_raw(x.dtype)) for p in params]
        w, b = same if same else (None, None)
        out, mean, rstd = x._empty(x.shape), x._empty((n,)), x._empty((n,))
        x.backend.layer_norm_forward(
            out._storage, mean._storage, rstd._storage, rows._storage,
            None if w is None else w._storage, None if b is None else b._storage, n, c, eps,
        )
        ctx.save_for_backward(rows, mean, rstd, *(() if w is None else (w,)))
        ctx.rows = (n, c)
        ctx.dims, ctx.eps = dims, eps
        return out

    @staticmethod
    def backward(ctx: Context, grad: Tensor) -> tuple[Tensor | None, ...]:
        rows, mean, rstd, *w = ctx.saved_tensors
        n, c = ctx.rows
        g = _contiguous(grad)
        needs = ctx.needs_input_grad
        gx = rows._empty(rows.shape) if needs[0] else None
        gw = gb = None
        if w and (needs[1] or needs[2]):
            gw, gb = rows._empty(w[0].shape), rows._empty(w[0].shape)
        rows.backend.layer_norm_backward(
            None if gx is None else gx._storage, None if gw is None else gw._storage,
            None if gb is None else gb._storage, g._storage, rows._storage, mean._storage, rstd._storage,
            w[0]._storage if w else None, n, c,
        )
        return (gx, gw, gb) if w else gx

    @staticmethod
    def backward_ops(ctx: Context, grad: Tensor, x: Tensor, *params: Tensor) -> tuple[Tensor | None, ...]:
        """With x^ = (x - mean) rstd and h = g w: dx = rstd (h - mean(h) - x^ mean(h x^)),
        dw = sum of g x^ and db = sum of g over the leading dims."""
        d = tuple(range(x.ndim - ctx.dims, x.ndim))
        centred = x - x.mean(d, keepdim=True)
        rstd = 1.0 / ((centred * centred).mean(d, keepdim=True) + ctx.eps).sqrt()
        xhat = centred * rstd
        h = grad * params[0] if params else grad
        gx = rstd * (h - h.mean(d, keepdim=True) - xhat * (h * xhat).mean(d, keepdim=True))
        if not params:
            return gx
        lead = tuple(range(x.ndim - ctx.dims))
        gw, gb = grad * xhat, grad
        return (gx, gw.sum(lead) if lead else gw, gb.sum(lead) if lead else gb)


# ---------------------------------------------------------------------- attention
def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask: Tensor | None = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    enable_gqa: bool = False,
) -> Tensor:
    """softmax(query @ key.T * scale + mask) @ value, as `torch.nn.functional.scaled_dot_product_attention`.

    Shapes: query (..., L, E), key (..., S, E), value (..., S, Ev) -> (..., L, Ev); the leading dims
    broadcast. `attn_mask` broadcasts to (..., L, S): a bool mask says where a query MAY attend
    (True), a float mask is added to the scores. `is_causal=True` lets query i see keys 0..i (the
    lower triangle, anchored top-left as in PyTorch). `scale` defaults to 1/sqrt(E). Dropout on the
    attention weights only when dropout_p > 0 (pass 0.0 in eval mode: the function has no `training`).
    A query row that may attend nowhere gives zeros (PyTorch's "safe softmax"), not nan.
    `enable_gqa=True` (grouped-query attention): key and value may have fewer heads (dim -3) than the
    query, a divisor of its count; each key/value head then serves that many query heads in a row.

    Composed from matmul, add and the fused row softmax, so autograd needs nothing new.
    """
    if enable_gqa:
        key, value = _shared_heads(key, query), _shared_heads(value, query)
    _check_attention_shapes(query, key, value)
    if is_causal and attn_mask is not None:
        raise RuntimeError("scaled_dot_product_attention: an explicit attn_mask should not be set when is_causal=True")
    length, source = query.shape[-2], key.shape[-2]
    if is_causal:
        attn_mask = causal_mask(length, source, device=query.backend)
    mask = None if attn_mask is None else additive_mask(attn_mask, query, (length, source))
    # a causal row i always sees key 0: no row is masked entirely, nothing to check
    out, _ = attention(query, key, value, mask, dropout_p, scale, rows_may_be_blocked=not is_causal)
    return out


def attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    mask: Tensor | None,
    dropout_p: float = 0.0,
    scale: float | None = None,
    rows_may_be_blocked: bool = True,
) -> tuple[Tensor, Tensor]:
    """(weights @ value, weights) with weights = softmax(query @ key.T * scale + mask) over the keys.

    `mask` is additive (0 where allowed, -inf where not; see `additive_mask`). Rows masked entirely
    are softmaxed over a zero mask instead (finite, so no nan reaches the gradient) and then zeroed;
    `rows_may_be_blocked=False` says the caller knows there are none (a causal mask)."""
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else float(scale)
    # scaling the (L, E) queries costs less than scaling the (L, S) scores
    scores = (query * scale) @ key.transpose(-2, -1)
    dead = None
    if mask is not None:
        dead = _dead_rows(mask) if rows_may_be_blocked else None
        if dead is not None:
            mask = ops.where(dead, 0.0, mask)
        scores = scores + mask
    weights = softmax(scores, -1)
    if dead is not None:
        weights = ops.where(dead, 0.0, weights)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p, training=True)
    return weights @ value, weights


def causal_mask(length: int, source: int | None = None, device: Any = None) -> Tensor:
    """The (length, source) bool mask of a causal model: True where key j <= query i (may attend)."""
    source = length if source is None else source
    rows = arange(length, device=device).reshape(length, 1)
    return rows >= arange(source, device=device)


def additive_mask(mask: Tensor, like: Tensor, scores_shape: tuple[int, int], allowed: bool = True) -> Tensor:
    """A mask as numbers to add to the scores: 0 where attending is allowed, -inf where not.

    A bool mask reads True as `allowed` (SDPA's convention, allowed=True; `nn.MultiheadAttention`'s
    masks say where NOT to attend: allowed=False); a float mask is returned as it is (in `like`'s
    dtype). Its last two dims must broadcast to `scores_shape` (L, S)."""
    if not isinstance(mask, Tensor):
        mask = tensor(np.asarray(mask), device=like.backend)
    trailing = mask.shape[-2:] if mask.ndim >= 2 else (1,) + mask.shape
    if any(m not in (1, s) for m, s in zip(trailing, scores_shape)):
        raise ValueError(
            f"attention mask of shape {mask.shape} does not broadcast to the attention scores (..., L, S) = "
            f"(..., {scores_shape[0]}, {scores_shape[1]})"
        )
    if mask.dtype.kind == "b":
        keep = mask if allowed else ~mask
        return ops.where(keep, 0.0, float("-inf")).to(dtype=like.dtype)
    if mask.dtype.kind != "f":
        raise TypeError(f"attention mask must be bool or float, got {mask.dtype} (shape {mask.shape})")
    return mask if mask.dtype == like.dtype else mask.to(dtype=like.dtype)


def _dead_rows(mask: Tensor) -> Tensor | None:
    """(..., L, 1) True where a row of the additive mask is -inf everywhere, or None if no row is.

    On the host the answer is read (the mask is small next to the scores). On a GPU reading it would
    wait for the device every call, and while `mt.jit` traces the answer would be frozen into the
    graph for every later mask: there the rows are always patched (two cheap `where`s)."""
    dead = (mask == float("-inf")).all(-1, keepdim=True)
    if mask.device == "cuda" or is_tracing():
        return dead
    return dead if bool(dead.any().item()) else None


def _shared_heads(t: Tensor, query: Tensor) -> Tensor:
    """Grouped-query attention: (..., Hkv, S, E) with each head repeated to the query's H heads (dim -3)."""
    if t.ndim < 3 or query.ndim < 3 or t.shape[-3] == query.shape[-3]:
        return t
    heads, kv_heads = query.shape[-3], t.shape[-3]
    if heads % kv_heads:
        raise ValueError(
            f"scaled_dot_product_attention: enable_gqa needs the query's heads ({heads}, dim -3 of {query.shape}) "
            f"to be a multiple of the key/value heads ({kv_heads}, dim -3 of {t.shape})"
        )
    lead, rest = t.shape[:-3], t.shape[-2:]
    group = heads // kv_heads
    repeated = t.unsqueeze(-3).expand(*lead, kv_heads, group, *rest)  # a view; the reshape copies
    return repeated.reshape(*lead, heads, *rest)


def _check_attention_shapes(query: Tensor, key: Tensor, value: Tensor) -> None:
    """(..., L, E), (..., S, E), (..., S, Ev) with broadcastable leading dims, or a ValueError naming them."""
    shapes = f"query {query.shape}, key {key.shape}, value {value.shape}"
    if min(query.ndim, key.ndim, value.ndim) < 2:
        raise ValueError(f"scaled_dot_product_attention: query, key and value need 2+ dims (..., L, E); got {shapes}")
    if query.shape[-1] != key.shape[-1]:
        raise ValueError(
            f"scaled_dot_product_attention: query and key must have the same last dim E; got {shapes}"
        )
    if key.shape[-2] != value.shape[-2]:
        raise ValueError(
            f"scaled_dot_product_attention: key and value must have the same sequence length S (dim -2); got {shapes}"
        )
    try:
        np.broadcast_shapes(query.shape[:-2], key.shape[:-2], value.shape[:-2])
    except ValueError:
        raise ValueError(f"scaled_dot_product_attention: the batch dims do not broadcast; got {shapes}") from None


def one_hot(target: Tensor, num_classes: int = -1) -> Tensor:
    """(..., ) integer classes -> (..., num_classes) of 0/1, built by comparison (works on every backend).

    As in PyTorch, a class outside [0, num_classes) raises (it would give a row of zeros), and
    num_classes=-1 means one more than the largest class. The check reads the classes on the host.
    """
    if target.dtype.kind not in "iu":
        raise RuntimeError(f"one_hot is only applicable to index tensors (int64), got {target.dtype}")
    if target.numel():
        lo, hi = int(target.min().item()), int(target.max().item())
        if num_classes == -1:
            num_classes = hi + 1
        if lo < 0:
            raise RuntimeError(f"one_hot: Class values must be non-negative, got class {lo}")
        if hi >= num_classes:
            raise RuntimeError(
                f"one_hot: Class values must be smaller than num_classes: class {hi} with num_classes={num_classes}"
            )
    elif num_classes == -1:
        raise RuntimeError("one_hot: Can not infer total number of classes from empty tensor.")
    return _one_hot(target, num_classes)


def _one_hot(target: Tensor, num_classes: int) -> Tensor:
    """`one_hot` for classes already range-checked (the losses check them once, their own way)."""
    classes = arange(num_classes, device=target.backend)
    return target.reshape(target.shape + (1,)) == classes


# ---------------------------------------------------------------------- losses
def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _same_shape(name: str, input: Tensor, target: Tensor) -> Tensor:  # noqa: A002
    if not isinstance(target, Tensor):
        target = tensor(np.asarray(target), dtype=input.dtype, device=input.backend)
    if target.shape != input.shape:
        raise ValueError(f"{name}: target shape {target.shape} does not match input shape {input.shape}")
    return target.to(dtype=input.dtype) if target.dtype != input.dtype else target


def mse_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:  # noqa: A002
    """Mean squared error (input - target)²."""
    target = _same_shape("mse_loss", input, target)
    diff = input - target
    return _reduce(diff * diff, reduction)


def l1_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:  # noqa: A002
    """Mean absolute error |input - target|."""
    target = _same_shape("l1_loss", input, target)
    return _reduce((input - target).abs(), reduction)


def smooth_l1_loss(input: Tensor, target: Any, reduction: str = "mean", beta: float = 1.0) -> Tensor:  # noqa: A002
    """Huber-like loss: 0.5 d² / beta where |d| < beta, else |d| - 0.5 beta (d = input - target).
    Quadratic near 0, so its gradient shrinks smoothly; linear further out, so outliers pull less."""
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    target = _same_shape("smooth_l1_loss", input, target)
    diff = input - target
    size = diff.abs()
    if beta == 0:  # the quadratic part vanishes: plain L1 (no division by zero)
        return _reduce(size, reduction)
    return _reduce(ops.where(size < beta, 0.5 * diff * diff / beta, size - 0.5 * beta), reduction)


class _BCEWithLogits(Function):
    """Elementwise max(x, 0) - x y + log(1 + exp(-|x|)): never overflows, and its backward is the
    exact sigmoid(x) - y (composing relu and abs would give a wrong gradient at exactly x = 0)."""

    once_differentiable = True  # a fused kernel's backward

    @staticmethod
    def forward(ctx: Context, x: Tensor, y: Tensor) -> Tensor:
        ctx.save_for_backward(x, y)
        return relu(x) - x * y + (1.0 + (-x.abs()).exp()).log()

    @staticmethod
    def backward(ctx: Context, grad: Tensor) -> tuple[Tensor, Tensor]:
        x, y = ctx.saved_tensors
        return grad * (sigmoid(x) - y), grad * -x


def binary_cross_entropy_with_logits(
    input: Tensor,  # noqa: A002
    target: Any,
    weight: Tensor | None = None,
    reduction: str = "mean",
) -> Tensor:
    """Binary cross-entropy on logits (sigmoid folded in, numerically stable for any logit)."""
    target = _same_shape("binary_cross_entropy_with_logits", input, target)
    loss = _BCEWithLogits.apply(input, target)
    return _reduce(loss if weight is None else loss * weight, reduction)


class _BCE(Function):
    """-(y log p + (1 - y) log(1 - p)), each log clamped at -100, with PyTorch's backward
    (p - y) / max(p (1 - p), 1e-12): finite at p = 0 and 1, where the chain rule through the clamped
    logs would give 0 * inf = nan (sigmoid(20) is exactly 1 in float32)."""

    once_differentiable = True  # a fused kernel's backward

    @staticmethod
    def forward(ctx: Context, p: Tensor, y: Tensor) -> Tensor:
        ctx.save_for_backward(p, y)
        log_p, log_not_p = _clamped_logs(p)
        return -(y * log_p + (1.0 - y) * log_not_p)

    @staticmethod
    def backward(ctx: Context, grad: Tensor) -> tuple[Tensor | None, Tensor | None]:
        p, y = ctx.saved_tensors
        gp = gy = None
        if ctx.needs_input_grad[0]:
            gp = grad * (p - y) / (p * (1.0 - p)).maximum(1e-12)
        if ctx.needs_input_grad[1]:
            log_p, log_not_p = _clamped_logs(p)
            gy = grad * (log_not_p - log_p)
        return gp, gy


def _clamped_logs(p: Tensor) -> tuple[Tensor, Tensor]:
    return p.log().clamp(min=-100.0), (1.0 - p).log().clamp(min=-100.0)


def binary_cross_entropy(
    input: Tensor,  # noqa: A002
    target: Any,
    weight: Tensor | None = None,
    reduction: str = "mean",
) -> Tensor:
    """Binary cross-entropy on probabilities; each log is clamped at -100, as in PyTorch, so p = 0
    or 1 gives a large finite loss (and a finite gradient) instead of inf. Prefer the `_with_logits`
    form for training. Probabilities outside [0, 1] (or nan) raise, as in PyTorch; the check reads
    two reductions on the host."""
    target = _same_shape("binary_cross_entropy", input, target)
    if input.numel():
        with no_grad():
            lo, hi = float(input.detach().min().item()), float(input.detach().max().item())
        if not (0.0 <= lo and hi <= 1.0):  # nan fails both
            raise RuntimeError(
                f"binary_cross_entropy: all elements of input should be between 0 and 1, got values in "
                f"[{lo:.6g}, {hi:.6g}] (shape {input.shape}); pass probabilities (e.g. x.sigmoid()), or use "
                "binary_cross_entropy_with_logits on the raw scores"
            )
    loss = _BCE.apply(input, target)
    return _reduce(loss if weight is None else loss * weight, reduction)


def _classes_last(input: Tensor) -> Tensor:
    """(N, C, d1, ...) -> (N * d1 * ..., C); (C,) -> (1, C); (N, C) unchanged."""
    if input.ndim == 1:
        return input.reshape(1, -1)
    if input.ndim > 2:
        order = (0,) + tuple(range(2, input.ndim)) + (1,)
        return input.permute(order).reshape(-1, input.shape[1])
    return input


def _check_class_targets(name: str, input: Tensor, target: Any) -> Tensor:
    """Integer targets of shape input.shape minus the class dim, each in [0, C)."""
    if not isinstance(target, Tensor):
        target = tensor(np.asarray(target, dtype=np.int64), device=input.backend)
    expected = () if input.ndim == 1 else input.shape[:1] + input.shape[2:]
    if target.shape != expected:
        raise ValueError(
            f"{name}: target of shape {target.shape} does not fit input of shape {input.shape}: "
            f"expected class indices of shape {expected}"
        )
    if target.dtype.kind not in "iu":
        raise TypeError(f"{name}: class indices must be integers, got dtype {target.dtype}")
    n_classes = input.shape[0] if input.ndim == 1 else input.shape[1]
    # on a GPU a check now would cost a device-to-host copy every step: `defer_class_check` counts
    # the bad targets on the device instead, and the count is read when the loss is next read
    if target.numel() and target.device != "cuda":
        host = target.numpy()  # host memory already: a copy of the labels, cheaper than two reductions
        for index in (int(host.min()), int(host.max())):
            if not 0 <= index < n_classes:
                raise IndexError(
                    f"{name}: target class index {index} is out of range for {n_classes} classes "
                    f"(valid indices are 0 to {n_classes - 1})"
                )
    return target


def defer_class_check(name: str, loss: Tensor, input: Tensor, target: Tensor) -> Tensor:
    """On CUDA, attach to `loss` a device-side count of targets outside [0, C): reading the loss
    (`.item()`, `.numpy()`, printing) raises if it is non-zero. No host sync until then, as PyTorch's
    device-side assert; the fused kernel meanwhile writes nan for such rows instead of reading past
    the row. Elsewhere the targets were checked already (`_check_class_targets`)."""
    if target.device != "cuda" or not target.numel():
        return loss
    n_classes = input.shape[0] if input.ndim == 1 else input.shape[1]
    t = target.detach()
    bad = t._zip(scalar.lt, t._full((), 0))._zip(scalar.add, t._zip(scalar.ge, t._full((), n_classes)))
    count = bad.reshape(-1)._reduce(scalar.add, 0, 0)
    loss._deferred_checks = getattr(loss, "_deferred_checks", ()) + ((count, name, n_classes),)
    return loss


def nll_loss(
    input: Tensor,  # noqa: A002
    target: Any,
    weight: Tensor | None = None,
    reduction: str = "mean",
) -> Tensor:
    """Negative log-likelihood of the target classes, given log-probabilities (N, C[, d...]).

    The target's log-probability is picked with a one-hot mask (a multiply and a sum), which
    every backend can run and differentiate. With class `weight`, 'mean' divides by the total
    weight of the targets, as in PyTorch.
    """
    target = _check_class_targets("nll_loss", input, target)
    log_p = _classes_last(input)
    mask = _one_hot(target.reshape(-1), log_p.shape[1]).to(dtype=log_p.dtype)
    loss = -(log_p * mask).sum(1)
    if weight is not None:
        per_sample = (mask * weight.to(dtype=log_p.dtype)).sum(1)
        loss = loss * per_sample
        if reduction == "mean":
            return defer_class_check("nll_loss", loss.sum() / per_sample.sum(), input, target)
    if reduction == "none":
        return defer_class_check("nll_loss", loss.reshape(target.shape), input, target)
    return defer_class_check("nll_loss", _reduce(loss, reduction), input, target)


def cross_entropy(
    input: Tensor,  # noqa: A002
    target: Any,
    weight: Tensor | None = None,
    reduction: str = "mean",
) -> Tensor:
    """Softmax cross-entropy from raw logits (N, C[, d...]) and integer class targets (N[, d...]).

    Computed as nll_loss(log_softmax(logits)), and log_softmax shifts by the max, so logits of
    1000 give finite, exact results. A floating target of the input's shape is read as class
    probabilities: -sum(target * log_softmax(input)) over the class dim.
    """
    if input.dtype.kind != "f":
        # PyTorch refuses integer logits too; promoting silently would hide a wrong tensor passed in
        raise RuntimeError(
            f"cross_entropy: logits must be floating point, got {input.dtype} (shape {input.shape}); "
            "pass the model's float outputs, or call .float() on them"
        )
    if isinstance(target, Tensor) and target.dtype.kind == "f":
        if target.shape != input.shape:
            raise ValueError(f"cross_entropy: probability target shape {target.shape} != input shape {input.shape}")
        class_dim = 0 if input.ndim == 1 else 1
        loss = -(target * log_softmax(input, class_dim)).sum(class_dim)
        return _reduce(loss, reduction)
    class_dim = 0 if input.ndim == 1 else 1
    if weight is None and input.ndim == 2 and input.dtype.kind == "f":
        target = _check_class_targets("cross_entropy", input, target)
        loss = _reduce(_SoftmaxCrossEntropy.apply(input, target), reduction)
        return defer_class_check("cross_entropy", loss, input, target)
    return nll_loss(log_softmax(input, class_dim), target, weight, reduction)


class _SoftmaxCrossEntropy(Function):
    """Per-row -log softmax(x)[target] for (N, C) logits and integer class targets (N,), fused.

    The gradient is the textbook softmax(x) - onehot(target), computed in one pass instead of
    through the dozen nodes of log_softmax, the one-hot product and the sum. Both passes are the
    backend's fused kernels (`Backend.softmax_cross_entropy_forward` / `_backward`): single
    kernels on numba and cuda, composed from the backend's own map/zip/reduce kernels elsewhere.
    """

    once_differentiable = True  # a fused kernel's backward

    @staticmethod
    def forward(ctx: Context, x: Tensor, target: Tensor) -> Tensor:
        n, c = x.shape
        rows = x if x.is_contiguous() else x._map(scalar.identity)
        classes = target if target.is_contiguous() else target._map(scalar.identity)
        classes = classes._cast_raw(np.dtype(np.int64))._storage
        loss, probs = x._empty((n,)), x._empty((n, c))
        x.backend.softmax_cross_entropy_forward(loss._storage, probs._storage, rows._storage, classes, n, c)
        ctx.save_for_backward(probs)
        ctx.classes = classes
        return loss

    @staticmethod
    def backward(ctx: Context, grad: Tensor) -> tuple[Tensor, None]:
        (probs,) = ctx.saved_tensors
        n, c = probs.shape
        # the gradient of a mean is one value broadcast (stride 0): read it without a copy
        g = grad if grad._strides in ((0,), (1,)) else grad._map(scalar.identity)
        gx = probs._empty((n, c))
        step = g._strides[0]
        probs.backend.softmax_cross_entropy_backward(gx._storage, probs._storage, ctx.classes, g._storage, step, n, c)
        return gx, None
