"""How close to numpy can a Python graph engine get at all? The floor under bench_epoch's ratios.

A bare reverse-mode engine — a tensor with data, grad, op and inputs; matmul, add and a fused
cross-entropy; an iterative topological sort and the chaining loop — with none of what
tinygrad_sm adds: no names, no shape or index checks, no layers, no in-place protection, no
ownership of .grad arrays, no trace hooks. It does the same numpy work as tinygrad_sm (the same
fast row reductions), so its ratio is the cost of building and walking a graph in CPython, and
the gap between it and tinygrad_sm is the cost of everything else.

One train_epoch-style loop (loss and accuracy kept), at both of bench_epoch's shapes; engine,
floor and numpy run in rotating order, and the medians of the per-round ratios are printed.

    python benchmarks/bench_floor.py --rounds 21
"""
from __future__ import annotations

import argparse
import statistics

import numpy as np
from threadpoolctl import threadpool_limits

import tinygrad_sm.nn as nn
from bench_epoch import C, EPOCHS_PER_TIMING, LR, SHAPES, TARGETS, make_data, numpy_epoch, seconds
from tinygrad_sm.data import minibatches
from tinygrad_sm.optim import SGD
from tinygrad_sm.reductions import column_sum, row_max, row_sum
from tinygrad_sm.train import train_epoch


class Bare:
    __slots__ = ("data", "grad", "op", "inputs", "requires_grad")

    def __init__(self, data, requires_grad=False):
        self.data, self.grad, self.op, self.inputs, self.requires_grad = data, None, None, (), requires_grad


def apply(op, *inputs: Bare) -> Bare:
    out = Bare(op.forward(*[x.data for x in inputs]))
    if any(x.requires_grad for x in inputs):
        out.op, out.inputs, out.requires_grad = op, inputs, True
    return out


class MatMul:
    def forward(self, a, b):
        self.a, self.b = a, b
        return a @ b

    def backward(self, g, needs):
        return (g @ self.b.T if needs[0] else None), (self.a.T @ g if needs[1] else None)


class Add:
    def forward(self, a, b):
        return a + b

    def backward(self, g, needs):
        return g, g


class CrossEntropy:
    def forward(self, o, y):
        shifted = o - row_max(o)
        e = np.exp(shifted)
        sums = row_sum(e)
        self.probs, self.n = e / sums, len(y)
        self.flat = np.arange(0, o.size, o.shape[1]) + y
        return np.asarray((np.log(sums).sum() - shifted.reshape(-1)[self.flat].sum()) / self.n, o.dtype)

    def backward(self, g, needs):
        scale = float(g) / self.n
        go = self.probs * scale
        go.reshape(-1)[self.flat] -= scale
        return go, None


def backward(root: Bare) -> None:
    order, seen, stack = [], {id(root)}, [(root, 0)]
    while stack:
        node, i = stack.pop()
        while i < len(node.inputs):
            x = node.inputs[i]
            i += 1
            if x.requires_grad and id(x) not in seen:
                seen.add(id(x))
                stack.append((node, i))
                node, i = x, 0
        order.append(node)
    pending = {id(root): np.array(1, root.data.dtype)}
    for node in reversed(order):
        g = node.grad = pending.pop(id(node))
        if node.op is None:
            continue
        needs = [x.requires_grad for x in node.inputs]
        for x, gx, need in zip(node.inputs, node.op.backward(g, needs), needs):
            if need:
                if gx.shape != x.data.shape:  # only b in XW + b is broadcast here
                    gx = column_sum(gx)
                key = id(x)
                pending[key] = pending[key] + gx if key in pending else gx


def floor_epoch(W: Bare, b: Bare, X, y, batch_size, lr, seed) -> tuple[float, float]:
    total_loss, correct = 0.0, 0
    for xb, yb in minibatches(X, y, batch_size, np.random.default_rng(seed)):
        logits = apply(Add(), apply(MatMul(), Bare(xb), W), b)
        loss = apply(CrossEntropy(), logits, Bare(yb))
        value = float(loss.data)
        W.grad = b.grad = None
        backward(loss)
        W.data, b.data = W.data - lr * W.grad, b.data - lr * b.grad
        total_loss += value * len(yb)
        correct += int(np.count_nonzero(logits.data.argmax(axis=1) == yb))
    return total_loss / len(y), correct / len(y)


def compare(shape: str, rounds: int) -> None:
    rows, features, batch = SHAPES[shape]
    X, y = make_data(rows, features)
    model = nn.SoftmaxRegression(features, C, seed=0)
    opt = SGD(model.parameters(), lr=LR)
    W, b = Bare(model.W.data.copy(), True), Bare(model.b.data.copy(), True)
    Wn, bn = model.W.data.copy(), model.b.data.copy()
    reps = EPOCHS_PER_TIMING[shape]
    runs = {"tinygrad_sm": lambda: train_epoch(model, opt, X, y, batch, np.random.default_rng(0)),
            "floor": lambda: floor_epoch(W, b, X, y, batch, LR, 0),
            "numpy": lambda: numpy_epoch(Wn, bn, X, y, batch, LR, 0)}
    names = list(runs)
    for run in runs.values():
        run()  # warm up
    ratios = {"tinygrad_sm": [], "floor": []}
    for k in range(rounds):
        order = names[k % 3:] + names[:k % 3]  # each side goes first, second and last in turn
        times = {name: seconds(lambda: [runs[name]() for _ in range(reps)]) for name in order}
        for name in ratios:
            ratios[name].append(times[name] / times["numpy"])
    print(f"{shape}: {rows}×{features}, batch {batch} (target for tinygrad_sm ≤ {TARGETS[shape]}×)")
    for name, values in ratios.items():
        print(f"  {name:12s} / numpy  median {statistics.median(values):5.2f}×  "
              f"(rounds: {min(values):.2f}–{max(values):.2f}×, n={rounds})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="rotations of engine, floor, numpy")
    args = parser.parse_args()
    with threadpool_limits(limits=1, user_api="blas"):
        for shape in SHAPES:
            compare(shape, args.rounds)


if __name__ == "__main__":
    main()
