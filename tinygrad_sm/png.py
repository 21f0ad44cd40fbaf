"""PNG diagrams that show every glyph of the rules and formulas.

graphviz-pure paints PNGs with its built-in fonts (Arimo, Cousine, Tinos), which lack `⊙` and
other math signs: they come out as boxes. So a PNG is made in two steps: the renderer (system
`dot` or graphviz-pure) lays the graph out as SVG, then resvg (the `resvg-py` wheel) paints that
SVG with the DejaVu fonts that matplotlib, already a dependency, installs. Nothing is looked up
on the system, so the picture is the same on every machine after `pip install`.

For the text to fit its boxes, lay sans text out with `SANS` ("DejaVu Sans": graphviz-pure and
dot know its widths) and monospaced text with `MONO` (Courier's 0.6 em advance is DejaVu Sans
Mono's). Text laid out as Helvetica is painted about 10% wider than its box.
"""
from __future__ import annotations

import importlib.util
import os
import re
import subprocess

import resvg_py

SANS = "DejaVu Sans"
MONO = "Courier"

# every non-ASCII character that op formulas, rule texts and diagram labels use (tests render
# each one and check that it is a real glyph, not the missing-glyph box)
GLYPHS = "∂ŷᵀΣ−·⊙²≥…×→←–±"

_FONT_FILES = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf",
               "DejaVuSans-BoldOblique.ttf", "DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf",
               "DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf")


# The largest PNG painted, in pixels (width × height): 50 million pixels are 200 MB of RGBA and
# some seconds of painting. resvg allocates the whole canvas at once, and a canvas too large for
# memory aborts the process in Rust's allocator (no Python exception), so the size is checked
# from the SVG's header before painting. A long chain of ops passes it at about 50 ops; past it,
# render as SVG (any size) or draw a smaller graph.
MAX_PIXELS = 50_000_000


class PictureTooLarge(ValueError):
    """The PNG would exceed MAX_PIXELS: refused before any canvas is allocated."""


_PIXELS = ("", "px")                                     # already pixels
_INCHES = {"pt": 1 / 72, "pc": 1 / 6, "in": 1.0, "cm": 1 / 2.54, "mm": 1 / 25.4}


def svg_size(svg: str, dpi: float = 96.0) -> tuple[int, int] | None:
    """The (width, height) in pixels that resvg paints the SVG at, from its root element's
    width and height (in pt, as Graphviz writes them, or another absolute unit), else its
    viewBox; None when the header gives neither."""
    root = re.search(r"<svg\b[^>]*>", svg)
    if root is None:
        return None
    attrs = dict(re.findall(r'\b(width|height|viewBox)\s*=\s*"([^"]*)"', root.group(0)))
    sizes = [re.fullmatch(r"\s*([0-9.]+(?:[eE][-+]?[0-9]+)?)\s*([a-z]*)\s*", attrs.get(k, ""))
             for k in ("width", "height")]
    if all(m and (m.group(2) in _PIXELS or m.group(2) in _INCHES) for m in sizes):
        w, h = (float(m.group(1)) * (1.0 if m.group(2) in _PIXELS else _INCHES[m.group(2)] * dpi)
                for m in sizes)
        return round(w), round(h)
    box = attrs.get("viewBox", "").replace(",", " ").split()
    if len(box) == 4:
        try:
            return round(float(box[2])), round(float(box[3]))
        except ValueError:
            return None
    return None


def check_size(svg: str, dpi: float = 96.0) -> None:
    """Raise PictureTooLarge when painting svg would take more than MAX_PIXELS pixels."""
    size = svg_size(svg, dpi)
    if size is not None and size[0] * size[1] > MAX_PIXELS:
        w, h = size
        raise PictureTooLarge(
            f"png: the diagram would be {w} × {h} pixels ({w * h / 1e6:.0f} million), more than the "
            f"{MAX_PIXELS / 1e6:.0f} million a PNG may have (png.MAX_PIXELS); render it as SVG "
            "(a path ending in .svg, or format='svg'), which has no size limit, or draw a smaller graph")


def font_files() -> list[str]:
    """The DejaVu font files shipped in matplotlib's package data (found without importing it)."""
    spec = importlib.util.find_spec("matplotlib")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("png: matplotlib is not installed; its DejaVu fonts paint the PNG "
                                "text (pip install matplotlib)")
    folder = os.path.join(list(spec.submodule_search_locations)[0], "mpl-data", "fonts", "ttf")
    files = [os.path.join(folder, name) for name in _FONT_FILES]
    missing = [f for f in files if not os.path.isfile(f)]
    if missing:
        raise FileNotFoundError(f"png: font files missing from matplotlib's data: {', '.join(missing)}")
    return files


def png_bytes(dot_source: str, renderer_path: str, dpi: float = 96.0) -> bytes:
    """The PNG of a DOT graph: laid out by renderer_path (`dot` or graphviz-pure) as SVG, then
    painted by resvg with DejaVu fonts. dpi 96 gives the size `dot -Tpng` gives. A picture of
    more than MAX_PIXELS pixels is refused (PictureTooLarge) before it is painted."""
    done = subprocess.run([renderer_path, "-q", "-Tsvg"], input=dot_source.encode("utf-8"),
                          capture_output=True)
    if done.returncode != 0 or not done.stdout:
        raise RuntimeError(f"png: {renderer_path} -Tsvg failed with exit code {done.returncode}: "
                           f"{done.stderr.decode('utf-8', 'replace').strip()}")
    svg = done.stdout.decode("utf-8")
    check_size(svg, dpi)
    try:
        return resvg_py.svg_to_bytes(
            svg_string=svg, dpi=dpi, skip_system_fonts=True,
            font_files=font_files(), font_family=SANS, sans_serif_family=SANS,
            serif_family="DejaVu Serif", monospace_family="DejaVu Sans Mono")
    except ValueError as e:
        raise RuntimeError(f"png: resvg could not paint the SVG from {renderer_path}: {e}") from None
