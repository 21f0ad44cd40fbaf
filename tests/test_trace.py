"""The backward trace: its contract on softmax regression and on graphs that reuse a node,
and `print(trace)`."""
from __future__ import annotations

import numpy as np
import pytest

import tinygrad_sm.nn as nn
from tinygrad_sm import Tensor
from tinygrad_sm.tracing import node_rules
from tinygrad_sm.i18n import Messages, value_lines
from tinygrad_sm.terminal import format_trace

EN = Messages("en")  # the words of value_lines (a big array: its shape and min/max)


def softmax(o: np.ndarray) -> np.ndarray:
    e = np.exp(o - o.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def closed_form_delta(o: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """∂L/∂o for mean cross-entropy, computed without the engine: (softmax(o) − onehot(y)) / n."""
    return (softmax(o) - np.eye(o.shape[1])[labels]) / len(labels)


@pytest.fixture
def regression():
    """Softmax regression on 2 samples, 3 features, 3 classes, float64, traced."""
    rng = np.random.default_rng(7)
    X = Tensor(rng.normal(size=(2, 3)), name="X")
    model = nn.SoftmaxRegression(3, 3, seed=3, dtype=np.float64)
    model.W.data[...] = rng.normal(0, 0.5, size=(3, 3))
    model.b.data[...] = [0.1, -0.2, 0.3]
    labels = np.array([0, 2])
    o = model(X)
    L = nn.cross_entropy(o, labels)
    trace = L.backward(trace=True)
    return dict(X=X, W=model.W, b=model.b, o=o, XW=o.inputs[0], L=L, labels=labels, trace=trace)


def test_steps_follow_backprop_order_with_their_tensors(regression):
    r = regression
    trace = r["trace"]
    assert len(trace) == 3 and [s.op for s in trace] == ["cross_entropy", "add", "matmul"]
    assert [s.index for s in trace] == [0, 1, 2] and trace[1] is list(trace)[1]
    assert [s.output for s in trace] == [r["L"], r["o"], r["XW"]]
    assert trace[1].inputs == (r["XW"], r["b"]) and trace[2].inputs == (r["X"], r["W"])
    assert trace[0].inputs[1].name == "y"
    # ∂L/∂L = 1 is the seed; each later step receives the gradient of its output, checked
    # against the closed form (not against the trace's own arrays, which may be the same object)
    assert trace[0].grad_output == 1.0 and np.array_equal(trace.seed, np.ones(()))
    delta = closed_form_delta(r["o"].data, r["labels"])
    np.testing.assert_allclose(trace[1].grad_output, delta, atol=1e-12)   # ∂L/∂o
    np.testing.assert_allclose(trace[2].grad_output, delta, atol=1e-12)   # ∂L/∂XW = ∂L/∂o
    # data needs no gradient, so none is computed
    assert trace[0].grad_inputs[1] is None and trace[2].grad_inputs[0] is None
    for step in trace:
        for x, g in zip(step.inputs, step.grad_inputs):
            assert g is None or g.shape == x.shape


def test_rule_text_comes_from_the_op_with_names_filled_in(regression):
    trace = regression["trace"]
    labels = trace.labels()
    for step in trace:   # the same text as the static diagram's edges, in the graph's names
        assert step.rules == node_rules(step.output, labels)
    assert trace[2].rule == "∂L/∂W = Xᵀ · ∂L/∂XW"   # only W receives a gradient
    assert trace[1].rule == "∂L/∂XW = ∂L/∂o; ∂L/∂b = Σ_rows ∂L/∂o"   # b was broadcast over rows
    assert trace[0].rule == "∂L/∂o = (softmax(o) − y) / n · ∂L/∂L"


def test_gradients_match_the_closed_form(regression):
    r = regression
    delta = closed_form_delta(r["o"].data, r["labels"])
    np.testing.assert_allclose(r["trace"][0].grad_inputs[0], delta, atol=1e-12)
    np.testing.assert_allclose(r["W"].grad, r["X"].data.T @ delta, atol=1e-12)
    np.testing.assert_allclose(r["b"].grad, delta.sum(axis=0), atol=1e-12)


def test_undone_broadcast_is_recorded_as_a_column_sum(regression):
    add = regression["trace"][1]
    assert add.summed_axes == (None, (0,))
    assert add.local_grads[1].shape == (2, 3)       # as the op returned it
    np.testing.assert_allclose(add.grad_inputs[1], add.local_grads[1].sum(axis=0))
    text = format_trace(regression["trace"])
    assert "broadcast undone: summed (2, 3) over axis 0 to (3,)" in text
    assert "∂L/∂b at step 2 (add): ∂L/∂b = Σ_rows ∂L/∂o" in text


def test_contributions_sum_to_grad(regression):
    r = regression
    trace = r["trace"]
    delta = closed_form_delta(r["o"].data, r["labels"])
    expected = {"W": r["X"].data.T @ delta, "b": delta.sum(axis=0), "o": delta, "XW": delta}
    for name, want in expected.items():
        t = r[name]
        terms = trace.contributions(t)
        assert len(terms) == 1
        np.testing.assert_allclose(sum(g for _, _, g in terms), want, atol=1e-12)
        np.testing.assert_allclose(t.grad, want, atol=1e-12)
    assert trace.contributions(regression["X"]) == []
    assert trace.accumulated() == []


def test_tracing_is_off_by_default_and_gives_the_same_gradients(regression):
    r = regression
    W = Tensor(r["W"].data.copy(), requires_grad=True, name="W")
    b = Tensor(r["b"].data.copy(), requires_grad=True, name="b")
    L = nn.cross_entropy(r["X"] @ W + b, r["labels"])
    assert L.backward() is None
    np.testing.assert_array_equal(W.grad, r["W"].grad)
    np.testing.assert_array_equal(b.grad, r["b"].grad)


@pytest.fixture
def diamond():
    """L = Σ (a ⊙ b + a ⊙ c): a feeds two consumers, so its gradient is b + c."""
    a = Tensor([1.0, 2.0], requires_grad=True, name="a")
    b = Tensor([3.0, 4.0], requires_grad=True, name="b")
    c = Tensor([5.0, 7.0], requires_grad=True, name="c")
    ab, ac = (a * b).named("ab"), (a * c).named("ac")
    L = (ab + ac).named("s").sum().named("L")
    return dict(a=a, b=b, c=c, L=L, trace=L.backward(trace=True))


def test_diamond_sums_the_contributions_of_both_consumers(diamond):
    a, trace = diamond["a"], diamond["trace"]
    assert [s.op for s in trace] == ["sum", "add", "mul", "mul"]
    terms = trace.contributions(a)
    assert [(s.output.name, i) for s, i, _ in terms] == [("ac", 0), ("ab", 0)]
    np.testing.assert_array_equal(terms[0][2], [5.0, 7.0])
    np.testing.assert_array_equal(terms[1][2], [3.0, 4.0])
    np.testing.assert_array_equal(a.grad, [8.0, 11.0])
    (tensor, listed), = trace.accumulated()
    assert tensor is a and len(listed) == 2
    text = format_trace(trace)
    assert "∂L/∂a is the sum of 2 contributions" in text
    assert "[ 8 11]" in text                                      # the total
    assert "step 3 (mul, input 0): ∂L/∂a = ∂L/∂ac ⊙ c" in text   # numbered from 1: trace[2]


def test_a_tensor_used_twice_by_one_op_gets_two_contributions():
    x = Tensor([3.0, -2.0], requires_grad=True, name="x")
    L = (x * x).named("sq").sum().named("L")
    trace = L.backward(trace=True)
    mul = trace[1]
    assert mul.inputs == (x, x)
    np.testing.assert_array_equal(mul.grad_inputs[0], [3.0, -2.0])
    np.testing.assert_array_equal(mul.grad_inputs[1], [3.0, -2.0])
    assert [i for _, i, _ in trace.contributions(x)] == [0, 1]
    np.testing.assert_array_equal(x.grad, [6.0, -4.0])


def test_printed_table_shows_steps_rules_shapes_and_values(regression):
    trace = regression["trace"]
    text = str(trace)
    assert "\x1b" not in text                         # plain text, no escape codes
    assert text.count("\n") > 20
    for step in trace:
        assert step.op in text and step.rule.split("; ")[0] in text
    assert "∂L/∂W (3, 3)" in text and "∂L/∂o (2, 3)" in text
    for line in value_lines(EN, regression["W"].grad) + value_lines(EN, regression["b"].grad):
        assert line in text


def test_unnamed_tensors_get_labels_and_rules_use_them():
    p = Tensor([1.0, 2.0], requires_grad=True, name="p")
    L = (p * 2).sum()
    text = format_trace(L.backward(trace=True))
    assert "∂L/∂p = ∂L/∂t1 ⊙ 2" in text           # the op's template, in the diagram's names
    assert "∂L/∂out" not in text and "where" not in text
    assert "Backward from L" in text               # an unnamed root is the loss L
    assert "∂L/∂t1 = expand(∂L/∂L, shape(t1))" in text  # and the rules say the same numerator


def test_big_values_are_summarised_by_min_and_max():
    W = Tensor(np.arange(50.0).reshape(10, 5), requires_grad=True, name="W")
    text = format_trace((W * 1.0).named("V").sum().named("L").backward(trace=True))
    assert "(10, 5): min 1, max 1" in text and "mean" not in text


def test_a_second_pass_says_that_grad_accumulates(regression):
    """backward twice without zero_grad: .grad doubles, this pass's contributions are half of it,
    and the trace says so (table and diagram) instead of claiming they sum to .grad."""
    from tinygrad_sm import viz
    r = regression
    first = r["b"].grad.copy()
    second = r["L"].backward(trace=True)
    np.testing.assert_allclose(r["b"].grad, 2 * first, atol=1e-12)
    (step, _, g), = second.contributions(r["b"])
    np.testing.assert_allclose(g, first, atol=1e-12)              # this pass's contribution
    np.testing.assert_allclose(second.earlier_grads[id(r["b"])], first, atol=1e-12)
    assert not r["trace"].earlier_grads                             # the first pass had none
    text = str(second)
    assert "b.grad held gradients before this pass" in text and "W.grad held" in text
    assert "X.grad" not in text                                     # data has no gradient
    assert "earlier passes (accumulated)" in viz.draw(r["L"], trace=second).source
    assert "earlier passes" not in viz.draw(r["L"], trace=r["trace"]).source


def test_the_view_shows_the_forwards_values_after_an_update(regression):
    """After SGD-style updates of W, step 2's numbers are still the X and ∂L/∂XW of that pass."""
    r = regression
    X_before = r["X"].data.copy()
    r["W"].data -= 0.5 * r["W"].grad                     # an in-place update on the tensor
    r["X"].data = np.zeros_like(X_before)                # even the data tensor gets a new array
    operands = dict(r["trace"].view(2).edges[1].operands)
    np.testing.assert_array_equal(operands["Xᵀ"], X_before.T)
