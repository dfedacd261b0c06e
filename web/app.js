// vmstatd's web page: the VM list and, per VM, its figures and charts (runstate per vCPU, ready %,
// exits/s), from the JSON routes, refreshed every sample interval. Whatever the daemon sends
// reaches the DOM as text (textContent, text nodes), never as markup; the page runs under a
// Content-Security-Policy without inline script or style, so uPlot and this file style through
// CSSOM and classes only.
"use strict";

const STATES = ["running", "runnable", "blocked", "offline"];
const STATE_COLORS = { running: "#2f9e44", runnable: "#f76707", blocked: "#a5d8ff", offline: "#dee2e6" };
const PALETTE = ["#1971c2", "#c2255c", "#0c8599", "#e67700", "#6741d9", "#2f9e44", "#e03131", "#5c940d", "#9c36b5", "#495057"];
const READY_LIMIT = 10;   // % ready per vCPU beyond which users feel it
const KEEP_POINTS = 720;  // history points a VM's charts keep
const LINE_HEIGHT = 220, RUNSTATE_HEIGHT = 140; // px

// /vms/<name>: the page shows that VM only
const focus = (() => {
  const m = location.pathname.match(/^\/vms\/([^/]+)$/);
  try {
    return m ? decodeURIComponent(m[1]) : null;
  } catch (e) {
    return m[1];
  }
})();
const views = new Map(); // VM name -> VmView
let intervalMs = 5000;

// ---- DOM and formatting ----------------------------------------------------------------------

// An element with attributes ("text" sets textContent) and children (strings become text nodes).
function h(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "text") e.textContent = v;
    else if (k === "class") e.className = v;
    else e.setAttribute(k, v);
  }
  e.append(...children);
  return e;
}

const $ = (id) => document.getElementById(id);
const num = (v) => (typeof v === "number" && isFinite(v) ? v : null);
const fmtPct = (v) => (num(v) === null ? "–" : `${v.toFixed(1)} %`);
const fmtRate = (v) => (num(v) === null ? "–" : v === 0 ? "0" : v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0));
const fmtTime = (unix) =>
  num(unix) === null ? "–" : new Date(unix * 1000).toISOString().replace("T", " ").slice(0, 19) + " UTC";

function fmtDuration(s) {
  if (num(s) === null) return "–";
  if (s < 60) return `${s.toFixed(1)} s`;
  const d = Math.floor(s / 86400), hr = Math.floor(s / 3600) % 24, m = Math.floor(s / 60) % 60, sec = Math.floor(s) % 60;
  const two = (n) => String(n).padStart(2, "0");
  if (d) return `${d}d ${two(hr)}h ${two(m)}m`;
  if (hr) return `${hr}h ${two(m)}m ${two(sec)}s`;
  return `${m}m ${two(sec)}s`;
}

// Exits per second of a VM document: every vCPU, every reason.
function exitsPerSec(vm) {
  let sum = 0;
  for (const c of vm.vcpus || []) for (const v of Object.values(c.exits_per_sec || {})) sum += num(v) || 0;
  return sum;
}

// "crashed: worker_died (SIGKILL)", "stopped: exit_code 65536"; null while it runs
function endedText(vm) {
  if (vm.state !== "crashed" && vm.state !== "stopped") return null;
  let s = `${vm.state}: ${vm.reason ?? "unknown reason"}`;
  if (vm.signal) s += ` (${vm.signal})`;
  if (vm.exit_code !== undefined) s += ` ${vm.exit_code}`;
  return s;
}

function showText(node, text) {
  node.textContent = text || "";
  node.hidden = !text;
}

// ---- the daemon --------------------------------------------------------------------------------

