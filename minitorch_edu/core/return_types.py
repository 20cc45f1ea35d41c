"""Named tuples that ops return, as `torch.return_types`: `values, indices = x.max(1)`."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from .tensor import Tensor


class max(NamedTuple):  # noqa: N801, A001  (PyTorch's names: torch.return_types.max)
    """`x.max(dim)`: the largest values along `dim` and the index of each (the first maximum)."""

    values: Tensor
    indices: Tensor


class min(NamedTuple):  # noqa: N801, A001
    """`x.min(dim)`: the smallest values along `dim` and the index of each (the first minimum)."""

    values: Tensor
    indices: Tensor
