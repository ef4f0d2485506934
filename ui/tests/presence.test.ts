import { describe, expect, it } from "vitest";
import {
  decodePresence,
  defaultProfile,
  EXPIRE_MS,
  encodePresence,
  loadProfile,
  type PresenceMessage,
  PresenceTable,
} from "../src/model/presence";

const ada = { id: "u1", name: "Ada", color: "#d9480f" };

function hello(session: string, seq: number, extra: Partial<PresenceMessage> = {}): PresenceMessage {
  return {
    t: "presence",
    v: 1,
    seq,
    session,
    user: ada,
    device: "Chromium on Linux",
    actor: "aa",
    since: 1000,
    state: "active",
    cursor: null,
    ...extra,
  } as PresenceMessage;
}

describe("presence table", () => {
  it("a member joins on its first message, and is not ourselves", () => {
    const t = new PresenceTable("me");
    expect(t.receive(hello("s1", 1), "c1", 0)).toEqual({ changed: true, joined: true });
    expect(t.receive(hello("s1", 2), "c1", 10)).toEqual({ changed: true, joined: false });
    expect(t.receive(hello("me", 1), "c2", 10).changed).toBe(false);
    expect(t.list().map((m) => m.user.name)).toEqual(["Ada"]);
    expect(t.nameOfActor("aa")).toBe("Ada");
  });

  it("a goodbye removes the member at once; stale messages are ignored", () => {
    const t = new PresenceTable("me");
    t.receive(hello("s1", 5), "c1", 0);
    expect(t.receive(hello("s1", 4), "c1", 1).changed).toBe(false);
    expect(t.receive({ t: "leave", v: 1, seq: 6, session: "s1" }, "c1", 2).changed).toBe(true);
    expect(t.list()).toEqual([]);
    // a late heartbeat from before the goodbye does not bring it back
    expect(t.receive(hello("s1", 5), "c1", 3).changed).toBe(false);
  });

  it("a member silent for EXPIRE_MS has vanished", () => {
    const t = new PresenceTable("me");
    t.receive(hello("s1", 1), "c1", 0);
    expect(t.expire(EXPIRE_MS - 1)).toBe(false);
    expect(t.list()).toHaveLength(1);
    t.receive(hello("s1", 2), "c1", 5_000); // a heartbeat keeps it
    expect(t.expire(5_000 + EXPIRE_MS - 1)).toBe(false);
    expect(t.expire(5_000 + EXPIRE_MS)).toBe(true);
    expect(t.list()).toEqual([]);
  });
});

describe("presence payloads", () => {
  it("round-trip, and anything else on the channel is not presence", () => {
    const m = hello("s1", 1, { cursor: { path: ["body"], anchor: "1@aa", head: "2@aa" } });
    expect(decodePresence(encodePresence(m))).toEqual(m);
    expect(decodePresence(new TextEncoder().encode("not json"))).toBeNull();
    expect(decodePresence(new TextEncoder().encode('{"type":"automerge-repo"}'))).toBeNull();
  });

  it("colours that are not plain colours do not reach a style", () => {
    const m = hello("s1", 1, { user: { id: "u", name: "x", color: "red;background:url(x)" } });
    expect((decodePresence(encodePresence(m)) as { user: { color: string } }).user.color).toBe("#888");
  });
});

describe("profile", () => {
  it("is made once and kept", () => {
    const store = new Map<string, string>();
    const storage = { getItem: (k: string) => store.get(k) ?? null, setItem: (k: string, v: string) => void store.set(k, v) };
    const p = loadProfile(storage);
    expect(loadProfile(storage)).toEqual(p);
    expect(defaultProfile("  Grace ").name).toBe("Grace");
  });
});

describe("authors of changes", () => {
  it("a change message names its author; other messages name nobody", async () => {
    const { authorMessage, authorOf } = await import("../src/model/presence");
    expect(authorOf(authorMessage({ id: "u1", name: "Ada" }))).toBe("Ada");
    expect(authorOf("Initial commit")).toBeUndefined();
    expect(authorOf("{broken")).toBeUndefined();
    expect(authorOf(null)).toBeUndefined();
  });

  it("a peer's local changes carry its author", async () => {
    const { SyncPeer, syncSchedule } = await import("../src/model/peer");
    const { A } = await import("../src/automerge");
    const { authorMessage, authorOf } = await import("../src/model/presence");
    const peer = new SyncPeer<Record<string, unknown>>("d", { schedule: syncSchedule });
    peer.author = authorMessage({ id: "u1", name: "Ada" });
    peer.change((d: Record<string, unknown>) => {
      d.n = 1;
    });
    const [change] = A.getChanges(A.init(), peer.doc());
    expect(authorOf(A.decodeChange(change).message)).toBe("Ada");
  });
});
