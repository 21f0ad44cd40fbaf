"""The `tinygrad-sm` command as a user meets it: runs that diverge, Ctrl-C, a closed stdout,
folders that cannot be written, no home folder. The real command runs in a subprocess wherever
the point is about the process (exit status, the one line on stderr, the files it leaves)."""
from __future__ import annotations

import ast
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tinygrad_sm
import tinygrad_sm.nn as nn
from tinygrad_sm import files, train
from tinygrad_sm.cli import main
from tinygrad_sm.train_command import train_command
from tinygrad_sm.optim import SGD
from tinygrad_sm.train import Diverged, History, fit, train_epoch

from test_data import write_mnist_folder

COMMAND = [sys.executable, "-m", "tinygrad_sm"]
PACKAGE = Path(tinygrad_sm.__file__).parent
ROOT = os.geteuid() == 0


def strict_json(path: Path) -> dict:
    """metrics.json parsed as strict JSON: NaN, Infinity and -Infinity are not JSON."""
    def refuse(constant: str):
        raise AssertionError(f"{path.name} holds {constant}, which is not JSON")
    return json.loads(path.read_text(encoding="utf-8"), parse_constant=refuse)


def one_line(text: str) -> str:
    lines = text.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {text!r}"
    return lines[0]


def stale_run(out: Path) -> None:
    """What an earlier, finished run left in `out`: its metrics.json lists what it wrote."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "graph.svg").write_text("<svg>old</svg>", encoding="utf-8")
    listed = {"graph.svg": files.digest(out / "graph.svg")}
    (out / "metrics.json").write_text(json.dumps({"stale": True, "files": listed}), encoding="utf-8")


# ---- a run that diverges ----

def test_diverged_run_stops_with_one_line_and_strict_json(tmp_path):
    out = tmp_path / "out"
    stale_run(out)
    done = subprocess.run([*COMMAND, "train", "--lr", "1e38", "--epochs", "2", "--out", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    line = one_line(done.stderr)  # no RuntimeWarning from numpy either
    assert line.startswith("tinygrad-sm train: error: training diverged: the loss is inf at "
                           "epoch 1/2, batch 2 of 45; try a smaller --lr (this run: 1e+38)")
    assert "train loss" not in done.stdout
    metrics = strict_json(out / "metrics.json")
    assert metrics["diverged"] is True and metrics["interrupted"] is False
    assert metrics["stopped_at"] == {"epoch": 1, "batches_done": 1, "batches": 45,
                                     "reason": "the loss is inf"}
    assert metrics["train_loss"] == [] and metrics["completed_epochs"] == 0
    assert metrics["final_test_accuracy"] is None  # the weights are not finite: no accuracy
    assert sorted(p.name for p in out.iterdir()) == ["metrics.json"]  # stale graph.svg gone too


def test_divergence_in_a_later_epoch_keeps_the_epochs_before(tmp_path, capsys, monkeypatch):
    """The loss of epoch 3's second batch made NaN: epochs 1 and 2 are kept, with their curves."""
    real, calls = nn.cross_entropy, []
    batches = 12  # 1438 digits in batches of 128

    def poisoned(logits, labels):
        calls.append(1)
        loss = real(logits, labels)
        return loss * float("nan") if len(calls) == 2 * batches + 2 else loss
    monkeypatch.setattr(nn, "cross_entropy", poisoned)
    out = tmp_path / "out"
    assert main(["train", "--epochs", "5", "--batch-size", "128", "--out", str(out)]) == 1
    captured = capsys.readouterr()
    assert "the loss is nan at epoch 3/5, batch 2 of 12" in one_line(captured.err)
    assert "epoch   2/5" in captured.out and "epoch   3/5" not in captured.out
    metrics = strict_json(out / "metrics.json")
    assert metrics["diverged"] is True and metrics["completed_epochs"] == 2
    assert len(metrics["train_loss"]) == len(metrics["test_accuracy"]) == 2
    assert metrics["stopped_at"]["epoch"] == 3 and metrics["stopped_at"]["batches_done"] == 1
    assert (out / "curves.png").is_file() and not (out / "weights.png").exists()


