import { describe, expect, it } from "vitest";
import type { PeerInfo, RemoteInfo } from "../src/backend/types";
import { docSyncState, formatRemoteState, RemoteTable } from "../src/model/connection";
import {
  certificateChangedMessage,
  effectiveLastSeen,
  formatCode,
  formatLastSeen,
  formatPeerState,
  formatVerified,
  isSharePolicy,
  peerAddress,
  peerDocsView,
  peerErrorMessage,
  peerOfRemote,
  peerRemoteNote,
  peerState,
  peersSummary,
  SHARE_HINT,
  SHARE_POLICIES,
  shareBadge,
  shortFingerprint,
  sortPeerDocs,
  sortPeers,
} from "../src/model/peers";

const NOW = 1_800_000_000_000;

function peer(over: Partial<PeerInfo> = {}): PeerInfo {
  return {
    id: "p1",
    name: "bob",
    addresses: ["10.0.0.2"],
    port: 7450,
    fingerprint: "AA:BB:CC:DD:EE:FF:00:11",
    verified: false,
    online: true,
    last_seen: NOW,
    certificate_changed: false,
    announced_fingerprint: null,
    code: "123 456",
    version: "1",
    ...over,
  };
}

describe("peer state", () => {
  it("a changed certificate trumps online/offline", () => {
    expect(peerState(peer())).toBe("online");
    expect(peerState(peer({ online: false }))).toBe("offline");
    expect(peerState(peer({ certificate_changed: true }))).toBe("certificate-changed");
    expect(peerState(peer({ certificate_changed: true, online: false }))).toBe("certificate-changed");
  });

  it("formats the state with when an offline peer was last seen", () => {
    expect(formatPeerState(peer(), NOW)).toBe("online");
    expect(formatPeerState(peer({ online: false, last_seen: NOW - 5 * 60_000 }), NOW)).toBe("offline · seen 5 min ago");
    expect(formatPeerState(peer({ online: false, last_seen: NOW - 10_000 }), NOW)).toBe("offline · seen just now");
    // remembered from an earlier run, not seen since start-up
    expect(formatPeerState(peer({ online: false, last_seen: 0 }), NOW)).toBe("offline");
    expect(formatPeerState(peer({ certificate_changed: true }), NOW)).toBe("certificate changed");
    expect(formatLastSeen(0, NOW)).toBeNull();
  });

  it("an offline peer was last seen when it left, if this UI saw it leave", () => {
    const bob = peer({ online: false, last_seen: NOW - 3_600_000 });
    expect(effectiveLastSeen(bob, undefined)).toBe(NOW - 3_600_000);
    expect(effectiveLastSeen(bob, NOW - 60_000)).toBe(NOW - 60_000);
    expect(effectiveLastSeen(peer({ last_seen: NOW }), NOW - 60_000)).toBe(NOW);
    expect(effectiveLastSeen(peer({ last_seen: 0 }), undefined)).toBe(0);
  });

  it("formats verification and addresses", () => {
    expect(formatVerified(peer())).toBe("not verified");
    expect(formatVerified(peer({ verified: true }))).toBe("verified");
    expect(peerAddress(peer())).toBe("10.0.0.2:7450");
    expect(peerAddress(peer({ addresses: ["fe80::1", "10.0.0.2"] }))).toBe("[fe80::1]:7450");
    expect(peerAddress(peer({ addresses: [], port: 0 }))).toBe("");
    expect(peerAddress(peer({ port: 0 }))).toBe("10.0.0.2");
  });

  it("normalises verification codes and shortens fingerprints", () => {
    expect(formatCode("123 456")).toBe("123 456");
    expect(formatCode("123456")).toBe("123 456");
    expect(formatCode(" 12 34 56 ")).toBe("123 456");
    expect(formatCode("abc")).toBe("abc");
    const fp = "AA:6C:C7:B9:7D:3F:2C:F8:CF:15:39:0B:27:AA:E1:6C:EC:18:1F:BE:49:90:EE:B9:55:F4:F3:06:B1:E9:5E:D4";
    expect(shortFingerprint(fp)).toBe("AA:6C:C7:B9…5E:D4");
    expect(shortFingerprint("AA:BB")).toBe("AA:BB");
    expect(shortFingerprint(null)).toBe("");
  });

  it("sorts: certificate changed first, then online, then by name, then id", () => {
    const list = [
      peer({ id: "4", name: "zed", online: false }),
      peer({ id: "3", name: "Bob" }),
      peer({ id: "2", name: "alice", online: false }),
      peer({ id: "1", name: "mallory", certificate_changed: true, online: false }),
      peer({ id: "0", name: "bob" }),
      peer({ id: "5", name: "carol" }),
    ];
    expect(sortPeers(list).map((p) => p.id)).toEqual(["1", "0", "3", "5", "2", "4"]);
    // does not mutate its input
    expect(list[0]!.id).toBe("4");
  });

  it("summarises the list", () => {
    expect(peersSummary([])).toBe("");
    expect(peersSummary([peer(), peer({ online: false })])).toBe("1 online · 1 offline");
    expect(peersSummary([peer({ certificate_changed: true })])).toBe("0 online · 1 needs attention");
  });

  it("explains a changed certificate and what to do", () => {
    const m = certificateChangedMessage(peer());
    expect(m).toContain("bob's certificate changed");
    expect(m).toContain("refuses to connect");
    expect(m).toContain("Forget it");
    expect(m).toContain("codes");
  });

  it("names a remote's peer and says why it is not live", () => {
    const peers = [peer({ id: "p1" }), peer({ id: "p2", name: "carol", online: false })];
    expect(peerOfRemote({ peer_id: "p2" }, peers)?.name).toBe("carol");
    expect(peerOfRemote({ peer_id: null }, peers)).toBeNull();
    expect(peerOfRemote({}, peers)).toBeNull();
    expect(peerOfRemote({ peer_id: "gone" }, peers)).toBeNull();
    expect(peerRemoteNote(peers[1]!)).toMatch(/carol is offline/);
    expect(peerRemoteNote(peer({ certificate_changed: true }))).toMatch(/certificate changed/);
    expect(peerRemoteNote(peers[0]!)).toBeNull();
    expect(peerRemoteNote(null)).toBeNull();
  });

  it("turns peer errors into sentences by their code", () => {
    expect(peerErrorMessage(peer(), "remote", "timeout")).toBe("Cannot reach bob right now (timeout).");
    expect(peerErrorMessage(peer(), "not-found", "no peer p1")).toBe("bob is no longer known here.");
    expect(peerErrorMessage(peer(), "offline", "peer p1 is offline")).toBe("bob is offline.");
    expect(peerErrorMessage(peer(), "certificate-changed", "peer p1 now presents …")).toBe("peer p1 now presents …");
  });
});

