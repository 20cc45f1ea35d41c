"""The benchmark suite's own code runs and checks results (tiny sizes; no timing is asserted)."""

from __future__ import annotations

import pytest

import minitorch_edu as mt
from bench import gpu


@pytest.mark.skipif(not mt.backends.available("cuda"), reason="no CUDA (not even the simulator)")
def test_gpu_table_runs_every_workload_on_tiny_sizes(monkeypatch):
    for name, value in {"MATMUL_N": 8, "ADD_N": 1 << 6, "SUM_N": 8, "MLP_BATCH": 8, "MLP_FEATURES": 6}.items():
        monkeypatch.setattr(gpu, name, value)
    monkeypatch.setattr(gpu, "MLP_HIDDEN", 4)
    rows = gpu.run(repeats=1)
    assert [r.error for r in rows] == [""] * len(rows)
    assert [r.name for r in rows] == [
        "matmul 8x8 (cuda)",
        "add 2^6 float32 (cuda)",
        "sum over dim 0 of (8,8) (cuda)",
        "sum over dim 1 of (8,8) (cuda)",
        "MLP step 6-4-10, batch 8 (cuda)",
    ]
    assert all(r.ours.median > 0 for r in rows)


def test_gpu_table_refuses_the_simulator(monkeypatch):
    monkeypatch.setenv("NUMBA_ENABLE_CUDASIM", "1")
    assert "simulator" in gpu.unavailable_reason()


def test_a_wrong_result_is_an_error_row(monkeypatch):
    monkeypatch.setattr(gpu, "GROUPS", (lambda repeats: gpu._check([1.0], __import__("numpy").array([2.0]), "x"),))
    (row,) = gpu.run(repeats=1)
    assert row.status == "ERROR" and "differs" in row.error
