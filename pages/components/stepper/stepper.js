// The Step-through views, moved to any timestep in the browser (a Streamlit v2 component).
//
// The page mounts this component several times (the controls with the sequences, memory and
// weightings; each head's stages; the vectors), each with its share of the views built by
// ntm/figures/client.py: a Plotly figure plus its patches, the paths in the figure that change
// with t and their value at every t. All instances share one timestep, kept in `bus` below, so
// moving t (buttons, slider, Play, keys) redraws every view here, without a round trip to the
// server. Plotly.js is the installed plotly package's own file, served by the app's server.
//
// t is written into the address bar at once (history.replaceState) and reported back to Python
// (setStateValue("t")) only once stepping stops, so Python keeps the URL and a rerun keeps t.
// Python sends `ctl` = {trace, version, t, last}: a new trace or a new version (a link, a new
// input) moves every view to ctl.t; otherwise the browser's t wins (and ctl does not change).
//
// Every drawn view carries data-ntm-view (its name) and data-t (the t it shows), which the
// browser tests and bench/bench_stepping.py read.

const REPORT_MS = 1000;                    // quiet time after the last step before t is reported
const RATES = [0.5, 1, 2, 4, 8];           // Play speeds, steps per second
const TYPED = { f4: Float32Array, f8: Float64Array, i1: Int8Array, u1: Uint8Array, i2: Int16Array,
                u2: Uint16Array, i4: Int32Array, u4: Uint32Array };
const ICONS = {                            // inline SVG: nothing is fetched
  first: "M6 5h2v14H6zM9.5 12 18 6v12z", prev: "M15.5 6v12L7 12z", next: "M8.5 6v12l8.5-6z",
  last: "M16 5h2v14h-2zM14.5 12 6 18V6z", play: "M8 5v14l11-7z", pause: "M7 5h4v14H7zm6 0h4v14h-4z",
};

const bus = window.__ntmStepper || (window.__ntmStepper = {
  trace: null, version: null, t: 0, last: 0, known: null, shown: null, playing: false, rate: 2,
  timer: 0, reportTimer: 0, frame: 0, busy: false, main: null, report: null, plotly: null,
  instances: new Set(), byParent: new WeakMap(), keys: false,
});

// ---- typed arrays and patches --------------------------------------------------------------------

function decode(spec) {
  const text = atob(spec.bdata);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  const flat = new TYPED[spec.dtype](bytes.buffer);
  const shape = String(spec.shape ?? flat.length).split(",").map(Number);
  return { flat, shape };
}

function isSpec(x) {
  return x !== null && typeof x === "object" && typeof x.bdata === "string" && typeof x.dtype === "string";
}

// Element `index` along the first axis: a number, a typed row, or rows of typed rows.
function sliceAt({ flat, shape }, index) {
  const rest = shape.slice(1);
  const size = rest.reduce((a, b) => a * b, 1);
  const start = index * size;
  if (rest.length === 0) return flat[index];
  if (rest.length === 1) return flat.subarray(start, start + size);
  const [n, m] = rest;
  const rows = new Array(n);
  for (let i = 0; i < n; i++) rows[i] = flat.subarray(start + i * m, start + (i + 1) * m);
  return rows;
}

// Typed-array specs in a figure decoded once, so Plotly does not decode them on every redraw.
function decodeAll(node) {
  if (Array.isArray(node)) return node.map(decodeAll);
  if (isSpec(node)) {
    const d = decode(node);
    return d.shape.length > 1 ? Array.from({ length: d.shape[0] }, (_, i) => sliceAt(d, i)) : d.flat;
  }
  if (node !== null && typeof node === "object") {
    for (const k of Object.keys(node)) node[k] = decodeAll(node[k]);
  }
  return node;
}

function makePatch(p) {
  if (isSpec(p.values)) {
    const d = decode(p.values);
    return { path: p.path, at: (t) => sliceAt(d, t) };
  }
  // A list of JSON values, typed arrays in them decoded when first needed (a whole trace, a new shape).
  const cache = new Map();
  return { path: p.path, at: (t) => {
    if (!cache.has(t)) cache.set(t, decodeAll(JSON.parse(JSON.stringify(p.values[t] ?? null))));
    return cache.get(t);
  } };
}

