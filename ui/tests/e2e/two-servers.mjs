#!/usr/bin/env node
// End-to-end: the built UI in Debian's Chromium against two real `tandem serve`
// instances A and B, where B keeps the document in live sync with A (a remote).
// One page on A, one on B: concurrent typing merges with no lost characters, a
// map value and a counter flow across, and keystroke-on-A → text-on-B latency
// is measured.
//
//   cargo build && npm run build && node tests/e2e/two-servers.mjs
//   (TANDEM_BIN=…/tandem, CHROMIUM=/usr/bin/chromium, SHOT=… override defaults)
//
// Each page signs in with its server's owner token first (being on loopback
// grants nothing).
import { api, assert, begin, check, fail, finish, launchChromium, percentile, serve, signIn, tid } from "./harness.mjs";

begin("two-server e2e", { timeoutMs: 280_000 });

const body = `${tid("text-editor")}[data-path="/body"] .cm-content`;
try {
  const A = await serve("A");
  const B = await serve("B");
  const { id } = await api(A, "POST", "/_docs", { title: "Shared notes" });
  // B opens the document from A: a local copy that stays in live sync.
  await api(B, "POST", "/_remotes", { url: `${A.url}/${id}`, doc_id: null, token: null, fingerprint: null, trust: false });

  const browser = await launchChromium();
  const errors = [];
  const open = async (server) => {
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    page.on("pageerror", (e) => errors.push(String(e)));
    await signIn(page, server);
    await page.goto(`${server.url}/_ui/#/doc/${encodeURIComponent(id)}`);
    await page.waitForSelector(body, { timeout: 20000 });
    return page;
  };
  const a = await open(A);
  const b = await open(B);
  const text = (p) => p.textContent(body);

  await check("B's copy came from A through the remote, and says so", async () => {
    await b.waitForFunction(() => document.querySelector('[data-testid="doc-title"] .cm-content')?.textContent === "Shared notes", null, {
      timeout: 15000,
    });
    await b.waitForSelector(tid("in-sync-badge"), { timeout: 15000 });
  });

  await check("typing at the same time on A and B keeps every character", async () => {
    const left = "abcdefghijklmnopqrstuvwxyz0123456789".repeat(2);
    const right = "ABCDEFGHIJKLMNOPQRSTUVWXYZ-=+*/".repeat(2);
    await a.click(body);
    await b.click(body);
    await a.keyboard.press("Control+End");
    await b.keyboard.press("Control+End");
    await Promise.all([a.keyboard.type(left, { delay: 15 }), b.keyboard.type(right, { delay: 15 })]);
    let ta;
    let tb;
    const deadline = Date.now() + 20000;
    do {
      await new Promise((r) => setTimeout(r, 100));
      [ta, tb] = [await text(a), await text(b)];
    } while ((ta !== tb || ta.length < left.length + right.length) && Date.now() < deadline);
    assert(ta === tb, `the two pages differ:\nA: ${ta}\nB: ${tb}`);
    assert(ta.length === left.length + right.length, `lost or duplicated characters: ${ta.length} != ${left.length + right.length}`);
    const sorted = (s) => [...s].sort().join("");
    assert(sorted(ta) === sorted(left + right), "the merged text is not made of exactly the typed characters");
    // Each side's own run stays in order (character-level merge, not overwrite).
    const only = (s, alphabet) => [...s].filter((c) => alphabet.includes(c)).join("");
    assert(only(ta, left) === left && only(ta, right) === right, "a run was reordered");
  });

  await check("a map value and a counter changed on A appear on B", async () => {
    const form = a.locator(`${tid("add-key")}[data-path=""]`);
    await form.locator('input[name="key"]').fill("votes");
    await form.locator("select").selectOption("counter");
    await form.locator('button[type="submit"]').click();
    await a.click(`${tid("counter-inc")}[data-path="/votes"]`);
    await a.click(`${tid("counter-inc")}[data-path="/votes"]`);
    await b.waitForFunction(() => document.querySelector('[data-testid="counter-value"][data-path="/votes"]')?.textContent === "2", null, {
      timeout: 15000,
    });
    await form.locator('input[name="key"]').fill("place");
    await form.locator("select").selectOption("string");
    await form.locator('button[type="submit"]').click();
    const input = `${tid("map-value")}[data-path="/place"] input`;
    await a.waitForSelector(input);
    await a.click(input);
    await a.keyboard.type("Lisbon");
    await a.keyboard.press("Enter");
    await b.waitForFunction(() => document.querySelector('[data-testid="map-value"][data-path="/place"] input')?.value === "Lisbon", null, {
      timeout: 15000,
    });
    // And the other way: a counter bump on B shows on A.
    await b.click(`${tid("counter-inc")}[data-path="/votes"]`);
    await a.waitForFunction(() => document.querySelector('[data-testid="counter-value"][data-path="/votes"]')?.textContent === "3", null, {
      timeout: 15000,
    });
  });

  await check("keystroke on A to text on B latency", async () => {
    await a.click(body);
    await a.keyboard.press("Control+End");
    const samples = [];
    for (let i = 0; i < 40; i++) {
      const marker = String.fromCharCode(0x3b1 + (i % 24)); // Greek letters, not typed elsewhere
      const want = (await text(a)) + marker;
      const t0 = performance.now();
      await a.keyboard.type(marker);
      await b.waitForFunction(
        (w) => document.querySelector('[data-testid="text-editor"][data-path="/body"] .cm-content')?.textContent === w,
        want,
        {
          timeout: 10000,
          polling: 1,
        },
      );
      samples.push(performance.now() - t0);
    }
    const p50 = percentile(samples, 50).toFixed(1);
    const p95 = percentile(samples, 95).toFixed(1);
    console.log(`     keystroke A → screen B through two servers: p50 ${p50} ms, p95 ${p95} ms (n=${samples.length})`);
  });

  await check("no page errors", async () => {
    assert(errors.length === 0, errors.join("\n"));
  });
  if (process.env.SHOT) await b.screenshot({ path: process.env.SHOT });
} catch (e) {
  fail(`setup: ${e?.stack ?? e}`);
}
await finish();
