// The ONE interface between the UI and whatever hosts the Tandem core.
// Two implementations, picked at start-up (see ./index.ts):
//   WebBackend   – HTTP + WebSocket to `tandem serve` (same origin)
//   TauriBackend – `invoke` + `Channel` inside the desktop app
// Everything above this layer (model, views) is transport-agnostic.
import type { DiffEntry, HistoryEdit, Timeline } from "../model/history";
import type { Prop } from "../model/path";
import type { SessionInfo } from "./session";

export type { SessionInfo } from "./session";

/**
 * Who may see and sync a document (enforced by the server):
 * `private` = only this device; `lan` = listed for and syncable by peers on the
 * network; `link` = syncable by anyone who knows its id, but not listed.
 */
export type SharePolicy = "private" | "lan" | "link";

/** An entry of `GET /_docs` (and of `GET /_peers/{id}/docs`). */
export interface DocSummary {
  id: string;
  title: string | null;
  heads: string[];
  size: number;
  /** ms since the epoch */
  updated: number;
  /** Absent from backends that predate share policies. */
  share?: SharePolicy;
  /** Sync streams connected into this instance on it now (not the UI's own editors). */
  incoming?: number;
}

/**
 * `stopped`: the remote task ended; `removed`: the last event of a remote that
 * was removed (drop it from lists). `error` is only used by older backends.
 */
export type RemoteState = "connecting" | "live" | "reconnecting" | "error" | "stopped" | "removed";

/** A live incoming connection of a document (`GET /_docs/{id}/connections`, owner only). */
export interface IncomingConnection {
  /** Opaque; what its ephemeral messages carry as `from`. */
  id: string;
  /** `ip:port`, or what names it (`app`, `ui`). */
  peer: string;
  user: string | null;
  /** `HTTP/1.1`, `HTTP/2+tls`, `WebSocket`, … */
  protocol: string;
  since_ms: number;
  bytes_in: number;
  bytes_out: number;
  heads: string[];
  /** Our changes the peer lacks, by the heads it advertised. */
  lag_changes: number;
  last_message_ms: number | null;
  ephemeral: boolean;
}

/** An entry of `GET /_remotes` / payload of the `remote` event. */
export interface RemoteInfo {
  id: string;
  doc_id: string;
  url: string;
  state: RemoteState;
  retry_in_ms: number | null;
  error: string | null;
  in_sync: boolean;
  /** The pinned certificate fingerprint, if any. */
  fingerprint?: string | null;
  /** The LAN peer this remote belongs to (opened from the peers panel). */
  peer_id?: string | null;
  /** In `error`: what kind of failure, so the fix can be offered in place. */
  problem?: RemoteProblem | null;
  /** Traffic of this run (sync message bytes). */
  bytes_in?: number;
  bytes_out?: number;
  /** When both sides last held the same changes (ms since the epoch). */
  last_synced_ms?: number | null;
}

/** One interval of a document's activity. */
export interface ActivityRate {
  at_ms: number;
  changes_per_s: number;
  bytes_per_s: number;
}

/** `GET /_activity`: every connection in and out, each open document's recent activity. */
export interface ActivityReport {
  docs: {
    id: string;
    title: string | null;
    totals: { changes: number; bytes: number };
    rates: ActivityRate[];
    incoming: IncomingConnection[];
  }[];
  remotes: RemoteInfo[];
}

/** Why a remote stopped (`state: "error"`). */
export type RemoteProblem =
  | { kind: "certificate"; presented: string | null }
  | { kind: "unauthorized" }
  | { kind: "forbidden" }
  | { kind: "not-found" }
  | { kind: "gone" }
  | { kind: "unreachable" }
  | { kind: "other" };

/** A place where a searched text occurs. */
export interface SearchHit {
  id: string;
  title: string | null;
  /** Where in the document, e.g. `/body`. */
  path: string;
  /** The match with the words around it. */
  snippet: string;
}

/** `GET /_search`. */
export interface SearchResults {
  hits: SearchHit[];
  /** Documents not searched (too large or unreadable). */
  skipped: number;
}

/** What may change on an existing remote. */
export interface RemoteUpdate {
  token?: string | null;
  fingerprint?: string | null;
}

