"""Every sentence the demos print is true: each claim of issue 18's items 6–11, 13 and 14 is
recomputed here with plain numpy (never copied), and the text is checked to say it."""
from __future__ import annotations

import importlib
import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
DEMOS = ROOT / "demos"
sys.path.insert(0, str(DEMOS))
LOCALES = ROOT / "tinygrad_sm" / "locales"


def catalogue(lang: str) -> dict[str, str]:
    return json.loads((LOCALES / f"{lang}.json").read_text(encoding="utf-8"))


def softmax(o: np.ndarray) -> np.ndarray:
    e = np.exp(o - o.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def squared_error_grad(y_hat: np.ndarray, y: np.ndarray) -> np.ndarray:
    """∂/∂o of ½Σ(ŷ − y)² through the softmax Jacobian diag(ŷ) − ŷŷᵀ, one row."""
    return (y_hat - y) @ (np.diag(y_hat) - np.outer(y_hat, y_hat))


def printed_by(module, tmp_path, capsys, lang: str = "en") -> str:
    assert module.main(["--out", str(tmp_path), "--quick", "--lang", lang]) == 0
    return " ".join(capsys.readouterr().out.split())  # rich wraps lines; compare words


@pytest.fixture(scope="module")
def d4(tmp_path_factory):
    module = importlib.import_module("d4_cross_entropy_vs_squared_error")
    return module, module.run(tmp_path_factory.mktemp("d4"), quick=True)


# ---- items 6 and 7: cross-entropy vs squared error ----

def test_item6_squared_error_vanishes_when_saturated_on_a_wrong_class(d4, tmp_path, capsys):
    module, r = d4
    K, true, wrong = 10, 0, 1
    y = np.eye(K)[true]
    rows = {(v["p_wrong"], v["spread"]): v for v in r["saturated"]}
    for spread in ("even", "on_true"):
        se_norms, ce_norms = [], []
        for q in (0.9, 0.99, 0.999):
            probs = np.full(K, (1 - q) / (K - 1)) if spread == "even" else np.zeros(K)
            if spread == "on_true":
                probs[true] = 1 - q
            probs[wrong] = q
            y_hat = softmax(np.log(np.maximum(probs, 1e-30)))
            se, ce = np.linalg.norm(squared_error_grad(y_hat, y)), np.linalg.norm(y_hat - y)
            assert rows[q, spread]["se_norm"] == pytest.approx(se, abs=1e-12)
            assert rows[q, spread]["ce_norm"] == pytest.approx(ce, abs=1e-12)
            se_norms.append(se)
            ce_norms.append(ce)
        # the more confident the wrong answer, the smaller squared error's whole gradient
        assert se_norms[0] > 5 * se_norms[1] > 25 * se_norms[2] and se_norms[2] < 0.005
        assert all(1.25 < c <= np.sqrt(2) for c in ce_norms)   # cross-entropy's stays near √2
    printed = printed_by(module, tmp_path, capsys)
    for v in r["saturated"]:
        assert f"{v['se_norm']:.4f}" in printed and f"{v['ce_norm']:.4f}" in printed
    en = catalogue("en")["demo.d4_cross_entropy_vs_squared_error.general"]
    assert "Only in the set-up above" not in en and "whenever softmax saturates" in en


def numpy_training(data, W0, b0, loss: str, lr: float, epochs: int, batch: int, seed: int):
    """The demo's training loop in plain numpy: float32, the same start and batch order."""
    from tinygrad_sm.data import minibatches

    W, b = W0.copy(), b0.copy()
    order = np.random.default_rng(seed)
    K = W.shape[1]
    accuracy = []
    for _ in range(epochs):
        for X, y in minibatches(data.X_train, data.y_train, batch, order):
            y_hat = softmax(X @ W + b)
            error = y_hat - np.eye(K, dtype=np.float32)[y]
            if loss == "squared_error":   # ½Σ(ŷ − y)² per example, through softmax's Jacobian
                error = y_hat * (error - np.sum(y_hat * error, axis=1, keepdims=True))
            grad_o = error / len(y)
            W -= lr * X.T @ grad_o
            b -= lr * grad_o.sum(axis=0)
        accuracy.append(float(np.mean(np.argmax(data.X_test @ W + b, axis=1) == data.y_test)))
    return accuracy


def test_item7_the_learning_rate_caveat_and_a_confidently_wrong_start(d4, tmp_path, capsys):
    import tinygrad_sm.nn as nn
    from tinygrad_sm.data import load_digits

    module, r = d4
    data = load_digits()
    s = module.SETTINGS
    start = nn.SoftmaxRegression(data.X_train.shape[1], 10, seed=s["seed"])
    final = {}
    for (kind, lr), runs in r["runs"].items():
        b0 = start.b.data.copy()
        if kind == "wrong":
            b0[module.WRONG] = module.WRONG_START_BIAS
        for loss, history in runs.items():
            mine = numpy_training(data, start.W.data, b0, loss, lr, r["epochs"], s["batch_size"],
                                  s["seed"])
            np.testing.assert_allclose(history["test_accuracy"], mine, atol=0.006)
            final[kind, lr, loss] = mine[-1]
    gap = {lr: final["usual", lr, "cross_entropy"] - final["usual", lr, "squared_error"]
           for lr in module.LEARNING_RATES}
    slow, fast = module.LEARNING_RATES
    assert gap[slow] > 0.05 and gap[fast] < gap[slow] / 2     # at lr 1 the gap mostly closes
    # confidently wrong start at the small lr: squared error stays at chance, cross-entropy learns
    assert final["wrong", slow, "squared_error"] < 0.12 < 0.8 < final["wrong", slow, "cross_entropy"]
    printed = printed_by(module, tmp_path, capsys)
    for (kind, lr), runs in r["runs"].items():
        for history in runs.values():
            assert f"{history['test_accuracy'][-1]:.3f}" in printed
    assert "learning-rate caveat" in printed and "K× smaller gradient" in printed
    assert "means the same thing" not in module.squared_error_loss.__doc__


def test_item8_the_note_is_quoted_with_its_own_words():
    zh, en = catalogue("zh"), catalogue("en")
    note = (ROOT.parent / "shared" / "seed" / "softmax-regression-notes.zh.txt")
    if note.exists():
        assert "当预测错误时" in note.read_text(encoding="utf-8")
    prefix = "demo.d4_cross_entropy_vs_squared_error."
    assert "当预测错误时" in zh[prefix + "wrong"] and "ŷᵢ≈0" in zh[prefix + "wrong"]
    assert "ŷᵢ ≈ 0" in en[prefix + "wrong"]
    assert not any("错得很自信" in text for key, text in zh.items() if key.startswith(prefix))


# ---- item 9: the book's ŷ − y is per example; /n comes from the batch mean ----

def test_item9_per_example_then_over_n(tmp_path, capsys):
    module = importlib.import_module("d5_gradient_of_W")
    r = module.run(tmp_path, quick=True)
    X, model = module.make_model()
    y_hat = softmax(X.data @ model.W.data + model.b.data)
    per_example = y_hat - np.eye(module.CLASSES)[module.LABELS]
    np.testing.assert_allclose(r["per_example"], per_example, atol=1e-12)
    np.testing.assert_allclose(r["grad_o"], per_example / len(module.LABELS), atol=1e-12)
    printed = printed_by(module, tmp_path, capsys)
    assert "for one example" in printed and "mean over the batch" in printed
    from _common import fmt
    assert " ".join(fmt(per_example).split()) in printed


# ---- item 10: softmax turns gaps into ratios; the note's sentence is true of max ----

def test_item10_ratios_are_exponentials_of_gaps(tmp_path, capsys):
    module = importlib.import_module("d2_softmax_vs_hardmax")
    r = module.run(tmp_path, quick=True)
    for logits in module.NOTE_INPUTS:
        key = "".join(str(int(v)) for v in logits)
        o = np.array(logits)
        assert r[f"ratio_{key}"] == pytest.approx(np.exp(o[2] - o[0]), rel=1e-12)
    printed = printed_by(module, tmp_path, capsys)
    assert "e^(oᵢ−oⱼ)" in printed and f"{np.exp(3.0):.3f}" in printed
    assert "true of max" in printed and "is about max" not in printed
    assert "强的更强" not in catalogue("zh")["demo.d2_softmax_vs_hardmax.richer"]


# ---- item 11: softmax keeps the order; the regions are convex, cut by lines ----

def test_item11_regions_are_convex_and_cut_by_lines(tmp_path, capsys):
    module = importlib.import_module("d6_linear_decision_boundary")
    r = module.run(tmp_path, quick=True)
    W, b = r["W"], r["b"]
    rng = np.random.default_rng(7)
    points = rng.uniform(-5, 5, size=(4000, 2))
    scores = points @ W + b
    classes = np.argmax(scores, axis=1)
    assert np.array_equal(np.argmax(softmax(scores), axis=1), classes)  # softmax keeps the order
    first, second = points[:2000], points[2000:]
    same = classes[:2000] == classes[2000:]
    middle = np.argmax(((first + second) / 2) @ W + b, axis=1)
    assert same.sum() > 300 and np.all(middle[same] == classes[:2000][same])   # convex
    assert r["convex_fraction"] == 1.0 and r["convex_pairs"] > 100
    en = catalogue("en")["demo.d6_linear_decision_boundary.agreement"]
    assert "convex" in en and "rescales" not in en
    assert "不改变得分的大小顺序" in catalogue("zh")["demo.d6_linear_decision_boundary.agreement"]


# ---- item 13: the tour notebook's two sentences ----

def notebook_prose(name: str) -> str:
    nb = json.loads((DEMOS / name).read_text(encoding="utf-8"))
    return "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")


