/**
 * A run's ChangeSet: the workspace compared with the snapshot the run started from (per-file unified diffs,
 * split into hunks the user accepts or rejects), and the pure function that applies the accepted hunks.
 *
 * The workspace is read like the file tools read it (fs-safe.server.ts): links are never followed, special
 * files are left alone, and both are reported in `skipped`, as are ignored folders (node_modules, .git,
 * dist…) unless the project itself keeps files in them.
 */
import { createTwoFilesPatch, parsePatch, type StructuredPatchHunk } from "diff";
import { AppError } from "#app/lib/app-error.ts";
import { ancestorFolders, DEFAULT_SKIP, tryNormalizeProjectPath } from "#app/modules/projects/paths.ts";
import { MAX_FILE_BYTES } from "#app/modules/projects/projects.types.ts";
import {
  decodeText,
  readWorkspaceFile,
  realWorkspaceRoot,
  resolveWorkspacePath,
  walkWorkspace,
} from "./fs-safe.server.ts";
import type { BaseSnapshot } from "./workspace.server.ts";

export type ChangeSetHunkStatus = "pending" | "accepted" | "rejected";

/** One hunk, as stored in ChangeSet.files (the review updates status and comment). */
export type ChangeSetHunk = {
  /** 0-based position among the file's hunks. */
  index: number;
  /** `@@ -12,7 +12,9 @@` */
  header: string;
  status: ChangeSetHunkStatus;
  comment?: string;
};

export type ChangeSetFileStatus = "added" | "modified" | "deleted";

export type ChangeSetFile = {
  path: string;
  /** The version the run started from; null for an added file. */
  baseVersion: number | null;
  status: ChangeSetFileStatus;
  /** Binary on one side (or too large to diff): no hunks, it cannot be applied as text. */
  binary?: boolean;
  /** Larger than a project file may be: no hunks, it cannot be applied. */
  tooLarge?: boolean;
  hunks: ChangeSetHunk[];
  /** This file's unified diff (its hunks in order; "Binary files … differ" for a binary change). */
  diff: string;
  additions: number;
  deletions: number;
};

export type ChangeSetStats = {
  files: number;
  added: number;
  modified: number;
  deleted: number;
  binary: number;
  additions: number;
  deletions: number;
};

export type ComputedChangeSet = {
  /** Unified diff of the whole change (the files' diffs, by path). */
  diff: string;
  files: ChangeSetFile[];
  stats: ChangeSetStats;
  /** Workspace entries left out of the change, and why (links, special files, ignored folders…). */
  skipped: Array<{ path: string; reason: string }>;
};

/** How long one file's diff may compute before it becomes "replace everything" (jsdiff is O(N·D)). */
const DIFF_TIMEOUT_MS = 2_000;
const READ_LIMIT = 16 * 1024 * 1024;
const SKIPPED_FILE_NAMES: ReadonlySet<string> = new Set<string>(DEFAULT_SKIP.files);

function lineCount(text: string): number {
  if (text === "") return 0;
  const n = text.split("\n").length;
  return text.endsWith("\n") ? n - 1 : n;
}

/** One file's diff; a diff that runs out of time becomes a single hunk replacing every line. */
function fileDiff(
  path: string,
  status: ChangeSetFileStatus,
  oldText: string,
  newText: string,
  baseVersion: number | null,
): { diff: string; hunks: StructuredPatchHunk[] } {
  const oldName = status === "added" ? "/dev/null" : `a/${path}`;
  const newName = status === "deleted" ? "/dev/null" : `b/${path}`;
  const oldHeader = baseVersion === null ? "" : `version ${baseVersion}`;
  const newHeader = status === "deleted" ? "" : "workspace";
  let diff = createTwoFilesPatch(oldName, newName, oldText, newText, oldHeader, newHeader, {
    context: 3,
    timeout: DIFF_TIMEOUT_MS,
  });
  if (diff === undefined) {
    // No context at all: every old line out, every new line in. Still exact, still appliable.
    diff = createTwoFilesPatch(oldName, newName, oldText, newText, oldHeader, newHeader, {
      context: 0,
      timeout: DIFF_TIMEOUT_MS,
    });
  }
  if (diff === undefined) diff = replaceAllPatch(oldName, newName, oldText, newText, oldHeader, newHeader);
  const parsed = parsePatch(diff);
  return { diff, hunks: parsed[0]?.hunks ?? [] };
}

/** A diff replacing every line (one hunk): the fallback when jsdiff runs out of time. */
export function replaceAllPatch(
  oldName: string,
  newName: string,
  oldText: string,
  newText: string,
  oldHeader: string,
  newHeader: string,
): string {
  const side = (text: string, sign: "-" | "+") => {
    if (text === "") return [];
    const lines = text.split("\n");
    const noEol = !text.endsWith("\n");
    if (!noEol) lines.pop();
    const out = lines.map((l) => `${sign}${l}`);
    if (noEol) out.push("\\ No newline at end of file");
    return out;
  };
  const oldCount = lineCount(oldText);
  const newCount = lineCount(newText);
  const header = `@@ -${oldCount === 0 ? 0 : 1},${oldCount} +${newCount === 0 ? 0 : 1},${newCount} @@`;
  return [
    "===================================================================",
    `--- ${oldName}\t${oldHeader}`,
    `+++ ${newName}\t${newHeader}`,
    header,
    ...side(oldText, "-"),
    ...side(newText, "+"),
    "",
  ].join("\n");
}

