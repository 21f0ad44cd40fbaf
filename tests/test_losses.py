"""Softmax, log-softmax and the losses: the seed's numbers, stability, and closed-form gradients."""
from __future__ import annotations

import numpy as np
import pytest

import tinygrad_sm.nn as nn
from tinygrad_sm import Tensor, gradcheck

# ---- the seed's numbers ----

@pytest.mark.parametrize("logits,expected", [
    ([0.0, 1.0, 2.0], [0.0900, 0.2447, 0.6652]),
    ([0.0, 1.0, 3.0], [0.0420, 0.1142, 0.8438]),
])
def test_softmax_matches_the_seed_to_four_decimals(logits, expected):
    probs = Tensor(logits).softmax().numpy()
    # rounded to 4 decimals they are the seed's numbers (atol only absorbs float32 storage)
    np.testing.assert_allclose(np.round(probs.astype(np.float64), 4), expected, rtol=0, atol=1e-7)
    assert abs(probs.sum() - 1.0) < 1e-6


# ---- stability at huge logits ----

HUGE = [np.array([[1000.0, 1001.0, 1002.0]]), np.array([[-1000.0, -1001.0, -1002.0]]),
        np.array([[1000.0, -1000.0, 0.0], [-1002.0, -1001.0, -1000.0]])]


