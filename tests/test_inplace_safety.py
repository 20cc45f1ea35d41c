"""In-place safety for autograd (issue 10): freed graphs, version counters, overlapping writes.

Each test checks the error message (or the values) on every backend; where PyTorch is installed
it also checks that PyTorch raises the same kind of error, or gives the same values.
"""

from __future__ import annotations

import numpy as np
import pytest

import minitorch_edu as mt

try:
    import torch
except ImportError:  # the messages and values below still check everything
    torch = None

FREED = r"Trying to backward through the graph a second time .*retain_graph=True"


def torch_raises(fn, match: str) -> None:
    if torch is not None:
        with pytest.raises(RuntimeError, match=match):
            fn(torch)


# ---------------------------------------------------------------------- a second backward
def test_a_second_backward_through_a_freed_graph_raises(backend: str) -> None:
    x = mt.tensor([1.0, 2.0], requires_grad=True, device=backend)
    y = (x * x).sum()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])
    with pytest.raises(RuntimeError, match=FREED):
        y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])  # nothing was accumulated

    def twice(t):
        tx = t.tensor([1.0, 2.0], requires_grad=True)
        ty = (tx * tx).sum()
        ty.backward()
        ty.backward()

    torch_raises(twice, "Trying to backward through the graph a second time")


def test_retain_graph_allows_a_second_backward(backend: str) -> None:
    x = mt.tensor([1.0, 2.0], requires_grad=True, device=backend)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()  # accumulates: 2 * 2x
    np.testing.assert_allclose(x.grad.numpy(), [4.0, 8.0])
    with pytest.raises(RuntimeError, match=FREED):  # the second one freed it
        y.backward()


def test_a_graph_that_saved_nothing_can_be_walked_again(backend: str) -> None:
    """As in PyTorch: only saved tensors are freed; (x + 1).sum() saves none."""
    x = mt.tensor([1.0, 2.0], requires_grad=True, device=backend)
    y = (x + 1).sum()
    y.backward()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0])
    if torch is not None:
        tx = torch.tensor([1.0, 2.0], requires_grad=True)
        ty = (tx + 1).sum()
        ty.backward()
        ty.backward()
        np.testing.assert_allclose(tx.grad.numpy(), [2.0, 2.0])


def test_a_shared_subgraph_is_freed_for_the_next_loss(backend: str) -> None:
    x = mt.tensor([3.0], requires_grad=True, device=backend)
    h = x.exp()
    h.sum().backward()
    with pytest.raises(RuntimeError, match=FREED):
        (h * 2).sum().backward()  # goes through h's freed ExpBackward


# ---------------------------------------------------------------------- version counters
MODIFIED = (
    r"modified by an inplace operation: \[float32 tensor of shape \(2,\), saved by MulBackward\] "
    r"is at version 1; expected version 0 .*add_ \(\+=\)"
)


def test_modifying_a_saved_tensor_in_place_makes_backward_raise(backend: str) -> None:
    """The issue's example: the gradient would silently use w + 10."""
    x = mt.ones(2, requires_grad=True, device=backend)
    w = mt.tensor([2.0, 3.0], device=backend)
    y = x * w
    w += 10
    with pytest.raises(RuntimeError, match=MODIFIED):
        y.sum().backward()
    assert x.grad is None

    def torch_case(t):
        tx, tw = t.ones(2, requires_grad=True), t.tensor([2.0, 3.0])
        ty = tx * tw
        tw += 10
        ty.sum().backward()

    torch_raises(torch_case, "modified by an inplace operation")


@pytest.mark.parametrize(
    ("update", "op"),
    [
        (lambda w: w.mul_(2.0), r"mul_ \(\*=\)"),
        (lambda w: w.sub_(1.0), r"sub_ \(-=\)"),
        (lambda w: w.div_(2.0), r"div_ \(/=\)"),
        (lambda w: w.copy_(mt.zeros(2, device=w.device)), "copy_"),
        (lambda w: w.zero_(), "copy_"),
        (lambda w: w[1:].fill_(5.0), "copy_"),  # through a view: the storage's counter
        (lambda w: w.__setitem__(0, 7.0), "copy_"),
    ],
    ids=["mul_", "sub_", "div_", "copy_", "zero_", "view-fill_", "setitem"],
)
def test_every_inplace_op_bumps_the_version_and_is_named(backend: str, update, op: str) -> None:
    x = mt.ones(2, requires_grad=True, device=backend)
    w = mt.tensor([2.0, 3.0], device=backend)
    assert w._version == 0
    y = x * w
    update(w)
    assert w._version == 1
    with pytest.raises(RuntimeError, match=rf"is at version 1; expected version 0 .*{op}"):
        y.sum().backward()


