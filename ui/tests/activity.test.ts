import { describe, expect, it } from "vitest";
import { ago, latest, sparkline } from "../src/model/activity";

describe("sync activity", () => {
  it("draws a sparkline scaled to the largest value, zero at the bottom", () => {
    expect(sparkline([0, 5, 10], 100, 20)).toBe("0.0,20.0 50.0,10.0 100.0,0.0");
    expect(sparkline([], 100, 20)).toBe("");
    expect(sparkline([0, 0], 10, 10)).toBe("0.0,10.0 10.0,10.0");
  });

  it("says how long ago, and zero rates when there are none", () => {
    expect(ago(null, 1000)).toBe("never");
    expect(ago(9_000, 10_000)).toBe("just now");
    expect(ago(0 + 1, 30_001)).toBe("30 s ago");
    expect(ago(1, 1 + 180_000)).toBe("3 min ago");
    expect(latest([]).changes_per_s).toBe(0);
  });
});
