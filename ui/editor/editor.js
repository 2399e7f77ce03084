// segboard's mask editor: a Streamlit components v2 module (no iframe, no build step, nothing fetched).
// The mask is a buffer of class indices at the image's own size; every tool writes whole values into it
// (no canvas stroke ever touches it, so no anti-aliasing can leak a value between two classes). What is
// shown is drawn from the buffer. Each finished action sends the whole mask, run-length encoded, as the
// trigger `change`; the page saves it. Names and other user text are set with textContent only.
//
// data: {id, image (data URL), width, height, runs, classes: [{name, color: [r, g, b]}], opacity,
//        strokes (true: a strokes mask, UNMARKED where nothing is drawn), version,
//        objects (true: one id per object, 0 the background; each object in its own colour)}
//
// Objects: a stroke, polygon or fill begun on the background makes a new object (the largest id + 1); one
// begun on an object grows that object; a fill of the background inside an outline takes the object last
// drawn (outline, then fill). The background class and the eraser paint 0.

const UNMARKED = 255;
const UNDO = 40;
const states = new WeakMap();

function decode(runs, n, fill) {
  const buf = new Uint16Array(n).fill(fill);
  if (!runs) return buf;
  let at = 0;
  for (let i = 0; i + 1 < runs.length; i += 2) {
    buf.fill(runs[i], at, Math.min(n, at + runs[i + 1]));
    at += runs[i + 1];
  }
  return buf;
}

function encode(buf) {
  const out = [];
  let value = buf[0], count = 0;
  for (let i = 0; i < buf.length; i++) {
    if (buf[i] === value) { count++; continue; }
    out.push(value, count);
    value = buf[i];
    count = 1;
  }
  if (buf.length) out.push(value, count);
  return out;
}

function el(tag, attrs, parent) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "text") e.textContent = v;
    else if (k === "style") e.style.cssText = v;
    else e.setAttribute(k, v);
  }
  if (parent) parent.appendChild(e);
  return e;
}

function build(parentElement) {
  const root = el("div", { class: "sb-editor" }, parentElement);
  const bar = el("div", { class: "sb-bar" }, root);
  const tools = el("div", { class: "sb-tools", role: "toolbar", "aria-label": "Tools" }, bar);
  const s = { root, tools: {}, classButtons: [] };
  for (const [name, label, key] of [["brush", "Brush", "b"], ["erase", "Eraser", "e"], ["fill", "Fill", "f"],
                                    ["polygon", "Polygon", "p"], ["object", "Object", "o"], ["pan", "Pan", "h"]]) {
    const b = el("button", { type: "button", "data-tool": name, title: `${label} (${key})`, text: label }, tools);
    b.onclick = () => setTool(s, name);
    s.tools[name] = b;
  }
  const sizeLabel = el("label", { class: "sb-size", text: "Size " }, bar);
  s.size = el("input", { type: "range", min: "1", max: "64", value: "8", "aria-label": "Brush size" }, sizeLabel);
  s.sizeValue = el("span", { text: "8" }, sizeLabel);
  s.size.oninput = () => { s.sizeValue.textContent = s.size.value; };
  const opLabel = el("label", { class: "sb-opacity", text: "Opacity " }, bar);
  s.opacity = el("input", { type: "range", min: "0", max: "100", value: "50", "aria-label": "Mask opacity" }, opLabel);
  s.opacity.oninput = () => { paintAll(s); draw(s); };
  const actions = el("div", { class: "sb-actions" }, bar);
  for (const [label, title, fn] of [["Undo", "Undo (Ctrl+Z)", () => undo(s)],
                                    ["Clear", "The whole mask cleared (undo brings it back)", () => clear(s)],
                                    ["+", "Zoom in", () => zoomBy(s, 1.5)],
                                    ["−", "Zoom out", () => zoomBy(s, 1 / 1.5)], ["Fit", "Whole image", () => fit(s)]]) {
    const b = el("button", { type: "button", title, text: label }, actions);
    b.onclick = fn;
  }
  s.legend = el("div", { class: "sb-legend", role: "radiogroup", "aria-label": "Class" }, root);
  s.canvas = el("canvas", { class: "sb-canvas", tabindex: "0", "aria-label": "Image and mask" }, root);
  s.status = el("div", { class: "sb-status", "aria-live": "polite" }, root);
  s.ctx = s.canvas.getContext("2d");
  s.maskCanvas = document.createElement("canvas");
  s.imageCanvas = document.createElement("canvas");
  s.tool = "brush";
  s.cls = 1;
  s.idColors = new Map();
  s.current = 0;  // objects: the object being drawn
  s.undo = [];
  s.polygon = [];
  s.zoom = 1; s.panX = 0; s.panY = 0;
  listen(s);
  setTool(s, "brush");
  return s;
}

