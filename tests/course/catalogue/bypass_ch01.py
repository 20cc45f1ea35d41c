"""Shortcuts through the package for chapter 01: each must score 0 on its part (issue 22).

`trace`, `topological_order` and `backprop` work on the chapter's own `Value` graph, which the package
cannot walk: no route through the package applies to them.
"""

SLUG = "01_scalar_autodiff"

_AUTOGRAD = '''
def _package_grads(f, *xs, grad):
    leaves = [mt.tensor(float(x), dtype="float64", requires_grad=True) for x in xs]
    f(*leaves).backward(mt.tensor(float(grad), dtype="float64"))
    return [float(t.grad.item()) for t in leaves]
'''

BYPASS = {
    "add_mul": {
        "autograd": _AUTOGRAD + '''

def add_backward(grad, out, a, b):
    return tuple(_package_grads(lambda x, y: x + y, a, b, grad=grad))


def mul_backward(grad, out, a, b):
    return tuple(_package_grads(lambda x, y: x * y, a, b, grad=grad))
''',
    },
    "pow_exp_log": {
        "autograd": _AUTOGRAD + '''

def pow_backward(grad, out, a, n):
    return _package_grads(lambda x: x ** n, a, grad=grad)[0]


def exp_backward(grad, out, a):
    return _package_grads(lambda x: x.exp(), a, grad=grad)[0]


def log_backward(grad, out, a):
    return _package_grads(lambda x: x.log(), a, grad=grad)[0]
''',
    },
    "activations": {
        "autograd": _AUTOGRAD + '''

def tanh_backward(grad, out, a):
    return _package_grads(lambda x: x.tanh(), a, grad=grad)[0]


def sigmoid_backward(grad, out, a):
    return _package_grads(lambda x: x.sigmoid(), a, grad=grad)[0]


def relu_backward(grad, out, a):
    return _package_grads(lambda x: x.relu(), a, grad=grad)[0]
''',
    },
    "tensor_backprop": {
        "hidden_saved_name": """
import importlib

# a name the scan of the cell cannot read: only the seal on the function object itself refuses it
_hidden = getattr(importlib.import_module("minitorch_edu." + "core.autograd"), "bac" + "kpropagate")


def tensor_backprop(root, grad, order=None):
    _hidden(root, grad)
""",
        "context_manager": '''
def tensor_backprop(root, grad, order=None):
    with mt.use_backprop(mt.core.autograd.backpropagate):
        root.backward(grad)
''',
        "saved_name": '''
from minitorch_edu.core.autograd import backpropagate as _backpropagate


def tensor_backprop(root, grad, order=None):
    _backpropagate(root, grad)
''',
        "is_the_reference": '''
import minitorch_edu.core.autograd as _autograd

tensor_backprop = _autograd.backpropagate
''',
        "autograd_grad": '''
def tensor_backprop(root, grad, order=None):
    order = tensor_order(root) if order is None else order
    leaves = [t for t in order if t.grad_fn is None and t.requires_grad]
    for t, g in zip(leaves, mt.autograd.grad(root, leaves, grad, allow_unused=True)):
        if g is not None:
            t.grad = g if t.grad is None else t.grad + g
''',
    },
}