// GET path as JSON; an Error with the daemon's own message (and .status) otherwise.
async function getJSON(path) {
  let resp;
  try {
    resp = await fetch(path, { headers: { Accept: "application/json" }, cache: "no-store" });
  } catch (e) {
    throw Object.assign(new Error(`cannot reach vmstatd (GET ${path}): ${e.message}`), { status: 0 });
  }
  const body = await resp.json().catch(() => null);
  if (!resp.ok) {
    const why = body && typeof body.error === "string" ? body.error : resp.statusText;
    throw Object.assign(new Error(`GET ${path}: ${resp.status} ${why}`), { status: resp.status });
  }
  if (body === null) throw Object.assign(new Error(`GET ${path}: the answer is not JSON`), { status: resp.status });
  return body;
}

// ---- the VM list -------------------------------------------------------------------------------

function renderList(list) {
  const rows = (list.vms || []).map((vm) => {
    const ready = num(vm.ready_pct);
    const tr = h("tr", { "data-vm": vm.name },
      h("th", { scope: "row" }, h("a", { href: `/vms/${encodeURIComponent(vm.name)}`, text: vm.name })),
      h("td", {}, h("span", { class: `state state-${vm.state}`, text: vm.state })),
      h("td", { class: "num", text: String(vm.vcpus) }),
      h("td", { class: ready !== null && ready > READY_LIMIT ? "num hot" : "num", text: fmtPct(ready) }),
      h("td", { class: "num", text: fmtPct(vm.steal_pct && vm.steal_pct.kvm) }),
      h("td", { class: "num", text: fmtRate(vm.exits_per_sec) }),
      h("td", { class: "num", text: fmtDuration(vm.uptime_seconds) }));
    if (vm.name === focus) tr.className = "focused";
    return tr;
  });
  $("vms").tBodies[0].replaceChildren(...rows);
  $("no-vms").hidden = rows.length > 0;
}

// ---- one VM: figures and charts ----------------------------------------------------------------

class VmView {
  constructor(name) {
    this.name = name;
    this.id = null;           // the VM's id: a new one (re-created) starts the history anew
    this.points = [];         // history points, oldest first
    this.byReason = new Map(); // sample_time_unix -> {reason: exits/s}, seen since the page opened
    this.charts = {};         // key -> {sig, plot}
    this.raw = [];            // per vCPU: runstate % per state, unstacked (the legend's values)
    this.badge = h("span", { class: "state" });
    this.ended = h("p", { class: "notice", hidden: "" });
    this.alert = h("p", { class: "alert", role: "alert", hidden: "" });
    this.figures = h("dl", { class: "figures" });
    const waiting = () => h("p", { class: "empty", text: "Waiting for the first sample…" });
    this.ready = h("div", { class: "chart ready" }, waiting());
    this.exits = h("div", { class: "chart exits" }, waiting());
    this.vcpus = h("div", { class: "vcpus" }, waiting());
    this.section = h("section", { class: "vm", "data-vm": name },
      h("h2", {}, h("a", { href: `/vms/${encodeURIComponent(name)}`, text: name }), " ", this.badge),
      this.ended, this.alert, this.figures,
      h("div", { class: "pair" },
        h("div", { class: "panel" }, h("h3", { text: "CPU ready %" }),
          h("p", { class: "caption", text: `per vCPU and the VM; dashed: the ${READY_LIMIT} % users feel` }), this.ready),
        h("div", { class: "panel" }, h("h3", { text: "Exits/s by reason" }),
          h("p", { class: "caption", text: "userspace exits of KVM_RUN; by reason since this page opened" }), this.exits)),
      h("div", { class: "panel" }, h("h3", { text: "Runstate per vCPU" }), stateKey(), this.vcpus));
  }