/** An entry of `GET /_peers`: a LAN peer, discovered now or remembered. */
export interface PeerInfo {
  /** Stable peer id. */
  id: string;
  /** Display name. */
  name: string;
  /** Where it was last seen (IPv4/IPv6 literals). */
  addresses: string[];
  /** Its sync port (0 if never seen since start-up). */
  port: number;
  /** The certificate fingerprint pinned for it on first use. */
  fingerprint: string;
  /** The user confirmed the verification code. */
  verified: boolean;
  /** On the network now. */
  online: boolean;
  /** ms since the epoch; 0 = not seen since this instance started. */
  last_seen: number;
  /** It now announces another certificate than the pinned one: connections are refused. */
  certificate_changed: boolean;
  /** The certificate it announces now, when that differs from the pinned one. */
  announced_fingerprint: string | null;
  /** Six digits ("123 456") both sides show; compare them to verify. */
  code: string;
  /** Its protocol version. */
  version: string;
}

/** Body of `POST /_remotes`. `doc_id: null` = "open from server" (make a local copy). */
export interface AddRemoteRequest {
  url: string;
  doc_id: string | null;
  token: string | null;
  fingerprint: string | null;
  trust: boolean;
}

/** What adding a remote answers (with `wait`: `state` is `live`, or `error` with `problem` and the remote not kept). */
export type AddRemoteResult = RemoteInfo;

/** `GET /_health`. */
export interface Health {
  ok: boolean;
  version: string;
  listen: string;
  /** Where the documents are kept (the owner only). */
  data_dir?: string | null;
}

export type BackendEvent =
  | { event: "docs-changed" }
  | { event: "remote"; remote: RemoteInfo }
  /** The LAN peer list changed: refetch `listPeers()`. */
  | { event: "peers-changed" };

/** State of the UI ↔ backend link of one document (or of the event stream). */
export type LinkStatus =
  | { state: "connecting" }
  | { state: "open" }
  | { state: "reconnecting"; retryInMs: number; attempt: number; error?: string }
  | { state: "closed" };

export interface DocChannelHandlers {
  /** The link is (re)established: the peer starts a fresh sync session. */
  onOpen(): void;
  /** One protocol line (`{"event":"sync",...}` etc.) from the backend. */
  onLine(line: string): void;
  /** Link status changes (for the UI; reconnection is the channel's job). */
  onStatus?(status: LinkStatus): void;
}

/** A bidirectional line channel for one document's sync session. */
export interface DocChannel {
  /** Send one protocol line; returns false if the link is currently down. */
  send(line: string): boolean;
  /** Close for good (no reconnect). */
  close(): void;
}

/** The desktop app on the local network. */
export interface LanStatus {
  /** Stay on the LAN even with nothing shared. */
  enabled: boolean;
  /** Advertise and find peers by mDNS while on the LAN. */
  discovery: boolean;
  /** The name other peers see. */
  name: string;
  /** Whether the app listens on the LAN now (something is shared, or enabled). */
  listening: boolean;
  url: string | null;
  /** `url` with this machine's LAN address instead of 0.0.0.0 (what links to share use). */
  link_url?: string | null;
  presence: { id: string; name: string } | null;
  /** This device's certificate fingerprint. */
  fingerprint: string;
}

/** One thing the desktop app was asked to open (its command line, or a second launch's). */
export type LaunchRequest =
  | { kind: "open-link"; url: string; fingerprint: string | null }
  | { kind: "imported"; id: string; path: string }
  | { kind: "failed"; message: string };

/** What happened to one remote copy of a document deleted everywhere. */
export interface RemoteDeletion {
  url: string;
  deleted: boolean;
  error?: string | null;
}

