// Tandem as a client of automerge-repo's own sync server
// (`@automerge/automerge-repo-sync-server`, from npm, started here on
// 127.0.0.1): `tandem sync ws://…/automerge:<id>`, a `tandem serve` remote
// (what "Open from server" makes) that stays live through a restart of the
// sync server, and the browser UI's Open dialog.
//
//   node ui/tests/repo/sync-server.mjs   (needs target/debug/tandem and ui/dist)

import { spawn } from "node:child_process";
import { createServer } from "node:net";
import * as A from "@automerge/automerge";
import {
  api,
  assert,
  begin,
  check,
  fail,
  figure,
  finish,
  launchChromium,
  ms,
  onCleanup,
  serve,
  signIn,
  stopProcess,
  tempDir,
  tid,
  until,
} from "../e2e/harness.mjs";
import { syncServerMain } from "./clients.mjs";
import { catFile, localFile, repoClient, tandem } from "./lib.mjs";

begin("Tandem with automerge-repo's sync server", { timeoutMs: 240_000 });

/** A free loopback port (the sync server takes its port from $PORT). */
function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.on("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

/** Starts the sync server on `port` over `dataDir`; resolves once it listens. */
function startSyncServer(port, dataDir) {
  const child = spawn(process.execPath, [syncServerMain], {
    cwd: dataDir,
    env: { ...process.env, PORT: String(port), DATA_DIR: dataDir },
    stdio: ["ignore", "pipe", "pipe"],
  });
  onCleanup(() => stopProcess(child));
  const log = [];
  child.stderr.on("data", (d) => log.push(String(d)));
  return new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`the sync server did not start: ${log.join("")}`)), 20_000);
    child.on("exit", (code) => rej(new Error(`the sync server exited with ${code}: ${log.join("")}`)));
    child.stdout.on("data", (d) => {
      if (/Listening on port/.test(String(d))) {
        clearTimeout(timer);
        res(child);
      }
    });
  });
}

