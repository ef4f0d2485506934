// Edits by path. Every function here takes the mutable proxy handed to an
// `A.change` callback (`d`) and performs one structural or scalar edit, so the
// view can call e.g. `peer.change(d => ops.removeKey(d, path))`.
import { A } from "../automerge";
import { getAt, type Path, type Prop } from "./path";
import type { NewValueKind, NumType } from "./tree";

type Container = Record<Prop, unknown> & unknown[];

export class PathError extends Error {}

function containerAt(d: unknown, path: Path): Container {
  const c = getAt(d, path);
  if (c === null || typeof c !== "object") {
    throw new PathError(`no map or list at ${JSON.stringify(path)}`);
  }
  return c as Container;
}

function listAt(d: unknown, path: Path): unknown[] {
  const c = getAt(d, path);
  if (!Array.isArray(c)) throw new PathError(`no list at ${JSON.stringify(path)}`);
  return c;
}

function split(path: Path): [Prop[], Prop] {
  if (path.length === 0) throw new PathError("the document root cannot be replaced or removed");
  return [path.slice(0, -1), path[path.length - 1]!];
}

/** The initial value for a freshly added key or list item of a given kind. */
export function initialValue(kind: NewValueKind, now: Date = new Date()): unknown {
  switch (kind) {
    case "text":
      return ""; // in Automerge 3 a plain string is a collaborative text object
    case "string":
      return new A.ImmutableString("");
    case "number":
      return 0;
    case "boolean":
      return false;
    case "null":
      return null;
    case "map":
      return {};
    case "list":
      return [];
    case "counter":
      return new A.Counter(0);
    case "timestamp":
      return now;
  }
}

/**
 * Deep-copy a value read from a document into fresh values that can be
 * inserted elsewhere (Automerge has no "move"; a move is delete + insert).
 */
export function cloneValue(v: unknown): unknown {
  if (v === null || typeof v !== "object") return v; // text (string), number, boolean, null
  if (A.isCounter(v)) return new A.Counter((v as A.Counter).value);
  if (A.isImmutableString(v)) return new A.ImmutableString((v as A.ImmutableString).val);
  if (v instanceof Date) return new Date(v.getTime());
  if (v instanceof Uint8Array) return new Uint8Array(v);
  if (Array.isArray(v)) return v.map(cloneValue);
  const out: Record<string, unknown> = {};
  for (const [k, val] of Object.entries(v)) out[k] = cloneValue(val);
  return out;
}

/** Add a key to the map at `mapPath`. Fails if the key already exists. */
export function addKey(d: unknown, mapPath: Path, key: string, kind: NewValueKind, now?: Date): void {
  const m = containerAt(d, mapPath);
  if (Array.isArray(m)) throw new PathError("cannot add a key to a list");
  if (key === "") throw new PathError("the key must not be empty");
  if (Object.hasOwn(m, key)) throw new PathError(`key "${key}" already exists`);
  (m as Record<string, unknown>)[key] = initialValue(kind, now);
}

/** Remove a map key or a list item. */
export function removeAt(d: unknown, path: Path): void {
  const [parent, last] = split(path);
  const c = containerAt(d, parent);
  if (Array.isArray(c)) {
    if (typeof last !== "number" || last < 0 || last >= c.length) throw new PathError("no such list item");
    A.deleteAt(c, last);
  } else {
    delete (c as Record<string, unknown>)[String(last)];
  }
}

/** Insert a new item of `kind` into the list at `listPath` (default: append). */
export function insertItem(d: unknown, listPath: Path, kind: NewValueKind, index?: number, now?: Date): number {
  const l = listAt(d, listPath);
  const at = index === undefined ? l.length : Math.max(0, Math.min(index, l.length));
  A.insertAt(l, at, initialValue(kind, now));
  return at;
}

/** Move list item `from` to position `to` (positions in the list before the move). */
export function moveItem(d: unknown, listPath: Path, from: number, to: number): void {
  const l = listAt(d, listPath);
  if (from < 0 || from >= l.length) throw new PathError("no such list item");
  const target = Math.max(0, Math.min(to, l.length - 1));
  if (target === from) return;
  const copy = cloneValue(l[from]);
  A.deleteAt(l, from);
  A.insertAt(l, target, copy);
}

/** Set a scalar at `path`, keeping the Automerge datatype the user chose. */
export type ScalarInput =
  | { kind: "string"; value: string }
  | { kind: "number"; value: number; numType?: NumType }
  | { kind: "boolean"; value: boolean }
  | { kind: "null" }
  | { kind: "timestamp"; value: Date };

export function setScalar(d: unknown, path: Path, input: ScalarInput): void {
  const [parent, last] = split(path);
  const c = containerAt(d, parent);
  let v: unknown;
  switch (input.kind) {
    case "string":
      v = new A.ImmutableString(input.value);
      break;
    case "number":
      if (!Number.isFinite(input.value)) throw new PathError("not a finite number");
      if (input.numType === "f64") v = new A.Float64(input.value);
      else if (input.numType === "uint" && Number.isInteger(input.value) && input.value >= 0) v = new A.Uint(input.value);
      else if (Number.isInteger(input.value)) v = new A.Int(input.value);
      else v = new A.Float64(input.value);
      break;
    case "boolean":
      v = input.value;
      break;
    case "null":
      v = null;
      break;
    case "timestamp":
      if (Number.isNaN(input.value.getTime())) throw new PathError("invalid date");
      v = input.value;
      break;
  }
  (c as Record<Prop, unknown>)[last] = v;
}

/** Increment (or with a negative `by`, decrement) the counter at `path`. */
export function incrementCounter(d: unknown, path: Path, by: number): void {
  const c = getAt(d, path);
  if (!A.isCounter(c)) throw new PathError(`no counter at ${JSON.stringify(path)}`);
  (c as A.Counter).increment(by);
}

/** Replace the contents of the text object at `path` with a minimal diff. */
export function setText(d: unknown, path: Path, value: string): void {
  A.updateText(d as A.Doc<unknown>, [...path], value);
}

/**
 * Rename: edit the document's root `title`. If it's a text object, update it
 * in place (minimal splice, merges with concurrent edits); otherwise (missing,
 * immutable string, other scalar) it becomes a text object.
 */
export function setTitle(d: unknown, title: string): void {
  const root = d as Record<string, unknown>;
  if (typeof root.title === "string") A.updateText(d as A.Doc<unknown>, ["title"], title);
  else root.title = title;
}
