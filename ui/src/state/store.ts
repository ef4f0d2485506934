// The application's state and the actions that change it. No DOM: every
// action calls the `Backend` and updates signals; the views (../ui/views/)
// subscribe to the signals and render. Errors meant for the user go to
// `errors` (the banner shows the last one).
import { batch, computed, signal } from "@preact/signals-core";
import { sessionLabel } from "../backend/session";
import type {
  Backend,
  BackendEvent,
  DocSummary,
  Health,
  LinkStatus,
  PeerInfo,
  RemoteDeletion,
  RemoteInfo,
  SessionInfo,
  SharePolicy,
} from "../backend/types";
import { RemoteTable } from "../model/connection";
import * as ops from "../model/ops";
import { displayTitle } from "../model/title";
import { OpenDocs } from "./opendocs";
import { adoptDefaultName } from "./presence";

/** The text of an error, for messages. */
export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}

/** What the document pane shows: nothing, a document, or why it cannot. */
export type PaneState =
  | { kind: "empty" }
  | { kind: "doc"; id: string }
  | { kind: "not-found"; id: string }
  | { kind: "pending"; id: string; message: string };

/** The peers panel's input: the listing, or why it failed. */
export type PeerListing = { list: PeerInfo[] } | { error: unknown } | null;

/** The whole state of the window, and its actions. */
export class Store {
  /** The documents listed by the backend, and whether they were loaded once. */
  readonly docs = signal<DocSummary[]>([]);
  readonly docsLoaded = signal(false);
  /** The sidebar's filter text. */
  readonly filter = signal("");
  /** The document asked for (by the URL), whether or not it exists. */
  readonly currentId = signal<string | null>(null);
  /** Server connections of every document; `remotesRev` changes whenever the table does. */
  readonly remotes = new RemoteTable();
  readonly remotesRev = signal(0);
  /** LAN peers (the peers panel). */
  readonly peers = signal<PeerListing>(null);
  /** Messages for the error banner, oldest first. */
  readonly errors = signal<string[]>([]);
  /** The server's `/_health`, once read. */
  readonly health = signal<Health | null>(null);
  /** Who is signed in (browser only). */
  readonly session = signal<SessionInfo | null>(null);
  /** The backend's event link. */
  readonly events = signal<{ status: LinkStatus; at: number }>({ status: { state: "connecting" }, at: Date.now() });
  /** Now, moved on every second (countdowns, relative times). */
  readonly clock = signal(Date.now());
  /** Documents just opened from a peer, not listed yet: id → what to say while waiting. */
  readonly pendingOpen = signal<ReadonlyMap<string, string>>(new Map());
  /** The open documents (live peers). */
  readonly open: OpenDocs;
  /** Documents being deleted by the user (their sessions' endings are expected). */
  private readonly deleting = new Set<string>();
  /** A document just created here: its body takes the focus when it opens. */
  focusBodyOf: string | null = null;
  private eventsEverOpen = false;
  /** Settles once the session was read (or could not be). */
  private sessionLoaded: Promise<void> = Promise.resolve();
  private refreshTimer: ReturnType<typeof setTimeout> | null = null;
  private peersTimer: ReturnType<typeof setTimeout> | null = null;

  /** What the pane shows. */
  readonly pane = computed<PaneState>(() => {
    const id = this.currentId.value;
    if (!id) return { kind: "empty" };
    if (this.docsLoaded.value && !this.docs.value.some((d) => d.id === id)) {
      const message = this.pendingOpen.value.get(id);
      return message ? { kind: "pending", id, message } : { kind: "not-found", id };
    }
    return { kind: "doc", id };
  });

  constructor(readonly backend: Backend) {
    this.open = new OpenDocs({
      backend,
      currentId: () => this.currentId.peek(),
      onError: (id, m) => {
        if (!this.deleting.has(id)) this.showError(`${this.titleOf(id)}: ${m}`); // a deletion ends its session
      },
    });
  }

  /** Subscribes to the backend's events; call once. */
  start(): void {
    this.backend.subscribe(
      (ev) => this.onEvent(ev),
      (s) => {
        const wasDown = this.events.peek().status.state !== "open";
        this.events.value = { status: s, at: Date.now() };
        // (re)connected: we may have missed events while the link was down
        if (s.state === "open" && wasDown && (this.eventsEverOpen || !this.docsLoaded.peek())) void this.refreshAll();
        if (s.state === "open") this.eventsEverOpen = true;
      },
    );
    setInterval(() => (this.clock.value = Date.now()), 1000);
  }

