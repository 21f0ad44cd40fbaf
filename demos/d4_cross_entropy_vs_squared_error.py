"""Why softmax regression uses cross-entropy: squared error's gradient vanishes when confidently wrong.

    python demos/d4_cross_entropy_vs_squared_error.py [--out DIR] [--quick]

Part 1: ∂L/∂o for both losses as the probability of the true class goes from 1 to 0, the general
        form of squared error's gradient, and the saturated case: ŷ = 0.9, 0.99, 0.999 on one wrong
        class, where squared error's whole gradient vanishes and cross-entropy's stays near √2.
Part 2: train the same model with each loss, at two learning rates, from the usual start and from
        a confidently wrong one (the bias of one wrong class starts at 8).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import _common as c
import tinygrad_sm.nn as nn
from d3_softmax_jacobian import jacobian_by_formula, softmax_numpy
from tinygrad_sm import Tensor, no_grad
from tinygrad_sm.data import load_digits, minibatches
from tinygrad_sm.optim import SGD
from tinygrad_sm.train import accuracy

NAME = "d4_cross_entropy_vs_squared_error"
TITLE = "Cross-entropy vs squared error"
K = f"demo.{NAME}."  # this demo's messages in the catalogue
CLASSES = 10
TRUE = 0
WRONG = 1          # the wrong class a confident model picks
SATURATION = (0.9, 0.99, 0.999)  # ŷ on the wrong class
SPREADS = ("even", "on_true")    # the rest spread over the other 9 classes, or all on the true one
SETTINGS = {"lr": 0.1, "batch_size": 64, "epochs": 10, "seed": 0}
LEARNING_RATES = (0.1, 1.0)
WRONG_START_BIAS = 8.0  # b[WRONG] at the confidently wrong start: ŷ_wrong ≈ 0.997 on every image


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
    """The note's closed forms: Σᵢ(ŷᵢ − yᵢ)ŷᵢ(δᵢⱼ − ŷⱼ) and ŷ − y, in plain numpy."""
    y_hat = softmax_numpy(logits_for(p))
    y = np.eye(CLASSES)[TRUE]
    return (y_hat - y) @ jacobian_by_formula(logits_for(p)), y_hat - y


