"""Losses, layers (Module, Linear, ReLU, Sequential) and the softmax-regression model."""
from __future__ import annotations

from typing import Any

import numpy as np

from . import ops
from .errors import ShapeError
from .tensor import Tensor


def _as_target(target: Any) -> Tensor:
    """Wrap numpy or list targets; class indices keep their integer dtype."""
    if isinstance(target, Tensor):
        return target
    array = np.asarray(target)
    return Tensor(array if array.dtype.kind in "iu" else target, name="y")


def _prediction(value: Any, who: str, argument: str) -> Tensor:
    """The prediction a loss is taken of: a Tensor, else a TypeError naming loss and argument.

    An array is refused rather than wrapped: a loss of constants has no gradient to learn from,
    so a plain array here is almost always a model output lost on the way (`out.data`).
    """
    if not isinstance(value, Tensor):
        raise TypeError(f"{who}: {argument} must be a Tensor (the model's output), got "
                        f"{type(value).__name__}; wrap constants with Tensor(...)")
    return value


def cross_entropy(logits: Tensor, target: Any) -> Tensor:
    """Mean over the batch of −Σ y log softmax(logits), fused and stable.

    logits: a Tensor (an array is a TypeError: it would have no gradient). target: class indices
    (numpy ints or an integer Tensor, shape (n,)) or a probability matrix of the logits' shape. The gradient with respect to the logits is (ŷ − y)/n.
    """
    logits = _prediction(logits, "cross_entropy", "logits")
    return Tensor._apply(ops.CrossEntropy(), logits, _as_target(target))


def mse_loss(pred: Tensor, target: Any) -> Tensor:
    """Mean of the squared error (pred − target)²; composed from sub, pow and mean.

    pred and target must have the same shape: an (n, 1) prediction against an (n,) target would
    otherwise broadcast to an (n, n) comparison, a wrong number without a word.
    """
    pred = _prediction(pred, "mse_loss", "pred")
    if not isinstance(target, Tensor):  # arrays and lists take the prediction's float dtype
        target = Tensor(target, dtype=pred.dtype if pred.dtype.kind == "f" else None)
    if target.shape != pred.shape:
        raise ShapeError(f"mse_loss: prediction of shape {pred.shape} and target of shape "
                         f"{target.shape} differ; reshape one of them (no broadcasting here)")
    return ((pred - target) ** 2).mean().named("L")


def one_hot(labels: Any, num_classes: int, dtype: Any = np.float32) -> np.ndarray:
    """Rows of the identity: one_hot([2, 0], 3) is [[0, 0, 1], [1, 0, 0]]."""
    labels = np.asarray(labels)
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) \
            or num_classes < 1:
        raise ValueError(f"one_hot: num_classes must be a positive int, got {num_classes!r}")
    if labels.dtype.kind not in "iu":
        raise TypeError(f"one_hot: labels must be integer class indices, got dtype "
                        f"{labels.dtype} (values such as {labels.ravel()[:3].tolist()})")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"one_hot: labels must lie in [0, {num_classes}), "
                         f"got values from {labels.min()} to {labels.max()}")
    return np.eye(num_classes, dtype=dtype)[labels]


