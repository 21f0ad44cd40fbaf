"""trace.check (issue 19): the right gradient of a step, and each known wrong one named.

Every wrong answer below is computed here with numpy from the forward values, never through
tinygrad_sm.misconceptions: if the checker computed a variant wrongly, these answers would not
match it."""
from __future__ import annotations

import json

import numpy as np
import pytest

from tinygrad_sm import Tensor, data, nn
from tinygrad_sm.misconceptions import KEYS
from tinygrad_sm.predict_data import question_data


def softmax(o: np.ndarray) -> np.ndarray:
    e = np.exp(o - o.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def four_digits(a: np.ndarray) -> np.ndarray:
    """What a learner types: every entry to 4 significant digits."""
    return np.vectorize(lambda v: float(f"{v:.4g}"))(np.asarray(a, dtype=np.float64))


def step_of(trace, op: str, name: str) -> int:
    """The display number (from 1) of the step with this op that sends to `name`."""
    return next(s.index + 1 for s in trace if s.op == op
                and any(trace.label(x) == name and g is not None
                        for x, g in zip(s.inputs, s.grad_inputs)))


class Softmax:
    """Softmax regression on X, y; its gradients by hand (numpy)."""

    def __init__(self, X: np.ndarray, y: np.ndarray, classes: int, seed: int = 0):
        model = nn.SoftmaxRegression(X.shape[1], classes, seed=seed, dtype=np.float64)
        rng = np.random.default_rng(seed + 1)
        model.W.data = rng.normal(0, 0.5, size=model.W.shape)
        model.b.data = rng.normal(0, 0.5, size=classes)
        self.X, self.y, self.n = X.astype(np.float64), y, len(y)
        self.W, self.b = model.W.data.copy(), model.b.data.copy()
        self.trace = nn.cross_entropy(model(Tensor(self.X, name="X")), y).backward(trace=True)
        self.P = softmax(self.X @ self.W + self.b)
        self.Y = np.eye(classes)[y]
        self.G = (self.P - self.Y) / self.n  # ∂L/∂o


def tiny() -> Softmax:
    rng = np.random.default_rng(3)
    return Softmax(rng.normal(size=(2, 3)).round(1), np.array([2, 0]), 3)


def digits_batch() -> Softmax:
    split = data.load_digits()
    return Softmax(split.X_train[:32], split.y_train[:32], 10)


@pytest.fixture(params=["n=2", "digits 32 rows"])
def problem(request) -> Softmax:
    return tiny() if request.param == "n=2" else digits_batch()


def expect(trace, k, name, answer, key, lang=None):
    result = trace.check(k, name, answer, lang=lang)
    assert result.misconception == key, (k, name, result.message)
    assert result.correct is (key is None)
    assert result.message.strip()
    return result


# ---- softmax regression: ∂L/∂o, ∂L/∂b, ∂L/∂W ----

def test_dL_do_right_and_each_wrong_answer(problem):
    p, tr, G = problem, problem.trace, problem.G
    k = step_of(tr, "cross_entropy", "o")
    assert k == 1
    np.testing.assert_allclose(tr.check(k, "o", G).expected, G, rtol=1e-12, atol=1e-15)
    expect(tr, k, "o", four_digits(G), None)
    expect(tr, k, "o", -G, "sign")
    expect(tr, k, "o", p.P - p.Y, "missing_1_over_n")       # ŷ − y without the /n
    expect(tr, k, "o", G.T, "transposed")
    indices = p.y[:, None].astype(np.float64)
    expect(tr, k, "o", p.P - indices, "not_one_hot")
    expect(tr, k, "o", (p.P - indices) / p.n, "not_one_hot")
    expect(tr, k, "o", G[:, :2], "shape")
    wrong = G.copy()
    wrong[1, 1] += 0.05
    result = expect(tr, k, "o", wrong, "other")
    assert "[1, 1]" in result.message


def test_dL_db_right_and_each_wrong_answer(problem):
    p, tr, G = problem, problem.trace, problem.G
    k = step_of(tr, "add", "b")
    expect(tr, k, "b", four_digits(G.sum(axis=0)), None)
    expect(tr, k, "b", -G.sum(axis=0), "sign")
    expect(tr, k, "b", (p.P - p.Y).sum(axis=0), "missing_1_over_n")
    expect(tr, k, "b", G, "missing_sum_over_rows")          # the n × K array
    expect(tr, k, "b", G[0], "missing_sum_over_rows")       # its first row
    expect(tr, None, "b", G[0], "missing_sum_over_rows")    # the whole pass: the same edge


def test_dL_dW_right_and_each_wrong_answer(problem):
    p, tr, G = problem, problem.trace, problem.G
    k = step_of(tr, "matmul", "W")
    assert k == len(tr)
    for step in (k, None):
        expect(tr, step, "W", four_digits(p.X.T @ G), None)
        expect(tr, step, "W", -(p.X.T @ G), "sign")
        expect(tr, step, "W", p.X.T @ (p.P - p.Y), "missing_1_over_n")
        expect(tr, step, "W", G.T @ p.X, "transposed")      # (Xᵀg)ᵀ = gᵀX
        expect(tr, step, "W", p.X.T @ G + 1.0, "other")


def test_the_first_listed_misconception_wins_where_two_fit():
    """∂L/∂x = A with A antisymmetric: −A is both minus the answer and its transpose; sign is
    listed first. A symmetric gradient's transpose is the right answer, not a misconception."""
    A = np.array([[0.0, 1.5], [-1.5, 0.0]])
    x = Tensor(np.ones((2, 2)), requires_grad=True, name="x")
    trace = (x * Tensor(A, name="A")).sum().backward(trace=True)
    k = step_of(trace, "mul", "x")
    np.testing.assert_array_equal(-A, A.T)
    expect(trace, k, "x", -A, "sign")
    x = Tensor(np.array([[1.0, 2.0], [2.0, 1.0]]), requires_grad=True, name="x")
    trace = (x * x).sum().backward(trace=True)
    expect(trace, step_of(trace, "mul", "x"), "x", (2 * x.data).T, None)


# ---- an MLP ----

def test_mlp_hidden_layer():
    rng = np.random.default_rng(5)
    X, y = rng.normal(size=(6, 4)), rng.integers(0, 3, size=6)
    model = nn.mlp(4, 5, 3, seed=2, dtype=np.float64)
    for p in model.parameters():
        p.data = rng.normal(0, 0.7, size=p.shape)
    W1, b1, W2, b2 = (p.data.copy() for p in model.parameters())
    trace = nn.cross_entropy(model(Tensor(X, name="X")), y).backward(trace=True)
    Z1 = X @ W1 + b1
    H = np.maximum(Z1, 0)
    P = softmax(H @ W2 + b2)
    n, Y = len(y), np.eye(3)[y]
    G2 = (P - Y) / n
    dH = G2 @ W2.T
    dZ1 = dH * (Z1 > 0)
    names = {trace.label(t) for t in trace.tensors()}
    assert {"W1", "b1", "W2", "b2", "H1"} <= names
    k_w2 = step_of(trace, "matmul", "W2")
    expect(trace, k_w2, "W2", four_digits(H.T @ G2), None)
    expect(trace, k_w2, "W2", G2.T @ H, "transposed")
    expect(trace, k_w2, "H1", four_digits(dH), None)
    expect(trace, k_w2, "H1", W2 @ G2.T, "transposed")           # gᵀ's transpose order swapped
    k_w1 = step_of(trace, "matmul", "W1")
    expect(trace, k_w1, "W1", four_digits(X.T @ dZ1), None)
    expect(trace, k_w1, "W1", n * (X.T @ dZ1), "missing_1_over_n")  # the /n carries down
    expect(trace, k_w1, "W1", -(X.T @ dZ1), "sign")
    k_b1 = step_of(trace, "add", "b1")
    expect(trace, k_b1, "b1", dZ1.sum(axis=0), None)
    expect(trace, k_b1, "b1", dZ1, "missing_sum_over_rows")
    expect(trace, k_b1, "b1", dZ1[0], "missing_sum_over_rows")
    k_relu = step_of(trace, "relu", "o1")
    expect(trace, k_relu, "o1", dZ1, None)
    expect(trace, k_relu, "o1", n * dZ1, "missing_1_over_n")


# ---- a reused tensor: x · x, and x used by two ops ----

def test_x_times_x_sends_2x_and_one_path_is_named():
    values = np.array([1.5, -2.0, 0.5])
    x = Tensor(values, requires_grad=True, name="x")
    trace = (x * x).mean().backward(trace=True)
    k = step_of(trace, "mul", "x")
    g = 1 / 3                                                   # ∂L/∂(x·x) of a mean of 3
    expect(trace, k, "x", 2 * values * g, None)
    expect(trace, k, "x", values * g, "one_path_only")
    expect(trace, k, "x", 2 * values, "missing_1_over_n")
    expect(trace, k, "x", -2 * values * g, "sign")
    expect(trace, None, "x", values * g, "one_path_only")


def test_an_input_used_by_two_ops_one_path_only_for_the_whole_pass():
    values = np.array([[1.0, -1.0], [2.0, 0.5]])
    x = Tensor(values, requires_grad=True, name="x")
    trace = ((x * 3.0).sum() + x.exp().sum()).backward(trace=True)
    expect(trace, None, "x", 3.0 + np.exp(values), None)
    expect(trace, None, "x", np.exp(values), "one_path_only")
    expect(trace, None, "x", np.full((2, 2), 3.0), "one_path_only")
    k = step_of(trace, "exp", "x")
    expect(trace, k, "x", np.exp(values), None)              # at one step: its own edge only


# ---- the questions themselves ----

def test_a_step_that_sends_nothing_to_the_tensor_names_op_and_targets():
    tr = tiny().trace
    with pytest.raises(ValueError, match=r"step 3 \(matmul\).*\bb\b.*sends to W"):
        tr.check(3, "b", [0, 0, 0])
    with pytest.raises(ValueError, match="no tensor labelled 'nope'"):
        tr.check(1, "nope", 0)
    with pytest.raises(ValueError, match="steps 1 to 3"):
        tr.check(0, "o", 0)


def test_an_ambiguous_label_or_a_foreign_tensor_is_refused():
    a = Tensor(np.ones(2), requires_grad=True, name="x")
    b = Tensor(np.ones(2), requires_grad=True, name="x")
    trace = (a * b).sum().backward(trace=True)
    with pytest.raises(ValueError, match="2 tensors are labelled 'x'"):
        trace.check(2, "x", [1, 1])
    assert trace.check(2, b, [1, 1]).correct                  # the Tensor itself is clear
    with pytest.raises(ValueError, match="not in this trace's graph"):
        trace.check(2, Tensor(np.ones(2), name="x"), [1, 1])
    with pytest.raises(TypeError, match="a Tensor of the graph or its label"):
        trace.check(2, 3, [1, 1])


def test_a_number_broadcasts_only_to_a_one_element_gradient():
    x = Tensor(np.array([2.0]), requires_grad=True, name="x")
    trace = (x * x).sum().backward(trace=True)
    k = step_of(trace, "mul", "x")
    expect(trace, k, "x", 4.0, None)
    expect(trace, k, "x", 2.0, "one_path_only")
    tr = tiny().trace
    result = expect(tr, 2, "b", 0.1, "shape")
    assert "(3,)" in result.message


def test_a_tensor_object_works_as_well_as_its_label():
    p = tiny()
    W = next(t for t in p.trace.tensors() if p.trace.label(t) == "W")
    assert p.trace.check(3, W, p.X.T @ p.G).correct


def test_chinese_messages_name_the_gradient():
    p = tiny()
    right = expect(p.trace, 1, "o", p.G, None, lang="zh")
    assert "正确" in right.message and "∂L/∂o" in right.message
    wrong = expect(p.trace, 2, "b", p.G, "missing_sum_over_rows", lang="zh")
    assert "不对" in wrong.message and "∂L/∂b" in wrong.message and "求和" in wrong.message
    assert "提示" in wrong.hint
    english = p.trace.check(2, "b", p.G, lang="en")
    assert english.message != wrong.message and "sum over the rows" in english.message


def test_every_wrong_message_names_the_tensor():
    p = tiny()
    for answer in (-p.G, p.P - p.Y, p.G.T, p.P - p.y[:, None], p.G[:1], p.G + 1):
        for lang in ("en", "zh"):
            result = p.trace.check(1, "o", answer, lang=lang)
            assert not result.correct and "∂L/∂o" in result.message, result.message


# ---- the data a saved page compares with ----

def page_compare(entry: dict, answer: np.ndarray) -> str | None:
    """What a page's script does with question_data: expected first, then the variants in order."""
    relative, absolute = entry["tolerance"]

    def close(target):
        target = np.asarray(target, dtype=np.float64)
        return target.shape == answer.shape and bool(np.all(
            np.abs(answer - target) <= relative * np.abs(target).max() + absolute))
    if close(entry["expected"]):
        return "correct"
    return next((v["key"] for v in entry["variants"] if close(v["value"])),
                "shape" if list(answer.shape) != entry["shape"] else "other")


def test_question_data_is_json_and_a_page_compares_the_same_way():
    p = tiny()
    entry = json.loads(json.dumps(question_data(p.trace, 1, "o")))
    assert entry["step"] == 1 and entry["grad"] == "∂L/∂o" and entry["shape"] == [2, 3]
    cases = {"correct": four_digits(p.G), "sign": -p.G, "missing_1_over_n": p.P - p.Y,
             "transposed": p.G.T, "not_one_hot": p.P - p.y[:, None], "shape": p.G[0]}
    for key, answer in cases.items():
        assert page_compare(entry, np.asarray(answer, dtype=np.float64)) == key
        assert p.trace.check(1, "o", answer).misconception == (None if key == "correct" else key)


def test_four_rules_to_pick_from_one_right():
    p = tiny()
    for k, name in ((1, "o"), (2, "b"), (3, "W")):
        rules = question_data(p.trace, k, name)["rules"]
        assert len(rules) == 4 and len({r["text"] for r in rules}) == 4
        right = [r for r in rules if r["correct"]]
        assert len(right) == 1 and right[0]["text"] == p.trace[k - 1].rules[
            [p.trace.label(x) for x in p.trace[k - 1].inputs].index(name)]
        assert all(r["key"] in KEYS for r in rules if not r["correct"])
    b_rules = {r["key"]: r["text"] for r in question_data(p.trace, 2, "b")["rules"]}
    assert b_rules["missing_sum_over_rows"] == "∂L/∂b = ∂L/∂o"
    o_rules = {r["key"]: r["text"] for r in question_data(p.trace, 1, "o")["rules"]}
    assert "/ n" not in o_rules["missing_1_over_n"]
