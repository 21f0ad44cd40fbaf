"""The engine as a learner reads it (issue 17): the backward loop says the chain rule, the engine
imports nothing above it, ops are safe by construction, and the numerator is the root's name."""
from __future__ import annotations

import ast
import importlib.util
import inspect
import json
import pathlib
import subprocess
import sys
import threading

import numpy as np
import pytest

import tinygrad_sm
from tinygrad_sm import Op, Tensor, autograd, nn, notebook, page, terminal, viz
from tinygrad_sm.autograd import StepRecord

PACKAGE = pathlib.Path(tinygrad_sm.__file__).parent
ENGINE = ("errors", "graph", "op", "ops", "softmax_ops", "reductions", "autograd", "tensor")
ABOVE_THE_ENGINE = {"tracing", "i18n", "formatting", "displays", "viz", "page", "terminal",
                    "notebook", "pictures", "png", "plots", "stepper", "train", "cli", "demo"}
DISPLAY_LIBRARIES = {"graphviz", "rich", "resvg_py", "matplotlib", "IPython"}
DISPLAY_MODULES = {f"tinygrad_sm.{m}" for m in ("viz", "page", "terminal", "notebook", "pictures",
                                                "png", "plots", "i18n")}


def all_imports(path: pathlib.Path) -> set[str]:
    """Every import of a file, lazy and TYPE_CHECKING ones included, as module names."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = ("tinygrad_sm." if node.level else "") + (node.module or "")
            found |= {base.rstrip(".")} | {f"{base}.{a.name}".replace("..", ".") for a in node.names}
    return found


# ---- the backward loop ----

def test_the_backward_loop_fits_on_a_screen_and_calls_named_helpers():
    source = inspect.getsource(autograd.backward)
    body = [line for line in source.splitlines()[2:] if line.strip()]  # below the docstring
    assert len(body) <= 25, "\n".join(body)
    called = {node.func.id for node in ast.walk(ast.parse(source))
              if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}
    assert {"seed_gradient", "topo_order", "accumulate", "local_gradients", "fit"} <= called
    assert "copy" not in source and "taken" not in source and "check_finite" not in source


def test_no_engine_module_imports_the_trace_words_or_a_display():
    for name in ENGINE:
        imported = all_imports(PACKAGE / f"{name}.py")
        inner = {m.split(".")[1] for m in imported if m.startswith("tinygrad_sm.") and m.count(".")}
        roots = {m.split(".")[0] for m in imported}
        assert not inner & ABOVE_THE_ENGINE, f"{name}.py imports {inner & ABOVE_THE_ENGINE}"
        assert not roots & DISPLAY_LIBRARIES, f"{name}.py imports {roots & DISPLAY_LIBRARIES}"


def test_the_checker_sees_an_upward_import():
    imported = all_imports(PACKAGE / "displays.py")
    assert {"tinygrad_sm.notebook", "tinygrad_sm.terminal", "tinygrad_sm.page"} <= imported


def test_the_engine_hands_each_step_to_a_recorder_as_plain_data():
    class Keep:
        def begin(self, root, seed, order):
            self.root, self.seed, self.records = root, seed, []

        def record(self, step):
            self.records.append(step)

    x = Tensor(np.array([1.0, 2.0]), requires_grad=True, name="x")
    L = (x * x).sum()
    kept = L.backward(trace=Keep())
    assert kept.root is L and [r.op.name for r in kept.records] == ["sum", "mul"]
    mul = kept.records[1]
    assert isinstance(mul, StepRecord) and mul.inputs == (x, x)
    np.testing.assert_array_equal(mul.contributions[0], [1.0, 2.0])  # ∂L/∂x along each edge
    np.testing.assert_array_equal(x.grad, [2.0, 4.0])                # the engine summed both


# ---- importing the package ----

def test_importing_the_package_loads_no_display():
    code = ("import sys, time; t = time.perf_counter(); import tinygrad_sm; "
            "t = time.perf_counter() - t; import json; "
            "print(json.dumps([sorted(m for m in sys.modules if m.split('.')[0] in %r or m in %r), t]))"
            % (DISPLAY_LIBRARIES, DISPLAY_MODULES))
    loaded, seconds = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True,
                                                text=True, check=True).stdout)
    assert loaded == []
    # and every display still works once used
    x = Tensor(np.array([1.0, -2.0]), requires_grad=True, name="x")
    trace = (x * x).sum().backward(trace=True)
    assert "Backward from L" in str(trace) and "tg-stepper" in trace._repr_html_()
    assert "**x**" in x._repr_markdown_() and "<b>x</b>" in x._repr_html_()
    assert "tg-panel" in trace[0]._repr_html_()


def test_a_reader_follows_print_trace_to_the_renderer():
    """No registry: the method itself names the renderer it calls."""
    from tinygrad_sm import displays
    for method, renderer in (("__str__", "terminal.format_trace"), ("save_html", "page.save_html"),
                             ("walk", "terminal.walk"), ("render_frames", "viz.render_frames"),
                             ("_repr_html_", "notebook.trace_html")):
        assert renderer in inspect.getsource(getattr(displays.Trace, method))


# ---- ops are safe by construction ----

def load_demo_op(name: str) -> type:
    path = next((PACKAGE.parent / "demos").glob("*write_your_own_op.py"))
    spec = importlib.util.spec_from_file_location("own_op_demo", path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    return getattr(module, name)


def test_the_demo_op_is_right_after_its_output_is_overwritten():
    Sigmoid = load_demo_op("Sigmoid")
    x = Tensor(np.array([0.0, 1.0]), requires_grad=True)
    y = Sigmoid.apply(x)
    y.data[:] = 0  # the learner pokes at the output: y gets its own array, the graph keeps σ
    y.sum().backward()
    s = 1 / (1 + np.exp(-np.array([0.0, 1.0])))
    np.testing.assert_allclose(x.grad, s * (1 - s))  # [0.25, 0.197]
    assert not np.array_equal(x.grad, [0.0, 0.0])


def test_an_in_place_edit_of_a_saved_input_is_refused():
    Sigmoid = load_demo_op("Sigmoid")
    values = np.array([0.0, 1.0])
    x = Tensor(values, requires_grad=True)
    L = (Sigmoid.apply(x) * x).sum()  # mul saves x
    with pytest.raises(ValueError, match="read-only"):
        values[0] = 5.0
    L.backward()
    s = 1 / (1 + np.exp(-np.array([0.0, 1.0])))
    np.testing.assert_allclose(x.grad, s + x.data * s * (1 - s))


def test_an_op_that_keeps_its_output_without_saving_it_is_an_error_naming_it():
    class Unsafe(Op):
        name, formula, rules = "unsafe_sigmoid", "{out} = σ({x})", ("∂L/∂{x} = ∂L/∂{out} ⊙ {out}",)

        def forward(self, x):
            self.out = 1 / (1 + np.exp(-x))
            return self.out

        def backward(self, g, needs):
            return (g * self.out,)

    x = Tensor(np.array([0.0, 1.0]), requires_grad=True)
    with pytest.raises(TypeError, match=r"unsafe_sigmoid: forward keeps self.out, .* self.save"):
        Unsafe.apply(x)


def test_a_template_naming_no_input_fails_when_the_op_is_defined():
    with pytest.raises(TypeError, match=r"Typo: the template '∂L/∂\{x\} = ∂L/∂\{out\}' names \{x\}, "
                                        r"but the inputs are \{a\}"):
        class Typo(Op):
            name, rules = "typo", ("∂L/∂{x} = ∂L/∂{out}",)

            def forward(self, a):
                return a

            def backward(self, g, needs):
                return (g,)


def test_rules_name_any_number_of_inputs():
    class Affine(Op):
        name, formula = "affine", "{out} = {x}·{w} + {c}"
        rules = ("∂L/∂{x} = ∂L/∂{out} · {w}ᵀ", "∂L/∂{w} = {x}ᵀ · ∂L/∂{out}", "∂L/∂{c} = Σ_rows ∂L/∂{out}")

        def forward(self, x, w, c):
            self.save(x, w)
            return x @ w + c

        def backward(self, g, needs):
            x, w = self.saved
            return g @ w.T, x.T @ g, g.sum(axis=0)

    x = Tensor(np.ones((2, 3)), requires_grad=True, name="X")
    w = Tensor(np.full((3, 2), 0.5), requires_grad=True, name="W")
    c = Tensor(np.zeros(2), requires_grad=True, name="b")
    trace = Affine.apply(x, w, c).sum().backward(trace=True)
    assert trace[1].rules[2] == "∂L/∂b = Σ_rows ∂L/∂t1"
    np.testing.assert_array_equal(w.grad, np.full((3, 2), 2.0))


@pytest.mark.parametrize("returned, said", [
    (lambda g: (None,), "backward returned None for a, which needs a gradient"),
    (lambda g: (Tensor(g),), "backward returned Tensor for a"),
    (lambda g: (1.5,), "backward returned float for a"),
])
def test_a_backward_that_returns_no_array_is_named(returned, said):
    class Bad(Op):
        name, rules = "bad", ("∂L/∂{a} = ∂L/∂{out}",)

        def forward(self, a):
            return a * 1.0

        def backward(self, g, needs):
            return returned(g)

    with pytest.raises(TypeError, match=f"bad: {said}"):
        Bad.apply(Tensor(np.ones(2), requires_grad=True)).sum().backward()


def test_a_forward_that_returns_a_tensor_is_named():
    class Wraps(Op):
        name, rules = "wraps", ("∂L/∂{a} = ∂L/∂{out}",)

        def forward(self, a):
            return Tensor(a)

        def backward(self, g, needs):
            return (g,)

    with pytest.raises(TypeError, match="wraps: forward returned a Tensor"):
        Wraps.apply(Tensor(np.ones(2), requires_grad=True))


# ---- the numerator is the root's name ----

def penalised():
    """d2l §4.7's objective: J = L + s, s a penalty on W."""
    X = Tensor(np.array([[1.0, 2.0], [0.5, -1.0]]), name="X")
    W = Tensor(np.array([[0.1, -0.2], [0.3, 0.4]]), requires_grad=True, name="W")
    L = nn.cross_entropy(X @ W, np.array([0, 1])).named("L")
    s = (W * W).sum().named("s")
    J = (L + s).named("J")
    return J, W, J.backward(trace=True)


