"""Bad input: every error names the op and the shapes or types involved."""
from __future__ import annotations

import re

import numpy as np
import pytest

import tinygrad_sm.nn as nn
from tinygrad_sm import InputError, ShapeError, Tensor

# ---- shapes ----

def test_mismatched_matmul_shapes():
    a, b = Tensor(np.ones((2, 3))), Tensor(np.ones((4, 5)))
    with pytest.raises(ShapeError, match=r"^matmul: cannot apply to shapes \(2, 3\) and \(4, 5\): "
                                         r"inner dimensions differ: 3 .* vs 4"):
        a @ b


@pytest.mark.parametrize("shape_a,shape_b", [((3,), (4,)), ((2, 3, 4), (3, 4)), ((3,), (2, 4, 5))])
def test_mismatched_matmul_shapes_in_1d_and_batched_cases(shape_a, shape_b):
    with pytest.raises(ShapeError, match=rf"^matmul: cannot apply to shapes "
                                         rf"{re_shape(shape_a)} and {re_shape(shape_b)}"):
        Tensor(np.ones(shape_a)) @ Tensor(np.ones(shape_b))


def test_matmul_with_a_scalar():
    with pytest.raises(ShapeError, match=r"^matmul: cannot apply to shapes \(\) and \(3,\): .*scalar"):
        Tensor(2.0) @ Tensor(np.ones(3))


def test_matmul_with_mismatched_batch_dimensions():
    with pytest.raises(ShapeError, match=r"^matmul: cannot apply to shapes \(2, 3, 4\) and \(3, 4, 5\)"):
        Tensor(np.ones((2, 3, 4))) @ Tensor(np.ones((3, 4, 5)))


@pytest.mark.parametrize("op,fn", [("add", lambda a, b: a + b), ("sub", lambda a, b: a - b),
                                   ("mul", lambda a, b: a * b), ("div", lambda a, b: a / b)])
def test_mismatched_broadcast(op, fn):
    a, b = Tensor(np.ones((2, 3))), Tensor(np.ones(4))
    with pytest.raises(ShapeError, match=rf"^{op}: cannot apply to shapes \(2, 3\) and \(4,\)"):
        fn(a, b)


def test_mismatched_broadcast_with_a_numpy_array_on_the_left():
    with pytest.raises(ShapeError, match=r"^add: cannot apply to shapes \(4,\) and \(2, 3\)"):
        np.ones(4) + Tensor(np.ones((2, 3)))


def test_shape_errors_are_value_errors():
    assert issubclass(ShapeError, ValueError)


@pytest.mark.parametrize("fn,pattern", [
    (lambda t: t.reshape(4, 2), r"^reshape: cannot apply to shape \(2, 3\)"),
    (lambda t: t.sum(axis=2), r"^sum: cannot apply to shape \(2, 3\): .*axis 2"),
    (lambda t: t.max(axis=-3), r"^max: cannot apply to shape \(2, 3\): .*axis -3"),
    (lambda t: t.mean(axis=5), r"^mean: cannot apply to shape \(2, 3\): .*axis 5"),
    (lambda t: t.softmax(axis=2), r"^softmax: cannot apply to shape \(2, 3\): .*axis 2"),
    (lambda t: t.transpose(0, 2), r"^transpose: cannot apply to shape \(2, 3\)"),
])
def test_bad_axes_and_shapes_for_unary_ops(fn, pattern):
    with pytest.raises(ShapeError, match=pattern):
        fn(Tensor(np.ones((2, 3))))


# ---- backward ----

def test_backward_on_a_non_scalar_without_a_gradient():
    x = Tensor(np.ones((2, 3)), requires_grad=True, name="o")
    with pytest.raises(RuntimeError, match=r"^backward: tensor 'o' has shape \(2, 3\); backward\(\) "
                                           r"without a gradient needs a one-element tensor"):
        x.backward()
    with pytest.raises(RuntimeError, match=r"^backward: this tensor has shape \(2, 3\)"):
        (x * 2).backward()


def test_backward_with_a_wrongly_shaped_gradient():
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    y = x * 2
    with pytest.raises(ShapeError, match=r"^backward: gradient of shape \(3,\) given for this tensor "
                                         r"of shape \(2, 3\)"):
        y.backward(np.ones(3))
    assert x.grad is None  # nothing was half-done


