"""The full Jacobian of softmax, built by the engine one backward at a time, next to ŷᵢ(δᵢⱼ − ŷⱼ).

    python demos/d3_softmax_jacobian.py [--out DIR]

Backprop never builds this matrix: each backward pass computes one vector-Jacobian product
gᵀJ. Seeding the backward with the unit vector eᵢ gives gᵀJ = row i, so n passes give all of it.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import _common as c
from tinygrad_sm import Tensor

NAME = "d3_softmax_jacobian"
TITLE = "The Jacobian of softmax"
LOGITS = [0.0, 1.0, 2.0, 0.5, -1.0]


def jacobian_by_engine(logits) -> tuple[np.ndarray, str]:
    """J[i, j] = ∂ŷᵢ/∂oⱼ: backward seeded with eᵢ gives row i. Also returns the rule text used.

    The other demos import this (and jacobian_by_formula) rather than keep their own copy.
    """
    n = len(logits)
    rows, rule = [], ""
    for i in range(n):
        o = Tensor(np.asarray(logits, dtype=np.float64), requires_grad=True, name="o")
        trace = o.softmax().backward(np.eye(n)[i], trace=i == 0)  # the rule is the same each time
        if i == 0:
            rule = trace[0].rule
        rows.append(o.grad)
    return np.array(rows), rule


def softmax_numpy(logits) -> np.ndarray:
    """softmax in plain numpy (float64), for checks that must not reuse the engine."""
    logits = np.asarray(logits, dtype=np.float64)
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def jacobian_by_formula(logits) -> np.ndarray:
    """ŷᵢ(δᵢⱼ − ŷⱼ), with ŷ = softmax(logits) in plain numpy: a check independent of the engine."""
    y = softmax_numpy(logits)
    return y[:, None] * (np.eye(len(y)) - y[None, :])


def run(out_dir: Path, quick: bool = False) -> dict:
    out_dir = c.ensure_dir(out_dir)
    engine, rule = jacobian_by_engine(LOGITS)
    formula = jacobian_by_formula(LOGITS)
    y = Tensor(np.asarray(LOGITS, dtype=np.float64)).softmax().data
    results = {
        "logits": np.array(LOGITS), "softmax": y, "engine": engine, "formula": formula,
        "rule": rule,
        "max_difference": float(np.abs(engine - formula).max()),
        "max_column_sum": float(np.abs(engine.sum(axis=0)).max()),  # Σᵢ ŷᵢ = 1 never changes
        "max_asymmetry": float(np.abs(engine - engine.T).max()),
        "diagonal_positive": bool(np.all(np.diag(engine) > 0)),
        "off_diagonal_negative": bool(np.all(engine[~np.eye(len(y), dtype=bool)] < 0)),
    }
    results["files"] = [_plot(out_dir / "softmax_jacobian.png", engine, formula, y)]
    return results


def _plot(path: Path, engine, formula, y) -> Path:
    plt = c.plt
    n = len(y)
    limit = float(np.abs(engine).max())
    fig, axes = plt.subplots(1, 2, figsize=(12, 5), gridspec_kw={"wspace": 0.45})
    titles = [c.plot_tr("demo.d3_softmax_jacobian.engine_title"),
              c.plot_tr("demo.d3_softmax_jacobian.formula_title")]
    for ax, matrix, title in zip(axes, (engine, formula), titles):
        image = ax.imshow(matrix, cmap="RdBu_r", vmin=-limit, vmax=limit)
        for i in range(n):
            for j in range(n):
                ax.text(j, i, f"{matrix[i, j]:+.3f}", ha="center", va="center", fontsize=8,
                        color="white" if abs(matrix[i, j]) > 0.6 * limit else "black")
        ax.set_xticks(range(n), [f"o{j}" for j in range(n)])
        ax.set_yticks(range(n), [f"ŷ{i}={y[i]:.3f}" for i in range(n)], fontsize=9)
        ax.set_xlabel(c.plot_tr("demo.d3_softmax_jacobian.wrt"))
        ax.set_title(title, fontsize=10)
    fig.colorbar(image, ax=axes, shrink=0.75, label="∂ŷᵢ/∂oⱼ")
    fig.suptitle(c.plot_tr("demo.d3_softmax_jacobian.suptitle", logits=LOGITS), fontsize=10, y=0.98)
    return c.save_figure(fig, path)


def report(r: dict) -> None:
    c.say(f"o = {c.fmt(r['logits'], 1)}  →  ŷ = softmax(o) = {c.fmt(r['softmax'])}\n")
    c.say(c.tr("demo.d3_softmax_jacobian.rule", rule=r["rule"]))
    n = len(r["softmax"])
    columns = ["∂ŷᵢ/∂oⱼ"] + [f"o{j}" for j in range(n)]
    for key in ("engine", "formula"):
        title = c.tr(f"demo.d3_softmax_jacobian.{key}_title")
        rows = [[f"ŷ{i}"] + [f"{v:+.4f}" for v in r[key][i]] for i in range(n)]
        c.table(title, columns, rows)
    c.say(c.tr("demo.d3_softmax_jacobian.summary_line", difference=r["max_difference"],
               asymmetry=r["max_asymmetry"], column_sum=r["max_column_sum"]))


def main(argv=None) -> int:
    return c.main(NAME, TITLE, run, report, argv)


if __name__ == "__main__":
    sys.exit(main())
