"""中文 (issue 13): the language setting, the catalogues, Chinese terminal output without English
words, the demos' numbers in both languages, and Chinese plots without missing-glyph boxes."""
from __future__ import annotations

import collections
import html as html_module
import importlib
import io
import json
import re
import string
import warnings
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from tinygrad_sm import Tensor, i18n, nn, plots, terminal, viz
from tinygrad_sm.cli import main
from tinygrad_sm.stepper import TinyProblem

LOCALES = Path(i18n.__file__).parent / "locales"
DEMOS = Path(__file__).resolve().parent.parent / "demos"
CJK = re.compile(r"[\u3400-\u9fff]")
FIELD = re.compile(r"\{(\w*)")
# ASCII words a Chinese text may keep: names of functions and things the learner types or reads
# in code, and units; everything else in English is a leak
ALLOWED = {"softmax", "hardmax", "logits", "logit", "SGD", "MLP", "ReLU", "HTML", "DOT", "grad",
           "tinygrad", "sm", "html", "no", "pause", "lang", "zh", "en",
           "mse", "exp", "log", "mean", "max", "min", "argmax", "float64", "svg", "png", "json",
           "Ctrl", "NaN", "inf"}


def catalogue(lang: str) -> dict[str, str]:
    return json.loads((LOCALES / f"{lang}.json").read_text(encoding="utf-8"))


# ---- the catalogue ----

def test_every_message_has_a_chinese_entry_with_the_same_fields():
    en, zh = catalogue("en"), catalogue("zh")
    assert len(en) > 150 and set(zh) == set(en), sorted(set(en) ^ set(zh))
    for key, text in en.items():
        assert isinstance(zh[key], str) and zh[key].strip(), key
        assert sorted(FIELD.findall(zh[key])) == sorted(FIELD.findall(text)), key
        assert CJK.search(zh[key]) or key in ("demo.d2_softmax_vs_hardmax.col_logits", "page.html_lang",
                                              "cli.train.list_sep"), \
            f"{key}: {zh[key]!r} has no Chinese"
        zh[key].format(**{name: 0 for name in FIELD.findall(zh[key]) if name})  # well formed


HALF_WIDTH_NEXT_TO_CHINESE = re.compile(r"[\u3400-\u9fff][,:;()?]|[,:;()?][\u3400-\u9fff]")


def test_chinese_prose_uses_full_width_punctuation():
    """d2l-zh writes ，：（）；in prose; ASCII stays inside formulas, code, paths and {fields}. A
    half-width , : ( ) ; ? right next to a Chinese character is prose."""
    found = []
    for key, text in catalogue("zh").items():
        prose = re.sub(r"\{[^{}]*\}", "", text)   # a {field} is filled in later, not prose
        found += [(key, m.group()) for m in HALF_WIDTH_NEXT_TO_CHINESE.finditer(prose)]
    assert not found, f"{len(found)} half-width marks in Chinese prose: {found[:10]}"


def test_the_chinese_wording_a_reader_asked_for():
    zh = catalogue("zh")
    assert "解析式" in zh["stepper.result_title"] and zh["stepper.closed_col"] == "解析式"
    assert "解析式" in zh["page.check"] and not any("闭式解" in text for text in zh.values())
    assert zh["walk.prompt"] == "按任意键进入下一步，按 q 退出"
    d4 = "demo.d4_cross_entropy_vs_squared_error."
    for key in ("summary", "plot_note", "wrong_table"):
        assert "以高置信度预测错误" in zh[d4 + key], key
    assert not any("错得很自信" in text for text in zh.values())
    assert "三个高斯簇" in zh["demo.d6_linear_decision_boundary.trained"]
    assert "不改变得分的大小顺序" in zh["demo.d6_linear_decision_boundary.agreement"]
    assert "它同时是 exp 和减法的输入" in zh["demo.d5_gradient_of_W.composed"]
    assert "o 经两条路径影响 L" in zh["demo.d1_chain_rule_by_hand.twice"]
    assert "NaN 或无穷大" in zh["train.param_nonfinite"] and "非有限值" not in zh["train.param_nonfinite"]
    assert zh["panel.no_grad"] == zh["page.no_grad"]
    assert zh["demo.d7_write_your_own_op.title"].startswith("自定义运算")
    glossed = [key for key, text in zh.items() if "logit（未规范化的预测）" in text]
    assert glossed == ["demo.d2_softmax_vs_hardmax.intro"]
    # "max |a − b|" said in Chinese in the demos
    assert not [key for key, text in zh.items() if key.startswith("demo.") and "max |" in text]


def test_the_catalogues_are_the_languages():
    assert i18n.languages() == ["en", "zh"]
    assert i18n.Messages("zh")("step.header", index=1, count=3, op="add") == "第 1 步（共 3 步）：add"
    assert i18n.Messages("en")("step.header", index=1, count=3, op="add") == "step 1 of 3: add"


