// The application shell: sidebar (document list, actions), document pane
// (header, connections, live document view), error banner, dialogs.
import type {
  Backend,
  BackendEvent,
  DocChannel,
  DocSummary,
  Health,
  LanStatus,
  LinkStatus,
  PeerInfo,
  RemoteInfo,
  SessionInfo,
  SharePolicy,
} from "../backend/types";
import { sessionLabel } from "../backend/session";
import {
  DOC_SYNC_LABEL,
  RemoteTable,
  docSyncState,
  formatLinkStatus,
  formatRemoteState,
  remoteHost,
  remotesForDoc,
  validateRemoteUrl,
} from "../model/connection";
import { filterDocs } from "../model/filter";
import { formatSize, formatUpdated } from "../model/format";
import * as ops from "../model/ops";
import { SyncPeer } from "../model/peer";
import { SHARE_HINT, SHARE_LABEL, SHARE_POLICIES, isSharePolicy, peerOfRemote, peerRemoteNote, shareBadge } from "../model/peers";
import { adviseOnProblem, type RemoteFix } from "../model/remoteproblem";
import { displayTitle, exportFileName, extractTitle } from "../model/title";
import { ValidationError, confirmDialog, field, openDialog } from "./dialogs";
import { ConflictWatch } from "./conflicts";
import { DocView } from "./docview";
import { HistoryPanel } from "./history";
import { h, setText, syncChildren } from "./dom";
import { handleLaunchRequests } from "./launch";
import { acceptTandemLinks } from "./linkfield";
import { showLinks } from "./links";
import { toast } from "./toast";
import { PeersPanel } from "./peers";
import { installShortcuts, showShortcutHelp, type Shortcut } from "./shortcuts";
import { searchDialog } from "./search";
import { showActivity } from "./activity";
import { quickSwitch } from "./switcher";
import { IncomingList } from "./incoming";
import { PresenceBar, PresenceSession, adoptDefaultName, myProfile, setMyName, sidebarPresence } from "./presence";

type AnyDoc = Record<string, unknown>;

interface OpenPeer {
  peer: SyncPeer<AnyDoc>;
  channel: DocChannel;
  status: LinkStatus;
  statusAt: number;
  lastUsed: number;
}

const MAX_OPEN_PEERS = 6;

function brandMark(): HTMLElement {
  const span = h("span", { class: "brand-mark", "aria-hidden": "true" });
  // static markup, no user data
  span.innerHTML =
    '<svg viewBox="0 0 16 16" width="20" height="20"><rect x="1" y="1" width="9" height="9" rx="2" fill="#4f46e5"/>' +
    '<rect x="6" y="6" width="9" height="9" rx="2" fill="#06b6d4" fill-opacity=".85"/></svg>';
  return span;
}

function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}

export class App {
  private docs: DocSummary[] = [];
  private docsLoaded = false;
  private filter = "";
  private currentId: string | null = null;
  private readonly remotes = new RemoteTable();
  private readonly peers = new Map<string, OpenPeer>();
  private readonly liveTitles = new Map<string, string | null>();
  private docView: DocView | null = null;
  /** Who else is in the open document (./presence.ts). */
  private presenceBar: PresenceBar | null = null;
  /** Connections into this instance on the open document (./incoming.ts). */
  private incoming: IncomingList | null = null;
  /** Open conflicts of the open document, and its history panel (ui/conflicts.ts, ui/history.ts). */
  private conflictWatch: ConflictWatch | null = null;
  private historyPanel: HistoryPanel | null = null;
  private health: Health | null = null;
  private eventsStatus: LinkStatus = { state: "connecting" };
  private eventsStatusAt = Date.now();
  private errors: string[] = [];
  private refreshTimer: ReturnType<typeof setTimeout> | null = null;
  /** Id of a document that was asked for (URL) but is not in `/_docs` (yet). */
  private notFound: string | null = null;
  private eventsEverOpen = false;
  private readonly peersPanel: PeersPanel;
  private peersTimer: ReturnType<typeof setTimeout> | null = null;
  /** Documents just opened from a peer, not listed yet: id → what to say while waiting. */
  private readonly pendingOpen = new Map<string, string>();

  // DOM
  private readonly root: HTMLElement;
  private readonly listEl: HTMLUListElement;
  private readonly listEmpty: HTMLElement;
  private readonly itemEls = new Map<string, HTMLLIElement>();
  private readonly filterInput: HTMLInputElement;
  private readonly importInput: HTMLInputElement;
  private readonly banner: HTMLElement;
  private readonly bannerText: HTMLElement;
  private readonly main: HTMLElement;
  private readonly eventsStatusEl: HTMLElement;
  /** Who is signed in, and "Sign out" (browser only; absent in the desktop app). */
  private readonly sessionEl: HTMLElement | null;
  private readonly sessionNameEl: HTMLElement;
  private pane: {
    id: string;
    el: HTMLElement;
    title: HTMLElement;
    meta: HTMLElement;
    link: HTMLElement;
    remotesEl: HTMLElement;
    remoteEls: Map<string, HTMLElement>;
    content: HTMLElement;
    share: HTMLSelectElement;
    shareBar: HTMLElement;
    shareHint: HTMLElement;
    shareBusy: boolean;
  } | null = null;

