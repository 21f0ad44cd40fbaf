"""Numbers as colours: heatmaps and per-class images, shared by the diagram and the page.

One diverging colour map centred at 0 (blue negative, white 0, red positive) on a symmetric
scale: the bound is max |a| unless given, so sign and size read at a glance. NaN and ±inf get
their own colour (MARKED, a green the map never uses) and are counted in the text.
Arrays of any rank are shown as a 2-D view: a scalar as 1 × 1, a vector as one row, and
(a, b, ..., z) as (a·b·..., z). Matplotlib (the colour map) and Pillow (PNG) load lazily.
"""
from __future__ import annotations

import base64
import html
import io
import json
import math

import numpy as np

from .formatting import format_number
from .i18n import Messages, messages, min_max, shape_text

MARKED = (0, 200, 83)   # NaN / inf
CMAP = "RdBu_r"
_lut: np.ndarray | None = None


def _table() -> np.ndarray:
    """The colour map as 256 RGB rows (loaded once, on first use)."""
    global _lut
    if _lut is None:
        from matplotlib import colormaps
        _lut = (colormaps[CMAP](np.linspace(0, 1, 256))[:, :3] * 255).round().astype(np.uint8)
    return _lut


def view_2d(a: np.ndarray) -> np.ndarray:
    """The 2-D array drawn for a: a row for a vector, the last axis against all others beyond 2-D."""
    a = np.asarray(a)
    return a.reshape(-1, a.shape[-1]) if a.ndim >= 2 else a.reshape(1, -1)


def bound_of(a: np.ndarray) -> float:
    """max |a| over the finite entries (0 when there is none)."""
    a = np.asarray(a, dtype=np.float64)
    finite = a[np.isfinite(a)]
    return float(np.abs(finite).max()) if finite.size else 0.0


def colours(a2: np.ndarray, bound: float) -> np.ndarray:
    """RGB uint8 of shape a2.shape + (3,): −bound → blue, 0 → white, +bound → red."""
    a2 = np.asarray(a2, dtype=np.float64)
    scale = bound if bound > 0 else 1.0  # all zero: every cell is the white of 0
    with np.errstate(invalid="ignore"):
        t = np.clip((np.nan_to_num(a2, nan=0.0, posinf=0.0, neginf=0.0) / scale + 1) / 2, 0, 1)
    rgb = _table()[np.rint(t * 255).astype(np.intp)]
    rgb[~np.isfinite(a2)] = MARKED
    return rgb


def hex_colours(a2: np.ndarray, bound: float) -> list[list[str]]:
    """colours() as '#rrggbb' strings, row by row (for the diagram's table cells)."""
    rgb = colours(a2, bound)
    return [["#%02x%02x%02x" % tuple(px) for px in row] for row in rgb]


