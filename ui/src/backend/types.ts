// The ONE interface between the UI and whatever hosts the Tandem core.
// Two implementations, picked at start-up (see ./index.ts):
//   WebBackend   – HTTP + WebSocket to `tandem serve` (same origin)
//   TauriBackend – `invoke` + `Channel` inside the desktop app
// Everything above this layer (model, views) is transport-agnostic.

/** An entry of `GET /_docs`. */
export interface DocSummary {
  id: string;
  title: string | null;
  heads: string[];
  size: number;
  /** ms since the epoch */
  updated: number;
}

export type RemoteState = "connecting" | "live" | "reconnecting" | "error";

/** An entry of `GET /_remotes` / payload of the `remote` event. */
export interface RemoteInfo {
  id: string;
  doc_id: string;
  url: string;
  state: RemoteState;
  retry_in_ms: number | null;
  error: string | null;
  in_sync: boolean;
}

/** Body of `POST /_remotes`. `doc_id: null` = "open from server" (make a local copy). */
export interface AddRemoteRequest {
  url: string;
  doc_id: string | null;
  token: string | null;
  fingerprint: string | null;
  trust: boolean;
}

export interface AddRemoteResult {
  id: string;
  doc_id: string;
}

/** `GET /_health`. */
export interface Health {
  ok: boolean;
  version: string;
  listen: string;
}

export type BackendEvent = { event: "docs-changed" } | { event: "remote"; remote: RemoteInfo };

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

export interface Backend {
  readonly kind: "web" | "tauri";
  listDocs(): Promise<DocSummary[]>;
  createDoc(title: string): Promise<string>;
  deleteDoc(id: string): Promise<void>;
  exportDoc(id: string): Promise<Uint8Array>;
  importDoc(bytes: Uint8Array): Promise<string>;
  /** Open the sync channel of a document. Reconnects by itself until closed. */
  openDoc(id: string, handlers: DocChannelHandlers): DocChannel;
  listRemotes(): Promise<RemoteInfo[]>;
  addRemote(req: AddRemoteRequest): Promise<AddRemoteResult>;
  removeRemote(id: string): Promise<void>;
  health(): Promise<Health>;
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
