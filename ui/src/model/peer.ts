// One Automerge peer per open document, synced with the backend using the
// standard Automerge sync protocol over a line transport (WebSocket frames or
// a Tauri Channel). It also implements the tiny `DocHandle` interface that
// `@automerge/automerge-codemirror` binds CodeMirror editors to.
import type { DocHandle } from "@automerge/automerge-codemirror";
import { A } from "../automerge";
import { encodeEphemeralLine, encodeSyncLine, parseLine } from "./protocol";

export interface PeerChange {
  /** true for changes made through this peer, false for ones received by sync */
  local: boolean;
  before: A.Heads;
  after: A.Heads;
}

/** An ephemeral message relayed by the backend. */
export interface EphemeralMessage {
  data: Uint8Array;
  /** Opaque, stable per sending connection (a path across hops). */
  from: string;
  /** The sender's user name as the server knows it, if any. */
  name?: string;
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
  /** Fixed number of changes per slice for big messages (default: adaptive, ~12 ms per slice). */
  sliceSize?: number;
}

/** Target duration of one slice of a big inbound sync message. */
const SLICE_BUDGET_MS = 12;
const MAX_SLICE = 4096;

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
  private chunk: { message: Uint8Array; changes: A.Change[]; next: number } | null = null;

  /** While a big message is being applied in slices: how far along (changes done of total). */
  get applying(): { done: number; total: number } | null {
    return this.chunk ? { done: this.chunk.next, total: this.chunk.changes.length } : null;
  }
  /** changes per slice when applying a big message; adapts to SLICE_BUDGET_MS */
  private sliceSize = 32;
  private readonly adaptiveSlices: boolean;
  private disposed = false;
  private readonly schedule: (fn: () => void) => void;
  private readonly changeListeners = new Set<(c: PeerChange) => void>();
  private readonly handleListeners = new Set<() => void>();
  private readonly errorListeners = new Set<(message: string) => void>();
  private readonly ephemeralListeners = new Set<(e: EphemeralMessage) => void>();
  private readonly linkListeners = new Set<(up: boolean) => void>();
  /**
   * The change message of local changes made without one: who made them
   * (`authorMessage` in ./presence.ts), so history and highlights can name
   * people. null: none.
   */
  author: string | null = null;
  /** Number of sync messages received since creation (for "has the backend answered yet"). */
  received = 0;
  /** The document's heads on the backend when the session opened (its `ready` line), once known. */
  backendHeads: string[] | null = null;

  constructor(
    readonly id: string,
    opts: PeerOptions<T> = {},
  ) {
    this.current = opts.doc ?? A.init<T>();
    this.schedule = opts.schedule ?? defaultSchedule;
    this.adaptiveSlices = opts.sliceSize === undefined;
    if (opts.sliceSize !== undefined) this.sliceSize = Math.max(1, opts.sliceSize);
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
    message ??= this.author ?? undefined;
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

  /** Ephemeral messages relayed from other peers of this document (never stored). */
  onEphemeral(cb: (e: EphemeralMessage) => void): () => void {
    this.ephemeralListeners.add(cb);
    return () => this.ephemeralListeners.delete(cb);
  }
  /** The link went up (a fresh session) or down. */
  onLink(cb: (up: boolean) => void): () => void {
    this.linkListeners.add(cb);
    return () => this.linkListeners.delete(cb);
  }
  /** Send an ephemeral payload to the other peers; false when the link is down. */
  sendEphemeral(payload: Uint8Array): boolean {
    if (!this.linkUp || !this.transport || this.disposed) return false;
    return this.transport.send(encodeEphemeralLine(payload));
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
    for (const cb of this.linkListeners) cb(true);
  }
  /** The link dropped: keep the document, stop sending until `connected()`. */
  disconnected(): void {
    this.linkUp = false;
    this.inbox = [];
    this.chunk = null; // applied slices stay; the next session resends the rest
    for (const cb of this.linkListeners) cb(false);
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
    else if (msg.event === "ready") {
      this.backendHeads = msg.heads;
      const heads = A.getHeads(this.current);
      this.emit({ local: false, before: heads, after: heads });
    } else if (msg.event === "ephemeral" && !this.disposed) {
      for (const cb of this.ephemeralListeners) cb({ data: msg.data, from: msg.from, name: msg.name });
    }
    // "ping" and unknown events are ignored
  }

  /**
   * Whether the document is here as the backend had it when the session
   * opened: something arrived, or the backend said it had nothing (an empty
   * document sends no sync message at all).
   */
  get loaded(): boolean {
    // Without a `ready` line (an older backend): once anything arrived.
    if (this.backendHeads === null) return this.received > 0;
    return this.backendHeads.length === 0 || this.hasHeads(this.backendHeads);
  }

  receiveMessage(message: Uint8Array): void {
    if (this.disposed) return;
    this.inbox.push(message);
    if (!this.draining) {
      this.draining = true;
      this.schedule(() => this.drain());
    }
  }

  /** One unit of inbound work per scheduled task: a small message, or one slice of a big one. */
  private drain(): void {
    if (!this.disposed) {
      if (this.chunk) this.applySlice();
      else {
        const message = this.inbox.shift();
        if (message) this.startMessage(message);
      }
    }
    if (!this.disposed && (this.chunk || this.inbox.length > 0)) this.schedule(() => this.drain());
    else this.draining = false;
  }

  /**
   * A sync message carrying many changes (initial load of a long history, a
   * peer coming back from a long offline session) is applied in time-boxed
   * slices of changes with `applyChanges`, yielding between slices so typing
   * stays responsive and the document appears progressively. The message is
   * then received normally: its changes are already known, so Automerge only
   * updates the sync state.
   */
  private startMessage(message: Uint8Array): void {
    let changes: A.Change[] = [];
    try {
      changes = A.decodeSyncMessage(message).changes;
    } catch {
      /* receiveNow reports malformed messages */
    }
    if (changes.length > this.sliceSize) {
      this.chunk = { message, changes, next: 0 };
      this.applySlice();
    } else {
      this.receiveNow(message);
    }
  }

  private applySlice(): void {
    const c = this.chunk!;
    const end = Math.min(c.changes.length, c.next + this.sliceSize);
    const before = A.getHeads(this.current);
    const t0 = performance.now();
    try {
      [this.current] = A.applyChanges(this.current, c.changes.slice(c.next, end));
    } catch {
      // fall back to the plain path, which reports the error
      this.chunk = null;
      this.receiveNow(c.message);
      return;
    }
    const took = performance.now() - t0;
    if (!this.adaptiveSlices) {
      /* fixed slice size */
    } else if (took < SLICE_BUDGET_MS / 2) this.sliceSize = Math.min(MAX_SLICE, this.sliceSize * 2);
    else if (took > SLICE_BUDGET_MS * 2) this.sliceSize = Math.max(1, Math.floor(this.sliceSize / 2));
    c.next = end;
    const after = A.getHeads(this.current);
    if (!sameHeads(before, after)) this.emit({ local: false, before, after });
    if (end >= c.changes.length) {
      this.chunk = null;
      this.receiveNow(c.message);
    }
  }

  private receiveNow(message: Uint8Array): void {
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
    this.chunk = null;
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
