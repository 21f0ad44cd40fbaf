"""Softmax vs hardmax: the same winner, but only softmax has a gradient to learn from.

Also max, the value: its gradient goes to the selected entry only (what the study note's
sentence "只有被选中的变量上面才有梯度" describes), while hardmax, the one-hot vector, has a zero
Jacobian almost everywhere.

    python demos/d2_softmax_vs_hardmax.py [--out DIR]
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import _common as c
from d3_softmax_jacobian import jacobian_by_engine, jacobian_by_formula
from tinygrad_sm import Tensor

NAME = "d2_softmax_vs_hardmax"
TITLE = "Softmax vs hardmax"
NOTE_INPUTS = ([0.0, 1.0, 2.0], [0.0, 1.0, 3.0])


def softmax(logits) -> np.ndarray:
    """Softmax computed by the engine (float64)."""
    return Tensor(np.asarray(logits, dtype=np.float64)).softmax().data


def hardmax(logits) -> np.ndarray:
    """One-hot of the argmax: the decision softmax smooths. Not an op: it has no useful gradient."""
    logits = np.asarray(logits, dtype=np.float64)
    return np.eye(logits.shape[-1])[np.argmax(logits, axis=-1)]


def max_gradient(logits) -> np.ndarray:
    """∂ max(o)/∂o by the engine's max op: 1 at the selected entry, 0 elsewhere."""
    o = Tensor(np.asarray(logits, dtype=np.float64), requires_grad=True, name="o")
    o.max().backward()
    return o.grad


def finite_difference_jacobian(fn, logits, eps: float = 1e-4) -> np.ndarray:
    logits = np.asarray(logits, dtype=np.float64)
    columns = []
    for j in range(len(logits)):
        step = np.eye(len(logits))[j] * eps
        columns.append((fn(logits + step) - fn(logits - step)) / (2 * eps))
    return np.stack(columns, axis=1)


def run(out_dir: Path, quick: bool = False) -> dict:
    out_dir = c.ensure_dir(out_dir)
    results: dict = {"files": []}
    for logits in NOTE_INPUTS:
        key = "".join(str(int(v)) for v in logits)
        results[f"softmax_{key}"] = softmax(logits)
        results[f"hardmax_{key}"] = hardmax(logits)
        results[f"ratio_{key}"] = results[f"softmax_{key}"][2] / results[f"softmax_{key}"][0]

    # Gradients at random logits: hardmax's finite differences vanish unless a tie is within eps.
    rng = np.random.default_rng(0)
    points = rng.normal(0.0, 2.0, size=(50 if quick else 500, 3))
    hard = np.array([finite_difference_jacobian(hardmax, p) for p in points])
    soft_engine = np.array([jacobian_by_engine(p)[0] for p in points])  # one backward per output
    soft_formula = np.array([jacobian_by_formula(p) for p in points])
    soft_fd = np.array([finite_difference_jacobian(softmax, p) for p in points])
    results["num_points"] = len(points)
    results["hardmax_zero_fraction"] = float(np.mean(np.all(hard == 0, axis=(1, 2))))
    results["softmax_zero_fraction"] = float(np.mean(np.all(soft_engine == 0, axis=(1, 2))))
    results["softmax_min_abs_entry"] = float(np.abs(soft_engine).min())
    results["engine_vs_formula"] = float(np.abs(soft_engine - soft_formula).max())
    results["engine_vs_finite_diff"] = float(np.abs(soft_engine - soft_fd).max())
    results["jacobian_012"] = jacobian_by_engine(NOTE_INPUTS[0])[0]

    # max, the value: the gradient reaches the selected entry (and only it)
    max_grads = np.array([max_gradient(p) for p in points])
    selected = np.eye(3)[np.argmax(points, axis=1)]
    max_fd = np.array([finite_difference_jacobian(lambda v: np.array([v.max()]), p)[0]
                       for p in points])
    results["max_grad_012"] = max_gradient(NOTE_INPUTS[0])
    results["max_grad_is_selected_fraction"] = float(np.mean(np.all(max_grads == selected, axis=1)))
    results["max_engine_vs_finite_diff"] = float(np.abs(max_grads - max_fd).max())

    # Sweep the last logit of [0, 1, t]: ŷ₂/ŷ₀ = e^t grows exponentially with the gap.
    t = np.linspace(-3.0, 6.0, 181 if quick else 451)
    sweep = np.array([[0.0, 1.0, v] for v in t])
    soft = Tensor(sweep).softmax().data
    hard_sweep = hardmax(sweep)
    d_soft = soft[:, 2] * (1 - soft[:, 2])  # ∂ŷ₂/∂o₂ = ŷ₂(1 − ŷ₂)
    d_hard = np.array([finite_difference_jacobian(hardmax, s)[2, 2] for s in sweep])
    results["sweep_t"], results["sweep_softmax"] = t, soft
    results["files"].append(_plot(out_dir / "softmax_vs_hardmax.png", t, soft, hard_sweep,
                                  d_soft, d_hard))
    return results


