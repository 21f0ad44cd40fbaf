"""Linear regression as in Dive into Deep Learning §3.1–3.3, §4.5: the model ŷ = Xw + b, the
squared loss ½(ŷ − y)² averaged over a minibatch, minibatch SGD (with weight decay if asked) and
the closed-form least-squares solution to compare SGD's with.

The gradient the trace shows is the book's: ∂L/∂ŷ = (Xw + b − y)/n, and the matmul's rule turns
it into ∂L/∂w = Xᵀ(Xw + b − y)/n, the same shape of rule as softmax regression's Xᵀ(ŷ − y)/n.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from . import nn
from .autograd import no_grad
from .data import minibatches
from .optim import SGD
from .tensor import Tensor

TRUE_W, TRUE_B = (2.0, -3.4), 4.2   # d2l §3.2's true parameters
EPOCHS, LR, BATCH_SIZE = 3, 0.03, 10  # d2l §3.2's settings


def linear_model(num_inputs: int, seed: int | None = 0, dtype=np.float32) -> nn.Linear:
    """ŷ = Xw + b, one output: w ~ N(0, 0.01²) of shape (num_inputs, 1), b = 0 (d2l §3.2)."""
    model = nn.Linear(num_inputs, 1, seed=seed, dtype=dtype)
    model.W.name, model.b.name = "w", "b"  # the book's lower-case w: a vector, one output
    return model


def closed_form(X: np.ndarray, y: np.ndarray, weight_decay: float = 0.0) -> tuple[np.ndarray, float]:
    """The w, b minimising ½ mean (Xw + b − y)² (+ λ/2 ‖w‖²), in float64 by solving the normal
    equations with a column of ones for b: (AᵀA/n + λ·diag(1…1, 0)) θ = Aᵀy/n, A = [X 1]."""
    X64 = np.asarray(X, dtype=np.float64)
    A = np.hstack([X64, np.ones((len(X64), 1))])
    n = len(X64)
    penalty = np.diag([float(weight_decay)] * X64.shape[1] + [0.0])  # b is not decayed
    theta = np.linalg.solve(A.T @ A / n + penalty, A.T @ np.asarray(y, dtype=np.float64).reshape(-1) / n)
    return theta[:-1], float(theta[-1])


def squared_loss_of(model: nn.Linear, X: np.ndarray, y: np.ndarray) -> float:
    """½ mean (ŷ − y)² of the model on (X, y), without a graph."""
    with no_grad():
        return float(nn.squared_loss(model(Tensor(X, name="X")), Tensor(y, name="y")).data)


@dataclass
class LinearHistory:
    train_loss: list[float] = field(default_factory=list)   # on all the training data, per epoch
    test_loss: list[float] = field(default_factory=list)    # when test data is given
    w_norm: list[float] = field(default_factory=list)       # ‖w‖ after each epoch


def fit_linear(X: np.ndarray, y: np.ndarray, epochs: int = EPOCHS, lr: float = LR,
               batch_size: int = BATCH_SIZE, seed: int = 0, weight_decay: float = 0.0,
               test: tuple[np.ndarray, np.ndarray] | None = None, model: nn.Linear | None = None,
               on_epoch_end: Callable[[int, LinearHistory], None] | None = None,
               ) -> tuple[nn.Linear, LinearHistory]:
    """Minibatch SGD on ½ mean (Xw + b − y)²; weight_decay=λ decays w (not b), as d2l §4.5.

    The model starts as `linear_model(seed)` unless given; batches are shuffled from `seed`.
    After each epoch the loss on all of (X, y) (and on `test`) and ‖w‖ are recorded.
    """
    model = linear_model(X.shape[1], seed) if model is None else model
    optimizer = SGD(model.parameters(), lr=lr, weight_decay=weight_decay, decayed=[model.W])
    rng = np.random.default_rng(seed)
    history = LinearHistory()
    for epoch in range(1, epochs + 1):
        for X_batch, y_batch in minibatches(X, y, batch_size, rng):
            loss = nn.squared_loss(model(Tensor(X_batch, name="X")), Tensor(y_batch, name="y"))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        history.train_loss.append(squared_loss_of(model, X, y))
        if test is not None:
            history.test_loss.append(squared_loss_of(model, *test))
        history.w_norm.append(float(np.linalg.norm(model.W.data)))
        if on_epoch_end:
            on_epoch_end(epoch, history)
    return model, history


def write_linear_step(model: nn.Linear, X: np.ndarray, y: np.ndarray, out: Path,
                      lang=None) -> dict[str, Path]:
    """graph.svg and backprop.html of one step of linear regression on (X, y), on a copy of the
    model: the trace's matmul step shows ∂L/∂w = Xᵀ · ∂L/∂Xw with ∂L/∂Xw = (Xw + b − y)/n."""
    import copy

    from . import viz  # diagrams are optional; imported only here

    step_model = copy.deepcopy(model)
    step_model.zero_grad()
    loss = nn.squared_loss(step_model(Tensor(X, name="X")), Tensor(y, name="y"))
    trace = loss.backward(trace=True)
    graph = viz.draw(loss, trace=trace, highlight=step_model.W)
    svg = Path(viz.render(graph, out / "graph.svg"))
    html = Path(trace.save_html(str(out / "backprop.html"), lang=lang))
    return {"graph.svg": svg, "graph.gv": svg.with_suffix(".gv"), "backprop.html": html}
