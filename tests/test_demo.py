"""`python -m minitorch_edu`, what `bash scripts/start --demo` runs, works and shows a model learning."""

from __future__ import annotations

import re
import subprocess
import sys


def test_the_demo_runs_and_trains():
    done = subprocess.run([sys.executable, "-m", "minitorch_edu"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "[[ 8. 12.]\n [ 8. 12.]]" in done.stdout  # d/dx of (x @ x.T).relu().sum()
    assert "numba   (t * 2 + 1).sum(dim=0) = [27. 33. 39. 45.]" in done.stdout
    accuracy = float(re.search(r"fit:\s+accuracy ([\d.]+)%", done.stdout).group(1))
    assert accuracy >= 90.0
