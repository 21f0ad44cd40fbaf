"""Write it yourself: a learner's backward functions, checked against the engine and then trained.

The learner's file (made by `tinygrad-sm exercise start`, text in exercise_template.py) defines
seven plain numpy functions. `check_file` imports it by path and runs each function on several
cases. A case runs the engine's own op on Tensors (backward from a random upstream gradient g,
traced), so the expected gradients and the known wrong ones are misconceptions.py's questions
about that one step: a wrong answer is diagnosed exactly as `trace.check` diagnoses one.

When every function is right, exercise_training.py trains with them. Data only here:
exercise_command.py says it in words.
"""
from __future__ import annotations

import contextlib
import sys
import traceback
import types
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from . import nn
from .misconceptions import Question, Verdict, diagnose, question
from .tensor import Tensor

# the functions, in the order of the file, and the gradients each returns (named as its inputs)
EXERCISES: dict[str, tuple[str, ...]] = {
    "exp_backward": ("x",), "log_backward": ("x",), "add_backward": ("a", "b"),
    "matmul_backward": ("a", "b"), "sum_backward": ("x",), "softmax_backward": ("x",),
    "cross_entropy_backward": ("logits",),
}
SIGNATURES = {
    "exp_backward": "g, x, out", "log_backward": "g, x", "add_backward": "g, a_shape, b_shape",
    "matmul_backward": "g, a, b", "sum_backward": "g, x_shape, axis",
    "softmax_backward": "g, out", "cross_entropy_backward": "g, logits, y",
}
CASE_SEED = 22


# ---- the cases: the engine's op on Tensors, one traced step ----

@dataclass(frozen=True)
class Case:
    """One call of a learner's function: its arguments, what the case shows (names and shapes)
    and, per returned gradient, the engine's question (expected array, wrong variants)."""
    exercise: str
    shows: tuple[tuple[str, Any], ...]      # (("a", (4, 3)), ("b", (3,))) or (("axis", 0),)
    args: tuple[Any, ...]
    questions: tuple[Question, ...]


def _tensor(a: np.ndarray, name: str, grad: bool = True) -> Tensor:
    return Tensor(np.array(a, dtype=np.float64), requires_grad=grad, name=name)


def _engine(out: Tensor, g: np.ndarray, inputs: list[Tensor]) -> tuple[Question, ...]:
    """The engine's backward of the one op that made `out`, from g: a question per input."""
    trace = out.named("L").backward(np.asarray(g, dtype=np.float64), trace=True)
    return tuple(question(trace, 1, x) for x in inputs)


def _elementwise(name: str, method: str, rng: np.random.Generator,
                 positive: bool) -> Iterator[Case]:
    for shape in [(3,), (2, 3), (4, 5)]:
        x = rng.uniform(0.5, 2.0, shape) if positive else rng.normal(size=shape)
        g = rng.normal(size=shape)
        X = _tensor(x, "x")
        out = getattr(X, method)()
        args = (g, x, out._data.copy()) if name == "exp_backward" else (g, x)
        yield Case(name, (("x", shape),), args, _engine(out, g, [X]))


def _add(rng: np.random.Generator) -> Iterator[Case]:
    for a_shape, b_shape in [((2, 3), (2, 3)), ((4, 3), (3,)), ((4, 3), (4, 1)),
                             ((3,), (2, 3)), ((2, 3), ())]:
        A, B = _tensor(rng.normal(size=a_shape), "a"), _tensor(rng.normal(size=b_shape), "b")
        out = A + B
        g = rng.normal(size=out.shape)
        yield Case("add_backward", (("a", a_shape), ("b", b_shape)), (g, a_shape, b_shape),
                   _engine(out, g, [A, B]))


def _matmul(rng: np.random.Generator) -> Iterator[Case]:
    for a_shape, b_shape in [((2, 3), (3, 4)), ((3, 3), (3, 3)), ((4, 4), (4, 2)),
                             ((1, 5), (5, 1))]:
        a, b = rng.normal(size=a_shape), rng.normal(size=b_shape)
        A, B = _tensor(a, "a"), _tensor(b, "b")
        out = A @ B
        g = rng.normal(size=out.shape)
        yield Case("matmul_backward", (("a", a_shape), ("b", b_shape)), (g, a, b),
                   _engine(out, g, [A, B]))


