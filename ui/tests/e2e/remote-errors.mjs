#!/usr/bin/env node
// End-to-end, in Debian's Chromium: "Open from server" and connections that
// stop working say what is wrong and offer the fix in place, instead of
// closing the dialog on a misleading "not found" while a hidden connection
// retries forever.
//
// The user's own server A (its UI in the browser) opens documents from a
// token-gated team server B and from a TLS server C with a self-signed
// certificate:
//   - a wrong token: the dialog stays open and says the token was refused;
//     nothing is kept on A; the right token opens the document;
//   - an untrusted certificate: the dialog shows its fingerprint, filled in;
//     pressing Open again trusts it and opens the document;
//   - B restarts with another token: the connection row says the token was
//     refused (no "reconnecting in N s" loop), "Edit token…" fixes it, and
//     edits flow again.
//
//   cargo build -p tandem --bin tandem && (cd ui && npm run build) && node ui/tests/e2e/remote-errors.mjs
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { api, assert, begin, check, finish, launchChromium, serve, signIn, sleep, stopServer, tempDir, tid, until } from "./harness.mjs";

begin("remote-errors e2e", { timeoutMs: 240_000 });
// Only for this test's own fetches to C (loopback, a self-signed certificate).
process.env.NODE_TLS_REJECT_UNAUTHORIZED = "0";

const tokenFile = (secret) => {
  const file = join(tempDir("tandem-e2e-tokens-"), "tokens");
  writeFileSync(file, `alice write ${secret}\n`, { mode: 0o600 });
  return file;
};
const OLD = "old-team-secret-0123456789";
const NEW = "new-team-secret-0123456789";

const A = await serve("A");
let B = await serve("B", ["--token-file", tokenFile(OLD)]);
const C = await serve("C", ["--tls"]);
await api(B, "POST", "/_docs", { title: "Team plans" }).then((r) => (B.docId = r.id));
await api(C, "POST", "/_docs", { title: "Secure notes" }).then((r) => (C.docId = r.id));

const browser = await launchChromium();
const page = await (await browser.newContext()).newPage();
await signIn(page, A);

const dialogError = () => page.textContent(`${tid("open-remote-dialog")} ${tid("dialog-error")}`);
const bannerShown = async () => !!(await page.$(`${tid("error-banner")}:not([hidden])`));

async function openDialogWith(url, token) {
  await page.click(tid("open-remote"));
  await page.fill(tid("remote-url"), url);
  await page.fill(tid("remote-token"), token ?? "");
  await page.click(`${tid("open-remote-dialog")} ${tid("confirm-ok")}`);
}

await check("a wrong token: the dialog stays open, says the token was refused, keeps nothing", async () => {
  await openDialogWith(`${B.url}/${B.docId}`, "not-the-team-token-000000");
  await until(25_000, "the dialog to show the refusal", async () => /refused the access token/.test((await dialogError()) ?? ""));
  assert(await page.$(tid("open-remote-dialog")), "the dialog closed");
  assert((await api(A, "GET", "/_remotes")).length === 0, "a failed open left a connection behind");
  assert(!(await bannerShown()), "an error banner besides the dialog");
});

await check("the right token opens the document live", async () => {
  await page.fill(tid("remote-token"), OLD);
  await page.click(`${tid("open-remote-dialog")} ${tid("confirm-ok")}`);
  await page.waitForSelector(tid("open-remote-dialog"), { state: "detached", timeout: 25_000 });
  await page.waitForFunction(
    (id) => document.querySelector(`[data-testid="doc-item"][data-doc-id="${id}"] .doc-item-title`)?.textContent === "Team plans",
    B.docId,
  );
  await page.waitForSelector(`${tid("remote")}[data-state="live"]`);
});

