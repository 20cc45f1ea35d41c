"""Attention against PyTorch: F.scaled_dot_product_attention, nn.MultiheadAttention,
nn.TransformerEncoderLayer, plus the Embedding and LayerNorm options a GPT needs.

Weights are copied from torch's modules (float64, so the comparisons are tight); forward values and
the gradients of inputs and parameters must agree. The last tests run small shapes on every backend
(the CUDA one under numba's simulator, as conftest.py sets up).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import minitorch_edu as mt
from minitorch_edu import nn
from minitorch_edu.nn import functional as F

TOL = dict(rtol=1e-9, atol=1e-10)


def pair(array: np.ndarray, requires_grad: bool = True, device: str = "numba") -> tuple[mt.Tensor, torch.Tensor]:
    """The same float64 data as (ours, torch's), both leaves."""
    a = np.asarray(array, dtype=np.float64)
    return mt.tensor(a, requires_grad=requires_grad, device=device), torch.tensor(a, requires_grad=requires_grad)


def close(ours: mt.Tensor, theirs: torch.Tensor, what: str, **tol: float) -> None:
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), err_msg=what, **(tol or TOL))


def copy_weights(ours: nn.Module, theirs: torch.nn.Module, device: str = "numba") -> None:
    state = {k: mt.tensor(v.detach().numpy(), device=device) for k, v in theirs.state_dict().items()}
    ours.load_state_dict(state)


def same_grads(ours: nn.Module, theirs: torch.nn.Module, **tol: float) -> None:
    mine = dict(ours.named_parameters())
    for name, p in theirs.named_parameters():
        close(mine[name].grad, p.grad, f"gradient of {name}", **tol)


# ---------------------------------------------------------------------- scaled_dot_product_attention
def _sdpa_case(rng: np.random.Generator, case: str) -> tuple[tuple[int, ...], tuple[int, ...], dict]:
    """Shapes of query (N, H, L, E) and key/value, and the keyword arguments of one case."""
    if case == "plain":
        return (2, 3, 4, 5), (2, 3, 6, 5), {}
    if case == "bool mask":
        mask = rng.random((4, 6)) > 0.4
        mask[1] = False  # a query that may attend nowhere: zeros, as torch's safe softmax
        mask[2] = True
        return (2, 3, 4, 5), (2, 3, 6, 5), {"attn_mask": mask}
    if case == "bool mask per sample":
        return (2, 3, 4, 5), (2, 3, 6, 5), {"attn_mask": rng.random((2, 1, 4, 6)) > 0.3}
    if case == "float mask":
        return (2, 3, 4, 5), (2, 3, 6, 5), {"attn_mask": rng.standard_normal((4, 6))}
    if case == "causal":
        return (2, 3, 5, 4), (2, 3, 5, 4), {"is_causal": True}
    if case == "causal L < S":
        return (2, 3, 3, 4), (2, 3, 6, 4), {"is_causal": True}
    if case == "causal L > S":
        return (1, 2, 6, 4), (1, 2, 3, 4), {"is_causal": True}
    if case == "scale":
        return (2, 3, 4, 5), (2, 3, 6, 5), {"scale": 0.37}
    if case == "broadcast batch":
        return (2, 3, 4, 5), (1, 3, 6, 5), {"attn_mask": rng.random((4, 6)) > 0.2, "scale": 2.0}
    raise AssertionError(case)


CASES = ["plain", "bool mask", "bool mask per sample", "float mask", "causal", "causal L < S", "causal L > S",
         "scale", "broadcast batch"]


