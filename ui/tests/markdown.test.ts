import { describe, expect, it } from "vitest";
import { openableUrl } from "../src/ui/markdown";

describe("openableUrl", () => {
  it("opens web and mail links only", () => {
    expect(openableUrl("https://example.org/a?b=1")).toBe("https://example.org/a?b=1");
    expect(openableUrl("<http://example.org>")).toBe("http://example.org/");
    expect(openableUrl("mailto:me@example.org")).toBe("mailto:me@example.org");
    expect(openableUrl("javascript:alert(1)")).toBeNull();
    expect(openableUrl("file:///etc/passwd")).toBeNull();
    expect(openableUrl("not a url")).toBeNull();
  });
});
