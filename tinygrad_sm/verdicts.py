"""A checked answer in the learner's words: `trace.check(k, tensor, answer)` (displays.py) lands
here. misconceptions.py finds which wrong answer it is (data); this module says it (i18n)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .formatting import format_number
from .i18n import Messages, messages, shape_text
from .misconceptions import KEYS, Question, Verdict, diagnose, question
from .tracing import BackwardTrace


@dataclass(frozen=True)
class CheckResult:
    """The verdict on one answer: `.correct`, `.misconception` (None or a key of
    misconceptions.KEYS), `.message` (never empty; a wrong answer's names the gradient and what
    differs), `.hint` (one line, "" when right) and `.expected` (the right array)."""
    correct: bool
    misconception: str | None
    message: str
    hint: str
    expected: np.ndarray

    def __str__(self) -> str:
        return f"{self.message} {self.hint}".strip()


def what(t: Messages, q: Question) -> str:
    """"what step 2 (add) sends to b", or "the whole gradient of b in this pass"."""
    if q.step is None:
        return t("check.what_total", name=q.name)
    return t("check.what_step", step=q.step, op=q.op, name=q.name)


def _largest_difference(t: Messages, verdict: Verdict) -> dict[str, str]:
    gap = np.abs(verdict.answer - verdict.expected)
    where = np.unravel_index(int(np.argmax(gap)), gap.shape) if gap.ndim else ()
    return {"where": "[" + ", ".join(map(str, where)) + "]" if where else t("shape.scalar"),
            "got": format_number(float(verdict.answer[where])),
            "want": format_number(float(verdict.expected[where]))}


def verdict_message(t: Messages, q: Question, verdict: Verdict, what_text: str | None = None) -> str:
    """The sentence for a verdict: right, or what differs, naming the gradient. what_text
    replaces "what step k sends to x" (an exercise says "the engine's ∂L/∂x")."""
    fields: dict[str, Any] = {"grad": q.grad, "name": q.name, "what": what_text or what(t, q),
                              "shape": shape_text(t, q.expected.shape)}
    key = verdict.misconception
    if verdict.correct:
        return t("check.correct", **fields)
    if key == "missing_1_over_n":
        fields["n"] = verdict.variant.n
    elif key == "one_path_only":
        fields["paths"] = len(q.edges)
    elif key == "transposed" and verdict.variant is not None and verdict.variant.operand:
        return t("check.transposed_operand", operand=verdict.variant.operand, **fields)
    elif key == "shape":
        fields["got"] = shape_text(t, verdict.answer.shape)
    elif key == "other":
        fields.update(_largest_difference(t, verdict))
    return t(f"check.{key}", **fields)


def hint(t: Messages, key: str | None) -> str:
    """One line on the misconception (empty for a right answer)."""
    return t(f"check.hint.{key}") if key in KEYS else ""


def name_of(t: Messages, key: str) -> str:
    """A misconception's short name: "missing 1/n"."""
    return t(f"check.name.{key}")


def result(t: Messages, q: Question, answer: Any) -> CheckResult:
    verdict = diagnose(q, answer)
    return CheckResult(verdict.correct, verdict.misconception, verdict_message(t, q, verdict),
                       hint(t, verdict.misconception), q.expected)


def check(trace: BackwardTrace, k: int | None, tensor: Any, answer: Any,
          lang: str | Messages | None = None) -> CheckResult:
    """trace.check's work: the question, the verdict, the words."""
    return result(messages(lang), question(trace, k, tensor), answer)
