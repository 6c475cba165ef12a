#include "server.hpp"

namespace chat {

// The chat page: one room at a time (joining another leaves the first), reconnects with
// backoff and says hello and joins again. Self-contained: no external resources. The element
// ids are what tests/gateway/browser drives: #nick, #room, #login (its button #join), #error,
// #status, #title, #members, #count, #log (.msg lines with .from and .text; .sys for
// presence), #say (#text, #send).
const std::string& page() {
  static const std::string html = R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>strata chat</title>
<style>
  :root { --bg: #eef0f4; --card: #fff; --line: #dde1e8; --ink: #1d2330; --dim: #6b7385;
          --accent: #3b6cf6; --ok: #2fb344; --err: #c0392b; }
  * { box-sizing: border-box; }
  body { margin: 0; height: 100vh; display: flex; flex-direction: column; background: var(--bg);
         color: var(--ink); font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; }
  header { display: flex; align-items: center; padding: .6em 1.2em; background: var(--ink);
           color: #fff; }
  header h1 { margin: 0; font-size: 1.05em; font-weight: 600; letter-spacing: .02em; }
  #status { margin-left: auto; font-size: .8em; padding: .15em .7em; border-radius: 1em;
            background: #ffffff1f; }
  #status::before { content: "\25CF  "; color: #f5a623; }
  #status.ok::before { color: var(--ok); }
  .wrap { flex: 1; display: flex; gap: 1em; padding: 1em; min-height: 0; }
  aside { width: 15em; display: flex; flex-direction: column; gap: 1em; }
  .card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; }
  aside .card { padding: .9em 1em; }
  h2 { margin: 0 0 .6em; font-size: .75em; font-weight: 600; text-transform: uppercase;
       letter-spacing: .06em; color: var(--dim); }
  label { display: block; font-size: .8em; color: var(--dim); margin: 0 0 .15em; }
  input { width: 100%; font: inherit; padding: .4em .6em; border: 1px solid var(--line);
          border-radius: 6px; background: #fff; color: inherit; }
  input:focus { outline: none; border-color: var(--accent); box-shadow: 0 0 0 3px #3b6cf626; }
  input:disabled { background: #f4f5f8; color: var(--dim); }
  button { font: inherit; font-weight: 600; padding: .4em 1em; border: 0; border-radius: 6px;
           background: var(--accent); color: #fff; cursor: pointer; }
  button:disabled { background: #aab6d8; cursor: default; }
  #login { display: grid; gap: .55em; }
  #error { color: var(--err); font-size: .85em; }
  #error:empty { display: none; }
  #members { list-style: none; margin: 0; padding: 0; }
  #members li { padding: .12em 0; overflow-wrap: anywhere; }
  #members li::before { content: "\25CF"; color: var(--ok); font-size: .7em; margin-right: .6em;
                        vertical-align: .15em; }
  #members li.me::after { content: " (you)"; color: var(--dim); font-size: .85em; }
  main { flex: 1; display: flex; flex-direction: column; min-width: 0; }
  #title { padding: .75em 1.1em; border-bottom: 1px solid var(--line); font-weight: 600; }
  #log { flex: 1; overflow-y: auto; padding: .6em 1.1em; }
  .msg { padding: .18em 0; overflow-wrap: anywhere; }
  .msg time { color: var(--dim); font-size: .75em; margin-right: .7em;
              font-variant-numeric: tabular-nums; }
  .msg .from { font-weight: 600; margin-right: .5em; }
  .sys { color: var(--dim); font-size: .85em; font-style: italic; padding: .18em 0; }
  .err { color: var(--err); font-size: .85em; padding: .18em 0; }
  #say { display: flex; gap: .6em; padding: .75em 1.1em; border-top: 1px solid var(--line); }
</style>
</head>
<body>
<header><h1>strata chat</h1><span id="status">connecting</span></header>
<div class="wrap">
  <aside>
    <form id="login" class="card">
      <div><label for="nick">nick</label>
           <input id="nick" maxlength="32" autocomplete="off" required></div>
      <div><label for="room">room</label><input id="room" value="lobby" maxlength="64"
           pattern="[A-Za-z0-9_.\-]+" title="letters, digits, _ . -" required></div>
      <button id="join">join</button>
      <div id="error"></div>
    </form>
    <div class="card"><h2>members &middot; <span id="count">0</span></h2>
      <ul id="members"></ul></div>
  </aside>
  <main class="card">
    <div id="title">no room yet: pick a nick and a room</div>
    <div id="log"></div>
    <form id="say">
      <input id="text" placeholder="message" maxlength="4000" autocomplete="off" disabled>
      <button id="send" disabled>send</button>
    </form>
  </main>
</div>
<script>
const $ = (id) => document.getElementById(id);
const members = new Set();
let ws = null, chosen = null, nick = null, wanted = null, room = null, seq = 0, retries = 0;

function status(text, ok) {
  $("status").textContent = text;
  $("status").className = ok ? "ok" : "";
}
function colour(name) {
  let h = 0;
  for (const c of name) h = (h * 31 + c.codePointAt(0)) % 360;
  return "hsl(" + h + " 60% 38%)";
}
function element(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}
function add(line) {
  // Follow new lines only when already at the bottom, so reading back is not interrupted.
  const log = $("log"), atEnd = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  log.append(line);
  if (atEnd) log.scrollTop = log.scrollHeight;
}
function message(m) {
  const line = element("div", "msg");
  const time = element("time", "",
    new Date(m.ts).toLocaleTimeString([], {hour: "2-digit", minute: "2-digit"}));
  const from = element("span", "from", m.from);
  from.style.color = colour(m.from);
  line.append(time, from, element("span", "text", m.text));
  add(line);
}
function showMembers() {
  const items = [...members].sort().map((m) => element("li", m === nick ? "me" : "", m));
  $("members").replaceChildren(...items);
  $("count").textContent = members.size;
}
function enter(r) {
  room = r;
  $("title").textContent = r ? "# " + r : "no room";
  $("text").disabled = $("send").disabled = !r;
  if (r) $("text").focus();
}
function problem(text) {
  if (room) add(element("div", "err", text)); else $("error").textContent = text;
}
const send = (x) => { if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(x)); };

function connect() {
  status("connecting");
  ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
  ws.onopen = () => {
    retries = 0;
    status("connected", true);
    if (chosen) send({op: "hello", nick: chosen});
  };
  ws.onclose = (e) => {
    nick = null; enter(null); members.clear(); showMembers();
    const wait = Math.min(10, 2 ** retries++);
    status("disconnected (" + e.code + "), retrying in " + wait + " s");
    setTimeout(connect, wait * 1000);
  };
  ws.onmessage = (e) => {
    const m = JSON.parse(e.data);
    if (m.op === "welcome") {
      nick = m.nick;
      $("nick").disabled = true;
      status("connected as " + nick, true);
      if (wanted) send({op: "join", room: wanted});
    } else if (m.op === "joined" && m.room === wanted) {
      enter(m.room);
      members.clear(); m.members.forEach((x) => members.add(x)); showMembers();
      $("log").replaceChildren(element("div", "sys", "you joined " + m.room));
      m.history.forEach(message);
    } else if (m.op === "presence" && m.room === room) {
      if (m.state === "joined") members.add(m.nick); else members.delete(m.nick);
      showMembers();
      add(element("div", "sys", m.nick + " " + m.state));
    } else if (m.op === "message" && m.room === room) {
      message(m);
    } else if (m.op === "error") {
      if (m.code === "hello_first" || (!nick && m.code === "bad_field")) chosen = null;
      problem(m.code + ": " + m.reason);
    }
  };
}

$("login").onsubmit = (e) => {
  e.preventDefault();
  $("error").textContent = "";
  const next = $("room").value.trim();
  if (!nick) {
    chosen = $("nick").value.trim();
    wanted = next;
    send({op: "hello", nick: chosen}); // joins on welcome
  } else if (next !== room) {
    if (room) send({op: "leave", room});
    enter(null);
    wanted = next;
    send({op: "join", room: next});
  }
};
$("say").onsubmit = (e) => {
  e.preventDefault();
  if (room && $("text").value) send({op: "say", room, text: $("text").value, id: ++seq});
  $("text").value = "";
};
connect();
</script>
</body>
</html>
)html";
  return html;
}

} // namespace chat