describe("a peer's documents", () => {
  const doc = (id: string, title: string | null, updated: number) => ({ id, title, heads: [], size: 2048, updated, share: "lan" as const });

  it("sorts shared docs by last update, then title", () => {
    const docs = [doc("a", "Zeta", 1), doc("b", "alpha", 5), doc("c", "Beta", 5), doc("d", null, 5)];
    expect(sortPeerDocs(docs).map((d) => d.id)).toEqual(["b", "c", "d", "a"]);
  });

  it("lists the shared docs of a reachable peer, marking local copies", () => {
    const v = peerDocsView(
      peer(),
      { loading: false, error: null, docs: [doc("x", "Bob's plans", NOW - 120_000), doc("y", "", NOW)] },
      new Set(["x"]),
      [],
      NOW,
    );
    expect(v.note).toBeNull();
    expect(v.rows).toEqual([
      { id: "y", title: "Untitled", meta: "just now · 2.0 KB", local: false },
      { id: "x", title: "Bob's plans", meta: "on this device", local: true },
    ]);
  });

  it("says when it is loading, empty or failing", () => {
    expect(peerDocsView(peer(), undefined, new Set(), [], NOW)).toEqual({ note: "Loading shared documents…", tone: "muted", rows: [] });
    expect(peerDocsView(peer(), { loading: false, error: null, docs: [] }, new Set(), [], NOW).note).toBe("bob shares no documents.");
    const failed = peerDocsView(
      peer(),
      { loading: false, error: "Cannot reach bob", docs: null },
      new Set(),
      [{ id: "x", title: "Plans" }],
      NOW,
    );
    expect(failed.tone).toBe("error");
    expect(failed.rows.map((r) => r.id)).toEqual(["x"]);
    const refreshing = peerDocsView(peer(), { loading: true, error: null, docs: [doc("x", "P", NOW)] }, new Set(), [], NOW);
    expect(refreshing.rows).toHaveLength(1);
  });

  it("an offline peer shows the copies on this device, which stay editable", () => {
    const v = peerDocsView(
      peer({ online: false }),
      { loading: false, error: null, docs: [doc("x", "Plans", NOW), doc("z", "Other", NOW)] },
      new Set(["x"]),
      [{ id: "x", title: "Plans" }],
      NOW,
    );
    expect(v.note).toMatch(/offline.*stay editable/);
    expect(v.rows).toEqual([{ id: "x", title: "Plans", meta: "on this device", local: true }]);
    expect(peerDocsView(peer({ online: false }), undefined, new Set(), [], NOW)).toEqual({
      note: "bob is offline.",
      tone: "muted",
      rows: [],
    });
  });

  it("a peer whose certificate changed is not asked for anything", () => {
    const v = peerDocsView(peer({ certificate_changed: true }), undefined, new Set(), [{ id: "x", title: null }], NOW);
    expect(v.tone).toBe("warn");
    expect(v.note).toMatch(/do not sync/);
    expect(v.rows).toEqual([{ id: "x", title: "Untitled", meta: "on this device", local: true }]);
  });
});

