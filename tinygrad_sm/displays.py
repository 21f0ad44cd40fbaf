"""How a trace, a step and a tensor show themselves: each display method hands the object to
its renderer. A renderer is imported when it is first used, so importing the package loads no
display library (graphviz, rich, matplotlib, IPython).

`loss.backward(trace=True)` returns a `Trace` (the package's __init__ hands this class to the
engine as its recorder); it is the BackwardTrace of tracing.py plus these methods.
"""
from __future__ import annotations

import os
from typing import Any

from .tensor import Tensor
from .tracing import BackwardTrace, Step


class ShownStep(Step):
    """A step of a Trace: a notebook cell ending in `trace[k]` shows that step."""

    def _repr_html_(self) -> str:
        from . import notebook
        return notebook.step_html(self)

    def _repr_markdown_(self) -> str:
        from . import notebook
        return notebook.step_markdown(self)


class Trace(BackwardTrace):
    """A BackwardTrace that can print, draw, save and walk itself.

    Displays number the steps from 1 ("step 1 of 3", `#step=1` in a page); in Python a trace
    is a sequence, so trace[0] is step 1 and draw(..., step=k) / view(k) take that index."""
    step_class = ShownStep

    def __str__(self) -> str:
        from . import terminal
        return terminal.format_trace(self)

    def _repr_html_(self) -> str:
        """The inline stepper, for Jupyter, VS Code and Colab (a cell ending in `trace`)."""
        from . import notebook
        return notebook.trace_html(self)

    def _repr_markdown_(self) -> str:
        from . import notebook
        return notebook.trace_markdown(self)

    def save_html(self, path: str | os.PathLike, **options: Any) -> str:
        """One self-contained page that steps through this pass (←/→, slider, #step=k)."""
        from . import page
        return page.save_html(self, path, **options)

    def render_frames(self, directory: str | os.PathLike, format: str = "svg") -> list[str]:
        """One image per step: directory/frame_000.svg, ..."""
        from . import viz
        return viz.render_frames(self, directory, format=format)

    def walk(self, predict: bool = False, **options: Any) -> Any:
        """Step through this pass in the terminal, one step per key (q quits); returns the
        number of steps shown. predict=True asks the learner for each step's gradient before it
        is shown (predict_terminal.walk) and returns the score."""
        if predict:
            from . import predict_terminal
            return predict_terminal.walk(self, **options)
        from . import terminal
        return terminal.walk(self, **options)

    def predict(self, lang: str | None = None) -> Any:
        """In a notebook (a cell ending in `trace.predict()`): the stepper in predict mode. At
        each step the gradients it sends are hidden until the learner types them (a grid up to
        4×4, else one entry), picks the rule among four, or reveals; the verdict names the
        misconception; a running score. Works offline and in an exported notebook, as
        `trace.save_html(path, predict=True)` does as a page. lang: "zh" or "en" (default:
        $TINYGRAD_SM_LANG, else English)."""
        from . import notebook
        return notebook.PredictDisplay(self, lang)

    def check(self, k: int | None, tensor: Tensor | str, answer: Any,
              lang: str | None = None) -> Any:
        """Check a learner's answer for the gradient step k sends to tensor.

        k: the step number as every display shows it, from 1 (`trace[i]` stays a Python index,
        from 0); k=None asks for the tensor's whole gradient of this pass (this pass only: a
        .grad that held a gradient before the pass holds more). tensor: a Tensor of the graph or
        its label ("W"). answer: a number or nested lists or an array; a number stands for a
        gradient of one element only. It is right when every entry is within
        1e-3 · max|expected| + 1e-12 of the expected one (3–4 significant digits).

        Returns a verdicts.CheckResult: `.correct`, `.misconception` (None, or "sign",
        "missing_1_over_n", "transposed", "missing_sum_over_rows", "not_one_hot",
        "one_path_only", "shape", "other": the first that fits, in this order), `.message`
        (lang: "zh" or "en", default $TINYGRAD_SM_LANG, else English), `.hint` and `.expected`.
        A tensor that step k sends nothing to is a ValueError naming the step's op and the
        tensors it does send to. A teacher's cell:

            trace = loss.backward(trace=True)
            print(trace.check(2, "b", [0.1, -0.3, 0.2]).message)
        """
        from . import verdicts
        return verdicts.check(self, k, tensor, answer, lang=lang)


def _tensor_html(tensor: Tensor) -> str:
    from . import notebook
    return notebook.tensor_html(tensor)


def _tensor_markdown(tensor: Tensor) -> str:
    from . import notebook
    return notebook.tensor_markdown(tensor)


# A notebook cell ending in a tensor shows its card. The engine names no display, so the
# display methods are given to Tensor here, above it.
Tensor._repr_html_ = _tensor_html  # type: ignore[attr-defined]
Tensor._repr_markdown_ = _tensor_markdown  # type: ignore[attr-defined]
