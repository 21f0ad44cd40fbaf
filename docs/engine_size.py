"""The engine's files in reading order, with their lines and source lines (the README's table).

    python docs/engine_size.py

Source lines: not blank, not a comment, not a docstring.
"""
from __future__ import annotations

import ast
from pathlib import Path

ENGINE = Path(__file__).resolve().parent.parent / "tinygrad_sm"
READING_ORDER = ("autograd", "op", "ops", "softmax_ops", "tensor", "graph", "reductions", "errors")


def sizes(path: Path) -> tuple[int, int]:
    """(lines, source lines) of a Python file."""
    text = path.read_text(encoding="utf-8")
    docstrings: set[int] = set()
    for node in ast.walk(ast.parse(text)):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(getattr(body[0], "value", None), ast.Constant) \
                and isinstance(body[0].value.value, str):
            docstrings |= set(range(body[0].lineno, body[0].end_lineno + 1))
    lines = text.splitlines()
    source = sum(1 for number, line in enumerate(lines, 1)
                 if line.strip() and not line.strip().startswith("#") and number not in docstrings)
    return len(lines), source


def main() -> None:
    total = [0, 0]
    print(f"{'file':<28}{'lines':>7}{'source':>8}")
    for name in READING_ORDER:
        lines, source = sizes(ENGINE / f"{name}.py")
        total[0] += lines
        total[1] += source
        print(f"{'tinygrad_sm/' + name + '.py':<28}{lines:>7}{source:>8}")
    print(f"{'engine core':<28}{total[0]:>7}{total[1]:>8}")


if __name__ == "__main__":
    main()