def test_an_inplace_change_of_a_saved_output_raises(backend: str) -> None:
    """exp saves its output: changing the result in place breaks exp's backward."""
    x = mt.tensor([0.0, 1.0], requires_grad=True, device=backend)
    y = x.exp()
    with mt.no_grad():
        y.mul_(2.0)
    with pytest.raises(RuntimeError, match=r"saved by ExpBackward\] is at version 1; expected version 0"):
        y.sum().backward()


def test_inplace_changes_of_tensors_that_were_not_saved_are_fine(backend: str) -> None:
    x = mt.ones(2, requires_grad=True, device=backend)
    w = mt.tensor([2.0, 3.0], device=backend)
    y = x + w  # Add saves nothing
    w += 10
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 1.0])
    z = mt.tensor([2.0, 3.0], device=backend)
    y = x * z
    z2 = z.clone()  # a copy has its own counter
    z2 += 1
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 4.0])


def test_an_optimizer_step_bumps_the_version(backend: str) -> None:
    w = mt.tensor([1.0, 2.0], requires_grad=True, device=backend)
    y = w * w
    (w * 3.0).sum().backward()
    before = w._version
    mt.optim.SGD([w], lr=0.1).step()
    assert w._version > before
    np.testing.assert_allclose(w.detach().numpy(), [0.7, 1.7], rtol=1e-6)
    with pytest.raises(RuntimeError, match=r"saved by MulBackward.*SGD\.step"):
        y.sum().backward()


# ---------------------------------------------------------------------- expanded and overlapping writes
def test_a_write_into_expanded_memory_raises(backend: str) -> None:
    a = mt.zeros(3, device=backend)
    b = a.expand(2, 3)
    with pytest.raises(RuntimeError, match=r"shape \(2, 3\) with strides \(0, 1\).*more than one element .*clone\(\)"):
        b += mt.ones(2, 3, device=backend)
    np.testing.assert_allclose(a.numpy(), [0.0, 0.0, 0.0])  # untouched
    with pytest.raises(RuntimeError, match="more than one element"):
        b.copy_(mt.ones(2, 3, device=backend))
    b[0] += 1.0  # one row of the expansion is ordinary memory
    np.testing.assert_allclose(a.numpy(), [1.0, 1.0, 1.0])

    def torch_case(t):
        tb = t.zeros(3).expand(2, 3)
        tb += t.ones(2, 3)

    torch_raises(torch_case, "more than one element of the written-to tensor")


def test_an_inplace_write_from_an_overlapping_source_raises(backend: str) -> None:
    """x[1:] += x[:-1] would give a result that depends on the kernel's order: raise, as PyTorch does."""
    x = mt.arange(4.0, device=backend)
    with pytest.raises(RuntimeError, match=r"shares memory with it: some elements of the input tensor"):
        x[1:] += x[:-1]
    np.testing.assert_allclose(x.numpy(), [0.0, 1.0, 2.0, 3.0])
    with pytest.raises(RuntimeError, match="shares memory"):
        x[1:].copy_(x[:-1])
    m = mt.arange(4.0, device=backend).reshape(2, 2)
    with pytest.raises(RuntimeError, match="shares memory"):
        m += m.T

    def torch_case(t):
        tx = t.arange(4.0)
        tx[1:] += tx[:-1]

    torch_raises(torch_case, "some elements of the input tensor and the written-to tensor refer to a single memory")


def test_inplace_writes_that_do_not_overlap_give_the_right_values(backend: str) -> None:
    x = mt.arange(4.0, device=backend)
    x += x  # the same view on both sides: each element read before it is written
    np.testing.assert_allclose(x.numpy(), [0.0, 2.0, 4.0, 6.0])
    x[::2] += x[1::2]  # interleaved views of one storage touch different elements
    np.testing.assert_allclose(x.numpy(), [2.0, 2.0, 10.0, 6.0])
    x[:2] += x[2:]
    np.testing.assert_allclose(x.numpy(), [12.0, 8.0, 10.0, 6.0])
    x[1:].copy_(x[:-1].clone())  # the documented way: clone the source first
    np.testing.assert_allclose(x.numpy(), [12.0, 12.0, 8.0, 10.0])