describe("share policies", () => {
  it("has one-line explanations for each policy", () => {
    expect(SHARE_POLICIES).toEqual(["private", "lan", "link"]);
    expect(SHARE_HINT.private).toBe("Only this device.");
    expect(SHARE_HINT.lan).toMatch(/peers on your network/);
    expect(SHARE_HINT.link).toMatch(/Anyone with the link.*not listed/);
  });

  it("badges only shared documents", () => {
    expect(shareBadge("private")).toBeNull();
    expect(shareBadge(undefined)).toBeNull();
    expect(shareBadge("lan")?.text).toBe("LAN");
    expect(shareBadge("link")?.text).toBe("Link");
  });

  it("validates policy names", () => {
    expect(isSharePolicy("lan")).toBe(true);
    expect(isSharePolicy("public")).toBe(false);
    expect(isSharePolicy(null)).toBe(false);
  });
});

describe("remote events", () => {
  const remote = (id: string, over: Partial<RemoteInfo> = {}): RemoteInfo => ({
    id,
    doc_id: "d",
    url: "https://10.0.0.2:7450/d",
    state: "live",
    retry_in_ms: null,
    error: null,
    problem: null,
    bytes_in: 0,
    bytes_out: 0,
    last_synced_ms: null,
    in_sync: false,
    fingerprint: null,
    peer_id: null,
    save_error: null,
    ...over,
  });
  const states = (t: RemoteTable) => [...t.values()].map((e) => `${e.info.id}:${e.info.state}${e.info.in_sync ? "+sync" : ""}`).sort();

  it("events replace entries; a removed remote is dropped", () => {
    const t = new RemoteTable();
    expect(t.applyEvent(remote("r1", { state: "connecting" }), 1)).toBe(true);
    expect(t.applyEvent(remote("r1", { in_sync: true }), 2)).toBe(true);
    expect(states(t)).toEqual(["r1:live+sync"]);
    expect(t.get("r1")?.receivedAt).toBe(2);
    expect(t.applyEvent(remote("r1", { state: "removed" }), 3)).toBe(false);
    expect(t.size).toBe(0);
  });

  it("a listing replaces what it knows about", () => {
    const t = new RemoteTable();
    t.applyEvent(remote("old"), 1);
    t.applyList([remote("r1"), remote("r2", { state: "reconnecting", retry_in_ms: 500 })], t.mark(), 5);
    expect(states(t)).toEqual(["r1:live", "r2:reconnecting"]);
    expect(t.get("r2")?.receivedAt).toBe(5);
  });

  it("an event that arrived while the listing was fetched wins over it", () => {
    const t = new RemoteTable();
    const since = t.mark();
    // the listing was made before these events, which arrive before its response
    t.applyEvent(remote("r1", { in_sync: true }), 2);
    t.applyEvent(remote("r3", { state: "connecting" }), 2);
    t.applyEvent(remote("r2", { state: "removed" }), 2);
    t.applyList([remote("r1"), remote("r2")], since, 3);
    expect(states(t)).toEqual(["r1:live+sync", "r3:connecting"]);
    // a later listing is authoritative again
    t.applyList([remote("r1")], t.mark(), 4);
    expect(states(t)).toEqual(["r1:live"]);
  });

  it("a local removal is not undone by a listing already on its way", () => {
    const t = new RemoteTable();
    t.applyList([remote("r1")], t.mark(), 1);
    const since = t.mark();
    t.remove("r1");
    t.applyList([remote("r1")], since, 2);
    expect(t.size).toBe(0);
  });

  it("stopped and removed remotes do not count for the sidebar dot", () => {
    expect(docSyncState([{ state: "stopped", in_sync: false }])).toBe("local");
    expect(
      docSyncState([
        { state: "stopped", in_sync: false },
        { state: "live", in_sync: true },
      ]),
    ).toBe("in-sync");
    expect(
      docSyncState([
        { state: "removed", in_sync: false },
        { state: "reconnecting", in_sync: false },
      ]),
    ).toBe("reconnecting");
    expect(formatRemoteState({ state: "stopped", retry_in_ms: null, error: null }, 0, 0)).toBe("stopped");
  });
});
