"""gather, scatter, scatter_add and masked_fill (issue 10, indexing) against PyTorch on every backend,
values and gradients, plus hand-computed cases and the errors, which hold without PyTorch."""

from __future__ import annotations

import numpy as np
import pytest

import minitorch_edu as mt

try:
    import torch
except ImportError:
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch not installed (pip install -e '.[bench]')")
RNG = np.random.default_rng(0)
X = RNG.normal(size=(3, 4, 5))
# (dim, index shape): the index may be smaller than the input on every dim, and along dim
CASES = [(0, (2, 4, 5)), (1, (3, 6, 5)), (2, (3, 4, 2)), (-1, (2, 3, 7)), (1, (1, 2, 3))]


def _index(dim: int, shape: tuple[int, ...], unique: bool = False) -> np.ndarray:
    n = X.shape[dim]
    if not unique:
        return RNG.integers(0, n, size=shape)
    # distinct places along dim for each line (scatter's result is then defined)
    out = np.empty(shape, dtype=np.int64)
    moved = np.moveaxis(out, dim, -1)
    for pos in np.ndindex(moved.shape[:-1]):
        moved[pos] = RNG.permutation(n)[: moved.shape[-1]]
    return out


def _pair(a: np.ndarray, backend: str, dtype: str = "float64"):
    return (mt.tensor(a, dtype=dtype, device=backend, requires_grad=True),
            torch.tensor(a, dtype=getattr(torch, dtype), requires_grad=True))


@needs_torch
@pytest.mark.parametrize("dim,shape", CASES)
def test_gather_values_and_gradient_match_pytorch(backend, dim, shape):
    index = _index(dim, shape)
    x, tx = _pair(X, backend)
    out, tout = x.gather(dim, mt.tensor(index, device=backend)), tx.gather(dim, torch.tensor(index))
    np.testing.assert_array_equal(out.numpy(), tout.detach().numpy())
    g = RNG.normal(size=shape)
    out.backward(mt.tensor(g, dtype="float64", device=backend))
    tout.backward(torch.tensor(g))
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)


@needs_torch
@pytest.mark.parametrize("dim,shape", [c for c in CASES if c[1][c[0]] <= X.shape[c[0]]])
@pytest.mark.parametrize("op", ["scatter", "scatter_add"])
def test_scatter_values_and_gradients_match_pytorch(backend, dim, shape, op):
    index = _index(dim, shape, unique=op == "scatter")
    src0 = RNG.normal(size=shape)
    x, tx = _pair(X, backend)
    src, tsrc = _pair(src0, backend)
    out = getattr(x, op)(dim, mt.tensor(index, device=backend), src)
    tout = getattr(tx, op)(dim, torch.tensor(index), tsrc)
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=1e-12)
    g = RNG.normal(size=X.shape)
    out.backward(mt.tensor(g, dtype="float64", device=backend))
    tout.backward(torch.tensor(g))
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(src.grad.numpy(), tsrc.grad.numpy(), rtol=1e-12)


@needs_torch
def test_masked_fill_matches_pytorch(backend):
    x, tx = _pair(X, backend, "float32")
    mask = X > 0.3
    out = x.masked_fill(mt.tensor(X, device=backend) > 0.3, -2.5)
    tout = tx.masked_fill(torch.tensor(mask), -2.5)
    np.testing.assert_array_equal(out.numpy(), tout.detach().numpy())
    out.sum().backward()
    tout.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())


def test_by_hand_without_pytorch(backend):
    x = mt.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], device=backend, requires_grad=True)
    index = mt.tensor([[2, 0], [1, 1]], device=backend)
    got = x.gather(1, index)
    np.testing.assert_array_equal(got.numpy(), [[3.0, 1.0], [5.0, 5.0]])
    got.sum().backward()  # gather's gradient adds up where an element was picked twice
    np.testing.assert_array_equal(x.grad.numpy(), [[1.0, 0.0, 1.0], [0.0, 2.0, 0.0]])
    z = mt.zeros(2, 3, device=backend)
    np.testing.assert_array_equal(z.scatter_add(1, index, mt.ones(2, 2, device=backend)).numpy(),
                                  [[1.0, 0.0, 1.0], [0.0, 2.0, 0.0]])
    np.testing.assert_array_equal(z.scatter(1, index, 9.0).numpy(), [[9.0, 0.0, 9.0], [0.0, 9.0, 0.0]])
    # scatter along dim 0: out[index[i][j]][j] = src[i][j]
    np.testing.assert_array_equal(
        z.scatter(0, mt.tensor([[1, 0, 1]], device=backend), mt.tensor([[7.0, 8.0, 9.0]], device=backend)).numpy(),
        [[0.0, 8.0, 0.0], [7.0, 0.0, 9.0]])
    np.testing.assert_array_equal(x.detach().masked_fill(x.detach() > 4, 0.0).numpy(), [[1, 2, 3], [4, 0, 0]])


def test_gather_is_exact_with_inf_and_nan(backend):
    x = mt.tensor([[np.inf, -np.inf, np.nan, 1.5]], device=backend)
    got = x.gather(1, mt.tensor([[3, 0, 1, 2, 3]], device=backend)).numpy()
    np.testing.assert_array_equal(got, [[1.5, np.inf, -np.inf, np.nan, 1.5]])


def test_errors_name_the_op_and_shapes(backend):
    x = mt.tensor(X, device=backend)
    with pytest.raises(RuntimeError, match=r"gather\(\): Expected dtype int64 for index, got float32"):
        x.gather(1, mt.tensor(np.zeros((3, 4, 5)), dtype="float32", device=backend))
    with pytest.raises(RuntimeError, match=r"gather\(\): index 4 is out of bounds for dimension 1 with size 4"):
        x.gather(1, mt.tensor(np.full((3, 1, 5), 4), device=backend))
    with pytest.raises(RuntimeError, match=r"gather\(\): index -1 is out of bounds"):
        x.gather(1, mt.tensor(np.full((3, 1, 5), -1), device=backend))
    with pytest.raises(RuntimeError, match=r"same number of dimensions.*index \(3, 4\), input \(3, 4, 5\)"):
        x.gather(1, mt.tensor(np.zeros((3, 4), dtype=np.int64), device=backend))
    with pytest.raises(RuntimeError, match=r"scatter\(\): Size does not match at dimension 0"):
        x.scatter(1, mt.tensor(np.zeros((4, 1, 5), dtype=np.int64), device=backend), 1.0)
    with pytest.raises(RuntimeError, match="0-dimensional value tensor"):
        x.masked_fill(x > 0, mt.tensor([1.0, 2.0], device=backend))
