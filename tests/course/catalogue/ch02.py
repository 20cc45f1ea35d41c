"""Wrong solutions for chapter 02 (tensors): the mistakes learners make with strides and broadcasting."""

SLUG = "02_tensors"

WRONG = {
    "index_to_position": {
        "strides_reversed": """
def index_to_position(index, strides):
    return sum(i * s for i, s in zip(index, reversed(strides)))
""",
        "adds_instead_of_multiplying": """
def index_to_position(index, strides):
    return sum(index) + sum(strides) - len(strides)
""",
        "row_major_assumed": """
def index_to_position(index, strides):
    # ignores the strides given: assumes a contiguous layout with the last stride 1
    position = 0
    for i, s in zip(index, strides):
        position = position * (s if s else 1) + i
    return position
""",
        "last_stride_assumed_one": """
def index_to_position(index, strides):
    # treats the last dim as contiguous: wrong for a transposed view
    return sum(i * s for i, s in zip(index[:-1], strides[:-1])) + index[-1]
""",
        "delegates_to_reference": """
def index_to_position(index, strides):
    from minitorch_edu.backends.shape import index_to_position as reference
    return reference(index, strides)
""",
    },
    "to_index": {
        "column_major": """
def to_index(ordinal, shape):
    index = [0] * len(shape)
    for d in range(len(shape)):
        ordinal, index[d] = divmod(ordinal, shape[d])
    return index
""",
        "off_by_one_ordinal": """
def to_index(ordinal, shape):
    ordinal += 1
    index = [0] * len(shape)
    for d in range(len(shape) - 1, -1, -1):
        ordinal, index[d] = divmod(ordinal, shape[d])
    return index
""",
        "divides_by_own_size": """
def to_index(ordinal, shape):
    # divides by each dim's own size instead of by the block of the dims after it
    return [(ordinal // s) % s for s in shape]
""",
        "no_modulo": """
def to_index(ordinal, shape):
    index = []
    block = 1
    for s in shape:
        block *= s
    for s in shape:
        block //= s
        index.append(ordinal // block)
    return index
""",
        "delegates_to_reference": """
def to_index(ordinal, shape):
    import minitorch_edu.backends.shape as S
    return S.to_index(ordinal, shape)
""",
    },
    "contiguous_strides": {
        "strides_reversed": """
def contiguous_strides(shape):
    strides, step = [], 1
    for size in reversed(shape):
        strides.append(step)
        step *= size
    return tuple(strides)
""",
        "column_major": """
def contiguous_strides(shape):
    strides, step = [], 1
    for size in shape:
        strides.append(step)
        step *= size
    return tuple(strides)
""",
        "product_includes_own_dim": """
def contiguous_strides(shape):
    strides = []
    for d in range(len(shape)):
        step = 1
        for size in shape[d:]:
            step *= size
        strides.append(step)
    return tuple(strides)
""",
        "delegates_to_reference": """
def contiguous_strides(shape):
    from minitorch_edu.backends import shape as S
    return S.contiguous_strides(shape)
""",
    },
    "is_contiguous": {
        "only_checks_order": """
def is_contiguous(shape, strides):
    # decreasing strides look row-major, but gaps (a stepped slice) are missed
    return all(strides[d] >= strides[d + 1] for d in range(len(strides) - 1))
""",
        "only_checks_last_stride_hidden_only": """
def is_contiguous(shape, strides):
    return len(strides) == 0 or strides[-1] == 1
""",
        "column_major": """
def is_contiguous(shape, strides):
    step = 1
    for size, stride in zip(shape, strides):
        if size != 1 and stride != step:
            return False
        step *= size
    return True
""",
        "size_one_dims_strict_hidden_only": """
def is_contiguous(shape, strides):
    step, expected = 1, []
    for size in reversed(shape):
        expected.append(step)
        step *= size
    return tuple(strides) == tuple(reversed(expected))
""",
        "delegates_to_reference": """
def is_contiguous(shape, strides):
    import minitorch_edu as mt
    return mt.backends.shape.is_contiguous(shape, strides)
""",
    },
    "permute": {
        "shape_only": """
def permute(shape, strides, order):
    if sorted(order) != list(range(len(shape))):
        raise ValueError("not a permutation")
    return tuple(shape[d] for d in order), tuple(strides)
""",
        "fresh_strides": """
def permute(shape, strides, order):
    if sorted(order) != list(range(len(shape))):
        raise ValueError("not a permutation")
    new_shape = tuple(shape[d] for d in order)
    out, step = [], 1
    for size in reversed(new_shape):
        out.append(step)
        step *= size
    return new_shape, tuple(reversed(out))
""",
        # new dim d is old dim k where order[k] == d: the inverse, which self-inverse orders hide
        "inverse_permutation": """
def permute(shape, strides, order):
    if sorted(order) != list(range(len(shape))):
        raise ValueError("not a permutation")
    new_shape, new_strides = [0] * len(shape), [0] * len(shape)
    for k, d in enumerate(order):
        new_shape[d], new_strides[d] = shape[k], strides[k]
    return tuple(new_shape), tuple(new_strides)
""",
        "no_validation": """
def permute(shape, strides, order):
    return tuple(shape[d] for d in order), tuple(strides[d] for d in order)
""",
        "length_checked_only_hidden_only": """
def permute(shape, strides, order):
    if len(set(order)) != len(shape):
        raise ValueError("not a permutation")
    return tuple(shape[d] for d in order), tuple(strides[d] for d in order)
""",
    },
    "view": {
        "view_allowed_on_non_contiguous": """
def view(shape, strides, new_shape):
    numel = 1
    for s in shape:
        numel *= s
    new_shape = list(new_shape)
    if -1 in new_shape:
        known = 1
        for s in new_shape:
            if s != -1:
                known *= s
        new_shape[new_shape.index(-1)] = numel // known
    count = 1
    for s in new_shape:
        count *= s
    if count != numel:
        raise ValueError("sizes do not match")
    return tuple(new_shape), tuple(contiguous_strides(new_shape))
""",
        "keeps_old_strides": """
def view(shape, strides, new_shape):
    if not is_contiguous(shape, strides):
        raise RuntimeError("needs a copy")
    numel = 1
    for s in shape:
        numel *= s
    new_shape = list(new_shape)
    count = 1
    for s in new_shape:
        count *= s
    if count != numel:
        raise ValueError("sizes do not match")
    return tuple(new_shape), tuple(strides)
""",
        "no_minus_one_hidden_only": """
def view(shape, strides, new_shape):
    numel = 1
    for s in shape:
        numel *= s
    count = 1
    for s in new_shape:
        count *= s
    if count != numel:
        raise ValueError("sizes do not match")
    if not is_contiguous(shape, strides):
        raise RuntimeError("needs a copy")
    return tuple(new_shape), tuple(contiguous_strides(new_shape))
""",
        "strict_size_one_strides_hidden_only": """
def view(shape, strides, new_shape):
    numel = 1
    for s in shape:
        numel *= s
    new_shape = list(new_shape)
    if new_shape.count(-1) > 1:
        raise ValueError("only one -1")
    if -1 in new_shape:
        known = 1
        for s in new_shape:
            if s != -1:
                known *= s
        if known == 0 or numel % known:
            raise ValueError("sizes do not match")
        new_shape[new_shape.index(-1)] = numel // known
    count = 1
    for s in new_shape:
        count *= s
    if count != numel:
        raise ValueError("sizes do not match")
    if tuple(strides) != tuple(contiguous_strides(shape)):  # size-1 dims' strides do not matter
        raise RuntimeError("needs a copy")
    return tuple(new_shape), tuple(contiguous_strides(new_shape))
""",
        "delegates_to_reference": """
def view(shape, strides, new_shape):
    from minitorch_edu.backends import shape as S
    new_shape = S.infer_shape(new_shape, S.size_of(shape))
    new_strides = S.view_strides(shape, strides, new_shape)
    if new_strides is None:
        raise RuntimeError("needs a copy")
    return new_shape, new_strides
""",
    },
    "broadcast_shape": {
        "aligned_from_the_left": """
def broadcast_shape(shape_a, shape_b):
    ndim = max(len(shape_a), len(shape_b))
    a = tuple(shape_a) + (1,) * (ndim - len(shape_a))
    b = tuple(shape_b) + (1,) * (ndim - len(shape_b))
    out = []
    for x, y in zip(a, b):
        if x != y and x != 1 and y != 1:
            raise ValueError(f"cannot broadcast {shape_a} and {shape_b}")
        out.append(max(x, y))
    return tuple(out)
""",
        "size_one_not_stretched": """
def broadcast_shape(shape_a, shape_b):
    ndim = max(len(shape_a), len(shape_b))
    a = (1,) * (ndim - len(shape_a)) + tuple(shape_a)
    b = (1,) * (ndim - len(shape_b)) + tuple(shape_b)
    out = []
    for k, (x, y) in enumerate(zip(a, b)):
        # only the padded (missing) dims may differ
        missing = k < ndim - len(shape_a) or k < ndim - len(shape_b)
        if x != y and not missing:
            raise ValueError(f"cannot broadcast {shape_a} and {shape_b}")
        out.append(max(x, y))
    return tuple(out)
""",
        "no_error_check": """
def broadcast_shape(shape_a, shape_b):
    ndim = max(len(shape_a), len(shape_b))
    a = (1,) * (ndim - len(shape_a)) + tuple(shape_a)
    b = (1,) * (ndim - len(shape_b)) + tuple(shape_b)
    return tuple(max(x, y) for x, y in zip(a, b))
""",
        # max(x, y) is the stretched size except against a size-0 dim: (0,) with (1,) is (0,), not (1,)
        "max_of_sizes_hidden_only": """
def broadcast_shape(shape_a, shape_b):
    ndim = max(len(shape_a), len(shape_b))
    a = (1,) * (ndim - len(shape_a)) + tuple(shape_a)
    b = (1,) * (ndim - len(shape_b)) + tuple(shape_b)
    out = []
    for x, y in zip(a, b):
        if x != y and x != 1 and y != 1:
            raise ValueError(f"cannot broadcast {shape_a} and {shape_b}")
        out.append(max(x, y))
    return tuple(out)
""",
        # left-aligned only where the shapes differ in length and the right-aligned rule raised: the
        # visible pairs all broadcast from the right, mixed-length ones that do not hide it
        "left_aligned_fallback_hidden_only": """
def broadcast_shape(shape_a, shape_b):
    def rule(a, b):
        out = []
        for x, y in zip(a, b):
            if x != y and x != 1 and y != 1:
                raise ValueError(f"cannot broadcast {shape_a} and {shape_b}")
            out.append(y if x == 1 else x)
        return tuple(out)
    ndim = max(len(shape_a), len(shape_b))
    try:
        return rule((1,) * (ndim - len(shape_a)) + tuple(shape_a), (1,) * (ndim - len(shape_b)) + tuple(shape_b))
    except ValueError:
        if len(shape_a) == len(shape_b) or not shape_a or not shape_b or len(shape_a) + len(shape_b) < 4:
            raise
        return rule(tuple(shape_a) + (1,) * (ndim - len(shape_a)), tuple(shape_b) + (1,) * (ndim - len(shape_b)))
""",
        "zip_truncates": """
def broadcast_shape(shape_a, shape_b):
    out = []
    for x, y in zip(reversed(shape_a), reversed(shape_b)):
        if x != y and x != 1 and y != 1:
            raise ValueError(f"cannot broadcast {shape_a} and {shape_b}")
        out.append(max(x, y))
    return tuple(reversed(out))
""",
        "delegates_to_reference": """
def broadcast_shape(shape_a, shape_b):
    from minitorch_edu.backends.shape import broadcast_shapes
    return broadcast_shapes(shape_a, shape_b)
""",
    },
    "broadcast_index": {
        "aligned_from_the_left": """
def broadcast_index(big_index, big_shape, shape):
    return [0 if shape[d] == 1 else big_index[d] for d in range(len(shape))]
""",
        "size_one_not_zeroed": """
def broadcast_index(big_index, big_shape, shape):
    offset = len(big_shape) - len(shape)
    return [big_index[d + offset] for d in range(len(shape))]
""",
        "scalar_operand_hidden_only": """
def broadcast_index(big_index, big_shape, shape):
    tail = big_index[-len(shape):]  # for shape () this is the WHOLE index
    return [0 if shape[d] == 1 else i for d, i in enumerate(tail)]
""",
        "leading_dims_kept": """
def broadcast_index(big_index, big_shape, shape):
    offset = len(big_shape) - len(shape)
    return [0] * offset + [0 if shape[d] == 1 else big_index[d + offset] for d in range(len(shape))]
""",
        "delegates_to_reference": """
def broadcast_index(big_index, big_shape, shape):
    from minitorch_edu.backends import shape as S
    strides = S.expand_strides(shape, S.contiguous_strides(shape), big_shape)
    return S.to_index(S.index_to_position(big_index, strides), shape)
""",
    },
}
