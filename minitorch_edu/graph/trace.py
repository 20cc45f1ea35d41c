"""Tracing: run a function once on stand-in tensors and record every op it calls into a `Graph`.

Each tensor argument becomes a `Tracer`: a real tensor (it holds the example's data, so every
op really runs and shapes come out right) that also knows which graph `Value` it is. While the
trace runs, `Function.apply` is routed here (`autograd.set_apply_hook`): the op runs, a `Node`
is recorded, and its result is a `Tracer` too. Raw kernels run on tracers outside any op
(`x > 0`, casts) are recorded the same way.

What cannot become a static graph is refused with a `TracerError` that names the line:
reading a traced tensor's values (`if x.sum() > 0:`, `float(x)`, `x.numpy()`), since the graph
would silently keep the branch of the example; drawing random numbers (they would be frozen);
in-place updates of traced tensors.
"""

from __future__ import annotations

import inspect
import os
import sys
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from ..core import autograd, creation
from ..core.autograd import no_grad
from ..core.tensor import Tensor
from .ir import Graph, Node, Value
from .table import OpInfo, function_info, raw_info

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_active: _Trace | None = None
_lock = threading.Lock()


def tracing() -> bool:
    """Whether this thread is tracing a function right now (outside any op's forward)."""
    return _active is not None and _active.owns_thread()


class TracerError(RuntimeError):
    """Something in a jitted function cannot be turned into a static graph."""


def _user_frame(depth: int = 2) -> Any:
    """The innermost frame outside this package (the user's line), or None."""
    frame = sys._getframe(depth)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE + os.sep):
        frame = frame.f_back
    return frame


def _where(frame: Any) -> str:
    if frame is None:
        return ""
    return f"{os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno}"


def _called_from_package() -> bool:
    """Whether the caller of the Tracer method that calls this one is code of this package."""
    frame = sys._getframe(2)
    return os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE + os.sep)


def _value_error(what: str) -> TracerError:
    frame = _user_frame(3)
    line = ""
    if frame is not None:
        try:
            line = inspect.getframeinfo(frame).code_context[0].strip()
        except (TypeError, IndexError, OSError):
            line = ""
    at = f" at {frame.f_code.co_filename}:{frame.f_lineno}" + (f" ({line!r})" if line else "") if frame else ""
    return TracerError(
        f"{what} of a traced tensor{at}: inside mt.jit a tensor has no value yet, only a shape and a "
        "dtype, so Python control flow (if/while/for on a tensor, float(), .item(), .numpy()) cannot "
        "depend on it. Use mt.where(...) for elementwise choices, or keep that part eager: call it "
        "outside the jitted function and pass the result in (or as a static, non-tensor argument)."
    )


class Tracer(Tensor):
    """A tensor being traced: real data of the example, plus the graph `Value` it stands for."""

    _value: Value

    # ---- reading values: refused in the user's code (package code may validate with them)
    def numpy(self) -> np.ndarray:
        if not _called_from_package():
            raise _value_error("numpy()")
        return Tensor.numpy(self)

    def item(self) -> Any:
        if not _called_from_package():
            raise _value_error("item()")
        return Tensor.item(self)

    def tolist(self) -> Any:
        raise _value_error("tolist()")

    def __bool__(self) -> bool:
        raise _value_error("the truth value (if/while/and/or)")

    def __float__(self) -> float:
        raise _value_error("float()")

    def __int__(self) -> int:
        raise _value_error("int()")

    def __index__(self) -> int:
        raise _value_error("use as an index")

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        if not _called_from_package():
            raise _value_error("conversion to a NumPy array")
        return Tensor.__array__(self, dtype)

    def __repr__(self) -> str:
        return f"Tracer({self._value.name}: {self._value.type})"

    # ---- raw kernels and detach on traced tensors: recorded as nodes
    def detach(self) -> Tensor:
        out = Tensor.detach(self)
        return _state().record_raw("detach", None, [self], out, OpInfo("detach", "view"))

    def _map(self, fn: Any, out: Tensor | None = None, dtype: Any = None, keep_layout: bool = False) -> Tensor:
        # keep_layout is ignored: a compiled graph writes contiguous results, so the traced one is too
        _no_inplace(out)
        result = Tensor._map(_plain(self), fn, None, dtype)
        info = raw_info("map", fn, dtype_change=np.dtype(result.dtype) != self.dtype)
        return _state().record_raw("map", fn, [self], result, info, {"dtype": result.dtype})

    def _zip(self, fn: Any, other: Tensor, out: Tensor | None = None, dtype: Any = None) -> Tensor:
        _no_inplace(out)
        result = Tensor._zip(_plain(self), fn, _plain(other), dtype=dtype)
        options = {} if dtype is None else {"dtype": result.dtype}  # comparisons write masks
        return _state().record_raw("zip", fn, [self, other], result, raw_info("zip", fn), options)

    def _reduce(self, fn: Any, dim: int, start: float) -> Tensor:
        result = Tensor._reduce(_plain(self), fn, dim, start)
        return _state().record_raw("reduce", fn, [self], result, raw_info("reduce", fn), {"dim": dim, "start": start})

    def _matmul(self, other: Tensor) -> Tensor:
        result = Tensor._matmul(_plain(self), _plain(other))
        return _state().record_raw("matmul", None, [self, other], result, OpInfo("matmul", "other"))


def _no_inplace(out: Tensor | None) -> None:
    if out is not None:
        frame = _user_frame(3)
        raise TracerError(
            f"an in-place update of a traced tensor at {_where(frame) or 'unknown line'}: inside mt.jit "
            "write `x = x + y` instead of `x += y` (or keep the update outside the jitted function)"
        )


def _plain(t: Any) -> Any:
    """The same data as a plain Tensor (ops run on these, so nothing inside them is recorded)."""
    if isinstance(t, Tensor):
        return Tensor(t._storage, t.shape, t._strides, t.backend, version=t._version_counter, offset=t._offset)
    return t


def _state() -> _Trace:
    assert _active is not None
    return _active


class _NoRandom:
    """Stands in for the package's random generator during a trace: drawing is an error."""

    def __init__(self, real: np.random.Generator, trace: _Trace) -> None:
        self._real, self._trace = real, trace

    def __getattr__(self, name: str) -> Any:
        if self._trace.owns_thread():
            frame = _user_frame(2)
            raise TracerError(
                f"random numbers drawn inside mt.jit (at {_where(frame) or 'unknown line'}): they would be "
                "frozen into the graph and repeat at every call. Draw them outside and pass them in as an "
                "argument, or switch dropout off (model.eval())."
            )
        return getattr(self._real, name)


class _Trace:
    """The state of one trace: the graph being built and which tensor is which value."""

    def __init__(self, name: str) -> None:
        self.graph = Graph(name)
        self.thread = threading.get_ident()
        self.depth = 0  # > 0 while an op's forward runs (its inner ops are not recorded)
        self.known: dict[int, Value] = {}  # id(tensor) -> value, for captures and literals
        self.keep: list[Any] = []  # captured tensors stay alive while ids are keys

    def owns_thread(self) -> bool:
        return threading.get_ident() == self.thread and self.depth == 0

    def value_of(self, t: Any) -> Value:
        if isinstance(t, Tracer):
            return t._value
        v = self.known.get(id(t))
        if v is not None:
            return v
        g = self.graph
        if t.ndim == 0 and not t.requires_grad:  # a number lifted into the graph (x * 2.0)
            v = g.value((), t.dtype, t.device, "literal", strides=(), tensor=t)
        else:  # a parameter or another tensor from outside: read at every call
            v = g.value(t.shape, t.dtype, t.device, "capture", strides=t._strides, tensor=t)
            g.captures.append(v)
        self.known[id(t)] = v
        self.keep.append(t)
        return v

    def wrap(self, out: Tensor, node_inputs: list[Value], info: OpInfo, **node: Any) -> Tensor:
        g = self.graph
        v = g.value(out.shape, out.dtype, out.device, "node", strides=out._strides)
        g.add_node(Node(info, node_inputs, v, where=_where(_user_frame(3)), **node))
        out.__class__ = Tracer  # the same object, now standing for v
        out._value = v
        return out

    def record_raw(self, raw: str, fn: Any, inputs: list[Any], out: Tensor, info: OpInfo,
                   options: dict[str, Any] | None = None) -> Tensor:
        if not self.owns_thread():
            return out
        values = [self.value_of(t) for t in inputs]
        return self.wrap(out, values, info, raw=raw, scalar=fn, options=options or {})


def _hook(cls: type, inputs: tuple[Any, ...], options: dict[str, Any]) -> Tensor:
    trace = _active
    if trace is None or not trace.owns_thread():
        return cls.run(*inputs, **options)
    trace.depth += 1
    try:
        with no_grad():
            out = cls.run(*(_plain(t) for t in inputs), **options)
    finally:
        trace.depth -= 1
    values = [trace.value_of(t) for t in inputs]
    return trace.wrap(out, values, function_info(cls, options), fn=cls, options=dict(options))


def trace(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any] | None = None,
          name: str | None = None) -> Graph:
    """Run `fn(*args, **kwargs)` once, recording its ops: the tensor arguments become graph inputs.

    Non-tensor arguments are baked into the graph (they are static, as in `jax.jit`'s
    static arguments). The function must return a tensor, or a tuple or list of tensors.
    """
    global _active
    kwargs = kwargs or {}
    name = name or getattr(fn, "__name__", type(fn).__name__)
    with _lock:  # one trace at a time per process (the hook is global)
        state = _Trace(name)
        g = state.graph
        labels = _arg_names(fn, len(args))
        traced_args = []
        for i, a in enumerate(args):
            if isinstance(a, Tensor):
                v = g.value(a.shape, a.dtype, a.device, "input", strides=a._strides, label=labels[i])
                g.inputs.append(v)
                t = _plain(a)
                t.__class__ = Tracer
                t._value = v
                traced_args.append(t)
            else:
                traced_args.append(a)
        if g.inputs:
            g.backend = args[[isinstance(a, Tensor) for a in args].index(True)].backend
        previous_rng = creation._rng
        previous_hook = autograd.set_apply_hook(_hook)
        _active = state
        creation._rng = _NoRandom(previous_rng, state)
        try:
            with no_grad():
                result = fn(*traced_args, **kwargs)
        finally:
            _active = None
            creation._rng = previous_rng
            autograd.set_apply_hook(previous_hook)
        if isinstance(result, Tensor):
            outs, g.out_structure = [result], None
        elif isinstance(result, (tuple, list)) and all(isinstance(r, Tensor) for r in result):
            outs, g.out_structure = list(result), type(result)
        else:
            raise TypeError(
                f"a jitted function must return a tensor or a tuple/list of tensors; {name} returned "
                f"{type(result).__name__}"
            )
        g.outputs = [state.value_of(o) for o in outs]
        if g.backend is None:
            g.backend = outs[0].backend
        g.history.append(("traced", len(g.nodes)))
        return g


def _arg_names(fn: Callable[..., Any], n: int) -> list[str]:
    try:
        params = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        params = []
    return [params[i] if i < len(params) else f"arg{i}" for i in range(n)]
