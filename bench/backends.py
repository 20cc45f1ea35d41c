"""Any backends side by side on the tensor workloads of chapters 04 and 05, against NumPy.

A learner's own kernels (an `mt.Backend` built from their map/zip/reduce/matmul) race the
reference ones on the same data, in the same process:

    from bench.backends import compare, plot, table
    results = compare(["python", "numba", my_backend], size=256)
    print(table(results))
    plot(results)                      # one bar per backend per workload, log scale

Every result is checked against NumPy before it is timed: a kernel that computes the wrong thing
gets `error` set (and no time), instead of a fast but meaningless number. Pure-Python backends are
slow by design (chapter 03), so `size` is theirs to choose: 64 keeps the python one under a second.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .report import measure


@dataclass
class Result:
    """One backend on one workload: median milliseconds, and the same for NumPy."""

    workload: str
    backend: str
    ms: float | None
    numpy_ms: float
    error: str | None = None

    @property
    def vs_numpy(self) -> float | None:
        """Our time / NumPy's (below 1: faster than NumPy)."""
        return None if self.ms is None else self.ms / self.numpy_ms


Case = tuple[str, Callable[[dict[str, Any]], Any], Callable[[], np.ndarray]]


def workloads(size: int) -> tuple[list[Case], dict[str, np.ndarray]]:
    """The cases (name, what a backend runs on its tensors, what NumPy runs) and their (size, size)
    float32 operands by name."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    col = rng.standard_normal((size, 1), dtype=np.float32)
    return [
        ("map: relu(a)", lambda t: t["a"].relu(), lambda: np.maximum(a, 0)),
        ("zip: a + b", lambda t: t["a"] + t["b"], lambda: a + b),
        ("broadcast: a + column", lambda t: t["a"] + t["col"], lambda: a + col),
        ("transposed: a + b.T", lambda t: t["a"] + t["b"].T, lambda: a + b.T),
        ("reduce: a.sum(0)", lambda t: t["a"].sum(0), lambda: a.sum(0)),
        ("reduce: a.sum(1)", lambda t: t["a"].sum(1), lambda: a.sum(1)),
        ("matmul: a @ b", lambda t: t["a"] @ t["b"], lambda: a @ b),
    ], {"a": a, "b": b, "col": col}


def compare(backends: Sequence[Any], size: int = 256, repeats: int = 7, budget_s: float = 2.0) -> list[Result]:
    """Time each backend (a name or an `mt.Backend`) on every workload, next to NumPy."""
    import minitorch_edu as mt
    from minitorch_edu.backends import get_backend

    cases, arrays = workloads(size)
    numpy_ms = {name: measure(run, repeats=repeats, budget_s=budget_s).median for name, _, run in cases}
    results = []
    for spec in backends:
        backend = get_backend(spec)
        try:
            tensors = {key: mt.tensor(value, device=backend) for key, value in arrays.items()}
        except Exception as exc:  # noqa: BLE001  (no GPU, a broken storage: every workload says so)
            results += [Result(name, backend.name, None, numpy_ms[name], _describe(exc)) for name, _, _ in cases]
            continue
        for name, ours, reference in cases:
            try:
                _check(ours(tensors).numpy(), reference(), size)
                ms = measure(lambda: ours(tensors), repeats=repeats, budget_s=budget_s, sync=_synchronizer(backend))  # noqa: B023
                results.append(Result(name, backend.name, ms.median, numpy_ms[name]))
            except Exception as exc:  # noqa: BLE001  (a learner's kernel may fail in any way: report it)
                results.append(Result(name, backend.name, None, numpy_ms[name], _describe(exc)))
    return results


def _check(got: np.ndarray, expected: np.ndarray, size: int) -> None:
    if got.shape != expected.shape:
        raise AssertionError(f"wrong result: shape {got.shape}, NumPy's is {expected.shape}")
    if not np.allclose(got, expected, rtol=1e-3, atol=1e-3 * np.sqrt(size)):
        raise AssertionError(f"wrong result: differs from NumPy by up to {np.abs(got - expected).max():.3g}")


def _describe(exc: Exception) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip().strip(":")]
    return f"{type(exc).__name__}: {' '.join(lines[:2])}"


def _synchronizer(backend: Any) -> Callable[[], None] | None:
    """GPU kernels return before they finish: the timing must wait for them."""
    if backend.device != "cuda":
        return None
    from numba import cuda

    return cuda.synchronize


def table(results: Sequence[Result]) -> str:
    """The results as text: one line per workload and backend."""
    lines = [
        "time per call, median of repeated calls; 'x numpy' = our time / NumPy's time (above 1: slower than NumPy)",
        f"{'workload':24s} {'backend':10s} {'ms':>10s} {'numpy ms':>10s} {'x numpy':>9s}",
    ]
    for r in results:
        if r.error:
            lines.append(f"{r.workload:24s} {r.backend:10s} {'-':>10s} {r.numpy_ms:10.3f} {'':>9s}  {r.error}")
        else:
            lines.append(f"{r.workload:24s} {r.backend:10s} {r.ms:10.3f} {r.numpy_ms:10.3f} {r.vs_numpy:8.2f}x")
    return "\n".join(lines)


def plot(results: Sequence[Result], ax: Any = None) -> Any:
    """Grouped bars, one group per workload: each backend's time and NumPy's, on a log scale."""
    import matplotlib.pyplot as plt

    names = list(dict.fromkeys(r.workload for r in results))
    series = list(dict.fromkeys(r.backend for r in results)) + ["numpy"]
    times = {(r.workload, r.backend): r.ms for r in results}
    times.update({(r.workload, "numpy"): r.numpy_ms for r in results})
    if ax is None:
        _, ax = plt.subplots(figsize=(1.4 * len(names) + 3, 4))
    width = 0.8 / len(series)
    for i, backend in enumerate(series):
        xs = [j + (i - (len(series) - 1) / 2) * width for j in range(len(names))]
        heights = [times.get((name, backend)) or 0.0 for name in names]  # failed runs: no bar
        ax.bar(xs, heights, width, label=backend)
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    ax.set_yscale("log")
    ax.set_ylabel("milliseconds (log scale; lower is faster)")
    ax.legend()
    ax.figure.tight_layout()
    return ax
