// Predict mode of the backprop stepper (after stepper.js). Each .tg-stepper.tg-predict carries
// its questions as JSON (script.tg-predict-data): per step, per input that gets a gradient, the
// expected answer, the tolerance and the known wrong answers in the order they are tried. The
// answer is hidden (panel parts .tg-answer, the diagram copy's nodes and edge labels) until the
// learner checks an answer, picks a rule or reveals. Nothing is global: steppers are independent.
(function () {
  const fill = (template, fields) =>
    template.replace(/\{(\w+)\}/g, (m, name) => (name in fields ? fields[name] : m));
  const flat = (v) => (Array.isArray(v) ? v.flat(Infinity) : [v]);
  const shapeOf = (v) => (Array.isArray(v) ? [v.length, ...shapeOf(v[0])] : []);
  const number = (x) => String(Number(x.toPrecision(4))).replace("-", "−");

  // the same rule as misconceptions.close: same shape, every entry within rel·max|target| + abs
  function close(answer, target, tolerance) {
    if (shapeOf(answer).join() !== shapeOf(target).join()) return false;
    const a = flat(answer), t = flat(target);
    const scale = t.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
    return a.every((x, i) => Math.abs(x - t[i]) <= tolerance[0] * scale + tolerance[1]);
  }
  // "right", else the first matching variant's key, else "shape" or "other"
  function diagnose(q, answer) {
    if (close(answer, q.expected, q.tolerance)) return "correct";
    const found = q.variants.find((v) => close(answer, v.value, q.tolerance));
    if (found) return found.key;
    return shapeOf(answer).join() !== shapeOf(q.expected).join() ? "shape" : "other";
  }
  function parse(text) {  // "−0.25", "1e-3", "1/3"
    const clean = text.trim().replace(/−/g, "-");
    const parts = clean.split("/");
    if (!clean || parts.length > 2 || parts.some((p) => !/^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(p.trim()))) return NaN;
    return parts.length === 2 ? Number(parts[0]) / Number(parts[1]) : Number(parts[0]);
  }

  function init(root) {
    const script = root.querySelector("script.tg-predict-data");
    if (root.dataset.predictReady || !script) return;
    root.dataset.predictReady = "1";
    const data = JSON.parse(script.textContent);
    const text = data.text;
    const panels = [...root.querySelectorAll(".panel")];
    const frames = [...root.querySelectorAll(".diagram > .frame")];
    const score = { right: 0, asked: 0, revealed: 0, met: {} };
    let open = data.steps.reduce((n, qs) => n + qs.length, 0);
    const total = open;
    const scoreOut = root.querySelector('[data-role="score"]');

    // the answer's places: the panel's parts, the diagram copy's node and edge labels of that step
    const places = (k, q) => {
      const panel = panels[k], frame = frames[k];
      const inPanel = [...panel.querySelectorAll(".tg-answer")].filter((e) => e.dataset.q === q.name);
      const inFrame = frame ? q.hide.map((id) => frame.querySelector(
        `[id="${frame.dataset.prefix}${id}"], [id="${frame.dataset.prefix}a_${id}"]`)).filter(Boolean) : [];
      return [...inPanel, ...inFrame];
    };
    const hide = (k, q, hidden) => places(k, q).forEach((e) => e.classList.toggle("tg-hidden", hidden));

    function showScore() {
      let line = fill(text.score, score);
      if (!open) {
        const met = Object.entries(score.met).sort((a, b) => b[1] - a[1])
          .map(([key, count]) => `${data.names[key]} ×${count}`);
        line += " " + fill(text["page.done"], { count: total }) + " "
              + (met.length ? fill(text.met, { names: met.join(", ") }) : text.met_none);
      }
      scoreOut.textContent = line;
      root.dataset.score = `${score.right}/${score.asked}/${score.revealed}`;
    }

    function settle(k, q, form, verdict, hintKey, outcome) {  // one answer a question: then the answer
      form.querySelector('[data-role="verdict"]').textContent = verdict;
      form.querySelector('[data-role="hint"]').textContent = hintKey ? data.hints[hintKey] || "" : "";
      form.dataset.outcome = outcome;
      form.querySelectorAll("input, button").forEach((e) => { e.disabled = true; });
      const right = form.querySelector(`[data-act="rule"][data-i="${q.rules.findIndex((r) => r.correct)}"]`);
      if (right) right.classList.add("right");  // the right rule, whichever way the learner answered
      hide(k, q, false);
      open -= 1;
      showScore();
    }

    function typed(form, q) {  // the grid's numbers in the gradient's shape, or the bad text
      const grid = form.querySelector(".tg-grid"), ndim = Number(grid.dataset.ndim);
      const rows = [...grid.querySelectorAll("tr")].map((tr) => [...tr.querySelectorAll("input")]);
      const bad = rows.flat().find((input) => Number.isNaN(parse(input.value)));
      if (bad) return { bad: bad.value || "∅" };
      const values = rows.map((r) => r.map((input) => parse(input.value)));
      return { value: ndim === 2 ? values : ndim === 1 ? values[0] : values[0][0] };
    }

    function largest(q, answer) {  // where the answer is furthest off: {where, got, want}
      const a = flat(answer), t = flat(q.expected), shape = shapeOf(q.expected);
      let at = 0;
      a.forEach((x, i) => { if (Math.abs(x - t[i]) > Math.abs(a[at] - t[at])) at = i; });
      const where = q.entry ? `[${q.entry.join(", ")}]`
        : shape.length === 2 ? `[${Math.floor(at / shape[1])}, ${at % shape[1]}]`
        : shape.length === 1 ? `[${at}]` : q.where;
      return { where, got: number(a[at]), want: number(t[at]) };
    }

    data.steps.forEach((questions, k) => {
      questions.forEach((q) => {
        const form = [...panels[k].querySelectorAll(".tg-question")].find((f) => f.dataset.q === q.name);
        if (!form) return;
        hide(k, q, true);
        form.addEventListener("click", (e) => {
          const act = e.target.dataset && e.target.dataset.act;
          if (!act || form.dataset.outcome) return;
          if (act === "reveal") {
            score.revealed += 1;
            settle(k, q, form, fill(text["page.revealed"], { grad: q.grad }), null, "revealed");
          } else if (act === "rule") {
            const rule = q.rules[Number(e.target.dataset.i)];
            score.asked += 1;
            e.target.classList.add("picked");
            if (rule.correct) {
              score.right += 1;
              settle(k, q, form, fill(text["page.rule_right"], { rule: rule.text }), null, "correct");
            } else {
              score.met[rule.key] = (score.met[rule.key] || 0) + 1;
              settle(k, q, form, fill(text["page.rule_wrong"], { rule: rule.text, name: data.names[rule.key] }),
                     rule.key, rule.key);
            }
          } else if (act === "check") {
            const answer = typed(form, q);
            if (answer.bad !== undefined) {
              form.querySelector('[data-role="verdict"]').textContent = fill(text["page.not_numbers"], { text: answer.bad });
              return;
            }
            const key = diagnose(q, answer.value);
            score.asked += 1;
            if (key === "correct") score.right += 1;
            else score.met[key] = (score.met[key] || 0) + 1;
            const words = fill(q.messages[key] || q.messages.other,
                               { ...largest(q, answer.value), got: key === "shape" ? shapeOf(answer.value).join(" × ") : largest(q, answer.value).got });
            settle(k, q, form, words, key === "correct" ? null : key, key);
          }
        });
        form.addEventListener("keydown", (e) => {  // Enter checks; arrows stay in the box
          if (e.target.tagName === "INPUT") {
            e.stopPropagation();
            if (e.key === "Enter") form.querySelector('[data-act="check"]').click();
          }
        });
      });
    });
    showScore();
  }
  document.querySelectorAll(".tg-stepper.tg-predict").forEach(init);
})();
