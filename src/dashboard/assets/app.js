// gantry dashboard: reads the admin API of the gateway that serves it. No framework, no
// inline script (the page's Content-Security-Policy forbids it). The admin key is kept in
// sessionStorage and sent as "Authorization: Bearer KEY"; every 401 goes back to the login.
//
// Polling: one round of JSON requests every POLL_MS while the tab is visible (never faster than
// once a second per panel), the 15-minute history every HISTORY_MS, and the live log as a
// Server-Sent Events stream read with fetch (EventSource cannot send the key's header) only
// while the "Live log" view is open.
"use strict";

const POLL_MS = 2000;
const HISTORY_MS = 5000;
const MIN_POLL_MS = 1000; // no panel is ever read more often than this, whatever asks
const LOG_ROWS = 200;
const SPARK_POINTS = 60;
const KEY_NAME = "gantry.adminKey";

const $ = (id) => document.getElementById(id);
const state = {
  key: null,
  view: "overview",
  status: null,
  metrics: null,
  circuits: null,
  health: null,
  history: null,
  registrations: null, // GET /api/registrations (404 while registration is off)
  endpoints: new Set(), // "METHOD /path" of every admin endpoint this gateway has (GET /)
  spark: new Map(), // service -> [{t, requests}]
  pollTimer: null,
  historyTimer: null,
  log: { ctrl: null, paused: false, rows: 0, filter: "" },
};

// ---- small helpers ------------------------------------------------------------------------

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

function fmtNum(v, digits) {
  if (v === null || v === undefined || Number.isNaN(v)) return "–";
  return Number(v).toLocaleString("en-US", { maximumFractionDigits: digits ?? 0, minimumFractionDigits: 0 });
}
function fmtMs(v) { return v === null || v === undefined ? "–" : fmtNum(v, v < 10 ? 2 : 1); }
function fmtPct(v) { return v === null || v === undefined ? "–" : fmtNum(v * 100, 2) + "%"; }
function fmtDuration(s) {
  if (s === null || s === undefined) return "–";
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
  if (d) return d + "d " + h + "h";
  if (h) return h + "h " + m + "m";
  if (m) return m + "m " + (s % 60) + "s";
  return s + "s";
}
function fmtAgo(iso) {
  if (!iso) return "–";
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  return fmtDuration(s) + " ago";
}
function fmtTime(ms) {
  const d = new Date(ms);
  return d.toISOString().slice(11, 23);
}

function setText(id, text) { const e = $(id); if (e) e.textContent = text; }

// ---- the admin API ------------------------------------------------------------------------

class Unauthorized extends Error {}

function headers(extra) {
  const h = Object.assign({ Accept: "application/json" }, extra || {});
  if (state.key) h.Authorization = "Bearer " + state.key;
  return h;
}

async function api(path, opts) {
  const r = await fetch(path, Object.assign({ cache: "no-store" }, opts || {}, { headers: headers(opts && opts.headers) }));
  if (r.status === 401) throw new Unauthorized("the admin API refused the key");
  let body = null;
  const type = r.headers.get("Content-Type") || "";
  if (type.startsWith("application/json")) body = await r.json();
  else body = await r.text();
  return { status: r.status, ok: r.ok, body };
}

// An endpoint of a feature this gateway may not have on: its JSON, or null on 404.
async function optionalJSON(path) {
  const r = await api(path);
  return r.ok ? r.body : null;
}

async function getJSON(path) {
  const r = await api(path);
  if (!r.ok) throw new Error(path + ": " + r.status + " " + (r.body && r.body.error ? r.body.error : ""));
  return r.body;
}

// ---- login --------------------------------------------------------------------------------

function showLogin(message) {
  stopPolling();
  stopLog();
  state.key = null;
  sessionStorage.removeItem(KEY_NAME);
  $("login").hidden = false;
  $("tabs").hidden = true;
  $("session").hidden = true;
  for (const v of document.querySelectorAll(".view")) v.hidden = true;
  setText("login-error", message || "");
  $("key").focus();
}

async function signIn(key) {
  state.key = key || null;
  try {
    // /gateway/status needs the key whenever the admin API has one
    state.status = await getJSON("/gateway/status");
    const list = await getJSON("/");
    state.endpoints = new Set((list.endpoints || []).map((e) => e.method + " " + e.path));
  } catch (e) {
    showLogin(e instanceof Unauthorized ? "The admin API refused this key." : "Cannot reach the admin API: " + e.message);
    return;
  }
  sessionStorage.setItem(KEY_NAME, key || "");
  $("login").hidden = true;
  $("tabs").hidden = false;
  $("session").hidden = false;
  setText("login-error", "");
  selectView(location.hash.slice(1) || state.view, false);
  startPolling();
}

