/**
 * `agentry files push|pull`: keep a local folder and a project's files in step.
 *
 * The project's side is read in two requests (the file list with versions, and the export zip with the
 * text contents), so only changed files cost a request. What was last synced is recorded in
 * `<dir>/.agentry/sync.json` (per path: the version and the sha256 of the content), which lets both
 * directions tell "changed here" from "changed there":
 *
 * - push sends each changed file with `baseVersion` = the version it was last synced at (the current one
 *   when the folder was never synced with this project), so a file edited in the project since then is a
 *   conflict (409), not silently overwritten; `--force` pushes over it. `--delete` removes project files
 *   that are missing locally (ignored or skipped local files never count as missing).
 * - pull writes new files and files that are unchanged locally since the last sync; a local file that
 *   differs from the project and was changed here (or was never synced) is a conflict and is left alone
 *   unless `--force`. Pull never deletes local files.
 *
 * Both skip what an import skips (node_modules/, .git/, build output… see DEFAULT_SKIP in
 * app/modules/projects/paths.ts), symlinks, binary files (projects keep no bytes for them) and files over
 * 2 MB, and report them.
 */
import { createHash } from "node:crypto";
import { lstat, mkdir, readdir, readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { strFromU8, unzipSync } from "fflate";
import { DEFAULT_SKIP, tryNormalizeProjectPath } from "#app/modules/projects/paths.ts";
import { MAX_FILE_BYTES } from "#app/modules/projects/projects.types.ts";
import type { Api } from "./api.ts";
import { CliError } from "./errors.ts";

export const STATE_DIR = ".agentry";
const STATE_FILE = "sync.json";
const CONCURRENCY = 8;

export type SyncSummary = {
  projectId: string;
  dir: string;
  created: string[];
  updated: string[];
  unchanged: string[];
  deleted: string[];
  /** Not synced, with why (ignored folders are reported once, as `node_modules/`). */
  skipped: Array<{ path: string; reason: string }>;
  /** Changed on both sides (or changed there, for push): left alone; `--force` overrides. */
  conflicts: Array<{ path: string; reason: string }>;
  /** push without --delete: project files missing locally. */
  remoteOnly: string[];
};

type SyncState = { projectId: string; files: Record<string, { version: number; sha256: string }> };

const sha256 = (data: Uint8Array | string) => createHash("sha256").update(data).digest("hex");

function emptySummary(projectId: string, dir: string): SyncSummary {
  return {
    projectId,
    dir,
    created: [],
    updated: [],
    unchanged: [],
    deleted: [],
    skipped: [],
    conflicts: [],
    remoteOnly: [],
  };
}

async function readState(dir: string, projectId: string): Promise<SyncState> {
  try {
    const raw = JSON.parse(await readFile(path.join(dir, STATE_DIR, STATE_FILE), "utf8")) as SyncState;
    if (raw && raw.projectId === projectId && raw.files && typeof raw.files === "object") return raw;
  } catch {
    // Missing or unreadable: as if never synced.
  }
  return { projectId, files: {} };
}

async function writeState(dir: string, state: SyncState): Promise<void> {
  const folder = path.join(dir, STATE_DIR);
  await mkdir(folder, { recursive: true });
  const file = path.join(folder, STATE_FILE);
  const tmp = `${file}.tmp`;
  const sorted = Object.fromEntries(Object.entries(state.files).sort(([a], [b]) => a.localeCompare(b)));
  await writeFile(tmp, `${JSON.stringify({ projectId: state.projectId, files: sorted }, null, 2)}\n`);
  await rename(tmp, file);
}

type LocalFile = { path: string; content: string; sha256: string };

const SKIP_FOLDERS = new Set<string>([...DEFAULT_SKIP.folders, STATE_DIR]);
const SKIP_FILES = new Set<string>(DEFAULT_SKIP.files);
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Text content, or why the bytes are not a text file the project can hold. */
function asText(bytes: Uint8Array): { text: string } | { reason: string } {
  if (bytes.byteLength > MAX_FILE_BYTES) return { reason: "larger than 2 MB" };
  if (bytes.subarray(0, 8192).includes(0)) return { reason: "binary" };
  try {
    return { text: utf8.decode(bytes) };
  } catch {
    return { reason: "binary (not UTF-8)" };
  }
}

/** The text files under `dir`, by project path; what was skipped, with why. */
export async function scanLocal(
  dir: string,
): Promise<{ files: Map<string, LocalFile>; skipped: SyncSummary["skipped"] }> {
  const files = new Map<string, LocalFile>();
  const skipped: SyncSummary["skipped"] = [];
  const ignored = new Set<string>();
  async function walk(abs: string, rel: string): Promise<void> {
    const entries = await readdir(abs, { withFileTypes: true });
    entries.sort((a, b) => a.name.localeCompare(b.name));
    for (const entry of entries) {
      const relPath = rel ? `${rel}/${entry.name}` : entry.name;
      const absPath = path.join(abs, entry.name);
      if (entry.isDirectory()) {
        if (SKIP_FOLDERS.has(entry.name)) {
          if (entry.name !== STATE_DIR && !ignored.has(entry.name)) {
            ignored.add(entry.name);
            skipped.push({ path: `${entry.name}/`, reason: "ignored folder" });
          }
          continue;
        }
        await walk(absPath, relPath);
      } else if (entry.isSymbolicLink()) {
        skipped.push({ path: relPath, reason: "symlink" });
      } else if (entry.isFile()) {
        if (SKIP_FILES.has(entry.name)) continue;
        const projectPath = tryNormalizeProjectPath(relPath);
        if (!projectPath) {
          skipped.push({ path: relPath, reason: "unsafe path" });
          continue;
        }
        const bytes = await readFile(absPath);
        const text = asText(bytes);
        if ("reason" in text) {
          skipped.push({ path: projectPath, reason: text.reason });
          continue;
        }
        files.set(projectPath, { path: projectPath, content: text.text, sha256: sha256(bytes) });
      }
    }
  }
  await walk(dir, "");
  return { files, skipped };
}

type RemoteFile = { path: string; version: number; isBinary: boolean; content: string | null };

/** The project's files with their versions and (text files) contents. */
async function readRemote(api: Api, projectId: string): Promise<Map<string, RemoteFile>> {
  const [{ files }, zipRes] = await Promise.all([
    api.trpc.projects.listFiles.query({ id: projectId }),
    api.rest(`/projects/${encodeURIComponent(projectId)}/export`),
  ]);
  const zip = unzipSync(new Uint8Array(await zipRes.arrayBuffer()));
  const out = new Map<string, RemoteFile>();
  for (const file of files) {
    const bytes = zip[file.path];
    out.set(file.path, {
      path: file.path,
      version: file.version,
      isBinary: file.isBinary,
      content: bytes ? strFromU8(bytes) : null,
    });
  }
  return out;
}

/** A file listed but missing from the export (changed in between): read it alone. */
async function contentOf(api: Api, projectId: string, file: RemoteFile): Promise<RemoteFile> {
  if (file.content !== null || file.isBinary) return file;
  const read = await api.trpc.projects.readFile.query({ id: projectId, path: file.path });
  return { ...file, version: read.version, content: read.content };
}

/** Runs `task` over `items`, `limit` at a time. */
async function pool<T>(items: T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await task(item);
    }
  });
  await Promise.all(workers);
}

