"""Diagrams: DOT content, frames, the highlighted path, golden files, and rendering with the
graphviz-pure fallback (system `dot` hidden from PATH).

Regenerate the golden files after an intended change to the drawing:
    TINYGRAD_SM_UPDATE_GOLDEN=1 pytest tests/test_viz.py
"""
from __future__ import annotations

import html
import os
import re
import struct
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

import tinygrad_sm.nn as nn
from tinygrad_sm import Tensor, viz
from tinygrad_sm.formatting import format_number
from tinygrad_sm.i18n import Messages, value_lines

EN = Messages("en")  # the words of value_lines (a big array: its shape and min/max)

GOLDEN = Path(__file__).parent / "golden"


def regression(batch: int = 2, features: int = 3, classes: int = 3):
    rng = np.random.default_rng(5)
    X = Tensor(rng.normal(size=(batch, features)).round(1), name="X")
    model = nn.SoftmaxRegression(features, classes, seed=1, dtype=np.float64)
    model.W.data[...] = rng.normal(0, 0.5, size=(features, classes)).round(2)
    L = nn.cross_entropy(model(X), rng.integers(0, classes, size=batch))
    return L, model, X


def diamond():
    """L = Σ (a ⊙ b + a ⊙ c), small integers so the golden files do not depend on rounding."""
    a = Tensor([1.0, 2.0], requires_grad=True, name="a")
    b = Tensor([3.0, 4.0], requires_grad=True, name="b")
    c = Tensor([5.0, -1.0], requires_grad=True, name="c")
    L = ((a * b).named("ab") + (a * c).named("ac")).named("s").sum().named("L")
    return L, a, L.backward(trace=True)


def nodes(source: str) -> dict[str, str]:
    """node id -> its attribute text."""
    return dict(re.findall(r"^\t(\w+) \[(.*)\]$", source, flags=re.M))


def edges(source: str) -> list[tuple[str, str, str]]:
    return re.findall(r"^\t(\w+) -> (\w+)(?: \[(.*)\])?$", source, flags=re.M)


def backward_edges(source: str) -> list[tuple[str, str, str]]:
    """(op id, input id, tooltip) of each dashed/bold backward edge (they carry the rule as tooltip)."""
    return [(a, b, re.search(r'tooltip="([^"]*)"', attrs).group(1))
            for a, b, attrs in edges(source) if "tooltip=" in attrs]


def node_of(source: str, name: str) -> tuple[str, str]:
    """The tensor node whose title is <b>name</b>."""
    (found,) = [(k, v) for k, v in nodes(source).items() if f"<b>{html.escape(name)}</b>  " in v]
    return found


# ---- DOT content ----

def test_nodes_show_names_shapes_values_and_grads():
    L, model, X = regression()
    L.backward()
    source = viz.draw(L).source
    for name, shape in (("X", "(2, 3)"), ("W", "(3, 3)"), ("b", "(3,)"), ("XW", "(2, 3)"),
                        ("o", "(2, 3)"), ("y", "(2,)"), ("L", "scalar")):
        _, label = node_of(source, name)
        assert f"<font point-size=\"9\">{shape}" in label
    _, w = node_of(source, "W")
    for line in value_lines(EN, model.W.data) + value_lines(EN, model.W.grad):
        assert html.escape(line) in w
    assert "∂L/∂W =" in w
    _, x = node_of(source, "X")
    assert "∂L/∂X" not in x                          # data: no gradient row
    for line in value_lines(EN, X.data):
        assert line in x
    # op nodes: name and formula with the tensors' names
    assert "<b>matmul</b><br/>XW = X · W" in source and "<b>add</b><br/>o = XW + b" in source


def test_parameters_look_different_from_data():
    L, _, _ = regression()
    source = viz.draw(L).source
    for name in ("W", "b"):
        assert f'bgcolor="{viz.PARAM[0]}"' in node_of(source, name)[1] and "parameter" in node_of(source, name)[1]
    for name in ("X", "y"):
        assert f'bgcolor="{viz.DATA[0]}"' in node_of(source, name)[1] and "data" in node_of(source, name)[1]
    assert f'bgcolor="{viz.INTERMEDIATE[0]}"' in node_of(source, "o")[1]


