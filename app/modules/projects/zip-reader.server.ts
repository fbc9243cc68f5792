/**
 * A small, strict reader of zip archives for imports: it lists entries from the central directory (the
 * archive's own index, which is what says whether an entry is a symlink, a folder or encrypted) and
 * inflates one entry at a time with a hard cap on its output, so a lying or malicious archive costs
 * bounded time and memory.
 *
 * fflate's one-shot unzip would inflate whole entries before we can count them, and its streaming
 * reader only sees local headers (no external attributes, so no symlink bit): hence this reader.
 * Inflation is Node's zlib with `maxOutputLength`, which stops as soon as the cap is passed.
 */
import { createHash } from "node:crypto";
import { crc32, inflateRawSync } from "node:zlib";
import { Inflate } from "fflate";
import { AppError } from "#app/lib/app-error.ts";

export type ZipEntry = {
  /** The name as stored (decoded from UTF-8 when flagged or valid, else Latin-1). */
  name: string;
  /** 0 stored, 8 deflate; anything else is unsupported. */
  method: number;
  /** General-purpose flags; bit 0 = encrypted. */
  flags: number;
  crc32: number;
  compressedSize: number;
  /** As declared by the archive; inflation never produces more than this. */
  uncompressedSize: number;
  localHeaderOffset: number;
  /** Upper byte of "version made by": 0 MS-DOS, 3 Unix, 19 macOS... */
  hostSystem: number;
  externalAttributes: number;
  isDirectory: boolean;
  isSymlink: boolean;
  isEncrypted: boolean;
};

const EOCD_SIGNATURE = 0x06054b50;
const ZIP64_LOCATOR_SIGNATURE = 0x07064b50;
const ZIP64_EOCD_SIGNATURE = 0x06064b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;

const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;
const S_IFDIR = 0o040000;
const DOS_DIRECTORY = 0x10;

const corrupt = (why: string) => new AppError("BAD_REQUEST", `Not a valid zip archive: ${why}`);

const utf8 = new TextDecoder("utf-8", { fatal: true });
const latin1 = new TextDecoder("latin1");

function decodeName(bytes: Uint8Array, utf8Flag: boolean): string {
  if (utf8Flag) {
    try {
      return utf8.decode(bytes);
    } catch {
      throw corrupt("an entry name is not valid UTF-8");
    }
  }
  // Many tools (macOS Archive Utility among them) write UTF-8 without setting the flag.
  try {
    return utf8.decode(bytes);
  } catch {
    return latin1.decode(bytes);
  }
}

/**
 * The entries of a zip archive, from its central directory. BAD_REQUEST for anything that is not a
 * well-formed zip; `maxEntries` bounds the work a directory of millions of empty entries could cause.
 */
