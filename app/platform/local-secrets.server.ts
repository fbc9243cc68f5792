import { hkdfSync, randomBytes } from "node:crypto";
import { constants as fsConstants } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { z } from "zod";

/**
 * Secrets a local install generates for itself at first start, kept in
 * `<dataDir>/secrets.json` (mode 0600, git-ignored with the rest of `.data`).
 * Production deployments pass these through the environment instead.
 *
 * Agreement between processes without a lock:
 * - The file is created with link(2) from a fully written temp file. Unlike
 *   rename, link refuses to replace an existing file, so when two processes
 *   start at once exactly one file wins and the loser reads the winner's.
 * - Every secret that is missing (a field added by a later version, or the
 *   first creation) is derived from the stored `seed` with HKDF, so two
 *   processes filling in the same missing field compute the same value and an
 *   overwrite between them is harmless.
 * - `postgresPort` is a preference, not a secret: updates are last-writer-wins.
 *
 * Values are never logged; errors name the file, never its content.
 */

const SECRETS_FILE = "secrets.json";
const FILE_MODE = 0o600;
const DIR_MODE = 0o700;

const base64Of = (bytes: number) =>
  z
    .string()
    .regex(/^[A-Za-z0-9+/]+={0,2}$/, "must be base64")
    .refine((v) => Buffer.from(v, "base64").length === bytes, `must decode to ${bytes} bytes`);

const ZSecretValue = z.string().min(16, "too short to be a secret").max(512);

/** What `secrets.json` holds. Unknown keys are kept on disk so a newer version's fields survive an older one. */
export const ZLocalSecrets = z.object({
  /** Password of the embedded PostgreSQL superuser `postgres`. URL-safe. */
  postgresPassword: ZSecretValue.regex(/^[A-Za-z0-9_-]+$/, "must be URL-safe (base64url)"),
  /** HMAC key for access JWTs. */
  jwtSecret: ZSecretValue,
  /** AES-256-GCM key for stored provider credentials: 32 bytes, standard base64. */
  encryptionKey: base64Of(32),
  /** Port the embedded PostgreSQL listened on last time, reused so URLs stay stable. */
  postgresPort: z.number().int().min(1).max(65535).optional(),
});
export type LocalSecrets = z.infer<typeof ZLocalSecrets>;

type SecretField = Exclude<keyof LocalSecrets, "postgresPort">;

/** How each secret is encoded from 32 bytes of key material. Adding a field here upgrades old files in place. */
const DERIVED: Record<SecretField, (bytes: Buffer) => string> = {
  postgresPassword: (b) => b.subarray(0, 24).toString("base64url"),
  jwtSecret: (b) => b.toString("base64url"),
  encryptionKey: (b) => b.toString("base64"),
};

const ZStored = z.looseObject({
  version: z.literal(1),
  /** Root key material; only used to derive fields that are missing. */
  seed: base64Of(32),
});

export class LocalSecretsError extends Error {
  override readonly name = "LocalSecretsError";
}

function deriveField(seed: string, field: SecretField): string {
  const key = hkdfSync(
    "sha256",
    Buffer.from(seed, "base64"),
    Buffer.alloc(0),
    `agentry/local-secrets/${field}`,
    32,
  );
  return DERIVED[field](Buffer.from(key));
}

async function readStored(file: string): Promise<Record<string, unknown> | undefined> {
  let text: string;
  try {
    text = await fs.readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    // Overwriting would lose the database password and the encryption key: make a human look.
    throw new LocalSecretsError(
      `${file} is not valid JSON; fix or remove it (removing it loses stored secrets)`,
    );
  }
  const parsed = ZStored.safeParse(json);
  if (!parsed.success) {
    const fields = parsed.error.issues.map((i) => i.path.join(".") || "(root)").join(", ");
    throw new LocalSecretsError(`${file} is malformed (${fields}); fix or remove it`);
  }
  return parsed.data;
}

/** Fill every missing secret from the seed; returns whether anything was added. */
function complete(stored: Record<string, unknown>): boolean {
  const seed = stored.seed as string;
  let changed = false;
  for (const field of Object.keys(DERIVED) as SecretField[]) {
    if (stored[field] === undefined) {
      stored[field] = deriveField(seed, field);
      changed = true;
    }
  }
  return changed;
}

