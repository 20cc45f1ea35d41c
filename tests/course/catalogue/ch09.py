"""Wrong solutions for chapter 09 (convolutional networks): the mistakes of a first im2col, col2im, pooling
layer, dropout and CNN.

Each wrong solution is the chapter's own solution cell with one mistake put in (`_wrong` checks that the text
it replaces is there, so a reworded solution fails loudly here instead of silently testing nothing). Names
ending in `_hidden_only` pass the visible self-check and fail only the hidden tests.
"""

import re
from pathlib import Path

SLUG = "09_cnn"
_SOURCE = (Path(__file__).resolve().parents[3] / "course" / "chapters" / f"{SLUG}.py").read_text()


def _solution(part: str) -> str:
    match = re.search(rf"^# %% \[solution\] id={part}\n(.*?)(?=^# %%)", _SOURCE, re.S | re.M)
    assert match, f"{SLUG} has no solution cell {part!r}"
    return match.group(1)


def _wrong(part: str, *edits: tuple[str, str]) -> str:
    """The solution of `part` with each (old, new) edit made (every occurrence of old)."""
    code = _solution(part)
    for old, new in edits:
        assert old in code, f"{SLUG}/{part}: the catalogue's edit expects {old!r} in the solution"
        code = code.replace(old, new)
    return code


_SLICE = "xp[:, :, i:i + stride * (oh - 1) + 1:stride, j:j + stride * (ow - 1) + 1:stride]"
_OUT_SIZE = "oh, ow = output_size(h, kh, stride, padding), output_size(w, kw, stride, padding)"

# pooling written with explicit windows (as many first attempts are), with a marker to put a mistake in
_LOOP_POOL = '''
def max_pool2d_forward(x, kernel_size, stride=None):
    stride = {default}
    n, c, h, w = x.shape
    oh, ow = (h - kernel_size) // stride + 1, (w - kernel_size) // stride + 1
    out = np.zeros((n, c, oh, ow), dtype=x.dtype) {init}
    for oy in range(oh):
        for ox in range(ow):
            window = x[:, :, oy * stride:oy * stride + kernel_size, ox * stride:ox * stride + kernel_size]
            out[:, :, oy, ox] = {reduce}
    return out


def max_pool2d_backward(grad, x, kernel_size, stride=None):
    stride = {default}
    n, c, h, w = x.shape
    gx = np.zeros_like(x)
    for oy in range(grad.shape[2]):
        for ox in range(grad.shape[3]):
            y0, x0 = oy * stride, ox * stride
            window = x[:, :, y0:y0 + kernel_size, x0:x0 + kernel_size].reshape(n, c, -1)
            first = window.argmax(axis=2)
            for a in range(n):
                for ch in range(c):
                    dy, dx = divmod(int(first[a, ch]), kernel_size)
                    gx[a, ch, y0 + dy, x0 + dx] {op} grad[a, ch, oy, ox]
    return gx
'''


def _loop_pool(default="kernel_size if stride is None else stride", init="", reduce="window.max(axis=(2, 3))",
               op="+="):
    return _LOOP_POOL.format(default=default, init=init, reduce=reduce, op=op)


_LOOP_AVG = '''
def avg_pool2d_forward(x, kernel_size, stride=None):
    stride = kernel_size if stride is None else stride
    n, c, h, w = x.shape
    oh, ow = (h - kernel_size) // stride + 1, (w - kernel_size) // stride + 1
    out = np.zeros((n, c, oh, ow), dtype=x.dtype)
    for oy in range(oh):
        for ox in range(ow):
            out[:, :, oy, ox] = x[:, :, oy * stride:oy * stride + kernel_size,
                                  ox * stride:ox * stride + kernel_size].mean(axis=(2, 3))
    return out


def avg_pool2d_backward(grad, x, kernel_size, stride=None):
    stride = kernel_size if stride is None else stride
    gx = np.zeros_like(x)
    for oy in range(grad.shape[2]):
        for ox in range(grad.shape[3]):
            share = grad[:, :, oy, ox][:, :, None, None] / (kernel_size * kernel_size)
            gx[:, :, oy * stride:oy * stride + kernel_size, ox * stride:ox * stride + kernel_size] {op} share
    return gx
'''

_TRAIN_HEADER = "    epochs, lr = 10, 0.01\n"