  /** Reloads documents, connections and peers. */
  refreshAll(): Promise<unknown> {
    return Promise.all([this.refreshDocs(), this.refreshRemotes(), this.refreshPeers()]);
  }

  // ---- errors --------------------------------------------------------------------------------

  /** Shows `message` in the banner (a repeat of the last one is not stacked). */
  showError(message: string): void {
    const errors = this.errors.peek();
    if (errors[errors.length - 1] === message) return;
    this.errors.value = [...errors, message];
  }

  /** Clears the banner. */
  dismissErrors(): void {
    this.errors.value = [];
  }

  // ---- reading -------------------------------------------------------------------------------

  /** The listed summary of `id`. */
  doc(id: string): DocSummary | undefined {
    return this.docs.value.find((d) => d.id === id);
  }

  /** The title to show for `id`: the open document's own, else the listed one. */
  titleOf(id: string): string {
    const live = this.open.titles.value.get(id);
    if (live !== undefined && live !== null) return live;
    return displayTitle(this.doc(id)?.title ?? live ?? null);
  }

  /** The raw title (for editing): live, else listed, else empty. */
  rawTitle(id: string): string {
    return this.open.titles.peek().get(id) ?? this.doc(id)?.title ?? "";
  }

  /** Every known server connection (reading this subscribes to changes). */
  remoteList(): { info: RemoteInfo; receivedAt: number }[] {
    void this.remotesRev.value;
    return [...this.remotes.values()];
  }

  /** Documents on this device that sync with a LAN peer (remotes opened from the peers panel). */
  localCopiesFrom(peerId: string): Pick<DocSummary, "id" | "title">[] {
    const ids = new Set<string>();
    for (const { info } of this.remotes.values()) if (info.peer_id === peerId) ids.add(info.doc_id);
    return [...ids].map((id) => ({ id, title: this.open.titles.peek().get(id) ?? this.doc(id)?.title ?? null }));
  }

  // ---- loading -------------------------------------------------------------------------------

  /** Reloads the document list; closes documents deleted elsewhere. */
  async refreshDocs(): Promise<void> {
    try {
      const list = await this.backend.listDocs();
      const prev = new Set(this.docs.peek().map((d) => d.id));
      const ids = new Set(list.map((d) => d.id));
      batch(() => {
        this.docs.value = list;
        this.docsLoaded.value = true;
        // the open document was deleted (here or by another client)
        const current = this.currentId.peek();
        if (current && prev.has(current) && !ids.has(current)) this.currentId.value = null;
        const pending = this.pendingOpen.peek();
        if ([...pending.keys()].some((id) => ids.has(id))) {
          this.pendingOpen.value = new Map([...pending].filter(([id]) => !ids.has(id)));
        }
      });
      // after the pane let go of it
      for (const id of this.open.ids()) if (prev.has(id) && !ids.has(id)) this.open.close(id);
    } catch (e) {
      this.showError(`Could not load documents: ${errorMessage(e)}`);
    }
  }

