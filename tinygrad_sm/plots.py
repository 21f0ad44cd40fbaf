"""Figures of a training run: learning curves, the learned weights, the confusion matrix.

Uses matplotlib's object API with the Agg canvas (no pyplot, no display, no global state).
"""
from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _figure(**options: Any) -> Figure:
    # imported here: importing matplotlib writes its config and font cache (no import side effects)
    from matplotlib.figure import Figure
    return Figure(**options)


def _save(fig: Figure, path: str | os.PathLike) -> str:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=100)
    return str(path)


def plot_curves(train_loss: Sequence[float], train_accuracy: Sequence[float],
                test_accuracy: Sequence[float], path: str | os.PathLike) -> str:
    """Loss (left) and train/test accuracy (right) by epoch."""
    epochs = np.arange(1, len(train_loss) + 1)
    fig = _figure(figsize=(9, 3.6), layout="constrained")
    loss_ax, acc_ax = fig.subplots(1, 2)
    loss_ax.plot(epochs, train_loss, marker=".", color="tab:red")
    loss_ax.set(title="training loss (cross-entropy)", xlabel="epoch", ylabel="loss")
    acc_ax.plot(epochs, train_accuracy, marker=".", label="train (during the epoch)")
    acc_ax.plot(epochs, test_accuracy, marker=".", label="test")
    acc_ax.set(title="accuracy", xlabel="epoch", ylabel="accuracy")
    acc_ax.legend()
    for ax in (loss_ax, acc_ax):
        ax.grid(alpha=0.3)
    return _save(fig, path)


def plot_weights(W: np.ndarray, image_shape: tuple[int, int], class_names: Sequence[str],
                 path: str | os.PathLike) -> str:
    """Each class's column of W as an image: red pixels push towards the class, blue away."""
    num_classes = W.shape[1]
    cols = min(num_classes, 5)
    rows = math.ceil(num_classes / cols)
    fig = _figure(figsize=(2 * cols, 2.2 * rows + 0.4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    limit = float(np.abs(W).max()) or 1.0  # one symmetric scale for all classes
    image = None
    for k, ax in enumerate(axes):
        ax.set_axis_off()
        if k < num_classes:
            image = ax.imshow(W[:, k].reshape(image_shape), cmap="RdBu_r", vmin=-limit, vmax=limit)
            ax.set_title(class_names[k], fontsize=10)
    fig.suptitle("weights W[:, k] of each class, as images")
    fig.colorbar(image, ax=axes.tolist(), shrink=0.8)
    return _save(fig, path)


def plot_first_layer(W1: np.ndarray, grad_W1: np.ndarray, image_shape: tuple[int, int],
                     path: str | os.PathLike, units: int = 5) -> str:
    """An MLP's first layer: W1[:, k] (top) and ∂L/∂W1[:, k] (bottom) of the hidden units with
    the largest gradient, each as an image of the input's shape (one colour scale per row)."""
    chosen = np.argsort(-np.linalg.norm(grad_W1, axis=0))[:units]
    fig = _figure(figsize=(2 * units + 1, 4.8), layout="constrained")
    axes = fig.subplots(2, units, squeeze=False)
    for row, (matrix, label) in enumerate(((W1, "W1"), (grad_W1, "∂L/∂W1"))):
        limit = float(np.abs(matrix[:, chosen]).max()) or 1.0
        for ax, k in zip(axes[row], chosen):
            image = ax.imshow(matrix[:, k].reshape(image_shape), cmap="RdBu_r", vmin=-limit,
                              vmax=limit)
            ax.set_title(f"{label}[:, {k}]", fontsize=9)
            ax.set_axis_off()
        fig.colorbar(image, ax=axes[row].tolist(), shrink=0.8)
    fig.suptitle("first layer of the MLP: weights and gradient of hidden units, as images")
    return _save(fig, path)


def confusion_figure(matrix: np.ndarray, class_names: Sequence[str]) -> Figure:
    """Counts of (true class, predicted class) on the test set; class names stand upright."""
    n = len(class_names)
    # upright labels need room: two-word names ("Ankle boot", "T-shirt/top") go on two lines
    upright = [name.replace("/", "/\n").replace(" ", "\n") for name in class_names]
    width = max(len(part) for name in upright for part in name.split("\n"))
    fig = _figure(figsize=(1.6 + max(0.55, 0.09 * width) * n, 1.2 + 0.5 * n), layout="constrained")
    ax = fig.subplots()
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(n), upright, rotation=0, fontsize=9)
    ax.set_yticks(range(n), class_names)
    ax.set(xlabel="predicted", ylabel="true", title="confusion matrix (test set)")
    threshold = matrix.max() / 2
    for i in range(n):
        for j in range(n):
            ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=8,
                    color="white" if matrix[i, j] > threshold else "black")
    return fig


def plot_confusion(matrix: np.ndarray, class_names: Sequence[str], path: str | os.PathLike) -> str:
    return _save(confusion_figure(matrix, class_names), path)
