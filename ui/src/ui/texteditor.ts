// A CodeMirror 6 editor bound to one Automerge text object through
// @automerge/automerge-codemirror (see ./cmbinding.ts): typing becomes char-by-char splices on the
// peer, remote changes arrive as minimal CodeMirror changes (caret/selection
// are mapped, never reset).
import { EditorState, type Extension, Prec } from "@codemirror/state";
import { EditorView, keymap, placeholder as placeholderExt } from "@codemirror/view";
import { minimalSetup } from "codemirror";
import { getAt, type Prop, pathToString } from "../model/path";
import type { SyncPeer } from "../model/peer";
import { automergeTextBinding } from "./cmbinding";
import { h } from "./dom";
import { remoteCursors } from "./remotecursors";

export interface TextEditorOptions {
  peer: SyncPeer<unknown>;
  path: Prop[];
  label: string;
  placeholder?: string;
  /** Single-line (title) editor: Enter calls `onEnter`, pasted newlines become spaces. */
  singleLine?: boolean;
  onEnter?: () => void;
  testid?: string;
  className?: string;
  /** More CodeMirror extensions (e.g. the Markdown preview of a note's body). */
  extensions?: Extension[];
}

/** Replace line breaks typed/pasted by the user with spaces (same length, so selection stays valid). */
const singleLineFilter = EditorState.transactionFilter.of((tr) => {
  if (!tr.docChanged || !(tr.isUserEvent("input") || tr.isUserEvent("delete") || tr.isUserEvent("move"))) return tr;
  let multi = false;
  tr.changes.iterChanges((_a, _b, _c, _d, ins) => {
    if (ins.lines > 1) multi = true;
  });
  if (!multi) return tr;
  const changes: { from: number; to: number; insert: string }[] = [];
  tr.changes.iterChanges((fromA, toA, _fb, _tb, ins) => {
    changes.push({ from: fromA, to: toA, insert: ins.sliceString(0, ins.length, " ") });
  });
  return { changes, selection: tr.selection, scrollIntoView: tr.scrollIntoView, userEvent: "input" };
});

export class TextEditor {
  readonly el: HTMLElement;
  readonly view: EditorView;
  readonly path: Prop[];

  constructor(opts: TextEditorOptions) {
    this.path = [...opts.path];
    const initial = getAt(opts.peer.doc(), this.path);
    const extensions: Extension[] = [
      minimalSetup,
      EditorView.lineWrapping,
      EditorView.contentAttributes.of({
        "aria-label": opts.label,
        "aria-multiline": opts.singleLine ? "false" : "true",
        spellcheck: "true",
      }),
      automergeTextBinding({ handle: opts.peer, path: this.path }),
      // others' carets, selections and fresh changes (./presence.ts)
      remoteCursors(opts.peer, this.path),
    ];
    if (opts.placeholder) extensions.push(placeholderExt(opts.placeholder));
    if (opts.extensions) extensions.push(...opts.extensions);
    if (opts.singleLine) {
      extensions.push(
        singleLineFilter,
        // above minimalSetup's default keymap (which binds Enter to "insert newline")
        Prec.highest(
          keymap.of([
            {
              key: "Enter",
              run: () => {
                opts.onEnter?.();
                return true;
              },
            },
          ]),
        ),
      );
    }
    this.el = h("div", {
      class: `text-editor ${opts.singleLine ? "single-line" : "multi-line"} ${opts.className ?? ""}`.trim(),
      testid: opts.testid ?? "text-editor",
      "data-path": pathToString(this.path),
    });
    this.view = new EditorView({
      parent: this.el,
      state: EditorState.create({ doc: typeof initial === "string" ? initial : "", extensions }),
    });
  }

  focus(): void {
    this.view.focus();
  }

  destroy(): void {
    this.view.destroy();
    this.el.remove();
  }
}
