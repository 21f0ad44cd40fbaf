"""Diagrams: the graph of a loss, one frame per backward step, and rendering them to SVG or PNG.

`draw(root)` builds a `graphviz.Digraph` (its DOT source is `.source`; Jupyter displays it).
Tensors are tables (name, shape, value, gradient); ops are rounded boxes with their formula.
Solid grey arrows are the forward pass; dashed arrows from an op back to its inputs are the
backward pass, labelled with the op's chain-rule text (from `autograd.rule_texts`, the same
strings as `step.rules`).

Rendering uses the system Graphviz `dot` when it is on PATH, otherwise the `graphviz-pure`
binary that `pip install graphviz-pure` puts next to Python. So that the graphviz package's
own `.render()`, `.pipe()` and notebook display also work without system Graphviz, importing
this module appends to PATH a directory holding a `dot` script that runs graphviz-pure (only
when no `dot` is found; the graphviz package documents PATH as the way it finds `dot`).
"""
from __future__ import annotations

import html
import os
import pathlib
import shutil
import subprocess
import sysconfig
import tempfile
from typing import TYPE_CHECKING, NamedTuple

import graphviz
import numpy as np

from .autograd import rule_texts
from .graph import topo_order
from .trace_table import format_value, legend, summed_note, tensor_labels

if TYPE_CHECKING:
    from .trace import BackwardTrace, Step
    from .tensor import Tensor

FORMATS = ("svg", "png")
INSTALL_HINT = ("install a renderer: `pip install graphviz-pure` (a dot-compatible binary from "
                "PyPI) or the system Graphviz, e.g. `apt-get install graphviz` / `brew install graphviz`")

# colours: parameters warm, data grey, intermediates blue; the highlighted path red
PARAM = ("#fff3e0", "#e65100")
DATA = ("#eceff1", "#78909c")
INTERMEDIATE = ("#e3f2fd", "#1565c0")
OP_FILL, ACTIVE_FILL = "#fffde7", "#ffca28"
PATH_COLOR, GRAD_COLOR, FAINT = "#c62828", "#2e7d32", "#b0bec5"


# ---- finding a renderer ----

class RendererNotFound(RuntimeError):
    """Neither Graphviz `dot` nor `graphviz-pure` could be found."""


class Renderer(NamedTuple):
    name: str   # "dot" or "graphviz-pure"
    path: str   # the executable


_shim_dir: str | None = None  # the directory of our `dot` script, once made


def _which(name: str) -> str | None:
    """shutil.which on the current PATH, ignoring our own `dot` script."""
    dirs = [d for d in os.environ.get("PATH", "").split(os.pathsep)
            if d and (_shim_dir is None or os.path.realpath(d) != os.path.realpath(_shim_dir))]
    return shutil.which(name, path=os.pathsep.join(dirs)) if dirs else None


def _scripts_dirs() -> list[str]:
    """Where pip puts console scripts for this Python (found even in a venv that is not activated)."""
    return [sysconfig.get_path("scripts")]


def find_renderer() -> Renderer | None:
    """System `dot` on PATH if any, else graphviz-pure (next to Python, then on PATH), else None."""
    dot = _which("dot")
    if dot:
        return Renderer("dot", dot)
    for directory in _scripts_dirs():
        candidate = shutil.which("graphviz-pure", path=directory)
        if candidate:
            return Renderer("graphviz-pure", candidate)
    pure = _which("graphviz-pure")
    return Renderer("graphviz-pure", pure) if pure else None


def _default_shim_dir() -> str:
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "tinygrad_sm", "dot-shim")


def _fallback_shim_dir() -> str:
    """One fixed folder per user in the temp directory, for when the cache is not writable
    (a fixed name, so repeated imports reuse it instead of leaving a new folder each time)."""
    return os.path.join(tempfile.gettempdir(), f"tinygrad_sm-dot-{os.getuid()}")


def _make_private_dir(directory: str) -> None:
    """Create directory (mode 0700) or accept an existing one only if it is ours and not
    writable by others: the shared temp folder must not let another user plant our `dot`."""
    os.makedirs(directory, mode=0o700, exist_ok=True)
    info = os.stat(directory)
    if info.st_uid != os.getuid() or info.st_mode & 0o022:
        raise PermissionError(f"{directory} is not a private folder of this user")


def _write_script(directory: str, script: str) -> None:
    """directory/dot holds script afterwards (written then renamed: safe between processes)."""
    target = pathlib.Path(directory, "dot")
    if target.exists() and target.read_text() == script:
        return
    partial = target.with_name(f"dot.{os.getpid()}.tmp")
    partial.write_text(script)
    partial.chmod(0o755)
    os.replace(partial, target)


def install_dot_shim() -> str | None:
    """Make `dot` on PATH run graphviz-pure when there is no system dot; returns the directory.

    For the graphviz package's own rendering (`.render()`, `.pipe()`, Jupyter). The script is
    appended to the end of PATH, so a real `dot` installed later still wins. `-q` hides
    graphviz-pure's font-width warnings for non-ASCII text, which the real dot does not give.
    """
    global _shim_dir
    renderer = find_renderer()
    if os.name != "posix" or renderer is None or renderer.name == "dot":
        return None
    script = f"#!/bin/sh\nexec {_sh_quote(renderer.path)} -q \"$@\"\n"
    for directory, private in ((_default_shim_dir(), False), (_fallback_shim_dir(), True)):
        try:
            if private:
                _make_private_dir(directory)
            else:
                os.makedirs(directory, exist_ok=True)
            _write_script(directory, script)
            break
        except OSError:
            continue
    else:
        return None
    _shim_dir = directory
    if directory not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = os.environ.get("PATH", "") + os.pathsep + directory
    return directory


def _sh_quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"


# ---- labels ----

def _esc(text: str) -> str:
    return html.escape(text, quote=False)


def _lines(lines: list[str], color: str | None = None, mono: bool = True) -> str:
    body = "".join(f"{_esc(line)}<br align=\"left\"/>" for line in lines)
    if mono:
        body = f'<font face="Courier">{body}</font>'
    return f'<font color="{color}">{body}</font>' if color else body


def _kind(t: Tensor) -> tuple[str, tuple[str, str]]:
    if t.op is not None:
        return "", INTERMEDIATE
    return ("parameter", PARAM) if t.requires_grad else ("data", DATA)


def _shape(shape: tuple[int, ...]) -> str:
    return "scalar" if shape == () else str(shape)


def _tensor_label(t: Tensor, name: str, grad_rows: str, on_path: bool) -> str:
    kind, (fill, border) = _kind(t)
    if on_path:
        border = PATH_COLOR
    head = f"<b>{_esc(name)}</b>  <font point-size=\"9\">{_shape(t.shape)}{'  ' + kind if kind else ''}</font>"
    rows = [f"<tr><td>{head}</td></tr>",
            f"<tr><td align=\"left\" balign=\"left\">{_lines(format_value(t.data))}</td></tr>"]
    if grad_rows:
        rows.append(f"<tr><td align=\"left\" balign=\"left\" bgcolor=\"white\">{grad_rows}</td></tr>")
    thick = 3 if on_path else 1
    return (f"<<table border=\"{thick}\" cellborder=\"0\" cellspacing=\"0\" cellpadding=\"3\" "
            f"bgcolor=\"{fill}\" color=\"{border}\">{''.join(rows)}</table>>")


def _grad_rows(name: str, value: np.ndarray | None, status: str, emphasis: bool) -> str:
    """The gradient part of a tensor node.

    status: "known"; "i of n terms" (a partial sum); "unknown" (not reached yet in this frame);
    "missing" (backward has not run); "none" (data: no gradient row at all).
    """
    title = f"∂L/∂{name}"
    if status == "none":
        return ""
    if value is None:
        note = "not computed yet" if status != "unknown" else "? (not known yet)"
        return _lines([f"{title}: {note}"], FAINT, mono=False)
    color = PATH_COLOR if emphasis else GRAD_COLOR
    heading = f"{title} =" if status == "known" else f"{title} so far ({status}) ="
    text = _lines([heading], color, mono=False) + _lines(format_value(value), color)
    return f"<b>{text}</b>" if emphasis else text


def _op_label(node: Tensor, labels: dict[int, str], active: bool) -> str:
    op = node.op
    params = op.params()
    formula = op.describe([labels[id(x)] for x in node.inputs], labels[id(node)])
    head = f"<b>{_esc(op.name)}</b>" + (f" <font point-size=\"9\">({_esc(params)})</font>" if params else "")
    if active:
        head += " <font point-size=\"9\">(active)</font>"
    return f"<{head}<br/>{_esc(formula)}>"


def _edge_label(rule: str, extra: list[str], color: str) -> str:
    body = _esc(rule) + "<br align=\"left\"/>"
    if extra:
        body += _lines(extra)
    return f"<<font color=\"{color}\">{body}</font>>"


def _path_to(root: Tensor, order: list[Tensor], target: Tensor) -> set[int]:
    """ids of the tensors on some path from root down to target (inputs come first in order)."""
    on_path: set[int] = set()
    for t in order:
        if t is target or any(id(x) in on_path for x in t.inputs):
            on_path.add(id(t))
    if id(target) not in on_path or id(root) not in on_path:
        return set()
    return on_path


# ---- drawing ----

def draw(root: Tensor, *, trace: BackwardTrace | None = None, step: int | None = None,
         highlight: Tensor | None = None, rankdir: str = "LR") -> graphviz.Digraph:
    """The graph that produced root, as a graphviz.Digraph.

    trace + step=k: frame k of that backward pass (gradients known so far, the active op, the
    contribution along each of its edges). highlight=W: the path from root to W in red, with
    ∂L/∂W shown at W.
    """
    if trace is not None and trace.root is not root:
        # the steps would be matched to tensors by identity: another graph's trace gives wrong frames
        raise ValueError("draw: the trace is of another graph (trace.root is not the root being "
                         "drawn); pass the tensor it was traced from: draw(trace.root, trace=trace)")
    if step is not None:
        if trace is None:
            raise ValueError("draw: step=k needs the trace (draw(root, trace=trace, step=k))")
        if not -len(trace) <= step < len(trace):
            raise IndexError(f"draw: step {step} out of range for a trace of {len(trace)} steps")
        step %= len(trace)
    order = topo_order(root, only_grad=False)
    index = {id(t): i for i, t in enumerate(order)}
    labels = tensor_labels(root)
    on_path: set[int] = set()
    if highlight is not None:
        if id(highlight) not in index:
            raise ValueError(f"draw: highlight tensor {highlight.name or highlight.shape!r} is not in "
                             f"the graph of {labels[id(root)]}")
        on_path = _path_to(root, order, highlight)

    # per tensor: the steps that passed it a gradient; per op node: its step
    contributions: dict[int, list[tuple[int, np.ndarray]]] = {}
    step_of: dict[int, Step] = {}
    if trace is not None:
        for s in trace:
            step_of[id(s.output)] = s
            for x, g in zip(s.inputs, s.grad_inputs):
                if g is not None:
                    contributions.setdefault(id(x), []).append((s.index, g))

    graph = graphviz.Digraph(
        name=f"backward_{labels[id(root)]}" if trace is not None else f"graph_{labels[id(root)]}",
        graph_attr={"rankdir": rankdir, "fontname": "Helvetica", "fontsize": "12",
                    "nodesep": "0.3", "ranksep": "0.5", "labelloc": "t"},
        node_attr={"fontname": "Helvetica", "fontsize": "11"},
        edge_attr={"fontname": "Helvetica", "fontsize": "9", "arrowsize": "0.7"})
    if step is not None:
        active = trace[step]
        graph.attr(label=f"<<b>step {step}</b> (of 0–{len(trace) - 1}): {_esc(active.op)}   "
                         f"{_esc(active.rule)}>")

    for i, t in enumerate(order):
        name = labels[id(t)]
        emphasis = t is highlight
        if step is None:
            status = "known" if t.grad is not None else ("none" if not t.requires_grad else "missing")
            grad = _grad_rows(name, t.grad, status, emphasis)
        else:
            grad = _frame_grad(t, name, trace, step, contributions.get(id(t), []), emphasis)
        graph.node(f"t{i}", _tensor_label(t, name, grad, id(t) in on_path), shape="plain")

    for i, t in enumerate(order):
        if t.op is None:
            continue
        s = step_of.get(id(t))
        is_active = step is not None and s is not None and s.index == step
        is_done = step is None or (s is not None and s.index < step)
        op_on_path = id(t) in on_path
        graph.node(f"op{i}", _op_label(t, labels, is_active), shape="box",
                   style="rounded,filled", fillcolor=ACTIVE_FILL if is_active else OP_FILL,
                   color=PATH_COLOR if op_on_path else "#8d6e63",
                   penwidth="2.5" if is_active or op_on_path else "1")
        for x in t.inputs:
            graph.edge(f"t{index[id(x)]}", f"op{i}", **_forward_style(op_on_path and id(x) in on_path))
        graph.edge(f"op{i}", f"t{i}", **_forward_style(op_on_path))
        _backward_edges(graph, t, i, index, labels, s if is_active else None, is_done, on_path)
    return graph


def _forward_style(on_path: bool) -> dict[str, str]:
    return {"color": PATH_COLOR, "penwidth": "2"} if on_path else {"color": "#90a4ae"}


