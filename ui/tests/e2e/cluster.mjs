// The browser UI through any node of a cluster (issue 14): two `tandem serve`
// nodes on one PostgreSQL (started here in a temp dir, as `nobody` when
// root), a team token from `tandem token add`, Chromium signed in on node A.
// For a document served by node B, the page's own WebSocket `/_ws/{doc}` and
// its fetches (history, export) work through node A: node A relays them to
// node B with the signed-in user, and node B lists that user's socket.
//
//   node ui/tests/e2e/cluster.mjs      (needs target/debug/tandem, ui/dist, PostgreSQL)
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, existsSync, readdirSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import {
  assert,
  begin,
  check,
  fail,
  finish,
  launchChromium,
  onCleanup,
  request,
  serve,
  signIn,
  tandemBin,
  tempDir,
  until,
} from "./harness.mjs";

begin("cluster UI", { timeoutMs: 180_000 });

const isRoot = process.getuid?.() === 0;

/** Runs a PostgreSQL tool (as `nobody` when root: initdb refuses root). */
function pgTool(bin, tool, args) {
  const exe = join(bin, tool);
  const [cmd, argv] = isRoot ? ["runuser", ["-u", "nobody", "--", exe, ...args]] : [exe, args];
  return execFileSync(cmd, argv, { stdio: ["ignore", "pipe", "pipe"] }).toString();
}

function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
    s.on("error", rej);
  });
}

/** A throwaway PostgreSQL on 127.0.0.1; resolves the URL of a fresh database. */
async function startPostgres() {
  const versions = existsSync("/usr/lib/postgresql")
    ? readdirSync("/usr/lib/postgresql").filter((v) => existsSync(`/usr/lib/postgresql/${v}/bin/initdb`))
    : [];
  if (!versions.length) return null;
  const bin = `/usr/lib/postgresql/${versions.sort((a, b) => Number(a) - Number(b)).pop()}/bin`;
  const dir = tempDir("tandem-e2e-pg-");
  chmodSync(dir, 0o777);
  const data = join(dir, "data");
  const port = await freePort();
  pgTool(bin, "initdb", ["-D", data, "-U", "tandem", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"]);
  const options = `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c fsync=off`;
  pgTool(bin, "pg_ctl", ["-D", data, "-l", join(dir, "server.log"), "-o", options, "-w", "-t", "30", "start"]);
  onCleanup(() => pgTool(bin, "pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]));
  pgTool(bin, "createdb", ["-h", "127.0.0.1", "-p", String(port), "-U", "tandem", "cluster"]);
  return `postgres://tandem@127.0.0.1:${port}/cluster`;
}

/** The rendezvous weight Tandem uses: the first 8 bytes of sha256(doc ‖ 0 ‖ node id). */
function weight(doc, node) {
  const h = createHash("sha256")
    .update(doc)
    .update(Buffer.from([0]))
    .update(node)
    .digest();
  return h.readBigUInt64BE(0);
}

/** The node `doc` is placed on among `nodes` (as src/cluster/rendezvous.rs). */
function pick(doc, nodes) {
  return nodes.reduce((best, n) => {
    if (!best) return n;
    const [a, b] = [weight(doc, n.id), weight(doc, best.id)];
    return a > b || (a === b && n.id > best.id) ? n : best;
  }, null);
}

try {
  const db = await startPostgres();
  if (!db) {
    console.log("SKIPPED cluster UI: PostgreSQL is not installed (apt-get install postgresql)");
    await finish();
  }
  const ports = [await freePort(), await freePort()];
  const [a, b] = await Promise.all(
    ports.map((port, i) =>
      serve(`node${i}`, ["--store", db, "--lease-secs", "3", "--advertise-url", `http://127.0.0.1:${port}`], {
        listen: `127.0.0.1:${port}`,
      }),
    ),
  );
  const secret = execFileSync(tandemBin, ["token", "add", "alice", "--role", "write", "--store", db], {
    env: { ...process.env, TANDEM_NO_MDNS: "1" },
  })
    .toString()
    .trim();
  assert(secret.length === 64, `token add printed ${secret}`);

  // A document placed on node B, seeded there by an owner client.
  let docId = "";
  await until(15_000, "both nodes to see each other", async () => {
    const r = await request(a, "GET", "/_cluster");
    const live = (r.json?.nodes ?? []).filter((n) => n.live && !n.draining);
    if (live.length !== 2) return false;
    for (let i = 0; i < 200 && !docId; i++) {
      if (pick(`e2e-${i}`, live).url === b.url) docId = `e2e-${i}`;
    }
    return Boolean(docId);
  });
  await until(10_000, "the token to be honoured by both nodes", async () => {
    const ra = await request(a, "GET", "/_docs", { token: secret });
    const rb = await request(b, "GET", "/_docs", { token: secret });
    return ra.status === 200 && rb.status === 200;
  });
  // Seeded with alice's token through node A: `tandem sync` follows the
  // vouched redirect to node B with the token.
  const file = join(tempDir("tandem-e2e-file-"), "seed.automerge");
  const env = { ...process.env, TANDEM_NO_MDNS: "1" };
  execFileSync(tandemBin, ["edit", file, "--set", 'seeded="by the CLI"'], { env });
  execFileSync(tandemBin, ["sync", "--file", file, "--token", secret, `${a.url}/${docId}`], { env, stdio: ["ignore", "pipe", "pipe"] });

  const browser = await launchChromium();
  const page = await (await browser.newContext()).newPage();
  await signIn(page, a, secret);

  await check("the page's UI socket on node A is relayed to node B, which serves the document", async () => {
    const opened = await page.evaluate(
      (id) =>
        new Promise((res) => {
          const ws = new WebSocket(`${location.origin.replace("http", "ws")}/_ws/${id}?features=ephemeral`);
          window.__relayed = ws;
          ws.onmessage = (m) => res({ first: String(m.data) });
          ws.onerror = () => res({ error: "error" });
          ws.onclose = (e) => res({ error: `closed ${e.code} ${e.reason}` });
        }),
      docId,
    );
    assert(!opened.error, `socket: ${opened.error}`);
    assert(/"event"\s*:\s*"ready"/.test(opened.first), `first frame ${opened.first}`);
    await until(10_000, "node B to list alice's relayed socket", async () => {
      const r = await request(b, "GET", `/_docs/${docId}/connections`);
      return r.status === 200 && r.text.includes("alice");
    });
  });

  await check("the page's calls about the document (history, export) work through node A", async () => {
    const answers = await page.evaluate(async (id) => {
      const history = await fetch(`/_docs/${id}/history`, { headers: { Accept: "application/json" } });
      const exported = await fetch(`/${id}`, { headers: { Accept: "application/octet-stream" } });
      const bytes = new Uint8Array(await exported.arrayBuffer());
      const text = new TextDecoder("utf-8", { fatal: false }).decode(bytes);
      return { history: history.status, exported: exported.status, redirected: exported.redirected, seeded: text.includes("by the CLI") };
    }, docId);
    assert(answers.history === 200, `history: ${answers.history}`);
    assert(answers.exported === 200 && !answers.redirected, `export: ${JSON.stringify(answers)}`);
    assert(answers.seeded, "the export holds the CLI's change (synced through node A)");
  });
} catch (e) {
  fail(`setup: ${e?.stack ?? e}`);
}
await finish();
