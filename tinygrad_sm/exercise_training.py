"""The learner's backward functions wired into the engine's ops, and softmax regression trained
with them: `train_both` trains on the bundled digits twice from one seed, with the engine's ops
and with subclasses of them whose backward calls the learner's function (same forward), and
compares the weights. Used by `tinygrad-sm exercise check` once every exercise is right."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from . import nn
from .ops import Add, CrossEntropy, Exp, Log, MatMul, Softmax, Sum
from .optim import SGD
from .tensor import Tensor

WEIGHT_TOLERANCE = 1e-6  # the learner's training and the engine's agree within this


# ---- the learner's backward wired into the engine's ops, and training with it ----

def _like(gradient: Any, x: np.ndarray) -> np.ndarray:
    """The learner's gradient in the input's dtype, as the engine's ops return theirs."""
    return np.asarray(gradient, dtype=x.dtype)


def learner_ops(module: Any) -> dict[str, type]:
    """Subclasses of the engine's ops, one per exercise: the same forward; backward calls the
    learner's function (softmax regression uses matmul, add and cross_entropy):
    `learner_ops(m)["exp"].apply(x)` is exp with the learner's exp_backward."""
    return {**_elementwise_ops(module), **_model_ops(module)}


def _elementwise_ops(module: Any) -> dict[str, type]:
    class LearnerExp(Exp):
        def forward(self, a):
            self.x = a.copy()  # the learner's function reads x too (a copy: safe from edits)
            return super().forward(a)

        def backward(self, g, needs):
            return (_like(module.exp_backward(g, self.x, self.saved[0]), self.x),)

    class LearnerLog(Log):
        def backward(self, g, needs):
            (a,) = self.saved
            return (_like(module.log_backward(g, a), a),)

    class LearnerSum(Sum):
        def backward(self, g, needs):
            if self.keepdims:  # the learner's sum_backward takes keepdims=False's g
                g = g.reshape(()) if self.axis is None else np.squeeze(g, self.axis)
            return (np.asarray(module.sum_backward(g, self.shape, self.axis)),)

    class LearnerSoftmax(Softmax):
        def backward(self, g, needs):
            (out,) = self.saved  # the learner's softmax_backward works along the last axis
            gx = module.softmax_backward(np.moveaxis(g, self.axis, -1), np.moveaxis(out, self.axis, -1))
            return (_like(np.moveaxis(np.asarray(gx), -1, self.axis), out),)

    return {"exp": LearnerExp, "log": LearnerLog, "sum": LearnerSum, "softmax": LearnerSoftmax}


def _model_ops(module: Any) -> dict[str, type]:
    class LearnerMatMul(MatMul):
        def backward(self, g, needs):
            a, b = self.saved
            ga, gb = module.matmul_backward(g, a, b)
            return (_like(ga, a) if needs[0] else None), (_like(gb, b) if needs[1] else None)

    class LearnerAdd(Add):
        def forward(self, a, b):
            self.shapes, self.dtypes = (a.shape, b.shape), (a.dtype, b.dtype)
            return super().forward(a, b)

        def backward(self, g, needs):
            ga, gb = module.add_backward(g, *self.shapes)
            return tuple(np.asarray(x, dtype=d) if need else None
                         for x, d, need in zip((ga, gb), self.dtypes, needs))

    class LearnerCrossEntropy(CrossEntropy):
        def forward(self, o, y):
            out = super().forward(o, y)
            self.logits = o.copy()  # what the learner's function reads (a copy: safe from edits)
            return out

        def backward(self, g, needs):
            y = self.class_indices()  # the engine keeps class indices as positions
            go = module.cross_entropy_backward(g, self.logits, self.saved[1] if y is None else y)
            return (_like(go, self.logits) if needs[0] else None), None

    return {"matmul": LearnerMatMul, "add": LearnerAdd, "cross_entropy": LearnerCrossEntropy}


@dataclass(frozen=True)
class Training:
    """Softmax regression on the digits, trained twice from one seed."""
    accuracy: float            # with the learner's backward
    builtin_accuracy: float    # with the engine's
    max_weight_difference: float
    epochs: int
    seed: int

    @property
    def agree(self) -> bool:
        return self.max_weight_difference <= WEIGHT_TOLERANCE


def float64_model(split: Any, seed: int) -> nn.SoftmaxRegression:
    """train.fit's model (the same N(0, 0.01²) draw from seed) in float64: float32 rounding,
    which differs between two correct ways of writing softmax, grows over 60 epochs to about
    3e-6 in W; in float64 what is left to compare is the backward's mathematics."""
    return nn.SoftmaxRegression(split.num_features, split.num_classes, seed=seed, dtype=np.float64)


def train_learner(module: Any, split: Any, epochs: int, lr: float, batch_size: int,
                  seed: int) -> nn.SoftmaxRegression:
    """train.fit's loop (same initial weights, same batch order) with the learner's ops."""
    from .data import minibatches

    ops = learner_ops(module)
    model = float64_model(split, seed)
    optimizer = SGD(model.parameters(), lr=lr)
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        for X, y in minibatches(split.X_train, split.y_train, batch_size, rng):
            logits = ops["add"].apply(ops["matmul"].apply(Tensor(X, name="X"), model.W), model.b)
            loss = ops["cross_entropy"].apply(logits, y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model


def train_both(module: Any, seed: int = 0) -> Training:
    """Train with the learner's backward and with the engine's, from the same seed; compare."""
    from .train import DATASETS, accuracy, fit, load

    spec, split = DATASETS["digits"], load("digits")
    mine = train_learner(module, split, spec.epochs, spec.lr, spec.batch_size, seed)
    builtin, _ = fit(split, spec.epochs, spec.lr, spec.batch_size, seed=seed,
                     model=float64_model(split, seed))
    difference = max(float(np.max(np.abs(p.data.astype(np.float64) - q.data)))
                     for p, q in zip(mine.parameters(), builtin.parameters()))
    return Training(accuracy(mine, split.X_test, split.y_test),
                    accuracy(builtin, split.X_test, split.y_test), difference, spec.epochs, seed)
