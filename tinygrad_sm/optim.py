"""Optimizers update parameters outside the graph."""
from __future__ import annotations

import math
import numbers
from typing import Iterable

from .errors import ShapeError
from .tensor import Tensor


def _distinct_parameters(params: Iterable[Tensor], who: str) -> list[Tensor]:
    """The tensors of `params`, each once (first place kept); anything else is refused by place.

    A tensor listed twice (`m.parameters() + [m.W]`, two models sharing a layer) is one
    parameter: its gradient already sums every use, so it is stepped once, not once per listing.
    """
    if isinstance(params, Tensor):
        raise TypeError(f"{who}: params must be a list of tensors, got a single Tensor "
                        f"({params.name!r}); write [{params.name or 'W'}]")
    found: dict[int, Tensor] = {}
    for position, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(f"{who}: params[{position}] is a {type(p).__name__}, not a Tensor; "
                            "make it with Tensor(..., requires_grad=True)")
        if not p.requires_grad:
            label = f" ({p.name!r})" if p.name else ""
            raise ValueError(f"{who}: params[{position}]{label} does not require grad, so it "
                             "would never change; make it with requires_grad=True")
        found.setdefault(id(p), p)
    return list(found.values())


def _checked_number(value: object, what: str, positive: bool) -> float:
    """value as a float, or an error naming SGD, the setting and the value (NaN refused too)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"SGD: {what} must be a number, got {value!r} ({type(value).__name__})")
    ok = value > 0 if positive else value >= 0
    if not (math.isfinite(value) and ok):  # written so that NaN is refused too
        raise ValueError(f"SGD: {what} must be {'positive' if positive else '0 or more'} "
                         f"and finite, got {value}")
    return float(value)


class SGD:
    """Minibatch stochastic gradient descent: p ← p − lr · (∂L/∂p + λ·p).

    params: tensors that require grad; one listed twice is stepped once.
    weight_decay=λ (PyTorch's convention): λ·p is added to each gradient, the gradient of
    λ/2·‖p‖² (d2l §4.5; `nn.l2_penalty` is the same term inside the graph). decayed: the
    parameters it applies to (default: all of params; d2l decays the weights, not the biases).
    """

    def __init__(self, params: Iterable[Tensor], lr: float, weight_decay: float = 0.0,
                 decayed: Iterable[Tensor] | None = None):
        self.params = _distinct_parameters(params, "SGD")
        self.lr = _checked_number(lr, "the learning rate", positive=True)
        self.weight_decay = _checked_number(weight_decay, "weight_decay", positive=False)
        if decayed is None:
            self.decayed = {id(p) for p in self.params}
        else:
            self.decayed = {id(p) for p in _distinct_parameters(decayed, "SGD(decayed)")}
            if not self.decayed <= {id(p) for p in self.params}:
                raise ValueError("SGD: decayed must list only tensors that are among params")

    def step(self) -> None:
        # A new array, not an in-place update: graphs kept for diagrams (and arrays the user
        # passed in) still hold the values the forward pass used.
        lr = float(self.lr)  # a Python float: float32 parameters stay float32 (a np.float64 would not)
        decay = float(self.weight_decay)
        for p in self.params:
            grad, data = p.grad, p._data  # _data: only read, so a frozen array needs no copy
            if grad is None:
                continue
            if grad.shape != data.shape:
                label = f"parameter {p.name!r}" if p.name else "a parameter"
                raise ShapeError(f"SGD: {label} of shape {data.shape} has a gradient of shape "
                                 f"{grad.shape}")
            if decay and id(p) in self.decayed:
                grad = grad + decay * data
            new = data - lr * grad
            p._data = new if new.dtype == data.dtype else new.astype(data.dtype)

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None
