"""Each step shows what backprop knows after it, and nothing more (issue 18, item 1).

Gradient pictures not yet computed are blank (their pixels, not only their text), a gradient
that is a sum shows the sum so far, steps are numbered from 1 in every display, the
cross-entropy step plugs in the one-hot y, and the terminal stepper fits 80×24 at every step.
Expected numbers are recomputed here with numpy, not read from the code under test.
"""
from __future__ import annotations

import json
import re
import time
from pathlib import Path

import numpy as np
import pytest

import tinygrad_sm.nn as nn
from browser import chromium, needs_chromium
from pseudo_terminal import run_in_pty
from tinygrad_sm import Tensor, notebook, page, terminal, viz
from tinygrad_sm.formatting import format_number, is_small



# ---- the chain rule by hand: L = exp(o) ⊙ o, o = w·x + b; o's gradient is a sum of two terms ----

X_VALUE, W_VALUE, B_VALUE = 2.0, -0.5, 1.5


def chain_rule_graph():
    x = Tensor(np.float64(X_VALUE), name="x")
    w = Tensor(np.float64(W_VALUE), requires_grad=True, name="w")
    b = Tensor(np.float64(B_VALUE), requires_grad=True, name="b")
    u = w * x
    u.name = "u"
    o = u + b
    o.name = "o"
    s = o.exp()
    s.name = "s"
    L = s * o
    L.name = "L"
    return L, o, L.backward(trace=True)


def o_partials() -> tuple[float, float]:
    """∂L/∂o by hand: through s (first, as backprop meets it at L = s ⊙ o: ∂L/∂o += s) and
    through exp (∂L/∂o += ∂L/∂s · exp(o) = o · exp(o))."""
    o = W_VALUE * X_VALUE + B_VALUE
    first = np.exp(o)
    return first, first + o * np.exp(o)


def grad_cell(source: str, node: int) -> str:
    found = re.search(rf'id="t{node}_grad"[^>]*>(.*?)</td>', source, re.S)
    return found.group(1) if found else ""


def test_the_diagram_shows_the_partial_sum_then_the_total():
    L, o, trace = chain_rule_graph()
    first, total = o_partials()
    assert format_number(first) == "1.649" and format_number(total) == "2.473"  # the numbers
    node = [id(t) for t in trace.tensors()].index(id(o))
    cells = [grad_cell(viz.draw(L, trace=trace, known_at=k).source, node) for k in range(len(trace))]
    seen_first = [k for k in range(len(trace)) if trace.grad_at(o, k).value is not None]
    k0 = seen_first[0]
    assert format_number(first) in cells[k0] and format_number(total) not in cells[k0]
    assert "1 of 2" in cells[k0]
    assert format_number(total) in cells[-1] and "1 of 2" not in cells[-1]
    for k in range(k0):                          # before any term: no number at all
        assert not re.search(r"\d\.\d", cells[k])


def test_every_frame_shows_the_trace_partials_of_every_gradient():
    L, _, trace = chain_rule_graph()
    order = trace.tensors()
    for k in range(len(trace)):
        source = viz.draw(L, trace=trace, known_at=k).source
        for i, t in enumerate(order):
            if not t.requires_grad:
                continue
            known = trace.grad_at(t, k)
            cell = grad_cell(source, i)
            if known.value is None:
                assert not re.search(r"\d\.\d", cell), (k, trace.label(t))
            else:
                assert format_number(float(known.value)) in cell, (k, trace.label(t), cell)


def test_the_page_frames_show_the_partial_in_the_diagram(tmp_path):
    L, o, trace = chain_rule_graph()
    first, total = o_partials()
    text = Path(trace.save_html(tmp_path / "chain.html")).read_text(encoding="utf-8")
    node = [id(t) for t in trace.tensors()].index(id(o))
    frames = re.findall(r'<div class="frame" data-frame="(\d+)"[^>]*>(.*?)</svg>', text, re.S)
    assert [int(n) for n, _ in frames] == list(range(1, len(trace) + 1))
    for number, svg in frames:
        group = re.search(rf'<g id="s{number}-a_t{node}_grad".*?</g>', svg, re.S).group(0)
        value = trace.grad_at(o, int(number) - 1).value
        if value is None:
            assert not re.search(r"\d\.\d", group)
        else:
            assert format_number(float(value)) in group
    assert format_number(first) in re.search(rf'<g id="s1-a_t{node}_grad".*?</g>', frames[0][1], re.S).group(0)
    assert format_number(total) in frames[-1][1]


