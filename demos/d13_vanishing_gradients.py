"""Vanishing gradients (d2l §4.1, §4.8): per-layer gradient norms fall by orders of magnitude through sigmoids, not through ReLUs with Xavier initialisation.

    python demos/d13_vanishing_gradients.py [--out DIR]

First the activation functions of §4.1 and their derivatives as the engine computes them
(backward through the sigmoid, tanh and relu ops): σ′ = σ(1 − σ) is at most 0.25. Then a stack
of 10 hidden layers of 64 units on one batch: ‖∂L/∂Wₖ‖ for each layer k. Through sigmoids each
layer multiplies the gradient by at most 0.25 times its weights, so it falls by orders of
magnitude toward the input; through ReLUs it keeps its size from layer to layer, and Xavier's
U(−a, a), a = √(6/(n_in + n_out)), keeps the scale itself (with N(0, 0.01²) every norm is tiny).
"""
from __future__ import annotations

import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import _common as c
import tinygrad_sm.nn as nn
from tinygrad_sm import Tensor

NAME = "d13_vanishing_gradients"
TITLE = "Vanishing gradients: sigmoid vs ReLU, and Xavier initialisation"
K = f"demo.{NAME}."
DEPTH, WIDTH, BATCH, CLASSES = 10, 64, 128, 10
CONFIGS = {"sigmoid + Xavier": ("sigmoid", "xavier"), "ReLU + N(0, 0.01²)": ("relu", "normal"),
           "ReLU + Xavier": ("relu", "xavier")}   # label: (activation, initialisation)
ACTIVATIONS = {"sigmoid": nn.Sigmoid, "relu": nn.ReLU, "tanh": nn.Tanh}
GRID = np.linspace(-6, 6, 241)


def activation_curves() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each activation's values and derivative on GRID, the derivative from the engine's backward."""
    curves = {}
    for name, function in (("sigmoid", nn.sigmoid), ("tanh", nn.tanh),
                           ("relu", lambda t: t.relu())):
        x = Tensor(GRID.copy(), requires_grad=True, name="x")
        out = function(x)
        out.sum().backward()
        curves[name] = (out.data.copy(), x.grad.copy())
    return curves


def batch() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.normal(size=(BATCH, WIDTH)), rng.integers(0, CLASSES, BATCH)


def deep_stack(activation: str, init: str) -> nn.Sequential:
    """DEPTH hidden layers (Linear then the activation), then a Linear to the classes (float64)."""
    rng = np.random.default_rng(1)
    layers: list[nn.Module] = []
    for _ in range(DEPTH):
        layers += [nn.Linear(WIDTH, WIDTH, seed=rng, dtype=np.float64, init=init),
                   ACTIVATIONS[activation]()]
    layers.append(nn.Linear(WIDTH, CLASSES, seed=rng, dtype=np.float64, init=init))
    return nn.Sequential(*layers)


def layer_norms(activation: str, init: str) -> tuple[list[float], nn.Sequential]:
    """‖∂L/∂Wₖ‖ for k = 1 (next to the input) … DEPTH + 1, for cross-entropy on the batch."""
    X, y = batch()
    model = deep_stack(activation, init)
    nn.cross_entropy(model(X), y).backward()
    return [float(np.linalg.norm(m.W.grad)) for m in model.layers if isinstance(m, nn.Linear)], model


def run(out_dir: Path, quick: bool = False) -> dict:
    out_dir = c.ensure_dir(out_dir)
    curves = activation_curves()
    norms = {label: layer_norms(*config)[0] for label, config in CONFIGS.items()}
    files = [_activation_picture(curves, out_dir / "activations.png"),
             _norm_picture(norms, out_dir / "gradient_norms.png")]
    return {"curves": curves, "norms": norms, "files": files,
            "sigmoid_max_slope": float(curves["sigmoid"][1].max())}


def _activation_picture(curves: dict, path: Path) -> Path:
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    for name, (value, slope) in curves.items():
        left.plot(GRID, value, label=name)
        right.plot(GRID, slope, label=name)
    left.set_title(c.plot_tr(K + "plot_functions"))
    right.set_title(c.plot_tr(K + "plot_derivatives"))
    for ax in (left, right):
        ax.set_xlabel("x")
        ax.legend()
    return c.save_figure(fig, path)


def _norm_picture(norms: dict, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(7, 4))
    layers = range(1, DEPTH + 2)
    for label, values in norms.items():
        ax.semilogy(layers, values, marker="o", label=label)
    ax.set_xticks(list(layers))
    ax.set_xlabel(c.plot_tr(K + "plot_layer"))
    ax.set_ylabel("‖∂L/∂Wₖ‖")
    ax.legend()
    return c.save_figure(fig, path)


def report(r: dict) -> None:
    c.say(c.tr(K + "activations", slope=r["sigmoid_max_slope"]))
    c.say(c.tr(K + "setup", depth=DEPTH, width=WIDTH, batch=BATCH))
    names = list(r["norms"])
    rows = [[str(k + 1), *(f"{r['norms'][n][k]:.2e}" for n in names)] for k in range(DEPTH + 1)]
    c.table(c.tr(K + "table"), [c.tr(K + "col_layer"), *names], rows)
    for name in names:
        values = r["norms"][name]
        c.say(c.tr(K + "ratio", name=name, first=values[0], last=values[-1],
                   ratio=values[-1] / values[0]))
    c.say(c.tr(K + "verdict"))


def main(argv=None) -> int:
    return c.main(NAME, TITLE, run, report, argv)


if __name__ == "__main__":
    sys.exit(main())
