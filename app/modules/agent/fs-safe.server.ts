/**
 * Host-side file access to an agent's workspace, safe against what a sandboxed command may leave there.
 *
 * A command runs with the app's uid on the host and may plant symlinks (to /etc/passwd, to another run's
 * workspace, to the app's .env), FIFOs, setuid programs or hard links. So every path given by the model is
 * relative, normalised (no `..`, no absolute path), and walked component by component with lstat: a
 * symlink anywhere on the way is refused, never followed. Reads open with O_NOFOLLOW and check that the
 * opened file is the one that was lstat'ed; writes go to a fresh temporary file renamed into place (so a
 * hard link's other name is never written through) with the setuid/setgid/sticky bits dropped.
 */
import { randomBytes } from "node:crypto";
import { constants as fsConstants, type Stats } from "node:fs";
import { chmod, lstat, mkdir, open, readdir, readlink, realpath, rename, rm } from "node:fs/promises";
import path from "node:path";
import { isAppError } from "#app/lib/app-error.ts";
import { DEFAULT_SKIP, normalizeProjectPath } from "#app/modules/projects/paths.ts";

/** A refused or failed workspace operation; its message is written for the model (and the user). */
export class WorkspaceFsError extends Error {
  override readonly name = "WorkspaceFsError";
  constructor(
    message: string,
    readonly code:
      | "INVALID_PATH"
      | "NOT_FOUND"
      | "SYMLINK"
      | "NOT_A_FILE"
      | "NOT_A_DIRECTORY"
      | "TOO_LARGE"
      | "BINARY" = "INVALID_PATH",
  ) {
    super(message);
  }
}

/** Folders never listed, searched or diffed (unless the project itself keeps files there). */
export const IGNORED_FOLDERS: ReadonlySet<string> = new Set<string>(DEFAULT_SKIP.folders);

/** Bits never left on a file the host writes or finds after a command: setuid, setgid, sticky. */
const SPECIAL_BITS = 0o7000;

export type ResolvedPath = {
  /** Normalised relative POSIX path; "" for the workspace itself. */
  rel: string;
  /** Absolute host path. */
  abs: string;
  /** lstat of the final component; null when it does not exist. */
  stat: Stats | null;
  /** The nearest missing folder above the target (write_file creates it), when one is missing. */
  missingParent: boolean;
};

const describeKind = (s: Stats) =>
  s.isSymbolicLink()
    ? "a symbolic link"
    : s.isDirectory()
      ? "a folder"
      : s.isFile()
        ? "a file"
        : s.isFIFO()
          ? "a named pipe"
          : s.isSocket()
            ? "a socket"
            : "a device or special file";

/**
 * Resolve a model-given path inside `root` (an absolute, real workspace path) without following links.
 * `allowRoot`: "", "." and "./" name the workspace itself (list_files, search).
 */
export async function resolveWorkspacePath(
  root: string,
  input: unknown,
  options: { allowRoot?: boolean } = {},
): Promise<ResolvedPath> {
  if (typeof input !== "string") throw new WorkspaceFsError("path must be a string");
  const trimmed = input.trim();
  if (options.allowRoot && (trimmed === "" || trimmed === "." || trimmed === "./")) {
    return { rel: "", abs: root, stat: await lstat(root), missingParent: false };
  }
  if (trimmed.startsWith("/") || /^[A-Za-z]:[\\/]/.test(trimmed)) {
    throw new WorkspaceFsError(
      `Absolute paths are not allowed: ${JSON.stringify(input.slice(0, 200))}. Give a path relative to the workspace root (e.g. src/index.ts); inside run_command the workspace is the current directory.`,
    );
  }
  let rel: string;
  try {
    rel = normalizeProjectPath(input);
  } catch (error) {
    throw new WorkspaceFsError(
      isAppError(error) ? `${error.message}. Paths stay inside the workspace.` : "Invalid path",
    );
  }
  const parts = rel.split("/");
  let current = root;
  let missingParent = false;
  for (let i = 0; i < parts.length; i += 1) {
    current = path.join(current, parts[i]!);
    const shown = parts.slice(0, i + 1).join("/");
    const info = missingParent ? null : await lstatOrNull(current);
    const last = i === parts.length - 1;
    if (!info) {
      if (!last) missingParent = true;
      if (last) return { rel, abs: current, stat: null, missingParent };
      continue;
    }
    if (info.isSymbolicLink()) {
      throw new WorkspaceFsError(
        `${shown} is a symbolic link; the file tools never follow links (it could point outside the workspace). Use the link's target path instead.`,
        "SYMLINK",
      );
    }
    if (last) return { rel, abs: current, stat: info, missingParent };
    if (!info.isDirectory())
      throw new WorkspaceFsError(`${shown} is ${describeKind(info)}, not a folder`, "NOT_A_DIRECTORY");
  }
  // Unreachable: the loop returns at the last component.
  throw new WorkspaceFsError("Invalid path");
}

