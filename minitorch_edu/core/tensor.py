"""The Tensor: a storage, a shape and strides, a backend that runs its kernels, and autograd history.

This module is the data structure and the autograd entry point (`backward`). Every op is a
`Function` in `core.functions` / `core.views`, which records the graph and calls the backend's
kernels through the four raw helpers at the bottom of this class (`_map`, `_zip`, `_reduce`,
`_matmul`). Each op is defined once, next to its Function, and made a method there: `x.exp()`,
`x.sum(1)` in `core.ops`, `x.view(...)`, `x[key]`, `x.to(...)` in `core.views`, `a + b`, `a @ b`
in `core.ops`' operators. Comparisons and in-place updates (`<`, `+=`) are in the
`TensorOperators` base class (`core.operators`). So this module imports none of them: the
layers go shape/kernels → autograd → tensor → functions, views → ops.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..backends import Backend, scalar
from ..backends import shape as S
from .autograd import Node, Version, backpropagate, current_backprop, free_graph, no_grad
from .dtype import as_dtype, is_floating, promote, promote_operands
from .operators import TensorOperators

Scalar = int | float
Operand = "Tensor | int | float"


class Tensor(TensorOperators):
    """An n-dimensional array with automatic differentiation, like `torch.Tensor`."""

    __array_priority__ = 1000  # so that ndarray + Tensor calls Tensor.__radd__

    def __init__(
        self,
        storage: Any,
        shape: Sequence[int],
        strides: Sequence[int],
        backend: Backend,
        requires_grad: bool = False,
        version: Version | None = None,
        offset: int = 0,
    ) -> None:
        self._storage = storage
        # views share their storage's version counter; `_offset` is where this view starts in it
        # (in elements), so that in-place ops can tell overlapping views apart
        self._version_counter = Version() if version is None else version
        self._offset = offset
        # internal callers pass tuples of ints already; only convert other sequences
        self.shape: tuple[int, ...] = shape if type(shape) is tuple else tuple(int(s) for s in shape)
        self._strides: tuple[int, ...] = strides if type(strides) is tuple else tuple(int(s) for s in strides)
        self.backend = backend
        self.grad: Tensor | None = None
        self._node: Node | None = None
        self._retains_grad = False
        self._requires_grad = False
        if requires_grad:
            self.requires_grad = True

    # ------------------------------------------------------------------ properties
    @property
    def dtype(self) -> np.dtype:
        return self._storage.dtype

    @property
    def device(self) -> str:
        return self.backend.device

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def dim(self) -> int:
        return len(self.shape)

    def numel(self) -> int:
        return S.size_of(self.shape)

    def size(self, dim: int | None = None) -> Any:
        return self.shape if dim is None else self.shape[S.normalize_dim(dim, self.ndim)]

    def stride(self, dim: int | None = None) -> Any:
        return self._strides if dim is None else self._strides[S.normalize_dim(dim, self.ndim)]

    @property
    def _version(self) -> int:
        """How many in-place writes this tensor's storage has had (PyTorch's `t._version`)."""
        return self._version_counter.value

    def is_contiguous(self) -> bool:
        return S.is_contiguous(self.shape, self._strides)

    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if value and not is_floating(self.dtype):
            raise RuntimeError(f"only floating-point tensors can require gradients, not {self.dtype}")
        if not value and self._node is not None:
            raise RuntimeError("requires_grad can only be turned off on leaf tensors; use .detach()")
        self._requires_grad = bool(value)

    def requires_grad_(self, value: bool = True) -> Tensor:
        self.requires_grad = value
        return self

    @property
    def is_leaf(self) -> bool:
        return self._node is None

    @property
    def grad_fn(self) -> Node | None:
        return self._node

    def retain_grad(self) -> None:
        """Keep `.grad` on this non-leaf tensor too during backward."""
        self._retains_grad = True

    # ------------------------------------------------------------------ conversions
    def numpy(self) -> np.ndarray:
        """A NumPy copy of the values (copied to the host for CUDA tensors)."""
        if getattr(self, "_deferred_checks", None):
            _run_deferred_checks(self)
        host = self.backend.storage.to_numpy(self._storage)
        item = host.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(host, self.shape, tuple(s * item for s in self._strides))
        return np.array(view)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        array = self.numpy()
        return array if dtype is None else array.astype(dtype)

    def tolist(self) -> Any:
        return self.numpy().tolist()

    def item(self) -> float | int:
        if self.numel() != 1:
            raise ValueError(f"item() needs a tensor with one element, this one has shape {self.shape}")
        return self.numpy().reshape(-1)[0].item()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        if self.numel() != 1:
            raise ValueError(f"the truth value of a tensor of shape {self.shape} is ambiguous")
        return bool(self.item())

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self):  # noqa: ANN204
        return (self[i] for i in range(len(self)))

    @property
    def __cuda_array_interface__(self) -> dict[str, Any]:
        """Zero-copy sharing with CuPy, PyTorch and numba (CUDA tensors only)."""
        if self.device != "cuda":
            raise AttributeError(f"__cuda_array_interface__ exists only for CUDA tensors, not {self.device}")
        return self.backend.storage.array_interface(self._storage, self.shape, self._strides)

    def new_zeros(self, *size: Any, dtype: Any = None) -> Tensor:
        """Zeros of `size` with this tensor's dtype and device (`torch.Tensor.new_zeros`)."""
        return self._full(_shape_args(size), 0, dtype)

    def cpu(self) -> Tensor:
        return self.to("cpu") if self.device != "cpu" else self

    def cuda(self) -> Tensor:
        return self.to("cuda")

    def float(self) -> Tensor:
        return self.to(dtype="float32")

    def double(self) -> Tensor:
        return self.to(dtype="float64")

    def long(self) -> Tensor:
        return self.to(dtype="int64")

    def bool(self) -> Tensor:
        """True where non-zero (nan included), as `torch.Tensor.bool`."""
        return self.to(dtype="bool")

    def type_as(self, other: Tensor) -> Tensor:
        return self.to(dtype=other.dtype)

    def detach(self) -> Tensor:
        """The same data (shared storage) without history."""
        return Tensor(self._storage, self.shape, self._strides, self.backend, version=self._version_counter,
                      offset=self._offset)

    @property
    def data(self) -> Tensor:
        return self.detach()

    @data.setter
    def data(self, value: Tensor) -> None:
        if value.shape != self.shape:
            raise ValueError(f"cannot set .data of shape {self.shape} to shape {value.shape}")
        self._storage, self._strides, self.backend = value._storage, value._strides, value.backend
        self._version_counter, self._offset = value._version_counter, value._offset

    # ------------------------------------------------------------------ autograd
    def backward(
        self, gradient: Tensor | None = None, retain_graph: bool | None = None, create_graph: bool = False
    ) -> None:
        """Accumulate d(self)/d(leaf) into `.grad` of every leaf that requires a gradient.

        Then frees what the graph saved for backward, as PyTorch does: a second `backward()` through
        it raises, unless this one passed `retain_graph=True`. With `create_graph=True` the backward
        pass is recorded too, so each `.grad` has a history and can be differentiated again (the
        graph is then kept unless `retain_graph=False`).
        """
        if not self.requires_grad:
            raise RuntimeError("backward() on a tensor that does not require grad and has no history")
        if gradient is None:
            if self.numel() != 1:
                raise RuntimeError(
                    f"backward() without a gradient needs a tensor with one element; this one has "
                    f"shape {self.shape}: pass gradient=... of that shape (or call .sum() first)"
                )
            gradient = self._full(self.shape, 1.0)
        elif not isinstance(gradient, Tensor):
            gradient = self._lift(gradient)
        if gradient.shape != self.shape:
            raise ValueError(f"gradient of shape {gradient.shape} does not match the tensor's shape {self.shape}")
        if create_graph:
            if current_backprop() is not backpropagate:
                raise RuntimeError(
                    "backward(create_graph=True) needs the package's backprop; the one set with use_backprop "
                    "runs without recording"
                )
            backpropagate(self, gradient, create_graph=True)
        else:
            with no_grad():
                current_backprop()(self, gradient.detach())
        if not (create_graph if retain_graph is None else retain_graph):
            free_graph(self)

    def zero_grad(self) -> None:
        self.grad = None

    # ------------------------------------------------------------------ views
    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        if self.ndim == 0:
            return self.reshape(1)
        start, end = S.normalize_dim(start_dim, self.ndim), S.normalize_dim(end_dim, self.ndim)
        return self.reshape(self.shape[:start] + (-1,) + self.shape[end + 1 :])

    def transpose(self, dim0: int = -2, dim1: int = -1) -> Tensor:
        order = list(range(self.ndim))
        a, b = S.normalize_dim(dim0, self.ndim), S.normalize_dim(dim1, self.ndim)
        order[a], order[b] = order[b], order[a]
        return self.permute(order)

    @property
    def T(self) -> Tensor:  # noqa: N802  (PyTorch's name)
        return self.permute(tuple(reversed(range(self.ndim))))

    @property
    def mT(self) -> Tensor:  # noqa: N802
        return self.transpose(-2, -1)

    def expand_as(self, other: Tensor) -> Tensor:
        return self.expand(other.shape)

    def broadcast_to(self, shape: Sequence[int]) -> Tensor:
        return self.expand(tuple(shape))

    def unsqueeze(self, dim: int) -> Tensor:
        dim = S.normalize_dim(dim, self.ndim + 1)
        return self.reshape(self.shape[:dim] + (1,) + self.shape[dim:])

    def squeeze(self, dim: int | None = None) -> Tensor:
        if dim is None:
            return self.reshape(tuple(s for s in self.shape if s != 1))
        dim = S.normalize_dim(dim, self.ndim)
        if self.shape[dim] != 1:
            return self
        return self.reshape(self.shape[:dim] + self.shape[dim + 1 :])

    # ------------------------------------------------------------------ arithmetic
    def _full(self, shape: Sequence[int], value: float, dtype: Any = None) -> Tensor:
        dtype = self.dtype if dtype is None else as_dtype(dtype)
        storage = self.backend.storage.full(max(S.size_of(shape), 1), value, dtype)
        return Tensor(storage, shape, S.contiguous_strides(shape), self.backend)

    # ------------------------------------------------------------------ raw kernels (no autograd)
    def _empty(self, shape: Sequence[int], dtype: Any = None) -> Tensor:
        dtype = self.dtype if dtype is None else dtype
        storage = self.backend.storage.empty(max(S.size_of(shape), 1), dtype)
        return Tensor(storage, shape, S.contiguous_strides(shape), self.backend)

    def _map(self, fn: Any, out: Tensor | None = None, dtype: Any = None, keep_layout: bool = False) -> Tensor:
        """`fn` over every element, into `out` or a new tensor: contiguous, or with `keep_layout` (the
        elementwise ops) laid out as self is when self is a permuted contiguous block (x.T.exp()):
        then both are walked as one flat, vectorised loop in memory order, as PyTorch does."""
        if out is None and keep_layout and S.dense_permuted(self.shape, self._strides):
            n = self.numel()
            storage = self.backend.storage.empty(n, self.dtype if dtype is None else dtype)
            self.backend.map(fn)(storage, (1,), self._storage, (1,), (n,))
            return Tensor(storage, self.shape, self._strides, self.backend)
        out = self._empty(self.shape, dtype) if out is None else out
        if self.numel():
            self.backend.map(fn)(out._storage, out._strides, self._storage, self._strides, self.shape)
        return out

    def _zip(self, fn: Any, other: Tensor, out: Tensor | None = None, dtype: Any = None) -> Tensor:
        """`fn` over pairs of broadcast elements, computed in the promoted dtype; written into `out`,
        or a new tensor of `dtype` (default: the promoted dtype; comparisons ask for bool)."""
        if other.backend is not self.backend:
            _check_same_device(self, other)
        shape = S.broadcast_shapes(self.shape, other.shape)
        a, b = self, other
        common = self._storage.dtype
        if other._storage.dtype != common:  # a 0-d operand does not widen a tensor with dimensions (PyTorch)
            common = promote_operands(common, len(self.shape), other._storage.dtype, len(other.shape))
            a, b = self._cast_raw(common), other._cast_raw(common)
        a_strides = S.expand_strides(a.shape, a._strides, shape)
        b_strides = S.expand_strides(b.shape, b._strides, shape)
        if out is None:
            out = self._empty(shape, common if dtype is None else dtype)
        elif out.shape != shape:
            raise ValueError(f"in-place result of shape {shape} does not fit a tensor of shape {out.shape}")
        if S.size_of(shape):
            kernel = self.backend.zip(fn)
            kernel(out._storage, out._strides, a._storage, a_strides, b._storage, b_strides, shape)
        return out

    def _reduce(self, fn: Any, dim: int, start: float) -> Tensor:
        """Fold `fn` over `dim`, keeping it as a dimension of size 1."""
        shape = list(self.shape)
        shape[dim] = 1
        out = self._full(tuple(shape), start)
        if self.numel():
            self.backend.reduce(fn)(out._storage, out._strides, self._storage, self._strides, self.shape, dim)
        return out

    def _matmul(self, other: Tensor) -> Tensor:
        """(*batch, n, k) @ (*batch, k, m) with equal batch shapes."""
        _check_same_device(self, other)
        out_shape = self.shape[:-1] + other.shape[-1:]
        dtype = promote(self.dtype, other.dtype)
        a, b = self._cast_raw(dtype), other._cast_raw(dtype)
        out = self._empty(out_shape, dtype)
        if S.size_of(out_shape):
            kernel = self.backend.matmul
            kernel(out._storage, out._strides, a._storage, a._strides, b._storage, b._strides, out_shape, a.shape[-1])
        return out

    def _cast_raw(self, dtype: np.dtype) -> Tensor:
        if self.dtype == dtype:
            return self
        return self._map(scalar.identity, dtype=dtype)

    def _view_raw(self, shape: Sequence[int], strides: Sequence[int], offset: int = 0) -> Tensor:
        storage = self._storage[offset:] if offset else self._storage
        offset += self._offset
        return Tensor(storage, shape, strides, self.backend, version=self._version_counter, offset=offset)

    # ------------------------------------------------------------------ printing
    def __repr__(self) -> str:
        body = np.array2string(self.numpy(), separator=", ", prefix="tensor(", precision=4)
        extras = []
        if self.device != "cpu":
            extras.append(f"device='{self.device}'")
        if self.dtype not in (np.float32, np.int64, np.bool_):  # the dtypes PyTorch does not print
            extras.append(f"dtype={self.dtype}")
        if self._node is not None:
            extras.append(f"grad_fn=<{self._node.name}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"


def _run_deferred_checks(t: Tensor) -> None:
    """Checks a loss left on the device (`nn.functional.defer_class_check`), read with its value."""
    for count, name, n_classes in t._deferred_checks:
        bad = int(count.numpy().reshape(-1)[0])
        if bad:  # the check stays: every read of this loss raises
            raise IndexError(
                f"{name}: {bad} target class index(es) out of range for {n_classes} classes "
                f"(valid indices are 0 to {n_classes - 1}); checked on the device"
            )
    t._deferred_checks = ()


def _shape_args(args: tuple[Any, ...]) -> tuple[int, ...]:
    """Accept both t.view(2, 3) and t.view((2, 3))."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = tuple(args[0])
    return tuple(int(a) for a in args)


def _check_same_device(a: Tensor, b: Tensor) -> None:
    if a.device != b.device:
        raise RuntimeError(
            f"tensors are on different devices: {a.device} (shape {a.shape}) and {b.device} "
            f"(shape {b.shape}); move one with .to()"
        )