def _plot(path: Path, t, soft, hard, d_soft, d_hard) -> Path:
    plt = c.plt
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    colors = ["tab:blue", "tab:orange", "tab:green"]
    for k, name in enumerate(["ŷ₀ (o₀ = 0)", "ŷ₁ (o₁ = 1)", "ŷ₂ (o₂ = t)"]):
        left.plot(t, soft[:, k], color=colors[k], lw=2, label=f"softmax {name}")
        left.plot(t, hard[:, k], color=colors[k], lw=1, ls="--", alpha=0.8)
    for v in (2.0, 3.0):
        left.axvline(v, color="grey", lw=0.6, ls=":")
        left.plot([v], [soft[np.argmin(abs(t - v)), 2]], "o", color="tab:green")
        left.annotate(f"t = {v:g}: ŷ₂ = {soft[np.argmin(abs(t - v)), 2]:.4f}",
                      (v, soft[np.argmin(abs(t - v)), 2]), xytext=(6, -14),
                      textcoords="offset points", fontsize=8)
    left.set(title=c.plot_tr("demo.d2_softmax_vs_hardmax.plot_left"),
             xlabel=c.plot_tr("demo.d2_softmax_vs_hardmax.plot_t"),
             ylabel=c.plot_tr("demo.d2_softmax_vs_hardmax.plot_probability"))
    left.legend(fontsize=8, loc="center left")
    right.plot(t, d_soft, color="tab:green", lw=2, label="softmax: ∂ŷ₂/∂o₂ = ŷ₂(1 − ŷ₂)")
    right.plot(t, d_hard, color="black", lw=1, ls="--",
               label=c.plot_tr("demo.d2_softmax_vs_hardmax.plot_hard"))
    right.set(title=c.plot_tr("demo.d2_softmax_vs_hardmax.plot_right"),
              xlabel=c.plot_tr("demo.d2_softmax_vs_hardmax.plot_t"),
              ylabel="∂ŷ₂/∂o₂", ylim=(-0.05, 0.5))
    right.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    return c.save_figure(fig, path)


def report(r: dict) -> None:
    c.say(c.tr("demo.d2_softmax_vs_hardmax.intro"))
    rows = []
    for logits in NOTE_INPUTS:
        key = "".join(str(int(v)) for v in logits)
        rows.append([c.fmt(logits, 1), c.fmt(r[f"softmax_{key}"]), str(r[f"hardmax_{key}"].astype(int).tolist())])
    c.table(c.tr("demo.d2_softmax_vs_hardmax.table"),
            [c.tr("demo.d2_softmax_vs_hardmax.col_logits"), "softmax(o)", "hardmax(o)"], rows)
    a, b = r["softmax_012"], r["softmax_013"]
    c.say(c.tr("demo.d2_softmax_vs_hardmax.richer", a=a[2], b=b[2], a0=a[0], b0=b[0],
               ratio_a=r["ratio_012"], ratio_b=r["ratio_013"]))
    c.say(c.tr("demo.d2_softmax_vs_hardmax.untrainable", points=r["num_points"],
               hard_zero=r["hardmax_zero_fraction"], soft_zero=r["softmax_zero_fraction"],
               smallest=r["softmax_min_abs_entry"]))
    c.say(c.tr("demo.d2_softmax_vs_hardmax.max", grad=r["max_grad_012"].astype(int).tolist(),
               selected=r["max_grad_is_selected_fraction"], fd=r["max_engine_vs_finite_diff"]))
    c.say(c.tr("demo.d2_softmax_vs_hardmax.check", formula=r["engine_vs_formula"],
               fd=r["engine_vs_finite_diff"]))
    c.say(c.tr("demo.d2_softmax_vs_hardmax.jacobian") + "\n" + c.fmt(r["jacobian_012"]))


def main(argv=None) -> int:
    return c.main(NAME, TITLE, run, report, argv)


if __name__ == "__main__":
    sys.exit(main())
