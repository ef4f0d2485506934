#!/usr/bin/env node
// A tiny stand-in for `tandem serve`, for UI development and screenshots only.
// It serves ui/dist under /_ui/ and fakes the backend contract in JS with
// @automerge/automerge (node build):
//   GET/POST /_docs, DELETE /{id}, GET /{id} (Accept: application/octet-stream),
//   POST /_import, WS /_ws/{id} (ndjson sync lines), WS /_events,
//   GET/POST /_remotes, DELETE /_remotes/{id}, GET /_health,
//   PUT /_docs/{id}/share, GET /_peers, GET /_peers/{id}/docs,
//   POST /_peers/{id}/open, POST /_peers/{id}/verify, DELETE /_peers/{id}.
// Remote servers are simulated (no network): a URL whose host contains "fail"
// goes to "error", "flaky" goes to "reconnecting", anything else becomes live
// and then in sync. LAN peers are simulated too (--seed adds three: one
// online with shared documents, one offline, one whose certificate changed);
// `setPeerOnline()` and `changePeerCertificate()` drive them from tests.
//
//   node tests/fake-server.mjs [--port 7450] [--host 127.0.0.1] [--seed] [--dist ../dist]
import * as A from "@automerge/automerge";
import { randomBytes } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import http from "node:http";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { WebSocketServer } from "ws";

const here = path.dirname(fileURLToPath(import.meta.url));

const MIME = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
  ".wasm": "application/wasm",
  ".map": "application/json",
};

const newId = () => randomBytes(9).toString("base64url");

function noteTemplate(title) {
  return A.from({ title: title ?? "", body: "" });
}

function titleOf(doc) {
  const t = doc.title;
  const s = typeof t === "string" ? t : t && typeof t.val === "string" ? t.val : null;
  if (s === null) return null;
  const line = s.split("\n").map((l) => l.trim()).find(Boolean);
  return line ?? null;
}

