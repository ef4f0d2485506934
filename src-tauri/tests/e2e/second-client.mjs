// A second client for the desktop e2e: a plain Node program that syncs one
// document with a Tandem server over the ndjson protocol (Automerge's JS
// sync, from ui/node_modules) and takes part in presence with the
// `ephemeral` extension (docs/protocol-extensions.md): it announces a user
// and keeps a caret in the body, like another person's app would.
//
//   const peer = await connectPeer({ url, token, user: { id, name, color } });
//   await peer.synced(); peer.setCursor(5); … peer.close();
import { createRequire } from "node:module";
import { randomBytes } from "node:crypto";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const A = createRequire(join(repo, "ui/package.json"))("@automerge/automerge");

const b64 = (bytes) => Buffer.from(bytes).toString("base64");

/** Opens `PUT url` with `Tandem-Features: ephemeral`; resolves once the server answered. */
export async function connectPeer({ url, token, user, device = "Second client (e2e)" }) {
  let doc = A.init();
  let state = A.initSyncState();
  let controller;
  const body = new ReadableStream({ start: (c) => void (controller = c) });
  const encoder = new TextEncoder();
  const write = (obj) => controller.enqueue(encoder.encode(JSON.stringify(obj) + "\n"));
  const flush = () => {
    const [next, message] = A.generateSyncMessage(doc, state);
    state = next;
    if (message) write({ event: "sync", data: b64(message) });
  };
  flush();
  const abort = new AbortController();
  const response = await fetch(url, {
    method: "PUT",
    body,
    duplex: "half",
    signal: abort.signal,
    headers: {
      "content-type": "application/x-ndjson",
      accept: "application/x-ndjson",
      "tandem-features": "ephemeral",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
  });
  if (response.status !== 200) throw new Error(`sync ${url}: ${response.status} ${await response.text()}`);
  const features = response.headers.get("tandem-features") ?? "";
  if (!/ephemeral/.test(features)) throw new Error(`the server did not echo the ephemeral feature: ${features}`);

  const heard = [];
  const session = randomBytes(8).toString("hex");
  let seq = 0;
  let cursor = null;
  const since = Date.now();
  const announce = () => {
    const payload = {
      t: "presence",
      v: 1,
      seq: ++seq,
      session,
      user,
      device,
      actor: A.getActorId(doc),
      since,
      state: "active",
      cursor,
    };
    write({ event: "ephemeral", data: b64(encoder.encode(JSON.stringify(payload))) });
  };
  const heartbeat = setInterval(announce, 1000);

  // Read the response's lines.
  const reading = (async () => {
    const decoder = new TextDecoder();
    let buffered = "";
    try {
      for await (const chunk of response.body) {
        buffered += decoder.decode(chunk, { stream: true });
        let at;
        while ((at = buffered.indexOf("\n")) >= 0) {
          const line = buffered.slice(0, at).trim();
          buffered = buffered.slice(at + 1);
          if (!line) continue;
          const msg = JSON.parse(line);
          if (msg.event === "sync") {
            [doc, state] = A.receiveSyncMessage(doc, state, Buffer.from(msg.data, "base64"));
            flush();
          } else if (msg.event === "ephemeral") {
            heard.push({ from: msg.from, data: JSON.parse(Buffer.from(msg.data, "base64").toString("utf8")) });
          }
        }
      }
    } catch {
      /* closed */
    }
  })();

  return {
    /** The document as synced so far. */
    doc: () => doc,
    /** Presence payloads heard from others. */
    heard,
    /** Resolves once the body text has arrived (or rejects after `ms`). */
    async synced(ms = 15000) {
      const deadline = Date.now() + ms;
      while (doc.body === undefined) {
        if (Date.now() > deadline) throw new Error("the document did not arrive");
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    /** Puts the caret (a collapsed selection) at `offset` in the body, and announces it. */
    setCursor(offset) {
      const c = A.getCursor(doc, ["body"], offset);
      cursor = { path: ["body"], anchor: c, head: c };
      announce();
    },
    /** Says goodbye and closes the stream. */
    async close() {
      clearInterval(heartbeat);
      try {
        write({ event: "ephemeral", data: b64(encoder.encode(JSON.stringify({ t: "leave", v: 1, seq: ++seq, session }))) });
        controller.close();
      } catch {
        /* already closed */
      }
      await new Promise((r) => setTimeout(r, 200));
      abort.abort();
      await reading;
    },
  };
}
