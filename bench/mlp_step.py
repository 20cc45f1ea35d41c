"""Time one training step of a 784-256-10 MLP (batch 128, float32): forward, loss, backward, SGD.

minitorch_edu and PyTorch (CPU) run the same step on the same data in this process; the ratio
is the number to look at (absolute times depend on the machine). Run:

    python bench/mlp_step.py [--steps 50] [--backend numba|python]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def _time(step, steps: int, warmup: int = 5) -> float:
    """Median seconds per call of `step` after `warmup` calls (JIT compilation, caches)."""
    for _ in range(warmup):
        step()
    samples = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def minitorch_step(x: np.ndarray, y: np.ndarray, backend: str):
    import minitorch_edu as mt
    from minitorch_edu import nn, optim
    from minitorch_edu.nn import functional as F

    mt.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10)).to(backend)
    opt = optim.SGD(model.parameters(), lr=0.01)
    xb, yb = mt.tensor(x, device=backend), mt.tensor(y, device=backend)

    def step() -> None:
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def torch_step(x: np.ndarray, y: np.ndarray):
    import torch

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    xb, yb = torch.from_numpy(x), torch.from_numpy(y)

    def step() -> None:
        loss = torch.nn.functional.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--backend", default="numba")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((128, 784)).astype(np.float32)
    y = rng.integers(0, 10, 128).astype(np.int64)
    ours = _time(minitorch_step(x, y, args.backend), args.steps)
    print(f"minitorch_edu ({args.backend}): {ours * 1e3:8.2f} ms/step")
    try:
        import torch
    except ImportError:
        print("torch not installed: no comparison")
        return
    theirs = _time(torch_step(x, y), args.steps)
    print(f"torch {torch.__version__} CPU ({torch.get_num_threads()} threads): {theirs * 1e3:8.2f} ms/step")
    print(f"ratio minitorch_edu / torch: {ours / theirs:.1f}x")


if __name__ == "__main__":
    main()
