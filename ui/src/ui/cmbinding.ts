// CodeMirror ⇄ Automerge text binding.
//
// This is @automerge/automerge-codemirror's `automergeSyncPlugin`, with ONE
// difference: when the document changes we ask Automerge only for the patches
// of *this* text object (`diffPath`) instead of the whole document (`diff`).
// The library applies every patch of a whole-document diff with its own
// (empty) CodeMirror dispatch, so a large remote change (thousands of patches
// elsewhere in the doc) cost ~200 ms per open editor; scoped, it costs ~1 ms.
// The CodeMirror↔Automerge translation itself (char-by-char splices, patch →
// ChangeSet mapping, reconcile annotation) is the library's code, imported
// from its modules.
import { applyAmPatchesToCm } from "@automerge/automerge-codemirror/dist/amToCodemirror.js";
import { applyCmTransactionsToAmHandle } from "@automerge/automerge-codemirror/dist/codeMirrorToAm.js";
import type { DocHandle } from "@automerge/automerge-codemirror";
import { type EditorView, ViewPlugin, type ViewUpdate } from "@codemirror/view";
import { A } from "../automerge";
import type { Prop } from "../model/path";

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
          const heads = applyCmTransactionsToAmHandle(handle, path, [...update.transactions]);
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
        if (patches.length > 0) applyAmPatchesToCm(this.view, path, patches);
      };

      destroy(): void {
        handle.off("change", this.onChange);
      }
    },
  );
}
