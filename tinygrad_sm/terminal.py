"""The trace in a terminal: `print(trace)` (a table of the steps and the sums) and `trace.walk()`
(one step per key, for any graph). Both format `trace.view(k)`; rich draws the tables."""
from __future__ import annotations

import io
import os
import sys
from typing import TYPE_CHECKING, Iterable

import numpy as np
from rich.console import Console, Group
from rich.panel import Panel
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from .formatting import format_value, shape_text
from .tracing import summed_note

if TYPE_CHECKING:
    from rich.console import RenderableType

    from .tracing import BackwardTrace, EdgeView, StepView


def _text(lines: Iterable[str]) -> Text:
    return Text("\n".join(lines))  # Text, not markup: "[1 2]" must not be read as a style tag


def _value_lines(title: str, value: np.ndarray) -> list[str]:
    indent = " " * (len(title) - len(title.lstrip()) + 2)
    return [f"{title} ="] + [f"{indent}{line}" for line in format_value(value)]


# ---- print(trace) ----

def _step_row(view: StepView) -> list[RenderableType]:
    rules, shapes = [], [f"∂L/∂{view.output_name} {shape_text(view.grad_output.shape)}"]
    values = _value_lines(f"∂L/∂{view.output_name}", view.grad_output)
    for edge in view.edges:
        if edge.contribution is None:
            continue
        rules.append(edge.rule)
        if edge.summed_note:
            rules.append(f"  ({edge.summed_note})")
        shapes.append(f"→ {edge.title} {shape_text(edge.contribution.shape)}")
        values += _value_lines(f"→ {edge.title}", edge.contribution)
    return [str(view.index), view.op, _text(rules), _text(shapes), _text(values)]


def trace_table(trace: BackwardTrace) -> Table:
    table = Table(title=f"Backward from {trace.label(trace.root)}: {len(trace)} steps", show_lines=True)
    for column in ("step", "op", "rule", "shapes", "values"):
        table.add_column(column, no_wrap=column in ("step", "op", "shapes"))
    for k in range(len(trace)):
        table.add_row(*_step_row(trace.view(k)))
    return table


def sums_lines(trace: BackwardTrace) -> list[str]:
    """Where a gradient is a sum: several contributions to one tensor, and undone broadcasts."""
    lines: list[str] = []
    for tensor, terms in trace.accumulated():
        name = trace.label(tensor)
        lines.append(f"∂L/∂{name} is the sum of {len(terms)} contributions:")
        for step, i, g in terms:
            lines.append(f"  step {step.index} ({step.op}, input {i}): {step.rules[i]}")
            lines += [f"    {line}" for line in format_value(g)]
        lines.append(f"  total ∂L/∂{name} =")
        lines += [f"    {line}" for line in format_value(trace.grad_at(tensor).value)]
    for step in trace:
        for i, x in enumerate(step.inputs):
            if step.summed_axes[i] is None or step.local_grads[i] is None:
                continue
            name, out = trace.label(x), trace.label(step.output)
            lines.append(f"∂L/∂{name} at step {step.index} ({step.op}): {step.rules[i]}")
            lines.append(f"  {summed_note(step, i)}")
            lines.append(f"  {step.op} broadcast {name} {shape_text(x.shape)} to "
                         f"{shape_text(step.output.shape)}: each entry of {name} was copied, so its "
                         "gradient is the sum over its copies")
            lines += _value_lines(f"  local gradient (∂L/∂{out} for {name}'s copies)", step.local_grads[i])
            lines += _value_lines(f"  summed → ∂L/∂{name}", step.grad_inputs[i])
    earlier = [t for t in trace.tensors() if id(t) in trace.earlier_grads]
    for t in earlier:
        lines.append(f"{t.name or trace.label(t)}.grad held gradients before this pass: .grad is "
                     "accumulated (earlier passes + this one); the contributions above are this pass's")
    return lines


def _plain_console(width: int) -> Console:
    # force_jupyter=False: inside Jupyter rich would otherwise ignore the buffer and print to the cell
    return Console(file=io.StringIO(), width=width, color_system=None, force_terminal=False,
                   force_jupyter=False, highlight=False)


