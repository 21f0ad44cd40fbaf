"""Displays stay right whatever the user names things, whatever the shapes (issue 21)."""
from __future__ import annotations

import json
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
