// "Copy link": the two ways to reach a document — its Tandem (ndjson) URL and,
// for ids automerge-repo accepts, its `automerge:` URL and the ws:// form an
// automerge-repo client or `tandem sync` uses. Other ids say they are
// reachable over ndjson only.
import { automergeUrl } from "../model/connection";
import { openDialog } from "./dialogs";
import { h } from "./dom";

/** The links of document `id` on the server listening at `listen` (e.g. `http://127.0.0.1:7450`). */
export function documentLinks(id: string, listen: string): { ndjson: string; automerge: string | null; socket: string | null } {
  const base = listen.replace(/\/+$/, "");
  const automerge = automergeUrl(id);
  return {
    ndjson: `${base}/${encodeURIComponent(id)}`,
    automerge,
    socket: automerge ? `${base.replace(/^http/, "ws")}/${automerge}` : null,
  };
}

/** Shows the links with a copy button each. */
export async function showLinks(id: string, listen: string): Promise<void> {
  const links = documentLinks(id, listen);
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
  const body: HTMLElement[] = [row("Tandem (ndjson sync, tandem sync)", links.ndjson, "link-ndjson")];
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
