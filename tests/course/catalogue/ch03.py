"""Wrong solutions of chapter 03 (tensor ops and autograd): each must lose its part's points.

Names ending in `_hidden_only` pass the visible self-check and fail only the hidden tests.
"""

SLUG = "03_tensor_autograd"

# the loop every correct kernel shares, with one mistake in each variant below
_MAP = '''
def tensor_map(fn):
    def kernel(out, out_strides, a, a_strides, shape):
{body}
    return kernel
'''

_ZIP = '''
def tensor_zip(fn):
    def kernel(out, out_strides, a, a_strides, b, b_strides, shape):
{body}
    return kernel
'''

_REDUCE = '''
def tensor_reduce(fn):
    def kernel(out, out_strides, a, a_strides, a_shape, dim):
{body}
    return kernel
'''

_MATMUL = '''
def tensor_matmul(out, out_strides, a, a_strides, b, b_strides, out_shape, k):
{body}
'''

_UNBROADCAST = '''
def unbroadcast(grad, shape):
{body}
'''

_MUL = '''
class Mul(mt.Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, grad):
{body}
'''

_MATMUL_FN = '''
class MatMul(mt.Function):
    @staticmethod
    def forward(ctx, a, b):
{forward}

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
{body}
'''


def _indent(text: str, spaces: int) -> str:
    return "\n".join(" " * spaces + line if line.strip() else line for line in text.strip("\n").splitlines())


def _map(body: str) -> str:
    return _MAP.format(body=_indent(body, 8))


def _zip(body: str) -> str:
    return _ZIP.format(body=_indent(body, 8))


def _reduce(body: str) -> str:
    return _REDUCE.format(body=_indent(body, 8))


def _matmul(body: str) -> str:
    return _MATMUL.format(body=_indent(body, 4))


def _unbroadcast(body: str) -> str:
    return _UNBROADCAST.format(body=_indent(body, 4))


def _mul(body: str) -> str:
    return _MUL.format(body=_indent(body, 8))


def _matmul_fn(body: str, forward: str = "ctx.save_for_backward(a, b)\nreturn a @ b") -> str:
    return _MATMUL_FN.format(forward=_indent(forward, 8), body=_indent(body, 8))


