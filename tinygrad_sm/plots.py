"""Figures of a training run: learning curves, the learned weights, the confusion matrix.

Uses matplotlib's object API with the Agg canvas (no pyplot, no display, no global state).
Titles are in the learner's language (`lang`); Chinese needs a font with CJK glyphs, see
`cjk_font` (without one the titles stay English, with a one-line note, never boxes).
"""
from __future__ import annotations

import contextlib
import math
import os
import sys
from typing import TYPE_CHECKING, Any, Iterator, Sequence

import numpy as np

from .i18n import Messages, messages
from .pictures import CMAP  # one diverging map for every picture of W and ∂L/∂W

if TYPE_CHECKING:
    from matplotlib.figure import Figure


# system fonts with Chinese glyphs that matplotlib's font manager may already know, best first
CJK_FAMILIES = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Micro Hei",
                "WenQuanYi Zen Hei", "Droid Sans Fallback", "PingFang SC", "Microsoft YaHei",
                "SimHei")
NEEDS_CJK = ("zh",)
_warned: set[str] = set()


def cjk_font() -> str | None:
    """A font family with Chinese glyphs for matplotlib, or None.

    First a system font the font manager already knows (Debian: fonts-noto-cjk or
    fonts-wqy-microhei), else Noto Sans CJK from the optional extra `tinygrad-sm[zh]` (the PyPI
    package manimgx-fonts-cjk), added to the font manager by its path here, on first use.
    """
    from matplotlib import font_manager

    manager = font_manager.fontManager
    known = {entry.name for entry in manager.ttflist}
    for family in CJK_FAMILIES:
        if family in known:
            return family
    try:
        from importlib import resources
        path = resources.files("manimgx_fonts_cjk").joinpath("NotoSansCJK-VF.otf.ttc")
    except ModuleNotFoundError:
        return None
    if not path.is_file():
        return None
    manager.addfont(str(path))
    # the variable font's default instance says weight 100; it is the regular face we draw with
    manager.ttflist = [font_manager.FontEntry(**{**entry.__dict__, "weight": 400})
                       if entry.fname == str(path) else entry for entry in manager.ttflist]
    manager._findfont_cached.cache_clear()
    return "Noto Sans CJK SC"


@contextlib.contextmanager
def language(lang: str | Messages | None = None) -> Iterator[Messages]:
    """The messages to title a figure with, and matplotlib set to draw them.

    Chinese without a CJK font falls back to English titles (and says so once on stderr).
    """
    t = messages(lang)
    if t.lang not in NEEDS_CJK:
        yield t
        return
    family = cjk_font()
    if family is None:
        if t.lang not in _warned:
            _warned.add(t.lang)
            print(t("plot.no_cjk_font"), file=sys.stderr)
        yield messages("en")
        return
    import matplotlib
    # DejaVu Sans first: it has ∂, ŷ, ᵀ; matplotlib falls back to the CJK font glyph by glyph
    with matplotlib.rc_context({"font.family": ["DejaVu Sans", family],
                                "axes.unicode_minus": False}):
        yield t


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
                test_accuracy: Sequence[float], path: str | os.PathLike,
                lang: str | Messages | None = None) -> str:
    """Loss (left) and train/test accuracy (right) by epoch."""
    epochs = np.arange(1, len(train_loss) + 1)
    with language(lang) as t:
        fig = _figure(figsize=(9, 3.6), layout="constrained")
        loss_ax, acc_ax = fig.subplots(1, 2)
        loss_ax.plot(epochs, train_loss, marker=".", color="tab:red")
        loss_ax.set(title=t("plot.loss_title"), xlabel=t("plot.epoch"), ylabel=t("plot.loss"))
        acc_ax.plot(epochs, train_accuracy, marker=".", label=t("plot.train"))
        acc_ax.plot(epochs, test_accuracy, marker=".", label=t("plot.test"))
        acc_ax.set(title=t("plot.accuracy"), xlabel=t("plot.epoch"), ylabel=t("plot.accuracy"))
        acc_ax.legend()
        for ax in (loss_ax, acc_ax):
            ax.grid(alpha=0.3)
        return _save(fig, path)


