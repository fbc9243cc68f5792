/**
 * An agent run's workspace: the project's current files written to a private directory, and the snapshot
 * (path → version, content) the run's ChangeSet is computed against.
 *
 *   <root>/                 mode 0700: no other host user may enter (a command may leave setuid files)
 *     <runId>/              mode 0700
 *       base.json           the base snapshot (mode 0600), outside what the agent sees
 *       ws/                 the workspace: mounted at /workspace in the sandbox, the file tools' root
 *
 * A resumed run (same runId, same machine) finds base.json and keeps the workspace as the agent left it,
 * so its ChangeSet is still computed against the versions the run started from.
 */
import { randomBytes } from "node:crypto";
import type { Stats } from "node:fs";
import { chmod, lstat, mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import type { DbOrTx } from "#app/db/client.server.ts";
import { AppError } from "#app/lib/app-error.ts";
import { isUuid } from "#app/lib/use-case.ts";
import { normalizeProjectPath } from "#app/modules/projects/paths.ts";
import { resolveWorkspacePath, writeWorkspaceFile } from "./fs-safe.server.ts";

/** One file of the snapshot a run starts from. */
export type BaseFile = {
  /** The CodeSnippet version the run started from. */
  version: number;
  /** Its text; "" for a binary file (the project keeps binary files as metadata only). */
  content: string;
  /** A binary file: not written to the workspace (its bytes are not stored), never diffed. */
  binary?: boolean;
};

/** path → the file as the run found it. */
export type BaseSnapshot = Map<string, BaseFile>;

export type MaterializedWorkspace = {
  /** The workspace directory (absolute): the sandbox's /workspace and the file tools' root. */
  dir: string;
  /** The run's directory holding `dir` and base.json; removeWorkspace deletes it. */
  runDir: string;
  base: BaseSnapshot;
  /** True when an existing workspace of this run was reused (its edits kept). */
  resumed: boolean;
  /** Project files not written to the workspace, and why (binary files: only their metadata is stored). */
  skipped: Array<{ path: string; reason: string }>;
};

const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;
const BASE_FILE = "base.json";
const WORKSPACE_DIR = "ws";

const ZBaseJson = z.object({
  format: z.literal(1),
  userId: z.string(),
  projectId: z.string(),
  createdAt: z.string(),
  files: z.array(
    z.object({
      path: z.string(),
      version: z.number().int().min(1),
      content: z.string(),
      binary: z.boolean().optional(),
    }),
  ),
  skipped: z.array(z.object({ path: z.string(), reason: z.string() })),
});
type BaseJson = z.infer<typeof ZBaseJson>;

/** Where a run's workspace lives (nothing is created). */
export function workspacePaths(input: { root: string; runId: string }): {
  runDir: string;
  dir: string;
  baseFile: string;
} {
  if (!path.isAbsolute(input.root)) throw new Error(`workspace root ${input.root} must be an absolute path`);
  if (!RUN_ID.test(input.runId))
    throw new Error(`invalid run id for a workspace: ${JSON.stringify(input.runId)}`);
  const runDir = path.join(path.resolve(input.root), input.runId);
  return { runDir, dir: path.join(runDir, WORKSPACE_DIR), baseFile: path.join(runDir, BASE_FILE) };
}

async function lstatOrNull(file: string): Promise<Stats | null> {
  try {
    return await lstat(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
}

/** A directory of ours, closed to everyone else (0700): created, or checked and tightened. */
async function ensurePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const info = await lstat(dir);
  if (info.isSymbolicLink() || !info.isDirectory())
    throw new Error(`${dir} must be a directory (not a link) for agent workspaces`);
  const uid = process.getuid?.();
  if (uid !== undefined && info.uid !== uid)
    throw new Error(`${dir} belongs to uid ${info.uid}, not to this process (uid ${uid})`);
  if ((info.mode & 0o7777) !== 0o700) await chmod(dir, 0o700);
}

async function loadBase(
  baseFile: string,
  expect: { userId: string; projectId: string },
): Promise<BaseJson | null> {
  let raw: string;
  try {
    raw = await readFile(baseFile, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
  const parsed = ZBaseJson.safeParse(JSON.parse(raw));
  if (!parsed.success) return null;
  if (parsed.data.userId !== expect.userId || parsed.data.projectId !== expect.projectId) {
    throw new AppError(
      "CONFLICT",
      "This run's workspace was made for another project; remove it before starting the run again",
    );
  }
  return parsed.data;
}

function toSnapshot(json: BaseJson): BaseSnapshot {
  const base: BaseSnapshot = new Map();
  for (const file of json.files) {
    base.set(file.path, {
      version: file.version,
      content: file.content,
      ...(file.binary ? { binary: true } : {}),
    });
  }
  return base;
}

/**
 * Write the project's current files into `<root>/<runId>/ws/` and return the snapshot they came from.
 * A second call for the same run reuses the workspace (a resumed run keeps its edits) and returns the
 * snapshot recorded the first time. NOT_FOUND for a project that is not the user's; UNPROCESSABLE_CONTENT
 * for a stored path that would leave the workspace (never written); binary files are listed in `skipped`.
 */
export async function materializeWorkspace(input: {
  db: DbOrTx;
  userId: string;
  projectId: string;
  /** Absolute directory holding every run's workspace; created with mode 0700. */
  root: string;
  runId: string;
}): Promise<MaterializedWorkspace> {
  const { db, userId, projectId } = input;
  const { runDir, dir, baseFile } = workspacePaths(input);
  if (!isUuid(userId) || !isUuid(projectId)) throw new AppError("NOT_FOUND", "Project not found");
  const project = await db.project.findFirst({ where: { id: projectId, userId }, select: { id: true } });
  if (!project) throw new AppError("NOT_FOUND", "Project not found");

  await ensurePrivateDir(path.dirname(runDir));
  const existing = await lstatOrNull(runDir);
  if (existing) {
    if (existing.isSymbolicLink() || !existing.isDirectory())
      throw new Error(`${runDir} is not a directory; refusing to use it as a workspace`);
    const saved = await loadBase(baseFile, { userId, projectId });
    const ws = await lstatOrNull(dir);
    if (saved && ws?.isDirectory() && !ws.isSymbolicLink()) {
      return { dir, runDir, base: toSnapshot(saved), resumed: true, skipped: saved.skipped };
    }
    // Half-made (the process stopped before base.json was written): start over.
    await removeDir(runDir);
  }

  await mkdir(runDir, { mode: 0o700 });
  await chmod(runDir, 0o700);
  await mkdir(dir, { mode: 0o755 });
  await chmod(dir, 0o755);

  const rows = await db.codeSnippet.findMany({
    where: { projectId, userId },
    select: { path: true, version: true, content: true, isBinary: true },
    orderBy: { path: "asc" },
  });
  const files: BaseJson["files"] = [];
  const skipped: BaseJson["skipped"] = [];
  for (const row of rows) {
    let safe: string | null;
    try {
      safe = normalizeProjectPath(row.path);
    } catch {
      safe = null;
    }
    if (safe !== row.path) {
      throw new AppError(
        "UNPROCESSABLE_CONTENT",
        `The project holds a file with an unsafe path (${JSON.stringify(row.path.slice(0, 200))}); rename it before running an agent`,
      );
    }
    if (row.isBinary) {
      files.push({ path: row.path, version: row.version, content: "", binary: true });
      skipped.push({
        path: row.path,
        reason: "binary file: the project stores only its metadata, so its bytes cannot be written",
      });
      continue;
    }
    const resolved = await resolveWorkspacePath(dir, row.path);
    if (resolved.stat) throw new Error(`${row.path} was listed twice`);
    await writeWorkspaceFile(dir, resolved, row.content);
    files.push({ path: row.path, version: row.version, content: row.content });
  }

  const json: BaseJson = {
    format: 1,
    userId,
    projectId,
    createdAt: new Date().toISOString(),
    files,
    skipped,
  };
  // Written last and atomically: its presence means the workspace is complete.
  const temp = `${baseFile}.${randomBytes(6).toString("hex")}.tmp`;
  await writeFile(temp, JSON.stringify(json), { mode: 0o600, flag: "wx" });
  await rename(temp, baseFile);
  return { dir, runDir, base: toSnapshot(json), resumed: false, skipped };
}

/** Delete a directory tree, making folders a command made unreadable (chmod 000) removable first. */
async function removeDir(dir: string): Promise<void> {
  try {
    await rm(dir, { recursive: true, force: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== "EACCES" && code !== "EPERM" && code !== "ENOTEMPTY") throw error;
    await openUp(dir);
    await rm(dir, { recursive: true, force: true });
  }
}

async function openUp(dir: string): Promise<void> {
  const info = await lstatOrNull(dir);
  if (!info || info.isSymbolicLink() || !info.isDirectory()) return;
  await chmod(dir, 0o700).catch(() => {});
  for (const name of await readdir(dir).catch(() => [] as string[])) await openUp(path.join(dir, name));
}

/** Delete a run's workspace and its base snapshot (nothing happens when it is already gone). */
export async function removeWorkspace(input: { root: string; runId: string }): Promise<void> {
  const { runDir } = workspacePaths(input);
  const info = await lstatOrNull(runDir);
  if (!info) return;
  // A link here was not made by us: remove the link itself, never what it points to.
  if (info.isSymbolicLink() || !info.isDirectory()) {
    await rm(runDir, { force: true });
    return;
  }
  await removeDir(runDir);
}
