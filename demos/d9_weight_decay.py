"""Weight decay (d2l §4.5): 200 inputs, 20 training examples; λ = 3 lowers the test loss and shrinks ‖w‖.

    python demos/d9_weight_decay.py [--out DIR]

The book's high-dimensional linear regression: y = 0.05 + Σᵢ 0.01·xᵢ + ε with 200 inputs,
ε ~ N(0, 0.01²), only 20 training examples (100 test), batch 5, lr 0.003, 100 epochs. With
λ = 0 the model fits the 20 examples and not the rest; with λ = 3 (SGD's weight_decay: each step
adds λw to ∂L/∂w) ‖w‖ stays small and the test loss is lower. Putting λ/2 ‖w‖² in the loss
(nn.l2_penalty) instead gives the same weights.
"""
from __future__ import annotations

import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import _common as c
import tinygrad_sm.nn as nn
from tinygrad_sm import Tensor, regression
from tinygrad_sm.data import minibatches, synthetic_regression
from tinygrad_sm.optim import SGD

NAME = "d9_weight_decay"
TITLE = "Weight decay: test loss and ‖w‖ with λ = 0 and λ = 3"
K = f"demo.{NAME}."
INPUTS, N_TRAIN, N_TEST = 200, 20, 100
TRUE_W, TRUE_B, NOISE = [0.01] * INPUTS, 0.05, 0.01
LR, BATCH, EPOCHS = 0.003, 5, 100
LAMBDAS = (0.0, 3.0)
SEED = 0  # train data from SEED, test data from SEED + 1, the start of w from SEED + 2


def book_data() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """(train, test) as in d2l §4.5 (float64): 20 and 100 examples of 200 inputs."""
    train = synthetic_regression(TRUE_W, TRUE_B, NOISE, N_TRAIN, seed=SEED, dtype=np.float64)
    test = synthetic_regression(TRUE_W, TRUE_B, NOISE, N_TEST, seed=SEED + 1, dtype=np.float64)
    return train, test


def start_model() -> nn.Linear:
    """w ~ N(0, 1) as the book's init_params (the small default would hide the effect), b = 0."""
    model = regression.linear_model(INPUTS, seed=SEED, dtype=np.float64)
    # its own seed: drawn from the training data's seed, w would be X's first row (in its span)
    model.W.data = np.random.default_rng(SEED + 2).normal(0.0, 1.0, size=(INPUTS, 1))
    return model


def with_penalty_in_the_graph(train, lam: float) -> nn.Linear:
    """The same training with J = L + λ/2 ‖w‖² (nn.l2_penalty) and plain SGD."""
    model = start_model()
    optimizer = SGD(model.parameters(), lr=LR)
    rng = np.random.default_rng(SEED)
    for _ in range(EPOCHS):
        for X, y in minibatches(*train, BATCH, rng):
            J = nn.squared_loss(model(Tensor(X, name="X")), Tensor(y, name="y")) \
                + nn.l2_penalty([model.W], lam)
            optimizer.zero_grad()
            J.backward()
            optimizer.step()
    return model


def run(out_dir: Path, quick: bool = False) -> dict:
    out_dir = c.ensure_dir(out_dir)
    train, test = book_data()
    runs = {}
    for lam in LAMBDAS:
        model, history = regression.fit_linear(*train, EPOCHS, LR, BATCH, SEED, weight_decay=lam,
                                               test=test, model=start_model())
        runs[lam] = {"train_loss": history.train_loss, "test_loss": history.test_loss,
                     "w_norm": history.w_norm, "w": model.W.data.copy(), "b": float(model.b.data[0])}
    graph_version = with_penalty_in_the_graph(train, LAMBDAS[-1])
    files = [_picture(runs, out_dir / "weight_decay.png")]
    return {"runs": runs, "start_norm": float(np.linalg.norm(start_model().W.data)),
            "graph_vs_optimizer": float(np.abs(graph_version.W.data - runs[LAMBDAS[-1]]["w"]).max()),
            "files": files}


def _picture(runs: dict, path: Path) -> Path:
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    epochs = range(1, EPOCHS + 1)
    for lam, run in runs.items():
        axes[0].semilogy(epochs, run["train_loss"], label=f"λ = {lam:g}")
        axes[1].semilogy(epochs, run["test_loss"], label=f"λ = {lam:g}")
        axes[2].plot(epochs, run["w_norm"], label=f"λ = {lam:g}")
    for ax, key in zip(axes, ("plot_train", "plot_test", "plot_norm")):
        ax.set_title(c.plot_tr(K + key))
        ax.set_xlabel(c.plot_tr(K + "plot_epoch"))
        ax.legend()
    return c.save_figure(fig, path)


def report(r: dict) -> None:
    c.say(c.tr(K + "setup", inputs=INPUTS, n_train=N_TRAIN, n_test=N_TEST, lr=LR, batch=BATCH,
               epochs=EPOCHS, start=r["start_norm"]))
    rows = [[f"{lam:g}", f"{run['train_loss'][-1]:.6f}", f"{run['test_loss'][-1]:.6f}",
             f"{run['w_norm'][-1]:.4f}"] for lam, run in r["runs"].items()]
    c.table(c.tr(K + "table", epochs=EPOCHS), ["λ", c.tr(K + "col_train"), c.tr(K + "col_test"), "‖w‖"],
            rows)
    off, on = (r["runs"][lam] for lam in LAMBDAS)
    c.say(c.tr(K + "verdict", test_off=off["test_loss"][-1], test_on=on["test_loss"][-1],
               norm_off=off["w_norm"][-1], norm_on=on["w_norm"][-1]))
    c.say(c.tr(K + "graph", difference=r["graph_vs_optimizer"]))


def main(argv=None) -> int:
    return c.main(NAME, TITLE, run, report, argv)


if __name__ == "__main__":
    sys.exit(main())
