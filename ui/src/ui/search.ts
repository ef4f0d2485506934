// Full-text search across every document (Ctrl+Shift+F): results as you type
// (debounced), each naming the document and the field; choosing one opens it.
import type { Backend, SearchHit } from "../backend/types";
import { displayTitle } from "../model/title";
import { openDialog } from "./dialogs";
import { h, setText } from "./dom";

/** Waits this long after the last keystroke before asking the backend. */
const DEBOUNCE_MS = 200;

/** Opens the search dialog; resolves the chosen document's id, or null. */
export async function searchDialog(backend: Backend): Promise<string | null> {
  const input = h("input", {
    type: "search",
    testid: "search-input",
    placeholder: "Search all documents…",
    "aria-label": "Search all documents",
    autocomplete: "off",
  }) as HTMLInputElement;
  const status = h("p", { class: "search-status", "aria-live": "polite", testid: "search-status" });
  const list = h("ul", { class: "switcher-list", role: "listbox", testid: "search-results" });
  let chosen: string | null = null;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let asked = 0;
  const show = (hits: SearchHit[], skipped: number) => {
    list.replaceChildren(
      ...hits.map((hit) =>
        h(
          "li",
          {
            class: "switcher-item search-hit",
            role: "option",
            testid: "search-hit",
            "data-doc-id": hit.id,
            onmousedown: (ev: Event) => {
              ev.preventDefault();
              chosen = hit.id;
              (input.form as HTMLFormElement | null)?.requestSubmit();
            },
          },
          h("span", { class: "search-hit-title" }, `${displayTitle(hit.title)} `, h("span", { class: "search-hit-path" }, hit.path)),
          h("span", { class: "search-hit-snippet" }, hit.snippet),
        ),
      ),
    );
    const more = skipped > 0 ? ` (${skipped} too large to search)` : "";
    setText(status, hits.length === 0 ? `Nothing found${more}.` : `${hits.length} found${more}.`);
  };
  input.addEventListener("input", () => {
    if (timer) clearTimeout(timer);
    const q = input.value.trim();
    if (!q) {
      list.replaceChildren();
      setText(status, "");
      return;
    }
    timer = setTimeout(async () => {
      const mine = ++asked;
      try {
        const found = await backend.search(q);
        if (mine === asked) show(found.hits, found.skipped);
      } catch (e) {
        if (mine === asked) setText(status, `Search failed: ${(e as Error).message ?? e}`);
      }
    }, DEBOUNCE_MS);
  });
  const ok = await openDialog({
    title: "Search all documents",
    body: [input, status, list],
    okLabel: "Open",
    testid: "search-dialog",
    onOk: () => {
      chosen ??= list.querySelector<HTMLElement>("[data-doc-id]")?.dataset.docId ?? null;
      if (!chosen) return false;
    },
  });
  return ok ? chosen : null;
}