def _sum(rng: np.random.Generator) -> Iterator[Case]:
    for shape, axis in [((4, 3), None), ((4, 3), 0), ((4, 3), 1), ((2, 3, 4), 1), ((5,), 0),
                        ((2, 3, 4), -1)]:
        X = _tensor(rng.normal(size=shape), "x")
        out = X.sum(axis=axis)
        g = rng.normal(size=out.shape)
        yield Case("sum_backward", (("x", shape), ("axis", axis)), (g, shape, axis),
                   _engine(out, g, [X]))


def _softmax(rng: np.random.Generator) -> Iterator[Case]:
    for shape in [(3,), (2, 4), (3, 3), (2, 3, 4)]:
        X = _tensor(rng.normal(size=shape) * 2, "x")
        out = X.softmax(axis=-1)
        g = rng.normal(size=shape)
        yield Case("softmax_backward", (("x", shape),), (g, out._data.copy()),
                   _engine(out, g, [X]))


def _cross_entropy(rng: np.random.Generator) -> Iterator[Case]:
    for n, classes, g in [(4, 3, 1.0), (8, 5, 1.0), (6, 4, 2.0)]:
        logits = rng.normal(size=(n, classes)) * 2
        y = rng.integers(0, classes, size=n)
        O = _tensor(logits, "logits")
        out = nn.cross_entropy(O, y)
        yield Case("cross_entropy_backward", (("logits", (n, classes)), ("n", n), ("g", g)),
                   (np.asarray(g), logits, y), _engine(out, np.asarray(g), [O]))


def cases() -> dict[str, list[Case]]:
    """Every exercise's cases, the same at every call (a fixed seed)."""
    rng = np.random.default_rng(CASE_SEED)
    return {"exp_backward": list(_elementwise("exp_backward", "exp", rng, positive=False)),
            "log_backward": list(_elementwise("log_backward", "log", rng, positive=True)),
            "add_backward": list(_add(rng)), "matmul_backward": list(_matmul(rng)),
            "sum_backward": list(_sum(rng)), "softmax_backward": list(_softmax(rng)),
            "cross_entropy_backward": list(_cross_entropy(rng))}


# ---- the learner's file ----

class LearnerFileError(Exception):
    """The learner's file cannot be imported: `kind` is "syntax" (with `line`) or "import"
    (with `error`, one line, and `frames`: the traceback lines inside the learner's file)."""

    def __init__(self, kind: str, path: Path, error: str, line: int | None = None,
                 frames: tuple[str, ...] = ()):
        super().__init__(f"{path}: {error}")
        self.kind, self.path, self.error, self.line, self.frames = kind, path, error, line, frames


def one_line(e: BaseException) -> str:
    """"ValueError: what it said", on one line."""
    text = " ".join(str(e).split())
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def learner_frames(e: BaseException, path: Path) -> list[traceback.FrameSummary]:
    """The frames of e's traceback that run the learner's file (ours left out)."""
    return [f for f in traceback.extract_tb(e.__traceback__) if Path(f.filename) == path]


def load_learner(path: Path) -> types.ModuleType:
    """The learner's file as a module, compiled from its text (no __pycache__ beside it, so an
    edit made within the same second is never hidden by a stale cache)."""
    path = Path(path).resolve()
    try:
        source = path.read_text(encoding="utf-8")
        code = compile(source, str(path), "exec")
    except SyntaxError as e:
        raise LearnerFileError("syntax", path, e.msg, e.lineno) from None
    except (ValueError, OSError) as e:  # null bytes, not UTF-8, unreadable
        raise LearnerFileError("import", path, one_line(e)) from None
    module = types.ModuleType("backward")
    module.__file__ = str(path)
    sys.path.insert(0, str(path.parent))  # as `python backward.py` would: its folder's modules
    try:
        exec(code, module.__dict__)
    except (Exception, SystemExit) as e:  # anything the learner's top level raises
        frames = tuple(line.rstrip("\n") for frame in traceback.format_list(learner_frames(e, path))
                       for line in frame.splitlines())
        raise LearnerFileError("import", path, one_line(e), frames=frames) from None
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(str(path.parent))
    return module