// How a patch reaches the drawing once a figure is drawn. Plotly redraws a whole figure (axes,
// colour bar and all) for a new heatmap, and also for a moved shape or a new annotation text
// (either might change an axis range); here neither can, as the cursors and the panel titles sit
// on fixed axes. So: bars and lines go through Plotly.animate without a redraw (traces only);
// the title, panel titles and cursors are set in the drawn SVG (and in the figure, so any later
// redraw by Plotly draws the same); anything else, or a drawing not shaped as expected, goes
// through Plotly.react.
function patchKind(fig, path) {
  const [root, a, b, c] = path;
  if (path.length < 3) return "full";
  if (root === "data") {
    const trace = fig.data[a];
    const animated = (trace.type === "bar" || trace.type === "scatter") &&
      (b === "y" || (b === "marker" && c === "color" && path.length === 4));
    if (trace.type === "heatmap" && b === "z" && path.length === 3 && !trace.zsmooth) return "heatmap";
    return animated ? "trace" : "full";
  }
  if (path.length === 3 && a === "title" && b === "text") return "title";
  if (path.length === 4 && a === "annotations" && c === "text") return "annotation";
  if (path.length === 4 && a === "shapes" && (c === "x0" || c === "x1")) return "cursor";
  return "full";
}

// ---- one instance: its rows of views -------------------------------------------------------------

function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

function icon(name) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", ICONS[name]);
  svg.appendChild(path);
  return svg;
}

function makeView(cell, box, height) {
  const gd = el("div", "ntm-plot");
  gd.dataset.ntmView = cell.name;
  box.appendChild(gd);
  const fig = decodeAll(JSON.parse(JSON.stringify(cell.view.figure)));
  if (height) fig.layout.height = height;        // the row's height (the lecture layout's one screen)
  // A fixed size makes the plot a layout boundary (stepper.css: contain: strict), so what Plotly
  // measures while redrawing lays out this plot alone, not the whole app page.
  gd.style.height = `${fig.layout.height}px`;
  const patches = cell.view.patches.map((p) => ({ ...makePatch(p), kind: patchKind(fig, p.path) }));
  const traces = [...new Set(patches.filter((p) => p.kind === "trace").map((p) => p.path[1]))];
  const config = { ...cell.view.config, responsive: true };
  const v = { gd, fig, config, patches, traces, filename: config.toImageButtonOptions.filename, fit: !!height,
              full: patches.some((p) => p.kind === "full"), cursors: new Map(), drawn: false, shown: null,
              near: true };
  return v;
}

// A heatmap's new z, painted into the image Plotly drew, cell by cell on the cell edges Plotly computed:
// redrawing the figure (axes, colour bar and all) for it took most of a step. Only for a fixed colour
// range (zmin/zmax or the colour axis's cmin/cmax set, as the figure functions set them) and no
// smoothing; hover reads the new values too. Anything else returns false, and Plotly redraws.
const RGB = new Map();
function rgb(color) {
  if (!RGB.has(color)) {
    const ctx = document.createElement("canvas").getContext("2d");
    ctx.fillStyle = "#000";
    ctx.fillStyle = color;
    ctx.fillRect(0, 0, 1, 1);
    RGB.set(color, Array.from(ctx.getImageData(0, 0, 1, 1).data));
  }
  return RGB.get(color);
}

// The colour of value z on a colour scale [[at, colour], ...] over [lo, hi], as Plotly draws it.
function colorOf(scale, lo, hi, z) {
  const stops = scale.map(([at, color]) => [Number(at), rgb(color)]);
  const f = Math.min(1, Math.max(0, (z - lo) / (hi - lo)));
  let k = 1;
  while (k < stops.length - 1 && stops[k][0] < f) k++;
  const [a, ca] = stops[k - 1], [b, cb] = stops[k];
  const u = b > a ? Math.min(1, Math.max(0, (f - a) / (b - a))) : 0;
  const mix = ca.map((x, j) => Math.round(x + (cb[j] - x) * u));
  return `rgba(${mix[0]},${mix[1]},${mix[2]},${mix[3] / 255})`;
}

