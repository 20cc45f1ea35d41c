"""`Embedding`: a learned lookup table from integer ids to vectors."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.creation import tensor, zeros
from ..core.tensor import Tensor
from ..core.views import index_select
from . import init
from .module import Module, Parameter

__all__ = ["Embedding"]


class Embedding(Module):
    """Row `i` of `weight` (num_embeddings, embedding_dim) for each id `i` of the input.

    Ids of any shape (*) give vectors of shape (*, embedding_dim). The lookup is `index_select`,
    which is differentiable: the gradient adds into the rows that were used. Weights start N(0, 1),
    as in PyTorch.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, device: Any = None, dtype: Any = "float32") -> None:
        super().__init__()
        self.num_embeddings = int(num_embeddings)
        self.embedding_dim = int(embedding_dim)
        self.weight = Parameter(zeros(self.num_embeddings, self.embedding_dim, dtype=dtype, device=device))
        init.normal_(self.weight)

    def forward(self, ids: Any) -> Tensor:
        if not isinstance(ids, Tensor):
            ids = tensor(np.asarray(ids, dtype=np.int64), device=self.weight.backend)
        if ids.dtype.kind not in "iu":
            raise TypeError(f"{self!r} expects integer ids, got dtype {ids.dtype}")
        if ids.numel():
            lo, hi = int(ids.min().item()), int(ids.max().item())
            if lo < 0 or hi >= self.num_embeddings:
                bad = lo if lo < 0 else hi
                raise IndexError(f"{self!r}: id {bad} is out of range for {self.num_embeddings} embeddings")
        rows = index_select(self.weight, 0, ids.reshape(-1))
        return rows.reshape(ids.shape + (self.embedding_dim,))

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}"
