"""Checking a learner's gradient: the right answer, and the known wrong ones, from a trace.

`question(trace, k, tensor)` asks "what does step k send to tensor?" (k counts from 1, as every
display shows steps; k=None asks for the tensor's whole gradient of the pass). It holds the
expected array (the sum over that step's edges into the tensor: x·x at its mul step gets 2x·g)
and the wrong answers learners are known to give, each computed from the engine's own arrays:

    sign                   −expected
    missing_1_over_n       n × expected, below a loss that averages over n (the /n carries down)
    transposed             expectedᵀ ((Xᵀg)ᵀ = gᵀX); at a 2-D matmul a · b also the rule with its
                           transpose left out: g · b for a, a · g for b (where numpy can compute it)
    missing_sum_over_rows  a broadcast tensor's gradient before the sum (b in XW + b: the n × K
                           array, or its first row)
    not_one_hot            at cross-entropy: ŷ − y[:, None] with y the class indices (with or
                           without the /n)
    one_path_only          one edge's part, where several edges reach the tensor (x·x)

`diagnose(question, answer)` names the first of them the answer matches (that order), else
"shape" (the shape differs) or "other". It returns data, no sentences: the words are
tinygrad_sm/verdicts.py's. `question(...).as_json()` is the same data for a saved page that
compares offline (predict_data.py adds the rules to pick from).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from .graph import topo_order
from .ops import CrossEntropy, MatMul, Mean
from .tensor import Tensor
from .tracing import BackwardTrace, Step

if TYPE_CHECKING:
    from collections.abc import Sequence

KEYS = ("sign", "missing_1_over_n", "transposed", "missing_sum_over_rows", "not_one_hot",
        "one_path_only", "shape", "other")
RELATIVE_TOLERANCE = 1e-3   # learners type 3–4 significant digits
ABSOLUTE_TOLERANCE = 1e-12


def close(answer: np.ndarray, target: np.ndarray) -> bool:
    """Same shape, and every entry within 1e-3 · max|target| (+1e-12) of target's."""
    if answer.shape != target.shape:
        return False
    scale = float(np.max(np.abs(target))) if target.size else 0.0
    return bool(np.all(np.abs(answer - target) <= RELATIVE_TOLERANCE * scale + ABSOLUTE_TOLERANCE))


@dataclass(frozen=True)
class Edge:
    """One edge of the question: step `step` passes `contribution` to input `position`."""
    step: Step
    position: int
    contribution: np.ndarray


@dataclass(frozen=True)
class Variant:
    """A known wrong answer: a misconception's key and the array it gives."""
    key: str
    value: np.ndarray
    n: int | None = None     # missing_1_over_n: the n of the mean
    operand: str | None = None  # transposed at a matmul: the operand whose ᵀ was left out


@dataclass(frozen=True)
class Question:
    """What step k sends to one tensor (k=None: its whole gradient), and the wrong answers."""
    step: int | None          # as displays show it, from 1
    tensor: Tensor
    name: str                 # the tensor's label in the trace
    root: str                 # the label of what the pass differentiates (L)
    op: str | None            # the step's op (None for k=None)
    expected: np.ndarray
    edges: tuple[Edge, ...]
    variants: tuple[Variant, ...] = field(default=())

    @property
    def grad(self) -> str:
        """The gradient's symbol: ∂L/∂W."""
        return f"∂{self.root}/∂{self.name}"

    def entry(self, index: tuple[int, ...]) -> Question:
        """The same question for one entry (for gradients too big to type whole): the
        variants of the gradient's shape, read at that entry."""
        at = tuple(index)
        value = self.expected[at].reshape(())
        kept = tuple(replace(v, value=v.value[at].reshape(())) for v in self.variants
                     if v.value.shape == self.expected.shape and not close(v.value[at], value))
        return replace(self, expected=value, variants=kept)

    def as_json(self) -> dict[str, Any]:
        """Plain lists and numbers, for a page that compares answers without Python.

        {"step", "tensor", "grad", "op", "shape", "expected", "tolerance": [relative, absolute],
        "variants": [{"key", "shape", "value"}, ...] in the order they are tried}."""
        return {"step": self.step, "tensor": self.name, "grad": self.grad, "op": self.op,
                "shape": list(self.expected.shape), "expected": self.expected.tolist(),
                "tolerance": [RELATIVE_TOLERANCE, ABSOLUTE_TOLERANCE],
                "variants": [{"key": v.key, "shape": list(v.value.shape), "value": v.value.tolist()}
                             for v in self.variants]}


