"""Why softmax regression uses cross-entropy: squared error's gradient vanishes when confidently wrong.

    python demos/d4_cross_entropy_vs_squared_error.py [--out DIR] [--quick]

Part 1: ∂L/∂o for both losses as the probability of the true class goes from 1 to 0, the general
        form of squared error's gradient, and the confidently wrong case (most mass on one wrong class).
Part 2: train the same model from the same start with each loss and compare.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import _common as c
import tinygrad_sm.nn as nn
from d3_softmax_jacobian import jacobian_by_formula
from tinygrad_sm import Tensor, no_grad
from tinygrad_sm.data import load_digits, minibatches
from tinygrad_sm.optim import SGD
from tinygrad_sm.train import accuracy

NAME = "d4_cross_entropy_vs_squared_error"
TITLE = "Cross-entropy vs squared error"
K = f"demo.{NAME}."  # this demo's messages in the catalogue
CLASSES = 10
TRUE = 0
SETTINGS = {"lr": 0.1, "batch_size": 64, "epochs": 10, "seed": 0}
QUICK_EPOCHS = 3


# ---- part 1: the gradient as a function of p = ŷ[true] ----

def logits_for(p: float) -> np.ndarray:
    """Logits whose softmax puts p on the true class and spreads 1 − p evenly over the rest."""
    probs = np.full(CLASSES, (1 - p) / (CLASSES - 1))
    probs[TRUE] = p
    return np.log(probs)


def engine_gradients(p: float) -> tuple[np.ndarray, np.ndarray]:
    """∂L/∂o by the engine for the note's L = ½Σᵢ(ŷᵢ − yᵢ)² and for cross-entropy."""
    return engine_gradients_at(logits_for(p), TRUE)


def formula_gradients(p: float) -> tuple[np.ndarray, np.ndarray]:
    """The note's closed forms: Σᵢ(ŷᵢ − yᵢ)ŷᵢ(δᵢⱼ − ŷⱼ) and ŷ − y."""
    y_hat = Tensor(logits_for(p)).softmax().data
    y = np.eye(CLASSES)[TRUE]
    return (y_hat - y) @ jacobian_by_formula(logits_for(p)), y_hat - y


