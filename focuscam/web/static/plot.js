// focuscam: a small line/scatter plot on a canvas, with axes, ticks and labels (no library).
"use strict";

function niceTicks(lo, hi, target) {
  if (!(hi > lo)) { hi = lo + 1; }
  const raw = (hi - lo) / (target || 5);
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
  const ticks = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) {
    ticks.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  }
  return ticks;
}

function fmt(v) {
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) { return v.toExponential(1); }
  return String(Math.round(v * 1000) / 1000);
}

// series: [{points: [[x, y], ...], color, line: bool, dots: bool}], marks: [{x, color, label}]
function drawPlot(canvas, series, opts) {
  const ctx = canvas.getContext("2d");
  const W = canvas.width, H = canvas.height;
  const m = { l: 58, r: 10, t: 8, b: 34 };
  ctx.clearRect(0, 0, W, H);
  ctx.fillStyle = "#111418";
  ctx.fillRect(0, 0, W, H);
  const all = [];
  series.forEach((s) => s.points.forEach((p) => { if (isFinite(p[0]) && isFinite(p[1])) { all.push(p); } }));
  (opts.marks || []).forEach((k) => { if (isFinite(k.x)) { all.push([k.x, NaN]); } });
  let x0 = opts.xmin, x1 = opts.xmax;
  if (x0 === undefined || x1 === undefined) {
    const xs = all.map((p) => p[0]);
    x0 = xs.length ? Math.min(...xs) : 0;
    x1 = xs.length ? Math.max(...xs) : 1;
  }
  const ys = all.map((p) => p[1]).filter((v) => isFinite(v));
  let y0 = ys.length ? Math.min(...ys) : 0, y1 = ys.length ? Math.max(...ys) : 1;
  if (!(x1 > x0)) { x1 = x0 + 1; }
  if (!(y1 > y0)) { y1 = y0 + 1; }
  const pad = (y1 - y0) * 0.08;
  y0 -= pad; y1 += pad;
  const px = (x) => m.l + (x - x0) / (x1 - x0) * (W - m.l - m.r);
  const py = (y) => H - m.b - (y - y0) / (y1 - y0) * (H - m.t - m.b);
  ctx.strokeStyle = "#2c333b";
  ctx.fillStyle = "#9aa3ad";
  ctx.font = "11px sans-serif";
  ctx.lineWidth = 1;
  ctx.textAlign = "center";
  niceTicks(x0, x1, 6).forEach((v) => {
    ctx.beginPath(); ctx.moveTo(px(v), m.t); ctx.lineTo(px(v), H - m.b); ctx.stroke();
    ctx.fillText(fmt(v), px(v), H - m.b + 13);
  });
  ctx.textAlign = "right";
  niceTicks(y0, y1, 4).forEach((v) => {
    ctx.beginPath(); ctx.moveTo(m.l, py(v)); ctx.lineTo(W - m.r, py(v)); ctx.stroke();
    ctx.fillText(fmt(v), m.l - 4, py(v) + 4);
  });
  ctx.textAlign = "center";
  ctx.fillText(opts.xlabel || "", (m.l + W - m.r) / 2, H - 4);
  ctx.save();
  ctx.translate(11, (m.t + H - m.b) / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.fillText(opts.ylabel || "", 0, 0);
  ctx.restore();
  ctx.strokeStyle = "#5b6570";
  ctx.strokeRect(m.l, m.t, W - m.l - m.r, H - m.t - m.b);
  (opts.marks || []).forEach((k) => {
    if (!isFinite(k.x)) { return; }
    ctx.strokeStyle = k.color;
    ctx.setLineDash(k.dash ? [4, 3] : []);
    ctx.beginPath(); ctx.moveTo(px(k.x), m.t); ctx.lineTo(px(k.x), H - m.b); ctx.stroke();
    ctx.setLineDash([]);
    ctx.fillStyle = k.color;
    ctx.textAlign = k.left ? "right" : "left";
    ctx.fillText(k.label || "", px(k.x) + (k.left ? -3 : 3), m.t + 11 + (k.row || 0) * 12);
  });
  series.forEach((s) => {
    const pts = s.points.filter((p) => isFinite(p[0]) && isFinite(p[1]));
    ctx.strokeStyle = s.color; ctx.fillStyle = s.color; ctx.lineWidth = s.width || 1.5;
    if (s.line && pts.length > 1) {
      ctx.beginPath();
      pts.forEach((p, i) => (i ? ctx.lineTo(px(p[0]), py(p[1])) : ctx.moveTo(px(p[0]), py(p[1]))));
      ctx.stroke();
    }
    if (s.dots) {
      pts.forEach((p) => { ctx.beginPath(); ctx.arc(px(p[0]), py(p[1]), 2.5, 0, 2 * Math.PI); ctx.fill(); });
    }
  });
}

window.focusPlot = { drawPlot, niceTicks };
