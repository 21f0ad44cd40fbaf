"""Initialisers, used as `nn.init.xavier_uniform_(layer.W)` (PyTorch's names; the trailing _
says the tensor is filled in place).

Xavier (Glorot) initialisation, d2l §4.8: draw W of shape (n_in, n_out) from
U(−a, a) with a = gain·√(6 / (n_in + n_out)), so that Var(W) = 2 / (n_in + n_out) and a signal
keeps its scale through the layers, forward and backward.
"""
from __future__ import annotations

import math

import numpy as np

from .tensor import Tensor


def _fans(tensor: Tensor, who: str) -> tuple[int, int]:
    if not isinstance(tensor, Tensor) or tensor.ndim != 2:
        shape = getattr(tensor, "shape", None)
        raise ValueError(f"{who}: needs a 2-D weight tensor (n_in, n_out), got "
                         f"{type(tensor).__name__} of shape {shape}")
    n_in, n_out = tensor.shape
    return n_in, n_out


def xavier_bound(n_in: int, n_out: int, gain: float = 1.0) -> float:
    """a of U(−a, a): gain·√(6 / (n_in + n_out))."""
    return gain * math.sqrt(6.0 / (n_in + n_out))


def xavier_uniform_(tensor: Tensor, gain: float = 1.0,
                    seed: int | np.random.Generator | None = 0) -> Tensor:
    """Fill a weight of shape (n_in, n_out) from U(−a, a), a = gain·√(6/(n_in + n_out));
    returns it. seed: an int or a Generator (several layers may share one)."""
    n_in, n_out = _fans(tensor, "xavier_uniform_")
    rng = np.random.default_rng(seed)
    bound = xavier_bound(n_in, n_out, gain)
    tensor.data = rng.uniform(-bound, bound, size=(n_in, n_out)).astype(tensor.dtype)
    return tensor


def normal_(tensor: Tensor, std: float = 0.01, seed: int | np.random.Generator | None = 0) -> Tensor:
    """Fill a tensor from N(0, std²) (the library's default for weights: std 0.01); returns it."""
    rng = np.random.default_rng(seed)
    tensor.data = rng.normal(0.0, std, size=tensor.shape).astype(tensor.dtype)
    return tensor
