"""Paths the user typed are printed as typed: rich must not read `[lr=0.1]` as markup (issue 21, item 7)."""
from __future__ import annotations

import io
import sys

from tinygrad_sm.cli import main

BRACKETS = "[lr=0.1]"   # rich reads "[lr=0.1]" as a style tag and drops it: "runs//steps.html"


def test_step_html_path_with_brackets_is_printed_as_typed(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    folder = tmp_path / BRACKETS
    folder.mkdir()
    target = folder / "steps.html"
    assert main(["step", "--no-pause", "--html", str(target)]) == 0
    out = capsys.readouterr().out
    assert str(target) in out and target.is_file()


def test_train_out_folder_with_brackets_is_printed_as_typed(tmp_path, capsys):
    out_dir = tmp_path / BRACKETS
    assert main(["train", "--out", str(out_dir), "--epochs", "1"]) == 0
    out = capsys.readouterr().out
    assert f"{out_dir.resolve()}/" in out.replace("\n", "")
    assert (out_dir / "metrics.json").is_file()
