// The server connections of the open document: one row per remote (host or
// peer name, state, "in sync" badge, the fixes offered in place for a
// connection that stopped, and "stop syncing").
import { effect } from "@preact/signals-core";
import type { PeerInfo, RemoteInfo } from "../../backend/types";
import { formatRemoteState, remoteHost } from "../../model/connection";
import { peerOfRemote, peerRemoteNote } from "../../model/peers";
import { adviseOnProblem, type RemoteFix } from "../../model/remoteproblem";
import type { Store } from "../../state/store";
import { h, keyedChildren, setText } from "../dom";

/** What the rows ask of the app. */
export interface RemoteRowsHost {
  /** Known LAN peers (a remote opened from the peers panel is named after its peer). */
  peers(): readonly PeerInfo[];
  /** Asks for a new token for `info`. */
  editToken(info: RemoteInfo): Promise<unknown>;
  /** Asks, then stops syncing with `info`. */
  remove(info: RemoteInfo): void;
}

/** The list of `docId`'s connections; `dispose` stops it following the store. */
export function remoteRows(store: Store, docId: string, host: RemoteRowsHost): { el: HTMLElement; dispose: () => void } {
  const el = h("ul", { class: "remotes", testid: "connections", "aria-label": "Server connections" });
  const rows = new Map<string, HTMLLIElement>();
  const dispose = effect(() => {
    void store.peers.value;
    const list = store
      .remoteList()
      .filter((r) => r.info.doc_id === docId)
      .sort((a, b) => a.info.url.localeCompare(b.info.url));
    // countdowns ("reconnecting in N s") move on every second
    const now = list.some((r) => r.info.state === "reconnecting") ? store.clock.value : Date.now();
    const shown = keyedChildren(
      el,
      list,
      (r) => r.info.id,
      rows,
      (r) => createRow(r.info, host),
    );
    for (const [{ info, receivedAt }, li] of shown) updateRow(store, li, info, receivedAt, now, host);
    el.hidden = shown.length === 0;
  });
  return { el, dispose };
}

function createRow(info: RemoteInfo, host: RemoteRowsHost): HTMLLIElement {
  return h(
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
        onclick: () => host.remove(info),
      },
      "×",
    ),
  );
}

function updateRow(store: Store, li: HTMLLIElement, info: RemoteInfo, receivedAt: number, now: number, host: RemoteRowsHost): void {
  li.dataset.state = info.state;
  (li.querySelector(".sync-dot") as HTMLElement).dataset.state = info.state === "live" && info.in_sync ? "in-sync" : info.state;
  const peer = peerOfRemote(info, host.peers());
  if (info.peer_id) li.dataset.peerId = info.peer_id;
  setText(li.querySelector(".remote-host")!, peer ? `${peer.name} (nearby)` : remoteHost(info.url));
  const note = info.state === "live" ? null : peerRemoteNote(peer);
  const advice = info.state === "error" ? adviseOnProblem(info) : null;
  const stateText = advice ? advice.message : formatRemoteState(info, receivedAt, now);
  setText(li.querySelector(".remote-state")!, note ? `${stateText} · ${note}` : stateText);
  renderFixes(store, li.querySelector(".remote-fixes") as HTMLElement, info, advice?.fixes ?? [], host);
  // the badge exists only while in sync (simpler to query in tests than a hidden element)
  const slot = li.querySelector(".badge-slot") as HTMLElement;
  if (info.in_sync && !slot.firstChild) slot.append(h("span", { class: "badge in-sync", testid: "in-sync-badge" }, "in sync"));
  else if (!info.in_sync) slot.replaceChildren();
}

/** The fixes offered in place for a remote that stopped (or "retry now" while it waits). */
function renderFixes(store: Store, slot: HTMLElement, info: RemoteInfo, fixes: RemoteFix[], host: RemoteRowsHost): void {
  const wanted = info.state === "reconnecting" ? [{ kind: "retry" } as RemoteFix] : fixes;
  const key = JSON.stringify(wanted);
  if (slot.dataset.key === key) return;
  slot.dataset.key = key;
  const button = (testid: string, label: string, action: () => Promise<unknown>, title?: string) =>
    h("button", { type: "button", class: "btn small", testid, title, onclick: () => void store.remoteAction(action) }, label);
  slot.replaceChildren(
    ...wanted.flatMap((fix) => {
      switch (fix.kind) {
        case "trust-certificate":
          return [
            button(
              "remote-trust-cert",
              "Trust this certificate",
              () => store.backend.updateRemote(info.id, { fingerprint: fix.fingerprint }),
              `Pin the certificate ${fix.fingerprint} for ${info.url}`,
            ),
          ];
        case "edit-token":
          return [button("remote-edit-token", "Edit token…", () => host.editToken(info))];
        case "retry":
          return [button("remote-retry", "Retry now", () => store.backend.retryRemote(info.id))];
        default:
          return [];
      }
    }),
  );
}
