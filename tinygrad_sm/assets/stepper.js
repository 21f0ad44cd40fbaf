// The backprop stepper. Every stepper on a page is a .tg-stepper element with its own data;
// nothing is global, so several steppers (a notebook's outputs) do not interfere.
(function () {
  function init(root) {
    const frames = root.querySelector("script.tg-frames");
    if (root.dataset.ready || !frames) return;  // done already, or a panel alone (no stepper)
    root.dataset.ready = "1";
    const data = JSON.parse(frames.textContent);
    const prefix = root.dataset.prefix || "";
    const find = (role) => root.querySelector(`[data-role="${role}"]`);
    const panels = root.querySelectorAll(".panel");
    const slider = find("slider"), prev = find("prev"), next = find("next"), where = find("where");
    const byId = (id) => root.querySelector(`[id="${prefix}${id}"], [id="${prefix}a_${id}"]`);
    const last = data.steps - 1;
    const useHash = root.dataset.hash === "1";
    let current = 0;

    function mark(element, state) {
      if (!element) return;
      element.classList.remove("pending", "active", "done", "unknown", "partial", "known");
      element.classList.add(state);
    }

    function show(k) {
      current = Math.max(0, Math.min(last, k));
      panels.forEach((p, i) => { p.hidden = i !== current; });
      for (const [id, step] of Object.entries(data.ops)) {
        mark(byId(id), step === current ? "active" : step < current ? "done" : "pending");
      }
      for (const [id, step] of Object.entries(data.edges)) {
        mark(byId(id), step === current ? "active" : step < current ? "done" : "pending");
      }
      for (const [id, [first, complete]] of Object.entries(data.grads)) {
        const cell = byId(id);
        if (cell) cell.classList.add("grad");
        mark(cell, first > current ? "unknown" : complete > current ? "partial" : "known");
      }
      slider.value = current;
      prev.disabled = current === 0;
      next.disabled = current === last;
      where.textContent = `step ${current} of ${data.steps}: ${data.ops_names[current]}`;
      root.dataset.step = current;
      if (useHash) {
        document.body.dataset.step = current;
        const hash = "#step=" + current;
        if (location.hash !== hash) history.replaceState(null, "", hash);
      }
    }

    function stepFromHash() {
      const match = /step=(\d+)/.exec(location.hash);
      return match ? Number(match[1]) : 0;
    }

    prev.addEventListener("click", () => show(current - 1));
    next.addEventListener("click", () => show(current + 1));
    slider.addEventListener("input", () => show(Number(slider.value)));
    const keys = (e) => {
      if (e.key === "ArrowLeft") { show(current - 1); e.preventDefault(); }
      if (e.key === "ArrowRight") { show(current + 1); e.preventDefault(); }
    };
    if (useHash) {
      document.addEventListener("keydown", keys);
      window.addEventListener("hashchange", () => show(stepFromHash()));
      show(stepFromHash());
    } else {
      root.addEventListener("keydown", keys);  // only while this stepper has the focus
      show(0);
    }
  }
  document.querySelectorAll(".tg-stepper").forEach(init);
})();
