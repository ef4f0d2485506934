// Shared pieces of the browser end-to-end scripts (two-servers, lan-peers,
// browser-security): pass/fail counting and the closing `NAME: N passed, M
// failed` line, polling, real `tandem serve` processes on 127.0.0.1:0 with
// their owner token, owner API calls, signing a page in, Chromium, and
// clean-up that runs once whatever happens (time limit, signal, error).
//
//   import { begin, check, assert, serve, api, signIn, launchChromium, finish } from "./harness.mjs";
//   begin("my e2e", { timeoutMs: 120_000 });
//   try { … checks … } catch (e) { fail(`setup: ${e?.stack ?? e}`); }
//   await finish();
//
// Environment: TANDEM_BIN (default target/debug/tandem), TANDEM_UI_DIR (default
// ui/dist), CHROMIUM (default
// /usr/bin/chromium). Every `tandem` started here gets TANDEM_NO_MDNS=1.
import { execFile, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer as createTcpServer, connect as tcpConnect } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
/** The repository root. */
export const repo = resolve(here, "../../..");
/** The `tandem` binary used. */
export const tandemBin = process.env.TANDEM_BIN ?? join(repo, "target/debug/tandem");
/** The built web UI served under /_ui/. */
export const uiDir = process.env.TANDEM_UI_DIR ?? join(repo, "ui/dist");
/** Debian's Chromium (never downloaded). */
export const chromiumPath = process.env.CHROMIUM ?? "/usr/bin/chromium";

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** `123 ms`. */
export const ms = (x) => `${Math.round(x)} ms`;
/** The `p`th percentile (0–100) of `xs`, nearest rank. */
export const percentile = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
/** A CSS selector for `data-testid`. */
export const tid = (id) => `[data-testid="${id}"]`;

// ---- results -----------------------------------------------------------------------------------

let suite = "e2e";
let passed = 0;
let failed = 0;
/** Set when the run is being torn down early (time limit, signal): later checks are not run or counted. */
let aborted = false;
let watchdog = null;
const figures = [];

/** Names the run (for the closing line), and bounds it: after `timeoutMs` it fails and cleans up. */
export function begin(name, { timeoutMs = 5 * 60_000 } = {}) {
  suite = name;
  watchdog = setTimeout(() => abort(`overall time limit of ${timeoutMs} ms reached; cleaning up`), timeoutMs);
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(sig, () => abort(`interrupted (${sig}); cleaning up`));
}

/** Whether the run is being torn down early. */
export const isAborted = () => aborted;

/** Runs one named check; counts it; returns whether it passed. */
export async function check(name, fn) {
  if (aborted) return false;
  const t0 = performance.now();
  try {
    await fn();
    if (aborted) return false;
    passed++;
    console.log(`ok   ${name} (${ms(performance.now() - t0)})`);
    return true;
  } catch (e) {
    if (aborted) return false;
    failed++;
    console.log(
      `FAIL ${name}\n     ${String(e?.stack ?? e)
        .split("\n")
        .slice(0, 8)
        .join("\n     ")}`,
    );
    return false;
  }
}

/** Counts one failure outside a check (e.g. set-up). */
export function fail(message) {
  if (aborted) return;
  failed++;
  console.log(`FAIL ${message}`);
}

export function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

/** Prints a measured figure now, and again in the summary. */
export function figure(line) {
  figures.push(line);
  console.log(`     ${line}`);
}

/**
 * Polls `f` (sync or async) until it returns a truthy value, for at most
 * `limit` ms; resolves `{ value, took }`. Errors thrown by `f` count as "not yet".
 */
export async function until(limit, what, f, every = 50) {
  const start = performance.now();
  let last;
  for (;;) {
    try {
      const v = await f();
      if (v) return { value: v, took: performance.now() - start };
    } catch (e) {
      last = e;
    }
    if (performance.now() - start > limit)
      throw new Error(`timed out after ${limit} ms waiting for ${what}${last ? ` (last error: ${last.message ?? last})` : ""}`);
    await sleep(every);
  }
}

