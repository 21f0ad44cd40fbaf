"""`tinygrad-sm lesson` and `tinygrad-sm step --predict`: predict, then see, in a terminal.

The lesson walks the study note's softmax regression (the step command's 2 × 3 problem, three
classes) in the order the note derives it: ∂L/∂o = (ŷ − y)/n first, then ∂L/∂b (a sum over the
rows), then ∂L/∂W = Xᵀ · ∂L/∂o, then a tensor used twice (x ⊙ x sends 2x); it ends with the
score and the misconceptions met. Each answer is checked by trace.check's checker.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
from rich.console import Console

from .i18n import messages
from .predict_terminal import Quit, Session, walk
from .stepper import TinyProblem, forward_table
from .tensor import Tensor
from .terminal import PipeAwareConsole

REUSED = (1.5, -2.0, 0.5)  # x of the reused-tensor question: L = mean(x ⊙ x)


def reused_trace() -> tuple[Tensor, object]:
    x = Tensor(np.array(REUSED), requires_grad=True, name="x")
    return x, (x * x).mean().backward(trace=True)


def questions(problem: TinyProblem) -> list[tuple[str, object, int, str, dict]]:
    """(intro key, trace, step, tensor, intro fields), in the lesson's order."""
    trace = problem.L.backward(trace=True)
    x, reused = reused_trace()
    mul = next(s.index + 1 for s in reused if s.op == "mul")
    n = len(problem.labels)
    return [("lesson.o", trace, 1, "o", {"n": n}), ("lesson.b", trace, 2, "b", {}),
            ("lesson.W", trace, 3, "W", {}),
            ("lesson.reuse", reused, mul, "x", {"x": list(REUSED)})]


def lesson_command(seed: int = 0, lang: str | None = None, console: Console | None = None,
                   read_line: Callable[[], str] | None = None) -> int:
    """`tinygrad-sm lesson`: four questions in predict mode, then the score. Returns 0
    (q or the end of input stops the lesson early, which is a normal end)."""
    t = messages(lang)
    session = Session(console or PipeAwareConsole(highlight=False), read_line, t)
    problem = TinyProblem(seed)
    session.say(t("lesson.intro"), "bold")
    session.console.print(forward_table(problem, t))
    session.say(t("predict.how"), "dim")
    try:
        for number, (key, trace, k, name, fields) in enumerate(questions(problem), start=1):
            session.console.print()
            session.say(f"{number}. " + t(key, **fields), "bold")
            session.show_step(trace, k, [name])
            session.ask(trace, k, name)
    except Quit:
        session.say(t("walk.stopped"))
    session.finish()
    return 0


def step_command(seed: int = 0, lang: str | None = None, console: Console | None = None,
                 read_line: Callable[[], str] | None = None) -> int:
    """`tinygrad-sm step --predict`: the step command's softmax regression, every step in
    predict mode. Returns 0 (quitting early is a normal end)."""
    t = messages(lang)
    console = console or PipeAwareConsole(highlight=False)
    problem = TinyProblem(seed)
    console.print(forward_table(problem, t))
    walk(problem.L.backward(trace=True), console=console, read_line=read_line, lang=t)
    return 0
