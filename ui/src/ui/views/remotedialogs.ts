// The dialogs about server connections: open a document from a server, sync
// the open one with a server, a new token for a connection, stop syncing.
// A connection that fails is explained in the dialog, with its fix set up
// in the form (fingerprint filled in, token selected).
import type { RemoteInfo } from "../../backend/types";
import { validateRemoteUrl } from "../../model/connection";
import { adviseOnProblem } from "../../model/remoteproblem";
import { errorMessage, type Store } from "../../state/store";
import { confirmDialog, field, openDialog, ValidationError } from "../dialogs";
import { h } from "../dom";
import { acceptTandemLinks } from "../linkfield";

function remoteForm(needDocId: boolean, placeholder: string) {
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
    field(
      "Document URL",
      url,
      needDocId
        ? "e.g. https://host:7450/<document id>, or ws://host:3030/automerge:<id> (an automerge-repo server)"
        : "The same document on the other server",
    ),
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

/** "Open from server": a local copy that syncs with it; returns the document's id (null if cancelled). */
export async function openFromServerDialog(store: Store, prefill?: { url: string; fingerprint: string | null }): Promise<string | null> {
  const form = remoteForm(true, "https://host:7450/<document id>, or a tandem:// link");
  if (prefill) form.fill(prefill.url, prefill.fingerprint);
  let docId: string | null = null;
  const ok = await openDialog({
    title: "Open from server",
    body: [h("p", { class: "dialog-intro" }, "Makes a local copy that stays in sync with the server."), ...form.body],
    okLabel: "Open",
    testid: "open-remote-dialog",
    onError: (m) => store.showError(m),
    onOk: async () => {
      const r = await store.backend.addRemote(form.request(null), { wait: true });
      if (r.state === "error") form.failed(r);
      docId = r.doc_id;
    },
  });
  if (!ok || !docId) return null;
  await Promise.all([store.refreshDocs(), store.refreshRemotes()]);
  return docId;
}

/** "Sync with server": keeps `id` in sync with the same document on another server. */
export async function syncWithServerDialog(store: Store, id: string): Promise<void> {
  const form = remoteForm(false, `https://host:7450/${id}`);
  const ok = await openDialog({
    title: "Sync with server",
    body: [
      h("p", { class: "dialog-intro" }, `Keep “${store.titleOf(id)}” in sync with a document on another Tandem server.`),
      ...form.body,
    ],
    okLabel: "Start syncing",
    testid: "sync-remote-dialog",
    onError: (m) => store.showError(m),
    onOk: async () => {
      const r = await store.backend.addRemote(form.request(id), { wait: true });
      if (r.state === "error") form.failed(r);
    },
  });
  if (ok) await store.refreshRemotes();
}

/** Asks for the token of a connection and saves it. */
export async function editTokenDialog(store: Store, info: RemoteInfo): Promise<void> {
  const input = h("input", { type: "password", testid: "prompt-input", name: "token", autocomplete: "off" });
  await openDialog({
    title: "Access token",
    body: [h("p", null, `The token for ${info.url}.`), field("Token", input)],
    okLabel: "Save and connect",
    testid: "token-dialog",
    onError: (m) => store.showError(m),
    onOk: async () => {
      await store.backend.updateRemote(info.id, { token: input.value.trim() });
    },
  });
}

/** Confirms, then stops syncing with a server (the local document is kept). */
export async function removeRemoteDialog(store: Store, info: RemoteInfo): Promise<void> {
  const sure = await confirmDialog("Stop syncing?", `Stop syncing with ${info.url}? The local document is kept.`, "Stop syncing", true);
  if (sure) await store.removeRemote(info.id);
}
