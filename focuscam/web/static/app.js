// focuscam serve: the page. Talks to the JSON API, reads /stream.mjpg and /api/events.
"use strict";

const params = new URLSearchParams(location.search);
const TOKEN = params.get("token");
const CLIENT = sessionStorage.getItem("focuscam-client") ||
  ("page-" + Math.random().toString(36).slice(2, 10));
sessionStorage.setItem("focuscam-client", CLIENT);
const NAME = params.get("name") || ("browser " + CLIENT.slice(5, 9));
const $ = (id) => document.getElementById(id);

// What the tests and the page both read: the page's own view of the microscope.
const fc = window.focuscam = {
  state: null, frames: 0, seq: -1, jpegBytes: 0, curve: [], result: null, history: [],
  roi: null, drag: null, lastError: "",
};

function url(path, extra) {
  const q = new URLSearchParams(extra || {});
  if (TOKEN) { q.set("token", TOKEN); }
  const s = q.toString();
  return path + (s ? "?" + s : "");
}

function message(text, isError) {
  const el = $("message");
  el.textContent = text || "";
  el.classList.toggle("error", !!isError);
  if (isError) { fc.lastError = text; }
}

async function api(path, body) {
  const headers = { "X-Focuscam-Client": CLIENT, "X-Focuscam-Name": NAME, "Content-Type": "application/json" };
  if (TOKEN) { headers.Authorization = "Bearer " + TOKEN; }
  let resp;
  try {
    resp = await fetch(path, { method: "POST", headers, body: JSON.stringify(body || {}) });
  } catch (err) {
    message("the server does not answer: " + err.message, true);
    return null;
  }
  let data = {};
  try { data = await resp.json(); } catch (err) { data = { error: "HTTP " + resp.status }; }
  if (!resp.ok) {
    message(data.error || ("HTTP " + resp.status), true);
    return null;
  }
  if (data.message) { message(data.message); }
  if (data.snapshot) { message("snapshot saved on the server: " + data.snapshot); }
  if (data.state) { showState(data); }
  return data;
}

// ------------------------------------------------------------------ units
function unit() { return (fc.state && fc.state.unit) || { name: "um", um_per_unit: 1 }; }
const toUnit = (um) => um / unit().um_per_unit;
const toUm = (v) => v * unit().um_per_unit;

// ------------------------------------------------------------------ live view (MJPEG over fetch)
function indexOf(buf, pat, from) {
  outer: for (let i = from || 0; i <= buf.length - pat.length; i++) {
    for (let j = 0; j < pat.length; j++) { if (buf[i + j] !== pat[j]) { continue outer; } }
    return i;
  }
  return -1;
}

function viewWidth() {
  // the width the frame is shown at, in device pixels: the server scales frames down to it
  const box = $("view"), f = (fc.state && fc.state.frame) || [box.clientWidth, box.clientHeight];
  const shown = Math.min(box.clientWidth, box.clientHeight * f[0] / f[1]) * (window.devicePixelRatio || 1);
  return Math.max(64, Math.ceil(shown));
}