/** Retries a call the rate limiter refused, after the delay it names (3 tries). */
async function withRateLimitRetry<T>(
  call: () => Promise<T>,
  toCli: (error: unknown) => CliError,
): Promise<T> {
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await call();
    } catch (error) {
      const cli = toCli(error);
      if (cli.code !== "TOO_MANY_REQUESTS" || attempt >= 3) throw cli;
      const seconds = Number(cli.details?.retryAfterSeconds ?? 5);
      await new Promise((resolve) => setTimeout(resolve, Math.min(60, Math.max(1, seconds)) * 1000));
    }
  }
}

export type SyncOptions = {
  api: Api;
  projectId: string;
  dir: string;
  force?: boolean;
  /** push only: delete project files missing locally. */
  delete?: boolean;
  /** Maps an error thrown by the API client to a CliError (see toCliError). */
  toCliError: (error: unknown) => CliError;
};

export async function pushFolder(options: SyncOptions): Promise<SyncSummary> {
  const { api, projectId, dir, force = false, toCliError } = options;
  const info = await lstat(dir).catch(() => null);
  if (!info?.isDirectory()) throw new CliError(`Not a folder: ${dir}`);
  const [local, remote, state] = await Promise.all([
    scanLocal(dir),
    readRemote(api, projectId),
    readState(dir, projectId),
  ]);
  const summary = emptySummary(projectId, dir);
  summary.skipped.push(...local.skipped);

  const saves: Array<{ file: LocalFile; baseVersion: number | null; kind: "created" | "updated" }> = [];
  for (const file of local.files.values()) {
    const there = remote.get(file.path);
    const record = state.files[file.path];
    if (!there) {
      saves.push({ file, baseVersion: null, kind: "created" });
      continue;
    }
    const current = await contentOf(api, projectId, there);
    if (current.content === file.content && !current.isBinary) {
      summary.unchanged.push(file.path);
      state.files[file.path] = { version: current.version, sha256: file.sha256 };
      continue;
    }
    if (!force && record && record.sha256 === file.sha256 && record.version !== current.version) {
      // Untouched here since the last sync, edited there: pushing would undo the project's change.
      summary.conflicts.push({
        path: file.path,
        reason: "changed in the project since the last sync (pull it)",
      });
      continue;
    }
    const baseVersion = force || !record ? current.version : record.version;
    saves.push({ file, baseVersion, kind: "updated" });
  }

  await pool(saves, CONCURRENCY, async ({ file, baseVersion, kind }) => {
    try {
      const saved = await withRateLimitRetry(
        () =>
          api.trpc.projects.saveFile.mutate({
            id: projectId,
            path: file.path,
            content: file.content,
            baseVersion,
          }),
        toCliError,
      );
      summary[kind].push(file.path);
      state.files[file.path] = { version: saved.version, sha256: file.sha256 };
    } catch (error) {
      const cli = toCliError(error);
      if (cli.code !== "CONFLICT") throw cli;
      summary.conflicts.push({
        path: file.path,
        reason:
          kind === "created"
            ? "created in the project meanwhile"
            : "changed in the project since the last sync (pull it, or push --force)",
      });
    }
  });

  const skippedHere = new Set(local.skipped.map((s) => s.path));
  const missing = [...remote.values()].filter(
    (file) => !local.files.has(file.path) && !skippedHere.has(file.path),
  );
  if (options.delete) {
    await pool(missing, CONCURRENCY, async (file) => {
      const record = state.files[file.path];
      if (!force && record && record.version !== file.version) {
        summary.conflicts.push({ path: file.path, reason: "deleted here but changed in the project" });
        return;
      }
      await withRateLimitRetry(
        () => api.trpc.projects.deleteFile.mutate({ id: projectId, path: file.path }),
        toCliError,
      );
      summary.deleted.push(file.path);
      delete state.files[file.path];
    });
  } else {
    summary.remoteOnly = missing.map((file) => file.path);
  }
  for (const key of Object.keys(state.files)) {
    if (!local.files.has(key) && !remote.has(key)) delete state.files[key];
  }
  await writeState(dir, state);
  return sortSummary(summary);
}

