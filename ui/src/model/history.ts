// History, as the UI shows it: the timeline rows (from the backend's
// bursts), which rows of a virtualised list are visible, what changed
// (changed paths and text insert/delete segments, from Automerge's own
// `diff` patches), and the conflicts of the live document (`getConflicts`).
// Pure functions over plain data and Automerge docs: no DOM.
import { A } from "../automerge";
import type { Burst } from "../generated/Burst";
import type { DiffEntry } from "../generated/DiffEntry";
import { type Path, type Prop, pathToString } from "./path";

/** One edit burst, as `GET /_docs/{id}/history` lists it (generated from the Rust type). */
export type { Burst } from "../generated/Burst";
/** One entry of `GET /_docs/{id}/diff`: one Automerge patch, as the server sends it. */
export type { DiffEntry } from "../generated/DiffEntry";
/** `GET /_docs/{id}/history`. */
export type { Timeline } from "../generated/Timeline";

/** The server's diff entries as Automerge JS patches (the shape `A.diff` gives). */
export function toPatches(entries: readonly DiffEntry[]): A.Patch[] {
  const out: A.Patch[] = [];
  for (const e of entries) {
    if (e.key === null) continue;
    const path = [...e.path, e.key];
    switch (e.action) {
      case "put":
        out.push({ action: "put", path, value: e.value } as A.Patch);
        break;
      case "insert":
        out.push({ action: "insert", path, values: (e.value as unknown[]) ?? [] } as A.Patch);
        break;
      case "splice":
        out.push({ action: "splice", path, value: String(e.value ?? "") } as A.Patch);
        break;
      case "delete":
        out.push((typeof e.key === "number" ? { action: "del", path, length: e.length ?? 1 } : { action: "del", path }) as A.Patch);
        break;
      case "increment":
        out.push({ action: "inc", path, value: Number(e.value ?? 0) } as A.Patch);
        break;
      case "conflict":
        out.push({ action: "conflict", path } as A.Patch);
        break;
      default:
        break;
    }
  }
  return out;
}

/** The heads around a restore or a resolve (restore `before` to undo it). */
export type { HistoryEdit } from "../generated/HistoryEdit";

/**
 * Who `actor` is, as people see it. For now the actor id's first 8 hex
 * digits; the one place where an actor → user table plugs in later.
 */
export function authorOf(actor: string): string {
  return actor.slice(0, 8);
}