@pytest.mark.parametrize("case", CASES)
def test_sdpa_forward_and_gradients_equal_torch(case: str, rng: np.random.Generator) -> None:
    q_shape, k_shape, kwargs = _sdpa_case(rng, case)
    v_shape = k_shape[:-1] + (7,)  # a value size Ev other than E
    (q, tq), (k, tk), (v, tv) = (pair(rng.standard_normal(s)) for s in (q_shape, k_shape, v_shape))
    ours_kw = {n: mt.tensor(a) if isinstance(a, np.ndarray) else a for n, a in kwargs.items()}
    theirs_kw = {n: torch.tensor(a) if isinstance(a, np.ndarray) else a for n, a in kwargs.items()}
    out = F.scaled_dot_product_attention(q, k, v, **ours_kw)
    expected = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, **theirs_kw)
    assert out.shape == tuple(expected.shape)
    close(out, expected, f"{case}: output")
    g = rng.standard_normal(out.shape)
    out.backward(mt.tensor(g))
    expected.backward(torch.tensor(g))
    for name, ours, theirs in (("query", q, tq), ("key", k, tk), ("value", v, tv)):
        close(ours.grad, theirs.grad, f"{case}: gradient of {name}")


def test_sdpa_float32_matches_torch(rng: np.random.Generator) -> None:
    q, k, v = (rng.standard_normal((2, 4, 8, 16)).astype(np.float32) for _ in range(3))
    out = F.scaled_dot_product_attention(mt.tensor(q), mt.tensor(k), mt.tensor(v), is_causal=True)
    expected = torch.nn.functional.scaled_dot_product_attention(*map(torch.tensor, (q, k, v)), is_causal=True)
    assert out.dtype == mt.float32
    np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-5, atol=1e-6)


def test_sdpa_dropout_drops_weights_only_when_asked(rng: np.random.Generator) -> None:
    q, k, v = (mt.tensor(rng.standard_normal((2, 5, 4))) for _ in range(3))
    plain = F.scaled_dot_product_attention(q, k, v).numpy()
    np.testing.assert_array_equal(F.scaled_dot_product_attention(q, k, v, dropout_p=0.0).numpy(), plain)
    mt.manual_seed(3)
    dropped = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5).numpy()
    mt.manual_seed(3)
    again = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5).numpy()
    np.testing.assert_array_equal(dropped, again)  # the package generator draws the mask
    assert not np.allclose(dropped, plain)
    np.testing.assert_array_equal(F.scaled_dot_product_attention(q, k, v, dropout_p=1.0).numpy(), 0.0)


def test_sdpa_errors_name_the_shapes() -> None:
    q, k, v = mt.zeros(2, 4, 8), mt.zeros(2, 6, 5), mt.zeros(2, 6, 3)
    with pytest.raises(ValueError, match=r"same last dim E.*query \(2, 4, 8\), key \(2, 6, 5\)"):
        F.scaled_dot_product_attention(q, k, v)
    with pytest.raises(ValueError, match=r"sequence length S.*key \(2, 6, 8\), value \(2, 5, 3\)"):
        F.scaled_dot_product_attention(q, mt.zeros(2, 6, 8), mt.zeros(2, 5, 3))
    with pytest.raises(ValueError, match=r"batch dims.*query \(2, 4, 8\), key \(3, 6, 8\)"):
        F.scaled_dot_product_attention(q, mt.zeros(3, 6, 8), mt.zeros(3, 6, 3))
    with pytest.raises(ValueError, match=r"mask of shape \(4, 5\).*\(\.\.\., 4, 6\)"):
        F.scaled_dot_product_attention(q, mt.zeros(2, 6, 8), v, attn_mask=mt.ones(4, 5, dtype="bool"))
    with pytest.raises(RuntimeError, match="is_causal"):
        F.scaled_dot_product_attention(q, mt.zeros(2, 6, 8), v, attn_mask=mt.ones(4, 6, dtype="bool"), is_causal=True)


def test_causal_mask_is_the_lower_triangle() -> None:
    np.testing.assert_array_equal(F.causal_mask(3, 4).numpy(), np.tril(np.ones((3, 4), dtype=bool)))


