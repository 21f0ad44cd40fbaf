"""Regenerate the README's pictures in docs/ from the demos.

    python docs/make_pictures.py [--out docs]

- train_step_digits.svg: one training step of softmax regression on the bundled digits, as
  `tinygrad-sm train` draws it (one example per class; X, W and ∂L/∂W as 8×8 images);
- stepper.png: the HTML stepper of that backward pass at the matmul step (∂L/∂W next to
  Xᵀ(ŷ − y)/n), screenshotted with headless Chromium at 1280×800 (skipped, with a message,
  when Chromium is not installed);
- grad_W_graph.svg: the toy softmax-regression graph with the path L → o → XW → W highlighted
  (demos/d5_gradient_of_W.py);
- stepper_zh.png: the HTML stepper of that toy graph in Chinese (`save_html(..., lang="zh")`) at
  the matmul step, with the zh extra's CJK font added to Chromium's fontconfig when installed;
- notebook.png: the inline stepper of demos/backprop_tour.ipynb at the matmul step, executed with
  nbclient, exported with nbconvert and screenshotted with headless Chromium (skipped, with a
  message, without Chromium or the notebook tools: pip install -e ".[test]");
- predict.png: the same toy graph's stepper in predict mode (`save_html(..., predict=True)`) at
  step 1, after a learner typed ŷ − y without the /n: the verdict names the misconception, its
  hint, and the answer shown;
- ce_vs_se.png: cross-entropy vs squared error (demos/d4_cross_entropy_vs_squared_error.py).
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "demos"))

import d4_cross_entropy_vs_squared_error  # noqa: E402
import d5_gradient_of_W  # noqa: E402

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars", "--window-size=1280,800"]  # the first screen of a laptop
STEPPER_STEP = 3  # the matmul step, ∂L/∂W = Xᵀ · ∂L/∂XW (#step=1 is the first step)


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


def cjk_fontconfig(folder: Path) -> dict[str, str]:
    """An environment whose fontconfig adds the zh extra's Noto Sans CJK to the system fonts
    (Chromium finds fonts through fontconfig); the plain environment without the zh extra."""
    try:
        from importlib import resources
        font = Path(str(resources.files("manimgx_fonts_cjk").joinpath("NotoSansCJK-VF.otf.ttc")))
    except ModuleNotFoundError:
        return dict(os.environ)
    config = folder / "fonts.conf"
    config.write_text('<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">'
                      '<fontconfig><include ignore_missing="yes">/etc/fonts/fonts.conf</include>'
                      f"<dir>{font.parent}</dir><cachedir>{folder / 'fontcache'}</cachedir>"
                      "</fontconfig>", encoding="utf-8")
    return dict(os.environ, FONTCONFIG_FILE=str(config))


def screenshot(html: Path, png: Path, chromium: str, step: int = STEPPER_STEP,
               env: dict[str, str] | None = None, window: str | None = None) -> Path:
    """A screenshot (1280×800 unless `window` says) of the HTML stepper at `#step=k`, by
    headless Chromium."""
    png.unlink(missing_ok=True)  # so that png.exists() below proves Chromium wrote a new one
    with tempfile.TemporaryDirectory() as profile:
        size = [f"--window-size={window}"] if window else CHROMIUM_FLAGS[-1:]
        command = [chromium, *CHROMIUM_FLAGS[:-1], *size, f"--user-data-dir={profile}",
                   f"--screenshot={png}", f"{html.resolve().as_uri()}#step={step}"]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
    if done.returncode != 0 or not png.exists():
        raise RuntimeError(f"make_pictures: {chromium} could not screenshot {html} "
                           f"(exit code {done.returncode}): {done.stderr.strip()[-500:]}")
    return png


def train_step(out: Path) -> None:
    """graph.svg and backprop.html exactly as `tinygrad-sm train` (digits, seed 0) writes them."""
    from tinygrad_sm import nn
    from tinygrad_sm.data import load_digits
    from tinygrad_sm.train import DATASETS, one_per_class, write_step_diagrams

    split = load_digits()
    batch = one_per_class(split.y_train, 10)
    model = nn.SoftmaxRegression(split.num_features, 10, seed=0)
    write_step_diagrams(model, split.X_train[batch], split.y_train[batch], out,
                        DATASETS["digits"].image_shape)


# shown in the screenshot only: the stepper moved to the matmul step, the cells above it hidden
NOTEBOOK_SHOT = """<script>
document.querySelectorAll('.tg-stepper[data-ready] [data-role="next"]').forEach((b) => { b.click(); b.click(); });
for (const cell of document.querySelectorAll(".jp-Cell")) {
  if (cell.querySelector("#Step-through-it")) break;
  cell.style.display = "none";
}
</script>"""


def notebook_picture(scratch: Path, png: Path, chromium: str) -> Path:
    """Run the tour notebook, export it to HTML (nbconvert) and screenshot its inline stepper."""
    import nbformat
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    nb = nbformat.read(ROOT / "demos" / "backprop_tour.ipynb", as_version=4)
    NotebookClient(nb, kernel_name="python3", timeout=300,
                   resources={"metadata": {"path": str(scratch)}}).execute()
    page, _ = HTMLExporter().from_notebook_node(nb)
    html = scratch / "backprop_tour.html"
    html.write_text(page.replace("</body>", NOTEBOOK_SHOT + "</body>"), encoding="utf-8")
    png.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        # the export asks a CDN for require.js/MathJax: give the page time to settle offline
        command = [chromium, *CHROMIUM_FLAGS[:-1], "--window-size=1200,800", "--virtual-time-budget=5000",
                   f"--user-data-dir={profile}", f"--screenshot={png}", html.resolve().as_uri()]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if done.returncode != 0 or not png.exists():
        raise RuntimeError(f"make_pictures: {chromium} could not screenshot {html} "
                           f"(exit code {done.returncode}): {done.stderr.strip()[-500:]}")
    return png


# shown in the screenshot only: the learner types n × the right ∂L/∂o (the /n forgotten), checks
PREDICT_SHOT = """<script>
window.addEventListener("load", () => {
  const root = document.querySelector(".tg-stepper.tg-predict");
  const data = JSON.parse(root.querySelector("script.tg-predict-data").textContent);
  const q = data.steps[0][0], form = root.querySelector('.panel[data-step="1"] .tg-question');
  const n = q.expected.length;
  [...form.querySelectorAll("input")].forEach((box, i) => {
    box.value = (n * q.expected.flat()[i]).toPrecision(4);
  });
  form.querySelector('[data-act="check"]').click();
});
</script>"""


def predict_picture(trace, scratch: Path, png: Path, chromium: str) -> Path:
    """The predict page of trace at step 1, after the missing-1/n answer."""
    html = Path(trace.save_html(str(scratch / "predict.html"), predict=True))
    html.write_text(html.read_text(encoding="utf-8").replace("</body>", PREDICT_SHOT + "</body>"),
                    encoding="utf-8")
    return screenshot(html, png, chromium, step=1)


def make_pictures(out_dir: Path, quick: bool = False) -> list[Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        digits = scratch / "digits"
        digits.mkdir()
        train_step(digits)
        written.append(Path(shutil.copy(digits / "graph.svg", out_dir / "train_step_digits.svg")))
        results = d5_gradient_of_W.run(scratch / "d5_gradient_of_W", quick=quick)
        written.append(Path(shutil.copy(scratch / "d5_gradient_of_W" / "grad_W_graph.svg",
                                        out_dir / "grad_W_graph.svg")))
        chromium = find_chromium()
        if chromium is None:
            print("make_pictures: Chromium not found; stepper.png not regenerated "
                  "(apt-get install chromium)", file=sys.stderr)
        else:
            written.append(screenshot(digits / "backprop.html",
                                      out_dir / "stepper.png", chromium))
            chinese = Path(results["trace"].save_html(str(scratch / "backprop_zh.html"), lang="zh"))
            written.append(screenshot(chinese, out_dir / "stepper_zh.png", chromium,
                                      env=cjk_fontconfig(scratch), window="1200,760"))
            written.append(predict_picture(results["trace"], scratch, out_dir / "predict.png", chromium))
            try:
                import nbclient, nbconvert  # noqa: F401  (the test extra)
            except ImportError:
                print("make_pictures: nbclient/nbconvert not installed; notebook.png not regenerated "
                      '(pip install -e ".[test]")', file=sys.stderr)
            else:
                written.append(notebook_picture(scratch, out_dir / "notebook.png", chromium))
        d4_cross_entropy_vs_squared_error.run(scratch / "ce", quick=quick)
        written.append(Path(shutil.copy(scratch / "ce" / "ce_vs_se.png", out_dir / "ce_vs_se.png")))
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python docs/make_pictures.py", description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=str(ROOT / "docs"), help="folder for the pictures (default: docs/)")
    args = parser.parse_args(argv)
    for path in make_pictures(Path(args.out)):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
