// The value views of the document view (./docview.ts): one small object per
// scalar (string, number, boolean, timestamp, counter, read-only kinds) or
// text (a CodeMirror editor bound to its text object), owning its DOM and
// updated in place with `update(node)`; plus what every view shares (`Ctx`).
import { bytesPreview, fromDatetimeLocal, parseNumberInput, toDatetimeLocal } from "../model/format";
import * as ops from "../model/ops";
import { type Prop, pathLabel, pathToString } from "../model/path";
import type { SyncPeer } from "../model/peer";
import { type Descend, NEW_VALUE_KINDS, type TreeNode } from "../model/tree";
import { h, setText } from "./dom";
import { TextEditor } from "./texteditor";

/** A document: a JSON-like Automerge map. */
export type AnyDoc = Record<string, unknown>;

/** What every view of one document shares. */
export interface Ctx {
  peer: SyncPeer<AnyDoc>;
  /** Apply an edit through the peer; reports errors instead of throwing. */
  edit(fn: (d: AnyDoc) => void): boolean;
  error(message: string): void;
  /**
   * Expand/collapse choices the user made, by path string; survives
   * re-renders. Without a choice, containers with more than
   * AUTO_COLLAPSE children start collapsed.
   */
  expanded: Map<string, boolean>;
  /** `buildTree` predicate: read a container's children only if it is expanded. */
  descend: Descend;
  /** Live text editors, for the text-only fast path and staleness checks. */
  texts: Set<TextView>;
  /** Opens a (checked) web link from a note. */
  openUrl(url: string): void;
}

/** A view of one value: owns `el`, updated in place. */
export interface View {
  readonly el: HTMLElement;
  update(node: TreeNode): void;
  destroy(): void;
}

/** Containers bigger than this start collapsed; collapsed bodies are not rendered at all. */
export const AUTO_COLLAPSE = 50;

export function childCount(n: TreeNode): number {
  return n.kind === "map" || n.kind === "list" ? n.size : 0;
}

export const KIND_LABEL: Record<TreeNode["kind"], string> = {
  map: "map",
  list: "list",
  text: "text",
  string: "string",
  number: "number",
  boolean: "boolean",
  null: "null",
  counter: "counter",
  timestamp: "timestamp",
  bytes: "bytes",
  unknown: "unknown",
};

/** Set an input's value without losing the caret if the user is in it. */
export function setInputValue(input: HTMLInputElement, value: string): void {
  if (input.value === value) return;
  if (document.activeElement === input && (input.type === "text" || input.type === "search")) {
    const start = input.selectionStart ?? value.length;
    const end = input.selectionEnd ?? value.length;
    input.value = value;
    input.setSelectionRange(Math.min(start, value.length), Math.min(end, value.length));
  } else {
    input.value = value;
  }
}

export function kindSelect(name: string, label: string): HTMLSelectElement {
  return h(
    "select",
    { name, "aria-label": label, class: "kind-select" },
    NEW_VALUE_KINDS.map((k) => h("option", { value: k }, k)),
  );
}

// ---- scalar views ----------------------------------------------------------------------------

export class StringView implements View {
  readonly el: HTMLInputElement;
  constructor(node: Extract<TreeNode, { kind: "string" }>, ctx: Ctx) {
    const path = node.path;
    this.el = h("input", {
      type: "text",
      class: "scalar-input",
      value: node.value,
      "data-path": pathToString(path),
      "aria-label": `${pathLabel(path)} (string)`,
      oninput: () => ctx.edit((d) => ops.setScalar(d, path, { kind: "string", value: this.el.value })),
    });
  }
  update(node: TreeNode): void {
    if (node.kind === "string") setInputValue(this.el, node.value);
  }
  destroy(): void {}
}

export class NumberView implements View {
  readonly el: HTMLInputElement;
  private numType: string;
  constructor(node: Extract<TreeNode, { kind: "number" }>, ctx: Ctx) {
    const path = node.path;
    this.numType = node.numType;
    this.el = h("input", {
      type: "number",
      step: "any",
      class: "scalar-input number",
      value: String(node.value),
      "data-path": pathToString(path),
      "aria-label": `${pathLabel(path)} (number)`,
      oninput: () => {
        const v = parseNumberInput(this.el.value);
        if (v === null) return; // keep the user's partial input ("-", "1e") without writing
        ctx.edit((d) => ops.setScalar(d, path, { kind: "number", value: v, numType: this.numType === "f64" ? "f64" : undefined }));
      },
    });
  }
  update(node: TreeNode): void {
    if (node.kind !== "number") return;
    this.numType = node.numType;
    if (document.activeElement === this.el && parseNumberInput(this.el.value) === node.value) return;
    setInputValue(this.el, String(node.value));
  }
  destroy(): void {}
}

