#include "server.hpp"

namespace chat {

const std::string& page() {
  static const std::string html = R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>strata chat</title>
<style>
  body { font: 15px system-ui, sans-serif; margin: 0; display: flex; height: 100vh; }
  #side { width: 14em; padding: 1em; background: #f3f3f5; border-right: 1px solid #ddd; }
  #main { flex: 1; display: flex; flex-direction: column; padding: 1em; }
  #log { flex: 1; overflow-y: auto; border: 1px solid #ddd; padding: .5em; background: #fff; }
  .sys { color: #777; font-style: italic; } .err { color: #b00; } .from { font-weight: 600; }
  input, button { font: inherit; padding: .3em; } #say { display: flex; gap: .5em; margin-top: .5em; }
  #text { flex: 1; } ul { padding-left: 1.2em; }
</style>
</head>
<body>
<div id="side">
  <div><input id="nick" placeholder="nick" size="12"> <button id="hello">hello</button></div>
  <p><input id="room" placeholder="room" value="lobby" size="12"> <button id="join">join</button></p>
  <div id="status" class="sys">not connected</div>
  <h4>members</h4><ul id="members"></ul>
</div>
<div id="main">
  <div id="log"></div>
  <form id="say"><input id="text" placeholder="message" autocomplete="off"><button>send</button></form>
</div>
<script>
const $ = (id) => document.getElementById(id);
const members = new Set();
let room = null, seq = 0;
const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
function line(cls, text, from) {
  const div = document.createElement("div");
  if (cls) div.className = cls;
  if (from) { const b = document.createElement("span"); b.className = "from"; b.textContent = from + ": "; div.append(b); }
  div.append(document.createTextNode(text));
  $("log").append(div); $("log").scrollTop = $("log").scrollHeight;
}
function showMembers() {
  $("members").replaceChildren(...[...members].sort().map((m) => { const li = document.createElement("li"); li.textContent = m; return li; }));
}
ws.onopen = () => { $("status").textContent = "connected"; };
ws.onclose = (e) => { $("status").textContent = "closed (" + e.code + ")"; };
ws.onmessage = (e) => {
  const m = JSON.parse(e.data);
  if (m.op === "welcome") { $("status").textContent = "hello, " + m.nick; }
  else if (m.op === "joined") {
    room = m.room; members.clear(); m.members.forEach((x) => members.add(x)); showMembers();
    $("log").replaceChildren(); line("sys", "joined " + m.room);
    m.history.forEach((h) => line("", h.text, h.from));
  } else if (m.op === "presence") {
    if (m.state === "joined") members.add(m.nick); else members.delete(m.nick);
    showMembers(); line("sys", m.nick + " " + m.state);
  } else if (m.op === "message") { line("", m.text, m.from); }
  else if (m.op === "error") { line("err", m.code + ": " + m.reason); }
};
const send = (x) => ws.send(JSON.stringify(x));
$("hello").onclick = () => send({op: "hello", nick: $("nick").value});
$("join").onclick = () => send({op: "join", room: $("room").value});
$("say").onsubmit = (e) => {
  e.preventDefault();
  if (room && $("text").value) send({op: "say", room, text: $("text").value, id: ++seq});
  $("text").value = "";
};
</script>
</body>
</html>
)html";
  return html;
}

} // namespace chat
