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

from . import fonts, pictures, predict_page, viz
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
        if pictures.unit_images(a, image_shape) is not None:   # an MLP's W1: one image a unit
            return pictures.unit_images_html(a, title, image_shape, lang=lang)
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


def _number_html(caption: str, value: object, image_shape: tuple[int, int] | None, t: Messages,
                 shown: set[str]) -> str:
    """A rule's number; a picture the panel shows already (the upstream gradient, ∂L/∂W in the
    check) is named, not drawn twice."""
    if caption in shown and not is_small(np.asarray(value)):
        return f'<p class="note shown">{_esc(t("page.shown_above", name=caption))}</p>'
    return figure_html(caption, value, image_shape, t)


def _caption(symbol: str, value: object, edge: EdgeView, view: StepView, t: Messages) -> str:
    """cross_entropy's y is plugged in as the one-hot matrix the formula means: say so."""
    target = view.edges[-1] if view.op == "cross_entropy" else None
    if target is not None and symbol == target.name and np.shape(value) != target.input.shape:
        return t("page.one_hot")
    return symbol


def answer_html(name: str, body: str) -> str:
    """Predict mode: part of the answer for name's gradient, hidden until the learner answers."""
    return f'<div class="tg-answer" data-q="{_esc(name)}">{body}</div>' if body else ""


def _edge_html(edge: EdgeView, image_shape: tuple[int, int] | None, t: Messages,
               view: StepView, shown: set[str], predict: bool = False) -> str:
    """An input's rule, its numbers and what it gets. predict: the rule and what it gets are
    wrapped as the answer (the operands to plug in stay shown)."""
    if edge.contribution is None:
        return f'<p class="note">{_esc(t("page.no_grad", name=edge.name))}</p>'
    hide = (lambda body: answer_html(edge.name, body)) if predict else (lambda body: body)
    numbers = [_number_html(_caption(symbol, value, edge, view, t), value, image_shape, t, shown)
               for symbol, value in edge.operands]
    numbers.append(hide(_number_html(edge_title(t, edge), edge.contribution, image_shape, t, shown)))
    parts = [hide(f'<p class="rule">{_esc(edge.rule)}</p>'),
             f'<div class="numbers">{"".join(numbers)}</div>']
    if summed_note(t, edge):
        local = t("page.local", shape=shape_text(t, np.shape(edge.local_grad)))
        parts.append(hide(f'<p class="note">{_esc(t("page.summed", note=summed_note(t, edge)))}</p>'
                          + matrix_html(edge.local_grad, local, image_shape, t)))
    if edge.terms > 1:
        after = edge.after
        state = (t("page.whole") if after.complete
                 else t("page.terms_so_far", known=after.terms_known, terms=after.terms))
        parts.append(hide(f'<p class="note">{_esc(t("page.after", grad=edge.grad, state=state))}</p>'
                          + matrix_html(after.value, edge.grad, image_shape, t)))
    return "".join(parts)


def panel_html(view: StepView, hidden: bool = False, image_shape: tuple[int, int] | None = None,
               extra: str = "", lang: str | Messages | None = None, lead: str = "",
               shown: set[str] | None = None, predict: bool = False) -> str:
    """The numbers of one step: its upstream gradient, then each input's rule and contribution.
    lead: HTML right under the step's title, the point of the step (the closed-form check);
    shown: the captions of pictures lead draws (named, not drawn again, below); extra: more
    HTML at the end. Each picture appears once. lang: "zh" or "en" (default:
    $TINYGRAD_SM_LANG, else English). predict: each input's rule and gradient are wrapped as
    answers to hide (predict_page.py)."""
    t = messages(lang)
    upstream = f"∂{view.root_name}/∂{view.output_name}"
    shown = set(shown or ())
    title = (f"<h2>{_esc(t('page.step', index=view.index + 1, op=view.op))}</h2>"
             f"<p>{_esc(t('panel.forward', formula=view.formula))}</p>")
    head = (f'<p class="rule">{_esc(t("page.upstream", root=view.root_name, name=view.output_name, shape=shape_text(t, view.grad_output.shape)))}</p>'
            f"{matrix_html(view.grad_output, upstream, image_shape, t)}")
    shown.add(upstream)
    groups = [head] + [_edge_html(edge, image_shape, t, view, shown, predict) for edge in view.edges]
    if extra:
        groups.append(extra)
    body = f'<div class="title">{title}</div>'
    if lead:
        body += f'<div class="lead">{lead}</div>'
    body += "".join(f"<div>{group}</div>" for group in groups)
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
    return {"ce": ce.index, "matmul": matmul.index, "W": W, "n": n, "y_hat": y_hat, "y": y,
            "closed_form": _xt_times(matmul.values[0], y_hat - y) / n}


