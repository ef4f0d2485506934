// A plain, render-ready tree model of a whole Automerge document.
//
// We read through Automerge's low-level handle (`getBackend(doc)`), which
// reports the exact datatype of every value (text vs. immutable string,
// int vs. f64, counter, timestamp, bytes) and the object id of every
// map/list/text, without materialising text contents. Object ids let the view
// tell "same object, still here" from "a different object now at this path".
import { A } from "../automerge";
import type { Path, Prop } from "./path";

export type NumType = "int" | "uint" | "f64";

interface Base {
  path: Prop[];
}

export interface MapNode extends Base {
  kind: "map";
  objId: string;
  /** number of keys (also known when `partial`) */
  size: number;
  /** true if children were not read (a collapsed container); `entries` is then empty */
  partial?: boolean;
  entries: { key: string; node: TreeNode }[];
}
export interface ListNode extends Base {
  kind: "list";
  objId: string;
  size: number;
  partial?: boolean;
  items: TreeNode[];
}
export interface TextNode extends Base {
  kind: "text";
  objId: string;
}
export interface StringNode extends Base {
  kind: "string";
  value: string;
}
export interface NumberNode extends Base {
  kind: "number";
  value: number;
  numType: NumType;
}
export interface BooleanNode extends Base {
  kind: "boolean";
  value: boolean;
}
export interface NullNode extends Base {
  kind: "null";
}
export interface CounterNode extends Base {
  kind: "counter";
  value: number;
}
export interface TimestampNode extends Base {
  kind: "timestamp";
  value: Date;
}
export interface BytesNode extends Base {
  kind: "bytes";
  value: Uint8Array;
}
export interface UnknownNode extends Base {
  kind: "unknown";
  datatype: string;
}

export type TreeNode =
  | MapNode
  | ListNode
  | TextNode
  | StringNode
  | NumberNode
  | BooleanNode
  | NullNode
  | CounterNode
  | TimestampNode
  | BytesNode
  | UnknownNode;

export type NodeKind = TreeNode["kind"];
export type ObjectNode = MapNode | ListNode | TextNode;

/** Value kinds a user can create with the "add key"/"add item" chooser. */
export const NEW_VALUE_KINDS = ["text", "string", "number", "boolean", "null", "map", "list", "counter", "timestamp"] as const;
export type NewValueKind = (typeof NEW_VALUE_KINDS)[number];

export function isObjectNode(n: TreeNode): n is ObjectNode {
  return n.kind === "map" || n.kind === "list" || n.kind === "text";
}

/**
 * Identity of a node for DOM reconciliation: same path + same kind + same
 * object id means the existing view can be updated in place.
 */
export function nodeKey(n: TreeNode): string {
  return `${JSON.stringify(n.path)}|${n.kind}|${isObjectNode(n) ? n.objId : ""}`;
}

// Minimal structural type of the wasm handle methods we use.
interface LowLevel {
  keys(obj: string): string[];
  length(obj: string): number;
  getWithType(obj: string, prop: Prop): [string, unknown] | null | undefined;
}

function handleOf(doc: A.Doc<unknown>): LowLevel {
  return A.getBackend(doc) as unknown as LowLevel;
}

/**
 * Decides whether to read the children of a (non-root) container; used to
 * skip collapsed subtrees so huge collapsed lists cost nothing per change.
 */
export type Descend = (path: Prop[], size: number) => boolean;
const always: Descend = () => true;

function valueNode(h: LowLevel, datatype: string, value: unknown, path: Prop[], descend: Descend): TreeNode {
  switch (datatype) {
    case "map":
      return mapNode(h, value as string, path, descend);
    case "list":
      return listNode(h, value as string, path, descend);
    case "text":
      return { kind: "text", path, objId: value as string };
    case "str":
      return { kind: "string", path, value: value as string };
    case "int":
    case "uint":
    case "f64":
      return { kind: "number", path, value: value as number, numType: datatype };
    case "boolean":
      return { kind: "boolean", path, value: value as boolean };
    case "null":
      return { kind: "null", path };
    case "counter":
      return { kind: "counter", path, value: Number(value) };
    case "timestamp":
      return { kind: "timestamp", path, value: value instanceof Date ? value : new Date(Number(value)) };
    case "bytes":
      return { kind: "bytes", path, value: value as Uint8Array };
    default:
      return { kind: "unknown", path, datatype };
  }
}

function mapNode(h: LowLevel, objId: string, path: Prop[], descend: Descend, force = false): MapNode {
  const keys = h.keys(objId);
  if (!force && !descend(path, keys.length)) {
    return { kind: "map", path, objId, size: keys.length, partial: true, entries: [] };
  }
  const entries: MapNode["entries"] = [];
  for (const key of keys) {
    const v = h.getWithType(objId, key);
    if (!v) continue;
    entries.push({ key, node: valueNode(h, v[0], v[1], [...path, key], descend) });
  }
  return { kind: "map", path, objId, size: entries.length, entries };
}

function listNode(h: LowLevel, objId: string, path: Prop[], descend: Descend, force = false): ListNode {
  const n = h.length(objId);
  if (!force && !descend(path, n)) return { kind: "list", path, objId, size: n, partial: true, items: [] };
  const items: TreeNode[] = [];
  for (let i = 0; i < n; i++) {
    const v = h.getWithType(objId, i);
    items.push(v ? valueNode(h, v[0], v[1], [...path, i], descend) : { kind: "null", path: [...path, i] });
  }
  return { kind: "list", path, objId, size: n, items };
}

/**
 * Build the tree model for the whole document (root is always a map). With
 * `descend`, containers it rejects are returned `partial` (children unread).
 */
export function buildTree(doc: A.Doc<unknown>, descend: Descend = always): MapNode {
  return mapNode(handleOf(doc), "_root", [], descend, true);
}

/** Build the tree for the subtree at `path` (always reading its own children), or null if it doesn't exist. */
export function buildSubtree(doc: A.Doc<unknown>, path: Path, descend: Descend = always): TreeNode | null {
  const h = handleOf(doc);
  if (path.length === 0) return mapNode(h, "_root", [], descend, true);
  let obj = "_root";
  for (let i = 0; i < path.length; i++) {
    const v = h.getWithType(obj, path[i]!);
    if (!v) return null;
    if (i === path.length - 1) {
      const p = [...path];
      if (v[0] === "map") return mapNode(h, v[1] as string, p, descend, true);
      if (v[0] === "list") return listNode(h, v[1] as string, p, descend, true);
      return valueNode(h, v[0], v[1], p, descend);
    }
    if (v[0] !== "map" && v[0] !== "list") return null;
    obj = v[1] as string;
  }
  return null;
}

/** The note template: root `{ title: Text, body: Text }` (other keys allowed). */
export function isNoteTemplate(root: MapNode): boolean {
  const kind = (k: string) => root.entries.find((e) => e.key === k)?.node.kind;
  return kind("title") === "text" && kind("body") === "text";
}

/** Count nodes (used by tests and to decide on deferred rendering). */
export function countNodes(n: TreeNode): number {
  if (n.kind === "map") return 1 + n.entries.reduce((s, e) => s + countNodes(e.node), 0);
  if (n.kind === "list") return 1 + n.items.reduce((s, i) => s + countNodes(i), 0);
  return 1;
}
