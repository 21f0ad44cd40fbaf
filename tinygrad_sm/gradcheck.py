"""Central-difference gradient checks in float64: the ground truth every op is tested against."""
from __future__ import annotations

import math
import numbers
from typing import Callable

import numpy as np

from .autograd import no_grad
from .tensor import Tensor


class GradcheckError(AssertionError):
    """An analytic gradient disagrees with the central difference; names input and element.

    str() is English; `fields` are its parts, so a display can say it in the learner's language
    (the catalogue's gradcheck.* keys; the engine itself has no words but these)."""

    def __init__(self, message: str, **fields: object):
        super().__init__(message)
        self.fields = fields


def numerical_grad(fn: Callable[..., Tensor], inputs: list[Tensor], which: int,
                   weights: np.ndarray, eps: float) -> np.ndarray:
    """∂(Σ weights ⊙ fn(inputs))/∂inputs[which] by central differences."""
    x = inputs[which].data
    grad = np.zeros_like(x)

    def weighted_output() -> float:
        return float(np.sum(weights * fn(*inputs).data))

    with no_grad():
        for index in np.ndindex(x.shape):
            saved = x[index]
            x[index] = saved + eps
            plus = weighted_output()
            x[index] = saved - eps
            minus = weighted_output()
            x[index] = saved
            grad[index] = (plus - minus) / (2 * eps)
    return grad


def gradcheck(fn: Callable[..., Tensor], *tensors: Tensor, eps: float = 1e-6,
              atol: float = 1e-5, rtol: float = 1e-3) -> bool:
    """Compare the engine's gradients of fn with central differences, in float64.

    fn may return a tensor of any shape: its output is weighted by fixed random numbers so that
    every output element is checked. Tensors that require grad are checked; returns True or
    raises GradcheckError naming the input, the index of the worst entry and both values.
    """
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real):
        raise TypeError(f"gradcheck: eps must be a number, got {eps!r} ({type(eps).__name__})")
    if not (math.isfinite(eps) and eps > 0):  # the step of (f(x + eps) − f(x − eps)) / 2eps
        raise ValueError(f"gradcheck: eps must be positive and finite, got {eps} (a step such "
                         "as 1e-6: the central difference divides by 2·eps)")
    for position, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"gradcheck: argument {position + 1} must be a Tensor, got "
                            f"{type(t).__name__}")
    if not any(t.requires_grad for t in tensors):
        integers = [f"argument {k + 1} has dtype {t.dtype}" for k, t in enumerate(tensors)
                    if t.dtype.kind != "f"]
        why = ("; ".join(integers) + ": gradients are defined for floating-point tensors only "
               "(make it with dtype=np.float64 and requires_grad=True)") if integers else \
            "create the tensors to check with requires_grad=True"
        raise ValueError(f"gradcheck: no tensor requires grad, so there is nothing to check; {why}")
    inputs = [Tensor(t.data.astype(np.float64) if t.dtype.kind == "f" else t.data,
                     requires_grad=t.requires_grad, name=t.name) for t in tensors]
    out = fn(*inputs)
    if not isinstance(out, Tensor):
        name = getattr(fn, "__name__", type(fn).__name__)
        raise TypeError(f"gradcheck: the function {name} returned a {type(out).__name__}, not a "
                        "Tensor; compute its result with Tensor operations (not on .data or "
                        "numpy) so that it has a gradient to check")
    weights = np.random.default_rng(0).uniform(0.5, 1.5, size=out.shape)
    (out * weights).sum().backward()
    for position, (original, x) in enumerate(zip(tensors, inputs)):
        if not x.requires_grad:
            continue
        analytic = x.grad if x.grad is not None else np.zeros_like(x.data)
        numeric = numerical_grad(fn, inputs, position, weights, eps)
        close = np.isclose(analytic, numeric, atol=atol, rtol=rtol)
        if not np.all(close):
            # the worst entry: the largest difference among the ones that fail
            gap = np.where(close, -np.inf, np.abs(analytic - numeric))
            index = tuple(int(i) for i in np.unravel_index(np.argmax(gap), gap.shape))
            label = f"input {position}" + (f" ({original.name!r})" if original.name else "")
            raise GradcheckError(
                f"gradcheck: {label} of shape {x.shape}, element {index}: analytic gradient "
                f"{analytic[index]:.8g} vs central difference {numeric[index]:.8g} (the worst of "
                f"{np.count_nonzero(~close)} wrong entries out of {close.size})",
                position=position, name=original.name, shape=x.shape, index=index,
                analytic=float(analytic[index]), numeric=float(numeric[index]),
                wrong=int(np.count_nonzero(~close)), total=int(close.size))
    return True
