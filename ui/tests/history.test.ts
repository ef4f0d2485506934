import { describe, expect, it } from "vitest";
import { A } from "../src/automerge";
import {
  actorOfOpId,
  authorOf,
  burstSummary,
  changedPaths,
  compareOpIds,
  type DiffEntry,
  findConflicts,
  formatTime,
  textSegments,
  toPatches,
  visibleRange,
} from "../src/model/history";

/** Automerge's own patches from `before` to after `fn`. */
function edit(text: string, fn: (d: any) => void): { before: string; patches: A.Patch[]; after: string } {
  const doc = A.from<any>({ body: text, n: 1 });
  const heads = A.getHeads(doc);
  const next = A.change(A.clone(doc), fn);
  return { before: text, patches: A.diff(next, heads, A.getHeads(next)), after: next.body };
}

const visible = (segs: { kind: string; text: string }[]) =>
  segs
    .filter((s) => s.kind !== "del")
    .map((s) => s.text)
    .join("");
const older = (segs: { kind: string; text: string }[]) =>
  segs
    .filter((s) => s.kind !== "ins")
    .map((s) => s.text)
    .join("");

describe("textSegments", () => {
  it("marks an insertion and a deletion in place", () => {
    const { before, patches, after } = edit("hello world", (d) => {
      A.splice(d, ["body"], 5, 6, "");
      A.splice(d, ["body"], 0, 0, ">> ");
    });
    const segs = textSegments(before, patches, ["body"]);
    expect(segs).toEqual([
      { kind: "ins", text: ">> " },
      { kind: "same", text: "hello" },
      { kind: "del", text: " world" },
    ]);
    expect(visible(segs)).toBe(after);
    expect(older(segs)).toBe(before);
  });

  it("leaves no trace of text inserted and deleted again, and keeps both versions readable", () => {
    const { before, patches, after } = edit("abcdef", (d) => {
      A.splice(d, ["body"], 3, 0, "XYZ");
      A.splice(d, ["body"], 2, 3, "");
      A.splice(d, ["body"], 6, 0, "!");
    });
    const segs = textSegments(before, patches, ["body"]);
    expect(visible(segs)).toBe(after);
    expect(older(segs)).toBe(before);
  });

  it("handles text typed from empty and ignores other paths", () => {
    const { patches } = edit("", (d) => {
      A.splice(d, ["body"], 0, 0, "new");
      d.n = 2;
    });
    expect(textSegments("", patches, ["body"])).toEqual([{ kind: "ins", text: "new" }]);
    expect(textSegments("same", patches, ["title"])).toEqual([{ kind: "same", text: "same" }]);
  });
});

describe("changedPaths", () => {
  it("names changed fields and texts, with their ancestors", () => {
    const doc = A.from<any>({ meta: { tags: ["a"] }, body: "x", n: 1 });
    const heads = A.getHeads(doc);
    const next = A.change(A.clone(doc), (d) => {
      d.meta.tags.push("b");
      A.splice(d, ["body"], 1, 0, "y");
      d.n = 5;
    });
    const { changed, inside } = changedPaths(A.diff(next, heads, A.getHeads(next)));
    // (a string pushed into a list is a text object in Automerge 3: its splice counts too)
    expect([...changed].sort()).toEqual(["/body", "/meta/tags", "/meta/tags/1", "/n"]);
    expect(inside.has("")).toBe(true);
    expect(inside.has("/meta")).toBe(true);
    expect(inside.has("/body")).toBe(false);
  });
});

describe("toPatches", () => {
  it("turns the server's diff entries into Automerge-shaped patches", () => {
    const entries: DiffEntry[] = [
      { path: ["body"], action: "splice", key: 3, value: "abc" },
      { path: ["body"], action: "delete", key: 0, length: 2 },
      { path: [], action: "delete", key: "gone" },
      { path: [], action: "put", key: "title", value: "T" },
      { path: ["l"], action: "insert", key: 0, value: [1, 2] },
      { path: [], action: "increment", key: "votes", value: 2 },
      { path: [], action: "mark", key: null },
    ];
    expect(toPatches(entries)).toEqual([
      { action: "splice", path: ["body", 3], value: "abc" },
      { action: "del", path: ["body", 0], length: 2 },
      { action: "del", path: ["gone"] },
      { action: "put", path: ["title"], value: "T" },
      { action: "insert", path: ["l", 0], values: [1, 2] },
      { action: "inc", path: ["votes"], value: 2 },
    ]);
    const segs = textSegments("hello", toPatches(entries.slice(0, 2)), ["body"]);
    expect(visible(segs)).toBe("labclo");
  });
});

