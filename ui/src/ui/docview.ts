// Generic, live view of a whole Automerge document.
//
// Every map/list/scalar/text is a small view object that owns its DOM and can
// `update(node)` in place. On each change we rebuild the cheap tree *model*
// (src/model/tree.ts) and reconcile views by identity (path + kind + object
// id): existing views are updated, never recreated, so focus, caret and
// selection in inputs and CodeMirror editors survive local and remote edits.
// Text contents are not rendered by us at all: each CodeMirror editor is bound
// to its text object by @automerge/automerge-codemirror and receives minimal
// changes directly. Edits that only touch bound text skip the tree pass.
import { A } from "../automerge";
import { bytesPreview, fromDatetimeLocal, parseNumberInput, summarize, toDatetimeLocal } from "../model/format";
import * as ops from "../model/ops";
import { isTextOnlyChange } from "../model/patches";
import { type Prop, pathLabel, pathToString } from "../model/path";
import type { SyncPeer } from "../model/peer";
import {
  buildSubtree,
  buildTree,
  type Descend,
  isNoteTemplate,
  type ListNode,
  type MapNode,
  NEW_VALUE_KINDS,
  type NewValueKind,
  nodeKey,
  type TreeNode,
} from "../model/tree";
import { h, setText, syncChildren } from "./dom";
import { markdownPreview } from "./markdown";
import { PresenceSession } from "./presence";
import { TextEditor } from "./texteditor";

type AnyDoc = Record<string, unknown>;

