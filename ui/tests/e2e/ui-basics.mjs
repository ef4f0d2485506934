#!/usr/bin/env node
import { join } from "node:path";
// End-to-end, in Debian's Chromium against a real `tandem serve`: the small
// things a new user trips over first (issue 10's bugs), each checked the way a
// user meets it.
//
//   - a new document puts the caret in its body, not its title;
//   - an empty document (no fields at all) renders, with a way to add one;
//   - "Add item" moves focus into the new item, so typing fills it and Space
//     does not add more empty items;
//   - the size and "updated" time in the sidebar follow the document as it
//     grows, without a reload;
//   - deleting a document is not reported as an error;
//   - a note editor: Markdown styled in place, the window title is the
//     document's, Ctrl+K switches documents, Ctrl+Shift+F searches the text
//     of every document, "?" lists the shortcuts, and a dark theme follows
//     the system (screenshots in docs/screenshots/).
//
//   cargo build -p tandem --bin tandem && (cd ui && npm run build) && node ui/tests/e2e/ui-basics.mjs
//   (TANDEM_BIN=…, CHROMIUM=/usr/bin/chromium, E2E_VERBOSE=1 override defaults)
import * as Automerge from "@automerge/automerge";
import {
  api,
  assert,
  begin,
  check,
  finish,
  launchChromium,
  request,
  runTandem,
  serve,
  signIn,
  sleep,
  spawnTandem,
  stopProcess,
  tempDir,
  tid,
  until,
} from "./harness.mjs";

begin("ui-basics e2e", { timeoutMs: 200_000 });

const T = await serve("T");
const browser = await launchChromium();
const page = await (await browser.newContext()).newPage();
const errors = [];
page.on("pageerror", (e) => errors.push(String(e)));
await signIn(page, T);

/** The text of the error banner if it shows, else "". */
async function bannerText() {
  const banner = await page.$(`${tid("error-banner")}:not([hidden])`);
  return banner ? ((await banner.textContent()) ?? "").trim() : "";
}

/** Which editor (by data-path) holds the focus, if any. */
const focusedPath = () =>
  page.evaluate(() => document.activeElement?.closest('[data-testid="text-editor"]')?.getAttribute("data-path") ?? null);

