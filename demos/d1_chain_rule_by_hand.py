"""The chain rule by hand, next to the engine and central differences: scalars, then a 2×2 matmul.

    python demos/d1_chain_rule_by_hand.py [--out DIR]

Each gradient is a local derivative times the gradient arriving from above (and a sum where a
value is used twice). We write every one out, let the engine compute them, and nudge the value
to check: L(v + ε) − L(v − ε) over 2ε.
"""
from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Callable

import numpy as np

import _common as c
from tinygrad_sm import Tensor, viz
from tinygrad_sm.gradcheck import numerical_grad

NAME = "d1_chain_rule_by_hand"
TITLE = "The chain rule by hand"
K = f"demo.{NAME}."  # this demo's messages in the catalogue
EPS = 1e-6
X_VALUE, W_VALUE, B_VALUE = 2.0, -0.5, 1.5
X_MATRIX = np.array([[1.0, 2.0], [3.0, 4.0]])
W_MATRIX = np.array([[0.5, -1.0], [2.0, 0.25]])
G_MATRIX = np.array([[1.0, -1.0], [0.5, 2.0]])


def signed(v: float) -> str:
    """A number as a factor in a product: 1·(−1), not 1·-1."""
    return f"({v:g})".replace("-", "−") if v < 0 else f"{v:g}"


def central(f: Callable[[float], float], v: float) -> float:
    return (f(v + EPS) - f(v - EPS)) / (2 * EPS)


def scalar_graph() -> dict[str, Tensor]:
    """L = s·o with s = exp(o), o = u + b, u = w·x: o is used twice (by exp and by the product)."""
    x = Tensor(np.float64(X_VALUE), name="x")
    w = Tensor(np.float64(W_VALUE), requires_grad=True, name="w")
    b = Tensor(np.float64(B_VALUE), requires_grad=True, name="b")
    u = (w * x).named("u")
    o = (u + b).named("o")
    s = o.exp().named("s")
    L = (s * o).named("L")
    return {"x": x, "w": w, "b": b, "u": u, "o": o, "s": s, "L": L}


def scalars(out_dir: Path) -> dict:
    t = scalar_graph()
    trace = t["L"].backward(trace=True)
    x, w, b = X_VALUE, W_VALUE, B_VALUE
    o = w * x + b
    s = math.exp(o)
    # by hand, from the top: each line is (local derivative) × (gradient from above)
    dL_ds = o                            # L = s·o: ∂L/∂s = o
    dL_do_direct = s                     # L = s·o: ∂L/∂o = s (the product's own edge)
    dL_do_via_exp = dL_ds * math.exp(o)  # s = exp(o): ∂s/∂o = exp(o)
    dL_do = dL_do_direct + dL_do_via_exp
    dL_du = dL_do * 1.0                  # o = u + b: ∂o/∂u = 1
    dL_db = dL_do * 1.0                  # ∂o/∂b = 1
    dL_dw = dL_du * x                    # u = w·x: ∂u/∂w = x
    # central differences: nudge one value, hold what does not depend on it, recompute L
    rows = [
        ("s", "o", dL_ds, central(lambda v: v * o, s)),
        ("o", c.tr(K + "two_paths"), dL_do, central(lambda v: math.exp(v) * v, o)),
        ("u", "∂L/∂o · 1", dL_du, central(lambda v: math.exp(v + b) * (v + b), w * x)),
        ("b", "∂L/∂o · 1", dL_db, central(lambda v: math.exp(w * x + v) * (w * x + v), b)),
        ("w", "∂L/∂u · x", dL_dw, central(lambda v: math.exp(v * x + b) * (v * x + b), w)),
    ]
    table = [{"name": n, "hand_rule": rule, "hand": hand, "engine": float(t[n].grad),
              "central": num} for n, rule, hand, num in rows]
    graph = viz.draw(t["L"], trace=trace, highlight=t["w"])
    files = [viz.render(graph, out_dir / "scalars_graph.svg"),
             trace.save_html(str(out_dir / "scalars_backprop.html"))]
    accumulated = {tensor.name: len(terms) for tensor, terms in trace.accumulated()}
    return {"L": float(t["L"].data), "values": {"u": w * x, "o": o, "s": s}, "rows": table,
            "o_path_terms": (dL_do_direct, dL_do_via_exp), "accumulated": accumulated,
            "trace": trace, "files": files}


