"""Numerical stability (d2l §3.7): softmax by hand overflows at o = [1000, 1001, 1002], detect_anomaly names exp; the fused cross-entropy stays finite.

    python demos/d12_numerical_stability.py [--out DIR]

Softmax written from exp, sum and / computes exp(1000) = inf, and inf / inf is NaN: the loss and
every gradient are NaN. `detect_anomaly()` stops at the first op whose result is not finite and
names it: exp. Subtracting max(o) first fixes the overflow, but a probability that underflows to 0
then meets log: log 0 = −inf, and detect_anomaly names log. The library's cross-entropy is fused:
log ŷ = (o − max o) − log Σ exp(o − max o) (the LogSumExp trick), finite for both inputs.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from rich.markup import escape

import _common as c
import tinygrad_sm.nn as nn
from tinygrad_sm import AnomalyError, Tensor, detect_anomaly

NAME = "d12_numerical_stability"
TITLE = "Numerical stability: softmax by hand overflows, the fused cross-entropy does not"
K = f"demo.{NAME}."
OVERFLOW = [1000.0, 1001.0, 1002.0]   # §3.7's large logits; the true class is 2
UNDERFLOW = [-1000.0, 0.0, 1.0]       # the true class 0 gets ŷ₀ = e^(−1001)/… = 0 in float64


def naive_loss(o: Tensor, label: int, shift: bool) -> Tensor:
    """−log ŷ[label] with ŷ = exp(o) / Σ exp(o) composed from ops (shift: o − max(o) first)."""
    if shift:
        o = (o - o.max().named("max o")).named("o − max o")
    e = o.exp().named("exp(o)")
    y_hat = (e / e.sum().named("Σ exp(o)")).named("ŷ")
    picked = (y_hat * Tensor(np.eye(len(o.data))[label], name="y")).sum().named("ŷ_y")
    return (-picked.log()).named("L")


def attempt(logits: list[float], label: int, shift: bool) -> dict:
    """The composed loss plainly (values and gradient) and under detect_anomaly (the op named)."""
    o = Tensor(np.array(logits), requires_grad=True, name="o")
    with np.errstate(all="ignore"):
        L = naive_loss(o, label, shift)
        L.backward()
    result = {"loss": L.item(), "grad": o.grad.copy()}
    o2 = Tensor(np.array(logits), requires_grad=True, name="o")
    try:
        with detect_anomaly(), np.errstate(all="ignore"):
            naive_loss(o2, label, shift).backward()
        result["anomaly"] = None
    except AnomalyError as e:
        result["anomaly"] = str(e)
    return result


def fused(logits: list[float], label: int) -> dict:
    o = Tensor(np.array([logits]), requires_grad=True, name="o")
    with detect_anomaly():
        L = nn.cross_entropy(o, np.array([label]))
        L.backward()
    return {"loss": L.item(), "grad": o.grad[0].copy()}


def run(out_dir: Path, quick: bool = False) -> dict:
    c.ensure_dir(out_dir)
    return {"overflow": {"naive": attempt(OVERFLOW, 2, shift=False),
                         "shifted": attempt(OVERFLOW, 2, shift=True), "fused": fused(OVERFLOW, 2)},
            "underflow": {"shifted": attempt(UNDERFLOW, 0, shift=True), "fused": fused(UNDERFLOW, 0)},
            "files": []}


def show(values) -> str:
    """An array as text that rich prints as it is ([nan, nan, nan] would read as markup)."""
    return escape(c.fmt(values))


def whole(values: list[float]) -> str:
    return "[" + ", ".join(f"{v:g}" for v in values) + "]"


def report(r: dict) -> None:
    over, under = r["overflow"], r["underflow"]
    c.say(c.tr(K + "overflow", o=whole(OVERFLOW), loss=over["naive"]["loss"],
               grad=show(over["naive"]["grad"])))
    c.say(c.tr(K + "anomaly", message=escape(str(over["naive"]["anomaly"]))))
    c.say(c.tr(K + "shifted", loss=over["shifted"]["loss"], grad=show(over["shifted"]["grad"])))
    c.say(c.tr(K + "underflow", o=whole(UNDERFLOW), loss=under["shifted"]["loss"],
               message=escape(str(under["shifted"]["anomaly"]))))
    c.say(c.tr(K + "fused", over=over["fused"]["loss"], over_grad=show(over["fused"]["grad"]),
               under=under["fused"]["loss"], under_grad=show(under["fused"]["grad"])))


def main(argv=None) -> int:
    return c.main(NAME, TITLE, run, report, argv)


if __name__ == "__main__":
    sys.exit(main())
