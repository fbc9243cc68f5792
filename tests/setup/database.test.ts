import pg from "pg";
import { describe, expect, inject, it } from "vitest";
import { readMigrations } from "#app/db/migrate.server.ts";
import { createTestDatabase, setupTestDatabase } from "./database.ts";
import { listDatabases, migrationsDir } from "./database-server.ts";

const shared = setupTestDatabase();

async function databaseExists(name: string): Promise<boolean> {
  return (await listDatabases(inject("dbServerUrl"), name)).includes(name);
}

describe("test databases", () => {
  it("are cloned from the migrated template: every migration applied, graphile-worker installed", async () => {
    const rows = await shared.db.$queryRaw<{ migration_name: string }[]>`
      SELECT migration_name FROM "_prisma_migrations" WHERE finished_at IS NOT NULL ORDER BY migration_name`;
    const local = await readMigrations(migrationsDir);
    expect(rows.map((r) => r.migration_name)).toEqual(local.map((m) => m.name));
    const [worker] = await shared.db.$queryRaw<{ n: number }[]>`
      SELECT count(*)::int AS n FROM graphile_worker.migrations`;
    expect(worker!.n).toBeGreaterThan(0);
    expect(await shared.db.user.count()).toBe(0);
  });

  it("are isolated from each other and dropped by close()", async () => {
    const other = await createTestDatabase();
    try {
      expect(other.name).not.toBe(shared.name);
      expect(other.name.startsWith(inject("dbRunPrefix"))).toBe(true);
      await other.db.user.create({ data: { email: "only-here@example.test" } });
      expect(await other.db.user.count()).toBe(1);
      expect(await shared.db.user.count()).toBe(0);
    } finally {
      await other.close();
    }
    expect(await databaseExists(other.name)).toBe(false);
    await other.close(); // idempotent
  });

  it("can start empty (migrated: false)", async () => {
    const empty = await createTestDatabase({ migrated: false });
    try {
      const [row] = await empty.db.$queryRaw<{ n: number }[]>`
        SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'`;
      expect(row!.n).toBe(0);
    } finally {
      await empty.close();
    }
  });

  it("close() fails when the test leaked a connection, and still drops the database", async () => {
    const leaky = await createTestDatabase({ leakGraceMs: 200 });
    const client = new pg.Client({ connectionString: leaky.url, application_name: "leaky-test" });
    // The forced drop terminates this connection; that must not become an unhandled error.
    client.on("error", () => {});
    await client.connect();
    await expect(leaky.close()).rejects.toThrow(/1 open connection\(s\).*leaky-test/);
    expect(await databaseExists(leaky.name)).toBe(false);
    await client.end().catch(() => {});
  });
});
