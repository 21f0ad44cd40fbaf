"""What an op is: the `Op` class every op subclasses, and the protection saving gives.

An op is written like this (every op in ops.py and softmax_ops.py is written the same way):

    class Exp(Op):
        name, formula = "exp", "{out} = exp({a})"
        rules = ("∂L/∂{a} = ∂L/∂{out} ⊙ exp({a})",)   # one per input of forward, named as there

        def forward(self, a):
            out = np.exp(a)
            self.save(out)         # what backward reads; saving it keeps it from changing
            return out

        def backward(self, g, needs):    # g = ∂L/∂out; needs[i]: does input i want a gradient?
            (out,) = self.saved
            return (g * out,)            # ∂L/∂a, one per input (None where not needed)

backward never writes `.grad` and never undoes broadcasting: the backward loop in autograd.py
does both, so every contribution passes through one place that can trace it. In a rule, `{a}`
names forward's parameter `a` (the diagram shows the tensor's name there), `{out}` the output,
and `∂L` stands for whatever the backward pass starts from (∂J when it starts from J).
"""
from __future__ import annotations

import inspect
import string
import threading
from typing import Any, Sequence

import numpy as np

from .graph import Node

Grads = tuple["np.ndarray | None", ...]


def _fields(template: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}


class Op:
    """An op: subclass it to write your own, then call `MyOp.apply(x, y, setting=...)`.

    Give `name`, `formula`, one rule per parameter of `forward(self, ...)` (numpy arrays in, an
    array out; `self.save(...)` what backward reads) and `backward(g, needs)`. Settings go to
    `__init__`. Optional: `out_name`, `params()` and `rule_terms()` for the displays, and
    `broadcasts = True` for an elementwise op whose inputs numpy may broadcast.
    """
    name: str = "op"
    formula: str = ""                 # the forward, as shown in an op node
    rules: tuple[str, ...] = ()       # one chain-rule template per input
    out_name: str | None = None       # the name an output gets unless it is given one
    broadcasts: bool = False          # elementwise: gradients come back in the output's shape
    inputs: tuple[str, ...] = ()      # forward's parameter names (set when the class is defined)
    saved: tuple[Any, ...] = ()
    _frozen: list[np.ndarray] = []    # what freeze() made read-only for this op

    def __init_subclass__(cls, **kwargs: Any):
        """Check the templates when the op is defined, not when a trace is first printed."""
        super().__init_subclass__(**kwargs)
        if cls.forward is Op.forward:  # a base for other ops (it has no forward of its own)
            return
        params = list(inspect.signature(cls.forward).parameters.values())[1:]
        if any(p.kind not in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params):
            raise TypeError(f"{cls.__name__}: forward must name each input (no *args or keywords), "
                            "so that the rules can name them")
        cls.inputs = tuple(p.name for p in params)
        if len(cls.rules) != len(cls.inputs):
            raise TypeError(f"{cls.__name__}: {len(cls.rules)} rule(s) for {len(cls.inputs)} "
                            f"input(s) of forward ({', '.join(cls.inputs)}); give one rule per input")
        known = {*cls.inputs, "out"}
        for template in (cls.formula, *cls.rules):
            unknown = _fields(template) - known
            if unknown:
                raise TypeError(f"{cls.__name__}: the template {template!r} names "
                                f"{', '.join('{' + u + '}' for u in sorted(unknown))}, but the inputs "
                                f"are {', '.join('{' + i + '}' for i in cls.inputs)} (and {{out}})")

    @classmethod
    def apply(cls, *inputs: Any, **settings: Any) -> Any:
        """Run the op on tensors (numbers and arrays become constants) and add it to the graph:
        `Sigmoid.apply(x)`, `MyOp.apply(x, y, p=2)` (PyTorch's `Function.apply` convention)."""
        if len(inputs) != len(cls.inputs):
            raise TypeError(f"{cls.name}.apply: got {len(inputs)} input(s), but forward takes "
                            f"{len(cls.inputs)} ({', '.join(cls.inputs)})")
        tensor = next((x for x in inputs if isinstance(x, Node)), None)  # Tensor is a Node
        if tensor is None:
            kinds = ", ".join(type(x).__name__ for x in inputs) or "nothing"
            raise TypeError(f"{cls.name}.apply: needs at least one Tensor among its inputs, got {kinds}")
        return tensor._apply(cls(**settings), *(tensor._other(x, cls.name) for x in inputs))

    def save(self, *arrays: Any) -> None:
        """Keep what backward will read. When the op joins a graph, the engine makes what it
        saved read-only while the op lives, so no in-place edit of an input or output can change
        a gradient; once the graph is gone, the arrays are writable again."""
        self.saved = arrays

    def __del__(self) -> None:
        if self._frozen and thaw is not None:  # (None: the interpreter is shutting down)
            thaw(self)

    def forward(self, *xs: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, g: np.ndarray, needs: Sequence[bool]) -> Grads:
        raise NotImplementedError

    def params(self) -> str:
        """Extra settings shown next to the op's name (axis, exponent...)."""
        return ""

    def rule_terms(self) -> dict[str, Any]:
        """Values of symbols a rule uses besides the inputs, the output and ∂L/∂out (for
        example n or softmax({a})), so a display can plug the numbers in."""
        return {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.params()})"


# ---- what an op saved stays as it was while its graph lives ----

_holders: dict[int, int] = {}  # id of an array freeze() made read-only -> live ops that saved it
_holders_lock = threading.Lock()  # graphs built in several threads share parameters


def freeze(op: Op, output: np.ndarray, inputs: list[np.ndarray]) -> None:
    """Make what op saved read-only, with every array it is a view of (so no view can write it),
    until op is freed with its graph: the engine calls this when op joins a graph. An array the
    op made itself and gave no one needs nothing: nothing else can write it. An array that was
    read-only before stays as it is."""
    exposed = []
    for array in op.saved:
        if isinstance(array, np.ndarray) and _reachable(array, output, inputs):
            exposed.append(array)
    if not exposed:
        return
    if output.base is not None and any(a is not output for a in exposed):
        exposed.append(output)  # a view of what was saved would write into it
    frozen = []
    with _holders_lock:
        for array in exposed:
            while isinstance(array, np.ndarray):  # the array, then what it views
                key = id(array)
                if key in _holders:
                    _holders[key] += 1
                    frozen.append(array)
                elif array.flags.writeable:
                    array.setflags(False)  # write=False by position: 2.2–2.5× faster (bench_tricks.py)
                    _holders[key] = 1
                    frozen.append(array)
                array = array.base
    op._frozen = frozen


def _reachable(a: np.ndarray, output: np.ndarray, inputs: list[np.ndarray]) -> bool:
    """Can code outside the op write into a: is it a view, an input, the output or what it views?"""
    if a.base is not None or a is output:
        return True
    for x in inputs:
        if a is x:
            return True
    viewed = output.base
    while isinstance(viewed, np.ndarray):
        if a is viewed:
            return True
        viewed = viewed.base
    return False


def thaw(op: Op) -> None:
    """Op and its graph are gone: what only it kept read-only is writable again."""
    with _holders_lock:
        for array in reversed(op._frozen):  # bases first: a view is writable only over a writable base
            left = _holders.pop(id(array), 1) - 1
            if left:
                _holders[id(array)] = left
            elif array.base is None or array.base.flags.writeable:
                array.setflags(True)  # (a view of a base another graph still holds stays read-only)
    op._frozen = []


def is_int(value: Any) -> bool:
    """An int setting (axis), numpy's ints included; a bool is not one."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)
