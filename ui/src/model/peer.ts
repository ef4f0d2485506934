// One Automerge peer per open document, synced with the backend using the
// standard Automerge sync protocol over a line transport (WebSocket frames or
// a Tauri Channel). It also implements the tiny `DocHandle` interface that
// `@automerge/automerge-codemirror` binds CodeMirror editors to.
import type { DocHandle } from "@automerge/automerge-codemirror";
import { A } from "../automerge";
import { encodeSyncLine, parseLine } from "./protocol";

export interface PeerChange {
  /** true for changes made through this peer, false for ones received by sync */
  local: boolean;
  before: A.Heads;
  after: A.Heads;
}

export interface PeerTransport {
  /** Send one protocol line; false if the link is down (the peer then waits for `connected()`). */
  send(line: string): boolean;
}

export interface PeerOptions<T> {
  /** Start from this document (default: empty). */
  doc?: A.Doc<T>;
  /**
   * How inbound sync messages are scheduled. Default: one message per macrotask
   * (`setTimeout(0)`), so a burst of large remote changes never blocks typing
   * for longer than one message. Tests pass a synchronous scheduler.
   */
  schedule?: (fn: () => void) => void;
}

export const syncSchedule = (fn: () => void): void => fn();
const defaultSchedule = (fn: () => void): void => void setTimeout(fn, 0);

function sameHeads(a: A.Heads, b: A.Heads): boolean {
  return a.length === b.length && a.every((h, i) => h === b[i]);
}

export class SyncPeer<T = unknown> implements DocHandle<T> {
  private current: A.Doc<T>;
  private syncState: A.SyncState = A.initSyncState();
  private transport: PeerTransport | null = null;
  private linkUp = false;
  private inbox: Uint8Array[] = [];
  private draining = false;
  private disposed = false;
  private readonly schedule: (fn: () => void) => void;
  private readonly changeListeners = new Set<(c: PeerChange) => void>();
  private readonly handleListeners = new Set<() => void>();
  private readonly errorListeners = new Set<(message: string) => void>();
  /** Number of sync messages received since creation (for "has the backend answered yet"). */
  received = 0;

  constructor(
    readonly id: string,
    opts: PeerOptions<T> = {},
  ) {
    this.current = opts.doc ?? A.init<T>();
    this.schedule = opts.schedule ?? defaultSchedule;
  }

  // ---- DocHandle (automerge-codemirror) -------------------------------------------------
  isReady(): boolean {
    return !this.disposed;
  }
  doc(): A.Doc<T> {
    return this.current;
  }
  /** Make a local change; it is sent to the backend right away. */
  change(fn: (doc: A.Doc<T>) => void, message?: string): void {
    if (this.disposed) throw new Error("document is closed");
    const before = A.getHeads(this.current);
    this.current = message ? A.change(this.current, message, fn as A.ChangeFn<T>) : A.change(this.current, fn as A.ChangeFn<T>);
    const after = A.getHeads(this.current);
    if (sameHeads(before, after)) return;
    this.flush();
    this.emit({ local: true, before, after });
  }
  on(_event: "change", cb: () => void): void {
    this.handleListeners.add(cb);
  }
  off(_event: "change", cb: () => void): void {
    this.handleListeners.delete(cb);
  }

  // ---- richer events for the app -----------------------------------------------------------
  onChange(cb: (c: PeerChange) => void): () => void {
    this.changeListeners.add(cb);
    return () => this.changeListeners.delete(cb);
  }
  onError(cb: (message: string) => void): () => void {
    this.errorListeners.add(cb);
    return () => this.errorListeners.delete(cb);
  }

  // ---- transport side ------------------------------------------------------------------
  attach(transport: PeerTransport): void {
    this.transport = transport;
  }
  /** The link is up: start a fresh sync session (new SyncState) and send our first message. */
  connected(): void {
    if (this.disposed) return;
    this.syncState = A.initSyncState();
    this.linkUp = true;
    this.flush();
  }
  /** The link dropped: keep the document, stop sending until `connected()`. */
  disconnected(): void {
    this.linkUp = false;
    this.inbox = [];
  }
  get isConnected(): boolean {
    return this.linkUp;
  }

  /** Feed one protocol line from the backend. */
  receiveLine(line: string): void {
    const msg = parseLine(line);
    if (!msg) {
      this.fail(`malformed message from the backend: ${line.slice(0, 80)}`);
      return;
    }
    if (msg.event === "sync") this.receiveMessage(msg.data);
    else if (msg.event === "error") this.fail(msg.message);
    // "ping" and unknown events are ignored
  }

  receiveMessage(message: Uint8Array): void {
    if (this.disposed) return;
    this.inbox.push(message);
    if (!this.draining) {
      this.draining = true;
      this.schedule(() => this.drain());
    }
  }

  private drain(): void {
    const message = this.inbox.shift();
    if (message && !this.disposed) {
      const before = A.getHeads(this.current);
      try {
        [this.current, this.syncState] = A.receiveSyncMessage(this.current, this.syncState, message);
        this.received++;
      } catch (e) {
        this.fail(`could not apply a sync message: ${(e as Error).message ?? e}`);
      }
      this.flush();
      const after = A.getHeads(this.current);
      if (!sameHeads(before, after)) this.emit({ local: false, before, after });
    }
    if (this.inbox.length > 0 && !this.disposed) this.schedule(() => this.drain());
    else this.draining = false;
  }

  /** Send whatever the sync protocol wants to send now (at most one message). */
  flush(): void {
    if (!this.linkUp || !this.transport || this.disposed) return;
    const [state, msg] = A.generateSyncMessage(this.current, this.syncState);
    this.syncState = state;
    if (msg && !this.transport.send(encodeSyncLine(msg))) this.linkUp = false;
  }

  /** True once our document contains all of `heads` (e.g. the heads listed by `/_docs`). */
  hasHeads(heads: readonly string[]): boolean {
    try {
      return A.hasHeads(this.current, heads as A.Heads);
    } catch {
      return false;
    }
  }

  /** Resolve when `hasHeads(heads)`, reject after `timeoutMs`. */
  whenHasHeads(heads: readonly string[], timeoutMs = 10_000): Promise<void> {
    if (this.hasHeads(heads)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error("timed out waiting for the document to load"));
      }, timeoutMs);
      const off = this.onChange(() => {
        if (this.hasHeads(heads)) {
          clearTimeout(timer);
          off();
          resolve();
        }
      });
    });
  }

  dispose(): void {
    this.disposed = true;
    this.linkUp = false;
    this.inbox = [];
    this.changeListeners.clear();
    this.handleListeners.clear();
    this.errorListeners.clear();
  }

  private emit(c: PeerChange): void {
    for (const cb of [...this.handleListeners]) cb();
    for (const cb of [...this.changeListeners]) cb(c);
  }

  private fail(message: string): void {
    for (const cb of [...this.errorListeners]) cb(message);
  }
}