def squared_error_gradient(y_hat: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The general form gⱼ = ŷⱼ[(ŷⱼ − yⱼ) − Σᵢ ŷᵢ(ŷᵢ − yᵢ)]: entry j carries its own ŷⱼ."""
    return y_hat * ((y_hat - y) - np.sum(y_hat * (y_hat - y)))


def note_typo_gradient(y_hat: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The note's last formula as printed, Σᵢ(ŷᵢ − yᵢ)ŷᵢ(δᵢⱼ − ŷᵢ): a typo for ŷᵢ(δᵢⱼ − ŷⱼ)."""
    jacobian_as_printed = y_hat[:, None] * (np.eye(len(y_hat)) - y_hat[:, None])
    return (y_hat - y) @ jacobian_as_printed


def confidently_wrong_probs(p_true: float = 0.001, p_wrong: float = 0.6,
                            wrong: int = 1) -> np.ndarray:
    """Most mass on ONE wrong class (what the note means), the rest spread over the others."""
    probs = np.full(CLASSES, (1 - p_true - p_wrong) / (CLASSES - 2))
    probs[TRUE], probs[wrong] = p_true, p_wrong
    return probs


def engine_gradients_at(logits: np.ndarray, true: int) -> tuple[np.ndarray, np.ndarray]:
    """∂L/∂o by the engine at any logits: ½Σᵢ(ŷᵢ − yᵢ)² and cross-entropy."""
    y = np.eye(CLASSES)[true][None, :]
    o = Tensor(logits[None, :], requires_grad=True, name="o")
    (((o.softmax() - y) ** 2).sum() * 0.5).backward()
    squared = o.grad[0]
    o = Tensor(logits[None, :], requires_grad=True, name="o")
    nn.cross_entropy(o, np.array([true])).backward()
    return squared, o.grad[0]


def general_form_check(points: int) -> dict:
    """Engine vs the general form (and vs the note's typo) at random logits and true classes."""
    rng = np.random.default_rng(1)
    worst, typo_gap = 0.0, np.inf
    for _ in range(points):
        logits, true = rng.normal(0.0, 2.0, size=CLASSES), int(rng.integers(CLASSES))
        squared, _ = engine_gradients_at(logits, true)
        y_hat, y = Tensor(logits).softmax().data, np.eye(CLASSES)[true]
        worst = max(worst, float(np.abs(squared - squared_error_gradient(y_hat, y)).max()))
        typo_gap = min(typo_gap, float(np.abs(squared - note_typo_gradient(y_hat, y)).max()))
    return {"points": points, "general_vs_engine": worst, "typo_vs_engine_min": typo_gap}


# ---- part 2: training with each loss ----

def squared_error_loss(logits: Tensor, labels: np.ndarray) -> Tensor:
    """nn.mse_loss on the softmax outputs vs one-hot labels, scaled by K/2.

    mse_loss is a mean over n·K numbers; the note's L = ½Σᵢ(ŷᵢ − yᵢ)² sums over the K classes.
    Times K/2 it becomes the note's L averaged over the batch, the same averaging cross_entropy
    uses, so one learning rate means the same thing for both losses.
    """
    target = nn.one_hot(labels, CLASSES, dtype=logits.dtype)
    return nn.mse_loss(logits.softmax(), target) * (CLASSES / 2)


def train(loss_name: str, data, epochs: int) -> dict:
    """SGD from the same start (seed), same minibatch order, same lr: only the loss differs."""
    loss_fn = nn.cross_entropy if loss_name == "cross_entropy" else squared_error_loss
    model = nn.SoftmaxRegression(data.X_train.shape[1], CLASSES, seed=SETTINGS["seed"])
    optimizer = SGD(model.parameters(), lr=SETTINGS["lr"])
    order = np.random.default_rng(SETTINGS["seed"])
    history = {"loss": [], "train_accuracy": [], "test_accuracy": []}
    with no_grad():
        history["initial_loss"] = loss_fn(model(data.X_train), data.y_train).item()
    for _ in range(epochs):
        total, seen = 0.0, 0
        for X, y in minibatches(data.X_train, data.y_train, SETTINGS["batch_size"], order):
            loss = loss_fn(model(X), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total, seen = total + loss.item() * len(y), seen + len(y)
        history["loss"].append(total / seen)
        history["train_accuracy"].append(accuracy(model, data.X_train, data.y_train))
        history["test_accuracy"].append(accuracy(model, data.X_test, data.y_test))
    with no_grad():
        probs = model(data.X_train).softmax().data
    history["mean_p_true"] = float(np.mean(probs[np.arange(len(probs)), data.y_train]))
    return history


def run(out_dir: Path, quick: bool = False) -> dict:
    out_dir = c.ensure_dir(out_dir)
    ps = np.linspace(0.999, 0.001, 60 if quick else 200)
    engine = [engine_gradients(p) for p in ps]
    formula = [formula_gradients(p) for p in ps]
    se = np.array([g[0] for g in engine])
    ce = np.array([g[1] for g in engine])
    results: dict = {
        "p": ps, "se_grad": se, "ce_grad": ce,
        "se_engine_vs_formula": float(np.abs(se - np.array([f[0] for f in formula])).max()),
        "ce_engine_vs_formula": float(np.abs(ce - np.array([f[1] for f in formula])).max()),
    }
    for p in (0.9, 0.5, 0.1, 0.01):
        s, e = engine_gradients(p)
        results[f"at_{p}"] = {"se_norm": float(np.linalg.norm(s)), "ce_norm": float(np.linalg.norm(e)),
                              "se_true": float(s[TRUE]), "ce_true": float(e[TRUE])}
    results["general_form"] = general_form_check(50 if quick else 200)
    probs = confidently_wrong_probs()
    s, e = engine_gradients_at(np.log(probs), TRUE)
    results["one_wrong_class"] = {"probs": probs, "se_grad": s, "ce_grad": e,
                                  "se_true": float(s[TRUE]), "ce_true": float(e[TRUE]),
                                  "se_max_abs": float(np.abs(s).max()),
                                  "se_max_abs_class": int(np.abs(s).argmax())}

    data = load_digits()
    epochs = QUICK_EPOCHS if quick else SETTINGS["epochs"]
    results["epochs"] = epochs
    results["settings"] = dict(SETTINGS, epochs=epochs)
    results["cross_entropy"] = train("cross_entropy", data, epochs)
    results["squared_error"] = train("squared_error", data, epochs)
    results["files"] = [_plot(out_dir / "ce_vs_se.png", results)]
    return results


def _plot(path: Path, r: dict) -> Path:
    plt = c.plt
    fig, (g, l, a) = plt.subplots(1, 3, figsize=(15, 4.3))
    p = r["p"]
    g.plot(p, np.linalg.norm(r["ce_grad"], axis=1), color="tab:blue", lw=2,
           label=c.plot_tr(K + "plot_ce_norm"))
    g.plot(p, np.linalg.norm(r["se_grad"], axis=1), color="tab:red", lw=2,
           label=c.plot_tr(K + "plot_se_norm"))
    g.plot(p, np.abs(r["se_grad"][:, TRUE]), color="tab:red", lw=1, ls="--",
           label=c.plot_tr(K + "plot_se_true"))
    g.invert_xaxis()
    g.set(title=c.plot_tr(K + "plot_grad_title"), xlabel=c.plot_tr(K + "plot_p"),
          ylabel=c.plot_tr(K + "plot_grad_size"))
    g.annotate(c.plot_tr(K + "plot_note"), (0.03, 0.02), xytext=(0.45, 0.35),
               arrowprops={"arrowstyle": "->"}, fontsize=9)
    g.legend(fontsize=8, loc="upper left")
    epochs = np.arange(1, r["epochs"] + 1)
    for key, color, label in (("cross_entropy", "tab:blue", c.plot_tr(K + "plot_ce")),
                              ("squared_error", "tab:red", c.plot_tr(K + "plot_se"))):
        h = r[key]
        relative = np.array([h["initial_loss"]] + h["loss"]) / h["initial_loss"]
        l.plot(np.arange(len(relative)), relative, "o-", color=color,
               label=f"{label}: {h['initial_loss']:.3f} → {h['loss'][-1]:.3f}")
        a.plot(epochs, h["test_accuracy"], "o-", color=color, label=c.plot_tr(K + "plot_test", label=label))
        a.plot(epochs, h["train_accuracy"], ":", color=color, label=c.plot_tr(K + "plot_train", label=label))
    l.set(title=c.plot_tr(K + "plot_loss_title"), xlabel=c.plot_tr(K + "plot_epoch"),
          ylabel=c.plot_tr(K + "plot_relative"), ylim=(0, 1.05))
    l.legend(fontsize=8)
    s = r["settings"]
    a.set(title=c.plot_tr(K + "plot_acc_title", lr=s["lr"], batch=s["batch_size"]),
          xlabel=c.plot_tr(K + "plot_epoch"), ylabel=c.plot_tr(K + "plot_accuracy"), ylim=(0, 1))
    a.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return c.save_figure(fig, path)


def report(r: dict) -> None:
    c.say(c.tr(K + "setup"))
    rows = []
    for p in (0.9, 0.5, 0.1, 0.01):
        v = r[f"at_{p}"]
        rows.append([f"{p:g}", f"{v['se_true']:+.4f}", f"{v['se_norm']:.4f}",
                     f"{v['ce_true']:+.4f}", f"{v['ce_norm']:.4f}"])
    c.table("∂L/∂o", ["p = ŷ_true"] + [c.tr(K + f"col_{col}") for col in
                                       ("se_true", "se_norm", "ce_true", "ce_norm")], rows)
    c.say(c.tr(K + "formulas", count=len(r["p"]), se=r["se_engine_vs_formula"],
               ce=r["ce_engine_vs_formula"]))
    g = r["general_form"]
    c.say(c.tr(K + "general", points=g["points"], difference=g["general_vs_engine"]))
    c.say(c.tr(K + "typo", typo=r["general_form"]["typo_vs_engine_min"]))
    w = r["one_wrong_class"]
    probs = w["probs"]
    c.say(c.tr(K + "wrong", p_true=probs[TRUE], p_wrong=probs[w["se_max_abs_class"]],
               se_true=w["se_true"], se_max=w["se_max_abs"], ce_true=w["ce_true"]))
    rows = [[str(j), f"{probs[j]:.4f}", f"{w['se_grad'][j]:+.5f}", f"{w['ce_grad'][j]:+.4f}"]
            for j in range(CLASSES)]
    c.table(c.tr(K + "wrong_table"), [c.tr(K + "col_class"), "ŷⱼ", c.tr(K + "col_se"),
                                      c.tr(K + "col_ce")], rows)
    c.say(c.tr(K + "large"))
    s = r["settings"]
    c.say(c.tr(K + "training", lr=s["lr"], batch=s["batch_size"], epochs=s["epochs"]))
    ce_h, se_h = r["cross_entropy"], r["squared_error"]
    rows = [[e + 1, f"{ce_h['loss'][e]:.4f}", f"{ce_h['test_accuracy'][e]:.3f}",
             f"{se_h['loss'][e]:.4f}", f"{se_h['test_accuracy'][e]:.3f}"] for e in range(r["epochs"])]
    c.table(c.tr(K + "per_epoch"), [c.tr(K + f"col_{col}") for col in
                                     ("epoch", "ce_loss", "test_acc", "se_loss", "test_acc")], rows)
    ce, se = r["cross_entropy"]["test_accuracy"][-1], r["squared_error"]["test_accuracy"][-1]
    c.say(c.tr(K + "final", ce=ce, se=se))
    c.say(c.tr(K + "mean_p", ce=ce_h["mean_p_true"], se=se_h["mean_p_true"],
               ratio=r["at_0.1"]["ce_norm"] / r["at_0.1"]["se_norm"]))


def main(argv=None) -> int:
    return c.main(NAME, TITLE, run, report, argv)


if __name__ == "__main__":
    sys.exit(main())
