"""The record of one backward pass: a Step per op node, in the order backprop visited them.

Data only: the engine (autograd.backward) fills it in; the displays read it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterator

import numpy as np

if TYPE_CHECKING:
    from .ops import Op
    from .tensor import Tensor


@dataclass
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
    rules: tuple[str, ...]                          # chain-rule text per input, from the op

    @property
    def op(self) -> str:
        return self.op_node.name

    @property
    def rule(self) -> str:
        """The rules of the inputs that receive a gradient in this step."""
        return "; ".join(r for r, g in zip(self.rules, self.grad_inputs) if g is not None)

    def __repr__(self) -> str:
        return f"Step({self.index}, {self.op}: {self.rule})"


@dataclass
class BackwardTrace:
    """Every step of one backward pass, in the order backprop visited the op nodes."""
    root: Tensor
    seed: np.ndarray
    steps: list[Step] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.steps)

    def __repr__(self) -> str:
        return f"BackwardTrace({len(self.steps)} steps from {self.root.name or 'the root'})"

    def __iter__(self) -> Iterator[Step]:
        return iter(self.steps)

    def __getitem__(self, k: int) -> Step:
        return self.steps[k]

    def contributions(self, tensor: Tensor) -> list[tuple[Step, int, np.ndarray]]:
        """(step, input position, contribution) for every edge that passed a gradient to tensor."""
        return [(s, i, g) for s in self.steps for i, (x, g) in enumerate(zip(s.inputs, s.grad_inputs))
                if x is tensor and g is not None]

    def accumulated(self) -> list[tuple[Tensor, list[tuple[Step, int, np.ndarray]]]]:
        """Tensors whose gradient is a sum of several contributions, with the terms."""
        out, seen = [], set()
        for s in self.steps:
            for x in s.inputs:
                if id(x) not in seen:
                    seen.add(id(x))
                    terms = self.contributions(x)
                    if len(terms) > 1:
                        out.append((x, terms))
        return out

    def __str__(self) -> str:
        from .trace_table import format_trace  # a rich table; kept out of the engine's import
        return format_trace(self)

    def render_frames(self, directory: str, format: str = "svg") -> list[str]:
        from .viz import render_frames
        return render_frames(self, directory, format=format)

    def save_html(self, path: str) -> str:
        from .html import save_html
        return save_html(self, path)
