#!/usr/bin/env node
// End-to-end test of the desktop app: the real Tauri binary, driven over the
// W3C WebDriver HTTP API through tauri-driver + WebKitWebDriver (plain
// `fetch`, no Selenium). Needs a display (run it under xvfb-run); normally
// started by scripts/e2e-desktop.sh, which builds everything first.
//
// It creates a document through the UI, types into it (timing keystroke →
// rendered frame), lets the headless `tandem` CLI sync with the app's
// embedded server in both directions, lets automerge-repo clients (the npm
// packages from ui/node_modules) sync with the embedded server and opens a
// document from automerge-repo's sync server through "Open from server",
// checks events, command errors and the health command, the history panel
// and a conflict badge (resolved through the resolve_conflict command),
// saves screenshots, quits it with SIGTERM and checks the
// store, then starts it again (the documents are still there) and closes its
// window the way a window manager does (close-window.py): it must shut down
// cleanly both times. Files and links (export/import dialogs, Copy link,
// a second launch with a tandem:// link): desktop-links.mjs.
//
// Environment (all optional): TANDEM_DESKTOP_BIN, TANDEM_BIN, TAURI_DRIVER,
// WEBKIT_WEBDRIVER, SHOT (screenshot path), E2E_KEEP_TMP=1.
import https from "node:https";
import { spawn, spawnSync } from "node:child_process";
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { dialogPaths, linkChecks } from "./desktop-links.mjs";
import { connectPeer } from "./second-client.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "../../..");
const appBin = resolve(process.env.TANDEM_DESKTOP_BIN ?? join(repo, "target/debug/tandem-desktop"));
const cliBin = resolve(process.env.TANDEM_BIN ?? join(repo, "target/debug/tandem"));
const tauriDriver = process.env.TAURI_DRIVER ?? "tauri-driver";
const shotPath = resolve(process.env.SHOT ?? join(repo, "docs/screenshots/desktop.png"));
const presenceShotPath = resolve(process.env.PRESENCE_SHOT ?? join(repo, "docs/screenshots/presence.png"));

const tmp = mkdtempSync(join(tmpdir(), "tandem-desktop-e2e-"));
const dataDir = join(tmp, "data");
const logPath = join(tmp, "driver-and-app.log");

const ELEMENT = "element-6066-11e4-a52e-4f735466cecf";
const TITLE = "Desktop e2e note";
const TYPED = "Hello from the desktop";
const CLI_PREFIX = "From the CLI: ";
const HTTP_TITLE = "Made over HTTP";

// ---- results -------------------------------------------------------------------------------

let passed = 0;
let failed = 0;
const figures = {};
async function check(name, fn) {
  const t0 = performance.now();
  try {
    await fn();
    passed++;
    console.log(`ok   ${name} (${Math.round(performance.now() - t0)} ms)`);
    return true;
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}\n     ${String(e?.stack ?? e).split("\n").slice(0, 6).join("\n     ")}`);
    return false;
  }
}
function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a truthy value (or throws the last error after `ms`). */
async function until(what, fn, ms = 15000, every = 50) {
  const deadline = performance.now() + ms;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      last = undefined;
    } catch (e) {
      last = e;
    }
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ""}`);
    await sleep(every);
  }
}

function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

// ---- WebDriver client (W3C, plain fetch) ----------------------------------------------------

let driverUrl = "";
let session = null;

