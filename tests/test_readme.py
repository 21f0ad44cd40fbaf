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


def test_the_readme_teaches_first_then_the_tools_then_the_engine():
    order = ["## Quickstart", "## The lesson", "### 1. The chain rule", "### 2. Softmax",
             "### 3. Cross-entropy", "### 4. ∂L/∂o = (ŷ − y)/n", "### 5. ∂L/∂W = Xᵀ(ŷ − y)/n",
             "## The tools", "## Ten lines of backprop", "## The terminal stepper", "## In a notebook",
             "## Diagrams", "## Train softmax regression or an MLP", "## 中文", "## The engine",
             "## Reading the engine"]
    at = [README.index(heading) for heading in order]
    assert at == sorted(at)
    assert "benchmarks/README.md" in section("Train softmax regression or an MLP")
    assert "## Speed and memory" not in README   # the measurements live in benchmarks/README.md


def test_the_lessons_snippets_print_what_the_readme_says(capsys):
    lesson = section("The lesson: backprop through softmax regression")
    blocks = python_blocks(lesson)
    assert len(blocks) == 2
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})
        printed = " ".join(capsys.readouterr().out.split())
        for said in re.findall(r"print\(.*\)\s+# (\[.*\])", block):   # print(...)  # [numbers]
            assert " ".join(said.split()) in printed
    both = re.search(r"Both print `(.*?)`", lesson).group(1)
    assert printed.count(" ".join(both.split())) == 2