# ---------------------------------------------------------------------- MultiheadAttention
def _mha_pair(E: int = 8, H: int = 2, **kwargs: object) -> tuple[nn.MultiheadAttention, torch.nn.MultiheadAttention]:
    torch.manual_seed(0)
    theirs = torch.nn.MultiheadAttention(E, H, **kwargs).double()
    torch.nn.init.normal_(theirs.in_proj_bias if theirs.in_proj_bias is not None else torch.zeros(1))
    ours = nn.MultiheadAttention(E, H, dtype="float64", **kwargs)
    copy_weights(ours, theirs)
    return ours, theirs


MHA_CASES = {
    "self, batch_first": dict(batch_first=True),
    "self, sequence first": dict(batch_first=False),
    "per-head weights": dict(batch_first=True, average_attn_weights=False),
    "no weights": dict(batch_first=True, need_weights=False),
    "key padding": dict(batch_first=True, key_padding_mask=True),
    "causal bool mask": dict(batch_first=False, attn_mask="causal", is_causal=True),
    "float mask + padding": dict(batch_first=True, attn_mask="float", key_padding_mask=True),
    "3-D mask": dict(batch_first=True, attn_mask="3d"),
    "cross attention": dict(batch_first=True, cross=True, key_padding_mask=True),
}


@pytest.mark.filterwarnings("ignore:Support for mismatched key_padding_mask")  # torch's, on a float + bool pair
@pytest.mark.parametrize("case", list(MHA_CASES))
def test_multihead_attention_equals_torch(case: str, rng: np.random.Generator) -> None:
    opts = dict(MHA_CASES[case])
    batch_first, cross = opts.pop("batch_first"), opts.pop("cross", False)
    ours, theirs = _mha_pair(batch_first=batch_first)
    N, L, S, E, H = 3, 4, 6 if cross else 4, 8, 2
    layout = (lambda n, t: (n, t, E)) if batch_first else (lambda n, t: (t, n, E))
    x, tx = pair(rng.standard_normal(layout(N, L)))
    if cross:
        (k, tk), (v, tv) = pair(rng.standard_normal(layout(N, S))), pair(rng.standard_normal(layout(N, S)))
    else:
        k, tk, v, tv = x, tx, x, tx
    kwargs, tkwargs = {}, {}
    if opts.pop("key_padding_mask", False):
        padding = np.zeros((N, S), dtype=bool)
        padding[0, -2:] = True
        padding[2, -1] = True
        kwargs["key_padding_mask"], tkwargs["key_padding_mask"] = mt.tensor(padding), torch.tensor(padding)
    mask_kind = opts.pop("attn_mask", None)
    if mask_kind is not None:
        mask = {
            "causal": ~np.tril(np.ones((L, S), dtype=bool)),
            "float": rng.standard_normal((L, S)),
            "3d": rng.random((N * H, L, S)) > 0.7,
        }[mask_kind]
        kwargs["attn_mask"], tkwargs["attn_mask"] = mt.tensor(mask), torch.tensor(mask)
    kwargs.update(opts)
    tkwargs.update(opts)
    out, weights = ours(x, k, v, **kwargs)
    t_out, t_weights = theirs(tx, tk, tv, **tkwargs)
    close(out, t_out, f"{case}: output")
    if opts.get("need_weights", True):
        close(weights, t_weights, f"{case}: attention weights")
    else:
        assert weights is None and t_weights is None
    g = rng.standard_normal(out.shape)
    (out * mt.tensor(g)).sum().backward()
    (t_out * torch.tensor(g)).sum().backward()
    close(x.grad, tx.grad, f"{case}: gradient of the query")
    if cross:
        close(k.grad, tk.grad, f"{case}: gradient of the key")
        close(v.grad, tv.grad, f"{case}: gradient of the value")
    same_grads(ours, theirs)


def test_multihead_attention_has_torch_parameter_names_and_init() -> None:
    ours, theirs = nn.MultiheadAttention(12, 3), torch.nn.MultiheadAttention(12, 3)
    assert [(n, tuple(p.shape)) for n, p in ours.named_parameters()] == [
        (n, tuple(p.shape)) for n, p in theirs.named_parameters()
    ]
    bound = np.sqrt(6.0 / (12 + 36))  # Xavier-uniform over the (3E, E) projection
    w = ours.in_proj_weight.numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound
    np.testing.assert_array_equal(ours.in_proj_bias.numpy(), 0.0)
    assert [n for n, _ in nn.MultiheadAttention(8, 2, bias=False).named_parameters()] == [
        "in_proj_weight", "out_proj.weight"
    ]


