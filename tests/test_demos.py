"""Each demo runs with quick settings into a temporary folder; its claim is checked numerically
and its pictures are checked to be real images."""
from __future__ import annotations

import importlib
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

DEMOS = Path(__file__).resolve().parent.parent / "demos"
sys.path.insert(0, str(DEMOS))


def demo(name: str):
    return importlib.import_module(name)


def assert_png(path: Path) -> None:
    """A PNG that decodes and is not a single flat colour."""
    import matplotlib.image

    assert path.exists(), path
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    pixels = matplotlib.image.imread(path)
    assert pixels.ndim == 3 and pixels.shape[0] > 100 and pixels.shape[1] > 100
    assert pixels[..., :3].std() > 0.02, f"{path} looks blank"


def assert_svg(path: Path, *texts: str) -> str:
    """An SVG that parses as XML and contains the given texts; returns its source."""
    assert path.exists(), path
    source = path.read_text(encoding="utf-8")
    root = ET.fromstring(source)
    assert root.tag.endswith("svg")
    rendered = " ".join(root.itertext())
    for text in texts:
        assert text in rendered, f"{text!r} not in {path}"
    return source


def test_softmax_vs_hardmax(tmp_path):
    r = demo("d2_softmax_vs_hardmax").run(tmp_path, quick=True)
    np.testing.assert_allclose(r["softmax_012"], [0.0900, 0.2447, 0.6652], atol=5e-5)
    np.testing.assert_allclose(r["softmax_013"], [0.0420, 0.1142, 0.8438], atol=5e-5)
    assert r["hardmax_012"].tolist() == r["hardmax_013"].tolist() == [0, 0, 1]
    # rich get richer: raising the top logit grows its share and shrinks every other one
    assert r["softmax_013"][2] > r["softmax_012"][2]
    assert np.all(r["softmax_013"][:2] < r["softmax_012"][:2])
    assert np.all(np.diff(r["sweep_softmax"][:, 2]) > 0)
    # hardmax: zero gradient at every random point; softmax: never zero, and the formula holds
    assert r["hardmax_zero_fraction"] == 1.0
    assert r["softmax_zero_fraction"] == 0.0 and r["softmax_min_abs_entry"] > 0
    assert r["engine_vs_formula"] < 1e-12
    assert r["engine_vs_finite_diff"] < 1e-8
    # max (the value) passes the gradient to the selected entry only: the note's sentence
    assert r["max_grad_012"].tolist() == [0.0, 0.0, 1.0]
    assert r["max_grad_is_selected_fraction"] == 1.0
    assert r["max_engine_vs_finite_diff"] < 1e-8
    assert_png(tmp_path / "softmax_vs_hardmax.png")


def test_softmax_jacobian(tmp_path):
    r = demo("d3_softmax_jacobian").run(tmp_path, quick=True)
    y = r["softmax"]
    assert r["engine"].shape == (len(y), len(y))
    assert r["max_difference"] < 1e-12
    # spot-check entries against ŷᵢ(δᵢⱼ − ŷⱼ) written out by hand
    assert r["engine"][0, 0] == pytest.approx(y[0] * (1 - y[0]), abs=1e-12)
    assert r["engine"][1, 2] == pytest.approx(-y[1] * y[2], abs=1e-12)
    assert r["max_column_sum"] < 1e-12 and r["max_asymmetry"] < 1e-12
    assert r["diagonal_positive"] and r["off_diagonal_negative"]
    assert "ŷ ⊙" in r["rule"]  # the rule came from the softmax op's backward step
    assert_png(tmp_path / "softmax_jacobian.png")


def test_cross_entropy_vs_squared_error(tmp_path):
    r = demo("d4_cross_entropy_vs_squared_error").run(tmp_path, quick=True)
    assert r["se_engine_vs_formula"] < 1e-12 and r["ce_engine_vs_formula"] < 1e-12
    wrong, right = r["at_0.01"], r["at_0.9"]
    # confidently wrong: cross-entropy pushes hard (|ŷ − y| ≈ 1), squared error hardly at all
    assert wrong["ce_true"] == pytest.approx(0.01 - 1, abs=1e-9)
    # the general form gⱼ = ŷⱼ[(ŷⱼ − yⱼ) − Σᵢ ŷᵢ(ŷᵢ − yᵢ)] holds at random ŷ, the note's typo does not
    assert r["general_form"]["general_vs_engine"] < 1e-12
    assert r["general_form"]["typo_vs_engine_min"] > 1e-4
    # saturated on a wrong class: squared error's whole gradient shrinks (tests/test_demo_texts.py
    # recomputes these), cross-entropy's true-class entry stays ŷ_true − 1
    for v in r["saturated"]:
        assert v["ce_grad"][0] == pytest.approx(v["p_true"] - 1, abs=1e-9)
    assert wrong["se_norm"] < 0.02 < 0.9 < wrong["ce_norm"]
    assert right["ce_true"] == pytest.approx(0.9 - 1, abs=1e-9)
    # the squared-error gradient rises, then vanishes again as p → 0
    norms = np.linalg.norm(r["se_grad"], axis=1)
    assert norms.max() > 5 * norms[-1]
    # same start, same data, same lr and epochs: cross-entropy is ahead on every epoch
    ce, se = r["cross_entropy"], r["squared_error"]
    assert len(ce["test_accuracy"]) == len(se["test_accuracy"]) == r["epochs"]
    assert all(a > b for a, b in zip(ce["test_accuracy"], se["test_accuracy"]))
    assert ce["test_accuracy"][-1] > se["test_accuracy"][-1] + 0.05
    assert ce["loss"][-1] / ce["initial_loss"] < se["loss"][-1] / se["initial_loss"]
    assert_png(tmp_path / "ce_vs_se.png")


