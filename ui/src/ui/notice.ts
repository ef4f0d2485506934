// Short-lived confirmations ("Saved to …", "Opened …"): one polite status
// line at the bottom of the window that goes away by itself. Errors use the
// app's error banner instead.
import { h } from "./dom";

const VISIBLE_MS = 8000;
let current: { el: HTMLElement; timer: ReturnType<typeof setTimeout> } | null = null;

/** Shows `message` for a few seconds (replacing the one shown before). */
export function showNotice(message: string): void {
  if (current) {
    clearTimeout(current.timer);
    current.el.remove();
  }
  const el = h(
    "div",
    { class: "notice", role: "status", "aria-live": "polite", testid: "notice" },
    h("span", null, message),
    h("button", { type: "button", class: "btn subtle", "aria-label": "Dismiss", onclick: () => dismiss() }, "×"),
  );
  document.body.append(el);
  const timer = setTimeout(() => dismiss(), VISIBLE_MS);
  current = { el, timer };
  function dismiss() {
    clearTimeout(timer);
    el.remove();
    if (current?.el === el) current = null;
  }
}
