"""The cuda backend's fused row kernels (issue 26, `backends/cuda/norms.py`): softmax / log-softmax
over the last dim and layer norm, forward and backward, against the numba CPU kernels (same
arithmetic: tight tolerances) and against PyTorch, through the kernels and through the public API.

Without a GPU these run on numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1, set below before numba
is first imported), where a row block has 8 threads and a launch at most 4 blocks: rows of 33
values and more than 4 rows make the kernels' striding loops loop. Shapes stay tiny on purpose.
"""

from __future__ import annotations

import glob
import os

# no GPU here (and no MINITORCH_EDU_REAL_CUDA=1, as in conftest.py): simulate one
if not (glob.glob("/dev/nvidia[0-9]*") or os.path.exists("/dev/dxg") or os.environ.get("MINITORCH_EDU_REAL_CUDA")):
    os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import minitorch_edu as mt  # noqa: E402
from minitorch_edu.backends import available, composed  # noqa: E402
from minitorch_edu.backends.numba.cpu import numba_backend  # noqa: E402
from minitorch_edu.nn import functional as F  # noqa: E402

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.skipif(not available("cuda"), reason="no GPU and numba's CUDA simulator is off")

ROW_KERNELS = ("softmax_forward", "softmax_backward", "layer_norm_forward", "layer_norm_backward")
# (n, c): short rows, rows longer than a (simulated) block, rows of one value, more rows than blocks
SHAPES = [(3, 7), (5, 33), (6, 1), (1, 40)]
TOL = {"float32": 2e-6, "float64": 1e-13}  # against the CPU kernels: the same sums, another exp


def _cuda():  # noqa: ANN202
    from minitorch_edu.backends.cuda import backend as C

    return C


def _dev(a: np.ndarray):  # noqa: ANN202
    return _cuda().CudaStorage.from_numpy(np.ascontiguousarray(a).ravel())


def _host(storage) -> np.ndarray:  # noqa: ANN001
    return np.asarray(_cuda().CudaStorage.to_numpy(storage))


def _data(shape: tuple[int, ...], dtype: str, seed: int, scale: float = 3.0) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(dtype)


def _close(got: np.ndarray, want: np.ndarray, tol: float) -> None:
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


# ---------------------------------------------------------------------- the kernels are the backend's
def test_cuda_registers_its_own_row_kernels(monkeypatch: pytest.MonkeyPatch) -> None:
    """The four entries are cuda's own (not `backends.composed`), and the public API reaches them."""
    C = _cuda()
    assert set(ROW_KERNELS) <= set(C.cuda_backend.fused_kernels)
    for name in ROW_KERNELS:
        assert C.cuda_backend._fused[name] is getattr(C, name)

    def composed_called(*args: object) -> None:
        raise AssertionError("the cuda backend ran the composed default")

    for name in ROW_KERNELS:
        monkeypatch.setattr(composed, name, composed_called)
    x = mt.tensor(_data((2, 5), "float64", 0), device="cuda", requires_grad=True)
    ln = mt.nn.LayerNorm(5, device="cuda", dtype="float64")
    (F.softmax(x, dim=-1) * F.log_softmax(x, dim=-1)).sum().backward()
    ln(x).sum().backward()
    assert x.grad is not None and ln.weight.grad is not None


# ---------------------------------------------------------------------- kernels against the CPU ones
@pytest.mark.parametrize("dtype", list(TOL))
@pytest.mark.parametrize("log", [False, True])
@pytest.mark.parametrize("shape", SHAPES)
def test_softmax_kernels_match_the_numba_cpu_kernels(shape: tuple[int, int], log: bool, dtype: str) -> None:
    n, c = shape
    x = _data(shape, dtype, 1)
    g = _data(shape, dtype, 2, 1.0)
    want_y, want_gx = np.empty(n * c, dtype), np.empty(n * c, dtype)
    numba_backend.softmax_forward(want_y, x.ravel(), n, c, log)
    numba_backend.softmax_backward(want_gx, want_y, g.ravel(), n, c, log)

    C = _cuda()
    y, gx = C.CudaStorage.empty(n * c, np.dtype(dtype)), C.CudaStorage.empty(n * c, np.dtype(dtype))
    C.cuda_backend.softmax_forward(y, _dev(x), n, c, log)
    _close(_host(y), want_y, TOL[dtype])
    C.cuda_backend.softmax_backward(gx, _dev(want_y), _dev(g), n, c, log)  # from the same y: the backward alone
    _close(_host(gx), want_gx, TOL[dtype])
    assert _host(y).dtype == np.dtype(dtype) and _host(gx).dtype == np.dtype(dtype)


