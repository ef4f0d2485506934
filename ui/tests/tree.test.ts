import { describe, expect, it } from "vitest";
import { A } from "../src/automerge";
import { buildSubtree, buildTree, countNodes, isNoteTemplate, type MapNode, nodeKey } from "../src/model/tree";

function sample() {
  return A.from<any>({
    title: "Note",
    body: "Text body",
    tags: ["a", { nested: true }],
    n: 42,
    f: 1.5,
    c: new A.Counter(7),
    when: new Date(1_700_000_000_000),
    label: new A.ImmutableString("fixed"),
    nothing: null,
    raw: new Uint8Array([1, 2, 3]),
  });
}

describe("tree model", () => {
  it("describes every value kind of a document", () => {
    const t = buildTree(sample());
    expect(t.kind).toBe("map");
    expect(t.path).toEqual([]);
    const kinds = Object.fromEntries(t.entries.map((e) => [e.key, e.node.kind]));
    expect(kinds).toEqual({
      title: "text",
      body: "text",
      tags: "list",
      n: "number",
      f: "number",
      c: "counter",
      when: "timestamp",
      label: "string",
      nothing: "null",
      raw: "bytes",
    });
    const get = (k: string) => t.entries.find((e) => e.key === k)!.node as any;
    expect(get("n")).toMatchObject({ value: 42, numType: "int", path: ["n"] });
    expect(get("f")).toMatchObject({ value: 1.5, numType: "f64" });
    expect(get("c").value).toBe(7);
    expect(get("when").value.getTime()).toBe(1_700_000_000_000);
    expect(get("label").value).toBe("fixed");
    const tags = get("tags");
    expect(tags.items.map((i: any) => i.kind)).toEqual(["text", "map"]);
    expect(tags.items[1].path).toEqual(["tags", 1]);
    expect(tags.items[1].entries[0]).toMatchObject({ key: "nested", node: { kind: "boolean", value: true, path: ["tags", 1, "nested"] } });
    expect(countNodes(t)).toBe(14);
  });

  it("skips the children of containers the view keeps collapsed", () => {
    const doc = A.from<any>({ big: Array.from({ length: 100 }, (_, i) => ({ i })), small: [1, 2], m: { a: { b: 1 } } });
    const seen: string[] = [];
    const t = buildTree(doc, (path, size) => {
      seen.push(path.join("/"));
      return size <= 10;
    });
    const big = t.entries.find((e) => e.key === "big")!.node as any;
    expect(big).toMatchObject({ kind: "list", size: 100, partial: true, items: [] });
    expect((t.entries.find((e) => e.key === "small")!.node as any).items.length).toBe(2);
    expect(seen).toEqual(["big", "m", "m/a", "small"]); // never asked about big's 100 children
    const full = buildSubtree(doc, ["big"], (_p, size) => size <= 10) as any;
    expect(full.partial).toBeUndefined();
    expect(full.items.length).toBe(100);
    expect(full.items[0]).toMatchObject({ kind: "map", size: 1, path: ["big", 0] });
  });

  it("detects the note template", () => {
    expect(isNoteTemplate(buildTree(A.from<any>({ title: "", body: "" })))).toBe(true);
    expect(isNoteTemplate(buildTree(A.from<any>({ title: new A.ImmutableString("x"), body: "" })))).toBe(false);
    expect(isNoteTemplate(buildTree(A.from<any>({ body: "" })))).toBe(false);
  });

  it("gives stable keys for unchanged objects and new keys for replaced ones", () => {
    let doc = A.from<any>({ items: ["one", "two"] });
    const before = buildTree(doc).entries[0]!.node as any;
    doc = A.change(doc, (d: any) => A.splice(d, ["items", 0], 3, 0, "!"));
    const same = buildTree(doc).entries[0]!.node as any;
    expect(nodeKey(same.items[0])).toBe(nodeKey(before.items[0]));
    doc = A.change(doc, (d: any) => A.insertAt(d.items, 0, "zero"));
    const shifted = buildTree(doc).entries[0]!.node as any;
    // a different text object now lives at /items/0
    expect(nodeKey(shifted.items[0])).not.toBe(nodeKey(before.items[0]));
    expect(shifted.items[1].objId).toBe(before.items[0].objId);
  });

  it("builds subtrees by path", () => {
    const doc = sample();
    expect(buildSubtree(doc, ["tags", 1, "nested"])).toMatchObject({ kind: "boolean", value: true });
    expect(buildSubtree(doc, ["tags", 5])).toBeNull();
    expect(buildSubtree(doc, ["n", "x"])).toBeNull();
    expect((buildSubtree(doc, []) as MapNode).entries.length).toBe(10);
  });

  it("reflects merged concurrent structure changes", () => {
    const base = A.from<any>({ list: [] as any[] });
    const a = A.change(A.clone(base), (d: any) => d.list.push(1));
    const b = A.change(A.clone(base), (d: any) => {
      d.extra = { deep: [new A.Counter(1)] };
    });
    const merged = A.merge(a, b);
    const t = buildTree(merged);
    expect(t.entries.map((e) => e.key)).toEqual(["extra", "list"]);
    expect(countNodes(t)).toBe(6);
  });
});
