#!/usr/bin/env node
// End-to-end: presence, remote cursors and highlights across a desktop-style
// chain of two real `tandem serve` instances (B keeps the document in live
// sync with A, as a desktop app with a remote does). Ada's page is on A,
// Bob's on B; ephemeral messages go page → A → B → page and back.
//
//   cargo build && npm run build && node tests/e2e/presence.mjs
//   (TANDEM_BIN=…/tandem, CHROMIUM=/usr/bin/chromium)
//
// Checks: each sees the other in the header; the other's caret is drawn,
// labelled; caret moves arrive (p50 measured, ≤ 50 ms required); typing at
// the same spot at the same time keeps both runs contiguous; a remote change
// is highlighted with its author's name; someone who leaves is gone within 5 s.
import {
  api,
  assert,
  begin,
  check,
  fail,
  figure,
  finish,
  launchChromium,
  percentile,
  serve,
  signIn,
  sleep,
  tid,
  until,
} from "./harness.mjs";

begin("presence e2e", { timeoutMs: 280_000 });

const body = `${tid("text-editor")}[data-path="/body"] .cm-content`;

/** In the page: the character offset of `name`'s caret in the body editor (one line), or -1. */
const caretOffset = (name) => {
  const caret = document.querySelector(`[data-testid="text-editor"][data-path="/body"] .cm-remote-caret[data-name="${name}"]`);
  if (!caret) return -1;
  const root = caret.closest(".cm-content");
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  let n = 0;
  while (walker.nextNode()) {
    const t = walker.currentNode;
    if (caret.contains(t)) continue;
    if (caret.compareDocumentPosition(t) & Node.DOCUMENT_POSITION_PRECEDING) n += t.length;
  }
  return n;
};

