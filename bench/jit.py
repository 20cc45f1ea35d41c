"""The static-graph rows of the CPU table: `mt.jit` against eager execution, measured in one run.

- an 8-op elementwise chain over 4M float32 elements: one fused generated kernel vs eight eager
  kernels (bar: at least 4x faster; NumPy and PyTorch columns for scale);
- one training step of the 784-256-10 MLP with the loss function jitted (backward and SGD as
  usual) vs the same step eager (bar: no slower);
- tracing + passes + compiling a new graph in a fresh interpreter, with numba's disk cache cold
  (a graph never compiled before) and warm (the same graph again): bars 2 s and 0.2 s.

Run alone: `python -m bench --only jit`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap
import uuid

import numpy as np

from .report import Row, Stats, measure_interleaved

try:
    import torch
except ImportError:
    torch = None  # type: ignore[assignment]


def chain(x):  # noqa: ANN001, ANN201  (works on mt tensors, numpy arrays and torch tensors alike)
    """Eight elementwise ops."""
    y = x * 1.5 + 0.5
    y = y * y - x
    y = y / (x * x + 1.0)
    return y * 0.25 + x


def chain_rows(repeats: int) -> list[Row]:
    import minitorch_edu as mt

    rng = np.random.default_rng(0)
    data = rng.standard_normal(1 << 22, dtype=np.float32)
    x = mt.tensor(data)
    fused = mt.jit(chain)
    got = fused(x).numpy()
    if not np.allclose(got, chain(data), rtol=1e-5, atol=1e-5):
        raise AssertionError("jitted chain differs from numpy")
    assert fused.graph.kernels_per_call() == 1, fused.summary()
    tx = torch.from_numpy(data) if torch is not None else None
    stats = measure_interleaved(
        {
            "jit": lambda: fused(x),
            "eager": lambda: chain(x),
            "numpy": lambda: chain(data),
            "torch": (lambda: chain(tx)) if tx is not None else None,
        },
        repeats,
    )
    eager = stats["eager"].median
    speedup = eager / stats["jit"].median
    t_ms = stats["torch"].median if stats["torch"] else None
    return [
        Row("jit: 8-op chain 4M f32, fused", stats["jit"], stats["numpy"].median, t_ms, "abs", eager / 4,
            "≥4x faster than eager", note=f"eager {eager:.2f} ms, fused {speedup:.1f}x faster (1 kernel instead of 8)",
            extra={"speedup_vs_eager": speedup}),
        Row("jit: 8-op chain 4M f32, eager", stats["eager"], stats["numpy"].median, t_ms, ""),
    ]


def mlp_rows(repeats: int) -> list[Row]:
    import minitorch_edu as mt
    from minitorch_edu import nn, optim
    from minitorch_edu.nn import functional as F

    rng = np.random.default_rng(3)
    X = mt.tensor(rng.standard_normal((128, 784), dtype=np.float32))
    Y = mt.tensor(rng.integers(0, 10, 128).astype(np.int64))

    def make(jitted: bool):  # noqa: ANN202
        mt.manual_seed(0)
        model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
        opt = optim.SGD(model.parameters(), lr=0.01)

        def loss_fn(x, y):  # noqa: ANN001, ANN202
            return F.cross_entropy(model(x), y)

        fn = mt.jit(loss_fn) if jitted else loss_fn

        def step():  # noqa: ANN202
            loss = fn(X, Y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss

        return step

    eager_step, jit_step = make(False), make(True)
    curve = [(float(eager_step().item()), float(jit_step().item())) for _ in range(3)]
    if not np.allclose(*zip(*curve), rtol=1e-5):
        raise AssertionError(f"jitted MLP step does not follow the eager loss curve: {curve}")
    stats = measure_interleaved({"jit": jit_step, "eager": eager_step}, repeats)
    eager = stats["eager"].median
    ratio = stats["jit"].median / eager
    return [
        Row("jit: MLP step 784-256-10 b128, jitted loss", stats["jit"], None, None, "abs", eager,
            "no slower than eager", note=f"eager {eager:.2f} ms; jitted/eager = {ratio:.2f}", extra={"ratio": ratio}),
    ]


_COMPILE = textwrap.dedent(
    """
    import minitorch_edu as mt
    import minitorch_edu.graph  # noqa: F401  (imports are the process's start-up, not the graph's)
    import minitorch_edu.nn  # noqa: F401

    def f(x):
        return ((x * {c} + 1.0).exp() - 0.5).tanh().relu() * 3.0

    x = mt.rand(4096)
    f(x).numpy()  # the eager kernels the trace runs: loaded from their cache before the clock starts

    jf = mt.jit(f)
    jf(x)
    print(jf.compile_seconds)
    """
)


def _run(code: str, cache: str) -> float:
    env = dict(os.environ, MINITORCH_EDU_CACHE=cache)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env,
                         check=True)
    return float(out.stdout.strip().splitlines()[-1])


def compile_rows(repeats: int) -> list[Row]:
    rows = []
    with tempfile.TemporaryDirectory() as cache:
        _run(_COMPILE.format(c=1.0), cache)  # fills this cache with the eager kernels
        cold, warm = [], []
        for _ in range(3 if repeats <= 5 else 5):
            code = _COMPILE.format(c=1.0 + uuid.uuid4().int % 10**6 / 10**7)  # a graph never compiled before
            cold.append(_run(code, cache) * 1e3)
            warm.append(_run(code, cache) * 1e3)  # the same graph: its kernel comes from the disk cache
    for label, times, bar in (("cold", cold, 2000.0), ("warm", warm, 200.0)):
        times.sort()
        ms = times[len(times) // 2]
        rows.append(Row(f"jit: trace + compile a new graph, {label} cache", Stats(ms, ms, ms, min(times), max(times),
                        len(times)), reference="abs", bar_ratio=bar, bar_text=f"≤{bar / 1000:g} s",
                        note="fresh interpreter, package imported and eager kernels loaded; trace, passes, "
                        "code generation, numba compile (cold) or load from numba's disk cache (warm)"))
    return rows


def jit_rows(repeats: int) -> list[Row]:
    """mt.jit: fused chain vs eager, jitted MLP step vs eager, trace + compile cold and warm."""
    return chain_rows(repeats) + mlp_rows(repeats) + compile_rows(repeats)