interface Ctx {
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

interface View {
  readonly el: HTMLElement;
  update(node: TreeNode): void;
  destroy(): void;
}

/** Containers bigger than this start collapsed; collapsed bodies are not rendered at all. */
export const AUTO_COLLAPSE = 50;

function childCount(n: TreeNode): number {
  return n.kind === "map" || n.kind === "list" ? n.size : 0;
}

const KIND_LABEL: Record<TreeNode["kind"], string> = {
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
function setInputValue(input: HTMLInputElement, value: string): void {
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

function kindSelect(name: string, label: string): HTMLSelectElement {
  return h(
    "select",
    { name, "aria-label": label, class: "kind-select" },
    NEW_VALUE_KINDS.map((k) => h("option", { value: k }, k)),
  );
}

// ---- scalar views ----------------------------------------------------------------------------

class StringView implements View {
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

class NumberView implements View {
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

class BooleanView implements View {
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

class TimestampView implements View {
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

class CounterView implements View {
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

class StaticView implements View {
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

class TextView implements View {
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

// ---- containers ------------------------------------------------------------------------------

function createValueView(node: TreeNode, ctx: Ctx): View {
  switch (node.kind) {
    case "map":
      return new MapView(node, ctx);
    case "list":
      return new ListView(node, ctx);
    case "text":
      return new TextView(node, ctx);
    case "string":
      return new StringView(node, ctx);
    case "number":
      return new NumberView(node, ctx);
    case "boolean":
      return new BooleanView(node, ctx);
    case "counter":
      return new CounterView(node, ctx);
    case "timestamp":
      return new TimestampView(node, ctx);
    default:
      return new StaticView(node);
  }
}

/**
 * One entry of a map or one item of a list: label, type badge, value, actions.
 * A container's body (its child views) only exists while it is expanded, so a
 * huge collapsed list costs nothing to keep live.
 */
class Row {
  readonly el: HTMLElement;
  private value: View | null = null;
  private node: TreeNode;
  private readonly summary: HTMLElement | null = null;
  private readonly body: HTMLElement | null = null;
  private readonly toggle: HTMLButtonElement | null = null;
  private readonly up: HTMLButtonElement | null = null;
  private readonly down: HTMLButtonElement | null = null;
  private readonly pathStr: string;

  constructor(
    node: TreeNode,
    private readonly ctx: Ctx,
    where: { kind: "entry"; key: string } | { kind: "item"; index: number; length: number; listPath: Prop[] },
  ) {
    this.node = node;
    this.pathStr = pathToString(node.path);
    const label = pathLabel(node.path);
    const container = node.kind === "map" || node.kind === "list";
    const block = container || node.kind === "text";

    const head = h("div", { class: "row-head" });
    if (container) {
      this.toggle = h(
        "button",
        {
          type: "button",
          class: "btn icon subtle toggle",
          testid: "toggle",
          "data-path": this.pathStr,
          "aria-expanded": "false",
          "aria-label": `Expand or collapse ${label}`,
          onclick: () => {
            const next = this.toggle!.getAttribute("aria-expanded") !== "true";
            this.ctx.expanded.set(this.pathStr, next);
            this.setExpanded(next);
          },
        },
        "▸",
      );
      head.append(this.toggle);
    }
    head.append(
      where.kind === "entry"
        ? h("span", { class: "row-key", title: where.key }, where.key)
        : h("span", { class: "row-index" }, String(where.index)),
      h("span", { class: `kind-badge kind-${node.kind}` }, KIND_LABEL[node.kind]),
    );
    if (container) {
      this.summary = h("span", { class: "row-summary" }, summarize(node));
      head.append(this.summary);
    }
    if (!block) {
      this.value = createValueView(node, ctx);
      head.append(h("span", { class: "row-value" }, this.value.el));
    }
    head.append(h("span", { class: "row-spacer" }));

    if (where.kind === "item") {
      const { listPath } = where;
      const idx = () => node.path[node.path.length - 1] as number;
      this.up = h(
        "button",
        {
          type: "button",
          class: "btn icon subtle",
          testid: "item-up",
          "data-path": this.pathStr,
          "aria-label": `Move ${label} up`,
          title: "Move up",
          onclick: () => ctx.edit((d) => ops.moveItem(d, listPath, idx(), idx() - 1)),
        },
        "↑",
      );
      this.down = h(
        "button",
        {
          type: "button",
          class: "btn icon subtle",
          testid: "item-down",
          "data-path": this.pathStr,
          "aria-label": `Move ${label} down`,
          title: "Move down",
          onclick: () => ctx.edit((d) => ops.moveItem(d, listPath, idx(), idx() + 1)),
        },
        "↓",
      );
      head.append(this.up, this.down);
      this.setBounds(where.index, where.length);
    }
    head.append(
      h(
        "button",
        {
          type: "button",
          class: "btn icon subtle danger",
          testid: where.kind === "entry" ? "remove-key" : "remove-item",
          "data-path": this.pathStr,
          "aria-label": `Remove ${label}`,
          title: where.kind === "entry" ? "Remove key" : "Remove item",
          onclick: () => ctx.edit((d) => ops.removeAt(d, node.path)),
        },
        "×",
      ),
    );

    this.el = h(
      "div",
      {
        class: `row ${block ? "block" : "inline"} kind-${node.kind}`,
        testid: where.kind === "entry" ? "map-value" : "list-item",
        "data-path": this.pathStr,
        "data-kind": node.kind,
      },
      head,
    );
    if (block) {
      this.body = h("div", { class: "row-body" });
      this.el.append(this.body);
    }
    if (node.kind === "text") {
      this.value = createValueView(node, ctx);
      this.body!.append(this.value.el);
    }
    if (container) {
      // sticky, so the tree builder (ctx.descend) and this row always agree
      const expanded = ctx.expanded.get(this.pathStr) ?? childCount(node) <= AUTO_COLLAPSE;
      ctx.expanded.set(this.pathStr, expanded);
      this.setExpanded(expanded);
    }
  }

  private setExpanded(expanded: boolean): void {
    if (!this.toggle || !this.body) return;
    this.toggle.setAttribute("aria-expanded", String(expanded));
    this.body.hidden = !expanded;
    if (expanded && !this.value) {
      this.node = this.fullNode(this.node);
      this.value = createValueView(this.node, this.ctx);
      this.body.append(this.value.el);
    } else if (!expanded && this.value) {
      this.value.destroy();
      this.value.el.remove();
      this.value = null;
    }
  }

  private setBounds(index: number, length: number): void {
    if (this.up) this.up.disabled = index === 0;
    if (this.down) this.down.disabled = index >= length - 1;
  }

  /** A collapsed container's node has no children; read them when needed. */
  private fullNode(node: TreeNode): TreeNode {
    if ((node.kind === "map" || node.kind === "list") && node.partial) {
      return buildSubtree(this.ctx.peer.doc(), node.path, this.ctx.descend) ?? node;
    }
    return node;
  }

  update(node: TreeNode, length?: number): void {
    this.node = this.value ? this.fullNode(node) : node;
    this.value?.update(this.node);
    if (this.summary) setText(this.summary, summarize(this.node));
    if (length !== undefined) this.setBounds(node.path[node.path.length - 1] as number, length);
  }

  destroy(): void {
    this.value?.destroy();
    this.el.remove();
  }
}

/** Reconcile keyed rows into `parent`. */
function reconcileRows(parent: HTMLElement, rows: Map<string, Row>, nodes: { node: TreeNode; make: () => Row; length?: number }[]): void {
  const next = new Map<string, Row>();
  const els: HTMLElement[] = [];
  for (const { node, make, length } of nodes) {
    const key = nodeKey(node);
    let row = rows.get(key);
    if (row) row.update(node, length);
    else row = make();
    next.set(key, row);
    els.push(row.el);
  }
  for (const [k, row] of rows) if (!next.has(k)) row.destroy();
  rows.clear();
  for (const [k, r] of next) rows.set(k, r);
  syncChildren(parent, els);
}

class MapView implements View {
  readonly el: HTMLElement;
  private readonly rowsEl: HTMLElement;
  private readonly rows = new Map<string, Row>();
  private readonly empty: HTMLElement;

  constructor(
    node: MapNode,
    private readonly ctx: Ctx,
    private readonly exclude: ReadonlySet<string> = new Set(),
  ) {
    const path = node.path;
    const p = pathToString(path);
    this.rowsEl = h("div", { class: "rows", role: "group", "aria-label": pathLabel(path) });
    this.empty = h("div", { class: "empty-note" }, "No keys yet.");
    const keyInput = h("input", {
      name: "key",
      type: "text",
      placeholder: "new key",
      "aria-label": `New key name in ${pathLabel(path)}`,
      autocomplete: "off",
      required: true,
    });
    const kind = kindSelect("type", `Type of the new key in ${pathLabel(path)}`);
    const form = h(
      "form",
      {
        class: "add-form",
        testid: "add-key",
        "data-path": p,
        onsubmit: (ev: Event) => {
          ev.preventDefault();
          const key = keyInput.value;
          if (key === "") return;
          if (ctx.edit((d) => ops.addKey(d, path, key, kind.value as NewValueKind))) {
            keyInput.value = ""; // only clear on success: never lose input
          }
        },
      },
      keyInput,
      kind,
      h("button", { type: "submit", class: "btn small" }, "Add key"),
    );
    this.el = h("div", { class: "map-view", "data-path": p }, this.rowsEl, this.empty, form);
    this.update(node);
  }

  update(node: TreeNode): void {
    if (node.kind !== "map") return;
    const entries = node.entries.filter((e) => !this.exclude.has(e.key));
    this.empty.hidden = entries.length > 0;
    reconcileRows(
      this.rowsEl,
      this.rows,
      entries.map((e) => ({ node: e.node, make: () => new Row(e.node, this.ctx, { kind: "entry", key: e.key }) })),
    );
  }

  destroy(): void {
    for (const r of this.rows.values()) r.destroy();
    this.rows.clear();
  }
}

class ListView implements View {
  readonly el: HTMLElement;
  private readonly rowsEl: HTMLElement;
  private readonly rows = new Map<string, Row>();
  private readonly empty: HTMLElement;

  constructor(
    node: ListNode,
    private readonly ctx: Ctx,
  ) {
    const path = node.path;
    const p = pathToString(path);
    this.rowsEl = h("div", { class: "rows", role: "list", "aria-label": pathLabel(path) });
    this.empty = h("div", { class: "empty-note" }, "Empty list.");
    const kind = kindSelect("type", `Type of the new item in ${pathLabel(path)}`);
    const form = h(
      "form",
      {
        class: "add-form",
        testid: "add-item",
        "data-path": p,
        onsubmit: (ev: Event) => {
          ev.preventDefault();
          let at = -1;
          // Focus moves into the new item once it is rendered, so typing
          // fills it (and Space on the button does not add more).
          const inserted = ctx.edit((d) => {
            at = ops.insertItem(d, path, kind.value as NewValueKind);
          });
          if (inserted) this.focusIndex = at;
        },
      },
      kind,
      h("button", { type: "submit", class: "btn small" }, "Add item"),
    );
    this.el = h("div", { class: "list-view", "data-path": p }, this.rowsEl, this.empty, form);
    this.update(node);
  }

  update(node: TreeNode): void {
    if (node.kind !== "list") return;
    this.updateRows(node);
    if (this.focusIndex !== null && this.focusIndex < node.items.length) {
      const row = this.rowsEl.children[this.focusIndex];
      const control = row?.querySelector<HTMLElement>(".cm-content, input:not([type=hidden]), select, textarea");
      this.focusIndex = null;
      control?.focus();
    }
  }

  /** The item to focus once it is rendered (just added through the form). */
  private focusIndex: number | null = null;

  private updateRows(node: Extract<TreeNode, { kind: "list" }>): void {
    this.empty.hidden = node.items.length > 0;
    const length = node.items.length;
    reconcileRows(
      this.rowsEl,
      this.rows,
      node.items.map((item, index) => ({
        node: item,
        length,
        make: () => new Row(item, this.ctx, { kind: "item", index, length, listPath: node.path }),
      })),
    );
  }

  destroy(): void {
    for (const r of this.rows.values()) r.destroy();
    this.rows.clear();
  }
}

// ---- layouts ---------------------------------------------------------------------------------

/** The note template: big single-line title, main body editor, other keys below. */
class NoteLayout implements View {
  readonly el: HTMLElement;
  private readonly title: TextView;
  private readonly body: TextView;
  private readonly rest: MapView;
  private readonly restSection: HTMLElement;
  private titleKey: string;
  private bodyKey: string;

  constructor(root: MapNode, ctx: Ctx) {
    const t = root.entries.find((e) => e.key === "title")!.node as Extract<TreeNode, { kind: "text" }>;
    const b = root.entries.find((e) => e.key === "body")!.node as Extract<TreeNode, { kind: "text" }>;
    this.titleKey = nodeKey(t);
    this.bodyKey = nodeKey(b);
    this.body = new TextView(b, ctx, {
      label: "Body",
      placeholder: "Start writing… (Markdown: # heading, *emphasis*, **strong**, - list, [link](https://…))",
      className: "body-editor",
      extensions: [markdownPreview((url) => ctx.openUrl(url))],
    });
    this.title = new TextView(t, ctx, {
      label: "Title",
      placeholder: "Untitled",
      singleLine: true,
      testid: "doc-title",
      className: "title-editor",
      onEnter: () => this.body.focus(),
    });
    this.rest = new MapView(root, ctx, new Set(["title", "body"]));
    this.restSection = h(
      "section",
      { class: "other-fields", "aria-label": "Other fields" },
      h("h2", { class: "section-title" }, "Fields"),
      this.rest.el,
    );
    this.el = h("div", { class: "note-layout" }, this.title.el, this.body.el, this.restSection);
  }

  /** False if title/body are no longer the same text objects (layout must be rebuilt). */
  fits(root: MapNode): boolean {
    const t = root.entries.find((e) => e.key === "title")?.node;
    const b = root.entries.find((e) => e.key === "body")?.node;
    return !!t && !!b && nodeKey(t) === this.titleKey && nodeKey(b) === this.bodyKey;
  }

  update(node: TreeNode): void {
    this.rest.update(node);
  }

  /** Puts the caret at the end of the body (where a new note is written). */
  focusBody(): void {
    this.body.focus();
    const v = this.body.editor.view;
    v.dispatch({ selection: { anchor: v.state.doc.length } });
  }

  destroy(): void {
    this.title.destroy();
    this.body.destroy();
    this.rest.destroy();
  }
}

class GenericLayout implements View {
  readonly el: HTMLElement;
  private readonly map: MapView;
  constructor(root: MapNode, ctx: Ctx) {
    this.map = new MapView(root, ctx);
    this.el = h("div", { class: "generic-layout" }, this.map.el);
  }
  update(node: TreeNode): void {
    this.map.update(node);
  }
  destroy(): void {
    this.map.destroy();
  }
}

export interface DocViewOptions {
  onError(message: string): void;
  /** Called after each render with the live title (root `title`), for headers/sidebar. */
  onRendered?(): void;
  /** Opens a web link from a note (default: a new browser tab). */
  openUrl?(url: string): void;
}

/** How long a field someone else changed stays marked. */
const FIELD_HIGHLIGHT_MS = 3000;

/** The document pane's content: picks a layout and keeps it live. */
export class DocView {
  readonly el: HTMLElement;
  private layout: NoteLayout | GenericLayout | null = null;
  private readonly ctx: Ctx;
  private renderedHeads: A.Heads = [];
  private frame: number | null = null;
  private readonly unsubscribe: () => void;
  private destroyed = false;

  constructor(
    private readonly peer: SyncPeer<AnyDoc>,
    private readonly opts: DocViewOptions,
  ) {
    this.ctx = {
      peer,
      expanded: new Map(),
      descend: (path, size) => this.ctx.expanded.get(pathToString(path)) ?? size <= AUTO_COLLAPSE,
      texts: new Set(),
      error: (m) => opts.onError(m),
      openUrl: (url) => (opts.openUrl ? opts.openUrl(url) : void window.open(url, "_blank", "noopener,noreferrer")),
      edit: (fn) => {
        try {
          peer.change(fn);
          return true;
        } catch (e) {
          opts.onError((e as Error).message ?? String(e));
          return false;
        }
      },
    };
    this.el = h("div", { class: "doc-view", "aria-busy": "true" }, h("p", { class: "loading" }, "Loading document…"));
    this.unsubscribe = peer.onChange((c) => {
      if (!c.local) this.remoteSinceRender = true;
      this.disableStaleEditors();
      this.schedule();
    });
    this.render();
  }

  /** Coalesce renders to one per frame (also keeps typing smooth under remote bursts). */
  private schedule(): void {
    if (this.frame !== null || this.destroyed) return;
    const run = () => {
      this.frame = null;
      this.render();
    };
    this.frame =
      typeof requestAnimationFrame === "function" && document.visibilityState !== "hidden"
        ? requestAnimationFrame(run)
        : (setTimeout(run, 16) as unknown as number);
  }

  /**
   * A structural change can put a different text object at an editor's path;
   * until the next frame rebuilds it, make sure nobody types into the wrong one.
   */
  private disableStaleEditors(): void {
    if (this.ctx.texts.size === 0) return;
    const backend = A.getBackend(this.peer.doc()) as unknown as {
      getWithType(obj: string, prop: Prop): [string, unknown] | null;
    };
    for (const t of this.ctx.texts) {
      let obj = "_root";
      let ok = true;
      for (const p of t.path) {
        const v = backend.getWithType(obj, p);
        if (!v || (v[0] !== "map" && v[0] !== "list" && v[0] !== "text")) {
          ok = false;
          break;
        }
        obj = v[1] as string;
      }
      if (!ok || obj !== t.objId) t.editor.view.contentDOM.setAttribute("contenteditable", "false");
    }
  }

  /** Render now (normally called via `schedule`). */
  render(): void {
    if (this.destroyed) return;
    const doc = this.peer.doc();
    const heads = A.getHeads(doc);
    const remote = this.remoteSinceRender;
    this.remoteSinceRender = false;
    let patches: A.Patch[] = [];
    if (this.layout && this.renderedHeads.length > 0) {
      if (heads.join() === this.renderedHeads.join()) return;
      patches = A.diff(doc, this.renderedHeads, heads);
      const textPaths = [...this.ctx.texts].map((t) => t.path);
      if (isTextOnlyChange(patches, textPaths)) {
        this.renderedHeads = heads;
        this.opts.onRendered?.();
        return;
      }
    }
    const root = buildTree(doc, this.ctx.descend);
    if (!this.layout && !this.peer.loaded) {
      // still loading: say how far a long first sync is
      const progress = this.peer.applying;
      const loading = this.el.querySelector(".loading");
      if (progress && loading) {
        loading.textContent = `Loading document… ${progress.done.toLocaleString()} of ${progress.total.toLocaleString()} changes`;
      }
      if (root.entries.length === 0) return;
    }
    const wantNote = isNoteTemplate(root);
    const fits =
      this.layout && (wantNote ? this.layout instanceof NoteLayout && this.layout.fits(root) : this.layout instanceof GenericLayout);
    if (fits) {
      this.layout!.update(root);
      if (remote) this.highlightRemote(patches);
    } else {
      this.layout?.destroy();
      this.layout = wantNote ? new NoteLayout(root, this.ctx) : new GenericLayout(root, this.ctx);
      this.el.replaceChildren(this.layout.el);
      this.el.removeAttribute("aria-busy");
      if (this.wantBodyFocus && this.layout instanceof NoteLayout) {
        this.layout.focusBody();
        this.wantBodyFocus = false;
      }
    }
    this.renderedHeads = heads;
    this.opts.onRendered?.();
  }

  private wantBodyFocus = false;
  /** Whether a change from someone else arrived since the last render. */
  private remoteSinceRender = false;

  /**
   * Marks, for a few seconds, the fields someone else just changed, with their
   * name on hover (text gets its own highlight inside the editor).
   */
  private highlightRemote(patches: A.Patch[]): void {
    const name = PresenceSession.of(this.peer as SyncPeer<unknown>).lastRemoteAuthor() ?? "someone else";
    const rows = new Set<HTMLElement>();
    for (const patch of patches) {
      if (patch.action === "splice" || patch.action === "del") continue; // inside text: the editor shows it
      const path = patch.path.filter((p): p is string | number => typeof p === "string" || typeof p === "number");
      const row = this.el.querySelector<HTMLElement>(`.row[data-path="${CSS.escape(pathToString(path))}"]`);
      if (row) rows.add(row);
    }
    for (const row of rows) {
      row.classList.add("remote-changed");
      row.dataset.changedBy = name;
      row.title = `changed by ${name}`;
      setTimeout(() => {
        row.classList.remove("remote-changed");
        row.removeAttribute("title");
        delete row.dataset.changedBy;
      }, FIELD_HIGHLIGHT_MS);
    }
  }

  /** Focus the body of a note as soon as it is rendered (after creating a document: its title was just typed). */
  focusBodyWhenReady(): void {
    if (this.layout instanceof NoteLayout) this.layout.focusBody();
    else if (!this.layout) this.wantBodyFocus = true;
  }

  destroy(): void {
    this.destroyed = true;
    if (this.frame !== null) {
      cancelAnimationFrame(this.frame);
      clearTimeout(this.frame);
    }
    this.unsubscribe();
    this.layout?.destroy();
    this.el.remove();
  }
}
