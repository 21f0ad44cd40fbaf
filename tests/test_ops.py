"""Every op: forward values against numpy, gradients against central differences (float64)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

from tinygrad_sm import Tensor, gradcheck

# ---- elementwise binary ops, with broadcasting ----

BINARY = {
    "add": (lambda a, b: a + b, np.add),
    "sub": (lambda a, b: a - b, np.subtract),
    "mul": (lambda a, b: a * b, np.multiply),
    "div": (lambda a, b: a / b, np.divide),
}

BROADCAST_PAIRS = [
    ((), ()),            # scalars
    ((4,), (4,)),        # vectors
    ((2, 3), (2, 3)),    # matrices
    ((3, 1), (1, 4)),    # both sides stretched
    ((2, 3), (3,)),      # a row added to every row
    ((), (2, 3)),        # scalar + matrix
    ((2, 3), ()),        # matrix + scalar
    ((4, 1, 3), (2, 1)),  # different ranks, stretched in the middle
]


@pytest.mark.parametrize("op", sorted(BINARY))
@pytest.mark.parametrize("shape_a,shape_b", BROADCAST_PAIRS)
def test_binary_forward_and_gradcheck(op, shape_a, shape_b, leaf):
    fn, reference = BINARY[op]
    a = leaf(shape_a, 0.5, 2.0, signed=True)
    b = leaf(shape_b, 0.5, 2.0, signed=True)  # |b| >= 0.5: division stays smooth
    out = fn(a, b)
    assert out.shape == np.broadcast_shapes(shape_a, shape_b)
    np.testing.assert_allclose(out.data, reference(a.data, b.data), rtol=1e-12)
    assert gradcheck(fn, a, b)
    # each input's gradient comes back in that input's shape
    assert a.grad is None  # gradcheck works on copies and leaves the originals alone
    fn(a, b).sum().backward()
    assert a.grad.shape == shape_a and b.grad.shape == shape_b


@settings(max_examples=25, deadline=None)
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3),
       op=st.sampled_from(sorted(BINARY)), seed=st.integers(0, 2**16))
def test_binary_gradcheck_on_generated_broadcast_shapes(shapes, op, seed):
    rng = np.random.default_rng(seed)
    fn, reference = BINARY[op]
    (shape_a, shape_b), result_shape = shapes.input_shapes, shapes.result_shape
    signs = lambda shape: rng.choice([-1.0, 1.0], size=shape)  # noqa: E731
    a = Tensor(rng.uniform(0.5, 2.0, shape_a) * signs(shape_a), requires_grad=True)
    b = Tensor(rng.uniform(0.5, 2.0, shape_b) * signs(shape_b), requires_grad=True)
    out = fn(a, b)
    assert out.shape == result_shape
    np.testing.assert_allclose(out.data, reference(a.data, b.data), rtol=1e-12)
    assert gradcheck(fn, a, b)


@settings(max_examples=25, deadline=None)
@given(shapes=mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=3, max_side=3),
       seed=st.integers(0, 2**16))
def test_composed_elementwise_on_three_broadcast_shapes(shapes, seed):
    rng = np.random.default_rng(seed)
    a, b, c = (Tensor(rng.uniform(0.5, 2.0, s), requires_grad=True) for s in shapes.input_shapes)
    fn = lambda a, b, c: (a * b - c) / (b + c) + a.exp() * c.log()  # noqa: E731
    assert fn(a, b, c).shape == shapes.result_shape
    assert gradcheck(fn, a, b, c)


# ---- elementwise unary ops ----

UNARY_SHAPES = [(), (5,), (2, 3), (2, 3, 4)]


@pytest.mark.parametrize("shape", UNARY_SHAPES)
@pytest.mark.parametrize("name,fn,reference,low,high,signed", [
    ("neg", lambda x: -x, np.negative, -2.0, 2.0, False),
    ("exp", lambda x: x.exp(), np.exp, -2.0, 2.0, False),
    ("log", lambda x: x.log(), np.log, 0.1, 3.0, False),          # positives only
    ("relu", lambda x: x.relu(), lambda x: np.maximum(x, 0), 0.1, 2.0, True),  # away from 0
    ("pow2", lambda x: x ** 2, np.square, -2.0, 2.0, False),
    ("pow3", lambda x: x ** 3, lambda x: x ** 3, -2.0, 2.0, False),
    ("pow_half", lambda x: x ** 0.5, np.sqrt, 0.2, 3.0, False),
    ("pow_minus1", lambda x: x ** -1, np.reciprocal, 0.5, 2.0, True),
    ("pow_1.5", lambda x: x ** 1.5, lambda x: x ** 1.5, 0.2, 3.0, False),
])
def test_unary_forward_and_gradcheck(name, fn, reference, low, high, signed, shape, leaf):
    x = leaf(shape, low, high, signed=signed)
    out = fn(x)
    assert out.shape == shape and out.dtype == np.float64
    np.testing.assert_allclose(out.data, reference(x.data), rtol=1e-12)
    assert gradcheck(fn, x)


def test_relu_gradient_is_the_positive_mask():
    x = Tensor(np.array([-2.0, -0.5, 0.0, 0.5, 3.0]), requires_grad=True)
    x.relu().sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 0.0, 1.0, 1.0])  # 0 at the kink, as in PyTorch


# ---- reductions ----

REDUCTION_AXES = [None, 0, 1, -1, (0, 1), (0, 2), (2, 0, 1)]
REFERENCE = {"sum": np.sum, "mean": np.mean, "max": np.max}


def distinct_values(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """All different, at least 0.3 apart: max has no ties, central differences see no kink."""
    return rng.permutation(int(np.prod(shape))).reshape(shape) * 0.3 + rng.uniform(0, 0.1, shape)


@pytest.mark.parametrize("op", ["sum", "mean", "max"])
@pytest.mark.parametrize("axis", REDUCTION_AXES)
@pytest.mark.parametrize("keepdims", [False, True])
def test_reduction_forward_and_gradcheck(op, axis, keepdims, rng):
    x = Tensor(distinct_values(rng, (2, 3, 4)), requires_grad=True)
    fn = lambda t: getattr(t, op)(axis=axis, keepdims=keepdims)  # noqa: E731
    out = fn(x)
    expected = REFERENCE[op](x.data, axis=axis, keepdims=keepdims)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.data, expected, rtol=1e-12)
    assert gradcheck(fn, x)


@pytest.mark.parametrize("op", ["sum", "mean", "max"])
@pytest.mark.parametrize("shape,axis", [((), None), ((5,), None), ((5,), 0), ((5,), -1),
                                        ((2, 3), 0), ((2, 3), 1), ((2, 3), None)])
def test_reduction_of_scalars_vectors_and_matrices(op, shape, axis, rng):
    x = Tensor(distinct_values(rng, shape), requires_grad=True)
    for keepdims in (False, True):
        fn = lambda t: getattr(t, op)(axis=axis, keepdims=keepdims)  # noqa: E731
        np.testing.assert_allclose(fn(x).data, REFERENCE[op](x.data, axis=axis, keepdims=keepdims))
        assert gradcheck(fn, x)


def test_reduction_gradients_in_closed_form():
    x = Tensor(np.array([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]]), requires_grad=True)
    x.sum().backward()
    np.testing.assert_array_equal(x.grad, np.ones((2, 3)))
    x.grad = None
    x.mean(axis=1).sum().backward()
    np.testing.assert_allclose(x.grad, np.full((2, 3), 1 / 3), rtol=1e-15)
    x.grad = None
    x.max(axis=1).sum().backward()
    np.testing.assert_array_equal(x.grad, [[0, 1, 0], [1, 0, 0]])


def test_max_shares_the_gradient_between_ties():
    x = Tensor(np.array([3.0, 1.0, 3.0]), requires_grad=True)
    x.max().backward()
    np.testing.assert_array_equal(x.grad, [0.5, 0.0, 0.5])


# ---- shapes ----

@pytest.mark.parametrize("shape,target", [((2, 3), (3, 2)), ((6,), (2, 3)), ((2, 3), (-1,)),
                                          ((), (1, 1)), ((2, 3, 4), (4, 6))])
def test_reshape_forward_and_gradcheck(shape, target, leaf):
    x = leaf(shape)
    fn = lambda t: t.reshape(*target) * np.arange(1.0, x.data.size + 1).reshape(target)  # noqa: E731
    assert x.reshape(*target).shape == np.reshape(x.data, target).shape
    assert x.reshape(target).shape == np.reshape(x.data, target).shape  # a tuple works too
    assert gradcheck(fn, x)


@pytest.mark.parametrize("shape,axes", [((2, 3), ()), ((5,), ()), ((2, 3, 4), ()),
                                        ((2, 3, 4), (1, 2, 0)), ((2, 3, 4), (0, 2, 1)),
                                        ((2, 3, 4), (0, -1, 1)), ((2, 3, 4), (1, -1, 0)),
                                        ((2, 3, 4), (-1, 0, 1))])
def test_transpose_forward_and_gradcheck(shape, axes, leaf):
    x = leaf(shape)
    fn = lambda t: t.transpose(*axes)  # noqa: E731
    np.testing.assert_array_equal(fn(x).data, np.transpose(x.data, axes or None))
    np.testing.assert_array_equal(x.transpose(axes).data, fn(x).data)  # a tuple works too
    assert gradcheck(fn, x)


def test_T_is_the_matrix_transpose(leaf):
    x = leaf((2, 3))
    np.testing.assert_array_equal(x.T.data, x.data.T)
    assert gradcheck(lambda t: t.T @ t, x)


# ---- matmul, numpy's rules ----

MATMUL_SHAPES = [
    ((3,), (3,)),              # 1-D · 1-D -> scalar
    ((3,), (3, 4)),            # 1-D · 2-D
    ((2, 3), (3,)),            # 2-D · 1-D
    ((2, 3), (3, 4)),          # 2-D · 2-D
    ((2, 3, 4), (4, 5)),       # batched · matrix
    ((2, 3, 4), (2, 4, 5)),    # batched · batched
    ((2, 1, 3, 4), (5, 4, 2)),  # broadcast batch dims on both sides
    ((3, 4), (2, 4, 5)),       # matrix · batched
    ((4,), (2, 4, 5)),         # 1-D · batched
    ((2, 3, 4), (4,)),         # batched · 1-D
]


@pytest.mark.parametrize("shape_a,shape_b", MATMUL_SHAPES)
def test_matmul_forward_and_gradcheck(shape_a, shape_b, leaf):
    a, b = leaf(shape_a), leaf(shape_b)
    out = a @ b
    expected = a.data @ b.data
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out.data, expected, rtol=1e-12)
    assert gradcheck(lambda x, y: x @ y, a, b)


def test_matmul_gradients_in_closed_form(leaf):
    A, B = leaf((2, 3)), leaf((3, 4))
    G = np.arange(8.0).reshape(2, 4)
    (A @ B).backward(G)
    np.testing.assert_allclose(A.grad, G @ B.data.T, rtol=1e-14)
    np.testing.assert_allclose(B.grad, A.data.T @ G, rtol=1e-14)


def test_matmul_against_data_computes_only_the_needed_gradient(leaf):
    X = Tensor(np.ones((2, 3)))  # data: no gradient wanted
    W = leaf((3, 4))
    trace = (X @ W).sum().backward(trace=True)
    step = next(s for s in trace if s.op == "matmul")
    assert step.grad_inputs[0] is None and step.local_grads[0] is None
    assert step.grad_inputs[1].shape == (3, 4)
    assert X.grad is None


# ---- softmax family ----

@pytest.mark.parametrize("shape,axis", [((4,), -1), ((2, 3), -1), ((2, 3), 0), ((2, 3, 4), 1),
                                        ((2, 3, 4), -1), ((1,), 0)])
@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax_family_forward_and_gradcheck(op, shape, axis, leaf):
    x = leaf(shape, -3.0, 3.0)
    out = getattr(x, op)(axis=axis)
    e = np.exp(x.data - x.data.max(axis=axis, keepdims=True))
    probs = e / e.sum(axis=axis, keepdims=True)
    np.testing.assert_allclose(out.data, probs if op == "softmax" else np.log(probs), rtol=1e-12)
    if op == "softmax":
        np.testing.assert_allclose(out.data.sum(axis=axis), 1.0, rtol=1e-12)
    assert gradcheck(lambda t: getattr(t, op)(axis=axis), x)


def test_pow_zero_has_zero_gradient_even_at_zero():
    x = Tensor(np.array([0.0, 2.0]), requires_grad=True)
    (x ** 0).sum().backward()
    assert np.array_equal(x.grad, [0.0, 0.0])


def test_reduction_axis_may_be_a_list():
    t = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    out = t.sum(axis=[0, 1])
    out.backward()
    assert out.item() == 15.0 and np.array_equal(t.grad, np.ones((2, 3)))
