"""One class per op: forward, backward (one gradient per input) and the chain-rule text per input.

An op instance is created for each application and keeps what its backward needs (its context).
backward never writes `.grad` and never undoes broadcasting: the engine in autograd.py does both,
so every contribution passes through one place that can trace it.

Rule texts are templates: `{a}`, `{b}` stand for the inputs' names and `{out}` for the output's.
`Op.rule(i, ...)` fills them in; the trace and the diagrams both call it, so there is one source.
"""
from __future__ import annotations

import functools
from typing import Any, Sequence

import numpy as np

from .errors import InputError
from .reductions import row_max, row_sum

Grads = tuple["np.ndarray | None", ...]


class Op:
    """An op: subclass it to write your own (tinygrad_sm.Op), then call `MyOp.apply(*tensors)`.

    Give `name`, `formula`, one `rules` template per input, `forward(*arrays)` returning the
    output array (keep on `self` what backward needs) and `backward(g, needs)` returning a tuple
    with one gradient per input: ∂L/∂input given g = ∂L/∂output (None where needs[i] is False).
    Settings go to `__init__` and arrive as `MyOp.apply(x, axis=0)`. The engine does the rest:
    chaining, summing, undoing broadcasting, tracing, drawing. Optional: `out_name`, `params()`
    and `rule_terms()` for the displays, `broadcasts = True` for an elementwise op that broadcasts.
    """
    name: str = "op"
    formula: str = ""                 # the forward, as shown in an op node
    rules: tuple[str, ...] = ()       # one chain-rule template per input
    letters: tuple[str, ...] = ("a", "b")  # names of unnamed inputs in the templates
    out_name: str | None = None       # the name an output gets unless it is given one
    broadcasts: bool = False          # elementwise: gradients come back in the output's shape

    @classmethod
    def apply(cls, *inputs, **params):
        """Run the op on tensors (numbers and arrays become constants) and record it in the graph.

        The PyTorch `Function.apply` convention: `Sigmoid.apply(x)`, `MyOp.apply(x, y, p=2)`.
        """
        if len(cls.rules) != len(inputs):
            raise TypeError(f"{cls.name}.apply: got {len(inputs)} input(s), but the op has "
                            f"{len(cls.rules)} rule(s); give one rule per input")
        # ops.py cannot import tensor.py (tensor.py imports ops): reach Tensor through an input
        tensor = next((x for x in inputs if hasattr(x, "_apply")), None)
        if tensor is None:
            kinds = ", ".join(type(x).__name__ for x in inputs) or "nothing"
            raise TypeError(f"{cls.name}.apply: needs at least one Tensor among its inputs, got {kinds}")
        op = cls(**params)
        return type(tensor)._apply(op, *(tensor._other(x, cls.name) for x in inputs))

    def forward(self, *xs: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, g: np.ndarray, needs: Sequence[bool]) -> Grads:
        raise NotImplementedError

    def keeps(self, needs: Sequence[bool]) -> tuple[int, ...]:
        """Which arrays backward will read, given which inputs need a gradient: input
        positions, and -1 for the output. The engine makes them read-only until then."""
        return ()

    def params(self) -> str:
        """Extra settings shown next to the op's name (axis, exponent...)."""
        return ""

    def rule_terms(self) -> dict[str, Any]:
        """Values of the symbols a rule uses besides the inputs, the output and ∂L/∂out
        (for example n or softmax({a})), so a display can plug the numbers in."""
        return {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.params()})"

    def _names(self, inputs: Sequence[str | None], out: str | None) -> dict[str, str]:
        # templates say {a}, {b} for the inputs in order; unnamed ones show the op's letters
        given = list(inputs) + [None] * (len(self.letters) - len(inputs))
        names = {slot: name or letter for slot, name, letter in zip("ab", given, self.letters)}
        names["out"] = out or "out"
        return names

    def rule(self, i: int, inputs: Sequence[str | None] = (), out: str | None = None) -> str:
        """The chain-rule text for input i, with the tensors' names filled in."""
        return self.rules[i].format(**self._names(inputs, out))

    def describe(self, inputs: Sequence[str | None] = (), out: str | None = None) -> str:
        """The forward formula with names filled in, for an op node."""
        return self.formula.format(**self._names(inputs, out))


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
        self.a, self.b = a, b
        return a * b

    def backward(self, g, needs):
        return (g * self.b if needs[0] else None), (g * self.a if needs[1] else None)

    def keeps(self, needs):
        return (1, 0) if needs[0] and needs[1] else (1,) if needs[0] else (0,)


