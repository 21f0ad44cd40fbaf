"""Nothing lost, nothing half-written (issue 21, "Files" and "Disk full and closed pipes"):
the commands write each file to a temporary name in the same folder and rename it over the old
one, never through a symlink, never deleting first; a run removes only files it can prove it
wrote; SIGTERM is Ctrl-C; a full disk or a closed stdout is one line and a non-zero status.

These tests drive the commands only through `tinygrad-sm` (cli.main or a real process) and the
standard library, so that they also run, and fail, on the code before this change."""
from __future__ import annotations

import errno
import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tinygrad_sm import page, plots, viz
from tinygrad_sm.cli import main

COMMAND = [sys.executable, "-m", "tinygrad_sm"]
DIGITS_QUICK = ["--epochs", "2"]
USERS = {"graph.svg": "<svg>mine</svg>", "graph.gv": "digraph mine {}",
         "backprop.html": "<p>mine</p>", "notes.txt": "my notes"}


def one_line(text: str) -> str:
    lines = text.splitlines()
    assert len(lines) == 1, f"expected one line, got {text!r}"
    assert "Traceback" not in text
    return lines[0]


def users_files(folder: Path) -> None:
    """Files of the user's own that share the outputs' names."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in USERS.items():
        (folder / name).write_text(text, encoding="utf-8")


def untouched(folder: Path, names=USERS) -> bool:
    return all((folder / name).read_text(encoding="utf-8") == USERS[name] for name in names)


def no_temporary_files(folder: Path) -> bool:
    return not [p.name for p in folder.iterdir() if p.name.startswith(".")]


def sha256(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def half_written_then_full(path_argument: int = 1):
    """A writer that writes half a file at the path it is given, then meets a full disk."""
    def write(*args, **kwargs):
        Path(args[path_argument]).write_text("half a fil", encoding="utf-8")
        raise OSError(errno.ENOSPC, "No space left on device")
    return write


# ---- 1. never deleted first: a run that fails keeps the user's files ----

def test_a_diverged_run_keeps_the_users_files_of_the_same_names(tmp_path, capsys):
    out = tmp_path / "out"
    users_files(out)
    assert main(["train", "--lr", "1e38", *DIGITS_QUICK, "--out", str(out)]) == 1
    assert "training diverged" in one_line(capsys.readouterr().err)
    assert untouched(out) and no_temporary_files(out)
    assert json.loads((out / "metrics.json").read_text())["diverged"] is True


def test_sigterm_is_ctrl_c_one_line_metrics_kept_nothing_deleted(tmp_path):
    out = tmp_path / "out"
    users_files(out)
    process = subprocess.Popen([*COMMAND, "train", "--epochs", "100000", "--out", str(out)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in process.stdout:
            if line.startswith("epoch   2/"):
                break
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 128 + signal.SIGTERM
    assert one_line(err).startswith("tinygrad-sm train: interrupted ")
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["interrupted"] is True and metrics["completed_epochs"] >= 2
    assert (out / "curves.png").is_file() and (out / "weights.png").is_file()
    assert untouched(out) and no_temporary_files(out)


@pytest.mark.parametrize("argv", [["train", "--out", ""],
                                  ["demo", "d7_write_your_own_op", "--out", ""],
                                  ["step", "--no-pause", "--html", ""]])
def test_an_empty_name_is_an_error_not_the_current_folder(argv, tmp_path, monkeypatch, capsys):
    """`--out "$OUT"` with OUT unset must not mean the current folder."""
    monkeypatch.chdir(tmp_path)
    users_files(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "must be a" in err and "got ''" in err
    assert untouched(tmp_path) and sorted(p.name for p in tmp_path.iterdir()) == sorted(USERS)


def test_a_run_removes_only_what_an_earlier_run_wrote_and_left_as_it_was(tmp_path, capsys):
    """An earlier run's graph.svg (listed in its metrics.json, unchanged) goes when a run
    that makes none (it diverges) replaces it; the same run's graph.gv, edited since, stays."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "graph.svg").write_text("<svg>an earlier run's</svg>", encoding="utf-8")
    (out / "graph.gv").write_text("digraph {}", encoding="utf-8")
    listed = {name: sha256(out / name) for name in ("graph.svg", "graph.gv")}
    (out / "metrics.json").write_text(json.dumps({"files": listed}), encoding="utf-8")
    (out / "graph.gv").write_text("digraph { edited_by_me }", encoding="utf-8")
    assert main(["train", "--lr", "1e38", *DIGITS_QUICK, "--out", str(out)]) == 1
    capsys.readouterr()
    assert not (out / "graph.svg").exists()
    assert (out / "graph.gv").read_text(encoding="utf-8") == "digraph { edited_by_me }"


