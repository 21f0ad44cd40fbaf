"""One epoch of minibatch SGD softmax regression: tinygrad_sm against the same math in numpy.

Two loops, each at two shapes (synthetic data, 10 classes, lr 0.1, W ~ N(0, 0.01²)):
  train_epoch  the training command's own loop (`train.train_epoch`: loss and accuracy too)
  user loop    the README-style loop: cross_entropy(Tensor(xb) @ W + b, yb).backward(), then
               W.data -= lr * W.grad (the numpy side: forward, loss, (ŷ − y)/n, Xᵀ·g, update)
  shapes       Fashion-MNIST's (60000 × 784 float32, batch 256) and digits' (1438 × 64, batch 32)
Each numpy side does the same work by hand on the same batches in the same order. The runs are
interleaved in pairs (engine, numpy; then numpy, engine; ...) and the median of the per-pair
ratios is printed, so a machine that gets busier or quieter cannot flatter either side.

The loops run with one BLAS thread on both sides (--blas-threads), as the training command
does. Also printed: what the in-place protection (freezing what backward reads) costs, measured the
same way with it switched off; OpenBLAS threads (default vs 1) on an idle machine and with
another process burning a core; and the memory held after 1 and 5 epochs.

    python benchmarks/bench_epoch.py               # everything (about two minutes)
    python benchmarks/bench_epoch.py --pairs 41    # more pairs, steadier medians
"""
from __future__ import annotations

import argparse
import gc
import resource
import statistics
import subprocess
import sys
import time
import timeit
import tracemalloc
from typing import Callable

import numpy as np
from threadpoolctl import threadpool_limits

import tinygrad_sm.nn as nn
import tinygrad_sm.op as op_module
import tinygrad_sm.ops as ops_module
import tinygrad_sm.tensor as tensor_module
from tinygrad_sm import Tensor
from tinygrad_sm.data import minibatches
from tinygrad_sm.optim import SGD
from tinygrad_sm.train import train_epoch

C = 10  # classes
LR = 0.1
SHAPES = {"Fashion-MNIST": (60000, 784, 256), "digits": (1438, 64, 32)}
EPOCHS_PER_TIMING = {"Fashion-MNIST": 1, "digits": 20}  # a timing of a few ms is mostly noise
TARGETS = {"Fashion-MNIST": 1.15, "digits": 1.5}


def make_data(rows: int, features: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, C, size=rows)
    centres = rng.normal(0, 1, size=(C, features)).astype(np.float32)
    X = (rng.random((rows, features), dtype=np.float32) * 0.5
         + 0.5 * (centres[y] > 0)).astype(np.float32)
    return X, y


def numpy_epoch(W: np.ndarray, b: np.ndarray, X, y, batch_size, lr, seed,
                metrics: bool = True) -> tuple[float, float]:
    """The same epoch by hand; returns (mean loss, accuracy) like train_epoch (metrics=False:
    the user loop's work, which has no accuracy and keeps no running loss)."""
    total_loss, correct = 0.0, 0
    for xb, yb in minibatches(X, y, batch_size, np.random.default_rng(seed)):
        n, rows = len(yb), np.arange(len(yb))
        o = xb @ W + b
        shifted = o - o.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        s = e.sum(axis=1, keepdims=True)
        loss = -np.mean(shifted[rows, yb] - np.log(s[:, 0]))
        if metrics:
            total_loss += float(loss) * n
            correct += int(np.count_nonzero(o.argmax(axis=1) == yb))
        g = e / s
        g[rows, yb] -= 1
        g /= n
        W -= lr * (xb.T @ g)
        b -= lr * g.sum(axis=0)
    return total_loss / len(y), correct / len(y)


def user_epoch(W: Tensor, b: Tensor, X, y, batch_size, lr, seed) -> None:
    """The README-style loop."""
    for xb, yb in minibatches(X, y, batch_size, np.random.default_rng(seed)):
        nn.cross_entropy(Tensor(xb) @ W + b, yb).backward()
        W.data -= lr * W.grad
        b.data -= lr * b.grad
        W.grad = b.grad = None


