import { strFromU8, unzipSync } from "fflate";
import { describe, expect, it } from "vitest";
import { filesFromInput, filterPicked, ignoredReason, type PickedFile } from "./folder-zip.ts";
import { zipFiles } from "./zip-files.ts";

const picked = (path: string, text = path): PickedFile => ({
  path,
  file: new File([text], path.split("/").pop()!),
});

describe("folder import in the browser", () => {
  it("skips what the server would skip, reporting each ignored folder once", () => {
    expect(ignoredReason("app/node_modules/x/index.js")).toBe("ignored folder (node_modules/)");
    expect(ignoredReason("app/.DS_Store")).toBe("ignored file (.DS_Store)");
    expect(ignoredReason("app/src/build.ts")).toBeNull();
    const { keep, skipped } = filterPicked([
      picked("app/src/a.ts"),
      picked("app/node_modules/a/index.js"),
      picked("app/node_modules/b/index.js"),
      picked("app/.git/HEAD"),
      picked("app/.DS_Store"),
    ]);
    expect(keep.map((f) => f.path)).toEqual(["app/src/a.ts"]);
    expect(skipped).toEqual([
      { path: "app/node_modules/", reason: "ignored folder (node_modules/)" },
      { path: "app/.git/", reason: "ignored folder (.git/)" },
      { path: "app/.DS_Store", reason: "ignored file (.DS_Store)" },
    ]);
  });

  it("uses the relative path of a folder pick", () => {
    const file = new File(["x"], "a.ts");
    Object.defineProperty(file, "webkitRelativePath", { value: "proj/src/a.ts" });
    expect(filesFromInput([file])[0]?.path).toBe("proj/src/a.ts");
    expect(filesFromInput([new File(["x"], "b.ts")])[0]?.path).toBe("b.ts");
  });

  it("zips the files with their paths, unicode included", async () => {
    const blob = await zipFiles([
      picked("proj/src/été.ts", "export {};\n"),
      picked("proj/README.md", "# hi\n"),
    ]);
    expect(blob.type).toBe("application/zip");
    const entries = unzipSync(new Uint8Array(await blob.arrayBuffer()));
    expect(Object.keys(entries).sort()).toEqual(["proj/README.md", "proj/src/été.ts"]);
    expect(strFromU8(entries["proj/src/été.ts"]!)).toBe("export {};\n");
  });

  it("refuses an empty pick with a readable message", async () => {
    await expect(zipFiles([])).rejects.toThrow("There are no files to import");
  });
});
