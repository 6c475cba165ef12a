// The chat gateway's protocol (README, "Chat gateway") on Node.js and the npm `ws` package:
// the peer that scripts/bench.sh gateway runs chat_loadgen against, next to strata's
// chat_gateway. One Node process, as Node is normally run (a single-threaded event loop);
// the same operations, limits and answers as far as a client can tell:
//
//   node server.js [--port=8080] [--address=0.0.0.0]     (or PORT=8080 node server.js)
//
// Frames up to 16 KiB (bigger: close 1009, done by ws's maxPayload); nicks up to 32 bytes,
// rooms up to 64 of [A-Za-z0-9_.-], texts up to 4,000 bytes, ids a string of up to 64 bytes
// or an integer; 50 frames/s per client with bursts of 100 (beyond: error rate_limited; 200
// refused in a row: close 1008); a room keeps its last 50 messages. A client that reads too
// slowly is closed with 1008 once 1 MiB waits for it: ws counts what it queues in bytes
// (bufferedAmount), where strata's gateway counts 1,024 frames.
'use strict';

const http = require('http');
const { WebSocketServer } = require('ws');

const MAX_FRAME_BYTES = 16 * 1024;
const MAX_NICK_BYTES = 32;
const MAX_TEXT_BYTES = 4000;
const MAX_ID_BYTES = 64;
const HISTORY_SIZE = 50;
const RATE = 50; // frames a second on average ...
const BURST = 100; // ... and at once
const ABUSE_LIMIT = 200; // frames refused in a row before the connection is closed
const MAX_OUTBOUND_BYTES = 1024 * 1024;
const CLOSE_GOING_AWAY = 1001;
const CLOSE_POLICY = 1008;
const ROOM_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

function option(name, fallback) {
  const prefix = `--${name}=`;
  for (const arg of process.argv.slice(2)) {
    if (arg.startsWith(prefix)) return arg.slice(prefix.length);
    if (arg === '--help' || arg === '-h') {
      console.log('usage: node server.js [--port=8080] [--address=0.0.0.0] (or PORT=N)');
      process.exit(0);
    }
    if (!arg.startsWith('--port=') && !arg.startsWith('--address=')) {
      console.error(`server.js: unknown argument '${arg}'`);
      process.exit(2);
    }
  }
  return fallback;
}

const port = Number(option('port', process.env.PORT || 8080));
const address = option('address', '0.0.0.0');
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`server.js: --port wants a number from 0 to 65535`);
  process.exit(2);
}

// name -> { name, members: Map<ws, nick>, history: [message objects, oldest first] }
const rooms = new Map();
let nextSession = 1;

function error(code, reason) {
  return JSON.stringify({ op: 'error', code, reason });
}

// Queues `data` for `ws`, or closes it with 1008 when it does not read fast enough.
function send(ws, data) {
  if (ws.readyState !== ws.OPEN) return;
  if (ws.bufferedAmount > MAX_OUTBOUND_BYTES) {
    ws.close(CLOSE_POLICY);
    return;
  }
  ws.send(data);
}

// Sends one message to many: the frame rendered and encoded once.
function broadcast(room, frame, skip) {
  const data = Buffer.from(frame);
  for (const member of room.members.keys()) {
    if (member !== skip) send(member, data);
  }
}

function validNick(nick) {
  const bytes = Buffer.byteLength(nick);
  if (bytes === 0 || bytes > MAX_NICK_BYTES) return false;
  // Control characters and lone surrogates (not valid UTF-8).
  return !/[\u0000-\u001f\u007f]|[\ud800-\udbff](?![\udc00-\udfff])|(?:^|[^\ud800-\udbff])[\udc00-\udfff]/.test(nick);
}

function presence(room, nick, state) {
  return JSON.stringify({ op: 'presence', room: room.name, nick, state });
}

function leaveRoom(ws, room) {
  const nick = room.members.get(ws);
  if (nick === undefined) return;
  room.members.delete(ws);
  ws.chat.rooms.delete(room.name);
  broadcast(room, presence(room, nick, 'left'));
}

// Token bucket: RATE frames a second on average, BURST at once.
function admit(st) {
  const now = performance.now();
  st.tokens = Math.min(BURST, st.tokens + (RATE * (now - st.last)) / 1000);
  st.last = now;
  if (st.tokens < 1) return false;
  st.tokens -= 1;
  return true;
}

