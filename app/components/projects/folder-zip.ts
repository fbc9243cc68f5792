/**
 * A dropped or picked folder, turned into a zip in the browser so it travels the same road as an
 * uploaded archive (one request, the server's limits and checks). Folders the server would skip anyway
 * (node_modules, .git, build output…) are left out here already, so they are never read or sent.
 */
import { DEFAULT_SKIP } from "#app/modules/projects/paths.ts";

/** Folder and file names skipped at any depth: the server's own import list (it applies it again anyway). */
export const IGNORED_FOLDERS: ReadonlySet<string> = new Set(DEFAULT_SKIP.folders);
export const IGNORED_FILES: ReadonlySet<string> = new Set(DEFAULT_SKIP.files);

/** Refuse to read more than this from a folder (the server's own archive limit is lower, compressed). */
export const MAX_FOLDER_BYTES = 200 * 1024 * 1024;
export const MAX_FOLDER_FILES = 5_000;

export type PickedFile = { path: string; file: File };
export type Skip = { path: string; reason: string };

/** Why a relative path is left out, or null to keep it. */
export function ignoredReason(path: string): string | null {
  const segments = path.split("/");
  const name = segments[segments.length - 1] ?? "";
  if (IGNORED_FILES.has(name)) return `ignored file (${name})`;
  const folder = segments.slice(0, -1).find((segment) => IGNORED_FOLDERS.has(segment));
  return folder ? `ignored folder (${folder}/)` : null;
}

/** Keep the files worth sending; report each ignored folder once (not its 30,000 files). */
export function filterPicked(files: PickedFile[]): { keep: PickedFile[]; skipped: Skip[] } {
  const keep: PickedFile[] = [];
  const skipped = new Map<string, string>();
  for (const picked of files) {
    const reason = ignoredReason(picked.path);
    if (!reason) {
      keep.push(picked);
      continue;
    }
    const segments = picked.path.split("/");
    const at = segments.findIndex((segment) => IGNORED_FOLDERS.has(segment));
    const key = at >= 0 && at < segments.length - 1 ? `${segments.slice(0, at + 1).join("/")}/` : picked.path;
    skipped.set(key, reason);
  }
  return { keep, skipped: [...skipped].map(([path, reason]) => ({ path, reason })) };
}

/** Files of an <input type="file" webkitdirectory> (or a multi-file pick), with their relative paths. */
export function filesFromInput(list: FileList | readonly File[]): PickedFile[] {
  return Array.from(list, (file) => ({ path: file.webkitRelativePath || file.name, file }));
}

function readAllEntries(directory: FileSystemDirectoryEntry): Promise<FileSystemEntry[]> {
  const reader = directory.createReader();
  const all: FileSystemEntry[] = [];
  // readEntries answers in batches (100 in Chromium) until it answers an empty one.
  return new Promise((resolve, reject) => {
    const next = () =>
      reader.readEntries((batch) => {
        if (batch.length === 0) resolve(all);
        else {
          all.push(...batch);
          next();
        }
      }, reject);
    next();
  });
}

function fileOf(entry: FileSystemFileEntry): Promise<File> {
  return new Promise((resolve, reject) => entry.file(resolve, reject));
}

/**
 * What was dropped: a single .zip (sent as is) or files and folders (walked, ignored folders pruned
 * without being entered). Must be called synchronously inside the drop handler: the browser empties
 * the DataTransfer once the event returns.
 */
export function readDrop(
  dataTransfer: DataTransfer,
): Promise<{ zip: File } | { files: PickedFile[]; skipped: Skip[] }> {
  const entries = Array.from(dataTransfer.items)
    .filter((item) => item.kind === "file")
    .map((item) => ({ entry: item.webkitGetAsEntry?.() ?? null, file: item.getAsFile() }));
  const only = entries.length === 1 ? entries[0] : undefined;
  if (only?.file && !only.entry?.isDirectory && /\.zip$/i.test(only.file.name)) {
    return Promise.resolve({ zip: only.file });
  }
  return (async () => {
    const files: PickedFile[] = [];
    const skipped: Skip[] = [];
    const walk = async (entry: FileSystemEntry, prefix: string) => {
      const path = prefix ? `${prefix}/${entry.name}` : entry.name;
      if (entry.isDirectory) {
        if (IGNORED_FOLDERS.has(entry.name)) {
          skipped.push({ path: `${path}/`, reason: `ignored folder (${entry.name}/)` });
          return;
        }
        for (const child of await readAllEntries(entry as FileSystemDirectoryEntry)) await walk(child, path);
      } else if (entry.isFile) {
        if (IGNORED_FILES.has(entry.name)) skipped.push({ path, reason: `ignored file (${entry.name})` });
        else files.push({ path, file: await fileOf(entry as FileSystemFileEntry) });
      }
    };
    for (const { entry, file } of entries) {
      if (entry) await walk(entry, "");
      else if (file) files.push({ path: file.name, file });
    }
    return { files, skipped };
  })();
}
