"""Instructions one training batch costs the engine, counted by valgrind's callgrind: a figure
that does not move with the machine's load, so two versions of the engine can be compared on
a shared machine (wall-clock ratios there move by ±20 %).

One batch = the README's user loop at digits' shape (32 × 64 float32, 10 classes): forward,
cross-entropy, backward, `W.data -= lr * W.grad`. The count is (run of N batches − run of none)
/ N, so start-up and imports cancel out.

    python benchmarks/bench_instructions.py              # this checkout's engine
    PYTHONPATH=/path/to/other/checkout python benchmarks/bench_instructions.py   # another one
    python benchmarks/bench_instructions.py --unprotected   # with the in-place protection off

OpenBLAS starts one thread (OPENBLAS_NUM_THREADS=1): its idle threads spin, and what they spin
was counted too (three counts of one checkout ranged over 404–453 k; with one thread, 413 k each
time). Hash randomisation is off (PYTHONHASHSEED=0).
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys

BATCHES = """
import sys
import numpy as np
from threadpoolctl import threadpool_limits
import tinygrad_sm.nn as nn
import tinygrad_sm.tensor as engine_tensor
from tinygrad_sm import Tensor
if sys.argv[2] == "unprotected":  # nothing saved is made read-only (measurement only)
    engine_tensor.freeze = lambda op, output, inputs: None
rng = np.random.default_rng(0)
X, y = rng.random((32, 64), dtype=np.float32), rng.integers(0, 10, 32)
W = Tensor(rng.normal(0, .01, (64, 10)).astype(np.float32), requires_grad=True)
b = Tensor(np.zeros(10, np.float32), requires_grad=True)
with threadpool_limits(1, "blas"):
    for _ in range(int(sys.argv[1])):
        nn.cross_entropy(Tensor(X) @ W + b, y).backward()
        W.data -= 0.1 * W.grad
        b.data -= 0.1 * b.grad
        W.grad = b.grad = None
"""


def instructions(batches: int, protection: str) -> int:
    done = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                           sys.executable, "-c", BATCHES, str(batches), protection],
                          capture_output=True, text=True, check=True,
                          env={**os.environ, "PYTHONHASHSEED": "0", "OPENBLAS_NUM_THREADS": "1"},
                          cwd="/")  # not this folder: `-c` would import the package from here
    return int(re.search(r"Collected : (\d+)", done.stderr).group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=1000)
    parser.add_argument("--unprotected", action="store_true",
                        help="switch off freezing what backward reads (this engine only)")
    args = parser.parse_args()
    protection = "unprotected" if args.unprotected else "protected"
    if shutil.which("valgrind") is None:
        sys.exit("bench_instructions: needs valgrind (Debian package valgrind)")
    import tinygrad_sm
    per_batch = (instructions(args.batches, protection)
                 - instructions(0, protection)) / args.batches
    print(f"{tinygrad_sm.__file__}: {per_batch / 1000:.0f} k instructions per digits batch "
          f"(forward + backward + update, {args.batches} batches, {protection})")


if __name__ == "__main__":
    main()
