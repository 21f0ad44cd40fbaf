"""One class per op: the forward, the backward (one gradient per input) and the chain rule as text.

An op is written like this (every op below is written the same way):

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

from .errors import InputError
from .graph import Node
from .reductions import row_max, row_sum

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
    if output.base is not None and (len(exposed) > 1 or exposed[0] is not output):
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
                    array.setflags(False)  # write=False, by position: a third of the keyword's cost
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


# ---- elementwise, broadcasting (the engine sums gradients back to each input's shape) ----

class Add(Op):
    broadcasts = True
    name, formula = "add", "{out} = {a} + {b}"
    rules = ("∂L/∂{a} = ∂L/∂{out}", "∂L/∂{b} = ∂L/∂{out}")

    def forward(self, a, b):
        return a + b

    def backward(self, g, needs):
        return g, g


class Sub(Op):
    broadcasts = True
    name, formula = "sub", "{out} = {a} − {b}"
    rules = ("∂L/∂{a} = ∂L/∂{out}", "∂L/∂{b} = −∂L/∂{out}")

    def forward(self, a, b):
        return a - b

    def backward(self, g, needs):
        return g, (-g if needs[1] else None)


class Mul(Op):
    broadcasts = True
    name, formula = "mul", "{out} = {a} ⊙ {b}"
    rules = ("∂L/∂{a} = ∂L/∂{out} ⊙ {b}", "∂L/∂{b} = ∂L/∂{out} ⊙ {a}")

    def forward(self, a, b):
        self.save(a, b)
        return a * b

    def backward(self, g, needs):
        a, b = self.saved
        return (g * b if needs[0] else None), (g * a if needs[1] else None)


class Div(Op):
    broadcasts = True
    name, formula = "div", "{out} = {a} / {b}"
    rules = ("∂L/∂{a} = ∂L/∂{out} / {b}", "∂L/∂{b} = −∂L/∂{out} ⊙ {a} / {b}²")

    def forward(self, a, b):
        self.save(a, b)
        return a / b

    def backward(self, g, needs):
        a, b = self.saved
        return (g / b if needs[0] else None), (-g * a / (b * b) if needs[1] else None)


class Neg(Op):
    name, formula = "neg", "{out} = −{a}"
    rules = ("∂L/∂{a} = −∂L/∂{out}",)

    def forward(self, a):
        return -a

    def backward(self, g, needs):
        return (-g,)


class Pow(Op):
    name, formula = "pow", "{out} = {a}^p"
    rules = ("∂L/∂{a} = ∂L/∂{out} ⊙ p·{a}^(p−1)",)

    def __init__(self, exponent: float):
        self.p = exponent

    def params(self):
        return f"p={self.p:g}"

    def rule_terms(self):
        return {"p": self.p}

    def forward(self, a):
        self.save(a)
        return a ** self.p

    def backward(self, g, needs):
        (a,) = self.saved
        if self.p == 0:  # a⁰ is constant; avoids 0 · 0⁻¹ = NaN at a = 0
            return (np.zeros_like(g),)
        return (g * self.p * a ** (self.p - 1),)


class Exp(Op):
    name, formula = "exp", "{out} = exp({a})"
    rules = ("∂L/∂{a} = ∂L/∂{out} ⊙ exp({a})",)

    def forward(self, a):
        out = np.exp(a)
        self.save(out)
        return out

    def rule_terms(self):
        return {"exp({a})": self.saved[0]}

    def backward(self, g, needs):
        (out,) = self.saved
        return (g * out,)


class Log(Op):
    name, formula = "log", "{out} = log({a})"
    rules = ("∂L/∂{a} = ∂L/∂{out} / {a}",)

    def forward(self, a):
        self.save(a)
        return np.log(a)

    def backward(self, g, needs):
        (a,) = self.saved
        return (g / a,)


class ReLU(Op):
    name, formula = "relu", "{out} = max({a}, 0)"
    rules = ("∂L/∂{a} = ∂L/∂{out} ⊙ [{a} > 0]",)

    def forward(self, a):
        self.save(a > 0)
        return np.where(self.saved[0], a, np.zeros((), dtype=a.dtype))

    def rule_terms(self):
        return {"[{a} > 0]": self.saved[0]}

    def backward(self, g, needs):
        (positive,) = self.saved
        return (g * positive,)


class Sigmoid(Op):
    """σ(a) = 1 / (1 + exp(−a)); backward reads the output it saved: σ′ = σ(1 − σ)."""
    name, formula = "sigmoid", "{out} = 1 / (1 + exp(−{a}))"
    rules = ("∂L/∂{a} = ∂L/∂{out} ⊙ {out} ⊙ (1 − {out})",)

    def forward(self, a):
        # exp of −|a| only: no overflow for large negative a (exp(1000) would be inf)
        e = np.exp(-np.abs(a))
        out = np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(a.dtype, copy=False)
        self.save(out)
        return out

    def backward(self, g, needs):
        (out,) = self.saved
        return (g * out * (1 - out),)


class Tanh(Op):
    """tanh(a); its derivative 1 − tanh², from the saved output."""
    name, formula = "tanh", "{out} = tanh({a})"
    rules = ("∂L/∂{a} = ∂L/∂{out} ⊙ (1 − {out}²)",)

    def forward(self, a):
        out = np.tanh(a)
        self.save(out)
        return out

    def backward(self, g, needs):
        (out,) = self.saved
        return (g * (1 - out * out),)


class Dropout(Op):
    """Inverted dropout (d2l §4.6): out = a ⊙ mask / (1 − p), mask of 0s and 1s an input of its
    own, so the trace and the diagram show which units were dropped; a dropped unit's gradient
    is 0, a kept one's is scaled by 1/(1 − p)."""
    name, formula = "dropout", "{out} = {a} ⊙ {mask} / (1 − p)"
    rules = ("∂L/∂{a} = ∂L/∂{out} ⊙ {mask} / (1 − p)", "∂L/∂{mask} = ∂L/∂{out} ⊙ {a} / (1 − p)")

    def __init__(self, p: float):
        if isinstance(p, bool) or not isinstance(p, (int, float, np.floating)) or not 0 <= p < 1:
            raise ValueError(f"dropout: p must be a number in [0, 1), got {p!r}")
        self.p = float(p)

    def params(self):
        return f"p={self.p:g}"

    def rule_terms(self):
        return {"p": self.p}

    def forward(self, a, mask):
        if mask.shape != a.shape:
            raise ValueError(f"the mask's shape {mask.shape} differs from the input's {a.shape}")
        scale = 1.0 / (1.0 - self.p)
        self.save(a, mask)
        return (a * mask * scale).astype(a.dtype, copy=False)

    def backward(self, g, needs):
        a, mask = self.saved
        scale = 1.0 / (1.0 - self.p)
        return ((g * mask * scale if needs[0] else None), (g * a * scale if needs[1] else None))


