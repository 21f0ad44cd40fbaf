"""Data changed in place between forward and backward (issue 11.1): impossible or loud.

What a graph keeps for backward is made read-only (with the arrays it views), so writing to it
raises; a tensor's `.data` is copied on write, so `W.data -= lr * W.grad` and `W.data[...] = 0`
change the tensor and never the values a graph already built backpropagates with.
"""
from __future__ import annotations

import gc

import numpy as np
import pytest

import tinygrad_sm.nn as nn
from tinygrad_sm import Tensor, gradcheck, no_grad
from tinygrad_sm.ops import Op
from tinygrad_sm.optim import SGD


def test_writing_to_the_callers_array_after_the_forward_is_refused():
    arr = np.array([1.0, 2.0])
    x = Tensor(arr, requires_grad=True)
    y = (x * x).sum()
    with pytest.raises(ValueError, match="read-only"):
        arr[:] = 10
    y.backward()
    np.testing.assert_array_equal(x.grad, [2.0, 4.0])  # 2x at the forward's x, not [20, 20]


def test_writing_through_w_data_before_backward_leaves_the_graph_alone():
    X = Tensor(np.array([[3.0, 4.0]]), requires_grad=True)
    W = Tensor(np.array([[100.0], [100.0]]), requires_grad=True)
    loss = (X @ W).sum()
    W.data[...] = 0  # a new array for W; the graph keeps the one the forward used
    loss.backward()
    np.testing.assert_array_equal(X.grad, [[100.0, 100.0]])
    np.testing.assert_array_equal(W.grad, [[3.0], [4.0]])
    np.testing.assert_array_equal(W.data, [[0.0], [0.0]])


def test_the_readme_loop_updates_in_place_and_a_kept_graph_keeps_its_values():
    X = Tensor(np.array([[1.0, -1.0]]), requires_grad=True)
    W = Tensor(np.array([[1.0, 2.0], [3.0, 4.0]]), requires_grad=True)
    loss = (X @ W).sum()
    loss.backward()
    W.data -= 0.5 * W.grad  # the loop of the README, run while the graph is still kept
    np.testing.assert_array_equal(W.data, [[0.5, 1.5], [3.5, 4.5]])
    X.grad = None
    loss.backward()
    np.testing.assert_array_equal(X.grad, [[3.0, 7.0]])  # row sums of the forward's W


def test_the_readme_loop_learns_with_in_place_updates():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(20, 3)).astype(np.float32), rng.integers(0, 2, size=20)
    W = Tensor(np.zeros((3, 2), dtype=np.float32), requires_grad=True)
    b = Tensor(np.zeros(2, dtype=np.float32), requires_grad=True)
    losses = []
    for _ in range(30):
        loss = nn.cross_entropy(Tensor(X) @ W + b, y)
        loss.backward()
        W.data -= 0.5 * W.grad
        b.data -= 0.5 * b.grad
        W.grad = b.grad = None
        losses.append(loss.item())
    assert losses[-1] < losses[0] - 0.05 and W.dtype == np.float32


def test_what_an_op_saves_is_frozen_only_when_it_joins_a_graph():
    X_arr, W_arr = np.ones((2, 3)), np.ones((3, 1))
    X, W = Tensor(X_arr), Tensor(W_arr, requires_grad=True)
    assert X_arr.flags.writeable and W_arr.flags.writeable  # making a tensor freezes nothing
    with no_grad():
        X @ W
    assert X_arr.flags.writeable and W_arr.flags.writeable  # no graph, nothing kept
    Tensor(X_arr) @ Tensor(W_arr)
    assert X_arr.flags.writeable  # no input needs a gradient: no graph either
    out = X @ W
    assert not X_arr.flags.writeable and not W_arr.flags.writeable  # matmul saved both
    assert out.data.flags.writeable  # the output is not read by matmul's backward


def test_the_arrays_a_kept_array_views_are_frozen_too():
    base = np.arange(6.0)
    x = Tensor(base[:4].reshape(2, 2), requires_grad=True)
    y = (x * x).sum()
    with pytest.raises(ValueError, match="read-only"):
        base[0] = 100.0
    y.backward()
    np.testing.assert_array_equal(x.grad, 2 * np.arange(4.0).reshape(2, 2))


def test_reading_data_of_a_kept_tensor_gives_a_writable_copy():
    arr = np.array([1.0, 2.0])
    x = Tensor(arr, requires_grad=True)
    y = (x * x).sum()
    values = x.data
    assert values.flags.writeable and values is not arr and np.array_equal(values, arr)
    values[:] = 7.0
    assert x.data is values and np.array_equal(arr, [1.0, 2.0])
    y.backward()
    np.testing.assert_array_equal(x.grad, [2.0, 4.0])


