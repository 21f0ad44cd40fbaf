"""DIR/report.html of `tinygrad-sm exercise check`: one section per exercise with its verdict;
for a wrong answer, the case's expected gradient, the learner's and their difference as heatmaps
(pictures.py: blue negative, white 0, red positive; expected and yours on one scale, the
difference on its own) with the numbers
beside them when small. One self-contained file: works offline, every text escaped."""
from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np

from .exercises import ExerciseResult
from .i18n import Messages, shape_text, value_lines
from .pictures import bound_of, heatmap_html, view_2d

STYLE = """body { font-family: system-ui, sans-serif; margin: 2em; max-width: 70em; }
h2 { font-family: monospace; font-size: 1.1em; margin-top: 1.6em; }
.passed { color: #1a7f37; } .failed { color: #b42318; }
.figures { display: flex; flex-wrap: wrap; gap: 1.5em; align-items: flex-start; }
figure.tg-picture { margin: 0; } img.tg-heat { image-rendering: pixelated; border: 1px solid #ccc; }
.tg-readout { display: none; } .tg-describe { font-size: .85em; color: #555; }
pre { font-size: .85em; margin: .3em 0; }"""


def _esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _figure(a: np.ndarray, title: str, t: Messages, bound: float | None = None) -> str:
    """A heatmap with big cells (the arrays of a case are small) and its numbers."""
    cell = max(4, min(32, 256 // max(view_2d(a).shape)))
    numbers = "\n".join(value_lines(t, a))
    return f'<div>{heatmap_html(a, title, cell, lang=t, bound=bound)}<pre>{_esc(numbers)}</pre></div>'


def _pictures(t: Messages, result: ExerciseResult) -> str:
    """Expected, yours and yours − expected for the case the message is about."""
    outcome = result.shown
    if result.status != "wrong" or outcome is None or outcome.verdict is None:
        return ""
    verdict, grad = outcome.verdict, outcome.question.grad
    expected, got = np.asarray(verdict.expected), np.asarray(verdict.answer)
    shared = max(bound_of(expected), bound_of(got))  # one scale: the colours compare
    parts = [_figure(expected, t("exercise.report_expected", grad=grad), t, shared),
             _figure(got, t("exercise.report_got", grad=grad), t, shared)]
    if got.shape == expected.shape:
        parts.append(_figure(got - expected, t("exercise.report_difference"), t))
    else:
        parts.append(f"<p>{_esc(t('exercise.report_shapes_differ', got=shape_text(t, got.shape), want=shape_text(t, expected.shape)))}</p>")
    return f'<div class="figures">{"".join(parts)}</div>'


def report_html(t: Messages, path: Path, results: dict[str, ExerciseResult] | None,
                data: dict[str, Any]) -> str:
    """The whole page; `data` is report.json's content (the messages, and the training)."""
    sections = []
    for name, entry in data["exercises"].items():
        key = f" ({entry['misconception']})" if entry["misconception"] else ""
        mark, kind = ("✓", "passed") if entry["passed"] else ("✗", "failed")
        pictures = _pictures(t, results[name]) if results else ""
        sections.append(f'<section><h2 class="{kind}">{mark} {_esc(name)}{_esc(key)}</h2>'
                        f"<p>{_esc(entry['message'])}</p>{pictures}</section>")
    training = data.get("training")
    if training:
        sections.append(f"<p><strong>{_esc(training['message'])}</strong></p>")
    title = _esc(t("exercise.report_title"))
    return (f'<!DOCTYPE html>\n<html lang="{_esc(t("page.html_lang"))}"><head><meta charset="utf-8">'
            f"<title>{title}</title><style>{STYLE}</style></head><body><h1>{title}</h1>"
            f"<p>{_esc(t('exercise.report_file', path=path))}</p>{''.join(sections)}</body></html>\n")
