"""Training softmax regression or a one-hidden-layer MLP (dropout optional) by minibatch SGD:
the library code a learner reads (the data sets, the model, the epoch loop, evaluation, one step
drawn). The `tinygrad-sm train` command around it (settings, report, files) is train_command.py;
linear regression on synthetic data is regression.py (and linear_command.py).

The training loop (`train_epoch`) is the engine's fast path: ops build the graph, `backward()`
runs without a trace, SGD gives each parameter a new array p − lr·∂L/∂p (not an in-place
update, so graphs kept for diagrams keep their values); evaluation runs under `no_grad()`.
The benchmark (benchmarks/bench_epoch.py) can call `train_epoch` to time this very code.
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from . import nn
from .autograd import no_grad
from .data import (FASHION_MNIST_CLASSES, DataError, Split, load_digits, load_fashion_mnist,
                   load_mnist, minibatches)
from .i18n import Messages
from .optim import SGD
from .tensor import Tensor

DIGIT_NAMES = tuple(str(k) for k in range(10))
MODELS = ("softmax", "mlp", "linear")  # linear: regression on synthetic data (regression.py)


@dataclass(frozen=True)
class DataSpec:
    image_shape: tuple[int, int]
    class_names: tuple[str, ...]
    epochs: int       # defaults chosen per data set (see README for the measured results)
    lr: float
    batch_size: int


DATASETS = {
    # digits: 0.953–0.958 test accuracy on the fixed split for --seed 0..9, in under a second
    "digits": DataSpec((8, 8), DIGIT_NAMES, epochs=60, lr=1.0, batch_size=32),
    # Dive into Deep Learning's settings for softmax regression
    "fashion-mnist": DataSpec((28, 28), FASHION_MNIST_CLASSES, epochs=10, lr=0.1, batch_size=256),
    "mnist": DataSpec((28, 28), DIGIT_NAMES, epochs=10, lr=0.1, batch_size=256),
}


def load(name: str, data_dir: str | None = None) -> Split:
    """The data set by its command-line name; raises DataError with a message for the user
    (`e.said(lang)` in the learner's language)."""
    if name == "digits":
        if data_dir is not None:
            raise DataError("train.digits_bundled")
        return load_digits()
    if name == "fashion-mnist":
        return load_fashion_mnist(data_dir)
    if name == "mnist":
        if data_dir is None:
            raise DataError("train.mnist_needs_dir")
        return load_mnist(data_dir)
    raise DataError("train.unknown_data", name=name, choices=", ".join(DATASETS))


# ---- the loop ----

class Diverged(FloatingPointError):
    """The loss or a parameter became NaN or infinite. `epoch` (set by `fit`) and `batch`
    (1-based, of `batches`) say where; the parameters were not updated with that batch."""

    def __init__(self, what: str, batch: int, batches: int, epoch: int | None = None,
                 loss: float | None = None, parameter: str | None = None):
        super().__init__(what)
        self.what, self.batch, self.batches, self.epoch = what, batch, batches, epoch
        self.loss, self.parameter = loss, parameter  # which it was, for the message in words

    def describe(self, t: Messages) -> str:
        if self.parameter is not None:
            return t("train.param_nonfinite", name=self.parameter or t("train.a_parameter"))
        return t("train.loss_is", value=self.loss)

    def __str__(self) -> str:
        epoch = f"epoch {self.epoch}, " if self.epoch is not None else ""
        return f"{self.what} at {epoch}batch {self.batch} of {self.batches}"


def build_model(name: str, num_inputs: int, num_classes: int, hidden: int = 256,
                seed: int | None = 0, dropout: float = 0.0) -> nn.Module:
    """softmax: O = XW + b. mlp: O = ReLU(XW1 + b1)W2 + b2 (Dive into Deep Learning §4.2), with
    dropout after the ReLU when dropout > 0 (§4.6).

    Weights N(0, 0.01²) drawn from `seed`, biases 0. (linear regression: regression.py.)
    """
    if name == "softmax":
        if dropout:
            raise ValueError("dropout needs a hidden layer: use it with the mlp model")
        return nn.SoftmaxRegression(num_inputs, num_classes, seed=seed)
    if name == "mlp":
        return nn.mlp(num_inputs, hidden, num_classes, seed=seed, dropout=dropout)
    raise ValueError(f"unknown model {name!r}; choose one of softmax, mlp (linear: regression.py)")


def train_epoch(model: nn.Module, optimizer: SGD, X: np.ndarray, y: np.ndarray,
                batch_size: int, rng: np.random.Generator,
                on_batch: Callable[[], None] | None = None) -> tuple[float, float]:
    """One pass over (X, y) in shuffled minibatches; returns (mean loss, accuracy).

    Both are averaged over the epoch's minibatches as the weights changed (Dive into Deep
    Learning's convention), so they cost nothing extra: the logits are there anyway.
    Raises Diverged, before updating, at the first batch whose loss is not finite.
    """
    total_loss, correct = 0.0, 0
    batches = math.ceil(len(y) / batch_size)
    for batch, (X_batch, y_batch) in enumerate(minibatches(X, y, batch_size, rng), 1):
        logits = model(Tensor(X_batch, name="X"))
        loss = nn.cross_entropy(logits, y_batch)
        value = float(loss.data)
        if not math.isfinite(value):
            raise Diverged(f"the loss is {value}", batch, batches, loss=value)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total_loss += value * len(y_batch)
        correct += int(np.count_nonzero(logits.data.argmax(axis=1) == y_batch))
        if on_batch is not None:
            on_batch()
        del logits, loss  # this batch's graph goes now, not when the next batch's replaces it
    for p in optimizer.params:  # the last update can overflow too; no later loss would show it
        if not np.isfinite(p.data).all():
            raise Diverged(f"{p.name or 'a parameter'} holds non-finite values", batches, batches,
                           parameter=p.name or "")
    return total_loss / len(y), correct / len(y)


def predict(model: nn.Module, X: np.ndarray) -> np.ndarray:
    """Predicted class of each row of X (int64), without building a graph, in eval mode (no
    dropout); the model's mode is put back afterwards."""
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            return model(Tensor(X, name="X")).data.argmax(axis=1)
    finally:
        model.train(was_training)


def accuracy(model: nn.Module, X: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(predict(model, X) == y))


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """matrix[i, j] = how many examples of class i were predicted as class j."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (y_true, y_pred), 1)
    return matrix


@dataclass
class History:
    train_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    test_accuracy: list[float] = field(default_factory=list)
    seconds_per_epoch: list[float] = field(default_factory=list)  # the training pass only


def fit(split: Split, epochs: int, lr: float, batch_size: int, seed: int = 0,
        num_classes: int | None = None,
        on_epoch_start: Callable[[int, int], Callable[[], None] | None] | None = None,
        on_epoch_end: Callable[[int, History], None] | None = None,
        model: nn.Module | None = None, history: History | None = None,
        model_name: str = "softmax", hidden: int = 256, weight_decay: float = 0.0,
        dropout: float = 0.0) -> tuple[nn.Module, History]:
    """Train `model`, or a fresh one (`build_model(model_name)`; initialised and shuffled from
    `seed`), on split.

    num_classes defaults to the largest label + 1 (give it when a class may be absent).
    Pass `model` and `history` to keep hold of them when training stops early (Ctrl-C, or
    Diverged, which names the epoch and batch): they hold what was learned up to then.

    on_epoch_start(epoch, batches) may return a per-batch callback (a progress bar);
    on_epoch_end(epoch, history) sees the history so far (to print a line).
    weight_decay=λ adds λW to each weight matrix's gradient (not the biases', as d2l §4.5).
    """
    if model is None:
        model = build_model(model_name, split.num_features, num_classes or split.num_classes,
                            hidden, seed, dropout)
    weights = [p for p in model.parameters() if p.ndim == 2]
    optimizer = SGD(model.parameters(), lr=lr, weight_decay=weight_decay, decayed=weights)
    rng = np.random.default_rng(seed)
    history = History() if history is None else history
    batches = math.ceil(len(split.y_train) / batch_size)
    for epoch in range(1, epochs + 1):
        on_batch = on_epoch_start(epoch, batches) if on_epoch_start else None
        start = time.perf_counter()
        try:
            loss, train_acc = train_epoch(model, optimizer, split.X_train, split.y_train,
                                          batch_size, rng, on_batch)
        except Diverged as e:
            e.epoch = epoch
            raise
        history.seconds_per_epoch.append(time.perf_counter() - start)
        history.train_loss.append(loss)
        history.train_accuracy.append(train_acc)
        history.test_accuracy.append(accuracy(model, split.X_test, split.y_test))
        if on_epoch_end:
            on_epoch_end(epoch, history)
    return model, history


# ---- one step drawn ----

def one_per_class(y: np.ndarray, num_classes: int) -> np.ndarray:
    """Indices of the first example of each class present in y, in class order: a batch where
    every column of ∂L/∂W shows its own class's image pulled in (blue) and the others pushed."""
    return np.array([int(np.argmax(y == k)) for k in range(num_classes) if np.any(y == k)])