def test_the_language_comes_from_the_argument_else_the_environment_else_english(monkeypatch):
    monkeypatch.delenv(i18n.ENV, raising=False)
    assert i18n.resolve() == "en"
    monkeypatch.setenv(i18n.ENV, "zh_CN.UTF-8")
    assert i18n.resolve() == "zh" and i18n.resolve("en") == "en" and i18n.resolve("zh-CN") == "zh"
    monkeypatch.setenv(i18n.ENV, "fr")
    with pytest.raises(ValueError, match=r"TINYGRAD_SM_LANG='fr'.*choose one of en, zh"):
        i18n.resolve()
    with pytest.raises(ValueError, match=r"lang='klingon'"):
        i18n.resolve("klingon")
    with pytest.raises(TypeError, match="int"):
        i18n.resolve(3)
    with pytest.raises(KeyError, match="no message 'nope' in locales/zh.json"):
        i18n.Messages("zh")("nope")


def test_a_bad_language_on_the_command_line_is_one_line(monkeypatch, capsys):
    monkeypatch.setenv(i18n.ENV, "fr")
    assert main(["step", "--no-pause"]) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0
    with pytest.raises(SystemExit):
        main(["step", "--lang", "fr"])


def test_a_third_language_is_a_file(monkeypatch, tmp_path):
    """A catalogue that misses keys is refused, naming the file and the keys."""
    (tmp_path / "en.json").write_text(json.dumps({"a": "A", "b": "B {x}"}), encoding="utf-8")
    (tmp_path / "fr.json").write_text(json.dumps({"a": "A"}), encoding="utf-8")
    monkeypatch.setattr(i18n, "locales_folder", lambda: tmp_path)
    i18n.catalogue.cache_clear()
    try:
        assert "fr" in i18n.languages()
        with pytest.raises(ValueError, match=r"locales/fr.json does not match.*missing \['b'\]"):
            i18n.catalogue("fr")
        (tmp_path / "fr.json").write_text(json.dumps({"a": "À", "b": "B {x}!"}), encoding="utf-8")
        i18n.catalogue.cache_clear()
        assert i18n.Messages("fr")("b", x=1) == "B 1!"
    finally:
        i18n.catalogue.cache_clear()


# ---- no English in Chinese output ----

def english_words(text: str, allowed: set[str]) -> set[str]:
    """ASCII words of two letters or more that are not names, mathematics or allowed."""
    words = set(re.findall(r"(?<![\w.])[A-Za-z][A-Za-z_]+", text))
    return {w for w in words if w not in allowed and w not in ALLOWED}


def graph_words(trace) -> set[str]:
    """What a trace itself shows: tensor names, op names, rules and formulas (mathematics)."""
    texts = list(trace.labels().values())
    for k in range(len(trace)):
        view = trace.view(k)
        texts += [view.op, view.formula, view.params] + [e.rule for e in view.edges]
        texts += [symbol for e in view.edges for symbol, _ in e.operands]
    return set(re.findall(r"[A-Za-z][A-Za-z_]+", " ".join(texts)))


def tiny_trace():
    p = TinyProblem(0)
    return p, p.L.backward(trace=True)


def test_the_chinese_trace_table_has_no_english_words():
    _, trace = tiny_trace()
    allowed = graph_words(trace)
    zh = terminal.format_trace(trace, lang="zh")
    assert "从 L 反向传播：共 3 步" in zh and "撤销广播" in zh and "求和" in zh
    assert english_words(zh, allowed) == set(), english_words(zh, allowed)
    # the check can fail: the English table is full of words it catches
    assert {"Backward", "steps", "broadcast"} <= english_words(terminal.format_trace(trace, lang="en"), allowed)


def test_print_trace_follows_the_environment(monkeypatch):
    _, trace = tiny_trace()
    monkeypatch.setenv(i18n.ENV, "zh")
    assert "反向传播" in str(trace)
    monkeypatch.setenv(i18n.ENV, "en")
    assert "Backward from L" in str(trace)


def test_a_contribution_and_a_sum_in_chinese():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True, name="x")
    y = (x * x).named("y")
    trace = y.sum().named("L").backward(trace=True)
    text = terminal.format_trace(trace, lang="zh")
    assert "∂L/∂x 的第 1 项贡献（共 2 项）" in text and "∂L/∂x 是 2 项贡献之和" in text
    assert english_words(text, graph_words(trace)) == set()


def test_the_chinese_terminal_stepper_has_no_english_words():
    p, trace = tiny_trace()
    console = Console(file=io.StringIO(), width=100, color_system=None)
    assert terminal.walk(trace, pause=False, console=console, lang="zh") == 3
    text = console.file.getvalue()
    assert "第 1 步（共 3 步）" in text and "上游梯度" in text and "前向传播" in text
    assert english_words(text, graph_words(trace)) == set(), english_words(text, graph_words(trace))


def test_tinygrad_sm_step_in_chinese(capsys, tmp_path):
    assert main(["step", "--no-pause", "--lang", "zh"]) == 0
    out = capsys.readouterr().out
    _, trace = tiny_trace()
    assert "前向传播" in out and "梯度：反向传播与解析式对照" in out and "独热编码" in out
    assert english_words(out, graph_words(trace) | {"cross_entropy", "y"}) == set()
    assert main(["step", "--no-pause", "--lang", "zh", "--html", str(tmp_path)]) == 2
    assert "是一个文件夹" in capsys.readouterr().err


