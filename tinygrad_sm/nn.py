"""Layers (Module, Linear, ReLU, Sigmoid, Tanh, Dropout, Sequential), the activations and the
softmax-regression model. The losses and the L2 penalty (losses.py) are here too, as
`nn.cross_entropy`, `nn.squared_loss`, `nn.l2_penalty`; initialisers are `nn.init` (init.py)."""
from __future__ import annotations

from typing import Any

import numpy as np

from . import init, ops
from .init import xavier_uniform_ as _xavier_uniform_
from .losses import cross_entropy, l2_penalty, mse_loss, one_hot, squared_loss  # noqa: F401
from .tensor import Tensor


def sigmoid(x: Tensor) -> Tensor:
    """σ(x) = 1 / (1 + exp(−x)) elementwise, one op; its rule: ∂L/∂x = ∂L/∂σ ⊙ σ ⊙ (1 − σ)."""
    return Tensor._apply(ops.Sigmoid(), x)


def tanh(x: Tensor) -> Tensor:
    """tanh(x) elementwise, one op (its rule: ∂L/∂x = ∂L/∂out ⊙ (1 − out²))."""
    return Tensor._apply(ops.Tanh(), x)


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

    training = True  # train mode (dropout drops units); eval() switches it off, as in PyTorch

    def modules(self) -> list[Module]:
        """This module and every module inside it (in lists too), each once, depth first."""
        found: dict[int, Module] = {}
        todo: list[Any] = [self]
        while todo:
            value = todo.pop(0)
            if isinstance(value, Module) and id(value) not in found:
                found[id(value)] = value
                todo[:0] = list(vars(value).values())
            elif isinstance(value, (list, tuple)):
                todo[:0] = list(value)
        return list(found.values())

    def train(self, mode: bool = True) -> Module:
        """Train mode (mode=True) or evaluation mode, for this module and all inside it; returns
        self. Only Dropout behaves differently: in eval mode it is the identity."""
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self) -> Module:
        """Evaluation mode: train(False)."""
        return self.train(False)


INITS = ("normal", "xavier")


class Linear(Module):
    """o = xW + b with W of shape (in_features, out_features) and b = 0 (bias=False: o = xW).

    init: "normal" draws W ~ N(0, 0.01²); "xavier" from U(−a, a), a = √(6/(in + out)), as in
    d2l §4.8 (nn.init.xavier_uniform_).
    seed: an int, or a numpy Generator shared by several layers (each draws its W in turn).
    suffix numbers the names: W1, b1, output o1 (Sequential sets it).
    """

    def __init__(self, in_features: int, out_features: int,
                 seed: int | np.random.Generator | None = 0, dtype: Any = np.float32,
                 suffix: str = "", bias: bool = True, init: str = "normal"):
        if init not in INITS:
            raise ValueError(f"Linear: init must be one of {', '.join(INITS)}, got {init!r}")
        rng = np.random.default_rng(seed)
        self.W = Tensor(np.zeros((in_features, out_features), dtype=dtype), requires_grad=True,
                        name="W")
        if init == "xavier":
            _xavier_uniform_(self.W, seed=rng)
        else:
            self.W.data = rng.normal(0.0, 0.01, size=(in_features, out_features)).astype(dtype)
        self.b = (Tensor(np.zeros(out_features, dtype=dtype), requires_grad=True, name="b")
                  if bias else None)
        self.number(suffix)

    def number(self, suffix: str) -> None:
        """Name the parameters and the output with a suffix: W1, b1, o1."""
        self.suffix = suffix
        self._name_own(self._prefix)

    def _name_own(self, prefix: str) -> None:
        if "suffix" in vars(self):  # not before number() (W and b are assigned first)
            self.W.name = f"{prefix}W{self.suffix}"
            if self.b is not None:
                self.b.name = f"{prefix}b{self.suffix}"

    def forward(self, x: Tensor) -> Tensor:
        shape, features = x.shape, self.W.shape[0]
        if len(shape) != 2 or shape[1] != features:
            raise ValueError(f"{type(self).__name__}: expected input of shape (n, {features}), "
                             f"got {shape}")
        product = x @ self.W
        between = "·" if self._prefix else ""  # XW, XW1, H1W2; X·l1.W, l1.o·l2.W when nested
        product.name = f"{x.name or 'X'}{between}{self.W.name}"
        out = product if self.b is None else product + self.b
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


class _Activation(Module):
    """An elementwise activation; its output is named H (H1 after the first layer of a
    Sequential), as ReLU's."""

    def __init__(self, suffix: str = ""):
        self.suffix = suffix

    def number(self, suffix: str) -> None:
        self.suffix = suffix

    def apply(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        return self.apply(x).named(f"{self._prefix}H{self.suffix}")


class Sigmoid(_Activation):
    """σ(x) = 1 / (1 + exp(−x)) elementwise (the sigmoid op)."""

    def apply(self, x: Tensor) -> Tensor:
        return sigmoid(x)


class Tanh(_Activation):
    """tanh(x) elementwise (the tanh op)."""

    def apply(self, x: Tensor) -> Tensor:
        return tanh(x)


class Dropout(Module):
    """Inverted dropout (d2l §4.6): in train mode each unit is zeroed with probability p and the
    kept ones are scaled by 1/(1 − p); in eval mode (`model.eval()`) it is the identity.

    The mask is a tensor of its own, named mask (mask1 after the first layer of a Sequential), an
    input of the dropout op: the trace and the diagram show it. seed: an int or a Generator; each
    call draws a new mask from it. The output is named D (D1 ...).
    """

    def __init__(self, p: float = 0.5, seed: int | np.random.Generator | None = 0,
                 suffix: str = ""):
        ops.Dropout(p)  # the op checks p: a number in [0, 1)
        self.p, self.suffix = float(p), suffix
        self.rng = np.random.default_rng(seed)
        self.last_mask: np.ndarray | None = None

    def number(self, suffix: str) -> None:
        self.suffix = suffix

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0:
            return x
        mask = (self.rng.random(x.shape) >= self.p).astype(x.dtype)
        self.last_mask = mask
        named_mask = Tensor(mask, name=f"{self._prefix}mask{self.suffix}")
        masked = Tensor._apply(ops.Dropout(self.p), x, named_mask)
        return masked.named(f"{self._prefix}D{self.suffix}")


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
        dtype: Any = np.float32, dropout: float = 0.0) -> Sequential:
    """One hidden layer, as in Dive into Deep Learning §4.2: o2 = ReLU(XW1 + b1)W2 + b2.

    W1 then W2 are drawn from one generator seeded with `seed` (N(0, 0.01²)); biases are 0.
    dropout=p > 0 puts Dropout(p) after the ReLU (§4.6; its masks drawn from the same generator):
    o2 = D1 W2 + b2 with D1 = H1 ⊙ mask1 / (1 − p) in train mode, D1 = H1 in eval mode.
    """
    rng = np.random.default_rng(seed)
    layers: list[Module] = [Linear(num_inputs, num_hidden, seed=rng, dtype=dtype), ReLU()]
    second = Linear(num_hidden, num_classes, seed=rng, dtype=dtype)
    if dropout:
        layers.append(Dropout(dropout, seed=rng))
    return Sequential(*layers, second)


class SoftmaxRegression(Linear):
    """O = XW + b: logits for softmax regression (W ~ N(0, 0.01²), b = 0); names W, b, XW, o."""

    def __init__(self, num_inputs: int, num_classes: int, seed: int | None = 0,
                 dtype: Any = np.float32):
        super().__init__(num_inputs, num_classes, seed=seed, dtype=dtype)