def first_layer_gradient(model: nn.Module, split: Split, rows: int = 256) -> np.ndarray:
    """∂L/∂W1 of the trained model on the first `rows` training examples (the model is copied)."""
    probe = copy.deepcopy(model).eval()  # the trained network, without dropout
    probe.zero_grad()
    nn.cross_entropy(probe(Tensor(split.X_train[:rows], name="X")), split.y_train[:rows]).backward()
    return probe.named_parameters()["W1"].grad


def write_step_diagrams(model: nn.Module, X: np.ndarray, y: np.ndarray,
                        out: Path, image_shape: tuple[int, int] | None = None,
                        lang: str | Messages | None = None) -> dict[str, Path]:
    """graph.svg and backprop.html for one training step of `model` on the batch (X, y).

    The step runs on a deep copy of the model without gradients, so the model itself is left as
    it was. The path to the first parameter (W, or W1 of an MLP) is highlighted.
    image_shape=(h, w): X's rows and the first layer's weights and gradient (one column per
    class or hidden unit) are drawn as h × w images.
    """
    from . import viz  # diagrams are optional for training; imported only here
    from .i18n import messages

    step_model = copy.deepcopy(model)
    step_model.zero_grad()
    loss = nn.cross_entropy(step_model(Tensor(X, name="X")), y)
    trace = loss.backward(trace=True)
    note = messages(lang)("page.initial_weights")  # the command draws the model before training
    graph = viz.draw(loss, trace=trace, highlight=step_model.parameters()[0], image_shape=image_shape,
                     lang=lang, note=note)
    svg = Path(viz.render(graph, out / "graph.svg"))
    html = Path(trace.save_html(str(out / "backprop.html"), image_shape=image_shape, lang=lang,
                                note=note))
    return {"graph.svg": svg, "graph.gv": svg.with_suffix(".gv"), "backprop.html": html}
