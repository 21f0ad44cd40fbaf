"""The learner's language: one catalogue of messages per language, a plain JSON file in locales/.

Why JSON and not gettext: gettext keys messages by their English text and needs compiled .mo
files (a build step, a tool); a JSON file of `key: text` is read with the standard library, is
the same data the HTML stepper's script gets, and a test can walk it. A third language is one
more file (locales/xx.json with every key of en.json), no code change.

The language is chosen where a display is made (`lang="zh"`), else by the environment variable
TINYGRAD_SM_LANG (read when a message is needed, never on import), else English.
"""
from __future__ import annotations

import json
import os
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING

import numpy as np

from .formatting import format_matrix, format_number, is_small

if TYPE_CHECKING:
    from .tracing import EdgeView, StepView

ENV = "TINYGRAD_SM_LANG"
DEFAULT = "en"


def locales_folder():
    """The package's locales/ folder (a Traversable: works from a wheel or a zip too)."""
    return resources.files("tinygrad_sm").joinpath("locales")


def languages() -> list[str]:
    """The languages that have a catalogue: the file names in locales/."""
    return sorted(p.name[:-5] for p in locales_folder().iterdir() if p.name.endswith(".json"))


def resolve(lang: str | None = None) -> str:
    """The language to use: `lang`, else $TINYGRAD_SM_LANG, else English.

    "zh_CN.UTF-8" and "zh-CN" mean zh (the part before the region). An unknown language is a
    ValueError that names where it came from and the languages there are.
    """
    source = "lang"
    if lang is None:
        lang, source = os.environ.get(ENV) or DEFAULT, ENV
    if not isinstance(lang, str):
        raise TypeError(f"lang must be a string such as 'zh' or 'en', got {type(lang).__name__}")
    code = lang.strip().lower().replace("-", "_").split(".")[0].split("_")[0]
    known = languages()
    if code not in known:
        raise ValueError(f"{source}={lang!r}: no messages in that language; "
                         f"choose one of {', '.join(known)}")
    return code


@lru_cache(maxsize=None)
def catalogue(lang: str) -> dict[str, str]:
    """The messages of one language, checked against English: the same keys, each a string."""
    def load(code: str) -> dict[str, str]:
        return json.loads(locales_folder().joinpath(f"{code}.json").read_text(encoding="utf-8"))

    messages, english = load(lang), load(DEFAULT)
    missing = sorted(set(english) - set(messages))
    extra = sorted(set(messages) - set(english))
    if missing or extra:
        raise ValueError(f"locales/{lang}.json does not match locales/en.json: "
                         f"missing {missing[:5]}, unknown {extra[:5]}")
    wrong = [key for key, text in messages.items() if not isinstance(text, str)]
    if wrong:
        raise ValueError(f"locales/{lang}.json: not text: {wrong[:5]}")
    return messages


class Messages:
    """`t = Messages("zh"); t("train.epoch", epoch=3, ...)`: a message with its fields filled in."""

    def __init__(self, lang: str | None = None):
        self.lang = resolve(lang)
        self.texts = catalogue(self.lang)

    def __call__(self, key: str, **fields: object) -> str:
        try:
            text = self.texts[key]
        except KeyError:
            raise KeyError(f"no message {key!r} in locales/{self.lang}.json") from None
        return text.format(**fields) if fields else text

    def prefix(self, start: str) -> dict[str, str]:
        """Every message whose key starts with `start` (for the page's script), key without it."""
        return {key[len(start):]: text for key, text in self.texts.items() if key.startswith(start)}


def messages(lang: str | Messages | None = None) -> Messages:
    """The messages of `lang` (a code, None for the default, or Messages already made)."""
    return lang if isinstance(lang, Messages) else Messages(lang)


class Said:
    """A message by key with its fields, to be said later in any language: `Said(key, ...)(t)`.

    For errors raised where no language is known (reading a data file): the exception keeps the
    Said, str() of it is English, and the command says it in the learner's language. A field
    that is itself a Said (a word such as "images", a nested error) is said in that language too.
    """
    __slots__ = ("key", "fields")

    def __init__(self, key: str, **fields: object):
        self.key, self.fields = key, fields

    def __call__(self, lang: str | Messages | None = None) -> str:
        t = messages(lang)
        return t(self.key, **{name: value(t) if isinstance(value, Said) else value
                              for name, value in self.fields.items()})


# ---- the trace's words, in the learner's language (the trace itself holds data, no words) ----

def shape_text(t: Messages, shape: tuple[int, ...]) -> str:
    """(2, 3), or "scalar" in the learner's words."""
    return t("shape.scalar") if tuple(shape) == () else str(tuple(shape))


def min_max(t: Messages, finite: np.ndarray) -> str:
    """"min −0.3, max 0.5" of the finite entries given."""
    return t("value.min_max", min=format_number(finite.min()), max=format_number(finite.max()))


def value_lines(t: Messages, a: np.ndarray) -> list[str]:
    """Lines showing an array as text: in full when small, otherwise its shape and min/max."""
    a = np.asarray(a)
    if is_small(a):
        return format_matrix(a)
    if a.size == 0:
        return [f"{shape_text(t, a.shape)}: {t('value.empty')}"]
    finite = a[np.isfinite(a)] if a.dtype.kind == "f" else a
    text = min_max(t, finite) if finite.size else t("value.no_finite")
    bad = a.size - finite.size
    return [f"{shape_text(t, a.shape)}: {text}" + (t("value.nonfinite", count=bad) if bad else "")]


def step_header(t: Messages, view: StepView) -> str:
    """"step 3 of 3: matmul" (a StepView): steps are numbered from 1; view.index is from 0."""
    return t("step.header", index=view.index + 1, count=view.count, op=view.op)  # counted from 1


def edge_title(t: Messages, edge: EdgeView) -> str:
    """∂L/∂W when the contribution is the whole gradient, else "contribution 1 of 2 to ∂L/∂o"."""
    if edge.terms <= 1:
        return edge.grad
    return t("step.contribution", term=edge.term, terms=edge.terms, grad=edge.grad)


def summed_note(t: Messages, edge: EdgeView) -> str | None:
    """Why the contribution is smaller than the local gradient (an EdgeView), if it is."""
    if not edge.summed_axes or edge.local_grad is None:
        return None
    axes = edge.summed_axes
    key = "step.summed_axis" if len(axes) == 1 else "step.summed_axes"
    return t(key, local=shape_text(t, edge.local_grad.shape), axes=", ".join(map(str, axes)),
             shape=shape_text(t, edge.input.shape))