WRONG = {
    "conv2d_forward": {
        "flipped_kernel": _wrong(
            "conv2d_forward",
            ("out = weight.reshape(c_out, c * kh * kw) @ cols",
             "flipped = mt.tensor(np.ascontiguousarray(weight.numpy()[:, :, ::-1, ::-1]))\n"
             "    out = flipped.reshape(c_out, c * kh * kw) @ cols")),
        "padding_ignored": _wrong("conv2d_forward", ("    n, c, h, w = x.shape\n    c_out", "    padding = 0\n"
                                                     "    n, c, h, w = x.shape\n    c_out")),
        "stride_ignored_in_windows": _wrong("conv2d_forward", (_SLICE, "xp[:, :, i:i + oh, j:j + ow]")),
        "output_size_without_stride": _wrong(
            "conv2d_forward", (_OUT_SIZE, "oh, ow = h + 2 * padding - kh + 1, w + 2 * padding - kw + 1")),
        "rows_kernel_major": _wrong(
            "conv2d_forward",
            ("cols = np.empty((n, c, kh, kw, oh, ow), dtype=x.dtype)", "cols = np.empty((n, kh, kw, c, oh, ow), "
                                                                        "dtype=x.dtype)"),
            ("cols[:, :, i, j] = ", "cols[:, i, j] = ")),
        "kernel_rows_and_columns_swapped": _wrong(
            "conv2d_forward",
            ("cols = np.empty((n, c, kh, kw, oh, ow), dtype=x.dtype)", "cols = np.empty((n, c, kw, kh, oh, ow), "
                                                                        "dtype=x.dtype)"),
            ("cols[:, :, i, j] = ", "cols[:, :, j, i] = ")),
        "bias_forgotten": _wrong("conv2d_forward", ("out = out + bias.reshape(1, c_out, 1)", "pass")),
    },
    "conv2d_backward": {
        "weight_grad_mean_over_batch": _wrong("conv2d_backward", (".sum(0).reshape(*weight.shape)",
                                                                  ".mean(0).reshape(*weight.shape)")),
        "weight_grad_transposed": _wrong("conv2d_backward", ("(g @ cols.transpose(1, 2)).sum(0)",
                                                             "(cols @ g.transpose(1, 2)).sum(0)")),
        "col2im_assigns": _wrong("conv2d_backward", ("] += cols[:, :, i, j]", "] = cols[:, :, i, j]")),
        "col2im_ignores_stride": _wrong(
            "conv2d_backward",
            ("xp[:, :, i:i + stride * (oh - 1) + 1:stride, j:j + stride * (ow - 1) + 1:stride] +=",
             "xp[:, :, i:i + oh, j:j + ow] +=")),
        "bias_grad_averaged": _wrong("conv2d_backward", ("grad_bias = grad.sum((0, 2, 3))",
                                                         "grad_bias = grad.sum((0, 2, 3)) / (grad.shape[2] * "
                                                         "grad.shape[3])")),
        "bias_grad_first_sample_only": _wrong("conv2d_backward", ("grad_bias = grad.sum((0, 2, 3))",
                                                                  "grad_bias = grad[0].sum((1, 2))")),
        "padding_not_cropped": _wrong("conv2d_backward", ("return xp[:, :, padding:padding + h, padding:padding + w]",
                                                          "return xp[:, :, :h, :w]")),
    },
    "max_pool": {
        "gradient_to_every_element": _wrong(
            "max_pool",
            ("    grad_cols = np.zeros_like(cols)\n    np.put_along_axis(grad_cols, first[:, None, :], "
             "np.asarray(grad, dtype=cols.dtype).reshape(n * c, 1, -1), axis=1)",
             "    grad_cols = np.repeat(np.asarray(grad, dtype=cols.dtype).reshape(n * c, 1, -1), cols.shape[1], "
             "axis=1)")),
        "gradient_to_all_ties": _wrong(
            "max_pool",
            ("    grad_cols = np.zeros_like(cols)\n    np.put_along_axis(grad_cols, first[:, None, :], "
             "np.asarray(grad, dtype=cols.dtype).reshape(n * c, 1, -1), axis=1)",
             "    grad_cols = (cols == cols.max(axis=1, keepdims=True)) * np.asarray(grad, dtype=cols.dtype)"
             ".reshape(n * c, 1, -1)")),
        "stride_ignored_in_backward": _loop_pool().replace(
            "    stride = kernel_size if stride is None else stride\n    n, c, h, w = x.shape\n    gx",
            "    stride = kernel_size\n    n, c, h, w = x.shape\n    gx"),
        "backward_assigns_overlaps": _loop_pool(op="="),
        "default_stride_one": _loop_pool(default="1 if stride is None else stride"),
        "max_starts_at_zero": _loop_pool(reduce="np.maximum(out[:, :, oy, ox], window.max(axis=(2, 3)))"),
    },
    "avg_pool": {
        "gradient_not_divided": _wrong("avg_pool", (" / (kernel_size * kernel_size)", "")),
        "forward_sums": _wrong("avg_pool", ("cols.mean(axis=1)", "cols.sum(axis=1)")),
        "backward_assigns_overlaps": _LOOP_AVG.format(op="="),
        "default_stride_one": _wrong("avg_pool", ("stride = kernel_size if stride is None else stride",
                                                  "stride = 1 if stride is None else stride")),
        "divides_by_kernel_size_not_area": _wrong("avg_pool", (" / (kernel_size * kernel_size)", " / kernel_size")),
    },
    "dropout": {
        "not_rescaled": _wrong("dropout", ("return x * (keep * (1.0 / (1.0 - p)))", "return x * keep")),
        "scaled_by_keep_probability": _wrong("dropout", ("(1.0 / (1.0 - p))", "(1.0 - p)")),
        "active_in_eval": _wrong("dropout", ("if not training or p == 0.0:", "if p == 0.0:")),
        "keeps_with_probability_p": _wrong("dropout", ("mt.rand(*x.shape) >= p", "mt.rand(*x.shape) < p")),
        "same_mask_every_call": _wrong("dropout", ("keep = mt.rand(*x.shape) >= p",
                                                   "keep = mt.tensor(np.random.default_rng(0).random(x.shape) >= p)")),
        "numpy_generator_unseeded": _wrong("dropout", ("keep = mt.rand(*x.shape) >= p",
                                                       "keep = mt.tensor(np.random.random(x.shape) >= p)")),
        "divides_by_zero_at_p_one_hidden_only": _wrong("dropout", ("    if p == 1.0:\n        return x * 0.0\n", "")),
        "no_gradient_hidden_only": _wrong("dropout", ("return x * (keep * (1.0 / (1.0 - p)))",
                                                      "return mt.tensor(x.numpy() * keep.numpy() / (1.0 - p))")),
    },
    "layers": {
        "weights_from_randn": _wrong("layers", ("self.weight = Parameter(mt.rand(*shape) * (2 * bound) - bound)",
                                                "self.weight = Parameter(mt.randn(*shape))")),
        "stride_and_padding_not_passed": _wrong(
            "layers", ("Conv2dFn.apply(x, self.weight, self.bias, stride=self.stride, padding=self.padding)",
                       "Conv2dFn.apply(x, self.weight, self.bias)")),
        "dropout_ignores_eval": _wrong("layers", ("return dropout(x, self.p, self.training)",
                                                  "return dropout(x, self.p, True)")),
        "weights_not_parameters": _wrong("layers", (
            "self.weight = Parameter(mt.rand(*shape) * (2 * bound) - bound)\n"
            "        self.bias = Parameter(mt.rand(out_channels) * (2 * bound) - bound)",
            "self.weight = mt.rand(*shape) * (2 * bound) - bound\n"
            "        self.bias = mt.rand(out_channels) * (2 * bound) - bound")),
        "backward_gradients_out_of_order": _wrong("layers", (
            "return conv2d_backward(grad, x, weight, ctx.stride, ctx.padding)",
            "gx, gw, gb = conv2d_backward(grad, x, weight, ctx.stride, ctx.padding)\n        return gx, gb, gw")),
        "forward_bypasses_the_function": _wrong("layers", (
            "return Conv2dFn.apply(x, self.weight, self.bias, stride=self.stride, padding=self.padding)",
            "return conv2d_forward(x, self.weight, self.bias, self.stride, self.padding)")),
        "avg_layer_uses_max_hidden_only": _wrong("layers", (
            "return AvgPool2dFn.apply(x, kernel_size=self.kernel_size, stride=self.stride)",
            "return MaxPool2dFn.apply(x, kernel_size=self.kernel_size, stride=self.stride)")),
    },
    "train_cnn": {
        "one_epoch": _wrong("train_cnn", (_TRAIN_HEADER, "    epochs, lr = 1, 0.01\n")),
        "learning_rate_far_too_small": _wrong("train_cnn", (_TRAIN_HEADER, "    epochs, lr = 3, 1e-5\n")),
        "loads_its_own_data_hidden_only": _wrong("train_cnn", (
            "mt.data.TensorDataset(x_train, y_train)", "mt.data.TensorDataset(*mt.data.load_digits()[0])")),
        "package_layers": _wrong("train_cnn", ("Conv2d(16, 32, 3, padding=1), mt.nn.ReLU(), MaxPool2d(2)",
                                               "mt.nn.Conv2d(16, 32, 3, padding=1), mt.nn.ReLU(), mt.nn.MaxPool2d(2)")),
    },
}
