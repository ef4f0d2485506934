// Conflicts of the open document: keys that hold concurrent values. A
// document-level list above the document, and a badge next to each
// conflicted field of the live view; both list every value with its author,
// and choosing one asks the backend to write it as a normal change.
// Computed from the UI's own Automerge doc (`getConflicts`), so a conflict
// shows as soon as the concurrent change arrives.
import type { Backend } from "../backend/types";
import { type Conflict, findConflicts } from "../model/history";
import { pathLabel, pathToString } from "../model/path";
import type { SyncPeer } from "../model/peer";
import { h, setText } from "./dom";

export interface ConflictWatchOptions {
  backend: Backend;
  docId: string;
  peer: SyncPeer<Record<string, unknown>>;
  /** Where the live document view is rendered (badges go next to its fields). */
  liveRoot: HTMLElement;
  onError(message: string): void;
}

function show(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (value instanceof Date) return value.toISOString();
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** The document's open conflicts, kept up to date with the live document. */
export class ConflictWatch {
  readonly el: HTMLElement;
  private readonly summary: HTMLElement;
  private readonly list: HTMLElement;
  private conflicts: Conflict[] = [];
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly unsubscribe: () => void;
  private busy = false;

  constructor(private readonly opts: ConflictWatchOptions) {
    this.summary = h("summary", { class: "conflict-summary", testid: "conflict-summary" });
    this.list = h("ul", { class: "conflict-list", testid: "conflict-list" });
    this.el = h("details", { class: "conflict-bar", testid: "conflict-bar", hidden: true }, this.summary, this.list);
    this.unsubscribe = opts.peer.onChange(() => this.schedule());
    this.schedule();
  }

  /** The conflicts found last. */
  current(): readonly Conflict[] {
    return this.conflicts;
  }

  private schedule(): void {
    if (this.timer !== null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.refresh();
    }, 150);
  }

  /** Re-read the live document's conflicts and re-render. */
  refresh(): void {
    if (!this.opts.peer.isReady()) return;
    try {
      this.conflicts = findConflicts(this.opts.peer.doc());
    } catch (e) {
      this.opts.onError(`Could not read the conflicts: ${(e as Error).message ?? e}`);
      return;
    }
    this.render();
    this.decorate();
  }

  private render(): void {
    const n = this.conflicts.length;
    this.el.hidden = n === 0;
    setText(this.summary, n === 1 ? "⚠ 1 open conflict" : `⚠ ${n} open conflicts`);
    this.list.replaceChildren(...this.conflicts.map((c) => h("li", { class: "conflict" }, this.describe(c, "doc"))));
  }

  /** A conflict's values with their authors, each with a "Keep" button. */
  private describe(c: Conflict, where: "doc" | "badge"): HTMLElement {
    const at = pathToString(c.path);
    return h(
      "div",
      { class: "conflict-item", testid: where === "doc" ? "conflict" : "conflict-values", "data-path": at },
      h("span", { class: "conflict-where" }, pathLabel(c.path), " holds concurrent values:"),
      h(
        "ul",
        { class: "conflict-values" },
        c.values.map((v) =>
          h(
            "li",
            { class: v.winner ? "conflict-value winner" : "conflict-value", testid: "conflict-value", "data-author": v.author },
            h("code", { class: "conflict-text" }, show(v.value)),
            h("span", { class: "conflict-author" }, ` by ${v.author}`, v.winner ? " (shown now)" : ""),
            h(
              "button",
              {
                type: "button",
                class: "btn small",
                testid: "conflict-choose",
                "data-choice": v.id,
                "aria-label": `Keep ${show(v.value)} by ${v.author} for ${pathLabel(c.path)}`,
                onclick: () => void this.choose(c, v.id),
              },
              "Keep",
            ),
          ),
        ),
      ),
    );
  }

  private async choose(c: Conflict, choice: string): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      await this.opts.backend.resolveConflict(this.opts.docId, c.path, choice);
    } catch (e) {
      this.opts.onError(`Could not resolve the conflict at ${pathLabel(c.path)}: ${(e as Error).message ?? e}`);
    } finally {
      this.busy = false;
    }
  }

  /** Put a badge next to each conflicted field of the live view (call after it renders). */
  decorate(): void {
    const root = this.opts.liveRoot;
    for (const old of root.querySelectorAll('[data-testid="conflict-badge"]')) old.remove();
    for (const c of this.conflicts) {
      const at = pathToString(c.path);
      const field = [...root.querySelectorAll<HTMLElement>("[data-path]")].find(
        (e) => e.dataset.path === at && e.dataset.testid !== "conflict-values",
      );
      if (!field) continue;
      const badge = h(
        "details",
        { class: "conflict-badge", testid: "conflict-badge", "data-path": at },
        h("summary", { "aria-label": `Conflict at ${pathLabel(c.path)}` }, `⚠ ${c.values.length} values`),
        this.describe(c, "badge"),
      );
      if (field instanceof HTMLInputElement || field instanceof HTMLOutputElement || field instanceof HTMLSelectElement)
        field.insertAdjacentElement("afterend", badge);
      else field.append(badge);
    }
  }

  destroy(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.unsubscribe();
    for (const old of this.opts.liveRoot.querySelectorAll('[data-testid="conflict-badge"]')) old.remove();
    this.el.remove();
  }
}
