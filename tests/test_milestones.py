"""Milestones: the whole stack (tensors, autograd, nn, optim, data, fit) learns real tasks.

These run in the default suite (they are short on purpose): an MLP must reach at least 95% test
accuracy on the `split` and `xor` toy sets, and a small CNN at least 95% on the 8×8 digits.
They use the same code as scripts/train_toy.py and scripts/train_digits.py.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", ["split", "xor"])
def test_mlp_learns_toy_set(name: str) -> None:
    accuracy, seconds, _ = _script("train_toy").train(name)
    print(f"{name}: test accuracy {accuracy:.3f} in {seconds:.1f} s")
    assert accuracy >= 0.95


def test_cnn_learns_digits() -> None:
    pytest.importorskip("sklearn")
    start = time.perf_counter()
    accuracy, seconds, model = _script("train_digits").train()
    print(f"digits: test accuracy {accuracy:.3f}, training {seconds:.1f} s, total {time.perf_counter() - start:.1f} s")
    assert accuracy >= 0.95
    assert sum(p.numel() for p in model.parameters()) < 5000  # small on purpose: this is a quick check