@pytest.mark.parametrize("dtype", list(TOL))
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("shape", SHAPES)
def test_layer_norm_kernels_match_the_numba_cpu_kernels(shape: tuple[int, int], affine: bool, dtype: str) -> None:
    """The saved statistics (mean, rstd) too: the backward reads them, whichever backend wrote them."""
    n, c = shape
    x = _data(shape, dtype, 3) + 5  # an offset: the moments must not cancel
    g = _data(shape, dtype, 4, 1.0)
    w = _data((c,), dtype, 5, 1.0) if affine else None
    b = _data((c,), dtype, 6, 1.0) if affine else None
    eps = 1e-3  # large enough that a kernel dropping it is caught in float32 too
    want = {k: np.empty(size, dtype) for k, size in [("out", n * c), ("mean", n), ("rstd", n), ("gx", n * c)]}
    want_gw, want_gb = np.empty(c, dtype), np.empty(c, dtype)
    numba_backend.layer_norm_forward(want["out"], want["mean"], want["rstd"], x.ravel(), w, b, n, c, eps)
    numba_backend.layer_norm_backward(
        want["gx"], want_gw, want_gb, g.ravel(), x.ravel(), want["mean"], want["rstd"], w, n, c
    )

    C = _cuda()
    got = {k: C.CudaStorage.empty(v.size, np.dtype(dtype)) for k, v in want.items()}
    gw, gb = C.CudaStorage.empty(c, np.dtype(dtype)), C.CudaStorage.empty(c, np.dtype(dtype))
    dw, db = (_dev(w), _dev(b)) if affine else (None, None)
    C.cuda_backend.layer_norm_forward(got["out"], got["mean"], got["rstd"], _dev(x), dw, db, n, c, eps)
    for key in ("out", "mean", "rstd"):
        _close(_host(got[key]), want[key], TOL[dtype])
    C.cuda_backend.layer_norm_backward(
        got["gx"], gw, gb, _dev(g), _dev(x), _dev(want["mean"]), _dev(want["rstd"]), dw, n, c
    )
    _close(_host(got["gx"]), want["gx"], 20 * TOL[dtype])  # c times a rounding of rstd: a little looser
    _close(_host(gw), want_gw, TOL[dtype])
    _close(_host(gb), want_gb, TOL[dtype])


def test_layer_norm_backward_computes_only_the_gradients_asked_for() -> None:
    """gx alone (a frozen layer), or gw and gb alone (an input that needs no gradient)."""
    n, c = 5, 9
    x, g, w = _data((n, c), "float64", 7), _data((n, c), "float64", 8), _data((c,), "float64", 9)
    mean, rstd = np.empty(n), np.empty(n)
    numba_backend.layer_norm_forward(np.empty(n * c), mean, rstd, x.ravel(), w, w, n, c, 1e-5)
    want_gx, want_gw, want_gb = np.empty(n * c), np.empty(c), np.empty(c)
    numba_backend.layer_norm_backward(want_gx, want_gw, want_gb, g.ravel(), x.ravel(), mean, rstd, w, n, c)

    C = _cuda()
    sentinel = np.full(c, 123.0)
    gx, gw, gb = C.CudaStorage.empty(n * c, np.dtype("float64")), _dev(sentinel), _dev(sentinel)
    C.cuda_backend.layer_norm_backward(gx, None, None, _dev(g), _dev(x), _dev(mean), _dev(rstd), _dev(w), n, c)
    _close(_host(gx), want_gx, 1e-12)
    C.cuda_backend.layer_norm_backward(None, gw, gb, _dev(g), _dev(x), _dev(mean), _dev(rstd), _dev(w), n, c)
    _close(_host(gw), want_gw, 1e-12)
    _close(_host(gb), want_gb, 1e-12)


# ---------------------------------------------------------------------- the public API against PyTorch
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("log", [False, True])
@pytest.mark.parametrize("shape", [(2, 3, 17), (5, 33), (4, 1)])
def test_softmax_on_cuda_tensors_matches_torch(shape: tuple[int, ...], log: bool, dtype: str) -> None:
    tol = 2e-6 if dtype == "float32" else 1e-12
    data, g = _data(shape, dtype, 10), _data(shape, dtype, 11, 1.0)
    x = mt.tensor(data, device="cuda", requires_grad=True)
    t = torch.tensor(data, requires_grad=True)
    ours = (F.log_softmax if log else F.softmax)(x, dim=-1)
    theirs = (torch.log_softmax if log else torch.softmax)(t, -1)
    assert ours.device == "cuda" and ours.dtype == x.dtype
    _close(ours.detach().numpy(), theirs.detach().numpy(), tol)
    (ours * mt.tensor(g, device="cuda")).sum().backward()
    (theirs * torch.tensor(g)).sum().backward()
    _close(x.grad.numpy(), t.grad.numpy(), tol)


