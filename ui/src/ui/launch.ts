// What the desktop app was asked to open from outside (see
// `src-tauri/src/launch.rs`): a `tandem://` link opens like "Open from
// server…" (and when that fails, the dialog opens filled in, to fix the
// token or trust the certificate); an imported file is shown; what could
// not be opened is reported.
import type { Backend, LaunchRequest } from "../backend/types";
import { toast } from "./toast";

/** What the handler needs from the app. */
export interface LaunchActions {
  backend: Backend;
  /** Refresh the document and connection lists, then show document `id`. */
  show(id: string): Promise<void>;
  /** "Open from server…", filled in with `url` and `fingerprint`. */
  openDialog(url: string, fingerprint: string | null): Promise<void>;
  showError(message: string): void;
}

/** Handles the requests in order. */
export async function handleLaunchRequests(requests: LaunchRequest[], app: LaunchActions): Promise<void> {
  for (const req of requests) {
    if (req.kind === "failed") {
      app.showError(`Could not open: ${req.message}`);
    } else if (req.kind === "imported") {
      await app.show(req.id);
      toast(`Imported ${req.path}`, 8000);
    } else {
      await openLink(req.url, req.fingerprint, app);
    }
  }
}

async function openLink(url: string, fingerprint: string | null, app: LaunchActions): Promise<void> {
  try {
    const r = await app.backend.addRemote({ url, doc_id: null, token: null, fingerprint, trust: false }, { wait: true });
    if (r.state !== "error") {
      await app.show(r.doc_id);
      toast(`Opened ${url}`, 8000);
      return;
    }
  } catch {
    // the dialog below says what is wrong and lets the user fix it
  }
  await app.openDialog(url, fingerprint);
}