def test_a_view_made_by_reshape_cannot_write_into_a_kept_input():
    x = Tensor(np.array([[1.0, 2.0], [3.0, 4.0]]), requires_grad=True)
    flat = x.reshape(4)
    y = (x * x).sum()
    flat.data[...] = 0.0
    np.testing.assert_array_equal(flat.data, np.zeros(4))
    y.backward()
    np.testing.assert_array_equal(x.grad, [[2.0, 4.0], [6.0, 8.0]])


@pytest.mark.parametrize("make", [lambda x: x.exp(), lambda x: x.softmax(), lambda x: x.max()])
def test_an_output_kept_by_its_own_backward_cannot_be_changed(make):
    x = Tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)
    out = make(x)
    expected_out = out.data.copy()
    weights = np.array([1.0, 2.0, 3.0])[:out.data.size].reshape(out.shape)
    loss = (out * weights).sum()
    out.data[...] = 0.0
    loss.backward()
    reference = Tensor(x.data.copy(), requires_grad=True)
    (make(reference) * weights).sum().backward()
    np.testing.assert_allclose(x.grad, reference.grad, rtol=1e-12)
    assert not np.array_equal(expected_out, out.data)


def test_sgd_on_a_kept_graph_and_gradcheck_still_work():
    W = Tensor(np.array([[1.0, 2.0]]), requires_grad=True)
    x = Tensor(np.array([[3.0], [4.0]]), requires_grad=True)
    loss = (x @ W).sum()
    loss.backward()
    SGD([W, x], lr=0.1).step()
    np.testing.assert_allclose(W.data, [[0.3, 1.3]])
    assert gradcheck(lambda a, b: (a @ b).exp().sum(), x, W)


# ---- the protection ends with the graph (MyGrad releases its locks the same way) ----

def test_the_users_data_set_is_writable_again_once_the_graph_is_freed():
    X = np.random.default_rng(0).random((100, 4)).astype(np.float32)
    W = Tensor(np.ones((4, 2), np.float32), requires_grad=True)
    loss = (Tensor(X[:32]) @ W).sum()
    loss.backward()
    with pytest.raises(ValueError):  # alive: X is what backward would read again
        X -= 1
    del loss
    X -= X.mean(axis=0)  # the graph is gone: the user's array is theirs again
    assert X.flags.writeable and W._data.flags.writeable


def test_an_array_two_graphs_saved_stays_read_only_until_both_are_freed():
    X = np.ones((3, 4), np.float32)
    W = Tensor(np.ones((4, 2), np.float32), requires_grad=True)
    first, second = (Tensor(X) @ W).sum(), (Tensor(X) @ W).sum()
    del first
    assert not X.flags.writeable
    del second
    assert X.flags.writeable


def test_an_array_read_only_before_the_graph_stays_read_only_after():
    X = np.ones((3, 4), np.float32)
    X.setflags(write=False)
    W = Tensor(np.ones((4, 2), np.float32), requires_grad=True)
    loss = (Tensor(X) @ W).sum()
    del loss
    assert not X.flags.writeable


def test_a_kept_trace_keeps_its_arrays_protected():
    X = np.ones((3, 4), np.float32)
    W = Tensor(np.ones((4, 2), np.float32), requires_grad=True)
    trace = (Tensor(X) @ W).sum().backward(trace=True)
    assert not X.flags.writeable  # the trace holds the graph, which may be stepped through again
    del trace
    gc.collect()  # a trace refers to itself (steps to their trace): freed by the collector
    assert X.flags.writeable


def test_an_array_the_op_made_itself_is_protected_once_the_output_views_it():
    class FirstColumns(Op):  # saves its own array and returns a view of it
        name, formula = "first_columns", "{out} = 2{a}[:, :2]"
        rules = ("∂L/∂{a} = pad(2 ∂L/∂{out})",)

        def forward(self, a):
            doubled = 2 * a
            self.save(doubled)
            return doubled[:, :2]

        def backward(self, g, needs):
            (doubled,) = self.saved
            grad = np.zeros_like(doubled)
            grad[:, :2] = 2 * g
            return (grad,)

    x = Tensor(np.ones((2, 3)), requires_grad=True)
    out = FirstColumns.apply(x)
    with pytest.raises(ValueError, match="read-only"):
        out._data[:] = 0  # would write into what backward reads
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, [[2, 2, 0], [2, 2, 0]])


def test_private_arrays_an_op_made_are_not_frozen():
    o = Tensor(np.zeros((2, 3)), requires_grad=True)
    loss = nn.cross_entropy(o, np.array([0, 2]))
    probs = loss.op.saved[0]
    assert probs.flags.writeable  # nothing outside the op holds it: nothing to protect