def test_item13_the_factor_is_for_two_classes_and_only_dL_do_ignores_earlier_layers():
    rng = np.random.default_rng(3)
    for K in (2, 3, 5):
        y_hat, y = softmax(rng.normal(size=K)), np.eye(K)[0]
        g = squared_error_grad(y_hat, y)
        factor = 2 * y_hat * (1 - y_hat) * (y_hat - y)   # the K = 2 form ŷ(1 − ŷ)·2(ŷ − y)
        assert np.allclose(g, factor) == (K == 2)
    for name, independent in (("backprop_tour.ipynb", "whatever came before"),
                              ("backprop_tour_zh.ipynb", "无论前面")):
        sentences = re.split(r"(?<=[.。；;])\s*", notebook_prose(name))
        assert any(independent in s for s in sentences), name
        for sentence in sentences:
            if "ŷ(1 − ŷ)" in sentence:
                assert "K = 2" in sentence, sentence
            if independent in sentence:   # only ∂L/∂o is independent of the earlier layers
                assert "∂L/∂o" in sentence and "Xᵀ" not in sentence, sentence


# ---- item 14: classes from 0, 1·(−1), independent checks ----

def test_item14_classes_are_numbered_from_0(tmp_path, capsys):
    for name, count in (("d3_softmax_jacobian", 5), ("d6_linear_decision_boundary", 3)):
        printed = printed_by(importlib.import_module(name), tmp_path, capsys)
        assert set(map(int, re.findall(r"\bo(\d)\b", printed))) == set(range(count)), name
        subscripts = re.findall(r"[oŷ]([₀-₉])", printed)
        assert {int(s.translate(str.maketrans("₀₁₂₃₄₅₆₇₈₉", "0123456789"))) for s in subscripts} \
            <= set(range(count)), name
    source = (DEMOS / "d2_softmax_vs_hardmax.py").read_text(encoding="utf-8")
    assert "ŷ₃" not in source and "ŷ₀ (o₀ = 0)" in source


