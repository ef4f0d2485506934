// CodeMirror ⇄ Automerge text binding.
//
// This is @automerge/automerge-codemirror's `automergeSyncPlugin`, with ONE
// difference: when the document changes we ask Automerge only for the patches
// of *this* text object (`diffPath`) instead of the whole document (`diff`).
// The library applies every patch of a whole-document diff with its own
// (empty) CodeMirror dispatch, so a large remote change (thousands of patches
// elsewhere in the doc) cost ~200 ms per open editor; scoped, it costs ~1 ms.
// The CodeMirror → Automerge direction (char-by-char splices) works like the
// library's; it is written here (`applyEditorChanges`) because the package
// exports only the plugin and the `DocHandle` type. The Automerge → CodeMirror
// direction is ours (`applyRemotePatches`): the library maps the local
// selection with `assoc = 1`, so a caret moves past a remote insert made
// exactly at it, and two people typing at one spot interleave their words;
// we map with `assoc = -1`, so each typist's run stays contiguous.
import type { DocHandle } from "@automerge/automerge-codemirror";
import { Annotation, ChangeSet, type ChangeSpec, type Transaction } from "@codemirror/state";
import { type EditorView, ViewPlugin, type ViewUpdate } from "@codemirror/view";
import { A } from "../automerge";
import type { Prop } from "../model/path";

/** Marks the editor transactions that carry remote changes in (never written back to Automerge). */
const reconcile = Annotation.define<true>();

/** Whether an editor transaction carried a remote change in (rather than the user's own edit). */
export function isRemoteChange(tr: Transaction): boolean {
  return tr.annotation(reconcile) !== undefined;
}

/**
 * Writes the user's edits (every non-remote transaction with changes) into the
 * text at `path` as one Automerge change; returns the new heads, or null when
 * there was nothing to write.
 */
export function applyEditorChanges(handle: DocHandle<unknown>, path: Prop[], transactions: readonly Transaction[]): A.Heads | null {
  const edits = transactions.filter((tr) => !tr.annotation(reconcile) && !tr.changes.empty);
  if (edits.length === 0) return null;
  handle.change((doc) => {
    for (const tr of edits) {
      tr.changes.iterChanges((fromA, toA, fromB, _toB, inserted) => {
        // a copy of the path each time: A.splice changes the array it is given
        A.splice(doc as A.Doc<unknown>, path.slice(), fromB, toA - fromA, inserted.toString());
      });
    }
  });
  return A.getHeads(handle.doc());
}

export function automergeTextBinding({ handle, path }: { handle: DocHandle<unknown>; path: Prop[] }) {
  return ViewPlugin.fromClass(
    class {
      reconciledHeads: A.Heads = A.getHeads(handle.doc());
      processing = false;

      constructor(readonly view: EditorView) {
        handle.on("change", this.onChange);
      }

      update(update: ViewUpdate): void {
        // Local edits: changes made while processing our own transactions are
        // ignored by onChange below.
        this.processing = true;
        try {
          const heads = applyEditorChanges(handle, path, update.transactions);
          if (heads) this.reconciledHeads = heads;
        } finally {
          this.processing = false;
        }
      }

      onChange = (): void => {
        if (this.processing) return;
        const doc = handle.doc();
        const heads = A.getHeads(doc);
        if (A.equals(heads, this.reconciledHeads)) return;
        let patches: A.Patch[] = [];
        try {
          patches = A.diffPath(doc, [...path], this.reconciledHeads, heads);
        } catch {
          // the text object is gone; the view will drop this editor
        }
        this.reconciledHeads = heads;
        if (patches.length > 0) applyRemotePatches(this.view, path, patches);
      };

      destroy(): void {
        handle.off("change", this.onChange);
      }
    },
  );
}

/** The index of a character patch on the text at `path`, or null for patches elsewhere. */
function charIndex(path: Prop[], patchPath: A.Prop[]): number | null {
  if (patchPath.length !== path.length + 1) return null;
  for (let i = 0; i < path.length; i++) if (path[i] !== patchPath[i]) return null;
  const last = patchPath[patchPath.length - 1];
  return typeof last === "number" ? last : null;
}

/** One Automerge patch on the text at `path` as a CodeMirror change, or null. */
export function patchToChange(patch: A.Patch, path: Prop[], length: number): ChangeSpec | null {
  switch (patch.action) {
    case "splice": {
      const at = charIndex(path, patch.path);
      return at === null ? null : { from: at, insert: patch.value };
    }
    case "insert": {
      const at = charIndex(path, patch.path);
      return at === null ? null : { from: at, insert: patch.values.map((v) => (v == null ? "" : String(v))).join("") };
    }
    case "del": {
      const at = charIndex(path, patch.path);
      return at === null ? null : { from: at, to: at + (patch.length ?? 1) };
    }
    case "put": {
      // the whole text replaced (e.g. the object was set anew)
      if (charIndex(path, [...patch.path, 0]) === null || typeof patch.value !== "string") return null;
      return { from: 0, to: length, insert: patch.value };
    }
    default:
      return null;
  }
}

/**
 * Applies remote patches to the editor. The local selection is mapped with
 * `assoc = -1`: text inserted by someone else exactly at the caret goes
 * after the caret, so what the user types next continues their own run.
 */
export function applyRemotePatches(view: EditorView, path: Prop[], patches: A.Patch[]): void {
  let selection = view.state.selection;
  for (const patch of patches) {
    const spec = patchToChange(patch, path, view.state.doc.length);
    if (spec === null) continue;
    const changes = ChangeSet.of(spec, view.state.doc.length, "\n");
    selection = selection.map(changes, -1);
    view.dispatch({ changes, annotations: reconcile.of(true) });
  }
  view.dispatch({ selection, annotations: reconcile.of(true) });
}
