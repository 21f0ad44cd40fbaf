"""Walking the graph: the order in which backprop (and every display) visits tensors."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .tensor import Tensor


def topo_order(root: Tensor, only_grad: bool = True) -> list[Tensor]:
    """Tensors in an order where inputs come before the ops that use them (iterative DFS).

    With only_grad, tensors that need no gradient (data such as X and y) are left out.
    """
    order: list[Tensor] = []
    seen = {id(root)}
    stack: list[tuple[Tensor, int]] = [(root, 0)]  # (node, index of its next input to visit)
    while stack:
        node, i = stack.pop()
        inputs = node._inputs
        while i < len(inputs):  # the first input is visited first
            x = inputs[i]
            i += 1
            if id(x) not in seen and (x.requires_grad or not only_grad):
                seen.add(id(x))
                stack.append((node, i))  # come back for node's next input
                node, inputs, i = x, x._inputs, 0
        order.append(node)  # all of node's inputs are in order before it
    return order
