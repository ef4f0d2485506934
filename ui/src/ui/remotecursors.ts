// Other people in the text editor: their carets and selections, labelled and
// coloured (from the document's presence session), and a short-lived
// highlight of text someone else just inserted, with their name on hover.
// The local selection is reported to the session, so others see ours.
import { type Extension, RangeSetBuilder, StateEffect, StateField } from "@codemirror/state";
import { Decoration, type DecorationSet, EditorView, ViewPlugin, type ViewUpdate, WidgetType } from "@codemirror/view";
import { A } from "../automerge";
import type { Prop } from "../model/path";
import type { SyncPeer } from "../model/peer";
import type { Member } from "../model/presence";
import { PresenceSession } from "../state/presence";
import { isRemoteChange } from "./cmbinding";

/** How long someone else's inserted text stays highlighted. */
export const HIGHLIGHT_MS = 3_000;

class CaretWidget extends WidgetType {
  constructor(
    readonly name: string,
    readonly color: string,
  ) {
    super();
  }
  override eq(other: CaretWidget): boolean {
    return other.name === this.name && other.color === this.color;
  }
  toDOM(): HTMLElement {
    const caret = document.createElement("span");
    caret.className = "cm-remote-caret";
    caret.dataset.testid = "remote-caret";
    caret.dataset.name = this.name;
    caret.style.setProperty("--who", this.color);
    // The label is drawn by CSS from data-name (::after): no text enters the
    // editor's content, so its textContent stays the document's text.
    caret.title = this.name;
    return caret;
  }
  override ignoreEvent(): boolean {
    return true;
  }
}

function samePath(a: (string | number)[], b: Prop[]): boolean {
  return a.length === b.length && a.every((p, i) => p === b[i]);
}

/** The carets and selections of `members` in the text at `path`. */
function cursorDecorations(doc: A.Doc<unknown>, path: Prop[], members: Member[], length: number): DecorationSet {
  const ranges: { from: number; to: number; deco: Decoration }[] = [];
  for (const m of members) {
    const c = m.cursor;
    if (!c || !samePath(c.path, path)) continue;
    let anchor: number;
    let head: number;
    try {
      anchor = A.getCursorPosition(doc, [...path], c.anchor);
      head = A.getCursorPosition(doc, [...path], c.head);
    } catch {
      continue; // their text is not here yet
    }
    anchor = Math.min(Math.max(anchor, 0), length);
    head = Math.min(Math.max(head, 0), length);
    const [from, to] = anchor <= head ? [anchor, head] : [head, anchor];
    if (from < to) {
      ranges.push({
        from,
        to,
        deco: Decoration.mark({
          class: "cm-remote-selection",
          attributes: { style: `--who: ${m.user.color}`, title: m.user.name },
        }),
      });
    }
    ranges.push({
      from: head,
      to: head,
      deco: Decoration.widget({ widget: new CaretWidget(m.user.name, m.user.color), side: 1 }),
    });
  }
  ranges.sort((a, b) => a.from - b.from || a.to - b.to);
  const builder = new RangeSetBuilder<Decoration>();
  for (const r of ranges) builder.add(r.from, r.to, r.deco);
  return builder.finish();
}

const presenceMoved = StateEffect.define<null>();
const addHighlights = StateEffect.define<{ from: number; to: number; name: string }[]>();
const dropHighlights = StateEffect.define<null>();

/** Recently inserted remote text, mapped through later edits. */
const highlights = StateField.define<DecorationSet>({
  create: () => Decoration.none,
  update(set, tr) {
    set = set.map(tr.changes);
    for (const e of tr.effects) {
      if (e.is(dropHighlights)) set = Decoration.none;
      if (e.is(addHighlights)) {
        set = set.update({
          add: e.value.map((r) =>
            Decoration.mark({
              class: "cm-remote-change",
              attributes: { title: `changed by ${r.name}`, "data-testid": "remote-change", "data-name": r.name },
            }).range(r.from, r.to),
          ),
          sort: true,
        });
      }
    }
    return set;
  },
  provide: (f) => EditorView.decorations.from(f),
});

/** Remote carets, selections and change highlights for the text at `path`. */
export function remoteCursors(peer: SyncPeer<unknown>, path: Prop[]): Extension {
  const session = PresenceSession.of(peer);
  const plugin = ViewPlugin.fromClass(
    class {
      decorations: DecorationSet;
      private readonly off: () => void;
      private clearTimer: ReturnType<typeof setTimeout> | null = null;
      private gone = false;

      constructor(readonly view: EditorView) {
        this.decorations = this.compute();
        this.off = session.onChange(() => this.later({ effects: presenceMoved.of(null) }));
      }

      update(update: ViewUpdate): void {
        const remote = update.transactions.filter((tr) => isRemoteChange(tr) && tr.docChanged);
        if (remote.length > 0) this.highlight(remote.map((tr) => tr.changes));
        if (update.docChanged || update.transactions.some((tr) => tr.effects.some((e) => e.is(presenceMoved)))) {
          this.decorations = this.compute();
        }
        const local = update.transactions.some((tr) => !isRemoteChange(tr));
        if ((update.selectionSet || update.focusChanged) && local && update.view.hasFocus) {
          const sel = update.state.selection.main;
          session.setCursor(path, sel.anchor, sel.head);
        }
      }

      private compute(): DecorationSet {
        return cursorDecorations(peer.doc(), path, session.members(), this.view.state.doc.length);
      }

      private highlight(changes: import("@codemirror/state").ChangeSet[]): void {
        // The ranges in the final document: map each insert through the later changes.
        const ranges: { from: number; to: number }[] = [];
        changes.forEach((cs, i) => {
          cs.iterChangedRanges((_fa, _ta, fromB, toB) => {
            if (toB <= fromB) return;
            let from = fromB;
            let to = toB;
            for (const later of changes.slice(i + 1)) {
              from = later.mapPos(from, 1);
              to = later.mapPos(to, -1);
            }
            if (to > from) ranges.push({ from, to });
          });
        });
        if (ranges.length === 0) return;
        queueMicrotask(() => {
          // By now the session has seen the change too (it listens after the binding).
          const name = session.lastRemoteAuthor() ?? "someone else";
          if (!this.gone) this.view.dispatch({ effects: addHighlights.of(ranges.map((r) => ({ ...r, name }))) });
        });
        if (this.clearTimer) clearTimeout(this.clearTimer);
        this.clearTimer = setTimeout(() => this.later({ effects: dropHighlights.of(null) }), HIGHLIGHT_MS);
      }

      /** Dispatches outside the current update (CodeMirror forbids nested ones). */
      private later(spec: { effects: StateEffect<unknown> }): void {
        queueMicrotask(() => {
          if (!this.gone) this.view.dispatch(spec);
        });
      }

      destroy(): void {
        this.gone = true;
        this.off();
        if (this.clearTimer) clearTimeout(this.clearTimer);
      }
    },
    { decorations: (v) => v.decorations },
  );
  return [highlights, plugin];
}
