// Document titles: the root `title` value (text or immutable string),
// first line only, trimmed; "Untitled" when empty or missing.
import { A } from "../automerge";

export const UNTITLED = "Untitled";
const MAX_TITLE = 120;

/** Normalise a raw title: first non-empty line, trimmed, clipped; null if empty. */
export function normalizeTitle(raw: unknown): string | null {
  let s: string | null = null;
  if (typeof raw === "string") s = raw;
  else if (raw !== null && typeof raw === "object" && A.isImmutableString(raw)) s = (raw as A.ImmutableString).val;
  if (s === null) return null;
  const line = s
    .split(/\r?\n/)
    .map((l) => l.trim())
    .find((l) => l !== "");
  if (!line) return null;
  return line.length > MAX_TITLE ? `${line.slice(0, MAX_TITLE - 1)}…` : line;
}

/** Title of an Automerge doc (reads only the root `title`). */
export function extractTitle(doc: unknown): string | null {
  if (doc === null || typeof doc !== "object") return null;
  return normalizeTitle((doc as Record<string, unknown>).title);
}

/** What to show for a title from `/_docs` or {@link extractTitle}. */
export function displayTitle(title: string | null | undefined): string {
  return normalizeTitle(title ?? null) ?? UNTITLED;
}

/** A safe file name for exporting a document. */
export function exportFileName(title: string | null | undefined, id: string): string {
  const base = normalizeTitle(title ?? null);
  const safe = (base ?? id)
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this removes from file names
    .replace(/[\\/:*?"<>|\u0000-\u001f]+/g, " ")
    .replace(/\s+/g, " ")
    .trim()
    .slice(0, 80);
  return `${safe || id}.automerge`;
}