def plot_weights(W: np.ndarray, image_shape: tuple[int, int], class_names: Sequence[str],
                 path: str | os.PathLike, lang: str | Messages | None = None) -> str:
    """Each class's column of W as an image: red pixels push towards the class, blue away."""
    with language(lang) as t:
        return _save(_weights_figure(W, image_shape, class_names, t), path)


def _weights_figure(W: np.ndarray, image_shape: tuple[int, int], class_names: Sequence[str],
                    t: Messages) -> Figure:
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
            image = ax.imshow(W[:, k].reshape(image_shape), cmap=CMAP, vmin=-limit, vmax=limit)
            ax.set_title(class_names[k], fontsize=10)
    fig.suptitle(t("plot.weights_title"))
    fig.colorbar(image, ax=axes.tolist(), shrink=0.8)
    return fig


def plot_first_layer(W1: np.ndarray, grad_W1: np.ndarray, image_shape: tuple[int, int],
                     path: str | os.PathLike, units: int = 5,
                     lang: str | Messages | None = None) -> str:
    """An MLP's first layer: W1[:, k] (top) and ∂L/∂W1[:, k] (bottom) of the hidden units with
    the largest gradient, each as an image of the input's shape (one colour scale per row)."""
    with language(lang) as t:
        return _save(_first_layer_figure(W1, grad_W1, image_shape, units, t), path)


def _first_layer_figure(W1: np.ndarray, grad_W1: np.ndarray, image_shape: tuple[int, int],
                        units: int, t: Messages) -> Figure:
    chosen = np.argsort(-np.linalg.norm(grad_W1, axis=0))[:units]
    fig = _figure(figsize=(2 * units + 1, 4.8), layout="constrained")
    axes = fig.subplots(2, units, squeeze=False)
    for row, (matrix, label) in enumerate(((W1, "W1"), (grad_W1, "∂L/∂W1"))):
        limit = float(np.abs(matrix[:, chosen]).max()) or 1.0
        for ax, k in zip(axes[row], chosen):
            image = ax.imshow(matrix[:, k].reshape(image_shape), cmap=CMAP, vmin=-limit,
                              vmax=limit)
            ax.set_title(f"{label}[:, {k}]", fontsize=9)
            ax.set_axis_off()
        fig.colorbar(image, ax=axes[row].tolist(), shrink=0.8)
    fig.suptitle(t("plot.first_layer_title"))
    return fig


def confusion_figure(matrix: np.ndarray, class_names: Sequence[str],
                     t: Messages | None = None) -> Figure:
    """Counts of (true class, predicted class) on the test set; class names stand upright."""
    t = messages(t)
    n = len(class_names)
    # upright labels need room: two-word names ("Ankle boot", "T-shirt/top") go on two lines
    upright = [name.replace("/", "/\n").replace(" ", "\n") for name in class_names]
    width = max(len(part) for name in upright for part in name.split("\n"))
    fig = _figure(figsize=(1.6 + max(0.55, 0.09 * width) * n, 1.2 + 0.5 * n), layout="constrained")
    ax = fig.subplots()
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(n), upright, rotation=0, fontsize=9)
    ax.set_yticks(range(n), class_names)
    ax.set(xlabel=t("plot.predicted"), ylabel=t("plot.true"), title=t("plot.confusion_title"))
    threshold = matrix.max() / 2
    for i in range(n):
        for j in range(n):
            ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=8,
                    color="white" if matrix[i, j] > threshold else "black")
    return fig


def plot_confusion(matrix: np.ndarray, class_names: Sequence[str], path: str | os.PathLike,
                   lang: str | Messages | None = None) -> str:
    with language(lang) as t:
        return _save(confusion_figure(matrix, class_names, t), path)
