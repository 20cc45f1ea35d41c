"""Convolution and pooling: forward against naive NumPy loops (and PyTorch when installed), backward
by finite differences, the layers' parameters, reprs and errors, and the CUDA kernels (under the
simulator when there is no GPU) against the CPU ones."""

from __future__ import annotations

import os

if not os.path.exists("/dev/nvidia0"):
    os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")  # before numba is imported (conftest does it too)

import math  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import minitorch_edu as mt  # noqa: E402
from minitorch_edu.nn.conv import AvgPool2d, Conv1d, Conv2d, MaxPool2d  # noqa: E402
from minitorch_edu.nn.conv_functions import avg_pool2d, conv1d, conv2d, max_pool2d  # noqa: E402

try:
    import torch
    import torch.nn.functional as TF
except ImportError:  # the comparisons with PyTorch are extra checks, never required
    torch = None


# ---------------------------------------------------------------------- naive references
def ref_conv2d(x, w, b=None, stride=(1, 1), padding=(0, 0)):
    (sh, sw), (ph, pw) = stride, padding
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    n, _, h, wd = xp.shape
    c_out, _, kh, kw = w.shape
    oh, ow = (h - kh) // sh + 1, (wd - kw) // sw + 1
    out = np.zeros((n, c_out, oh, ow))
    for i in range(oh):
        for j in range(ow):
            window = xp[:, :, i * sh : i * sh + kh, j * sw : j * sw + kw]
            out[:, :, i, j] = np.einsum("nckl,ockl->no", window, w)
    return out if b is None else out + b[None, :, None, None]


def ref_pool(x, k, s, p, reduce):
    fill = -np.inf if reduce is np.max else 0.0
    xp = np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])), constant_values=fill)
    oh, ow = (xp.shape[2] - k[0]) // s[0] + 1, (xp.shape[3] - k[1]) // s[1] + 1
    out = np.zeros(x.shape[:2] + (oh, ow))
    for i in range(oh):
        for j in range(ow):
            out[:, :, i, j] = reduce(xp[:, :, i * s[0] : i * s[0] + k[0], j * s[1] : j * s[1] + k[1]], axis=(2, 3))
    return out


CONV_CASES = [  # (x shape, w shape, stride, padding, bias)
    ((2, 3, 7, 6), (4, 3, 3, 3), (1, 1), (0, 0), True),
    ((2, 3, 7, 6), (4, 3, 3, 3), (2, 2), (1, 1), True),
    ((1, 2, 5, 6), (3, 2, 2, 3), (2, 1), (1, 0), False),
    ((3, 1, 4, 4), (2, 1, 4, 4), (1, 1), (0, 0), True),
    ((2, 2, 5, 5), (2, 2, 3, 3), (3, 2), (2, 1), True),
]


def _t(a, device="numba", dtype="float64", requires_grad=False):
    return mt.tensor(np.asarray(a), dtype=dtype, device=device, requires_grad=requires_grad)


@pytest.mark.parametrize("device", ["numba", "python"])
@pytest.mark.parametrize("xs, ws, stride, padding, bias", CONV_CASES)
def test_conv2d_forward_matches_reference(rng, device, xs, ws, stride, padding, bias):
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
    out = conv2d(_t(x, device), _t(w, device), _t(b, device) if bias else None, stride, padding)
    expected = ref_conv2d(x, w, b if bias else None, stride, padding)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-12)


def test_conv2d_int_stride_padding_and_float32(rng):
    x, w = rng.standard_normal((2, 2, 6, 6)), rng.standard_normal((3, 2, 3, 3))
    out = conv2d(_t(x, dtype="float32"), _t(w, dtype="float32"), stride=2, padding=1)
    assert out.dtype == np.float32 and out.shape == (2, 3, 3, 3)
    np.testing.assert_allclose(out.numpy(), ref_conv2d(x, w, None, (2, 2), (1, 1)), rtol=1e-4, atol=1e-5)


def test_conv2d_noncontiguous_input(rng):
    x, w = rng.standard_normal((2, 5, 6, 3)), rng.standard_normal((2, 3, 2, 2))
    xt = _t(x).permute(0, 3, 1, 2)  # (2, 3, 5, 6) as a strided view
    np.testing.assert_allclose(conv2d(xt, _t(w)).numpy(), ref_conv2d(x.transpose(0, 3, 1, 2), w), atol=1e-12)


