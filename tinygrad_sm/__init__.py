"""tinygrad_sm: a small autograd engine on numpy that shows every step of backprop.

The package wires the displays to the trace here (the trace module imports none of them):
`print(trace)`, `trace.save_html()`, `trace.render_frames()` and `trace.walk()`.
"""
from . import nn, page, terminal, viz
from .autograd import AnomalyError, detect_anomaly, no_grad
from .errors import InputError, ShapeError
from .gradcheck import GradcheckError, gradcheck
from .ops import Op
from .tensor import Tensor
from .tracing import DISPLAYS, BackwardTrace, Step
from . import optim  # tg.optim.SGD without a second import, as tg.nn

DISPLAYS.update(text=terminal.format_trace, save_html=page.save_html,
                render_frames=viz.render_frames, walk=terminal.walk)

__all__ = ["Tensor", "Op", "no_grad", "detect_anomaly", "gradcheck", "BackwardTrace", "Step",
           "ShapeError", "InputError", "GradcheckError", "AnomalyError", "nn", "optim", "viz"]
__version__ = "0.1.0"
