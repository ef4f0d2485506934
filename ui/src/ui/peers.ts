// The peers panel (sidebar): LAN peers with name, address, online state and
// verification; expanding a peer lists the documents it shares, and "Open"
// makes a live local copy. A peer whose certificate changed carries a warning
// and a "Forget" button. The panel owns its DOM and updates it in place (rows
// are never rebuilt, so focus on a button survives refreshes).
import type { Backend, DocSummary, PeerInfo } from "../backend/types";
import { errorCode } from "../backend/types";
import {
  certificateChangedMessage,
  effectiveLastSeen,
  formatCode,
  formatPeerState,
  formatVerified,
  type PeerDocsState,
  peerAddress,
  peerDocsView,
  peerErrorMessage,
  peerState,
  peerStateChanged,
  peersSummary,
  shortFingerprint,
  sortPeers,
} from "../model/peers";
import { openDialog } from "./dialogs";
import { h, setText, syncChildren } from "./dom";

export interface PeersHost {
  readonly backend: Backend;
  showError(message: string): void;
  /** Ids of the documents on this device. */
  localIds(): ReadonlySet<string>;
  /** Documents on this device that sync with this peer. */
  localCopies(peerId: string): Pick<DocSummary, "id" | "title">[];
  /** Make the local copy if needed (the peer is reachable), then open it. */
  openFromPeer(peer: PeerInfo, docId: string, title: string): Promise<void>;
  /** Refetch the peer list. */
  refreshPeers(): Promise<void>;
}

/** Shared docs of an expanded, reachable peer are refetched this often. */
const DOCS_REFRESH_MS = 15_000;

interface DocsEntry extends PeerDocsState {
  fetchedAt: number;
  seq: number;
}

