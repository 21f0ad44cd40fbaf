"""The record of one backward pass, and the questions every display asks of it.

Data: one `Step` per op node, in the order backprop visited them (`autograd.backward` fills them
in, with copies of the numbers). Queries: `labels()` (a stable display name per tensor),
`view(k)` (what step k teaches: the rule in the graph's own names, the numbers, each
contribution and whether it is one term of a sum) and `grad_at(tensor, k)` (what is known of a
gradient after step k). The diagram, the page, the terminal and the notebook only format these.

No display is imported here: `print(trace)`, `trace.save_html()` and the other conveniences call
the function that the package registers in `DISPLAYS` (see `tinygrad_sm/__init__.py`).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterator

import numpy as np

from .formatting import format_number, shape_text
from .graph import topo_order

if TYPE_CHECKING:
    from .ops import Op
    from .tensor import Tensor

# name -> function(trace, *args, **kwargs); filled by the package with the renderers
DISPLAYS: dict[str, Callable[..., Any]] = {}


def _display(name: str) -> Callable[..., Any]:
    try:
        return DISPLAYS[name]
    except KeyError:
        raise RuntimeError(f"no {name!r} display is registered (import tinygrad_sm)") from None


# ---- names and rules, also for a graph that has no trace ----

def printable(name: str) -> str:
    """Control characters as escapes (a newline shows as \\n), so a name reads literally everywhere."""
    return "".join(repr(c)[1:-1] if unicodedata.category(c) == "Cc" else c for c in name)


def graph_labels(root: Tensor, order: list[Tensor] | None = None) -> dict[int, str]:
    """A display name for every tensor of root's graph, keyed by id().

    Named tensors show their name. Unnamed scalar constants show their value (the 2 in x * 2);
    other unnamed tensors get t1, t2, ... in graph order, so the same graph gets the same labels.
    """
    labels, count = {}, 0
    for t in order if order is not None else topo_order(root, only_grad=False):
        if t.name:
            labels[id(t)] = printable(t.name)
        elif t.op is None and not t.requires_grad and t.data.size == 1:
            labels[id(t)] = format_number(t.data.reshape(()).item())
        else:
            count += 1
            labels[id(t)] = f"t{count}"
    return labels


def broadcast_axes(grad_shape: tuple[int, ...], shape: tuple[int, ...]) -> tuple[int, ...]:
    """The axes of a gradient of grad_shape that are summed to give an input of shape."""
    lead = len(grad_shape) - len(shape)
    return tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape)
                                      if n == 1 and grad_shape[lead + i] != 1)


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


def node_rules(node: Tensor, labels: dict[int, str]) -> tuple[str, ...]:
    """Each input edge's chain rule in the graph's names, with broadcasting's sum shown."""
    names = [labels[id(x)] for x in node.inputs]
    out = labels[id(node)]
    return tuple(with_sum(node.op.rule(i, names, out), static_summed_axes(node, i), node.ndim)
                 for i in range(len(names)))


# ---- the record ----

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

    @property
    def op(self) -> str:
        return self.op_node.name

    @property
    def rules(self) -> tuple[str, ...]:
        """Chain-rule text per input: the op's template, with the names the diagram shows."""
        labels = self.trace.labels() if self.trace is not None else {}
        names = [labels.get(id(x), x.name) for x in self.inputs]
        out = labels.get(id(self.output), self.output.name)
        return tuple(with_sum(self.op_node.rule(i, names, out), self.summed_axes[i], self.output.ndim)
                     for i in range(len(self.inputs)))

    @property
    def rule(self) -> str:
        """The rules of the inputs that receive a gradient in this step."""
        return "; ".join(r for r, g in zip(self.rules, self.grad_inputs) if g is not None)

    def __repr__(self) -> str:
        return f"Step({self.index}, {self.op}: {self.rule})"

    def _repr_html_(self) -> str:
        return _display("step_html")(self)

    def _repr_markdown_(self) -> str:
        return _display("step_markdown")(self)


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
    rule: str                                  # in the graph's names, sum shown when summed
    operands: tuple[tuple[str, Any], ...]      # (symbol, value) of the rule's right-hand side
    contribution: np.ndarray | None            # None: the input needs no gradient (data)
    local_grad: np.ndarray | None
    summed_axes: tuple[int, ...] | None        # the axes of local_grad that were summed
    summed_note: str | None                    # why the contribution is smaller than local_grad
    term: int                                  # this contribution is term `term` of `terms`
    terms: int
    after: GradAt                              # the input's gradient once this step has run

    @property
    def title(self) -> str:
        """`∂L/∂W` when this is the whole gradient, `contribution 1 of 2 to ∂L/∂o` otherwise."""
        grad = f"∂L/∂{self.name}"
        return grad if self.terms <= 1 else f"contribution {self.term} of {self.terms} to {grad}"


@dataclass(frozen=True)
class StepView:
    """Everything one step shows, in the graph's names: the same for every display."""
    index: int
    count: int
    op: str
    params: str
    formula: str
    output_name: str
    grad_output: np.ndarray
    edges: tuple[EdgeView, ...]

    @property
    def header(self) -> str:
        return f"step {self.index} of {self.count}: {self.op}"