// ---- clean-up ----------------------------------------------------------------------------------

const browsers = new Set();
const servers = new Set();
const hooks = [];
const tempDirs = [];
let cleaning = null;
let finishing = null;

/** Runs `fn` at clean-up, after browsers and servers are stopped (last registered runs first). */
export function onCleanup(fn) {
  hooks.push(fn);
}

/** A temporary directory removed at clean-up. */
export function tempDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
export async function stopProcess(child, graceMs = 8000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((r) => child.once("exit", r));
  try {
    child.kill("SIGTERM");
  } catch {
    /* gone */
  }
  if (await Promise.race([gone.then(() => true), sleep(graceMs).then(() => false)])) return;
  try {
    child.kill("SIGKILL");
  } catch {
    /* gone */
  }
  await Promise.race([gone, sleep(3000)]);
}

/** Closes browsers, stops servers, runs the hooks, removes temporary directories. Runs once. */
export function cleanup() {
  if (cleaning) return cleaning;
  cleaning = (async () => {
    for (const b of browsers) await Promise.race([b.close().catch(() => {}), sleep(10_000)]);
    browsers.clear();
    await Promise.all([...servers].map((s) => stopServer(s)));
    for (const fn of hooks.splice(0).reverse()) {
      try {
        await fn();
      } catch (e) {
        console.log(`     clean-up step failed: ${e?.message ?? e}`);
      }
    }
    for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  })();
  return cleaning;
}

/** Cleans up, prints the figures and `NAME: N passed, M failed`, exits 1 on any failure. Runs once. */
export function finish() {
  if (finishing) return finishing;
  finishing = (async () => {
    clearTimeout(watchdog);
    await cleanup();
    if (figures.length) console.log(`\nfigures:\n  ${figures.join("\n  ")}`);
    console.log(`${suite}: ${passed} passed, ${failed} failed`);
    process.exit(failed ? 1 : 0);
  })();
  return finishing;
}

/** Stops early: counts one failure, runs no further checks, cleans up and exits. */
export function abort(why) {
  if (aborted) return;
  console.log(`FAIL ${why}`);
  failed++;
  aborted = true;
  void finish();
}

// ---- servers -----------------------------------------------------------------------------------

/** Whether a cargo or rustc process is running on this machine. */
function cargoRunning() {
  for (const p of readdirSync("/proc")) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const comm = readFileSync(`/proc/${p}/comm`, "utf8").trim();
      if (comm === "cargo" || comm === "rustc") return true;
    } catch {
      /* raced */
    }
  }
  return false;
}

/** The `tandem` binary: used as is; built only if missing (after waiting for a build that is already running). */
export async function ensureBinary() {
  if (existsSync(tandemBin)) return;
  if (process.env.TANDEM_BIN) throw new Error(`TANDEM_BIN=${tandemBin} does not exist`);
  const waitUntil = Date.now() + 15 * 60_000;
  while (!existsSync(tandemBin) && cargoRunning() && Date.now() < waitUntil) {
    console.log("     target/debug/tandem is missing and a cargo build is running; waiting…");
    await sleep(10_000);
  }
  if (existsSync(tandemBin)) return;
  console.log("     building target/debug/tandem (cargo build --bin tandem)…");
  const r = spawnSync("cargo", ["build", "--bin", "tandem"], {
    cwd: repo,
    stdio: "inherit",
    timeout: 40 * 60_000,
    env: { ...process.env, TANDEM_NO_MDNS: "1", RUST_LOG: "warn" },
  });
  if (r.status !== 0 || !existsSync(tandemBin)) throw new Error("cargo build --bin tandem failed");
}

