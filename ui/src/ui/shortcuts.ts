// Keyboard shortcuts: one table that both the key handler and the help
// overlay read, so what is listed is what works.
import { openDialog } from "./dialogs";
import { h } from "./dom";

/** One shortcut: `key` as in KeyboardEvent.key (lower case), with Ctrl (⌘ on macOS) unless `plain`. */
export interface Shortcut {
  key: string;
  shift?: boolean;
  /** No Ctrl/⌘ (e.g. "?" for help, only outside text fields). */
  plain?: boolean;
  label: string;
  run: () => void;
}

const isMac = typeof navigator !== "undefined" && /Mac|iPhone|iPad/.test(navigator.platform);

/** How a shortcut is written for people ("Ctrl+K", "⌘K", "?"). */
export function keyLabel(s: Pick<Shortcut, "key" | "shift" | "plain">): string {
  const key = s.key.length === 1 ? s.key.toUpperCase() : s.key;
  if (s.plain) return s.key;
  const mod = isMac ? "⌘" : "Ctrl+";
  return `${mod}${s.shift ? (isMac ? "⇧" : "Shift+") : ""}${key}`;
}

/** Whether `ev` is `s`. */
export function matches(ev: Pick<KeyboardEvent, "key" | "ctrlKey" | "metaKey" | "shiftKey" | "altKey">, s: Shortcut): boolean {
  if (ev.altKey) return false;
  const mod = isMac ? ev.metaKey : ev.ctrlKey;
  if (s.plain) return !mod && ev.key === s.key;
  return mod && !!s.shift === ev.shiftKey && ev.key.toLowerCase() === s.key;
}

function typingInto(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  return !!el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
}

/** Listens on `window`; returns the function that stops listening. */
export function installShortcuts(shortcuts: readonly Shortcut[]): () => void {
  const onKey = (ev: KeyboardEvent) => {
    if (document.querySelector("dialog[open]")) return; // dialogs handle their own keys
    for (const s of shortcuts) {
      if (!matches(ev, s)) continue;
      if (s.plain && typingInto(ev.target)) return;
      ev.preventDefault();
      s.run();
      return;
    }
  };
  window.addEventListener("keydown", onKey);
  return () => window.removeEventListener("keydown", onKey);
}

/** The help overlay: every shortcut and what it does. */
export function showShortcutHelp(shortcuts: readonly Shortcut[]): Promise<boolean> {
  const rows = shortcuts.map((s) => h("tr", null, h("td", null, h("kbd", null, keyLabel(s))), h("td", null, s.label)));
  return openDialog({
    title: "Keyboard shortcuts",
    body: [h("table", { class: "shortcut-table", testid: "shortcut-help" }, h("tbody", null, ...rows))],
    okLabel: "Close",
    hideCancel: true,
    testid: "help-dialog",
  });
}