try {
  const A = await serve("A");
  const B = await serve("B");
  const { id } = await api(A, "POST", "/_docs", { title: "Meeting notes" });
  const { id: other } = await api(B, "POST", "/_docs", { title: "Elsewhere" });
  await api(B, "POST", "/_remotes", { url: `${A.url}/${id}`, doc_id: null, token: null, fingerprint: null, trust: false });

  const browser = await launchChromium();
  const errors = [];
  const open = async (server, profile) => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    await context.addInitScript((p) => localStorage.setItem("tandem.profile", JSON.stringify(p)), profile);
    const page = await context.newPage();
    page.on("pageerror", (e) => errors.push(String(e)));
    await signIn(page, server);
    await page.goto(`${server.url}/_ui/#/doc/${encodeURIComponent(id)}`);
    await page.waitForSelector(body, { timeout: 20000 });
    return page;
  };
  const ada = await open(A, { id: "ada-1", name: "Ada", color: "#d9480f" });
  const bob = await open(B, { id: "bob-1", name: "Bob", color: "#1c7ed6" });
  const member = (name) => `${tid("presence-member")}[data-name="${name}"]`;
  const text = (p) => p.textContent(body);

  await check("each page shows the other person in the document header", async () => {
    await ada.waitForSelector(member("Bob"), { timeout: 15000 });
    await bob.waitForSelector(member("Ada"), { timeout: 15000 });
    const title = await ada.getAttribute(member("Bob"), "title");
    assert(/Chromium on Linux/.test(title ?? ""), `the device is named: ${title}`);
    assert((await ada.textContent(tid("presence-self"))) === "Ada", "Ada sees herself");
    // and in the sidebar, on the document's entry
    await ada.waitForSelector(`${tid("doc-item")}[data-doc-id="${id}"] ${tid("doc-presence")}[data-names="Bob"]`, { timeout: 10000 });
  });

  await check("Ada's caret shows on Bob's page, labelled and coloured", async () => {
    await ada.click(body);
    await ada.keyboard.type("The quick brown fox");
    await bob.waitForFunction(
      () => document.querySelector('[data-testid="text-editor"][data-path="/body"] .cm-content')?.textContent?.includes("fox"),
      null,
      { timeout: 15000 },
    );
    await until(10000, "Ada's caret at the end on Bob's page", () =>
      bob.evaluate(caretOffset, "Ada").then((n) => n === "The quick brown fox".length),
    );
    const label = await bob.$eval('.cm-remote-caret[data-name="Ada"]', (el) => getComputedStyle(el, "::after").content);
    assert(label === '"Ada"', `labelled: ${label}`);
    const color = await bob.$eval('.cm-remote-caret[data-name="Ada"]', (el) => getComputedStyle(el).borderLeftColor);
    assert(color === "rgb(217, 72, 15)", `Ada's colour: ${color}`);
    // and Bob's on Ada's page once he clicks in
    await bob.click(body);
    await bob.keyboard.press("Home");
    await until(10000, "Bob's caret on Ada's page", () => ada.evaluate(caretOffset, "Bob").then((n) => n === 0));
  });

  await check("caret moves reach the other page quickly", async () => {
    await ada.click(body);
    await ada.keyboard.press("End");
    const samples = [];
    let at = "The quick brown fox".length;
    for (let i = 0; i < 30; i++) {
      const key = i % 2 ? "ArrowRight" : "ArrowLeft";
      at += i % 2 ? 1 : -1;
      await sleep(60); // outside the sender's 40 ms cursor throttle
      const t0 = performance.now();
      await ada.keyboard.press(key);
      await bob.waitForFunction(
        ({ fn, want }) => new Function(`return (${fn})("Ada")`)() === want,
        { fn: caretOffset.toString(), want: at },
        { timeout: 10000, polling: 1 },
      );
      samples.push(performance.now() - t0);
    }
    const p50 = percentile(samples, 50);
    figure(
      `caret move A-page → B-page through two servers: p50 ${p50.toFixed(1)} ms, p95 ${percentile(samples, 95).toFixed(1)} ms (n=${samples.length})`,
    );
    assert(p50 <= 50, `p50 ${p50.toFixed(1)} ms is over 50 ms`);
  });

  await check("typing at the same spot at the same time keeps both runs contiguous", async () => {
    const left = "adalovelace".repeat(3);
    const right = "BOBBYTABLES".repeat(3);
    await until(10000, "both pages agree", async () => (await text(ada)) === (await text(bob)));
    await ada.click(body);
    await bob.click(body);
    await ada.keyboard.press("End");
    await bob.keyboard.press("End");
    const before = await text(ada);
    await Promise.all([ada.keyboard.type(left, { delay: 20 }), bob.keyboard.type(right, { delay: 20 })]);
    const want = before.length + left.length + right.length;
    await until(20000, "the pages converge", async () => {
      const [ta, tb] = [await text(ada), await text(bob)];
      return ta === tb && ta.length === want;
    });
    const merged = await text(ada);
    assert(merged.includes(left) && merged.includes(right), `a run was split:\n${merged}`);
    assert(merged.startsWith(before), `the text before was kept: ${merged}`);
  });

  await check("Ada's new text is highlighted on Bob's page with her name", async () => {
    await ada.keyboard.type(" HELLO");
    const mark = `${tid("remote-change")}[data-name="Ada"]`;
    await bob.waitForSelector(mark, { timeout: 10000 });
    const title = await bob.getAttribute(mark, "title");
    assert(title === "changed by Ada", `hover text: ${title}`);
    // short-lived
    await bob.waitForSelector(mark, { state: "detached", timeout: 10000 });
  });

  if (process.env.SHOT) await ada.screenshot({ path: process.env.SHOT });

  await check("A's owner sees B's link among the document's incoming connections (API and page)", async () => {
    const { connections } = await api(A, "GET", `/_docs/${encodeURIComponent(id)}/connections`);
    const link = connections.find((c) => c.protocol.startsWith("HTTP"));
    assert(link, `B's sync link is listed: ${JSON.stringify(connections)}`);
    assert(link.ephemeral === true && link.bytes_in > 0 && link.bytes_out > 0 && link.heads.length > 0, JSON.stringify(link));
    assert(
      connections.some((c) => c.protocol === "WebSocket"),
      "Ada's page is listed too",
    );
    await ada.waitForFunction(
      () => [...document.querySelectorAll('[data-testid="incoming"]')].some((li) => /HTTP\/(1\.1|2)/.test(li.textContent)),
      null,
      {
        timeout: 10000,
      },
    );
    const r = await fetch(`${A.url}/_docs/${encodeURIComponent(id)}/connections`);
    assert(r.status === 401 || r.status === 403, `strangers get nothing: ${r.status}`);
  });

  await check("someone who leaves the document is gone within 5 s", async () => {
    const t0 = performance.now();
    await bob.goto(`${B.url}/_ui/#/doc/${encodeURIComponent(other)}`);
    await ada.waitForSelector(member("Bob"), { state: "detached", timeout: 5000 });
    figure(`leave → gone on the other page: ${(performance.now() - t0).toFixed(0)} ms`);
  });

  await check("no page errors", async () => {
    assert(errors.length === 0, errors.join("\n"));
  });
} catch (e) {
  fail(`setup: ${e?.stack ?? e}`);
}
await finish();
