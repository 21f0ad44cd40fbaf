"""Time and peak memory of pictures of big tensors, against issue 21's targets (item 17):
drawing and paging a graph with a 60000 × 784 batch, or a 5000 × 5000 float64 tensor, takes
< 3 s and < 4× the tensor's bytes of peak memory; a tensor's `_repr_html_` likewise.

    python benchmarks/bench_big_pictures.py [--random] [--cases draw,save_html,...]

Each case runs in a fresh Python process (so one case's memory is not another's), twice: once
timed, with its peak resident memory (ru_maxrss at the end minus the resident memory just
before the work: an upper bound of what the work added), and once under tracemalloc (the peak of
Python's and numpy's allocations during the work; slower, so not timed). The batch is
Fashion-MNIST's training set (tinygrad_sm.data.load_fashion_mnist) when it is installed, else
(or with --random) random float32 of that shape. Cases:

  draw        viz.draw of the softmax-regression graph X @ W + b → cross_entropy, with the
              trace of its backward pass, rendered to SVG (image_shape 28 × 28)
  save_html   trace.save_html of that graph: the diagram, every step's panel, the check
  big         a 5000 × 5000 float64 A: (A * 2).sum().backward(trace=True), then save_html
              (also said: the save_html part alone, from the memory held once the trace exists)

Wall-clock time depends on what else runs on the machine; the CPU time (this process and the
renderer it runs) is printed beside it.
  repr        a 5000 × 5000 float64 tensor's _repr_html_ (the notebook card)
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc

import numpy as np

TIME_TARGET, MEMORY_TARGET = 3.0, 4.0     # seconds; multiples of the tensor's bytes
CASES = ("draw", "save_html", "big", "repr")


def rss_bytes() -> int:
    """This process's resident memory now (Linux /proc)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def cpu_seconds() -> float:
    """CPU time of this process and of the renderers it ran (dot is a child process)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def max_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024   # Linux: KiB


def batch_graph(random: bool):
    """The full-batch softmax-regression graph, its trace and X's bytes."""
    import tinygrad_sm.nn as nn
    from tinygrad_sm import Tensor
    source = "random"
    if not random:
        try:
            from tinygrad_sm.data import load_fashion_mnist
            split = load_fashion_mnist()
            X, y, source = split.X_train, split.y_train, "Fashion-MNIST"
        except Exception:   # not installed: the same shape at random
            random = True
    if random:
        rng = np.random.default_rng(0)
        X, y = rng.random((60000, 784), dtype=np.float32), rng.integers(0, 10, 60000)
    model = nn.SoftmaxRegression(X.shape[1], 10)
    x = Tensor(X, name="X")
    L = nn.cross_entropy(model(x), y)
    return L, L.backward(trace=True), X.nbytes, f"{source} X {X.shape[0]} × {X.shape[1]} {X.dtype}"


def setup(case: str, random: bool, folder: str):
    """(what to measure, the tensor's bytes, what it is); the work itself is not done here."""
    from tinygrad_sm import Tensor, viz
    if case in ("draw", "save_html"):
        L, trace, nbytes, what = batch_graph(random)
        if case == "draw":
            work = lambda: viz.render(viz.draw(L, trace=trace, image_shape=(28, 28)),  # noqa: E731
                                      os.path.join(folder, "graph.svg"))
        else:
            work = lambda: trace.save_html(os.path.join(folder, "page.html"), image_shape=(28, 28))  # noqa: E731
        return work, nbytes, what
    A = Tensor(np.random.default_rng(0).standard_normal((5000, 5000)), requires_grad=True, name="A")
    if case == "repr":
        return A._repr_html_, A.data.nbytes, "A 5000 × 5000 float64"
    parts = {}

    def work():
        cpu = cpu_seconds()
        trace = (A * 2.0).sum().backward(trace=True)
        parts["rss_before_page"], parts["trace_seconds"] = rss_bytes(), time.perf_counter() - start[0]
        page_start, page_cpu = time.perf_counter(), cpu_seconds()
        parts["trace_cpu"] = page_cpu - cpu
        trace.save_html(os.path.join(folder, "page.html"))
        parts["page_seconds"], parts["page_cpu"] = time.perf_counter() - page_start, cpu_seconds() - page_cpu
    start = [0.0]
    work.parts, work.start = parts, start   # type: ignore[attr-defined]
    return work, A.data.nbytes, "A 5000 × 5000 float64, (A * 2).sum()"


