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

from . import pictures, viz
from .formatting import format_number, is_small, matrix_rows
from .i18n import Messages, edge_title, messages, shape_text, summed_note, value_lines

if TYPE_CHECKING:
    from .tracing import BackwardTrace, EdgeView, StepView


_esc = html.escape


def asset(name: str) -> str:
    return resources.files("tinygrad_sm").joinpath("assets", name).read_text(encoding="utf-8")


def matrix_html(a: np.ndarray, title: str = "", image_shape: tuple[int, int] | None = None,
                lang: str | Messages | None = None) -> str:
    """A small array as an HTML table; a big one as a picture (per-class images when an axis
    holds image_shape's pixels; block means past pictures.PAGE_MAX_CELLS) with a pointer readout."""
    a = np.asarray(a)
    if a.size == 0:                                    # "(0, 5): empty": nothing to picture
        return f'<p class="matrix">{_esc(" ".join(value_lines(messages(lang), a)))}</p>'
    if not is_small(a) and a.dtype.kind in "biuf":
        if image_shape is not None and pictures.as_images(a, image_shape) is not None:
            return pictures.class_images_html(a, title, image_shape, lang=lang)
        return pictures.heatmap_html(a, title, lang=lang)
    rows = "".join("<tr>" + "".join(f"<td>{_esc(x)}</td>" for x in row) + "</tr>"
                   for row in matrix_rows(a))
    return f'<table class="matrix">{rows}</table>'


def figure_html(caption: str, value: object, image_shape: tuple[int, int] | None = None,
                lang: str | Messages | None = None) -> str:
    """A captioned array: a table when small, else its picture (which carries the caption)."""
    a = np.asarray(value)
    if not is_small(a):
        return matrix_html(a, caption, image_shape, lang)  # a <figure> with its own caption
    return f"<figure><figcaption>{_esc(caption)}</figcaption>{matrix_html(a)}</figure>"


def _edge_html(edge: EdgeView, image_shape: tuple[int, int] | None, t: Messages) -> str:
    if edge.contribution is None:
        return f'<p class="note">{_esc(t("page.no_grad", name=edge.name))}</p>'
    numbers = [figure_html(symbol, value, image_shape, t) for symbol, value in edge.operands]
    numbers.append(figure_html(edge_title(t, edge), edge.contribution, image_shape, t))
    parts = [f'<p class="rule">{_esc(edge.rule)}</p>',
             f'<div class="numbers">{"".join(numbers)}</div>']
    if summed_note(t, edge):
        local = t("page.local", shape=shape_text(t, np.shape(edge.local_grad)))
        parts += [f'<p class="note">{_esc(t("page.summed", note=summed_note(t, edge)))}</p>',
                  matrix_html(edge.local_grad, local, image_shape, t)]
    if edge.terms > 1:
        after = edge.after
        state = (t("page.whole") if after.complete
                 else t("page.terms_so_far", known=after.terms_known, terms=after.terms))
        parts.append(f'<p class="note">{_esc(t("page.after", grad=edge.grad, state=state))}</p>')
        parts.append(matrix_html(after.value, edge.grad, image_shape, t))
    return "".join(parts)


def panel_html(view: StepView, hidden: bool = False, image_shape: tuple[int, int] | None = None,
               extra: str = "", lang: str | Messages | None = None) -> str:
    """The numbers of one step: its upstream gradient, then each input's rule and contribution
    (extra: more HTML at the end, e.g. the closed-form check). lang: "zh" or "en" (default:
    $TINYGRAD_SM_LANG, else English)."""
    t = messages(lang)
    upstream = f"∂{view.root_name}/∂{view.output_name}"
    head = (f"<h2>{_esc(t('page.step', index=view.index + 1, op=view.op))}</h2>"
            f"<p>{_esc(t('panel.forward', formula=view.formula))}</p>"
            f'<p class="rule">{_esc(t("page.upstream", root=view.root_name, name=view.output_name, shape=shape_text(t, view.grad_output.shape)))}</p>'
            f"{matrix_html(view.grad_output, upstream, image_shape, t)}")
    groups = [head] + [_edge_html(edge, image_shape, t) for edge in view.edges]
    if extra:
        groups.append(extra)
    body = "".join(f"<div>{group}</div>" for group in groups)
    return f'<section class="panel" data-step="{view.index + 1}"{" hidden" if hidden else ""}>{body}</section>'


