"""Predict mode in the HTML stepper and the notebook (issue 19, item 2), driven in headless Chromium.

The expected gradients and the wrong answers typed here are computed with numpy from the
model's own weights, not read from the page's data: ∂L/∂o = (ŷ − onehot(y))/n, ∂L/∂b = Σ_rows,
∂L/∂W = Xᵀ ∂L/∂o. Hints are read from the catalogue files.
"""
from __future__ import annotations

import html
import json
import re
from pathlib import Path

import numpy as np
import pytest

import tinygrad_sm.nn as nn
from browser import chromium, needs_chromium
from tinygrad_sm import Tensor

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = {lang: json.loads((ROOT / "tinygrad_sm" / "locales" / f"{lang}.json").read_text(encoding="utf-8"))
             for lang in ("en", "zh")}
X_VALUE = np.array([[0.1, -0.1, 0.6], [0.1, -0.5, 0.4]])
Y_VALUE = np.array([0, 2])


def softmax_regression(X: np.ndarray, y: np.ndarray, seed: int = 0):
    model = nn.SoftmaxRegression(X.shape[1], 3, seed=seed)
    L = nn.cross_entropy(model(Tensor(X, name="X")), y)
    return L.backward(trace=True), model


def by_hand(X: np.ndarray, y: np.ndarray, model) -> dict[str, np.ndarray]:
    """Every gradient of L = mean cross-entropy(XW + b, y), in float64 numpy."""
    W, b = np.asarray(model.W.numpy(), np.float64), np.asarray(model.b.numpy(), np.float64)
    o = X @ W + b
    e = np.exp(o - o.max(axis=1, keepdims=True))
    y_hat = e / e.sum(axis=1, keepdims=True)
    one_hot = np.eye(o.shape[1])[y]
    n = len(X)
    d_o = (y_hat - one_hot) / n
    return {"o": d_o, "b": d_o.sum(axis=0), "W": X.T @ d_o, "y_hat_minus_y": y_hat - one_hot}


def typed(a: np.ndarray) -> list:
    """As a learner types them: 4 significant digits."""
    return np.vectorize(lambda x: f"{x:.4g}")(np.atleast_1d(a)).tolist()


PRELUDE = """<script>
window.addEventListener("load", () => {
  const all = [...document.querySelectorAll(".tg-stepper")];
  const R = all[0];
  const form = (root, step, name) => [...root.querySelectorAll(`.panel[data-step="${step}"] .tg-question`)]
    .find((f) => f.dataset.q === name);
  const state = (root, step, name) => {
    const f = form(root, step, name);
    const frame = root.querySelector(`.diagram > .frame[data-frame="${step}"]`);
    const gradGroups = [...frame.querySelectorAll('[id$="_grad"]')].filter((g) => g.tagName === "g");
    return {verdict: f.querySelector('[data-role="verdict"]').textContent,
            hint: f.querySelector('[data-role="hint"]').textContent,
            score: root.dataset.score, scoreText: root.querySelector('[data-role="score"]').textContent,
            text: root.innerText,
            hiddenGrads: gradGroups.filter((g) => getComputedStyle(g).visibility === "hidden").map((g) => g.id),
            hits: gradGroups.filter((g) => getComputedStyle(g).visibility === "hidden").map((g) => {
              const t = g.querySelector("text"); if (!t) return null;
              const r = t.getBoundingClientRect();
              return g.contains(document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2));
            })};
  };
  const type = (root, step, name, values) => {
    const f = form(root, step, name);
    const inputs = [...f.querySelectorAll("input")];
    values.flat(Infinity).forEach((v, i) => { inputs[i].value = v; });
    f.querySelector('[data-act="check"]').click();
    return state(root, step, name);
  };
  const click = (root, step, name, act, i) => {
    const f = form(root, step, name);
    const b = act === "rule" ? f.querySelector(`[data-act="rule"][data-i="${i}"]`) : f.querySelector(`[data-act="${act}"]`);
    b.click();
    return state(root, step, name);
  };
  const rules = (root, step, name) => [...form(root, step, name).querySelectorAll('[data-act="rule"]')].map((b) => b.textContent);
  const next = (root) => root.querySelector('[data-role="next"]').click();
  const out = {};
  SCENARIO
  document.body.dataset.result = JSON.stringify(out);
});
</script></body>"""


def drive(page_text: str, scenario: str, tmp_path: Path, name: str = "probe.html") -> dict:
    probe = tmp_path / name
    probe.write_text(page_text.replace("</body>", PRELUDE.replace("SCENARIO", scenario), 1), encoding="utf-8")
    done = chromium("--window-size=1280,943", "--dump-dom", probe.as_uri(), tmp_path=tmp_path)
    found = re.search(r'data-result="([^"]*)"', done.stdout.decode("utf-8"))
    assert found, done.stderr.decode()[-2000:]
    return json.loads(html.unescape(found.group(1)))


