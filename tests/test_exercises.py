"""Write it yourself (issue 22): `tinygrad-sm exercise start DIR` and `exercise check DIR`.

The learner's files are written here; every expected gradient is computed here with numpy
(never read from the checker), and the wrong answers are the mistakes learners make."""
from __future__ import annotations

import ast
import sys
import json
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from tinygrad_sm import Tensor, exercise_training, exercises, train
from tinygrad_sm.cli import main
from tinygrad_sm.i18n import Messages

LANGS = ["en", "zh"]
SIGNATURES = {  # the issue's, letter for letter
    "exp_backward": ["g", "x", "out"], "log_backward": ["g", "x"],
    "add_backward": ["g", "a_shape", "b_shape"], "matmul_backward": ["g", "a", "b"],
    "sum_backward": ["g", "x_shape", "axis"], "softmax_backward": ["g", "out"],
    "cross_entropy_backward": ["g", "logits", "y"],
}

SOLUTIONS = '''import numpy as np


def exp_backward(g, x, out):
    return g * np.exp(x)


def log_backward(g, x):
    return g / x


def _unbroadcast(g, shape):
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    for axis, n in enumerate(shape):
        if n == 1 and g.shape[axis] != 1:
            g = g.sum(axis=axis, keepdims=True)
    return g


def add_backward(g, a_shape, b_shape):
    return _unbroadcast(g, a_shape), _unbroadcast(g, b_shape)


def matmul_backward(g, a, b):
    return g @ b.T, a.T @ g


def sum_backward(g, x_shape, axis):
    if axis is not None:
        g = np.expand_dims(g, axis)
    return np.broadcast_to(g, x_shape)


def softmax_backward(g, out):
    return out * (g - np.sum(g * out, axis=-1, keepdims=True))


def cross_entropy_backward(g, logits, y):
    n = logits.shape[0]
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    p[np.arange(n), y] -= 1
    return p * g / n
'''

# the three mistakes the issue names, each one edit of the right answers
MISTAKES = (SOLUTIONS
            .replace("return g @ b.T, a.T @ g", "return g @ b, a @ g")              # transposes
            .replace("return _unbroadcast(g, a_shape), _unbroadcast(g, b_shape)",   # no sum
                     "return g, g")
            .replace("return p * g / n", "return p * g"))                           # no /n


