"""`tinygrad-sm exercise start DIR` and `tinygrad-sm exercise check DIR [--json]`: the files, the
words and the lines printed. The checking is exercises.py's, the training exercise_training.py's,
the page exercise_report.py's.

check prints one line per exercise (✓ right, ✗ wrong with the misconception's key and a hint,
○ not written yet), writes DIR/report.json and DIR/report.html, and, when all seven are right,
trains with them. It exits 0 only when every exercise is right (and the training agrees).
"""
from __future__ import annotations

import contextlib
import math
import shlex
import sys
from pathlib import Path
from typing import Any

from .exercises import EXERCISES, ExerciseResult, LearnerFileError, check_file
from .files import json_text, write_file
from .i18n import Messages, messages
from .process import EXIT_ERROR
from .verdicts import hint, verdict_message

FILE, REPORT_JSON, REPORT_HTML = "backward.py", "report.json", "report.html"
MARKS = {"passed": "✓", "not_written": "○", "missing": "○"}


def _error(t: Messages, command: str, key: str, **fields: Any) -> int:
    print(f"tinygrad-sm exercise {command}: {t(key, **fields)}", file=sys.stderr)
    return EXIT_ERROR


# ---- start ----

def start_command(folder: str, lang: str | None = None) -> int:
    """Write DIR/backward.py (never over an existing file); returns the exit status."""
    from .exercise_template import backward_file

    t = messages(lang)
    directory = Path(folder)
    path = directory / FILE
    if directory.exists() and not directory.is_dir():
        return _error(t, "start", "exercise.not_folder", dir=folder)
    if path.exists() or path.is_symlink():
        return _error(t, "start", "exercise.exists", path=path)
    text = backward_file(shlex.quote(folder), t)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        write_file(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))
    except OSError as e:
        return _error(t, "start", "exercise.cannot_write", path=path, reason=e.strerror or e)
    print(t("exercise.created", path=path, dir=shlex.quote(folder)))
    return 0


# ---- the words of a result ----

def _shows(case_shows: tuple[tuple[str, Any], ...]) -> str:
    """"a (4, 3), b (3,)" or "x (4, 3), axis=0": shapes after names, settings with =."""
    return ", ".join(f"{name} {value}" if isinstance(value, tuple) else f"{name}={value}"
                     for name, value in case_shows)


def _grads(name: str) -> str:
    return ", ".join(f"∂L/∂{x}" for x in EXERCISES[name])


def message(t: Messages, result: ExerciseResult) -> str:
    """What the report says of one exercise, in the learner's language (never empty)."""
    if result.passed:
        return t("exercise.passed", cases=result.cases)
    if result.status in ("not_written", "missing"):
        return t(f"exercise.{result.status}")
    outcome = result.shown
    shows = _shows(outcome.case.shows)
    case = t("exercise.case", shows=shows)
    if result.status == "raised":
        return t("exercise.raised", case=case, error=outcome.error + at_line(t, outcome.line))
    if result.status == "bad_return":
        pair = len(EXERCISES[result.name]) > 1
        wanted = t("exercise.want_pair" if pair else "exercise.want_one", grads=_grads(result.name))
        got = outcome.error if outcome.count is None else \
            t("exercise.returned_many", kind=outcome.error, count=outcome.count)
        return t("exercise.bad_return", case=case, got=got, wanted=wanted)
    q = outcome.question
    said = verdict_message(t, q, outcome.verdict, t("exercise.what", grad=q.grad))
    return t("exercise.wrong", shows=shows, said=said, hint=hint(t, outcome.misconception))


def at_line(t: Messages, line: int | None) -> str:
    """" (backward.py, line 12)", or nothing when the error did not come from the file."""
    return t("exercise.at_line", file=FILE, line=line) if line is not None else ""


def line(t: Messages, result: ExerciseResult, said: str) -> str:
    """"✓ exp_backward: right on all 3 cases", "✗ add_backward (missing_sum_over_rows): …"."""
    mark = MARKS.get(result.status, "✗")
    if result.misconception:
        return t("exercise.line_key", mark=mark, name=result.name,
                 misconception=result.misconception,
                 message=said)
    return t("exercise.line", mark=mark, name=result.name, message=said)


