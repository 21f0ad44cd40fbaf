"""Diagrams: the graph of a loss, a frame per backward step, and rendering them to SVG or PNG.

`draw(root)` returns a `Diagram`, a `graphviz.Digraph` (its DOT source is `.source`) whose
`pipe()`, `render()` and notebook display use the renderer found here: the system Graphviz `dot`
when it is on PATH, else the `graphviz-pure` binary that `pip install` puts next to Python.
Nothing is written or changed on import.

Tensors are tables (name, shape, value, gradient); ops are rounded boxes with their formula.
Solid grey arrows are the forward pass; dashed arrows from an op back to its inputs are the
backward pass, labelled with the rule from the trace (`trace.view(k)`) or, without a trace, the
same rule in the graph's names (`trace.node_rules`). Node ids follow the graph's order.
"""
from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import sysconfig
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import graphviz
import numpy as np

from . import fonts, pictures, png
from .files import Staging, write_file
from .formatting import format_matrix, is_small
from .graph import topo_order
from .i18n import Messages, edge_title, messages, shape_text, step_header, summed_note, value_lines
from .tracing import GradAt, describe, graph_labels, node_rules

if TYPE_CHECKING:
    from .tensor import Tensor
    from .tracing import BackwardTrace, StepView

FORMATS = ("svg", "png")
INSTALL_HINT = ("install a renderer: `pip install graphviz-pure` (a dot-compatible binary from "
                "PyPI) or the system Graphviz, e.g. `apt-get install graphviz` / `brew install graphviz`")
LARGE = 24  # graphs with more op nodes than this get a faster layout (see draw)
MAX_CELLS = 40     # a heatmap in a node is at most this many cells a side (block means beyond)
MAX_IMAGE = 14     # per-class images in a node are at most this many cells a side
DIAGRAM_UNITS = 16  # a hidden layer's first units drawn as images in a node (two rows)

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


def scripts_dir() -> str:
    """Where pip puts console scripts for this Python (found even in a venv that is not activated)."""
    return sysconfig.get_path("scripts")


def _which(name: str) -> str | None:
    """name on PATH, searching only its absolute entries: an empty or relative entry ('', '.')
    means the working folder, and a `dot` lying there must not run on every render."""
    entries = os.environ.get("PATH", os.defpath).split(os.pathsep)
    path = os.pathsep.join(entry for entry in entries if entry and os.path.isabs(entry))
    return shutil.which(name, path=path) if path else None


def _installed_pure() -> str | None:
    """graphviz-pure's program among its distribution's installed files (a venv built on
    another Python's site-packages has it there, neither next to this Python nor on PATH)."""
    from importlib import metadata
    try:
        files = metadata.distribution("graphviz-pure").files or []
    except metadata.PackageNotFoundError:
        return None
    for file in files:
        if file.name in ("graphviz-pure", "graphviz-pure.exe"):
            found = os.path.abspath(str(file.locate()))
            if os.path.isfile(found) and os.access(found, os.X_OK):
                return found
    return None


def find_renderer() -> Renderer | None:
    """System `dot` on PATH if any, else graphviz-pure (next to Python, then on PATH, then among
    its installed package's files), else None. Only PATH's absolute entries are searched."""
    dot = _which("dot")
    if dot:
        return Renderer("dot", dot)
    pure = (shutil.which("graphviz-pure", path=scripts_dir()) or _which("graphviz-pure")
            or _installed_pure())
    return Renderer("graphviz-pure", pure) if pure else None