def numbers_shown(text: str, values: np.ndarray) -> int:
    from tinygrad_sm.formatting import format_number
    return sum(format_number(float(v)) in text for v in np.ravel(values))


@needs_chromium
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_step_1_hides_the_gradient_until_a_right_answer_shows_it(lang, tmp_path):
    trace, model = softmax_regression(X_VALUE, Y_VALUE)
    grads = by_hand(X_VALUE, Y_VALUE, model)
    page = Path(trace.save_html(tmp_path / "predict.html", predict=True, lang=lang)).read_text(encoding="utf-8")
    result = drive(page, f"""out.before = state(R, 1, "o");
      out.after = type(R, 1, "o", {json.dumps(typed(grads["o"]))});""", tmp_path)
    before, after = result["before"], result["after"]
    # the diagram copy of step 1: ∂L/∂o's node is hidden, its pixels not hit; the panel has no number of it
    assert before["hiddenGrads"] and False in before["hits"] and True not in before["hits"]
    assert numbers_shown(before["text"], grads["o"]) == 0
    correct = CATALOGUE[lang]["check.correct"].split("{")[0]
    assert after["verdict"].startswith(correct) and after["hint"] == ""
    assert after["hiddenGrads"] == [] and numbers_shown(after["text"], grads["o"]) >= 4
    assert after["score"] == "1/1/0"


@needs_chromium
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_y_hat_minus_y_without_1_over_n_gets_its_hint(lang, tmp_path):
    trace, model = softmax_regression(X_VALUE, Y_VALUE)
    wrong = by_hand(X_VALUE, Y_VALUE, model)["y_hat_minus_y"]     # the /n forgotten
    page = Path(trace.save_html(tmp_path / "p.html", predict=True, lang=lang)).read_text(encoding="utf-8")
    result = drive(page, f'out.wrong = type(R, 1, "o", {json.dumps(typed(wrong))});', tmp_path)
    assert result["wrong"]["hint"] == CATALOGUE[lang]["check.hint.missing_1_over_n"]
    assert "2" in result["wrong"]["verdict"] and result["wrong"]["score"] == "0/1/0"
    assert result["wrong"]["hiddenGrads"] == []                    # the answer is shown after it


@needs_chromium
def test_the_score_counts_right_wrong_and_revealed(tmp_path):
    trace, model = softmax_regression(X_VALUE, Y_VALUE)
    grads = by_hand(X_VALUE, Y_VALUE, model)
    page = Path(trace.save_html(tmp_path / "p.html", predict=True)).read_text(encoding="utf-8")
    result = drive(page, f"""out.one = type(R, 1, "o", {json.dumps(typed(grads["o"]))});
      next(R); out.two = type(R, 2, "b", {json.dumps(typed(-grads["b"]))});
      out.xw = type(R, 2, "XW", {json.dumps(typed(grads["o"]))});
      next(R); out.three = click(R, 3, "W", "reveal");""", tmp_path)
    assert result["one"]["score"] == "1/1/0"
    assert result["two"]["score"] == "1/2/0" and result["two"]["hint"] == CATALOGUE["en"]["check.hint.sign"]
    assert result["xw"]["score"] == "2/3/0"
    end = result["three"]
    assert end["score"] == "2/3/1"
    assert "2 of 3" in end["scoreText"] and "sign ×1" in end["scoreText"]   # the end: score and misconceptions
    assert numbers_shown(end["text"], grads["W"]) >= 6                       # revealed: ∂L/∂W shown


@needs_chromium
def test_picking_the_rule_answers_the_question(tmp_path):
    trace, model = softmax_regression(X_VALUE, Y_VALUE)
    page = Path(trace.save_html(tmp_path / "p.html", predict=True)).read_text(encoding="utf-8")
    right_o = trace.view(0).edges[0].rule                  # the rule the engine's step shows
    right_b = next(e.rule for e in trace.view(1).edges if e.name == "b")
    result = drive(page, f"""out.rules = rules(R, 1, "o");
      out.right = click(R, 1, "o", "rule", out.rules.indexOf({json.dumps(right_o)}));
      next(R); out.rulesB = rules(R, 2, "b");
      out.wrong = click(R, 2, "b", "rule", out.rulesB.findIndex((r) => r !== {json.dumps(right_b)}));""", tmp_path)
    assert len(result["rules"]) == 4 and right_o in result["rules"]
    assert len(result["rulesB"]) == 4 and right_b in result["rulesB"]
    assert result["right"]["verdict"].startswith("Correct") and result["right"]["score"] == "1/1/0"
    assert result["wrong"]["verdict"].startswith("Not that rule") and result["wrong"]["hint"]
    assert result["wrong"]["score"] == "1/2/0"


