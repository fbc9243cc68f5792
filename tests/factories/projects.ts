import { createHash } from "node:crypto";
import { crc32, createDeflateRaw, deflateRawSync } from "node:zlib";
import type { DbOrTx, Prisma } from "#app/db/client.server.ts";

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/** A project owned by `userId`. */
export function createProject(
  db: DbOrTx,
  { userId, ...overrides }: { userId: string } & Partial<Prisma.ProjectUncheckedCreateInput>,
) {
  return db.project.create({
    data: { userId, name: `Project ${Math.random().toString(36).slice(2, 8)}`, ...overrides },
  });
}

/**
 * A file (CodeSnippet) at version 1 with its first FileVersion, as a real save would write them.
 * size and sha256 follow the content.
 */
export function createFile(
  db: DbOrTx,
  {
    userId,
    projectId,
    path = `src/file-${Math.random().toString(36).slice(2, 8)}.ts`,
    content = "export const answer = 42;\n",
    language = "typescript",
  }: { userId: string; projectId: string; path?: string; content?: string; language?: string | null },
) {
  const size = Buffer.byteLength(content);
  const hash = sha256(content);
  return db.codeSnippet.create({
    data: {
      userId,
      projectId,
      path,
      content,
      language,
      size,
      sha256: hash,
      version: 1,
      versions: {
        create: { userId, projectId, version: 1, path, content, size, sha256: hash, source: "create" },
      },
    },
    include: { versions: true },
  });
}

/** One entry of a hand-built zip: enough knobs to forge what real archivers (and attackers) write. */
export type ZipEntrySpec = {
  name: string;
  /** Content (stored or deflated per `method`); ignored when `raw` is given. */
  data?: Uint8Array | string;
  /** 8 deflate (default), 0 stored. */
  method?: 0 | 8;
  /** Already-compressed bytes with their crc and real size (for bombs built without holding them). */
  raw?: { compressed: Uint8Array; crc: number; size: number };
  /** Uncompressed size written in the headers; defaults to the real one (a bomb may lie). */
  declaredSize?: number;
  /** Unix st_mode in the upper 16 bits of the external attributes, e.g. 0o120777 for a symlink. */
  unixMode?: number;
  /** General-purpose flags, e.g. 1 for "encrypted". UTF-8 (0x800) is added for non-ASCII names. */
  flags?: number;
};

/**
 * A zip archive built byte by byte (local headers, central directory, end record), so tests can make
 * entries fflate or zip(1) never would: symlinks, encrypted flags, lying sizes, `../` names.
 */
export function buildZip(entries: ZipEntrySpec[]): Uint8Array {
  const chunks: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const spec of entries) {
    const name = Buffer.from(spec.name, "utf8");
    let compressed: Buffer;
    let crc: number;
    let size: number;
    const method = spec.method ?? 8;
    if (spec.raw) {
      compressed = Buffer.from(spec.raw.compressed);
      crc = spec.raw.crc;
      size = spec.raw.size;
    } else {
      const data =
        typeof spec.data === "string" ? Buffer.from(spec.data, "utf8") : Buffer.from(spec.data ?? []);
      compressed = method === 8 ? deflateRawSync(data) : data;
      crc = crc32(data);
      size = data.byteLength;
    }
    const declared = spec.declaredSize ?? size;
    const flags = (spec.flags ?? 0) | (name.byteLength !== spec.name.length ? 0x800 : 0);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(flags, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt32LE(crc >>> 0, 14);
    local.writeUInt32LE(compressed.byteLength, 18);
    local.writeUInt32LE(declared, 22);
    local.writeUInt16LE(name.byteLength, 26);
    chunks.push(local, name, compressed);

    const entry = Buffer.alloc(46);
    entry.writeUInt32LE(0x02014b50, 0);
    entry.writeUInt16LE(spec.unixMode !== undefined ? (3 << 8) | 20 : 20, 4);
    entry.writeUInt16LE(20, 6);
    entry.writeUInt16LE(flags, 8);
    entry.writeUInt16LE(method, 10);
    entry.writeUInt32LE(crc >>> 0, 16);
    entry.writeUInt32LE(compressed.byteLength, 20);
    entry.writeUInt32LE(declared, 24);
    entry.writeUInt16LE(name.byteLength, 28);
    entry.writeUInt32LE(spec.unixMode !== undefined ? (spec.unixMode << 16) >>> 0 : 0, 38);
    entry.writeUInt32LE(offset, 42);
    central.push(entry, name);
    offset += local.byteLength + name.byteLength + compressed.byteLength;
  }
  const directory = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.byteLength, 12);
  end.writeUInt32LE(offset, 16);
  return new Uint8Array(Buffer.concat([...chunks, directory, end]));
}

/**
 * `size` bytes of zeros, deflated a megabyte at a time: a bomb's payload without ever holding it.
 * 200 MB deflates to about 200 KB.
 */
export async function deflatedZeros(
  size: number,
): Promise<{ compressed: Uint8Array; crc: number; size: number }> {
  const block = Buffer.alloc(1024 * 1024);
  const deflate = createDeflateRaw({ level: 9 });
  const out: Buffer[] = [];
  deflate.on("data", (chunk: Buffer) => out.push(chunk));
  const done = new Promise<void>((resolve, reject) => deflate.on("end", resolve).on("error", reject));
  let crc = 0;
  for (let left = size; left > 0; left -= block.byteLength) {
    const piece = left >= block.byteLength ? block : block.subarray(0, left);
    crc = crc32(piece, crc);
    if (!deflate.write(piece)) await new Promise((resolve) => deflate.once("drain", resolve));
  }
  deflate.end();
  await done;
  return { compressed: new Uint8Array(Buffer.concat(out)), crc, size };
}