export function readZipEntries(data: Uint8Array, { maxEntries }: { maxEntries: number }): ZipEntry[] {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const size = data.byteLength;
  if (size < 22) throw corrupt("too short");

  // The end-of-central-directory record is in the last 22 + 65,535 (comment) bytes.
  let eocd = -1;
  for (let i = size - 22; i >= Math.max(0, size - 22 - 0xffff); i -= 1) {
    if (view.getUint32(i, true) === EOCD_SIGNATURE) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw corrupt("no end of central directory (is it a zip file?)");

  let count = view.getUint16(eocd + 10, true);
  let directorySize = view.getUint32(eocd + 12, true);
  let directoryOffset = view.getUint32(eocd + 16, true);

  if (count === 0xffff || directorySize === 0xffffffff || directoryOffset === 0xffffffff) {
    const locator = eocd - 20;
    if (locator < 0 || view.getUint32(locator, true) !== ZIP64_LOCATOR_SIGNATURE) {
      throw corrupt("zip64 locator missing");
    }
    const record = Number(view.getBigUint64(locator + 8, true));
    if (record + 56 > size || view.getUint32(record, true) !== ZIP64_EOCD_SIGNATURE) {
      throw corrupt("zip64 end of central directory missing");
    }
    count = Number(view.getBigUint64(record + 32, true));
    directorySize = Number(view.getBigUint64(record + 40, true));
    directoryOffset = Number(view.getBigUint64(record + 48, true));
  }
  if (count > maxEntries) {
    throw new AppError(
      "PAYLOAD_TOO_LARGE",
      `The archive has ${count} entries; at most ${maxEntries} are read`,
    );
  }
  if (directoryOffset + directorySize > size) throw corrupt("central directory out of bounds");

  const entries: ZipEntry[] = [];
  let at = directoryOffset;
  for (let i = 0; i < count; i += 1) {
    if (at + 46 > size || view.getUint32(at, true) !== CENTRAL_SIGNATURE) {
      throw corrupt("truncated central directory");
    }
    const madeBy = view.getUint16(at + 4, true);
    const flags = view.getUint16(at + 8, true);
    const method = view.getUint16(at + 10, true);
    const crc = view.getUint32(at + 16, true);
    let compressedSize = view.getUint32(at + 20, true);
    let uncompressedSize = view.getUint32(at + 24, true);
    const nameLength = view.getUint16(at + 28, true);
    const extraLength = view.getUint16(at + 30, true);
    const commentLength = view.getUint16(at + 32, true);
    const externalAttributes = view.getUint32(at + 38, true);
    let localHeaderOffset = view.getUint32(at + 42, true);
    const nameStart = at + 46;
    const extraStart = nameStart + nameLength;
    const next = extraStart + extraLength + commentLength;
    if (next > size) throw corrupt("truncated central directory entry");

    // Zip64: the real values of the fields set to 0xFFFFFFFF, in this order, in extra field 0x0001.
    if (
      uncompressedSize === 0xffffffff ||
      compressedSize === 0xffffffff ||
      localHeaderOffset === 0xffffffff
    ) {
      let e = extraStart;
      while (e + 4 <= extraStart + extraLength) {
        const id = view.getUint16(e, true);
        const length = view.getUint16(e + 2, true);
        if (id === 0x0001) {
          let f = e + 4;
          const read = () => {
            if (f + 8 > e + 4 + length) throw corrupt("short zip64 extra field");
            const value = Number(view.getBigUint64(f, true));
            f += 8;
            return value;
          };
          if (uncompressedSize === 0xffffffff) uncompressedSize = read();
          if (compressedSize === 0xffffffff) compressedSize = read();
          if (localHeaderOffset === 0xffffffff) localHeaderOffset = read();
          break;
        }
        e += 4 + length;
      }
    }

    const name = decodeName(data.subarray(nameStart, extraStart), (flags & 0x0800) !== 0);
    const hostSystem = madeBy >>> 8;
    const unixMode = externalAttributes >>> 16;
    // Unix hosts (and macOS, 19) keep st_mode in the upper 16 bits; others may leave them zero.
    const isSymlink = (unixMode & S_IFMT) === S_IFLNK;
    const isDirectory =
      name.endsWith("/") ||
      (unixMode & S_IFMT) === S_IFDIR ||
      (hostSystem === 0 && (externalAttributes & DOS_DIRECTORY) !== 0);
    entries.push({
      name,
      method,
      flags,
      crc32: crc,
      compressedSize,
      uncompressedSize,
      localHeaderOffset,
      hostSystem,
      externalAttributes,
      isDirectory,
      isSymlink,
      isEncrypted: (flags & 0x0001) !== 0,
    });
    at = next;
  }
  return entries;
}

/** Where an entry's compressed bytes start: after its local header, whose name/extra lengths may differ. */
function dataStart(data: Uint8Array, entry: ZipEntry): number {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const at = entry.localHeaderOffset;
  if (at + 30 > data.byteLength || view.getUint32(at, true) !== LOCAL_SIGNATURE) {
    throw corrupt(`bad local header for ${entry.name}`);
  }
  const start = at + 30 + view.getUint16(at + 26, true) + view.getUint16(at + 28, true);
  if (start + entry.compressedSize > data.byteLength) throw corrupt(`${entry.name} is truncated`);
  return start;
}

/**
 * The bytes of one entry. Inflation stops as soon as the output passes the size the archive declared
 * (a lying header is how bombs get past size checks), and the CRC-32 is verified.
 */
export function inflateEntry(data: Uint8Array, entry: ZipEntry): Uint8Array {
  const start = dataStart(data, entry);
  const compressed = data.subarray(start, start + entry.compressedSize);
  let out: Uint8Array;
  if (entry.method === 0) {
    if (entry.compressedSize !== entry.uncompressedSize)
      throw corrupt(`${entry.name} has inconsistent sizes`);
    out = compressed;
  } else if (entry.method === 8) {
    if (entry.uncompressedSize === 0) {
      out = new Uint8Array(0);
    } else {
      try {
        out = inflateRawSync(compressed, { maxOutputLength: entry.uncompressedSize });
      } catch (error) {
        if ((error as { code?: string }).code === "ERR_BUFFER_TOO_LARGE") {
          throw new AppError(
            "PAYLOAD_TOO_LARGE",
            `${entry.name} inflates to more than the ${entry.uncompressedSize} bytes its header declares: refused as a zip bomb`,
          );
        }
        throw corrupt(`${entry.name} cannot be inflated (${(error as Error).message})`);
      }
    }
  } else {
    throw corrupt(`${entry.name} uses unsupported compression method ${entry.method}`);
  }
  if (out.byteLength !== entry.uncompressedSize) throw corrupt(`${entry.name} has the wrong size`);
  if (crc32(out) >>> 0 !== entry.crc32) throw corrupt(`${entry.name} fails its CRC check`);
  return out;
}

/** What {@link scanEntry} learns about an entry without holding all of it. */
export type EntryScan = { head: Uint8Array; size: number; sha256: string };

/**
 * Stream one (large) entry through fflate's Inflate in small input slices, hashing it and keeping only
 * its first `headBytes`: memory stays at a few MB whatever the entry's size. Same guards as
 * {@link inflateEntry}: declared size never exceeded, CRC-32 verified.
 */
export function scanEntry(data: Uint8Array, entry: ZipEntry, headBytes: number): EntryScan {
  const start = dataStart(data, entry);
  const compressed = data.subarray(start, start + entry.compressedSize);
  const hash = createHash("sha256");
  const head = new Uint8Array(Math.min(headBytes, entry.uncompressedSize));
  let size = 0;
  let crc = 0;
  const take = (chunk: Uint8Array) => {
    if (size + chunk.byteLength > entry.uncompressedSize) {
      throw new AppError(
        "PAYLOAD_TOO_LARGE",
        `${entry.name} inflates to more than the ${entry.uncompressedSize} bytes its header declares: refused as a zip bomb`,
      );
    }
    if (size < head.byteLength) head.set(chunk.subarray(0, head.byteLength - size), size);
    hash.update(chunk);
    crc = crc32(chunk, crc);
    size += chunk.byteLength;
  };
  if (entry.method === 0) {
    if (entry.compressedSize !== entry.uncompressedSize)
      throw corrupt(`${entry.name} has inconsistent sizes`);
    take(compressed);
  } else if (entry.method === 8) {
    // One 4 KB slice of deflate inflates to at most ~4.2 MB (deflate's ratio is bounded by ~1032:1).
    const inflater = new Inflate((chunk) => take(chunk));
    const SLICE = 4 * 1024;
    try {
      for (let offset = 0; offset < compressed.byteLength; offset += SLICE) {
        const end = Math.min(offset + SLICE, compressed.byteLength);
        inflater.push(compressed.subarray(offset, end), end === compressed.byteLength);
      }
      if (compressed.byteLength === 0) inflater.push(new Uint8Array(0), true);
    } catch (error) {
      if (error instanceof AppError) throw error;
      throw corrupt(`${entry.name} cannot be inflated (${(error as Error).message})`);
    }
  } else {
    throw corrupt(`${entry.name} uses unsupported compression method ${entry.method}`);
  }
  if (size !== entry.uncompressedSize) throw corrupt(`${entry.name} has the wrong size`);
  if (crc >>> 0 !== entry.crc32) throw corrupt(`${entry.name} fails its CRC check`);
  return { head, size, sha256: hash.digest("hex") };
}
