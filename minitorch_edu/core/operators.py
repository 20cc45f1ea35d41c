"""The Tensor's operators: `a + b`, `a @ b`, `a < b`, `a += b`, and the methods whose form differs
from their functional op (`x.flip(0, 1)`, `x.view(2, 3)`).

A base class of `Tensor`, kept apart so that `tensor.py` shows the data structure. Each
operator builds a `Function` (autograd records it); comparisons are not differentiable; in-place
updates are refused on tensors that need a gradient unless autograd is off (`mt.no_grad()`).
The ops that take the tensor first (`x.sum(1)`, `x.exp()`) and the arithmetic operators
(`a + b`, `-a`) are defined once, with their op (`core.public`), and become methods there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..backends import scalar
from ..backends import shape as S
from .autograd import is_grad_enabled
from .dtype import bool_, category, float32, promote_operands

if TYPE_CHECKING:
    from .tensor import Tensor


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
    """Operators of `Tensor` and the methods that differ from their functional form (`core.ops`)."""

    # provided by Tensor
    _lift: Any
    requires_grad: bool

    def _compare(self, fn: Any, other: Any) -> Tensor:
        return self.detach()._zip(fn, self._lift(other).detach(), dtype=bool_)

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return self._compare(scalar.eq, other)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return self._compare(scalar.ne, other)

    def __lt__(self, other: Any) -> Tensor:
        return self._compare(scalar.lt, other)

    def __le__(self, other: Any) -> Tensor:
        return self._compare(scalar.le, other)

    def __gt__(self, other: Any) -> Tensor:
        return self._compare(scalar.gt, other)

    def __ge__(self, other: Any) -> Tensor:
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
        result = promote_operands(self.dtype, self.ndim, other.dtype, other.ndim)
        if fn is scalar.div and result.kind != "f":
            result = float32  # true division makes a float from integers
        if category(result) > category(self.dtype):
            # an integer tensor cannot hold x + 0.5, nor a mask m + 1; PyTorch refuses rather than truncate
            raise RuntimeError(
                f"result type {result} can't be cast to the desired output type {self.dtype} of this "
                f"in-place op; use an out-of-place op (x = x + ...) or convert the tensor first "
                f"(x = x.{'float' if result.kind == 'f' else 'long'}())"
            )
        check_writable(self, other, _INPLACE_NAMES.get(getattr(fn, "__name__", ""), "an in-place op"))
        self._zip(fn, other, out=self)
        self._version_counter.bump(_INPLACE_NAMES.get(getattr(fn, "__name__", ""), "an in-place op"))
        return self

    def __iadd__(self, other: Any) -> Tensor:
        return self._inplace(scalar.add, other)

    def __isub__(self, other: Any) -> Tensor:
        return self._inplace(scalar.sub, other)

    def __imul__(self, other: Any) -> Tensor:
        return self._inplace(scalar.mul, other)

    def __itruediv__(self, other: Any) -> Tensor:
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

    # ------------------------------------------------------------------ aliases
    def matmul(self, other: Any) -> Tensor:
        return self @ other

    def eq(self, other: Any) -> Tensor:
        return self == other
