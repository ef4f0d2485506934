// The error banner above the pane: the last error (and how many came before),
// dismissed with ×; removed from the page (not just hidden) when empty.
import { effect } from "@preact/signals-core";
import type { Store } from "../../state/store";
import { h, setText } from "../dom";

/** Shows `store.errors` just before `main`. */
export function errorBanner(store: Store, main: HTMLElement): void {
  const text = h("span", { class: "banner-text", testid: "error-message" });
  const banner = h(
    "div",
    { class: "error-banner", role: "alert", testid: "error-banner" },
    h("span", { class: "banner-icon", "aria-hidden": "true" }, "⚠"),
    text,
    h(
      "button",
      {
        type: "button",
        class: "btn icon subtle",
        testid: "error-dismiss",
        "aria-label": "Dismiss error",
        onclick: () => store.dismissErrors(),
      },
      "×",
    ),
  );
  effect(() => {
    const errors = store.errors.value;
    const n = errors.length;
    if (n === 0) {
      if (banner.isConnected) {
        const hadFocus = banner.contains(document.activeElement);
        banner.remove();
        if (hadFocus) main.focus();
      }
      return;
    }
    if (!banner.isConnected) main.before(banner);
    const last = errors[n - 1]!;
    setText(text, n > 1 ? `${last} (and ${n - 1} earlier)` : last);
  });
}
