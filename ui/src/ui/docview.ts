// Generic, live view of a whole Automerge document.
//
// Every map/list/scalar/text is a small view object that owns its DOM and can
// `update(node)` in place. On each change we rebuild the cheap tree *model*
// (src/model/tree.ts) and reconcile views by identity (path + kind + object
// id): existing views are updated, never recreated, so focus, caret and
// selection in inputs and CodeMirror editors survive local and remote edits.
// Text contents are not rendered by us at all: each CodeMirror editor is bound
// to its text object (./cmbinding.ts) and receives minimal changes directly.
// Edits that only touch bound text skip the tree pass. The value views are in
// ./docvalues.ts, the containers and layouts in ./doctree.ts; this file is
// `DocView`, the island the pane creates once per shown document.
import { A } from "../automerge";
import { isTextOnlyChange } from "../model/patches";
import { type Prop, pathToString } from "../model/path";
import type { SyncPeer } from "../model/peer";
import { buildTree, isNoteTemplate } from "../model/tree";
import { PresenceSession } from "../state/presence";
import { GenericLayout, NoteLayout } from "./doctree";
import { type AnyDoc, AUTO_COLLAPSE, type Ctx } from "./docvalues";
import { h } from "./dom";

export { AUTO_COLLAPSE };

export interface DocViewOptions {
  onError(message: string): void;
  /** Called after each render with the live title (root `title`), for headers/sidebar. */
  onRendered?(): void;
  /** Opens a web link from a note (default: a new browser tab). */
  openUrl?(url: string): void;
}

/** How long a field someone else changed stays marked. */
const FIELD_HIGHLIGHT_MS = 3000;

/** The document pane's content: picks a layout and keeps it live. */
export class DocView {
  readonly el: HTMLElement;
  private layout: NoteLayout | GenericLayout | null = null;
  private readonly ctx: Ctx;
  private renderedHeads: A.Heads = [];
  private frame: number | null = null;
  private readonly unsubscribe: () => void;
  private destroyed = false;

  constructor(
    private readonly peer: SyncPeer<AnyDoc>,
    private readonly opts: DocViewOptions,
  ) {
    this.ctx = {
      peer,
      expanded: new Map(),
      descend: (path, size) => this.ctx.expanded.get(pathToString(path)) ?? size <= AUTO_COLLAPSE,
      texts: new Set(),
      error: (m) => opts.onError(m),
      openUrl: (url) => (opts.openUrl ? opts.openUrl(url) : void window.open(url, "_blank", "noopener,noreferrer")),
      edit: (fn) => {
        try {
          peer.change(fn);
          return true;
        } catch (e) {
          opts.onError((e as Error).message ?? String(e));
          return false;
        }
      },
    };
    this.el = h("div", { class: "doc-view", "aria-busy": "true" }, h("p", { class: "loading" }, "Loading document…"));
    this.unsubscribe = peer.onChange((c) => {
      if (!c.local) this.remoteSinceRender = true;
      this.disableStaleEditors();
      this.schedule();
    });
    this.render();
  }

  /** Coalesce renders to one per frame (also keeps typing smooth under remote bursts). */
  private schedule(): void {
    if (this.frame !== null || this.destroyed) return;
    const run = () => {
      this.frame = null;
      this.render();
    };
    this.frame =
      typeof requestAnimationFrame === "function" && document.visibilityState !== "hidden"
        ? requestAnimationFrame(run)
        : (setTimeout(run, 16) as unknown as number);
  }

  /**
   * A structural change can put a different text object at an editor's path;
   * until the next frame rebuilds it, make sure nobody types into the wrong one.
   */
  private disableStaleEditors(): void {
    if (this.ctx.texts.size === 0) return;
    const backend = A.getBackend(this.peer.doc()) as unknown as {
      getWithType(obj: string, prop: Prop): [string, unknown] | null;
    };
    for (const t of this.ctx.texts) {
      let obj = "_root";
      let ok = true;
      for (const p of t.path) {
        const v = backend.getWithType(obj, p);
        if (!v || (v[0] !== "map" && v[0] !== "list" && v[0] !== "text")) {
          ok = false;
          break;
        }
        obj = v[1] as string;
      }
      if (!ok || obj !== t.objId) t.editor.view.contentDOM.setAttribute("contenteditable", "false");
    }
  }