function setTool(s, name) {
  s.tool = name;
  s.polygon = [];
  for (const [k, b] of Object.entries(s.tools)) b.setAttribute("aria-pressed", String(k === name));
  s.canvas.style.cursor = name === "pan" ? "grab" : "crosshair";
  draw(s);
}

function setClass(s, i) {
  s.cls = i;
  s.classButtons.forEach((b, k) => b.setAttribute("aria-checked", String(k === i)));
}

function legend(s, classes, strokes) {
  s.legend.textContent = "";
  s.classButtons = classes.map((c, i) => {
    const b = el("button", { type: "button", role: "radio", "data-class": String(i),
                             title: `${c.name} (${i + 1 <= 9 ? i + 1 : ""})` }, s.legend);
    el("span", { class: "sb-swatch", style: `background: rgb(${c.color.join(",")})` }, b);
    el("span", { text: c.name }, b);
    b.onclick = () => setClass(s, i);
    return b;
  });
  setClass(s, Math.min(s.cls, classes.length - 1));
  s.tools.erase.title = strokes ? "Eraser: removes strokes (e)" : "Eraser: paints the background (e)";
}

// ---- the buffer and its picture ----

function idColor(s, v) {
  // distinct neighbours: hues a golden angle apart, two lightnesses alternating
  let c = s.idColors.get(v);
  if (c) return c;
  const h = (v * 137.508) % 360, l = v % 2 ? 0.55 : 0.7, k = (n) => (n + h / 30) % 12;
  const a = 0.9 * Math.min(l, 1 - l);
  const f = (n) => Math.round(255 * (l - a * Math.max(-1, Math.min(k(n) - 3, 9 - k(n), 1))));
  c = [f(0), f(8), f(4)];
  s.idColors.set(v, c);
  return c;
}

function colorOf(s, v) {
  if (v === UNMARKED && s.strokes) return null;
  if (v === 0 && !s.strokes) return null;
  if (s.objects) return idColor(s, v);
  const c = s.classes[v];
  return c ? c.color : [255, 255, 255];
}

function paintRect(s, x0, y0, x1, y1) {
  x0 = Math.max(0, x0); y0 = Math.max(0, y0); x1 = Math.min(s.w, x1); y1 = Math.min(s.h, y1);
  if (x1 <= x0 || y1 <= y0) return;
  const ctx = s.maskCanvas.getContext("2d");
  const img = ctx.createImageData(x1 - x0, y1 - y0);
  const alpha = Math.round(2.55 * Number(s.opacity.value));
  let k = 0;
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++, k += 4) {
      const c = colorOf(s, s.buf[y * s.w + x]);
      if (!c) continue;
      img.data[k] = c[0]; img.data[k + 1] = c[1]; img.data[k + 2] = c[2]; img.data[k + 3] = alpha;
    }
  }
  ctx.putImageData(img, x0, y0);
}

function paintAll(s) { paintRect(s, 0, 0, s.w, s.h); }

function draw(s) {
  if (!s.w) return;
  const ctx = s.ctx;
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.clearRect(0, 0, s.canvas.width, s.canvas.height);
  ctx.setTransform(s.zoom, 0, 0, s.zoom, s.panX, s.panY);
  ctx.imageSmoothingEnabled = s.zoom < 1;
  ctx.drawImage(s.imageCanvas, 0, 0);
  ctx.imageSmoothingEnabled = false; // the mask's pixels as they are
  ctx.drawImage(s.maskCanvas, 0, 0);
  if (s.polygon.length) {
    ctx.strokeStyle = "#ffffff";
    ctx.lineWidth = 1.5 / s.zoom;
    ctx.beginPath();
    s.polygon.forEach(([x, y], i) => (i ? ctx.lineTo(x + 0.5, y + 0.5) : ctx.moveTo(x + 0.5, y + 0.5)));
    ctx.stroke();
  }
}

