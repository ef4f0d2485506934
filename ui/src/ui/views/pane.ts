// The document pane: nothing open, "not found", "opening…", or the open
// document — header (title, size, link state, presence), actions, sharing,
// server connections, connections in, conflicts, the history panel and the
// live document view. The pane is rebuilt only when another document is
// shown; `DocView` (the editors) is a vanilla island inside it, never
// rebuilt while its document stays open.
import { computed, effect, untracked } from "@preact/signals-core";
import { formatLinkStatus } from "../../model/connection";
import { formatSize } from "../../model/format";
import type { SyncPeer } from "../../model/peer";
import { isSharePolicy, SHARE_HINT, SHARE_LABEL, SHARE_POLICIES } from "../../model/peers";
import { PresenceSession } from "../../state/presence";
import type { Store } from "../../state/store";
import { ConflictWatch } from "../conflicts";
import { DocView } from "../docview";
import { h, setText } from "../dom";
import { HistoryPanel } from "../history";
import { IncomingList } from "../incoming";
import { PresenceBar } from "../presence";
import { type RemoteRowsHost, remoteRows } from "./remotes";

/** The document actions of the toolbar. */
export interface PaneActions extends RemoteRowsHost {
  newDoc(): void;
  rename(id: string): void;
  export(id: string): void;
  syncWithServer(id: string): void;
  copyLink(id: string): void;
  delete(id: string): void;
}

/** The pane inside `main`, following `store.pane`. */
export class DocPane {
  /** Undoes what the shown pane set up (effects, editors, presence). */
  private teardown: (() => void)[] = [];

  constructor(
    private readonly store: Store,
    private readonly main: HTMLElement,
    private readonly actions: PaneActions,
  ) {
    const key = computed(() => {
      const p = store.pane.value;
      return p.kind === "empty" ? "empty" : `${p.kind}:${p.id}`;
    });
    effect(() => {
      void key.value;
      untracked(() => this.show());
    });
  }

  private show(): void {
    for (const undo of this.teardown.reverse()) undo();
    this.teardown = [];
    const p = this.store.pane.peek();
    if (p.kind === "doc") {
      this.showDoc(p.id);
      return;
    }
    this.setWindowTitle(null);
    if (p.kind === "empty") {
      this.main.replaceChildren(
        h(
          "div",
          { class: "empty-pane" },
          h("h1", null, "No document open"),
          h("p", null, "Pick a document on the left, or create a new one."),
          h("button", { type: "button", class: "btn primary", onclick: () => this.actions.newDoc() }, "+ New document"),
        ),
      );
    } else if (p.kind === "not-found") {
      this.main.replaceChildren(
        h(
          "div",
          { class: "empty-pane", testid: "not-found" },
          h("h1", null, "Document not found"),
          h("p", null, `There is no document “${p.id}” here. It may have been deleted.`),
        ),
      );
    } else {
      this.main.replaceChildren(
        h("div", { class: "empty-pane", testid: "pending-open" }, h("h1", null, "Opening…"), h("p", null, p.message)),
      );
    }
  }