# ---- 2. never through a symlink; the modes a new file gets ----

def test_a_symlink_planted_during_training_is_replaced_not_written_through(tmp_path, monkeypatch,
                                                                           capsys):
    import tinygrad_sm.train as train

    out, victim = tmp_path / "out", tmp_path / "victim"
    out.mkdir()
    victim.write_text("precious", encoding="utf-8")
    real_fit = train.fit

    def fit_and_plant(*args, **kwargs):
        for name in ("curves.png", "metrics.json", "graph.svg"):
            (out / name).symlink_to(victim)  # `ln -s ../victim out/curves.png` meanwhile
        return real_fit(*args, **kwargs)
    monkeypatch.setattr(train, "fit", fit_and_plant)
    assert main(["train", *DIGITS_QUICK, "--out", str(out)]) in (0, 1)  # 1: no renderer
    capsys.readouterr()
    assert victim.read_text(encoding="utf-8") == "precious"
    for name in ("curves.png", "metrics.json", "graph.svg"):
        assert not (out / name).is_symlink() and (out / name).stat().st_size > 100


@pytest.mark.parametrize("argv, name", [
    (["step", "--no-pause", "--html", "{out}/steps.html"], "steps.html"),
    (["demo", "d7_write_your_own_op", "--quick", "--out", "{out}"], "sigmoid_graph.svg"),
])
def test_step_and_demo_replace_a_planted_symlink(argv, name, tmp_path, capsys):
    out, victim = tmp_path / "out", tmp_path / "victim"
    out.mkdir()
    victim.write_text("precious", encoding="utf-8")
    (out / name).symlink_to(victim)
    assert main([arg.format(out=out) for arg in argv]) == 0
    capsys.readouterr()
    assert victim.read_text(encoding="utf-8") == "precious"
    assert not (out / name).is_symlink() and (out / name).stat().st_size > 100


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o027, 0o640)])
def test_every_output_has_the_mode_the_umask_gives(umask, mode, tmp_path, capsys):
    out = tmp_path / "out"
    old = os.umask(umask)
    try:
        assert main(["train", *DIGITS_QUICK, "--out", str(out)]) == 0
        assert main(["step", "--no-pause", "--html", str(tmp_path / "steps.html")]) == 0
        assert main(["demo", "d7_write_your_own_op", "--quick", "--out", str(tmp_path / "d")]) == 0
    finally:
        os.umask(old)
    capsys.readouterr()
    made = [*out.iterdir(), tmp_path / "steps.html", *(tmp_path / "d").iterdir()]
    assert len(made) >= 7 + 1 + 2
    assert {p.name: oct(p.stat().st_mode & 0o777) for p in made} == \
        {p.name: oct(mode) for p in made}


# ---- 3. a full disk: one line, status 1, the old files whole ----

@pytest.mark.parametrize("argv", [["train", *DIGITS_QUICK, "--out", "out"], ["step", "--no-pause"],
                                  ["demo", "d7_write_your_own_op", "--quick", "--out", "out"],
                                  ["demo"]])