  private scheduleRefreshDocs(): void {
    if (this.refreshTimer) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = null;
      void this.refreshDocs();
    }, 150);
  }

  /** Reloads the server connections (the owner's: a page signed in with another role has none to list). */
  async refreshRemotes(): Promise<void> {
    await this.sessionLoaded;
    const role = this.session.peek()?.role;
    if (role && role !== "owner") return;
    try {
      const since = this.remotes.mark();
      const list = await this.backend.listRemotes();
      this.remotes.applyList(list, since, Date.now());
      this.remotesRev.value++;
    } catch (e) {
      this.showError(`Could not load server connections: ${errorMessage(e)}`);
    }
  }

  /** Reloads the LAN peers. */
  async refreshPeers(): Promise<void> {
    try {
      this.peers.value = { list: await this.backend.listPeers() };
    } catch (e) {
      this.peers.value = { error: e };
    }
  }

  private scheduleRefreshPeers(): void {
    if (this.peersTimer) return;
    this.peersTimer = setTimeout(() => {
      this.peersTimer = null;
      void this.refreshPeers();
    }, 100);
  }

  /** Reads `/_health`; `report` puts a failure in the banner. */
  async loadHealth(report: boolean): Promise<Health | null> {
    try {
      this.health.value = await this.backend.health();
    } catch (e) {
      if (report) this.showError(`Could not reach the Tandem server: ${errorMessage(e)}`);
    }
    return this.health.peek();
  }

  /** Reads who is signed in (browser only); the connections are listed after it (they are the owner's). */
  loadSession(): Promise<void> {
    this.sessionLoaded = this.readSession();
    return this.sessionLoaded;
  }

  private async readSession(): Promise<void> {
    if (!this.backend.session) return;
    try {
      const s = await this.backend.session();
      this.session.value = s;
      // A named token is a person: their presence says so (the owner token is just "owner").
      if (s.name && s.role !== "owner") adoptDefaultName(s.name);
    } catch {
      // the other start-up calls report an unreachable server
    }
  }

  /** The label of the signed-in session. */
  sessionLabel(): string {
    const s = this.session.value;
    return s ? sessionLabel(s) : "";
  }

  private onEvent(ev: BackendEvent): void {
    if (ev.event === "docs-changed") {
      this.scheduleRefreshDocs();
    } else if (ev.event === "remote") {
      this.remotes.applyEvent(ev.remote, Date.now());
      this.remotesRev.value++;
    } else if (ev.event === "peers-changed") {
      this.scheduleRefreshPeers();
    }
  }

  // ---- actions -------------------------------------------------------------------------------

  /** Signs out (browser only). */
  async signOut(): Promise<void> {
    try {
      await this.backend.signOut?.();
    } catch (e) {
      this.showError(`Could not sign out: ${errorMessage(e)}`);
    }
  }

  /** Creates a document; returns its id. */
  async createDoc(title: string): Promise<string> {
    const id = await this.backend.createDoc(title);
    this.focusBodyOf = id; // the title was just typed: writing goes on in the body
    await this.refreshDocs();
    return id;
  }

  /** Renames `id` by editing its title in the document itself. */
  async renameDoc(id: string, title: string): Promise<void> {
    const e = this.open.get(id);
    const summary = this.doc(id);
    if (summary && summary.heads.length > 0) await e.peer.whenHasHeads(summary.heads, 15_000);
    e.peer.change((d) => ops.setTitle(d, title));
  }

  /** Deletes `id` here (and on its servers if `everywhere`); returns the servers that kept it. */
  async deleteDoc(id: string, everywhere: boolean): Promise<RemoteDeletion[]> {
    this.deleting.add(id);
    let outcomes: RemoteDeletion[];
    try {
      outcomes = await this.backend.deleteDoc(id, everywhere);
    } finally {
      this.deleting.delete(id);
    }
    if (this.currentId.peek() === id) this.currentId.value = null; // the pane lets go of it first
    this.open.close(id);
    await this.refreshDocs();
    return outcomes.filter((o) => !o.deleted);
  }

  /** Changes the share policy of `id`; a failure is reported and the list reloaded. */
  async setShare(id: string, policy: SharePolicy): Promise<void> {
    try {
      await this.backend.setShare(id, policy);
      this.docs.value = this.docs.peek().map((d) => (d.id === id ? { ...d, share: policy } : d));
    } catch (e) {
      this.showError(`Could not change the sharing of “${this.titleOf(id)}”: ${errorMessage(e)}`);
      this.docs.value = [...this.docs.peek()]; // the view goes back to the stored policy
    }
    await this.refreshDocs();
  }

  /** Opens `docId` from a LAN peer (a local copy that syncs with it); returns whether to show it. */
  async openFromPeer(peer: PeerInfo, docId: string, title: string): Promise<boolean> {
    const name = displayTitle(title);
    const local = this.docs.peek().some((d) => d.id === docId);
    try {
      if (peer.online && !peer.certificate_changed) await this.backend.openPeerDoc(peer.id, docId);
      else if (!local)
        throw new Error(peer.certificate_changed ? "its certificate changed; connections are refused" : `${peer.name} is offline`);
    } catch (e) {
      this.showError(`Could not open “${name}” from ${peer.name}: ${errorMessage(e)}`);
      return false;
    }
    if (!local) this.pendingOpen.value = new Map(this.pendingOpen.peek()).set(docId, `Fetching “${name}” from ${peer.name}…`);
    await Promise.all([this.refreshDocs(), this.refreshRemotes()]);
    return true;
  }

  /** Stops syncing with a server. */
  async removeRemote(remoteId: string): Promise<void> {
    try {
      await this.backend.removeRemote(remoteId);
      this.remotes.remove(remoteId);
      this.remotesRev.value++;
    } catch (e) {
      this.showError(`Could not remove the connection: ${errorMessage(e)}`);
    }
    await this.refreshRemotes();
  }

  /** Runs a change to a connection (trust, token, retry); reports a failure; reloads. */
  async remoteAction(action: () => Promise<unknown>): Promise<void> {
    try {
      await action();
    } catch (e) {
      this.showError(`Could not change the connection: ${errorMessage(e)}`);
    }
    await this.refreshRemotes();
  }
}