// ---- views and tabs -----------------------------------------------------------------------

const VIEWS = ["overview", "services", "policies", "cache", "registrations", "log", "actions"];

function selectView(name, focus) {
  if (!VIEWS.includes(name) || $("tab-" + name).hidden) name = "overview";
  state.view = name;
  for (const v of VIEWS) {
    const tab = $("tab-" + v);
    const on = v === name;
    tab.setAttribute("aria-selected", on ? "true" : "false");
    tab.tabIndex = on ? 0 : -1;
    $("view-" + v).hidden = !on;
  }
  if (focus) $("tab-" + name).focus();
  if (location.hash !== "#" + name) history.replaceState(null, "", "#" + name);
  if (name === "log") startLog(); else stopLog();
  render();
}

function onTabKey(ev) {
  const visible = VIEWS.filter((v) => !$("tab-" + v).hidden);
  const i = visible.indexOf(state.view);
  let next = null;
  if (ev.key === "ArrowRight") next = visible[(i + 1) % visible.length];
  else if (ev.key === "ArrowLeft") next = visible[(i - 1 + visible.length) % visible.length];
  else if (ev.key === "Home") next = visible[0];
  else if (ev.key === "End") next = visible[visible.length - 1];
  if (next) { ev.preventDefault(); selectView(next, true); }
}

// ---- polling ------------------------------------------------------------------------------

function startPolling() {
  stopPolling();
  poll();
  pollHistory();
  state.pollTimer = setInterval(poll, POLL_MS);
  state.historyTimer = setInterval(pollHistory, HISTORY_MS);
}

function stopPolling() {
  clearInterval(state.pollTimer);
  clearInterval(state.historyTimer);
  state.pollTimer = state.historyTimer = null;
}

// One round at most every MIN_POLL_MS and never two at once: an action's refresh or a tab
// coming back asks for one, and it is put off to the first moment the rule allows.
const pacer = { last: 0, busy: false, later: null, lastHistory: 0 };
function pollSoon() {
  if (pacer.later) return;
  const wait = pacer.last + MIN_POLL_MS - Date.now();
  if (wait <= 0 && !pacer.busy) { poll(); return; }
  pacer.later = setTimeout(() => { pacer.later = null; pollSoon(); }, Math.max(wait, 100));
}

async function poll() {
  if (document.hidden || !$("login").hidden) return;
  if (pacer.busy || Date.now() - pacer.last < MIN_POLL_MS) return;
  pacer.busy = true;
  pacer.last = Date.now();
  try {
    const [status, metrics, circuits, health] = await Promise.all([
      getJSON("/gateway/status"), getJSON("/metrics/json"), getJSON("/api/circuits"),
      getJSON("/metrics/health-score"),
    ]);
    Object.assign(state, { status, metrics, circuits, health });
    state.registrations = status.registration && state.endpoints.has("GET /api/registrations") ? await optionalJSON("/api/registrations") : null;
    state.cache = state.endpoints.has("GET /api/cache") ? await optionalJSON("/api/cache") : null;
    const now = Date.now();
    const keep = (key, requests) => {
      const a = state.spark.get(key) || [];
      a.push({ t: now, requests });
      if (a.length > SPARK_POINTS + 1) a.shift();
      state.spark.set(key, a);
    };
    for (const s of metrics.services || []) {
      keep(s.name, s.requests);
      for (const r of s.routes || []) keep(s.name + "\u001f" + r.route, r.requests);
    }
    setLive("live", "ok");
    render();
  } catch (e) {
    if (e instanceof Unauthorized) showLogin("The admin API refused the key (it may have changed).");
    else setLive("gateway unreachable", "bad");
  } finally {
    pacer.busy = false;
  }
}

async function pollHistory() {
  if (document.hidden || !$("login").hidden) return;
  if (Date.now() - pacer.lastHistory < MIN_POLL_MS) return;
  pacer.lastHistory = Date.now();
  try {
    state.history = await getJSON("/metrics/history");
    if (state.view === "overview") renderCharts();
  } catch (e) {
    if (e instanceof Unauthorized) showLogin("The admin API refused the key (it may have changed).");
  }
}

function setLive(text, cls) {
  const e = $("live-state");
  e.textContent = text;
  e.className = "pill " + cls;
}

// ---- rendering ----------------------------------------------------------------------------

function render() {
  if (!state.status) return;
  renderOptional();
  if (state.view === "overview") renderOverview();
  else if (state.view === "services") renderServices();
  else if (state.view === "policies") renderPolicies();
  else if (state.view === "cache") renderCache();
  else if (state.view === "registrations") renderRegistrations();
  else if (state.view === "actions") renderActions();
  renderServiceOptions();
}

