// ujr dashboard: plain browser JavaScript, no framework, nothing loaded from elsewhere.
// Data comes from this server's /api/*; live updates are server-sent events read with
// fetch(), so that the token (when the runner has one) goes in a header, never a cookie.
"use strict";

const TOKEN_KEY = "ujr-status-token";
const view = document.getElementById("view");
const notice = document.getElementById("notice");
const connection = document.getElementById("connection");
const runnerState = document.getElementById("runner-state");
const tokenForm = document.getElementById("token-form");
const tokenInput = document.getElementById("token");

// Symbols common fonts have (the state is also written as a word: colour is never needed).
const SYMBOLS = { running: "▶", waiting: "○", "backed off": "!", "retry waiting": "↻", paused: "‖", done: "✓", failed: "✗", removed: "–", idle: "·", finishing: "…", "not running": "–" };
const OUTCOME_SYMBOLS = { done: "✓", failed: "✗", timeout: "✗", retry: "↻", cancelled: "–", interrupted: "!", running: "▶" };

let latest; // the last overview
let jobData; // the job page's data
let jobRefresh = 0;

// ---- helpers -----------------------------------------------------------------------

/**
 * Builds an element: h("a", { href }, "text", child…). Text is always text, never HTML.
 * Handlers (onclick…) are kept on the element and called through one listener, so that
 * patch() can give an element that stays on the page the handlers of its new rendering.
 */
function h(tag, attributes, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) {
      element.handlers = { ...element.handlers, [key.slice(2)]: value };
      element.addEventListener(key.slice(2), callHandler);
    } else if (key === "className") element.className = value;
    else element.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

const svgNs = "http://www.w3.org/2000/svg";
function s(tag, attributes, ...children) {
  const element = document.createElementNS(svgNs, tag);
  for (const [key, value] of Object.entries(attributes ?? {})) element.setAttribute(key, String(value));
  for (const child of children.flat()) element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return element;
}

function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

function headers() {
  const value = token();
  return value ? { authorization: `Bearer ${value}` } : {};
}

async function api(path, init = {}) {
  const response = await fetch(path, { ...init, headers: { ...headers(), ...(init.headers ?? {}) } });
  if (response.status === 401) {
    askForToken("This runner needs its status token (runner.status.token) to show its state.");
    throw new Error("unauthorized");
  }
  return response;
}

function askForToken(message) {
  tokenForm.hidden = false;
  say(message);
}

function say(message) {
  notice.textContent = message;
}

function time(value) {
  if (value === undefined || value === null || value === "") return h("span", { className: "muted" }, "—");
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return h("time", { datetime: date.toISOString(), title: date.toISOString() }, relative(date));
}

function relative(date) {
  const seconds = Math.round((date.getTime() - Date.now()) / 1000);
  const abs = Math.abs(seconds);
  if (abs < 1) return "just now";
  const text = abs < 60 ? `${abs}s` : abs < 3600 ? `${Math.round(abs / 60)} min` : abs < 86400 ? `${(abs / 3600).toFixed(1)} h` : `${(abs / 86400).toFixed(1)} d`;
  return seconds >= 0 ? `in ${text}` : `${text} ago`;
}

