import { mkdtemp, rm, symlink } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { loadEnv } from "#app/env.server.ts";
import { createLogger } from "#app/lib/logger.server.ts";
import { createTestDatabase, type TestDatabase } from "#tests/setup/database.ts";
import { findPackageRoot, startAgentry } from "./start.server.ts";

const rootDir = findPackageRoot(import.meta.dirname);
const logger = createLogger({ level: "silent" });
let database: TestDatabase | undefined;

afterEach(async () => {
  await database?.close();
  database = undefined;
});

async function query<T>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows as T[];
  } finally {
    await client.end();
  }
}

describe("startAgentry", () => {
  it("worker role on an empty database: migrates, registers a live worker, and stops it cleanly", async () => {
    database = await createTestDatabase({ migrated: false });
    const env = loadEnv({
      DATABASE_URL: database.url,
      AGENTRY_ROLE: "worker",
      SHUTDOWN_TIMEOUT_SECONDS: "5",
    });
    const running = await startAgentry({ env, logger, rootDir, mode: "production" });
    expect(running.url).toBeUndefined();

    const migrations = await query<{ migration_name: string }>(
      database.url,
      `SELECT migration_name FROM "_prisma_migrations" WHERE finished_at IS NOT NULL`,
    );
    expect(migrations.length).toBeGreaterThan(0);
    const live = await query<{ id: string }>(
      database.url,
      `SELECT id FROM "WorkerProcess" WHERE "stoppedAt" IS NULL`,
    );
    expect(live).toHaveLength(1);

    await running.stop("test");
    // stop() is idempotent: a second signal must not throw or stop twice.
    await running.stop("again");
    const after = await query<{ stoppedAt: Date | null }>(
      database.url,
      `SELECT "stoppedAt" FROM "WorkerProcess" WHERE id = '${live[0]!.id}'`,
    );
    expect(after[0]!.stoppedAt).toBeInstanceOf(Date);
  });

  it("a boot that fails half-way undoes what it started and says why", async () => {
    database = await createTestDatabase();
    // A package root with migrations but no production build.
    const bare = await mkdtemp(path.join(os.tmpdir(), "agentry-nobuild-"));
    await symlink(path.join(rootDir, "prisma"), path.join(bare, "prisma"));
    try {
      const env = loadEnv({ DATABASE_URL: database.url, AGENTRY_ROLE: "all", PORT: "0" });
      await expect(startAgentry({ env, logger, rootDir: bare, mode: "production" })).rejects.toThrow(
        /No production build at .*build\/server\/index\.js/,
      );
      // The worker it had started is stopped again, so no heartbeat is left behind.
      const live = await query<{ n: string }>(
        database.url,
        `SELECT count(*) AS n FROM "WorkerProcess" WHERE "stoppedAt" IS NULL`,
      );
      expect(Number(live[0]!.n)).toBe(0);
    } finally {
      await rm(bare, { recursive: true, force: true });
    }
  });
});
