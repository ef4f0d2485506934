// Desktop e2e checks for files and links (issue 10): export and import
// through the (injected) native dialogs, "Copy link" → a tandem:// link that
// "Open from server…" takes whole, and a second launch of the app with a
// tandem:// link to a document on a second `tandem serve --tls` (pinned by
// the link's fingerprint): the second process hands the link over and
// exits, the running app opens the document. Run from desktop.mjs, which
// passes its WebDriver helpers in `t`.
//
// The dialogs cannot be clicked over WebDriver: desktop.mjs starts the app
// (a debug build) with TANDEM_E2E_SAVE_PATH / TANDEM_E2E_OPEN_PATH, which
// stand for the user's choice in the save and open dialogs.
import https from "node:https";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";

/** Where the injected dialogs point, under the run's temp dir. */
export function dialogPaths(tmp) {
  const dir = join(tmp, "chosen by the user");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, "exported note.automerge");
  return { TANDEM_E2E_SAVE_PATH: file, TANDEM_E2E_OPEN_PATH: file };
}

const noticeText = (t) => t.exec(`return document.querySelector("[data-testid=toast]")?.textContent ?? null;`);
const currentDoc = async (t) => {
  const m = /^#\/doc\/(.+)$/.exec(await t.exec("return location.hash;"));
  return m ? decodeURIComponent(m[1]) : null;
};

/** The certificate fingerprint (AB:CD:… form) the server on `port` presents. */
function fingerprintOf(port) {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: "127.0.0.1", port, path: "/_health", rejectUnauthorized: false, timeout: 5000 }, (res) => {
      const fp = res.socket.getPeerCertificate().fingerprint256;
      res.resume();
      res.on("end", () => resolve(fp));
    });
    req.on("error", reject);
    req.on("timeout", () => req.destroy(new Error("timed out")));
  });
}