class Module:
    """A layer or a model: call it on a tensor; it finds its parameters among its attributes.

    Parameters are the tensors with requires_grad (and those of sub-modules, also in lists), in
    the order they were assigned, each once; their names are what traces and diagrams show. A
    module assigned as an attribute of another is named by its place, as in PyTorch: a model with
    `self.l1 = Linear(...)` has parameters `l1.W`, `l1.b` and output `l1.o` (a list `self.blocks`
    gives `blocks.0.W`); a model on its own keeps its short names (W, b; W1, b1 in a Sequential).
    """

    _prefix = ""  # where this module sits in the model that holds it: "" or "l1." or "enc.l1."

    def forward(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def number(self, suffix: str) -> None:
        """Sequential numbers its layers through this; a module without names ignores it."""

    def __setattr__(self, key: str, value: Any) -> None:
        object.__setattr__(self, key, value)
        if isinstance(value, Module) or (isinstance(value, (list, tuple))
                                         and any(isinstance(v, Module) for v in value)):
            self._qualify(self._prefix, set())  # the whole tree: the first place of a module wins

    def _qualify(self, prefix: str, seen: set[int]) -> None:
        """Name this module's own tensors and its sub-modules' with `prefix` before their names."""
        if id(self) in seen:  # one module held twice keeps the name of its first place
            return
        seen.add(id(self))
        object.__setattr__(self, "_prefix", prefix)
        self._name_own(prefix)
        for key, value in list(vars(self).items()):
            if not key.startswith("_"):
                for child, place in self._children(key, value):
                    child._qualify(prefix + place, seen)

    def _children(self, key: str, value: Any) -> list[tuple[Module, str]]:
        """The sub-modules an attribute holds, each with its place: `l1.`, `blocks.0.`."""
        if isinstance(value, Module):
            return [(value, key + ".")]
        if isinstance(value, (list, tuple)):
            return [(v, f"{key}.{i}.") for i, v in enumerate(value) if isinstance(v, Module)]
        return []

    def _name_own(self, prefix: str) -> None:
        """Put `prefix` before the names of the tensors this module holds itself; the short name
        (the tensor's name when first qualified, else the attribute's) is kept for renaming."""
        short = self.__dict__.setdefault("_short_names", {})
        for key, value in vars(self).items():
            if isinstance(value, Tensor) and value.requires_grad and (prefix or key in short):
                value.name = prefix + short.setdefault(key, value.name or key)

    def __call__(self, x: Tensor | np.ndarray) -> Tensor:
        return self.forward(x if isinstance(x, Tensor) else Tensor(x, name="X"))

    def parameters(self) -> list[Tensor]:
        found: dict[int, Tensor] = {}
        todo = list(vars(self).values())
        while todo:
            value = todo.pop(0)
            if isinstance(value, Tensor) and value.requires_grad:
                found.setdefault(id(value), value)
            elif isinstance(value, Module):
                todo[:0] = vars(value).values()  # depth first, in assignment order
            elif isinstance(value, (list, tuple)):
                todo[:0] = value
        return list(found.values())

    def named_parameters(self) -> dict[str, Tensor]:
        """The parameters by their names (relative to this module: a sub-module held as `l1`
        gives W, b); two with one name is an error (a diagram would mix them up)."""
        named: dict[str, Tensor] = {}
        for p in self.parameters():
            name = p.name or ""
            name = name[len(self._prefix):] if name.startswith(self._prefix) else name
            if name in named:
                raise ValueError(f"{type(self).__name__}: two parameters are named {name!r}")
            named[name] = p
        return named

    def zero_grad(self) -> None:
        """Forget the gradients: backward() adds to .grad, so call this before each new pass."""
        for p in self.parameters():
            p.grad = None


class Linear(Module):
    """o = xW + b with W ~ N(0, 0.01²) of shape (in_features, out_features) and b = 0.

    seed: an int, or a numpy Generator shared by several layers (each draws its W in turn).
    suffix numbers the names: W1, b1, output o1 (Sequential sets it).
    """

    def __init__(self, in_features: int, out_features: int,
                 seed: int | np.random.Generator | None = 0, dtype: Any = np.float32,
                 suffix: str = ""):
        rng = np.random.default_rng(seed)
        self.W = Tensor(rng.normal(0.0, 0.01, size=(in_features, out_features)).astype(dtype),
                        requires_grad=True, name="W")
        self.b = Tensor(np.zeros(out_features, dtype=dtype), requires_grad=True, name="b")
        self.number(suffix)

    def number(self, suffix: str) -> None:
        """Name the parameters and the output with a suffix: W1, b1, o1."""
        self.suffix = suffix
        self._name_own(self._prefix)

    def _name_own(self, prefix: str) -> None:
        if "suffix" in vars(self):  # not before number() (W and b are assigned first)
            self.W.name, self.b.name = f"{prefix}W{self.suffix}", f"{prefix}b{self.suffix}"

    def forward(self, x: Tensor) -> Tensor:
        shape, features = x.shape, self.W.shape[0]
        if len(shape) != 2 or shape[1] != features:
            raise ValueError(f"{type(self).__name__}: expected input of shape (n, {features}), "
                             f"got {shape}")
        product = x @ self.W
        between = "·" if self._prefix else ""  # XW, XW1, H1W2; X·l1.W, l1.o·l2.W when nested
        product.name = f"{x.name or 'X'}{between}{self.W.name}"
        out = product + self.b
        out.name = f"{self._prefix}o{self.suffix}"
        return out


class ReLU(Module):
    """max(x, 0) elementwise; its output is named H (H1 after the first layer of a Sequential)."""

    def __init__(self, suffix: str = ""):
        self.suffix = suffix

    def number(self, suffix: str) -> None:
        self.suffix = suffix

    def forward(self, x: Tensor) -> Tensor:
        return x.relu().named(f"{self._prefix}H{self.suffix}")


class Sequential(Module):
    """Modules applied in order. Layers are numbered from 1: W1, b1, o1, H1, W2, b2, o2, ..."""

    def __init__(self, *modules: Module):
        for position, m in enumerate(modules):
            if not isinstance(m, Module):
                raise TypeError(f"Sequential: argument {position} is a {type(m).__name__}, "
                                "not a Module")
        self.layers = list(modules)  # numbered, not named by place: W1, not layers.0.W
        count = 0
        for m in self.layers:
            count += isinstance(m, Linear)  # a ReLU takes the number of the layer before it
            if count:
                m.number(str(count))

    def _children(self, key: str, value: Any) -> list[tuple[Module, str]]:
        if key == "layers":  # the numbers tell the layers apart: body.W1, body.W2
            return [(m, "") for m in value]
        return super()._children(key, value)

    def forward(self, x: Tensor) -> Tensor:
        for m in self.layers:
            x = m(x)
        return x


def mlp(num_inputs: int, num_hidden: int, num_classes: int, seed: int | None = 0,
        dtype: Any = np.float32) -> Sequential:
    """One hidden layer, as in Dive into Deep Learning §4.2: o2 = ReLU(XW1 + b1)W2 + b2.

    W1 then W2 are drawn from one generator seeded with `seed` (N(0, 0.01²)); biases are 0.
    """
    rng = np.random.default_rng(seed)
    return Sequential(Linear(num_inputs, num_hidden, seed=rng, dtype=dtype), ReLU(),
                      Linear(num_hidden, num_classes, seed=rng, dtype=dtype))


class SoftmaxRegression(Linear):
    """O = XW + b: logits for softmax regression (W ~ N(0, 0.01²), b = 0); names W, b, XW, o."""

    def __init__(self, num_inputs: int, num_classes: int, seed: int | None = 0,
                 dtype: Any = np.float32):
        super().__init__(num_inputs, num_classes, seed=seed, dtype=dtype)
