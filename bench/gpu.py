# ruff: noqa: B023  (every lambda below is timed within its own loop iteration, never later)
"""The GPU table: our numba.cuda backend against PyTorch CUDA, and against copy bandwidth.

Bars (from the performance issue): matmul 4096² ≥ 40% of PyTorch's cuBLAS float32 with TF32 off;
elementwise add of 2^26 elements ≥ 75% of a device-to-device copy's bandwidth; a sum over one
dim of (8192, 8192) ≥ 60% of copy bandwidth; an MLP training step (batch 4096, 1024 hidden)
≤ 3× PyTorch CUDA's time. Every timed call ends with a device synchronise, and every result is
checked against NumPy (or PyTorch) before timing.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .report import Row, Stats, groups_to_run, keeps_row, measure

try:
    import torch
except ImportError:
    torch = None  # type: ignore[assignment]

# workload sizes (tests shrink them to run this module on numba's simulator)
MATMUL_N = 4096
ADD_N = 1 << 26
SUM_N = 8192
MLP_BATCH, MLP_FEATURES, MLP_HIDDEN = 4096, 1024, 1024
ROWS_N, ROWS_C = 4096, 1024  # softmax / layer norm over the last dim (a transformer's activations)


def unavailable_reason() -> str | None:
    """Why the GPU table cannot run here, or None."""
    import os

    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        return "NUMBA_ENABLE_CUDASIM=1 is set: the simulator is not a GPU"
    try:
        from numba import cuda
    except ImportError as exc:
        return f"numba.cuda cannot be imported ({exc})"
    try:
        if not cuda.is_available():
            return "numba finds no CUDA GPU (cuda.is_available() is False)"
    except Exception as exc:  # noqa: BLE001  (a broken driver install)
        return f"the CUDA driver does not answer ({exc})"
    return None


def _sync() -> None:
    """Wait for the device. numba and PyTorch share the device's primary context, so one
    synchronise covers both libraries' work: PyTorch's where it is there (the cheaper call),
    else numba's; every row, the copy baseline included, pays the same."""
    if torch is not None and torch.cuda.is_available():
        torch.cuda.synchronize()
    else:
        from numba import cuda

        cuda.synchronize()


def _time(fn: Any, repeats: int) -> Stats:
    return measure(fn, repeats=repeats, warmup=3, budget_s=10.0, sync=_sync)


def _check(got: Any, expected: np.ndarray, what: str, rtol: float = 1e-3, atol: float = 1e-3) -> None:
    got = np.asarray(got)
    if got.shape != expected.shape or not np.allclose(got, expected, rtol=rtol, atol=atol):
        raise AssertionError(f"{what}: result differs from the reference")


