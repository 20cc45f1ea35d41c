"""Tests of the losses in `mt.nn.functional` and `mt.nn`: values vs numpy / torch, gradients, errors."""

from __future__ import annotations

import numpy as np
import pytest

import minitorch_edu as mt
from minitorch_edu import nn
from minitorch_edu.nn import functional as F

try:
    import torch
except ImportError:  # torch is only a cross-check
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch not installed")

RNG = np.random.default_rng(0)
LOGITS = RNG.standard_normal((5, 4)) * 2
TARGET = np.array([3, 0, 1, 3, 2])


def t64(array: np.ndarray) -> mt.Tensor:
    return mt.tensor(np.asarray(array, dtype=np.float64))


def log_softmax_np(x: np.ndarray, axis: int = 1) -> np.ndarray:
    shifted = x - x.max(axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis, keepdims=True))


def bce_logits_np(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0) - x * y + np.log1p(np.exp(-np.abs(x)))


# ---------------------------------------------------------------------- MSE
def test_mse_reductions_match_numpy():
    a, b = RNG.standard_normal((3, 4)), RNG.standard_normal((3, 4))
    sq = (a - b) ** 2
    assert F.mse_loss(t64(a), t64(b)).item() == pytest.approx(sq.mean(), rel=1e-12)
    assert F.mse_loss(t64(a), t64(b), reduction="sum").item() == pytest.approx(sq.sum(), rel=1e-12)
    np.testing.assert_allclose(nn.MSELoss(reduction="none")(t64(a), t64(b)).numpy(), sq, rtol=1e-12)
    mt.grad_check(lambda x, y: F.mse_loss(x, y), t64(a), t64(b))


def test_mse_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"target shape \(3, 1\) does not match input shape \(3,\)"):
        F.mse_loss(mt.zeros(3), mt.zeros(3, 1))


def test_unknown_reduction_raises():
    with pytest.raises(ValueError, match="reduction"):
        F.mse_loss(mt.zeros(2), mt.zeros(2), reduction="avg")
    with pytest.raises(ValueError, match="reduction"):
        nn.CrossEntropyLoss(reduction="avg")


# ---------------------------------------------------------------------- binary cross-entropy
def test_bce_with_logits_matches_numpy_and_is_stable():
    x = np.array([-1000.0, -3.0, -0.5, 0.0, 0.7, 4.0, 1000.0])
    y = np.array([1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0])
    out = F.binary_cross_entropy_with_logits(t64(x), t64(y), reduction="none").numpy()
    np.testing.assert_allclose(out, bce_logits_np(x, y), rtol=1e-12)
    assert out[0] == pytest.approx(1000.0) and out[-1] == pytest.approx(1000.0)


def test_bce_with_logits_gradient_is_sigmoid_minus_target_even_at_zero():
    x = mt.tensor([0.0, 0.0, 2.0], dtype="float64", requires_grad=True)
    y = t64([1.0, 0.0, 1.0])
    nn.BCEWithLogitsLoss(reduction="sum")(x, y).backward()
    np.testing.assert_allclose(x.grad.numpy(), 1 / (1 + np.exp(-np.array([0.0, 0.0, 2.0]))) - y.numpy(), rtol=1e-12)
    mt.grad_check(lambda x, y: F.binary_cross_entropy_with_logits(x, y), t64(LOGITS), t64(RNG.random((5, 4))))


def test_bce_on_probabilities_matches_numpy_and_clamps_logs():
    p, y = RNG.uniform(0.05, 0.95, (4, 3)), (RNG.random((4, 3)) > 0.5).astype(float)
    expected = -(y * np.log(p) + (1 - y) * np.log(1 - p)).mean()
    assert nn.BCELoss()(t64(p), t64(y)).item() == pytest.approx(expected, rel=1e-12)
    mt.grad_check(lambda p: F.binary_cross_entropy(p, t64(y)), t64(p))
    # log(0) is clamped to -100 as in PyTorch: a confident wrong answer costs 100, not inf
    assert F.binary_cross_entropy(t64([0.0, 1.0]), t64([1.0, 1.0]), reduction="sum").item() == pytest.approx(100.0)


