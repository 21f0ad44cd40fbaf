"""Numbers as colours: heatmaps and per-class images, shared by the diagram and the page.

One diverging colour map centred at 0 (blue negative, white 0, red positive) on a symmetric
scale: the bound is max |a| unless given, so sign and size read at a glance. NaN and ±inf get
their own colour (MARKED, a green the map never uses) and are counted in the text.
Arrays of any rank are shown as a 2-D view: a scalar as 1 × 1, a vector as one row, and
(a, b, ..., z) as (a·b·..., z). Pillow (PNG) loads lazily. A big array is read in
pieces (CHUNK): a picture of it never copies it whole.
"""
from __future__ import annotations

import base64
import html
import io
import math
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from .formatting import format_number
from .i18n import Messages, messages, min_max, shape_text

MARKED = (0, 200, 83)   # NaN / inf
CMAP = "RdBu_r"         # matplotlib's name for the map; a test checks _table() against it
# ColorBrewer's RdBu in 11 classes, blue end first (RdBu_r), as matplotlib defines it: the
# 256 colours are linear between these, so no picture waits a second for matplotlib's import
_ANCHORS = ((5, 48, 97), (33, 102, 172), (67, 147, 195), (146, 197, 222), (209, 229, 240),
            (247, 247, 247), (253, 219, 199), (244, 165, 130), (214, 96, 77), (178, 24, 43),
            (103, 0, 31))
_lut: np.ndarray | None = None


def _table() -> np.ndarray:
    """The colour map as 256 RGB rows (made once, on first use)."""
    global _lut
    if _lut is None:
        anchors = np.array(_ANCHORS) / 255
        at, where = np.linspace(0, 1, len(anchors)), np.linspace(0, 1, 256)
        rgb = np.stack([np.interp(where, at, anchors[:, k]) for k in range(3)], axis=1)
        _lut = (rgb * 255).round().astype(np.uint8)
    return _lut


def view_2d(a: np.ndarray) -> np.ndarray:
    """The 2-D array drawn for a: a row for a vector, the last axis against all others beyond 2-D."""
    a = np.asarray(a)
    return a.reshape(-1, a.shape[-1]) if a.ndim >= 2 else a.reshape(1, -1)


# A big array is read in pieces of at most this many entries, so a picture of it needs only
# a piece's worth of temporaries (8 MB of float64), never a float64 or abs() copy of all of it.
CHUNK = 1 << 20


def _column_major(a2: np.ndarray) -> bool:
    """Whether a2's rows are the far-apart axis in memory (Xᵀ of a batch X): read it as its
    transpose then, or each piece gathers numbers from all over memory (10× slower)."""
    return min(a2.shape) > 1 and abs(a2.strides[0]) < abs(a2.strides[1])


