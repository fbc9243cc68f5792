import { describe, expect, it } from "vitest";
import { ancestorsOf, buildTree, isWithin, parentOf, rebase, visibleRows } from "./tree-model.ts";

const names = (rows: ReturnType<typeof visibleRows>) => rows.map((r) => `${r.depth}:${r.node.path}`);

describe("file tree model", () => {
  it("nests files under implied folders, folders first, numeric-aware order", () => {
    const root = buildTree(["src/b.ts", "README.md", "src/a10.ts", "src/a2.ts", "docs/x/y.md"]);
    expect(names(visibleRows(root, new Set()))).toEqual(["1:docs", "1:src", "1:README.md"]);
    expect(names(visibleRows(root, new Set(["src", "docs"])))).toEqual([
      "1:docs",
      "2:docs/x",
      "1:src",
      "2:src/a2.ts",
      "2:src/a10.ts",
      "2:src/b.ts",
      "1:README.md",
    ]);
  });

  it("keeps empty folders created in the browser and reports positions for aria", () => {
    const root = buildTree(["a.txt"], ["new/inner"]);
    const rows = visibleRows(root, new Set(["new"]));
    expect(names(rows)).toEqual(["1:new", "2:new/inner", "1:a.txt"]);
    expect(rows[0]).toMatchObject({ position: 1, siblings: 2, parent: "" });
    expect(rows[1]).toMatchObject({ position: 1, siblings: 1, parent: "new" });
  });

  it("handles unicode names and thousands of paths quickly", () => {
    const paths = Array.from({ length: 5000 }, (_, i) => `pkg${i % 50}/dir${i % 7}/file-${i}.ts`);
    paths.push("données/été.md");
    const started = performance.now();
    const root = buildTree(paths);
    const rows = visibleRows(root, new Set(["données"]));
    expect(performance.now() - started).toBeLessThan(500);
    expect(rows.some((r) => r.node.path === "données/été.md")).toBe(true);
  });

  it("path helpers", () => {
    expect(parentOf("a/b/c.ts")).toBe("a/b");
    expect(parentOf("c.ts")).toBe("");
    expect(ancestorsOf("a/b/c.ts")).toEqual(["a", "a/b"]);
    expect(isWithin("a/b/c", "a/b")).toBe(true);
    expect(isWithin("a/bc", "a/b")).toBe(false);
    expect(rebase("a/b/c.ts", "a/b", "z")).toBe("z/c.ts");
    expect(rebase("a/bc.ts", "a/b", "z")).toBe("a/bc.ts");
  });
});