function hunkHeader(h: StructuredPatchHunk): string {
  // parsePatch moved oldStart/newStart one up for empty ranges; the unified format counts from the line before.
  const oldStart = h.oldLines === 0 ? h.oldStart - 1 : h.oldStart;
  const newStart = h.newLines === 0 ? h.newStart - 1 : h.newStart;
  return `@@ -${oldStart},${h.oldLines} +${newStart},${h.newLines} @@`;
}

function countChanges(hunks: StructuredPatchHunk[]): { additions: number; deletions: number } {
  let additions = 0;
  let deletions = 0;
  for (const h of hunks)
    for (const line of h.lines) {
      if (line.startsWith("+")) additions += 1;
      else if (line.startsWith("-")) deletions += 1;
    }
  return { additions, deletions };
}

function textFile(
  path: string,
  status: ChangeSetFileStatus,
  oldText: string,
  newText: string,
  baseVersion: number | null,
): ChangeSetFile {
  const { diff, hunks } = fileDiff(path, status, oldText, newText, baseVersion);
  return {
    path,
    baseVersion,
    status,
    hunks: hunks.map((h, index) => ({ index, header: hunkHeader(h), status: "pending" })),
    diff,
    ...countChanges(hunks),
  };
}

function binaryFile(
  path: string,
  status: ChangeSetFileStatus,
  baseVersion: number | null,
  flags: { binary?: boolean; tooLarge?: boolean },
): ChangeSetFile {
  const oldName = status === "added" ? "/dev/null" : `a/${path}`;
  const newName = status === "deleted" ? "/dev/null" : `b/${path}`;
  const why = flags.tooLarge ? " (too large to diff)" : "";
  return {
    path,
    baseVersion,
    status,
    ...(flags.binary ? { binary: true } : {}),
    ...(flags.tooLarge ? { tooLarge: true } : {}),
    hunks: [],
    diff: `Binary files ${oldName} and ${newName} differ${why}\n`,
    additions: 0,
    deletions: 0,
  };
}

/**
 * Compare the workspace `dir` with `base` (the snapshot materializeWorkspace returned). Unchanged files
 * are left out; every hunk starts "pending". Binary files and files over `maxFileBytes` (default the
 * project's 2 MiB) are flagged and get no hunks. A binary base file that is absent from the workspace was
 * never written there (its bytes are not stored), so it does not count as deleted.
 */
export async function computeChangeSet(input: {
  base: BaseSnapshot;
  dir: string;
  maxFileBytes?: number;
}): Promise<ComputedChangeSet> {
  const maxFileBytes = input.maxFileBytes ?? MAX_FILE_BYTES;
  const root = await realWorkspaceRoot(input.dir);
  const keepFolders = new Set<string>();
  for (const path of input.base.keys()) for (const folder of ancestorFolders(path)) keepFolders.add(folder);

  const start = await resolveWorkspacePath(root, ".", { allowRoot: true });
  const walk = await walkWorkspace(root, start, { keepFolders });
  const skipped: ComputedChangeSet["skipped"] = [];
  if (walk.truncated)
    skipped.push({ path: ".", reason: "too many entries: the rest of the workspace was not compared" });

  const files: ChangeSetFile[] = [];
  const seen = new Set<string>();
  for (const entry of walk.entries) {
    if (entry.kind === "dir") {
      if (entry.ignored) skipped.push({ path: `${entry.rel}/`, reason: "ignored folder" });
      continue;
    }
    const baseFile = input.base.get(entry.rel);
    if (baseFile) seen.add(entry.rel);
    if (entry.kind === "symlink") {
      skipped.push({ path: entry.rel, reason: "symbolic link (not followed; a project cannot hold links)" });
      continue;
    }
    if (entry.kind === "other") {
      skipped.push({ path: entry.rel, reason: "special file (pipe, socket or device)" });
      continue;
    }
    if (!baseFile) {
      if (tryNormalizeProjectPath(entry.rel) !== entry.rel) {
        skipped.push({ path: entry.rel, reason: "its name cannot be a project path" });
        continue;
      }
      const name = entry.rel.slice(entry.rel.lastIndexOf("/") + 1);
      if (SKIPPED_FILE_NAMES.has(name)) {
        skipped.push({ path: entry.rel, reason: "ignored file" });
        continue;
      }
    }
    const status: ChangeSetFileStatus = baseFile ? "modified" : "added";
    const baseVersion = baseFile?.version ?? null;
    if (entry.size > maxFileBytes) {
      files.push(binaryFile(entry.rel, status, baseVersion, { tooLarge: true }));
      continue;
    }
    const resolved = await resolveWorkspacePath(root, entry.rel);
    if (!resolved.stat?.isFile()) continue;
    const bytes = await readWorkspaceFile(root, resolved, Math.min(maxFileBytes, READ_LIMIT));
    const text = decodeText(bytes);
    if (baseFile?.binary || text === null) {
      files.push(binaryFile(entry.rel, status, baseVersion, { binary: true }));
      continue;
    }
    if (baseFile && baseFile.content === text) continue;
    files.push(textFile(entry.rel, status, baseFile?.content ?? "", text, baseVersion));
  }
  for (const [path, baseFile] of input.base) {
    if (seen.has(path) || baseFile.binary) continue;
    files.push(textFile(path, "deleted", baseFile.content, "", baseFile.version));
  }
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));

  const stats: ChangeSetStats = {
    files: files.length,
    added: files.filter((f) => f.status === "added").length,
    modified: files.filter((f) => f.status === "modified").length,
    deleted: files.filter((f) => f.status === "deleted").length,
    binary: files.filter((f) => f.binary || f.tooLarge).length,
    additions: files.reduce((n, f) => n + f.additions, 0),
    deletions: files.reduce((n, f) => n + f.deletions, 0),
  };
  return { diff: files.map((f) => f.diff).join(""), files, stats, skipped };
}