try {
  const port = await freePort();
  const dataDir = tempDir("tandem-amrg-sync-");
  let syncServer = await startSyncServer(port, dataDir);
  const socketUrl = `ws://127.0.0.1:${port}`;

  const alice = repoClient(socketUrl);
  const handle = alice.create({ title: "From repo", body: "hello" });
  const docUrl = `${socketUrl}/automerge:${handle.documentId}`;
  await handle.whenReady();

  await check("tandem sync pulls a document from the sync server", async () => {
    const file = localFile("pull");
    const { took } = await until(
      15_000,
      "the document in a local file",
      async () => {
        await tandem(["sync", docUrl, "--file", file, "--timeout", "5"]);
        return (await catFile(file)).body === "hello";
      },
      200,
    );
    figure(`repo create → tandem sync has it: ${ms(took)}`);
  });

  await check("tandem sync pushes a local edit that the repo client sees live", async () => {
    const file = localFile("push");
    await tandem(["sync", docUrl, "--file", file]);
    await tandem(["edit", file, "--splice", "body", "5", "0", " from tandem"]);
    await tandem(["sync", docUrl, "--file", file]);
    await until(10_000, "the edit at the repo client", () => handle.doc().body === "hello from tandem");
  });

  await check("a document the server does not have fails clearly", async () => {
    const file = localFile("missing");
    let error = "";
    await tandem(["sync", `${socketUrl}/automerge:4NMNnkMhL8jXrdJ9jamS58PAVdXu`, "--file", file, "--timeout", "5"]).catch(
      (e) => (error = e.message),
    );
    assert(/doc-unavailable/.test(error), error);
  });

  const server = await serve("client");
  const remote = await api(server, "POST", "/_remotes", { url: docUrl, doc_id: null, token: null, fingerprint: null, trust: false });
  const tandemDoc = `${server.url}/${handle.documentId}`;
  const remoteState = async () => (await api(server, "GET", "/_remotes")).find((r) => r.id === remote.id);
  const tandemText = async () => JSON.parse(await tandem(["cat", tandemDoc, "--token", server.ownerToken])).body;

  await check("a remote on tandem serve keeps a live copy under the same id, live and in sync", async () => {
    assert(remote.doc_id === handle.documentId, `local id ${remote.doc_id}`);
    await until(15_000, "live and in sync", async () => {
      const r = await remoteState();
      return r.state === "live" && r.in_sync;
    });
    assert((await tandemText()) === "hello from tandem", "the copy's text");
  });

  await check("edits go both ways live between the repo client and Tandem's copy", async () => {
    let t0 = performance.now();
    handle.change((d) => A.splice(d, ["body"], 0, 0, "1 "));
    await until(10_000, "the repo edit in Tandem", async () => (await tandemText()) === "1 hello from tandem");
    figure(`repo edit → Tandem's live copy: ${ms(performance.now() - t0)}`);
    const file = localFile("via-tandem");
    await tandem(["sync", tandemDoc, "--file", file, "--token", server.ownerToken]);
    await tandem(["edit", file, "--splice", "body", "0", "0", "2 "]);
    t0 = performance.now();
    await tandem(["sync", tandemDoc, "--file", file, "--token", server.ownerToken]);
    await until(10_000, "Tandem's edit at the repo client", () => handle.doc().body === "2 1 hello from tandem");
    figure(`ndjson edit on Tandem → sync server → repo client: ${ms(performance.now() - t0)}`);
  });

  await check("the remote survives a restart of the sync server", async () => {
    await new Promise((r) => setTimeout(r, 500)); // the sync server saves on a short debounce
    await stopProcess(syncServer);
    await until(10_000, "the remote to notice", async () => (await remoteState()).state === "reconnecting");
    syncServer = await startSyncServer(port, dataDir);
    await until(20_000, "the remote to be live again", async () => {
      const r = await remoteState();
      return r.state === "live" && r.in_sync;
    });
    handle.change((d) => A.splice(d, ["body"], 0, 0, "3 "));
    await until(15_000, "a repo edit after the restart in Tandem", async () => (await tandemText()) === "3 2 1 hello from tandem");
    const file = localFile("after-restart");
    await tandem(["sync", tandemDoc, "--file", file, "--token", server.ownerToken]);
    await tandem(["edit", file, "--splice", "body", "0", "0", "4 "]);
    await tandem(["sync", tandemDoc, "--file", file, "--token", server.ownerToken]);
    await until(15_000, "a Tandem edit after the restart at the repo client", () => handle.doc().body === "4 3 2 1 hello from tandem");
  });

  await check("the browser UI opens the document from the sync server; typing reaches the repo client; Copy link", async () => {
    const other = repoClient(socketUrl);
    const second = other.create({ title: "Opened in the browser", body: "abc" });
    await second.whenReady();
    const url2 = `${socketUrl}/automerge:${second.documentId}`;
    const browser = await launchChromium();
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    await signIn(page, server);
    await page.click(tid("open-remote"));
    await page.fill(tid("remote-url"), url2);
    await page.click(`${tid("open-remote-dialog")} ${tid("confirm-ok")}`);
    const body = `${tid("text-editor")}[data-path="/body"] .cm-content`;
    await page.waitForFunction((sel) => document.querySelector(sel)?.textContent === "abc", body, { timeout: 20_000 });
    await page.waitForSelector(tid("in-sync-badge"), { timeout: 20_000 });
    await page.click(body);
    await page.keyboard.press("Control+End");
    await page.keyboard.type("def", { delay: 20 });
    await until(15_000, "the typed text at the repo client", () => second.doc().body === "abcdef");
    second.change((d) => A.splice(d, ["body"], 0, 0, ">"));
    await page.waitForFunction((sel) => document.querySelector(sel)?.textContent === ">abcdef", body, { timeout: 15_000 });
    await page.click(tid("copy-link"));
    const links = await page.inputValue(tid("link-automerge"));
    assert(links === `automerge:${second.documentId}`, links);
    const ndjson = await page.inputValue(tid("link-ndjson"));
    assert(ndjson === `${server.url}/${second.documentId}`, ndjson);
    await page.keyboard.press("Escape");

    // A document whose id automerge-repo cannot name: the dialog says it is ndjson-only.
    const legacy = localFile("legacy");
    await tandem(["edit", legacy, "--set", 'title="Old style"', "--set", 'body="x"']);
    await tandem(["sync", `${server.url}/old-notes`, "--file", legacy, "--token", server.ownerToken]);
    await page.goto(`${server.url}/_ui/#/doc/old-notes`);
    await page.waitForSelector(tid("copy-link"), { timeout: 15_000 });
    await page.click(tid("copy-link"));
    await page.waitForSelector(tid("link-ndjson-only"), { timeout: 5_000 });
    assert((await page.inputValue(tid("link-ndjson"))) === `${server.url}/old-notes`, "the ndjson link");
    assert((await page.$(tid("link-automerge"))) === null, "no automerge: link for an old id");
  });
} catch (e) {
  fail(`setup: ${e?.stack ?? e}`);
}
await finish();
