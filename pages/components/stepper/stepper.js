// The Step-through views, moved to any timestep in the browser (a Streamlit v2 component).
//
// The page mounts this component several times (the controls with the sequences, memory and
// weightings; each head's stages; the vectors), each with its share of the views built by
// ntm/figures/client.py: a Plotly figure plus its patches, the paths in the figure that change
// with t and their value at every t. All instances share one timestep, kept in `bus` below, so
// moving t (buttons, slider, Play, keys) redraws every view here, without a round trip to the
// server, all in one animation frame. Plotly.js is the installed plotly package's own file, served
// by the app's server.
//
// t is written into the address bar once the step is drawn (history.replaceState) and reported back to Python
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
  timer: 0, reportTimer: 0, frame: 0, busy: false, ahead: 0, urlTimer: 0, main: null, report: null, plotly: null,
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
// (either might change an axis range); here neither does, as the panel titles sit on fixed axes and
// a time axis's range stays as first drawn (Plotly's autorange would widen it by the cursor's half
// line width, under a pixel, while the cursor is on the first or last column). So: a heatmap's z, bars, lines, the title, panel titles and cursors are drawn into
// what Plotly drew (below: "one step drawn in place of a redraw"; set in the figure too, so any
// later redraw by Plotly draws the same); anything else, or a drawing not shaped as expected (bars
// stacked on others, lines with markers or gaps), goes through Plotly.react.
function patchKind(fig, path) {
  const [root, a, b, c] = path;
  if (path.length < 3) return "full";
  if (root === "data") {
    const trace = fig.data[a];
    const painted = (trace.type === "bar" || trace.type === "scatter") &&
      (b === "y" || (b === "marker" && c === "color" && path.length === 4));
    if (trace.type === "heatmap" && b === "z" && path.length === 3 && !trace.zsmooth) return "heatmap";
    return painted ? "trace" : "full";
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
              full: patches.some((p) => p.kind === "full"), cursors: new Map(), nodes: new Map(),
              drawnBars: new WeakMap(), scales: new Map(), images: new Map(), bars: new Map(), drawn: false, shown: null };
  return v;
}

// ---- one step drawn in place of a redraw ----------------------------------------------------------
//
// Plotly redraws a whole figure (axes, colour bar and all) for new data. A step changes only data on
// fixed axes, so each kind of change is drawn here into what Plotly drew, exactly as Plotly draws it
// (tests/browser/test_stepper_drawing.py compares every view, stepped, with Plotly.newPlot of the same
// figure): a heatmap's new z by Plotly's own heatmap drawing, bars and lines on the positions Plotly
// computed and rounded as Plotly rounds them, texts and cursors in the drawn SVG. Nodes written before
// are kept (v.nodes, cleared when Plotly redraws) and a node is written only when its value changes, so
// a step touches only what moves. Anything not shaped as expected returns false: Plotly redraws it.

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
function colorScale(scale, lo, hi) {
  const stops = scale.map(([at, color]) => [Number(at), rgb(color)]);
  return (z) => {
    const f = Math.min(1, Math.max(0, (z - lo) / (hi - lo)));
    let k = 1;
    while (k < stops.length - 1 && stops[k][0] < f) k++;
    const [a, ca] = stops[k - 1], [b, cb] = stops[k];
    const u = b > a ? Math.min(1, Math.max(0, (f - a) / (b - a))) : 0;
    const m = [0, 1, 2, 3].map((j) => Math.round(ca[j] + (cb[j] - ca[j]) * u));
    return `rgba(${m[0]},${m[1]},${m[2]},${m[3] / 255})`;
  };
}

const round2 = (x) => Math.round(x * 100) / 100;          // d3.round(x, 2), as Plotly writes coordinates
const STEPS = {       // Plotly's line segment from point a to point b, by line.shape (Drawing.steps)
  hv: (a, b) => `H${round2(b[0])}V${round2(b[1])}`, vh: (a, b) => `V${round2(b[1])}H${round2(b[0])}`,
  hvh: (a, b) => `H${round2((a[0] + b[0]) / 2)}V${round2(b[1])}H${round2(b[0])}`,
  vhv: (a, b) => `V${round2((a[1] + b[1]) / 2)}H${round2(b[0])}V${round2(b[1])}`,
};

function nodes(v, key, find) {             // DOM nodes of the drawing, found once per drawing
  let found = v.nodes.get(key);
  if (found === undefined || (found.length && !found[0].isConnected)) {
    found = find();
    v.nodes.set(key, found);
  }
  return found;
}

// One bar's path as Plotly's bar plot draws a vertical bar (bar/plot.js): edges rounded to whole pixels
// where Plotly rounds them (gapless bars, and bars thinner than 2 px), "M0,0Z" for a bar not drawable.
function barPath(xa, ya, di, round) {
  let x0 = xa.c2p(di.p0, true), x1 = xa.c2p(di.p1, true), y0 = ya.c2p(di.s0, true), y1 = ya.c2p(di.s1, true);
  let blank = y1 - y0 === 0;
  if (blank && round.lw) blank = false;
  blank = blank || ![x0, x1, y0, y1].every(Number.isFinite);
  if (blank) y1 = y0;
  x0 = round.q(x0, x1, false);
  x1 = round.q(x1, x0, false);
  y0 = round.q(y0, y1, true);
  y1 = round.q(y1, y0, true);
  return Number.isNaN((x1 - x0) * (y1 - y0)) ? "M0,0Z" : `M${x0},${y0}V${y1}H${x1}V${y0}Z`;
}

// How Plotly rounds a bar's edges, which depends on its line width, whether it is opaque (Color.opacity
// of its colour: 0 for none, a colour string's alpha, 1 for anything else) and the bar gaps.
const ROUNDING = new Map();
function barRounding(gd, full, di) {
  const line = full.marker && full.marker.line || {};
  const lw = di.mlw > 0 ? di.mlw : Array.isArray(line.width) || ArrayBuffer.isView(line.width) ? 0 : line.width || 0;
  const color = di.mc || full.marker.color;
  const opaque = !color ? false : typeof color === "string" ? rgb(color)[3] === 255 : true;
  const gapless = gd._fullLayout.bargap === 0 && gd._fullLayout.bargroupgap === 0;
  const key = `${lw}|${opaque}|${gapless}`;
  if (!ROUNDING.has(key)) {
    const offset = round2((lw / 2) % 1);
    const Y = (p) => (gapless ? round2(Math.round(p) - offset) : p);
    const K = (p, other, base) => (base && p === other ? p : Math.abs(p - other) >= 2 ? Y(p)
      : p > other ? Math.ceil(p) : Math.floor(p));
    ROUNDING.set(key, { lw, q: !opaque || lw > 0.01 ? Y : K });
  }
  return ROUNDING.get(key);
}

function traceParts(v, i) {
  const gd = v.gd;
  const full = gd._fullData && gd._fullData[i], cd = gd.calcdata && gd.calcdata[i];
  const plot = full && gd._fullLayout._plots[(full.xaxis || "x") + (full.yaxis || "y")];
  if (gd._context.staticPlot || !full || !cd || !cd[0] || !cd[0].node3 || !plot || plot.yaxis.autorange ||
      full.visible !== true || plot.layerClipId) return null;
  const group = cd[0].node3.node && cd[0].node3.node();
  return group ? { gd, full, cd, group, xa: plot.xaxis, ya: plot.yaxis } : null;
}

// Bar trace i's paths and fills (null: none) for heights y and colour values colors, or null where
// Plotly must draw it: stacked or normalised bars (their bases depend on the other traces), horizontal
// bars, rounded corners, a base, a colour scale over no range.
function barsAt(v, i, y, colors) {
  const h = traceParts(v, i);
  if (!h) return null;
  const { gd, full, cd, xa, ya } = h;
  const layout = gd._fullLayout;
  if (full.type !== "bar" || full.orientation === "h" || cd[0].p0 === undefined || y.length !== cd.length ||
      !["group", "overlay"].includes(layout.barmode) || layout.barnorm ||
      (cd[0].t && cd[0].t.cornerradiusvalue) || full.base !== undefined && full.base !== null) return null;
  const marker = full.marker || {};
  const axis = marker.coloraxis ? layout[marker.coloraxis] : marker;
  const colored = colors && typeof colors !== "string" && Array.isArray(axis.colorscale);
  const [lo, hi] = marker.coloraxis ? [axis.cmin, axis.cmax] : [marker.cmin, marker.cmax];
  if (colored && !(hi > lo)) return null;
  const color = colored ? (v.scales.get(i) || v.scales.set(i, colorScale(axis.colorscale, lo, hi)).get(i)) : null;
  const d = new Array(cd.length), fill = colored ? new Array(cd.length) : null;
  for (let j = 0; j < cd.length; j++) {
    const di = cd[j], s0 = di.b || 0, mc = colored ? Number(colors[j]) : di.mc;
    const bar = { p0: di.p0, p1: di.p1, s0, s1: s0 + Number(y[j]), mlw: di.mlw, mc };
    d[j] = barPath(xa, ya, bar, barRounding(gd, full, bar));
    if (colored) fill[j] = color(mc);
  }
  return { d, fill };
}

// The values of trace i at t: its patches' (without setting them in the figure), else the figure's.
function traceAt(v, i, t) {
  const d = v.fig.data[i];
  let y = d.y, colors = d.marker && d.marker.color;
  for (const p of v.patches) {
    if (p.path[0] !== "data" || p.path[1] !== i) continue;
    if (p.path.length === 3 && p.path[2] === "y") y = p.at(t);
    else if (p.path.length === 4 && p.path[2] === "marker" && p.path[3] === "color") colors = p.at(t);
  }
  return { y, colors };
}

function paintTraces(v, t) {
  for (const i of v.traces) {
    const h = traceParts(v, i);
    if (!h) return false;
    const { full, cd, group, xa, ya } = h, d = v.fig.data[i];
    if (full.type === "bar") {
      const paths = nodes(v, `bar${i}`, () => Array.from(group.querySelectorAll("g.point > path")));
      if (paths.length !== cd.length) return false;
      const colors = d.marker && d.marker.color;
      const bars = v.bars.get(`${i}|${t}`) || barsAt(v, i, d.y, colors);
      if (!bars) return false;
      v.bars.set(`${i}|${t}`, bars);
      const drawn = v.drawnBars.get(paths) || v.drawnBars.set(paths, { d: [], fill: [] }).get(paths);
      for (let j = 0; j < cd.length; j++) {
        const di = cd[j], y = Number(d.y[j]);       // what Plotly's hover and any later redraw read
        if (bars.fill) di.mc = Number(colors[j]);
        di.s = y;
        di.s0 = di.b || 0;
        di.s1 = di.s0 + y;
        if (drawn.d[j] !== bars.d[j]) paths[j].setAttribute("d", (drawn.d[j] = bars.d[j]));
        if (bars.fill && drawn.fill[j] !== bars.fill[j]) paths[j].style.fill = (drawn.fill[j] = bars.fill[j]);
      }
    } else if (full.type === "scatter" && full.mode === "lines" && STEPS[full.line.shape]) {
      const line = nodes(v, `line${i}`, () => Array.from(group.querySelectorAll("path.js-line")));
      if (line.length !== 1 || cd.length !== d.y.length || Array.from(d.y).some((y) => !Number.isFinite(Number(y)))) return false;
      const points = cd.map((di, j) => [xa.c2p(di.x), ya.c2p(Number(d.y[j]))]);
      const join = STEPS[full.line.shape];
      let path = `M${round2(points[0][0])},${round2(points[0][1])}`;
      for (let j = 1; j < points.length; j++) path += join(points[j - 1], points[j]);
      if (line[0].getAttribute("d") !== path) line[0].setAttribute("d", path);
      cd.forEach((di, j) => { di.y = d.y[j]; });
    } else {
      return false;
    }
  }
  return true;
}

