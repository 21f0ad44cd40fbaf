"""Predict, then see, in a terminal: `trace.walk(predict=True)` and `tinygrad-sm step --predict`.

At each step the learner sees what backprop knows (the forward formula, the upstream gradient,
the rule and the numbers to plug in) and types the gradient the step sends to each input that
gets one, before it is shown: one row per line, numbers separated by spaces or commas, a blank
line ends the answer (a vector too, so that a learner who thinks b's gradient has a row per
example can type those rows; a single number ends with its line). `?` shows the answer, `q` or end of input
quits. A gradient bigger than 4×4 (or of more than two axes) is asked one entry at a time: the
entry of largest size, so a slip in sign or scale shows. The verdict comes from the checker
(misconceptions.py, worded by verdicts.py); a score and the misconceptions met close the walk.
"""
from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Callable

import numpy as np
from rich.console import Console
from rich.text import Text

from .i18n import Messages, messages, shape_text, value_lines
from .misconceptions import Question, question
from .tensor import Tensor
from .tracing import BackwardTrace
from .verdicts import hint, name_of, result, what

WHOLE = 4  # gradients up to 4×4 are typed whole


@dataclass
class Score:
    """How a predict walk went: answers given, right ones, reveals, misconceptions met."""
    asked: int = 0
    right: int = 0
    revealed: int = 0
    met: Counter = field(default_factory=Counter)
    quit: bool = False


class Quit(Exception):
    """The learner typed q, or the input ended."""


def parse_number(text: str) -> float:
    """"−0.25", "1e-3" and "1/3" alike (a learner may type a fraction)."""
    return float(Fraction(text.replace("−", "-").strip()))


def parse_row(line: str) -> list[float]:
    return [parse_number(part) for part in line.replace(",", " ").split()]


def big(shape: tuple[int, ...]) -> bool:
    return len(shape) > 2 or any(n > WHOLE for n in shape)


def entry_to_ask(expected: np.ndarray) -> tuple[int, ...]:
    """The entry of largest size (the first such in row order): fixed for a given gradient."""
    return tuple(int(i) for i in np.unravel_index(int(np.argmax(np.abs(expected))), expected.shape))