function toImage(s, ev) {
  const r = s.canvas.getBoundingClientRect();
  const cx = (ev.clientX - r.left) * (s.canvas.width / r.width);
  const cy = (ev.clientY - r.top) * (s.canvas.height / r.height);
  return [Math.floor((cx - s.panX) / s.zoom), Math.floor((cy - s.panY) / s.zoom)];
}

// ---- actions: each keeps what it changed for undo, then sends the mask ----

function begin(s) {
  // the mask before the action, run-length encoded: 40 steps of a 2,048 px mask in a few hundred kB, not 320 MB
  return { before: encode(s.buf) };
}

function commit(s, action) {
  s.undo.push(action.before);
  if (s.undo.length > UNDO) s.undo.shift();
  s.send();
}

function undo(s) {
  const before = s.undo.pop();
  if (!before) return;
  s.buf = decode(before, s.w * s.h, 0);
  paintAll(s);
  draw(s);
  s.send();
}

function clear(s) {
  const empty = s.strokes ? UNMARKED : 0;
  if (!s.w || s.buf.every((v) => v === empty)) return;
  const action = begin(s);
  s.buf.fill(empty);
  s.current = 0;
  paintAll(s);
  draw(s);
  commit(s, action);
}

function stamp(s, x, y, value) {
  const r = Math.max(0, Number(s.size.value) / 2);
  const r2 = r * r;
  const lo = Math.floor(r), hi = Math.ceil(r);
  for (let dy = -lo; dy <= hi; dy++) {
    const yy = y + dy;
    if (yy < 0 || yy >= s.h) continue;
    for (let dx = -lo; dx <= hi; dx++) {
      const xx = x + dx;
      if (xx < 0 || xx >= s.w || dx * dx + dy * dy > r2 + 0.25) continue;
      s.buf[yy * s.w + xx] = value;
    }
  }
  s.dirty = [Math.min(s.dirty[0], x - hi), Math.min(s.dirty[1], y - hi),
             Math.max(s.dirty[2], x + hi + 1), Math.max(s.dirty[3], y + hi + 1)];
}

function line(s, [x0, y0], [x1, y1], value) {
  const n = Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0), 1);
  for (let i = 0; i <= n; i++) stamp(s, Math.round(x0 + (x1 - x0) * i / n), Math.round(y0 + (y1 - y0) * i / n), value);
}

function flood(s, x, y, value) {
  if (x < 0 || y < 0 || x >= s.w || y >= s.h) return false;
  const from = s.buf[y * s.w + x];
  if (from === value) return false;
  const stack = [y * s.w + x];
  while (stack.length) {
    const i = stack.pop();
    if (s.buf[i] !== from) continue;
    s.buf[i] = value;
    const px = i % s.w;
    if (px > 0) stack.push(i - 1);
    if (px < s.w - 1) stack.push(i + 1);
    if (i >= s.w) stack.push(i - s.w);
    if (i + s.w < s.buf.length) stack.push(i + s.w);
  }
  return true;
}

function fillPolygon(s, pts, value) {
  // even-odd scanline fill at pixel centres: whole pixels, one value
  const ys = pts.map((p) => p[1]);
  const y0 = Math.max(0, Math.min(...ys)), y1 = Math.min(s.h - 1, Math.max(...ys));
  for (let y = y0; y <= y1; y++) {
    const cy = y + 0.5, xs = [];
    for (let i = 0; i < pts.length; i++) {
      const [ax, ay] = pts[i], [bx, by] = pts[(i + 1) % pts.length];
      if ((ay + 0.5 <= cy) !== (by + 0.5 <= cy)) xs.push(ax + (cy - ay - 0.5) * (bx - ax) / (by - ay) + 0.5);
    }
    xs.sort((a, b) => a - b);
    for (let k = 0; k + 1 < xs.length; k += 2) {
      const from = Math.max(0, Math.ceil(xs[k] - 0.5)), to = Math.min(s.w - 1, Math.floor(xs[k + 1] - 0.5));
      for (let x = from; x <= to; x++) s.buf[y * s.w + x] = value;
    }
  }
  for (let i = 0; i < pts.length; i++) edge(s, pts[i], pts[(i + 1) % pts.length], value);
}

