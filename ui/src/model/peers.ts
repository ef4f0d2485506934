// LAN peers and share policies: state, ordering and wording for the peers
// panel, the share control and the document list. No DOM.
import type { Code, DocSummary, PeerInfo, RemoteInfo, SharePolicy } from "../backend/types";
import { formatSize, formatUpdated } from "./format";
import { displayTitle } from "./title";

// ---- peers ---------------------------------------------------------------------------------------

/** What the peers panel shows for a peer; a changed certificate trumps online/offline. */
export type PeerState = "online" | "offline" | "certificate-changed";

export function peerState(p: Pick<PeerInfo, "online" | "certificate_changed">): PeerState {
  if (p.certificate_changed) return "certificate-changed";
  return p.online ? "online" : "offline";
}

export const PEER_STATE_LABEL: Record<PeerState, string> = {
  online: "online",
  offline: "offline",
  "certificate-changed": "certificate changed",
};

/** "just now", "5 min ago"…; `null` when it has not been seen since start-up (`last_seen` 0). */
export function formatLastSeen(lastSeen: number, now: number): string | null {
  if (!lastSeen || lastSeen <= 0) return null;
  return formatUpdated(lastSeen, now);
}

/**
 * When a peer was last seen, taking into account when this UI saw it go
 * offline: the backend's `last_seen` only moves when the peer announces
 * something new, so a peer that stayed online for an hour would otherwise be
 * "seen 1 h ago" the moment it leaves.
 */
export function effectiveLastSeen(p: Pick<PeerInfo, "last_seen">, wentOfflineAt: number | undefined): number {
  return Math.max(p.last_seen || 0, wentOfflineAt ?? 0);
}

/** "online", "offline · seen 5 min ago", "offline", "certificate changed". */
export function formatPeerState(p: Pick<PeerInfo, "online" | "certificate_changed" | "last_seen">, now: number): string {
  const state = peerState(p);
  if (state !== "offline") return PEER_STATE_LABEL[state];
  const seen = formatLastSeen(p.last_seen, now);
  return seen ? `offline · seen ${seen}` : "offline";
}

/** "verified" / "not verified". */
export function formatVerified(p: Pick<PeerInfo, "verified" | "save_error">): string {
  const text = p.verified ? "verified" : "not verified";
  return p.save_error ? `${text} (not saved: ${p.save_error})` : text;
}

/** Where a peer is: "10.0.0.2:7450", "[fe80::1]:7450"; "" when unknown (remembered, not seen yet). */
export function peerAddress(p: Pick<PeerInfo, "addresses" | "port">): string {
  const a = p.addresses?.[0];
  if (!a) return "";
  const host = a.includes(":") ? `[${a}]` : a;
  return p.port ? `${host}:${p.port}` : host;
}

/** Verification codes as "123 456" whatever spacing the backend used; other strings unchanged. */
export function formatCode(code: string): string {
  const digits = (code ?? "").replace(/\s+/g, "");
  return /^\d{6}$/.test(digits) ? `${digits.slice(0, 3)} ${digits.slice(3)}` : (code ?? "").trim();
}

/** "AA:6C:C7:B9…5E:D4" for display; short inputs unchanged. */
export function shortFingerprint(fp: string | null | undefined, head = 4, tail = 2): string {
  if (!fp) return "";
  const parts = fp.split(":");
  if (parts.length <= head + tail) return fp;
  return `${parts.slice(0, head).join(":")}…${parts.slice(-tail).join(":")}`;
}

const collator = new Intl.Collator(undefined, { sensitivity: "base", numeric: true });

/**
 * Panel order: peers whose certificate changed first (they need attention),
 * then online before offline, then by name, then by id (stable across refreshes).
 */
export function sortPeers<T extends Pick<PeerInfo, "id" | "name" | "online" | "certificate_changed">>(peers: readonly T[]): T[] {
  const rank = (p: T) => (p.certificate_changed ? 0 : p.online ? 1 : 2);
  return [...peers].sort(
    (a, b) => rank(a) - rank(b) || collator.compare(a.name ?? "", b.name ?? "") || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  );
}

/** The warning shown on a peer whose certificate changed (kept short: it lives in the sidebar). */
export function certificateChangedMessage(p: Pick<PeerInfo, "name">): string {
  return (
    `${p.name}'s certificate changed since this device first trusted it, so Tandem refuses to connect. ` +
    `Forget it only if you know why (e.g. it was reinstalled), then compare the new codes on both devices.`
  );
}

/** Summary line for the panel header: "2 online · 1 offline". */
export function peersSummary(peers: readonly Pick<PeerInfo, "online" | "certificate_changed">[]): string {
  if (peers.length === 0) return "";
  let online = 0;
  let changed = 0;
  for (const p of peers) {
    if (p.certificate_changed) changed++;
    else if (p.online) online++;
  }
  const offline = peers.length - online - changed;
  const parts = [`${online} online`];
  if (offline) parts.push(`${offline} offline`);
  if (changed) parts.push(`${changed} need${changed === 1 ? "s" : ""} attention`);
  return parts.join(" · ");
}

/** The peer a remote belongs to, if it was opened from the peers panel and the peer is known. */
export function peerOfRemote<P extends Pick<PeerInfo, "id">>(remote: Partial<Pick<RemoteInfo, "peer_id">>, peers: readonly P[]): P | null {
  if (!remote.peer_id) return null;
  return peers.find((p) => p.id === remote.peer_id) ?? null;
}

