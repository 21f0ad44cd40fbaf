"""One epoch of minibatch SGD softmax regression: tinygrad_sm against the same math in numpy.

Synthetic data of Fashion-MNIST's shape (60000 × 784 float32, 10 classes), batch 256, lr 0.1,
W ~ N(0, 0.01²). The engine side is the training command's own loop (`train.train_epoch`); the
numpy side does the same work by hand (forward, loss and accuracy, (ŷ − y)/n, Xᵀ·g, column sum,
update) on the same batches in the same order. Prints the time per epoch of each (best of
--repeat), their ratio, and the memory held after 1 and after 5 epochs.

    python benchmarks/bench_epoch.py
    python benchmarks/bench_epoch.py --rows 1438 --features 64 --batch-size 32   # digits' size
"""
from __future__ import annotations

import argparse
import gc
import time
import tracemalloc
from typing import Callable

import numpy as np

import tinygrad_sm.nn as nn
from tinygrad_sm.data import minibatches
from tinygrad_sm.optim import SGD
from tinygrad_sm.train import train_epoch

C = 10  # classes


def make_data(rows: int, features: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, C, size=rows)
    centres = rng.normal(0, 1, size=(C, features)).astype(np.float32)
    X = (rng.random((rows, features), dtype=np.float32) * 0.5
         + 0.5 * (centres[y] > 0)).astype(np.float32)
    return X, y


def numpy_epoch(W: np.ndarray, b: np.ndarray, X, y, batch_size, lr, seed) -> tuple[float, float]:
    """The same epoch by hand; returns (mean loss, accuracy) like train_epoch."""
    total_loss, correct = 0.0, 0
    for xb, yb in minibatches(X, y, batch_size, np.random.default_rng(seed)):
        n, rows = len(yb), np.arange(len(yb))
        o = xb @ W + b
        shifted = o - o.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        s = e.sum(axis=1, keepdims=True)
        total_loss += -np.mean(shifted[rows, yb] - np.log(s[:, 0])) * n
        correct += int(np.count_nonzero(o.argmax(axis=1) == yb))
        g = e / s
        g[rows, yb] -= 1
        g /= n
        W -= lr * (xb.T @ g)
        b -= lr * g.sum(axis=0)
    return total_loss / len(y), correct / len(y)


def engine_epoch(model: nn.SoftmaxRegression, opt: SGD, X, y, batch_size, seed) -> tuple[float, float]:
    return train_epoch(model, opt, X, y, batch_size, np.random.default_rng(seed))


def seconds(call: Callable[[], object]) -> float:
    """Wall-clock seconds of one call."""
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def held_memory(run, epochs: int) -> list[tuple[int, int, int]]:
    """(epoch, bytes held after it, peak during it) by tracemalloc, which numpy reports to."""
    gc.collect()
    tracemalloc.start()
    rows = []
    for k in range(epochs):
        tracemalloc.reset_peak()
        run(k)
        gc.collect()
        current, peak = tracemalloc.get_traced_memory()
        rows.append((k + 1, current, peak))
    tracemalloc.stop()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="timed epochs per side (best is kept)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--rows", type=int, default=60000, help="examples (Fashion-MNIST: 60000)")
    parser.add_argument("--features", type=int, default=784, help="pixels (Fashion-MNIST: 784)")
    args = parser.parse_args()

    X, y = make_data(args.rows, args.features)
    model = nn.SoftmaxRegression(args.features, C, seed=0)
    W, b = model.W.data.copy(), model.b.data.copy()
    opt = SGD(model.parameters(), lr=args.lr)

    run_engine = lambda k: engine_epoch(model, opt, X, y, args.batch_size, seed=k)
    run_numpy = lambda k: numpy_epoch(W, b, X, y, args.batch_size, args.lr, seed=k)
    run_engine(0), run_numpy(0)  # warm up; also checks both learn the same weights
    drift = float(np.max(np.abs(model.W.data - W)))

    # interleave the two sides so drift in machine speed hits both alike
    t_numpy = t_engine = float("inf")
    for _ in range(args.repeat):  # every timed epoch uses batch order 0
        t_numpy = min(t_numpy, seconds(lambda: run_numpy(0)))
        t_engine = min(t_engine, seconds(lambda: run_engine(0)))

    print(f"one epoch, {args.rows}×{args.features} float32, batch {args.batch_size}, lr {args.lr} "
          f"(best of {args.repeat})")
    print(f"  numpy by hand : {t_numpy * 1000:8.1f} ms")
    print(f"  tinygrad_sm   : {t_engine * 1000:8.1f} ms")
    print(f"  ratio         : {t_engine / t_numpy:8.2f}×   (target at Fashion-MNIST’s shape: ≤ 1.30×)")
    print(f"  max |W_engine − W_numpy| after one epoch: {drift:.2e}")

    print("memory held after each epoch (tracemalloc; the data set itself is "
          f"{(X.nbytes + y.nbytes) / 2**20:.0f} MiB and allocated before tracing):")
    rows = held_memory(run_engine, 5)
    for epoch, current, peak in rows:
        if epoch in (1, 5):
            print(f"  tinygrad_sm epoch {epoch}: held {current / 2**20:6.2f} MiB, "
                  f"peak during epoch {peak / 2**20:6.2f} MiB")
    growth = rows[-1][1] - rows[0][1]
    print(f"  growth from epoch 1 to 5: {growth / 2**10:+.1f} KiB")


if __name__ == "__main__":
    main()
