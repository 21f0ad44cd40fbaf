"""gradcheck itself: it passes correct ops and catches wrong ones, naming input, element and values."""
from __future__ import annotations

import numpy as np
import pytest

from tinygrad_sm import GradcheckError, Tensor, gradcheck
from tinygrad_sm.gradcheck import numerical_grad
from tinygrad_sm.ops import Op


class ForgetsTheFactor(Op):
    """out = 2a, but backward returns ∂L/∂out instead of 2·∂L/∂out."""
    name, formula, rules = "double", "{out} = 2{a}", ("∂L/∂{a} = 2 ∂L/∂{out}",)

    def forward(self, a):
        return 2 * a

    def backward(self, g, needs):
        return (g,)


class WrongAtOneElement(Op):
    """out = a ⊙ b; the gradient for b is right except at element (1, 2)."""
    name = "mul_with_a_typo"
    rules = ("", "")

    def forward(self, a, b):
        self.save(a, b)
        return a * b

    def backward(self, g, needs):
        a, b = self.saved
        gb = g * a
        gb[1, 2] += 0.5
        return g * b, gb


class IgnoresUpstream(Op):
    """out = 3a, but backward returns 3 everywhere, whatever ∂L/∂out is."""
    name, rules = "triple", ("",)

    def forward(self, a):
        return 3 * a

    def backward(self, g, needs):
        return (np.full(g.shape, 3.0),)


def test_gradcheck_passes_a_correct_function_of_several_inputs(leaf):
    a, b = leaf((2, 3)), leaf((3,), 0.5, 2.0)
    assert gradcheck(lambda a, b: (a * b).exp().sum(axis=0) / b, a, b) is True


def reported_values(error: GradcheckError) -> tuple[float, float]:
    """(analytic, central difference) as printed in the message."""
    tail = str(error).split("analytic gradient ")[1]
    analytic, numeric = tail.split(" (the worst")[0].split(" vs central difference ")
    return float(analytic), float(numeric)


def test_gradcheck_catches_a_wrong_backward_and_names_everything():
    x = Tensor(np.array([0.5, 1.0, 2.0]), requires_grad=True, name="x")
    with pytest.raises(GradcheckError, match=r"^gradcheck: input 0 \('x'\) of shape \(3,\), "
                                             r"element \(\d,\): analytic gradient [\d.]+ vs "
                                             r"central difference [\d.]+ \(the worst of 3 wrong "
                                             r"entries out of 3\)$") as info:
        gradcheck(lambda t: Tensor._apply(ForgetsTheFactor(), t), x)
    analytic, numeric = reported_values(info.value)
    assert numeric == pytest.approx(2 * analytic, rel=1e-6)  # the forgotten factor 2


def test_gradcheck_points_at_the_wrong_input_and_element(leaf):
    a, b = leaf((2, 3)), leaf((2, 3))
    fn = lambda a, b: Tensor._apply(WrongAtOneElement(), a, b)  # noqa: E731
    with pytest.raises(GradcheckError) as info:
        gradcheck(fn, a, b)
    message = str(info.value)
    assert "input 1 of shape (2, 3), element (1, 2)" in message
    assert isinstance(info.value, AssertionError)  # pytest shows it as a failed check
    # both values are printed, and they differ by exactly the injected 0.5
    analytic, numeric = reported_values(info.value)
    assert analytic - numeric == pytest.approx(0.5, abs=1e-6)


def test_gradcheck_sees_every_output_element():
    # a wrong gradient for one output element is caught even when the output is not a scalar
    x = Tensor(np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]), requires_grad=True)
    fn = lambda a, b: Tensor._apply(WrongAtOneElement(), a, b)  # noqa: E731
    assert gradcheck(fn, x, Tensor(np.ones((2, 3))))  # b needs no gradient: its typo is unused
    with pytest.raises(GradcheckError, match=r"element \(1, 2\)"):
        gradcheck(fn, Tensor(np.ones((2, 3))), Tensor(x.data, requires_grad=True))


