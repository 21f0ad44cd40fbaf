"""Numbers and small matrices as text, the same in every display (diagram, page, terminal).
Words (a shape said as "scalar", min/max of a big array) are the catalogue's: i18n.value_lines."""
from __future__ import annotations

import numpy as np

SMALL = 4  # arrays up to 4 × 4 are shown in full; bigger ones are drawn (or summarised in text)


def is_small(a: np.ndarray) -> bool:
    a = np.asarray(a)
    return a.ndim <= 2 and all(n <= SMALL for n in a.shape)


def format_number(x: float | int) -> str:
    if isinstance(x, (int, np.integer)) or float(x).is_integer() and abs(x) < 1e6:
        return str(int(x))
    return f"{float(x):.4g}"


def matrix_rows(a: np.ndarray) -> list[list[str]]:
    """A small array as rows of formatted numbers (a scalar is one row of one)."""
    a = np.asarray(a)
    rows = a.reshape(1, -1) if a.ndim <= 1 else a
    return [[format_number(x) for x in row] for row in rows]


def format_matrix(a: np.ndarray) -> list[str]:
    """A small array as aligned text lines in brackets; vectors stay on one line."""
    rows = matrix_rows(a)
    width = max((len(x) for row in rows for x in row), default=0)
    lines = [" ".join(x.rjust(width) for x in row) for row in rows]
    if np.ndim(a) == 0:
        return lines
    if len(lines) == 1 and np.ndim(a) == 1:
        return [f"[{lines[0]}]"]
    return [f"[{line}]" for line in lines]

