"""The record of one backward pass, and the questions every display asks of it.

The engine hands each step of a pass to a recorder as plain data (`autograd.StepRecord`);
`BackwardTrace` is that recorder. It keeps copies of the numbers (one `Step` per op node, in
the order backprop visited them) and answers: `labels()` (a stable display name per tensor),
`view(k)` (what step k teaches: the rule in the graph's own names, the numbers to plug in,
each contribution and whether it is one term of a sum) and `grad_at(tensor, k)` (what is known
of a gradient after step k). It holds data, never sentences: the displays word it (i18n) and
draw it (viz, page, terminal, notebook); tinygrad_sm/displays.py gives it its display methods.
"""
from __future__ import annotations

import re
import unicodedata
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterator, Sequence

import numpy as np

from .autograd import StepRecord, broadcast_axes
from .formatting import format_number
from .graph import topo_order

if TYPE_CHECKING:
    from .op import Op
    from .tensor import Tensor

ROOT = "L"  # what an unnamed root (a loss) is called: ∂L/∂W


# ---- names and rules, also for a graph that has no trace ----

def printable(name: str) -> str:
    """Control characters as escapes (a newline shows as \\n), so a name reads literally everywhere."""
    return "".join(repr(c)[1:-1] if unicodedata.category(c) == "Cc" else c for c in name)


def graph_labels(root: Tensor, order: list[Tensor] | None = None) -> dict[int, str]:
    """A display name for every tensor of root's graph, keyed by id().

    Named tensors show their name; an unnamed root is L (unless a tensor is named L). Unnamed
    scalar constants show their value (the 2 in x * 2); other unnamed tensors get t1, t2, ... in
    graph order, so the same graph gets the same labels.
    """
    order = order if order is not None else topo_order(root, only_grad=False)
    root_is_l = not root.name and not any(t.name == ROOT for t in order)
    labels, count = {}, 0
    for t in order:
        data = t._data  # read, never .data: a display changes nothing (.data may copy)
        if t.name:
            labels[id(t)] = printable(t.name)
        elif t is root and root_is_l:
            labels[id(t)] = ROOT
        elif t.op is None and not t.requires_grad and data.size == 1:
            labels[id(t)] = format_number(data.reshape(()).item())
        else:
            count += 1
            labels[id(t)] = f"t{count}"
    return labels


def fill(template: str, op: Op, names: Sequence[str], out: str, root: str = ROOT) -> str:
    """An op's template in the graph's names: {a} → the input's name, {out} → the output's,
    and ∂L → ∂root (∂J/∂W for a pass that starts from J)."""
    return template.replace("∂L/", "∂{_root}/").format(**dict(zip(op.inputs, names)), out=out,
                                                         _root=root)


def _sum_sign(axes: tuple[int, ...], ndim: int) -> str:
    if len(axes) == ndim:
        return "Σ_all"
    if ndim == 2 and len(axes) == 1:
        return "Σ_rows" if axes[0] == 0 else "Σ_columns"
    return f"Σ_axis {axes[0]}" if len(axes) == 1 else f"Σ_axes {', '.join(map(str, axes))}"


def with_sum(rule: str, axes: tuple[int, ...] | None, ndim: int) -> str:
    """`∂L/∂b = ∂L/∂o` becomes `∂L/∂b = Σ_rows ∂L/∂o` when broadcasting summed b's gradient."""
    if not axes:
        return rule
    lhs, rhs = rule.split(" = ", 1)
    return f"{lhs} = {_sum_sign(axes, ndim)} {rhs if ' ' not in rhs else f'({rhs})'}"


def static_summed_axes(node: Tensor, position: int) -> tuple[int, ...] | None:
    """The axes the engine will sum for input `position`, known from shapes alone."""
    x = node.inputs[position]
    if not node.op.broadcasts or x.shape == node.shape:
        return None
    return broadcast_axes(node.shape, x.shape) or None


