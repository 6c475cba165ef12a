// The chat page (examples/chat_gateway/page.cpp) in a real browser: Debian's Chromium,
// headless, driven by playwright-core. Starts chat_gateway on 127.0.0.1 and a free port; alice
// joins a room in one page, bob in a second and sees her message in the room's history; each
// sees the other's messages (markup stays text) and presence; alice's connection drops and her
// page joins again by itself; bob's page closes and alice sees him leave; no script errors;
// SIGTERM stops the gateway, which must exit 0. Every step has a timeout: the test fails, it
// never hangs.
//
//   node browser.test.mjs --gateway=PATH [--gateway-arg=ARG ...] [--chromium=/usr/bin/chromium]
//                         [--screenshot=PNG]
//
// --gateway-arg passes ARG on to chat_gateway (e.g. --gateway-nodes=2: alice and bob may then
// be served by two gateway nodes, and their chat crosses processes).
//
// ctest runs it as gateway_browser, after gateway_browser_npm_ci has installed playwright-core
// next to it (tests/gateway/CMakeLists.txt). --screenshot saves alice's page mid-chat
// (900x600): README's picture, docs/images/chat-gateway.png.

import { spawn } from "node:child_process";
import { constants, rmSync } from "node:fs";
import { access, mkdtemp } from "node:fs/promises";
import os from "node:os";
import path from "node:path";

const STEP_MS = 15000; // one step: a page load, a message arriving, the gateway starting
const TOTAL_MS = 100000; // everything; ctest's TIMEOUT (120 s) is the last resort
// Without the background-networking flags Chromium keeps trying hosts this closed network
// refuses, and may hang; --headless is Chromium's new headless mode.
const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
  "--no-first-run", "--disable-background-networking", "--disable-component-update",
  "--disable-sync"];

const started = Date.now();
let gateway = null; // the chat_gateway child process
let context = null; // Chromium, with its one persistent context
let profile = null; // Chromium's --user-data-dir, fresh for every run
let stopping = false; // whether the test has sent chat_gateway its SIGTERM

// A failed check: main's caller prints its message (no stack) and aborts.
class Failure extends Error {}

let aborting = false;

// Prints why the test failed, closes Chromium before removing its profile (it writes there
// until it exits), kills the gateway and exits 1. Called once; later calls, such as the
// failures of the steps that the closing interrupts, are ignored.
async function abort(message) {
  if (aborting) return;
  aborting = true;
  console.error(`gateway_browser: FAILED: ${message}`);
  if (context) await within(5000, "closing Chromium", context.close()).catch(() => {});
  cleanUp();
  process.exit(1);
}

function cleanUp() {
  if (gateway && gateway.exitCode === null && gateway.signalCode === null) gateway.kill("SIGKILL");
  // Retries: a Chromium helper process may still be writing there for a moment.
  if (profile) rmSync(profile, { recursive: true, force: true, maxRetries: 10 });
  profile = null;
}

