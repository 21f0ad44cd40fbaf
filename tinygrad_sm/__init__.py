"""tinygrad_sm: a small autograd engine on numpy that shows every step of backprop."""
from .autograd import AnomalyError, BackwardTrace, Step, detect_anomaly, no_grad
from .gradcheck import GradcheckError, gradcheck
from .ops import InputError
from .tensor import ShapeError, Tensor

__all__ = ["Tensor", "no_grad", "detect_anomaly", "gradcheck", "BackwardTrace", "Step",
           "ShapeError", "InputError", "GradcheckError", "AnomalyError"]
__version__ = "0.1.0"