// Panels for features this gateway may not have: shown only when the JSON has their section.
function renderOptional() {
  const m = state.metrics || {}, s = state.status || {};
  $("tab-cache").hidden = !((state.cache && state.cache.enabled) || m.cache || s.cache);
  $("tab-registrations").hidden = !state.registrations;
  if ($("tab-" + state.view).hidden) selectView("overview", false);
}

function lastSample() {
  const h = state.history && state.history.samples;
  if (!h) return null;
  for (let i = h.length - 1; i >= 0; i--) if (h[i].p50_ms !== null) return h[i];
  return null;
}

function renderOverview() {
  const s = state.status, m = state.metrics, t = (m && m.total) || {};
  setText("ov-rate", fmtNum(t.rate_per_second ? t.rate_per_second["1m"] : null, 2));
  setText("ov-requests", fmtNum(t.requests));
  setText("ov-errors", fmtPct(t.error_rate_1m));
  setText("ov-error-count", fmtNum(t.errors));
  const ls = lastSample();
  const lat = ls ? [ls.p50_ms, ls.p95_ms, ls.p99_ms] : t.latency_ms ? [t.latency_ms.p50, t.latency_ms.p95, t.latency_ms.p99] : null;
  setText("ov-latency", lat ? lat.map(fmtMs).join(" / ") : "–");
  setText("ov-conns", fmtNum(s.connections));
  setText("ov-tunnels", s.tunnels !== undefined ? fmtNum(s.tunnels) + " tunnels open" : "client connections open");
  if (state.health) {
    const score = state.health.score; // null with metrics off (state.health.reason says why)
    setText("ov-health", score === null ? "–" : String(score));
    $("ov-health").className = "big " + (score === null ? "" : score >= 90 ? "ok" : score >= 60 ? "warn" : "bad");
    setText("ov-health-low", score === null ? state.health.reason : "lowest service: " + state.health.lowest);
  }
  setText("ov-version", s.version);
  setText("ov-uptime", fmtDuration(s.uptime_seconds));
  setText("ov-generation", String(s.generation));
  setText("ov-workers", String(s.workers));
  const lr = s.last_reload;
  const list = $("ov-reload-errors");
  list.replaceChildren();
  if (!lr) {
    setText("ov-reload", "no reload since start (" + s.reloads.ok + " ok, " + s.reloads.failed + " failed)");
  } else {
    const p = $("ov-reload");
    p.replaceChildren(el("span", { class: "state " + (lr.result === "ok" ? "ok" : "bad"), text: lr.result }),
      " " + fmtAgo(lr.at) + " (" + s.reloads.ok + " ok, " + s.reloads.failed + " failed in all)");
    for (const e of lr.errors || []) list.append(errorItem(e));
  }
  renderCharts();
}

function errorItem(e) {
  const where = e.line ? e.file + ":" + e.line + ":" + e.column : e.file || "";
  return el("li", { class: "reload-error" }, el("code", { text: where }), " ",
    e.path ? el("code", { text: e.path }) : null, e.path ? ": " : "", e.message);
}

