import { createHash } from "node:crypto";
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadMigrationList, NO_FILTERS, openSchemaEngine } from "#prisma/schema-engine.ts";
import { createTestDatabase, type TestDatabase } from "#tests/setup/database.ts";
import { migrationsDir as realMigrationsDir } from "#tests/setup/database-server.ts";
import {
  checksumMatches,
  MigrationError,
  migrate,
  PRISMA_MIGRATE_LOCK_KEY,
  pendingMigrations,
  readMigrations,
} from "./migrate.server.ts";

const schemaPath = path.join(realMigrationsDir, "..", "schema.prisma");
const local = await readMigrations(realMigrationsDir);
const names = local.map((m) => m.name);

let database: TestDatabase;
const scratch: string[] = [];

beforeEach(async () => {
  database = await createTestDatabase({ migrated: false });
});
afterEach(async () => {
  await database.close();
});
afterAll(async () => {
  for (const dir of scratch) await rm(dir, { recursive: true, force: true });
});

/** A private copy of the migrations folder that a test may edit. */
async function copyOfMigrations(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "agentry-migrations-"));
  scratch.push(dir);
  await cp(realMigrationsDir, dir, { recursive: true });
  return dir;
}

async function addMigration(dir: string, name: string, sql: string): Promise<void> {
  await mkdir(path.join(dir, name), { recursive: true });
  await writeFile(path.join(dir, name, "migration.sql"), sql);
}

async function query<T extends pg.QueryResultRow>(sql: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    return (await client.query<T>(sql, values)).rows;
  } finally {
    await client.end();
  }
}

