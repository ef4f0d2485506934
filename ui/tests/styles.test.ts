// The style sheets keep every colour in a token: a literal colour appears only
// where a custom property is defined in styles/tokens.css, and each colour
// token is defined once for the light theme and once for the dark one.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const dir = join(__dirname, "../src/styles");
const files = readdirSync(dir).filter((f) => f.endsWith(".css"));
const COLOUR = /#[0-9a-fA-F]{3,8}\b|\b(?:rgba?|hsla?|hwb|lab|lch|oklab|oklch)\(|:\s*(?:white|black)\b/;

/** `--name: value` definitions in a block of CSS. */
function definitions(css: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of css.matchAll(/(--[\w-]+)\s*:\s*([^;]+);/g)) out.set(m[1]!, m[2]!.trim());
  return out;
}

describe("style sheets", () => {
  it("are split into files of at most 500 lines", () => {
    expect(files.length).toBeGreaterThan(1);
    for (const f of files) expect(readFileSync(join(dir, f), "utf8").split("\n").length, f).toBeLessThanOrEqual(500);
  });

  it("use literal colours only in token definitions", () => {
    const offenders: string[] = [];
    for (const f of files) {
      readFileSync(join(dir, f), "utf8")
        .split("\n")
        .forEach((line, i) => {
          const isToken = f === "tokens.css" && /^\s*--[\w-]+\s*:/.test(line);
          if (!isToken && COLOUR.test(line.replace(/\/\*.*?\*\//g, ""))) offenders.push(`${f}:${i + 1}: ${line.trim()}`);
        });
    }
    expect(offenders).toEqual([]);
  });

  it("leave index.html's first-paint style to the tokens too", () => {
    const html = readFileSync(join(__dirname, "../index.html"), "utf8");
    const style = /<style>([\s\S]*?)<\/style>/.exec(html)?.[1] ?? "";
    expect(style).toContain("var(--bg)");
    expect(COLOUR.test(style)).toBe(false);
    expect(html).toContain('href="./src/styles/tokens.css"');
  });

  it("define every colour token for the light and the dark theme", () => {
    const css = readFileSync(join(dir, "tokens.css"), "utf8");
    const dark = css.indexOf("@media (prefers-color-scheme: dark)");
    expect(dark).toBeGreaterThan(0);
    const light = definitions(css.slice(0, dark));
    const darkDefs = definitions(css.slice(dark));
    const colourTokens = [...light].filter(([, v]) => COLOUR.test(`: ${v}`)).map(([k]) => k);
    expect(colourTokens.length).toBeGreaterThan(20);
    expect(colourTokens.filter((k) => !darkDefs.has(k))).toEqual([]);
  });

  it("use only defined tokens", () => {
    const defined = definitions(readFileSync(join(dir, "tokens.css"), "utf8"));
    const all = files.map((f) => readFileSync(join(dir, f), "utf8")).join("\n");
    const local = definitions(all); // e.g. --who, set per element
    const used = new Set([...all.matchAll(/var\((--[\w-]+)/g)].map((m) => m[1]!));
    const missing = [...used].filter((k) => !defined.has(k) && !local.has(k) && k !== "--who");
    expect(missing).toEqual([]);
  });
});
