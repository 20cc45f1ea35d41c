"""Boolean masks and integer indices select exactly, with nan, inf and huge values (issue 10).

Selection is a one-hot matrix times the rows, and 0 * nan = 0 * inf = nan: a plain product would
turn every selected value into nan as soon as one row held a non-finite value. Each test checks
hand-computed values (bit-exact, nan where nan), and PyTorch's answer when it is installed.
"""

from __future__ import annotations

import numpy as np
import pytest

import minitorch_edu as mt

try:
    import torch
except ImportError:  # the hand-computed values still check everything
    torch = None

NAN, INF = float("nan"), float("inf")
# non-finite values and finite ones that overflow when multiplied or summed carelessly
VALUES = [1.5, NAN, -2.0, INF, -INF, 3e38, -3e38, 0.0]


def exact(got: mt.Tensor, expected) -> None:
    """The same values bit for bit (nan where nan), in float32."""
    want = np.asarray(expected, dtype=np.float32)
    assert got.dtype == np.float32
    assert got.shape == want.shape, f"shape {got.shape}, expected {want.shape}"
    np.testing.assert_array_equal(got.numpy(), want)


def torch_agrees(fn, expected) -> None:
    if torch is not None:
        np.testing.assert_array_equal(np.asarray(fn(torch)), np.asarray(expected, dtype=np.float32))


def test_a_1d_mask_selects_nan_inf_and_huge_values_exactly(backend: str) -> None:
    x = mt.tensor(VALUES, device=backend)
    keep = [True, True, False, True, True, True, False, True]
    want = [v for v, k in zip(VALUES, keep) if k]
    exact(x[np.array(keep)], want)
    exact(x[mt.tensor(np.array(keep, dtype=np.float32), device=backend) > 0], want)
    exact(x[x != 0], [1.5, NAN, -2.0, INF, -INF, 3e38, -3e38])  # nan != 0 is true
    exact(x[x > 1], [1.5, INF, 3e38])
    torch_agrees(lambda t: t.tensor(VALUES)[t.tensor(VALUES) > 1], [1.5, INF, 3e38])


def test_a_full_shape_2d_mask_selects_row_major(backend: str) -> None:
    grid = np.array(VALUES, dtype=np.float32).reshape(2, 4)
    x = mt.tensor(grid, device=backend)
    mask = np.array([[True, False, True, True], [False, True, True, False]])
    exact(x[mask], grid[mask])  # [1.5, -2, inf, -3e38... in row-major order]
    exact(x[x < 0], [-2.0, -INF, -3e38])
    torch_agrees(lambda t: t.tensor(grid)[t.tensor(mask)], grid[mask])


def test_a_leading_dims_mask_selects_whole_rows(backend: str) -> None:
    grid = np.array(VALUES, dtype=np.float32).reshape(4, 2)  # rows: [1.5, nan] [-2, inf] [-inf, 3e38] [-3e38, 0]
    x = mt.tensor(grid, device=backend)
    rows = np.array([True, False, True, True])
    exact(x[rows], grid[rows])
    cube = mt.tensor(np.array(VALUES, dtype=np.float32).reshape(2, 2, 2), device=backend)
    exact(cube[np.array([[False, True], [True, False]])], [[-2.0, INF], [-INF, 3e38]])
    torch_agrees(lambda t: t.tensor(grid)[t.tensor(rows)], grid[rows])


def test_integer_indices_select_non_finite_rows_exactly(backend: str) -> None:
    x = mt.tensor(VALUES, device=backend)
    exact(x[mt.tensor([0, 3, 3, -1, 1], device=backend)], [1.5, INF, INF, 0.0, NAN])
    exact(mt.index_select(mt.tensor(np.array(VALUES, dtype=np.float32).reshape(2, 4), device=backend), 1,
                          mt.tensor([2, 0], device=backend)), [[-2.0, 1.5], [-3e38, -INF]])
    emb = mt.nn.Embedding(3, 2, device=backend)
    with mt.no_grad():
        emb.weight.copy_(mt.tensor([[NAN, 1.0], [2.0, 3.0], [INF, -INF]], device=backend))
    exact(emb(mt.tensor([[1, 2], [1, 1]], device=backend)), [[[2.0, 3.0], [INF, -INF]], [[2.0, 3.0], [2.0, 3.0]]])


def test_all_finite_values_keep_the_fast_path_exact(backend: str) -> None:
    x = mt.tensor([3e38, -3e38, 1e-38, 7.0], device=backend)  # 0 * 3e38 is 0: a plain product is exact
    exact(x[x != 7], [3e38, -3e38, 1e-38])


