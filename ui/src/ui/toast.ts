// A short, polite notice at the bottom of the window ("Saved to …"), gone
// after a few seconds; for outcomes worth a word but not a dialog.
import { h } from "./dom";

let current: HTMLElement | null = null;
let timer: ReturnType<typeof setTimeout> | null = null;

/** Shows `message` for `ms` milliseconds (replacing any notice shown now). */
export function toast(message: string, ms = 4000): void {
  current?.remove();
  if (timer) clearTimeout(timer);
  current = h("div", { class: "toast", role: "status", "aria-live": "polite", testid: "toast" }, message);
  document.body.append(current);
  timer = setTimeout(() => {
    current?.remove();
    current = null;
  }, ms);
}
