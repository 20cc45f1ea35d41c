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


def minitorch_step(x: np.ndarray, y: np.ndarray, backend: str, lr: float = 0.01, hidden: int = 256, classes: int = 10):
    """(step function returning the loss, model) for minitorch_edu on `backend`."""
    import minitorch_edu as mt
    from minitorch_edu import nn, optim
    from minitorch_edu.nn import functional as F

    mt.manual_seed(0)
    model = nn.Sequential(nn.Linear(x.shape[1], hidden), nn.ReLU(), nn.Linear(hidden, classes)).to(backend)
    opt = optim.SGD(model.parameters(), lr=lr)
    xb, yb = mt.tensor(x, device=backend), mt.tensor(y, device=backend)

    def step():  # noqa: ANN202
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    return step, model


def torch_step(
    x: np.ndarray, y: np.ndarray, lr: float = 0.01, device: str = "cpu", hidden: int = 256, classes: int = 10
):
    """The same step in PyTorch (on `device`)."""
    import torch

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(x.shape[1], hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, classes))
    model = model.to(device)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    xb, yb = torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)

    def step():  # noqa: ANN202
        loss = torch.nn.functional.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--backend", default="numba")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((128, 784)).astype(np.float32)
    y = rng.integers(0, 10, 128).astype(np.int64)
    ours = _time(minitorch_step(x, y, args.backend)[0], args.steps)
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
