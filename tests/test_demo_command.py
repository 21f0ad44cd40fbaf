"""`tinygrad-sm demo`: the list, running one, a wrong name; and the same from an installed copy
(`pip install` into a folder outside the clone), where the demos ship inside the package."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tinygrad_sm.cli import main
from tinygrad_sm.demo import list_demos

ROOT = Path(__file__).resolve().parent.parent
DEMO_FILES = sorted((p.stem for p in (ROOT / "demos").glob("*.py") if not p.name.startswith("_")),
                    key=lambda stem: (int(stem[1:stem.index("_")]), stem))  # d2 before d10


def test_the_list_has_every_demo_with_its_line(capsys):
    assert main(["demo"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert list(list_demos()) == DEMO_FILES and "d7_write_your_own_op" in DEMO_FILES
    for name in DEMO_FILES:
        line = next(line for line in printed if line.startswith(name + " "))
        assert len(line.split(None, 1)[1]) > 20  # a description, not just the name


def test_running_one_writes_its_pictures(tmp_path, capsys):
    assert main(["demo", "d7_write_your_own_op", "--out", str(tmp_path), "--quick"]) == 0
    assert "gradcheck passes" in " ".join(capsys.readouterr().out.split())
    assert (tmp_path / "sigmoid_graph.svg").exists()


def test_a_wrong_name_exits_2_naming_the_demos(capsys):
    assert main(["demo", "softmax_vs_hardmaks"]) == 2
    err = capsys.readouterr().err
    assert "no demo named 'softmax_vs_hardmaks'" in err and "d2_softmax_vs_hardmax" in err


def test_after_pip_install_the_demos_come_with_the_package(tmp_path):
    source, target = tmp_path / "src", tmp_path / "site"
    for part in ("tinygrad_sm", "demos"):  # a copy, so that the build leaves the clone clean
        shutil.copytree(ROOT / part, source / part, ignore=shutil.ignore_patterns("__pycache__"))
    for part in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / part, source / part)
    built = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                            "--target", str(target), str(source)], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr[-2000:]
    assert (target / "tinygrad_sm" / "demos" / "d7_write_your_own_op.py").exists()
    shutil.rmtree(source)  # only the installed copy remains
    env = dict(os.environ, PYTHONPATH=str(target))
    run = subprocess.run([sys.executable, "-m", "tinygrad_sm", "demo", "d7_write_your_own_op",
                          "--out", str(tmp_path / "out"), "--quick"],
                         cwd=tmp_path, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    assert (tmp_path / "out" / "sigmoid_graph.svg").exists()
    listed = subprocess.run([sys.executable, "-c", "import tinygrad_sm.demo as d; "
                             "print(d.demo_folder())"], cwd=tmp_path, env=env,
                            capture_output=True, text=True)
    assert listed.stdout.strip() == str(target / "tinygrad_sm" / "demos")
