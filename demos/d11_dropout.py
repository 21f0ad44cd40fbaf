"""Dropout (d2l §4.6): a mask zeroes units and scales the rest by 1/(1 − p); its gradient follows the mask; eval mode is the identity.

    python demos/d11_dropout.py [--out DIR]

`nn.Dropout(p)` draws a mask of 0s and 1s (each unit dropped with probability p) and computes
h ⊙ mask / (1 − p) (inverted dropout: the expected value stays h). The mask is a tensor of its own,
an input of the dropout op, so the trace and the diagram show it; the gradient of a dropped unit
is 0, that of a kept one ∂L/∂out / (1 − p). In eval mode (`model.eval()`) dropout is the
identity. Then an MLP on the digits with and without dropout (`train --model mlp --dropout p`).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import _common as c
import tinygrad_sm.nn as nn
from tinygrad_sm import Tensor, viz
from tinygrad_sm.data import load_digits
from tinygrad_sm.train import fit

NAME = "d11_dropout"
TITLE = "Dropout: the mask in the forward and the backward pass"
K = f"demo.{NAME}."
P = 0.5
H_VALUES = np.array([[0.3, 1.2, 0.8, 2.0, 0.5, 1.5],
                     [1.0, 0.4, 0.9, 0.2, 1.1, 0.7]])
WEIGHTS = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])  # L = Σ out ⊙ weights: ∂L/∂out = weights
DRAWS = 20000   # masks drawn to show E[out] = h


def one_layer() -> dict:
    """Dropout on a fixed h with L = Σ out ⊙ weights; the step traced."""
    layer = nn.Dropout(P, seed=4)
    h = Tensor(H_VALUES, requires_grad=True, name="h")
    out = layer(h)
    L = (out * Tensor(np.broadcast_to(WEIGHTS, H_VALUES.shape).copy(), name="v")).sum().named("L")
    trace = L.backward(trace=True)
    step = next(s for s in trace if s.op == "dropout")
    return {"mask": layer.last_mask, "out": out.data.copy(), "grad_h": h.grad.copy(),
            "rule": step.rule, "step_inputs": [x.name for x in step.inputs], "L": L, "trace": trace,
            "eval_is_identity": layer.eval()(h) is h}


def mean_over_masks(draws: int) -> np.ndarray:
    layer = nn.Dropout(P, seed=5)
    h = Tensor(np.repeat(H_VALUES[:1], draws, axis=0))
    return layer(h).data.mean(axis=0)


def digits_runs(quick: bool) -> dict:
    """An MLP on the digits, the same start, without and with dropout (quick: smaller, shorter)."""
    split = load_digits()
    epochs, hidden = (4, 64) if quick else (60, 256)
    runs = {}
    for p in (0.0, P):
        model, history = fit(split, epochs, 1.0, 32, seed=0, model_name="mlp", hidden=hidden,
                             dropout=p)
        runs[p] = {"train": history.train_accuracy[-1], "test": history.test_accuracy[-1]}
    return {"epochs": epochs, "hidden": hidden, "runs": runs}


def run(out_dir: Path, quick: bool = False) -> dict:
    out_dir = c.ensure_dir(out_dir)
    r = one_layer()
    graph = viz.draw(r["L"], trace=r["trace"])
    files = [viz.render(graph, out_dir / "dropout_graph.svg"),
             r["trace"].save_html(str(out_dir / "dropout_backprop.html"))]
    r.update(mean=mean_over_masks(DRAWS), graph_source=graph.source, files=[Path(f) for f in files],
             digits=digits_runs(quick))
    return r


def report(r: dict) -> None:
    c.say(c.tr(K + "setup", p=P, h=c.fmt(H_VALUES, 1), v=c.fmt(WEIGHTS, 1)))
    c.say(c.tr(K + "mask", mask=c.fmt(r["mask"], 0), out=c.fmt(r["out"], 2)))
    c.say(c.tr(K + "grad", rule=r["rule"], grad=c.fmt(r["grad_h"], 1), inputs=", ".join(r["step_inputs"])))
    c.say(c.tr(K + "expectation", draws=DRAWS, mean=c.fmt(r["mean"], 3), h=c.fmt(H_VALUES[0], 3)))
    c.say(c.tr(K + "eval") if r["eval_is_identity"] else c.tr(K + "eval_not"))
    d = r["digits"]
    rows = [[f"{p:g}", f"{run['train']:.4f}", f"{run['test']:.4f}"] for p, run in d["runs"].items()]
    c.table(c.tr(K + "table", epochs=d["epochs"], hidden=d["hidden"]), ["p", c.tr(K + "col_train"), c.tr(K + "col_test")], rows)
    c.say(c.tr(K + "command"))


def main(argv=None) -> int:
    return c.main(NAME, TITLE, run, report, argv)


if __name__ == "__main__":
    sys.exit(main())