def test_multihead_attention_kdim_vdim_equal_torch(rng: np.random.Generator) -> None:
    ours, theirs = _mha_pair(E=8, H=4, batch_first=True, kdim=5, vdim=3)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    (q, tq), (k, tk), (v, tv) = (pair(rng.standard_normal(s)) for s in ((2, 3, 8), (2, 4, 5), (2, 4, 3)))
    out, w = ours(q, k, v)
    t_out, t_w = theirs(tq, tk, tv)
    close(out, t_out, "kdim/vdim output")
    close(w, t_w, "kdim/vdim weights")
    out.sum().backward()
    t_out.sum().backward()
    close(k.grad, tk.grad, "kdim/vdim key gradient")
    same_grads(ours, theirs)


def test_multihead_attention_unbatched_input_equals_torch(rng: np.random.Generator) -> None:
    ours, theirs = _mha_pair()
    x, tx = pair(rng.standard_normal((5, 8)))
    out, w = ours(x, x, x)
    t_out, t_w = theirs(tx, tx, tx)
    close(out, t_out, "unbatched output")
    close(w, t_w, "unbatched weights")


def test_multihead_attention_dropout_only_in_training(rng: np.random.Generator) -> None:
    mha = nn.MultiheadAttention(8, 2, dropout=0.5, batch_first=True)
    x = mt.tensor(rng.standard_normal((2, 5, 8)).astype(np.float32))
    mha.eval()
    a, b = mha(x, x, x)[0].numpy(), mha(x, x, x)[0].numpy()
    np.testing.assert_array_equal(a, b)
    mha.train()
    assert not np.allclose(mha(x, x, x)[0].detach().numpy(), a)


def test_multihead_attention_errors_name_the_shapes() -> None:
    mha = nn.MultiheadAttention(8, 2, batch_first=True)
    x = mt.zeros(2, 4, 8)
    with pytest.raises(ValueError, match="multiple of num_heads"):
        nn.MultiheadAttention(10, 3)
    with pytest.raises(ValueError, match=r"\(E, kdim, vdim\) = \(8, 8, 8\).*key \(2, 4, 6\)"):
        mha(x, mt.zeros(2, 4, 6), x)
    with pytest.raises(ValueError, match=r"key_padding_mask must be \(N, S\) = \(2, 4\), got \(2, 5\)"):
        mha(x, x, x, key_padding_mask=mt.zeros(2, 5, dtype="bool"))
    with pytest.raises(ValueError, match=r"\(N \* num_heads, L, S\) = \(4, 4, 4\), got \(2, 4, 4\)"):
        mha(x, x, x, attn_mask=mt.zeros(2, 4, 4, dtype="bool"))
    with pytest.raises(RuntimeError, match="is_causal=True needs attn_mask"):
        mha(x, x, x, is_causal=True)


# ---------------------------------------------------------------------- TransformerEncoderLayer
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_encoder_layer_equals_torch_in_eval_mode(norm_first: bool, activation: str, rng: np.random.Generator) -> None:
    torch.manual_seed(1)
    kw = dict(dim_feedforward=16, dropout=0.1, activation=activation, batch_first=True, norm_first=norm_first)
    theirs = torch.nn.TransformerEncoderLayer(8, 2, **kw).double().eval()
    for p in theirs.parameters():  # non-trivial norms and biases, so a wrong order of ops shows
        torch.nn.init.normal_(p, 0.0, 0.3) if p.ndim == 1 else None
    ours = nn.TransformerEncoderLayer(8, 2, dtype="float64", **kw).eval()
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    copy_weights(ours, theirs)
    x, tx = pair(rng.standard_normal((3, 5, 8)))
    causal = ~np.tril(np.ones((5, 5), dtype=bool))
    padding = np.zeros((3, 5), dtype=bool)
    padding[1, -2:] = True
    out = ours(x, src_mask=mt.tensor(causal), src_key_padding_mask=mt.tensor(padding), is_causal=True)
    t_out = theirs(tx, src_mask=torch.tensor(causal), src_key_padding_mask=torch.tensor(padding), is_causal=True)
    close(out, t_out, "encoder layer output")
    g = rng.standard_normal(out.shape)
    out.backward(mt.tensor(g))
    t_out.backward(torch.tensor(g))
    close(x.grad, tx.grad, "encoder layer input gradient")
    same_grads(ours, theirs)


