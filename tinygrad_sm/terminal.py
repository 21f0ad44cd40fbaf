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

from .i18n import Messages, edge_title, messages, shape_text, step_header, summed_note, value_lines

if TYPE_CHECKING:
    from rich.console import RenderableType

    from .tracing import BackwardTrace, EdgeView, StepView


def silence_stdout() -> None:
    """Point stdout at /dev/null once its reader has left (`| head -1`): Python flushes stdout
    at exit, and that flush must not fail with a second BrokenPipeError."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # stdout without a file descriptor (a test's capture)
        pass


class PipeAwareConsole(Console):
    """A rich Console that raises BrokenPipeError when its reader leaves (`| head -1`), for the
    command to handle, instead of rich's default: exit 1 without a word."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        silence_stdout()
        raise BrokenPipeError("standard output was closed")


def _text(lines: Iterable[str]) -> Text:
    # Text, not markup: "[1 2]", a name "y[pred]" or "L[/b]" must not be read as a style tag
    return Text("\n".join(lines))


def _value_lines(title: str, value: np.ndarray, t: Messages) -> list[str]:
    indent = " " * (len(title) - len(title.lstrip()) + 2)
    return [f"{title} ="] + [f"{indent}{line}" for line in value_lines(t, value)]


# ---- print(trace) ----

def _step_row(view: StepView, t: Messages) -> list[RenderableType]:
    upstream = f"∂{view.root_name}/∂{view.output_name}"
    rules, shapes = [], [f"{upstream} {shape_text(t, view.grad_output.shape)}"]
    values = _value_lines(upstream, view.grad_output, t)
    for edge in view.edges:
        if edge.contribution is None:
            continue
        rules.append(edge.rule)
        note = summed_note(t, edge)
        if note:
            rules.append(f"  ({note})")
        shapes.append(f"→ {edge_title(t, edge)} {shape_text(t, edge.contribution.shape)}")
        values += _value_lines(f"→ {edge_title(t, edge)}", edge.contribution, t)
    return [str(view.index + 1), Text(view.op), _text(rules), _text(shapes), _text(values)]


def _title(trace: BackwardTrace, t: Messages) -> str:
    return t("table.title", root=trace.label(trace.root), steps=len(trace))


def trace_table(trace: BackwardTrace, lang: str | Messages | None = None) -> Table:
    t = messages(lang)
    table = Table(title=Text(_title(trace, t)), show_lines=True)
    for column in ("step", "op", "rule", "shapes", "values"):
        table.add_column(t(f"table.{column}"), no_wrap=column in ("step", "op", "shapes"))
    for k in range(len(trace)):
        table.add_row(*_step_row(trace.view(k), t))
    return table


def sums_lines(trace: BackwardTrace, lang: str | Messages | None = None) -> list[str]:
    """Where a gradient is a sum: several contributions to one tensor, and undone broadcasts."""
    t = messages(lang)
    lines: list[str] = []
    root = trace.root_label()
    for tensor, terms in trace.accumulated():
        name = trace.label(tensor)
        lines.append(t("sums.contributions", root=root, name=name, count=len(terms)))
        for step, i, g in terms:
            lines.append("  " + t("sums.term", index=step.index + 1, op=step.op, position=i, rule=step.rules[i]))
            lines += [f"    {line}" for line in value_lines(t, g)]
        lines.append("  " + t("sums.total", root=root, name=name))
        lines += [f"    {line}" for line in value_lines(t, trace.grad_at(tensor).value)]
    for step in trace:
        for i, x in enumerate(step.inputs):
            if step.summed_axes[i] is None or step.local_grads[i] is None:
                continue
            name, out = trace.label(x), trace.label(step.output)
            edge = trace.view(step.index).edges[i]
            lines.append(t("sums.broadcast_head", root=root, name=name, index=step.index + 1, op=step.op,
                           rule=step.rules[i]))
            lines.append(f"  {summed_note(t, edge)}")
            lines.append("  " + t("sums.broadcast", op=step.op, name=name, shape=shape_text(t, x.shape),
                                  out_shape=shape_text(t, step.output.shape)))
            lines += _value_lines("  " + t("sums.local", root=root, out=out, name=name), step.local_grads[i], t)
            lines += _value_lines("  " + t("sums.summed", root=root, name=name), step.grad_inputs[i], t)
    earlier = [x for x in trace.tensors() if id(x) in trace.earlier_grads]
    for x in earlier:
        lines.append(t("sums.earlier", name=x.name or trace.label(x)))
    return lines