async function wd(method, path, body) {
  const res = await fetch(`${driverUrl}${path}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(60000),
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`WebDriver ${method} ${path}: HTTP ${res.status}: ${text.slice(0, 200)}`);
  }
  const v = json.value;
  if (!res.ok || (v && typeof v === "object" && "error" in v && v.error)) {
    const err = new Error(`WebDriver ${method} ${path}: ${v?.error}: ${String(v?.message ?? "").split("\n")[0]}`);
    err.code = v?.error;
    throw err;
  }
  return v;
}
const s = (path) => `/session/${session}${path}`;
const find = async (css) => (await wd("POST", s("/element"), { using: "css selector", value: css }))[ELEMENT];
const click = (el) => wd("POST", s(`/element/${el}/click`), {});
const sendKeys = (el, text) => wd("POST", s(`/element/${el}/value`), { text });
const exec = (script, args = []) => wd("POST", s("/execute/sync"), { script, args });
const execAsync = (script, args = []) => wd("POST", s("/execute/async"), { script, args });
const waitFor = (css, ms) => until(css, () => find(css), ms);

/** Invokes a Tauri command from the page; resolves to {ok} or {err}. */
const invoke = (cmd, args) =>
  execAsync(
    `const done = arguments[arguments.length - 1];
     window.__TAURI_INTERNALS__.invoke(arguments[0], arguments[1])
       .then((ok) => done({ ok: ok === undefined ? null : ok }), (err) => done({ err }));`,
    [cmd, args ?? {}],
  );

const BODY = "[data-testid=text-editor] .cm-content";
const bodyText = () => exec(`return document.querySelector(arguments[0])?.textContent ?? null;`, [BODY]);

// ---- processes ------------------------------------------------------------------------------

let driver = null;
let logFd = -1;

/** PIDs of app processes started for this run (found by their data dir, so no other Tandem is touched). */
function ourAppPids() {
  const pids = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readlinkSync(`/proc/${name}/exe`) !== appBin) continue;
      const env = readFileSync(`/proc/${name}/environ`, "utf8").split("\0");
      if (env.includes(`TANDEM_DATA_DIR=${dataDir}`)) pids.push(Number(name));
    } catch {
      // gone, or not ours to read
    }
  }
  return pids;
}

async function startDriver(port, nativePort) {
  if (logFd < 0) logFd = openSync(logPath, "a");
  const args = ["--port", String(port), "--native-port", String(nativePort)];
  if (process.env.WEBKIT_WEBDRIVER) args.push("--native-driver", process.env.WEBKIT_WEBDRIVER);
  driver = spawn(tauriDriver, args, {
    stdio: ["ignore", logFd, logFd],
    env: {
      ...process.env,
      TANDEM_NO_MDNS: "1",
      TANDEM_DATA_DIR: dataDir,
      TANDEM_LISTEN: process.env.TANDEM_LISTEN,
      RUST_LOG: process.env.RUST_LOG ?? "info",
      ...dialogPaths(tmp),
    },
  });
  const me = driver;
  me.on("exit", (code, sig) => {
    if (driver === me) {
      console.log(`     (tauri-driver exited by itself: ${code ?? sig})`);
      driver = null;
    }
  });
  driverUrl = `http://127.0.0.1:${port}`;
  await until("tauri-driver to answer /status", async () => {
    if (!driver) throw new Error("tauri-driver exited early; see the log");
    const v = await wd("GET", "/status");
    return v && v.ready !== false;
  }, 20000, 100);
}

/** PID and state letter (R, S, Z…) of each child of `ppid`. */
function childrenOf(ppid) {
  const kids = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // "pid (comm) state ppid …"; comm may contain spaces, so parse after the last ")".
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const [state, parent] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(parent) === ppid) kids.push({ pid: Number(name), state });
    } catch {
      // gone
    }
  }
  return kids;
}

/** Whether `pid` still exists (a zombie counts until it is reaped). */
const alive = (pid) => existsSync(`/proc/${pid}`);

/**
 * Ends the session (the app quits), then tauri-driver with SIGTERM (it ends
 * WebKitWebDriver), then waits until WebKitWebDriver is gone, reaped
 * included, so that nothing of this run is left behind.
 */
