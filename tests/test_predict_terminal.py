"""Predict mode in a terminal (issue 19): trace.walk(predict=True), `step --predict` (also in a
pseudo-terminal) and `lesson`. The answers typed are computed here with numpy."""
from __future__ import annotations

import io
import sys

import numpy as np
from rich.console import Console

from pseudo_terminal import run_in_pty

from tinygrad_sm import Tensor, data, nn
from tinygrad_sm.cli import main
from tinygrad_sm.stepper import TinyProblem


def softmax(o: np.ndarray) -> np.ndarray:
    e = np.exp(o - o.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def by_hand(seed: int = 0) -> dict[str, np.ndarray]:
    """The step command's gradients, from its forward values, with numpy."""
    p = TinyProblem(seed)
    X, W, b, y = p.X.data, p.model.W.data, p.model.b.data, p.labels
    P = softmax(X @ W + b)
    G = (P - np.eye(3)[y]) / len(y)
    return {"o": G, "b": G.sum(axis=0), "W": X.T @ G, "P": P, "y": y, "X": X}


def typed(a: np.ndarray, sep: str = " ") -> list[str]:
    """A learner's lines: one row per line, 4 significant digits, a blank line after an array."""
    a = np.asarray(a)
    rows = [sep.join(f"{v:.4g}" for v in row) for row in np.atleast_2d(a)]
    return rows + ([""] if a.ndim >= 1 else [])


def run_walk(trace, lines: list[str], lang: str = "en"):
    feed = iter(line + "\n" for line in lines)
    console = Console(file=io.StringIO(), width=200, color_system=None)
    score = trace.walk(predict=True, console=console, read_line=lambda: next(feed, ""), lang=lang)
    return score, console.file.getvalue()


def test_right_answers_at_every_step_score_full():
    g = by_hand()
    trace = TinyProblem().L.backward(trace=True)
    score, out = run_walk(trace, typed(g["o"]) + typed(g["o"], ", ") + typed(g["b"]) + typed(g["W"]))
    assert (score.asked, score.right, score.revealed, score.quit) == (4, 4, 0, False)
    assert out.count("Correct:") == 4 and "Score: 4 of 4 answers right, 0 revealed." in out
    assert "No misconception met." in out


def test_wrong_answers_get_named_and_the_answer_is_shown():
    g = by_hand()
    trace = TinyProblem().L.backward(trace=True)
    without_n = g["P"] - np.eye(3)[g["y"]]                       # ŷ − y, no /n
    lines = typed(without_n) + typed(-g["o"]) + typed(g["o"]) + typed(g["o"].T @ g["X"])
    score, out = run_walk(trace, lines)
    assert score.right == 0 and dict(score.met) == {"missing_1_over_n": 1, "sign": 1,
                                                    "missing_sum_over_rows": 1, "transposed": 1}
    assert "is 2 × what step 1 (cross_entropy) sends to o" in out
    assert "Hint: the loss is a mean over the batch" in out
    assert "opposite sign" in out and "sum over the rows" in out and "transpose" in out
    assert "The answer, ∂L/∂W =" in out
    assert "Misconceptions met: missing 1/n ×1" in out


def test_reveal_quit_end_of_input_and_typing_mistakes():
    g = by_hand()
    trace = TinyProblem().L.backward(trace=True)
    score, out = run_walk(trace, ["?", "0.1 zero", "1 2", "3", ""] + typed(g["o"]) + ["q"])
    assert score.revealed == 1 and score.quit and score.right == 1
    assert "Not numbers: 0.1 zero" in out and "different lengths (2, 1)" in out
    assert "stopped." in out and "step 3 of 3" not in out
    score, out = run_walk(trace, [])                               # end of input at once
    assert score.quit and score.asked == 0 and "stopped." in out
    score, _ = run_walk(trace, ["1/2 -1/4 0"])                     # fractions are numbers
    assert score.asked == 0                                        # a matrix waits for the blank line


def test_a_big_gradient_is_asked_one_entry():
    split = data.load_digits()
    X, y = split.X_train[:32].astype(np.float64), split.y_train[:32]
    model = nn.SoftmaxRegression(64, 10, dtype=np.float64)
    model.W.data = np.random.default_rng(0).normal(0, 0.3, size=(64, 10))
    trace = nn.cross_entropy(model(Tensor(X, name="X")), y).backward(trace=True)
    G = (softmax(X @ model.W.data) - np.eye(10)[y]) / 32
    dW = X.T @ G
    where = np.unravel_index(np.argmax(np.abs(dW)), dW.shape)
    lines = ["?", "?", "?", f"{dW[where]:.4g}"]
    score, out = run_walk(trace, lines)
    assert f"type its entry [{where[0]}, {where[1]}]" in out and score.right == 1
    score, out = run_walk(trace, ["?", "?", "?", f"{32 * dW[where]:.4g}"])
    assert dict(score.met) == {"missing_1_over_n": 1}


def test_chinese_walk():
    g = by_hand()
    trace = TinyProblem().L.backward(trace=True)
    score, out = run_walk(trace, typed(g["o"]) + typed(-g["o"]) + ["q"], lang="zh")
    assert "正确" in out and "不对" in out and "符号都相反" in out
    assert "得分：答对 1 题，共答 2 题" in out and "符号 ×1" in out


# ---- the commands ----

def test_step_predict_and_lesson_commands(capsys, monkeypatch):
    g = by_hand()
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(typed(g["o"]) + ["q"]) + "\n"))
    assert main(["step", "--predict"]) == 0
    out = capsys.readouterr().out
    assert "Correct: ∂L/∂o" in out and "stopped." in out
    x = np.array([1.5, -2.0, 0.5])
    answers = typed(g["o"] * 2) + typed(g["o"]) + typed(g["W"]) + typed(x / 3)
    for lang, met in (("en", "missing 1/n ×1"), ("zh", "漏了 1/n ×1")):
        monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(answers) + "\n"))
        assert main(["lesson", "--lang", lang]) == 0
        out = " ".join(capsys.readouterr().out.split())  # rich wraps at 80 columns
        assert met in out, out[-600:]
        assert ("one path only ×1" if lang == "en" else "只算了一条路径 ×1") in out
        assert ("missing sum over the rows ×1" if lang == "en" else "漏了按行求和 ×1") in out
        assert ("Score: 1 of 4" if lang == "en" else "答对 1 题，共答 4 题") in out


