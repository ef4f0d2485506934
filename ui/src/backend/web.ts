// WebBackend: HTTP + WebSocket to `tandem serve`. The API lives at the page
// origin (the UI itself is served under `/_ui/`). The browser is signed in by
// an HttpOnly session cookie (see ./session.ts); when the session is gone the
// page goes to `/_signin`.
import { backoffDelay } from "../model/connection";
import type { DiffEntry, HistoryEdit, Timeline } from "../model/history";
import type { Prop } from "../model/path";
import { parseSession, SESSION_PATH, type SessionInfo, SessionWatch, SIGN_IN_PATH, SIGN_OUT_PATH } from "./session";
import {
  type ActivityReport,
  type AddRemoteRequest,
  type AddRemoteResult,
  type Backend,
  BackendError,
  type BackendEvent,
  type Code,
  type DocChannel,
  type DocChannelHandlers,
  type DocSummary,
  type Health,
  type IncomingConnection,
  isCode,
  type LinkStatus,
  type PeerInfo,
  type RemoteDeletion,
  type RemoteInfo,
  type RemoteUpdate,
  type SearchResults,
  type SharePolicy,
} from "./types";

/**
 * The server's `{code, message}` as a {@link BackendError}. An answer without
 * a code did not come from Tandem (a proxy, a page): `remote`, with its text.
 */
export async function errorFrom(res: Response): Promise<BackendError> {
  let message = `${res.status} ${res.statusText}`.trim();
  let code: Code = "remote";
  try {
    const text = await res.text();
    if (text) {
      try {
        const j = JSON.parse(text) as { code?: unknown; message?: unknown; error?: unknown };
        if (j && isCode(j.code)) code = j.code;
        if (j && typeof j.message === "string") message = j.message;
        else if (j && typeof j.error === "string") message = j.error;
        else message = text.slice(0, 300);
      } catch {
        message = text.slice(0, 300);
      }
    }
  } catch {
    /* keep status text */
  }
  return new BackendError(message, code, res.status);
}

/**
 * A WebSocket that reconnects with exponential backoff until closed.
 * Used for `/_ws/{id}` (doc sync) and `/_events`.
 */
class ReconnectingSocket {
  private ws: WebSocket | null = null;
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private closed = false;

  constructor(
    private readonly url: string,
    private readonly h: {
      onOpen(): void;
      onMessage(data: string): void;
      onStatus(s: LinkStatus): void;
      onDown?(): void;
      /** The server closed the socket before it ever opened (refused, or unreachable). */
      onRefused?(): void;
    },
    private readonly Socket: typeof WebSocket = globalThis.WebSocket,
  ) {
    this.h.onStatus({ state: "connecting" });
    this.connect();
  }

  private connect(): void {
    if (this.closed) return;
    let ws: WebSocket;
    try {
      ws = new this.Socket(this.url);
    } catch (e) {
      this.scheduleReconnect(String(e));
      return;
    }
    this.ws = ws;
    let opened = false;
    ws.onopen = () => {
      opened = true;
      if (this.closed) return;
      this.attempt = 0;
      this.h.onStatus({ state: "open" });
      this.h.onOpen();
    };
    ws.onmessage = (ev) => {
      if (this.closed || typeof ev.data !== "string") return;
      // tolerate several ndjson lines in one frame
      for (const line of ev.data.split("\n")) if (line.trim()) this.h.onMessage(line);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.h.onDown?.();
      if (!opened) this.h.onRefused?.();
      this.scheduleReconnect(ev.reason || undefined);
    };
    ws.onerror = () => {
      /* onclose follows */
    };
  }

  private scheduleReconnect(error?: string): void {
    if (this.closed) return;
    const delay = backoffDelay(this.attempt);
    this.attempt++;
    this.h.onStatus({ state: "reconnecting", retryInMs: delay, attempt: this.attempt, error });
    this.timer = setTimeout(() => {
      this.timer = null;
      this.h.onStatus({ state: "connecting" });
      this.connect();
    }, delay);
  }

  send(line: string): boolean {
    if (!this.ws || this.ws.readyState !== this.Socket.OPEN) return false;
    this.ws.send(line);
    return true;
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onclose = ws.onmessage = ws.onopen = null;
      try {
        ws.close();
      } catch {
        /* ignore */
      }
    }
    this.h.onStatus({ state: "closed" });
  }
}

