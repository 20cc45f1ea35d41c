# %% [markdown]
# # 12 · Attention: a tiny GPT from your own parts
#
# Chapters 01–08 built a framework that trains MLPs; chapter 09 added convolutions. This chapter builds
# the model behind today's language models, the **transformer**, from the bottom: text becomes numbers
# (a tokenizer), numbers become vectors (embeddings), vectors look each other up (attention), and a
# stack of blocks learns to predict the next character of Shakespeare's sonnets. Then you make
# generation fast with a **key-value cache**, and see how PyTorch's `scaled_dot_product_attention`
# and FlashAttention compute the same maths with far less memory.
#
# What you write (graded, 32 points):
#
# | part | what | points |
# | --- | --- | --- |
# | 1 | `CharTokenizer`: a vocabulary from the text, `encode` / `decode` | 3 |
# | 2 | byte-pair encoding: `most_frequent_pair` and `merge` | 3 |
# | 3 | `Embedding` and `TokenPositionEmbedding` (learned positions) | 3 |
# | 4 | `attention`: scaled dot-product attention with a causal mask, stable softmax | 5 |
# | 5 | `split_heads` / `merge_heads` as views, `MultiHeadSelfAttention` | 4 |
# | 6 | `LayerNorm` | 3 |
# | 7 | `Block`: pre-norm transformer block, GELU MLP, residual connections | 3 |
# | 8 | milestone: `GPT` and `train_gpt`: held-out cross-entropy below 2.45 nats | 4 |
# | 9 | key-value cache: `attend_cached`, `sample_next`, `generate` | 4 |
#
# Linear layers (`mt.nn.Linear`), `F.gelu`, `F.cross_entropy` and the optimizers (`mt.optim.AdamW`)
# come from the package: you wrote your own in chapters 06 and 07. While a part is checked, the
# package's own version of that part (`F.scaled_dot_product_attention`, `nn.MultiheadAttention`,
# `nn.LayerNorm`, `nn.Embedding`, `data.CharTokenizer`, softmax) is sealed: a solution that hands the
# work to it scores nothing for that part.

# %% [setup]
import math
import time
import tracemalloc

import matplotlib.pyplot as plt
import numba
import numpy as np

import minitorch_edu as mt
from minitorch_edu import testing
from minitorch_edu.course import Chapter

_SOFTMAX = ["minitorch_edu.core.ops.softmax", "minitorch_edu.core.ops.log_softmax", "minitorch_edu.core.ops.logsumexp",
            "minitorch_edu.core.ops.RowSoftmax"]
_SDPA = ["minitorch_edu.nn.functional.scaled_dot_product_attention", "minitorch_edu.nn.functional.attention"]
_NORM = ["minitorch_edu.nn.LayerNorm", "minitorch_edu.nn.functional.layer_norm",
         "minitorch_edu.nn.functional._LayerNorm"]
_EMBED = ["minitorch_edu.nn.Embedding", "minitorch_edu.nn.functional.embedding"]
_LAYERS = ["minitorch_edu.nn.MultiheadAttention", "minitorch_edu.nn.TransformerEncoderLayer"]
chapter = Chapter(
    "12_attention",
    references={
        "tokenizer": ["minitorch_edu.data.CharTokenizer"],
        "bpe": ["minitorch_edu.data.CharTokenizer"],
        "embedding": _EMBED,
        "attention": [*_SDPA, *_SOFTMAX],
        "heads": ["minitorch_edu.nn.MultiheadAttention", *_SDPA, *_SOFTMAX],
        "layernorm": _NORM,
        "block": ["minitorch_edu.nn.TransformerEncoderLayer", *_LAYERS, *_NORM, *_SDPA, *_SOFTMAX],
        "gpt": [*_LAYERS, *_NORM, *_EMBED, *_SDPA, "minitorch_edu.data.CharTokenizer"],
        "kv_cache": [*_LAYERS, *_SDPA, *_SOFTMAX],
    },
)
plt.rcParams.update({"figure.dpi": 80, "figure.figsize": (5, 3.5)})
F = mt.nn.functional
# this chapter's tensors are tiny (a 64-wide model): waking a second thread for each kernel costs more
# than it saves, and on a busy machine it costs milliseconds per call, so the kernels run on one
numba.set_num_threads(1)

TEXT = mt.data.load_text("sonnets")  # Shakespeare's sonnets I-LXXIII (1609), public domain, shipped with the package
SPLIT = int(0.9 * len(TEXT))
TRAIN_TEXT, HELD_OUT_TEXT = TEXT[:SPLIT], TEXT[SPLIT:]  # the last 10% is never trained on


def attend_cached(attn, x, cache):
    """Part 9 replaces this: self-attention of new tokens x over the cached keys and values."""
    raise NotImplementedError("attend_cached is part 9")


def numpy_attention(q, k, v, causal=False):
    """softmax(q k^T / sqrt(d) + mask) v in float64 NumPy: what the checks compare with."""
    q, k, v = (np.asarray(t, dtype=np.float64) for t in (q, k, v))
    scores = q @ np.swapaxes(k, -1, -2) / math.sqrt(q.shape[-1])
    if causal:
        scores = np.where(np.triu(np.ones(scores.shape[-2:], bool), 1), -np.inf, scores)
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    return (weights / weights.sum(-1, keepdims=True)) @ v


def numpy_layer_norm(x, weight, bias, eps=1e-5):
    x = np.asarray(x, dtype=np.float64)
    mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def held_out_loss(model, ids, block_size, batch=16):
    """Mean cross-entropy (nats per character) of `model` on `ids`, in windows of block_size: measured here."""
    ids = np.asarray(ids)
    n = (len(ids) - 1) // block_size
    x = ids[: n * block_size].reshape(n, block_size)
    y = ids[1 : n * block_size + 1].reshape(n, block_size)
    model.eval()
    total = 0.0
    with mt.no_grad():
        for i in range(0, n, batch):
            logits = model(mt.tensor(x[i : i + batch])).numpy().astype(np.float64)
            logits -= logits.max(-1, keepdims=True)
            logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
            total += -np.take_along_axis(logp, y[i : i + batch, :, None], -1).sum()
    return float(total / y.size)


def weights_of(module):
    return {name: p.numpy().copy() for name, p in module.named_parameters()}


_BLOCK_NAMES = {"self_attn.in_proj_weight": "attn.qkv.weight", "self_attn.in_proj_bias": "attn.qkv.bias",
                "self_attn.out_proj.weight": "attn.proj.weight", "self_attn.out_proj.bias": "attn.proj.bias",
                "linear1.weight": "fc1.weight", "linear1.bias": "fc1.bias", "linear2.weight": "fc2.weight",
                "linear2.bias": "fc2.bias", "norm1.weight": "ln1.weight", "norm1.bias": "ln1.bias",
                "norm2.weight": "ln2.weight", "norm2.bias": "ln2.bias"}  # PyTorch's names -> part 7's


def package_block(block, x, d_model, n_heads):
    """The package's causal TransformerEncoderLayer(norm_first=True, gelu) holding `block`'s weights, on x."""
    layer = mt.nn.TransformerEncoderLayer(d_model, n_heads, dim_feedforward=4 * d_model, dropout=0.0,
                                          activation="gelu", batch_first=True, norm_first=True)
    w = weights_of(block)
    layer.load_state_dict({theirs: mt.tensor(w[mine]) for theirs, mine in _BLOCK_NAMES.items()})
    layer.eval()
    length = x.shape[1]
    mask = np.where(np.triu(np.ones((length, length), bool), 1), -np.inf, 0.0).astype(np.float32)
    with mt.no_grad():
        return layer(mt.tensor(x), src_mask=mt.tensor(mask)).numpy()

# %% [markdown]
# ## From text to numbers
#
# A language model predicts the next **token** from the ones before it. What a token is, is a choice:
# a character (this chapter's GPT), a word, or, in every large model, a piece of a word found by
# **byte-pair encoding** (GPT-2's tokenizer, `tiktoken`, SentencePiece). A tokenizer is a vocabulary
# (token ↔ id) and two functions, `encode(text) -> ids` and `decode(ids) -> text`.
#
# ### Part 1 · `CharTokenizer` (3 points)
#
# The vocabulary is every distinct character of the training text, **sorted** (so the same text always
# gives the same ids, whatever order the characters first appear in): `itos` is that sorted list
# (id → character), `stoi` the dict back (character → id), `vocab_size` their number. `encode` gives
# a list of ints; a character the text never contained raises a `KeyError` that names it (a silent
# skip would shift every later position). `decode` accepts a list, an array or an integer tensor.

# %% [solution] id=tokenizer
class CharTokenizer:
    """One token per distinct character of `text`, numbered in sorted order."""

    def __init__(self, text):
        ### BEGIN SOLUTION
        self.itos = sorted(set(text))
        self.stoi = {ch: i for i, ch in enumerate(self.itos)}
        ### END SOLUTION

    @property
    def vocab_size(self):
        ### BEGIN SOLUTION
        return len(self.itos)
        ### END SOLUTION

    def encode(self, text):
        """The list of ids of the characters of `text`; KeyError naming an unknown character."""
        ### BEGIN SOLUTION
        ids = []
        for ch in text:
            if ch not in self.stoi:
                raise KeyError(f"character {ch!r} is not in the vocabulary")
            ids.append(self.stoi[ch])
        return ids
        ### END SOLUTION

    def decode(self, ids):
        """The string of the characters of `ids` (a list, an array or an integer Tensor)."""
        ### BEGIN SOLUTION
        if hasattr(ids, "tolist"):
            ids = ids.tolist()
        return "".join(self.itos[int(i)] for i in ids)
        ### END SOLUTION

