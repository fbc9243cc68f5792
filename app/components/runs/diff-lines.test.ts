import { describe, expect, it } from "vitest";
import { parseFileDiff } from "./diff-lines.ts";

describe("parseFileDiff", () => {
  it("numbers the lines of each hunk on both sides", () => {
    const diff = [
      "===================================================================",
      "--- a/src/a.js\tversion 2",
      "+++ b/src/a.js\tworkspace",
      "@@ -2,1 +2,1 @@",
      "-  return a - b;",
      "+  return a + b;",
      "@@ -9,0 +10,2 @@",
      "+// one",
      "+// two",
      "@@ -20,2 +22,0 @@",
      "-gone 1",
      "-gone 2",
      "",
    ].join("\n");
    const hunks = parseFileDiff(diff);
    expect(hunks.map((h) => h.header)).toEqual(["@@ -2,1 +2,1 @@", "@@ -9,0 +10,2 @@", "@@ -20,2 +22,0 @@"]);
    expect(hunks[0]?.lines).toEqual([
      { kind: "removed", text: "  return a - b;", oldLine: 2, newLine: null },
      { kind: "added", text: "  return a + b;", oldLine: null, newLine: 2 },
    ]);
    // An insertion after line 9 of the old file: its lines are 10 and 11 of the new one.
    expect(hunks[1]?.lines.map((l) => [l.kind, l.newLine])).toEqual([
      ["added", 10],
      ["added", 11],
    ]);
    expect(hunks[2]?.lines.map((l) => [l.kind, l.oldLine])).toEqual([
      ["removed", 20],
      ["removed", 21],
    ]);
  });

  it("keeps context lines, marks a missing final newline, and reads a header without counts", () => {
    const diff = ["@@ -1 +1,2 @@", " same", "+last", "\\ No newline at end of file", ""].join("\n");
    const [hunk] = parseFileDiff(diff);
    expect(hunk?.lines).toEqual([
      { kind: "context", text: "same", oldLine: 1, newLine: 1 },
      { kind: "added", text: "last", oldLine: null, newLine: 2, noEol: true },
    ]);
    expect(parseFileDiff("Binary files a/x.png and b/x.png differ\n")).toEqual([]);
  });
});