// New bar heights and colours, and new line points, set in the drawn SVG on the bar positions Plotly
// computed (as for heatmaps above: Plotly's own update redraws far more). Only for vertical bars and
// plain lines on a fixed y range; false for anything else, and Plotly.animate draws it.
const STEPS = {               // a line's segment from (x0, y0) to (x1, y1), by Plotly's line.shape
  linear: (x0, y0, x1, y1) => `L${x1},${y1}`, hv: (x0, y0, x1, y1) => `H${x1}V${y1}`,
  vh: (x0, y0, x1, y1) => `V${y1}H${x1}`, hvh: (x0, y0, x1, y1) => `H${(x0 + x1) / 2}V${y1}H${x1}`,
  vhv: (x0, y0, x1, y1) => `V${(y0 + y1) / 2}H${x1}V${y1}`,
};

function paintTraces(v) {
  const gd = v.gd;
  for (const i of v.traces) {
    const full = gd._fullData && gd._fullData[i], cd = gd.calcdata && gd.calcdata[i];
    const plot = full && gd._fullLayout._plots[(full.xaxis || "x") + (full.yaxis || "y")];
    if (!full || !cd || !cd[0] || !cd[0].node3 || !plot || plot.yaxis.autorange || full.visible !== true) return false;
    const group = cd[0].node3.node && cd[0].node3.node();
    if (!group) return false;
    const xa = plot.xaxis, ya = plot.yaxis, d = v.fig.data[i];
    const py = (y) => Math.max(0, Math.min(ya._length, ya.c2p(y)));
    if (full.type === "bar") {
      const paths = group.querySelectorAll("g.point > path");
      if (full.orientation === "h" || paths.length !== cd.length || cd[0].p0 === undefined) return false;
      const marker = full.marker || {};
      const axis = marker.coloraxis ? gd._fullLayout[marker.coloraxis] : marker;
      const colored = d.marker && d.marker.color && typeof d.marker.color !== "string" && Array.isArray(axis.colorscale);
      const [lo, hi] = marker.coloraxis ? [axis.cmin, axis.cmax] : [marker.cmin, marker.cmax];
      if (colored && !(hi > lo)) return false;
      for (let j = 0; j < cd.length; j++) {
        const di = cd[j], base = di.b || 0, y = Number(d.y[j]);
        const x0 = xa.c2p(di.p0), x1 = xa.c2p(di.p1), y0 = py(base), y1 = py(base + y);
        paths[j].setAttribute("d", `M${x0},${y0}V${y1}H${x1}V${y0}Z`);
        di.s = y;
        di.s1 = base + y;
        if (colored) paths[j].style.fill = colorOf(axis.colorscale, lo, hi, Number(d.marker.color[j]));
      }
    } else if (full.type === "scatter" && full.mode === "lines" && STEPS[full.line.shape || "linear"]) {
      const line = group.querySelector("path.js-line");
      if (!line || cd.length !== d.y.length || Array.from(d.y).some((y) => !Number.isFinite(Number(y)))) return false;
      const xs = cd.map((di) => xa.c2p(di.x)), ys = Array.from(d.y, (y) => ya.c2p(y));
      const join = STEPS[full.line.shape || "linear"];
      line.setAttribute("d", `M${xs[0]},${ys[0]}` + xs.slice(1).map((x, j) => join(xs[j], ys[j], x, ys[j + 1])).join(""));
      cd.forEach((di, j) => { di.y = d.y[j]; });
    } else {
      return false;
    }
  }
  return true;
}