@dataclass(frozen=True)
class Verdict:
    """How an answer compares: right, or which misconception (data; verdicts.py words it)."""
    correct: bool
    misconception: str | None
    answer: np.ndarray
    expected: np.ndarray
    variant: Variant | None = None


# ---- finding the tensor and the step ----

def find_tensor(trace: BackwardTrace, tensor: Tensor | str) -> Tensor:
    """The tensor itself, or the tensor of the graph with that label."""
    if isinstance(tensor, Tensor):
        if id(tensor) not in trace.labels():
            raise ValueError(f"check: the tensor of shape {tensor.shape} named {tensor.name!r} is "
                             f"not in this trace's graph (its root is {trace.root_label()})")
        return tensor
    if isinstance(tensor, str):
        found = [t for t in trace.tensors() if trace.label(t) == tensor]
        if len(found) > 1:
            raise ValueError(f"check: {len(found)} tensors are labelled {tensor!r} "
                             f"(shapes {', '.join(str(t.shape) for t in found)}); pass the Tensor")
        if found:
            return found[0]
        names = ", ".join(trace.label(t) for t in trace.tensors() if t.requires_grad)
        raise ValueError(f"check: no tensor labelled {tensor!r} in this trace; "
                         f"the tensors with a gradient are {names}")
    raise TypeError(f"check: tensor must be a Tensor of the graph or its label, "
                    f"got {type(tensor).__name__}")