function renderServices() {
  const box = $("services");
  const m = state.metrics || {};
  const byName = new Map((m.services || []).map((s) => [s.name, s]));
  const circuits = new Map(((state.circuits && state.circuits.services) || []).map((c) => [c.service, c]));
  const scores = new Map(((state.health && state.health.services) || []).map((h) => [h.service, h]));
  const out = [];
  for (const st of state.status.services || []) {
    const mx = byName.get(st.name) || { routes: [], targets: [] };
    const cb = circuits.get(st.name);
    const sc = scores.get(st.name);
    const lat = mx.latency_ms || {};
    const spark = el("canvas", { class: "spark", width: 120, height: 28, role: "img", "aria-label": "requests per second, last two minutes" });
    const head = el("header", {},
      el("h2", { text: st.name }),
      el("span", { class: "sub" }, "rate ", el("b", { class: "svc-rate", text: fmtNum(mx.rate_per_second ? mx.rate_per_second["1m"] : 0, 2) }), "/s"),
      el("span", { class: "sub" }, "requests ", el("b", { class: "svc-requests", text: fmtNum(mx.requests || 0) })),
      el("span", { class: "sub" }, "errors ", el("b", { class: "svc-errors", text: fmtNum(mx.errors || 0) }), " (" + fmtPct(mx.error_rate_1m || 0) + " 1m)"),
      el("span", { class: "sub" }, "p50/p95/p99 ", el("b", { text: [lat.p50, lat.p95, lat.p99].map(fmtMs).join(" / ") }), " ms"),
      sc ? el("span", { class: "sub" }, "health ", el("b", { text: sc.score === null ? "–" : String(sc.score) })) : null,
      spark);
    const circuitRow = el("p", { class: "sub" }, "circuit: ");
    if (cb && cb.enabled) {
      circuitRow.append(el("span", { class: "state circuit-state state-" + cb.circuit.state, text: cb.circuit.state }),
        " opened " + cb.circuit.times_opened + "× ",
        el("button", { type: "button", class: "quiet reset-circuit", "data-service": st.name, onclick: () => resetCircuit(st.name) }, "Reset circuit"));
    } else {
      circuitRow.append("none configured");
    }
    const routes = el("table", {}, el("caption", { class: "sr-only", text: "Routes of " + st.name }),
      el("thead", {}, el("tr", {}, ...["route", "trend", "req/s", "requests", "errors", "p50", "p95", "p99"].map((h, i) => el("th", { scope: "col", class: i > 1 ? "num" : null, text: h })))),
      el("tbody", {}, ...(mx.routes || []).map((r) => el("tr", {},
        el("td", {}, el("code", { text: r.route })),
        el("td", {}, routeSpark(st.name, r.route)),
        el("td", { class: "num", text: fmtNum(r.rate_per_second ? r.rate_per_second["1m"] : 0, 2) }),
        el("td", { class: "num", text: fmtNum(r.requests) }),
        el("td", { class: "num", text: fmtNum(r.errors) }),
        el("td", { class: "num", text: fmtMs(r.latency_ms.p50) }),
        el("td", { class: "num", text: fmtMs(r.latency_ms.p95) }),
        el("td", { class: "num", text: fmtMs(r.latency_ms.p99) })))));
    const tmx = new Map((mx.targets || []).map((t) => [t.target, t]));
    const tcb = new Map(((cb && cb.targets) || []).map((t) => [t.target, t]));
    const targets = el("table", { class: "targets" }, el("caption", { class: "sr-only", text: "Targets of " + st.name }),
      el("thead", {}, el("tr", {}, ...["target", "state", "since", "in flight", "latency ms", "tries", "failures", "circuit"].map((h, i) => el("th", { scope: "col", class: i >= 3 && i < 7 ? "num" : null, text: h })))),
      el("tbody", {}, ...(st.targets || []).map((t) => {
        const key = t.url.replace(/^[a-z]+:\/\//, "").replace(/\/.*$/, "");
        const tm = tmx.get(key) || {};
        const tc = tcb.get(key);
        const latency = t.ewma_ms !== null && t.ewma_ms !== undefined ? fmtMs(t.ewma_ms) + " ewma" : fmtMs(tm.mean_try_ms);
        return el("tr", { "data-target": t.url },
          el("td", {}, el("code", { text: t.url })),
          el("td", {}, el("span", { class: "state target-state state-" + t.state, text: t.state })),
          el("td", { title: t.since || "", text: fmtAgo(t.since) }),
          el("td", { class: "num", text: fmtNum(t.in_flight) }),
          el("td", { class: "num", text: latency }),
          el("td", { class: "num", text: fmtNum(tm.tries) }),
          el("td", { class: "num", text: fmtNum(tm.failures) }),
          el("td", {}, tc && tc.circuit ? el("span", { class: "state state-" + tc.circuit.state, text: tc.circuit.state }) : "–"));
      })));
    const card = el("article", { class: "svc", "data-service": st.name, "aria-label": "service " + st.name },
      head, circuitRow, el("div", { class: "scroll" }, routes), el("div", { class: "scroll" }, targets));
    out.push(card);
    drawSpark(spark, state.spark.get(st.name) || []);
  }
  box.replaceChildren(...out);
  if (!out.length) box.append(el("p", { text: "No service is configured." }));
}

// A route's request rate over the last two minutes (what this page has seen).
function routeSpark(service, route) {
  const c = el("canvas", { class: "spark", width: 120, height: 28, role: "img", "aria-label": "requests per second of " + route + ", last two minutes" });
  drawSpark(c, state.spark.get(service + "\u001f" + route) || []);
  return c;
}

function renderPolicies() {
  const s = state.status, m = state.metrics || {};
  const rl = s.rate_limit;
  let backend = "rate limiting: " + (rl ? rl.backend : "–");
  if (rl && rl.redis) backend += ", Redis " + (rl.redis.up ? "up" : "DOWN") + " (" + rl.redis.clients_up + "/" + rl.redis.clients + " clients, on failure: " + rl.redis.failure_policy + ", " + rl.redis.fallbacks + " fallbacks)";
  setText("rl-backend", backend);
  const limits = m.rate_limits || [];
  $("rl-table").replaceChildren(limits.length ? el("table", {},
    el("thead", {}, el("tr", {}, ...["scope", "limit", "allowed", "limited", "limited %", "Redis fallbacks"].map((h, i) => el("th", { scope: "col", class: i >= 2 ? "num" : null, text: h })))),
    el("tbody", {}, ...limits.map((l) => el("tr", { "data-limit": l.scope + "/" + l.limit },
      el("td", { text: l.scope }), el("td", { text: l.limit }),
      el("td", { class: "num rl-allowed", text: fmtNum(l.allowed) }), el("td", { class: "num rl-limited", text: fmtNum(l.limited) }),
      el("td", { class: "num", text: fmtPct(l.allowed + l.limited ? l.limited / (l.allowed + l.limited) : 0) }),
      el("td", { class: "num", text: fmtNum(l.redis_fallbacks) })))))
    : el("p", { class: "sub", text: "No rate limit is configured." }));
  // the keys each limit refused most (a bounded table per worker: a count may be above the
  // truth by at most its error)
  const top = [];
  for (const l of limits) for (const k of l.top_keys || []) top.push({ l, k });
  $("rl-top").replaceChildren(top.length ? el("table", {},
    el("caption", { class: "sr-only", text: "Top limited keys per limit" }),
    el("thead", {}, el("tr", {}, ...["scope", "limit", "key", "refused"].map((h, i) => el("th", { scope: "col", class: i === 3 ? "num" : null, text: h })))),
    el("tbody", {}, ...top.map(({ l, k }) => el("tr", { "data-top-key": l.scope + "/" + l.limit + "/" + k.key },
      el("td", { text: l.scope }), el("td", { text: l.limit }), el("td", {}, el("code", { text: k.key })),
      el("td", { class: "num rl-top-count", title: k.error ? "at most " + fmtNum(k.error) + " above the true count" : null,
        text: fmtNum(k.count) + (k.error ? " (±" + fmtNum(k.error) + ")" : "") })))))
    : el("p", { class: "sub", text: "No request refused by a limit yet." }));
  const rows = [], reasons = new Map();
  for (const svc of m.services || []) {
    for (const [method, a] of Object.entries(svc.auth || {})) {
      rows.push(el("tr", {}, el("td", { text: svc.name }), el("td", { text: method }),
        el("td", { class: "num", text: fmtNum(a.ok) }), el("td", { class: "num", text: fmtNum(a.unauthorized) }),
        el("td", { class: "num", text: fmtNum(a.forbidden) })));
      for (const [r, n] of Object.entries(a.reasons || {})) reasons.set(r, (reasons.get(r) || 0) + n);
    }
  }
  $("auth-table").replaceChildren(rows.length ? el("table", {},
    el("thead", {}, el("tr", {}, ...["service", "method", "ok", "401", "403"].map((h, i) => el("th", { scope: "col", class: i >= 2 ? "num" : null, text: h })))),
    el("tbody", {}, ...rows)) : el("p", { class: "sub", text: "No authentication outcome yet." }));
  const topReasons = [...reasons.entries()].sort((a, b) => b[1] - a[1]).slice(0, 8);
  $("auth-reasons").replaceChildren(...topReasons.map(([r, n]) => el("li", {}, el("b", { text: r }), " " + fmtNum(n))));
}

function kvTable(obj) {
  const rows = Object.entries(obj || {}).filter(([, v]) => typeof v !== "object" || v === null);
  return el("table", {}, el("tbody", {}, ...rows.map(([k, v]) => el("tr", {}, el("th", { scope: "row", text: k }), el("td", { class: "num", text: typeof v === "number" ? fmtNum(v, 3) : String(v) })))));
}

function fmtBytes(v) {
  if (v === null || v === undefined) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return fmtNum(v, i ? 1 : 0) + " " + units[i];
}

function renderCache() {
  const c = (state.cache && state.cache.enabled ? state.cache : null) || (state.metrics && state.metrics.cache) || (state.status && state.status.cache) || {};
  const req = c.requests || {};
  setText("cache-ratio", fmtPct(req.hit_ratio));
  setText("cache-hits", fmtNum(req.hit) + " hits, " + fmtNum(req.stale) + " stale, " + fmtNum(req.miss) + " misses, " + fmtNum(req.expired) + " expired");
  setText("cache-bytes", fmtBytes(c.bytes));
  setText("cache-bytes-max", "of " + fmtBytes(c.max_bytes) + ", " + fmtNum(c.objects) + " responses");
  setText("cache-evictions", fmtNum(c.evictions));
  setText("cache-purged", fmtNum(c.purged) + " purged, " + fmtNum(c.inserts) + " stored");
  const svcs = c.services || [];
  $("cache-table").replaceChildren(svcs.length ? el("table", {},
    el("caption", { class: "sr-only", text: "Cache results per service" }),
    el("thead", {}, el("tr", {}, ...["service", "hit ratio", "hits", "stale", "misses", "expired", "bypass", "stored"].map((h, i) => el("th", { scope: "col", class: i ? "num" : null, text: h })))),
    el("tbody", {}, ...svcs.map((x) => el("tr", { "data-cache-service": x.service },
      el("td", { text: x.service }), el("td", { class: "num cache-svc-ratio", text: fmtPct(x.hit_ratio) }),
      el("td", { class: "num cache-svc-hits", text: fmtNum(x.hit) }), el("td", { class: "num", text: fmtNum(x.stale) }),
      el("td", { class: "num cache-svc-misses", text: fmtNum(x.miss) }), el("td", { class: "num", text: fmtNum(x.expired) }),
      el("td", { class: "num", text: fmtNum(x.bypass) }), el("td", { class: "num", text: fmtNum(x.stored) })))))
    : kvTable(c));
  $("purge-form").hidden = !state.endpoints.has("POST /api/cache/purge");
}

function renderRegistrations() {
  const list = (state.registrations && state.registrations.registrations) || [];
  $("reg-table").replaceChildren(list.length ? el("table", {},
    el("thead", {}, el("tr", {}, ...["name", "prefix", "url", "weight", "TTL left"].map((h) => el("th", { scope: "col", text: h })))),
    el("tbody", {}, ...list.map((x) => el("tr", { "data-registration": x.id }, el("td", { text: x.name || "" }), el("td", {}, el("code", { text: x.prefix || "" })),
      el("td", {}, el("code", { text: x.url || "" })), el("td", { class: "num", text: fmtNum(x.weight) }),
      el("td", { class: "reg-ttl-left", text: x.expires_in !== undefined ? fmtNum(x.expires_in, 1) + " s of " + fmtNum(x.ttl, 0) + " s" : "–" })))))
    : el("p", { class: "sub", text: "No live registration." }));
}

function renderActions() {}

function renderServiceOptions() {
  const names = (state.status.services || []).map((s) => s.name);
  for (const id of ["log-service", "reset-service"]) {
    const sel = $(id);
    const want = (id === "log-service" ? ["", "-"] : []).concat(names);
    if ([...sel.options].map((o) => o.value).join("\n") === want.join("\n")) continue;
    const cur = sel.value;
    sel.replaceChildren(...want.map((n) => el("option", { value: n, text: n === "" ? "any" : n === "-" ? "(no service)" : n })));
    if (want.includes(cur)) sel.value = cur;
  }
}

// ---- charts (canvas, our own small code) --------------------------------------------------

function cssVar(name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim(); }

function drawChart(canvas, series, fmt) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth, h = canvas.clientHeight;
  if (!w || !h) return;
  canvas.width = Math.round(w * dpr);
  canvas.height = Math.round(h * dpr);
  const g = canvas.getContext("2d");
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, w, h);
  const left = 54, right = 8, top = 8, bottom = 20;
  const now = Date.now(), t0 = now - 15 * 60 * 1000;
  let max = 0;
  for (const s of series) for (const p of s.points) if (p[1] !== null && p[1] > max) max = p[1];
  if (max <= 0) max = 1;
  max *= 1.1;
  g.font = "11px system-ui, sans-serif";
  g.fillStyle = cssVar("--muted");
  g.strokeStyle = cssVar("--grid");
  g.lineWidth = 1;
  for (let i = 0; i <= 4; i++) {
    const y = top + ((h - top - bottom) * i) / 4;
    g.beginPath(); g.moveTo(left, y); g.lineTo(w - right, y); g.stroke();
    g.textAlign = "right"; g.textBaseline = "middle";
    g.fillText(fmt(max * (1 - i / 4)), left - 6, y);
  }
  g.textAlign = "center"; g.textBaseline = "top";
  for (let mnt = 15; mnt >= 0; mnt -= 5) {
    const x = left + ((w - left - right) * (15 - mnt)) / 15;
    g.fillText(mnt ? "-" + mnt + "m" : "now", x, h - bottom + 4);
  }
  for (const s of series) {
    g.strokeStyle = cssVar(s.color);
    g.lineWidth = 2;
    g.beginPath();
    let pen = false;
    for (const [t, v] of s.points) {
      if (v === null || t < t0) { pen = false; continue; }
      const x = left + ((w - left - right) * (t - t0)) / (now - t0);
      const y = top + (h - top - bottom) * (1 - v / max);
      if (pen) g.lineTo(x, y); else g.moveTo(x, y);
      pen = true;
    }
    g.stroke();
  }
}