/**
 * Starts `tandem serve --listen LISTEN --data-dir DIR --ui-dir ui/dist
 * …extraArgs` (mDNS off). Resolves `{ name, url, port, child, dataDir,
 * ownerToken, stderr }` once it prints where it listens; `ownerToken` is the
 * data directory's `owner-token`, `stderr` its last 1,000 log lines. Stopped
 * at clean-up. Options: `env`, `timeoutMs`, `listen` (default 127.0.0.1:0),
 * `dataDir` (default: a new temporary one; pass a stopped server's to restart it).
 */
export function serve(name, extraArgs = [], { env: extraEnv = {}, timeoutMs = 20_000, listen = "127.0.0.1:0", dataDir: keptDir } = {}) {
  if (!existsSync(tandemBin)) throw new Error(`${tandemBin} is missing: cargo build -p tandem --bin tandem`);
  if (!existsSync(join(uiDir, "index.html"))) throw new Error(`${uiDir} is not built: (cd ui && npm run build)`);
  const dataDir = keptDir ?? tempDir(`tandem-e2e-${name}-`);
  const env = { ...process.env, RUST_LOG: "warn", ...extraEnv, TANDEM_NO_MDNS: "1" };
  if (!("TANDEM_TOKEN" in extraEnv)) delete env.TANDEM_TOKEN; // `serve` would take it as --token
  const child = spawn(tandemBin, ["serve", "--listen", listen, "--data-dir", dataDir, "--ui-dir", uiDir, ...extraArgs], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const s = { name, url: "", port: 0, child, dataDir, ownerToken: "", stderr: [] };
  servers.add(s);
  createInterface({ input: child.stderr }).on("line", (raw) => {
    // biome-ignore lint/suspicious/noControlCharactersInRegex: removes terminal colour codes (ESC [ … m)
    const l = raw.replace(/\x1b\[[0-9;]*m/g, ""); // no colours
    s.stderr.push(l);
    if (s.stderr.length > 1000) s.stderr.shift();
    if (process.env.E2E_VERBOSE) console.log(`     [${name}] ${l}`);
  });
  return new Promise((res, rej) => {
    const timer = setTimeout(
      () => rej(new Error(`${name} did not start within ${timeoutMs} ms:\n${s.stderr.slice(-30).join("\n")}`)),
      timeoutMs,
    );
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      servers.delete(s);
      rej(new Error(`${name} exited with ${code ?? signal}:\n${s.stderr.slice(-30).join("\n")}`));
    });
    createInterface({ input: child.stdout }).on("line", (line) => {
      const m = /^Tandem listening on (\S+)/.exec(line);
      if (!m) return;
      clearTimeout(timer);
      s.url = m[1];
      s.port = Number(new URL(s.url).port);
      try {
        s.ownerToken = readFileSync(join(dataDir, "owner-token"), "utf8").trim();
      } catch (e) {
        return rej(new Error(`${name}: cannot read its owner token: ${e.message}`));
      }
      if (!s.ownerToken) return rej(new Error(`${name}: its owner-token file is empty`));
      res(s);
    });
  });
}

/** Runs `tandem ARGS` to the end (mDNS off); resolves its stdout, rejects with its stderr on failure. */
export function runTandem(args, { timeoutMs = 60_000, env = {} } = {}) {
  return new Promise((res, rej) => {
    execFile(
      tandemBin,
      args,
      { timeout: timeoutMs, env: { ...process.env, RUST_LOG: "warn", ...env, TANDEM_NO_MDNS: "1" } },
      (err, stdout, stderr) => (err ? rej(new Error(`tandem ${args.join(" ")}: ${err.message}\n${stderr}`)) : res(stdout)),
    );
  });
}

/** Starts a long-running `tandem ARGS` (e.g. `sync --follow`; mDNS off); stopped at clean-up. */
export function spawnTandem(args, { stdio = ["ignore", "ignore", "pipe"], env = {} } = {}) {
  const child = spawn(tandemBin, args, { stdio, env: { ...process.env, RUST_LOG: "warn", ...env, TANDEM_NO_MDNS: "1" } });
  onCleanup(() => stopProcess(child));
  return child;
}

