"""The row max, row sum and column sum of a batch: numpy's own axis reductions against
tinygrad_sm.reductions, at the shapes of a training batch (32 and 256 rows of 10 class scores).

Each pair times both sides on the same array (best of a few thousand calls each), in
alternating order; the medians of the per-pair times and of the per-pair ratios are printed.

    python benchmarks/bench_reductions.py [--pairs 11]
"""
from __future__ import annotations

import argparse
import statistics
import timeit
from typing import Callable

import numpy as np
from threadpoolctl import threadpool_limits

from tinygrad_sm.reductions import column_sum, row_max, row_sum

CASES = {  # name: (numpy's own, the fast one)
    "row max, max(axis=1)": (lambda a: a.max(axis=1, keepdims=True), row_max),
    "row sum, sum(axis=1)": (lambda a: a.sum(axis=1, keepdims=True), row_sum),
    "column sum, sum(axis=0)": (lambda a: a.sum(axis=0), column_sum),
}


def per_call(fn, a: np.ndarray, number: int = 2000) -> float:
    return min(timeit.repeat(lambda: fn(a), number=number, repeat=3)) / number


def alternating(plain: Callable, fast: Callable, pairs: int,
                time_one: Callable[[Callable], float]) -> tuple[list[float], list[float]]:
    """The times of plain and fast, `pairs` of each, taken in alternating order (plain first,
    then fast first, ...), so a machine getting busier or quieter favours neither."""
    plains, fasts = [], []
    for k in range(pairs):
        first, second = (plain, fast) if k % 2 == 0 else (fast, plain)
        times = {first: time_one(first), second: time_one(second)}
        plains.append(times[plain])
        fasts.append(times[fast])
    return plains, fasts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=11)
    args = parser.parse_args()
    with threadpool_limits(limits=1, user_api="blas"):  # as `tinygrad-sm train` runs
        for rows in (32, 256):
            a = np.random.default_rng(0).normal(size=(rows, 10)).astype(np.float32)
            print(f"{rows} rows × 10 columns, float32:")
            for name, (plain, fast) in CASES.items():
                plains, fasts = alternating(plain, fast, args.pairs, lambda fn: per_call(fn, a))
                ratio = statistics.median(p / f for p, f in zip(plains, fasts))
                print(f"  {name:24s} numpy {statistics.median(plains) * 1e6:6.2f} µs   "
                      f"reductions.py {statistics.median(fasts) * 1e6:6.2f} µs   "
                      f"numpy / fast {ratio:5.2f}×")


if __name__ == "__main__":
    main()
