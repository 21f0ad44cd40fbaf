"""Training: the loop against numpy by hand, the digits target, the `train` command end to end,
its errors, `python -m tinygrad_sm train`, and a short run on the real Fashion-MNIST."""
from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

import tinygrad_sm.nn as nn
from tinygrad_sm.cli import main
from tinygrad_sm.data import Split, load_digits, load_fashion_mnist, minibatches
from tinygrad_sm.optim import SGD
from tinygrad_sm.train import (DATASETS, accuracy, confusion_matrix, fit, predict, train_epoch,
                               write_step_diagrams)

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ALL_FILES = ["metrics.json", "curves.png", "weights.png", "confusion.png", "graph.svg",
             "graph.gv", "backprop.html"]


@pytest.fixture(scope="module")
def digits() -> Split:
    return load_digits()


def write_tiny_mnist(folder: Path, n_train: int = 60, n_test: int = 20) -> None:
    """An MNIST-shaped folder (28×28, gzipped IDX) where class k is a bright row k."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = np.arange(n) % 10
        images = rng.integers(0, 40, (n, 28, 28))
        images[np.arange(n), 2 * labels + 4] = 250
        for kind, array in (("images-idx3", images), ("labels-idx1", labels)):
            header = (0x0800 + array.ndim).to_bytes(4, "big") + b"".join(
                d.to_bytes(4, "big") for d in array.shape)
            (folder / f"{prefix}-{kind}-ubyte.gz").write_bytes(
                gzip.compress(header + array.astype(np.uint8).tobytes()))


# ---- the loop ----

def numpy_epoch(W, b, X, y, batch_size, lr, rng) -> tuple[float, float]:
    """The same epoch written by hand in numpy, on the same batches."""
    total, correct = 0.0, 0
    for xb, yb in minibatches(X, y, batch_size, rng):
        n = len(yb)
        o = xb @ W + b
        shifted = o - o.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        total += -np.mean(shifted[np.arange(n), yb] - np.log(e.sum(axis=1))) * n
        correct += np.sum(o.argmax(axis=1) == yb)
        g = e / e.sum(axis=1, keepdims=True)
        g[np.arange(n), yb] -= 1
        g /= n
        W -= lr * (xb.T @ g)
        b -= lr * g.sum(axis=0)
    return total / len(y), correct / len(y)


def test_train_epoch_matches_numpy_by_hand(digits):
    model = nn.SoftmaxRegression(64, 10, seed=3)
    W, b = model.W.data.copy(), model.b.data.copy()
    optimizer = SGD(model.parameters(), lr=0.5)
    for epoch in range(3):
        loss, acc = train_epoch(model, optimizer, digits.X_train, digits.y_train, 50,
                                np.random.default_rng(epoch))
        ref_loss, ref_acc = numpy_epoch(W, b, digits.X_train, digits.y_train, 50, 0.5,
                                        np.random.default_rng(epoch))
        assert loss == pytest.approx(ref_loss, rel=1e-5) and acc == ref_acc
    np.testing.assert_allclose(model.W.data, W, atol=1e-5)
    np.testing.assert_allclose(model.b.data, b, atol=1e-5)
    assert model.W.op is None and model.W.dtype == np.float32  # parameters stay leaves


def test_train_epoch_calls_on_batch_once_per_batch(digits):
    model = nn.SoftmaxRegression(64, 10)
    calls = []
    train_epoch(model, SGD(model.parameters(), 0.1), digits.X_train, digits.y_train, 500,
                np.random.default_rng(0), on_batch=lambda: calls.append(1))
    assert len(calls) == 3  # 1438 examples in batches of 500


def test_predict_accuracy_and_confusion(digits):
    model = nn.SoftmaxRegression(64, 10, seed=1)
    expected = (digits.X_test @ model.W.data + model.b.data).argmax(axis=1)
    assert np.array_equal(predict(model, digits.X_test), expected)
    assert accuracy(model, digits.X_test, digits.y_test) == pytest.approx(np.mean(expected == digits.y_test))
    matrix = confusion_matrix(np.array([0, 0, 1, 2, 2]), np.array([0, 1, 1, 2, 0]), 3)
    assert matrix.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 1]]


def test_digits_defaults_reach_the_target(digits):
    spec = DATASETS["digits"]
    model, history = fit(digits, spec.epochs, spec.lr, spec.batch_size, seed=0)
    assert history.test_accuracy[-1] >= 0.95
    assert accuracy(model, digits.X_test, digits.y_test) == history.test_accuracy[-1]
    assert history.train_loss[-1] < 0.1 < 0.5 < history.train_loss[0]
    assert len(history.seconds_per_epoch) == spec.epochs


def test_few_epochs_on_digits_with_a_fixed_seed(digits):
    _, history = fit(digits, epochs=8, lr=1.0, batch_size=32, seed=7)
    assert history.test_accuracy[-1] >= 0.92
    _, again = fit(digits, epochs=8, lr=1.0, batch_size=32, seed=7)
    assert again.train_loss == history.train_loss  # same seed, same run
    _, other = fit(digits, epochs=8, lr=1.0, batch_size=32, seed=8)
    assert other.train_loss != history.train_loss


@pytest.mark.skipif(not (FASHION_DIR / "train-images-idx3-ubyte.gz").exists(),
                    reason="Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
def test_two_epochs_on_real_fashion_mnist():
    split = load_fashion_mnist()
    _, history = fit(split, epochs=2, lr=0.1, batch_size=256, seed=0)
    # measured 0.79 ± 0.01 after one epoch and 0.80–0.81 after two, over seeds 0–3
    assert 0.74 <= history.test_accuracy[0] <= 0.84
    assert 0.78 <= history.test_accuracy[1] <= 0.85
    assert 0.5 < history.train_loss[1] < history.train_loss[0] < 0.9


def test_step_diagrams_leave_the_model_untouched(digits, tmp_path):
    model = nn.SoftmaxRegression(64, 10, seed=2)
    model.b.data[...] = np.arange(10) / 100           # not all zeros, so the copy is visible
    W, b = model.W.data.copy(), model.b.data.copy()
    W_array, b_array = model.W.data, model.b.data
    files = write_step_diagrams(model, digits.X_train[:4], digits.y_train[:4], tmp_path)
    assert sorted(files) == ["backprop.html", "graph.gv", "graph.svg"]
    assert all(path.is_file() for path in files.values())
    # same arrays, same values, no gradient, still leaves
    assert model.W.data is W_array and model.b.data is b_array
    np.testing.assert_array_equal(model.W.data, W)
    np.testing.assert_array_equal(model.b.data, b)
    assert model.W.grad is None and model.b.grad is None and model.W.op is None
    # the diagram shows the model's own starting values, and ∂L/∂b computed from them
    o = digits.X_train[:4] @ W + b
    probs = np.exp(o - o.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    grad_b = ((probs - np.eye(10)[digits.y_train[:4]]) / 4).sum(axis=0)
    graph_source = (tmp_path / "graph.gv").read_text(encoding="utf-8")
    assert "(4, 64)" in graph_source and "(64, 10)" in graph_source
    assert "(10,)<br" in graph_source and "min 0, max 0.09<br" in graph_source     # b
    assert f"min {grad_b.min():.4g}, max {grad_b.max():.4g}" in graph_source  # ∂L/∂b


# ---- the command ----
# ---- the command ----

def check_png(path: Path) -> np.ndarray:
    assert path.read_bytes()[:8] == PNG_SIGNATURE, f"{path.name} is not a PNG"
    image = imread(path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    assert image[..., :3].std() > 0.05, f"{path.name} is blank"
    return image


def test_command_with_defaults_end_to_end(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--out", str(out)]) == 0   # its speed: README, measured by the command
    printed = capsys.readouterr().out
    assert "epoch  60/60" in printed and "final test accuracy" in printed
    assert str(out.resolve()) in printed
    for name in ALL_FILES:
        assert (out / name).is_file() and name in printed, name

    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["settings"] == {"data": "digits", "data_dir": None, "model": "softmax",
                                   "hidden": None, "epochs": 60, "lr": 1.0, "batch_size": 32,
                                   "seed": 0, "weight_decay": 0.0, "dropout": None}
    assert metrics["data"] == {"train_size": 1438, "test_size": 359, "num_features": 64,
                               "num_classes": 10}
    for key in ("train_loss", "train_accuracy", "test_accuracy", "seconds_per_epoch"):
        assert len(metrics[key]) == 60 and all(np.isfinite(metrics[key])), key
    assert all(0 <= a <= 1 for a in metrics["train_accuracy"] + metrics["test_accuracy"])
    assert all(s > 0 for s in metrics["seconds_per_epoch"])
    assert metrics["final_test_accuracy"] == metrics["test_accuracy"][-1] >= 0.95
    assert metrics["train_loss"][-1] < metrics["train_loss"][0]
    assert metrics["training_seconds"] == pytest.approx(sum(metrics["seconds_per_epoch"]))

    for name in ("curves.png", "weights.png", "confusion.png"):
        check_png(out / name)

    svg = (out / "graph.svg").read_text(encoding="utf-8")
    assert "<svg" in svg and "</svg>" in svg
    # one example per class; X, W and ∂L/∂W as images of 8 × 8
    for text in ("matmul", "cross_entropy", "∂L/∂W", "(10, 64)", "(64, 10)",
                 "10 images of 8×8 (rows)", "10 images of 8×8 (columns)"):
        assert text in svg, text
    assert "digraph" in (out / "graph.gv").read_text(encoding="utf-8")
    page = (out / "backprop.html").read_text(encoding="utf-8")
    assert page.lstrip().lower().startswith("<!doctype html>")
    assert page.count('<section class="panel"') == 3  # cross_entropy, add, matmul
    assert page.count("<svg") == 3 and "∂L/∂W" in page  # a diagram frame a step
    # the matmul step: the engine's ∂L/∂W next to Xᵀ(ŷ − y)/n, both as 10 images, and they agree
    assert "engine ∂L/∂W" in page and "Xᵀ(ŷ − y)/n" in page
    assert len(re.findall(r'data-kind="columns" [^>]*data-rows="64" data-cols="10"', page)) >= 3
    difference = float(re.search(r"max \|difference\| = ([-+.e\d]+)", page).group(1))
    assert difference < 1e-6


def test_command_on_a_small_mnist_folder(tmp_path, capsys):
    write_tiny_mnist(tmp_path / "mnist")
    out = tmp_path / "out"
    code = main(["train", "--data", "mnist", "--data-dir", str(tmp_path / "mnist"),
                 "--epochs", "3", "--lr", "0.5", "--batch-size", "16", "--seed", "4",
                 "--out", str(out)])
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["settings"]["data"] == "mnist" and metrics["settings"]["batch_size"] == 16
    assert metrics["data"]["num_features"] == 784 and metrics["data"]["test_size"] == 20
    assert metrics["final_test_accuracy"] == 1.0  # one bright row per class: easy
    check_png(out / "weights.png")
    svg = (out / "graph.svg").read_text(encoding="utf-8")
    assert "(10, 784)" in svg and "10 images of 28×28 (columns)" in svg


@pytest.mark.parametrize("option, message", [
    (["--epochs", "0"], "argument --epochs: must be at least 1, got 0"),
    (["--epochs", "two"], "argument --epochs: must be a whole number, got 'two'"),
    (["--lr", "-1"], "argument --lr: must be a positive finite number, got -1"),
    (["--lr", "nan"], "argument --lr: must be a positive finite number, got nan"),
    (["--batch-size", "0"], "argument --batch-size: must be at least 1, got 0"),
    (["--seed", "-3"], "argument --seed: must be 0 or more, got -3"),
    (["--data", "cifar"], "argument --data: invalid choice: 'cifar'"),
])
def test_bad_options_exit_2_with_a_message(option, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--out", str(tmp_path), *option])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "metrics.json").exists()


@pytest.mark.parametrize("options, message", [
    (["--data", "fashion-mnist", "--data-dir", "/nonexistent/fm"],
     "/nonexistent/fm: no such folder for Fashion-MNIST. On Debian or Ubuntu: "
     "`sudo apt-get install dataset-fashion-mnist`"),
    (["--data", "mnist"], "--data mnist needs --data-dir DIR"),
    (["--data", "digits", "--data-dir", "/tmp"], "--data-dir is not used with --data digits"),
])
def test_bad_data_exits_1_with_a_message(options, message, capsys, tmp_path):
    assert main(["train", "--out", str(tmp_path / "out"), *options]) == 1
    err = capsys.readouterr().err
    assert err.startswith("tinygrad-sm train: error: ") and message in err
    assert not (tmp_path / "out").exists()


def test_broken_idx_file_exits_1_naming_it(tmp_path, capsys):
    write_tiny_mnist(tmp_path)
    cut = tmp_path / "train-images-idx3-ubyte.gz"
    cut.write_bytes(gzip.compress(gzip.decompress(cut.read_bytes())[:-100]))
    assert main(["train", "--data", "mnist", "--data-dir", str(tmp_path), "--out",
                 str(tmp_path / "out")]) == 1
    assert f"{cut}: truncated" in capsys.readouterr().err


def test_out_is_a_file_exits_1(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["train", "--epochs", "1", "--out", str(blocker)]) == 1
    assert f"cannot write to the output folder {blocker}" in capsys.readouterr().err


def test_python_dash_m_works_the_same(tmp_path):
    out = tmp_path / "m"
    done = subprocess.run([sys.executable, "-m", "tinygrad_sm", "train", "--epochs", "2",
                           "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "epoch   2/2" in done.stdout and "final test accuracy" in done.stdout
    assert all((out / name).is_file() for name in ALL_FILES)
    assert json.loads((out / "metrics.json").read_text())["settings"]["epochs"] == 2
    bad = subprocess.run([sys.executable, "-m", "tinygrad_sm", "train", "--lr", "-1"],
                         capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert bad.returncode == 2 and "--lr" in bad.stderr and "Traceback" not in bad.stderr


def test_command_when_a_class_is_missing_from_the_data(tmp_path):
    """Labels 0..8 only: the model still has the data set's 10 classes, figures still work."""
    write_tiny_mnist(tmp_path / "mnist", n_train=9, n_test=9)
    out = tmp_path / "out"
    assert main(["train", "--data", "mnist", "--data-dir", str(tmp_path / "mnist"),
                 "--epochs", "1", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["data"]["num_classes"] == 10
    check_png(out / "confusion.png")


@pytest.mark.parametrize("lang, words", [("en", "one step at the initial weights (before training)"),
                                         ("zh", "初始权重处（训练之前）的一步")])
def test_step_diagrams_say_they_show_the_initial_weights(digits, tmp_path, lang, words):
    model = nn.SoftmaxRegression(64, 10, seed=0)
    files = write_step_diagrams(model, digits.X_train[:4], digits.y_train[:4], tmp_path, lang=lang)
    assert words in files["graph.gv"].read_text(encoding="utf-8")
    assert words in files["backprop.html"].read_text(encoding="utf-8")