def node_rules(node: Tensor, labels: dict[int, str], root: str = ROOT) -> tuple[str, ...]:
    """Each input edge's chain rule in the graph's names, with broadcasting's sum shown."""
    names = [labels[id(x)] for x in node.inputs]
    return tuple(with_sum(fill(rule, node.op, names, labels[id(node)], root),
                          static_summed_axes(node, i), node.ndim)
                 for i, rule in enumerate(node.op.rules))


def describe(node: Tensor, labels: dict[int, str]) -> str:
    """The op's forward formula in the graph's names, for an op node."""
    return fill(node.op.formula, node.op, [labels[id(x)] for x in node.inputs], labels[id(node)])


# ---- the record ----

def _own(a: Any) -> np.ndarray:
    """A copy of a; a broadcast array (stride 0, as a sum's gradient) as a copy of its distinct
    numbers broadcast again (read-only), not a full-size array: equal entry for entry."""
    a = np.asarray(a)
    spread = [s == 0 and n > 1 for s, n in zip(a.strides, a.shape)]
    if not any(spread):
        return np.array(a)
    core = a[tuple(slice(0, 1) if s else slice(None) for s in spread)]
    return np.broadcast_to(np.array(core), a.shape)


def _copy(a: Any, copies: dict[int, tuple[weakref.ref, np.ndarray]] | None = None) -> np.ndarray | None:
    """The trace's own copy of an engine array, made once per array in a pass: a step's
    contribution is often its local gradient and the next step's ∂L/∂output (copies: the
    trace's memo, keyed by id and checked by a weak reference, so a reused id is no match)."""
    if a is None:
        return None
    if copies is not None and id(a) in copies and copies[id(a)][0]() is a:
        return copies[id(a)][1]
    copy = _own(a)
    if copies is not None and isinstance(a, np.ndarray):
        copies[id(a)] = (weakref.ref(a), copy)
    return copy


@dataclass(eq=False)
class Step:
    """One op node's backward: ∂L/∂output comes in, one contribution per input goes out."""
    index: int
    op_node: Op
    output: Tensor
    grad_output: np.ndarray
    inputs: tuple[Tensor, ...]
    grad_inputs: tuple[np.ndarray | None, ...]     # contributions, in each input's shape
    local_grads: tuple[np.ndarray | None, ...]     # as the op returned them, before unbroadcast
    summed_axes: tuple[tuple[int, ...] | None, ...]  # axes unbroadcast summed, per input
    values: tuple[np.ndarray, ...] = ()            # the inputs' arrays as the forward used them
    output_value: np.ndarray | None = None
    trace: BackwardTrace | None = field(default=None, repr=False)

    @classmethod
    def of(cls, index: int, record: StepRecord, trace: BackwardTrace) -> Step:
        """A step from the engine's record, with its own copies of the numbers: .grad and the
        tensors change after the pass, the trace must not."""
        copies = getattr(trace, "_copies", None)
        own = lambda a: _copy(a, copies)  # noqa: E731
        return cls(index, record.op, record.output, own(record.grad_output), record.inputs,
                   tuple(map(own, record.contributions)), tuple(map(own, record.local_grads)),
                   record.summed_axes, tuple(x._data for x in record.inputs),
                   record.output._data, trace)

    @property
    def op(self) -> str:
        return self.op_node.name

    @property
    def rules(self) -> tuple[str, ...]:
        """Chain-rule text per input: the op's template, with the names the diagram shows."""
        labels = self.trace.labels() if self.trace is not None else {}
        names = [labels.get(id(x), x.name or "") for x in self.inputs]
        out = labels.get(id(self.output), self.output.name or "")
        root = self.trace.root_label() if self.trace is not None else ROOT
        return tuple(with_sum(fill(rule, self.op_node, names, out, root), axes, self.output.ndim)
                     for rule, axes in zip(self.op_node.rules, self.summed_axes))

    @property
    def rule(self) -> str:
        """The rules of the inputs that receive a gradient in this step."""
        return "; ".join(r for r, g in zip(self.rules, self.grad_inputs) if g is not None)

    def __repr__(self) -> str:
        return f"Step({self.index}, {self.op}: {self.rule})"


