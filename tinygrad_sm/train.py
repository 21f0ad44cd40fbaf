"""`tinygrad-sm train`: softmax regression or a one-hidden-layer MLP by minibatch SGD, with
metrics and figures.

The training loop (`train_epoch`) is the engine's fast path: ops build the graph, `backward()`
runs without a trace, SGD gives each parameter a new array p − lr·∂L/∂p (not an in-place
update, so graphs kept for diagrams keep their values); evaluation runs under `no_grad()`.
The benchmark (benchmarks/bench_epoch.py) can call `train_epoch` to time this very code.
"""
from __future__ import annotations

import copy
import json
import math
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from . import nn
from .autograd import no_grad
from .data import (FASHION_MNIST_CLASSES, DataError, Split, load_digits, load_fashion_mnist,
                   load_mnist, minibatches)
from .i18n import Messages, messages
from .optim import SGD
from .tensor import Tensor

DIGIT_NAMES = tuple(str(k) for k in range(10))
MODELS = ("softmax", "mlp")


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
                seed: int | None = 0) -> nn.Module:
    """softmax: O = XW + b. mlp: O = ReLU(XW1 + b1)W2 + b2 (Dive into Deep Learning §4.2).

    Weights N(0, 0.01²) drawn from `seed`, biases 0.
    """
    if name == "softmax":
        return nn.SoftmaxRegression(num_inputs, num_classes, seed=seed)
    if name == "mlp":
        return nn.mlp(num_inputs, hidden, num_classes, seed=seed)
    raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")


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
    for p in optimizer.params:  # the last update can overflow too; no later loss would show it
        if not np.isfinite(p.data).all():
            raise Diverged(f"{p.name or 'a parameter'} holds non-finite values", batches, batches,
                           parameter=p.name or "")
    return total_loss / len(y), correct / len(y)


def predict(model: nn.Module, X: np.ndarray) -> np.ndarray:
    """Predicted class of each row of X (int64), without building a graph."""
    with no_grad():
        return model(Tensor(X, name="X")).data.argmax(axis=1)


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
        model_name: str = "softmax", hidden: int = 256,
        ) -> tuple[nn.Module, History]:
    """Train `model`, or a fresh one (`build_model(model_name)`; initialised and shuffled from
    `seed`), on split.

    num_classes defaults to the largest label + 1 (give it when a class may be absent).
    Pass `model` and `history` to keep hold of them when training stops early (Ctrl-C, or
    Diverged, which names the epoch and batch): they hold what was learned up to then.

    on_epoch_start(epoch, batches) may return a per-batch callback (a progress bar);
    on_epoch_end(epoch, history) sees the history so far (to print a line).
    """
    if model is None:
        model = build_model(model_name, split.num_features, num_classes or split.num_classes,
                            hidden, seed)
    optimizer = SGD(model.parameters(), lr=lr)
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
    probe = copy.deepcopy(model)
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

    step_model = copy.deepcopy(model)
    step_model.zero_grad()
    loss = nn.cross_entropy(step_model(Tensor(X, name="X")), y)
    trace = loss.backward(trace=True)
    graph = viz.draw(loss, trace=trace, highlight=step_model.parameters()[0], image_shape=image_shape)
    svg = Path(viz.render(graph, out / "graph.svg"))
    html = Path(trace.save_html(str(out / "backprop.html"), image_shape=image_shape, lang=lang))
    return {"graph.svg": svg, "graph.gv": svg.with_suffix(".gv"), "backprop.html": html}


# ---- the command ----

OUTPUT_FILES = ("metrics.json", "curves.png", "weights.png", "confusion.png", "graph.svg",
                "graph.gv", "backprop.html")

EXIT_ERROR, EXIT_INTERRUPTED, EXIT_STDOUT_CLOSED = 1, 130, 141  # 128 + SIGINT, 128 + SIGPIPE


