"""Tensor basics: dtype rules, accessors, repr, and operators with numbers and arrays on either side."""
from __future__ import annotations

import numpy as np
import pytest

from tinygrad_sm import Tensor, gradcheck

# ---- dtype rules ----

@pytest.mark.parametrize("data", [3, 2.5, True, [1, 2, 3], [[1.0, 2.0], [3.0, 4.0]], (1, 2)])
def test_python_numbers_and_lists_become_float32(data):
    t = Tensor(data)
    assert t.dtype == np.float32
    np.testing.assert_array_equal(t.data, np.asarray(data, dtype=np.float32))
    assert isinstance(t.data, np.ndarray)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_float_numpy_arrays_keep_their_dtype(dtype):
    array = np.array([1.0, 2.0], dtype=dtype)
    assert Tensor(array).dtype == dtype
    assert Tensor(array[0]).dtype == dtype  # a numpy scalar too


def test_integer_numpy_arrays_stay_integer_for_labels():
    labels = Tensor(np.array([0, 2, 1]))
    assert labels.dtype == np.int64 and not labels.requires_grad


def test_the_dtype_parameter_wins():
    assert Tensor([1, 2], dtype=np.float64).dtype == np.float64
    assert Tensor(np.array([1.0, 2.0]), dtype=np.float32).dtype == np.float32
    assert Tensor(1.5, dtype="float64").dtype == np.float64
    assert Tensor([1, 2], dtype=np.int32).dtype == np.int32


def test_numbers_in_operators_take_the_tensors_float_dtype():
    for dtype in (np.float32, np.float64):
        t = Tensor(np.ones(2, dtype=dtype))
        for out in (t + 1, 2 * t, t - 0.5, 1 / t, t ** 2, -t, t @ [1, 1]):
            assert out.dtype == dtype, out


def test_integer_tensor_cannot_require_grad_and_says_why():
    with pytest.raises(TypeError, match=r"requires_grad=True needs a floating-point dtype, got int64"):
        Tensor(np.array([1, 2]), requires_grad=True)
    with pytest.raises(TypeError, match="floating-point dtype, got bool"):
        Tensor(np.array([True]), requires_grad=True)
    assert Tensor([1, 2], requires_grad=True).dtype == np.float32  # Python ints are fine: float32


# ---- accessors ----

def test_shape_ndim_item_numpy():
    t = Tensor(np.arange(6.0).reshape(2, 3))
    assert t.shape == (2, 3) and t.ndim == 2
    assert isinstance(t.numpy(), np.ndarray)
    np.testing.assert_array_equal(t.numpy(), np.arange(6.0).reshape(2, 3))
    s = Tensor(np.array([[4.5]]))
    assert s.item() == 4.5 and isinstance(s.item(), float)
    assert Tensor(7).item() == 7.0
    with pytest.raises(ValueError, match=r"item: only a one-element tensor.*shape \(2, 3\)"):
        t.item()


def test_results_hold_numpy_arrays_even_when_scalar():
    x = Tensor(np.arange(3.0), requires_grad=True)
    for out in (x.sum(), x.max(), x.mean(), x @ x, x.sum().exp(), Tensor(np.float64(2.0)).log()):
        assert isinstance(out.data, np.ndarray) and out.shape == (), type(out.data)
        assert isinstance(out.numpy(), np.ndarray)


def test_mean_of_integers_is_not_truncated():
    assert Tensor(np.array([1, 2])).mean().item() == 1.5


def test_detach_has_no_graph_and_shares_no_grad():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = (x * 3).named("y")
    d = y.detach()
    assert d.op is None and d.inputs == () and not d.requires_grad and d.grad is None
    np.testing.assert_array_equal(d.data, [3.0, 6.0])
    assert d.name == "y"
    y.sum().backward()
    assert d.grad is None
    # a detached value is a constant: gradients stop there
    w = Tensor(np.array([2.0, 2.0]), requires_grad=True)
    (w * d).sum().backward()
    np.testing.assert_array_equal(w.grad, d.data)
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])  # unchanged by the second backward


def test_named_sets_the_name_and_returns_self():
    t = Tensor([1.0])
    assert t.named("W") is t and t.name == "W"