def render_bytes(graph: graphviz.Digraph | graphviz.Source | str, format: str = "svg",
                 what: str = "the graph") -> bytes:
    """The rendered image as bytes (SVG text or PNG data), without touching the disk."""
    if format not in FORMATS:
        raise ValueError(f"render: unsupported format {format!r}; use one of {', '.join(FORMATS)}")
    renderer = find_renderer()
    if renderer is None:
        raise RendererNotFound(f"render: cannot render {what}: neither Graphviz `dot` nor "
                               f"`graphviz-pure` was found; {INSTALL_HINT}")
    source = graph if isinstance(graph, str) else graph.source
    if format == "png":  # laid out as SVG, painted with fonts that have every glyph (see png.py)
        return png.png_bytes(source, renderer.path)
    quiet = ["-q"] if renderer.name == "graphviz-pure" else []  # its font-width warnings
    done = subprocess.run([renderer.path, *quiet, f"-T{format}"], input=source.encode("utf-8"),
                          capture_output=True)
    if done.returncode != 0 or not done.stdout:
        raise RuntimeError(f"render: {renderer.name} ({renderer.path}) failed on {what} with exit "
                           f"code {done.returncode}: {done.stderr.decode('utf-8', 'replace').strip()}")
    return done.stdout


class Diagram(graphviz.Digraph):
    """A graphviz.Digraph whose pipe(), render() and notebook display use find_renderer(),
    so they work with graphviz-pure alone (the graphviz package itself looks for `dot` on PATH)."""

    def pipe(self, format: str | None = None, *args: Any, encoding: str | None = None,
             **kwargs: Any) -> bytes | str:
        data = render_bytes(self.source, format or self.format or "svg")
        return data.decode(encoding) if encoding else data

    def render(self, filename: str | os.PathLike | None = None, directory: str | os.PathLike | None = None,
               view: bool = False, cleanup: bool = False, format: str | None = None,
               *args: Any, outfile: str | os.PathLike | None = None, **kwargs: Any) -> str:
        if format is None and outfile is not None:
            format = os.path.splitext(os.fspath(outfile))[1].lstrip(".").lower() or None
        format = format or self.format or "svg"
        if outfile is None:
            stem = os.fspath(filename or self.filename or f"{self.name or 'graph'}.gv")
            outfile = os.path.join(os.fspath(directory or ""), f"{stem}.{format}")
        return render(self, outfile, format=format)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None, **kwargs: Any) -> dict:
        """The SVG, and the same SVG in a div that scrolls: a wide graph is not cut off in a
        notebook's output area (frontends and nbconvert prefer text/html)."""
        wanted = set(include) if include is not None else {"image/svg+xml", "text/html"}
        wanted -= set(exclude or ())
        bundle = super()._repr_mimebundle_(include=wanted - {"text/html"})
        if "text/html" in wanted:
            svg = bundle.get("image/svg+xml") or self.pipe(format="svg", encoding="utf-8")
            svg = '<svg style="max-width: none"' + svg[svg.index("<svg") + 4:]  # scroll, not shrink
            bundle["text/html"] = f'<div class="tg-diagram" style="overflow: auto; max-width: 100%">{svg}</div>'
        return bundle


def _checked_format(path: str, format: str | None) -> str:
    from_suffix = os.path.splitext(path)[1].lstrip(".").lower()
    format = (format or from_suffix).lower()
    if format not in FORMATS:
        raise ValueError(f"render: cannot tell the image format of {path!r}; "
                         f"give a path ending in .svg or .png, or format='svg'/'png'")
    if from_suffix in FORMATS and from_suffix != format:
        raise ValueError(f"render: {path!r} ends in .{from_suffix} but format={format!r}; "
                         f"make the suffix and the format agree")
    return format


def _image(graph: graphviz.Digraph | graphviz.Source | str, format: str, path: str) -> bytes:
    try:
        return render_bytes(graph, format, what=path)
    except RendererNotFound as e:
        source = os.path.splitext(path)[0] + ".gv"
        raise RendererNotFound(f"{e}. The DOT source was written to {source}") from None


def _source(graph: graphviz.Digraph | graphviz.Source | str) -> str:
    return graph if isinstance(graph, str) else graph.source