def test_before_backward_grads_are_marked_not_computed():
    L, _, _ = regression()
    assert "∂L/∂W: not computed yet" in node_of(viz.draw(L).source, "W")[1]


def test_backward_edge_labels_are_the_steps_rule_text():
    L, _, _ = regression()
    trace = L.backward(trace=True)
    source = viz.draw(L).source
    ids = {name: node_of(source, name)[0] for name in ("W", "b", "XW", "o")}
    found = {(target, tip) for _, target, tip in backward_edges(source)}
    expected = {(ids[s.inputs[i].name], s.rules[i]) for s in trace
                for i, g in enumerate(s.grad_inputs) if g is not None}
    assert found == expected and len(found) == 4
    for _, target, attrs in edges(source):   # the visible label holds the same text
        tip = re.search(r'tooltip="([^"]*)"', attrs)
        if tip:
            assert html.escape(tip.group(1), quote=False) + "<br" in attrs
    assert ("∂L/∂W = Xᵀ · ∂L/∂XW") in {tip for _, _, tip in backward_edges(source)}


def test_highlight_colours_the_path_from_L_to_W_and_shows_dLdW():
    L, model, _ = regression()
    L.backward()
    source = viz.draw(L, highlight=model.W).source
    red = f'color="{viz.PATH_COLOR}"'
    for name in ("W", "XW", "o", "L"):
        assert red in node_of(source, name)[1] and 'border="3"' in node_of(source, name)[1]
    for name in ("X", "b", "y"):
        assert red not in node_of(source, name)[1]
    w_id = node_of(source, "W")[0]
    assert f"<b><font color=\"{viz.PATH_COLOR}\">∂L/∂W =" in node_of(source, "W")[1]
    red_edges = {(a, b) for a, b, attrs in edges(source) if viz.PATH_COLOR in attrs and "constraint" not in attrs}
    x_id, b_id = node_of(source, "X")[0], node_of(source, "b")[0]
    assert (w_id, "op2") in red_edges and (x_id, "op2") not in red_edges
    assert not any(a == b_id for a, _ in red_edges)
    assert len(red_edges) == 6      # W → matmul → XW → add → o → cross_entropy → L
    with pytest.raises(ValueError, match="not in the graph"):
        viz.draw(L, highlight=Tensor([1.0], name="stranger"))


def test_frames_show_known_gradients_the_active_op_and_its_contributions():
    L, a, trace = diamond()
    frames = [viz.draw(L, trace=trace, step=k).source for k in range(len(trace))]
    assert len(set(frames)) == len(trace) == 4
    for k, source in enumerate(frames):
        active = [i for i, attrs in nodes(source).items() if f'fillcolor="{viz.ACTIVE_FILL}"' in attrs]
        assert len(active) == 1 and f"<b>{trace[k].op}</b>" in nodes(source)[active[0]]
        assert f"<b>step {k + 1} of 4: {trace[k].op}</b>" in source   # numbered from 1
    # a gets its two terms at steps 2 and 3: unknown, then partial, then known
    a_label = [node_of(s, "a")[1] for s in frames]
    assert "∂L/∂a: ? (not known yet)" in a_label[1]
    assert "∂L/∂a so far (1 of 2 terms) =" in a_label[2] and "[ 5 -1]" in a_label[2]
    assert "∂L/∂a =" in a_label[3] and "[8 3]" in a_label[3]
    # the contribution flows along the active edge, with its rule
    # a's gradient is a sum of two terms: each edge says which term it carries
    assert "contribution 1 of 2 to ∂L/∂a:" in frames[2] and "∂L/∂a = ∂L/∂ac ⊙ c" in frames[2]
    assert "contribution 2 of 2 to ∂L/∂a:" in frames[3] and "∂L/∂a = ∂L/∂ab ⊙ b" in frames[3]
    assert "contribution" not in frames[1].split("∂L/∂ac =")[0]   # s → ac is all of ∂L/∂ac
    assert "∂L/∂L =" in node_of(frames[0], "L")[1]           # the seed is known from the start


