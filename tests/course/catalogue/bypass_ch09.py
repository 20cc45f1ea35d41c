"""Shortcuts through the package for chapter 09: the package's convolution, pooling and dropout reached from
the learner's code by a saved name, an alias, a name built at run time (getattr of a computed string, which
no reading of the text can see), a layer, a Function's `apply`, or the backend's fused kernels. Each must
score 0 on its part, refused by the seal (issue 22).
"""

SLUG = "09_cnn"
AFTER = "# after the reference solution\n"

BYPASS = {
    "conv2d_forward": {
        "saved_alias": AFTER + """
from minitorch_edu.nn.functional import conv2d as _c


def conv2d_forward(x, weight, bias=None, stride=1, padding=0):
    return _c(x, weight, bias, stride, padding)
""",
        "name_built_at_run_time": AFTER + """
_c = getattr(mt.nn.functional, "conv" + "2d")


def conv2d_forward(x, weight, bias=None, stride=1, padding=0):
    return _c(x, weight, bias, stride, padding)
""",
        "package_layer_inside": AFTER + """
def conv2d_forward(x, weight, bias=None, stride=1, padding=0):
    layer = getattr(mt.nn, "Conv" + "2d")(weight.shape[1], weight.shape[0], tuple(weight.shape[2:]), stride, padding)
    layer.weight = mt.nn.Parameter(weight)
    if bias is not None:
        layer.bias = mt.nn.Parameter(bias)
    else:
        layer.bias = None
    return layer(x)
""",
        "function_apply": AFTER + """
_C = getattr(mt.nn.conv_functions, "Conv2d" + "Function")


def conv2d_forward(x, weight, bias=None, stride=1, padding=0):
    operands = (x, weight) if bias is None else (x, weight, bias)
    return _C.apply(*operands, stride=(stride, stride), padding=(padding, padding))
""",
        "backend_kernel": AFTER + """
def conv2d_forward(x, weight, bias=None, stride=1, padding=0):
    n, c, h, w = x.shape
    c_out, _, kh, kw = weight.shape
    oh, ow = output_size(h, kh, stride, padding), output_size(w, kw, stride, padding)
    x, weight = x.contiguous(), weight.contiguous()
    out = mt.zeros(n, c_out, oh, ow)
    geo = (n, c, h, w, c_out, kh, kw, oh, ow, stride, stride, padding, padding)
    x.backend.conv2d_forward(out._storage, x._storage, weight._storage,
                             None if bias is None else bias.contiguous()._storage, geo)
    return out
""",
    },
    "conv2d_backward": {
        "package_autograd": AFTER + """
_conv = getattr(mt.nn.functional, "conv" + "2d")


def conv2d_backward(grad, x, weight, stride=1, padding=0):
    x = x.detach().requires_grad_(True) if hasattr(x, "requires_grad_") else mt.tensor(x.numpy(), requires_grad=True)
    w = mt.tensor(weight.numpy(), requires_grad=True)
    b = mt.zeros(weight.shape[0], requires_grad=True)
    (_conv(x, w, b, stride, padding) * grad).sum().backward()
    return x.grad, w.grad, b.grad
""",
        "saved_function_backward": AFTER + """
_Fn = getattr(mt.nn.conv_functions, "Conv2d" + "Function")


def conv2d_backward(grad, x, weight, stride=1, padding=0):
    class _Ctx:
        pass

    ctx = _Ctx()
    ctx.saved_tensors = (x, weight)
    n, c, h, w = x.shape
    c_out, _, kh, kw = weight.shape
    ctx.geo = (n, c, h, w, c_out, kh, kw, grad.shape[2], grad.shape[3], stride, stride, padding, padding)
    ctx.cols, ctx.has_bias = None, True
    ctx.needs_input_grad = (True, True, True)
    ctx.dtypes = (x.dtype, weight.dtype, weight.dtype)
    return _Fn.backward(ctx, grad)
""",
        "backend_kernels": AFTER + """
def conv2d_backward(grad, x, weight, stride=1, padding=0):
    n, c, h, w = x.shape
    c_out, _, kh, kw = weight.shape
    geo = (n, c, h, w, c_out, kh, kw, grad.shape[2], grad.shape[3], stride, stride, padding, padding)
    x, weight, grad = x.contiguous(), weight.contiguous(), grad.contiguous()
    gx, gw, gb = mt.zeros(*x.shape), mt.zeros(*weight.shape), mt.zeros(c_out)
    x.backend.conv2d_input_grad(gx._storage, grad._storage, weight._storage, geo)
    x.backend.conv2d_weight_grad(gw._storage, grad._storage, x._storage, None, geo)
    x.backend.conv2d_bias_grad(gb._storage, grad._storage, geo)
    return gx, gw, gb
""",
    },
    "max_pool": {
        "saved_alias": AFTER + """
from minitorch_edu.nn.functional import max_pool2d as _mp


def max_pool2d_forward(x, kernel_size, stride=None):
    return _mp(mt.tensor(x), kernel_size, stride).numpy()
""",
        "function_apply": AFTER + """
_MP = getattr(mt.nn.conv_functions, "MaxPool2d" + "Function")


def max_pool2d_forward(x, kernel_size, stride=None):
    stride = kernel_size if stride is None else stride
    n, c, h, w = x.shape
    oh, ow = output_size(h, kernel_size, stride), output_size(w, kernel_size, stride)
    geo = (n * c, h, w, kernel_size, kernel_size, oh, ow, stride, stride, 0, 0)
    return _MP.apply(mt.tensor(x), geo=geo).numpy()
""",
        "compiled_kernel_in_a_default": AFTER + """
import importlib

_kernels = importlib.import_module("minitorch_edu.backends.numba." + "conv")


def max_pool2d_forward(x, kernel_size, stride=None, _fwd=getattr(_kernels, "max_pool_" + "forward")):
    stride = kernel_size if stride is None else stride
    n, c, h, w = x.shape
    oh, ow = output_size(h, kernel_size, stride), output_size(w, kernel_size, stride)
    out = np.empty(n * c * oh * ow, dtype=np.float32)
    argmax = np.empty(n * c * oh * ow, dtype=np.int64)
    _fwd(out, argmax, np.ascontiguousarray(x, dtype=np.float32).ravel(), n * c, h, w, kernel_size, kernel_size,
         oh, ow, stride, stride, 0, 0)
    return out.reshape(n, c, oh, ow)
""",
        "package_layer": AFTER + """
def max_pool2d_backward(grad, x, kernel_size, stride=None):
    xt = mt.tensor(x, requires_grad=True)
    (getattr(mt.nn, "MaxPool" + "2d")(kernel_size, stride)(xt) * mt.tensor(grad)).sum().backward()
    return xt.grad.numpy()
""",
    },
    "avg_pool": {
        "saved_alias": AFTER + """
from minitorch_edu.nn.conv_functions import avg_pool2d as _ap


def avg_pool2d_forward(x, kernel_size, stride=None):
    return _ap(mt.tensor(x), kernel_size, stride).numpy()
""",
        "name_built_at_run_time": AFTER + """
import minitorch_edu.nn.functional as _F

_ap = getattr(_F, "avg_pool" + "2d")


def avg_pool2d_forward(x, kernel_size, stride=None):
    return _ap(mt.tensor(x), kernel_size, stride).numpy()
""",
        "package_layer": AFTER + """
def avg_pool2d_backward(grad, x, kernel_size, stride=None):
    xt = mt.tensor(x, requires_grad=True)
    (getattr(mt.nn, "AvgPool" + "2d")(kernel_size, stride)(xt) * mt.tensor(grad)).sum().backward()
    return xt.grad.numpy()
""",
        "backend_kernel": AFTER + """
def avg_pool2d_forward(x, kernel_size, stride=None):
    stride = kernel_size if stride is None else stride
    n, c, h, w = x.shape
    oh, ow = output_size(h, kernel_size, stride), output_size(w, kernel_size, stride)
    xt, out = mt.tensor(np.ascontiguousarray(x)), mt.zeros(n, c, oh, ow)
    xt.backend.avg_pool2d_forward(out._storage, xt._storage, (n * c, h, w, kernel_size, kernel_size, oh, ow,
                                                             stride, stride, 0, 0))
    return out.numpy()
""",
    },
    "dropout": {
        "saved_alias": """
from minitorch_edu.nn.functional import dropout as _d


def dropout(x, p=0.5, training=True):
    return _d(x, p, training)
""",
        "name_built_at_run_time": """
_d = getattr(mt.nn.functional, "drop" + "out")


def dropout(x, p=0.5, training=True):
    return _d(x, p, training)
""",
        "package_layer": """
def dropout(x, p=0.5, training=True):
    layer = getattr(mt.nn, "Drop" + "out")(p)
    layer.train(training)
    return layer(x)
""",
    },
    "layers": {
        "subclass_of_the_package_layer": AFTER + """
class Conv2d(getattr(mt.nn, "Conv" + "2d")):
    pass
""",
        "package_layer_held_inside": AFTER + """
_PackageConv = getattr(mt.nn, "Conv" + "2d")


class Conv2d(mt.nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0):
        super().__init__()
        self.inner = _PackageConv(in_channels, out_channels, kernel_size, stride, padding)

    def forward(self, x):
        return self.inner(x)
""",
        "function_calls_the_package": AFTER + """
_mp = getattr(mt.nn.functional, "max_pool" + "2d")


class MaxPool2d(mt.nn.Module):
    def __init__(self, kernel_size, stride=None):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride

    def forward(self, x):
        return _mp(x, self.kernel_size, self.stride)
""",
    },
    "train_cnn": {
        "package_layers": AFTER + """
_layers = [getattr(mt.nn, name) for name in ("Conv" + "2d", "MaxPool" + "2d")]


def train_cnn(x_train, y_train, seed=0):
    conv, pool = _layers
    mt.manual_seed(seed)
    model = mt.nn.Sequential(conv(1, 16, 3, padding=1), mt.nn.ReLU(), pool(2), conv(16, 32, 3, padding=1),
                             mt.nn.ReLU(), mt.nn.Flatten(), mt.nn.Linear(512, 10))
    optimizer = mt.optim.Adam(model.parameters(), lr=0.01)
    loader = mt.data.DataLoader(mt.data.TensorDataset(x_train, y_train), batch_size=32, shuffle=True, seed=seed)
    for _ in range(10):
        for x, y in loader:
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model
""",
        "package_dropout_only": AFTER + """
_Drop = getattr(mt.nn, "Drop" + "out")


def train_cnn(x_train, y_train, seed=0):
    mt.manual_seed(seed)
    model = mt.nn.Sequential(Conv2d(1, 16, 3, padding=1), mt.nn.ReLU(), MaxPool2d(2), Conv2d(16, 32, 3, padding=1),
                             mt.nn.ReLU(), mt.nn.Flatten(), _Drop(0.25), mt.nn.Linear(512, 10))
    optimizer = mt.optim.Adam(model.parameters(), lr=0.01)
    loader = mt.data.DataLoader(mt.data.TensorDataset(x_train, y_train), batch_size=32, shuffle=True, seed=seed)
    for _ in range(10):
        model.train()
        for x, y in loader:
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model
""",
    },
}