@dataclass(frozen=True)
class GradAt:
    """What is known of one tensor's gradient after a step: the sum of the terms so far."""
    value: np.ndarray | None   # None: no term has arrived yet
    terms_known: int
    terms: int                 # 0 for tensors that get no gradient (data)

    @property
    def complete(self) -> bool:
        return self.terms_known == self.terms and self.value is not None


@dataclass(frozen=True)
class EdgeView:
    """One input of a step: its rule, the numbers in it, and what it passes back."""
    position: int
    input: Tensor
    name: str
    grad: str                                  # the gradient's symbol: ∂L/∂W (∂J/∂W from J)
    rule: str                                  # in the graph's names, sum shown when summed
    operands: tuple[tuple[str, Any], ...]      # (symbol, value) of the rule's right-hand side
    contribution: np.ndarray | None            # None: the input needs no gradient (data)
    local_grad: np.ndarray | None
    summed_axes: tuple[int, ...] | None        # the axes of local_grad that were summed
    term: int                                  # this contribution is term `term` of `terms`
    terms: int
    after: GradAt                              # the input's gradient once this step has run


@dataclass(frozen=True)
class StepView:
    """Everything one step shows, in the graph's names: the same for every display."""
    index: int
    count: int
    op: str
    params: str
    formula: str
    output_name: str
    root_name: str                             # what the pass starts from: L, or J
    grad_output: np.ndarray
    edges: tuple[EdgeView, ...]


