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
    monkeypatch.setattr(gpu, "ROWS_N", 3)
    monkeypatch.setattr(gpu, "ROWS_C", 5)
    rows = gpu.run(repeats=1)
    assert [r.error for r in rows] == [""] * len(rows)
    assert [r.name for r in rows] == [
        "matmul 8x8 (cuda)",
        "add 2^6 float32 (cuda)",
        "sum over dim 0 of (8,8) (cuda)",
        "sum over dim 1 of (8,8) (cuda)",
        "MLP step 6-4-10, batch 8 (cuda)",
        *(f"F.{name} (3,5) float32, {what} (cuda)" for name in ("softmax", "log_softmax", "layer_norm")
          for what in ("last dim", "forward + backward")),
    ]  # fmt: skip
    assert all(r.ours.median > 0 for r in rows)


def test_gpu_table_refuses_the_simulator(monkeypatch):
    monkeypatch.setenv("NUMBA_ENABLE_CUDASIM", "1")
    assert "simulator" in gpu.unavailable_reason()


def test_a_wrong_result_is_an_error_row(monkeypatch):
    monkeypatch.setattr(gpu, "GROUPS", (lambda repeats: gpu._check([1.0], __import__("numpy").array([2.0]), "x"),))
    (row,) = gpu.run(repeats=1)
    assert row.status == "ERROR" and "differs" in row.error


def test_backend_comparison_times_correct_kernels_and_rejects_a_wrong_one():
    """A learner's backend whose zip subtracts instead of adding: its zip workloads are reported
    as wrong results (no time), everything else is timed, next to NumPy."""
    import matplotlib

    matplotlib.use("Agg")
    from bench import backends as B
    from minitorch_edu.backends import get_backend, python

    reference = get_backend("python")

    def broken_zip(fn):
        kernel = python.tensor_zip(lambda x, y: x - y if fn(1.0, 1.0) == 2.0 else fn(x, y))
        return kernel

    mine = mt.Backend("broken", map=reference.map, zip=broken_zip, reduce=reference.reduce, matmul=reference.matmul)
    results = B.compare(["numba", mine], size=8, repeats=1, budget_s=0.1)
    by = {(r.backend, r.workload): r for r in results}
    assert len(results) == 2 * 7
    assert all(r.error is None and r.ms > 0 and r.vs_numpy > 0 for r in results if r.backend == "numba")
    for name in ("zip: a + b", "broadcast: a + column", "transposed: a + b.T"):
        assert "wrong result" in by[("broken", name)].error and by[("broken", name)].ms is None
    assert by[("broken", "map: relu(a)")].error is None and by[("broken", "reduce: a.sum(0)")].error is None
    text = B.table(results)
    assert "wrong result" in text and "numba" in text
    ax = B.plot(results)
    assert len(ax.patches) == 7 * 3  # a bar slot per workload for each backend and NumPy
    assert sum(p.get_height() > 0 for p in ax.patches) == 7 * 3 - 3  # the three wrong ones have none


@pytest.mark.skipif(not mt.backends.available("cuda"), reason="no CUDA (not even the simulator)")
def test_gpu_tile_sweep_checks_and_times_each_shape():
    from bench import gpu_tiles

    lines = gpu_tiles.sweep(n=12, shapes=[(2, 2, 4, 4, 4), (3, 3, 4, 4, 4), (2, 1, 4, 4, 2)], repeats=1)
    assert len(lines) == 4  # torch's line, then one per shape
    assert "TFLOP/s" in lines[1] and "TFLOP/s" in lines[2]  # 12 x 12 tiles: one block, ragged nothing
    assert "failed: ValueError" in lines[3]  # a 4 x 2 slice of B does not split over 16 threads


def test_gpu_header_names_the_card_and_allocator_or_says_why_not():
    from bench import report

    env = report.environment("cuda")
    assert env["notes"][0].startswith("gpu: ")
    assert "gpu: " in report.header(env)


