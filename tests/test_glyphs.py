"""PNG diagrams show every glyph that rules, formulas and labels use (issue 8, point 7).

Each character is rendered alone and its pixels are compared with the missing-glyph box, which
a private-use character (U+E000) gets. graphviz-pure is called by its path, so system `dot`
plays no part; system `dot` is checked too when it is installed.
"""
from __future__ import annotations

import io
import pathlib
import shutil
import subprocess
import sysconfig

import numpy as np
import pytest
from PIL import Image

from tinygrad_sm import ops
from tinygrad_sm.png import GLYPHS, MONO, SANS, png_bytes

PACKAGE = pathlib.Path(ops.__file__).parent
MISSING = "\ue000"  # private use: no font has it, so every renderer draws its missing-glyph box


def _graphviz_pure() -> str:
    path = (shutil.which("graphviz-pure", path=sysconfig.get_path("scripts"))
            or shutil.which("graphviz-pure"))
    assert path, "graphviz-pure is a dependency and must be installed"
    return path


RENDERERS = [pytest.param(_graphviz_pure(), id="graphviz-pure"),
             pytest.param(shutil.which("dot"), id="system-dot", marks=pytest.mark.skipif(
                 shutil.which("dot") is None, reason="system Graphviz `dot` is not installed"))]


def _one_char(char: str, font: str = SANS) -> str:
    return f'digraph {{ n [shape=plain fontsize=48 fontname="{font}" label="{char}"] }}'


def _ink(png: bytes) -> np.ndarray:
    """The dark pixels of a PNG, cropped to their bounding box (empty if there are none)."""
    dark = np.asarray(Image.open(io.BytesIO(png)).convert("L")) < 128
    rows, cols = np.flatnonzero(dark.any(axis=1)), np.flatnonzero(dark.any(axis=0))
    if rows.size == 0:
        return dark[:0, :0]
    return dark[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def _looks_like(a: np.ndarray, b: np.ndarray) -> bool:
    """Same ink shape: same size (±1 px) and at most 5% of the pixels differ."""
    if abs(a.shape[0] - b.shape[0]) > 1 or abs(a.shape[1] - b.shape[1]) > 1:
        return False
    h, w = min(a.shape[0], b.shape[0]), min(a.shape[1], b.shape[1])
    return np.mean(a[:h, :w] != b[:h, :w]) <= 0.05


def _check_glyph(png_of) -> None:
    box = _ink(png_of(MISSING))
    assert box.sum() > 50, "the missing-glyph box itself should be drawn"
    for char in GLYPHS:
        ink = _ink(png_of(char))
        assert ink.sum() >= 10, f"{char!r} (U+{ord(char):04X}) rendered blank"
        assert not _looks_like(ink, box), f"{char!r} (U+{ord(char):04X}) rendered as the missing-glyph box"


@pytest.mark.parametrize("renderer", RENDERERS)
@pytest.mark.parametrize("font", [SANS, MONO])
def test_every_glyph_is_drawn(renderer, font):
    _check_glyph(lambda char: png_bytes(_one_char(char, font), renderer))


def test_bold_glyphs_are_drawn():
    pure = _graphviz_pure()
    _check_glyph(lambda char: png_bytes(
        f'digraph {{ n [shape=plain fontsize=48 fontname="{SANS}" label=<<b>{char}</b>>] }}', pure))


def _plain_png(source: str) -> bytes:
    return subprocess.run([_graphviz_pure(), "-q", "-Tpng"], input=source.encode(),
                          capture_output=True, check=True).stdout


def test_plain_graphviz_pure_png_shows_a_box_for_circled_dot():
    """Why png_bytes exists, and proof that the box check above can fail: graphviz-pure's own
    PNG fonts have no ⊙ (if a new graphviz-pure gets one, this test says so)."""
    box = _ink(_plain_png(_one_char(MISSING)))
    assert _looks_like(_ink(_plain_png(_one_char("⊙"))), box)
    assert not _looks_like(_ink(_plain_png(_one_char("∂"))), box)  # a glyph it does have


def _non_ascii(text: str) -> set[str]:
    return {c for c in text if ord(c) > 126 and not c.isspace()}


def test_glyph_set_covers_ops_and_diagram_labels():
    used = set()
    for op in vars(ops).values():
        if isinstance(op, type) and issubclass(op, ops.Op):
            used |= _non_ascii(op.formula + "".join(op.rules) + (op.out_name or "") + "".join(op.inputs))
    for name in ("viz.py", "pictures.py", "formatting.py", "tracing.py"):  # what labels are built from
        if (PACKAGE / name).exists():
            used |= _non_ascii((PACKAGE / name).read_text(encoding="utf-8"))
    assert "⊙" in used and "∂" in used  # the scan sees the rule texts
    assert used <= set(GLYPHS), f"add to png.GLYPHS: {''.join(sorted(used - set(GLYPHS)))}"


def _box_and_text_columns(png: bytes) -> tuple[np.ndarray, np.ndarray]:
    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    yellow = (rgb[..., 0] > 200) & (rgb[..., 1] > 200) & (rgb[..., 2] < 80)
    dark = rgb.sum(axis=-1) < 200
    return np.flatnonzero(yellow.any(axis=0)), np.flatnonzero(dark.any(axis=0))


@pytest.mark.parametrize("font", [SANS, MONO])
def test_text_fits_the_box_it_was_laid_out_in(font):
    """The layout's text widths and the painted font agree: the ink stays inside the node."""
    label = "cross_entropy  L = −mean Σ y ⊙ log softmax(o)  WWWW mmmm"
    source = (f'digraph {{ n [shape=box style=filled fillcolor="#ffff00" color="#ffff00" margin=0 '
              f'fontsize=20 fontname="{font}" label="{label}"] }}')
    box, text = _box_and_text_columns(png_bytes(source, _graphviz_pure()))
    assert box.size and text.size
    assert box[0] <= text[0] and text[-1] <= box[-1], (box[[0, -1]], text[[0, -1]])
    assert text[-1] - text[0] > 0.9 * (box[-1] - box[0]), "text much narrower than laid out"


def test_renderer_failure_names_the_renderer():
    with pytest.raises(RuntimeError, match="graphviz-pure.*exit code"):
        png_bytes("digraph { a -> }", _graphviz_pure())
