"""A training step on the GPU keeps its data there: count every host<->device copy.

Runs on numba's CUDA simulator when no GPU is present (conftest.py); the counting does not
depend on which.
"""

from __future__ import annotations

import numpy as np
import pytest

import minitorch_edu as mt
from minitorch_edu import nn, optim
from minitorch_edu.nn import functional as F

cuda = pytest.importorskip("minitorch_edu.backends.cuda.storage")
pytestmark = pytest.mark.skipif(not mt.backends.available("cuda"), reason="no CUDA (not even the simulator)")


@pytest.fixture
def transfers(monkeypatch):
    """{'to_device': n, 'to_host': n}, counted from now on."""
    counts = {"to_device": 0, "to_host": 0}
    storage = cuda.CudaStorage
    to_device, to_host = storage.from_numpy, storage.to_numpy

    def counted_to_device(array):
        counts["to_device"] += 1
        return to_device(array)

    def counted_to_host(data):
        counts["to_host"] += 1
        return to_host(data)

    monkeypatch.setattr(storage, "from_numpy", staticmethod(counted_to_device))
    monkeypatch.setattr(storage, "to_numpy", staticmethod(counted_to_host))
    return counts


@pytest.mark.parametrize("make_optimizer", [lambda p: optim.SGD(p, lr=0.1, momentum=0.9), lambda p: optim.Adam(p)])
def test_a_training_step_moves_no_data_between_host_and_device(transfers, make_optimizer):
    mt.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.1), nn.Linear(8, 3)).to("cuda")
    opt = make_optimizer(model.parameters())
    x = mt.tensor(np.random.default_rng(0).standard_normal((6, 4)), device="cuda")
    y = mt.tensor([0, 1, 2, 0, 1, 2], device="cuda")
    model(x)  # dropout's first draw sets up the device's random streams (once per seed)
    before = dict(transfers)
    losses = []
    for _ in range(2):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss)
    assert transfers == before, f"a training step copied data: {transfers} (before the steps: {before})"
    first, second = (loss.item() for loss in losses)  # what the user asks for is counted
    # each read copies the loss and the count of out-of-range class targets, which cross_entropy keeps
    # on the device until the loss is read (issue 10: no host sync per step for the range check)
    assert transfers["to_host"] == before["to_host"] + 2 * 2
    assert second < first  # the steps did train


def test_random_numbers_are_made_on_the_device_and_follow_the_seed(transfers):
    mt.manual_seed(7)
    a = mt.rand(1000, device="cuda")
    mt.manual_seed(7)
    b = mt.rand(1000, device="cuda")
    assert transfers["to_device"] == 0
    a, b = a.numpy(), b.numpy()
    assert np.array_equal(a, b)
    assert 0.0 <= a.min() and a.max() < 1.0 and abs(a.mean() - 0.5) < 0.05
    assert len(np.unique(a)) > 990  # not one stream repeated across threads


def test_the_count_catches_a_copy(transfers):
    """The fixture is not blind: a step that reads a value back is seen."""
    x = mt.ones(3, device="cuda")
    (x * 2).numpy()
    assert transfers["to_host"] == 1