def test_a_tensor_from_a_tensor_copies_no_graph():
    x = Tensor(np.array([1.0]), requires_grad=True)
    y = Tensor(x * 2)
    assert y.op is None and y.data[0] == 2.0


def test_repr_shows_values_name_and_grad_state():
    t = Tensor(np.array([1.0, 2.5]), requires_grad=True, name="W")
    text = repr(t)
    assert text.startswith("Tensor(") and "1." in text and "2.5" in text
    assert "name='W'" in text and "requires_grad=True" in text and "float64" in text
    out = repr(t * 2)
    assert "op=mul" in out
    big = repr(Tensor(np.zeros((100, 100))))
    assert "..." in big and len(big) < 1000  # large tensors are summarised


# ---- operators with numbers and arrays on either side ----

OPERATORS = [
    ("t + 1", lambda t: t + 1, lambda x: x + 1, lambda x: np.ones_like(x)),
    ("1 + t", lambda t: 1 + t, lambda x: 1 + x, lambda x: np.ones_like(x)),
    ("t - 1", lambda t: t - 1, lambda x: x - 1, lambda x: np.ones_like(x)),
    ("1 - t", lambda t: 1 - t, lambda x: 1 - x, lambda x: -np.ones_like(x)),
    ("2 * t", lambda t: 2 * t, lambda x: 2 * x, lambda x: np.full_like(x, 2)),
    ("t * 2", lambda t: t * 2, lambda x: x * 2, lambda x: np.full_like(x, 2)),
    ("2 / t", lambda t: 2 / t, lambda x: 2 / x, lambda x: -2 / x ** 2),
    ("t / 2", lambda t: t / 2, lambda x: x / 2, lambda x: np.full_like(x, 0.5)),
    ("t ** 2", lambda t: t ** 2, lambda x: x ** 2, lambda x: 2 * x),
    ("-t", lambda t: -t, lambda x: -x, lambda x: -np.ones_like(x)),
    ("array + t", lambda t: np.array([1.0, 2.0, 3.0]) + t, lambda x: x + [1, 2, 3],
     lambda x: np.ones_like(x)),
    ("array * t", lambda t: np.array([1.0, 2.0, 3.0]) * t, lambda x: x * [1, 2, 3],
     lambda x: np.array([1.0, 2.0, 3.0])),
    ("list * t", lambda t: [1.0, 2.0, 3.0] * t, lambda x: x * [1, 2, 3],
     lambda x: np.array([1.0, 2.0, 3.0])),
]


@pytest.mark.parametrize("expr,fn,value,grad", OPERATORS, ids=[o[0] for o in OPERATORS])
def test_operators_compute_and_differentiate(expr, fn, value, grad):
    x = np.array([0.5, -1.5, 2.0])
    t = Tensor(x, requires_grad=True)
    out = fn(t)
    assert isinstance(out, Tensor) and out.requires_grad
    np.testing.assert_allclose(out.data, value(x), rtol=1e-15)
    out.sum().backward()
    np.testing.assert_allclose(t.grad, grad(x), rtol=1e-15)
    assert gradcheck(fn, Tensor(x, requires_grad=True))


def test_numpy_array_matmul_tensor():
    A = np.arange(6.0).reshape(2, 3)
    t = Tensor(np.array([[1.0], [2.0], [3.0]]), requires_grad=True)
    out = A @ t
    assert isinstance(out, Tensor) and out.op.name == "matmul"
    np.testing.assert_array_equal(out.data, A @ t.data)
    out.sum().backward()
    np.testing.assert_array_equal(t.grad, A.T @ np.ones((2, 1)))
    assert (t.T @ A.T).shape == (1, 2)  # an array on the right works too


def test_operators_between_two_tensors_record_inputs_in_order():
    a, b = Tensor([1.0], requires_grad=True), Tensor([2.0], requires_grad=True)
    for out in (a - b, a / b, a @ b):
        assert out.inputs[0] is a and out.inputs[1] is b
    for out in (1 - a, 2 / a):  # reflected: the number is the left input
        assert out.inputs[1] is a and out.inputs[0].item() in (1.0, 2.0)
    assert (2 / a).item() == 2.0 and (1 - b).item() == -1.0
