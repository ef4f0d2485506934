#!/usr/bin/env node
// End-to-end: LAN peers in the web UI, for real, in network namespaces.
//
// Two namespaces joined by a veth pair, each running `tandem serve --mdns`
// (alice and bob). mDNS runs only inside these namespaces: each one is checked
// to hold nothing but `lo` and our veth end before a server starts, and every
// other tandem run gets TANDEM_NO_MDNS=1. Chromium runs INSIDE alice's
// namespace (through an executablePath wrapper), so the page reaches alice at
// http://127.0.0.1:7450/_ui/, where it signs in with alice's owner token (being
// on loopback grants nothing). Owner calls and bob's CLI use the owner tokens
// of the two data directories.
//
// Checks: bob appears in alice's peers panel (online, unverified, with the
// same code bob shows); bob's shared doc is listed and opens as "Bob's plans";
// typing on alice's page reaches bob; bob's CLI edits appear on alice's page
// live; when bob stops, alice shows him offline and the doc stays editable;
// when bob is back, alice's offline edit reaches him. Prints the discovery time
// and the shared-edit latency, then `lan-peers e2e: N passed, M failed`.
//
//   cargo build --bin tandem && (cd ui && npm run build) && node ui/tests/e2e/lan-peers.mjs
//   (TANDEM_BIN=…, CHROMIUM=/usr/bin/chromium, SHOT=/tmp/lan-peers.png override defaults)
//
// Without root or `ip netns`, prints `lan-peers e2e: skipped (<reason>)` and exits 0.
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  assert,
  begin,
  check,
  chromiumPath,
  ensureBinary,
  fail,
  figure,
  finish,
  launchChromium,
  ms,
  signIn,
  sleep,
  tandemBin,
  tempDir,
  tid,
  uiDir,
  until,
} from "./harness.mjs";
import { lanPair } from "./netns.mjs";

const TOTAL_TIMEOUT_MS = Number(process.env.LAN_E2E_TIMEOUT_MS ?? 8 * 60_000);

function skip(reason) {
  console.log(`lan-peers e2e: skipped (${reason})`);
  process.exit(0);
}

// ---- preconditions -----------------------------------------------------------------------------

if (process.platform !== "linux") skip("network namespaces need Linux");
if (typeof process.getuid !== "function" || process.getuid() !== 0) skip("not root");
{
  const r = spawnSync("ip", ["netns", "list"], { encoding: "utf8", timeout: 10_000 });
  if (r.error || r.status !== 0) skip(`ip netns unavailable: ${(r.error?.message ?? r.stderr ?? "").trim() || `exit ${r.status}`}`);
}

begin("lan-peers e2e", { timeoutMs: TOTAL_TIMEOUT_MS });

// ---- the network, its servers and clean-up (./netns.mjs) ---------------------------------------

const work = tempDir("tandem-lan-e2e-");
const { pid, ns, veth, addr, dataDir, quietEnv, tandemIn, ownerToken, apiIn, stopServer, makeNetwork, startServer } = lanPair(work);

// ---- the test ----------------------------------------------------------------------------------

const BODY = `${tid("text-editor")}[data-path="/body"] .cm-content`;
const docId = `bobplans${pid}`;
const bobFile = join(work, "bob-plans.automerge");
const pageErrors = [];
let alice;
let bob;
let page;

const bobExitedAt = (s) => s.exitedAt ?? NaN;
const peerRow = () => `${tid("peer")}[data-peer-id="${bob.id}"]`;

/** Text of the element at a document path on alice's page (an input's value, or an editor's text). */
const pathText = (path) =>
  page.evaluate((p) => {
    const el = document.querySelector(`[data-path="${p}"]`);
    if (!el) return null;
    const input = el.querySelector("input");
    if (input) return input.value;
    return el.querySelector(".cm-content")?.textContent ?? null;
  }, path);

/** Bob's copy as JSON, read from inside his namespace. */
const bobDoc = () => apiIn(ns.b, `/${docId}`).json;