  constructor(
    private readonly backend: Backend,
    mount: HTMLElement,
  ) {
    this.filterInput = h("input", {
      type: "search",
      class: "filter",
      testid: "filter",
      placeholder: "Filter documents",
      "aria-label": "Filter documents",
      oninput: () => {
        this.filter = this.filterInput.value;
        this.renderList();
      },
    });
    this.importInput = h("input", {
      type: "file",
      accept: ".automerge,application/octet-stream",
      class: "visually-hidden",
      tabindex: "-1",
      "aria-hidden": "true",
      testid: "import-file",
      onchange: () => void this.importSelected(),
    });
    this.listEl = h("ul", {
      class: "doc-list",
      testid: "doc-list",
      "aria-label": "Documents",
      onkeydown: (ev: KeyboardEvent) => this.listKeydown(ev),
    });
    this.listEmpty = h("p", { class: "list-empty" }, "Loading…");
    this.eventsStatusEl = h("span", { class: "events-status", testid: "events-status", "aria-live": "polite" });
    this.sessionNameEl = h("span", { class: "session-name", testid: "session-name" });
    this.sessionEl = this.backend.signOut
      ? h(
          "div",
          { class: "sidebar-session", testid: "session", hidden: true },
          h("span", { class: "session-label" }, "Signed in as ", this.sessionNameEl),
          h("button", { type: "button", class: "btn subtle", testid: "sign-out", onclick: () => void this.signOut() }, "Sign out"),
        )
      : null;
    this.peersPanel = new PeersPanel({
      backend: this.backend,
      showError: (m) => this.showError(m),
      localIds: () => new Set(this.docs.map((d) => d.id)),
      localCopies: (peerId) => this.localCopiesFrom(peerId),
      openFromPeer: (peer, docId, title) => this.openFromPeer(peer, docId, title),
      refreshPeers: () => this.refreshPeers(),
    });

    const sidebar = h(
      "aside",
      { class: "sidebar", "aria-label": "Documents" },
      h(
        "div",
        { class: "brand" },
        brandMark(),
        h("span", { class: "brand-name" }, "Tandem"),
      ),
      h(
        "div",
        { class: "sidebar-actions" },
        h("button", { type: "button", class: "btn primary wide", testid: "new-doc", onclick: () => void this.newDoc() }, "+ New document"),
        h(
          "div",
          { class: "action-row" },
          h("button", { type: "button", class: "btn", testid: "import-doc", onclick: () => (this.backend.importFromFile ? void this.importWithDialog() : this.importInput.click()) }, "Import…"),
          h("button", { type: "button", class: "btn", testid: "open-remote", onclick: () => void this.openFromServer() }, "Open from server…"),
        ),
        this.importInput,
      ),
      this.filterInput,
      h("nav", { class: "doc-nav", "aria-label": "Document list" }, this.listEl, this.listEmpty),
      this.peersPanel.el,
      this.sessionEl,
      h(
        "div",
        { class: "sidebar-footer" },
        this.eventsStatusEl,
        h("button", { type: "button", class: "btn subtle", testid: "settings", onclick: () => void this.showSettings() }, "⚙ Settings"),
        h("button", { type: "button", class: "btn subtle", testid: "search", title: "Search all documents (Ctrl+Shift+F)", onclick: () => void this.searchEverything() }, "Search"),
        h("button", { type: "button", class: "btn subtle", testid: "activity", title: "Sync activity (Ctrl+Shift+A)", onclick: () => void showActivity(this.backend) }, "Activity"),
        h("button", { type: "button", class: "btn subtle", testid: "help", title: "Keyboard shortcuts (?)", onclick: () => void showShortcutHelp(this.shortcuts) }, "Shortcuts"),
      ),
    );

    this.bannerText = h("span", { class: "banner-text", testid: "error-message" });
    this.banner = h(
      "div",
      { class: "error-banner", role: "alert", testid: "error-banner" },
      h("span", { class: "banner-icon", "aria-hidden": "true" }, "⚠"),
      this.bannerText,
      h(
        "button",
        { type: "button", class: "btn icon subtle", testid: "error-dismiss", "aria-label": "Dismiss error", onclick: () => this.dismissErrors() },
        "×",
      ),
    );
    this.main = h("main", { class: "main", id: "main" });
    this.main.tabIndex = -1;
    this.root = h("div", { class: "app" }, sidebar, h("div", { class: "main-column" }, this.main));
    mount.replaceChildren(this.root);
    this.renderEmptyPane();
  }

  // ---- start-up ------------------------------------------------------------------------------

  async start(): Promise<void> {
    this.backend.subscribe(
      (ev) => this.onEvent(ev),
      (s) => {
        const wasDown = this.eventsStatus.state !== "open";
        this.eventsStatus = s;
        this.eventsStatusAt = Date.now();
        this.renderEventsStatus();
        // (re)connected: we may have missed events while the link was down
        if (s.state === "open" && wasDown && (this.eventsEverOpen || !this.docsLoaded)) {
          void this.refreshDocs();
          void this.refreshRemotes();
          void this.refreshPeers();
        }
        if (s.state === "open") this.eventsEverOpen = true;
      },
    );
    window.addEventListener("hashchange", () => this.route());
    installShortcuts(this.shortcuts);
    setInterval(() => this.tick(), 1000);
    void this.backend.osUserName?.().then(adoptDefaultName).catch(() => undefined);
    await Promise.all([this.refreshDocs(), this.refreshRemotes(), this.refreshPeers(), this.loadHealth(false), this.loadSession()]);
    this.route();
    this.listenForLaunches();
  }

  /** The desktop app: links and files it is asked to open (at start, or by a second launch). */
  private listenForLaunches(): void {
    this.backend.onLaunchRequests?.(
      (requests) =>
        void handleLaunchRequests(requests, {
          backend: this.backend,
          show: async (id) => {
            await Promise.all([this.refreshDocs(), this.refreshRemotes()]);
            this.navigate(id);
          },
          openDialog: (url, fingerprint) => this.openFromServer({ url, fingerprint }),
          showError: (m) => this.showError(m),
        }),
    );
  }

  // ---- session (browser only) ----------------------------------------------------------------

  private async loadSession(): Promise<void> {
    if (!this.backend.session || !this.sessionEl) return;
    let s: SessionInfo;
    try {
      s = await this.backend.session();
    } catch {
      return; // the other start-up calls report an unreachable server
    }
    setText(this.sessionNameEl, sessionLabel(s));
    this.sessionEl.dataset.role = s.role ?? "";
    this.sessionEl.hidden = s.name === null;
    // A named token is a person: their presence says so (the owner token is just "owner").
    if (s.name && s.role !== "owner") adoptDefaultName(s.name);
  }

  private async signOut(): Promise<void> {
    try {
      await this.backend.signOut?.();
    } catch (e) {
      this.showError(`Could not sign out: ${errorMessage(e)}`);
    }
  }

  private route(): void {
    const m = /^#\/doc\/(.+)$/.exec(location.hash);
    const id = m ? decodeURIComponent(m[1]!) : null;
    if (id !== this.currentId) this.openDoc(id);
  }

  private navigate(id: string | null): void {
    const hash = id ? `#/doc/${encodeURIComponent(id)}` : "#/";
    if (location.hash !== hash) location.hash = hash; // the hashchange event then finds nothing to do
    this.route();
  }

  // ---- errors --------------------------------------------------------------------------------

  showError(message: string): void {
    if (this.errors[this.errors.length - 1] === message) return; // don't stack repeats (e.g. reconnect loops)
    this.errors.push(message);
    this.renderBanner();
  }

  private dismissErrors(): void {
    this.errors = [];
    this.renderBanner();
  }

  private renderBanner(): void {
    const n = this.errors.length;
    if (n === 0) {
      // removed (not just hidden) when there is nothing to show
      if (this.banner.isConnected) {
        const hadFocus = this.banner.contains(document.activeElement);
        this.banner.remove();
        if (hadFocus) this.main.focus();
      }
      return;
    }
    if (!this.banner.isConnected) this.main.before(this.banner);
    const last = this.errors[n - 1]!;
    setText(this.bannerText, n > 1 ? `${last} (and ${n - 1} earlier)` : last);
  }

  // ---- data ----------------------------------------------------------------------------------

