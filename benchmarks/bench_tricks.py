"""Each speed trick left in the engine against the plain way it replaces, in the same run.

Issue 17 keeps a trick only with its measured gain: the engine's comments cite this file. Each
pair times the plain way and the trick per call (best of a few thousand calls), in alternating
order (plain first, then trick first, ...); the medians of the per-pair times and of the
per-pair ratios are printed (the pairing is bench_reductions.py's, which times the row and column
reductions the same way).

    python benchmarks/bench_tricks.py [--pairs 11]
"""
from __future__ import annotations

import argparse
import statistics
import threading
import timeit
from typing import Callable

import numpy as np

from bench_reductions import alternating
from tinygrad_sm import Tensor

SCORES = np.random.default_rng(0).random((32, 10), dtype=np.float32)
BATCH = np.random.default_rng(1).random((32, 64), dtype=np.float32)
LOCK = threading.RLock()


def seed_plain():
    return np.ones((), np.float32)   # what backward would seed a 0-d loss with


def seed_trick():
    return np.array(1, np.float32)


def setflags_plain():
    BATCH.setflags(write=False)
    BATCH.setflags(write=True)


def setflags_trick():
    BATCH.setflags(False)
    BATCH.setflags(True)


def result_plain():
    return Tensor(SCORES)           # a result made through __init__ and its checks


def result_trick():
    out = object.__new__(Tensor)    # as Tensor._apply makes one: every field set, nothing checked
    out._data, out.grad, out._name = SCORES, None, None
    out.op, out.inputs, out.requires_grad = None, (), False
    return out


INPUTS = (Tensor(SCORES), Tensor(SCORES, requires_grad=True))


def any_generator():
    return any(x.requires_grad for x in INPUTS)


def any_list():
    return any([x.requires_grad for x in INPUTS])


def lock_per_node():                # the digits graph has 5 nodes
    for _ in range(5):
        with LOCK:
            pass


def lock_per_pass():
    with LOCK:
        for _ in range(5):
            pass


TRICKS: dict[str, tuple[Callable[[], object], Callable[[], object], str]] = {
    "0-d seed: np.array(1) for np.ones(())": (seed_plain, seed_trick, "autograd.seed_gradient"),
    "setflags by position, not by keyword": (setflags_plain, setflags_trick, "op.freeze / op.thaw"),
    "a result by object.__new__, not __init__": (result_plain, result_trick, "Tensor._apply"),
    "any() of a list, not of a generator (2 inputs)": (any_generator, any_list, "Tensor._apply"),
    "lock once a pass, not once a node (5 nodes)": (lock_per_node, lock_per_pass,
                                                    "autograd.backward"),
}


def per_call(fn: Callable[[], object], number: int = 3000) -> float:
    return min(timeit.repeat(fn, number=number, repeat=3)) / number


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=11)
    args = parser.parse_args()
    print(f"{'trick':46s} {'plain':>9s} {'trick':>9s}  plain / trick (median of {args.pairs} pairs)")
    for name, (plain, trick, where) in TRICKS.items():
        plains, tricks = alternating(plain, trick, args.pairs, per_call)
        ratios = [p / t for p, t in zip(plains, tricks)]
        print(f"{name:46s} {statistics.median(plains) * 1e6:7.2f} µs {statistics.median(tricks) * 1e6:7.2f} µs"
              f"  {statistics.median(ratios):5.2f}× ({min(ratios):.2f}–{max(ratios):.2f}×)  in {where}")


if __name__ == "__main__":
    main()
