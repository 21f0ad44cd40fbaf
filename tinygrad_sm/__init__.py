"""tinygrad_sm: a small autograd engine on numpy that shows every step of backprop."""
from .autograd import AnomalyError, detect_anomaly, no_grad
from .gradcheck import GradcheckError, gradcheck
from .errors import InputError, ShapeError
from .ops import Op
from .tensor import Tensor
from .trace import BackwardTrace, Step
from . import nn, optim  # tg.nn.cross_entropy, tg.optim.SGD without a second import

__all__ = ["Tensor", "Op", "nn", "optim", "no_grad", "detect_anomaly", "gradcheck",
           "BackwardTrace", "Step", "ShapeError", "InputError", "GradcheckError", "AnomalyError"]
__version__ = "0.1.0"
