"""Shared fixtures for the engine tests: seeded float64 leaves, so gradchecks are exact and repeatable."""
from __future__ import annotations

from typing import Callable

import numpy as np
import pytest

from tinygrad_sm import Tensor

MakeLeaf = Callable[..., Tensor]


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture
def leaf(rng: np.random.Generator) -> MakeLeaf:
    """leaf(shape, low, high, signed=False) -> a float64 tensor that requires grad.

    Values are uniform in [low, high); with signed=True each value also gets a random sign,
    which keeps |x| >= low: away from the kinks of relu and the pole of division.
    """
    def make(shape: tuple[int, ...] = (), low: float = -2.0, high: float = 2.0,
             signed: bool = False, name: str | None = None) -> Tensor:
        values = rng.uniform(low, high, size=shape)
        if signed:
            values = values * rng.choice([-1.0, 1.0], size=shape)
        return Tensor(values, requires_grad=True, name=name)
    return make