async function stopAll() {
  if (session) {
    const id = session;
    session = null;
    try {
      await wd("DELETE", `/session/${id}`);
    } catch (e) {
      console.log(`     (ending the WebDriver session failed: ${e.message})`);
    }
  }
  if (driver) {
    const d = driver;
    driver = null;
    const native = childrenOf(d.pid).map((k) => k.pid);
    const exited = new Promise((r) => d.once("exit", r));
    d.kill("SIGTERM");
    if ((await Promise.race([exited.then(() => "exited"), sleep(5000)])) !== "exited") {
      console.log("     (tauri-driver ignored SIGTERM; killing it)");
      d.kill("SIGKILL");
    }
    // tauri-driver kills WebKitWebDriver without reaping it: init does, shortly.
    const deadline = performance.now() + 5000;
    while (native.some(alive) && performance.now() < deadline) await sleep(50);
    for (const pid of native.filter(alive)) {
      console.log(`     (WebKitWebDriver ${pid} outlived tauri-driver; killing it)`);
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }
}

function cli(args) {
  const r = spawnSync(cliBin, args, {
    cwd: tmp,
    encoding: "utf8",
    timeout: 60000,
    stdio: ["ignore", "pipe", "pipe"],
    // The app's data dir: the CLI finds the owner token there (server.json
    // names the app's server), as a user's CLI does with the app running.
    env: { ...process.env, TANDEM_NO_MDNS: "1", TANDEM_DATA_DIR: dataDir },
  });
  if (r.status !== 0) throw new Error(`tandem ${args.join(" ")}: exit ${r.status ?? r.signal}: ${r.stderr.trim()}`);
  return r.stdout;
}

// ---- the test -------------------------------------------------------------------------------

async function main() {
  for (const [what, path] of [["the app", appBin], ["the CLI", cliBin]]) {
    assert(existsSync(path), `${what} is not built: ${path}`);
  }
  const listenPort = await freePort();
  process.env.TANDEM_LISTEN = `127.0.0.1:${listenPort}`;
  const serverUrl = `http://127.0.0.1:${listenPort}`;
  mkdirSync(dataDir, { recursive: true });
  let docId = null;

  /** Starts tauri-driver and a session (which spawns the app); ms until the UI is interactive. */
  const launch = async () => {
    await startDriver(await freePort(), await freePort());
    const t0 = performance.now();
    const created = await wd("POST", "/session", {
      capabilities: { alwaysMatch: { "tauri:options": { application: appBin } } },
    });
    session = created.sessionId;
    const tSession = performance.now();
    await waitFor("[data-testid=new-doc]", 30000);
    assert(ourAppPids().length === 1, `expected one app process, found ${ourAppPids().length}`);
    return { ready: Math.round(performance.now() - t0), session: Math.round(tSession - t0) };
  };

  const started = await check("the app starts and its window becomes interactive", async () => {
    const t = await launch();
    figures.coldStartMs = t.ready;
    figures.sessionMs = t.session;
  });
  if (!started) return;

  await check("health: version and the embedded server's address", async () => {
    const r = await invoke("health");
    assert(r.ok, `health failed: ${JSON.stringify(r.err)}`);
    assert(r.ok.ok === true && typeof r.ok.version === "string", `bad health ${JSON.stringify(r.ok)}`);
    assert(r.ok.listen === serverUrl, `listen is ${r.ok.listen}, expected ${serverUrl}`);
    const http = await (await fetch(`${serverUrl}/_health`, { signal: AbortSignal.timeout(5000) })).json();
    assert(http.ok === true && http.version === r.ok.version, `server /_health: ${JSON.stringify(http)}`);
  });

  const createdDoc = await check("create a document through the New document dialog", async () => {
    await click(await find("[data-testid=new-doc]"));
    const input = await waitFor("[data-testid=new-doc-dialog] [data-testid=prompt-input]", 10000);
    await sendKeys(input, TITLE);
    await click(await find("[data-testid=new-doc-dialog] [data-testid=confirm-ok]"));
    docId = await until("the new document to open", async () => {
      const m = /^#\/doc\/(.+)$/.exec(await exec("return location.hash;"));
      return m ? decodeURIComponent(m[1]) : null;
    });
    await until("its title in the editor", async () =>
      (await exec(`return document.querySelector("[data-testid=doc-title] .cm-content")?.textContent;`)) === TITLE,
    );
    await until("its entry in the list", async () =>
      (await exec(`return document.querySelector(arguments[0])?.textContent ?? "";`, [
        `[data-testid=doc-item][data-doc-id="${docId}"]`,
      ])).includes(TITLE),
    );
  });
  if (!createdDoc) return;

  await check("type into the body; keystroke → rendered frame", async () => {
    const body = await waitFor(BODY, 10000);
    await click(body);
    // Page-side timing: keydown (capture phase) → first animation frame whose DOM shows the text.
    await exec(`
      const content = document.querySelector(arguments[0]);
      window.__e2e = { down: 0, frame: 0, want: "" };
      document.addEventListener("keydown", () => {
        const e2e = window.__e2e;
        e2e.down = performance.now();
        e2e.frame = 0;
        const tick = () => {
          if (content.textContent.endsWith(e2e.want)) e2e.frame = performance.now();
          else requestAnimationFrame(tick);
        };
        requestAnimationFrame(tick);
      }, true);`, [BODY]);
    const inPage = [];
    const roundTrip = [];
    let expected = "";
    for (const ch of TYPED) {
      expected += ch;
      await exec(`window.__e2e.want = arguments[0];`, [expected]);
      const t0 = performance.now();
      await sendKeys(body, ch);
      await until(`"${expected}" in the body`, async () => (await bodyText()) === expected, 5000, 5);
      roundTrip.push(performance.now() - t0);
      const m = await until("the frame mark", async () => {
        const e2e = await exec("return window.__e2e;");
        return e2e.frame ? e2e : null;
      }, 2000, 5);
      inPage.push(m.frame - m.down);
    }
    const stats = (xs) => {
      const v = [...xs].sort((a, b) => a - b);
      const q = (p) => v[Math.min(v.length - 1, Math.floor(p * v.length))];
      return { median: +q(0.5).toFixed(1), p90: +q(0.9).toFixed(1), max: +v[v.length - 1].toFixed(1), n: v.length };
    };
    figures.keystrokeToFrameMs = stats(inPage);
    figures.keystrokeWebDriverRoundTripMs = stats(roundTrip);
    assert((await bodyText()) === TYPED, `body is ${JSON.stringify(await bodyText())}`);
  });

  const file = join(tmp, "x.automerge");
  let cliHeads = [];
  await check("the CLI syncs with the embedded server and gets the app's text", async () => {
    // The UI's edits reach the core asynchronously: sync until the body arrived.
    await until("the typed text on the server", async () => {
      cli(["sync", `${serverUrl}/${docId}`, "--file", file]);
      const doc = JSON.parse(cli(["cat", file]));
      return doc.body === TYPED && doc.title === TITLE;
    }, 15000, 250);
  });

  await check("a CLI edit synced back shows up in the app", async () => {
    cli(["edit", file, "--splice", "body", "0", "0", CLI_PREFIX]);
    const t0 = performance.now();
    const out = cli(["sync", `${serverUrl}/${docId}`, "--file", file]);
    cliHeads = /heads ([0-9a-f,]+)/.exec(out)?.[1]?.split(",") ?? [];
    await until("the CLI's text in the editor", async () => (await bodyText()) === CLI_PREFIX + TYPED, 10000, 10);
    figures.cliSyncToScreenMs = Math.round(performance.now() - t0);
  });

  await check("a second client's presence and caret show in the app; a screenshot", async () => {
    const ownerToken = readFileSync(join(dataDir, "owner-token"), "utf8").trim();
    const carol = await connectPeer({
      url: `${serverUrl}/${docId}`,
      token: ownerToken,
      user: { id: "carol-e2e", name: "Carol", color: "#2b8a3e" },
    });
    try {
      await carol.synced();
      carol.setCursor(CLI_PREFIX.length);
      await until("Carol in the document header", async () =>
        (await exec(`return !!document.querySelector('[data-testid=presence-member][data-name="Carol"]');`)) || null,
      );
      await until("Carol's caret in the body", async () =>
        (await exec(`return !!document.querySelector('[data-testid=text-editor][data-path="/body"] .cm-remote-caret[data-name="Carol"]');`)) || null,
      );
      // The app announces its user to Carol too.
      await until("the app's presence reaches the second client", async () => carol.heard.some((h) => h.data.t === "presence") || null);
      await sleep(300);
      const png = Buffer.from(await wd("GET", s("/screenshot")), "base64");
      assert(png.subarray(1, 4).toString() === "PNG" && png.length > 10000, `not a real screenshot (${png.length} bytes)`);
      mkdirSync(dirname(presenceShotPath), { recursive: true });
      writeFileSync(presenceShotPath, png);
      console.log(`     saved ${presenceShotPath}`);
    } finally {
      await carol.close();
    }
    await until("Carol gone after she leaves", async () =>
      (await exec(`return !document.querySelector('[data-testid=presence-member][data-name="Carol"]');`)) || null,
    5000);
  });

  await check("history: the timeline and a conflict badge show; keeping one value resolves it (screenshot)", async () => {
    // Two copies of the document set one field concurrently, then both sync.
    const other = join(tmp, "y.automerge");
    writeFileSync(other, readFileSync(file));
    cli(["edit", file, "--set", "status=1"]);
    cli(["edit", other, "--set", "status=2"]);
    cli(["sync", `${serverUrl}/${docId}`, "--file", file]);
    cli(["sync", `${serverUrl}/${docId}`, "--file", other]);
    const badge = "[data-testid=conflict-badge][data-path='/status']";
    await waitFor(badge, 15000);
    await click(await find("[data-testid=history-toggle]"));
    await until("timeline rows", async () =>
      (await exec(`return document.querySelectorAll("[data-testid=timeline-row]").length;`)) >= 3, 15000);
    const values = await exec(`return [...document.querySelectorAll(arguments[0] + " [data-testid=conflict-value]")].map((e) => e.textContent);`, [badge]);
    assert(values.length === 2, `two values in the badge: ${JSON.stringify(values)}`);
    await exec(`document.querySelector(arguments[0]).open = true;`, [badge]);
    await sleep(300);
    const png = Buffer.from(await wd("GET", s("/screenshot")), "base64");
    const historyShot = join(dirname(shotPath), "history.png");
    mkdirSync(dirname(historyShot), { recursive: true });
    writeFileSync(historyShot, png);
    console.log(`     saved ${historyShot}`);
    // Keep the value that is not shown now (through the resolve_conflict command).
    await exec(`document.querySelector(arguments[0] + " .conflict-value:not(.winner) [data-testid=conflict-choose]").click();`, [badge]);
    await until("the conflict to be resolved", async () => (await exec(`return document.querySelectorAll(arguments[0]).length;`, [badge])) === 0, 15000);
    await click(await find("[data-testid=history-close]"));
    // The resolve is one more change: the CLI's copy takes it, so the store check below still compares like with like.
    const out = cli(["sync", `${serverUrl}/${docId}`, "--file", file]);
    cliHeads = /heads ([0-9a-f,]+)/.exec(out)?.[1]?.split(",") ?? [];
    assert(JSON.parse(cli(["cat", file])).status === 1 || JSON.parse(cli(["cat", file])).status === 2, "the kept value reached the CLI");
  });

  let httpDocId = null;
  await check("the embedded server gives strangers nothing: no owner token, no private documents", async () => {
    const list = await fetch(`${serverUrl}/_docs`, { signal: AbortSignal.timeout(5000) });
    assert(list.status === 200, `GET /_docs: HTTP ${list.status}`);
    assert(!(await list.text()).includes(docId), "a private document was listed to a caller without the owner token");
    const made = await fetch(`${serverUrl}/_docs`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ title: "intruder" }),
      signal: AbortSignal.timeout(5000),
    });
    assert(made.status === 403, `POST /_docs without the owner token: HTTP ${made.status}`);
  });

  await check("a document made over HTTP appears in the list (docs-changed event)", async () => {
    const ownerToken = readFileSync(join(dataDir, "owner-token"), "utf8").trim();
    const res = await fetch(`${serverUrl}/_docs`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${ownerToken}` },
      body: JSON.stringify({ title: HTTP_TITLE }),
      signal: AbortSignal.timeout(5000),
    });
    assert(res.status === 201, `POST /_docs: HTTP ${res.status}`);
    httpDocId = (await res.json()).id;
    await until("the new entry", async () => {
      const texts = await exec(
        `return [...document.querySelectorAll("[data-testid=doc-item]")].map((e) => e.textContent);`,
      );
      return texts.some((t) => t.includes(HTTP_TITLE));
    }, 10000);
  });

  await check("automerge-repo clients on the embedded server: private looks missing; the owner's token syncs", async () => {
    const { Repo, WebSocketClientAdapter, Automerge } = await import(pathToFileURL(join(repo, "ui/tests/repo/clients.mjs")).href);
    const wsUrl = serverUrl.replace(/^http/, "ws");
    const stranger = new Repo({ network: [new WebSocketClientAdapter(`${wsUrl}/`, 500)] });
    let refused = null;
    await stranger.find(`automerge:${docId}`).catch((e) => (refused = e));
    assert(refused && /unavailable/i.test(String(refused)), `a stranger found the private document: ${refused}`);
    const ownerToken = readFileSync(join(dataDir, "owner-token"), "utf8").trim();
    const owner = new Repo({ network: [new WebSocketClientAdapter(`${wsUrl}/?access_token=${ownerToken}`, 500)] });
    try {
      const handle = await owner.find(`automerge:${docId}`);
      assert(handle.doc().body === CLI_PREFIX + TYPED, `the repo client sees ${JSON.stringify(handle.doc().body)}`);
      // Edits go to the other document (the later checks compare this one's heads with the CLI's).
      const other = await owner.find(`automerge:${httpDocId}`);
      other.change((d) => Automerge.splice(d, ["body"], 0, 0, "from a repo client"));
      await until("the repo client's edit in the app's store", async () => {
        const r = await fetch(`${serverUrl}/${httpDocId}`, { headers: { authorization: `Bearer ${ownerToken}` }, signal: AbortSignal.timeout(5000) });
        return (await r.json()).body === "from a repo client";
      }, 10000, 50);
    } finally {
      await Promise.race([Promise.all([stranger.shutdown(), owner.shutdown()]).catch(() => {}), sleep(3000)]);
    }
  });

  await check("Open from server takes an automerge-repo sync server's document; edits go both ways", async () => {
    const { Repo, WebSocketClientAdapter, Automerge, syncServerMain } = await import(pathToFileURL(join(repo, "ui/tests/repo/clients.mjs")).href);
    const port = await freePort();
    const syncDir = join(tmp, "amrg");
    mkdirSync(syncDir, { recursive: true });
    const syncServer = spawn(process.execPath, [syncServerMain], {
      cwd: syncDir,
      env: { ...process.env, PORT: String(port), DATA_DIR: syncDir },
      stdio: ["ignore", "pipe", "ignore"],
    });
    const repoClient = new Repo({ network: [new WebSocketClientAdapter(`ws://127.0.0.1:${port}`, 500)] });
    try {
      await new Promise((res, rej) => {
        syncServer.stdout.on("data", (d) => /Listening on port/.test(String(d)) && res());
        syncServer.on("exit", (code) => rej(new Error(`the sync server exited with ${code}`)));
        setTimeout(() => rej(new Error("the sync server did not start")), 20000);
      });
      const handle = repoClient.create({ title: "From the sync server", body: "shared" });
      await handle.whenReady();
      await until("the sync server to hold it", async () => {
        cli(["sync", `ws://127.0.0.1:${port}/automerge:${handle.documentId}`, "--file", join(tmp, "amrg.automerge"), "--timeout", "5"]);
        return JSON.parse(cli(["cat", join(tmp, "amrg.automerge")])).body === "shared";
      }, 15000, 250);
      await click(await find("[data-testid=open-remote]"));
      const url = await waitFor("[data-testid=open-remote-dialog] [data-testid=remote-url]", 10000);
      await sendKeys(url, `ws://127.0.0.1:${port}/automerge:${handle.documentId}`);
      await click(await find("[data-testid=open-remote-dialog] [data-testid=confirm-ok]"));
      await until("the document in the app", async () => (await bodyText()) === "shared", 20000, 20);
      await waitFor("[data-testid=in-sync-badge]", 20000);
      const body = await find(BODY);
      await click(body);
      await sendKeys(body, "!");
      await until("the app's keystroke at the repo client", () => handle.doc().body.includes("!"), 15000, 20);
      handle.change((d) => Automerge.splice(d, ["body"], 0, 0, ">"));
      await until("the repo client's edit in the app", async () => (await bodyText()).startsWith(">"), 15000, 20);
    } finally {
      await Promise.race([repoClient.shutdown().catch(() => {}), sleep(3000)]);
      syncServer.kill("SIGTERM");
    }
  });

  await check("command errors reach the UI as {code, message}", async () => {
    const bad = await invoke("delete_doc", { id: "_reserved" });
    assert(bad.err?.code === "bad-input" && typeof bad.err.message === "string", `got ${JSON.stringify(bad)}`);
    const missing = await invoke("delete_doc", { id: "no-such-doc" });
    assert(missing.err?.code === "not-found", `got ${JSON.stringify(missing)}`);
    const notOpen = await invoke("send_sync", { id: "no-such-doc", line: "{}" });
    assert(notOpen.err?.code === "not-open", `got ${JSON.stringify(notOpen)}`);
  });

  await check("open_doc_channel → handle; close_doc_channel{id, handle} ends only that session", async () => {
    // A raw channel, as @tauri-apps/api's Channel serialises one (on the
    // document the UI has not opened, so its own sessions stay untouched).
    const opened = await execAsync(
      `const [id, done] = [arguments[0], arguments[arguments.length - 1]];
       window.__e2eLines = [];
       const cb = window.__TAURI_INTERNALS__.transformCallback((m) => window.__e2eLines.push(m));
       window.__TAURI_INTERNALS__.invoke("open_doc_channel", { id, channel: "__CHANNEL__:" + cb })
         .then((ok) => done({ ok }), (err) => done({ err }));`,
      [httpDocId],
    );
    assert(Number.isInteger(opened.ok), `open_doc_channel: ${JSON.stringify(opened)}`);
    const handle = opened.ok;
    await until("the document's first sync line", async () =>
      JSON.stringify(await exec("return window.__e2eLines;")).includes("sync"),
    5000);
    const ping = JSON.stringify({ event: "ping" });
    assert((await invoke("send_sync", { id: httpDocId, line: ping })).ok === null, "send_sync on an open session");
    const stale = await invoke("close_doc_channel", { id: httpDocId, handle: handle + 1000 });
    assert(stale.ok === null, `close_doc_channel (stale handle): ${JSON.stringify(stale)}`);
    assert((await invoke("send_sync", { id: httpDocId, line: ping })).ok === null, "a stale close ended the session");
    const closed = await invoke("close_doc_channel", { id: httpDocId, handle });
    assert(closed.ok === null, `close_doc_channel: ${JSON.stringify(closed)}`);
    const after = await invoke("send_sync", { id: httpDocId, line: ping });
    assert(after.err?.code === "not-open", `send_sync after close: ${JSON.stringify(after)}`);
  });

  await check("sharing and LAN-peer commands (discovery off)", async () => {
    const set = await invoke("set_share", { id: docId, policy: "link" });
    assert(set.ok === null, `set_share: ${JSON.stringify(set)}`);
    const docs = await invoke("list_docs");
    assert(docs.ok?.find((d) => d.id === docId)?.share === "link", `list_docs: ${JSON.stringify(docs)}`);
    const back = await invoke("set_share", { id: docId, policy: "private" });
    assert(back.ok === null, `set_share: ${JSON.stringify(back)}`);
    const bogus = await invoke("set_share", { id: docId, policy: "everyone" });
    assert(bogus.err?.code === "bad-input", `got ${JSON.stringify(bogus)}`);
    const peers = await invoke("list_peers");
    assert(Array.isArray(peers.ok) && peers.ok.length === 0, `list_peers: ${JSON.stringify(peers)}`);
    const remote = await invoke("peer_docs", { id: "nobody" });
    assert(remote.err?.code && remote.err.message, `peer_docs: ${JSON.stringify(remote)}`);
  });

  await check("sharing puts the app on the LAN over TLS; private again takes it off; the Local network settings", async () => {
    const lanStatus = async () => (await invoke("lan_status")).ok;
    const poll = async (what, test) => {
      const deadline = Date.now() + 15000;
      for (;;) {
        const status = await lanStatus();
        if (test(status)) return status;
        if (Date.now() > deadline) throw new Error(`${what}: ${JSON.stringify(status)}`);
        await sleep(100);
      }
    };
    assert((await lanStatus()).listening === false, "nothing shared: not on the LAN");
    await invoke("set_share", { id: docId, policy: "lan" });
    const on = await poll("on the LAN once shared", (st) => st?.listening === true);
    assert(on.presence === null, "mDNS stays off (TANDEM_NO_MDNS)");
    const port = Number(new URL(on.url).port);
    const health = await new Promise((resolve, reject) => {
      const req = https.get({ host: "127.0.0.1", port, path: "/_health", rejectUnauthorized: false }, (res) => {
        const fp = res.socket.getPeerCertificate().fingerprint256;
        res.resume();
        res.on("end", () => resolve({ status: res.statusCode, fp }));
      });
      req.on("error", reject);
    });
    assert(health.status === 200, `LAN listener /_health: ${health.status}`);
    assert(health.fp === on.fingerprint, `the LAN listener presents the app's certificate: ${health.fp} vs ${on.fingerprint}`);
    await invoke("set_share", { id: docId, policy: "private" });
    await poll("off the LAN once private again", (st) => st?.listening === false);
    // The Settings panel's switch does the same without sharing anything.
    await click(await find("[data-testid=settings]"));
    const stateText = () => exec(`return document.querySelector("[data-testid=lan-state]")?.textContent ?? "";`);
    await until("[data-testid=lan-state]", async () => (/Not on the network/.test(await stateText()) ? true : null), 10000);
    await click(await find("[data-testid=lan-enabled]"));
    await until("[data-testid=lan-state]", async () => (/On the network at https:/.test(await stateText()) ? true : null), 15000);
    await click(await find("[data-testid=lan-enabled]"));
    await until("[data-testid=lan-state]", async () => (/Not on the network/.test(await stateText()) ? true : null), 15000);
    await click(await find("[data-testid=settings-dialog] [data-testid=confirm-ok]"));
  });

  await linkChecks({
    check, assert, until, find, click, sendKeys, exec, waitFor, bodyText, invoke, cli, freePort, ourAppPids,
    ELEMENT, tmp, appBin, cliBin, serverUrl, docId, title: TITLE,
    appEnv: { TANDEM_NO_MDNS: "1", TANDEM_DATA_DIR: dataDir, TANDEM_LISTEN: process.env.TANDEM_LISTEN, ...dialogPaths(tmp) },
    openDoc: async (id) => {
      await exec(`location.hash = arguments[0];`, [`#/doc/${encodeURIComponent(id)}`]);
      await until("the document to open", async () =>
        (await exec(`return document.querySelector(".doc-pane")?.dataset.docId ?? null;`)) === id, 10000);
    },
  });

  await check("no error is shown, then a screenshot", async () => {
    const banner = await exec(`return document.querySelector("[data-testid=error-banner]")?.textContent ?? null;`);
    assert(banner === null, `the UI shows an error: ${banner}`);
    // Park the caret at the end and give the UI a moment to settle its sync badges.
    await sleep(500);
    const png = Buffer.from(await wd("GET", s("/screenshot")), "base64");
    assert(png.subarray(1, 4).toString() === "PNG" && png.length > 10000, `not a real screenshot (${png.length} bytes)`);
    mkdirSync(dirname(shotPath), { recursive: true });
    writeFileSync(shotPath, png);
    console.log(`     saved ${shotPath}`);
  });

  await check("SIGTERM quits the app cleanly, leaving a consistent store", async () => {
    // (WebDriver's "close window" kills the app outright, so ask it to quit the
    // way a session logout does: the app then stops its server and flushes the store.)
    const pids = ourAppPids();
    assert(pids.length === 1, `expected one app process, found ${pids.length}`);
    const t0 = performance.now();
    process.kill(pids[0], "SIGTERM");
    await until("the app to exit", () => ourAppPids().length === 0, 30000, 20);
    figures.exitMs = Math.round(performance.now() - t0);
    await stopAll();
    const log = readFileSync(logPath, "utf8");
    assert(log.includes("Tandem core stopped"), "the app did not log a clean shutdown");
    const docs = JSON.parse(cli(["docs", "--data-dir", dataDir, "--json"]));
    const byId = new Map(docs.map((d) => [d.id, d]));
    assert(byId.get(docId)?.title === TITLE, `stored docs: ${JSON.stringify(docs)}`);
    assert(docs.some((d) => d.title === HTTP_TITLE), `no "${HTTP_TITLE}" in ${JSON.stringify(docs)}`);
    // What was stored is what the CLI last synced: same heads (the CLI prints 12-hex prefixes).
    const stored = byId.get(docId).heads;
    assert(
      cliHeads.length > 0 && stored.length === cliHeads.length && cliHeads.every((h) => stored.some((x) => x.startsWith(h))),
      `stored heads ${stored} differ from the CLI's ${cliHeads}`,
    );
  });

  await check("after a restart the documents are still there (warm start)", async () => {
    const t = await launch();
    figures.warmStartMs = t.ready;
    await until("both documents in the list", async () => {
      const texts = await exec(
        `return [...document.querySelectorAll("[data-testid=doc-item]")].map((e) => e.textContent);`,
      );
      return texts.some((x) => x.includes(TITLE)) && texts.some((x) => x.includes(HTTP_TITLE));
    }, 10000);
    await exec(`location.hash = arguments[0];`, [`#/doc/${encodeURIComponent(docId)}`]);
    await until("the stored text in the editor", async () => (await bodyText()) === CLI_PREFIX + TYPED, 10000);
  });

  await check("closing the window quits the app cleanly", async () => {
    // What a window manager sends when the user clicks the close button
    // (WebDriver's own "close window" would kill the app outright).
    const before = readFileSync(logPath, "utf8").split("Tandem core stopped").length;
    // The window's title follows the open document ("<title> — Tandem", which
    // close-window.py cannot match through WM_NAME): back to the list first.
    await exec(`location.hash = "#/";`);
    await until("the window title Tandem", async () => (await exec("return document.title;")) === "Tandem", 10000);
    await sleep(300); // the title reaches the X server through the window manager's queue
    const r = spawnSync("python3", [join(here, "close-window.py"), "Tandem"], { encoding: "utf8", timeout: 10000 });
    assert(r.status === 0, `close-window.py: ${r.status ?? r.signal}: ${r.stdout}${r.stderr}`);
    const t0 = performance.now();
    await until("the app to exit", () => ourAppPids().length === 0, 30000, 20);
    figures.closeMs = Math.round(performance.now() - t0);
    await stopAll();
    const after = readFileSync(logPath, "utf8").split("Tandem core stopped").length;
    assert(after === before + 1, "the app did not log a clean shutdown");
  });
}

