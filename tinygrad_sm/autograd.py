"""Backprop: the chain rule, run backwards through the graph.

`backward()` below is the whole algorithm. Every other function here is a check or a piece of
bookkeeping it calls by name. When a recorder is given (`loss.backward(trace=True)`), each
step is handed to it as plain data, a `StepRecord`; the trace and every display are built from
those records, above the engine.
"""
from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterator, Protocol

import numpy as np

from .errors import ShapeError
from .graph import Node, topo_order
from .reductions import column_sum

if TYPE_CHECKING:
    from .op import Op


@dataclass(frozen=True)
class StepRecord:
    """What one op's backward did: ∂L/∂output came in, one contribution per input went out."""
    op: Op
    output: Node
    grad_output: np.ndarray                          # ∂L/∂output, complete when the step runs
    inputs: tuple[Node, ...]
    contributions: tuple[np.ndarray | None, ...]     # added to each input's gradient (its shape)
    local_grads: tuple[np.ndarray | None, ...]       # as op.backward returned them

    @property
    def summed_axes(self) -> tuple[tuple[int, ...] | None, ...]:
        """Per input, the axes of its local gradient that unbroadcast summed (None: none)."""
        return tuple(broadcast_axes(np.shape(gx), x.shape) or None
                     if gx is not None and c is not None and np.shape(gx) != x.shape else None
                     for x, gx, c in zip(self.inputs, self.local_grads, self.contributions))


class Recorder(Protocol):
    def begin(self, root: Node, seed: np.ndarray, order: list[Node]) -> None: ...
    def record(self, step: StepRecord) -> None: ...


def backward(root: Node, grad: Any = None, recorder: Recorder | None = None) -> Recorder | None:
    """Reverse-mode backprop from root: every gradient of the graph is summed into `.grad`."""
    seed, held = seed_gradient(root, grad)
    order = topo_order(root)                       # every node after the inputs it was made from
    if recorder is not None:
        recorder.begin(root, seed, order)
    pending = {id(root): seed}                     # ∂L/∂node, summed as contributions arrive
    with _one_pass_at_a_time:  # threads that share a parameter add into its .grad in turn
        for node in reversed(order):               # each node after all the nodes that used it
            g = pending.pop(id(node))              # so its gradient is complete: every use added
            accumulate(node, g, held)              # node.grad += ∂L/∂node
            if node.op is None:
                continue                           # a leaf: nothing to pass on
            local = local_gradients(node, g)       # the op's rule: ∂L/∂input for each input
            contributions = []
            for x, gx in zip(node.inputs, local):
                gx = fit(gx, x, node) if x.requires_grad else None  # undo broadcasting, x's dtype
                if gx is not None:
                    pending[id(x)] = pending[id(x)] + gx if id(x) in pending else gx  # add paths
                contributions.append(gx)
            if recorder is not None:
                recorder.record(StepRecord(node.op, node, g, node.inputs, tuple(contributions),
                                           tuple(local)))
    return recorder


# ---- the helpers it calls ----

def _label(t: Node) -> str:
    return f"tensor {t.name!r}" if t.name else "this tensor"


def seed_gradient(root: Node, grad: Any) -> tuple[np.ndarray, set[int]]:
    """∂root/∂root: ones for a one-element root (a loss), else the gradient the caller gives.
    Also the ids of arrays a .grad must not keep as they are (the caller's own array)."""
    if not root.requires_grad:
        raise RuntimeError(f"backward: {_label(root)} does not require grad, so there is no graph "
                           "to backpropagate through (create leaves with requires_grad=True)")
    data = root._data
    if grad is None:
        if data.size != 1:
            raise RuntimeError(f"backward: {_label(root)} has shape {root.shape}; backward() "
                               "without a gradient needs a one-element tensor such as a loss. Pass "
                               f"backward(grad) with a gradient of shape {root.shape}")
        # a loss is 0-d: np.array(1) makes it 3.7× faster than np.ones(()) (bench_tricks.py)
        return (np.array(1, data.dtype) if data.ndim == 0 else np.ones(data.shape, data.dtype)), set()
    given = np.asarray(getattr(grad, "_data", grad))
    if given.dtype.kind not in "iuf":
        raise TypeError(f"backward: the gradient for {_label(root)} must be a number or a "
                        f"numeric array, got {type(grad).__name__} {grad!r:.60}")
    if given.shape != root.shape:
        raise ShapeError(f"backward: gradient of shape {given.shape} given for {_label(root)} "
                         f"of shape {root.shape}")
    seed = given.astype(data.dtype, copy=False)
    return seed, {id(seed)}