def step_at(trace: BackwardTrace, k: int) -> Step:
    """Step k, counted from 1 as the displays count."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"check: the step k must be an int from 1 to {len(trace)} (or None for "
                        f"the whole pass), got {type(k).__name__}")
    if not 1 <= k <= len(trace):
        raise ValueError(f"check: step {k} does not exist; this trace has steps 1 to {len(trace)}")
    return trace.steps[int(k) - 1]


def _edges(trace: BackwardTrace, k: int | None, x: Tensor) -> tuple[Edge, ...]:
    if k is None:
        found = tuple(Edge(s, i, g) for s, i, g in trace.contributions(x))
        if not found and x is not trace.root:
            raise ValueError(f"check: {trace.label(x)} gets no gradient in this pass "
                             "(it is data, or not on a path to the root)")
        return found
    step = step_at(trace, k)
    found = tuple(Edge(step, i, g) for i, (t, g) in enumerate(zip(step.inputs, step.grad_inputs))
                  if t is x and g is not None)
    if not found:
        targets = [trace.label(t) for t, g in zip(step.inputs, step.grad_inputs) if g is not None]
        sends = ", ".join(dict.fromkeys(targets)) or "nothing"
        raise ValueError(f"check: step {k} ({step.op}) sends no gradient to {trace.label(x)}; "
                         f"it sends to {sends}")
    return found


# ---- the wrong answers ----

def averaging_counts(trace: BackwardTrace, x: Tensor) -> list[int]:
    """The n of every mean above x (cross-entropy and mean ops, mse_loss's mean included), n > 1."""
    counts = []
    for node in trace.tensors():
        if isinstance(node.op, (CrossEntropy, Mean)) and node.op.n > 1 and node is not x:
            if any(t is x for t in topo_order(node, only_grad=False)):
                counts.append(int(node.op.n))
    return list(dict.fromkeys(counts))


def _unsummed(edge: Edge, shape: tuple[int, ...]) -> list[np.ndarray]:
    """The contribution before broadcasting was undone: whole, and its first row."""
    axes = edge.step.summed_axes[edge.position]
    local = edge.step.local_grads[edge.position]
    if not axes or local is None:
        return []
    first = local
    for axis in sorted(axes, reverse=True):
        first = np.take(first, [0], axis=axis)
    return [np.asarray(local), first.reshape(shape)]


def not_one_hot(edge: Edge) -> list[np.ndarray]:
    """At cross-entropy with class indices y: (ŷ − y[:, None]) · g, without and with the /n."""
    op = edge.step.op_node
    if not isinstance(op, CrossEntropy) or edge.position != 0:
        return []
    probs, y = op.saved[0], op.class_indices()
    if y is None:
        return []
    g = float(np.asarray(edge.step.grad_output).reshape(-1)[0])
    wrong = (probs - y[:, None]) * g
    return [wrong, wrong / op.n]


def forgotten_transposes(edge: Edge) -> list[np.ndarray]:
    """At a 2-D matmul a · b: g · b for ∂L/∂a and a · g for ∂L/∂b (the rule without its
    transpose), where numpy can compute them and they have the contribution's shape."""
    op = edge.step.op_node
    if not isinstance(op, MatMul) or len(op.saved) != 2:
        return []
    a, b = op.saved
    g = np.asarray(edge.step.grad_output)
    if a.ndim != 2 or b.ndim != 2:
        return []
    try:
        wrong = g @ b if edge.position == 0 else a @ g
    except ValueError:  # inner dimensions differ: the learner's numpy raised too
        return []
    return [wrong] if wrong.shape == np.shape(edge.contribution) else []


def _swapped(a: np.ndarray) -> list[np.ndarray]:
    return [np.swapaxes(a, -1, -2)] if a.ndim >= 2 else []


def _replacing(expected: np.ndarray, edge: Edge, wrong: np.ndarray) -> np.ndarray | None:
    """The asked sum with one edge's contribution replaced by a wrong one (None: cannot add)."""
    try:
        return wrong + (expected - edge.contribution)
    except ValueError:
        return None


def variants(trace: BackwardTrace, x: Tensor, expected: np.ndarray,
             edges: Sequence[Edge]) -> tuple[Variant, ...]:
    """The known wrong answers, in the order they are tried; those equal to the right one are
    left out (they would be right)."""
    found = [Variant("sign", -expected)]
    found += [Variant("missing_1_over_n", n * expected, n) for n in averaging_counts(trace, x)]
    found += [Variant("transposed", v) for v in _swapped(expected)]
    for edge in edges:  # a matmul's rule with a transpose left out: g · b, a · g
        for wrong in forgotten_transposes(edge):
            value = _replacing(expected, edge, wrong)
            if value is not None:
                other = edge.step.inputs[1 - edge.position]
                found.append(Variant("transposed", value, operand=trace.label(other)))
    for key, wrongs in (("missing_sum_over_rows", _unsummed), ("not_one_hot", not_one_hot)):
        for edge in edges:
            wrong_args = (edge, x.shape) if wrongs is _unsummed else (edge,)
            for wrong in wrongs(*wrong_args):
                value = _replacing(expected, edge, wrong)
                if value is not None:
                    found.append(Variant(key, value))
    if len(edges) > 1:
        found += [Variant("one_path_only", np.asarray(e.contribution)) for e in edges]
    kept = []
    for v in found:
        value = np.asarray(v.value, dtype=np.float64)
        if not close(value, expected) and not any(close(value, k.value) and k.key == v.key
                                                  for k in kept):
            kept.append(replace(v, value=value))
    return tuple(kept)


# ---- the public questions ----

def question(trace: BackwardTrace, k: int | None, tensor: Tensor | str) -> Question:
    """What step k (from 1; None: the whole pass) sends to tensor, with the known wrong answers."""
    x = find_tensor(trace, tensor)
    edges = _edges(trace, k, x)
    if edges:
        expected = np.asarray(edges[0].contribution, dtype=np.float64).copy()
        for e in edges[1:]:
            expected += e.contribution
    else:  # the root, for k=None: the seed
        expected = np.asarray(trace.seed, dtype=np.float64)
    op = None if k is None else step_at(trace, k).op
    return Question(step=None if k is None else int(k), tensor=x, name=trace.label(x),
                    root=trace.root_label(), op=op, expected=expected, edges=edges,
                    variants=variants(trace, x, expected, edges))


def as_answer(answer: Any, expected: np.ndarray) -> np.ndarray:
    """The answer as a float array; a single number stands for a one-element gradient only."""
    answer = getattr(answer, "_data", answer)  # a Tensor: its array
    try:
        array = np.asarray(answer, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"check: the answer must be numbers (a number, a list of rows or an "
                         f"array), got {type(answer).__name__} {answer!r:.60}") from None
    if array.size == 1 and expected.size == 1:
        array = array.reshape(expected.shape)
    return array


def diagnose(q: Question, answer: Any) -> Verdict:
    """Right, or the first misconception the answer matches (KEYS' order), or shape / other."""
    array = as_answer(answer, q.expected)
    if close(array, q.expected):
        return Verdict(True, None, array, q.expected)
    for v in q.variants:
        if close(array, v.value):
            return Verdict(False, v.key, array, q.expected, v)
    key = "shape" if array.shape != q.expected.shape else "other"
    return Verdict(False, key, array, q.expected)
