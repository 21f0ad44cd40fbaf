"""The terminal stepper: `trace.walk()` for any graph, and `tinygrad-sm step`."""
from __future__ import annotations

import io
import os
import subprocess
import sys
import time

import numpy as np
import pytest
from rich.console import Console

from pseudo_terminal import run_in_pty

from tinygrad_sm import Tensor, terminal
from tinygrad_sm.cli import main
from tinygrad_sm.i18n import Messages, value_lines
from tinygrad_sm.stepper import TinyProblem

EN = Messages("en")  # the words of value_lines (a big array: its shape and min/max)

RULES = ("∂L/∂o = (softmax(o) − y) / n · ∂L/∂L", "∂L/∂XW = ∂L/∂o", "∂L/∂b = Σ_rows ∂L/∂o",
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
    assert "Forward pass" in out and "ŷ = softmax(o)" in out and "any key" not in out
    for k, op in enumerate(("cross_entropy", "add", "matmul")):
        assert f"step {k + 1} of 3: {op}" in out
    assert "0–2" not in out
    for rule in RULES:
        assert rule in out
    assert "broadcast undone: summed (2, 3) over axis 0 to (3,)" in out
    W, b = closed_form(0)
    assert "Xᵀ(ŷ − y)/n =" in out and "column sums of (ŷ − y)/n =" in out
    for line in value_lines(EN, W) + value_lines(EN, b):
        assert out.count(line) >= 2          # the step's contribution, .grad, closed form
    p = TinyProblem(0)
    for line in value_lines(EN, p.X.data) + value_lines(EN, p.model.W.data):
        assert line in out


def test_each_step_plugs_the_numbers_into_its_rule(capsys):
    p = TinyProblem(0)
    trace = p.L.backward(trace=True)
    console = Console(file=io.StringIO(), width=80, color_system=None)
    matmul = terminal.step_panel(trace.view(2))
    console.print(matmul)
    text = console.file.getvalue()
    assert "∂L/∂W = Xᵀ · ∂L/∂XW" in text
    for line in value_lines(EN, p.X.data.T):   # Xᵀ itself, not X
        assert line in text
    assert [s for s, _ in trace.view(2).edges[1].operands] == ["Xᵀ", "∂L/∂XW"]
    np.testing.assert_array_equal(trace.view(2).edges[1].operands[0][1], p.X.data.T)
    # the cross-entropy step states n, the batch size
    ce = dict(trace.view(0).edges[0].operands)
    assert ce["n"] == 2
    np.testing.assert_allclose(ce["softmax(o)"], p.probs, atol=1e-12)


def test_every_step_fits_an_80_by_24_terminal():
    p = TinyProblem(0)
    trace = p.L.backward(trace=True)
    for k in range(len(trace)):
        console = Console(file=io.StringIO(), width=80, color_system=None)
        console.print(terminal.step_panel(trace.view(k)))
        lines = console.file.getvalue().splitlines()
        assert len(lines) <= 22, f"step {k} takes {len(lines)} lines"   # + the prompt line
        assert max(len(line) for line in lines) <= 80


def test_walk_steps_through_any_graph_one_key_at_a_time(monkeypatch):
    """An MLP-like graph of the learner's own: walk() needs no special model."""
    rng = np.random.default_rng(0)
    X = Tensor(rng.normal(size=(2, 3)), name="X")
    W1 = Tensor(rng.normal(size=(3, 4)), requires_grad=True, name="W1")
    W2 = Tensor(rng.normal(size=(4, 2)), requires_grad=True, name="W2")
    L = ((X @ W1).relu() @ W2).sum()
    trace = L.backward(trace=True)
    monkeypatch.setattr(sys, "stdin", Keyboard("  q"))
    console = Console(file=io.StringIO(), width=80, color_system=None)
    shown = trace.walk(console=console, read=lambda: sys.stdin.read(1))
    out = console.file.getvalue()
    assert shown == 3 and "step 3 of 4" in out and "step 4 of 4" not in out and "stopped." in out
    assert "∂L/∂t2 = ∂L/∂t3 · W2ᵀ" in out           # the rules speak the graph's labels
    console = Console(file=io.StringIO(), width=80, color_system=None)
    assert trace.walk(pause=False, console=console) == 4


def test_q_quits_without_enter_in_a_real_terminal():
    """A pseudo-terminal: typing q alone (no Enter) stops the walk."""
    sent = 0.0

    def q_alone(output: bytes, quiet: bool) -> bytes | None:
        nonlocal sent  # q alone, no Enter; again each second in case it came before raw mode
        if b"any key" in output and time.time() - sent > 1:
            sent = time.time()
            return b"q"
        return None

    text, _ = run_in_pty(["step"], q_alone)
    assert sent and "stopped." in text and "step 1 of 3" not in text


def test_stdin_that_is_not_a_terminal_prints_all_steps(capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert main(["step"]) == 0
    out = capsys.readouterr().out
    assert "step 3 of 3: matmul" in out and "any key" not in out


def test_one_step_per_key_and_q_quits(capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", Keyboard("  q"))
    assert main(["step"]) == 0
    out = capsys.readouterr().out
    assert out.count("any key: next step, q: quit") == 2
    assert "step 2 of 3: add" in out and "matmul" not in out.split("step 2 of 3")[1]
    assert "stopped." in out and "closed form" not in out


def test_closed_stdin_and_an_unwritable_html_path_are_one_line_errors(tmp_path):
    def run(*args: str, **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "tinygrad_sm", "step", *args], capture_output=True,
                              text=True, encoding="utf-8", timeout=60, **kwargs)
    closed = run(stdin=None, preexec_fn=lambda: os.close(0))
    assert closed.returncode == 2 and "standard input is closed" in closed.stderr
    assert len(closed.stderr.strip().splitlines()) == 1 and closed.stdout == ""
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    cases = [(str(tmp_path / "missing" / "s.html"), "does not exist"), (str(tmp_path), "is a folder")]
    if os.geteuid() != 0:                       # root writes anywhere
        cases.append((str(locked / "s.html"), "cannot be written"))
    for target, message in cases:
        done = run("--no-pause", "--html", target, stdin=subprocess.DEVNULL)
        assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1 and done.stdout == ""   # before any work


def test_html_option_writes_the_stepper(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    target = tmp_path / "steps.html"
    assert main(["step", "--html", str(target)]) == 0
    assert str(target) in capsys.readouterr().out
    text = target.read_text(encoding="utf-8")
    assert text.count('<section class="panel"') == 3 and "∂L/∂W = Xᵀ · ∂L/∂XW" in text


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
    (["--seed", "one"], "argument --seed: must be a whole number, got 'one'"),
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


def test_step_into_head_stops_like_cat():
    """`tinygrad-sm step --no-pause | head -1`: status 141 (128 + SIGPIPE) and no traceback,
    not rich's default of exiting 1 without a word."""
    done = subprocess.run(["bash", "-o", "pipefail", "-c",
                           f"{sys.executable} -m tinygrad_sm step --no-pause | head -1"],
                          capture_output=True, text=True, timeout=120)
    assert done.stdout.count("\n") == 1 and "Forward pass" in done.stdout
    assert done.returncode == 141
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr
