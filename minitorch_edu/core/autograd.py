"""Reverse-mode automatic differentiation on a dynamic graph.

Every differentiable op is a `Function` with a `forward` (compute the result from plain,
history-free tensors) and a `backward` (turn the gradient of the result into gradients of the
inputs). `Function.apply` runs forward and, when some input requires a gradient, records a
`Node` on the result: which function made it, its inputs and what forward saved. `backward()`
then walks the recorded graph in reverse topological order, accumulating gradients.

The walk is iterative, so graphs of any depth (a chain of 100,000 ops) backprop without
touching Python's recursion limit.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .tensor import Tensor

_state = threading.local()

# Set by `minitorch_edu.graph` while it traces a function into a static graph: every op call then
# goes to the tracer, which records it (and runs it). None otherwise: one global read per op.
_apply_hook: Callable[[type[Function], tuple[Tensor, ...], dict[str, Any]], Tensor] | None = None


def set_apply_hook(hook: Callable[..., Tensor] | None) -> Callable[..., Tensor] | None:
    """Route every `Function.apply` through `hook(cls, inputs, options)`; returns the previous hook."""
    global _apply_hook
    previous, _apply_hook = _apply_hook, hook
    return previous


def is_tracing() -> bool:
    """Whether `minitorch_edu.graph` is tracing ops into a static graph right now. A fused op may
    then record the ops it is built from instead, which the graph fuses (and ONNX exports) itself."""
    return _apply_hook is not None


def is_grad_enabled() -> bool:
    """False inside `no_grad()`: ops then record no graph."""
    return getattr(_state, "enabled", True)


@contextmanager
def set_grad_enabled(mode: bool) -> Iterator[None]:
    previous = is_grad_enabled()
    _state.enabled = mode
    try:
        yield
    finally:
        _state.enabled = previous


def no_grad() -> Any:
    """Context manager (like `torch.no_grad`): compute without recording the graph."""
    return set_grad_enabled(False)


FREED_GRAPH = (
    "Trying to backward through the graph a second time (or directly access saved tensors after they "
    "have already been freed). Saved intermediate values of the graph are freed when you call "
    ".backward(). Specify retain_graph=True if you need to backward through the graph a second time "
    "or if you need to access saved tensors after calling backward."
)


class Version:
    """How many times a storage was written in place, shared by every view of that storage.

    `Context.save_for_backward` records the count of each tensor it saves; a backward that finds a
    different count refuses, as PyTorch does, instead of computing with the overwritten values.
    `op` names the last in-place op, for the error message.
    """

    __slots__ = ("value", "op")

    def __init__(self) -> None:
        self.value = 0
        self.op = ""

    def bump(self, op: str) -> None:
        self.value += 1
        self.op = op


class Context:
    """What `forward` leaves for `backward`: saved tensors and any other values."""

    def __init__(self, name: str = "") -> None:
        self.needs_input_grad: tuple[bool, ...] = ()
        self._name = name  # e.g. "MulBackward": named in the errors below
        self._saved: tuple[Tensor, ...] = ()
        self._versions: tuple[int | None, ...] = ()
        self._freed = False
        # forward sees detached inputs; a backward that builds a graph (create_graph=True) gets the
        # inputs themselves back from saved_tensors, so that its math reaches their history
        self._inputs: tuple[tuple[Tensor, ...], tuple[Tensor, ...]] | None = None  # (detached, inputs)

    def save_for_backward(self, *tensors: Tensor) -> None:
        self._saved = tensors
        self._versions = tuple(_version_of(t) for t in tensors)

    @property
    def saved_tensors(self) -> tuple[Tensor, ...]:
        """The tensors `forward` saved, checked: not freed by an earlier backward, not modified since."""
        if self._freed:
            raise RuntimeError(FREED_GRAPH)
        for t, expected in zip(self._saved, self._versions):
            if expected is not None and t._version_counter.value != expected:
                counter = t._version_counter
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified by an inplace "
                    f"operation: [{t.dtype} tensor of shape {t.shape}, saved by {self._name or 'a Function'}] "
                    f"is at version {counter.value}; expected version {expected} instead. It was last "
                    f"modified by the in-place op {counter.op}: make that update out of place (y = y + ...), "
                    "or .clone() the tensor before changing it"
                )
        if self._inputs is not None and is_grad_enabled():  # only under create_graph=True: build the map then
            originals = {id(d): t for d, t in zip(*self._inputs) if t.requires_grad}
            return tuple(originals.get(id(t), t) for t in self._saved)
        return self._saved

    def free(self) -> None:
        """Drop the saved tensors (what `backward()` does unless `retain_graph=True`)."""
        self._saved, self._versions, self._freed, self._inputs = (), (), True, None


def _version_of(t: Any) -> int | None:
    counter = getattr(t, "_version_counter", None)
    return None if counter is None else counter.value


class Node:
    """The history of one tensor: the function that made it and the inputs it came from."""

    __slots__ = ("function", "ctx", "inputs")

    def __init__(self, function: type[Function], ctx: Context, inputs: tuple[Tensor, ...]) -> None:
        self.function = function
        self.ctx = ctx
        self.inputs = inputs

    @property
    def name(self) -> str:
        return self.function.__name__ + "Backward"

    def backward(self, grad: Tensor) -> tuple[Tensor | None, ...]:
        """Gradients of this node's inputs, given the gradient of its output (one per input)."""
        function = self.function
        if function.once_differentiable and is_grad_enabled():
            if function.backward_ops is None:
                return _once_differentiable(self, grad)
            grads = function.backward_ops(self.ctx, grad, *self.inputs)  # recorded: differentiable again
        else:
            grads = function.backward(self.ctx, grad)
        grads = grads if isinstance(grads, tuple) else (grads,)
        return tuple(
            _fit(g, t, function.broadcasts) if g is not None and t is not None else g
            for g, t in zip(grads, self.inputs + (None,) * (len(grads) - len(self.inputs)))
        )