function renderCharts() {
  const samples = (state.history && state.history.samples) || [];
  const pts = (f) => samples.map((s) => [s.time_ms, f(s)]);
  drawChart($("chart-rate"), [{ color: "--c1", points: pts((s) => s.rate_per_second) }], (v) => fmtNum(v, v < 10 ? 1 : 0));
  drawChart($("chart-errors"), [{ color: "--c3", points: pts((s) => (s.requests ? s.error_rate : null)) }], (v) => fmtNum(v * 100, 1) + "%");
  drawChart($("chart-latency"), [
    { color: "--c1", points: pts((s) => s.p50_ms) },
    { color: "--c2", points: pts((s) => s.p95_ms) },
    { color: "--c3", points: pts((s) => s.p99_ms) }], (v) => fmtNum(v, v < 10 ? 2 : 0));
  const last = samples[samples.length - 1];
  $("chart-rate").setAttribute("aria-label", "requests per second, last 15 minutes" + (last ? "; now " + fmtNum(last.rate_per_second, 1) : ""));
}

function drawSpark(canvas, samples) {
  const g = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height;
  g.clearRect(0, 0, w, h);
  const rates = [];
  for (let i = 1; i < samples.length; i++) {
    const dt = (samples[i].t - samples[i - 1].t) / 1000;
    rates.push(dt > 0 ? Math.max(0, samples[i].requests - samples[i - 1].requests) / dt : 0);
  }
  if (rates.length < 2) return;
  const max = Math.max(...rates, 0.001);
  g.strokeStyle = cssVar("--c1");
  g.lineWidth = 1.5;
  g.beginPath();
  rates.forEach((r, i) => {
    const x = (w * (i + SPARK_POINTS - rates.length)) / (SPARK_POINTS - 1);
    const y = h - 2 - (h - 4) * (r / max);
    if (i) g.lineTo(x, y); else g.moveTo(x, y);
  });
  g.stroke();
}

