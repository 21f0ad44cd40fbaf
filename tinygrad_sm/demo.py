"""`tinygrad-sm demo`: list the teaching demos, or run one.

The demos are the scripts in the repository's `demos/` folder (what a reader opens). `pip install`
ships that same folder inside the package as `tinygrad_sm/demos/` (see pyproject.toml), so this
command finds them in an installed package and in a clone alike.
"""
from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
FOLDERS = (HERE / "demos", HERE.parent / "demos")  # installed package, then a clone


def demo_folder() -> Path:
    for folder in FOLDERS:
        if (folder / "_common.py").is_file():
            return folder
    raise FileNotFoundError("the demos were not found in " + " or ".join(map(str, FOLDERS)))


def list_demos() -> dict[str, str]:
    """Each demo's name and the first line of its docstring, read without importing it."""
    found = {}
    for path in sorted(demo_folder().glob("*.py")):
        if path.name.startswith("_"):
            continue
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        found[path.stem] = doc.splitlines()[0] if doc else ""
    return found


def run_demo(name: str, argv: list[str]) -> int:
    """Run demos/NAME.py's main(argv); the demos import their neighbours, so the folder goes on
    sys.path."""
    folder = str(demo_folder())
    if folder not in sys.path:
        sys.path.insert(0, folder)
    return importlib.import_module(name).main(argv)


def demo_command(name: str | None = None, out: str | None = None, quick: bool = False) -> int:
    """`tinygrad-sm demo [NAME]`: list the demos, or run one; returns the exit status."""
    demos = list_demos()
    if name is None:
        width = max(map(len, demos))
        for demo, line in demos.items():
            print(f"{demo:<{width}}  {line}")
        print("\nrun one: tinygrad-sm demo NAME [--out DIR] [--quick]")
        return 0
    if name not in demos:
        print(f"tinygrad-sm demo: error: no demo named {name!r}; the demos are "
              f"{', '.join(demos)}", file=sys.stderr)
        return 2
    return run_demo(name, (["--out", str(out)] if out else []) + (["--quick"] if quick else []))
