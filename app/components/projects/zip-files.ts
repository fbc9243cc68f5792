import { type Zippable, zipSync } from "fflate";
import { MAX_FOLDER_BYTES, MAX_FOLDER_FILES, type PickedFile } from "./folder-zip.ts";

/*
 * Kept apart from folder-zip.ts so fflate is loaded only when a folder is actually imported
 * (import-panel.tsx imports this module dynamically), not with the project page.
 */

/**
 * Zip the files (DEFLATE). Throws a readable Error when the folder is too big to be worth reading.
 * Runs on the main thread: fflate's async mode would spawn workers from blob: URLs, and a few thousand
 * source files compress in well under a second anyway.
 */
export async function zipFiles(files: PickedFile[]): Promise<Blob> {
  if (files.length === 0) throw new Error("There are no files to import in what you chose.");
  if (files.length > MAX_FOLDER_FILES) {
    throw new Error(
      `That folder holds ${files.length.toLocaleString("en-US")} files (after skipping node_modules, .git and build output); the limit is ${MAX_FOLDER_FILES.toLocaleString("en-US")}.`,
    );
  }
  const total = files.reduce((sum, f) => sum + f.file.size, 0);
  if (total > MAX_FOLDER_BYTES) {
    throw new Error(`That folder holds ${Math.round(total / 1024 / 1024)} MB of files; the limit is 200 MB.`);
  }
  const tree: Zippable = {};
  for (const { path, file } of files) {
    tree[path] = [new Uint8Array(await file.arrayBuffer()), { level: 6 }];
  }
  const bytes = zipSync(tree);
  return new Blob([bytes as Uint8Array<ArrayBuffer>], { type: "application/zip" });
}
