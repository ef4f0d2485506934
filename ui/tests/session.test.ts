// The browser session: parsing `/_session`, and the WebBackend sending the page
// to `/_signin` once when the session is gone — against a real HTTP server on
// 127.0.0.1 (answers chosen per test), with the `ws` WebSocket client.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { isSignedIn, parseSession, SessionWatch, sessionLabel, statusVerdict } from "../src/backend/session";
import { BackendError } from "../src/backend/types";
import { WebBackend } from "../src/backend/web";

describe("session parsing and labels", () => {
  it("reads /_session bodies, treating anything odd as anonymous", () => {
    expect(parseSession({ name: "alice", role: "owner" })).toEqual({ name: "alice", role: "owner" });
    expect(parseSession({ name: "ci", role: "read" })).toEqual({ name: "ci", role: "read" });
    for (const odd of [
      null,
      undefined,
      3,
      "x",
      [],
      {},
      { name: null, role: null },
      { name: "a", role: "admin" },
      { name: "", role: "owner" },
      { name: "a" },
    ])
      expect(parseSession(odd)).toEqual({ name: null, role: null });
    expect(isSignedIn(parseSession({ name: "a", role: "write" }))).toBe(true);
    expect(isSignedIn(parseSession({}))).toBe(false);
    expect(sessionLabel({ name: "alice", role: "owner" })).toBe("alice (owner)");
    expect(sessionLabel({ name: null, role: null })).toBe("not signed in");
  });

  it("tells a lost session from one to check and from a plain error", () => {
    expect(statusVerdict(401)).toBe("lost");
    expect(statusVerdict(403)).toBe("check");
    for (const s of [200, 400, 404, 409, 500, 502]) expect(statusVerdict(s)).toBe("fine");
  });

  it("goes to sign in once, and coalesces checks", async () => {
    let asked = 0;
    let went = 0;
    let answer: { status: number; body: unknown } = { status: 200, body: { name: "alice", role: "owner" } };
    const watch = new SessionWatch({
      fetchSession: async () => {
        asked++;
        return answer;
      },
      goToSignIn: () => went++,
    });
    await Promise.all([watch.check(), watch.check(), watch.check()]);
    expect(asked).toBe(1);
    expect(went).toBe(0);
    answer = { status: 200, body: { name: null, role: null } };
    await watch.check();
    expect(went).toBe(1);
    expect(watch.lost).toBe(true);
    watch.onStatus(401);
    watch.signInAgain();
    await watch.check();
    expect(went).toBe(1);
    expect(asked).toBe(2); // no more checks once the page is leaving
  });

  it("an unreachable server is not a lost session", async () => {
    let went = 0;
    const watch = new SessionWatch({
      fetchSession: () => Promise.reject(new TypeError("fetch failed")),
      goToSignIn: () => went++,
    });
    await watch.check();
    expect(went).toBe(0);
    expect(watch.lost).toBe(false);
  });
});

// ---- WebBackend against a real server --------------------------------------------------------

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

interface TestServer {
  origin: string;
  seen: string[];
  close(): Promise<void>;
}

