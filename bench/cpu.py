# ruff: noqa: B023  (every lambda below is timed within its own loop iteration, never later)
"""The CPU table: our numba backend against NumPy and PyTorch (CPU) on the same data.

Each workload first checks our result against NumPy (a benchmark of a wrong answer is
worthless), then times ours at the level users call (`a @ b`, `a + b`, `a.sum(0)`) and, where
the Python layer could hide or add cost, the raw kernel on preallocated storage too.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Callable
from typing import Any

import numpy as np

from .report import Row, Stats, groups_to_run, keeps_row, measure_interleaved

try:
    import torch
except ImportError:  # the table still runs; torch columns show "-"
    torch = None  # type: ignore[assignment]


def _check(ours: Any, expected: np.ndarray, what: str, rtol: float = 1e-4, atol: float = 1e-4) -> None:
    got = np.asarray(ours)
    if got.shape != expected.shape:
        raise AssertionError(f"{what}: shape {got.shape}, numpy gives {expected.shape}")
    if not np.allclose(got, expected, rtol=rtol, atol=atol, equal_nan=True):
        worst = float(np.max(np.abs(got.astype(np.float64) - expected)))
        raise AssertionError(f"{what}: differs from numpy (max abs error {worst:.3g})")


def _compare(
    ours: Callable[[], Any],
    numpy_fn: Callable[[], Any] | None,
    torch_fn: Callable[[], Any] | None,
    repeats: int,
    torch_grad: bool = False,
) -> tuple[Stats, float | None, float | None]:
    """(our stats, numpy median ms, torch median ms), timed round-robin in this process."""
    if torch_fn is not None and torch is not None and not torch_grad:
        plain = torch_fn

        def torch_fn() -> Any:  # inference ops: no autograd bookkeeping on torch's side
            with torch.no_grad():
                return plain()

    stats = measure_interleaved(
        {"ours": ours, "numpy": numpy_fn, "torch": torch_fn if torch is not None else None}, repeats
    )
    median = lambda k: stats[k].median if stats[k] else None  # noqa: E731
    return stats["ours"], median("numpy"), median("torch")


def _gflops(flops: float, ms: float) -> float:
    return flops / ms / 1e6


# ---------------------------------------------------------------------------------- workloads
def matmul_rows(repeats: int) -> list[Row]:
    """matmul 512x512, matmul 1024x1024 and batched matmul (64,128,128): a @ b and the kernel."""
    import minitorch_edu as mt
    from minitorch_edu.backends.numba.matmul import matmul as kernel

    rows = []
    rng = np.random.default_rng(0)
    for shape in ((512, 512, 512), (1024, 1024, 1024), (64, 128, 128)):
        batched = len(shape) == 3 and shape[0] == 64
        if batched:
            b, n, _ = shape
            A = rng.standard_normal((b, n, n), dtype=np.float32)
            B = rng.standard_normal((b, n, n), dtype=np.float32)
            label, flops = f"batched matmul ({b},{n},{n})", 2.0 * b * n**3
        else:
            n = shape[0]
            A = rng.standard_normal((n, n), dtype=np.float32)
            B = rng.standard_normal((n, n), dtype=np.float32)
            label, flops = f"matmul {n}x{n}", 2.0 * n**3
        a, b_ = mt.tensor(A), mt.tensor(B)
        expected = A.astype(np.float64) @ B.astype(np.float64)
        _check(a @ b_, expected, label, rtol=1e-3, atol=1e-3)
        tA, tB = (torch.from_numpy(A), torch.from_numpy(B)) if torch else (None, None)
        ours, np_ms, t_ms = _compare(lambda: a @ b_, lambda: A @ B, lambda: tA @ tB, repeats)
        bar = "≥50% numpy GFLOP/s"
        rows.append(
            Row(
                label + " (a @ b)",
                ours,
                np_ms,
                t_ms,
                "numpy",
                2.0,
                bar,
                note=f"ours {_gflops(flops, ours.median):.0f} GFLOP/s, numpy {_gflops(flops, np_ms):.0f}",
            )
        )
        # the kernel alone, on preallocated storage: what the Tensor layer adds is the difference
        out = np.empty(A.size // A.shape[-1] * B.shape[-1], np.float32)
        sa, sb = a.stride(), b_.stride()
        so = sa  # square operands: the output has the same contiguous strides
        oshape = A.shape
        af, bf = A.reshape(-1), B.reshape(-1)
        kernel(out, so, af, sa, bf, sb, oshape, A.shape[-1])
        _check(out.reshape(oshape), expected, label + " kernel", rtol=1e-3, atol=1e-3)
        kern, np_ms, _ = _compare(
            lambda: kernel(out, so, af, sa, bf, sb, oshape, A.shape[-1]), lambda: A @ B, None, repeats
        )
        rows.append(
            Row(
                label + " (kernel)",
                kern,
                np_ms,
                None,
                "numpy",
                2.0,
                bar,
                note=f"kernel {_gflops(flops, kern.median):.0f} GFLOP/s",
            )
        )
    return rows


def elementwise_rows(repeats: int) -> list[Row]:
    """a + b and a * b over 4M float32 (ops and kernels), broadcast (N,N)+(N,1), transposed (N,N)+(N,N).T."""
    import minitorch_edu as mt
    from minitorch_edu.backends import scalar
    from minitorch_edu.backends.numba import cpu as numba_cpu

    rows = []
    n = 4 * 1024 * 1024
    rng = np.random.default_rng(1)
    X = rng.standard_normal(n, dtype=np.float32)
    Y = rng.standard_normal(n, dtype=np.float32)
    x, y = mt.tensor(X), mt.tensor(Y)
    tX, tY = (torch.from_numpy(X), torch.from_numpy(Y)) if torch else (None, None)
    for sym, op, fn in (("+", np.add, scalar.add), ("*", np.multiply, scalar.mul)):
        call = (lambda: x + y) if sym == "+" else (lambda: x * y)
        _check(call(), op(X, Y), f"a {sym} b")
        t_fn = (lambda: tX + tY) if sym == "+" else (lambda: tX * tY)
        ours, np_ms, t_ms = _compare(call, lambda: op(X, Y), t_fn, repeats)
        rows.append(Row(f"a {sym} b, 4M float32", ours, np_ms, t_ms, "numpy", 1.2, "≤1.2x numpy"))
        # kernel level, preallocated output, against numpy writing into a preallocated output
        kernel = numba_cpu.numba_backend.zip(fn)
        out, O = np.empty(n, np.float32), np.empty(n, np.float32)
        kernel(out, (1,), X, (1,), Y, (1,), (n,))
        _check(out, op(X, Y), f"a {sym} b kernel")
        ours, np_ms, _ = _compare(
            lambda: kernel(out, (1,), X, (1,), Y, (1,), (n,)), lambda: op(X, Y, out=O), None, repeats
        )
        rows.append(Row(f"a {sym} b, 4M (kernel, out=)", ours, np_ms, None, "numpy", 1.2, "≤1.2x numpy"))

    N = 2048
    A = rng.standard_normal((N, N), dtype=np.float32)
    C = rng.standard_normal((N, 1), dtype=np.float32)
    a, c = mt.tensor(A), mt.tensor(C)
    tA, tC = (torch.from_numpy(A), torch.from_numpy(C)) if torch else (None, None)
    cases = (
        ("broadcast (N,N)+(N,1), N=2048", lambda: a + c, lambda: A + C, lambda: tA + tC, A + C),
        ("transposed (N,N)+(N,N).T, N=2048", lambda: a + a.T, lambda: A + A.T, lambda: tA + tA.T, A + A.T),
    )
    for label, ours_fn, np_fn, t_fn, expected in cases:
        _check(ours_fn(), expected, label)
        ours, np_ms, t_ms = _compare(ours_fn, np_fn, t_fn, repeats)
        rows.append(Row(label, ours, np_ms, t_ms, "numpy", 1.5, "≤1.5x numpy"))
    return rows


def reduction_rows(repeats: int) -> list[Row]:
    """sum over dim 0 and sum over dim 1 of (2048,2048) float32."""
    import minitorch_edu as mt

    rows = []
    rng = np.random.default_rng(2)
    A = rng.standard_normal((2048, 2048), dtype=np.float32)
    a = mt.tensor(A)
    tA = torch.from_numpy(A) if torch else None
    for dim in (0, 1):
        label = f"sum over dim {dim} of (2048,2048)"
        _check(a.sum(dim), A.astype(np.float64).sum(dim), label, rtol=1e-3, atol=1e-3)
        ours, np_ms, t_ms = _compare(lambda: a.sum(dim), lambda: A.sum(dim), lambda: tA.sum(dim), repeats)
        rows.append(Row(label, ours, np_ms, t_ms, "numpy", 1.5, "≤1.5x numpy"))
    return rows


def scan_rows(repeats: int) -> list[Row]:
    """cumsum of (1024,1024) float32 along each dim and of 4M float32, flip of (1024,1024) along each
    dim and both, against NumPy and PyTorch.

    `np.flip` is a view, so NumPy's time is for the copy `np.flip(A, dim).copy()`: the same work
    as ours and `torch.flip`, which copy."""
    import minitorch_edu as mt

    rows = []
    rng = np.random.default_rng(6)
    A = rng.standard_normal((1024, 1024), dtype=np.float32)
    a = mt.tensor(A)
    tA = torch.from_numpy(A) if torch else None
    for dim in (0, 1):
        label = f"cumsum over dim {dim} of (1024,1024)"
        # against float64 sums: a float32 running sum of 1024 values must stay accurate
        _check(a.cumsum(dim), A.astype(np.float64).cumsum(dim), label, rtol=1e-4, atol=1e-4)
        ours, np_ms, t_ms = _compare(
            lambda: a.cumsum(dim), lambda: np.cumsum(A, axis=dim), lambda: torch.cumsum(tA, dim), repeats
        )
        rows.append(Row(label, ours, np_ms, t_ms, "numpy", 1.5, "≤1.5x numpy"))
    V = rng.standard_normal(4 * 1024 * 1024, dtype=np.float32)
    v = mt.tensor(V)
    tV = torch.from_numpy(V) if torch else None
    label = "cumsum of 4M float32 (1-D)"
    _check(v.cumsum(0), V.astype(np.float64).cumsum(), label, rtol=1e-4, atol=1e-2)
    ours, np_ms, t_ms = _compare(lambda: v.cumsum(0), lambda: np.cumsum(V), lambda: torch.cumsum(tV, 0), repeats)
    rows.append(Row(label, ours, np_ms, t_ms, "numpy", 1.5, "≤1.5x numpy"))
    for dims in ((0,), (1,), (0, 1)):
        label = f"flip dims {dims} of (1024,1024)"
        _check(a.flip(dims), np.flip(A, dims), label, rtol=0, atol=0)
        ours, np_ms, t_ms = _compare(
            lambda: a.flip(dims), lambda: np.flip(A, dims).copy(), lambda: torch.flip(tA, dims), repeats
        )
        rows.append(Row(label, ours, np_ms, t_ms, "numpy", 1.5, "≤1.5x numpy", note="numpy: np.flip(A, dims).copy()"))
    return rows


def mlp_rows(repeats: int) -> list[Row]:
    """784-256-10 MLP, batch 128: forward, cross-entropy, backward, SGD, with mt.nn and mt.optim."""
    from .mlp_step import minitorch_step, torch_step

    rng = np.random.default_rng(3)
    batch, lr = 128, 0.01
    X = rng.standard_normal((batch, 784), dtype=np.float32)
    labels = rng.integers(0, 10, batch).astype(np.int64)
    ours_step, model = minitorch_step(X, labels, "numba", lr=lr)
    w1, b1, w2, b2 = (p.numpy().astype(np.float64) for p in model.parameters())

    # check one step against the same step in float64 numpy (weights are (out, in), as in torch)
    pre = X @ w1.T + b1
    h = np.maximum(pre, 0)
    z = h @ w2.T + b2
    z = z - z.max(1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(1, keepdims=True))
    onehot = np.eye(10)[labels]
    loss_np = -(logp * onehot).sum() / batch
    dz = (np.exp(logp) - onehot) / batch
    dw1 = ((dz @ w2) * (pre > 0)).T @ X
    loss = ours_step()
    _check(loss, np.asarray(loss_np), "MLP loss", rtol=1e-4)
    _check(model[0].weight.numpy(), w1 - lr * dw1, "MLP first weight after one SGD step", rtol=1e-3, atol=1e-5)

    reference = torch_step(X, labels, lr=lr) if torch is not None else None
    ours, _, t_ms = _compare(ours_step, None, reference, repeats, torch_grad=True)
    return [
        Row(
            "MLP step 784-256-10, batch 128",
            ours,
            None,
            t_ms,
            "torch",
            2.0,
            "≤2x torch",
            note="forward + cross-entropy + backward + SGD with mt.nn.Linear and mt.optim.SGD",
        )
    ]


def optimizer_rows(repeats: int) -> list[Row]:
    """One optimizer step over a 784-256-10 MLP's parameters (float32): SGD momentum, Adam, RMSprop."""
    import minitorch_edu as mt
    from minitorch_edu import optim

    rng = np.random.default_rng(5)
    shapes = [(256, 784), (256,), (10, 256), (10,)]
    values = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    grads = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    cases = (
        ("SGD momentum", lambda ps: optim.SGD(ps, lr=1e-3, momentum=0.9),
         (lambda ps: torch.optim.SGD(ps, lr=1e-3, momentum=0.9)) if torch else None),
        ("Adam", lambda ps: optim.Adam(ps, lr=1e-3), (lambda ps: torch.optim.Adam(ps, lr=1e-3)) if torch else None),
        ("RMSprop", lambda ps: optim.RMSprop(ps, lr=1e-3),
         (lambda ps: torch.optim.RMSprop(ps, lr=1e-3)) if torch else None),
    )
    rows = []
    for label, make, make_torch in cases:
        params = [mt.tensor(v.copy(), requires_grad=True) for v in values]
        for p, g in zip(params, grads):
            p.grad = mt.tensor(g)
        opt = make(params)
        t_step = None
        if make_torch is not None:
            t_params = [torch.tensor(v.copy(), requires_grad=True) for v in values]
            for p, g in zip(t_params, grads):
                p.grad = torch.tensor(g)
            t_opt = make_torch(t_params)
            opt.step()
            t_opt.step()
            for ours_p, theirs_p in zip(params, t_params):  # the same update as PyTorch's
                _check(ours_p.numpy(), theirs_p.detach().numpy(), f"{label} step", rtol=1e-4, atol=1e-6)
            t_step = t_opt.step
        ours, _, t_ms = _compare(opt.step, None, t_step, repeats, torch_grad=True)
        rows.append(Row(f"{label} step, 784-256-10 parameters", ours, None, t_ms, "torch", 2.0, "≤2x torch",
                        note="mt.optim on numba's fused update kernels"))
    return rows


