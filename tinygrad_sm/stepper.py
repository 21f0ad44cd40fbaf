"""`tinygrad-sm step`: walk through one backward pass of a tiny softmax regression in the terminal.

2 samples, 3 features, 3 classes, fixed seed. The forward values come first, then one backprop
step per Enter key (q quits), and at the end ∂L/∂W and ∂L/∂b next to their closed forms
Xᵀ(ŷ − y)/n and the column sum of (ŷ − y)/n.
"""
from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import numpy as np

from . import nn
from .tensor import Tensor
from .trace_table import format_value, legend, summed_note, tensor_labels

if TYPE_CHECKING:
    from rich.console import Console

    from .trace import BackwardTrace, Step

HELP = "step through one backward pass of a tiny softmax regression, one chain-rule step per Enter"


class TinyProblem:
    """X (2×3), labels y, W (3×3), b (3): small numbers that are easy to follow by hand."""

    def __init__(self, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.X = Tensor(rng.normal(0.0, 1.0, size=(2, 3)).round(1), name="X")
        self.labels = rng.permutation(3)[:2]   # two different classes
        self.model = nn.SoftmaxRegression(3, 3, seed=seed, dtype=np.float64)
        self.model.W.data[...] = rng.normal(0.0, 0.5, size=(3, 3)).round(2)
        self.model.b.data[...] = rng.normal(0.0, 0.2, size=3).round(2)
        self.o = self.model(self.X)
        self.L = nn.cross_entropy(self.o, self.labels)
        self.probs = Tensor(self.o.data).softmax().data  # ŷ by the engine, outside L's graph
        self.onehot = nn.one_hot(self.labels, 3, dtype=np.float64)

    def closed_form(self) -> tuple[np.ndarray, np.ndarray]:
        """∂L/∂W = Xᵀ(ŷ − y)/n and ∂L/∂b = column sum of (ŷ − y)/n."""
        delta = (self.probs - self.onehot) / len(self.labels)
        return self.X.data.T @ delta, delta.sum(axis=0)


def _matrix_text(a: np.ndarray) -> str:
    return "\n".join(format_value(a))


def _forward_table(p: TinyProblem):
    from rich.table import Table
    from rich.text import Text
    table = Table(title="Forward pass", show_lines=True)
    table.add_column("tensor", no_wrap=True)
    table.add_column("shape", no_wrap=True)
    table.add_column("value")
    rows = [("X (data)", p.X.data), ("y (labels)", p.labels), ("y one-hot", p.onehot),
            ("W (parameter)", p.model.W.data), ("b (parameter)", p.model.b.data),
            ("XW = X · W", p.o.inputs[0].data), ("o = XW + b", p.o.data),
            ("ŷ = softmax(o)", p.probs), ("L = cross_entropy(o, y)", p.L.data)]
    for name, value in rows:
        table.add_row(name, str(np.shape(value)), Text(_matrix_text(value)))
    return table


def _step_panel(step: Step, trace: BackwardTrace, labels: dict[int, str]):
    from rich.panel import Panel
    from rich.text import Text
    out = labels[id(step.output)]
    formula = step.op_node.describe([labels[id(x)] for x in step.inputs], out)
    text = Text()
    text.append(f"forward: {formula}\n")
    text.append(f"upstream gradient ∂L/∂{out} {step.grad_output.shape}:\n", style="bold")
    text.append(_indent(_matrix_text(step.grad_output)) + "\n")
    where = legend(step.output, labels)
    if where:
        text.append(f"in the rules, {where}\n")
    for i, (x, g) in enumerate(zip(step.inputs, step.grad_inputs)):
        name = labels[id(x)]
        if g is None:
            text.append(f"{name}: no gradient needed (data)\n", style="dim")
            continue
        text.append(f"{step.rules[i]}\n", style="bold red")
        text.append(f"  contribution to ∂L/∂{name} {g.shape}:\n")
        text.append(_indent(_matrix_text(g), 4) + "\n")
        note = summed_note(step, i)
        if note:
            text.append(f"  {note}: ∂L/∂{name} is the column sum of\n", style="yellow")
            text.append(_indent(_matrix_text(step.local_grads[i]), 4) + "\n")
    text.rstrip()
    return Panel(text, title=f"step {step.index} of 0–{len(trace) - 1}: {step.op}", title_align="left")


def _indent(text: str, n: int = 2) -> str:
    return "\n".join(" " * n + line for line in text.splitlines())


def _result_table(p: TinyProblem):
    from rich.table import Table
    from rich.text import Text
    W_closed, b_closed = p.closed_form()
    table = Table(title="Gradients: backprop vs the closed form", show_lines=True)
    table.add_column("backprop (.grad)", no_wrap=True)
    table.add_column("closed form", no_wrap=True)
    table.add_column("max |diff|", no_wrap=True)
    for name, grad, closed, formula in (("∂L/∂W", p.model.W.grad, W_closed, "Xᵀ(ŷ − y)/n"),
                                        ("∂L/∂b", p.model.b.grad, b_closed, "column sums of (ŷ − y)/n")):
        table.add_row(Text(f"{name} =\n{_matrix_text(grad)}"), Text(f"{formula} =\n{_matrix_text(closed)}"),
                      f"{np.max(np.abs(grad - closed)):.1g}")
    return table


def _wait(console: Console) -> bool:
    """Wait for Enter; False when the learner types q (or input ends)."""
    try:
        answer = console.input("[dim]Enter: next step, q: quit [/dim]")
    except EOFError:
        return False
    return answer.strip().lower() not in ("q", "quit")


def step_command(seed: int = 0, pause: bool = True, html: str | None = None) -> int:
    from rich.console import Console
    console = Console(highlight=False)
    p = TinyProblem(seed)
    console.print(_forward_table(p))
    trace = p.L.backward(trace=True)
    labels = tensor_labels(p.L)
    pause = pause and sys.stdin.isatty()
    console.print(f"Backprop: {len(trace)} steps, from L back to W and b.")
    for step in trace:
        if pause and not _wait(console):
            console.print("stopped.")
            return 0
        console.print(_step_panel(step, trace, labels))
    console.print(_result_table(p))
    if html:
        path = trace.save_html(html)
        console.print(f"HTML stepper written to {path} (open it in a browser; ←/→ step)")
    return 0
