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
    painted by resvg with DejaVu fonts. dpi 96 gives the size `dot -Tpng` gives."""
    done = subprocess.run([renderer_path, "-q", "-Tsvg"], input=dot_source.encode("utf-8"),
                          capture_output=True)
    if done.returncode != 0 or not done.stdout:
        raise RuntimeError(f"png: {renderer_path} -Tsvg failed with exit code {done.returncode}: "
                           f"{done.stderr.decode('utf-8', 'replace').strip()}")
    try:
        return resvg_py.svg_to_bytes(
            svg_string=done.stdout.decode("utf-8"), dpi=dpi, skip_system_fonts=True,
            font_files=font_files(), font_family=SANS, sans_serif_family=SANS,
            serif_family="DejaVu Serif", monospace_family="DejaVu Sans Mono")
    except ValueError as e:
        raise RuntimeError(f"png: resvg could not paint the SVG from {renderer_path}: {e}") from None