function edge(s, [x0, y0], [x1, y1], value) {
  // the outline one pixel wide: the polygon's own pixels, whatever the brush size
  const n = Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0), 1);
  for (let i = 0; i <= n; i++) {
    const x = Math.round(x0 + (x1 - x0) * i / n), y = Math.round(y0 + (y1 - y0) * i / n);
    if (x >= 0 && y >= 0 && x < s.w && y < s.h) s.buf[y * s.w + x] = value;
  }
}

function paintValue(s) {
  if (s.tool === "erase") return s.strokes ? UNMARKED : 0;
  if (s.objects) return s.cls === 0 ? 0 : s.current;
  return s.cls;
}

function nextId(s) {
  let top = 0;
  for (let i = 0; i < s.buf.length; i++) if (s.buf[i] > top) top = s.buf[i];
  return Math.min(65535, top + 1);
}

function aim(s, x, y, onBackground) {
  // objects: the object an action starting at (x, y) paints: the one there, else `onBackground()`
  if (!s.objects) return;
  const under = x >= 0 && y >= 0 && x < s.w && y < s.h ? s.buf[y * s.w + x] : 0;
  s.current = under > 0 ? under : onBackground();
}

function listen(s) {
  let drag = null;
  s.canvas.addEventListener("pointerdown", (ev) => {
    if (!s.w) return;
    s.canvas.setPointerCapture(ev.pointerId);
    const p = toImage(s, ev);
    if (s.tool === "pan" || ev.button === 1) {
      drag = { pan: true, x: ev.clientX, y: ev.clientY, panX: s.panX, panY: s.panY };
      return;
    }
    if (s.tool === "object") {  // the object under the click, found on the server (seg/labels/assist.py)
      if (p[0] < 0 || p[1] < 0 || p[0] >= s.w || p[1] >= s.h) return;
      s.status.textContent = "Finding the object …";
      s.click(p[0], p[1], s.objects ? Math.min(s.cls, 1) : paintValue(s));
      return;
    }
    if (s.tool === "fill") {
      aim(s, p[0], p[1], () => s.current || nextId(s));
      const action = begin(s);
      if (flood(s, p[0], p[1], paintValue(s))) { paintAll(s); draw(s); commit(s, action); }
      return;
    }
    if (s.tool === "polygon") {
      const first = s.polygon[0];
      const near = first && Math.hypot(first[0] - p[0], first[1] - p[1]) * s.zoom < 8;
      if (near && s.polygon.length >= 3) return closePolygon(s);
      s.polygon.push(p);
      draw(s);
      return;
    }
    aim(s, p[0], p[1], () => nextId(s));
    drag = { action: begin(s), last: p };
    s.dirty = [p[0], p[1], p[0], p[1]];
    stamp(s, p[0], p[1], paintValue(s));
    paintRect(s, ...s.dirty);
    draw(s);
  });
  s.canvas.addEventListener("pointermove", (ev) => {
    if (!drag) return;
    if (drag.pan) {
      const r = s.canvas.getBoundingClientRect(), k = s.canvas.width / r.width;
      s.panX = drag.panX + (ev.clientX - drag.x) * k;
      s.panY = drag.panY + (ev.clientY - drag.y) * k;
      draw(s);
      return;
    }
    const p = toImage(s, ev);
    s.dirty = [p[0], p[1], p[0], p[1]];
    line(s, drag.last, p, paintValue(s));
    drag.last = p;
    paintRect(s, ...s.dirty);
    draw(s);
  });
  const end = () => {
    if (drag && drag.action) commit(s, drag.action);
    drag = null;
  };
  s.canvas.addEventListener("pointerup", end);
  s.canvas.addEventListener("pointercancel", end);
  s.canvas.addEventListener("dblclick", () => { if (s.tool === "polygon" && s.polygon.length >= 3) closePolygon(s); });
  s.canvas.addEventListener("wheel", (ev) => {
    ev.preventDefault();
    const r = s.canvas.getBoundingClientRect(), k = s.canvas.width / r.width;
    zoomBy(s, ev.deltaY < 0 ? 1.25 : 0.8, (ev.clientX - r.left) * k, (ev.clientY - r.top) * k);
  }, { passive: false });
  s.canvas.addEventListener("keydown", (ev) => {
    if ((ev.ctrlKey || ev.metaKey) && ev.key === "z") { ev.preventDefault(); undo(s); return; }
    const tool = { b: "brush", e: "erase", f: "fill", p: "polygon", o: "object", h: "pan" }[ev.key];
    if (tool) setTool(s, tool);
    else if (/^[1-9]$/.test(ev.key) && Number(ev.key) - 1 < s.classes.length) setClass(s, Number(ev.key) - 1);
    else if (ev.key === "Escape") { s.polygon = []; draw(s); }
  });
}

