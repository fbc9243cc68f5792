/**
 * Import a codebase into a project: from a .zip (upload, or a folder zipped by the browser) or, when the
 * operator allows it, from a directory on the server.
 *
 * Refused (nothing written): archives over `maxArchiveBytes`, unsafe entry paths (zip slip: `../`,
 * absolute, drive letters; see paths.ts), encrypted entries, more than `maxFiles` files, more than
 * `maxTotalUncompressedBytes` once inflated, entries whose declared compression ratio is bomb-like, and
 * entries that inflate past the size they declare. Skipped and reported: symbolic links, ignored folders
 * (node_modules/, .git/, dist/...), text files over `maxFileBytes`, duplicates. Binary files (a NUL in
 * their first 8 KB, or not valid UTF-8) are kept as metadata: size and sha256, empty content.
 *
 * Everything is written in one transaction, in batches: the project gets all of the archive or none of it.
 */
import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { lstat, open, readdir, realpath } from "node:fs/promises";
import nodePath from "node:path";
import type { DbTx } from "#app/db/client.server.ts";
import { AppError } from "#app/lib/app-error.ts";
import {
  assertProjectOwned,
  clock,
  isUniqueViolation,
  type ProjectsDeps,
  projectNotFound,
  sha256Hex,
} from "./deps.server.ts";
import { ancestorFolders, DEFAULT_SKIP, languageForPath, normalizeProjectPath } from "./paths.ts";
import type { ImportResult } from "./projects.types.ts";
import { inflateEntry, readZipEntries, scanEntry } from "./zip-reader.server.ts";

export type ImportLimits = {
  /** Largest archive accepted, in bytes. Default 50 MB. */
  maxArchiveBytes: number;
  /** Most files imported (after skips). Default 5,000. */
  maxFiles: number;
  /** Largest text file kept, in bytes; larger text files are skipped. Default 2 MB. */
  maxFileBytes: number;
  /** Most bytes inflated from one archive (or read from a directory). Default 200 MB. */
  maxTotalUncompressedBytes: number;
  /**
   * Largest uncompressed:compressed ratio of an entry above 1 MiB; a higher one is refused as a zip bomb.
   * Default 100 (source code compresses 3–10×; zeros 1000×).
   */
  maxCompressionRatio: number;
  /** Most entries read from an archive's directory, skipped ones included. Default 100,000. */
  maxEntries: number;
};

export const DEFAULT_IMPORT_LIMITS: ImportLimits = {
  maxArchiveBytes: 50 * 1024 * 1024,
  maxFiles: 5_000,
  maxFileBytes: 2 * 1024 * 1024,
  maxTotalUncompressedBytes: 200 * 1024 * 1024,
  maxCompressionRatio: 100,
  maxEntries: 100_000,
};

/** Entries under this size are never called bombs, whatever their ratio (a file of spaces is fine). */
const RATIO_FLOOR_BYTES = 1024 * 1024;
/** How much of a file binary detection looks at for a NUL byte (what git does, too). */
const SNIFF_BYTES = 8 * 1024;

type Loaded =
  | { kind: "text"; content: string; size: number; sha256: string }
  | { kind: "binary"; size: number; sha256: string }
  | { kind: "skip"; reason: string };

/** One file found in the source, before it is read. */
type Candidate = { path: string; load(): Promise<Loaded> | Loaded };

type Prepared = {
  path: string;
  language: string | null;
  content: string;
  isBinary: boolean;
  size: number;
  sha256: string;
};

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Text or binary, by git's rule (a NUL early on) and by UTF-8 validity. BOMs are kept as they are. */
export function classifyBytes(bytes: Uint8Array): Loaded {
  const sha256 = sha256Hex(bytes);
  if (bytes.subarray(0, SNIFF_BYTES).includes(0)) return { kind: "binary", size: bytes.byteLength, sha256 };
  try {
    return { kind: "text", content: utf8.decode(bytes), size: bytes.byteLength, sha256 };
  } catch {
    return { kind: "binary", size: bytes.byteLength, sha256 };
  }
}