def test_gradcheck_catches_a_backward_that_ignores_the_upstream_gradient():
    # with out.sum() as the loss ∂L/∂out is all ones and this bug would hide: gradcheck weights
    # the output elements with distinct numbers so that it cannot
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    with pytest.raises(GradcheckError, match=r"input 0 of shape \(2,\)"):
        gradcheck(lambda t: Tensor._apply(IgnoresUpstream(), t), x)


def test_gradcheck_works_in_float64_on_float32_inputs_and_leaves_them_alone():
    x = Tensor(np.array([0.3, 0.7], dtype=np.float32), requires_grad=True)
    before = x.data.copy()
    assert gradcheck(lambda t: (t * 1000.0).exp().log() * t, x)  # float32 would lose digits here
    np.testing.assert_array_equal(x.data, before)
    assert x.grad is None and x.dtype == np.float32


def test_gradcheck_skips_inputs_that_need_no_gradient():
    w = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    data = Tensor(np.array([3.0, 4.0]))
    calls = []

    def fn(w, d):
        calls.append(1)
        return Tensor._apply(ForgetsTheFactor(), d) * w

    assert gradcheck(fn, w, data)
    assert len(calls) == 1 + 2 * 2  # one analytic pass + two evaluations per element of w only


def test_numerical_grad_of_a_known_function():
    x = Tensor(np.array([1.0, -2.0, 0.5]))
    weights = np.array([1.0, 2.0, 3.0])
    grad = numerical_grad(lambda t: t * t * t, [x], 0, weights, 1e-6)
    np.testing.assert_allclose(grad, weights * 3 * x.data ** 2, rtol=1e-8)
    np.testing.assert_array_equal(x.data, [1.0, -2.0, 0.5])  # restored after perturbing


def test_gradcheck_on_an_integer_tensor_says_its_dtype():
    counts = Tensor(np.array([1, 2, 3]))
    with pytest.raises(ValueError, match=r"^gradcheck: no tensor requires grad, so there is "
                                         r"nothing to check; argument 1 has dtype int64: "
                                         r"gradients are defined for floating-point tensors"):
        gradcheck(lambda t: t * 2.0, counts)


def test_gradcheck_with_no_tensor_requiring_grad():
    with pytest.raises(ValueError, match=r"nothing to check; create the tensors to check with "
                                         r"requires_grad=True$"):
        gradcheck(lambda t: t * 2.0, Tensor(np.ones(2)))


def test_gradcheck_on_a_numpy_array():
    with pytest.raises(TypeError, match=r"^gradcheck: argument 2 must be a Tensor, got ndarray$"):
        gradcheck(lambda a, b: a * b, Tensor(np.ones(2), requires_grad=True), np.ones(2))


@pytest.mark.parametrize("eps", [0, 0.0, -1e-6, float("nan"), float("inf")])
def test_gradcheck_refuses_a_step_that_is_not_positive(eps):
    x = Tensor(np.ones(2), requires_grad=True)
    with pytest.raises(ValueError, match=rf"^gradcheck: eps must be positive and finite, got {eps}"):
        gradcheck(lambda a: a * a, x, eps=eps)


@pytest.mark.parametrize("eps", ["1e-6", None, True])
def test_gradcheck_refuses_a_step_that_is_not_a_number(eps):
    with pytest.raises(TypeError, match=r"^gradcheck: eps must be a number, got "):
        gradcheck(lambda a: a * a, Tensor(np.ones(2), requires_grad=True), eps=eps)


def test_gradcheck_of_a_function_that_returns_an_array_is_a_type_error():
    def squares(a):
        return a.data ** 2

    with pytest.raises(TypeError, match=r"^gradcheck: the function squares returned a ndarray, "
                                        r"not a Tensor; compute its result with Tensor operations"):
        gradcheck(squares, Tensor(np.ones(2), requires_grad=True))
