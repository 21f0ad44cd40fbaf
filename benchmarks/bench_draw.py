"""Time drawing and rendering the softmax-regression graph at batch 256.

    python benchmarks/bench_draw.py [--features 784] [--classes 10] [--repeat 5]

Reports the best of a few runs for: building the DOT (plain, and a trace frame), rendering to
SVG and PNG, and which renderer was used.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np

import tinygrad_sm.nn as nn
from tinygrad_sm import Tensor, viz


def best_of(repeat: int, fn) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--features", type=int, default=784)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    X = Tensor(rng.random((args.batch, args.features), dtype=np.float32), name="X")
    model = nn.SoftmaxRegression(args.features, args.classes)
    L = nn.cross_entropy(model(X), rng.integers(0, args.classes, args.batch))
    trace = L.backward(trace=True)

    with tempfile.TemporaryDirectory() as tmp:
        svg, png = os.path.join(tmp, "g.svg"), os.path.join(tmp, "g.png")
        results = {
            "draw": best_of(args.repeat, lambda: viz.draw(L, highlight=model.W)),
            "draw frame 1": best_of(args.repeat, lambda: viz.draw(L, trace=trace, step=1)),
            "draw + render SVG": best_of(args.repeat, lambda: viz.render(viz.draw(L, highlight=model.W), svg)),
            "draw + render PNG": best_of(args.repeat, lambda: viz.render(viz.draw(L, highlight=model.W), png)),
            "render_frames (3 SVG)": best_of(args.repeat, lambda: trace.render_frames(tmp)),
        }
    renderer = viz.find_renderer()
    print(f"softmax regression, batch {args.batch}, {args.features} features, {args.classes} classes; "
          f"renderer: {renderer.name if renderer else 'none'}; best of {args.repeat}")
    for name, seconds in results.items():
        print(f"  {name:24s} {seconds * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