  private showDoc(id: string): void {
    const store = this.store;
    const entry = store.open.get(id);
    const content = h("div", { class: "doc-content" });
    const body = h("div", { class: "doc-body" }, content);
    const title = h("h1", { class: "pane-title", testid: "pane-title" });
    const meta = h("span", { class: "pane-meta" });
    const link = h("span", { class: "link-status", testid: "link-status", "aria-live": "polite" });
    const btn = (testid: string, label: string, onclick: () => void, cls = "btn") =>
      h("button", { type: "button", class: cls, testid, onclick }, label);
    const session = PresenceSession.of(entry.peer as SyncPeer<unknown>);
    session.enter();
    const presenceBar = new PresenceBar(session);
    const incoming = new IncomingList(store.backend, id);
    const remotes = remoteRows(store, id, this.actions);
    let history: HistoryPanel | null = null;
    let version: HTMLElement | null = null;
    const closeHistory = () => {
      history?.destroy();
      history = null;
    };
    const toggleHistory = () => {
      if (history) return closeHistory();
      history = new HistoryPanel({
        backend: store.backend,
        docId: id,
        peer: entry.peer,
        onError: (m) => store.showError(m),
        showVersion: (el) => {
          version?.remove();
          version = el;
          content.hidden = el !== null;
          if (el) body.prepend(el);
        },
        onClose: toggleHistory,
      });
      body.append(history.el);
    };
    const share = this.shareBar(id);
    const el = h(
      "article",
      { class: "doc-pane", "data-doc-id": id },
      h(
        "header",
        { class: "pane-header" },
        h("div", { class: "pane-heading" }, title, h("div", { class: "pane-sub" }, meta, link), presenceBar.el),
        h(
          "div",
          { class: "toolbar", role: "toolbar", "aria-label": "Document actions" },
          btn("rename-doc", "Rename", () => this.actions.rename(id)),
          btn("history-toggle", "History", toggleHistory),
          btn("export-doc", "Export", () => this.actions.export(id)),
          btn("sync-remote", "Sync with server…", () => this.actions.syncWithServer(id)),
          btn("copy-link", "Copy link", () => this.actions.copyLink(id)),
          btn("delete-doc", "Delete", () => this.actions.delete(id), "btn danger-outline"),
        ),
      ),
      share.el,
      remotes.el,
      incoming.el,
      body,
    );
    this.main.replaceChildren(el);
    const conflicts = new ConflictWatch({
      backend: store.backend,
      docId: id,
      peer: entry.peer,
      liveRoot: content,
      onError: (m) => store.showError(m),
    });
    body.before(conflicts.el);
    const docView = new DocView(entry.peer, {
      onError: (m) => store.showError(m),
      onRendered: () => conflicts.decorate(),
      openUrl: (url) =>
        store.backend.openExternal ? void store.backend.openExternal(url) : void window.open(url, "_blank", "noopener,noreferrer"),
    });
    content.append(docView.el);
    if (store.focusBodyOf === id) {
      store.focusBodyOf = null;
      docView.focusBodyWhenReady();
    }
    store.open.readTitle(id);
    const header = effect(() => {
      const t = store.titleOf(id);
      setText(title, t);
      this.setWindowTitle(t);
      const d = store.doc(id);
      setText(meta, d ? `${id} · ${formatSize(d.size)}` : id);
    });
    const linkState = effect(() => {
      const { status, at } = entry.link.value;
      link.dataset.state = status.state;
      setText(link, formatLinkStatus(status, at, store.clock.value));
    });
    this.teardown.push(header, linkState, share.dispose, remotes.dispose, () => {
      closeHistory();
      conflicts.destroy();
      docView.destroy();
      presenceBar.destroy();
      incoming.destroy();
      // leaving the document: others no longer see us in it (the peer may stay open)
      if (store.open.peek(id)) session.leave();
    });
  }

  /** The "Sharing" control; absent for backends without share policies. */
  private shareBar(id: string): { el: HTMLElement; dispose: () => void } {
    const store = this.store;
    const shareId = `share-${Math.random().toString(36).slice(2)}`;
    let busy = false;
    const select: HTMLSelectElement = h(
      "select",
      {
        class: "share-select",
        id: shareId,
        testid: "share-policy",
        onchange: async () => {
          const policy = select.value;
          if (!isSharePolicy(policy) || policy === store.doc(id)?.share) return;
          busy = true;
          select.setAttribute("aria-busy", "true");
          setText(hint, SHARE_HINT[policy]);
          try {
            await store.setShare(id, policy);
          } finally {
            busy = false;
            select.removeAttribute("aria-busy");
            render(); // back to the stored policy if it failed
          }
        },
      },
      SHARE_POLICIES.map((p) => h("option", { value: p }, SHARE_LABEL[p])),
    );
    const hint = h("span", { class: "share-hint", testid: "share-hint", "aria-live": "polite" });
    const el = h("div", { class: "share-bar", hidden: true }, h("label", { class: "share-label", for: shareId }, "Sharing"), select, hint);
    const render = () => {
      const policy = store.docs.peek().find((d) => d.id === id)?.share;
      el.hidden = !policy;
      if (!policy || busy) return;
      if (select.value !== policy) select.value = policy;
      el.dataset.share = policy;
      setText(hint, SHARE_HINT[policy]);
    };
    const dispose = effect(() => {
      void store.docs.value;
      render();
    });
    return { el, dispose };
  }

  /** The window (and tab) title follows the open document. */
  private setWindowTitle(docTitle: string | null): void {
    const title = docTitle ? `${docTitle} — Tandem` : "Tandem";
    if (document.title === title) return;
    document.title = title;
    this.store.backend.setWindowTitle?.(title);
  }
}