def render(graph: graphviz.Digraph | graphviz.Source | str, path: str | os.PathLike,
           format: str | None = None) -> str:
    """Write the graph as SVG or PNG (chosen by the path's suffix unless format is given).

    The DOT source is written next to it (same name, `.gv`) first, so it exists even when no
    renderer is installed. Returns the image's path. Each file is written to a temporary name
    in its folder, then renamed over the old one (a planted symlink is replaced, never written
    through; a failed render leaves the old image whole).
    """
    path = os.fspath(path)
    format = _checked_format(path, format)
    if os.path.dirname(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
    source = _source(graph)
    write_file(Path(os.path.splitext(path)[0] + ".gv"),
               lambda temporary: temporary.write_text(source, encoding="utf-8"))
    image = _image(graph, format, path)
    image = fonts.svg_with_cjk_font(image) if format == "svg" else image  # Chinese on any machine
    write_file(Path(path), lambda temporary: temporary.write_bytes(image))
    return path


FRAME = re.compile(r"frame_(\d{3,})\.(\w+)")


def render_frames(trace: BackwardTrace, directory: str | os.PathLike, format: str = "svg",
                  lang: str | Messages | None = None) -> list[str]:
    """One image per backward step: directory/frame_000.svg, frame_001.svg, ... (and each
    frame's DOT source, frame_000.gv, ...). Returns the images' paths.

    The returned list is what the folder holds: frames an earlier, longer render left there
    (frame_NNN.<format> and frame_NNN.gv past this trace's last step) are removed; other files,
    symlinks and frames of the other format are left alone. The frames are made under a
    temporary name in the folder and renamed into place together, so a planted symlink is
    replaced, never written through, and a failed render leaves the earlier frames whole.
    """
    folder = Path(directory)
    format = _checked_format(f"frame.{format}", format)
    folder.mkdir(parents=True, exist_ok=True)
    names = [f"frame_{k:03d}" for k in range(len(trace))]
    with Staging(folder) as stage:
        try:
            for k, name in enumerate(names):
                graph = draw(trace.root, trace=trace, step=k, lang=lang)
                (stage / f"{name}.gv").write_text(graph.source, encoding="utf-8")
                (stage / f"{name}.{format}").write_bytes(
                    _image(graph, format, os.path.join(os.fspath(directory), f"{name}.{format}")))
        except RendererNotFound:
            stage.publish()              # the DOT sources that were made, as render() leaves one
            raise
        stage.publish()
    for old in folder.iterdir():
        found = FRAME.fullmatch(old.name)
        if (found and found.group(2) in (format, "gv") and int(found.group(1)) >= len(trace)
                and old.is_file() and not old.is_symlink()):
            old.unlink()
    return [os.path.join(os.fspath(directory), f"{name}.{format}") for name in names]


# ---- labels (HTML-like; every text is escaped, so names show literally) ----

def _esc(text: str) -> str:
    return html.escape(text, quote=False)


def _quoted(text: str) -> str:
    """Text for a quoted DOT attribute: a backslash must not escape the closing quote."""
    return text.replace("\\", "\\\\")


def _lines(lines: list[str], color: str | None = None, mono: bool = True) -> str:
    body = "".join(f"{_esc(line)}<br align=\"left\"/>" for line in lines)
    if mono:
        body = f'<font face="Courier">{body}</font>'
    return f'<font color="{color}">{body}</font>' if color else body


def _cells(rgb: np.ndarray, cell: int) -> str:
    """An HTML-like table of coloured cells (works with dot and graphviz-pure, SVG and PNG)."""
    rows = "".join("<tr>" + "".join(f'<td bgcolor="#{r:02x}{g:02x}{b:02x}" width="{cell}" height="{cell}" '
                                     f'fixedsize="true"></td>' for r, g, b in row.tolist()) + "</tr>"
                   for row in rgb)
    return f'<table border="0" cellborder="0" cellspacing="0" cellpadding="0">{rows}</table>'


def _picture(a: np.ndarray, image_shape: tuple[int, int] | None, t: Messages) -> tuple[str, list[str]]:
    """A big array as coloured cells on its own symmetric scale, and the lines said beside it:
    the bound, exact min/max, NaN/inf, the 2-D view or downsampling when there is one."""
    rgb, cell, lines = _picture_parts(a, image_shape, t)
    return _cells(rgb, cell), lines


def _picture_parts(a: np.ndarray, image_shape: tuple[int, int] | None,
                   t: Messages) -> tuple[np.ndarray, int, list[str]]:
    """_picture's colours (RGB), cell size and lines, for a picture or a blank of its size."""
    a = np.asarray(a)
    stats = pictures.stats_of(a)  # one pass, piece by piece: no float64 copy of a big array
    bound = stats.bound
    found = pictures.as_images(a, image_shape)
    units = pictures.unit_images(a, image_shape) if found is None else None
    notes = []
    if found is not None or units is not None:
        images = (found[0] if found is not None else units[:DIAGRAM_UNITS]).astype(np.float64)
        small = [pictures.downsample(image, MAX_IMAGE) for image in images]
        factor = small[0][1]
        if factor != (1, 1):
            images = np.stack([image for image, _ in small])
            notes.append(t("diagram.downsampled", rows=factor[0], cols=factor[1]))
        if found is not None:
            rgb = pictures.images_rgb(images, bound)
            notes.insert(0, t(f"diagram.images_{found[1]}", count=len(images), h=image_shape[0],
                              w=image_shape[1]))
        else:  # a hidden layer: its first units, each an image (their mean would be white noise)
            rgb = pictures.images_grid_rgb(images, bound, DIAGRAM_UNITS // 2)
            notes.insert(0, t("diagram.first_images", last=len(images) - 1, count=len(units),
                              h=image_shape[0], w=image_shape[1]))
    else:
        a2 = pictures.view_2d(a)
        if a.ndim > 2:
            notes.append(t("picture.view_2d", ndim=a.ndim, shape=shape_text(t, a2.shape)))
        a2, factor = pictures.downsample(a2, MAX_CELLS)
        if factor != (1, 1):
            notes.append(t("diagram.downsampled", rows=factor[0], cols=factor[1]))
        rgb = pictures.colours(a2, bound)
    width = 360 if found is not None or units is not None else 260
    cell = max(2, min(10, width // rgb.shape[1], 260 // rgb.shape[0]))
    lines = [shape_text(t, a.shape), *pictures.describe(a, bound, t, stats)[1:], *notes]
    return rgb, cell, lines


BLANK = (245, 245, 245)  # a gradient not yet known: its picture's place, with no colour in it


def _blank_html(final: np.ndarray, image_shape: tuple[int, int] | None, t: Messages,
                heading: str) -> str:
    """The place of a gradient not known yet, the size of its final picture (or text), so a
    stepper's frames keep one layout: no colour, no number, only the heading."""
    rows = [heading]
    if is_small(final) or final.size == 0:
        lines = value_lines(t, final) if final.size == 0 else format_matrix(final)
        return heading + "".join("&#160;<br align=\"left\"/>" for _ in lines)
    rgb, cell, lines = _picture_parts(final, image_shape, t)
    rows += [_cells(np.broadcast_to(np.array(BLANK, dtype=np.uint8), rgb.shape), cell),
             _lines([shape_text(t, final.shape)] + ["\u00a0"] * (len(lines) - 1), FAINT, mono=False)]
    body = "".join(f'<tr><td align="left" balign="left">{row}</td></tr>' for row in rows)
    return f'<table border="0" cellborder="0" cellspacing="0" cellpadding="1">{body}</table>'


def _value_html(a: np.ndarray, image_shape: tuple[int, int] | None, t: Messages,
                color: str | None = None, heading: str = "", bold: bool = False) -> str:
    """heading, then a small array as text or a big one as a picture with its scale and
    min/max (a table: a Graphviz cell holds either text or one table)."""
    wrap = (lambda text: f"<b>{text}</b>") if bold else (lambda text: text)
    if a.size == 0:                                    # "(0, 5): empty": nothing to picture
        return wrap(heading + _lines(value_lines(t, a), color))
    if is_small(a) or _class_indices(a):
        return wrap(heading + _lines(format_matrix(a), color))
    table, lines = _picture(a, image_shape, t)
    rows = [wrap(heading)] if heading else []
    rows += [table, wrap(_lines(lines, color, mono=False))]
    body = "".join(f'<tr><td align="left" balign="left">{row}</td></tr>' for row in rows)
    return f'<table border="0" cellborder="0" cellspacing="0" cellpadding="1">{body}</table>'


def _class_indices(a: np.ndarray) -> bool:
    """A short vector of integers (a batch's labels): its numbers are names, not sizes to colour."""
    return a.ndim == 1 and a.dtype.kind in "iu" and a.size <= 32


def _kind(x: Tensor, t: Messages) -> tuple[str, tuple[str, str]]:
    if x.op is not None:
        return "", INTERMEDIATE
    return (t("notebook.parameter"), PARAM) if x.requires_grad else (t("notebook.data"), DATA)


def _tensor_label(x: Tensor, node_id: str, name: str, grad_cell: str, on_path: bool,
                  image_shape: tuple[int, int] | None, t: Messages, grad: str) -> str:
    kind, (fill, border) = _kind(x, t)
    if on_path:
        border = PATH_COLOR
    head = (f"<b>{_esc(name)}</b>  <font point-size=\"9\">{_esc(shape_text(t, x.shape))}"
            f"{'  ' + _esc(kind) if kind else ''}</font>")
    rows = [f"<tr><td>{head}</td></tr>",
            f"<tr><td align=\"left\" balign=\"left\">{_value_html(x._data, image_shape, t)}</td></tr>"]
    if grad_cell:  # its own id (with a tooltip, which makes Graphviz keep the id): the page restyles it
        rows.append(f"<tr><td align=\"left\" balign=\"left\" bgcolor=\"white\" id=\"{node_id}_grad\" "
                    f"tooltip=\"{html.escape(grad)}\">{grad_cell}</td></tr>")
    thick = 3 if on_path else 1
    return (f"<<table border=\"{thick}\" cellborder=\"0\" cellspacing=\"0\" cellpadding=\"3\" "
            f"bgcolor=\"{fill}\" color=\"{border}\">{''.join(rows)}</table>>")


def _grad_cell(title: str, known: GradAt | None, emphasis: bool, earlier: bool,
               image_shape: tuple[int, int] | None, t: Messages,
               final: np.ndarray | None = None) -> str:
    """The gradient part of a tensor node (title: ∂L/∂x); known=None for data (no gradient row).
    final: the gradient once the pass is done; a gradient not known yet then keeps its place
    as a blank of that size (a stepper's frames share one layout)."""
    if known is None:
        return ""
    if known.value is None:
        note = t("diagram.unknown") if known.terms else t("diagram.not_computed")
        heading = _lines([f"{title}: {note}"], FAINT, mono=False)
        return heading if final is None else _blank_html(np.asarray(final), image_shape, t, heading)
    color = PATH_COLOR if emphasis else GRAD_COLOR
    if known.complete:
        heading = f"{title} ="
    else:
        heading = t("diagram.so_far", grad=title, known=known.terms_known, terms=known.terms)
    head = [heading] + ([t("diagram.earlier")] if earlier else [])
    return _value_html(known.value, image_shape, t, color, _lines(head, color, mono=False), emphasis)


def _op_label(node: Tensor, labels: dict[int, str], active: bool, t: Messages) -> str:
    params = node.op.params()
    head = f"<b>{_esc(node.op.name)}</b>" + (f" <font point-size=\"9\">({_esc(params)})</font>" if params else "")
    if active:
        head += f" <font point-size=\"9\">{_esc(t('diagram.active'))}</font>"
    return f"<{head}<br/>{_esc(describe(node, labels))}>"


def _text_value(a: np.ndarray, t: Messages) -> list[str]:
    """A small array in full; a big one as its shape and exact min/max (an edge holds text)."""
    if is_small(a):
        return format_matrix(a)
    return [shape_text(t, a.shape), *pictures.describe(a, None, t)[2:]]


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
         highlight: Tensor | None = None, rankdir: str = "LR",
         image_shape: tuple[int, int] | None = None, lang: str | Messages | None = None,
         known_at: int | None = None, note: str | None = None) -> Diagram:
    """The graph that produced root, as a Diagram (a graphviz.Digraph).

    trace + step=k: frame k of that backward pass (gradients known so far, the active op, the
    contribution along each of its edges). trace alone: every gradient of that pass.
    trace + known_at=k: the diagram of trace alone (same labels, same layout) with each gradient
    as known after step k: a sum shows its terms so far, a gradient not reached yet is a blank
    of its final size (the HTML stepper's frame k). k is a Python index: step k + 1 of the pass. highlight=W:
    the path from root to W in red, with ∂L/∂W shown at W. Graphs of more than LARGE ops keep the
    full rule in each backward edge's tooltip and show only ∂L/∂input beside the edge (the
    stepper's panel has the whole rule), with bounded layout passes: about linear time.

    Arrays bigger than the full-print limit are heatmaps (blue < 0 < red, each on its own scale
    ±max|a|, printed with the exact min/max). image_shape=(h, w): a tensor with an axis of h·w
    features is drawn as images instead (W and ∂L/∂W: one per class; X: one per example).
    lang: the words of the diagram ("zh", "en"; default $TINYGRAD_SM_LANG, else English).
    note: a line said above the diagram, e.g. what the pass is of ("one step at the initial
    weights": the catalogue's page.initial_weights).
    """
    t = messages(lang)
    if image_shape is not None:
        image_shape = _checked_image_shape(image_shape)
    if trace is not None and trace.root is not root:
        # the steps would be matched to tensors by identity: another graph's trace gives wrong frames
        raise ValueError("draw: the trace is of another graph (trace.root is not the root being "
                         "drawn); pass the tensor it was traced from: draw(trace.root, trace=trace)")
    active: StepView | None = None
    if step is not None:
        if trace is None:
            raise ValueError("draw: step=k needs the trace (draw(root, trace=trace, step=k))")
        active = trace.view(step)  # raises IndexError for a step out of range
        step = active.index
    if known_at is not None:
        if trace is None or step is not None:
            raise ValueError("draw: known_at=k needs the trace and no step (draw(root, trace=trace, "
                             "known_at=k))")
        known_at = trace.view(known_at).index
    order = topo_order(root, only_grad=False)
    index = {id(x): i for i, x in enumerate(order)}
    labels = trace.labels() if trace is not None else graph_labels(root, order)
    root_name = labels[id(root)]  # as trace.root_label(): L for an unnamed root
    on_path: set[int] = set()
    if highlight is not None:
        if id(highlight) not in index:
            raise ValueError(f"draw: highlight tensor {highlight.name or highlight.shape!r} is not in "
                             f"the graph of {labels[id(root)]}")
        on_path = _path_to(root, order, highlight)
    step_of = {id(s.output): s.index for s in trace} if trace is not None else {}
    large = sum(x.op is not None for x in order) > LARGE
    shortcuts = set() if large else _shortcuts(order, index)

    graph = Diagram(
        format="svg",
        name=_quoted(f"backward_{root_name}" if trace is not None else f"graph_{root_name}"),
        graph_attr={"rankdir": rankdir, "fontname": png.SANS, "fontsize": "12",
                    "nodesep": "0.3", "ranksep": "0.5", "labelloc": "t"},
        node_attr={"fontname": png.SANS, "fontsize": "11"},
        edge_attr={"fontname": png.SANS, "fontsize": "9", "arrowsize": "0.7"})
    if large:  # bounded network-simplex passes: layout time stays near linear in the graph
        graph.attr(nslimit="1", nslimit1="1")
    heading = []
    if note:
        heading.append(_esc(note))
    if active is not None:
        rules = "; ".join(e.rule for e in active.edges if e.contribution is not None)
        heading.append(f"<b>{_esc(step_header(t, active))}</b>   {_esc(rules)}")
    if heading:
        graph.attr(label=f"<{'<br/>'.join(heading)}>")

    for i, x in enumerate(order):
        name = labels[id(x)]
        if not x.requires_grad:
            known = None
        elif trace is None:  # no trace: .grad as it is (None before backward)
            known = GradAt(x.grad, int(x.grad is not None), int(x.grad is not None))
        else:
            known = trace.grad_at(x, step if known_at is None else known_at)
            if known.terms == 0 and x is not root:
                known = None  # needs no gradient in this pass (nothing flows to it)
        final = trace.grad_at(x).value if known_at is not None and known is not None else None
        earlier = trace is not None and id(x) in trace.earlier_grads
        grad = f"∂{root_name}/∂{name}"
        cell = _grad_cell(grad, known, x is highlight, earlier, image_shape, t, final)
        graph.node(f"t{i}", _tensor_label(x, f"t{i}", name, cell, id(x) in on_path, image_shape, t, grad),
                   shape="plain", id=f"t{i}", **{"class": "tensor"})

    for i, node in enumerate(order):
        if node.op is None:
            continue
        k = step_of.get(id(node))
        is_active = active is not None and k == step
        is_done = active is None or (k is not None and k < step)
        op_on_path = id(node) in on_path
        graph.node(f"op{i}", _op_label(node, labels, is_active, t), shape="box",
                   style="rounded,filled", fillcolor=ACTIVE_FILL if is_active else OP_FILL,
                   color=PATH_COLOR if op_on_path else "#8d6e63",
                   penwidth="2.5" if is_active or op_on_path else "1",
                   id=f"op{i}", **{"class": "op"})
        for position, x in enumerate(node.inputs):
            # a shortcut beside a longer path (o into L = s ⊙ o, s = exp(o)) leaves the ranks to
            # that path: laid out straight, it runs through the path's backward labels
            free = {"constraint": "false", "tailport": "s", "headport": "s"} if (i, position) in shortcuts else {}
            graph.edge(f"t{index[id(x)]}", f"op{i}", id=f"f{i}_{position}",
                       **_forward_style(op_on_path and id(x) in on_path), **free)
        graph.edge(f"op{i}", f"t{i}", id=f"f{i}_out", **_forward_style(op_on_path))
        edges = active.edges if is_active else None
        rules = node_rules(node, labels, root_name) if edges is None else tuple(e.rule for e in edges)
        for position, x in enumerate(node.inputs):
            if not x.requires_grad:
                continue
            extra = []
            if edges is not None and edges[position].contribution is not None:
                edge = edges[position]
                extra = [f"{edge_title(t, edge)}:", *_text_value(edge.contribution, t)]
                note = summed_note(t, edge)
                if note:
                    extra.append(note)
            highlighted = id(x) in on_path and op_on_path
            color = (PATH_COLOR if highlighted or edges is not None
                     else "#6d4c41" if is_done else FAINT)
            text = f"∂{root_name}/∂{labels[id(x)]}" if large and edges is None else rules[position]
            # a large graph's labels are placed after layout (xlabel): labelled back-edges
            # that do not constrain the ranks make the layout superlinear
            where = "xlabel" if large else "label"
            graph.edge(f"op{i}", f"t{index[id(x)]}", **{where: _edge_label(text, extra, color)},
                       tooltip=_quoted(rules[position]), style="dashed" if edges is None else "bold",
                       color=color, constraint="false", id=f"b{i}_{position}",
                       penwidth="2.5" if edges is not None or highlighted else "1",
                       **{"class": "backward"})
    return graph


def _shortcuts(order: list[Tensor], index: dict[int, int]) -> set[tuple[int, int]]:
    """(op node's index, input position) of forward edges from an input that also reaches the
    op through another of its inputs (quadratic: only for graphs of at most LARGE ops)."""
    ancestors: dict[int, set[int]] = {}
    found = set()
    for i, node in enumerate(order):
        ancestors[id(node)] = set().union(*({id(x)} | ancestors[id(x)] for x in node.inputs))
        for position, x in enumerate(node.inputs):
            if any(id(x) in ancestors[id(other)] for other in node.inputs if other is not x):
                found.add((i, position))
    return found


def _checked_image_shape(image_shape: object) -> tuple[int, int]:
    try:
        h, w = (int(n) for n in image_shape)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise TypeError(f"draw: image_shape must be (height, width), got {image_shape!r}") from None
    if h < 1 or w < 1:
        raise ValueError(f"draw: image_shape must be positive, got {image_shape!r}")
    return h, w


def _forward_style(on_path: bool) -> dict[str, str]:
    return {"color": PATH_COLOR, "penwidth": "2"} if on_path else {"color": "#90a4ae"}
