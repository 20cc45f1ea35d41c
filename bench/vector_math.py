# ruff: noqa: B023  (every lambda below is timed within its own loop iteration, never later)
"""The transcendental rows of the CPU table (issue 26): exp, log, tanh, sigmoid, erf and GELU, the
softmax / log-softmax / layer-norm / GELU blocks, and a fused `mt.jit` chain of tanh and sigmoid,
against NumPy and PyTorch in the same run.

- each op over 4M float32 elements, contiguous, and over a strided input (the transpose of a
  (2048, 2048) matrix) or a broadcast one (a (2048, 1) column expanded to (2048, 2048));
  bar: ≤ 2x PyTorch's time (NumPy has no erf or GELU: the NumPy column of those is "-");
- the blocks a model spends its time in: F.softmax and F.log_softmax over the last dim of
  (4096, 1024), nn.LayerNorm(1024) forward and forward + backward, F.gelu forward + backward;
  bar: ≤ 2x PyTorch;
- the chain ((((a*b + 1).tanh() - a) * 0.5).sigmoid() + b).relu() * a over 4M float32, eager and
  through `mt.jit` (one fused kernel); bar: the fused one ≤ 0.6x NumPy's time (NumPy's nine passes).

Run alone: `python -m bench --only vector_math`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .report import Row, measure_interleaved

try:
    import torch
except ImportError:
    torch = None  # type: ignore[assignment]

N = 4 * 1024 * 1024
GELU_C = np.sqrt(2.0 / np.pi)


def _np_gelu_tanh(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + np.tanh(GELU_C * (x + 0.044715 * x * x * x)))


def _check(got: Any, expected: np.ndarray, what: str, tol: float = 1e-5) -> None:
    got = np.asarray(got)
    if got.shape != expected.shape or not np.allclose(got, expected, rtol=tol, atol=tol, equal_nan=True):
        worst = float(np.max(np.abs(got.astype(np.float64) - expected))) if got.shape == expected.shape else -1
        raise AssertionError(f"{what}: differs from the reference (shape {got.shape}, max abs error {worst:.3g})")


def _row(
    label: str, ours: Callable[[], Any], numpy_fn: Callable[[], Any] | None, torch_fn: Callable[[], Any] | None,
    repeats: int, bar: float = 2.0, grad: bool = False,
) -> Row:
    if torch_fn is not None and torch is not None and not grad:
        plain = torch_fn

        def torch_fn() -> Any:
            with torch.no_grad():
                return plain()

    stats = measure_interleaved(
        {"ours": ours, "numpy": numpy_fn, "torch": torch_fn if torch is not None else None}, repeats
    )
    median = lambda k: stats[k].median if stats[k] else None  # noqa: E731
    return Row(label, stats["ours"], median("numpy"), median("torch"), "torch", bar, f"≤{bar:g}x torch")


def op_rows(repeats: int) -> list[Row]:
    """Each transcendental op over 4M float32: contiguous, transposed and broadcast inputs."""
    import minitorch_edu as mt
    from minitorch_edu.nn import functional as F

    rng = np.random.default_rng(11)
    X = (rng.standard_normal(N) * 2).astype(np.float32)
    M = (rng.standard_normal((2048, 2048)) * 2).astype(np.float32)
    C = (rng.standard_normal((2048, 1)) * 2).astype(np.float32)
    x, m, col = mt.tensor(X), mt.tensor(M), mt.tensor(C)
    tX, tM, tC = (torch.from_numpy(X), torch.from_numpy(M), torch.from_numpy(C)) if torch else (None,) * 3
    erf64 = np.frompyfunc(__import__("math").erf, 1, 1)
    ops: list[tuple[str, Callable, Callable | None, Callable | None, Callable]] = [
        # name, ours(t), numpy(a) or None, torch(t), float64 reference(a)
        ("exp", lambda t: t.exp(), np.exp, lambda t: t.exp(), np.exp),
        ("log(abs)", lambda t: t.abs().log(), lambda a: np.log(np.abs(a)), lambda t: t.abs().log(),
         lambda a: np.log(np.abs(a))),
        ("tanh", lambda t: t.tanh(), np.tanh, lambda t: t.tanh(), np.tanh),
        ("sigmoid", lambda t: t.sigmoid(), lambda a: 1.0 / (1.0 + np.exp(-a)), lambda t: t.sigmoid(),
         lambda a: 1.0 / (1.0 + np.exp(-a))),
        ("erf", lambda t: t.erf(), None, lambda t: t.erf(), lambda a: erf64(a).astype(np.float64)),
        ("F.gelu", lambda t: F.gelu(t), None, lambda t: torch.nn.functional.gelu(t),
         lambda a: 0.5 * a * (1 + erf64(a / np.sqrt(2)).astype(np.float64))),
        ("F.gelu(tanh)", lambda t: F.gelu(t, approximate="tanh"), _np_gelu_tanh,
         lambda t: torch.nn.functional.gelu(t, approximate="tanh"), _np_gelu_tanh),
    ]
    rows = []
    for name, ours, np_fn, t_fn, ref in ops:
        # contiguous
        _check(ours(x).numpy()[:4096], ref(X[:4096].astype(np.float64)), f"{name} 4M")
        rows.append(_row(f"{name} 4M f32", lambda: ours(x), (lambda: np_fn(X)) if np_fn else None,
                         (lambda: t_fn(tX)) if tX is not None else None, repeats))
        # strided: the transpose of a (2048, 2048) matrix (numpy and torch read it strided too)
        _check(ours(m.T).numpy()[:8], ref(M.T[:8].astype(np.float64)), f"{name} transposed")
        rows.append(_row(f"{name} (2048,2048).T f32", lambda: ours(m.T), (lambda: np_fn(M.T)) if np_fn else None,
                         (lambda: t_fn(tM.T)) if tM is not None else None, repeats))
    # broadcast: a column expanded to a square, through the op (one value per row, read at stride 0)
    e = col.expand(2048, 2048)
    eC = np.broadcast_to(C, (2048, 2048))
    _check(e.tanh().numpy()[:4], np.tanh(eC[:4].astype(np.float64)), "tanh broadcast")
    rows.append(_row("tanh (2048,1) expanded to (2048,2048)", lambda: e.tanh(), lambda: np.tanh(eC),
                     (lambda: tC.expand(2048, 2048).tanh()) if tC is not None else None, repeats))
    return rows


def block_rows(repeats: int) -> list[Row]:
    """softmax, log_softmax, LayerNorm forward and forward + backward, GELU forward + backward."""
    import minitorch_edu as mt
    from minitorch_edu import nn
    from minitorch_edu.nn import functional as F

    rng = np.random.default_rng(12)
    A = rng.standard_normal((4096, 1024), dtype=np.float32)
    G = rng.standard_normal((4096, 1024), dtype=np.float32)
    a, g = mt.tensor(A), mt.tensor(G)
    tA, tG = (torch.from_numpy(A), torch.from_numpy(G)) if torch else (None, None)
    rows = []

    def np_softmax(v: np.ndarray) -> np.ndarray:
        e = np.exp(v - v.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)

    def np_log_softmax(v: np.ndarray) -> np.ndarray:
        z = v - v.max(-1, keepdims=True)
        return z - np.log(np.exp(z).sum(-1, keepdims=True))

    _check(F.softmax(a, -1).numpy(), np_softmax(A.astype(np.float64)), "softmax")
    rows.append(_row("F.softmax (4096,1024), last dim", lambda: F.softmax(a, -1), lambda: np_softmax(A),
                     (lambda: torch.softmax(tA, -1)) if tA is not None else None, repeats))
    _check(F.log_softmax(a, -1).numpy(), np_log_softmax(A.astype(np.float64)), "log_softmax", tol=1e-4)
    rows.append(_row("F.log_softmax (4096,1024), last dim", lambda: F.log_softmax(a, -1),
                     lambda: np_log_softmax(A), (lambda: torch.log_softmax(tA, -1)) if tA is not None else None,
                     repeats))
    at = mt.tensor(np.ascontiguousarray(A.T))  # (1024, 4096): its .T is a strided (4096, 1024)
    tAt = torch.from_numpy(np.ascontiguousarray(A.T)) if torch else None
    _check(F.softmax(at.T, -1).numpy(), np_softmax(A.astype(np.float64)), "softmax strided")
    rows.append(_row("F.softmax of a transposed (4096,1024)", lambda: F.softmax(at.T, -1),
                     lambda: np_softmax(A), (lambda: torch.softmax(tAt.T, -1)) if tAt is not None else None, repeats))

    ln = nn.LayerNorm(1024)
    tln = torch.nn.LayerNorm(1024) if torch else None

    def np_ln(v: np.ndarray) -> np.ndarray:
        mu = v.mean(-1, keepdims=True)
        return (v - mu) / np.sqrt(v.var(-1, keepdims=True) + 1e-5)

    _check(ln(a).detach().numpy(), np_ln(A.astype(np.float64)), "LayerNorm", tol=1e-4)
    with mt.no_grad():
        rows.append(_row("nn.LayerNorm(1024) forward (4096,1024)", lambda: ln(a), lambda: np_ln(A),
                         (lambda: tln(tA)) if tln is not None else None, repeats))
    xg = mt.tensor(A, requires_grad=True)
    txg = torch.from_numpy(A.copy()).requires_grad_(True) if torch else None

    def ours_ln_step() -> Any:
        xg.grad = None
        ln(xg).backward(g)
        return xg.grad

    def torch_ln_step() -> Any:
        txg.grad = None
        tln(txg).backward(tG)
        return txg.grad

    rows.append(_row("nn.LayerNorm(1024) forward+backward", ours_ln_step, None,
                     torch_ln_step if txg is not None else None, repeats, grad=True))

    def ours_gelu_step() -> Any:
        xg.grad = None
        F.gelu(xg).backward(g)
        return xg.grad

    def torch_gelu_step() -> Any:
        txg.grad = None
        torch.nn.functional.gelu(txg).backward(tG)
        return txg.grad

    if txg is not None:
        _check(ours_gelu_step().numpy(), torch_gelu_step().numpy(), "gelu backward")
    rows.append(_row("F.gelu forward+backward (4096,1024)", ours_gelu_step, None,
                     torch_gelu_step if txg is not None else None, repeats, grad=True))
    return rows


def chain(a, b):  # noqa: ANN001, ANN201  (mt tensors and torch tensors alike)
    """Nine elementwise ops with a tanh and a sigmoid (issue 26's chain)."""
    return ((((a * b + 1).tanh() - a) * 0.5).sigmoid() + b).relu() * a


def np_chain(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    y = np.tanh(a * b + 1) - a
    y = 1.0 / (1.0 + np.exp(-(y * 0.5)))
    return np.maximum(y + b, 0) * a


def chain_rows(repeats: int) -> list[Row]:
    import minitorch_edu as mt

    rng = np.random.default_rng(13)
    A = rng.standard_normal(N, dtype=np.float32)
    B = rng.standard_normal(N, dtype=np.float32)
    a, b = mt.tensor(A), mt.tensor(B)
    fused = mt.jit(chain)
    expected = np_chain(A.astype(np.float64), B.astype(np.float64))
    _check(fused(a, b).numpy(), expected, "jitted chain")
    _check(chain(a, b).numpy(), expected, "eager chain")
    tA, tB = (torch.from_numpy(A), torch.from_numpy(B)) if torch else (None, None)
    stats = measure_interleaved(
        {
            "jit": lambda: fused(a, b),
            "eager": lambda: chain(a, b),
            "numpy": lambda: np_chain(A, B),
            "torch": (lambda: chain(tA, tB)) if tA is not None else None,
        },
        repeats,
    )
    np_ms, t_ms = stats["numpy"].median, stats["torch"].median if stats["torch"] else None
    return [
        Row("chain tanh+sigmoid 4M f32, mt.jit (1 kernel)", stats["jit"], np_ms, t_ms, "numpy", 0.6, "≤0.6x numpy",
            note=f"{fused.graph.kernels_per_call()} kernel(s) per call"),
        Row("chain tanh+sigmoid 4M f32, eager", stats["eager"], np_ms, t_ms, "numpy", None, ""),
    ]


def vector_math_rows(repeats: int) -> list[Row]:
    return op_rows(repeats) + block_rows(repeats) + chain_rows(repeats)