def test_backward_on_a_tensor_without_a_graph():
    with pytest.raises(RuntimeError, match=r"^backward: this tensor does not require grad"):
        Tensor(np.ones(1)).backward()


def test_one_element_tensors_of_any_rank_need_no_gradient():
    x = Tensor(np.ones((1, 1)), requires_grad=True)
    (x * 3).backward()
    np.testing.assert_array_equal(x.grad, [[3.0]])


# ---- types ----

def test_requires_grad_on_integers():
    with pytest.raises(TypeError, match=r"^Tensor: requires_grad=True needs a floating-point dtype, "
                                        r"got int32: gradients of integers .* are not defined"):
        Tensor(np.array([1, 2], dtype=np.int32), requires_grad=True)


@pytest.mark.parametrize("data,type_name", [("abc", "str"), ([1, "a"], "list"), ({"a": 1}, "dict"),
                                            (None, "NoneType"), (object(), "object")])
def test_non_numeric_data(data, type_name):
    with pytest.raises(TypeError, match=rf"^Tensor: .*{type_name}"):
        Tensor(data)


@pytest.mark.parametrize("fn,pattern", [
    (lambda t: t + "a", r"^add: cannot combine a Tensor of shape \(3,\) with str$"),
    (lambda t: "a" + t, r"^add: cannot combine a Tensor of shape \(3,\) with str$"),
    (lambda t: t * None, r"^mul: cannot combine a Tensor of shape \(3,\) with NoneType$"),
    (lambda t: t - b"x", r"^sub: cannot combine a Tensor of shape \(3,\) with bytes$"),
    (lambda t: t / {"a": 1}, r"^div: .*dict"),
    (lambda t: t @ ["a", "b", "c"], r"^matmul: .*list"),
    (lambda t: t ** "2", r"^pow: the exponent must be a number, got str$"),
    (lambda t: t ** t, r"^pow: the exponent must be a number, got Tensor$"),
    (lambda t: 2 ** t, r"^pow: a tensor exponent is not supported"),
])
def test_non_numeric_operands(fn, pattern):
    with pytest.raises(TypeError, match=pattern):
        fn(Tensor(np.ones(3)))


# ---- losses and the model ----

def test_cross_entropy_with_out_of_range_class_indices():
    o = Tensor(np.zeros((2, 3)), requires_grad=True)
    # a bad value, not a bad shape: InputError (a ValueError), never ShapeError
    with pytest.raises(InputError, match=r"^cross_entropy: class indices must lie in \[0, 3\), "
                                         r"got values from 0 to 3$") as raised:
        nn.cross_entropy(o, np.array([0, 3]))
    assert not isinstance(raised.value, ShapeError) and isinstance(raised.value, ValueError)
    with pytest.raises(InputError, match=r"got values from -1 to 1"):
        nn.cross_entropy(o, np.array([-1, 1]))


def test_cross_entropy_with_a_wrong_target_shape():
    o = Tensor(np.zeros((2, 3)), requires_grad=True)
    with pytest.raises(ShapeError, match=r"^cross_entropy: cannot apply to shapes \(2, 3\) and \(3,\): "
                                         r"class-index target must have shape \(2,\), got \(3,\)"):
        nn.cross_entropy(o, np.array([0, 1, 2]))
    with pytest.raises(ShapeError, match=r"^cross_entropy: cannot apply to shapes \(2, 3\) and \(2, 4\): "
                                         r"probability target must have the logits' shape \(2, 3\)"):
        nn.cross_entropy(o, np.full((2, 4), 0.25))
    with pytest.raises(ShapeError, match=r"^cross_entropy: cannot apply to shapes \(3,\) and \(1,\): "
                                         r"logits must be 2-D"):
        nn.cross_entropy(Tensor(np.zeros(3)), np.array([0]))


def test_cross_entropy_with_float_class_indices_says_they_need_an_integer_dtype():
    o = Tensor(np.zeros((2, 3)), requires_grad=True)
    with pytest.raises(ShapeError, match=r"^cross_entropy: .*probability target must have the "
                                         r"logits' shape \(2, 3\), got \(2,\); class indices need "
                                         r"an integer dtype, got float32$"):
        nn.cross_entropy(o, Tensor([0, 1]))  # Python lists become float32
    assert nn.cross_entropy(o, Tensor([0, 1], dtype=np.int64)).item() == pytest.approx(np.log(3))


