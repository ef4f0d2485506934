#!/usr/bin/env node
// End-to-end, in Debian's Chromium against a real `tandem serve`: the editing,
// list and dialog checks of the old browser smoke test (which ran against a
// JavaScript imitation of the server), minus those other suites make already
// (creating a document: ui-basics; remotes and their states: remote-errors and
// two-servers; LAN peers and their panel: lan-peers; settings: ui-basics).
//
//   - the list loads and the filter narrows it;
//   - two pages on one document: concurrent typing merges and each caret stays
//     in its own run; a title edit reaches the sidebar and the other page;
//   - the connection drops (a proxy cuts it): the page reconnects by itself
//     and an edit made meanwhile is kept and synced;
//   - a large remote change does not block typing;
//   - counters, a text field and lists edited from both pages, focus kept;
//   - a generic document renders every value kind;
//   - dialogs: an invalid URL keeps the input; a refused change (read-only
//     token) shows in the dialog and a dismissible banner;
//   - sharing (each policy explained, a badge while shared, on both pages),
//     export and import of a file, rename and delete.
//
//   cargo build -p tandem --bin tandem && (cd ui && npm run build) && node ui/tests/e2e/ui-editing.mjs
//   (TANDEM_BIN=…, CHROMIUM=/usr/bin/chromium, E2E_VERBOSE=1 override defaults)
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import * as Automerge from "@automerge/automerge";
import {
  api,
  assert,
  begin,
  check,
  fail,
  figure,
  finish,
  launchChromium,
  request,
  serve,
  signIn,
  tcpProxy,
  tempDir,
  tid,
  until,
} from "./harness.mjs";

begin("ui-editing e2e", { timeoutMs: 240_000 });

const BODY = `${tid("text-editor")}[data-path="/body"] .cm-content`;
const TITLE = `${tid("doc-title")} .cm-content`;
const READER = "reader-secret-0123456789abcdef";