def test_train_in_chinese(tmp_path, capsys, monkeypatch):
    from tinygrad_sm import data
    from tinygrad_sm.train_command import train_command

    digits = data.load_digits()
    small = data.Split(digits.X_train[:200], digits.y_train[:200], digits.X_test[:50],
                       digits.y_test[:50])
    monkeypatch.setattr("tinygrad_sm.train.load_digits", lambda: small)
    monkeypatch.setattr(plots, "cjk_font", lambda: None)  # the figures' fallback is tested below
    assert train_command(epochs=2, out=tmp_path / "out", lang="zh") == 0
    out = " ".join(capsys.readouterr().out.replace(str((tmp_path / "out").resolve()), "").split())
    assert "softmax 回归，小批量随机梯度下降，学习率 1.0" in out and "迭代周期 1/2" in out
    assert "最终测试精度" in out and "测试集上的混淆矩阵" in out
    files = {"metrics", "curves", "weights", "confusion", "graph", "gv", "backprop"}
    assert english_words(out, {"digits", "W", "L"} | files) == set()
    assert train_command(epochs=1, lr=1e38, out=tmp_path / "d", lang="zh") == 1
    err = capsys.readouterr().err
    assert err.startswith("tinygrad-sm train：错误：训练发散：损失为 inf，在第 1/1 个迭代周期，第 2 个小批量"
                          "（共 7 个）；请试试更小的 --lr（本次：1e+38）"), err
    assert train_command(data="mnist", out=tmp_path / "m", lang="zh") == 1
    assert "--data mnist 需要 --data-dir DIR" in capsys.readouterr().err


# ---- the demos: the same numbers in both languages ----

NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?")


@pytest.mark.parametrize("name", sorted(p.stem for p in DEMOS.glob("*.py") if not p.stem.startswith("_")))
def test_demos_print_the_same_numbers_in_both_languages(name, tmp_path, capsys, monkeypatch):
    monkeypatch.syspath_prepend(str(DEMOS))
    monkeypatch.delenv(i18n.ENV, raising=False)
    module = importlib.import_module(name)
    printed = {}
    for lang in ("en", "zh"):
        assert module.main(["--out", str(tmp_path), "--quick", "--lang", lang]) == 0
        printed[lang] = capsys.readouterr().out
    en, zh = (collections.Counter(NUMBER.findall(printed[lang])) for lang in ("en", "zh"))
    assert sum(en.values()) > 10
    assert en == zh, (en - zh, zh - en)
    assert CJK.search(printed["zh"]) and not CJK.search(printed["en"])
    assert i18n.ENV not in __import__("os").environ  # the demo put the setting back


def test_the_demo_list_in_chinese(capsys):
    assert main(["demo", "--lang", "zh"]) == 0
    out = capsys.readouterr().out
    assert "softmax 回归是线性模型" in out and "运行其中一个" in out


def test_the_english_summaries_are_the_docstrings():
    import ast
    en = catalogue("en")
    for path in DEMOS.glob("*.py"):
        if not path.stem.startswith("_"):
            doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
            assert en[f"demo.{path.stem}.summary"] == doc.splitlines()[0]


# ---- Chinese plots: a font with CJK glyphs, never boxes ----

MISSING = "\ue000"  # private use: no font has it, so matplotlib draws the missing-glyph box


def _ink(fig) -> np.ndarray:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    dark = np.asarray(canvas.buffer_rgba())[..., :3].mean(axis=2) < 128
    rows, cols = np.flatnonzero(dark.any(axis=1)), np.flatnonzero(dark.any(axis=0))
    return dark[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1] if rows.size else dark[:0, :0]


def _looks_like(a: np.ndarray, b: np.ndarray) -> bool:
    """Same ink shape: sizes within 2 px and, at the best shift of up to 2 px (anti-aliasing
    moves a thin outline by a pixel), at most 5% of the pixels differ."""
    if abs(a.shape[0] - b.shape[0]) > 2 or abs(a.shape[1] - b.shape[1]) > 2:
        return False
    h, w = max(a.shape[0], b.shape[0]) + 4, max(a.shape[1], b.shape[1]) + 4
    padded_a = np.zeros((h, w), bool)
    padded_a[2:2 + a.shape[0], 2:2 + a.shape[1]] = a
    best = 1.0
    for dy in range(5):
        for dx in range(5):
            padded_b = np.zeros((h, w), bool)
            padded_b[dy:dy + b.shape[0], dx:dx + b.shape[1]] = b
            best = min(best, np.mean(padded_a != padded_b))
    return best <= 0.05


def _is_box(ink: np.ndarray, box: np.ndarray) -> bool:
    """matplotlib's last-resort font draws a missing glyph as a frame with the character's code
    inside, so boxes differ inside: same size as the U+E000 box and a frame of ink around."""
    if abs(ink.shape[0] - box.shape[0]) > 2 or abs(ink.shape[1] - box.shape[1]) > 2:
        return False
    ring = np.concatenate([ink[:2].ravel(), ink[-2:].ravel(), ink[:, :2].ravel(), ink[:, -2:].ravel()])
    return ring.mean() > 0.6


