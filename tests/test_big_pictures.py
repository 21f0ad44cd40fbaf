"""Pictures of big tensors (issue 21, item 17): bounded memory, and still the right picture.

Memory is checked with tracemalloc relative to the tensor's bytes on a batch of 6000 × 784 (the
full 60000 × 784 is timed and measured by benchmarks/bench_big_pictures.py); the content of a
big picture is checked against block means, bounds and counts computed here independently.
"""
from __future__ import annotations

import base64
import html
import io
import math
import re
import tracemalloc

import numpy as np
import pytest
from PIL import Image

import tinygrad_sm.nn as nn
from tinygrad_sm import Tensor, page, pictures, viz
from tinygrad_sm.formatting import format_number


def block_means(a: np.ndarray, fr: int, fc: int) -> np.ndarray:
    """Means of fr × fc blocks (partial at the edges) in float64; NaN where a block holds NaN/inf."""
    a = np.asarray(a, dtype=np.float64)
    rows, cols = math.ceil(a.shape[0] / fr), math.ceil(a.shape[1] / fc)
    out = np.empty((rows, cols))
    for i in range(rows):
        for j in range(cols):
            block = a[i * fr:(i + 1) * fr, j * fc:(j + 1) * fc]
            out[i, j] = block.mean() if np.isfinite(block).all() else np.nan
    return out


def true_bound(a: np.ndarray) -> float:
    finite = np.asarray(a, dtype=np.float64)[np.isfinite(a)]
    return float(np.abs(finite).max()) if finite.size else 0.0


def png_of(figure: str) -> np.ndarray:
    uri = re.search(r'src="data:image/png;base64,([^"]+)"', figure).group(1)
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri))).convert("RGB"))


# ---- the content of a big picture ----

