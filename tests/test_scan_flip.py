"""cumsum and flip: the fused Backend entries, against NumPy on every backend.

The numba backend registers one-pass loops (`backends.numba.scan`); a backend without them runs
`backends.composed` (Hillis and Steele's scan, a slice-by-slice copy). Both are checked here against
NumPy (in float64), against each other, and the numba backend is shown to run its own kernels (the
same `sys.setprofile` trace as tests/test_backend_dispatch.py). Each layout numba's cumsum picks
(one line per task, column blocks, chunks of a long line; serial and parallel) is called directly.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import minitorch_edu as mt
from minitorch_edu.backends import composed, python
from minitorch_edu.backends.numba import cpu as numba_cpu
from minitorch_edu.backends.numba import scan as numba_scan

TOL = {"float32": dict(rtol=1e-5, atol=1e-5), "float64": dict(rtol=1e-12, atol=1e-12)}
SHAPES_DIMS = [((7,), 0), ((3, 5), 0), ((3, 5), 1), ((2, 3, 4), 1), ((2, 3, 4), -1), ((4, 1, 3), 1), ((1, 6), 0),
               ((2, 9, 3), 0)]


def np_cumsum(x: np.ndarray, dim: int, reverse: bool = False) -> np.ndarray:
    """The running sum in float64 (int64 stays int64), from the end when `reverse`."""
    x = x.astype(np.float64) if x.dtype.kind == "f" else x
    return np.flip(np.cumsum(np.flip(x, dim), dim), dim) if reverse else np.cumsum(x, dim)


def data(shape: tuple[int, ...], dtype: str, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if dtype == "int64":
        return rng.integers(-20, 20, shape)
    return rng.standard_normal(shape) * 3


def check(got: mt.Tensor, expected: np.ndarray, dtype: str) -> None:
    assert got.dtype == np.dtype(dtype) and got.shape == expected.shape
    if dtype == "int64":
        np.testing.assert_array_equal(got.numpy(), expected)
    else:
        np.testing.assert_allclose(got.numpy(), expected, **TOL[dtype], equal_nan=True)


# ---------------------------------------------------------------------- cumsum on every backend
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
@pytest.mark.parametrize(("shape", "dim"), SHAPES_DIMS)
def test_cumsum_matches_numpy(backend, dtype, shape, dim):
    x = data(shape, dtype)
    t = mt.tensor(x, dtype=dtype, device=backend)
    expected = np_cumsum(x.astype(dtype), dim)
    check(t.cumsum(dim), expected, dtype)
    # a permuted (non-contiguous) view and a sliced one
    perm = tuple(reversed(range(len(shape))))
    check(t.permute(*perm).cumsum(dim), np_cumsum(x.astype(dtype).transpose(perm), dim), dtype)
    check(t[..., 1:].cumsum(dim), np_cumsum(x.astype(dtype)[..., 1:], dim), dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(("shape", "dim"), SHAPES_DIMS)
def test_cumsum_backward_is_the_running_sum_of_the_gradient_from_the_end(backend, dtype, shape, dim):
    x = mt.tensor(data(shape, dtype), dtype=dtype, device=backend, requires_grad=True)
    w = data(shape, "float64", seed=1)
    (x.cumsum(dim) * mt.tensor(w, dtype=dtype, device=backend)).sum().backward()
    check(x.grad, np_cumsum(w.astype(dtype), dim, reverse=True), dtype)
    # an upstream gradient that is a broadcast (stride 0): element i gets n - i
    x.grad = None
    x.cumsum(dim).sum().backward()
    n = shape[dim]
    along = [1] * len(shape)
    along[dim] = n
    check(x.grad, np.broadcast_to((n - np.arange(n)).reshape(along), shape).astype(np.float64), dtype)


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # inf + -inf, in the python kernels
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_cumsum_propagates_nan_and_inf_like_numpy(backend, dtype):
    inf, nan = np.inf, np.nan
    x = np.array([[1.0, nan, 2.0, 3.0], [inf, 1.0, -inf, 2.0], [1.0, 2.0, inf, 4.0]])
    t = mt.tensor(x, dtype=dtype, device=backend, requires_grad=True)
    with np.errstate(invalid="ignore"):
        for dim in (0, 1):
            check(t.cumsum(dim), np_cumsum(x.astype(dtype), dim), dtype)
    # the gradient does not see the values: it is finite
    w = np.arange(12.0).reshape(3, 4)
    (t.cumsum(1) * mt.tensor(w, dtype=dtype, device=backend)).sum().backward()
    check(t.grad, np_cumsum(w, 1, reverse=True), dtype)


def test_cumsum_gradient_matches_finite_differences(backend):
    x = mt.tensor(data((3, 4), "float64"), dtype="float64", device=backend)
    w = mt.tensor(data((3, 4), "float64", seed=2), dtype="float64", device=backend)
    for dim in (0, 1, -1):
        assert mt.grad_check(lambda a, d=dim: a.cumsum(d) * w, x)
        assert mt.grad_check(lambda a, d=dim: a.flip(d).cumsum(d) * w, x)


def test_empty_and_zero_d_cumsum_and_flip(backend):
    for shape in ((0,), (0, 3), (3, 0)):
        e = mt.zeros(*shape, device=backend)
        for dim in range(len(shape)):
            assert e.cumsum(dim).shape == shape and e.flip(dim).shape == shape
    s = mt.tensor(2.5, device=backend, requires_grad=True)
    assert s.cumsum(0).shape == () and s.cumsum(0).item() == 2.5
    assert s.flip(0).shape == () and s.flip(()).item() == 2.5
    s.cumsum(-1).backward()
    assert s.grad.item() == 1.0


# ---------------------------------------------------------------------- flip on every backend
FLIP_DIMS = [(0,), (1,), (2,), (0, 1), (0, 2), (2, 1), (0, 1, 2), (-1,), (-3, -1), ()]


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
@pytest.mark.parametrize("dims", FLIP_DIMS)
def test_flip_matches_numpy(backend, dtype, dims):
    x = data((3, 4, 5), dtype).astype(dtype)
    t = mt.tensor(x, dtype=dtype, device=backend)
    for view, expected in ((t, x), (t.permute(2, 0, 1), x.transpose(2, 0, 1)), (t[:, 1:, ::2], x[:, 1:, ::2])):
        got = view.flip(dims)
        assert got.dtype == np.dtype(dtype) and got.shape == expected.shape
        np.testing.assert_array_equal(got.numpy(), np.flip(expected, dims) if dims else expected)


@pytest.mark.parametrize("dims", [(0,), (1,), (0, 1), (-1, 0)])
def test_flip_backward_flips_the_gradient_back(backend, dims):
    x = mt.tensor(data((4, 3), "float64"), dtype="float64", device=backend, requires_grad=True)
    w = data((4, 3), "float64", seed=3)
    (x.flip(dims) * mt.tensor(w, dtype="float64", device=backend)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.flip(w, dims))


def test_flip_keeps_nan_and_inf_in_place(backend):
    x = np.array([[np.nan, 1.0, np.inf], [-np.inf, 2.0, 3.0]])
    got = mt.tensor(x, device=backend).flip((0, 1)).numpy()
    np.testing.assert_array_equal(got, np.flip(x, (0, 1)).astype(np.float32))


# ---------------------------------------------------------------------- numba's kernels, layout by layout
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
@pytest.mark.parametrize(
    ("shape", "dim"),
    [
        ((5,), 0),  # one short line
        ((40, 1000), 1),  # lines, parallel
        ((1000, 40), 0),  # column blocks, parallel
        ((3, 7), 0),  # column blocks, serial
        ((1, 300000), 1),  # one long line: chunks, when there are two threads or more
        ((6, 20000), 1),  # a few long lines
        ((3, 50, 300), 1),  # a middle dim: column blocks below an outer dim
    ],
)
def test_numba_cumsum_layouts_match_numpy(shape, dim, dtype, reverse):
    x = data(shape, dtype, seed=4).astype(dtype)
    flat, strides = x.reshape(-1), mt.tensor(x).stride()
    out = np.full(x.size, -7, x.dtype)
    numba_scan.cumsum(out, strides, flat, strides, shape, dim, reverse)
    expected = np_cumsum(x, dim, reverse)
    if dtype == "int64":
        np.testing.assert_array_equal(out.reshape(shape), expected)
    else:
        np.testing.assert_allclose(out.reshape(shape), expected, rtol=1e-6, atol=1e-5)
    # the transposed layout of the same numbers (the summed dim strided, the lines contiguous)
    xt = np.ascontiguousarray(x.T)
    out_t = np.empty(x.size, x.dtype)
    numba_scan.cumsum(out_t, mt.tensor(x).stride(), xt.reshape(-1), tuple(reversed(mt.tensor(xt).stride())), shape,
                      dim, reverse)
    np.testing.assert_array_equal(out_t, out)


@pytest.mark.parametrize("reverse", [False, True])
def test_numba_chunked_and_blocked_cumsum_with_tiny_pieces(reverse):
    """The chunk and block kernels called directly with pieces of a few elements: every seam counts."""
    x = np.random.default_rng(5).standard_normal((3, 101))
    out = np.empty(x.size)
    zero = np.float64(0.0)
    for chunk in (1, 7, 100, 101, 200):
        chunks = -(-101 // chunk)
        numba_scan.cumsum_chunks(out, (101,), x.reshape(-1), (101,), (3,), 101, 1, 1, reverse, zero, chunk, chunks, 3)
        np.testing.assert_allclose(out.reshape(3, 101), np_cumsum(x, 1, reverse), rtol=1e-12, atol=1e-12)
    xt = np.ascontiguousarray(x.T)  # (101, 3): the sum runs down the columns
    for block in (1, 2, 3, 5):
        tasks = -(-3 // block)
        numba_scan.cumsum_columns_serial(out, (1,), xt.reshape(-1), (1,), (3,), 101, 3, 3, reverse, zero, block, tasks)
        np.testing.assert_allclose(out.reshape(101, 3), np_cumsum(xt, 0, reverse), rtol=1e-12, atol=1e-12)


def _counted_backend(name: str, fused: dict[str, Any] | None = None, fast: bool = False) -> tuple[mt.Backend, Counter]:
    """The python (or numba, `fast`) backend's four primitives, each call counted, plus `fused`."""
    calls: Counter[str] = Counter()
    source = numba_cpu if fast else python

    def counted(kind: str, factory: Any) -> Any:
        def make(fn: Any) -> Any:
            kernel = factory(fn)

            def run(*args: Any) -> None:
                calls[kind] += 1
                kernel(*args)

            return run

        return make

    backend = mt.Backend(
        name, map=counted("map", source.tensor_map), zip=counted("zip", source.tensor_zip),
        reduce=counted("reduce", source.tensor_reduce), matmul=source.tensor_matmul, **(fused or {}),
    )
    return mt.register_backend(backend), calls


