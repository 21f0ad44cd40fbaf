"""Time drawing and rendering: the softmax-regression graph at batch 256, and graphs large
enough to show how each display scales, against the targets of issues 8 and 9 (the training
job's backprop.html for digits and Fashion-MNIST, with ∂L/∂W as per-class images).

    python benchmarks/bench_draw.py [--features 784] [--classes 10] [--repeat 5]

Reports the best of a few runs for: building the DOT (plain, and a trace frame), rendering to
SVG and PNG, and which renderer was used; then each scaling target with its measured value,
including a page's picture of a 2000 × 2000 tensor.
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
    print("scaling (target in brackets):")
    for name, value, target, unit in scaling_targets() + real_size_targets() + big_tensor_targets():
        verdict = "ok" if value < target else "MISSED"
        print(f"  {name:52s} {value:8.2f} {unit:3s} (< {target:g} {unit}) {verdict}")


def reused_graph(n: int) -> Tensor:
    """x is used again every other op: y = x; y = y*1.0 if i % 2 else y + x."""
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True, name="x")
    y = x
    for i in range(n):
        y = y * 1.0 if i % 2 else y + x
    return y.sum()


def chain(n: int) -> Tensor:
    y = Tensor(np.array([1.0, 2.0]), requires_grad=True, name="x")
    for _ in range(n):
        y = y * 1.0001
    return y.sum()


def seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def scaling_targets() -> list[tuple[str, float, float, str]]:
    L = reused_graph(100)
    render = seconds(lambda: viz.render_bytes(viz.draw(L), "svg"))
    trace = chain(100).backward(trace=True)
    with tempfile.TemporaryDirectory() as tmp:
        page = os.path.join(tmp, "chain.html")
        save = seconds(lambda: trace.save_html(page))
        size = os.path.getsize(page) / 1e6
    long = chain(2000).backward(trace=True)
    text = seconds(lambda: str(long))
    # accumulated() must be linear: 20 000 steps should take about twice 10 000
    half, full = chain(10_000).backward(trace=True), chain(20_000).backward(trace=True)
    def fresh(t):  # without the trace's cached index, so each run does the whole work
        return lambda: (setattr(t, "_terms", None), t.accumulated())
    ratio = (min(seconds(fresh(full)) for _ in range(5))
             / max(min(seconds(fresh(half)) for _ in range(5)), 1e-9))
    return [("render the reused-x graph, n = 100 (~250 nodes), SVG", render, 2, "s"),
            ("save_html of a 100-op chain", save, 3, "s"),
            ("  its size", size, 5, "MB"),
            ("str(trace) of a 2 000-step chain", text, 0.5, "s"),
            ("accumulated(): time at 20 000 steps / at 10 000", ratio, 3, "×")]


def real_size_targets() -> list[tuple[str, float, float, str]]:
    """backprop.html as `tinygrad-sm train` writes it: one example per class, images drawn.
    The time is the median of 3 runs of trace.save_html (diagram, pictures, panels, file)."""
    from tinygrad_sm.data import DataError, load_digits, load_fashion_mnist
    from tinygrad_sm.train import one_per_class

    found = []
    for name, load, shape, (max_s, max_mb) in (("digits", load_digits, (8, 8), (2, 5)),
                                                ("Fashion-MNIST", load_fashion_mnist, (28, 28), (5, 10))):
        try:
            split = load()
        except DataError as e:
            print(f"  (skipped {name}: {e})")
            continue
        batch = one_per_class(split.y_train, 10)
        model = nn.SoftmaxRegression(split.num_features, 10, seed=0)
        L = nn.cross_entropy(model(Tensor(split.X_train[batch], name="X")), split.y_train[batch])
        trace = L.backward(trace=True)
        with tempfile.TemporaryDirectory() as tmp:
            page = os.path.join(tmp, "backprop.html")
            times = sorted(seconds(lambda: trace.save_html(page, image_shape=shape)) for _ in range(3))
            size = os.path.getsize(page) / 1e6
        found += [(f"backprop.html of the {name} job ({len(batch)} examples)", times[1], max_s, "s"),
                  ("  its size", size, max_mb, "MB")]
    return found


def big_tensor_targets() -> list[tuple[str, float, float, str]]:
    """A page's heatmap of a 2000 × 2000 tensor (median of 3), drawn as block means; and, once,
    the same picture with every number kept, as it was before the cap (no target)."""
    from tinygrad_sm import pictures

    x = np.linspace(-3, 3, 2000)
    big = np.sin(2 * x[:, None]) * np.cos(3 * x[None, :])
    runs = sorted(seconds(lambda: pictures.heatmap_html(big, "W")) for _ in range(3))
    size = len(pictures.heatmap_html(big, "W").encode()) / 1e6
    cap = pictures.PAGE_MAX_SIDE, pictures.PAGE_MAX_CELLS
    pictures.PAGE_MAX_SIDE, pictures.PAGE_MAX_CELLS = 10**9, 10**12
    try:
        start = time.perf_counter()
        whole = len(pictures.heatmap_html(big, "W").encode()) / 1e6
        print(f"  (every number kept, as before the cap: {time.perf_counter() - start:.2f} s, "
              f"{whole:.1f} MB)")
    finally:
        pictures.PAGE_MAX_SIDE, pictures.PAGE_MAX_CELLS = cap
    return [("page heatmap of a 2000 × 2000 tensor (block means)", runs[1], 2, "s"),
            ("  its size", size, 5, "MB")]


if __name__ == "__main__":
    main()