class BackwardTrace:
    """Every step of one backward pass, in the order backprop visited the op nodes.

    The engine's recorder: `begin()` when a pass starts, `record()` once per op node."""
    step_class: type[Step] = Step

    def __init__(self) -> None:
        self.root: Any = None
        self.seed: np.ndarray | None = None
        self.steps: list[Step] = []
        # .grad that tensors already held before this pass (copies): .grad accumulates
        self.earlier_grads: dict[int, np.ndarray] = {}
        self._labels: dict[int, str] | None = None
        self._order: list[Tensor] | None = None
        self._terms: dict[int, list[tuple[Step, int, np.ndarray]]] | None = None
        self._copies: dict[int, tuple[weakref.ref, np.ndarray]] = {}  # see _copy

    def begin(self, root: Tensor, seed: np.ndarray, order: list[Tensor]) -> None:
        self.root, self.seed = root, seed.copy()
        self._copies = {}
        self.earlier_grads = {id(t): t.grad.copy() for t in order if t.grad is not None}

    def record(self, record: StepRecord) -> None:
        self.steps.append(self.step_class.of(len(self.steps), record, self))
        self._terms = None

    def __len__(self) -> int:
        return len(self.steps)

    def __repr__(self) -> str:
        return f"BackwardTrace({len(self.steps)} steps from {self.root_label()})"

    def __iter__(self) -> Iterator[Step]:
        return iter(self.steps)

    def __getitem__(self, k: int) -> Step:
        """Step k as a Python index (trace[0] is what the displays call step 1)."""
        return self.steps[k]

    # ---- names ----
    def labels(self) -> dict[int, str]:
        """The display name of every tensor of the graph, keyed by id() (see graph_labels)."""
        if self._labels is None:
            self._labels = graph_labels(self.root, self.tensors())
        return self._labels

    def tensors(self) -> list[Tensor]:
        """Every tensor of the graph, data included, inputs before the ops that use them."""
        if self._order is None:
            self._order = topo_order(self.root, only_grad=False)
        return self._order

    def label(self, tensor: Tensor) -> str:
        return self.labels()[id(tensor)]

    def root_label(self) -> str:
        """The name of what this pass differentiates: the numerator of every ∂root/∂x."""
        return self.label(self.root) if self.root is not None else ROOT

    # ---- sums ----
    def _index(self) -> dict[int, list[tuple[Step, int, np.ndarray]]]:
        if self._terms is None:
            self._terms = {}
            for s in self.steps:
                for i, (x, g) in enumerate(zip(s.inputs, s.grad_inputs)):
                    if g is not None:
                        self._terms.setdefault(id(x), []).append((s, i, g))
        return self._terms

    def contributions(self, tensor: Tensor) -> list[tuple[Step, int, np.ndarray]]:
        """(step, input position, contribution) for every edge that passed a gradient to tensor
        in this pass. They sum to tensor.grad unless .grad held gradients before the pass
        (see earlier_grads): .grad accumulates over passes."""
        return list(self._index().get(id(tensor), []))

    def accumulated(self) -> list[tuple[Tensor, list[tuple[Step, int, np.ndarray]]]]:
        """Tensors whose gradient is a sum of several contributions, with the terms."""
        out, seen = [], set()
        index = self._index()
        for s in self.steps:
            for x in s.inputs:
                terms = index.get(id(x), [])
                if id(x) not in seen and len(terms) > 1:
                    seen.add(id(x))
                    out.append((x, list(terms)))
        return out

    def grad_at(self, tensor: Tensor, k: int | None = None) -> GradAt:
        """What backprop knows of tensor's gradient (this pass) once step k has run (k=None: all)."""
        if tensor is self.root:
            return GradAt(self.seed, 1, 1)
        terms = self._index().get(id(tensor), [])
        done = [g for s, _, g in terms if k is None or s.index <= k]
        value = None
        if done:
            value = done[0].copy() if len(done) > 1 else done[0]
            for g in done[1:]:
                value += g
        return GradAt(value, len(done), len(terms))

    # ---- the view of one step ----
    def view(self, k: int) -> StepView:
        """What step k shows, in the graph's names (negative k counts from the end)."""
        if not -len(self) <= k < len(self):
            raise IndexError(f"view: step {k} out of range for a trace of {len(self)} steps")
        step = self.steps[k % len(self)]
        labels, root = self.labels(), self.root_label()
        names = [labels[id(x)] for x in step.inputs]
        out = labels[id(step.output)]
        index = self._index()
        edges = []
        for i, x in enumerate(step.inputs):
            terms = index.get(id(x), [])
            term = next((n + 1 for n, (s, j, _) in enumerate(terms) if s is step and j == i), 0)
            edges.append(EdgeView(
                position=i, input=x, name=names[i], grad=f"∂{root}/∂{names[i]}", rule=step.rules[i],
                operands=self._operands(step, i, names, out), contribution=step.grad_inputs[i],
                local_grad=step.local_grads[i], summed_axes=step.summed_axes[i], term=term,
                terms=len(terms), after=self.grad_at(x, step.index)))
        return StepView(index=step.index, count=len(self), op=step.op, params=step.op_node.params(),
                        formula=describe(step.output, labels), output_name=out,
                        root_name=root, grad_output=step.grad_output, edges=tuple(edges))

    def _operands(self, step: Step, i: int, names: list[str], out: str) -> tuple[tuple[str, Any], ...]:
        """The symbols of input i's rule (right-hand side) with their values: the numbers to plug in."""
        op = step.op_node
        template = op.rules[i].split(" = ", 1)[-1]
        values: dict[str, Any] = {"∂L/∂{out}": step.grad_output, "{out}": step.output_value}
        for slot, value in zip(op.inputs, step.values):  # the forward's arrays, not today's .data
            values["{" + slot + "}"] = value
            values["{" + slot + "}ᵀ"] = np.swapaxes(value, -1, -2) if np.ndim(value) >= 2 else value
        values.update(op.rule_terms())  # the op's own symbols (n, softmax({a}), one-hot {y}...)
        found: list[tuple[int, str, Any]] = []
        for symbol in sorted(values, key=len, reverse=True):  # longest first: exp({a}) before {a}
            match = re.search(rf"(?<!\w){re.escape(symbol)}(?!\w)", template)
            if match:
                found.append((match.start(), symbol, values[symbol]))
                template = template.replace(symbol, " " * len(symbol))  # not matched again
        root, shown = self.root_label(), {}
        for _, symbol, value in sorted(found, key=lambda f: f[0]):
            shown.setdefault(fill(symbol, op, names, out, root), value)  # x ⊙ x: x once
        return tuple(shown.items())