// A heatmap's new z, drawn by Plotly's own heatmap drawing (the trace module's plot, as a redraw calls
// it for the subplot's heatmaps) into the image Plotly drew: the figure's axes, colour bar and the rest
// are not redrawn. Only for a fixed colour range (as the figure functions set it), no gaps in z.
// The picture (a PNG data URL) of each t is kept (v.images): drawn ahead while the page is idle
// (drawAhead), a step to that t only sets it.
function heatmapParts(v, i, z) {
  const gd = v.gd;
  const full = gd._fullData && gd._fullData[i];
  const cd = gd.calcdata && gd.calcdata[i];
  const plot = full && gd._fullLayout._plots[(full.xaxis || "x") + (full.yaxis || "y")];
  if (!full || !cd || !cd[0] || !plot || !plot.plot || full.visible !== true || full.transpose ||
      typeof (full._module && full._module.plot) !== "function") return null;
  const axis = full.coloraxis ? gd._fullLayout[full.coloraxis] : full;
  const [lo, hi, auto] = full.coloraxis ? [axis.cmin, axis.cmax, axis.cauto] : [full.zmin, full.zmax, full.zauto];
  if (auto !== false || !(hi > lo) || !z || !z.length || cd[0].z.length !== z.length ||
      z.some((row, r) => row.length !== cd[0].z[r].length || row.some((x) => !Number.isFinite(x)))) return null;
  const all = gd.calcdata.filter((c) => c[0] && c[0].trace.visible === true && c[0].trace._module === full._module &&
                                  c[0].trace.xaxis === full.xaxis && c[0].trace.yaxis === full.yaxis);
  return { gd, full, cd, plot, all };
}

function heatmapImage(cd) {
  const group = cd[0].node3 && cd[0].node3.node && cd[0].node3.node();
  return group ? group.querySelector("image") : null;
}

const IMAGE_AT = ["x", "y", "width", "height", "style"];
function imageAt(img) { return IMAGE_AT.map((a) => img.getAttribute(a)).join("|"); }

// Plotly's heatmap drawing of the subplot into `layer` with heatmap i at z; what it counts for the
// drawing's mean luminosity stays as the last full drawing counted it.
function plotHeatmaps(h, z, layer) {
  h.cd[0].z = Array.from(z, (row) => Array.from(row));       // as Plotly's calc gives it: rows of numbers
  const counts = [h.gd._hmpixcount, h.gd._hmlumcount];
  h.full._module.plot(h.gd, h.plot, h.all, layer);
  if (typeof h.full._module.style === "function") h.full._module.style(h.gd);   // the trace opacity, as a redraw sets it
  [h.gd._hmpixcount, h.gd._hmlumcount] = counts;
}

function paintHeatmap(v, i, t) {
  const z = v.fig.data[i].z;
  const h = heatmapParts(v, i, z);
  if (!h) return false;
  const img = heatmapImage(h.cd);
  const kept = v.images.get(`${i}|${t}`);
  if (img && kept && imageAt(img) === kept.at) {
    h.cd[0].z = Array.from(z, (row) => Array.from(row));     // hover reads the new values
    if (img.getAttribute("href") !== kept.href) img.setAttribute("href", kept.href);
    return true;
  }
  const layer = h.plot.plot.select(".heatmaplayer");
  if (layer.empty()) return false;
  plotHeatmaps(h, z, layer);
  const drawn = heatmapImage(h.cd);
  if (drawn) v.images.set(`${i}|${t}`, { href: drawn.getAttribute("href"), at: imageAt(drawn) });
  return true;
}

// Heatmap i at t drawn by Plotly into a hidden layer of the same plot, and its picture kept.
function drawHeatmapAhead(v, i, z, t) {
  const h = heatmapParts(v, i, z);
  if (!h) return;
  const before = h.all.map((c) => [c, c[0].node3, c[0].z]);
  const hidden = h.plot.plot.append("g").style("display", "none");
  try {
    plotHeatmaps(h, z, hidden);
    const img = heatmapImage(h.cd);
    if (img) v.images.set(`${i}|${t}`, { href: img.getAttribute("href"), at: imageAt(img) });
  } finally {
    for (const [c, node3, cz] of before) [c[0].node3, c[0].z] = [node3, cz];
    hidden.remove();
  }
}

