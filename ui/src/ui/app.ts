// The application shell: makes the store (../state/store.ts) and the views
// that follow it (./views/: sidebar, pane, banner, dialogs, settings), keeps
// the URL (#/doc/<id>) and the open document in step, and wires shortcuts and
// the desktop app's launch requests. Data flows one way: views call store
// actions, actions call the backend and set signals, views re-render.
import { effect, untracked } from "@preact/signals-core";
import type { Backend } from "../backend/types";
import { adoptDefaultName } from "../state/presence";
import { Store } from "../state/store";
import { showActivity } from "./activity";
import { h } from "./dom";
import { handleLaunchRequests } from "./launch";
import { showLinks } from "./links";
import { PeersPanel } from "./peers";
import { searchDialog } from "./search";
import { installShortcuts, type Shortcut, showShortcutHelp } from "./shortcuts";
import { quickSwitch } from "./switcher";
import { toast } from "./toast";
import { errorBanner } from "./views/banner";
import { deleteDialog, exportDoc, Importer, newDocDialog, renameDialog } from "./views/docdialogs";
import { DocPane } from "./views/pane";
import { editTokenDialog, openFromServerDialog, removeRemoteDialog, syncWithServerDialog } from "./views/remotedialogs";
import { showSettings } from "./views/settings";
import { Sidebar } from "./views/sidebar";

/** The URL's document id (`#/doc/<id>`), or null. */
function routedId(): string | null {
  const m = /^#\/doc\/(.+)$/.exec(location.hash);
  return m ? decodeURIComponent(m[1]!) : null;
}

/** The whole window. */
export class App {
  /** The state (exposed for debugging as `window.tandem.store`). */
  readonly store: Store;
  private readonly peersPanel: PeersPanel;
  private readonly sidebar: Sidebar;

  constructor(
    private readonly backend: Backend,
    mount: HTMLElement,
  ) {
    const store = new Store(backend);
    this.store = store;
    this.peersPanel = new PeersPanel({
      backend,
      showError: (m) => store.showError(m),
      localIds: () => new Set(store.docs.peek().map((d) => d.id)),
      localCopies: (peerId) => store.localCopiesFrom(peerId),
      openFromPeer: async (peer, docId, title) => {
        if (await store.openFromPeer(peer, docId, title)) this.navigate(docId);
      },
      refreshPeers: () => store.refreshPeers(),
    });
    const importer = new Importer(store, (id) => this.navigate(id));
    this.sidebar = new Sidebar(
      store,
      {
        newDoc: () => void this.newDoc(),
        importDoc: () => importer.start(),
        openFromServer: () => void this.openFromServer(),
        settings: () => void showSettings(store),
        search: () => void this.searchEverything(),
        activity: () => void showActivity(backend),
        shortcuts: () => void showShortcutHelp(this.shortcuts),
        navigate: (id) => this.navigate(id),
      },
      this.peersPanel.el,
      importer.input,
    );
    const main = h("main", { class: "main", id: "main" });
    main.tabIndex = -1;
    mount.replaceChildren(h("div", { class: "app" }, this.sidebar.el, h("div", { class: "main-column" }, main)));
    errorBanner(store, main);
    new DocPane(store, main, {
      newDoc: () => void this.newDoc(),
      rename: (id) => void renameDialog(store, id),
      export: (id) => void exportDoc(store, id),
      syncWithServer: (id) => void syncWithServerDialog(store, id),
      copyLink: (id) => void showLinks(id, store.health.peek()?.listen ?? location.origin, { backend, share: store.doc(id)?.share }),
      delete: (id) => void deleteDialog(store, id),
      peers: () => this.peersPanel.all(),
      editToken: (info) => editTokenDialog(store, info),
      remove: (info) => void removeRemoteDialog(store, info),
    });
    this.followPeers();
  }

  /** The peers panel (a view of its own, ./peers.ts) follows the store. */
  private followPeers(): void {
    const { store, peersPanel } = this;
    effect(() => {
      const listing = store.peers.value;
      if (!listing) return;
      // the panel reads the store itself; only the listing triggers this
      untracked(() => ("error" in listing ? peersPanel.setError(listing.error) : peersPanel.setPeers(listing.list)));
    });
    effect(() => {
      // local copies from a peer follow the documents and the connections
      void store.docs.value;
      void store.remotesRev.value;
      untracked(() => peersPanel.render());
    });
    effect(() => {
      void store.clock.value;
      untracked(() => peersPanel.tick());
    });
  }

  /** Loads everything, then shows the document the URL names. */
  async start(): Promise<void> {
    const store = this.store;
    const session = store.loadSession(); // first: what a page may list depends on its role
    store.start();
    window.addEventListener("hashchange", () => (store.currentId.value = routedId()));
    installShortcuts(this.shortcuts);
    void this.backend
      .osUserName?.()
      .then(adoptDefaultName)
      .catch(() => undefined);
    await Promise.all([session, store.refreshAll(), store.loadHealth(false)]);
    store.currentId.value = routedId();
    // the URL follows the shown document (e.g. back to "#/" when it is deleted)
    effect(() => {
      const id = store.currentId.value;
      const hash = id ? `#/doc/${encodeURIComponent(id)}` : "#/";
      if (routedId() !== id && location.hash !== hash) location.hash = hash;
    });
    this.listenForLaunches();
  }

  /** Shows document `id` (or none). */
  private navigate(id: string | null): void {
    this.store.currentId.value = id;
  }

  /** The desktop app: links and files it is asked to open (at start, or by a second launch). */
  private listenForLaunches(): void {
    this.backend.onLaunchRequests?.(
      (requests) =>
        void handleLaunchRequests(requests, {
          backend: this.backend,
          show: async (id) => {
            await Promise.all([this.store.refreshDocs(), this.store.refreshRemotes()]);
            this.navigate(id);
          },
          openDialog: (url, fingerprint) => this.openFromServer({ url, fingerprint }),
          showError: (m) => this.store.showError(m),
        }),
    );
  }

  /** Every keyboard shortcut (the help overlay lists exactly these). */
  private readonly shortcuts: Shortcut[] = [
    { key: "k", label: "Go to a document (quick switcher)", run: () => void this.openSwitcher() },
    { key: "n", label: "New document", run: () => void this.newDoc() },
    { key: "f", shift: true, label: "Search the text of every document", run: () => void this.searchEverything() },
    { key: "f", label: "Filter the document list", run: () => this.sidebar.filterInput.focus() },
    { key: "s", label: "Save (every change is already saved as you type)", run: () => toast("Every change is saved as you type.") },
    { key: "a", shift: true, label: "Sync activity: every connection, traffic, changes/s", run: () => void showActivity(this.backend) },
    { key: "/", label: "Keyboard shortcuts", run: () => void showShortcutHelp(this.shortcuts) },
    { key: "?", plain: true, label: "Keyboard shortcuts", run: () => void showShortcutHelp(this.shortcuts) },
  ];

  private async newDoc(): Promise<void> {
    const id = await newDocDialog(this.store);
    if (id) this.navigate(id);
  }

  private async openFromServer(prefill?: { url: string; fingerprint: string | null }): Promise<void> {
    const id = await openFromServerDialog(this.store, prefill);
    if (id) this.navigate(id);
  }

  private async searchEverything(): Promise<void> {
    const id = await searchDialog(this.backend);
    if (id) this.navigate(id);
  }

  private async openSwitcher(): Promise<void> {
    const id = await quickSwitch(this.store.docs.peek());
    if (id) this.navigate(id);
  }
}
