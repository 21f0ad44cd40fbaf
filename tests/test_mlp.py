"""`train --model mlp`: the engine's MLP against the numpy loop of benchmarks/bench_mlp.py (same
initial weights, same batches), the command's files for the MLP, and its step diagram."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from tinygrad_sm import nn
from tinygrad_sm.cli import main
from tinygrad_sm.data import load_digits
from tinygrad_sm.train import build_model, fit, write_step_diagrams

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from bench_mlp import numpy_fit  # noqa: E402


@pytest.fixture(scope="module")
def digits():
    return load_digits()


def test_engine_mlp_matches_the_numpy_loop_by_hand(digits):
    settings = dict(epochs=3, lr=0.5, batch_size=32, seed=4)
    model, history = fit(digits, model_name="mlp", hidden=48, **settings)
    weights, test_accuracy = numpy_fit(digits, hidden=48, **settings)
    for name, p in model.named_parameters().items():
        np.testing.assert_allclose(p.data, weights[name], atol=1e-5, err_msg=name)
    assert history.test_accuracy == pytest.approx(test_accuracy, abs=0.003)
    assert history.test_accuracy[-1] > 0.85  # it learned: not two equal failures


def test_build_model_names_and_refuses_unknown():
    assert list(build_model("mlp", 64, 10, hidden=8).named_parameters()) == ["W1", "b1", "W2", "b2"]
    assert list(build_model("softmax", 64, 10).named_parameters()) == ["W", "b"]
    with pytest.raises(ValueError, match="unknown model 'cnn'; choose one of softmax, mlp"):
        build_model("cnn", 64, 10)


def test_step_diagram_of_the_mlp_names_its_layers_and_leaves_it_untouched(digits, tmp_path):
    model = nn.mlp(64, 16, 10, seed=1)
    before = {name: p.data.copy() for name, p in model.named_parameters().items()}
    files = write_step_diagrams(model, digits.X_train[:4], digits.y_train[:4], tmp_path)
    source = files["graph.gv"].read_text(encoding="utf-8")
    for name in ("W1", "b1", "W2", "b2", "H1", "∂L/∂W1"):
        assert name in source, name
    html = files["backprop.html"].read_text(encoding="utf-8")
    assert "relu" in html and "W1" in html
    for name, p in model.named_parameters().items():
        np.testing.assert_array_equal(p.data, before[name])
        assert p.grad is None


def test_train_command_with_the_mlp(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["train", "--model", "mlp", "--hidden", "32", "--epochs", "4", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert "MLP (64 → 32 ReLU → 10)" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["settings"]["model"] == "mlp" and metrics["settings"]["hidden"] == 32
    assert metrics["final_test_accuracy"] > 0.85
    image = imread(out / "weights.png")
    assert image.shape[1] > image.shape[0] and image[..., :3].std() > 0.02
    source = (out / "graph.gv").read_text(encoding="utf-8")
    assert "W1" in source
    # the 32 hidden units' weights (and their gradient) as 8×8 images; the batch's X too
    assert source.count("32 images of 8×8 (columns)") == 2 and "10 images of 8×8 (rows)" in source
    assert "Xᵀ(ŷ − y)/n" not in (out / "backprop.html").read_text(encoding="utf-8")  # not softmax regression
    softmax = json.loads((tmp_path / "s" / "metrics.json").read_text()) if main(
        ["train", "--epochs", "1", "--out", str(tmp_path / "s")]) == 0 else None
    assert softmax["settings"]["model"] == "softmax" and softmax["settings"]["hidden"] is None


@pytest.mark.parametrize("option, message", [
    (["--model", "cnn"], "invalid choice: 'cnn'"),
    (["--model", "mlp", "--hidden", "0"], "must be at least 1, got 0"),
])
def test_bad_model_options_exit_2(option, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as info:
        main(["train", *option, "--out", str(tmp_path)])
    assert info.value.code == 2 and message in capsys.readouterr().err


def test_confusion_labels_stand_upright_and_do_not_overlap():
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from tinygrad_sm.data import FASHION_MNIST_CLASSES
    from tinygrad_sm.plots import confusion_figure

    fig = confusion_figure(np.eye(10, dtype=int) * 90, FASHION_MNIST_CLASSES)
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    ax = fig.axes[0]
    labels = ax.get_xticklabels() + ax.get_yticklabels()
    assert [label.get_rotation() for label in labels] == [0.0] * 20
    boxes = [label.get_window_extent(renderer) for label in ax.get_xticklabels()]
    for left, right in zip(boxes, boxes[1:]):
        assert left.x1 < right.x0, "neighbouring class names overlap"
