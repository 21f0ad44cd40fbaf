"""`tinygrad-sm train`: softmax regression by minibatch SGD, with metrics and figures.

The training loop (`train_epoch`) is the engine's fast path: ops build the graph, `backward()`
runs without a trace, SGD gives each parameter a new array p − lr·∂L/∂p (not an in-place
update, so graphs kept for diagrams keep their values); evaluation runs under `no_grad()`.
The benchmark (benchmarks/bench_epoch.py) can call `train_epoch` to time this very code.
"""
from __future__ import annotations

import argparse
import copy
import json
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from . import nn
from .autograd import no_grad
from .cli import positive_float, positive_int, seed_number
from .data import (FASHION_MNIST_CLASSES, DataError, Split, load_digits, load_fashion_mnist,
                   load_mnist, minibatches)
from .optim import SGD
from .tensor import Tensor

HELP = "train softmax regression (digits, Fashion-MNIST or MNIST) and write metrics and figures"

DIGIT_NAMES = tuple(str(k) for k in range(10))


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
    """The data set by its command-line name; raises DataError with a message for the user."""
    if name == "digits":
        if data_dir is not None:
            raise DataError("--data-dir is not used with --data digits (the digits are bundled)")
        return load_digits()
    if name == "fashion-mnist":
        return load_fashion_mnist(data_dir)
    if name == "mnist":
        if data_dir is None:
            raise DataError("--data mnist needs --data-dir DIR: the folder holding the four MNIST "
                            "IDX files (train-images-idx3-ubyte.gz and the others)")
        return load_mnist(data_dir)
    raise DataError(f"unknown data set {name!r}; choose one of {', '.join(DATASETS)}")


# ---- the loop ----

def train_epoch(model: nn.SoftmaxRegression, optimizer: SGD, X: np.ndarray, y: np.ndarray,
                batch_size: int, rng: np.random.Generator,
                on_batch: Callable[[], None] | None = None) -> tuple[float, float]:
    """One pass over (X, y) in shuffled minibatches; returns (mean loss, accuracy).

    Both are averaged over the epoch's minibatches as the weights changed (Dive into Deep
    Learning's convention), so they cost nothing extra: the logits are there anyway.
    """
    total_loss, correct = 0.0, 0
    for X_batch, y_batch in minibatches(X, y, batch_size, rng):
        logits = model(Tensor(X_batch, name="X"))
        loss = nn.cross_entropy(logits, y_batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total_loss += float(loss.data) * len(y_batch)
        correct += int(np.count_nonzero(logits.data.argmax(axis=1) == y_batch))
        if on_batch is not None:
            on_batch()
    return total_loss / len(y), correct / len(y)


def predict(model: nn.SoftmaxRegression, X: np.ndarray) -> np.ndarray:
    """Predicted class of each row of X (int64), without building a graph."""
    with no_grad():
        return model(Tensor(X, name="X")).data.argmax(axis=1)


def accuracy(model: nn.SoftmaxRegression, X: np.ndarray, y: np.ndarray) -> float:
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
        ) -> tuple[nn.SoftmaxRegression, History]:
    """Train a fresh SoftmaxRegression (initialised and shuffled from `seed`) on split.

    num_classes defaults to the largest label + 1 (give it when a class may be absent).

    on_epoch_start(epoch, batches) may return a per-batch callback (a progress bar);
    on_epoch_end(epoch, history) sees the history so far (to print a line).
    """
    model = nn.SoftmaxRegression(split.num_features, num_classes or split.num_classes, seed=seed)
    optimizer = SGD(model.parameters(), lr=lr)
    rng = np.random.default_rng(seed)
    history = History()
    batches = math.ceil(len(split.y_train) / batch_size)
    for epoch in range(1, epochs + 1):
        on_batch = on_epoch_start(epoch, batches) if on_epoch_start else None
        start = time.perf_counter()
        loss, train_acc = train_epoch(model, optimizer, split.X_train, split.y_train,
                                      batch_size, rng, on_batch)
        history.seconds_per_epoch.append(time.perf_counter() - start)
        history.train_loss.append(loss)
        history.train_accuracy.append(train_acc)
        history.test_accuracy.append(accuracy(model, split.X_test, split.y_test))
        if on_epoch_end:
            on_epoch_end(epoch, history)
    return model, history