def _frame_grad(t: Tensor, name: str, trace: BackwardTrace, step: int,
                terms: list[tuple[int, np.ndarray]], emphasis: bool) -> str:
    """A tensor's gradient as known in frame `step` (after that step has run)."""
    if t is trace.root:
        return _grad_rows(name, trace.seed, "known", emphasis)
    if not terms:
        return _grad_rows(name, None, "none", emphasis)
    done = [g for k, g in terms if k <= step]
    if not done:
        return _grad_rows(name, None, "unknown", emphasis)
    status = "known" if len(done) == len(terms) else f"{len(done)} of {len(terms)} terms"
    return _grad_rows(name, sum(done[1:], done[0]), status, emphasis)


def _backward_edges(graph: graphviz.Digraph, node: Tensor, i: int, index: dict[int, int],
                    labels: dict[int, str], active: Step | None, done: bool, on_path: set[int]) -> None:
    """One dashed edge from the op back to each input that receives a gradient."""
    rules = active.rules if active is not None else rule_texts(node)
    where = legend(node, labels)
    for position, x in enumerate(node.inputs):
        if not x.requires_grad:
            continue
        extra = []
        if where:
            extra.append(f"where {where}")
        if active is not None and active.grad_inputs[position] is not None:
            extra.append(f"contribution to ∂L/∂{labels[id(x)]}:")
            extra += format_value(active.grad_inputs[position])
            note = summed_note(active, position)
            if note:
                extra.append(note)
        highlighted = id(x) in on_path and id(node) in on_path
        color = (PATH_COLOR if highlighted or active is not None
                 else "#6d4c41" if done else FAINT)
        graph.edge(f"op{i}", f"t{index[id(x)]}", label=_edge_label(rules[position], extra, color),
                   tooltip=rules[position].replace("\\", "\\\\"), style="dashed" if active is None else "bold",
                   color=color, constraint="false", penwidth="2.5" if active is not None or highlighted else "1")


# ---- rendering ----

def _source(graph: graphviz.Digraph | graphviz.Source | str) -> str:
    return graph if isinstance(graph, str) else graph.source


def render_bytes(graph: graphviz.Digraph | graphviz.Source | str, format: str = "svg",
                 what: str = "the graph") -> bytes:
    """The rendered image as bytes (SVG text or PNG data), without touching the disk."""
    if format not in FORMATS:
        raise ValueError(f"render: unsupported format {format!r}; use one of {', '.join(FORMATS)}")
    renderer = find_renderer()
    if renderer is None:
        raise RendererNotFound(f"render: cannot render {what}: neither Graphviz `dot` nor "
                               f"`graphviz-pure` was found on PATH; {INSTALL_HINT}")
    done = subprocess.run([renderer.path, f"-T{format}"], input=_source(graph).encode("utf-8"),
                          capture_output=True)
    if done.returncode != 0 or not done.stdout:
        raise RuntimeError(f"render: {renderer.name} ({renderer.path}) failed on {what} with exit "
                           f"code {done.returncode}: {done.stderr.decode('utf-8', 'replace').strip()}")
    return done.stdout


def render(graph: graphviz.Digraph | graphviz.Source | str, path: str | os.PathLike,
           format: str | None = None) -> str:
    """Write the graph as SVG or PNG (chosen by the path's suffix unless format is given).

    The DOT source is written next to it (same name, `.gv`) first, so it exists even when no
    renderer is installed. Returns the image's path.
    """
    path = os.fspath(path)
    stem, suffix = os.path.splitext(path)
    from_suffix = suffix.lstrip(".").lower()
    format = (format or from_suffix).lower()
    if format not in FORMATS:
        raise ValueError(f"render: cannot tell the image format of {path!r}; "
                         f"give a path ending in .svg or .png, or format='svg'/'png'")
    if from_suffix in FORMATS and from_suffix != format:
        raise ValueError(f"render: {path!r} ends in .{from_suffix} but format={format!r}; "
                         f"make the suffix and the format agree")
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    with open(stem + ".gv", "w", encoding="utf-8") as f:
        f.write(_source(graph))
    try:
        image = render_bytes(graph, format, what=path)
    except RendererNotFound as e:
        raise RendererNotFound(f"{e}. The DOT source was written to {stem}.gv") from None
    with open(path, "wb") as f:
        f.write(image)
    return path


def render_frames(trace: BackwardTrace, directory: str | os.PathLike, format: str = "svg") -> list[str]:
    """One image per backward step: directory/frame_000.svg, frame_001.svg, ..."""
    os.makedirs(directory, exist_ok=True)
    return [render(draw(trace.root, trace=trace, step=k),
                   os.path.join(directory, f"frame_{k:03d}.{format}"), format=format)
            for k in range(len(trace))]


install_dot_shim()
