"""The extension point: a Backend built from a learner's own map / zip / reduce / matmul kernels.

The kernels below are written from scratch, as a learner would, following the contract in
`minitorch_edu/backends/base.py`; every tensor op and autograd then run on them, and the results
must match the numba backend. Deliberately broken kernels must give different results.
"""

from __future__ import annotations

import numpy as np
import pytest

import minitorch_edu as mt


def learner_index(ordinal, shape):
    index = []
    for size in reversed(shape):
        index.append(ordinal % size)
        ordinal //= size
    return index[::-1]


def learner_position(index, strides):
    position = 0
    for i, s in zip(index, strides):
        position += i * s
    return position


def learner_count(shape):
    n = 1
    for s in shape:
        n *= s
    return n


def learner_map(fn):
    def kernel(out, out_strides, a, a_strides, shape):
        for ordinal in range(learner_count(shape)):
            index = learner_index(ordinal, shape)
            out[learner_position(index, out_strides)] = fn(a[learner_position(index, a_strides)])

    return kernel


def learner_zip(fn):
    def kernel(out, out_strides, a, a_strides, b, b_strides, shape):
        for ordinal in range(learner_count(shape)):
            index = learner_index(ordinal, shape)
            x = a[learner_position(index, a_strides)]
            y = b[learner_position(index, b_strides)]
            out[learner_position(index, out_strides)] = fn(x, y)

    return kernel


def learner_reduce(fn):
    def kernel(out, out_strides, a, a_strides, a_shape, dim):
        out_shape = list(a_shape)
        out_shape[dim] = 1
        for ordinal in range(learner_count(out_shape)):
            index = learner_index(ordinal, out_shape)
            position = learner_position(index, out_strides)
            for j in range(a_shape[dim]):
                index[dim] = j
                out[position] = fn(out[position], a[learner_position(index, a_strides)])

    return kernel


def learner_matmul(out, out_strides, a, a_strides, b, b_strides, out_shape, k):
    for ordinal in range(learner_count(out_shape)):
        index = learner_index(ordinal, out_shape)
        *batch, i, j = index
        total = 0.0
        for r in range(k):
            total += a[learner_position([*batch, i, r], a_strides)] * b[learner_position([*batch, r, j], b_strides)]
        out[learner_position(index, out_strides)] = total


# the broken variants: each is a mistake learners make
def map_ignoring_strides(fn):
    def kernel(out, out_strides, a, a_strides, shape):
        for ordinal in range(learner_count(shape)):
            out[ordinal] = fn(a[ordinal])

    return kernel


def reduce_ignoring_start(fn):
    def kernel(out, out_strides, a, a_strides, a_shape, dim):
        out_shape = list(a_shape)
        out_shape[dim] = 1
        for ordinal in range(learner_count(out_shape)):
            index = learner_index(ordinal, out_shape)
            acc = 0.0  # should start from out[position]: wrong for max of negative numbers
            for j in range(a_shape[dim]):
                index[dim] = j
                acc = fn(acc, a[learner_position(index, a_strides)])
            out[learner_position(index[:dim] + [0] + index[dim + 1 :], out_strides)] = acc

    return kernel


def zip_without_broadcast(fn):
    def kernel(out, out_strides, a, a_strides, b, b_strides, shape):
        for ordinal in range(learner_count(shape)):
            index = learner_index(ordinal, shape)
            x = a[learner_position(index, a_strides)]
            y = b[min(ordinal, len(b) - 1)]  # treats b as contiguous: ignores stride-0 dims
            out[learner_position(index, out_strides)] = fn(x, y)

    return kernel


def make_backend(name, map=learner_map, zip=learner_zip, reduce=learner_reduce, matmul=learner_matmul):
    return mt.Backend(name, map=map, zip=zip, reduce=reduce, matmul=matmul)


def model(x, w, b):
    """Exercises map, zip with broadcasting, reductions along both dims, matmul and views."""
    h = (x @ w + b).relu() + x.T.tanh().T[:, 1:3] + x.T.sum(0, keepdim=True).T
    return (h.log_softmax(-1) * h.max(0, keepdim=True).values.exp()).mean() + (h * h).sum(1).sqrt().sum()


def run(backend, arrays):
    tensors = [mt.tensor(a, dtype="float64", device=backend, requires_grad=True) for a in arrays]
    out = model(*tensors)
    out.backward()
    return out.item(), [t.grad.numpy() for t in tensors]


@pytest.fixture(scope="module")
def arrays():
    rng = np.random.default_rng(0)
    return [rng.standard_normal((3, 4)) - 0.3, rng.standard_normal((4, 2)), rng.standard_normal(2)]


def assert_same_as_numba(backend, arrays):
    value, grads = run(backend, arrays)
    ref_value, ref_grads = run("numba", arrays)
    np.testing.assert_allclose(value, ref_value, rtol=1e-10)
    for g, r in zip(grads, ref_grads):
        np.testing.assert_allclose(g, r, rtol=1e-10, atol=1e-12)


def test_learner_backend_matches_numba(arrays):
    backend = make_backend("learner")
    x = mt.tensor(arrays[0], device=backend)
    assert x.backend is backend and x.device == "cpu"
    assert_same_as_numba(backend, arrays)
    mt.grad_check(model, *(mt.tensor(a, dtype="float64", device=backend) for a in arrays))


def test_registered_learner_backend_is_reachable_by_name(arrays):
    backend = mt.register_backend(make_backend("learner-registered"))
    assert mt.get_backend("learner-registered") is backend
    t = mt.tensor([1.0, 2.0], device="numba").to("learner-registered")
    assert t.backend is backend
    np.testing.assert_allclose((t * t).sum().item(), 5.0)
    assert_same_as_numba("learner-registered", arrays)


def test_kernels_are_built_once_per_scalar_function():
    calls = []

    def counting_map(fn):
        calls.append(fn)
        return learner_map(fn)

    backend = make_backend("counting", map=counting_map)
    x = mt.tensor([1.0, -2.0], device=backend)
    for _ in range(3):
        x.exp()
        (-x).exp()
    assert len(calls) == len(set(calls)) == 2  # exp and neg, each compiled once


@pytest.mark.parametrize(
    "broken",
    [
        {"map": map_ignoring_strides},
        {"reduce": reduce_ignoring_start},
        {"zip": zip_without_broadcast},
    ],
    ids=["map_ignoring_strides", "reduce_ignoring_start", "zip_without_broadcast"],
)
def test_a_broken_learner_kernel_is_caught(arrays, broken):
    backend = make_backend("broken-" + next(iter(broken.values())).__name__, **broken)
    with pytest.raises(AssertionError):
        assert_same_as_numba(backend, arrays)
