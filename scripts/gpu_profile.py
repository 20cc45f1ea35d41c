"""Where the GPU time of our CUDA workloads goes, kernel by kernel (run on a machine with a GPU).

PyTorch's profiler reads CUPTI's activity records for the whole process, so it also sees the
kernels numba launches: for each workload this prints the GPU time of every kernel and copy,
and the wall time of the step, to tell launch/host overhead from slow kernels.

    python scripts/gpu_profile.py [mlp|add|sum|matmul ...]
"""

from __future__ import annotations

import sys
import time

import numpy as np


def _workloads() -> dict:
    import minitorch_edu as mt
    from bench.gpu import MLP_BATCH, MLP_FEATURES, MLP_HIDDEN
    from bench.mlp_step import minitorch_step

    rng = np.random.default_rng(0)

    def mlp():  # noqa: ANN202
        X = rng.standard_normal((MLP_BATCH, MLP_FEATURES), dtype=np.float32)
        y = rng.integers(0, 10, MLP_BATCH).astype(np.int64)
        step, _ = minitorch_step(X, y, "cuda", hidden=MLP_HIDDEN)
        return step

    def add():  # noqa: ANN202
        x = mt.tensor(rng.standard_normal(1 << 26, dtype=np.float32), device="cuda")
        y = mt.tensor(rng.standard_normal(1 << 26, dtype=np.float32), device="cuda")
        return lambda: x + y

    def sums():  # noqa: ANN202
        t = mt.tensor(rng.standard_normal((8192, 8192), dtype=np.float32), device="cuda")
        return lambda: (t.sum(0), t.sum(1))

    def matmul():  # noqa: ANN202
        a = mt.tensor(rng.standard_normal((4096, 4096), dtype=np.float32), device="cuda")
        return lambda: a @ a

    return {"mlp": mlp, "add": add, "sum": sums, "matmul": matmul}


def profile(name: str, make) -> None:  # noqa: ANN001
    import torch
    from numba import cuda
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    fn = make()
    for _ in range(3):
        fn()
    cuda.synchronize()
    steps = 5
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    cuda.synchronize()
    wall = (time.perf_counter() - start) * 1e3 / steps
    with torch_profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        for _ in range(steps):
            fn()
        cuda.synchronize()
        torch.cuda.synchronize()
    events = [e for e in prof.key_averages() if e.device_time_total > 0]
    events.sort(key=lambda e: -e.device_time_total)
    gpu_total = sum(e.device_time_total for e in events) / 1e3 / steps
    print(f"\n== {name}: wall {wall:.3f} ms per step, GPU busy {gpu_total:.3f} ms per step", flush=True)
    for e in events[:25]:
        print(f"  {e.device_time_total / 1e3 / steps:8.3f} ms  x{e.count // steps:<3d} {e.key[:110]}")


if __name__ == "__main__":
    chosen = sys.argv[1:] or ["mlp", "add", "sum", "matmul"]
    work = _workloads()
    for name in chosen:
        try:
            profile(name, work[name])
        except Exception as exc:  # noqa: BLE001  (a profiler that cannot attach must not hide the rest)
            print(f"\n== {name}: not profiled ({type(exc).__name__}: {exc})", flush=True)