// While the page is idle: the heatmap pictures and bar paths of the timesteps not yet kept, nearest the
// shown t first.
function drawAhead(deadline) {
  bus.ahead = 0;
  if (!window.Plotly || !onPage() || bus.busy || bus.frame) return scheduleAhead();
  const todo = [];
  for (const inst of bus.instances) {
    if (!current(inst)) continue;
    const last = inst.data.ctl.last, at = Math.min(bus.t, last);
    for (const v of inst.views) {
      if (!v.drawn || !v.gd.isConnected) continue;
      for (let k = 1; k <= 2 * last; k++) {
        const t = at + (k % 2 ? (k + 1) / 2 : -k / 2);
        if (t < 0 || t > last) continue;
        for (const p of v.patches) {
          if (p.kind === "heatmap" && !v.images.has(`${p.path[1]}|${t}`)) todo.push([Math.abs(t - at), v, p.path[1], t, "heatmap"]);
        }
        for (const i of v.traces) {
          if (v.fig.data[i].type === "bar" && !v.bars.has(`${i}|${t}`)) todo.push([Math.abs(t - at), v, i, t, "bars"]);
        }
      }
    }
  }
  todo.sort((a, b) => a[0] - b[0]);
  for (const [, v, i, t, kind] of todo) {
    if (kind === "heatmap") {
      const z = v.patches.find((p) => p.kind === "heatmap" && p.path[1] === i).at(t);
      drawHeatmapAhead(v, i, z, t);
      v.images.set(`${i}|${t}`, v.images.get(`${i}|${t}`) || null);   // tried once
    } else {
      const { y, colors } = traceAt(v, i, t);
      v.bars.set(`${i}|${t}`, barsAt(v, i, y, colors));                // null: Plotly draws it
    }
    if (deadline.timeRemaining() < 10) return scheduleAhead();
  }
}

function scheduleAhead() {
  if (bus.ahead || !window.requestIdleCallback) return;
  bus.ahead = requestIdleCallback(drawAhead, { timeout: 5000 });
}

// The drawn cursor rectangles ("M x0,yb H x1 V yt H x0 Z"), found once a figure is drawn.
const RECT = /^M(-?[\d.e+-]+),(-?[\d.e+-]+)H(-?[\d.e+-]+)V(-?[\d.e+-]+)H(-?[\d.e+-]+)Z$/;

function measure(v) {
  v.cursors.clear();
  v.nodes.clear();
  v.images.clear();
  v.bars.clear();
  for (const p of v.patches) {
    if (p.kind !== "cursor" || v.cursors.has(p.path[2])) continue;
    const i = p.path[2];
    const path = v.gd.querySelector(`.shapelayer path[data-index="${i}"]`);
    const m = path && RECT.exec(path.getAttribute("d") || "");
    if (m) v.cursors.set(i, { path });
  }
}

// A cursor rectangle moved to the shape's new x0, x1, at the pixels Plotly's shape drawing computes
// for them (x axis offset + r2p, on a linear axis), its y edges as drawn.
function moveCursor(v, i) {
  const ref = v.cursors.get(i);
  const full = v.gd._fullLayout.shapes && v.gd._fullLayout.shapes[i];
  const axis = full && /^x\d*$/.test(full.xref) && v.gd._fullLayout[full.xref.replace("x", "xaxis")];
  if (!ref || !ref.path.isConnected || !axis || axis.type !== "linear" || (full.xsizemode || "scaled") !== "scaled" ||
      full.x0shift || full.x1shift) return false;
  const shape = v.fig.layout.shapes[i];
  const m = RECT.exec(ref.path.getAttribute("d") || "");
  if (!m) return false;
  const x0 = axis._offset + axis.r2p(shape.x0), x1 = axis._offset + axis.r2p(shape.x1);
  full.x0 = shape.x0;
  full.x1 = shape.x1;
  ref.path.setAttribute("d", `M${x0},${m[2]}H${x1}V${m[4]}H${x0}Z`);
  return true;
}

// The text of a drawn title or annotation. Plotly draws markup (<br>, <sup>, ...) as tspans: when the
// new text has the same markup as the drawn one, each run of text between tags goes into the text node
// that shows it; any other change of markup returns false (and Plotly redraws).
const TAG = /(<[^>]*>)/;
function runs(text) {
  const parts = String(text).split(TAG);
  const tags = parts.filter((_, k) => k % 2 === 1).join("");
  const texts = parts.filter((x, k) => k % 2 === 0 && x !== "").map((x) => {
    const span = document.createElement("span");
    span.innerHTML = x.replace(/</g, "&lt;");                   // entities, as Plotly decodes them
    return span.textContent;
  });
  return { tags, texts };
}