function paintHeatmap(v, i) {
  const gd = v.gd;
  const full = gd._fullData && gd._fullData[i];
  const cd = gd.calcdata && gd.calcdata[i] && gd.calcdata[i][0];
  const images = gd.querySelectorAll(".heatmaplayer image");
  const plot = full && gd._fullLayout._plots[(full.xaxis || "x") + (full.yaxis || "y")];
  if (!full || !cd || !plot || images.length !== 1 || full.zsmooth || gd._fullData.filter((d) => d.type === "heatmap").length !== 1) return false;
  const axis = full.coloraxis ? gd._fullLayout[full.coloraxis] : full;
  const [lo, hi, auto] = full.coloraxis ? [axis.cmin, axis.cmax, axis.cauto] : [full.zmin, full.zmax, full.zauto];
  if (auto !== false || !(hi > lo) || !Array.isArray(axis.colorscale)) return false;
  const img = images[0];
  const left = Number(img.getAttribute("x")), top = Number(img.getAttribute("y"));
  const width = Math.round(Number(img.getAttribute("width"))), height = Math.round(Number(img.getAttribute("height")));
  const z = v.fig.data[i].z, xs = cd.x, ys = cd.y;
  if (!(width > 0 && height > 0) || !xs || !ys || ys.length !== z.length + 1 || xs.length !== z[0].length + 1) return false;
  const stops = axis.colorscale.map(([at, color]) => [Number(at), rgb(color)]);
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext("2d");
  const px = xs.map((x) => Math.round(plot.xaxis.c2p(x) - left)), py = ys.map((y) => Math.round(plot.yaxis.c2p(y) - top));
  for (let r = 0; r < z.length; r++) {
    for (let c = 0; c < z[r].length; c++) {
      const value = z[r][c];
      if (value === null || Number.isNaN(value)) continue;
      const f = Math.min(1, Math.max(0, (value - lo) / (hi - lo)));
      let k = 1;
      while (k < stops.length - 1 && stops[k][0] < f) k++;
      const [a, ca] = stops[k - 1], [b, cb] = stops[k];
      const u = b > a ? Math.min(1, Math.max(0, (f - a) / (b - a))) : 0;
      const mix = ca.map((x, j) => Math.round(x + (cb[j] - x) * u));
      ctx.fillStyle = `rgba(${mix[0]},${mix[1]},${mix[2]},${mix[3] / 255})`;
      ctx.fillRect(Math.min(px[c], px[c + 1]), Math.min(py[r], py[r + 1]), Math.abs(px[c + 1] - px[c]), Math.abs(py[r + 1] - py[r]));
    }
  }
  img.setAttribute("href", canvas.toDataURL("image/png"));
  cd.z = z;
  return true;
}

// The drawn cursor rectangles ("M x0,yb H x1 V yt H x0 Z"), with the x they were drawn at.
const RECT = /^M(-?[\d.e+-]+),(-?[\d.e+-]+)H(-?[\d.e+-]+)V(-?[\d.e+-]+)H(-?[\d.e+-]+)Z$/;

function measure(v) {
  v.cursors.clear();
  const shapes = v.fig.layout.shapes || [];
  for (const p of v.patches) {
    if (p.kind !== "cursor" || v.cursors.has(p.path[2])) continue;
    const i = p.path[2];
    const path = v.gd.querySelector(`.shapelayer path[data-index="${i}"]`);
    const m = path && RECT.exec(path.getAttribute("d") || "");
    if (m) v.cursors.set(i, { path, x0px: Number(m[1]), x1px: Number(m[3]), x0: shapes[i].x0, x1: shapes[i].x1 });
  }
}

function moveCursor(v, i) {
  const ref = v.cursors.get(i);
  if (!ref || !ref.path.isConnected || ref.x1 === ref.x0) return false;
  const shape = v.fig.layout.shapes[i];
  const px = (ref.x1px - ref.x0px) / (ref.x1 - ref.x0);
  const m = RECT.exec(ref.path.getAttribute("d") || "");
  if (!m) return false;
  const x0 = ref.x0px + (shape.x0 - ref.x0) * px;
  const x1 = ref.x1px + (shape.x1 - ref.x1) * px;
  ref.path.setAttribute("d", `M${x0},${m[2]}H${x1}V${m[4]}H${x0}Z`);
  return true;
}

function setText(node, text) {
  if (!node) return false;
  node.textContent = text;
  node.setAttribute("data-unformatted", text);
  return true;
}

