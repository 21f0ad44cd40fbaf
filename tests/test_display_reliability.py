"""Displays stay right whatever the user names things, whatever the shapes (issue 21)."""
from __future__ import annotations

import json
import os
import re

import numpy as np
import pytest

from browser import chromium, needs_chromium
from tinygrad_sm import Tensor
from tinygrad_sm.ops import Op

EVIL = "<!--<script>"


class Evil(Op):
    name, formula = EVIL, "{out} = 2 {a}"
    rules = ("∂L/∂{a} = 2 ∂L/∂{out}",)

    def forward(self, a):
        return 2 * a

    def backward(self, g, needs):
        return (2 * g,)


def evil_trace():
    x = Tensor(np.array([[1.0, 2.0], [3.0, 4.0]]), name=EVIL, requires_grad=True)
    return Evil.apply(x).sum().backward(trace=True)


def frames_json(html: str) -> str:
    return re.search(r'<script type="application/json" class="tg-frames">(.*?)</script>', html, re.S).group(1)


# ---- item 8: JSON inside <script> has no "<" at all ----

def test_embedded_json_escapes_every_angle_bracket(tmp_path):
    from tinygrad_sm.notebook import trace_html
    trace = evil_trace()
    page = tmp_path / "page.html"
    trace.save_html(page)
    for html in (page.read_text(encoding="utf-8"), trace_html(trace)):
        data = frames_json(html)
        assert "<" not in data
        assert EVIL in json.dumps(json.loads(data), ensure_ascii=False)   # the name survives


@needs_chromium
def test_the_page_and_the_notebook_stepper_start_with_an_evil_name(tmp_path):
    from tinygrad_sm.notebook import trace_html
    trace = evil_trace()
    page = tmp_path / "page.html"
    trace.save_html(page)
    cell = tmp_path / "cell.html"
    cell.write_text(f"<!DOCTYPE html><html><head><meta charset='utf-8'></head><body>{trace_html(trace)}"
                    "</body></html>", encoding="utf-8")
    for path in (page, cell):
        done = chromium("--dump-dom", path.as_uri(), tmp_path=tmp_path)
        dom = done.stdout.decode("utf-8")
        assert done.returncode == 0, done.stderr.decode()[-2000:]
        assert re.search(r'class="tg-stepper[^"]*"[^>]*data-ready="1"', dom), path.name


# ---- item 7: rich never reads user text as markup ----

class Bracketed(Evil):
    name = "[bold]mul[/bold]"


def bracket_trace(root: str, op=Evil):
    x = Tensor(np.array([1.0, 2.0]), name="x[0]", requires_grad=True)
    return op.apply(x).sum().named(root).backward(trace=True)


@pytest.mark.parametrize("root", ["y[pred]", "L[/b]", "[red]L"])
def test_names_in_square_brackets_print_literally(root):
    from io import StringIO

    from rich.console import Console

    from tinygrad_sm.terminal import walk
    trace = bracket_trace(root, Bracketed)
    text = str(trace)                       # L[/b] raised MarkupError here
    assert f"Backward from {root}" in text or root in text.splitlines()[0]
    assert "[bold]mul[/bold]" in text and "x[0]" in text
    console = Console(file=StringIO(), width=200, color_system=None)
    walk(trace, pause=False, console=console)
    shown = console.file.getvalue()
    assert "[bold]mul[/bold]" in shown and root in shown and "x[0]" in shown


# ---- item 13: empty tensors draw as "empty" ----

@pytest.fixture(params=[(0, 5), (5, 0)], ids=["0x5", "5x0"])
def empty(request):
    W = Tensor(np.zeros(request.param), name="W", requires_grad=True)
    L = (W * 2).sum().named("L")
    return request.param, W, L, L.backward(trace=True)


def test_an_empty_tensor_shows_as_empty_in_a_notebook(empty):
    shape, W, _, _ = empty
    html = W._repr_html_()
    assert f"{shape}: empty" in html


def test_an_empty_tensor_draws_and_renders(empty):
    from tinygrad_sm import viz
    shape, _, L, trace = empty
    diagram = viz.draw(L, trace=trace)
    assert f"{shape}: empty" in diagram.source
    assert b"empty" in viz.render_bytes(diagram, "svg")


def test_an_empty_tensor_in_the_saved_page(empty, tmp_path):
    shape, _, _, trace = empty
    path = tmp_path / "page.html"
    trace.save_html(path)
    assert f"{shape}: empty" in path.read_text(encoding="utf-8")


# ---- renderer lookup: no relative PATH entry, graphviz-pure through its package's files ----

