// The backprop stepper. Every stepper on a page is a .tg-stepper element with its own data;
// nothing is global, so several steppers (a notebook's outputs) do not interfere.
(function () {
  // words in the page's language: a template such as "step {index} of {count}: {op}" filled in
  const fill = (template, fields) =>
    template.replace(/\{(\w+)\}/g, (m, name) => (name in fields ? fields[name] : m));

  // ---- the pictures' readout: (row, column) of the tensor and its value under the pointer ----
  function cellAt(img, e, words) {  // the picture's cell under the pointer, in the tensor's indices
    const d = img.dataset, r = img.getBoundingClientRect();
    const cols = Number(d.cols), rows = Number(d.rows), span = Number(d.w) + Number(d.gap);
    const count = d.kind === "columns" ? cols : rows;
    const perRow = Number(d.perRow) || count;  // images a row: all of them, or a grid of units
    const cellsWide = d.kind === "grid" ? cols : Math.min(count, perRow) * span - Number(d.gap);
    const cell = img.clientWidth / cellsWide;  // CSS px per cell, whatever the zoom
    const x = Math.floor((e.clientX - r.left - img.clientLeft) / cell);
    const y = Math.floor((e.clientY - r.top - img.clientTop) / cell);
    if (x < 0 || y < 0) return null;
    if (d.kind === "grid") return y < rows && x < cols ? { row: y, col: x } : null;
    const w = Number(d.w), h = Number(d.h), spanY = h + Number(d.gap);
    const column = Math.floor(x / span), px = x % span, py = y % spanY;
    if (px >= w || py >= h || column >= perRow) return null;
    const image = Math.floor(y / spanY) * perRow + column, pixel = py * w + px;
    const where = fill(words.pixel || " (pixel {row}, {col} of image {image})", { row: py, col: px, image });
    return d.kind === "columns" ? (image < cols ? { row: pixel, col: image, where } : null)
                                : (image < rows ? { row: image, col: pixel, where } : null);
  }
  function readout(root) {  // every .tg-stepper: a stepper, a step's panel, a tensor
    if (root.dataset.readout) return;
    root.dataset.readout = "1";
    root.querySelectorAll("img.tg-heat").forEach((img) => {
      const out = img.parentElement.querySelector(".tg-readout");
      const words = out.dataset;  // the readout's templates, written by the page in its language
      let values = null;
      img.addEventListener("mousemove", (e) => {
        values = values || JSON.parse(img.dataset.values);
        const at = cellAt(img, e, words);
        if (!at) { out.textContent = words.point || "point at a cell"; return; }
        let value = values[at.row * Number(img.dataset.cols) + at.col], row = at.row, col = at.col;
        if (img.dataset.block) {  // a big tensor: each cell is the mean of a block of it
          const [blockRows, blockCols] = img.dataset.block.split(",").map(Number);
          const [rows, cols] = img.dataset.full.split(",").map(Number);
          const span = (i, size, n) => (size === 1 ? String(i) : `${i * size}–${Math.min((i + 1) * size, n) - 1}`);
          row = span(at.row, blockRows, rows); col = span(at.col, blockCols, cols);
          value = fill(words.mean || "{value} (mean of the block)", { value });
        }
        out.textContent = fill(words.cell || "row {row}, column {col}{where}: {value}",
                               { row, col, where: at.where || "", value });
        out.dataset.row = row; out.dataset.col = col; out.dataset.value = value;
      });
    });
  }

  function init(root) {
    readout(root);
    const script = root.querySelector("script.tg-frames");
    if (root.dataset.ready || !script) return;  // done already, or a panel alone (no stepper)
    root.dataset.ready = "1";
    const data = JSON.parse(script.textContent);
    const find = (role) => root.querySelector(`[data-role="${role}"]`);
    const panels = root.querySelectorAll(".panel");
    const slider = find("slider"), prev = find("prev"), next = find("next"), where = find("where");
    // one diagram per step (the gradients known after it); ids are scoped per frame
    const frames = [...root.querySelectorAll(".diagram > .frame")];
    const frameOf = (k) => frames[Math.min(k, frames.length - 1)];
    const inFrame = (frame, id) => {
      const scope = frame.dataset.prefix;
      return frame.querySelector(`[id="${scope}${id}"], [id="${scope}a_${id}"]`);
    };
    const byId = (id) => inFrame(frameOf(current), id);  // in the frame shown
    const everywhere = (id) => frames.map((frame) => inFrame(frame, id));  // the same element in every frame
    const last = data.steps - 1;  // steps are numbered from 1 on the page; `current` is from 0
    const useHash = root.dataset.hash === "1";
    const text = data.text || {};  // the stepper's words, in the page's language
    let current = 0;
    const stepOp = {};  // step -> its op node's id
    for (const [id, step] of Object.entries(data.ops)) stepOp[step] = id;

    // ---- the diagram's zoom (1 = 100 %: the SVG's own size) and panning ----
    const box = root.querySelector(".diagram");
    const svgs = frames.map((frame) => frame.querySelector("svg"));
    const zoomText = find("zoom");
    const toPx = (length) => {  // Graphviz writes "123pt"
      const value = parseFloat(length);
      return /pt$/.test(length) ? value * 4 / 3 : value;
    };
    const sizes = svgs.map((svg) => ({ w: toPx(svg.getAttribute("width")), h: toPx(svg.getAttribute("height")) }));
    const natural = { w: Math.max(...sizes.map((s) => s.w)), h: Math.max(...sizes.map((s) => s.h)) };
    let zoom = 1;
    function setZoom(z, centre) {
      const old = zoom;
      zoom = Math.max(0.05, Math.min(8, z));
      // keep the point under the pointer (or the view's centre) where it was
      const cx = centre ? centre.x : box.clientWidth / 2, cy = centre ? centre.y : box.clientHeight / 2;
      const px = (box.scrollLeft + cx) / old, py = (box.scrollTop + cy) / old;
      svgs.forEach((svg, i) => {
        svg.style.width = sizes[i].w * zoom + "px";
        svg.style.height = sizes[i].h * zoom + "px";
      });
      box.scrollLeft = px * zoom - cx;
      box.scrollTop = py * zoom - cy;
      root.dataset.zoom = zoom.toFixed(3);
      if (zoomText) zoomText.textContent = Math.round(zoom * 100) + "%";
    }
    function fit() {
      setZoom(Math.min(box.clientWidth / natural.w, box.clientHeight / natural.h, 1));
    }
    function panTo(ids) {  // bring the active op and its backward edges into view, centred
      const rects = ids.map(byId).filter(Boolean).map((e) => e.getBoundingClientRect());
      if (!rects.length) return;
      const r = { left: Math.min(...rects.map((x) => x.left)), right: Math.max(...rects.map((x) => x.right)),
                  top: Math.min(...rects.map((x) => x.top)), bottom: Math.max(...rects.map((x) => x.bottom)) };
      const b = box.getBoundingClientRect(), op = rects[0];
      const centre = (lo, hi, opLo, opHi, start, size) =>  // all of [lo, hi] if it fits, else around the op
        (hi - lo <= size ? (lo + hi) / 2 : (opLo + opHi) / 2) - (start + size / 2);
      box.scrollLeft += centre(r.left, r.right, op.left, op.right, b.left, box.clientWidth);
      box.scrollTop += centre(r.top, r.bottom, op.top, op.bottom, b.top, box.clientHeight);
    }
    // step -> its op, then the backward edges it fills in and the tensors they reach
    const focus = (k) => (data.focus && data.focus[k]) || [stepOp[k]];
    const on = (role, f) => { const b = find(role); if (b) b.addEventListener("click", f); };
    on("zoom-in", () => setZoom(zoom * 1.25));
    on("zoom-out", () => setZoom(zoom / 1.25));
    on("zoom-fit", fit);
    on("zoom-reset", () => { setZoom(1); panTo(focus(current)); });
    box.addEventListener("wheel", (e) => {  // Ctrl+wheel and pinch zoom; the plain wheel scrolls
      if (!e.ctrlKey && !e.metaKey) return;
      e.preventDefault();
      const b = box.getBoundingClientRect();
      setZoom(zoom * Math.exp(-e.deltaY / 300), { x: e.clientX - b.left, y: e.clientY - b.top });
    }, { passive: false });
    setZoom(1);

    function mark(id, state, extra) {  // in every frame, so none keeps an old step's state
      for (const element of everywhere(id)) {
        if (!element) continue;
        element.classList.remove("pending", "active", "done", "unknown", "partial", "known");
        element.classList.add(state);
        if (extra) element.classList.add(extra);
      }
    }

    function show(k) {
      current = Math.max(0, Math.min(last, k));
      panels.forEach((p, i) => { p.hidden = i !== current; });
      frames.forEach((f, i) => { f.hidden = f !== frameOf(current); });
      for (const [id, step] of Object.entries(data.ops)) {
        mark(id, step === current ? "active" : step < current ? "done" : "pending");
      }
      for (const [id, step] of Object.entries(data.edges)) {
        mark(id, step === current ? "active" : step < current ? "done" : "pending");
      }
      for (const [id, [first, complete]] of Object.entries(data.grads)) {
        mark(id, first > current ? "unknown" : complete > current ? "partial" : "known", "grad");
      }
      slider.value = current + 1;
      prev.disabled = current === 0;
      next.disabled = current === last;
      where.textContent = fill(text.where || "step {index} of {count}: {op}",
                              { index: current + 1, count: data.steps, op: data.ops_names[current] });
      root.dataset.step = current + 1;
      panTo(focus(current));
      if (useHash) {
        document.body.dataset.step = current + 1;
        const hash = "#step=" + (current + 1);
        if (location.hash !== hash) history.replaceState(null, "", hash);
      }
    }

    function stepFromHash() {  // #step=1 is the first step
      const match = /step=(\d+)/.exec(location.hash);
      return match ? Number(match[1]) - 1 : 0;
    }

    prev.addEventListener("click", () => show(current - 1));
    next.addEventListener("click", () => show(current + 1));
    slider.addEventListener("input", () => show(Number(slider.value) - 1));
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
