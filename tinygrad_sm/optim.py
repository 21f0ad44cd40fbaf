"""Optimizers update parameters outside the graph."""
from __future__ import annotations

import math
from typing import Iterable

from .tensor import Tensor


class SGD:
    """Minibatch stochastic gradient descent: p ← p − lr · ∂L/∂p."""

    def __init__(self, params: Iterable[Tensor], lr: float):
        self.params = list(params)
        if not (math.isfinite(lr) and lr > 0):  # written so that NaN is refused too
            raise ValueError(f"SGD: the learning rate must be positive and finite, got {lr}")
        self.lr = lr

    def step(self) -> None:
        # A new array, not an in-place update: graphs kept for diagrams (and arrays the user
        # passed in) still hold the values the forward pass used.
        for p in self.params:
            if p.grad is not None:
                p.data = p.data - self.lr * p.grad

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None
