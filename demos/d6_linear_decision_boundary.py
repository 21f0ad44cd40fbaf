"""Softmax regression is a linear model: its decision regions are cut by straight lines from W and b.

    python demos/d6_linear_decision_boundary.py [--out DIR] [--quick]

Class i beats class j where oᵢ > oⱼ, that is where (wᵢ − wⱼ)·x + (bᵢ − bⱼ) > 0: one side of a line.
Softmax keeps the order of the scores, so the class with the largest probability is the class with
the largest score; its region, where that score beats every other, is an intersection of half-planes:
convex, and cut by straight lines.
"""
from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np

import _common as c
import tinygrad_sm.nn as nn
from tinygrad_sm import Tensor, no_grad
from tinygrad_sm.optim import SGD

NAME = "d6_linear_decision_boundary"
TITLE = "Softmax regression draws straight lines"
K = f"demo.{NAME}."  # this demo's messages in the catalogue
CENTERS = np.array([[-2.0, -1.0], [2.0, -1.2], [0.2, 2.0]])
COLORS = ["tab:blue", "tab:orange", "tab:green"]
PAIRS = list(itertools.combinations(range(3), 2))


def make_data(per_class: int = 60, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three Gaussian blobs in 2-D (fixed seed)."""
    rng = np.random.default_rng(seed)
    X = np.concatenate([rng.normal(center, 0.9, size=(per_class, 2)) for center in CENTERS])
    y = np.repeat(np.arange(3), per_class)
    return X, y


def fit(X: np.ndarray, y: np.ndarray, steps: int, lr: float = 0.5) -> nn.SoftmaxRegression:
    """Full-batch gradient descent on cross-entropy, float64."""
    model = nn.SoftmaxRegression(2, 3, seed=0, dtype=np.float64)
    optimizer = SGD(model.parameters(), lr=lr)
    data = Tensor(X, name="X")
    for _ in range(steps):
        optimizer.zero_grad()
        nn.cross_entropy(model(data), y).backward()
        optimizer.step()
    return model


def line_value(W: np.ndarray, b: np.ndarray, i: int, j: int, points: np.ndarray) -> np.ndarray:
    """(wᵢ − wⱼ)·x + (bᵢ − bⱼ): positive where class i's score beats class j's."""
    return points @ (W[:, i] - W[:, j]) + (b[i] - b[j])


def class_by_lines(W: np.ndarray, b: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The class that wins every pairwise comparison (−1 where none does: exact ties)."""
    winner = np.full(len(points), -1)
    for k in range(3):
        wins_all = np.all([line_value(W, b, k, j, points) > 0 for j in range(3) if j != k], axis=0)
        winner[wins_all] = k
    return winner


def run(out_dir: Path, quick: bool = False) -> dict:
    out_dir = c.ensure_dir(out_dir)
    X, y = make_data()
    model = fit(X, y, steps=150 if quick else 400)
    W, b = model.W.data, model.b.data
    resolution = 161 if quick else 401
    lo, hi = X.min(axis=0) - 1.0, X.max(axis=0) + 1.0
    xs, ys = np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution)
    gx, gy = np.meshgrid(xs, ys)
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1)
    with no_grad():
        by_softmax = np.argmax(model(grid).softmax().data, axis=1)  # what the model predicts
        train_accuracy = float(np.mean(np.argmax(model(X).data, axis=1) == y))
    by_lines = class_by_lines(W, b, grid)
    regions = by_softmax.reshape(gx.shape)

    # Every pair of neighbouring grid points with different classes i, j must straddle line ij.
    cell = float(np.hypot(xs[1] - xs[0], ys[1] - ys[0]))
    distances, straddles = [], []
    corner = np.stack([gx, gy], -1)  # the (x, y) of every grid point
    for a, b_ in ((regions[:, :-1], regions[:, 1:]), (regions[:-1, :], regions[1:, :])):
        differ = a != b_
        pa = corner[: a.shape[0], : a.shape[1]][differ]
        pb = corner[-a.shape[0]:, -a.shape[1]:][differ]
        for point, other, i, j in zip(pa, pb, a[differ], b_[differ]):
            straddles.append(line_value(W, b, i, j, np.stack([point, other])).prod() <= 0)
            normal = W[:, i] - W[:, j]
            distances.append(abs(line_value(W, b, i, j, point[None])[0]) / np.linalg.norm(normal))
    # Convex regions: the midpoint of two points of one class is in that class too.
    pairs_rng = np.random.default_rng(1)
    first, second = pairs_rng.integers(len(grid), size=(2, 2000 if quick else 20000))
    same = by_softmax[first] == by_softmax[second]
    with no_grad():
        midpoint_class = np.argmax(model((grid[first] + grid[second])[same] / 2).data, axis=1)
    # The three lines meet in one point: (o₀ − o₁) + (o₁ − o₂) = o₀ − o₂.
    A = np.stack([W[:, 0] - W[:, 1], W[:, 0] - W[:, 2]])
    meet = np.linalg.solve(A, -np.array([b[0] - b[1], b[0] - b[2]]))
    results = {
        "W": W.copy(), "b": b.copy(), "train_accuracy": train_accuracy,
        "grid_points": len(grid),
        "agreement": float(np.mean(by_softmax == by_lines)),
        "ties": int(np.sum(by_lines == -1)),
        "boundary_pixels": len(distances),
        "straddle_fraction": float(np.mean(straddles)),
        "max_boundary_distance_in_cells": float(max(distances) / cell),
        "convex_pairs": int(same.sum()),
        "convex_fraction": float(np.mean(midpoint_class == by_softmax[first][same])),
        "meeting_point": meet,
        "meeting_point_residual": float(abs(line_value(W, b, 1, 2, meet[None])[0])),
    }
    results["files"] = [_plot(out_dir / "decision_regions.png", X, y, W, b, xs, ys, regions, meet)]
    return results