def test_float32_running_sums_are_accurate_on_numba_and_composed():
    """2^20 times 0.1f: a float32 accumulator ends near 1.0e5 * 1.009 (every add rounds at the
    running sum's scale); float64 accumulation (numba) and the balanced tree of the composed scan
    (Hillis and Steele) keep it to ~1e-7."""
    n = 1 << 20
    exact = np.cumsum(np.full(n, np.float32(0.1)).astype(np.float64))
    composed_backend, _ = _counted_backend("numba-primitives-accuracy", fast=True)
    for device, rtol in (("numba", 2e-7), (composed_backend.name, 2e-6)):
        for shape, dim in (((n,), 0), ((n // 8, 8), 0), ((8, n // 8), 1)):
            t = mt.full(shape, 0.1, dtype="float32", device=device)
            got = t.cumsum(dim).numpy().astype(np.float64)
            m = shape[dim]
            want = np.moveaxis(np.broadcast_to(exact[:m].reshape(-1, 1), (m, t.numel() // m)), 0, dim).reshape(shape)
            np.testing.assert_allclose(got, want, rtol=rtol, err_msg=f"{device} {shape} dim {dim}")
    naive = np.cumsum(np.full(n, np.float32(0.1)), dtype=np.float32)  # the test bites: float32 running sums drift
    assert abs(naive[-1] / exact[-1] - 1) > 1e-3


# ---------------------------------------------------------------------- which kernels run
BACKENDS_DIR = Path(mt.__file__).parent / "backends"
FAST_FILES = {str(p) for folder in ("numba", "cuda") for p in (BACKENDS_DIR / folder).glob("*.py")}
COMPOSED_FILE = str(BACKENDS_DIR / "composed.py")


def traced(fn: Any) -> tuple[Any, set[str]]:
    """fn()'s result and the kernel-module functions (fast ones and composed defaults) that ran."""
    seen: set[str] = set()

    def profiler(frame: Any, event: str, arg: Any) -> None:
        name = frame.f_code.co_filename
        if event == "call" and (name in FAST_FILES or name == COMPOSED_FILE):
            path = Path(name)
            seen.add(f"{path.parent.name}/{path.name}:{frame.f_code.co_name}")

    sys.setprofile(profiler)
    try:
        result = fn()
    finally:
        sys.setprofile(None)
    return result, seen


def _forward_backward(device: str) -> tuple[np.ndarray, np.ndarray]:
    x = mt.tensor(data((5, 6), "float64"), dtype="float64", device=device, requires_grad=True)
    w = mt.tensor(data((5, 6), "float64", seed=6), dtype="float64", device=device)
    y = x.cumsum(1).flip((0, 1)).cumsum(0)
    (y * w).sum().backward()
    return y.numpy(), x.grad.numpy()


def test_numba_runs_its_own_cumsum_and_flip_kernels():
    assert {"cumsum", "flip"} <= set(mt.get_backend("numba").fused_kernels)
    assert mt.get_backend("python").fused_kernels == ()
    _, seen = traced(lambda: _forward_backward("numba"))
    assert {"numba/scan.py:cumsum", "numba/scan.py:flip"} <= seen
    assert not any(s.startswith("backends/composed.py:") for s in seen), sorted(seen)


def test_a_primitives_only_backend_composes_cumsum_and_flip_and_agrees_with_numba():
    backend, calls = _counted_backend("counting-scan-flip")
    (y, g), seen = traced(lambda: _forward_backward(backend.name))
    assert {"backends/composed.py:cumsum", "backends/composed.py:scan", "backends/composed.py:flip"} <= seen
    assert not any(s.startswith(("numba_", "cuda")) for s in seen), sorted(seen)
    assert calls["zip"] > 0 and calls["map"] > 0
    y_ref, g_ref = _forward_backward("numba")
    np.testing.assert_allclose(y, y_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(g, g_ref, rtol=1e-12, atol=1e-12)


def test_a_backend_may_register_its_own_cumsum():
    """A learner's own cumsum replaces that entry only: CumSum runs it forward and backward."""
    used = []

    def learner_cumsum(out, out_strides, a, a_strides, shape, dim, reverse):  # noqa: ANN001
        used.append(reverse)
        composed.cumsum(python.python_backend, out, out_strides, a, a_strides, shape, dim, reverse)

    backend, _ = _counted_backend("primitives-plus-cumsum", fused={"cumsum": learner_cumsum})
    assert backend.fused_kernels == ("cumsum",)
    x = mt.tensor([1.0, 2.0, 3.0], dtype="float64", device=backend, requires_grad=True)
    (x.cumsum(0) * mt.tensor([1.0, 10.0, 100.0], dtype="float64", device=backend)).sum().backward()
    assert used == [False, True]
    np.testing.assert_array_equal(x.grad.numpy(), [111.0, 110.0, 100.0])


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
@pytest.mark.parametrize(("shape", "dim"), [((33, 257), 0), ((33, 257), 1), ((2, 17, 9), 1), ((300,), 0)])
def test_the_composed_defaults_give_numbas_answers(dtype, shape, dim):
    """numba's primitives without its fused kernels (so the composed defaults run) against numba."""
    backend, calls = _counted_backend("numba-primitives", fast=True)
    x = data(shape, dtype, seed=7).astype(dtype)
    for reverse in (False, True):
        outs = []
        for b in (backend, mt.get_backend("numba")):
            out = np.empty(x.size, x.dtype)
            strides = mt.tensor(x).stride()
            b.cumsum(out, strides, x.reshape(-1), strides, shape, dim, reverse)
            outs.append(out)
        if dtype == "int64":
            np.testing.assert_array_equal(outs[0], outs[1])
        else:
            np.testing.assert_allclose(outs[0], outs[1], rtol=1e-5 if dtype == "float32" else 1e-12, atol=1e-5)
        np.testing.assert_allclose(outs[1].reshape(shape), np_cumsum(x, dim, reverse), rtol=1e-6, atol=1e-5)
    for dims in ((dim,), tuple(range(len(shape)))):
        flipped = [mt.tensor(x, dtype=dtype, device=b).flip(dims).numpy() for b in (backend.name, "numba")]
        np.testing.assert_array_equal(flipped[0], flipped[1])
        np.testing.assert_array_equal(flipped[1], np.flip(x, dims))
    assert calls["zip"] > 0 and calls["map"] > 0


@pytest.mark.skipif(not mt.backends.available("cuda"), reason="no CUDA (not even the simulator)")
def test_cuda_flips_in_one_kernel_and_composes_cumsum():
    cuda = mt.get_backend("cuda")
    assert "flip" in cuda.fused_kernels and "cumsum" not in cuda.fused_kernels
    (y, g), seen = traced(lambda: _forward_backward("cuda"))
    assert "cuda/backend.py:flip" in seen and "backends/composed.py:scan" in seen
    assert "backends/composed.py:flip" not in seen
    y_ref, g_ref = _forward_backward("numba")
    np.testing.assert_allclose(y, y_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(g, g_ref, rtol=1e-12, atol=1e-12)