def test_conv1d_forward_matches_reference(rng):
    x, w, b = rng.standard_normal((2, 3, 9)), rng.standard_normal((4, 3, 3)), rng.standard_normal(4)
    out = conv1d(_t(x), _t(w), _t(b), stride=2, padding=1)
    expected = ref_conv2d(x[:, :, None], w[:, :, None], b, (1, 2), (0, 1))[:, :, 0]
    assert out.shape == (2, 4, 5)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-12)
    unbatched = conv1d(_t(x[0]), _t(w), _t(b), stride=2, padding=1)
    np.testing.assert_allclose(unbatched.numpy(), expected[0], atol=1e-12)


POOL_CASES = [((2, 2), None, (0, 0)), ((3, 3), (2, 2), (1, 1)), ((2, 3), (1, 2), (1, 1)), ((3, 2), (3, 1), (0, 1))]


@pytest.mark.parametrize("k, s, p", POOL_CASES)
def test_pools_forward_match_reference(rng, k, s, p):
    x = rng.standard_normal((2, 3, 7, 6))
    stride = k if s is None else s
    np.testing.assert_allclose(max_pool2d(_t(x), k, s, p).numpy(), ref_pool(x, k, stride, p, np.max))
    np.testing.assert_allclose(avg_pool2d(_t(x), k, s, p).numpy(), ref_pool(x, k, stride, p, np.mean), atol=1e-12)


def test_max_pool_backward_routes_to_first_max():
    x = _t(np.ones((1, 1, 2, 4)), requires_grad=True)  # every window is a tie
    max_pool2d(x, 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[[[1, 0, 1, 0], [0, 0, 0, 0]]]])
    y = _t([[[[1.0, 5.0, 2.0], [0.0, 3.0, 4.0]]]], requires_grad=True)
    max_pool2d(y, (2, 2), stride=1).sum().backward()  # 5 wins both windows
    np.testing.assert_array_equal(y.grad.numpy(), [[[[0, 2, 0], [0, 0, 0]]]])


def test_avg_pool_backward_spreads_evenly():
    x = _t(np.arange(16.0).reshape(1, 1, 4, 4), requires_grad=True)
    out = avg_pool2d(x, 2)
    np.testing.assert_allclose(out.numpy(), [[[[2.5, 4.5], [10.5, 12.5]]]])
    out.backward(_t([[[[4.0, 8.0], [12.0, 16.0]]]]))
    expected = np.kron(np.array([[1.0, 2.0], [3.0, 4.0]]), np.ones((2, 2)))
    np.testing.assert_allclose(x.grad.numpy()[0, 0], expected)


# ---------------------------------------------------------------------- gradients
GRAD_CASES = [  # tiny: finite differences run the op twice per input element
    ((1, 2, 4, 4), (2, 2, 3, 3), (1, 1), (0, 0), True),
    ((2, 1, 5, 4), (2, 1, 3, 2), (2, 1), (1, 1), True),
    ((1, 2, 4, 5), (1, 2, 2, 3), (2, 3), (2, 0), False),
]


@pytest.mark.parametrize("xs, ws, stride, padding, bias", GRAD_CASES)
def test_conv2d_grad_check(rng, xs, ws, stride, padding, bias):
    x, w, b = _t(rng.standard_normal(xs)), _t(rng.standard_normal(ws)), _t(rng.standard_normal(ws[0]))
    if bias:
        assert mt.grad_check(lambda x, w, b: conv2d(x, w, b, stride, padding), x, w, b)
    else:
        assert mt.grad_check(lambda x, w: conv2d(x, w, None, stride, padding), x, w)


def test_conv1d_grad_check(rng):
    x, w, b = _t(rng.standard_normal((2, 2, 7))), _t(rng.standard_normal((3, 2, 3))), _t(rng.standard_normal(3))
    assert mt.grad_check(lambda x, w, b: conv1d(x, w, b, stride=2, padding=1), x, w, b)


def test_conv2d_grad_check_python_backend(rng):
    x = _t(rng.standard_normal((1, 2, 4, 4)), "python")
    w = _t(rng.standard_normal((2, 2, 2, 2)), "python")
    assert mt.grad_check(lambda x, w: conv2d(x, w, stride=2, padding=1), x, w)


@pytest.mark.parametrize("k, s, p", POOL_CASES)
def test_pools_grad_check(rng, k, s, p):
    # a permutation: distinct values, so no window has a tie that finite differences would split
    x = _t(rng.permutation(2 * 6 * 5).reshape(1, 2, 6, 5) / 10.0)
    assert mt.grad_check(lambda x: max_pool2d(x, k, s, p), x)
    assert mt.grad_check(lambda x: avg_pool2d(x, k, s, p), x)