/** "2024-05-01 12:34" (local time) from seconds since the epoch; "unknown time" for 0. */
export function formatTime(secs: number): string {
  if (!secs) return "unknown time";
  const d = new Date(secs * 1000);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** One line about a burst: "3 changes · 12 ops". */
export function burstSummary(b: Burst): string {
  return `${b.changes} ${b.changes === 1 ? "change" : "changes"} · ${b.ops} ${b.ops === 1 ? "op" : "ops"}`;
}

/** The rows `[start, end)` a virtualised list renders, with `overscan` rows either side. */
export function visibleRange(
  scrollTop: number,
  viewport: number,
  rowHeight: number,
  count: number,
  overscan = 5,
): { start: number; end: number } {
  if (count <= 0 || rowHeight <= 0) return { start: 0, end: 0 };
  const first = Math.floor(Math.max(0, scrollTop) / rowHeight);
  const last = Math.ceil((Math.max(0, scrollTop) + Math.max(0, viewport)) / rowHeight);
  return { start: Math.max(0, Math.min(count, first - overscan)), end: Math.min(count, last + overscan) };
}

/** A patch's target: the changed field (`/title`) or the text/list it edits (`/body`). */
export function patchTarget(p: A.Patch): Prop[] {
  const last = p.path[p.path.length - 1];
  const inSequence = typeof last === "number" && p.action !== "put";
  return inSequence ? p.path.slice(0, -1) : [...p.path];
}

/**
 * The paths a set of patches changed (as `pathToString` strings), each with
 * every ancestor marked as holding a change (`inside`).
 */
export function changedPaths(patches: readonly A.Patch[]): { changed: Set<string>; inside: Set<string> } {
  const changed = new Set<string>();
  const inside = new Set<string>();
  for (const p of patches) {
    const target = patchTarget(p);
    changed.add(pathToString(target));
    for (let i = 0; i < target.length; i++) inside.add(pathToString(target.slice(0, i)));
  }
  return { changed, inside };
}

/** A run of text: kept, inserted or deleted between two versions. */
export interface Segment {
  kind: "same" | "ins" | "del";
  text: string;
}

/**
 * The text at the newer version cut into kept / inserted runs, with the
 * deleted runs of the older version in place: `before` edited by the
 * `splice`/`del` patches of Automerge's diff that target `textPath`.
 */
export function textSegments(before: string, patches: readonly A.Patch[], textPath: Path): Segment[] {
  let segs: Segment[] = before ? [{ kind: "same", text: before }] : [];
  const depth = textPath.length;
  for (const p of patches) {
    if (p.path.length !== depth + 1 || !textPath.every((s, i) => s === p.path[i])) continue;
    const index = p.path[depth];
    if (typeof index !== "number") continue;
    if (p.action === "splice") segs = insertAt(segs, index, p.value);
    else if (p.action === "del") segs = deleteAt(segs, index, p.length ?? 1);
  }
  return merge(segs);
}

/** Splits `segs` so that a visible offset `at` (deleted runs do not count) falls on a boundary. */
function splitAt(segs: Segment[], at: number): { out: Segment[]; index: number } {
  const out: Segment[] = [];
  let pos = 0;
  let index = -1;
  for (const s of segs) {
    if (s.kind === "del") {
      out.push(s);
      continue;
    }
    const len = s.text.length;
    if (index < 0 && at >= pos && at < pos + len) {
      if (at > pos) out.push({ kind: s.kind, text: s.text.slice(0, at - pos) });
      index = out.length;
      out.push({ kind: s.kind, text: s.text.slice(at - pos) });
    } else {
      out.push(s);
    }
    pos += len;
  }
  return { out, index: index < 0 ? out.length : index };
}

function insertAt(segs: Segment[], at: number, text: string): Segment[] {
  const { out, index } = splitAt(segs, at);
  out.splice(index, 0, { kind: "ins", text });
  return out;
}

function deleteAt(segs: Segment[], at: number, length: number): Segment[] {
  const { out: first } = splitAt(segs, at);
  const { out } = splitAt(first, at + length);
  const result: Segment[] = [];
  let pos = 0;
  for (const s of out) {
    if (s.kind === "del") {
      result.push(s);
      continue;
    }
    const inRange = pos >= at && pos < at + length;
    pos += s.text.length;
    if (!inRange) result.push(s);
    else if (s.kind === "same") result.push({ kind: "del", text: s.text });
    // an insertion deleted again inside the range leaves no trace
  }
  return result;
}

function merge(segs: Segment[]): Segment[] {
  const out: Segment[] = [];
  for (const s of segs) {
    if (!s.text) continue;
    const prev = out[out.length - 1];
    if (prev && prev.kind === s.kind) prev.text += s.text;
    else out.push({ ...s });
  }
  return out;
}

/** One of a conflict's values. */
export interface ConflictValue {
  /** The op id (`counter@actor`) that wrote it: what `resolve` takes. */
  id: string;
  value: unknown;
  actor: string;
  author: string;
  winner: boolean;
}

/** A key (or list item) of the live document holding concurrent values. */
export interface Conflict {
  path: Prop[];
  values: ConflictValue[];
}

/** The actor part of an op id `counter@actor`. */
export function actorOfOpId(opId: string): string {
  const at = opId.indexOf("@");
  return at < 0 ? "" : opId.slice(at + 1);
}

function plain(value: unknown): unknown {
  if (value instanceof A.ImmutableString) return value.toString();
  if (value instanceof A.Counter) return value.value;
  if (value instanceof Date || value instanceof Uint8Array) return value;
  if (value !== null && typeof value === "object") return JSON.parse(JSON.stringify(value));
  return value;
}

/** Automerge's order of op ids (`counter@actor`): the greatest one wins a conflict. */
export function compareOpIds(a: string, b: string): number {
  const [ca, aa] = [parseInt(a, 10), actorOfOpId(a)];
  const [cb, ab] = [parseInt(b, 10), actorOfOpId(b)];
  if (ca !== cb) return ca - cb;
  return aa < ab ? -1 : aa > ab ? 1 : 0;
}

/** Whether `value` is an Automerge map or list (something to look inside). */
function isContainer(value: unknown): boolean {
  return (
    value !== null &&
    typeof value === "object" &&
    !(value instanceof Date) &&
    !(value instanceof Uint8Array) &&
    A.getObjectId(value) !== null &&
    A.getObjectId(value) !== undefined
  );
}

/**
 * Every open conflict of `doc` (under winning values; lists longer than
 * `maxItems` are not searched), with each value's author.
 */
export function findConflicts<T>(doc: A.Doc<T>, maxItems = 2000): Conflict[] {
  const out: Conflict[] = [];
  const visit = (obj: unknown, path: Prop[]): void => {
    const keys: Prop[] = Array.isArray(obj) ? (obj.length > maxItems ? [] : obj.map((_, i) => i)) : Object.keys(obj as object);
    for (const key of keys) {
      const child = (obj as Record<Prop, unknown>)[key];
      const all = A.getConflicts(obj as A.Doc<unknown>, key as string);
      if (all && Object.keys(all).length > 1) {
        const ids = Object.keys(all).sort(compareOpIds).reverse();
        const values = ids.map((id, i) => {
          const actor = actorOfOpId(id);
          return { id, value: plain(all[id]), actor, author: authorOf(actor), winner: i === 0 };
        });
        out.push({ path: [...path, key], values });
      }
      if (isContainer(child)) visit(child, [...path, key]);
    }
  };
  visit(doc, []);
  return out;
}
