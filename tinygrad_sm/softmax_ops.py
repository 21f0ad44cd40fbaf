"""Softmax, log-softmax and cross-entropy: fused and stable (each subtracts the row maximum, a
constant for the gradient), so logits like [1000, 1001, 1002] give finite values and gradients."""
from __future__ import annotations

import numpy as np

from .errors import InputError
from .op import Op, is_int
from .reductions import row_max, row_sum


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
        if not is_int(axis):
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