function ok(what) {
  console.log(`ok  ${what} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
}

function options() {
  const opts = { chromium: "/usr/bin/chromium", gatewayArgs: [] };
  for (const arg of process.argv.slice(2)) {
    const extra = /^--gateway-arg=(.+)$/.exec(arg);
    if (extra) {
      opts.gatewayArgs.push(extra[1]);
      continue;
    }
    const m = /^--(gateway|chromium|screenshot)=(.+)$/.exec(arg);
    if (!m) {
      throw new Failure(`unexpected argument '${arg}' ` +
        "(want --gateway=PATH [--gateway-arg=ARG ...] [--chromium=PATH] [--screenshot=PNG])");
    }
    opts[m[1]] = m[2];
  }
  if (!opts.gateway) throw new Failure("--gateway=PATH (the chat_gateway program) is required");
  return opts;
}

async function executable(file, missing) {
  try {
    await access(file, constants.X_OK);
  } catch {
    throw new Failure(`${file} is missing or not executable: ${missing}`);
  }
}

// Rejects after `ms` with `what` timed out, so that no await can hang the test.
function within(ms, what, promise) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// Starts the gateway and resolves to its port once it prints that it listens. Its exit before
// the test's SIGTERM fails the test at once.
function startGateway(program, args) {
  gateway = spawn(program, ["--port=0", "--address=127.0.0.1", ...args],
    { stdio: ["ignore", "pipe", "pipe"] });
  let out = "", err = "", listening = false;
  gateway.stderr.on("data", (d) => { err += d; });
  gateway.output = () => out + err;
  gateway.exited = new Promise((resolve) => gateway.on("exit", (code, signal) => {
    if (!stopping) {
      abort(`chat_gateway exited (code ${code}, signal ${signal}) ` +
        `${listening ? "during the test" : "before listening"}:\n${out}${err}`);
    }
    resolve({ code, signal });
  }));
  gateway.on("error", (e) => abort(`cannot start ${program}: ${e.message}`));
  const port = new Promise((resolve) => {
    gateway.stdout.on("data", (d) => {
      out += d;
      const m = /chat gateway: open http:\/\/localhost:(\d+)\//.exec(out);
      if (m && !listening) {
        listening = true;
        resolve(Number(m[1]));
      }
    });
  });
  return within(STEP_MS, "chat_gateway printing its port", port);
}

// What a page shows, for the checks and for failure messages.
function snapshot() {
  const texts = (sel) => [...document.querySelectorAll(sel)].map((e) => e.textContent);
  return {
    status: document.getElementById("status").textContent,
    title: document.getElementById("title").textContent,
    error: document.getElementById("error").textContent,
    members: texts("#members li"),
    log: [...document.querySelectorAll("#log > div")].map((d) =>
      d.classList.contains("msg")
        ? `${d.querySelector(".from").textContent}: ${d.querySelector(".text").textContent}`
        : `(${d.textContent})`),
  };
}

async function openPage(url, who) {
  const page = await within(STEP_MS, `${who}: a new page`, context.newPage());
  page.who = who;
  page.errors = [];
  page.on("pageerror", (e) => page.errors.push(e.message));
  page.on("console", (m) => { if (m.type() === "error") page.errors.push(m.text()); });
  page.setDefaultTimeout(STEP_MS);
  await page.goto(url, { timeout: STEP_MS });
  await waitFor(page, "the page connects",
    () => document.getElementById("status").className === "ok");
  return page;
}

// Waits until `predicate(snapshot, arg)` holds in the page; fails with what the page shows.
async function waitFor(page, what, predicate, arg) {
  const check = new Function("arg",
    `const snapshot = ${snapshot.toString()}; return (${predicate.toString()})(snapshot(), arg);`);
  try {
    await page.waitForFunction(check, arg, { timeout: STEP_MS, polling: 50 });
  } catch (e) {
    let shows = "(nothing: the page does not answer)";
    try {
      shows = JSON.stringify(await within(2000, "a snapshot", page.evaluate(snapshot)), null, 2);
    } catch {}
    throw new Failure(`${page.who}: ${what}: not seen within ${STEP_MS} ms ` +
      `(${e.message.split("\n")[0]}); the page shows ${shows}; ` +
      `page errors: ${JSON.stringify(page.errors)}`);
  }
  ok(`${page.who}: ${what}`);
}

async function join(page, nick, room) {
  await page.fill("#nick", nick);
  await page.fill("#room", room);
  await page.click("#join");
  await waitFor(page, `${nick} joins ${room}`,
    (s, a) => s.title === `# ${a.room}` && s.members.includes(a.nick), { nick, room });
}

async function say(page, text) {
  await page.fill("#text", text);
  await page.press("#text", "Enter");
}

const sees = (s, a) => s.log.includes(`${a.from}: ${a.text}`);
const membersAre = (s, a) => JSON.stringify(s.members) === JSON.stringify(a);

async function main() {
  const opts = options();
  await executable(opts.chromium,
    "the browser test needs Debian's chromium " +
    "(apt-get install chromium; scripts/test.sh installs it)");
  await executable(opts.gateway, "build the chat_gateway target");
  let playwright;
  try {
    playwright = await import("playwright-core");
  } catch (e) {
    throw new Failure(`cannot load playwright-core (${e.message.split("\n")[0]}): ` +
      `run 'npm ci' in ${path.dirname(new URL(import.meta.url).pathname)} ` +
      "(ctest's gateway_browser_npm_ci does)");
  }

  const port = await startGateway(opts.gateway, opts.gatewayArgs);
  const url = `http://127.0.0.1:${port}/`;
  ok(`chat_gateway listens: ${url}`);

  profile = await mkdtemp(path.join(os.tmpdir(), "strata-chromium-"));
  context = await within(STEP_MS * 2, "launching Chromium",
    playwright.chromium.launchPersistentContext(profile, {
      executablePath: opts.chromium, headless: true, args: CHROMIUM_ARGS, timeout: STEP_MS * 2,
      viewport: { width: 900, height: 600 }, locale: "en-GB", timezoneId: "UTC",
    }));
  ok(`Chromium ${context.browser()?.version() ?? ""} started`);
  // A persistent context opens with a blank page; every page here is opened by openPage.
  for (const blank of context.pages()) await blank.close();

  const alice = await openPage(url, "alice");
  await join(alice, "alice", "lobby");
  await waitFor(alice, "the nick is fixed once welcomed",
    () => document.getElementById("nick").disabled);
  await say(alice, "hello, anyone here?");
  await waitFor(alice, "her own message", sees, { from: "alice", text: "hello, anyone here?" });

  const bob = await openPage(url, "bob");
  await join(bob, "bob", "lobby");
  await waitFor(bob, "alice's message, from the room's history", sees,
    { from: "alice", text: "hello, anyone here?" });
  await waitFor(bob, "both members", membersAre, ["alice", "bob"]);
  await waitFor(alice, "bob's presence: joined", (s) => s.log.includes("(bob joined)"));
  await waitFor(alice, "both members", membersAre, ["alice", "bob"]);

  const markup = "hi alice! <b>tags</b> & \"quotes\" stay plain text";
  await say(bob, markup);
  await waitFor(alice, "bob's message, as text", sees, { from: "bob", text: markup });
  const reply = "welcome, bob: every room here is an actor";
  await say(alice, reply);
  await waitFor(bob, "alice's reply", sees, { from: "alice", text: reply });
  const last = "and if its node is killed, a supervisor restarts it";
  await say(bob, last);
  await waitFor(alice, "bob's second message", sees, { from: "bob", text: last });
  if (opts.screenshot) {
    await alice.focus("#text");
    await alice.screenshot({ path: opts.screenshot, timeout: STEP_MS });
    ok(`screenshot saved: ${opts.screenshot}`);
  }

  // The page reconnects by itself: hello and join again, and the history is back.
  await alice.evaluate("ws.close()");
  await waitFor(bob, "alice's presence: left, when her connection drops",
    (s) => s.log.includes("(alice left)"));
  // A fresh log (no presence lines) with the history in it.
  await waitFor(alice, "she reconnects and is back in the room, with its history",
    (s, a) => s.title === "# lobby" && !s.log.includes("(bob joined)") && s.log.includes(a)
      && s.members.length === 2,
    `bob: ${last}`);
  await waitFor(bob, "alice's presence: joined again",
    (s) => s.log.indexOf("(alice joined)") > s.log.indexOf("(alice left)"));

  await within(STEP_MS, "closing bob's page", bob.close());
  await waitFor(alice, "bob's presence: left", (s) => s.log.includes("(bob left)"));
  await waitFor(alice, "alice alone", membersAre, ["alice"]);
  for (const page of [alice, bob]) {
    if (page.errors.length > 0)
      throw new Failure(`${page.who}'s page reported errors: ${JSON.stringify(page.errors)}`);
  }
  ok("no script errors in either page");
  await within(STEP_MS, "closing Chromium", context.close());

  stopping = true;
  gateway.kill("SIGTERM");
  const { code, signal } = await within(STEP_MS, "chat_gateway exiting on SIGTERM", gateway.exited);
  if (code !== 0) {
    throw new Failure(`chat_gateway exited with code ${code}, signal ${signal} on SIGTERM:\n` +
      gateway.output());
  }
  ok("chat_gateway exits 0 on SIGTERM");
}

const watchdog = setTimeout(() => abort(`the whole test took more than ${TOTAL_MS} ms`),
  TOTAL_MS);
main().then(
  () => {
    clearTimeout(watchdog);
    cleanUp();
    console.log(`gateway_browser: passed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  },
  (e) => abort(e instanceof Failure ? e.message : e.stack || String(e)));
