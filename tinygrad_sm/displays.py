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

    def walk(self, **options: Any) -> int:
        """Step through this pass in the terminal, one step per key (q quits)."""
        from . import terminal
        return terminal.walk(self, **options)


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