def test_step_needs_a_trace_and_a_valid_index():
    L, _, trace = diamond()
    with pytest.raises(ValueError, match="needs the trace"):
        viz.draw(L, step=0)
    with pytest.raises(IndexError, match="out of range"):
        viz.draw(L, trace=trace, step=4)
    assert viz.draw(L, trace=trace, step=-1).source == viz.draw(L, trace=trace, step=3).source


def test_a_trace_of_another_graph_is_refused():
    L, _, trace = diamond()
    other, _, _ = diamond()                                   # same shape and names, other tensors
    for step in (None, 1):
        with pytest.raises(ValueError, match="trace is of another graph"):
            viz.draw(other, trace=trace, step=step)
    assert "step 2" in viz.draw(L, trace=trace, step=1).source   # its own root is fine


def test_same_graph_gives_the_same_dot_source():
    first, second = regression(), regression()
    assert viz.draw(first[0]).source == viz.draw(second[0]).source
    t1, t2 = first[0].backward(trace=True), second[0].backward(trace=True)
    assert viz.draw(first[0], trace=t1, step=1).source == viz.draw(second[0], trace=t2, step=1).source


def test_unnamed_tensors_get_labels_and_odd_names_are_escaped():
    p = Tensor([[1.0, 2.0]], requires_grad=True, name='<p & "q">')
    source = viz.draw((p * 3).sum()).source
    assert "<b>&lt;p &amp; \"q\"&gt;</b>" in source
    assert "<b>t1</b>" in source and "<b>L</b>" in source and "<b>3</b>" in source  # the root: L
    assert "t1 = &lt;p &amp; \"q\"&gt; ⊙ 3" in source
    svg = viz.render_bytes(source, "svg")                 # the renderer accepts it
    ET.fromstring(svg)


def test_big_tensors_are_heatmaps_with_bound_and_exact_min_max():
    L, _, X = regression(batch=256, features=20, classes=4)
    L.backward()
    source = viz.draw(L).source
    label = node_of(source, "X")[1]
    # no mean (a gradient's mean is mostly rounding noise on an exact zero); exact min and max
    assert "mean" not in label
    assert f"min {format_number(X.data.min())}, max {format_number(X.data.max())}" in label
    assert f"colour scale ±{format_number(np.abs(X.data).max())}" in label
    # 256 × 20 drawn as averages of blocks of 7 rows × 1 column: ceil(256/7) × 20 coloured cells
    assert "downsampled 7×1 (block averages)" in label
    assert label.count("bgcolor=\"#") - label.count('bgcolor="#eceff1"') == 37 * 20
    assert len(source) < 120_000


@pytest.mark.parametrize("kind", ["plain", "highlight", "step2"])
def test_golden_dot(kind):
    L, a, trace = diamond()
    graph = {"plain": lambda: viz.draw(L), "highlight": lambda: viz.draw(L, highlight=a),
             "step2": lambda: viz.draw(L, trace=trace, step=2)}[kind]()
    path = GOLDEN / f"diamond_{kind}.gv"
    if os.environ.get("TINYGRAD_SM_UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(graph.source, encoding="utf-8")
    assert graph.source == path.read_text(encoding="utf-8"), (
        f"{path.name} differs; if the change is intended: TINYGRAD_SM_UPDATE_GOLDEN=1 pytest tests/test_viz.py")


# ---- rendering ----

@pytest.fixture
def pure_only(tmp_path, monkeypatch):
    """PATH holds graphviz-pure and nothing else: no system dot."""
    renderer = viz.find_renderer()
    pure = renderer.path if renderer and renderer.name == "graphviz-pure" else None
    candidate = os.path.join(viz.scripts_dir(), "graphviz-pure")
    pure = pure or (candidate if os.path.exists(candidate) else None)
    if pure is None:
        pytest.skip("graphviz-pure is not installed (pip install graphviz-pure)")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "graphviz-pure").symlink_to(pure)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setattr(viz, "scripts_dir", lambda: str(tmp_path / "no-scripts"))
    return bin_dir


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_render_svg_and_png_with_the_fallback(pure_only, tmp_path, capfd):
    assert viz.find_renderer() == ("graphviz-pure", str(pure_only / "graphviz-pure"))
    L, model, _ = regression()
    L.backward()
    graph = viz.draw(L, highlight=model.W)
    svg_path = viz.render(graph, tmp_path / "out" / "graph.svg")
    png_path = viz.render(graph, tmp_path / "out" / "graph.png")
    assert svg_path == str(tmp_path / "out" / "graph.svg")
    root = ET.parse(svg_path).getroot()
    assert root.tag.endswith("svg")
    texts = " ".join(t.text or "" for t in root.iter() if t.tag.endswith("text"))
    for word in ("XW", "matmul", "cross_entropy", "∂L/∂W"):
        assert word in texts
    width, height = png_size(Path(png_path).read_bytes())
    assert 400 < width < 10_000 and 80 < height < 5_000
    assert Path(tmp_path / "out" / "graph.gv").read_text(encoding="utf-8") == graph.source
    out, err = capfd.readouterr()
    assert out == "" and err == ""                       # quiet on success