def _xt_times(x: np.ndarray, d: np.ndarray, rows: int = 2048) -> np.ndarray:
    """xᵀ d in float64, a block of rows at a time: no float64 copy of a whole batch x."""
    if np.ndim(x) != 2:
        return np.asarray(x, dtype=np.float64).T @ d
    return sum((np.asarray(x[i:i + rows], dtype=np.float64).T @ d[i:i + rows]
                for i in range(0, len(x), rows)), np.zeros((x.shape[1], d.shape[1])))


def _check_html(parts: dict, step: int, trace: BackwardTrace, image_shape: tuple[int, int] | None,
                t: Messages | None = None) -> tuple[str, set[str]]:
    """The matmul step's point, for the top of its panel: ∂L/∂W as enlarged per-class images
    beside Xᵀ(ŷ − y)/n, their difference and how to read them. Returns (HTML, the caption of
    the picture it draws, which the panel then only names). Other steps: ("", set())."""
    t = messages(t)
    if step != parts["matmul"]:
        return "", set()
    W = parts["W"]
    engine = trace.grad_at(W, step).value
    if engine is None:
        return "", set()
    root, name = trace.root_label(), trace.label(W)
    grad = f"∂{root}/∂{name}"
    difference = float(np.max(np.abs(np.asarray(engine, dtype=np.float64) - parts["closed_form"])))
    figures = "".join(_enlarged(value, caption, image_shape, t) for value, caption in
                      ((engine, t("page.engine", root=root, name=name)),
                       (parts["closed_form"], "Xᵀ(ŷ − y)/n")))
    html_text = (f'<p class="guide">{_esc(t("page.guide"))}</p>'
                 f'<p class="rule">{_esc(t("page.check", root=root, name=name))}</p>'
                 f'<div class="numbers check">{figures}</div><p class="note difference">'
                 f'{_esc(t("page.difference", difference=format_number(difference)))}</p>')
    return html_text, {grad}