WRONG = {
    "tensor_map": {
        # only contiguous inputs: reads a in storage order
        "ignores_a_strides": _map("""
for ordinal in range(size_of(shape)):
    index = to_index(ordinal, shape)
    out[index_to_position(index, out_strides)] = fn(a[ordinal])
"""),
        # only contiguous outputs: writes out in ordinal order (the visible checks use contiguous outputs)
        "ignores_out_strides_hidden_only": _map("""
for ordinal in range(size_of(shape)):
    index = to_index(ordinal, shape)
    out[ordinal] = fn(a[index_to_position(index, a_strides)])
"""),
        # one stride per dim, but paired with the wrong dim
        "strides_reversed": _map("""
for ordinal in range(size_of(shape)):
    index = to_index(ordinal, shape)
    out[index_to_position(index, out_strides)] = fn(a[index_to_position(index, a_strides[::-1])])
"""),
        # off by one: the last element is never written
        "misses_last_element": _map("""
for ordinal in range(size_of(shape) - 1):
    index = to_index(ordinal, shape)
    out[index_to_position(index, out_strides)] = fn(a[index_to_position(index, a_strides)])
"""),
        # nested loops that only know 2-D tensors (the visible checks are 1-D and 2-D)
        "only_2d_hidden_only": _map("""
if len(shape) == 1:
    for i in range(shape[0]):
        out[i * out_strides[0]] = fn(a[i * a_strides[0]])
    return
for i in range(shape[0]):
    for j in range(shape[1]):
        out[i * out_strides[0] + j * out_strides[1]] = fn(a[i * a_strides[0] + j * a_strides[1]])
"""),
        "delegates_to_reference": """
def tensor_map(fn):
    from minitorch_edu.backends import python
    return python.tensor_map(fn)
""",
        "delegates_to_numba": """
def tensor_map(fn):
    import minitorch_edu.backends.numba.cpu as numba_cpu
    return numba_cpu.tensor_map(fn)
""",
        "delegates_through_a_backend": """
def tensor_map(fn):
    return mt.get_backend("python").map(fn)
""",
    },
    "tensor_zip": {
        # no broadcasting: b read at the output's position
        "without_broadcasting": _zip("""
for ordinal in range(size_of(shape)):
    index = to_index(ordinal, shape)
    o = index_to_position(index, out_strides)
    out[o] = fn(a[index_to_position(index, a_strides)], b[o])
"""),
        # b read with a's strides
        "a_strides_for_b": _zip("""
for ordinal in range(size_of(shape)):
    index = to_index(ordinal, shape)
    p = index_to_position(index, a_strides)
    out[index_to_position(index, out_strides)] = fn(a[p], b[p])
"""),
        # only contiguous outputs (the visible checks use contiguous outputs)
        "ignores_out_strides_hidden_only": _zip("""
for ordinal in range(size_of(shape)):
    index = to_index(ordinal, shape)
    out[ordinal] = fn(a[index_to_position(index, a_strides)], b[index_to_position(index, b_strides)])
"""),
        # arguments swapped: fine for add and mul, wrong for sub
        "arguments_swapped": _zip("""
for ordinal in range(size_of(shape)):
    index = to_index(ordinal, shape)
    x = a[index_to_position(index, a_strides)]
    y = b[index_to_position(index, b_strides)]
    out[index_to_position(index, out_strides)] = fn(y, x)
"""),
        # broadcasts by wrapping around b's storage, as if stride 0 meant "repeat from the start"
        "wraps_b_hidden_only": _zip("""
for ordinal in range(size_of(shape)):
    index = to_index(ordinal, shape)
    x = a[index_to_position(index, a_strides)]
    out[index_to_position(index, out_strides)] = fn(x, b[ordinal % len(b)])
"""),
        "delegates_to_reference": """
def tensor_zip(fn):
    import minitorch_edu.backends.numba.cpu
    return minitorch_edu.backends.numba.cpu.tensor_zip(fn)
""",
        "delegates_through_a_backend": """
def tensor_zip(fn):
    return mt.get_backend("numba").zip(fn)
""",
    },
    "tensor_reduce": {
        # forgets the start value in `out`: starts from 0 (wrong for a max over negatives, products, start 10)
        "forgets_start_value": _reduce("""
out_shape = list(a_shape)
out_shape[dim] = 1
for ordinal in range(size_of(out_shape)):
    index = to_index(ordinal, out_shape)
    acc = 0.0
    for j in range(a_shape[dim]):
        index[dim] = j
        acc = fn(acc, a[index_to_position(index, a_strides)])
    index[dim] = 0
    out[index_to_position(index, out_strides)] = acc
"""),
        # always reduces the last dim
        "reduces_last_dim": _reduce("""
d = len(a_shape) - 1
out_shape = list(a_shape)
out_shape[d] = 1
for ordinal in range(size_of(out_shape)):
    index = to_index(ordinal, out_shape)
    o = index_to_position(index, out_strides)
    for j in range(a_shape[d]):
        index[d] = j
        out[o] = fn(out[o], a[index_to_position(index, a_strides)])
"""),
        # overwrites instead of folding: only the last element survives
        "does_not_accumulate": _reduce("""
out_shape = list(a_shape)
out_shape[dim] = 1
for ordinal in range(size_of(out_shape)):
    index = to_index(ordinal, out_shape)
    o = index_to_position(index, out_strides)
    for j in range(a_shape[dim]):
        index[dim] = j
        out[o] = fn(0.0, a[index_to_position(index, a_strides)])
"""),
        # writes the output in ordinal order (the visible outputs are contiguous)
        "ignores_out_strides_hidden_only": _reduce("""
out_shape = list(a_shape)
out_shape[dim] = 1
for ordinal in range(size_of(out_shape)):
    index = to_index(ordinal, out_shape)
    acc = out[ordinal]
    for j in range(a_shape[dim]):
        index[dim] = j
        acc = fn(acc, a[index_to_position(index, a_strides)])
    out[ordinal] = acc
"""),
        # starts from the first element and then folds all of them: counts a[0] twice
        "first_element_twice": _reduce("""
out_shape = list(a_shape)
out_shape[dim] = 1
for ordinal in range(size_of(out_shape)):
    index = to_index(ordinal, out_shape)
    o = index_to_position(index, out_strides)
    acc = a[index_to_position(index, a_strides)]
    for j in range(a_shape[dim]):
        index[dim] = j
        acc = fn(acc, a[index_to_position(index, a_strides)])
    out[o] = acc
"""),
        "delegates_to_reference": """
def tensor_reduce(fn):
    from minitorch_edu.backends.python import tensor_reduce as reference
    return reference(fn)
""",
    },
    "tensor_matmul": {
        # forgot to accumulate: only the last product survives
        "does_not_accumulate": _matmul("""
for ordinal in range(size_of(out_shape)):
    index = to_index(ordinal, out_shape)
    *batch, i, j = index
    acc = 0.0
    for r in range(k):
        acc = a[index_to_position([*batch, i, r], a_strides)] * b[index_to_position([*batch, r, j], b_strides)]
    out[index_to_position(index, out_strides)] = acc
"""),
        # b indexed as [j, r]: the transpose of b
        "b_index_transposed": _matmul("""
for ordinal in range(size_of(out_shape)):
    index = to_index(ordinal, out_shape)
    *batch, i, j = index
    acc = 0.0
    for r in range(k):
        acc += a[index_to_position([*batch, i, r], a_strides)] * b[index_to_position([*batch, j, r], b_strides)]
    out[index_to_position(index, out_strides)] = acc
"""),
        # assumes contiguous operands of shape (n, k) and (k, m)
        "only_contiguous": _matmul("""
n, m = out_shape[-2], out_shape[-1]
for ordinal in range(size_of(out_shape)):
    index = to_index(ordinal, out_shape)
    *batch, i, j = index
    acc = 0.0
    for r in range(k):
        acc += a[i * k + r] * b[r * m + j]
    out[index_to_position(index, out_strides)] = acc
"""),
        # a read with its strides, b assumed row-major (its strides ignored): right for every contiguous
        # b, wrong for the transposed b that the backward's grad @ b.T hands the kernel
        "b_read_row_major": _matmul("""
m = out_shape[-1]
for ordinal in range(size_of(out_shape)):
    index = to_index(ordinal, out_shape)
    *batch, i, j = index
    base = index_to_position([*batch, 0, 0], b_strides)
    acc = 0.0
    for r in range(k):
        acc += a[index_to_position([*batch, i, r], a_strides)] * b[base + r * m + j]
    out[index_to_position(index, out_strides)] = acc
"""),
        # only 2-D: drops the batch index (the visible checks are 2-D)
        "ignores_batch_hidden_only": _matmul("""
for ordinal in range(size_of(out_shape)):
    index = to_index(ordinal, out_shape)
    i, j = index[-2], index[-1]
    acc = 0.0
    for r in range(k):
        acc += a[i * a_strides[-2] + r * a_strides[-1]] * b[r * b_strides[-2] + j * b_strides[-1]]
    out[index_to_position(index, out_strides)] = acc
"""),
        "delegates_to_reference": """
def tensor_matmul(out, out_strides, a, a_strides, b, b_strides, out_shape, k):
    from minitorch_edu.backends.numba import cpu as numba_cpu
    numba_cpu.tensor_matmul(out, out_strides, a, a_strides, b, b_strides, out_shape, k)
""",
        "delegates_to_python_reference": """
from minitorch_edu.backends.python import tensor_matmul
""",
    },
    "unbroadcast": {
        # sums the leading dims only, forgets the stretched size-1 ones
        "only_leading_dims": _unbroadcast("""
while grad.ndim > len(shape):
    grad = grad.sum(0)
return grad
"""),
        # sums the size-1 dims without keeping them
        "does_not_keep_dims": _unbroadcast("""
lead = grad.ndim - len(shape)
for d in reversed(range(grad.ndim)):
    if d < lead or (shape[d - lead] == 1 and grad.shape[d] != 1):
        grad = grad.sum(d)
return grad
"""),
        # aligns the shapes on the left instead of the right
        "aligns_on_the_left": _unbroadcast("""
for d in range(grad.ndim):
    if d >= len(shape) or (shape[d] == 1 and grad.shape[d] != 1):
        grad = grad.sum(d, keepdim=True)
return grad.reshape(shape)
"""),
        # sums the stretched size-1 dims but forgets the leading ones broadcasting added
        "forgets_leading_dims": _unbroadcast("""
lead = grad.ndim - len(shape)
for d in range(len(shape)):
    if shape[d] == 1 and grad.shape[d + lead] != 1:
        grad = grad.sum(d + lead, keepdim=True)
return grad.reshape(shape)
"""),
        # handles only the 2-D cases the visible checks show
        "two_dims_only_hidden_only": _unbroadcast("""
if grad.ndim == 2 and len(shape) == 1:
    return grad.sum(0)
if grad.ndim == 2 and shape[1] == 1 and grad.shape[1] != 1:
    return grad.sum(1, keepdim=True)
if grad.ndim == 2 and shape[0] == 1 and grad.shape[0] != 1:
    return grad.sum(0, keepdim=True)
return grad
"""),
        "delegates_to_reference": _unbroadcast("""
from minitorch_edu.core.functions import unbroadcast as reference
return reference(grad, shape)
"""),
        "imports_the_reference": """
from minitorch_edu.core.functions import unbroadcast
""",
    },
    "mul_function": {
        # the broadcast dimension not summed: the gradient of b has the output's shape
        "forgot_unbroadcast": _mul("""
a, b = ctx.saved_tensors
return grad * b, grad * a
"""),
        # the two local derivatives swapped
        "derivatives_swapped": _mul("""
a, b = ctx.saved_tensors
return unbroadcast(grad * a, a.shape), unbroadcast(grad * b, b.shape)
"""),
        # the incoming gradient forgotten (the chain rule)
        "forgot_incoming_grad": _mul("""
a, b = ctx.saved_tensors
return unbroadcast(b.expand(grad.shape), a.shape), unbroadcast(a.expand(grad.shape), b.shape)
"""),
        # unbroadcasts only b, as if a never broadcast (the visible a has the output's shape)
        "unbroadcasts_only_b_hidden_only": _mul("""
a, b = ctx.saved_tensors
return grad * b, unbroadcast(grad * a, b.shape)
"""),
        "delegates_to_reference": _mul("""
return package_functions.Mul.backward(ctx, grad)
"""),
        "subclasses_the_reference": """
class Mul(package_functions.Mul):
    pass
""",
    },
    "matmul_function": {
        # the transposes on the wrong side (fails on shapes)
        "transposes_wrong_side": _matmul_fn("""
return b.transpose(-2, -1) @ grad, grad @ a.transpose(-2, -1)
"""),
        # no transposes: right only when the shapes happen to fit
        "no_transpose": _matmul_fn("""
return grad @ b, a @ grad
"""),
        # .T reverses every dim: right for matrices, wrong for batches (the visible checks are 2-D)
        "full_transpose_hidden_only": _matmul_fn("""
return grad @ b.T, a.T @ grad
"""),
        # the gradients of a and b swapped
        "gradients_swapped": _matmul_fn("""
return a.transpose(-2, -1) @ grad, grad @ b.transpose(-2, -1)
"""),
        "delegates_to_reference": _matmul_fn("""
return package_functions.MatMul.backward(ctx, grad)
"""),
        "delegates_forward_and_backward": """
class MatMul(mt.Function):
    forward = staticmethod(lambda ctx, a, b: package_functions.MatMul.forward(ctx, a, b))
    backward = staticmethod(lambda ctx, grad: package_functions.MatMul.backward(ctx, grad))
""",
    },
}