def test_item14_a_negative_factor_is_written_in_parentheses(tmp_path):
    module = importlib.import_module("d1_chain_rule_by_hand")
    rows = module.matmul(tmp_path)["rows"]
    X, G = module.X_MATRIX, module.G_MATRIX
    for row, (i, j) in zip(rows, np.ndindex(2, 2)):
        factors = [(X[k, i], G[k, j]) for k in range(2)]
        expected = " + ".join(f"{a:g}·" + (f"(−{-g:g})" if g < 0 else f"{g:g}") for a, g in factors)
        assert row["hand_numbers"] == expected
        assert "·-" not in row["hand_numbers"]
    assert any("·(−1)" in row["hand_numbers"] for row in rows)


def test_item14_the_formula_checks_do_not_reuse_the_engines_softmax(monkeypatch):
    from tinygrad_sm import Tensor

    jacobian = importlib.import_module("d3_softmax_jacobian")
    gradient_of_W = importlib.import_module("d5_gradient_of_W")
    X, model = gradient_of_W.make_model()
    X, W, b = X.data, model.W.data.copy(), model.b.data.copy()

    def refuse(*args, **kwargs):
        raise AssertionError("the check called the engine")

    monkeypatch.setattr(Tensor, "softmax", refuse)
    logits = np.array([0.0, 1.0, 2.0, 0.5, -1.0])
    y_hat = softmax(logits)
    np.testing.assert_allclose(jacobian.jacobian_by_formula(logits),
                               np.diag(y_hat) - np.outer(y_hat, y_hat), atol=1e-15)
    _, closed = gradient_of_W.closed_form_gradient(X, W, b, gradient_of_W.LABELS)
    y = np.eye(W.shape[1])[gradient_of_W.LABELS]
    np.testing.assert_allclose(closed, X.T @ (softmax(X @ W + b) - y) / len(y), atol=1e-15)
