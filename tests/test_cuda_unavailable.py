"""Asking for CUDA on a machine without a GPU: one clear error, as a user meets it (no simulator)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(os.path.exists("/dev/nvidia0"), reason="this machine has a GPU")


def test_to_cuda_without_a_gpu_says_what_is_missing_and_how_to_simulate() -> None:
    code = (
        "import minitorch_edu as mt\n"
        "print(mt.backends.available('cuda'))\n"
        "try:\n"
        "    mt.tensor([1.0]).to('cuda')\n"
        "except mt.backends.DeviceUnavailableError as err:\n"
        "    print('ERROR', err)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "False"
    assert lines[1].startswith("ERROR device 'cuda' is not available here: no NVIDIA GPU")
    assert "NUMBA_ENABLE_CUDASIM=1" in lines[1] and "Traceback" not in result.stderr
