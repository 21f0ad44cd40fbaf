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


from .fonts import with_cjk_font
from .i18n import Messages, edge_title, messages, shape_text, step_header, summed_note, value_lines
from .page import asset, figure_html, panel_html, scripts, stepper_html
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


def trace_html(trace: BackwardTrace, prefix: str | None = None,
               lang: str | Messages | None = None, predict: bool = False) -> str:
    """The inline stepper: diagram, panels, ◀ ▶ and slider; ←/→ while it has the focus.

    lang: "zh" or "en"; a notebook's displays follow $TINYGRAD_SM_LANG (`%env
    TINYGRAD_SM_LANG=zh`), else English. predict: predict mode (`trace.predict()`), each step's
    gradients hidden until the learner answers them."""
    t = messages(lang)
    if len(trace) == 0:
        return f"<p>{_esc(t('notebook.no_steps', trace=repr(trace)))}</p>"
    stepper = stepper_html(trace, prefix=prefix or new_prefix(), standalone=False, lang=t,
                           predict=predict)
    stepper = stepper.replace('<div class="tg-stepper', '<div class="tg-stepper tg-inline', 1)
    # each output carries the script: it starts every stepper on the page not started yet
    return with_cjk_font(f'<div class="tg-output">{_style()}{stepper}<script>{asset("stepper.js")}</script>'
                         f'{scripts(predict)}</div>')


class PredictDisplay:
    """What `trace.predict()` returns: a notebook shows it as the stepper in predict mode."""

    def __init__(self, trace: BackwardTrace, lang: str | Messages | None = None):
        self.trace, self.lang = trace, lang

    def _repr_html_(self) -> str:
        return trace_html(self.trace, lang=self.lang, predict=True)

    def _repr_markdown_(self) -> str:  # a frontend without HTML: the steps, answers included
        return trace_markdown(self.trace, lang=self.lang)


def step_html(step: Step, lang: str | Messages | None = None) -> str:
    """One step's panel: the rule in the graph's names, the numbers, each contribution."""
    if step.trace is None:
        return f"<p>{_esc(repr(step))}</p>"
    return _card("tg-panel", panel_html(step.trace.view(step.index), lang=lang))


def _kind(x: Tensor, t: Messages) -> str:
    if x.op is not None:
        return t("notebook.made_by", op=x.op.name)
    return t("notebook.parameter") if x.requires_grad else t("notebook.data")


def _card(kind: str, body: str) -> str:
    """A panel or a tensor in the stepper's style; with the script when it has pictures (their
    pointer readout)."""
    script = f"<script>{asset('stepper.js')}</script>" if 'class="tg-heat"' in body else ""
    return with_cjk_font(f'<div class="tg-output">{_style()}<div class="tg-stepper tg-inline {kind}">{body}</div>'
                         f"{script}</div>")


def _name(x: Tensor, t: Messages) -> str:
    return printable(x.name) if x.name else t("notebook.tensor")   # a newline in a name shows as \n


def tensor_html(x: Tensor, lang: str | Messages | None = None) -> str:
    """Name, shape, kind, value and gradient of a tensor."""
    t = messages(lang)
    name = _name(x, t)
    head = (f"<p><b>{_esc(name)}</b> {shape_text(t, x.shape)} {_esc(str(x.dtype))}, "
            f"{_esc(_kind(x, t))}</p>")
    figures = [figure_html(t("notebook.value", name=name), x._data, lang=t)]
    if x.grad is not None:
        figures.append(figure_html(f"{name}.grad", x.grad, lang=t))
    note = (f'<p class="note">{_esc(t("notebook.grad_none"))}</p>'
            if x.grad is None and x.requires_grad else "")
    return _card("tg-tensor", f'{head}<div class="numbers">{"".join(figures)}</div>{note}')


# ---- Markdown: for frontends that show no HTML ----

def _code(lines: list[str]) -> str:
    return "```\n" + "\n".join(lines) + "\n```"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def trace_markdown(trace: BackwardTrace, lang: str | Messages | None = None) -> str:
    t = messages(lang)
    columns = " | ".join(t(f"table.{column}") for column in ("step", "op", "rule"))
    rows = [f"**{_cell(t('table.title', root=trace.label(trace.root), steps=len(trace)))}**", "",
            f"| {columns} |", "|---|---|---|"]
    for k in range(len(trace)):
        view = trace.view(k)
        rules = "; ".join(e.rule for e in view.edges if e.contribution is not None)
        rows.append(f"| {k + 1} | {_cell(view.op)} | `{_cell(rules)}` |")
    return "\n".join(rows)


def _view_markdown(view: StepView, t: Messages) -> str:
    parts = [f"**{step_header(t, view)}** ({t('panel.forward', formula=f'`{view.formula}`')})", "",
             t("panel.upstream", root=view.root_name, name=view.output_name, shape=shape_text(t, view.grad_output.shape)),
             _code(value_lines(t, view.grad_output))]
    for edge in view.edges:
        if edge.contribution is None:
            parts.append(t("panel.no_grad", name=edge.name))
            continue
        parts += [f"`{edge.rule}`", f"{edge_title(t, edge)}:", _code(value_lines(t, edge.contribution))]
        note = summed_note(t, edge)
        if note:
            parts.append(note)
    return "\n\n".join(parts)


def step_markdown(step: Step, lang: str | Messages | None = None) -> str:
    if step.trace is None:
        return repr(step)
    return _view_markdown(step.trace.view(step.index), messages(lang))


def tensor_markdown(x: Tensor, lang: str | Messages | None = None) -> str:
    t = messages(lang)
    name = _name(x, t)
    parts = [f"**{name}** {shape_text(t, x.shape)} {x.dtype}, {_kind(x, t)}", _code(value_lines(t, x._data))]
    if x.grad is not None:
        parts += [f"{name}.grad:", _code(value_lines(t, x.grad))]
    return "\n\n".join(parts)


__all__ = ["trace_html", "step_html", "tensor_html", "trace_markdown", "step_markdown",
           "tensor_markdown", "new_prefix", "PredictDisplay"]
