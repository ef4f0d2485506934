// The containers and layouts of the document view (./docview.ts): a row per
// map entry or list item, maps and lists reconciled by identity (path + kind +
// object id), and the note and generic layouts of a whole document.
import { summarize } from "../model/format";
import * as ops from "../model/ops";
import { type Prop, pathLabel, pathToString } from "../model/path";
import { buildSubtree, type ListNode, type MapNode, type NewValueKind, nodeKey, type TreeNode } from "../model/tree";
import {
  AUTO_COLLAPSE,
  BooleanView,
  CounterView,
  type Ctx,
  childCount,
  KIND_LABEL,
  kindSelect,
  NumberView,
  StaticView,
  StringView,
  TextView,
  TimestampView,
  type View,
} from "./docvalues";
import { h, setText, syncChildren } from "./dom";
import { markdownPreview } from "./markdown";
// ---- containers ------------------------------------------------------------------------------

export function createValueView(node: TreeNode, ctx: Ctx): View {
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
export class Row {
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

export class MapView implements View {
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

export class ListView implements View {
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
export class NoteLayout implements View {
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

export class GenericLayout implements View {
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
