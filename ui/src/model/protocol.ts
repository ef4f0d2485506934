// The ndjson line protocol spoken over `/_ws/{id}` (and Tauri's doc channel).
// One JSON object per line/frame:
//   {"event":"sync","data":"<base64 sync message>"}   both directions
//   {"event":"error","message":"..."}                  server → UI
//   {"event":"ping"}                                   server → UI (ignored)
//   {"event":"ready","heads":["<hex>",…]}              server → UI, first: the
//                                                      document's heads when it opened
//   {"event":"ephemeral","data":"<base64>","from":"…","name":"…"}
//                                                      both directions, only when
//                                                      the UI asked for the feature
//                                                      (docs/protocol-extensions.md)
// Unknown events are ignored so the server can grow the protocol.
import { base64ToBytes, bytesToBase64 } from "./base64";

export type InboundLine =
  | { event: "sync"; data: Uint8Array }
  | { event: "error"; message: string }
  | { event: "ping" }
  | { event: "ready"; heads: string[] }
  | { event: "ephemeral"; data: Uint8Array; from: string; name?: string }
  | { event: "unknown"; name: string };

export function encodeSyncLine(message: Uint8Array): string {
  return JSON.stringify({ event: "sync", data: bytesToBase64(message) });
}

export function encodeEphemeralLine(payload: Uint8Array): string {
  return JSON.stringify({ event: "ephemeral", data: bytesToBase64(payload) });
}

/** Parse one line; returns null for malformed input (never throws). */
export function parseLine(line: string): InboundLine | null {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return null;
  }
  if (v === null || typeof v !== "object") return null;
  const o = v as Record<string, unknown>;
  switch (o.event) {
    case "sync":
      if (typeof o.data !== "string") return null;
      try {
        return { event: "sync", data: base64ToBytes(o.data) };
      } catch {
        return null;
      }
    case "error":
      return { event: "error", message: typeof o.message === "string" ? o.message : "unknown error" };
    case "ping":
      return { event: "ping" };
    case "ready":
      if (!Array.isArray(o.heads) || !o.heads.every((h) => typeof h === "string")) return null;
      return { event: "ready", heads: o.heads as string[] };
    case "ephemeral":
      // A bad ephemeral line is dropped like an unknown one: it must not end the session.
      if (typeof o.data !== "string") return { event: "unknown", name: "ephemeral" };
      try {
        return {
          event: "ephemeral",
          data: base64ToBytes(o.data),
          from: typeof o.from === "string" ? o.from : "",
          name: typeof o.name === "string" ? o.name : undefined,
        };
      } catch {
        return { event: "unknown", name: "ephemeral" };
      }
    default:
      return { event: "unknown", name: String(o.event) };
  }
}
