"""nn.Module, Linear, ReLU, Sequential, zero_grad; writing an op with tinygrad_sm.Op and apply."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import tinygrad_sm as tg
from tinygrad_sm import GradcheckError, Op, Tensor, gradcheck, nn


def test_tg_nn_works_after_import_tinygrad_sm_alone():
    # a fresh interpreter: only `import tinygrad_sm`, as `import torch; torch.nn` works
    code = ("import numpy as np, tinygrad_sm as tg; "
            "o = tg.Tensor(np.zeros((2, 3)), requires_grad=True); "
            "print(tg.nn.cross_entropy(o, np.array([0, 2])).item(), tg.optim.SGD, tg.Op)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert float(done.stdout.split()[0]) == pytest.approx(np.log(3), abs=1e-12)


def test_linear_computes_xw_plus_b_with_names_and_init():
    layer = nn.Linear(4, 3, seed=5)
    expected_W = np.random.default_rng(5).normal(0, 0.01, size=(4, 3)).astype(np.float32)
    np.testing.assert_array_equal(layer.W.data, expected_W)
    assert layer.b.data.tolist() == [0, 0, 0]
    layer.b.data = np.array([1.0, -1.0, 0.5], dtype=np.float32)
    X = np.arange(8, dtype=np.float32).reshape(2, 4)
    out = layer(X)
    np.testing.assert_allclose(out.data, X @ expected_W + layer.b.data, rtol=1e-6)
    assert (out.name, out.inputs[0].name) == ("o", "XW")
    assert [p.name for p in layer.parameters()] == ["W", "b"]
    with pytest.raises(ValueError, match=r"Linear: expected input of shape \(n, 4\), got \(2, 5\)"):
        layer(np.zeros((2, 5), dtype=np.float32))


def test_sequential_numbers_layers_and_finds_parameters_in_order():
    model = nn.mlp(6, 5, 3, seed=0)
    assert list(model.named_parameters()) == ["W1", "b1", "W2", "b2"]
    # W1 then W2 from one generator: the initial weights a numpy loop can reproduce
    rng = np.random.default_rng(0)
    W1, W2 = rng.normal(0, 0.01, (6, 5)), rng.normal(0, 0.01, (5, 3))
    named = model.named_parameters()
    np.testing.assert_array_equal(named["W1"].data, W1.astype(np.float32))
    np.testing.assert_array_equal(named["W2"].data, W2.astype(np.float32))
    X = np.random.default_rng(1).normal(size=(4, 6)).astype(np.float32)
    out = model(X)
    hidden = np.maximum(X @ named["W1"].data, 0)
    np.testing.assert_allclose(out.data, hidden @ named["W2"].data, rtol=1e-5)
    names = [out.name, out.inputs[0].name, out.inputs[0].inputs[0].name,
             out.inputs[0].inputs[0].inputs[0].name]
    assert names == ["o2", "H1W2", "H1", "o1"]
    with pytest.raises(TypeError, match="Sequential: argument 1 is a function, not a Module"):
        nn.Sequential(nn.Linear(2, 2), lambda t: t)


def test_mlp_gradients_match_central_differences():
    rng = np.random.default_rng(2)
    model = nn.Sequential(nn.Linear(3, 4, seed=rng, dtype=np.float64), nn.ReLU(),
                          nn.Linear(4, 2, seed=rng, dtype=np.float64))
    for p in model.parameters():  # larger weights, so that the ReLU kinks are far apart
        p.data = rng.normal(size=p.shape)
    X, y = rng.normal(size=(5, 3)), np.array([0, 1, 1, 0, 1])

    def loss(W1, b1, W2, b2):
        layer1, _, layer2 = model.layers
        layer1.W, layer1.b, layer2.W, layer2.b = W1, b1, W2, b2
        return nn.cross_entropy(model(X), y)

    assert gradcheck(loss, *model.parameters())


def test_zero_grad_makes_a_second_pass_start_from_nothing():
    model = nn.SoftmaxRegression(3, 3)
    X, y = np.array([[0.1, -0.1, 0.6], [0.1, -0.5, 0.4]]), np.array([0, 2])
    nn.cross_entropy(model(X), y).backward()
    once = model.b.grad.copy()
    trace = nn.cross_entropy(model(X), y).backward(trace=True)
    np.testing.assert_allclose(model.b.grad, 2 * once)  # accumulated over two passes
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    trace = nn.cross_entropy(model(X), y).backward(trace=True)
    # after zero_grad the trace's contributions (this pass) sum to b.grad again
    total = sum(contribution for _, _, contribution in trace.contributions(model.b))
    np.testing.assert_allclose(total, model.b.grad)
    np.testing.assert_allclose(model.b.grad, once)


def test_named_parameters_refuses_two_of_one_name():
    model = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 2))
    model.layers[2].number("1")
    with pytest.raises(ValueError, match="two parameters are named 'W1'"):
        model.named_parameters()


class TwoLayers(nn.Module):
    """A model written as in PyTorch: layers as attributes, a forward that calls them."""

    def __init__(self):
        rng = np.random.default_rng(0)
        self.l1 = nn.Linear(3, 4, seed=rng, dtype=np.float64)
        self.l2 = nn.Linear(4, 2, seed=rng, dtype=np.float64)

    def forward(self, x):
        return self.l2(self.l1(x).relu().named("H"))


def test_layers_held_as_attributes_get_qualified_names_in_parameters_traces_and_diagrams():
    model = TwoLayers()
    assert list(model.named_parameters()) == ["l1.W", "l1.b", "l2.W", "l2.b"]
    assert [p.name for p in model.parameters()] == ["l1.W", "l1.b", "l2.W", "l2.b"]
    assert list(model.l1.named_parameters()) == ["W", "b"]  # relative to the module, as PyTorch
    out = model(np.ones((2, 3)))
    assert [out.name, out.inputs[0].name] == ["l2.o", "H·l2.W"]
    first = out.inputs[0].inputs[0].inputs[0]
    assert [first.name, first.inputs[0].name] == ["l1.o", "X·l1.W"]
    trace = nn.cross_entropy(out, np.array([0, 1])).backward(trace=True)
    labels = set(trace.labels().values())
    assert {"l1.W", "l1.b", "l2.W", "l2.b", "l1.o", "l2.o"} <= labels and "W" not in labels
    from tinygrad_sm import viz
    source = viz.draw(trace.root, trace=trace).source
    for name in ("l1.W", "l2.W", "l1.o", "l2.o"):
        assert name in source, name


def test_nested_models_lists_and_sequentials_are_named_by_their_place():
    class Encoder(nn.Module):
        def __init__(self):
            self.blocks = [nn.Linear(2, 2), nn.Linear(2, 2)]
            self.scale = Tensor(np.ones(2), requires_grad=True, name="s")

    class Model(nn.Module):
        def __init__(self):
            self.enc = Encoder()
            self.head = nn.mlp(2, 3, 2)
            self.act = nn.ReLU()

    model = Model()
    assert list(model.named_parameters()) == [
        "enc.blocks.0.W", "enc.blocks.0.b", "enc.blocks.1.W", "enc.blocks.1.b", "enc.s",
        "head.W1", "head.b1", "head.W2", "head.b2"]
    assert model.head(np.ones((1, 2))).inputs[0].inputs[0].name == "head.H1"
    assert model.act(Tensor([1.0])).name == "act.H"
    alone = Encoder()  # on its own, its tensors keep the names they were given
    assert list(alone.named_parameters()) == ["blocks.0.W", "blocks.0.b", "blocks.1.W",
                                              "blocks.1.b", "s"]
    assert list(nn.mlp(2, 3, 2).named_parameters()) == ["W1", "b1", "W2", "b2"]


# ---- your own op ----

class Cube(Op):
    name, formula, rules = "cube", "{out} = {a}³", ("∂L/∂{a} = ∂L/∂{out} ⊙ 3{a}²",)

    def forward(self, a):
        self.save(a)
        return a ** 3

    def backward(self, g, needs):
        (a,) = self.saved
        return (3 * g * a ** 2,)


class Scale(Op):
    name, formula, rules = "scale", "{out} = k·{a}", ("∂L/∂{a} = k·∂L/∂{out}",)

    def __init__(self, k: float):
        self.k = k

    def forward(self, a):
        return self.k * a

    def backward(self, g, needs):
        return (self.k * g,)


def test_apply_puts_a_user_op_in_the_graph_and_the_trace():
    x = Tensor(np.array([1.0, -2.0]), requires_grad=True, name="x")
    y = Scale.apply(Cube.apply(x).named("c"), k=2.0)
    assert isinstance(y, tg.Tensor) and y.data.tolist() == [2.0, -16.0]
    trace = y.sum().backward(trace=True)
    np.testing.assert_allclose(x.grad, 6 * x.data ** 2)
    assert [step.op for step in trace] == ["sum", "scale", "cube"]
    assert trace[2].rule == "∂L/∂x = ∂L/∂c ⊙ 3x²"
    assert gradcheck(lambda t: Scale.apply(Cube.apply(t), k=-0.5), x)


def test_apply_wraps_numbers_and_names_wrong_use():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)

    class Add2(Op):
        name, rules = "add2", ("", "")

        def forward(self, a, b):
            return a + b

        def backward(self, g, needs):
            return g, g

    assert Add2.apply(3.0, x).data.tolist() == [4.0, 5.0]
    with pytest.raises(TypeError, match=r"add2.apply: got 1 input\(s\), but forward takes 2 \(a, b\)"):
        Add2.apply(x)
    with pytest.raises(TypeError, match="cube.apply: needs at least one Tensor among its inputs, "
                                        "got ndarray"):
        Cube.apply(np.ones(2))


def test_a_backward_that_returns_a_bare_array_is_an_error():
    class Forgets(Cube):
        def backward(self, g, needs):
            return 3 * g * self.saved[0] ** 2  # not a tuple

    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"cube: backward must return a tuple with one "
                                           r"gradient per input \(1\), got ndarray"):
        Forgets.apply(x).sum().backward()


def test_gradcheck_names_the_worst_entry_not_the_first():
    class SigmoidWithoutOneMinus(Op):  # σ′ = σ: wrong everywhere, worst where σ is near 1
        name, rules = "sigmoid", ("",)

        def forward(self, a):
            self.save(1 / (1 + np.exp(-a)))
            return self.saved[0]

        def backward(self, g, needs):
            return (g * self.saved[0],)

    x = Tensor(np.array([-3.0, 0.0, 4.0]), requires_grad=True, name="x")
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda t: SigmoidWithoutOneMinus.apply(t), x)
    message = str(info.value)
    assert "input 0 ('x') of shape (3,), element (2,)" in message
    assert "the worst of 3 wrong entries out of 3" in message
    analytic, numeric = (float(v) for v in message.split("analytic gradient ")[1]
                         .split(" (the worst")[0].split(" vs central difference "))
    sigma = 1 / (1 + np.exp(-4.0))
    assert analytic / numeric == pytest.approx(sigma / (sigma * (1 - sigma)), rel=1e-5)
