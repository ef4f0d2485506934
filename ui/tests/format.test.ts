import { describe, expect, it } from "vitest";
import {
  bytesPreview,
  formatSize,
  formatUpdated,
  fromDatetimeLocal,
  parseNumberInput,
  summarize,
  toDatetimeLocal,
} from "../src/model/format";

describe("format helpers", () => {
  it("round-trips datetime-local values in local time", () => {
    const d = new Date(2024, 0, 31, 13, 5, 9, 120);
    expect(toDatetimeLocal(d)).toBe("2024-01-31T13:05:09.120");
    expect(fromDatetimeLocal("2024-01-31T13:05:09.120")!.getTime()).toBe(d.getTime());
    expect(toDatetimeLocal(new Date(2024, 0, 31, 13, 5))).toBe("2024-01-31T13:05:00");
    expect(fromDatetimeLocal("2024-01-31T13:05")!.getTime()).toBe(new Date(2024, 0, 31, 13, 5).getTime());
    expect(fromDatetimeLocal("")).toBeNull();
    expect(fromDatetimeLocal("yesterday")).toBeNull();
    expect(toDatetimeLocal(new Date(NaN))).toBe("");
  });

  it("summarises nodes and values", () => {
    expect(summarize({ kind: "map", path: [], objId: "_root", size: 0, entries: [] })).toBe("0 keys");
    expect(summarize({ kind: "list", path: [], objId: "x", size: 1, items: [{ kind: "null", path: [0] }] })).toBe("1 item");
    expect(bytesPreview(new Uint8Array([1, 2, 255]))).toBe("01 02 ff");
    expect(bytesPreview(new Uint8Array(20), 2)).toBe("00 00 … (20 bytes)");
    expect(bytesPreview(new Uint8Array())).toBe("(empty)");
    expect(parseNumberInput("1e3")).toBe(1000);
    expect(parseNumberInput("")).toBeNull();
    expect(parseNumberInput("abc")).toBeNull();
    expect(formatSize(512)).toBe("512 B");
    expect(formatSize(2048)).toBe("2.0 KB");
    expect(formatUpdated(1000, 1000 + 30_000)).toBe("just now");
    expect(formatUpdated(0, 5 * 60_000)).toBe("5 min ago");
    expect(formatUpdated(0, 3 * 3_600_000)).toBe("3 h ago");
  });
});