interface Row {
  li: HTMLLIElement;
  head: HTMLButtonElement;
  dot: HTMLElement;
  name: HTMLElement;
  state: HTMLElement;
  address: HTMLElement;
  verified: HTMLElement;
  warning: HTMLElement;
  warningText: HTMLElement;
  warningDetail: HTMLElement;
  body: HTMLElement;
  code: HTMLElement;
  verifyBtn: HTMLButtonElement;
  verifyLine: HTMLElement;
  note: HTMLElement;
  docs: HTMLUListElement;
  docEls: Map<string, HTMLLIElement>;
  refreshBtn: HTMLButtonElement;
  forgetBtn: HTMLButtonElement;
  actions: HTMLElement;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export class PeersPanel {
  readonly el: HTMLElement;
  private peers: PeerInfo[] = [];
  private loaded = false;
  private loadError: string | null = null;
  private readonly expanded = new Set<string>();
  private readonly docsState = new Map<string, DocsEntry>();
  private readonly rows = new Map<string, Row>();
  private readonly opening = new Set<string>();
  /** When this UI saw a peer go offline (peer id → ms). */
  private readonly wentOffline = new Map<string, number>();
  private readonly list: HTMLUListElement;
  private readonly empty: HTMLElement;
  private readonly summary: HTMLElement;

  constructor(private readonly host: PeersHost) {
    this.list = h("ul", { class: "peer-list", "aria-label": "Devices on your network" });
    this.empty = h("p", { class: "peers-empty" }, "Looking for devices…");
    this.summary = h("span", { class: "peers-summary", testid: "peers-summary" });
    this.el = h(
      "section",
      { class: "peers-panel", testid: "peers-panel", "aria-labelledby": "peers-heading" },
      h("h2", { class: "peers-heading", id: "peers-heading" }, "Nearby devices", this.summary),
      this.list,
      this.empty,
    );
  }

  /** Peers known to the panel (sorted). */
  all(): readonly PeerInfo[] {
    return this.peers;
  }

  get(id: string): PeerInfo | undefined {
    return this.peers.find((p) => p.id === id);
  }

  /** A fresh `/_peers` listing. */
  setPeers(list: PeerInfo[]): void {
    const before = new Map(this.peers.map((p) => [p.id, p]));
    this.peers = sortPeers(list);
    this.loaded = true;
    this.loadError = null;
    this.el.hidden = false;
    const ids = new Set(this.peers.map((p) => p.id));
    for (const id of [...this.expanded]) if (!ids.has(id)) this.expanded.delete(id);
    for (const id of [...this.docsState.keys()]) if (!ids.has(id)) this.docsState.delete(id);
    for (const id of [...this.wentOffline.keys()]) if (!ids.has(id)) this.wentOffline.delete(id);
    for (const p of this.peers) {
      const old = before.get(p.id);
      if (old?.online && !p.online) this.wentOffline.set(p.id, Date.now());
      else if (p.online) this.wentOffline.delete(p.id);
      const reachable = p.online && !p.certificate_changed;
      const wasReachable = !!old && old.online && !old.certificate_changed;
      // it came (back) within reach while expanded: its list may have changed
      if (reachable && !wasReachable && this.expanded.has(p.id)) void this.fetchDocs(p.id);
    }
    this.render();
  }

  /**
   * The list could not be loaded: said inside the panel (not in the banner,
   * it is background information). A backend without LAN peers at all
   * (`not-found`) hides the panel.
   */
  setError(e: unknown): void {
    const message = errorText(e);
    if (errorCode(e) === "not-found") {
      this.el.hidden = true;
      return;
    }
    this.loadError = `Could not load nearby devices: ${message}`;
    this.render();
  }

  /** Re-render (local documents or remotes changed, or the clock moved). */
  render(): void {
    const now = Date.now();
    const els: HTMLLIElement[] = [];
    for (const p of this.peers) {
      let row = this.rows.get(p.id);
      if (!row) {
        row = this.createRow(p.id);
        this.rows.set(p.id, row);
      }
      this.updateRow(row, p, now);
      els.push(row.li);
    }
    const ids = new Set(this.peers.map((p) => p.id));
    for (const [id, row] of this.rows)
      if (!ids.has(id)) {
        row.li.remove();
        this.rows.delete(id);
      }
    syncChildren(this.list, els);
    this.empty.hidden = this.peers.length > 0 && !this.loadError;
    this.empty.dataset.tone = this.loadError ? "error" : "muted";
    setText(
      this.empty,
      this.loadError ?? (this.loaded ? "No other Tandem devices found on your network (or discovery is off)." : "Looking for devices…"),
    );
    setText(this.summary, peersSummary(this.peers));
  }

  /** Once a second: relative times, and periodic refresh of expanded peers' lists. */
  tick(): void {
    const now = Date.now();
    for (const p of this.peers) {
      if (!this.expanded.has(p.id) || !p.online || p.certificate_changed) continue;
      const st = this.docsState.get(p.id);
      if (st && !st.loading && now - st.fetchedAt > DOCS_REFRESH_MS) void this.fetchDocs(p.id);
    }
    if (this.peers.some((p) => !p.online)) this.render();
  }

  private createRow(id: string): Row {
    const bodyId = `peer-body-${id.replace(/[^A-Za-z0-9_-]/g, "_")}`;
    const dot = h("span", { class: "peer-dot", "aria-hidden": "true" });
    const name = h("span", { class: "peer-name", testid: "peer-name" });
    const state = h("span", { class: "peer-state", testid: "peer-state" });
    const address = h("span", { class: "peer-address", testid: "peer-address" });
    const verified = h("span", { class: "peer-verified", testid: "peer-verified" });
    const head = h(
      "button",
      {
        type: "button",
        class: "peer-head",
        "aria-expanded": "false",
        "aria-controls": bodyId,
        testid: "peer-toggle",
        onclick: () => this.toggle(id),
      },
      h("span", { class: "peer-chevron", "aria-hidden": "true" }, "▸"),
      dot,
      h(
        "span",
        { class: "peer-text" },
        h("span", { class: "peer-line" }, name, state),
        h("span", { class: "peer-line peer-sub" }, address, verified),
      ),
    );
    const warningText = h("p", { class: "peer-warning-text" });
    const warningDetail = h("p", { class: "peer-warning-detail" });
    const warning = h(
      "div",
      { class: "peer-warning", role: "alert", testid: "peer-warning", hidden: true },
      h("strong", null, "⚠ Connections refused"),
      warningText,
      warningDetail,
    );
    const code = h("code", { class: "peer-code", testid: "peer-code" });
    const verifyBtn = h(
      "button",
      { type: "button", class: "btn small", testid: "verify-peer", onclick: () => void this.verify(id) },
      "Codes match…",
    );
    const verifyLine = h("p", { class: "peer-verify-hint" });
    const note = h("p", { class: "peer-note", testid: "peer-docs-note" });
    const docs = h("ul", { class: "peer-docs", testid: "peer-docs", "aria-label": "Shared documents" });
    const refreshBtn = h(
      "button",
      {
        type: "button",
        class: "btn subtle small",
        testid: "peer-docs-refresh",
        title: "Refresh the shared documents",
        onclick: () => void this.fetchDocs(id),
      },
      "↻ Refresh",
    );
    const forgetBtn = h(
      "button",
      { type: "button", class: "btn small danger-outline", testid: "forget-peer", onclick: () => void this.forget(id) },
      "Forget…",
    );
    const actions = h("div", { class: "peer-actions" }, refreshBtn, forgetBtn);
    const body = h(
      "div",
      { class: "peer-body", id: bodyId, hidden: true },
      h("div", { class: "peer-verify" }, h("span", { class: "peer-code-label" }, "Code"), code, verifyBtn),
      verifyLine,
      note,
      docs,
      actions,
    );
    const li = h("li", { class: "peer", testid: "peer", "data-peer-id": id }, head, warning, body);
    return {
      li,
      head,
      dot,
      name,
      state,
      address,
      verified,
      warning,
      warningText,
      warningDetail,
      body,
      code,
      verifyBtn,
      verifyLine,
      note,
      docs,
      docEls: new Map(),
      refreshBtn,
      forgetBtn,
      actions,
    };
  }

  private updateRow(row: Row, peer: PeerInfo, now: number): void {
    const p = { ...peer, last_seen: effectiveLastSeen(peer, this.wentOffline.get(peer.id)) };
    const st = peerState(p);
    const open = this.expanded.has(p.id);
    row.li.dataset.online = String(p.online);
    row.li.dataset.state = st;
    row.li.dataset.verified = String(p.verified);
    row.dot.dataset.state = st;
    row.head.setAttribute("aria-expanded", String(open));
    row.head.title = `${p.name} — ${formatPeerState(p, now)}${p.verified ? ", verified" : ""}`;
    setText(row.name, p.name || p.id);
    setText(row.state, formatPeerState(p, now));
    const addr = peerAddress(p);
    setText(row.address, addr);
    row.address.hidden = !addr;
    setText(row.verified, formatVerified(p));
    row.verified.dataset.verified = String(p.verified);
    setText(row.code, formatCode(p.code));

    // a changed certificate: warning always visible, Forget lives in it
    const changed = p.certificate_changed;
    row.warning.hidden = !changed;
    if (changed) {
      setText(row.warningText, certificateChangedMessage(p));
      row.warningDetail.title = `Trusted: ${p.fingerprint}\nNow: ${p.announced_fingerprint ?? "unknown"}`;
      setText(
        row.warningDetail,
        `Trusted ${shortFingerprint(p.fingerprint, 2, 1)}, now ${shortFingerprint(p.announced_fingerprint, 2, 1) || "unknown"}`,
      );
      if (row.forgetBtn.parentElement !== row.warning) row.warning.append(row.forgetBtn);
      setText(row.forgetBtn, "Forget…");
    } else {
      if (row.forgetBtn.parentElement !== row.actions) row.actions.append(row.forgetBtn);
      setText(row.forgetBtn, "Forget…");
    }
    row.verifyBtn.hidden = p.verified || changed;
    setText(
      row.verifyLine,
      changed
        ? "This code belongs to the certificate trusted before the change."
        : p.verified
          ? `You confirmed that ${p.name} shows this code.`
          : `Check that ${p.name} shows the same code for this device, then confirm.`,
    );

    row.body.hidden = !open;
    if (!open) return;
    row.refreshBtn.hidden = !p.online || changed;
    const state = this.docsState.get(p.id);
    row.refreshBtn.disabled = !!state?.loading;
    const view = peerDocsView(p, state, this.host.localIds(), this.host.localCopies(p.id), now);
    setText(row.note, view.note ?? "");
    row.note.hidden = !view.note;
    row.note.dataset.tone = view.tone;
    const els: HTMLLIElement[] = [];
    const seen = new Set<string>();
    for (const d of view.rows) {
      seen.add(d.id);
      let li = row.docEls.get(d.id);
      if (!li) {
        const docId = d.id;
        li = h(
          "li",
          { class: "peer-doc", testid: "peer-doc", "data-doc-id": docId },
          h("span", { class: "peer-doc-text" }, h("span", { class: "peer-doc-title" }), h("span", { class: "peer-doc-meta" })),
          h(
            "button",
            {
              type: "button",
              class: "btn small",
              testid: "open-peer-doc",
              onclick: () => void this.open(p.id, docId),
            },
            "Open",
          ),
        );
        row.docEls.set(docId, li);
      }
      setText(li.querySelector(".peer-doc-title")!, d.title);
      setText(li.querySelector(".peer-doc-meta")!, d.meta);
      li.dataset.local = String(d.local);
      const btn = li.querySelector("button")!;
      btn.disabled = this.opening.has(`${p.id}/${d.id}`);
      btn.setAttribute("aria-label", `Open ${d.title}`);
      els.push(li);
    }
    for (const [id, li] of row.docEls)
      if (!seen.has(id)) {
        li.remove();
        row.docEls.delete(id);
      }
    syncChildren(row.docs, els);
    row.docs.hidden = els.length === 0;
  }

  private toggle(id: string): void {
    if (this.expanded.has(id)) {
      this.expanded.delete(id);
    } else {
      this.expanded.add(id);
      const p = this.get(id);
      if (p?.online && !p.certificate_changed) void this.fetchDocs(id);
    }
    this.render();
  }

  /** Expand a peer (tests, deep links). */
  expand(id: string): void {
    if (!this.expanded.has(id)) this.toggle(id);
  }

  private async fetchDocs(id: string): Promise<void> {
    const prev = this.docsState.get(id);
    const seq = (prev?.seq ?? 0) + 1;
    this.docsState.set(id, { loading: true, docs: prev?.docs ?? null, error: null, fetchedAt: prev?.fetchedAt ?? 0, seq });
    this.render();
    let next: DocsEntry;
    try {
      const docs = await this.host.backend.peerDocs(id);
      next = { loading: false, docs, error: null, fetchedAt: Date.now(), seq };
    } catch (e) {
      const p = this.get(id) ?? { name: id };
      const code = errorCode(e);
      next = { loading: false, docs: prev?.docs ?? null, error: peerErrorMessage(p, code, errorText(e)), fetchedAt: Date.now(), seq };
      // the peer's state changed under us (certificate, forgotten, offline)
      if (peerStateChanged(code)) void this.host.refreshPeers();
    }
    if (this.docsState.get(id)?.seq !== seq) return; // a newer request is under way
    this.docsState.set(id, next);
    this.render();
  }

  private async open(peerId: string, docId: string): Promise<void> {
    const p = this.get(peerId);
    if (!p) return;
    const key = `${peerId}/${docId}`;
    if (this.opening.has(key)) return;
    const listed = this.docsState.get(peerId)?.docs?.find((d) => d.id === docId);
    const copy = this.host.localCopies(peerId).find((d) => d.id === docId);
    const title = listed?.title ?? copy?.title ?? null;
    this.opening.add(key);
    this.render();
    try {
      await this.host.openFromPeer(p, docId, title ?? "");
    } finally {
      this.opening.delete(key);
      this.render();
    }
  }

  private async verify(id: string): Promise<void> {
    const p = this.get(id);
    if (!p) return;
    const code = formatCode(p.code);
    await openDialog({
      title: `Verify ${p.name}`,
      body: [
        h("p", null, `On ${p.name}, open Tandem's list of nearby devices and find this device. Both should show the same code:`),
        h("p", { class: "verify-code" }, h("code", { testid: "verify-code" }, code)),
        h(
          "p",
          { class: "dialog-intro" },
          "Confirm only if the codes match. If they differ, do not share anything with it: another device may be pretending to be " +
            `${p.name}.`,
        ),
      ],
      okLabel: "The codes match",
      testid: "verify-dialog",
      onError: (m) => this.host.showError(m),
      onOk: async () => {
        const updated = await this.host.backend.verifyPeer(id);
        this.setPeers(this.peers.map((x) => (x.id === id ? { ...x, ...updated } : x)));
      },
    });
    await this.host.refreshPeers();
  }

  private async forget(id: string): Promise<void> {
    const p = this.get(id);
    if (!p) return;
    const body = p.certificate_changed
      ? [
          h("p", null, `${p.name} now presents a certificate that differs from the one trusted before.`),
          h(
            "p",
            null,
            `Forget it only if you know why it changed (for example, Tandem was reinstalled on ${p.name}). ` +
              "This device will then trust the new certificate: compare the new code on both devices and verify it again.",
          ),
          h(
            "p",
            { class: "dialog-intro" },
            `Trusted: ${shortFingerprint(p.fingerprint)} · now: ${shortFingerprint(p.announced_fingerprint)}`,
          ),
        ]
      : [
          h(
            "p",
            null,
            `This device will forget ${p.name}'s certificate${p.verified ? " and your verification" : ""}. ` +
              `If ${p.name} is on the network, it is trusted again as a new, unverified device.`,
          ),
          h("p", { class: "dialog-intro" }, "Documents you opened from it stay on this device."),
        ];
    const ok = await openDialog({
      title: `Forget ${p.name}?`,
      body,
      okLabel: "Forget",
      danger: true,
      testid: "forget-dialog",
      onError: (m) => this.host.showError(m),
      onOk: () => this.host.backend.forgetPeer(id),
    });
    if (!ok) return;
    this.docsState.delete(id);
    await this.host.refreshPeers();
  }
}