def seconds(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def page_faults(call: Callable[[], object]) -> int:
    """Minor page faults during one call: a loop whose freed arrays glibc hands back to the system
    pays for those pages again at a later batch (see benchmarks/README.md)."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    call()
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


def paired(a: Callable[[], object], b: Callable[[], object], pairs: int) -> tuple[list[float], float, float]:
    """Time a and b in alternating order; returns per-pair ratios a/b and the median times."""
    ratios, times_a, times_b = [], [], []
    for k in range(pairs):
        if k % 2:
            tb, ta = seconds(b), seconds(a)
        else:
            ta, tb = seconds(a), seconds(b)
        ratios.append(ta / tb)
        times_a.append(ta)
        times_b.append(tb)
    return ratios, statistics.median(times_a), statistics.median(times_b)


def summary(ratios: list[float]) -> str:
    return (f"median {statistics.median(ratios):5.2f}×  "
            f"(pairs: {min(ratios):.2f}–{max(ratios):.2f}×, n={len(ratios)})")


def compare_loops(shape: str, pairs: int) -> None:
    rows, features, batch = SHAPES[shape]
    X, y = make_data(rows, features)
    model = nn.SoftmaxRegression(features, C, seed=0)
    W0, b0 = model.W.data.copy(), model.b.data.copy()
    opt = SGD(model.parameters(), lr=LR)
    W, b = W0.copy(), b0.copy()
    train_epoch(model, opt, X, y, batch, np.random.default_rng(0))
    numpy_epoch(W, b, X, y, batch, LR, 0)
    drift = float(np.max(np.abs(model.W.data - W)))

    Wt = Tensor(W0.copy(), requires_grad=True)
    bt = Tensor(b0.copy(), requires_grad=True)
    Wu, bu = W0.copy(), b0.copy()
    runs = {
        "train_epoch": (lambda: train_epoch(model, opt, X, y, batch, np.random.default_rng(0)),
                        lambda: numpy_epoch(W, b, X, y, batch, LR, 0)),
        "user loop": (lambda: user_epoch(Wt, bt, X, y, batch, LR, 0),
                      lambda: numpy_epoch(Wu, bu, X, y, batch, LR, 0, metrics=False)),
    }
    print(f"{shape}: {rows}×{features} float32, batch {batch}  (target ≤ {TARGETS[shape]}×; "
          f"max |W_engine − W_numpy| after one epoch {drift:.1e})")
    reps = EPOCHS_PER_TIMING[shape]
    repeated = lambda run: (lambda: [run() for _ in range(reps)])
    epoch_seconds = {}
    for name, (engine, numpy_side) in runs.items():
        engine(), numpy_side()  # warm up
        ratios, t_engine, t_numpy = paired(repeated(engine), repeated(numpy_side), pairs)
        epoch_seconds[name] = t_engine / reps
        print(f"  {name:12s} engine {t_engine / reps * 1e3:7.1f} ms  numpy "
              f"{t_numpy / reps * 1e3:7.1f} ms per epoch  ratio {summary(ratios)}")
        print(f"  {'':12s} page faults in an epoch: engine {page_faults(engine)}, numpy "
              f"{page_faults(numpy_side)} (memory the allocator gave back and takes again)")
    report_protection(runs, epoch_seconds, X[:batch].copy(), reps, pairs)


def report_protection(runs, epoch_seconds, batch_array, reps, pairs) -> None:
    """What freezing the arrays backward reads costs: counted calls × the time of one call (a
    steady figure), and epochs with it switched off, interleaved (noisy on a shared machine)."""
    frozen = tensor_module.freeze  # the engine calls it from tensor.py
    calls = 0

    def counting(op, output, inputs):
        nonlocal calls
        calls += 1
        frozen(op, output, inputs)

    tensor_module.freeze = counting
    try:
        runs["train_epoch"][0]()
    finally:
        tensor_module.freeze = frozen
    probe = ops_module.MatMul()
    probe.save(batch_array)

    def freeze_and_thaw():  # what one saved array costs: read-only while the graph lives, then not
        frozen(probe, batch_array, [])
        op_module.thaw(probe)

    one_call = min(timeit.repeat(freeze_and_thaw, number=2000, repeat=7)) / 2000
    share = calls * one_call / epoch_seconds["train_epoch"]
    print(f"  in-place protection: {calls} ops per epoch × {one_call * 1e6:.2f} µs (one saved array) = "
          f"{100 * share:.2f} % of a train_epoch")

    def unprotected():
        tensor_module.freeze = lambda op, output, inputs: None
        try:
            runs["train_epoch"][0]()
        finally:
            tensor_module.freeze = frozen

    repeated = lambda run: (lambda: [run() for _ in range(reps)])
    ratios, _, _ = paired(repeated(runs["train_epoch"][0]), repeated(unprotected), pairs)
    cost = [100 * (r - 1) for r in ratios]
    print(f"    switched off, interleaved: {statistics.median(cost):+.1f} % "
          f"(pairs: {min(cost):+.1f} to {max(cost):+.1f} %; machine noise dominates)")


def compare_blas_threads(pairs: int, rows: int) -> None:
    """train_epoch with OpenBLAS's default threads against one thread, idle and busy."""
    _, features, batch = SHAPES["Fashion-MNIST"]
    X, y = make_data(rows, features)
    model = nn.SoftmaxRegression(features, C, seed=0)
    opt = SGD(model.parameters(), lr=LR)
    epoch = lambda: train_epoch(model, opt, X, y, batch, np.random.default_rng(0))

    def one_thread():
        with threadpool_limits(limits=1, user_api="blas"):
            epoch()

    print(f"OpenBLAS threads, train_epoch on {rows}×{features} (batch {batch}); "
          f"ratio = one thread / default threads:")
    for load in ("idle", "busy"):
        burner = None
        if load == "busy":  # another process burning a core, as when the machine is shared
            burner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
            time.sleep(0.5)
        try:
            epoch(), one_thread()
            ratios, t_one, t_default = paired(one_thread, epoch, pairs)
        finally:
            if burner is not None:
                burner.kill()
                burner.wait()
        print(f"  {load}: default {t_default * 1e3:7.1f} ms  one thread {t_one * 1e3:7.1f} ms  "
              f"{summary(ratios)}")


def held_memory(run: Callable[[int], object], epochs: int) -> list[tuple[int, int, int]]:
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


def report_memory() -> None:
    rows, features, batch = SHAPES["Fashion-MNIST"]
    X, y = make_data(rows, features)
    model = nn.SoftmaxRegression(features, C, seed=0)
    opt = SGD(model.parameters(), lr=LR)
    print("memory held after each train_epoch (tracemalloc; the data set itself is "
          f"{(X.nbytes + y.nbytes) / 2**20:.0f} MiB and allocated before tracing):")
    held = held_memory(lambda k: train_epoch(model, opt, X, y, batch, np.random.default_rng(k)), 5)
    for epoch, current, peak in held:
        if epoch in (1, 5):
            print(f"  epoch {epoch}: held {current / 2**20:6.2f} MiB, peak during epoch "
                  f"{peak / 2**20:6.2f} MiB")
    print(f"  growth from epoch 1 to 5: {(held[-1][1] - held[0][1]) / 2**10:+.1f} KiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=21, help="interleaved engine/numpy pairs")
    parser.add_argument("--blas-rows", type=int, default=15360,
                        help="rows for the BLAS-thread comparison (a busy machine is slow)")
    parser.add_argument("--blas-threads", type=int, default=1,
                        help="BLAS threads for the loop comparisons, both sides (default 1, as "
                             "`tinygrad-sm train` runs; 0: OpenBLAS's default)")
    parser.add_argument("--skip-blas", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args()
    print(f"BLAS threads in the loop comparisons: {args.blas_threads or 'default'}")
    with threadpool_limits(limits=args.blas_threads or None, user_api="blas"):
        for shape in SHAPES:
            compare_loops(shape, args.pairs)
    if not args.skip_blas:
        compare_blas_threads(max(3, args.pairs // 2), args.blas_rows)
    if not args.skip_memory:
        report_memory()


if __name__ == "__main__":
    main()