@pytest.mark.parametrize("logits", HUGE, ids=["plus1000", "minus1000", "mixed"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_family_and_cross_entropy_are_finite_at_huge_logits(logits, dtype):
    shifted = logits - logits.max(axis=1, keepdims=True)
    expected = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    o = Tensor(logits.astype(dtype), requires_grad=True)
    for out in (o.softmax(), o.log_softmax()):
        assert np.all(np.isfinite(out.data))
        (out * np.arange(1.0, 4.0)).sum().backward()
        assert np.all(np.isfinite(o.grad))
        o.grad = None
    np.testing.assert_allclose(o.softmax().data, expected, rtol=1e-5)
    labels = np.zeros(len(logits), dtype=np.int64)
    loss = nn.cross_entropy(o, labels)
    assert np.isfinite(loss.item())
    loss.backward()
    assert np.all(np.isfinite(o.grad))
    np.testing.assert_allclose(o.grad, (expected - np.eye(3)[labels]) / len(logits), atol=1e-6)


def test_cross_entropy_at_huge_logits_has_the_right_value():
    # a wrong class 1000 below the right one costs exactly 1000 (+ log(1 + e^-2000) ≈ 0)
    o = Tensor(np.array([[0.0, 1000.0]]), requires_grad=True)
    assert nn.cross_entropy(o, np.array([0])).item() == pytest.approx(1000.0, rel=1e-12)
    assert o.log_softmax().data[0, 0] == pytest.approx(-1000.0, rel=1e-12)


# ---- composed and fused agree ----

def composed_softmax(o: Tensor) -> Tensor:
    return o.exp() / o.exp().sum(axis=-1, keepdims=True)


def stable_composed_softmax(o: Tensor) -> Tensor:
    # the max is a constant for the gradient: subtract it as data, outside the graph
    shifted = o - o.max(axis=-1, keepdims=True).detach()
    return shifted.exp() / shifted.exp().sum(axis=-1, keepdims=True)


def stable_composed_softmax_through_max(o: Tensor) -> Tensor:
    # ... and even when the max stays in the graph, its gradient cancels out
    shifted = o - o.max(axis=-1, keepdims=True)
    return shifted.exp() / shifted.exp().sum(axis=-1, keepdims=True)


@pytest.mark.parametrize("composed", [composed_softmax, stable_composed_softmax,
                                      stable_composed_softmax_through_max])
def test_composed_softmax_gives_the_fused_gradient(composed, rng):
    logits = rng.normal(size=(4, 5))
    upstream = rng.normal(size=(4, 5))
    fused, built = Tensor(logits, requires_grad=True), Tensor(logits, requires_grad=True)
    fused.softmax().backward(upstream)
    out = composed(built)
    out.backward(upstream)
    np.testing.assert_allclose(out.data, fused.softmax().data, rtol=1e-12)
    np.testing.assert_allclose(built.grad, fused.grad, rtol=1e-10, atol=1e-14)
    assert {t.op.name for t in walk(out)} >= {"exp", "sum", "div"}  # really composed
    assert "softmax" not in {t.op.name for t in walk(out)}


def walk(root: Tensor) -> list[Tensor]:
    """Every op node under root (to show a composed graph really is made of several ops)."""
    seen, stack, out = set(), [root], []
    while stack:
        t = stack.pop()
        if id(t) in seen or t.op is None:
            continue
        seen.add(id(t))
        out.append(t)
        stack.extend(t.inputs)
    return out


def composed_cross_entropy(o: Tensor, y: np.ndarray) -> Tensor:
    """−mean Σ y log softmax(o), built from exp, sum, log, mul and mean."""
    log_probs = o - o.exp().sum(axis=1, keepdims=True).log()
    return -(log_probs * y).sum(axis=1).mean()


@pytest.mark.parametrize("n,k", [(1, 3), (4, 3), (8, 10)])
def test_composed_cross_entropy_agrees_with_the_fused_one(n, k, rng):
    logits = rng.normal(size=(n, k))
    labels = rng.integers(0, k, size=n)
    y = np.eye(k)[labels]
    fused, built = Tensor(logits, requires_grad=True), Tensor(logits, requires_grad=True)
    L_fused = nn.cross_entropy(fused, labels)
    L_built = composed_cross_entropy(built, y)
    assert L_fused.item() == pytest.approx(L_built.item(), rel=1e-12)
    L_fused.backward()
    L_built.backward()
    np.testing.assert_allclose(fused.grad, built.grad, rtol=1e-10, atol=1e-15)
    # and with log_softmax as the building block
    via_log_softmax = -(Tensor(logits).log_softmax() * y).sum(axis=1).mean()
    assert via_log_softmax.item() == pytest.approx(L_fused.item(), rel=1e-12)


@pytest.mark.parametrize("target_kind", ["indices", "int_tensor", "one_hot", "soft"])
def test_cross_entropy_gradient_is_softmax_minus_target_over_n(target_kind, rng):
    n, k = 6, 4
    logits = rng.normal(size=(n, k))
    labels = rng.integers(0, k, size=n)
    if target_kind == "soft":
        y = rng.uniform(0.1, 1.0, size=(n, k))
        y /= y.sum(axis=1, keepdims=True)
    else:
        y = np.eye(k)[labels]
    target = {"indices": labels, "int_tensor": Tensor(labels), "one_hot": y, "soft": y}[target_kind]
    o = Tensor(logits, requires_grad=True)
    L = nn.cross_entropy(o, target)
    L.backward()
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    y_hat = e / e.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(o.grad, (y_hat - y) / n, rtol=0, atol=1e-12)
    expected_loss = -np.mean(np.sum(y * np.log(y_hat), axis=1))
    assert L.item() == pytest.approx(expected_loss, rel=1e-12)
    assert L.shape == () and L.dtype == np.float64


def test_cross_entropy_takes_python_lists_as_targets():
    o = Tensor(np.array([[0.0, 1.0, 2.0], [2.0, 0.0, 0.0]]), requires_grad=True)
    from_indices = nn.cross_entropy(o, [2, 0]).item()       # a list of ints: class indices
    from_rows = nn.cross_entropy(o, [[0, 0, 1.0], [1.0, 0, 0]]).item()  # rows: probabilities
    expected = -np.mean(o.log_softmax().data[[0, 1], [2, 0]])
    assert from_indices == pytest.approx(expected, rel=1e-12)
    assert from_rows == pytest.approx(expected, rel=1e-12)


def test_cross_entropy_keeps_float32():
    o = Tensor(np.zeros((2, 3), dtype=np.float32), requires_grad=True)
    L = nn.cross_entropy(o, np.array([0, 2]))
    assert L.dtype == np.float32
    assert L.item() == pytest.approx(np.log(3.0), rel=1e-6)
    L.backward()
    assert o.grad.dtype == np.float32



@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int32, np.uint32, np.uint64, ">i8", "<i4"])
def test_cross_entropy_takes_class_indices_of_any_integer_dtype(dtype, rng):
    """The loss picks each row's true class by one flat index; every integer dtype of the labels
    (unsigned 64-bit, other byte orders) must pick the same entries as int64 labels."""
    logits = rng.normal(size=(5, 4))
    labels = np.array([3, 0, 2, 1, 3])
    reference = Tensor(logits, requires_grad=True)
    nn.cross_entropy(reference, labels).backward()
    o = Tensor(logits, requires_grad=True)
    L = nn.cross_entropy(o, labels.astype(dtype))
    L.backward()
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    y_hat = e / e.sum(axis=1, keepdims=True)
    assert L.item() == pytest.approx(-np.mean(np.log(y_hat[np.arange(5), labels])), rel=1e-12)
    np.testing.assert_array_equal(o.grad, reference.grad)
    np.testing.assert_allclose(o.grad, (y_hat - np.eye(4)[labels]) / 5, rtol=0, atol=1e-12)


def test_cross_entropy_of_non_contiguous_logits(rng):
    """Logits that are a transposed view (Fortran order) give the same loss and gradient."""
    logits = rng.normal(size=(4, 6))
    labels = np.array([5, 0, 2, 2])
    contiguous = Tensor(np.ascontiguousarray(logits), requires_grad=True)
    transposed = Tensor(np.asfortranarray(logits), requires_grad=True)
    L1, L2 = nn.cross_entropy(contiguous, labels), nn.cross_entropy(transposed, labels)
    L1.backward()
    L2.backward()
    assert L2.item() == L1.item()
    np.testing.assert_array_equal(transposed.grad, contiguous.grad)


# ---- the softmax Jacobian, one backward per output ----