# ---- running one function ----

@dataclass(frozen=True)
class Outcome:
    """What one case gave. kind: "right", "wrong" (verdict: the first wrong gradient's),
    "not_written" (NotImplementedError), "raised" (error: one line; line: the learner's line
    that raised), "bad_return" (not one array per gradient; error: the type that came back,
    count: how many things, for a tuple or list)."""
    case: Case
    kind: str
    verdict: Verdict | None = None
    question: Question | None = None
    error: str = ""
    line: int | None = None
    count: int | None = None

    @property
    def misconception(self) -> str | None:
        return self.verdict.misconception if self.kind == "wrong" else None


def raised_at(e: BaseException, path: Path | None) -> int | None:
    """The line of the learner's file where e was raised (its last frame there), if any."""
    where = learner_frames(e, path) if path else []
    return where[-1].lineno if where else None


def _raised(e: BaseException, case: Case, path: Path | None) -> Outcome:
    if isinstance(e, NotImplementedError):
        return Outcome(case, "not_written")
    return Outcome(case, "raised", error=one_line(e), line=raised_at(e, path))


def _answers(returned: Any, count: int) -> tuple[Any, ...] | None:
    if count == 1:
        return (returned,)
    if isinstance(returned, (tuple, list)) and len(returned) == count:
        return tuple(returned)
    return None


def run_case(function: Callable[..., Any], case: Case, path: Path | None = None) -> Outcome:
    """Call the learner's function on copies of the case's arguments; diagnose each gradient."""
    args = tuple(a.copy() if isinstance(a, np.ndarray) else a for a in case.args)
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            returned = function(*args)
    except Exception as e:  # the learner's code: any error is reported, in one line
        return _raised(e, case, path)
    answers = _answers(returned, len(case.questions))
    if answers is None:
        many = len(returned) if isinstance(returned, (tuple, list)) else None
        return Outcome(case, "bad_return", error=type(returned).__name__, count=many)
    for q, answer in zip(case.questions, answers):
        try:
            verdict = diagnose(q, answer)
        except ValueError:
            return Outcome(case, "bad_return", question=q, error=type(answer).__name__)
        if not verdict.correct:
            return Outcome(case, "wrong", verdict, q)
    return Outcome(case, "right")


def _rank(outcome: Outcome) -> int:
    """Which failing case tells the learner most: a named misconception, then an error, then a
    wrong shape, then another wrong value, then a wrong return."""
    key = outcome.misconception
    if key is not None and key not in ("shape", "other"):
        return 0
    return {"raised": 1, "bad_return": 4}.get(outcome.kind, 2 if key == "shape" else 3)


@dataclass(frozen=True)
class ExerciseResult:
    """One exercise: status "passed", "wrong", "raised", "bad_return", "not_written" or
    "missing" (no such function in the file); `shown` is the case the message is about."""
    name: str
    status: str
    shown: Outcome | None
    cases: int

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    @property
    def misconception(self) -> str | None:
        return self.shown.misconception if self.shown is not None else None


def check_function(name: str, function: Any, its_cases: list[Case],
                   path: Path | None = None) -> ExerciseResult:
    if not callable(function):
        return ExerciseResult(name, "missing", None, len(its_cases))
    outcomes = []
    for case in its_cases:
        outcome = run_case(function, case, path)
        if outcome.kind == "not_written":
            return ExerciseResult(name, "not_written", outcome, len(its_cases))
        outcomes.append(outcome)
    failing = [o for o in outcomes if o.kind != "right"]
    if not failing:
        return ExerciseResult(name, "passed", None, len(its_cases))
    shown = min(failing, key=_rank)  # the first of the best rank
    return ExerciseResult(name, shown.kind, shown, len(its_cases))


def check_module(module: Any, path: Path | None = None) -> dict[str, ExerciseResult]:
    """Every exercise of the learner's module (an object with the seven functions)."""
    return {name: check_function(name, getattr(module, name, None), its_cases, path)
            for name, its_cases in cases().items()}


def check_file(path: Path) -> dict[str, ExerciseResult]:
    """Import the learner's file (LearnerFileError when it cannot be) and check every function."""
    path = Path(path).resolve()
    return check_module(load_learner(path), path)