def squared_error_gradient(y_hat: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The general form gⱼ = ŷⱼ[(ŷⱼ − yⱼ) − Σᵢ ŷᵢ(ŷᵢ − yᵢ)]: entry j carries its own ŷⱼ."""
    return y_hat * ((y_hat - y) - np.sum(y_hat * (y_hat - y)))


def note_typo_gradient(y_hat: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The note's last formula as printed, Σᵢ(ŷᵢ − yᵢ)ŷᵢ(δᵢⱼ − ŷᵢ): a typo for ŷᵢ(δᵢⱼ − ŷⱼ)."""
    jacobian_as_printed = y_hat[:, None] * (np.eye(len(y_hat)) - y_hat[:, None])
    return (y_hat - y) @ jacobian_as_printed


def saturated_probs(p_wrong: float, spread: str) -> np.ndarray:
    """p_wrong on the wrong class; the rest spread evenly over the other 9 classes (true class
    included), or all of it on the true class."""
    probs = np.zeros(CLASSES)
    if spread == "even":
        probs[:] = (1 - p_wrong) / (CLASSES - 1)
    else:
        probs[TRUE] = 1 - p_wrong
    probs[WRONG] = p_wrong
    return np.maximum(probs, 1e-30)  # log(0) would be −inf: 1e-30 changes no printed digit


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
        y_hat, y = softmax_numpy(logits), np.eye(CLASSES)[true]
        worst = max(worst, float(np.abs(squared - squared_error_gradient(y_hat, y)).max()))
        typo_gap = min(typo_gap, float(np.abs(squared - note_typo_gradient(y_hat, y)).max()))
    return {"points": points, "general_vs_engine": worst, "typo_vs_engine_min": typo_gap}


# ---- part 2: training with each loss ----

def squared_error_loss(logits: Tensor, labels: np.ndarray) -> Tensor:
    """nn.mse_loss on the softmax outputs vs one-hot labels, scaled by K/2.

    mse_loss is a mean over n·K numbers; the note's L = ½Σᵢ(ŷᵢ − yᵢ)² sums over the K classes.
    Times K/2 it becomes the note's L averaged over the batch, the same averaging cross_entropy
    uses. The two gradients still have different scales (at the uniform ŷ of a fresh model squared
    error's is exactly K times smaller: (ŷ − y)/K), so one learning rate is not the same step for
    both: the demo trains at two.
    """
    target = nn.one_hot(labels, CLASSES, dtype=logits.dtype)
    return nn.mse_loss(logits.softmax(), target) * (CLASSES / 2)


def train(loss_name: str, data, epochs: int, lr: float = SETTINGS["lr"],
          wrong_start: bool = False) -> dict:
    """SGD from the same start (seed), same minibatch order, same lr: only the loss differs.
    wrong_start: b[WRONG] starts at WRONG_START_BIAS, so the model is confidently wrong on the
    images of every other class."""
    loss_fn = nn.cross_entropy if loss_name == "cross_entropy" else squared_error_loss
    model = nn.SoftmaxRegression(data.X_train.shape[1], CLASSES, seed=SETTINGS["seed"])
    if wrong_start:
        model.b.data[WRONG] = WRONG_START_BIAS
    optimizer = SGD(model.parameters(), lr=lr)
    order = np.random.default_rng(SETTINGS["seed"])
    history = {"loss": [], "train_accuracy": [], "test_accuracy": []}
    with no_grad():
        history["initial_loss"] = loss_fn(model(data.X_train), data.y_train).item()
        history["initial_mean_p_wrong"] = float(np.mean(
            model(data.X_train).softmax().data[data.y_train != WRONG, WRONG]))
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
    with no_grad():
        history["test_predicted_wrong"] = float(np.mean(
            np.argmax(model(data.X_test).data, axis=1) == WRONG))
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
    results["saturated"] = []
    for p_wrong in SATURATION:
        for spread in SPREADS:
            probs = saturated_probs(p_wrong, spread)
            s, e = engine_gradients_at(np.log(probs), TRUE)
            results["saturated"].append({
                "p_wrong": p_wrong, "spread": spread, "p_true": float(probs[TRUE]),
                "se_grad": s, "ce_grad": e, "se_norm": float(np.linalg.norm(s)),
                "ce_norm": float(np.linalg.norm(e)), "se_true": float(s[TRUE])})
    qs = np.linspace(0.1, 0.999, 60 if quick else 200)  # the plot's saturation sweep
    sweep = [engine_gradients_at(np.log(saturated_probs(q, "even")), TRUE) for q in qs]
    results["q"] = qs
    results["q_se_norm"] = np.array([np.linalg.norm(g[0]) for g in sweep])
    results["q_ce_norm"] = np.array([np.linalg.norm(g[1]) for g in sweep])

    # training is quick on the bundled digits: --quick keeps every epoch
    data = load_digits()
    epochs = SETTINGS["epochs"]
    results["epochs"] = epochs
    results["settings"] = dict(SETTINGS, epochs=epochs)
    results["runs"] = {(start, lr): {loss: train(loss, data, epochs, lr, start == "wrong")
                                     for loss in ("cross_entropy", "squared_error")}
                       for start in ("usual", "wrong") for lr in LEARNING_RATES}
    results.update(results["runs"][("usual", SETTINGS["lr"])])  # the per-epoch table's run
    results["files"] = [_plot(out_dir / "ce_vs_se.png", results)]
    return results


def _plot(path: Path, r: dict) -> Path:
    plt = c.plt
    fig, ((g, q, l), (a, w, x)) = plt.subplots(2, 3, figsize=(16, 8.6))
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
    g.annotate(c.plot_tr(K + "plot_even_note"), (0.03, 0.02), xytext=(0.45, 0.35),
               arrowprops={"arrowstyle": "->"}, fontsize=9)
    g.legend(fontsize=8, loc="upper left")
    q.plot(r["q"], r["q_ce_norm"], color="tab:blue", lw=2, label=c.plot_tr(K + "plot_ce_norm"))
    q.plot(r["q"], r["q_se_norm"], color="tab:red", lw=2, label=c.plot_tr(K + "plot_se_norm"))
    q.set(title=c.plot_tr(K + "plot_saturated_title"), xlabel=c.plot_tr(K + "plot_q"),
          ylabel=c.plot_tr(K + "plot_grad_size"), ylim=(0, 1.6))
    q.annotate(c.plot_tr(K + "plot_note"), (r["q"][-1], r["q_se_norm"][-1]),
               xytext=(0.35, 0.45), arrowprops={"arrowstyle": "->"}, fontsize=9)
    q.legend(fontsize=8, loc="upper left")
    epochs = np.arange(1, r["epochs"] + 1)
    for key, color, label in (("cross_entropy", "tab:blue", c.plot_tr(K + "plot_ce")),
                              ("squared_error", "tab:red", c.plot_tr(K + "plot_se"))):
        h = r[key]
        relative = np.array([h["initial_loss"]] + h["loss"]) / h["initial_loss"]
        l.plot(np.arange(len(relative)), relative, "o-", color=color,
               label=f"{label}: {h['initial_loss']:.3f} → {h['loss'][-1]:.3f}")
        a.plot(epochs, h["test_accuracy"], "o-", color=color, label=c.plot_tr(K + "plot_test", label=label))
        a.plot(epochs, h["train_accuracy"], ":", color=color, label=c.plot_tr(K + "plot_train", label=label))
        for lr, style in zip(LEARNING_RATES, ("o-", "s--")):
            w.plot(epochs, r["runs"][("wrong", lr)][key]["test_accuracy"], style, color=color,
                   label=c.plot_tr(K + "plot_lr", label=label, lr=lr))
            x.plot(epochs, r["runs"][("usual", lr)][key]["test_accuracy"], style, color=color,
                   label=c.plot_tr(K + "plot_lr", label=label, lr=lr))
    l.set(title=c.plot_tr(K + "plot_loss_title"), xlabel=c.plot_tr(K + "plot_epoch"),
          ylabel=c.plot_tr(K + "plot_relative"), ylim=(0, 1.05))
    l.legend(fontsize=8)
    s = r["settings"]
    a.set(title=c.plot_tr(K + "plot_acc_title", lr=s["lr"], batch=s["batch_size"]),
          xlabel=c.plot_tr(K + "plot_epoch"), ylabel=c.plot_tr(K + "plot_accuracy"), ylim=(0, 1))
    a.legend(fontsize=8, loc="lower right")
    w.set(title=c.plot_tr(K + "plot_wrong_title", bias=WRONG_START_BIAS),
          xlabel=c.plot_tr(K + "plot_epoch"), ylabel=c.plot_tr(K + "plot_accuracy"), ylim=(0, 1))
    w.legend(fontsize=8, loc="center right")
    x.set(title=c.plot_tr(K + "plot_lr_title"), xlabel=c.plot_tr(K + "plot_epoch"),
          ylabel=c.plot_tr(K + "plot_accuracy"), ylim=(0, 1))
    x.legend(fontsize=8, loc="lower right")
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
    c.say(c.tr(K + "wrong"))
    g = r["general_form"]
    c.say(c.tr(K + "general", points=g["points"], difference=g["general_vs_engine"]))
    c.say(c.tr(K + "typo", typo=r["general_form"]["typo_vs_engine_min"]))
    c.say(c.tr(K + "saturated", wrong=WRONG, values=", ".join(f"{q:g}" for q in SATURATION)))
    rows = [[f"{v['p_wrong']:g}", c.tr(K + f"spread_{v['spread']}"), f"{v['p_true']:.4f}",
             f"{v['se_true']:+.5f}", f"{v['se_norm']:.4f}", f"{v['ce_norm']:.4f}"]
            for v in r["saturated"]]
    c.table(c.tr(K + "wrong_table", wrong=WRONG),
            ["ŷ_wrong", c.tr(K + "col_rest"), "ŷ_true", c.tr(K + "col_se_true"),
             c.tr(K + "col_se_norm"), c.tr(K + "col_ce_norm")], rows)
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
    rows = [[c.tr(K + f"start_{start}", bias=WRONG_START_BIAS, wrong=WRONG), f"{lr:g}",
             f"{runs['cross_entropy']['test_accuracy'][-1]:.3f}",
             f"{runs['squared_error']['test_accuracy'][-1]:.3f}"]
            for (start, lr), runs in r["runs"].items()]
    c.table(c.tr(K + "runs_table", epochs=r["epochs"]),
            [c.tr(K + "col_start"), c.tr(K + "col_lr"), c.tr(K + "col_ce"), c.tr(K + "col_se")], rows)
    fast, wrong = r["runs"][("usual", LEARNING_RATES[-1])], r["runs"][("wrong", SETTINGS["lr"])]
    c.say(c.tr(K + "lr_caveat", lr=LEARNING_RATES[-1], slow=SETTINGS["lr"], ce=fast["cross_entropy"]["test_accuracy"][-1],
               se=fast["squared_error"]["test_accuracy"][-1]))
    c.say(c.tr(K + "wrong_start", bias=WRONG_START_BIAS, wrong=WRONG, lr=SETTINGS["lr"],
               p=wrong["squared_error"]["initial_mean_p_wrong"],
               ce=wrong["cross_entropy"]["test_accuracy"][-1],
               se=wrong["squared_error"]["test_accuracy"][-1],
               share=wrong["squared_error"]["test_predicted_wrong"], fast=LEARNING_RATES[-1],
               first=r["runs"][("wrong", LEARNING_RATES[-1])]["squared_error"]["test_accuracy"][0]))


def main(argv=None) -> int:
    return c.main(NAME, TITLE, run, report, argv)


if __name__ == "__main__":
    sys.exit(main())