def _pieces(a2: np.ndarray) -> Iterator[tuple[int, int, np.ndarray]]:
    """(first row, first column, piece) views of a 2-D array, each at most CHUNK entries."""
    rows, cols = a2.shape
    col_step = max(1, min(cols, CHUNK))
    row_step = max(1, CHUNK // col_step)
    for r in range(0, rows, row_step):
        for c in range(0, cols, col_step):
            yield r, c, a2[r:r + row_step, c:c + col_step]


@dataclass(frozen=True)
class Stats:
    """What a picture says of its array: the finite entries' min and max, NaN and inf counts."""
    low: float | None    # None: no finite entry
    high: float | None
    nan: int
    inf: int

    @property
    def bound(self) -> float:
        """max |a| over the finite entries (0 when there is none): the colour scale's end."""
        return 0.0 if self.low is None else max(abs(self.low), abs(self.high))


def stats_of(a: np.ndarray) -> Stats:
    """Stats of a, read piece by piece (a piece holding no NaN or inf costs a min and a max)."""
    a = np.asarray(a)
    low = high = None
    nan = inf = 0
    a2 = view_2d(a)
    for _, _, piece in _pieces(a2.T if _column_major(a2) else a2) if a.size else ():
        lo, hi = piece.min(), piece.max()
        if a.dtype.kind == "f" and not (np.isfinite(lo) and np.isfinite(hi)):
            finite = np.isfinite(piece)
            nan += int(np.isnan(piece).sum())
            inf += int(np.isinf(piece).sum())
            piece = piece[finite]
            if not piece.size:
                continue
            lo, hi = piece.min(), piece.max()
        low = float(lo) if low is None else min(low, float(lo))
        high = float(hi) if high is None else max(high, float(hi))
    return Stats(low, high, nan, inf)


def bound_of(a: np.ndarray) -> float:
    """max |a| over the finite entries (0 when there is none)."""
    return stats_of(a).bound


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


def _block_sums(piece: np.ndarray, fr: int, fc: int) -> np.ndarray:
    """The float64 sums of fr × fc blocks of a piece that starts on a block boundary (the last
    blocks of each axis may be partial): rows first, as whole blocks of a reshaped view where
    they fit, which reads memory in order (reduceat over small blocks is 3× slower)."""
    rows, cols = piece.shape
    if rows % fr:
        by_rows = np.add.reduceat(piece, np.arange(0, rows, fr), axis=0, dtype=np.float64)
    else:
        by_rows = piece.reshape(rows // fr, fr, cols).sum(axis=1, dtype=np.float64)
    if cols % fc:
        return np.add.reduceat(by_rows, np.arange(0, cols, fc), axis=1)
    return by_rows.reshape(len(by_rows), cols // fc, fc).sum(axis=2)


def downsample(a2: np.ndarray, max_side: int) -> tuple[np.ndarray, tuple[int, int]]:
    """Block averages so that neither side exceeds max_side; returns (array, (block rows,
    block columns)), each axis on its own. A block holding NaN or inf shows NaN (marked).
    The blocks' sums are gathered a piece of whole blocks at a time (about CHUNK entries), in
    float64 (numpy converts in small buffers: no float64 copy of a piece either)."""
    fr, fc = (max(1, math.ceil(n / max_side)) for n in a2.shape)
    if fr == fc == 1:
        return a2, (1, 1)
    if _column_major(a2):
        means, (fc, fr) = downsample(a2.T, max_side)
        return means.T, (fr, fc)
    rows, cols = a2.shape
    block_rows, block_cols = math.ceil(rows / fr), math.ceil(cols / fc)
    across = min(block_cols, max(1, CHUNK // (fr * fc)))      # blocks a piece holds, each way
    down = min(block_rows, max(1, CHUNK // (fr * fc * across)))
    sums = np.empty((block_rows, block_cols))
    for i in range(0, block_rows, down):
        for j in range(0, block_cols, across):
            piece = a2[i * fr:(i + down) * fr, j * fc:(j + across) * fc]
            sums[i:i + down, j:j + across] = _block_sums(piece, fr, fc)
    row_sizes = np.diff(np.r_[np.arange(0, rows, fr), rows])
    col_sizes = np.diff(np.r_[np.arange(0, cols, fc), cols])
    with np.errstate(invalid="ignore", over="ignore"):
        means = sums / np.outer(row_sizes, col_sizes)
    means[~np.isfinite(means)] = np.nan
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


def describe(a: np.ndarray, bound: float | None = None, t: Messages | None = None,
             stats: Stats | None = None) -> list[str]:
    """The text beside a picture: shape, the colour scale's bound, exact min/max, NaN/inf.

    t: the page's messages; without, English (the diagram's words stay names and mathematics).
    stats: stats_of(a) when the caller has it already (one pass over a big array, not two)."""
    t = t or messages("en")
    a = np.asarray(a)
    stats = stats or stats_of(a)
    lines = [t("picture.shape", shape=shape_text(t, a.shape))]
    bound = stats.bound if bound is None else bound
    has_finite = stats.low is not None
    lines.append(t("picture.scale", bound=format_number(bound))
                 + (t("picture.all_zero") if bound == 0 and has_finite else ""))
    if has_finite:
        lines.append(min_max(t, np.array([stats.low, stats.high])))
    if stats.nan or stats.inf:
        named = ", ".join(f"{n} {w}" for n, w in ((stats.nan, "NaN"), (stats.inf, "inf")) if n)
        lines.append(t("picture.green", named=named))
    return lines


def number_texts(a: np.ndarray) -> list[str]:
    """format_number of every entry, row-major (nan, inf, -inf as such): a page's picture
    carries up to PAGE_MAX_CELLS of them, so they are formatted by one %-operation, then the
    whole numbers that format_number writes otherwise (12345, not 1.234e+04; 0, not -0) fixed."""
    flat = np.asarray(a, dtype=np.float64).ravel()
    texts = ("%.4g\0" * flat.size % tuple(flat.tolist())).split("\0")[:-1]
    with np.errstate(invalid="ignore"):
        whole = np.isfinite(flat) & (flat == np.rint(flat)) & (np.abs(flat) < 1e6)
    for i in np.flatnonzero(whole & ((np.abs(flat) >= 1e4) | (flat == 0))).tolist():
        texts[i] = str(int(flat[i]))
    return texts


def _values_json(a2: np.ndarray) -> str:
    """The numbers behind the cells, row-major, for the page's pointer readout: a JSON list of
    strings, joined directly (%g text is digits, signs, '.', 'e', nan, inf: nothing to escape)."""
    return '["' + '", "'.join(number_texts(a2)) + '"]' if a2.size else "[]"  # as json.dumps


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
                 lang: str | Messages | None = None, bound: float | None = None) -> str:
    """A <figure>: the heatmap inline (data: URI), its shape, bound, exact min/max, NaN/inf;
    the image carries its numbers (data-values) for a (row, column, value) readout.
    Every number up to PAGE_MAX_SIDE cells a side and PAGE_MAX_CELLS in all; past that, each cell
    is the mean of a block (said beside it; the readout gives the block's rows, columns and mean).
    lang: the page's language (default: $TINYGRAD_SM_LANG, else English). bound: a colour
    scale shared with other pictures (default: max |a|)."""
    t = messages(lang)
    a = np.asarray(a)
    a2 = view_2d(a)  # in a's own dtype: a float64 copy of a big array is what made it slow
    drawn, (block_rows, block_cols) = _page_view(a2)
    if cell is None:  # about 768 × 640 px at most, but never under 1 px a cell
        cell = max(1, min(12, 768 // drawn.shape[1], 640 // drawn.shape[0]))
    stats = stats_of(a)
    if bound is None:  # the tensor's own scale, also for block means (else a shared one)
        bound = stats.bound
    blocked = drawn is not a2
    blocks = (f' data-block="{block_rows},{block_cols}" data-full="{a2.shape[0]},{a2.shape[1]}"'
              if blocked else "")
    img = (f'<img class="tg-heat" alt="{html.escape(title)}" src="{_data_uri(heatmap_png(drawn, bound, cell))}" '
           f'width="{drawn.shape[1] * cell}" height="{drawn.shape[0] * cell}" '
           f'data-kind="grid" data-rows="{drawn.shape[0]}" data-cols="{drawn.shape[1]}" data-cell="{cell}"'
           f"{blocks} data-values='{_values_json(drawn)}'>")
    lines = describe(a, bound, t, stats)
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
    a2 = np.asarray(a, dtype=np.float64)  # at most MAX_IMAGES images: small
    stats = stats_of(a2)
    bound = stats.bound
    img = (f'<img class="tg-heat" alt="{html.escape(title)}" '
           f'src="{_data_uri(class_images_png(a2, image_shape, bound, cell))}" data-kind="{axis}" '
           f'width="{(len(images) * (w + GAP) - GAP) * cell}" height="{h * cell}" '
           f'data-rows="{a2.shape[0]}" data-cols="{a2.shape[1]}" data-cell="{cell}" '
           f'data-h="{h}" data-w="{w}" data-gap="{GAP}" data-values=\'{_values_json(a2)}\'>')
    lines = describe(a2, bound, t, stats) + [t(f"picture.images_{axis}", count=len(images), h=h, w=w)]
    return _figure(title, img, lines, t)


# ---- many images: a hidden layer's units (784 × 256), one image per column, in a grid ----

UNITS_PER_ROW = 16
PAGE_MAX_UNITS = 256  # a page draws at most this many columns as images (Xᵀ of a batch has one per example)


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
    whole, count = np.asarray(a), len(images)
    stats = stats_of(whole)  # the shape, scale and min/max said are the whole tensor's
    bound = stats.bound
    if count > PAGE_MAX_UNITS:  # the first ones: all of them would be a picture of gigapixels
        images = images[:PAGE_MAX_UNITS]
    a2 = np.asarray(whole[:, :len(images)], dtype=np.float64)
    per_row = min(UNITS_PER_ROW, len(images))
    cell = max(1, min(4, 720 // (per_row * (w + GAP))))
    grid = images_grid_rgb(images.astype(np.float64), bound, per_row)
    img = (f'<img class="tg-heat" alt="{html.escape(title)}" '
           f'src="{_data_uri(_png(np.repeat(np.repeat(grid, cell, axis=0), cell, axis=1)))}" '
           f'data-kind="columns" width="{grid.shape[1] * cell}" height="{grid.shape[0] * cell}" '
           f'data-rows="{a2.shape[0]}" data-cols="{a2.shape[1]}" data-cell="{cell}" '
           f'data-h="{h}" data-w="{w}" data-gap="{GAP}" data-per-row="{per_row}" '
           f'data-values=\'{_values_json(a2)}\'>')
    lines = describe(whole, bound, t, stats) + [t("picture.unit_images", count=len(images), h=h, w=w,
                                        per_row=per_row)]
    if count > len(images):
        lines.append(t("diagram.first_images", last=len(images) - 1, count=count, h=h, w=w))
    return _figure(title, img, lines, t)
