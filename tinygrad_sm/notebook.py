"""Traces, steps and tensors that display themselves in a notebook (Jupyter, VS Code, Colab).

A cell ending in `trace` shows the inline stepper (the page's stepper element, its CSS and its
script in one HTML output: no widget, no kernel needed, so it also works in a notebook exported
by nbconvert); `trace[k]` shows step k's panel; a tensor shows its name, shape, value and
gradient. Each output scopes its element ids with its own prefix, so several steppers in one
notebook (or one VS Code webview) do not interfere. Markdown versions are the fallback for
frontends that show no HTML.
"""
from __future__ import annotations

import html
import secrets
from typing import TYPE_CHECKING

import numpy as np

from .formatting import format_value, is_small, shape_text
from .page import asset, matrix_html, panel_html, stepper_html
from .tracing import printable

if TYPE_CHECKING:
    from .tensor import Tensor
    from .tracing import BackwardTrace, Step, StepView

_esc = html.escape


def _style() -> str:
    # the page's CSS is scoped under .tg-stepper; in a notebook the header must not stick to the
    # top, and a dark theme must not put the stepper's dark text on a dark background
    return (f"<style>{asset('stepper.css')}\n"
            ".tg-stepper.tg-inline header { position: static; }\n"
            ".tg-stepper.tg-inline { background: #ffffff; }</style>")


def new_prefix() -> str:
    """A prefix for one output's ids, random so that it is unique across kernels and re-runs."""
    return f"tg{secrets.token_hex(4)}-"


def trace_html(trace: BackwardTrace, prefix: str | None = None) -> str:
    """The inline stepper: diagram, panels, ◀ ▶ and slider; ←/→ while it has the focus."""
    if len(trace) == 0:
        return f"<p>{_esc(repr(trace))}: no steps to show (the root was not made by an op)</p>"
    stepper = stepper_html(trace, prefix=prefix or new_prefix(), standalone=False)
    stepper = stepper.replace('<div class="tg-stepper"', '<div class="tg-stepper tg-inline"', 1)
    # each output carries the script: it starts every stepper on the page not started yet
    return f'<div class="tg-output">{_style()}{stepper}<script>{asset("stepper.js")}</script></div>'


def step_html(step: Step) -> str:
    """One step's panel: the rule in the graph's names, the numbers, each contribution."""
    if step.trace is None:
        return f"<p>{_esc(repr(step))}</p>"
    return _card("tg-panel", panel_html(step.trace.view(step.index)))


def _kind(t: Tensor) -> str:
    if t.op is not None:
        return f"made by {t.op.name}"
    return "parameter" if t.requires_grad else "data"


def _card(kind: str, body: str) -> str:
    """A panel or a tensor in the stepper's style; with the script when it has pictures (their
    pointer readout)."""
    script = f"<script>{asset('stepper.js')}</script>" if 'class="tg-heat"' in body else ""
    return (f'<div class="tg-output">{_style()}<div class="tg-stepper tg-inline {kind}">{body}</div>'
            f"{script}</div>")


def _figure(caption: str, a: np.ndarray) -> str:
    """Small arrays in full; large ones as a heatmap at their real size (pictures.py, via
    matrix_html), which is a captioned figure already."""
    if is_small(a):
        return f"<figure><figcaption>{_esc(caption)}</figcaption>{matrix_html(a)}</figure>"
    return matrix_html(a, caption)


def _name(t: Tensor) -> str:
    return printable(t.name) if t.name else "tensor"   # a newline in a name shows as \n


def tensor_html(t: Tensor) -> str:
    """Name, shape, kind, value and gradient of a tensor."""
    name = _name(t)
    head = (f"<p><b>{_esc(name)}</b> {shape_text(t.shape)} {_esc(str(t.dtype))}, "
            f"{_esc(_kind(t))}</p>")
    figures = [_figure(f"{name} (value)", t.data)]
    if t.grad is not None:
        figures.append(_figure(f"∂L/∂{name} (.grad)", t.grad))
    note = ('<p class="note">.grad is None (no backward has reached it yet)</p>'
            if t.grad is None and t.requires_grad else "")
    return _card("tg-tensor", f'{head}<div class="numbers">{"".join(figures)}</div>{note}')


# ---- Markdown: for frontends that show no HTML ----

def _code(lines: list[str]) -> str:
    return "```\n" + "\n".join(lines) + "\n```"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def trace_markdown(trace: BackwardTrace) -> str:
    rows = [f"**Backward from {_cell(trace.label(trace.root))}: {len(trace)} steps**", "",
            "| step | op | rule |", "|---|---|---|"]
    for k in range(len(trace)):
        view = trace.view(k)
        rules = "; ".join(e.rule for e in view.edges if e.contribution is not None)
        rows.append(f"| {k} | {_cell(view.op)} | `{_cell(rules)}` |")
    return "\n".join(rows)


def _view_markdown(view: StepView) -> str:
    parts = [f"**{view.header}** (forward: `{view.formula}`)", "",
             f"upstream gradient ∂L/∂{view.output_name}:", _code(format_value(view.grad_output))]
    for edge in view.edges:
        if edge.contribution is None:
            parts.append(f"{edge.name}: no gradient needed (data)")
            continue
        parts += [f"`{edge.rule}`", f"{edge.title}:", _code(format_value(edge.contribution))]
        if edge.summed_note:
            parts.append(edge.summed_note)
    return "\n\n".join(parts)


def step_markdown(step: Step) -> str:
    if step.trace is None:
        return repr(step)
    return _view_markdown(step.trace.view(step.index))


def tensor_markdown(t: Tensor) -> str:
    name = _name(t)
    parts = [f"**{name}** {shape_text(t.shape)} {t.dtype}, {_kind(t)}", _code(format_value(t.data))]
    if t.grad is not None:
        parts += [f"∂L/∂{name} (.grad):", _code(format_value(t.grad))]
    return "\n\n".join(parts)


__all__ = ["trace_html", "step_html", "tensor_html", "trace_markdown", "step_markdown",
           "tensor_markdown", "new_prefix"]
