"""`trace.save_html(path)`: one self-contained HTML page that steps through a backward pass.

Every frame's SVG is inlined and every step's panel (rule, upstream gradient, contributions) is
written out in Python; the small script only shows one of them at a time. No network, no
external files: it works opened straight from disk (file://...#step=2).
"""
from __future__ import annotations

import html
import os
import re
from typing import TYPE_CHECKING

import numpy as np

from . import viz
from .trace_table import is_small, legend, matrix_rows, summary, summed_note, tensor_labels

if TYPE_CHECKING:
    from .trace import BackwardTrace, Step

_esc = html.escape

STYLE = """
[hidden] { display: none !important; }
body { font-family: system-ui, sans-serif; margin: 0; color: #263238; }
header { display: flex; gap: 1em; align-items: center; padding: .6em 1em; background: #eceff1;
         position: sticky; top: 0; }
header h1 { font-size: 1.1em; margin: 0 1em 0 0; }
#slider { flex: 1; max-width: 30em; }
main { padding: 0 1em 1em; }
.frames { overflow: auto; }
.frames svg { max-width: 100%; height: auto; }
.panel { display: flex; flex-wrap: wrap; gap: 0 2.5em; border-top: 1px solid #cfd8dc; }
.panel > div { min-width: 14em; }
.panel h2 { font-size: 1.05em; margin: .6em 0 .3em; }
.rule { font-weight: bold; color: #c62828; margin: .8em 0 .2em; }
.note { color: #6d4c41; font-size: .9em; margin: .2em 0; }
table.matrix { border-collapse: collapse; font-family: monospace; margin: .2em 0;
               border-left: 2px solid #455a64; border-right: 2px solid #455a64; }
table.matrix td { padding: .1em .5em; text-align: right; }
kbd { border: 1px solid #90a4ae; border-radius: 3px; padding: 0 .3em; }
"""

SCRIPT = """
const frames = document.querySelectorAll(".frame");
const panels = document.querySelectorAll(".panel");
const slider = document.getElementById("slider");
const prev = document.getElementById("prev"), next = document.getElementById("next");
const last = frames.length - 1;
let current = 0;

function stepFromHash() {
  const match = /step=(\\d+)/.exec(location.hash);
  return match ? Number(match[1]) : 0;
}

function show(k) {
  current = Math.max(0, Math.min(last, k));
  frames.forEach((f, i) => { f.hidden = i !== current; });
  panels.forEach((p, i) => { p.hidden = i !== current; });
  slider.value = current;
  prev.disabled = current === 0;
  next.disabled = current === last;
  document.getElementById("where").textContent = `step ${current} of 0–${last}`;
  document.body.dataset.step = current;
  const hash = "#step=" + current;
  if (location.hash !== hash) history.replaceState(null, "", hash);
}

prev.addEventListener("click", () => show(current - 1));
next.addEventListener("click", () => show(current + 1));
slider.addEventListener("input", () => show(Number(slider.value)));
document.addEventListener("keydown", (e) => {
  if (e.key === "ArrowLeft") show(current - 1);
  if (e.key === "ArrowRight") show(current + 1);
});
window.addEventListener("hashchange", () => show(stepFromHash()));
show(stepFromHash());
"""


def _matrix(a: np.ndarray) -> str:
    """A small array as an HTML table; a big one as its shape and mean/min/max."""
    a = np.asarray(a)
    if not is_small(a):
        return f'<p class="note">shape {a.shape}: {_esc(summary(a))}</p>'
    rows = "".join("<tr>" + "".join(f"<td>{_esc(x)}</td>" for x in row) + "</tr>"
                   for row in matrix_rows(a))
    return f'<table class="matrix">{rows}</table>'


def _panel(step: Step, labels: dict[int, str], hidden: bool) -> str:
    """The numbers of one step: its upstream gradient, then each input's rule and contribution."""
    out = labels[id(step.output)]
    node = step.output
    formula = node.op.describe([labels[id(x)] for x in node.inputs], out)
    head = [f"<h2>Step {step.index}: {_esc(step.op)}</h2>",
            f"<p>forward: {_esc(formula)}</p>",
            f'<p class="rule">upstream gradient ∂L/∂{_esc(out)} {step.grad_output.shape}</p>',
            _matrix(step.grad_output)]
    where = legend(node, labels)
    if where:
        head.append(f'<p class="note">in the rules, {_esc(where)}</p>')
    groups = ["".join(head)]
    for i, (x, g) in enumerate(zip(step.inputs, step.grad_inputs)):
        name = labels[id(x)]
        if g is None:
            groups.append(f'<p class="note">{_esc(name)}: no gradient needed (it does not require grad)</p>')
            continue
        parts = [f'<p class="rule">{_esc(step.rules[i])}</p>',
                 f'<p class="note">contribution to ∂L/∂{_esc(name)} {g.shape}</p>', _matrix(g)]
        note = summed_note(step, i)
        if note:
            parts += [f'<p class="note">{_esc(note)}: the sum of the local gradient</p>',
                      _matrix(step.local_grads[i])]
        groups.append("".join(parts))
    hide = " hidden" if hidden else ""
    body = "".join(f"<div>{group}</div>" for group in groups)
    return f'<section class="panel" data-step="{step.index}"{hide}>{body}</section>'


def _inline_svg(svg: bytes, k: int) -> str:
    """The SVG element alone (no XML prolog or DOCTYPE), its ids made unique per frame."""
    text = svg.decode("utf-8")
    text = text[text.index("<svg"):]
    return re.sub(r'\bid="', f'id="f{k}_', text)


def save_html(trace: BackwardTrace, path: str | os.PathLike) -> str:
    """Write the stepper page for trace to path and return the path."""
    if len(trace) == 0:
        raise ValueError("save_html: the trace has no steps (the root was not made by an op)")
    path = os.fspath(path)
    labels = tensor_labels(trace.root)
    frames, panels = [], []
    for k, step in enumerate(trace):
        svg = viz.render_bytes(viz.draw(trace.root, trace=trace, step=k), "svg", what=f"frame {k}")
        hide = " hidden" if k else ""
        frames.append(f'<div class="frame" data-step="{k}"{hide}>{_inline_svg(svg, k)}</div>')
        panels.append(_panel(step, labels, hidden=bool(k)))
    last = len(trace) - 1
    title = f"Backprop through {labels[id(trace.root)]}: {len(trace)} steps"
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{_esc(title)}</title>
<style>{STYLE}</style>
</head>
<body data-step="0">
<header>
<h1>{_esc(title)}</h1>
<button id="prev" title="previous step (←)">◀ previous</button>
<input id="slider" type="range" min="0" max="{last}" value="0" aria-label="step">
<button id="next" title="next step (→)">next ▶</button>
<output id="where">step 0 of 0–{last}</output>
<span><kbd>←</kbd> <kbd>→</kbd> keys step</span>
</header>
<main>
<div class="frames">{''.join(frames)}</div>
{''.join(panels)}
</main>
<script>{SCRIPT}</script>
</body>
</html>
"""
    with open(path, "w", encoding="utf-8") as f:
        f.write(page)
    return path