def downsample(a2: np.ndarray, max_side: int) -> tuple[np.ndarray, tuple[int, int]]:
    """Block averages so that neither side exceeds max_side; returns (array, (block rows,
    block columns)), each axis on its own. A block holding NaN or inf shows NaN (marked)."""
    fr, fc = (max(1, math.ceil(n / max_side)) for n in a2.shape)
    if fr == fc == 1:
        return a2, (1, 1)
    rows, cols = math.ceil(a2.shape[0] / fr) * fr, math.ceil(a2.shape[1] / fc) * fc
    padded = np.zeros((rows, cols))
    inside = np.zeros((rows, cols), dtype=bool)
    padded[:a2.shape[0], :a2.shape[1]] = a2
    inside[:a2.shape[0], :a2.shape[1]] = True
    shape = (rows // fr, fr, cols // fc, fc)
    good = (np.isfinite(padded) & inside).reshape(shape)
    sums = np.where(good, padded.reshape(shape), 0.0).sum(axis=(1, 3))
    means = sums / np.maximum(good.sum(axis=(1, 3)), 1)
    means[(~np.isfinite(padded)).reshape(shape).any(axis=(1, 3))] = np.nan
    return means, (fr, fc)


# a page's heatmap keeps every number up to these sizes (a 784-wide batch, a 784 × 256 layer);
# beyond, cells are means of blocks: a 2000 × 2000 tensor with every number was 43 MB and 6–10 s
PAGE_MAX_SIDE, PAGE_MAX_CELLS = 1024, 250_000
MAX_IMAGES = 32  # more images than this (an MLP's 256 hidden units) are shown as one heatmap


def as_images(a: np.ndarray, image_shape: tuple[int, int] | None) -> tuple[np.ndarray, str] | None:
    """a as a stack of images (count, h, w) when one of its axes holds h·w pixels, else None.

    (h·w, K): column k is image k (W, ∂L/∂W: one image per class). (n, h·w): row i is image i
    (X: the batch's images). Returns (images, "columns" | "rows"); None also beyond MAX_IMAGES.
    """
    if image_shape is None:
        return None
    a = np.asarray(a)
    h, w = image_shape
    if a.ndim != 2 or h * w <= 1:
        return None
    if a.shape[0] == h * w and a.shape[1] <= MAX_IMAGES:
        return a.T.reshape(a.shape[1], h, w), "columns"
    if a.shape[1] == h * w and a.shape[0] <= MAX_IMAGES:
        return a.reshape(a.shape[0], h, w), "rows"
    return None


def _png(rgb: np.ndarray) -> bytes:
    from PIL import Image
    out = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb), "RGB").save(out, "PNG", optimize=False, compress_level=6)
    return out.getvalue()


def heatmap_png(a: np.ndarray, bound: float | None = None, cell: int = 8) -> bytes:
    """a as a PNG: each entry a cell×cell square of its colour (2-D view, no downsampling)."""
    a2 = view_2d(np.asarray(a, dtype=np.float64))
    rgb = colours(a2, bound_of(a2) if bound is None else bound)
    return _png(np.repeat(np.repeat(rgb, cell, axis=0), cell, axis=1))


GAP = 1  # cells of white between per-class images


def images_rgb(images: np.ndarray, bound: float) -> np.ndarray:
    """A stack of images (count, h, w) as one RGB strip, side by side, GAP white cells apart."""
    count, h, w = images.shape
    strip = np.full((h, count * (w + GAP) - GAP, 3), 255, dtype=np.uint8)
    for k, image in enumerate(images):
        strip[:, k * (w + GAP): k * (w + GAP) + w] = colours(image, bound)
    return strip


def class_images_png(a: np.ndarray, image_shape: tuple[int, int], bound: float | None = None,
                     cell: int = 4) -> bytes:
    """The images of a (see as_images) side by side on one shared scale, GAP cells apart."""
    found = as_images(a, image_shape)
    if found is None:
        raise ValueError(f"class_images_png: shape {np.shape(a)} has no axis of "
                         f"{image_shape[0]}×{image_shape[1]} pixels")
    images = found[0].astype(np.float64)
    strip = images_rgb(images, bound_of(images) if bound is None else bound)
    return _png(np.repeat(np.repeat(strip, cell, axis=0), cell, axis=1))


def describe(a: np.ndarray, bound: float | None = None, t: Messages | None = None) -> list[str]:
    """The text beside a picture: shape, the colour scale's bound, exact min/max, NaN/inf.

    t: the page's messages; without, English (the diagram's words stay names and mathematics)."""
    t = t or messages("en")
    a = np.asarray(a)
    lines = [t("picture.shape", shape=shape_text(t, a.shape))]
    af = a.astype(np.float64)
    finite = af[np.isfinite(af)]
    bound = bound_of(af) if bound is None else bound
    lines.append(t("picture.scale", bound=format_number(bound))
                 + (t("picture.all_zero") if bound == 0 and finite.size else ""))
    if finite.size:
        lines.append(min_max(t, finite))
    nan, inf = int(np.isnan(af).sum()), int(np.isinf(af).sum())
    if nan or inf:
        named = ", ".join(f"{n} {w}" for n, w in ((nan, "NaN"), (inf, "inf")) if n)
        lines.append(t("picture.green", named=named))
    return lines


