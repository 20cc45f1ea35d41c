"""The `Optimizer` base class: parameter groups, per-parameter state, zero_grad and state_dict.

Like `torch.optim.Optimizer`, an optimizer holds `param_groups` (lists of parameters, each with
its own hyper-parameters such as `lr`) and a `state` dict keyed by parameter (momentum buffers,
Adam moments, step counts). Subclasses only write the update of one parameter, `_update`, in
Tensor ops (or the fused updates `add_scaled` / `adam_step` at the bottom, which run the
parameter's backend's `axpby` / `adam_step` kernels); everything else lives here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..core.autograd import no_grad, set_grad_enabled
from ..core.creation import tensor
from ..core.tensor import Tensor


class Optimizer:
    """Base class, as PyTorch's: a subclass passes its defaults and writes `step()` over
    `self.param_groups` in tensor ops under `no_grad` (`p -= group["lr"] * p.grad`); or it writes
    only `_update(p, grad, state, group)` for one parameter, and the base `step` calls it for each
    parameter that has a gradient (with the closure and version bookkeeping). The package's
    optimizers do the latter, on the backend's fused update kernels."""

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
            with set_grad_enabled(True):
                loss = closure()
        with no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        self._update(p, p.grad.detach(), self.state.setdefault(p, {}), group)
                        # the fused updates (add_scaled, adam_step) write p's storage, not through its operators
                        p._version_counter.bump(f"{type(self).__name__}.step")
        return loss

    def _update(self, p: Tensor, grad: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        """Update `p` in place from `grad` (Tensors, under `no_grad`), keeping buffers (Tensors) in `state`.
        Tensor ops do it anywhere; `add_scaled` and `adam_step` below are the backend's fused updates."""
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


def _fusable(t: Tensor, like: Tensor) -> bool:
    """Whether `t` can be handed to `like`'s backend as a flat storage of like's elements."""
    return t.backend is like.backend and t.shape == like.shape and t.dtype == like.dtype and t.is_contiguous()


def add_scaled(dst: Tensor, src: Tensor, alpha: float, beta: float = 1.0) -> None:
    """dst = beta * dst + alpha * src, in place: the backend's fused `axpby`, one pass with no
    temporary the size of a weight matrix (whose fresh pages would cost as much as the arithmetic)."""
    if _fusable(dst, dst) and _fusable(src, dst):
        dst.backend.axpby(dst._storage, src._storage, alpha, beta, dst.numel())
        return
    if beta != 1.0:
        dst *= beta
    dst += src * alpha


def adam_step(
    p: Tensor,
    grad: Tensor,
    exp_avg: Tensor,
    exp_avg_sq: Tensor,
    max_exp_avg_sq: Tensor | None,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    step: int,
) -> None:
    """One Adam update of `p` and its moments, in place: the backend's fused `adam_step` (the
    formula is in `backends.base.Backend.adam_step`)."""
    _fused_step("adam_step", p, grad, [exp_avg, exp_avg_sq, max_exp_avg_sq], lr, beta1, beta2, eps, step)


def rmsprop_step(
    p: Tensor,
    grad: Tensor,
    square_avg: Tensor,
    grad_avg: Tensor | None,
    buf: Tensor | None,
    lr: float,
    alpha: float,
    eps: float,
    momentum: float,
) -> None:
    """One RMSprop update of `p` and its running averages, in place: the backend's fused
    `rmsprop_step` (the formula is in `backends.base.Backend.rmsprop_step`)."""
    _fused_step("rmsprop_step", p, grad, [square_avg, grad_avg, buf], lr, alpha, eps, momentum)


def _fused_step(name: str, p: Tensor, grad: Tensor, buffers: list[Tensor | None], *args: Any) -> None:
    """Run the backend's fused update `name` on p, its gradient and its state buffers (None: absent).
    The buffers are p's zeros_like, so only a non-contiguous parameter or a gradient of another layout
    needs a contiguous copy first."""
    work = p if _fusable(p, p) else p.contiguous()  # a copy: written back below
    g = grad if _fusable(grad, p) else grad.to(dtype=p.dtype).contiguous()
    if not all(b is None or _fusable(b, p) for b in buffers):
        raise RuntimeError(f"{name}: the state buffers must be contiguous like the parameter {p.shape} {p.dtype}")
    storages = [None if b is None else b._storage for b in buffers]
    getattr(p.backend, name)(work._storage, g._storage, *storages, p.numel(), *args)
    if work is not p:
        p.copy_(work)


def _copy(value: Any) -> Any:
    return value.detach().clone() if isinstance(value, Tensor) else value


def _restore(value: Any, like: Tensor) -> Any:
    """Saved buffers come back as Tensors on the parameter's device (arrays from mt.load too)."""
    if isinstance(value, Tensor):
        return value.detach().to(like.backend).clone()
    if isinstance(value, np.ndarray) and value.ndim > 0:
        return tensor(value, device=like.backend)
    if isinstance(value, np.ndarray | np.generic):
        return value.item()
    return value
