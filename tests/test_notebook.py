"""Traces, steps, tensors and diagrams in a notebook: their HTML, a real kernel (nbclient) and the
notebook exported by nbconvert, driven in headless Chromium."""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from tinygrad_sm import Tensor, notebook, viz
from tinygrad_sm.notebook import trace_html
from browser import chromium, needs_chromium

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

ROOT = Path(__file__).resolve().parent.parent

# the README's ten lines: the same graph in this process and in the kernel
SETUP = """import sys, numpy as np
import tinygrad_sm.nn as nn
from tinygrad_sm import Tensor, viz
X = Tensor(np.array([[0.1, -0.1, 0.6], [0.1, -0.5, 0.4]]), name="X")
model = nn.SoftmaxRegression(3, 3)
L = nn.cross_entropy(model(X), np.array([0, 2]))
trace = L.backward(trace=True)"""


def readme_trace():
    scope: dict = {}
    exec(SETUP, scope)
    return scope["trace"], scope["model"], scope["L"]


# ---- the HTML each object gives ----

def test_a_trace_shows_the_inline_stepper_with_its_own_ids():
    trace, _, _ = readme_trace()
    first, second = trace._repr_html_(), trace._repr_html_()
    prefixes = [re.search(r'class="tg-stepper tg-inline" data-prefix="([^"]+)"', h).group(1)
                for h in (first, second)]
    assert prefixes[0] != prefixes[1]                       # two outputs never share an id
    for html, prefix in zip((first, second), prefixes):
        ids = re.findall(r'\bid="([^"]+)"', re.sub(r"<script>.*?</script>", "", html, flags=re.S))
        assert ids and all(i.startswith(prefix) for i in ids)   # every id scoped, no id="prev"
        assert 'data-hash="0"' in html                      # no page-wide keys, no #step=k
        assert html.count('<section class="panel"') == 3 and html.count("<svg") == 3  # a frame a step
        assert "<style>" in html and ".tg-stepper" in html and "<script>" in html
        assert 'class="tg-frames"' in html
        for step in trace:
            assert step.rule.split("; ")[-1] in html
    assert trace_html(trace, prefix="p1-").count('id="p1-') == first.count(f'id="{prefixes[0]}')


def test_a_step_shows_its_panel_and_a_tensor_its_value_and_gradient():
    trace, model, _ = readme_trace()
    html = trace[2]._repr_html_()
    assert "∂L/∂W = Xᵀ · ∂L/∂XW" in html and '<section class="panel" data-step="3">' in html
    assert "<script" not in html                            # a panel alone: nothing to run
    for value in model.W.grad.ravel():
        assert f"<td>{float(value):.4g}</td>" in html
    card = model.W._repr_html_()
    assert "<b>W</b> (3, 3) float32, parameter" in card and "W.grad" in card
    for value in np.concatenate([model.W.data.ravel(), model.W.grad.ravel()]):
        assert f"<td>{float(value):.4g}</td>" in card
    fresh = Tensor(np.ones((2, 2), np.float32), requires_grad=True, name="w")
    assert ".grad is None" in fresh._repr_html_()
    big = Tensor(np.arange(640.0).reshape(64, 10), name="big")
    card = big._repr_html_()
    # large: the real-size heatmap (pictures.py) with its numbers for the pointer readout
    assert "<b>big</b> (64, 10)" in card and "<td>" not in card
    assert card.count('<img class="tg-heat"') == 1 and 'data-rows="64" data-cols="10"' in card
    assert "<script>" in card and "img.tg-heat" in card


def test_names_show_literally_in_html():
    odd = Tensor([1.0, 2.0], name="a\n<script>")
    card = odd._repr_html_()
    assert "<b>a\\n&lt;script&gt;</b>" in card and "<script>" not in card


def test_markdown_fallbacks_give_the_rules_and_numbers():
    trace, model, _ = readme_trace()
    table = trace._repr_markdown_()
    assert "| 3 | matmul | `∂L/∂W = Xᵀ · ∂L/∂XW` |" in table
    assert r"| 2 | add | `∂L/∂XW = ∂L/∂o; ∂L/∂b = Σ_rows ∂L/∂o` |" in table
    step = trace[1]._repr_markdown_()
    assert "Σ_rows ∂L/∂o" in step and "broadcast undone" in step
    card = model.W._repr_markdown_()
    assert card.startswith("**W** (3, 3) float32, parameter") and f"{model.W.grad[0, 1]:.4g}" in card


