"""The MLP of `tinygrad-sm train --model mlp` against the same loop written by hand in numpy.

Dive into Deep Learning §4.2's settings on Fashion-MNIST: one ReLU hidden layer of 256 units,
weights N(0, 0.01²), biases 0, SGD lr 0.1, batch 256, 10 epochs. Both sides start from the same
weights (W1 then W2 drawn from one generator seeded with --seed) and see the same batches in the
same order (`data.minibatches` with a generator seeded the same way). Runs are interleaved
(engine, numpy, engine, numpy, ...); each prints both test accuracies, their difference and the
training time (the training passes only, as in metrics.json); at the end, the median of the
per-run time ratios.

    python benchmarks/bench_mlp.py                    # Fashion-MNIST, 2 runs
    python benchmarks/bench_mlp.py --data digits --epochs 30 --lr 0.5 --batch-size 32
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from tinygrad_sm.data import Split, minibatches
from tinygrad_sm.train import fit, load


def numpy_fit(split: Split, epochs: int, lr: float, batch_size: int, hidden: int,
              seed: int = 0) -> tuple[dict[str, np.ndarray], list[float], float]:
    """The MLP by hand: returns (final weights, test accuracy per epoch, seconds of training)."""
    classes = int(split.y_train.max()) + 1
    rng = np.random.default_rng(seed)
    W1 = rng.normal(0.0, 0.01, size=(split.num_features, hidden)).astype(np.float32)
    W2 = rng.normal(0.0, 0.01, size=(hidden, classes)).astype(np.float32)
    b1, b2 = np.zeros(hidden, np.float32), np.zeros(classes, np.float32)
    order = np.random.default_rng(seed)
    test_accuracy, seconds = [], 0.0
    for _ in range(epochs):
        start = time.perf_counter()
        for X, y in minibatches(split.X_train, split.y_train, batch_size, order):
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
        seconds += time.perf_counter() - start
        scores = np.maximum(split.X_test @ W1 + b1, 0) @ W2 + b2
        test_accuracy.append(float(np.mean(scores.argmax(axis=1) == split.y_test)))
    return {"W1": W1, "b1": b1, "W2": W2, "b2": b2}, test_accuracy, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="fashion-mnist", choices=["digits", "fashion-mnist"])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    split = load(args.data)
    print(f"{args.data}: MLP {split.num_features} → {args.hidden} ReLU → 10, lr {args.lr}, "
          f"batch {args.batch_size}, {args.epochs} epochs, seed {args.seed}")
    ratios = []
    for run in range(1, args.runs + 1):  # interleaved: engine, then numpy, in every run
        model, history = fit(split, args.epochs, args.lr, args.batch_size, args.seed,
                             model_name="mlp", hidden=args.hidden)
        engine_seconds = sum(history.seconds_per_epoch)
        weights, numpy_accuracy, numpy_seconds = numpy_fit(split, args.epochs, args.lr,
                                                           args.batch_size, args.hidden, args.seed)
        engine_acc, numpy_acc = history.test_accuracy[-1], numpy_accuracy[-1]
        drift = max(float(np.abs(p.data - weights[name]).max())
                    for name, p in model.named_parameters().items())
        ratios.append(engine_seconds / numpy_seconds)
        print(f"run {run}: test accuracy tinygrad_sm {engine_acc:.4f}, numpy by hand "
              f"{numpy_acc:.4f} (difference {abs(engine_acc - numpy_acc):.4f}, within 0.005: "
              f"{'yes' if abs(engine_acc - numpy_acc) <= 0.005 else 'NO'}); training "
              f"{engine_seconds:.1f} s vs {numpy_seconds:.1f} s, ratio {ratios[-1]:.2f}×; "
              f"max weight difference {drift:.1e}")
    print(f"median time ratio over {len(ratios)} runs: {statistics.median(ratios):.2f}× "
          f"(range {min(ratios):.2f}–{max(ratios):.2f}×)")


if __name__ == "__main__":
    main()