const idFromUrl = () => decodeURIComponent(/#\/doc\/(.+)$/.exec(page.url())?.[1] ?? "");

await check("a new document puts the caret in its body: typing goes there", async () => {
  await page.click(tid("new-doc"));
  await page.fill(tid("prompt-input"), "Groceries");
  await page.click(tid("confirm-ok"));
  await until(10_000, "the body editor to take focus", async () => (await focusedPath()) === "/body");
  await page.keyboard.type("milk");
  const id = idFromUrl();
  await until(10_000, "the typing on the server", async () => {
    const doc = (await api(T, "GET", `/${id}`)) ?? {};
    return doc.body === "milk" && doc.title === "Groceries";
  });
});

await check("an empty document renders and offers to add a field", async () => {
  const bytes = Automerge.save(Automerge.init());
  const r = await request(T, "POST", "/_import", { body: bytes, headers: { "content-type": "application/octet-stream" } });
  assert(r.status >= 200 && r.status < 300, `import: ${r.status} ${r.text}`);
  const id = r.json.id;
  await page.goto(`${T.url}/_ui/#/doc/${encodeURIComponent(id)}`);
  await page.waitForSelector(`${tid("add-key")}`, { timeout: 10_000 });
  const busy = await page.$('.doc-view[aria-busy="true"]');
  assert(!busy, "the document pane still says it is loading");
});

await check("Add item focuses the new item: typed text lands in it, Space adds nothing", async () => {
  const r = await request(T, "POST", "/_import", {
    body: Automerge.save(Automerge.from({ items: [] })),
    headers: { "content-type": "application/octet-stream" },
  });
  const id = r.json.id;
  await page.goto(`${T.url}/_ui/#/doc/${encodeURIComponent(id)}`);
  const form = `${tid("add-item")}[data-path="/items"]`;
  await page.waitForSelector(form);
  await page.selectOption(`${form} select`, "text");
  await page.click(`${form} button[type="submit"]`);
  await until(10_000, "the new item's editor to take focus", async () => (await focusedPath()) === "/items/0");
  await page.keyboard.type("eggs and ham");
  await until(10_000, "the typed item on the server", async () => {
    const doc = (await api(T, "GET", `/${id}`)) ?? {};
    return JSON.stringify(doc.items) === JSON.stringify(["eggs and ham"]);
  });
});

await check("the sidebar's size and update time follow the open document as it grows", async () => {
  await page.click(tid("new-doc"));
  await page.fill(tid("prompt-input"), "Growing");
  await page.click(tid("confirm-ok"));
  await until(10_000, "the body editor", async () => (await focusedPath()) === "/body");
  const id = idFromUrl();
  const meta = () => page.textContent(`${tid("doc-item")}[data-doc-id="${id}"] .doc-item-meta`);
  const sizeOf = (text) => {
    const m = /([\d.]+)\s*(B|KB|KiB|MB|MiB)/.exec(text ?? "");
    if (!m) return 0;
    const unit = { B: 1, KB: 1000, KiB: 1024, MB: 1e6, MiB: 1048576 }[m[2]];
    return Number(m[1]) * unit;
  };
  const before = sizeOf(await meta());
  const chunk = "The quick brown fox jumps over the lazy dog. ".repeat(40);
  for (let i = 0; i < 5; i++) await page.keyboard.insertText(chunk);
  await until(10_000, "the typing on the server", async () => String((await api(T, "GET", `/${id}`))?.body).length >= chunk.length * 5);
  const listed = (await api(T, "GET", "/_docs")).find((d) => d.id === id);
  await until(10_000, `the sidebar to show the new size (server lists ${listed?.size} B; sidebar had ${before} B)`, async () => {
    const shown = sizeOf(await meta());
    return shown > before && shown >= (listed?.size ?? 0) * 0.5;
  });
});

await check("deleting a document is not reported as an error", async () => {
  await page.click(tid("new-doc"));
  await page.fill(tid("prompt-input"), "Short-lived");
  await page.click(tid("confirm-ok"));
  await until(10_000, "the body editor", async () => (await focusedPath()) === "/body");
  await page.keyboard.type("bye");
  const id = idFromUrl();
  await page.click(tid("delete-doc"));
  await page.click(tid("confirm-ok"));
  await until(10_000, "the document to leave the list", async () => !(await page.$(`${tid("doc-item")}[data-doc-id="${id}"]`)));
  await sleep(1500); // anything the deletion set off lands
  const banner = await bannerText();
  assert(banner === "", `an error banner after deleting: ${banner}`);
});

await check("Markdown is styled in place; the window title is the document's", async () => {
  await page.click(tid("new-doc"));
  await page.fill(tid("prompt-input"), "Markdown notes");
  await page.click(tid("confirm-ok"));
  await until(10_000, "the body editor", async () => (await focusedPath()) === "/body");
  await page.keyboard.insertText("# Big heading\n\nSome *emphasis* and **strong** words, a [link](https://example.org).\n\n- one\n- two\n");
  await until(5000, "the window title", async () => (await page.title()) === "Markdown notes — Tandem");
  const styles = await page.evaluate(() => {
    const lines = [...document.querySelectorAll('[data-path="/body"] .cm-line')];
    const heading = lines.find((l) => l.textContent === "# Big heading");
    const size = (el) => parseFloat(getComputedStyle(el).fontSize);
    const spanOf = (text) => [...document.querySelectorAll('[data-path="/body"] .cm-line span')].find((s) => s.textContent === text);
    const body = lines.find((l) => l.textContent.startsWith("Some"));
    return {
      heading: heading ? Math.max(...[...heading.querySelectorAll("span")].map(size), 0) : 0,
      body: body ? size(body) : 0,
      em: spanOf("emphasis") ? getComputedStyle(spanOf("emphasis")).fontStyle : null,
      strong: spanOf("strong") ? getComputedStyle(spanOf("strong")).fontWeight : null,
      link: spanOf("link") ? getComputedStyle(spanOf("link")).textDecorationLine : null,
    };
  });
  assert(styles.heading > styles.body * 1.3, `heading not larger: ${JSON.stringify(styles)}`);
  assert(styles.em === "italic" && Number(styles.strong) >= 700 && styles.link === "underline", JSON.stringify(styles));
  await page.screenshot({ path: "docs/screenshots/markdown.png" });
});

await check("Ctrl+K switches documents; Ctrl+Shift+F finds text in any document; ? lists the shortcuts", async () => {
  await page.evaluate(() => document.activeElement?.blur()); // out of the editor: shortcuts work anywhere
  await page.keyboard.press("Control+k");
  await page.waitForSelector(tid("switcher-dialog"));
  await page.keyboard.type("grocer");
  await page.keyboard.press("Enter");
  await until(5000, "the switch", async () => (await page.title()) === "Groceries — Tandem");

  await page.keyboard.press("Control+Shift+F");
  await page.waitForSelector(tid("search-dialog"));
  await page.keyboard.type("emphasis");
  const hit = `${tid("search-hit")}`;
  await page.waitForSelector(hit, { timeout: 10_000 });
  const text = await page.textContent(hit);
  assert(/Markdown notes/.test(text) && /\/body/.test(text) && /emphasis/.test(text), `hit: ${text}`);
  await page.keyboard.press("Enter");
  await until(5000, "the found document to open", async () => (await page.title()) === "Markdown notes — Tandem");

  await page.evaluate(() => document.activeElement?.blur());
  await page.keyboard.press("Shift+?");
  await page.waitForSelector(tid("help-dialog"));
  const help = (await page.textContent(tid("shortcut-help"))) ?? "";
  for (const k of ["Ctrl+K", "Ctrl+N", "Ctrl+Shift+F", "Ctrl+S"]) assert(help.includes(k), `help lacks ${k}: ${help}`);
  await page.keyboard.press("Escape");
});

await check("a dark theme follows the system", async () => {
  const light = await page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
  await page.emulateMedia({ colorScheme: "dark" });
  const dark = await page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
  const lum = (c) =>
    c
      .match(/\d+/g)
      .slice(0, 3)
      .reduce((a, b) => a + Number(b), 0);
  assert(lum(dark) < 150 && lum(light) > 600, `light ${light}, dark ${dark}`);
  await page.screenshot({ path: "docs/screenshots/dark.png" });
  await page.emulateMedia({ colorScheme: "light" });
});

await check("Settings show where the documents are kept and the server's address", async () => {
  await page.click(tid("settings"));
  await until(10_000, "the data folder", async () => (await page.textContent(tid("settings-data-dir"))) === T.dataDir);
  const listen = await page.textContent(tid("settings-listen"));
  assert(listen === T.url, `listen: ${listen}`);
  // The profile: the name others see, kept across reloads.
  await page.fill(tid("settings-name"), "Ada");
  await page.press(tid("settings-name"), "Tab");
  await page.keyboard.press("Escape");
  await page.reload();
  await page.click(tid("settings"));
  await until(5000, "the kept name", async () => (await page.inputValue(tid("settings-name"))) === "Ada");
  await page.keyboard.press("Escape");
});

await check("a document another program syncs into is not 'Local only' (and is again when it leaves)", async () => {
  const docs = await api(T, "GET", "/_docs");
  const id = docs.find((d) => d.title === "Groceries").id;
  const label = () => page.textContent(`${tid("doc-item")}[data-doc-id="${id}"] .sync-label`);
  await until(5000, "the label before", async () => /Local only/.test((await label()) ?? ""));
  const file = join(tempDir("tandem-e2e-follow-"), "g.automerge");
  const follower = spawnTandem(["sync", `${T.url}/${id}`, "--file", file, "--follow", "--token", T.ownerToken], {
    stdio: ["ignore", "ignore", "ignore"],
  });
  await until(15_000, "the label while the CLI follows", async () => /Synced by connected peers/.test((await label()) ?? ""));
  await stopProcess(follower);
  await until(15_000, "the label after it left", async () => /Local only/.test((await label()) ?? ""));
});

await check("a field someone else changed is marked for a moment, saying by whom", async () => {
  const r = await request(T, "POST", "/_import", {
    body: Automerge.save(Automerge.from({ count: 1 })),
    headers: { "content-type": "application/octet-stream" },
  });
  const id = r.json.id;
  await page.goto(`${T.url}/_ui/#/doc/${encodeURIComponent(id)}`);
  await page.waitForSelector('.row[data-path="/count"]');
  const file = join(tempDir("tandem-e2e-edit-"), "s.automerge");
  const cli = runTandem;
  await cli(["sync", `${T.url}/${id}`, "--file", file, "--token", T.ownerToken]);
  await cli(["edit", file, "--set", "count=2"]);
  await cli(["sync", `${T.url}/${id}`, "--file", file, "--token", T.ownerToken]);
  const row = '.row[data-path="/count"].remote-changed';
  await page.waitForSelector(row, { timeout: 10_000 });
  const by = await page.getAttribute(row, "title");
  assert(/^changed by /.test(by ?? ""), `title: ${by}`);
  await page.waitForSelector(row, { state: "detached", timeout: 10_000 }); // the mark fades
});

await check("no uncaught error in the page", async () => {
  assert(errors.length === 0, errors.join("\n"));
});

await browser.close();
finish();