export async function pullFolder(options: Omit<SyncOptions, "delete">): Promise<SyncSummary> {
  const { api, projectId, dir, force = false } = options;
  const info = await lstat(dir).catch(() => null);
  if (info && !info.isDirectory()) throw new CliError(`Not a folder: ${dir}`);
  await mkdir(dir, { recursive: true });
  const root = path.resolve(dir);
  const [remote, state] = await Promise.all([readRemote(api, projectId), readState(dir, projectId)]);
  const summary = emptySummary(projectId, dir);

  for (const listed of remote.values()) {
    if (listed.isBinary) {
      summary.skipped.push({ path: listed.path, reason: "binary (the project keeps no content)" });
      continue;
    }
    const file = await contentOf(api, projectId, listed);
    const content = file.content ?? "";
    const target = path.resolve(root, ...file.path.split("/"));
    if (!target.startsWith(`${root}${path.sep}`)) {
      summary.skipped.push({ path: file.path, reason: "unsafe path" });
      continue;
    }
    const existing = await lstat(target).catch(() => null);
    const bytes = Buffer.from(content, "utf8");
    const record = { version: file.version, sha256: sha256(bytes) };
    if (!existing) {
      await mkdir(path.dirname(target), { recursive: true });
      await writeFile(target, bytes);
      summary.created.push(file.path);
      state.files[file.path] = record;
      continue;
    }
    if (!existing.isFile()) {
      summary.conflicts.push({ path: file.path, reason: "a folder or link of that name exists here" });
      continue;
    }
    const localBytes = await readFile(target);
    if (localBytes.equals(bytes)) {
      summary.unchanged.push(file.path);
      state.files[file.path] = record;
      continue;
    }
    const synced = state.files[file.path];
    if (!force && synced?.sha256 !== sha256(localBytes)) {
      summary.conflicts.push({
        path: file.path,
        reason: synced ? "changed here since the last sync" : "differs from the project and was never synced",
      });
      continue;
    }
    await writeFile(target, bytes);
    summary.updated.push(file.path);
    state.files[file.path] = record;
  }
  await writeState(dir, state);
  return sortSummary(summary);
}

function sortSummary(summary: SyncSummary): SyncSummary {
  for (const list of [
    summary.created,
    summary.updated,
    summary.unchanged,
    summary.deleted,
    summary.remoteOnly,
  ]) {
    list.sort();
  }
  summary.conflicts.sort((a, b) => a.path.localeCompare(b.path));
  return summary;
}
