"""The cuda backend (numba.cuda) against NumPy, on a GPU or on numba's CUDA simulator.

Without a GPU these run on the simulator (NUMBA_ENABLE_CUDASIM=1, set below before numba.cuda
is first imported), which executes every thread in Python: shapes stay tiny on purpose.
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
from minitorch_edu.backends import available, get_backend, scalar  # noqa: E402

pytestmark = pytest.mark.skipif(not available("cuda"), reason="no GPU and numba's CUDA simulator is off")

rng = np.random.default_rng(5)


def _sim() -> bool:
    from minitorch_edu.backends.cuda.backend import simulated

    return simulated()


def cu(array: np.ndarray, requires_grad: bool = False) -> mt.Tensor:
    return mt.tensor(np.asarray(array), device="cuda", requires_grad=requires_grad)


def arr(*shape: int, dtype: type = np.float32) -> np.ndarray:
    return rng.standard_normal(shape).astype(dtype)


def close(t: mt.Tensor, expected: np.ndarray, tol: float = 1e-5) -> None:
    assert t.device == "cuda"
    got = t.numpy()
    assert got.shape == np.shape(expected)
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol)


# ---------------------------------------------------------------------- storage
def test_storage_round_trip_and_views() -> None:
    storage = get_backend("cuda").storage
    data = np.arange(6, dtype=np.float64)
    dev = storage.from_numpy(data)
    assert not isinstance(dev, np.ndarray)
    np.testing.assert_array_equal(storage.to_numpy(dev), data)
    view = dev[2:]  # slicing a storage must give a view: tensor slicing relies on it
    filled = storage.full(4, 7.0, np.float64)
    get_backend("cuda").map(scalar.identity)(view, (1,), filled, (1,), (4,))
    np.testing.assert_array_equal(storage.to_numpy(dev), [0, 1, 7, 7, 7, 7])
    assert storage.empty(5, np.dtype(np.int64)).dtype == np.int64


def test_full_fills_on_the_device(monkeypatch: pytest.MonkeyPatch) -> None:
    from numba import cuda

    def no_host(*args: object, **kwargs: object) -> None:
        raise AssertionError("full() copied data from the host")

    monkeypatch.setattr(cuda, "to_device", no_host)
    storage = get_backend("cuda").storage
    out = storage.full(37, 2.5, np.dtype(np.float32))
    monkeypatch.undo()
    np.testing.assert_array_equal(storage.to_numpy(out), np.full(37, 2.5, np.float32))
    np.testing.assert_array_equal(storage.to_numpy(storage.full(3, -4, np.dtype(np.int64))), [-4, -4, -4])


def test_to_cuda_and_back() -> None:
    a = arr(2, 3)
    x = mt.tensor(a)
    y = x.to("cuda")
    assert y.device == "cuda" and "device='cuda'" in repr(y)
    z = y.to("cpu")
    assert z.device == "cpu"
    np.testing.assert_array_equal(z.numpy(), a)
    np.testing.assert_array_equal(y.T.cpu().numpy(), a.T)


def test_mixed_devices_raise_naming_both() -> None:
    with pytest.raises(RuntimeError, match="cpu.*cuda|cuda.*cpu"):
        _ = mt.tensor([1.0, 2.0]) + cu(np.array([1.0, 2.0], np.float32))


def test_kernels_reject_host_arrays() -> None:
    kernel = get_backend("cuda").map(scalar.neg)
    with pytest.raises(RuntimeError, match=r"host \(NumPy\) array.*\(3,\)"):
        kernel(np.zeros(3), (1,), np.ones(3), (1,), (3,))


# ---------------------------------------------------------------------- elementwise
def test_map_contiguous_and_strided() -> None:
    a = arr(3, 4)
    x = cu(a)
    close(-x, -a)
    close(x.exp(), np.exp(a), 1e-5)
    close(x.T.relu(), np.maximum(a.T, 0))  # strided path
    close(x.T.contiguous(), a.T)
    assert x.T.contiguous().is_contiguous()
    close(x.to(dtype="float64"), a.astype(np.float64))


def test_zip_and_broadcasting() -> None:
    a, b, c = arr(3, 4), arr(3, 1), arr(4)
    x, y, z = cu(a), cu(b), cu(c)
    close(x + x, a + a)
    close(x * y, a * b)  # (3, 4) * (3, 1)
    close(x - z, a - c)  # (3, 4) - (4,)
    close(y + z, b + c)  # (3, 1) + (4,) -> (3, 4)
    close(x.T / (x.T * x.T + 1), a.T / (a.T * a.T + 1))
    d = arr(4, 4)
    w = cu(d)
    close(w + w.T, d + d.T)  # operands walk memory in different orders
    close(x * 2 + 1, a * 2 + 1)
    close((x > 0) * x, (a > 0) * a)


def test_integer_tensors() -> None:
    a = np.arange(12).reshape(3, 4) - 5
    x = cu(a)
    assert x.dtype == np.int64
    close(x + x, a + a)
    close(x.sum(1), a.sum(1))
    close(x.max(0).values, a.max(0))


def test_slicing_views_share_memory() -> None:
    a = arr(4, 5)
    x = cu(a)
    close(x[1:, ::2], a[1:, ::2])
    close(x[2], a[2])
    close(x[:, 1:3] * 2, a[:, 1:3] * 2)
    with mt.no_grad():
        x[1:3, 2:] += 10.0  # writes through the view into x's storage
    a[1:3, 2:] += 10.0
    close(x, a)


# ---------------------------------------------------------------------- reductions
@pytest.mark.parametrize("shape", [(3, 5), (37, 3), (3, 37), (2, 3, 4)])
def test_sum_every_dim(shape: tuple[int, ...]) -> None:
    a = arr(*shape)
    x = cu(a)
    for dim in range(len(shape)):
        close(x.sum(dim), a.sum(dim), 1e-4)
        close(x.sum(dim, keepdim=True), a.sum(dim, keepdims=True), 1e-4)
    close(x.sum(), a.sum(), 1e-4)


def test_max_min_mean_and_views() -> None:
    a = arr(5, 6)
    x = cu(a)
    close(x.max(1).values, a.max(1))
    close(x.min(0).values, a.min(0))
    close(x.mean(1, keepdim=True), a.mean(1, keepdims=True))
    close(x.T.sum(1), a.T.sum(1), 1e-4)  # reduced dim not contiguous
    close(x[1:, ::2].max(0).values, a[1:, ::2].max(0))


def test_long_flat_elementwise_takes_the_unrolled_loop() -> None:
    """Long enough that each thread loads four elements per pass, with a ragged tail after."""
    a, b = arr(1001), arr(1001)
    close(cu(a) + cu(b), a + b)
    close(cu(a) * cu(b), a * b)
    close(cu(a).exp(), np.exp(a), 1e-5)
    close(-cu(a), -a)


def test_long_reductions_take_the_unrolled_fold() -> None:
    """Reduced dims long enough that every lane runs its eight-loads-at-a-time loop and then a tail."""
    a = arr(300, 6)
    x = cu(a)
    close(x.sum(0), a.sum(0), 1e-4)  # outputs contiguous: lanes on y
    close(x.T.sum(1), a.sum(0), 1e-4)
    close(x.max(0).values, a.max(0))
    b = arr(3, 301)
    close(cu(b).sum(1), b.sum(1), 1e-4)  # reduced dim contiguous: lanes on x
    close(cu(b).min(1).values, b.min(1))


def test_reduce_folds_onto_the_start_value() -> None:
    backend = get_backend("cuda")
    a = arr(3, 9)
    out = backend.storage.full(3, 10.0, np.dtype(np.float32))
    backend.reduce(scalar.add)(out, (1, 0), backend.storage.from_numpy(a), (9, 1), (3, 9), 1)
    np.testing.assert_allclose(backend.storage.to_numpy(out), 10.0 + a.sum(1), rtol=1e-5)


# ---------------------------------------------------------------------- matmul
def test_matmul_2d_batched_and_transposed() -> None:
    a, b = arr(3, 4), arr(4, 5)
    x, y = cu(a), cu(b)
    close(x @ y, a @ b, 1e-4)
    close(y.T @ x.T, b.T @ a.T, 1e-4)  # transposed operands: read through strides
    p, q = arr(2, 3, 4), arr(2, 4, 2)
    close(cu(p) @ cu(q), p @ q, 1e-4)
    close(cu(p) @ y, p @ b, 1e-4)  # broadcast batch (stride 0)
    close(cu(p).mT @ cu(p), np.swapaxes(p, 1, 2) @ p, 1e-4)
    close(x @ cu(b[:, 0]), a @ b[:, 0], 1e-4)  # matrix @ vector
    i = np.arange(6).reshape(2, 3)
    close(cu(i) @ cu(i.T), i @ i.T)


def test_matmul_many_tiles() -> None:
    """A 4 x 4 tile makes these tiny shapes span several tiles with ragged edges."""
    from minitorch_edu.backends.cuda.backend import make_matmul

    storage = get_backend("cuda").storage
    matmul = make_matmul(4)
    a, bt = arr(2, 9, 6), arr(7, 6)  # b = bt.T: a transposed view, strides (1, 6), batch stride 0
    out = storage.empty(2 * 9 * 7, np.dtype(np.float32))
    matmul(out, (63, 7, 1), storage.from_numpy(a), (54, 6, 1), storage.from_numpy(bt), (0, 1, 6), (2, 9, 7), 6)
    np.testing.assert_allclose(storage.to_numpy(out).reshape(2, 9, 7), a @ bt.T, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("registers", [True, False])
@pytest.mark.parametrize("a_t, b_t", [(False, False), (True, False), (False, True), (True, True)])
def test_matmul_kernels_every_layout(registers: bool, a_t: bool, b_t: bool) -> None:
    """Both GPU matmul kernels, on ragged edges (no size a multiple of a tile) and every operand layout:
    a transposed operand is read through its strides, so each kernel walks its stride-1 direction."""
    from minitorch_edu.backends.cuda.backend import make_matmul
    from minitorch_edu.backends.cuda.matmul import block_tile

    rows, cols = block_tile()
    n, m, k = rows + 3, 2 * cols + 1, 11  # k not a multiple of the k slice either
    storage = get_backend("cuda").storage
    rng = np.random.default_rng(7)
    a = rng.standard_normal((2, n, k)) if not a_t else rng.standard_normal((2, k, n))
    b = rng.standard_normal((k, m)) if not b_t else rng.standard_normal((m, k))
    # strides of the logical (2, n, k) and (2, k, m) operands; b's batch stride 0 broadcasts it
    a_strides = (n * k, k, 1) if not a_t else (n * k, 1, n)
    b_strides = (0, m, 1) if not b_t else (0, 1, k)
    want = (np.swapaxes(a, 1, 2) if a_t else a) @ (b.T if b_t else b)
    for dtype in (np.float32, np.float64):
        out = storage.empty(2 * n * m, np.dtype(dtype))
        make_matmul(4, registers=registers)(
            out, (n * m, m, 1), storage.from_numpy(a.astype(dtype)), a_strides,
            storage.from_numpy(b.astype(dtype)), b_strides, (2, n, m), k,
        )  # fmt: skip
        got = storage.to_numpy(out).reshape(2, n, m)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_matmul_picks_small_tiles_for_skinny_outputs(monkeypatch: pytest.MonkeyPatch) -> None:
    """A (n, 1) output would leave all but one column of a register tile idle: the plain kernel runs."""
    from minitorch_edu.backends.cuda import backend as C

    used = []
    original = C._matmul_kernel
    monkeypatch.setattr(C, "_matmul_kernel", lambda kind, dtype: used.append(kind) or original(kind, dtype))
    rows, cols = C.matmul.block_tile()
    a, b = arr(rows, 5), arr(5, cols)
    close(cu(a) @ cu(b), a @ b, 1e-4)
    close(cu(a) @ cu(b[:, :1]), a @ b[:, :1], 1e-4)
    assert used == [C.matmul.SHAPE, C.TILE]


@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_fused_cross_entropy_matches_cpu(reduction: str) -> None:
    """The two-kernel GPU softmax cross-entropy against the CPU one: values and gradients, on
    transposed (non-contiguous) logits and int32 targets."""
    from minitorch_edu.nn import functional as F

    rng = np.random.default_rng(3)
    logits = rng.standard_normal((5, 7)) * 3  # (C, N) storage: the (N, C) logits are a transposed view
    target = rng.integers(0, 5, 7).astype(np.int32)
    upstream = rng.standard_normal(7)

    def run(device: str) -> tuple[np.ndarray, np.ndarray]:
        x = mt.tensor(logits, dtype="float64", device=device, requires_grad=True)
        loss = F.cross_entropy(x.T, mt.tensor(target, device=device), reduction=reduction)
        (loss * mt.tensor(upstream, device=device) if reduction == "none" else loss).sum().backward()
        return loss.numpy(), x.grad.numpy()

    for got, want in zip(run("cuda"), run("cpu")):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_skinny_products_with_a_long_k_are_split_and_summed(monkeypatch: pytest.MonkeyPatch) -> None:
    """A weight gradient's shape (few outputs, long k): k is cut into pieces that run as one more
    batch dim of strided views, then summed; odd k, or a strided output, are not split."""
    from minitorch_edu.backends.cuda import backend as C

    calls = []
    original = C._split_k
    monkeypatch.setattr(C, "_split_k", lambda *args: calls.append(args[8]) or original(*args))
    rng = np.random.default_rng(5)
    k = 8 * C.SPLIT_MIN_K
    h, g = rng.standard_normal((k, 3)), rng.standard_normal((k, 2))  # (batch, features), (batch, classes)
    close(cu(h).T @ cu(g), h.T @ g, 1e-4)  # transposed A, as in a Linear layer's weight gradient
    assert calls and calls[-1] > 1
    p, q = rng.standard_normal((2, 3, k)), rng.standard_normal((k, 1))
    close(cu(p) @ cu(q), p @ q, 1e-4)  # batched, B broadcast over the batch
    assert len(calls) == 2
    close(cu(h[:-1]).T @ cu(g[:-1]), h[:-1].T @ g[:-1], 1e-4)  # an odd k has no power-of-two piece
    assert len(calls) == 2


# ---------------------------------------------------------------------- autograd
def test_backward_matches_cpu() -> None:
    a, w, b = arr(3, 4), arr(4, 2), arr(2)

    def loss(device: str) -> tuple[np.ndarray, ...]:
        x = mt.tensor(a, device=device, requires_grad=True)
        wt = mt.tensor(w, device=device, requires_grad=True)
        bt = mt.tensor(b, device=device, requires_grad=True)
        h = (x @ wt + bt).sigmoid() * x.sum(1, keepdim=True)
        out = (h * h).mean() + x.T.max(1).values.sum()
        out.backward()
        return out.numpy(), x.grad.numpy(), wt.grad.numpy(), bt.grad.numpy(), x.grad.device

    *cpu, cpu_dev = loss("cpu")
    *gpu, gpu_dev = loss("cuda")
    assert (cpu_dev, gpu_dev) == ("cpu", "cuda")
    for got, expected in zip(gpu, cpu):
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_gradient_flows_across_devices() -> None:
    a = arr(2, 3)
    x = mt.tensor(a, requires_grad=True)
    (x.to("cuda") * 3.0).sum().backward()
    assert x.grad.device == "cpu"
    np.testing.assert_allclose(x.grad.numpy(), np.full((2, 3), 3.0))


# ---------------------------------------------------------------------- interop
def test_cpu_numba_backend_unaffected_by_simulator() -> None:
    a, b = arr(3, 4), arr(4, 2)
    x = mt.tensor(a, device="numba")
    np.testing.assert_allclose((x @ mt.tensor(b)).numpy(), a @ b, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose((x + x).sum(0).numpy(), (a + a).sum(0), rtol=1e-5)


def test_cuda_array_interface_under_simulator() -> None:
    if not _sim():
        pytest.skip("simulator-only behaviour")
    x = cu(arr(2, 3))
    with pytest.raises(RuntimeError, match="real GPU"):
        _ = x.__cuda_array_interface__
    assert not hasattr(x, "__cuda_array_interface__")  # the error is also an AttributeError


@pytest.mark.skipif(_sim(), reason="numba's CUDA simulator has no device pointers (__cuda_array_interface__)")
def test_cuda_array_interface_zero_copy() -> None:
    from numba import cuda

    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    x = cu(a)
    view = x[1:, 1::2].T  # offset, strided, transposed
    iface = view.__cuda_array_interface__
    assert iface["version"] == 3 and iface["typestr"] == "<f4"
    assert iface["shape"] == (2, 2) and iface["strides"] == (8, 16)
    base = x.__cuda_array_interface__["data"][0]
    assert iface["data"] == (base + 5 * 4, False)
    np.testing.assert_array_equal(cuda.as_cuda_array(view).copy_to_host(), a[1:, 1::2].T)

    dev = cuda.to_device(np.arange(6, dtype=np.float64).reshape(2, 3))
    t = mt.tensor(dev)  # wraps, no copy
    assert t.device == "cuda" and t.shape == (2, 3) and t.dtype == np.float64
    dev[0, 0] = 100.0
    assert t.numpy()[0, 0] == 100.0
    close(t.T * 2, dev.copy_to_host().T * 2)
    ints = mt.tensor(cuda.to_device(np.arange(4, dtype=np.int32)))  # converted on the device
    assert ints.dtype == np.int64
    close(ints, np.arange(4))
