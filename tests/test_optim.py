"""Optimizers and schedules: the same numbers as torch.optim, and as the formulas written out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

import minitorch_edu as mt
from minitorch_edu import optim


def _torch():
    try:
        import torch as t
    except ImportError:  # the hand-computed tests below still run
        return None
    return t


def _params(seed: int = 0) -> tuple[list[np.ndarray], list[list[np.ndarray]]]:
    rng = np.random.default_rng(seed)
    params = [rng.standard_normal((3, 4)), rng.standard_normal(4)]
    grads = [[rng.standard_normal(p.shape) for p in params] for _ in range(5)]
    return params, grads


def _run_mt(cls, kwargs: dict, params, grads) -> list[np.ndarray]:
    ps = [mt.tensor(p, dtype="float64", requires_grad=True) for p in params]
    opt = cls(ps, **kwargs)
    for step_grads in grads:
        for p, g in zip(ps, step_grads):
            p.grad = mt.tensor(g, dtype="float64")
        opt.step()
    return [p.numpy() for p in ps]


def _run_torch(name: str, kwargs: dict, params, grads) -> list[np.ndarray]:
    t = _torch()
    ps = [t.tensor(p, dtype=t.float64, requires_grad=True) for p in params]
    opt = getattr(t.optim, name)(ps, **kwargs)
    for step_grads in grads:
        for p, g in zip(ps, step_grads):
            p.grad = t.tensor(g, dtype=t.float64)
        opt.step()
    return [p.detach().numpy() for p in ps]


CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.8, dampening=0.3)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.95), weight_decay=0.1)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, weight_decay=0.3)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, momentum=0.9, centered=True, weight_decay=0.05)),
]


@pytest.mark.parametrize(("name", "kwargs"), CASES)
def test_matches_torch(name: str, kwargs: dict) -> None:
    if _torch() is None:
        pytest.skip("torch not installed; the hand-computed tests cover the formulas")
    params, grads = _params()
    ours = _run_mt(getattr(optim, name), kwargs, params, grads)
    theirs = _run_torch(name, kwargs, params, grads)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_sgd_momentum_by_hand() -> None:
    p0, g1, g2 = 1.0, 0.5, -1.0
    out = _run_mt(optim.SGD, dict(lr=0.1, momentum=0.9), [np.array([p0])], [[np.array([g1])], [np.array([g2])]])
    b1 = g1
    p1 = p0 - 0.1 * b1
    b2 = 0.9 * b1 + g2
    assert out[0][0] == pytest.approx(p1 - 0.1 * b2)


def test_sgd_nesterov_weight_decay_by_hand() -> None:
    out = _run_mt(
        optim.SGD, dict(lr=0.1, momentum=0.5, nesterov=True, weight_decay=0.2), [np.array([2.0])], [[np.array([1.0])]]
    )
    g = 1.0 + 0.2 * 2.0
    assert out[0][0] == pytest.approx(2.0 - 0.1 * (g + 0.5 * g))


def test_adam_by_hand() -> None:
    lr, b1, b2, eps = 0.1, 0.9, 0.999, 1e-8
    p, m, v = 1.0, 0.0, 0.0
    gs = [0.5, -0.25, 2.0]
    for t, g in enumerate(gs, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        p -= lr / (1 - b1**t) * m / (math.sqrt(v) / math.sqrt(1 - b2**t) + eps)
    out = _run_mt(optim.Adam, dict(lr=lr), [np.array([1.0])], [[np.array([g])] for g in gs])
    assert out[0][0] == pytest.approx(p, rel=1e-12)
    # the first Adam step moves by lr in the direction of -sign(g), whatever the gradient's size
    first = _run_mt(optim.Adam, dict(lr=lr), [np.array([1.0])], [[np.array([1234.0])]])
    assert first[0][0] == pytest.approx(1.0 - lr, rel=1e-6)


def test_adamw_decays_weights_directly() -> None:
    # a zero gradient: Adam's moments stay 0, so only the decoupled decay moves the weight
    out = _run_mt(optim.AdamW, dict(lr=0.1, weight_decay=0.5), [np.array([2.0])], [[np.array([0.0])]])
    assert out[0][0] == pytest.approx(2.0 * (1 - 0.1 * 0.5))
    plain = _run_mt(optim.Adam, dict(lr=0.1, weight_decay=0.5), [np.array([2.0])], [[np.array([0.0])]])
    assert plain[0][0] == pytest.approx(2.0 - 0.1, rel=1e-6)  # L2 decay goes through Adam's scaling


def test_rmsprop_by_hand() -> None:
    lr, alpha, eps = 0.01, 0.99, 1e-8
    p, v = 1.0, 0.0
    for g in (0.5, 0.3):
        v = alpha * v + (1 - alpha) * g * g
        p -= lr * g / (math.sqrt(v) + eps)
    out = _run_mt(optim.RMSprop, dict(lr=lr), [np.array([1.0])], [[np.array([0.5])], [np.array([0.3])]])
    assert out[0][0] == pytest.approx(p, rel=1e-12)


def test_param_groups_zero_grad_and_skips() -> None:
    a = mt.tensor([1.0], requires_grad=True)
    b = mt.tensor([1.0], requires_grad=True)
    c = mt.tensor([1.0], requires_grad=True)
    opt = optim.SGD([{"params": [a]}, {"params": [b, c], "lr": 1.0}], lr=0.1)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 1.0]
    a.grad = mt.tensor([1.0])
    b.grad = mt.tensor([1.0])
    opt.step()  # c has no gradient: left alone
    assert a.item() == pytest.approx(0.9) and b.item() == pytest.approx(0.0) and c.item() == 1.0
    opt.zero_grad(set_to_none=False)
    assert a.grad is not None and a.grad.item() == 0.0
    opt.zero_grad()
    assert a.grad is None and b.grad is None
    with pytest.raises(ValueError, match="more than one"):
        optim.SGD([{"params": [a]}, {"params": [a]}], lr=0.1)
    with pytest.raises(ValueError, match="empty"):
        optim.SGD([], lr=0.1)


def test_step_with_closure_trains_a_quadratic() -> None:
    w = mt.tensor([3.0, -2.0], requires_grad=True)
    opt = optim.Adam([w], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    first = opt.step(closure).item()
    for _ in range(200):
        last = opt.step(closure).item()
    assert first == pytest.approx(13.0) and last < 1e-2


def test_state_dict_roundtrip_continues_identically() -> None:
    params, grads = _params(1)
    ps = [mt.tensor(p, dtype="float64", requires_grad=True) for p in params]
    opt = optim.Adam(ps, lr=0.01)
    for g in grads[:2]:
        for p, gi in zip(ps, g):
            p.grad = mt.tensor(gi, dtype="float64")
        opt.step()
    saved = opt.state_dict()
    assert saved["param_groups"][0]["params"] == [0, 1] and saved["state"][0]["step"] == 2
    clones = [mt.tensor(p.numpy(), dtype="float64", requires_grad=True) for p in ps]
    opt2 = optim.Adam(clones, lr=0.5)
    opt2.load_state_dict(saved)
    assert opt2.param_groups[0]["lr"] == 0.01
    for g in grads[2:]:
        for p, q, gi in zip(ps, clones, g):
            p.grad = mt.tensor(gi, dtype="float64")
            q.grad = mt.tensor(gi, dtype="float64")
        opt.step()
        opt2.step()
    for p, q in zip(ps, clones):
        np.testing.assert_array_equal(p.numpy(), q.numpy())


# ------------------------------------------------------------------ schedulers
def _lrs(make, steps: int = 12) -> list[float]:
    opt = optim.SGD([mt.tensor([1.0], requires_grad=True)], lr=0.5)
    sched = make(opt)
    out = []
    for _ in range(steps):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert sched.get_last_lr() == [opt.param_groups[0]["lr"]]
    return out


def _torch_lrs(name: str, kwargs: dict, steps: int = 12) -> list[float]:
    t = _torch()
    opt = t.optim.SGD([t.zeros(1, requires_grad=True)], lr=0.5)
    sched = getattr(t.optim.lr_scheduler, name)(opt, **kwargs)
    out = []
    for _ in range(steps):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


SCHEDULES = [
    ("StepLR", dict(step_size=3, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[2, 5, 9], gamma=0.3)),
    ("ExponentialLR", dict(gamma=0.8)),
    ("CosineAnnealingLR", dict(T_max=10, eta_min=0.01)),
    ("LinearLR", dict(start_factor=0.1, end_factor=1.0, total_iters=4)),
    ("LambdaLR", dict(lr_lambda=lambda e: 1.0 / (1 + e))),
]


@pytest.mark.parametrize(("name", "kwargs"), SCHEDULES)
def test_schedules_match_torch(name: str, kwargs: dict) -> None:
    if _torch() is None:
        pytest.skip("torch not installed")
    ours = _lrs(lambda opt: getattr(optim.lr_scheduler, name)(opt, **kwargs))
    np.testing.assert_allclose(ours, _torch_lrs(name, kwargs), rtol=1e-9)


def test_schedules_by_hand() -> None:
    assert _lrs(lambda o: optim.lr_scheduler.StepLR(o, 2, gamma=0.1), 5) == pytest.approx([0.5, 0.5, 0.05, 0.05, 0.005])
    cos = _lrs(lambda o: optim.lr_scheduler.CosineAnnealingLR(o, T_max=4), 5)
    assert cos == pytest.approx([0.5, 0.25 * (1 + math.sqrt(0.5)), 0.25, 0.25 * (1 - math.sqrt(0.5)), 0.0])


def test_linear_warmup_then_cosine() -> None:
    def make(opt):
        cosine = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=4)
        return optim.lr_scheduler.LinearWarmup(opt, warmup_steps=4, after=cosine)

    lrs = _lrs(make, 9)
    assert lrs[:5] == pytest.approx([0.0, 0.125, 0.25, 0.375, 0.5])
    assert lrs[6] == pytest.approx(0.25) and lrs[8] == pytest.approx(0.0)


def _run_on(device: str, cls, kwargs: dict, params, grads) -> list[np.ndarray]:
    ps = [mt.tensor(p, dtype="float64", device=device, requires_grad=True) for p in params]
    opt = cls(ps, **kwargs)
    for step_grads in grads:
        for p, g in zip(ps, step_grads):
            p.grad = mt.tensor(g, dtype="float64", device=device)
        opt.step()
    return [p.numpy() for p in ps]


@pytest.mark.parametrize(("name", "kwargs"), CASES)
def test_fused_updates_equal_composed_updates(name: str, kwargs: dict) -> None:
    """numba's fused axpby / adam_step / rmsprop_step kernels and the python backend's (composed from its zip and
    map kernels, `backends.composed`) give the same numbers."""
    assert {"axpby", "adam_step", "rmsprop_step"} <= set(mt.get_backend("numba").fused_kernels)
    assert mt.get_backend("python").fused_kernels == ()
    params, grads = _params(2)
    fast = _run_on("numba", getattr(optim, name), kwargs, params, grads)
    composed = _run_on("python", getattr(optim, name), kwargs, params, grads)
    for a, b in zip(fast, composed):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_fused_updates_write_parameters_in_place() -> None:
    w = mt.tensor([1.0, 2.0], requires_grad=True)
    storage = w._storage
    opt = optim.SGD([w], lr=0.5, momentum=0.9)
    w.grad = mt.tensor([1.0, 1.0])
    opt.step()
    assert w._storage is storage and w.tolist() == [0.5, 1.5]
    assert isinstance(opt.state[w]["momentum_buffer"], mt.Tensor)


def test_adam_on_a_non_contiguous_parameter_matches_a_contiguous_one() -> None:
    base = np.arange(6.0).reshape(2, 3)
    grads = [np.full((3, 2), 0.5), np.linspace(-1, 1, 6).reshape(3, 2)]
    results = []
    for transposed in (True, False):
        p = mt.tensor(base, dtype="float64").T if transposed else mt.tensor(base.T.copy(), dtype="float64")
        p.requires_grad = True
        opt = optim.Adam([p], lr=0.1, amsgrad=True)
        for g in grads:
            p.grad = mt.tensor(g, dtype="float64")
            opt.step()
        results.append(p.numpy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-12)


@pytest.mark.parametrize(("name", "kwargs"), CASES[0:4] + CASES[6:7] + CASES[10:11])
def test_cuda_tensors_take_the_tensor_path(name: str, kwargs: dict, cuda_reason: str | None) -> None:
    """On the GPU (or numba's simulator) the update runs the cuda backend's fused kernels and matches the CPU."""
    reason = cuda_reason  # tests/conftest.py's fixture (a module named conftest is ambiguous: tests/autograder has one)
    if reason:
        pytest.skip(reason)
    results = []
    for device in ("cpu", "cuda"):
        w = mt.tensor([1.0, -2.0, 0.5], device=device, requires_grad=True)
        opt = getattr(optim, name)([w], **kwargs)
        for _ in range(3):
            opt.zero_grad()
            (w * w * w).sum().backward()
            opt.step()
        assert w.device == device
        results.append(w.numpy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-5)


def test_an_optimizer_that_writes_only_step_trains_like_sgd(backend) -> None:
    """The learner's contract, as in PyTorch: subclass Optimizer, write `step()` over
    `self.param_groups` in tensor ops under no_grad; zero_grad, state and groups come with the base."""

    class PlainSGD(mt.optim.Optimizer):
        def __init__(self, params, lr):
            super().__init__(params, {"lr": lr})

        @mt.no_grad()
        def step(self):
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        p -= group["lr"] * p.grad

    def train(make_optimizer):
        mt.manual_seed(0)
        model = mt.nn.Sequential(mt.nn.Linear(3, 8), mt.nn.Tanh(), mt.nn.Linear(8, 1)).to(backend)
        x = mt.tensor(np.linspace(-1, 1, 30).reshape(10, 3), device=backend)
        y = (x * x).sum(1, keepdim=True)
        opt = make_optimizer(model.parameters())
        for _ in range(25):
            opt.zero_grad()
            loss = ((model(x) - y) ** 2).mean()
            loss.backward()
            opt.step()
        return loss.item(), [p.numpy() for p in model.parameters()]

    mine, mine_params = train(lambda ps: PlainSGD(ps, lr=0.1))
    reference, reference_params = train(lambda ps: mt.optim.SGD(ps, lr=0.1))
    assert mine == pytest.approx(reference, rel=1e-5)
    for a, b in zip(mine_params, reference_params):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------ warm-up + cosine, gradient clipping
def test_warmup_cosine_matches_torch_linear_then_cosine() -> None:
    t = _torch()
    if t is None:
        pytest.skip("torch not installed")
    base, warmup, total, eta_min = 0.3, 5, 25, 0.01
    p = t.zeros(1, requires_grad=True)
    opt = t.optim.SGD([p], lr=base)
    # torch's LinearLR refuses a start factor of 0: 1e-12 differs from it by 3e-13 at most
    up = t.optim.lr_scheduler.LinearLR(opt, start_factor=1e-12, end_factor=1.0, total_iters=warmup)
    down = t.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total - warmup, eta_min=eta_min)
    sched = t.optim.lr_scheduler.SequentialLR(opt, [up, down], milestones=[warmup])
    theirs = []
    for _ in range(total + 1):
        theirs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    ours = [optim.lr_scheduler.warmup_cosine(s, base, warmup, total, eta_min) for s in range(total + 1)]
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12)
    assert ours[0] == 0.0 and ours[warmup] == base and ours[total] == pytest.approx(eta_min)
    assert optim.lr_scheduler.warmup_cosine(total + 7, base, warmup, total, eta_min) == pytest.approx(eta_min)


def test_warmup_cosine_matches_the_package_schedulers_and_rejects_bad_steps() -> None:
    base, warmup, total = 0.5, 4, 14
    opt = optim.SGD([mt.tensor([1.0], requires_grad=True)], lr=base)
    after = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total - warmup)
    sched = optim.lr_scheduler.LinearWarmup(opt, warmup, after=after)
    for s in range(total + 1):
        assert opt.param_groups[0]["lr"] == pytest.approx(optim.lr_scheduler.warmup_cosine(s, base, warmup, total))
        sched.step()
    with pytest.raises(ValueError, match="warmup_steps < total_steps"):
        optim.lr_scheduler.warmup_cosine(0, base, 10, 10)


def test_warmup_cosine_matches_keras_cosine_decay() -> None:
    import os

    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    base, warmup, total, eta_min = 0.2, 3, 13, 0.02
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, total - warmup, alpha=eta_min / base, warmup_target=base, warmup_steps=warmup
    )
    theirs = [float(schedule(s)) for s in range(total + 3)]
    ours = [optim.lr_scheduler.warmup_cosine(s, base, warmup, total, eta_min) for s in range(total + 3)]
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-7)  # Keras computes in float32


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_torch(norm_type: float, max_norm: float) -> None:
    t = _torch()
    if t is None:
        pytest.skip("torch not installed")
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal((3, 4)), rng.standard_normal(4), rng.standard_normal(2)]
    grads = [rng.standard_normal(a.shape) * s for a, s in zip(arrays, (1.0, 5.0, 0.1))]
    ours = [mt.tensor(a, dtype="float64", requires_grad=True) for a in arrays]
    theirs = [t.tensor(a, dtype=t.float64, requires_grad=True) for a in arrays]
    for p, q, g in zip(ours[:2], theirs[:2], grads):  # the last parameter has no gradient: skipped
        p.grad, q.grad = mt.tensor(g, dtype="float64"), t.tensor(g, dtype=t.float64)
    total = mt.nn.utils.clip_grad_norm_(ours, max_norm, norm_type)
    expected = t.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    assert total.item() == pytest.approx(expected.item(), rel=1e-12)
    for p, q in zip(ours[:2], theirs[:2]):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-12, atol=1e-15)
    assert ours[2].grad is None
    if max_norm < total.item():  # clipped: the global norm is now max_norm (up to torch's 1e-6)
        after = np.concatenate([p.grad.numpy().ravel() for p in ours[:2]])
        assert np.linalg.norm(after, norm_type) == pytest.approx(max_norm, rel=1e-5)


def test_clip_grad_value_and_nonfinite_norm() -> None:
    p = mt.tensor([1.0, 2.0, 3.0], requires_grad=True)
    p.grad = mt.tensor([-5.0, 0.5, 2.0])
    mt.nn.utils.clip_grad_value_(p, 1.0)
    np.testing.assert_allclose(p.grad.numpy(), [-1.0, 0.5, 1.0])
    p.grad = mt.tensor([float("inf"), 0.0, 0.0])
    with pytest.raises(RuntimeError, match="total norm"):
        mt.nn.utils.clip_grad_norm_(p, 1.0, error_if_nonfinite=True)
    assert mt.nn.utils.clip_grad_norm_([mt.tensor([1.0], requires_grad=True)], 1.0).item() == 0.0