def test_softmax_jacobian_rows_are_yhat_i_times_delta_minus_yhat_j(rng):
    logits = rng.normal(size=5)
    o = Tensor(logits, requires_grad=True)
    y_hat = o.softmax()
    p = y_hat.data
    expected = np.diag(p) - np.outer(p, p)  # J[i, j] = ŷᵢ (δᵢⱼ − ŷⱼ)
    for i in range(5):
        o.grad = None
        y_hat.backward(np.eye(5)[i])       # the graph stays, so one backward per output works
        np.testing.assert_allclose(o.grad, expected[i], rtol=0, atol=1e-15)


def test_log_softmax_jacobian_is_delta_minus_yhat(rng):
    logits = rng.normal(size=4)
    o = Tensor(logits, requires_grad=True)
    log_y = o.log_softmax()
    p = np.exp(log_y.data)
    for i in range(4):
        o.grad = None
        log_y.backward(np.eye(4)[i])
        np.testing.assert_allclose(o.grad, np.eye(4)[i] - p, rtol=0, atol=1e-15)


# ---- gradcheck of the losses ----

@pytest.mark.parametrize("n,k", [(1, 2), (3, 4), (5, 3)])
def test_gradcheck_cross_entropy_with_class_indices(n, k, rng):
    o = Tensor(rng.normal(size=(n, k)), requires_grad=True)
    labels = rng.integers(0, k, size=n)
    assert gradcheck(lambda x: nn.cross_entropy(x, labels), o)
    assert gradcheck(lambda x: nn.cross_entropy(x, Tensor(labels)), o)  # integer Tensor target


@pytest.mark.parametrize("n,k", [(1, 2), (3, 4)])
def test_gradcheck_cross_entropy_with_a_probability_matrix(n, k, rng):
    o = Tensor(rng.normal(size=(n, k)), requires_grad=True)
    y = rng.uniform(0.1, 1.0, size=(n, k))
    y /= y.sum(axis=1, keepdims=True)
    assert gradcheck(lambda x: nn.cross_entropy(x, y), o)
    # rows that do not sum to 1: the gradient is ŷ·Σy − y, not ŷ − y, and the op knows it
    unnormalized = rng.uniform(0.1, 1.0, size=(n, k))
    assert gradcheck(lambda x: nn.cross_entropy(x, unnormalized), o)
    # a target that requires grad (e.g. soft labels from another model) gets −log ŷ / n
    target = Tensor(y, requires_grad=True)
    assert gradcheck(lambda x, t: nn.cross_entropy(x, t), o, target)


def test_gradcheck_cross_entropy_upstream_of_a_model(rng):
    X = Tensor(rng.normal(size=(5, 3)))
    W, b = (Tensor(rng.normal(size=s), requires_grad=True) for s in [(3, 4), (4,)])
    labels = rng.integers(0, 4, size=5)
    assert gradcheck(lambda W, b: nn.cross_entropy(X @ W + b, labels), W, b)


@pytest.mark.parametrize("shape", [(), (5,), (3, 2)])
def test_mse_loss_value_and_gradcheck(shape, rng):
    pred = Tensor(rng.normal(size=shape), requires_grad=True)
    target = rng.normal(size=shape)
    L = nn.mse_loss(pred, target)
    assert L.item() == pytest.approx(np.mean((pred.data - target) ** 2), rel=1e-12)
    L.backward()
    np.testing.assert_allclose(pred.grad, 2 * (pred.data - target) / max(pred.data.size, 1),
                               rtol=1e-12)
    assert gradcheck(lambda p: nn.mse_loss(p, target), pred)
    target_t = Tensor(target, requires_grad=True)
    assert gradcheck(lambda p, t: nn.mse_loss(p, t), pred, target_t)


def test_one_hot():
    np.testing.assert_array_equal(nn.one_hot(np.array([2, 0]), 3), [[0, 0, 1], [1, 0, 0]])
    with pytest.raises(ValueError, match=r"one_hot: labels must lie in \[0, 3\)"):
        nn.one_hot(np.array([3]), 3)


@pytest.mark.parametrize("loss, argument, prediction, target", [
    (nn.cross_entropy, "logits", np.zeros((2, 3)), np.array([0, 2])),
    (nn.cross_entropy, "logits", [[0.0, 1.0]], np.array([1])),
    (nn.mse_loss, "pred", [1.0, 2.0], np.array([1.0, 2.0])),
    (nn.mse_loss, "pred", np.ones(2), Tensor(np.ones(2))),
])
def test_a_prediction_that_is_not_a_tensor_is_a_type_error_naming_loss_and_argument(
        loss, argument, prediction, target):
    kind = type(prediction).__name__
    with pytest.raises(TypeError, match=rf"^{loss.__name__}: {argument} must be a Tensor \(the "
                                        rf"model's output\), got {kind}; wrap constants with "
                                        r"Tensor\(\.\.\.\)$"):
        loss(prediction, target)
