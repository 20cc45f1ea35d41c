"""Compile the performance-critical CUDA kernels for a Hopper GPU (sm_90) without a GPU, and report
what `ptxas -v` says of each: registers per thread, spills, shared memory.

A register tile that does not fit in registers spills to local memory and runs several times
slower; a kernel using over 64 registers cannot launch 1024-thread blocks. Both show up here, on
any machine, before a GPU is ever lent. Needs NVIDIA's compiler pieces from PyPI (~600 MB):

    python -m venv /tmp/ptx
    /tmp/ptx/bin/pip install -e . "numba-cuda[cu13]==0.30.*" "cuda-toolkit[nvcc,cuobjdump]==13.*"
    /tmp/ptx/bin/python scripts/cuda_ptx_report.py

With cuobjdump, the matmuls' k loops are counted too (instructions, and how many are FMAs).
Exit status 1 if any kernel spills.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.pop("NUMBA_ENABLE_CUDASIM", None)  # compile for the real target, not the simulator

import numba.cuda.dispatcher as dispatcher  # noqa: E402
import numpy as np  # noqa: E402
from numba import boolean, cuda, float32, float64, int64, types  # noqa: E402

CC = (9, 0)


class _Hopper:
    """Stands in for the current device when there is none: device functions ask for its capability."""

    compute_capability = CC


dispatcher.get_current_device = lambda: _Hopper()


def _tool(name: str) -> str | None:
    import nvidia

    for root in nvidia.__path__:
        for found in Path(root).glob(f"*/bin/{name}"):
            return str(found)
    return None


def inner_loop(cuobjdump: str, cubin: Path) -> str:
    """The machine-code loop that holds the last FFMA (a matmul's k loop): its length and its
    FFMA count. Everything else in it (index arithmetic, bounds checks) competes for issue slots."""
    done = subprocess.run([cuobjdump, "-sass", str(cubin)], capture_output=True, text=True)
    if done.returncode != 0:  # a cuobjdump older than the ptxas that wrote the cubin
        return f"   (cuobjdump: {done.stderr.strip()[:80]})"
    sass = done.stdout
    code = [(int(m[1], 16), m[2]) for m in re.finditer(r"/\*([0-9a-f]{4,})\*/\s+([^;]*);", sass)]
    fma = [at for at, text in code if "FFMA" in text or "DFMA" in text]
    if not fma:
        return ""
    for at, text in code:
        if at > fma[-1] and "BRA" in text and int(text.split()[-1], 16) < at:
            start = int(text.split()[-1], 16)
            body = [t for a, t in code if start <= a <= at]
            count = sum("FMA" in t for t in body)
            return f"   k loop: {len(body)} instructions, {count} FMA"
    return ""


def kernels() -> list[tuple[str, object, tuple]]:
    from minitorch_edu.backends import scalar
    from minitorch_edu.backends.cuda import kernels as K
    from minitorch_edu.backends.cuda import losses as cuda_losses
    from minitorch_edu.backends.cuda import matmul as cuda_matmul

    found = []
    for name, ft in (("f32", float32), ("f64", float64)):
        arr = types.Array(ft, 1, "C")
        t1, t2 = types.UniTuple(int64, 1), types.UniTuple(int64, 2)
        flat, strided = K.zip_kernels(scalar.add)
        found += [
            (f"zip_flat add {name}", flat, (arr, arr, arr, int64)),
            (f"zip_strided add {name}", strided, (arr, t2, arr, t2, arr, t2, t2, int64)),
            *((f"map_flat {op} {name}", K.map_kernels(getattr(scalar, op))[0], (arr, arr, int64))
              for op in ("exp", "log", "tanh", "sigmoid", "erf", "gelu", "gelu_tanh")),
            (f"zip_flat gelu_back {name}", K.zip_kernels(scalar.gelu_back)[0], (arr, arr, arr, int64)),
            (
                f"reduce add {name}",
                K.reduce_kernel(scalar.add, np.dtype(ft.name)),
                (arr, t1, arr, t1, t1, int64, int64, int64, int64, int64, boolean),
            ),
            (
                f"matmul tiled {name}",
                K.matmul_kernel(16, np.dtype(ft.name)),
                (arr, arr, arr, t1, t1, t1, t1, types.UniTuple(int64, 6), int64, int64, int64, int64),
            ),
            (
                f"matmul registers {name}",
                cuda_matmul.matmul_registers(np.dtype(ft.name)),
                (arr, arr, arr, t1, t1, t1, t1, types.UniTuple(int64, 6), int64, int64, int64, int64),
            ),
            (
                f"softmax xent forward {name}",
                cuda_losses._forward,
                (arr, arr, arr, types.Array(int64, 1, "C"), int64, int64),
            ),
        ]
    return found


def main() -> int:
    ptxas, cuobjdump = _tool("ptxas"), _tool("cuobjdump")
    if ptxas is None:
        raise SystemExit("ptxas not found: install cuda-toolkit[nvcc] (see this script's docstring)")
    spilled = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, kernel, signature in kernels():
            ptx, _ = cuda.compile_ptx(getattr(kernel, "py_func", kernel), signature, cc=CC)
            source = Path(tmp) / "k.ptx"
            source.write_text(ptx)
            result = subprocess.run(
                [ptxas, "-v", "-O3", "--gpu-name", f"sm_{CC[0]}{CC[1]}", str(source), "-o", str(Path(tmp) / "k.cubin")],
                capture_output=True,
                text=True,
                check=True,
            )
            lines = result.stderr.splitlines()
            info = " ".join(line.split("info    : ")[-1] for line in lines if "Used" in line)
            spills = [line for line in lines if "spill" in line and " 0 bytes spill stores" not in line]
            if spills:
                spilled.append(label)
            loop = inner_loop(cuobjdump, Path(tmp) / "k.cubin") if cuobjdump and "matmul" in label else ""
            print(f"{label:28s} {info}{'   SPILLS' if spills else ''}{loop}")
    if spilled:
        print("kernels that spill registers to local memory: " + ", ".join(spilled))
    return 1 if spilled else 0


if __name__ == "__main__":
    sys.exit(main())