export async function startFakeServer({ port = 0, host = "127.0.0.1", dist = path.join(here, "..", "dist"), seed = false, quiet = false } = {}) {
  /** @type {Map<string, {doc: any, updated: number, conns: Set<any>}>} */
  const docs = new Map();
  /** @type {Map<string, any>} */
  const remotes = new Map();
  const eventSockets = new Set();
  /** doc id -> time until which /_ws/{id} upgrades are refused (simulated outage) */
  const paused = new Map();
  /** @type {Map<string, {info: any, docs: Map<string, {doc: any, updated: number}>}>} LAN peers */
  const peers = new Map();
  const log = (...a) => quiet || console.log("[fake]", ...a);

  function broadcastEvent(ev) {
    const line = JSON.stringify(ev);
    for (const ws of eventSockets) if (ws.readyState === 1) ws.send(line);
  }
  let docsChangedTimer = null;
  function docsChanged() {
    if (docsChangedTimer) return;
    docsChangedTimer = setTimeout(() => {
      docsChangedTimer = null;
      broadcastEvent({ event: "docs-changed" });
    }, 100);
  }

  function addDoc(doc, id = newId(), share = "private") {
    docs.set(id, { doc, updated: Date.now(), conns: new Set(), share });
    docsChanged();
    return id;
  }

  function sendSync(entry, conn) {
    if (conn.ws.readyState !== 1) return;
    const [state, msg] = A.generateSyncMessage(entry.doc, conn.state);
    conn.state = state;
    if (msg) conn.ws.send(JSON.stringify({ event: "sync", data: Buffer.from(msg).toString("base64") }));
  }

  function changeDoc(id, fn) {
    const e = docs.get(id);
    if (!e) return;
    e.doc = A.change(e.doc, fn);
    e.updated = Date.now();
    for (const c of e.conns) sendSync(e, c);
    docsChanged();
  }

  if (seed) {
    const welcome = A.from({
      title: "Welcome to Tandem",
      body:
        "Tandem keeps Automerge documents live between everyone who has them open.\n\n" +
        "Type here: every keystroke is a collaborative edit. Open this page in a second window to see it merge.",
    });
    const welcomeId = addDoc(welcome, newId(), "lan");
    changeDoc(welcomeId, (d) => {
      d.tags = ["intro", "demo"];
      d.views = new A.Counter(3);
      d.pinned = true;
    });
    addDoc(
      A.from({
        name: new A.ImmutableString("Generic document"),
        count: new A.Counter(7),
        ratio: 0.75,
        done: false,
        due: new Date("2025-03-14T09:26:53Z"),
        notes: "a text object",
        nothing: null,
        items: ["first", { label: new A.ImmutableString("nested"), qty: 2 }],
        meta: { owner: new A.ImmutableString("ada"), version: 3 },
      }),
    );
    addDoc(noteTemplate("Shopping list"));
    const r = { id: newId(), doc_id: welcomeId, url: "https://peer.example:7450/" + welcomeId, state: "live", retry_in_ms: null, error: null, in_sync: true, fingerprint: null, peer_id: null };
    remotes.set(r.id, r);
    const now = Date.now();
    addPeer(
      { id: "bobpeer00000001", name: "bob", addresses: ["192.168.1.23"], online: true, verified: false, code: "482 915", last_seen: now },
      [
        ["bob-plans", { title: "Bob's plans", body: "Saturday: hike.\nSunday: rest." }, now - 5 * 60_000],
        ["bob-recipes", { title: "Recipes", body: "Pancakes" }, now - 3 * 3_600_000],
      ],
    );
    addPeer({ id: "carolpeer000001", name: "carol", addresses: ["192.168.1.40"], online: false, verified: true, code: "105 377", last_seen: now - 20 * 60_000 }, []);
    addPeer(
      { id: "studiopeer00001", name: "studio-mac", addresses: ["192.168.1.77"], online: true, verified: true, code: "930 201", last_seen: now },
      [["studio-notes", { title: "Studio notes", body: "" }, now]],
    );
    changePeerCertificate("studiopeer00001", false);
  }

  // ---- LAN peers (simulated) ----

  function fakeFingerprint() {
    return [...randomBytes(32)].map((b) => b.toString(16).padStart(2, "0").toUpperCase()).join(":");
  }

  function addPeer(info, shared) {
    const full = {
      port: 7450,
      fingerprint: fakeFingerprint(),
      certificate_changed: false,
      announced_fingerprint: null,
      version: "1",
      ...info,
    };
    const pdocs = new Map();
    for (const [id, content, updated] of shared) pdocs.set(id, { doc: A.from(content), updated });
    peers.set(full.id, { info: full, docs: pdocs });
    return full;
  }

  function peersChanged() {
    broadcastEvent({ event: "peers-changed" });
  }

  /** The peer's remotes follow it: reconnecting while it is away, live when back. */
  function followPeer(peer) {
    for (const r of remotes.values()) {
      if (r.peer_id !== peer.info.id) continue;
      if (!peer.info.online || peer.info.certificate_changed) {
        const error = peer.info.certificate_changed ? "certificate mismatch" : "connection refused";
        setRemote(r, { state: "reconnecting", retry_in_ms: 2000, error, in_sync: false });
      } else {
        setRemote(r, { state: "live", retry_in_ms: null, error: null });
        setTimeout(() => setRemote(r, { in_sync: true }), 300);
      }
    }
  }

  function setPeerOnline(id, online) {
    const p = peers.get(id);
    if (!p) return;
    p.info.online = online;
    if (online) p.info.last_seen = Date.now();
    followPeer(p);
    peersChanged();
  }

  function changePeerCertificate(id, notify = true) {
    const p = peers.get(id);
    if (!p) return;
    p.info.certificate_changed = true;
    p.info.announced_fingerprint = fakeFingerprint();
    followPeer(p);
    if (notify) peersChanged();
  }

  function setRemote(r, patch) {
    Object.assign(r, patch);
    if (remotes.has(r.id)) broadcastEvent({ event: "remote", remote: { ...r } });
  }

  function simulateRemote(r) {
    let host = "";
    try {
      host = new URL(r.url).host;
    } catch {}
    if (host.includes("fail")) {
      setTimeout(() => setRemote(r, { state: "error", error: "connection refused" }), 300);
    } else if (host.includes("flaky")) {
      setTimeout(() => setRemote(r, { state: "reconnecting", retry_in_ms: 5000, error: "connection reset" }), 300);
      setTimeout(() => setRemote(r, { state: "live", retry_in_ms: null, error: null }), 5300);
      setTimeout(() => setRemote(r, { in_sync: true }), 5800);
    } else {
      setTimeout(() => setRemote(r, { state: "live" }), 300);
      setTimeout(() => setRemote(r, { in_sync: true }), 800);
    }
  }

  const json = (res, status, body) => {
    res.writeHead(status, { "Content-Type": "application/json" });
    res.end(body === undefined ? "" : JSON.stringify(body));
  };
  // The real server's error body: {code, message} (and `error`, the sync
  // protocol's field). The code is what the UI reads.
  const CODE_OF = { 400: "bad-input", 403: "forbidden", 404: "not-found", 409: "conflict", 422: "bad-input", 502: "remote", 503: "offline" };
  const fail = (res, status, message, code = CODE_OF[status] ?? "internal") => json(res, status, { code, message, error: message });

  async function readBody(req) {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    return Buffer.concat(chunks);
  }

  async function serveStatic(req, res, rel) {
    const file = path.join(dist, path.normalize(rel || "index.html").replace(/^(\.\.[/\\])+/, ""));
    if (!file.startsWith(dist)) return fail(res, 403, "forbidden");
    try {
      const st = await stat(file);
      const f = st.isDirectory() ? path.join(file, "index.html") : file;
      const body = await readFile(f);
      res.writeHead(200, { "Content-Type": MIME[path.extname(f)] ?? "application/octet-stream" });
      res.end(body);
    } catch {
      fail(res, 404, `not found: ${rel}`);
    }
  }

  async function handle(req, res) {
    const url = new URL(req.url, "http://x");
    const p = url.pathname;
    const method = req.method;

    if (p === "/" && method === "GET") {
      res.writeHead(302, { Location: "/_ui/" });
      return res.end();
    }
    if (p === "/_ui" || p.startsWith("/_ui/")) return serveStatic(req, res, decodeURIComponent(p.slice(5)));
    if (p === "/_health") return json(res, 200, { ok: true, version: "fake-0.1.0", listen: `${host}:${server.address().port}` });

    if (p === "/_docs" && method === "GET") {
      return json(
        res,
        200,
        [...docs.entries()].map(([id, e]) => ({
          id,
          title: titleOf(e.doc),
          heads: A.getHeads(e.doc),
          size: A.save(e.doc).length,
          updated: e.updated,
          share: e.share,
        })),
      );
    }
    const sm = /^\/_docs\/([^/]+)\/share$/.exec(p);
    if (sm && method === "PUT") {
      const id = decodeURIComponent(sm[1]);
      let body;
      try {
        body = JSON.parse((await readBody(req)).toString("utf8"));
      } catch {
        return fail(res, 400, "invalid JSON body");
      }
      if (!["private", "lan", "link"].includes(body?.policy)) return fail(res, 422, "policy must be private, lan or link");
      const e = docs.get(id);
      if (!e) return fail(res, 404, `no document ${id}`);
      e.share = body.policy;
      docsChanged();
      return json(res, 200, { id, policy: body.policy });
    }
    if (p === "/_peers" && method === "GET") return json(res, 200, [...peers.values()].map((x) => ({ ...x.info })));
    const pm = /^\/_peers\/([^/]+)(?:\/(docs|open|verify))?$/.exec(p);
    if (pm) {
      const peerId = decodeURIComponent(pm[1]);
      const action = pm[2] ?? "";
      const peer = peers.get(peerId);
      if (!peer) return fail(res, 404, `no peer ${peerId}`);
      const info = peer.info;
      const refused = () =>
        info.certificate_changed
          ? fail(res, 409, `peer ${info.name} (${peerId}) now presents a different certificate than the one pinned on first use; refusing to connect until you forget the peer and verify it again`, "certificate-changed")
          : fail(res, 503, `peer ${peerId} is offline`, "offline");
      if (action === "docs" && method === "GET") {
        if (info.certificate_changed || !info.online) return refused();
        if (info.name.includes("unreachable")) return fail(res, 502, `cannot reach https://${info.addresses[0]}:${info.port}/_docs`);
        return json(
          res,
          200,
          [...peer.docs.entries()].map(([id, d]) => ({
            id,
            title: titleOf(d.doc),
            heads: A.getHeads(d.doc),
            size: A.save(d.doc).length,
            updated: d.updated,
            share: "lan",
          })),
        );
      }
      if (action === "open" && method === "POST") {
        let body;
        try {
          body = JSON.parse((await readBody(req)).toString("utf8"));
        } catch {
          return fail(res, 400, "invalid JSON body");
        }
        if (info.certificate_changed || !info.online) return refused();
        const docId = body?.doc_id;
        const existing = [...remotes.values()].find((r) => r.peer_id === peerId && r.doc_id === docId);
        if (existing) return json(res, 201, { ...existing });
        const shared = peer.docs.get(docId);
        if (!docs.has(docId)) addDoc(shared ? A.clone(shared.doc) : A.init(), docId);
        const r = {
          id: newId(),
          doc_id: docId,
          url: `https://${info.addresses[0]}:${info.port}/${docId}`,
          state: "connecting",
          retry_in_ms: null,
          error: null,
          in_sync: false,
          fingerprint: info.fingerprint,
          peer_id: peerId,
        };
        remotes.set(r.id, r);
        broadcastEvent({ event: "remote", remote: { ...r } });
        if (shared) {
          setTimeout(() => setRemote(r, { state: "live" }), 200);
          setTimeout(() => setRemote(r, { in_sync: true }), 500);
        } else {
          setTimeout(() => setRemote(r, { state: "reconnecting", retry_in_ms: 5000, error: `https://${info.addresses[0]}:${info.port}/${docId} answered 404` }), 300);
        }
        return json(res, 201, { ...r });
      }
      if (action === "verify" && method === "POST") {
        if (info.certificate_changed) return refused();
        info.verified = true;
        peersChanged();
        return json(res, 200, { ...info });
      }
      if (action === "" && method === "DELETE") {
        if (info.announced_fingerprint) {
          info.fingerprint = info.announced_fingerprint;
          info.code = String(Math.floor(Math.random() * 1e6)).padStart(6, "0").replace(/^(\d{3})/, "$1 ");
        }
        info.announced_fingerprint = null;
        info.certificate_changed = false;
        info.verified = false;
        if (!info.online) peers.delete(peerId);
        else followPeer(peer);
        peersChanged();
        res.writeHead(204);
        return res.end();
      }
      return fail(res, 405, "method not allowed");
    }
    if (p === "/_docs" && method === "POST") {
      let body;
      try {
        body = JSON.parse((await readBody(req)).toString("utf8") || "{}");
      } catch {
        return fail(res, 400, "invalid JSON body");
      }
      if (typeof body.title !== "string") return fail(res, 400, "missing title");
      if (body.title.includes("FAIL")) return fail(res, 500, "simulated failure creating the document");
      const id = addDoc(noteTemplate(body.title));
      log("created", id);
      return json(res, 201, { id });
    }
    if (p === "/_import" && method === "POST") {
      const bytes = await readBody(req);
      let doc;
      try {
        doc = A.load(new Uint8Array(bytes));
      } catch (e) {
        return fail(res, 400, `not an Automerge document: ${e.message}`);
      }
      const id = addDoc(doc);
      return json(res, 201, { id });
    }
    if (p === "/_remotes" && method === "GET") return json(res, 200, [...remotes.values()]);
    if (p === "/_remotes" && method === "POST") {
      let body;
      try {
        body = JSON.parse((await readBody(req)).toString("utf8"));
      } catch {
        return fail(res, 400, "invalid JSON body");
      }
      let u;
      try {
        u = new URL(body.url);
      } catch {
        return fail(res, 400, "invalid url");
      }
      let docId = body.doc_id;
      if (docId === null || docId === undefined) {
        docId = u.pathname.split("/").filter(Boolean).pop();
        if (!docId) return fail(res, 400, "the URL has no document id");
        if (!docs.has(docId)) addDoc(A.from({ title: `Copy from ${u.host}`, body: "" }), docId);
      } else if (!docs.has(docId)) {
        return fail(res, 404, `no such document: ${docId}`);
      }
      const r = { id: newId(), doc_id: docId, url: body.url, state: "connecting", retry_in_ms: null, error: null, in_sync: false, fingerprint: null, peer_id: null };
      remotes.set(r.id, r);
      broadcastEvent({ event: "remote", remote: { ...r } });
      simulateRemote(r);
      return json(res, 201, { id: r.id, doc_id: docId });
    }
    const rm = /^\/_remotes\/([^/]+)$/.exec(p);
    if (rm && method === "DELETE") {
      const id = decodeURIComponent(rm[1]);
      const gone = remotes.get(id);
      if (!gone || !remotes.delete(id)) return fail(res, 404, "no such remote");
      broadcastEvent({ event: "remote", remote: { ...gone, state: "removed" } });
      res.writeHead(204);
      return res.end();
    }
    const dm = /^\/([^_/][^/]*)$/.exec(p);
    if (dm) {
      const id = decodeURIComponent(dm[1]);
      const e = docs.get(id);
      if (!e) return fail(res, 404, `no such document: ${id}`);
      if (method === "DELETE") {
        for (const c of e.conns) c.ws.close(4404, "deleted");
        docs.delete(id);
        for (const [rid, r] of remotes)
          if (r.doc_id === id) {
            remotes.delete(rid);
            broadcastEvent({ event: "remote", remote: { ...r, state: "removed" } });
          }
        docsChanged();
        res.writeHead(204);
        return res.end();
      }
      if (method === "GET") {
        if ((req.headers.accept ?? "").includes("application/octet-stream")) {
          res.writeHead(200, { "Content-Type": "application/octet-stream" });
          return res.end(Buffer.from(A.save(e.doc)));
        }
        res.writeHead(302, { Location: `/_ui/#/doc/${encodeURIComponent(id)}` });
        return res.end();
      }
    }
    return fail(res, 404, `no route for ${method} ${p}`);
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((e) => {
      log("error", e);
      if (!res.headersSent) fail(res, 500, String(e?.message ?? e));
    });
  });

  const wss = new WebSocketServer({ noServer: true });
  server.on("upgrade", (req, socket, head) => {
    const p = new URL(req.url, "http://x").pathname;
    if (p === "/_events") {
      wss.handleUpgrade(req, socket, head, (ws) => {
        eventSockets.add(ws);
        ws.on("close", () => eventSockets.delete(ws));
      });
      return;
    }
    const m = /^\/_ws\/([^/]+)$/.exec(p);
    if (!m) return socket.destroy();
    const id = decodeURIComponent(m[1]);
    if ((paused.get(id) ?? 0) > Date.now()) return socket.destroy();
    wss.handleUpgrade(req, socket, head, (ws) => {
      const e = docs.get(id);
      if (!e) {
        ws.send(JSON.stringify({ event: "error", message: `no such document: ${id}` }));
        ws.close(4404, "no such document");
        return;
      }
      const conn = { ws, state: A.initSyncState() };
      e.conns.add(conn);
      sendSync(e, conn); // the server speaks first
      ws.on("message", (data) => {
        const cur = docs.get(id);
        if (!cur) return;
        let msg;
        try {
          msg = JSON.parse(data.toString());
        } catch {
          ws.send(JSON.stringify({ event: "error", message: "invalid JSON line" }));
          return;
        }
        if (msg.event !== "sync") return;
        const before = A.getHeads(cur.doc).join();
        try {
          [cur.doc, conn.state] = A.receiveSyncMessage(cur.doc, conn.state, new Uint8Array(Buffer.from(msg.data, "base64")));
        } catch (err) {
          ws.send(JSON.stringify({ event: "error", message: `bad sync message: ${err.message}` }));
          return;
        }
        sendSync(cur, conn);
        if (A.getHeads(cur.doc).join() !== before) {
          cur.updated = Date.now();
          for (const other of cur.conns) if (other !== conn) sendSync(cur, other);
          docsChanged();
        }
      });
      ws.on("close", () => e.conns.delete(conn));
    });
  });

  await new Promise((resolve) => server.listen(port, host, resolve));
  const addr = server.address();
  const origin = `http://${host}:${addr.port}`;
  log(`listening on ${origin} (UI at ${origin}/_ui/)`);
  return {
    origin,
    port: addr.port,
    docs,
    remotes,
    peers,
    changeDoc,
    setPeerOnline,
    changePeerCertificate,
    /** Change a peer's shared copy of a document (as if edited on the peer). */
    changePeerDoc(peerId, docId, fn) {
      const d = peers.get(peerId)?.docs.get(docId);
      if (!d) return;
      d.doc = A.change(d.doc, fn);
      d.updated = Date.now();
    },
    /** Drop every sync socket of a document and refuse new ones for `ms`. */
    outage(id, ms) {
      paused.set(id, Date.now() + ms);
      for (const c of docs.get(id)?.conns ?? []) c.ws.terminate();
    },
    close: () =>
      new Promise((resolve) => {
        for (const ws of wss.clients) ws.terminate();
        server.close(() => resolve());
      }),
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const args = process.argv.slice(2);
  const arg = (name, dflt) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : dflt;
  };
  await startFakeServer({
    port: Number(arg("--port", process.env.PORT ?? 7450)),
    host: arg("--host", "127.0.0.1"),
    dist: path.resolve(arg("--dist", path.join(here, "..", "dist"))),
    seed: args.includes("--seed"),
  });
}