def test_encoder_layer_takes_a_callable_activation_and_sequence_first_input(rng: np.random.Generator) -> None:
    torch.manual_seed(2)
    theirs = torch.nn.TransformerEncoderLayer(8, 4, 12, dropout=0.0, activation=torch.tanh).double()
    ours = nn.TransformerEncoderLayer(8, 4, 12, dropout=0.0, activation=mt.tanh, dtype="float64")
    copy_weights(ours, theirs)
    x, tx = pair(rng.standard_normal((5, 2, 8)))
    close(ours(x), theirs(tx), "sequence-first output with tanh")
    with pytest.raises(RuntimeError, match="relu/gelu"):
        nn.TransformerEncoderLayer(8, 2, activation="swish")


def test_encoder_layer_dropout_acts_in_training_mode(rng: np.random.Generator) -> None:
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.5, batch_first=True)
    x = mt.tensor(rng.standard_normal((2, 4, 8)).astype(np.float32))
    train = layer(x).detach().numpy()
    layer.eval()
    evaluated = layer(x).numpy()
    np.testing.assert_array_equal(layer(x).numpy(), evaluated)
    assert not np.allclose(train, evaluated)


# ---------------------------------------------------------------------- Embedding and LayerNorm options
def test_embedding_padding_idx_matches_torch(rng: np.random.Generator) -> None:
    torch.manual_seed(0)
    theirs = torch.nn.Embedding(6, 3, padding_idx=-2).double()
    ours = nn.Embedding(6, 3, padding_idx=-2, dtype="float64")
    assert ours.padding_idx == theirs.padding_idx == 4
    np.testing.assert_array_equal(ours.weight.numpy()[4], 0.0)
    copy_weights(ours, theirs)
    with torch.no_grad():
        theirs.weight[4] = 1.5  # a padding row with values: looked up as they are, never trained
    ours.load_state_dict({"weight": mt.tensor(theirs.weight.detach().numpy())})
    ids = np.array([[4, 1, 4], [0, 4, 5]])
    out, t_out = ours(mt.tensor(ids)), theirs(torch.tensor(ids))
    close(out, t_out, "embedding output")
    g = rng.standard_normal(out.shape)
    out.backward(mt.tensor(g))
    t_out.backward(torch.tensor(g))
    close(ours.weight.grad, theirs.weight.grad, "embedding gradient")
    np.testing.assert_array_equal(ours.weight.grad.numpy()[4], 0.0)
    assert repr(ours) == "Embedding(6, 3, padding_idx=4)"


def test_embedding_from_pretrained_freezes_by_default() -> None:
    table = mt.tensor(np.arange(6.0).reshape(3, 2))
    frozen = nn.Embedding.from_pretrained(table)
    assert not frozen.weight.requires_grad
    np.testing.assert_array_equal(frozen(mt.tensor([2, 0])).numpy(), [[4.0, 5.0], [0.0, 1.0]])
    assert nn.Embedding.from_pretrained(table, freeze=False).weight.requires_grad
    np.testing.assert_array_equal(F.embedding(mt.tensor([1]), table).numpy(), [[2.0, 3.0]])


