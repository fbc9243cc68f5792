import { describe, expect, it } from "vitest";
import { formatBytes, formatMicroDollars, plural } from "./format.ts";

describe("dashboard formatting", () => {
  it("shows micro-dollars as money, never rounding a real cost down to zero", () => {
    expect(formatMicroDollars(0)).toBe("$0.00");
    expect(formatMicroDollars(1)).toBe("< $0.01");
    expect(formatMicroDollars(9_999)).toBe("< $0.01");
    expect(formatMicroDollars(10_000)).toBe("$0.01");
    expect(formatMicroDollars(1_234_567)).toBe("$1.23");
    expect(formatMicroDollars(1_234_567_890)).toBe("$1,234.57");
  });

  it("sizes and counts", () => {
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(1536)).toBe("1.5 KB");
    expect(formatBytes(2 * 1024 * 1024)).toBe("2 MB");
    expect(plural(1, "file")).toBe("1 file");
    expect(plural(5000, "file")).toBe("5,000 files");
  });
});