async function readStream() {
  const sep = new TextEncoder().encode("\r\n\r\n");
  for (;;) {
    try {
      const resp = await fetch(url("stream.mjpg", { width: viewWidth() }), { cache: "no-store" });
      if (!resp.ok) { message("live view: HTTP " + resp.status, true); await sleep(2000); continue; }
      const reader = resp.body.getReader();
      let buf = new Uint8Array(0);
      for (;;) {
        const { value, done } = await reader.read();
        if (done) { break; }
        const joined = new Uint8Array(buf.length + value.length);
        joined.set(buf); joined.set(value, buf.length); buf = joined;
        for (;;) {
          const end = indexOf(buf, sep, 0);
          if (end < 0) { break; }
          const head = new TextDecoder().decode(buf.slice(0, end));
          const len = parseInt((head.match(/Content-Length: (\d+)/i) || [])[1], 10);
          if (!(len >= 0) || buf.length < end + 4 + len) { break; }
          const jpeg = buf.slice(end + 4, end + 4 + len);
          buf = buf.slice(end + 4 + len + 2);
          const seq = parseInt((head.match(/X-Frame-Seq: (\d+)/i) || [])[1], 10);
          showFrame(jpeg, seq);
        }
      }
    } catch (err) {
      message("live view interrupted: " + err.message, true);
    }
    await sleep(1000);
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let pendingUrl = null;

function showFrame(jpeg, seq) {
  const img = $("live");
  if (pendingUrl) { return; } // the previous frame is still decoding: skip this one
  pendingUrl = URL.createObjectURL(new Blob([jpeg], { type: "image/jpeg" }));
  const old = img.dataset.url;
  img.onload = () => {
    if (old) { URL.revokeObjectURL(old); }
    img.dataset.url = pendingUrl;
    pendingUrl = null;
    fc.frames += 1; fc.seq = seq; fc.jpegBytes = jpeg.length;
    img.dataset.seq = String(seq);
    drawOverlay();
  };
  img.onerror = () => { URL.revokeObjectURL(pendingUrl); pendingUrl = null; };
  img.src = pendingUrl;
}

// ------------------------------------------------------------------ overlay: ROI, grid, drag
function viewport() {
  const img = $("live"), cv = $("overlay");
  const f = (fc.state && fc.state.frame) || [img.naturalWidth || 1, img.naturalHeight || 1];
  const W = cv.clientWidth, H = cv.clientHeight;
  const s = Math.min(W / f[0], H / f[1]);
  return { s, ox: (W - f[0] * s) / 2, oy: (H - f[1] * s) / 2, fw: f[0], fh: f[1] };
}

function drawOverlay() {
  const cv = $("overlay");
  if (cv.width !== cv.clientWidth || cv.height !== cv.clientHeight) {
    cv.width = cv.clientWidth; cv.height = cv.clientHeight;
  }
  const ctx = cv.getContext("2d");
  ctx.clearRect(0, 0, cv.width, cv.height);
  const v = viewport();
  const st = fc.state || {};
  const area = st.roi || { x: 0, y: 0, w: v.fw, h: v.fh };
  const fmap = st.grid && st.focus_map;
  if (fmap && fmap.length) {
    const rows = fmap.length, cols = fmap[0].length;
    const flat = fmap.flat(), lo = Math.min(...flat), hi = Math.max(...flat);
    ctx.font = "12px sans-serif"; ctx.textAlign = "center";
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const x = v.ox + (area.x + area.w * c / cols) * v.s, y = v.oy + (area.y + area.h * r / rows) * v.s;
        const w = area.w / cols * v.s, h = area.h / rows * v.s;
        const k = hi > lo ? (fmap[r][c] - lo) / (hi - lo) : 1;
        ctx.fillStyle = `rgba(${Math.round(255 * (1 - k))}, ${Math.round(200 * k)}, 60, 0.25)`;
        ctx.fillRect(x, y, w, h);
        ctx.strokeStyle = "rgba(255,255,255,0.4)"; ctx.strokeRect(x, y, w, h);
        ctx.fillStyle = "#fff"; ctx.fillText(fmap[r][c].toPrecision(3), x + w / 2, y + h / 2 + 4);
      }
    }
  }
  const roi = fc.drag ? fc.drag.roi : st.roi;
  if (roi) {
    ctx.strokeStyle = fc.drag ? "#ffd54f" : "#4fb3ff"; ctx.lineWidth = 2;
    ctx.strokeRect(v.ox + roi.x * v.s, v.oy + roi.y * v.s, roi.w * v.s, roi.h * v.s);
  }
}

function framePoint(ev) {
  const v = viewport(), r = $("overlay").getBoundingClientRect();
  const x = (ev.clientX - r.left - v.ox) / v.s, y = (ev.clientY - r.top - v.oy) / v.s;
  return [Math.min(Math.max(x, 0), v.fw), Math.min(Math.max(y, 0), v.fh)];
}

function setupDrag() {
  const cv = $("overlay");
  cv.addEventListener("mousedown", (ev) => {
    if (ev.button !== 0) { return; }
    const [x, y] = framePoint(ev), roi = fc.state && fc.state.roi;
    const inside = roi && x >= roi.x && x < roi.x + roi.w && y >= roi.y && y < roi.y + roi.h;
    fc.drag = { mode: inside ? "move" : "new", x, y, start: roi, roi: null, moved: false };
  });
  window.addEventListener("mousemove", (ev) => {
    const d = fc.drag;
    if (!d) { return; }
    const [x, y] = framePoint(ev), v = viewport();
    if (Math.max(Math.abs(x - d.x), Math.abs(y - d.y)) * v.s < 4) { return; }
    d.moved = true;
    if (d.mode === "move") {
      const nx = Math.round(Math.min(Math.max(d.start.x + x - d.x, 0), v.fw - d.start.w));
      const ny = Math.round(Math.min(Math.max(d.start.y + y - d.y, 0), v.fh - d.start.h));
      d.roi = { x: nx, y: ny, w: d.start.w, h: d.start.h };
    } else {
      const x0 = Math.floor(Math.min(x, d.x)), y0 = Math.floor(Math.min(y, d.y));
      const x1 = Math.ceil(Math.max(x, d.x)), y1 = Math.ceil(Math.max(y, d.y));
      d.roi = { x: x0, y: y0, w: Math.min(x1, v.fw) - x0, h: Math.min(y1, v.fh) - y0 };
    }
    drawOverlay();
  });
  window.addEventListener("mouseup", async () => {
    const d = fc.drag;
    fc.drag = null;
    if (d && d.moved && d.roi && d.roi.w >= 1 && d.roi.h >= 1) {
      await api("api/roi", { roi: d.roi });
    }
    drawOverlay();
  });
  cv.addEventListener("contextmenu", (ev) => { ev.preventDefault(); api("api/roi", { roi: null }); });
}

