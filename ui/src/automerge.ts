// Single place where the app gets Automerge from. We use the `/slim` entry
// (no bundler-specific wasm import) and initialise it from a base64 copy of the
// wasm. That works identically in a plain browser served from any path
// (e.g. `/_ui/`), offline, from `file:`-like custom schemes and inside a
// Tauri WebKitGTK webview: no fetch of a .wasm URL, no `application/wasm`
// MIME requirement, no top-level await.
import * as A from "@automerge/automerge/slim";

export * from "@automerge/automerge/slim";
export { A };

let ready: Promise<void> | null = null;

/** Initialise the Automerge wasm once; safe to call many times. */
export function initAutomerge(): Promise<void> {
  if (A.isWasmInitialized()) return Promise.resolve();
  if (!ready) {
    // A dynamic import keeps the ~5 MB base64 wasm in its own chunk, so the
    // app code chunk stays small and cacheable on its own.
    ready = import("@automerge/automerge/automerge.wasm.base64").then((m) => A.initializeBase64Wasm(m.automergeWasmBase64));
  }
  return ready;
}
