// The UI's layers point one way: model (pure) → state (the store: signals and
// actions) → ui (views). Neither model nor state imports a view or touches the
// DOM; that is what lets the views be rebuilt and the store be read alone.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const src = join(__dirname, "../src");
const files = (dir: string) =>
  readdirSync(join(src, dir))
    .filter((f) => f.endsWith(".ts"))
    .map((f) => ({ name: `${dir}/${f}`, text: readFileSync(join(src, dir, f), "utf8") }));
const imports = (text: string) => [...text.matchAll(/^import [^;]*? from "([^"]+)";/gms)].map((m) => m[1]!);
const DOM = /\bdocument\.|\bHTML[A-Za-z]*Element\b|\bwindow\.|\blocation\.|\bh\(/;

describe("layers", () => {
  it("model imports neither state nor ui, and has no DOM", () => {
    for (const f of files("model")) {
      expect(
        imports(f.text).filter((i) => /(^|\/)(state|ui)\//.test(i) || i.startsWith("../ui") || i.startsWith("../state")),
        f.name,
      ).toEqual([]);
      expect(DOM.test(f.text.replace(/\/\/.*$|\/\*[\s\S]*?\*\//gm, "")), f.name).toBe(false);
    }
  });

  it("state imports no view and has no DOM", () => {
    const state = files("state");
    expect(state.map((f) => f.name)).toContain("state/store.ts");
    for (const f of state) {
      expect(
        imports(f.text).filter((i) => i.startsWith("../ui")),
        f.name,
      ).toEqual([]);
      expect(DOM.test(f.text.replace(/\/\/.*$|\/\*[\s\S]*?\*\//gm, "")), f.name).toBe(false);
    }
  });

  it("keeps every source file under about 500 lines", () => {
    const all = ["backend", "model", "state", "ui", "ui/views"].flatMap(files);
    const long = all.filter((f) => f.text.split("\n").length > 520).map((f) => f.name);
    expect(long).toEqual([]);
  });
});