TABLE_STEPS = 200  # longer traces are listed step by step in plain lines: a table that long is slow


def _step_lines(view: StepView) -> list[str]:
    lines = [f"step {view.index} ({view.op}): {view.formula}"]
    lines += [f"  {line}" for line in _value_lines(f"∂L/∂{view.output_name}", view.grad_output)]
    for edge in view.edges:
        if edge.contribution is not None:
            lines.append(f"  {edge.rule}" + (f"  ({edge.summed_note})" if edge.summed_note else ""))
            lines += [f"  {line}" for line in _value_lines(f"→ {edge.title}", edge.contribution)]
    return lines


def format_trace(trace: BackwardTrace, width: int = 120) -> str:
    """The trace as plain text: a table of the steps, then a section on the sums."""
    console = _plain_console(width)
    if len(trace) <= TABLE_STEPS:
        console.print(trace_table(trace))
    else:
        console.file.write(f"Backward from {trace.label(trace.root)}: {len(trace)} steps\n")
        console.file.write("\n".join(line for k in range(len(trace)) for line in _step_lines(trace.view(k))))
        console.file.write("\n")
    console.print(Rule("sums"))
    console.print(_text(sums_lines(trace) or ["No sums: every tensor received exactly one "
                                              "contribution and no broadcast was undone."]))
    return console.file.getvalue()


# ---- trace.walk(): the stepper ----

def _matrix(value: object) -> Text:
    return _text(format_value(np.asarray(value)))


def _numbers(edge: EdgeView) -> Table:
    """The rule's right-hand side with the numbers plugged in: symbol over value, side by side."""
    grid = Table.grid(padding=(0, 2))
    cells = [(symbol, value) for symbol, value in edge.operands] + [(edge.title, edge.contribution)]
    for _ in cells:
        grid.add_column(no_wrap=True)
    grid.add_row(*[Text(symbol, style="bold") for symbol, _ in cells])
    grid.add_row(*[_matrix(value) for _, value in cells])
    return grid


def step_panel(view: StepView) -> Panel:
    """One step: the forward formula, ∂L/∂out, and per input the rule, then its numbers."""
    parts: list[RenderableType] = [
        Text(f"forward: {view.formula}"),
        Text(f"upstream gradient ∂L/∂{view.output_name} {shape_text(view.grad_output.shape)}:", style="bold"),
        _matrix(view.grad_output)]
    for edge in view.edges:
        if edge.contribution is None:
            parts.append(Text(f"{edge.name}: no gradient needed (data)", style="dim"))
            continue
        parts.append(Text(edge.rule, style="bold red"))
        parts.append(_numbers(edge))
        if edge.summed_note:
            parts.append(Text(edge.summed_note, style="yellow"))
    return Panel(Group(*parts), title=view.header, title_align="left")


def read_key(stream=None) -> str:
    """One key press, without waiting for Enter ('' at end of input)."""
    stream = stream or sys.stdin
    try:
        import termios  # POSIX terminals
        import tty
        fd = stream.fileno()
        saved = termios.tcgetattr(fd)
    except Exception:  # not a real terminal (a pipe, a StringIO, no termios on this system)
        return stream.read(1)
    try:
        tty.setcbreak(fd)
        return os.read(fd, 1).decode("utf-8", "replace")
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def walk(trace: BackwardTrace, pause: bool = True, console: Console | None = None,
         read=read_key) -> int:
    """Show the steps one per key press (any key: next, q: quit); returns how many were shown.

    With pause=False, or when stdin is not a terminal, every step is printed at once. Each
    step clears the screen first, so a step fits an 80×24 terminal without scrolling.
    """
    console = console or Console(highlight=False)
    interactive = pause and sys.stdin is not None and sys.stdin.isatty()
    for k in range(len(trace)):
        if interactive:
            console.clear()
        console.print(step_panel(trace.view(k)))
        if interactive and k < len(trace) - 1:
            console.print(Text("any key: next step, q: quit", style="dim"), end="")
            key = read()
            console.print()
            if key in ("q", "Q", ""):
                console.print("stopped.")
                return k + 1
    return len(trace)