def test_mixed_dtypes_give_each_input_its_dtype(rng):
    x = _t(rng.standard_normal((1, 1, 4, 4)), dtype="float32", requires_grad=True)
    w = _t(rng.standard_normal((1, 1, 2, 2)), dtype="float64", requires_grad=True)
    conv2d(x, w).sum().backward()
    assert x.grad.dtype == np.float32 and w.grad.dtype == np.float64


# ---------------------------------------------------------------------- PyTorch, when installed
@pytest.mark.skipif(torch is None, reason="PyTorch is not installed: the NumPy references above still run")
@pytest.mark.parametrize("xs, ws, stride, padding, bias", CONV_CASES)
def test_conv2d_forward_backward_match_torch(rng, xs, ws, stride, padding, bias):
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
    mine = [_t(a, requires_grad=True) for a in (x, w, b)]
    out = conv2d(mine[0], mine[1], mine[2] if bias else None, stride, padding)
    grad = rng.standard_normal(out.shape)
    out.backward(_t(grad))
    theirs = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    expected = TF.conv2d(theirs[0], theirs[1], theirs[2] if bias else None, stride, padding)
    expected.backward(torch.tensor(grad))
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), atol=1e-12)
    for m, t in zip(mine if bias else mine[:2], theirs):
        np.testing.assert_allclose(m.grad.numpy(), t.grad.numpy(), atol=1e-12)


@pytest.mark.skipif(torch is None, reason="PyTorch is not installed: the NumPy references above still run")
@pytest.mark.parametrize("k, s, p", POOL_CASES)
def test_pools_match_torch(rng, k, s, p):
    x = rng.standard_normal((2, 3, 7, 6))
    for mine_fn, torch_fn in ((max_pool2d, TF.max_pool2d), (avg_pool2d, TF.avg_pool2d)):
        mine = _t(x, requires_grad=True)
        out = mine_fn(mine, k, s, p)
        grad = rng.standard_normal(out.shape)
        out.backward(_t(grad))
        theirs = torch.tensor(x, requires_grad=True)
        expected = torch_fn(theirs, k, s, p)
        expected.backward(torch.tensor(grad))
        np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), atol=1e-12)
        np.testing.assert_allclose(mine.grad.numpy(), theirs.grad.numpy(), atol=1e-12)


# ---------------------------------------------------------------------- layers
def test_conv2d_layer_parameters_repr_and_init():
    mt.manual_seed(0)
    layer = Conv2d(1, 8, 3)
    assert layer.weight.shape == (8, 1, 3, 3) and layer.bias.shape == (8,)
    assert [name for name, _ in layer.named_parameters()] == ["weight", "bias"]
    assert repr(layer) == "Conv2d(1, 8, kernel_size=(3, 3), stride=(1, 1))"
    bound = 1 / math.sqrt(1 * 3 * 3)
    assert np.abs(layer.weight.numpy()).max() <= bound and np.abs(layer.bias.numpy()).max() <= bound
    assert np.abs(layer.weight.numpy()).max() > bound / 2  # it is actually random, not zeros
    other = Conv2d(2, 4, (2, 3), stride=2, padding=(1, 0), bias=False)
    assert other.bias is None and len(list(other.parameters())) == 1
    assert repr(other) == "Conv2d(2, 4, kernel_size=(2, 3), stride=(2, 2), padding=(1, 0), bias=False)"


def test_conv_layers_forward_and_backward(rng):
    layer = Conv2d(2, 3, 3, padding=1).double()
    x = _t(rng.standard_normal((2, 2, 5, 5)))
    out = layer(x)
    expected = ref_conv2d(x.numpy(), layer.weight.numpy(), layer.bias.numpy(), (1, 1), (1, 1))
    np.testing.assert_allclose(out.numpy(), expected, atol=1e-12)
    out.sum().backward()
    assert layer.weight.grad.shape == (3, 2, 3, 3)
    np.testing.assert_allclose(layer.bias.grad.numpy(), np.full(3, 2 * 5 * 5))
    layer1 = Conv1d(3, 2, 3, stride=2)
    assert layer1.weight.shape == (2, 3, 3)
    assert repr(layer1) == "Conv1d(3, 2, kernel_size=(3,), stride=(2,))"
    assert layer1(_t(rng.standard_normal((4, 3, 9)), dtype="float32")).shape == (4, 2, 4)


