"""tinygrad_sm: a small autograd engine on numpy that shows every step of backprop.

The package wires the displays to the trace here (the trace module imports none of them):
`print(trace)`, `trace.save_html()`, `trace.render_frames()`, `trace.walk()` and the notebook
displays of traces, steps and tensors.
"""
from . import nn, notebook, page, terminal, viz
from .autograd import AnomalyError, detect_anomaly, no_grad
from .errors import InputError, ShapeError
from .gradcheck import GradcheckError, gradcheck
from .ops import Op
from .tensor import Tensor
from .tracing import DISPLAYS, BackwardTrace, Step
from . import optim  # tg.optim.SGD without a second import, as tg.nn

DISPLAYS.update(text=terminal.format_trace, save_html=page.save_html,
                render_frames=viz.render_frames, walk=terminal.walk,
                trace_html=notebook.trace_html, step_html=notebook.step_html,
                tensor_html=notebook.tensor_html, trace_markdown=notebook.trace_markdown,
                step_markdown=notebook.step_markdown, tensor_markdown=notebook.tensor_markdown)

__all__ = ["Tensor", "Op", "no_grad", "detect_anomaly", "gradcheck", "BackwardTrace", "Step",
           "ShapeError", "InputError", "GradcheckError", "AnomalyError", "nn", "optim", "viz"]
__version__ = "0.1.0"
