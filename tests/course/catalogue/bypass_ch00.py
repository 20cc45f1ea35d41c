"""Shortcuts through the package for chapter 00: each must score 0 on its part (issue 22).

A solution that hands the work to the package, by any route: a name saved before the checks run, a
public function, a layer, autograd. Chapter 00 is NumPy only, so every route here also uses the package.
"""

SLUG = "00_why_frameworks"

BYPASS = {
    "forward": {
        "saved_name": '''
from minitorch_edu.nn.functional import linear as _linear


def forward(X, params):
    x = mt.tensor(X)
    z1 = _linear(x, mt.tensor(params["W1"].T), mt.tensor(params["b1"]))
    h1 = z1.relu()
    logits = _linear(h1, mt.tensor(params["W2"].T), mt.tensor(params["b2"]))
    return logits.numpy(), {"X": X, "z1": z1.numpy(), "h1": h1.numpy()}
''',
        "public_layer": '''
def forward(X, params):
    layer1, layer2 = mt.nn.Linear(*params["W1"].shape), mt.nn.Linear(*params["W2"].shape)
    P = mt.nn.Parameter
    layer1.weight, layer1.bias = P(mt.tensor(params["W1"].T)), P(mt.tensor(params["b1"]))
    layer2.weight, layer2.bias = P(mt.tensor(params["W2"].T)), P(mt.tensor(params["b2"]))
    z1 = layer1(mt.tensor(X))
    h1 = z1.relu()
    return layer2(h1).numpy(), {"X": X, "z1": z1.numpy(), "h1": h1.numpy()}
''',
    },
    "cross_entropy_loss": {
        "hidden_saved_name": """
import importlib

# a name the scan of the cell cannot read: only the seal on the function object itself refuses it
_hidden = getattr(importlib.import_module("minitorch_edu." + "nn.functional"), "cro" + "ss_entropy")


def cross_entropy_loss(logits, y):
    return float(_hidden(mt.tensor(logits), mt.tensor(y)).item())
""",
        "public_layer": '''
def cross_entropy_loss(logits, y):
    return float(mt.nn.CrossEntropyLoss()(mt.tensor(logits), mt.tensor(y)).item())
''',
        "saved_name": '''
from minitorch_edu.nn.functional import cross_entropy as _package_ce


def cross_entropy_loss(logits, y):
    return float(_package_ce(mt.tensor(logits), mt.tensor(y)).item())
''',
        "public_function": '''
def cross_entropy_loss(logits, y):
    log_p = mt.log_softmax(mt.tensor(logits), -1).numpy()
    return float(-log_p[np.arange(len(y)), y].mean())
''',
    },
    "cross_entropy_grad": {
        "autograd": '''
def cross_entropy_grad(logits, y):
    t = mt.tensor(logits, requires_grad=True)
    mt.nn.functional.cross_entropy(t, mt.tensor(y)).backward()
    return t.grad.numpy()
''',
        "public_function": '''
def cross_entropy_grad(logits, y):
    p = mt.softmax(mt.tensor(logits), -1).numpy().copy()
    p[np.arange(len(y)), y] -= 1.0
    return p / len(y)
''',
    },
    "linear_backward": {
        "autograd": '''
def linear_backward(dout, x, W):
    xt, Wt = mt.tensor(x, requires_grad=True), mt.tensor(W, requires_grad=True)
    b = mt.tensor(np.zeros(W.shape[1]), requires_grad=True)
    (xt @ Wt + b).backward(mt.tensor(dout))
    return xt.grad.numpy(), Wt.grad.numpy(), b.grad.numpy()
''',
        "autograd_grad": '''
def linear_backward(dout, x, W):
    xt, Wt = mt.tensor(x, requires_grad=True), mt.tensor(W, requires_grad=True)
    b = mt.tensor(np.zeros(W.shape[1]), requires_grad=True)
    grads = mt.autograd.grad(xt @ Wt + b, (xt, Wt, b), mt.tensor(dout))
    return tuple(g.numpy() for g in grads)
''',
    },
    "relu_backward": {
        "autograd": '''
def relu_backward(dout, z):
    zt = mt.tensor(z, requires_grad=True)
    zt.relu().backward(mt.tensor(dout))
    return zt.grad.numpy()
''',
        "saved_name": '''
_relu = mt.relu


def relu_backward(dout, z):
    zt = mt.tensor(z, requires_grad=True)
    _relu(zt).backward(mt.tensor(dout))
    return zt.grad.numpy()
''',
    },
    "backward": {
        "autograd": '''
def backward(logits, y, params, cache):
    t = {k: mt.tensor(v, requires_grad=True) for k, v in params.items()}
    h1 = (mt.tensor(cache["X"]) @ t["W1"] + t["b1"]).relu()
    out = h1 @ t["W2"] + t["b2"]
    mt.nn.functional.cross_entropy(out, mt.tensor(y)).backward()
    return {k: v.grad.numpy() for k, v in t.items()}
''',
    },
    "numerical_gradient": {
        "saved_name": '''
from minitorch_edu.core.gradcheck import numerical_grad as _numerical_grad


def numerical_gradient(f, x, eps=1e-5):
    as_tensor = lambda t: mt.tensor(float(f(t.numpy())), dtype="float64")  # noqa: E731
    return _numerical_grad(as_tensor, [mt.tensor(x, dtype="float64")], 0, eps)
''',
    },
    "gradient_descent": {
        "public_optimizer": '''
def gradient_descent(params, loss_and_grads, lr, steps):
    tensors = {k: mt.tensor(v, requires_grad=True) for k, v in params.items()}
    optimizer = mt.optim.SGD(list(tensors.values()), lr=lr)
    losses = []
    for _ in range(steps):
        loss, grads = loss_and_grads(params)
        for k, t in tensors.items():
            t.grad = mt.tensor(grads[k])
        optimizer.step()
        for k, t in tensors.items():
            params[k][...] = t.numpy()
        losses.append(float(loss))
    return losses
''',
    },
}