def _fit(grad: Tensor, like: Tensor, broadcasts: bool) -> Tensor:
    """`grad` as the gradient of `like`: summed over the dims broadcasting stretched (for the
    functions that broadcast their inputs: the one place broadcasting's backward is written), and
    in `like`'s dtype (a float32 leaf gets a float32 .grad even when the op ran in float64 because
    of another operand), as in PyTorch."""
    if broadcasts and grad.shape != like.shape:
        grad = unbroadcast(grad, like.shape)
    if grad.dtype != like.dtype and like.dtype.kind == "f":
        grad = grad.to(dtype=like.dtype)
    return grad


def unbroadcast(grad: Tensor, shape: tuple[int, ...]) -> Tensor:
    """Sum `grad` over the dims that broadcasting added or stretched, giving `shape`:
    a (4, 3) gradient of a (3,) input is summed over dim 0; of a (4, 1) input, over dim 1."""
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    dims = tuple(d for d in range(grad.ndim) if d < lead or (shape[d - lead] == 1 and grad.shape[d] != 1))
    if dims:
        grad = grad.sum(dims, keepdim=True)
    return grad.reshape(shape) if grad.shape != shape else grad


def _once_differentiable(node: Node, grad: Tensor) -> tuple[Tensor | None, ...]:
    """A backward written in kernels rather than differentiable ops, inside create_graph=True: its
    gradients are right, but differentiating them again would silently give zero. So they come
    out behind a node that raises if a second backward reaches it (PyTorch's once_differentiable)."""
    with set_grad_enabled(False):
        grads = node.backward(grad)
    sources = tuple(t for t in (*node.inputs, grad) if t is not None and t.requires_grad)
    if not sources:
        return grads
    return tuple(None if g is None else _TwiceDifferentiated.apply(g, *sources, name=node.name) for g in grads)