export interface Backend {
  readonly kind: "web" | "tauri";
  listDocs(): Promise<DocSummary[]>;
  createDoc(title: string): Promise<string>;
  /**
   * Delete a document here (a tombstone keeps peers from bringing it back);
   * with `everywhere`, also on every server it syncs with. Resolves with what
   * happened to each remote copy (empty when not `everywhere`).
   */
  deleteDoc(id: string, everywhere?: boolean): Promise<RemoteDeletion[]>;
  exportDoc(id: string): Promise<Uint8Array>;
  importDoc(bytes: Uint8Array): Promise<string>;
  /** Open the sync channel of a document. Reconnects by itself until closed. */
  openDoc(id: string, handlers: DocChannelHandlers): DocChannel;
  listRemotes(): Promise<RemoteInfo[]>;
  /** Who is connected *into* this instance on a document (owner only; absent where unknown). */
  docConnections?(id: string): Promise<IncomingConnection[]>;
  /** `wait`: answer once the first connection is live or failed (a failed one is not kept). */
  addRemote(req: AddRemoteRequest, opts?: { wait?: boolean }): Promise<AddRemoteResult>;
  removeRemote(id: string): Promise<void>;
  /** Connect again now. */
  retryRemote(id: string): Promise<RemoteInfo>;
  /** The OS user's name, for the default profile (the desktop app). */
  osUserName?(): Promise<string | null>;
  /** Opens the data folder in the file manager (the desktop app). */
  openDataFolder?(): Promise<void>;
  /** Every connection in and out, and each open document's recent activity. */
  activity(): Promise<ActivityReport>;
  /** Searches the text of every document. */
  search(query: string): Promise<SearchResults>;
  /** Opens an http(s)/mailto link in the system's default app (the desktop app; the browser opens a tab instead). */
  openExternal?(url: string): Promise<void>;
  /** Sets the native window's title, where there is one (the desktop app). */
  setWindowTitle?(title: string): void;
  /** A new token or pinned certificate, then connect again. */
  updateRemote(id: string, update: RemoteUpdate): Promise<RemoteInfo>;
  health(): Promise<Health>;
  /** Discovered and remembered LAN peers (empty when discovery is off). */
  listPeers(): Promise<PeerInfo[]>;
  /** The documents a peer shares. Fails (409) if its certificate changed or it is offline, 502 if unreachable. */
  peerDocs(peerId: string): Promise<DocSummary[]>;
  /** A local copy of a peer's document (same id) that stays in live sync both ways. */
  openPeerDoc(peerId: string, docId: string): Promise<RemoteInfo>;
  /** The user confirmed the peer's verification code. */
  verifyPeer(peerId: string): Promise<PeerInfo>;
  /** Forget the peer's pinned certificate (accept its new one after a legitimate change). */
  forgetPeer(peerId: string): Promise<void>;
  /** Set a document's share policy. */
  setShare(docId: string, policy: SharePolicy): Promise<void>;
  /** A document's timeline: its changes grouped into edit bursts. */
  docHistory(docId: string): Promise<Timeline>;
  /** The document as JSON as it was at `heads`. */
  docAt(docId: string, heads: readonly string[]): Promise<unknown>;
  /** What changed from `from` to `to` (Automerge's patches). */
  docDiff(docId: string, from: readonly string[], to: readonly string[]): Promise<DiffEntry[]>;
  /** Make the document (or the field at `path`) what it was at `heads`, as a new change. */
  restoreVersion(docId: string, heads: readonly string[], path?: readonly Prop[]): Promise<HistoryEdit>;
  /** Keep the value `choice` (an op id) of the conflict at `path`, as a new change. */
  resolveConflict(docId: string, path: readonly Prop[], choice: string): Promise<HistoryEdit>;
  /** The desktop app's presence on the local network (absent in a browser: `tandem serve` is configured by flags). */
  lanStatus?(): Promise<LanStatus>;
  /** Change LAN settings (desktop app only); each field optional. */
  setLanSettings?(change: Partial<Pick<LanStatus, "enabled" | "discovery" | "name">>): Promise<LanStatus>;
  /**
   * Who the browser is signed in as (web backend only: the desktop app has no
   * sign-in). Sends the page to sign in when the session is gone.
   */
  session?(): Promise<SessionInfo>;
  /** End the browser session and go to the sign-in page (web backend only). */
  signOut?(): Promise<void>;
  /**
   * Desktop app: asks where to save (the system's save dialog) and writes the
   * document there; the path written, or null when the user cancelled.
   */
  exportToFile?(id: string, title: string): Promise<string | null>;
  /** Desktop app: asks which file to import (the system's open dialog); null when cancelled. */
  importFromFile?(): Promise<{ id: string; path: string } | null>;
  /**
   * Desktop app: what the app was asked to open from outside (a `tandem://`
   * link, an `.automerge` file), now and whenever it happens later. Returns unsubscribe.
   */
  onLaunchRequests?(handler: (requests: LaunchRequest[]) => void): () => void;
  /** Backend-wide events; `onStatus` reports the event link itself. Returns unsubscribe. */
  subscribe(onEvent: (ev: BackendEvent) => void, onStatus?: (s: LinkStatus) => void): () => void;
}

/** Error carrying the backend's `{"error": ...}` message (and HTTP status, if any). */
export class BackendError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = "BackendError";
  }
}
