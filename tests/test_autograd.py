"""The backward engine: summing over reused nodes, accumulation, depth, no_grad, anomalies, unbroadcast."""
from __future__ import annotations


import threading

import numpy as np
import pytest

from tinygrad_sm import AnomalyError, Tensor, detect_anomaly, no_grad
from tinygrad_sm.autograd import topo_order, unbroadcast

# ---- a node used more than once ----

def test_x_times_x_gives_2x():
    x = Tensor(np.array([1.5, -2.0, 3.0]), requires_grad=True)
    y = x * x
    assert y.inputs == (x, x) and y.inputs[0] is x and y.inputs[1] is x  # both edges kept
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, 2 * x.data)


def test_x_used_three_times_in_one_expression():
    x = Tensor(np.array(2.0), requires_grad=True)
    (x * x * x + x).backward()  # d/dx (x³ + x) = 3x² + 1
    assert x.grad == pytest.approx(13.0)


def test_diamond_sums_both_paths():
    a = Tensor(np.array([1.0, 2.0, -3.0]), requires_grad=True)
    b = a * 2
    c = a + 1
    d = b * c
    d.sum().backward()
    # d = 2a(a + 1): ∂d/∂a = 2(a + 1) + 2a, one term per path
    np.testing.assert_array_equal(a.grad, 2 * (a.data + 1) + 2 * a.data)
    np.testing.assert_array_equal(b.grad, c.data)   # intermediates get their gradient too
    np.testing.assert_array_equal(c.grad, b.data)


def test_diamond_trace_shows_the_two_contributions():
    a = Tensor(np.array([1.0, 2.0]), requires_grad=True, name="a")
    b = (a * 2).named("b")
    c = (a + 1).named("c")
    trace = (b * c).sum().backward(trace=True)
    terms = trace.contributions(a)
    assert sorted(step.op for step, _, _ in terms) == ["add", "mul"]
    np.testing.assert_array_equal(sum(g for _, _, g in terms), a.grad)
    assert [t for t, _ in trace.accumulated()] == [a]


def test_reused_node_is_visited_once_in_topological_order():
    a = Tensor(np.ones(2), requires_grad=True)
    b = a * a
    c = b + b
    order = topo_order(c)
    assert order == [a, b, c]
    c.sum().backward()
    np.testing.assert_array_equal(a.grad, 4 * a.data)  # c = 2a², ∂c/∂a = 4a


# ---- accumulation, reset, the graph after backward ----

def test_two_backward_calls_accumulate_and_none_resets():
    x = Tensor(np.array([1.0, -1.0]), requires_grad=True)
    y = (x * 3).sum()
    y.backward()
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])
    y.backward()  # the graph stays after backward, so the same loss can go back again
    np.testing.assert_array_equal(x.grad, [6.0, 6.0])
    x.grad = None
    (x * 5).sum().backward()
    np.testing.assert_array_equal(x.grad, [5.0, 5.0])


def test_accumulated_grad_is_not_aliased_between_tensors():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = x + 0
    y.backward(np.array([1.0, 1.0]))
    x.grad += 10  # an optimizer may update in place: y's gradient must not move
    np.testing.assert_array_equal(y.grad, [1.0, 1.0])


def test_graph_stays_after_backward():
    x = Tensor(np.array(2.0), requires_grad=True)
    y = x.exp()
    y.backward()
    assert y.op is not None and y.op.name == "exp" and y.inputs == (x,)


def test_backward_with_an_explicit_gradient():
    x = Tensor(np.array([[1.0, 2.0], [3.0, 4.0]]), requires_grad=True)
    g = np.array([[1.0, 0.0], [0.5, 2.0]])
    (x * x).backward(g)
    np.testing.assert_array_equal(x.grad, 2 * x.data * g)
    x.grad = None
    (x * x).backward(Tensor(g))  # a Tensor gradient works too
    np.testing.assert_array_equal(x.grad, 2 * x.data * g)


def test_no_gradient_for_inputs_that_do_not_require_one():
    x = Tensor(np.array([1.0, 2.0]))
    w = Tensor(np.array([3.0, 4.0]), requires_grad=True)
    (x * w).sum().backward()
    assert x.grad is None
    np.testing.assert_array_equal(w.grad, x.data)
    assert x not in topo_order((x * w).sum())
    assert x in topo_order((x * w).sum(), only_grad=False)


# ---- depth ----

