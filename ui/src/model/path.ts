// Paths into an Automerge document.
//
// Internally a path is an array of props (`string` map keys, `number` list
// indices), exactly what Automerge's `splice`/`updateText`/`diff` use. For the
// DOM (`data-path`) and for display we use a JSON-Pointer-like string:
// "" is the root, "/body", "/items/0", with "~" escaped as "~0" and "/" as "~1".

export type Prop = string | number;
export type Path = readonly Prop[];

function escapeSegment(seg: Prop): string {
  return String(seg).replace(/~/g, "~0").replace(/\//g, "~1");
}

function unescapeSegment(seg: string): string {
  return seg.replace(/~1/g, "/").replace(/~0/g, "~");
}

/** `["items", 0, "a/b"]` → `"/items/0/a~1b"`; `[]` → `""`. */
export function pathToString(path: Path): string {
  return path.map((s) => `/${escapeSegment(s)}`).join("");
}

/**
 * Parse a pointer string into segments. Segments are returned as strings,
 * because `"/0"` may be a list index or a map key named "0"; use
 * {@link resolvePath} against a document to get typed props.
 */
export function parsePath(pointer: string): string[] {
  if (pointer === "" || pointer === "/") return [];
  if (!pointer.startsWith("/")) throw new Error(`invalid path ${JSON.stringify(pointer)}: must start with "/"`);
  return pointer.slice(1).split("/").map(unescapeSegment);
}

/**
 * Turn pointer segments into props by walking `root` (a plain JS value or an
 * Automerge proxy): numeric segments under arrays become numbers. Returns
 * `null` if the path does not exist.
 */
export function resolvePath(root: unknown, segments: readonly string[]): Prop[] | null {
  const out: Prop[] = [];
  let cur: unknown = root;
  for (const seg of segments) {
    if (Array.isArray(cur)) {
      if (!/^(0|[1-9]\d*)$/.test(seg)) return null;
      const i = Number(seg);
      if (i >= cur.length) return null;
      out.push(i);
      cur = cur[i];
    } else if (cur !== null && typeof cur === "object" && !(cur instanceof Date) && !(cur instanceof Uint8Array)) {
      if (!Object.hasOwn(cur, seg)) return null;
      out.push(seg);
      cur = (cur as Record<string, unknown>)[seg];
    } else {
      return null;
    }
  }
  return out;
}

export function pathsEqual(a: Path, b: Path): boolean {
  return a.length === b.length && a.every((s, i) => s === b[i]);
}

/** True if `prefix` is a (non-strict) prefix of `path`. */
export function isPrefix(prefix: Path, path: Path): boolean {
  return prefix.length <= path.length && prefix.every((s, i) => s === path[i]);
}

export function parentPath(path: Path): Prop[] {
  return path.slice(0, -1);
}

export function lastProp(path: Path): Prop | undefined {
  return path[path.length - 1];
}

/** Read the value at `path` from a plain JS value or an Automerge proxy. */
export function getAt(root: unknown, path: Path): unknown {
  let cur: unknown = root;
  for (const p of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string | number, unknown>)[p];
  }
  return cur;
}

/** Human label for a path, used in aria-labels: `body`, `items › 0`. */
export function pathLabel(path: Path): string {
  return path.length === 0 ? "document" : path.map(String).join(" › ");
}