# ---- softmax regression's closed form, beside the engine's numbers ----

def softmax_regression(trace: BackwardTrace) -> dict | None:
    """The parts of L = cross_entropy(X @ W + b, y) when trace's graph is softmax regression:
    the root is made by cross_entropy, whose logits come from an add of (matmul of (X, W), b).
    Returns the steps and arrays the closed form needs, or None for any other graph."""
    root = trace.root
    ce = next((s for s in trace if s.output is root and s.op == "cross_entropy"), None)
    if ce is None:
        return None
    o = ce.inputs[0]
    if o.op is None or o.op.name != "add":
        return None
    xw = o.inputs[0]
    if xw.op is None or xw.op.name != "matmul":
        return None
    X, W = xw.inputs
    matmul = next((s for s in trace if s.output is xw), None)
    if matmul is None or not W.requires_grad or X.requires_grad or W.ndim != 2:
        return None
    logits_value, target_value = ce.values  # the forward's arrays
    logits, target = np.asarray(logits_value, dtype=np.float64), np.asarray(target_value)
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    y_hat = e / e.sum(axis=1, keepdims=True)
    y = np.eye(logits.shape[1])[target] if target.dtype.kind in "iu" else target.astype(np.float64)
    n = logits.shape[0]
    x_value = np.asarray(matmul.values[0], dtype=np.float64)
    return {"ce": ce.index, "matmul": matmul.index, "W": W, "n": n, "y_hat": y_hat, "y": y,
            "closed_form": x_value.T @ (y_hat - y) / n}


def _check_html(parts: dict, step: int, trace: BackwardTrace, image_shape: tuple[int, int] | None,
                t: Messages | None = None) -> str:
    """At the cross-entropy step: ŷ, y and ŷ − y; at the matmul step: ∂L/∂W next to Xᵀ(ŷ − y)/n."""
    t = messages(t)
    if step == parts["ce"]:
        n = parts["n"]
        return (f'<p class="rule">{_esc(t("page.as_pictures", n=n))}</p><div class="numbers">'
                + pictures.heatmap_html(parts["y_hat"], "ŷ = softmax(o)", lang=t)
                + pictures.heatmap_html(parts["y"], t("page.one_hot"), lang=t)
                + pictures.heatmap_html(parts["y_hat"] - parts["y"], "ŷ − y", lang=t) + "</div>")
    if step == parts["matmul"]:
        W = parts["W"]
        engine = trace.grad_at(W, len(trace) - 1).value
        if engine is None:
            return ""
        name = trace.label(W)
        difference = float(np.max(np.abs(np.asarray(engine, dtype=np.float64) - parts["closed_form"])))
        return (f'<p class="rule">{_esc(t("page.check", root=trace.root_label(), name=name))}</p><div class="numbers check">'
                + matrix_html(engine, t("page.engine", root=trace.root_label(), name=name), image_shape, t)
                + matrix_html(parts["closed_form"], "Xᵀ(ŷ − y)/n", image_shape, t)
                + f'</div><p class="note difference">'
                f'{_esc(t("page.difference", difference=format_number(difference)))}</p>')
    return ""


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


def diagram_frames(trace: BackwardTrace, prefix: str, image_shape: tuple[int, int] | None,
                   t: Messages) -> str:
    """The diagram once per step, each showing the gradients known after that step and no more
    (a sum so far, a blank where backprop has not been); the script shows the current one.
    The frames share one layout; their ids are scoped by prefix + "s<step number>-"."""
    frames = []
    for k in range(len(trace)):
        scope = f"{prefix}s{k + 1}-"
        diagram = viz.draw(trace.root, trace=trace, image_shape=image_shape, lang=t, known_at=k)
        svg = viz.render_bytes(diagram, "svg", what=f"the stepper's diagram at step {k + 1}")
        frames.append(f'<div class="frame" data-frame="{k + 1}" data-prefix="{_esc(scope)}"'
                      f'{" hidden" if k else ""}>{_inline_svg(svg, scope)}</div>')
    return "".join(frames)