def test_a_chain_100000_ops_deep_backpropagates():
    x = Tensor(np.array(0.5), requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y + 1
    y.backward()  # a recursive sort would raise RecursionError near 1000
    assert y.item() == pytest.approx(100_000.5)
    assert x.grad == 1.0


def test_a_deep_chain_of_multiplications_gives_the_product_rule():
    x = Tensor(np.array(1.0), requires_grad=True)
    y = x
    for _ in range(20_000):
        y = y * 1.0001
    y.backward()
    assert x.grad == pytest.approx(1.0001 ** 20_000, rel=1e-9)


# ---- no_grad ----

def test_no_grad_builds_no_graph():
    w = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    with no_grad():
        y = (w * 2).exp().sum()
    assert y.op is None and y.inputs == () and not y.requires_grad
    assert y.item() == pytest.approx(np.exp(2.0) + np.exp(4.0), rel=1e-12)
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()
    z = (w * 2).sum()  # grad mode comes back after the block
    assert z.requires_grad and z.op.name == "sum"


def test_no_grad_restores_the_mode_after_an_error():
    w = Tensor(np.ones(2), requires_grad=True)
    with pytest.raises(ZeroDivisionError):
        with no_grad():
            raise ZeroDivisionError
    assert (w * 1).requires_grad


def test_no_grad_nests():
    w = Tensor(np.ones(2), requires_grad=True)
    with no_grad():
        with no_grad():
            pass
        assert (w * 1).op is None  # still off after the inner block
    assert (w * 1).op is not None


def _inside_mode_in_a_thread(mode, body):
    """Run body() in the main thread while a second thread sits inside `mode()`."""
    entered, release = threading.Event(), threading.Event()

    def other_thread():
        with mode():
            entered.set()
            release.wait(timeout=10)

    thread = threading.Thread(target=other_thread)
    thread.start()
    try:
        assert entered.wait(timeout=10)
        return body()
    finally:
        release.set()
        thread.join()


def test_no_grad_in_another_thread_leaves_this_threads_graph_alone():
    W = Tensor(np.array([[1.0], [2.0]]), requires_grad=True)

    def build_and_backprop():
        loss = (Tensor(np.array([[3.0, 4.0]])) @ W).sum()
        assert loss.op is not None and loss.requires_grad
        loss.backward()
        return W.grad

    grad = _inside_mode_in_a_thread(no_grad, build_and_backprop)
    np.testing.assert_array_equal(grad, [[3.0], [4.0]])


def test_no_grad_in_this_thread_does_not_reach_another_thread():
    W = Tensor(np.ones(2), requires_grad=True)
    seen = []
    thread = threading.Thread(target=lambda: seen.append((W * 2).requires_grad))
    with no_grad():
        thread.start()
        thread.join()
        assert not (W * 2).requires_grad
    assert seen == [True]


def test_detect_anomaly_in_another_thread_does_not_raise_here():
    x = Tensor(np.array([0.0]), requires_grad=True)

    def log_of_zero():
        with np.errstate(all="ignore"):
            return x.log().data[0]

    assert np.isneginf(_inside_mode_in_a_thread(detect_anomaly, log_of_zero))


# ---- detect_anomaly ----

@pytest.mark.parametrize("value,what", [(-1.0, "NaN"), (0.0, "inf")])
def test_detect_anomaly_names_the_op_and_shapes_on_forward(value, what):
    x = Tensor(np.array([[1.0, value, 2.0]]), requires_grad=True)
    with detect_anomaly():
        with pytest.raises(AnomalyError, match=rf"log: forward produced {what} \(input shapes \(1, 3\)\)"):
            with np.errstate(all="ignore"):
                x.log()


def test_detect_anomaly_names_the_op_and_shapes_on_backward():
    x = Tensor(np.array([0.0, 4.0]), requires_grad=True)
    w = Tensor(np.ones((2,)), requires_grad=True)
    with detect_anomaly():
        y = (x ** 0.5 * w).sum()  # forward is finite: sqrt(0) = 0
        assert y.item() == 2.0
        with pytest.raises(AnomalyError, match=r"pow: backward produced inf \(input shapes \(2,\)\)"):
            with np.errstate(all="ignore"):
                y.backward()


def test_detect_anomaly_is_quiet_when_off():
    x = Tensor(np.array([0.0, -1.0]), requires_grad=True)
    with np.errstate(all="ignore"):
        y = x.log()
        assert np.isneginf(y.data[0]) and np.isnan(y.data[1])
        (x ** 0.5).sum().backward()
    assert np.isinf(x.grad[0])


def test_detect_anomaly_is_off_again_after_the_block():
    x = Tensor(np.array([0.0]), requires_grad=True)
    with detect_anomaly():
        pass
    with np.errstate(all="ignore"):
        assert np.isneginf(x.log().data[0])


# ---- unbroadcast ----

def test_bias_gradient_is_the_column_sum_and_the_trace_records_the_axis():
    X = Tensor(np.arange(12.0).reshape(4, 3), requires_grad=True, name="XW")
    b = Tensor(np.zeros(3), requires_grad=True, name="b")
    G = np.arange(12.0).reshape(4, 3) * 0.5 + 1
    trace = (X + b).backward(G, trace=True)
    np.testing.assert_array_equal(b.grad, G.sum(axis=0))
    np.testing.assert_array_equal(X.grad, G)
    step = trace[0]
    assert step.op == "add"
    assert step.summed_axes == (None, (0,))
    assert step.local_grads[1].shape == (4, 3) and step.grad_inputs[1].shape == (3,)


@pytest.mark.parametrize("grad_shape,shape,axes", [
    ((4, 3), (3,), (0,)),
    ((4, 3), (1, 3), (0,)),
    ((4, 3), (4, 1), (1,)),
    ((4, 3), (), (0, 1)),
    ((2, 4, 3), (4, 1), (0, 2)),
    ((4, 3), (4, 3), ()),
])
def test_unbroadcast_sums_the_stretched_axes(grad_shape, shape, axes):
    g = np.arange(float(np.prod(grad_shape))).reshape(grad_shape)
    summed, got_axes = unbroadcast(g, shape)
    assert got_axes == axes
    assert summed.shape == shape
    np.testing.assert_array_equal(summed, np.sum(g, axis=axes).reshape(shape))


def test_float32_parameters_get_float32_gradients_from_float64_data():
    W = Tensor(np.ones((3, 2), dtype=np.float32), requires_grad=True)
    X = Tensor(np.ones((4, 3), dtype=np.float64))
    (X @ W).sum().backward()
    assert W.grad.dtype == np.float32 and W.grad.shape == (3, 2)
    np.testing.assert_array_equal(W.grad, np.full((3, 2), 4.0))


def test_every_grad_is_its_own_writable_array():
    # an add passes one array to both inputs, a sum passes a read-only broadcast view, and the
    # caller's seed is the caller's: no .grad may alias another or be read-only
    a = Tensor(np.ones(3), requires_grad=True)
    b = Tensor(np.ones(3), requires_grad=True)
    m = Tensor(np.ones((2, 3)), requires_grad=True)
    c = a + b + m.sum(axis=0)
    seed = np.array([1.0, 2.0, 3.0])
    c.backward(seed)
    grads = [a.grad, b.grad, m.grad, c.grad]
    for i, g in enumerate(grads):
        assert g.flags.writeable and not np.shares_memory(g, seed)
        assert not any(np.shares_memory(g, other) for other in grads[i + 1:])
    a.grad *= 0  # in place on one gradient leaves the others alone
    np.testing.assert_array_equal(b.grad, seed)
    np.testing.assert_array_equal(m.grad, [seed, seed])


def test_a_gradient_broadcasting_cannot_explain_is_an_error_not_a_reshape():
    with pytest.raises(RuntimeError, match=r"transpose: backward gave a gradient of shape \(4, 2, 3\) "
                                           r"for an input of shape \(2, 3, 4\)"):
        unbroadcast(np.zeros((4, 2, 3)), (2, 3, 4), "transpose")
    summed, axes = unbroadcast(np.ones((5, 2, 3)), (1, 3))   # what broadcasting does produce
    assert axes == (0, 1) and np.array_equal(summed, np.full((1, 3), 10.0))


def test_the_trace_keeps_its_own_copies_of_the_numbers():
    X = Tensor(np.array([[1.0, 2.0]]), name="X")
    W = Tensor(np.array([[0.5], [-1.0]]), requires_grad=True, name="W")
    b = Tensor(np.array([0.25]), requires_grad=True, name="b")
    out = (X @ W + b).sum()
    trace = out.backward(trace=True)
    recorded = [(s.grad_output.copy(), [None if g is None else g.copy() for g in s.grad_inputs])
                for s in trace]
    W.grad *= 0
    b.grad *= 0
    out.grad *= 0  # the root's .grad takes the seed array as it is
    assert trace.seed == 1.0
    for s, (grad_output, grad_inputs) in zip(trace, recorded):
        np.testing.assert_array_equal(s.grad_output, grad_output)
        for g, kept in zip(s.grad_inputs, grad_inputs):
            assert (g is None and kept is None) or np.array_equal(g, kept)
    np.testing.assert_array_equal(trace[-1].grad_inputs[1], [[1.0], [2.0]])  # Xᵀ · 1