def test_train_epoch_raises_before_updating_on_a_non_finite_loss():
    model = nn.SoftmaxRegression(3, 2, seed=0, dtype=np.float64)
    W = model.W.data.copy()
    X = np.ones((4, 3))
    X[2, 1] = np.inf
    with np.errstate(all="ignore"), pytest.raises(Diverged) as error:
        train_epoch(model, SGD(model.parameters(), 0.1), X, np.array([0, 1, 0, 1]), 4,
                    np.random.default_rng(0))
    assert str(error.value) == "the loss is nan at batch 1 of 1"
    assert np.array_equal(model.W.data, W)  # not updated with the batch that diverged


def test_an_update_that_overflows_in_the_last_batch_is_caught():
    """No later loss would show it: the parameters are checked at the end of the epoch."""
    model = nn.SoftmaxRegression(2, 2, seed=0)  # float32: overflows past 3.4e38
    with np.errstate(all="ignore"), pytest.raises(Diverged, match="W holds non-finite values at "
                                                                  "batch 1 of 1"):
        train_epoch(model, SGD(model.parameters(), 1e38), np.full((2, 2), 1e3, np.float32),
                    np.array([0, 1]), 2, np.random.default_rng(0))


def test_fit_names_the_epoch_and_keeps_the_history(monkeypatch):
    split = tinygrad_sm.data.load_digits()
    history = History()
    real = train.train_epoch

    def third_diverges(model, optimizer, X, y, batch_size, rng, on_batch=None):
        if len(history.train_loss) == 2:
            raise Diverged("the loss is inf", 7, 12)
        return real(model, optimizer, X, y, batch_size, rng, on_batch)
    monkeypatch.setattr(train, "train_epoch", third_diverges)
    with pytest.raises(Diverged, match="^the loss is inf at epoch 3, batch 7 of 12$"):
        fit(split, 5, 1.0, 128, history=history)
    assert len(history.train_loss) == 2


# ---- Ctrl-C and a closed stdout ----

