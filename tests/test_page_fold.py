"""The training page's ∂L/∂W step fits one screen at 1280 × 800 (issue 18, "What to build" 2).

Above the fold: the enlarged ∂L/∂W class images, Xᵀ(ŷ − y)/n beside them, their difference and
the reading guide, with the diagram at 100 % and the active op in view; each picture once per
step; an MLP's W1 and ∂L/∂W1 drawn as one image per hidden unit, never as a block average.
"""
from __future__ import annotations

import html
import json
import re
from pathlib import Path

import numpy as np
import pytest

import tinygrad_sm.nn as nn
from browser import chromium, needs_chromium
from tinygrad_sm import Tensor, train, viz
from tinygrad_sm.i18n import messages


def step_trace(data: str, model_name: str, hidden: int = 256):
    try:
        split = train.load(data)
    except Exception as e:  # Fashion-MNIST is not bundled
        pytest.skip(f"{data} is not available here: {e}")
    model = train.build_model(model_name, split.num_features, 10, hidden, 0)
    batch = train.one_per_class(split.y_train, 10)
    X, y = split.X_train[batch], split.y_train[batch]
    loss = nn.cross_entropy(model(Tensor(X, name="X")), y)
    return loss.backward(trace=True), model, X, y


FOLD_DRIVER = """<script>
window.addEventListener("load", () => {
  const root = document.querySelector(".tg-stepper"), box = root.querySelector(".diagram");
  const panel = [...root.querySelectorAll(".panel")].find((p) => !p.hidden);
  const bottom = (e) => (e ? e.getBoundingClientRect().bottom : 1e9);
  const figure = (caption) => [...panel.querySelectorAll("figure.tg-picture")]
    .find((f) => f.querySelector("figcaption").textContent === caption);
  const op = [...root.querySelectorAll("g.op.active")].map((g) => g.getBoundingClientRect())
    .find((r) => r.width > 0);
  const b = box.getBoundingClientRect();
  const out = {
    height: window.innerHeight, width: window.innerWidth, zoom: root.dataset.zoom,
    engine: bottom(figure("ENGINE") && figure("ENGINE").querySelector("img")),
    closed: bottom(figure("Xᵀ(ŷ − y)/n") && figure("Xᵀ(ŷ − y)/n").querySelector("img")),
    difference: bottom(panel.querySelector(".difference")),
    guide: bottom(panel.querySelector(".guide")),
    guideText: panel.querySelector(".guide") ? panel.querySelector(".guide").textContent : "",
    opInView: op.left >= b.left && op.right <= b.right && op.top >= b.top && op.bottom <= b.bottom,
    captions: [...panel.querySelectorAll("figure.tg-picture figcaption")].map((c) => c.textContent),
  };
  document.body.dataset.result = JSON.stringify(out);
});
</script></body>"""


def fold(path: Path, step: int, engine_caption: str, tmp_path: Path) -> dict:
    probe = path.with_name("fold_probe.html")
    probe.write_text(path.read_text(encoding="utf-8").replace(
        "</body>", FOLD_DRIVER.replace("ENGINE", engine_caption), 1), encoding="utf-8")
    # headless Chromium's --dump-dom keeps 143 px of the window for a toolbar it does not draw:
    # a 1280 × 943 window gives the 1280 × 800 viewport (checked below)
    done = chromium("--window-size=1280,943", "--dump-dom", f"{probe.as_uri()}#step={step}",
                    tmp_path=tmp_path)
    found = re.search(r'data-result="([^"]*)"', done.stdout.decode("utf-8"))
    assert found, done.stderr.decode()[-2000:]
    return json.loads(html.unescape(found.group(1)))


@needs_chromium
@pytest.mark.parametrize("data,image_shape,lang", [
    ("digits", (8, 8), "en"), ("digits", (8, 8), "zh"), ("fashion-mnist", (28, 28), "en")])
def test_the_matmul_step_fits_the_first_screen(data, image_shape, lang, tmp_path):
    trace, model, X, y = step_trace(data, "softmax")
    t = messages(lang)
    path = Path(trace.save_html(tmp_path / "backprop.html", image_shape=image_shape, lang=lang))
    matmul = next(k for k in range(len(trace)) if trace[k].op == "matmul") + 1   # numbered from 1
    out = fold(path, matmul, t("page.engine", root="L", name="W"), tmp_path)
    assert out["height"] == 800
    for part in ("engine", "closed", "difference", "guide"):
        assert out[part] <= out["height"], (part, out)
    assert out["guideText"] == t("page.guide")
    assert out["zoom"] == "1.000" and out["opInView"]           # the diagram at 100 %, the op in view
    # each picture once: the upstream gradient, and ∂L/∂W only as the enlarged engine picture
    captions = out["captions"]
    assert len(captions) == len(set(captions)), captions
    assert "∂L/∂W" not in captions and "∂L/∂XW" in captions


def test_the_check_beside_the_engine_is_recomputed_here(tmp_path):
    trace, model, X, y = step_trace("digits", "softmax")
    path = Path(trace.save_html(tmp_path / "backprop.html", image_shape=(8, 8)))
    text = path.read_text(encoding="utf-8")
    W, b = model.W.data.astype(np.float64), model.b.data.astype(np.float64)
    logits = X @ W + b
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    closed = X.T @ (p - np.eye(10)[y]) / len(y)
    difference = np.abs(trace.grad_at(model.W).value - closed).max()
    assert difference < 1e-6
    shown = float(re.search(r"max \|difference\| = ([-+.e\d]+)", text).group(1))
    assert shown < 1e-6


def test_the_mlp_first_layer_is_drawn_one_image_per_unit(tmp_path):
    trace, model, _, _ = step_trace("digits", "mlp", hidden=64)   # 64 units: past as_images' 32
    W1 = model.named_parameters()["W1"]
    t = messages("en")
    source = viz.draw(trace.root, trace=trace, image_shape=(8, 8)).source
    units = t("diagram.first_images", last=15, count=64, h=8, w=8)
    assert source.count(units) == 2                        # W1 and ∂L/∂W1, each as unit images
    path = Path(trace.save_html(tmp_path / "mlp.html", image_shape=(8, 8)))
    text = path.read_text(encoding="utf-8")
    grids = re.findall(r'<img class="tg-heat"[^>]*data-kind="columns"[^>]*data-rows="64" '
                       r'data-cols="64"[^>]*data-per-row="16"', text)
    assert grids                                           # every unit, 16 a row, on the page
    assert W1.shape == (64, 64)


def test_a_page_and_a_diagram_can_say_what_the_pass_is_of(tmp_path):
    trace, _, _, _ = step_trace("digits", "softmax")
    for lang in ("en", "zh"):
        note = messages(lang)("page.initial_weights")
        text = Path(trace.save_html(tmp_path / f"p_{lang}.html", lang=lang, note=note)).read_text("utf-8")
        assert note in text
        assert note in viz.draw(trace.root, trace=trace, note=note, lang=lang).source