def test_a_dot_in_the_working_folder_never_runs(tmp_path, monkeypatch):
    from tinygrad_sm import viz
    marker = tmp_path / "ran"
    fake = tmp_path / "dot"
    fake.write_text(f"#!/bin/sh\ntouch '{marker}'\nexit 1\n")
    fake.chmod(0o755)
    elsewhere = tmp_path / "empty"
    elsewhere.mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", os.pathsep.join(["", ".", "empty", str(elsewhere)]))
    renderer = viz.find_renderer()
    assert renderer is None or (renderer.name == "graphviz-pure" and os.path.isabs(renderer.path))
    if renderer is not None:
        viz.render_bytes(viz.draw(bracket_trace("L").root), "svg")
    assert not marker.exists()


def test_graphviz_pure_is_found_through_its_installed_files(tmp_path, monkeypatch):
    from importlib import metadata

    from tinygrad_sm import viz
    try:
        metadata.distribution("graphviz-pure")
    except metadata.PackageNotFoundError:
        pytest.skip("graphviz-pure is not installed")
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))                  # not on PATH
    monkeypatch.setattr(viz, "scripts_dir", lambda: str(empty))   # nor next to this Python
    renderer = viz.find_renderer()
    assert renderer is not None and renderer.name == "graphviz-pure"
    assert os.path.isabs(renderer.path) and os.access(renderer.path, os.X_OK)
    assert b"<svg" in viz.render_bytes(viz.draw(bracket_trace("L").root), "svg")


# ---- render_frames: the returned list is what the folder holds; never through a symlink ----

def chain_trace(steps: int):
    y = Tensor(np.array([1.0, 2.0]), name="x", requires_grad=True)
    for _ in range(steps - 1):
        y = y * 2
    return y.sum().named("L").backward(trace=True)


@pytest.fixture
def renderer():
    from tinygrad_sm import viz
    if viz.find_renderer() is None:
        pytest.skip("no renderer (pip install graphviz-pure)")


def test_a_shorter_render_leaves_no_stale_frames(tmp_path, renderer):
    from tinygrad_sm import viz
    folder = tmp_path / "frames"
    mine = folder / "frame_007.png"            # another format: not this render's to remove
    folder.mkdir()
    mine.write_bytes(b"mine")
    (folder / "frame_notes.svg").write_text("mine")
    long = viz.render_frames(chain_trace(3), folder)
    assert len(long) == 3
    short = viz.render_frames(chain_trace(1), folder)
    assert short == [str(folder / "frame_000.svg")]
    assert sorted(p.name for p in folder.glob("frame_*.svg")) == ["frame_000.svg", "frame_notes.svg"]
    assert sorted(p.name for p in folder.glob("frame_*.gv")) == ["frame_000.gv"]
    assert mine.read_bytes() == b"mine"
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]    # no staging left


def test_frames_replace_a_planted_symlink_instead_of_writing_through_it(tmp_path, renderer):
    from tinygrad_sm import viz
    folder = tmp_path / "frames"
    folder.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (folder / "frame_000.svg").symlink_to(victim)
    (folder / "frame_000.gv").symlink_to(victim)
    viz.render_frames(chain_trace(2), folder)
    assert victim.read_text() == "precious"
    assert not (folder / "frame_000.svg").is_symlink()
    assert (folder / "frame_000.svg").read_text().lstrip().startswith("<?xml")


# ---- item 12: a PNG's size is bounded before anything is painted ----

def test_svg_size_reads_the_header():
    from tinygrad_sm import png
    assert png.svg_size('<svg width="720pt" height="72pt" viewBox="0 0 720 72">') == (960, 96)
    assert png.svg_size('<svg width="100px" height="50">') == (100, 50)
    assert png.svg_size('<svg viewBox="0 0 300 200">') == (300, 200)


def test_a_png_of_a_long_graph_is_refused_quickly(renderer):
    import time

    from tinygrad_sm import png, viz
    trace = chain_trace(300)
    diagram = viz.draw(trace.root, trace=trace)
    start = time.perf_counter()
    with pytest.raises(png.PictureTooLarge, match=r"million.*render it as SVG"):
        viz.render_bytes(diagram, "png")
    assert time.perf_counter() - start < 10
    assert b"<svg" in viz.render_bytes(diagram, "svg")          # SVG has no such limit


def test_a_png_within_the_cap_is_painted(renderer):
    from tinygrad_sm import viz
    trace = chain_trace(3)
    assert viz.render_bytes(viz.draw(trace.root, trace=trace), "png")[:4] == b"\x89PNG"