// ─── Applying hunks ──────────────────────────────────────────────────────────

/** Lines with their terminators ("a\n", "b\r\n", and a last line that may have none). */
function linesOf(text: string): string[] {
  if (text === "") return [];
  const out = text.split(/(?<=\n)/);
  return out;
}

/** A hunk as the old lines it expects and the new lines it leaves (terminators included). */
function sidesOf(hunk: StructuredPatchHunk): { old: string[]; next: string[] } {
  const old: string[] = [];
  const next: string[] = [];
  const { lines } = hunk;
  for (let i = 0; i < lines.length; i += 1) {
    const line = lines[i]!;
    const op = line[0];
    if (op === "\\") continue;
    const text = line.slice(1) + (lines[i + 1]?.startsWith("\\") ? "" : "\n");
    if (op === " " || op === "-") old.push(text);
    if (op === " " || op === "+") next.push(text);
  }
  return { old, next };
}

function matchesAt(source: string[], at: number, expected: string[]): boolean {
  if (at < 0 || at + expected.length > source.length) return false;
  for (let i = 0; i < expected.length; i += 1) if (source[at + i] !== expected[i]) return false;
  return true;
}

export type ApplyHunksResult =
  | { ok: true; content: string }
  | {
      ok: false;
      /** Accepted hunks whose lines are no longer where (or what) the diff expects. */
      conflicts: number[];
      message: string;
    };

/**
 * Apply only the `accept`ed hunks (0-based indexes) of one file's unified diff to `content`. Pure.
 *
 * With `content` equal to the base the diff was computed from, accepting every hunk gives the workspace's
 * version and accepting none gives `content` back. `content` may also be the file's current text when it
 * has moved on since: a hunk whose expected lines are found unchanged (at its place, or shifted by lines
 * added or removed elsewhere) still applies; one whose lines were edited is a conflict, and nothing is
 * applied. BAD_REQUEST for an index the diff does not have, or a diff holding more than one file.
 */
export function applyHunks(input: {
  content: string;
  diff: string;
  accept: Iterable<number>;
}): ApplyHunksResult {
  const patches = parsePatch(input.diff);
  if (patches.length > 1) throw new AppError("BAD_REQUEST", "applyHunks takes the diff of one file");
  const hunks = patches[0]?.hunks ?? [];
  const accept = new Set<number>();
  for (const index of input.accept) {
    if (!Number.isInteger(index) || index < 0 || index >= hunks.length)
      throw new AppError("BAD_REQUEST", `Hunk ${index} does not exist (this file has ${hunks.length})`);
    accept.add(index);
  }
  const source = linesOf(input.content);
  const out: string[] = [];
  const conflicts: number[] = [];
  let cursor = 0;
  let drift = 0;
  hunks.forEach((hunk, index) => {
    if (!accept.has(index)) return;
    const { old, next } = sidesOf(hunk);
    const expected = hunk.oldStart - 1 + drift;
    let at = -1;
    // Where the base had it, else the nearest place (after what is already applied) with the same lines.
    for (let distance = 0; at === -1 && distance <= source.length; distance += 1) {
      for (const candidate of distance === 0 ? [expected] : [expected - distance, expected + distance]) {
        if (candidate >= cursor && matchesAt(source, candidate, old)) {
          at = candidate;
          break;
        }
      }
    }
    if (at === -1) {
      conflicts.push(index);
      return;
    }
    drift = at - (hunk.oldStart - 1);
    out.push(...source.slice(cursor, at), ...next);
    cursor = at + old.length;
  });
  if (conflicts.length > 0) {
    return {
      ok: false,
      conflicts,
      message: `The file changed where hunk${conflicts.length === 1 ? "" : "s"} ${conflicts.join(", ")} would apply; nothing was applied`,
    };
  }
  out.push(...source.slice(cursor));
  return { ok: true, content: out.join("") };
}