@pytest.mark.parametrize("affine, bias", [(True, True), (True, False), (False, True)])
def test_layer_norm_options_match_torch(affine: bool, bias: bool, rng: np.random.Generator) -> None:
    torch.manual_seed(0)
    theirs = torch.nn.LayerNorm((3, 4), eps=1e-3, elementwise_affine=affine, bias=bias).double()
    for p in theirs.parameters():
        torch.nn.init.normal_(p)
    ours = nn.LayerNorm((3, 4), eps=1e-3, elementwise_affine=affine, bias=bias, dtype="float64")
    assert [(n, tuple(p.shape)) for n, p in ours.named_parameters()] == [
        (n, tuple(p.shape)) for n, p in theirs.named_parameters()
    ]
    copy_weights(ours, theirs)
    x, tx = pair(rng.standard_normal((2, 3, 4)))
    out, t_out = ours(x), theirs(tx)
    close(out, t_out, "layer norm output")
    g = rng.standard_normal(out.shape)
    out.backward(mt.tensor(g))
    t_out.backward(torch.tensor(g))
    close(x.grad, tx.grad, "layer norm input gradient")
    same_grads(ours, theirs)
    assert repr(ours) == repr(theirs)


# ---------------------------------------------------------------------- every backend, small shapes
def test_attention_block_on_every_backend(backend: str, rng: np.random.Generator) -> None:
    """A causal encoder layer forward and backward on the backend (CUDA: numba's simulator under
    pytest) equals torch's; tiny shapes keep the simulator quick."""
    torch.manual_seed(3)
    theirs = torch.nn.TransformerEncoderLayer(4, 2, 6, dropout=0.0, batch_first=True, norm_first=True).double()
    ours = nn.TransformerEncoderLayer(4, 2, 6, dropout=0.0, batch_first=True, norm_first=True, dtype="float64")
    copy_weights(ours, theirs, device=backend)
    ours.to(backend)
    x, tx = pair(rng.standard_normal((2, 3, 4)), device=backend)
    causal = ~np.tril(np.ones((3, 3), dtype=bool))
    out = ours(x, src_mask=mt.tensor(causal, device=backend), is_causal=True)
    t_out = theirs(tx, src_mask=torch.tensor(causal), is_causal=True)
    close(out, t_out, f"{backend}: encoder output", rtol=1e-7, atol=1e-9)
    out.sum().backward()
    t_out.sum().backward()
    close(x.grad, tx.grad, f"{backend}: input gradient", rtol=1e-7, atol=1e-9)
    same_grads(ours, theirs, rtol=1e-7, atol=1e-9)
    q, k, v = (mt.tensor(rng.standard_normal((1, 2, 3, 4)), device=backend) for _ in range(3))
    sdpa = F.scaled_dot_product_attention(q, k, v, attn_mask=mt.tensor(~causal, device=backend))
    expected = torch.nn.functional.scaled_dot_product_attention(
        *(torch.tensor(t.numpy()) for t in (q, k, v)), attn_mask=torch.tensor(~causal)
    )
    close(sdpa, expected, f"{backend}: SDPA with a bool mask", rtol=1e-7, atol=1e-9)


def test_sdpa_grouped_query_attention_equals_torch(rng: np.random.Generator) -> None:
    (q, tq), (k, tk), (v, tv) = (pair(rng.standard_normal(s)) for s in ((2, 6, 4, 5), (2, 2, 3, 5), (2, 2, 3, 4)))
    out = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
    expected = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, is_causal=True, enable_gqa=True)
    close(out, expected, "GQA output")
    out.sum().backward()
    expected.sum().backward()
    close(k.grad, tk.grad, "GQA key gradient")
    close(v.grad, tv.grad, "GQA value gradient")
    with pytest.raises(ValueError, match=r"heads \(6, dim -3 of \(2, 6, 4, 5\)\).*\(4, dim -3"):
        F.scaled_dot_product_attention(q, mt.zeros(2, 4, 3, 5, dtype="float64"), mt.zeros(2, 4, 3, 4), enable_gqa=True)