// ---- live log (Server-Sent Events over fetch) ---------------------------------------------

function logQuery() {
  const q = new URLSearchParams();
  const svc = $("log-service").value, st = $("log-status").value.trim(), id = $("log-id").value.trim();
  if (svc) q.set("service", svc);
  if (st) q.set("status", st);
  if (id) q.set("request_id", id);
  return q.toString();
}

function stopLog() {
  if (state.log.ctrl) state.log.ctrl.abort();
  state.log.ctrl = null;
}

async function startLog() {
  stopLog();
  const ctrl = new AbortController();
  state.log.ctrl = ctrl;
  const q = logQuery();
  state.log.filter = q;
  setText("log-state", "connecting…");
  let r;
  try {
    r = await fetch("/api/access-log/stream" + (q ? "?" + q : ""), { headers: headers({ Accept: "text/event-stream" }), signal: ctrl.signal, cache: "no-store" });
  } catch (e) {
    if (!ctrl.signal.aborted) setText("log-state", "stream failed: " + e.message);
    return;
  }
  if (r.status === 401) { showLogin("The admin API refused the key."); return; }
  if (!r.ok) {
    const b = await r.json().catch(() => ({}));
    setText("log-state", "stream refused: " + r.status + " " + (b.error || ""));
    return;
  }
  setText("log-state", "live" + (q ? " (filter: " + decodeURIComponent(q.replace(/&/g, ", ")) + ")" : "") + " — newest first, at most " + LOG_ROWS + " lines");
  const reader = r.body.getReader();
  const dec = new TextDecoder();
  let buf = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      let i;
      while ((i = buf.indexOf("\n\n")) >= 0) {
        onEvent(buf.slice(0, i));
        buf = buf.slice(i + 2);
      }
    }
    if (!ctrl.signal.aborted) setText("log-state", "stream ended; reopen the view to reconnect");
  } catch (e) {
    if (!ctrl.signal.aborted) setText("log-state", "stream broke: " + e.message);
  }
}