# ---- matmul ----

class MatMul(Op):
    name, formula = "matmul", "{out} = {a} · {b}"
    rules = ("∂L/∂{a} = ∂L/∂{out} · {b}ᵀ", "∂L/∂{b} = {a}ᵀ · ∂L/∂{out}")

    def forward(self, a, b):
        try:
            out = a @ b
        except ValueError:  # say which dimensions disagree, in the operands' own terms
            if a.ndim == 0 or b.ndim == 0:
                raise ValueError("matmul needs operands with at least one dimension, got a scalar") from None
            inner_a, inner_b = a.shape[-1], b.shape[0 if b.ndim == 1 else -2]
            raise ValueError(f"inner dimensions differ: {inner_a} (last of the left) vs {inner_b} "
                             f"({'only' if b.ndim == 1 else 'second-to-last'} of the right)") from None
        self.save(a, b)
        return out

    def backward(self, g, needs):
        a, b = self.saved
        if a.ndim == 2 and b.ndim == 2:
            return (g @ b.T if needs[0] else None), (a.T @ g if needs[1] else None)
        # 1-D operands act as a row (left) or a column (right), as in numpy; batch axes that
        # numpy broadcast are summed back by the engine
        a2, b2 = (a[None, :] if a.ndim == 1 else a), (b[:, None] if b.ndim == 1 else b)
        g2 = np.expand_dims(g, -1) if b.ndim == 1 else g
        g2 = np.expand_dims(g2, -2) if a.ndim == 1 else g2
        ga = g2 @ np.swapaxes(b2, -1, -2) if needs[0] else None
        gb = np.swapaxes(a2, -1, -2) @ g2 if needs[1] else None
        return (ga[..., 0, :] if ga is not None and a.ndim == 1 else ga,
                gb[..., 0] if gb is not None and b.ndim == 1 else gb)


# ---- reductions and shapes ----

def _expand(g: np.ndarray, shape: tuple[int, ...], axis: Any, keepdims: bool) -> np.ndarray:
    """Broadcast a reduced gradient back over the axes that were reduced."""
    if not keepdims:
        g = np.reshape(g, (1,) * len(shape)) if axis is None else np.expand_dims(g, axis)
    return np.broadcast_to(g, shape)


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


class _Reduction(Op):
    """Sum, mean and max share their settings: the axes reduced and whether they are kept."""

    def __init__(self, axis: Any = None, keepdims: bool = False):
        axis = tuple(axis) if isinstance(axis, list) else axis
        if not (axis is None or _is_int(axis)
                or (isinstance(axis, tuple) and all(_is_int(a) for a in axis))):
            raise TypeError(f"{self.name}: axis must be None, an int or a tuple of ints, got {axis!r}")
        self.axis, self.keepdims = axis, bool(keepdims)

    def params(self):
        return f"axis={self.axis}" + (", keepdims" if self.keepdims else "")


