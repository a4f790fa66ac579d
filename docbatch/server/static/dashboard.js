// docbatch dashboard: plain JavaScript, no framework, nothing fetched from anywhere but this server.
// It reads the public API (/v1/stats, /v1/runs, /v1/runs/ID, /v1/runs/ID/documents) once, then follows
// /v1/events (Server-Sent Events): every event updates what it can in place at once and marks its run
// for a refresh from the API, at most twice a second. Every text from the server goes through
// textContent and text nodes, never parsed as HTML: document names and error messages are data.
"use strict";

(() => {
  const MAX_RUNS = 25; // rows in the runs table
  const MAX_FAILURES = 50; // entries in the failures list
  const REFRESH_MS = 500; // at most two refreshes a second, however many events arrive
  const POLL_MS = 2000; // the running run's stages move without events: refresh it this often
  const STATS_MS = 5000;
  const RENDER_MS = 200; // a busy run sends hundreds of events a second: draw what they changed at most this often
  const FINAL_RUN = new Set(["finished", "interrupted", "cancelled", "failed", "crashed"]);
  const RUN_STATUSES = new Set(["queued", "running", ...FINAL_RUN]);
  // Document states that settle a document (a `failed` event may be followed by a retry, so it does not).
  const SETTLED = new Set(["succeeded", "dead", "skipped", "cancelled"]);

  const state = {
    runs: new Map(), // run_id -> RunView
    rows: new Map(), // run_id -> <tr>
    order: [], // run ids, newest first
    stats: null,
    activeRun: null, // the run whose documents are shown
    failures: [], // newest first: {key, run_id, document_id, state, error_kind, message, at}
    lastEventId: 0,
    counted: new Map(), // run_id -> {state: n} settled documents seen in events, for runs seen starting
    dirty: new Set(),
    statsDirty: false,
    timer: null,
    renderTimer: null,
    flushing: false,
    lastFlush: 0,
    source: null,
    signedOut: false,
  };

  const $ = (id) => document.getElementById(id);

  // An element with text and attributes; children are elements or strings (added as text nodes).
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (value === null || value === undefined) continue;
      if (name === "text") node.textContent = String(value);
      else if (name === "className") node.className = value;
      else node.setAttribute(name, String(value));
    }
    for (const child of children) node.append(child);
    return node;
  }

  async function api(path) {
    const response = await fetch(path, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (response.status === 401) {
      signedOut();
      throw new Error("signed out");
    }
    if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
    return response.json();
  }

  const runPath = (id) => `/v1/runs/${encodeURIComponent(id)}`;

  // ---- formatting ----
  function duration(seconds) {
    if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "–";
    const s = Math.max(0, Math.round(seconds));
    if (s < 60) return `${s}s`;
    if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
    const h = Math.floor(s / 3600);
    return `${h}h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
  }
  function rate(value) {
    if (!value) return "0";
    return value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);
  }
  function ago(epochSeconds) {
    if (!epochSeconds) return "";
    return `${duration(Date.now() / 1000 - epochSeconds)} ago`;
  }
  const count = (run, name) => (run.states && run.states[name]) || 0;

  // ---- the runs table ----
  function runRow(id) {
    let row = state.rows.get(id);
    if (row) return row;
    const cells = {
      id: el("td", { className: "mono" }),
      kind: el("td"),
      status: el("td"),
      progress: el("td"),
      rate: el("td", { className: "num" }),
      eta: el("td", { className: "num" }),
      report: el("td"),
    };
    const bar = el("div", { className: "bar" });
    for (const part of ["succeeded", "failed", "dead", "other"]) bar.append(el("span", { className: part }));
    cells.progress.append(el("div", { className: "progress" }, bar, el("div", { className: "counts" })));
    row = el("tr", { "data-run": id }, ...Object.values(cells));
    row.cells_ = cells;
    state.rows.set(id, row);
    return row;
  }

  function fillRow(row, run) {
    const c = row.cells_;
    c.id.replaceChildren(el("a", { href: runPath(run.run_id), text: run.run_id, title: "The run as JSON" }));
    c.kind.textContent = run.kind || "";
    c.status.replaceChildren(el("span", { className: "status", "data-status": run.status, text: run.status }));
    fillProgress(c.progress, shownCounts(run));
    const live = run.status === "running";
    c.rate.textContent = run.status === "queued" ? "–" : rate(run.docs_per_s);
    if (live) c.eta.textContent = run.eta_s === null || run.eta_s === undefined ? "–" : `${duration(run.eta_s)} left`;
    else c.eta.textContent = FINAL_RUN.has(run.status) ? duration(run.elapsed_s) : "–";
    c.eta.title = live ? "Time left (an estimate from the rate so far)" : "Time the run took";
    const href = (run.links && run.links.report_html) || `${runPath(run.run_id)}/report.html`;
    c.report.replaceChildren(
      FINAL_RUN.has(run.status) ? el("a", { href, text: "report", target: "_blank", rel: "noopener" }) : "",
    );
  }

  function fillProgress(cell, run) {
    const total = Math.max(run.discovered || 0, run.finished || 0);
    const parts = {
      succeeded: count(run, "succeeded"),
      failed: count(run, "failed"),
      dead: count(run, "dead"),
      other: count(run, "skipped") + count(run, "cancelled"),
    };
    for (const span of cell.querySelectorAll(".bar span")) {
      const share = total ? (100 * parts[span.className]) / total : 0;
      span.style.width = `${Math.min(100, share)}%`;
    }
    const of = run.discovery_done === false ? `${total}+` : `${total}`;
    const counts = cell.querySelector(".counts");
    const tinted = (name, text) => el("span", { className: parts[name] ? `c-${name}` : "", text });
    counts.replaceChildren(
      el("span", { className: "c-finished", text: `${run.finished || 0} / ${of}` }),
      " · ",
      tinted("succeeded", `${parts.succeeded} ok`),
      " · ",
      tinted("failed", `${parts.failed} failed`),
      " · ",
      tinted("dead", `${parts.dead} dead`),
      parts.other ? ` · ${parts.other} skipped/cancelled` : "",
    );
  }

  function renderRuns() {
    const body = $("runs-body");
    const rows = state.order.slice(0, MAX_RUNS).map((id) => {
      const row = runRow(id);
      fillRow(row, state.runs.get(id));
      return row;
    });
    body.replaceChildren(...rows);
    $("runs-empty").hidden = rows.length > 0;
    for (const id of state.order.slice(MAX_RUNS)) {
      state.runs.delete(id);
      state.rows.delete(id);
      state.counted.delete(id);
    }
    state.order.length = Math.min(state.order.length, MAX_RUNS);
  }

  // Newest first, as the API lists them: by start time, then by id (ids begin with the UTC time).
  function newestFirst(a, b) {
    const ra = state.runs.get(a);
    const rb = state.runs.get(b);
    return (rb.started_at || 0) - (ra.started_at || 0) || (a < b ? 1 : a > b ? -1 : 0);
  }

  function putRun(run) {
    run.fetchedAt = Date.now(); // running_s of its active jobs counts from here
    const known = state.runs.has(run.run_id);
    state.runs.set(run.run_id, run);
    if (!known) {
      state.order.push(run.run_id);
      state.order.sort(newestFirst);
    }
  }

  // A running run's view comes from its last heartbeat (about once a second). For a run that started
  // while the page was open, every settled document has also come as one event (exactly once, even
  // across reconnects), so those counts are exact too; both only lag behind the truth, so whichever
  // has counted more is shown, as a whole (never mixed, which could count a document twice). Once the
  // run has ended, its final view is the truth.
  function shownCounts(run) {
    const counts = state.counted.get(run.run_id);
    const total = counts ? Object.values(counts).reduce((sum, n) => sum + n, 0) : 0;
    if (!counts || run.status !== "running" || total <= (run.finished || 0) - count(run, "failed")) return run;
    const failed = count(run, "failed"); // tries that failed and wait for a retry: no event settles them
    return { ...run, states: { ...counts, failed }, finished: total + failed };
  }

  // ---- the running run's documents ----
  function renderActive() {
    const run = state.activeRun && state.runs.get(state.activeRun);
    const jobs = (run && run.status === "running" && run.active) || [];
    const since = run ? (Date.now() - run.fetchedAt) / 1000 : 0;
    $("active-run").textContent = run && run.status === "running" ? `in ${run.run_id}` : "";
    $("active-body").replaceChildren(
      ...jobs.map((job) =>
        el(
          "tr",
          {},
          el("td", { className: "mono", text: job.source_id, title: job.source_id }),
          el("td", {}, el("span", { className: "stage", text: job.stage })),
          el("td", { className: "num", text: duration(job.running_s + since) }),
        ),
      ),
    );
    $("active").hidden = jobs.length === 0;
    $("active-empty").hidden = jobs.length > 0;
  }

  // ---- failures ----
  function addFailure(failure, { atEnd = false } = {}) {
    const key = `${failure.run_id}\u0000${failure.document_id}`;
    const index = state.failures.findIndex((f) => f.key === key);
    if (index >= 0) {
      if (atEnd) return; // a live event already told us about this one
      state.failures.splice(index, 1);
    }
    const entry = { ...failure, key };
    if (atEnd) state.failures.push(entry);
    else state.failures.unshift(entry);
    state.failures.length = Math.min(state.failures.length, MAX_FAILURES);
  }

  function renderFailures() {
    $("failures").replaceChildren(
      ...state.failures.map((f) =>
        el(
          "li",
          { "data-state": f.state },
          el("span", { className: "kind", text: f.error_kind || f.state }),
          el("span", { className: "doc mono", text: f.document_id || "", title: f.path || f.document_id || "" }),
          el("span", { className: "when", text: f.at ? ago(f.at) : "earlier", title: `run ${f.run_id}` }),
          el("span", { className: "message", text: `${f.state}: ${f.message || "no message"}` }),
        ),
      ),
    );
    $("failures-empty").hidden = state.failures.length > 0;
    $("failures-count").textContent = state.failures.length ? `(${state.failures.length})` : "";
  }

  // ---- queue stats ----
  function renderStats() {
    const s = state.stats;
    if (!s) return;
    $("stat-running-run").textContent = s.running_run || "none";
    $("stat-running-run").title = s.running_run || "";
    $("stat-jobs").textContent = `${s.running ?? 0} / ${s.concurrency ?? "?"}`;
    $("stat-queued-runs").textContent = String(s.queued_runs ?? 0);
    $("stat-queued-docs").textContent = String(s.queued_documents ?? 0);
    $("stat-rate").textContent = rate(s.docs_per_s);
    $("stat-executor").textContent = s.executor || "";
    $("stat-executor").title = s.executor || "";
  }

  function render() {
    renderStats();
    renderRuns();
    renderActive();
    renderFailures();
    const running = state.order.filter((id) => state.runs.get(id).status === "running").length;
    document.title = running ? `docbatch · ${running} running` : "docbatch";
  }

  function renderSoon() {
    if (state.renderTimer !== null) return;
    state.renderTimer = setTimeout(() => {
      state.renderTimer = null;
      render();
    }, RENDER_MS);
  }

  // ---- loading and refreshing ----
  function chooseActiveRun() {
    const fromStats = state.stats && state.stats.running_run;
    state.activeRun = fromStats || state.order.find((id) => state.runs.get(id).status === "running") || null;
  }

  async function loadAll() {
    state.stats = await api("/v1/stats");
    const after = state.stats.events_last_id || 0; // follow from here: the views below already include it
    state.lastEventId = Math.max(state.lastEventId, after);
    const page = await api(`/v1/runs?limit=${MAX_RUNS}`);
    for (const run of page.runs) putRun(run);
    chooseActiveRun();
    if (state.activeRun) await refreshRun(state.activeRun);
    await loadFailures(page.runs.slice(0, 3));
    render();
    return after;
  }

  // The failures that are already there when the page opens: failed and dead documents of the newest runs.
  async function loadFailures(runs) {
    for (const run of runs) {
      for (const which of ["dead", "failed"]) {
        const page = await api(`${runPath(run.run_id)}/documents?state=${which}&limit=${MAX_FAILURES}`);
        for (const doc of page.documents) addFailure({ ...doc, at: null }, { atEnd: true });
      }
    }
  }

  async function refreshRun(id) {
    putRun(await api(runPath(id)));
  }

  function schedule() {
    if (state.timer !== null || state.flushing) return;
    const wait = Math.max(0, state.lastFlush + REFRESH_MS - Date.now());
    state.timer = setTimeout(flush, wait);
  }

  async function flush() {
    state.timer = null;
    state.flushing = true;
    state.lastFlush = Date.now();
    const ids = [...state.dirty];
    const stats = state.statsDirty;
    state.dirty.clear();
    state.statsDirty = false;
    try {
      if (stats) state.stats = await api("/v1/stats");
      await Promise.all(ids.map((id) => refreshRun(id).catch((error) => console.warn(error))));
      chooseActiveRun();
      if (state.activeRun && !ids.includes(state.activeRun)) await refreshRun(state.activeRun);
      render();
    } catch (error) {
      console.warn(error);
    } finally {
      state.flushing = false;
      if (state.dirty.size || state.statsDirty) schedule();
    }
  }

  // ---- the event stream ----
  function onEvent(message) {
    let event;
    try {
      event = JSON.parse(message.data);
    } catch {
      return;
    }
    if (typeof event.id === "number") {
      if (event.id <= state.lastEventId) return; // already seen (a replay after reconnecting)
      state.lastEventId = event.id;
    }
    state.dirty.add(event.run_id);
    if (event.type === "run") {
      state.statsDirty = true;
      if ((event.state === "queued" || event.state === "running") && !state.counted.has(event.run_id)) {
        state.counted.set(event.run_id, {}); // followed from its start: its document events count it exactly
      }
      const run = state.runs.get(event.run_id);
      if (run) {
        if (RUN_STATUSES.has(event.state)) run.status = event.state; // not the marks: stop_requested, expired
        if (event.exit_code !== null && event.exit_code !== undefined) run.exit_code = event.exit_code;
      }
    } else {
      countSettled(event);
      if (event.state === "failed" || event.state === "dead") addFailure(event);
    }
    renderSoon();
    schedule();
  }

  // The counts move at once (for runs followed from their start); the throttled refresh then brings
  // the run's own view (rates, ETA, stages).
  function countSettled(event) {
    const counts = state.counted.get(event.run_id);
    if (counts && SETTLED.has(event.state)) counts[event.state] = (counts[event.state] || 0) + 1;
    const run = state.runs.get(event.run_id);
    if (run && run.active && event.state !== "running") {
      run.active = run.active.filter((job) => job.source_id !== event.document_id);
    }
  }

  function connect(after) {
    if (state.source) state.source.close();
    // EventSource reconnects by itself and sends Last-Event-ID; onEvent drops anything already seen.
    const source = new EventSource(`/v1/events?after=${after}`, { withCredentials: true });
    state.source = source;
    let reconnecting = false;
    source.onopen = () => {
      setConnection("live", "live");
      if (reconnecting) {
        for (const id of state.order) state.dirty.add(id); // catch up on what moved while away
        state.statsDirty = true;
        schedule();
      }
    };
    source.onmessage = onEvent;
    for (const type of ["document", "run", "event"]) source.addEventListener(type, onEvent);
    source.onerror = () => {
      reconnecting = true;
      if (source.readyState === EventSource.CLOSED) {
        // The server refused the stream (401, 5xx): try again in a while, from the last event seen.
        setConnection("reconnecting", "disconnected, retrying…");
        setTimeout(async () => {
          try {
            await api("/v1/stats"); // a 401 here signs the page out instead of retrying forever
          } catch {
            if (state.signedOut) return;
          }
          connect(state.lastEventId);
        }, 3000);
      } else {
        setConnection("reconnecting", "reconnecting…");
      }
    };
  }

  function setConnection(kind, text) {
    const node = $("connection");
    node.dataset.state = kind;
    node.textContent = text;
  }

  function signedOut() {
    state.signedOut = true;
    if (state.source) state.source.close();
    setConnection("signed-out", "signed out");
    const notice = $("notice");
    notice.textContent = "The server refused the token: open /?token=YOUR_TOKEN to sign in again.";
    notice.hidden = false;
  }

  async function start() {
    let after = 0;
    try {
      after = await loadAll();
    } catch (error) {
      console.warn(error);
      if (state.signedOut) return;
      setConnection("reconnecting", "could not load, retrying…");
      setTimeout(start, 3000);
      return;
    }
    connect(after);
    setInterval(() => {
      if (state.activeRun) {
        state.dirty.add(state.activeRun);
        schedule();
      }
      renderActive();
    }, POLL_MS);
    setInterval(() => {
      state.statsDirty = true;
      schedule();
    }, STATS_MS);
    setInterval(renderFailures, 30000); // "2m ago" moves on
  }

  document.addEventListener("DOMContentLoaded", start);
})();