@needs_chromium
def test_a_big_gradient_is_asked_one_entry(tmp_path):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(5, 6))
    y = np.array([0, 1, 2, 0, 1])
    trace, model = softmax_regression(X, y)
    dW = by_hand(X, y, model)["W"]                          # 6 × 3: more than 4 rows
    page = Path(trace.save_html(tmp_path / "p.html", predict=True)).read_text(encoding="utf-8")
    result = drive(page, """next(R); next(R);
      const f = form(R, 3, "W"); out.ask = f.querySelector(".ask").textContent;
      out.boxes = f.querySelectorAll("input").length;""", tmp_path)
    assert result["boxes"] == 1
    row, col = map(int, re.search(r"\[(\d+), (\d+)\]", result["ask"]).groups())
    right = drive(page, f'next(R); next(R); out.r = type(R, 3, "W", [{json.dumps(f"{dW[row, col]:.4g}")}]);', tmp_path, "b.html")
    assert right["r"]["verdict"].startswith("Correct")
    wrong = drive(page, f'next(R); next(R); out.r = type(R, 3, "W", [{json.dumps(f"{5 * dW[row, col]:.4g}")}]);', tmp_path, "c.html")
    assert wrong["r"]["hint"] == CATALOGUE["en"]["check.hint.missing_1_over_n"]


def test_the_page_without_predict_has_no_predict_parts(tmp_path):
    trace, _ = softmax_regression(X_VALUE, Y_VALUE)
    plain = Path(trace.save_html(tmp_path / "a.html")).read_text(encoding="utf-8")
    predict = Path(trace.save_html(tmp_path / "b.html", predict=True)).read_text(encoding="utf-8")
    for part in ("tg-predict", "tg-answer", "tg-question", "predictReady"):
        assert part not in plain and part in predict
    assert "<\\/script" not in predict and predict.count("</script>") == plain.count("</script>") + 2


@needs_chromium
def test_two_predict_steppers_in_one_notebook_stay_independent(tmp_path):
    trace, model = softmax_regression(X_VALUE, Y_VALUE)
    grads = by_hand(X_VALUE, Y_VALUE, model)
    outputs = [trace.predict()._repr_html_() for _ in range(2)]
    page = ("<!DOCTYPE html><html><head><meta charset='utf-8'></head><body>"
            + "".join(f'<div class="output">{o}</div>' for o in outputs) + "</body></html>")
    result = drive(page, f"""const S = all[1];
      out.count = all.length;
      out.first = type(R, 1, "o", {json.dumps(typed(grads["o"]))});
      out.second = state(S, 1, "o");
      next(S); out.secondStep = S.dataset.step; out.firstStep = R.dataset.step;""", tmp_path)
    assert result["count"] == 2
    assert result["first"]["score"] == "1/1/0" and result["first"]["hiddenGrads"] == []
    assert result["second"]["score"] == "0/0/0" and result["second"]["hiddenGrads"]
    assert result["second"]["verdict"] == ""
    assert (result["firstStep"], result["secondStep"]) == ("1", "2")


def predict_words(page_text: str) -> str:
    """The words the predict script may show: its embedded data's strings."""
    data = json.loads(re.search(r'class="tg-predict-data">(.*?)</script>', page_text, re.S).group(1))
    strings: list[str] = []

    def walk(x):
        if isinstance(x, str):
            strings.append(x)
        elif isinstance(x, dict):
            [walk(v) for k, v in x.items() if k not in ("rules", "key", "hide")]  # formulas, ids
        elif isinstance(x, list):
            [walk(v) for v in x]
    walk(data)
    return " ".join(strings)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_chinese_predict_page_has_no_english_words(lang, tmp_path):
    from test_zh import english_words, graph_words, visible_text
    trace, _ = softmax_regression(X_VALUE, Y_VALUE)
    text = Path(trace.save_html(tmp_path / "p.html", predict=True, lang=lang)).read_text(encoding="utf-8")
    # {fields} the script fills in are not words; the terminal's own how-to is in the data too
    words = re.sub(r"\{\w+\}", " ", visible_text(text) + " " + predict_words(text))
    found = english_words(words, graph_words(trace) | {"None", "out"})  # y[:, None], ∂L/∂out: formulas
    if lang == "zh":
        assert found == set(), found
        assert "检查" in words and "显示答案" in words and "得分" in words
    else:  # the check can fail: the English page is caught
        assert {"Check", "Reveal", "Score"} <= found


@needs_chromium
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_wrong_answer_for_no_listed_reason_shows_the_largest_difference(lang, tmp_path):
    trace, model = softmax_regression(X_VALUE, Y_VALUE)
    d_o = by_hand(X_VALUE, Y_VALUE, model)["o"]
    wrong = d_o.copy()
    wrong[1, 2] += 0.5                                      # one entry far off
    page = Path(trace.save_html(tmp_path / "p.html", predict=True, lang=lang)).read_text(encoding="utf-8")
    result = drive(page, f'out.r = type(R, 1, "o", {json.dumps(typed(wrong))});', tmp_path)
    verdict = result["r"]["verdict"]
    assert "{" not in verdict and "[1, 2]" in verdict
    assert f"{wrong[1, 2]:.4g}".replace("-", "−") in verdict
    assert result["r"]["hint"] == CATALOGUE[lang]["check.hint.other"]
