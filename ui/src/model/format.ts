// Small display/parse helpers for the generic document tree.
import type { TreeNode } from "./tree";

const pad = (n: number, w = 2) => String(n).padStart(w, "0");

/** Date → value of an `<input type="datetime-local" step="0.001">` (local time). */
export function toDatetimeLocal(d: Date): string {
  if (Number.isNaN(d.getTime())) return "";
  const base = `${pad(d.getFullYear(), 4)}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  const ms = d.getMilliseconds();
  return ms ? `${base}.${pad(ms, 3)}` : base;
}

/** Value of a datetime-local input → Date (local time); null if empty/invalid. */
export function fromDatetimeLocal(s: string): Date | null {
  const m = /^(\d{4,})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?$/.exec(s.trim());
  if (!m) return null;
  const [, y, mo, d, h, mi, sec, ms] = m;
  const date = new Date(+y!, +mo! - 1, +d!, +h!, +mi!, sec ? +sec : 0, ms ? +ms.padEnd(3, "0") : 0);
  return Number.isNaN(date.getTime()) ? null : date;
}

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/** Short summary of a node for collapsed rows: "3 keys", "2 items", "text". */
export function summarize(n: TreeNode): string {
  switch (n.kind) {
    case "map":
      return plural(n.size, "key", "keys");
    case "list":
      return plural(n.size, "item", "items");
    case "bytes":
      return plural(n.value.length, "byte", "bytes");
    default:
      return n.kind;
  }
}

/** Hex preview of binary values: "01 02 ff … (300 bytes)". */
export function bytesPreview(b: Uint8Array, max = 16): string {
  const hex = [...b.subarray(0, max)].map((x) => x.toString(16).padStart(2, "0")).join(" ");
  return b.length > max ? `${hex} … (${b.length} bytes)` : hex || "(empty)";
}

/** Parse the text of a number input; null if it isn't a finite number. */
export function parseNumberInput(s: string): number | null {
  if (s.trim() === "") return null;
  const n = Number(s);
  return Number.isFinite(n) ? n : null;
}

/** Relative time for the sidebar: "just now", "5 min ago", "3 h ago", else a date. */
export function formatUpdated(ms: number, now: number): string {
  const d = Math.max(0, now - ms);
  if (d < 60_000) return "just now";
  if (d < 3_600_000) return `${Math.floor(d / 60_000)} min ago`;
  if (d < 86_400_000) return `${Math.floor(d / 3_600_000)} h ago`;
  const date = new Date(ms);
  return `${pad(date.getFullYear(), 4)}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

/** "1.2 KB" style sizes. */
export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
