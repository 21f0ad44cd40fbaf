"""PNG of the softmax-regression diagram: graphviz-pure's own -Tpng vs png.png_bytes (SVG + resvg).

    python benchmarks/bench_png.py [--batch 256] [--pairs 15]

Runs the two interleaved (A B A B ...) on the same DOT source and prints each one's median time
and the median of the per-pair ratios png_bytes / plain.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sysconfig
import time

import numpy as np

import tinygrad_sm.nn as nn
from tinygrad_sm import Tensor, viz
from tinygrad_sm.png import SANS, png_bytes


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--features", type=int, default=784)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--pairs", type=int, default=15)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    X = Tensor(rng.random((args.batch, args.features)), name="X")
    model = nn.SoftmaxRegression(args.features, args.classes)
    L = nn.cross_entropy(model(X), rng.integers(0, args.classes, args.batch))
    L.backward()
    # laid out in the font the PNG is painted with, as viz is meant to do
    source = viz.draw(L, highlight=model.W).source.replace("fontname=Helvetica", f'fontname="{SANS}"')
    pure = (shutil.which("graphviz-pure", path=sysconfig.get_path("scripts"))
            or shutil.which("graphviz-pure"))

    def plain() -> bytes:
        return subprocess.run([pure, "-q", "-Tpng"], input=source.encode(), capture_output=True,
                              check=True).stdout

    plain(), png_bytes(source, pure)  # warm the caches
    plain_times, new_times = [], []
    for _ in range(args.pairs):
        plain_times.append(timed(plain))
        new_times.append(timed(lambda: png_bytes(source, pure)))
    ratios = [n / p for n, p in zip(new_times, plain_times)]
    print(f"softmax regression, batch {args.batch}, {args.features} features, {args.classes} classes; "
          f"{args.pairs} interleaved pairs")
    print(f"  graphviz-pure -Tpng       {statistics.median(plain_times) * 1000:8.1f} ms (median)")
    print(f"  png_bytes (SVG + resvg)   {statistics.median(new_times) * 1000:8.1f} ms (median)")
    print(f"  ratio png_bytes / plain   {statistics.median(ratios):8.2f} (median of per-pair ratios)")


if __name__ == "__main__":
    main()