/** Options of a {@link WebBackend} (defaults are the browser's). */
export interface WebBackendOptions {
  /** Leave for the sign-in page (default: `location.assign(origin + "/_signin")`). */
  goToSignIn?: () => void;
  /** The WebSocket class (default: the global one). */
  WebSocket?: typeof WebSocket;
}

export class WebBackend implements Backend {
  readonly kind = "web" as const;
  private readonly base: string;
  private readonly Socket: typeof WebSocket;
  /** Sends the page to sign in once the session is gone. */
  readonly sessionWatch: SessionWatch;

  constructor(origin: string = location.origin, options: WebBackendOptions = {}) {
    this.base = origin.replace(/\/+$/, "");
    this.Socket = options.WebSocket ?? globalThis.WebSocket;
    const goToSignIn = options.goToSignIn ?? (() => location.assign(this.url(SIGN_IN_PATH)));
    this.sessionWatch = new SessionWatch({
      fetchSession: async () => {
        const res = await fetch(this.url(SESSION_PATH), { headers: { Accept: "application/json" }, cache: "no-store" });
        let body: unknown = null;
        try {
          body = await res.json();
        } catch {
          /* not JSON */
        }
        return { status: res.status, body };
      },
      goToSignIn,
    });
  }

  private url(path: string): string {
    return this.base + path;
  }

  private wsUrl(path: string): string {
    return this.url(path).replace(/^http/, "ws");
  }