function build(parent, data) {
  const root = el("div", "ntm-stepper" + (data.teacher ? " ntm-teacher" : ""));
  const inst = { root, data, viewsId: data.views_id, views: [], texts: [], controls: null, generation: 0 };
  if (data.controls) inst.controls = buildControls(root);
  for (const row of data.rows) {
    const line = el("div", "ntm-row");
    line.style.gridTemplateColumns = row.widths.map((w) => `minmax(0, ${w}fr)`).join(" ");
    for (const cell of row.cells) {
      const box = el("div", "ntm-cell");
      line.appendChild(box);
      if (!cell) continue;
      if (cell.label) box.appendChild(el("div", "ntm-label", cell.label));
      if (cell.values) {
        const value = el("div", "ntm-value");
        value.dataset.ntmView = cell.name;
        box.appendChild(value);
        inst.texts.push({ el: value, values: cell.values });
      }
      if (cell.view) inst.views.push(Object.assign(makeView(cell, box, row.height), { tLast: data.ctl.last }));
    }
    root.appendChild(line);
  }
  parent.appendChild(root);
  let pending = 0;
  inst.observer = new ResizeObserver(() => {
    cancelAnimationFrame(pending);
    pending = requestAnimationFrame(() => {
      for (const v of inst.views) if (v.drawn) window.Plotly.Plots.resize(v.gd);
    });
  });
  inst.observer.observe(root);
  // Which views are near the screen (within half a screen): those are redrawn at once on every step,
  // the others afterwards while the page is idle (see drawFar), or as soon as they come near.
  inst.sight = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      const v = inst.views.find((x) => x.gd === entry.target);
      if (v) v.near = entry.isIntersecting;
    }
    schedule();
  }, { rootMargin: "50% 0px" });
  for (const v of inst.views) inst.sight.observe(v.gd);
  return inst;
}

function destroy(inst) {
  inst.observer.disconnect();
  inst.sight.disconnect();
  bus.instances.delete(inst);
  if (bus.main === inst) bus.main = null;
  for (const v of inst.views) if (v.drawn && window.Plotly) window.Plotly.purge(v.gd);
  inst.root.remove();
}

function buildControls(root) {
  const bar = el("div", "ntm-bar");
  const buttons = {};
  for (const [go, label] of [["first", "First"], ["prev", "Prev"], ["next", "Next"], ["last", "Last"]]) {
    const b = el("button", "ntm-btn" + (go === "next" ? " ntm-primary" : ""));
    b.type = "button";
    b.append(icon(go), el("span", "", label));
    b.addEventListener("click", () => step(go));
    buttons[go] = b;
  }
  const play = el("button", "ntm-btn ntm-play");
  play.type = "button";
  play.addEventListener("click", () => (bus.playing ? pause() : start()));
  const rate = el("select", "ntm-rate");
  rate.setAttribute("aria-label", "Play speed");
  rate.title = "Play speed";
  for (const r of RATES) {
    const o = el("option", "", `${r} steps/s`);
    o.value = String(r);
    rate.appendChild(o);
  }
  rate.value = String(bus.rate);
  rate.addEventListener("change", () => { bus.rate = Number(rate.value); });
  // A mouse click leaves the focus where it was, so Space and the arrows keep stepping.
  for (const b of [...Object.values(buttons), play]) b.addEventListener("mousedown", (e) => e.preventDefault());
  const sliderBox = el("label", "ntm-slider-box");
  const slider = el("input", "ntm-slider");
  slider.type = "range";
  slider.min = "0";
  slider.step = "1";
  slider.setAttribute("aria-label", "Timestep t");
  slider.addEventListener("input", () => { pause(); setT(Number(slider.value)); });
  sliderBox.append(el("span", "", "Timestep t"), slider);
  bar.append(buttons.first, buttons.prev, buttons.next, buttons.last, play, rate, sliderBox);
  const heading = el("h3", "ntm-heading");
  const tText = el("span", "ntm-t");
  const caption = el("span", "ntm-caption");
  heading.append(tText, " ", caption);
  const story = el("p", "ntm-story");
  story.dataset.ntmView = "story";
  root.classList.add("ntm-controls");
  root.append(bar, heading, story);
  return { buttons, play, rate, slider, tText, caption, heading, story };
}

function showControls(inst, t) {
  const c = inst.controls;
  const last = inst.data.ctl.last;
  c.buttons.first.disabled = c.buttons.prev.disabled = t <= 0;
  c.buttons.next.disabled = c.buttons.last.disabled = t >= last;
  c.play.replaceChildren(icon(bus.playing ? "pause" : "play"), el("span", "", bus.playing ? "Pause" : "Play"));
  c.play.setAttribute("aria-pressed", String(bus.playing));
  c.rate.value = String(bus.rate);
  c.slider.max = String(last);
  c.slider.value = String(t);
  c.tText.textContent = `t = ${t}`;
  c.caption.textContent = inst.data.captions[t] ?? "";
  c.heading.dataset.t = String(t);
  const story = inst.data.story ? inst.data.story[t] ?? "" : "";
  c.story.textContent = story;
  c.story.hidden = !story;
  inst.root.classList.toggle("ntm-told", !!story);
  c.story.dataset.t = String(t);
}

