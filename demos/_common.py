"""What every demo shares: its command line, its out folder, rich printing and saving figures.

A demo module defines `NAME`, `TITLE`, `run(out_dir, quick=False) -> dict` (the numbers its claim
rests on, so a test can assert them) and `report(results)` (prints them); `main()` here glues
the two to the command line: `python demos/NAME.py [--out DIR] [--quick] [--lang zh|en]`.

The words a demo prints and draws are messages of the package's catalogue (tinygrad_sm/locales/,
keys "demo.NAME.…"): `tr(key)` in the language of the run, `plot_tr(key)` for figure text
(English when no font with Chinese glyphs is found; see tinygrad_sm.plots.cjk_font).
"""
from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

import matplotlib

matplotlib.use("Agg")  # demos only write files; never open a window
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from rich.text import Text  # noqa: E402

from tinygrad_sm import i18n, plots  # noqa: E402

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


_language = {"text": None, "plots": None}  # the Messages of the running demo (see language)


def tr(key: str, **fields: Any) -> str:
    """A message in the demo's language (outside main: $TINYGRAD_SM_LANG, else English)."""
    return (_language["text"] or i18n.messages())(key, **fields)


def plot_tr(key: str, **fields: Any) -> str:
    """A message for figure text: as tr, but English when matplotlib has no CJK font."""
    return (_language["plots"] or i18n.messages())(key, **fields)


@contextlib.contextmanager
def language(lang: str | None):
    """Run a demo in `lang`: its messages, the trace tables and pages it makes (through
    $TINYGRAD_SM_LANG, put back afterwards) and pyplot's font for Chinese figures."""
    lang = i18n.resolve(lang)
    saved_env, saved = os.environ.get(i18n.ENV), dict(_language)
    os.environ[i18n.ENV] = lang
    try:
        with plots.language(lang) as figure_messages:
            # plots.language set matplotlib's rcParams, which pyplot's figures read too
            _language.update(text=i18n.messages(lang), plots=figure_messages)
            yield
    finally:
        _language.update(saved)
        if saved_env is None:
            os.environ.pop(i18n.ENV, None)
        else:
            os.environ[i18n.ENV] = saved_env


def main(name: str, title: str, run: Callable[..., dict], report: Callable[[dict], None],
         argv: Sequence[str] | None = None) -> int:
    from tinygrad_sm.cli import LearnerParser, argparse_in, requested_language

    # --help and argparse's errors in the run's language, as `tinygrad-sm` says them
    words = i18n.messages(requested_language(list(sys.argv[1:] if argv is None else argv)))
    with argparse_in(words):
        parser = LearnerParser(prog=f"python demos/{name}.py",
                               description=words(f"demo.{name}.title") or title)
        parser.add_argument("--out", default=None, metavar="DIR",
                            help=words("demo.out_help", name=name))
        parser.add_argument("--quick", action="store_true", help=words("cli.demo.quick"))
        parser.add_argument("--lang", choices=i18n.languages(), default=None,
                            help=words("cli.lang", env=i18n.ENV))
        args = parser.parse_args(argv)
    out = out_dir_for(name, args.out)
    with language(args.lang):
        console.rule(f"[bold]{tr(f'demo.{name}.title')}")
        results = run(out, quick=args.quick)
        report(results)
        files = sorted(str(p) for p in results.get("files", []))
        if files:
            console.print(f"\n[bold]{tr('demo.wrote')}[/bold] " + ", ".join(files))
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
