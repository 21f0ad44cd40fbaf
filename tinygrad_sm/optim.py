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


class SGD:
    """Minibatch stochastic gradient descent: p ← p − lr · ∂L/∂p.

    params: tensors that require grad; one listed twice is stepped once.
    """

    def __init__(self, params: Iterable[Tensor], lr: float):
        self.params = _distinct_parameters(params, "SGD")
        if isinstance(lr, bool) or not isinstance(lr, numbers.Real):
            raise TypeError(f"SGD: the learning rate must be a number, got {lr!r} "
                            f"({type(lr).__name__})")
        if not (math.isfinite(lr) and lr > 0):  # written so that NaN is refused too
            raise ValueError(f"SGD: the learning rate must be positive and finite, got {lr}")
        self.lr = float(lr)

    def step(self) -> None:
        # A new array, not an in-place update: graphs kept for diagrams (and arrays the user
        # passed in) still hold the values the forward pass used.
        lr = float(self.lr)  # a Python float: float32 parameters stay float32 (a np.float64 would not)
        for p in self.params:
            grad, data = p.grad, p._data  # _data: only read, so a frozen array needs no copy
            if grad is None:
                continue
            if grad.shape != data.shape:
                label = f"parameter {p.name!r}" if p.name else "a parameter"
                raise ShapeError(f"SGD: {label} of shape {data.shape} has a gradient of shape "
                                 f"{grad.shape}")
            new = data - lr * grad
            p._data = new if new.dtype == data.dtype else new.astype(data.dtype)

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None