def test_a_pass_from_j_says_dj_everywhere():
    J, W, trace = penalised()
    outputs = {"table": str(trace), "terminal": terminal.format_trace(trace, lang="zh"),
               "dot": viz.draw(J, trace=trace).source,
               "frame": viz.draw(J, trace=trace, step=len(trace) - 1).source,
               "untraced": viz.draw(J).source,
               "page": page.page_html(trace), "notebook": notebook.trace_html(trace),
               "markdown": notebook.trace_markdown(trace) + notebook.step_markdown(trace[-1])}
    for where, text in outputs.items():
        assert "∂J/∂W" in text, where
        assert "∂L/∂J" not in text and "∂L/∂W" not in text and "∂L/∂L" not in text, where
    assert "∂J/∂L = ∂J/∂J" in outputs["table"]
    assert "∂J/∂W is the sum of 3 contributions" in outputs["table"]  # W·W: two edges; X·W: one
    assert repr(trace) == "BackwardTrace(5 steps from J)"


def test_an_unnamed_root_is_l_in_header_and_rules():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True, name="x")
    text = str((x * 3).sum().backward(trace=True))
    assert "Backward from L" in text and "∂L/∂x = ∂L/∂t1 ⊙ 3" in text


# ---- .data, .name and threads ----

def test_displays_read_arrays_without_copying_them():
    X = Tensor(np.ones((2, 2)), name="X")
    W = Tensor(np.ones((2, 2)), requires_grad=True, name="W")
    L = (X @ W).sum()
    kept = W._data
    trace = L.backward(trace=True)
    viz.draw(L, trace=trace)
    str(trace)
    page.page_html(trace)
    notebook.tensor_html(W)
    assert W._data is kept and not kept.flags.writeable  # no display gave W a copy


def test_the_data_and_name_setters_check_like_the_constructor():
    W = Tensor(np.zeros((2, 2)), requires_grad=True, name="W")
    with pytest.raises(TypeError, match="Tensor.data: the tensor 'W' requires grad, so its data "
                                        "must be floating-point, got int64"):
        W.data = np.array([[1, 0], [0, 1]])
    with pytest.raises(TypeError, match="Tensor.data: data must be numeric"):
        W.data = np.array([1 + 2j])
    with pytest.raises(TypeError, match="Tensor.name: a name must be a string, got int"):
        W.name = 5
    assert W.dtype == np.float64 and W.name == "W"


def test_threads_adding_into_one_parameter_lose_no_update():
    W = Tensor(np.zeros(3), requires_grad=True, name="W")

    def passes():
        for _ in range(150):
            (W * 2.0).sum().backward()

    threads = [threading.Thread(target=passes) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    np.testing.assert_array_equal(W.grad, np.full(3, 2.0 * 150 * 4))
