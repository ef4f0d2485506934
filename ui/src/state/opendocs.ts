// The live documents of this window: one `SyncPeer` (and its channel to the
// backend) per document recently opened, at most MAX_OPEN_PEERS, least
// recently used closed first. No DOM: the views read `link`, `titles` and
// `presence` (signals) and never hold a peer longer than the pane that shows it.
import { type Signal, signal } from "@preact/signals-core";
import type { Backend, DocChannel, LinkStatus } from "../backend/types";
import { SyncPeer } from "../model/peer";
import { extractTitle } from "../model/title";
import { PresenceSession } from "./presence";

/** Documents are plain JSON-like Automerge maps. */
export type AnyDoc = Record<string, unknown>;

/** How many documents stay open (and syncing) at once. */
export const MAX_OPEN_PEERS = 6;

/** One open document: its peer, its channel and the state of that channel. */
export interface OpenPeer {
  /** The document, kept in sync with the backend. */
  readonly peer: SyncPeer<AnyDoc>;
  /** The backend's channel for this document. */
  readonly channel: DocChannel;
  /** The channel's state and when it was reached. */
  readonly link: Signal<{ status: LinkStatus; at: number }>;
  /** When the document was last asked for (eviction order). */
  lastUsed: number;
}

/** What the open documents need from the rest of the store. */
export interface OpenDocsHost {
  readonly backend: Backend;
  /** The document shown now (never evicted). */
  currentId(): string | null;
  /** A peer's error, already prefixed with the document's title. */
  onError(id: string, message: string): void;
}

/** The open documents, their live titles and a presence tick. */
export class OpenDocs {
  private readonly open = new Map<string, OpenPeer>();
  /** Titles read from the open documents themselves (fresher than the listing). */
  readonly titles = signal<ReadonlyMap<string, string | null>>(new Map());
  /** Bumped when someone enters, leaves or moves in an open document. */
  readonly presence = signal(0);

  constructor(private readonly host: OpenDocsHost) {}

  /** The open document `id`, if it is open. */
  peek(id: string): OpenPeer | undefined {
    return this.open.get(id);
  }

  /** Ids of the open documents. */
  ids(): string[] {
    return [...this.open.keys()];
  }

  /** The document `id`, opened (and connected) if it is not open yet. */
  get(id: string): OpenPeer {
    const existing = this.open.get(id);
    if (existing) {
      existing.lastUsed = Date.now();
      return existing;
    }
    const peer = new SyncPeer<AnyDoc>(id);
    const link = signal<{ status: LinkStatus; at: number }>({ status: { state: "connecting" }, at: Date.now() });
    peer.onError((m) => this.host.onError(id, m));
    peer.onChange(() => this.readTitle(id));
    PresenceSession.of(peer as SyncPeer<unknown>).onChange(() => this.presence.value++);
    const channel = this.host.backend.openDoc(id, {
      onOpen: () => peer.connected(),
      onLine: (line) => peer.receiveLine(line),
      onStatus: (s) => {
        if (s.state !== "open") peer.disconnected();
        link.value = { status: s, at: Date.now() };
      },
    });
    peer.attach({ send: (line) => channel.send(line) });
    const entry: OpenPeer = { peer, channel, link, lastUsed: Date.now() };
    this.open.set(id, entry);
    this.evict();
    return entry;
  }

  /** Closes the document `id` (its channel, presence and peer). */
  close(id: string): void {
    const e = this.open.get(id);
    if (!e) return;
    PresenceSession.of(e.peer as SyncPeer<unknown>).dispose();
    e.channel.close();
    e.peer.dispose();
    this.open.delete(id);
    if (this.titles.peek().has(id)) {
      const next = new Map(this.titles.peek());
      next.delete(id);
      this.titles.value = next;
    }
  }

  /** Reads the title of an open document; updates `titles` when it changed. */
  readTitle(id: string): void {
    const e = this.open.get(id);
    if (!e) return;
    const t = extractTitle(e.peer.doc());
    const titles = this.titles.peek();
    if (titles.has(id) && titles.get(id) === t) return;
    this.titles.value = new Map(titles).set(id, t);
  }

  private evict(): void {
    if (this.open.size <= MAX_OPEN_PEERS) return;
    const current = this.host.currentId();
    const victims = [...this.open.entries()].filter(([id]) => id !== current).sort((a, b) => a[1].lastUsed - b[1].lastUsed);
    while (this.open.size > MAX_OPEN_PEERS && victims.length) this.close(victims.shift()![0]);
  }
}