def _plain_console(width: int) -> Console:
    # force_jupyter=False: inside Jupyter rich would otherwise ignore the buffer and print to the cell
    return Console(file=io.StringIO(), width=width, color_system=None, force_terminal=False,
                   force_jupyter=False, highlight=False)


TABLE_STEPS = 200  # longer traces are listed step by step in plain lines: a table that long is slow


def _step_lines(view: StepView, t: Messages) -> list[str]:
    lines = [t("step.line", index=view.index + 1, op=view.op, formula=view.formula)]
    lines += [f"  {line}" for line in _value_lines(f"∂{view.root_name}/∂{view.output_name}", view.grad_output, t)]
    for edge in view.edges:
        if edge.contribution is not None:
            note = summed_note(t, edge)
            lines.append(f"  {edge.rule}" + (f"  ({note})" if note else ""))
            lines += [f"  {line}" for line in _value_lines(f"→ {edge_title(t, edge)}", edge.contribution, t)]
    return lines


def format_trace(trace: BackwardTrace, width: int = 120, lang: str | Messages | None = None) -> str:
    """The trace as plain text: a table of the steps, then a section on the sums.

    lang: "zh" or "en" (default: $TINYGRAD_SM_LANG, else English)."""
    t = messages(lang)
    console = _plain_console(width)
    if len(trace) <= TABLE_STEPS:
        console.print(trace_table(trace, t))
    else:
        console.file.write(_title(trace, t) + "\n")
        console.file.write("\n".join(line for k in range(len(trace)) for line in _step_lines(trace.view(k), t)))
        console.file.write("\n")
    console.print(Rule(t("sums.rule")))
    console.print(_text(sums_lines(trace, t) or [t("sums.none")]))
    return console.file.getvalue()


# ---- trace.walk(): the stepper ----

def _matrix(value: object, t: Messages) -> Text:
    return _text(value_lines(t, np.asarray(value)))


def _numbers(edge: EdgeView, t: Messages) -> Table:
    """The rule's right-hand side with the numbers plugged in: symbol over value, side by side."""
    grid = Table.grid(padding=(0, 2))
    cells = [(symbol, value) for symbol, value in edge.operands] + [(edge_title(t, edge), edge.contribution)]
    for _ in cells:
        grid.add_column(no_wrap=True)
    grid.add_row(*[Text(symbol, style="bold") for symbol, _ in cells])
    grid.add_row(*[_matrix(value, t) for _, value in cells])
    return grid


def step_panel(view: StepView, lang: str | Messages | None = None) -> Panel:
    """One step: the forward formula, ∂L/∂out, and per input the rule, then its numbers."""
    t = messages(lang)
    parts: list[RenderableType] = [
        Text(t("panel.forward", formula=view.formula)),
        Text(t("panel.upstream", root=view.root_name, name=view.output_name, shape=shape_text(t, view.grad_output.shape)),
             style="bold"),
        _matrix(view.grad_output, t)]
    for edge in view.edges:
        if edge.contribution is None:
            parts.append(Text(t("panel.no_grad", name=edge.name), style="dim"))
            continue
        parts.append(Text(edge.rule, style="bold red"))
        parts.append(_numbers(edge, t))
        note = summed_note(t, edge)
        if note:
            parts.append(Text(note, style="yellow"))
    return Panel(Group(*parts), title=Text(step_header(t, view)), title_align="left")


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
         read=read_key, lang: str | Messages | None = None, more: bool = False) -> int:
    """Show the steps one per key press (any key: next, q: quit); returns how many were shown
    (len(trace) + 1 when more=True and the key after the last step asked for what follows).

    With pause=False, or when stdin is not a terminal, every step is printed at once. Each
    step clears the screen first, so a step fits an 80×24 terminal without scrolling.
    more: the caller shows something after the last step (a result table): the last step waits
    for a key too, and the screen is cleared for what follows, so it fits as well.
    lang: "zh" or "en" (default: $TINYGRAD_SM_LANG, else English).
    """
    t = messages(lang)
    console = console or Console(highlight=False)
    interactive = pause and sys.stdin is not None and sys.stdin.isatty()
    for k in range(len(trace)):
        if interactive:
            console.clear()
        console.print(step_panel(trace.view(k), t))
        last = k == len(trace) - 1
        if interactive and (not last or more):
            console.print(Text(t("walk.prompt_result" if last else "walk.prompt"), style="dim"), end="")
            key = read()
            console.print()
            if key in ("q", "Q", ""):
                console.print(t("walk.stopped"))
                return k + 1
            if last:
                console.clear()
                return len(trace) + 1
    return len(trace)
