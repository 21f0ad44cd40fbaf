"""Issue 20, the demos d8–d13: each claim recomputed here in plain numpy (float64), never copied
from the demo, and the printed text checked to say the numbers. (The library: test_d2l.py.)"""
from __future__ import annotations

import importlib
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from tinygrad_sm.data import minibatches, synthetic_regression

DEMOS = Path(__file__).resolve().parent.parent / "demos"
sys.path.insert(0, str(DEMOS))
NEW_DEMOS = ["d8_linear_regression", "d9_weight_decay", "d10_forward_backward_graph",
             "d11_dropout", "d12_numerical_stability", "d13_vanishing_gradients"]


def demo(name: str):
    return importlib.import_module(name)


def printed_by(module, tmp_path, capsys, lang: str = "en") -> str:
    assert module.main(["--out", str(tmp_path), "--quick", "--lang", lang]) == 0
    return " ".join(capsys.readouterr().out.split())  # rich wraps lines; compare words


def softmax(o: np.ndarray) -> np.ndarray:
    e = np.exp(o - o.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def svg_texts(path: Path) -> set[str]:
    return {t.strip() for t in ET.parse(path).getroot().itertext() if t.strip()}


def test_the_new_demos_are_listed_in_teaching_order(capsys):
    from tinygrad_sm.demo import list_demos

    names = list(list_demos())
    assert names[:7] == sorted(names[:7]) and names[7:] == NEW_DEMOS
    zh = list_demos("zh")
    assert all(zh[name] != list_demos()[name] for name in NEW_DEMOS)   # said in Chinese


@pytest.mark.parametrize("name", NEW_DEMOS)
def test_each_new_demo_prints_its_title_and_writes(name, tmp_path, capsys):
    module = demo(name)
    printed = printed_by(module, tmp_path, capsys)
    assert " ".join(module.TITLE.split()) in printed
    if name != "d12_numerical_stability":   # d12 only prints
        assert "Wrote:" in printed and any(tmp_path.iterdir())


# ---- d8: linear regression ----

def test_d8_sgd_recovers_w_and_b_and_matches_least_squares(tmp_path, capsys):
    module = demo("d8_linear_regression")
    r = module.run(tmp_path, quick=True)
    X, y = synthetic_regression([2, -3.4], 4.2, 0.01, 1000, seed=module.SEED)
    A = np.hstack([X.astype(np.float64), np.ones((1000, 1))])
    theta = np.linalg.lstsq(A, y.astype(np.float64).ravel(), rcond=None)[0]
    np.testing.assert_allclose(r["closed_w"], theta[:2], atol=1e-10)
    assert r["closed_b"] == pytest.approx(theta[2], abs=1e-10)
    assert np.abs(r["w"] - [2, -3.4]).max() < 0.01 and abs(r["b"] - 4.2) < 0.01
    assert np.abs(np.append(r["w"], r["b"]) - theta).max() < 0.01
    # the step: w and b from their seed, the gradient X10ᵀ(X10 w + b − y10)/10 by hand
    X10, y10 = X[:10].astype(np.float64), y[:10].astype(np.float64)
    w0 = np.random.default_rng(module.SEED).normal(0, 0.01, size=(2, 1))
    np.testing.assert_allclose(r["linear_grad"], X10.T @ (X10 @ w0 - y10) / 10, atol=1e-10)
    W0 = np.random.default_rng(module.SEED).normal(0, 0.01, size=(2, 3))
    Y = np.eye(3)[np.arange(10) % 3]
    np.testing.assert_allclose(r["softmax_grad"], X10.T @ (softmax(X10 @ W0) - Y) / 10, atol=1e-10)
    assert r["linear_rule"] == "∂L/∂w = Xᵀ · ∂L/∂Xw" and r["softmax_rule"] == "∂L/∂W = Xᵀ · ∂L/∂XW"
    printed = printed_by(module, tmp_path, capsys)
    for value in (*r["w"], r["b"], *theta):
        assert f"{value:+.6f}" in printed
    assert "∂L/∂w = Xᵀ · ∂L/∂Xw" in printed and "Xᵀ(Xw + b − y)/n" in printed
    assert svg_texts(tmp_path / "linear_step.svg") >= {"w", "b", "X", "y", "L"}


# ---- d9: weight decay ----

def numpy_ridge_sgd(module, lam: float) -> tuple[np.ndarray, float]:
    """§4.5's training in plain numpy on the same data, start and batch order."""
    train = synthetic_regression([0.01] * 200, 0.05, 0.01, 20, seed=module.SEED, dtype=np.float64)
    w = np.random.default_rng(module.SEED + 2).normal(0, 1, size=(200, 1))
    b = 0.0
    order = np.random.default_rng(module.SEED)
    for _ in range(module.EPOCHS):
        for X, y in minibatches(*train, module.BATCH, order):
            r = X @ w + b - y
            w, b = w - module.LR * (X.T @ r / len(y) + lam * w), b - module.LR * r.mean()
    return w, b


def test_d9_weight_decay_lowers_the_test_loss_and_shrinks_w(tmp_path, capsys):
    module = demo("d9_weight_decay")
    r = module.run(tmp_path, quick=True)
    test = synthetic_regression([0.01] * 200, 0.05, 0.01, 100, seed=module.SEED + 1, dtype=np.float64)
    summary = {}
    for lam in (0.0, 3.0):
        w, b = numpy_ridge_sgd(module, lam)
        np.testing.assert_allclose(r["runs"][lam]["w"], w, atol=1e-10)
        test_loss = 0.5 * np.mean((test[0] @ w + b - test[1]) ** 2)
        assert r["runs"][lam]["test_loss"][-1] == pytest.approx(test_loss, rel=1e-9)
        summary[lam] = (test_loss, np.linalg.norm(w))
    assert summary[3.0][0] < summary[0.0][0] / 10      # test loss lower with λ = 3
    assert summary[3.0][1] < summary[0.0][1] / 10      # ‖w‖ smaller
    assert r["graph_vs_optimizer"] < 1e-10             # l2_penalty in the graph = weight_decay
    printed = printed_by(module, tmp_path, capsys)
    for test_loss, norm in summary.values():
        assert f"{test_loss:.4f}" in printed and f"{norm:.4f}" in printed


# ---- d10: §4.7 ----

def test_d10_gradients_equal_the_books_formulas_and_each_w_has_two_paths(tmp_path, capsys):
    module = demo("d10_forward_backward_graph")
    r = module.run(tmp_path, quick=True)
    t = module.build()
    W1, W2, x, lam = t["W1"].data, t["W2"].data, module.X_ROW, module.LAMBDA
    # row convention, written out again here: z = xW1, h = relu(z), o = hW2
    z = x @ W1
    h = np.maximum(z, 0)
    dJ_do = softmax(h @ W2) - np.eye(module.Q)[module.Y]
    grad_W2 = h.T @ dJ_do + lam * W2
    grad_W1 = x.T @ ((dJ_do @ W2.T) * (z > 0)) + lam * W1
    np.testing.assert_allclose(r["grad_W1"], grad_W1, atol=1e-10, rtol=0)
    np.testing.assert_allclose(r["grad_W2"], grad_W2, atol=1e-10, rtol=0)
    # the book's own order (column vectors) gives the transposes
    np.testing.assert_allclose(r["by_hand"]["book_W1"], grad_W1.T, atol=1e-10, rtol=0)
    np.testing.assert_allclose(r["by_hand"]["book_W2"], grad_W2.T, atol=1e-10, rtol=0)
    assert r["W1_difference"] < 1e-10 and r["W2_difference"] < 1e-10
    J = -np.log(softmax(h @ W2)[0, module.Y[0]]) + lam / 2 * (np.sum(W1 ** 2) + np.sum(W2 ** 2))
    assert r["J"] == pytest.approx(J, abs=1e-12)
    assert r["contributions"]["W1"] == 2 and r["contributions"]["W2"] == 2
    printed = printed_by(module, tmp_path, capsys)
    assert "∂J/∂W1 is the sum of 2 contributions" in printed
    assert "∂J/∂z·xᵀ + λW1" in printed and "xᵀ·∂J/∂z" in printed   # the row-vector note
    texts = svg_texts(tmp_path / "computational_graph.svg")
    assert {"x", "z", "h", "o", "L", "s", "J", "W1", "W2"} <= texts
    assert "J" in (tmp_path / "backprop.html").read_text(encoding="utf-8")


# ---- d11: dropout ----

def test_d11_the_mask_decides_values_and_gradients(tmp_path, capsys):
    module = demo("d11_dropout")
    r = module.run(tmp_path, quick=True)
    mask, p, h, v = r["mask"], module.P, module.H_VALUES, module.WEIGHTS
    assert set(np.unique(mask)) == {0.0, 1.0} and 0 < mask.sum() < mask.size
    np.testing.assert_allclose(r["out"], h * mask / (1 - p), atol=1e-15)
    np.testing.assert_allclose(r["grad_h"], v * mask / (1 - p), atol=1e-15)
    assert np.all(r["grad_h"][mask == 0] == 0)
    assert "mask" in r["step_inputs"] and "mask" in r["rule"] and r["eval_is_identity"]
    np.testing.assert_allclose(r["mean"], h[0], atol=0.03)   # E(out) = h
    assert "mask" in svg_texts(tmp_path / "dropout_graph.svg")
    printed = printed_by(module, tmp_path, capsys)
    assert "returns its input itself" in printed
    for run in r["digits"]["runs"].values():
        assert f"{run['test']:.4f}" in printed


# ---- d12: numerical stability ----

def test_d12_composed_softmax_fails_and_the_fused_one_is_finite(tmp_path, capsys):
    module = demo("d12_numerical_stability")
    r = module.run(tmp_path, quick=True)
    over, under = r["overflow"], r["underflow"]
    assert np.isnan(over["naive"]["loss"]) and np.all(np.isnan(over["naive"]["grad"]))
    assert over["naive"]["anomaly"].startswith("exp: forward produced inf")
    assert under["shifted"]["loss"] == np.inf and under["shifted"]["anomaly"].startswith("log:")
    for logits, label, key in ((module.OVERFLOW, 2, "overflow"), (module.UNDERFLOW, 0, "underflow")):
        o = np.array(logits)
        top = o.max()
        log_sum_exp = top + np.log(np.sum(np.exp(o - top)))
        fused = r[key]["fused"]
        assert fused["loss"] == pytest.approx(log_sum_exp - o[label], rel=1e-12)
        np.testing.assert_allclose(fused["grad"], softmax(o) - np.eye(3)[label], atol=1e-12)
    assert over["shifted"]["loss"] == pytest.approx(np.log(1 + np.exp(-1) + np.exp(-2)), rel=1e-12)
    printed = printed_by(module, tmp_path, capsys)
    assert "exp: forward produced inf" in printed and "log: forward produced inf" in printed
    assert "[nan, nan, nan]" in printed and "1001.313262" in printed


# ---- d13: vanishing gradients ----

def numpy_layer_norms(model, X: np.ndarray, y: np.ndarray, activation: str) -> list[float]:
    """Backprop of cross-entropy through the model's weights, by hand."""
    import tinygrad_sm.nn as nn

    linears = [m for m in model.layers if isinstance(m, nn.Linear)]
    act = {"sigmoid": lambda z: 1 / (1 + np.exp(-z)), "relu": lambda z: np.maximum(z, 0)}[activation]
    slope = {"sigmoid": lambda z: act(z) * (1 - act(z)), "relu": lambda z: (z > 0) * 1.0}[activation]
    inputs, pre = [X], []
    for layer in linears[:-1]:
        pre.append(inputs[-1] @ layer.W.data + layer.b.data)
        inputs.append(act(pre[-1]))
    o = inputs[-1] @ linears[-1].W.data + linears[-1].b.data
    g = (softmax(o) - np.eye(o.shape[1])[y]) / len(y)
    norms = [np.linalg.norm(inputs[-1].T @ g)]
    g = g @ linears[-1].W.data.T
    for k in range(len(linears) - 2, -1, -1):
        g = g * slope(pre[k])
        norms.append(np.linalg.norm(inputs[k].T @ g))
        g = g @ linears[k].W.data.T
    return norms[::-1]


def test_d13_gradient_norms_vanish_through_sigmoids_not_relu_with_xavier(tmp_path, capsys):
    module = demo("d13_vanishing_gradients")
    r = module.run(tmp_path, quick=True)
    X, y = module.batch()
    for label, (activation, init) in module.CONFIGS.items():
        _, model = module.layer_norms(activation, init)
        np.testing.assert_allclose(r["norms"][label], numpy_layer_norms(model, X, y, activation),
                                   rtol=1e-9)
    sig, small, xavier = (np.array(r["norms"][k]) for k in module.CONFIGS)
    assert sig[-1] / sig[0] > 1e4 and np.all(np.diff(sig) > 0)   # orders of magnitude
    assert xavier.max() / xavier.min() < 3 and xavier.min() > 1e-3    # flat, and a usable scale
    assert small.max() / small.min() < 3 and small.max() < 1e-9       # flat, but tiny
    grid = module.GRID
    sigma = 1 / (1 + np.exp(-grid))
    for name, (value, slope) in r["curves"].items():
        expected = {"sigmoid": (sigma, sigma * (1 - sigma)),
                    "tanh": (np.tanh(grid), 1 - np.tanh(grid) ** 2),
                    "relu": (np.maximum(grid, 0), (grid > 0) * 1.0)}[name]
        np.testing.assert_allclose(value, expected[0], atol=1e-12)
        np.testing.assert_allclose(slope, expected[1], atol=1e-12)
    assert r["sigmoid_max_slope"] == pytest.approx(0.25, abs=1e-12)
    printed = printed_by(module, tmp_path, capsys)
    for values in (sig, xavier):
        assert f"{values[0]:.2e}" in printed and f"{values[-1]:.2e}" in printed
