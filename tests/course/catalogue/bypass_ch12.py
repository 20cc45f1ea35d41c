"""Shortcuts through the package for chapter 12: the package's tokenizer, softmax, attention, layers or
layer norm reached under another name (an import alias, a name saved before the checks, getattr, an
object held inside the learner's module). Each must score 0 on its part, refused by the seal."""

SLUG = "12_attention"

BYPASS = {
    "tokenizer": {
        "reused_char_tokenizer": """
_Tok = mt.data.CharTokenizer

class CharTokenizer(_Tok):
    pass
""",
        "held_inside": """
import minitorch_edu.data as _d
_T = getattr(_d, "Char" + "Tokenizer")

class CharTokenizer:
    def __init__(self, text):
        self._inner = _T(text)
        self.itos, self.stoi = self._inner.itos, self._inner.stoi

    @property
    def vocab_size(self):
        return self._inner.vocab_size

    def encode(self, text):
        return self._inner.encode(text)

    def decode(self, ids):
        return self._inner.decode(ids)
""",
    },
    "embedding": {
        "saved_embedding": """
from minitorch_edu.nn import Embedding as _E

class Embedding(mt.nn.Module):
    def __init__(self, num_embeddings, embedding_dim):
        super().__init__()
        self.inner = _E(num_embeddings, embedding_dim)
        self.weight = self.inner.weight

    def forward(self, ids):
        return self.inner(ids)


class TokenPositionEmbedding(mt.nn.Module):
    def __init__(self, vocab_size, block_size, d_model):
        super().__init__()
        self.block_size = block_size
        self.tok = Embedding(vocab_size, d_model)
        self.pos = Embedding(block_size, d_model)

    def forward(self, ids, start=0):
        return self.tok(ids) + self.pos(mt.tensor(np.arange(start, start + ids.shape[1])))
""",
    },
    "attention": {
        "saved_alias": """
from minitorch_edu.nn.functional import scaled_dot_product_attention as _sdpa

def attention(query, key, value, is_causal=False, scale=None):
    return _sdpa(query, key, value, is_causal=is_causal, scale=scale)
""",
        "getattr_softmax": """
import math
_soft = getattr(mt, "soft" + "max")

def attention(query, key, value, is_causal=False, scale=None):
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    scores = (query @ key.transpose(-2, -1)) * scale
    if is_causal:
        future = np.triu(np.ones((scores.shape[-2], scores.shape[-1]), dtype=bool), k=1)
        scores = scores.masked_fill(mt.tensor(future), float("-inf"))
    return _soft(scores, -1) @ value
""",
    },
    "heads": {
        "package_multihead_inside": """
# after the reference solution
class MultiHeadSelfAttention(mt.nn.Module):
    def __init__(self, d_model, n_heads):
        super().__init__()
        self.n_heads = n_heads
        self.qkv = mt.nn.Linear(d_model, 3 * d_model)
        self.proj = mt.nn.Linear(d_model, d_model)
        self.inner = mt.nn.MultiheadAttention(d_model, n_heads, batch_first=True)

    def forward(self, x, cache=None):
        self.inner.in_proj_weight.data = self.qkv.weight.data
        self.inner.in_proj_bias.data = self.qkv.bias.data
        self.inner.out_proj.weight.data = self.proj.weight.data
        self.inner.out_proj.bias.data = self.proj.bias.data
        n = x.shape[1]
        mask = mt.tensor(np.triu(np.ones((n, n), dtype=bool), k=1))
        return self.inner(x, x, x, attn_mask=mask, need_weights=False)[0]
""",
    },
    "layernorm": {
        "getattr_layer_norm": """
_ln = getattr(mt.nn.functional, "layer" + "_norm")

class LayerNorm(mt.nn.Module):
    def __init__(self, normalized_shape, eps=1e-5):
        super().__init__()
        self.eps, self.shape = eps, (normalized_shape,)
        self.weight = mt.nn.Parameter(mt.ones(normalized_shape))
        self.bias = mt.nn.Parameter(mt.zeros(normalized_shape))

    def forward(self, x):
        return _ln(x, self.shape, self.weight, self.bias, self.eps)
""",
        "subclass_of_saved_class": """
_Norm = mt.nn.LayerNorm

class LayerNorm(_Norm):
    pass
""",
    },
    "kv_cache": {
        "saved_sdpa_in_the_cache": """
# after the reference solution
from minitorch_edu.nn import functional as _functional
_fast = _functional.scaled_dot_product_attention

def attend_cached(attn, x, cache):
    q, k, v = attn.qkv(x).split(x.shape[-1], dim=-1)
    q, k, v = (split_heads(t, attn.n_heads) for t in (q, k, v))
    if "k" in cache:
        k = mt.cat([cache["k"], k], dim=2)
        v = mt.cat([cache["v"], v], dim=2)
    cache["k"], cache["v"] = k, v
    return attn.proj(merge_heads(_fast(q, k, v, is_causal=q.shape[2] == k.shape[2])))
""",
    },
}
