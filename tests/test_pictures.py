"""Numbers as colours: the colours behind the pictures are checked against the tensor."""
from __future__ import annotations

import base64
import html
import io
import json
import re

import numpy as np
import pytest
from PIL import Image

import tinygrad_sm.nn as nn
from browser import chromium, needs_chromium
from tinygrad_sm import Tensor, pictures, viz
from tinygrad_sm.formatting import format_number


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


def img_of(figure: str) -> np.ndarray:
    uri = re.search(r'src="data:image/png;base64,([^"]+)"', figure).group(1)
    return pixels(base64.b64decode(uri))


def test_pictures_imports_no_renderer_and_matplotlib_only_lazily():
    import ast
    tree = ast.parse(open(pictures.__file__, encoding="utf-8").read())
    top = {a.name for node in tree.body if isinstance(node, ast.Import) for a in node.names}
    top |= {node.module or "" for node in tree.body if isinstance(node, ast.ImportFrom)}
    assert "matplotlib" not in top and "PIL" not in top
    inside = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level}
    assert inside <= {"formatting", "i18n"}        # nothing from a renderer (i18n: the words)


def test_colour_sign_and_ordering_follow_the_numbers():
    a = np.array([[-2.0, -1.0, 0.0, 0.5, 1.0, 2.0]])
    rgb = pixels(pictures.heatmap_png(a, cell=1))[0]
    red, blue = rgb[:, 0], rgb[:, 2]
    assert (blue[:2] > red[:2]).all() and (red[3:] > blue[3:]).all()   # sign: blue < 0 < red
    assert rgb[2].min() >= 240                                          # 0 is (near) white
    ink = 255 * 3 - rgb.sum(axis=1)                                     # how far from white
    assert ink[0] > ink[1] > ink[2] < ink[3] < ink[4] < ink[5]           # size: darker is larger
    # symmetric: −2 and +2 are equally strong
    assert abs(int(ink[0]) - int(ink[5])) <= 40


def test_png_cells_match_the_entries():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(5, 7))
    rgb = pixels(pictures.heatmap_png(a, cell=3))
    assert rgb.shape == (15, 21, 3)
    expected = pictures.colours(a, np.abs(a).max())
    np.testing.assert_array_equal(rgb[1::3, 1::3], expected)
    # the entry with the largest |value| is the strongest colour of its sign
    i = np.unravel_index(np.abs(a).argmax(), a.shape)
    ink = 765 - rgb[1::3, 1::3].sum(axis=2)
    assert ink[i] == ink.max()


def test_the_printed_bound_is_max_abs_and_min_max_are_exact():
    a = np.array([[0.25, -3.5], [1.0, 2.0]] * 3)
    text = html.unescape(pictures.heatmap_html(a, "∂L/∂W"))
    assert f"colour scale ±{format_number(3.5)}" in text
    assert "min -3.5, max 2" in text and "shape (6, 2)" in text and "mean" not in text
    assert "∂L/∂W" in text
    # the numbers behind the picture, for the pointer readout, are the tensor's
    values = re.search(r"data-values='([^']+)'", text).group(1)
    assert values.count(",") == a.size - 1 and values.startswith('["0.25", "-3.5"')
    # a given bound changes the colours: with a bound twice as large the colours are paler
    paler = pixels(pictures.heatmap_png(a, bound=7.0, cell=1))
    assert (765 - paler.sum(axis=2)).max() < (765 - pixels(pictures.heatmap_png(a, cell=1)).sum(axis=2)).max()