def test_transformer_encoder_stacks_copies_and_equals_torch(rng: np.random.Generator) -> None:
    torch.manual_seed(4)
    kw = dict(dim_feedforward=12, dropout=0.0, batch_first=True, norm_first=True)
    theirs = torch.nn.TransformerEncoder(
        torch.nn.TransformerEncoderLayer(8, 2, **kw), 2, norm=torch.nn.LayerNorm(8), enable_nested_tensor=False
    ).double()
    ours = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, dtype="float64", **kw), 2, norm=nn.LayerNorm(8))
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert ours.layers[0].linear1.weight is not ours.layers[1].linear1.weight  # copies, not one layer twice
    copy_weights(ours, theirs)
    ours.to(dtype="float64")
    x, tx = pair(rng.standard_normal((2, 5, 8)))
    causal = ~np.tril(np.ones((5, 5), dtype=bool))
    out = ours(x, mask=mt.tensor(causal), is_causal=True)
    t_out = theirs(tx, mask=torch.tensor(causal), is_causal=True)
    close(out, t_out, "encoder stack output")
    out.sum().backward()
    t_out.sum().backward()
    same_grads(ours, theirs)


def test_sdpa_under_jit_handles_masks_it_was_not_traced_with(rng: np.random.Generator) -> None:
    """The fully-masked-row check is a graph op under `mt.jit`, not a value read while tracing."""
    q, k, v = (mt.tensor(rng.standard_normal((2, 4, 3))) for _ in range(3))
    attend = mt.jit(lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m))
    everywhere = np.ones((4, 4), dtype=bool)
    blocked = everywhere.copy()
    blocked[2] = False
    for mask in (everywhere, blocked):  # traced with the first: no row blocked
        got = attend(q, k, v, mt.tensor(mask)).numpy()
        expected = torch.nn.functional.scaled_dot_product_attention(
            *(torch.tensor(t.numpy()) for t in (q, k, v)), attn_mask=torch.tensor(mask)
        )
        np.testing.assert_allclose(got, expected.numpy(), **TOL)


# ---------------------------------------------------------------------- the pieces together: a tiny GPT
class TinyGPT(nn.Module):
    """Token and position embeddings, a causal pre-norm encoder stack, a linear head (chapter 12's model)."""

    def __init__(self, vocab: int, block: int, width: int = 32, heads: int = 4, layers: int = 2) -> None:
        super().__init__()
        self.tokens, self.positions = nn.Embedding(vocab, width), nn.Embedding(block, width)
        layer = nn.TransformerEncoderLayer(width, heads, 4 * width, dropout=0.0, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, layers, norm=nn.LayerNorm(width))
        self.head = nn.Linear(width, vocab)
        self.register_buffer("causal", ~F.causal_mask(block))

    def forward(self, ids: mt.Tensor) -> mt.Tensor:
        length = ids.shape[1]
        x = self.tokens(ids) + self.positions(mt.arange(length))
        return self.head(self.blocks(x, mask=self.causal[:length, :length], is_causal=True))


def test_a_tiny_gpt_learns_the_sonnets() -> None:
    """Embedding, attention, encoder stack, text and tokenizer together: 60 Adam steps on sonnet
    characters take the next-character loss well below the uniform guess, log(vocab_size)."""
    from minitorch_edu import optim
    from minitorch_edu.data import CharTokenizer, load_text

    text = load_text()[:5000]
    tok = CharTokenizer(text)
    data = np.array(tok.encode(text))
    mt.manual_seed(0)
    rng = np.random.default_rng(0)
    block = 16
    model = TinyGPT(tok.vocab_size, block)
    opt = optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(60):
        starts = rng.integers(0, len(data) - block - 1, size=16)
        x = mt.tensor(np.stack([data[s : s + block] for s in starts]))
        y = mt.tensor(np.stack([data[s + 1 : s + block + 1] for s in starts]))
        loss = F.cross_entropy(model(x).reshape(-1, tok.vocab_size), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[0] > 0.9 * np.log(tok.vocab_size)
    assert np.mean(losses[-10:]) < 0.75 * np.log(tok.vocab_size), losses[::10]