# ---- one step drawn ----

def write_step_diagrams(model: nn.SoftmaxRegression, X: np.ndarray, y: np.ndarray,
                        out: Path) -> dict[str, Path]:
    """graph.svg and backprop.html for one training step of `model` on the batch (X, y).

    The step runs on a copy of the model with its own W and b (no gradients yet), so the model
    itself is left as it was.
    """
    from . import viz  # diagrams are optional for training; imported only here

    step_model = copy.copy(model)
    step_model.W = Tensor(model.W.data.copy(), requires_grad=True, name="W")
    step_model.b = Tensor(model.b.data.copy(), requires_grad=True, name="b")
    loss = nn.cross_entropy(step_model(Tensor(X, name="X")), y)
    trace = loss.backward(trace=True)
    graph = viz.draw(loss, trace=trace, highlight=step_model.W)
    svg = Path(viz.render(graph, out / "graph.svg"))
    html = Path(trace.save_html(str(out / "backprop.html")))
    return {"graph.svg": svg, "graph.gv": svg.with_suffix(".gv"), "backprop.html": html}


# ---- the command ----

def add_arguments(parser: argparse.ArgumentParser) -> None:
    def default(attr: str) -> str:
        return ", ".join(f"{getattr(spec, attr)} for {name}" for name, spec in DATASETS.items())

    parser.add_argument("--data", choices=list(DATASETS), default="digits",
                        help="data set (default: digits, bundled)")
    parser.add_argument("--data-dir", metavar="DIR", default=None,
                        help="folder of the IDX files (mnist: required; fashion-mnist: default "
                             "/usr/share/datasets/fashion-mnist, then ~/.cache/tinygrad_sm/fashion-mnist)")
    parser.add_argument("--epochs", type=positive_int, metavar="N", default=None,
                        help=f"passes over the training set (default: {default('epochs')})")
    parser.add_argument("--lr", type=positive_float, metavar="LR", default=None,
                        help=f"learning rate (default: {default('lr')})")
    parser.add_argument("--batch-size", type=positive_int, metavar="B", default=None,
                        help=f"minibatch size (default: {default('batch_size')})")
    parser.add_argument("--seed", type=seed_number, metavar="S", default=0,
                        help="seed of the initial weights and the batch order (default: 0)")
    parser.add_argument("--out", metavar="DIR", default="out",
                        help="folder for metrics.json and the figures (default: ./out)")