# %% [tests] id=tokenizer_tests points=3
with testing.part("tokenizer"):
    _tok = CharTokenizer("hello world")
    testing.assert_equal(_tok.itos, [" ", "d", "e", "h", "l", "o", "r", "w"], call='CharTokenizer("hello world").itos',
                         hints=[(lambda got, exp: sorted(got) == exp and got != exp,
                                 "the vocabulary must be sorted: sorted(set(text))")])
    testing.assert_equal(_tok.vocab_size, 8, call='CharTokenizer("hello world").vocab_size')
    testing.assert_equal(_tok.encode("hold"), [3, 5, 4, 1], call='tok.encode("hold")')
    testing.assert_equal(_tok.decode([3, 2, 4, 4, 5]), "hello", call="tok.decode([3, 2, 4, 4, 5])")
    testing.assert_equal(_tok.decode(mt.tensor([7, 5, 6, 4, 1])), "world", call="tok.decode(tensor([7, 5, 6, 4, 1]))")
    _err = testing.assert_raises(KeyError, _tok.encode, "hex", call='tok.encode("hex")',
                                 hints="an unknown character must raise, not be skipped")
    testing.assert_true("x" in str(_err), call='the KeyError of tok.encode("hex")', got=str(_err),
                        expected="a message naming 'x'")
### BEGIN HIDDEN TESTS
with testing.part("tokenizer", hidden=True):
    _tok = CharTokenizer(TRAIN_TEXT)
    testing.assert_equal(_tok.itos, sorted(set(TRAIN_TEXT)), call="CharTokenizer(TRAIN_TEXT).itos")
    _ids = _tok.encode(TRAIN_TEXT[:500])
    testing.assert_equal(_tok.decode(_ids), TRAIN_TEXT[:500], call="decode(encode(TRAIN_TEXT[:500]))")
    testing.assert_equal(_tok.stoi, {c: i for i, c in enumerate(sorted(set(TRAIN_TEXT)))}, call="tok.stoi")
    _zyx = CharTokenizer("zyxzyx")
    testing.assert_equal(_zyx.encode("xyz"), [0, 1, 2], call='CharTokenizer("zyxzyx").encode("xyz")',
                         hints="ids follow the sorted characters, not the order they first appear in")
    testing.assert_equal(_zyx.decode(np.array([2, 2, 0])), "zzx", call="decode(np.array([2, 2, 0]))")
    testing.assert_equal(CharTokenizer("").vocab_size, 0, call='CharTokenizer("").vocab_size')
### END HIDDEN TESTS

# %% [markdown]
# ### Part 2 · Byte-pair encoding: one merge step (3 points)
#
# Characters make long sequences: a 64-token window sees one line of a sonnet. BPE shortens them by
# repeatedly **merging the most frequent adjacent pair** of tokens into a new token. Training BPE is
# a loop of the two functions you write:
#
# - `most_frequent_pair(ids)`: count every adjacent pair `(ids[i], ids[i+1])` and return the most
#   frequent. **Ties** go to the pair that occurs **first** in `ids`: a fixed rule, so two runs (and
#   two implementations) learn the same merges. `None` for fewer than two ids.
# - `merge(ids, pair, new_id)`: scan left to right and replace each occurrence of `pair` by `new_id`,
#   **without overlaps**: in `a a a` the pair `(a, a)` is merged once, giving `[new, a]`; after a merge
#   the scan continues after the pair.
#
# GPT-2's tokenizer runs the same loop on bytes (50 000 merges, and a rule that keeps merges inside
# words); here it runs on a toy corpus below.

# %% [solution] id=bpe
def most_frequent_pair(ids):
    """The most frequent adjacent pair (a, b) of `ids`; ties go to the pair that occurs first; None if < 2 ids."""
    ### BEGIN SOLUTION
    counts, first = {}, {}
    for i, pair in enumerate(zip(ids, ids[1:])):
        counts[pair] = counts.get(pair, 0) + 1
        first.setdefault(pair, i)
    if not counts:
        return None
    return max(counts, key=lambda p: (counts[p], -first[p]))
    ### END SOLUTION


def merge(ids, pair, new_id):
    """`ids` with each non-overlapping occurrence of `pair`, scanned left to right, replaced by `new_id`."""
    ### BEGIN SOLUTION
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == tuple(pair):
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out
    ### END SOLUTION

# %% [tests] id=bpe_tests points=3
with testing.part("bpe"):
    testing.assert_equal(tuple(most_frequent_pair([1, 2, 3, 1, 2])), (1, 2), call="most_frequent_pair([1, 2, 3, 1, 2])")
    testing.assert_equal(tuple(most_frequent_pair([5, 6, 7, 8, 7, 8, 5, 6])), (5, 6),
                         call="most_frequent_pair([5, 6, 7, 8, 7, 8, 5, 6])",
                         hints="(5, 6) and (7, 8) occur twice each: the tie goes to the pair that occurs first")
    testing.assert_equal(most_frequent_pair([4]), None, call="most_frequent_pair([4])")
    testing.assert_equal(merge([1, 2, 3, 1, 2], (1, 2), 9), [9, 3, 9], call="merge([1, 2, 3, 1, 2], (1, 2), 9)")
    testing.assert_equal(merge([0, 0, 0], (0, 0), 7), [7, 0], call="merge([0, 0, 0], (0, 0), 7)",
                         hints=[(lambda got, exp: got == [7, 7], "overlapping pairs: after merging a pair, continue "
                                 "after it (the middle 0 cannot be used twice)")])
### BEGIN HIDDEN TESTS
with testing.part("bpe", hidden=True):
    testing.assert_equal(merge([0, 0, 0, 0], (0, 0), 7), [7, 7], call="merge([0, 0, 0, 0], (0, 0), 7)")
    testing.assert_equal(merge([3, 1, 2, 1, 2, 1], (2, 1), 5), [3, 1, 5, 5],
                         call="merge([3, 1, 2, 1, 2, 1], (2, 1), 5)")
    testing.assert_equal(merge([1, 2], (2, 1), 5), [1, 2], call="merge([1, 2], (2, 1), 5)")
    testing.assert_equal(tuple(most_frequent_pair([9, 9, 9, 1, 2, 1, 2])), (9, 9),
                         call="most_frequent_pair([9, 9, 9, 1, 2, 1, 2])",
                         hints="count every adjacent pair, overlapping ones too: (9, 9) occurs twice")
    testing.assert_equal(tuple(most_frequent_pair([3, 4, 1, 2, 1, 2, 3, 4])), (3, 4),
                         call="most_frequent_pair([3, 4, 1, 2, 1, 2, 3, 4])",
                         hints="ties go to the pair that occurs first, not the smallest or the last one")
    testing.assert_equal(tuple(most_frequent_pair([2, 1, 0, 0])), (2, 1), call="most_frequent_pair([2, 1, 0, 0])")
### END HIDDEN TESTS

# %% [markdown]
# Ten merges on a toy corpus: each line shows the merged pair (as text) and how the sequence shrinks.
# Frequent endings and words (`"the "`, `"ing"`) become single tokens after a few merges.

# %%
toy = "the thing that sings the thing that rings; the king sings the ring thing " * 3
toy_ids = list(toy.encode("utf-8"))  # bytes: 256 base tokens, as GPT-2
pieces = {i: bytes([i]) for i in range(256)}
for step in range(10):
    pair = most_frequent_pair(toy_ids)
    pieces[256 + step] = pieces[pair[0]] + pieces[pair[1]]
    toy_ids = merge(toy_ids, pair, 256 + step)
    print(f"merge {step + 1:2d}: {pieces[256 + step].decode()!r:10} -> {len(toy_ids)} tokens")

# %% [markdown]
# ## Tokens become vectors: embeddings
#
# An id is a row number: an **embedding** is a learned table of shape `(vocab_size, d_model)` and
# looking a token up is reading its row. Indexing a tensor with an integer tensor is differentiable
# (`weight[ids]`, with `ids` one-dimensional): the gradient of each row is the sum of the gradients of
# the positions that read it. Attention (below) treats its input as a *set*: it has no idea which
# token came first. So each position `0 … block_size - 1` gets a **learned position embedding** too,
# added to the token's: GPT-2 does this (the original transformer used fixed sines, today's models
# rotate the queries and keys instead, RoPE).
#
# ### Part 3 · `Embedding` and `TokenPositionEmbedding` (3 points)
#
# - `Embedding(num_embeddings, embedding_dim)`: a `weight` Parameter drawn N(0, 1) (`mt.randn`, as
#   PyTorch); `forward(ids)` takes an integer tensor of any shape `(*)` and returns `(*, embedding_dim)`.
# - `TokenPositionEmbedding(vocab_size, block_size, d_model)`: `self.tok` and `self.pos`, two of your
#   `Embedding`s; `forward(ids, start=0)` maps `(B, T)` ids to `(B, T, d_model)`: the tokens' rows plus
#   the rows of positions `start, …, start + T - 1` (`start` is for part 9, where tokens arrive one at a
#   time). Positions past `block_size` raise a `ValueError`.

# %% [solution] id=embedding
class Embedding(mt.nn.Module):
    def __init__(self, num_embeddings, embedding_dim):
        super().__init__()
        ### BEGIN SOLUTION
        self.weight = mt.nn.Parameter(mt.randn(num_embeddings, embedding_dim))
        ### END SOLUTION

    def forward(self, ids):
        ### BEGIN SOLUTION
        rows = self.weight[ids.reshape(-1)]
        return rows.reshape(tuple(ids.shape) + (self.weight.shape[1],))
        ### END SOLUTION