# One backward pass at a time adds into .grad, so two threads sharing a parameter lose no update;
# re-entrant: an op's backward may run a pass of its own. Taken once a pass, not once a node:
# 2.8–3.1× faster for the 5 nodes of a digits batch (benchmarks/bench_tricks.py).
_one_pass_at_a_time = threading.RLock()


def accumulate(node: Node, g: np.ndarray, held: set[int]) -> None:
    """node.grad += g. A first gradient is kept as it is unless something else holds it (a view,
    a read-only array, another .grad, the caller's array): then .grad gets its own copy."""
    if node.grad is not None:
        node.grad = node.grad + g
    elif id(g) in held or g.base is not None or not g.flags.writeable:
        node.grad = g.copy()
    else:
        node.grad = g
    held.add(id(node.grad))


def local_gradients(node: Node, g: np.ndarray) -> tuple[np.ndarray | None, ...]:
    """op.backward(g, needs): one local gradient per input (None where none is needed)."""
    op, inputs = node.op, node.inputs
    local = op.backward(g, [x.requires_grad for x in inputs])
    if not isinstance(local, (tuple, list)) or len(local) != len(inputs):
        got = f"{len(local)} gradients" if isinstance(local, (tuple, list)) else type(local).__name__
        raise RuntimeError(f"{op.name}: backward must return a tuple with one gradient per "
                           f"input ({len(inputs)}), got {got}")
    return local


def fit(gx: Any, x: Node, node: Node) -> np.ndarray:
    """Input x's local gradient made into its gradient: checked, broadcasting summed back, x's dtype."""
    if type(gx) is not np.ndarray:
        gx = _checked_array(gx, x, node)
    data = x._data
    if gx.shape != data.shape:
        gx = unbroadcast(gx, data.shape, node.op.name)[0]
    if gx.dtype != data.dtype:
        gx = gx.astype(data.dtype)
    if _Mode.detect_anomaly:
        check_finite(node.op, "backward", gx, node.inputs)
    return gx


def _checked_array(gx: Any, x: Node, node: Node) -> np.ndarray:
    if isinstance(gx, np.ndarray):
        return gx
    if isinstance(gx, np.generic):  # numpy's scalars: x * y of 0-d arrays
        return np.asarray(gx)
    op = node.op
    name = op.inputs[node.inputs.index(x)] if op.inputs else "an input"
    raise TypeError(f"{op.name}: backward returned {'None' if gx is None else type(gx).__name__} "
                    f"for {name}, which needs a gradient: return a numpy array of its shape")


def broadcast_axes(grad_shape: tuple[int, ...], shape: tuple[int, ...]) -> tuple[int, ...]:
    """The axes of a gradient of grad_shape that are summed to give an input of shape."""
    lead = len(grad_shape) - len(shape)
    return tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape)
                                      if n == 1 and grad_shape[lead + i] != 1)


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...],
                who: str = "unbroadcast") -> tuple[np.ndarray, tuple[int, ...]]:
    """Sum a gradient back to the shape of the input that broadcasting stretched; also the axes
    summed. A shape broadcasting cannot explain is a bug in the op: an error, never a reshape."""
    lead = grad.ndim - len(shape)
    if lead == 1 and grad.ndim == 2 and grad.shape[1:] == shape:  # b in XW + b: reductions.py's sum
        return column_sum(grad), (0,)
    if lead < 0 or any(n not in (1, m) for n, m in zip(shape, grad.shape[lead:])):
        raise RuntimeError(f"{who}: backward gave a gradient of shape {grad.shape} for an input of "
                           f"shape {shape}, which broadcasting cannot produce (a bug in the op)")
    axes = broadcast_axes(grad.shape, shape)
    return grad.sum(axis=axes).reshape(shape), axes


# ---- modes: per thread, so no_grad() in one thread leaves other threads' graphs alone ----

class _Modes(threading.local):
    grad_enabled = True      # class attributes: every thread's defaults
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


class AnomalyError(FloatingPointError):
    """An op produced NaN or inf while `detect_anomaly()` was on."""


def check_finite(op: Op, phase: str, result: np.ndarray, inputs: tuple[Node, ...]) -> None:
    if np.issubdtype(result.dtype, np.floating) and not np.all(np.isfinite(result)):
        bad = "NaN" if np.any(np.isnan(result)) else "inf"
        shapes = ", ".join(str(x.shape) for x in inputs)
        raise AnomalyError(f"{op.name}: {phase} produced {bad} (input shapes {shapes})")


# what `loss.backward(trace=True)` records into: the package sets it to its BackwardTrace when
# it is imported (tinygrad_sm/__init__.py); the engine itself knows no trace
new_recorder: Callable[[], Recorder] | None = None
