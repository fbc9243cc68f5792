/**
 * A real, migrated PostgreSQL database per test file, cloned from the template the global setup
 * built (CREATE DATABASE ... TEMPLATE: tens of milliseconds). Dropped at close(), which also fails
 * when the test left connections open to it: a leaked pool in a test is a leaked pool in the app.
 *
 *   const database = setupTestDatabase();           // beforeAll/afterAll registered for you
 *   it("...", async () => { await database.db.user.create(...) });
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, inject } from "vitest";
import { createPrismaClient, type Db } from "#app/db/client.server.ts";
import { connectionsTo, createDatabase, dropDatabase, withAdminClient } from "./database-server.ts";

export { createDatabase, dropDatabase } from "./database-server.ts";

export type TestDatabase = {
  /** Database name (`agentry_t_<run>_<random>`). */
  name: string;
  /** Connection URL of this database, for code that takes a connection string (worker, migrate). */
  url: string;
  /** A Prisma client on it (pool of 5). close() disconnects it. */
  db: Db;
  /**
   * Disconnect `db`, drop the database, and throw if anything else was still connected to it
   * (after giving closing connections a moment to go). Idempotent.
   */
  close(): Promise<void>;
};

export type CreateTestDatabaseOptions = {
  /** Clone the migrated template (default), or start from an empty database. */
  migrated?: boolean;
  /** How long close() waits for connections to go before calling them leaked. Default 2 000 ms. */
  leakGraceMs?: number;
};

/** A fresh database for one test file (or one test). Always close() it. */
export async function createTestDatabase({
  migrated = true,
  leakGraceMs = 2_000,
}: CreateTestDatabaseOptions = {}): Promise<TestDatabase> {
  const serverUrl = inject("dbServerUrl");
  const name = `${inject("dbRunPrefix")}${randomBytes(6).toString("hex")}`;
  const { url } = await createDatabase(serverUrl, name, migrated ? { template: inject("dbTemplate") } : {});
  const db = createPrismaClient({ connectionString: url, max: 5, applicationName: "agentry-test" });

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      await db.$disconnect();
      const leaked = await withAdminClient(serverUrl, async (client) => {
        const deadline = Date.now() + leakGraceMs;
        for (;;) {
          const open = await connectionsTo(client, name);
          if (open.length === 0 || Date.now() >= deadline) return open;
          await new Promise((resolve) => setTimeout(resolve, 25));
        }
      });
      await dropDatabase(serverUrl, name);
      if (leaked.length > 0) {
        const who = leaked.map(
          (c) => `pid ${c.pid} (${c.application_name || "no application_name"}, ${c.state})`,
        );
        throw new Error(
          `test database ${name} still had ${leaked.length} open connection(s) at close(): ${who.join(", ")}. Something in the test did not close its pool or client.`,
        );
      }
    })());

  return { name, url, db, close };
}

/**
 * Register beforeAll/afterAll for a test database shared by the tests of one file. Read its
 * fields inside tests or hooks (they exist once beforeAll has run).
 */
export function setupTestDatabase(options?: CreateTestDatabaseOptions): TestDatabase {
  let current: TestDatabase | undefined;
  const get = () => {
    if (!current) throw new Error("setupTestDatabase(): the database exists only inside tests and hooks");
    return current;
  };
  beforeAll(async () => {
    current = await createTestDatabase(options);
  });
  afterAll(async () => {
    await current?.close();
  });
  return {
    get name() {
      return get().name;
    },
    get url() {
      return get().url;
    },
    get db() {
      return get().db;
    },
    close: () => get().close(),
  };
}
