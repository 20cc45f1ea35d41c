"""The README's "A taste" examples run as written (and the first prints what the README says)."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib
import numpy as np

README = Path(__file__).resolve().parents[1] / "README.md"


def taste_blocks() -> list[str]:
    section = README.read_text().split("## A taste", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_the_readme_examples_run(tmp_path, monkeypatch):
    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)  # the example saves model.npz in the working directory
    blocks = taste_blocks()
    assert len(blocks) == 2
    scope: dict = {}
    exec(compile(blocks[0], "README: autograd", "exec"), scope)
    np.testing.assert_array_equal(scope["x"].grad.numpy(), [[8.0, 12.0], [8.0, 12.0]])
    exec(compile("import minitorch_edu as mt\n" + blocks[1], "README: training", "exec"), scope)
    assert (tmp_path / "model.npz").exists()
    assert scope["history"].history["val_accuracy"][-1] > 0.8


def test_the_readme_backend_race_runs():
    """The "Speed" section's snippet, with `mine` built from the numba kernels."""
    import minitorch_edu as mt

    matplotlib.use("Agg")
    section = README.read_text().split("### Speed", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    numba = mt.backends.get_backend("numba")
    mine = mt.Backend("mine", map=numba.map, zip=numba.zip, reduce=numba.reduce, matmul=numba.matmul)
    scope: dict = {"mine": mine}
    exec(compile(block, "README: speed", "exec"), scope)
    assert [r.error for r in scope["results"]] == [None] * 14


def test_the_readme_examples_run_as_a_user_runs_them(tmp_path):
    """In a fresh process without numba's CUDA simulator, as on a user's CPU-only machine."""
    import os
    import subprocess
    import sys

    program = "import matplotlib\nmatplotlib.use('Agg')\nimport minitorch_edu as mt\n" + "\n".join(taste_blocks())
    program += "\nprint('grad', x.grad.numpy().tolist())\n"
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    result = subprocess.run(
        [sys.executable, "-c", program], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "grad [[8.0, 12.0], [8.0, 12.0]]" in result.stdout
