"""§4.7's computational graph: x → z → h → o → L, s = λ/2(‖W1‖² + ‖W2‖²), J = L + s; ∂J/∂W1, ∂J/∂W2 equal the book's formulas.

    python demos/d10_forward_backward_graph.py [--out DIR]

d2l §4.7 builds a one-hidden-layer MLP without biases: z = W1 x, h = φ(z), o = W2 h, the loss
L = l(o, y), the penalty s = λ/2(‖W1‖² + ‖W2‖²) and the objective J = L + s. Here the same graph is
built from `nn.Linear(..., bias=False)`, φ = ReLU and l = cross-entropy, its tensors named as in
the book; the backward pass is traced, drawn and written as a step-through page, and the
engine's ∂J/∂W1 and ∂J/∂W2 are printed next to the book's formulas computed by hand in numpy.
Each W gets two contributions, one through L and one through s: the book's two paths.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import _common as c
import tinygrad_sm.nn as nn
from tinygrad_sm import Tensor, viz

NAME = "d10_forward_backward_graph"
TITLE = "§4.7: forward and backward through the computational graph"
K = f"demo.{NAME}."
D, HIDDEN, Q = 4, 3, 2          # inputs, hidden units, outputs (classes)
LAMBDA = 0.1
X_ROW = np.array([[1.0, -2.0, 0.5, 3.0]])   # one example, as a row (the batch convention)
Y = np.array([1])                           # its class


def build():
    """The book's graph; returns the named tensors (x, z, h, o, L, s, J, W1, W2)."""
    first = nn.Linear(D, HIDDEN, bias=False, seed=1, dtype=np.float64, suffix="1")
    second = nn.Linear(HIDDEN, Q, bias=False, seed=2, dtype=np.float64, suffix="2")
    # N(0, 0.01²) would make every number tiny; the book draws no particular scale
    first.W.data = first.W.data * 100
    second.W.data = second.W.data * 100
    x = Tensor(X_ROW, name="x")
    z = first(x).named("z")
    h = z.relu().named("h")
    o = second(h).named("o")
    L = nn.cross_entropy(o, Y).named("L")
    s = nn.l2_penalty([first.W, second.W], LAMBDA)
    J = (L + s).named("J")
    return {"x": x, "z": z, "h": h, "o": o, "L": L, "s": s, "J": J, "W1": first.W, "W2": second.W}


def books_formulas(x: np.ndarray, W1: np.ndarray, W2: np.ndarray, y: int, lam: float) -> dict:
    """§4.7's backward in the book's column-vector convention, in plain numpy: W1 is (h × d) and
    x a column there, so the book's W⁽¹⁾ is our W1ᵀ. Returns the gradients in both shapes."""
    x_col, W1_book, W2_book = x.reshape(-1, 1), W1.T, W2.T
    z = W1_book @ x_col
    h = np.maximum(z, 0)
    o = W2_book @ h
    y_hat = np.exp(o - o.max()) / np.exp(o - o.max()).sum()
    dJ_do = y_hat - np.eye(len(o))[[y]].T                 # ∂J/∂o = ∂L/∂o (cross-entropy)
    dJ_dW2 = dJ_do @ h.T + lam * W2_book                  # ∂J/∂o hᵀ + λW⁽²⁾
    dJ_dh = W2_book.T @ dJ_do                             # W⁽²⁾ᵀ ∂J/∂o
    dJ_dz = dJ_dh * (z > 0)                               # ∂J/∂h ⊙ φ′(z)
    dJ_dW1 = dJ_dz @ x_col.T + lam * W1_book              # ∂J/∂z xᵀ + λW⁽¹⁾
    return {"book_W1": dJ_dW1, "book_W2": dJ_dW2, "W1": dJ_dW1.T, "W2": dJ_dW2.T}


def run(out_dir: Path, quick: bool = False) -> dict:
    out_dir = c.ensure_dir(out_dir)
    t = build()
    trace = t["J"].backward(trace=True)
    by_hand = books_formulas(X_ROW, t["W1"].data, t["W2"].data, int(Y[0]), LAMBDA)
    sums = {tensor.name: len(terms) for tensor, terms in trace.accumulated()}
    graph = viz.draw(t["J"], trace=trace, highlight=t["W1"])
    files = [viz.render(graph, out_dir / "computational_graph.svg"),
             trace.save_html(str(out_dir / "backprop.html"))]
    return {
        "names": {key: tensor.name for key, tensor in t.items()},
        "grad_W1": t["W1"].grad.copy(), "grad_W2": t["W2"].grad.copy(), "by_hand": by_hand,
        "W1_difference": float(np.abs(t["W1"].grad - by_hand["W1"]).max()),
        "W2_difference": float(np.abs(t["W2"].grad - by_hand["W2"]).max()),
        "contributions": sums, "J": t["J"].item(), "L": t["L"].item(), "s": t["s"].item(),
        "trace": trace, "graph_source": graph.source, "files": [Path(f) for f in files],
    }


def report(r: dict) -> None:
    c.say(c.tr(K + "setup", lam=LAMBDA, J=r["J"], L=r["L"], s=r["s"]))
    print(r["trace"])  # the engine's step table and its sums
    for name in ("W1", "W2"):
        c.say(c.tr(K + "compare", name=name, engine=c.fmt(r[f"grad_{name}"], 6),
                   hand=c.fmt(r["by_hand"][name], 6), difference=r[f"{name}_difference"],
                   formula=c.tr(K + f"formula_{name}")))
    c.say(c.tr(K + "two_paths", W1=r["contributions"].get("W1", 1), W2=r["contributions"].get("W2", 1)))
    c.say(c.tr(K + "rows"))


def main(argv=None) -> int:
    return c.main(NAME, TITLE, run, report, argv)


if __name__ == "__main__":
    sys.exit(main())