describe("visibleRange", () => {
  it("renders only the rows in view, plus overscan", () => {
    expect(visibleRange(0, 520, 52, 260_000, 5)).toEqual({ start: 0, end: 15 });
    expect(visibleRange(52 * 1000, 520, 52, 260_000, 5)).toEqual({ start: 995, end: 1015 });
    expect(visibleRange(52 * 300, 520, 52, 260, 5)).toEqual({ start: 260, end: 260 });
    expect(visibleRange(0, 520, 52, 0)).toEqual({ start: 0, end: 0 });
    expect(visibleRange(-40, 100, 52, 10, 0)).toEqual({ start: 0, end: 2 });
  });
});

describe("findConflicts", () => {
  it("lists every concurrent value of a key with its author, the shown one first", () => {
    const base = A.from<any>({ status: "draft", nested: { k: 0 } }, { actor: "aa".repeat(16) });
    let ada = A.clone(base, { actor: "ad".repeat(16) });
    let bob = A.clone(base, { actor: "b0".repeat(16) });
    ada = A.change(ada, (d) => {
      d.status = "Ada's";
      d.nested.k = 1;
    });
    bob = A.change(bob, (d) => {
      d.status = "Bob's";
      d.nested.k = 2;
    });
    const merged = A.merge(ada, bob);
    const found = findConflicts(merged);
    expect(found.map((c) => c.path.join("/")).sort()).toEqual(["nested/k", "status"]);
    const status = found.find((c) => c.path[0] === "status")!;
    expect(status.values.map((v) => [v.value, v.author]).sort()).toEqual([
      ["Ada's", "adadadad"],
      ["Bob's", "b0b0b0b0"],
    ]);
    expect(status.values[0]!.winner).toBe(true);
    expect(status.values[0]!.value).toBe(merged.status);
    expect(status.values.filter((v) => v.winner)).toHaveLength(1);
    expect(findConflicts(base)).toEqual([]);
  });

  it("reads scalar strings and counters, and never looks inside them", () => {
    const base = A.from<any>({ s: new A.ImmutableString("x"), c: new A.Counter(1) }, { actor: "aa".repeat(16) });
    const ada = A.change(A.clone(base, { actor: "ad".repeat(16) }), (d) => {
      d.s = new A.ImmutableString("ada");
    });
    const bob = A.change(A.clone(base, { actor: "b0".repeat(16) }), (d) => {
      d.s = new A.ImmutableString("bob");
    });
    const merged = A.merge(ada, bob);
    const [c] = findConflicts(merged);
    expect(c!.path).toEqual(["s"]);
    expect(c!.values.map((v) => v.value)).toEqual(["bob", "ada"]);
    expect(String(merged.s)).toBe("bob");
    expect(compareOpIds("2@b0", "2@ad")).toBeGreaterThan(0);
    expect(compareOpIds("10@aa", "9@ff")).toBeGreaterThan(0);
  });
});

describe("labels", () => {
  it("names authors by actor, and formats times and sizes", () => {
    expect(authorOf("f615b269e7f745c39333abbf2d4b1c43")).toBe("f615b269");
    expect(actorOfOpId("12@abcdef")).toBe("abcdef");
    expect(actorOfOpId("_root")).toBe("");
    expect(formatTime(0)).toBe("unknown time");
    expect(formatTime(1_631_790_616)).toMatch(/^2021-09-1[56] \d\d:\d\d:16$/);
    expect(burstSummary({ changes: 1, ops: 3 } as any)).toBe("1 change · 3 ops");
  });
});