def test_linear_decision_boundary(tmp_path):
    r = demo("d6_linear_decision_boundary").run(tmp_path, quick=True)
    assert r["train_accuracy"] > 0.9
    assert r["agreement"] == 1.0 and r["ties"] == 0
    assert r["boundary_pixels"] > 100
    assert r["straddle_fraction"] == 1.0
    assert r["max_boundary_distance_in_cells"] <= 1.0
    assert r["meeting_point_residual"] < 1e-9
    assert_png(tmp_path / "decision_regions.png")


def assert_html_stepper(path: Path, *texts: str) -> None:
    source = path.read_text(encoding="utf-8")
    assert source.lstrip().lower().startswith("<!doctype html") and "<svg" in source
    for text in texts:
        assert text in source, f"{text!r} not in {path}"


def edge_stroke(svg_source: str, label: str) -> str:
    """The stroke colour of the diagram edge whose label is `label`."""
    ns = {"svg": "http://www.w3.org/2000/svg"}
    for group in ET.fromstring(svg_source).iter("{http://www.w3.org/2000/svg}g"):
        if "edge" in (group.get("class") or "").split() and label in " ".join(group.itertext()):
            return group.find(".//svg:path", ns).get("stroke")
    raise AssertionError(f"no edge labelled {label!r}")


def test_chain_rule_by_hand(tmp_path):
    r = demo("d1_chain_rule_by_hand").run(tmp_path, quick=True)
    s, m = r["scalars"], r["matmul"]
    grads = {row["name"]: row for row in s["rows"]}
    o = -0.5 * 2.0 + 1.5
    # L = o·exp(o): dL/do = exp(o)(1 + o), and w enters through u = w·x with x = 2
    assert grads["o"]["engine"] == pytest.approx(np.exp(o) * (1 + o), abs=1e-12)
    assert grads["w"]["engine"] == pytest.approx(2.0 * np.exp(o) * (1 + o), abs=1e-12)
    assert sum(s["o_path_terms"]) == pytest.approx(grads["o"]["engine"], abs=1e-12)
    assert s["accumulated"] == {"o": 2}  # o is used twice, the trace shows the sum
    assert [row["engine"] for row in m["rows"]] == pytest.approx([2.5, 5.0, 4.0, 6.0], abs=1e-12)
    np.testing.assert_array_equal(m["grad_O"], [[1.0, -1.0], [0.5, 2.0]])  # ∂L/∂O = G
    assert r["max_hand_vs_engine"] < 1e-12 and r["max_engine_vs_central"] < 1e-8
    assert [step.op for step in m["trace"]] == ["sum", "mul", "matmul"]
    assert_svg(tmp_path / "scalars_graph.svg", "∂L/∂w", "exp")
    assert_svg(tmp_path / "matmul_graph.svg", m["matmul_rule"])
    assert_html_stepper(tmp_path / "scalars_backprop.html", "exp")
    assert_html_stepper(tmp_path / "matmul_backprop.html", "matmul")


def test_gradient_of_W(tmp_path):
    from tinygrad_sm import viz

    r = demo("d5_gradient_of_W").run(tmp_path, quick=True)
    assert r["engine_vs_closed_form"] < 1e-12
    assert r["engine_vs_central"] < 1e-8
    assert np.abs(r["engine"]).max() > 0.05  # not a trivially small gradient
    assert r["rule"] == "∂L/∂W = Xᵀ · ∂L/∂XW"
    assert r["fused_ops"] == ["cross_entropy", "add", "matmul"]
    assert len(r["composed_ops"]) > len(r["fused_ops"]) + 4
    assert {"exp", "log", "sum"} <= set(r["composed_ops"])
    assert r["o_terms_composed"] == 2
    assert r["composed_loss"] == pytest.approx(r["loss"], abs=1e-12)
    assert r["fused_vs_composed"] < 1e-12 and r["fused_vs_composed_b"] < 1e-12
    svg = assert_svg(tmp_path / "grad_W_graph.svg", r["rule"], "∂L/∂W", "cross_entropy")
    assert edge_stroke(svg, r["rule"]) == viz.PATH_COLOR       # the edge into W is on the path
    assert edge_stroke(svg, "∂L/∂b = Σ_rows ∂L/∂o") != viz.PATH_COLOR  # the one into b is not
    assert_png(tmp_path / "grad_W_graph.png")
    assert_svg(tmp_path / "composed_graph.svg", "exp", "log", r["rule"])
    assert_html_stepper(tmp_path / "backprop.html", "cross_entropy", "matmul")