function duration(ms) {
  if (ms === undefined || ms === null) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60000)} min ${Math.round((ms % 60000) / 1000)} s`;
}

function stateBadge(state) {
  return h("span", { className: `state state-${state.replace(/\s+/g, "-")}` }, `${SYMBOLS[state] ?? "·"} ${state}`);
}

function outcomeBadge(outcome) {
  const tone = outcome === "done" ? "state-done" : outcome === "running" ? "state-running" : outcome === "cancelled" ? "" : "state-failed";
  return h("span", { className: `state ${tone}` }, `${OUTCOME_SYMBOLS[outcome] ?? "·"} ${outcome}`);
}

function progressCell(progress) {
  if (!progress) return h("span", { className: "muted" }, "—");
  const { done, total, message } = progress;
  const label = [done !== undefined ? (total !== undefined ? `${done} / ${total}` : `${done}`) : "", message ?? ""].filter(Boolean).join(" ");
  return h("span", {}, total ? h("progress", { max: total, value: done ?? 0, "aria-label": label }) : null, " ", label);
}

function callHandler(event) {
  return this.handlers?.[event.type]?.call(this, event);
}

/**
 * Makes `parent`'s children look like `next` (freshly built nodes) in place: an element
 * that is there already with the same tag (and the same data-key, for rows) stays, with
 * its attributes, text, handlers and children brought up to date. Live updates come
 * several times a second while tasks make progress: replacing the page's elements each
 * time took a button away between a press and its release (the click was lost) and from
 * under the keyboard focus.
 */
function patch(parent, next) {
  let cursor = parent.firstChild;
  for (const node of next) {
    if (node === null || node === undefined) continue;
    let match = cursor && sameKind(cursor, node) ? cursor : null;
    if (!match && node.nodeType === Node.ELEMENT_NODE && node.hasAttribute("data-key")) {
      // The same row further on: the ones before it are gone.
      for (let later = cursor?.nextSibling; later && !match; later = later.nextSibling) if (sameKind(later, node)) match = later;
      while (match && cursor !== match) {
        const gone = cursor;
        cursor = cursor.nextSibling;
        gone.remove();
      }
    }
    if (match) {
      patchNode(match, node);
      cursor = match.nextSibling;
    } else parent.insertBefore(node, cursor);
  }
  while (cursor) {
    const gone = cursor;
    cursor = cursor.nextSibling;
    gone.remove();
  }
}

function sameKind(a, b) {
  return a.nodeType === b.nodeType && a.nodeName === b.nodeName && (a.nodeType !== Node.ELEMENT_NODE || a.getAttribute("data-key") === b.getAttribute("data-key"));
}

function patchNode(element, next) {
  if (element.nodeType !== Node.ELEMENT_NODE) {
    if (element.nodeValue !== next.nodeValue) element.nodeValue = next.nodeValue;
    return;
  }
  for (const { name } of [...element.attributes]) if (!next.hasAttribute(name)) element.removeAttribute(name);
  for (const { name, value } of next.attributes) if (element.getAttribute(name) !== value) element.setAttribute(name, value);
  element.handlers = next.handlers;
  for (const type of Object.keys(next.handlers ?? {})) element.addEventListener(type, callHandler);
  patch(element, [...next.childNodes]);
}

/** Shows these parts in the view (null parts are left out), in place of what it showed. */
function show(...parts) {
  patch(view, parts.filter((part) => part !== null && part !== undefined && part !== false));
}

function table(caption, headings, rows, empty) {
  if (rows.length === 0) return h("p", { className: "muted" }, empty);
  return h("div", { className: "table-wrap" }, h("table", {}, h("caption", { className: "sr-only" }, caption), h("thead", {}, h("tr", {}, headings.map((text) => h("th", { scope: "col" }, text)))), h("tbody", {}, rows)));
}

async function act(url, label) {
  say(`${label}…`);
  try {
    const response = await api(url, { method: "POST" });
    const body = await response.json().catch(() => ({ message: response.statusText }));
    say(body.message ?? (response.ok ? "done" : "refused"));
  } catch (error) {
    if (error.message !== "unauthorized") say(`${label} failed: ${error.message}`);
  }
}

function jobActions(name, state, actions) {
  if (!actions) return h("span", { className: "muted", title: "Set runner.status.token to enable actions" }, "read-only");
  const paused = state === "paused";
  const ended = state === "done" || state === "failed" || state === "removed" || state === "not running";
  return h(
    "span",
    { className: "actions" },
    h("button", { type: "button", disabled: ended, onclick: () => act(`/api/jobs/${encodeURIComponent(name)}/${paused ? "resume" : "pause"}`, `${paused ? "Resuming" : "Pausing"} ${name}`), "aria-label": `${paused ? "Resume" : "Pause"} job ${name}` }, paused ? "Resume" : "Pause"),
    h("button", { type: "button", disabled: ended || paused, onclick: () => act(`/api/jobs/${encodeURIComponent(name)}/check`, `Asking ${name}`), "aria-label": `Ask job ${name} for tasks now` }, "Ask now"),
  );
}

function panelView(panel, fallbackTitle) {
  if (!panel) return null;
  const value = (field) => {
    if (field.value === null || field.value === undefined) return h("span", { className: "muted" }, "—");
    const text = field.format === "time" ? time(field.value) : typeof field.value === "number" ? field.value.toLocaleString() : String(field.value);
    const content = [text, field.unit ? ` ${field.unit}` : "", field.tone === "error" ? " (error)" : field.tone === "warning" ? " (warning)" : ""];
    const safe = field.href && /^(https?:\/\/|\/)/.test(field.href);
    return h("span", { className: field.tone ? `tone-${field.tone}` : "" }, safe ? h("a", { href: field.href }, content) : content);
  };
  return h(
    "section",
    { className: "panel", "aria-label": panel.title ?? fallbackTitle },
    h("h3", {}, panel.title ?? fallbackTitle),
    h("dl", {}, panel.fields.map((field) => [h("dt", {}, field.label), h("dd", {}, value(field))])),
    panel.list && panel.list.items.length > 0
      ? [h("h3", {}, panel.list.title), h("ul", {}, panel.list.items.map((item) => h("li", { className: item.tone ? `tone-${item.tone}` : "" }, item.href && /^(https?:\/\/|\/)/.test(item.href) ? h("a", { href: item.href }, item.text) : item.text, item.detail ? h("span", { className: "muted" }, ` — ${item.detail}`) : null, item.tone === "error" ? " (error)" : "")))]
      : null,
  );
}

/** Runs and failures per hour: outlined bars for runs, hatched bars for failures (no colour needed). */
function hourlyChart(hours, title) {
  if (!hours || hours.length === 0) return h("p", { className: "muted" }, "No history: the runner keeps none (runner.history: false).");
  const width = 480;
  const height = 120;
  const max = Math.max(1, ...hours.map((hour) => hour.runs));
  const step = width / hours.length;
  const scale = (value) => (value / max) * (height - 20);
  const total = hours.reduce((sum, hour) => sum + hour.runs, 0);
  const failures = hours.reduce((sum, hour) => sum + hour.failures, 0);
  const svg = s(
    "svg",
    { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": `${title}: ${total} runs and ${failures} failures in the last ${hours.length} hours` },
    s("defs", {}, s("pattern", { id: "hatch", width: 4, height: 4, patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" }, s("line", { x1: 0, y1: 0, x2: 0, y2: 4, class: "hatch-line" }))),
    s("line", { x1: 0, y1: height - 14, x2: width, y2: height - 14, class: "axis" }),
    hours.map((hour, index) => {
      const x = index * step + 1;
      const label = `${new Date(hour.hour).toISOString().slice(11, 16)} UTC: ${hour.runs} runs, ${hour.failures} failed`;
      return s(
        "g",
        {},
        s("title", {}, label),
        hour.runs > 0 ? s("rect", { x, y: height - 14 - scale(hour.runs), width: step - 2, height: scale(hour.runs), class: "runs" }) : s("g", {}),
        hour.failures > 0 ? s("rect", { x, y: height - 14 - scale(hour.failures), width: step - 2, height: scale(hour.failures), class: "fails" }) : s("g", {}),
      );
    }),
    s("text", { x: 0, y: height - 2 }, new Date(hours[0].hour).toISOString().slice(11, 16)),
    s("text", { x: width, y: height - 2, "text-anchor": "end" }, "now"),
    s("text", { x: 0, y: 10 }, `max ${max}/h`),
  );
  return h("figure", { className: "chart" }, svg, h("figcaption", { className: "legend" }, `${title}: outlined bars are runs (${total}), hatched bars failures (${failures}), per hour over ${hours.length} h.`));
}

// ---- overview ------------------------------------------------------------------------

function renderOverview(data) {
  const jobsRows = data.jobs.map((job) =>
    h(
      "tr",
      { "data-key": job.name },
      h("th", { scope: "row" }, h("a", { href: `/jobs/${encodeURIComponent(job.name)}` }, job.name)),
      h("td", {}, stateBadge(job.state), job.state === "waiting" ? [" ", time(job.nextCheck)] : job.state === "backed off" ? [" until ", time(job.backoffUntil)] : null),
      h("td", {}, job.running),
      h("td", {}, `${job.counters.done} / ${job.counters.failed}`),
      h("td", {}, time(job.history?.lastSuccessAt)),
      h("td", { className: "message" }, job.history?.lastFailure ? [time(job.history.lastFailure.at), " ", job.history.lastFailure.code ? h("code", {}, job.history.lastFailure.code) : null, " ", job.history.lastFailure.message ?? ""] : job.lastError ? job.lastError.message : h("span", { className: "muted" }, "none")),
      h("td", {}, jobActions(job.name, job.state, data.actions)),
    ),
  );
  const runningRows = data.running.map((task) =>
    h(
      "tr",
      { "data-key": task.runId },
      h("td", {}, h("a", { href: `/jobs/${encodeURIComponent(task.job)}` }, task.job)),
      h("td", {}, task.task.replace(/^.*\//, ""), task.signature ? h("div", { className: "muted" }, task.signature) : null),
      h("td", {}, task.attempt),
      h("td", {}, time(task.startedAt)),
      h("td", { "data-run": task.runId, "data-job": task.job }, progressCell(task.progress)),
      h("td", {}, data.actions ? h("button", { type: "button", onclick: () => act(`/api/runs/${encodeURIComponent(task.runId)}/cancel`, `Cancelling ${task.runId}`), "aria-label": `Cancel task ${task.signature ?? task.runId}` }, "Cancel") : null),
    ),
  );
  const past = data.pastJobs.map((job) => h("li", { "data-key": job.job }, h("a", { href: `/jobs/${encodeURIComponent(job.job)}` }, job.job), ` — ${job.runs} runs, last `, time(job.lastRunAt)));
  show(
    h("h1", {}, "Overview"),
    h(
      "dl",
      { className: "cards" },
      [
        ["Running tasks", data.running.length],
        ["Pool", `${data.pool.size - data.pool.free} / ${data.pool.size} busy`],
        ["Waiting for retry", data.pool.queueDepth],
        ["Done", data.totals.done],
        ["Failed", data.totals.failed],
        ["Retried", data.totals.retried],
      ].map(([label, value]) => h("div", {}, h("dt", {}, label), h("dd", {}, value))),
    ),
    h(
      "div",
      { className: "grid" },
      h("section", { "aria-labelledby": "jobs-heading" }, h("h2", { id: "jobs-heading" }, "Jobs"), table("Jobs", ["Job", "State", "Running", "Done / failed", "Last success", "Last failure", "Actions"], jobsRows, "No jobs.")),
      h("section", { "aria-labelledby": "chart-heading" }, h("h2", { id: "chart-heading" }, "Runs per hour"), data.history ? hourlyChart(data.hourly, "All jobs") : h("p", { className: "muted" }, "No history kept (runner.history: false).")),
    ),
    h("section", { "aria-labelledby": "running-heading" }, h("h2", { id: "running-heading" }, "Running tasks"), table("Running tasks", ["Job", "Task", "Attempt", "Started", "Progress", ""], runningRows, "No task is running.")),
    executorView(data.executor),
    data.jobs.some((job) => job.panel) ? h("section", { "aria-labelledby": "panels-heading" }, h("h2", { id: "panels-heading" }, "Collections"), data.jobs.filter((job) => job.panel).map((job) => panelView(job.panel, job.name))) : null,
    past.length > 0 ? h("section", {}, h("h2", {}, "Jobs in the history, not running now"), h("ul", {}, past)) : null,
  );
}

/** A distributed executor's queue and its workers (BullMQ). */
function executorView(info) {
  if (!info) return null;
  if (info.error) return h("section", { "aria-labelledby": "queue-heading" }, h("h2", { id: "queue-heading" }, "Queue"), h("p", { className: "tone-error" }, `Could not read the queue: ${info.error} (error)`));
  const counts = Object.entries(info.counts ?? {}).map(([state, count]) => `${state} ${count}`).join(" · ");
  return h(
    "section",
    { "aria-labelledby": "queue-heading" },
    h("h2", { id: "queue-heading" }, `Queue ${info.queue}`),
    h("p", {}, `${info.redis ?? ""} — ${counts}`),
    table(
      "Workers on the queue",
      ["Worker (host/pid)", "Address", "Idle"],
      (info.workers ?? []).map((worker) => h("tr", {}, h("td", {}, worker.name), h("td", {}, worker.address ?? "—"), h("td", {}, worker.idleSeconds === undefined ? "—" : `${worker.idleSeconds} s`))),
      "No worker takes tasks from this queue: start `ujr worker` on a machine.",
    ),
  );
}

// ---- job page ------------------------------------------------------------------------

const filters = { outcome: "", q: "" };

async function loadJob(name) {
  const response = await api(`/api/jobs/${encodeURIComponent(name)}`);
  if (response.status === 404) {
    show(h("h1", {}, name), h("p", {}, `No job "${name}" runs here or is in the history. `, h("a", { href: "/" }, "Back to the overview")));
    return;
  }
  jobData = await response.json();
  renderJob(jobData);
  await loadRuns(name);
}

const RUNS_PAGE = 100;

function runRow(run, retryable) {
  return h(
    "tr",
    { "data-key": run.id ?? run.runId },
    h("td", {}, time(run.startedAt ?? run.queuedAt ?? run.endedAt)),
    h("td", {}, outcomeBadge(run.outcome)),
    h("td", {}, duration(run.durationMs)),
    h("td", {}, run.attempt),
    h("td", {}, run.signature ?? run.task.replace(/^.*\//, "")),
    h("td", { className: "message" }, run.code ? [h("code", {}, run.code), " "] : null, run.message ?? (run.progress ? h("span", { className: "muted" }, run.progress) : "")),
    h("td", {}, jobData?.actions && retryable.has(run.runId) ? h("button", { type: "button", onclick: () => act(`/api/runs/${encodeURIComponent(run.runId)}/retry`, `Retrying ${run.signature ?? run.runId}`), "aria-label": `Retry task ${run.signature ?? run.runId}` }, "Retry") : null),
  );
}

async function fetchRuns(name, before) {
  const params = new URLSearchParams({ limit: String(RUNS_PAGE) });
  if (filters.outcome) params.set("outcome", filters.outcome);
  if (filters.q) params.set("q", filters.q);
  if (before !== undefined) params.set("before", String(before));
  const response = await api(`/api/jobs/${encodeURIComponent(name)}/runs?${params}`);
  return response.json();
}

/** "Older runs": the next page, appended; the button goes when there is no more. */
function olderButton(name, runs) {
  if (runs.length < RUNS_PAGE) return null;
  const older = async (event) => {
    const button = event.currentTarget;
    const body = document.querySelector("#runs tbody");
    const last = runs.at(-1);
    const page = await fetchRuns(name, last.id);
    const retryable = new Set(jobData?.retryable ?? []);
    for (const run of page.runs) body?.append(runRow(run, retryable));
    button.replaceWith(olderButton(name, page.runs) ?? h("p", { className: "muted" }, "No older runs."));
    document.querySelector("#runs tbody tr:last-child td")?.focus?.();
  };
  return h("button", { type: "button", id: "older-runs", onclick: older }, "Older runs");
}

async function loadRuns(name) {
  const { runs, history } = await fetchRuns(name);
  const target = document.getElementById("runs");
  if (!target) return;
  const retryable = new Set(jobData?.retryable ?? []);
  patch(
    target,
    history
      ? [
          table(
            "Runs",
            ["Started", "Outcome", "Duration", "Attempt", "Signature / task", "Error or last progress", ""],
            runs.map((run) => runRow(run, retryable)),
            filters.outcome || filters.q ? "No run matches these filters." : "No runs recorded yet.",
          ),
          olderButton(name, runs),
        ].filter(Boolean)
      : [h("p", { className: "muted" }, "No history kept (runner.history: false).")],
  );
}

/** The job page's side column: its panel and what the history says (re-rendered as runs settle). */
function jobSide(data) {
  const name = data.name;
  const durations = data.durations;
  return h(
    "div",
    { id: "job-side" },
    h("div", { id: "job-panel" }, panelView(data.panel, name)),
    h("h2", {}, "Summary"),
    data.summary
      ? h("dl", { className: "cards" }, [["Runs", data.summary.runs], ["Done", data.summary.done], ["Failures", data.summary.failures]].map(([label, value]) => h("div", {}, h("dt", {}, label), h("dd", {}, value))))
      : h("p", { className: "muted" }, "No runs recorded."),
    h("p", {}, "Last success: ", time(data.summary?.lastSuccessAt)),
    h("h2", {}, "Duration of successful runs"),
    durations && durations.count > 0 ? h("p", {}, `p50 ${duration(durations.p50)} · p90 ${duration(durations.p90)} · p99 ${duration(durations.p99)} · max ${duration(durations.max)} (${durations.count} runs)`) : h("p", { className: "muted" }, "No successful run yet."),
    h("h2", {}, "Failures by code"),
    table("Failures by code", ["Code", "Count", "Last", "Last message"], (data.failures ?? []).map((group) => h("tr", {}, h("td", {}, h("code", {}, group.code)), h("td", {}, group.count), h("td", {}, time(group.lastAt)), h("td", { className: "message" }, group.lastMessage ?? ""))), "No failures."),
    h("h2", {}, "Runs per hour"),
    data.history ? hourlyChart(data.hourly, name) : h("p", { className: "muted" }, "No history kept."),
    h("h2", {}, "Job events"),
    (data.events ?? []).length > 0 ? h("ul", {}, data.events.map((event) => h("li", {}, time(event.at), ` ${event.event}`, event.message ? ` — ${event.message}` : ""))) : h("p", { className: "muted" }, "None recorded."),
  );
}

async function refreshJob(name) {
  const response = await api(`/api/jobs/${encodeURIComponent(name)}`);
  if (!response.ok) return;
  jobData = await response.json();
  const side = document.getElementById("job-side");
  if (side) patchNode(side, jobSide(jobData));
  await loadRuns(name);
}

function renderJob(data) {
  const name = data.name;
  show(
    h("p", {}, h("a", { href: "/" }, "← Overview")),
    h("h1", {}, `Job ${name} `, h("span", { id: "job-state" }, stateBadge(data.state))),
    h("div", { className: "actions", id: "job-actions" }, jobActions(name, data.state, data.actions)),
    h(
      "div",
      { className: "grid" },
      h(
        "div",
        {},
        h("h2", {}, "Running now"),
        h("div", { id: "job-running" }, runningList(data.running, data.actions)),
        h("h2", {}, "History"),
        h(
          "form",
          { className: "filters", role: "search", onsubmit: (event) => event.preventDefault() },
          h("label", {}, "Outcome", h("select", { id: "filter-outcome", onchange: (event) => { filters.outcome = event.target.value; loadRuns(name); } }, [["", "all"], ["done", "done"], ["failed", "failed (any)"], ["timeout", "timed out"], ["retry", "retried"], ["cancelled", "cancelled"], ["interrupted", "interrupted"]].map(([value, label]) => h("option", { value, selected: filters.outcome === value }, label)))),
          h("label", {}, "Signature contains", h("input", { id: "filter-q", type: "search", value: filters.q, oninput: debounce((event) => { filters.q = event.target.value; loadRuns(name); }, 250) })),
        ),
        h("div", { id: "runs" }, h("p", {}, "Loading…")),
      ),
      jobSide(data),
    ),
  );
}

function runningList(running, actions) {
  return table(
    "Running tasks of this job",
    ["Task", "Attempt", "Started", "Progress", ""],
    running.map((task) =>
      h(
        "tr",
        { "data-key": task.runId },
        h("td", {}, task.signature ?? task.task.replace(/^.*\//, "")),
        h("td", {}, task.attempt),
        h("td", {}, time(task.startedAt)),
        h("td", { "data-run": task.runId, "data-job": task.job }, progressCell(task.progress)),
        h("td", {}, actions ? h("button", { type: "button", onclick: () => act(`/api/runs/${encodeURIComponent(task.runId)}/cancel`, `Cancelling ${task.runId}`), "aria-label": `Cancel task ${task.signature ?? task.runId}` }, "Cancel") : null),
      ),
    ),
    "No task of this job is running.",
  );
}

/** Live parts of the job page from an overview update; history parts reload when runs settle. */
function updateJob(name, overview) {
  const job = overview.jobs.find((entry) => entry.name === name);
  const state = job ? job.state : "not running";
  const update = (id, ...children) => {
    const target = document.getElementById(id);
    if (target) patch(target, children);
  };
  update("job-state", stateBadge(state));
  update("job-actions", jobActions(name, state, overview.actions));
  update("job-running", runningList(overview.running.filter((task) => task.job === name), overview.actions));
  if (job?.panel) update("job-panel", panelView(job.panel, name));
  const settled = job ? job.counters.done + job.counters.failed + job.counters.cancelled : 0;
  if (jobData && settled !== jobRefresh && Date.now() - (updateJob.last ?? 0) > 3000) {
    updateJob.last = Date.now();
    jobRefresh = settled;
    refreshJob(name).catch(() => undefined);
  }
}

function debounce(fn, ms) {
  let timer;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

// ---- live updates --------------------------------------------------------------------

function currentJob() {
  const match = /^\/jobs\/([^/]+)$/.exec(location.pathname);
  return match ? decodeURIComponent(match[1]) : undefined;
}

function onOverview(data) {
  latest = data;
  document.documentElement.dataset.updated = data.generatedAt;
  runnerState.replaceChildren(stateBadge(data.state === "running" ? "running" : data.state));
  const job = currentJob();
  if (job) updateJob(job, data);
  else if (!view.contains(document.activeElement) || document.activeElement === document.body) renderOverview(data);
  else renderPreservingFocus(data);
}

/** Re-renders the overview and puts the keyboard focus back on the same control. */
function renderPreservingFocus(data) {
  const label = document.activeElement?.getAttribute("aria-label") ?? document.activeElement?.textContent;
  renderOverview(data);
  const again = [...view.querySelectorAll("a, button")].find((element) => (element.getAttribute("aria-label") ?? element.textContent) === label);
  again?.focus();
}

async function listen() {
  let retry = 1000;
  for (;;) {
    try {
      const response = await api("/api/events", { headers: { accept: "text/event-stream" } });
      if (!response.ok || !response.body) throw new Error(`${response.status} ${response.statusText}`);
      connection.textContent = "live";
      retry = 1000;
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const chunk = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = chunk.split("\n").filter((line) => line.startsWith("data: ")).map((line) => line.slice(6)).join("\n");
          if (data) onOverview(JSON.parse(data));
        }
      }
      connection.textContent = "disconnected: the runner stopped? retrying…";
    } catch (error) {
      if (error.message === "unauthorized") {
        connection.textContent = "waiting for the token";
        return;
      }
      connection.textContent = `disconnected (${error.message}); retrying…`;
    }
    await new Promise((resolve) => setTimeout(resolve, retry));
    retry = Math.min(retry * 2, 15000);
  }
}

tokenForm.addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, tokenInput.value.trim());
  tokenInput.value = "";
  tokenForm.hidden = true;
  say("Token set for this tab.");
  start();
});

function start() {
  const job = currentJob();
  if (job) {
    document.title = `${job} · ujr dashboard`;
    loadJob(job).catch((error) => error.message !== "unauthorized" && say(`Could not load the job: ${error.message}`));
  }
  listen();
}

start();
