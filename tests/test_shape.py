"""Properties of shapes and strides (backends/shape.py), checked against NumPy's memory model."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from minitorch_edu.backends import shape as S

shapes = st.lists(st.integers(1, 4), min_size=0, max_size=4).map(tuple)


def positions(shape, strides):
    """Storage position of every index of `shape`, in row-major order."""
    return [S.index_to_position(i, strides) for i in itertools.product(*(range(s) for s in shape))]


@st.composite
def strided_arrays(draw, max_dims: int = 4):
    """A NumPy view of np.arange(n): permuted, sliced with steps, sometimes broadcast (stride 0)."""
    base_shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=max_dims)))
    a = np.arange(int(np.prod(base_shape)), dtype=np.int64).reshape(base_shape)
    a = a.transpose(draw(st.permutations(range(a.ndim))))
    a = a[tuple(slice(0, None, draw(st.integers(1, 2))) for _ in range(a.ndim))]
    if draw(st.booleans()):  # a broadcast dimension
        where = draw(st.integers(0, a.ndim))
        a = np.expand_dims(a, where)
        target = list(a.shape)
        target[where] = draw(st.integers(1, 3))
        a = np.broadcast_to(a, target)
    return a


def element_strides(a: np.ndarray) -> tuple[int, ...]:
    return tuple(s // a.itemsize for s in a.strides)


@st.composite
def factorisations(draw, n: int):
    """A shape with n elements: n split into random factors, with size-1 dims sprinkled in."""
    dims, rest = [], n
    while rest > 1:
        d = draw(st.sampled_from([k for k in range(2, rest + 1) if rest % k == 0]))
        dims.append(d)
        rest //= d
    for _ in range(draw(st.integers(0, 2))):
        dims.insert(draw(st.integers(0, len(dims))), 1)
    return tuple(draw(st.permutations(dims))) if dims else ()


@given(shapes)
def test_contiguous_strides_match_numpy(shape):
    expected = element_strides(np.zeros(shape, dtype=np.float64))
    assert S.contiguous_strides(shape) == expected
    assert S.is_contiguous(shape, S.contiguous_strides(shape))
    assert S.size_of(shape) == int(np.prod(shape))


def test_contiguous_strides_examples():
    assert S.contiguous_strides((2, 3, 4)) == (12, 4, 1)
    assert S.contiguous_strides(()) == ()
    assert S.contiguous_strides((3, 0, 2)) == (2, 2, 1)
    assert not S.is_contiguous((2, 3), (1, 2))
    assert S.is_contiguous((1, 3), (99, 1))  # a size-1 dim may have any stride


@given(shapes)
def test_to_index_and_position_roundtrip(shape):
    strides = S.contiguous_strides(shape)
    for ordinal in range(S.size_of(shape)):
        index = S.to_index(ordinal, shape)
        assert tuple(index) == tuple(int(i) for i in np.unravel_index(ordinal, shape))
        assert S.index_to_position(index, strides) == ordinal


@given(strided_arrays())
def test_index_to_position_matches_numpy_views(a):
    strides = element_strides(a)
    for index in itertools.product(*(range(s) for s in a.shape)):
        assert S.index_to_position(index, strides) == a[index]  # values are positions in np.arange


@given(st.lists(st.lists(st.integers(1, 3), max_size=4).map(tuple), min_size=1, max_size=3))
def test_broadcast_shapes_matches_numpy(shape_list):
    try:
        expected = np.broadcast_shapes(*shape_list)
    except ValueError:
        with pytest.raises(ValueError) as info:
            S.broadcast_shapes(*shape_list)
        for s in shape_list:
            assert str(tuple(s)) in str(info.value)
        return
    assert S.broadcast_shapes(*shape_list) == expected


def test_broadcast_shapes_error_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(4,\)"):
        S.broadcast_shapes((2, 3), (4,))
    assert S.broadcast_shapes((), (2, 1), (3,)) == (2, 3)


@given(strided_arrays(max_dims=3), st.lists(st.integers(1, 3), max_size=2), st.data())
def test_expand_strides_matches_numpy(a, lead, data):
    target = list(lead) + [s if s != 1 else data.draw(st.integers(1, 3)) for s in a.shape]
    expected = np.broadcast_to(a, target)
    got = S.expand_strides(a.shape, element_strides(a), target)
    assert len(got) == len(target)
    for index in itertools.product(*(range(s) for s in target)):
        assert S.index_to_position(index, got) == expected[index]  # values are positions in np.arange
    lead_n = len(target) - a.ndim
    for d, t in enumerate(target):
        if d < lead_n or (a.shape[d - lead_n] == 1 and t > 1):
            assert got[d] == 0, "a broadcast dimension must have stride 0"


def test_expand_strides_errors():
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        S.expand_strides((2, 3), (3, 1), (2, 4))
    with pytest.raises(ValueError):
        S.expand_strides((2, 3), (3, 1), (3,))
    assert S.expand_strides((1, 3), (3, 1), (5, 2, 3)) == (0, 0, 1)


@given(strided_arrays(), st.data())
def test_view_strides_agrees_with_numpy(a, data):
    new_shape = data.draw(factorisations(a.size))
    strides = S.view_strides(a.shape, element_strides(a), new_shape)
    try:
        expected = np.reshape(a, new_shape, copy=False)
    except ValueError:
        expected = None
    if expected is None:
        assert strides is None, f"{a.shape}/{a.strides} as {new_shape}: numpy needs a copy"
        return
    assert strides is not None, f"{a.shape}/{element_strides(a)} as {new_shape}: numpy views it"
    assert len(strides) == len(new_shape)
    for index in itertools.product(*(range(s) for s in new_shape)):
        assert S.index_to_position(index, strides) == expected[index]  # values are positions in np.arange


def test_view_strides_examples():
    assert S.view_strides((2, 3), (3, 1), (6,)) == (1,)
    assert S.view_strides((2, 3), (3, 1), (3, 2)) == (2, 1)
    assert S.view_strides((2, 3), (1, 2), (6,)) is None  # a transpose must be copied to flatten
    assert S.view_strides((2, 3), (1, 2), (2, 3, 1)) is not None
    assert S.view_strides((4, 3), (6, 2), (2, 2, 3)) == (12, 6, 2)  # split a strided dim
    assert S.view_strides((2, 3), (3, 1), (5,)) is None  # wrong number of elements


@given(st.lists(st.integers(1, 4), min_size=1, max_size=4).map(tuple), st.data())
def test_coalesce_preserves_every_position(shape, data):
    ops = []
    for _ in range(data.draw(st.integers(1, 3))):
        kind = data.draw(st.sampled_from(["contiguous", "permuted", "broadcast", "stepped"]))
        if kind == "contiguous":
            ops.append(S.contiguous_strides(shape))
        elif kind == "permuted":
            perm = data.draw(st.permutations(range(len(shape))))
            base = S.contiguous_strides([shape[p] for p in perm])
            strides = [0] * len(shape)
            for k, p in enumerate(perm):
                strides[p] = base[k]
            ops.append(tuple(strides))
        elif kind == "broadcast":
            zero = data.draw(st.lists(st.booleans(), min_size=len(shape), max_size=len(shape)))
            ops.append(tuple(0 if z else st_ for z, st_ in zip(zero, S.contiguous_strides(shape))))
        else:
            steps = data.draw(st.lists(st.integers(1, 3), min_size=len(shape), max_size=len(shape)))
            big = S.contiguous_strides([s * k for s, k in zip(shape, steps)])
            ops.append(tuple(b * k for b, k in zip(big, steps)))
    new_shape, new_strides = S.coalesce(shape, *ops)
    assert S.size_of(new_shape) == S.size_of(shape)
    assert len(new_strides) == len(ops)
    before = list(zip(*(positions(shape, s) for s in ops)))
    after = list(zip(*(positions(new_shape, s) for s in new_strides)))
    assert after == before
    if all(s == S.contiguous_strides(shape) for s in ops):
        assert len(new_shape) == 1  # contiguous operands become one flat dimension


def test_coalesce_examples():
    assert S.coalesce((2, 3, 4), (12, 4, 1)) == ((24,), ((1,),))
    assert S.coalesce((1, 1), (5, 7)) == ((1,), ((0,),))
    assert S.coalesce((2, 3), (3, 1), (1, 2)) == ((2, 3), ((3, 1), (1, 2)))
    # remembered (the ops of a training step repeat their shapes), and the same answer for a list
    assert S.coalesce((2, 3, 4), (12, 4, 1)) is S.coalesce((2, 3, 4), (12, 4, 1))
    assert S.coalesce([2, 3, 4], [12, 4, 1]) == ((24,), ((1,),))


def test_infer_shape_and_normalize_dim():
    assert S.infer_shape((2, -1), 6) == (2, 3)
    with pytest.raises(ValueError, match="only one"):
        S.infer_shape((-1, -1), 6)
    with pytest.raises(ValueError, match="invalid for 6"):
        S.infer_shape((4, -1), 6)
    with pytest.raises(ValueError):
        S.infer_shape((5,), 6)
    assert S.normalize_dim(-1, 3) == 2
    assert S.normalize_dim(0, 0) == 0
    with pytest.raises(IndexError, match="out of range"):
        S.normalize_dim(3, 3)
    with pytest.raises(IndexError):
        S.normalize_dim(-4, 3)


@given(shapes)
def test_infer_shape_with_minus_one(shape):
    assume(len(shape) >= 1)
    n = S.size_of(shape)
    for d in range(len(shape)):
        request = shape[:d] + (-1,) + shape[d + 1 :]
        assert S.infer_shape(request, n) == shape
