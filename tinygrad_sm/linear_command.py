"""`tinygrad-sm train --model linear`: d2l §3.2's linear regression on synthetic data.

y = Xw + b + ε with w = [2, −3.4], b = 4.2, ε ~ N(0, 0.01²), 1000 examples (drawn from --seed);
minibatch SGD on ½ mean (ŷ − y)² with the book's settings (lr 0.03, batch 10, 3 epochs). It
prints the learned w and b next to the true ones and the closed-form least-squares solution,
and writes metrics.json (w, b, true_w, true_b, closed_form, losses), graph.svg, graph.gv and
backprop.html (one step on the first 10 examples: ∂L/∂w = Xᵀ(Xw + b − y)/n).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

from . import files, regression
from .data import synthetic_regression
from .i18n import Messages
from .process import EXIT_ERROR

NOISE, EXAMPLES, STEP_EXAMPLES = 0.01, 1000, 10


def linear_command(epochs: int | None, lr: float | None, batch_size: int | None, seed: int,
                   out: Path, weight_decay: float, t: Messages) -> int:
    """Train, print and write; the settings were checked by train_command."""
    epochs = regression.EPOCHS if epochs is None else epochs
    lr = regression.LR if lr is None else lr
    batch_size = regression.BATCH_SIZE if batch_size is None else batch_size
    true_w, true_b = regression.TRUE_W, regression.TRUE_B
    X, y = synthetic_regression(true_w, true_b, NOISE, EXAMPLES, seed)
    try:
        files.ensure_writable_folder(out)
    except OSError as e:
        print(t("train.error", message=t("train.cannot_write_folder", out=out,
                                          reason=e.strerror or e)), file=sys.stderr)
        return EXIT_ERROR
    from .terminal import PipeAwareConsole  # rich loads only when the command runs

    console = PipeAwareConsole()
    console.print(t("linear.header", w=list(true_w), b=true_b, noise=NOISE, n=EXAMPLES))
    console.print(t("linear.settings", lr=lr, batch=batch_size, epochs=epochs, seed=seed,
            wd=weight_decay))

    def on_epoch_end(epoch: int, history: regression.LinearHistory) -> None:
        console.print(t("linear.epoch_line", epoch=epoch, epochs=epochs,
                        loss=history.train_loss[-1]), markup=False)

    with np.errstate(all="ignore"):  # a diverging run shows as NaN, said below
        model, history = regression.fit_linear(X, y, epochs, lr, batch_size, seed, weight_decay,
                                               on_epoch_end=on_epoch_end)
    w, b = model.W.data.ravel().astype(float), float(model.b.data[0])
    cf_w, cf_b = regression.closed_form(X, y, weight_decay)
    finite = bool(np.all(np.isfinite(w)) and np.isfinite(b))
    metrics = {
        "settings": {"model": "linear", "data": "synthetic", "epochs": epochs, "lr": lr,
                     "batch_size": batch_size, "seed": seed, "weight_decay": weight_decay,
                     "noise": NOISE, "examples": EXAMPLES},
        "w": w.tolist() if finite else None, "b": b if finite else None,
        "true_w": list(true_w), "true_b": true_b,
        "closed_form": {"w": cf_w.tolist(), "b": cf_b},
        "w_error": float(np.abs(w - true_w).max()) if finite else None,
        "b_error": abs(b - true_b) if finite else None,
        "train_loss": [v if np.isfinite(v) else None for v in history.train_loss],
        "diverged": not finite,
    }
    _print_result(console, w, b, cf_w, cf_b, finite, t)
    start = regression.linear_model(X.shape[1], seed)  # the step drawn is the run's first
    written = _write(out, metrics, start, X[:STEP_EXAMPLES], y[:STEP_EXAMPLES], t)
    console.print(t("train.written_to", path=f"{out.resolve()}{os.sep}"), soft_wrap=True,
                  markup=False)
    for name, what in written.items():
        console.print(f"  {name:<14} {what}", markup=False)
    return 0 if finite else EXIT_ERROR


def _print_result(console, w: np.ndarray, b: float, cf_w: np.ndarray, cf_b: float, finite: bool,
                  t: Messages) -> None:
    true = [*regression.TRUE_W, regression.TRUE_B]
    learned, closed = [*w, b], [*cf_w, cf_b]
    names = [f"w[{i}]" for i in range(len(w))] + ["b"]
    console.print(t("linear.table_head"), markup=False)
    for name, value, exact, solved in zip(names, learned, true, closed):
        console.print(f"  {name:<5} {value:+.6f}  {exact:+.6f}  {solved:+.6f}  {value - exact:+.6f}",
                      markup=False)
    if not finite:
        print(t("linear.diverged"), file=sys.stderr)
        return
    console.print(t("linear.errors", w=float(np.abs(w - true[:-1]).max()), b=abs(b - true[-1]),
                    vs=float(np.abs(np.subtract(learned, closed)).max())), markup=False)


def _write(out: Path, metrics: dict, model, X_step: np.ndarray, y_step: np.ndarray,
           t: Messages) -> dict[str, str]:
    """metrics.json, and the one-step diagram and page unless Graphviz is missing; all staged
    and renamed into out together, files of an earlier run in out removed (files.py)."""
    earlier = files.read_manifest(out / "metrics.json")
    written = {}
    with files.Staging(out) as stage:
        try:
            regression.write_linear_step(model, X_step, y_step, stage.path, lang=t)
            written = {"graph.svg": t("linear.file_graph", count=len(y_step)),
                       "graph.gv": t("train.file_gv"), "backprop.html": t("train.file_html")}
        except RuntimeError as e:  # no Graphviz renderer: metrics.json is still useful
            print(t("train.diagrams_failed", error=e), file=sys.stderr)
        made = {name: files.digest(stage / name) for name in stage.names()}
        (stage / "metrics.json").write_text(files.json_text({**metrics, "files": made}),
                                            encoding="utf-8")
        stage.publish(last=["metrics.json"])
    files.remove_stale(out, earlier, keep=made)
    return {"metrics.json": t("linear.file_metrics"), **written}

