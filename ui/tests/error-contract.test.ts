// The error contract as the UI sees it: both backends turn the core's
// `{code, message}` into a BackendError with that code, and the views decide
// by the code alone — a peer reported `offline` reads "bob is offline."
// whatever the HTTP status or the text. The web backend is run against a real
// HTTP server on 127.0.0.1.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { toError } from "../src/backend/tauri";
import { BackendError, type ErrorBody, errorCode } from "../src/backend/types";
import { WebBackend } from "../src/backend/web";
import { formatRemoteState } from "../src/model/connection";
import { formatVerified, peerErrorMessage, peerStateChanged } from "../src/model/peers";

const bob = { name: "bob" };
const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
});

/** A server whose `GET /_peers/p1/docs` answers `status` with `body`. */
async function peerDocsAnswer(status: number, body: string): Promise<WebBackend> {
  const server = createServer((req, res) => {
    res.writeHead(req.url === "/_peers/p1/docs" ? status : 404, { "content-type": "application/json", connection: "close" });
    res.end(body);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return new WebBackend(`http://127.0.0.1:${port}`, {
    goToSignIn: () => undefined,
    WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
  });
}

async function failure(p: Promise<unknown>): Promise<BackendError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(BackendError);
    return e as BackendError;
  }
  throw new Error("the call did not fail");
}

describe("the error contract in the UI", () => {
  const offline: ErrorBody = { code: "offline", message: "peer p1 is offline" };

  it("shows 'bob is offline' from the web backend's code, whatever the status", async () => {
    for (const status of [503, 409]) {
      const b = await peerDocsAnswer(status, JSON.stringify({ ...offline, error: offline.message }));
      const e = await failure(b.peerDocs("p1"));
      expect(e.code).toBe("offline");
      expect(peerErrorMessage(bob, e.code, e.message)).toBe("bob is offline.");
      expect(peerStateChanged(e.code)).toBe(true);
    }
  });

  it("shows 'bob is offline' from the desktop backend's code", () => {
    const e = toError(offline);
    expect(e.code).toBe("offline");
    expect(peerErrorMessage(bob, e.code, e.message)).toBe("bob is offline.");
  });

  it("does not read the text: an offline-sounding message with another code is that code", async () => {
    const b = await peerDocsAnswer(503, JSON.stringify({ code: "remote", message: "bob is offline?" }));
    const e = await failure(b.peerDocs("p1"));
    expect(e.code).toBe("remote");
    expect(peerErrorMessage(bob, e.code, e.message)).toBe("Cannot reach bob right now (bob is offline?).");
    expect(toError({ code: "not-found", message: "offline" }).code).toBe("not-found");
  });

  it("gives answers that are not Tandem's, and odd values, a code of their own", async () => {
    const b = await peerDocsAnswer(502, "<html>Bad Gateway</html>");
    const e = await failure(b.peerDocs("p1"));
    expect(e.code).toBe("remote");
    expect(toError({ code: "no-such-code", message: "x" }).code).toBe("internal");
    expect(toError("IPC failed").code).toBe("internal");
    expect(errorCode(new Error("x"))).toBe("internal");
  });

  it("shows a remote's settings that could not be saved", () => {
    const live = { state: "live" as const, retry_in_ms: null, error: null };
    expect(formatRemoteState({ ...live, save_error: null }, 0, 0)).toBe("live");
    expect(formatRemoteState({ ...live, save_error: "could not save the trusted certificate (disk full)" }, 0, 0)).toBe(
      "live (not saved: could not save the trusted certificate (disk full))",
    );
  });

  it("shows a peer's pin that could not be saved", () => {
    expect(formatVerified({ verified: true })).toBe("verified");
    expect(formatVerified({ verified: false, save_error: "disk full" })).toBe("not verified (not saved: disk full)");
  });
});