  private async request(path: string, init: RequestInit = {}): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(this.url(path), init);
    } catch (e) {
      throw new BackendError(`Cannot reach the Tandem server (${(e as Error).message ?? e}).`, "unavailable");
    }
    if (!res.ok) {
      this.sessionWatch.onStatus(res.status);
      throw await errorFrom(res);
    }
    return res;
  }

  private socket(path: string, h: ConstructorParameters<typeof ReconnectingSocket>[1]): ReconnectingSocket {
    return new ReconnectingSocket(this.wsUrl(path), { ...h, onRefused: () => void this.sessionWatch.check() }, this.Socket);
  }

  async session(): Promise<SessionInfo> {
    const s = parseSession(await this.json<unknown>(SESSION_PATH, { cache: "no-store" }));
    if (s.name === null) this.sessionWatch.signInAgain();
    return s;
  }

  async signOut(): Promise<void> {
    try {
      // the answer is a redirect to the sign-in page: go there ourselves
      await fetch(this.url(SIGN_OUT_PATH), { method: "POST", redirect: "manual" });
    } catch (e) {
      throw new BackendError(`Cannot reach the Tandem server to sign out (${(e as Error).message ?? e}).`, "unavailable");
    }
    this.sessionWatch.signInAgain();
  }

  private async json<T>(path: string, init: RequestInit = {}): Promise<T> {
    const res = await this.request(path, { ...init, headers: { Accept: "application/json", ...init.headers } });
    return (await res.json()) as T;
  }

  private postJson<T>(path: string, body: unknown): Promise<T> {
    return this.json<T>(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
  }

  listDocs(): Promise<DocSummary[]> {
    return this.json("/_docs");
  }

  async createDoc(title: string): Promise<string> {
    return (await this.postJson<{ id: string }>("/_docs", { title })).id;
  }

  async deleteDoc(id: string, everywhere = false): Promise<RemoteDeletion[]> {
    const path = `/${encodeURIComponent(id)}${everywhere ? "?everywhere=true" : ""}`;
    const res = await this.request(path, { method: "DELETE" });
    if (!everywhere) return [];
    const body = (await res.json()) as { remotes?: RemoteDeletion[] };
    return body.remotes ?? [];
  }

  async exportDoc(id: string): Promise<Uint8Array> {
    const res = await this.request(`/${encodeURIComponent(id)}`, { headers: { Accept: "application/octet-stream" } });
    return new Uint8Array(await res.arrayBuffer());
  }

  async importDoc(bytes: Uint8Array): Promise<string> {
    const r = await this.json<{ id: string }>("/_import", {
      method: "POST",
      headers: { "Content-Type": "application/octet-stream" },
      body: bytes as BodyInit,
    });
    return r.id;
  }

  openDoc(id: string, handlers: DocChannelHandlers): DocChannel {
    // `features=ephemeral`: presence and cursors (docs/protocol-extensions.md).
    const sock = this.socket(`/_ws/${encodeURIComponent(id)}?features=ephemeral`, {
      onOpen: () => handlers.onOpen(),
      onMessage: (line) => handlers.onLine(line),
      onStatus: (s) => handlers.onStatus?.(s),
    });
    return { send: (line) => sock.send(line), close: () => sock.close() };
  }

  listRemotes(): Promise<RemoteInfo[]> {
    return this.json("/_remotes");
  }

  async docConnections(id: string): Promise<IncomingConnection[]> {
    const r = await this.json<{ connections: IncomingConnection[] }>(`/_docs/${encodeURIComponent(id)}/connections`);
    return r.connections;
  }

  addRemote(req: AddRemoteRequest, opts: { wait?: boolean } = {}): Promise<AddRemoteResult> {
    return this.postJson(opts.wait ? "/_remotes?wait=true" : "/_remotes", req);
  }

  async removeRemote(id: string): Promise<void> {
    await this.request(`/_remotes/${encodeURIComponent(id)}`, { method: "DELETE" });
  }

  activity(): Promise<ActivityReport> {
    return this.json("/_activity");
  }

  search(query: string): Promise<SearchResults> {
    return this.json(`/_search?q=${encodeURIComponent(query)}`);
  }

  retryRemote(id: string): Promise<RemoteInfo> {
    return this.postJson(`/_remotes/${encodeURIComponent(id)}/retry`, {});
  }

  async updateRemote(id: string, update: RemoteUpdate): Promise<RemoteInfo> {
    const r = await this.request(`/_remotes/${encodeURIComponent(id)}`, {
      method: "PATCH",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(update),
    });
    return (await r.json()) as RemoteInfo;
  }

  health(): Promise<Health> {
    return this.json("/_health");
  }

  listPeers(): Promise<PeerInfo[]> {
    return this.json("/_peers");
  }

  peerDocs(peerId: string): Promise<DocSummary[]> {
    return this.json(`/_peers/${encodeURIComponent(peerId)}/docs`);
  }

  openPeerDoc(peerId: string, docId: string): Promise<RemoteInfo> {
    return this.postJson(`/_peers/${encodeURIComponent(peerId)}/open`, { doc_id: docId });
  }

  verifyPeer(peerId: string): Promise<PeerInfo> {
    return this.json(`/_peers/${encodeURIComponent(peerId)}/verify`, { method: "POST" });
  }

  async forgetPeer(peerId: string): Promise<void> {
    await this.request(`/_peers/${encodeURIComponent(peerId)}`, { method: "DELETE" });
  }

  async setShare(docId: string, policy: SharePolicy): Promise<void> {
    await this.request(`/_docs/${encodeURIComponent(docId)}/share`, {
      method: "PUT",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ policy }),
    });
  }

  docHistory(docId: string): Promise<Timeline> {
    return this.json(`/_docs/${encodeURIComponent(docId)}/history`, { cache: "no-store" });
  }

  docAt(docId: string, heads: readonly string[]): Promise<unknown> {
    return this.json(`/${encodeURIComponent(docId)}?at=${heads.join(",")}`, { cache: "no-store" });
  }

  docDiff(docId: string, from: readonly string[], to: readonly string[]): Promise<DiffEntry[]> {
    return this.json(`/_docs/${encodeURIComponent(docId)}/diff?from=${from.join(",")}&to=${to.join(",")}`, {
      cache: "no-store",
    });
  }

  restoreVersion(docId: string, heads: readonly string[], path?: readonly Prop[]): Promise<HistoryEdit> {
    return this.postJson(`/_docs/${encodeURIComponent(docId)}/restore`, { heads: heads.join(","), path: path ?? null });
  }

  resolveConflict(docId: string, path: readonly Prop[], choice: string): Promise<HistoryEdit> {
    return this.postJson(`/_docs/${encodeURIComponent(docId)}/resolve`, { path, choice });
  }

  subscribe(onEvent: (ev: BackendEvent) => void, onStatus?: (s: LinkStatus) => void): () => void {
    const sock = this.socket("/_events", {
      onOpen: () => {},
      onMessage: (line) => {
        let v: unknown;
        try {
          v = JSON.parse(line);
        } catch {
          return;
        }
        const o = v as { event?: unknown; remote?: unknown };
        if (o?.event === "docs-changed") onEvent({ event: "docs-changed" });
        else if (o?.event === "peers-changed") onEvent({ event: "peers-changed" });
        else if (o?.event === "remote" && o.remote && typeof o.remote === "object")
          onEvent({ event: "remote", remote: o.remote as RemoteInfo });
      },
      onStatus: (s) => onStatus?.(s),
    });
    return () => sock.close();
  }
}