function onEvent(block) {
  let event = "message", data = "";
  for (const line of block.split("\n")) {
    if (line.startsWith("event:")) event = line.slice(6).trim();
    else if (line.startsWith("data:")) data += line.slice(5).trim();
  }
  if (!data) return;
  if (event === "dropped") {
    const d = JSON.parse(data);
    setText("log-state", "live — " + d.dropped + " lines skipped (more than the tail keeps)");
    return;
  }
  if (event !== "log" || state.log.paused) return;
  const body = $("log-rows");
  for (const rec of JSON.parse(data)) {
    const cls = rec.status >= 500 ? "bad" : rec.status >= 400 ? "warn" : "ok";
    body.prepend(el("tr", { "data-request-id": rec.request_id },
      el("td", { text: fmtTime(rec.time_ms) }),
      el("td", {}, el("span", { class: cls, text: String(rec.status) })),
      el("td", { text: rec.method }),
      el("td", { text: rec.path }),
      el("td", { text: rec.service }),
      el("td", { text: rec.target }),
      el("td", { class: "num", text: fmtMs(rec.duration_ms) }),
      el("td", { text: rec.request_id })));
  }
  while (body.rows.length > LOG_ROWS) body.deleteRow(body.rows.length - 1);
}

// ---- actions ------------------------------------------------------------------------------