// ------------------------------------------------------------------ state and charts
function showState(st) {
  const first = !fc.state;
  fc.state = Object.assign(fc.state || {}, st);
  st = fc.state;
  const badge = $("state");
  badge.textContent = st.state + (st.phase && st.state === "scanning" ? " (" + st.phase + ")" : "");
  badge.dataset.state = st.state;
  $("reason").textContent = st.reason || "";
  $("confidence").textContent = st.confidence !== null && st.confidence !== undefined
    ? "confidence " + st.confidence.toFixed(2) : "";
  const c = st.controller;
  $("controller").textContent = (!c ? "nobody controls" : (c.client === CLIENT ? "you control" : c.name + " controls")) +
    (st.watchers > 1 ? " · " + st.watchers + " pages open" : "");
  $("controller").dataset.mine = c && c.client === CLIENT ? "1" : "0";
  $("lock").textContent = st.lock && st.lock.on ? "Unlock" : "Lock";
  $("lock").classList.toggle("on", !!(st.lock && st.lock.on));
  $("record").classList.toggle("on", !!st.recording);
  if (!st.recording) { $("record").textContent = "Record"; }
  $("grid").classList.toggle("on", !!st.grid);
  $("source").textContent = st.source + (st.source_ended ? " (ended)" : "") +
    (st.source_error ? " — " + st.source_error : "");
  document.querySelectorAll(".unit").forEach((el) => { el.textContent = unit().name; });
  if (first) { fillControls(st); readStream(); }
  if (st.measure) {
    // the choice shows "auto" until a measure is chosen (the live score is then the mode's default)
    $("measure").value = st.autofocus_measure === "auto" ? "auto" : st.measure;
    $("measure-now").textContent = st.measure;
  }
  if (st.z_um !== null && st.z_um !== undefined) { $("z").textContent = fmtZ(st.z_um); }
  if (st.last_result && !fc.result) { fc.result = st.last_result; drawCurve(); }
  drawOverlay();
}

function fmtZ(um) { return String(Number(toUnit(um).toPrecision(6))) + " " + unit().name; }

function fillControls(st) {
  const strat = $("strategy");
  strat.innerHTML = "";
  st.strategies.names.forEach((n) => strat.add(new Option(n, n, false, n === st.strategies.default)));
  const meas = $("measure");
  meas.innerHTML = "";
  meas.add(new Option("auto", "auto"));
  st.measures.forEach((n) => meas.add(new Option(n, n)));
  if (st.drive) {
    $("jog-step").value = +toUnit(st.drive.jog_um).toPrecision(6);
    $("range-lo").placeholder = +toUnit(st.drive.limits_um[0]).toPrecision(6);
    $("range-hi").placeholder = +toUnit(st.drive.limits_um[1]).toPrecision(6);
  }
  $("download").href = url("api/snapshot.png");
}

function drawCurve() {
  const u = unit().name;
  const pts = fc.curve.map((p) => [toUnit(p[0]), p[1]]);
  const series = [{ points: pts, color: "#4fb3ff", dots: true }];
  const marks = [];
  const r = fc.result;
  if (r) {
    series.push({ points: (r.model || []).map((p) => [toUnit(p[0]), p[1]]), color: "#ffb74d", line: true });
    if (r.target_z_um !== null) { marks.push({ x: toUnit(r.target_z_um), color: "#66bb6a", label: "peak", dash: true }); }
    if (r.truth) { marks.push({ x: r.truth.z, color: "#ce93d8", label: "truth", row: 1, left: true }); }
  }
  $("curve-info").textContent = pts.length + " samples" + (r ? " · " + r.state + " at " + fmtZ(r.z_um) : "");
  $("curve").dataset.points = String(pts.length);
  focusPlot.drawPlot($("curve"), series, { xlabel: "z (" + u + ")", ylabel: "score", marks });
}

function drawHistory() {
  const h = fc.history;
  if (!h.length) { return; }
  const t0 = h[h.length - 1][0];
  focusPlot.drawPlot($("history"), [{ points: h.map((p) => [p[0] - t0, p[1]]), color: "#80cbc4", line: true }],
    { xlabel: "time (s)", ylabel: (fc.state && fc.state.measure) || "score" });
}

