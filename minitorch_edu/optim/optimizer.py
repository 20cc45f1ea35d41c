"""The `Optimizer` base class: parameter groups, per-parameter state, zero_grad and state_dict.

Like `torch.optim.Optimizer`, an optimizer holds `param_groups` (lists of parameters, each with
its own hyper-parameters such as `lr`) and a `state` dict keyed by parameter (momentum buffers,
Adam moments, step counts). Subclasses only write `step`; everything else lives here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
from numba import njit

from ..backends import numba_cache  # noqa: F401  (compiled kernels cached per thread count)
from ..core.autograd import no_grad
from ..core.tensor import Tensor


class Optimizer:
    """Base class: subclasses pass their defaults and implement `_update(p, grad, state, group)`."""

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        self.defaults = dict(defaults)
        self.state: dict[Tensor, dict[str, Any]] = {}
        self.param_groups: list[dict[str, Any]] = []
        params = list(params)
        if not params:
            raise ValueError("optimizer got an empty parameter list")
        # either a list of tensors or a list of dicts (groups), as in PyTorch
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group: dict[str, Any]) -> None:
        """Add a group of parameters with its own hyper-parameters (missing ones use the defaults)."""
        group = dict(group)
        params = group["params"]
        group["params"] = [params] if isinstance(params, Tensor) else list(params)
        for p in group["params"]:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizers take Tensors (or dicts of groups), got {type(p).__name__}")
            if not p.requires_grad:
                raise ValueError("optimizing a tensor that does not require grad: set requires_grad=True")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in group["params"]):
            raise ValueError("some parameters appear in more than one parameter group")
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients before the next backward (which accumulates into `.grad`)."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    with no_grad():
                        p.grad.zero_()

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient; `closure` re-evaluates the loss."""
        loss = None
        if closure is not None:
            from ..core.autograd import set_grad_enabled

            with set_grad_enabled(True):
                loss = closure()
        with no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    state = self.state.setdefault(p, {})
                    views = [host_view(p), host_view(p.grad, writable=False)]
                    if views[0] is None or views[1] is None:
                        self._update(p, p.grad.detach(), state, group)
                    else:
                        self._update_host(views[0], views[1], state, group)
                    # the fast paths (NumPy views, fused CUDA kernels) write p without its operators
                    p._version_counter.bump(f"{type(self).__name__}.step")
        return loss

    def _update_host(self, p: np.ndarray, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> None:
        """Run `_update` on NumPy views of CPU tensors: one fused NumPy call per operation instead
        of a kernel launch, which matters for the many small tensors of a model. The state keeps
        Tensors (sharing the same memory), so state_dict and other devices see the same values."""
        arrays = {k: (host_view(v) if isinstance(v, Tensor) else v) for k, v in state.items()}
        if any(v is None for v in arrays.values()):  # a buffer that is not a plain host view
            arrays = {k: (v.numpy() if isinstance(v, Tensor) else v) for k, v in state.items()}
        self._update(p, grad, arrays, group)
        from ..core.creation import from_numpy

        for key, value in arrays.items():
            old = state.get(key)
            if isinstance(value, np.ndarray):
                if isinstance(old, Tensor) and host_view(old) is not None and np.shares_memory(host_view(old), value):
                    continue
                state[key] = from_numpy(value)
            else:
                state[key] = value

    def _update(self, p: Any, grad: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        """Update `p` in place from `grad`. Both are Tensors, or NumPy views of CPU tensors: use the
        shared operators and the helpers `sqrt`, `maximum`, `zeros_like`, `clone`, `copy_into` of this module."""
        raise NotImplementedError(f"{type(self).__name__} must implement _update (or override step)")

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        """Hyper-parameters and state, with parameters replaced by their index (as in PyTorch)."""
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for p in group["params"]:
                index.setdefault(id(p), len(index))
            packed["params"] = [index[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if p in self.state:
                    state[index[id(p)]] = {k: _copy(v) for k, v in self.state[p].items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what `state_dict` saved; the groups must hold the same numbers of parameters."""
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError(f"state has {len(groups)} parameter groups, the optimizer {len(self.param_groups)}")
        by_index: dict[int, Tensor] = {}
        for saved, group in zip(groups, self.param_groups, strict=True):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError("a saved parameter group's size does not match the optimizer's")
            by_index.update(zip((int(i) for i in saved["params"]), group["params"], strict=True))
            group.update({k: v for k, v in saved.items() if k != "params"})
        self.state = {}
        for i, entries in state_dict["state"].items():
            p = by_index[int(i)]
            self.state[p] = {k: _restore(v, p) for k, v in entries.items()}

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            options = ", ".join(f"{k}={v}" for k, v in group.items() if k != "params")
            lines.append(f"  group {i}: {len(group['params'])} params, {options}")
        return "\n".join(lines) + "\n)"


def host_view(t: Tensor, writable: bool = True) -> np.ndarray | None:
    """A NumPy view (no copy) of a tensor in main memory, or None for other tensors.

    Writable views need a contiguous tensor; read-only ones (gradients, which are often
    transposed views) may have any strides.
    """
    storage = t._storage
    if t.device != "cpu" or not isinstance(storage, np.ndarray):
        return None
    if t.is_contiguous():
        return storage[: t.numel()].reshape(t.shape)
    if writable:
        return None
    strides = tuple(s * storage.itemsize for s in t.stride())
    return np.lib.stride_tricks.as_strided(storage, t.shape, strides, writeable=False)


# The update rules are written once, with operators that NumPy arrays and Tensors share
# (+, -, *, /, +=, -=, *=, /=); these helpers cover the rest.
def sqrt(x: Any) -> Any:
    return np.sqrt(x) if isinstance(x, np.ndarray) else x.sqrt()


def maximum(a: Any, b: Any) -> Any:
    return np.maximum(a, b) if isinstance(a, np.ndarray) else a.maximum(b)


def zeros_like(x: Any) -> Any:
    if isinstance(x, np.ndarray):
        return np.zeros_like(x)
    from ..core.creation import zeros_like as tensor_zeros_like

    return tensor_zeros_like(x)


def add_scaled(dst: Any, src: Any, alpha: float) -> None:
    """dst += alpha * src, in place. On NumPy arrays one fused pass (no temporary the size of a
    weight matrix, whose fresh pages would cost as much as the arithmetic)."""
    if isinstance(dst, np.ndarray) and dst.flags.c_contiguous and src.flags.c_contiguous and dst.shape == src.shape:
        _add_scaled(dst.reshape(-1), src.reshape(-1), dst.dtype.type(alpha))
    elif _one_gpu_pass(dst, src):  # one kernel, not a product kernel, a temporary and a sum kernel
        from ..backends import cuda_kernels

        n = dst.numel()
        cuda_kernels.launch_1d(cuda_kernels.axpy, n, dst._storage, src._storage, dst.dtype.type(alpha), n)
    else:
        dst += src * alpha


def _one_gpu_pass(dst: Any, src: Any) -> bool:
    return (
        isinstance(dst, Tensor)
        and isinstance(src, Tensor)
        and dst.backend.name == "cuda"  # the package's kernel: not for a learner's backend on the GPU
        and src.backend.name == "cuda"
        and dst.shape == src.shape
        and dst.dtype == src.dtype
        and dst.is_contiguous()
        and src.is_contiguous()
    )


@njit(cache=True, nogil=True, fastmath=True)
def _add_scaled(dst: np.ndarray, src: np.ndarray, alpha: float) -> None:
    for i in range(dst.size):
        dst[i] += alpha * src[i]


def copy_into(dst: Any, src: Any) -> None:
    if isinstance(dst, np.ndarray):
        dst[...] = src
    else:
        dst.copy_(src)


def clone(x: Any) -> Any:
    return x.copy() if isinstance(x, np.ndarray) else x.detach().clone()


def _copy(value: Any) -> Any:
    return value.detach().clone() if isinstance(value, Tensor) else value


def _restore(value: Any, like: Tensor) -> Any:
    """Saved buffers come back as Tensors on the parameter's device (arrays from mt.load too)."""
    if isinstance(value, Tensor):
        return value.detach().to(like.backend).clone()
    if isinstance(value, np.ndarray) and value.ndim > 0:
        from ..core.creation import tensor

        return tensor(value, device=like.backend)
    if isinstance(value, np.ndarray | np.generic):
        return value.item()
    return value