def ensure_writable_folder(folder: Path, create: bool = True) -> None:
    """Make `folder` (when `create`) and prove it takes a file; raises OSError otherwise."""
    if create:
        folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=folder, prefix=".tinygrad-sm-check-"):
        pass


def write_json(path: Path, value: object) -> None:
    """Strict JSON (NaN and infinity refused), written to a temporary file and renamed, so the
    file is always either the old one or the whole new one."""
    text = json.dumps(value, indent=2, allow_nan=False) + "\n"
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, delete=False,
                                     prefix=f".{path.name}.", suffix=".tmp") as temporary:
        temporary.write(text)
    try:
        os.replace(temporary.name, path)
    except OSError:
        os.unlink(temporary.name)
        raise


def _fail(message: str, code: int = EXIT_ERROR, t: Messages | None = None) -> int:
    print(messages(t)("train.error", message=message), file=sys.stderr)
    return code


def _console():
    """A console whose closed stdout (`train | head -1`) raises BrokenPipeError for
    train_command to handle (rich is imported only when a command runs)."""
    from .terminal import PipeAwareConsole

    return PipeAwareConsole()


def train_command(data: str = "digits", data_dir: str | None = None, epochs: int | None = None,
                  lr: float | None = None, batch_size: int | None = None, seed: int = 0,
                  out: str | os.PathLike = "out", model_name: str = "softmax",
                  hidden: int = 256, lang: str | None = None) -> int:
    """`tinygrad-sm train`: load the data, train, write metrics.json and the figures to `out`.

    lang: the language of its messages and figures, "zh" or "en" (default: $TINYGRAD_SM_LANG,
    else English); metrics.json is the same in every language.

    None takes the data set's default. Returns the exit status: 0 done; 1 an error or a
    diverged run; 130 Ctrl-C; 141 standard output closed. A run that stops early still writes
    metrics.json (strict JSON) with what was learned, marked "diverged" or "interrupted".
    """
    t = messages(lang)
    if data not in DATASETS:
        return _fail(t("train.unknown_data", name=data, choices=", ".join(DATASETS)), t=t)
    if model_name not in MODELS:
        return _fail(t("train.unknown_model", name=model_name, choices=", ".join(MODELS)), t=t)
    spec = DATASETS[data]
    epochs = spec.epochs if epochs is None else epochs
    lr = spec.lr if lr is None else lr
    batch_size = spec.batch_size if batch_size is None else batch_size
    for name, value, least in (("epochs", epochs, 1), ("batch_size", batch_size, 1), ("seed", seed, 0),
                               ("hidden", hidden, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ValueError(f"train_command: {name} must be a whole number ≥ {least}, got {value!r}")
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"train_command: lr must be a positive finite number, got {lr!r}")
    settings = {"data": data, "data_dir": data_dir, "model": model_name,
                "hidden": hidden if model_name == "mlp" else None, "epochs": epochs, "lr": lr,
                "batch_size": batch_size, "seed": seed}
    out = Path(out)

    try:
        split = load(data, data_dir)
    except DataError as e:
        return _fail(e.said(t), t=t)
    pixels = spec.image_shape[0] * spec.image_shape[1]
    if split.num_features != pixels:
        return _fail(t("train.bad_pixels", data=data, h=spec.image_shape[0], w=spec.image_shape[1],
                       pixels=pixels, got=split.num_features), t=t)
    try:  # before training, not after: a run must not be lost to an unwritable folder
        ensure_writable_folder(out)
        for name in OUTPUT_FILES:  # an earlier run's files must not pass for this run's
            (out / name).unlink(missing_ok=True)
    except OSError as e:
        return _fail(t("train.cannot_write_folder", out=out, reason=e.strerror or e), t=t)

    console = _console()
    model = build_model(model_name, split.num_features, len(spec.class_names), hidden, seed)
    history = History()
    position = {"epoch": 0, "batches_done": 0, "batches": 0}  # kept up to date while training
    stopped: str | None = None  # "diverged", "interrupted" or "stdout closed"
    diverged: Diverged | None = None
    try:
        console.print(t("train.header", data=data, train=len(split.y_train),
                        test=len(split.y_test), features=split.num_features,
                        classes=split.num_classes))
        described = (t("train.softmax") if model_name == "softmax" else
                     t("train.mlp", features=split.num_features, hidden=hidden,
                       classes=len(spec.class_names)))
        console.print(t("train.settings", model=described, lr=lr, batch=batch_size, epochs=epochs,
                        seed=seed))
        with np.errstate(all="ignore"):  # a diverging run is reported once, below
            _fit_with_progress(console, split, epochs, lr, batch_size, seed, model, history,
                               position, t)
    except Diverged as e:
        stopped, diverged = "diverged", e
        position.update(epoch=e.epoch, batches_done=e.batch - 1, batches=e.batches)
    except KeyboardInterrupt:
        stopped = "interrupted"
    except BrokenPipeError:
        stopped = "stdout closed"

    metrics = {
        "settings": settings,
        "data": {"train_size": len(split.y_train), "test_size": len(split.y_test),
                 "num_features": split.num_features, "num_classes": len(spec.class_names)},
        "train_loss": history.train_loss,
        "train_accuracy": history.train_accuracy,
        "test_accuracy": history.test_accuracy,
        "seconds_per_epoch": history.seconds_per_epoch,
        # the model as saved: after the last epoch, or where Ctrl-C stopped it; none if diverged
        "final_test_accuracy": (None if diverged else history.test_accuracy[-1] if not stopped
                                else accuracy(model, split.X_test, split.y_test)),
        "training_seconds": sum(history.seconds_per_epoch),
        "completed_epochs": len(history.train_loss),
        "diverged": diverged is not None,
        "interrupted": stopped in ("interrupted", "stdout closed"),
        "stopped_at": None if stopped is None else {
            **position, "reason": str(diverged.what) if diverged else stopped},
    }
    try:
        written, diagram_error = _write_outputs(out, metrics, model, history, split, spec, seed,
                                                model_name, hidden, t)
    except OSError as e:
        return _fail(t("train.cannot_write", out=out, reason=e.strerror or e), t=t)

    place = _place(position, epochs, t)
    if diverged:
        return _fail(t("train.diverged", what=diverged.describe(t), place=place, lr=f"{lr:g}",
                       path=out / "metrics.json"), t=t)
    if stopped:
        reason = t("train.interrupted" if stopped == "interrupted" else "train.stdout_closed")
        print(t("train.stopped", reason=reason, place=place, out=f"{out}{os.sep}"), file=sys.stderr)
        return EXIT_INTERRUPTED if stopped == "interrupted" else EXIT_STDOUT_CLOSED
    try:
        _print_summary(console, metrics, out, written, t)
    except BrokenPipeError:
        return EXIT_STDOUT_CLOSED
    if diagram_error:
        return _fail(t("train.diagrams_failed", error=diagram_error), t=t)
    return 0


def _fit_with_progress(console, split: Split, epochs: int, lr: float, batch_size: int, seed: int,
                       model: nn.Module, history: History,
                       position: dict[str, int], t: Messages | None = None) -> None:
    """`fit` with a progress bar per epoch (on a terminal) and one line after each epoch."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from threadpoolctl import threadpool_limits

    t = messages(t)

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True) as progress:
        def on_epoch_start(epoch: int, batches: int) -> Callable[[], None]:
            position.update(epoch=epoch, batches_done=0, batches=batches)
            task = progress.add_task(t("train.epoch_task", epoch=epoch, epochs=epochs), total=batches)

            def on_batch() -> None:
                position["batches_done"] += 1
                progress.advance(task)
            return on_batch

        def on_epoch_end(epoch: int, history: History) -> None:
            for task in list(progress.task_ids):
                progress.remove_task(task)
            line = t("train.epoch_line", epoch=epoch, epochs=epochs, loss=history.train_loss[-1],
                     train_acc=history.train_accuracy[-1], test_acc=history.test_accuracy[-1],
                     seconds=history.seconds_per_epoch[-1])
            progress.console.print(line, soft_wrap=True, markup=False)

        # one BLAS thread: these matmuls are small, and OpenBLAS's threads spin on a busy core
        # (benchmarks/bench_epoch.py measures both); a limit in the command, not on import
        with threadpool_limits(limits=1, user_api="blas"):
            fit(split, epochs, lr, batch_size, seed, on_epoch_start=on_epoch_start,
                on_epoch_end=on_epoch_end, model=model, history=history)


def _place(position: dict[str, int], epochs: int, t: Messages | None = None) -> str:
    """Where a run stopped, in words: "at epoch 3/10, batch 7 of 45"."""
    t = messages(t)
    epoch, done, batches = position["epoch"], position["batches_done"], position["batches"]
    if epoch == 0:
        return t("train.place_before")
    if done >= batches:
        return t("train.place_after", epoch=epoch, epochs=epochs)
    return t("train.place_at", epoch=epoch, epochs=epochs, batch=done + 1, batches=batches)


def _write_outputs(out: Path, metrics: dict, model: nn.Module, history: History,
                   split: Split, spec: DataSpec, seed: int, model_name: str = "softmax",
                   hidden: int = 256, t: Messages | None = None) -> tuple[dict[str, str], str | None]:
    """metrics.json first, then the figures that make sense for how the run ended: none of
    the weights when they diverged, no step diagrams when the run was stopped."""
    from . import plots  # matplotlib loads only once training is done

    t = messages(t)

    write_json(out / "metrics.json", metrics)
    written = {"metrics.json": t("train.file_metrics")}
    if history.train_loss:
        plots.plot_curves(history.train_loss, history.train_accuracy, history.test_accuracy,
                          out / "curves.png", lang=t)
        written["curves.png"] = t("train.file_curves")
    if metrics["diverged"]:
        return written, None
    num_classes = len(spec.class_names)
    if model_name == "softmax":
        plots.plot_weights(model.W.data, spec.image_shape, spec.class_names, out / "weights.png",
                           lang=t)
        written["weights.png"] = t("train.file_weights")
    else:
        W1 = model.named_parameters()["W1"]
        plots.plot_first_layer(W1.data, first_layer_gradient(model, split), spec.image_shape,
                               out / "weights.png", lang=t)
        written["weights.png"] = t("train.file_weights_mlp")
    predictions = predict(model, split.X_test)
    plots.plot_confusion(confusion_matrix(split.y_test, predictions, num_classes),
                         spec.class_names, out / "confusion.png", lang=t)
    written["confusion.png"] = t("train.file_confusion")
    if metrics["interrupted"]:
        return written, None
    # one step on one training example per class, from the same starting weights as the run
    start_model = build_model(model_name, split.num_features, num_classes, hidden, seed)
    batch = one_per_class(split.y_train, num_classes)
    try:
        write_step_diagrams(start_model, split.X_train[batch], split.y_train[batch], out,
                            spec.image_shape, lang=t)
    except RuntimeError as e:  # no Graphviz renderer: everything else is still useful
        return written, str(e)
    first = start_model.parameters()[0].name
    written["graph.svg"] = t("train.file_graph", count=len(batch), first=first)
    written["graph.gv"] = t("train.file_gv")
    written["backprop.html"] = t("train.file_html")
    return written, None


def _print_summary(console, metrics: dict, out: Path, written: dict[str, str],
                   t: Messages | None = None) -> None:
    from rich.table import Table

    t = messages(t)
    console.print(t("train.final", accuracy=metrics["final_test_accuracy"],
                    epochs=metrics["completed_epochs"], seconds=metrics["training_seconds"]))
    console.print(t("train.written_to", path=f"{out.resolve()}{os.sep}"), soft_wrap=True,
                  markup=False)  # one line
    table = Table(box=None, show_header=False, padding=(0, 2))
    for name, what in written.items():
        table.add_row(name, what)
    console.print(table)
