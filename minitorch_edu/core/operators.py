"""The Tensor's operators and op methods: `a + b`, `a @ b`, `a < b`, `a += b`, `a.sum(1)`, ...

A base class of `Tensor`, kept apart so that `tensor.py` shows the data structure. Each
operator builds a `Function` (autograd records it); comparisons are not differentiable; in-place
updates are refused on tensors that need a gradient unless autograd is off (`mt.no_grad()`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..backends import shape as S
from .autograd import is_grad_enabled

if TYPE_CHECKING:
    from .tensor import Tensor


def _ops() -> Any:
    from . import ops

    return ops


def scalar_div() -> Any:
    from ..backends import scalar

    return scalar.div


_INPLACE_NAMES = {"add": "add_ (+=)", "sub": "sub_ (-=)", "mul": "mul_ (*=)", "div": "div_ (/=)"}


def check_writable(dst: Tensor, src: Tensor, op: str) -> None:
    """Refuse an in-place write whose result would depend on the order the kernel visits elements.

    As in PyTorch: a destination in which several elements share one memory location (an
    `expand`ed tensor, stride 0) raises, and so does a source that partly overlaps the destination
    (`x[1:] += x[:-1]`). The same view on both sides (`x += x`) is fine: each element is read
    before it is written.
    """
    for size, stride in zip(dst.shape, dst._strides):
        if stride == 0 and size > 1:
            raise RuntimeError(
                f"unsupported operation: {op} into a tensor of shape {dst.shape} with strides {dst._strides}: "
                "more than one element of the written-to tensor refers to a single memory location "
                "(an expanded tensor). Please clone() the tensor before performing the operation."
            )
    if src._version_counter is not dst._version_counter or not dst.numel():
        return  # different storages cannot overlap
    src_strides = S.expand_strides(src.shape, src._strides, dst.shape)
    if src._offset == dst._offset and all(a == b or n == 1 for n, a, b in zip(dst.shape, src_strides, dst._strides)):
        return
    if _overlaps(dst._offset, dst.shape, dst._strides, src._offset, src_strides):
        raise RuntimeError(
            f"unsupported operation: {op} of a tensor of shape {src.shape} (strides {src._strides}) into one "
            f"of shape {dst.shape} (strides {dst._strides}) that shares memory with it: some elements of "
            "the input tensor and the written-to tensor refer to a single memory location. "
            "Please clone() the tensor before performing the operation."
        )


def _overlaps(a_offset: int, shape: tuple[int, ...], a_strides: tuple[int, ...], b_offset: int,
              b_strides: tuple[int, ...]) -> bool:
    """Whether two views of one storage touch a common element (exact, on the host; rare path)."""
    import numpy as np

    def span(offset: int, strides: tuple[int, ...]) -> tuple[int, int]:
        low = offset + sum((n - 1) * s for n, s in zip(shape, strides) if s < 0)
        high = offset + sum((n - 1) * s for n, s in zip(shape, strides) if s > 0)
        return low, high

    (a_lo, a_hi), (b_lo, b_hi) = span(a_offset, a_strides), span(b_offset, b_strides)
    if a_hi < b_lo or b_hi < a_lo:
        return False
    grid = np.indices(shape).reshape(len(shape), -1)
    a_at = a_offset + (np.asarray(a_strides)[:, None] * grid).sum(0) if shape else np.array([a_offset])
    b_at = b_offset + (np.asarray(b_strides)[:, None] * grid).sum(0) if shape else np.array([b_offset])
    return bool(np.intersect1d(a_at, b_at).size)


class TensorOperators:
    """Operators and op methods of `Tensor` (see `core.ops` for the functional forms)."""

    # provided by Tensor
    _lift: Any
    requires_grad: bool

    def __add__(self, other: Any) -> Tensor:
        from .functions import Add

        return Add.apply(self, self._lift(other))

    def __radd__(self, other: Any) -> Tensor:
        from .functions import Add

        return Add.apply(self._lift(other), self)

    def __sub__(self, other: Any) -> Tensor:
        from .functions import Sub

        return Sub.apply(self, self._lift(other))

    def __rsub__(self, other: Any) -> Tensor:
        from .functions import Sub

        return Sub.apply(self._lift(other), self)

    def __mul__(self, other: Any) -> Tensor:
        from .functions import Mul

        return Mul.apply(self, self._lift(other))

    def __rmul__(self, other: Any) -> Tensor:
        from .functions import Mul

        return Mul.apply(self._lift(other), self)

    def __truediv__(self, other: Any) -> Tensor:
        from .functions import Div

        return Div.apply(self, self._lift(other))

    def __rtruediv__(self, other: Any) -> Tensor:
        from .functions import Div

        return Div.apply(self._lift(other), self)

    def __pow__(self, other: Any) -> Tensor:
        from .functions import Pow

        return Pow.apply(self, self._lift(other))

    def __rpow__(self, other: Any) -> Tensor:
        from .functions import Pow

        return Pow.apply(self._lift(other), self)

    def __floordiv__(self, other: Any) -> Tensor:
        return _ops().floor_divide(self, other)

    def __rfloordiv__(self, other: Any) -> Tensor:
        return _ops().floor_divide(self._lift(other), self)

    def __mod__(self, other: Any) -> Tensor:
        return _ops().remainder(self, other)

    def __rmod__(self, other: Any) -> Tensor:
        return _ops().remainder(self._lift(other), self)

    def __neg__(self) -> Tensor:
        from .functions import Neg

        return Neg.apply(self)

    def __matmul__(self, other: Any) -> Tensor:
        from .functions import matmul

        return matmul(self, self._lift(other))

    def __rmatmul__(self, other: Any) -> Tensor:
        from .functions import matmul

        return matmul(self._lift(other), self)

    def _compare(self, fn: Any, other: Any) -> Tensor:
        out = self.detach()._zip(fn, self._lift(other).detach())
        out._is_mask = True  # 0/1 values from a comparison: `x[x > 1]` selects with it
        return out

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        from ..backends import scalar

        return self._compare(scalar.eq, other)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        from ..backends import scalar

        return self._compare(scalar.ne, other)

    def __lt__(self, other: Any) -> Tensor:
        from ..backends import scalar

        return self._compare(scalar.lt, other)

    def __le__(self, other: Any) -> Tensor:
        from ..backends import scalar

        return self._compare(scalar.le, other)

    def __gt__(self, other: Any) -> Tensor:
        from ..backends import scalar

        return self._compare(scalar.gt, other)

    def __ge__(self, other: Any) -> Tensor:
        from ..backends import scalar

        return self._compare(scalar.ge, other)

    __hash__ = object.__hash__

    # in-place updates (optimizers, initialisers): only on tensors outside the graph
    def _inplace(self, fn: Any, other: Any) -> Tensor:
        if self.requires_grad and is_grad_enabled():
            raise RuntimeError(
                "an in-place update of a tensor that requires grad would corrupt the graph; "
                "wrap it in `with mt.no_grad():`"
            )
        other = self._lift(other)
        result = "float" if other.dtype.kind == "f" or fn is scalar_div() else None
        if result and self.dtype.kind != "f":
            # an integer tensor cannot hold x + 0.5 or x / 2; PyTorch refuses rather than truncate
            raise RuntimeError(
                f"result type {other.dtype if other.dtype.kind == 'f' else 'float32'} can't be cast to the "
                f"desired output type {self.dtype} of this in-place op; use an out-of-place op "
                "(x = x + ...) or make the tensor float first (x = x.float())"
            )
        check_writable(self, other, _INPLACE_NAMES.get(getattr(fn, "__name__", ""), "an in-place op"))
        self._zip(fn, other, out=self)
        self._version_counter.bump(_INPLACE_NAMES.get(getattr(fn, "__name__", ""), "an in-place op"))
        return self

    def __iadd__(self, other: Any) -> Tensor:
        from ..backends import scalar

        return self._inplace(scalar.add, other)

    def __isub__(self, other: Any) -> Tensor:
        from ..backends import scalar

        return self._inplace(scalar.sub, other)

    def __imul__(self, other: Any) -> Tensor:
        from ..backends import scalar

        return self._inplace(scalar.mul, other)

    def __itruediv__(self, other: Any) -> Tensor:
        from ..backends import scalar

        return self._inplace(scalar.div, other)

    def add_(self, other: Any, alpha: float = 1.0) -> Tensor:
        return self.__iadd__(other if alpha == 1.0 else other * alpha)

    def sub_(self, other: Any) -> Tensor:
        return self.__isub__(other)

    def mul_(self, other: Any) -> Tensor:
        return self.__imul__(other)

    def div_(self, other: Any) -> Tensor:
        return self.__itruediv__(other)

    def copy_(self, src: Any) -> Tensor:
        """Write `src` (broadcast to this shape) into this tensor's storage."""
        from ..backends import scalar

        if self.requires_grad and is_grad_enabled():
            raise RuntimeError("copy_ into a tensor that requires grad: wrap it in `with mt.no_grad():`")
        src = self._lift(src)
        if src.device != self.device:
            src = src.to(self.backend)
        src = src.detach().expand(self.shape) if src.shape != self.shape else src.detach()
        check_writable(self, src, "copy_")
        src._map(scalar.identity, out=self)
        self._version_counter.bump("copy_")
        return self

    def fill_(self, value: float) -> Tensor:
        return self.copy_(float(value))

    def zero_(self) -> Tensor:
        return self.fill_(0.0)

    # ------------------------------------------------------------------ ops (see core.ops)
    def exp(self) -> Tensor:
        return _ops().exp(self)

    def log(self) -> Tensor:
        return _ops().log(self)

    def sqrt(self) -> Tensor:
        return _ops().sqrt(self)

    def sigmoid(self) -> Tensor:
        return _ops().sigmoid(self)

    def tanh(self) -> Tensor:
        return _ops().tanh(self)

    def sin(self) -> Tensor:
        return _ops().sin(self)

    def cos(self) -> Tensor:
        return _ops().cos(self)

    def log1p(self) -> Tensor:
        return _ops().log1p(self)

    def expm1(self) -> Tensor:
        return _ops().expm1(self)

    def erf(self) -> Tensor:
        return _ops().erf(self)

    def relu(self) -> Tensor:
        return _ops().relu(self)

    def abs(self) -> Tensor:
        return _ops().abs(self)

    def __abs__(self) -> Tensor:
        return _ops().abs(self)

    def pow(self, exponent: Any) -> Tensor:
        return self**exponent

    def maximum(self, other: Any) -> Tensor:
        return _ops().maximum(self, other)

    def minimum(self, other: Any) -> Tensor:
        return _ops().minimum(self, other)

    def clamp(self, min: float | None = None, max: float | None = None) -> Tensor:  # noqa: A002
        return _ops().clamp(self, min, max)

    def sum(self, dim: Any = None, keepdim: bool = False) -> Tensor:
        return _ops().sum(self, dim, keepdim)

    def mean(self, dim: Any = None, keepdim: bool = False) -> Tensor:
        return _ops().mean(self, dim, keepdim)

    def var(
        self, dim: Any = None, keepdim: bool = False, unbiased: bool | None = None, *, correction: float | None = None
    ) -> Tensor:
        return _ops().var(self, dim, keepdim, unbiased, correction=correction)

    def std(
        self, dim: Any = None, keepdim: bool = False, unbiased: bool | None = None, *, correction: float | None = None
    ) -> Tensor:
        return _ops().std(self, dim, keepdim, unbiased, correction=correction)

    def prod(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        return _ops().prod(self, dim, keepdim)

    def cumsum(self, dim: int) -> Tensor:
        return _ops().cumsum(self, dim)

    def norm(self, p: float | str = 2, dim: Any = None, keepdim: bool = False) -> Tensor:
        return _ops().norm(self, p, dim, keepdim)

    def max(self, dim: int | None = None, keepdim: bool = False) -> Any:
        """A tensor (no dim), or the named tuple `(values, indices)` along `dim`, as `torch.max`."""
        return _ops().max(self, dim, keepdim)

    def min(self, dim: int | None = None, keepdim: bool = False) -> Any:
        return _ops().min(self, dim, keepdim)

    def argmax(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        return _ops().argmax(self, dim, keepdim)

    def argmin(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        return _ops().argmin(self, dim, keepdim)

    def softmax(self, dim: int = -1) -> Tensor:
        return _ops().softmax(self, dim)

    def log_softmax(self, dim: int = -1) -> Tensor:
        return _ops().log_softmax(self, dim)

    def logsumexp(self, dim: int = -1, keepdim: bool = False) -> Tensor:
        return _ops().logsumexp(self, dim, keepdim)

    def matmul(self, other: Any) -> Tensor:
        return self @ other

    def eq(self, other: Any) -> Tensor:
        return self == other

    def index_select(self, dim: int, index: Any) -> Tensor:
        return _ops().index_select(self, dim, index)

    def gather(self, dim: int, index: Tensor) -> Tensor:
        return _ops().gather(self, dim, index)

    def scatter(self, dim: int, index: Tensor, src: Any) -> Tensor:
        return _ops().scatter(self, dim, index, src)

    def scatter_add(self, dim: int, index: Tensor, src: Tensor) -> Tensor:
        return _ops().scatter_add(self, dim, index, src)

    def masked_fill(self, mask: Tensor, value: Any) -> Tensor:
        return _ops().masked_fill(self, mask, value)

    def floor_divide(self, other: Any) -> Tensor:
        return _ops().floor_divide(self, other)

    def remainder(self, other: Any) -> Tensor:
        return _ops().remainder(self, other)

    def isnan(self) -> Tensor:
        return _ops().isnan(self)

    def isfinite(self) -> Tensor:
        return _ops().isfinite(self)

    def split(self, split_size: Any, dim: int = 0) -> tuple[Tensor, ...]:
        return _ops().split(self, split_size, dim)

    def chunk(self, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
        return _ops().chunk(self, chunks, dim)

    def flip(self, *dims: Any) -> Tensor:
        return _ops().flip(self, dims[0] if len(dims) == 1 else dims)

    def repeat(self, *sizes: Any) -> Tensor:
        """Tile along each dim: x.repeat(2, 3) or x.repeat((2, 3)), as `torch.Tensor.repeat`."""
        from .views import repeat

        sizes = tuple(sizes[0]) if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)) else sizes
        return repeat(self, tuple(int(s) for s in sizes))
