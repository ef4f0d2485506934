import { describe, expect, it } from "vitest";
import { A } from "../src/automerge";
import * as ops from "../src/model/ops";
import { buildSubtree, buildTree, NEW_VALUE_KINDS } from "../src/model/tree";

const edit = (doc: A.Doc<any>, fn: (d: any) => void) => A.change(doc, fn);

describe("path ops", () => {
  it("adds keys of every kind with the right Automerge datatype", () => {
    const now = new Date(1234);
    let doc = A.from<any>({ m: {} });
    for (const k of NEW_VALUE_KINDS) doc = edit(doc, (d) => ops.addKey(d, ["m"], `k_${k}`, k, now));
    const kinds = Object.fromEntries((buildSubtree(doc, ["m"]) as any).entries.map((e: any) => [e.key.slice(2), e.node.kind]));
    expect(kinds).toEqual({
      text: "text",
      string: "string",
      number: "number",
      boolean: "boolean",
      null: "null",
      map: "map",
      list: "list",
      counter: "counter",
      timestamp: "timestamp",
    });
    expect(doc.m.k_timestamp.getTime()).toBe(1234);
  });

  it("rejects duplicate/empty keys and adding keys to lists", () => {
    const doc = A.from<any>({ a: 1, l: [] });
    expect(() => edit(doc, (d) => ops.addKey(d, [], "a", "number"))).toThrow(/already exists/);
    expect(() => edit(doc, (d) => ops.addKey(d, [], "", "number"))).toThrow(/empty/);
    expect(() => edit(doc, (d) => ops.addKey(d, ["l"], "x", "number"))).toThrow(/list/);
    expect(() => edit(doc, (d) => ops.addKey(d, ["missing"], "x", "number"))).toThrow(ops.PathError);
  });

  it("removes keys and list items", () => {
    let doc = A.from<any>({ a: 1, l: ["x", "y", "z"], m: { deep: { v: 1 } } });
    doc = edit(doc, (d) => ops.removeAt(d, ["a"]));
    doc = edit(doc, (d) => ops.removeAt(d, ["l", 1]));
    doc = edit(doc, (d) => ops.removeAt(d, ["m", "deep", "v"]));
    expect(A.toJS(doc)).toEqual({ l: ["x", "z"], m: { deep: {} } });
    expect(() => edit(doc, (d) => ops.removeAt(d, []))).toThrow(/root/);
    expect(() => edit(doc, (d) => ops.removeAt(d, ["l", 9]))).toThrow();
  });

  it("inserts, and moves list items up and down (deep copy)", () => {
    let doc = A.from<any>({ l: ["a", { n: new A.Counter(5), t: "txt" }, 3] });
    doc = edit(doc, (d) => ops.moveItem(d, ["l"], 1, 0));
    expect(A.toJS(doc).l[0].t).toBe("txt");
    expect(doc.l[0].n.value).toBe(5);
    expect(buildSubtree(doc, ["l", 0, "t"])!.kind).toBe("text");
    expect(buildSubtree(doc, ["l", 0, "n"])!.kind).toBe("counter");
    doc = edit(doc, (d) => ops.moveItem(d, ["l"], 0, 2));
    expect(A.toJS(doc).l.slice(0, 2)).toEqual(["a", 3]);
    doc = edit(doc, (d) => ops.moveItem(d, ["l"], 2, 99)); // clamps; no-op here
    expect(doc.l.length).toBe(3);
    const at = { i: -1 };
    doc = edit(doc, (d) => (at.i = ops.insertItem(d, ["l"], "boolean", 1)));
    expect(at.i).toBe(1);
    expect(doc.l[1]).toBe(false);
    doc = edit(doc, (d) => ops.insertItem(d, ["l"], "text"));
    expect(doc.l[4]).toBe("");
    expect(buildSubtree(doc, ["l", 4])!.kind).toBe("text");
  });

  it("sets scalars keeping datatypes", () => {
    let doc = A.from<any>({ s: new A.ImmutableString("a"), n: 1, f: new A.Float64(2) });
    doc = edit(doc, (d) => ops.setScalar(d, ["s"], { kind: "string", value: "hello" }));
    doc = edit(doc, (d) => ops.setScalar(d, ["n"], { kind: "number", value: 2.5 }));
    doc = edit(doc, (d) => ops.setScalar(d, ["f"], { kind: "number", value: 3, numType: "f64" }));
    doc = edit(doc, (d) => ops.setScalar(d, ["b"], { kind: "boolean", value: true }));
    doc = edit(doc, (d) => ops.setScalar(d, ["z"], { kind: "null" }));
    doc = edit(doc, (d) => ops.setScalar(d, ["t"], { kind: "timestamp", value: new Date(5) }));
    const t = buildTree(doc);
    const by = (k: string) => t.entries.find((e) => e.key === k)!.node as any;
    expect(by("s")).toMatchObject({ kind: "string", value: "hello" });
    expect(by("n")).toMatchObject({ kind: "number", value: 2.5, numType: "f64" });
    expect(by("f")).toMatchObject({ kind: "number", value: 3, numType: "f64" });
    expect(by("b")).toMatchObject({ kind: "boolean", value: true });
    expect(by("z").kind).toBe("null");
    expect(by("t").value.getTime()).toBe(5);
    expect(() => edit(doc, (d) => ops.setScalar(d, ["n"], { kind: "number", value: NaN }))).toThrow();
  });

  it("increments and decrements counters, merging concurrent increments", () => {
    const base = A.from<any>({ c: new A.Counter(0) });
    const a = edit(A.clone(base), (d) => ops.incrementCounter(d, ["c"], 1));
    const b = edit(A.clone(base), (d) => ops.incrementCounter(d, ["c"], -3));
    expect(A.merge(a, b).c.value).toBe(-2);
    expect(() => edit(base, (d) => ops.incrementCounter(d, ["nope"], 1))).toThrow(/counter/);
  });

  it("renames via the title text with a minimal splice", () => {
    const base = A.from<any>({ title: "Shopping list", body: "" });
    // one peer renames while another edits the same title concurrently
    const a = edit(A.clone(base), (d) => ops.setTitle(d, "Shopping list 2024"));
    const b = edit(A.clone(base), (d) => A.splice(d, ["title"], 0, 0, "My "));
    expect(A.merge(a, b).title).toBe("My Shopping list 2024");
    // docs without a text title get one
    const c = edit(A.from<any>({ title: new A.ImmutableString("x") }), (d) => ops.setTitle(d, "New"));
    expect(buildSubtree(c, ["title"])!.kind).toBe("text");
    expect(c.title).toBe("New");
    const e = edit(A.from<any>({}), (d) => ops.setTitle(d, "T"));
    expect(e.title).toBe("T");
  });

  it("clones values for moves", () => {
    const v = ops.cloneValue({ a: [1, new A.ImmutableString("s")], d: new Date(3), b: new Uint8Array([1]) }) as any;
    expect(v.a[1]).toBeInstanceOf(A.ImmutableString);
    expect(v.d.getTime()).toBe(3);
    expect(v.b).toEqual(new Uint8Array([1]));
  });
});
