// Portcullis dashboard. Plain JavaScript, no framework, nothing fetched
// from outside the admin listener. Every value from an event is put into
// the page with textContent, never as HTML: excerpts are attack payloads.
"use strict";

(function () {
  const csrf = document.querySelector('meta[name="csrf"]').content;
  const $ = (id) => document.getElementById(id);
  const state = { filters: {}, events: [], es: null, selected: null, fleet: false };
  const MAX_ROWS = 200;

  // el builds an element; children are nodes or strings (as text).
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null) continue;
      if (k === "class") e.className = v;
      else if (k.startsWith("data-")) e.setAttribute(k, v);
      else if (k === "title") e.title = v;
      else e[k] = v;
    }
    for (const c of children) {
      if (c === undefined || c === null) continue;
      e.append(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
    }
    return e;
  }
  function svg(tag, attrs) {
    const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    return e;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function notice(msg) {
    const n = $("notice");
    if (!msg) { n.hidden = true; return; }
    n.textContent = msg;
    n.hidden = false;
  }
  function fmtTime(t) {
    const d = new Date(t);
    return isNaN(d) ? "" : d.toLocaleTimeString([], { hour12: false });
  }
  function fmtDate(t) {
    const d = new Date(t);
    return isNaN(d) ? "" : d.toLocaleString([], { hour12: false });
  }

  async function api(path, opts) {
    opts = opts || {};
    const headers = { "Accept": "application/json" };
    if (opts.method && opts.method !== "GET") headers["X-CSRF-Token"] = csrf;
    if (opts.body) headers["Content-Type"] = "application/json";
    const resp = await fetch(path, { method: opts.method || "GET", headers, body: opts.body, credentials: "same-origin" });
    if (resp.status === 401) { location.href = "/ui/login"; throw new Error("signed out"); }
    const doc = await resp.json().catch(() => ({}));
    if (!resp.ok) throw new Error(doc.detail || resp.statusText);
    return doc;
  }
  function query(extra) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(Object.assign({}, state.filters, extra || {}))) if (v) q.set(k, v);
    return q.toString();
  }

  // --- theme ---------------------------------------------------------------
  function applyTheme(t) {
    if (t) document.documentElement.setAttribute("data-theme", t);
    else document.documentElement.removeAttribute("data-theme");
  }
  applyTheme(localStorage.getItem("portcullis-theme"));
  $("theme").addEventListener("click", () => {
    const dark = document.documentElement.getAttribute("data-theme") === "dark" ||
      (!document.documentElement.getAttribute("data-theme") && matchMedia("(prefers-color-scheme: dark)").matches);
    const next = dark ? "light" : "dark";
    localStorage.setItem("portcullis-theme", next);
    applyTheme(next);
  });

  // --- live feed -------------------------------------------------------------
  function sevBadge(s) { return el("span", { class: "sev sev-" + (s || "info") }, s || "info"); }

  function row(ev) {
    const tr = el("tr", {
      "data-id": ev.id, "data-request-id": ev.request_id || "", "data-stage": ev.stage || "",
      "data-client": ev.client_ip || "", "data-type": ev.type || "",
    },
      el("td", { class: "mono", title: ev.time }, fmtTime(ev.time)),
      el("td", {}, sevBadge(ev.severity)),
      el("td", {}, ev.type || ""),
      el("td", {}, ev.stage || ""),
      el("td", { class: "mono" }, (ev.rules || []).join(" ")),
      el("td", { class: "mono" }, ev.client_ip || ""),
      el("td", {}, ev.principal || ""),
      el("td", { class: "mono path", title: (ev.method || "") + " " + (ev.path || "") }, ((ev.method || "") + " " + (ev.path || "")).trim()),
      el("td", {}, ev.status ? String(ev.status) : ""),
      el("td", { class: "node-col" }, ev.node || ""),
    );
    tr.addEventListener("click", () => showDetail(ev, tr));
    return tr;
  }

  function renderFeed() {
    const body = document.querySelector("#feed tbody");
    clear(body);
    for (const ev of state.events) body.append(row(ev));
    $("feed-empty").hidden = state.events.length > 0;
    $("sum-events").textContent = String(state.events.length);
    const stages = new Set(state.events.map((e) => e.stage).filter(Boolean));
    const dl = $("stages");
    clear(dl);
    for (const s of [...stages].sort()) dl.append(el("option", { value: s }));
  }

  function addLive(ev) {
    if (state.events.some((e) => e.id === ev.id)) return;
    state.events.unshift(ev);
    if (state.events.length > MAX_ROWS) state.events.length = MAX_ROWS;
    const body = document.querySelector("#feed tbody");
    const tr = row(ev);
    tr.classList.add("new");
    body.prepend(tr);
    while (body.children.length > MAX_ROWS) body.lastChild.remove();
    $("feed-empty").hidden = true;
    $("sum-events").textContent = String(state.events.length);
    if (ev.type === "admin" || ev.type === "decision") { loadAudit(); loadBans(); }
    refreshSoon();
  }

  // A live event changes the charts and top lists: refresh them, at most
  // once a second however many events arrive.
  let refreshTimer = null;
  function refreshSoon() {
    if (refreshTimer) return;
    refreshTimer = setTimeout(() => { refreshTimer = null; loadTimeline(); loadTop(); }, 1000);
  }

  async function loadHistory() {
    try {
      const doc = await api("/api/v1/events?" + query({ limit: "100" }));
      state.events = doc.events || [];
      renderFeed();
    } catch (e) {
      notice("Could not load events: " + e.message);
    }
  }

  function openStream() {
    if (state.es) state.es.close();
    const feedState = $("feed-state");
    feedState.textContent = "connecting";
    feedState.className = "state";
    const es = new EventSource("/api/v1/stream?" + query());
    es.addEventListener("open", () => { feedState.textContent = "live"; feedState.className = "state live"; });
    es.addEventListener("error", () => { feedState.textContent = "reconnecting"; feedState.className = "state down"; });
    es.addEventListener("security", (m) => {
      try { addLive(JSON.parse(m.data)); } catch (e) { /* a malformed message is skipped */ }
    });
    state.es = es;
  }

  $("filters").addEventListener("submit", (e) => {
    e.preventDefault();
    const f = {};
    for (const [k, v] of new FormData(e.target).entries()) if (String(v).trim()) f[k] = String(v).trim();
    state.filters = f;
    loadHistory();
    openStream();
  });
  $("filters").addEventListener("reset", () => {
    state.filters = {};
    setTimeout(() => { loadHistory(); openStream(); }, 0);
  });

  // --- drill-down ------------------------------------------------------------
  function kv(dl, pairs) {
    clear(dl);
    for (const [k, v] of pairs) {
      if (v === undefined || v === null || v === "" || (Array.isArray(v) && !v.length)) continue;
      dl.append(el("dt", {}, k), el("dd", { class: "mono" }, Array.isArray(v) ? v.join(" ") : String(v)));
    }
  }
  function miniEvent(ev) {
    const li = el("li", { "data-id": ev.id }, sevBadge(ev.severity), " ", fmtTime(ev.time), " ",
      ev.type || "", " ", ev.stage || "", " ", (ev.rules || []).join(" "), " — ", ev.reason || "");
    return li;
  }

  async function showDetail(ev, tr) {
    state.selected = ev;
    document.querySelectorAll("#feed tbody tr.selected").forEach((r) => r.classList.remove("selected"));
    if (tr) tr.classList.add("selected");
    const d = $("detail");
    d.hidden = false;
    $("h-detail").textContent = "Event " + ev.id;
    kv($("evidence"), [
      ["time", fmtDate(ev.time)], ["type", ev.type], ["severity", ev.severity], ["stage", ev.stage],
      ["rules", ev.rules], ["reason", ev.reason], ["location", ev.location], ["score", ev.score || ""],
      ["mode", ev.mode], ["status", ev.status || ""], ["api", ev.api], ["request", ((ev.method || "") + " " + (ev.path || "")).trim()],
      ["client", ev.client_ip], ["principal", ev.principal], ["request id", ev.request_id], ["trace id", ev.trace_id], ["node", ev.node],
    ]);
    $("excerpt").textContent = ev.excerpt || "(none)";
    $("attrs").textContent = ev.attrs ? JSON.stringify(ev.attrs, null, 2) : "(none)";
    clear($("access-record"));
    clear($("same-request"));
    clear($("same-client"));
    $("access-missing").hidden = true;
    d.scrollIntoView({ block: "nearest" });
    if (ev.request_id) {
      try {
        const doc = await api("/api/v1/requests/" + encodeURIComponent(ev.request_id));
        const a = doc.access;
        if (a) {
          kv($("access-record"), [
            ["time", fmtDate(a.time)], ["request id", a.request_id], ["method", a.method], ["scheme", a.scheme],
            ["host", a.host], ["path", a.path], ["query", a.query], ["api", a.api], ["operation", a.operation],
            ["status", a.status], ["decision", a.decision], ["stage", a.stage], ["rules", a.rules],
            ["latency", a.latency_ms + " ms"], ["bytes in", a.bytes_in], ["bytes out", a.bytes_out],
            ["client", a.client_ip], ["peer", a.peer], ["principal", a.principal], ["upstream", a.upstream],
            ["user agent", a.user_agent], ["trace id", a.trace_id],
          ]);
        } else {
          $("access-missing").hidden = false;
        }
        for (const x of doc.events || []) $("same-request").append(miniEvent(x));
      } catch (e) { notice("Could not load the request: " + e.message); }
    }
    if (ev.client_ip) {
      try {
        const doc = await api("/api/v1/events?" + new URLSearchParams({ client_ip: ev.client_ip, limit: "20" }));
        for (const x of doc.events || []) $("same-client").append(miniEvent(x));
      } catch (e) { notice("Could not load the client's events: " + e.message); }
    }
  }
  $("detail-close").addEventListener("click", () => { $("detail").hidden = true; });
  $("filter-client").addEventListener("click", () => {
    if (!state.selected || !state.selected.client_ip) return;
    $("f-client").value = state.selected.client_ip;
    $("filters").requestSubmit();
  });

  // --- charts ----------------------------------------------------------------
  const W = 720, H = 140, PAD = 18;
  function drawChart(container, legend, tl, series, classOf, labelOf) {
    clear(container);
    clear(legend);
    const from = new Date(tl.from).getTime(), to = new Date(tl.to).getTime();
    const width = 10000;
    const n = Math.max(1, Math.ceil((to - from) / width));
    const stacks = new Array(n).fill(0).map(() => []);
    series.forEach((s, si) => {
      for (const p of s.points) {
        const i = Math.floor((new Date(p.start).getTime() - from) / width);
        if (i >= 0 && i < n) stacks[i].push([si, p.count]);
      }
    });
    let max = 1;
    for (const st of stacks) max = Math.max(max, st.reduce((a, [, c]) => a + c, 0));
    const g = svg("svg", { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", role: "img", "aria-label": "chart" });
    g.append(svg("line", { x1: 0, y1: H - PAD, x2: W, y2: H - PAD, class: "axis" }));
    const bw = W / n;
    stacks.forEach((st, i) => {
      let y = H - PAD;
      for (const [si, c] of st) {
        const h = (c / max) * (H - PAD - 6);
        const r = svg("rect", { x: (i * bw).toFixed(2), y: (y - h).toFixed(2), width: Math.max(bw - 1, 1).toFixed(2), height: h.toFixed(2), class: classOf(series[si], si) });
        const t = svg("title", {});
        t.textContent = labelOf(series[si]) + ": " + c;
        r.append(t);
        g.append(r);
        y -= h;
      }
    });
    const t0 = svg("text", { x: 2, y: H - 4 }); t0.textContent = fmtTime(tl.from);
    const t1 = svg("text", { x: W - 2, y: H - 4, "text-anchor": "end" }); t1.textContent = fmtTime(tl.to);
    const tm = svg("text", { x: 2, y: 10 }); tm.textContent = String(max) + " / 10s";
    g.append(t0, t1, tm);
    container.append(g);
    series.forEach((s, si) => {
      legend.append(el("li", { "data-series": labelOf(s) }, el("span", { class: "sw " + classOf(s, si) }), labelOf(s) + " (" + s.total + ")"));
    });
    if (!series.length) legend.append(el("li", {}, "no requests in this period"));
  }

  const shade = { "2xx": "", "3xx": " shade-1", "4xx": " shade-2", "5xx": " shade-3", "1xx": " shade-3", "other": " shade-3" };
  async function loadTimeline() {
    try {
      const tl = await api("/api/v1/timeline?minutes=30");
      const series = tl.series || [];
      let total = 0, allow = 0, deny = 0, err = 0;
      for (const s of series) {
        total += s.total;
        if (s.decision === "allow") allow += s.total;
        else if (s.decision === "error") err += s.total;
        else deny += s.total;
      }
      $("sum-total").textContent = String(total);
      $("sum-allow").textContent = String(allow);
      $("sum-deny").textContent = String(deny);
      $("sum-error").textContent = String(err);
      // Chart 1: decision x status class.
      const byDC = new Map();
      for (const s of series) {
        const k = s.decision + " " + s.class;
        if (!byDC.has(k)) byDC.set(k, { decision: s.decision, class: s.class, total: 0, points: [] });
        const x = byDC.get(k);
        x.total += s.total;
        x.points.push(...s.points);
      }
      drawChart($("chart-decisions"), $("legend-decisions"), tl, [...byDC.values()],
        (s) => "f-" + s.decision + (shade[s.class] || ""), (s) => s.decision + " " + s.class);
      // Chart 2: denials by stage.
      const stages = series.filter((s) => s.decision === "deny" || s.decision === "malformed");
      const byStage = new Map();
      for (const s of stages) {
        const k = s.stage || "(none)";
        if (!byStage.has(k)) byStage.set(k, { stage: k, total: 0, points: [] });
        const x = byStage.get(k);
        x.total += s.total;
        x.points.push(...s.points);
      }
      const ordered = [...byStage.values()].sort((a, b) => a.stage.localeCompare(b.stage));
      drawChart($("chart-stages"), $("legend-stages"), tl, ordered, (s, i) => "f-c" + (i % 8), (s) => s.stage);
    } catch (e) { /* the access ring may be off; the charts stay empty */ }
  }

  // --- top lists, bans, upstreams, audit, status ------------------------------
  function topList(id, list) {
    const ol = $(id);
    clear(ol);
    for (const t of list || []) ol.append(el("li", {}, el("span", { class: "mono" }, t.key), el("span", { class: "count" }, String(t.count))));
    if (!list || !list.length) ol.append(el("li", { class: "empty" }, "nothing yet"));
  }
  async function loadTop() {
    try {
      const doc = await api("/api/v1/top?since=1h");
      topList("top-rules", doc.rules);
      topList("top-clients", doc.clients);
      topList("top-principals", doc.principals);
    } catch (e) { /* shown empty */ }
  }

  async function banAction(key, method, body) {
    try {
      await api("/api/v1/bans/" + encodeURIComponent(key), { method, body: body ? JSON.stringify(body) : undefined });
      notice("");
    } catch (e) { notice("Ban " + key + ": " + e.message); }
    loadBans();
    loadAudit();
  }
  async function loadBans() {
    let doc;
    try { doc = await api("/api/v1/bans"); } catch (e) { return; }
    const body = document.querySelector("#bans tbody");
    clear(body);
    for (const b of doc.bans || []) {
      const lift = el("button", { type: "button", class: "danger", "data-action": "lift" }, "Lift");
      lift.addEventListener("click", () => banAction(b.key, "DELETE"));
      const ext = el("button", { type: "button", "data-action": "extend" }, "+1h");
      ext.addEventListener("click", () => banAction(b.key, "POST", { extend: "1h" }));
      body.append(el("tr", { "data-key": b.key }, el("td", { class: "mono" }, b.key), el("td", { title: b.until }, fmtDate(b.until)),
        el("td", {}, String(b.strikes)), el("td", {}, b.reason || ""), el("td", {}, lift, " ", ext)));
    }
    $("bans-empty").hidden = (doc.bans || []).length > 0;
  }

  async function loadAudit() {
    let doc;
    try { doc = await api("/api/v1/audit"); } catch (e) { return; }
    const ol = $("audit");
    clear(ol);
    for (const a of doc.actions || []) {
      const x = a.action;
      ol.append(el("li", { "data-action": x.action, "data-target": x.target || "" },
        el("span", { class: "seq" }, a.seq ? "#" + a.seq + " " : ""), fmtTime(a.time), " ",
        el("strong", {}, x.action), " ", x.target || "", " by ", x.actor || "?", " — ", x.result || ""));
    }
    $("audit-empty").hidden = (doc.actions || []).length > 0;
  }

  async function loadStatus() {
    let doc;
    try { doc = await api("/api/v1/status"); } catch (e) { return; }
    state.fleet = !!doc.fleet;
    document.body.classList.toggle("fleet", state.fleet);
    if (doc.config) {
      $("config-version").textContent = doc.config.version || "–";
      $("config-version").title = "loaded " + fmtDate(doc.config.loaded_at);
      const lr = doc.config.last_reload;
      if (lr) {
        $("reload-result").textContent = (lr.ok ? "ok" : "failed") + " " + fmtTime(lr.time);
        $("reload-result").title = lr.error || "";
        $("reload-result").className = lr.ok ? "up-ok" : "up-bad";
      } else {
        $("reload-result").textContent = "none since start";
      }
    }
    if (doc.node) $("node").textContent = doc.node + (doc.fleet ? " (fleet view)" : "");
    const body = document.querySelector("#upstreams tbody");
    clear(body);
    for (const a of doc.apis || []) {
      for (const t of a.upstream || []) {
        body.append(el("tr", {}, el("td", {}, a.name), el("td", { class: "mono" }, t.url),
          el("td", { class: t.healthy ? "up-ok" : "up-bad" }, t.healthy ? "healthy" : "unhealthy"),
          el("td", { class: t.circuit_state === "open" ? "up-bad" : "" }, t.circuit_state)));
      }
    }
  }

  // --- start -------------------------------------------------------------------
  loadStatus();
  loadHistory();
  openStream();
  loadTimeline();
  loadTop();
  loadBans();
  loadAudit();
  setInterval(loadTimeline, 10000);
  setInterval(loadTop, 15000);
  setInterval(loadBans, 10000);
  setInterval(loadStatus, 10000);
  setInterval(loadAudit, 15000);
})();
