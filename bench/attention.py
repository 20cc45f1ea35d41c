# ruff: noqa: B023  (every lambda below is timed within its own loop iteration, never later)
"""The attention rows of the CPU table (issue 25): what chapter 12's tiny GPT spends its time in,
against PyTorch (CPU) in the same run, float32, with both libraries on the same number of threads.

- F.scaled_dot_product_attention, causal, (B, H, L, E) = (8, 4, 128, 32), forward;
- nn.MultiheadAttention(128, 4, batch_first=True), self-attention on (8, 128, 128) with a causal
  mask, forward + backward (weights copied from torch's, so both compute the same thing);
- nn.TransformerEncoderLayer(128, 4, 512, dropout=0, gelu, norm_first, batch_first) on (8, 128, 128),
  causal, forward + backward.

Each result is checked against PyTorch's before it is timed. Bar: ≤ 3x PyTorch's time.
Run alone: `python -m bench --only attention`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from .report import Row, measure_interleaved

try:
    import torch
except ImportError:
    torch = None  # type: ignore[assignment]

B, H, L, E = 8, 4, 128, 32  # the SDPA row: batch, heads, length, head size
D_MODEL, FF = 128, 512  # the module rows: N = B, sequence L, features D_MODEL = H * E
BAR = 3.0


@contextmanager
def pinned_threads() -> Iterator[int]:
    """Torch on numba's thread count for the duration (restored after), so neither has more cores."""
    import numba

    threads = numba.get_num_threads()
    before = torch.get_num_threads() if torch is not None else None
    if torch is not None:
        torch.set_num_threads(threads)
    try:
        yield threads
    finally:
        if before is not None:
            torch.set_num_threads(before)


def _check(got: Any, expected: Any, what: str, tol: float = 2e-4) -> None:
    got, expected = np.asarray(got), np.asarray(expected)
    if got.shape != expected.shape or not np.allclose(got, expected, rtol=tol, atol=tol):
        worst = float(np.max(np.abs(got - expected))) if got.shape == expected.shape else -1.0
        raise AssertionError(f"{what}: differs from torch (shapes {got.shape}, {expected.shape}; error {worst:.3g})")


def _row(label: str, ours: Callable[[], Any], theirs: Callable[[], Any] | None, repeats: int, threads: int) -> Row:
    stats = measure_interleaved({"ours": ours, "torch": theirs}, repeats)
    torch_ms = stats["torch"].median if stats["torch"] else None
    return Row(label, stats["ours"], None, torch_ms, "torch", BAR, f"≤{BAR:g}x torch", note=f"{threads} threads each")


def sdpa_row(repeats: int, threads: int) -> Row:
    import minitorch_edu as mt
    from minitorch_edu.nn import functional as F

    rng = np.random.default_rng(25)
    Q, K, V = (rng.standard_normal((B, H, L, E), dtype=np.float32) for _ in range(3))
    q, k, v = mt.tensor(Q), mt.tensor(K), mt.tensor(V)
    ours = lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True)  # noqa: E731
    theirs = None
    if torch is not None:
        tq, tk, tv = map(torch.from_numpy, (Q, K, V))

        def theirs() -> Any:
            with torch.no_grad():
                return torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, is_causal=True)

        _check(ours().numpy(), theirs().numpy(), "SDPA")
    with mt.no_grad():
        return _row(f"F.scaled_dot_product_attention causal ({B},{H},{L},{E})", ours, theirs, repeats, threads)


def _copied(ours: Any, theirs: Any) -> None:
    import minitorch_edu as mt

    ours.load_state_dict({k: mt.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})


def _step_pair(ours_module: Any, torch_module: Any, call: Callable[[Any, Any, Any], Any]) -> tuple[Callable, Callable]:
    """(ours, torch's) forward + backward on the same input, the gradient of sum(out * G)."""
    import minitorch_edu as mt

    rng = np.random.default_rng(26)
    X = rng.standard_normal((B, L, D_MODEL), dtype=np.float32)
    G = rng.standard_normal((B, L, D_MODEL), dtype=np.float32)
    causal = ~np.tril(np.ones((L, L), dtype=bool))
    x, g, mask = mt.tensor(X, requires_grad=True), mt.tensor(G), mt.tensor(causal)
    tx = torch.from_numpy(X.copy()).requires_grad_(True) if torch is not None else None
    tg, tmask = (torch.from_numpy(G), torch.from_numpy(causal)) if torch is not None else (None, None)

    def ours() -> Any:
        x.grad = None
        ours_module.zero_grad()
        call(ours_module, x, mask).backward(g)
        return x.grad

    def theirs() -> Any:
        tx.grad = None
        torch_module.zero_grad()
        call(torch_module, tx, tmask).backward(tg)
        return tx.grad

    if torch is not None:
        _check(ours().numpy(), theirs().numpy(), f"{type(ours_module).__name__} input gradient", tol=1e-3)
    return ours, (theirs if torch is not None else None)


def mha_row(repeats: int, threads: int) -> Row:
    from minitorch_edu import nn

    ours_mha = nn.MultiheadAttention(D_MODEL, H, batch_first=True)
    torch_mha = torch.nn.MultiheadAttention(D_MODEL, H, batch_first=True) if torch is not None else None
    if torch_mha is not None:
        _copied(ours_mha, torch_mha)
    call = lambda m, x, mask: m(x, x, x, attn_mask=mask, need_weights=False, is_causal=True)[0]  # noqa: E731
    ours, theirs = _step_pair(ours_mha, torch_mha, call)
    label = f"nn.MultiheadAttention({D_MODEL},{H}) causal fwd+bwd ({B},{L},{D_MODEL})"
    return _row(label, ours, theirs, repeats, threads)


def encoder_row(repeats: int, threads: int) -> Row:
    from minitorch_edu import nn

    kw = dict(dim_feedforward=FF, dropout=0.0, activation="gelu", batch_first=True, norm_first=True)
    ours_layer = nn.TransformerEncoderLayer(D_MODEL, H, **kw)
    torch_layer = torch.nn.TransformerEncoderLayer(D_MODEL, H, **kw) if torch is not None else None
    if torch_layer is not None:
        _copied(ours_layer, torch_layer)
    call = lambda m, x, mask: m(x, src_mask=mask, is_causal=True)  # noqa: E731
    ours, theirs = _step_pair(ours_layer, torch_layer, call)
    label = f"nn.TransformerEncoderLayer({D_MODEL},{H},{FF}) causal fwd+bwd ({B},{L},{D_MODEL})"
    return _row(label, ours, theirs, repeats, threads)


def attention_rows(repeats: int) -> list[Row]:
    with pinned_threads() as threads:
        return [sdpa_row(repeats, threads), mha_row(repeats, threads), encoder_row(repeats, threads)]