async function tableExists(name: string): Promise<boolean> {
  const [row] = await query<{ exists: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS exists`, [
    `"${name}"`,
  ]);
  return row!.exists;
}

type Row = {
  id: string;
  checksum: string;
  finished_at: Date | null;
  migration_name: string;
  logs: string | null;
  rolled_back_at: Date | null;
  started_at: Date;
  applied_steps_count: number;
};
const rows = () => query<Row>(`SELECT * FROM "_prisma_migrations" ORDER BY migration_name`);

describe("migrate()", () => {
  it("applies every migration to an empty database, then graphile-worker's", async () => {
    expect(
      await pendingMigrations({ connectionString: database.url, migrationsDir: realMigrationsDir }),
    ).toEqual([...names, "graphile-worker"]);

    const result = await migrate({ connectionString: database.url, migrationsDir: realMigrationsDir });

    expect(result.applied).toEqual(names);
    expect(await tableExists("User")).toBe(true);
    expect(await tableExists("WorkflowRun")).toBe(true);
    const [worker] = await query<{ n: number }>(`SELECT count(*)::int AS n FROM graphile_worker.migrations`);
    expect(worker!.n).toBeGreaterThan(0);
    expect(
      await pendingMigrations({ connectionString: database.url, migrationsDir: realMigrationsDir }),
    ).toEqual([]);
  });

  it("is idempotent: a second run applies nothing and records nothing", async () => {
    await migrate({ connectionString: database.url, migrationsDir: realMigrationsDir });
    const before = await rows();

    const again = await migrate({ connectionString: database.url, migrationsDir: realMigrationsDir });

    expect(again.applied).toEqual([]);
    expect(await rows()).toEqual(before);
  });

  it("lets concurrent runs queue on the advisory lock: each migration is applied exactly once", async () => {
    const results = await Promise.all(
      [1, 2, 3].map(() => migrate({ connectionString: database.url, migrationsDir: realMigrationsDir })),
    );

    expect(results.map((r) => r.applied.length).sort()).toEqual([0, 0, names.length]);
    expect((await rows()).map((r) => r.migration_name)).toEqual(names);
  });

  it("waits for the lock no longer than lockTimeoutMs", async () => {
    const holder = new pg.Client({ connectionString: database.url });
    await holder.connect();
    try {
      await holder.query("SELECT pg_advisory_lock($1)", [PRISMA_MIGRATE_LOCK_KEY]);
      const started = Date.now();
      const error = await migrate({
        connectionString: database.url,
        migrationsDir: realMigrationsDir,
        lockTimeoutMs: 300,
      }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MigrationError);
      expect((error as MigrationError).code).toBe("LOCK_TIMEOUT");
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      await holder.end();
    }
    expect(await tableExists("_prisma_migrations")).toBe(false);
  });

  it("records _prisma_migrations exactly as Prisma does", async () => {
    const started = new Date();
    await migrate({ connectionString: database.url, migrationsDir: realMigrationsDir });

    // The table Prisma creates, column for column.
    const columns = await query<{
      column_name: string;
      data_type: string;
      is_nullable: string;
      len: number | null;
    }>(
      `SELECT column_name, data_type, is_nullable, character_maximum_length AS len
         FROM information_schema.columns WHERE table_name = '_prisma_migrations' ORDER BY ordinal_position`,
    );
    expect(columns).toEqual([
      { column_name: "id", data_type: "character varying", is_nullable: "NO", len: 36 },
      { column_name: "checksum", data_type: "character varying", is_nullable: "NO", len: 64 },
      { column_name: "finished_at", data_type: "timestamp with time zone", is_nullable: "YES", len: null },
      { column_name: "migration_name", data_type: "character varying", is_nullable: "NO", len: 255 },
      { column_name: "logs", data_type: "text", is_nullable: "YES", len: null },
      { column_name: "rolled_back_at", data_type: "timestamp with time zone", is_nullable: "YES", len: null },
      { column_name: "started_at", data_type: "timestamp with time zone", is_nullable: "NO", len: null },
      { column_name: "applied_steps_count", data_type: "integer", is_nullable: "NO", len: null },
    ]);

    const recorded = await rows();
    expect(recorded).toHaveLength(local.length);
    for (const [i, row] of recorded.entries()) {
      const file = await readFile(path.join(realMigrationsDir, row.migration_name, "migration.sql"));
      expect(row.migration_name).toBe(names[i]);
      expect(row.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(row.checksum).toBe(createHash("sha256").update(file).digest("hex"));
      expect(row.logs).toBeNull();
      expect(row.rolled_back_at).toBeNull();
      expect(row.applied_steps_count).toBe(1);
      expect(row.started_at.getTime()).toBeGreaterThanOrEqual(started.getTime() - 5_000);
      expect(row.finished_at!.getTime()).toBeGreaterThanOrEqual(row.started_at.getTime());
    }
  });

  it("agrees with Prisma's own engine: `migrate deploy` logic finds nothing to apply and nothing edited", async () => {
    await migrate({ connectionString: database.url, migrationsDir: realMigrationsDir });
    const handle = await openSchemaEngine({
      connectionString: database.url,
      schema: await readFile(schemaPath, "utf8"),
    });
    try {
      const migrationsList = await loadMigrationList(realMigrationsDir);
      const history = await handle.engine.diagnoseMigrationHistory({
        migrationsList,
        optInToShadowDatabase: false,
        filters: NO_FILTERS,
      });
      expect(history).toEqual({
        editedMigrationNames: [],
        failedMigrationNames: [],
        hasMigrationsTable: true,
        history: null,
      });
      expect(await handle.engine.applyMigrations({ migrationsList, filters: NO_FILTERS })).toEqual({
        appliedMigrationNames: [],
      });
    } finally {
      await handle.close();
    }
  });

  it("refuses to continue when an applied migration file was edited", async () => {
    const dir = await copyOfMigrations();
    await migrate({ connectionString: database.url, migrationsDir: dir });
    const first = path.join(dir, names[0]!, "migration.sql");
    await writeFile(first, `${await readFile(first, "utf8")}\n-- edited after it was applied\n`);
    await addMigration(dir, "29990101000000_later", `CREATE TABLE "Later" (id int);`);

    const error = await migrate({ connectionString: database.url, migrationsDir: dir }).catch(
      (e: unknown) => e,
    );

    expect(error).toBeInstanceOf(MigrationError);
    expect((error as MigrationError).code).toBe("CHECKSUM_MISMATCH");
    expect((error as Error).message).toContain(names[0]);
    expect(await tableExists("Later")).toBe(false);
  });

  it("accepts a file whose line endings git converted to CRLF, as Prisma does", async () => {
    const dir = await copyOfMigrations();
    await migrate({ connectionString: database.url, migrationsDir: dir });
    const first = path.join(dir, names[0]!, "migration.sql");
    await writeFile(first, (await readFile(first, "utf8")).replaceAll("\n", "\r\n"));

    await expect(migrate({ connectionString: database.url, migrationsDir: dir })).resolves.toEqual({
      applied: [],
    });
    expect(checksumMatches("a\nb\n", createHash("sha256").update("a\r\nb\r\n").digest("hex"))).toBe(true);
    expect(checksumMatches("a\nb", createHash("sha256").update("a\nb\n").digest("hex"))).toBe(false);
  });

  it("rolls a failing migration back entirely and records nothing for it", async () => {
    const dir = await copyOfMigrations();
    await addMigration(
      dir,
      "29990101000000_broken",
      `CREATE TABLE "HalfDone" (id int);\nINSERT INTO "HalfDone" VALUES (1);\nSELECT * FROM "NoSuchTable";\n`,
    );

    const error = await migrate({ connectionString: database.url, migrationsDir: dir }).catch(
      (e: unknown) => e,
    );

    expect(error).toBeInstanceOf(MigrationError);
    expect((error as MigrationError).code).toBe("MIGRATION_FAILED");
    expect((error as Error).message).toMatch(/29990101000000_broken.*NoSuchTable.*line 3/s);
    expect(await tableExists("HalfDone")).toBe(false);
    // The good migrations before it stay applied.
    expect((await rows()).map((r) => r.migration_name)).toEqual(names);
    // ...and graphile-worker's were not attempted after the failure.
    expect(await pendingMigrations({ connectionString: database.url, migrationsDir: dir })).toEqual([
      "29990101000000_broken",
      "graphile-worker",
    ]);
  });

  it("stops at a failed migration Prisma recorded until someone resolves it", async () => {
    await migrate({ connectionString: database.url, migrationsDir: realMigrationsDir });
    await query(
      `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, logs) VALUES ($1, $2, $3, $4)`,
      ["00000000-0000-4000-8000-000000000000", "0".repeat(64), "29990101000000_crashed", "boom"],
    );
    const dir = await copyOfMigrations();
    await addMigration(dir, "29990101000000_crashed", `SELECT 1;`);

    const error = await migrate({ connectionString: database.url, migrationsDir: dir }).catch(
      (e: unknown) => e,
    );
    expect((error as MigrationError).code).toBe("FAILED_MIGRATION_RECORDED");
    expect((error as Error).message).toContain("29990101000000_crashed: boom");

    // Marked rolled back (what `prisma migrate resolve --rolled-back` does): it is applied again.
    await query(`UPDATE "_prisma_migrations" SET rolled_back_at = now() WHERE migration_name = $1`, [
      "29990101000000_crashed",
    ]);
    expect(await migrate({ connectionString: database.url, migrationsDir: dir })).toEqual({
      applied: ["29990101000000_crashed"],
    });
  });

  it("refuses a database that has tables but no migration history", async () => {
    await query(`CREATE TABLE "SomethingElse" (id int)`);
    const error = await migrate({ connectionString: database.url, migrationsDir: realMigrationsDir }).catch(
      (e: unknown) => e,
    );
    expect((error as MigrationError).code).toBe("DATABASE_NOT_EMPTY");
    expect((error as Error).message).toContain("SomethingElse");
  });

  it("applies only the new migrations of a later release, in name order", async () => {
    await migrate({ connectionString: database.url, migrationsDir: realMigrationsDir });
    const dir = await copyOfMigrations();
    await addMigration(dir, "29990102000000_second", `ALTER TABLE "First" ADD COLUMN b int;`);
    await addMigration(dir, "29990101000000_first", `CREATE TABLE "First" (a int);`);

    expect(await pendingMigrations({ connectionString: database.url, migrationsDir: dir })).toEqual([
      "29990101000000_first",
      "29990102000000_second",
    ]);
    expect(await migrate({ connectionString: database.url, migrationsDir: dir })).toEqual({
      applied: ["29990101000000_first", "29990102000000_second"],
    });
  });
});