function closePolygon(s) {
  aim(s, s.polygon[0][0], s.polygon[0][1], () => nextId(s));
  const action = begin(s);
  s.dirty = [0, 0, 0, 0];
  fillPolygon(s, s.polygon, paintValue(s));
  s.polygon = [];
  paintAll(s);
  draw(s);
  commit(s, action);
}

function zoomBy(s, factor, cx, cy) {
  cx = cx ?? s.canvas.width / 2;
  cy = cy ?? s.canvas.height / 2;
  const z = Math.min(32, Math.max(0.05, s.zoom * factor));
  s.panX = cx - (cx - s.panX) * (z / s.zoom);
  s.panY = cy - (cy - s.panY) * (z / s.zoom);
  s.zoom = z;
  draw(s);
}

function fit(s) {
  s.zoom = Math.min(s.canvas.width / s.w, s.canvas.height / s.h);
  s.panX = (s.canvas.width - s.w * s.zoom) / 2;
  s.panY = (s.canvas.height - s.h * s.zoom) / 2;
  draw(s);
}

export default function (component) {
  const { data, setTriggerValue, parentElement } = component;
  let s = states.get(parentElement);
  if (!s) {
    s = build(parentElement);
    states.set(parentElement, s);
  }
  s.click = (x, y, value) => setTriggerValue("click", { id: s.id, x, y, value });
  s.send = () => {
    s.status.textContent = "Saving …";
    setTriggerValue("change", { id: s.id, width: s.w, height: s.h, runs: encode(s.buf) });
  };
  if (!data) return;
  s.classes = data.classes;
  s.strokes = !!data.strokes;
  s.objects = !!data.objects && !s.strokes;
  legend(s, data.classes, s.strokes);
  if (data.opacity !== undefined && s.id !== data.id) s.opacity.value = String(Math.round(100 * data.opacity));
  s.status.textContent = data.status || "";
  const fresh = s.id !== data.id || s.version !== data.version;
  if (!fresh) return;
  const same = s.id === data.id;
  s.id = data.id;
  s.version = data.version;
  s.w = data.width;
  s.h = data.height;
  if (same && s.buf) s.undo.push(encode(s.buf));  // the page changed it (an object found): undo takes it back
  s.buf = decode(data.runs, s.w * s.h, s.strokes ? UNMARKED : 0);
  if (!same) { s.undo = []; s.current = 0; }
  s.maskCanvas.width = s.w; s.maskCanvas.height = s.h;
  s.imageCanvas.width = s.w; s.imageCanvas.height = s.h;
  const side = Math.min(s.root.clientWidth || 800, 1000);
  s.canvas.width = side;
  s.canvas.height = Math.round(side * Math.min(1.2, Math.max(0.5, s.h / s.w)));
  paintAll(s);
  const img = new Image();
  img.onload = () => {
    s.imageCanvas.getContext("2d").drawImage(img, 0, 0, s.w, s.h);
    if (!same) fit(s); else draw(s);
  };
  img.src = data.image;
  if (!same) fit(s);
}
