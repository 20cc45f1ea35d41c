"""Host cost of a CUDA op, and launch-configuration sweeps, on a machine with a GPU.

    python scripts/gpu_launch_report.py

1. microseconds per launch of a small kernel through numba's `kernel[grid, block](...)` and
   through `backends.cuda.launch.launch`, per device allocation, and per small tensor add;
2. where the host time of an MLP training step and of a 4096² matmul goes (cProfile);
3. sums over each dim of (8192, 8192) for several reduction block shapes;
4. the register-tiled matmul with and without a register cap.
Every timed result is checked against NumPy first.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import statistics
import time

import numpy as np
from numba import cuda

import minitorch_edu as mt
from minitorch_edu.backends import cuda as _backend  # noqa: F401  (first: installs the caching allocator)
from minitorch_edu.backends import scalar
from minitorch_edu.backends.cuda import kernels as K
from minitorch_edu.backends.cuda import launch as cuda_launch
from minitorch_edu.backends.cuda import matmul as cuda_matmul


def per_call_us(fn, calls: int = 2000) -> float:  # noqa: ANN001
    fn()
    cuda.synchronize()
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    cuda.synchronize()
    return (time.perf_counter() - start) / calls * 1e6


def wall_ms(fn, repeats: int = 20) -> float:  # noqa: ANN001
    for _ in range(3):
        fn()
    cuda.synchronize()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        cuda.synchronize()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def launch_costs() -> None:
    print("== host cost per call (us)")
    n = 1024
    A = np.arange(n, dtype=np.float32)
    a, b, out = cuda.to_device(A), cuda.to_device(2 * A), cuda.device_array(n, np.float32)
    flat = K.zip_kernels(scalar.add)[0]
    flat[4, 256](out, a, b, n)
    print(f"  numba kernel[grid, block](out, a, b, n)   {per_call_us(lambda: flat[4, 256](out, a, b, n)):7.1f}")
    out2 = cuda.device_array(n, np.float32)
    cuda_launch.launch(flat, 4, 256, out2, a, b, n)  # first call: numba compiles, the plan is made
    cuda_launch.launch(flat, 4, 256, out2, a, b, n)
    assert np.array_equal(out2.copy_to_host(), 3 * A), "fast launch gave a wrong result"
    fast = per_call_us(lambda: cuda_launch.launch(flat, 4, 256, out, a, b, n))
    print(f"  cuda_launch.launch(flat, ...)            {fast:7.1f}")
    print(f"  cuda.device_array(1024)                  {per_call_us(lambda: cuda.device_array(n, np.float32)):7.1f}")
    x, y = mt.tensor(A, device="cuda"), mt.tensor(2 * A, device="cuda")
    print(f"  x + y (1024 elements), fast launch       {per_call_us(lambda: x + y):7.1f}")
    cuda_launch.enabled = False
    print(f"  x + y (1024 elements), numba launch      {per_call_us(lambda: x + y):7.1f}")
    cuda_launch.enabled = True
    profile("x + y (1024 elements)", lambda: x + y, 3000)


def profile(name: str, fn, calls: int) -> None:  # noqa: ANN001
    for _ in range(3):
        fn()
    cuda.synchronize()
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(calls):
        fn()
    cuda.synchronize()
    prof.disable()
    text = io.StringIO()
    pstats.Stats(prof, stream=text).sort_stats("tottime").print_stats(22)
    print(f"\n== cProfile: {name}, {calls} calls")
    print("\n".join(line[:150] for line in text.getvalue().splitlines()[6:40]))


def host_profiles() -> None:
    from bench.gpu import MLP_BATCH, MLP_FEATURES, MLP_HIDDEN
    from bench.mlp_step import minitorch_step

    rng = np.random.default_rng(0)
    X = rng.standard_normal((MLP_BATCH, MLP_FEATURES), dtype=np.float32)
    labels = rng.integers(0, 10, MLP_BATCH).astype(np.int64)
    step, _ = minitorch_step(X, labels, "cuda", hidden=MLP_HIDDEN)
    print(f"\n== MLP step wall: {wall_ms(step):.3f} ms (fast launch)")
    cuda_launch.enabled = False
    print(f"== MLP step wall: {wall_ms(step):.3f} ms (numba launch)")
    cuda_launch.enabled = True
    profile("MLP step", step, 20)
    M = rng.standard_normal((4096, 4096), dtype=np.float32)
    a = mt.tensor(M, device="cuda")
    print(f"\n== a @ a 4096 wall: {wall_ms(lambda: a @ a):.3f} ms")
    profile("a @ a 4096", lambda: a @ a, 10)


def reduce_sweep() -> None:
    print("\n== sums of (8192, 8192): block shapes")
    rng = np.random.default_rng(1)
    M = rng.standard_normal((8192, 8192), dtype=np.float32)
    t = mt.tensor(M, device="cuda")
    want = [M.astype(np.float64).sum(0), M.astype(np.float64).sum(1)]
    saved = (K.REDUCE_LANES, K.REDUCE_SLOTS, K.REDUCE_THREADS_STRIDED)
    for lanes in (32, 64, 128, 256):
        K.REDUCE_LANES = lanes
        assert np.allclose(t.sum(1).numpy(), want[1], rtol=1e-3, atol=1e-1)
        print(f"  dim 1, {lanes:3d} lanes per row          {wall_ms(lambda: t.sum(1)):.4f} ms")
    for slots, threads in ((32, 256), (32, 512), (64, 512), (128, 512)):
        K.REDUCE_SLOTS, K.REDUCE_THREADS_STRIDED = slots, threads
        assert np.allclose(t.sum(0).numpy(), want[0], rtol=1e-3, atol=1e-1)
        print(f"  dim 0, {slots:3d} columns x {threads // slots:2d} lanes      {wall_ms(lambda: t.sum(0)):.4f} ms")
    K.REDUCE_LANES, K.REDUCE_SLOTS, K.REDUCE_THREADS_STRIDED = saved


def register_cap_sweep() -> None:
    print("\n== register-tiled matmul 4096, register cap")
    n = 4096
    rng = np.random.default_rng(2)
    A = rng.standard_normal((n, n), dtype=np.float32)
    a, out = cuda.to_device(A.reshape(-1)), cuda.device_array(n * n, np.float32)
    expected = A[:64].astype(np.float64) @ A
    args = (out, a, a, (1,), (0,), (0,), (0,), (n, 1, n, 1, n, 1), 1, n, n, n)
    shapes = [((8, 8, 16, 16, 8), None), ((8, 8, 16, 16, 8), 128), ((8, 8, 8, 16, 8), 128), ((8, 8, 16, 8, 8), 128)]
    shapes += [((8, 8, 8, 16, 16), 128), ((8, 8, 16, 16, 8), 96), ((8, 4, 16, 16, 8), 96), ((8, 8, 8, 8, 8), 128)]
    for shape, cap in shapes:
        kernel = cuda_matmul.matmul_registers(np.dtype(np.float32), shape, max_registers=cap)
        rows, cols = cuda_matmul.block_tile(shape)
        grid, block = (n // cols, n // rows, 1), (cuda_matmul.threads(shape),)
        try:
            kernel[grid, block](*args)
            cuda.synchronize()
            assert np.allclose(out.copy_to_host().reshape(n, n)[:64], expected, rtol=1e-2, atol=1e-2)
            regs = next(iter(kernel.overloads.values()))._codelibrary.get_cufunc().attrs.regs
            ms = wall_ms(lambda: kernel[grid, block](*args), 10)  # noqa: B023
            print(f"  {shape} cap {cap}: {regs} registers, {ms:.3f} ms, {2 * n**3 / ms / 1e9:.1f} TFLOP/s")
        except Exception as exc:  # noqa: BLE001
            print(f"  {shape} cap {cap}: failed: {type(exc).__name__}: {str(exc)[:200]}")


if __name__ == "__main__":
    for part in (launch_costs, register_cap_sweep, host_profiles, reduce_sweep):
        try:
            part()
        except Exception as exc:  # noqa: BLE001  (one failing part must not hide the rest)
            print(f"\n{part.__name__} failed: {type(exc).__name__}: {exc}", flush=True)