def test_tensor_display_calls_the_notebook_renderer(monkeypatch):
    monkeypatch.setattr(notebook, "tensor_html", lambda t: f"shown {t.name}")
    assert Tensor([1.0], name="a")._repr_html_() == "shown a"


def test_a_diagram_scrolls_in_its_cell():
    _, model, L = readme_trace()
    bundle = viz.draw(L, highlight=model.W)._repr_mimebundle_()
    assert set(bundle) == {"image/svg+xml", "text/html"}
    html = bundle["text/html"]
    assert html.startswith('<div class="tg-diagram" style="overflow: auto; max-width: 100%">'
                           '<svg style="max-width: none"')
    assert "<?xml" not in html and html.endswith("</svg>\n</div>")
    assert bundle["image/svg+xml"].startswith("<?xml")       # the plain SVG stays for other frontends
    assert set(viz.draw(L)._repr_mimebundle_(include=["image/svg+xml"])) == {"image/svg+xml"}
    assert set(viz.draw(L)._repr_mimebundle_(exclude=["image/svg+xml"])) == {"text/html"}


# ---- a real kernel ----

def run_notebook(cells: list[str], cwd: Path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    # kernel "python3": jupyter_client starts it with sys.executable, this venv's python
    nbclient.NotebookClient(nb, kernel_name="python3", timeout=180,
                            resources={"metadata": {"path": str(cwd)}}).execute()
    return nb


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    # a panel and a tensor before the steppers: their .tg-stepper wrappers must not stop the script
    cells = [SETUP + "\nprint(sys.prefix)", "trace[2]", "model.W", "trace", "trace",
             "text = str(trace)\nprint(len(text))\nprint(text)", "viz.draw(L, highlight=model.W)",
             'Tensor(np.arange(640.0).reshape(64, 10), name="big")']
    return run_notebook(cells, tmp_path_factory.mktemp("kernel"))


def outputs(nb, cell: int) -> list:
    return nb.cells[cell].outputs


def test_the_kernel_is_this_python(executed):
    assert outputs(executed, 0)[0]["text"].strip() == sys.prefix


def test_each_output_has_the_right_mime_types(executed):
    trace, model, _ = readme_trace()
    for cell in (3, 4):
        (out,) = outputs(executed, cell)
        assert set(out["data"]) == {"text/plain", "text/html", "text/markdown"}
        assert out["data"]["text/plain"] == "BackwardTrace(3 steps from L)"
        assert 'class="tg-stepper tg-inline"' in out["data"]["text/html"]
        assert "| 3 | matmul |" in out["data"]["text/markdown"]
    (step,) = outputs(executed, 1)
    assert set(step["data"]) == {"text/plain", "text/html", "text/markdown"}
    assert "∂L/∂W = Xᵀ · ∂L/∂XW" in step["data"]["text/html"]
    (card,) = outputs(executed, 2)
    assert set(card["data"]) == {"text/plain", "text/html", "text/markdown"}
    assert "<b>W</b> (3, 3)" in card["data"]["text/html"]
    assert card["data"]["text/plain"] == repr(model.W)
    (diagram,) = outputs(executed, 6)
    assert set(diagram["data"]) == {"text/plain", "image/svg+xml", "text/html"}
    assert diagram["data"]["text/html"].startswith('<div class="tg-diagram" style="overflow: auto')


def test_str_of_a_trace_is_the_table_inside_jupyter(executed):
    trace, _, _ = readme_trace()
    (out,) = outputs(executed, 5)
    expected = str(trace)
    assert len(expected) > 1000 and "Backward from L: 3 steps" in expected
    assert out["name"] == "stdout" and out["text"] == f"{len(expected)}\n{expected}\n"


# ---- the exported notebook in a browser ----

PROBE = """<script>
(function () {
  const steppers = [...document.querySelectorAll(".tg-stepper[data-ready]")];
  const state = () => steppers.map((s) => [Number(s.dataset.step),
      s.querySelector('[data-role="where"]').textContent,
      [...s.querySelectorAll(".panel")].findIndex((p) => !p.hidden),
      s.querySelectorAll(".frame:not([hidden]) g.op.active").length]);
  const next = (i) => steppers[i].querySelector('[data-role="next"]').click();
  const out = {count: steppers.length, start: state()};
  next(0); next(0); out.first_twice = state();
  next(1); out.second_once = state();
  steppers[1].dispatchEvent(new KeyboardEvent("keydown", {key: "ArrowLeft", bubbles: true}));
  out.key_on_second = state();
  document.dispatchEvent(new KeyboardEvent("keydown", {key: "ArrowLeft", bubbles: true}));
  out.key_on_page = state();
  const box = document.querySelector(".tg-diagram"), svg = box.querySelector("svg");
  const area = box.closest(".jp-OutputArea-output") || box.parentElement;
  out.diagram = {right: box.getBoundingClientRect().right, area: area.getBoundingClientRect().right,
                 svg: svg.getBoundingClientRect().width, client: box.clientWidth, scroll: box.scrollWidth};
  const inner = steppers[0].querySelector(".diagram");
  out.stepper = {svg: inner.querySelector(".frame:not([hidden]) svg").getBoundingClientRect().width,
                 client: inner.clientWidth, scroll: inner.scrollWidth};
  const heat = document.querySelector(".tg-tensor img.tg-heat");   // the big tensor's picture
  if (heat) {
    const r = heat.getBoundingClientRect(), cell = heat.clientWidth / 10;
    heat.dispatchEvent(new MouseEvent("mousemove", {bubbles: true, clientX: r.left + 7.5 * cell,
                                                     clientY: r.top + 3.5 * cell}));
    out.readout = heat.parentElement.querySelector(".tg-readout").textContent;
  }
  const pre = document.createElement("pre");
  pre.id = "probe";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>"""


def export_html(nb) -> str:
    from nbconvert import HTMLExporter
    body, _ = HTMLExporter().from_notebook_node(nb)
    return body


def dump_dom(path: Path, tmp_path: Path) -> str:
    done = chromium("--dump-dom", path.as_uri(), tmp_path=tmp_path, size="1000,800")
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    return done.stdout.decode("utf-8")


@needs_chromium
def test_two_steppers_in_the_exported_notebook_move_independently(executed, tmp_path):
    page = tmp_path / "notebook.html"
    page.write_text(export_html(executed).replace("</body>", PROBE + "</body>"), encoding="utf-8")
    found = re.search(r'<pre id="probe">(.*?)</pre>', dump_dom(page, tmp_path), re.S)
    assert found, "the probe did not run"
    result = json.loads(found.group(1))
    assert result["count"] == 2                              # both outputs' scripts started them
    assert result["start"] == [[1, "step 1 of 3: cross_entropy", 0, 1]] * 2
    assert result["first_twice"] == [[3, "step 3 of 3: matmul", 2, 1], [1, "step 1 of 3: cross_entropy", 0, 1]]
    assert result["second_once"] == [[3, "step 3 of 3: matmul", 2, 1], [2, "step 2 of 3: add", 1, 1]]
    # keys move only the stepper they were pressed in; keys on the page move none
    assert result["key_on_second"] == [[3, "step 3 of 3: matmul", 2, 1], [1, "step 1 of 3: cross_entropy", 0, 1]]
    assert result["key_on_page"] == result["key_on_second"]
    # the wide diagram keeps its size and scrolls inside the output area, nothing cut off
    d = result["diagram"]
    assert d["right"] <= d["area"] + 1 and d["scroll"] > d["client"] and abs(d["svg"] - d["scroll"]) < 1
    s = result["stepper"]                                    # the stepper's diagram too
    assert s["scroll"] > s["client"] and abs(s["svg"] - s["scroll"]) < 1
    assert result["readout"] == "row 3, column 7: 37"        # a tensor's heatmap reads out its cells


LIVE = """<!DOCTYPE html><html><head><meta charset="utf-8"></head><body><script>
// as JupyterLab shows a trusted output: innerHTML (its scripts do not run), then each script
// re-created, then the output attached to the page
for (const html of OUTPUTS) {
  const host = document.createElement("div");
  host.innerHTML = html;
  for (const old of host.querySelectorAll("script")) {
    const fresh = document.createElement("script");
    for (const a of old.attributes) fresh.setAttribute(a.name, a.value);
    fresh.textContent = old.textContent;
    old.replaceWith(fresh);
  }
  document.body.appendChild(host);
}
</script>PROBE</body></html>"""


@needs_chromium
def test_steppers_inserted_as_jupyterlab_does_start_and_move_independently(executed, tmp_path):
    outputs_html = [out["data"]["text/html"] for cell in executed.cells for out in cell.outputs
                    if "text/html" in out.get("data", {})]
    page = tmp_path / "live.html"
    page.write_text(LIVE.replace("OUTPUTS", json.dumps(outputs_html).replace("</", "<\\/"))
                    .replace("PROBE", PROBE), encoding="utf-8")
    found = re.search(r'<pre id="probe">(.*?)</pre>', dump_dom(page, tmp_path), re.S)
    assert found, "the probe did not run"
    result = json.loads(found.group(1))
    assert result["count"] == 2
    assert result["second_once"] == [[3, "step 3 of 3: matmul", 2, 1], [2, "step 2 of 3: add", 1, 1]]
    assert result["readout"] == "row 3, column 7: 37"


# ---- the tour notebook ----

def numbers_after(text: str, heading: str, end: str) -> np.ndarray:
    block = text.split(heading, 1)[1].split(end, 1)[0]
    return np.array([float(x) for x in re.findall(r"-?\d+\.\d+(?:e[-+]\d+)?", block)])


def executed_tour(name: str, tmp_path) -> tuple[list, str, np.ndarray]:
    """Run demos/NAME under a real kernel: its code cells, what they printed, and Xᵀ(ŷ − y)/n
    computed here from the notebook's own numbers."""
    nb = nbformat.read(ROOT / "demos" / name, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")   # committed clean
    nb.cells.append(nbformat.v4.new_code_cell(
        "import json\nprint(json.dumps({'X': X.data.tolist(), 'y': y.tolist(), "
        "'W': model.W.data.tolist(), 'b': model.b.data.tolist()}))"))
    nbclient.NotebookClient(nb, kernel_name="python3", timeout=180,
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    code = [c for c in nb.cells if c.cell_type == "code"]
    printed = "".join(o.get("text", "") for c in code for o in c.outputs)
    given = json.loads(code[-1].outputs[0]["text"])
    X, W, b = (np.array(given[k], dtype=np.float64) for k in ("X", "W", "b"))
    y = np.array(given["y"])
    o = X @ W + b
    y_hat = np.exp(o - o.max(axis=1, keepdims=True))
    y_hat /= y_hat.sum(axis=1, keepdims=True)
    return code, printed, X.T @ (y_hat - np.eye(3)[y]) / len(y)


def test_the_tour_notebook_runs_and_prints_the_closed_form(tmp_path):
    code, printed, closed_form = executed_tour("backprop_tour.ipynb", tmp_path)
    html = [o["data"]["text/html"] for c in code for o in c.outputs if "text/html" in o.get("data", {})]
    assert sum('class="tg-stepper tg-inline"' in h and "tg-frames" in h for h in html) == 1
    grad_W = numbers_after(printed, "∂L/∂W from backprop:", "Xᵀ(ŷ − y)/n:")
    assert grad_W.shape == (9,)
    np.testing.assert_allclose(grad_W, closed_form.ravel(), rtol=1e-5, atol=1e-7)
    # the real-size picture: 64 × 10 as a figure, and W's card says its size
    assert any("image/png" in o.get("data", {}) for o in code[-2].outputs)
    assert any("<b>W</b> (64, 10)" in h for h in html)


def test_the_chinese_tour_notebook_has_the_same_cells_and_runs(tmp_path):
    """demos/backprop_tour_zh.ipynb: the English tour's cells in Chinese; it runs, and its
    ∂L/∂W equals Xᵀ(ŷ − y)/n computed here from its own numbers."""
    english = nbformat.read(ROOT / "demos" / "backprop_tour.ipynb", as_version=4)
    chinese = nbformat.read(ROOT / "demos" / "backprop_tour_zh.ipynb", as_version=4)
    assert [c.cell_type for c in chinese.cells] == [c.cell_type for c in english.cells]
    cjk = re.compile(r"[\u3400-\u9fff]")
    assert all(cjk.search(c.source) for c in chinese.cells if c.cell_type == "markdown")
    code, printed, closed_form = executed_tour("backprop_tour_zh.ipynb", tmp_path)
    grad_W = numbers_after(printed, "反向传播得到的 ∂L/∂W：", "Xᵀ(ŷ − y)/n：")
    np.testing.assert_allclose(grad_W, closed_form.ravel(), rtol=1e-5, atol=1e-7)
    assert any("image/png" in o.get("data", {}) for o in code[-2].outputs)
