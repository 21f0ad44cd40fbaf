"""tinygrad_sm: a small autograd engine on numpy that shows every step of backprop.

Importing it loads the engine only; each display (diagram, page, terminal, notebook) is loaded
when it is first used (see displays.py).
"""
from . import autograd, nn, optim
from .autograd import AnomalyError, detect_anomaly, no_grad
from .displays import Trace
from .errors import InputError, ShapeError
from .gradcheck import GradcheckError, gradcheck
from .op import Op
from .tensor import Tensor
from .tracing import BackwardTrace, Step

autograd.new_recorder = Trace  # loss.backward(trace=True) returns a Trace


def __getattr__(name: str):
    """`tinygrad_sm.viz` without importing it up front (it loads graphviz)."""
    if name == "viz":
        import importlib
        return importlib.import_module(".viz", __name__)
    raise AttributeError(f"module 'tinygrad_sm' has no attribute {name!r}")


__all__ = ["Tensor", "Op", "no_grad", "detect_anomaly", "gradcheck", "BackwardTrace", "Trace",
           "Step", "ShapeError", "InputError", "GradcheckError", "AnomalyError", "nn", "optim", "viz"]
__version__ = "0.1.0"