class Div(Op):
    broadcasts = True
    name, formula = "div", "{out} = {a} / {b}"
    rules = ("∂L/∂{a} = ∂L/∂{out} / {b}", "∂L/∂{b} = −∂L/∂{out} ⊙ {a} / {b}²")

    def forward(self, a, b):
        self.a, self.b = a, b
        return a / b

    def backward(self, g, needs):
        ga = g / self.b if needs[0] else None
        gb = -g * self.a / (self.b * self.b) if needs[1] else None
        return ga, gb

    def keeps(self, needs):
        return (0, 1) if needs[1] else (1,)


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
        self.a = a
        return a ** self.p

    def keeps(self, needs):
        return (0,)

    def backward(self, g, needs):
        if self.p == 0:  # a⁰ is constant; avoids 0 · 0⁻¹ = NaN at a = 0
            return (np.zeros_like(g),)
        return (g * self.p * self.a ** (self.p - 1),)


class Exp(Op):
    name, formula = "exp", "{out} = exp({a})"
    rules = ("∂L/∂{a} = ∂L/∂{out} ⊙ exp({a})",)

    def forward(self, a):
        self.out = np.exp(a)
        return self.out

    def rule_terms(self):
        return {"exp({a})": self.out}

    def backward(self, g, needs):
        return (g * self.out,)

    def keeps(self, needs):
        return (-1,)


class Log(Op):
    name, formula = "log", "{out} = log({a})"
    rules = ("∂L/∂{a} = ∂L/∂{out} / {a}",)

    def forward(self, a):
        self.a = a
        return np.log(a)

    def keeps(self, needs):
        return (0,)

    def backward(self, g, needs):
        return (g / self.a,)


class ReLU(Op):
    name, formula = "relu", "{out} = max({a}, 0)"
    rules = ("∂L/∂{a} = ∂L/∂{out} ⊙ [{a} > 0]",)

    def forward(self, a):
        self.mask = a > 0
        return np.where(self.mask, a, np.zeros((), dtype=a.dtype))

    def rule_terms(self):
        return {"[{a} > 0]": self.mask}

    def backward(self, g, needs):
        return (g * self.mask,)


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
            inner_a, inner_b = a.shape[-1], (b.shape[0] if b.ndim == 1 else b.shape[-2])
            if inner_a != inner_b:
                raise ValueError(f"inner dimensions differ: {inner_a} (last of the left) vs "
                                 f"{inner_b} ({'only' if b.ndim == 1 else 'second-to-last'} of the right)") from None
            raise
        self.a, self.b = a, b
        return out

    def backward(self, g, needs):
        a, b = self.a, self.b
        if a.ndim == 2 and b.ndim == 2:  # the common case, without the general bookkeeping
            return (g @ b.T if needs[0] else None), (a.T @ g if needs[1] else None)
        # treat 1-D operands as a row (left) or a column (right), as numpy does
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        if b.ndim == 1:  # first: for 1-D · 1-D, g is a scalar and becomes (1,) then (1, 1)
            g = np.expand_dims(g, -1)
        if a.ndim == 1:
            g = np.expand_dims(g, -2)
        ga = gb = None
        if needs[0]:
            ga = g @ np.swapaxes(b2, -1, -2)
            if a.ndim == 1:
                ga = ga[..., 0, :]
        if needs[1]:
            gb = np.swapaxes(a2, -1, -2) @ g
            if b.ndim == 1:
                gb = gb[..., 0]
        return ga, gb  # batch dimensions that were broadcast are summed by the engine

    def keeps(self, needs):
        return (1, 0) if needs[0] and needs[1] else (1,) if needs[0] else (0,)


# ---- reductions and shapes ----

def _expand(g: np.ndarray, shape: tuple[int, ...], axis, keepdims: bool) -> np.ndarray:
    """Broadcast a reduced gradient back over the axes that were reduced."""
    if axis is not None and not keepdims:
        g = np.expand_dims(g, axis)
    elif axis is None and not keepdims:
        g = np.reshape(g, (1,) * len(shape))
    return np.broadcast_to(g, shape)


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