def test_a_forward_shortcut_does_not_cross_a_backward_label():
    """∂L/∂o = ∂L/∂s ⊙ exp(o) is not struck through by the forward edge o → (L = s ⊙ o)."""
    L, _, trace = chain_rule_graph()
    svg = viz.render_bytes(viz.draw(L, trace=trace), "svg").decode("utf-8")
    label = re.search(r'<text[^>]*x="([-\d.]+)" y="([-\d.]+)"[^>]*font-size="([\d.]+)"[^>]*>'
                      r'∂L/∂o = ∂L/∂s ⊙ exp\(o\)</text>', svg)
    assert label, "the rule's label is in the SVG"
    x, y, size = (float(v) for v in label.groups())
    width = len("∂L/∂o = ∂L/∂s ⊙ exp(o)") * size * 0.55
    box = (x + 1, y - size * 0.7, x + width - 1, y)           # the glyphs' body, a little inside
    for edge in re.findall(r'<g id="f\d+_\w+" class="edge">.*?<path[^>]* d="([^"]+)"', svg, re.S):
        for px, py in bezier_points(edge):
            assert not (box[0] < px < box[2] and box[1] < py < box[3]), (edge[:60], px, py)


def bezier_points(d: str, samples: int = 40) -> list[tuple[float, float]]:
    numbers = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", d)]
    points = list(zip(numbers[0::2], numbers[1::2]))
    out = []
    for start in range(0, len(points) - 3, 3):
        p0, p1, p2, p3 = (np.array(p) for p in points[start:start + 4])
        for t in np.linspace(0, 1, samples):
            q = (1 - t) ** 3 * p0 + 3 * (1 - t) ** 2 * t * p1 + 3 * (1 - t) * t ** 2 * p2 + t ** 3 * p3
            out.append((float(q[0]), float(q[1])))
    return out


# ---- numbering from 1, in every display ----

def tiny_trace():
    X = Tensor(np.array([[0.1, -0.1, 0.6], [0.1, -0.5, 0.4]]), name="X")
    model = nn.SoftmaxRegression(3, 3, seed=0, dtype=np.float64)
    labels = np.array([0, 2])
    return nn.cross_entropy(model(X), labels).backward(trace=True), labels


def test_steps_are_numbered_from_one_everywhere():
    trace, _ = tiny_trace()
    assert trace[0].op == "cross_entropy"          # trace[i] stays a Python index: trace[0] is step 1
    table = terminal.format_trace(trace, width=200, lang="en")
    assert re.search(r"│ 1 +│ cross_entropy", table) and re.search(r"│ 3 +│ matmul", table)
    assert not re.search(r"│ 0 +│", table)
    assert "step 1 of 3: cross_entropy" in str(terminal.step_panel(trace.view(0), "en").title)
    assert "第 1 步（共 3 步）：cross_entropy" in str(terminal.step_panel(trace.view(0), "zh").title)
    assert "| 1 | cross_entropy |" in notebook.trace_markdown(trace, "en")
    assert "**step 3 of 3: matmul**" in notebook.step_markdown(trace[2], "en")
    html = page.stepper_html(trace, lang="en")
    assert '<output id="where" data-role="where">step 1 of 3: cross_entropy</output>' in html
    assert 'min="1" max="3" value="1"' in html
    assert "<h2>Step 1: cross_entropy</h2>" in html and "<h2>Step 0" not in html
    assert "step 2 of 3" in viz.draw(trace.root, trace=trace, step=1).source


@needs_chromium
def test_hash_step_1_opens_the_first_step(tmp_path):
    trace, _ = tiny_trace()
    path = Path(trace.save_html(tmp_path / "tiny.html"))
    for number, op in ((1, "cross_entropy"), (3, "matmul")):
        dom = chromium("--dump-dom", f"{path.as_uri()}#step={number}", tmp_path=tmp_path).stdout.decode()
        assert f'<output id="where" data-role="where">step {number} of 3: {op}</output>' in dom
        assert re.findall(r'<section class="panel" data-step="(\d)"(?! hidden)>', dom) == [str(number)]


# ---- the cross-entropy step plugs in the one-hot y ----

def test_the_cross_entropy_step_plugs_in_the_one_hot_y():
    trace, labels = tiny_trace()
    one_hot = np.zeros((2, 3))
    one_hot[np.arange(2), labels] = 1
    view = trace.view(0)
    operands = dict(view.edges[0].operands)
    np.testing.assert_array_equal(operands["y"], one_hot)
    panel = terminal._plain_console(80)
    panel.print(terminal.step_panel(view, "en"))
    text = panel.file.getvalue()
    assert "[1 0 0]" in text and "[0 0 1]" in text and "[0 2]" not in text
    markdown = notebook.step_markdown(trace[0], "en")
    assert "[0 2]" not in markdown
    html = page.panel_html(view, lang="en")
    assert "<figcaption>y (one-hot)</figcaption>" in html


# ---- pictures of gradients not yet known are blank (pixels), in the browser ----

