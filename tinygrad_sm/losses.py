"""Losses (cross-entropy, squared error, d2l's ½ squared loss), the L2 penalty and one-hot rows.
`nn` re-exports them all: `nn.cross_entropy`, `nn.squared_loss`, `nn.l2_penalty`, ..."""
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


def _prediction(value: Any, who: str, argument: str) -> Tensor:
    """The prediction a loss is taken of: a Tensor, else a TypeError naming loss and argument.

    An array is refused rather than wrapped: a loss of constants has no gradient to learn from,
    so a plain array here is almost always a model output lost on the way (`out.data`).
    """
    if not isinstance(value, Tensor):
        raise TypeError(f"{who}: {argument} must be a Tensor (the model's output), got "
                        f"{type(value).__name__}; wrap constants with Tensor(...)")
    return value


def cross_entropy(logits: Tensor, target: Any) -> Tensor:
    """Mean over the batch of −Σ y log softmax(logits), fused and stable.

    logits: a Tensor (an array is a TypeError: it would have no gradient). target: class indices
    (numpy ints or an integer Tensor, shape (n,)) or a probability matrix of the logits' shape. The gradient with respect to the logits is (ŷ − y)/n.
    """
    logits = _prediction(logits, "cross_entropy", "logits")
    return Tensor._apply(ops.CrossEntropy(), logits, _as_target(target))


def _same_shape_target(pred: Tensor, target: Any, who: str) -> Tensor:
    """target as a Tensor of pred's shape (arrays and lists take pred's float dtype): an (n, 1)
    prediction against an (n,) target would otherwise broadcast to an (n, n) comparison, a wrong
    number without a word."""
    if not isinstance(target, Tensor):
        target = Tensor(target, dtype=pred.dtype if pred.dtype.kind == "f" else None)
    if target.shape != pred.shape:
        raise ShapeError(f"{who}: prediction of shape {pred.shape} and target of shape "
                         f"{target.shape} differ; reshape one of them (no broadcasting here)")
    return target


def mse_loss(pred: Tensor, target: Any) -> Tensor:
    """Mean of the squared error (pred − target)²; composed from sub, pow and mean.

    pred and target must have the same shape (no broadcasting). See squared_loss for d2l's ½.
    """
    pred = _prediction(pred, "mse_loss", "pred")
    target = _same_shape_target(pred, target, "mse_loss")
    return ((pred - target) ** 2).mean().named("L")


def squared_loss(pred: Tensor, target: Any) -> Tensor:
    """Dive into Deep Learning's squared loss (§3.1), averaged over the batch: mean ½(ŷ − y)².

    The ½ makes its derivative ŷ − y, so for ŷ = Xw + b: ∂L/∂w = Xᵀ(Xw + b − y)/n. Half of
    mse_loss; composed from sub, pow, mean and a product with ½ (each a step of the trace).
    """
    pred = _prediction(pred, "squared_loss", "pred")
    target = _same_shape_target(pred, target, "squared_loss")
    error = pred - target
    square = error ** 2
    mean = square.mean()
    if pred.name and target.name:  # the trace reads ∂L/∂(o − y), not ∂L/∂t1
        error.name = f"({pred.name} − {target.name})"
        square.name, mean.name = f"{error.name}²", f"mean {error.name}²"
    return (mean * 0.5).named("L")


def l2_penalty(params: Any, lam: float) -> Tensor:
    """λ/2 · Σ‖W‖² over the tensors given (d2l §4.5's λ/2 ‖w‖²): add it to a loss, and each W's
    gradient gains λW (as SGD's weight_decay=λ adds it outside the graph). Named s, as in §4.7."""
    if isinstance(params, Tensor):
        params = [params]
    params = list(params)
    if not params or not all(isinstance(p, Tensor) for p in params):
        raise TypeError("l2_penalty: params must be a non-empty list of tensors, got "
                        f"{[type(p).__name__ for p in params]}")
    if isinstance(lam, bool) or not isinstance(lam, (int, float)) or not lam >= 0:
        raise ValueError(f"l2_penalty: lam must be a number ≥ 0, got {lam!r}")
    def squared_norm(p: Tensor) -> Tensor:  # named ‖W1‖² after its tensor, for the diagram
        square = p ** 2
        if p.name:
            square.name = f"{p.name}²"
        total = square.sum()
        if p.name:
            total.name = f"‖{p.name}‖²"
        return total

    total = squared_norm(params[0])
    for p in params[1:]:
        total = total + squared_norm(p)
    return (total * (lam / 2)).named("s")


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
