"""Every layer goes through the Backend: a backend with only the four primitives trains the whole stack.

The backend below is the python backend's map / zip / reduce / matmul with counters around every
kernel call, and nothing else: no fused kernels. An MLP step, a small CNN step (Conv2d, MaxPool2d,
AvgPool2d, Linear, cross_entropy) and SGD-momentum and Adam updates must run on its kernels (the
counters move for each layer) and give the numba backend's numbers; and no function of the
numba or cuda kernel modules may run meanwhile (traced with `sys.setprofile`, nothing patched).
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import minitorch_edu as mt
from minitorch_edu import nn, optim
from minitorch_edu.backends import FUSED_KERNELS, python
from minitorch_edu.nn import functional as F

BACKENDS = Path(mt.__file__).parent / "backends"
# the modules that hold the numba and cuda backends' kernels (the fused ones included)
Kernel = Callable[..., None]
FAST_KERNEL_FILES = {str(p) for folder in ("numba", "cuda") for p in (BACKENDS / folder).glob("*.py")}


class CountingBackend:
    """The python backend's four primitives, each kernel call counted by kind."""

    def __init__(self, name: str) -> None:
        self.calls: Counter[str] = Counter()
        self.backend = mt.register_backend(
            mt.Backend(
                name,
                map=self._counted("map", python.tensor_map),
                zip=self._counted("zip", python.tensor_zip),
                reduce=self._counted("reduce", python.tensor_reduce),
                matmul=self._count_matmul,
            )
        )

    def _counted(self, kind: str, factory: Callable[[Any], Kernel]) -> Callable[[Any], Kernel]:
        def counted_factory(fn: Any) -> Kernel:
            kernel = factory(fn)

            def counted(*args: Any) -> None:
                self.calls[kind] += 1
                kernel(*args)

            return counted

        return counted_factory

    def _count_matmul(self, *args: Any) -> None:
        self.calls["matmul"] += 1
        python.tensor_matmul(*args)


@pytest.fixture(scope="module")
def counting() -> CountingBackend:
    return CountingBackend("counting-primitives")


def run_traced(counting: CountingBackend, fn: Callable[[], Any]) -> tuple[Any, Counter[str], set[str]]:
    """fn()'s result, the primitive kernel calls it made, and the fast-kernel functions that ran."""
    before = counting.calls.copy()
    fast: set[str] = set()

    def profiler(frame: Any, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code.co_filename in FAST_KERNEL_FILES:
            path = Path(frame.f_code.co_filename)
            fast.add(f"{path.parent.name}/{path.name}:{frame.f_code.co_name}")

    sys.setprofile(profiler)
    try:
        result = fn()
    finally:
        sys.setprofile(None)
    return result, counting.calls - before, fast


def test_the_counting_backend_has_no_fused_kernels_and_numba_registers_all(counting: CountingBackend) -> None:
    assert counting.backend.fused_kernels == ()
    assert mt.get_backend("numba").fused_kernels == FUSED_KERNELS


def test_the_trace_sees_the_numba_backends_fused_kernels(counting: CountingBackend) -> None:
    """The check below can fail: on the numba backend, the same conv layer runs numba/conv.py's kernels."""
    x = mt.randn(2, 1, 6, 6, device="numba")
    conv = nn.Conv2d(1, 2, 3).to("numba")
    _, calls, fast = run_traced(counting, lambda: conv(x))
    assert "numba/conv.py:conv2d_forward" in fast and not calls


def _mlp() -> nn.Module:
    mt.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3)).double()


