"""Wrong solutions for chapter 12 (attention): the mistakes of a first tokenizer, attention and GPT.

Each entry is the chapter's own solution cell with one mistake put in (so the rest of the part stays
right and the mistake alone must be caught). Names ending in `_hidden_only` pass the visible
self-check and fail only the hidden tests.
"""

from tests.course.runner import ROOT, make_notebooks

SLUG = "12_attention"
_PATH = ROOT / "course" / "chapters" / f"{SLUG}.py"
_CELLS = {c.grade_id: c.source for c in make_notebooks.parse(_PATH.read_text(), str(_PATH)) if c.kind == "solution"}


def _vary(part: str, *edits: tuple[str, str]) -> str:
    """The solution of `part` with each (old, new) edit applied; an edit that matches nothing is a bug here."""
    source = _CELLS[part]
    for old, new in edits:
        assert old in source, f"{SLUG}/{part}: the catalogue's edit does not match the solution: {old!r}"
        source = source.replace(old, new)
    return source


WRONG = {
    "tokenizer": {
        "vocab_in_order_of_appearance": _vary("tokenizer", ("sorted(set(text))", "list(dict.fromkeys(text))")),
        "unknown_character_skipped": _vary("tokenizer", (
            'raise KeyError(f"character {ch!r} is not in the vocabulary")', "continue")),
        "decode_without_tolist": _vary("tokenizer",
                                       ('        if hasattr(ids, "tolist"):\n            ids = ids.tolist()\n', ""),
                                       ("self.itos[int(i)]", "self.itos[i]")),
        "vocab_from_set_order": _vary("tokenizer", ("sorted(set(text))", "list(set(text))")),
    },
    "bpe": {
        "merges_overlapping_pairs": _vary("bpe", ("            i += 2\n", "            i += 1\n")),
        "ties_to_the_later_pair": _vary("bpe", ("(counts[p], -first[p])", "(counts[p], first[p])")),
        "ties_broken_by_pair_value": _vary("bpe", ("(counts[p], -first[p])", "(counts[p], p)")),
        "ties_to_the_smallest_pair_hidden_only": _vary("bpe", ("(counts[p], -first[p])",
                                                               "(counts[p], tuple(-t for t in p))")),
    },
    "embedding": {
        "weights_start_at_zero_hidden_only": _vary("embedding", ("mt.randn(num_embeddings, embedding_dim)",
                                                                 "mt.zeros(num_embeddings, embedding_dim)")),
        "positions_ignore_start_hidden_only": _vary("embedding", ("np.arange(start, start + length)",
                                                                  "np.arange(length)")),
        "positions_looked_up_by_token_id": _vary("embedding", ("self.pos(mt.tensor(np.arange(start, start + length)))",
                                                               "self.pos(ids)")),
        "rows_not_reshaped": _vary("embedding", ("return rows.reshape(tuple(ids.shape) + (self.weight.shape[1],))",
                                                 "return rows")),
    },
    "attention": {
        "mask_applied_after_softmax": _vary("attention", (
            '        scores = scores.masked_fill(mt.tensor(future), float("-inf"))\n', ""), (
            "    return weights @ value",
            "    if is_causal:\n        weights = weights.masked_fill(mt.tensor(future), 0.0)\n"
            "    return weights @ value")),
        "scale_forgotten": _vary("attention", ("1.0 / math.sqrt(query.shape[-1]) if scale is None",
                                               "1.0 if scale is None")),
        "scale_by_d_not_sqrt_d": _vary("attention", ("1.0 / math.sqrt(query.shape[-1])", "1.0 / query.shape[-1]")),
        "softmax_without_max_shift": _vary("attention", (
            "    scores = scores - scores.max(-1, keepdim=True).values.detach()\n", "")),
        "mask_hides_the_diagonal": _vary("attention", ("dtype=bool), k=1)", "dtype=bool), k=0)")),
    },
    "heads": {
        "transpose_mixes_batch_and_head": _vary("heads", (
            "x.view(batch, length, n_heads, width // n_heads).transpose(1, 2)",
            "x.view(n_heads, batch, length, width // n_heads).transpose(0, 1)")),
        "heads_copied_not_viewed": _vary("heads", (".transpose(1, 2)\n", ".transpose(1, 2).contiguous()\n")),
        "heads_cut_without_transpose": _vary("heads", (
            "x.view(batch, length, n_heads, width // n_heads).transpose(1, 2)",
            "x.view(batch, n_heads, length, width // n_heads)")),
        "merge_without_transpose": _vary("heads", ("y.transpose(1, 2).reshape(batch, length, heads * width)",
                                                   "y.reshape(batch, length, heads * width)")),
        "not_causal": _vary("heads", ("attention(q, k, v, is_causal=True)", "attention(q, k, v)")),
    },
    "layernorm": {
        "normalised_over_the_batch_axis": _vary("layernorm", ("x.mean(-1, keepdim=True)", "x.mean(0, keepdim=True)"),
                                                ("((x - mean) ** 2).mean(-1, keepdim=True)",
                                                 "((x - mean) ** 2).mean(0, keepdim=True)")),
        "unbiased_variance": _vary("layernorm", ("((x - mean) ** 2).mean(-1, keepdim=True)",
                                                 "((x - mean) ** 2).sum(-1, keepdim=True) / (x.shape[-1] - 1)")),
        "eps_outside_the_sqrt_hidden_only": _vary("layernorm", ("(var + self.eps).sqrt()",
                                                                "(var.sqrt() + self.eps)")),
        "weight_and_bias_not_parameters": _vary("layernorm", ("mt.nn.Parameter(mt.ones(normalized_shape))",
                                                              "mt.ones(normalized_shape)"),
                                                ("mt.nn.Parameter(mt.zeros(normalized_shape))",
                                                 "mt.zeros(normalized_shape)")),
    },
    "block": {
        "no_residual": _vary("block", ("x = x + self.attn(self.ln1(x), cache)",
                                       "x = self.attn(self.ln1(x), cache)"),
                             ("return x + self.fc2(", "return self.fc2(")),
        "post_norm": _vary("block", ("x = x + self.attn(self.ln1(x), cache)",
                                     "x = self.ln1(x + self.attn(x, cache))"),
                           ("return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))",
                            "return self.ln2(x + self.fc2(F.gelu(self.fc1(x))))")),
        "relu_instead_of_gelu": _vary("block", ("F.gelu(", "F.relu(")),
        "one_norm_for_both_sublayers": _vary("block", ("self.fc1(self.ln2(x))", "self.fc1(self.ln1(x))")),
    },
    "gpt": {
        "never_trained": _vary("gpt", ("    for _ in range(steps):", "    for _ in range(0):")),
        "targets_not_shifted": _vary("gpt", ("data[s + 1 : s + length + 1]", "data[s : s + length]")),
        "plain_sgd_small_lr": _vary("gpt", ("mt.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)",
                                            "mt.optim.SGD(model.parameters(), lr=0.01)")),
    },
    "kv_cache": {
        "cache_off_by_one_position": _vary("kv_cache", ("start=len(ids) - 1)", "start=len(ids))")),
        "cache_not_appended": _vary("kv_cache", ('    if "k" in cache:\n        k = mt.cat([cache["k"], k], dim=2)\n'
                                                 '        v = mt.cat([cache["v"], v], dim=2)\n', "")),
        "new_token_masked_causally": _vary("kv_cache", ("is_causal=q.shape[2] == k.shape[2]", "is_causal=True")),
        "temperature_multiplies": _vary("kv_cache", ("z = logits / temperature", "z = logits * temperature")),
        "cache_never_used_hidden_only": _vary("kv_cache", ("    rng = np.random.default_rng(seed)\n",
                                                           "    rng = np.random.default_rng(seed)\n"
                                                           "    use_cache = False\n")),
    },
}