def _title(trace: BackwardTrace, t: Messages) -> str:
    return t("page.title", root=trace.label(trace.root), steps=len(trace))


def stepper_html(trace: BackwardTrace, prefix: str = "", standalone: bool = True,
                 image_shape: tuple[int, int] | None = None,
                 lang: str | Messages | None = None) -> str:
    """The stepper element: controls, the diagram, the panels, its data and script.

    standalone: the page's own stepper (element ids prev/next/slider/where, ←/→ on the whole
    page, the step in the address as #step=k). Otherwise ids are scoped by prefix and the keys
    work while the stepper has the focus (several steppers on one page, as in a notebook).
    image_shape=(h, w): tensors with an axis of h·w features are shown as images (see viz.draw).
    lang: the language of its words and the diagram's, "zh" or "en" (default: $TINYGRAD_SM_LANG,
    else English). The script's own words come in its data ("text").
    """
    if len(trace) == 0:
        raise ValueError("save_html: the trace has no steps (the root was not made by an op)")
    t = messages(lang)
    count = len(trace)

    def control(role: str) -> str:
        return f'id="{role}" data-role="{role}"' if standalone else f'data-role="{role}"'

    parts = softmax_regression(trace)
    panels = "".join(panel_html(trace.view(k), bool(k), image_shape,
                                _check_html(parts, k, trace, image_shape, t) if parts else "", t)
                     for k in range(len(trace)))
    data = dict(frame_data(trace), text=t.prefix("script."))
    data = script_json(data)
    where = t("step.header", index=1, count=len(trace), op=trace[0].op)
    return f"""<div class="tg-stepper" data-prefix="{_esc(prefix)}" data-hash="{int(standalone)}" lang="{t("page.html_lang")}" tabindex="0">
<header>
<h1>{_esc(_title(trace, t))}</h1>
<button {control("prev")} title="{_esc(t("page.prev_title"))}">{_esc(t("page.prev"))}</button>
<input {control("slider")} class="slider" type="range" min="1" max="{count}" value="1" aria-label="{_esc(t("page.slider"))}">
<button {control("next")} title="{_esc(t("page.next_title"))}">{_esc(t("page.next"))}</button>
<output {control("where")}>{_esc(where)}</output>
<span>{t("page.keys", keys="<kbd>←</kbd> <kbd>→</kbd>")}</span>
<span class="zoom"><button data-role="zoom-out" title="{_esc(t("page.zoom_out"))}">−</button>
<output data-role="zoom">100%</output>
<button data-role="zoom-in" title="{_esc(t("page.zoom_in"))}">+</button>
<button data-role="zoom-fit" title="{_esc(t("page.fit_title"))}">{_esc(t("page.fit"))}</button>
<button data-role="zoom-reset" title="100 %">1:1</button></span>
</header>
<main>
<div class="diagram">{diagram_frames(trace, prefix, image_shape, t)}</div>
{panels}
</main>
<script type="application/json" class="tg-frames">{data}</script>
</div>"""


def script_json(data: object) -> str:
    """JSON safe inside a <script> element: no "<" at all (so no "</script>", "<!--" or
    "<script" can end or change the element), and no ">" or "&" either; JSON.parse reads the
    \\u escapes back as the same characters."""
    text = json.dumps(data, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def page_html(trace: BackwardTrace, image_shape: tuple[int, int] | None = None,
              lang: str | Messages | None = None) -> str:
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
{stepper_html(trace, image_shape=image_shape, lang=t)}
<script>{asset("stepper.js")}</script>
</body>
</html>
"""


def save_html(trace: BackwardTrace, path: str | os.PathLike,
              image_shape: tuple[int, int] | None = None, lang: str | Messages | None = None) -> str:
    """Write the stepper page for trace to path and return the path.

    lang: "zh" or "en" (default: $TINYGRAD_SM_LANG, else English)."""
    path = os.fspath(path)
    text = page_html(trace, image_shape, lang)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path
