import { describe, expect, it } from "vitest";
import { base64ToBytes, bytesToBase64 } from "../src/model/base64";
import { encodeSyncLine, parseLine } from "../src/model/protocol";

describe("base64", () => {
  it("round-trips small and large binary data", () => {
    const big = new Uint8Array(70_000).map((_, i) => (i * 31) % 256);
    for (const bytes of [new Uint8Array(), new Uint8Array([0, 255, 1]), big]) {
      expect(base64ToBytes(bytesToBase64(bytes))).toEqual(bytes);
    }
    expect(bytesToBase64(new TextEncoder().encode("hi!"))).toBe("aGkh");
  });
});

describe("ndjson lines", () => {
  it("encodes sync messages as single JSON lines", () => {
    const line = encodeSyncLine(new Uint8Array([1, 2, 3]));
    expect(line).not.toContain("\n");
    expect(JSON.parse(line)).toEqual({ event: "sync", data: "AQID" });
    expect(parseLine(line)).toEqual({ event: "sync", data: new Uint8Array([1, 2, 3]) });
  });

  it("parses server events and tolerates unknown ones", () => {
    expect(parseLine('{"event":"error","message":"boom"}')).toEqual({ event: "error", message: "boom" });
    expect(parseLine('{"event":"ping"}')).toEqual({ event: "ping" });
    expect(parseLine('{"event":"ready","heads":["ab"]}')).toEqual({ event: "ready", heads: ["ab"] });
    expect(parseLine('{"event":"ready","heads":[1]}')).toBeNull();
    expect(parseLine('{"event":"ready"}')).toBeNull();
    expect(parseLine('{"event":"hello","v":2}')).toEqual({ event: "unknown", name: "hello" });
    expect(parseLine("garbage")).toBeNull();
    expect(parseLine('{"event":"sync","data":5}')).toBeNull();
    expect(parseLine('{"event":"sync","data":"!!"}')).toBeNull();
    expect(parseLine("null")).toBeNull();
  });
});
