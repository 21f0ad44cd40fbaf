"""`print(trace)`: the backward trace as a table, plus where gradients were summed.

The number formatting and the tensor labels here are shared with the diagrams (viz.py), the HTML
stepper and the `step` command, so a value or a name reads the same everywhere.
"""
from __future__ import annotations

import io
from typing import TYPE_CHECKING, Iterable

import numpy as np

from .graph import topo_order

if TYPE_CHECKING:
    from rich.console import RenderableType

    from .trace import BackwardTrace, Step
    from .tensor import Tensor

SMALL = 4  # arrays up to 4 × 4 are shown in full, bigger ones as mean/min/max


def is_small(a: np.ndarray) -> bool:
    return a.ndim <= 2 and all(n <= SMALL for n in a.shape)


def format_number(x: float | int) -> str:
    if isinstance(x, (int, np.integer)) or float(x).is_integer() and abs(x) < 1e6:
        return str(int(x))
    return f"{float(x):.4g}"


def matrix_rows(a: np.ndarray) -> list[list[str]]:
    """A small array as rows of formatted numbers (a scalar is one row of one)."""
    a = np.asarray(a)
    rows = a.reshape(1, -1) if a.ndim <= 1 else a
    return [[format_number(x) for x in row] for row in rows]


def format_matrix(a: np.ndarray) -> list[str]:
    """A small array as aligned text lines in brackets; vectors stay on one line."""
    rows = matrix_rows(a)
    width = max((len(x) for row in rows for x in row), default=0)
    lines = [" ".join(x.rjust(width) for x in row) for row in rows]
    if np.ndim(a) == 0:
        return lines
    if len(lines) == 1 and np.ndim(a) == 1:
        return [f"[{lines[0]}]"]
    return [f"[{line}]" for line in lines]


def summary(a: np.ndarray) -> str:
    a = np.asarray(a)
    if a.size == 0:
        return "empty"
    return f"mean {format_number(a.mean())}, min {format_number(a.min())}, max {format_number(a.max())}"


def format_value(a: np.ndarray) -> list[str]:
    """Lines showing an array: in full when small, otherwise its shape and a summary."""
    a = np.asarray(a)
    return format_matrix(a) if is_small(a) else [f"{a.shape}: {summary(a)}"]


def tensor_labels(root: Tensor) -> dict[int, str]:
    """A display name for every tensor of root's graph, keyed by id().

    Named tensors show their name. Unnamed scalar constants show their value (the 2 in x * 2);
    other unnamed tensors get t1, t2, ... in graph order, so the same graph gets the same labels.
    """
    labels, count = {}, 0
    for t in topo_order(root, only_grad=False):
        if t.name:
            labels[id(t)] = t.name
        elif t.op is None and not t.requires_grad and t.data.size == 1:
            labels[id(t)] = format_number(t.data.reshape(()).item())
        else:
            count += 1
            labels[id(t)] = f"t{count}"
    return labels


def legend(output: Tensor, labels: dict[int, str]) -> str | None:
    """Which tensors the letters in an op's rule text stand for, when they are unnamed.

    Rule texts come from the op (the single source) and show unnamed tensors as a, b, out;
    the diagrams label them t1, t2, ..., so this says e.g. "a = t2, out = t5".
    """
    op = output.op
    if op is None:
        return None
    pairs = [f"{letter} = {labels[id(x)]}"
             for letter, x in zip(op.letters, output.inputs) if not x.name]
    if not output.name:
        pairs.append(f"out = {labels[id(output)]}")
    return ", ".join(pairs) or None


def summed_note(step: Step, i: int) -> str | None:
    """Why input i's contribution has a smaller shape than the local gradient, if it does."""
    axes = step.summed_axes[i]
    local = step.local_grads[i]
    if not axes or local is None:
        return None
    word = "axis" if len(axes) == 1 else "axes"
    return (f"broadcast undone: summed {local.shape} over {word} "
            f"{', '.join(map(str, axes))} to {step.inputs[i].shape}")


# ---- the rich table ----

def _text(lines: Iterable[str]) -> RenderableType:
    from rich.text import Text
    return Text("\n".join(lines))  # Text, not markup: "[1 2]" must not be read as a style tag


def _step_row(step: Step, labels: dict[int, str]) -> list[RenderableType]:
    out = labels[id(step.output)]
    rules, shapes, values = [], [f"∂L/∂{out} {step.grad_output.shape}"], []
    values += [f"∂L/∂{out} ="] + [f"  {line}" for line in format_value(step.grad_output)]
    for i, (x, g) in enumerate(zip(step.inputs, step.grad_inputs)):
        if g is None:
            continue
        name = labels[id(x)]
        rules.append(step.rules[i])
        shapes.append(f"→ ∂L/∂{name} {g.shape}")
        values += [f"→ ∂L/∂{name} ="] + [f"  {line}" for line in format_value(g)]
        note = summed_note(step, i)
        if note:
            rules.append(f"  ({note})")
    where = legend(step.output, labels)
    if where:
        rules.append(f"where {where}")
    return [str(step.index), step.op, _text(rules), _text(shapes), _text(values)]


def trace_table(trace: BackwardTrace) -> RenderableType:
    from rich.table import Table
    labels = tensor_labels(trace.root)
    table = Table(title=f"Backward from {labels[id(trace.root)]}: {len(trace)} steps",
                  show_lines=True)
    for column in ("step", "op", "rule", "shapes", "values"):
        table.add_column(column, no_wrap=column in ("step", "op", "shapes"))
    for step in trace:
        table.add_row(*_step_row(step, labels))
    return table


def sums_lines(trace: BackwardTrace) -> list[str]:
    """Where a gradient is a sum: several contributions to one tensor, and undone broadcasts."""
    labels = tensor_labels(trace.root)
    lines: list[str] = []
    for tensor, terms in trace.accumulated():
        name = labels[id(tensor)]
        lines.append(f"∂L/∂{name} is the sum of {len(terms)} contributions:")
        for step, i, g in terms:
            lines.append(f"  step {step.index} ({step.op}, input {i}): {step.rules[i]}")
            lines += [f"    {line}" for line in format_value(g)]
        lines.append(f"  total ∂L/∂{name} =")
        lines += [f"    {line}" for line in format_value(sum(g for _, _, g in terms))]
    for step in trace:
        for i, x in enumerate(step.inputs):
            note = summed_note(step, i)
            if note is None:
                continue
            name, out = labels[id(x)], labels[id(step.output)]
            lines.append(f"∂L/∂{name} at step {step.index} ({step.op}): {note}")
            lines.append(f"  {step.op} broadcast {name} {x.shape} to {step.output.shape}: each entry of "
                         f"{name} was copied, so its gradient is the sum over its copies")
            lines.append(f"  local gradient (∂L/∂{out} for {name}'s copies) =")
            lines += [f"    {line}" for line in format_value(step.local_grads[i])]
            lines.append(f"  summed → ∂L/∂{name} =")
            lines += [f"    {line}" for line in format_value(step.grad_inputs[i])]
    return lines


def format_trace(trace: BackwardTrace, width: int = 120) -> str:
    """The trace as plain text: a table of the steps, then a section on the sums."""
    from rich.console import Console
    from rich.rule import Rule
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, color_system=None, force_terminal=False,
                      highlight=False)
    console.print(trace_table(trace))
    console.print(Rule("sums"))
    sums = sums_lines(trace)
    console.print(_text(sums or ["No sums: every tensor received exactly one contribution "
                                 "and no broadcast was undone."]))
    return buffer.getvalue()
