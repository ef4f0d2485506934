import type { Backend } from "./types";
import { WebBackend } from "./web";

declare global {
  interface Window {
    __TAURI_INTERNALS__?: unknown;
  }
}

export function isTauri(): boolean {
  return typeof window !== "undefined" && window.__TAURI_INTERNALS__ !== undefined;
}

/** Pick the backend at start-up: Tauri inside the desktop app, HTTP otherwise. */
export async function pickBackend(): Promise<Backend> {
  if (isTauri()) {
    const { TauriBackend } = await import("./tauri");
    return new TauriBackend();
  }
  return new WebBackend(location.origin);
}
