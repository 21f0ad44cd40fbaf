"""What a predict page embeds for one question, so that it checks answers offline: the
expected array, the known wrong ones in the order they are tried (misconceptions.py) and four
rules to pick from, the right one among three made from the misconceptions. Data only, no
words: a page words the verdicts with the catalogue's check.* messages."""
from __future__ import annotations

from typing import Any

from .misconceptions import Edge, Question, averaging_counts, not_one_hot, question
from .tensor import Tensor
from .tracing import BackwardTrace, fill


# ---- the rule, and three wrong rules made from the misconceptions ----

def _paren(text: str) -> str:
    return f"({text})" if " " in text else text


def _rhs(rule: str) -> str:
    return rule.split(" = ", 1)[-1]


def _edge_rule(trace: BackwardTrace, edge: Edge, y_suffix: str = "", summed: bool = True) -> str:
    """Right-hand side of an edge's rule; unsummed: before broadcasting's Σ; y_suffix: y[:, None]."""
    step = edge.step
    if summed and not y_suffix:
        return _rhs(step.rules[edge.position])
    names = [trace.label(t) for t in step.inputs]
    if y_suffix:
        names[-1] += y_suffix
    return _rhs(fill(step.op_node.rules[edge.position], step.op_node, names,
                     trace.label(step.output), trace.root_label()))


def _wrong_rules(trace: BackwardTrace, q: Question, rhs: str) -> list[tuple[str, str]]:
    wrong = [("sign", f"−{_paren(rhs)}")]
    if " / n" in rhs:
        wrong.append(("missing_1_over_n", rhs.replace(" / n", "")))
    elif averaging_counts(trace, q.tensor):
        wrong.append(("missing_1_over_n", f"n · {_paren(rhs)}"))
    if "ᵀ" in rhs and q.expected.ndim >= 2:
        wrong.append(("transposed", f"({rhs})ᵀ"))
    for e in q.edges:
        if e.step.summed_axes[e.position]:
            wrong.append(("missing_sum_over_rows", rhs.replace(_edge_rule(trace, e),
                                                               _edge_rule(trace, e, summed=False))))
        if not_one_hot(e):
            wrong.append(("not_one_hot", rhs.replace(_edge_rule(trace, e),
                                                     _edge_rule(trace, e, y_suffix="[:, None]"))))
    if len(q.edges) > 1:
        wrong += [("one_path_only", _edge_rule(trace, e)) for e in q.edges]
    for e in q.edges:  # a neighbour's rule: which operand goes where
        wrong += [("other", _rhs(rule)) for i, rule in enumerate(e.step.rules)
                  if e.step.inputs[i] is not q.tensor]
    return wrong + [("other", f"2 · {_paren(rhs)}"), ("other", f"{_paren(rhs)} / 2")]


def rule_choices(trace: BackwardTrace, q: Question) -> list[dict[str, Any]]:
    """Four rules for the question, the right one among three wrong ones made from the
    misconceptions (in KEYS' order; other rules only to make up three), in an order fixed by
    the step and the name: [{"key": None or a misconception, "text", "correct"}, ...]."""
    rhs = " + ".join(_edge_rule(trace, e) for e in q.edges) or "1"
    right = {"key": None, "text": f"{q.grad} = {rhs}", "correct": True}
    texts, wrong = {right["text"]}, []
    for key, text in _wrong_rules(trace, q, rhs):
        full = f"{q.grad} = {text}"
        if full not in texts and len(wrong) < 3:
            texts.add(full)
            wrong.append({"key": key, "text": full, "correct": False})
    place = (q.step or 0) + len(q.name)  # where the right one goes: not always first
    wrong.insert(place % (len(wrong) + 1), right)
    return wrong


def question_data(trace: BackwardTrace, k: int | None, tensor: Tensor | str) -> dict[str, Any]:
    """Everything a page needs to check an answer offline, as JSON-able data: the expected
    array, the wrong answers in the order they are tried (key → array) and four rules to pick
    from (see Question.as_json and rule_choices). Compare as `close` does: every entry within
    tolerance[0] · max|target| + tolerance[1]; first the expected, then the variants in order."""
    q = question(trace, k, tensor)
    return {**q.as_json(), "rules": rule_choices(trace, q)}