  // the VM document (GET /vms/<name>): figures, state, this sample's exits by reason
  update(vm) {
    if (this.id !== null && vm.id !== this.id) this.reset();
    this.id = vm.id;
    const exits = exitsPerSec(vm);
    Object.assign(this.section.dataset, {
      state: vm.state, vcpus: String(vm.vcpus.length), sampleTime: String(vm.sample_time_unix),
      readyPct: String(vm.ready_pct), stealPct: String(vm.steal_pct.kvm), exitsPerSec: String(exits),
      uptimeSeconds: String(vm.uptime_seconds),
    });
    this.badge.className = `state state-${vm.state}`;
    this.badge.textContent = vm.state;
    showText(this.ended, endedText(vm));
    const figure = (key, label, value, hot) =>
      h("div", { class: hot ? "figure hot" : "figure", "data-figure": key },
        h("dt", { text: label }), h("dd", { text: value }));
    this.figures.replaceChildren(
      figure("ready", "CPU ready", fmtPct(vm.ready_pct), vm.ready_pct > READY_LIMIT),
      figure("steal", "Steal (kvm / xen)", `${fmtPct(vm.steal_pct.kvm)} / ${fmtPct(vm.steal_pct.xen)}`),
      figure("exits", "Exits/s", fmtRate(exits)),
      figure("uptime", "Uptime", fmtDuration(vm.uptime_seconds)),
      figure("vcpus", "vCPUs", String(vm.vcpus.length)),
      figure("sample", "Sample", fmtTime(vm.sample_time_unix)));
    const rates = {}; // the reasons that ever happened
    for (const c of vm.vcpus)
      for (const [reason, n] of Object.entries(c.exits || {}))
        if (n > 0) rates[reason] = (rates[reason] || 0) + (num(c.exits_per_sec[reason]) || 0);
    this.byReason.set(vm.sample_time_unix, rates);
  }

  reset() {
    this.points = [];
    this.byReason.clear();
  }

  // new history points: the whole window first, then what is newer than the last one known
  async fetchHistory(vm) {
    const base = `/vms/${encodeURIComponent(this.name)}/history?last=`;
    const last = this.points.length ? this.points[this.points.length - 1].sample_time_unix : null;
    let want = "max";
    if (last !== null) {
      const missed = Math.ceil((vm.sample_time_unix - last) / (vm.interval_seconds || 1));
      if (missed <= 0) return;
      if (missed < this.points.length) want = String(missed + 1);
    }
    let hist;
    try {
      hist = await getJSON(base + want);
    } catch (e) {
      if (want === "max" || e.status !== 400) throw e;
      this.reset(); // fewer points than that left in the daemon's history
      hist = await getJSON(base + "max");
      want = "max";
    }
    const fresh = want === "max" ? hist.points : hist.points.filter((p) => p.sample_time_unix > last);
    const nvcpus = vm.vcpus.length;
    this.points = (want === "max" ? fresh : this.points.concat(fresh))
      .filter((p) => p.vcpus.length === nvcpus).slice(-KEEP_POINTS);
    const oldest = this.points.length ? this.points[0].sample_time_unix : Infinity;
    for (const t of this.byReason.keys()) if (t < oldest) this.byReason.delete(t);
  }

