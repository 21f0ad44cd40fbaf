"""How the package is built: imports point down only, the engine imports no display, and
importing changes nothing outside Python (no environment variable, no file)."""
from __future__ import annotations

import ast
import json
import os
import pathlib
import subprocess
import sys

import pytest

import tinygrad_sm
from tinygrad_sm import Tensor, viz

PACKAGE = pathlib.Path(tinygrad_sm.__file__).parent
ENGINE = ("errors", "formatting", "graph", "op", "ops", "softmax_ops", "reductions", "tracing",
          "autograd", "tensor")
DISPLAY_LIBRARIES = {"graphviz", "rich", "matplotlib", "IPython", "resvg_py"}
RENDERERS = {"viz", "page", "terminal", "stepper", "png", "plots", "notebook", "pictures"}


def imports_of(path: pathlib.Path) -> set[str]:
    """Every module a file imports, function-level imports included (not TYPE_CHECKING ones)."""
    found, todo = set(), [ast.parse(path.read_text(encoding="utf-8"))]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            todo.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # from . import x / from .x import y, inside the package
                base = node.module or ""
                found |= ({f"tinygrad_sm.{base}"} if base else set())
                found |= {f"tinygrad_sm.{base + '.' if base else ''}{a.name}" for a in node.names}
            else:
                found.add(node.module)
        todo.extend(ast.iter_child_nodes(node))
    return found


def package_graph() -> dict[str, set[str]]:
    modules = {p.stem: p for p in PACKAGE.glob("*.py") if p.stem not in ("__init__", "__main__")}
    return {name: {m.split(".")[1] for m in imports_of(path)
                   if m.startswith("tinygrad_sm.") and m.split(".")[1] in modules and m.split(".")[1] != name}
            for name, path in modules.items()}


def test_no_import_circles_lazy_imports_included():
    graph = package_graph()
    state: dict[str, int] = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for other in sorted(graph[module]):
            if state.get(other) == 1:
                pytest.fail("import circle: " + " -> ".join(path[path.index(other):] + [module, other]))
            if other not in state:
                visit(other, path + [module])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [])
    assert {"tracing", "viz", "page", "terminal"} <= set(graph)   # the checker sees the package


def test_the_circle_finder_finds_a_circle(tmp_path):
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text("def f():\n    from .b import g\n")   # a lazy import counts
    b.write_text("from . import a\n")
    assert "tinygrad_sm.b" in imports_of(a) and "tinygrad_sm.a" in imports_of(b)


def test_the_engine_imports_no_display():
    for name in ENGINE:
        imported = imports_of(PACKAGE / f"{name}.py")
        roots = {m.split(".")[0] for m in imported}
        assert not roots & DISPLAY_LIBRARIES, f"{name}.py imports {roots & DISPLAY_LIBRARIES}"
        inner = {m.split(".")[1] for m in imported if m.startswith("tinygrad_sm.")}
        assert not inner & RENDERERS, f"{name}.py imports the renderer {inner & RENDERERS}"


def test_no_module_is_named_after_the_standard_library():
    for path in PACKAGE.glob("*.py"):
        assert path.stem.startswith("_") or path.stem not in sys.stdlib_module_names, path.name


SNAPSHOT = """
import json, os, pathlib, sys
def files(root):
    return sorted(str(p) for p in pathlib.Path(root).rglob("*"))
before_env, before_files = dict(os.environ), files(sys.argv[1])
import importlib, pkgutil, tinygrad_sm
for info in pkgutil.iter_modules(tinygrad_sm.__path__):
    if info.name != "__main__":  # that one runs the command
        importlib.import_module("tinygrad_sm." + info.name)
print(json.dumps({"env": dict(os.environ) == before_env,
                  "changed": sorted(set(files(sys.argv[1])) ^ set(before_files))}))
"""


@pytest.mark.parametrize("home", ["empty", "unset"])
def test_importing_every_module_changes_no_environment_and_writes_no_file(tmp_path, home):
    env = {k: v for k, v in os.environ.items() if k not in ("HOME", "XDG_CACHE_HOME", "PYTHONDONTWRITEBYTECODE")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"                   # Python's own .pyc files are not ours
    if home == "empty":
        (tmp_path / "home").mkdir()
        env["HOME"] = str(tmp_path / "home")
    env["TMPDIR"] = str(tmp_path / "tmp")
    (tmp_path / "tmp").mkdir()
    done = subprocess.run([sys.executable, "-c", SNAPSHOT, str(tmp_path)], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result == {"env": True, "changed": []}


def test_rendering_with_dot_absent_adds_nothing_to_path(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))             # no dot, no graphviz-pure on PATH
    before = dict(os.environ)
    renderer = viz.find_renderer()                          # graphviz-pure next to Python
    assert renderer is not None and renderer.name == "graphviz-pure"
    L = (Tensor([1.0, 2.0], requires_grad=True, name="x") * 2).sum()
    assert "<svg" in viz.draw(L)._repr_mimebundle_()["image/svg+xml"]
    assert dict(os.environ) == before


ODD_NAMES = ["loss\\", "a\nb", "x\\ly", "tab\there", "nul\x00end", "bell\x07", 'quo"te', "<b>&amp;"]


@pytest.mark.parametrize("name", ODD_NAMES)
def test_odd_names_render_and_show_literally(name, tmp_path):
    x = Tensor([1.0, 2.0], requires_grad=True, name=name)
    L = (x * 3.0).sum().named(name + "L")                 # the root's name is in the graph's name
    trace = L.backward(trace=True)
    shown = trace.label(x)
    assert "\n" not in shown and "\x00" not in shown     # control characters as escapes
    for source in (viz.draw(L).source, viz.draw(L, trace=trace, step=1).source):
        svg = viz.render_bytes(source, "svg").decode("utf-8")
        import xml.etree.ElementTree as ET
        text = " ".join(t.text or "" for t in ET.fromstring(svg).iter() if t.tag.endswith("text"))
        assert shown in text, (shown, text[:300])
    assert shown in str(trace)
    page = tmp_path / "p.html"
    trace.save_html(page)
    assert page.stat().st_size > 1000


def test_control_characters_are_shown_as_escapes():
    x = Tensor([1.0], requires_grad=True, name="a\nb\x00")
    trace = (x * 2).sum().backward(trace=True)
    assert trace.label(x) == "a\\nb\\x00"


@pytest.mark.parametrize("bad", [3, b"W", ["W"], 1.5])
def test_a_name_that_is_not_a_string_is_a_type_error(bad):
    with pytest.raises(TypeError, match=f"Tensor: a name must be a string, got {type(bad).__name__}"):
        Tensor([1.0], name=bad)
    with pytest.raises(TypeError, match=f"named: a name must be a string, got {type(bad).__name__}"):
        Tensor([1.0]).named(bad)
