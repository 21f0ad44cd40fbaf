"""The MLP of `tinygrad-sm train --model mlp` against the same loop written by hand in numpy.

Dive into Deep Learning §4.2's settings on Fashion-MNIST: one ReLU hidden layer of 256 units,
weights N(0, 0.01²), biases 0, SGD lr 0.1, batch 256, 10 epochs. Both sides start from the same
weights (W1 then W2 drawn from one generator seeded with --seed) and see the same batches in the
same order (`data.minibatches` with a generator seeded the same way). Epochs are interleaved
(an engine epoch, then a numpy epoch, ...), each timed (the training pass only, as in
metrics.json), with one BLAS thread on both sides as `tinygrad-sm train` runs; it prints both
test accuracies after every epoch, the final ones with their difference, and the median and range
of the per-epoch time ratios.

    python benchmarks/bench_mlp.py                    # Fashion-MNIST, seed 0
    python benchmarks/bench_mlp.py --data digits --epochs 30 --lr 0.5 --batch-size 32
"""
from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable

import numpy as np
from threadpoolctl import threadpool_limits

from tinygrad_sm.data import Split, minibatches
from tinygrad_sm.optim import SGD
from tinygrad_sm.train import accuracy, build_model, load, train_epoch


class NumpyMLP:
    """The MLP by hand: the same initial weights as nn.mlp(seed) and the same batch order."""

    def __init__(self, split: Split, hidden: int, seed: int = 0):
        classes = int(split.y_train.max()) + 1
        rng = np.random.default_rng(seed)
        self.split = split
        self.W1 = rng.normal(0.0, 0.01, size=(split.num_features, hidden)).astype(np.float32)
        self.W2 = rng.normal(0.0, 0.01, size=(hidden, classes)).astype(np.float32)
        self.b1, self.b2 = np.zeros(hidden, np.float32), np.zeros(classes, np.float32)
        self.order = np.random.default_rng(seed)  # the batch order, drawn as train.fit does

    def epoch(self, lr: float, batch_size: int) -> None:
        W1, b1, W2, b2 = self.W1, self.b1, self.W2, self.b2
        for X, y in minibatches(self.split.X_train, self.split.y_train, batch_size, self.order):
            n = len(y)
            pre = X @ W1 + b1                       # forward: o1, H1 = ReLU(o1), o2
            H = np.maximum(pre, 0)
            o = H @ W2 + b2
            e = np.exp(o - o.max(axis=1, keepdims=True))
            g = e / e.sum(axis=1, keepdims=True)    # ∂L/∂o2 = (ŷ − y)/n
            g[np.arange(n), y] -= 1
            g /= n
            gH = (g @ W2.T) * (pre > 0)             # back through W2 and the ReLU
            W2, b2 = W2 - lr * (H.T @ g), b2 - lr * g.sum(axis=0)
            W1, b1 = W1 - lr * (X.T @ gH), b1 - lr * gH.sum(axis=0)
        self.W1, self.b1, self.W2, self.b2 = W1, b1, W2, b2

    def test_accuracy(self) -> float:
        scores = np.maximum(self.split.X_test @ self.W1 + self.b1, 0) @ self.W2 + self.b2
        return float(np.mean(scores.argmax(axis=1) == self.split.y_test))

    def weights(self) -> dict[str, np.ndarray]:
        return {"W1": self.W1, "b1": self.b1, "W2": self.W2, "b2": self.b2}


def numpy_fit(split: Split, epochs: int, lr: float, batch_size: int, hidden: int,
              seed: int = 0) -> tuple[dict[str, np.ndarray], list[float]]:
    """Train the numpy MLP; returns its final weights and the test accuracy after each epoch."""
    mlp = NumpyMLP(split, hidden, seed)
    accuracies = []
    for _ in range(epochs):
        mlp.epoch(lr, batch_size)
        accuracies.append(mlp.test_accuracy())
    return mlp.weights(), accuracies


def seconds(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="fashion-mnist", choices=["digits", "fashion-mnist"])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    split = load(args.data)
    print(f"{args.data}: MLP {split.num_features} → {args.hidden} ReLU → 10, lr {args.lr}, "
          f"batch {args.batch_size}, {args.epochs} epochs, seed {args.seed}")
    model = build_model("mlp", split.num_features, 10, args.hidden, args.seed)
    optimizer = SGD(model.parameters(), lr=args.lr)
    engine_order = np.random.default_rng(args.seed)  # as train.fit draws it
    by_hand = NumpyMLP(split, args.hidden, args.seed)
    engine_times, numpy_times = [], []
    for epoch in range(1, args.epochs + 1):  # interleaved: an engine epoch, then a numpy epoch
        with threadpool_limits(limits=1, user_api="blas"):
            engine_times.append(seconds(lambda: train_epoch(
                model, optimizer, split.X_train, split.y_train, args.batch_size, engine_order)))
            numpy_times.append(seconds(lambda: by_hand.epoch(args.lr, args.batch_size)))
        print(f"epoch {epoch:2d}: test accuracy tinygrad_sm "
              f"{accuracy(model, split.X_test, split.y_test):.4f}, numpy "
              f"{by_hand.test_accuracy():.4f}; {engine_times[-1]:.2f} s vs {numpy_times[-1]:.2f} s")
    engine_acc, numpy_acc = accuracy(model, split.X_test, split.y_test), by_hand.test_accuracy()
    drift = max(float(np.abs(p.data - by_hand.weights()[name]).max())
                for name, p in model.named_parameters().items())
    ratios = [e / n for e, n in zip(engine_times, numpy_times)]
    print(f"final test accuracy: tinygrad_sm {engine_acc:.4f}, numpy by hand {numpy_acc:.4f} "
          f"(difference {abs(engine_acc - numpy_acc):.4f}, within 0.005: "
          f"{'yes' if abs(engine_acc - numpy_acc) <= 0.005 else 'NO'}); "
          f"max weight difference {drift:.1e}")
    print(f"training time: tinygrad_sm {sum(engine_times):.1f} s, numpy {sum(numpy_times):.1f} s; "
          f"per-epoch ratio median {statistics.median(ratios):.2f}× "
          f"(range {min(ratios):.2f}–{max(ratios):.2f}×)")


if __name__ == "__main__":
    main()