def _enlarged(a: np.ndarray, caption: str, image_shape: tuple[int, int] | None, t: Messages) -> str:
    """Per-class images as large as two fit side by side in a 1280 px window."""
    found = pictures.as_images(a, image_shape) if image_shape is not None else None
    if found is None:
        return figure_html(caption, a, image_shape, t)
    images, _ = found
    cell = max(1, min(8, 580 // (len(images) * (image_shape[1] + pictures.GAP))))
    return pictures.class_images_html(a, caption, image_shape, cell=cell, lang=t)


def _inline_svg(svg: bytes, prefix: str) -> str:
    """The SVG element alone (no XML prolog or DOCTYPE), its ids made unique with prefix."""
    text = svg.decode("utf-8")
    text = text[text.index("<svg"):]
    return re.sub(r'\bid="', f'id="{prefix}', text) if prefix else text


def frame_data(trace: BackwardTrace) -> dict:
    """What the script needs to restyle the diagram for step k: when each op runs, when each
    gradient gets its first term and its last, and what to bring into view at each step (the
    op, its backward edges, the tensors they reach). Linear in the graph's size."""
    ids = {id(t): i for i, t in enumerate(trace.tensors())}
    ops, edges, grads, focus = {}, {}, {}, []
    for step in trace:
        i = ids[id(step.output)]
        ops[f"op{i}"] = step.index
        focus.append([f"op{i}"])
        for position, g in enumerate(step.grad_inputs):
            if g is not None:
                edges[f"b{i}_{position}"] = step.index
                focus[-1] += [f"b{i}_{position}", f"t{ids[id(step.inputs[position])]}"]
    for t in trace.tensors():
        terms = trace.contributions(t)
        if t is trace.root:
            grads[f"t{ids[id(t)]}_grad"] = [-1, -1]
        elif terms:
            grads[f"t{ids[id(t)]}_grad"] = [terms[0][0].index, terms[-1][0].index]
    return {"steps": len(trace), "ops": ops, "edges": edges, "grads": grads, "focus": focus,
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
                 lang: str | Messages | None = None, note: str | None = None,
                 predict: bool = False) -> str:
    """The stepper element: controls, the diagram, the panels, its data and script.

    standalone: the page's own stepper (element ids prev/next/slider/where, ←/→ on the whole
    page, the step in the address as #step=k). Otherwise ids are scoped by prefix and the keys
    work while the stepper has the focus (several steppers on one page, as in a notebook).
    image_shape=(h, w): tensors with an axis of h·w features are shown as images (see viz.draw).
    lang: the language of its words and the diagram's, "zh" or "en" (default: $TINYGRAD_SM_LANG,
    else English). The script's own words come in its data ("text"). predict: each step's
    gradients are hidden until the learner answers (predict_page.py; needs assets/predict.js).
    """
    if len(trace) == 0:
        raise ValueError("save_html: the trace has no steps (the root was not made by an op)")
    t = messages(lang)
    count = len(trace)

    def control(role: str) -> str:
        return f'id="{role}" data-role="{role}"' if standalone else f'data-role="{role}"'

    parts = softmax_regression(trace)
    asked = predict_page.predict_data(trace, t) if predict else None
    panels = []
    for k in range(len(trace)):
        lead, shown = _check_html(parts, k, trace, image_shape, t) if parts else ("", set())
        if asked:  # the questions first; the closed-form check shows ∂L/∂W: an answer
            lead = predict_page.forms_html(asked["steps"][k], t) + (
                answer_html(trace.label(parts["W"]), lead) if lead else "")
        panels.append(panel_html(trace.view(k), bool(k), image_shape, lang=t, lead=lead, shown=shown,
                                 predict=predict))
    panels = "".join(panels)
    data = dict(frame_data(trace), text=t.prefix("script."))
    data = script_json(data)
    where = t("step.header", index=1, count=len(trace), op=trace[0].op)
    score, asked_json = "", ""
    if asked:
        score = f'\n<output data-role="score" class="tg-score">{_esc(t("predict.page.start"))}</output>'
        asked_json = f'\n<script type="application/json" class="tg-predict-data">{script_json(asked)}</script>'
    return f"""<div class="tg-stepper{" tg-predict" if predict else ""}" data-prefix="{_esc(prefix)}" data-hash="{int(standalone)}" lang="{t("page.html_lang")}" tabindex="0">
<header>
<h1>{_esc(_title(trace, t))}</h1>{f'<span class="note">{_esc(note)}</span>' if note else ""}
<button {control("prev")} title="{_esc(t("page.prev_title"))}">{_esc(t("page.prev"))}</button>
<input {control("slider")} class="slider" type="range" min="1" max="{count}" value="1" aria-label="{_esc(t("page.slider"))}">
<button {control("next")} title="{_esc(t("page.next_title"))}">{_esc(t("page.next"))}</button>
<output {control("where")}>{_esc(where)}</output>
<span>{t("page.keys", keys="<kbd>←</kbd> <kbd>→</kbd>")}</span>
<span class="zoom"><button data-role="zoom-out" title="{_esc(t("page.zoom_out"))}">−</button>
<output data-role="zoom">100%</output>
<button data-role="zoom-in" title="{_esc(t("page.zoom_in"))}">+</button>
<button data-role="zoom-fit" title="{_esc(t("page.fit_title"))}">{_esc(t("page.fit"))}</button>
<button data-role="zoom-reset" title="100 %">1:1</button></span>{score}
</header>
<main>
<div class="diagram">{diagram_frames(trace, prefix, image_shape, t)}</div>
{panels}
</main>
<script type="application/json" class="tg-frames">{data}</script>{asked_json}
</div>"""


def script_json(data: object) -> str:
    """JSON safe inside a <script> element: no "<" at all (so no "</script>", "<!--" or
    "<script" can end or change the element), and no ">" or "&" either; JSON.parse reads the
    \\u escapes back as the same characters."""
    text = json.dumps(data, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def page_html(trace: BackwardTrace, image_shape: tuple[int, int] | None = None,
              lang: str | Messages | None = None, note: str | None = None,
              predict: bool = False) -> str:
    t = messages(lang)
    title = _title(trace, t)
    return fonts.with_cjk_font(f"""<!DOCTYPE html>
<html lang="{t("page.html_lang")}">
<head>
<meta charset="utf-8">
<title>{_esc(title)}</title>
<style>body {{ margin: 0; }}
{asset("stepper.css")}</style>
</head>
<body data-step="0">
{stepper_html(trace, image_shape=image_shape, lang=t, note=note, predict=predict)}
<script>{asset("stepper.js")}</script>{scripts(predict)}
</body>
</html>
""")


def scripts(predict: bool) -> str:
    """Predict mode's script (and styles), after stepper.js; nothing otherwise."""
    if not predict:
        return ""
    return f'<style>{asset("predict.css")}</style><script>{asset("predict.js")}</script>'


def save_html(trace: BackwardTrace, path: str | os.PathLike,
              image_shape: tuple[int, int] | None = None, lang: str | Messages | None = None,
              note: str | None = None, predict: bool = False) -> str:
    """Write the stepper page for trace to path and return the path.

    lang: "zh" or "en" (default: $TINYGRAD_SM_LANG, else English). note: a line beside the
    title, e.g. what the pass is of (the catalogue's page.initial_weights for a training page).
    predict: predict mode, each step's gradients hidden until the learner answers them."""
    path = os.fspath(path)
    text = page_html(trace, image_shape, lang, note, predict)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path
