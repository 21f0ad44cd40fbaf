"""The HTML stepper: `trace.save_html(path)` writes one self-contained page for a backward pass.

The diagram is rendered once (every gradient of the pass, every rule on its edge); the page's
script restyles it for step k (the active op, the gradients known so far) and shows step k's
panel, written here from `trace.view(k)`. The CSS and script are package files (assets/).
No network, no external files: it works opened straight from disk (file://...#step=2).
"""
from __future__ import annotations

import html
import json
import os
import re
from importlib import resources
from typing import TYPE_CHECKING

import numpy as np

from . import viz
from .formatting import is_small, matrix_rows, shape_text, summary

if TYPE_CHECKING:
    from .tracing import BackwardTrace, EdgeView, StepView

_esc = html.escape


def asset(name: str) -> str:
    return resources.files("tinygrad_sm").joinpath("assets", name).read_text(encoding="utf-8")


def matrix_html(a: np.ndarray) -> str:
    """A small array as an HTML table; a big one as its shape and min/max."""
    a = np.asarray(a)
    if not is_small(a):
        return f'<p class="note">shape {shape_text(a.shape)}: {_esc(summary(a))}</p>'
    rows = "".join("<tr>" + "".join(f"<td>{_esc(x)}</td>" for x in row) + "</tr>"
                   for row in matrix_rows(a))
    return f'<table class="matrix">{rows}</table>'


def _figure(caption: str, value: object) -> str:
    return f"<figure><figcaption>{_esc(caption)}</figcaption>{matrix_html(np.asarray(value))}</figure>"


def _edge_html(edge: EdgeView) -> str:
    if edge.contribution is None:
        return f'<p class="note">{_esc(edge.name)}: no gradient needed (it does not require grad)</p>'
    numbers = [_figure(symbol, value) for symbol, value in edge.operands]
    numbers.append(_figure(edge.title, edge.contribution))
    parts = [f'<p class="rule">{_esc(edge.rule)}</p>',
             f'<div class="numbers">{"".join(numbers)}</div>']
    if edge.summed_note:
        parts += [f'<p class="note">{_esc(edge.summed_note)}: the sum of the local gradient</p>',
                  matrix_html(edge.local_grad)]
    if edge.terms > 1:
        after = edge.after
        state = ("the whole gradient" if after.complete
                 else f"{after.terms_known} of {after.terms} terms so far")
        parts.append(f'<p class="note">∂L/∂{_esc(edge.name)} after this step ({state}):</p>')
        parts.append(matrix_html(after.value))
    return "".join(parts)


def panel_html(view: StepView, hidden: bool = False) -> str:
    """The numbers of one step: its upstream gradient, then each input's rule and contribution."""
    head = (f"<h2>Step {view.index}: {_esc(view.op)}</h2><p>forward: {_esc(view.formula)}</p>"
            f'<p class="rule">upstream gradient ∂L/∂{_esc(view.output_name)} '
            f"{shape_text(view.grad_output.shape)}</p>{matrix_html(view.grad_output)}")
    groups = [head] + [_edge_html(edge) for edge in view.edges]
    body = "".join(f"<div>{group}</div>" for group in groups)
    return f'<section class="panel" data-step="{view.index}"{" hidden" if hidden else ""}>{body}</section>'


def _inline_svg(svg: bytes, prefix: str) -> str:
    """The SVG element alone (no XML prolog or DOCTYPE), its ids made unique with prefix."""
    text = svg.decode("utf-8")
    text = text[text.index("<svg"):]
    return re.sub(r'\bid="', f'id="{prefix}', text) if prefix else text


def frame_data(trace: BackwardTrace) -> dict:
    """What the script needs to restyle the diagram for step k: when each op runs, when each
    gradient gets its first term and its last. Linear in the graph's size."""
    ids = {id(t): i for i, t in enumerate(trace.tensors())}
    ops, edges, grads = {}, {}, {}
    for step in trace:
        i = ids[id(step.output)]
        ops[f"op{i}"] = step.index
        for position, g in enumerate(step.grad_inputs):
            if g is not None:
                edges[f"b{i}_{position}"] = step.index
    for t in trace.tensors():
        terms = trace.contributions(t)
        if t is trace.root:
            grads[f"t{ids[id(t)]}_grad"] = [-1, -1]
        elif terms:
            grads[f"t{ids[id(t)]}_grad"] = [terms[0][0].index, terms[-1][0].index]
    return {"steps": len(trace), "ops": ops, "edges": edges, "grads": grads,
            "ops_names": [step.op for step in trace]}


def stepper_html(trace: BackwardTrace, prefix: str = "", standalone: bool = True) -> str:
    """The stepper element: controls, the diagram, the panels, its data and script.

    standalone: the page's own stepper (element ids prev/next/slider/where, ←/→ on the whole
    page, the step in the address as #step=k). Otherwise ids are scoped by prefix and the keys
    work while the stepper has the focus (several steppers on one page, as in a notebook).
    """
    if len(trace) == 0:
        raise ValueError("save_html: the trace has no steps (the root was not made by an op)")
    svg = viz.render_bytes(viz.draw(trace.root, trace=trace), "svg", what="the stepper's diagram")
    last = len(trace) - 1
    title = f"Backprop through {trace.label(trace.root)}: {len(trace)} steps"

    def control(role: str) -> str:
        return f'id="{role}" data-role="{role}"' if standalone else f'data-role="{role}"'

    panels = "".join(panel_html(trace.view(k), hidden=bool(k)) for k in range(len(trace)))
    data = json.dumps(frame_data(trace), ensure_ascii=False).replace("</", "<\\/")
    return f"""<div class="tg-stepper" data-prefix="{_esc(prefix)}" data-hash="{int(standalone)}" tabindex="0">
<header>
<h1>{_esc(title)}</h1>
<button {control("prev")} title="previous step (←)">◀ previous</button>
<input {control("slider")} class="slider" type="range" min="0" max="{last}" value="0" aria-label="step">
<button {control("next")} title="next step (→)">next ▶</button>
<output {control("where")}>step 0 of {len(trace)}: {_esc(trace[0].op)}</output>
<span><kbd>←</kbd> <kbd>→</kbd> keys step</span>
</header>
<main>
<div class="diagram">{_inline_svg(svg, prefix)}</div>
{panels}
</main>
<script type="application/json" class="tg-frames">{data}</script>
</div>"""


def page_html(trace: BackwardTrace) -> str:
    title = f"Backprop through {trace.label(trace.root)}: {len(trace)} steps"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{_esc(title)}</title>
<style>body {{ margin: 0; }}
{asset("stepper.css")}</style>
</head>
<body data-step="0">
{stepper_html(trace)}
<script>{asset("stepper.js")}</script>
</body>
</html>
"""


def save_html(trace: BackwardTrace, path: str | os.PathLike) -> str:
    """Write the stepper page for trace to path and return the path."""
    path = os.fspath(path)
    text = page_html(trace)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path
