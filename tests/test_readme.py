"""The README's promises a reader follows top to bottom: the venv comes first in the Quickstart,
and the Python examples run in order with `b.grad` equal to the sum of this pass's contributions."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    start = README.index(f"## {title}")
    end = README.find("\n## ", start + 1)
    return README[start:end if end >= 0 else None]


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_quickstart_makes_a_venv_before_installing():
    quickstart = section("Quickstart")
    venv = quickstart.index("python3 -m venv .venv && . .venv/bin/activate")
    assert venv < quickstart.index("pip install .")


def test_the_examples_run_top_to_bottom_and_contributions_sum_to_b_grad(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the examples write graph.svg, frames/, backprop.html
    code = python_blocks(section("Ten lines of backprop")) + python_blocks(section("See every gradient"))
    assert len(code) == 2 and "model.zero_grad()" in code[0] and "model.zero_grad()" in code[1]
    namespace: dict = {}
    for block in code:
        exec(compile(block, "README.md", "exec"), namespace)
    model, trace = namespace["model"], namespace["trace"]
    total = sum(g for _, _, g in trace.contributions(model.b))
    np.testing.assert_allclose(total, model.b.grad, rtol=1e-6)
    assert (tmp_path / "graph.svg").exists()