def _plot(path: Path, X, y, W, b, xs, ys, regions, meet) -> Path:
    plt = c.plt
    from matplotlib.colors import ListedColormap

    fig, ax = plt.subplots(figsize=(7, 6.2))
    pastel = ListedColormap(["#c6dbef", "#fdd0a2", "#c7e9c0"])
    ax.imshow(regions, origin="lower", extent=(xs[0], xs[-1], ys[0], ys[-1]), cmap=pastel,
              vmin=0, vmax=2, aspect="auto", interpolation="nearest")
    for k in range(3):
        ax.scatter(*X[y == k].T, s=14, color=COLORS[k], edgecolor="white", linewidth=0.4,
                   label=c.plot_tr(K + "class", k=k))
    t = np.linspace(-30, 30, 6001)
    for i, j in PAIRS:
        normal = W[:, i] - W[:, j]
        direction = np.array([-normal[1], normal[0]]) / np.linalg.norm(normal)
        base = -(b[i] - b[j]) * normal / (normal @ normal)  # the point of the line nearest 0
        points = base + t[:, None] * direction
        inside = ((points[:, 0] >= xs[0]) & (points[:, 0] <= xs[-1]) &
                  (points[:, 1] >= ys[0]) & (points[:, 1] <= ys[-1]))
        k = 3 - i - j  # the third class
        active = line_value(W, b, i, k, points) > 0  # where i and j tie above k: a real border
        ax.plot(*points[inside].T, color="black", lw=0.8, ls="--", alpha=0.6)
        ax.plot(*np.where(active[:, None] & inside[:, None], points, np.nan).T, color="black", lw=2)
        shown = points[inside & active] if np.any(inside & active) else points[inside]
        label_at = shown[int(len(shown) * 0.6)]
        ax.annotate(f"o{i} = o{j}", label_at, fontsize=9,
                    bbox={"boxstyle": "round", "fc": "white", "alpha": 0.8})
    ax.plot(*meet, "k*", ms=12, label=c.plot_tr(K + "meet_label"))
    ax.set(xlim=(xs[0], xs[-1]), ylim=(ys[0], ys[-1]), xlabel="x₁", ylabel="x₂")
    ax.set_title(c.plot_tr(K + "plot_title"), fontsize=10)
    ax.legend(loc="upper right", fontsize=8)
    return c.save_figure(fig, path)


def report(r: dict) -> None:
    W, b = r["W"], r["b"]
    c.say(c.tr(K + "trained", accuracy=r["train_accuracy"]))
    c.table("", [c.tr(K + "col_class"), c.tr(K + "col_w"), "bₖ"],
            [[k, c.fmt(W[:, k], 3), f"{b[k]:+.3f}"] for k in range(3)])
    rows = []
    for i, j in PAIRS:
        d, e = W[:, i] - W[:, j], b[i] - b[j]
        rows.append([f"o{i} = o{j}", f"{d[0]:+.3f}·x₁ {d[1]:+.3f}·x₂ {e:+.3f} = 0"])
    c.table(c.tr(K + "lines"), [c.tr(K + "col_border"), "(wᵢ − wⱼ)·x + (bᵢ − bⱼ) = 0"], rows)
    c.say(c.tr(K + "agreement", points=r["grid_points"], agreement=r["agreement"], ties=r["ties"],
               pairs=r["convex_pairs"], convex=r["convex_fraction"]))
    c.say(c.tr(K + "straddle", pixels=r["boundary_pixels"], fraction=r["straddle_fraction"],
               distance=r["max_boundary_distance_in_cells"]))
    m = r["meeting_point"]
    c.say(c.tr(K + "meet", x=m[0], y=m[1], residual=r["meeting_point_residual"]))


def main(argv=None) -> int:
    return c.main(NAME, TITLE, run, report, argv)


if __name__ == "__main__":
    sys.exit(main())
