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
from .formatting import is_small, matrix_rows, summary
from .i18n import Messages, edge_title, messages, shape_text, step_header, summed_note

if TYPE_CHECKING:
    from .tracing import BackwardTrace, EdgeView, StepView

_esc = html.escape


def asset(name: str) -> str:
    return resources.files("tinygrad_sm").joinpath("assets", name).read_text(encoding="utf-8")


def matrix_html(a: np.ndarray, t: Messages | None = None) -> str:
    """A small array as an HTML table; a big one as its shape and min/max."""
    a = np.asarray(a)
    if not is_small(a):
        t = messages(t)
        return f'<p class="note">{_esc(t("page.shape", shape=shape_text(t, a.shape), summary=summary(a)))}</p>'
    rows = "".join("<tr>" + "".join(f"<td>{_esc(x)}</td>" for x in row) + "</tr>"
                   for row in matrix_rows(a))
    return f'<table class="matrix">{rows}</table>'


def _figure(caption: str, value: object, t: Messages) -> str:
    return f"<figure><figcaption>{_esc(caption)}</figcaption>{matrix_html(np.asarray(value), t)}</figure>"


def _edge_html(edge: EdgeView, t: Messages) -> str:
    if edge.contribution is None:
        return f'<p class="note">{_esc(t("page.no_grad", name=edge.name))}</p>'
    numbers = [_figure(symbol, value, t) for symbol, value in edge.operands]
    numbers.append(_figure(edge_title(t, edge), edge.contribution, t))
    parts = [f'<p class="rule">{_esc(edge.rule)}</p>',
             f'<div class="numbers">{"".join(numbers)}</div>']
    if edge.summed_note:
        parts += [f'<p class="note">{_esc(t("page.summed", note=summed_note(t, edge)))}</p>',
                  matrix_html(edge.local_grad, t)]
    if edge.terms > 1:
        after = edge.after
        state = (t("page.whole") if after.complete
                 else t("page.terms_so_far", known=after.terms_known, terms=after.terms))
        parts.append(f'<p class="note">{_esc(t("page.after", name=edge.name, state=state))}</p>')
        parts.append(matrix_html(after.value, t))
    return "".join(parts)


def panel_html(view: StepView, hidden: bool = False, lang: str | Messages | None = None) -> str:
    """The numbers of one step: its upstream gradient, then each input's rule and contribution."""
    t = messages(lang)
    head = (f"<h2>{_esc(t('page.step', index=view.index, op=view.op))}</h2>"
            f"<p>{_esc(t('panel.forward', formula=view.formula))}</p>"
            f'<p class="rule">{_esc(t("page.upstream", name=view.output_name, shape=shape_text(t, view.grad_output.shape)))}</p>'
            f"{matrix_html(view.grad_output, t)}")
    groups = [head] + [_edge_html(edge, t) for edge in view.edges]
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


def _title(trace: BackwardTrace, t: Messages) -> str:
    return t("page.title", root=trace.label(trace.root), steps=len(trace))


def stepper_html(trace: BackwardTrace, prefix: str = "", standalone: bool = True,
                 lang: str | Messages | None = None) -> str:
    """The stepper element: controls, the diagram, the panels, its data and script.

    standalone: the page's own stepper (element ids prev/next/slider/where, ←/→ on the whole
    page, the step in the address as #step=k). Otherwise ids are scoped by prefix and the keys
    work while the stepper has the focus (several steppers on one page, as in a notebook).
    lang: the language of its words, "zh" or "en" (default: $TINYGRAD_SM_LANG, else English);
    the diagram keeps names and mathematics. The script's own words come in its data ("text").
    """
    if len(trace) == 0:
        raise ValueError("save_html: the trace has no steps (the root was not made by an op)")
    t = messages(lang)
    svg = viz.render_bytes(viz.draw(trace.root, trace=trace), "svg", what="the stepper's diagram")
    last = len(trace) - 1

    def control(role: str) -> str:
        return f'id="{role}" data-role="{role}"' if standalone else f'data-role="{role}"'

    panels = "".join(panel_html(trace.view(k), hidden=bool(k), lang=t) for k in range(len(trace)))
    data = dict(frame_data(trace), text=t.prefix("script."))
    data = json.dumps(data, ensure_ascii=False).replace("</", "<\\/")
    where = t("step.header", index=0, count=len(trace), op=trace[0].op)
    return f"""<div class="tg-stepper" data-prefix="{_esc(prefix)}" data-hash="{int(standalone)}" lang="{t("page.html_lang")}" tabindex="0">
<header>
<h1>{_esc(_title(trace, t))}</h1>
<button {control("prev")} title="{_esc(t("page.prev_title"))}">{_esc(t("page.prev"))}</button>
<input {control("slider")} class="slider" type="range" min="0" max="{last}" value="0" aria-label="{_esc(t("page.slider"))}">
<button {control("next")} title="{_esc(t("page.next_title"))}">{_esc(t("page.next"))}</button>
<output {control("where")}>{_esc(where)}</output>
<span>{t("page.keys", keys="<kbd>←</kbd> <kbd>→</kbd>")}</span>
</header>
<main>
<div class="diagram">{_inline_svg(svg, prefix)}</div>
{panels}
</main>
<script type="application/json" class="tg-frames">{data}</script>
</div>"""


def page_html(trace: BackwardTrace, lang: str | Messages | None = None) -> str:
    t = messages(lang)
    title = _title(trace, t)
    return f"""<!DOCTYPE html>
<html lang="{t("page.html_lang")}">
<head>
<meta charset="utf-8">
<title>{_esc(title)}</title>
<style>body {{ margin: 0; }}
{asset("stepper.css")}</style>
</head>
<body data-step="0">
{stepper_html(trace, lang=t)}
<script>{asset("stepper.js")}</script>
</body>
</html>
"""


def save_html(trace: BackwardTrace, path: str | os.PathLike,
              lang: str | Messages | None = None) -> str:
    """Write the stepper page for trace to path and return the path.

    lang: "zh" or "en" (default: $TINYGRAD_SM_LANG, else English)."""
    path = os.fspath(path)
    text = page_html(trace, lang)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path