function setText(node, text) {
  if (!node) return false;
  const was = node.getAttribute("data-unformatted");
  if (was === text) return true;
  if (!TAG.test(text) && !TAG.test(was || "") && !/&/.test(text)) {
    node.textContent = text;
  } else {
    const before = runs(was || ""), after = runs(text);
    const leaves = [];
    const walk = document.createTreeWalker(node, NodeFilter.SHOW_TEXT);
    while (walk.nextNode()) if (!/^\u200b?$/.test(walk.currentNode.data)) leaves.push(walk.currentNode);
    if (before.tags !== after.tags || before.texts.length !== after.texts.length || leaves.length !== before.texts.length ||
        leaves.some((leaf, k) => leaf.data !== before.texts[k])) return false;
    leaves.forEach((leaf, k) => { leaf.data = after.texts[k]; });
  }
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
      for (const v of inst.views) if (v.drawn) window.Plotly.Plots.resize(v.gd).then(() => measure(v), () => {});
    });
  });
  inst.observer.observe(root);
  return inst;
}

function destroy(inst) {
  inst.observer.disconnect();
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
  if (c.playing !== bus.playing) {
    c.playing = bus.playing;
    c.play.replaceChildren(icon(bus.playing ? "pause" : "play"), el("span", "", bus.playing ? "Pause" : "Play"));
    c.play.setAttribute("aria-pressed", String(bus.playing));
  }
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
    let ok = !v.traces.length || paintTraces(v, t);
    for (const p of v.patches) {
      if (!ok) break;
      if (p.kind === "heatmap") ok = paintHeatmap(v, p.path[1], t);
      else if (p.kind === "title") {
        ok = setText(nodes(v, "title", () => [v.gd.querySelector(".g-gtitle .gtitle")].filter(Boolean))[0],
                     v.fig.layout.title.text);
      } else if (p.kind === "annotation") {
        const k = p.path[2];
        ok = setText(nodes(v, `annotation${k}`, () => [v.gd.querySelector(
          `.annotation[data-index="${k}"] .annotation-text`)].filter(Boolean))[0], v.fig.layout.annotations[k].text);
      } else if (p.kind === "cursor") ok = moveCursor(v, p.path[2]);
    }
    if (!ok) await redraw(v);               // not drawn as expected, or not drawable here: Plotly draws it all
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
  return Promise.all(inst.views.map((v) => draw(v, at)));
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
  }
  if (bus.playing) tick();
  scheduleAhead();
  // The address bar after the frame is painted (replaceState costs a few ms); while playing, the
  // quarter-second check in stepper() below writes it.
  if (!bus.urlTimer && !bus.playing) bus.urlTimer = setTimeout(() => { bus.urlTimer = 0; writeUrl(bus.t); }, 0);
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
    if (bus.busy || bus.frame) return scheduleReport();   // after the drawing
    if (bus.playing || !bus.report || !onPage() || bus.t === bus.known) return;
    bus.known = bus.t;
    bus.report(bus.t);
  }, REPORT_MS);
}

function setT(t) {
  const next = Math.max(0, Math.min(bus.last, Math.round(t)));
  if (next === bus.t) return;
  bus.t = next;
  schedule();                              // the address bar follows once the step is drawn
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

// The next step once the one set is drawn (renderAll calls this) and it is due.
function tick() {
  clearTimeout(bus.timer);
  bus.timer = 0;
  if (!bus.playing || bus.shown !== bus.t || bus.busy) return;
  const now = performance.now();
  if (now < bus.due) {
    bus.timer = setTimeout(tick, bus.due - now);
    return;
  }
  bus.due = Math.max(bus.due + 1000 / bus.rate, now);
  if (bus.t + 1 >= bus.last) bus.playing = false;      // the last step ends the play
  setT(bus.t + 1);
}

// Pause stops on the step shown: a next step set but not yet drawn is dropped.
function pause() {
  if (!bus.playing) return;
  bus.playing = false;
  clearTimeout(bus.timer);
  if (bus.shown !== null && bus.shown !== bus.t) bus.t = bus.shown;
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
