#!/usr/bin/env node
// Browser smoke test of the built UI (ui/dist) against tests/fake-server.mjs,
// using the system Chromium through playwright-core (no browser download).
// Takes screenshots to /tmp/ui-shot.png (and /tmp/ui-shot-*.png).
//
//   npm run build && npm run smoke
//   CHROMIUM=/usr/bin/chromium SHOT=/tmp/ui-shot.png node tests/smoke.mjs
import { chromium } from "playwright-core";
import { startFakeServer } from "./fake-server.mjs";

const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const shot = process.env.SHOT ?? "/tmp/ui-shot.png";
const shotBase = shot.replace(/\.png$/, "");

let passed = 0;
let failed = 0;
async function check(name, fn) {
  try {
    await fn();
    passed++;
    console.log(`ok   ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}\n     ${String(e?.message ?? e).split("\n").slice(0, 6).join("\n     ")}`);
  }
}
function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

const server = await startFakeServer({ seed: true, quiet: true });
const browser = await chromium.launch({
  executablePath,
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const consoleErrors = [];
const newPage = async () => {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await ctx.newPage();
  page.on("console", (m) => m.type() === "error" && consoleErrors.push(m.text()));
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
  return page;
};
const tid = (id) => `[data-testid="${id}"]`;

try {
  const a = await newPage();
  const b = await newPage();
  let docId = null;

  await check("loads the document list from /_docs", async () => {
    await a.goto(`${server.origin}/_ui/`);
    await a.waitForSelector(`${tid("doc-item")}`, { timeout: 15000 });
    const n = await a.locator(tid("doc-item")).count();
    assert(n === 3, `expected 3 docs, got ${n}`);
  });

  await check("sidebar dot shows the seeded remote as in sync", async () => {
    const states = await a.locator(tid("doc-item")).evaluateAll((els) => els.map((e) => e.dataset.state));
    assert(states.includes("in-sync") && states.includes("local"), `states: ${states}`);
  });

  await check("filter narrows the list", async () => {
    await a.fill(tid("filter"), "shop");
    await a.waitForFunction(() => document.querySelectorAll('[data-testid="doc-item"]').length === 1);
    await a.fill(tid("filter"), "");
    await a.waitForFunction(() => document.querySelectorAll('[data-testid="doc-item"]').length === 3);
  });

  await check("creates a document from the note template and focuses its title", async () => {
    await a.click(tid("new-doc"));
    await a.fill(tid("prompt-input"), "Trip plan");
    await a.click(tid("confirm-ok"));
    await a.waitForSelector(`${tid("doc-title")} .cm-content`, { timeout: 10000 });
    await a.waitForFunction(() => document.querySelector('[data-testid="doc-title"] .cm-content')?.textContent === "Trip plan");
    docId = await a.locator(".doc-pane").getAttribute("data-doc-id");
    assert(docId, "no doc id");
    assert(await a.locator(`${tid("doc-item")}[data-doc-id="${docId}"]`).count() === 1, "new doc not in list");
  });

  await check("typing in the body reaches a second browser live", async () => {
    // the new document's title has focus; Enter moves to the body
    await a.waitForFunction(() => document.activeElement?.closest('[data-testid="doc-title"]'));
    await a.keyboard.press("Enter");
    await a.keyboard.type("Hello from A.");
    await b.goto(`${server.origin}/_ui/#/doc/${encodeURIComponent(docId)}`);
    await b.waitForFunction(
      () => document.querySelector('[data-testid="text-editor"][data-path="/body"] .cm-content')?.textContent === "Hello from A.",
      null,
      { timeout: 10000 },
    );
  });

  await check("concurrent typing in two browsers merges without losing the caret", async () => {
    await b.click(`${tid("text-editor")}[data-path="/body"] .cm-content`);
    await b.keyboard.press("End");
    await b.keyboard.press("Control+End");
    // type concurrently: A at the start, B at the end
    await a.keyboard.press("Control+Home");
    await Promise.all([a.keyboard.type(">> ", { delay: 30 }), b.keyboard.type(" And B!", { delay: 30 })]);
    const want = ">> Hello from A. And B!";
    for (const p of [a, b]) {
      await p.waitForFunction(
        (w) => document.querySelector('[data-testid="text-editor"][data-path="/body"] .cm-content')?.textContent === w,
        want,
        { timeout: 10000 },
      );
    }
    // A's caret is still right after ">> "
    await a.keyboard.type("X");
    await b.waitForFunction(
      () => document.querySelector('[data-testid="text-editor"][data-path="/body"] .cm-content')?.textContent === ">> XHello from A. And B!",
      null,
      { timeout: 10000 },
    );
  });

  await check("title edits update the sidebar and the other browser", async () => {
    await a.click(`${tid("doc-title")} .cm-content`);
    await a.keyboard.press("End");
    await a.keyboard.insertText(" t\no"); // a pasted newline becomes a space in the single-line title
    await a.waitForFunction(() => document.querySelector('[data-testid="doc-title"] .cm-content')?.textContent === "Trip plan t o");
    for (let i = 0; i < 4; i++) await a.keyboard.press("Backspace");
    await b.waitForFunction(
      (id) => document.querySelector(`[data-testid="doc-item"][data-doc-id="${id}"] .doc-item-title`)?.textContent === "Trip plan",
      docId,
      { timeout: 10000 },
    );
  });

  await check("a dropped connection reconnects; offline edits are kept and synced", async () => {
    server.outage(docId, 2500);
    await a.waitForFunction(() => /reconnecting/.test(document.querySelector('[data-testid="link-status"]')?.textContent ?? ""), null, {
      timeout: 5000,
    });
    await a.click(`${tid("text-editor")}[data-path="/body"] .cm-content`);
    await a.keyboard.press("Control+End");
    await a.keyboard.type(" (offline)");
    await a.waitForFunction(() => document.querySelector('[data-testid="link-status"]')?.textContent === "Connected", null, { timeout: 15000 });
    await b.waitForFunction(
      () => document.querySelector('[data-testid="text-editor"][data-path="/body"] .cm-content')?.textContent?.endsWith("(offline)"),
      null,
      { timeout: 15000 },
    );
  });

  await check("a large remote change does not block typing", async () => {
    await a.evaluate(() => {
      window.__long = [];
      new PerformanceObserver((l) => window.__long.push(...l.getEntries().map((e) => e.duration))).observe({ entryTypes: ["longtask"] });
    });
    await a.click(`${tid("doc-title")} .cm-content`);
    await a.keyboard.press("End");
    const typing = a.keyboard.type(" 2025", { delay: 40 });
    server.changeDoc(docId, (d) => {
      d.big = Array.from({ length: 3000 }, (_, i) => ({ i, label: `item ${i}` }));
      d.log = "line\n".repeat(40000);
    });
    await typing;
    await a.waitForSelector(`${tid("map-value")}[data-path="/big"]`, { timeout: 15000 });
    const title = await a.textContent(`${tid("doc-title")} .cm-content`);
    assert(title === "Trip plan 2025", `title: ${title}`);
    const longest = await a.evaluate(() => Math.max(0, ...window.__long));
    console.log(`     longest main-thread task during the big change: ${Math.round(longest)} ms`);
    const collapsed = await a.getAttribute(`${tid("toggle")}[data-path="/big"]`, "aria-expanded");
    assert(collapsed === "false", "a 3000-item list should start collapsed");
    await a.click(`${tid("remove-key")}[data-path="/big"]`);
    await a.click(`${tid("remove-key")}[data-path="/log"]`);
  });

  await check("add a counter key and increment it from both browsers", async () => {
    const form = a.locator(`${tid("add-key")}[data-path=""]`);
    await form.locator('input[name="key"]').fill("votes");
    await form.locator("select").selectOption("counter");
    await form.locator('button[type="submit"]').click();
    await b.waitForSelector(`${tid("counter-inc")}[data-path="/votes"]`, { timeout: 10000 });
    await a.click(`${tid("counter-inc")}[data-path="/votes"]`);
    await b.click(`${tid("counter-inc")}[data-path="/votes"]`);
    await b.click(`${tid("counter-inc")}[data-path="/votes"]`);
    await a.click(`${tid("counter-dec")}[data-path="/votes"]`);
    for (const p of [a, b]) {
      await p.waitForFunction(
        () => document.querySelector('[data-testid="counter-value"][data-path="/votes"]')?.textContent === "2",
        null,
        { timeout: 10000 },
      );
    }
  });

  await check("scalar edits keep focus while remote changes arrive", async () => {
    const form = a.locator(`${tid("add-key")}[data-path=""]`);
    await form.locator('input[name="key"]').fill("place");
    await form.locator("select").selectOption("string");
    await form.locator('button[type="submit"]').click();
    const input = `${tid("map-value")}[data-path="/place"] input`;
    await a.waitForSelector(input);
    await b.waitForSelector(input, { timeout: 10000 });
    await a.click(input);
    await a.keyboard.type("Lis");
    await b.click(`${tid("counter-inc")}[data-path="/votes"]`); // remote change while A is typing
    await a.waitForFunction(() => document.querySelector('[data-testid="counter-value"][data-path="/votes"]')?.textContent === "3");
    await a.keyboard.type("bon");
    const focused = await a.evaluate(() => document.activeElement?.closest('[data-testid="map-value"]')?.getAttribute("data-path"));
    assert(focused === "/place", `focus moved to ${focused}`);
    await b.waitForFunction(() => document.querySelector('[data-testid="map-value"][data-path="/place"] input')?.value === "Lisbon", null, {
      timeout: 10000,
    });
  });

  await check("lists: add items and move them", async () => {
    const form = a.locator(`${tid("add-key")}[data-path=""]`);
    await form.locator('input[name="key"]').fill("stops");
    await form.locator("select").selectOption("list");
    await form.locator('button[type="submit"]').click();
    const addItem = a.locator(`${tid("add-item")}[data-path="/stops"]`);
    await addItem.waitFor();
    await addItem.locator("select").selectOption("number");
    await addItem.locator("button").click();
    await addItem.locator("select").selectOption("boolean");
    await addItem.locator("button").click();
    await a.waitForSelector(`${tid("list-item")}[data-path="/stops/1"][data-kind="boolean"]`);
    await a.click(`${tid("item-up")}[data-path="/stops/1"]`);
    await b.waitForSelector(`${tid("list-item")}[data-path="/stops/0"][data-kind="boolean"]`, { timeout: 10000 });
  });

  await check("a generic document renders every value kind", async () => {
    await a.locator(`${tid("doc-item")}`, { hasText: "Untitled" }).first().click();
    await a.waitForSelector(`${tid("map-value")}[data-path="/count"]`, { timeout: 10000 });
    const kinds = await a.locator(`.generic-layout ${tid("map-value")}`).evaluateAll((els) => els.map((e) => e.dataset.kind));
    for (const k of ["counter", "number", "boolean", "timestamp", "text", "null", "list", "map", "string"]) {
      assert(kinds.includes(k), `missing kind ${k} in ${kinds}`);
    }
    await a.screenshot({ path: `${shotBase}-generic.png` });
  });

  await check("remote servers: open from server, states and in-sync badge", async () => {
    await a.click(tid("open-remote"));
    await a.fill(tid("remote-url"), "https://flaky.example:7450/remote-doc-1");
    await a.check(tid("remote-trust"));
    await a.click(tid("confirm-ok"));
    await a.waitForSelector(`.doc-pane[data-doc-id="remote-doc-1"]`, { timeout: 10000 });
    await a.waitForFunction(() => /reconnecting in \d s/.test(document.querySelector('[data-testid="remote-state"]')?.textContent ?? ""), null, {
      timeout: 10000,
    });
    await a.click(tid("sync-remote"));
    await a.fill(tid("remote-url"), "https://fail.example:7450/remote-doc-1");
    await a.click(tid("confirm-ok"));
    await a.waitForFunction(() => [...document.querySelectorAll('[data-testid="remote-state"]')].some((e) => e.textContent === "error: connection refused"), null, {
      timeout: 10000,
    });
    await a.waitForSelector(tid("in-sync-badge"), { timeout: 15000 });
  });

  await check("invalid URL in the remote dialog keeps the input and shows an error", async () => {
    await a.click(tid("open-remote"));
    await a.fill(tid("remote-url"), "https://host-without-doc:7450/");
    await a.click(tid("confirm-ok"));
    await a.waitForSelector(`${tid("dialog-error")}:not([hidden])`);
    assert((await a.inputValue(tid("remote-url"))) === "https://host-without-doc:7450/", "input lost");
    await a.click(tid("confirm-cancel"));
  });

  await check("server errors show in a dismissible banner, dialog keeps its input", async () => {
    await a.click(tid("new-doc"));
    await a.fill(tid("prompt-input"), "please FAIL");
    await a.click(tid("confirm-ok"));
    await a.waitForSelector(tid("error-banner"));
    const text = await a.textContent(tid("error-banner"));
    assert(text.includes("simulated failure"), text);
    await a.screenshot({ path: `${shotBase}-error.png` });
    assert((await a.inputValue(tid("prompt-input"))) === "please FAIL", "dialog input lost");
    await a.click(tid("confirm-cancel"));
    await a.click(tid("error-dismiss"));
    await a.waitForSelector(tid("error-banner"), { state: "detached" });
  });

  await check("settings shows the embedded server address", async () => {
    await a.click(tid("settings"));
    await a.waitForFunction((o) => document.querySelector('[data-testid="settings-listen"]')?.textContent === o, server.origin.replace("http://", ""));
    await a.screenshot({ path: `${shotBase}-settings.png` });
    await a.click(tid("confirm-ok"));
  });

  await check("export downloads the .automerge bytes", async () => {
    await a.click(`${tid("doc-item")}[data-doc-id="${docId}"] button`);
    await a.waitForSelector(`${tid("doc-title")}`);
    const [download] = await Promise.all([a.waitForEvent("download"), a.click(tid("export-doc"))]);
    assert(download.suggestedFilename() === "Trip plan 2025.automerge", download.suggestedFilename());
  });

  await check("import of an exported .automerge file creates a new document", async () => {
    const res = await fetch(`${server.origin}/${encodeURIComponent(docId)}`, { headers: { Accept: "application/octet-stream" } });
    const bytes = Buffer.from(await res.arrayBuffer());
    const before = await a.locator(tid("doc-item")).count();
    await a.setInputFiles(tid("import-file"), { name: "trip.automerge", mimeType: "application/octet-stream", buffer: bytes });
    await a.waitForFunction((n) => document.querySelectorAll('[data-testid="doc-item"]').length === n + 1, before, { timeout: 10000 });
    const openId = await a.locator(".doc-pane").getAttribute("data-doc-id");
    assert(openId && openId !== docId, "the imported copy should be opened");
    await a.waitForFunction(() => document.querySelector('[data-testid="doc-title"] .cm-content')?.textContent === "Trip plan 2025");
    await a.click(`${tid("doc-item")}[data-doc-id="${docId}"] button`);
    await a.waitForSelector(`.doc-pane[data-doc-id="${docId}"]`);
  });

  await check("rename edits the title text through the peer", async () => {
    await a.click(tid("rename-doc"));
    await a.fill(tid("prompt-input"), "Trip to Lisbon");
    await a.click(tid("confirm-ok"));
    await b.waitForFunction(() => document.querySelector('[data-testid="doc-title"] .cm-content')?.textContent === "Trip to Lisbon", null, {
      timeout: 10000,
    });
    await a.screenshot({ path: shot });
  });

  await check("delete asks for confirmation and removes the document everywhere", async () => {
    await a.click(tid("delete-doc"));
    await a.click(tid("confirm-ok"));
    await a.waitForSelector(".empty-pane");
    await b.waitForFunction((id) => !document.querySelector(`[data-testid="doc-item"][data-doc-id="${id}"]`), docId, { timeout: 10000 });
  });

  // ---- LAN peers and sharing (simulated peers from the fake server's seed) ----
  const peerSel = (id) => `${tid("peer")}[data-peer-id="${id}"]`;
  const BOB = "bobpeer00000001";
  const STUDIO = "studiopeer00001";
  const CAROL = "carolpeer000001";

  await check("peers panel lists nearby devices: certificate changed first, then online, then offline", async () => {
    await a.waitForSelector(`${tid("peers-panel")} ${tid("peer")}`, { timeout: 10000 });
    const ids = await a.locator(tid("peer")).evaluateAll((els) => els.map((e) => e.dataset.peerId));
    assert(JSON.stringify(ids) === JSON.stringify([STUDIO, BOB, CAROL]), `order: ${ids}`);
    const bob = a.locator(peerSel(BOB));
    assert((await bob.getAttribute("data-online")) === "true", "bob should be online");
    assert((await bob.locator(tid("peer-name")).textContent()) === "bob", "name");
    assert((await bob.locator(tid("peer-state")).textContent()) === "online", "state");
    assert((await bob.locator(tid("peer-verified")).textContent()) === "not verified", "verified");
    assert((await bob.locator(tid("peer-code")).textContent()) === "482 915", "code");
    assert((await bob.textContent()).includes("192.168.1.23:7450"), "address");
    const carol = a.locator(peerSel(CAROL));
    assert((await carol.getAttribute("data-online")) === "false", "carol should be offline");
    assert(/^offline · seen 20 min ago$/.test(await carol.locator(tid("peer-state")).textContent()), "carol state");
    const studio = a.locator(peerSel(STUDIO));
    assert((await studio.locator(tid("peer-state")).textContent()) === "certificate changed", "studio state");
    assert(await studio.locator(tid("peer-warning")).isVisible(), "the warning is visible without expanding");
    assert(/refuses to connect/.test(await studio.locator(tid("peer-warning")).textContent()), "warning explains the refusal");
  });

  await check("expanding a peer lists its shared docs; Open makes the local copy and opens it", async () => {
    await a.click(`${peerSel(BOB)} ${tid("peer-toggle")}`);
    await a.waitForSelector(`${peerSel(BOB)} ${tid("peer-doc")}[data-doc-id="bob-plans"]`, { timeout: 10000 });
    const docIds = await a.locator(`${peerSel(BOB)} ${tid("peer-doc")}`).evaluateAll((els) => els.map((e) => e.dataset.docId));
    assert(JSON.stringify(docIds) === JSON.stringify(["bob-plans", "bob-recipes"]), `docs: ${docIds}`);
    await a.screenshot({ path: `${shotBase}-peers.png` });
    await a.click(`${peerSel(BOB)} ${tid("peer-doc")}[data-doc-id="bob-plans"] ${tid("open-peer-doc")}`);
    await a.waitForSelector(`.doc-pane[data-doc-id="bob-plans"]`, { timeout: 10000 });
    await a.waitForFunction(() => document.querySelector('[data-testid="doc-title"] .cm-content')?.textContent === "Bob's plans", null, {
      timeout: 10000,
    });
    await a.waitForSelector(`${tid("doc-item")}[data-doc-id="bob-plans"]`);
    await a.waitForFunction(() => document.querySelector('[data-testid="remote-host"]')?.textContent === "bob (nearby)", null, { timeout: 10000 });
    await a.waitForSelector(tid("in-sync-badge"), { timeout: 10000 });
    await a.waitForSelector(`${peerSel(BOB)} ${tid("peer-doc")}[data-doc-id="bob-plans"][data-local="true"]`);
    // opening again just goes there (no second remote)
    await a.click(`${peerSel(BOB)} ${tid("peer-doc")}[data-doc-id="bob-plans"] ${tid("open-peer-doc")}`);
    await new Promise((r) => setTimeout(r, 300));
    assert((await a.locator(tid("remote")).count()) === 1, "one remote only");
  });

  await check("verifying a peer after comparing codes", async () => {
    await a.click(`${peerSel(BOB)} ${tid("verify-peer")}`);
    assert((await a.textContent(tid("verify-code"))) === "482 915", "the dialog shows the code");
    await a.click(tid("confirm-ok"));
    await a.waitForFunction(
      (sel) => document.querySelector(`${sel} [data-testid="peer-verified"]`)?.textContent === "verified",
      peerSel(BOB),
      { timeout: 10000 },
    );
    assert(await a.locator(`${peerSel(BOB)} ${tid("verify-peer")}`).isHidden(), "no verify button once verified");
  });

  await check("a peer going offline: the doc stays open and editable, and resyncs when it is back", async () => {
    server.setPeerOnline(BOB, false);
    await a.waitForSelector(`${peerSel(BOB)}[data-online="false"]`, { timeout: 5000 });
    await a.waitForFunction(() => /reconnecting/.test(document.querySelector('[data-testid="remote-state"]')?.textContent ?? ""), null, {
      timeout: 5000,
    });
    assert(/bob is offline/.test(await a.textContent(tid("remote-state"))), "the connection says why");
    await a.screenshot({ path: `${shotBase}-peer-offline.png` });
    // the peer's docs: the local copy is still listed and openable
    await a.waitForSelector(`${peerSel(BOB)} ${tid("peer-doc")}[data-doc-id="bob-plans"]`);
    assert((await a.locator(`${peerSel(BOB)} ${tid("peer-doc")}`).count()) === 1, "only the local copy while offline");
    const body = `${tid("text-editor")}[data-path="/body"] .cm-content`;
    await a.click(body);
    await a.keyboard.press("Control+End");
    await a.keyboard.type(" (edited offline)");
    await a.waitForFunction(() => document.querySelector('[data-testid="link-status"]')?.textContent === "Connected");
    const local = server.docs.get("bob-plans").doc.body;
    assert(String(local).endsWith("(edited offline)"), `the local copy has the edit: ${local}`);
    server.setPeerOnline(BOB, true);
    await a.waitForSelector(`${peerSel(BOB)}[data-online="true"]`, { timeout: 5000 });
    await a.waitForSelector(tid("in-sync-badge"), { timeout: 10000 });
    await a.waitForSelector(`${peerSel(BOB)} ${tid("peer-doc")}[data-doc-id="bob-recipes"]`, { timeout: 10000 });
  });

  await check("share control: policy with its explanation, and a badge in the list", async () => {
    const sel = tid("share-policy");
    assert((await a.inputValue(sel)) === "private", "a copy from a peer starts private");
    assert((await a.textContent(tid("share-hint"))) === "Only this device.", "private hint");
    await a.selectOption(sel, "lan");
    await a.waitForFunction(() => document.querySelector('[data-testid="share-hint"]')?.textContent?.includes("peers on your network"));
    await a.waitForSelector(`${tid("doc-item")}[data-doc-id="bob-plans"] ${tid("share-badge")}[data-share="lan"]`, { timeout: 5000 });
    assert(server.docs.get("bob-plans").share === "lan", "the server got the policy");
    await a.selectOption(sel, "link");
    await a.waitForSelector(`${tid("doc-item")}[data-doc-id="bob-plans"] ${tid("share-badge")}[data-share="link"]`, { timeout: 5000 });
    assert(/Anyone with the link/.test(await a.textContent(tid("share-hint"))), "link hint");
    await a.selectOption(sel, "private");
    await a.waitForSelector(`${tid("doc-item")}[data-doc-id="bob-plans"] ${tid("share-badge")}`, { state: "detached", timeout: 5000 });
    // the second browser follows (docs-changed)
    await b.waitForSelector(`${tid("doc-item")}[data-doc-id="bob-plans"]`, { timeout: 5000 });
  });

  await check("a peer whose certificate changed: refused until forgotten, then trusted anew (unverified)", async () => {
    const studio = peerSel(STUDIO);
    await a.click(`${studio} ${tid("peer-toggle")}`);
    assert((await a.locator(`${studio} ${tid("peer-doc")}`).count()) === 0, "nothing is fetched from it");
    assert(/Nothing is fetched/.test(await a.textContent(`${studio} ${tid("peer-docs-note")}`)), "and it says so");
    await a.click(`${studio} ${tid("forget-peer")}`);
    await a.waitForSelector(tid("forget-dialog"));
    await a.click(tid("confirm-ok"));
    await a.waitForFunction((s) => document.querySelector(`${s} [data-testid="peer-state"]`)?.textContent === "online", studio, { timeout: 5000 });
    assert(await a.locator(`${studio} ${tid("peer-warning")}`).isHidden(), "warning gone");
    assert((await a.textContent(`${studio} ${tid("peer-verified")}`)) === "not verified", "unverified again");
    await a.waitForSelector(`${studio} ${tid("peer-doc")}[data-doc-id="studio-notes"]`, { timeout: 5000 });
  });

  await check("no console errors", async () => {
    const unexpected = consoleErrors.filter(
      (e) => !/Failed to load resource.*(404|500|400)/.test(e) && !/WebSocket connection to .*_ws\/.* failed/.test(e),
    );
    assert(unexpected.length === 0, unexpected.join("\n"));
  });
} finally {
  await browser.close();
  await server.close();
}

console.log(`\n${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
