"""Losses and the softmax-regression model."""
from __future__ import annotations

from typing import Any

import numpy as np

from . import ops
from .errors import ShapeError
from .tensor import Tensor


def _as_target(target: Any) -> Tensor:
    """Wrap numpy or list targets; class indices keep their integer dtype."""
    if isinstance(target, Tensor):
        return target
    array = np.asarray(target)
    return Tensor(array if array.dtype.kind in "iu" else target, name="y")


def cross_entropy(logits: Tensor, target: Any) -> Tensor:
    """Mean over the batch of −Σ y log softmax(logits), fused and stable.

    target: class indices (numpy ints or an integer Tensor, shape (n,)) or a probability
    matrix of the logits' shape. The gradient with respect to the logits is (ŷ − y)/n.
    """
    return Tensor._apply(ops.CrossEntropy(), logits, _as_target(target))


def mse_loss(pred: Tensor, target: Any) -> Tensor:
    """Mean of the squared error (pred − target)²; composed from sub, pow and mean.

    pred and target must have the same shape: an (n, 1) prediction against an (n,) target would
    otherwise broadcast to an (n, n) comparison, a wrong number without a word.
    """
    if not isinstance(target, Tensor):  # arrays and lists take the prediction's float dtype
        target = Tensor(target, dtype=pred.dtype if pred.dtype.kind == "f" else None)
    if target.shape != pred.shape:
        raise ShapeError(f"mse_loss: prediction of shape {pred.shape} and target of shape "
                         f"{target.shape} differ; reshape one of them (no broadcasting here)")
    return ((pred - target) ** 2).mean().named("L")


def one_hot(labels: Any, num_classes: int, dtype: Any = np.float32) -> np.ndarray:
    """Rows of the identity: one_hot([2, 0], 3) is [[0, 0, 1], [1, 0, 0]]."""
    labels = np.asarray(labels)
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) \
            or num_classes < 1:
        raise ValueError(f"one_hot: num_classes must be a positive int, got {num_classes!r}")
    if labels.dtype.kind not in "iu":
        raise TypeError(f"one_hot: labels must be integer class indices, got dtype "
                        f"{labels.dtype} (values such as {labels.ravel()[:3].tolist()})")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"one_hot: labels must lie in [0, {num_classes}), "
                         f"got values from {labels.min()} to {labels.max()}")
    return np.eye(num_classes, dtype=dtype)[labels]


class SoftmaxRegression:
    """O = XW + b: logits for softmax regression (W ~ N(0, 0.01²), b = 0)."""

    def __init__(self, num_inputs: int, num_classes: int, seed: int | None = 0,
                 dtype: Any = np.float32):
        rng = np.random.default_rng(seed)
        self.W = Tensor(rng.normal(0.0, 0.01, size=(num_inputs, num_classes)).astype(dtype),
                        requires_grad=True, name="W")
        self.b = Tensor(np.zeros(num_classes, dtype=dtype), requires_grad=True, name="b")

    def __call__(self, X: Tensor | np.ndarray) -> Tensor:
        if not isinstance(X, Tensor):
            X = Tensor(X, name="X")
        if X.ndim != 2 or X.shape[1] != self.W.shape[0]:
            raise ValueError(f"SoftmaxRegression: expected input of shape (n, {self.W.shape[0]}), "
                             f"got {X.shape}")
        return ((X @ self.W).named("XW") + self.b).named("o")

    def parameters(self) -> list[Tensor]:
        return [self.W, self.b]