class Sum(_Reduction):
    name, formula = "sum", "{out} = Σ {a}"
    rules = ("∂L/∂{a} = expand(∂L/∂{out}, shape({a}))",)

    def forward(self, a):
        self.shape = a.shape
        return np.sum(a, axis=self.axis, keepdims=self.keepdims)

    def backward(self, g, needs):
        return (_expand(g, self.shape, self.axis, self.keepdims),)


class Mean(_Reduction):
    name, formula = "mean", "{out} = mean({a})"
    rules = ("∂L/∂{a} = expand(∂L/∂{out}, shape({a})) / n",)

    def forward(self, a):
        self.shape = a.shape
        out = np.mean(a, axis=self.axis, keepdims=self.keepdims)
        self.n = a.size // max(np.size(out), 1) if a.size else 1
        # float inputs keep their dtype; the mean of integers is a float (as in numpy)
        return np.asarray(out, dtype=a.dtype if a.dtype.kind == "f" else None)

    def rule_terms(self):
        return {"n": self.n}

    def backward(self, g, needs):
        return (_expand(g / self.n, self.shape, self.axis, self.keepdims),)


class Max(_Reduction):
    name, formula = "max", "{out} = max({a})"
    rules = ("∂L/∂{a} = expand(∂L/∂{out}, shape({a})) ⊙ [{a} = max] / #max",)

    def forward(self, a):
        top = a.max(axis=self.axis, keepdims=True)
        self.save(a, top)
        if self.keepdims:
            return top
        return top.reshape(()) if self.axis is None else np.squeeze(top, axis=self.axis)

    def backward(self, g, needs):
        a, top = self.saved
        winners = (a == top).astype(a.dtype)  # ties share the gradient equally
        winners /= winners.sum(axis=self.axis, keepdims=True)
        return (_expand(g, a.shape, self.axis, self.keepdims) * winners,)


class Reshape(Op):
    name, formula = "reshape", "{out} = reshape({a})"
    rules = ("∂L/∂{a} = reshape(∂L/∂{out}, shape({a}))",)

    def __init__(self, shape: tuple[int, ...]):
        self.shape = shape

    def params(self):
        return f"shape={self.shape}"

    def forward(self, a):
        self.in_shape = a.shape
        out = np.reshape(a, self.shape)
        out.setflags(write=False)  # a view must not be a way to write into its input
        return out

    def backward(self, g, needs):
        return (np.reshape(g, self.in_shape),)


class Transpose(Op):
    name, formula = "transpose", "{out} = {a}ᵀ"
    rules = ("∂L/∂{a} = (∂L/∂{out})ᵀ",)

    def __init__(self, axes: tuple[int, ...] | None = None):
        self.axes = axes

    def params(self):
        return "" if self.axes is None else f"axes={self.axes}"

    def forward(self, a):
        out = np.transpose(a, self.axes)
        out.setflags(write=False)  # a view must not be a way to write into its input
        # the inverse permutation (axes may be negative, so normalise them first)
        self.inverse = None if self.axes is None else np.argsort([ax % a.ndim for ax in self.axes])
        return out

    def backward(self, g, needs):
        return (np.transpose(g, self.inverse),)


# ---- softmax family: fused and stable (the max is subtracted; it is a constant for the gradient) ----

