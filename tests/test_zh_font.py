"""中文 on any machine (issue 18): a Chinese page or notebook output carries the CJK glyphs it
uses (tinygrad_sm/fonts.py), so Chromium with no CJK font on the system draws every character;
the subset holds exactly those glyphs; an English page carries nothing."""
from __future__ import annotations

import base64
import html as html_module
import io
import json
import re
from pathlib import Path

import pytest
from browser import chromium, needs_chromium

from tinygrad_sm import fonts
from tinygrad_sm.cli import main
from tinygrad_sm.stepper import TinyProblem

# what a Chinese reader's text is made of, written out here (not taken from fonts.py): Han,
# CJK symbols and punctuation, full-width forms
CJK_TEXT = re.compile(r"[\u2e80-\u2fdf\u3000-\u33ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
                      r"\ufe10-\ufe1f\ufe30-\ufe4f\uff00-\uffef]")
FONT_STYLE = re.compile(r"<style>@font-face.*?</style>", re.S)  # what fonts.py adds
FONT_DATA = re.compile(r"url\(data:font/woff;base64,([A-Za-z0-9+/=]+)\)")


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> dict[str, Path]:
    """The step page and the training page in Chinese and English, written by the command."""
    out = tmp_path_factory.mktemp("pages")
    for lang in ("zh", "en"):
        assert main(["step", "--no-pause", "--lang", lang, "--html", str(out / f"step_{lang}.html")]) == 0
    assert main(["train", "--lang", "zh", "--epochs", "1", "--out", str(out / "train")]) == 0
    from tinygrad_sm import notebook
    p = TinyProblem(0)
    trace = p.L.backward(trace=True)
    (out / "notebook_zh.html").write_text(
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"></head><body>'
        + notebook.trace_html(trace, lang="zh") + notebook.tensor_html(p.model.W, lang="zh")
        + "</body></html>", encoding="utf-8")
    return {"step": out / "step_zh.html", "train": out / "train" / "backprop.html",
            "notebook": out / "notebook_zh.html", "english": out / "step_en.html",
            "graph.svg": out / "train" / "graph.svg"}


def used_characters(text: str) -> set[str]:
    return set(CJK_TEXT.findall(FONT_STYLE.sub("", text)))


def embedded_fonts(text: str) -> list:
    from fontTools.ttLib import TTFont
    return [TTFont(io.BytesIO(base64.b64decode(data))) for data in FONT_DATA.findall(text)]


# ---- the subset ----

@pytest.mark.parametrize("name", ["step", "train", "notebook", "graph.svg"])
def test_the_subset_holds_exactly_the_characters_the_page_uses(pages, name):
    text = pages[name].read_text(encoding="utf-8")
    used = used_characters(text)
    assert len(used) > 20, sorted(used)
    faces = embedded_fonts(text)
    assert faces, "no font embedded"
    for face in faces:  # the notebook page: one per output, each with its own characters
        cmap = {chr(code) for code in face.getBestCmap()}
        assert cmap <= used and cmap, sorted(cmap - used)
        assert len(face.getGlyphOrder()) == len(cmap) + 1  # and .notdef: no other glyph
    assert set().union(*({chr(c) for c in f.getBestCmap()} for f in faces)) == used
    ranges = re.findall(r"unicode-range: ([^;]+);", text)
    assert {chr(int(code, 16)) for r in ranges for code in re.findall(r"U\+([0-9A-F]+)", r)} == used


def test_a_page_cut_from_the_catalogues_font_is_the_same_as_from_the_whole_font():
    """subset_font's shortcut (the catalogues' characters cut once) gives the same glyphs."""
    from fontTools.pens.recordingPen import RecordingPen
    from fontTools.ttLib import TTFont
    characters = "".join(sorted(set("第 1 步（共 3 步）：上游梯度，参数") - {" ", "1", "3"}))
    whole, covered = fonts._cut_from_sources(characters)
    base, base_covered = fonts._catalogue_font()
    assert covered == characters and set(characters) <= set(base_covered)
    short = fonts._subset(TTFont(io.BytesIO(base)), characters)
    faces = [TTFont(io.BytesIO(data)) for data in (whole, short)]
    assert faces[0].getBestCmap() == faces[1].getBestCmap()
    assert {chr(c) for c in faces[0].getBestCmap()} == set(characters)
    glyphs = [face.getGlyphSet() for face in faces]
    for code, name in faces[0].getBestCmap().items():  # the same outlines, the same advance
        pens = [RecordingPen(), RecordingPen()]
        name_short = faces[1].getBestCmap()[code]
        glyphs[0][name].draw(pens[0])
        glyphs[1][name_short].draw(pens[1])
        assert pens[0].value == pens[1].value and glyphs[0][name].width == glyphs[1][name_short].width


def test_an_english_page_embeds_nothing(pages):
    text = pages["english"].read_text(encoding="utf-8")
    assert "@font-face" not in text and fonts.FAMILY not in text and not used_characters(text)


def test_without_a_font_the_page_is_written_as_before(monkeypatch, tmp_path):
    p = TinyProblem(0)
    trace = p.L.backward(trace=True)
    with_font = trace.save_html(str(tmp_path / "with.html"), lang="zh")
    monkeypatch.setattr(fonts, "font_sources", lambda: [])
    fonts.forget()
    try:
        without = trace.save_html(str(tmp_path / "without.html"), lang="zh")
    finally:
        fonts.forget()
    plain = Path(without).read_text(encoding="utf-8")
    assert "@font-face" not in plain
    assert FONT_STYLE.sub("", Path(with_font).read_text(encoding="utf-8")) == plain


