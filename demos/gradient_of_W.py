"""Why the book stops at ∂L/∂o: from there to ∂L/∂W is one matmul rule, and the engine shows it.

    python demos/gradient_of_W.py [--out DIR]

Softmax + cross-entropy give ∂L/∂o = (ŷ − y)/n whatever came before o. For o = XW + b the matmul
op's rule carries it to W: ∂L/∂W = Xᵀ(ŷ − y)/n. The same gradient comes out when cross-entropy is
composed from exp, sum and log, only through more steps of the chain rule.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import _common as c
import tinygrad_sm.nn as nn
from tinygrad_sm import Tensor, viz
from tinygrad_sm.gradcheck import numerical_grad

NAME = "gradient_of_W"
TITLE = "∂L/∂W: the step after ∂L/∂o"
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

    y_hat = o.softmax().data
    closed_form = X.data.T @ (y_hat - nn.one_hot(LABELS, CLASSES, dtype=np.float64)) / N
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
        "grad_o": o.grad.copy(), "rule": rule, "fused_ops": path_ops,
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
    c.say("Softmax regression on 4 samples, 3 features, 3 classes (float64): o = XW + b, "
          f"L = cross_entropy(o, y) = {r['loss']:.6f}. The backward pass:")
    print(r["trace"])  # the engine's own step table (tinygrad_sm.trace_table)
    c.say(f"\nThe book's result, ∂L/∂o = (ŷ − y)/n, is what arrives at o:\n{c.fmt(r['grad_o'])}")
    c.say(f"One more rule, the matmul op's, takes it to W:   [bold]{r['rule']}[/bold]\n"
          "(XW is o before + b; the add step hands ∂L/∂o on unchanged, so ∂L/∂XW = ∂L/∂o and "
          "∂L/∂W = Xᵀ(ŷ − y)/n.) The diagram grad_W_graph.svg highlights this path L → o → XW → W.\n")
    rows = [[f"W[{i},{j}]", f"{r['engine'][i, j]:+.10f}", f"{r['closed_form'][i, j]:+.10f}",
             f"{r['central'][i, j]:+.10f}"] for i, j in np.ndindex(r["engine"].shape)]
    c.table("∂L/∂W", ["entry", "engine (W.grad)", "Xᵀ(ŷ − y)/n", "central difference"], rows)
    c.say(f"max |engine − Xᵀ(ŷ − y)/n| = {r['engine_vs_closed_form']:.1e};  "
          f"max |engine − central difference| = {r['engine_vs_central']:.1e}\n")
    c.say(f"Fused cross_entropy: {len(r['fused_ops'])} backward steps ({', '.join(r['fused_ops'])}).")
    c.say(f"Composed from exp, sum, log: {len(r['composed_ops'])} steps "
          f"({', '.join(r['composed_ops'])}); o receives {r['o_terms_composed']} contributions "
          "(it feeds exp and the subtraction) that the engine adds up.")
    c.say(f"Same loss ({r['loss']:.12f} vs {r['composed_loss']:.12f}) and the same ∂L/∂W: max "
          f"difference {r['fused_vs_composed']:.1e} (∂L/∂b: {r['fused_vs_composed_b']:.1e}).")


def main(argv=None) -> int:
    return c.main(NAME, TITLE, run, report, argv)


if __name__ == "__main__":
    sys.exit(main())