  private async refreshDocs(): Promise<void> {
    try {
      const prev = new Set(this.docs.map((d) => d.id));
      this.docs = await this.backend.listDocs();
      this.docsLoaded = true;
      const ids = new Set(this.docs.map((d) => d.id));
      // the open document was deleted (here or by another client)
      if (this.currentId && prev.has(this.currentId) && !ids.has(this.currentId)) {
        const gone = this.currentId;
        this.closePeer(gone);
        this.navigate(null);
      }
      for (const id of [...this.peers.keys()]) if (prev.has(id) && !ids.has(id)) this.closePeer(id);
      for (const id of [...this.pendingOpen.keys()]) if (ids.has(id) && id !== this.notFound) this.pendingOpen.delete(id);
      if (this.notFound && this.notFound === this.currentId && ids.has(this.notFound)) {
        this.pendingOpen.delete(this.notFound);
        this.openDoc(this.notFound);
      }
    } catch (e) {
      this.showError(`Could not load documents: ${errorMessage(e)}`);
    }
    this.renderList();
    this.renderPaneHeader();
    this.renderShare();
    this.peersPanel.render();
  }

  private scheduleRefreshDocs(): void {
    if (this.refreshTimer) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = null;
      void this.refreshDocs();
    }, 150);
  }

  private async refreshRemotes(): Promise<void> {
    try {
      const since = this.remotes.mark();
      const list = await this.backend.listRemotes();
      this.remotes.applyList(list, since, Date.now());
    } catch (e) {
      this.showError(`Could not load server connections: ${errorMessage(e)}`);
    }
    this.renderList();
    this.renderRemotes();
    this.peersPanel.render();
  }

  private async refreshPeers(): Promise<void> {
    let list: PeerInfo[];
    try {
      list = await this.backend.listPeers();
    } catch (e) {
      this.peersPanel.setError(e);
      return;
    }
    this.peersPanel.setPeers(list);
    this.renderRemotes();
  }

  private scheduleRefreshPeers(): void {
    if (this.peersTimer) return;
    this.peersTimer = setTimeout(() => {
      this.peersTimer = null;
      void this.refreshPeers();
    }, 100);
  }

  /** Documents on this device that sync with a LAN peer (remotes opened from the peers panel). */
  private localCopiesFrom(peerId: string): Pick<DocSummary, "id" | "title">[] {
    const ids = new Set<string>();
    for (const { info } of this.remotes.values()) if (info.peer_id === peerId) ids.add(info.doc_id);
    return [...ids].map((id) => ({ id, title: this.liveTitles.get(id) ?? this.docs.find((d) => d.id === id)?.title ?? null }));
  }

  private async loadHealth(report: boolean): Promise<Health | null> {
    try {
      this.health = await this.backend.health();
    } catch (e) {
      if (report) this.showError(`Could not reach the Tandem server: ${errorMessage(e)}`);
    }
    return this.health;
  }

  private onEvent(ev: BackendEvent): void {
    if (ev.event === "docs-changed") {
      this.scheduleRefreshDocs();
    } else if (ev.event === "remote") {
      const known = this.remotes.has(ev.remote.id);
      const kept = this.remotes.applyEvent(ev.remote, Date.now());
      this.renderList();
      this.renderRemotes();
      if (kept !== known) this.peersPanel.render(); // local copies from a peer changed
    } else if (ev.event === "peers-changed") {
      this.scheduleRefreshPeers();
    }
  }

  private tick(): void {
    // countdowns ("reconnecting in N s") and relative times
    if ([...this.remotes.values()].some((r) => r.info.state === "reconnecting")) this.renderRemotes();
    if (this.eventsStatus.state === "reconnecting") this.renderEventsStatus();
    this.renderLink();
    this.peersPanel.tick();
    // "updated 2 min ago" in the sidebar moves on by itself
    if (++this.ticks % 30 === 0) this.renderList();
  }

  private ticks = 0;

  /** Every keyboard shortcut (the help overlay lists exactly these). */
  private readonly shortcuts: Shortcut[] = [
    { key: "k", label: "Go to a document (quick switcher)", run: () => void this.openSwitcher() },
    { key: "n", label: "New document", run: () => void this.newDoc() },
    { key: "f", shift: true, label: "Search the text of every document", run: () => void this.searchEverything() },
    { key: "f", label: "Filter the document list", run: () => this.filterInput.focus() },
    { key: "s", label: "Save (every change is already saved as you type)", run: () => toast("Every change is saved as you type.") },
    { key: "a", shift: true, label: "Sync activity: every connection, traffic, changes/s", run: () => void showActivity(this.backend) },
    { key: "/", label: "Keyboard shortcuts", run: () => void showShortcutHelp(this.shortcuts) },
    { key: "?", plain: true, label: "Keyboard shortcuts", run: () => void showShortcutHelp(this.shortcuts) },
  ];

  private async searchEverything(): Promise<void> {
    const id = await searchDialog(this.backend);
    if (id) this.navigate(id);
  }

  private async openSwitcher(): Promise<void> {
    const id = await quickSwitch(this.docs);
    if (id) this.navigate(id);
  }
  /** Documents being deleted by the user (their sessions' endings are expected). */
  private readonly deleting = new Set<string>();
  /** A document just created here: its body takes the focus when it opens. */
  private focusBodyOf: string | null = null;

  // ---- peers ---------------------------------------------------------------------------------

  private getPeer(id: string): OpenPeer {
    const existing = this.peers.get(id);
    if (existing) {
      existing.lastUsed = Date.now();
      return existing;
    }
    const peer = new SyncPeer<AnyDoc>(id);
    const entry: OpenPeer = {
      peer,
      channel: null as unknown as DocChannel,
      status: { state: "connecting" },
      statusAt: Date.now(),
      lastUsed: Date.now(),
    };
    peer.onError((m) => {
      if (this.deleting.has(id)) return; // the user's own deletion ends the session: not an error
      this.showError(`${this.titleOf(id)}: ${m}`);
    });
    peer.onChange(() => this.onPeerChanged(id));
    PresenceSession.of(peer as SyncPeer<unknown>).onChange(() => this.updateItem(id));
    entry.channel = this.backend.openDoc(id, {
      onOpen: () => peer.connected(),
      onLine: (line) => peer.receiveLine(line),
      onStatus: (s) => {
        if (s.state !== "open") peer.disconnected();
        entry.status = s;
        entry.statusAt = Date.now();
        if (id === this.currentId) this.renderLink();
      },
    });
    peer.attach({ send: (line) => entry.channel.send(line) });
    this.peers.set(id, entry);
    this.evictPeers();
    return entry;
  }

  private evictPeers(): void {
    if (this.peers.size <= MAX_OPEN_PEERS) return;
    const victims = [...this.peers.entries()]
      .filter(([id]) => id !== this.currentId)
      .sort((a, b) => a[1].lastUsed - b[1].lastUsed);
    while (this.peers.size > MAX_OPEN_PEERS && victims.length) this.closePeer(victims.shift()![0]);
  }

  private closePeer(id: string): void {
    const e = this.peers.get(id);
    if (!e) return;
    if (id === this.currentId) {
      this.closeDocExtras();
      this.docView?.destroy();
      this.docView = null;
    }
    PresenceSession.of(e.peer as SyncPeer<unknown>).dispose();
    e.channel.close();
    e.peer.dispose();
    this.peers.delete(id);
    this.liveTitles.delete(id);
  }

  private onPeerChanged(id: string): void {
    const e = this.peers.get(id);
    if (!e) return;
    const t = extractTitle(e.peer.doc());
    if (this.liveTitles.get(id) !== t) {
      this.liveTitles.set(id, t);
      this.updateItem(id);
      if (id === this.currentId) this.renderPaneHeader();
    }
  }

  /** A peer whose document has (at least) what the backend listed; used for renames from the list. */
  private async loadedPeer(id: string): Promise<SyncPeer<AnyDoc>> {
    const e = this.getPeer(id);
    const summary = this.docs.find((d) => d.id === id);
    if (summary && summary.heads.length > 0) await e.peer.whenHasHeads(summary.heads, 15_000);
    return e.peer;
  }

  private titleOf(id: string): string {
    const live = this.liveTitles.get(id);
    if (live !== undefined && live !== null) return live;
    return displayTitle(this.docs.find((d) => d.id === id)?.title ?? live ?? null);
  }

  // ---- sidebar -------------------------------------------------------------------------------

  private renderList(): void {
    const visible = filterDocs(this.docs, this.filter);
    const els: HTMLLIElement[] = [];
    const seen = new Set<string>();
    for (const d of visible) {
      seen.add(d.id);
      let li = this.itemEls.get(d.id);
      if (!li) {
        li = this.createItem(d.id);
        this.itemEls.set(d.id, li);
      }
      els.push(li);
    }
    for (const [id, li] of this.itemEls) if (!seen.has(id)) {
      li.remove();
      this.itemEls.delete(id);
    }
    syncChildren(this.listEl, els);
    for (const id of seen) this.updateItem(id);
    this.listEmpty.hidden = els.length > 0;
    setText(
      this.listEmpty,
      !this.docsLoaded ? "Loading…" : this.docs.length === 0 ? "No documents yet." : "No documents match the filter.",
    );
  }

  private createItem(id: string): HTMLLIElement {
    const btn = h(
      "button",
      { type: "button", class: "doc-item-button", onclick: () => this.navigate(id) },
      h("span", { class: "sync-dot", testid: "sync-dot", "aria-hidden": "true" }),
      h(
        "span",
        { class: "doc-item-text" },
        h("span", { class: "doc-item-line" }, h("span", { class: "doc-item-title" }), h("span", { class: "share-slot" })),
        h("span", { class: "doc-item-meta" }),
      ),
      h("span", { class: "visually-hidden sync-label" }),
    );
    return h("li", { class: "doc-item", testid: "doc-item", "data-doc-id": id }, btn);
  }

  private updateItem(id: string): void {
    const li = this.itemEls.get(id);
    const d = this.docs.find((x) => x.id === id);
    if (!li || !d) return;
    const live = this.liveTitles.get(id);
    const title = displayTitle(live !== undefined ? live : d.title);
    const state = docSyncState(remotesForDoc([...this.remotes.values()].map((r) => r.info), id), d.incoming ?? 0);
    const active = id === this.currentId;
    li.classList.toggle("active", active);
    li.dataset.state = state;
    const btn = li.firstElementChild as HTMLButtonElement;
    if (active) btn.setAttribute("aria-current", "page");
    else btn.removeAttribute("aria-current");
    btn.title = `${title} — ${DOC_SYNC_LABEL[state]}`;
    setText(li.querySelector(".doc-item-title")!, title);
    setText(li.querySelector(".doc-item-meta")!, `${formatUpdated(d.updated, Date.now())} · ${formatSize(d.size)}`);
    setText(li.querySelector(".sync-label")!, `(${DOC_SYNC_LABEL[state]}${d.share && d.share !== "private" ? `, ${SHARE_LABEL[d.share]}` : ""})`);
    (li.querySelector(".sync-dot") as HTMLElement).dataset.state = state;
    sidebarPresence(li, this.peers.get(id)?.peer as SyncPeer<unknown> | undefined);
    if (d.share) li.dataset.share = d.share;
    else delete li.dataset.share;
    // the badge exists only for shared documents
    const slot = li.querySelector(".share-slot") as HTMLElement;
    const badge = shareBadge(d.share);
    const current = slot.firstElementChild as HTMLElement | null;
    if (!badge) {
      if (current) slot.replaceChildren();
    } else if (!current || current.dataset.share !== d.share) {
      slot.replaceChildren(
        h("span", { class: "badge share-badge", testid: "share-badge", "data-share": d.share, title: badge.title, "aria-hidden": "true" }, badge.text),
      );
    }
  }

  private listKeydown(ev: KeyboardEvent): void {
    if (ev.key !== "ArrowDown" && ev.key !== "ArrowUp") return;
    const buttons = [...this.listEl.querySelectorAll<HTMLButtonElement>(".doc-item-button")];
    const i = buttons.indexOf(document.activeElement as HTMLButtonElement);
    if (i < 0) return;
    ev.preventDefault();
    buttons[Math.max(0, Math.min(buttons.length - 1, i + (ev.key === "ArrowDown" ? 1 : -1)))]?.focus();
  }

  private renderEventsStatus(): void {
    const s = this.eventsStatus;
    this.eventsStatusEl.dataset.state = s.state;
    setText(this.eventsStatusEl, s.state === "open" ? "" : formatLinkStatus(s, this.eventsStatusAt, Date.now()));
  }

  // ---- document pane -------------------------------------------------------------------------

  private renderEmptyPane(): void {
    this.pane = null;
    this.setWindowTitle(null);
    this.main.replaceChildren(
      h(
        "div",
        { class: "empty-pane" },
        h("h1", null, "No document open"),
        h("p", null, "Pick a document on the left, or create a new one."),
        h("button", { type: "button", class: "btn primary", onclick: () => void this.newDoc() }, "+ New document"),
      ),
    );
  }

  private renderNotFound(id: string): void {
    this.pane = null;
    this.notFound = id;
    this.main.replaceChildren(
      h(
        "div",
        { class: "empty-pane", testid: "not-found" },
        h("h1", null, "Document not found"),
        h("p", null, `There is no document “${id}” here. It may have been deleted.`),
      ),
    );
  }

  /** A document just opened from a peer, before the local copy is listed. */
  private renderPending(id: string, message: string): void {
    this.pane = null;
    this.notFound = id;
    this.main.replaceChildren(
      h(
        "div",
        { class: "empty-pane", testid: "pending-open" },
        h("h1", null, "Opening…"),
        h("p", null, message),
      ),
    );
  }

  private closeDocExtras(): void {
    this.historyPanel?.destroy();
    this.historyPanel = null;
    this.conflictWatch?.destroy();
    this.conflictWatch = null;
  }

  /** Open or close the history panel of the open document. */
  private toggleHistory(id: string, body: HTMLElement, content: HTMLElement): void {
    if (this.historyPanel) {
      this.historyPanel.destroy();
      this.historyPanel = null;
      return;
    }
    let version: HTMLElement | null = null;
    this.historyPanel = new HistoryPanel({
      backend: this.backend,
      docId: id,
      peer: this.getPeer(id).peer,
      onError: (m) => this.showError(m),
      showVersion: (el) => {
        version?.remove();
        version = el;
        content.hidden = el !== null;
        if (el) body.prepend(el);
      },
      onClose: () => this.toggleHistory(id, body, content),
    });
    body.append(this.historyPanel.el);
  }

  private openDoc(id: string | null): void {
    this.notFound = null;
    this.closeDocExtras();
    this.docView?.destroy();
    this.docView = null;
    this.presenceBar?.destroy();
    this.presenceBar = null;
    this.incoming?.destroy();
    this.incoming = null;
    if (this.currentId && this.peers.has(this.currentId)) PresenceSession.of(this.peers.get(this.currentId)!.peer as SyncPeer<unknown>).leave();
    const prev = this.currentId;
    this.currentId = id;
    if (prev) this.updateItem(prev);
    if (!id) {
      this.renderEmptyPane();
      return;
    }
    this.updateItem(id);
    if (this.docsLoaded && !this.docs.some((d) => d.id === id)) {
      const pending = this.pendingOpen.get(id);
      if (pending) this.renderPending(id, pending);
      else this.renderNotFound(id);
      return;
    }
    const entry = this.getPeer(id);
    const content = h("div", { class: "doc-content" });
    const body = h("div", { class: "doc-body" }, content);
    const title = h("h1", { class: "pane-title", testid: "pane-title" });
    const meta = h("span", { class: "pane-meta" });
    const link = h("span", { class: "link-status", testid: "link-status", "aria-live": "polite" });
    const remotesEl = h("ul", { class: "remotes", testid: "connections", "aria-label": "Server connections" });
    const btn = (testid: string, label: string, onclick: () => void, cls = "btn") =>
      h("button", { type: "button", class: cls, testid, onclick }, label);
    const shareId = `share-${Math.random().toString(36).slice(2)}`;
    const share = h(
      "select",
      { class: "share-select", id: shareId, testid: "share-policy", onchange: () => void this.changeShare(id) },
      SHARE_POLICIES.map((p) => h("option", { value: p }, SHARE_LABEL[p])),
    );
    const shareHint = h("span", { class: "share-hint", testid: "share-hint", "aria-live": "polite" });
    const shareBar = h(
      "div",
      { class: "share-bar", hidden: true },
      h("label", { class: "share-label", for: shareId }, "Sharing"),
      share,
      shareHint,
    );
    const el = h(
      "article",
      { class: "doc-pane", "data-doc-id": id },
      h(
        "header",
        { class: "pane-header" },
        h("div", { class: "pane-heading" }, title, h("div", { class: "pane-sub" }, meta, link), this.enterPresence(entry.peer)),
        h(
          "div",
          { class: "toolbar", role: "toolbar", "aria-label": "Document actions" },
          btn("rename-doc", "Rename", () => void this.renameDoc(id)),
          btn("history-toggle", "History", () => this.toggleHistory(id, body, content)),
          btn("export-doc", "Export", () => void this.exportDoc(id)),
          btn("sync-remote", "Sync with server…", () => void this.syncWithServer(id)),
          btn("copy-link", "Copy link", () => void showLinks(id, this.health?.listen ?? location.origin, { backend: this.backend, share: this.docs.find((d) => d.id === id)?.share })),
          btn("delete-doc", "Delete", () => void this.deleteDoc(id), "btn danger-outline"),
        ),
      ),
      shareBar,
      remotesEl,
      (this.incoming = new IncomingList(this.backend, id)).el,
      body,
    );
    this.pane = { id, el, title, meta, link, remotesEl, remoteEls: new Map(), content, share, shareBar, shareHint, shareBusy: false };
    this.main.replaceChildren(el);
    this.conflictWatch = new ConflictWatch({
      backend: this.backend,
      docId: id,
      peer: entry.peer,
      liveRoot: content,
      onError: (m) => this.showError(m),
    });
    body.before(this.conflictWatch.el);
    this.docView = new DocView(entry.peer, {
      onError: (m) => this.showError(m),
      onRendered: () => this.conflictWatch?.decorate(),
      openUrl: (url) => (this.backend.openExternal ? void this.backend.openExternal(url) : void window.open(url, "_blank", "noopener,noreferrer")),
    });
    content.append(this.docView.el);
    if (this.focusBodyOf === id) {
      this.focusBodyOf = null;
      this.docView.focusBodyWhenReady();
    }
    this.renderPaneHeader();
    this.renderShare();
    this.renderRemotes();
    this.renderLink();
    this.onPeerChanged(id);
  }

  /** Enters the document's presence; the returned bar shows who else is here. */
  private enterPresence(peer: SyncPeer<AnyDoc>): HTMLElement {
    const session = PresenceSession.of(peer as SyncPeer<unknown>);
    session.enter();
    this.presenceBar = new PresenceBar(session);
    return this.presenceBar.el;
  }

  private renderShare(): void {
    const pane = this.pane;
    if (!pane) return;
    const policy = this.docs.find((x) => x.id === pane.id)?.share;
    // backends without share policies: no control
    pane.shareBar.hidden = !policy;
    if (!policy || pane.shareBusy) return;
    if (pane.share.value !== policy) pane.share.value = policy;
    pane.shareBar.dataset.share = policy;
    setText(pane.shareHint, SHARE_HINT[policy]);
  }

  private async changeShare(id: string): Promise<void> {
    const pane = this.pane;
    if (!pane || pane.id !== id) return;
    const policy = pane.share.value;
    if (!isSharePolicy(policy)) return;
    const doc = this.docs.find((d) => d.id === id);
    const before: SharePolicy | undefined = doc?.share;
    if (policy === before) return;
    pane.shareBusy = true;
    pane.share.setAttribute("aria-busy", "true");
    setText(pane.shareHint, SHARE_HINT[policy]);
    try {
      await this.backend.setShare(id, policy);
      if (doc) doc.share = policy;
    } catch (e) {
      this.showError(`Could not change the sharing of “${this.titleOf(id)}”: ${errorMessage(e)}`);
    } finally {
      pane.shareBusy = false;
      pane.share.removeAttribute("aria-busy");
    }
    this.renderShare(); // back to the stored policy if it failed
    this.updateItem(id);
    await this.refreshDocs();
  }

  private renderPaneHeader(): void {
    if (!this.pane) return;
    const id = this.pane.id;
    setText(this.pane.title, this.titleOf(id));
    this.setWindowTitle(this.titleOf(id));
    const d = this.docs.find((x) => x.id === id);
    setText(this.pane.meta, d ? `${id} · ${formatSize(d.size)}` : id);
  }

  /** The window (and tab) title follows the open document. */
  private setWindowTitle(docTitle: string | null): void {
    const title = docTitle ? `${docTitle} — Tandem` : "Tandem";
    if (document.title === title) return;
    document.title = title;
    this.backend.setWindowTitle?.(title);
  }

  private renderLink(): void {
    if (!this.pane) return;
    const e = this.peers.get(this.pane.id);
    if (!e) return;
    this.pane.link.dataset.state = e.status.state;
    setText(this.pane.link, formatLinkStatus(e.status, e.statusAt, Date.now()));
  }

  private renderRemotes(): void {
    for (const id of this.itemEls.keys()) this.updateItem(id);
    if (!this.pane) return;
    const { remotesEl, remoteEls, id } = this.pane;
    const list = [...this.remotes.values()]
      .filter((r) => r.info.doc_id === id)
      .sort((a, b) => a.info.url.localeCompare(b.info.url));
    const now = Date.now();
    const els: HTMLElement[] = [];
    const seen = new Set<string>();
    for (const { info, receivedAt } of list) {
      seen.add(info.id);
      let li = remoteEls.get(info.id);
      if (!li) {
        li = h(
          "li",
          { class: "remote", testid: "remote", "data-remote-id": info.id },
          h("span", { class: "sync-dot", "aria-hidden": "true" }),
          h("span", { class: "remote-host", testid: "remote-host", title: info.url }, remoteHost(info.url)),
          h("span", { class: "remote-state", testid: "remote-state" }),
          h("span", { class: "badge-slot" }),
          h("span", { class: "remote-fixes", testid: "remote-fixes" }),
          h(
            "button",
            {
              type: "button",
              class: "btn icon subtle danger",
              testid: "remove-remote",
              "aria-label": `Stop syncing with ${info.url}`,
              title: "Stop syncing",
              onclick: () => void this.removeRemote(info.id, info.url),
            },
            "×",
          ),
        );
        remoteEls.set(info.id, li);
      }
      li.dataset.state = info.state;
      (li.querySelector(".sync-dot") as HTMLElement).dataset.state =
        info.state === "live" && info.in_sync ? "in-sync" : info.state;
      // a remote opened from the peers panel is named after the peer
      const peer = peerOfRemote(info, this.peersPanel.all());
      if (info.peer_id) li.dataset.peerId = info.peer_id;
      setText(li.querySelector(".remote-host")!, peer ? `${peer.name} (nearby)` : remoteHost(info.url));
      const note = info.state === "live" ? null : peerRemoteNote(peer);
      const advice = info.state === "error" ? adviseOnProblem(info) : null;
      const stateText = advice ? advice.message : formatRemoteState(info, receivedAt, now);
      setText(li.querySelector(".remote-state")!, note ? `${stateText} · ${note}` : stateText);
      this.renderRemoteFixes(li.querySelector(".remote-fixes") as HTMLElement, info, advice?.fixes ?? []);
      // the badge exists only while in sync (simpler to query in tests than a hidden element)
      const slot = li.querySelector(".badge-slot") as HTMLElement;
      if (info.in_sync && !slot.firstChild) slot.append(h("span", { class: "badge in-sync", testid: "in-sync-badge" }, "in sync"));
      else if (!info.in_sync) slot.replaceChildren();
      els.push(li);
    }
    for (const [rid, li] of remoteEls) if (!seen.has(rid)) {
      li.remove();
      remoteEls.delete(rid);
    }
    syncChildren(remotesEl, els);
    remotesEl.hidden = els.length === 0;
  }

  /** The fixes offered in place for a remote that stopped (or "retry now" while it waits). */
  private renderRemoteFixes(slot: HTMLElement, info: RemoteInfo, fixes: RemoteFix[]): void {
    const wanted = info.state === "reconnecting" ? [{ kind: "retry" } as RemoteFix] : fixes;
    const key = JSON.stringify(wanted);
    if (slot.dataset.key === key) return;
    slot.dataset.key = key;
    const button = (testid: string, label: string, onclick: () => Promise<unknown>, title?: string) =>
      h("button", { type: "button", class: "btn small", testid, title, onclick: () => void this.remoteAction(onclick) }, label);
    slot.replaceChildren(
      ...wanted.flatMap((fix) => {
        switch (fix.kind) {
          case "trust-certificate":
            return [
              button(
                "remote-trust-cert",
                "Trust this certificate",
                () => this.backend.updateRemote(info.id, { fingerprint: fix.fingerprint }),
                `Pin the certificate ${fix.fingerprint} for ${info.url}`,
              ),
            ];
          case "edit-token":
            return [button("remote-edit-token", "Edit token…", () => this.editRemoteToken(info))];
          case "retry":
            return [button("remote-retry", "Retry now", () => this.backend.retryRemote(info.id))];
          default:
            return [];
        }
      }),
    );
  }

  private async remoteAction(action: () => Promise<unknown>): Promise<void> {
    try {
      await action();
    } catch (e) {
      this.showError(`Could not change the connection: ${errorMessage(e)}`);
    }
    await this.refreshRemotes();
  }

  private async editRemoteToken(info: RemoteInfo): Promise<void> {
    const input = h("input", { type: "password", testid: "prompt-input", name: "token", autocomplete: "off" });
    await openDialog({
      title: "Access token",
      body: [h("p", null, `The token for ${info.url}.`), field("Token", input)],
      okLabel: "Save and connect",
      testid: "token-dialog",
      onError: (m) => this.showError(m),
      onOk: async () => {
        await this.backend.updateRemote(info.id, { token: input.value.trim() });
      },
    });
  }

  // ---- actions -------------------------------------------------------------------------------

  private async newDoc(): Promise<void> {
    const input = h("input", { type: "text", testid: "prompt-input", name: "title", placeholder: "Untitled", autocomplete: "off" });
    let created: string | null = null;
    const ok = await openDialog({
      title: "New document",
      body: [field("Title", input)],
      okLabel: "Create",
      testid: "new-doc-dialog",
      onError: (m) => this.showError(m),
      onOk: async () => {
        created = await this.backend.createDoc(input.value.trim());
      },
    });
    if (!ok || !created) return;
    this.focusBodyOf = created; // the title was just typed: writing goes on in the body
    await this.refreshDocs();
    this.navigate(created);
  }

  private async renameDoc(id: string): Promise<void> {
    const current = this.liveTitles.get(id) ?? this.docs.find((d) => d.id === id)?.title ?? "";
    const input = h("input", { type: "text", testid: "prompt-input", name: "title", value: current ?? "", autocomplete: "off" });
    await openDialog({
      title: "Rename document",
      body: [field("Title", input)],
      okLabel: "Rename",
      testid: "rename-dialog",
      onError: (m) => this.showError(m),
      onOk: async () => {
        const peer = await this.loadedPeer(id);
        peer.change((d) => ops.setTitle(d, input.value));
      },
    });
  }

  private async deleteDoc(id: string): Promise<void> {
    const title = this.titleOf(id);
    const synced = [...this.remotes.values()].filter((r) => r.info.doc_id === id && r.info.state !== "removed").length;
    const everywhere = h("input", { type: "checkbox", name: "everywhere", testid: "delete-everywhere" }) as HTMLInputElement;
    const body: (HTMLElement | string)[] = [
      h("p", null, `“${title}” will be deleted from this device. Peers that sync it from here are told it was deleted. This cannot be undone.`),
    ];
    if (synced > 0) {
      body.push(
        h(
          "label",
          { class: "check" },
          everywhere,
          ` Also delete it on the ${synced === 1 ? "server" : `${synced} servers`} it syncs with`,
        ),
      );
    }
    await openDialog({
      title: "Delete document?",
      body,
      okLabel: "Delete",
      danger: true,
      testid: "confirm-dialog",
      onError: (m) => this.showError(m),
      onOk: async () => {
        this.deleting.add(id);
        let outcomes;
        try {
          outcomes = await this.backend.deleteDoc(id, everywhere.checked);
        } finally {
          this.deleting.delete(id);
        }
        this.closePeer(id);
        if (this.currentId === id) this.navigate(null);
        await this.refreshDocs();
        const kept = outcomes.filter((o) => !o.deleted);
        if (kept.length > 0) {
          this.showError(
            `Deleted here, but not on ${kept.map((o) => `${o.url} (${o.error ?? "refused"})`).join(", ")}.`,
          );
        }
      },
    });
  }

  private async exportDoc(id: string): Promise<void> {
    try {
      if (this.backend.exportToFile) {
        // The desktop app: the system's save dialog, then say where it went.
        const path = await this.backend.exportToFile(id, this.titleOf(id));
        if (path) toast(`Saved to ${path}`, 8000);
        return;
      }
      const bytes = await this.backend.exportDoc(id);
      const blob = new Blob([bytes as BlobPart], { type: "application/octet-stream" });
      const url = URL.createObjectURL(blob);
      const a = h("a", { href: url, download: exportFileName(this.titleOf(id), id), class: "visually-hidden" });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 30_000);
    } catch (e) {
      this.showError(`Export failed: ${errorMessage(e)}`);
    }
  }

  /** The desktop app's import: the system's open dialog. */
  private async importWithDialog(): Promise<void> {
    try {
      const r = await this.backend.importFromFile?.();
      if (!r) return;
      await this.refreshDocs();
      this.navigate(r.id);
      toast(`Imported ${r.path}`, 8000);
    } catch (e) {
      this.showError(`Import failed: ${errorMessage(e)}`);
    }
  }

  private async importSelected(): Promise<void> {
    const file = this.importInput.files?.[0];
    this.importInput.value = "";
    if (!file) return;
    try {
      if (file.size > 1_000_000) toast(`Importing “${file.name}” (${formatSize(file.size)})…`, 60_000);
      const bytes = new Uint8Array(await file.arrayBuffer());
      const id = await this.backend.importDoc(bytes);
      await this.refreshDocs();
      this.navigate(id);
      toast(`Imported “${file.name}” (${formatSize(file.size)})`);
    } catch (e) {
      this.showError(`Import of “${file.name}” failed: ${errorMessage(e)}`);
    }
  }

  private remoteForm(needDocId: boolean, placeholder: string) {
    const url = h("input", { type: "url", testid: "remote-url", name: "url", placeholder, required: true, autocomplete: "off" });
    const token = h("input", { type: "password", testid: "remote-token", name: "token", autocomplete: "off" });
    const fingerprint = h("input", {
      type: "text",
      testid: "remote-fingerprint",
      name: "fingerprint",
      placeholder: "SHA-256 of the server certificate",
      autocomplete: "off",
      spellcheck: "false",
    });
    const trust = h("input", { type: "checkbox", testid: "remote-trust", name: "trust" });
    const expandLink = acceptTandemLinks(url, fingerprint);
    const body = [
      field("Document URL", url, needDocId ? "e.g. https://host:7450/<document id>, or ws://host:3030/automerge:<id> (an automerge-repo server)" : "The same document on the other server"),
      field("Access token (optional)", token),
      field("Certificate fingerprint (optional)", fingerprint),
      h("label", { class: "check" }, trust, h("span", null, "Trust this certificate")),
    ];
    const request = (docId: string | null) => {
      try {
        expandLink();
      } catch (e) {
        throw new ValidationError(errorMessage(e));
      }
      const problem = validateRemoteUrl(url.value, needDocId);
      if (problem) throw new ValidationError(problem);
      return {
        url: url.value.trim(),
        doc_id: docId,
        token: token.value.trim() || null,
        fingerprint: fingerprint.value.trim() || null,
        trust: trust.checked,
      };
    };
    /** A connection that failed: sets up its fix in the form, and throws what to show in the dialog. */
    const failed = (info: RemoteInfo): never => {
      const advice = adviseOnProblem(info);
      const fix = advice.fixes[0];
      let hint = "";
      if (fix?.kind === "trust-certificate") {
        fingerprint.value = fix.fingerprint;
        hint = " Its fingerprint is now filled in below: press the button again to trust it.";
      } else if (fix?.kind === "edit-token") {
        token.focus();
        token.select();
      } else if (fix?.kind === "edit-url") {
        url.focus();
      }
      throw new ValidationError(advice.message + hint);
    };
    const fill = (u: string, fp: string | null) => {
      url.value = u;
      fingerprint.value = fp ?? "";
    };
    return { body, request, failed, fill };
  }

  private async openFromServer(prefill?: { url: string; fingerprint: string | null }): Promise<void> {
    const form = this.remoteForm(true, "https://host:7450/<document id>, or a tandem:// link");
    if (prefill) form.fill(prefill.url, prefill.fingerprint);
    let docId: string | null = null;
    const ok = await openDialog({
      title: "Open from server",
      body: [h("p", { class: "dialog-intro" }, "Makes a local copy that stays in sync with the server."), ...form.body],
      okLabel: "Open",
      testid: "open-remote-dialog",
      onError: (m) => this.showError(m),
      onOk: async () => {
        const r = await this.backend.addRemote(form.request(null), { wait: true });
        if (r.state === "error") form.failed(r);
        docId = r.doc_id;
      },
    });
    if (!ok || !docId) return;
    await Promise.all([this.refreshDocs(), this.refreshRemotes()]);
    this.navigate(docId);
  }

  private async openFromPeer(peer: PeerInfo, docId: string, title: string): Promise<void> {
    const name = displayTitle(title);
    const local = this.docs.some((d) => d.id === docId);
    try {
      if (peer.online && !peer.certificate_changed) await this.backend.openPeerDoc(peer.id, docId);
      else if (!local)
        throw new Error(peer.certificate_changed ? "its certificate changed; connections are refused" : `${peer.name} is offline`);
    } catch (e) {
      this.showError(`Could not open “${name}” from ${peer.name}: ${errorMessage(e)}`);
      return;
    }
    if (!local) this.pendingOpen.set(docId, `Fetching “${name}” from ${peer.name}…`);
    await Promise.all([this.refreshDocs(), this.refreshRemotes()]);
    this.navigate(docId);
  }

  private async syncWithServer(id: string): Promise<void> {
    const form = this.remoteForm(false, `https://host:7450/${id}`);
    const ok = await openDialog({
      title: "Sync with server",
      body: [h("p", { class: "dialog-intro" }, `Keep “${this.titleOf(id)}” in sync with a document on another Tandem server.`), ...form.body],
      okLabel: "Start syncing",
      testid: "sync-remote-dialog",
      onError: (m) => this.showError(m),
      onOk: async () => {
        const r = await this.backend.addRemote(form.request(id), { wait: true });
        if (r.state === "error") form.failed(r);
      },
    });
    if (ok) await this.refreshRemotes();
  }

  private async removeRemote(remoteId: string, url: string): Promise<void> {
    const sure = await confirmDialog("Stop syncing?", `Stop syncing with ${url}? The local document is kept.`, "Stop syncing", true);
    if (!sure) return;
    try {
      await this.backend.removeRemote(remoteId);
      this.remotes.remove(remoteId);
    } catch (e) {
      this.showError(`Could not remove the connection: ${errorMessage(e)}`);
    }
    await this.refreshRemotes();
  }

  private async showSettings(): Promise<void> {
    const listen = h("code", { testid: "settings-listen" }, this.health?.listen ?? "…");
    const version = h("span", { testid: "settings-version" }, this.health?.version ?? "…");
    const dataDir = h("code", { testid: "settings-data-dir" }, this.health?.data_dir ?? "…");
    const openFolder = this.backend.openDataFolder
      ? h(
          "button",
          {
            type: "button",
            class: "btn small",
            testid: "open-data-folder",
            onclick: () => void this.backend.openDataFolder?.().catch((e) => this.showError(`Could not open the folder: ${errorMessage(e)}`)),
          },
          "Open folder",
        )
      : null;
    const me = myProfile();
    const nameInput = h("input", {
      type: "text",
      testid: "settings-name",
      value: me.name,
      "aria-label": "Your name, as others see it",
      autocomplete: "off",
      onchange: () => setMyName(nameInput.value),
    }) as HTMLInputElement;
    const dl = h(
      "dl",
      { class: "settings-list" },
      h("dt", null, "Your name"),
      h("dd", null, h("span", { class: "profile-swatch", style: `background:${me.color}`, "aria-hidden": "true" }), " ", nameInput),
      h("dt", null, "Data folder"),
      h("dd", null, dataDir, openFolder ? " " : null, openFolder),
      h("dt", null, "Embedded server"),
      h("dd", null, listen),
      h("dt", null, "Version"),
      h("dd", null, version),
      h("dt", null, "Backend"),
      h("dd", null, this.backend.kind === "tauri" ? "Desktop app (Tauri)" : `HTTP (${location.origin})`),
    );
    const lan = this.backend.lanStatus ? this.lanSettings() : null;
    const dialog = openDialog({
      title: "Settings",
      body: [h("div", { testid: "settings-panel" }, dl, ...(lan ? [lan] : []))],
      okLabel: "Close",
      hideCancel: true,
      testid: "settings-dialog",
    });
    const hres = await this.loadHealth(true);
    setText(listen, hres?.listen ?? "unavailable");
    setText(dataDir, hres?.data_dir ?? "not shown (only the owner sees it)");
    setText(version, hres?.version ?? "unavailable");
    await dialog;
  }

  /** The desktop app's "Local network" settings: presence, discovery, name. */
  private lanSettings(): HTMLElement {
    const state = h("p", { class: "lan-state", testid: "lan-state", "aria-live": "polite" }, "…");
    const enabled = h("input", { type: "checkbox", testid: "lan-enabled", name: "lan-enabled" }) as HTMLInputElement;
    const discovery = h("input", { type: "checkbox", testid: "lan-discovery", name: "lan-discovery" }) as HTMLInputElement;
    const name = h("input", { type: "text", testid: "lan-name", name: "lan-name", autocomplete: "off" }) as HTMLInputElement;
    const show = (s: LanStatus) => {
      enabled.checked = s.enabled;
      discovery.checked = s.discovery;
      if (document.activeElement !== name) name.value = s.name;
      setText(
        state,
        s.listening
          ? `On the network at ${s.url ?? "?"}${s.presence ? `, visible as “${s.presence.name}”` : " (not advertised)"}.`
          : "Not on the network: nothing is shared.",
      );
    };
    const apply = async (change: Partial<Pick<LanStatus, "enabled" | "discovery" | "name">>) => {
      try {
        if (this.backend.setLanSettings) show(await this.backend.setLanSettings(change));
      } catch (e) {
        this.showError(`Could not change the network settings: ${errorMessage(e)}`);
      }
    };
    enabled.onchange = () => void apply({ enabled: enabled.checked });
    discovery.onchange = () => void apply({ discovery: discovery.checked });
    name.onchange = () => void apply({ name: name.value });
    void this.backend.lanStatus?.().then(show, (e) => this.showError(`Could not read the network settings: ${errorMessage(e)}`));
    return h(
      "fieldset",
      { class: "lan-settings", testid: "lan-settings" },
      h("legend", null, "Local network"),
      state,
      h("label", null, enabled, " Stay on the network even when nothing is shared"),
      h("label", null, discovery, " Find peers and be found (mDNS)"),
      h("label", null, "Name others see ", name),
      h("p", { class: "hint" }, "Only documents you share are visible to others; the app listens on the network only while something is shared or you turn it on here."),
    );
  }
}
