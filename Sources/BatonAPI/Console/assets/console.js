// Baton console: live updates without a page reload. The pages are rendered on the server; this
// script only refreshes what changes, from the same HTTP API (the session cookie authenticates).
"use strict";

const TERMINAL = new Set(["succeeded", "failed", "cancelled", "rejected_by_gate"]);

function seconds(from, to) {
  if (!from) return "";
  const end = to ? new Date(to) : new Date();
  const s = (end - new Date(from)) / 1000;
  return s < 60 ? s.toFixed(1) + " s" : Math.floor(s / 60) + " min " + Math.round(s % 60) + " s";
}

function text(value) {
  const span = document.createElement("span");
  span.textContent = value == null ? "" : String(value);
  return span.innerHTML;
}

// Runs table: refreshed every 2 seconds with the same filters.
async function refreshRuns(table) {
  const query = table.dataset.query || "";
  const answer = await fetch("/v1/runs?limit=50" + (query ? "&" + query : ""), { credentials: "same-origin" });
  if (!answer.ok) return;
  const page = await answer.json();
  const body = table.tBodies[0];
  body.innerHTML = page.runs.map(run =>
    `<tr data-run="${text(run.run_id)}"><td><a href="/ui/runs/${text(run.run_id)}">${text(run.run_id.slice(0, 8))}</a></td>` +
    `<td>${text(run.pipeline)}</td><td><span class="badge ${text(run.state)}">${text(run.state)}</span></td>` +
    `<td>${text(run.created_at)}</td><td class="duration">${text(seconds(run.created_at, run.finished_at))}</td></tr>`
  ).join("");
}

// A run: its event stream (Server-Sent Events) says when something changed; the run's document
// then gives the numbers, so the page shows what `baton runs show --json` shows.
function applyRun(run) {
  const badge = document.getElementById("run-state");
  badge.textContent = run.state;
  badge.className = "badge " + run.state;
  document.getElementById("run-duration").textContent = seconds(run.created_at, run.finished_at);
  for (const stage of run.stages) {
    const node = document.querySelector(`g.node[data-node="${CSS.escape(stage.name)}"]`);
    if (node) {
      node.setAttribute("class", "node " + stage.state);
      const line = node.querySelector(".line1");
      if (line) line.textContent = stage.state + (stage.duration_seconds != null ? " · " + stage.duration_seconds.toFixed(1) + " s" : "");
    }
    const row = document.querySelector(`tr[data-stage="${CSS.escape(stage.name)}"]`);
    if (row) {
      const state = row.querySelector(".state");
      state.textContent = stage.state;
      state.className = "badge " + stage.state + " state";
      row.querySelector(".attempts").textContent = stage.attempts;
      row.querySelector(".duration").textContent = stage.duration_seconds != null ? stage.duration_seconds.toFixed(1) + " s" : "";
    }
  }
  document.body.dataset.runState = run.state;
}

function followRun(runID) {
  // One read at a time; an event that arrives during a read asks for one more after it, so the
  // last event (often the run's end, right after its last stage's) is never left unread.
  let pending = false;
  let again = false;
  const refresh = async () => {
    if (pending) { again = true; return; }
    pending = true;
    try {
      do {
        again = false;
        const answer = await fetch("/v1/runs/" + runID, { credentials: "same-origin" });
        if (answer.ok) {
          const run = await answer.json();
          if (run.stages) applyRun(run);
        }
      } while (again);
    } catch {
      // The API did not answer: read again shortly rather than stay on an old state.
      setTimeout(refresh, 2000);
    } finally {
      pending = false;
    }
  };
  const events = new EventSource("/v1/runs/" + runID + "/events");
  const types = ["run.started", "run.succeeded", "run.failed", "run.cancelled", "run.rejected_by_gate",
    "stage.ready", "stage.started", "stage.succeeded", "stage.cached", "stage.failed", "stage.skipped",
    "gate.passed", "gate.failed", "model.registered", "model.promoted", "rollout.step", "rollout.succeeded",
    "rollout.aborted", "run.cancel"];
  for (const type of types) {
    events.addEventListener(type, event => {
      document.body.dataset.lastEvent = event.lastEventId;
      refresh();
      if (type.startsWith("run.") && type !== "run.started" && type !== "run.cancel") events.close();
    });
  }
}

// A stage's job log, its last 50 lines, read while its <details> is open (every 3 s until the
// run ends).
function followLogs(runID) {
  for (const details of document.querySelectorAll("details.log")) {
    const pre = details.querySelector("pre");
    const path = "/v1/runs/" + runID + "/stages/" + encodeURIComponent(details.dataset.stage) + "/logs?tail_lines=50";
    const load = async () => {
      const answer = await fetch(path, { credentials: "same-origin" });
      const body = await answer.text();
      if (answer.ok) {
        pre.textContent = body || "(nothing printed yet)";
      } else {
        try { pre.textContent = JSON.parse(body).detail; } catch { pre.textContent = "HTTP " + answer.status; }
      }
      details.dataset.loaded = "true";
    };
    let timer = null;
    details.addEventListener("toggle", () => {
      if (!details.open) { clearInterval(timer); return; }
      load().catch(() => {});
      timer = setInterval(() => {
        if (TERMINAL.has(document.body.dataset.runState || "")) clearInterval(timer);
        load().catch(() => {});
      }, 3000);
    });
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const runs = document.getElementById("runs");
  if (runs) setInterval(() => refreshRuns(runs).catch(() => {}), 2000);
  const runID = document.body.dataset.runId;
  if (document.body.dataset.page === "run" && runID) {
    followLogs(runID);
    const state = document.getElementById("run-state").textContent;
    if (!TERMINAL.has(state)) followRun(runID);
  }
});