export class BooleanView implements View {
  readonly el: HTMLInputElement;
  constructor(node: Extract<TreeNode, { kind: "boolean" }>, ctx: Ctx) {
    const path = node.path;
    this.el = h("input", {
      type: "checkbox",
      class: "scalar-checkbox",
      checked: node.value,
      "data-path": pathToString(path),
      "aria-label": `${pathLabel(path)} (boolean)`,
      onchange: () => ctx.edit((d) => ops.setScalar(d, path, { kind: "boolean", value: this.el.checked })),
    });
  }
  update(node: TreeNode): void {
    if (node.kind === "boolean" && this.el.checked !== node.value) this.el.checked = node.value;
  }
  destroy(): void {}
}

export class TimestampView implements View {
  readonly el: HTMLInputElement;
  constructor(node: Extract<TreeNode, { kind: "timestamp" }>, ctx: Ctx) {
    const path = node.path;
    this.el = h("input", {
      type: "datetime-local",
      step: "1",
      class: "scalar-input timestamp",
      value: toDatetimeLocal(node.value),
      "data-path": pathToString(path),
      "aria-label": `${pathLabel(path)} (timestamp)`,
      onchange: () => {
        const v = fromDatetimeLocal(this.el.value);
        if (v) ctx.edit((d) => ops.setScalar(d, path, { kind: "timestamp", value: v }));
      },
    });
  }
  update(node: TreeNode): void {
    if (node.kind !== "timestamp") return;
    const cur = fromDatetimeLocal(this.el.value);
    if (document.activeElement === this.el && cur && cur.getTime() === node.value.getTime()) return;
    setInputValue(this.el, toDatetimeLocal(node.value));
  }
  destroy(): void {}
}

export class CounterView implements View {
  readonly el: HTMLElement;
  private readonly value: HTMLElement;
  constructor(node: Extract<TreeNode, { kind: "counter" }>, ctx: Ctx) {
    const path = node.path;
    const p = pathToString(path);
    const label = pathLabel(path);
    this.value = h(
      "output",
      { class: "counter-value", testid: "counter-value", "data-path": p, "aria-live": "polite" },
      String(node.value),
    );
    this.el = h(
      "span",
      { class: "counter" },
      h(
        "button",
        {
          type: "button",
          class: "btn icon",
          testid: "counter-dec",
          "data-path": p,
          "aria-label": `Decrement ${label}`,
          title: "Decrement",
          onclick: () => ctx.edit((d) => ops.incrementCounter(d, path, -1)),
        },
        "−",
      ),
      this.value,
      h(
        "button",
        {
          type: "button",
          class: "btn icon",
          testid: "counter-inc",
          "data-path": p,
          "aria-label": `Increment ${label}`,
          title: "Increment",
          onclick: () => ctx.edit((d) => ops.incrementCounter(d, path, 1)),
        },
        "+",
      ),
    );
  }
  update(node: TreeNode): void {
    if (node.kind === "counter") setText(this.value, String(node.value));
  }
  destroy(): void {}
}

export class StaticView implements View {
  readonly el: HTMLElement;
  constructor(node: TreeNode) {
    this.el = h("span", { class: `static-value kind-${node.kind}`, "data-path": pathToString(node.path) });
    this.update(node);
  }
  update(node: TreeNode): void {
    if (node.kind === "null") setText(this.el, "null");
    else if (node.kind === "bytes") setText(this.el, bytesPreview(node.value));
    else if (node.kind === "unknown") setText(this.el, `(unsupported datatype ${node.datatype})`);
  }
  destroy(): void {}
}

// ---- text ------------------------------------------------------------------------------------

export class TextView implements View {
  readonly el: HTMLElement;
  readonly editor: TextEditor;
  readonly objId: string;
  constructor(
    node: Extract<TreeNode, { kind: "text" }>,
    private readonly ctx: Ctx,
    opts: Partial<
      Pick<
        ConstructorParameters<typeof TextEditor>[0],
        "singleLine" | "onEnter" | "testid" | "placeholder" | "className" | "label" | "extensions"
      >
    > = {},
  ) {
    this.objId = node.objId;
    this.editor = new TextEditor({
      peer: ctx.peer as SyncPeer<unknown>,
      path: node.path,
      label: opts.label ?? `${pathLabel(node.path)} (text)`,
      ...opts,
    });
    this.el = this.editor.el;
    ctx.texts.add(this);
  }
  get path(): Prop[] {
    return this.editor.path;
  }
  update(): void {
    /* the automerge-codemirror plugin keeps the editor in sync */
  }
  focus(): void {
    this.editor.focus();
  }
  destroy(): void {
    this.ctx.texts.delete(this);
    this.editor.destroy();
  }
}
