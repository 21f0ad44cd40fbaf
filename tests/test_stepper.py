"""`tinygrad-sm step`: the terminal walk through one backward pass."""
from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pytest

from tinygrad_sm.cli import main
from tinygrad_sm.stepper import TinyProblem
from tinygrad_sm.trace_table import format_value

RULES = ("∂L/∂o = (softmax(o) − y) / n · ∂L/∂L", "∂L/∂XW = ∂L/∂o", "∂L/∂b = ∂L/∂o",
         "∂L/∂W = Xᵀ · ∂L/∂XW")


class Keyboard(io.StringIO):
    """stdin that claims to be a terminal, with the keys already typed."""
    def isatty(self) -> bool:
        return True


def closed_form(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Xᵀ(ŷ − y)/n and the column sums of (ŷ − y)/n, computed here from the problem's data."""
    p = TinyProblem(seed)
    o = p.X.data @ p.model.W.data + p.model.b.data
    probs = np.exp(o) / np.exp(o).sum(axis=1, keepdims=True)
    delta = (probs - np.eye(3)[p.labels]) / 2
    return p.X.data.T @ delta, delta.sum(axis=0)


def test_no_pause_prints_forward_values_every_step_and_the_closed_form(capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", Keyboard(""))       # a terminal, but --no-pause
    assert main(["step", "--no-pause"]) == 0
    out = capsys.readouterr().out
    assert "Forward pass" in out and "ŷ = softmax(o)" in out and "Enter" not in out
    for k, op in enumerate(("cross_entropy", "add", "matmul")):
        assert f"step {k} of 0–2: {op}" in out
    for rule in RULES:
        assert rule in out
    assert "broadcast undone: summed (2, 3) over axis 0 to (3,)" in out
    W, b = closed_form(0)
    assert "Xᵀ(ŷ − y)/n =" in out and "column sums of (ŷ − y)/n =" in out
    for line in format_value(W) + format_value(b):
        assert out.count(line) >= 3          # the step's contribution, .grad, closed form
    p = TinyProblem(0)
    for line in format_value(p.X.data) + format_value(p.model.W.data):
        assert line in out


def test_stdin_that_is_not_a_terminal_prints_all_steps(capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert main(["step"]) == 0
    out = capsys.readouterr().out
    assert "step 2 of 0–2: matmul" in out and "Enter" not in out


def test_one_step_per_enter_and_q_quits(capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", Keyboard("\n\nq\n"))
    assert main(["step"]) == 0
    out = capsys.readouterr().out
    assert out.count("Enter: next step, q: quit") == 3
    assert "step 1 of 0–2: add" in out and "matmul" not in out.split("step 1 of 0–2")[1]
    assert "stopped." in out and "closed form" not in out


def test_html_option_writes_the_stepper(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    target = tmp_path / "steps.html"
    assert main(["step", "--html", str(target)]) == 0
    assert str(target) in capsys.readouterr().out
    text = target.read_text(encoding="utf-8")
    assert text.count('<div class="frame"') == 3 and "∂L/∂W = Xᵀ · ∂L/∂XW" in text


@pytest.mark.parametrize("seed", [0, 3])
def test_the_problem_is_fixed_by_the_seed(seed):
    a, b = TinyProblem(seed), TinyProblem(seed)
    assert a.X.shape == (2, 3) and a.model.W.shape == (3, 3) and len(set(a.labels)) == 2
    np.testing.assert_array_equal(a.X.data, b.X.data)
    np.testing.assert_array_equal(a.model.W.data, b.model.W.data)
    a.L.backward()
    W, bias = closed_form(seed)
    np.testing.assert_allclose(a.model.W.grad, W, atol=1e-12)
    np.testing.assert_allclose(a.model.b.grad, bias, atol=1e-12)


@pytest.mark.parametrize("option, message", [
    (["--seed", "-1"], "argument --seed: must be 0 or more, got -1"),
    (["--seed", "one"], "argument --seed: expected a whole number, got 'one'"),
])
def test_bad_seed_exits_2_with_a_message(option, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["step", "--no-pause", *option])
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert message in captured.err and "Traceback" not in captured.err
    assert "tinygrad-sm step" in captured.err                    # the usage line names the command
    assert captured.out == ""                                    # nothing ran


def test_command_line_entry_point():
    done = subprocess.run([sys.executable, "-m", "tinygrad_sm", "step", "--no-pause"],
                          capture_output=True, text=True, encoding="utf-8", timeout=60)
    assert done.returncode == 0, done.stderr
    assert "∂L/∂W = Xᵀ · ∂L/∂XW" in done.stdout and done.stderr == ""
