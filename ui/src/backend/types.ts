// The ONE interface between the UI and whatever hosts the Tandem core.
// Two implementations, picked at start-up (see ./index.ts):
//   WebBackend   – HTTP + WebSocket to `tandem serve` (same origin)
//   TauriBackend – `invoke` + `Channel` inside the desktop app
// Everything above this layer (model, views) is transport-agnostic.

import type { ActivityReport } from "../generated/ActivityReport";
import type { Code } from "../generated/Code";
import type { ConnectionInfo as IncomingConnection } from "../generated/ConnectionInfo";
import type { DocListing } from "../generated/DocListing";
import type { PeerInfo } from "../generated/PeerInfo";
import type { Problem as RemoteProblem } from "../generated/Problem";
import type { Rate as ActivityRate } from "../generated/Rate";
import type { RemoteInfo } from "../generated/RemoteInfo";
import type { RemoteSpec as AddRemoteRequest } from "../generated/RemoteSpec";
import type { RemoteUpdate } from "../generated/RemoteUpdate";
import type { SearchHit } from "../generated/SearchHit";
import type { SearchResults } from "../generated/SearchResults";
import type { ServiceEvent as BackendEvent } from "../generated/ServiceEvent";
import type { SharePolicy } from "../generated/SharePolicy";
import type { DiffEntry, HistoryEdit, Timeline } from "../model/history";
import type { Prop } from "../model/path";
import type { SessionInfo } from "./session";

export type { Code } from "../generated/Code";
export type { ErrorBody } from "../generated/ErrorBody";

export type { SessionInfo } from "./session";

// The shapes the backend sends are generated from the Rust types (ts-rs,
// `scripts/gen-types.sh`); only what older backends may leave out is loosened here.

/** Who may see and sync a document (`private`, `lan`, `link`; enforced by the server). */
/** Why a remote stopped (`state: "error"`). */
/** A live incoming connection of a document (`GET /_docs/{id}/connections`, owner only). */
/** One interval of a document's activity. */
/** `GET /_activity`: every connection in and out, each open document's recent activity. */
/** `GET /_search`. */
export type {
  ActivityRate,
  ActivityReport,
  IncomingConnection,
  PeerInfo,
  RemoteInfo,
  RemoteProblem,
  SearchHit,
  SearchResults,
  SharePolicy,
};

/**
 * An entry of `GET /_docs` (and of `GET /_peers/{id}/docs`): `share` and
 * `incoming` are absent from backends that predate them.
 */
export type DocSummary = Omit<DocListing, "share" | "incoming"> & Partial<Pick<DocListing, "share" | "incoming">>;

/**
 * `stopped`: the remote task ended; `removed`: the last event of a remote that
 * was removed (drop it from lists).
 */
export type RemoteState = RemoteInfo["state"];

/** What may change on an existing remote. */
/** Body of `POST /_remotes`. `doc_id: null` = "open from server" (make a local copy). */
export type { AddRemoteRequest, RemoteUpdate };

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

/** Backend-wide events (`peers-changed`: refetch `listPeers()`). */
export type { BackendEvent };

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

/**
 * A failed backend call: the backend's `{code, message}` (the same codes over
 * HTTP and Tauri IPC; `ui/src/generated/Code.ts`). Views switch on `code`,
 * never on `status` (HTTP only, for the transport's own use) or the text.
 */
export class BackendError extends Error {
  constructor(
    message: string,
    readonly code: Code,
    readonly status?: number,
  ) {
    super(message);
    this.name = "BackendError";
  }
}

/** The code of a failure (`internal` for anything that is not a {@link BackendError}). */
export function errorCode(e: unknown): Code {
  return e instanceof BackendError ? e.code : "internal";
}

/** Whether `v` is one of the contract's codes. */
export function isCode(v: unknown): v is Code {
  return typeof v === "string" && (CODES as readonly string[]).includes(v);
}

/** Every code; `satisfies` makes tsc fail when one is missing or unknown. */
const CODES = [
  "bad-input",
  "bad-document",
  "unauthorized",
  "forbidden",
  "cross-origin",
  "not-found",
  "method-not-allowed",
  "not-acceptable",
  "conflict",
  "certificate-changed",
  "deleted",
  "too-large",
  "unsupported-media-type",
  "misdirected-host",
  "internal",
  "remote",
  "offline",
  "unavailable",
  "shutting-down",
  "disk-full",
  "not-open",
  "dialog",
  "file",
] as const satisfies readonly Code[];
type MissingCode = Exclude<Code, (typeof CODES)[number]>;
/** Fails to compile when a generated code is missing from {@link CODES}. */
const NO_MISSING_CODE: MissingCode extends never ? true : never = true;
void NO_MISSING_CODE;
