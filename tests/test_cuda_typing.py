"""The CUDA backend's device code types and lowers for a real GPU, not only under the simulator.

The simulator runs device functions as Python, so code that numba-cuda cannot compile passes every
simulated test. numba-cuda's own compiler front end (typing, then lowering to LLVM IR) needs no GPU, no
driver and no NVIDIA compiler, so CI runs it here for Hopper (sm_90), in a process without
NUMBA_ENABLE_CUDASIM. It caught every float32 exp, log, tanh, sigmoid, erf and GELU failing to compile
("No implementation of function exp_poly"): numba-cuda keeps a registry of its own, and the scalar
helpers were registered for numba's CPU target only (`backends/cuda/kernels.py` registers them now).
The kernels that scripts/cuda_ptx_report.py sends through ptxas (matmuls, reductions, the fused loss) are
lowered here too; their register counts and spills need NVIDIA's compiler, so only that script reports them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

PROBE = textwrap.dedent(
    """
    import inspect, json
    import numpy as np
    import numba.cuda.dispatcher as dispatcher

    class Hopper:  # device functions ask the current device for its capability: there is none here
        compute_capability = (9, 0)

    dispatcher.get_current_device = lambda: Hopper()

    from numba import float32, float64, int64, types
    from numba.cuda.compiler import compile_cuda

    from minitorch_edu.backends import scalar
    from minitorch_edu.backends.cuda import kernels as K
    from minitorch_edu.backends.cuda import norms

    def lower(fn, args):
        try:
            compile_cuda(getattr(fn, "py_func", fn), None, args, cc=(9, 0))
            return None
        except Exception as e:  # the first line names what failed to type
            return f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"

    helpers = {id(f) for f in scalar.KERNEL_HELPERS} | {id(scalar.kernel_helper), id(scalar.fma32)}
    results = {}
    for name, fn in vars(scalar).items():
        if inspect.isfunction(fn) and fn.__module__ == scalar.__name__ and id(fn) not in helpers \\
                and not name.startswith("_"):
            arity = len(inspect.signature(fn).parameters)
            for ty in (float32, float64):
                results[f"scalar.{name}({ty})"] = lower(fn, (ty,) * arity)
    for ty in (float32, float64):
        arr = types.Array(ty, 1, "C")
        for op in ("exp", "log", "tanh", "sigmoid", "erf", "gelu", "gelu_tanh"):
            results[f"map_flat {op} {ty}"] = lower(K.map_kernels(getattr(scalar, op))[0], (arr, arr, int64))
        results[f"zip_flat gelu_back {ty}"] = lower(K.zip_kernels(scalar.gelu_back)[0], (arr, arr, arr, int64))
        results[f"softmax forward {ty}"] = lower(
            norms._softmax_forward_kernel(np.dtype(ty.name)), (arr, arr, int64, int64, types.boolean))
        results[f"layer norm forward {ty}"] = lower(
            norms._layer_norm_forward, (arr, arr, arr, arr, arr, arr, int64, int64, ty, types.boolean))
    import runpy  # and the kernels scripts/cuda_ptx_report.py sends through ptxas (matmuls, reductions, losses)
    for label, kernel, signature in runpy.run_path("scripts/cuda_ptx_report.py")["kernels"]():
        results[label] = lower(kernel, signature)
    print(json.dumps(results))
    """
)


def test_every_scalar_function_and_transcendental_kernel_compiles_for_a_real_gpu():
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    root = Path(__file__).parents[1]
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, timeout=600, cwd=root)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(results) >= 110, sorted(results)  # every scalar function in both dtypes, and the kernels
    failed = {what: why for what, why in results.items() if why}
    listed = "\n".join(f"{what}: {why}" for what, why in failed.items())
    assert not failed, "numba-cuda cannot compile these for a GPU:\n" + listed