class Session:
    """One learner at one terminal: asks, checks, keeps the score."""

    def __init__(self, console: Console | None = None, read_line: Callable[[], str] | None = None,
                 lang: str | Messages | None = None):
        self.t = messages(lang)
        self.console = console or Console(highlight=False)
        self.read_line = read_line or sys.stdin.readline
        self.score = Score()

    def say(self, text: str, style: str | None = None) -> None:
        self.console.print(Text(text, style=style or ""))  # Text: "[1 2]" is not a style tag

    def lines(self, title: str, value: Any) -> None:
        self.say(title)
        for line in value_lines(self.t, np.asarray(value)):
            self.say(f"   {line}")

    def _read(self) -> str:
        self.console.print("> ", end="")
        line = self.read_line()
        if line == "":  # end of input
            self.console.print()
            raise Quit
        return line.strip()

    def read_answer(self, rows: bool) -> np.ndarray | None:
        """The typed array (None: reveal). rows: lines up to a blank one; else one number."""
        typed: list[list[float]] = []
        while True:
            line = self._read()
            if line.lower() == "q":
                raise Quit
            if line == "?":
                return None
            if not line and not typed:
                continue
            if line:
                try:
                    typed.append(parse_row(line))
                except (ValueError, ZeroDivisionError):
                    self.say(self.t("predict.not_numbers", text=line), "yellow")
                    typed = []
                    continue
            if typed and (not rows or not line):
                if len({len(r) for r in typed}) > 1:
                    self.say(self.t("predict.ragged", lengths=", ".join(str(len(r)) for r in typed)),
                             "yellow")
                    typed = []
                    continue
                return np.array(typed if rows else typed[0], dtype=np.float64)

    def ask(self, trace: BackwardTrace, k: int, tensor: Tensor | str) -> str:
        """One question: returns "right", "wrong" or "revealed"; raises Quit."""
        q = question(trace, k, tensor)
        t, asked = self.t, q
        if big(q.expected.shape):
            index = entry_to_ask(q.expected)
            asked = q.entry(index)
            self.say(t("predict.ask_entry", grad=q.grad, what=what(t, q), shape=shape_text(t, q.expected.shape),
                       where=list(index)), "bold")
        else:
            self.say(t("predict.ask", grad=q.grad, what=what(t, q), shape=shape_text(t, q.expected.shape)),
                     "bold")
        answer = self.read_answer(rows=asked.expected.ndim >= 1)
        if answer is None:
            self.score.revealed += 1
            self.lines(t("predict.answer", grad=q.grad), q.expected)
            return "revealed"
        if asked.expected.ndim == 1 and answer.ndim == 2 and answer.shape[0] == 1:
            answer = answer[0]  # a vector typed as one row
        checked = result(t, asked, answer)
        self.score.asked += 1
        self.score.right += checked.correct
        if checked.misconception:
            self.score.met[checked.misconception] += 1
        self.say(checked.message, "green" if checked.correct else "red")
        if checked.hint:
            self.say(checked.hint, "yellow")
        self.lines(t("predict.answer", grad=q.grad), q.expected)
        return "right" if checked.correct else "wrong"

    def show_step(self, trace: BackwardTrace, k: int, names: list[str]) -> None:
        """What backprop knows when step k starts: the forward, ∂L/∂out, the rules and inputs."""
        t, view = self.t, trace.view(k - 1)
        self.console.print()
        self.say(t("step.header", index=k, count=len(trace), op=view.op), "bold")
        self.say(t("panel.forward", formula=view.formula))
        self.lines(t("panel.upstream", root=view.root_name, name=view.output_name,
                     shape=shape_text(t, view.grad_output.shape)), view.grad_output)
        upstream = f"∂{view.root_name}/∂{view.output_name}"
        shown = {upstream}
        for edge in view.edges:
            if edge.contribution is None or edge.name not in names:
                continue
            self.say(edge.rule, "bold red")
            for symbol, value in edge.operands:
                if symbol not in shown and value is not None:
                    shown.add(symbol)
                    self.lines(f"  {symbol} =", value)

    def finish(self) -> Score:
        t, s = self.t, self.score
        self.console.print()
        self.say(t("predict.score", right=s.right, asked=s.asked, revealed=s.revealed), "bold")
        if s.met:
            names = ", ".join(f"{name_of(t, key)} ×{count}" for key, count in s.met.most_common())
            self.say(t("predict.met", names=names))
        else:
            self.say(t("predict.met_none"))
        return s


def receivers(trace: BackwardTrace, k: int) -> list[str]:
    """The labels of step k's inputs that get a gradient, each once, in input order."""
    step = trace[k - 1]
    found = [trace.label(x) for x, g in zip(step.inputs, step.grad_inputs) if g is not None]
    return list(dict.fromkeys(found))


def walk(trace: BackwardTrace, console: Console | None = None,
         read_line: Callable[[], str] | None = None, lang: str | Messages | None = None,
         **ignored: Any) -> Score:
    """Every step in predict mode: the learner types what it sends to each input that gets a
    gradient, then sees the verdict and the answer. Returns the Score (also printed).
    lang: "zh" or "en" (default: $TINYGRAD_SM_LANG, else English)."""
    session = Session(console, read_line, lang)
    session.say(session.t("predict.how"), "dim")
    try:
        for k in range(1, len(trace) + 1):
            names = receivers(trace, k)
            session.show_step(trace, k, names)
            for name in names:
                session.ask(trace, k, name)
    except Quit:
        session.score.quit = True
        session.say(session.t("walk.stopped"))
    return session.finish()
