"""`MultiheadAttention`: several attention heads side by side, with PyTorch's parameters and masks.

    mha = nn.MultiheadAttention(embed_dim=32, num_heads=4, batch_first=True)
    out, weights = mha(x, x, x, attn_mask=~F.causal_mask(L))   # True = may NOT attend, as in PyTorch

The parameters have PyTorch's names and shapes (`in_proj_weight` (3E, E), `in_proj_bias` (3E,),
`out_proj` a Linear), so `load_state_dict(torch_mha.state_dict())` works after converting the
tensors. The heads are views: (N, L, E) -> (N, L, H, D) -> (N, H, L, D), a reshape and a transpose.
"""

from __future__ import annotations

from typing import Any

from ..core.creation import zeros
from ..core.tensor import Tensor
from . import functional as F
from . import init
from .linear import Linear
from .module import Module, Parameter

__all__ = ["MultiheadAttention"]


class MultiheadAttention(Module):
    """Attention with `num_heads` heads of size embed_dim // num_heads (`torch.nn.MultiheadAttention`).

    forward(query (L, N, E), key (S, N, kdim), value (S, N, vdim)) -> (output (L, N, E), weights),
    or (N, L, E) ... with batch_first=True; unbatched (L, E) inputs work too. Masks follow PyTorch's
    MHA convention, the opposite of `F.scaled_dot_product_attention`'s: a bool True means "may NOT
    attend". `key_padding_mask` (N, S) hides padded keys; `attn_mask` is (L, S) or (N * num_heads, L, S).
    The weights (N, L, S) are averaged over the heads (or (N, H, L, S) with average_attn_weights=False),
    None with need_weights=False. Dropout acts on the attention weights while training.
    A query whose every key is masked gets zero weights and output (PyTorch gives those with
    need_weights=False, and nan with need_weights=True).
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        add_bias_kv: bool = False,
        add_zero_attn: bool = False,
        kdim: int | None = None,
        vdim: int | None = None,
        batch_first: bool = False,
        device: Any = None,
        dtype: Any = "float32",
    ) -> None:
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0 or embed_dim % num_heads:
            raise ValueError(
                f"MultiheadAttention: embed_dim ({embed_dim}) must be a positive multiple of num_heads ({num_heads})"
            )
        if add_bias_kv or add_zero_attn:
            raise NotImplementedError("MultiheadAttention: add_bias_kv and add_zero_attn are not implemented")
        self.embed_dim, self.num_heads = int(embed_dim), int(num_heads)
        self.head_dim = self.embed_dim // self.num_heads
        self.kdim = self.embed_dim if kdim is None else int(kdim)
        self.vdim = self.embed_dim if vdim is None else int(vdim)
        self._qkv_same_embed_dim = self.kdim == self.embed_dim and self.vdim == self.embed_dim
        self.dropout, self.batch_first = float(dropout), batch_first
        E = self.embed_dim
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(zeros(3 * E, E, dtype=dtype, device=device))
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:  # keys and values of other sizes: one projection matrix each, as in PyTorch
            self.register_parameter("in_proj_weight", None)
            self.q_proj_weight = Parameter(zeros(E, E, dtype=dtype, device=device))
            self.k_proj_weight = Parameter(zeros(E, self.kdim, dtype=dtype, device=device))
            self.v_proj_weight = Parameter(zeros(E, self.vdim, dtype=dtype, device=device))
        if bias:
            self.in_proj_bias = Parameter(zeros(3 * E, dtype=dtype, device=device))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(E, E, bias=bias, device=device, dtype=dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's initialisation: Xavier-uniform projections, zero biases."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            for w in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(w)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)

    # ------------------------------------------------------------------ forward
    def forward(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        key_padding_mask: Tensor | None = None,
        need_weights: bool = True,
        attn_mask: Tensor | None = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        if is_causal and attn_mask is None:
            # PyTorch's rule: is_causal only says that attn_mask IS the causal mask
            raise RuntimeError(
                "MultiheadAttention: is_causal=True needs attn_mask (the causal mask itself, e.g. "
                "~F.causal_mask(L)); is_causal is only a hint"
            )
        unbatched = query.ndim == 2
        q, k, v = (self._batch_major(t, unbatched) for t in (query, key, value))
        self._check_shapes(q, k, v, query, key, value)
        n, length, source = q.shape[0], q.shape[1], k.shape[1]
        mask = self._merged_mask(attn_mask, key_padding_mask, q, n, length, source, unbatched)
        qp, kp, vp = self._project(q, k, v)
        heads, weights = F.attention(
            self._split_heads(qp), self._split_heads(kp), self._split_heads(vp), mask,
            self.dropout if self.training else 0.0,
        )
        out = self.out_proj(self._merge_heads(heads))  # (N, L, E)
        out = out.reshape(length, self.embed_dim) if unbatched else out if self.batch_first else out.transpose(0, 1)
        if not need_weights:
            return out, None
        if average_attn_weights:
            weights = weights.mean(1)
        return out, (weights.reshape(weights.shape[1:]) if unbatched else weights)

    def _batch_major(self, t: Tensor, unbatched: bool) -> Tensor:
        """(N, L, E) whatever the layout: a view (a transpose for batch_first=False)."""
        if unbatched:
            return t.unsqueeze(0)
        return t if self.batch_first else t.transpose(0, 1)

    def _check_shapes(self, q: Tensor, k: Tensor, v: Tensor, *given: Tensor) -> None:
        layout = "(L, E)" if given[0].ndim == 2 else "(N, L, E)" if self.batch_first else "(L, N, E)"
        shapes = f"query {given[0].shape}, key {given[1].shape}, value {given[2].shape}"
        if not (q.ndim == k.ndim == v.ndim == 3) or given[0].ndim not in (2, 3):
            raise ValueError(f"{self!r}: query, key and value must all be {layout}; got {shapes}")
        if q.shape[0] != k.shape[0] or k.shape[:2] != v.shape[:2]:
            raise ValueError(f"{self!r}: batch sizes or key/value lengths differ: {shapes} ({layout})")
        sizes = (q.shape[2], k.shape[2], v.shape[2])
        if sizes != (self.embed_dim, self.kdim, self.vdim):
            raise ValueError(
                f"{self!r}: expected feature sizes (E, kdim, vdim) = {(self.embed_dim, self.kdim, self.vdim)}, "
                f"got {shapes} ({layout})"
            )

    def _project(self, q: Tensor, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """The query, key and value projections, each with its rows of in_proj_weight (views).

        Three products rather than one (3E, E) product cut in three: the gradient of a cut-out
        third would be a zero-filled (N, L, 3E) tensor each, where a weight slice's is (E, E)."""
        E, b = self.embed_dim, self.in_proj_bias
        if self._qkv_same_embed_dim:
            w = self.in_proj_weight
            wq, wk, wv = w[:E], w[E : 2 * E], w[2 * E :]
        else:
            wq, wk, wv = self.q_proj_weight, self.k_proj_weight, self.v_proj_weight
        bq, bk, bv = (None, None, None) if b is None else (b[:E], b[E : 2 * E], b[2 * E :])
        return F.linear(q, wq, bq), F.linear(k, wk, bk), F.linear(v, wv, bv)

    def _split_heads(self, x: Tensor) -> Tensor:
        """(N, L, E) -> (N, H, L, D): a reshape and a transpose, both views."""
        n, length, _ = x.shape
        return x.reshape(n, length, self.num_heads, self.head_dim).transpose(1, 2)

    def _merge_heads(self, x: Tensor) -> Tensor:
        """(N, H, L, D) -> (N, L, E): the heads side by side again (one copy, in the reshape)."""
        n, _, length, _ = x.shape
        return x.transpose(1, 2).reshape(n, length, self.embed_dim)

    def _merged_mask(
        self, attn_mask: Any, key_padding_mask: Any, like: Tensor, n: int, length: int, source: int, unbatched: bool
    ) -> Tensor | None:
        """attn_mask and key_padding_mask as one additive mask that broadcasts to (N, H, L, S)."""
        mask = None
        if attn_mask is not None:
            mask = F.additive_mask(attn_mask, like, (length, source), allowed=False)
            if mask.ndim == 3:  # (N * H, L, S), PyTorch's layout for a mask per sample and head
                if mask.shape[0] != n * self.num_heads:
                    raise ValueError(
                        f"{self!r}: a 3-D attn_mask must be (N * num_heads, L, S) = "
                        f"{(n * self.num_heads, length, source)}, got {tuple(mask.shape)}"
                    )
                mask = mask.reshape(n, self.num_heads, length, source)
            elif mask.ndim != 2:
                raise ValueError(
                    f"{self!r}: attn_mask must be (L, S) = {(length, source)} or (N * num_heads, L, S), "
                    f"got {tuple(mask.shape)}"
                )
        if key_padding_mask is not None:
            expected = (source,) if unbatched else (n, source)
            if tuple(key_padding_mask.shape) != expected:
                raise ValueError(
                    f"{self!r}: key_padding_mask must be (N, S) = {expected}, got {tuple(key_padding_mask.shape)}"
                )
            padding = F.additive_mask(key_padding_mask.reshape(n, 1, 1, source), like, (1, source), allowed=False)
            mask = padding if mask is None else mask + padding
        return mask

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}, " + (
            f"batch_first={self.batch_first}"
        )

