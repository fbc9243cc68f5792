import { createHash, randomUUID } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { Logger as GraphileLogger, runMigrations as runGraphileWorkerMigrations } from "graphile-worker";
import pg from "pg";

/**
 * Applies `prisma/migrations/<name>/migration.sql` the way `prisma migrate deploy` does, without
 * Prisma's native schema-engine binary (which cannot be downloaded offline):
 *
 * - one session-level advisory lock, the very key Prisma Migrate uses (72707369), so two of our
 *   processes booting at once, or ours and a real `prisma migrate deploy`, never interleave;
 * - each migration in its own transaction, together with its `_prisma_migrations` row: a failed
 *   migration leaves neither schema changes nor a half-written record behind;
 * - rows written exactly as Prisma writes them (uuid id, sha256 hex checksum of the file,
 *   started_at, finished_at, applied_steps_count = 1), so Prisma's tools agree with us;
 * - refuses to continue when an applied migration's file was edited (checksum changed) or when
 *   Prisma recorded a failed migration that nobody resolved.
 *
 * Then it runs graphile-worker's own migrations, so its schema exists before any request.
 *
 * Not supported (as with Prisma on PostgreSQL inside a transaction): statements that cannot run
 * in a transaction block, such as CREATE INDEX CONCURRENTLY or ALTER TYPE ... ADD VALUE followed
 * by a use of the new value in the same migration.
 */

/** Prisma Migrate's advisory lock key (prisma-engines, sql-schema-connector, postgres flavour). */
export const PRISMA_MIGRATE_LOCK_KEY = 72707369;

/** The subset of a pino logger this module uses. */
export type MigrationLogger = {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  debug?(obj: object, msg?: string): void;
};

export type MigrationErrorCode =
  | "CHECKSUM_MISMATCH"
  | "FAILED_MIGRATION_RECORDED"
  | "MIGRATION_FAILED"
  | "LOCK_TIMEOUT"
  | "DATABASE_NOT_EMPTY"
  | "BAD_MIGRATIONS_DIRECTORY";