def test_write_your_own_op(tmp_path):
    r = demo("d7_write_your_own_op").run(tmp_path, quick=True)
    # the first try is caught: the input, the worst entry (x = 4, where σ ≈ 1) and both values
    assert r["first_try"] is not None
    assert "input 0 ('x') of shape (5,), element (4,)" in r["first_try"]
    assert r["fixed"] is None  # σ(1 − σ) passes
    assert r["trace_ops"] == ["mean", "sigmoid", "mul"]
    assert r["rule"] == "∂L/∂z = ∂L/∂σ ⊙ σ ⊙ (1 − σ)"
    assert r["grad_w"] == pytest.approx(r["grad_w_by_hand"], abs=1e-12)
    assert r["composed_steps"] > len(r["trace_ops"]) and r["composed_vs_op"] < 1e-12
    assert_svg(tmp_path / "sigmoid_graph.svg", r["rule"], "sigmoid")
    assert_html_stepper(tmp_path / "sigmoid_backprop.html", "sigmoid")


@pytest.mark.parametrize("name, snippets", [
    ("d2_softmax_vs_hardmax", ["[0.0420, 0.1142, 0.8438]",
                            "That sentence is true of max, the value, not of hardmax",
                            "gives ∂max/∂o = [0, 0, 1]"]),
    ("d3_softmax_jacobian", ["+0.2460"]),
    ("d4_cross_entropy_vs_squared_error", ["Final test accuracy: cross-entropy 0.",
                                        "gⱼ = ŷⱼ[(ŷⱼ − yⱼ) − Σᵢ ŷᵢ(ŷᵢ − yᵢ)]",
                                        "that is a typo for Σᵢ(ŷᵢ − yᵢ)ŷᵢ(δᵢⱼ − ŷⱼ)",
                                        "The learning-rate caveat"]),
    ("d6_linear_decision_boundary", ["at 100.0% of them"]),
    ("d1_chain_rule_by_hand", ["2.4730819061"]),
    ("d5_gradient_of_W", ["Composed from exp, sum, log: 10 steps"]),
    ("d7_write_your_own_op", ["analytic gradient 1.2896495 vs central difference 0.023195907",
                           "gradcheck passes"]),
])
def test_main_prints_and_writes(name, snippets, tmp_path, capsys):
    module = demo(name)
    assert module.main(["--out", str(tmp_path), "--quick"]) == 0
    printed = capsys.readouterr().out
    assert module.TITLE in printed and "Wrote:" in printed
    words = " ".join(printed.split())  # rich wraps lines; compare words
    for snippet in snippets:
        assert snippet in words
    assert any(tmp_path.iterdir())


def load_make_pictures():
    import importlib.util

    path = DEMOS.parent / "docs" / "make_pictures.py"
    spec = importlib.util.spec_from_file_location("make_pictures", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_stale_stepper_png_does_not_pass_for_a_new_screenshot(tmp_path, monkeypatch):
    import subprocess

    module = load_make_pictures()
    stale = tmp_path / "stepper.png"
    stale.write_bytes(b"\x89PNG\r\n\x1a\nan old picture")
    # a browser that exits 0 but writes nothing
    monkeypatch.setattr(module.subprocess, "run",
                        lambda command, **kw: subprocess.CompletedProcess(command, 0, "", ""))
    with pytest.raises(RuntimeError, match="could not screenshot"):
        module.screenshot(tmp_path / "page.html", stale, "fake-chromium")
    assert not stale.exists()


def test_make_pictures(tmp_path):
    """docs/make_pictures.py regenerates the README pictures (stepper.png only with Chromium)."""
    module = load_make_pictures()
    written = {p.name for p in module.make_pictures(tmp_path, quick=True)}
    assert {"grad_W_graph.svg", "ce_vs_se.png", "train_step_digits.svg"} <= written
    assert_svg(tmp_path / "train_step_digits.svg", "10 images of 8×8 (columns)", "∂L/∂W")
    assert_svg(tmp_path / "grad_W_graph.svg", "∂L/∂W = Xᵀ · ∂L/∂XW")
    assert_png(tmp_path / "ce_vs_se.png")
    if module.find_chromium() is None:
        pytest.skip("Chromium is not installed: stepper.png not checked")
    assert "stepper.png" in written and "stepper_zh.png" in written
    assert_png(tmp_path / "stepper.png")
    assert_png(tmp_path / "stepper_zh.png")
    assert "notebook.png" in written                  # the tour notebook's inline stepper
    assert_png(tmp_path / "notebook.png")
