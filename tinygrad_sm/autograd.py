"""The backward engine: topological order, chaining, summing, and the trace it can record.

Every gradient passes through `backward()` below: an op returns one local gradient per input,
the engine undoes broadcasting and adds contributions up. When tracing, each of those moves is
kept in a `BackwardTrace` so it can be printed, drawn and stepped through.
"""
from __future__ import annotations

import contextlib
import threading
from typing import TYPE_CHECKING, Iterator

import numpy as np

from .errors import ShapeError
from .graph import topo_order
from .reductions import column_sum
from .tracing import BackwardTrace, Step, broadcast_axes

if TYPE_CHECKING:
    from .ops import Op
    from .tensor import Tensor


class AnomalyError(FloatingPointError):
    """An op produced NaN or inf while `detect_anomaly()` was on."""


class _Modes(threading.local):
    """Grad mode and anomaly mode, one pair per thread: no_grad() in one thread leaves the
    graphs other threads build alone. (Class attributes are the defaults of every thread.)"""
    grad_enabled = True
    detect_anomaly = False


_Mode = _Modes()


@contextlib.contextmanager
def no_grad() -> Iterator[None]:
    """Inside this block this thread's ops build no graph (for evaluation and updates)."""
    previous, _Mode.grad_enabled = _Mode.grad_enabled, False
    try:
        yield
    finally:
        _Mode.grad_enabled = previous


@contextlib.contextmanager
def detect_anomaly() -> Iterator[None]:
    """Raise at this thread's first op whose forward or backward gives NaN or inf, naming it."""
    previous, _Mode.detect_anomaly = _Mode.detect_anomaly, True
    try:
        yield
    finally:
        _Mode.detect_anomaly = previous


def check_finite(op: Op, phase: str, result: np.ndarray, inputs: tuple[Tensor, ...]) -> None:
    if np.issubdtype(result.dtype, np.floating) and not np.all(np.isfinite(result)):
        bad = "NaN" if np.any(np.isnan(result)) else "inf"
        shapes = ", ".join(str(x.shape) for x in inputs)
        raise AnomalyError(f"{op.name}: {phase} produced {bad} (input shapes {shapes})")


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...],
                who: str = "unbroadcast") -> tuple[np.ndarray, tuple[int, ...]]:
    """Sum a gradient back to the shape of the input that broadcasting stretched.

    Returns the summed gradient and the axes (of `grad`) that were summed. A gradient that
    broadcasting cannot explain means the op's backward is wrong: that is an error, never a reshape.
    """
    lead = grad.ndim - len(shape)
    if lead > 0 and grad.shape[lead:] == shape:  # only leading axes were added (b in XW + b)
        axes = tuple(range(lead))
        if lead == 1 and grad.ndim == 2:  # the rows of a 2-D gradient: the fast sum
            return column_sum(grad), axes
        return grad.sum(axis=axes), axes
    if lead < 0 or any(size not in (1, g) for size, g in zip(shape, grad.shape[lead:])):
        raise RuntimeError(f"{who}: backward gave a gradient of shape {grad.shape} for an input of "
                           f"shape {shape}, which broadcasting cannot produce (a bug in the op)")
    axes = broadcast_axes(grad.shape, shape)
    summed = grad.sum(axis=axes, keepdims=True) if axes else grad
    return summed.reshape(shape), axes


def _copies(arrays, needed) -> tuple[np.ndarray | None, ...]:
    return tuple(a.copy() if a is not None and n else None for a, n in zip(arrays, needed))


def _label(root: Tensor) -> str:
    return f"tensor {root.name!r}" if root.name else "this tensor"


def backward(root: Tensor, grad: np.ndarray | None = None, trace: bool = False) -> BackwardTrace | None:
    """Reverse-mode backprop from root; sums every contribution into `.grad` (which accumulates)."""
    seed_given = grad is not None
    if not root.requires_grad:
        raise RuntimeError(f"backward: {_label(root)} does not require grad, so there is no graph "
                           "to backpropagate through (create leaves with requires_grad=True)")
    if grad is None:
        if root._data.size != 1:
            raise RuntimeError(f"backward: {_label(root)} has shape {root.shape}; backward() "
                               "without a gradient needs a one-element tensor such as a loss. Pass "
                               f"backward(grad) with a gradient of shape {root.shape}")
        # a loss is 0-d: np.array is several times cheaper than np.ones for it
        data = root._data
        grad = np.array(1, data.dtype) if data.ndim == 0 else np.ones(data.shape, data.dtype)
    else:
        given = np.asarray(grad._data if isinstance(grad, type(root)) else grad)
        if given.dtype.kind not in "iuf":
            raise TypeError(f"backward: the gradient for {_label(root)} must be a number or a "
                            f"numeric array, got {type(grad).__name__} {grad!r:.60}")
        grad = given.astype(root.dtype, copy=False)
        if grad.shape != root.shape:
            raise ShapeError(f"backward: gradient of shape {grad.shape} given for {_label(root)} "
                             f"of shape {root.shape}")
    order = topo_order(root)
    record = None
    if trace:  # copies: root.grad may take grad, and .grad of earlier passes will change
        record = BackwardTrace(root, grad.copy(),
                               {id(t): t.grad.copy() for t in order if t.grad is not None})
    anomaly = _Mode.detect_anomaly
    pending = {id(root): grad}
    # ids of arrays that a .grad may not take as they are: already some tensor's .grad (an add
    # passes one array to both inputs), or the caller's own gradient array
    taken = {id(grad)} if seed_given else set()
    for node in reversed(order):
        g = pending.pop(id(node))
        if node.grad is not None:
            node.grad = node.grad + g
        elif id(g) in taken or g.base is not None or not g.flags.writeable:
            node.grad = g.copy()  # views (broadcasts, reshapes) and shared arrays get their own
        else:
            node.grad = g
        taken.add(id(node.grad))
        op = node._op
        if op is None:
            continue
        inputs = node._inputs
        needs = [x.requires_grad for x in inputs]
        local = op.backward(g, needs)
        if not isinstance(local, (tuple, list)) or len(local) != len(inputs):
            got = f"{len(local)} gradients" if isinstance(local, (tuple, list)) else type(local).__name__
            raise RuntimeError(f"{op.name}: backward must return a tuple with one gradient per "
                               f"input ({len(inputs)}), got {got}")
        if record is not None:
            contributions, summed = [], []  # kept only for the trace
        for x, gx, need in zip(inputs, local, needs):
            axes = None
            if need and gx is not None:
                data = x._data
                if gx.shape != data.shape:
                    gx, axes = unbroadcast(gx, data.shape, op.name)
                if gx.dtype != data.dtype:
                    gx = gx.astype(data.dtype)
                if anomaly:
                    check_finite(op, "backward", gx, inputs)
                key = id(x)
                pending[key] = pending[key] + gx if key in pending else gx
            else:
                gx = None
            if record is not None:
                contributions.append(gx)
                summed.append(axes)
        if record is not None:  # copies: later changes to a .grad must not rewrite the record
            record.add(Step(len(record.steps), op, node, g.copy(), inputs,
                            _copies(contributions, needs), _copies(local, needs), tuple(summed),
                            tuple(x._data for x in inputs), node._data))
    return record