export class MigrationError extends Error {
  override readonly name = "MigrationError";
  constructor(
    readonly code: MigrationErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export type LocalMigration = {
  /** Directory name, e.g. `20261129120000_init`. */
  name: string;
  sql: string;
  /** sha256 of the file, hex: what Prisma stores in `_prisma_migrations.checksum`. */
  checksum: string;
};

export type MigrateOptions = {
  connectionString: string;
  /** Folder holding `<name>/migration.sql` and `migration_lock.toml`. Default `./prisma/migrations` (from the working directory). */
  migrationsDir?: string;
  /** Default: silent. */
  logger?: MigrationLogger;
  /** How long to wait for another process's migration run to finish. Default 60 000 ms. */
  lockTimeoutMs?: number;
  /** Also run graphile-worker's migrations after ours. Default true. */
  graphileWorker?: boolean;
};

/** Exactly the table Prisma Migrate creates (prisma-engines, postgres flavour). */
const CREATE_MIGRATIONS_TABLE = `
CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    id                      VARCHAR(36) PRIMARY KEY NOT NULL,
    checksum                VARCHAR(64) NOT NULL,
    finished_at             TIMESTAMPTZ,
    migration_name          VARCHAR(255) NOT NULL,
    logs                    TEXT,
    rolled_back_at          TIMESTAMPTZ,
    started_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    applied_steps_count     INTEGER NOT NULL DEFAULT 0
)`;

const silentLogger: MigrationLogger = { info() {}, warn() {} };

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/**
 * Does `sql` match a checksum Prisma recorded? Like Prisma, we accept the file with its line
 * endings as they are, as LF and as CRLF, since git may have converted them on checkout.
 */
export function checksumMatches(sql: string, checksum: string): boolean {
  return [sql, sql.replaceAll("\r\n", "\n"), sql.replaceAll("\r\n", "\n").replaceAll("\n", "\r\n")].some(
    (variant) => sha256(variant) === checksum,
  );
}

/** Read the migrations folder: one directory per migration, sorted by name as Prisma does. */
export async function readMigrations(migrationsDir: string): Promise<LocalMigration[]> {
  let entries: import("node:fs").Dirent[];
  try {
    entries = await readdir(migrationsDir, { withFileTypes: true });
  } catch (error) {
    throw new MigrationError(
      "BAD_MIGRATIONS_DIRECTORY",
      `cannot read the migrations directory ${migrationsDir}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const lock = await readFile(path.join(migrationsDir, "migration_lock.toml"), "utf8").catch(() => undefined);
  if (lock !== undefined && !/^\s*provider\s*=\s*"postgresql"\s*$/m.test(lock)) {
    throw new MigrationError(
      "BAD_MIGRATIONS_DIRECTORY",
      `${path.join(migrationsDir, "migration_lock.toml")} does not name provider "postgresql"`,
    );
  }
  const names = entries
    .filter((e) => e.isDirectory() && !e.name.startsWith("."))
    .map((e) => e.name)
    .sort();
  return Promise.all(
    names.map(async (name) => {
      const file = path.join(migrationsDir, name, "migration.sql");
      const sql = await readFile(file, "utf8").catch((error: Error) => {
        throw new MigrationError("BAD_MIGRATIONS_DIRECTORY", `cannot read ${file}: ${error.message}`, {
          cause: error,
        });
      });
      return { name, sql, checksum: sha256(sql) };
    }),
  );
}

type MigrationRow = {
  id: string;
  checksum: string;
  migration_name: string;
  finished_at: Date | null;
  rolled_back_at: Date | null;
  logs: string | null;
};

async function migrationsTableExists(client: pg.Client): Promise<boolean> {
  const { rows } = await client.query<{ exists: boolean }>(
    `SELECT to_regclass('"_prisma_migrations"') IS NOT NULL AS exists`,
  );
  return rows[0]?.exists === true;
}

async function readRows(client: pg.Client): Promise<MigrationRow[]> {
  const { rows } = await client.query<MigrationRow>(
    `SELECT id, checksum, migration_name, finished_at, rolled_back_at, logs
       FROM "_prisma_migrations" ORDER BY started_at, migration_name`,
  );
  return rows;
}

/** Rows that count as applied: finished and not rolled back (Prisma ignores rolled-back rows). */
const isApplied = (row: MigrationRow) => row.finished_at !== null && row.rolled_back_at === null;
/** What Prisma calls a failed migration: started, never finished, never marked rolled back. */
const isFailed = (row: MigrationRow) => row.finished_at === null && row.rolled_back_at === null;

async function connect(connectionString: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString, application_name: "agentry-migrate" });
  // A dropped connection must surface as a failed query, not as an unhandled 'error' event.
  client.on("error", () => {});
  await client.connect();
  return client;
}

/**
 * Apply every migration not yet applied, then graphile-worker's. Safe to call from several
 * processes at once: they queue on the advisory lock and the later ones find nothing to do.
 *
 * @returns the names of the migrations this call applied, in order (graphile-worker's are not listed).
 * @throws {MigrationError} with a code saying what to fix.
 */
export async function migrate({
  connectionString,
  migrationsDir = path.resolve("prisma", "migrations"),
  logger = silentLogger,
  lockTimeoutMs = 60_000,
  graphileWorker = true,
}: MigrateOptions): Promise<{ applied: string[] }> {
  const local = await readMigrations(migrationsDir);
  const client = await connect(connectionString);
  const applied: string[] = [];
  try {
    await acquireLock(client, lockTimeoutMs);
    try {
      if (!(await migrationsTableExists(client))) {
        await refuseNonEmptySchema(client);
        await client.query(CREATE_MIGRATIONS_TABLE);
      }
      const rows = await readRows(client);
      checkHistory(rows, local, logger);
      const done = new Set(rows.filter(isApplied).map((r) => r.migration_name));
      for (const migration of local) {
        if (done.has(migration.name)) continue;
        const started = performance.now();
        await applyOne(client, migration);
        applied.push(migration.name);
        logger.info(
          { migration: migration.name, ms: Math.round(performance.now() - started) },
          "migration applied",
        );
      }
      if (graphileWorker) await migrateGraphileWorker(connectionString, logger);
    } finally {
      await client.query("SELECT pg_advisory_unlock($1)", [PRISMA_MIGRATE_LOCK_KEY]).catch(() => {});
    }
  } finally {
    await client.end().catch(() => {});
  }
  return { applied };
}

async function acquireLock(client: pg.Client, lockTimeoutMs: number): Promise<void> {
  // lock_timeout bounds the wait for an advisory lock too; reset it so migrations themselves
  // may wait for locks as long as they need.
  await client.query(`SET lock_timeout = ${Math.max(1, Math.floor(lockTimeoutMs))}`);
  try {
    await client.query("SELECT pg_advisory_lock($1)", [PRISMA_MIGRATE_LOCK_KEY]);
  } catch (error) {
    if ((error as { code?: string }).code === "55P03") {
      throw new MigrationError(
        "LOCK_TIMEOUT",
        `another process held the migration lock (pg_advisory_lock(${PRISMA_MIGRATE_LOCK_KEY})) for more than ${lockTimeoutMs} ms. Is a migration still running? Find it with: SELECT pid, state, query FROM pg_stat_activity WHERE pid IN (SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = ${PRISMA_MIGRATE_LOCK_KEY})`,
        { cause: error },
      );
    }
    throw error;
  } finally {
    await client.query("SET lock_timeout = 0");
  }
}

/** Prisma refuses (P3005) to migrate a database that has tables but no migration history. */
async function refuseNonEmptySchema(client: pg.Client): Promise<void> {
  const { rows } = await client.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm') ORDER BY 1 LIMIT 5`,
  );
  if (rows.length > 0) {
    throw new MigrationError(
      "DATABASE_NOT_EMPTY",
      `the database schema is not empty (${rows.map((r) => r.name).join(", ")}, ...) but has no _prisma_migrations table: it was not created by these migrations. Use an empty database, or baseline it (https://pris.ly/d/migrate-baseline).`,
    );
  }
}

function checkHistory(rows: MigrationRow[], local: LocalMigration[], logger: MigrationLogger): void {
  const failed = rows.filter(isFailed);
  if (failed.length > 0) {
    const list = failed.map((r) => `  - ${r.migration_name}${r.logs ? `: ${r.logs.split("\n")[0]}` : ""}`);
    throw new MigrationError(
      "FAILED_MIGRATION_RECORDED",
      `_prisma_migrations records failed migration(s) that were never resolved:\n${list.join("\n")}\nRepair the database by hand, then mark each one rolled back (prisma migrate resolve --rolled-back <name>, or UPDATE "_prisma_migrations" SET rolled_back_at = now() WHERE id = '<id>') and migrate again.`,
    );
  }
  const byName = new Map(local.map((m) => [m.name, m]));
  const edited: string[] = [];
  for (const row of rows.filter(isApplied)) {
    const file = byName.get(row.migration_name);
    if (!file) {
      logger.warn(
        { migration: row.migration_name },
        "migration applied to the database is missing from the migrations directory (is this code older than the database?)",
      );
    } else if (!checksumMatches(file.sql, row.checksum)) {
      edited.push(row.migration_name);
    }
  }
  if (edited.length > 0) {
    throw new MigrationError(
      "CHECKSUM_MISMATCH",
      `migration file(s) changed after they were applied: ${edited.join(", ")}. Applied migrations are history: restore the original file(s) (git checkout) and put the change in a new migration.`,
    );
  }
}

async function applyOne(client: pg.Client, migration: LocalMigration): Promise<void> {
  await client.query("BEGIN");
  try {
    const id = randomUUID();
    await client.query(
      `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, applied_steps_count)
       VALUES ($1, $2, $3, clock_timestamp(), 0)`,
      [id, migration.checksum, migration.name],
    );
    // No parameters: the simple query protocol runs the whole multi-statement script.
    await client.query(migration.sql);
    await client.query(
      `UPDATE "_prisma_migrations" SET finished_at = clock_timestamp(), applied_steps_count = 1 WHERE id = $1`,
      [id],
    );
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    throw new MigrationError(
      "MIGRATION_FAILED",
      `migration ${migration.name} failed and was rolled back: ${describePgError(error, migration.sql)}`,
      { cause: error },
    );
  }
}

/** The PostgreSQL error with the line of the script it points at, when it says. */
function describePgError(error: unknown, sql: string): string {
  const e = error as { message?: string; code?: string; position?: string };
  let text = e.message ?? String(error);
  if (e.code) text += ` (SQLSTATE ${e.code})`;
  const position = Number.parseInt(e.position ?? "", 10);
  if (Number.isInteger(position) && position > 0) {
    const before = sql.slice(0, position - 1);
    const line = before.split("\n").length;
    text += ` at line ${line}: ${sql.split("\n")[line - 1]?.trim() ?? ""}`;
  }
  return text;
}

async function migrateGraphileWorker(connectionString: string, logger: MigrationLogger): Promise<void> {
  const graphileLogger = new GraphileLogger(() => (level, message, meta) => {
    const obj = { component: "graphile-worker", ...(meta ?? {}) };
    if (level === "error" || level === "warning") logger.warn(obj, message);
    else if (level === "info") logger.info(obj, message);
    else logger.debug?.(obj, message);
  });
  await runGraphileWorkerMigrations({ connectionString, logger: graphileLogger });
}

/**
 * Names of the migrations in `migrationsDir` that the database has not applied, in order; plus
 * `graphile-worker` when its schema is missing. Empty = up to date. For `/readyz`: cheap, read-only,
 * and it takes no lock.
 */
export async function pendingMigrations({
  connectionString,
  migrationsDir = path.resolve("prisma", "migrations"),
  graphileWorker = true,
}: Pick<MigrateOptions, "connectionString" | "migrationsDir" | "graphileWorker">): Promise<string[]> {
  const local = await readMigrations(migrationsDir);
  const client = await connect(connectionString);
  try {
    const done = (await migrationsTableExists(client))
      ? new Set((await readRows(client)).filter(isApplied).map((r) => r.migration_name))
      : new Set<string>();
    const pending = local.filter((m) => !done.has(m.name)).map((m) => m.name);
    if (graphileWorker) {
      const { rows } = await client.query<{ exists: boolean }>(
        `SELECT to_regclass('graphile_worker.migrations') IS NOT NULL AS exists`,
      );
      if (rows[0]?.exists !== true) pending.push("graphile-worker");
    }
    return pending;
  } finally {
    await client.end().catch(() => {});
  }
}