def t(lang: str) -> Messages:
    return Messages(lang)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def learner(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "learner"
    folder.mkdir(exist_ok=True)
    (folder / "backward.py").write_text(text, encoding="utf-8")
    return folder


def report(folder: Path) -> dict:
    return json.loads((folder / "report.json").read_text(encoding="utf-8"))


def exercise_lines(out: str) -> dict[str, str]:
    """The line printed for each exercise, by name."""
    found = {}
    for text in out.splitlines():
        for name in SIGNATURES:
            if re.search(rf"\b{name}\b", text) and text[:1] in "✓✗○":
                found[name] = text
    return found


# ---- start ----

@pytest.mark.parametrize("lang", LANGS)
def test_start_writes_the_seven_functions_with_the_issues_signatures(tmp_path, capsys, lang):
    folder = tmp_path / "mine"
    status, out, err = run(capsys, "exercise", "start", str(folder), "--lang", lang)
    assert status == 0 and err == "" and "backward.py" in out
    text = (folder / "backward.py").read_text(encoding="utf-8")
    tree = ast.parse(text)
    functions = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
    assert [f.name for f in functions] == list(SIGNATURES)
    for f in functions:
        assert [a.arg for a in f.args.args] == SIGNATURES[f.name], f.name
        doc = ast.get_docstring(f)
        assert "∂L/∂" in doc and len(doc.splitlines()) >= 4, f.name   # forward, shapes, chain rule
        assert isinstance(f.body[-1], ast.Raise) and f.body[-1].exc.id == "NotImplementedError"
    header = [line for line in text.splitlines() if line.startswith("#")]
    assert f"tinygrad-sm exercise check {folder}" in "\n".join(header)
    chinese = re.compile(r"[\u4e00-\u9fff]")
    assert bool(chinese.search("\n".join(header))) == (lang == "zh")
    assert all(bool(chinese.search(ast.get_docstring(f))) == (lang == "zh") for f in functions)


@pytest.mark.parametrize("lang", LANGS)
def test_start_never_overwrites_an_existing_file(tmp_path, capsys, lang):
    folder = learner(tmp_path, "# my work\n")
    status, out, err = run(capsys, "exercise", "start", str(folder), "--lang", lang)
    assert status != 0 and out == ""
    assert err.count("\n") == 1 and str(folder / "backward.py") in err
    assert (folder / "backward.py").read_text(encoding="utf-8") == "# my work\n"


@pytest.mark.parametrize("lang", LANGS)
def test_check_of_the_untouched_file_says_not_written_yet(tmp_path, capsys, lang):
    folder = tmp_path / "mine"
    run(capsys, "exercise", "start", str(folder), "--lang", lang)
    status, out, err = run(capsys, "exercise", "check", str(folder), "--lang", lang)
    assert status != 0 and "Traceback" not in out + err and err == ""
    lines = exercise_lines(out)
    assert set(lines) == set(SIGNATURES)
    assert all(t(lang)("exercise.not_written") in line for line in lines.values())
    data = report(folder)
    assert data["all_passed"] is False and "training" not in data
    assert all(e == {"passed": False, "misconception": None,
                     "message": t(lang)("exercise.not_written")} for e in data["exercises"].values())


def test_check_without_the_file_is_one_line(tmp_path, capsys):
    status, out, err = run(capsys, "exercise", "check", str(tmp_path))
    assert status == 1 and out == "" and err.count("\n") == 1 and "exercise start" in err


# ---- right answers: exit 0, then training ----

def builtin_accuracy() -> float:
    """The engine's own training of the same model (train.fit, float64 weights, seed 0)."""
    split = train.load("digits")
    spec = train.DATASETS["digits"]
    model = exercise_training.float64_model(split, 0)
    train.fit(split, spec.epochs, spec.lr, spec.batch_size, seed=0, model=model)
    return train.accuracy(model, split.X_test, split.y_test)


@pytest.mark.parametrize("lang", LANGS)
def test_right_answers_pass_and_train_like_the_engine(tmp_path, capsys, lang):
    folder = learner(tmp_path, SOLUTIONS)
    status, out, err = run(capsys, "exercise", "check", str(folder), "--lang", lang)
    assert status == 0 and err == "", err
    lines = exercise_lines(out)
    assert len(lines) == 7 and all(line.startswith("✓") for line in lines.values())
    data = report(folder)
    assert data["all_passed"] is True
    assert all(e["passed"] and e["misconception"] is None for e in data["exercises"].values())
    training = data["training"]
    assert training["agree"] is True and training["max_weight_difference"] <= 1e-6
    assert training["accuracy"] == training["builtin_accuracy"] > 0.9
    printed = f"{training['accuracy']:.4f}"
    trained = [line for line in out.splitlines() if line.count(printed) == 2]
    assert trained and ("Test accuracy" in trained[0]) == (lang == "en")
    assert "1e-6" in out
    if lang == "en":  # the engine's accuracy, from the engine itself (once: it trains 60 epochs)
        assert training["builtin_accuracy"] == builtin_accuracy()


def test_json_prints_only_the_report(tmp_path, capsys):
    folder = learner(tmp_path, MISTAKES)
    status, out, err = run(capsys, "exercise", "check", str(folder), "--json")
    assert status == 1 and err == ""
    assert json.loads(out) == report(folder)


def test_json_keeps_the_learners_prints_off_stdout(tmp_path, capsys):
    folder = learner(tmp_path, SOLUTIONS.replace("    return g / x\n",
                                                 "    print('debugging', x.shape)\n    return g / x\n"))
    status, out, err = run(capsys, "exercise", "check", str(folder), "--json")
    assert status == 0 and json.loads(out)["all_passed"] is True and "debugging" in err


def test_report_json_schema(tmp_path, capsys):
    folder = learner(tmp_path, MISTAKES)
    run(capsys, "exercise", "check", str(folder))
    data = report(folder)
    assert set(data) == {"exercises", "all_passed"} and data["all_passed"] is False
    assert list(data["exercises"]) == list(SIGNATURES)
    for entry in data["exercises"].values():
        assert set(entry) == {"passed", "misconception", "message"}
        assert isinstance(entry["passed"], bool) and entry["message"].strip()
        assert entry["misconception"] in (None, *exercises_keys())


def exercises_keys() -> tuple[str, ...]:
    from tinygrad_sm.misconceptions import KEYS
    return KEYS


# ---- the mistakes, named ----

@pytest.mark.parametrize("lang", LANGS)
def test_the_three_mistakes_are_named(tmp_path, capsys, lang):
    folder = learner(tmp_path, MISTAKES)
    status, out, err = run(capsys, "exercise", "check", str(folder), "--lang", lang)
    assert status == 1 and err == ""
    data, words = report(folder)["exercises"], t(lang)
    expected = {"matmul_backward": "transposed", "add_backward": "missing_sum_over_rows",
                "cross_entropy_backward": "missing_1_over_n"}
    lines = exercise_lines(out)
    for name, key in expected.items():
        assert data[name]["passed"] is False and data[name]["misconception"] == key, data[name]
        assert lines[name].startswith("✗") and key in lines[name]
        assert words(f"check.hint.{key}") in lines[name]          # the hint, in the language
        assert words(f"check.hint.{key}") in data[name]["message"]
    for name in set(SIGNATURES) - set(expected):
        assert data[name]["passed"] is True and lines[name].startswith("✓")
    # the forgotten transpose is said as such: the rule multiplies by bᵀ (or aᵀ), not b
    assert re.search(r"\b[ab]ᵀ", data["matmul_backward"]["message"])
    assert "(3, 3)" in data["matmul_backward"]["message"]   # the square case, where g @ b runs


def test_forgotten_transposes_are_transposed_or_raise_where_shapes_differ():
    """g @ b and a @ g: on a square case the checker says transposed; where numpy cannot
    multiply them the learner's own function raises, and the named case is shown."""
    module = SimpleNamespace(matmul_backward=lambda g, a, b: (g @ b, a @ g))
    cases = exercises.cases()["matmul_backward"]
    outcomes = [exercises.run_case(module.matmul_backward, case) for case in cases]
    for case, outcome in zip(cases, outcomes):
        g, a, b = case.args
        if g.shape[1] == b.shape[0]:    # g @ b computes: (n, m) @ (k, m) with m == k
            assert not np.allclose(g @ b, g @ b.T)  # a real mistake, not the right answer
            assert outcome.kind == "wrong" and outcome.misconception == "transposed"
        elif a.shape[1] != g.shape[0]:  # neither computes
            assert outcome.kind == "raised" and "ValueError" in outcome.error
    assert any(o.misconception == "transposed" for o in outcomes)
    assert any(o.kind == "raised" for o in outcomes)
    result = exercises.check_function("matmul_backward", module.matmul_backward, cases)
    assert result.misconception == "transposed"


def test_the_checkers_expected_gradients_are_numpys():
    """Every case's expected gradient, from the engine, equals numpy's by hand."""
    def softmax(o):
        e = np.exp(o - o.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)

    def by_hand(name, args):
        if name == "exp_backward":
            g, x, _ = args
            return [g * np.exp(x)]
        if name == "log_backward":
            return [args[0] / args[1]]
        if name == "add_backward":
            g, a_shape, b_shape = args
            return [g.sum(axis=tuple(range(g.ndim - len(s))) + tuple(
                i + g.ndim - len(s) for i, n in enumerate(s) if n == 1), keepdims=False
            ).reshape(s) for s in (a_shape, b_shape)]
        if name == "matmul_backward":
            g, a, b = args
            return [g @ b.T, a.T @ g]
        if name == "sum_backward":
            g, shape, axis = args
            return [np.broadcast_to(g if axis is None else np.expand_dims(g, axis), shape)]
        if name == "softmax_backward":
            g, out = args
            jacobian = out[..., :, None] * (np.eye(out.shape[-1]) - out[..., None, :])
            return [np.einsum("...i,...ij->...j", g, jacobian)]
        g, logits, y = args
        onehot = np.eye(logits.shape[1])[y]
        return [(softmax(logits) - onehot) / len(y) * g]

    for name, its_cases in exercises.cases().items():
        assert len(its_cases) >= 3, name
        for case in its_cases:
            for q, want in zip(case.questions, by_hand(name, case.args)):
                np.testing.assert_allclose(q.expected, want, rtol=1e-10, atol=1e-12,
                                           err_msg=f"{name} {case.shows}")
    shapes = [dict(c.shows) for c in exercises.cases()["add_backward"]]
    assert any(s["a"] != s["b"] for s in shapes)                      # broadcasting
    assert any(len(s["x"]) > 1 and s["axis"] is not None for s in
               map(dict, (c.shows for c in exercises.cases()["sum_backward"])))
    assert all(dict(c.shows)["n"] > 1 for c in exercises.cases()["cross_entropy_backward"])


# ---- the learner's file cannot be imported ----

@pytest.mark.parametrize("lang", LANGS)
def test_a_syntax_error_is_one_line_naming_the_file_and_line(tmp_path, capsys, lang):
    folder = learner(tmp_path, "import numpy as np\n\ndef exp_backward(g, x, out)\n    return g\n")
    status, out, err = run(capsys, "exercise", "check", str(folder), "--lang", lang)
    assert status == 1 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert str((folder / "backward.py").resolve()) in err and re.search(r"\b3\b", err)
    assert report(folder)["all_passed"] is False


def test_an_import_error_shows_the_learners_traceback_lines_only(tmp_path, capsys):
    folder = learner(tmp_path, "import numpy as np\n\n\ndef helper():\n    return 1 / 0\n\n\n"
                               "X = helper()\n")
    status, out, err = run(capsys, "exercise", "check", str(folder))
    assert status == 1 and out == ""
    first, *frames = err.splitlines()
    assert "ZeroDivisionError" in first and "backward.py" in first
    files = re.findall(r'File "([^"]+)"', "\n".join(frames))
    assert files and all(Path(f).name == "backward.py" for f in files)   # none of ours
    assert any("line 8" in f for f in frames) and any("line 5" in f for f in frames)
    assert "tinygrad_sm" not in err


def test_a_function_that_raises_is_one_line_with_the_learners_line(tmp_path, capsys):
    text = SOLUTIONS.replace("    return g / x\n", "    y = g / x\n    return undefined_name\n")
    folder = learner(tmp_path, text)
    status, out, err = run(capsys, "exercise", "check", str(folder))
    line = exercise_lines(out)["log_backward"]
    assert status == 1 and "NameError" in line and "backward.py, line 10" in line
    assert "Traceback" not in out + err


# ---- report.html ----

def test_report_html_draws_a_wrong_exercise_as_heatmaps(tmp_path, capsys):
    text = MISTAKES.replace("def exp_backward(g, x, out):\n",
                            "def exp_backward(g, x, out):\n    raise ValueError('<script>x</script>')\n")
    folder = learner(tmp_path, text)
    run(capsys, "exercise", "check", str(folder))
    page = (folder / "report.html").read_text(encoding="utf-8")
    sections = dict(re.findall(r'<h2 class="\w+">[✓✗] (\w+).*?</h2>(.*?)</section>', page, re.S))
    for name in ("matmul_backward", "cross_entropy_backward"):
        assert sections[name].count('<img class="tg-heat"') == 3, name   # expected, yours, difference
        assert sections[name].count("data:image/png;base64,") == 3
    # the un-summed ∂L/∂b has another shape: expected and yours, and why no difference is drawn
    assert sections["add_backward"].count('<img class="tg-heat"') == 2
    assert "(4, 3)" in sections["add_backward"] and "(3,)" in sections["add_backward"]
    assert "tg-heat" not in sections["sum_backward"] and "tg-heat" not in sections["exp_backward"]
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert not re.search(r'(src|href)="https?:', page)                   # offline


# ---- the wiring: the learner's backward is what trains ----

def test_the_learner_ops_call_the_learners_functions(tmp_path):
    split = train.load("digits")
    calls = {"matmul_backward": 0, "add_backward": 0, "cross_entropy_backward": 0}
    solutions = {}
    exec(SOLUTIONS, solutions)

    def counted(name, scale=1.0):
        def function(*args):
            calls[name] += 1
            result = solutions[name](*args)
            return tuple(r * scale for r in result) if isinstance(result, tuple) else result * scale
        return function

    right = SimpleNamespace(**{name: counted(name) for name in calls})
    mine = exercise_training.train_learner(right, split, 1, 1.0, 32, seed=0)
    builtin = exercise_training.float64_model(split, 0)
    train.fit(split, 1, 1.0, 32, seed=0, model=builtin)
    batches = -(-len(split.y_train) // 32)
    assert calls == {name: batches for name in calls}
    assert np.max(np.abs(mine.W.data - builtin.W.data)) <= 1e-6
    doubled = SimpleNamespace(**{**vars(right), "matmul_backward": counted("matmul_backward", 2.0)})
    wrong = exercise_training.train_learner(doubled, split, 1, 1.0, 32, seed=0)
    assert np.max(np.abs(wrong.W.data - builtin.W.data)) > 1e-3


def test_trace_check_names_a_forgotten_transpose_too():
    """The same variant in trace.check: ∂L/∂W of X · W typed as X · g (no transpose)."""
    rng = np.random.default_rng(0)
    X = Tensor(rng.normal(size=(3, 3)), name="X")
    W = Tensor(rng.normal(size=(3, 3)), requires_grad=True, name="W")
    L = (X @ W).named("o").sum().named("L")
    trace = L.backward(trace=True)
    step = next(s.index + 1 for s in trace if s.op == "matmul")
    g = np.ones((3, 3))
    np.testing.assert_allclose(W.grad, X.data.T @ g)
    said = trace.check(step, "W", X.data @ g)
    assert said.misconception == "transposed" and "Xᵀ" in said.message
    assert "Xᵀ" in trace.check(step, "W", X.data @ g, lang="zh").message
    assert trace.check(step, "W", (X.data.T @ g).T).misconception == "transposed"
    assert trace.check(step, "W", X.data.T @ g).correct


def test_every_learner_op_gives_the_engines_gradients_with_right_answers():
    """All seven wired ops in one graph, with the right answers: the same forward and the same
    gradients as the engine's ops (softmax along axis 0, a sum with keepdims)."""
    solutions = {}
    exec(SOLUTIONS, solutions)
    ops = exercise_training.learner_ops(SimpleNamespace(**solutions))
    rng = np.random.default_rng(3)
    x0, w0, c0 = rng.normal(size=(4, 3)), rng.normal(size=(3, 5)), rng.uniform(1, 2, size=(5,))
    y = rng.integers(0, 5, size=4)

    def graph(exp, log, add, matmul, sum_, softmax, cross_entropy):
        x, w, c = (Tensor(v, requires_grad=True) for v in (x0, w0, c0))
        o = add.apply(matmul.apply(x, w), log.apply(c))
        p = softmax.apply(exp.apply(o), axis=0)
        loss = cross_entropy.apply(p, y) + sum_.apply(p, axis=1).sum() + sum_.apply(o, keepdims=True, axis=0).sum()
        loss.backward()
        return loss.data, x.grad, w.grad, c.grad

    from tinygrad_sm import ops as engine
    mine = graph(*(ops[k] for k in ("exp", "log", "add", "matmul", "sum", "softmax", "cross_entropy")))
    theirs = graph(engine.Exp, engine.Log, engine.Add, engine.MatMul, engine.Sum, engine.Softmax,
                   engine.CrossEntropy)
    for a, b in zip(mine, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("change, said", [
    ("    if n == 32:\n        raise RuntimeError('a batch of 32')\n", "RuntimeError: a batch of 32"),
    ("    if n == 32:\n        g = 2 * g\n", "1e-6"),
])
def test_right_on_the_cases_but_not_in_training_is_not_a_pass(tmp_path, capsys, change, said):
    """A function that special-cases the training batch passes the checks, but the training
    says so: an error in one line (with the learner's line), or weights that differ."""
    text = SOLUTIONS.replace("    n = logits.shape[0]\n", "    n = logits.shape[0]\n" + change)
    folder = learner(tmp_path, text)
    status, out, err = run(capsys, "exercise", "check", str(folder))
    assert status == 1 and "Traceback" not in out + err
    data = report(folder)
    assert data["all_passed"] is True and data["training"]["agree"] is False
    assert said in data["training"]["message"] and said in out
    if "Error" in said:
        line = text.splitlines().index("        raise RuntimeError('a batch of 32')") + 1
        assert f"backward.py, line {line})" in out and data["training"]["accuracy"] is None
    else:
        assert data["training"]["max_weight_difference"] > 1e-3


def test_chinese_lines_say_everything_in_chinese(tmp_path, capsys):
    """Besides names (functions, misconception keys, tensors) and Python's own error text, a
    Chinese check speaks Chinese: the error's place too."""
    text = MISTAKES.replace("    return g / x\n", "    return undefined_name\n")
    folder = learner(tmp_path, text)
    status, out, err = run(capsys, "exercise", "check", str(folder), "--lang", "zh")
    lines = exercise_lines(out)
    line = text.splitlines().index("    return undefined_name") + 1
    assert f"（backward.py 第 {line} 行）" in lines["log_backward"]
    words = set(re.findall(r"(?<![\w.])[A-Za-z][A-Za-z_]+", "\n".join(
        v for k, v in lines.items() if k != "log_backward")))
    allowed = set(SIGNATURES) | set(exercises_keys()) | {"missing_", "XW", "logits"}
    assert words <= allowed, words - allowed


@pytest.mark.parametrize("lang", LANGS)
def test_a_pair_expected_but_one_array_returned(tmp_path, capsys, lang):
    folder = learner(tmp_path, SOLUTIONS.replace("return g @ b.T, a.T @ g", "return g @ b.T"))
    run(capsys, "exercise", "check", str(folder), "--lang", lang)
    entry = report(folder)["exercises"]["matmul_backward"]
    assert entry["passed"] is False and entry["misconception"] is None
    assert "(∂L/∂a, ∂L/∂b)" in entry["message"] and "ndarray" in entry["message"]


def test_the_learners_file_may_import_its_neighbours(tmp_path, capsys):
    folder = learner(tmp_path, "from my_helpers import *\n")
    (folder / "my_helpers.py").write_text(SOLUTIONS, encoding="utf-8")
    status, out, err = run(capsys, "exercise", "check", str(folder), "--json")
    assert status == 0 and json.loads(out)["all_passed"] is True
    assert str(folder) not in sys.path
