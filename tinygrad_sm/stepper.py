"""`tinygrad-sm step`: walk through one backward pass of a tiny softmax regression in the terminal.

2 samples, 3 features, 3 classes, fixed seed. The forward values come first, then one backprop
step per key (q quits, see `terminal.walk`), and at the end ∂L/∂W and ∂L/∂b next to their closed
forms Xᵀ(ŷ − y)/n and the column sum of (ŷ − y)/n.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table
from rich.text import Text

from . import files, nn, page, settings, terminal
from .i18n import Messages, messages, value_lines
from .process import EXIT_ERROR, EXIT_USAGE
from .tensor import Tensor


class TinyProblem:
    """X (2×3), labels y, W (3×3), b (3): small numbers that are easy to follow by hand."""

    def __init__(self, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.X = Tensor(rng.normal(0.0, 1.0, size=(2, 3)).round(1), name="X")
        self.labels = rng.permutation(3)[:2]   # two different classes
        self.model = nn.SoftmaxRegression(3, 3, seed=seed, dtype=np.float64)
        self.model.W.data = rng.normal(0.0, 0.5, size=(3, 3)).round(2)
        self.model.b.data = rng.normal(0.0, 0.2, size=3).round(2)
        self.o = self.model(self.X)
        self.L = nn.cross_entropy(self.o, self.labels)
        self.probs = Tensor(self.o.data).softmax().data  # ŷ by the engine, outside L's graph
        self.onehot = nn.one_hot(self.labels, 3, dtype=np.float64)

    def closed_form(self) -> tuple[np.ndarray, np.ndarray]:
        """∂L/∂W = Xᵀ(ŷ − y)/n and ∂L/∂b = column sum of (ŷ − y)/n."""
        delta = (self.probs - self.onehot) / len(self.labels)
        return self.X.data.T @ delta, delta.sum(axis=0)


def _matrix_text(a: np.ndarray, t: Messages) -> Text:
    return Text("\n".join(value_lines(t, a)))


def forward_table(p: TinyProblem, lang: str | Messages | None = None) -> Table:
    t = messages(lang)
    table = Table(title=t("stepper.forward_title"), show_lines=False)
    table.add_column(t("stepper.tensor"), no_wrap=True)
    table.add_column(t("stepper.shape"), no_wrap=True)
    table.add_column(t("stepper.value"))
    rows = [(t("stepper.X"), p.X.data), (t("stepper.y"), p.labels), (t("stepper.onehot"), p.onehot),
            (t("stepper.W"), p.model.W.data), (t("stepper.b"), p.model.b.data),
            ("XW = X · W", p.o.inputs[0].data), ("o = XW + b", p.o.data),
            ("ŷ = softmax(o)", p.probs), ("L = cross_entropy(o, y)", p.L.data)]
    for name, value in rows:
        table.add_row(name, str(np.shape(value)), _matrix_text(value, t))
    return table


def result_table(p: TinyProblem, lang: str | Messages | None = None) -> Table:
    t = messages(lang)
    W_closed, b_closed = p.closed_form()
    table = Table(title=t("stepper.result_title"), show_lines=True)
    table.add_column(t("stepper.backprop_col"), no_wrap=True)
    table.add_column(t("stepper.closed_col"), no_wrap=True)
    table.add_column(t("stepper.diff_col"), no_wrap=True)
    for name, grad, closed, formula in (("∂L/∂W", p.model.W.grad, W_closed, "Xᵀ(ŷ − y)/n"),
                                        ("∂L/∂b", p.model.b.grad, b_closed, t("stepper.column_sums"))):
        table.add_row(Text(f"{name} =\n" + "\n".join(value_lines(t, grad))),
                      Text(f"{formula} =\n" + "\n".join(value_lines(t, closed))),
                      f"{np.max(np.abs(grad - closed)):.1g}")
    return table


def check_writable(path: str, what: str, lang: str | Messages | None = None) -> str | None:
    """Why path cannot be written (checked before any work), or None."""
    t = messages(lang)
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        return t("stepper.is_folder", what=what, path=path)
    if not os.path.isdir(folder):
        return t("stepper.no_folder", what=what, path=path, folder=folder)
    try:  # a real file, not os.access: root passes os.access even where nothing can be created
        files.ensure_writable_folder(Path(folder), create=False)
        if os.path.exists(path) and not os.access(path, os.W_OK):
            raise PermissionError
    except OSError as e:
        return t("stepper.not_writable", what=what, path=path,
                 reason=e.strerror or t("stepper.permission"))
    return None


def step_command(seed: int = 0, pause: bool = True, html: str | None = None,
                 console: Console | None = None, lang: str | None = None) -> int:
    """The `step` command; returns the exit code. Problems are found before the walk starts.

    lang: "zh" or "en" (default: $TINYGRAD_SM_LANG, else English). The page is written whole
    or not at all: to a temporary name beside `html`, then renamed (files.py)."""
    t = messages(lang)
    settings.check("seed", seed, "step_command")
    if html is not None:
        settings.check("html", html, "step_command")
    console = console or terminal.PipeAwareConsole(highlight=False)  # `step | head`: exit 141
    problem = check_writable(html, "--html", t) if html else None
    if problem is None and pause and (sys.stdin is None or sys.stdin.closed):
        problem = t("stepper.stdin_closed")
    if problem:
        print(f"tinygrad-sm step: {problem}", file=sys.stderr)
        return EXIT_USAGE
    p = TinyProblem(seed)
    trace = p.L.backward(trace=True)
    interactive = pause and sys.stdin.isatty()
    console.print(forward_table(p, t))
    console.print(t("stepper.backprop", steps=len(trace)))
    if interactive:
        console.print(Text(t("stepper.first"), style="dim"), end="")
        if terminal.read_key() in ("q", "Q", ""):
            console.print("\n" + t("walk.stopped"))
            return 0
    shown = terminal.walk(trace, pause=pause, console=console, lang=t, more=True)
    if shown < len(trace) or interactive and shown == len(trace):   # q: stopped before the result
        return 0
    console.print(result_table(p, t))
    if html:
        try:
            files.write_file(Path(html), lambda temporary: page.save_html(trace, temporary, lang=t))
        except OSError as e:  # a full disk: the old page, if any, is still whole
            why = t("stepper.not_writable", what="--html", path=html, reason=e.strerror or e)
            print(f"tinygrad-sm step: {why}", file=sys.stderr)
            return EXIT_ERROR
        console.print(t("stepper.html_written", path=html), markup=False, soft_wrap=True)  # a path as typed
    return 0
