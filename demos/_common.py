"""What every demo shares: its command line, its out folder, rich printing and saving figures.

A demo module defines `NAME`, `TITLE`, `run(out_dir, quick=False) -> dict` (the numbers its claim
rests on, so a test can assert them) and `report(results)` (prints them); `main()` here glues
the two to the command line: `python demos/NAME.py [--out DIR] [--quick]`.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Callable, Sequence

import matplotlib

matplotlib.use("Agg")  # demos only write files; never open a window
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from rich.text import Text  # noqa: E402

console = Console(highlight=False)
if not console.is_terminal:
    console.width = 110  # piped or captured: rich would assume 80 columns and wrap the tables


def ensure_dir(path: str | Path) -> Path:
    """path as a Path, created (with its parents) if missing."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    return path


def out_dir_for(name: str, given: str | Path | None) -> Path:
    """The demo's out folder (default out/demos/NAME/), created if missing."""
    return ensure_dir(given if given is not None else Path("out") / "demos" / name)


def main(name: str, title: str, run: Callable[..., dict], report: Callable[[dict], None],
         argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python demos/{name}.py", description=title)
    parser.add_argument("--out", default=None,
                        help=f"folder for the pictures (default: out/demos/{name}/)")
    parser.add_argument("--quick", action="store_true",
                        help="smaller settings (what the tests use)")
    args = parser.parse_args(argv)
    out = out_dir_for(name, args.out)
    console.rule(f"[bold]{title}")
    results = run(out, quick=args.quick)
    report(results)
    files = sorted(str(p) for p in results.get("files", []))
    if files:
        console.print("\n[bold]Wrote:[/bold] " + ", ".join(files))
    return 0


def say(text: str) -> None:
    """A paragraph of explanation."""
    console.print(text)


def fmt(values: Any, digits: int = 4) -> str:
    """Numbers as a short string: [0.0900, 0.2447, 0.6652]."""
    array = np.asarray(values, dtype=float)
    if array.ndim == 0:
        return f"{array.item():.{digits}f}"
    return np.array2string(array, precision=digits, floatmode="fixed", separator=", ",
                           suppress_small=False, max_line_width=100)


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    t = Table(title=title, title_justify="left", show_lines=False)
    for c in columns:
        t.add_column(c)
    for row in rows:
        t.add_row(*(Text(str(cell)) for cell in row))  # plain text: "X[k,0]" is not markup
    console.print(t)


def save_figure(fig: plt.Figure, path: Path) -> Path:
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path
