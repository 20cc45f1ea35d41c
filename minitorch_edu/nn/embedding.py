"""`Embedding`: a learned lookup table from integer ids to vectors."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.autograd import no_grad
from ..core.creation import tensor, zeros
from ..core.ops import where
from ..core.tensor import Tensor
from ..core.views import index_select
from . import init
from .module import Module, Parameter

__all__ = ["Embedding"]


class Embedding(Module):
    """Row `i` of `weight` (num_embeddings, embedding_dim) for each id `i` of the input.

    Ids of any shape (*) give vectors of shape (*, embedding_dim). The lookup is `index_select`,
    which is differentiable: the gradient adds into the rows that were used. Weights start N(0, 1),
    as in PyTorch. `padding_idx` (as in PyTorch): that row starts at zeros and gets no gradient, so
    a padding token stays where it is. `_weight` gives the table to use; `from_pretrained` wraps one.
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx: int | None = None,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        sparse: bool = False,
        _weight: Tensor | None = None,
        _freeze: bool = False,
        device: Any = None,
        dtype: Any = "float32",
    ) -> None:
        super().__init__()
        if max_norm is not None or scale_grad_by_freq or sparse:
            raise NotImplementedError("Embedding: max_norm, scale_grad_by_freq and sparse are not implemented")
        self.num_embeddings = int(num_embeddings)
        self.embedding_dim = int(embedding_dim)
        self.padding_idx = _padding_row(padding_idx, self.num_embeddings)
        self.max_norm, self.norm_type = max_norm, norm_type
        self.scale_grad_by_freq, self.sparse = scale_grad_by_freq, sparse
        if _weight is None:
            self.weight = Parameter(zeros(self.num_embeddings, self.embedding_dim, dtype=dtype, device=device))
            self.reset_parameters()
        else:
            if tuple(_weight.shape) != (self.num_embeddings, self.embedding_dim):
                raise ValueError(
                    f"Embedding: _weight of shape {tuple(_weight.shape)} does not match "
                    f"(num_embeddings, embedding_dim) = {(self.num_embeddings, self.embedding_dim)}"
                )
            self.weight = Parameter(_weight.detach(), requires_grad=not _freeze)

    def reset_parameters(self) -> None:
        """N(0, 1) weights, and zeros in the padding row."""
        init.normal_(self.weight)
        if self.padding_idx is not None:
            with no_grad():
                self.weight[self.padding_idx] = 0.0

    @classmethod
    def from_pretrained(
        cls, embeddings: Tensor, freeze: bool = True, padding_idx: int | None = None, **kwargs: Any
    ) -> Embedding:
        """An Embedding whose table is `embeddings` (2-D); frozen (no gradient) unless freeze=False."""
        if embeddings.ndim != 2:
            raise ValueError(f"Embedding.from_pretrained: embeddings must be 2-D, got shape {tuple(embeddings.shape)}")
        rows, cols = embeddings.shape
        return cls(rows, cols, padding_idx=padding_idx, _weight=embeddings, _freeze=freeze, **kwargs)

    def forward(self, ids: Any) -> Tensor:
        return embedding(ids, self.weight, self.padding_idx, name=repr(self))

    def extra_repr(self) -> str:
        pad = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"{self.num_embeddings}, {self.embedding_dim}{pad}"


def _padding_row(padding_idx: int | None, num_embeddings: int) -> int | None:
    """PyTorch's rule: a negative padding_idx counts from the end; out of range raises."""
    if padding_idx is None:
        return None
    if not -num_embeddings <= padding_idx < num_embeddings:
        raise ValueError(f"Embedding: padding_idx {padding_idx} must be within num_embeddings ({num_embeddings})")
    return padding_idx % num_embeddings


def embedding(ids: Any, weight: Tensor, padding_idx: int | None = None, name: str = "embedding") -> Tensor:
    """weight[ids] (`torch.nn.functional.embedding`): vectors (*, D) for ids (*); the padding row
    gets no gradient (its value is still looked up)."""
    if not isinstance(ids, Tensor):
        ids = tensor(np.asarray(ids, dtype=np.int64), device=weight.backend)
    if ids.dtype.kind not in "iu":
        raise TypeError(f"{name} expects integer ids, got dtype {ids.dtype}")
    n = weight.shape[0]
    if ids.numel():
        lo, hi = int(ids.min().item()), int(ids.max().item())
        if lo < 0 or hi >= n:
            raise IndexError(f"{name}: id {lo if lo < 0 else hi} is out of range for {n} embeddings")
    rows = index_select(weight, 0, ids.reshape(-1)).reshape(ids.shape + (weight.shape[1],))
    if padding_idx is None or not rows.requires_grad:
        return rows
    # the same values, but the padding positions read a detached copy: no gradient reaches that row
    return where((ids == padding_idx % n).unsqueeze(-1), rows.detach(), rows)