/** Why a path is skipped by the default list, as the folder prefix to report; null when it is kept. */
function skipReason(path: string): { key: string; reason: string } | null {
  const segments = path.split("/");
  for (let i = 0; i < segments.length - 1; i += 1) {
    const segment = segments[i]!;
    if ((DEFAULT_SKIP.folders as readonly string[]).includes(segment)) {
      return { key: `${segments.slice(0, i + 1).join("/")}/`, reason: `ignored folder (${segment}/)` };
    }
  }
  const name = segments[segments.length - 1]!;
  if ((DEFAULT_SKIP.files as readonly string[]).includes(name))
    return { key: path, reason: `ignored file (${name})` };
  return null;
}

const tooLarge = (message: string) => new AppError("PAYLOAD_TOO_LARGE", message);
const mb = (bytes: number) => `${Math.round((bytes / 1024 / 1024) * 10) / 10} MB`;

/**
 * Turn a list of candidate paths into the files to import: skip list, duplicates, files that clash with
 * a folder of the same name; then the file-count limit.
 */
function selectCandidates<T extends { path: string }>(
  candidates: T[],
  limits: ImportLimits,
  skipped: ImportResult["skipped"],
): T[] {
  const reported = new Set<string>();
  const seen = new Set<string>();
  const kept: T[] = [];
  for (const candidate of candidates) {
    const skip = skipReason(candidate.path);
    if (skip) {
      if (!reported.has(skip.key)) {
        reported.add(skip.key);
        skipped.push({ path: skip.key, reason: skip.reason });
      }
      continue;
    }
    if (seen.has(candidate.path)) {
      skipped.push({ path: candidate.path, reason: "duplicate entry" });
      continue;
    }
    seen.add(candidate.path);
    kept.push(candidate);
  }
  const folders = new Set(kept.flatMap((c) => ancestorFolders(c.path)));
  const files = kept.filter((c) => {
    if (!folders.has(c.path)) return true;
    skipped.push({ path: c.path, reason: "a folder of the same name is also in the archive" });
    return false;
  });
  if (files.length > limits.maxFiles) {
    throw tooLarge(`Too many files: ${files.length} to import, the limit is ${limits.maxFiles}`);
  }
  return files;
}

/** Load every selected file (sequentially: memory is bounded by one file plus what is kept). */
async function loadAll(files: Candidate[], skipped: ImportResult["skipped"]): Promise<Prepared[]> {
  const prepared: Prepared[] = [];
  for (const file of files) {
    const loaded = await file.load();
    if (loaded.kind === "skip") {
      skipped.push({ path: file.path, reason: loaded.reason });
      continue;
    }
    if (loaded.kind === "text") {
      prepared.push({
        path: file.path,
        language: languageForPath(file.path),
        content: loaded.content,
        isBinary: false,
        size: loaded.size,
        sha256: loaded.sha256,
      });
    } else {
      prepared.push({
        path: file.path,
        language: null,
        content: "",
        isBinary: true,
        size: loaded.size,
        sha256: loaded.sha256,
      });
    }
  }
  return prepared;
}

/** Rows per INSERT/UPDATE statement, and bytes of content per statement. */
const BATCH_ROWS = 2_000;
const BATCH_BYTES = 8 * 1024 * 1024;

function batches<T extends { size: number }>(rows: T[]): T[][] {
  const out: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const row of rows) {
    if (current.length > 0 && (current.length >= BATCH_ROWS || bytes + row.size > BATCH_BYTES)) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(row);
    bytes += row.size;
  }
  if (current.length > 0) out.push(current);
  return out;
}