def copy_bandwidth(n_bytes: int, repeats: int) -> float:
    """Bytes per ms moved (read + write) by a device-to-device copy of `n_bytes`: the faster of
    numba's copy and PyTorch's (the stricter bar), timed like every other row."""
    from numba import cuda

    src = cuda.device_array(n_bytes // 4, dtype=np.float32)
    dst = cuda.device_array_like(src)
    best = _time(lambda: dst.copy_to_device(src), repeats).median
    if torch is not None and torch.cuda.is_available():
        t_src = torch.empty(n_bytes // 4, dtype=torch.float32, device="cuda")
        t_dst = torch.empty_like(t_src)
        best = min(best, _time(lambda: t_dst.copy_(t_src), repeats).median)
    return 2 * n_bytes / best


def matmul_rows(repeats: int) -> list[Row]:
    """matmul NxN (cuda) against PyTorch with TF32 off."""
    import minitorch_edu as mt

    n = MATMUL_N
    rng = np.random.default_rng(0)
    A = rng.standard_normal((n, n), dtype=np.float32)
    B = rng.standard_normal((n, n), dtype=np.float32)
    a, b = mt.tensor(A, device="cuda"), mt.tensor(B, device="cuda")
    probe = (a[:64] @ b).numpy()  # check a slice: a float64 4096³ reference on the host is slow
    _check(probe, A[:64].astype(np.float64) @ B, "matmul", rtol=1e-2, atol=1e-2)
    ours = _time(lambda: a @ b, repeats)
    t_ms = None
    if torch is not None and torch.cuda.is_available():
        torch.backends.cuda.matmul.allow_tf32 = False  # the bar is against true float32
        ta, tb = torch.from_numpy(A).cuda(), torch.from_numpy(B).cuda()
        t_ms = _time(lambda: ta @ tb, repeats).median
    flops = 2.0 * n**3
    note = f"ours {flops / ours.median / 1e9:.1f} TFLOP/s" + (
        f", torch {flops / t_ms / 1e9:.1f} TFLOP/s (TF32 off)" if t_ms else ""
    )
    return [Row(f"matmul {n}x{n} (cuda)", ours, None, t_ms, "torch", 2.5, "≥40% torch (TF32 off)", note=note)]


def bandwidth_rows(repeats: int) -> list[Row]:
    """Elementwise add (float32 (cuda)) and sum over dim 0 and sum over dim 1, as a fraction of copy bandwidth."""
    import minitorch_edu as mt

    rows = []
    rng = np.random.default_rng(1)
    n = ADD_N
    X = rng.standard_normal(n, dtype=np.float32)
    Y = rng.standard_normal(n, dtype=np.float32)
    x, y = mt.tensor(X, device="cuda"), mt.tensor(Y, device="cuda")
    _check((x + y)[: 1 << 16].numpy(), (X + Y)[: 1 << 16], "add")
    add = _time(lambda: x + y, repeats)
    copy = copy_bandwidth(4 * n, repeats)  # bytes per ms
    moved = 3 * 4 * n  # two reads and a write
    ideal_ms = moved / copy  # the add's time if it moved its bytes as fast as a copy does
    limit = ideal_ms / 0.75
    rows.append(
        Row(
            f"add 2^{n.bit_length() - 1} float32 (cuda)",
            add,
            None,
            None,
            "abs",
            limit,
            f"≥75% copy bw (≤{limit:.2f} ms)",
            note=f"ours {moved / add.median / 1e6:.0f} GB/s, device-to-device copy {copy / 1e6:.0f} GB/s",
        )
    )
    m = SUM_N
    M = rng.standard_normal((m, m), dtype=np.float32)
    t = mt.tensor(M, device="cuda")
    for dim in (0, 1):
        _check(t.sum(dim).numpy(), M.astype(np.float64).sum(dim), f"sum dim {dim}", rtol=1e-3, atol=1e-1)
        stats = _time(lambda: t.sum(dim), repeats)
        moved = 4 * m * m
        limit = moved / copy / 0.6
        rows.append(
            Row(
                f"sum over dim {dim} of ({m},{m}) (cuda)",
                stats,
                None,
                None,
                "abs",
                limit,
                f"≥60% copy bw (≤{limit:.2f} ms)",
                note=f"ours {moved / stats.median / 1e6:.0f} GB/s",
            )
        )
    return rows


def mlp_rows(repeats: int) -> list[Row]:
    from .mlp_step import minitorch_step, torch_step

    rng = np.random.default_rng(2)
    X = rng.standard_normal((MLP_BATCH, MLP_FEATURES), dtype=np.float32)
    labels = rng.integers(0, 10, MLP_BATCH).astype(np.int64)
    ours_step, _ = minitorch_step(X, labels, "cuda", hidden=MLP_HIDDEN)
    first = float(ours_step().item())
    if not np.isfinite(first):
        raise AssertionError("MLP step on cuda gave a non-finite loss")
    ours = _time(ours_step, repeats)
    t_ms = None
    if torch is not None and torch.cuda.is_available():
        t_ms = _time(torch_step(X, labels, device="cuda", hidden=MLP_HIDDEN), repeats).median
    name = f"MLP step {MLP_FEATURES}-{MLP_HIDDEN}-10, batch {MLP_BATCH} (cuda)"
    return [Row(name, ours, None, t_ms, "torch", 3.0, "≤3x torch CUDA")]


def row_kernel_rows(repeats: int) -> list[Row]:
    """softmax, log_softmax and layer norm over the last dim of float32 (ROWS_N, ROWS_C): the fused
    row kernels of cuda/norms.py (one block per row), forward and forward + backward, against
    PyTorch CUDA. Informational rows: no bar was set for them."""
    import minitorch_edu as mt
    from minitorch_edu.nn import functional as F

    rng = np.random.default_rng(3)
    n, c = ROWS_N, ROWS_C
    A = rng.standard_normal((n, c), dtype=np.float32)
    G = rng.standard_normal((n, c), dtype=np.float32)
    W, B = rng.standard_normal(c, dtype=np.float32), rng.standard_normal(c, dtype=np.float32)
    a, g = mt.tensor(A, device="cuda"), mt.tensor(G, device="cuda")
    w, b = mt.tensor(W, device="cuda", requires_grad=True), mt.tensor(B, device="cuda", requires_grad=True)
    a_grad = mt.tensor(A, device="cuda", requires_grad=True)
    has_torch = torch is not None and torch.cuda.is_available()
    if has_torch:
        tA, tG = torch.from_numpy(A).cuda(), torch.from_numpy(G).cuda()
        tW, tB = torch.from_numpy(W).cuda().requires_grad_(), torch.from_numpy(B).cuda().requires_grad_()
        tA_grad = tA.clone().requires_grad_()

    def step(y: Any) -> None:  # forward + backward: the gradient of sum(y * g)
        (y * g).sum().backward()

    def torch_step(y: Any) -> None:
        (y * tG).sum().backward()

    shifted = A - A.max(-1, keepdims=True)
    e = np.exp(shifted.astype(np.float64))
    mean, var = A.mean(-1, keepdims=True), A.var(-1, keepdims=True)
    cases = (
        ("softmax", lambda: F.softmax(a, dim=-1), lambda: torch.softmax(tA, -1), e / e.sum(-1, keepdims=True)),
        ("log_softmax", lambda: F.log_softmax(a, dim=-1), lambda: torch.log_softmax(tA, -1),
         shifted - np.log(e.sum(-1, keepdims=True))),
        ("layer_norm", lambda: F.layer_norm(a, (c,), w, b), lambda: torch.nn.functional.layer_norm(tA, (c,), tW, tB),
         (A - mean) / np.sqrt(var + 1e-5) * W + B),
    )  # fmt: skip
    rows = []
    for name, ours_fn, torch_fn, expected in cases:
        _check(ours_fn().numpy(), expected, name)
        ours = _time(ours_fn, repeats)
        t_ms = _time(torch_fn, repeats).median if has_torch else None
        rows.append(Row(f"F.{name} ({n},{c}) float32, last dim (cuda)", ours, None, t_ms, "torch"))
        fwd = {"softmax": F.softmax, "log_softmax": F.log_softmax}.get(name)
        ours_step = (lambda: step(fwd(a_grad, dim=-1))) if fwd else (lambda: step(F.layer_norm(a_grad, (c,), w, b)))
        t_step = None
        if has_torch:
            t_fwd = {"softmax": torch.softmax, "log_softmax": torch.log_softmax}.get(name)
            t_step = (lambda: torch_step(t_fwd(tA_grad, -1))) if t_fwd else (
                lambda: torch_step(torch.nn.functional.layer_norm(tA_grad, (c,), tW, tB)))  # fmt: skip
        stats = _time(ours_step, repeats)
        t_ms = _time(t_step, repeats).median if t_step else None
        rows.append(Row(f"F.{name} ({n},{c}) float32, forward + backward (cuda)", stats, None, t_ms, "torch"))
    return rows


GROUPS = (matmul_rows, bandwidth_rows, mlp_rows, row_kernel_rows)


def run(repeats: int = 15, only: str | None = None) -> list[Row]:
    """Every GPU workload; a workload that raises becomes an ERROR row instead of stopping the run."""
    rows: list[Row] = []
    for group in groups_to_run(only, GROUPS):
        try:
            produced = group(repeats)
        except Exception as exc:  # noqa: BLE001
            produced = [Row(group.__name__.replace("_rows", ""), None, error=f"{type(exc).__name__}: {exc}")]
        rows += [r for r in produced if keeps_row(only, group, r.name)]
    return rows
