import { describe, expect, it } from "vitest";
import { buildTandemLink, isTandemLink, parseTandemLink } from "../src/model/tandemlink";

describe("tandem links", () => {
  it("builds the documented form", () => {
    expect(buildTandemLink("https://host:7450/id", "AB:CD")).toBe("tandem://open?url=https%3A%2F%2Fhost%3A7450%2Fid&fp=AB%3ACD");
    expect(buildTandemLink("http://127.0.0.1:7450/id")).toBe("tandem://open?url=http%3A%2F%2F127.0.0.1%3A7450%2Fid");
    expect(buildTandemLink("http://h/x", "  ")).toBe("tandem://open?url=http%3A%2F%2Fh%2Fx");
  });

  it("round-trips URLs with their own queries and fingerprints", () => {
    const url = "https://192.168.1.2:7450/4Nf8aXq?x=1&y=2#frag";
    expect(parseTandemLink(buildTandemLink(url, "AB:CD:EF"))).toEqual({ url, fingerprint: "AB:CD:EF" });
    expect(parseTandemLink(buildTandemLink(url))).toEqual({ url, fingerprint: null });
  });

  it("accepts what the Rust side accepts: spaces around, tandem:open, unencoded colons", () => {
    expect(parseTandemLink("  tandem:open?url=http://127.0.0.1:7450/x  ")).toEqual({
      url: "http://127.0.0.1:7450/x",
      fingerprint: null,
    });
    expect(parseTandemLink("TANDEM://open/?url=ws%3A%2F%2Fh%3A3030%2Fautomerge%3Aabc&fp=AB:CD").fingerprint).toBe("AB:CD");
  });

  it("says what is wrong with a bad link", () => {
    expect(isTandemLink("https://h/x")).toBe(false);
    expect(() => parseTandemLink("https://h/x")).toThrow(/Not a tandem/);
    expect(() => parseTandemLink("tandem://delete?url=http://h/x")).toThrow(/Unknown tandem:\/\/ action/);
    expect(() => parseTandemLink("tandem://open?fp=AB")).toThrow(/names no document/);
    expect(() => parseTandemLink("tandem://open?url=")).toThrow(/names no document/);
    expect(() => parseTandemLink("tandem://open?url=nonsense")).toThrow(/not a URL/);
    expect(() => parseTandemLink("tandem://open?url=file%3A%2F%2F%2Fetc%2Fpasswd")).toThrow(/not an http/);
  });
});