function confirmAction(title, text) {
  return new Promise((resolve) => {
    const d = $("confirm");
    setText("confirm-title", title);
    setText("confirm-text", text);
    const done = (ok) => {
      $("confirm-ok").onclick = $("confirm-cancel").onclick = null;
      d.onclose = null;
      if (d.open) d.close();
      resolve(ok);
    };
    $("confirm-ok").onclick = () => done(true);
    $("confirm-cancel").onclick = () => done(false);
    d.onclose = () => done(false);
    d.showModal();
    $("confirm-cancel").focus();
  });
}

function showResult(text, errors) {
  setText("act-result", text);
  $("act-errors").replaceChildren(...(errors || []).map(errorItem));
}

async function runAction(method, path, label, body) {
  try {
    const r = await api(path, body ? { method, body, headers: { "Content-Type": "application/json" } } : { method });
    if (r.ok) showResult(label + ": done (" + r.status + ")" + (r.body && r.body.generation ? ", configuration generation " + r.body.generation : ""));
    else showResult(label + " failed (" + r.status + "): " + (r.body && r.body.error ? r.body.error : ""), r.body && r.body.errors);
    pollSoon();
    return r;
  } catch (e) {
    if (e instanceof Unauthorized) showLogin("The admin API refused the key.");
    else showResult(label + " failed: " + e.message);
    return null;
  }
}

async function reloadConfig() {
  if (!(await confirmAction("Reload the configuration?", "gantry reads its config file again. A file that does not validate changes nothing and its errors are shown here."))) return;
  await runAction("POST", "/api/config/reload", "Reload");
}

async function resetCircuit(name) {
  if (!(await confirmAction("Reset the circuit of " + name + "?", "Closes the service's circuit and its targets' circuits; the next request goes to the upstream."))) return;
  await runAction("POST", "/api/circuits/" + encodeURIComponent(name) + "/reset", "Reset circuit of " + name);
}

async function drain() {
  if (!(await confirmAction("Drain and stop gantry?", "No new connections are accepted; requests in flight finish, then the process exits. Only a restart brings it back."))) return;
  await runAction("POST", "/api/drain", "Drain");
}

// ---- wiring -------------------------------------------------------------------------------

function init() {
  $("login-form").addEventListener("submit", (ev) => { ev.preventDefault(); signIn($("key").value); });
  $("logout").addEventListener("click", () => showLogin("Signed out."));
  for (const v of VIEWS) $("tab-" + v).addEventListener("click", () => selectView(v, false));
  $("tabs").addEventListener("keydown", onTabKey);
  $("log-filter").addEventListener("submit", (ev) => { ev.preventDefault(); $("log-rows").replaceChildren(); startLog(); });
  $("log-pause").addEventListener("click", () => {
    state.log.paused = !state.log.paused;
    $("log-pause").setAttribute("aria-pressed", String(state.log.paused));
    $("log-pause").textContent = state.log.paused ? "Resume" : "Pause";
  });
  $("act-reload").addEventListener("click", reloadConfig);
  $("act-drain").addEventListener("click", drain);
  $("reset-form").addEventListener("submit", (ev) => { ev.preventDefault(); if ($("reset-service").value) resetCircuit($("reset-service").value); });
  $("purge-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const prefix = $("purge-prefix").value.trim();
    if (!(await confirmAction("Purge cached responses?", prefix ? "Entries whose URL starts with " + prefix + " are dropped." : "Every cached response is dropped."))) return;
    await runAction("POST", "/api/cache/purge", "Purge", JSON.stringify(prefix ? { prefix } : { all: true }));
  });
  window.addEventListener("hashchange", () => { if ($("login").hidden) selectView(location.hash.slice(1), false); });
  window.addEventListener("resize", () => { if (state.view === "overview") renderCharts(); });
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && $("login").hidden) { pollSoon(); pollHistory(); }
  });
  const saved = sessionStorage.getItem(KEY_NAME);
  if (saved !== null) signIn(saved);
  else showLogin("");
}

init();