def plot_characters() -> str:
    """Every character of the Chinese figure texts: the plots' and the demos' plot_ messages."""
    zh = catalogue("zh")
    texts = [text for key, text in zh.items() if key.startswith("plot.") and key != "plot.no_cjk_font"
             or ".plot_" in key or key.endswith(("_title", ".wrt", ".class", ".meet_label"))]
    return "".join(sorted(set("".join(texts)) - set(string.printable)))


def test_chinese_plot_characters_are_drawn_not_boxes():
    from matplotlib.figure import Figure

    assert plots.cjk_font() is not None, ("no CJK font: install the zh extra "
                                         "(pip install 'tinygrad-sm[zh]', part of the test extra)")

    def ink(char: str) -> np.ndarray:
        fig = Figure(figsize=(1.5, 1.5), dpi=100)  # room for the whole box at 48 pt
        fig.text(0.5, 0.5, char, fontsize=48, ha="center", va="center")
        return _ink(fig)

    with plots.language("zh"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the box itself warns "Glyph 57344 missing"
        box = ink(MISSING)
        assert box.sum() > 50, "the missing-glyph box itself should be drawn"
        chars = plot_characters()
        assert len(chars) > 60 and "交" in chars and "熵" in chars
        for char in chars:
            drawn = ink(char)
            assert drawn.sum() >= 10, f"{char!r} rendered blank"
            assert not _is_box(drawn, box), f"{char!r} (U+{ord(char):04X}) drawn as a box"
    import matplotlib  # the check can fail: without the CJK font the same characters are boxes
    with matplotlib.rc_context({"font.family": ["DejaVu Sans"]}), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        box = ink(MISSING)
        assert _is_box(ink("交"), box) and _is_box(ink("熵"), box) and not _is_box(ink("∂"), box)


def test_chinese_training_figures_draw_without_missing_glyphs(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns "Glyph ... missing from font(s)"
        plots.plot_curves([1.0, 0.5], [0.5, 0.8], [0.4, 0.7], tmp_path / "c.png", lang="zh")
        plots.plot_confusion(np.eye(3, dtype=int) * 5, ["0", "1", "2"], tmp_path / "m.png", lang="zh")
    assert (tmp_path / "c.png").stat().st_size > 5000
    # the check can fail: the same figure with a font that lacks CJK glyphs warns
    import matplotlib
    with matplotlib.rc_context({"font.family": ["DejaVu Sans"]}), pytest.warns(UserWarning, match="missing"):
        fig = plots._figure()
        fig.suptitle(i18n.Messages("zh")("plot.loss_title"))
        plots._save(fig, tmp_path / "boxes.png")


def test_without_a_cjk_font_the_titles_stay_english(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(plots, "cjk_font", lambda: None)
    monkeypatch.setattr(plots, "_warned", set())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(2):
            with plots.language("zh") as t:
                assert t.lang == "en" and t("plot.accuracy") == "accuracy"
        plots.plot_curves([1.0], [0.5], [0.4], tmp_path / "c.png", lang="zh")
    err = capsys.readouterr().err
    assert err.count("tinygrad-sm[zh]") == 1 and "未找到含中文字形的字体" in err


# ---- the Chinese HTML stepper ----

import subprocess  # noqa: E402
from html.parser import HTMLParser  # noqa: E402

import browser  # noqa: E402

needs_chromium = browser.needs_chromium


class VisibleText(HTMLParser):
    """The text a reader sees: not the diagram (names and mathematics), scripts or styles."""

    def __init__(self):
        super().__init__()
        self.skip, self.parts = 0, []

    def handle_starttag(self, tag, attrs):
        if tag in ("svg", "script", "style"):
            self.skip += 1
        for name, value in attrs:  # words in attributes are shown too (tooltips, labels)
            if name in ("title", "aria-label", "alt") and not self.skip:
                self.parts.append(value)

    def handle_endtag(self, tag):
        if tag in ("svg", "script", "style"):
            self.skip -= 1

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)


def visible_text(html_text: str) -> str:
    parser = VisibleText()
    parser.feed(html_text)
    return " ".join(parser.parts)


@pytest.fixture(scope="module")
def zh_page(tmp_path_factory):
    p = TinyProblem(0)
    trace = p.L.backward(trace=True)
    path = tmp_path_factory.mktemp("zh") / "backprop.html"
    trace.save_html(str(path), lang="zh")
    return path, trace


def test_the_chinese_page_has_no_english_words(zh_page):
    path, trace = zh_page
    text = path.read_text(encoding="utf-8")
    words = visible_text(text)
    assert '<html lang="zh-CN">' in text and "第 1 步：cross_entropy" in words
    assert "◀ 上一步" in words and "上游梯度" in words and "撤销广播" in words
    assert english_words(words, graph_words(trace)) == set(), english_words(words, graph_words(trace))
    data = json.loads(re.search(r'class="tg-frames">(.*?)</script>', text, re.S).group(1))
    assert data["text"]["where"] == "第 {index} 步（共 {count} 步）：{op}"
    # the check can fail: the English page is caught
    trace.save_html(str(path.with_name("en.html")), lang="en")
    english = visible_text(path.with_name("en.html").read_text(encoding="utf-8"))
    assert {"previous", "upstream", "gradient"} <= english_words(english, graph_words(trace))


def chromium_env(tmp_path: Path) -> dict:
    """Chromium finds fonts through fontconfig: the system's, plus the zh extra's Noto Sans CJK
    (so the test does not depend on a Debian CJK font being installed)."""
    import os
    from importlib import resources
    font = resources.files("manimgx_fonts_cjk").joinpath("NotoSansCJK-VF.otf.ttc")
    config = tmp_path / "fonts.conf"
    config.write_text(f"""<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">
<fontconfig>
  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>
  <dir>{Path(str(font)).parent}</dir>
  <cachedir>{tmp_path / "fontcache"}</cachedir>
</fontconfig>
""", encoding="utf-8")
    return dict(os.environ, FONTCONFIG_FILE=str(config))


def chromium(*args: str, tmp_path: Path, size: str = "1400,900") -> subprocess.CompletedProcess:
    return browser.chromium(*args, tmp_path=tmp_path, size=size, env=chromium_env(tmp_path))


@needs_chromium
def test_the_chinese_page_steps_in_chinese(zh_page, tmp_path):
    path, _ = zh_page
    done = chromium("--dump-dom", f"{path.as_uri()}#step=3", tmp_path=tmp_path)
    dom = done.stdout.decode("utf-8")
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert '<output id="where" data-role="where">第 3 步（共 3 步）：matmul</output>' in dom


@needs_chromium
def test_the_chinese_page_draws_every_character_not_boxes(zh_page, tmp_path):
    """Each character the page shows, in the page's own CSS and language, one per cell of a
    sheet; one screenshot; each cell is compared with the missing-glyph box (U+E000)."""
    from importlib import resources

    import matplotlib.image as mpimg

    path, _ = zh_page
    chars = sorted(set(visible_text(path.read_text(encoding="utf-8"))) - set(string.printable))
    assert any(CJK.match(c) for c in chars) and len(chars) > 40
    cells = [MISSING] + chars
    css = resources.files("tinygrad_sm").joinpath("assets", "stepper.css").read_text(encoding="utf-8")
    columns, size = 20, 64
    sheet = "".join(f'<span style="position:absolute;left:{(k % columns) * size}px;'
                    f'top:{(k // columns) * size}px;font-size:40px;line-height:{size}px">{c}</span>'
                    for k, c in enumerate(cells))
    page = tmp_path / "sheet.html"
    page.write_text(f'<!DOCTYPE html><html lang="zh-CN"><meta charset="utf-8"><style>{css}'
                    f'body{{margin:0;background:#fff}}</style><div class="tg-stepper" lang="zh-CN">'
                    f"{sheet}</div></html>", encoding="utf-8")
    shot = tmp_path / "sheet.png"
    rows = -(-len(cells) // columns)
    done = chromium(f"--screenshot={shot}", page.as_uri(), tmp_path=tmp_path,
                    size=f"{columns * size},{rows * size + 100}")
    assert done.returncode == 0 and shot.exists(), done.stderr.decode()[-2000:]
    image = mpimg.imread(str(shot))[..., :3].mean(axis=2) < 0.5

    def ink(k: int) -> np.ndarray:
        cell = image[(k // columns) * size:(k // columns + 1) * size, (k % columns) * size:(k % columns + 1) * size]
        r, c = np.flatnonzero(cell.any(axis=1)), np.flatnonzero(cell.any(axis=0))
        return cell[r[0]:r[-1] + 1, c[0]:c[-1] + 1] if r.size else cell[:0, :0]

    box = ink(0)
    assert box.sum() > 30, "the missing-glyph box itself should be drawn"
    for k, char in enumerate(cells[1:], 1):
        drawn = ink(k)
        assert drawn.sum() >= 5, f"{char!r} rendered blank"
        assert not (_looks_like(drawn, box) or _is_box(drawn, box)), \
            f"{char!r} (U+{ord(char):04X}) drawn as the missing-glyph box"


def test_the_training_steps_page_with_pictures_in_chinese(tmp_path):
    """The real-size page (heatmaps, per-class images, the closed-form check) in Chinese."""
    from tinygrad_sm import data
    from tinygrad_sm.train import build_model, one_per_class, write_step_diagrams

    digits = data.load_digits()
    batch = one_per_class(digits.y_train, 10)
    model = build_model("softmax", 64, 10)
    written = write_step_diagrams(model, digits.X_train[batch], digits.y_train[batch], tmp_path,
                                  (8, 8), lang="zh")
    text = written["backprop.html"].read_text(encoding="utf-8")
    words = visible_text(text)
    assert "核对：引擎算出的 ∂L/∂W 与解析式" in words and "色标" in words and "把指针移到格子上" in words
    assert "张量的每一列一张" in words and "y（独热编码）" in words
    assert 'data-cell="第 {row} 行，第 {col} 列{where}：{value}"' in text  # the readout's template
    trace_words = {"X", "W", "b", "o", "L", "XW", "cross_entropy", "matmul", "add", "Σ_rows", "rows"}
    assert english_words(words, trace_words) == set(), english_words(words, trace_words)


# ---- the notebook displays ----

def test_the_notebook_displays_in_chinese(monkeypatch):
    from tinygrad_sm import notebook

    p, trace = tiny_trace()
    allowed = graph_words(trace) | {"float", "None"}
    for html_text in (notebook.trace_html(trace, lang="zh"), notebook.step_html(trace[2], lang="zh"),
                      notebook.tensor_html(p.model.W, lang="zh")):
        words = visible_text(html_text)
        assert CJK.search(words) and english_words(words, allowed) == set(), english_words(words, allowed)
    for markdown in (notebook.trace_markdown(trace, lang="zh"), notebook.step_markdown(trace[1], lang="zh"),
                     notebook.tensor_markdown(p.model.W, lang="zh")):
        assert english_words(markdown, allowed) == set(), (markdown, english_words(markdown, allowed))
    assert "撤销广播" in notebook.step_markdown(trace[1], lang="zh")
    assert "**W** (3, 3) float64, 参数" in notebook.tensor_markdown(p.model.W, lang="zh")
    # what Jupyter calls: no argument, so the environment decides (%env TINYGRAD_SM_LANG=zh)
    monkeypatch.setenv(i18n.ENV, "zh")
    assert "第 1 步（共 3 步）" in trace._repr_html_() and "上游梯度" in trace[0]._repr_html_()
    monkeypatch.setenv(i18n.ENV, "en")
    assert "step 1 of 3" in trace._repr_html_()


ZH_READOUT_DRIVER = """<script>
window.addEventListener("load", () => {
  const root = document.querySelector(".tg-stepper");
  const out = {};
  root.querySelector('[data-role="next"]').click(); root.querySelector('[data-role="next"]').click();
  const img = [...root.querySelectorAll('section[data-step="3"] figure.tg-picture')]
    .find((f) => f.querySelector("figcaption").textContent === "引擎 ∂L/∂W").querySelector("img");
  const r = img.getBoundingClientRect(), cell = img.clientWidth / (10 * 9 - 1);
  img.dispatchEvent(new MouseEvent("mousemove", {bubbles: true,
    clientX: r.left + img.clientLeft + (7 * 9 + 5 + 0.5) * cell, clientY: r.top + img.clientTop + 3.5 * cell}));
  out.readout = img.parentElement.querySelector(".tg-readout").textContent;
  img.dispatchEvent(new MouseEvent("mousemove", {bubbles: true, clientX: r.right + 50, clientY: r.top}));
  out.outside = img.parentElement.querySelector(".tg-readout").textContent;
  out.where = root.querySelector('[data-role="where"]').textContent;
  document.body.dataset.result = JSON.stringify(out);
});
</script></body>"""


@needs_chromium
def test_the_chinese_readout_in_the_browser(tmp_path):
    import html as html_module

    from tinygrad_sm import data
    from tinygrad_sm.train import build_model, one_per_class, write_step_diagrams

    digits = data.load_digits()
    batch = one_per_class(digits.y_train, 10)
    written = write_step_diagrams(build_model("softmax", 64, 10), digits.X_train[batch],
                                  digits.y_train[batch], tmp_path, (8, 8), lang="zh")
    probe = tmp_path / "probe.html"
    probe.write_text(written["backprop.html"].read_text(encoding="utf-8").replace("</body>", ZH_READOUT_DRIVER),
                     encoding="utf-8")
    done = chromium("--dump-dom", probe.as_uri(), tmp_path=tmp_path, size="1280,800")
    found = re.search(r'data-result="([^"]*)"', done.stdout.decode("utf-8"))
    assert found, done.stderr.decode()[-2000:]
    out = json.loads(html_module.unescape(found.group(1)))
    assert out["readout"].startswith("第 29 行，第 7 列（第 7 张图像的像素 3, 5）："), out  # 29 = 3·8 + 5
    assert out["outside"] == "把指针移到格子上" and out["where"] == "第 3 步（共 3 步）：matmul"


def diagram_text(diagram) -> str:
    """The words a rendered diagram shows (its SVG <text> elements)."""
    svg = viz.render_bytes(diagram, "svg").decode("utf-8")
    return html_module.unescape(" ".join(re.findall(r"<text[^>]*>(.*?)</text>", svg, re.S)))


def test_the_diagram_speaks_the_learners_language():
    """Every word of a diagram comes from the catalogue: node kinds, colour scale, min/max,
    images, partial sums, unknown gradients, the active op. Chinese has no English besides names
    and mathematics; the English diagram has those words (the check can fail)."""
    rng = np.random.default_rng(0)
    X = Tensor(rng.normal(size=(6, 64)), name="X")
    W = Tensor(rng.normal(size=(64, 3)) * 0.1, requires_grad=True, name="W")
    b = Tensor(np.zeros(3), requires_grad=True, name="b")
    L = nn.cross_entropy(X @ W + b, np.array([0, 1, 2, 0, 1, 2])).named("L")
    J = (L + (W * W).sum().named("s")).named("J")
    trace = J.backward(trace=True)
    allowed = graph_words(trace)
    texts = {lang: " ".join(diagram_text(viz.draw(J, trace=trace, step=k, image_shape=(8, 8), lang=lang))
                            for k in range(len(trace)))
             for lang in ("zh", "en")}
    assert "参数" in texts["zh"] and "数据" in texts["zh"] and "∂J/∂W" in texts["zh"]
    assert english_words(texts["zh"], allowed) == set(), english_words(texts["zh"], allowed)
    assert {"parameter", "data", "colour", "scale", "images", "known", "contribution",
            "active"} <= english_words(texts["en"], allowed)


# ---- data errors: English by str(), in the learner's language from the command ----

def test_data_errors_are_said_in_chinese_and_stay_english_for_python(tmp_path, monkeypatch):
    from test_data import write_idx, write_mnist_folder

    from tinygrad_sm import data
    wrong = write_idx(tmp_path / "labels-as-images", np.zeros((4, 2, 2)), magic=data.LABELS_MAGIC)
    with pytest.raises(data.DataError) as caught:
        data.read_idx(wrong, data.IMAGES_MAGIC)
    e = caught.value
    assert str(e) == (f"{wrong}: magic number 2049 (a labels file), expected 2051 for images; "
                      "is this the right file?")
    assert e.said("zh") == f"{wrong}：魔数为 2049（这是一个标签文件），而图像应为 2051；是不是选错了文件？"
    # a message built from parts: places joined, a folder that lacks files, how to get them
    first, second = tmp_path / "system", tmp_path / "cache"
    write_mnist_folder(second)
    (second / "t10k-labels-idx1-ubyte.gz").unlink()
    monkeypatch.setattr(data, "fashion_mnist_search_path", lambda: [first, second])
    with pytest.raises(data.DataNotFoundError) as caught:
        data.load_fashion_mnist()
    said = caught.value.said("zh")
    assert said.startswith(f"找不到 Fashion-MNIST；查找过 {first} 和 {second}（其中 {second} 缺少 "
                           "t10k-labels-idx1-ubyte）。在 Debian 或 Ubuntu 上："), said
    assert str(caught.value).startswith(f"Fashion-MNIST not found; looked in {first} and {second} "
                                        f"({second} lacks t10k-labels-idx1-ubyte). On Debian")
    allowed = set(re.findall(r"[A-Za-z][A-Za-z_]+", str(tmp_path))) | {
        "Fashion", "MNIST", "Debian", "Ubuntu", "sudo", "apt", "get", "install", "dataset", "fashion",
        "mnist", "usr", "share", "datasets", "Zalando", "Research", "train", "images", "idx3", "ubyte",
        "gz", "labels", "idx", "t10k", "cache", "system", "tinygrad_sm"}  # paths and file names
    assert english_words(said, allowed) == set(), english_words(said, allowed)


def test_train_says_a_missing_data_folder_in_chinese(capsys, tmp_path):
    assert main(["train", "--lang", "zh", "--data", "fashion-mnist", "--data-dir",
                 str(tmp_path / "absent"), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(
        f"tinygrad-sm train：错误：{tmp_path / 'absent'}：没有这个存放 Fashion-MNIST 的文件夹。"
        "在 Debian 或 Ubuntu 上：`sudo apt-get install dataset-fashion-mnist`"), err
    assert "no such folder" not in err and "Elsewhere" not in err
    assert main(["train", "--lang", "zh", "--data", "mnist", "--out", str(tmp_path / "out")]) == 1
    assert "--data mnist 需要 --data-dir DIR" in capsys.readouterr().err


# ---- the command line: --help, argparse's errors, every page it writes (issue 18) ----

# what the command line shows besides prose: option names, choices and placeholders the learner
# types, data set and file names
OPTION = re.compile(r"(?<![\w-])--?[a-z][\w-]*|\{[\w,-]+\}")
COMMAND_WORDS = {"COMMAND", "NAME", "DIR", "PATH", "LR", "train", "step", "demo", "lesson", "exercise", "start", "check", "backward", "report", "json", "html", "linear", "mlp", "digits", "fashion",
                 "python", "py", "d3_softmax_jacobian",
                 "mnist", "Fashion", "MNIST", "IDX", "metrics", "usr", "share", "datasets", "cache",
                 "tinygrad_sm", "out", "demos", "TINYGRAD_SM_LANG", "cifar"}  # cifar: typed by the test


def command_output(capsys, argv: list[str]) -> str:
    with pytest.raises(SystemExit):
        main(argv)
    captured = capsys.readouterr()
    return captured.out + captured.err


def test_help_and_argparse_errors_in_chinese(capsys, monkeypatch):
    monkeypatch.delenv(i18n.ENV, raising=False)
    runs = [["--help", "--lang", "zh"], ["train", "--help", "--lang", "zh"], ["step", "--lang=zh", "-h"],
            ["demo", "--help", "--lang", "zh"], ["step", "--lang", "zh", "--bogus"],
            ["train", "--lang", "zh", "--epochs", "x"], ["train", "--lang", "zh", "--lr", "-1"],
            ["train", "--lang", "zh", "--data", "cifar"], ["demo", "--lang", "zh", "--out"]]
    texts = {" ".join(argv): command_output(capsys, argv) for argv in runs}
    monkeypatch.setenv(i18n.ENV, "zh")  # the setting the other commands follow
    texts["$TINYGRAD_SM_LANG=zh --help"] = command_output(capsys, ["--help"])
    import sys
    sys.path.insert(0, str(DEMOS))  # a demo script's own --help: python demos/NAME.py --help
    script = importlib.import_module("_common")
    with pytest.raises(SystemExit):
        script.main("d3_softmax_jacobian", "", lambda *a, **k: {}, lambda r: None, argv=["--help"])
    texts["demos/d3_softmax_jacobian.py --help"] = capsys.readouterr().out
    for run, text in texts.items():
        assert CJK.search(text), (run, text)
        assert english_words(OPTION.sub(" ", text), COMMAND_WORDS) == set(), (run, text)
    assert texts["train --help --lang zh"].startswith("用法：tinygrad-sm train")
    assert "\n选项：\n" in texts["train --help --lang zh"] and "位置参数：" in texts["--help --lang zh"]
    assert "tinygrad-sm：错误：无法识别的参数：--bogus" in texts["step --lang zh --bogus"]
    assert "参数 --epochs：必须是整数，收到的是 'x'" in texts["train --lang zh --epochs x"]
    assert "无效的选择：'cifar'" in texts["train --lang zh --data cifar"]
    for run, text in texts.items():  # help wraps by display width: 80 columns, CJK two each
        if "help" in run or "-h" in run:
                assert max(sum(2 if CJK.match(c) or c in "，：（）；。、" else 1 for c in line)
                       for line in text.splitlines()) <= 80, text
    # the check can fail: English help is full of words it catches
    monkeypatch.setenv(i18n.ENV, "en")
    english = command_output(capsys, ["train", "--help"])
    assert english.startswith("usage: tinygrad-sm train") and "options:" in english
    assert {"learning", "rate", "show", "help"} <= english_words(OPTION.sub(" ", english), COMMAND_WORDS)


def page_words(path) -> str:
    """Everything a page shows: its text, the diagram's text, tooltips and the readout's words."""
    text = Path(path).read_text(encoding="utf-8")
    text = re.sub(r"<(style|script)>.*?</\1>", " ", text, flags=re.S)  # CSS and code, not words
    text = re.sub(r'<script type="application/json"[^>]*>.*?</script>', " ", text, flags=re.S)
    # graphviz's ids as SVG tooltips ("t0->op2"): identifiers, not words
    text = re.sub(r"<title>(?:t|op)\d+(?:&#45;&gt;(?:t|op)\d+)?</title>", " ", text)
    shown = re.findall(r">([^<]+)<", text) + re.findall(r'(?:title|aria-label|alt|data-cell|data-pixel|data-point)="([^"]*)"', text)
    return re.sub(r"\{\w*\}", " ", html_module.unescape(" ".join(shown)))  # {fields}: filled in later


def test_the_pages_the_command_writes_have_no_english_words(tmp_path, capsys):
    """The step page, the training page and graph.svg under --lang zh, the diagram included."""
    assert main(["step", "--no-pause", "--lang", "zh", "--html", str(tmp_path / "step.html")]) == 0
    assert main(["train", "--lang", "zh", "--epochs", "1", "--out", str(tmp_path / "train")]) == 0
    capsys.readouterr()
    _, trace = tiny_trace()
    names = graph_words(trace) | {"cross_entropy", "matmul", "add", "rows", "Σ_rows", "XW", "backward_L"}
    for path in (tmp_path / "step.html", tmp_path / "train" / "backprop.html", tmp_path / "train" / "graph.svg"):
        words = page_words(path)
        assert CJK.search(words) and english_words(words, names) == set(), (path.name, english_words(words, names))


def test_gradcheck_says_its_verdict_in_the_learners_language():
    """The error keeps its parts; English from the catalogue is exactly str() of it."""
    import sys
    from tinygrad_sm import GradcheckError, gradcheck
    sys.path.insert(0, str(DEMOS))  # as tests/test_demos.py imports them
    d7 = importlib.import_module("d7_write_your_own_op")
    common = importlib.import_module("_common")
    x = Tensor(np.array([-3.0, 0.0, 4.0]), requires_grad=True, name="x")
    with pytest.raises(GradcheckError) as caught:
        gradcheck(lambda t: d7.SigmoidFirstTry.apply(t), x)
    said = {}
    for lang in ("en", "zh"):
        with common.language(lang):
            said[lang] = d7.gradcheck_said(caught.value)
    assert said["en"] == str(caught.value)
    assert said["zh"].startswith("gradcheck：输入 0（'x'），形状 (3,)，元素 (2,)：解析梯度 "), said["zh"]
    assert english_words(said["zh"], {"gradcheck", "x"}) == set(), said["zh"]