def test_a_system_font_without_the_characters_is_not_used(monkeypatch):
    """fc-match always answers; a Latin answer (no CJK font installed) is passed over."""
    from importlib import resources
    dejavu = str(resources.files("matplotlib").joinpath("mpl-data", "fonts", "ttf", "DejaVuSans.ttf"))
    monkeypatch.setattr(fonts, "package_font", lambda: None)
    monkeypatch.setattr(fonts, "fontconfig_font", lambda: (dejavu, 0))
    fonts.forget()
    try:
        assert fonts.font_style("<p>第 1 步</p>") == ""
    finally:
        fonts.forget()


# ---- in Chromium, on a machine without a CJK font ----

def latin_only_fontconfig(tmp_path: Path) -> dict:
    """A fontconfig that knows only matplotlib's DejaVu fonts: no CJK font at all."""
    import os
    from importlib import resources
    folder = resources.files("matplotlib").joinpath("mpl-data", "fonts", "ttf")
    config = tmp_path / "fonts.conf"
    config.write_text(f"""<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">
<fontconfig>
  <dir>{folder}</dir>
  <cachedir>{tmp_path / "fontcache"}</cachedir>
</fontconfig>
""", encoding="utf-8")
    return dict(os.environ, FONTCONFIG_FILE=str(config))


# Every CJK character of the page, in the font its element has (text in the diagram included;
# the script's words in the stepper's font), drawn on a canvas and compared with what the same
# font draws for U+E000, a private-use character no font here has: the missing-glyph box.
SCRIPT = r"""
window.addEventListener("load", async () => {
  await Promise.all([...document.fonts].map((face) => face.load().catch(() => null)));
  await document.fonts.ready;
  const root = document.body || document.documentElement;  // a page, or an SVG file
  const ctx = new OffscreenCanvas(64, 64).getContext("2d", {willReadFrequently: true});
  const draw = (font, c) => {
    ctx.clearRect(0, 0, 64, 64); ctx.font = font; ctx.fillText(c, 4, 48);
    return ctx.getImageData(0, 0, 64, 64).data.join(",");
  };
  const cjk = /[\u2e80-\u2fdf\u3000-\u33ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\ufe10-\ufe1f\ufe30-\ufe4f\uff00-\uffef]/gu;
  const checks = new Map();
  const add = (element, text) => {
    const font = "40px " + getComputedStyle(element).fontFamily;
    for (const c of text.match(cjk) || []) checks.set(font + "\u0000" + c, [font, c]);
  };
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const element = node.parentElement;
    if (element.closest("script, style")) {
      const stepper = element.closest(".tg-stepper") || element.parentElement.querySelector(".tg-stepper");
      if (stepper && element.matches("script")) add(stepper, node.data);
      continue;
    }
    add(element, node.data);
  }
  for (const element of root.querySelectorAll("*"))  // tooltips, the readout's words
    for (const attribute of element.attributes)
      if (/^(title|aria-label|alt|data-.*)$/.test(attribute.name)) add(element, attribute.value);
  if (document.body) add(root.querySelector(".tg-stepper") || root, document.title);
  const boxes = [], fonts = new Set();
  for (const [font, c] of checks.values()) {
    fonts.add(font);
    if (draw(font, c) === draw(font, "\ue000")) boxes.push(c);
  }
  const characters = [...new Set([...checks.values()].map(([, c]) => c))];
  root.setAttribute("data-result", JSON.stringify({checked: characters, boxes: [...new Set(boxes)],
                                                  fonts: [...fonts]}));
});
"""
DRIVER = {".html": ("</body>", f"<script>{SCRIPT}</script></body>"),
          ".svg": ("</svg>", f"<script><![CDATA[{SCRIPT}]]></script></svg>")}


def boxes_drawn(page: Path, tmp_path: Path) -> dict:
    probe = tmp_path / ("probe_" + page.name)
    end, driver = DRIVER[page.suffix]
    probe.write_text(page.read_text(encoding="utf-8").replace(end, driver), encoding="utf-8")
    done = chromium("--dump-dom", "--virtual-time-budget=5000", probe.as_uri(), tmp_path=tmp_path,
                    size="1280,800", env=latin_only_fontconfig(tmp_path))
    found = re.search(r'data-result="([^"]*)"', done.stdout.decode("utf-8"))
    assert found, done.stderr.decode()[-2000:]
    return json.loads(html_module.unescape(found.group(1)))


@needs_chromium
@pytest.mark.parametrize("name", ["step", "train", "notebook", "graph.svg"])
def test_chromium_without_a_cjk_font_draws_every_character(pages, name, tmp_path):
    page = pages[name]
    used = used_characters(page.read_text(encoding="utf-8"))
    drawn = boxes_drawn(page, tmp_path)
    assert set(drawn["checked"]) == used and drawn["boxes"] == [], drawn
    # the check can fail: the same page without its font shows boxes on this fontconfig
    bare = tmp_path / "bare" / page.name
    bare.parent.mkdir()
    bare.write_text(FONT_STYLE.sub("", page.read_text(encoding="utf-8")), encoding="utf-8")
    without = boxes_drawn(bare, tmp_path / "bare")
    assert set(without["boxes"]) == used, without
