import { describe, expect, it } from "vitest";
import { adoptDefaultName, myProfile } from "../src/state/presence";

describe("the default profile name", () => {
  it("becomes the OS (or token) user's name, but never replaces a name the user chose", () => {
    expect(myProfile().name).toMatch(/^Guest [0-9a-f]{4}$/);
    adoptDefaultName("");
    expect(myProfile().name).toMatch(/^Guest /);
    adoptDefaultName("ada");
    expect(myProfile().name).toBe("ada");
    adoptDefaultName("root");
    expect(myProfile().name).toBe("ada");
  });
});
