"""The learner's backward.py, as `tinygrad-sm exercise start` writes it: a header saying what to
do and how to check it, then one function per exercise (exercises.EXERCISES, in that order)
with its docstring (the forward, the shapes, the chain rule to apply) and the body
`raise NotImplementedError`. The header and the docstrings are the catalogue's
(exercise.header, exercise.doc.<name>), in the learner's language."""
from __future__ import annotations

from .exercises import EXERCISES, SIGNATURES
from .i18n import Messages, messages


def _docstring(text: str) -> str:
    lines = text.split("\n")
    body = "\n".join(f"    {line}" if line else "" for line in lines[1:])
    return f'    """{lines[0]}\n{body}\n    """' if body else f'    """{lines[0]}"""'


def function_text(t: Messages, name: str) -> str:
    """One exercise: `def name(signature):`, its docstring, `raise NotImplementedError`."""
    return (f"def {name}({SIGNATURES[name]}):\n{_docstring(t(f'exercise.doc.{name}'))}\n"
            "    raise NotImplementedError\n")


def backward_file(folder: str, lang: str | Messages | None = None) -> str:
    """The whole text of backward.py; `folder` is named in the header's check command."""
    t = messages(lang)
    header = "\n".join(f"# {line}".rstrip() for line in t("exercise.header", dir=folder).split("\n"))
    functions = "\n\n".join(function_text(t, name) for name in EXERCISES)
    return f"{header}\n\nimport numpy as np\n\n\n{functions}"
