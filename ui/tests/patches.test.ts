import { describe, expect, it } from "vitest";
import { A } from "../src/automerge";
import { isTextOnlyChange } from "../src/model/patches";

function patchesOf(doc: A.Doc<any>, fn: (d: any) => void): A.Patch[] {
  const before = A.getHeads(doc);
  const after = A.change(A.clone(doc), fn);
  return A.diff(after, before, A.getHeads(after));
}

describe("isTextOnlyChange", () => {
  const doc = A.from<any>({ title: "T", body: "Hello", items: ["x"], n: 1 });
  const editors = [["title"], ["body"]];

  it("is true for splices/deletes inside bound text objects", () => {
    expect(
      isTextOnlyChange(
        patchesOf(doc, (d) => A.splice(d, ["body"], 5, 0, " world")),
        editors,
      ),
    ).toBe(true);
    expect(
      isTextOnlyChange(
        patchesOf(doc, (d) => A.splice(d, ["body"], 0, 2)),
        editors,
      ),
    ).toBe(true);
    expect(
      isTextOnlyChange(
        patchesOf(doc, (d) => {
          A.splice(d, ["body"], 0, 0, "a");
          A.splice(d, ["title"], 0, 0, "b");
        }),
        editors,
      ),
    ).toBe(true);
  });

  it("is false for structural or scalar changes, or text without an editor", () => {
    expect(
      isTextOnlyChange(
        patchesOf(doc, (d) => (d.n = 2)),
        editors,
      ),
    ).toBe(false);
    expect(
      isTextOnlyChange(
        patchesOf(doc, (d) => delete d.body),
        editors,
      ),
    ).toBe(false);
    expect(
      isTextOnlyChange(
        patchesOf(doc, (d) => A.splice(d, ["items", 0], 0, 0, "y")),
        editors,
      ),
    ).toBe(false);
    expect(
      isTextOnlyChange(
        patchesOf(doc, (d) => (d.body = "replaced")),
        editors,
      ),
    ).toBe(false);
  });
});