const STILL = { transition: { duration: 0 }, frame: { duration: 0, redraw: false }, mode: "immediate" };

async function redraw(v) {
  if (!v.drawn) await window.Plotly.newPlot(v.gd, v.fig.data, v.fig.layout, v.config);
  else await window.Plotly.react(v.gd, v.fig.data, v.fig.layout, v.config);
  v.drawn = true;
  if (v.fit && await fitTitle(v)) await window.Plotly.react(v.gd, v.fig.data, v.fig.layout, v.config);
  measure(v);
}

// A figure in a row of fixed height (the lecture layout) is narrower than the figure function drew it
// for: its title's font shrinks until the longest title it shows at any t fits inside the figure.
async function fitTitle(v) {
  const node = v.gd.querySelector(".g-gtitle .gtitle");
  if (!node || !node.textContent) return false;
  const box = v.gd.getBoundingClientRect();
  const r = node.getBoundingClientRect();
  const titles = v.patches.filter((p) => p.path.join(".") === "layout.title.text");
  const longest = Math.max(node.textContent.length, ...titles.flatMap((p) => v.tLast === undefined ? [] :
    Array.from({ length: v.tLast + 1 }, (_, t) => String(p.at(t) ?? "").replace(/<[^>]*>/g, "").length)));
  const needed = r.width * longest / node.textContent.length;
  const room = box.right - Math.max(r.left, box.left) - 6;
  if (needed <= room) return false;
  const size = parseFloat(getComputedStyle(node).fontSize) || 14;
  v.fig.layout.title = { ...(v.fig.layout.title || {}), font: { ...((v.fig.layout.title || {}).font || {}),
                         size: Math.max(9, Math.floor(size * room / needed)) } };
  return true;
}

async function draw(v, t) {
  if (v.shown === t && v.drawn) return;
  for (const p of v.patches) {
    let node = v.fig;
    for (const key of p.path.slice(0, -1)) node = node[key];
    node[p.path[p.path.length - 1]] = p.at(t);
  }
  if (!v.drawn || v.full) {
    await redraw(v);
  } else {
    if (v.traces.length && !paintTraces(v)) {
      const data = v.traces.map((i) => {
        const d = v.fig.data[i];
        return d.type === "bar" ? { y: d.y, marker: { color: d.marker.color } } : { y: d.y };
      });
      await window.Plotly.animate(v.gd, { data, traces: v.traces }, STILL);
    }
    let ok = true;
    for (const p of v.patches) {
      if (p.kind === "heatmap") ok = paintHeatmap(v, p.path[1]) && ok;
      else if (p.kind === "title") ok = setText(v.gd.querySelector(".g-gtitle .gtitle"), v.fig.layout.title.text) && ok;
      else if (p.kind === "annotation") {
        const k = p.path[2];
        ok = setText(v.gd.querySelector(`.annotation[data-index="${k}"] .annotation-text`),
                     v.fig.layout.annotations[k].text) && ok;
      } else if (p.kind === "cursor") ok = moveCursor(v, p.path[2]) && ok;
    }
    if (!ok) await redraw(v);               // not drawn as expected: let Plotly draw it all
  }
  // The PNG is named after t. Set in place: a new config would make Plotly.react redraw from scratch.
  const png = v.gd._context && v.gd._context.toImageButtonOptions;
  if (png) png.filename = `${v.filename}-t${t}`;
  v.shown = t;
  v.gd.dataset.t = String(t);
}

function current(inst) {      // this instance's data is for the trace shown (else new data is on the way)
  return inst.data.ctl.trace === bus.trace;
}

function show(inst, t) {
  if (!current(inst)) return Promise.resolve();
  const at = Math.min(t, inst.data.ctl.last);
  if (inst.controls) showControls(inst, at);
  for (const x of inst.texts) {
    x.el.textContent = x.values[at];
    x.el.dataset.t = String(at);
  }
  if (!window.Plotly) return Promise.resolve();
  return Promise.all(inst.views.filter((v) => v.near || !v.drawn).map((v) => draw(v, at)));
}