@pytest.mark.parametrize("value, said", [
    (np.zeros((5, 6)), "colour scale ±0 (all zero)"),
    (np.array([[1.0, np.nan, -np.inf, 2.0, 0.0]] * 2), "2 NaN, 2 inf (green)"),
    (np.array([7.5]), "min 7.5, max 7.5"),
    (np.array(3.0), "shape scalar"),
    (np.arange(24.0).reshape(2, 3, 4) - 10, "3-D shown as a 2-D view (6, 4)"),
    (np.arange(120.0).reshape(2, 3, 4, 5), "4-D shown as a 2-D view (24, 5)"),
])
def test_bad_input_draws_and_is_named(value, said):
    text = html.unescape(pictures.heatmap_html(value, "t"))
    assert said in text
    rgb = img_of(text)
    view = pictures.view_2d(value)
    cell = rgb.shape[0] // view.shape[0]
    cells = rgb[cell // 2::cell, cell // 2::cell]
    assert cells.shape[:2] == view.shape
    bad = ~np.isfinite(view)
    assert (cells[bad] == pictures.MARKED).all()                      # NaN/inf in the marked colour
    assert not (cells[~bad] == pictures.MARKED).all(axis=-1).any()
    if not np.any(view[~bad]):
        assert (cells[~bad] >= 240).all()                              # all zero: white


def test_class_images_are_the_columns_reshaped():
    rng = np.random.default_rng(1)
    W = rng.normal(size=(12, 3))                                        # 3 classes of 3 × 4 pixels
    rgb = pixels(pictures.class_images_png(W, (3, 4), cell=1))
    assert rgb.shape == (3, 3 * 4 + 2 * pictures.GAP, 3)
    colours = pictures.colours(W, np.abs(W).max())
    for k in range(3):
        x0 = k * (4 + pictures.GAP)
        np.testing.assert_array_equal(rgb[:, x0:x0 + 4], colours[:, k].reshape(3, 4, 3))
    # rows hold the images when the second axis has the pixels (X: one image per example)
    assert pictures.as_images(W.T, (3, 4))[1] == "rows"


def test_an_image_shape_that_does_not_divide_falls_back_to_a_heatmap():
    W = np.arange(30.0).reshape(10, 3)
    assert pictures.as_images(W, (3, 4)) is None
    text = pictures.class_images_html(W, "W", (3, 4))
    assert 'data-kind="grid"' in text and "images of" not in text
    with pytest.raises(ValueError, match=r"class_images_png: shape \(10, 3\) has no axis of 3×4"):
        pictures.class_images_png(W, (3, 4))


def test_downsampling_averages_blocks_and_keeps_nan_visible():
    a = np.arange(16.0).reshape(4, 4)
    a[3, 3] = np.nan
    small, factor = pictures.downsample(a, 2)
    assert factor == (2, 2)
    assert small[0, 0] == np.mean([0, 1, 4, 5]) and np.isnan(small[1, 1])
    odd, factor = pictures.downsample(np.ones((5, 3)), 2)             # edges: partial blocks
    assert factor == (3, 2) and odd.shape == (2, 2) and (odd == 1).all()
    wide, factor = pictures.downsample(np.arange(256.0).reshape(1, 256), 40)  # each axis its own
    assert factor == (1, 7) and wide.shape == (1, 37) and wide[0, 0] == 3.0


# ---- in the diagram ----

def node_cells(source: str, node: str) -> list[str]:
    label = re.search(rf"\t{node} \[label=<(.*?)> class=", source, re.S).group(1)
    return re.findall(r'<td bgcolor="(#[0-9a-f]{6})" width=', label)


def test_diagram_cells_are_the_gradient_on_its_own_scale():
    rng = np.random.default_rng(3)
    X = Tensor(rng.normal(size=(6, 5)), name="X")
    model = nn.SoftmaxRegression(5, 7, seed=0, dtype=np.float64)
    L = nn.cross_entropy(model(X), rng.integers(0, 7, size=6))
    L.backward()
    source = viz.draw(L).source
    order = [t for t in viz.topo_order(L, only_grad=False)]
    i = next(i for i, t in enumerate(order) if t is model.W)
    cells = node_cells(source, f"t{i}")
    # the value (W, tiny) and its gradient each fill the colour range on their own scale
    W, grad = model.W.data, model.W.grad
    value_cells = [c for row in pictures.hex_colours(W, np.abs(W).max()) for c in row]
    grad_cells = [c for row in pictures.hex_colours(grad, np.abs(grad).max()) for c in row]
    assert cells == value_cells + grad_cells
    label = html.unescape(re.search(rf"\tt{i} \[label=<(.*?)> class=", source, re.S).group(1))
    assert f"colour scale ±{format_number(np.abs(grad).max())}" in label
    assert f"colour scale ±{format_number(np.abs(W).max())}" in label


@pytest.mark.parametrize("fmt", ["svg", "png"])
def test_bad_tensors_draw_in_svg_and_png(fmt):
    values = [np.zeros((6, 6)), np.array([[np.nan, np.inf, 1.0, 2.0, 3.0]] * 5),
              np.arange(60.0).reshape(3, 4, 5), np.arange(120.0).reshape(2, 3, 4, 5), np.ones(1)]
    total = None
    for k, v in enumerate(values):
        t = (Tensor(v, requires_grad=True, name=f"v{k}") * 2.0).sum()
        total = t if total is None else total + t
    image = viz.draw(total, image_shape=(7, 7)).pipe(format=fmt)     # 7 × 7 divides nothing here
    if fmt == "svg":
        text = html.unescape(image.decode("utf-8"))
        assert "NaN" in text and "3-D shown as a 2-D view (12, 5)" in text and "all zero" in text
        assert pictures.MARKED == (0, 200, 83) and "#00c853" in text
    else:
        assert image[:8] == b"\x89PNG\r\n\x1a\n"


def test_image_shape_draws_per_class_images_and_is_checked():
    W = Tensor(np.arange(64 * 3, dtype=float).reshape(64, 3) - 90, requires_grad=True, name="W")
    X = Tensor(np.ones((2, 64)), name="X")
    source = viz.draw((X @ W).sum(), image_shape=(8, 8)).source
    assert "3 images of 8×8 (columns)" in source and "2 images of 8×8 (rows)" in source
    with pytest.raises(TypeError, match="image_shape must be"):
        viz.draw((X @ W).sum(), image_shape=8)
    with pytest.raises(ValueError, match="image_shape must be positive"):
        viz.draw((X @ W).sum(), image_shape=(0, 8))


def test_too_many_images_are_one_heatmap():
    W1 = np.ones((64, pictures.MAX_IMAGES + 1))                      # an MLP's hidden units
    assert pictures.as_images(W1, (8, 8)) is None
    assert pictures.as_images(W1[:, :pictures.MAX_IMAGES], (8, 8))[1] == "columns"


# ---- a page's picture of a big tensor: every number up to a size, block means beyond ----

def test_page_heatmaps_keep_every_number_of_a_batch_and_average_blocks_of_a_bigger_tensor():
    batch = np.random.default_rng(0).normal(size=(256, 784))  # Fashion-MNIST's batch: kept whole
    figure = pictures.heatmap_html(batch, "X")
    assert 'data-rows="256" data-cols="784"' in figure and "data-block=" not in figure
    assert img_of(figure).shape[:2] == (256, 784)
    big = np.random.default_rng(1).normal(size=(1100, 700))
    big[0, 0], big[-1, -1] = np.nan, 40.0
    figure = pictures.heatmap_html(big, "W1")
    fr, fc = map(int, re.search(r'data-block="(\d+),(\d+)" data-full="1100,700"', figure).groups())
    rows, cols = -(-1100 // fr), -(-700 // fc)
    assert rows * cols <= 250_000 and max(rows, cols) <= 1024 and (fr, fc) != (1, 1)
    assert f'data-rows="{rows}" data-cols="{cols}"' in figure
    values = json.loads(re.search(r"data-values='([^']+)'", figure).group(1))
    assert len(values) == rows * cols and values[0] == "nan"  # a block with NaN is marked
    block = lambda r, c: big[r * fr:(r + 1) * fr, c * fc:(c + 1) * fc].mean()
    assert values[1] == format_number(block(0, 1)) and values[-1] == format_number(block(rows - 1, cols - 1))
    assert img_of(figure).shape[:2] == (rows, cols)
    text = html.unescape(figure)
    # the tensor's own numbers beside it: shape, scale ±max|value|, exact min and max
    assert "shape (1100, 700)" in text and "colour scale ±40" in text
    assert f"max 40" in text and f"min {format_number(np.nanmin(big))}" in text
    assert f"drawn as means of {fr}×{fc} blocks" in text
    assert len(figure) < 3_000_000  # was 10.8 MB for a 784 × 1000 tensor, 55 MB at 2000 × 2000


BLOCK_DRIVER = """<script>
window.addEventListener("load", () => {
  const img = document.querySelector("img.tg-heat"), r = img.getBoundingClientRect();
  const cell = img.clientWidth / Number(img.dataset.cols);
  img.dispatchEvent(new MouseEvent("mousemove", {bubbles: true,
    clientX: r.left + img.clientLeft + (COL + 0.5) * cell, clientY: r.top + img.clientTop + (ROW + 0.5) * cell}));
  const out = img.parentElement.querySelector(".tg-readout");
  document.body.dataset.result = JSON.stringify({text: out.textContent, row: out.dataset.row,
                                                 col: out.dataset.col});
});
</script>"""


@needs_chromium
@pytest.mark.parametrize("lang, expected", [
    ("en", "row {rows}, column {cols}: {mean} (mean of the block)"),
    ("zh", "第 {rows} 行，第 {cols} 列：{mean}（该块的均值）")])
def test_the_readout_over_block_means_names_the_block_and_its_mean(lang, expected, tmp_path):
    from tinygrad_sm import page
    big = np.random.default_rng(2).normal(size=(1100, 700))  # drawn in 2 × 2 blocks
    row, col = 549, 123                                    # the last block row: rows 1098–1099
    body = (f'<div class="tg-stepper">{pictures.heatmap_html(big, "W1", lang=lang)}</div>'
            f'<script>{page.asset("stepper.js")}</script>')
    probe = tmp_path / "blocks.html"
    probe.write_text(f"<!doctype html><meta charset='utf-8'><body>{body}"
                     + BLOCK_DRIVER.replace("ROW", str(row)).replace("COL", str(col)) + "</body>",
                     encoding="utf-8")
    done = chromium("--dump-dom", probe.as_uri(), tmp_path=tmp_path)
    found = re.search(r'data-result="([^"]*)"', done.stdout.decode("utf-8"))
    assert found, done.stderr.decode()[-2000:]
    out = json.loads(html.unescape(found.group(1)))
    assert out["row"] == "1098–1099" and out["col"] == "246–247"
    assert out["text"] == expected.format(rows="1098–1099", cols="246–247",
                                          mean=format_number(big[1098:1100, 246:248].mean()))
