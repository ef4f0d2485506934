// The document actions that ask something first or hand over a file: new,
// rename, delete (confirm), export (download or save dialog), import (file
// input or open dialog). Each gathers input and calls a store action.
import { formatSize } from "../../model/format";
import { exportFileName } from "../../model/title";
import { errorMessage, type Store } from "../../state/store";
import { field, openDialog } from "../dialogs";
import { h } from "../dom";
import { toast } from "../toast";

/** Asks for a title and creates a document; returns its id (null if cancelled). */
export async function newDocDialog(store: Store): Promise<string | null> {
  const input = h("input", { type: "text", testid: "prompt-input", name: "title", placeholder: "Untitled", autocomplete: "off" });
  let created: string | null = null;
  const ok = await openDialog({
    title: "New document",
    body: [field("Title", input)],
    okLabel: "Create",
    testid: "new-doc-dialog",
    onError: (m) => store.showError(m),
    onOk: async () => {
      created = await store.createDoc(input.value.trim());
    },
  });
  return ok ? created : null;
}

/** Asks for a new title of `id`. */
export async function renameDialog(store: Store, id: string): Promise<void> {
  const input = h("input", { type: "text", testid: "prompt-input", name: "title", value: store.rawTitle(id), autocomplete: "off" });
  await openDialog({
    title: "Rename document",
    body: [field("Title", input)],
    okLabel: "Rename",
    testid: "rename-dialog",
    onError: (m) => store.showError(m),
    onOk: () => store.renameDoc(id, input.value),
  });
}

/** Confirms, then deletes `id` (here, and on its servers if asked). */
export async function deleteDialog(store: Store, id: string): Promise<void> {
  const title = store.titleOf(id);
  const synced = store.remoteList().filter((r) => r.info.doc_id === id && r.info.state !== "removed").length;
  const everywhere = h("input", { type: "checkbox", name: "everywhere", testid: "delete-everywhere" }) as HTMLInputElement;
  const body: (HTMLElement | string)[] = [
    h(
      "p",
      null,
      `“${title}” will be deleted from this device. Peers that sync it from here are told it was deleted. This cannot be undone.`,
    ),
  ];
  if (synced > 0) {
    body.push(
      h("label", { class: "check" }, everywhere, ` Also delete it on the ${synced === 1 ? "server" : `${synced} servers`} it syncs with`),
    );
  }
  await openDialog({
    title: "Delete document?",
    body,
    okLabel: "Delete",
    danger: true,
    testid: "confirm-dialog",
    onError: (m) => store.showError(m),
    onOk: async () => {
      const kept = await store.deleteDoc(id, everywhere.checked);
      if (kept.length > 0) {
        store.showError(`Deleted here, but not on ${kept.map((o) => `${o.url} (${o.error ?? "refused"})`).join(", ")}.`);
      }
    },
  });
}

/** Saves `id` as an `.automerge` file (a download, or the desktop app's save dialog). */
export async function exportDoc(store: Store, id: string): Promise<void> {
  const backend = store.backend;
  try {
    if (backend.exportToFile) {
      // The desktop app: the system's save dialog, then say where it went.
      const path = await backend.exportToFile(id, store.titleOf(id));
      if (path) toast(`Saved to ${path}`, 8000);
      return;
    }
    const bytes = await backend.exportDoc(id);
    const blob = new Blob([bytes as BlobPart], { type: "application/octet-stream" });
    const url = URL.createObjectURL(blob);
    const a = h("a", { href: url, download: exportFileName(store.titleOf(id), id), class: "visually-hidden" });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 30_000);
  } catch (e) {
    store.showError(`Export failed: ${errorMessage(e)}`);
  }
}

/** Importing `.automerge` files: the hidden file input (browser) or the open dialog (desktop). */
export class Importer {
  /** The file input, placed in the sidebar. */
  readonly input: HTMLInputElement;

  constructor(
    private readonly store: Store,
    private readonly show: (id: string) => void,
  ) {
    this.input = h("input", {
      type: "file",
      accept: ".automerge,application/octet-stream",
      class: "visually-hidden",
      tabindex: "-1",
      "aria-hidden": "true",
      testid: "import-file",
      onchange: () => void this.importSelected(),
    });
  }

  /** Asks for a file to import. */
  start(): void {
    if (this.store.backend.importFromFile) void this.importWithDialog();
    else this.input.click();
  }

  /** The desktop app's import: the system's open dialog. */
  private async importWithDialog(): Promise<void> {
    try {
      const r = await this.store.backend.importFromFile?.();
      if (!r) return;
      await this.store.refreshDocs();
      this.show(r.id);
      toast(`Imported ${r.path}`, 8000);
    } catch (e) {
      this.store.showError(`Import failed: ${errorMessage(e)}`);
    }
  }

  private async importSelected(): Promise<void> {
    const file = this.input.files?.[0];
    this.input.value = "";
    if (!file) return;
    try {
      if (file.size > 1_000_000) toast(`Importing “${file.name}” (${formatSize(file.size)})…`, 60_000);
      const bytes = new Uint8Array(await file.arrayBuffer());
      const id = await this.store.backend.importDoc(bytes);
      await this.store.refreshDocs();
      this.show(id);
      toast(`Imported “${file.name}” (${formatSize(file.size)})`);
    } catch (e) {
      this.store.showError(`Import of “${file.name}” failed: ${errorMessage(e)}`);
    }
  }
}