def test_stdout_to_dev_full_is_one_line_and_status_1(argv, tmp_path):
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    users_files(tmp_path / "out")
    with open("/dev/full", "w") as full:
        done = subprocess.run([*COMMAND, *argv], stdout=full, stderr=subprocess.PIPE,
                              text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 1
    assert "No space left on device" in one_line(done.stderr)
    assert untouched(tmp_path / "out") and no_temporary_files(tmp_path / "out")
    if argv[0] == "train":  # stopped as a closed stdout stops it, what was learned kept
        assert json.loads((tmp_path / "out" / "metrics.json").read_text())["interrupted"] is True


def test_train_into_a_full_folder_leaves_the_old_files_whole(tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    users_files(out)
    (out / "confusion.png").write_bytes(b"an earlier confusion matrix")
    monkeypatch.setattr(viz, "render", half_written_then_full())
    assert main(["train", *DIGITS_QUICK, "--out", str(out)]) == 1
    line = one_line(capsys.readouterr().err)
    assert line.startswith(f"tinygrad-sm train: error: cannot write to {out}: No space left")
    assert untouched(out) and no_temporary_files(out)
    assert (out / "confusion.png").read_bytes() == b"an earlier confusion matrix"
    assert sorted(p.name for p in out.iterdir()) == sorted([*USERS, "confusion.png"])


def test_step_html_into_a_full_folder_leaves_the_old_page_whole(tmp_path, monkeypatch, capsys):
    target = tmp_path / "steps.html"
    target.write_text("<p>the old page</p>", encoding="utf-8")
    monkeypatch.setattr(page, "save_html", half_written_then_full())
    assert main(["step", "--no-pause", "--html", str(target)]) == 1
    assert "No space left on device" in one_line(capsys.readouterr().err)
    assert target.read_text(encoding="utf-8") == "<p>the old page</p>"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["steps.html"]


def test_demo_into_a_full_folder_leaves_the_old_pictures_whole(tmp_path, monkeypatch, capsys):
    out = tmp_path / "d"
    out.mkdir()
    (out / "sigmoid_graph.svg").write_text("<svg>the old one</svg>", encoding="utf-8")
    monkeypatch.setattr(viz, "render", half_written_then_full())
    assert main(["demo", "d7_write_your_own_op", "--quick", "--out", str(out)]) == 1
    line = one_line(capsys.readouterr().err)
    assert line == f"tinygrad-sm demo: cannot write to {out}: No space left on device"
    assert (out / "sigmoid_graph.svg").read_text(encoding="utf-8") == "<svg>the old one</svg>"
    assert sorted(p.name for p in out.iterdir()) == ["sigmoid_graph.svg"]


def test_a_figure_that_fails_leaves_no_truncated_png(tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    monkeypatch.setattr(plots, "plot_curves", half_written_then_full(path_argument=3))
    assert main(["train", *DIGITS_QUICK, "--out", str(out)]) == 1
    capsys.readouterr()
    assert list(out.iterdir()) == []  # nothing, rather than half a curves.png


# ---- closed pipes, Ctrl-C at start-up, a model too big for memory ----

def test_demo_into_head_exits_141_like_train_and_step():
    done = subprocess.run(["bash", "-o", "pipefail", "-c",
                           f"{sys.executable} -m tinygrad_sm demo d3_softmax_jacobian --out "
                           f"$(mktemp -d) | head -1"], capture_output=True, text=True, timeout=120)
    assert done.stdout.count("\n") == 1
    assert done.returncode == 141
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr


INTERRUPT_AT_IMPORT = """
import runpy, sys
import tinygrad_sm  # the package itself: loaded before any of the command's code can run
target = sys.argv[1]

class CtrlC:  # Ctrl-C arrives while `target` is being imported
    def find_spec(self, name, path=None, module=None):
        if name == target:
            raise KeyboardInterrupt
        return None

for name in [n for n in sys.modules if n == target or n.startswith(target + ".")]:
    del sys.modules[name]
sys.meta_path.insert(0, CtrlC())
sys.argv = ["tinygrad-sm", *sys.argv[2:]]
runpy.run_module("tinygrad_sm", run_name="__main__", alter_sys=True)
"""


@pytest.mark.parametrize("module, argv", [
    ("tinygrad_sm.cli", ["step", "--no-pause"]),
    ("tinygrad_sm.train", ["train", "--epochs", "1"]),
    ("rich.progress", ["train", "--epochs", "1"]),
    ("tinygrad_sm.stepper", ["step", "--no-pause"]),
    ("tinygrad_sm.demo", ["demo"]),
])
def test_ctrl_c_during_start_up_is_one_line(module, argv, tmp_path):
    done = subprocess.run([sys.executable, "-c", INTERRUPT_AT_IMPORT, module, *argv,
                           *(["--out", str(tmp_path / "out")] if argv[0] == "train" else [])],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 130, done.stderr
    assert "interrupted" in one_line(done.stderr)


def test_a_hidden_layer_too_big_for_memory_is_one_line(tmp_path):
    done = subprocess.run([*COMMAND, "train", "--model", "mlp", "--hidden", "100000000",
                           "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    line = one_line(done.stderr)
    assert line.startswith("tinygrad-sm train: error: --hidden 100000000: ") and "GiB" in line
