import { describe, expect, it } from "vitest";
import { A } from "../src/automerge";
import { filterDocs, matchesFilter, sortDocs } from "../src/model/filter";
import { displayTitle, exportFileName, extractTitle, normalizeTitle } from "../src/model/title";

describe("titles", () => {
  it("extracts the first non-empty line of the root title", () => {
    expect(extractTitle(A.from<any>({ title: "  Groceries \nmore" }))).toBe("Groceries");
    expect(extractTitle(A.from<any>({ title: "\n\n  Second line" }))).toBe("Second line");
    expect(extractTitle(A.from<any>({ title: new A.ImmutableString("Fixed") }))).toBe("Fixed");
    expect(extractTitle(A.from<any>({ title: "   " }))).toBeNull();
    expect(extractTitle(A.from<any>({ title: 5 }))).toBeNull();
    expect(extractTitle(A.from<any>({ body: "x" }))).toBeNull();
    expect(extractTitle(null)).toBeNull();
  });

  it("clips long titles and shows Untitled for empty ones", () => {
    expect(normalizeTitle("x".repeat(500))!.length).toBe(120);
    expect(displayTitle(null)).toBe("Untitled");
    expect(displayTitle("")).toBe("Untitled");
    expect(displayTitle(" Plan ")).toBe("Plan");
  });

  it("makes safe export file names", () => {
    expect(exportFileName("A/B: notes?", "abc")).toBe("A B notes.automerge");
    expect(exportFileName(null, "abc123")).toBe("abc123.automerge");
    expect(exportFileName("///", "abc")).toBe("abc.automerge");
  });
});

describe("filter", () => {
  const docs = [
    { id: "aa11", title: "Meeting notes", updated: 3 },
    { id: "bb22", title: null, updated: 5 },
    { id: "cc33", title: "Shopping list", updated: 1 },
    { id: "dd44", title: "Notes on Rust", updated: 5 },
  ];

  it("matches all terms case-insensitively against title, or id prefix", () => {
    expect(matchesFilter(docs[0]!, "")).toBe(true);
    expect(matchesFilter(docs[0]!, "NOTES meet")).toBe(true);
    expect(matchesFilter(docs[0]!, "notes shop")).toBe(false);
    expect(matchesFilter(docs[1]!, "untitled")).toBe(true);
    expect(matchesFilter(docs[2]!, "cc")).toBe(true);
    expect(matchesFilter(docs[2]!, "33")).toBe(false);
  });

  it("sorts most recent first, stable by title", () => {
    expect(sortDocs(docs).map((d) => d.id)).toEqual(["dd44", "bb22", "aa11", "cc33"]);
    expect(filterDocs(docs, "notes").map((d) => d.id)).toEqual(["dd44", "aa11"]);
    expect(filterDocs(docs, "zzz")).toEqual([]);
  });
});