@pytest.mark.parametrize("pred_shape,target_shape", [((2, 3), (4,)), ((3, 1), (3,)), ((3,), (3, 1)),
                                                     ((2, 3), ())])
def test_mse_loss_with_mismatched_shapes(pred_shape, target_shape):
    # (3, 1) against (3,) would broadcast to a (3, 3) comparison: 1.333 for identical values
    pred = Tensor(np.ones(pred_shape), requires_grad=True)
    for target in (np.ones(target_shape), Tensor(np.ones(target_shape))):
        with pytest.raises(ShapeError, match=rf"^mse_loss: prediction of shape "
                                             rf"{re_shape(pred_shape)} and target of shape "
                                             rf"{re_shape(target_shape)} differ"):
            nn.mse_loss(pred, target)


def test_mse_loss_takes_a_list_target_in_the_predictions_dtype():
    pred = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    L = nn.mse_loss(pred, [1, 4])
    assert L.dtype == np.float64 and L.item() == 2.0


# ---- bare numpy errors that named no call ----

@pytest.mark.parametrize("grad,shown", [("abc", "str 'abc'"), (None, None), ([["a"]], "list"),
                                        (np.array([True]), "ndarray")])
def test_backward_with_a_non_numeric_gradient(grad, shown):
    x = Tensor(np.ones(1), requires_grad=True, name="x")
    y = x * 2
    if grad is None:  # None means "no gradient given": fine for a one-element tensor
        y.backward(grad)
        assert x.grad[0] == 2.0
        return
    with pytest.raises(TypeError, match=rf"^backward: the gradient for this tensor must be a "
                                        rf"number or a numeric array, got {shown}"):
        y.backward(grad)


@pytest.mark.parametrize("call,pattern", [
    (lambda t: t.softmax(axis="a"), r"^softmax: axis must be an int, got 'a'$"),
    (lambda t: t.log_softmax(axis=1.0), r"^log_softmax: axis must be an int, got 1.0$"),
    (lambda t: t.sum(axis="a"), r"^sum: axis must be None, an int or a tuple of ints, got 'a'$"),
    (lambda t: t.mean(axis=(0, "b")), r"^mean: axis must be None.*got \(0, 'b'\)$"),
    (lambda t: t.max(axis=True), r"^max: axis must be None.*got True$"),
])
def test_an_axis_that_is_not_an_int(call, pattern):
    with pytest.raises(TypeError, match=pattern):
        call(Tensor(np.ones((2, 3))))


@pytest.mark.parametrize("labels", [np.array([0.0, 1.0]), [0.5], np.array([True])])
def test_one_hot_of_labels_that_are_not_integers(labels):
    with pytest.raises(TypeError, match=r"^one_hot: labels must be integer class indices, got dtype "):
        nn.one_hot(labels, 3)


@pytest.mark.parametrize("num_classes", [0, 2.5, "3", True])
def test_one_hot_with_a_bad_number_of_classes(num_classes):
    with pytest.raises(ValueError, match=rf"^one_hot: num_classes must be a positive int, got "
                                         rf"{re.escape(repr(num_classes))}$"):
        nn.one_hot(np.array([0]), num_classes)


def test_model_with_the_wrong_number_of_features():
    model = nn.SoftmaxRegression(4, 3)
    with pytest.raises(ValueError, match=r"^SoftmaxRegression: expected input of shape \(n, 4\), "
                                         r"got \(2, 5\)"):
        model(np.ones((2, 5), dtype=np.float32))


def re_shape(shape: tuple[int, ...]) -> str:
    """A shape as a regex, e.g. (2, 3) -> '\\(2, 3\\)'."""
    return str(shape).replace("(", r"\(").replace(")", r"\)")


def test_cross_entropy_on_an_empty_batch():
    logits = Tensor(np.zeros((0, 3)), requires_grad=True)
    with pytest.raises(ShapeError, match=r"cross_entropy: .*\(0, 3\).*batch is empty"):
        nn.cross_entropy(logits, np.zeros(0, dtype=np.int64))