def _values_json(a2: np.ndarray) -> str:
    """The numbers behind the cells, row-major, for the page's pointer readout."""
    return json.dumps([format_number(x) if np.isfinite(x) else str(x) for x in a2.ravel().tolist()])


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _figure(title: str, img: str, lines: list[str], t: Messages, blocks: bool = False) -> str:
    text = "".join(f"<div>{html.escape(line)}</div>" for line in lines)
    mean = f' data-mean="{html.escape(t("readout.block"))}"' if blocks else ""
    return (f'<figure class="tg-picture"><figcaption>{html.escape(title)}</figcaption>{img}'
            f'<div class="tg-readout" aria-live="polite" data-point="{html.escape(t("readout.point"))}" '
            f'data-cell="{html.escape(t("readout.cell"))}" data-pixel="{html.escape(t("readout.pixel"))}"{mean}>'
            f'{html.escape(t("readout.point"))}</div>'
            f'<div class="tg-describe">{text}</div></figure>')


def _page_view(a2: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
    """a2 itself, or block means within PAGE_MAX_SIDE a side and PAGE_MAX_CELLS in all."""
    def cells(side: int) -> int:  # how many cells downsample(a2, side) gives, without doing it
        return math.prod(math.ceil(n / math.ceil(n / side)) for n in a2.shape)

    side = PAGE_MAX_SIDE
    while cells(side) > PAGE_MAX_CELLS:
        side = side * 4 // 5
    return downsample(a2, side)


def heatmap_html(a: np.ndarray, title: str, cell: int | None = None,
                 lang: str | Messages | None = None) -> str:
    """A <figure>: the heatmap inline (data: URI), its shape, bound, exact min/max, NaN/inf;
    the image carries its numbers (data-values) for a (row, column, value) readout.
    Every number up to PAGE_MAX_SIDE cells a side and PAGE_MAX_CELLS in all; past that, each cell
    is the mean of a block (said beside it; the readout gives the block's rows, columns and mean).
    lang: the page's language (default: $TINYGRAD_SM_LANG, else English)."""
    t = messages(lang)
    a = np.asarray(a)
    a2 = view_2d(a.astype(np.float64))
    drawn, (block_rows, block_cols) = _page_view(a2)
    if cell is None:  # about 768 × 640 px at most, but never under 1 px a cell
        cell = max(1, min(12, 768 // drawn.shape[1], 640 // drawn.shape[0]))
    bound = bound_of(a2)  # the tensor's own scale, also for block means
    blocked = drawn is not a2
    blocks = (f' data-block="{block_rows},{block_cols}" data-full="{a2.shape[0]},{a2.shape[1]}"'
              if blocked else "")
    img = (f'<img class="tg-heat" alt="{html.escape(title)}" src="{_data_uri(heatmap_png(drawn, bound, cell))}" '
           f'width="{drawn.shape[1] * cell}" height="{drawn.shape[0] * cell}" '
           f'data-kind="grid" data-rows="{drawn.shape[0]}" data-cols="{drawn.shape[1]}" data-cell="{cell}"'
           f"{blocks} data-values='{_values_json(drawn)}'>")
    lines = describe(a, bound, t)
    if a.ndim > 2:  # drawn as a 2-D view
        lines.append(t("picture.view_2d", ndim=a.ndim, shape=shape_text(t, a2.shape)))
    if blocked:
        lines.append(t("picture.blocks", rows=block_rows, cols=block_cols))
    return _figure(title, img, lines, t, blocks=blocked)


def class_images_html(a: np.ndarray, title: str, image_shape: tuple[int, int],
                      cell: int | None = None, lang: str | Messages | None = None) -> str:
    """A <figure> of a's per-class (or per-example) images on one scale, with the readout:
    (row, column) of a itself, so the number matches the tensor; falls back to heatmap_html."""
    t = messages(lang)
    found = as_images(a, image_shape)
    if found is None:
        return heatmap_html(a, title, lang=t)
    images, axis = found
    h, w = image_shape
    if cell is None:
        cell = max(1, min(8, 720 // max(1, len(images) * (w + GAP))))
    a2 = np.asarray(a, dtype=np.float64)
    bound = bound_of(a2)
    img = (f'<img class="tg-heat" alt="{html.escape(title)}" '
           f'src="{_data_uri(class_images_png(a2, image_shape, bound, cell))}" data-kind="{axis}" '
           f'width="{(len(images) * (w + GAP) - GAP) * cell}" height="{h * cell}" '
           f'data-rows="{a2.shape[0]}" data-cols="{a2.shape[1]}" data-cell="{cell}" '
           f'data-h="{h}" data-w="{w}" data-gap="{GAP}" data-values=\'{_values_json(a2)}\'>')
    lines = describe(a2, bound, t) + [t(f"picture.images_{axis}", count=len(images), h=h, w=w)]
    return _figure(title, img, lines, t)


# ---- many images: a hidden layer's units (784 × 256), one image per column, in a grid ----

UNITS_PER_ROW = 16


def unit_images(a: np.ndarray, image_shape: tuple[int, int] | None) -> np.ndarray | None:
    """a's columns as images (count, h, w) when a has h·w rows and more columns than
    as_images takes (an MLP's W1 and ∂L/∂W1: one image per hidden unit), else None."""
    if image_shape is None:
        return None
    a = np.asarray(a)
    h, w = image_shape
    if a.ndim != 2 or h * w <= 1 or a.shape[0] != h * w or a.shape[1] <= MAX_IMAGES:
        return None
    return a.T.reshape(a.shape[1], h, w)


def images_grid_rgb(images: np.ndarray, bound: float, per_row: int) -> np.ndarray:
    """Images (count, h, w) as one RGB grid, per_row a row, GAP white cells apart."""
    count, h, w = images.shape
    rows = math.ceil(count / per_row)
    grid = np.full((rows * (h + GAP) - GAP, min(count, per_row) * (w + GAP) - GAP, 3), 255,
                   dtype=np.uint8)
    for k, image in enumerate(images):
        top, left = (k // per_row) * (h + GAP), (k % per_row) * (w + GAP)
        grid[top:top + h, left:left + w] = colours(image, bound)
    return grid


def unit_images_html(a: np.ndarray, title: str, image_shape: tuple[int, int],
                     lang: str | Messages | None = None) -> str:
    """A <figure> of every column of a as an image, UNITS_PER_ROW a row, on one scale, with
    the readout (row, column of a itself); never a block average of zero-mean noise."""
    t = messages(lang)
    images = unit_images(a, image_shape)
    if images is None:
        return class_images_html(a, title, image_shape, lang=t)
    h, w = image_shape
    a2 = np.asarray(a, dtype=np.float64)
    bound = bound_of(a2)
    per_row = min(UNITS_PER_ROW, len(images))
    cell = max(1, min(4, 720 // (per_row * (w + GAP))))
    grid = images_grid_rgb(images.astype(np.float64), bound, per_row)
    img = (f'<img class="tg-heat" alt="{html.escape(title)}" '
           f'src="{_data_uri(_png(np.repeat(np.repeat(grid, cell, axis=0), cell, axis=1)))}" '
           f'data-kind="columns" width="{grid.shape[1] * cell}" height="{grid.shape[0] * cell}" '
           f'data-rows="{a2.shape[0]}" data-cols="{a2.shape[1]}" data-cell="{cell}" '
           f'data-h="{h}" data-w="{w}" data-gap="{GAP}" data-per-row="{per_row}" '
           f'data-values=\'{_values_json(a2)}\'>')
    lines = describe(a2, bound, t) + [t("picture.unit_images", count=len(images), h=h, w=w,
                                        per_row=per_row)]
    return _figure(title, img, lines, t)
