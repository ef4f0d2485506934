// "Copy link": the ways to reach a document — first the one string to share
// (a `tandem://open?url=…&fp=…` link: "Open from server…" takes it whole and
// the desktop app opens it from the OS), then its Tandem (ndjson) URL and,
// for ids automerge-repo accepts, its `automerge:` URL and the ws:// form an
// automerge-repo client or `tandem sync` uses. Other ids say they are
// reachable over ndjson only. A document the desktop app shares on the LAN
// is linked at the app's LAN address, with its certificate fingerprint.
import type { Backend, SharePolicy } from "../backend/types";
import { automergeUrl } from "../model/connection";
import { buildTandemLink } from "../model/tandemlink";
import { openDialog } from "./dialogs";
import { h } from "./dom";

/** Where peers reach the document: a server URL and the certificate to pin (if any). */
export interface LinkBase {
  url: string;
  fingerprint: string | null;
}

/**
 * The links of document `id` on the server listening at `listen` (e.g.
 * `http://127.0.0.1:7450`); the `tandem` link points at `shared` instead
 * when the document is shared beyond this machine.
 */
export function documentLinks(
  id: string,
  listen: string,
  shared: LinkBase | null = null,
): { tandem: string; ndjson: string; automerge: string | null; socket: string | null } {
  const base = listen.replace(/\/+$/, "");
  const automerge = automergeUrl(id);
  const peerBase = shared ? shared.url.replace(/\/+$/, "") : base;
  return {
    tandem: buildTandemLink(`${peerBase}/${encodeURIComponent(id)}`, shared?.fingerprint ?? null),
    ndjson: `${base}/${encodeURIComponent(id)}`,
    automerge,
    socket: automerge ? `${base.replace(/^http/, "ws")}/${automerge}` : null,
  };
}

/** The app's LAN address and fingerprint, when it serves `share`d documents on the LAN now. */
async function lanBase(backend: Backend | undefined, share: SharePolicy | undefined): Promise<LinkBase | null> {
  if (!backend?.lanStatus || !share || share === "private") return null;
  try {
    const lan = await backend.lanStatus();
    const url = lan.link_url ?? lan.url;
    return lan.listening && url ? { url, fingerprint: lan.fingerprint || null } : null;
  } catch {
    return null; // the loopback link still works on this machine
  }
}

/** Shows the links with a copy button each. */
export async function showLinks(id: string, listen: string, where: { backend?: Backend; share?: SharePolicy } = {}): Promise<void> {
  const links = documentLinks(id, listen, await lanBase(where.backend, where.share));
  const row = (label: string, value: string, testid: string) => {
    const input = h("input", { type: "text", readonly: true, value, testid, class: "link-value" });
    const copy = h(
      "button",
      {
        type: "button",
        class: "btn",
        onclick: () => {
          input.select();
          void navigator.clipboard?.writeText(value).catch(() => document.execCommand("copy"));
        },
      },
      "Copy",
    );
    return h("label", { class: "field" }, h("span", null, label), h("span", { class: "link-row" }, input, copy));
  };
  const body: HTMLElement[] = [
    row("Link to share (Open from server…, or open it with Tandem)", links.tandem, "link-tandem"),
    row("Tandem (ndjson sync, tandem sync)", links.ndjson, "link-ndjson"),
  ];
  if (links.automerge && links.socket) {
    body.push(row("automerge-repo URL", links.automerge, "link-automerge"));
    body.push(row("automerge-repo server + document (tandem sync, Open from server)", links.socket, "link-socket"));
  } else {
    body.push(
      h(
        "p",
        { class: "hint", testid: "link-ndjson-only" },
        "This document's id is not an automerge-repo id (made before Tandem minted those): it is reachable over ndjson only.",
      ),
    );
  }
  await openDialog({ title: "Copy link", body, okLabel: "Done", hideCancel: true, testid: "links-dialog" });
}
