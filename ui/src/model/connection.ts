// Connection-state logic and formatting: remote servers, the per-document
// sync dot in the sidebar, the UI↔backend link, and reconnect backoff.
import type { LinkStatus, RemoteInfo } from "../backend/types";

/** Exponential backoff with a cap: 0.5 s, 1 s, 2 s, 4 s, 8 s, 10 s, 10 s… */
export function backoffDelay(attempt: number, baseMs = 500, maxMs = 10_000): number {
  const a = Math.max(0, Math.floor(attempt));
  return Math.min(maxMs, baseMs * 2 ** Math.min(a, 20));
}

/** Seconds left before a retry, given `retry_in_ms` as received at `receivedAt`. */
export function retrySecondsLeft(retryInMs: number, receivedAt: number, now: number): number {
  return Math.max(0, Math.ceil((retryInMs - (now - receivedAt)) / 1000));
}

/**
 * "connecting…", "live", "reconnecting in 3 s", "error: certificate mismatch";
 * with what could not be saved, when the remote's settings were not saved.
 */
export function formatRemoteState(
  r: Pick<RemoteInfo, "state" | "retry_in_ms" | "error"> & Partial<Pick<RemoteInfo, "save_error">>,
  receivedAt: number,
  now: number,
): string {
  const state = remoteStateText(r, receivedAt, now);
  return r.save_error ? `${state} (not saved: ${r.save_error})` : state;
}

function remoteStateText(r: Pick<RemoteInfo, "state" | "retry_in_ms" | "error">, receivedAt: number, now: number): string {
  switch (r.state) {
    case "connecting":
      return "connecting…";
    case "live":
      return "live";
    case "reconnecting": {
      if (r.retry_in_ms === null || r.retry_in_ms === undefined) return "reconnecting…";
      const s = retrySecondsLeft(r.retry_in_ms, receivedAt, now);
      return s > 0 ? `reconnecting in ${s} s` : "reconnecting…";
    }
    case "error":
      return r.error ? `error: ${r.error}` : "error";
    case "stopped":
      return "stopped";
    case "removed":
      return "removed";
    default:
      return String(r.state);
  }
}

/** The sidebar dot of a document, summarising its remote connections. */
export type DocSyncState = "local" | "incoming" | "connecting" | "live" | "in-sync" | "reconnecting" | "error";

/**
 * `incoming`: sync streams connected into this instance on the document
 * (other devices, the CLI); with no remote of its own, those are what make it
 * not "local only".
 */
export function docSyncState(all: readonly Pick<RemoteInfo, "state" | "in_sync">[], incoming = 0): DocSyncState {
  // stopped and removed remotes no longer sync anything
  const remotes = all.filter((r) => r.state !== "stopped" && r.state !== "removed");
  if (remotes.length === 0) return incoming > 0 ? "incoming" : "local";
  if (remotes.some((r) => r.state === "error")) return "error";
  if (remotes.some((r) => r.state === "reconnecting")) return "reconnecting";
  if (remotes.some((r) => r.state === "connecting")) return "connecting";
  return remotes.every((r) => r.in_sync) ? "in-sync" : "live";
}

export const DOC_SYNC_LABEL: Record<DocSyncState, string> = {
  local: "Local only",
  incoming: "Synced by connected peers",
  connecting: "Connecting",
  live: "Live (syncing)",
  "in-sync": "In sync",
  reconnecting: "Reconnecting",
  error: "Connection error",
};

export interface RemoteEntry {
  info: RemoteInfo;
  /** When this state was received (for "reconnecting in N s" countdowns). */
  receivedAt: number;
  /** Order of arrival, to tell a list fetched earlier from an event received later. */
  seq: number;
}

/**
 * The remotes as the UI knows them, from `GET /_remotes` listings and
 * `remote` events. A listing is older than any event that arrived while it
 * was being fetched (events and listings travel on different connections),
 * so such events win: a stale listing never undoes a newer state (e.g. the
 * "in sync" that arrived just before it) nor brings back a removed remote.
 */
export class RemoteTable {
  private seq = 0;
  private entries = new Map<string, RemoteEntry>();
  /** Remotes removed by an event: id → seq of the removal. */
  private readonly removedAt = new Map<string, number>();

  get size(): number {
    return this.entries.size;
  }

  has(id: string): boolean {
    return this.entries.has(id);
  }

  get(id: string): RemoteEntry | undefined {
    return this.entries.get(id);
  }

  values(): IterableIterator<RemoteEntry> {
    return this.entries.values();
  }

  /** Call before fetching a listing; pass the result to {@link applyList}. */
  mark(): number {
    return this.seq;
  }