def _fake_groups(calls: list[str]):
    from bench.report import Row, Stats

    def row(name: str) -> Row:
        return Row(name, Stats(1.0, 1.0, 1.0, 1.0, 1.0, 1), None, None, "")

    def reduction_rows(repeats):
        """sum over dim 0 and sum over dim 1 of (8,8)."""
        calls.append("reduction")
        return [row("sum over dim 0 of (8,8)"), row("sum over dim 1 of (8,8)")]

    def matmul_rows(repeats):
        """matmul 8x8."""
        calls.append("matmul")
        return [row("matmul 8x8 (a @ b)"), row("matmul 8x8 (kernel)")]

    def misc_rows(repeats):  # no docstring: only the fallback finds its rows by name
        calls.append("misc")
        return [row("odd one out")]

    return (reduction_rows, matmul_rows, misc_rows)


@pytest.mark.parametrize(
    ("only", "ran", "kept"),
    [
        ("sum over dim", ["reduction"], ["sum over dim 0 of (8,8)", "sum over dim 1 of (8,8)"]),  # the row name
        ("REDUCTION", ["reduction"], ["sum over dim 0 of (8,8)", "sum over dim 1 of (8,8)"]),  # the group name
        ("sum over dim 1", ["reduction"], ["sum over dim 1 of (8,8)"]),
        ("kernel", ["reduction", "matmul", "misc"], ["matmul 8x8 (kernel)"]),  # in no name or doc: every group runs
        ("odd one", ["reduction", "matmul", "misc"], ["odd one out"]),
        (None, ["reduction", "matmul", "misc"], ["sum over dim 0 of (8,8)", "sum over dim 1 of (8,8)",
                                                  "matmul 8x8 (a @ b)", "matmul 8x8 (kernel)", "odd one out"]),
    ],
)
def test_only_matches_a_row_name_or_its_group_name(monkeypatch, only, ran, kept):
    from bench import cpu

    calls: list[str] = []
    monkeypatch.setattr(cpu, "GROUPS", _fake_groups(calls))
    monkeypatch.setattr(cpu, "warm_up_small", lambda: None)
    assert [r.name for r in cpu.run(repeats=1, only=only)] == kept
    assert calls == ran
    calls.clear()
    monkeypatch.setattr(gpu, "GROUPS", _fake_groups(calls))
    assert [r.name for r in gpu.run(repeats=1, only=only)] == kept
    assert calls == ran


def test_the_real_reduction_rows_are_found_by_their_names():
    from bench import cpu
    from bench.report import groups_to_run

    assert groups_to_run("sum over dim", cpu.GROUPS) == [cpu.reduction_rows]
    assert groups_to_run("sum over dim", gpu.GROUPS) == [gpu.bandwidth_rows]
    assert groups_to_run("matmul 1024x1024", cpu.GROUPS) == [cpu.matmul_rows]


def test_attention_rows_check_against_torch_and_time_on_tiny_sizes(monkeypatch):
    """`python -m bench --only attention` on tiny shapes: three rows, each checked against PyTorch
    before it is timed, with torch pinned to numba's thread count and restored afterwards."""
    import torch

    from bench import attention, cpu

    for name, value in {"B": 2, "H": 2, "L": 8, "E": 4, "D_MODEL": 8, "FF": 16}.items():
        monkeypatch.setattr(attention, name, value)
    threads = torch.get_num_threads()
    rows = [r for g in cpu.GROUPS if g.__name__ == "attention_rows" for r in g(1)]
    assert torch.get_num_threads() == threads
    assert [r.error for r in rows] == [""] * 3
    assert [r.name.split(" ")[0] for r in rows] == [
        "F.scaled_dot_product_attention", "nn.MultiheadAttention(8,2)", "nn.TransformerEncoderLayer(8,2,16)"
    ]
    assert all(r.ours.median > 0 and r.torch_ms > 0 and r.reference == "torch" for r in rows)


def test_attention_rows_refuse_a_wrong_result(monkeypatch):
    from bench import attention
    from minitorch_edu.nn import functional as F

    for name, value in {"B": 1, "H": 1, "L": 4, "E": 2}.items():
        monkeypatch.setattr(attention, name, value)
    monkeypatch.setattr(F, "scaled_dot_product_attention", lambda q, k, v, **kw: q)
    with pytest.raises(AssertionError, match="SDPA: differs from torch"):
        attention.sdpa_row(1, 1)