let crashed = null;
const hardStop = setTimeout(() => {
  console.log("FAIL the whole run took longer than 5 minutes");
  failed++;
  void finish(1);
}, 300000);

async function finish(code) {
  clearTimeout(hardStop);
  await stopAll().catch(() => {});
  // Nothing of ours may outlive the run.
  const strays = ourAppPids();
  if (strays.length) {
    failed++;
    console.log(`FAIL stray app processes after the run: ${strays.join(" ")} (killing them)`);
    for (const pid of strays) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }
  if (logFd >= 0) closeSync(logFd);
  if (failed || crashed) {
    console.log(`     log of tauri-driver, WebKitWebDriver and the app: ${logPath}`);
    const log = existsSync(logPath) ? readFileSync(logPath, "utf8").split("\n").slice(-25).join("\n     ") : "";
    if (log) console.log(`     ${log}`);
  } else if (!process.env.E2E_KEEP_TMP) {
    rmSync(tmp, { recursive: true, force: true });
  }
  if (Object.keys(figures).length) {
    console.log("figures:");
    if (figures.coldStartMs !== undefined)
      console.log(`  cold start (spawn → interactive [data-testid=new-doc]): ${figures.coldStartMs} ms (WebDriver session up after ${figures.sessionMs} ms)`);
    if (figures.keystrokeToFrameMs)
      console.log(`  keystroke → rendered frame (in page): median ${figures.keystrokeToFrameMs.median} ms, p90 ${figures.keystrokeToFrameMs.p90} ms, max ${figures.keystrokeToFrameMs.max} ms over ${figures.keystrokeToFrameMs.n} keys`);
    if (figures.keystrokeWebDriverRoundTripMs)
      console.log(`  keystroke → visible incl. WebDriver round trips: median ${figures.keystrokeWebDriverRoundTripMs.median} ms, p90 ${figures.keystrokeWebDriverRoundTripMs.p90} ms`);
    if (figures.cliSyncToScreenMs !== undefined)
      console.log(`  CLI sync → text on screen: ${figures.cliSyncToScreenMs} ms`);
    if (figures.exitMs !== undefined) console.log(`  SIGTERM → process gone (clean shutdown): ${figures.exitMs} ms`);
    if (figures.warmStartMs !== undefined) console.log(`  warm start (second launch, same data): ${figures.warmStartMs} ms`);
    if (figures.closeMs !== undefined) console.log(`  window close → process gone (clean shutdown): ${figures.closeMs} ms`);
  }
  console.log(`desktop e2e: ${passed} passed, ${failed + (crashed ? 1 : 0)} failed`);
  process.exit(code || failed || crashed ? 1 : 0);
}

try {
  await main();
} catch (e) {
  crashed = e;
  console.log(`FAIL unexpected error: ${e?.stack ?? e}`);
}
await finish(0);
