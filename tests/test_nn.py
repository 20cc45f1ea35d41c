"""Tests of `mt.nn`: the Module tree, state_dict, layers, initialisers (values vs numpy / torch)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import minitorch_edu as mt
from minitorch_edu import nn
from minitorch_edu.nn import functional as F
from minitorch_edu.nn import init

try:
    import torch
except ImportError:  # torch is only a cross-check
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch not installed")


def t64(array: np.ndarray) -> mt.Tensor:
    return mt.tensor(np.asarray(array, dtype=np.float64))


class TwoLayer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.hidden = nn.Linear(3, 4)
        self.out = nn.Linear(4, 2, bias=False)
        self.scale = nn.Parameter(mt.ones(1))
        self.note = "not registered"

    def forward(self, x: mt.Tensor) -> mt.Tensor:
        return self.out(self.hidden(x).relu()) * self.scale


# ---------------------------------------------------------------------- Module tree
def test_named_parameters_are_dotted_and_registered_in_order():
    model = TwoLayer()
    assert [n for n, _ in model.named_parameters()] == ["scale", "hidden.weight", "hidden.bias", "out.weight"]
    assert [type(c).__name__ for c in model.children()] == ["Linear", "Linear"]
    assert len(list(model.modules())) == 3
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in model.parameters())
    assert "note" not in dict(model.named_parameters())


def test_shared_parameter_is_listed_once():
    seq = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
    seq.append(seq[0])
    assert len(list(seq.parameters())) == 2


def test_assigning_tensor_to_parameter_name_raises():
    layer = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="weight"):
        layer.weight = mt.zeros(2, 2)


def test_module_needs_super_init():
    class Broken(nn.Module):
        def __init__(self) -> None:
            self.layer = nn.Linear(1, 1)

    with pytest.raises(AttributeError, match="super"):
        Broken()


def test_train_eval_propagate_to_children():
    model = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.Dropout(0.5)))
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())


def test_zero_grad_clears_every_parameter():
    model = TwoLayer()
    model(mt.randn(5, 3)).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_forward_and_backward_match_numpy():
    model = TwoLayer().double()
    x = np.random.default_rng(0).standard_normal((5, 3))
    w1, b1, w2 = (p.numpy() for p in (model.hidden.weight, model.hidden.bias, model.out.weight))
    expected = np.maximum(x @ w1.T + b1, 0) @ w2.T
    np.testing.assert_allclose(model(t64(x)).numpy(), expected, rtol=1e-12)


def test_repr_is_nested_like_pytorch():
    model = nn.Sequential(nn.Linear(4, 8), nn.GELU(), nn.Sequential(nn.Dropout(0.25), nn.Linear(8, 2, bias=False)))
    assert repr(model) == (
        "Sequential(\n"
        "  (0): Linear(in_features=4, out_features=8, bias=True)\n"
        "  (1): GELU(approximate='none')\n"
        "  (2): Sequential(\n"
        "    (0): Dropout(p=0.25)\n"
        "    (1): Linear(in_features=8, out_features=2, bias=False)\n"
        "  )\n"
        ")"
    )
    assert repr(nn.ReLU()) == "ReLU()"
    assert repr(nn.Embedding(10, 3)) == "Embedding(10, 3)"
    assert repr(nn.LayerNorm(5)) == "LayerNorm((5,), eps=1e-05, elementwise_affine=True, bias=True)"


def test_to_dtype_keeps_parameter_identity():
    layer = nn.Linear(3, 2)
    weight = layer.weight
    layer.double()
    assert layer.weight is weight and weight.dtype == np.float64 and weight.requires_grad


def test_to_other_backend_moves_params_and_buffers():
    bn = nn.BatchNorm1d(2)
    before = bn.running_var.numpy()
    bn.to("python")
    assert bn.weight.backend.name == "python" and bn.running_var.backend.name == "python"
    np.testing.assert_array_equal(bn.running_var.numpy(), before)
    assert bn.num_batches_tracked.dtype == np.int64


def test_keras_methods_are_train_functions_bound_on_module():
    """nn does not import train: train.keras defines compile/fit/evaluate/predict and binds them."""
    from minitorch_edu.train import keras

    for name in ("compile", "fit", "evaluate", "predict"):
        assert getattr(nn.Module, name) is getattr(keras, name)
    model = nn.Linear(2, 1)
    assert model.compile(optimizer="sgd", loss="mse") is model
    x, y = np.ones((4, 2), dtype=np.float32), np.zeros((4, 1), dtype=np.float32)
    history = model.fit(x, y, epochs=2, batch_size=2, verbose=0)
    assert len(history.history["loss"]) == 2
    assert model.predict(x).shape == (4, 1)


def test_nn_is_reachable_from_package():
    assert mt.nn is nn


# ---------------------------------------------------------------------- state_dict
def test_state_dict_is_a_copy_and_includes_buffers():
    model = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    state = model.state_dict()
    assert list(state) == [
        "0.weight",
        "0.bias",
        "1.weight",
        "1.bias",
        "1.running_mean",
        "1.running_var",
        "1.num_batches_tracked",
    ]
    saved = state["0.weight"].numpy()
    with mt.no_grad():
        model[0].weight.add_(1.0)
    np.testing.assert_array_equal(state["0.weight"].numpy(), saved)
    assert not state["0.weight"].requires_grad


def test_state_dict_roundtrip_restores_outputs():
    mt.manual_seed(1)
    source = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    source(mt.randn(8, 3))  # moves BatchNorm's running statistics away from their defaults
    source.eval()
    target = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2)).eval()
    x = mt.randn(5, 3)
    assert not np.allclose(source(x).numpy(), target(x).numpy())
    keys = target.load_state_dict(source.state_dict())
    assert keys.missing_keys == [] and keys.unexpected_keys == []
    np.testing.assert_array_equal(source(x).numpy(), target(x).numpy())
    assert int(target[1].num_batches_tracked.item()) == 1
    assert isinstance(target[0].weight, nn.Parameter)


def test_load_state_dict_names_missing_keys():
    state = nn.Linear(2, 2).state_dict()
    del state["bias"]
    with pytest.raises(RuntimeError, match="missing keys: 'bias'"):
        nn.Linear(2, 2).load_state_dict(state)


def test_load_state_dict_names_unexpected_keys():
    state = nn.Linear(2, 2).state_dict()
    state["extra.weight"] = mt.zeros(1)
    with pytest.raises(RuntimeError, match="unexpected keys: 'extra.weight'"):
        nn.Linear(2, 2).load_state_dict(state)


def test_load_state_dict_names_both_shapes_on_mismatch():
    with pytest.raises(RuntimeError, match=r"'weight': checkpoint has shape \(3, 2\), the model has shape \(4, 2\)"):
        nn.Linear(2, 4).load_state_dict(nn.Linear(2, 3).state_dict(), strict=False)


def test_load_state_dict_non_strict_reports_and_loads_the_rest():
    target = nn.Linear(2, 2)
    state = {"weight": mt.ones(2, 2), "other": mt.zeros(1)}
    keys = target.load_state_dict(state, strict=False)
    assert keys.missing_keys == ["bias"] and keys.unexpected_keys == ["other"]
    np.testing.assert_array_equal(target.weight.numpy(), np.ones((2, 2)))


# ---------------------------------------------------------------------- Linear, Flatten, Sequential
def test_linear_matches_numpy_on_batched_input():
    layer = nn.Linear(4, 3)
    x = np.random.default_rng(1).standard_normal((2, 5, 4)).astype(np.float32)
    expected = x @ layer.weight.numpy().T + layer.bias.numpy()
    np.testing.assert_allclose(layer(mt.tensor(x)).numpy(), expected, rtol=1e-5, atol=1e-6)


def test_linear_default_init_is_pytorch_uniform():
    mt.manual_seed(0)
    layer = nn.Linear(100, 50)
    bound = 1 / math.sqrt(100)
    w = layer.weight.numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.05 * bound  # std of U(-b, b) is b / sqrt(3)
    assert np.abs(layer.bias.numpy()).max() <= bound


def test_linear_wrong_shape_names_layer_and_shapes():
    message = (
        "Linear(in_features=64, out_features=10, bias=True) expected input with last dimension 64, got shape (8, 32)"
    )
    with pytest.raises(ValueError) as err:
        nn.Linear(64, 10)(mt.zeros(8, 32))
    assert str(err.value) == message


def test_linear_gradients():
    layer = nn.Linear(3, 2).double()
    x = t64(np.random.default_rng(2).standard_normal((4, 3)))
    mt.grad_check(lambda x, w, b: F.linear(x, w, b), x, layer.weight, layer.bias)


@needs_torch
def test_linear_matches_torch():
    layer = nn.Linear(3, 2)
    ref = torch.nn.Linear(3, 2)
    with torch.no_grad():
        ref.weight.copy_(torch.tensor(layer.weight.numpy()))
        ref.bias.copy_(torch.tensor(layer.bias.numpy()))
    x = np.random.default_rng(3).standard_normal((4, 3)).astype(np.float32)
    out = layer(mt.tensor(x))
    expected = ref(torch.tensor(x))
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-5, atol=1e-6)
    out.sum().backward()
    expected.sum().backward()
    np.testing.assert_allclose(layer.weight.grad.numpy(), ref.weight.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_flatten_keeps_batch_dim():
    x = mt.arange(24).reshape(2, 3, 4)
    assert nn.Flatten()(x).shape == (2, 12)
    assert nn.Flatten(0)(x).shape == (24,)
    with pytest.raises(ValueError, match="Flatten"):
        nn.Flatten()(mt.zeros(3))


def test_sequential_index_len_iter_slice():
    layers = [nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)]
    seq = nn.Sequential(*layers)
    assert len(seq) == 3 and list(seq) == layers and seq[-1] is layers[2]
    assert list(seq[1:]) == layers[1:]
    with pytest.raises(IndexError):
        seq[3]
    with pytest.raises(TypeError, match="not an nn.Module"):
        nn.Sequential(nn.ReLU(), lambda x: x)
    x = mt.randn(4, 2)
    np.testing.assert_allclose(seq(x).numpy(), layers[2](layers[1](layers[0](x))).numpy())


def test_module_list_registers_layers():
    holder = nn.Module()
    holder.blocks = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2)])
    assert [n for n, _ in holder.named_parameters()] == [
        "blocks.0.weight",
        "blocks.0.bias",
        "blocks.1.weight",
        "blocks.1.bias",
    ]


# ---------------------------------------------------------------------- activations
X = np.linspace(-4, 4, 13).reshape(1, 13)


@pytest.mark.parametrize(
    ("layer", "fn"),
    [
        (nn.ReLU(), lambda x: np.maximum(x, 0)),
        (nn.Sigmoid(), lambda x: 1 / (1 + np.exp(-x))),
        (nn.Tanh(), np.tanh),
        (nn.GELU("tanh"), lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))),
        (nn.GELU(), lambda x: 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))),
        (nn.Softmax(dim=1), lambda x: np.exp(x) / np.exp(x).sum(1, keepdims=True)),
        (nn.LogSoftmax(dim=1), lambda x: x - np.log(np.exp(x).sum(1, keepdims=True))),
    ],
)
def test_activations_match_numpy(layer, fn):
    np.testing.assert_allclose(layer(t64(X)).numpy(), fn(X), rtol=1e-12, atol=1e-14)


def test_softmax_uses_its_dim():
    x = np.random.default_rng(4).standard_normal((3, 4))
    out = nn.Softmax(dim=0)(t64(x)).numpy()
    np.testing.assert_allclose(out.sum(0), np.ones(4))
    assert not np.allclose(out.sum(1), np.ones(3))


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_gradient(approximate):
    mt.grad_check(nn.GELU(approximate), t64(np.random.default_rng(5).standard_normal((3, 4))))


def test_gelu_rejects_an_unknown_form():
    with pytest.raises(ValueError, match="'none' or 'tanh', got 'erf'"):
        nn.GELU(approximate="erf")


@needs_torch
@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_matches_torch(approximate):
    expected = torch.nn.functional.gelu(torch.tensor(X), approximate=approximate).numpy()
    np.testing.assert_allclose(nn.GELU(approximate)(t64(X)).numpy(), expected, rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------------- Dropout
def test_dropout_zeroes_about_p_and_scales_survivors():
    mt.manual_seed(0)
    out = nn.Dropout(0.25)(mt.ones(100, 100)).numpy()
    dropped = (out == 0).mean()
    assert 0.22 < dropped < 0.28
    np.testing.assert_allclose(out[out != 0], 1 / 0.75, rtol=1e-6)


def test_dropout_is_identity_in_eval_and_reproducible_when_seeded():
    layer = nn.Dropout(0.5)
    x = mt.randn(4, 5)
    np.testing.assert_array_equal(layer.eval()(x).numpy(), x.numpy())
    layer.train()
    mt.manual_seed(7)
    first = layer(x).numpy()
    mt.manual_seed(7)
    np.testing.assert_array_equal(layer(x).numpy(), first)


def test_dropout_gradient_follows_the_mask():
    x = mt.ones(6, 6, requires_grad=True)
    out = F.dropout(x, 0.5)
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), out.detach().numpy())


def test_dropout_rejects_bad_probability():
    with pytest.raises(ValueError, match="1.5"):
        nn.Dropout(1.5)


# ---------------------------------------------------------------------- Embedding
def test_embedding_looks_up_rows_and_accumulates_gradients():
    emb = nn.Embedding(5, 3)
    ids = mt.tensor([[4, 0], [4, 2]])
    out = emb(ids)
    assert out.shape == (2, 2, 3)
    np.testing.assert_array_equal(out.detach().numpy(), emb.weight.numpy()[[[4, 0], [4, 2]]])
    out.sum().backward()
    np.testing.assert_array_equal(emb.weight.grad.numpy()[:, 0], [1, 0, 1, 0, 2])


def test_embedding_rejects_out_of_range_ids():
    with pytest.raises(IndexError, match="id 5 is out of range for 5 embeddings"):
        nn.Embedding(5, 2)(mt.tensor([1, 5]))
    with pytest.raises(TypeError, match="integer"):
        nn.Embedding(5, 2)(mt.tensor([1.0]))


# ---------------------------------------------------------------------- BatchNorm1d, LayerNorm
def _batchnorm_numpy(x: np.ndarray, axes: tuple[int, ...], eps: float = 1e-5) -> np.ndarray:
    mean = x.mean(axes, keepdims=True)
    return (x - mean) / np.sqrt(x.var(axes, keepdims=True) + eps)


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5)])
def test_batchnorm_training_matches_numpy_and_updates_running_stats(shape):
    x = np.random.default_rng(6).standard_normal(shape) * 3 + 1
    axes = (0,) if len(shape) == 2 else (0, 2)
    bn = nn.BatchNorm1d(3).double()
    with mt.no_grad():
        bn.weight.copy_(t64([1.0, 2.0, 0.5]))
        bn.bias.copy_(t64([0.0, -1.0, 3.0]))
    out = bn(t64(x)).numpy()
    scale = np.array([1.0, 2.0, 0.5]).reshape((1, 3) + (1,) * (len(shape) - 2))
    shift = np.array([0.0, -1.0, 3.0]).reshape(scale.shape)
    np.testing.assert_allclose(out, _batchnorm_numpy(x, axes) * scale + shift, rtol=1e-10, atol=1e-12)
    n = x.size // 3
    np.testing.assert_allclose(bn.running_mean.numpy(), 0.1 * x.mean(axes), rtol=1e-10)
    np.testing.assert_allclose(bn.running_var.numpy(), 0.9 + 0.1 * x.var(axes) * n / (n - 1), rtol=1e-10)


def test_batchnorm_eval_uses_running_stats():
    bn = nn.BatchNorm1d(2).double()
    with mt.no_grad():
        bn.running_mean.copy_(t64([1.0, -2.0]))
        bn.running_var.copy_(t64([4.0, 0.25]))
    x = np.array([[3.0, 0.0], [1.0, -2.0]])
    expected = (x - [1.0, -2.0]) / np.sqrt(np.array([4.0, 0.25]) + 1e-5)
    np.testing.assert_allclose(bn.eval()(t64(x)).numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(bn.running_mean.numpy(), [1.0, -2.0])  # eval does not update


def test_batchnorm_cumulative_average_when_momentum_is_none():
    bn = nn.BatchNorm1d(1, momentum=None).double()
    bn(t64([[1.0], [3.0]]))
    bn(t64([[5.0], [7.0]]))
    np.testing.assert_allclose(bn.running_mean.numpy(), [4.0])


def test_batchnorm_gradients():
    x = t64(np.random.default_rng(7).standard_normal((4, 3, 2)))
    weights = t64(np.random.default_rng(8).standard_normal((1, 3, 2)))  # a non-trivial downstream loss

    def fn(x, w, b):
        return F.batch_norm(x, None, None, w, b, training=True) * weights

    mt.grad_check(fn, x, t64([0.5, 1.5, -1.0]), t64([0.1, 0.2, 0.3]))


def test_batchnorm_layer_backward_reaches_its_parameters():
    bn = nn.BatchNorm1d(2)
    x = mt.randn(4, 2)
    (bn(x) * mt.tensor([[1.0, 3.0]])).sum().backward()
    np.testing.assert_allclose(bn.bias.grad.numpy(), [4.0, 12.0], rtol=1e-6)


def test_batchnorm_wrong_shapes_raise():
    with pytest.raises(ValueError, match=r"BatchNorm1d\(3.*expected input of shape \(N, 3\).*got shape \(4, 2\)"):
        nn.BatchNorm1d(3)(mt.zeros(4, 2))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3)(mt.zeros(1, 3))


@needs_torch
def test_batchnorm_matches_torch_over_steps():
    ours, ref = nn.BatchNorm1d(3), torch.nn.BatchNorm1d(3)
    rng = np.random.default_rng(8)
    for _ in range(3):
        x = rng.standard_normal((5, 3, 2)).astype(np.float32)
        np.testing.assert_allclose(ours(mt.tensor(x)).numpy(), ref(torch.tensor(x)).detach().numpy(), atol=1e-5)
    np.testing.assert_allclose(ours.running_var.numpy(), ref.running_var.numpy(), rtol=1e-5)
    x = rng.standard_normal((2, 3)).astype(np.float32)
    np.testing.assert_allclose(
        ours.eval()(mt.tensor(x)).numpy(), ref.eval()(torch.tensor(x)).detach().numpy(), atol=1e-5
    )


def test_layernorm_matches_numpy_and_has_gradients():
    x = np.random.default_rng(9).standard_normal((2, 3, 4)) * 2 + 5
    ln = nn.LayerNorm((3, 4)).double()
    np.testing.assert_allclose(ln(t64(x)).numpy(), _batchnorm_numpy(x, (1, 2)), rtol=1e-10, atol=1e-12)

    def fn(x, w, b):
        return F.layer_norm(x, (3, 4), w, b) * t64(np.arange(12.0).reshape(3, 4))

    w = t64(np.random.default_rng(10).standard_normal((3, 4)))
    mt.grad_check(fn, t64(x[:1]), w, t64(np.zeros((3, 4))))


def test_layernorm_wrong_shape_raises():
    with pytest.raises(ValueError, match=r"last dimensions are \(5,\), got shape \(2, 4\)"):
        nn.LayerNorm(5)(mt.zeros(2, 4))


# ---------------------------------------------------------------------- init
def test_fans_for_linear_and_conv_weights():
    assert init._calculate_fan_in_and_fan_out(mt.zeros(5, 3)) == (3, 5)
    assert init._calculate_fan_in_and_fan_out(mt.zeros(8, 4, 3, 3)) == (36, 72)
    with pytest.raises(ValueError, match="at least 2"):
        init.xavier_uniform_(mt.zeros(3))


def test_xavier_and_kaiming_spreads():
    mt.manual_seed(0)
    w = mt.zeros(64, 32, 3, 3)  # fan_in 288, fan_out 576
    bound = math.sqrt(6 / (288 + 576))
    values = init.xavier_uniform_(w).numpy()
    assert np.abs(values).max() <= bound and np.abs(values).max() > 0.99 * bound
    assert abs(init.xavier_normal_(w).numpy().std() - math.sqrt(2 / 864)) < 0.02 * math.sqrt(2 / 864)
    assert abs(init.kaiming_normal_(w, nonlinearity="relu").numpy().std() - math.sqrt(2 / 288)) < 0.02 * math.sqrt(
        2 / 288
    )
    fan_out_bound = math.sqrt(2) * math.sqrt(3 / 576)
    values = init.kaiming_uniform_(w, mode="fan_out", nonlinearity="relu").numpy()
    assert np.abs(values).max() <= fan_out_bound and np.abs(values).max() > 0.99 * fan_out_bound


def test_simple_initialisers_work_on_parameters():
    p = nn.Parameter(mt.randn(3, 2))
    np.testing.assert_array_equal(init.zeros_(p).numpy(), np.zeros((3, 2)))
    np.testing.assert_array_equal(init.ones_(p).numpy(), np.ones((3, 2)))
    values = init.uniform_(p, 2.0, 3.0).numpy()
    assert values.min() >= 2.0 and values.max() < 3.0
    assert abs(init.normal_(mt.zeros(4000), 1.0, 0.5).numpy().mean() - 1.0) < 0.05
    assert p.requires_grad and p.grad is None


def test_calculate_gain_table():
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("leaky_relu", math.sqrt(5)) == pytest.approx(math.sqrt(1 / 3))
    with pytest.raises(ValueError):
        init.calculate_gain("swish")