@pytest.mark.filterwarnings("ignore:invalid value encountered")  # the loss's sum of -inf * g, not the kernel
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("log", [False, True])
def test_softmax_of_large_logits_does_not_overflow(log: bool, dtype: str) -> None:
    """Logits near 1e4 (exp overflows past ~88 in float32, ~709 in float64): the max is subtracted
    first. Also -inf logits (probability 0), a row of equal huge values, and rows whose one huge
    value sits at each position in turn (a block max that misses any thread's part overflows)."""
    rows = [
        [1.0e4, 1.0e4 - 1, 1.0e4 - 3, -1.0e4, 9.99e3, 1.0e4 + 2, 0.0, 1.0e4 - 0.5, 1.0e4, 5.0],
        [-1.0e4] * 10,
        [-np.inf, 1.0e4, 2.0, -np.inf, 1.0e4, 3.0, -np.inf, 0.0, 1.0e4 - 1, -1.0],
    ]
    data = np.concatenate([np.array(rows), np.eye(10) * 1.0e4]).astype(dtype)
    g = _data(data.shape, dtype, 12, 1.0)
    x = mt.tensor(data, device="cuda", requires_grad=True)
    t = torch.tensor(data, requires_grad=True)
    ours = (F.log_softmax if log else F.softmax)(x, dim=-1)
    theirs = (torch.log_softmax if log else torch.softmax)(t, -1)
    got = ours.detach().numpy()
    assert not np.isnan(got).any() and np.isfinite(got[:2]).all() and np.isfinite(got[3:]).all()
    _close(got, theirs.detach().numpy(), 1e-6)
    (ours * mt.tensor(g, device="cuda")).sum().backward()
    (theirs * torch.tensor(g)).sum().backward()
    _close(x.grad.numpy(), t.grad.numpy(), 1e-6)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", [(2, 3, 17), (6, 33), (3, 1)])
def test_layer_norm_module_on_cuda_matches_torch(shape: tuple[int, ...], dtype: str) -> None:
    tol = 5e-5 if dtype == "float32" else 1e-11  # rstd = 100 here: float32 roundings of g * w grow 100 times
    c = shape[-1]
    data, g = _data(shape, dtype, 13) + 2, _data(shape, dtype, 14, 1.0)
    w, b = _data((c,), dtype, 15, 1.0), _data((c,), dtype, 16, 1.0)
    ln = mt.nn.LayerNorm(c, eps=1e-4, device="cuda", dtype=dtype)
    ln.load_state_dict({"weight": mt.tensor(w), "bias": mt.tensor(b)})
    x = mt.tensor(data, device="cuda", requires_grad=True)
    t = torch.tensor(data, requires_grad=True)
    tw, tb = torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True)
    ours = ln(x)
    theirs = torch.nn.functional.layer_norm(t, (c,), tw, tb, eps=1e-4)
    assert ours.device == "cuda" and ln.weight.device == "cuda"
    _close(ours.detach().numpy(), theirs.detach().numpy(), tol)
    (ours * mt.tensor(g, device="cuda")).sum().backward()
    (theirs * torch.tensor(g)).sum().backward()
    _close(x.grad.numpy(), t.grad.numpy(), tol)
    _close(ln.weight.grad.numpy(), tw.grad.numpy(), tol)
    _close(ln.bias.grad.numpy(), tb.grad.numpy(), tol)


def test_layer_norm_without_parameters_over_two_dims_matches_torch() -> None:
    data, g = _data((5, 3, 4), "float64", 17) * 100 + 1e3, _data((5, 3, 4), "float64", 18, 1.0)
    x = mt.tensor(data, device="cuda", requires_grad=True)
    t = torch.tensor(data, requires_grad=True)
    ours = F.layer_norm(x, (3, 4))
    theirs = torch.nn.functional.layer_norm(t, (3, 4))
    _close(ours.detach().numpy(), theirs.detach().numpy(), 1e-11)
    (ours * mt.tensor(g, device="cuda")).sum().backward()
    (theirs * torch.tensor(g)).sum().backward()
    _close(x.grad.numpy(), t.grad.numpy(), 1e-11)


# ---------------------------------------------------------------------- errors
def test_row_kernels_refuse_host_arrays_naming_the_shape() -> None:
    C = _cuda()
    x = np.zeros(6, np.float32)
    with pytest.raises(RuntimeError, match=r"cuda softmax kernel got a host \(NumPy\) array for shape \(2, 3\)"):
        C.cuda_backend.softmax_forward(C.CudaStorage.empty(6, np.dtype("float32")), x, 2, 3, False)
    with pytest.raises(RuntimeError, match=r"cuda layer norm kernel got a host .* shape \(3, 2\)"):
        C.cuda_backend.layer_norm_forward(
            C.CudaStorage.empty(6, x.dtype), np.zeros(3, x.dtype), np.zeros(3, x.dtype), _dev(x), None, None, 3, 2, 1e-5
        )


@pytest.mark.filterwarnings("ignore:invalid value encountered")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_log_softmax_of_rows_with_an_infinite_max_matches_the_cpu_kernel(dtype):
    """log-softmax shifts by 0 where the max is infinite: a finite logit past 709 then overflows exp
    (inf, as on a GPU; Python's math.exp in the simulator raises), and a row of -inf sums to 0, whose
    log is -inf (math.log raises). Both backends give the same nan / -inf pattern."""
    rows = np.array([[np.inf, 1000.0, 1.0], [-np.inf, -np.inf, -np.inf], [2.0, np.inf, -np.inf]], dtype=dtype)
    ours = F.log_softmax(mt.tensor(rows, device="cuda"), dim=-1).numpy()
    cpu = F.log_softmax(mt.tensor(rows, device="numba"), dim=-1).numpy()
    np.testing.assert_array_equal(ours, cpu)
