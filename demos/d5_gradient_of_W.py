"""Why the book stops at ∂L/∂o: from there to ∂L/∂W is one matmul rule, and the engine shows it.

    python demos/d5_gradient_of_W.py [--out DIR]

Softmax + cross-entropy give ∂L/∂o = ŷ − y for one example (the book's result), whatever came
before o; the loss is a mean over the batch, so each of its n rows gets 1/n: (ŷ − y)/n. For
o = XW + b the matmul op's rule carries it to W: ∂L/∂W = Xᵀ(ŷ − y)/n. The same gradient comes out when cross-entropy is
composed from exp, sum and log, only through more steps of the chain rule.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import _common as c
from d3_softmax_jacobian import softmax_numpy
import tinygrad_sm.nn as nn
from tinygrad_sm import Tensor, viz
from tinygrad_sm.gradcheck import numerical_grad

NAME = "d5_gradient_of_W"
TITLE = "∂L/∂W: the step after ∂L/∂o"
K = f"demo.{NAME}."  # this demo's messages in the catalogue
N, FEATURES, CLASSES = 4, 3, 3
LABELS = np.array([0, 2, 1, 2])


def make_model() -> tuple[Tensor, nn.SoftmaxRegression]:
    """A batch of 4 samples with 3 features and a model whose weights are not all tiny (float64)."""
    rng = np.random.default_rng(0)
    X = Tensor(rng.normal(0.0, 1.0, size=(N, FEATURES)).round(2), name="X")
    model = nn.SoftmaxRegression(FEATURES, CLASSES, seed=0, dtype=np.float64)
    model.W.data[...] = rng.normal(0.0, 0.5, size=(FEATURES, CLASSES)).round(2)
    model.b.data[...] = [0.1, -0.2, 0.05]
    return X, model


def closed_form_gradient(X: np.ndarray, W: np.ndarray, b: np.ndarray,
                         labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ŷ − y per example and Xᵀ(ŷ − y)/n, in plain numpy (ŷ not taken from the engine)."""
    error = softmax_numpy(X @ W + b) - np.eye(W.shape[1])[labels]
    return error, X.T @ error / len(labels)


def composed_cross_entropy(o: Tensor, labels: np.ndarray) -> Tensor:
    """−mean Σ y ⊙ (o − log Σ exp(o)), built from elementary ops (fine for small logits)."""
    Y = Tensor(nn.one_hot(labels, CLASSES, dtype=o.dtype), name="y")
    log_sum = o.exp().named("exp(o)").sum(axis=1, keepdims=True).named("Σexp").log().named("logΣexp")
    log_probs = (o - log_sum).named("log ŷ")
    return (-(Y * log_probs).named("y⊙log ŷ").sum(axis=1).named("picked").mean()).named("L")


def loss_of(X: Tensor, W: Tensor, b: Tensor) -> Tensor:
    """The fused loss as a function of the leaves, for central differences."""
    return nn.cross_entropy(((X @ W).named("XW") + b).named("o"), LABELS)


def run(out_dir: Path, quick: bool = False) -> dict:
    out_dir = c.ensure_dir(out_dir)
    X, model = make_model()
    W, b = model.W, model.b
    o = model(X)
    L = nn.cross_entropy(o, LABELS)
    trace = L.backward(trace=True)
    engine = W.grad.copy()

    per_example, closed_form = closed_form_gradient(X.data, W.data, b.data, LABELS)
    central = numerical_grad(loss_of, [X, W, b], 1, np.ones(()), eps=1e-6)

    # the rule on the edge into W: the matmul step's rule for W, as the engine recorded it
    matmul = next(s for s in trace if s.op == "matmul")
    rule = matmul.rules[[x is W for x in matmul.inputs].index(True)]
    path_ops = [s.op for s in trace]

    fused_graph = viz.draw(L, trace=trace, highlight=W)
    files = [viz.render(fused_graph, out_dir / "grad_W_graph.svg"),
             viz.render(fused_graph, out_dir / "grad_W_graph.png"),
             trace.save_html(str(out_dir / "backprop.html"))]

    # the same loss from exp, sum and log: same ∂L/∂W, more steps
    X2, model2 = make_model()
    L2 = composed_cross_entropy(model2(X2), LABELS)
    composed_trace = L2.backward(trace=True)
    files.append(viz.render(viz.draw(L2, trace=composed_trace, highlight=model2.W),
                            out_dir / "composed_graph.svg"))
    return {
        "loss": L.item(), "composed_loss": L2.item(),
        "engine": engine, "closed_form": closed_form, "central": central,
        "engine_vs_closed_form": float(np.abs(engine - closed_form).max()),
        "engine_vs_central": float(np.abs(engine - central).max()),
        "grad_o": o.grad.copy(), "per_example": per_example, "rule": rule, "fused_ops": path_ops,
        "composed_ops": [s.op for s in composed_trace],
        "fused_vs_composed": float(np.abs(engine - model2.W.grad).max()),
        "fused_vs_composed_b": float(np.abs(b.grad - model2.b.grad).max()),
        "o_terms_composed": _terms_into_o(composed_trace),
        "trace": trace,
        "files": [Path(f) for f in files],
    }


def _terms_into_o(trace) -> int:
    """How many contributions the logits o received (o feeds both exp and the subtraction)."""
    for tensor, terms in trace.accumulated():
        if tensor.name == "o":
            return len(terms)
    return 1


def report(r: dict) -> None:
    c.say(c.tr(K + "setup", loss=r["loss"]))
    print(r["trace"])  # the engine's own step table (tinygrad_sm.trace_table)
    c.say(c.tr(K + "book", per_example=c.fmt(r["per_example"]), n=N, grad_o=c.fmt(r["grad_o"])))
    c.say(c.tr(K + "one_more", rule=r["rule"]))
    rows = [[f"W[{i},{j}]", f"{r['engine'][i, j]:+.10f}", f"{r['closed_form'][i, j]:+.10f}",
             f"{r['central'][i, j]:+.10f}"] for i, j in np.ndindex(r["engine"].shape)]
    c.table("∂L/∂W", [c.tr(K + "col_entry"), c.tr(K + "col_engine"), "Xᵀ(ŷ − y)/n",
                      c.tr(K + "col_central")], rows)
    c.say(c.tr(K + "max", closed=r["engine_vs_closed_form"], central=r["engine_vs_central"]))
    c.say(c.tr(K + "fused", count=len(r["fused_ops"]), ops=", ".join(r["fused_ops"])))
    c.say(c.tr(K + "composed", count=len(r["composed_ops"]), ops=", ".join(r["composed_ops"]),
               terms=r["o_terms_composed"]))
    c.say(c.tr(K + "same", loss=r["loss"], composed=r["composed_loss"], W=r["fused_vs_composed"],
               b=r["fused_vs_composed_b"]))


def main(argv=None) -> int:
    return c.main(NAME, TITLE, run, report, argv)


if __name__ == "__main__":
    sys.exit(main())