class _Reduction(Op):
    """Sum, mean and max share their settings: the axes reduced and whether they are kept."""

    def __init__(self, axis=None, keepdims: bool = False):
        axis = tuple(axis) if isinstance(axis, list) else axis
        if not (axis is None or _is_int(axis)
                or (isinstance(axis, tuple) and all(_is_int(a) for a in axis))):
            raise TypeError(f"{self.name}: axis must be None, an int or a tuple of ints, "
                            f"got {axis!r}")
        self.axis = axis
        self.keepdims = bool(keepdims)

    def params(self):
        return f"axis={self.axis}" + (", keepdims" if self.keepdims else "")


class Sum(_Reduction):
    name, formula = "sum", "{out} = Σ {a}"
    rules = ("∂L/∂{a} = ∂L/∂{out} broadcast back over the summed axes",)

    def forward(self, a):
        self.shape = a.shape
        return np.sum(a, axis=self.axis, keepdims=self.keepdims)

    def backward(self, g, needs):
        return (_expand(g, self.shape, self.axis, self.keepdims),)


class Mean(_Reduction):
    name, formula = "mean", "{out} = mean({a})"
    rules = ("∂L/∂{a} = ∂L/∂{out} / n broadcast back over the averaged axes",)

    def forward(self, a):
        self.shape = a.shape
        out = np.mean(a, axis=self.axis, keepdims=self.keepdims)
        self.n = a.size // max(np.size(out), 1) if a.size else 1
        # float inputs keep their dtype; the mean of integers stays a float (as in numpy)
        return np.asarray(out, dtype=a.dtype if a.dtype.kind == "f" else None)

    def rule_terms(self):
        return {"n": self.n}

    def backward(self, g, needs):
        return (_expand(g / self.n, self.shape, self.axis, self.keepdims),)


class Max(_Reduction):
    name, formula = "max", "{out} = max({a})"
    rules = ("∂L/∂{a} = ∂L/∂{out} at the maximum (shared equally by ties), 0 elsewhere",)

    def forward(self, a):
        self.a = a
        self.out = a.max(axis=self.axis, keepdims=True)
        if self.keepdims:
            return self.out
        return self.out.reshape(()) if self.axis is None else np.squeeze(self.out, axis=self.axis)

    def backward(self, g, needs):
        winners = (self.a == self.out).astype(self.a.dtype)
        winners /= winners.sum(axis=self.axis, keepdims=True)
        return (_expand(g, self.a.shape, self.axis, self.keepdims) * winners,)

    def keeps(self, needs):
        return (0, -1)  # the output is (a view of) the kept maximum


def _read_only(view: np.ndarray) -> np.ndarray:
    """An output that views its input's memory must not be a way to write into that input."""
    view.setflags(write=False)
    return view


class Reshape(Op):
    name, formula = "reshape", "{out} = reshape({a})"
    rules = ("∂L/∂{a} = reshape(∂L/∂{out}) to {a}'s shape",)

    def __init__(self, shape: tuple[int, ...]):
        self.shape = shape

    def params(self):
        return f"shape={self.shape}"

    def forward(self, a):
        self.in_shape = a.shape
        return _read_only(np.reshape(a, self.shape))

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
        out = _read_only(np.transpose(a, self.axes))
        # the inverse permutation; axes may be negative, so normalise them first
        self.inverse = None if self.axes is None else np.argsort([ax % a.ndim for ax in self.axes])
        return out

    def backward(self, g, needs):
        return (np.transpose(g, self.inverse),)


# ---- softmax family: fused, stable (the max is subtracted and is a constant for the gradient) ----

def _softmax_parts(o: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(o − max, log Σ exp(o − max), ŷ), stably: log ŷ is the first minus the second."""
    rows = o.ndim == 2 and axis in (1, -1)  # a batch of score rows: the common case, made fast
    shifted = o - (row_max(o) if rows else o.max(axis=axis, keepdims=True))
    e = np.exp(shifted)
    s = row_sum(e) if rows else e.sum(axis=axis, keepdims=True)
    return shifted, np.log(s), e / s


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

    def forward(self, o):
        self.y = _softmax_parts(o, self.axis)[2]
        return self.y

    def backward(self, g, needs):
        y = self.y
        return (y * (g - np.sum(g * y, axis=self.axis, keepdims=True)),)

    def keeps(self, needs):
        return (-1,)


class LogSoftmax(_AlongAxis):
    name, formula = "log_softmax", "{out} = {a} − log Σ exp({a})"
    out_name = "log ŷ"
    rules = ("∂L/∂{a} = ∂L/∂{out} − softmax({a}) ⊙ Σ ∂L/∂{out}",)

    def forward(self, o):
        shifted, log_sum, self.y = _softmax_parts(o, self.axis)
        return shifted - log_sum

    def rule_terms(self):
        return {"softmax({a})": self.y}

    def backward(self, g, needs):
        return (g - self.y * np.sum(g, axis=self.axis, keepdims=True),)


@functools.lru_cache(maxsize=64)
def _row_numbers(rows: int) -> np.ndarray:
    """0, 1, ..., rows − 1, read-only: made once per batch size, not once per batch."""
    numbers = np.arange(rows)
    numbers.setflags(write=False)
    return numbers


class CrossEntropy(Op):
    """Mean over the batch of −Σ y log softmax(o); y is class indices or a probability matrix."""
    name, formula = "cross_entropy", "{out} = −mean Σ {b} ⊙ log softmax({a})"
    rules = ("∂L/∂{a} = (softmax({a}) − {b}) / n · ∂L/∂{out}",
             "∂L/∂{b} = −log softmax({a}) / n · ∂L/∂{out}")
    letters = ("o", "y")
    out_name = "L"

    def forward(self, o, y):
        if o.ndim != 2:
            raise ValueError(f"logits must be 2-D (batch × classes), got shape {o.shape}")
        n = o.shape[0]
        if n == 0:
            raise ValueError("the batch is empty: a mean over no examples is undefined")
        shifted, log_sum, self.probs = _softmax_parts(o, -1)
        self.n = n
        if y.dtype.kind in "iu":  # integer: class indices
            if y.shape != (n,):
                raise ValueError(f"class-index target must have shape ({n},), got {y.shape}")
            # each row's true class as one position in the flattened (n, C) array (cheaper than
            # a (rows, y) pair, here and in backward); numpy checks every index on the way,
            # negative ones included
            try:
                self.indices = np.ravel_multi_index((_row_numbers(n), y), o.shape)
            except (ValueError, TypeError):  # TypeError: uint64, which has no safe cast to intp
                if y.min() >= 0 and y.max() < o.shape[1]:
                    self.indices = np.ravel_multi_index((_row_numbers(n), y.astype(np.intp)), o.shape)
                else:
                    raise InputError(f"class indices must lie in [0, {o.shape[1]}), "
                                     f"got values from {y.min()} to {y.max()}") from None
            self.logy = None
            # only the true classes' log ŷ is needed
            total = np.add.reduce(shifted.reshape(-1)[self.indices]) - np.add.reduce(log_sum, None)
        else:
            if y.shape != o.shape:
                # a float (n,) target is most likely class indices made with Tensor(list): say so
                hint = (f"; class indices need an integer dtype, got {y.dtype}"
                        if y.shape == (n,) else "")
                raise ValueError(f"probability target must have the logits' shape {o.shape}, "
                                 f"got {y.shape}{hint}")
            self.indices, self.target, self.logy = None, y, shifted - log_sum
            total = np.sum(y * self.logy)
        return np.asarray(-total / n, dtype=o.dtype)

    def rule_terms(self):
        terms = {"softmax({a})": self.probs, "n": self.n}
        if self.logy is not None:
            terms["log softmax({a})"] = self.logy
        return terms

    def backward(self, g, needs):
        go = gy = None
        scale = float(g) / self.n  # g is 0-d (the loss is); a Python float keeps the dtype
        if needs[0]:
            go = np.multiply(self.probs, scale, order="C")  # C order: reshape(-1) is a view
            if self.indices is not None:
                go.reshape(-1)[self.indices] -= scale
            else:  # exact for any target; ŷ − y when each row of y sums to 1
                go *= np.sum(self.target, axis=1, keepdims=True)
                go -= self.target * scale
        if needs[1]:
            gy = self.logy * -scale
        return go, gy

    def keeps(self, needs):
        return (1,) if needs[0] else ()  # the target; ŷ and log ŷ are the op's own arrays