function toSecrets(file: string, stored: Record<string, unknown>): LocalSecrets {
  const parsed = ZLocalSecrets.safeParse(stored);
  if (!parsed.success) {
    const fields = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
    throw new LocalSecretsError(`${file} holds invalid values (${fields}); fix or remove them`);
  }
  return parsed.data;
}

async function writeTemp(dir: string, content: string): Promise<string> {
  const temp = path.join(dir, `.${SECRETS_FILE}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
  const handle = await fs.open(temp, "wx", FILE_MODE);
  try {
    await handle.writeFile(content, "utf8");
    await handle.sync();
  } finally {
    await handle.close();
  }
  return temp;
}

async function syncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, fsConstants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

const serialise = (stored: Record<string, unknown>) => `${JSON.stringify(stored, null, 2)}\n`;

/** Create the file only if absent. Returns false when another process created it first. */
async function createExclusive(dir: string, file: string, stored: Record<string, unknown>): Promise<boolean> {
  const temp = await writeTemp(dir, serialise(stored));
  try {
    await fs.link(temp, file);
    await syncDir(dir);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  } finally {
    await fs.unlink(temp).catch(() => undefined);
  }
}

/** Replace the file atomically: readers see the old or the new content, never a torn one. */
async function replace(dir: string, file: string, stored: Record<string, unknown>): Promise<void> {
  const temp = await writeTemp(dir, serialise(stored));
  try {
    await fs.rename(temp, file);
  } catch (error) {
    await fs.unlink(temp).catch(() => undefined);
    throw error;
  }
  await syncDir(dir);
}

async function tightenMode(file: string): Promise<void> {
  const stat = await fs.stat(file);
  // A copy or restore can leave the file group/world-readable; secrets must not be.
  if ((stat.mode & 0o077) !== 0 && (process.getuid === undefined || stat.uid === process.getuid())) {
    await fs.chmod(file, FILE_MODE);
  }
}

/**
 * Load `<dataDir>/secrets.json`, creating it (and `dataDir`, mode 0700) at first use.
 * Concurrent callers, in this process or others, get identical values.
 * Throws {@link LocalSecretsError} when the file exists but is unreadable as secrets:
 * it is never overwritten, since that would orphan the database and encrypted data.
 */
export async function loadOrCreateLocalSecrets(dataDir: string): Promise<LocalSecrets> {
  const dir = path.resolve(dataDir);
  const file = path.join(dir, SECRETS_FILE);
  // Parents get the default mode (like mkdir -p) and only dataDir itself is closed: a 0700
  // parent would keep the embedded PostgreSQL's OS user from reaching `<dataDir>/postgres`.
  await fs.mkdir(path.dirname(dir), { recursive: true });
  await fs.mkdir(dir, { mode: DIR_MODE }).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== "EEXIST") throw error;
  });

  let stored = await readStored(file);
  if (stored === undefined) {
    const fresh: Record<string, unknown> = { version: 1, seed: randomBytes(32).toString("base64") };
    complete(fresh);
    if (!(await createExclusive(dir, file, fresh))) {
      // Lost the race: the winner's file is complete and final.
      stored = await readStored(file);
      if (stored === undefined) throw new LocalSecretsError(`${file} vanished while being created`);
    } else {
      stored = fresh;
    }
  }

  const changed = complete(stored);
  // Validate before any write: a file with a bad value is reported, never rewritten.
  const secrets = toSecrets(file, stored);
  if (changed) await replace(dir, file, stored);
  await tightenMode(file);
  return secrets;
}

/**
 * Change non-secret preferences kept next to the secrets (today: `postgresPort`).
 * Last writer wins; secrets themselves are never changed here.
 */
export async function updateLocalSecrets(
  dataDir: string,
  patch: Pick<LocalSecrets, "postgresPort">,
): Promise<LocalSecrets> {
  const dir = path.resolve(dataDir);
  const file = path.join(dir, SECRETS_FILE);
  await loadOrCreateLocalSecrets(dir);
  const stored = await readStored(file);
  if (stored === undefined) throw new LocalSecretsError(`${file} vanished while being updated`);
  complete(stored);
  const next = { ...stored, ...ZLocalSecrets.pick({ postgresPort: true }).parse(patch) };
  await replace(dir, file, next);
  return toSecrets(file, next);
}