/** A UUIDv7 (RFC 9562): 48-bit millisecond time, then randomness; what Prisma's uuid(7) makes. */
export function uuidv7(at: Date = new Date()): string {
  const bytes = randomBytes(16);
  bytes.writeUIntBE(at.getTime(), 0, 6);
  bytes[6] = (bytes[6]! & 0x0f) | 0x70;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** One `import` FileVersion per written file, in one statement. */
async function insertVersions(
  tx: DbTx,
  scope: { userId: string; projectId: string },
  rows: Array<Prepared & { snippetId: string; version: number }>,
  now: Date,
): Promise<void> {
  await tx.$executeRaw`
    INSERT INTO "FileVersion"
      (id, "userId", "projectId", "snippetId", version, path, content, size, sha256, source, "createdAt")
    SELECT u.id, ${scope.userId}::uuid, ${scope.projectId}::uuid, u.snippet_id, u.version, u.path, u.content,
           u.size, u.sha256, 'import'::"FileVersionSource", ${now}
    FROM unnest(
      ${rows.map(() => uuidv7(now))}::uuid[], ${rows.map((r) => r.snippetId)}::uuid[],
      ${rows.map((r) => r.version)}::int[], ${rows.map((r) => r.path)}::text[],
      ${rows.map((r) => r.content)}::text[], ${rows.map((r) => r.size)}::int[], ${rows.map((r) => r.sha256)}::text[]
    ) AS u(id, snippet_id, version, path, content, size, sha256)`;
}

/**
 * Write prepared files into the project in one transaction: new paths are created (version 1), changed
 * ones get a new version, identical ones are left alone; every write has its FileVersion (source
 * `import`). The project row is locked so two imports into one project run one after the other; an
 * update is conditional on the version read, so an edit saved meanwhile makes the import fail (CONFLICT)
 * rather than be overwritten.
 */
async function writeImport(
  scope: { userId: string; projectId: string },
  files: Prepared[],
  skipped: ImportResult["skipped"],
  deps: ProjectsDeps,
): Promise<Omit<ImportResult, "skipped">> {
  const now = clock(deps);
  const run = async (tx: DbTx) => {
    const locked = await tx.$queryRaw<Array<{ id: string }>>`
      SELECT id::text FROM "Project" WHERE id = ${scope.projectId}::uuid AND "userId" = ${scope.userId}::uuid FOR UPDATE`;
    if (locked.length === 0) throw projectNotFound();
    const existing = await tx.codeSnippet.findMany({
      where: { projectId: scope.projectId, userId: scope.userId },
      select: { id: true, path: true, version: true, sha256: true, isBinary: true },
    });
    const byPath = new Map(existing.map((e) => [e.path, e]));
    const existingFolders = new Set(existing.flatMap((e) => ancestorFolders(e.path)));

    const creates: Prepared[] = [];
    const updates: Array<Prepared & { id: string; version: number }> = [];
    let unchanged = 0;
    for (const file of files) {
      const current = byPath.get(file.path);
      if (current) {
        if (current.sha256 === file.sha256 && current.isBinary === file.isBinary) unchanged += 1;
        else updates.push({ ...file, id: current.id, version: current.version });
        continue;
      }
      if (existingFolders.has(file.path)) {
        skipped.push({ path: file.path, reason: "the project has a folder of that name" });
        continue;
      }
      const blocker = ancestorFolders(file.path).find((folder) => byPath.has(folder));
      if (blocker) {
        skipped.push({ path: file.path, reason: `the project has a file at ${blocker}` });
        continue;
      }
      creates.push(file);
    }

    // Raw multi-row inserts from arrays (unnest): several times faster than Prisma's createMany for
    // thousands of rows. Ids are UUIDv7 made here, as Prisma would (the columns have no default).
    for (const batch of batches(creates)) {
      const ids = batch.map(() => uuidv7(now));
      await tx.$executeRaw`
        INSERT INTO "CodeSnippet"
          (id, "userId", "projectId", path, language, content, "isBinary", size, sha256, version, "createdAt", "updatedAt")
        SELECT u.id, ${scope.userId}::uuid, ${scope.projectId}::uuid, u.path, u.language, u.content, u.is_binary,
               u.size, u.sha256, 1, ${now}, ${now}
        FROM unnest(
          ${ids}::uuid[], ${batch.map((f) => f.path)}::text[], ${batch.map((f) => f.language)}::text[],
          ${batch.map((f) => f.content)}::text[], ${batch.map((f) => f.isBinary)}::boolean[],
          ${batch.map((f) => f.size)}::int[], ${batch.map((f) => f.sha256)}::text[]
        ) AS u(id, path, language, content, is_binary, size, sha256)`;
      await insertVersions(
        tx,
        scope,
        batch.map((f, i) => ({ ...f, snippetId: ids[i]!, version: 1 })),
        now,
      );
    }

    for (const batch of batches(updates)) {
      const done = await tx.$queryRaw<Array<{ id: string }>>`
        UPDATE "CodeSnippet" AS c
        SET content = u.content, size = u.size, sha256 = u.sha256, "isBinary" = u.is_binary,
            language = u.language, version = c.version + 1, "updatedAt" = ${now}
        FROM unnest(
          ${batch.map((f) => f.id)}::uuid[], ${batch.map((f) => f.version)}::int[],
          ${batch.map((f) => f.content)}::text[], ${batch.map((f) => f.size)}::int[],
          ${batch.map((f) => f.sha256)}::text[], ${batch.map((f) => f.isBinary)}::boolean[],
          ${batch.map((f) => f.language)}::text[]
        ) AS u(id, version, content, size, sha256, is_binary, language)
        WHERE c.id = u.id AND c.version = u.version AND c."userId" = ${scope.userId}::uuid
        RETURNING c.id::text`;
      if (done.length !== batch.length) {
        throw new AppError(
          "CONFLICT",
          "Some files were edited while the import ran; nothing was imported. Run the import again.",
        );
      }
      await insertVersions(
        tx,
        scope,
        batch.map((f) => ({ ...f, snippetId: f.id, version: f.version + 1 })),
        now,
      );
    }
    await tx.project.updateMany({
      where: { id: scope.projectId, userId: scope.userId },
      data: { lastActivityAt: now },
    });
    return { created: creates.length, updated: updates.length, unchanged };
  };
  try {
    // Thousands of rows and up to hundreds of MB: far beyond Prisma's 5 s default.
    return await deps.db.$transaction(run, { maxWait: 10_000, timeout: 300_000 });
  } catch (error) {
    if (isUniqueViolation(error)) {
      throw new AppError(
        "CONFLICT",
        "Files were created while the import ran; nothing was imported. Run it again.",
      );
    }
    throw error;
  }
}

function withLimits(limits?: Partial<ImportLimits>): ImportLimits {
  return { ...DEFAULT_IMPORT_LIMITS, ...limits };
}

/**
 * Import a zip archive into a project of `userId` (see the file comment for what is refused, skipped
 * and kept). `limits` override {@link DEFAULT_IMPORT_LIMITS}. A single folder holding everything (GitHub's
 * `repo-main/`) is stripped. Returns how many files were created, updated and left unchanged, and what
 * was skipped and why.
 */
export async function importZip(
  input: { userId: string; projectId: string; data: Uint8Array; limits?: Partial<ImportLimits> },
  deps: ProjectsDeps,
): Promise<ImportResult> {
  const limits = withLimits(input.limits);
  await assertProjectOwned(deps.db, input.userId, input.projectId);
  const { data } = input;
  if (data.byteLength > limits.maxArchiveBytes) {
    throw tooLarge(`The archive is ${mb(data.byteLength)}; the limit is ${mb(limits.maxArchiveBytes)}`);
  }
  const entries = readZipEntries(data, { maxEntries: limits.maxEntries });
  const skipped: ImportResult["skipped"] = [];

  const files: Array<{ path: string; entry: (typeof entries)[number] }> = [];
  for (const entry of entries) {
    // Checked before anything else: a traversal attempt refuses the whole archive, whatever the entry is.
    let path: string;
    try {
      path = normalizeProjectPath(entry.name.replace(/[\\/]+$/, "") || entry.name);
    } catch (error) {
      throw new AppError("BAD_REQUEST", `The archive is refused: ${(error as Error).message}`);
    }
    if (entry.isDirectory) continue;
    if (entry.isEncrypted) {
      throw new AppError("BAD_REQUEST", `The archive is refused: ${path} is encrypted (not supported)`);
    }
    // macOS resource forks, before the top folder is looked for.
    if (path === "__MACOSX" || path.startsWith("__MACOSX/")) {
      if (!skipped.some((s) => s.path === "__MACOSX/")) {
        skipped.push({ path: "__MACOSX/", reason: "ignored folder (__MACOSX/)" });
      }
      continue;
    }
    files.push({ path, entry });
  }

  // GitHub's "Download ZIP" puts everything in `repo-main/`: strip one common top folder.
  const tops = new Set(files.map((f) => (f.path.includes("/") ? f.path.slice(0, f.path.indexOf("/")) : "")));
  const [top] = tops;
  const strip = tops.size === 1 && top ? top.length + 1 : 0;

  const regular: typeof files = [];
  for (const { path, entry } of files) {
    if (entry.isSymlink)
      skipped.push({ path: path.slice(strip), reason: "symbolic link (links are never imported)" });
    else regular.push({ path: path.slice(strip), entry });
  }
  const chosen = selectCandidates(regular, limits, skipped);

  // Decide from the declared sizes before inflating a single byte; inflation then enforces them.
  let declaredTotal = 0;
  for (const { path, entry } of chosen) {
    declaredTotal += entry.uncompressedSize;
    if (
      entry.uncompressedSize > RATIO_FLOOR_BYTES &&
      entry.uncompressedSize > entry.compressedSize * limits.maxCompressionRatio
    ) {
      throw tooLarge(
        `The archive is refused as a zip bomb: ${path} expands ${Math.round(entry.uncompressedSize / Math.max(1, entry.compressedSize))}× (limit ${limits.maxCompressionRatio}×)`,
      );
    }
  }
  if (declaredTotal > limits.maxTotalUncompressedBytes) {
    throw tooLarge(
      `The archive expands to ${mb(declaredTotal)}; the limit is ${mb(limits.maxTotalUncompressedBytes)}`,
    );
  }

  const prepared = await loadAll(
    chosen.map(({ path, entry }) => ({
      path,
      load: (): Loaded => {
        if (entry.uncompressedSize <= limits.maxFileBytes) return classifyBytes(inflateEntry(data, entry));
        // Too big to keep as text: stream it, keep only its head to tell binary from text.
        const scan = scanEntry(data, entry, SNIFF_BYTES);
        if (scan.head.includes(0)) return { kind: "binary", size: scan.size, sha256: scan.sha256 };
        return { kind: "skip", reason: `text file larger than ${mb(limits.maxFileBytes)}` };
      },
    })),
    skipped,
  );
  const counts = await writeImport(
    { userId: input.userId, projectId: input.projectId },
    prepared,
    skipped,
    deps,
  );
  return { ...counts, skipped };
}

/**
 * Import a directory of the server's file system, only inside the folder the operator named
 * (`allowedRoot`, from AGENTRY_LOCAL_IMPORT_ROOT; FORBIDDEN when unset or when `dir` resolves outside
 * it, so no user can import the app's own data or system files). Symbolic links are never followed (skipped and
 * reported), every file must resolve inside `dir`, ignored folders are not even walked. Same limits,
 * skip list and binary handling as {@link importZip}; no top folder is stripped (`dir` is the root).
 */
export async function importLocalDirectory(
  input: {
    userId: string;
    projectId: string;
    dir: string;
    allowedRoot: string | null | undefined;
    limits?: Partial<ImportLimits>;
  },
  deps: ProjectsDeps,
): Promise<ImportResult> {
  if (!input.allowedRoot) {
    throw new AppError(
      "FORBIDDEN",
      "Importing from a server directory is disabled; the operator can allow one folder with AGENTRY_LOCAL_IMPORT_ROOT",
    );
  }
  const limits = withLimits(input.limits);
  await assertProjectOwned(deps.db, input.userId, input.projectId);
  if (!nodePath.isAbsolute(input.dir))
    throw new AppError("BAD_REQUEST", "The directory must be an absolute path");
  let root: string;
  try {
    root = await realpath(input.dir);
    if (!(await lstat(root)).isDirectory()) throw new Error("not a directory");
  } catch {
    throw new AppError("BAD_REQUEST", `Not a readable directory: ${input.dir}`);
  }
  const allowedRoot = await realpath(input.allowedRoot).catch(() => null);
  if (!allowedRoot || (root !== allowedRoot && !root.startsWith(`${allowedRoot}${nodePath.sep}`))) {
    throw new AppError("FORBIDDEN", "Only folders inside AGENTRY_LOCAL_IMPORT_ROOT can be imported");
  }

  const skipped: ImportResult["skipped"] = [];
  const candidates: Candidate[] = [];
  let totalBytes = 0;
  const walk = async (absolute: string, relative: string): Promise<void> => {
    const dirents = await readdir(absolute, { withFileTypes: true });
    dirents.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const dirent of dirents) {
      const rel = relative ? `${relative}/${dirent.name}` : dirent.name;
      const path = normalizeProjectPath(rel);
      const abs = nodePath.join(absolute, dirent.name);
      if (dirent.isSymbolicLink()) {
        skipped.push({ path, reason: "symbolic link (links are never imported)" });
        continue;
      }
      if (dirent.isDirectory()) {
        if ((DEFAULT_SKIP.folders as readonly string[]).includes(dirent.name)) {
          skipped.push({ path: `${path}/`, reason: `ignored folder (${dirent.name}/)` });
          continue;
        }
        await walk(abs, rel);
        continue;
      }
      if (!dirent.isFile()) {
        skipped.push({ path, reason: "not a regular file" });
        continue;
      }
      // Stop walking early rather than list a huge tree only to refuse it.
      if (candidates.length >= limits.maxFiles * 2 + 100) {
        throw tooLarge(`Too many files in ${input.dir}; the limit is ${limits.maxFiles}`);
      }
      candidates.push({
        path,
        load: async (): Promise<Loaded> => {
          // Re-check at read time: the tree may have changed since it was listed.
          const real = await realpath(abs);
          if (real !== root && !real.startsWith(`${root}${nodePath.sep}`)) {
            return { kind: "skip", reason: "resolves outside the directory" };
          }
          const stat = await lstat(abs);
          if (!stat.isFile()) return { kind: "skip", reason: "not a regular file" };
          totalBytes += stat.size;
          if (totalBytes > limits.maxTotalUncompressedBytes) {
            throw tooLarge(`${input.dir} holds more than ${mb(limits.maxTotalUncompressedBytes)} of files`);
          }
          if (stat.size <= limits.maxFileBytes) {
            const handle = await open(abs, "r");
            try {
              return classifyBytes(await handle.readFile());
            } finally {
              await handle.close();
            }
          }
          const head = Buffer.alloc(SNIFF_BYTES);
          const handle = await open(abs, "r");
          try {
            await handle.read(head, 0, SNIFF_BYTES, 0);
          } finally {
            await handle.close();
          }
          if (!head.includes(0))
            return { kind: "skip", reason: `text file larger than ${mb(limits.maxFileBytes)}` };
          const hash = await new Promise<string>((resolve, reject) => {
            const h = createHash("sha256");
            createReadStream(abs)
              .on("data", (chunk) => h.update(chunk))
              .on("error", reject)
              .on("end", () => resolve(h.digest("hex")));
          });
          return { kind: "binary", size: stat.size, sha256: hash };
        },
      });
    }
  };
  await walk(root, "");
  const selected = selectCandidates(candidates, limits, skipped);
  const prepared = await loadAll(selected, skipped);
  const counts = await writeImport(
    { userId: input.userId, projectId: input.projectId },
    prepared,
    skipped,
    deps,
  );
  return { ...counts, skipped };
}
