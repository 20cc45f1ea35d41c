"""`python -m minitorch_edu`: a one-minute tour — autograd, the backends, and a model trained two ways."""

from __future__ import annotations

import time

import numpy as np

import minitorch_edu as mt


def autograd_tour() -> None:
    print("1. autograd")
    x = mt.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = (x @ x.T).relu().sum()
    y.backward()
    print(f"   y = (x @ x.T).relu().sum() = {y.item():g};  dy/dx =\n{x.grad.numpy()}")


def backends_tour() -> None:
    print("2. backends: the same op on every backend that runs here")
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    for name in ("python", "numba", "cuda"):
        if not mt.backends.available(name):
            print(f"   {name:7s} not available here (no GPU; the tests run these kernels in numba's simulator)")
            continue
        t = mt.tensor(a, device=name)
        print(f"   {name:7s} (t * 2 + 1).sum(dim=0) = {((t * 2 + 1).sum(dim=0)).numpy()}")


def training_tour() -> None:
    print("3. an MLP on the 'xor' toy set, PyTorch style then Keras style")
    mt.manual_seed(0)
    train = mt.data.toy.xor(400, as_dataset=True)
    model = mt.nn.Sequential(mt.nn.Linear(2, 32), mt.nn.ReLU(), mt.nn.Linear(32, 2))
    opt = mt.optim.Adam(model.parameters(), lr=0.02)
    start = time.perf_counter()
    for _ in range(30):
        for xb, yb in mt.data.DataLoader(train, batch_size=32, shuffle=True):
            loss = mt.nn.functional.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
    print(f"   loop: last loss {loss.item():.3f} in {time.perf_counter() - start:.1f} s")
    model2 = mt.nn.Sequential(mt.nn.Linear(2, 32), mt.nn.ReLU(), mt.nn.Linear(32, 2))
    model2.compile(optimizer=mt.optim.Adam(model2.parameters(), lr=0.02), loss="cross_entropy", metrics=["accuracy"])
    history = model2.fit(train, epochs=30, batch_size=32, verbose=0)
    print(f"   fit:  accuracy {history.history['accuracy'][-1]:.1%} after {len(history.history['loss'])} epochs")


def main() -> None:
    autograd_tour()
    backends_tour()
    training_tour()
    print("Next: `bash scripts/test` runs the test suite; `python -m bench` the benchmarks.")


if __name__ == "__main__":
    main()
