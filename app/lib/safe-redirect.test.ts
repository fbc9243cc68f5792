import { describe, expect, it } from "vitest";
import { safeRedirect } from "./safe-redirect.ts";

describe("safeRedirect", () => {
  it("keeps paths on this site", () => {
    expect(safeRedirect("/settings/api-keys?x=1")).toBe("/settings/api-keys?x=1");
  });
  it.each([
    "//evil.example",
    "https://evil.example",
    "/\\evil.example",
    "javascript:alert(1)",
    "",
    null,
    undefined,
  ])("refuses %s", (target) => {
    expect(safeRedirect(target)).toBe("/");
  });
});