/** Runs the checks; `t` holds desktop.mjs's helpers and the run's facts. */
export async function linkChecks(t) {
  const { check, assert, until, find, click, sendKeys, exec, waitFor } = t;
  const paths = dialogPaths(t.tmp);

  await check("Export: the save dialog's choice gets the file, and the UI says where it went", async () => {
    await t.openDoc(t.docId);
    rmSync(paths.TANDEM_E2E_SAVE_PATH, { force: true });
    await click(await find("[data-testid=export-doc]"));
    await until("the exported file", () => existsSync(paths.TANDEM_E2E_SAVE_PATH), 10000);
    const notice = await until("the notice", async () => ((await noticeText(t)) ?? "").includes("Saved") && noticeText(t), 10000);
    assert(notice.includes(`Saved to ${paths.TANDEM_E2E_SAVE_PATH}`), `the notice says ${JSON.stringify(notice)}`);
    const doc = JSON.parse(t.cli(["cat", paths.TANDEM_E2E_SAVE_PATH]));
    assert(doc.title === t.title, `the exported file holds ${JSON.stringify(doc.title)}`);
    assert(!existsSync(join(process.cwd(), `${t.title}.automerge`)), "a copy went to the working directory");
  });

  await check("Import: the open dialog's choice becomes a new document, shown, and the UI says so", async () => {
    const before = await currentDoc(t);
    await click(await find("[data-testid=import-doc]"));
    const id = await until("the imported document to open", async () => {
      const now = await currentDoc(t);
      return now && now !== before ? now : null;
    }, 10000);
    await until("its title", async () =>
      (await exec(`return document.querySelector("[data-testid=doc-title] .cm-content")?.textContent;`)) === t.title,
    );
    const notice = await until("the notice", async () => ((await noticeText(t)) ?? "").includes("Imported") && noticeText(t), 10000);
    assert(notice.includes(`Imported ${paths.TANDEM_E2E_OPEN_PATH}`), `the notice says ${JSON.stringify(notice)} (document ${id})`);
  });

  await check("Copy link gives one tandem:// link; Open from server takes it whole", async () => {
    await t.openDoc(t.docId);
    await click(await find("[data-testid=copy-link]"));
    const field = await waitFor("[data-testid=links-dialog] [data-testid=link-tandem]", 10000);
    const link = await exec(`return arguments[0].value;`, [{ [t.ELEMENT]: field }]);
    const expected = `tandem://open?url=${encodeURIComponent(`${t.serverUrl}/${t.docId}`)}`;
    assert(link === expected, `the link is ${link}, expected ${expected}`);
    await click(await find("[data-testid=links-dialog] [data-testid=confirm-ok]"));
    // A link with a fingerprint fills both fields of "Open from server…".
    await click(await find("[data-testid=open-remote]"));
    const url = await waitFor("[data-testid=open-remote-dialog] [data-testid=remote-url]", 10000);
    const docUrl = "https://192.0.2.7:7450/someDoc";
    await sendKeys(url, `tandem://open?url=${encodeURIComponent(docUrl)}&fp=AB%3ACD%3AEF`);
    // Leaving the field (a paste expands at once; typing, when the field is left).
    await click(await find("[data-testid=open-remote-dialog] [data-testid=remote-token]"));
    const values = () =>
      exec(
        `const d = document.querySelector("[data-testid=open-remote-dialog]");
         return [d.querySelector("[data-testid=remote-url]").value, d.querySelector("[data-testid=remote-fingerprint]").value];`,
      );
    await until("URL and fingerprint filled in", async () => {
      const [u, fp] = await values();
      return u === docUrl && fp === "AB:CD:EF";
    }, 5000);
    await click(await find("[data-testid=open-remote-dialog] [data-testid=confirm-cancel]"));
  });

  await check("a second launch with a tandem:// link hands it over and exits; the running app opens the document", async () => {
    const port = await t.freePort();
    const dir = join(t.tmp, "second-server");
    mkdirSync(dir, { recursive: true });
    const server = spawn(t.cliBin, ["serve", "--tls", "--listen", `127.0.0.1:${port}`, "--data-dir", dir, "--no-mdns"], {
      env: { ...process.env, TANDEM_NO_MDNS: "1", TANDEM_DATA_DIR: dir },
      stdio: ["ignore", "ignore", "ignore"],
    });
    try {
      const plain = `http://127.0.0.1:${port}`;
      await until("the second server", async () => (await fetch(`${plain}/_health`, { signal: AbortSignal.timeout(2000) })).ok, 20000, 100);
      const token = readFileSync(join(dir, "owner-token"), "utf8").trim();
      const auth = { "content-type": "application/json", authorization: `Bearer ${token}` };
      const made = await fetch(`${plain}/_docs`, { method: "POST", headers: auth, body: JSON.stringify({ title: "Linked from afar" }) });
      assert(made.status === 201, `POST /_docs: HTTP ${made.status}`);
      const id = (await made.json()).id;
      const shared = await fetch(`${plain}/_docs/${encodeURIComponent(id)}/share`, {
        method: "PUT",
        headers: auth,
        body: JSON.stringify({ policy: "link" }),
      });
      assert(shared.ok, `PUT share: HTTP ${shared.status}`);
      const fp = await fingerprintOf(port);
      const link = `tandem://open?url=${encodeURIComponent(`https://127.0.0.1:${port}/${id}`)}&fp=${encodeURIComponent(fp)}`;
      const second = spawnSync(t.appBin, [link], {
        env: { ...process.env, ...t.appEnv },
        encoding: "utf8",
        timeout: 20000,
        stdio: ["ignore", "pipe", "pipe"],
      });
      assert(second.status === 0, `the second launch exited with ${second.status ?? second.signal}: ${second.stderr.slice(-600)}`);
      assert(t.ourAppPids().length === 1, `expected one app process, found ${t.ourAppPids().length}`);
      await until("the linked document to open in the running app", async () => ((await currentDoc(t)) === id ? true : null), 20000);
      await until("its title", async () =>
        (await exec(`return document.querySelector("[data-testid=doc-title] .cm-content")?.textContent;`)) === "Linked from afar",
      20000);
      const remotes = await t.invoke("list_remotes");
      const remote = (remotes.ok ?? []).find((r) => r.doc_id === id);
      assert(remote, `no connection for ${id}: ${JSON.stringify(remotes)}`);
      assert(remote.state === "live", `the connection is ${remote.state}: ${JSON.stringify(remote)}`);
    } finally {
      server.kill("SIGTERM");
      await new Promise((r) => (server.exitCode !== null ? r() : server.once("exit", r)));
    }
  });
}