const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** A server on 127.0.0.1:0 answering `routes["METHOD /path"]`; WebSocket upgrades get `upgradeStatus`. */
async function serve(routes: Record<string, Handler>, upgradeStatus = 401): Promise<TestServer> {
  const seen: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    const key = `${req.method} ${req.url?.split("?")[0]}`;
    seen.push(key);
    const h = routes[key];
    if (h) h(req, res);
    else json(res, 404, { error: `no route ${key}` });
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  server.on("upgrade", (req, socket) => {
    seen.push(`UPGRADE ${req.url}`);
    socket.end(`HTTP/1.1 ${upgradeStatus} Refused\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  const s: TestServer = {
    origin: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((r) => {
        for (const sock of sockets) sock.destroy();
        server.close(() => r());
      }),
  };
  servers.push(s);
  return s;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

const anonymous: Handler = (_q, r) => json(r, 200, { name: null, role: null });
const owner: Handler = (_q, r) => json(r, 200, { name: "alice", role: "owner" });

function backend(origin: string) {
  const trips = { count: 0 };
  const b = new WebBackend(origin, {
    goToSignIn: () => trips.count++,
    WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
  });
  return { b, trips };
}

async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("WebBackend and the session", () => {
  it("a 401 from an API call sends the page to sign in, once", async () => {
    const s = await serve({ "GET /_docs": (_q, r) => json(r, 401, { error: "sign in" }) });
    const { b, trips } = backend(s.origin);
    const err = await b.listDocs().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendError);
    expect((err as BackendError).status).toBe(401);
    await b.listDocs().catch(() => {});
    expect(trips.count).toBe(1);
  });

  it("a 403 checks /_session: anonymous goes to sign in, a signed-in owner stays", async () => {
    const forbidden: Handler = (_q, r) => json(r, 403, { error: "only the owner" });
    const gone = await serve({ "GET /_remotes": forbidden, "GET /_session": anonymous });
    const a = backend(gone.origin);
    await expect(a.b.listRemotes()).rejects.toThrow(/only the owner/);
    await until(() => a.trips.count === 1, "the trip to sign in");
    const still = await serve({ "GET /_remotes": forbidden, "GET /_session": owner });
    const o = backend(still.origin);
    await expect(o.b.listRemotes()).rejects.toThrow(/only the owner/);
    await until(() => still.seen.includes("GET /_session"), "the session check");
    await new Promise((r) => setTimeout(r, 50));
    expect(o.trips.count).toBe(0);
  });

  it("a refused document socket checks the session and goes to sign in", async () => {
    const s = await serve({ "GET /_session": (_q, r) => json(r, 401, { error: "sign in" }) }, 401);
    const { b, trips } = backend(s.origin);
    const states: string[] = [];
    const ch = b.openDoc("notes", { onOpen: () => {}, onLine: () => {}, onStatus: (st) => states.push(st.state) });
    try {
      await until(() => trips.count === 1, "the trip to sign in");
      expect(s.seen).toContain("UPGRADE /_ws/notes?features=ephemeral");
      expect(states).toContain("reconnecting");
    } finally {
      ch.close();
    }
  });

  it("a refused event socket on a server where the session is gone (anonymous) goes to sign in", async () => {
    const s = await serve({ "GET /_session": anonymous }, 403);
    const { b, trips } = backend(s.origin);
    const stop = b.subscribe(() => {});
    try {
      await until(() => trips.count === 1, "the trip to sign in");
      expect(s.seen).toContain("UPGRADE /_events");
    } finally {
      stop();
    }
  });

  it("a socket that cannot reach the server keeps reconnecting and does not sign out", async () => {
    const s = await serve({});
    const origin = s.origin;
    await s.close();
    servers.splice(servers.indexOf(s), 1);
    const { b, trips } = backend(origin);
    const states: string[] = [];
    const ch = b.openDoc("notes", { onOpen: () => {}, onLine: () => {}, onStatus: (st) => states.push(st.state) });
    try {
      await until(() => states.includes("reconnecting"), "a reconnect");
      await new Promise((r) => setTimeout(r, 100));
      expect(trips.count).toBe(0);
    } finally {
      ch.close();
    }
  });

  it("session() reports who is signed in; anonymous goes to sign in", async () => {
    const s = await serve({ "GET /_session": owner });
    const a = backend(s.origin);
    expect(await a.b.session()).toEqual({ name: "alice", role: "owner" });
    expect(a.trips.count).toBe(0);
    const n = await serve({ "GET /_session": anonymous });
    const o = backend(n.origin);
    expect(await o.b.session()).toEqual({ name: null, role: null });
    expect(o.trips.count).toBe(1);
  });

  it("signOut() posts /_signout and goes to the sign-in page", async () => {
    const s = await serve({
      "POST /_signout": (_q, r) => {
        r.writeHead(303, { location: "/_signin", "set-cookie": "tandem_session_1=; Max-Age=0" });
        r.end();
      },
    });
    const { b, trips } = backend(s.origin);
    await b.signOut();
    expect(s.seen).toEqual(["POST /_signout"]);
    expect(trips.count).toBe(1);
  });
});