await check("an untrusted certificate: its fingerprint is shown and filled in; Open again trusts it", async () => {
  await openDialogWith(`${C.url}/${C.docId}`, C.ownerToken);
  await until(25_000, "the dialog to show the certificate", async () => /does not trust/.test((await dialogError()) ?? ""));
  const shown = (await dialogError()) ?? "";
  const filled = await page.inputValue(tid("remote-fingerprint"));
  assert(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/.test(filled), `fingerprint field: ${filled}`);
  assert(shown.includes(filled), `the message does not show the fingerprint: ${shown}`);
  assert((await api(A, "GET", "/_remotes")).length === 1, "the failed open was kept");
  await page.click(`${tid("open-remote-dialog")} ${tid("confirm-ok")}`);
  await page.waitForSelector(tid("open-remote-dialog"), { state: "detached", timeout: 25_000 });
  await page.waitForFunction(
    (id) => document.querySelector(`[data-testid="doc-item"][data-doc-id="${id}"] .doc-item-title`)?.textContent === "Secure notes",
    C.docId,
  );
  const remote = (await api(A, "GET", "/_remotes")).find((r) => r.doc_id === C.docId);
  assert(remote?.fingerprint === filled && remote.state === "live", JSON.stringify(remote));
});

await check("the team rotates its token: the row says why, does not loop, and Edit token fixes it", async () => {
  await page.goto(`${A.url}/_ui/#/doc/${encodeURIComponent(B.docId)}`);
  await page.waitForSelector(`${tid("remote")}[data-state="live"]`);
  const { port, dataDir, docId } = B;
  await stopServer(B);
  B = await serve("B", ["--token-file", tokenFile(NEW)], { listen: `127.0.0.1:${port}`, dataDir });
  B.docId = docId;
  const row = `${tid("remote")}[data-state="error"]`;
  await page.waitForSelector(row, { timeout: 30_000 });
  const text = (await page.textContent(`${row} ${tid("remote-state")}`)) ?? "";
  assert(/refused the access token/.test(text), `row says: ${text}`);
  await sleep(2500);
  const later = (await api(A, "GET", "/_remotes")).find((r) => r.doc_id === B.docId);
  assert(later?.state === "error" && later.retry_in_ms === null, `still retrying: ${JSON.stringify(later)}`);
  await page.click(`${row} ${tid("remote-edit-token")}`);
  await page.fill(`${tid("token-dialog")} ${tid("prompt-input")}`, NEW);
  await page.click(`${tid("token-dialog")} ${tid("confirm-ok")}`);
  await page.waitForSelector(`${tid("remote")}[data-state="live"]`, { timeout: 25_000 });
  // edits flow again: a rename on B shows up here
  await page.click(tid("rename-doc"));
  await page.fill(`${tid("rename-dialog")} ${tid("prompt-input")}`, "Team plans, renamed here");
  await page.click(`${tid("rename-dialog")} ${tid("confirm-ok")}`);
  await until(15_000, "the rename on B", async () => (await api(B, "GET", `/${B.docId}`))?.title === "Team plans, renamed here");
});

await check("the sync activity view lists connections out and in, with traffic and a plot (screenshot)", async () => {
  await page.click(tid("activity"));
  await page.waitForSelector(`${tid("activity-remote")}`, { timeout: 10_000 });
  const remotes = await page.$$eval('[data-testid="activity-remote"]', (rows) =>
    rows.map((r) => [...r.children].map((c) => c.textContent)),
  );
  assert(remotes.length === 2, `outgoing rows: ${JSON.stringify(remotes)}`);
  assert(
    remotes.every((r) => r[2] === "in sync" || r[2] === "live"),
    JSON.stringify(remotes),
  );
  assert(
    remotes.every((r) => !/^0 B$/.test(r[4])),
    `no traffic counted: ${JSON.stringify(remotes)}`,
  );
  const incoming = await page.$$eval('[data-testid="activity-connection"]', (rows) => rows.map((r) => r.children[3]?.textContent));
  assert(incoming.includes("WebSocket"), `incoming: ${JSON.stringify(incoming)}`);
  await page.waitForFunction(() => !!document.querySelector('[data-testid="activity-doc"] polyline'), null, { timeout: 15_000 });
  await sleep(5500); // one more sample, so the plot has a line
  await page.screenshot({ path: "docs/screenshots/activity.png" });
  await page.keyboard.press("Escape");
});

await browser.close();
finish();
