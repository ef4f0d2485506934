// Sidebar filtering and ordering of the document list.
import { displayTitle } from "./title";

export interface DocSummaryLike {
  id: string;
  title: string | null;
  updated: number;
}

/**
 * Case-insensitive filter: every whitespace-separated term must occur in the
 * displayed title, or be a prefix of the document id.
 */
export function matchesFilter(doc: DocSummaryLike, query: string): boolean {
  const terms = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (terms.length === 0) return true;
  const title = displayTitle(doc.title).toLowerCase();
  const id = doc.id.toLowerCase();
  return terms.every((t) => title.includes(t) || id.startsWith(t));
}

/** Most recently updated first; ties broken by title then id for stability. */
export function sortDocs<T extends DocSummaryLike>(docs: readonly T[]): T[] {
  return [...docs].sort(
    (a, b) => b.updated - a.updated || displayTitle(a.title).localeCompare(displayTitle(b.title)) || a.id.localeCompare(b.id),
  );
}

export function filterDocs<T extends DocSummaryLike>(docs: readonly T[], query: string): T[] {
  return sortDocs(docs).filter((d) => matchesFilter(d, query));
}