  /** Render now (normally called via `schedule`). */
  render(): void {
    if (this.destroyed) return;
    const doc = this.peer.doc();
    const heads = A.getHeads(doc);
    const remote = this.remoteSinceRender;
    this.remoteSinceRender = false;
    let patches: A.Patch[] = [];
    if (this.layout && this.renderedHeads.length > 0) {
      if (heads.join() === this.renderedHeads.join()) return;
      patches = A.diff(doc, this.renderedHeads, heads);
      const textPaths = [...this.ctx.texts].map((t) => t.path);
      if (isTextOnlyChange(patches, textPaths)) {
        this.renderedHeads = heads;
        this.opts.onRendered?.();
        return;
      }
    }
    const root = buildTree(doc, this.ctx.descend);
    if (!this.layout && !this.peer.loaded) {
      // still loading: say how far a long first sync is
      const progress = this.peer.applying;
      const loading = this.el.querySelector(".loading");
      if (progress && loading) {
        loading.textContent = `Loading document… ${progress.done.toLocaleString()} of ${progress.total.toLocaleString()} changes`;
      }
      if (root.entries.length === 0) return;
    }
    const wantNote = isNoteTemplate(root);
    const fits =
      this.layout && (wantNote ? this.layout instanceof NoteLayout && this.layout.fits(root) : this.layout instanceof GenericLayout);
    if (fits) {
      this.layout!.update(root);
      if (remote) this.highlightRemote(patches);
    } else {
      this.layout?.destroy();
      this.layout = wantNote ? new NoteLayout(root, this.ctx) : new GenericLayout(root, this.ctx);
      this.el.replaceChildren(this.layout.el);
      this.el.removeAttribute("aria-busy");
      if (this.wantBodyFocus && this.layout instanceof NoteLayout) {
        this.layout.focusBody();
        this.wantBodyFocus = false;
      }
    }
    this.renderedHeads = heads;
    this.opts.onRendered?.();
  }

  private wantBodyFocus = false;
  /** Whether a change from someone else arrived since the last render. */
  private remoteSinceRender = false;

  /**
   * Marks, for a few seconds, the fields someone else just changed, with their
   * name on hover (text gets its own highlight inside the editor).
   */
  private highlightRemote(patches: A.Patch[]): void {
    const name = PresenceSession.of(this.peer as SyncPeer<unknown>).lastRemoteAuthor() ?? "someone else";
    const rows = new Set<HTMLElement>();
    for (const patch of patches) {
      if (patch.action === "splice" || patch.action === "del") continue; // inside text: the editor shows it
      const path = patch.path.filter((p): p is string | number => typeof p === "string" || typeof p === "number");
      const row = this.el.querySelector<HTMLElement>(`.row[data-path="${CSS.escape(pathToString(path))}"]`);
      if (row) rows.add(row);
    }
    for (const row of rows) {
      row.classList.add("remote-changed");
      row.dataset.changedBy = name;
      row.title = `changed by ${name}`;
      setTimeout(() => {
        row.classList.remove("remote-changed");
        row.removeAttribute("title");
        delete row.dataset.changedBy;
      }, FIELD_HIGHLIGHT_MS);
    }
  }

  /** Focus the body of a note as soon as it is rendered (after creating a document: its title was just typed). */
  focusBodyWhenReady(): void {
    if (this.layout instanceof NoteLayout) this.layout.focusBody();
    else if (!this.layout) this.wantBodyFocus = true;
  }

  destroy(): void {
    this.destroyed = true;
    if (this.frame !== null) {
      cancelAnimationFrame(this.frame);
      clearTimeout(this.frame);
    }
    this.unsubscribe();
    this.layout?.destroy();
    this.el.remove();
  }
}
