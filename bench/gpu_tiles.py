"""Register-tile shapes of the CUDA matmul, timed on one GPU in one run: `python -m bench.gpu_tiles`.

`backends/cuda_matmul.SHAPE` was chosen without a GPU (registers and the k loop's instruction mix
from `scripts/cuda_ptx_report.py`); this sweep is what confirms or replaces it on a real device.
Each shape (tm, tn, ty, tx, bk): a thread computes tm x tn outputs, a block of ty x tx threads a
(tm*ty) x (tn*tx) tile, staging a bk-deep slice of each operand. Results are checked first.
"""

from __future__ import annotations

import sys

import numpy as np

from .gpu import _sync, unavailable_reason
from .report import measure

SHAPES = [
    (8, 8, 16, 16, 8),
    (8, 8, 16, 16, 16),
    (8, 4, 16, 16, 8),
    (4, 8, 16, 16, 8),
    (8, 8, 8, 16, 8),
    (8, 8, 16, 8, 8),
    (4, 4, 16, 16, 8),
    (4, 4, 16, 16, 16),
]


def sweep(n: int = 4096, shapes: list[tuple[int, int, int, int, int]] = SHAPES, repeats: int = 10) -> list[str]:
    from numba import cuda

    from minitorch_edu.backends.cuda.backend import make_matmul

    rng = np.random.default_rng(0)
    A = rng.standard_normal((n, n), dtype=np.float32)
    B = rng.standard_normal((n, n), dtype=np.float32)
    a, b = cuda.to_device(A.reshape(-1)), cuda.to_device(B.reshape(-1))
    out = cuda.device_array(n * n, dtype=np.float32)
    expected = A[:64].astype(np.float64) @ B
    lines = []
    try:
        import torch

        torch.backends.cuda.matmul.allow_tf32 = False
        ta, tb = torch.from_numpy(A).cuda(), torch.from_numpy(B).cuda()
        ms = measure(lambda: ta @ tb, repeats=repeats, warmup=3, sync=_sync).median
        lines.append(f"torch (cuBLAS, TF32 off)   {ms:8.3f} ms  {2 * n**3 / ms / 1e9:6.1f} TFLOP/s")
    except Exception as exc:  # noqa: BLE001
        lines.append(f"torch: not measured ({type(exc).__name__}: {exc})")
    print(lines[-1], flush=True)
    for shape in shapes:
        kernel = make_matmul(registers=True, shape=shape)

        def run(kernel=kernel) -> None:  # noqa: ANN001
            kernel(out, (n, 1), a, (n, 1), b, (n, 1), (n, n), n)

        try:
            run()
            cuda.synchronize()
            got = out.copy_to_host().reshape(n, n)[:64]
            if not np.allclose(got, expected, rtol=1e-2, atol=1e-2):
                raise AssertionError("wrong result")
            ms = measure(run, repeats=repeats, warmup=2, sync=_sync).median
            lines.append(f"registers {shape!s:18s} {ms:8.3f} ms  {2 * n**3 / ms / 1e9:6.1f} TFLOP/s")
        except Exception as exc:  # noqa: BLE001  (one failing shape must not hide the others)
            lines.append(f"registers {shape!s:18s} failed: {type(exc).__name__}: {str(exc).splitlines()[0]}")
        print(lines[-1], flush=True)
    return lines


if __name__ == "__main__":
    problem = unavailable_reason()
    if problem:
        print(f"bench.gpu_tiles: {problem}", file=sys.stderr)
        sys.exit(2)
    sweep()