/** Extra words for a peer remote's state: why it is not live. */
export function peerRemoteNote(peer: Pick<PeerInfo, "name" | "online" | "certificate_changed"> | null): string | null {
  if (!peer) return null;
  if (peer.certificate_changed) return `${peer.name}'s certificate changed — refused`;
  if (!peer.online) return `${peer.name} is offline — edits are kept and sync when it is back`;
  return null;
}

// ---- a peer's documents ---------------------------------------------------------------------------

/** What the panel knows about one peer's shared documents. */
export interface PeerDocsState {
  loading: boolean;
  docs: DocSummary[] | null;
  error: string | null;
}

export interface PeerDocRow {
  id: string;
  title: string;
  /** "on this device", or "5 min ago · 1.2 KB" */
  meta: string;
  /** A copy is on this device already. */
  local: boolean;
}

export interface PeerDocsView {
  /** A note above (or instead of) the list. */
  note: string | null;
  tone: "muted" | "warn" | "error";
  rows: PeerDocRow[];
}

/** Shared docs: most recently updated first, then by title, then id. */
export function sortPeerDocs<T extends Pick<DocSummary, "id" | "title" | "updated">>(docs: readonly T[]): T[] {
  return [...docs].sort(
    (a, b) =>
      (b.updated ?? 0) - (a.updated ?? 0) ||
      collator.compare(displayTitle(a.title), displayTitle(b.title)) ||
      (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  );
}

/**
 * What the expanded peer shows: its shared docs when it can be reached, else
 * the local copies of its docs (which stay editable here) and why.
 * `localCopies` = documents on this device that sync with this peer.
 */
export function peerDocsView(
  peer: Pick<PeerInfo, "name" | "online" | "certificate_changed">,
  state: PeerDocsState | undefined,
  localIds: ReadonlySet<string>,
  localCopies: readonly Pick<DocSummary, "id" | "title">[],
  now: number,
): PeerDocsView {
  const copyRows = (): PeerDocRow[] =>
    [...localCopies]
      .sort((a, b) => collator.compare(displayTitle(a.title), displayTitle(b.title)) || (a.id < b.id ? -1 : 1))
      .map((d) => ({ id: d.id, title: displayTitle(d.title), meta: "on this device", local: true }));
  if (peer.certificate_changed) {
    const rows = copyRows();
    return {
      note: rows.length
        ? `Copies on this device stay editable; they do not sync with ${peer.name} until you forget it and it is trusted again.`
        : `Nothing is fetched from ${peer.name} while its certificate is refused.`,
      tone: "warn",
      rows,
    };
  }
  if (!peer.online) {
    const rows = copyRows();
    return {
      note: rows.length
        ? `${peer.name} is offline. Its documents on this device stay editable and sync when it is back.`
        : `${peer.name} is offline.`,
      tone: "muted",
      rows,
    };
  }
  const docs = state?.docs;
  if (!docs) {
    if (state?.error) return { note: state.error, tone: "error", rows: copyRows() };
    return { note: "Loading shared documents…", tone: "muted", rows: [] };
  }
  const rows = sortPeerDocs(docs).map((d) => {
    const local = localIds.has(d.id);
    return {
      id: d.id,
      title: displayTitle(d.title),
      meta: local ? "on this device" : `${formatUpdated(d.updated, now)} · ${formatSize(d.size)}`,
      local,
    };
  });
  if (state?.error) return { note: state.error, tone: "error", rows };
  if (rows.length === 0) return { note: `${peer.name} shares no documents.`, tone: "muted", rows };
  return { note: state?.loading ? "Refreshing…" : null, tone: "muted", rows };
}

/** A friendlier message for a failed `peerDocs` / `openPeerDoc`, by its error code. */
export function peerErrorMessage(peer: Pick<PeerInfo, "name">, code: Code, message: string): string {
  switch (code) {
    case "remote":
      return `Cannot reach ${peer.name} right now (${message}).`;
    case "offline":
      return `${peer.name} is offline.`;
    case "not-found":
      return `${peer.name} is no longer known here.`;
    default:
      return message;
  }
}

/** Whether a failed peer call means the peer list is stale (certificate changed, forgotten, offline). */
export function peerStateChanged(code: Code): boolean {
  return code === "certificate-changed" || code === "not-found" || code === "offline";
}

// ---- share policies ------------------------------------------------------------------------------

export const SHARE_POLICIES: readonly SharePolicy[] = ["private", "lan", "link"];

export const SHARE_LABEL: Record<SharePolicy, string> = {
  private: "Private",
  lan: "Shared on LAN",
  link: "Anyone with the link",
};

/** One-line explanations shown next to the share control. */
export const SHARE_HINT: Record<SharePolicy, string> = {
  private: "Only this device.",
  lan: "Listed for and syncable by peers on your network.",
  link: "Anyone with the link can sync; not listed.",
};

export function isSharePolicy(v: unknown): v is SharePolicy {
  return v === "private" || v === "lan" || v === "link";
}

/** Badge for the document list: only shared documents get one. */
export function shareBadge(policy: SharePolicy | undefined): { text: string; title: string } | null {
  switch (policy) {
    case "lan":
      return { text: "LAN", title: `Shared: ${SHARE_HINT.lan}` };
    case "link":
      return { text: "Link", title: `Shared: ${SHARE_HINT.link}` };
    default:
      return null;
  }
}