  /** One `remote` event (or a local removal): returns whether the remote is (still) listed. */
  applyEvent(info: RemoteInfo, now: number): boolean {
    const seq = ++this.seq;
    if (info.state === "removed") {
      this.entries.delete(info.id);
      this.removedAt.set(info.id, seq);
      return false;
    }
    this.entries.set(info.id, { info, receivedAt: now, seq });
    return true;
  }

  /** The remote was removed here (its DELETE succeeded). */
  remove(id: string): void {
    const e = this.entries.get(id);
    if (e) this.applyEvent({ ...e.info, state: "removed" }, Date.now());
    else this.removedAt.set(id, ++this.seq);
  }

  /** A listing requested at `since` (see {@link mark}). */
  applyList(list: readonly RemoteInfo[], since: number, now: number): void {
    const next = new Map<string, RemoteEntry>();
    for (const r of list) {
      if ((this.removedAt.get(r.id) ?? -1) > since || r.state === "removed") continue;
      const cur = this.entries.get(r.id);
      next.set(r.id, cur && cur.seq > since ? cur : { info: r, receivedAt: now, seq: since });
    }
    // added (by an event) after the listing was made
    for (const [id, cur] of this.entries) if (!next.has(id) && cur.seq > since) next.set(id, cur);
    this.entries = next;
    for (const [id, seq] of this.removedAt) if (seq <= since) this.removedAt.delete(id);
  }
}

export function remotesForDoc<T extends Pick<RemoteInfo, "doc_id">>(remotes: Iterable<T>, docId: string): T[] {
  return [...remotes].filter((r) => r.doc_id === docId);
}

/** Host (and port) of a remote URL for compact display; falls back to the input. */
export function remoteHost(url: string): string {
  try {
    return new URL(url).host || url;
  } catch {
    return url;
  }
}

/**
 * The document id an "Open from server" URL refers to: its last non-empty path
 * segment (`https://host:7450/abc123` → `abc123`), or for an automerge-repo
 * server the id of its `automerge:` URL (`ws://host:3030/automerge:4NMN…` →
 * `4NMN…`). Null if there is none.
 */
export function docIdFromUrl(url: string): string | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return null;
  }
  const seg = u.pathname.split("/").filter(Boolean).pop();
  const last = seg ? decodeURIComponent(seg) : null;
  if (u.protocol === "ws:" || u.protocol === "wss:") {
    const id = last?.startsWith(AUTOMERGE_PREFIX) ? last.slice(AUTOMERGE_PREFIX.length) : "";
    return /^[1-9A-HJ-NP-Za-km-z]{20,}$/.test(id) ? id : null;
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") return null;
  return last;
}

const AUTOMERGE_PREFIX = "automerge:";

/** The automerge-repo URL of a document id minted by Tandem (bs58 of 16 bytes), or null for other ids. */
export function automergeUrl(docId: string): string | null {
  return /^[1-9A-HJ-NP-Za-km-z]{22,30}$/.test(docId) ? `${AUTOMERGE_PREFIX}${docId}` : null;
}

/** Validate the "Open from server…" / "Sync with server…" form; returns an error message or null. */
export function validateRemoteUrl(url: string, needDocId: boolean): string | null {
  const t = url.trim();
  if (!t) return "Enter the server URL.";
  let u: URL;
  try {
    u = new URL(t);
  } catch {
    return "That is not a valid URL (expected e.g. https://host:7450/<doc id>).";
  }
  if (u.protocol === "ws:" || u.protocol === "wss:") {
    if (!docIdFromUrl(t))
      return "An automerge-repo server's URL ends with the document's automerge URL, e.g. ws://host:3030/automerge:<id>.";
    return null;
  }
  if (u.protocol !== "http:" && u.protocol !== "https:")
    return "The URL must start with https:// or http:// (a Tandem server), or ws:// or wss:// (an automerge-repo server).";
  if (needDocId && !docIdFromUrl(t)) return "The URL must end with the document id, e.g. https://host:7450/<doc id>.";
  return null;
}

/** Short text for the UI↔backend link of the open document / event stream. */
export function formatLinkStatus(s: LinkStatus, since: number, now: number): string {
  switch (s.state) {
    case "connecting":
      return "Connecting to Tandem…";
    case "open":
      return "Connected";
    case "closed":
      return "Disconnected";
    case "reconnecting": {
      const left = retrySecondsLeft(s.retryInMs, since, now);
      return left > 0 ? `Connection lost — reconnecting in ${left} s` : "Connection lost — reconnecting…";
    }
  }
}