BLANK_DRIVER = """<script>
window.addEventListener("load", () => {
  const root = document.querySelector(".tg-stepper");
  const visible = (e) => e.getBoundingClientRect().width > 0;
  const report = {};
  for (const id of IDS) {
    const group = [...root.querySelectorAll(`.diagram [id$="a_${id}_grad"]`)].find(visible);
    if (!group) { report[id] = null; continue; }
    const fills = new Set([...group.querySelectorAll("polygon")].map((p) => getComputedStyle(p).fill));
    report[id] = {fills: [...fills], opacity: Number(getComputedStyle(group).opacity)};
  }
  document.body.dataset.result = JSON.stringify(report);
});
</script></body>"""

BLANK_FILLS = {"rgb(255, 255, 255)", "rgb(245, 245, 245)", "none"}


def blank_report(path: Path, ids: list[str], step: int, tmp_path: Path) -> dict:
    probe = path.with_name(f"probe_{step}.html")
    probe.write_text(path.read_text(encoding="utf-8").replace("</body>", BLANK_DRIVER.replace(
        "IDS", json.dumps(ids)), 1), encoding="utf-8")
    done = chromium("--window-size=1280,800", "--dump-dom", f"{probe.as_uri()}#step={step}",
                    tmp_path=tmp_path)
    found = re.search(r'data-result="([^"]*)"', done.stdout.decode("utf-8"))
    assert found, done.stderr.decode()[-2000:]
    import html
    return json.loads(html.unescape(found.group(1)))


def training_page(data: str, model_name: str, out: Path, image_shape: tuple[int, int]):
    from tinygrad_sm import train
    try:
        split = train.load(data)
    except Exception as e:  # Fashion-MNIST is not bundled
        pytest.skip(f"{data} is not available here: {e}")
    model = train.build_model(model_name, split.num_features, 10, 32 if model_name == "mlp" else 256, 0)
    batch = train.one_per_class(split.y_train, 10)
    step_model = model
    loss = nn.cross_entropy(step_model(Tensor(split.X_train[batch], name="X")), split.y_train[batch])
    trace = loss.backward(trace=True)
    path = Path(trace.save_html(out / "backprop.html", image_shape=image_shape))
    return path, trace


@needs_chromium
@pytest.mark.parametrize("data,model_name,image_shape", [
    ("digits", "softmax", (8, 8)), ("digits", "mlp", (8, 8)), ("fashion-mnist", "softmax", (28, 28))])
def test_at_step_1_unknown_gradient_pictures_are_blank(data, model_name, image_shape, tmp_path):
    path, trace = training_page(data, model_name, tmp_path, image_shape)
    order = trace.tensors()
    unknown = [f"t{i}" for i, t in enumerate(order) if t is not trace.root
               and trace.grad_at(t, 0).value is None and trace.grad_at(t).value is not None
               and not is_small(trace.grad_at(t).value)]           # drawn as pictures
    assert len(unknown) >= 3                                        # ∂L/∂W, ∂L/∂b, ∂L/∂XW at least
    first = blank_report(path, unknown, 1, tmp_path)
    last = blank_report(path, unknown, len(trace), tmp_path)
    for node in unknown:
        assert first[node] is not None and last[node] is not None, node
        # at step 1 no colour at all, and faded; at the last step the picture is there
        assert set(first[node]["fills"]) <= BLANK_FILLS, (node, first[node]["fills"][:5])
        assert first[node]["opacity"] < 1
        assert len(set(last[node]["fills"]) - BLANK_FILLS) >= 2 and last[node]["opacity"] == 1


# ---- the terminal stepper at 80 × 24 ----

def stepped_through(args: list[str], rows: int = 24, cols: int = 80) -> str:
    """The stepper's output in a rows × cols terminal, a key pressed whenever it waits."""
    last_key = 0.0

    def key_when_waiting(output: bytes, quiet: bool) -> bytes | None:
        nonlocal last_key
        if quiet and time.time() - last_key > 0.5:  # quiet: the stepper waits for a key
            last_key = time.time()
            return b" "
        return None

    return run_in_pty(args, key_when_waiting, size=(rows, cols), timeout=90)[0]


def screens(output: str) -> list[str]:
    """What each clear-screen starts: the text shown on the screen until the next clear."""
    parts = re.split(r"\x1b\[2J", output)
    plain = [re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", p).replace("\r", "") for p in parts]
    return [p for p in plain if p.strip()]


@pytest.mark.parametrize("lang,header", [("en", "step {k} of 3"), ("zh", "第 {k} 步（共 3 步）")])
def test_the_terminal_stepper_fits_80x24_at_every_step(lang, header):
    shown = screens(stepped_through(["step", "--lang", lang]))
    for text in shown:
        lines = text.rstrip("\n").split("\n")
        assert len(lines) <= 24, f"{len(lines)} lines:\n{text}"
    for k in (1, 2, 3):   # each step's header is on a screen of its own, at its top
        (screen,) = [s for s in shown if header.format(k=k) in s]
        assert header.format(k=k) in screen.lstrip("\n").split("\n")[0]
    # the result table gets a screen of its own after the last step
    assert "Xᵀ(ŷ − y)/n" in shown[-1] and header.format(k=3) not in shown[-1]