def test_bce_shape_mismatch_raises():
    with pytest.raises(ValueError, match=r"\(4,\).*\(4, 1\)"):
        F.binary_cross_entropy_with_logits(mt.zeros(4, 1), mt.zeros(4))


@needs_torch
def test_bce_losses_match_torch():
    x, y = LOGITS, RNG.random((5, 4))
    expected = torch.nn.functional.binary_cross_entropy_with_logits(torch.tensor(x), torch.tensor(y))
    assert F.binary_cross_entropy_with_logits(t64(x), t64(y)).item() == pytest.approx(expected.item(), rel=1e-12)
    p = 1 / (1 + np.exp(-x))
    expected = torch.nn.functional.binary_cross_entropy(torch.tensor(p), torch.tensor(y), reduction="sum")
    assert F.binary_cross_entropy(t64(p), t64(y), reduction="sum").item() == pytest.approx(expected.item(), rel=1e-10)


# ---------------------------------------------------------------------- cross-entropy and NLL
def test_cross_entropy_matches_numpy():
    picked = -log_softmax_np(LOGITS)[np.arange(5), TARGET]
    target = mt.tensor(TARGET)
    assert F.cross_entropy(t64(LOGITS), target).item() == pytest.approx(picked.mean(), rel=1e-12)
    assert F.cross_entropy(t64(LOGITS), target, reduction="sum").item() == pytest.approx(picked.sum(), rel=1e-12)
    np.testing.assert_allclose(F.cross_entropy(t64(LOGITS), target, reduction="none").numpy(), picked, rtol=1e-12)


def test_cross_entropy_gradient_is_softmax_minus_one_hot():
    x = mt.tensor(LOGITS, dtype="float64", requires_grad=True)
    nn.CrossEntropyLoss()(x, mt.tensor(TARGET)).backward()
    expected = (np.exp(log_softmax_np(LOGITS)) - np.eye(4)[TARGET]) / 5
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-10, atol=1e-14)
    mt.grad_check(lambda x: F.cross_entropy(x, mt.tensor(TARGET)), t64(LOGITS))


def test_cross_entropy_is_stable_for_huge_logits():
    logits = t64([[1000.0, 0.0, -1000.0], [1000.0, 1000.0, 0.0]])
    out = F.cross_entropy(logits, mt.tensor([1, 0]), reduction="none").numpy()
    np.testing.assert_allclose(out, [1000.0, np.log(2.0)], rtol=1e-12)
    out32 = F.cross_entropy(mt.tensor([[1000.0, 0.0]]), mt.tensor([0])).item()
    assert np.isfinite(out32) and out32 == pytest.approx(0.0, abs=1e-6)


def test_cross_entropy_class_weights_use_weighted_mean():
    weight = np.array([1.0, 2.0, 0.5, 3.0])
    picked = -log_softmax_np(LOGITS)[np.arange(5), TARGET]
    w = weight[TARGET]
    loss = nn.CrossEntropyLoss(weight=t64(weight))(t64(LOGITS), mt.tensor(TARGET))
    assert loss.item() == pytest.approx((picked * w).sum() / w.sum(), rel=1e-12)


def test_cross_entropy_over_extra_dims_and_probability_targets():
    x = RNG.standard_normal((2, 3, 4))  # (N, C, L)
    target = np.array([[0, 2, 1, 1], [2, 2, 0, 1]])
    logp = log_softmax_np(x, axis=1)
    expected = -np.take_along_axis(logp, target[:, None, :], axis=1)[:, 0, :]
    out = F.cross_entropy(t64(x), mt.tensor(target), reduction="none")
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12)
    probs = np.exp(log_softmax_np(RNG.standard_normal((5, 4))))
    expected = -(probs * log_softmax_np(LOGITS)).sum(1).mean()
    assert F.cross_entropy(t64(LOGITS), t64(probs)).item() == pytest.approx(expected, rel=1e-12)