def conv_rows(repeats: int) -> list[Row]:
    """Conv2d 1->8->16, 3x3, batch 32 of 28x28: forward and backward."""
    import minitorch_edu as mt

    label = "Conv2d 1->8->16 3x3, batch 32x28x28 fwd+bwd"
    nn = getattr(mt, "nn", None)
    if nn is None or not hasattr(nn, "Conv2d"):
        try:
            import minitorch_edu.nn as nn  # noqa: PLW0621
        except ImportError:
            nn = None
    if nn is None or not hasattr(nn, "Conv2d"):
        return [
            Row(
                label,
                None,
                reference="torch",
                bar_text="≤3x torch",
                error="n/a: minitorch_edu.nn.Conv2d does not exist yet",
            )
        ]
    rng = np.random.default_rng(4)
    X = rng.standard_normal((32, 1, 28, 28), dtype=np.float32)
    c1, c2 = nn.Conv2d(1, 8, 3), nn.Conv2d(8, 16, 3)
    x = mt.tensor(X)

    def ours_step() -> Any:
        for m in (c1, c2):
            for p in (m.weight, m.bias):
                p.grad = None
        y = c2(c1(x).relu())
        y.sum().backward()
        return y

    y = ours_step()
    torch_step = None
    if torch is not None:
        t1, t2 = torch.nn.Conv2d(1, 8, 3), torch.nn.Conv2d(8, 16, 3)
        with torch.no_grad():  # same weights, so the outputs can be compared
            for tm, m in ((t1, c1), (t2, c2)):
                tm.weight.copy_(torch.from_numpy(m.weight.numpy()))
                tm.bias.copy_(torch.from_numpy(m.bias.numpy().reshape(-1)))
        tx = torch.from_numpy(X)
        _check(y, t2(torch.relu(t1(tx))).detach().numpy(), label, rtol=1e-3, atol=1e-3)

        def torch_step() -> Any:
            t1.zero_grad(set_to_none=True)
            t2.zero_grad(set_to_none=True)
            out = t2(torch.relu(t1(tx)))
            out.sum().backward()
            return out

    ours, _, t_ms = _compare(ours_step, None, torch_step, repeats, torch_grad=True)
    return [Row(label, ours, None, t_ms, "torch", 3.0, "≤3x torch")]


