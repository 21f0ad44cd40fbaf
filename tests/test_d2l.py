"""Issue 20, the library: d2l chapters 3–4 (sigmoid, tanh, dropout, squared loss, weight decay, the
L2 penalty, bias-free Linear, Xavier, synthetic data, linear regression and its command). Every
expected number is recomputed here in plain numpy (float64), never taken from the code under test.
The demos' claims are in test_d2l_demos.py."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import tinygrad_sm.nn as nn
from tinygrad_sm import GradcheckError, Tensor, gradcheck, ops, viz
from tinygrad_sm.cli import main
from tinygrad_sm.data import synthetic_regression
from tinygrad_sm.optim import SGD
from tinygrad_sm import regression


def leaf(values, name="x") -> Tensor:
    return Tensor(np.asarray(values, dtype=np.float64), requires_grad=True, name=name)


# ---- sigmoid and tanh ----

XS = np.array([[-4.0, -1.5, -0.2], [0.0, 0.7, 3.0]])


@pytest.mark.parametrize("op", [ops.Sigmoid, ops.Tanh])
def test_sigmoid_and_tanh_pass_gradcheck(op):
    assert gradcheck(lambda t: op.apply(t), leaf(XS))


def test_sigmoid_and_tanh_values_and_derivatives_are_the_books():
    for function, value, derivative in (
            (nn.sigmoid, 1 / (1 + np.exp(-XS)), np.exp(-XS) / (1 + np.exp(-XS)) ** 2),
            (nn.tanh, np.sinh(XS) / np.cosh(XS), 1 / np.cosh(XS) ** 2)):
        x = leaf(XS)
        out = function(x)
        out.sum().backward()
        np.testing.assert_allclose(out.data, value, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(x.grad, derivative, rtol=1e-12, atol=1e-15)


def test_sigmoid_of_huge_inputs_is_finite_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = nn.sigmoid(Tensor(np.array([-1000.0, 1000.0]))).data
    assert out.tolist() == [0.0, 1.0]


def test_a_wrong_sigmoid_backward_would_fail_gradcheck():
    """The gradcheck above can fail: the same op with σ′ = σ is caught."""
    class Wrong(ops.Sigmoid):
        def backward(self, g, needs):
            return (g * self.saved[0],)
    with pytest.raises(GradcheckError):
        gradcheck(lambda t: Wrong.apply(t), leaf(XS))


@pytest.mark.parametrize("function, rule", [
    (nn.sigmoid, "∂L/∂z = ∂L/∂h ⊙ h ⊙ (1 − h)"),
    (nn.tanh, "∂L/∂z = ∂L/∂h ⊙ (1 − h²)")])
def test_sigmoid_and_tanh_show_in_the_trace_the_diagram_and_the_page(function, rule, tmp_path):
    z = leaf(XS, "z")
    h = function(z).named("h")
    L = h.sum().named("L")
    trace = L.backward(trace=True)
    step = next(s for s in trace if s.op == function.__name__)
    assert step.rule == rule
    source = viz.draw(L, trace=trace).source
    assert function.__name__ in source and rule in source
    page = trace.save_html(str(tmp_path / "page.html"))
    assert function.__name__ in open(page, encoding="utf-8").read()


def test_activation_modules_name_their_output_h():
    model = nn.Sequential(nn.Linear(3, 2, dtype=np.float64), nn.Sigmoid(),
                          nn.Linear(2, 2, dtype=np.float64), nn.Tanh())
    x = np.arange(6.0).reshape(2, 3)
    out = model(x)
    assert out.name == "H2"
    W1, b1, W2, b2 = (p.data for p in model.parameters())
    expected = np.tanh((1 / (1 + np.exp(-(x @ W1 + b1)))) @ W2 + b2)
    np.testing.assert_allclose(out.data, expected, rtol=1e-12)


# ---- dropout ----

def test_dropout_op_passes_gradcheck_with_a_fixed_mask():
    mask = Tensor((np.random.default_rng(1).random(XS.shape) >= 0.5).astype(np.float64), name="mask")
    assert gradcheck(lambda t: ops.Dropout.apply(t, mask, p=0.5), leaf(XS))


def test_dropout_zeroes_dropped_units_and_scales_kept_ones_by_one_over_keep():
    p = 0.25
    layer = nn.Dropout(p, seed=3)
    x = leaf(np.linspace(-1, 1, 40).reshape(4, 10))
    out = layer(x)
    (out * np.arange(40.0).reshape(4, 10)).sum().backward()
    mask = layer.last_mask
    assert set(np.unique(mask)) == {0.0, 1.0}
    np.testing.assert_allclose(out.data, x.data * mask / (1 - p), rtol=1e-15)
    np.testing.assert_allclose(x.grad, np.arange(40.0).reshape(4, 10) * mask / (1 - p))
    assert np.all(x.grad[mask == 0] == 0) and np.all(x.grad[mask == 1] != 0)


def test_dropout_drops_about_p_of_the_units_and_keeps_the_mean():
    x = Tensor(np.ones((200, 500)))
    out = nn.Dropout(0.3, seed=0)(x).data
    assert abs(np.mean(out == 0) - 0.3) < 0.01
    assert abs(out.mean() - 1.0) < 0.02  # inverted dropout: E[out] = x


def test_eval_mode_is_the_identity_and_train_mode_comes_back():
    model = nn.mlp(5, 8, 3, dtype=np.float64, dropout=0.5)
    x = np.random.default_rng(0).normal(size=(4, 5))
    model.eval()
    assert not any(m.training for m in model.modules())
    dropout = model.layers[2]
    h = Tensor(x[:, :1].repeat(8, axis=1), name="H")
    assert dropout(h) is h                       # the identity: the same tensor, no op
    W1, b1, W2, b2 = (p.data for p in model.parameters())
    np.testing.assert_allclose(model(x).data, np.maximum(x @ W1 + b1, 0) @ W2 + b2, rtol=1e-12)
    model.train()
    assert all(m.training for m in model.modules())
    assert dropout(h) is not h


def test_the_mask_shows_in_the_trace_the_diagram_and_the_page(tmp_path):
    model = nn.mlp(4, 6, 3, dtype=np.float64, dropout=0.5)
    L = nn.cross_entropy(model(np.ones((2, 4))), np.array([0, 2]))
    trace = L.backward(trace=True)
    step = next(s for s in trace if s.op == "dropout")
    mask = next(x for x in step.inputs if x.name == "mask1")
    assert step.rule == "∂L/∂H1 = ∂L/∂D1 ⊙ mask1 / (1 − p)"
    np.testing.assert_array_equal(mask.data, model.layers[2].last_mask)
    # the gradient that reached H1 is zero exactly where the mask dropped a unit
    H1_grad = step.grad_inputs[0]
    assert np.all(H1_grad[mask.data == 0] == 0)
    source = viz.draw(L, trace=trace).source
    assert "mask1" in source and "dropout" in source
    page = open(trace.save_html(str(tmp_path / "p.html")), encoding="utf-8").read()
    assert "mask1" in page


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5, "0.5", True])
def test_a_bad_dropout_probability_is_refused(p):
    with pytest.raises(ValueError, match="dropout: p must be a number in"):
        nn.Dropout(p)


# ---- Linear without bias, Xavier ----

def test_linear_without_bias_has_only_w():
    layer = nn.Linear(3, 2, bias=False, dtype=np.float64)
    assert [p.name for p in layer.parameters()] == ["W"]
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(layer(x).data, x @ layer.W.data, rtol=1e-15)
    assert layer(x).name == "o"


def test_xavier_uniform_draws_within_the_bound_with_the_right_variance():
    n_in, n_out = 300, 200
    W = nn.init.xavier_uniform_(Tensor(np.zeros((n_in, n_out)), requires_grad=True), seed=0)
    bound = np.sqrt(6 / (n_in + n_out))
    assert np.abs(W.data).max() <= bound and np.abs(W.data).max() > 0.99 * bound
    assert W.data.var() == pytest.approx(2 / (n_in + n_out), rel=0.02)
    layer = nn.Linear(n_in, n_out, init="xavier", seed=0)
    assert layer.W.dtype == np.float32 and np.abs(layer.W.data).max() <= bound
    with pytest.raises(ValueError, match="xavier_uniform_: needs a 2-D"):
        nn.init.xavier_uniform_(Tensor(np.zeros(3)))
    with pytest.raises(ValueError, match="init must be one of normal, xavier"):
        nn.Linear(2, 2, init="he")


# ---- squared loss, L2 penalty, weight decay ----

def test_squared_loss_is_half_the_mean_square_and_its_gradient_the_books():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(7, 3)), rng.normal(size=(7, 1))
    w, b = leaf(rng.normal(size=(3, 1)), "w"), leaf(np.array([0.3]), "b")
    L = nn.squared_loss(Tensor(X, name="X") @ w + b, Tensor(y, name="y"))
    residual = X @ w.data + b.data - y
    assert L.item() == pytest.approx(0.5 * np.mean(residual ** 2), abs=1e-15)
    L.backward()
    np.testing.assert_allclose(w.grad, X.T @ residual / 7, atol=1e-10, rtol=0)
    np.testing.assert_allclose(b.grad, residual.sum(axis=0) / 7, atol=1e-10, rtol=0)
    assert L.item() == pytest.approx(nn.mse_loss(Tensor(X @ w.data + b.data), y).item() / 2)
    with pytest.raises(Exception, match="squared_loss: prediction of shape"):
        nn.squared_loss(Tensor(X @ w.data), y.ravel())


def test_l2_penalty_is_half_lambda_sum_of_squares_and_adds_lambda_w():
    rng = np.random.default_rng(1)
    W1, W2 = leaf(rng.normal(size=(3, 2)), "W1"), leaf(rng.normal(size=(2, 1)), "W2")
    s = nn.l2_penalty([W1, W2], 3.0)
    assert s.name == "s"
    assert s.item() == pytest.approx(1.5 * (np.sum(W1.data ** 2) + np.sum(W2.data ** 2)), abs=1e-12)
    s.backward()
    np.testing.assert_allclose(W1.grad, 3.0 * W1.data, atol=1e-12)
    np.testing.assert_allclose(W2.grad, 3.0 * W2.data, atol=1e-12)
    with pytest.raises(ValueError, match="lam must be a number ≥ 0"):
        nn.l2_penalty([W1], -1)


def test_sgd_weight_decay_equals_the_update_written_by_hand():
    rng = np.random.default_rng(2)
    W0, b0, g_W, g_b = (rng.normal(size=s) for s in ((3, 2), (2,), (3, 2), (2,)))
    W, b = leaf(W0, "W"), leaf(b0, "b")
    W.grad, b.grad = g_W.copy(), g_b.copy()
    SGD([W, b], lr=0.1, weight_decay=0.5).step()
    np.testing.assert_allclose(W.data, W0 - 0.1 * (g_W + 0.5 * W0), atol=1e-15)
    np.testing.assert_allclose(b.data, b0 - 0.1 * (g_b + 0.5 * b0), atol=1e-15)
    # decayed: only the weights (d2l §4.5), the bias stepped plainly
    W, b = leaf(W0, "W"), leaf(b0, "b")
    W.grad, b.grad = g_W.copy(), g_b.copy()
    SGD([W, b], lr=0.1, weight_decay=0.5, decayed=[W]).step()
    np.testing.assert_allclose(W.data, W0 - 0.1 * (g_W + 0.5 * W0), atol=1e-15)
    np.testing.assert_allclose(b.data, b0 - 0.1 * g_b, atol=1e-15)


def test_weight_decay_and_the_l2_penalty_in_the_graph_give_the_same_step():
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(6, 4)), rng.normal(size=(6, 1))
    W0 = rng.normal(size=(4, 1))
    results = []
    for in_graph in (True, False):
        W = leaf(W0, "W")
        loss = nn.squared_loss(Tensor(X) @ W, y)
        if in_graph:
            loss = loss + nn.l2_penalty([W], 0.7)
        loss.backward()
        SGD([W], lr=0.05, weight_decay=0.0 if in_graph else 0.7).step()
        results.append(W.data)
    np.testing.assert_allclose(results[0], results[1], atol=1e-14)
    np.testing.assert_allclose(results[1], W0 - 0.05 * (X.T @ (X @ W0 - y) / 6 + 0.7 * W0), atol=1e-12)


@pytest.mark.parametrize("value, error", [(-0.1, ValueError), (float("nan"), ValueError),
                                          ("0.1", TypeError)])
def test_a_bad_weight_decay_is_refused(value, error):
    with pytest.raises(error, match="SGD: weight_decay must be"):
        SGD([leaf([1.0])], lr=0.1, weight_decay=value)


# ---- synthetic data and linear regression ----

def test_synthetic_regression_is_the_books_data():
    X, y = synthetic_regression([2, -3.4], 4.2, 0.01, 1000, seed=5)
    assert X.shape == (1000, 2) and y.shape == (1000, 1) and X.dtype == np.float32
    noise = y[:, 0] - (X.astype(np.float64) @ [2, -3.4] + 4.2)
    assert abs(noise.std() - 0.01) < 0.001 and abs(noise.mean()) < 0.002
    assert abs(X.std() - 1) < 0.05
    X2, y2 = synthetic_regression([2, -3.4], 4.2, 0.01, 1000, seed=5)
    assert np.array_equal(X, X2) and np.array_equal(y, y2)
    with pytest.raises(ValueError, match="synthetic_regression: n must"):
        synthetic_regression(n=0)


def lstsq(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    A = np.hstack([X.astype(np.float64), np.ones((len(X), 1))])
    theta = np.linalg.lstsq(A, y.astype(np.float64).ravel(), rcond=None)[0]
    return theta[:-1], theta[-1]


def test_closed_form_is_least_squares_and_ridge():
    X, y = synthetic_regression(seed=1)
    w, b = regression.closed_form(X, y)
    w_ref, b_ref = lstsq(X, y)
    np.testing.assert_allclose(w, w_ref, atol=1e-10)
    assert b == pytest.approx(b_ref, abs=1e-10)
    # with λ: the gradient of ½ mean (Xw + b − y)² + λ/2 ‖w‖² is zero there
    w, b = regression.closed_form(X, y, weight_decay=2.0)
    X64, r = X.astype(np.float64), X.astype(np.float64) @ w + b - y[:, 0].astype(np.float64)
    np.testing.assert_allclose(X64.T @ r / len(r) + 2.0 * w, 0, atol=1e-10)
    assert abs(r.mean()) < 1e-10


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_train_model_linear_recovers_w_and_b(seed, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["train", "--model", "linear", "--seed", str(seed), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["settings"]["lr"] == 0.03 and metrics["settings"]["batch_size"] == 10
    assert metrics["settings"]["epochs"] == 3
    assert metrics["true_w"] == [2.0, -3.4] and metrics["true_b"] == 4.2
    assert np.abs(np.subtract(metrics["w"], [2, -3.4])).max() < 0.01
    assert abs(metrics["b"] - 4.2) < 0.01
    X, y = synthetic_regression([2, -3.4], 4.2, 0.01, 1000, seed)   # the run's data, again
    w_ref, b_ref = lstsq(X, y)
    np.testing.assert_allclose(metrics["closed_form"]["w"], w_ref, atol=1e-9)
    assert metrics["closed_form"]["b"] == pytest.approx(b_ref, abs=1e-9)
    assert np.abs(np.subtract(metrics["w"], w_ref)).max() < 0.01 and abs(metrics["b"] - b_ref) < 0.01
    for value in (*metrics["w"], metrics["b"], *w_ref, b_ref):
        assert f"{value:+.6f}" in printed
    assert "closed form" in printed and sorted(metrics["files"]) == ["backprop.html", "graph.gv",
                                                                     "graph.svg"]


def test_the_linear_step_shows_the_books_gradient(tmp_path):
    X, y = synthetic_regression(seed=0, dtype=np.float64)
    model = regression.linear_model(2, seed=0, dtype=np.float64)
    loss = nn.squared_loss(model(Tensor(X[:10], name="X")), Tensor(y[:10], name="y"))
    trace = loss.backward(trace=True)
    matmul = next(s for s in trace if s.op == "matmul")
    assert matmul.rules[1] == "∂L/∂w = Xᵀ · ∂L/∂Xw"
    residual = X[:10] @ model.W.data + model.b.data - y[:10]
    np.testing.assert_allclose(matmul.grad_output, residual / 10, atol=1e-10)
    np.testing.assert_allclose(model.W.grad, X[:10].T @ residual / 10, atol=1e-10)


def test_fit_with_weight_decay_shrinks_the_weights_not_the_biases():
    from tinygrad_sm.data import load_digits
    from tinygrad_sm.train import fit

    split = load_digits()
    models = {wd: fit(split, 5, 1.0, 32, seed=0, weight_decay=wd)[0] for wd in (0.0, 0.01)}
    norm = {wd: np.linalg.norm(m.W.data) for wd, m in models.items()}
    assert norm[0.01] < 0.9 * norm[0.0]


def test_train_weight_decay_on_the_command_line(tmp_path, capsys):
    out = tmp_path / "s"
    assert main(["train", "--epochs", "2", "--weight-decay", "0.01", "--out", str(out)]) == 0
    assert json.loads((out / "metrics.json").read_text(encoding="utf-8"))["settings"]["weight_decay"] == 0.01
    assert "weight decay λ = 0.01" in capsys.readouterr().out
    assert main(["train", "--model", "linear", "--weight-decay", "1", "--out", str(tmp_path / "l")]) == 0
    metrics = json.loads((tmp_path / "l" / "metrics.json").read_text(encoding="utf-8"))
    assert np.linalg.norm(metrics["w"]) < np.linalg.norm([2, -3.4]) * 0.75  # w shrinks toward 0
    X, y = synthetic_regression(seed=0)
    A = np.hstack([X.astype(np.float64), np.ones((1000, 1))])   # ridge, b not decayed
    theta = np.linalg.solve(A.T @ A / 1000 + np.diag([1.0, 1.0, 0.0]), A.T @ y[:, 0] / 1000)
    np.testing.assert_allclose(metrics["closed_form"]["w"], theta[:2], atol=1e-9)


def test_train_mlp_with_dropout(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["train", "--model", "mlp", "--hidden", "32", "--epochs", "4", "--dropout", "0.2",
                 "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["settings"]["dropout"] == 0.2 and metrics["final_test_accuracy"] > 0.8
    assert "mask1" in (out / "graph.gv").read_text(encoding="utf-8")


@pytest.mark.parametrize("argv, status, message", [
    (["--dropout", "0.5"], 1, "--dropout needs a hidden layer"),
    (["--model", "mlp", "--dropout", "1"], 2, "must be at least 0 and less than 1"),
    (["--weight-decay", "-1"], 2, "must be 0 or more"),
])
def test_bad_regularisation_settings_are_refused(argv, status, message, tmp_path, capsys):
    if status == 2:
        with pytest.raises(SystemExit) as e:
            main(["train", *argv, "--out", str(tmp_path)])
        assert e.value.code == 2
    else:
        assert main(["train", *argv, "--out", str(tmp_path)]) == 1
    assert message in capsys.readouterr().err


def test_a_diverging_linear_run_exits_1_with_strict_json(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["train", "--model", "linear", "--lr", "50", "--out", str(out)]) == 1
    assert "training diverged" in capsys.readouterr().err
    text = (out / "metrics.json").read_text(encoding="utf-8")
    metrics = json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in metrics.json"))
    assert metrics["diverged"] is True and metrics["w"] is None and metrics["b"] is None


def test_sigmoid_and_tanh_are_tensor_methods_too():
    x = np.array([-2.0, 0.0, 3.0])
    s, t = Tensor(x, requires_grad=True), Tensor(x, requires_grad=True)
    s.sigmoid().sum().backward()
    t.tanh().sum().backward()
    sig = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(s.grad, sig * (1 - sig), rtol=1e-12)
    np.testing.assert_allclose(t.grad, 1 - np.tanh(x) ** 2, rtol=1e-12)
