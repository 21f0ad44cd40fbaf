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
    seen: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(root, False)]
    while stack:
        node, inputs_done = stack.pop()
        if inputs_done:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        for x in reversed(node._inputs):  # reversed: the first input is visited first
            if id(x) not in seen and (x.requires_grad or not only_grad):
                stack.append((x, False))
    return order
