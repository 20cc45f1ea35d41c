"""The learner's backprop as an extension point: `mt.use_backprop(fn)` runs every backward() with it.

A micrograd-style backprop written only against the public API must give the built-in results
(values of gradients, and a whole training run); a plausible wrong one must be caught.
"""

from __future__ import annotations

import numpy as np
import pytest

import minitorch_edu as mt
from minitorch_edu import nn, optim
from minitorch_edu.nn import functional as F


def learner_backprop(root: mt.Tensor, grad: mt.Tensor) -> None:
    """Topological sort by depth-first search, then the chain rule in reverse order."""
    order, seen = [], set()

    def visit(t: mt.Tensor) -> None:
        if id(t) in seen:
            return
        seen.add(id(t))
        if t.grad_fn is not None:
            for parent in t.grad_fn.inputs:
                visit(parent)
        order.append(t)

    visit(root)
    grads = {id(root): grad}
    for t in reversed(order):
        g = grads.pop(id(t), None)
        if g is None or not t.requires_grad:
            continue
        if t.grad_fn is None:
            t.grad = g if t.grad is None else t.grad + g
            continue
        for parent, pg in zip(t.grad_fn.inputs, t.grad_fn.backward(g)):
            if pg is not None and parent.requires_grad:
                grads[id(parent)] = pg if id(parent) not in grads else grads[id(parent)] + pg


def forgetful_backprop(root: mt.Tensor, grad: mt.Tensor) -> None:
    """A classic bug: no topological order, each path pushed on its own, and leaf grads overwritten."""
    stack = [(root, grad)]
    while stack:
        t, g = stack.pop()
        if t.grad_fn is None:
            t.grad = g  # overwrites instead of accumulating
            continue
        for parent, pg in zip(t.grad_fn.inputs, t.grad_fn.backward(g)):
            if pg is not None and parent.requires_grad:
                stack.append((parent, pg))


def gradients(fn, *arrays):
    xs = [mt.tensor(a, dtype="float64", requires_grad=True) for a in arrays]
    fn(*xs).sum().backward()
    return [x.grad.numpy() for x in xs]


def diamond(a, b):
    h = (a * b).tanh()
    return (h * a + h.exp() * b) @ b.T  # a and b reach the output along several paths


ARRAYS = (np.random.default_rng(0).standard_normal((3, 4)), np.random.default_rng(1).standard_normal((3, 4)))


def test_a_learner_backprop_gives_the_built_in_gradients():
    expected = gradients(diamond, *ARRAYS)
    with mt.use_backprop(learner_backprop):
        got = gradients(diamond, *ARRAYS)
    for e, g in zip(expected, got):
        np.testing.assert_allclose(g, e, rtol=1e-12)


def test_a_wrong_backprop_is_caught():
    expected = gradients(diamond, *ARRAYS)
    with mt.use_backprop(forgetful_backprop):
        got = gradients(diamond, *ARRAYS)
    assert any(not np.allclose(g, e) for e, g in zip(expected, got))


def test_the_built_in_backprop_is_back_after_the_block():
    with pytest.raises(ZeroDivisionError), mt.use_backprop(lambda root, grad: 1 / 0):
        gradients(diamond, *ARRAYS)
    assert mt.core.autograd.current_backprop() is mt.core.autograd.backpropagate


def test_training_runs_on_the_learner_backprop():
    def train(backprop):
        mt.manual_seed(0)
        x, y = mt.data.toy.xor(200, seed=0)
        x, y = mt.tensor(x), mt.tensor(y)
        model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))
        opt = optim.Adam(model.parameters(), lr=0.05)
        with mt.use_backprop(backprop):
            for _ in range(100):
                loss = F.cross_entropy(model(x), y)
                opt.zero_grad()
                loss.backward()
                opt.step()
        return loss.item(), (model(x).argmax(1) == y).mean().item()

    builtin_loss, _ = train(mt.core.autograd.backpropagate)
    learner_loss, accuracy = train(learner_backprop)
    assert learner_loss == pytest.approx(builtin_loss, rel=1e-5)
    assert accuracy > 0.9
