"""`import tinygrad_sm` in a fresh process, against `import numpy` (its floor: the engine needs
numpy), interleaved in pairs (numpy, package; package, numpy; ...), median of the pair ratios.

    python benchmarks/bench_import.py            # 15 pairs
    python benchmarks/bench_import.py --pairs 31

Also prints which display libraries the import loaded (none is the design: a display loads
when it is first used).
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

PROBE = ("import sys, time; t = time.perf_counter(); import {module}; "
         "t = time.perf_counter() - t; import json; "
         "print(json.dumps([t, sorted(m for m in ('graphviz', 'rich', 'resvg_py', 'matplotlib', "
         "'IPython') if m in sys.modules)]))")


def import_seconds(module: str) -> tuple[float, list[str]]:
    done = subprocess.run([sys.executable, "-X", "frozen_modules=on", "-c", PROBE.format(module=module)],
                          capture_output=True, text=True, check=True)
    seconds, loaded = json.loads(done.stdout)
    return seconds, loaded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=15)
    pairs = parser.parse_args().pairs
    ratios, ours, floor, loaded = [], [], [], []
    for k in range(pairs):
        order = ("numpy", "tinygrad_sm") if k % 2 == 0 else ("tinygrad_sm", "numpy")
        times = {}
        for module in order:
            times[module], found = import_seconds(module)
            if module == "tinygrad_sm":
                loaded = found
        ours.append(times["tinygrad_sm"])
        floor.append(times["numpy"])
        ratios.append(times["tinygrad_sm"] / times["numpy"])
    print(f"import tinygrad_sm: median {statistics.median(ours) * 1e3:.0f} ms "
          f"(range {min(ours) * 1e3:.0f}–{max(ours) * 1e3:.0f} ms over {pairs} runs)")
    print(f"import numpy:       median {statistics.median(floor) * 1e3:.0f} ms")
    print(f"ratio (median of {pairs} pairs): {statistics.median(ratios):.2f}× numpy's import")
    print(f"display libraries loaded by the import: {', '.join(loaded) or 'none'}")


if __name__ == "__main__":
    main()
