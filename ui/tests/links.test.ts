import { describe, expect, it } from "vitest";
import { parseTandemLink } from "../src/model/tandemlink";
import { documentLinks } from "../src/ui/links";

describe("Copy link", () => {
  it("links a private document at the local server, without a fingerprint", () => {
    const l = documentLinks("notes 1", "http://127.0.0.1:7450/");
    expect(l.ndjson).toBe("http://127.0.0.1:7450/notes%201");
    expect(parseTandemLink(l.tandem)).toEqual({ url: "http://127.0.0.1:7450/notes%201", fingerprint: null });
  });

  it("links a document shared on the LAN at the LAN address, pinning the certificate", () => {
    const l = documentLinks("abc", "http://127.0.0.1:7450", { url: "https://192.168.1.20:40123/", fingerprint: "AB:CD" });
    expect(l.tandem).toBe("tandem://open?url=https%3A%2F%2F192.168.1.20%3A40123%2Fabc&fp=AB%3ACD");
    expect(l.ndjson).toBe("http://127.0.0.1:7450/abc");
  });
});