/** Stops a server from {@link serve} (SIGTERM, then SIGKILL). */
export async function stopServer(s) {
  await stopProcess(s.child);
  servers.delete(s);
}

/**
 * A raw request to a server: `{ status, text, json, headers }`, never
 * throwing on a status. `token` defaults to the owner's; `null` sends none.
 */
export async function request(server, method, path, { body, headers = {}, token = server.ownerToken } = {}) {
  const h = { ...headers };
  if (token) h.authorization = `Bearer ${token}`;
  let payload = body;
  if (body !== undefined && typeof body !== "string" && !(body instanceof Uint8Array)) {
    payload = JSON.stringify(body);
    h["content-type"] ??= "application/json";
  }
  const r = await fetch(`${server.url}${path}`, {
    method,
    headers: h,
    body: payload,
    redirect: "manual",
    signal: AbortSignal.timeout(10_000),
  });
  const text = await r.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    /* not JSON */
  }
  return { status: r.status, text, json, headers: r.headers };
}

/** An owner API call (bearer owner token, JSON body); throws on a non-2xx answer, resolves the JSON (or null). */
export async function api(server, method, path, body) {
  const r = await request(server, method, path, { body });
  if (r.status < 200 || r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${r.text}`);
  return r.json;
}

// ---- browser -----------------------------------------------------------------------------------

/**
 * Signs `page` in on `server` with `token` (default: the owner token) through
 * the sign-in page, like a user: go to /_signin, paste, submit. Resolves the
 * URL the page ends on; throws unless that is the UI (`{ expectUi: false }` to
 * allow a refusal).
 */
export async function signIn(page, server, token = server.ownerToken, { expectUi = true } = {}) {
  await page.goto(`${server.url}/_signin`);
  await page.fill('input[name="token"]', token);
  await Promise.all([page.waitForNavigation({ timeout: 15_000 }), page.click('button[type="submit"]')]);
  const url = page.url();
  if (expectUi && !new URL(url).pathname.startsWith("/_ui/")) {
    const alert = await page.textContent('[role="alert"]').catch(() => "");
    throw new Error(`sign-in on ${server.url} ended at ${url}${alert ? `: ${alert}` : ""}`);
  }
  return url;
}

/**
 * Chromium (Debian's, never downloaded) with --no-sandbox --disable-gpu and
 * no background traffic, plus `args`; closed at clean-up. `options` go to
 * playwright's `launch` (e.g. `executablePath` for a wrapper).
 */
export async function launchChromium(args = [], options = {}) {
  const { chromium } = await import("playwright-core");
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    timeout: 60_000,
    // our own signal handlers clean up (servers, namespaces) and close the browser
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
    ...options,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", ...args],
  });
  browsers.add(browser);
  return browser;
}

// ---- network -----------------------------------------------------------------------------------

/**
 * A TCP proxy on 127.0.0.1:0 in front of `server` (a real network path that a
 * test can cut): resolves `{ url, outage(ms), close() }`. `outage` drops every
 * open connection and refuses new ones for `ms`. Closed at clean-up.
 */
export function tcpProxy(server) {
  const sockets = new Set();
  let refusing = false;
  const proxy = createTcpServer((client) => {
    if (refusing) return client.destroy();
    const upstream = tcpConnect(server.port, "127.0.0.1");
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("error", end);
      s.on("close", end);
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  const close = () =>
    new Promise((res) => {
      for (const s of sockets) s.destroy();
      proxy.close(() => res());
    });
  onCleanup(close);
  return new Promise((res, rej) => {
    proxy.on("error", rej);
    proxy.listen(0, "127.0.0.1", () => {
      const url = `http://127.0.0.1:${proxy.address().port}`;
      res({
        url,
        outage(ms) {
          refusing = true;
          for (const s of sockets) s.destroy();
          setTimeout(() => (refusing = false), ms);
        },
        close,
      });
    });
  });
}
