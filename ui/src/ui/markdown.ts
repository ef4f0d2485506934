// Markdown "live preview" for a note's body: the text stays plain Markdown
// (what syncs is the text itself), styled in place — headings large, emphasis
// and strong as such, list markers and quotes marked, links underlined and
// opened with Ctrl/⌘+click.
import { markdown } from "@codemirror/lang-markdown";
import { HighlightStyle, syntaxHighlighting, syntaxTree } from "@codemirror/language";
import type { Extension } from "@codemirror/state";
import { EditorView } from "@codemirror/view";
import { tags as t } from "@lezer/highlight";

const style = HighlightStyle.define([
  { tag: t.heading1, fontSize: "1.6em", fontWeight: "700" },
  { tag: t.heading2, fontSize: "1.35em", fontWeight: "700" },
  { tag: t.heading3, fontSize: "1.15em", fontWeight: "700" },
  { tag: [t.heading4, t.heading5, t.heading6], fontWeight: "700" },
  { tag: t.emphasis, fontStyle: "italic" },
  { tag: t.strong, fontWeight: "700" },
  { tag: t.strikethrough, textDecoration: "line-through" },
  { tag: [t.link, t.url], color: "var(--accent)", textDecoration: "underline" },
  { tag: t.monospace, fontFamily: "ui-monospace, monospace", background: "var(--chip-bg)" },
  { tag: t.quote, color: "var(--muted)", fontStyle: "italic" },
  { tag: [t.list, t.processingInstruction, t.contentSeparator], color: "var(--faint)" },
  { tag: t.meta, color: "var(--faint)" },
]);

/** Only web and mail links are opened: anything else (javascript:, file:) is not. */
export function openableUrl(raw: string): string | null {
  const url = raw.trim().replace(/^<|>$/g, "");
  try {
    const parsed = new URL(url);
    return ["http:", "https:", "mailto:"].includes(parsed.protocol) ? parsed.href : null;
  } catch {
    return null;
  }
}

/** The URL of the Markdown link (or bare URL) at `pos`, if any. */
function urlAt(view: EditorView, pos: number): string | null {
  const node = syntaxTree(view.state).resolveInner(pos, 1);
  for (let n: typeof node | null = node; n; n = n.parent) {
    if (n.name === "URL") return view.state.sliceDoc(n.from, n.to);
    if (n.name === "Link" || n.name === "Autolink") {
      const url = n.getChild("URL");
      if (url) return view.state.sliceDoc(url.from, url.to);
    }
  }
  return null;
}

/** The Markdown extension; `open` opens a checked link (the browser, or the desktop's default app). */
export function markdownPreview(open: (url: string) => void): Extension {
  return [
    markdown(),
    syntaxHighlighting(style),
    EditorView.domEventHandlers({
      mousedown(ev, view) {
        if (!(ev.ctrlKey || ev.metaKey) || ev.button !== 0) return false;
        const pos = view.posAtCoords({ x: ev.clientX, y: ev.clientY });
        const raw = pos === null ? null : urlAt(view, pos);
        const url = raw ? openableUrl(raw) : null;
        if (!url) return false;
        ev.preventDefault();
        open(url);
        return true;
      },
    }),
    EditorView.contentAttributes.of({ title: "Ctrl+click (⌘+click) a link to open it" }),
  ];
}
