// The quick switcher (Ctrl+K): type part of a title, pick with the arrow keys,
// Enter opens it.
import type { DocSummary } from "../backend/types";
import { matchesFilter, sortDocs } from "../model/filter";
import { displayTitle } from "../model/title";
import { openDialog } from "./dialogs";
import { h } from "./dom";

/** The most documents the list shows at once. */
const SHOWN = 12;

/** Opens the switcher over `docs`; resolves the chosen document's id, or null. */
export async function quickSwitch(docs: readonly DocSummary[]): Promise<string | null> {
  const input = h("input", {
    type: "search",
    testid: "switcher-input",
    placeholder: "Go to document…",
    "aria-label": "Go to document",
    autocomplete: "off",
  }) as HTMLInputElement;
  const list = h("ul", { class: "switcher-list", role: "listbox", testid: "switcher-list" });
  let matches: DocSummary[] = [];
  let selected = 0;
  let chosen: string | null = null;
  const render = () => {
    matches = sortDocs(docs.filter((d) => matchesFilter(d, input.value))).slice(0, SHOWN);
    selected = Math.min(selected, Math.max(0, matches.length - 1));
    list.replaceChildren(
      ...matches.map((d, i) =>
        h(
          "li",
          {
            role: "option",
            class: "switcher-item",
            testid: "switcher-item",
            "data-doc-id": d.id,
            "aria-selected": String(i === selected),
            onmousedown: (ev: Event) => {
              ev.preventDefault();
              chosen = d.id;
              (input.form as HTMLFormElement | null)?.requestSubmit();
            },
          },
          displayTitle(d.title),
        ),
      ),
    );
    if (matches.length === 0) list.append(h("li", { class: "switcher-empty" }, "No document matches."));
  };
  input.addEventListener("input", () => {
    selected = 0;
    render();
  });
  input.addEventListener("keydown", (ev) => {
    if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
      ev.preventDefault();
      const step = ev.key === "ArrowDown" ? 1 : -1;
      selected = (selected + step + matches.length) % Math.max(1, matches.length);
      render();
    }
  });
  render();
  const ok = await openDialog({
    title: "Go to document",
    body: [input, list],
    okLabel: "Open",
    testid: "switcher-dialog",
    onOk: () => {
      chosen ??= matches[selected]?.id ?? null;
      if (!chosen) return false;
    },
  });
  return ok ? chosen : null;
}