// The views far from the screen, one at a time while nothing else is being drawn.
function drawFar() {
  bus.far = 0;
  if (!window.Plotly || !onPage()) return;
  if (bus.busy || bus.frame) {
    scheduleFar();
    return;
  }
  for (const inst of bus.instances) {
    if (!current(inst)) continue;
    const at = Math.min(bus.t, inst.data.ctl.last);
    const v = inst.views.find((x) => x.drawn && !x.near && x.shown !== at);
    if (v) {
      bus.busy = true;
      draw(v, at).catch((error) => console.error("NTM stepper: a view could not be drawn", error))
        .finally(() => {
          bus.busy = false;
          if (bus.shown !== bus.t) schedule();  // a step came while this one was drawn
          else scheduleFar();
        });
      return;
    }
  }
}

function scheduleFar() {
  if (bus.far) return;
  bus.far = window.requestIdleCallback ? requestIdleCallback(drawFar, { timeout: 300 }) : setTimeout(drawFar, 50);
}

// ---- the shared timestep ---------------------------------------------------------------------------

function schedule() {
  if (bus.busy) bus.dirty = true;          // a view (or a new instance) to show once this pass is done
  if (!bus.frame) bus.frame = requestAnimationFrame(renderAll);
}

async function renderAll() {
  bus.frame = 0;
  if (bus.busy) return;                    // the running pass schedules the next one
  bus.busy = true;
  const t = bus.t;
  try {
    await Promise.all([...bus.instances].map((inst) => show(inst, t)));
    bus.shown = t;
  } catch (error) {
    console.error("NTM stepper: a view could not be drawn", error);
  } finally {
    bus.busy = false;
  }
  if (bus.t !== t || bus.dirty) {
    bus.dirty = false;
    schedule();
  } else scheduleFar();
}

function onPage() {          // the Step-through page is shown (not another page, being switched to)
  return bus.main !== null && bus.main.root.isConnected && window.location.pathname === bus.path;
}

function writeUrl(t) {
  if (!onPage()) return;
  const url = new URL(window.location.href);
  if (url.searchParams.get("t") === String(t)) return;
  url.searchParams.set("t", String(t));
  window.history.replaceState(window.history.state, "", url);
}

function scheduleReport() {
  clearTimeout(bus.reportTimer);
  bus.reportTimer = setTimeout(() => {
    if (bus.busy || bus.far || bus.frame) return scheduleReport();   // after the drawing
    if (bus.playing || !bus.report || !onPage() || bus.t === bus.known) return;
    bus.known = bus.t;
    bus.report(bus.t);
  }, REPORT_MS);
}

function setT(t) {
  const next = Math.max(0, Math.min(bus.last, Math.round(t)));
  if (next === bus.t) return;
  bus.t = next;
  writeUrl(next);
  schedule();
  if (!bus.playing) scheduleReport();
}

function step(go) {
  pause();
  setT({ first: 0, prev: bus.t - 1, next: bus.t + 1, last: bus.last }[go]);
}

// Play shows every step: the next one comes once the last is drawn and 1/rate seconds have passed.
function start() {
  if (bus.playing) return;
  clearTimeout(bus.reportTimer);
  if (bus.t >= bus.last) setT(0);
  bus.playing = true;
  bus.due = performance.now() + 1000 / bus.rate;
  tick();
  schedule();
}

function tick() {
  if (!bus.playing) return;
  const now = performance.now();
  if (now >= bus.due && bus.shown === bus.t && !bus.busy) {
    setT(bus.t + 1);
    bus.due = Math.max(bus.due + 1000 / bus.rate, now);
    if (bus.t >= bus.last) {
      pause();
      return;
    }
  }
  bus.timer = setTimeout(tick, Math.max(4, Math.min(bus.due - now, 20)));
}

function pause() {
  if (!bus.playing) return;
  bus.playing = false;
  clearTimeout(bus.timer);
  schedule();
  scheduleReport();
}