def log_softmax(o: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """(log ŷ, ŷ) along axis, stably: log ŷ = (o − max) − log Σ exp(o − max)."""
    rows = o.ndim == 2 and axis in (1, -1)  # a batch of score rows: reductions.py's fast path
    shifted = o - (row_max(o) if rows else o.max(axis=axis, keepdims=True))
    e = np.exp(shifted)
    total = row_sum(e) if rows else e.sum(axis=axis, keepdims=True)
    return shifted - np.log(total), e / total


class _AlongAxis(Op):
    """Softmax and log-softmax normalise along one axis."""

    def __init__(self, axis: int = -1):
        if not _is_int(axis):
            raise TypeError(f"{self.name}: axis must be an int, got {axis!r}")
        self.axis = axis

    def params(self):
        return f"axis={self.axis}"


class Softmax(_AlongAxis):
    name, formula = "softmax", "{out} = exp({a}) / Σ exp({a})"
    out_name = "ŷ"
    rules = ("∂L/∂{a} = {out} ⊙ (∂L/∂{out} − Σ ∂L/∂{out} ⊙ {out})",)

    def forward(self, a):
        y = log_softmax(a, self.axis)[1]
        self.save(y)
        return y

    def backward(self, g, needs):
        (y,) = self.saved
        return (y * (g - np.sum(g * y, axis=self.axis, keepdims=True)),)


class LogSoftmax(_AlongAxis):
    name, formula = "log_softmax", "{out} = {a} − log Σ exp({a})"
    out_name = "log ŷ"
    rules = ("∂L/∂{a} = ∂L/∂{out} − softmax({a}) ⊙ Σ ∂L/∂{out}",)

    def forward(self, a):
        log_y, y = log_softmax(a, self.axis)
        self.save(y)
        return log_y

    def rule_terms(self):
        return {"softmax({a})": self.saved[0]}

    def backward(self, g, needs):
        (y,) = self.saved
        return (g - y * np.sum(g, axis=self.axis, keepdims=True),)


def true_class_positions(y: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Where each row's true class sits in the flattened (n, C) scores; every index checked,
    negative ones included (numpy's plain indexing would wrap them around silently)."""
    try:
        return np.ravel_multi_index((np.arange(shape[0]), y), shape)
    except (ValueError, TypeError):  # TypeError: uint64, which has no safe cast to intp
        if y.min() >= 0 and y.max() < shape[1]:
            return np.ravel_multi_index((np.arange(shape[0]), y.astype(np.intp)), shape)
        raise InputError(f"class indices must lie in [0, {shape[1]}), "
                         f"got values from {y.min()} to {y.max()}") from None


class CrossEntropy(Op):
    """Mean over the batch of −Σ y log softmax(o); y is class indices or rows of probabilities."""
    name, formula = "cross_entropy", "{out} = −mean Σ {y} ⊙ log softmax({o})"
    rules = ("∂L/∂{o} = (softmax({o}) − {y}) / n · ∂L/∂{out}",
             "∂L/∂{y} = −log softmax({o}) / n · ∂L/∂{out}")
    # the first rule holds when each row of y sums to 1 (one-hot, probabilities); for other
    # targets the op shows, and computes, the general form
    any_target_rules = ("∂L/∂{o} = (softmax({o}) ⊙ Σ_row {y} − {y}) / n · ∂L/∂{out}", rules[1])
    out_name = "L"

    def forward(self, o, y):
        if o.ndim != 2:
            raise ValueError(f"logits must be 2-D (batch × classes), got shape {o.shape}")
        n, classes = o.shape
        if n == 0:
            raise ValueError("the batch is empty: a mean over no examples is undefined")
        log_probs, probs = log_softmax(o, -1)
        if y.dtype.kind in "iu":  # class indices: y stands for rows of the identity (one-hot)
            if y.shape != (n,):
                raise ValueError(f"class-index target must have shape ({n},), got {y.shape}")
            self.true = true_class_positions(y, (n, classes))  # what backward reads of y
            loss = -log_probs.reshape(-1)[self.true].sum()  # Σ y log ŷ: the true classes' terms
            self.save(probs, None, log_probs)
        elif y.shape != o.shape:
            # a float (n,) target is most likely class indices made with Tensor(list): say so
            hint = f"; class indices need an integer dtype, got {y.dtype}" if y.shape == (n,) else ""
            raise ValueError(f"probability target must have the logits' shape {o.shape}, "
                             f"got {y.shape}{hint}")
        else:
            loss = -np.sum(y * log_probs)
            if not np.allclose(y.sum(axis=1), 1):
                self.rules = self.any_target_rules
            self.true = None
            self.save(probs, y, log_probs)
        self.n = n
        return np.asarray(loss / n, dtype=o.dtype)

    def class_indices(self) -> np.ndarray | None:
        """Each row's true class, for class-index targets (None for rows of probabilities)."""
        return None if self.true is None else self.true % self.saved[0].shape[1]

    def one_hot_y(self) -> np.ndarray:
        """y as the formula means it: class indices become rows of the identity."""
        probs, y, _ = self.saved
        if self.true is None:
            return y
        one_hot = np.zeros_like(probs)
        one_hot.reshape(-1)[self.true] = 1
        return one_hot

    def rule_terms(self):
        probs, _, log_probs = self.saved
        return {"softmax({o})": probs, "log softmax({o})": log_probs, "n": self.n,
                "{y}": self.one_hot_y()}

    def backward(self, g, needs):
        probs, y, log_probs = self.saved
        scale = float(g) / self.n  # g is 0-d (the loss is); a Python float keeps the dtype
        go = gy = None
        if needs[0]:
            if self.true is not None:  # class indices
                go = np.multiply(probs, scale, order="C")  # C order: reshape(-1) is a view
                go.reshape(-1)[self.true] -= scale  # ŷ − y, y one-hot
            else:
                total = y.sum(axis=1, keepdims=True) if self.rules is self.any_target_rules else 1
                go = (probs * total - y) * scale
        if needs[1]:
            gy = log_probs * -scale
        return go, gy
