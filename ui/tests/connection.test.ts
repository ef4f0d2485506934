import { describe, expect, it } from "vitest";
import {
  automergeUrl,
  backoffDelay,
  docIdFromUrl,
  docSyncState,
  formatLinkStatus,
  formatRemoteState,
  remoteHost,
  remotesForDoc,
  retrySecondsLeft,
  validateRemoteUrl,
} from "../src/model/connection";

describe("connection state formatting", () => {
  it("formats remote states", () => {
    const t0 = 1_000_000;
    expect(formatRemoteState({ state: "connecting", retry_in_ms: null, error: null }, t0, t0)).toBe("connecting…");
    expect(formatRemoteState({ state: "live", retry_in_ms: null, error: null }, t0, t0)).toBe("live");
    expect(formatRemoteState({ state: "reconnecting", retry_in_ms: 5000, error: null }, t0, t0)).toBe("reconnecting in 5 s");
    expect(formatRemoteState({ state: "reconnecting", retry_in_ms: 5000, error: null }, t0, t0 + 1500)).toBe("reconnecting in 4 s");
    expect(formatRemoteState({ state: "reconnecting", retry_in_ms: 5000, error: null }, t0, t0 + 9000)).toBe("reconnecting…");
    expect(formatRemoteState({ state: "reconnecting", retry_in_ms: null, error: null }, t0, t0)).toBe("reconnecting…");
    expect(formatRemoteState({ state: "error", retry_in_ms: null, error: "certificate mismatch" }, t0, t0)).toBe(
      "error: certificate mismatch",
    );
    expect(formatRemoteState({ state: "error", retry_in_ms: null, error: null }, t0, t0)).toBe("error");
  });

  it("counts retry seconds down", () => {
    expect(retrySecondsLeft(3000, 0, 0)).toBe(3);
    expect(retrySecondsLeft(3000, 0, 2001)).toBe(1);
    expect(retrySecondsLeft(3000, 0, 5000)).toBe(0);
  });

  it("summarises a document's remotes into one sidebar state", () => {
    const r = (state: any, in_sync = false) => ({ state, in_sync });
    expect(docSyncState([])).toBe("local");
    expect(docSyncState([], 2)).toBe("incoming"); // a peer or the CLI syncs into us
    expect(docSyncState([r("live", true)], 1)).toBe("in-sync"); // our own remotes say more
    expect(docSyncState([r("live", true)])).toBe("in-sync");
    expect(docSyncState([r("live", true), r("live")])).toBe("live");
    expect(docSyncState([r("live", true), r("connecting")])).toBe("connecting");
    expect(docSyncState([r("connecting"), r("reconnecting")])).toBe("reconnecting");
    expect(docSyncState([r("reconnecting"), r("error")])).toBe("error");
    expect(remotesForDoc([{ doc_id: "a" }, { doc_id: "b" }], "a")).toEqual([{ doc_id: "a" }]);
  });

  it("backs off exponentially with a cap", () => {
    expect([0, 1, 2, 3, 4, 5, 6, 50].map((a) => backoffDelay(a))).toEqual([500, 1000, 2000, 4000, 8000, 10000, 10000, 10000]);
  });

  it("formats the UI↔backend link", () => {
    expect(formatLinkStatus({ state: "open" }, 0, 0)).toBe("Connected");
    expect(formatLinkStatus({ state: "reconnecting", retryInMs: 2000, attempt: 1 }, 0, 0)).toBe("Connection lost — reconnecting in 2 s");
  });

  it("parses and validates remote URLs", () => {
    expect(docIdFromUrl("https://host:7450/abc123")).toBe("abc123");
    expect(docIdFromUrl("https://host:7450/abc123/")).toBe("abc123");
    expect(docIdFromUrl("https://host:7450/")).toBeNull();
    expect(docIdFromUrl("ftp://host/x")).toBeNull();
    expect(docIdFromUrl("nope")).toBeNull();
    expect(docIdFromUrl("ws://127.0.0.1:3030/automerge:4NMNnkMhL8jXrdJ9jamS58PAVdXu")).toBe("4NMNnkMhL8jXrdJ9jamS58PAVdXu");
    expect(docIdFromUrl("ws://127.0.0.1:3030/4NMNnkMhL8jXrdJ9jamS58PAVdXu")).toBeNull();
    expect(validateRemoteUrl("wss://sync.example/automerge:4NMNnkMhL8jXrdJ9jamS58PAVdXu", true)).toBeNull();
    expect(validateRemoteUrl("ws://host:3030/notes", true)).toMatch(/automerge:/);
    expect(automergeUrl("4NMNnkMhL8jXrdJ9jamS58PAVdXu")).toBe("automerge:4NMNnkMhL8jXrdJ9jamS58PAVdXu");
    expect(automergeUrl("notes")).toBeNull();
    expect(remoteHost("https://host:7450/abc")).toBe("host:7450");
    expect(validateRemoteUrl("", true)).toMatch(/Enter/);
    expect(validateRemoteUrl("host:7450/abc", true)).toMatch(/https/);
    expect(validateRemoteUrl("https://host:7450", true)).toMatch(/document id/);
    expect(validateRemoteUrl("https://host:7450", false)).toBeNull();
    expect(validateRemoteUrl(" https://host:7450/abc ", true)).toBeNull();
  });
});
