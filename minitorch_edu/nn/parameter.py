"""`Parameter`: a tensor that a `Module` recognises as one of its learnable weights."""

from __future__ import annotations

from ..core.tensor import Tensor


class Parameter(Tensor):
    """A leaf tensor that requires grad, registered by `Module.__setattr__` (like `torch.nn.Parameter`).

    It shares the storage of the tensor it wraps, so `Parameter(t)` costs no copy. Results of
    ops on a Parameter are plain Tensors: only the weight itself is a Parameter.
    """

    def __init__(self, data: Tensor, requires_grad: bool = True) -> None:
        if not isinstance(data, Tensor):
            raise TypeError(f"Parameter wraps a Tensor, got {type(data).__name__}")
        data = data.detach()
        super().__init__(data._storage, data.shape, data._strides, data.backend, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()