class Function:
    """Base class of differentiable ops. Subclasses define `forward` and `backward` as staticmethods.

    `forward(ctx, *inputs, **options)` receives tensors without history and returns one tensor.
    `backward(ctx, grad)` returns one gradient (or None) per tensor input, each shaped like it.
    """

    #: the inputs broadcast against each other: `backward` may return gradients of the broadcast
    #: shape, and the engine sums them back to each input's shape (`unbroadcast`)
    broadcasts: bool = False
    #: `backward` is written in kernels, not differentiable ops: under create_graph=True its
    #: gradients are right, and a second backward through them raises instead of giving zero
    once_differentiable: bool = False
    #: for a `once_differentiable` op, the same backward in differentiable tensor ops,
    #: `backward_ops(ctx, grad, *inputs)` with the inputs' history: under create_graph=True it runs
    #: instead of the kernels, so a fused op serves first derivatives fast and second ones too
    backward_ops: Any = None
    #: the scalar function of an elementwise op whose forward is one map or zip of it
    #: (`scalar.mul` for Mul): `mt.jit` fuses such ops into one kernel (graph/table.py)
    kernel: Any = None

    @staticmethod
    def forward(ctx: Context, *args: Any, **kwargs: Any) -> Tensor:
        raise NotImplementedError

    @staticmethod
    def backward(ctx: Context, grad: Tensor) -> Any:
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs: Tensor, **options: Any) -> Tensor:
        if _apply_hook is not None:  # a graph is being traced (minitorch_edu.graph)
            return _apply_hook(cls, inputs, options)
        return cls.run(*inputs, **options)

    @classmethod
    def run(cls, *inputs: Tensor, **options: Any) -> Tensor:
        """What `apply` does outside tracing: forward, and record the autograd node."""
        ctx = Context(cls.__name__ + "Backward")
        ctx.needs_input_grad = tuple([t._requires_grad for t in inputs])
        if True not in ctx.needs_input_grad:  # nothing to record (inference, constants): forward only
            return cls.forward(ctx, *inputs, **options)
        # forward sees its inputs without history; one that has none is passed as it is (cheaper)
        detached = tuple(t.detach() if needs else t for t, needs in zip(inputs, ctx.needs_input_grad))
        out = cls.forward(ctx, *detached, **options)
        if is_grad_enabled():
            out._node = Node(cls, ctx, inputs)
            out._requires_grad = True
            ctx._inputs = (detached, inputs)
        return out


class _TwiceDifferentiated(Function):
    """Passes a gradient through; raises if a second backward reaches it (see `once_differentiable`)."""

    @staticmethod
    def forward(ctx: Context, grad: Tensor, *sources: Tensor, name: str) -> Tensor:
        ctx.name = name
        return grad.clone()

    @staticmethod
    def backward(ctx: Context, grad: Tensor) -> Any:
        raise RuntimeError(
            f"{ctx.name}'s backward is written in kernels, not differentiable tensor ops, so it cannot be "
            "differentiated a second time (create_graph=True gave its gradient, but no gradient of that "
            "gradient)"
        )


def topological_order(root: Tensor) -> list[Tensor]:
    """Tensors that `root` depends on, each after every tensor that depends on it (root first)."""
    order: list[Tensor] = []
    visited: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(root, False)]
    while stack:
        tensor, expanded = stack.pop()
        if expanded:
            order.append(tensor)
            continue
        if id(tensor) in visited:
            continue
        visited.add(id(tensor))
        stack.append((tensor, True))
        if tensor._node is not None:
            for parent in tensor._node.inputs:
                if parent.requires_grad and id(parent) not in visited:
                    stack.append((parent, False))
    order.reverse()
    return order


