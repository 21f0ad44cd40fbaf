"""`tinygrad-sm train`: check the settings, train (train.py's loop), report, write the files.

The files (metrics.json, curves.png, weights.png, confusion.png, graph.svg, graph.gv,
backprop.html) are made in a staging folder and renamed into --out only once all are made
(files.py): a run that fails, is interrupted or meets a full disk leaves the folder's earlier
files whole. A run that stopped early (diverged, Ctrl-C, SIGTERM, stdout closed or full) still
writes metrics.json with what was learned. metrics.json's "files" lists what the run wrote
with its SHA-256: the next run removes those of them it does not write again, if unchanged,
and nothing else.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Callable

import numpy as np

from . import files, nn, settings, train
from .data import DataError, Split
from .i18n import Messages, messages
from .process import EXIT_ERROR, EXIT_STDOUT_CLOSED, StdoutFailed, exit_status
from .train import DATASETS, MODELS, DataSpec, Diverged, History

OUTPUT_FILES = ("metrics.json", "curves.png", "weights.png", "confusion.png", "graph.svg",
                "graph.gv", "backprop.html")
PARAMETER_BYTES = 8  # float64 while the weights are drawn, before they become float32


def _fail(message: str, code: int = EXIT_ERROR, t: Messages | None = None) -> int:
    print(messages(t)("train.error", message=message), file=sys.stderr)
    return code


def _console():
    """A console whose closed stdout (`train | head -1`) raises BrokenPipeError for
    train_command to handle (rich is imported only when a command runs)."""
    from .terminal import PipeAwareConsole

    return PipeAwareConsole()


def _memory_problem(model_name: str, features: int, classes: int, hidden: int) -> str | None:
    """Why the model's parameters cannot fit in this machine's memory, before allocating them
    (numpy would fail with a traceback, or the system would kill the process)."""
    if model_name != "mlp":
        return None
    count = features * hidden + hidden + hidden * classes + classes
    try:
        memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None
    need = count * PARAMETER_BYTES
    if need <= memory:
        return None
    return (f"--hidden {hidden}: {count:,} parameters need {need / 2**30:.1f} GiB, more than this "
            f"machine's {memory / 2**30:.1f} GiB of memory")


def _no_memory(error: MemoryError, model_name: str, hidden: int, t: Messages) -> int:
    """numpy's _ArrayMemoryError as one line, not its traceback."""
    return _fail(f"--hidden {hidden}: {error}" if model_name == "mlp" else str(error), t=t)