def test_the_gradient_of_a_mask_selection_scatters_back(backend: str) -> None:
    x = mt.tensor(VALUES, device=backend, requires_grad=True)
    picked = x[np.array([True, True, False, True, True, False, False, True])]
    weights = [2.0, 3.0, 5.0, 7.0, 11.0]
    (picked * mt.tensor(weights, device=backend)).sum().backward()
    want = [2.0, 3.0, 0.0, 5.0, 7.0, 0.0, 0.0, 11.0]
    exact(x.grad, want)
    if torch is not None:
        t = torch.tensor(VALUES, requires_grad=True)
        (t[torch.tensor([True, True, False, True, True, False, False, True])] * torch.tensor(weights)).sum().backward()
        np.testing.assert_array_equal(t.grad.numpy(), np.asarray(want, dtype=np.float32))


def test_non_finite_gradients_reach_only_their_rows(backend: str) -> None:
    """Rows picked twice sum their gradients as IEEE does (inf + -inf = nan); the others stay finite."""
    base = [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]
    upstream = [[INF, 1.0], [-INF, 2.0], [NAN, 3.0], [4.0, 5.0]]
    index = [0, 0, 1, 2]
    x = mt.tensor(base, device=backend, requires_grad=True)
    x[mt.tensor(index, device=backend)].backward(mt.tensor(upstream, device=backend))
    want = [[NAN, 3.0], [NAN, 3.0], [4.0, 5.0]]
    exact(x.grad, want)
    m = mt.tensor(base, device=backend, requires_grad=True)
    m[np.array([False, True, True])].backward(mt.tensor([[INF, -1.0], [2.0, -INF]], device=backend))
    exact(m.grad, [[0.0, 0.0], [INF, -1.0], [2.0, -INF]])
    if torch is not None:
        t = torch.tensor(base, requires_grad=True)
        t[torch.tensor(index)].backward(torch.tensor(upstream))
        np.testing.assert_array_equal(t.grad.numpy(), np.asarray(want, dtype=np.float32))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_mask_gradient_matches_pytorch_on_random_data(backend: str, dtype: str) -> None:
    rng = np.random.default_rng(10)
    data = rng.normal(size=(4, 3, 5)).astype(dtype)
    data[0, 1, 2], data[3, 0, 0], data[2, 2, 4] = np.nan, np.inf, -np.inf
    mask = rng.random((4, 3)) > 0.4
    up = rng.normal(size=(int(mask.sum()), 5)).astype(dtype)
    x = mt.tensor(data, device=backend, requires_grad=True)
    out = x[mask]
    out.backward(mt.tensor(up, device=backend))
    np.testing.assert_array_equal(out.detach().numpy(), data[mask])
    want = np.zeros_like(data)
    want[mask] = up
    np.testing.assert_array_equal(x.grad.numpy(), want)
    if torch is not None:
        t = torch.tensor(data, requires_grad=True)
        t[torch.tensor(mask)].backward(torch.tensor(up))
        np.testing.assert_array_equal(x.grad.numpy(), t.grad.numpy())


def test_mask_assignment_writes_exactly(backend: str) -> None:
    x = mt.tensor(VALUES, device=backend)
    x[x != x] = 0.0  # the usual "replace nan" idiom
    exact(x, [1.5, 0.0, -2.0, INF, -INF, 3e38, -3e38, 0.0])
    x[np.array([True] * 4 + [False] * 4)] = NAN
    exact(x, [NAN, NAN, NAN, NAN, -INF, 3e38, -3e38, 0.0])
    rows = mt.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], device=backend)
    rows[np.array([True, False, True])] = mt.tensor([INF, -1.0], device=backend)  # broadcast over each row
    exact(rows, [[INF, -1.0], [3.0, 4.0], [INF, -1.0]])
    if torch is not None:
        t = torch.tensor(VALUES)
        t[t != t] = 0.0
        np.testing.assert_array_equal(t.numpy(), np.asarray([1.5, 0.0, -2.0, INF, -INF, 3e38, -3e38, 0.0], np.float32))


def test_mask_assignment_errors_name_the_shapes(backend: str) -> None:
    x = mt.zeros(3, 2, device=backend)
    with pytest.raises(IndexError, match=r"shape of the mask \(2,\) does not match .* \(3, 2\)"):
        x[np.array([True, False])] = 1.0
    with pytest.raises(RuntimeError, match=r"of shape \(2,\); got shape \(3,\)"):
        x[np.array([True, False, True])] = mt.tensor([1.0, 2.0, 3.0], device=backend)
    with pytest.raises(TypeError, match="boolean mask"):
        x[mt.tensor([0, 1], device=backend)] = 1.0
    w = mt.zeros(2, requires_grad=True, device=backend)
    with pytest.raises(RuntimeError, match="requires grad"):
        w[w > 0] = 1.0
