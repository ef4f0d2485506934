import { describe, expect, it } from "vitest";
import { A } from "../src/automerge";
import { getAt, isPrefix, parsePath, pathLabel, pathsEqual, pathToString, resolvePath } from "../src/model/path";

describe("paths", () => {
  it("formats JSON-pointer-like strings with escaping", () => {
    expect(pathToString([])).toBe("");
    expect(pathToString(["body"])).toBe("/body");
    expect(pathToString(["items", 0, "a/b", "t~x"])).toBe("/items/0/a~1b/t~0x");
  });

  it("parses back and round-trips", () => {
    expect(parsePath("")).toEqual([]);
    expect(parsePath("/")).toEqual([]);
    expect(parsePath("/items/0/a~1b/t~0x")).toEqual(["items", "0", "a/b", "t~x"]);
    expect(parsePath("/~01")).toEqual(["~1"]);
    expect(() => parsePath("body")).toThrow();
    const p = ["x", "~/", "y"];
    expect(parsePath(pathToString(p))).toEqual(p);
  });

  it("resolves numeric segments against a document", () => {
    const doc = A.from<any>({ items: [{ name: "a" }, { name: "b" }], "0": { x: 1 } });
    expect(resolvePath(doc, ["items", "1", "name"])).toEqual(["items", 1, "name"]);
    expect(resolvePath(doc, ["0", "x"])).toEqual(["0", "x"]);
    expect(resolvePath(doc, ["items", "2"])).toBeNull();
    expect(resolvePath(doc, ["items", "01"])).toBeNull();
    expect(resolvePath(doc, ["nope"])).toBeNull();
    expect(getAt(doc, ["items", 1, "name"])).toBe("b");
    expect(getAt(doc, ["items", 5, "name"])).toBeUndefined();
  });

  it("compares paths", () => {
    expect(pathsEqual(["a", 0], ["a", 0])).toBe(true);
    expect(pathsEqual(["a", 0], ["a", "0"])).toBe(false);
    expect(isPrefix(["a"], ["a", 0])).toBe(true);
    expect(isPrefix([], ["a"])).toBe(true);
    expect(isPrefix(["a", 1], ["a", 0])).toBe(false);
    expect(pathLabel([])).toBe("document");
    expect(pathLabel(["items", 0])).toBe("items › 0");
  });
});