// ------------------------------------------------------------------ events
function listen() {
  const es = new EventSource(url("api/events", { client: CLIENT, name: NAME }));
  let drawn = 0;
  es.addEventListener("state", (e) => showState(JSON.parse(e.data)));
  es.addEventListener("sample", (e) => {
    const s = JSON.parse(e.data);
    fc.history.push([s.t, s.score]);
    if (fc.history.length > 600) { fc.history.shift(); }
    $("score").textContent = s.score.toPrecision(4);
    $("fps").textContent = s.fps.toFixed(1);
    $("dropped").textContent = s.dropped;
    if (s.z_um !== null && s.z_um !== undefined) { $("z").textContent = fmtZ(s.z_um); }
    if (fc.state) { fc.state.focus_map = s.focus_map || null; fc.state.score = s.score; }
    const now = performance.now();
    if (now - drawn > 100) { drawn = now; drawHistory(); drawOverlay(); }
  });
  es.addEventListener("curve_reset", () => { fc.curve = []; fc.result = null; drawCurve(); });
  es.addEventListener("curve", (e) => {
    const c = JSON.parse(e.data);
    if (!c.lock) { fc.curve.push([c.z_um, c.score]); drawCurve(); }
  });
  es.addEventListener("result", (e) => {
    fc.result = JSON.parse(e.data);
    fc.curve = fc.result.samples.map((p) => [p.z_um, p.score]);
    drawCurve();
    message("autofocus " + fc.result.state + " at " + fmtZ(fc.result.z_um));
  });
  es.addEventListener("message", (e) => message(JSON.parse(e.data).message));
  es.addEventListener("recorded", (e) => { $("record").textContent = "Record (" + JSON.parse(e.data).frames + ")"; });
  es.addEventListener("problem", (e) => message(JSON.parse(e.data).error, true));
  es.onerror = () => { if (es.readyState === EventSource.CLOSED) { message("event stream closed", true); } };
}

// ------------------------------------------------------------------ controls and keys
function num(id) { const v = $(id).value.trim(); return v === "" ? null : Number(v); }

function autofocus() {
  const lo = num("range-lo"), hi = num("range-hi");
  const body = { strategy: $("strategy").value, measure: $("measure").value };  // auto or a name
  if (lo !== null || hi !== null) {
    if (lo === null || hi === null) { message("give both ends of the range, or neither", true); return; }
    body.range = [toUm(lo), toUm(hi)];
  }
  if (fc.state && fc.state.roi) { const r = fc.state.roi; body.roi = [r.x, r.y, r.w, r.h]; }
  fc.curve = []; fc.result = null; drawCurve();
  api("api/autofocus", body).then((d) => { if (d) { message("autofocus started"); } });
}

function jog(dir) {
  const step = num("jog-step");
  if (!(step > 0)) { message("the jog step must be a number > 0", true); return; }
  api("api/move", { by_um: dir * toUm(step) });
}

function toggleLock() { api(fc.state && fc.state.lock && fc.state.lock.on ? "api/unlock" : "api/lock"); }

function nextMeasure() {
  const list = fc.state.measures, i = list.indexOf(fc.state.measure);
  api("api/measure", { measure: list[(i + 1) % list.length] });
}

function setup() {
  $("stop").onclick = () => api("api/stop");
  $("autofocus").onclick = autofocus;
  $("lock").onclick = toggleLock;
  $("jog-up").onclick = () => jog(+1);
  $("jog-down").onclick = () => jog(-1);
  $("move").onclick = () => {
    const z = num("move-z");
    if (z === null || !isFinite(z)) { message("give a z to move to", true); return; }
    api("api/move", { z_um: toUm(z) });
  };
  $("snapshot").onclick = () => api("api/snapshot");
  $("record").onclick = () => api("api/record", { on: !(fc.state && fc.state.recording) });
  $("grid").onclick = () => api("api/grid", { on: !(fc.state && fc.state.grid) });
  $("roi-reset").onclick = () => api("api/roi", { roi: null });
  $("measure").onchange = () => api("api/measure", { measure: $("measure").value });
  $("take").onclick = () => api("api/control");
  $("release").onclick = () => api("api/release");
  document.addEventListener("keydown", (ev) => {
    if (ev.target.tagName === "INPUT" || ev.target.tagName === "SELECT") { return; }
    const keys = {
      a: autofocus, l: toggleLock, m: nextMeasure, s: () => api("api/snapshot"),
      g: () => $("grid").onclick(), r: () => $("record").onclick(),
      "+": () => jog(+1), "=": () => jog(+1), "-": () => jog(-1), "_": () => jog(-1),
      Escape: () => api("api/stop"),
    };
    const f = keys[ev.key.length === 1 ? ev.key.toLowerCase() : ev.key];
    if (f) { ev.preventDefault(); f(); }
  });
  window.addEventListener("resize", drawOverlay);
  setupDrag();
  drawCurve();
  listen(); // the live view starts with the first state (see showState)
}

setup();