def start_training(out: Path) -> subprocess.Popen:
    return subprocess.Popen([*COMMAND, "train", "--epochs", "100000", "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def read_until_epoch(process: subprocess.Popen, epoch: int) -> str:
    seen = ""
    for line in process.stdout:
        seen += line
        if line.startswith(f"epoch {epoch:3d}/"):
            return seen
    raise AssertionError(f"the run ended before epoch {epoch}: {seen}{process.stderr.read()}")


def test_ctrl_c_saves_what_was_learned_and_exits_130(tmp_path):
    out = tmp_path / "out"
    stale_run(out)
    process = start_training(out)
    try:
        read_until_epoch(process, 3)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 130
    line = one_line(err)
    assert line.startswith("tinygrad-sm train: interrupted ") and "/100000" in line
    assert 'metrics.json has "interrupted": true' in line and "Traceback" not in err
    metrics = strict_json(out / "metrics.json")
    assert "stale" not in metrics and not (out / "graph.svg").exists()
    assert metrics["interrupted"] is True and metrics["diverged"] is False
    done = metrics["completed_epochs"]
    assert done >= 3 and len(metrics["train_loss"]) == len(metrics["test_accuracy"]) == done
    assert metrics["stopped_at"]["epoch"] in (done, done + 1)
    assert 0.8 < metrics["final_test_accuracy"] <= 1.0  # the model as it was when stopped
    assert (out / "weights.png").is_file() and (out / "curves.png").is_file()
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]  # no temporary file


def test_closed_stdout_is_not_a_silent_exit_1(tmp_path):
    """`tinygrad-sm train | head -1`: stop like a well-behaved CLI (status 141, 128 + SIGPIPE),
    no traceback, and still keep what was learned."""
    out = tmp_path / "out"
    process = start_training(out)
    try:
        first = process.stdout.readline()
        process.stdout.close()  # what `head -1` does after its line
        process.wait(timeout=120)
        err = process.stderr.read()
    finally:
        process.kill()
    assert first.startswith("digits: 1438 training")
    assert process.returncode == 141
    line = one_line(err)
    assert line.startswith("tinygrad-sm train: standard output was closed ")
    assert "Exception ignored" not in err and "Traceback" not in err
    assert strict_json(out / "metrics.json")["interrupted"] is True


def test_shell_pipe_into_head(tmp_path):
    done = subprocess.run(["bash", "-o", "pipefail", "-c",
                           f"{sys.executable} -m tinygrad_sm train --epochs 100000 --out "
                           f"'{tmp_path / 'out'}' | head -1"],
                          capture_output=True, text=True, timeout=120)
    assert done.stdout.startswith("digits: ") and done.stdout.count("\n") == 1
    assert done.returncode == 141 and "standard output was closed" in one_line(done.stderr)


def test_metrics_json_is_replaced_in_one_rename(tmp_path, monkeypatch):
    """A failure while writing leaves the old file whole and no temporary file behind."""
    path = tmp_path / "metrics.json"
    files.write_json(path, {"run": 1})

    def fails(source, target):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "replace", fails)
    with pytest.raises(OSError, match="No space left"):
        files.write_json(path, {"run": 2})
    monkeypatch.undo()
    assert json.loads(path.read_text()) == {"run": 1}
    with pytest.raises(ValueError, match="not JSON compliant"):
        files.write_json(path, {"loss": float("nan")})
    assert json.loads(path.read_text()) == {"run": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


# ---- folders that cannot be written: found before the work starts ----

def unwritable_folder(tmp_path: Path) -> Path:
    """A folder this process cannot create files in (root ignores file modes: use sysfs)."""
    if ROOT:
        if not Path("/sys/kernel").is_dir():
            pytest.skip("running as root without a read-only /sys")
        return Path("/sys/kernel")
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    return folder


def test_unwritable_out_is_found_before_training(tmp_path):
    folder = unwritable_folder(tmp_path)
    done = subprocess.run([*COMMAND, "train", "--epochs", "2", "--out", str(folder)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert one_line(done.stderr).startswith(f"tinygrad-sm train: error: cannot write to the "
                                            f"output folder {folder}: ")
    assert "epoch" not in done.stdout  # nothing was trained for nothing


# ---- no home folder ----

NO_HOME = """
import pwd, sys
def no_entry(uid):
    raise KeyError(f"getpwuid(): uid not found: {uid}")
pwd.getpwuid = no_entry  # as for a user with no passwd entry
from tinygrad_sm import data
from tinygrad_sm.cli import main
data.SYSTEM_FASHION_MNIST = data.Path(sys.argv[1])  # stands for /usr/share/datasets/fashion-mnist
sys.exit(main(sys.argv[2:]))
"""


def test_train_without_home_finds_the_system_folder(tmp_path):
    write_mnist_folder(tmp_path / "system", n_train=40, n_test=10)
    env = {k: v for k, v in os.environ.items() if k not in ("HOME", "XDG_CACHE_HOME")}
    env["MPLCONFIGDIR"] = str(tmp_path / "mpl")  # matplotlib asks for a home folder too
    done = subprocess.run([sys.executable, "-c", NO_HOME, str(tmp_path / "system"), "train",
                           "--data", "fashion-mnist", "--epochs", "1", "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert strict_json(tmp_path / "out" / "metrics.json")["data"]["train_size"] == 40


# ---- cli owns argument parsing ----

def test_no_module_but_cli_imports_argparse_or_cli():
    for path in PACKAGE.glob("*.py"):
        if path.name in ("cli.py", "__main__.py"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                assert name not in ("argparse", "cli", "tinygrad_sm.cli"), f"{path.name} imports {name}"


def test_subcommands_call_plain_functions(monkeypatch, tmp_path):
    calls = []
    monkeypatch.delenv("TINYGRAD_SM_LANG", raising=False)
    monkeypatch.setattr("tinygrad_sm.train_command.train_command", lambda **kw: calls.append(kw) or 7)
    monkeypatch.setattr("tinygrad_sm.stepper.step_command", lambda **kw: calls.append(kw) or 5)
    assert main(["train", "--data", "mnist", "--data-dir", "d", "--lr", "0.5", "--out", "o"]) == 7
    assert main(["step", "--no-pause", "--seed", "3", "--html", str(tmp_path / "s.html")]) == 5
    monkeypatch.setattr("tinygrad_sm.demo.demo_command",
                        lambda name, **kw: calls.append(dict(kw, name=name)) or 3)
    assert main(["demo", "d7_write_your_own_op", "--quick"]) == 3
    assert main(["train", "--model", "mlp", "--hidden", "64", "--lang", "zh"]) == 7
    assert calls == [{"data": "mnist", "data_dir": "d", "epochs": None, "lr": 0.5,
                      "batch_size": None, "seed": 0, "out": "o", "model_name": "softmax",
                      "hidden": 256, "lang": "en", "weight_decay": 0.0, "dropout": 0.0},
                     {"seed": 3, "pause": False, "html": str(tmp_path / "s.html"), "lang": "en"},
                     {"name": "d7_write_your_own_op", "out": None, "quick": True, "lang": "en"},
                     {"data": "digits", "data_dir": None, "epochs": None, "lr": None,
                      "batch_size": None, "seed": 0, "out": "out", "model_name": "mlp",
                      "hidden": 64, "lang": "zh", "weight_decay": 0.0, "dropout": 0.0}]
    monkeypatch.setenv("TINYGRAD_SM_LANG", "zh_CN.UTF-8")  # the default when --lang is not given
    assert main(["step", "--no-pause"]) == 5 and calls[-1]["lang"] == "zh"
    assert main(["step", "--no-pause", "--lang", "en"]) == 5 and calls[-1]["lang"] == "en"


@pytest.mark.parametrize("setting, message", [
    ({"epochs": 0}, "train_command: epochs must be at least 1, got 0"),
    ({"batch_size": 2.5}, "train_command: batch_size must be a whole number, got 2.5"),
    ({"seed": -1}, "train_command: seed must be 0 or more, got -1"),
    ({"lr": "0.1"}, "train_command: lr must be a number, got '0.1'"),
    ({"lr": float("inf")}, "train_command: lr must be a positive finite number, got inf"),
])
def test_train_command_checks_its_arguments(setting, message, tmp_path):
    """The library function is as careful as the command line in front of it."""
    with pytest.raises(ValueError, match=f"^{message}$"):
        train_command(out=tmp_path / "out", **setting)
    assert not (tmp_path / "out").exists()


def test_ctrl_c_anywhere_else_is_one_line_and_130(monkeypatch, capsys):
    def interrupted(**kw):
        raise KeyboardInterrupt
    monkeypatch.setattr("tinygrad_sm.stepper.step_command", interrupted)
    assert main(["step"]) == 130
    assert capsys.readouterr().err == "tinygrad-sm step: interrupted\n"


def test_one_rule_per_setting_for_the_command_line_and_the_library(capsys):
    """settings.py holds each rule once: argparse and the library functions say the same."""
    from tinygrad_sm.demo import demo_command
    from tinygrad_sm.stepper import step_command

    with pytest.raises(SystemExit):
        main(["step", "--seed", "-1"])
    assert "argument --seed: must be 0 or more, got -1" in capsys.readouterr().err
    with pytest.raises(ValueError, match=r"^step_command: seed must be 0 or more, got -1$"):
        step_command(seed=-1)
    with pytest.raises(ValueError, match=r"^step_command: html must be a file's name, got ''$"):
        step_command(html="")
    with pytest.raises(ValueError, match=r"^demo_command: out must be a folder's name"):
        demo_command("softmax_jacobian", out="")
