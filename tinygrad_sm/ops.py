"""The built-in ops, one class per derivative: the forward, the backward (one gradient per input)
and the chain rule as text. What an op is, and how to write one, is in op.py; the softmax family
and cross-entropy are in softmax_ops.py (imported here too, so `ops` names every built-in op).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .op import Op, is_int
from .softmax_ops import CrossEntropy, LogSoftmax, Softmax  # noqa: F401  (every op in one place)


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


class _Reduction(Op):
    """Sum, mean and max share their settings: the axes reduced and whether they are kept."""

    def __init__(self, axis: Any = None, keepdims: bool = False):
        axis = tuple(axis) if isinstance(axis, list) else axis
        if not (axis is None or is_int(axis)
                or (isinstance(axis, tuple) and all(is_int(a) for a in axis))):
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
