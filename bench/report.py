"""Timing, rows, the environment header and the printed table shared by the CPU and GPU runs.

A row compares our median time with one reference (NumPy or PyTorch, whichever the bar names)
as a time ratio ours / reference; bars stated in GFLOP/s are converted to the equivalent time
ratio (at least 50% of NumPy's GFLOP/s is at most 2x NumPy's time).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

# Environment variables that change OpenBLAS's kernel choice (and so numpy's speed).
OPENBLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


@dataclass
class Stats:
    """Milliseconds over repeated calls."""

    median: float
    q1: float
    q3: float
    min: float
    max: float
    repeats: int

    def text(self) -> str:
        return f"{_fmt(self.median)} ({_fmt(self.q1)}-{_fmt(self.q3)})"


def measure(
    fn: Callable[[], Any],
    repeats: int = 15,
    warmup: int = 2,
    budget_s: float = 3.0,
    sync: Callable[[], Any] | None = None,
) -> Stats:
    """Time `fn` `repeats` times after `warmup` calls; stop early (at least 3 runs) past `budget_s`.

    `sync` (e.g. a device synchronise) runs inside the timed region after each call, so
    asynchronous GPU work is counted.
    """
    for _ in range(warmup):
        fn()
    if sync:
        sync()
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < repeats:
        t0 = time.perf_counter()
        fn()
        if sync:
            sync()
        times.append((time.perf_counter() - t0) * 1e3)
        if len(times) >= 3 and time.perf_counter() - start > budget_s:
            break
    return _stats(times)


def measure_interleaved(
    fns: dict[str, Callable[[], Any] | None],
    repeats: int = 15,
    budget_s: float = 3.0,
    pause_s: float = 0.2,
    rounds: int = 3,
) -> dict[str, Stats | None]:
    """Time several functions in blocks: each contender's block of repeats, in turn, `rounds` times.

    Blocks, not one call each round-robin: numba's OpenMP pool, OpenBLAS and torch each keep
    their worker threads spinning for a while after a call, and on 2 cores a contender timed
    right after another one runs against those spinning threads (a round-robin 512x512 matmul
    measured at half speed). A pause before each block lets them go to sleep. Several rounds,
    keeping each contender's best block, take out slow drifts of the machine (clock, caches
    left by the previous workload) that would otherwise land on whoever ran first.
    None entries are skipped.
    """
    best: dict[str, Stats | None] = {k: None for k in fns}
    for _ in range(rounds):
        for k, f in fns.items():
            if f is None:
                continue
            time.sleep(pause_s)
            stats = measure(f, repeats=repeats, warmup=2, budget_s=budget_s / rounds)
            if best[k] is None or stats.median < best[k].median:
                best[k] = stats
    return best


def _stats(times: list[float]) -> Stats:
    if len(times) >= 4:
        q1, _, q3 = statistics.quantiles(times, n=4)
    else:
        q1, q3 = min(times), max(times)
    return Stats(statistics.median(times), q1, q3, min(times), max(times), len(times))


@dataclass
class Row:
    """One workload: our time, the references, and the bar it has to meet.

    `bar_ratio` is the largest allowed ours/reference time ratio (for absolute bars, e.g. import
    time, `reference` is "abs" and `bar_ratio` is the allowed milliseconds).
    """

    name: str
    ours: Stats | None
    numpy_ms: float | None = None
    torch_ms: float | None = None
    reference: str = "numpy"  # "numpy", "torch", "abs" or "" (informational row)
    bar_ratio: float | None = None
    bar_text: str = ""
    note: str = ""
    error: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio_numpy(self) -> float | None:
        return self.ours.median / self.numpy_ms if self.ours and self.numpy_ms else None

    @property
    def ratio_torch(self) -> float | None:
        return self.ours.median / self.torch_ms if self.ours and self.torch_ms else None

    @property
    def status(self) -> str:
        if self.error:
            return "ERROR" if not self.error.startswith("n/a") else "N/A"
        if self.bar_ratio is None or self.ours is None:
            return "info"
        if self.reference == "abs":
            value = self.ours.median
        else:
            value = self.ratio_numpy if self.reference == "numpy" else self.ratio_torch
            if value is None:
                return "no ref"
        return "PASS" if value <= self.bar_ratio else "MISS"


def _fmt(ms: float | None) -> str:
    if ms is None:
        return "-"
    if ms >= 100:
        return f"{ms:.0f}"
    if ms >= 10:
        return f"{ms:.1f}"
    if ms >= 1:
        return f"{ms:.2f}"
    return f"{ms:.3f}"


def _ratio(r: float | None) -> str:
    return "-" if r is None else f"{r:.2f}x"


def environment(device: str = "cpu") -> dict[str, Any]:
    """Versions, BLAS and threading facts printed above the table (and stored in the JSON)."""
    import numba

    env: dict[str, Any] = {
        "device": device,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "numba_threads": numba.get_num_threads(),
    }
    try:  # the layer is only chosen once a parallel kernel ran; run a tiny one
        from minitorch_edu.backends import scalar
        from minitorch_edu.backends.numba import cpu as numba_cpu

        numba_cpu.compile_kernels(scalar.add).zip_flat(np.zeros(1), np.zeros(1), np.zeros(1), 1)
        env["numba_threading_layer"] = numba.threading_layer()
    except Exception as exc:  # noqa: BLE001  (a header must never stop the run)
        env["numba_threading_layer"] = f"unknown ({exc})"
    try:
        import torch

        env["torch"] = torch.__version__
        env["torch_threads"] = torch.get_num_threads()
    except ImportError:
        env["torch"] = None
    try:
        from threadpoolctl import threadpool_info

        env["threadpools"] = [
            {k: info.get(k) for k in ("internal_api", "prefix", "num_threads", "version", "architecture")}
            for info in threadpool_info()
        ]
    except ImportError:
        env["threadpools"] = "threadpoolctl not installed"
    env["openblas_env"] = {k: os.environ[k] for k in OPENBLAS_VARS if k in os.environ}
    if device == "cuda":
        env.update(_gpu_facts())
    return env


def _gpu_facts() -> dict[str, Any]:
    """The card, and which device-memory manager the cuda backend runs on."""
    facts: dict[str, Any] = {}
    try:
        from numba import cuda

        from minitorch_edu.backends import get_backend
        from minitorch_edu.backends.cuda import memory as cuda_memory

        get_backend("cuda")  # installs the caching allocator before the first context
        facts["cuda_allocator"] = "caching (minitorch_edu)" if cuda_memory.install() else "numba's own"
        device = cuda.get_current_device()
        facts["gpu"] = f"{device.name.decode() if isinstance(device.name, bytes) else device.name}"
        facts["notes"] = [f"gpu: {facts['gpu']}, device memory: {facts['cuda_allocator']} allocator"]
    except Exception as exc:  # noqa: BLE001  (a header must never stop the run)
        facts["notes"] = [f"gpu: unknown ({type(exc).__name__}: {exc})"]
    return facts


def header(env: dict[str, Any]) -> str:
    lines = [
        f"minitorch_edu bench ({env['device']}): python {env['python']} on {env['machine']}, {env['cpu_count']} CPUs",
        f"numpy {env['numpy']}, numba {env['numba']} (threading layer {env['numba_threading_layer']}, "
        f"{env['numba_threads']} threads), torch {env.get('torch') or 'not installed'}"
        + (f" ({env['torch_threads']} threads)" if env.get("torch") else ""),
    ]
    pools = env.get("threadpools")
    if isinstance(pools, list):
        for p in pools:
            arch = f", {p['architecture']}" if p.get("architecture") else ""
            lines.append(
                f"threadpool: {p['internal_api']} {p.get('version') or ''} ({p['prefix']}), "
                f"{p['num_threads']} threads{arch}"
            )
    else:
        lines.append(f"threadpool: {pools}")
    if env.get("openblas_env"):
        pretty = " ".join(f"{k}={v}" for k, v in env["openblas_env"].items())
        lines.append(
            f"WARNING: {pretty} is set: it changes OpenBLAS's kernels, so numpy may be slower than "
            f"usual; to compare against a normal numpy run `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "
            f"python -m bench`"
        )
    for extra in env.get("notes", []):
        lines.append(extra)
    return "\n".join(lines)


COLUMNS = ("workload", "ours ms median (IQR)", "numpy ms", "torch ms", "vs numpy", "vs torch", "bar", "result")


def table(rows: list[Row]) -> str:
    body = []
    for r in rows:
        body.append(
            (
                r.name,
                r.ours.text() if r.ours else "-",
                _fmt(r.numpy_ms),
                _fmt(r.torch_ms),
                _ratio(r.ratio_numpy),
                _ratio(r.ratio_torch),
                r.bar_text or "-",
                r.status,
            )
        )
    widths = [max(len(COLUMNS[i]), *(len(b[i]) for b in body)) if body else len(COLUMNS[i]) for i in range(8)]

    def fmt_line(cells: tuple[str, ...]) -> str:  # text columns left-aligned, numbers right-aligned
        return "  ".join(c.ljust(w) if i in (0, 6, 7) else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    out = [fmt_line(COLUMNS), fmt_line(tuple("-" * w for w in widths))]
    out += [fmt_line(b) for b in body]
    notes = [(r.name, r.note or r.error) for r in rows if r.note or r.error]
    if notes:
        out.append("")
        out += [f"  {name}: {text}" for name, text in notes]
    counts = {s: sum(r.status == s for r in rows) for s in ("PASS", "MISS", "ERROR", "N/A")}
    out.append("")
    out.append("  ".join(f"{k} {v}" for k, v in counts.items()))
    return "\n".join(out)


def write_json(path: str, env: dict[str, Any], rows: list[Row]) -> None:
    records = []
    for r in rows:
        d = asdict(r)
        d.update(status=r.status, ratio_numpy=r.ratio_numpy, ratio_torch=r.ratio_torch)
        records.append(d)
    with open(path, "w") as f:
        json.dump({"environment": env, "rows": records}, f, indent=2, default=str)


def groups_to_run(only: str | None, groups: tuple[Callable[..., Any], ...]) -> list[Callable[..., Any]]:
    """The workload groups `--only TEXT` needs: those with TEXT in their name or docstring (which
    names their rows); when none has, every group runs and the rows are picked by name."""
    if not only:
        return list(groups)
    text = only.lower()
    named = [g for g in groups if text in g.__name__.lower() or text in (g.__doc__ or "").lower()]
    return named or list(groups)


def keeps_row(only: str | None, group: Callable[..., Any], row_name: str) -> bool:
    """`--only TEXT` keeps a row whose name contains TEXT, and every row of a group whose name does
    (`--only reduction` keeps all the reduction rows, `--only "sum over dim"` the sums)."""
    if not only:
        return True
    text = only.lower()
    return text in row_name.lower() or text in group.__name__.lower()