// Returns the frame to answer with, if any.
function handle(ws, req) {
  const st = ws.chat;
  if (req === null || typeof req !== 'object' || Array.isArray(req))
    return error('bad_json', 'a frame is a JSON object');
  if (typeof req.op !== 'string') return error('bad_field', '"op" must be a string');
  const roomField = () => {
    if (typeof req.room !== 'string') return error('bad_field', '"room" must be a string');
    if (!ROOM_NAME.test(req.room))
      return error('bad_field', '"room" must be 1 to 64 characters of A-Z a-z 0-9 _ . -');
    return null;
  };
  let bad;
  switch (req.op) {
    case 'ping':
      return '{"op":"pong"}';
    case 'hello':
      if (typeof req.nick !== 'string') return error('bad_field', '"nick" must be a string');
      if (!validNick(req.nick))
        return error('bad_field', '"nick" must be 1 to 32 bytes of UTF-8 without control characters');
      if (st.nick !== null) return error('bad_field', 'hello was already said');
      st.nick = req.nick;
      return JSON.stringify({ op: 'welcome', session: st.id, nick: st.nick });
    case 'join':
    case 'leave':
    case 'say':
      break;
    default:
      return error('unknown_op', `no operation "${req.op}"`);
  }
  if ((bad = roomField())) return bad;
  if (req.op === 'say') {
    if (typeof req.text !== 'string') return error('bad_field', '"text" must be a string');
    if (Buffer.byteLength(req.text) > MAX_TEXT_BYTES)
      return error('bad_field', '"text" must be at most 4000 bytes of UTF-8');
    if (!('id' in req)) return error('bad_field', '"id" is missing');
    if (typeof req.id === 'string') {
      if (Buffer.byteLength(req.id) > MAX_ID_BYTES)
        return error('bad_field', '"id" must be at most 64 bytes');
    } else if (!Number.isInteger(req.id)) {
      return error('bad_field', '"id" must be a string or an integer');
    }
  }
  if (st.nick === null) return error('hello_first', 'say hello with a nick first');
  if (req.op === 'join') {
    let room = rooms.get(req.room);
    if (room === undefined) {
      room = { name: req.room, members: new Map(), history: [] };
      rooms.set(req.room, room);
    }
    if (!room.members.has(ws)) {
      broadcast(room, presence(room, st.nick, 'joined'));
      room.members.set(ws, st.nick);
      st.rooms.add(room.name);
    }
    return JSON.stringify({
      op: 'joined',
      room: room.name,
      members: [...room.members.values()],
      history: room.history,
    });
  }
  const room = st.rooms.has(req.room) ? rooms.get(req.room) : undefined;
  if (room === undefined) return error('not_joined', `not in room ${req.room}`);
  if (req.op === 'leave') {
    leaveRoom(ws, room);
    return null;
  }
  const message = { op: 'message', room: room.name, from: st.nick, text: req.text, id: req.id, ts: Date.now() };
  room.history.push(message);
  if (room.history.length > HISTORY_SIZE) room.history.shift();
  broadcast(room, JSON.stringify(message));
  return null;
}

const server = http.createServer((req, res) => {
  res.writeHead(req.method === 'GET' && req.url === '/' ? 200 : 404, { 'content-type': 'text/plain' });
  res.end(req.url === '/' ? 'chat gateway peer (Node.js, ws): WebSocket at /ws\n' : 'not found\n');
});
const wss = new WebSocketServer({ server, path: '/ws', maxPayload: MAX_FRAME_BYTES, perMessageDeflate: false });

wss.on('connection', (ws) => {
  ws.chat = { id: nextSession++, nick: null, rooms: new Set(), tokens: BURST, last: performance.now(), refused: 0 };
  ws.on('message', (data, isBinary) => {
    const st = ws.chat;
    if (isBinary) {
      send(ws, error('bad_frame', 'only text frames carry requests'));
      return;
    }
    if (!admit(st)) {
      send(ws, error('rate_limited', 'too many frames; this one was dropped'));
      if (++st.refused >= ABUSE_LIMIT) ws.close(CLOSE_POLICY);
      return;
    }
    st.refused = 0;
    let req;
    try {
      req = JSON.parse(data);
    } catch {
      send(ws, error('bad_json', 'not valid JSON'));
      return;
    }
    const answer = handle(ws, req);
    if (answer !== null) send(ws, answer);
  });
  ws.on('close', () => {
    for (const name of ws.chat.rooms) {
      const room = rooms.get(name);
      if (room !== undefined) leaveRoom(ws, room);
    }
  });
  ws.on('error', () => {}); // a bad frame: ws closes the connection (1009 for a big one)
});

server.on('error', (err) => {
  console.error(`server.js: cannot listen on ${address}:${port}: ${err.message}`);
  process.exit(1);
});
server.listen({ port, host: address, backlog: 4096 }, () => {
  console.log(`node-ws chat server: open http://localhost:${server.address().port}/ (Node ${process.version}, ws, one process)`);
});

function stop(signal) {
  console.log(`node-ws chat server: ${signal}, closing ${wss.clients.size} connections`);
  for (const ws of wss.clients) ws.close(CLOSE_GOING_AWAY);
  server.close();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));