def test_lesson_right_answers():
    from tinygrad_sm.lesson import lesson_command
    g = by_hand()
    x = np.array([1.5, -2.0, 0.5])
    feed = iter(line + "\n" for line in typed(g["o"]) + typed(g["b"]) + typed(g["W"]) + typed(2 * x / 3))
    console = Console(file=io.StringIO(), width=200, color_system=None)
    assert lesson_command(console=console, read_line=lambda: next(feed, "")) == 0
    out = console.file.getvalue()
    assert out.index("∂L/∂o") < out.index("∂L/∂b") < out.index("∂L/∂W") < out.index("∂L/∂x")
    assert "Score: 4 of 4 answers right" in out and "No misconception met." in out


def test_step_predict_in_a_pseudo_terminal():
    """Typed in a real terminal: a right ∂L/∂o, then the sign flipped for ∂L/∂XW, then q."""
    g = by_hand()
    answers = typed(g["o"]) + typed(-g["o"]) + ["q"]
    answered = 0

    def answer_each_prompt(output: bytes, quiet: bool) -> bytes | None:
        nonlocal answered
        if output.count(b"> ") > answered and answered < len(answers):
            answered += 1
            return answers[answered - 1].encode() + b"\n"
        return None

    text, status = run_in_pty(["step", "--predict"], answer_each_prompt)
    assert status == 0, text[-600:]
    assert "Correct: ∂L/∂o is what step 1 (cross_entropy) sends to o." in text
    assert "Not quite: your ∂L/∂XW has the opposite sign" in text
    assert "stopped." in text and "Score: 1 of 2 answers right" in text
