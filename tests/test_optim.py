"""SGD: one step makes p − lr·∂L/∂p a new array (the old one is left alone); zero_grad clears;
bad learning rates are refused."""
from __future__ import annotations

import numpy as np
import pytest

import tinygrad_sm.nn as nn
from tinygrad_sm import Tensor
from tinygrad_sm.optim import SGD


def test_step_is_w_minus_lr_times_grad():
    rng = np.random.default_rng(0)
    W = Tensor(rng.normal(size=(3, 2)), requires_grad=True, name="W")
    b = Tensor(rng.normal(size=2), requires_grad=True, name="b")
    W.grad, b.grad = rng.normal(size=(3, 2)), rng.normal(size=2)
    before_W, before_b, array = W.data.copy(), b.data.copy(), W.data
    SGD([W, b], lr=0.3).step()
    np.testing.assert_allclose(W.data, before_W - 0.3 * W.grad, rtol=0, atol=1e-15)
    np.testing.assert_allclose(b.data, before_b - 0.3 * b.grad, rtol=0, atol=1e-15)
    assert np.array_equal(array, before_W)  # a new array: the old one (maybe in a kept graph) stays


def test_step_after_backward_matches_closed_form_gradient():
    """Softmax regression: ∂L/∂W = Xᵀ(softmax(XW + b) − Y)/n, ∂L/∂b = column sums of the same."""
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(6, 4)), np.array([0, 2, 1, 2, 0, 1])
    model = nn.SoftmaxRegression(4, 3, seed=2, dtype=np.float64)
    W0, b0 = model.W.data.copy(), model.b.data.copy()
    optimizer = SGD(model.parameters(), lr=0.5)
    nn.cross_entropy(model(X), y).backward()
    optimizer.step()
    logits = X @ W0 + b0
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    delta = (probs - np.eye(3)[y]) / len(y)
    np.testing.assert_allclose(model.W.data, W0 - 0.5 * X.T @ delta, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(model.b.data, b0 - 0.5 * delta.sum(axis=0), rtol=1e-12, atol=1e-14)


def test_parameter_without_grad_is_left_alone_and_zero_grad_clears():
    a = Tensor([1.0, 2.0], requires_grad=True)
    c = Tensor([5.0], requires_grad=True)
    a.grad = np.array([1.0, 1.0], dtype=np.float32)
    optimizer = SGD([a, c], lr=1.0)
    optimizer.step()
    assert np.array_equal(a.data, [0.0, 1.0]) and np.array_equal(c.data, [5.0])
    optimizer.zero_grad()
    assert a.grad is None and c.grad is None


@pytest.mark.parametrize("lr", [0, -1.0, float("nan"), float("inf")])
def test_non_positive_learning_rate_is_refused(lr):
    with pytest.raises(ValueError, match="learning rate must be positive and finite"):
        SGD([Tensor([1.0], requires_grad=True)], lr=lr)


def test_step_leaves_the_callers_array_and_the_kept_graph_untouched():
    start = np.array([[1.0, 2.0], [3.0, 4.0]])
    W = Tensor(start, requires_grad=True, name="W")
    X = Tensor(np.array([[1.0, -1.0]]), requires_grad=True, name="X")
    loss = (X @ W).sum()
    loss.backward()
    np.testing.assert_array_equal(X.grad, [[3.0, 7.0]])   # row sums of W
    SGD([W], lr=0.5).step()
    np.testing.assert_array_equal(start, [[1.0, 2.0], [3.0, 4.0]])
    X.grad = None
    loss.backward()  # the kept graph still backpropagates through the W it was built with
    np.testing.assert_array_equal(X.grad, [[3.0, 7.0]])


@pytest.mark.parametrize("lr", [np.float64(0.1), np.float32(0.1), 0.1])
def test_step_keeps_each_parameters_dtype(lr):
    W = Tensor(np.ones((2, 2), dtype=np.float32), requires_grad=True)
    b = Tensor(np.ones(2, dtype=np.float64), requires_grad=True)
    W.grad, b.grad = np.ones((2, 2), dtype=np.float32), np.ones(2)
    optimizer = SGD([W, b], lr=lr)
    for _ in range(2):
        optimizer.step()
    assert W.dtype == np.float32 and b.dtype == np.float64
    np.testing.assert_allclose(W.data, 1 - 2 * 0.1, rtol=1e-6)
    optimizer.lr = np.float64(0.2)  # a schedule may set it later, to a numpy number too
    optimizer.step()
    assert W.dtype == np.float32


@pytest.mark.parametrize("lr,type_name", [(True, "bool"), ("0.1", "str"), (None, "NoneType"),
                                          (np.array([0.1]), "ndarray")])
def test_a_learning_rate_that_is_not_a_number_is_refused(lr, type_name):
    with pytest.raises(TypeError, match=rf"^SGD: the learning rate must be a number, got .*"
                                        rf"\({type_name}\)$"):
        SGD([Tensor([1.0], requires_grad=True)], lr=lr)


def test_a_gradient_of_the_wrong_shape_is_refused_not_broadcast():
    b = Tensor(np.zeros(3), requires_grad=True, name="b")
    b.grad = np.ones((1, 3))
    with pytest.raises(ValueError, match=r"^SGD: parameter 'b' of shape \(3,\) has a gradient "
                                         r"of shape \(1, 3\)$"):
        SGD([b], lr=0.1).step()
    np.testing.assert_array_equal(b.data, np.zeros(3))


def test_a_parameter_listed_twice_is_stepped_once():
    model = nn.SoftmaxRegression(2, 2, dtype=np.float64)
    model.W.grad, model.b.grad = np.ones((2, 2)), np.ones(2)
    before = model.W.data.copy()
    optimizer = SGD(model.parameters() + [model.W], lr=0.5)
    assert optimizer.params == [model.W, model.b]  # first place kept
    optimizer.step()
    np.testing.assert_array_equal(model.W.data, before - 0.5)


def test_two_models_sharing_a_layer_step_it_once():
    class Head(nn.Module):
        def __init__(self, shared):
            self.body, self.out = shared, nn.Linear(3, 1, dtype=np.float64)

    shared = nn.Linear(2, 3, dtype=np.float64)
    a, b = Head(shared), Head(shared)
    optimizer = SGD(a.parameters() + b.parameters(), lr=1.0)
    assert len(optimizer.params) == 6
    shared.b.grad = np.ones(3)
    optimizer.step()
    np.testing.assert_array_equal(shared.b.data, -np.ones(3))


def test_a_model_that_holds_one_layer_twice_lists_it_once():
    class Twice(nn.Module):
        def __init__(self):
            layer = nn.Linear(2, 2)
            self.first, self.again, self.all = layer, layer, [layer, layer]

    model = Twice()
    assert [p.name for p in model.parameters()] == ["first.W", "first.b"]
    assert list(model.named_parameters()) == ["first.W", "first.b"]


@pytest.mark.parametrize("bad, message", [
    (np.ones(2), r"^SGD: params\[1\] is a ndarray, not a Tensor; make it with "
                 r"Tensor\(\.\.\., requires_grad=True\)$"),
    (Tensor([1.0], name="x"), r"^SGD: params\[1\] \('x'\) does not require grad, so it would "
                              r"never change; make it with requires_grad=True$"),
    ([1.0], r"^SGD: params\[1\] is a list, not a Tensor"),
])
def test_what_is_not_a_parameter_is_refused_at_construction_by_place(bad, message):
    W = Tensor([1.0], requires_grad=True)
    with pytest.raises((TypeError, ValueError), match=message):
        SGD([W, bad], lr=0.1)


def test_a_single_tensor_instead_of_a_list_is_refused():
    with pytest.raises(TypeError, match=r"^SGD: params must be a list of tensors, got a single "
                                        r"Tensor \('W'\); write \[W\]$"):
        SGD(Tensor([1.0], requires_grad=True, name="W"), lr=0.1)
