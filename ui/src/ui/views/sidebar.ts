// The sidebar: brand, the main actions, the filter, the document list (one
// row per listed document: title, share badge, sync dot, presence, size and
// age), the peers panel, who is signed in, and the footer (event link state,
// settings, search, activity, shortcuts).
import { computed, effect } from "@preact/signals-core";
import type { DocSummary, RemoteInfo } from "../../backend/types";
import { DOC_SYNC_LABEL, docSyncState, formatLinkStatus, remotesForDoc } from "../../model/connection";
import { filterDocs } from "../../model/filter";
import { formatSize, formatUpdated } from "../../model/format";
import type { SyncPeer } from "../../model/peer";
import { SHARE_LABEL, shareBadge } from "../../model/peers";
import { displayTitle } from "../../model/title";
import type { Store } from "../../state/store";
import { h, keyedChildren, setText } from "../dom";
import { sidebarPresence } from "../presence";

/** What the sidebar's buttons do (the app wires them to dialogs and views). */
export interface SidebarActions {
  newDoc(): void;
  importDoc(): void;
  openFromServer(): void;
  settings(): void;
  search(): void;
  activity(): void;
  shortcuts(): void;
  navigate(id: string): void;
}

function brandMark(): HTMLElement {
  const span = h("span", { class: "brand-mark", "aria-hidden": "true" });
  // static markup, no user data; the colours are tokens (styles/tokens.css)
  span.innerHTML =
    '<svg viewBox="0 0 16 16" width="20" height="20"><rect x="1" y="1" width="9" height="9" rx="2" class="brand-back"/>' +
    '<rect x="6" y="6" width="9" height="9" rx="2" class="brand-front"/></svg>';
  return span;
}

/** The sidebar; `peersPanel` and `importInput` are placed in it as they are. */
export class Sidebar {
  readonly el: HTMLElement;
  readonly filterInput: HTMLInputElement;
  private readonly listEl: HTMLUListElement;
  private readonly itemEls = new Map<string, HTMLLIElement>();

  constructor(
    private readonly store: Store,
    actions: SidebarActions,
    peersPanel: HTMLElement,
    importInput: HTMLInputElement,
  ) {
    this.filterInput = h("input", {
      type: "search",
      class: "filter",
      testid: "filter",
      placeholder: "Filter documents",
      "aria-label": "Filter documents",
      oninput: () => (store.filter.value = this.filterInput.value),
    });
    this.listEl = h("ul", {
      class: "doc-list",
      testid: "doc-list",
      "aria-label": "Documents",
      onkeydown: (ev: KeyboardEvent) => this.listKeydown(ev),
    });
    const listEmpty = h("p", { class: "list-empty" }, "Loading…");
    const eventsStatus = h("span", { class: "events-status", testid: "events-status", "aria-live": "polite" });
    const sessionName = h("span", { class: "session-name", testid: "session-name" });
    const session = store.backend.signOut
      ? h(
          "div",
          { class: "sidebar-session", testid: "session", hidden: true },
          h("span", { class: "session-label" }, "Signed in as ", sessionName),
          h("button", { type: "button", class: "btn subtle", testid: "sign-out", onclick: () => void store.signOut() }, "Sign out"),
        )
      : null;
    const button = (testid: string, label: string, onclick: () => void, title?: string, cls = "btn subtle") =>
      h("button", { type: "button", class: cls, testid, title, onclick }, label);
    this.el = h(
      "aside",
      { class: "sidebar", "aria-label": "Documents" },
      h("div", { class: "brand" }, brandMark(), h("span", { class: "brand-name" }, "Tandem")),
      h(
        "div",
        { class: "sidebar-actions" },
        button("new-doc", "+ New document", actions.newDoc, undefined, "btn primary wide"),
        h(
          "div",
          { class: "action-row" },
          button("import-doc", "Import…", actions.importDoc, undefined, "btn"),
          button("open-remote", "Open from server…", actions.openFromServer, undefined, "btn"),
        ),
        importInput,
      ),
      this.filterInput,
      h("nav", { class: "doc-nav", "aria-label": "Document list" }, this.listEl, listEmpty),
      peersPanel,
      session,
      h(
        "div",
        { class: "sidebar-footer" },
        eventsStatus,
        button("settings", "⚙ Settings", actions.settings),
        button("search", "Search", actions.search, "Search all documents (Ctrl+Shift+F)"),
        button("activity", "Activity", actions.activity, "Sync activity (Ctrl+Shift+A)"),
        button("help", "Shortcuts", actions.shortcuts, "Keyboard shortcuts (?)"),
      ),
    );

    // the list: one row per filtered document; "updated 2 min ago" moves on every 30 s by itself
    const halfMinute = computed(() => Math.floor(store.clock.value / 30_000));
    effect(() => {
      const docs = store.docs.value;
      const rows = keyedChildren(
        this.listEl,
        filterDocs(docs, store.filter.value),
        (d) => d.id,
        this.itemEls,
        (d) => this.createItem(d.id, actions),
      );
      listEmpty.hidden = rows.length > 0;
      setText(listEmpty, !store.docsLoaded.value ? "Loading…" : docs.length === 0 ? "No documents yet." : "No documents match the filter.");
      void store.open.presence.value;
      void halfMinute.value;
      const remotes = store.remoteList().map((r) => r.info);
      const current = store.currentId.value;
      const titles = store.open.titles.value;
      for (const [d, li] of rows) this.updateItem(li, d, remotes, current, titles);
    });
    effect(() => {
      const s = store.events.value;
      eventsStatus.dataset.state = s.status.state;
      const now = s.status.state === "reconnecting" ? store.clock.value : Date.now();
      setText(eventsStatus, s.status.state === "open" ? "" : formatLinkStatus(s.status, s.at, now));
    });
    if (session)
      effect(() => {
        const s = store.session.value;
        setText(sessionName, store.sessionLabel());
        session.dataset.role = s?.role ?? "";
        session.hidden = !s || s.name === null;
      });
  }

