"""The HTML stepper: a self-contained page, checked as a file and in headless Chromium."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

import tinygrad_sm.nn as nn
from browser import chromium, needs_chromium
from tinygrad_sm import Tensor
from tinygrad_sm.formatting import format_number



@pytest.fixture(scope="module")
def page(tmp_path_factory) -> tuple[Path, object]:
    rng = np.random.default_rng(2)
    X = Tensor(rng.normal(size=(2, 3)).round(1), name="X")
    model = nn.SoftmaxRegression(3, 3, seed=0, dtype=np.float64)
    model.W.data[...] = rng.normal(0, 0.5, size=(3, 3)).round(2)
    L = nn.cross_entropy(model(X), np.array([1, 2]))
    trace = L.backward(trace=True)
    path = tmp_path_factory.mktemp("html") / "stepper.html"
    assert trace.save_html(str(path)) == str(path)
    return path, trace


def test_page_has_a_diagram_and_a_panel_per_step(page):
    path, trace = page
    text = path.read_text(encoding="utf-8")
    # one frame of the diagram per step (the gradients known after it), numbered from 1
    assert text.count("<svg") == 3 and "<?xml" not in text
    assert re.findall(r'<div class="frame" data-frame="(\d)"', text) == ["1", "2", "3"] and "<!DOCTYPE svg" not in text
    assert text.count('<section class="panel"') == 3
    for step in trace:
        assert step.rule.split("; ")[-1] in text
    assert "broadcast undone: summed (2, 3) over axis 0 to (3,)" in text
    assert 'id="prev"' in text and 'id="next"' in text and 'type="range"' in text
    assert "ArrowLeft" in text and "ArrowRight" in text and "#step=" in text
    # the script's data: when each op runs and when each gradient is first and fully known
    data = json.loads(re.search(r'<script type="application/json" class="tg-frames">(.*?)</script>',
                                text, re.S).group(1))
    assert data["steps"] == 3 and sorted(data["ops"].values()) == [0, 1, 2]
    labels = trace.labels()
    ids = {labels[id(t)]: f"t{i}" for i, t in enumerate(trace.tensors())}
    assert data["grads"][ids["L"] + "_grad"] == [-1, -1]           # the seed: known from the start
    assert data["grads"][ids["b"] + "_grad"] == [1, 1] and data["grads"][ids["W"] + "_grad"] == [2, 2]
    assert ids["X"] + "_grad" not in data["grads"]                  # data: no gradient


def test_page_size_and_assets_are_package_files(page):
    from importlib import resources
    text = page[0].read_text(encoding="utf-8")
    for name in ("stepper.css", "stepper.js"):
        asset = resources.files("tinygrad_sm").joinpath("assets", name).read_text(encoding="utf-8")
        assert asset.strip() in text
    assert len(text) < 200_000


def test_page_is_self_contained(page):
    text = page[0].read_text(encoding="utf-8")
    # pictures are inline (data: URIs); nothing is fetched
    assert not re.search(r'\bsrc="(?!data:image/png;base64,)', text)
    assert "<link" not in text and "url(" not in text
    assert not re.search(r'href="(?!#)', text)
    ids = re.findall(r'\bid="([^"]+)"', text)
    assert len(ids) == len(set(ids))           # the inlined frames do not clash


@needs_chromium
def test_browser_opens_the_step_named_in_the_address(page, tmp_path):
    path, trace = page
    done = chromium("--dump-dom", f"{path.as_uri()}#step=3", tmp_path=tmp_path)
    dom = done.stdout.decode("utf-8")
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert re.search(r'<body[^>]*data-step="3"', dom)          # steps are numbered from 1
    assert re.search(r'<output id="where" data-role="where">step 3 of 3: matmul</output>', dom)
    visible = re.findall(r'<section class="panel" data-step="(\d)"(?! hidden)>', dom)
    assert visible == ["3"]
    assert re.search(r'<section class="panel" data-step="3">.*?∂L/∂W = Xᵀ · ∂L/∂XW', dom, re.S)
    assert re.findall(r'<div class="frame" data-frame="(\d)" data-prefix="[^"]*"(?! hidden)>', dom) == ["3"]
    # every frame is restyled alike: matmul active, the ops before it done
    ops = re.findall(r'<g id="s3-(op\d+)" class="node op (\w+)">', dom)
    assert sorted(state for _, state in ops) == ["active", "done", "done"]
    assert re.findall(r'class="edge backward (\w+)"', dom).count("active") == 3


@needs_chromium
def test_browser_renders_the_page(page, tmp_path):
    path, _ = page
    shots = []
    for k in (1, 3):
        shot = tmp_path / f"step{k}.png"
        done = chromium(f"--screenshot={shot}", f"{path.as_uri()}#step={k}", tmp_path=tmp_path)
        assert done.returncode == 0 and shot.exists(), done.stderr.decode()[-2000:]
        shots.append(shot)
    import matplotlib.image as mpimg
    pixels = [mpimg.imread(str(s))[..., :3] for s in shots]
    for image in pixels:
        assert image.shape[:2] == (900, 1400)
        assert image.std() > 0.05                              # not blank
        assert (image.mean(axis=2) < 0.6).mean() > 0.005        # some dark ink: text, arrows
    assert np.abs(pixels[0] - pixels[1]).mean() > 0.001        # step 0 and step 2 look different


@needs_chromium
def test_browser_clamps_the_step_and_writes_it_back_to_the_address(page, tmp_path):
    path, _ = page
    # a copy that records the address after the page's own script ran
    probe = tmp_path / "probe.html"
    probe.write_text(path.read_text(encoding="utf-8").replace(
        "</body>", "<script>document.body.dataset.hash = location.hash;</script></body>"), encoding="utf-8")
    done = chromium("--dump-dom", f"{probe.as_uri()}#step=9", tmp_path=tmp_path)
    body = re.search(r"<body[^>]*>", done.stdout.decode("utf-8")).group(0)
    assert 'data-step="3"' in body and 'data-hash="#step=3"' in body


@needs_chromium
def test_keys_buttons_and_slider_move_between_steps(page, tmp_path):
    path, _ = page
    # the page's own controls, driven in the browser; each move's step is logged on <body>
    driver = """<script>
    const log = [];
    const key = (k) => document.dispatchEvent(new KeyboardEvent("keydown", {key: k}));
    key("ArrowRight"); log.push(document.body.dataset.step);
    key("ArrowRight"); log.push(document.body.dataset.step);
    key("ArrowRight"); log.push(document.body.dataset.step);      // stays on the last step
    document.getElementById("prev").click(); log.push(document.body.dataset.step);
    key("ArrowLeft"); log.push(document.body.dataset.step);
    document.getElementById("next").click(); log.push(document.body.dataset.step);
    const s = document.getElementById("slider"); s.value = 3;
    s.dispatchEvent(new Event("input")); log.push(document.body.dataset.step);
    document.body.dataset.log = log.join(",");
    document.body.dataset.hash = location.hash;
    </script></body>"""
    probe = tmp_path / "drive.html"
    probe.write_text(path.read_text(encoding="utf-8").replace("</body>", driver), encoding="utf-8")
    done = chromium("--dump-dom", probe.as_uri(), tmp_path=tmp_path)
    body = re.search(r"<body[^>]*>", done.stdout.decode("utf-8")).group(0)
    assert 'data-log="2,3,3,2,1,2,3"' in body
    assert 'data-hash="#step=3"' in body


@needs_chromium
def test_gradients_appear_as_the_steps_reach_them(page, tmp_path):
    path, trace = page
    ids = {trace.label(t): f"t{i}" for i, t in enumerate(trace.tensors())}
    states = {}
    for k in (0, 1, 2):
        dom = chromium("--dump-dom", f"{path.as_uri()}#step={k + 1}", tmp_path=tmp_path).stdout.decode()
        states[k] = {name: re.search(rf'<g id="s{k + 1}-a_{ids[name]}_grad" class="(?:grad )?(\w+)',
                                     dom).group(1) for name in ("L", "o", "b", "W")}
    assert states[0] == {"L": "known", "o": "known", "b": "unknown", "W": "unknown"}
    assert states[1] == {"L": "known", "o": "known", "b": "known", "W": "unknown"}
    assert states[2] == {"L": "known", "o": "known", "b": "known", "W": "known"}


# ---- at real size: the digits job's page (10 examples × 64 pixels × 10 classes) ----

@pytest.fixture(scope="module")
def digits_page(tmp_path_factory) -> tuple[Path, object, object]:
    from tinygrad_sm.data import load_digits
    from tinygrad_sm.train import one_per_class
    split = load_digits()
    batch = one_per_class(split.y_train, 10)
    model = nn.SoftmaxRegression(64, 10, seed=0)
    L = nn.cross_entropy(model(Tensor(split.X_train[batch], name="X")), split.y_train[batch])
    trace = L.backward(trace=True)
    path = tmp_path_factory.mktemp("digits") / "backprop.html"
    trace.save_html(str(path), image_shape=(8, 8))
    return path, trace, model


def test_real_size_page_shows_gradients_as_pictures_and_the_closed_form(digits_page):
    path, trace, model = digits_page
    text = path.read_text(encoding="utf-8")
    assert len(text) < 5_000_000
    # ∂L/∂W at the matmul step: 10 images of 8 × 8, next to Xᵀ(ŷ − y)/n, their difference tiny
    matmul = re.search(r'<section class="panel" data-step="3" hidden>(.*?)</section>', text, re.S).group(1)
    assert len(re.findall(r'data-kind="columns" [^>]*data-rows="64" data-cols="10"', matmul)) >= 3
    assert "engine ∂L/∂W" in matmul and "Xᵀ(ŷ − y)/n" in matmul
    assert float(re.search(r"max \|difference\| = ([-+.e\d]+)", matmul).group(1)) < 1e-6
    # the cross-entropy step: softmax(o), y one-hot and ∂L/∂o as n × K pictures, each once
    ce = re.search(r'<section class="panel" data-step="1">(.*?)</section>', text, re.S).group(1)
    for caption in ("softmax(o)", "y (one-hot)", "∂L/∂o"):
        assert ce.count(f"<figcaption>{caption}</figcaption>") == 1


def test_a_graph_that_is_not_softmax_regression_gets_no_closed_form(tmp_path):
    W = Tensor(np.ones((3, 2)), requires_grad=True, name="W")
    L = ((Tensor(np.ones((2, 3)), name="X") @ W) * 2.0).sum()
    path = tmp_path / "p.html"
    L.backward(trace=True).save_html(str(path))
    assert "Xᵀ(ŷ − y)/n" not in path.read_text(encoding="utf-8")


REAL_SIZE_DRIVER = """<script>
window.addEventListener("load", () => {
  const root = document.querySelector(".tg-stepper"), box = root.querySelector(".diagram");
  const out = {};
  const opText = () => {
    const texts = [...root.querySelectorAll(".frame:not([hidden]) g.op.active text")];
    return Math.min(...texts.filter((t) => t.getBoundingClientRect().height).map((t) => t.getBoundingClientRect().height));
  };
  const inView = () => {
    const r = root.querySelector(".frame:not([hidden]) g.op.active").getBoundingClientRect(), b = box.getBoundingClientRect();
    return r.left >= b.left && r.right <= b.right && r.top >= b.top && r.bottom <= b.bottom;
  };
  const key = (k) => document.dispatchEvent(new KeyboardEvent("keydown", {key: k}));
  out.zoom0 = root.dataset.zoom; out.text0 = opText(); out.inView0 = inView();
  out.scroll0 = [box.scrollLeft, box.scrollTop];
  key("ArrowRight"); key("ArrowRight");
  out.step = root.dataset.step; out.text2 = opText(); out.inView2 = inView();
  out.scroll2 = [box.scrollLeft, box.scrollTop];
  root.querySelector('[data-role="zoom-in"]').click();
  out.zoomIn = root.dataset.zoom; out.textIn = opText();
  root.querySelector('[data-role="zoom-fit"]').click();
  out.zoomFit = root.dataset.zoom;
  out.fits = box.scrollWidth <= box.clientWidth + 1 && box.scrollHeight <= box.clientHeight + 1;
  root.querySelector('[data-role="zoom-reset"]').click();
  out.zoomReset = root.dataset.zoom;
  // the pointer over ∂L/∂W's picture (panel of step 2), at pixel (ROW, COL) of image CLASS
  const img = [...root.querySelectorAll('section[data-step="3"] figure.tg-picture')]
    .find((f) => f.querySelector("figcaption").textContent === "engine ∂L/∂W").querySelector("img");
  const r = img.getBoundingClientRect(), cell = img.clientWidth / (10 * 9 - 1);
  img.dispatchEvent(new MouseEvent("mousemove", {bubbles: true,
    clientX: r.left + img.clientLeft + (CLASS * 9 + COL + 0.5) * cell,
    clientY: r.top + img.clientTop + (ROW + 0.5) * cell}));
  const readout = img.parentElement.querySelector(".tg-readout");
  out.readout = readout.textContent; out.value = readout.dataset.value;
  // and over the upstream gradient's heatmap (10 × 10), at row 4, column 6
  const heat = root.querySelector('section[data-step="3"] figure.tg-picture img[data-kind="grid"]');
  const h = heat.getBoundingClientRect(), c = heat.clientWidth / 10;
  heat.dispatchEvent(new MouseEvent("mousemove", {bubbles: true,
    clientX: h.left + heat.clientLeft + 6.5 * c, clientY: h.top + heat.clientTop + 4.5 * c}));
  const grid = heat.parentElement.querySelector(".tg-readout");
  out.gridReadout = grid.textContent; out.gridValue = grid.dataset.value;
  document.body.dataset.result = JSON.stringify(out);
});
</script></body>"""


@needs_chromium
def test_real_size_stepper_in_the_browser(digits_page, tmp_path):
    path, trace, model = digits_page
    row, col, k = 3, 5, 7                                 # pixel (3, 5) of class 7's image
    driver = (REAL_SIZE_DRIVER.replace("CLASS", str(k)).replace("ROW", str(row))
              .replace("COL", str(col)))
    probe = path.parent / "real_size_probe.html"
    probe.write_text(path.read_text(encoding="utf-8").replace("</body>", driver), encoding="utf-8")
    done = chromium("--window-size=1280,800", "--dump-dom", probe.as_uri(), tmp_path=tmp_path)
    found = re.search(r'data-result="([^"]*)"', done.stdout.decode("utf-8"))
    assert found, done.stderr.decode()[-2000:]
    import html as html_module
    out = json.loads(html_module.unescape(found.group(1)))
    # 100 % by default, and the active op's text is at least 11 CSS px tall at 1280 × 800
    assert out["zoom0"] == "1.000" and out["text0"] >= 11 and out["text2"] >= 11
    # the view follows the active op: it is inside the diagram's box at step 0 and at step 2
    assert out["step"] == "3" and out["inView0"] and out["inView2"]
    assert out["scroll0"] != out["scroll2"]
    # zoom changes the scale; fit makes the whole diagram fit; 1:1 is back to 100 %
    assert out["zoomIn"] == "1.250" and out["textIn"] == pytest.approx(out["text2"] * 1.25, rel=0.05)
    assert float(out["zoomFit"]) < 1 and out["fits"] and out["zoomReset"] == "1.000"
    # the readout under the pointer: ∂L/∂W[row·8 + col, k], the number in the trace
    feature = row * 8 + col
    expected = trace.grad_at(model.W, len(trace) - 1).value[feature, k]
    assert out["value"] == format_number(expected)
    assert out["readout"].startswith(f"row {feature}, column {k} (pixel {row}, {col} of image {k})")
    assert out["gridValue"] == format_number(trace[2].grad_output[4, 6])
    assert out["gridReadout"] == f"row 4, column 6: {format_number(trace[2].grad_output[4, 6])}"


MULTI_DRIVER = """<script>
window.addEventListener("load", () => {
  const [first, second] = document.querySelectorAll(".tg-stepper");
  first.querySelector('[data-role="zoom-in"]').click();
  const box = second.querySelector(".diagram"), r = box.getBoundingClientRect();
  box.dispatchEvent(new WheelEvent("wheel", {deltaY: -300, ctrlKey: true, bubbles: true, cancelable: true,
                                             clientX: r.left + 10, clientY: r.top + 10}));
  first.querySelector('[data-role="next"]').click();
  document.body.dataset.result = JSON.stringify({
    zoom: [first.dataset.zoom, second.dataset.zoom], step: [first.dataset.step, second.dataset.step]});
});
</script>"""


@needs_chromium
def test_two_steppers_on_one_page_zoom_and_step_on_their_own(digits_page, tmp_path):
    from tinygrad_sm import page as page_module
    _, trace, _ = digits_page
    body = "".join(page_module.stepper_html(trace, prefix=p, standalone=False, image_shape=(8, 8))
                   for p in ("a-", "b-"))
    probe = tmp_path / "two.html"
    probe.write_text(f"<!DOCTYPE html><html><head><meta charset='utf-8'><style>"
                     f"{page_module.asset('stepper.css')}</style></head><body>{body}"
                     f"<script>{page_module.asset('stepper.js')}</script>{MULTI_DRIVER}</body></html>",
                     encoding="utf-8")
    done = chromium("--window-size=1280,800", "--dump-dom", probe.as_uri(), tmp_path=tmp_path)
    found = re.search(r'data-result="([^"]*)"', done.stdout.decode("utf-8"))
    assert found, done.stderr.decode()[-2000:]
    import html as html_module
    out = json.loads(html_module.unescape(found.group(1)))
    # the button zoomed the first only, Ctrl+wheel (pinch) zoomed the second only, by e^(300/300)
    assert out["zoom"][0] == "1.250" and float(out["zoom"][1]) == pytest.approx(np.e, rel=0.01)
    assert out["step"] == ["2", "1"]