def _fail(message: str, code: int = 1) -> int:
    print(f"tinygrad-sm train: error: {message}", file=sys.stderr)
    return code


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table
    from threadpoolctl import threadpool_limits

    spec = DATASETS[args.data]
    epochs = spec.epochs if args.epochs is None else args.epochs
    lr = spec.lr if args.lr is None else args.lr
    batch_size = spec.batch_size if args.batch_size is None else args.batch_size
    num_classes = len(spec.class_names)
    out = Path(args.out)
    console = Console()

    try:
        split = load(args.data, args.data_dir)
    except DataError as e:
        return _fail(str(e))
    if split.num_features != spec.image_shape[0] * spec.image_shape[1]:
        return _fail(f"{args.data}: expected images of {spec.image_shape[0]}×{spec.image_shape[1]} "
                     f"= {spec.image_shape[0] * spec.image_shape[1]} pixels, got {split.num_features}")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        return _fail(f"cannot create the output folder {out}: {e.strerror or e}")

    console.print(f"[bold]{args.data}[/]: {len(split.y_train)} training and {len(split.y_test)} "
                  f"test examples, {split.num_features} pixels, {split.num_classes} classes")
    console.print(f"softmax regression, SGD lr {lr}, batch {batch_size}, {epochs} epochs, seed {args.seed}")

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True) as progress:
        def on_epoch_start(epoch: int, batches: int) -> Callable[[], None]:
            task = progress.add_task(f"epoch {epoch}/{epochs}", total=batches)
            return lambda: progress.advance(task)

        def on_epoch_end(epoch: int, history: History) -> None:
            for task in list(progress.task_ids):
                progress.remove_task(task)
            line = (f"epoch {epoch:3d}/{epochs}  train loss {history.train_loss[-1]:.4f}  "
                    f"train acc {history.train_accuracy[-1]:.4f}  "
                    f"test acc {history.test_accuracy[-1]:.4f}  ({history.seconds_per_epoch[-1]:.2f} s)")
            progress.console.print(line, soft_wrap=True, markup=False)

        # one BLAS thread: these matmuls are small, and OpenBLAS's threads spin on a busy core
        # (benchmarks/bench_epoch.py measures both); a limit in the command, not on import
        with threadpool_limits(limits=1, user_api="blas"):
            model, history = fit(split, epochs, lr, batch_size, args.seed, num_classes,
                                 on_epoch_start, on_epoch_end)

    predictions = predict(model, split.X_test)  # for the confusion matrix
    metrics = {
        "settings": {"data": args.data, "data_dir": args.data_dir, "epochs": epochs, "lr": lr,
                     "batch_size": batch_size, "seed": args.seed},
        "data": {"train_size": len(split.y_train), "test_size": len(split.y_test),
                 "num_features": split.num_features, "num_classes": num_classes},
        "train_loss": history.train_loss,
        "train_accuracy": history.train_accuracy,
        "test_accuracy": history.test_accuracy,
        "seconds_per_epoch": history.seconds_per_epoch,
        "final_test_accuracy": history.test_accuracy[-1],  # fit measured it after the last epoch
        "training_seconds": sum(history.seconds_per_epoch),
    }
    from . import plots  # matplotlib loads only once training is done
    written: dict[str, str] = {}
    diagram_error = None
    try:
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
        written["metrics.json"] = "per-epoch loss and accuracy, settings, timings"
        plots.plot_curves(history.train_loss, history.train_accuracy, history.test_accuracy,
                          out / "curves.png")
        written["curves.png"] = "loss and accuracy by epoch"
        plots.plot_weights(model.W.data, spec.image_shape, spec.class_names, out / "weights.png")
        written["weights.png"] = "each class's column of W as an image"
        plots.plot_confusion(confusion_matrix(split.y_test, predictions, num_classes),
                             spec.class_names, out / "confusion.png")
        written["confusion.png"] = "test-set confusion matrix"
        # one step on four training examples, from the same starting weights as the run
        start_model = nn.SoftmaxRegression(split.num_features, num_classes, seed=args.seed)
        try:
            write_step_diagrams(start_model, split.X_train[:4], split.y_train[:4], out)
            written["graph.svg"] = "one training step on 4 examples, the path to ∂L/∂W in red"
            written["graph.gv"] = "its DOT source"
            written["backprop.html"] = "that backward pass, step by step, in a browser"
        except RuntimeError as e:  # no Graphviz renderer: everything else is still useful
            diagram_error = str(e)
    except OSError as e:
        return _fail(f"cannot write to {out}: {e.strerror or e}")

    console.print(f"final test accuracy [bold]{metrics['final_test_accuracy']:.4f}[/] "
                  f"after {epochs} epochs ({metrics['training_seconds']:.2f} s of training)")
    console.print(f"written to {out.resolve()}{os.sep}", soft_wrap=True, markup=False)  # one line
    table = Table(box=None, show_header=False, padding=(0, 2))
    for name, what in written.items():
        table.add_row(name, what)
    console.print(table)
    if diagram_error:
        return _fail(f"graph.svg and backprop.html were not made: {diagram_error}")
    return 0