@pytest.mark.parametrize("chunk", [1 << 20, 1000, 7])   # pieces of every size, blocks cut or not
@pytest.mark.parametrize("layout", ["rows", "columns", "broadcast", "int"])
def test_downsample_is_the_block_means_read_piece_by_piece(monkeypatch, chunk, layout):
    monkeypatch.setattr(pictures, "CHUNK", chunk)
    rng = np.random.default_rng(0)
    a = {"rows": rng.standard_normal((203, 157)).astype(np.float32),
         "columns": rng.standard_normal((157, 203)).T,                 # Xᵀ: column-major
         "broadcast": np.broadcast_to(rng.standard_normal((1, 157)), (203, 157)),
         "int": rng.integers(-9, 9, (203, 157))}[layout]
    if layout in ("rows", "columns"):
        a = a.copy() if layout == "rows" else a
        a[5, 7], a[150, 100] = np.nan, np.inf
    means, (fr, fc) = pictures.downsample(a, 40)
    assert (fr, fc) == (math.ceil(203 / 40), math.ceil(157 / 40))
    np.testing.assert_allclose(means, block_means(a, fr, fc), rtol=1e-6, equal_nan=True)
    if layout in ("rows", "columns"):
        assert np.isnan(means[5 // fr, 7 // fc]) and np.isnan(means[150 // fr, 100 // fc])


@pytest.mark.parametrize("chunk", [1 << 20, 13])
def test_stats_are_the_finite_min_max_and_the_nan_inf_counts(monkeypatch, chunk):
    monkeypatch.setattr(pictures, "CHUNK", chunk)
    rng = np.random.default_rng(1)
    a = rng.standard_normal((300, 40)).astype(np.float32)
    a[3, 4], a[200, 1], a[7, 7], a[8, 8] = np.nan, np.inf, -np.inf, np.nan
    a[100, 30] = -50.0                                                 # the largest |x|: negative
    for x in (a, a.T, a.reshape(2, 150, 40)):
        stats = pictures.stats_of(x)
        finite = x[np.isfinite(x)]
        assert (stats.low, stats.high) == (float(finite.min()), float(finite.max()))
        assert (stats.nan, stats.inf) == (2, 2) and stats.bound == true_bound(x) == 50.0
    assert pictures.stats_of(np.full((5, 5), np.nan)) == pictures.Stats(None, None, 25, 0)
    assert pictures.bound_of(np.zeros((0, 5))) == 0.0
    assert pictures.stats_of(np.array([[True, False]])).high == 1.0


def test_a_big_tensors_page_picture_is_block_means_on_the_true_scale():
    rng = np.random.default_rng(2)
    a = rng.standard_normal((3000, 2500))
    a[10, 10] = -7.25                                                  # the bound, exactly
    a[2000, 2000] = np.nan
    text = pictures.heatmap_html(a, "A")
    fr, fc = map(int, re.search(r'data-block="(\d+),(\d+)"', text).group(1, 2))
    expected = block_means(a, fr, fc)
    # the numbers of the readout are those block means, formatted as everywhere else
    values = re.search(r"data-values='([^']+)'", text).group(1)
    assert values == "[" + ", ".join(f'"{format_number(x) if np.isfinite(x) else x}"'
                                     for x in expected.ravel().tolist()) + "]"
    # the colours are those of the block means on the scale ±max|a| (not the means' own max)
    cell = int(re.search(r'data-cell="(\d+)"', text).group(1))
    rgb = png_of(text)[cell // 2::cell, cell // 2::cell]
    scale = true_bound(a)
    t = np.clip((np.nan_to_num(expected) / scale + 1) / 2, 0, 1)
    want = pictures._table()[np.rint(t * 255).astype(int)]
    want[np.isnan(expected)] = pictures.MARKED
    np.testing.assert_array_equal(rgb, want)
    said = html.unescape(text)
    assert f"colour scale ±{format_number(7.25)}" in said and "1 NaN" in said
    finite = a[np.isfinite(a)]
    assert f"min {format_number(finite.min())}, max {format_number(finite.max())}" in said


def test_the_diagrams_cells_of_a_batch_are_its_block_means():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((6000, 784)).astype(np.float32)
    source = viz.draw(Tensor(X, requires_grad=True, name="X").sum()).source
    label = re.search(r"\tt0 \[label=<(.*?)> class=", source, re.S).group(1)
    cells = re.findall(r'<td bgcolor="(#[0-9a-f]{6})" width=', label)
    fr, fc = math.ceil(6000 / viz.MAX_CELLS), math.ceil(784 / viz.MAX_CELLS)
    means = block_means(X, fr, fc)
    assert cells == [c for row in pictures.hex_colours(means, true_bound(X)) for c in row]


def test_number_texts_are_format_number():
    rng = np.random.default_rng(4)
    values = np.concatenate([rng.standard_normal(2000) * 10.0 ** rng.integers(-9, 10, 2000),
                             [0.0, -0.0, 12345.0, -99999.0, 999999.0, 1e6, 1234.0, -3.0, 0.5,
                              1e20, 2.5e-5, np.nan, np.inf, -np.inf]])
    assert pictures.number_texts(values) == [format_number(x) if np.isfinite(x) else str(x)
                                             for x in values.tolist()]
    assert pictures.number_texts(np.zeros((0, 3))) == []


def test_the_colour_table_is_matplotlibs_rdbu_r():
    from matplotlib import colormaps
    expected = (colormaps[pictures.CMAP](np.linspace(0, 1, 256))[:, :3] * 255).round()
    np.testing.assert_array_equal(pictures._table(), expected.astype(np.uint8))


def test_the_closed_form_check_by_blocks_of_rows_is_xt_times_d():
    rng = np.random.default_rng(5)
    x, d = rng.standard_normal((1000, 30)).astype(np.float32), rng.standard_normal((1000, 4))
    np.testing.assert_allclose(page._xt_times(x, d, rows=7), x.astype(np.float64).T @ d, rtol=1e-12)


# ---- the trace keeps its numbers, without a copy per use ----

def test_the_trace_keeps_its_values_when_grad_is_edited_in_place():
    A = Tensor(np.arange(12.0).reshape(3, 4), requires_grad=True, name="A")
    trace = (A * 2.0).sum().backward(trace=True)
    mul = next(s for s in trace if s.op == "mul")
    A.grad *= 100                                                      # the user's own .grad
    np.testing.assert_array_equal(mul.grad_inputs[0], np.full((3, 4), 2.0))
    np.testing.assert_array_equal(trace.grad_at(A).value, np.full((3, 4), 2.0))


def test_a_broadcast_gradient_is_kept_as_its_numbers_and_copied_once():
    A = Tensor(np.ones((400, 500)), requires_grad=True, name="A")
    trace = (A * 2.0).sum().backward(trace=True)
    total, mul = trace[0], trace[1]
    ones = total.grad_inputs[0]                                        # ∂L/∂(A·2): ones, broadcast
    np.testing.assert_array_equal(ones, np.ones((400, 500)))
    assert ones.base is not None and ones.base.size == 1 and not ones.flags.writeable
    assert mul.grad_output is ones                                     # the same numbers: one copy
    assert mul.local_grads[0] is mul.grad_inputs[0]


# ---- memory: tracemalloc's peak relative to the tensor's bytes ----

def batch_graph(n: int):
    rng = np.random.default_rng(6)
    X = Tensor(rng.standard_normal((n, 784), dtype=np.float32), name="X")
    model = nn.SoftmaxRegression(784, 10)
    L = nn.cross_entropy(model(X), rng.integers(0, 10, n))
    return L, L.backward(trace=True), X.data.nbytes


def traced_peak(work) -> int:
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        work()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def test_drawing_and_paging_a_big_batch_stay_within_a_few_times_its_bytes(tmp_path):
    L, trace, _ = batch_graph(300)                                     # lazy imports done first
    trace.save_html(tmp_path / "warm.html", image_shape=(28, 28))
    L, trace, nbytes = batch_graph(6000)                               # X: 18.8 MB of float32
    draw = traced_peak(lambda: viz.draw(L, trace=trace, image_shape=(28, 28)).source)
    paged = traced_peak(lambda: trace.save_html(tmp_path / "page.html", image_shape=(28, 28)))
    # before: a float64 copy of X and more, 6.6× (draw) and 7.0× (page) X's bytes
    assert draw < 1.0 * nbytes, f"draw peaked at {draw / nbytes:.2f}× X's bytes"
    assert paged < 3.0 * nbytes, f"save_html peaked at {paged / nbytes:.2f}× X's bytes"


def test_a_big_tensors_notebook_card_stays_within_twice_its_bytes():
    Tensor(np.ones((300, 300)))._repr_html_()                          # lazy imports done first
    A = Tensor(np.random.default_rng(7).standard_normal((1500, 1500)), name="A")   # 18 MB
    peak = traced_peak(A._repr_html_)
    assert peak < 2.0 * A.data.nbytes, f"_repr_html_ peaked at {peak / A.data.nbytes:.2f}× its bytes"


def test_a_page_draws_the_first_columns_of_a_wide_matrix_as_images_and_says_so():
    from tinygrad_sm import pictures
    Xt = np.random.default_rng(3).standard_normal((784, 600)).astype(np.float32)  # Xᵀ of a batch
    figure = pictures.unit_images_html(Xt, "Xᵀ", (28, 28), lang="en")
    assert 'data-cols="256"' in figure and "units 0–255 of 600" in figure
    assert f"{np.abs(Xt).max():.3g}"[:3] in figure  # the scale is the whole tensor's
