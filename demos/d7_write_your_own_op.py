"""Write your own op: sigmoid, its derivative σ(1 − σ), and a first version that gradcheck catches.

    python demos/d7_write_your_own_op.py [--out DIR]

An op is one small class: forward (numpy in, numpy out), backward (one gradient per input) and
the rule text that traces and diagrams show. `Sigmoid.apply(x)` puts it in the graph; the engine
does the chaining, summing and tracing, as for the built-in ops.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import _common as c
from tinygrad_sm import GradcheckError, Op, Tensor, gradcheck, viz

NAME = "d7_write_your_own_op"
TITLE = "Write your own op: sigmoid"
K = f"demo.{NAME}."  # this demo's messages in the catalogue
X_VALUES = [-3.0, -0.5, 0.0, 1.0, 4.0]


class SigmoidFirstTry(Op):
    """A first version with a mistake learners make: σ′ = σ (the factor 1 − σ is forgotten)."""
    name, formula = "sigmoid", "{out} = 1 / (1 + exp(−{x}))"
    rules = ("∂L/∂{x} = ∂L/∂{out} ⊙ {out}",)

    def forward(self, x):
        out = 1.0 / (1.0 + np.exp(-x))
        self.save(out)
        return out

    def backward(self, g, needs):
        (out,) = self.saved
        return (g * out,)  # wrong: σ′(x) = σ(x)(1 − σ(x))


class Sigmoid(Op):
    """σ(x) = 1 / (1 + e^−x). Its derivative is σ(1 − σ), so backward reads the output it saved."""
    name, formula = "sigmoid", "{out} = 1 / (1 + exp(−{x}))"
    out_name = "σ"
    rules = ("∂L/∂{x} = ∂L/∂{out} ⊙ {out} ⊙ (1 − {out})",)  # {x}: forward's parameter x

    def forward(self, x):
        out = 1.0 / (1.0 + np.exp(-x))
        self.save(out)  # what backward reads; saved, it cannot be changed in place
        return out

    def backward(self, g, needs):
        (out,) = self.saved
        return (g * out * (1.0 - out),)


def check(op: type[Op], x: Tensor) -> str | None:
    """gradcheck's verdict on op at x: None if it passes, else its message (in the demo's
    language: the error keeps its parts)."""
    try:
        gradcheck(lambda t: op.apply(t), x)
    except GradcheckError as e:
        return gradcheck_said(e)
    return None


def gradcheck_said(e: GradcheckError) -> str:
    f = e.fields
    where = (c.tr("gradcheck.input_named", position=f["position"], name=f["name"]) if f["name"]
             else c.tr("gradcheck.input", position=f["position"]))
    return c.tr("gradcheck.mismatch", **{**f, "input": where})


def run(out_dir: Path, quick: bool = False) -> dict:
    out_dir = c.ensure_dir(out_dir)
    x = Tensor(np.array(X_VALUES), requires_grad=True, name="x")
    results: dict = {"x": np.array(X_VALUES), "first_try": check(SigmoidFirstTry, x),
                     "fixed": check(Sigmoid, x)}

    # the op in a model: L = mean(σ(x·w)); its step is traced and drawn like a built-in op
    w = Tensor(np.array(0.5), requires_grad=True, name="w")
    s = Sigmoid.apply((x * w).named("z"))
    L = s.mean().named("L")
    trace = L.backward(trace=True)
    sigma = 1 / (1 + np.exp(-0.5 * np.array(X_VALUES)))
    by_hand = np.mean(np.array(X_VALUES) * sigma * (1 - sigma))  # ∂L/∂w = mean(x σ(1 − σ))
    results.update({
        "trace_ops": [step.op for step in trace],
        "rule": next(step.rule for step in trace if step.op == "sigmoid"),
        "grad_w": float(w.grad), "grad_w_by_hand": float(by_hand),
        "trace_text": str(trace),
    })
    # the same function from built-in ops: the same gradient, more steps
    x2 = Tensor(np.array(X_VALUES), requires_grad=True, name="x")
    w2 = Tensor(np.array(0.5), requires_grad=True, name="w")
    composed = (1 / (1 + (-(x2 * w2)).exp())).mean()
    composed_trace = composed.backward(trace=True)
    results["composed_steps"] = len(composed_trace)
    results["composed_vs_op"] = float(abs(w2.grad - w.grad))
    graph = viz.draw(L, trace=trace, highlight=w)
    results["files"] = [Path(viz.render(graph, out_dir / "sigmoid_graph.svg")),
                        Path(trace.save_html(str(out_dir / "sigmoid_backprop.html")))]
    return results


def report(r: dict) -> None:
    c.say(c.tr(K + "intro", xs=X_VALUES))
    c.say(f"    {r['first_try']}")
    x = X_VALUES[-1]
    sigma = 1 / (1 + np.exp(-x))
    c.say(c.tr(K + "names", x=x, sigma=sigma, derivative=sigma * (1 - sigma))
          + (c.tr(K + "passes") if r["fixed"] is None else c.tr(K + "still_fails", error=r["fixed"])))
    c.say(c.tr(K + "in_model", ops=" → ".join(r["trace_ops"]), rule=r["rule"]))
    c.say(c.tr(K + "compare", engine=r["grad_w"], hand=r["grad_w_by_hand"],
               steps=r["composed_steps"], difference=r["composed_vs_op"], own=len(r["trace_ops"])))


def main(argv=None) -> int:
    return c.main(NAME, TITLE, run, report, argv)


if __name__ == "__main__":
    sys.exit(main())