  private createItem(id: string, actions: SidebarActions): HTMLLIElement {
    const btn = h(
      "button",
      { type: "button", class: "doc-item-button", onclick: () => actions.navigate(id) },
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

  private updateItem(
    li: HTMLLIElement,
    d: DocSummary,
    remotes: RemoteInfo[],
    current: string | null,
    titles: ReadonlyMap<string, string | null>,
  ): void {
    const id = d.id;
    const live = titles.get(id);
    const title = displayTitle(live !== undefined ? live : d.title);
    const state = docSyncState(remotesForDoc(remotes, id), d.incoming ?? 0);
    const active = id === current;
    li.classList.toggle("active", active);
    li.dataset.state = state;
    const btn = li.firstElementChild as HTMLButtonElement;
    if (active) btn.setAttribute("aria-current", "page");
    else btn.removeAttribute("aria-current");
    btn.title = `${title} — ${DOC_SYNC_LABEL[state]}`;
    setText(li.querySelector(".doc-item-title")!, title);
    setText(li.querySelector(".doc-item-meta")!, `${formatUpdated(d.updated, Date.now())} · ${formatSize(d.size)}`);
    setText(
      li.querySelector(".sync-label")!,
      `(${DOC_SYNC_LABEL[state]}${d.share && d.share !== "private" ? `, ${SHARE_LABEL[d.share]}` : ""})`,
    );
    (li.querySelector(".sync-dot") as HTMLElement).dataset.state = state;
    sidebarPresence(li, this.store.open.peek(id)?.peer as SyncPeer<unknown> | undefined);
    if (d.share) li.dataset.share = d.share;
    else delete li.dataset.share;
    // the badge exists only for shared documents
    const slot = li.querySelector(".share-slot") as HTMLElement;
    const badge = shareBadge(d.share);
    const shown = slot.firstElementChild as HTMLElement | null;
    if (!badge) {
      if (shown) slot.replaceChildren();
    } else if (!shown || shown.dataset.share !== d.share) {
      slot.replaceChildren(
        h(
          "span",
          { class: "badge share-badge", testid: "share-badge", "data-share": d.share, title: badge.title, "aria-hidden": "true" },
          badge.text,
        ),
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
}
