"""Numbers and small matrices as text, the same in every display (diagram, page, terminal)."""
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


def summary(a: np.ndarray) -> str:
    """min and max (a mean of a gradient is mostly rounding noise on an exact zero)."""
    a = np.asarray(a)
    if a.size == 0:
        return "empty"
    finite = a[np.isfinite(a)] if a.dtype.kind == "f" else a
    text = (f"min {format_number(finite.min())}, max {format_number(finite.max())}"
            if finite.size else "no finite entry")
    bad = a.size - finite.size
    return text + (f", {bad} NaN/inf" if bad else "")


def format_value(a: np.ndarray) -> list[str]:
    """Lines showing an array: in full when small, otherwise its shape and min/max."""
    a = np.asarray(a)
    return format_matrix(a) if is_small(a) else [f"{a.shape}: {summary(a)}"]


def shape_text(shape: tuple[int, ...]) -> str:
    return "scalar" if shape == () else str(shape)
