#include "internal/observer_page.hpp"

namespace strata::internal {

// The page keeps the last snapshot and draws it; pushed events change the rows they name at
// once (a crash turns the row red, a restart flashes it green) and ask for a new snapshot
// within a second, which brings the counts, new and removed children and other nodes' changes
// (their events stay in their node). Batches are applied in one animation frame each.
// What tests/runtime/browser/observer.test.mjs reads: #status (class "ok" when live), #totals,
// section.sup[data-path] with .aggregate, .gaveup, .toggle, .pager (.prev, .next, .range), and
// tr.child[data-path] with td.state, td.restarts, td.exit and the classes "crashed" and
// "recovered".
const std::string& live_page() {
  static const std::string html = R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>strata observer</title>
<style>
  :root { --bg: #eef0f4; --card: #fff; --line: #dde1e8; --ink: #1d2330; --dim: #6b7385;
          --ok: #2fb344; --err: #c0392b; --warn: #f5a623; }
  * { box-sizing: border-box; }
  body { margin: 0; background: var(--bg); color: var(--ink);
         font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; }
  header { display: flex; align-items: center; gap: 1.2em; padding: .6em 1.2em;
           background: var(--ink); color: #fff; position: sticky; top: 0; z-index: 1; }
  header h1 { margin: 0; font-size: 1.05em; font-weight: 600; }
  #totals { font-size: .85em; opacity: .85; }
  #status { margin-left: auto; font-size: .8em; padding: .15em .7em; border-radius: 1em;
            background: #ffffff1f; }
  #status::before { content: "\25CF  "; color: var(--warn); }
  #status.ok::before { color: var(--ok); }
  main { padding: 1em 1.2em; }
  #error { color: var(--err); }
  section.sup { background: var(--card); border: 1px solid var(--line); border-radius: 6px;
                margin: .6em 0; padding: .5em .8em; }
  section.sup section.sup { margin-left: 1.2em; }
  .head { display: flex; flex-wrap: wrap; align-items: baseline; gap: .8em; }
  .head .path { font-weight: 600; font-family: ui-monospace, monospace; }
  .dim, .aggregate { color: var(--dim); font-size: .85em; }
  .gaveup { color: #fff; background: var(--err); border-radius: 1em; padding: 0 .6em;
            font-size: .8em; }
  .sup.undefined > .head .path, .sup.shutting_down > .head .path { color: var(--err); }
  button { font: inherit; font-size: .8em; border: 1px solid var(--line); background: #f7f8fa;
           border-radius: 4px; padding: .05em .6em; cursor: pointer; }
  button:disabled { opacity: .4; cursor: default; }
  table { border-collapse: collapse; width: 100%; margin-top: .4em; font-size: .9em; }
  th { text-align: left; color: var(--dim); font-weight: 500; border-bottom: 1px solid var(--line); }
  td, th { padding: .15em .6em .15em 0; }
  td.id { font-family: ui-monospace, monospace; }
  td.exit { color: var(--dim); max-width: 30em; overflow: hidden; text-overflow: ellipsis;
            white-space: nowrap; }
  td.restarts, td.mailbox { text-align: right; }
  tr.child { transition: background-color .4s; }
  tr.child.restarting td.state, tr.child.stopped td.state { color: var(--warn); }
  tr.child.crashed { background: #f8c9c4; transition: none; }
  tr.child.crashed td.exit { color: var(--err); }
  tr.child.recovered { background: #c8efd0; transition: none; }
  .collapsed > table, .collapsed > .nested, .collapsed > .pager { display: none; }
</style>
</head>
<body>
<header><h1>strata observer</h1><span id="totals"></span><span id="status">connecting</span></header>
<main><div id="error"></div><div id="tree"></div></main>
<script>
"use strict";
const CRASH_MS = 700;      // how long a crash stays red at least, when the restart follows at once
const RECOVER_MS = 1500;   // how long a restart flashes green
const RESNAPSHOT_MS = 1000; // after events, a new snapshot at most this late (counts, new children)
const REFRESH_MS = 5000;   // a snapshot at least this often (mailboxes, other nodes)
const COLLAPSE_OVER = 50;  // supervisors with more children start collapsed
const LIMIT = 100;         // children per page

let ws = null;
let tree = null;            // the last snapshot's document
const expanded = new Map(); // supervisor path -> bool, once the user toggled it
const offsets = new Map();  // supervisor path -> first child shown, when paged
const pages = new Map();    // supervisor path -> its children at that offset (from /tree)
const marks = new Map();    // child path -> {cls, reason, crashedAt, recoverAt, until}
const gaveUp = new Map();   // supervisor path -> time it reached its intensity
const rows = new Map();     // child path -> its tr
let pending = [];           // batches waiting for the next animation frame
let resnapshotTimer = null;
let lastSnapshot = 0;

const $ = (id) => document.getElementById(id);
const dash = (x) => (x === null || x === undefined ? "\u2013" : String(x));

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function connect() {
  const url = new URL("live", location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  url.searchParams.set("limit", String(LIMIT));
  ws = new WebSocket(url);
  ws.onopen = () => { $("status").textContent = "live"; $("status").className = "ok"; };
  ws.onclose = (e) => {
    $("status").className = "";
    $("status").textContent = e.code === 1001 ? "the system stopped" : "disconnected";
    setTimeout(connect, 2000);
  };
  ws.onmessage = (e) => {
    let msg;
    try { msg = JSON.parse(e.data); } catch { return; }
    if (msg.type === "snapshot") {
      lastSnapshot = Date.now();
      tree = msg.tree;
      refetchPages();
      draw();
    } else if (msg.type === "events") {
      pending.push(msg);
      if (pending.length === 1) requestAnimationFrame(applyPending);
    } else if (msg.type === "resnapshot") {
      askSnapshot(0);
    } else if (msg.type === "error") {
      $("error").textContent = msg.error;
    }
  };
}

function askSnapshot(delay) {
  if (resnapshotTimer !== null) return;
  resnapshotTimer = setTimeout(() => {
    resnapshotTimer = null;
    if (ws && ws.readyState === WebSocket.OPEN) ws.send("snapshot");
  }, delay);
}

setInterval(() => { if (Date.now() - lastSnapshot >= REFRESH_MS) askSnapshot(0); }, 1000);

// Applies every batch received since the last frame: only rows on screen are touched, so a
// burst for 10,000 children costs a map lookup each.
function applyPending() {
  const batches = pending;
  pending = [];
  const now = Date.now();
  let structural = false;
  for (const b of batches) {
    if (b.dropped > 0) structural = true;
    for (const ev of b.events) {
      const path = ev.supervisor + "/" + ev.child;
      if (ev.event === "exited") {
        marks.set(path, { cls: "crashed", reason: ev.reason, crashedAt: now });
      } else if (ev.event === "restarted") {
        const m = marks.get(path);
        const recoverAt = m && m.cls === "crashed" ? Math.max(now, m.crashedAt + CRASH_MS) : now;
        marks.set(path, { cls: "crashed", reason: m ? m.reason : "", crashedAt: m ? m.crashedAt : now,
                          recoverAt, restarts: ev.restarts });
      } else if (ev.event === "start_failed") {
        marks.set(path, { cls: "crashed", reason: ev.reason, crashedAt: now });
      } else if (ev.event === "intensity_reached") {
        gaveUp.set(ev.supervisor, now);
        structural = true;
      } else {
        structural = true; // started, shutdown: children come and go
      }
      const row = rows.get(path);
      if (!row) { structural = true; continue; }
      if (ev.event === "exited" || ev.event === "start_failed") {
        row.querySelector("td.exit").textContent = ev.reason;
        row.querySelector("td.exit").title = ev.reason;
        row.querySelector("td.state").textContent = ev.event;
      } else if (ev.event === "restarted") {
        row.querySelector("td.restarts").textContent = String(ev.restarts);
        row.querySelector("td.state").textContent = "running";
      }
      paintMark(row, path);
    }
  }
  for (const [p] of gaveUp) paintSupervisor(p);
  askSnapshot(structural ? 100 : RESNAPSHOT_MS);
}

function paintMark(row, path) {
  const m = marks.get(path);
  row.classList.toggle("crashed", !!m && m.cls === "crashed");
  row.classList.toggle("recovered", !!m && m.cls === "recovered");
}

// Crashes turn green once restarted (after CRASH_MS at least), and then back to normal.
setInterval(() => {
  const now = Date.now();
  for (const [path, m] of marks) {
    if (m.cls === "crashed" && m.recoverAt !== undefined && now >= m.recoverAt) {
      m.cls = "recovered";
      m.until = now + RECOVER_MS;
    } else if (m.cls === "recovered" && now >= m.until) {
      marks.delete(path);
    } else {
      continue;
    }
    const row = rows.get(path);
    if (row) paintMark(row, path);
  }
}, 100);

function paintSupervisor(path) {
  const sec = document.querySelector(`section.sup[data-path="${CSS.escape(path)}"]`);
  if (!sec || !gaveUp.has(path)) return;
  const badge = sec.querySelector(":scope > .head > .gaveup");
  badge.hidden = false;
  badge.textContent = "gave up " + new Date(gaveUp.get(path)).toLocaleTimeString();
}

function counts(obj) {
  return Object.entries(obj).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(" \u00b7 ");
}

function draw() {
  const c = tree.children;
  $("totals").textContent = `${tree.supervisors} supervisors, ${c.total} children: ` +
    `${counts(c.by_state) || "none"} | ${counts(c.by_placement) || "\u2013"}`;
  rows.clear();
  const root = $("tree");
  const frag = document.createDocumentFragment();
  for (const s of tree.roots) frag.appendChild(drawSupervisor(s));
  root.replaceChildren(frag);
  for (const [p] of gaveUp) paintSupervisor(p);
  // Marks of children no longer on screen (removed, or paged away) would only go stale.
  for (const [p] of marks) if (!rows.has(p)) marks.delete(p);
}

function drawSupervisor(s) {
  const sec = el("section", "sup " + s.state);
  sec.dataset.path = s.path;
  const head = el("div", "head");
  head.appendChild(el("span", "path", s.path));
  const where = s.node ? ` \u00b7 process ${s.pid} on ${s.node}` : "";
  head.appendChild(el("span", "dim", `${s.strategy || ""} \u00b7 ${s.state}` +
    ` \u00b7 mailbox ${dash(s.mailbox)}${where}` + (s.error ? ` \u00b7 ${s.error}` : "")));
  head.appendChild(el("span", "aggregate", `${s.children_total} children: ` +
    `${counts(s.children_by_state) || "none"} | ${counts(s.children_by_placement || {}) || "\u2013"}`));
  const badge = el("span", "gaveup");
  badge.hidden = true;
  head.appendChild(badge);
  const open = expanded.has(s.path) ? expanded.get(s.path) : s.children_total <= COLLAPSE_OVER;
  const toggle = el("button", "toggle", open ? "collapse" : "expand");
  toggle.onclick = () => {
    const now = sec.classList.toggle("collapsed");
    expanded.set(s.path, !now);
    toggle.textContent = now ? "expand" : "collapse";
  };
  if (s.children_total > 0) head.appendChild(toggle);
  sec.appendChild(head);
  if (!open) sec.classList.add("collapsed");
  const children = pages.has(s.path) ? pages.get(s.path) : s.children;
  const offset = offsets.get(s.path) || 0;
  if (s.children_total > LIMIT) sec.appendChild(drawPager(s, offset));
  const table = el("table");
  const hr = el("tr");
  for (const h of ["child", "type", "placement", "state", "restarts", "last exit", "mailbox"])
    hr.appendChild(el("th", "", h));
  table.appendChild(hr);
  const nested = el("div", "nested");
  for (const ch of children) {
    table.appendChild(drawChild(ch));
    if (ch.supervisor) nested.appendChild(drawSupervisor(ch.supervisor));
  }
  sec.appendChild(table);
  sec.appendChild(nested);
  return sec;
}

function drawChild(ch) {
  const tr = el("tr", "child " + ch.state);
  tr.dataset.path = ch.path;
  const where = ch.node ? ` (${ch.pid} on ${ch.node})` : "";
  tr.appendChild(el("td", "id", ch.id));
  tr.appendChild(el("td", "type", ch.type));
  tr.appendChild(el("td", "placement", ch.placement + where));
  tr.appendChild(el("td", "state", ch.state));
  tr.appendChild(el("td", "restarts", String(ch.restarts)));
  const exit = el("td", "exit", dash(ch.last_exit));
  exit.title = ch.last_exit || "";
  tr.appendChild(exit);
  tr.appendChild(el("td", "mailbox", dash(ch.mailbox)));
  const m = marks.get(ch.path);
  if (m && m.cls === "crashed" && m.reason) exit.textContent = m.reason;
  // Running again, but its restart event was not seen (dropped in a burst): it recovered.
  if (m && m.cls === "crashed" && m.recoverAt === undefined && ch.state === "running"
      && Date.now() - m.crashedAt > RESNAPSHOT_MS) {
    m.recoverAt = Date.now();
  }
  paintMark(tr, ch.path);
  rows.set(ch.path, tr);
  return tr;
}

function drawPager(s, offset) {
  const pager = el("div", "pager");
  const prev = el("button", "prev", "\u2039 previous");
  const next = el("button", "next", "next \u203a");
  const last = Math.min(offset + LIMIT, s.children_total);
  prev.disabled = offset === 0;
  next.disabled = last >= s.children_total;
  prev.onclick = () => showPage(s.path, Math.max(0, offset - LIMIT));
  next.onclick = () => showPage(s.path, offset + LIMIT);
  pager.appendChild(prev);
  pager.appendChild(el("span", "range dim", ` children ${offset + 1}\u2013${last} of ${s.children_total} `));
  pager.appendChild(next);
  return pager;
}

// Pages other than the first come from /tree, over HTTP; the snapshots keep the first.
async function fetchPage(path, offset) {
  const q = new URLSearchParams({ path, offset: String(offset), limit: String(LIMIT) });
  const res = await fetch("tree?" + q);
  if (!res.ok) throw new Error(await res.text());
  const doc = await res.json();
  return doc.roots[0].children;
}

async function showPage(path, offset) {
  try {
    if (offset === 0) {
      offsets.delete(path);
      pages.delete(path);
    } else {
      pages.set(path, await fetchPage(path, offset));
      offsets.set(path, offset);
    }
    $("error").textContent = "";
    draw();
  } catch (e) {
    $("error").textContent = String(e.message || e);
  }
}

function refetchPages() {
  for (const [path, offset] of offsets) {
    fetchPage(path, offset).then((children) => { pages.set(path, children); draw(); },
      () => { offsets.delete(path); pages.delete(path); draw(); });
  }
}

connect();
</script>
</body>
</html>
)html";
  return html;
}

} // namespace strata::internal
