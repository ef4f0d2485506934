// Modal dialogs on top of <dialog>: focus is trapped and restored, Esc
// cancels, and a failing action keeps the dialog (and everything typed into
// it) open with the error shown inline.
import { h } from "./dom";

export interface DialogOptions {
  title: string;
  /** Form content (inputs etc.). */
  body?: (HTMLElement | string)[];
  okLabel?: string;
  cancelLabel?: string;
  /** Only one button (OK closes; Esc too). */
  hideCancel?: boolean;
  danger?: boolean;
  testid?: string;
  /** Runs on OK; throw (or reject) to keep the dialog open and show the message. Return false to keep it open silently. */
  onOk?: () => unknown;
  /** Also report errors elsewhere (the app's banner). */
  onError?: (message: string) => void;
}

/** An input problem found in the browser: shown in the dialog only, not reported to the app's banner. */
export class ValidationError extends Error {
  override name = "ValidationError";
}

/** Open a modal dialog. Resolves true if confirmed (and `onOk` succeeded), false if cancelled. */
export function openDialog(opts: DialogOptions): Promise<boolean> {
  const previous = document.activeElement as HTMLElement | null;
  const error = h("p", { class: "dialog-error", role: "alert", hidden: true, testid: "dialog-error" });
  const ok = h(
    "button",
    { type: "submit", class: `btn primary ${opts.danger ? "danger" : ""}`, testid: "confirm-ok" },
    opts.okLabel ?? "OK",
  );
  const cancel = h(
    "button",
    { type: "button", class: "btn", testid: "confirm-cancel", hidden: opts.hideCancel ?? false },
    opts.cancelLabel ?? "Cancel",
  );
  const titleId = `dlg-${Math.random().toString(36).slice(2)}`;
  const form = h(
    "form",
    { method: "dialog", class: "dialog-form" },
    h("h2", { id: titleId, class: "dialog-title" }, opts.title),
    h("div", { class: "dialog-body" }, ...(opts.body ?? [])),
    error,
    h("div", { class: "dialog-actions" }, cancel, ok),
  );
  const dialog = h("dialog", { class: "dialog", "aria-labelledby": titleId, testid: opts.testid ?? "dialog" }, form);
  document.body.append(dialog);

  return new Promise<boolean>((resolve) => {
    let busy = false;
    const close = (result: boolean) => {
      dialog.close();
      dialog.remove();
      previous?.focus?.();
      resolve(result);
    };
    cancel.addEventListener("click", () => !busy && close(false));
    dialog.addEventListener("cancel", (ev) => {
      ev.preventDefault();
      if (!busy) close(false);
    });
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      if (busy) return;
      if (!form.reportValidity()) return;
      busy = true;
      ok.disabled = true;
      error.hidden = true;
      try {
        const r = opts.onOk ? await opts.onOk() : undefined;
        if (r === false) return;
        close(true);
      } catch (e) {
        const message = (e as Error)?.message ?? String(e);
        error.textContent = message;
        error.hidden = false;
        if (!(e instanceof ValidationError)) opts.onError?.(message);
      } finally {
        busy = false;
        ok.disabled = false;
      }
    });
    dialog.showModal();
    const first = form.querySelector<HTMLElement>("[autofocus], input, select, textarea") ?? ok;
    first.focus();
  });
}

export function confirmDialog(title: string, message: string, okLabel = "OK", danger = false): Promise<boolean> {
  return openDialog({ title, body: [h("p", null, message)], okLabel, danger, testid: "confirm-dialog" });
}

/** A labelled form field. */
export function field(label: string, control: HTMLElement, hint?: string): HTMLElement {
  return h(
    "label",
    { class: "field" },
    h("span", { class: "field-label" }, label),
    control,
    hint ? h("span", { class: "field-hint" }, hint) : null,
  );
}
