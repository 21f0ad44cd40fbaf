"""The graph: a node remembers the op that made it and that op's inputs, and a walk puts every
node after its inputs (the order backprop runs in, reversed)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np


class Node:
    """A node of the graph: `op`, the op that made it (None for a leaf and under no_grad), and
    `inputs`, that op's inputs in order. Tensor is a Node; the graph needs nothing else of it,
    and backprop (autograd.py) reads only the fields declared below, which Tensor fills."""
    __slots__ = ("op", "inputs")
    _data: np.ndarray          # the value
    grad: np.ndarray | None    # ∂L/∂node, summed over the passes
    requires_grad: bool
    name: str | None
    shape: tuple[int, ...]


def topo_order(root: Node, only_grad: bool = True) -> list[Any]:
    """Nodes in an order where inputs come before the ops that use them (iterative DFS, so a
    graph 100 000 ops deep works). With only_grad, tensors that need no gradient are left out."""
    order: list[Any] = []
    seen = {id(root)}
    stack: list[tuple[Any, int]] = [(root, 0)]  # (node, index of its next input to visit)
    while stack:
        node, i = stack.pop()
        inputs = node.inputs
        while i < len(inputs):  # the first input is visited first
            x = inputs[i]
            i += 1
            if id(x) not in seen and (x.requires_grad or not only_grad):
                seen.add(id(x))
                stack.append((node, i))  # come back for node's next input
                node, inputs, i = x, x.inputs, 0
        order.append(node)  # all of node's inputs are in order before it
    return order
