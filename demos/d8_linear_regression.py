"""Linear regression (d2l §3.1–3.3): SGD recovers w = [2, −3.4], b = 4.2, and its gradient rule is softmax regression's.

    python demos/d8_linear_regression.py [--out DIR]

Synthetic data as in §3.2 (y = Xw + b + ε, ε ~ N(0, 0.01²)), the squared loss ½(ŷ − y)² averaged
over the minibatch, SGD with lr 0.03, batch 10, 3 epochs; the learned w, b beside the true ones
and the closed-form least-squares solution. One step, traced: ∂L/∂ŷ = (Xw + b − y)/n, then the
matmul's rule gives ∂L/∂w = Xᵀ(Xw + b − y)/n, the rule softmax regression's step shows with
(ŷ − y)/n, drawn side by side.
"""
from __future__ import annotations

import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import _common as c
import tinygrad_sm.nn as nn
from tinygrad_sm import Tensor, regression, viz
from tinygrad_sm.data import synthetic_regression

NAME = "d8_linear_regression"
TITLE = "Linear regression: SGD, the closed form, and the same rule as softmax regression"
K = f"demo.{NAME}."
SEED, STEP_ROWS = 0, 10


def linear_step(X: np.ndarray, y: np.ndarray):
    """One traced step of linear regression in float64 on the first rows; (trace, model, loss)."""
    model = regression.linear_model(X.shape[1], seed=SEED, dtype=np.float64)
    loss = nn.squared_loss(model(Tensor(X, name="X")), Tensor(y, name="y"))
    return loss.backward(trace=True), model, loss


def softmax_step(X: np.ndarray, labels: np.ndarray):
    """The same step for softmax regression with 3 classes on the same inputs; (trace, model, loss)."""
    model = nn.SoftmaxRegression(X.shape[1], 3, seed=SEED, dtype=np.float64)
    loss = nn.cross_entropy(model(Tensor(X, name="X")), labels)
    return loss.backward(trace=True), model, loss


def matmul_rule(trace, weight) -> str:
    """The rule the matmul step gives the weight: ∂L/∂w = Xᵀ · ∂L/∂Xw."""
    step = next(s for s in trace if s.op == "matmul")
    return step.rules[[x is weight for x in step.inputs].index(True)]


def softmax_rows(o: np.ndarray) -> np.ndarray:
    e = np.exp(o - o.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def run(out_dir: Path, quick: bool = False) -> dict:
    out_dir = c.ensure_dir(out_dir)
    X, y = synthetic_regression(regression.TRUE_W, regression.TRUE_B, 0.01, 1000, SEED)
    model, history = regression.fit_linear(X, y, regression.EPOCHS, regression.LR,
                                           regression.BATCH_SIZE, SEED)
    cf_w, cf_b = regression.closed_form(X, y)
    w, b = model.W.data.ravel().astype(float), float(model.b.data[0])

    # one step of each model on the same 10 rows, in float64, against the rule by hand
    X10 = X[:STEP_ROWS].astype(np.float64)
    y10 = y[:STEP_ROWS].astype(np.float64)
    lin_trace, lin, lin_loss = linear_step(X10, y10)
    residual = X10 @ lin.W.data + lin.b.data - y10
    labels = np.arange(STEP_ROWS) % 3
    soft_trace, soft, soft_loss = softmax_step(X10, labels)
    error = softmax_rows(X10 @ soft.W.data + soft.b.data) - np.eye(3)[labels]
    files = []
    for trace, loss, weight, stem in ((lin_trace, lin_loss, lin.W, "linear"),
                                      (soft_trace, soft_loss, soft.W, "softmax")):
        files.append(viz.render(viz.draw(loss, trace=trace, highlight=weight),
                                out_dir / f"{stem}_step.svg"))
    files.append(lin_trace.save_html(str(out_dir / "linear_backprop.html")))
    files.append(_picture(X, y, w, b, history, out_dir / "linear_regression.png"))
    return {
        "w": w, "b": b, "closed_w": cf_w, "closed_b": cf_b, "loss": history.train_loss,
        "w_error": float(np.abs(w - regression.TRUE_W).max()),
        "b_error": abs(b - regression.TRUE_B),
        "sgd_vs_closed": float(np.abs(np.append(w - cf_w, b - cf_b)).max()),
        "linear_rule": matmul_rule(lin_trace, lin.W), "softmax_rule": matmul_rule(soft_trace, soft.W),
        "linear_vs_formula": float(np.abs(lin.W.grad - X10.T @ residual / STEP_ROWS).max()),
        "softmax_vs_formula": float(np.abs(soft.W.grad - X10.T @ error / STEP_ROWS).max()),
        "linear_grad": lin.W.grad.copy(), "softmax_grad": soft.W.grad.copy(),
        "linear_ops": [s.op for s in lin_trace], "softmax_ops": [s.op for s in soft_trace],
        "files": [Path(f) for f in files],
    }


def _picture(X, y, w, b, history, path: Path) -> Path:
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    left.scatter(X[:, 1], y[:, 0], s=3, alpha=0.5)
    line = np.linspace(X[:, 1].min(), X[:, 1].max(), 2)
    left.plot(line, w[1] * line + b + w[0] * X[:, 0].mean(), color="C3")
    left.set_xlabel(c.plot_tr(K + "plot_feature"))
    left.set_ylabel("y")
    right.semilogy(range(1, len(history.train_loss) + 1), history.train_loss, marker="o")
    right.set_xticks(range(1, len(history.train_loss) + 1))
    right.set_xlabel(c.plot_tr(K + "plot_epoch"))
    right.set_ylabel(c.plot_tr(K + "plot_loss"))
    return c.save_figure(fig, path)


def report(r: dict) -> None:
    c.say(c.tr(K + "setup"))
    for epoch, loss in enumerate(r["loss"], 1):
        c.say(c.tr(K + "epoch", epoch=epoch, loss=loss))
    names = ["w[0]", "w[1]", "b"]
    learned = [*r["w"], r["b"]]
    closed = [*r["closed_w"], r["closed_b"]]
    true = [*regression.TRUE_W, regression.TRUE_B]
    rows = [[n, f"{v:+.6f}", f"{t:+.6f}", f"{s:+.6f}"] for n, v, t, s in zip(names, learned, true, closed)]
    c.table(c.tr(K + "table"), ["", c.tr(K + "col_sgd"), c.tr(K + "col_true"), c.tr(K + "col_closed")], rows)
    c.say(c.tr(K + "errors", w=r["w_error"], b=r["b_error"], closed=r["sgd_vs_closed"]))
    c.table(c.tr(K + "side_by_side"), ["", c.tr(K + "col_linear"), c.tr(K + "col_softmax")], [
        [c.tr(K + "row_loss"), "½ mean (ŷ − y)²", "−mean Σ y log ŷ"],
        ["∂L/∂o", "(ŷ − y)/n, ŷ = o", "(ŷ − y)/n, ŷ = softmax(o)"],
        [c.tr(K + "row_rule"), r["linear_rule"], r["softmax_rule"]],
        ["∂L/∂W", "Xᵀ(Xw + b − y)/n", "Xᵀ(softmax(XW + b) − y)/n"],
        [c.tr(K + "row_check"), f"{r['linear_vs_formula']:.1e}", f"{r['softmax_vs_formula']:.1e}"],
    ])
    c.say(c.tr(K + "same_rule", linear=" → ".join(r["linear_ops"]), softmax=" → ".join(r["softmax_ops"])))


def main(argv=None) -> int:
    return c.main(NAME, TITLE, run, report, argv)


if __name__ == "__main__":
    sys.exit(main())