async function lstatOrNull(file: string): Promise<Stats | null> {
  try {
    return await lstat(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
}

/** `inner` is `outer` or below it. */
export function isWithin(inner: string, outer: string): boolean {
  const rel = path.relative(outer, inner);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

/** The real path of a workspace directory: it must exist and be a directory. */
export async function realWorkspaceRoot(dir: string): Promise<string> {
  if (!path.isAbsolute(dir)) throw new Error(`workspace ${dir} must be an absolute path`);
  const real = await realpath(dir);
  if (!(await lstat(real)).isDirectory()) throw new Error(`workspace ${dir} is not a directory`);
  return real;
}

/**
 * Read a regular file of the workspace (no link followed) as bytes, at most `maxBytes` (larger files are
 * refused with TOO_LARGE, saying their size).
 */
export async function readWorkspaceFile(
  root: string,
  resolved: ResolvedPath,
  maxBytes: number,
): Promise<Buffer> {
  const { rel, abs, stat } = resolved;
  if (!stat) throw new WorkspaceFsError(`File not found: ${rel}`, "NOT_FOUND");
  if (!stat.isFile())
    throw new WorkspaceFsError(`${rel || "."} is ${describeKind(stat)}, not a file`, "NOT_A_FILE");
  if (stat.size > maxBytes) {
    throw new WorkspaceFsError(
      `${rel} is ${stat.size} bytes; the file tools read at most ${maxBytes} bytes`,
      "TOO_LARGE",
    );
  }
  // O_NONBLOCK: should the file have been swapped for a FIFO since the lstat, open does not hang.
  const handle = await open(abs, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK);
  try {
    const opened = await handle.stat();
    if (!opened.isFile() || opened.ino !== stat.ino || opened.dev !== stat.dev)
      throw new WorkspaceFsError(`${rel} changed while it was being read`, "NOT_A_FILE");
    // Belt and braces: the path still resolves inside the workspace.
    if (!isWithin(await realpath(abs), root))
      throw new WorkspaceFsError(`${rel} resolves outside the workspace`, "SYMLINK");
    if (opened.size > maxBytes) {
      throw new WorkspaceFsError(
        `${rel} is ${opened.size} bytes; the file tools read at most ${maxBytes} bytes`,
        "TOO_LARGE",
      );
    }
    const buffer = Buffer.alloc(opened.size);
    let read = 0;
    while (read < buffer.byteLength) {
      const { bytesRead } = await handle.read(buffer, read, buffer.byteLength - read, read);
      if (bytesRead === 0) break;
      read += bytesRead;
    }
    return buffer.subarray(0, read);
  } finally {
    await handle.close();
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** The text of `bytes`, or null when they are binary (a NUL in the first 8 KB, or not UTF-8: git's rule). */
export function decodeText(bytes: Uint8Array): string | null {
  if (bytes.subarray(0, 8192).includes(0)) return null;
  try {
    return utf8.decode(bytes);
  } catch {
    return null;
  }
}

/**
 * Create the missing folders of `resolved` (mode 0755), refusing a link or a file on the way (re-checked
 * with lstat after each mkdir, in case something raced in).
 */
async function ensureParents(root: string, rel: string): Promise<void> {
  const parts = rel.split("/").slice(0, -1);
  let current = root;
  for (const part of parts) {
    current = path.join(current, part);
    let info = await lstatOrNull(current);
    if (!info) {
      try {
        await mkdir(current, { mode: 0o755 });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      }
      info = await lstat(current);
    }
    const shown = path.relative(root, current);
    if (info.isSymbolicLink())
      throw new WorkspaceFsError(`${shown} is a symbolic link; the file tools never follow links`, "SYMLINK");
    if (!info.isDirectory())
      throw new WorkspaceFsError(`${shown} is ${describeKind(info)}, not a folder`, "NOT_A_DIRECTORY");
  }
}

/**
 * Write `content` to a regular file of the workspace: a new file (mode 0644) or a replacement of an existing
 * one (its permission bits kept, setuid/setgid/sticky dropped). Never through a link: the bytes go to a new
 * temporary file that is renamed over the target.
 */
export async function writeWorkspaceFile(
  root: string,
  resolved: ResolvedPath,
  content: string | Uint8Array,
): Promise<{ created: boolean; bytes: number }> {
  const { rel, stat } = resolved;
  if (rel === "") throw new WorkspaceFsError("Give a file path, not the workspace itself", "NOT_A_FILE");
  if (stat && !stat.isFile())
    throw new WorkspaceFsError(`${rel} is ${describeKind(stat)}, not a file`, "NOT_A_FILE");
  await ensureParents(root, rel);
  // Re-resolve: the walk above may have created folders; the target must still be no link.
  const again = await resolveWorkspacePath(root, rel);
  if (again.stat && !again.stat.isFile())
    throw new WorkspaceFsError(`${rel} is ${describeKind(again.stat)}, not a file`, "NOT_A_FILE");
  const mode = again.stat ? again.stat.mode & 0o777 : 0o644;
  const dir = path.dirname(again.abs);
  const temp = path.join(dir, `.${path.basename(again.abs)}.agentry-${randomBytes(6).toString("hex")}`);
  const bytes = typeof content === "string" ? Buffer.from(content, "utf8") : content;
  const handle = await open(
    temp,
    fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW,
    0o600,
  );
  try {
    try {
      await handle.writeFile(bytes);
      // fchmod, not the umask: exactly these bits, never a special one.
      await handle.chmod(mode & ~SPECIAL_BITS);
    } finally {
      await handle.close();
    }
    await rename(temp, again.abs);
  } catch (error) {
    await rm(temp, { force: true }).catch(() => {});
    throw error;
  }
  return { created: !again.stat, bytes: bytes.byteLength };
}

export type WalkEntry = {
  /** Relative POSIX path. */
  rel: string;
  kind: "file" | "dir" | "symlink" | "other";
  size: number;
  mode: number;
  /** For a symlink: where it points (never followed). */
  target?: string;
  /** For a folder not entered because it is ignored. */
  ignored?: boolean;
};

export type WalkOptions = {
  /** Stop after this many entries; `truncated` then says so. Default 100 000. */
  maxEntries?: number;
  /** Enter ignored folders (IGNORED_FOLDERS) anyway. Default false: they are listed with `ignored`. */
  includeIgnored?: boolean;
  /** Relative folder paths that must be entered even when their name is ignored (the project keeps files there). */
  keepFolders?: ReadonlySet<string>;
};

/**
 * Every entry under `start` (a real folder of the workspace), depth first, sorted by name; links are listed,
 * never followed; ignored folders are listed (ignored: true) but not entered.
 */
export async function walkWorkspace(
  root: string,
  start: ResolvedPath,
  options: WalkOptions = {},
): Promise<{ entries: WalkEntry[]; truncated: boolean }> {
  const maxEntries = options.maxEntries ?? 100_000;
  const entries: WalkEntry[] = [];
  let truncated = false;
  const visit = async (relDir: string): Promise<void> => {
    const absDir = relDir === "" ? root : path.join(root, relDir);
    let names: string[];
    try {
      names = (await readdir(absDir)).sort();
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ENOTDIR") return;
      throw error;
    }
    for (const name of names) {
      if (entries.length >= maxEntries) {
        truncated = true;
        return;
      }
      const rel = relDir === "" ? name : `${relDir}/${name}`;
      const info = await lstatOrNull(path.join(absDir, name));
      if (!info) continue;
      if (info.isSymbolicLink()) {
        const target = await readlink(path.join(absDir, name)).catch(() => "?");
        entries.push({ rel, kind: "symlink", size: info.size, mode: info.mode, target });
      } else if (info.isDirectory()) {
        const ignored =
          !options.includeIgnored && IGNORED_FOLDERS.has(name) && !options.keepFolders?.has(rel);
        entries.push({ rel, kind: "dir", size: 0, mode: info.mode, ...(ignored ? { ignored } : {}) });
        if (!ignored) await visit(rel);
        if (truncated) return;
      } else {
        entries.push({ rel, kind: info.isFile() ? "file" : "other", size: info.size, mode: info.mode });
      }
    }
  };
  if (!start.stat?.isDirectory())
    throw new WorkspaceFsError(`${start.rel || "."} is not a folder`, "NOT_A_DIRECTORY");
  await visit(start.rel);
  return { entries, truncated };
}

/**
 * Drop setuid/setgid/sticky bits from every file and folder of the workspace (links untouched): what a
 * command left there must not become a privileged program for anyone on the host. Returns how many changed.
 */
export async function dropSpecialBits(root: string): Promise<number> {
  const start = await resolveWorkspacePath(root, ".", { allowRoot: true });
  const { entries } = await walkWorkspace(root, start, { includeIgnored: true });
  let changed = 0;
  const rootInfo = await lstat(root);
  if (rootInfo.mode & SPECIAL_BITS) {
    await chmod(root, rootInfo.mode & 0o777);
    changed += 1;
  }
  for (const entry of entries) {
    if (entry.kind === "symlink" || !(entry.mode & SPECIAL_BITS)) continue;
    const abs = path.join(root, entry.rel);
    // Re-check right before the chmod (which follows links): still the same kind, still no link.
    const info = await lstatOrNull(abs);
    if (!info || info.isSymbolicLink()) continue;
    await chmod(abs, info.mode & 0o777);
    changed += 1;
  }
  return changed;
}

/** Keep the first `maxBytes` of a UTF-8 text without splitting a character. */
export function utf8Head(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text, "utf8");
  if (bytes.byteLength <= maxBytes) return text;
  let end = maxBytes;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end -= 1;
  return bytes.subarray(0, end).toString("utf8");
}

/** Keep the last `maxBytes` of a UTF-8 text without splitting a character. */
export function utf8Tail(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text, "utf8");
  if (bytes.byteLength <= maxBytes) return text;
  let start = bytes.byteLength - maxBytes;
  while (start < bytes.byteLength && (bytes[start]! & 0xc0) === 0x80) start += 1;
  return bytes.subarray(start).toString("utf8");
}