def _subprocess_seconds(code: str, runs: int) -> float:
    """Median of what a fresh interpreter prints (seconds) when it runs `code`."""
    times = []
    for _ in range(runs):
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
        times.append(float(result.stdout.strip().splitlines()[-1]))
    times.sort()
    return times[len(times) // 2]


def startup_rows(repeats: int) -> list[Row]:
    import_code = textwrap.dedent(
        """
        import time
        t = time.perf_counter()
        import minitorch_edu
        print(time.perf_counter() - t)
        """
    )
    first_op_code = textwrap.dedent(
        """
        import time
        import minitorch_edu as mt
        a = mt.tensor([[1.0, 2.0], [3.0, 4.0]])
        t = time.perf_counter()
        (a + a).numpy()
        print(time.perf_counter() - t)
        """
    )
    runs = 3 if repeats <= 5 else 5
    _subprocess_seconds(first_op_code, 1)  # warms numba's disk cache for the first op
    rows = []
    for label, code, bar in (
        ("import minitorch_edu (new process)", import_code, 500.0),
        ("first op a + a (new process, warm cache)", first_op_code, 300.0),
    ):
        ms = _subprocess_seconds(code, runs) * 1e3
        stats = Stats(ms, ms, ms, ms, ms, runs)
        rows.append(
            Row(
                label,
                stats,
                reference="abs",
                bar_ratio=bar,
                bar_text=f"≤{bar / 1000:g} s",
                note=f"median of {runs} fresh interpreters",
            )
        )
    rows.append(_fresh_matmul_row(runs))
    return rows


FRESH_MATMUL = textwrap.dedent(
    """
    import json, time
    import numpy as np
    import minitorch_edu as mt
    rng = np.random.default_rng(0)
    A, B = (rng.standard_normal((512, 512), dtype=np.float32) for _ in range(2))
    a, b = mt.tensor(A), mt.tensor(B)
    def times(f):
        out = []
        for _ in range(12):
            t = time.perf_counter(); f(); out.append(time.perf_counter() - t)
        return out
    ours = times(lambda: a @ b)  # each library's calls together: their thread pools spin after a call
    time.sleep(0.2)
    print(json.dumps({"ours": ours, "numpy": times(lambda: A @ B)}))
    """
)


def _fresh_matmul_row(runs: int) -> Row:
    """`a @ b` at 512² in a new interpreter, against NumPy's in the same one: the median of calls 2-12.

    The first call pays numba's one-time setup of the process (its registries, and an import of
    scipy.linalg to look for a BLAS: about 0.3 s, the "first op" row above), so it is reported apart."""
    firsts, ours, theirs = [], [], []
    for _ in range(runs):
        done = subprocess.run([sys.executable, "-c", FRESH_MATMUL], capture_output=True, text=True, timeout=300,
                              check=True)
        got = json.loads(done.stdout.strip().splitlines()[-1])
        firsts.append(got["ours"][0] * 1e3)
        ours += [t * 1e3 for t in got["ours"][1:]]
        theirs += [t * 1e3 for t in got["numpy"][1:]]
    ours.sort()
    theirs.sort()
    med = ours[len(ours) // 2]
    n = len(ours)
    stats = Stats(med, ours[n // 4], ours[3 * n // 4], ours[0], ours[-1], n)
    firsts.sort()
    return Row("a @ b 512² f32, new process, calls 2-12", stats, theirs[len(theirs) // 2], reference="numpy",
               bar_ratio=2.0, bar_text="≤2x numpy", note=f"{runs} fresh interpreters; first call "
               f"{firsts[len(firsts) // 2]:.0f} ms (numba's one-time setup)")


def overhead_rows(repeats: int) -> list[Row]:
    """Per-op overhead: ops so small that the Python layer (Function, Tensor, kernel lookup) is the cost."""
    import minitorch_edu as mt

    rng = np.random.default_rng(5)
    A, B = rng.standard_normal((2, 2), dtype=np.float32), rng.standard_normal(2, dtype=np.float32)
    R = rng.standard_normal((32, 32), dtype=np.float32)
    a, b, r = mt.tensor(A), mt.tensor(B), mt.tensor(R)
    tA, tB, tR = (torch.from_numpy(A), torch.from_numpy(B), torch.from_numpy(R)) if torch else (None,) * 3
    rows = []
    cases = (
        ("per-op overhead: (2,2) + (2,) add", lambda: a + b, lambda: A + B, lambda: tA + tB, A + B),
        ("per-op overhead: 32x32 relu", lambda: r.relu(), lambda: np.maximum(R, 0), lambda: torch.relu(tR), None),
    )
    for label, ours_fn, np_fn, t_fn, expected in cases:
        _check(ours_fn(), np.maximum(R, 0) if expected is None else expected, label)
        # many calls per sample: one op is a few microseconds, below the timer's resolution
        ours, np_ms, t_ms = _compare(_times(ours_fn, 200), _times(np_fn, 200), _times(t_fn, 200), repeats)
        us = lambda ms: ms * 1e3 / 200  # noqa: E731  (ms per 200 calls -> µs per call)
        note = f"ours {us(ours.median):.1f} µs/op" + (f", torch {us(t_ms):.1f}" if t_ms else "")
        # the bar is today's overhead (about 10x torch's); the aim is 5x
        rows.append(Row(label, ours, np_ms, t_ms, "torch", 12.0, "≤12x torch (aim 5x)", note=note))
    return rows


def _times(fn: Callable[[], Any], n: int) -> Callable[[], Any]:
    def repeated() -> Any:
        for _ in range(n):
            out = fn()
        return out

    return repeated


def warm_up_small() -> None:
    """What a learner's session does before any big product: small models first.

    A small matmul compiled first once made every later large product single-threaded (the serial
    and threaded kernels shared one numba cache entry); timing after this keeps the bench honest.
    """
    import minitorch_edu as mt

    small = mt.tensor(np.ones((8, 8), dtype=np.float32))
    _check(small @ small, np.full((8, 8), 8.0), "warm-up 8x8 matmul")


def jit_rows(repeats: int) -> list[Row]:
    """mt.jit (static graphs): see bench/jit.py."""
    from .jit import jit_rows as rows

    return rows(repeats)


def vector_math_rows(repeats: int) -> list[Row]:
    """exp, log, tanh, sigmoid, erf, GELU, softmax, layer norm and a fused tanh/sigmoid chain: see
    bench/vector_math.py."""
    from .vector_math import vector_math_rows as rows

    return rows(repeats)


def attention_rows(repeats: int) -> list[Row]:
    """Scaled dot-product attention, multi-head attention and a transformer encoder layer: see
    bench/attention.py."""
    from .attention import attention_rows as rows

    return rows(repeats)


GROUPS = (
    matmul_rows, elementwise_rows, reduction_rows, scan_rows, mlp_rows, optimizer_rows, conv_rows, overhead_rows,
    startup_rows, jit_rows, vector_math_rows, attention_rows,
)


def run(repeats: int = 15, only: str | None = None) -> list[Row]:
    """Every CPU workload; a workload that raises becomes an ERROR row instead of stopping the run."""
    rows: list[Row] = []
    warm_up_small()
    for group in groups_to_run(only, GROUPS):
        try:
            produced = group(repeats)
        except Exception as exc:  # noqa: BLE001
            produced = [Row(group.__name__.replace("_rows", ""), None, error=f"{type(exc).__name__}: {exc}")]
        rows += [r for r in produced if keeps_row(only, group, r.name)]
    return rows
