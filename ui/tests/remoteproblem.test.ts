import { describe, expect, it } from "vitest";
import { adviseOnProblem } from "../src/model/remoteproblem";

const base = { url: "https://team.example:7450/notes", doc_id: "notes", error: "boom" };

describe("adviseOnProblem", () => {
  it("offers to trust the certificate the server presented, showing its fingerprint", () => {
    const a = adviseOnProblem({ ...base, problem: { kind: "certificate", presented: "AB:CD" } });
    expect(a.message).toContain("AB:CD");
    expect(a.message).toContain("team.example:7450");
    expect(a.fixes[0]).toEqual({ kind: "trust-certificate", fingerprint: "AB:CD" });
  });

  it("asks for another token on 401 and 403, for the URL on 404, nothing to fix when deleted", () => {
    expect(adviseOnProblem({ ...base, problem: { kind: "unauthorized" } }).fixes[0]).toEqual({ kind: "edit-token" });
    expect(adviseOnProblem({ ...base, problem: { kind: "forbidden" } }).fixes[0]).toEqual({ kind: "edit-token" });
    const missing = adviseOnProblem({ ...base, problem: { kind: "not-found" } });
    expect(missing.message).toContain("“notes”");
    expect(missing.fixes[0]).toEqual({ kind: "edit-url" });
    expect(adviseOnProblem({ ...base, problem: { kind: "gone" } }).fixes).toEqual([]);
  });

  it("says what failed when the kind is unknown", () => {
    expect(adviseOnProblem({ ...base, problem: null }).message).toBe("boom");
    expect(adviseOnProblem({ ...base, problem: { kind: "unreachable" } }).message).toContain("Cannot reach team.example:7450: boom");
  });
});