class TokenPositionEmbedding(mt.nn.Module):
    def __init__(self, vocab_size, block_size, d_model):
        super().__init__()
        ### BEGIN SOLUTION
        self.block_size = block_size
        self.tok = Embedding(vocab_size, d_model)
        self.pos = Embedding(block_size, d_model)
        ### END SOLUTION

    def forward(self, ids, start=0):
        ### BEGIN SOLUTION
        length = ids.shape[1]
        if start + length > self.block_size:
            raise ValueError(f"positions {start}..{start + length - 1} go past block_size {self.block_size}")
        return self.tok(ids) + self.pos(mt.tensor(np.arange(start, start + length)))
        ### END SOLUTION

# %% [tests] id=embedding_tests points=3
with testing.part("embedding"):
    mt.manual_seed(0)
    _emb = Embedding(10, 4)
    testing.assert_true(isinstance(_emb.weight, mt.nn.Parameter) and _emb.weight.shape == (10, 4),
                        call="Embedding(10, 4).weight", got=testing.describe(_emb.weight),
                        expected="a Parameter of shape (10, 4)")
    _ids = mt.tensor(np.array([[1, 2, 2], [9, 0, 1]]))
    _out = _emb(_ids)
    testing.assert_close(_out.numpy(), _emb.weight.numpy()[_ids.numpy()], call="Embedding(10, 4)(ids of shape (2, 3))",
                         hints=[(lambda got, exp: np.shape(got) == (6, 4),
                                 "reshape the rows back to ids.shape + (4,)")])
    _out.sum().backward()
    testing.assert_close(_emb.weight.grad.numpy()[:3, 0], [1.0, 2.0, 2.0],
                         call="the gradient of rows 0, 1, 2 after Embedding(ids).sum().backward()",
                         hints="row 1 and row 2 are read twice each: their gradients add")
    _tpe = TokenPositionEmbedding(10, 8, 4)
    _x = _tpe(_ids)
    _want = _tpe.tok.weight.numpy()[_ids.numpy()] + _tpe.pos.weight.numpy()[:3]
    testing.assert_close(_x.numpy(), _want, call="TokenPositionEmbedding(10, 8, 4)(ids (2, 3))",
                         hints="add the rows of positions 0, 1, 2 (one per time step) to the tokens' rows")
### BEGIN HIDDEN TESTS
with testing.part("embedding", hidden=True):
    mt.manual_seed(1)
    _big = Embedding(400, 50)
    testing.assert_close(float(_big.weight.numpy().std()), 1.0, atol=0.05, call="Embedding(400, 50).weight.std()",
                         hints="draw the weights N(0, 1): mt.randn")
    _tpe = TokenPositionEmbedding(10, 8, 4)
    _ids = mt.tensor(np.array([[3], [4]]))
    _want = _tpe.tok.weight.numpy()[[[3], [4]]] + _tpe.pos.weight.numpy()[5]
    testing.assert_close(_tpe(_ids, start=5).numpy(), _want,
                         call="TokenPositionEmbedding(10, 8, 4)(ids (2, 1), start=5)",
                         hints="the positions are start, ..., start + T - 1")
    testing.assert_raises(ValueError, _tpe, mt.tensor(np.zeros((1, 3), dtype=np.int64)), start=6,
                          call="TokenPositionEmbedding(block_size=8)(3 ids, start=6)")
    testing.assert_equal(sorted(n for n, _ in _tpe.named_parameters()), ["pos.weight", "tok.weight"],
                         call="TokenPositionEmbedding(...).named_parameters() names")
    testing.assert_equal(Embedding(5, 3)(mt.tensor(np.array(2))).shape, (3,), call="Embedding(5, 3)(a 0-d id)")
### END HIDDEN TESTS

# %% [markdown]
# ## Attention: a differentiable lookup
#
# A Python dict looks a key up exactly: `d[query]` returns the value whose key *equals* the query.
# Attention is the soft version. Each position has a **query** `q`, a **key** `k` and a **value** `v`
# (three linear maps of its vector). Query `i` scores every key by a dot product, the scores become
# weights by a softmax, and the answer is the weighted mean of the values:
#
# $$\mathrm{attention}(Q, K, V) = \mathrm{softmax}\!\left(\frac{Q K^\top}{\sqrt{d}} + M\right) V$$
#
# Every step is differentiable, so training can learn *what to look up*. Three details carry the whole
# design:
#
# - **the scale** $1/\sqrt{d}$: a dot product of two random `d`-vectors has variance `d`; unscaled, the
#   scores of a 64-wide head are ~8 apart, the softmax is nearly one-hot, and its gradient nearly zero
#   (the figure after part 8 shows a training curve without it);
# - **the causal mask** $M$: a language model predicts token `t+1` from tokens `0…t`, so query `i` must
#   not see keys `j > i`. Set those scores to `-inf` **before** the softmax, so their weights are exactly
#   0 and the others still sum to 1 (zeroing weights *after* the softmax leaves rows that sum to less
#   than 1, and leaks the future into the normaliser);
# - **a stable softmax**: subtract each row's maximum before `exp` (a score of 1000 overflows float32's
#   `exp` to `inf`); the maximum is a constant shift (`.detach()` it), so the result does not change.
#
# ### Part 4 · `attention` (5 points)
#
# `attention(query, key, value, is_causal=False, scale=None)` for `query (..., L, d)`, `key (..., S, d)`,
# `value (..., S, dv)` → `(..., L, dv)`, with your tensor ops (`@`, `.transpose(-2, -1)`, `.masked_fill`,
# `.max(-1, keepdim=True).values`, `.exp()`, `.sum`): no `softmax` from the package. `scale=None` means
# `1 / sqrt(d)`. `is_causal=True` lets query `i` see keys `0…i` (the mask `np.triu(ones((L, S)), k=1)`,
# PyTorch's convention). The checks compare values, run at scores of 1000, and check your gradients
# against finite differences (`mt.grad_check`).

# %% [solution] id=attention
def attention(query, key, value, is_causal=False, scale=None):
    """softmax(query @ key^T * scale + causal mask) @ value, the softmax over the keys, computed stably."""
    ### BEGIN SOLUTION
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    scores = (query @ key.transpose(-2, -1)) * scale
    if is_causal:
        future = np.triu(np.ones((scores.shape[-2], scores.shape[-1]), dtype=bool), k=1)
        scores = scores.masked_fill(mt.tensor(future), float("-inf"))
    scores = scores - scores.max(-1, keepdim=True).values.detach()
    weights = scores.exp()
    weights = weights / weights.sum(-1, keepdim=True)
    return weights @ value
    ### END SOLUTION

# %% [tests] id=attention_tests points=5
with testing.part("attention"):
    _rng = np.random.default_rng(0)
    _q, _k, _v = (_rng.standard_normal((2, 5, 4)).astype(np.float32) for _ in range(3))
    _call = "attention(q, k, v) for q, k, v of shape (2, 5, 4)"
    _got = attention(mt.tensor(_q), mt.tensor(_k), mt.tensor(_v))
    testing.assert_close(_got.numpy(), numpy_attention(_q, _k, _v), call=_call, atol=1e-5,
                         hints=[(lambda got, exp: np.allclose(got, numpy_attention(_q * 2, _k, _v), atol=1e-4),
                                 "the scores are not scaled: divide q @ k^T by sqrt(d)")])
    _got = attention(mt.tensor(_q), mt.tensor(_k), mt.tensor(_v), is_causal=True)
    testing.assert_close(_got.numpy(), numpy_attention(_q, _k, _v, causal=True), call=_call[:-27] + "is_causal=True)",
                         atol=1e-5, hints=["mask the future (-inf where key j > query i) BEFORE the softmax",
                                           "np.triu(ones, k=1) marks the future; k=0 hides each token from itself"])
    testing.assert_close(_got.numpy()[:, 0], _v[:, 0], call="row 0 of the causal attention (it sees only key 0)",
                         atol=1e-5)
    _big = attention(mt.tensor(_q * 1000), mt.tensor(_k), mt.tensor(_v))
    testing.assert_true(np.all(np.isfinite(_big.numpy())), call="attention(q * 1000, k, v)",
                        got="non-finite values", expected="finite values",
                        hint="subtract each row's maximum score before exp: exp(1000) overflows")
    mt.grad_check(lambda q, k, v: attention(q, k, v, is_causal=True), mt.tensor(_q[:1]), mt.tensor(_k[:1]),
                  mt.tensor(_v[:1]))
### BEGIN HIDDEN TESTS
with testing.part("attention", hidden=True):
    _rng = np.random.default_rng(1)
    _q = _rng.standard_normal((2, 3, 3, 8)).astype(np.float32)
    _k = _rng.standard_normal((2, 3, 6, 8)).astype(np.float32)
    _v = _rng.standard_normal((2, 3, 6, 5)).astype(np.float32)
    testing.assert_close(attention(mt.tensor(_q), mt.tensor(_k), mt.tensor(_v)).numpy(), numpy_attention(_q, _k, _v),
                         call="attention(q (2, 3, 3, 8), k (2, 3, 6, 8), v (2, 3, 6, 5))", atol=1e-5)
    _s = _q @ np.swapaxes(_k, -1, -2) * 0.5
    _w = np.exp(_s - _s.max(-1, keepdims=True))
    testing.assert_close(attention(mt.tensor(_q), mt.tensor(_k), mt.tensor(_v), scale=0.5).numpy(),
                         (_w / _w.sum(-1, keepdims=True)) @ _v, call="attention(q, k, v, scale=0.5)", atol=1e-5)
    _q, _k, _v = (_rng.standard_normal((1, 6, 4)) for _ in range(3))
    _causal = attention(mt.tensor(_q * 300), mt.tensor(_k), mt.tensor(_v), is_causal=True).numpy()
    testing.assert_close(_causal, numpy_attention(_q * 300, _k, _v, causal=True), atol=1e-4,
                         call="attention(q * 300, k, v, is_causal=True)")
    _v2 = _v.copy()
    _v2[:, 3:] += 100.0  # the future changes: the first three rows must not
    _moved = attention(mt.tensor(_q), mt.tensor(_k), mt.tensor(_v2), is_causal=True).numpy()
    _before = attention(mt.tensor(_q), mt.tensor(_k), mt.tensor(_v), is_causal=True).numpy()
    testing.assert_close(_moved[:, :3], _before[:, :3],
                         call="the first 3 causal rows after values 3..5 change", atol=1e-6)
    mt.grad_check(lambda q, k, v: attention(q, k, v), mt.tensor(_q), mt.tensor(_k), mt.tensor(_v))