try {
  await ensureBinary();
  if (!existsSync(join(uiDir, "index.html"))) throw new Error(`${uiDir} is not built (cd ui && npm run build)`);
  if (!existsSync(chromiumPath)) throw new Error(`no Chromium at ${chromiumPath}`);
  console.log(`     namespaces ${ns.a} (${addr.a}) and ${ns.b} (${addr.b}); veth ${veth.a}/${veth.b}`);
  makeNetwork();

  alice = await startServer("a", "alice");
  // Chromium inside alice's namespace, through a wrapper
  const wrapper = join(work, "chromium-in-alice.sh");
  writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${ns.a} ${chromiumPath} "$@"\n`);
  chmodSync(wrapper, 0o755);
  const browser = await launchChromium([], { executablePath: wrapper });
  page = await (await browser.newContext({ viewport: { width: 1280, height: 860 } })).newPage();
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  page.setDefaultTimeout(20_000);
  await signIn(page, { url: "http://127.0.0.1:7450", ownerToken: ownerToken("a") });
  await page.goto("http://127.0.0.1:7450/_ui/");
  await page.waitForSelector(tid("peers-panel"));

  await check("alice's page loads as the owner, with an empty peers panel", async () => {
    await page.waitForFunction(() => /No other Tandem devices/.test(document.querySelector(".peers-empty")?.textContent ?? ""));
    assert((await page.locator(tid("peer")).count()) === 0, "no peers before bob starts");
  });

  const discovered = await check("bob appears in alice's peers panel: online, not verified, with a code", async () => {
    const started = startServer("b", "bob");
    bob = await started;
    await page.waitForSelector(`${peerRow()}[data-online="true"]`, { timeout: 20_000 });
    const visibleAt = performance.now();
    figure(
      `discovery: bob's server start → peer row visible on alice's page: ${ms(visibleAt - bob.spawnedAt)} ` +
        `(${ms(visibleAt - bob.readyAt)} after bob printed that it listens)`,
    );
    const row = page.locator(peerRow());
    assert((await row.locator(tid("peer-name")).textContent()) === "bob", "name");
    assert((await row.locator(tid("peer-state")).textContent()) === "online", "state");
    assert((await row.locator(tid("peer-verified")).textContent()) === "not verified", "verified");
    const code = await row.locator(tid("peer-code")).textContent();
    assert(/^\d{3} \d{3}$/.test(code), `code: ${code}`);
    const addrText = await row.locator(tid("peer-address")).textContent();
    assert(addrText === `${addr.b}:7450`, `address: ${addrText}`);
    // bob shows the same code for alice
    const { value: onBob } = await until(20_000, "bob to see alice", () => apiIn(ns.b, "/_peers").json?.find((p) => p.id === alice.id));
    assert(onBob.code === code, `codes differ: alice shows ${code}, bob shows ${onBob.code}`);
  });
  if (!discovered) throw new Error("bob was not discovered; the remaining checks need him");

  await check("bob creates and shares a doc; alice lists it under bob", async () => {
    tandemIn(ns.b, ["edit", bobFile, "--set", `title="Bob's plans"`, "--set", `body="hello"`]);
    tandemIn(ns.b, ["sync", `http://127.0.0.1:7450/${docId}`, "--file", bobFile, "--token-file", join(dataDir.b, "owner-token")]);
    tandemIn(ns.b, ["share", `http://127.0.0.1:7450/${docId}`, "lan", "--token-file", join(dataDir.b, "owner-token")]);
    await page.click(`${peerRow()} ${tid("peer-toggle")}`);
    const item = `${peerRow()} ${tid("peer-doc")}[data-doc-id="${docId}"]`;
    await until(20_000, "bob's doc in alice's list", async () => {
      if (await page.locator(item).count()) return true;
      if (await page.locator(`${peerRow()} ${tid("peer-docs-refresh")}:not([disabled])`).count())
        await page.click(`${peerRow()} ${tid("peer-docs-refresh")}`);
      await sleep(500);
      return false;
    });
    const title = await page.locator(`${item} .peer-doc-title`).textContent();
    assert(title === "Bob's plans", `listed title: ${title}`);
  });

  await check("opening it on alice shows Bob's plans, synced with bob", async () => {
    await page.click(`${peerRow()} ${tid("peer-doc")}[data-doc-id="${docId}"] ${tid("open-peer-doc")}`);
    await page.waitForSelector(`.doc-pane[data-doc-id="${docId}"]`);
    await page.waitForFunction(() => document.querySelector('[data-testid="doc-title"] .cm-content')?.textContent === "Bob's plans");
    await page.waitForFunction((sel) => document.querySelector(sel)?.textContent === "hello", BODY);
    await page.waitForFunction(() => document.querySelector('[data-testid="remote-host"]')?.textContent === "bob (nearby)");
    await page.waitForSelector(tid("in-sync-badge"));
    assert((await page.inputValue(tid("share-policy"))) === "private", "alice's copy starts private");
  });

  await check("verifying bob after comparing codes", async () => {
    const code = await page.textContent(`${peerRow()} ${tid("peer-code")}`);
    await page.click(`${peerRow()} ${tid("verify-peer")}`);
    assert((await page.textContent(tid("verify-code"))) === code, "the dialog shows the code");
    await page.click(tid("confirm-ok"));
    await page.waitForFunction((sel) => document.querySelector(sel)?.textContent === "verified", `${peerRow()} ${tid("peer-verified")}`);
    assert(apiIn(ns.a, "/_peers").json?.find((p) => p.id === bob.id)?.verified === true, "alice's server recorded it");
  });

  await check("typing on alice's page reaches bob", async () => {
    await page.click(BODY);
    await page.keyboard.press("Control+End");
    await page.keyboard.type(" from alice");
    const { took } = await until(20_000, "alice's typing on bob", () => bobDoc()?.body === "hello from alice", 25);
    figure(`alice's typing → on bob's server (polled with curl every ~25 ms): ${ms(took)} after the last key`);
  });

  await check("edits made on bob's side appear on alice's page live", async () => {
    const samples = [];
    const afterSync = [];
    for (let i = 1; i <= 5; i++) {
      const value = `hi alice #${i}`;
      tandemIn(ns.b, ["sync", `http://127.0.0.1:7450/${docId}`, "--file", bobFile, "--token-file", join(dataDir.b, "owner-token")]); // pull what alice typed
      tandemIn(ns.b, ["edit", bobFile, "--set", `from_bob=${JSON.stringify(value)}`]);
      const t0 = performance.now();
      const syncing = new Promise((res, rej) => {
        const c = spawn(
          "ip",
          [
            "netns",
            "exec",
            ns.b,
            tandemBin,
            "sync",
            `http://127.0.0.1:7450/${docId}`,
            "--file",
            bobFile,
            "--token-file",
            join(dataDir.b, "owner-token"),
          ],
          {
            env: quietEnv,
            stdio: "ignore",
          },
        );
        const timer = setTimeout(() => c.kill("SIGKILL"), 40_000);
        c.on("exit", (code) => {
          clearTimeout(timer);
          code === 0 ? res(performance.now()) : rej(new Error(`tandem sync exited with ${code}`));
        });
      });
      await page.waitForFunction(
        (v) => {
          const el = document.querySelector('[data-path="/from_bob"]');
          return (el?.querySelector("input")?.value ?? el?.querySelector(".cm-content")?.textContent) === v;
        },
        value,
        { timeout: 20_000, polling: 5 },
      );
      const seen = performance.now();
      const synced = await syncing;
      samples.push(seen - t0);
      afterSync.push(seen - synced);
    }
    const sorted = [...samples].sort((a, b) => a - b);
    figure(
      `shared-edit latency (bob's \`tandem sync\` push starts → visible on alice's screen), n=${samples.length}: ` +
        `median ${ms(sorted[Math.floor(sorted.length / 2)])}, min ${ms(sorted[0])}, max ${ms(sorted[sorted.length - 1])} ` +
        `[relative to the CLI returning: ${afterSync.map((x) => ms(x)).join(", ")}]`,
    );
    // and alice's own text is intact
    assert((await pathText("/body")) === "hello from alice", "body changed unexpectedly");
  });

  await check("the share control: alice shares her copy on the LAN and bob lists it; private again hides it", async () => {
    const bobSees = () => apiIn(ns.b, `/_peers/${alice.id}/docs`);
    await until(20_000, "bob to see alice", () => apiIn(ns.b, "/_peers").json?.some((p) => p.id === alice.id && p.online));
    assert(!(bobSees().json ?? []).some((d) => d.id === docId), "private: not listed for bob");
    await page.selectOption(tid("share-policy"), "lan");
    await page.waitForSelector(`${tid("doc-item")}[data-doc-id="${docId}"] ${tid("share-badge")}[data-share="lan"]`);
    assert(/peers on your network/.test(await page.textContent(tid("share-hint"))), "lan hint");
    assert(apiIn(ns.a, "/_docs").json?.find((d) => d.id === docId)?.share === "lan", "alice's server has the policy");
    await until(10_000, "alice's doc in bob's listing of alice", () =>
      (bobSees().json ?? []).some((d) => d.id === docId && d.share === "lan"),
    );
    await page.selectOption(tid("share-policy"), "private");
    await page.waitForSelector(`${tid("doc-item")}[data-doc-id="${docId}"] ${tid("share-badge")}`, { state: "detached" });
    await until(10_000, "alice's doc gone from bob's listing", () => !(bobSees().json ?? [{ id: docId }]).some((d) => d.id === docId));
  });

  await check("bob stops (SIGTERM): alice shows him offline within seconds; the doc stays open and editable", async () => {
    const t0 = performance.now();
    const stopping = stopServer(bob);
    const [offlineAt, reconnectingAt] = await Promise.all([
      page.waitForSelector(`${peerRow()}[data-online="false"]`, { timeout: 15_000 }).then(() => performance.now()),
      page
        .waitForFunction(() => /reconnecting/.test(document.querySelector('[data-testid="remote-state"]')?.textContent ?? ""), null, {
          timeout: 30_000,
          polling: 10,
        })
        .then(() => performance.now()),
    ]);
    figure(`bob's departure (SIGTERM) → shown offline in alice's peers panel: ${ms(offlineAt - t0)}`);
    figure(`bob's departure (SIGTERM) → the open doc's connection shows reconnecting: ${ms(reconnectingAt - t0)}`);
    assert(/^offline/.test(await page.locator(`${peerRow()} ${tid("peer-state")}`).textContent()), "state text");
    await stopping;
    figure(`bob's process exited ${ms(bobExitedAt(bob) - t0)} after SIGTERM`);
    assert((await page.locator(`.doc-pane[data-doc-id="${docId}"]`).count()) === 1, "the doc is still open");
    assert((await page.textContent(tid("link-status"))) === "Connected", "alice's page is still connected to alice");
    await page.click(BODY);
    await page.keyboard.press("Control+End");
    await page.keyboard.type(" (offline)");
    await until(10_000, "the offline edit on alice's server", () => apiIn(ns.a, `/${docId}`).json?.body === "hello from alice (offline)");
    // bob's entry still lists the local copy, openable
    await page.waitForSelector(`${peerRow()} ${tid("peer-doc")}[data-doc-id="${docId}"]`);
    if (await page.locator(tid("error-banner")).count()) throw new Error(`error banner: ${await page.textContent(tid("error-banner"))}`);
    if (process.env.SHOT) await page.screenshot({ path: process.env.SHOT.replace(/\.png$/, "-offline.png") });
  });

  await check("bob comes back (same data dir): online again, and alice's offline edit reaches him", async () => {
    const t0 = performance.now();
    bob = await startServer("b", "bob");
    await page.waitForSelector(`${peerRow()}[data-online="true"]`, { timeout: 20_000 });
    const online = performance.now();
    figure(`bob's restart → shown online again on alice's page: ${ms(online - t0)}`);
    assert((await page.textContent(`${peerRow()} ${tid("peer-verified")}`)) === "verified", "still verified after bob's restart");
    await until(30_000, "alice's offline edit on bob", () => bobDoc()?.body === "hello from alice (offline)", 50);
    figure(`bob back online → alice's offline edit on bob's server: ${ms(performance.now() - online)}`);
    await page.waitForSelector(tid("in-sync-badge"), { timeout: 20_000 });
    // and live again both ways
    await page.click(BODY);
    await page.keyboard.press("Control+End");
    await page.keyboard.type("!");
    await until(15_000, "a live keystroke on bob", () => bobDoc()?.body === "hello from alice (offline)!", 25);
  });

  let oldCode = "";
  await check("bob's certificate changes: alice is warned, connections are refused, her copy stays editable", async () => {
    oldCode = await page.textContent(`${peerRow()} ${tid("peer-code")}`);
    const oldFingerprint = bob.fingerprint;
    await stopServer(bob);
    rmSync(join(dataDir.b, "tls"), { recursive: true, force: true }); // same peer id, new certificate
    bob = await startServer("b", "bob");
    assert(bob.fingerprint && bob.fingerprint !== oldFingerprint, "bob should have a new certificate");
    const t0 = performance.now();
    await page.waitForSelector(`${peerRow()}[data-state="certificate-changed"]`, { timeout: 20_000 });
    figure(`bob back with a new certificate → warning on alice's page: ${ms(performance.now() - t0)} after bob listens`);
    const warning = page.locator(`${peerRow()} ${tid("peer-warning")}`);
    assert(await warning.isVisible(), "the warning is visible");
    assert(/refuses to connect/.test(await warning.textContent()), "the warning says connections are refused");
    assert(/Forget it only if/.test(await warning.textContent()), "and how to accept a legitimate change");
    assert((await page.textContent(`${peerRow()} ${tid("peer-state")}`)) === "certificate changed", "state");
    assert(await page.locator(`${peerRow()} ${tid("verify-peer")}`).isHidden(), "no verifying a refused certificate");
    await page.waitForFunction(() => /refused/.test(document.querySelector('[data-testid="remote-state"]')?.textContent ?? ""), null, {
      timeout: 20_000,
    });
    await page.click(BODY);
    await page.keyboard.press("Control+End");
    await page.keyboard.type(" [cert]");
    await until(10_000, "the edit on alice's server", () => String(apiIn(ns.a, `/${docId}`).json?.body).endsWith("[cert]"));
    assert(!String(bobDoc()?.body).includes("[cert]"), "nothing reached bob through the refused certificate");
  });

  await check("forgetting bob (after comparing codes): trusted again, not verified, same code on both sides", async () => {
    await page.click(`${peerRow()} ${tid("peer-warning")} ${tid("forget-peer")}`);
    await page.waitForSelector(tid("forget-dialog"));
    await page.click(tid("confirm-ok"));
    await page.waitForSelector(`${peerRow()}[data-state="online"]`, { timeout: 10_000 });
    assert(await page.locator(`${peerRow()} ${tid("peer-warning")}`).isHidden(), "warning gone");
    assert((await page.textContent(`${peerRow()} ${tid("peer-verified")}`)) === "not verified", "unverified again");
    const code = await page.textContent(`${peerRow()} ${tid("peer-code")}`);
    assert(code !== oldCode, "a new code for the new certificate");
    const { value: onBob } = await until(10_000, "bob's code for alice", () => apiIn(ns.b, "/_peers").json?.find((p) => p.id === alice.id));
    assert(onBob.code === code, `codes differ: alice shows ${code}, bob shows ${onBob.code}`);
    await page.waitForSelector(`${peerRow()} ${tid("peer-doc")}[data-doc-id="${docId}"] ${tid("open-peer-doc")}:not([disabled])`);
  });

  await check("after the forget, alice's copy syncs with bob again by itself (re-pinned)", () =>
    until(20_000, "alice's [cert] edit on bob", () => String(bobDoc()?.body).includes("[cert]"), 100),
  );

  await check("no page errors", async () => {
    assert(pageErrors.length === 0, pageErrors.join("\n"));
  });
  if (process.env.SHOT) await page.screenshot({ path: process.env.SHOT });
} catch (e) {
  fail(`setup: ${e?.stack ?? e}`);
}
await finish();