try {
  const tokens = join(tempDir("tandem-e2e-tokens-"), "tokens");
  writeFileSync(tokens, `reader read ${READER}\n`, { mode: 0o600 });
  const args = ["--token-file", tokens];
  const T = await serve("T", args);
  await api(T, "POST", "/_docs", { title: "Shopping list" });
  await api(T, "POST", "/_docs", { title: "Meeting notes" });
  const generic = Automerge.from({
    name: new Automerge.ImmutableString("Generic document"),
    count: new Automerge.Counter(7),
    ratio: 0.5,
    done: false,
    due: new Date("2025-03-14T09:26:53Z"),
    notes: "some text",
    nothing: null,
    items: ["first", { label: new Automerge.ImmutableString("nested"), qty: 2 }],
    meta: { owner: new Automerge.ImmutableString("ada"), version: 3 },
  });
  const imported = await request(T, "POST", "/_import", {
    body: Automerge.save(generic),
    headers: { "content-type": "application/octet-stream" },
  });
  assert(imported.status >= 200 && imported.status < 300, `import: ${imported.status} ${imported.text}`);
  const genericId = imported.json.id;

  const browser = await launchChromium();
  const pageErrors = [];
  const newPage = async (token, via = T) => {
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    page.on("pageerror", (e) => pageErrors.push(String(e)));
    await signIn(page, via, token);
    return page;
  };
  // page a reaches the server through a proxy that can cut its connections
  const proxy = await tcpProxy(T);
  const a = await newPage(T.ownerToken, proxy);
  const b = await newPage();
  const text = (page, sel) => page.evaluate((s) => document.querySelector(s)?.textContent ?? null, sel);
  const waitText = (page, sel, want, timeout = 10_000) =>
    page.waitForFunction(([s, w]) => document.querySelector(s)?.textContent === w, [sel, want], { timeout });
  let docId = null;

  await check("the list loads, and the filter narrows it", async () => {
    await a.waitForFunction(() => document.querySelectorAll('[data-testid="doc-item"]').length === 3, null, { timeout: 15_000 });
    await a.fill(tid("filter"), "shop");
    await a.waitForFunction(() => document.querySelectorAll('[data-testid="doc-item"]').length === 1);
    assert((await text(a, `${tid("doc-item")} .doc-item-title`)) === "Shopping list", "the wrong document is left");
    await a.fill(tid("filter"), "nothing like this");
    await a.waitForFunction(() => document.querySelector(".list-empty")?.textContent === "No documents match the filter.");
    await a.fill(tid("filter"), "");
    await a.waitForFunction(() => document.querySelectorAll('[data-testid="doc-item"]').length === 3);
  });

  await check("two pages: concurrent typing merges, and each caret stays in its own run", async () => {
    await a.click(tid("new-doc"));
    await a.fill(tid("prompt-input"), "Trip plan");
    await a.click(tid("confirm-ok"));
    await waitText(a, TITLE, "Trip plan");
    docId = await a.locator(".doc-pane").getAttribute("data-doc-id");
    assert(docId, "no document id on the pane");
    await a.waitForFunction(() => document.activeElement?.closest('[data-testid="text-editor"]')?.getAttribute("data-path") === "/body");
    await a.keyboard.type("Hello from A.");
    await b.goto(`${T.url}/_ui/#/doc/${encodeURIComponent(docId)}`);
    await waitText(b, BODY, "Hello from A.");
    await b.click(BODY);
    await b.keyboard.press("Control+End");
    await a.keyboard.press("Control+Home");
    await Promise.all([a.keyboard.type(">> ", { delay: 30 }), b.keyboard.type(" And B!", { delay: 30 })]);
    for (const p of [a, b]) await waitText(p, BODY, ">> Hello from A. And B!");
    await a.keyboard.type("X"); // A's caret is still right after ">> "
    await waitText(b, BODY, ">> XHello from A. And B!");
  });

  await check("a title edit (a pasted newline becomes a space) reaches the sidebar and the other page", async () => {
    await a.click(TITLE);
    await a.keyboard.press("End");
    await a.keyboard.insertText(" t\no");
    await waitText(a, TITLE, "Trip plan t o");
    for (let i = 0; i < 4; i++) await a.keyboard.press("Backspace");
    await waitText(b, `${tid("doc-item")}[data-doc-id="${docId}"] .doc-item-title`, "Trip plan");
    await waitText(b, TITLE, "Trip plan");
    assert((await b.title()) === "Trip plan — Tandem", `window title: ${await b.title()}`);
  });

  await check("the connection drops: the page reconnects by itself; an edit made meanwhile is kept and synced", async () => {
    proxy.outage(2500);
    await until(10_000, "the link to say it is down", async () => /reconnecting/.test((await text(a, tid("link-status"))) ?? ""));
    await a.click(BODY);
    await a.keyboard.press("Control+End");
    await a.keyboard.type(" (offline)");
    await waitText(a, tid("link-status"), "Connected", 20_000);
    await b.waitForFunction((s) => document.querySelector(s)?.textContent?.endsWith("(offline)"), BODY, { timeout: 20_000 });
    const stored = await api(T, "GET", `/${encodeURIComponent(docId)}`);
    assert(String(stored.body).endsWith("(offline)"), `the server has ${JSON.stringify(stored.body)}`);
  });

  await check("a large remote change does not block typing", async () => {
    await a.evaluate(() => {
      window.__long = [];
      new PerformanceObserver((l) => window.__long.push(...l.getEntries().map((e) => e.duration))).observe({ entryTypes: ["longtask"] });
    });
    await a.click(TITLE);
    await a.keyboard.press("End");
    const typing = a.keyboard.type(" 2025", { delay: 40 });
    // the other page makes it, through its own peer (window.tandem is the app, for debugging)
    await b.evaluate((id) => {
      window.tandem.store.open.get(id).peer.change((d) => {
        d.big = Array.from({ length: 3000 }, (_, i) => ({ i, label: `item ${i}` }));
        d.log = "line\n".repeat(40_000);
      });
    }, docId);
    await typing;
    await a.waitForSelector(`${tid("map-value")}[data-path="/big"]`, { timeout: 15_000 });
    await waitText(a, TITLE, "Trip plan 2025");
    figure(
      `longest main-thread task on the typing page during a 3000-item remote change: ${Math.round(await a.evaluate(() => Math.max(0, ...window.__long)))} ms`,
    );
    assert(
      (await a.getAttribute(`${tid("toggle")}[data-path="/big"]`, "aria-expanded")) === "false",
      "a 3000-item list should start collapsed",
    );
    await a.click(`${tid("remove-key")}[data-path="/big"]`);
    await a.click(`${tid("remove-key")}[data-path="/log"]`);
    await b.waitForSelector(`${tid("map-value")}[data-path="/big"]`, { state: "detached", timeout: 10_000 });
  });

  const addKey = async (page, key, kind) => {
    const form = page.locator(`${tid("add-key")}[data-path=""]`);
    await form.locator('input[name="key"]').fill(key);
    await form.locator("select").selectOption(kind);
    await form.locator('button[type="submit"]').click();
  };

  await check("a counter changed from both pages adds up", async () => {
    await addKey(a, "votes", "counter");
    const inc = `${tid("counter-inc")}[data-path="/votes"]`;
    await b.waitForSelector(inc, { timeout: 10_000 });
    await a.click(inc);
    await b.click(inc);
    await b.click(inc);
    await a.click(`${tid("counter-dec")}[data-path="/votes"]`);
    for (const p of [a, b]) await waitText(p, `${tid("counter-value")}[data-path="/votes"]`, "2");
  });

  await check("typing in a field keeps the focus while remote changes arrive", async () => {
    await addKey(a, "place", "string");
    const input = `${tid("map-value")}[data-path="/place"] input`;
    await a.waitForSelector(input);
    await b.waitForSelector(input, { timeout: 10_000 });
    await a.click(input);
    await a.keyboard.type("Lis");
    await b.click(`${tid("counter-inc")}[data-path="/votes"]`);
    await waitText(a, `${tid("counter-value")}[data-path="/votes"]`, "3");
    await a.keyboard.type("bon");
    const focused = await a.evaluate(() => document.activeElement?.closest('[data-testid="map-value"]')?.getAttribute("data-path"));
    assert(focused === "/place", `focus moved to ${focused}`);
    await b.waitForFunction((s) => document.querySelector(s)?.value === "Lisbon", input, { timeout: 10_000 });
  });

  await check("lists: items of two kinds are added, and one moved up shows moved on the other page", async () => {
    await addKey(a, "stops", "list");
    const addItem = a.locator(`${tid("add-item")}[data-path="/stops"]`);
    await addItem.waitFor();
    await addItem.locator("select").selectOption("number");
    await addItem.locator('button[type="submit"]').click();
    await addItem.locator("select").selectOption("boolean");
    await addItem.locator('button[type="submit"]').click();
    await a.waitForSelector(`${tid("list-item")}[data-path="/stops/1"][data-kind="boolean"]`);
    await a.click(`${tid("item-up")}[data-path="/stops/1"]`);
    await b.waitForSelector(`${tid("list-item")}[data-path="/stops/0"][data-kind="boolean"]`, { timeout: 10_000 });
  });

  await check("a generic document renders every value kind", async () => {
    await a.click(`${tid("doc-item")}[data-doc-id="${genericId}"] button`);
    await a.waitForSelector(`${tid("map-value")}[data-path="/count"]`, { timeout: 10_000 });
    const kinds = await a.locator(`.generic-layout ${tid("map-value")}`).evaluateAll((els) => els.map((e) => e.dataset.kind));
    for (const k of ["counter", "number", "boolean", "timestamp", "text", "null", "list", "map", "string"]) {
      assert(kinds.includes(k), `no ${k} among ${kinds}`);
    }
  });

  await check("an invalid URL in the remote dialog keeps the input and says why", async () => {
    const banner = await text(a, tid("error-message"));
    await a.click(tid("open-remote"));
    try {
      await a.fill(tid("remote-url"), "https://host-without-doc:7450/");
      await a.click(tid("confirm-ok"));
      await a.waitForSelector(`${tid("dialog-error")}:not([hidden])`);
      assert((await a.inputValue(tid("remote-url"))) === "https://host-without-doc:7450/", "the input was lost");
      assert(
        (await text(a, tid("error-message"))) === banner,
        `an input problem also went to the banner: ${await text(a, tid("error-message"))}`,
      );
    } finally {
      await a.click(tid("confirm-cancel"));
    }
  });

  await check("a refused change (a read-only token) shows in the dialog and a banner that is dismissed", async () => {
    const r = await newPage(READER, T);
    await r.waitForSelector(tid("doc-item"), { timeout: 15_000 });
    await r.click(tid("new-doc"));
    await r.fill(tid("prompt-input"), "not allowed");
    await r.click(tid("confirm-ok"));
    await r.waitForSelector(tid("error-banner"), { timeout: 10_000 });
    // the only error: a reader's page does not ask for the owner's server connections
    const said = (await text(r, tid("error-message"))) ?? "";
    const inDialog = (await text(r, tid("dialog-error"))) ?? "";
    assert(inDialog.length > 0 && said === inDialog, `banner "${said}" vs dialog "${inDialog}"`);
    assert((await r.inputValue(tid("prompt-input"))) === "not allowed", "the dialog lost its input");
    await r.click(tid("confirm-cancel"));
    await r.click(tid("error-dismiss"));
    await r.waitForSelector(tid("error-banner"), { state: "detached" });
    assert((await api(T, "GET", "/_docs")).length === 4, "a document was made with a read-only token");
    await r.context().close();
  });

  await check("sharing: each policy says what it means, and the list shows a badge while shared", async () => {
    await a.click(`${tid("doc-item")}[data-doc-id="${docId}"] button`);
    const sel = tid("share-policy");
    await a.waitForSelector(sel);
    const badge = `${tid("doc-item")}[data-doc-id="${docId}"] ${tid("share-badge")}`;
    // `tandem serve` shares new documents on the LAN; the control says so
    assert((await a.inputValue(sel)) === "lan", `a new document on tandem serve is shared on the LAN, not ${await a.inputValue(sel)}`);
    await a.waitForSelector(`${badge}[data-share="lan"]`, { timeout: 5000 });
    const hints = new Set([await text(a, tid("share-hint"))]);
    await a.selectOption(sel, "private");
    await a.waitForSelector(badge, { state: "detached", timeout: 5000 });
    await b.waitForSelector(badge, { state: "detached", timeout: 5000 });
    hints.add(await text(a, tid("share-hint")));
    await a.selectOption(sel, "link");
    await a.waitForSelector(`${badge}[data-share="link"]`, { timeout: 5000 });
    await b.waitForSelector(`${badge}[data-share="link"]`, { timeout: 5000 });
    hints.add(await text(a, tid("share-hint")));
    assert(hints.size === 3 && !hints.has(""), `hints: ${[...hints].join(" | ")}`);
    assert((await api(T, "GET", "/_docs")).find((d) => d.id === docId)?.share === "link", "the server did not get the policy");
    await a.selectOption(sel, "lan");
    await a.waitForSelector(`${badge}[data-share="lan"]`, { timeout: 5000 });
  });

  await check("export downloads the .automerge file; importing it opens a new copy", async () => {
    const [download] = await Promise.all([a.waitForEvent("download"), a.click(tid("export-doc"))]);
    assert(download.suggestedFilename() === "Trip plan 2025.automerge", download.suggestedFilename());
    const file = join(tempDir("tandem-e2e-export-"), "trip.automerge");
    await download.saveAs(file);
    const before = await a.locator(tid("doc-item")).count();
    await a.setInputFiles(tid("import-file"), file);
    await a.waitForFunction((n) => document.querySelectorAll('[data-testid="doc-item"]').length === n + 1, before, { timeout: 10_000 });
    await until(10_000, "the copy to open", async () => (await a.locator(".doc-pane").getAttribute("data-doc-id")) !== docId);
    await waitText(a, TITLE, "Trip plan 2025");
    await a.click(`${tid("doc-item")}[data-doc-id="${docId}"] button`);
    await a.waitForSelector(`.doc-pane[data-doc-id="${docId}"]`);
  });

  await check("rename edits the title in the document; delete removes it from the other page", async () => {
    await a.click(tid("rename-doc"));
    await a.fill(tid("prompt-input"), "Trip to Lisbon");
    await a.click(tid("confirm-ok"));
    await waitText(b, TITLE, "Trip to Lisbon");
    await a.click(tid("delete-doc"));
    await a.click(tid("confirm-ok"));
    await a.waitForSelector(".empty-pane");
    assert(new URL(a.url()).hash === "#/", `the URL still names the document: ${a.url()}`);
    await b.waitForFunction((id) => !document.querySelector(`[data-testid="doc-item"][data-doc-id="${id}"]`), docId, { timeout: 10_000 });
    await b.waitForSelector(".empty-pane", { timeout: 10_000 });
  });

  await check("no uncaught error in the pages", async () => {
    assert(pageErrors.length === 0, pageErrors.join("\n"));
  });
} catch (e) {
  fail(`setup: ${e?.stack ?? e}`);
}
await finish();