def matmul(out_dir: Path) -> dict:
    """O = X·W, P = G ⊙ O, L = Σ P: ∂L/∂O = G and ∂L/∂W[i, j] = Σₖ X[k, i]·G[k, j] = (XᵀG)[i, j]."""
    def loss(X: Tensor, W: Tensor, G: Tensor) -> Tensor:
        return (G * (X @ W).named("O")).named("P").sum().named("L")

    X, G = Tensor(X_MATRIX, name="X"), Tensor(G_MATRIX, name="G")
    W = Tensor(W_MATRIX.copy(), requires_grad=True, name="W")
    L = loss(X, W, G)
    trace = L.backward(trace=True)
    numeric = numerical_grad(loss, [X, W, G], 1, np.ones(()), EPS)
    entries = []
    for i, j in np.ndindex(W.shape):
        terms = [(X_MATRIX[k, i], G_MATRIX[k, j]) for k in range(2)]
        entries.append({"entry": f"W[{i},{j}]",
                        "hand_rule": f"Σₖ X[k,{i}]·G[k,{j}]",
                        "hand_numbers": " + ".join(f"{signed(a)}·{signed(g)}" for a, g in terms),
                        "hand": sum(a * g for a, g in terms),
                        "engine": float(W.grad[i, j]), "central": float(numeric[i, j])})
    matmul_step = next(s for s in trace if s.op == "matmul")
    graph = viz.draw(L, trace=trace, highlight=W)
    files = [viz.render(graph, out_dir / "matmul_graph.svg"),
             trace.save_html(str(out_dir / "matmul_backprop.html"))]
    return {"L": float(L.data), "rows": entries, "grad_O": matmul_step.grad_output,
            "matmul_rule": matmul_step.rule, "trace": trace, "files": files}


def run(out_dir: Path, quick: bool = False) -> dict:
    out_dir = c.ensure_dir(out_dir)
    s, m = scalars(out_dir), matmul(out_dir)
    both = s["rows"] + m["rows"]
    return {
        "scalars": s, "matmul": m,
        "max_hand_vs_engine": max(abs(r["hand"] - r["engine"]) for r in both),
        "max_engine_vs_central": max(abs(r["engine"] - r["central"]) for r in both),
        "files": [Path(f) for f in s["files"] + m["files"]],
    }


def report(r: dict) -> None:
    s, m = r["scalars"], r["matmul"]
    v = s["values"]
    c.say(c.tr(K + "scalars", x=X_VALUE, w=W_VALUE, b=B_VALUE, u=v["u"], o=v["o"], s=v["s"],
               L=s["L"]))
    c.table(c.tr(K + "table"), ["v"] + [c.tr(K + f"col_{col}") for col in
                                        ("by_hand", "hand", "engine_v", "central")],
            [[row["name"], row["hand_rule"], f"{row['hand']:.10f}", f"{row['engine']:.10f}",
              f"{row['central']:.10f}"] for row in s["rows"]])
    direct, via_exp = s["o_path_terms"]
    counts = ", ".join(c.tr(K + "count", name=k, count=n) for k, n in s["accumulated"].items())
    c.say(c.tr(K + "twice", direct=direct, via_exp=via_exp, counts=counts))
    c.say(c.tr(K + "step_through"))
    print(s["trace"])
    c.say(c.tr(K + "matmul", L=m["L"], rule=m["matmul_rule"]))
    c.table("∂L/∂W", [c.tr(K + f"col_{col}") for col in
                      ("entry", "by_hand", "numbers", "hand", "engine", "central")],
            [[row["entry"], row["hand_rule"], row["hand_numbers"], f"{row['hand']:g}",
              f"{row['engine']:.10f}", f"{row['central']:.10f}"] for row in m["rows"]])
    c.say(c.tr(K + "step_through_matmul"))
    print(m["trace"])
    c.say(c.tr(K + "max", hand=r["max_hand_vs_engine"], central=r["max_engine_vs_central"]))


def main(argv=None) -> int:
    return c.main(NAME, TITLE, run, report, argv)


if __name__ == "__main__":
    sys.exit(main())