def test_class_index_out_of_range_names_index_and_classes():
    with pytest.raises(IndexError, match="target class index 4 is out of range for 4 classes"):
        F.cross_entropy(t64(LOGITS), mt.tensor([0, 1, 4, 0, 0]))
    with pytest.raises(IndexError, match="index -1 is out of range for 4 classes"):
        nn.NLLLoss()(t64(LOGITS), mt.tensor([0, 1, -1, 0, 0]))


def test_cross_entropy_target_shape_mismatch_names_shapes():
    with pytest.raises(ValueError, match=r"target of shape \(4,\) does not fit input of shape \(5, 4\)"):
        F.cross_entropy(t64(LOGITS), mt.tensor([0, 1, 2, 3]))
    with pytest.raises(TypeError, match="integers"):
        F.nll_loss(t64(LOGITS), t64(TARGET))


def test_nll_loss_after_log_softmax_equals_cross_entropy():
    logp = nn.LogSoftmax(dim=1)(t64(LOGITS))
    expected = -log_softmax_np(LOGITS)[np.arange(5), TARGET].mean()
    assert nn.NLLLoss()(logp, mt.tensor(TARGET)).item() == pytest.approx(expected, rel=1e-12)
    assert F.nll_loss(t64(LOGITS), TARGET, reduction="sum").item() == pytest.approx(
        -LOGITS[np.arange(5), TARGET].sum(), rel=1e-12
    )


def test_cross_entropy_runs_on_the_python_backend():
    logits = mt.tensor(LOGITS, dtype="float64", device="python")
    loss = F.cross_entropy(logits, mt.tensor(TARGET, device="python"))
    assert loss.device == "cpu" and loss.backend.name == "python"
    assert loss.item() == pytest.approx(-log_softmax_np(LOGITS)[np.arange(5), TARGET].mean(), rel=1e-12)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("rows", [6, 9000])  # 9000 x 8 logits split their rows over threads
def test_fused_cross_entropy_kernels_match_the_composed_path(dtype: str, reduction: str, rows: int) -> None:
    """The numba backend's one-pass kernels against the map/zip/reduce composition (python backend),
    on transposed (non-contiguous) logits, forward values and gradients both."""
    rng = np.random.default_rng(rows)
    logits = rng.standard_normal((8, rows)) * 3  # stored (C, N): the (N, C) logits are a transposed view
    target = rng.integers(0, 8, rows)
    upstream = rng.standard_normal(rows) if reduction == "none" else None

    def run(device: str) -> tuple[np.ndarray, np.ndarray]:
        x = mt.tensor(logits, dtype=dtype, device=device, requires_grad=True)
        out = loss = F.cross_entropy(x.T, mt.tensor(target, device=device), reduction=reduction)
        if upstream is not None:
            loss = (loss * mt.tensor(upstream, dtype=dtype, device=device)).sum()
        loss.backward()
        return out.numpy(), x.grad.numpy()

    (fused, fused_grad), (composed, composed_grad) = run("numba"), run("python")
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(fused, composed, rtol=tol, atol=tol)
    np.testing.assert_allclose(fused_grad, composed_grad, rtol=tol, atol=tol)


def test_fused_cross_entropy_gradient_check_per_row() -> None:
    """Finite differences at every logit, with a different upstream gradient for every row."""
    weights = mt.tensor(RNG.standard_normal(5))
    mt.grad_check(lambda x: (F.cross_entropy(x, mt.tensor(TARGET), reduction="none") * weights).sum(), t64(LOGITS))


@needs_torch
def test_cross_entropy_matches_torch_with_weights():
    weight = np.array([1.0, 2.0, 0.5, 3.0])
    for reduction in ("mean", "sum", "none"):
        expected = torch.nn.functional.cross_entropy(
            torch.tensor(LOGITS), torch.tensor(TARGET), weight=torch.tensor(weight), reduction=reduction
        )
        ours = F.cross_entropy(t64(LOGITS), mt.tensor(TARGET), weight=t64(weight), reduction=reduction)
        np.testing.assert_allclose(ours.numpy(), expected.numpy(), rtol=1e-12)


def test_loss_module_repr():
    assert repr(nn.CrossEntropyLoss()) == "CrossEntropyLoss()"
    assert repr(nn.MSELoss(reduction="sum")) == "MSELoss(reduction='sum')"
