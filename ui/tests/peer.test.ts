import { describe, expect, it } from "vitest";
import { A } from "../src/automerge";
import { SyncPeer, syncSchedule } from "../src/model/peer";
import { Hub, noteDoc } from "./hub";

const newPeer = () => new SyncPeer<any>("doc", { schedule: syncSchedule });

describe("SyncPeer", () => {
  it("loads the backend's document through the sync protocol", () => {
    const hub = new Hub(noteDoc("Plan", "Body text"));
    const p = hub.connect(newPeer());
    hub.settle();
    expect(p.doc().title).toBe("Plan");
    expect(p.doc().body).toBe("Body text");
    expect(p.hasHeads(A.getHeads(hub.doc))).toBe(true);
    expect(p.received).toBeGreaterThan(0);
  });

  it("is loaded once it holds the heads of the backend's `ready` line, or at once for an empty document", () => {
    const empty = newPeer();
    expect(empty.loaded).toBe(false);
    empty.receiveLine('{"event":"ready","heads":[]}');
    expect(empty.loaded).toBe(true); // an empty document: no sync message will ever come

    const hub = new Hub(noteDoc("Plan", "Body"));
    const p = newPeer();
    p.receiveLine(JSON.stringify({ event: "ready", heads: A.getHeads(hub.doc) }));
    expect(p.loaded).toBe(false); // a first message without the changes does not count
    hub.connect(p);
    hub.settle();
    expect(p.loaded).toBe(true);
  });

  it("syncs char-by-char text edits between two JS peers and merges concurrent edits", () => {
    const hub = new Hub(noteDoc("T", "Hello world"));
    const a = hub.connect(newPeer());
    const b = hub.connect(newPeer());
    hub.settle();
    // concurrent edits at different positions of the same text
    a.change((d) => A.splice(d, ["body"], 0, 0, ">> "));
    b.change((d) => A.splice(d, ["body"], 11, 0, "!"));
    hub.settle();
    expect(a.doc().body).toBe(">> Hello world!");
    expect(b.doc().body).toBe(">> Hello world!");
    expect(hub.doc.body).toBe(">> Hello world!");
  });

  it("emits change events with local/remote flag and heads", () => {
    const hub = new Hub(noteDoc());
    const a = hub.connect(newPeer());
    const b = hub.connect(newPeer());
    hub.settle();
    const events: { local: boolean; n: number }[] = [];
    b.onChange((c) => events.push({ local: c.local, n: c.after.length }));
    let handleCalls = 0;
    b.on("change", () => handleCalls++);
    a.change((d: any) => {
      d.count = new A.Counter(1);
    });
    hub.settle();
    b.change((d) => d.count.increment(2));
    hub.settle();
    expect(events.map((e) => e.local)).toEqual([false, true]);
    expect(handleCalls).toBe(2);
    expect(a.doc().count.value).toBe(3);
  });

  it("keeps local edits while offline and resyncs with a fresh SyncState on reconnect", () => {
    const hub = new Hub(noteDoc("T", "abc"));
    const a = hub.connect(newPeer());
    hub.settle();
    hub.disconnect(a);
    a.change((d) => A.splice(d, ["body"], 3, 0, "def"));
    hub.serverChange((d) => A.splice(d, ["title"], 1, 0, "itle"));
    hub.settle();
    expect(a.doc().body).toBe("abcdef");
    expect(hub.doc.body).toBe("abc");
    hub.connect(a);
    hub.settle();
    expect(hub.doc.body).toBe("abcdef");
    expect(a.doc().title).toBe("Title");
  });

  it("does not emit or send for a no-op change", () => {
    const hub = new Hub(noteDoc());
    const a = hub.connect(newPeer());
    hub.settle();
    let n = 0;
    a.onChange(() => n++);
    a.change(() => {});
    expect(hub.settle()).toBe(0);
    expect(n).toBe(0);
  });

  it("reports backend error lines and ignores ping / unknown events", () => {
    const p = newPeer();
    const errors: string[] = [];
    p.onError((m) => errors.push(m));
    p.receiveLine('{"event":"ping"}');
    p.receiveLine('{"event":"something-new","x":1}');
    p.receiveLine('{"event":"error","message":"no such document"}');
    p.receiveLine("not json");
    expect(errors).toEqual(["no such document", expect.stringContaining("malformed")]);
  });

  it("processes inbound messages one per scheduled task", () => {
    const tasks: (() => void)[] = [];
    const server = noteDoc("X", "Y");
    const p = new SyncPeer<any>("doc", { schedule: (fn) => tasks.push(fn) });
    p.attach({ send: () => true });
    p.connected();
    const [, m1] = A.generateSyncMessage(server, A.initSyncState());
    p.receiveMessage(m1!);
    p.receiveMessage(m1!);
    expect(tasks.length).toBe(1); // a single drain task is queued
    tasks.shift()!();
    expect(tasks.length).toBe(1); // the second message gets its own task
    tasks.shift()!();
    expect(tasks.length).toBe(0);
  });

  it("applies a sync message carrying many changes in slices, then finishes the sync normally", () => {
    // Automerge JS peers bundle changes into one chunk, but other
    // implementations may send a long list of individual changes in one
    // message; those are applied a slice per task.
    let server = noteDoc("History", "");
    const tasks: (() => void)[] = [];
    const p = new SyncPeer<any>("doc", { schedule: (fn) => tasks.push(fn), sliceSize: 50 });
    const sent: string[] = [];
    p.attach({
      send: (l) => {
        sent.push(l);
        return true;
      },
    });
    p.connected();
    const base = A.getHeads(server);
    p.receiveMessage(A.encodeSyncMessage({ heads: base, need: [], have: [], changes: A.getAllChanges(server) }));
    while (tasks.length) tasks.shift()!();
    expect(p.doc().title).toBe("History");

    for (let i = 0; i < 400; i++) server = A.change(server, (d: any) => A.splice(d, ["body"], i, 0, "x"));
    const changes = A.getChangesSince(server, base);
    expect(changes.length).toBe(400);
    let progress = 0;
    p.onChange(() => progress++);
    p.receiveMessage(A.encodeSyncMessage({ heads: A.getHeads(server), need: [], have: [], changes }));
    let runs = 0;
    const seen: string[] = [];
    while (tasks.length) {
      tasks.shift()!();
      runs++;
      const a = p.applying;
      if (a) seen.push(`${a.done}/${a.total}`);
    }
    // how far along, for "Loading document… N of M changes"
    expect(seen.slice(0, 2)).toEqual(["50/400", "100/400"]);
    expect(p.applying).toBeNull();
    expect(p.doc().body).toBe("x".repeat(400));
    expect(p.hasHeads(A.getHeads(server))).toBe(true);
    expect(runs).toBe(8); // 400 changes / 50 per slice, one task each
    expect(progress).toBe(8); // the document updated progressively
    expect(p.received).toBe(2); // each message was also received by the sync protocol
  });

  it("whenHasHeads resolves once the listed heads arrive", async () => {
    const hub = new Hub(noteDoc("Wait", "for me"));
    const p = newPeer();
    const waiting = p.whenHasHeads(A.getHeads(hub.doc), 1000);
    hub.connect(p);
    hub.settle();
    await expect(waiting).resolves.toBeUndefined();
    await expect(newPeer().whenHasHeads(["00".repeat(32)], 10)).rejects.toThrow(/timed out/);
  });
});