def report(t: Messages, results: dict[str, ExerciseResult] | None,
           error: str = "") -> dict[str, Any]:
    """report.json: {"exercises": {name: {"passed", "misconception", "message"}}, "all_passed"};
    a file that cannot be imported fails every exercise with its error as the message."""
    if results is None:
        exercises = {name: {"passed": False, "misconception": None, "message": error}
                     for name in EXERCISES}
    else:
        exercises = {name: {"passed": r.passed, "misconception": r.misconception,
                            "message": message(t, r)} for name, r in results.items()}
    return {"exercises": exercises,
            "all_passed": all(entry["passed"] for entry in exercises.values())}


def file_error_lines(t: Messages, e: LearnerFileError) -> list[str]:
    """A syntax error: one line naming the file and the line. Another error: one line, then
    the traceback lines inside the learner's file (none of ours)."""
    if e.kind == "syntax":
        return [t("exercise.syntax_error", path=e.path, line=e.line or "?", error=e.error)]
    return [t("exercise.import_error", path=e.path, error=e.error), *e.frames]


# ---- check ----

def _train(t: Messages, module_path: Path, quiet: bool) -> dict[str, Any]:
    """Train with the learner's backward and the engine's; the result for report.json."""
    from .exercise_training import train_both
    from .exercises import load_learner, one_line, raised_at
    from .train import DATASETS

    if not quiet:
        print(t("exercise.training", epochs=DATASETS["digits"].epochs, seed=0), flush=True)
    try:
        run = train_both(load_learner(module_path), seed=0)
    except Exception as e:  # the learner's function met a batch its checks did not: one line
        place = at_line(t, raised_at(e, module_path))
        said = [t("exercise.training_failed", error=one_line(e) + place)]
        run = None
    else:
        said = [t("exercise.trained", mine=f"{run.accuracy:.4f}",
                  builtin=f"{run.builtin_accuracy:.4f}", seed=run.seed),
                t("exercise.agree" if run.agree else "exercise.disagree",
                  difference=f"{run.max_weight_difference:.1e}")]
    if not quiet:
        print("\n".join(said))
    finite = run is not None and math.isfinite(run.max_weight_difference)  # strict JSON: no NaN
    return {"accuracy": run.accuracy if run else None,
            "builtin_accuracy": run.builtin_accuracy if run else None,
            "max_weight_difference": run.max_weight_difference if finite else None,
            "agree": bool(run and run.agree), "message": " ".join(said)}


def check_command(folder: str, json_only: bool = False, lang: str | None = None) -> int:
    """Check DIR/backward.py, print the lines (or, with json_only, the report only), write
    report.json and report.html; returns 0 only when every exercise is right."""
    from .exercise_report import report_html

    t = messages(lang)
    directory = Path(folder)
    path = directory / FILE
    if not path.is_file():
        return _error(t, "check", "exercise.no_file", path=path, dir=shlex.quote(folder))
    # with --json, stdout is the report only: the learner's own print()s go to stderr
    learner_out = contextlib.redirect_stdout(sys.stderr) if json_only else contextlib.nullcontext()
    results, error_lines = None, []
    try:
        with learner_out:
            results = check_file(path)
    except LearnerFileError as e:
        error_lines = file_error_lines(t, e)
    data = report(t, results, error_lines[0] if error_lines else "")
    if not json_only:
        for text in error_lines:
            print(text, file=sys.stderr)
        for name, result in (results or {}).items():
            print(line(t, result, data["exercises"][name]["message"]), flush=True)
    if data["all_passed"]:
        with learner_out:
            data["training"] = _train(t, path.resolve(), json_only)
    try:
        for name, text in ((REPORT_JSON, json_text(data)),
                           (REPORT_HTML, report_html(t, path, results, data))):
            write_file(directory / name,
                       lambda temporary, text=text: temporary.write_text(text, encoding="utf-8"))
    except OSError as e:
        return _error(t, "check", "exercise.cannot_write", path=directory, reason=e.strerror or e)
    if json_only:
        print(json_text(data), end="")
    elif not error_lines:  # a file that cannot be imported: its error lines are all there is
        right = sum(entry["passed"] for entry in data["exercises"].values())
        print(t("exercise.summary", right=right, total=len(EXERCISES),
                json=directory / REPORT_JSON, html=directory / REPORT_HTML))
    ok = data["all_passed"] and data.get("training", {}).get("agree", False)
    return 0 if ok else EXIT_ERROR