def _cnn() -> nn.Module:
    mt.manual_seed(1)
    return nn.Sequential(
        nn.Conv2d(1, 3, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(3, 4, 2, stride=1),
        nn.AvgPool2d(2, padding=1),
        nn.Flatten(),
        nn.Linear(4 * 2 * 2, 3),
    ).double()


OPTIMIZERS = {
    "sgd-momentum": lambda params: optim.SGD(params, lr=0.1, momentum=0.9),
    "adam": lambda params: optim.Adam(params, lr=0.05),
    "adam-amsgrad": lambda params: optim.Adam(params, lr=0.05, amsgrad=True, weight_decay=0.01),
}


def _train(make_model: Callable, x: np.ndarray, y: np.ndarray, device: str, make_opt: Any, counting: Any) -> tuple:
    """Two training steps on `device`, layer by layer: (losses, parameters, per-stage calls, fast kernels run)."""
    model = make_model().to(device)
    opt = make_opt(model.parameters())
    xb, yb = mt.tensor(x, dtype="float64", device=device), mt.tensor(y, device=device)
    stages: dict[str, Counter[str]] = {}
    fast_seen: set[str] = set()
    losses = []

    def traced(stage: str, fn: Callable[[], Any]) -> Any:
        out, calls, fast = run_traced(counting, fn)
        stages[stage] = stages.get(stage, Counter()) + calls
        fast_seen.update(fast)
        return out

    for _ in range(2):
        h = xb
        for i, layer in enumerate(model):
            h = traced(f"{i}:{type(layer).__name__}", lambda layer=layer, h=h: layer(h))
        loss = traced("cross_entropy", lambda h=h: F.cross_entropy(h, yb))
        opt.zero_grad()
        traced("backward", loss.backward)
        traced("step", opt.step)
        losses.append(loss.item())
    return losses, [p.numpy() for p in model.parameters()], stages, fast_seen


CASES = {
    "mlp": (_mlp, lambda rng: rng.standard_normal((5, 6))),
    "cnn": (_cnn, lambda rng: rng.standard_normal((4, 1, 6, 6))),
}
# the primitive each layer's default (composed) kernels must use at least
NEEDS = {"Linear": "matmul", "ReLU": "map", "Conv2d": "matmul", "MaxPool2d": "zip", "AvgPool2d": "zip"}


@pytest.mark.parametrize("opt_name", list(OPTIMIZERS))
@pytest.mark.parametrize("case", list(CASES))
def test_a_primitives_only_backend_trains_like_numba(counting: CountingBackend, case: str, opt_name: str) -> None:
    make_model, make_x = CASES[case]
    rng = np.random.default_rng(7)
    x, y = make_x(rng), rng.integers(0, 3, 5 if case == "mlp" else 4)
    ours = _train(make_model, x, y, counting.backend.name, OPTIMIZERS[opt_name], counting)
    reference = _train(make_model, x, y, "numba", OPTIMIZERS[opt_name], counting)
    losses, params, stages, fast = ours
    ref_losses, ref_params, ref_stages, ref_fast = reference

    np.testing.assert_allclose(losses, ref_losses, rtol=1e-10)
    assert len(params) == len(ref_params)
    for p, r in zip(params, ref_params):
        np.testing.assert_allclose(p, r, rtol=1e-9, atol=1e-12)

    # no numba or cuda kernel ran for the primitives-only backend; the numba run used its own
    assert not fast, f"fast kernels ran on the primitives-only backend: {sorted(fast)}"
    assert ref_fast and not any(sum(c.values()) for c in ref_stages.values())
    # and each layer, the loss, the backward pass and the optimizer ran the backend's kernels
    for stage, calls in stages.items():
        layer = stage.split(":")[-1]
        if layer == "Flatten":  # a view: no kernel at all
            continue
        assert sum(calls.values()) > 0, f"{stage} ran none of the backend's kernels"
        if layer in NEEDS:
            assert calls[NEEDS[layer]] > 0, f"{stage} ran no {NEEDS[layer]} kernel: {dict(calls)}"
    assert stages["cross_entropy"]["reduce"] > 0 and stages["backward"]["matmul"] > 0
    assert stages["step"]["zip"] > 0


def test_a_backend_may_register_one_fused_kernel_and_compose_the_rest(counting: CountingBackend) -> None:
    """A learner's own axpby replaces only that entry: SGD runs it, everything else is composed."""
    used = []

    def learner_axpby(y: Any, x: Any, alpha: float, beta: float, n: int) -> None:
        used.append(n)
        for i in range(n):
            y[i] = beta * y[i] + alpha * x[i]

    backend = mt.Backend(
        "primitives-plus-axpby",
        map=python.tensor_map,
        zip=python.tensor_zip,
        reduce=python.tensor_reduce,
        matmul=python.tensor_matmul,
        axpby=learner_axpby,
    )
    assert backend.fused_kernels == ("axpby",)
    w = mt.tensor([1.0, 2.0, 3.0], dtype="float64", device=backend, requires_grad=True)
    opt = optim.SGD([w], lr=0.5)
    (w * w).sum().backward()
    opt.step()
    assert used == [3]
    np.testing.assert_allclose(w.numpy(), [0.0, 0.0, 0.0])


def test_an_unknown_fused_kernel_name_is_refused() -> None:
    with pytest.raises(TypeError, match="conv2d_forward"):
        mt.Backend("typo", python.tensor_map, python.tensor_zip, python.tensor_reduce, python.tensor_matmul, conv=print)