def test_pool_layers():
    x = _t(np.arange(32.0).reshape(1, 2, 4, 4))
    assert repr(MaxPool2d(2)) == "MaxPool2d(kernel_size=2, stride=2, padding=0)"
    np.testing.assert_array_equal(MaxPool2d(2)(x).numpy()[0, 0], [[5, 7], [13, 15]])
    np.testing.assert_allclose(AvgPool2d(2, stride=2)(x).numpy()[0, 1], [[18.5, 20.5], [26.5, 28.5]])
    assert MaxPool2d(3, stride=1, padding=1)(x).shape == (1, 2, 4, 4)


def test_clear_errors():
    with pytest.raises(
        ValueError, match=r"Conv2d\(1, 8, kernel_size=\(3, 3\).*expected input \(N, 1, H, W\), got shape"
    ):
        Conv2d(1, 8, 3)(mt.zeros(32, 3, 28, 28))
    with pytest.raises(ValueError, match=r"\(32, 28, 28\)"):
        Conv2d(1, 8, 3)(mt.zeros(32, 28, 28))
    with pytest.raises(ValueError, match="expected input"):
        Conv1d(2, 3, 3)(mt.zeros(4, 2, 3, 3))
    with pytest.raises(ValueError, match="larger than the padded input"):
        conv2d(mt.zeros(1, 1, 4, 4), mt.zeros(1, 1, 5, 3))
    with pytest.raises(ValueError, match="larger than the padded input"):
        conv1d(mt.zeros(1, 1, 2), mt.zeros(1, 1, 5), padding=1)
    with pytest.raises(ValueError, match="channels"):
        conv2d(mt.zeros(1, 2, 4, 4), mt.zeros(1, 3, 2, 2))
    with pytest.raises(ValueError, match="larger than the padded input"):
        max_pool2d(mt.zeros(1, 1, 2, 2), 3)
    with pytest.raises(ValueError, match="MaxPool2d"):
        MaxPool2d(2)(mt.zeros(4, 4))
    # a kernel that only fits thanks to padding is fine
    assert conv2d(mt.zeros(1, 1, 2, 2), mt.zeros(1, 1, 4, 4), padding=1).shape == (1, 1, 1, 1)


# ---------------------------------------------------------------------- CUDA (a GPU or the simulator)
@pytest.fixture(scope="module")
def cuda_ok(cuda_reason: str | None) -> None:
    reason = cuda_reason
    if reason:
        pytest.skip(reason)


def _forward_backward(device, arrays, fn):
    tensors = [_t(a, device, requires_grad=True) for a in arrays]
    out = fn(*tensors)
    (out * out).sum().backward()  # a non-uniform output gradient
    return [out.numpy()] + [t.grad.numpy() for t in tensors], out.device


@pytest.mark.parametrize("stride, padding", [((1, 1), (0, 0)), ((2, 1), (1, 2))])
def test_cuda_conv2d_matches_cpu(cuda_ok, rng, stride, padding):
    arrays = [rng.standard_normal((2, 2, 5, 4)), rng.standard_normal((3, 2, 3, 2)), rng.standard_normal(3)]
    fn = lambda x, w, b: conv2d(x, w, b, stride, padding)  # noqa: E731
    cpu, _ = _forward_backward("numba", arrays, fn)
    gpu, device = _forward_backward("cuda", arrays, fn)
    assert device == "cuda"
    for c, g in zip(cpu, gpu):
        np.testing.assert_allclose(g, c, rtol=1e-10, atol=1e-10)


def test_cuda_conv1d_and_no_bias_match_cpu(cuda_ok, rng):
    arrays = [rng.standard_normal((2, 2, 7)), rng.standard_normal((2, 2, 3))]
    fn = lambda x, w: conv1d(x, w, None, 2, 1)  # noqa: E731
    for c, g in zip(_forward_backward("numba", arrays, fn)[0], _forward_backward("cuda", arrays, fn)[0]):
        np.testing.assert_allclose(g, c, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("k, s, p", POOL_CASES[1:3])
def test_cuda_pools_match_cpu(cuda_ok, rng, k, s, p):
    arrays = [rng.permutation(2 * 6 * 5).reshape(1, 2, 6, 5) / 10.0]
    for pool in (max_pool2d, avg_pool2d):
        fn = lambda x: pool(x, k, s, p)  # noqa: E731, B023
        cpu, _ = _forward_backward("numba", arrays, fn)
        gpu, _ = _forward_backward("cuda", arrays, fn)
        for c, g in zip(cpu, gpu):
            np.testing.assert_allclose(g, c, rtol=1e-12, atol=1e-12)


def test_cuda_max_pool_ties_go_to_first(cuda_ok):
    x = _t(np.ones((1, 1, 2, 4)), "cuda", requires_grad=True)
    max_pool2d(x, 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[[[1, 0, 1, 0], [0, 0, 0, 0]]]])