def backpropagate(root: Tensor, grad: Tensor, create_graph: bool = False) -> None:
    """Push `grad` (d out / d root) back through the graph into the `.grad` of every leaf.

    With `create_graph` the backward math is itself recorded, so a `.grad` can be differentiated
    again (a Hessian-vector product, a gradient penalty)."""
    for tensor, g in flow(root, grad, create_graph):
        if tensor._node is None or tensor._retains_grad:
            tensor.grad = g if tensor.grad is None else tensor.grad + g


def flow(root: Tensor, grad: Tensor, create_graph: bool = False) -> Iterator[tuple[Tensor, Tensor]]:
    """Each tensor behind `root` with its whole gradient, in reverse topological order: the chain
    rule, summing what every path brings to a tensor before it passes its gradient on."""
    grads: dict[int, Tensor] = {id(root): grad}
    with set_grad_enabled(create_graph):
        for tensor in topological_order(root):
            g = grads.pop(id(tensor), None)
            if g is None:
                continue
            yield tensor, g
            node = tensor._node
            if node is None:
                continue
            for parent, pg in zip(node.inputs, node.backward(g)):
                if pg is None or not parent.requires_grad:
                    continue
                if pg.shape != parent.shape:
                    raise RuntimeError(
                        f"{node.name} returned a gradient of shape {pg.shape} for an input of shape {parent.shape}"
                    )
                key = id(parent)
                grads[key] = pg if key not in grads else grads[key] + pg


def grad(
    outputs: Tensor,
    inputs: Tensor | tuple[Tensor, ...] | list[Tensor],
    grad_outputs: Tensor | None = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple[Tensor | None, ...]:
    """d(outputs)/d(each input), returned rather than accumulated into `.grad` (`torch.autograd.grad`)."""
    single = not isinstance(inputs, (tuple, list))
    wanted = (inputs,) if single else tuple(inputs)
    for t in wanted:
        if not t.requires_grad:
            raise RuntimeError(f"grad: an input ({t.dtype} tensor of shape {t.shape}) does not require grad")
    if not outputs.requires_grad:
        raise RuntimeError("grad: the output does not require grad and has no history")
    if grad_outputs is None:
        if outputs.numel() != 1:
            raise RuntimeError(f"grad: grad_outputs is needed for an output of shape {outputs.shape}")
        grad_outputs = outputs._full(outputs.shape, 1.0)
    found = {id(t): None for t in wanted}
    for tensor, g in flow(outputs, grad_outputs if create_graph else grad_outputs.detach(), create_graph):
        if id(tensor) in found:
            found[id(tensor)] = g
    if not (create_graph if retain_graph is None else retain_graph):
        free_graph(outputs)
    result = tuple(found[id(t)] for t in wanted)
    if not allow_unused and any(g is None for g in result):
        raise RuntimeError("grad: one of the inputs was not used to compute the output (pass allow_unused=True)")
    return result


def free_graph(root: Tensor) -> None:
    """Free what every node behind `root` saved: a second backward through it then raises."""
    for tensor in topological_order(root):
        if tensor._node is not None:
            tensor._node.ctx.free()


# ---------------------------------------------------------------------- the learner's extension point
Backprop = Callable[["Tensor", "Tensor"], None]
_backprop: Backprop = backpropagate


def current_backprop() -> Backprop:
    """The function `Tensor.backward()` runs: `backpropagate`, or one set by `use_backprop`."""
    return _backprop


@contextmanager
def use_backprop(fn: Backprop) -> Iterator[None]:
    """Run every `backward()` inside this block with `fn(root, grad)`, e.g. a learner's own backprop.

    `fn` receives the tensor `backward()` was called on and d(out)/d(root), and must leave the
    gradient of every leaf that requires one in its `.grad` (accumulating). It walks the graph
    through the public API: `t.grad_fn` (None for leaves), `node.inputs`, `node.backward(grad)`.
    It runs under `no_grad()`, as the built-in one does.
    """
    global _backprop
    previous = _backprop
    _backprop = fn
    try:
        yield
    finally:
        _backprop = previous