def test_the_diagrams_own_pipe_render_and_notebook_display_work_without_system_dot(pure_only, tmp_path):
    assert viz.find_renderer().name == "graphviz-pure"
    graph = viz.draw(diamond()[0])
    assert isinstance(graph, viz.Diagram)
    assert graph.pipe(format="svg").lstrip().startswith(b"<?xml")
    assert "<svg" in graph.pipe(format="svg", encoding="utf-8")
    bundle = graph._repr_mimebundle_()                     # what Jupyter asks for
    assert set(bundle) == {"image/svg+xml", "text/html"} and "<svg" in bundle["image/svg+xml"]
    assert "<svg" in bundle["text/html"]                   # the same SVG in a scrolling div
    png_size(graph._repr_mimebundle_(include=["image/png"])["image/png"])
    out = graph.render(outfile=tmp_path / "own.png")
    png_size(Path(out).read_bytes())
    assert Path(graph.render(tmp_path / "named", format="svg")).read_text().lstrip().startswith("<?xml")
    assert (tmp_path / "named.gv").read_text(encoding="utf-8") == graph.source
    assert os.environ["PATH"] == str(pure_only)            # nothing was added to PATH


def test_no_renderer_gives_a_clear_error_and_still_writes_the_source(tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setattr(viz, "scripts_dir", lambda: str(empty))
    monkeypatch.setattr(viz, "_installed_pure", lambda: None)   # nor among installed packages
    assert viz.find_renderer() is None
    graph = viz.draw(diamond()[0])
    with pytest.raises(viz.RendererNotFound) as error:
        viz.render(graph, tmp_path / "g.svg")
    message = str(error.value)
    assert "pip install graphviz-pure" in message and "apt-get install graphviz" in message
    assert str(tmp_path / "g.gv") in message
    assert (tmp_path / "g.gv").read_text(encoding="utf-8") == graph.source
    assert not (tmp_path / "g.svg").exists()


def test_render_rejects_unknown_formats(tmp_path):
    with pytest.raises(ValueError, match=r"\.svg or \.png"):
        viz.render(viz.draw(diamond()[0]), tmp_path / "g.pdf")


def test_render_refuses_a_suffix_that_disagrees_with_the_format(tmp_path):
    graph = viz.draw(diamond()[0])
    for name, format in (("q.svg", "png"), ("q.png", "svg"), ("q.PNG", "svg")):
        with pytest.raises(ValueError, match="make the suffix and the format agree"):
            viz.render(graph, tmp_path / name, format=format)
    assert list(tmp_path.iterdir()) == []                     # nothing written, not even the .gv
    # an unknown or missing suffix takes the format as given
    path = viz.render(graph, tmp_path / "q.image", format="svg")
    assert "<svg" in Path(path).read_text(encoding="utf-8")
    assert viz.render(graph, tmp_path / "r.SVG", format="svg").endswith("r.SVG")


def test_render_frames_writes_one_numbered_image_per_step(tmp_path):
    L, _, trace = diamond()
    paths = trace.render_frames(str(tmp_path / "frames"))
    assert [os.path.basename(p) for p in paths] == [f"frame_{k:03d}.svg" for k in range(4)]
    contents = [Path(p).read_text(encoding="utf-8") for p in paths]
    assert len(set(contents)) == 4 and all("<svg" in c for c in contents)
    assert "step 4" in contents[3]
