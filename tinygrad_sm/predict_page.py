"""Predict mode for the HTML stepper: `trace.save_html(path, predict=True)`, `trace.predict()`.

At each step the gradient the step sends to each input is hidden (its rule and numbers in the
panel, its node and edge labels in that step's diagram copy) until the learner answers: types
it into a small grid (up to 4×4; a bigger gradient: the one entry the terminal asks too, the
largest in size), or picks its rule among four. The page compares offline: the expected
answer, the tolerance and the known wrong answers in the order they are tried are computed
here (misconceptions.py, predict_data.py) and embedded as JSON; assets/predict.js compares as
misconceptions.close does and words the verdict with the catalogue's check.* messages.
"""
from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import numpy as np

from .i18n import Messages, shape_text
from .misconceptions import KEYS, Question, Verdict, question
from .predict_data import rule_choices
from .verdicts import hint, name_of, verdict_message, what

if TYPE_CHECKING:
    from .tracing import BackwardTrace

WHOLE = 4  # gradients up to 4×4 are typed whole (as in the terminal)
_esc = html.escape


def big(shape: tuple[int, ...]) -> bool:
    return len(shape) > 2 or any(n > WHOLE for n in shape)


def entry_to_ask(expected: np.ndarray) -> tuple[int, ...]:
    """The entry of largest size (the first in row order), the one the terminal asks too."""
    return tuple(int(i) for i in np.unravel_index(int(np.argmax(np.abs(expected))), expected.shape))


def receivers(trace: BackwardTrace, k: int) -> list[str]:
    """The labels of step k's inputs (k from 1) that get a gradient, each once, in input order."""
    step = trace[k - 1]
    found = [trace.label(x) for x, g in zip(step.inputs, step.grad_inputs) if g is not None]
    return list(dict.fromkeys(found))


def _messages(t: Messages, q: Question, asked: Question) -> dict[str, str]:
    """The verdict sentence for a right answer and for each known wrong one; "other" and
    "shape" keep {where}, {got}, {want} for the page to fill in."""
    fields = {"grad": q.grad, "what": what(t, q), "name": q.name,
              "shape": shape_text(t, q.expected.shape)}
    right = Verdict(True, None, asked.expected, asked.expected)
    said = {"correct": verdict_message(t, q, right)}
    for v in asked.variants:
        said.setdefault(v.key, verdict_message(t, q, Verdict(False, v.key, v.value, asked.expected, v)))
    said["shape"] = t("check.shape", got="{got}", **fields)
    said["other"] = t("check.other", where="{where}", got="{got}", want="{want}", **fields)
    return said


def question_json(trace: BackwardTrace, k: int, name: str, t: Messages,
                  ids: dict[int, int]) -> dict[str, Any]:
    """One question as the page needs it: what is asked (the whole gradient or one entry),
    the arrays to compare with, the four rules, the words, and the diagram ids to hide."""
    q = question(trace, k, name)
    entry = list(entry_to_ask(q.expected)) if big(q.expected.shape) else None
    asked = q.entry(tuple(entry)) if entry is not None else q
    data = asked.as_json()
    step = trace[k - 1]
    hide = [f"t{ids[id(q.tensor)]}_grad"]
    hide += [f"b{ids[id(step.output)]}_{i}" for i, x in enumerate(step.inputs)
             if x is q.tensor and step.grad_inputs[i] is not None]
    if entry is not None:
        ask = t("predict.ask_entry", grad=q.grad, what=what(t, q),
                shape=shape_text(t, q.expected.shape), where=entry)
    else:
        ask = t("predict.ask", grad=q.grad, what=what(t, q), shape=shape_text(t, q.expected.shape))
    return {"name": q.name, "grad": q.grad, "entry": entry, "shape": data["shape"], "expected": data["expected"],
            "tolerance": data["tolerance"], "variants": data["variants"], "ask": ask,
            "rules": rule_choices(trace, q), "messages": _messages(t, q, asked),
            "where": str(entry) if entry is not None else t("shape.scalar"), "hide": hide}


def predict_data(trace: BackwardTrace, t: Messages) -> dict[str, Any]:
    """Every step's questions (a list per step, steps from 1 at index 0) and the words the
    script needs: hints and short names of the misconceptions, buttons, the score."""
    ids = {id(x): i for i, x in enumerate(trace.tensors())}   # the diagram's node numbers
    steps = [[question_json(trace, k, name, t, ids) for name in receivers(trace, k)]
             for k in range(1, len(trace) + 1)]
    return {"steps": steps, "hints": {key: hint(t, key) for key in KEYS},
            "names": {key: name_of(t, key) for key in KEYS}, "text": t.prefix("predict.")}


def _inputs(q: dict[str, Any], t: Messages) -> str:
    """A grid of inputs in the gradient's shape (a row for a vector, one box for a number)."""
    shape = [] if q["entry"] is not None else q["shape"]
    rows, cols = (shape + [1, 1])[:2] if len(shape) == 2 else (1, shape[0] if shape else 1)
    label = _esc(t("predict.page.entry_label"))
    cells = "".join("<tr>" + "".join(
        f'<td><input type="text" inputmode="decimal" size="7" data-r="{r}" data-c="{c}" '
        f'aria-label="{label} {r},{c}"></td>' for c in range(cols)) + "</tr>" for r in range(rows))
    return f'<table class="tg-grid" data-ndim="{0 if q["entry"] is not None else len(shape)}">{cells}</table>'


def form_html(q: dict[str, Any], t: Messages) -> str:
    """One question's form: the grid, Check and Reveal, the four rules, the verdict lines."""
    rules = "".join(f'<button type="button" data-act="rule" data-i="{i}">{_esc(r["text"])}</button>'
                    for i, r in enumerate(q["rules"]))
    return (f'<div class="tg-question" data-q="{_esc(q["name"])}">'
            f'<p class="ask">{_esc(q["ask"])}</p>{_inputs(q, t)}'
            f'<button type="button" data-act="check">{_esc(t("predict.page.check"))}</button> '
            f'<button type="button" data-act="reveal">{_esc(t("predict.page.reveal"))}</button>'
            f'<p class="or">{_esc(t("predict.page.or_rule"))}</p><div class="rules">{rules}</div>'
            f'<p class="verdict" data-role="verdict"></p><p class="hint" data-role="hint"></p></div>')


def forms_html(questions: list[dict[str, Any]], t: Messages) -> str:
    """A step's questions, for the end of its panel."""
    if not questions:
        return ""
    return f'<div class="tg-questions">{"".join(form_html(q, t) for q in questions)}</div>'
