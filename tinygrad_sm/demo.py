"""`tinygrad-sm demo`: list the teaching demos, or run one.

The demos are the scripts in the repository's `demos/` folder (what a reader opens). `pip install`
ships that same folder inside the package as `tinygrad_sm/demos/` (see pyproject.toml), so this
command finds them in an installed package and in a clone alike.
"""
from __future__ import annotations

import ast
import importlib
import itertools
import sys
from pathlib import Path

from . import files, settings
from .i18n import Messages, messages
from .process import EXIT_ERROR, EXIT_USAGE

HERE = Path(__file__).resolve().parent
FOLDERS = (HERE / "demos", HERE.parent / "demos")  # installed package, then a clone


def demo_folder() -> Path:
    for folder in FOLDERS:
        if (folder / "_common.py").is_file():
            return folder
    raise FileNotFoundError("the demos were not found in " + " or ".join(map(str, FOLDERS)))


def teaching_order(path: Path) -> tuple[int, str]:
    """d2 before d10: the number after the d, then the name."""
    digits = "".join(itertools.takewhile(str.isdigit, path.stem[1:]))
    return (int(digits) if digits else 0, path.stem)


def list_demos(lang: str | Messages | None = None) -> dict[str, str]:
    """Each demo's name and what it shows, in teaching order (d1 … d13), read without importing
    it: in English the first line of its docstring, in another language the catalogue's
    "demo.NAME.summary"."""
    t = messages(lang)
    found = {}
    for path in sorted(demo_folder().glob("*.py"), key=teaching_order):
        if path.name.startswith("_"):
            continue
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        found[path.stem] = doc.splitlines()[0] if doc else ""
        if t.lang != "en" and f"demo.{path.stem}.summary" in t.texts:
            found[path.stem] = t(f"demo.{path.stem}.summary")
    return found


def run_demo(name: str, argv: list[str], lang: str | Messages | None = None) -> int:
    """Run demos/NAME.py as its main(argv) does (`_common.main`: command line, language, report),
    except that the demo makes its files in a staging folder inside its out folder, renamed into
    place once it is done (files.py): a demo that fails, is interrupted or meets a full disk
    leaves the earlier pictures whole (a full disk is one line and status 1). The demos import
    their neighbours, so the folder goes on sys.path."""
    folder = str(demo_folder())
    if folder not in sys.path:
        sys.path.insert(0, folder)
    demo, common = importlib.import_module(name), importlib.import_module("_common")
    where = {"out": None}  # known once _common.main has made the out folder

    def staged_run(out_dir: Path, quick: bool = False) -> dict:
        where["out"] = out_dir
        with files.Staging(out_dir) as stage:
            results = demo.run(stage.path, quick=quick)
            stage.publish()
        results["files"] = [Path(out_dir) / Path(made).name for made in results.get("files", [])]
        return results

    try:
        return common.main(demo.NAME, demo.TITLE, staged_run, demo.report, argv)
    except OSError as e:  # a full disk or an unwritable folder
        reason = messages(lang)("train.cannot_write", out=where["out"] or e.filename,
                                reason=e.strerror or e)
        print(f"tinygrad-sm demo: {reason}", file=sys.stderr)
        return EXIT_ERROR


def demo_command(name: str | None = None, out: str | None = None, quick: bool = False,
                 lang: str | None = None) -> int:
    """`tinygrad-sm demo [NAME]`: list the demos, or run one; returns the exit status.

    lang: "zh" or "en" (default: $TINYGRAD_SM_LANG, else English)."""
    if out is not None:
        settings.check("out", out, "demo_command")
    t = messages(lang)
    demos = list_demos(t)
    if name is None:
        width = max(map(len, demos))
        for demo, line in demos.items():
            print(f"{demo:<{width}}  {line}")
        print("\n" + t("demo.run_one"))
        return 0
    if name not in demos:
        print(t("demo.no_such", name=name, demos=", ".join(demos)), file=sys.stderr)
        return EXIT_USAGE
    return run_demo(name, (["--out", str(out)] if out else []) + (["--quick"] if quick else [])
                    + ["--lang", t.lang], t)