# symbols a rule's right-hand side may use, besides the op's own terms (op.rule_terms())
_SYMBOL = re.compile(r"∂L/∂\{out\}|\{[ab]\}ᵀ|\{[ab]\}|\{out\}")


class BackwardTrace:
    """Every step of one backward pass, in the order backprop visited the op nodes."""

    def __init__(self, root: Tensor, seed: np.ndarray, earlier: dict[int, np.ndarray] | None = None):
        self.root = root
        self.seed = seed
        self.steps: list[Step] = []
        # .grad that tensors already held before this pass (copies): .grad accumulates
        self.earlier_grads: dict[int, np.ndarray] = earlier or {}
        self._labels: dict[int, str] | None = None
        self._order: list[Tensor] | None = None
        self._terms: dict[int, list[tuple[Step, int, np.ndarray]]] | None = None

    def add(self, step: Step) -> None:
        step.trace = self
        self.steps.append(step)
        self._terms = None

    def __len__(self) -> int:
        return len(self.steps)

    def __repr__(self) -> str:
        return f"BackwardTrace({len(self.steps)} steps from {self.root.name or 'the root'})"

    def __iter__(self) -> Iterator[Step]:
        return iter(self.steps)

    def __getitem__(self, k: int) -> Step:
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
        labels = self.labels()
        names = [labels[id(x)] for x in step.inputs]
        out = labels[id(step.output)]
        index = self._index()
        edges = []
        for i, x in enumerate(step.inputs):
            terms = index.get(id(x), [])
            term = next((n + 1 for n, (s, j, _) in enumerate(terms) if s is step and j == i), 0)
            edges.append(EdgeView(
                position=i, input=x, name=names[i], rule=step.rules[i],
                operands=self._operands(step, i, names, out),
                contribution=step.grad_inputs[i], local_grad=step.local_grads[i],
                summed_axes=step.summed_axes[i], summed_note=summed_note(step, i), term=term, terms=len(terms),
                after=self.grad_at(x, step.index)))
        return StepView(index=step.index, count=len(self), op=step.op, params=step.op_node.params(),
                        formula=step.op_node.describe(names, out), output_name=out,
                        grad_output=step.grad_output, edges=tuple(edges))

    def _operands(self, step: Step, i: int, names: list[str], out: str) -> tuple[tuple[str, Any], ...]:
        """The symbols of input i's rule (right-hand side) with their values: the numbers to plug in."""
        template = step.op_node.rules[i].split(" = ", 1)[-1]
        # the forward's arrays, not the tensors' current .data (an optimizer may have moved W since)
        used = step.values or tuple(x.data for x in step.inputs)
        data = {"a": used[0], "b": used[1] if len(used) > 1 else None}
        out_value = step.output_value if step.output_value is not None else step.output.data
        values = {"∂L/∂{out}": step.grad_output, "{out}": out_value}
        for slot, value in data.items():
            if value is not None:
                values[f"{{{slot}}}"] = value
                values[f"{{{slot}}}ᵀ"] = np.swapaxes(value, -1, -2) if np.ndim(value) >= 2 else value
        found: list[tuple[int, str, Any]] = []
        extra = step.op_node.rule_terms()
        for symbol, value in sorted(extra.items(), key=lambda item: -len(item[0])):  # longest first
            match = re.search(rf"(?<!\w){re.escape(symbol)}(?!\w)", template)
            if match:
                found.append((match.start(), symbol, value))
                template = template.replace(symbol, " " * len(symbol))  # not matched again below
        found += [(m.start(), m.group(0), values[m.group(0)]) for m in _SYMBOL.finditer(template)
                  if m.group(0) in values]
        fill = step.op_node._names(names, out)
        seen, result = set(), []
        for _, symbol, value in sorted(found, key=lambda f: f[0]):
            text = symbol.format(**fill)
            if text not in seen:
                seen.add(text)
                result.append((text, value))
        return tuple(result)

    # ---- displays (registered by the package; none is imported here) ----
    def __str__(self) -> str:
        return _display("text")(self)

    def _repr_html_(self) -> str:
        """The inline stepper, for Jupyter, VS Code and Colab (a cell ending in `trace`)."""
        return _display("trace_html")(self)

    def _repr_markdown_(self) -> str:
        return _display("trace_markdown")(self)

    def save_html(self, path: str, **options: Any) -> str:
        """One self-contained page that steps through this pass (←/→, slider, #step=k)."""
        return _display("save_html")(self, path, **options)

    def render_frames(self, directory: str, format: str = "svg") -> list[str]:
        """One image per step: directory/frame_000.svg, ..."""
        return _display("render_frames")(self, directory, format=format)

    def walk(self, **options: Any) -> int:
        """Step through this pass in the terminal, one step per key (q quits)."""
        return _display("walk")(self, **options)


def summed_note(step: Step, i: int) -> str | None:
    """Why input i's contribution has a smaller shape than the local gradient, if it does."""
    axes = step.summed_axes[i]
    local = step.local_grads[i]
    if not axes or local is None:
        return None
    word = "axis" if len(axes) == 1 else "axes"
    return (f"broadcast undone: summed {shape_text(local.shape)} over {word} "
            f"{', '.join(map(str, axes))} to {shape_text(step.inputs[i].shape)}")
