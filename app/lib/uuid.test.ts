import { describe, expect, it } from "vitest";
import { isUuid } from "./use-case.ts";
import { uuidv7 } from "./uuid.ts";

describe("uuidv7", () => {
  it("is a valid version 7 UUID whose first 48 bits are the time, so ids sort by creation", () => {
    const id = uuidv7(Date.UTC(2026, 10, 29, 12));
    expect(isUuid(id)).toBe(true);
    expect(id[14]).toBe("7");
    expect(["8", "9", "a", "b"]).toContain(id[19]);
    expect(Number.parseInt(id.replace(/-/g, "").slice(0, 12), 16)).toBe(Date.UTC(2026, 10, 29, 12));
    const ids = [uuidv7(1000), uuidv7(2000), uuidv7(3000)];
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(Array.from({ length: 1000 }, () => uuidv7())).size).toBe(1000);
  });
});