def train_command(data: str = "digits", data_dir: str | None = None, epochs: int | None = None,
                  lr: float | None = None, batch_size: int | None = None, seed: int = 0,
                  out: str | os.PathLike = "out", model_name: str = "softmax",
                  hidden: int = 256, lang: str | None = None, weight_decay: float = 0.0,
                  dropout: float = 0.0) -> int:
    """`tinygrad-sm train`: load the data, train, write metrics.json and the figures to `out`.

    weight_decay=λ: SGD adds λW to each weight's gradient (d2l §4.5). dropout=p (mlp only):
    dropout after the hidden layer while training (§4.6). model_name "linear": d2l §3.2's
    linear regression on synthetic data (linear_command.py; data and data_dir are not used).

    lang: the language of its messages and figures, "zh" or "en" (default: $TINYGRAD_SM_LANG,
    else English); metrics.json is the same in every language.

    None takes the data set's default. Returns the exit status: 0 done; 1 an error or a
    diverged run; 130 Ctrl-C (143 SIGTERM); 141 standard output closed. A run that stops early
    still writes metrics.json (strict JSON) with what was learned, marked "diverged" or
    "interrupted".
    """
    t = messages(lang)
    if data not in DATASETS:
        return _fail(t("train.unknown_data", name=data, choices=", ".join(DATASETS)), t=t)
    if model_name not in MODELS:
        return _fail(t("train.unknown_model", name=model_name, choices=", ".join(MODELS)), t=t)
    for name, value in (("weight_decay", weight_decay), ("dropout", dropout)):
        settings.check(name, value, "train_command")
    if dropout and model_name != "mlp":
        return _fail(t("train.dropout_needs_mlp"), t=t)
    if model_name == "linear":
        from .linear_command import linear_command

        for name, value in (("epochs", epochs), ("batch_size", batch_size), ("lr", lr)):
            if value is not None:
                settings.check(name, value, "train_command")
        for name, value in (("seed", seed), ("out", out)):
            settings.check(name, value, "train_command")
        return linear_command(epochs, lr, batch_size, seed, Path(out), weight_decay, t)
    spec = DATASETS[data]
    epochs = spec.epochs if epochs is None else epochs
    lr = spec.lr if lr is None else lr
    batch_size = spec.batch_size if batch_size is None else batch_size
    for name, value in (("epochs", epochs), ("batch_size", batch_size), ("seed", seed),
                        ("hidden", hidden), ("lr", lr), ("out", out)):
        settings.check(name, value, "train_command")
    run = {"data": data, "data_dir": data_dir, "model": model_name,
           "hidden": hidden if model_name == "mlp" else None, "epochs": epochs, "lr": lr,
           "batch_size": batch_size, "seed": seed, "weight_decay": weight_decay,
           "dropout": dropout if model_name == "mlp" else None}
    out = Path(out)

    try:
        split = train.load(data, data_dir)
    except DataError as e:
        return _fail(e.said(t), t=t)
    pixels = spec.image_shape[0] * spec.image_shape[1]
    if split.num_features != pixels:
        return _fail(t("train.bad_pixels", data=data, h=spec.image_shape[0], w=spec.image_shape[1],
                       pixels=pixels, got=split.num_features), t=t)
    too_big = _memory_problem(model_name, split.num_features, len(spec.class_names), hidden)
    if too_big:
        return _fail(too_big, t=t)
    try:  # before training, not after: a run must not be lost to an unwritable folder
        files.ensure_writable_folder(out)
    except OSError as e:
        return _fail(t("train.cannot_write_folder", out=out, reason=e.strerror or e), t=t)

    try:
        model = train.build_model(model_name, split.num_features, len(spec.class_names), hidden,
                                  seed, dropout)
    except MemoryError as e:
        return _no_memory(e, model_name, hidden, t)
    console = _console()
    history = History()
    position = {"epoch": 0, "batches_done": 0, "batches": 0}  # kept up to date while training
    stopped: str | None = None  # "diverged", "interrupted", "stdout closed" or "stdout failed"
    diverged: Diverged | None = None
    interrupt: KeyboardInterrupt | None = None
    stdout_reason = ""
    try:
        console.print(t("train.header", data=data, train=len(split.y_train),
                        test=len(split.y_test), features=split.num_features,
                        classes=split.num_classes))
        described = (t("train.softmax") if model_name == "softmax" else
                     t("train.mlp", features=split.num_features, hidden=hidden,
                       classes=len(spec.class_names)))
        console.print(t("train.settings", model=described, lr=lr, batch=batch_size, epochs=epochs,
                        seed=seed))
        if weight_decay or dropout:
            console.print(t("train.regularised", wd=weight_decay, p=dropout))
        with np.errstate(all="ignore"):  # a diverging run is reported once, below
            _fit_with_progress(console, split, epochs, lr, batch_size, seed, model, history,
                               position, t, weight_decay)
    except MemoryError as e:
        return _no_memory(e, model_name, hidden, t)
    except Diverged as e:
        stopped, diverged = "diverged", e
        position.update(epoch=e.epoch, batches_done=e.batch - 1, batches=e.batches)
    except KeyboardInterrupt as e:  # Ctrl-C, or SIGTERM (process.Terminated)
        stopped, interrupt = "interrupted", e
    except (StdoutFailed, BrokenPipeError) as e:
        closed = isinstance(e, BrokenPipeError) or e.closed
        stopped = "stdout closed" if closed else "stdout failed"
        stdout_reason = "" if closed else e.reason

    metrics = {
        "settings": run,
        "data": {"train_size": len(split.y_train), "test_size": len(split.y_test),
                 "num_features": split.num_features, "num_classes": len(spec.class_names)},
        "train_loss": history.train_loss,
        "train_accuracy": history.train_accuracy,
        "test_accuracy": history.test_accuracy,
        "seconds_per_epoch": history.seconds_per_epoch,
        # the model as saved: after the last epoch, or where Ctrl-C stopped it; none if diverged
        "final_test_accuracy": (None if diverged else history.test_accuracy[-1] if not stopped
                                else train.accuracy(model, split.X_test, split.y_test)),
        "training_seconds": sum(history.seconds_per_epoch),
        "completed_epochs": len(history.train_loss),
        "diverged": diverged is not None,
        "interrupted": stopped is not None and diverged is None,
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
        reason = (t("train.interrupted") if interrupt else
                  t("train.stdout_closed") if stopped == "stdout closed" else
                  t("train.cannot_write", out="stdout", reason=stdout_reason))
        print(t("train.stopped", reason=reason, place=place, out=f"{out}{os.sep}"), file=sys.stderr)
        return (exit_status(interrupt) if interrupt else
                EXIT_STDOUT_CLOSED if stopped == "stdout closed" else EXIT_ERROR)
    try:
        _print_summary(console, metrics, out, written, t)
    except BrokenPipeError:  # (under cli.main, stdout's failures are StdoutFailed, for it to say)
        return EXIT_STDOUT_CLOSED
    if diagram_error:
        return _fail(t("train.diagrams_failed", error=diagram_error), t=t)
    return 0


def _fit_with_progress(console, split: Split, epochs: int, lr: float, batch_size: int, seed: int,
                       model: nn.Module, history: History,
                       position: dict[str, int], t: Messages | None = None,
                       weight_decay: float = 0.0) -> None:
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
            train.fit(split, epochs, lr, batch_size, seed, on_epoch_start=on_epoch_start,
                      on_epoch_end=on_epoch_end, model=model, history=history,
                      weight_decay=weight_decay)


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
    """The figures that make sense for how the run ended (none of the weights when they
    diverged, no step diagrams when the run was stopped), then metrics.json listing them, all
    made in a staging folder and renamed into `out` together; then the files an earlier run
    wrote and this one did not are removed (only those still as written)."""
    t = messages(t)
    earlier = files.read_manifest(out / "metrics.json")
    with files.Staging(out) as stage:
        written, diagram_error = _make_figures(stage, metrics, model, history, split, spec, seed,
                                               model_name, hidden, t)
        made = {name: files.digest(stage / name) for name in stage.names()}
        (stage / "metrics.json").write_text(files.json_text({**metrics, "files": made}),
                                            encoding="utf-8")
        written = {"metrics.json": t("train.file_metrics"), **written}
        stage.publish(last=["metrics.json"])
    files.remove_stale(out, earlier, keep=made)
    return written, diagram_error


def _make_figures(stage: files.Staging, metrics: dict, model: nn.Module, history: History,
                  split: Split, spec: DataSpec, seed: int, model_name: str, hidden: int,
                  t: Messages) -> tuple[dict[str, str], str | None]:
    from . import plots  # matplotlib loads only once training is done

    written = {}
    if history.train_loss:
        plots.plot_curves(history.train_loss, history.train_accuracy, history.test_accuracy,
                          stage / "curves.png", lang=t)
        written["curves.png"] = t("train.file_curves")
    if metrics["diverged"]:
        return written, None
    num_classes = len(spec.class_names)
    if model_name == "softmax":
        plots.plot_weights(model.W.data, spec.image_shape, spec.class_names, stage / "weights.png",
                           lang=t)
        written["weights.png"] = t("train.file_weights")
    else:
        W1 = model.named_parameters()["W1"]
        plots.plot_first_layer(W1.data, train.first_layer_gradient(model, split), spec.image_shape,
                               stage / "weights.png", lang=t)
        written["weights.png"] = t("train.file_weights_mlp")
    predictions = train.predict(model, split.X_test)
    plots.plot_confusion(train.confusion_matrix(split.y_test, predictions, num_classes),
                         spec.class_names, stage / "confusion.png", lang=t)
    written["confusion.png"] = t("train.file_confusion")
    if metrics["interrupted"]:
        return written, None
    # one step on one training example per class, from the same starting weights as the run
    start_model = train.build_model(model_name, split.num_features, num_classes, hidden, seed,
                                    metrics["settings"]["dropout"] or 0.0)
    batch = train.one_per_class(split.y_train, num_classes)
    try:
        train.write_step_diagrams(start_model, split.X_train[batch], split.y_train[batch],
                                  stage.path, spec.image_shape, lang=t)
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