### END HIDDEN TESTS

# %% [markdown]
# A differentiable lookup, drawn: 12 keys with values 0…11; a query that matches key 4 (plus noise).
# Scaled up, the query picks key 4 almost exactly as a dict would; scaled down, the weights spread and
# the answer is a blend. Attention is the soft end of this dial, learned.

# %%
lookup = chapter.fallback("attention", attention, lambda fn: fn(mt.ones(1, 2, 4), mt.ones(1, 2, 4), mt.ones(1, 2, 4)))
rng = np.random.default_rng(3)
keys = rng.standard_normal((12, 16)).astype(np.float32)
values = np.arange(12, dtype=np.float32)[:, None]
fig, ax = plt.subplots(figsize=(7, 3))
for sharpness in (0.5, 2.0, 8.0):
    query = (sharpness * (keys[4] + 0.3 * rng.standard_normal(16))).astype(np.float32)
    scores = keys @ query / math.sqrt(16)
    weights = np.exp(scores - scores.max())
    weights /= weights.sum()
    answer = lookup(mt.tensor(query[None, None]), mt.tensor(keys[None]), mt.tensor(values[None])).numpy().item()
    ax.plot(range(12), weights, "o-", label=f"query scaled x{sharpness}: answer {answer:.2f}")
ax.set_xlabel("key")
ax.set_ylabel("attention weight")
ax.set_title("a soft lookup: the query matches key 4 (value 4)", fontsize=10)
ax.legend(fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Many heads: one matmul, viewed differently
#
# One attention computes one kind of lookup. **Multi-head** attention runs `H` of them side by side on
# `d_model / H`-wide slices of the vectors: one head can look at the previous character, another at the
# start of the word. It costs nothing extra if the split is a **view**: `(B, T, D)` is viewed as
# `(B, T, H, D/H)` (the last axis cut into `H` pieces, no data moves) and then transposed to
# `(B, H, T, D/H)` (strides swapped, no data moves), so each head is a batch entry for the matmuls.
# `merge_heads` undoes it: transpose back and reshape to `(B, T, D)` (this one copies, since the
# transposed tensor is no longer contiguous). PyTorch's `MultiheadAttention` does exactly this.
#
# ### Part 5 · `split_heads`, `merge_heads`, `MultiHeadSelfAttention` (4 points)
#
# - `split_heads(x, n_heads)`: `(B, T, D)` → `(B, H, T, D/H)` **sharing x's storage** (`.view` then
#   `.transpose(1, 2)`; the check looks at `y._storage is x._storage`);
# - `merge_heads(y)`: `(B, H, T, dh)` → `(B, T, H*dh)`;
# - `MultiHeadSelfAttention(d_model, n_heads)`: `self.qkv = mt.nn.Linear(d_model, 3 * d_model)` (queries,
#   keys and values in one matmul, split along the last axis in that order: `.split(d_model, dim=-1)`),
#   `self.proj = mt.nn.Linear(d_model, d_model)`, `self.n_heads`. `forward(x, cache=None)`: causal
#   self-attention of each head with your `attention`, heads merged, then `proj`. When a `cache` is given,
#   return `attend_cached(self, x, cache)`: part 9 writes it.

# %% [solution] id=heads
def split_heads(x, n_heads):
    """(B, T, D) -> (B, n_heads, T, D // n_heads), a view of x."""
    ### BEGIN SOLUTION
    batch, length, width = x.shape
    return x.view(batch, length, n_heads, width // n_heads).transpose(1, 2)
    ### END SOLUTION


def merge_heads(y):
    """(B, H, T, dh) -> (B, T, H * dh)."""
    ### BEGIN SOLUTION
    batch, heads, length, width = y.shape
    return y.transpose(1, 2).reshape(batch, length, heads * width)
    ### END SOLUTION


class MultiHeadSelfAttention(mt.nn.Module):
    def __init__(self, d_model, n_heads):
        super().__init__()
        ### BEGIN SOLUTION
        self.n_heads = n_heads
        self.qkv = mt.nn.Linear(d_model, 3 * d_model)
        self.proj = mt.nn.Linear(d_model, d_model)
        ### END SOLUTION

    def forward(self, x, cache=None):
        if cache is not None:
            return attend_cached(self, x, cache)
        ### BEGIN SOLUTION
        q, k, v = self.qkv(x).split(x.shape[-1], dim=-1)
        q, k, v = (split_heads(t, self.n_heads) for t in (q, k, v))
        return self.proj(merge_heads(attention(q, k, v, is_causal=True)))
        ### END SOLUTION

# %% [tests] id=heads_tests points=4
def _mha_numpy(x, qkv_w, qkv_b, proj_w, proj_b, heads):
    """Causal multi-head self-attention in NumPy, head by head: what the checks compare with."""
    d = x.shape[-1]
    qkv = x @ qkv_w.T + qkv_b
    outs = []
    for h in range(heads):
        cut = slice(h * d // heads, (h + 1) * d // heads)
        outs.append(numpy_attention(qkv[..., :d][..., cut], qkv[..., d:2 * d][..., cut], qkv[..., 2 * d:][..., cut],
                                    causal=True))
    return np.concatenate(outs, -1) @ proj_w.T + proj_b


with testing.part("heads"):
    _x = mt.tensor(np.arange(2 * 3 * 8, dtype=np.float32).reshape(2, 3, 8))
    _y = split_heads(_x, 2)
    testing.assert_equal(_y.shape, (2, 2, 3, 4), call="split_heads(x of shape (2, 3, 8), 2).shape")
    testing.assert_equal(_y.numpy(), _x.numpy().reshape(2, 3, 2, 4).transpose(0, 2, 1, 3),
                         call="split_heads(x (2, 3, 8), 2)",
                         hints="view as (B, T, H, dh) and then swap T and H: .transpose(1, 2)")
    testing.assert_true(_y._storage is _x._storage, call="split_heads(x, 2)._storage is x._storage", got=False,
                        expected=True, hint="a view shares storage: .view and .transpose, no .contiguous() or copy")
    testing.assert_equal(merge_heads(_y).numpy(), _x.numpy(), call="merge_heads(split_heads(x, 2))")
    mt.manual_seed(0)
    _mha = MultiHeadSelfAttention(8, 2)
    _xs = np.random.default_rng(0).standard_normal((2, 5, 8)).astype(np.float32)
    _w = weights_of(_mha)
    testing.assert_close(_mha(mt.tensor(_xs)).numpy(), _mha_numpy(_xs, _w["qkv.weight"], _w["qkv.bias"],
                         _w["proj.weight"], _w["proj.bias"], 2), atol=1e-5,
                         call="MultiHeadSelfAttention(8, 2)(x (2, 5, 8))")
### BEGIN HIDDEN TESTS
with testing.part("heads", hidden=True):
    _x = mt.randn(3, 4, 12)
    for _h in (1, 3, 4):
        testing.assert_equal(split_heads(_x, _h).numpy(), _x.numpy().reshape(3, 4, _h, 12 // _h).transpose(0, 2, 1, 3),
                             call=f"split_heads(x (3, 4, 12), {_h})")
    testing.assert_true(split_heads(_x, 3)._storage is _x._storage, call="split_heads(x (3, 4, 12), 3) shares storage",
                        got=False, expected=True)
    _z = mt.randn(2, 3, 4, 5)
    testing.assert_equal(merge_heads(_z).numpy(), _z.numpy().transpose(0, 2, 1, 3).reshape(2, 4, 15),
                         call="merge_heads(y (2, 3, 4, 5))")
    mt.manual_seed(1)
    _mha = MultiHeadSelfAttention(12, 3)
    _xs = np.random.default_rng(2).standard_normal((1, 6, 12)).astype(np.float32)
    _w = weights_of(_mha)
    _xt = mt.tensor(_xs, requires_grad=True)
    _out = _mha(_xt)
    testing.assert_close(_out.numpy(), _mha_numpy(_xs, _w["qkv.weight"], _w["qkv.bias"], _w["proj.weight"],
                         _w["proj.bias"], 3), atol=1e-5, call="MultiHeadSelfAttention(12, 3)(x (1, 6, 12))")
    _out[:, 2].sum().backward()
    testing.assert_close(np.abs(_xt.grad.numpy()[:, 3:]).max(), 0.0, call="d out[:, 2] / d x[:, 3:] (the future)",
                         hints="each head must be causal")
    testing.assert_equal(sorted(n for n, _ in _mha.named_parameters()),
                         ["proj.bias", "proj.weight", "qkv.bias", "qkv.weight"], call="parameter names")
### END HIDDEN TESTS

# %% [markdown]
# ## Layer normalisation
#
# Deep stacks train when every layer sees inputs of a steady size. `LayerNorm` rescales **each
# position's vector** on its own: subtract its mean over the `d_model` features, divide by its standard
# deviation (the biased one, `1/n`, as PyTorch, with `eps = 1e-5` inside the square root), then a learned
# per-feature scale `weight` (ones) and shift `bias` (zeros). Unlike batch norm, it does not mix the
# samples of a batch or the positions of a sequence, so it behaves the same in training and in
# generation, one token at a time.
#
# ### Part 6 · `LayerNorm` (3 points)
#
# `LayerNorm(normalized_shape, eps=1e-5)` over the **last** axis, with Parameters `weight` and `bias` of
# shape `(normalized_shape,)`. Written with tensor ops (`mean`, `**`, `sqrt`), so autograd does the backward.

# %% [solution] id=layernorm
class LayerNorm(mt.nn.Module):
    def __init__(self, normalized_shape, eps=1e-5):
        super().__init__()
        ### BEGIN SOLUTION
        self.eps = eps
        self.weight = mt.nn.Parameter(mt.ones(normalized_shape))
        self.bias = mt.nn.Parameter(mt.zeros(normalized_shape))
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        mean = x.mean(-1, keepdim=True)
        var = ((x - mean) ** 2).mean(-1, keepdim=True)
        return (x - mean) / (var + self.eps).sqrt() * self.weight + self.bias
        ### END SOLUTION

# %% [tests] id=layernorm_tests points=3
with testing.part("layernorm"):
    _ln = LayerNorm(4)
    testing.assert_true(isinstance(_ln.weight, mt.nn.Parameter) and isinstance(_ln.bias, mt.nn.Parameter),
                        call="LayerNorm(4).weight, .bias",
                        got=f"{type(_ln.weight).__name__}, {type(_ln.bias).__name__}",
                        expected="Parameter, Parameter")
    _x = np.array([[1.0, 2.0, 3.0, 6.0], [0.0, 0.0, 1.0, -1.0]], dtype=np.float32)
    testing.assert_close(_ln(mt.tensor(_x)).numpy(), numpy_layer_norm(_x, 1.0, 0.0), atol=1e-5,
                         call="LayerNorm(4)(x of shape (2, 4))",
                         hints=[(lambda got, exp: np.allclose(got, (_x - _x.mean(0)) / np.sqrt(_x.var(0) + 1e-5),
                                                              atol=1e-4),
                                 "normalise over the last axis (each row), not over the batch"),
                                "divide by sqrt(var + eps), with the biased variance (mean of squares, 1/n)"])
    _x3 = np.random.default_rng(0).standard_normal((2, 3, 5)).astype(np.float32)
    _ln5 = LayerNorm(5)
    _ln5.weight.data = mt.tensor(np.arange(1.0, 6.0, dtype=np.float32))
    _ln5.bias.data = mt.tensor(np.full(5, 0.5, dtype=np.float32))
    testing.assert_close(_ln5(mt.tensor(_x3)).numpy(), numpy_layer_norm(_x3, np.arange(1.0, 6.0), 0.5), atol=1e-5,
                         call="LayerNorm(5) with weight [1..5], bias 0.5, on x (2, 3, 5)")
### BEGIN HIDDEN TESTS
with testing.part("layernorm", hidden=True):
    _small = (np.random.default_rng(1).standard_normal((3, 6)) * 1e-3).astype(np.float32)
    testing.assert_close(LayerNorm(6)(mt.tensor(_small)).numpy(), numpy_layer_norm(_small, 1.0, 0.0), atol=1e-4,
                         call="LayerNorm(6)(x of size 1e-3)", hints="eps goes inside the square root: sqrt(var + eps)")
    testing.assert_close(LayerNorm(6, eps=0.5)(mt.tensor(_small * 1e3)).numpy(),
                         numpy_layer_norm(_small * 1e3, 1.0, 0.0, eps=0.5), atol=1e-5, call="LayerNorm(6, eps=0.5)")
    _x = np.random.default_rng(2).standard_normal((4, 3)).astype(np.float32)
    testing.assert_close(LayerNorm(3)(mt.tensor(_x)).numpy(), numpy_layer_norm(_x, 1.0, 0.0), atol=1e-5,
                         call="LayerNorm(3)(x (4, 3))")
    mt.grad_check(lambda x: LayerNorm(3)(x) * mt.tensor([1.0, -2.0, 0.5]), mt.tensor(_x))
    _ln = LayerNorm(3)
    _ln(mt.tensor(_x)).sum().backward()
    testing.assert_close(_ln.bias.grad.numpy(), [4.0, 4.0, 4.0], call="LayerNorm(3)(x (4, 3)).sum() -> bias.grad")
### END HIDDEN TESTS

# %% [markdown]
# ## The transformer block
#
# A block is attention (tokens exchange information) followed by an MLP (each token thinks on its own),
# each wrapped the same way in a **pre-norm residual**: `x = x + sublayer(norm(x))`.
#
# - The **residual** `x + …` gives the gradient a path that skips the sublayer: through a stack of `N`
#   blocks the gradient reaching the first one is not a product of `N` Jacobians that shrink or blow up
#   (the figure after part 8 measures it).
# - **Pre-norm** (GPT-2 and later, PyTorch's `norm_first=True`) normalises what goes *into* each
#   sublayer and leaves the residual stream itself untouched; the original transformer normalised after
#   the addition (post-norm), which needs a careful learning-rate warm-up to train at depth.
# - The MLP widens to `4 * d_model`, applies GELU (`F.gelu`, the exact erf form), and narrows back.
#
# ### Part 7 · `Block` (3 points)
#
# `Block(d_model, n_heads)` with `self.ln1 = LayerNorm(d_model)`, `self.attn =
# MultiHeadSelfAttention(d_model, n_heads)`, `self.ln2 = LayerNorm(d_model)`, `self.fc1 =
# mt.nn.Linear(d_model, 4 * d_model)`, `self.fc2 = mt.nn.Linear(4 * d_model, d_model)` (your `LayerNorm`
# and attention; these names let the checks copy weights into PyTorch's layer). `forward(x, cache=None)`
# passes `cache` on to the attention.

# %% [solution] id=block
class Block(mt.nn.Module):
    def __init__(self, d_model, n_heads):
        super().__init__()
        ### BEGIN SOLUTION
        self.ln1 = LayerNorm(d_model)
        self.attn = MultiHeadSelfAttention(d_model, n_heads)
        self.ln2 = LayerNorm(d_model)
        self.fc1 = mt.nn.Linear(d_model, 4 * d_model)
        self.fc2 = mt.nn.Linear(4 * d_model, d_model)
        ### END SOLUTION

    def forward(self, x, cache=None):
        ### BEGIN SOLUTION
        x = x + self.attn(self.ln1(x), cache)
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))
        ### END SOLUTION

# %% [tests] id=block_tests points=3
with testing.part("block"):
    mt.manual_seed(0)
    _block = Block(8, 2)
    for _name in ("ln1", "attn", "ln2", "fc1", "fc2"):
        testing.assert_true(hasattr(_block, _name), call=f"Block(8, 2).{_name}", got="missing", expected="present")
    for _p in (_block.ln1.weight, _block.ln2.bias):
        _p.data = mt.randn(8)  # not ones and zeros: a swapped norm shows
    _xs = np.random.default_rng(0).standard_normal((2, 5, 8)).astype(np.float32)
    _want = package_block(_block, _xs, 8, 2)
    testing.assert_close(_block(mt.tensor(_xs)).numpy(), _want, atol=1e-4,
                         call="Block(8, 2)(x (2, 5, 8)) against TransformerEncoderLayer(norm_first=True, gelu)",
                         hints=["x = x + attn(ln1(x)); x = x + fc2(gelu(fc1(ln2(x)))): residuals around both",
                                "pre-norm: normalise the sublayer's input, not the sum"])
### BEGIN HIDDEN TESTS
with testing.part("block", hidden=True):
    mt.manual_seed(3)
    _block = Block(12, 3)
    for _p in (_block.ln1.bias, _block.ln2.weight):
        _p.data = mt.randn(12)
    _xs = (3 * np.random.default_rng(4).standard_normal((1, 7, 12)) + 1).astype(np.float32)
    _want = package_block(_block, _xs, 12, 3)
    testing.assert_close(_block(mt.tensor(_xs)).numpy(), _want, atol=1e-4, call="Block(12, 3)(x (1, 7, 12))")
    _xt = mt.tensor(_xs, requires_grad=True)
    _block(_xt)[:, 1].sum().backward()
    testing.assert_close(np.abs(_xt.grad.numpy()[:, 2:]).max(), 0.0, call="d Block(x)[:, 1] / d x[:, 2:]",
                         hints="the block must stay causal")
    testing.assert_equal(len(list(_block.parameters())), 12, call="len(list(Block(12, 3).parameters()))")
### END HIDDEN TESTS

# %% [markdown]
# ### Your block next to PyTorch's
#
# Where PyTorch is installed, the same weights go into `torch.nn.TransformerEncoderLayer(norm_first=True,
# activation="gelu", batch_first=True, dropout=0.0)` (its `self_attn.in_proj_weight` is your `qkv.weight`:
# queries, keys, values stacked in that order) with a causal mask, and the outputs are compared.

# %%
try:
    import torch
except ImportError:
    torch = None
    print("PyTorch is not installed here: the rest of the chapter does not need it")
if torch is not None:
    try:
        mt.manual_seed(5)
        mine = Block(16, 4)
        theirs = torch.nn.TransformerEncoderLayer(16, 4, dim_feedforward=64, dropout=0.0, activation="gelu",
                                                  batch_first=True, norm_first=True)
        w = weights_of(mine)
        theirs.load_state_dict({t: torch.tensor(w[m]) for t, m in _BLOCK_NAMES.items()})
        theirs.eval()
        x = np.random.default_rng(6).standard_normal((2, 10, 16)).astype(np.float32)
        mask = torch.nn.Transformer.generate_square_subsequent_mask(10)
        with torch.no_grad():
            expected = theirs(torch.tensor(x), src_mask=mask, is_causal=True).numpy()
        gap = np.abs(mine(mt.tensor(x)).numpy() - expected).max()
        print(f"torch {torch.__version__}: your Block and TransformerEncoderLayer differ by at most {gap:.1e}"
              f" -> equal to float32 tolerance: {bool(gap < 1e-4)}")
    except Exception as err:  # an unwritten part, or another torch: say so and go on
        print(f"the comparison with PyTorch did not run: {type(err).__name__}: {err}")

# %% [markdown]
# The text, as ids: your tokenizer (or the package's, if yours is not written yet), its vocabulary taken
# from the whole text so that the held-out part has no unknown characters.

# %%
Tokenizer = chapter.fallback("tokenizer", CharTokenizer, lambda cls: cls("ab").decode(cls("ab").encode("ba")))
tok = Tokenizer(TEXT)
train_ids, held_out_ids = tok.encode(TRAIN_TEXT), tok.encode(HELD_OUT_TEXT)
trained_gpt = None  # the test cell of part 8 keeps the model it trained here
print(f"{tok.vocab_size} characters; {len(train_ids)} to train on, {len(held_out_ids)} held out")

# %% [markdown]
# ## Milestone: a tiny GPT on Shakespeare's sonnets
#
# GPT is the embedding, a stack of blocks, a last `LayerNorm` and a linear **head** from `d_model` to
# `vocab_size` logits at every position. It is trained on every position at once: the input is a window
# of `block_size` characters, the target the same window shifted by one, and the causal mask keeps
# position `t` from seeing its own answer.
#
# ### Part 8 · `GPT` and `train_gpt` (4 points)
#
# - `GPT(vocab_size, d_model=64, n_heads=4, n_layers=2, block_size=32)`: `self.embed =
#   TokenPositionEmbedding(...)`, `self.blocks = mt.nn.ModuleList([...])` of your `Block`s, `self.ln_f`
#   (your `LayerNorm`), `self.head = mt.nn.Linear(d_model, vocab_size)`, `self.block_size`.
#   `forward(ids, caches=None, start=0)`: `(B, T)` ids → `(B, T, vocab_size)` logits; `caches` is `None` or
#   a list of one dict per block (passed to each block), `start` goes to the embedding.
# - `train_gpt(train_ids, vocab_size, seed=0)`: build a `GPT` after `mt.manual_seed(seed)`, train it with an
#   optimizer from `mt.optim` (`AdamW(lr=3e-3)` works) on random windows of `train_ids` drawn with
#   `np.random.default_rng(seed)`, batches of 16 windows of 32, cross-entropy over every position
#   (reshape logits to `(B*T, V)`), the loop of chapter 08; keep each step's loss in `model.losses` (a list:
#   a figure below draws it) and return the model.
#
# The test cell measures the model itself, on the last 10% of the text it never trained on: the
# mean cross-entropy per character must be **below 2.45 nats** (a model that knows only how often each
# character occurs scores 3.12; the reference reaches 2.23 in 160 steps, ~15 s). It must train in under 150 s.

# %% [solution] id=gpt
class GPT(mt.nn.Module):
    def __init__(self, vocab_size, d_model=64, n_heads=4, n_layers=2, block_size=32):
        super().__init__()
        ### BEGIN SOLUTION
        self.block_size = block_size
        self.embed = TokenPositionEmbedding(vocab_size, block_size, d_model)
        self.blocks = mt.nn.ModuleList([Block(d_model, n_heads) for _ in range(n_layers)])
        self.ln_f = LayerNorm(d_model)
        self.head = mt.nn.Linear(d_model, vocab_size)
        ### END SOLUTION

    def forward(self, ids, caches=None, start=0):
        ### BEGIN SOLUTION
        x = self.embed(ids, start)
        for i, block in enumerate(self.blocks):
            x = block(x, None if caches is None else caches[i])
        return self.head(self.ln_f(x))
        ### END SOLUTION


def train_gpt(train_ids, vocab_size, seed=0, steps=160, batch=16, length=32):
    """A GPT trained on random windows of train_ids; returns the model (and keeps its losses in .losses)."""
    ### BEGIN SOLUTION
    mt.manual_seed(seed)
    model = GPT(vocab_size, block_size=length)
    optimizer = mt.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    rng = np.random.default_rng(seed)
    data = np.asarray(train_ids)
    model.train()
    model.losses = []
    for _ in range(steps):
        starts = rng.integers(0, len(data) - length - 1, batch)
        x = np.stack([data[s : s + length] for s in starts])
        y = np.stack([data[s + 1 : s + length + 1] for s in starts])
        logits = model(mt.tensor(x))
        loss = F.cross_entropy(logits.reshape(batch * length, -1), mt.tensor(y.reshape(-1)))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        model.losses.append(loss.item())
    return model
    ### END SOLUTION

# %% [tests] id=gpt_tests points=4
_vocab = sorted(set(TEXT))  # the checks' own ids: independent of your tokenizer
_stoi = {c: i for i, c in enumerate(_vocab)}
_train = np.array([_stoi[c] for c in TRAIN_TEXT])
_held = np.array([_stoi[c] for c in HELD_OUT_TEXT])
with testing.part("gpt"):
    _start = time.perf_counter()
    _model = train_gpt(_train, len(_vocab), seed=0)
    _seconds = time.perf_counter() - _start
    _loss = held_out_loss(_model, _held, _model.block_size)
    print(f"your GPT: {_loss:.3f} nats per character on the held-out sonnets, trained in {_seconds:.1f} s")
    testing.assert_true(_loss < 2.45, call="train_gpt(train ids, vocab_size, seed=0), measured on the held-out text",
                        got=f"cross-entropy {_loss:.3f}", expected="below 2.45",
                        hint="targets are the inputs shifted by one; AdamW(lr=3e-3) for ~160 steps of 16 x 32")
    testing.assert_true(_seconds < 150, call="train_gpt(...)", got=f"{_seconds:.0f} s", expected="under 150 s",
                        hint="keep the model tiny (d_model 64, 2 layers) and the steps to a few hundred")
    trained_gpt = _model
### BEGIN HIDDEN TESTS
with testing.part("gpt", hidden=True):
    mt.manual_seed(2)
    _g = GPT(11, d_model=16, n_heads=2, n_layers=3, block_size=8)
    testing.assert_equal(len(_g.blocks), 3, call="len(GPT(11, 16, 2, n_layers=3, 8).blocks)")
    _ids = mt.tensor(np.array([[1, 2, 3, 4, 5], [5, 4, 3, 2, 1]]))
    _out = _g(_ids)
    testing.assert_equal(_out.shape, (2, 5, 11), call="GPT(vocab 11)(ids (2, 5)).shape")
    _changed = _g(mt.tensor(np.array([[1, 2, 3, 9, 9], [5, 4, 3, 0, 0]]))).numpy()
    testing.assert_close(_changed[:, :3], _out.numpy()[:, :3], atol=1e-5,
                         call="GPT logits at positions 0..2 after tokens 3..4 change", hints="keep every block causal")
    _part = held_out_loss(_model, _held[:1000], _model.block_size)
    testing.assert_true(_part < 2.6, call="your model on the first 1000 held-out characters", got=f"{_part:.3f}",
                        expected="below 2.6")
### END HIDDEN TESTS

# %% [markdown]
# What it writes: 300 characters from the prompt `"Shall I "`, drawn at temperature 0.8 from a fixed seed
# (part 9's `sample_next`: the logits divided by the temperature before the softmax; below 1 sharpens,
# above 1 flattens). A 2-layer model trained for a minute gets words, line lengths and some spelling.

# %%
def sample_text(model, prompt, n_new, temperature, seed):
    """Sampling without a cache, written here so the text shows before part 9 is done."""
    rng = np.random.default_rng(seed)
    ids = tok.encode(prompt)
    model.eval()
    with mt.no_grad():
        for _ in range(n_new):
            logits = model(mt.tensor(np.array([ids[-model.block_size:]]))).numpy()[0, -1].astype(np.float64)
            p = np.exp((logits - logits.max()) / temperature)
            ids.append(int(rng.choice(len(p), p=p / p.sum())))
    return tok.decode(ids)


if trained_gpt is None:
    print("the generated text appears here once parts 1-8 run")
else:
    print(sample_text(trained_gpt, "Shall I ", 300, temperature=0.8, seed=0))

# %% [markdown]
# ### What the heads learned
#
# The attention weights of the first block's heads on a line of held-out text: row `i` is what
# position `i` looks at. Everything right of the diagonal is 0 (the mask); heads differ, typically one
# looks mostly at the previous character or two, others spread over the word or the line.

# %%
def head_weights(model, ids):
    """Block 0's attention weights (H, T, T) on ids, recomputed from its weights in NumPy."""
    block = model.blocks[0]
    with mt.no_grad():
        x = block.ln1(model.embed(mt.tensor(np.array([ids])))).numpy()[0].astype(np.float64)
    w = weights_of(block.attn)
    d = x.shape[-1]
    qkv = x @ w["qkv.weight"].T + w["qkv.bias"]
    heads = block.attn.n_heads
    q, k = (qkv[:, i * d:(i + 1) * d].reshape(len(ids), heads, -1).transpose(1, 0, 2) for i in (0, 1))
    s = q @ k.transpose(0, 2, 1) / math.sqrt(d // heads)
    s = np.where(np.triu(np.ones(s.shape[-2:], bool), 1), -np.inf, s)
    e = np.exp(s - s.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


if trained_gpt is not None:
    line = HELD_OUT_TEXT[200:232]
    maps = head_weights(trained_gpt, tok.encode(line))
    fig, axes = plt.subplots(1, len(maps), figsize=(3.2 * len(maps), 3.4))
    for h, (ax, m) in enumerate(zip(axes, maps)):
        ax.imshow(m, cmap="Blues")
        ax.set_xticks(range(len(line)), list(line), fontsize=6)
        ax.set_yticks(range(len(line)), list(line), fontsize=6)
        ax.set_title(f"block 0, head {h}", fontsize=9)
    plt.tight_layout()
    plt.show()

# %% [markdown]
# ### Why the scale matters: training without it
#
# Left: the same GPT and seed, trained for 80 steps with the scores *not* divided by `sqrt(d_head)` (the
# cell swaps your `attention` for one with `scale=1.0`, and swaps it back). At this size the two curves
# stay close: a head here is only 16 wide, so unscaled scores are only 4 times too large, and small at
# initialisation anyway. Right: why it matters as heads widen (GPT-2's are 64 wide, large models' 128).
# For queries and keys with unit-variance entries, the largest of 32 attention weights, averaged over
# queries: unscaled, the softmax turns one-hot as the width grows (and a one-hot softmax passes almost
# no gradient); scaled, it stays where it started, whatever the width.

# %%
if trained_gpt is not None:
    scaled_attention = attention

    def attention(query, key, value, is_causal=False, scale=None):  # noqa: F811 (swapped back below)
        return scaled_attention(query, key, value, is_causal=is_causal, scale=1.0)

    try:
        unscaled = train_gpt(train_ids, tok.vocab_size, seed=0, steps=80)
    finally:
        attention = scaled_attention
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 3.4))
    smooth = np.ones(10) / 10
    ax.plot(np.convolve(trained_gpt.losses[:80], smooth, "valid"), label="scores / sqrt(d_head)")
    ax.plot(np.convolve(unscaled.losses, smooth, "valid"), "--", label="no scale")
    ax.set_xlabel("step")
    ax.set_ylabel("training loss (mean of 10 steps)")
    ax.set_title("the chapter's GPT (d_head = 16)", fontsize=10)
    ax.legend()
    widths = [4, 16, 64, 256, 1024]
    rng = np.random.default_rng(0)
    for scaled, style in ((True, "o-"), (False, "s--")):
        peaks = []
        for d in widths:
            q, k = rng.standard_normal((64, d)), rng.standard_normal((32, d))
            s = q @ k.T / (math.sqrt(d) if scaled else 1.0)
            w = np.exp(s - s.max(-1, keepdims=True))
            peaks.append(float((w / w.sum(-1, keepdims=True)).max(-1).mean()))
        ax2.semilogx(widths, peaks, style, label="scores / sqrt(d)" if scaled else "no scale")
    ax2.set_xlabel("head width d")
    ax2.set_ylabel("largest of 32 weights (mean)")
    ax2.set_title("softmax at initialisation: one-hot without the scale", fontsize=10)
    ax2.legend()
    plt.tight_layout()
    plt.show()

# %% [markdown]
# ### Why residuals matter: gradients through depth
#
# A stack of 12 of your blocks at initialisation, once as written and once with the residual additions
# removed (`x = attn(ln1(x))`, `x = mlp(ln2(x))`). The plot shows the size of the gradient reaching each
# block's input from a loss at the top. With residuals it stays level (the identity path carries it);
# without them it changes by a factor at every block.

# %%
class NoResidualBlock(Block):
    def forward(self, x, cache=None):
        x = self.attn(self.ln1(x))
        return self.fc2(F.gelu(self.fc1(self.ln2(x))))


def gradient_norms(block_class, depth=12, d_model=32, seed=0):
    mt.manual_seed(seed)
    blocks = [block_class(d_model, 4) for _ in range(depth)]
    x = mt.tensor(np.random.default_rng(seed).standard_normal((2, 16, d_model)).astype(np.float32))
    inputs = []
    for block in blocks:
        x = x.detach().requires_grad_(True) if not inputs else x
        x.retain_grad()
        inputs.append(x)
        x = block(x)
    (x ** 2).mean().backward()
    return [float(np.linalg.norm(t.grad.numpy())) for t in inputs]


try:
    with_res, without_res = gradient_norms(Block), gradient_norms(NoResidualBlock)
    fig, ax = plt.subplots(figsize=(6, 3.4))
    ax.semilogy(range(1, 13), with_res, "o-", label="pre-norm with residuals")
    ax.semilogy(range(1, 13), without_res, "s--", label="no residuals")
    ax.set_xlabel("block (1 = bottom)")
    ax.set_ylabel("|d loss / d block input|")
    ax.set_title("gradient size through 12 blocks at initialisation", fontsize=10)
    ax.legend()
    plt.tight_layout()
    plt.show()
except NotImplementedError:
    print("the gradient plot appears once parts 4-7 run")

# %% [markdown]
# ## Generating fast: the key-value cache
#
# Generating `n` tokens without a cache runs the whole model on the whole prefix at every step: token
# `t`'s keys and values are recomputed `n - t` times, and each step costs as much as a forward over the
# prefix. But with a causal mask, the keys and values of earlier positions **never change** when a token
# is appended. So keep them: each block's attention stores its keys and values `(B, H, T, dh)` in a
# cache, and a new step computes the query, key and value of the **new token only**, appends its key
# and value, and attends over all of them. Every serving system (vLLM's paged attention, Hugging Face's
# `past_key_values`) is built around this cache; its memory, `2 x layers x T x d_model` numbers per
# sequence, is what limits how many users a GPU can serve.
#
# ### Part 9 · `attend_cached`, `sample_next`, `generate` (4 points)
#
# - `attend_cached(attn, x, cache)`: `attn` is one of your `MultiHeadSelfAttention`s, `x` the `(B, T, D)`
#   input of the new tokens, `cache` a dict (empty at first). Compute q, k, v of `x` with `attn.qkv` and
#   `split_heads`; if the cache holds `"k"` and `"v"`, concatenate them in front along the time axis
#   (`mt.cat([..., ...], dim=2)`); store the result back; attend with your `attention`, causal when the
#   queries are all the keys (the first call, the prompt) and unmasked when the new token is the last
#   (it may see every cached key); merge the heads and apply `attn.proj`.
# - `sample_next(logits, temperature, rng)`: `logits` a NumPy vector. Temperature `0` → `argmax`; else
#   `p = softmax(logits / temperature)` in float64 and `int(rng.choice(len(p), p=p))`.
# - `generate(model, prompt, n_new, temperature=1.0, seed=0, use_cache=True)`: `rng =
#   np.random.default_rng(seed)`; returns the `n_new` new ids (a list). Without the cache: each step runs
#   `model` on the last `block_size` ids. With it: one call on the prompt with `caches = [{} for each
#   block]` and `start=0`, then one call per new token with that token alone and `start` = its position.
#   In eval mode and under `mt.no_grad()`. (With the cache, the prompt plus the new tokens must fit in
#   `block_size`: the position table has no rows beyond it.)

# %% [solution] id=kv_cache
def attend_cached(attn, x, cache):  # noqa: F811 (replaces the setup cell's placeholder)
    """Causal self-attention of the new tokens x (B, T, D) over the cached keys and values, then theirs."""
    ### BEGIN SOLUTION
    q, k, v = attn.qkv(x).split(x.shape[-1], dim=-1)
    q, k, v = (split_heads(t, attn.n_heads) for t in (q, k, v))
    if "k" in cache:
        k = mt.cat([cache["k"], k], dim=2)
        v = mt.cat([cache["v"], v], dim=2)
    cache["k"], cache["v"] = k, v
    out = attention(q, k, v, is_causal=q.shape[2] == k.shape[2])
    return attn.proj(merge_heads(out))
    ### END SOLUTION


def sample_next(logits, temperature, rng):
    """The next id from a logits vector: argmax at temperature 0, else a draw from softmax(logits / temperature)."""
    ### BEGIN SOLUTION
    logits = np.asarray(logits, dtype=np.float64)
    if temperature == 0:
        return int(np.argmax(logits))
    z = logits / temperature
    p = np.exp(z - z.max())
    return int(rng.choice(len(p), p=p / p.sum()))
    ### END SOLUTION


def generate(model, prompt, n_new, temperature=1.0, seed=0, use_cache=True):
    """The n_new ids that follow `prompt` (a list of ids), one at a time, with or without a KV cache."""
    ### BEGIN SOLUTION
    rng = np.random.default_rng(seed)
    ids = list(prompt)
    model.eval()
    with mt.no_grad():
        if use_cache:
            if len(ids) + n_new > model.block_size:
                raise ValueError("with the cache, prompt + new tokens must fit in block_size")
            caches = [{} for _ in model.blocks]
            logits = model(mt.tensor(np.array([ids])), caches=caches, start=0)
        for step in range(n_new):
            if not use_cache:
                logits = model(mt.tensor(np.array([ids[-model.block_size:]])))
            ids.append(sample_next(logits.numpy()[0, -1], temperature, rng))
            if use_cache and step < n_new - 1:
                logits = model(mt.tensor(np.array([[ids[-1]]])), caches=caches, start=len(ids) - 1)
    return ids[len(prompt):]
    ### END SOLUTION

# %% [tests] id=kv_cache_tests points=4
def _no_cache_generation(model, prompt, n_new, temperature, seed):
    """The checks' own generation without a cache (the same sampling rule)."""
    rng = np.random.default_rng(seed)
    ids = list(prompt)
    model.eval()
    with mt.no_grad():
        for _ in range(n_new):
            z = model(mt.tensor(np.array([ids[-model.block_size:]]))).numpy()[0, -1].astype(np.float64)
            if temperature == 0:
                ids.append(int(np.argmax(z)))
                continue
            p = np.exp(z / temperature - (z / temperature).max())
            ids.append(int(rng.choice(len(p), p=p / p.sum())))
    return ids[len(prompt):]


class _Lengths(mt.nn.Module):
    """Wraps the embedding and notes how many tokens each forward embeds."""

    def __init__(self, inner):
        super().__init__()
        self.inner, self.seen = inner, []

    def forward(self, ids, start=0):
        self.seen.append(ids.shape[1])
        return self.inner(ids, start)


with testing.part("kv_cache"):
    mt.manual_seed(0)
    _attn = MultiHeadSelfAttention(8, 2)
    _xs = mt.tensor(np.random.default_rng(0).standard_normal((1, 6, 8)).astype(np.float32))
    _cache = {}
    _pieces = [attend_cached(_attn, _xs[:, :3], _cache)] + [attend_cached(_attn, _xs[:, t:t + 1], _cache)
                                                              for t in range(3, 6)]
    testing.assert_close(mt.cat(_pieces, dim=1).numpy(), _attn(_xs).numpy(), atol=1e-5,
                         call="attend_cached on 3 tokens, then 1, 1, 1, against the attention of all 6",
                         hints=["append the new keys and values to the cache along the time axis (dim=2)",
                                "a single new token may see every cached key: no causal mask for it"])
    testing.assert_equal(tuple(_cache["k"].shape), (1, 2, 6, 4), call="cache['k'].shape after 6 tokens")
    mt.manual_seed(1)
    _g = GPT(13, d_model=16, n_heads=2, n_layers=2, block_size=24)
    _prompt = [3, 1, 4, 1, 5]
    _want = _no_cache_generation(_g, _prompt, 15, 0, 0)
    testing.assert_equal(generate(_g, _prompt, 15, temperature=0, use_cache=False), _want,
                         call="generate(gpt, prompt, 15, temperature=0, use_cache=False)")
    testing.assert_equal(generate(_g, _prompt, 15, temperature=0, use_cache=True), _want,
                         call="generate(gpt, prompt, 15, temperature=0, use_cache=True)",
                         hints="the new token's position is len(ids) - 1: start= must be its index, not one more")
    _rng = np.random.default_rng(5)
    _z = np.array([1.0, 2.0, 3.0])
    _p = np.exp(_z / 0.5 - 6)
    testing.assert_equal(sample_next(_z, 0.5, np.random.default_rng(5)), int(_rng.choice(3, p=_p / _p.sum())),
                         call="sample_next([1, 2, 3], temperature=0.5, rng seeded 5)",
                         hints="divide the logits by the temperature before the softmax")
### BEGIN HIDDEN TESTS
with testing.part("kv_cache", hidden=True):
    _want = _no_cache_generation(_g, _prompt, 19, 1.3, 7)
    testing.assert_equal(generate(_g, _prompt, 19, temperature=1.3, seed=7, use_cache=True), _want,
                         call="generate(gpt, prompt, 19, temperature=1.3, seed=7, use_cache=True)")
    testing.assert_equal(generate(_g, _prompt, 19, temperature=1.3, seed=7, use_cache=False), _want,
                         call="generate(..., use_cache=False)")
    _g.embed = _Lengths(_g.embed)
    generate(_g, _prompt, 6, temperature=0, use_cache=True)
    testing.assert_equal(_g.embed.seen, [5, 1, 1, 1, 1, 1], call="tokens embedded per forward of a cached generate",
                         hints="after the prompt, feed only the new token: its keys and values are all that is new")
    _g.embed = _g.embed.inner
    testing.assert_equal(sample_next(np.array([0.0, 5.0, 1.0]), 0, None), 1, call="sample_next([0, 5, 1], 0, rng)")
    _draws = [sample_next(np.array([0.0, np.log(3.0)]), 1.0, _r) for _r in [np.random.default_rng(11)] * 400]
    testing.assert_close(np.mean(_draws), 0.75, atol=0.07, call="the share of id 1 in 400 draws from logits [0, log 3]")
### END HIDDEN TESTS

# %% [markdown]
# ### What the cache saves, measured
#
# Tokens per second of your `generate` on the trained GPT, with and without the cache, for the 31 tokens
# that fill its 32-token window (best of 3 runs each; both produce the same text). Without the cache the
# model processes 1 + 2 + … + 31 = 496 positions, with it 31. The time saved is smaller than that
# 16x: a model this small spends most of each step on the fixed cost of its ~100 kernel calls, which
# both ways pay once per token. The saving in arithmetic grows with the square of the length (and the
# model's width), which is why every serving system caches.

# %%
if trained_gpt is None:
    print("the measurement appears once parts 1-9 run")
else:
    try:
        speeds = {}
        for use_cache in (False, True):
            best = math.inf
            for _ in range(3):  # the best of 3: a busy machine only ever slows a run down
                start = time.perf_counter()
                out = generate(trained_gpt, tok.encode("S"), 31, temperature=0.8, seed=1, use_cache=use_cache)
                best = min(best, time.perf_counter() - start)
            speeds[use_cache] = 31 / best
            print(f"use_cache={use_cache!s:5}: {speeds[use_cache]:7.1f} tokens/s  {tok.decode(out)!r}")
        print(f"the cache makes generation {speeds[True] / speeds[False]:.1f}x faster here")
    except NotImplementedError:
        print("the measurement appears once part 9 runs")

# %% [markdown]
# ## Attention's memory, and how PyTorch and FlashAttention avoid it
#
# Your `attention` builds the full `(L, S)` score matrix and the same-sized weights, per head and per
# batch entry, and autograd keeps them for the backward: at `L = S = 8192` that is 256 MiB per head in
# float32. Memory grows with the **square** of the sequence length, and, on a GPU, moving that matrix to
# and from memory costs more time than the arithmetic.
#
# FlashAttention (Dao et al., 2022) computes the same result without ever storing it: it walks over the
# keys in **blocks**, and keeps for each query only a running maximum `m`, a running sum of
# exponentials `l` and a running weighted sum of values. When a block raises the maximum, the old sums
# are rescaled by `exp(m_old - m_new)` (the **online softmax**), so the result is exact, not an
# approximation. Memory is linear in the length; the backward recomputes the scores block by block
# instead of storing them. `torch.nn.functional.scaled_dot_product_attention` picks such a kernel
# (FlashAttention, memory-efficient attention, or the plain maths) from the inputs and the hardware:
# one call, several reorganisations of the same formula.
#
# Below, in NumPy: the naive formula and a blocked online-softmax version, the peak memory of each
# (measured by `tracemalloc`) as the sequence grows, and the largest difference between their answers.

# %%
def naive_attention(q, k, v):
    s = q @ k.T / math.sqrt(q.shape[-1])
    w = np.exp(s - s.max(-1, keepdims=True))
    return (w / w.sum(-1, keepdims=True)) @ v


def blocked_attention(q, k, v, block=128):
    """FlashAttention's online softmax over blocks of keys: never more than (L, block) scores at once."""
    m = np.full((q.shape[0], 1), -np.inf, dtype=q.dtype)
    total = np.zeros((q.shape[0], 1), dtype=q.dtype)
    acc = np.zeros((q.shape[0], v.shape[1]), dtype=q.dtype)
    for j in range(0, k.shape[0], block):
        s = q @ k[j:j + block].T / math.sqrt(q.shape[-1])
        m_new = np.maximum(m, s.max(-1, keepdims=True))
        rescale, p = np.exp(m - m_new), np.exp(s - m_new)
        total = total * rescale + p.sum(-1, keepdims=True)
        acc = acc * rescale + p @ v[j:j + block]
        m = m_new
    return acc / total


def peak_bytes(fn, *args):
    tracemalloc.start()
    tracemalloc.reset_peak()
    fn(*args)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


lengths = [256, 512, 1024, 2048]
rng = np.random.default_rng(0)
naive_peak, blocked_peak = [], []
for n in lengths:
    q, k, v = (rng.standard_normal((n, 64)).astype(np.float32) for _ in range(3))
    naive_peak.append(peak_bytes(naive_attention, q, k, v))
    blocked_peak.append(peak_bytes(blocked_attention, q, k, v))
gap = np.abs(naive_attention(q, k, v) - blocked_attention(q, k, v)).max()
print(f"L = S = {lengths[-1]}: the two answers differ by at most {gap:.1e}; one score matrix is "
      f"{lengths[-1] ** 2 * 4 / 2 ** 20:.0f} MiB")
fig, ax = plt.subplots(figsize=(6, 3.4))
ax.loglog(lengths, np.array(naive_peak) / 2 ** 20, "o-", label="naive: the whole (L, L) matrix")
ax.loglog(lengths, np.array(blocked_peak) / 2 ** 20, "s-", label="blocked online softmax (128 keys at a time)")
ax.loglog(lengths, np.array(lengths) ** 2 * 4 / 2 ** 20, "k:", label="bytes of one float32 score matrix")
ax.set_xlabel("sequence length L (d = 64, one head)")
ax.set_ylabel("peak memory (MiB)")
ax.set_title("attention's memory: quadratic, or linear when blocked", fontsize=10)
ax.legend(fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## What you built
#
# | you wrote | PyTorch | Keras |
# | --- | --- | --- |
# | `CharTokenizer`, BPE merges | `tiktoken`, Hugging Face `tokenizers` | `keras_hub` tokenizers |
# | `Embedding`, `TokenPositionEmbedding` | `nn.Embedding` | `layers.Embedding` |
# | `attention` | `F.scaled_dot_product_attention` | `ops.dot_product_attention` |
# | `MultiHeadSelfAttention` | `nn.MultiheadAttention` | `layers.MultiHeadAttention` |
# | `LayerNorm`, `Block` | `nn.LayerNorm`, `nn.TransformerEncoderLayer(norm_first=True)` | `layers.LayerNormalization` |
# | `generate` with a KV cache | `past_key_values` in Hugging Face models | `keras_hub` samplers with a cache |
#
# The same code, scaled up (wider, deeper, BPE tokens, many GPUs, FlashAttention kernels), is GPT-2.