// Python's view of t: a new trace or version (a link, a new input) moves every view to ctl.t.
function sync(ctl) {
  bus.known = ctl.t;
  if (ctl.trace !== bus.trace || ctl.version !== bus.version) {
    pause();
    bus.trace = ctl.trace;
    bus.version = ctl.version;
    bus.last = ctl.last;
    bus.t = Math.min(ctl.t, ctl.last);
    bus.shown = null;
  } else if (bus.t !== bus.known && !bus.playing) {
    scheduleReport();
  }
  writeUrl(bus.t);
  schedule();
}

// ---- keys: arrows and PageUp/PageDown step (clickers send those), Home/End jump, Space plays ----

function editing(target) {
  if (!(target instanceof Element)) return false;
  if (target.isContentEditable || target.closest("[contenteditable='true']")) return true;
  if (target.matches("textarea, select, [role='combobox'], [role='textbox'], [role='listbox'], [role='grid']")) return true;
  if (target.closest("[data-testid='stDataFrame'], [data-testid='stDataFrameResizable']")) return true;
  if (target.matches("input")) return !["checkbox", "button", "submit", "reset"].includes(target.type) &&
    !target.classList.contains("ntm-slider");
  return false;
}

function onKey(event) {
  if (!onPage() || event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) return;
  if (editing(event.target)) return;
  const onSlider = event.target instanceof Element && event.target.classList.contains("ntm-slider");
  const go = { ArrowLeft: "prev", PageUp: "prev", ArrowRight: "next", PageDown: "next", Home: "first",
               End: "last" }[event.key];
  if (go) {
    if (onSlider) return;                  // the slider moves itself, and reports through "input"
    step(go);
  } else if (event.key === " " || event.key === "Spacebar") {
    if (!event.repeat) (bus.playing ? pause() : start());
  } else if (event.target instanceof Element && event.target.matches("[role='slider']")) {
    return;
  } else {
    return;
  }
  event.preventDefault();
}

function onKeyUp(event) {                  // Space must not also click a focused button
  if (onPage() && event.key === " " && event.target instanceof Element && event.target.matches("button") &&
      !editing(event.target)) event.preventDefault();
}

function loadPlotly(url) {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  if (!bus.plotly) {
    bus.plotly = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = url;
      script.async = true;
      script.onload = () => {
        // Plotly.js 4 warns, through console.trace, for every bar coloured from numbers (a colour axis):
        // 512 stack traces per redraw of a head's stages would cost more than the drawing itself.
        window.Plotly.setPlotConfig({ logging: 0 });
        resolve(window.Plotly);
      };
      script.onerror = () => {
        bus.plotly = null;
        reject(new Error(`Plotly.js could not be loaded from ${url}`));
      };
      document.head.appendChild(script);
    });
  }
  return bus.plotly;
}

export default function stepper({ data, parentElement, setStateValue }) {
  bus.onKey = onKey;
  bus.onKeyUp = onKeyUp;
  if (!bus.keys) {
    document.addEventListener("keydown", (e) => bus.onKey(e));
    document.addEventListener("keyup", (e) => bus.onKeyUp(e));
    // Streamlit rewrites the address bar with the query Python last wrote, whose t may be older than
    // the one shown (until the report arrives): put the shown t back.
    setInterval(() => writeUrl(bus.t), 250);
    bus.keys = true;
  }
  let inst = bus.byParent.get(parentElement);
  if (inst && inst.viewsId !== data.views_id) {
    destroy(inst);
    inst = undefined;
  }
  if (!inst) {
    inst = build(parentElement, data);
    bus.byParent.set(parentElement, inst);
  }
  inst.data = data;
  inst.generation += 1;
  const generation = inst.generation;
  bus.instances.add(inst);
  if (data.controls) {
    bus.main = inst;
    bus.path = window.location.pathname;
    bus.report = (t) => setStateValue("t", t);
  }
  sync(data.ctl);
  loadPlotly(data.plotly).then(schedule, (error) => {
    inst.root.prepend(el("div", "ntm-error", "The figures could not be drawn: Plotly.js did not load. Reload the page."));
    console.error(error);
  });
  // Streamlit calls this when the component goes away, and also at once when a call was overtaken by
  // newer data before it finished: then the element is still on the page and its views stay.
  return () => setTimeout(() => {
    if (parentElement.isConnected || inst.generation !== generation) return;
    if (bus.main === inst) pause();
    destroy(inst);
    bus.byParent.delete(parentElement);
  }, 0);
}