  render(nvcpus) {
    const pts = this.points;
    const xs = pts.map((p) => p.sample_time_unix);
    if (!pts.length) {
      for (const key of Object.keys(this.charts)) this.drop(key);
      const none = () => h("p", { class: "empty", text: "No samples in the history yet." });
      this.ready.replaceChildren(none());
      this.exits.replaceChildren(none());
      this.vcpus.replaceChildren(none());
      return;
    }
    // A vCPU interval of 0 s measured nothing (its worker published nothing new): a gap, not 0 %.
    const of = (c, v) => (c.interval_seconds > 0 ? v : null);
    const vmOf = (p, v) => (p.vcpus.some((c) => c.interval_seconds > 0) ? v : null);
    // CPU ready %: the VM, each vCPU, the threshold
    const ready = [xs, pts.map((p) => vmOf(p, p.ready_pct))];
    const readySeries = [{ label: "VM", stroke: "#212529", width: 2 }];
    for (let i = 0; i < nvcpus; i++) {
      ready.push(pts.map((p) => of(p.vcpus[i], p.vcpus[i].ready_pct)));
      readySeries.push({ label: `vCPU ${i}`, stroke: PALETTE[i % PALETTE.length], width: 1 });
    }
    ready.push(xs.map(() => READY_LIMIT));
    readySeries.push({ label: `${READY_LIMIT} %`, stroke: "#e03131", width: 1, dash: [6, 4] });
    const readyRange = (u, min, max) => [0, Math.max(READY_LIMIT * 1.5, max * 1.1)];
    this.plot("ready", this.ready, lineOpts(readySeries, pctAxis, fmtPct, readyRange), ready);

    // exits/s: the total over the history, each reason since the page opened
    const exits = [xs, pts.map((p) => vmOf(p, p.vcpus.reduce((s, c) => s + c.exits_per_sec, 0)))];
    const exitSeries = [{ label: "total", stroke: "#212529", width: 2 }];
    const reasons = new Set();
    for (const r of this.byReason.values()) for (const k of Object.keys(r)) reasons.add(k);
    [...reasons].sort().forEach((reason, k) => {
      exits.push(xs.map((t) => (this.byReason.has(t) ? this.byReason.get(t)[reason] ?? 0 : null)));
      exitSeries.push({ label: reason, stroke: PALETTE[k % PALETTE.length], width: 1, spanGaps: true });
    });
    const exitRange = (u, min, max) => [0, Math.max(1, max * 1.1)];
    this.plot("exits", this.exits, lineOpts(exitSeries, rateAxis, fmtRate, exitRange), exits);

    // runstate per vCPU, stacked: running at the bottom, offline on top
    if (this.vcpus.children.length !== nvcpus || !this.vcpus.querySelector(".runstate")) {
      for (const key of Object.keys(this.charts)) if (key.startsWith("vcpu")) this.drop(key);
      this.vcpus.replaceChildren(...Array.from({ length: nvcpus }, (_, i) =>
        h("div", { class: "chart runstate", "data-vcpu": String(i) },
          h("h4", { text: `vCPU ${i}` }), h("p", { class: "caption" }))));
    }
    this.raw = [];
    for (let i = 0; i < nvcpus; i++) {
      const raw = STATES.map((s) => pts.map((p) => of(p.vcpus[i], p.vcpus[i].runstate_pct[s])));
      this.raw.push(raw);
      let acc = xs.map(() => 0);
      const stacked = raw.map((r) => (acc = acc.map((a, k) => (r[k] === null ? null : a + r[k]))));
      const box = this.vcpus.children[i];
      const latest = STATES.map((s, k) => `${s} ${fmtPct(raw[k][raw[k].length - 1])}`).join(" · ");
      box.querySelector(".caption").textContent = latest;
      this.plot(`vcpu${i}`, box, runstateOpts(this, i), [xs, ...stacked]);
    }
  }

  // draws data into container, reusing the chart while its series stay the same
  plot(key, container, opts, data) {
    const sig = opts.series.map((s) => s.label).join("\u0000");
    const c = this.charts[key];
    if (c && c.sig === sig && container.contains(c.plot.root)) {
      c.plot.setData(data);
    } else {
      this.drop(key);
      if (container.firstChild && container.firstChild.className === "empty") container.replaceChildren();
      opts.width = chartWidth(container);
      this.charts[key] = { sig, plot: new uPlot(opts, data, container) };
    }
    showLatest(this.charts[key].plot);
  }

  drop(key) {
    if (this.charts[key]) this.charts[key].plot.destroy();
    delete this.charts[key];
  }

  resize() {
    for (const { plot } of Object.values(this.charts))
      plot.setSize({ width: chartWidth(plot.root.parentNode), height: plot.height });
  }
}

// The legend shows the newest point's values while the cursor is off the chart.
function showLatest(u) {
  if (u.cursor.idx == null && u.data[0].length) u.setLegend({ idx: u.data[0].length - 1 });
}

function stateKey() {
  return h("p", { class: "key" }, ...STATES.map((s) => h("span", { class: `swatch swatch-${s}`, text: s })));
}

function chartWidth(container) {
  return Math.max(240, Math.floor(container.clientWidth || 600));
}

