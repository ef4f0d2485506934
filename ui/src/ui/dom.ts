// Tiny DOM helpers: `h("button", { class: "x", onclick }, "label")`.
type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, unknown>;

/** Attributes set as DOM properties (live state) rather than markup attributes. */
const PROPS = new Set(["value", "checked", "disabled", "hidden", "selected", "indeterminate", "multiple"]);

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs | null = null,
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith("on") && typeof v === "function") {
        el.addEventListener(k.slice(2), v as EventListener);
      } else if (k === "class") {
        el.className = String(v);
      } else if (k === "dataset") {
        Object.assign(el.dataset, v as Record<string, string>);
      } else if (k === "testid") {
        el.dataset.testid = String(v);
      } else if (PROPS.has(k)) {
        (el as unknown as Record<string, unknown>)[k] = v;
      } else {
        el.setAttribute(k, v === true ? "" : String(v));
      }
    }
  }
  append(el, children);
  return el;
}

export function append(el: Node, children: (Child | Child[])[]): void {
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.appendChild(typeof c === "object" ? c : document.createTextNode(String(c)));
  }
}

/** Replace all children of `el`. */
export function replaceChildren(el: Element, ...children: (Child | Child[])[]): void {
  el.textContent = "";
  append(el, children);
}

/** Set text only if it changed (avoids needless DOM mutation). */
export function setText(el: Node, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}

/**
 * Make `parent`'s element children exactly `wanted`, in order, moving as few
 * nodes as possible (a node that is already in place is never touched, so
 * focus and selection inside it survive).
 */
export function syncChildren(parent: Element, wanted: readonly Element[]): void {
  const want = new Set(wanted);
  for (const c of [...parent.children]) if (!want.has(c)) c.remove();
  let cursor: Element | null = parent.firstElementChild;
  for (const el of wanted) {
    if (el === cursor) {
      cursor = cursor.nextElementSibling;
    } else {
      parent.insertBefore(el, cursor);
    }
  }
}

/** Whether focus is inside `el`. */
export function hasFocusWithin(el: Element): boolean {
  const a = document.activeElement;
  return !!a && el.contains(a);
}

/**
 * A keyed list: makes `parent`'s children one element per item, in order,
 * reusing the element of each key from `cache` (made by `create` the first
 * time) and dropping the others; returns the items with their elements.
 */
export function keyedChildren<T, E extends HTMLElement>(
  parent: Element,
  items: readonly T[],
  key: (item: T) => string,
  cache: Map<string, E>,
  create: (item: T) => E,
): [T, E][] {
  const out: [T, E][] = [];
  const seen = new Set<string>();
  for (const item of items) {
    const k = key(item);
    seen.add(k);
    let el = cache.get(k);
    if (!el) {
      el = create(item);
      cache.set(k, el);
    }
    out.push([item, el]);
  }
  for (const [k, el] of cache)
    if (!seen.has(k)) {
      el.remove();
      cache.delete(k);
    }
  syncChildren(
    parent,
    out.map(([, el]) => el),
  );
  return out;
}