def measure(case: str, random: bool, traced: bool) -> dict:
    """Run one case in this process and return its figures."""
    with tempfile.TemporaryDirectory() as folder:
        work, nbytes, what = setup(case, random, folder)
        result = {"case": case, "what": what, "bytes": nbytes}
        if traced:
            tracemalloc.start()
            base = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            work()
            result["traced_peak"] = tracemalloc.get_traced_memory()[1] - base
            tracemalloc.stop()
            return result
        before = rss_bytes()
        start, cpu = time.perf_counter(), cpu_seconds()
        if hasattr(work, "start"):
            work.start[0] = start
        work()
        result.update(seconds=time.perf_counter() - start, cpu_seconds=cpu_seconds() - cpu,
                      rss_peak=max_rss_bytes() - before)
        parts = getattr(work, "parts", {})
        if parts:   # the save_html part alone: from the memory held once the trace is made
            result.update(trace_seconds=parts["trace_seconds"], page_seconds=parts["page_seconds"],
                          trace_cpu=parts["trace_cpu"], page_cpu=parts["page_cpu"],
                          page_rss_peak=max_rss_bytes() - parts["rss_before_page"])
        return result


def in_fresh_process(case: str, random: bool, traced: bool) -> dict:
    command = [sys.executable, __file__, "--one", case] + ["--random"] * random + ["--traced"] * traced
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{case}: failed\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def verdict(value: float, target: float) -> str:
    return "ok" if value < target else "MISSED"


def report(timed: dict, traced: dict) -> list[str]:
    nbytes = timed["bytes"]
    lines = [f"{timed['case']}: {timed['what']} ({nbytes / 1e6:.0f} MB)"]

    def row(name: str, seconds: float | None, peak: int, note: str = "") -> None:
        took = (f"{seconds:6.2f} s (< {TIME_TARGET:g} s) {verdict(seconds, TIME_TARGET):6s}"
                if seconds is not None else " " * 24)
        lines.append(f"  {name:28s} {took} peak {peak / 1e6:5.0f} MB = {peak / nbytes:4.2f}× bytes "
                     f"(< {MEMORY_TARGET:g}×) {verdict(peak / nbytes, MEMORY_TARGET)}{note}")
    row("whole case, RSS", timed["seconds"], timed["rss_peak"], f"  (cpu {timed['cpu_seconds']:.2f} s)")
    row("whole case, tracemalloc", None, traced["traced_peak"])
    if "page_seconds" in timed:
        lines.append(f"  of which forward + backward(trace=True) {timed['trace_seconds']:.2f} s "
                     f"(cpu {timed['trace_cpu']:.2f} s)")
        row("save_html alone, RSS", timed["page_seconds"], timed["page_rss_peak"],
            f"  (cpu {timed['page_cpu']:.2f} s)")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--random", action="store_true", help="random data even if Fashion-MNIST is installed")
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--one", choices=CASES, help=argparse.SUPPRESS)        # a case, in this process
    parser.add_argument("--traced", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, args.random, args.traced)))
        return
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; "
          f"targets: < {TIME_TARGET:g} s, peak < {MEMORY_TARGET:g}× the tensor's bytes")
    for case in args.cases.split(","):
        timed = in_fresh_process(case, args.random, traced=False)
        traced = in_fresh_process(case, args.random, traced=True)
        print("\n".join(report(timed, traced)), flush=True)


if __name__ == "__main__":
    main()