const pctAxis = { values: (u, ticks) => ticks.map((t) => `${t} %`), size: 56 };
const rateAxis = { values: (u, ticks) => ticks.map((t) => fmtRate(t)), size: 56 };

function lineOpts(series, yAxis, fmt, range) {
  return {
    height: LINE_HEIGHT,
    scales: { x: { time: true }, y: { range } },
    axes: [{}, yAxis],
    series: [{}, ...series.map((s) => ({ points: { show: false }, ...s, value: (u, v) => fmt(v) }))],
    legend: { live: true },
    cursor: { drag: { x: false, y: false } },
    hooks: { setCursor: [showLatest] },
  };
}

// Stacked series: each is the sum of those below it, the band down to the one below filled in
// its state's colour; the legend would show a state's own %.
function runstateOpts(view, i) {
  return {
    height: RUNSTATE_HEIGHT,
    scales: { x: { time: true }, y: { range: [0, 100] } },
    axes: [{}, { ...pctAxis, splits: () => [0, 50, 100] }],
    series: [{}, ...STATES.map((s, k) => ({
      label: s, stroke: STATE_COLORS[s], fill: k === 0 ? STATE_COLORS[s] : undefined, width: 1, points: { show: false },
      value: (u, v, si, idx) => (idx == null ? "–" : fmtPct(view.raw[i][k][idx])),
    }))],
    bands: STATES.slice(1).map((s, k) => ({ series: [k + 2, k + 1], fill: STATE_COLORS[s] })),
    legend: { show: false },
    cursor: { drag: { x: false, y: false } },
  };
}

// ---- refreshing ----------------------------------------------------------------------------------

function view(name) {
  let v = views.get(name);
  if (!v) {
    v = new VmView(name);
    views.set(name, v);
  }
  return v;
}

// the sections of the VMs shown, in this order; those gone leave
function placeSections(names) {
  for (const [name, v] of views)
    if (!names.includes(name)) {
      for (const key of Object.keys(v.charts)) v.drop(key);
      views.delete(name);
    }
  $("details").replaceChildren(...names.map((n) => view(n).section));
}

async function refreshVm(v) {
  try {
    const vm = await getJSON(`/vms/${encodeURIComponent(v.name)}`);
    v.update(vm);
    await v.fetchHistory(vm);
    showText(v.alert, null);
    if (typeof uPlot === "undefined") throw new Error("charts unavailable: /static/uPlot.iife.min.js did not load");
    v.render(vm.vcpus.length);
  } catch (e) {
    showText(v.alert, e.message); // the figures and charts of the last good sample stay
    if (v.id === null)
      for (const p of v.section.querySelectorAll(".empty")) p.textContent = "No data: see the error above.";
  }
}

async function refresh() {
  try {
    const list = await getJSON("/vms");
    intervalMs = Math.max(100, (num(list.interval_seconds) || 5) * 1000);
    showText($("error"), null);
    renderList(list);
    const names = focus ? [focus] : list.vms.map((vm) => vm.name);
    placeSections(names);
    await Promise.all(names.map((n) => refreshVm(views.get(n))));
    const status = $("status");
    status.dataset.sampleTime = String(list.sample_time_unix);
    status.textContent = `Sample ${fmtTime(list.sample_time_unix)} · every ${+(intervalMs / 1000).toPrecision(2)} s · ` +
      (focus ? `VM ${focus}` : `${list.vms.length} VM${list.vms.length === 1 ? "" : "s"}`);
  } catch (e) {
    showText($("error"), `${e.message} — showing the last data received`);
  }
  setTimeout(refresh, intervalMs);
}

if (focus) {
  $("overview-title").replaceChildren("Virtual machines · ", h("a", { href: "/", text: "show all" }));
  document.title = `${focus} · vmstatd`;
}
let resizeTimer = null;
window.addEventListener("resize", () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => views.forEach((v) => v.resize()), 150);
});
refresh();
